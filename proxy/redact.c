#include <string.h>

#include "redact.h"

/* A bounded output: bytes past the end are dropped, never written. */
struct rbuf {
	char	*b_p;
	size_t	 b_len;
	size_t	 b_cap;		/* without the NUL */
};

static void
rb_add(struct rbuf *b, const char *p, size_t n)
{
	if (n > b->b_cap - b->b_len)
		n = b->b_cap - b->b_len;
	memcpy(b->b_p + b->b_len, p, n);
	b->b_len += n;
}

void
redact_init(struct redact *rd)
{
	rd->rd_n = 0;
}

static int
trim_byte(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"' ||
	    c == '\'';
}

void
redact_add(struct redact *rd, const char *val)
{
	const char	*p = val;
	size_t		 n, i;

	if (val == NULL || rd->rd_n == REDACT_MAX)
		return;
	n = strlen(p);
	while (n > 0 && trim_byte(p[0])) {
		p++;
		n--;
	}
	while (n > 0 && trim_byte(p[n - 1]))
		n--;
	if (n < REDACT_MIN)
		return;
	for (i = 0; i < rd->rd_n; i++)
		if (rd->rd_secret[i].s_len == n &&
		    memcmp(rd->rd_secret[i].s_ptr, p, n) == 0)
			return;
	rd->rd_secret[rd->rd_n].s_ptr = p;
	rd->rd_secret[rd->rd_n].s_len = n;
	rd->rd_n++;
}

/* The longest secret that starts at p, or 0. */
static size_t
secret_at(const struct redact *rd, const char *p, size_t n)
{
	size_t		best = 0;
	unsigned	i;

	if (rd == NULL)
		return 0;
	for (i = 0; i < rd->rd_n; i++) {
		const struct slice *s = &rd->rd_secret[i];

		if (s->s_len <= n && s->s_len > best &&
		    memcmp(p, s->s_ptr, s->s_len) == 0)
			best = s->s_len;
	}
	return best;
}

/* Copy with every secret masked. */
static void
mask_secrets(const struct redact *rd, const char *p, size_t n,
    struct rbuf *b)
{
	size_t	i = 0, start = 0, k;

	while (i < n) {
		if ((k = secret_at(rd, p + i, n - i)) == 0) {
			i++;
			continue;
		}
		rb_add(b, p + start, i - start);
		rb_add(b, REDACT_MASK, sizeof(REDACT_MASK) - 1);
		i += k;
		start = i;
	}
	rb_add(b, p + start, n - start);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
redact_allowed_key(const char *p, size_t n)
{
	static const char *const allowed[] = { "client_id", "scope",
		"response_type", "error", "error_description", "interval",
		NULL };
	char	name[24];
	size_t	i, o = 0;
	int	hi, lo;

	/* RFC 3986 2.3: client%5Fid is client_id to whoever decodes it. */
	for (i = 0; i < n; i++) {
		if (o == sizeof(name))
			return 0;
		if (p[i] == '%' && i + 2 < n && (hi = hexval(p[i + 1])) >= 0 &&
		    (lo = hexval(p[i + 2])) >= 0) {
			name[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			name[o++] = p[i];
	}
	for (i = 0; allowed[i] != NULL; i++)
		if (o > 0 && strlen(allowed[i]) == o &&
		    memcmp(name, allowed[i], o) == 0)
			return 1;
	return 0;
}

/* A query: each value masked unless its name is allowed; a parameter
 * without '=' is all value. */
static void
redact_query(const char *p, size_t n, struct rbuf *b)
{
	const char	*end = p + n, *amp, *eq;

	while (p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq != NULL && redact_allowed_key(p, (size_t)(eq - p)))
			rb_add(b, p, (size_t)(amp - p));
		else if (eq != NULL) {
			rb_add(b, p, (size_t)(eq - p) + 1);
			if (amp > eq + 1)
				rb_add(b, REDACT_MASK, sizeof(REDACT_MASK) - 1);
		} else if (amp > p)
			rb_add(b, REDACT_MASK, sizeof(REDACT_MASK) - 1);
		if (amp < end)
			rb_add(b, "&", 1);
		p = amp + 1;
	}
}

/* The length of "scheme://" at p, or 0. */
static size_t
scheme_len(const char *p, size_t n)
{
	size_t	i;

	if (n == 0 || !((p[0] | 0x20) >= 'a' && (p[0] | 0x20) <= 'z'))
		return 0;
	for (i = 1; i < n && i < 32; i++) {
		char c = p[i];

		if (c == ':')
			return i + 2 < n && p[i + 1] == '/' &&
			    p[i + 2] == '/' ? i + 3 : 0;
		if (!(((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '-' ||
		    c == '.'))
			return 0;
	}
	return 0;
}

/* One URL, secrets already masked. */
static void
redact_one(const char *p, size_t n, struct rbuf *b)
{
	size_t		 s = scheme_len(p, n), i, auth_end;
	const char	*at = NULL, *q, *hash;

	if (s > 0) {
		rb_add(b, p, s);
		for (auth_end = s; auth_end < n && p[auth_end] != '/' &&
		    p[auth_end] != '?' && p[auth_end] != '#'; auth_end++)
			if (p[auth_end] == '@')
				at = p + auth_end;
		if (at != NULL) {
			rb_add(b, REDACT_MASK "@", sizeof(REDACT_MASK));
			s = (size_t)(at - p) + 1;
		}
		rb_add(b, p + s, auth_end - s);
		p += auth_end;
		n -= auth_end;
	}
	hash = memchr(p, '#', n);
	if (hash != NULL)
		n = (size_t)(hash - p);
	q = memchr(p, '?', n);
	i = q != NULL ? (size_t)(q - p) : n;
	rb_add(b, p, i);
	if (q != NULL) {
		rb_add(b, "?", 1);
		redact_query(q + 1, n - i - 1, b);
	}
	if (hash != NULL)
		rb_add(b, "#" REDACT_MASK, sizeof(REDACT_MASK));
}

char *
redact_url(const struct redact *rd, const char *url, size_t len, char *out,
    size_t outlen)
{
	struct rbuf	m = { out, 0, outlen - 1 }, b;
	char		tmp[4096];

	if (outlen == 0)
		return out;
	/* Secrets first, on a bounded copy; then the URL's parts. */
	b.b_p = tmp;
	b.b_len = 0;
	b.b_cap = sizeof(tmp);
	mask_secrets(rd, url, len, &b);
	redact_one(tmp, b.b_len, &m);
	out[m.b_len] = '\0';
	return out;
}

/* Whether c may continue a URL in running text: anything printable. A
 * byte that cannot be in a URL (a quote, a bracket) ends it only at a
 * space, so that no query or fragment escapes behind one. */
static int
url_byte(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

char *
redact_text(const struct redact *rd, const char *text, size_t len,
    char *out, size_t outlen)
{
	struct rbuf	m = { out, 0, outlen - 1 }, b;
	char		tmp[4096];
	size_t		i = 0, start = 0, s, e;

	if (outlen == 0)
		return out;
	b.b_p = tmp;
	b.b_len = 0;
	b.b_cap = sizeof(tmp);
	mask_secrets(rd, text, len, &b);
	while (i < b.b_len) {
		/* A URL starts at the first "scheme://", wherever it is. */
		if ((s = scheme_len(tmp + i, b.b_len - i)) == 0) {
			i++;
			continue;
		}
		rb_add(&m, tmp + start, i - start);
		for (e = i + s; e < b.b_len && url_byte((unsigned char)tmp[e]);
		    e++)
			;
		redact_one(tmp + i, e - i, &m);
		i = start = e;
	}
	rb_add(&m, tmp + start, b.b_len - start);
	out[m.b_len] = '\0';
	return out;
}
