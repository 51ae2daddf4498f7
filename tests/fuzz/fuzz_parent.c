/*
 * Fuzz the upstream proxy's URL and bypass list (proxy/parent), against a
 * small independent model of the URL written here.
 *
 * Input: cut at the first NUL: the URL; after it, cut at the next NUL: a
 * NO_PROXY-style value, then a host name to route.
 *
 * Invariants: parent_parse accepts only an http:// (or schemeless) URL
 * whose path is empty or "/", and then: the host is what the model finds
 * between the last '@' and the port, the port is the model's (1080 when
 * absent), Proxy-Authorization is Basic of the model's percent-decoded
 * user:password, and the shown form is exactly http://[user:***@]host:port
 * (the password never in it); a refusal's message is one of the fixed
 * reasons, which quote nothing from the input. The CONNECT head written
 * for the parsed parent parses back as CONNECT with the same authority
 * and credentials. Loopback names and addresses always bypass; "*" and an
 * entry equal to the host bypass; parent_bypass_ok accepts every entry the
 * routing code treats as a CIDR. The whole input, as the value of a 407's
 * Proxy-Authenticate, gives a printable hint whose schemes are the
 * input's own tokens, never Basic.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <openssl/evp.h>

#include "config.h"
#include "fuzz.h"
#include "http1.h"
#include "parent.h"

static const char *const fp_reasons[] = {
	"the upstream proxy must be an http:// URL",
	"the upstream proxy URL takes no path",
	"the upstream proxy's user:password is not valid",
	"the upstream proxy's host must be",
	"the upstream proxy's port must be",
	"the upstream proxy's user name is longer",
};

static int
fp_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The model's percent-decoding; -1 for a bad escape. */
static int
fp_decode(const char *p, size_t n, char *out, size_t *outlen)
{
	size_t	i, o = 0;

	for (i = 0; i < n; i++) {
		if (p[i] != '%') {
			out[o++] = p[i];
			continue;
		}
		if (i + 2 >= n || fp_hex(p[i + 1]) < 0 || fp_hex(p[i + 2]) < 0)
			return -1;
		out[o++] = (char)(fp_hex(p[i + 1]) * 16 + fp_hex(p[i + 2]));
		i += 2;
	}
	*outlen = o;
	return 0;
}

static void
fp_check_ok(const char *url, const struct parent *pa)
{
	const char	*p = url, *end, *at = NULL, *q;
	char		 want[1200], dec[4096];
	unsigned char	 b64[4096 / 3 * 4 + 8];
	size_t		 n, dl;
	int		 v6 = strchr(pa->pa_host, ':') != NULL;

	if (strncasecmp(p, "http://", 7) == 0)
		p += 7;
	FZ_ASSERT(strstr(p, "://") == NULL);
	end = p + strcspn(p, "/?#");
	FZ_ASSERT(*end == '\0' || strcmp(end, "/") == 0);
	for (q = p; q < end; q++)
		if (*q == '@')
			at = q;
	FZ_ASSERT(pa->pa_host[0] != '\0' && pa->pa_port >= 1);
	FZ_ASSERT(strpbrk(pa->pa_host, "@/?#[] ") == NULL);
	/* The host is the model's, in brackets when it has colons. */
	q = at ? at + 1 : p;
	n = strlen(pa->pa_host);
	if (v6) {
		FZ_ASSERT(q[0] == '[' && strncmp(q + 1, pa->pa_host, n) == 0 &&
		    q[n + 1] == ']');
		q += n + 2;
	} else {
		FZ_ASSERT(strncmp(q, pa->pa_host, n) == 0);
		q += n;
	}
	if (q == end)
		FZ_ASSERT(pa->pa_port == PARENT_DEFAULT_PORT);
	else
		FZ_ASSERT(*q == ':' && strtoul(q + 1, NULL, 10) ==
		    pa->pa_port);
	if (at == NULL) {
		FZ_ASSERT(pa->pa_auth == NULL && pa->pa_auth_line == NULL);
		snprintf(want, sizeof(want), "http://%s%s%s:%u", v6 ? "[" : "",
		    pa->pa_host, v6 ? "]" : "", pa->pa_port);
		FZ_ASSERT(strcmp(pa->pa_shown, want) == 0);
		return;
	}
	FZ_ASSERT(pa->pa_auth != NULL && pa->pa_auth_line != NULL);
	n = (size_t)(at - p);
	/* Each decoded half is under 512 bytes, so n is bounded. */
	FZ_ASSERT(n < 3 * 1024 && fp_decode(p, n, dec, &dl) == 0);
	/* user:password decoded; a missing password is empty. */
	q = memchr(p, ':', n);
	if (q == NULL)
		dec[dl++] = ':';
	n = (size_t)EVP_EncodeBlock(b64, (unsigned char *)dec, (int)dl);
	FZ_ASSERT(strncmp(pa->pa_auth, "Basic ", 6) == 0 &&
	    strlen(pa->pa_auth + 6) == n &&
	    memcmp(pa->pa_auth + 6, b64, n) == 0);
	n = q ? (size_t)(q - p) : (size_t)(at - p);
	FZ_ASSERT(n <= PARENT_USER_MAX);
	snprintf(want, sizeof(want), "http://%.*s:***@%s%s%s:%u",
	    (int)n, p, v6 ? "[" : "", pa->pa_host,
	    v6 ? "]" : "", pa->pa_port);
	FZ_ASSERT(strcmp(pa->pa_shown, want) == 0);
}

/* The CONNECT head parses back with the same authority and credentials. */
static void
fp_check_connect(const struct parent *pa)
{
	struct evbuffer		*b = evbuffer_new();
	struct http1_parser	*hp = http1_parser_new(HTTP1_REQUEST);
	struct http1_head	*h = calloc(1, sizeof(*h));
	struct http1_error	 err;
	struct http1_target	 t;
	const struct slice	*s;
	size_t			 len, scan = 0, headlen;
	const char		*buf;

	FZ_ASSERT(b != NULL && hp != NULL && h != NULL);
	parent_write_connect(b, pa, pa->pa_host, pa->pa_port);
	len = evbuffer_get_length(b);
	buf = (const char *)evbuffer_pullup(b, -1);
	FZ_ASSERT(http1_head_end(buf, len, &scan, &headlen, &err) == 1);
	FZ_ASSERT(headlen == len);
	FZ_ASSERT(http1_parse_head(hp, buf, len, 0, h, &err) == 0);
	FZ_ASSERT(h->h_connect);
	FZ_ASSERT(http1_parse_target(h, &t, &err) == 0 && t.t_form == 'c');
	FZ_ASSERT(strcmp(t.t_host, pa->pa_host) == 0 &&
	    t.t_port == pa->pa_port);
	s = http1_header(h, "proxy-authorization");
	if (pa->pa_auth == NULL)
		FZ_ASSERT(s == NULL);
	else
		FZ_ASSERT(s != NULL && s->s_len == strlen(pa->pa_auth) &&
		    memcmp(s->s_ptr, pa->pa_auth, s->s_len) == 0);
	free(h);
	http1_parser_free(hp);
	evbuffer_free(b);
}

static void
fp_check_bypass(const char *value, const char *host)
{
	struct strlist	l = { NULL, 0 };
	size_t		i;
	int		all = 0, exact = 0;

	parent_bypass_split(value, &l);
	for (i = 0; i < l.sl_n; i++) {
		FZ_ASSERT(l.sl_v[i][0] != '\0');
		FZ_ASSERT(strpbrk(l.sl_v[i], ", \t") == NULL);
		if (strcmp(l.sl_v[i], "*") == 0)
			all = 1;
		if (strcasecmp(l.sl_v[i], host) == 0)
			exact = 1;
	}
	if (all || (exact && host[0] != '\0'))
		FZ_ASSERT(parent_bypass(&l, host));
	FZ_ASSERT(parent_bypass(&l, "localhost"));
	FZ_ASSERT(parent_bypass(&l, "127.0.0.1"));
	FZ_ASSERT(parent_bypass(&l, "::1"));
	strlist_clear(&l);
}

/*
 * The whole input as a parent's Proxy-Authenticate value: the hint is
 * printable, fits, and names as schemes only tokens of the input, never
 * Basic (whose presence means credentials are the answer).
 */
static void
fp_check_hint(const uint8_t *data, size_t size)
{
	struct http1_head	 h;
	char			 buf[300], name[32];
	const char		*p, *end;
	size_t			 i, n;

	memset(&h, 0, sizeof(h));
	h.h_status = 407;
	h.h_host = -1;
	h.h_nhdrs = 1;
	h.h_hdrs[0].hd_name = SLICE_LIT("Proxy-Authenticate");
	h.h_hdrs[0].hd_value.s_ptr = (const char *)data;
	h.h_hdrs[0].hd_value.s_len = size;
	parent_refusal_hint(NULL, &h, buf, sizeof(buf));
	FZ_ASSERT(strlen(buf) < sizeof(buf));
	for (i = 0; buf[i] != '\0'; i++)
		FZ_ASSERT(buf[i] >= 0x20 && buf[i] < 0x7f);
	if (strncmp(buf, " (it asks for ", 14) != 0) {
		FZ_ASSERT(strstr(buf, "credentials") != NULL);
		return;
	}
	end = strstr(buf, ", which oauthlens");
	FZ_ASSERT(end != NULL);
	for (p = buf + 14; p < end; p += n + 2) {
		n = strcspn(p, ",");
		FZ_ASSERT(n > 0 && n < sizeof(name) && p + n <= end);
		memcpy(name, p, n);
		name[n] = '\0';
		FZ_ASSERT(strcasecmp(name, "basic") != 0);
		FZ_ASSERT(memmem(data, size, name, n) != NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		*in = fz_dup(data, size), *url, *value, *host;
	char		*s = malloc(size + 3);
	struct parent	*pa;
	char		 err[256];
	size_t		 i;
	int		 known = 0;

	FZ_ASSERT(s != NULL);
	memcpy(s, in, size);
	s[size] = s[size + 1] = s[size + 2] = '\0';
	/* Three NULs after the input: every piece ends inside s. */
	url = s;
	value = url + strlen(url) + 1;
	host = value + strlen(value) + 1;
	err[0] = '\0';
	pa = parent_parse(url, err, sizeof(err));
	if (pa != NULL) {
		fp_check_ok(url, pa);
		fp_check_connect(pa);
		parent_free(pa);
	} else {
		for (i = 0; i < sizeof(fp_reasons) / sizeof(fp_reasons[0]); i++)
			if (strncmp(err, fp_reasons[i],
			    strlen(fp_reasons[i])) == 0)
				known = 1;
		FZ_ASSERT(known);
	}
	if (strlen(host) < 256)
		fp_check_bypass(value, host);
	fp_check_hint(data, size);
	free(s);
	free(in);
	return 0;
}
