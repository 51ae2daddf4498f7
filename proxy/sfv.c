/*
 * RFC 9651 serializers for the annotation header, and the Display String
 * parser that proves they round-trip.  Sections cited are RFC 9651's.
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "sfv.h"

#define SFV_INT_MAX	999999999999999LL

static const char sfv_hex[] = "0123456789abcdef";

static int
sfv_is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
sfv_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* tchar, RFC 9110 5.6.2. */
static int
sfv_is_tchar(unsigned char c)
{
	return sfv_is_alpha(c) || sfv_is_digit(c) ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Section 3.3.4: sf-token = ( ALPHA / "*" ) *( tchar / ":" / "/" ). */
static int
sfv_token_valid(const char *tok, size_t len)
{
	const unsigned char *p = (const unsigned char *)tok;
	size_t i;

	if (len == 0 || (!sfv_is_alpha(p[0]) && p[0] != '*'))
		return 0;
	for (i = 1; i < len; i++)
		if (!sfv_is_tchar(p[i]) && p[i] != ':' && p[i] != '/')
			return 0;
	return 1;
}

/* Section 3.1.2: key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_-.*" ). */
static int
sfv_key_valid(const char *key)
{
	const unsigned char *p = (const unsigned char *)key;

	if (!((p[0] >= 'a' && p[0] <= 'z') || p[0] == '*'))
		return 0;
	for (p++; *p != '\0'; p++)
		if (!(*p >= 'a' && *p <= 'z') && !sfv_is_digit(*p) &&
		    strchr("_-.*", *p) == NULL)
			return 0;
	return 1;
}

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF, no truncated sequences.
 */
static int
sfv_utf8_valid(const unsigned char *p, size_t len)
{
	size_t i = 0, n, k;
	unsigned char lo, hi;

	while (i < len) {
		lo = 0x80;
		hi = 0xbf;
		if (p[i] < 0x80) {
			i++;
			continue;
		} else if (p[i] >= 0xc2 && p[i] <= 0xdf)
			n = 1;
		else if (p[i] >= 0xe0 && p[i] <= 0xef) {
			n = 2;
			if (p[i] == 0xe0)
				lo = 0xa0;	/* overlong */
			else if (p[i] == 0xed)
				hi = 0x9f;	/* surrogates */
		} else if (p[i] >= 0xf0 && p[i] <= 0xf4) {
			n = 3;
			if (p[i] == 0xf0)
				lo = 0x90;	/* overlong */
			else if (p[i] == 0xf4)
				hi = 0x8f;	/* above U+10FFFF */
		} else
			return 0;
		if (len - i <= n)
			return 0;
		if (p[i + 1] < lo || p[i + 1] > hi)
			return 0;
		for (k = 2; k <= n; k++)
			if (p[i + k] < 0x80 || p[i + k] > 0xbf)
				return 0;
		i += n + 1;
	}
	return 1;
}

static int
sfv_hexval(unsigned char c)
{
	if (sfv_is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;	/* uppercase is not lc-hexdig */
}

/* All or nothing: what was built in tmp goes to out only when ok (and
 * the move succeeds); tmp is freed either way. 0 or -1. */
static int
sfv_commit(struct evbuffer *out, struct evbuffer *tmp, int ok)
{
	if (ok && evbuffer_add_buffer(out, tmp) == -1)
		ok = 0;
	evbuffer_free(tmp);
	return ok ? 0 : -1;
}

int
sfv_add_token(struct evbuffer *out, const char *tok, size_t len)
{
	if (!sfv_token_valid(tok, len))
		return -1;
	return evbuffer_add(out, tok, len);
}

/* Section 4.1.6. */
int
sfv_add_string(struct evbuffer *out, const char *s, size_t len)
{
	struct evbuffer *tmp;
	size_t i;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e)
			return -1;
	}
	if ((tmp = evbuffer_new()) == NULL)
		return -1;
	if (evbuffer_add(tmp, "\"", 1) == -1)
		goto fail;
	for (i = 0; i < len; i++) {
		if ((s[i] == '\\' || s[i] == '"') &&
		    evbuffer_add(tmp, "\\", 1) == -1)
			goto fail;
		if (evbuffer_add(tmp, &s[i], 1) == -1)
			goto fail;
	}
	if (evbuffer_add(tmp, "\"", 1) == -1)
		goto fail;
	return sfv_commit(out, tmp, 1);
fail:
	return sfv_commit(out, tmp, 0);
}

/* Section 4.1.11. */
int
sfv_add_display_string(struct evbuffer *out, const void *s, size_t len)
{
	const unsigned char *p = s;
	struct evbuffer *tmp;
	char esc[3];
	size_t i;

	if (!sfv_utf8_valid(p, len))
		return -1;
	if ((tmp = evbuffer_new()) == NULL)
		return -1;
	if (evbuffer_add(tmp, "%\"", 2) == -1)
		goto fail;
	for (i = 0; i < len; i++) {
		if (p[i] == '%' || p[i] == '"' || p[i] < 0x20 ||
		    p[i] > 0x7e) {
			esc[0] = '%';
			esc[1] = sfv_hex[p[i] >> 4];
			esc[2] = sfv_hex[p[i] & 0x0f];
			if (evbuffer_add(tmp, esc, sizeof(esc)) == -1)
				goto fail;
		} else if (evbuffer_add(tmp, &p[i], 1) == -1)
			goto fail;
	}
	if (evbuffer_add(tmp, "\"", 1) == -1)
		goto fail;
	return sfv_commit(out, tmp, 1);
fail:
	return sfv_commit(out, tmp, 0);
}

/* Section 4.1.4. */
int
sfv_add_integer(struct evbuffer *out, long long v)
{
	if (v > SFV_INT_MAX || v < -SFV_INT_MAX)
		return -1;
	return evbuffer_add_printf(out, "%lld", v) > 0 ? 0 : -1;
}

int
sfv_add_param(struct evbuffer *out, const char *key)
{
	if (!sfv_key_valid(key))
		return -1;
	if (evbuffer_add_printf(out, ";%s=", key) < 0)
		return -1;
	return 0;
}

/* Section 4.2.10, with the whole input required to be the one item. */
int
sfv_parse_display_string(const char *in, size_t len, struct evbuffer *out)
{
	const unsigned char *p = (const unsigned char *)in;
	struct evbuffer *tmp;
	unsigned char *dec, b;
	size_t i, n;
	int hi, lo;

	if (len < 3 || p[0] != '%' || p[1] != '"')
		return -1;
	if ((tmp = evbuffer_new()) == NULL)
		return -1;
	for (i = 2; i < len && p[i] != '"'; i++) {
		if (p[i] < 0x20 || p[i] > 0x7e)
			goto fail;
		if (p[i] != '%') {
			if (evbuffer_add(tmp, &p[i], 1) == -1)
				goto fail;
			continue;
		}
		if (len - i < 3 || (hi = sfv_hexval(p[i + 1])) == -1 ||
		    (lo = sfv_hexval(p[i + 2])) == -1)
			goto fail;
		b = (unsigned char)(hi << 4 | lo);
		if (evbuffer_add(tmp, &b, 1) == -1)
			goto fail;
		i += 2;
	}
	if (i + 1 != len)	/* no closing quote, or bytes after it */
		goto fail;
	n = evbuffer_get_length(tmp);
	dec = evbuffer_pullup(tmp, -1);
	if (n > 0 && (dec == NULL || !sfv_utf8_valid(dec, n)))
		goto fail;
	return sfv_commit(out, tmp, 1);
fail:
	return sfv_commit(out, tmp, 0);
}

/* A parameter key may appear once per item (Section 3.1.2). */
static int
sfv_extra_valid(const struct sfv_param *extra, size_t nextra)
{
	static const char *const fixed[] = { "lang", "hint", "doc" };
	size_t i, j;

	for (i = 0; i < nextra; i++) {
		for (j = 0; j < sizeof(fixed) / sizeof(fixed[0]); j++)
			if (strcmp(extra[i].sp_key, fixed[j]) == 0)
				return 0;
		for (j = 0; j < i; j++)
			if (strcmp(extra[i].sp_key, extra[j].sp_key) == 0)
				return 0;
	}
	return 1;
}

int
sfv_annotation(struct evbuffer *out, const char *code, const char *lang,
    const char *hint, const char *doc, const struct sfv_param *extra,
    size_t nextra)
{
	struct evbuffer *tmp;
	size_t i;

	if (!sfv_extra_valid(extra, nextra))
		return -1;
	if ((tmp = evbuffer_new()) == NULL)
		return -1;
	if (sfv_add_token(tmp, code, strlen(code)) == -1 ||
	    sfv_add_param(tmp, "lang") == -1 ||
	    sfv_add_token(tmp, lang, strlen(lang)) == -1 ||
	    sfv_add_param(tmp, "hint") == -1 ||
	    sfv_add_display_string(tmp, hint, strlen(hint)) == -1 ||
	    sfv_add_param(tmp, "doc") == -1 ||
	    sfv_add_string(tmp, doc, strlen(doc)) == -1)
		goto fail;
	for (i = 0; i < nextra; i++)
		if (sfv_add_param(tmp, extra[i].sp_key) == -1 ||
		    sfv_add_token(tmp, extra[i].sp_token,
		    strlen(extra[i].sp_token)) == -1)
			goto fail;
	return sfv_commit(out, tmp, 1);
fail:
	return sfv_commit(out, tmp, 0);
}
