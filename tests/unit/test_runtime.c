/*
 * runtime_guess on the CONNECT heads real clients sent to a listening
 * socket (Debian 12 packages, and Deno 2.9.6 and Bun 1.4.4 from their npm
 * binary packages, captured 2026-12 with HTTPS_PROXY set), plus other
 * User-Agents;
 * and the ClientHello reader and tie-breaks on hellos carrying the
 * extension lists those clients sent (Java 17, Ruby 3.1, Bun 1.4.4,
 * PHP 8.2 curl and streams, Python 3.11), whole and cut at every length.
 */
#include <string.h>

#include "http1.h"
#include "runtime.h"
#include "t.h"

static struct http1_head	head;

/* Parse a complete head and guess; NULL when it does not parse. */
static const char *
guess(const char *msg)
{
	struct http1_parser	*hp = http1_parser_new(HTTP1_REQUEST);
	struct http1_error	 err;
	size_t			 scan = 0, headlen = 0;
	int			 r = -1;

	if (hp != NULL && http1_head_end(msg, strlen(msg), &scan, &headlen,
	    &err) == 1)
		r = http1_parse_head(hp, msg, headlen, 0, &head, &err);
	http1_parser_free(hp);
	return r == 0 ? runtime_guess(&head) : NULL;
}

static void
test_captured(void)
{
	/* Chromium 156, headless (a browser: the fix is to import the CA,
	 * not a variable) */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nProxy-Connection: keep-alive\r\n"
	    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
	    "(KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36\r\n"
	    "\r\n"), "browser");
	/* curl 7.88.1 */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: curl/7.88.1\r\n"
	    "Proxy-Connection: Keep-Alive\r\n\r\n"), "curl");
	/* Python 3.11 requests 2.28 and urllib: http.client's tunnel */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.0\r\n\r\n"), "python");
	/* wget 1.21.3 (GnuTLS) */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "User-Agent: Wget/1.21.3\r\nHost: github.com:443\r\n\r\n"),
	    "wget");
	/* git 2.39.5 (libcurl with its own agent) */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: git/2.39.5\r\n"
	    "Proxy-Connection: Keep-Alive\r\n\r\n"), "git");
	/* OpenJDK 17.0.15 java.net.http.HttpClient */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\n\r\n"), "java");
	/* OpenJDK 17.0.15 HttpURLConnection */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "User-Agent: Java/17.0.15\r\nHost: github.com\r\n"
	    "Accept: text/html, image/gif, image/jpeg, */*; q=0.2\r\n"
	    "Proxy-Connection: keep-alive\r\n\r\n"), "java");
	/* PHP 8.2 curl extension (libcurl 7.88.1, no CURLOPT_USERAGENT) */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nProxy-Connection: Keep-Alive\r\n\r\n"),
	    "php");
	/* Go 1.19 net/http */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: Go-http-client/1.1\r\n\r\n"),
	    "go");
	/* Deno 2.9.6 fetch */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: Deno/2.9.6\r\n\r\n"),
	    "deno");
	/* Bun 1.4.4 fetch: PHP curl's head byte for byte; the ClientHello
	 * tells them apart (test_hellos). */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nProxy-Connection: Keep-Alive\r\n\r\n"),
	    "php");
	/* Ruby 3.1 Net::HTTP: Java HttpClient's head byte for byte. */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\n\r\n"), "java");
	/* PHP 8.2 streams: Python's bare line. */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.0\r\n\r\n"), "python");
	/* The same with credentials in the proxy URL: Python 3.11 and Ruby
	 * 3.1 add only Proxy-Authorization, which says nothing of them. */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.0\r\n"
	    "Proxy-Authorization: Basic ZGV2OnB3\r\n\r\n"), "python");
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nProxy-Authorization: Basic ZGV2OnB3\r\n"
	    "\r\n"), "java");
	/* Node 20 undici ProxyAgent (fetch) */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "host: github.com\r\nconnection: close\r\n\r\n"), "node");
}

static void
test_agents(void)
{
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: Deno/2.1.4\r\n\r\n"), "deno");
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: Bun/1.1.38\r\n\r\n"), "bun");
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: Ruby\r\n\r\n"), "ruby");
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: Python/3.11 aiohttp/3.8.4"
	    "\r\n\r\n"), "python");
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: python-requests/2.28.1"
	    "\r\n\r\n"), "python");
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: GuzzleHttp/7\r\n\r\n"),
	    "php");
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: node\r\n\r\n"), "node");
	/* The GitHub CLI is not git. */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: GitHub CLI 2.23.0\r\n\r\n"),
	    "unknown");
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: Mozilla/5.0\r\n\r\n"),
	    "browser");
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: lynx\r\n\r\n"),
	    "unknown");
}

static void
test_shapes(void)
{
	/* HTTP/1.0 with a field is not Python's bare tunnel line. */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.0\r\n"
	    "Host: github.com:443\r\n\r\n"), "unknown");
	/* Proxy-Authorization is not a shape: with one other field, it
	 * is that field's shape. */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.0\r\n"
	    "Proxy-Authorization: Basic eDp5\r\nX-Other: 1\r\n\r\n"),
	    "unknown");
	/* Host and something else, no agent: not Java's HttpClient. */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nX-Other: 1\r\n\r\n"), "unknown");
	/* No field at all on 1.1. */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n\r\n"),
	    "unknown");
}

/* A ClientHello handshake message with these extension types (SNI with
 * a 5-byte body, the others empty) into buf; its length. */
static size_t
hello(unsigned char *buf, const int *exts, size_t n)
{
	size_t	len = 0, i, xstart, body;

	buf[len++] = 1;
	len += 3;			/* body length, below */
	buf[len++] = 3;
	buf[len++] = 3;
	memset(buf + len, 0x5a, 32);	/* random */
	len += 32;
	buf[len++] = 32;		/* session id */
	memset(buf + len, 0x11, 32);
	len += 32;
	buf[len++] = 0;
	buf[len++] = 4;			/* two cipher suites */
	buf[len++] = 0x13;
	buf[len++] = 0x02;
	buf[len++] = 0x13;
	buf[len++] = 0x01;
	buf[len++] = 1;			/* null compression */
	buf[len++] = 0;
	xstart = len;
	len += 2;
	for (i = 0; i < n; i++) {
		buf[len++] = (unsigned char)(exts[i] >> 8);
		buf[len++] = (unsigned char)exts[i];
		buf[len++] = 0;
		buf[len++] = exts[i] == 0 ? 5 : 0;
		if (exts[i] == 0) {
			memcpy(buf + len, "\0\0\3a.b", 5);
			len += 5;
		}
	}
	buf[xstart] = (unsigned char)((len - xstart - 2) >> 8);
	buf[xstart + 1] = (unsigned char)(len - xstart - 2);
	body = len - 4;
	buf[1] = (unsigned char)(body >> 16);
	buf[2] = (unsigned char)(body >> 8);
	buf[3] = (unsigned char)body;
	return len;
}

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Parse hello(exts) and refine guess with it. */
static const char *
refine(const char *guess, const int *exts, size_t n)
{
	unsigned char		buf[1024];
	struct runtime_hello	rh;
	size_t			len = hello(buf, exts, n), cut;
	int			ok = 1;

	/* Every cut is refused (the header's length no longer fits). */
	for (cut = 0; cut < len; cut++)
		if (runtime_hello_parse(buf, cut, &rh) != -1)
			ok = 0;
	CHECK(ok);
	if (runtime_hello_parse(buf, len, &rh) != 0)
		return NULL;
	return runtime_refine(guess, &rh);
}

static void
test_hellos(void)
{
	static const int java[] = { 0, 5, 10, 11, 16, 17, 23, 35, 13, 43,
	    45, 50, 51 };
	static const int ruby[] = { 0, 11, 10, 35, 22, 23, 49, 13, 43, 45,
	    51, 21 };
	static const int bun[] = { 0, 23, 65281, 10, 11, 35, 16, 5, 13, 18,
	    51, 45, 43 };
	static const int php_curl[] = { 0, 11, 10, 16, 22, 23, 49, 13, 43,
	    45, 51, 21 };
	static const int php_stream[] = { 0, 11, 10, 35, 22, 23, 13, 21 };
	static const int python[] = { 0, 11, 10, 35, 16, 22, 23, 49, 13, 43,
	    45, 51, 21 };
	unsigned char		buf[1024];
	struct runtime_hello	rh;
	size_t			len;

	CHECK_STR(refine("java", java, NELEM(java)), "java");
	CHECK_STR(refine("java", ruby, NELEM(ruby)), "ruby");
	CHECK_STR(refine("php", php_curl, NELEM(php_curl)), "php");
	CHECK_STR(refine("php", bun, NELEM(bun)), "bun");
	CHECK_STR(refine("python", python, NELEM(python)), "python");
	CHECK_STR(refine("python", php_stream, NELEM(php_stream)), "php");
	/* Heads with an agent are not second-guessed. */
	CHECK_STR(refine("curl", bun, NELEM(bun)), "curl");
	CHECK_STR(refine("git", php_stream, NELEM(php_stream)), "git");
	CHECK_STR(refine("unknown", ruby, NELEM(ruby)), "unknown");

	len = hello(buf, java, NELEM(java));
	CHECK_INT(runtime_hello_parse(buf, len, &rh), 0);
	CHECK(rh.rh_tls13 && rh.rh_status_v2 && !rh.rh_etm);
	/* Not a ClientHello (a ServerHello's type). */
	buf[0] = 2;
	CHECK_INT(runtime_hello_parse(buf, len, &rh), -1);
	CHECK(!rh.rh_tls13 && !rh.rh_status_v2 && !rh.rh_etm);
	buf[0] = 1;
	/* An extension block longer than the message. */
	buf[4 + 2 + 32 + 1 + 32 + 2 + 4 + 2]++;
	CHECK_INT(runtime_hello_parse(buf, len, &rh), -1);
	buf[4 + 2 + 32 + 1 + 32 + 2 + 4 + 2]--;
	/* One extension's length running past the block. */
	buf[len - 1] = 1;
	CHECK_INT(runtime_hello_parse(buf, len, &rh), -1);
	/* No extensions at all (SSLv3-style hello): parsed, nothing set. */
	len = hello(buf, NULL, 0) - 2;
	buf[3] -= 2;
	CHECK_INT(runtime_hello_parse(buf, len, &rh), 0);
	CHECK(!rh.rh_tls13 && !rh.rh_status_v2 && !rh.rh_etm);
}

int
main(void)
{
	test_captured();
	test_hellos();
	test_agents();
	test_shapes();
	return t_done();
}
