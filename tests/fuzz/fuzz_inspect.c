/*
 * Fuzz the token-body inspector (proxy/inspect): form, JSON and XML
 * bodies, identity, gzip or deflate, fed at random split points.
 *
 * Input: byte 0 options, byte 1 split seed, then the body.  Options bits
 * 0-1 pick the Content-Type (form, JSON, XML, +json); bits 2-4 the coding:
 * 0 none, 1 gzip and 2 deflate taken as they are (hostile compressed
 * streams), 3 gzip, 4 zlib deflate, 5 raw deflate, 6 two gzip members,
 * each compressed here so that the parsers behind zlib get meaningful
 * input, 7 "identity" spelled out; bits 5-6 max_bytes (64 KiB, 16, 256,
 * 4 KiB); bit 7 feed and finish again after the end.
 *
 * Invariants: the result does not depend on how the body was split; a
 * body compressed here inspects as the plain one does, unless its
 * compressed size passes max_bytes; on failure the result is zeroed; the
 * strings are NUL-terminated inside their arrays and valid UTF-8 (strict,
 * RFC 3629) whatever the body held; form values agree with
 * inspect_form_get on the same body, and truncation never cuts a
 * character of a value that was UTF-8; inspect_form_get returns the
 * length of what it wrote, below outlen, or -1.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "fuzz.h"
#include "inspect.h"

static const char *const fi_types[4] = {
	"application/x-www-form-urlencoded",
	"application/json; charset=utf-8",
	" text/xml ;charset=utf-8",
	"application/vnd.github+json",
};

static const size_t fi_max[4] = { 65536, 16, 256, 4096 };

/* The three strings of a result, for checks that walk them all. */
struct fi_field {
	const char	*f_key;
	size_t		 f_off;
	size_t		 f_size;
};

static const struct fi_field fi_fields[3] = {
	{ "error", offsetof(struct inspect_result, error),
	    sizeof(((struct inspect_result *)0)->error) },
	{ "error_description",
	    offsetof(struct inspect_result, error_description),
	    sizeof(((struct inspect_result *)0)->error_description) },
	{ "error_uri", offsetof(struct inspect_result, error_uri),
	    sizeof(((struct inspect_result *)0)->error_uri) },
};

/* Compress p[0..len) with zlib window bits wbits (31 gzip, 15 zlib, -15
 * raw); returns a malloc'd stream and its length. */
static unsigned char *
fi_compress(const unsigned char *p, size_t len, int wbits, size_t *outlen)
{
	z_stream	 z;
	unsigned char	*out;
	uLong		 bound;

	memset(&z, 0, sizeof(z));
	FZ_ASSERT(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, wbits,
	    8, Z_DEFAULT_STRATEGY) == Z_OK);
	bound = deflateBound(&z, (uLong)len) + 64;
	out = malloc(bound);
	FZ_ASSERT(out != NULL);
	z.next_in = (unsigned char *)(uintptr_t)p;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)bound;
	FZ_ASSERT(deflate(&z, Z_FINISH) == Z_STREAM_END);
	*outlen = bound - z.avail_out;
	deflateEnd(&z);
	return out;
}

/* The stream to feed and its Content-Encoding, per option bits 2-4. */
static unsigned char *
fi_encode(unsigned coding, const unsigned char *body, size_t len,
    const char **ce, size_t *outlen)
{
	unsigned char	*a, *b, *both;
	size_t		 alen, blen;

	switch (coding) {
	case 1:
	case 3:
	case 6:
		*ce = "gzip";
		break;
	case 2:
	case 4:
	case 5:
		*ce = "deflate";
		break;
	case 7:
		*ce = "identity";
		break;
	default:
		*ce = NULL;
		break;
	}
	switch (coding) {
	case 3:
		return fi_compress(body, len, 31, outlen);
	case 4:
		return fi_compress(body, len, 15, outlen);
	case 5:
		return fi_compress(body, len, -15, outlen);
	case 6:
		a = fi_compress(body, len / 2, 31, &alen);
		b = fi_compress(body + len / 2, len - len / 2, 31, &blen);
		both = malloc(alen + blen);
		FZ_ASSERT(both != NULL);
		memcpy(both, a, alen);
		memcpy(both + alen, b, blen);
		free(a);
		free(b);
		*outlen = alen + blen;
		return both;
	default:
		*outlen = len;
		return (unsigned char *)fz_dup(body, len);
	}
}

/* Inspect stream[0..len): in random pieces when rng is given, else at
 * once. Stops feeding at the first failure, as the daemon does. */
static int
fi_run(const char *ct, const char *ce, size_t max, const unsigned char *s,
    size_t len, struct fz_rng *rng, int again, struct inspect_result *res)
{
	struct inspect		*in;
	struct inspect_result	 res2;
	size_t			 off = 0, n;
	char			*piece;
	int			 r, fed = 0;

	in = inspect_new(ct, strlen(ct), ce, ce ? strlen(ce) : 0, max);
	FZ_ASSERT(in != NULL);
	while (off < len && fed == 0) {
		n = rng != NULL ? fz_piece(rng, len - off) : len - off;
		piece = fz_dup(s + off, n);
		fed = inspect_feed(in, piece, n);
		FZ_ASSERT(fed == 0 || fed == -1);
		free(piece);
		off += n;
	}
	memset(res, 0xa5, sizeof(*res));
	r = inspect_finish(in, res);
	FZ_ASSERT(r == 0 || r == -1);
	FZ_ASSERT(fed == 0 || r == -1);
	if (again) {
		/* Nothing works after the end. */
		FZ_ASSERT(inspect_feed(in, "x", 1) == -1);
		FZ_ASSERT(inspect_finish(in, &res2) == -1);
		FZ_ASSERT(res2.error[0] == '\0' && !res2.has_error);
	}
	inspect_free(in);
	return r;
}

static int
fi_same(const struct inspect_result *a, const struct inspect_result *b)
{
	size_t	i;

	for (i = 0; i < 3; i++)
		if (strcmp((const char *)a + fi_fields[i].f_off,
		    (const char *)b + fi_fields[i].f_off) != 0)
			return 0;
	return a->has_error == b->has_error &&
	    a->has_access_token == b->has_access_token;
}

static void
fi_check_result(int r, const struct inspect_result *res)
{
	size_t	i, n;

	if (r == -1) {
		/* Zeroed on failure. */
		for (i = 0; i < sizeof(*res); i++)
			FZ_ASSERT(((const unsigned char *)res)[i] == 0);
		return;
	}
	for (i = 0; i < 3; i++) {
		const char *s = (const char *)res + fi_fields[i].f_off;

		FZ_ASSERT(memchr(s, '\0', fi_fields[i].f_size) != NULL);
		n = strlen(s);
		/* Whatever the body held, what comes out is UTF-8. */
		FZ_ASSERT(fz_utf8_valid(s, n));
	}
	FZ_ASSERT(res->has_error == 0 || res->has_error == 1);
	FZ_ASSERT(res->has_access_token == 0 || res->has_access_token == 1);
	FZ_ASSERT(res->has_error || res->error[0] == '\0');
}

/* A form body: each field agrees with inspect_form_get on the body. */
static void
fi_check_form(const unsigned char *body, size_t len,
    const struct inspect_result *res)
{
	char	*full = malloc(len + 1);
	size_t	 i, n;
	int	 g;

	FZ_ASSERT(full != NULL);
	for (i = 0; i < 3; i++) {
		const char *s = (const char *)res + fi_fields[i].f_off;

		g = inspect_form_get((const char *)body, len,
		    fi_fields[i].f_key, full, len + 1);
		n = strlen(s);
		if (g <= 0) {
			FZ_ASSERT(n == 0);
			continue;
		}
		FZ_ASSERT(n <= (size_t)g && memcmp(s, full, n) == 0);
		if ((size_t)g < fi_fields[i].f_size)
			FZ_ASSERT(n == (size_t)g);
		else	/* truncated, by at most one character */
			FZ_ASSERT(n + 4 > fi_fields[i].f_size - 1);
		if (fz_utf8_valid(full, (size_t)g))
			FZ_ASSERT(fz_utf8_valid(s, n));
	}
	g = inspect_form_get((const char *)body, len, "error", full, len + 1);
	FZ_ASSERT(res->has_error == (g > 0));
	free(full);
}

/* inspect_form_get with several output sizes: consistent with itself. */
static void
fi_form_get(const unsigned char *body, size_t len)
{
	static const char *const keys[] = { "client_id", "redirect_uri",
		"error", "" };
	static const size_t	 sizes[] = { 1, 2, 16, 256 };
	char			*full = malloc(len + 1), *small;
	size_t			 k, i;
	int			 g, r;

	FZ_ASSERT(full != NULL);
	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		g = inspect_form_get((const char *)body, len, keys[k], full,
		    len + 1);
		FZ_ASSERT(g >= -1 && g <= (int)len);
		if (g >= 0)
			FZ_ASSERT(strlen(full) == (size_t)g);
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			small = malloc(sizes[i]);
			FZ_ASSERT(small != NULL);
			r = inspect_form_get((const char *)body, len, keys[k],
			    small, sizes[i]);
			if (g == -1 || (size_t)g >= sizes[i])
				FZ_ASSERT(r == -1);
			else
				FZ_ASSERT(r == g && strcmp(small, full) == 0);
			free(small);
		}
	}
	FZ_ASSERT(inspect_form_get((const char *)body, len, "error", full,
	    0) == -1);
	free(full);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inspect_result	 r1, r2, r3;
	struct fz_rng		 rng;
	const unsigned char	*body;
	unsigned char		*s;
	const char		*ct, *ce;
	size_t			 len, slen, max;
	unsigned		 opts, fmt, coding;
	int			 a, b, c;

	if (size < 2)
		return 0;
	opts = data[0];
	fmt = opts & 3;
	coding = (opts >> 2) & 7;
	max = fi_max[(opts >> 5) & 3];
	fz_rng_init(&rng, data[1]);
	body = data + 2;
	len = size - 2;
	ct = fi_types[fmt];
	s = fi_encode(coding, body, len, &ce, &slen);

	a = fi_run(ct, ce, max, s, slen, &rng, (opts & 0x80) != 0, &r1);
	b = fi_run(ct, ce, max, s, slen, NULL, 0, &r2);
	FZ_ASSERT(a == b);
	FZ_ASSERT(fi_same(&r1, &r2));
	fi_check_result(a, &r1);
	if (coding >= 3 && coding <= 7) {
		/* We know the plain body: compressing changes nothing. */
		c = fi_run(ct, NULL, max, body, len, NULL, 0, &r3);
		if (a == 0)
			FZ_ASSERT(c == 0 && fi_same(&r1, &r3));
		else if (c == 0)
			FZ_ASSERT(slen > max);
	}
	if (a == 0 && fmt == 0 && (coding == 0 || coding >= 3))
		fi_check_form(body, len, &r1);
	fi_form_get(body, len);
	free(s);
	return 0;
}
