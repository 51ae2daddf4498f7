/* The upstream proxy URL, its credentials, no_upstream_proxy, self loops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "config.h"
#include "confkeys.h"
#include "http1.h"
#include "parent.h"
#include "t.h"

static char	err[256];

static struct parent *
parse(const char *url)
{
	err[0] = '\0';
	return parent_parse(url, err, sizeof(err));
}

static void
check_ok(const char *url, const char *host, unsigned port, const char *auth,
    const char *shown)
{
	struct parent	*pa = parse(url);

	CHECK(pa != NULL);
	if (pa == NULL) {
		fprintf(stderr, "  %s: %s\n", url, err);
		return;
	}
	CHECK_STR(pa->pa_host, host);
	CHECK_INT(pa->pa_port, port);
	if (auth == NULL)
		CHECK(pa->pa_auth == NULL);
	else
		CHECK_STR(pa->pa_auth, auth);
	CHECK_STR(pa->pa_shown, shown);
	parent_free(pa);
}

/* Refused, with a reason that does not repeat the password. */
static void
check_bad(const char *url, const char *what)
{
	struct parent	*pa = parse(url);

	CHECK(pa == NULL);
	parent_free(pa);
	CHECK(strstr(err, what) != NULL);
	CHECK(strstr(err, "s3cret") == NULL);
	if (strstr(err, what) == NULL)
		fprintf(stderr, "  %s: got \"%s\"\n", url, err);
}

static void
test_parse(void)
{
	check_ok("http://proxy.corp:3128", "proxy.corp", 3128, NULL,
	    "http://proxy.corp:3128");
	check_ok("proxy.corp:8080/", "proxy.corp", 8080, NULL,
	    "http://proxy.corp:8080");
	check_ok("HTTP://10.0.0.1", "10.0.0.1", 1080, NULL,
	    "http://10.0.0.1:1080");
	check_ok("http://[::1]:3128", "::1", 3128, NULL,
	    "http://[::1]:3128");
	/* alice:s3cret */
	check_ok("http://alice:s3cret@p:1", "p", 1, "Basic YWxpY2U6czNjcmV0",
	    "http://alice:***@p:1");
	/* "a@b" : "p:w d" percent-decoded before encoding. */
	check_ok("http://a%40b:p%3aw%20d@p:1", "p", 1,
	    "Basic YUBiOnA6dyBk", "http://a%40b:***@p:1");
	/* A user without a password. */
	check_ok("http://bob@p:2", "p", 2, "Basic Ym9iOg==",
	    "http://bob:***@p:2");
}

static void
test_parse_bad(void)
{
	check_bad("https://alice:s3cret@p:1", "not supported");
	check_bad("socks5://p:1", "http://");
	check_bad("http://p:0", "port");
	check_bad("http://p:65536", "port");
	check_bad("http://p:x", "port");
	check_bad("http://p:3128/path", "no path");
	check_bad("http://p:3128?q", "no path");
	check_bad("http://", "host");
	check_bad("http://:3128", "host");
	check_bad("http://[::1:3128", "host");
	check_bad("http://[nothex]:1", "host");
	check_bad("http://p q:1", "host");
	check_bad("http://alice:s3cret%0d%0aX:1@p:1", "user:password");
	check_bad("http://alice:s3cret%4@p:1", "user:password");
	check_bad("http://alice:s3cret%@p:1", "user:password");
	check_bad("http://:s3cret@p:1", "user:password");
	check_bad("http://a%3ab:s3cret@p:1", "user:password");
	check_bad("http://al ice:s3cret@p:1", "user:password");
	/* A user name longer than the shown form allows. */
	check_bad("http://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaa:s3cret@p:1", "longer than 64");
	/* An unencoded @ in the password. */
	check_bad("http://u:s3cret@x@p:3", "user:password");
}

static void
test_bypass(void)
{
	struct strlist	l = { NULL, 0 };

	CHECK(parent_bypass(&l, "localhost"));
	CHECK(parent_bypass(&l, "127.0.0.5"));
	CHECK(parent_bypass(&l, "::1"));
	CHECK(!parent_bypass(&l, "github.com"));
	CHECK(!parent_bypass(NULL, "10.0.0.1"));
	parent_bypass_split(" .corp.example, internal ,,10.0.0.0/8 "
	    "fd00::/8\t*.lan 192.168.1.7", &l);
	CHECK_INT(l.sl_n, 6);
	CHECK(parent_bypass(&l, "git.corp.example"));
	CHECK(parent_bypass(&l, "corp.example"));
	CHECK(!parent_bypass(&l, "xcorp.example"));
	CHECK(parent_bypass(&l, "internal"));
	CHECK(parent_bypass(&l, "wiki.internal"));
	CHECK(!parent_bypass(&l, "notinternal"));
	CHECK(parent_bypass(&l, "10.200.3.4"));
	CHECK(!parent_bypass(&l, "11.0.0.1"));
	CHECK(parent_bypass(&l, "fd00::5"));
	CHECK(!parent_bypass(&l, "fe80::5"));
	CHECK(parent_bypass(&l, "printer.lan"));
	CHECK(parent_bypass(&l, "192.168.1.7"));
	CHECK(!parent_bypass(&l, "192.168.1.8"));
	CHECK(!parent_bypass(&l, "github.com"));
	strlist_add(&l, "*");
	CHECK(parent_bypass(&l, "github.com"));
	strlist_clear(&l);
	CHECK(parent_bypass_ok("*"));
	CHECK(parent_bypass_ok(".corp"));
	CHECK(parent_bypass_ok("*.corp"));
	CHECK(parent_bypass_ok("10.0.0.0/8"));
	CHECK(parent_bypass_ok("::1"));
	CHECK(!parent_bypass_ok("10.0.0.0/33"));
	CHECK(!parent_bypass_ok(""));
	CHECK(!parent_bypass_ok("."));
	CHECK(!parent_bypass_ok("a b"));
	CHECK(!parent_bypass_ok("http://x"));
}

static void
test_listener(void)
{
	struct strlist	l = { NULL, 0 };

	strlist_add(&l, "127.0.0.1:8080");
	strlist_add(&l, "[::1]:9090");
	CHECK(parent_names_listener("127.0.0.1", 8080, &l));
	CHECK(parent_names_listener("localhost", 8080, &l));
	CHECK(parent_names_listener("LOCALHOST.", 9090, &l));
	CHECK(parent_names_listener("::1", 9090, &l));
	CHECK(!parent_names_listener("127.0.0.1", 8081, &l));
	CHECK(!parent_names_listener("127.0.0.2", 8080, &l));
	CHECK(!parent_names_listener("proxy.corp", 8080, &l));
	strlist_clear(&l);
	strlist_add(&l, "0.0.0.0:3128");
	CHECK(parent_names_listener("127.0.0.9", 3128, &l));
	CHECK(parent_names_listener("0.0.0.0", 3128, &l));
	CHECK(parent_names_listener("localhost", 3128, &l));
	CHECK(!parent_names_listener("proxy.corp", 3128, &l));
	strlist_clear(&l);
}

static void
test_connect(void)
{
	struct evbuffer	*b = evbuffer_new();
	struct parent	*pa = parse("http://alice:s3cret@p:1");
	char		 buf[512];
	size_t		 n;

	parent_write_connect(b, pa, "github.com", 443);
	n = evbuffer_remove(b, buf, sizeof(buf) - 1);
	buf[n] = '\0';
	CHECK_STR(buf, "CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\n"
	    "Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n\r\n");
	parent_free(pa);
	pa = parse("p:1");
	parent_write_connect(b, pa, "::1", 8443);
	n = evbuffer_remove(b, buf, sizeof(buf) - 1);
	buf[n] = '\0';
	CHECK_STR(buf, "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n"
	    "\r\n");
	parent_free(pa);
	evbuffer_free(b);
}

/* upstream_proxy env reads the environment oauthlens started with, even
 * after run has set HTTP(S)_PROXY to oauthlens itself. */
static void
test_env_kept(void)
{
	struct config_cli	 cli;
	struct config		*cf;
	const struct confkey	*k = confkey_find("upstream_proxy");
	char			 e[512];

	memset(&cli, 0, sizeof(cli));
	setenv("HTTPS_PROXY", "http://corp.test:3128", 1);
	setenv("HTTP_PROXY", "http://plain.test:8080", 1);
	setenv("NO_PROXY", ".corp.test", 1);
	parent_env_keep(&cli);
	setenv("HTTPS_PROXY", "http://127.0.0.1:8080", 1);
	setenv("HTTP_PROXY", "http://127.0.0.1:8080", 1);
	config_cli_add(&cli, k, "env");
	cf = config_load(&cli, e, sizeof(e));
	CHECK(cf != NULL);
	if (cf == NULL)
		fprintf(stderr, "  %s\n", e);
	else {
		CHECK_STR(cf->cf_parent_tunnel->pa_host, "corp.test");
		CHECK_STR(cf->cf_parent_http->pa_host, "plain.test");
		CHECK(parent_bypass(&cf->cf_no_upstream_proxy, "git.corp.test"));
	}
	config_unref(cf);
	/* Read now: the listener's own address is refused. */
	cli.cc_proxy_env_kept = 0;
	cf = config_load(&cli, e, sizeof(e));
	CHECK(cf == NULL && strstr(e, "own listener") != NULL);
	config_unref(cf);
	config_cli_clear(&cli);
	unsetenv("HTTPS_PROXY");
	unsetenv("HTTP_PROXY");
	unsetenv("NO_PROXY");
}

/* The 502's words for a parent's refusal, from its real response head. */
static const char *
hint(const char *status_and_headers, const struct parent *pa)
{
	static char		 buf[300];
	char			 head[1024];
	struct http1_parser	*hp = http1_parser_new(HTTP1_RESPONSE);
	struct http1_head	 h;
	struct http1_error	 herr;
	int			 n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Length: 0"
	    "\r\n\r\n", status_and_headers);
	CHECK(http1_parse_head(hp, head, (size_t)n, 0, &h, &herr) == 0);
	http1_parser_free(hp);
	return parent_refusal_hint(pa, &h, buf, sizeof(buf));
}

static void
test_refusal_hint(void)
{
	struct parent	*pa = parse("http://u:p@proxy.corp:3128");
	const char	*s;

	/* NTLM and Negotiate, each its own header: a bridge is the way. */
	s = hint("407 Proxy Authentication Required\r\n"
	    "Proxy-Authenticate: NTLM\r\n"
	    "Proxy-Authenticate: Negotiate", NULL);
	CHECK(strstr(s, "asks for NTLM, Negotiate,") != NULL);
	CHECK(strstr(s, "cntlm") != NULL);
	/* Digest's params hold commas and a quoted "Basic": one scheme. */
	s = hint("407 x\r\nProxy-Authenticate: Digest realm=\"a, Basic b\", "
	    "nonce=\"n\\\"q\", algorithm=MD5, qop=\"auth\"", NULL);
	CHECK(strstr(s, "asks for Digest,") != NULL);
	CHECK(strstr(s, "cntlm") == NULL);
	/* A token68 after the scheme, then another challenge. */
	s = hint("407 x\r\nProxy-Authenticate: Negotiate YIIG==, Kerberos",
	    NULL);
	CHECK(strstr(s, "asks for Negotiate, Kerberos,") != NULL);
	/* Basic among them: credentials are the answer. */
	s = hint("407 x\r\nProxy-Authenticate: Negotiate, basic "
	    "realm=\"corp\"", NULL);
	CHECK(strstr(s, "it wants credentials") != NULL);
	CHECK_STR(hint("407 x\r\nProxy-Authenticate: Basic realm=\"c\"", pa),
	    " (it refused the user and password in upstream_proxy)");
	/* No challenge at all: still ask for credentials. */
	CHECK(strstr(hint("407 x", NULL), "it wants credentials") != NULL);
	CHECK_STR(hint("403 Forbidden", pa),
	    " (its policy refuses this destination)");
	CHECK_STR(hint("503 Service Unavailable", pa), "");
	parent_free(pa);
}

int
main(void)
{
	test_env_kept();
	test_parse();
	test_parse_bad();
	test_bypass();
	test_listener();
	test_connect();
	test_refusal_hint();
	return t_done();
}
