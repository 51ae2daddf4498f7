/*
 * Fuzz the RFC 9651 serializers and the Display String parser
 * (proxy/sfv), each against a small independent model written here.
 *
 * Input: the raw bytes, used whole (Display String round trip, parse)
 * and cut at NUL bytes into the pieces of an annotation item: code, lang,
 * hint, doc, then key/token pairs for extra parameters.
 *
 * Invariants: sfv_add_display_string accepts exactly strict UTF-8; what
 * it writes is printable ASCII, %"..." with lowercase escapes, and parses
 * back to the input; sfv_parse_display_string accepts only what decodes
 * to strict UTF-8, and re-encoding that decodes to the same bytes; every
 * serializer accepts exactly what RFC 9651 allows and on refusal leaves
 * the buffer as it was; sfv_annotation succeeds exactly when every piece
 * is valid and each key is used once, and then writes the pieces in
 * order.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "fuzz.h"
#include "sfv.h"

#define FS_MARK		"[mark]"
#define FS_MAXPIECES	12

/* The model: RFC 9651 3.3.4 sf-token. */
static int
fs_token(const char *s, size_t len)
{
	static const char	tchar[] = "!#$%&'*+-.^_`|~:/";
	size_t			i;
	unsigned char		c;

	if (len == 0)
		return 0;
	c = (unsigned char)s[0];
	if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '*'))
		return 0;
	for (i = 1; i < len; i++) {
		c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || (c != 0 && strchr(tchar, c))))
			return 0;
	}
	return 1;
}

/* 3.1.2 key. */
static int
fs_key(const char *s)
{
	size_t	i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '*'))
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' &&
		    s[i] <= '9') || s[i] == '_' || s[i] == '-' ||
		    s[i] == '.' || s[i] == '*'))
			return 0;
	return 1;
}

/* 3.3.3 sf-string content. */
static int
fs_string(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* p[0..len) as a C string (it ends at the first NUL, if any). */
static char *
fs_cstr(const char *p, size_t len)
{
	char	*s = malloc(len + 1);

	FZ_ASSERT(s != NULL);
	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

/* A buffer with a marker in it: refusals must leave it unchanged. */
static struct evbuffer *
fs_marked(void)
{
	struct evbuffer	*b = evbuffer_new();

	FZ_ASSERT(b != NULL);
	evbuffer_add(b, FS_MARK, sizeof(FS_MARK) - 1);
	return b;
}

/* The bytes after the marker; refused calls must have added none. */
static const char *
fs_after(struct evbuffer *b, size_t *len)
{
	size_t		 n = evbuffer_get_length(b);
	const char	*p = (const char *)evbuffer_pullup(b, -1);

	FZ_ASSERT(n >= sizeof(FS_MARK) - 1 &&
	    memcmp(p, FS_MARK, sizeof(FS_MARK) - 1) == 0);
	*len = n - (sizeof(FS_MARK) - 1);
	return p + sizeof(FS_MARK) - 1;
}

static void
fs_printable(const char *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		FZ_ASSERT((unsigned char)p[i] >= 0x20 &&
		    (unsigned char)p[i] <= 0x7e);
}

/* Encode, check the form, parse back: the round trip must be exact. */
static void
fs_display_roundtrip(const void *in, size_t len)
{
	struct evbuffer	*enc = fs_marked(), *dec = fs_marked();
	const char	*e, *d;
	size_t		 elen, dlen, i;
	int		 r;

	r = sfv_add_display_string(enc, in, len);
	e = fs_after(enc, &elen);
	FZ_ASSERT(r == (fz_utf8_valid(in, len) ? 0 : -1));
	if (r == -1) {
		FZ_ASSERT(elen == 0);
		goto out;
	}
	fs_printable(e, elen);
	FZ_ASSERT(elen >= 3 && e[0] == '%' && e[1] == '"' &&
	    e[elen - 1] == '"');
	for (i = 2; i + 1 < elen; i++) {
		FZ_ASSERT(e[i] != '"');
		if (e[i] == '%') {
			FZ_ASSERT(i + 3 < elen);
			FZ_ASSERT(strchr("0123456789abcdef", e[i + 1]) &&
			    strchr("0123456789abcdef", e[i + 2]));
		}
	}
	FZ_ASSERT(sfv_parse_display_string(e, elen, dec) == 0);
	d = fs_after(dec, &dlen);
	FZ_ASSERT(dlen == len && (len == 0 || memcmp(d, in, len) == 0));
out:
	evbuffer_free(enc);
	evbuffer_free(dec);
}

/* Parse the input itself; what it accepts decodes to UTF-8 and survives
 * another encode/parse unchanged. */
static void
fs_display_parse(const char *in, size_t len)
{
	struct evbuffer	*dec = fs_marked();
	const char	*d;
	char		*copy;
	size_t		 dlen;
	int		 r;

	r = sfv_parse_display_string(in, len, dec);
	d = fs_after(dec, &dlen);
	FZ_ASSERT(r == 0 || r == -1);
	if (r == -1)
		FZ_ASSERT(dlen == 0);
	else {
		FZ_ASSERT(len >= 3 && in[0] == '%' && in[1] == '"' &&
		    in[len - 1] == '"');
		FZ_ASSERT(fz_utf8_valid(d, dlen));
		FZ_ASSERT(dlen <= len - 3);
		copy = fz_dup(d, dlen);
		fs_display_roundtrip(copy, dlen);
		free(copy);
	}
	evbuffer_free(dec);
}

/* sfv_add_token against the model: the token as it is, or nothing. */
static void
fs_item_token(const char *p, size_t len)
{
	struct evbuffer	*b = fs_marked();
	const char	*o;
	size_t		 olen;
	int		 r;

	r = sfv_add_token(b, p, len);
	o = fs_after(b, &olen);
	FZ_ASSERT(r == (fs_token(p, len) ? 0 : -1));
	FZ_ASSERT(r == -1 ? olen == 0 : (olen == len && memcmp(o, p, len) ==
	    0));
	evbuffer_free(b);
}

/* sfv_add_string: quoted, \ and " escaped, unescaping gives the input. */
static void
fs_item_string(const char *p, size_t len)
{
	struct evbuffer	*b = fs_marked();
	const char	*o;
	size_t		 olen, i, j = 0;
	int		 r;

	r = sfv_add_string(b, p, len);
	o = fs_after(b, &olen);
	FZ_ASSERT(r == (fs_string(p, len) ? 0 : -1));
	if (r == -1) {
		FZ_ASSERT(olen == 0);
		evbuffer_free(b);
		return;
	}
	fs_printable(o, olen);
	FZ_ASSERT(olen >= 2 && o[0] == '"' && o[olen - 1] == '"');
	for (i = 1; i + 1 < olen; i++, j++) {
		FZ_ASSERT(o[i] != '"');
		if (o[i] == '\\') {
			i++;
			FZ_ASSERT(o[i] == '\\' || o[i] == '"');
		}
		FZ_ASSERT(j < len && o[i] == p[j]);
	}
	FZ_ASSERT(j == len);
	evbuffer_free(b);
}

/* sfv_add_param with the input as a key: ";key=" or nothing. */
static void
fs_item_param(const char *p, size_t len)
{
	struct evbuffer	*b = fs_marked();
	char		*key = fs_cstr(p, len);
	const char	*o;
	size_t		 olen;
	int		 r;

	r = sfv_add_param(b, key);
	o = fs_after(b, &olen);
	FZ_ASSERT(r == (fs_key(key) ? 0 : -1));
	if (r == 0)
		FZ_ASSERT(olen == strlen(key) + 2 && o[0] == ';' &&
		    memcmp(o + 1, key, strlen(key)) == 0 && o[olen - 1] == '=');
	else
		FZ_ASSERT(olen == 0);
	evbuffer_free(b);
	free(key);
}

/* sfv_add_integer with a value from the first eight bytes, any sign and
 * size, and two in range: printf's digits, or nothing past 15 digits. */
static void
fs_item_integer(const char *p, size_t len)
{
	struct evbuffer	*b;
	const char	*o;
	char		 num[32];
	size_t		 olen, i;
	long long	 v = 0, x;
	int		 r;

	for (i = 0; i < len && i < 8; i++)
		v = (long long)((unsigned long long)v << 8 |
		    (unsigned char)p[i]);
	for (i = 0; i < 3; i++) {
		x = i == 0 ? v : i == 1 ? v % 1000000000000000LL :
		    -(v % 1000000000000000LL);
		b = fs_marked();
		r = sfv_add_integer(b, x);
		o = fs_after(b, &olen);
		if (x > 999999999999999LL || x < -999999999999999LL)
			FZ_ASSERT(r == -1 && olen == 0);
		else {
			snprintf(num, sizeof(num), "%lld", x);
			FZ_ASSERT(r == 0 && olen == strlen(num) &&
			    memcmp(o, num, olen) == 0);
		}
		evbuffer_free(b);
	}
}

/* An annotation item from NUL-separated pieces of the input. */
static void
fs_annotation(const char *p, size_t len)
{
	const char	*piece[FS_MAXPIECES], *o;
	struct sfv_param extra[FS_MAXPIECES / 2];
	struct evbuffer	*b;
	char		*buf = fs_cstr(p, len), *cur, *nul;
	size_t		 n = 0, nextra, i, j, olen;
	int		 ok, r;

	for (cur = buf; n < FS_MAXPIECES; cur = nul + 1) {
		piece[n++] = cur;
		if ((nul = memchr(cur, '\0', (size_t)(buf + len - cur) + 1)) ==
		    NULL || nul == buf + len)
			break;
	}
	while (n < 4)
		piece[n++] = "";
	nextra = (n - 4) / 2;
	for (i = 0; i < nextra; i++) {
		extra[i].sp_key = piece[4 + 2 * i];
		extra[i].sp_token = piece[5 + 2 * i];
	}
	ok = fs_token(piece[0], strlen(piece[0])) &&
	    fs_token(piece[1], strlen(piece[1])) &&
	    fz_utf8_valid(piece[2], strlen(piece[2])) &&
	    fs_string(piece[3], strlen(piece[3]));
	for (i = 0; i < nextra; i++) {
		ok = ok && fs_key(extra[i].sp_key) &&
		    fs_token(extra[i].sp_token, strlen(extra[i].sp_token)) &&
		    strcmp(extra[i].sp_key, "lang") != 0 &&
		    strcmp(extra[i].sp_key, "hint") != 0 &&
		    strcmp(extra[i].sp_key, "doc") != 0;
		for (j = 0; j < i; j++)
			ok = ok && strcmp(extra[i].sp_key,
			    extra[j].sp_key) != 0;
	}
	b = fs_marked();
	r = sfv_annotation(b, piece[0], piece[1], piece[2], piece[3],
	    nextra > 0 ? extra : NULL, nextra);
	o = fs_after(b, &olen);
	FZ_ASSERT(r == (ok ? 0 : -1));
	if (r == -1)
		FZ_ASSERT(olen == 0);
	else {
		size_t k = strlen(piece[0]);

		fs_printable(o, olen);
		FZ_ASSERT(olen > k && memcmp(o, piece[0], k) == 0);
		FZ_ASSERT(memcmp(o + k, ";lang=", 6) == 0);
		FZ_ASSERT(memmem(o, olen, ";hint=%\"", 8) != NULL);
		FZ_ASSERT(memmem(o, olen, ";doc=\"", 6) != NULL);
		for (i = 0; i < nextra; i++)
			FZ_ASSERT(memmem(o, olen, extra[i].sp_token,
			    strlen(extra[i].sp_token)) != NULL);
	}
	evbuffer_free(b);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*buf = fz_dup(data, size);

	fs_display_roundtrip(buf, size);
	fs_display_parse(buf, size);
	fs_item_token(buf, size);
	fs_item_string(buf, size);
	fs_item_param(buf, size);
	fs_item_integer(buf, size);
	fs_annotation(buf, size);
	free(buf);
	return 0;
}
