/*
 * Helpers shared by the fuzz targets: invariant checks that abort (so
 * libFuzzer and the replay runner both see a crash), exact-size copies (so
 * ASan catches a read one byte past the input), a small PRNG that turns an
 * input byte into split points, and a strict UTF-8 check written
 * independently of the one in proxy/sfv.c.
 */
#ifndef OAUTHLENS_FUZZ_H
#define OAUTHLENS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with the failed condition: an invariant of the code under test. */
#define FZ_ASSERT(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* A heap copy of exactly len bytes (one byte for len 0); aborts on
 * exhaustion.  Caller frees. */
static inline char *
fz_dup(const void *p, size_t len)
{
	char	*c = malloc(len > 0 ? len : 1);

	if (c == NULL)
		abort();
	if (len > 0)
		memcpy(c, p, len);
	return c;
}

/* xorshift32: deterministic split points from one input byte. */
struct fz_rng {
	uint32_t	r_state;
};

static inline void
fz_rng_init(struct fz_rng *r, uint32_t seed)
{
	r->r_state = (seed + 1) * 2654435761u;
	if (r->r_state == 0)
		r->r_state = 1;
}

static inline uint32_t
fz_rng_next(struct fz_rng *r)
{
	uint32_t	x = r->r_state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	r->r_state = x;
	return x;
}

/* A piece length in [1, left] (left > 0): mostly 1-16 bytes, sometimes up
 * to 256, sometimes everything that is left. */
static inline size_t
fz_piece(struct fz_rng *r, size_t left)
{
	uint32_t	x = fz_rng_next(r);
	size_t		n;

	switch (x & 3) {
	case 0:
	case 1:
		n = 1 + (x >> 8) % 16;
		break;
	case 2:
		n = 1 + (x >> 8) % 256;
		break;
	default:
		n = left;
		break;
	}
	return n < left ? n : left;
}

/* Strict UTF-8 (RFC 3629): no overlongs, surrogates, or code points above
 * U+10FFFF; no truncated sequence. */
static inline int
fz_utf8_valid(const void *s, size_t len)
{
	const unsigned char	*p = s;
	size_t			 i = 0, n, k;
	uint32_t		 cp;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			n = 1;
			cp = p[i] & 0x1f;
		} else if ((p[i] & 0xf0) == 0xe0) {
			n = 2;
			cp = p[i] & 0x0f;
		} else if ((p[i] & 0xf8) == 0xf0) {
			n = 3;
			cp = p[i] & 0x07;
		} else
			return 0;
		if (len - i <= n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

/* ASCII case-insensitive equality of p[0..len) and a literal. */
static inline int
fz_ieq(const char *p, size_t len, const char *lit)
{
	size_t	i;

	if (strlen(lit) != len)
		return 0;
	for (i = 0; i < len; i++) {
		int	a = (unsigned char)p[i], b = (unsigned char)lit[i];

		if (a >= 'A' && a <= 'Z')
			a += 32;
		if (b >= 'A' && b <= 'Z')
			b += 32;
		if (a != b)
			return 0;
	}
	return 1;
}

#endif
