#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "catalog.h"
#include "config.h"
#include "json.h"
#include "util.h"

#define DEFAULT_LISTEN		"127.0.0.1:8080"
#define DEFAULT_HEADER_NAME	"OAuth-Troubleshooting"

struct cfgerr {
	char		*ce_buf;
	size_t		 ce_len;
	const char	*ce_file;
};

/* Report a problem at a node: "file:line:col: what". Returns -1. */
static int
fail_at(struct cfgerr *e, const struct json *j, int at_key, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static int
fail_at(struct cfgerr *e, const struct json *j, int at_key, const char *fmt,
    ...)
{
	va_list	ap;
	int	n;

	n = snprintf(e->ce_buf, e->ce_len, "%s:%u:%u: ", e->ce_file,
	    at_key ? j->j_kline : j->j_line, at_key ? j->j_kcol : j->j_col);
	if (n < 0 || (size_t)n >= e->ce_len)
		return -1;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): started above */
	vsnprintf(e->ce_buf + n, e->ce_len - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

void
strlist_add(struct strlist *sl, const char *s)
{
	char	**v;

	v = realloc(sl->sl_v, (sl->sl_n + 1) * sizeof(*v));
	if (v == NULL)
		abort();
	sl->sl_v = v;
	sl->sl_v[sl->sl_n++] = xstrdup(s);
}

void
strlist_clear(struct strlist *sl)
{
	size_t	i;

	for (i = 0; i < sl->sl_n; i++)
		free(sl->sl_v[i]);
	free(sl->sl_v);
	sl->sl_v = NULL;
	sl->sl_n = 0;
}

int
config_split_hostport(const char *s, char *host, size_t hostlen,
    uint16_t *port)
{
	const char	*colon, *h = s;
	size_t		 hl;
	uint64_t	 p;

	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			return -1;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || memchr(s, ':', (size_t)(colon - s)))
			return -1;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen)
		return -1;
	if (util_parse_u64(colon + 1, strlen(colon + 1), 1, 65535, &p) == -1)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return 0;
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

static int
cidr_match(const struct cidr *c, const uint8_t *addr)
{
	unsigned	full = c->ci_bits / 8, rest = c->ci_bits % 8;

	if (memcmp(c->ci_addr, addr, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((c->ci_addr[full] ^ addr[full]) & (0xff << (8 - rest))) == 0;
}

int
config_allowed(const struct config *cf, const struct sockaddr *sa)
{
	const uint8_t	*a4 = NULL, *a6 = NULL;
	size_t		 i;

	if (sa->sa_family == AF_INET)
		a4 = (const uint8_t *)
		    &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6) {
		a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		/* An IPv4-mapped address is judged as IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(
		    &((const struct sockaddr_in6 *)sa)->sin6_addr))
			a4 = a6 + 12;
	} else
		return 0;
	for (i = 0; i < cf->cf_nallow; i++) {
		const struct cidr *c = &cf->cf_allow[i];

		if (c->ci_family == AF_INET && a4 != NULL && cidr_match(c, a4))
			return 1;
		if (c->ci_family == AF_INET6 && a6 != NULL &&
		    cidr_match(c, a6))
			return 1;
	}
	return 0;
}

int
config_proxy_auth_ok(const struct config *cf, const char *v, size_t len)
{
	const char	*want = cf->cf_proxy_auth;
	size_t		 wl;

	if (want == NULL)
		return 1;
	wl = strlen(want);
	/* The scheme is case-insensitive; the credentials compare in
	 * constant time. */
	if (v == NULL || len != wl || strncasecmp(v, "basic ", 6) != 0)
		return 0;
	return CRYPTO_memcmp(v + 6, want + 6, wl - 6) == 0;
}

int
config_token_host(const struct config *cf, const char *host)
{
	size_t	i, n, hl = strlen(host);

	for (i = 0; i < cf->cf_token_endpoints.sl_n; i++) {
		n = strcspn(cf->cf_token_endpoints.sl_v[i], "/");
		if (n == hl && strncasecmp(cf->cf_token_endpoints.sl_v[i],
		    host, n) == 0)
			return 1;
	}
	return 0;
}

int
config_token_endpoint(const struct config *cf, const char *host,
    const char *path, size_t plen)
{
	static const char	 github[] = "/login/oauth/access_token";
	size_t			 i, n, hl = strlen(host);

	for (i = 0; i < cf->cf_token_endpoints.sl_n; i++) {
		const char	*e = cf->cf_token_endpoints.sl_v[i];
		const char	*p;

		n = strcspn(e, "/");
		if (n != hl || strncasecmp(e, host, n) != 0)
			continue;
		p = e[n] == '/' ? e + n : github;
		if (strlen(p) == plen && memcmp(p, path, plen) == 0)
			return 1;
	}
	return 0;
}

int
config_connect_port_ok(const struct config *cf, uint16_t port)
{
	size_t	i;

	for (i = 0; i < cf->cf_nconnect_ports; i++)
		if (cf->cf_connect_ports[i] == port)
			return 1;
	return 0;
}

const struct resolve *
config_resolve(const struct config *cf, const char *host, uint16_t port)
{
	size_t	i;

	for (i = 0; i < cf->cf_nresolve; i++)
		if (cf->cf_resolve[i].rv_port == port &&
		    strcasecmp(cf->cf_resolve[i].rv_host, host) == 0)
			return &cf->cf_resolve[i];
	return NULL;
}

/* "HOST:PORT:ADDR:PORT", ADDR possibly in brackets. */
static int
parse_resolve(const char *s, struct resolve *rv)
{
	char		 host[256], addr[64];
	const char	*c1, *c2;
	uint64_t	 port;
	uint16_t	 aport;
	size_t		 hl;

	c1 = strchr(s, ':');
	if (c1 == NULL || (hl = (size_t)(c1 - s)) == 0 || hl >= sizeof(host))
		return -1;
	c2 = strchr(c1 + 1, ':');
	if (c2 == NULL || util_parse_u64(c1 + 1, (size_t)(c2 - c1 - 1), 1,
	    65535, &port) == -1)
		return -1;
	if (config_split_hostport(c2 + 1, addr, sizeof(addr), &aport) == -1)
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
	for (size_t i = 0; i < hl; i++)
		host[i] = (char)tolower((unsigned char)host[i]);
	rv->rv_host = xstrdup(host);
	rv->rv_port = (uint16_t)port;
	return 0;
}

static int
want_type(struct cfgerr *e, const struct json *j, enum json_type t)
{
	if (j->j_type == t)
		return 0;
	return fail_at(e, j, 0, "\"%s\" must be %s %s, not %s", j->j_key,
	    t == JSON_ARRAY || t == JSON_OBJECT ? "an" : "a",
	    json_type_name(t), json_type_name(j->j_type));
}

static int
get_string(struct cfgerr *e, const struct json *j, char **out)
{
	if (want_type(e, j, JSON_STRING) == -1)
		return -1;
	free(*out);
	*out = xstrdup(j->j_str);
	return 0;
}

/* A number in [min, max]; fractional values allowed when scale > 1
 * (seconds to milliseconds). */
static int
get_number(struct cfgerr *e, const struct json *j, double min, double max,
    double scale, double *out)
{
	char	*end;
	double	 v;

	if (want_type(e, j, JSON_NUMBER) == -1)
		return -1;
	v = strtod(j->j_str, &end);
	if (*end != '\0' || !isfinite(v) || v < min || v > max ||
	    (scale == 1 && v != floor(v)))
		return fail_at(e, j, 0, "\"%s\" must be %s between %g and %g",
		    j->j_key, scale == 1 ? "an integer" : "a number", min, max);
	*out = v * scale;
	return 0;
}

/* An array of strings; each element checked by ok() when given. */
static int
get_strings(struct cfgerr *e, const struct json *j, struct strlist *sl,
    int (*ok)(const char *), const char *what)
{
	const struct json	*el;

	if (want_type(e, j, JSON_ARRAY) == -1)
		return -1;
	strlist_clear(sl);
	for (el = j->j_child; el != NULL; el = el->j_next) {
		if (el->j_type != JSON_STRING)
			return fail_at(e, el, 0, "\"%s\" entries must be "
			    "strings", j->j_key);
		if (ok != NULL && !ok(el->j_str))
			return fail_at(e, el, 0, "\"%s\" is not %s",
			    el->j_str, what);
		strlist_add(sl, el->j_str);
	}
	return 0;
}

static int
ok_hostport(const char *s)
{
	char		h[256];
	uint16_t	p;

	return config_split_hostport(s, h, sizeof(h), &p) == 0;
}

static int
ok_cidr(const char *s)
{
	struct cidr	c;

	return parse_cidr(s, &c) == 0;
}

static int
ok_resolve(const char *s)
{
	struct resolve	rv;

	if (parse_resolve(s, &rv) == -1)
		return 0;
	free(rv.rv_host);
	return 1;
}

static int
ok_hostname(const char *s)
{
	size_t	i, n = strlen(s);

	if (n == 0 || n > 253)
		return 0;
	if (s[0] == '*' && (n < 3 || s[1] != '.'))
		return 0;
	for (i = s[0] == '*' ? 2 : 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '.' && s[i] != ':')
			return 0;
	return 1;
}

/* "host" or "host/path/to/token". */
static int
ok_endpoint(const char *s)
{
	char	host[256];
	size_t	n = strcspn(s, "/");

	if (n == 0 || n >= sizeof(host))
		return 0;
	memcpy(host, s, n);
	host[n] = '\0';
	return ok_hostname(host) && host[0] != '*' && (s[n] == '\0' ||
	    strcspn(s + n, " ?#\t") == strlen(s + n));
}

static int
set_lang(const char *s, enum lang *out)
{
	if (strcmp(s, "ja") == 0)
		*out = LANG_JA;
	else if (strcmp(s, "en") == 0)
		*out = LANG_EN;
	else if (strcmp(s, "auto") == 0)
		*out = LANG_AUTO;
	else
		return -1;
	return 0;
}

static int
apply_timeouts(struct cfgerr *e, struct config *cf, const struct json *obj)
{
	const struct json	*j;
	double			 v = 0;

	if (want_type(e, obj, JSON_OBJECT) == -1)
		return -1;
	for (j = obj->j_child; j != NULL; j = j->j_next) {
		unsigned	*slot;

		if (strcmp(j->j_key, "connect") == 0)
			slot = &cf->cf_to_connect_ms;
		else if (strcmp(j->j_key, "header") == 0)
			slot = &cf->cf_to_header_ms;
		else if (strcmp(j->j_key, "idle") == 0)
			slot = &cf->cf_to_idle_ms;
		else if (strcmp(j->j_key, "drain") == 0)
			slot = &cf->cf_to_drain_ms;
		else
			return fail_at(e, j, 1, "unknown key \"timeouts.%s\" "
			    "(expected connect, header, idle, drain)",
			    j->j_key);
		if (get_number(e, j, 0.001, 86400, 1000, &v) == -1)
			return -1;
		*slot = (unsigned)v;
	}
	return 0;
}

/* Apply one top-level member. */
static int
apply_key(struct cfgerr *e, struct config *cf, const struct json *j)
{
	const char	*k = j->j_key;
	struct strlist	 tmp = { NULL, 0 };
	double		 v = 0;
	size_t		 i;

	if (strcmp(k, "listen") == 0) {
		if (get_strings(e, j, &cf->cf_listen, ok_hostport,
		    "an address:port") == -1)
			return -1;
		if (cf->cf_listen.sl_n == 0)
			return fail_at(e, j, 0, "\"listen\" needs at least one "
			    "address");
		return 0;
	}
	if (strcmp(k, "intercept") == 0)
		return get_strings(e, j, &cf->cf_intercept, ok_hostname,
		    "a host name");
	if (strcmp(k, "token_endpoints") == 0)
		return get_strings(e, j, &cf->cf_token_endpoints, ok_endpoint,
		    "a host name, or host/path");
	if (strcmp(k, "allow") == 0) {
		if (get_strings(e, j, &tmp, ok_cidr, "a CIDR") == -1)
			goto fail;
		free(cf->cf_allow);
		cf->cf_allow = xcalloc(tmp.sl_n + 1, sizeof(*cf->cf_allow));
		for (i = 0; i < tmp.sl_n; i++)
			parse_cidr(tmp.sl_v[i], &cf->cf_allow[i]);
		cf->cf_nallow = tmp.sl_n;
		strlist_clear(&tmp);
		return 0;
	}
	if (strcmp(k, "resolve") == 0) {
		if (get_strings(e, j, &tmp, ok_resolve,
		    "HOST:PORT:ADDR:PORT") == -1)
			goto fail;
		for (i = 0; i < cf->cf_nresolve; i++)
			free(cf->cf_resolve[i].rv_host);
		free(cf->cf_resolve);
		cf->cf_resolve = xcalloc(tmp.sl_n + 1, sizeof(*cf->cf_resolve));
		for (i = 0; i < tmp.sl_n; i++)
			parse_resolve(tmp.sl_v[i], &cf->cf_resolve[i]);
		cf->cf_nresolve = tmp.sl_n;
		strlist_clear(&tmp);
		return 0;
	}
	if (strcmp(k, "connect_ports") == 0) {
		const struct json *el;

		if (want_type(e, j, JSON_ARRAY) == -1)
			return -1;
		free(cf->cf_connect_ports);
		cf->cf_nconnect_ports = 0;
		for (el = j->j_child, i = 0; el != NULL; el = el->j_next)
			i++;
		cf->cf_connect_ports = xcalloc(i + 1, sizeof(uint16_t));
		for (el = j->j_child; el != NULL; el = el->j_next) {
			if (el->j_type != JSON_NUMBER ||
			    get_number(e, el, 1, 65535, 1, &v) == -1)
				return fail_at(e, el, 0, "\"connect_ports\" "
				    "entries must be ports (1-65535)");
			cf->cf_connect_ports[cf->cf_nconnect_ports++] =
			    (uint16_t)v;
		}
		return 0;
	}
	if (strcmp(k, "certs") == 0)
		return get_string(e, j, &cf->cf_certs);
	if (strcmp(k, "upstream_ca") == 0)
		return get_string(e, j, &cf->cf_upstream_ca);
	if (strcmp(k, "upstream_proxy") == 0)
		return get_string(e, j, &cf->cf_upstream_proxy);
	if (strcmp(k, "messages") == 0)
		return get_string(e, j, &cf->cf_messages);
	if (strcmp(k, "proxy_auth") == 0) {
		unsigned char	 b64[1024];
		int		 n;

		if (want_type(e, j, JSON_STRING) == -1)
			return -1;
		if (strchr(j->j_str, ':') == NULL || j->j_len > 700)
			return fail_at(e, j, 0, "\"proxy_auth\" must be "
			    "\"user:password\"");
		n = EVP_EncodeBlock(b64, (const unsigned char *)j->j_str,
		    (int)j->j_len);
		free(cf->cf_proxy_auth);
		if (asprintf(&cf->cf_proxy_auth, "Basic %.*s", n, b64) == -1)
			abort();
		OPENSSL_cleanse(b64, sizeof(b64));
		return 0;
	}
	if (strcmp(k, "header_name") == 0) {
		if (get_string(e, j, &cf->cf_header_name) == -1)
			return -1;
		for (i = 0; cf->cf_header_name[i] != '\0'; i++)
			if (!isalnum((unsigned char)cf->cf_header_name[i]) &&
			    strchr("!#$%&'*+-.^_`|~", cf->cf_header_name[i]) ==
			    NULL)
				break;
		if (i == 0 || cf->cf_header_name[i] != '\0')
			return fail_at(e, j, 0, "\"header_name\" must be an "
			    "HTTP field name");
		return 0;
	}
	if (strcmp(k, "lang") == 0) {
		if (want_type(e, j, JSON_STRING) == -1)
			return -1;
		if (set_lang(j->j_str, &cf->cf_lang) == -1)
			return fail_at(e, j, 0, "\"lang\" must be ja, en or "
			    "auto");
		return 0;
	}
	if (strcmp(k, "log_format") == 0) {
		if (want_type(e, j, JSON_STRING) == -1)
			return -1;
		if (log_format_parse(j->j_str, &cf->cf_log_format) == -1)
			return fail_at(e, j, 0, "\"log_format\" must be text "
			    "or json");
		return 0;
	}
	if (strcmp(k, "log_level") == 0) {
		if (want_type(e, j, JSON_STRING) == -1)
			return -1;
		if (log_level_parse(j->j_str, &cf->cf_log_level) == -1)
			return fail_at(e, j, 0, "\"log_level\" must be error, "
			    "warn, info or debug");
		return 0;
	}
	if (strcmp(k, "ca_name_constraints") == 0) {
		if (want_type(e, j, JSON_BOOL) == -1)
			return -1;
		cf->cf_ca_name_constraints = j->j_bool;
		return 0;
	}
	if (strcmp(k, "log_target") == 0) {
		if (want_type(e, j, JSON_STRING) == -1)
			return -1;
		if (log_target_parse(j->j_str, &cf->cf_log_target) == -1)
			return fail_at(e, j, 0, "\"log_target\" must be auto, "
			    "stderr or journal");
		return 0;
	}
	if (strcmp(k, "code_lifetime") == 0) {
		if (get_number(e, j, 1, 86400, 1, &v) == -1)
			return -1;
		cf->cf_code_lifetime_s = (unsigned)v;
		return 0;
	}
	if (strcmp(k, "flow_max_entries") == 0) {
		if (get_number(e, j, 16, 1000000, 1, &v) == -1)
			return -1;
		cf->cf_flow_max_entries = (unsigned)v;
		return 0;
	}
	if (strcmp(k, "flow_max_age") == 0) {
		if (get_number(e, j, 60, 7 * 86400, 1, &v) == -1)
			return -1;
		cf->cf_flow_max_age_s = (unsigned)v;
		return 0;
	}
	if (strcmp(k, "max_connections") == 0) {
		if (get_number(e, j, 1, 1000000, 1, &v) == -1)
			return -1;
		cf->cf_max_connections = (unsigned)v;
		return 0;
	}
	if (strcmp(k, "inspect_max_bytes") == 0) {
		if (get_number(e, j, 1024, 64 << 20, 1, &v) == -1)
			return -1;
		cf->cf_inspect_max_bytes = (size_t)v;
		return 0;
	}
	if (strcmp(k, "timeouts") == 0)
		return apply_timeouts(e, cf, j);
	return fail_at(e, j, 1, "unknown key \"%s\"", k);
fail:
	strlist_clear(&tmp);
	return -1;
}

static struct config *
config_defaults(void)
{
	struct config	*cf = xcalloc(1, sizeof(*cf));

	cf->cf_refs = 1;
	strlist_add(&cf->cf_listen, DEFAULT_LISTEN);
	strlist_add(&cf->cf_intercept, "github.com");
	strlist_add(&cf->cf_token_endpoints, "github.com");
	cf->cf_allow = xcalloc(2, sizeof(*cf->cf_allow));
	parse_cidr("127.0.0.0/8", &cf->cf_allow[0]);
	parse_cidr("::1/128", &cf->cf_allow[1]);
	cf->cf_nallow = 2;
	cf->cf_connect_ports = xcalloc(1, sizeof(uint16_t));
	cf->cf_connect_ports[0] = 443;
	cf->cf_nconnect_ports = 1;
	cf->cf_header_name = xstrdup(DEFAULT_HEADER_NAME);
	cf->cf_lang = LANG_JA;
	cf->cf_ca_name_constraints = 1;
	cf->cf_log_format = LOGF_TEXT;
	cf->cf_log_level = LL_INFO;
	cf->cf_max_connections = 1024;
	cf->cf_code_lifetime_s = 600;		/* GitHub's 10 minutes */
	cf->cf_flow_max_entries = 4096;
	cf->cf_flow_max_age_s = 3600;
	cf->cf_inspect_max_bytes = 65536;
	cf->cf_to_connect_ms = 10000;
	cf->cf_to_header_ms = 10000;
	cf->cf_to_idle_ms = 120000;
	cf->cf_to_drain_ms = 10000;
	return cf;
}

/* Command-line overrides, checked with "--option: reason" errors. */
static int
apply_cli(struct config *cf, const struct config_cli *cli, char *err,
    size_t errlen)
{
	size_t	i;

	if (cli->cc_listen.sl_n > 0) {
		for (i = 0; i < cli->cc_listen.sl_n; i++)
			if (!ok_hostport(cli->cc_listen.sl_v[i])) {
				snprintf(err, errlen, "--listen %s: expected "
				    "ADDR:PORT", cli->cc_listen.sl_v[i]);
				return -1;
			}
		strlist_clear(&cf->cf_listen);
		for (i = 0; i < cli->cc_listen.sl_n; i++)
			strlist_add(&cf->cf_listen, cli->cc_listen.sl_v[i]);
	}
	if (cli->cc_resolve.sl_n > 0) {
		struct resolve	*rv;

		rv = xcalloc(cf->cf_nresolve + cli->cc_resolve.sl_n,
		    sizeof(*rv));
		for (i = 0; i < cli->cc_resolve.sl_n; i++)
			if (parse_resolve(cli->cc_resolve.sl_v[i], &rv[i]) ==
			    -1) {
				snprintf(err, errlen, "--resolve %s: expected "
				    "HOST:PORT:ADDR:PORT",
				    cli->cc_resolve.sl_v[i]);
				while (i-- > 0)
					free(rv[i].rv_host);
				free(rv);
				return -1;
			}
		/* Command-line entries come first, so they win. */
		if (cf->cf_nresolve > 0)
			memcpy(rv + i, cf->cf_resolve,
			    cf->cf_nresolve * sizeof(*rv));
		free(cf->cf_resolve);
		cf->cf_resolve = rv;
		cf->cf_nresolve += i;
	}
	for (i = 0; i < cli->cc_intercept.sl_n; i++) {
		if (!ok_hostname(cli->cc_intercept.sl_v[i])) {
			snprintf(err, errlen, "--intercept %s: not a host "
			    "name", cli->cc_intercept.sl_v[i]);
			return -1;
		}
		strlist_add(&cf->cf_intercept, cli->cc_intercept.sl_v[i]);
	}
#define STR(field, opt) do {						\
	if ((opt) != NULL) {						\
		free(field);						\
		(field) = xstrdup(opt);					\
	}								\
} while (0)
	STR(cf->cf_certs, cli->cc_certs);
	STR(cf->cf_upstream_ca, cli->cc_upstream_ca);
	STR(cf->cf_upstream_proxy, cli->cc_upstream_proxy);
#undef STR
	if (cli->cc_lang != NULL && set_lang(cli->cc_lang, &cf->cf_lang)) {
		snprintf(err, errlen, "--lang %s: expected ja, en or auto",
		    cli->cc_lang);
		return -1;
	}
	if (cli->cc_log_format != NULL &&
	    log_format_parse(cli->cc_log_format, &cf->cf_log_format) == -1) {
		snprintf(err, errlen, "--log-format %s: expected text or json",
		    cli->cc_log_format);
		return -1;
	}
	if (cli->cc_log_target != NULL &&
	    log_target_parse(cli->cc_log_target, &cf->cf_log_target) == -1) {
		snprintf(err, errlen, "--log-target %s: expected auto, stderr "
		    "or journal", cli->cc_log_target);
		return -1;
	}
	if (cli->cc_log_level != NULL &&
	    log_level_parse(cli->cc_log_level, &cf->cf_log_level) == -1) {
		snprintf(err, errlen, "--log-level %s: expected error, warn, "
		    "info or debug", cli->cc_log_level);
		return -1;
	}
	return 0;
}

static int
load_catalog(struct config *cf, char *err, size_t errlen)
{
	char		 buf[4096];
	const char	*slash = cf->cf_path ? strrchr(cf->cf_path, '/') : NULL;
	int		 dirlen = slash ? (int)(slash - cf->cf_path + 1) : 0;

	if (cf->cf_messages != NULL) {
		/* A relative "messages" is relative to the config file. */
		if (cf->cf_messages[0] != '/' && dirlen > 0) {
			snprintf(buf, sizeof(buf), "%.*s%s", dirlen,
			    cf->cf_path, cf->cf_messages);
			free(cf->cf_messages);
			cf->cf_messages = xstrdup(buf);
		}
	} else {
		/* Beside the config file, else the tree's catalog. */
		snprintf(buf, sizeof(buf), "%.*smessages.json", dirlen,
		    cf->cf_path ? cf->cf_path : "");
		if ((cf->cf_path != NULL && access(buf, R_OK) == 0) ||
		    util_tree_path("conf/messages.json", buf, sizeof(buf)))
			cf->cf_messages = xstrdup(buf);
		else {
			snprintf(err, errlen, "cannot find messages.json (the "
			    "hint catalog); set \"messages\" in the config");
			return -1;
		}
	}
	cf->cf_catalog = catalog_load(cf->cf_messages, err, errlen);
	return cf->cf_catalog == NULL ? -1 : 0;
}

struct config *
config_load(const struct config_cli *cli, char *err, size_t errlen)
{
	struct config		*cf = config_defaults();
	struct json		*root = NULL;
	const struct json	*j;
	struct cfgerr		 e = { err, errlen, cli->cc_config };

	if (cli->cc_config != NULL) {
		cf->cf_path = xstrdup(cli->cc_config);
		root = json_load_file(cli->cc_config, err, errlen);
		if (root == NULL)
			goto fail;
		if (root->j_type != JSON_OBJECT) {
			fail_at(&e, root, 0, "the configuration must be a JSON "
			    "object");
			goto fail;
		}
		for (j = root->j_child; j != NULL; j = j->j_next)
			if (apply_key(&e, cf, j) == -1)
				goto fail;
		json_free(root);
		root = NULL;
	}
	if (apply_cli(cf, cli, err, errlen) == -1)
		goto fail;
	if (load_catalog(cf, err, errlen) == -1)
		goto fail;
	if (cf->cf_listen.sl_n == 0) {
		snprintf(err, errlen, "%s: no listen address",
		    cli->cc_config ? cli->cc_config : "configuration");
		goto fail;
	}
	return cf;
fail:
	json_free(root);
	config_unref(cf);
	return NULL;
}

struct config *
config_ref(struct config *cf)
{
	cf->cf_refs++;
	return cf;
}

void
config_unref(struct config *cf)
{
	size_t	i;

	if (cf == NULL || --cf->cf_refs > 0)
		return;
	free(cf->cf_path);
	strlist_clear(&cf->cf_listen);
	strlist_clear(&cf->cf_intercept);
	strlist_clear(&cf->cf_token_endpoints);
	free(cf->cf_allow);
	free(cf->cf_connect_ports);
	for (i = 0; i < cf->cf_nresolve; i++)
		free(cf->cf_resolve[i].rv_host);
	free(cf->cf_resolve);
	free(cf->cf_certs);
	free(cf->cf_upstream_ca);
	free(cf->cf_upstream_proxy);
	free(cf->cf_header_name);
	if (cf->cf_proxy_auth != NULL) {
		OPENSSL_cleanse(cf->cf_proxy_auth, strlen(cf->cf_proxy_auth));
		free(cf->cf_proxy_auth);
	}
	free(cf->cf_messages);
	catalog_free(cf->cf_catalog);
	free(cf);
}
