#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "conftypes.h"
#include "http1.h"
#include "parent.h"
#include "util.h"

#define USERINFO_MAX	512

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 3986 userinfo characters, before decoding. */
static int
userinfo_char(int c)
{
	return isalnum(c) || strchr("-._~!$&'()*+,;=:%", c) != NULL;
}

/* Percent-decode p[0..len) into out (NUL-terminated); refuse bad escapes
 * and decoded control characters (they would split the header). */
static int
pct_decode(const char *p, size_t len, char *out, size_t outlen)
{
	size_t	i, o = 0;
	int	hi, lo, c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)p[i];
		if (c == '%') {
			if (i + 2 >= len || (hi = hexval(p[i + 1])) < 0 ||
			    (lo = hexval(p[i + 2])) < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f || o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

static int
host_char(int c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_';
}

/* host, [v6] or host:port at p[0..len); fills pa_host and pa_port. */
static int
parse_authority(const char *p, size_t len, struct parent *pa, char *err,
    size_t errlen)
{
	const char	*port = NULL;
	size_t		 hl, i;
	uint64_t	 v;
	unsigned char	 a6[16];

	if (len > 0 && p[0] == '[') {
		const char *rb = memchr(p, ']', len);

		if (rb == NULL || (size_t)(rb - p - 1) >= sizeof(pa->pa_host))
			goto bad;
		hl = (size_t)(rb - p - 1);
		memcpy(pa->pa_host, p + 1, hl);
		pa->pa_host[hl] = '\0';
		if (inet_pton(AF_INET6, pa->pa_host, a6) != 1)
			goto bad;
		if (rb + 1 < p + len) {
			if (rb[1] != ':')
				goto bad;
			port = rb + 2;
		}
	} else {
		const char *colon = memchr(p, ':', len);

		hl = colon ? (size_t)(colon - p) : len;
		if (hl == 0 || hl > 253)
			goto bad;
		for (i = 0; i < hl; i++)
			if (!host_char((unsigned char)p[i]))
				goto bad;
		memcpy(pa->pa_host, p, hl);
		pa->pa_host[hl] = '\0';
		if (colon != NULL)
			port = colon + 1;
	}
	pa->pa_port = PARENT_DEFAULT_PORT;
	if (port != NULL) {
		if (util_parse_u64(port, (size_t)(p + len - port), 1, 65535,
		    &v) == -1) {
			snprintf(err, errlen, "the upstream proxy's port must "
			    "be a number from 1 to 65535");
			return -1;
		}
		pa->pa_port = (uint16_t)v;
	}
	return 0;
bad:
	snprintf(err, errlen, "the upstream proxy's host must be a host name, "
	    "an IPv4 address or an [IPv6] address");
	return -1;
}

/* "Basic base64(user:password)" from the raw, still encoded userinfo. */
static int
parse_userinfo(const char *p, size_t len, struct parent *pa, char *err,
    size_t errlen)
{
	char		 user[USERINFO_MAX], pass[USERINFO_MAX];
	char		 both[2 * USERINFO_MAX + 2];
	unsigned char	 b64[((sizeof(both) + 2) / 3) * 4 + 1];
	const char	*colon = memchr(p, ':', len);
	size_t		 ul = colon ? (size_t)(colon - p) : len, i;
	int		 n, rc = -1;

	for (i = 0; i < len; i++)
		if (!userinfo_char((unsigned char)p[i]))
			goto bad;
	/* The user name is shown as written: keep it short enough for
	 * every line that names the parent. */
	if (ul > PARENT_USER_MAX) {
		snprintf(err, errlen, "the upstream proxy's user name is "
		    "longer than %d characters", PARENT_USER_MAX);
		goto out;
	}
	if (ul == 0 || pct_decode(p, ul, user, sizeof(user)) == -1 ||
	    strchr(user, ':') != NULL)
		goto bad;
	pass[0] = '\0';
	if (colon != NULL && pct_decode(colon + 1, len - ul - 1, pass,
	    sizeof(pass)) == -1)
		goto bad;
	n = snprintf(both, sizeof(both), "%s:%s", user, pass);
	n = EVP_EncodeBlock(b64, (const unsigned char *)both, n);
	if (asprintf(&pa->pa_auth, "Basic %.*s", n, b64) == -1 ||
	    asprintf(&pa->pa_auth_line, "Proxy-Authorization: %s",
	    pa->pa_auth) == -1)
		abort();
	/* The shown form keeps the user name as written. */
	snprintf(pa->pa_shown, sizeof(pa->pa_shown), "http://%.*s:***@",
	    (int)ul, p);
	rc = 0;
	goto out;
bad:
	snprintf(err, errlen, "the upstream proxy's user:password is not "
	    "valid (percent-encode reserved characters, e.g. %%40 for @)");
out:
	OPENSSL_cleanse(pass, sizeof(pass));
	OPENSSL_cleanse(both, sizeof(both));
	OPENSSL_cleanse(b64, sizeof(b64));
	return rc;
}

struct parent *
parent_parse(const char *url, char *err, size_t errlen)
{
	struct parent	*pa = xcalloc(1, sizeof(*pa));
	const char	*p = url, *end, *at, *slash;
	size_t		 sl;
	int		 v6;

	if (strncasecmp(p, "http://", 7) == 0)
		p += 7;
	else if (strstr(p, "://") != NULL) {
		snprintf(err, errlen, "the upstream proxy must be an http:// "
		    "URL%s", strncasecmp(p, "https://", 8) == 0 ? " (TLS to "
		    "the upstream proxy itself is not supported)" : "");
		goto fail;
	}
	end = p + strlen(p);
	/* A trailing "/" is allowed; a path, query or fragment is not. */
	slash = p + strcspn(p, "/?#");
	if (slash < end && !(slash[0] == '/' && slash + 1 == end)) {
		snprintf(err, errlen, "the upstream proxy URL takes no path, "
		    "query or fragment");
		goto fail;
	}
	end = slash;
	at = NULL;
	for (const char *q = p; q < end; q++)
		if (*q == '@')
			at = q;
	pa->pa_shown[0] = '\0';
	if (at != NULL && parse_userinfo(p, (size_t)(at - p), pa, err,
	    errlen) == -1)
		goto fail;
	if (at != NULL)
		p = at + 1;
	else
		snprintf(pa->pa_shown, sizeof(pa->pa_shown), "http://");
	if (parse_authority(p, (size_t)(end - p), pa, err, errlen) == -1)
		goto fail;
	sl = strlen(pa->pa_shown);
	v6 = strchr(pa->pa_host, ':') != NULL;
	snprintf(pa->pa_shown + sl, sizeof(pa->pa_shown) - sl, "%s%s%s:%u",
	    v6 ? "[" : "", pa->pa_host, v6 ? "]" : "", pa->pa_port);
	return pa;
fail:
	parent_free(pa);
	return NULL;
}

void
parent_free(struct parent *pa)
{
	if (pa == NULL)
		return;
	if (pa->pa_auth != NULL) {
		OPENSSL_cleanse(pa->pa_auth, strlen(pa->pa_auth));
		free(pa->pa_auth);
	}
	if (pa->pa_auth_line != NULL) {
		OPENSSL_cleanse(pa->pa_auth_line, strlen(pa->pa_auth_line));
		free(pa->pa_auth_line);
	}
	free(pa);
}

/* An IP literal (v4 or v6) into a 16-byte buffer; family or 0. */
static int
ip_literal(const char *s, size_t len, uint8_t *a)
{
	char	buf[64];

	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(a, 0, 16);
	if (inet_pton(AF_INET, buf, a) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, buf, a) == 1)
		return AF_INET6;
	return 0;
}

/* An entry as a CIDR: family, address and prefix bits; 0 if not one. */
static int
entry_cidr(const char *s, uint8_t *a, unsigned *bits)
{
	const char	*slash = strchr(s, '/');
	size_t		 al = slash ? (size_t)(slash - s) : strlen(s);
	int		 fam = ip_literal(s, al, a);
	unsigned	 max = fam == AF_INET ? 32 : 128;
	uint64_t	 v;

	if (fam == 0)
		return 0;
	*bits = max;
	if (slash != NULL) {
		if (util_parse_u64(slash + 1, strlen(slash + 1), 0, max,
		    &v) == -1)
			return 0;
		*bits = (unsigned)v;
	}
	return fam;
}

static int
prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned	full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return 0;
	return rest == 0 ||
	    ((a[full] ^ b[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

int
parent_bypass_ok(const char *s)
{
	uint8_t		a[16];
	unsigned	bits;
	size_t		i, n = strlen(s);

	if (strcmp(s, "*") == 0 || entry_cidr(s, a, &bits) != 0)
		return 1;
	if (s[0] == '*' && s[1] == '.')
		s += 2, n -= 2;
	else if (s[0] == '.')
		s++, n--;
	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i < n; i++)
		if (!host_char((unsigned char)s[i]))
			return 0;
	return 1;
}

static int
loopback(const char *host, int fam, const uint8_t *a)
{
	static const uint8_t	v6lo[16] = { [15] = 1 };

	if (strcasecmp(host, "localhost") == 0 ||
	    strcasecmp(host, "localhost.") == 0)
		return 1;
	return (fam == AF_INET && a[0] == 127) ||
	    (fam == AF_INET6 && memcmp(a, v6lo, 16) == 0);
}

/* Whether host ends with the dotted suffix sfx (".corp") or is its bare
 * domain ("corp"). */
static int
suffix_match(const char *host, size_t hl, const char *sfx)
{
	size_t	sl = strlen(sfx);

	if (hl == sl - 1 && strncasecmp(host, sfx + 1, hl) == 0)
		return 1;
	return hl > sl && strncasecmp(host + hl - sl, sfx, sl) == 0;
}

int
parent_bypass(const struct strlist *list, const char *host)
{
	uint8_t		 a[16], e[16];
	unsigned	 bits;
	size_t		 i, n, hl = strlen(host);
	int		 fam, efam;

	if (hl > 0 && host[hl - 1] == '.')
		hl--;
	fam = ip_literal(host, hl, a);
	if (loopback(host, fam, a))
		return 1;
	for (i = 0; list != NULL && i < list->sl_n; i++) {
		const char *s = list->sl_v[i];

		if (strcmp(s, "*") == 0 || strcasecmp(s, host) == 0)
			return 1;
		if ((efam = entry_cidr(s, e, &bits)) != 0) {
			if (efam == fam && prefix_match(a, e, bits))
				return 1;
			continue;
		}
		if (s[0] == '*' && s[1] == '.')
			s++;
		if (s[0] == '.') {
			if (fam == 0 && suffix_match(host, hl, s))
				return 1;
			continue;
		}
		/* A name, or its subdomains: curl and Go treat "corp" as
		 * ".corp" too. */
		n = strlen(s);
		if ((n == hl && strncasecmp(s, host, hl) == 0) ||
		    (fam == 0 && hl > n && host[hl - n - 1] == '.' &&
		    strncasecmp(host + hl - n, s, n) == 0))
			return 1;
	}
	return 0;
}

void
parent_bypass_split(const char *value, struct strlist *list)
{
	const char	*p = value;
	char		 buf[256];
	size_t		 n;

	while (*p != '\0') {
		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (n > 0 && n < sizeof(buf)) {
			memcpy(buf, p, n);
			buf[n] = '\0';
			strlist_add(list, buf);
		}
		p += n;
	}
}

int
parent_names_listener(const char *host, uint16_t port,
    const struct strlist *listen)
{
	static const uint8_t	zero[16];
	uint8_t			 a[16], l[16];
	char			 lh[256];
	uint16_t		 lp;
	size_t			 i, hl = strlen(host);
	int			 fam, lfam, lo;

	if (hl > 0 && host[hl - 1] == '.')
		hl--;
	fam = ip_literal(host, hl, a);
	lo = loopback(host, fam, a);
	for (i = 0; i < listen->sl_n; i++) {
		if (util_split_hostport(listen->sl_v[i], lh, sizeof(lh),
		    &lp) == -1 || lp != port)
			continue;
		lfam = ip_literal(lh, strlen(lh), l);
		if (lfam != 0 && memcmp(l, zero, 16) == 0) {
			/* A wildcard listener: every local address, of
			 * which loopback and the wildcard are certain. */
			if (lo || (fam != 0 && memcmp(a, zero, 16) == 0))
				return 1;
			continue;
		}
		if (lfam == 0 ? strlen(lh) == hl &&
		    strncasecmp(lh, host, hl) == 0 :
		    (lfam == fam && memcmp(a, l, 16) == 0))
			return 1;
		/* "localhost" reaches a loopback listener. */
		if (fam == 0 && lo && loopback(lh, lfam, l))
			return 1;
	}
	return 0;
}

void
parent_write_connect(struct evbuffer *out, const struct parent *pa,
    const char *host, uint16_t port)
{
	int	v6 = strchr(host, ':') != NULL;

	evbuffer_add_printf(out, "CONNECT %s%s%s:%u HTTP/1.1\r\n"
	    "Host: %s%s%s:%u\r\n", v6 ? "[" : "", host, v6 ? "]" : "", port,
	    v6 ? "[" : "", host, v6 ? "]" : "", port);
	if (pa->pa_auth_line != NULL)
		evbuffer_add_printf(out, "%s\r\n", pa->pa_auth_line);
	evbuffer_add(out, "\r\n", 2);
}

/* The first of NAME and name that is set and not empty. */
static const char *
env_get(const char *upper, const char *lower)
{
	const char	*v = getenv(upper);

	if (v == NULL || *v == '\0')
		v = getenv(lower);
	return v != NULL && *v != '\0' ? v : NULL;
}

/* Parse one parent; "what" says where it came from, for errors. */
static int
parent_one(struct config *cf, const char *url, const char *what,
    struct parent **out, char *err, size_t errlen)
{
	char	why[200];

	if ((*out = parent_parse(url, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "%s: %s", what, why);
		return -1;
	}
	if (parent_names_listener((*out)->pa_host, (*out)->pa_port,
	    &cf->cf_listen)) {
		snprintf(err, errlen, "%s: %s is oauthlens's own listener, "
		    "which would send every request back to itself%s", what,
		    (*out)->pa_shown, strncmp(what, "upstream_proxy env", 18) ?
		    "" : " (this shell has probably run eval \"$(oauthlens "
		    "--env)\"; start oauthlens from a shell without it, or "
		    "give the company proxy's URL instead of env)");
		return -1;
	}
	return 0;
}

/* upstream_proxy is unset: note the proxy that oauthlens's environment
 * names anyway (not oauthlens itself), for the words of a failed direct
 * connection. */
static void
parent_env_unused(struct config *cf, const char *const *env)
{
	const char	*v;
	struct parent	*pa;
	char		 why[200];

	v = env ? env[0] : env_get("HTTPS_PROXY", "https_proxy");
	if (v == NULL)
		v = env ? env[1] : env_get("HTTP_PROXY", "http_proxy");
	if (v == NULL || (pa = parent_parse(v, why, sizeof(why))) == NULL)
		return;
	if (!parent_names_listener(pa->pa_host, pa->pa_port, &cf->cf_listen))
		snprintf(cf->cf_env_proxy, sizeof(cf->cf_env_proxy), "%s",
		    pa->pa_shown);
	parent_free(pa);
}

void
parent_env_keep(struct config_cli *cli)
{
	static const char *const names[3][2] = {
		{ "HTTPS_PROXY", "https_proxy" },
		{ "HTTP_PROXY", "http_proxy" },
		{ "NO_PROXY", "no_proxy" }
	};
	const char	*v;
	size_t		 i;

	for (i = 0; i < 3; i++) {
		free(cli->cc_proxy_env[i]);
		v = env_get(names[i][0], names[i][1]);
		cli->cc_proxy_env[i] = v != NULL ? xstrdup(v) : NULL;
	}
	cli->cc_proxy_env_kept = 1;
}

int
parent_config(struct config *cf, const char *const *env, char *err,
    size_t errlen)
{
	const char	*v = cf->cf_upstream_proxy;

	parent_free(cf->cf_parent_http);
	parent_free(cf->cf_parent_tunnel);
	cf->cf_parent_http = cf->cf_parent_tunnel = NULL;
	cf->cf_env_proxy[0] = '\0';
	if (v == NULL || *v == '\0') {
		parent_env_unused(cf, env);
		return 0;
	}
	if (strcmp(v, "env") != 0) {
		if (parent_one(cf, v, "upstream_proxy", &cf->cf_parent_tunnel,
		    err, errlen) == -1)
			return -1;
		cf->cf_parent_http = parent_parse(v, err, errlen);
		return cf->cf_parent_http == NULL ? -1 : 0;
	}
	v = env ? env[0] : env_get("HTTPS_PROXY", "https_proxy");
	if (v != NULL && parent_one(cf, v, "upstream_proxy env: HTTPS_PROXY",
	    &cf->cf_parent_tunnel, err, errlen) == -1)
		return -1;
	v = env ? env[1] : env_get("HTTP_PROXY", "http_proxy");
	if (v != NULL && parent_one(cf, v, "upstream_proxy env: HTTP_PROXY",
	    &cf->cf_parent_http, err, errlen) == -1)
		return -1;
	v = env ? env[2] : env_get("NO_PROXY", "no_proxy");
	if (v != NULL)
		parent_bypass_split(v, &cf->cf_no_upstream_proxy);
	return 0;
}

const struct parent *
parent_for(const struct config *cf, int tunnel, const char *host)
{
	const struct parent	*pa = tunnel ? cf->cf_parent_tunnel :
	    cf->cf_parent_http;

	if (pa == NULL || parent_bypass(&cf->cf_no_upstream_proxy, host))
		return NULL;
	return pa;
}

static int
parent_eq(const struct parent *a, const struct parent *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return a->pa_port == b->pa_port &&
	    strcasecmp(a->pa_host, b->pa_host) == 0 &&
	    (a->pa_auth == NULL ? b->pa_auth == NULL : b->pa_auth != NULL &&
	    strcmp(a->pa_auth, b->pa_auth) == 0);
}

int
parent_same(const struct config *a, const struct config *b)
{
	size_t	i;

	if (!parent_eq(a->cf_parent_http, b->cf_parent_http) ||
	    !parent_eq(a->cf_parent_tunnel, b->cf_parent_tunnel) ||
	    a->cf_no_upstream_proxy.sl_n != b->cf_no_upstream_proxy.sl_n)
		return 0;
	for (i = 0; i < a->cf_no_upstream_proxy.sl_n; i++)
		if (strcmp(a->cf_no_upstream_proxy.sl_v[i],
		    b->cf_no_upstream_proxy.sl_v[i]) != 0)
			return 0;
	return 1;
}

/* RFC 9110 5.6.2: a token character. */
static int
is_tchar(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || (ch != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/*
 * Note the schemes of one Proxy-Authenticate value (RFC 9110 11.6.1):
 * challenges are separated by commas, but so are a challenge's own
 * auth-params, in quoted strings too. A scheme is the token that opens
 * the value or follows a comma and is not itself followed by "=".
 */
static void
challenge_schemes(const char *p, size_t n, int *basic, char *names,
    size_t len)
{
	size_t	i = 0, j, k;
	int	first = 1;

	while (i < n) {
		if (p[i] == ',') {
			first = 1;
			i++;
		} else if (p[i] == ' ' || p[i] == '\t')
			i++;
		else if (p[i] == '"') {
			for (i++; i < n && p[i] != '"'; i++)
				if (p[i] == '\\')
					i++;
			i++;
			first = 0;
		} else if (!is_tchar((unsigned char)p[i])) {
			i++;
			first = 0;
		} else {
			for (j = i; j < n && is_tchar((unsigned char)p[j]); j++)
				;
			for (k = j; k < n && (p[k] == ' ' || p[k] == '\t'); k++)
				;
			if (first && (k == n || p[k] != '=')) {
				if (j - i == 5 && strncasecmp(p + i, "basic", 5) == 0)
					*basic = 1;
				else if (j - i <= 24 && strlen(names) + (j - i) + 3 <
				    len)
					snprintf(names + strlen(names),
					    len - strlen(names), "%s%.*s",
					    names[0] != '\0' ? ", " : "",
					    (int)(j - i), p + i);
			}
			first = 0;
			i = j;
		}
	}
}

const char *
parent_refusal_hint(const struct parent *pa, const struct http1_head *h,
    char *buf, size_t len)
{
	char	names[80] = "";
	int	basic = 0, challenged = 0;
	size_t	i;

	buf[0] = '\0';
	if (h->h_status == 403) {
		snprintf(buf, len, " (its policy refuses this destination)");
		return buf;
	}
	if (h->h_status != 407)
		return buf;
	for (i = 0; i < h->h_nhdrs; i++) {
		const struct http1_hdr *hd = &h->h_hdrs[i];

		if (!util_slice_ieq(hd->hd_name.s_ptr, hd->hd_name.s_len,
		    "proxy-authenticate"))
			continue;
		challenged = 1;
		challenge_schemes(hd->hd_value.s_ptr, hd->hd_value.s_len,
		    &basic, names, sizeof(names));
	}
	if (challenged && !basic && names[0] != '\0')
		snprintf(buf, len, " (it asks for %s, which oauthlens does not "
		    "speak: it sends upstream proxies Basic credentials only; "
		    "put a local proxy that can answer it%s in between and "
		    "point upstream_proxy at that)", names,
		    strcasestr(names, "ntlm") != NULL ||
		    strcasestr(names, "negotiate") != NULL ?
		    ", such as cntlm or px," : "");
	else if (pa != NULL && pa->pa_auth != NULL)
		snprintf(buf, len, " (it refused the user and password in "
		    "upstream_proxy)");
	else
		snprintf(buf, len, " (it wants credentials: upstream_proxy "
		    "http://user:password@host:port)");
	return buf;
}

void
parent_describe(const struct config *cf, char *buf, size_t len)
{
	const struct parent	*t = cf->cf_parent_tunnel;
	const struct parent	*h = cf->cf_parent_http;
	size_t			 i, n;

	buf[0] = '\0';
	if (t == NULL && h == NULL)
		return;
	if (t != NULL && h != NULL && strcmp(t->pa_shown, h->pa_shown) == 0)
		snprintf(buf, len, "upstream proxy %s", t->pa_shown);
	else
		snprintf(buf, len, "upstream proxy %s for HTTPS and tunnels, "
		    "%s for plain HTTP", t ? t->pa_shown : "none (direct)",
		    h ? h->pa_shown : "none (direct)");
	n = strlen(buf);
	snprintf(buf + n, len - n, "; direct: loopback");
	for (i = 0; i < cf->cf_no_upstream_proxy.sl_n; i++) {
		n = strlen(buf);
		snprintf(buf + n, len - n, ", %s",
		    cf->cf_no_upstream_proxy.sl_v[i]);
	}
}
