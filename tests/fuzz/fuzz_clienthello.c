/*
 * Fuzz the ClientHello reader of proxy/runtime.c against a model written
 * here (a second reading of RFC 8446's ClientHello layout), and
 * runtime_refine on what it read.
 *
 * Input: a handshake message as OpenSSL's message callback passes it (the
 * committed corpus holds the hellos of curl, wget, git's GnuTLS, Python,
 * PHP curl and streams, Ruby, Java, Go, Deno and Bun, captured through a
 * CONNECT).
 *
 * Invariants: runtime_hello_parse accepts exactly what the model accepts
 * and reports the same three facts; on refusal the facts are all zero;
 * once it accepts, every strict prefix is refused (the header's length no
 * longer fits); runtime_refine returns one of the contract's names, and
 * changes only the three guesses it is meant to settle.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "runtime.h"

/* The model: 0 and the facts, or -1 (facts zero). */
static int
fc_scan(const uint8_t *p, size_t len, int *tls13, int *etm, int *sv2)
{
	size_t	n, i, x, xl;

	*tls13 = *etm = *sv2 = 0;
	if (len < 4 || p[0] != 1)
		return -1;
	n = (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
	if (n > len - 4)
		return -1;
	p += 4;
	i = 34;				/* version, random */
	if (i + 1 > n || (i += 1 + p[i]) > n)
		return -1;		/* session id */
	if (i + 2 > n || (i += 2 + ((size_t)p[i] << 8 | p[i + 1])) > n)
		return -1;		/* cipher suites */
	if (i + 1 > n || (i += 1 + p[i]) > n)
		return -1;		/* compression methods */
	if (i == n)
		return 0;
	if (i + 2 > n)
		return -1;
	xl = (size_t)p[i] << 8 | p[i + 1];
	i += 2;
	if (i + xl != n)
		return -1;
	while (i < n) {
		if (i + 4 > n)
			return -1;
		x = (size_t)p[i] << 8 | p[i + 1];
		i += 4 + ((size_t)p[i + 2] << 8 | p[i + 3]);
		if (i > n)
			return -1;
		*tls13 |= x == 43;
		*etm |= x == 22;
		*sv2 |= x == 17;
	}
	return 0;
}

static int
fc_model(const uint8_t *p, size_t len, int *tls13, int *etm, int *sv2)
{
	if (fc_scan(p, len, tls13, etm, sv2) == 0)
		return 0;
	*tls13 = *etm = *sv2 = 0;
	return -1;
}

static void
fc_refine(const struct runtime_hello *rh)
{
	static const char *const names[] = { "python", "node", "go", "curl",
	    "java", "php", "ruby", "git", "wget", "deno", "bun", "unknown" };
	size_t		 i, j;
	const char	*r;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		r = runtime_refine(names[i], rh);
		for (j = 0; j < sizeof(names) / sizeof(names[0]); j++)
			if (strcmp(r, names[j]) == 0)
				break;
		FZ_ASSERT(j < sizeof(names) / sizeof(names[0]));
		if (strcmp(r, names[i]) != 0)
			FZ_ASSERT(strcmp(names[i], "python") == 0 ||
			    strcmp(names[i], "java") == 0 ||
			    strcmp(names[i], "php") == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct runtime_hello	 rh;
	char			*p;
	int			 r, m, tls13, etm, sv2;
	size_t			 cut;

	/* libFuzzer's buffer is exactly size bytes already; the copy is for
	 * the replay runner, whose buffers are not. */
	p = size > 0 ? fz_dup(data, size) : NULL;
	r = runtime_hello_parse(p != NULL ? (const unsigned char *)p : data,
	    size, &rh);
	m = fc_model(data, size, &tls13, &etm, &sv2);
	FZ_ASSERT(r == m);
	FZ_ASSERT(rh.rh_tls13 == (unsigned)tls13 && rh.rh_etm ==
	    (unsigned)etm && rh.rh_status_v2 == (unsigned)sv2);
	if (r == -1)
		FZ_ASSERT(!tls13 && !etm && !sv2);
	if (r == 0) {
		for (cut = 1; cut < size && cut < 4096; cut++) {
			struct runtime_hello	t;
			char			*q = fz_dup(data, cut);

			if ((size_t)((uint32_t)data[1] << 16 |
			    (uint32_t)data[2] << 8 | data[3]) + 4 > cut)
				FZ_ASSERT(runtime_hello_parse(
				    (const unsigned char *)q, cut, &t) == -1);
			free(q);
		}
	}
	fc_refine(&rh);
	free(p);
	return 0;
}
