#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "confkeys.h"
#include "parent.h"
#include "util.h"

#define OFF(f)		offsetof(struct config, f)
#define HELP_COL	29	/* where --help's descriptions start */
#define HELP_WIDTH	80

/* The enum fields are written as int (their underlying type here). */
_Static_assert(sizeof(enum lang) == sizeof(int) &&
    sizeof(enum log_level) == sizeof(int) &&
    sizeof(enum log_format) == sizeof(int) &&
    sizeof(enum log_target) == sizeof(int), "enum fields are not int");

/* Append to a bounded string, truncating. */
static void
cat(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
cat(char *buf, size_t len, const char *fmt, ...)
{
	size_t	used = strnlen(buf, len);
	va_list	ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): started above */
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

static void *
grow(void *p, size_t n, size_t size)
{
	p = realloc(p, (n + 1) * size);
	if (p == NULL)
		abort();
	return p;
}

/*
 * Values: what each key accepts.
 */

static int
ok_hostport(const char *s, char *why, size_t whylen)
{
	char		h[256];
	uint16_t	p;

	return util_split_hostport(s, h, sizeof(h), &p) == 0;
}

static int
parse_cidr(const char *s, struct cidr *c)
{
	char		 buf[64];
	const char	*slash = strchr(s, '/');
	size_t		 al = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t	 bits;
	unsigned	 max;

	if (al >= sizeof(buf))
		return -1;
	memcpy(buf, s, al);
	buf[al] = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->ci_addr) == 1) {
		c->ci_family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, c->ci_addr) == 1) {
		c->ci_family = AF_INET6;
		max = 128;
	} else
		return -1;
	if (slash == NULL)
		bits = max;
	else if (util_parse_u64(slash + 1, strlen(slash + 1), 0, max,
	    &bits) == -1)
		return -1;
	c->ci_bits = (unsigned)bits;
	return 0;
}

/* "HOST:PORT:ADDR:PORT", ADDR possibly in brackets. */
static int
parse_resolve(const char *s, struct resolve *rv)
{
	char		 host[256], addr[64];
	const char	*c1, *c2;
	uint64_t	 port;
	uint16_t	 aport;
	size_t		 hl, i;

	c1 = strchr(s, ':');
	if (c1 == NULL || (hl = (size_t)(c1 - s)) == 0 || hl >= sizeof(host))
		return -1;
	c2 = strchr(c1 + 1, ':');
	if (c2 == NULL || util_parse_u64(c1 + 1, (size_t)(c2 - c1 - 1), 1,
	    65535, &port) == -1)
		return -1;
	if (util_split_hostport(c2 + 1, addr, sizeof(addr), &aport) == -1)
		return -1;
	memset(rv, 0, sizeof(*rv));
	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&rv->rv_addr;

		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(aport);
		rv->rv_addrlen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&rv->rv_addr;

		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
			return -1;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(aport);
		rv->rv_addrlen = sizeof(*s4);
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	for (i = 0; i < hl; i++)
		host[i] = (char)tolower((unsigned char)host[i]);
	rv->rv_host = xstrdup(host);
	rv->rv_port = (uint16_t)port;
	return 0;
}

static int
ok_hostname(const char *s, char *why, size_t whylen)
{
	size_t	i, n = strlen(s);

	if (n == 0 || n > 253)
		return 0;
	if (s[0] == '*' && (n < 3 || s[1] != '.')) {
		snprintf(why, whylen, "a wildcard is written *.suffix");
		return 0;
	}
	for (i = s[0] == '*' ? 2 : 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '.' && s[i] != ':')
			return 0;
	return 1;
}

/* "host" or "host/path/to/token". */
static int
ok_endpoint(const char *s, char *why, size_t whylen)
{
	char	host[256], no[8];
	size_t	n = strcspn(s, "/");

	if (n == 0 || n >= sizeof(host))
		return 0;
	memcpy(host, s, n);
	host[n] = '\0';
	/* No wildcards here at all: ok_hostname's advice would mislead. */
	return ok_hostname(host, no, sizeof(no)) && host[0] != '*' &&
	    (s[n] == '\0' || strcspn(s + n, " ?#\t") == strlen(s + n));
}

/* An RFC 9110 token. */
static int
ok_field_name(const char *s, char *why, size_t whylen)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("!#$%&'*+-.^_`|~", s[i]) == NULL)
			return 0;
	return i > 0;
}

/* An upstream proxy URL (parent.c says why not), or "env". */
static int
ok_upstream_proxy(const char *s, char *why, size_t whylen)
{
	struct parent	*pa;

	if (strcmp(s, "env") == 0)
		return 1;
	if ((pa = parent_parse(s, why, whylen)) == NULL)
		return 0;
	parent_free(pa);
	return 1;
}

/* The URL with its password as ***, or "env". */
static void
upstream_proxy_text(const struct config *cf, char *buf, size_t len)
{
	const char	*v = cf->cf_upstream_proxy;

	if (v == NULL || *v == '\0')
		return;
	if (strcmp(v, "env") == 0 || cf->cf_parent_tunnel == NULL)
		cat(buf, len, "%s", strcmp(v, "env") == 0 ? "env" : "");
	else
		cat(buf, len, "%s", cf->cf_parent_tunnel->pa_shown);
}

static int
ok_no_upstream_proxy(const char *s, char *why, size_t whylen)
{
	return parent_bypass_ok(s);
}

/*
 * Keys stored in their own shapes: CIDRs, ports, --resolve entries and
 * the proxy credentials.
 */

static int
allow_set(struct config *cf, const char *s)
{
	struct cidr	c;

	if (parse_cidr(s, &c) == -1)
		return -1;
	cf->cf_allow = grow(cf->cf_allow, cf->cf_nallow, sizeof(c));
	cf->cf_allow[cf->cf_nallow++] = c;
	return 0;
}

static void
allow_clear(struct config *cf)
{
	free(cf->cf_allow);
	cf->cf_allow = NULL;
	cf->cf_nallow = 0;
}

static void
allow_text(const struct config *cf, char *buf, size_t len)
{
	char	a[INET6_ADDRSTRLEN];
	size_t	i;

	for (i = 0; i < cf->cf_nallow; i++) {
		inet_ntop(cf->cf_allow[i].ci_family, cf->cf_allow[i].ci_addr,
		    a, sizeof(a));
		cat(buf, len, "%s%s/%u", i ? " " : "", a,
		    cf->cf_allow[i].ci_bits);
	}
}

static int
ports_set(struct config *cf, const char *s)
{
	uint64_t	p;

	if (util_parse_u64(s, strlen(s), 1, 65535, &p) == -1)
		return -1;
	cf->cf_connect_ports = grow(cf->cf_connect_ports,
	    cf->cf_nconnect_ports, sizeof(uint16_t));
	cf->cf_connect_ports[cf->cf_nconnect_ports++] = (uint16_t)p;
	return 0;
}

static void
ports_clear(struct config *cf)
{
	free(cf->cf_connect_ports);
	cf->cf_connect_ports = NULL;
	cf->cf_nconnect_ports = 0;
}

static void
ports_text(const struct config *cf, char *buf, size_t len)
{
	size_t	i;

	for (i = 0; i < cf->cf_nconnect_ports; i++)
		cat(buf, len, "%s%u", i ? " " : "", cf->cf_connect_ports[i]);
}

static int
resolve_set(struct config *cf, const char *s)
{
	struct resolve	rv;

	if (parse_resolve(s, &rv) == -1)
		return -1;
	cf->cf_resolve = grow(cf->cf_resolve, cf->cf_nresolve, sizeof(rv));
	cf->cf_resolve[cf->cf_nresolve++] = rv;
	return 0;
}

static void
resolve_clear(struct config *cf)
{
	size_t	i;

	for (i = 0; i < cf->cf_nresolve; i++)
		free(cf->cf_resolve[i].rv_host);
	free(cf->cf_resolve);
	cf->cf_resolve = NULL;
	cf->cf_nresolve = 0;
}

static void
resolve_text(const struct config *cf, char *buf, size_t len)
{
	char		 a[INET6_ADDRSTRLEN];
	size_t		 i;

	for (i = 0; i < cf->cf_nresolve; i++) {
		const struct resolve	*rv = &cf->cf_resolve[i];
		const void		*in;
		unsigned		 port;
		int			 v6;

		v6 = rv->rv_addr.ss_family == AF_INET6;
		if (v6) {
			in = &((const struct sockaddr_in6 *)&rv->rv_addr)->
			    sin6_addr;
			port = ntohs(((const struct sockaddr_in6 *)
			    &rv->rv_addr)->sin6_port);
		} else {
			in = &((const struct sockaddr_in *)&rv->rv_addr)->
			    sin_addr;
			port = ntohs(((const struct sockaddr_in *)
			    &rv->rv_addr)->sin_port);
		}
		inet_ntop(rv->rv_addr.ss_family, in, a, sizeof(a));
		cat(buf, len, "%s%s:%u:%s%s%s:%u", i ? " " : "", rv->rv_host,
		    rv->rv_port, v6 ? "[" : "", a, v6 ? "]" : "", port);
	}
}

/* "user:password", kept only as the Basic credentials to compare. */
static int
proxy_auth_set(struct config *cf, const char *s)
{
	unsigned char	 b64[1024];
	size_t		 len = strlen(s);
	int		 n;

	if (strchr(s, ':') == NULL || len > 700)
		return -1;
	n = EVP_EncodeBlock(b64, (const unsigned char *)s, (int)len);
	if (cf->cf_proxy_auth != NULL) {
		OPENSSL_cleanse(cf->cf_proxy_auth, strlen(cf->cf_proxy_auth));
		free(cf->cf_proxy_auth);
	}
	if (asprintf(&cf->cf_proxy_auth, "Basic %.*s", n, b64) == -1)
		abort();
	OPENSSL_cleanse(b64, sizeof(b64));
	return 0;
}

static void
proxy_auth_text(const struct config *cf, char *buf, size_t len)
{
	if (cf->cf_proxy_auth != NULL)
		cat(buf, len, "(set)");
}

static const char *const lang_words[] = { "ja", "en", "auto", NULL };
static const char *const format_words[] = { "text", "json", NULL };
static const char *const level_words[] = {
	"error", "warn", "info", "debug", NULL
};
static const char *const target_words[] = {
	"auto", "stderr", "journal", NULL
};

/*
 * The table. ck_doc sentences go to oauthlens.conf(5) one per line; keep
 * ck_help short enough that --help stays within 80 columns.
 */
const struct confkey confkeys[] = {
	{ .ck_key = "listen", .ck_flag = "listen", .ck_short = 'l',
	  .ck_kind = CK_LIST, .ck_elem = JSON_STRING, .ck_off = OFF(cf_listen),
	  .ck_min = 1, .ck_ok = ok_hostport, .ck_arg = "ADDR:PORT",
	  .ck_what = "an address:port", .ck_def = "127.0.0.1:8080",
	  .ck_example = "[::1]:9000",
	  .ck_help = "where to listen ([::1]:8080 for IPv6)",
	  .ck_doc = "Addresses to listen on, as ADDR:PORT or [ADDR]:PORT. "
	  "Keep them on loopback unless allow admits other clients. "
	  "Under socket activation the sockets come from systemd instead. "
	  "A change needs a restart." },
	{ .ck_key = "allow", .ck_flag = "allow", .ck_kind = CK_LIST,
	  .ck_elem = JSON_STRING, .ck_set = allow_set,
	  .ck_clear = allow_clear, .ck_text = allow_text, .ck_arg = "CIDR",
	  .ck_what = "a CIDR", .ck_def = "127.0.0.0/8 ::1/128",
	  .ck_example = "10.1.0.0/16",
	  .ck_help = "client addresses allowed to use the proxy",
	  .ck_doc = "Client addresses allowed to use the proxy, as CIDRs "
	  "(an address alone is a /32 or /128); others get 403. "
	  "An IPv4-mapped IPv6 client is judged by its IPv4 address." },
	{ .ck_key = "connect_ports", .ck_flag = "connect-ports",
	  .ck_kind = CK_LIST, .ck_elem = JSON_NUMBER, .ck_set = ports_set,
	  .ck_clear = ports_clear, .ck_text = ports_text, .ck_arg = "PORT",
	  .ck_what = "a port (1-65535)", .ck_def = "443",
	  .ck_example = "8443", .ck_help = "ports CONNECT may reach",
	  .ck_doc = "Ports a CONNECT may reach; a CONNECT to any other "
	  "port gets 403." },
	{ .ck_key = "intercept", .ck_flag = "intercept", .ck_kind = CK_LIST,
	  .ck_elem = JSON_STRING, .ck_off = OFF(cf_intercept),
	  .ck_ok = ok_hostname, .ck_arg = "HOST", .ck_what = "a host name",
	  .ck_def = "github.com", .ck_example = "*.example.test",
	  .ck_help = "hosts whose TLS is intercepted (*.suffix too)",
	  .ck_doc = "Hosts whose TLS is intercepted with the local CA; "
	  "*.example.com matches every name under example.com; IPv4 and "
	  "IPv6 addresses get leaves with IP address names. "
	  "Every other CONNECT is a blind tunnel, so other sites show "
	  "their own certificates. "
	  "A host outside the name constraints of an existing CA is "
	  "warned about at start and on reload: run oauthlens --new-ca "
	  "once and trust the new ca.pem." },
	{ .ck_key = "token_endpoints", .ck_flag = "token-endpoints",
	  .ck_kind = CK_LIST, .ck_elem = JSON_STRING,
	  .ck_off = OFF(cf_token_endpoints), .ck_ok = ok_endpoint,
	  .ck_arg = "HOST[/PATH]", .ck_what = "a host name, or host/path",
	  .ck_def = "github.com", .ck_example = "ghe.example.test/oauth/token",
	  .ck_help = "token endpoints whose errors are annotated",
	  .ck_doc = "Hosts whose POST /login/oauth/access_token responses "
	  "are inspected and annotated: github.com and GitHub Enterprise "
	  "hosts. "
	  "An entry HOST/PATH names another provider's token endpoint, "
	  "whose RFC 6749 error codes are explained too." },
	{ .ck_key = "certs", .ck_flag = "certs", .ck_kind = CK_STRING,
	  .ck_off = OFF(cf_certs), .ck_arg = "DIR", .ck_what = "a directory",
	  .ck_example = "/var/lib/oauthlens",
	  .ck_help = "CA directory (DIR/ca.pem, DIR/ca-key.pem)",
	  .ck_doc = "The CA directory: the CA certificate is DIR/ca.pem, "
	  "its key DIR/ca-key.pem (mode 0600), both made on first start. "
	  "Unset: $STATE_DIRECTORY under systemd, else certs/ in the "
	  "source tree, else ./certs. "
	  "A change needs a restart." },
	{ .ck_key = "ca_name_constraints", .ck_flag = "ca-name-constraints",
	  .ck_kind = CK_BOOL, .ck_off = OFF(cf_ca_name_constraints),
	  .ck_def = "true", .ck_example = "false",
	  .ck_help = "limit a new CA to the intercept hosts",
	  .ck_doc = "Whether a new CA is limited by X.509 name constraints "
	  "to the intercept hosts, so that its key cannot sign for other "
	  "sites. "
	  "Read only when a CA is made." },
	{ .ck_key = "upstream_ca", .ck_flag = "upstream-ca",
	  .ck_kind = CK_STRING, .ck_off = OFF(cf_upstream_ca),
	  .ck_arg = "FILE", .ck_what = "a file", .ck_example = "/tmp/ca.pem",
	  .ck_help = "extra CA bundle trusted for upstream TLS",
	  .ck_doc = "A PEM bundle trusted for upstream TLS on top of the "
	  "system store. "
	  "A change on reload also drops idle pooled TLS connections and "
	  "cached sessions." },
	{ .ck_key = "upstream_proxy", .ck_flag = "upstream-proxy",
	  .ck_kind = CK_STRING, .ck_off = OFF(cf_upstream_proxy),
	  .ck_secret = 1,
	  .ck_ok = ok_upstream_proxy, .ck_text = upstream_proxy_text,
	  .ck_arg = "URL|env", .ck_what = "an http:// URL or env",
	  .ck_example = "http://proxy.example.test:3128",
	  .ck_help = "send everything through this HTTP proxy",
	  .ck_doc = "An HTTP proxy to send everything through "
	  "(http://[user:password@]host[:port], port 1080 when absent; "
	  "user and password percent-encoded), or env: the HTTPS_PROXY "
	  "(tunnels and intercepted hosts), HTTP_PROXY (plain requests) "
	  "and NO_PROXY of oauthlens's own environment, which must not "
	  "point at oauthlens itself. "
	  "The password is sent as Proxy-Authorization: Basic and shown "
	  "as *** everywhere; on the command line it is visible to every "
	  "local user, so prefer the file or env. "
	  "Basic is the only scheme oauthlens speaks to a parent: one that "
	  "asks for NTLM or Negotiate only gets a 502 saying so, and needs "
	  "a local bridge (cntlm, px) as the upstream_proxy. "
	  "A change on reload applies to new exchanges and closes idle "
	  "pooled connections." },
	{ .ck_key = "no_upstream_proxy", .ck_flag = "no-upstream-proxy",
	  .ck_kind = CK_LIST, .ck_elem = JSON_STRING,
	  .ck_off = OFF(cf_no_upstream_proxy), .ck_ok = ok_no_upstream_proxy,
	  .ck_arg = "HOST", .ck_what = "a host, .suffix, address or CIDR",
	  .ck_example = ".corp.example.test",
	  .ck_help = "hosts reached directly, not through upstream_proxy",
	  .ck_doc = "Hosts reached directly even with an upstream_proxy: "
	  "host names, .suffix or *.suffix (the bare domain too), IP "
	  "addresses and CIDRs, or * for all. "
	  "Loopback (localhost, 127.0.0.0/8, ::1) always goes direct." },
	{ .ck_key = "resolve", .ck_flag = "resolve", .ck_kind = CK_LIST,
	  .ck_elem = JSON_STRING, .ck_set = resolve_set,
	  .ck_clear = resolve_clear, .ck_text = resolve_text,
	  .ck_arg = "H:P:ADDR:PORT", .ck_what = "HOST:PORT:ADDR:PORT",
	  .ck_example = "github.com:443:127.0.0.1:9443",
	  .ck_help = "connect to ADDR:PORT whenever H:P is asked for",
	  .ck_doc = "Entries HOST:PORT:ADDR:PORT: connect to ADDR:PORT "
	  "(an IPv6 ADDR in brackets) whenever HOST:PORT is requested, "
	  "like curl's --resolve. "
	  "Of two entries for the same HOST:PORT the later wins." },
	{ .ck_key = "lang", .ck_flag = "lang", .ck_kind = CK_WORD,
	  .ck_off = OFF(cf_lang), .ck_words = lang_words, .ck_def = "ja",
	  .ck_example = "en", .ck_help = "language of hints",
	  .ck_doc = "Language of hints: ja, en, or auto (the request's "
	  "Accept-Language, else ja)." },
	{ .ck_key = "header_name", .ck_flag = "header-name",
	  .ck_kind = CK_STRING, .ck_off = OFF(cf_header_name),
	  .ck_ok = ok_field_name, .ck_arg = "NAME",
	  .ck_what = "an HTTP field name", .ck_def = "OAuth-Troubleshooting",
	  .ck_example = "X-OAuth-Hint",
	  .ck_help = "the header added to annotated responses",
	  .ck_doc = "Name of the header added to annotated error "
	  "responses." },
	{ .ck_key = "messages", .ck_flag = "messages", .ck_kind = CK_STRING,
	  .ck_off = OFF(cf_messages), .ck_arg = "FILE", .ck_what = "a file",
	  .ck_example = "conf/messages.json", .ck_help = "the hint catalog",
	  .ck_doc = "The hint catalog: for each error code and language a "
	  "title, the hint and the docs URL; a missing code or language "
	  "is a config error. "
	  "In the file, a relative path is relative to the file's "
	  "directory. "
	  "Unset: messages.json beside the config file, else the "
	  "tree's conf/messages.json." },
	{ .ck_key = "log_format", .ck_flag = "log-format", .ck_kind = CK_WORD,
	  .ck_off = OFF(cf_log_format), .ck_words = format_words,
	  .ck_def = "text", .ck_example = "json",
	  .ck_help = "log records as text or JSON lines",
	  .ck_doc = "Log records as text (ts level event key=value) or as "
	  "one JSON object per line." },
	{ .ck_key = "log_level", .ck_flag = "log-level", .ck_kind = CK_WORD,
	  .ck_off = OFF(cf_log_level), .ck_words = level_words,
	  .ck_def = "info", .ck_example = "debug",
	  .ck_help = "the least severe level logged",
	  .ck_doc = "The least severe level logged; annotated errors are "
	  "warn." },
	{ .ck_key = "log_target", .ck_flag = "log-target", .ck_kind = CK_WORD,
	  .ck_off = OFF(cf_log_target), .ck_words = target_words,
	  .ck_def = "auto", .ck_example = "journal",
	  .ck_help = "auto: the journal under systemd, else stderr",
	  .ck_doc = "Where records go: auto (the journal when stderr is "
	  "systemd's journal stream, else stderr), stderr or journal." },
	{ .ck_key = "max_connections", .ck_flag = "max-connections",
	  .ck_kind = CK_UINT, .ck_off = OFF(cf_max_connections),
	  .ck_min = 1, .ck_max = 1000000, .ck_arg = "N", .ck_def = "1024",
	  .ck_example = "100", .ck_help = "client connections at once",
	  .ck_doc = "Client connections served at once; more get 503 with "
	  "Retry-After." },
	{ .ck_key = "inspect_max_bytes", .ck_flag = "inspect-max-bytes",
	  .ck_kind = CK_SIZE, .ck_off = OFF(cf_inspect_max_bytes),
	  .ck_min = 1024, .ck_max = 64 << 20, .ck_arg = "N",
	  .ck_def = "65536", .ck_example = "4096",
	  .ck_help = "largest token response held to inspect",
	  .ck_doc = "The largest token-endpoint response held back for "
	  "inspection; a larger one is relayed unannotated." },
	{ .ck_key = "timeouts.connect", .ck_flag = "timeouts.connect",
	  .ck_kind = CK_SECONDS, .ck_off = OFF(cf_to_connect_ms),
	  .ck_min = 0.001, .ck_max = 86400, .ck_arg = "SEC", .ck_def = "10",
	  .ck_example = "1.5", .ck_help = "seconds to connect to an origin",
	  .ck_doc = "Seconds to resolve and connect to an origin." },
	{ .ck_key = "timeouts.header", .ck_flag = "timeouts.header",
	  .ck_kind = CK_SECONDS, .ck_off = OFF(cf_to_header_ms),
	  .ck_min = 0.001, .ck_max = 86400, .ck_arg = "SEC", .ck_def = "10",
	  .ck_example = "2", .ck_help = "seconds for a whole request head",
	  .ck_doc = "Seconds a client has to send a whole request head "
	  "(an absolute deadline, not reset by each byte)." },
	{ .ck_key = "timeouts.idle", .ck_flag = "timeouts.idle",
	  .ck_kind = CK_SECONDS, .ck_off = OFF(cf_to_idle_ms),
	  .ck_min = 0.001, .ck_max = 86400, .ck_arg = "SEC", .ck_def = "120",
	  .ck_example = "60",
	  .ck_help = "seconds idle, or waiting for an origin",
	  .ck_doc = "Seconds a keep-alive connection may stay idle, and an "
	  "origin may stay silent before the client gets 504." },
	{ .ck_key = "timeouts.drain", .ck_flag = "timeouts.drain",
	  .ck_kind = CK_SECONDS, .ck_off = OFF(cf_to_drain_ms),
	  .ck_min = 0.001, .ck_max = 86400, .ck_arg = "SEC", .ck_def = "10",
	  .ck_example = "0.5",
	  .ck_help = "seconds in-flight requests get on stop",
	  .ck_doc = "Seconds requests in flight may take to finish when "
	  "oauthlens stops." },
	{ .ck_key = "code_lifetime", .ck_flag = "code-lifetime",
	  .ck_kind = CK_UINT, .ck_off = OFF(cf_code_lifetime_s),
	  .ck_min = 1, .ck_max = 86400, .ck_arg = "SEC", .ck_def = "600",
	  .ck_example = "60",
	  .ck_help = "seconds an authorization code is valid",
	  .ck_doc = "Seconds an authorization code lives (GitHub's is ten "
	  "minutes): an older code is diagnosed as code_expired. "
	  "A change needs a restart." },
	{ .ck_key = "flow_max_entries", .ck_flag = "flow-max-entries",
	  .ck_kind = CK_UINT, .ck_off = OFF(cf_flow_max_entries),
	  .ck_min = 16, .ck_max = 1000000, .ck_arg = "N", .ck_def = "4096",
	  .ck_example = "100", .ck_help = "OAuth flows remembered",
	  .ck_doc = "OAuth flows remembered for diagnosis, as keyed hashes "
	  "of codes and states, never the values. "
	  "A change needs a restart." },
	{ .ck_key = "flow_max_age", .ck_flag = "flow-max-age",
	  .ck_kind = CK_UINT, .ck_off = OFF(cf_flow_max_age_s),
	  .ck_min = 60, .ck_max = 7 * 86400, .ck_arg = "SEC",
	  .ck_def = "3600", .ck_example = "120",
	  .ck_help = "seconds a flow is remembered",
	  .ck_doc = "Seconds a remembered flow is kept. "
	  "A change needs a restart." },
	{ .ck_key = "proxy_auth", .ck_kind = CK_STRING,
	  .ck_off = OFF(cf_proxy_auth), .ck_set = proxy_auth_set,
	  .ck_text = proxy_auth_text,
	  .ck_arg = "USER:PASSWORD", .ck_what = "\"user:password\"",
	  .ck_example = "dev:secret",
	  .ck_doc = "Clients must send a matching Basic Proxy-Authorization, "
	  "compared in constant time; it is never logged. "
	  "A non-ASCII user or password is accepted in UTF-8 and in "
	  "Latin-1 (what Python's requests and aiohttp send). "
	  "--env and run put the credentials, percent-encoded, into the "
	  "proxy variables, which curl, wget, git, Python, Go, Ruby and "
	  "Node read; Java does not, and --env says so. "
	  "File only: a command line is visible to every local user." },
	{ .ck_key = NULL }
};

const struct confkey *
confkey_find(const char *key)
{
	const struct confkey	*k;

	for (k = confkeys; k->ck_key != NULL; k++)
		if (strcmp(k->ck_key, key) == 0)
			return k;
	return NULL;
}

const char *
confkey_what(const struct confkey *k, char *buf, size_t len)
{
	size_t	i;

	buf[0] = '\0';
	switch (k->ck_kind) {
	case CK_BOOL:
		cat(buf, len, "true or false");
		break;
	case CK_WORD:
		for (i = 0; k->ck_words[i] != NULL; i++)
			cat(buf, len, "%s%s", i == 0 ? "" :
			    k->ck_words[i + 1] == NULL ? " or " : ", ",
			    k->ck_words[i]);
		break;
	case CK_UINT:
	case CK_SIZE:
		cat(buf, len, "an integer between %.15g and %.15g", k->ck_min,
		    k->ck_max);
		break;
	case CK_SECONDS:
		cat(buf, len, "a number between %.15g and %.15g", k->ck_min,
		    k->ck_max);
		break;
	case CK_STRING:
	case CK_LIST:
		cat(buf, len, "%s", k->ck_what ? k->ck_what : "a string");
		break;
	}
	return buf;
}

static void *
field(struct config *cf, const struct confkey *k)
{
	return (char *)cf + k->ck_off;
}

static const void *
cfield(const struct config *cf, const struct confkey *k)
{
	return (const char *)cf + k->ck_off;
}

static int
set_number(struct config *cf, const struct confkey *k, const char *s)
{
	char	*end;
	double	 v;

	v = strtod(s, &end);
	if (end == s || *end != '\0' || !isfinite(v) || v < k->ck_min ||
	    v > k->ck_max)
		return -1;
	if (k->ck_kind == CK_SECONDS) {
		*(unsigned *)field(cf, k) = (unsigned)lround(v * 1000);
		return 0;
	}
	if (v != floor(v))
		return -1;
	if (k->ck_kind == CK_SIZE)
		*(size_t *)field(cf, k) = (size_t)v;
	else
		*(unsigned *)field(cf, k) = (unsigned)v;
	return 0;
}

int
confkey_set(struct config *cf, const struct confkey *k, const char *s,
    char *why, size_t whylen)
{
	char	**str, dummy[8];
	size_t	  i;

	if (why == NULL) {
		why = dummy;
		whylen = sizeof(dummy);
	}
	why[0] = '\0';
	if (k->ck_ok != NULL && !k->ck_ok(s, why, whylen))
		return -1;
	if (k->ck_set != NULL)
		return k->ck_set(cf, s);
	switch (k->ck_kind) {
	case CK_STRING:
		str = field(cf, k);
		free(*str);
		*str = xstrdup(s);
		return 0;
	case CK_BOOL:
		if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
			return -1;
		*(int *)field(cf, k) = s[0] == 't';
		return 0;
	case CK_WORD:
		for (i = 0; k->ck_words[i] != NULL; i++)
			if (strcmp(s, k->ck_words[i]) == 0) {
				*(int *)field(cf, k) = (int)i;
				return 0;
			}
		return -1;
	case CK_UINT:
	case CK_SIZE:
	case CK_SECONDS:
		return set_number(cf, k, s);
	case CK_LIST:
		strlist_add(field(cf, k), s);
		return 0;
	}
	return -1;
}

void
confkey_clear(struct config *cf, const struct confkey *k)
{
	if (k->ck_kind != CK_LIST)
		return;
	if (k->ck_clear != NULL)
		k->ck_clear(cf);
	else
		strlist_clear(field(cf, k));
}

/* Milliseconds as seconds, exactly and without trailing zeros: "1.5". */
static void
seconds_text(unsigned ms, char *buf, size_t len)
{
	char	*end;

	cat(buf, len, "%u.%03u", ms / 1000, ms % 1000);
	end = buf + strlen(buf);
	while (end[-1] == '0')
		*--end = '\0';
	if (end[-1] == '.')
		end[-1] = '\0';
}

void
confkey_free(struct config *cf, const struct confkey *k)
{
	char	**str;

	if (k->ck_kind == CK_LIST) {
		confkey_clear(cf, k);
		return;
	}
	if (k->ck_kind != CK_STRING)
		return;
	str = field(cf, k);
	/* Any string may be a secret (proxy_auth is): wipe them all. */
	if (*str != NULL)
		OPENSSL_cleanse(*str, strlen(*str));
	free(*str);
	*str = NULL;
}

void
confkey_text(const struct config *cf, const struct confkey *k, char *buf,
    size_t len)
{
	const struct strlist	*sl;
	const char		*s;
	size_t			 i;

	buf[0] = '\0';
	if (k->ck_text != NULL) {
		k->ck_text(cf, buf, len);
		return;
	}
	switch (k->ck_kind) {
	case CK_STRING:
		s = *(char *const *)cfield(cf, k);
		cat(buf, len, "%s", s ? s : "");
		break;
	case CK_BOOL:
		cat(buf, len, "%s", *(const int *)cfield(cf, k) ? "true" :
		    "false");
		break;
	case CK_WORD:
		cat(buf, len, "%s", k->ck_words[*(const int *)cfield(cf, k)]);
		break;
	case CK_UINT:
		cat(buf, len, "%u", *(const unsigned *)cfield(cf, k));
		break;
	case CK_SIZE:
		cat(buf, len, "%zu", *(const size_t *)cfield(cf, k));
		break;
	case CK_SECONDS:
		seconds_text(*(const unsigned *)cfield(cf, k), buf, len);
		break;
	case CK_LIST:
		sl = cfield(cf, k);
		for (i = 0; i < sl->sl_n; i++)
			cat(buf, len, "%s%s", i ? " " : "", sl->sl_v[i]);
		break;
	}
}

void
confkeys_defaults(struct config *cf)
{
	const struct confkey	*k;
	char			 buf[256], *w, *save;

	for (k = confkeys; k->ck_key != NULL; k++) {
		if (k->ck_def == NULL)
			continue;
		confkey_clear(cf, k);
		if (k->ck_kind != CK_LIST) {
			if (confkey_set(cf, k, k->ck_def, NULL, 0) == -1)
				abort();	/* the table is wrong */
			continue;
		}
		snprintf(buf, sizeof(buf), "%s", k->ck_def);
		for (w = strtok_r(buf, " ", &save); w != NULL;
		    w = strtok_r(NULL, " ", &save))
			if (confkey_set(cf, k, w, NULL, 0) == -1)
				abort();
	}
}

/* "  -l, --listen ADDR:PORT" and a description wrapped at HELP_COL. */
static void
usage_line(FILE *f, const char *left, const char *text)
{
	const char	*w = text, *end;
	int		 col;
	size_t		 n;

	col = fprintf(f, "%s", left);
	if (col > HELP_COL - 2) {
		fputc('\n', f);
		col = 0;
	}
	for (; *w != '\0'; w = end + strspn(end, " ")) {
		n = strcspn(w, " ");
		end = w + n;
		if (col > HELP_COL && col + 1 + (int)n > HELP_WIDTH) {
			fputc('\n', f);
			col = 0;
		}
		if (col < HELP_COL) {
			fprintf(f, "%*s", HELP_COL - col, "");
			col = HELP_COL;
		} else {
			fputc(' ', f);
			col++;
		}
		col += fprintf(f, "%.*s", (int)n, w);
	}
	fputc('\n', f);
}

void
confkey_arg(const struct confkey *k, char *buf, size_t len)
{
	size_t	i;

	buf[0] = '\0';
	if (k->ck_kind == CK_BOOL)
		cat(buf, len, "true|false");
	else if (k->ck_kind == CK_WORD)
		for (i = 0; k->ck_words[i] != NULL; i++)
			cat(buf, len, "%s%s", i ? "|" : "", k->ck_words[i]);
	else
		cat(buf, len, "%s", k->ck_arg);
}

void
confkeys_usage(FILE *f)
{
	const struct confkey	*k;
	char			 left[128], arg[64], text[256];
	int			 first = 1;

	fputs("\nEvery key of the config file (oauthlens.conf(5)) is also an "
	    "option, --KEY\n"
	    "with - for _, that overrides the file. A list option replaces "
	    "the file's\n"
	    "list, unless its value starts with + (--intercept +HOST adds "
	    "HOST to it).\n", f);
	for (k = confkeys; k->ck_key != NULL; k++) {
		if (k->ck_flag == NULL)
			continue;
		confkey_arg(k, arg, sizeof(arg));
		snprintf(left, sizeof(left), "  %c%c%s--%s %s",
		    k->ck_short ? '-' : ' ', k->ck_short ? k->ck_short : ' ',
		    k->ck_short ? ", " : "  ", k->ck_flag, arg);
		snprintf(text, sizeof(text), "%s", k->ck_help);
		if (k->ck_def != NULL)
			cat(text, sizeof(text), "; default %s", k->ck_def);
		usage_line(f, left, text);
	}
	for (k = confkeys; k->ck_key != NULL; k++) {
		if (k->ck_flag != NULL)
			continue;
		fprintf(f, "%s %s", first ? "Config file only:" : ",",
		    k->ck_key);
		first = 0;
	}
	if (!first)
		fputc('\n', f);
}

void
confkeys_show(const struct config *cf, FILE *f)
{
	const struct confkey	*k;
	char			 buf[4096];

	for (k = confkeys; k->ck_key != NULL; k++) {
		confkey_text(cf, k, buf, sizeof(buf));
		fprintf(f, "  %-20s %s\n", k->ck_key, buf[0] ? buf : "-");
	}
}
