/* Helpers of proxy/util.c that the hot path relies on. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "t.h"

/* util_strlcpy: what snprintf(dst, size, "%s", src) wrote. */
static void
test_strlcpy(void)
{
	char	buf[8];

	memset(buf, 'x', sizeof(buf));
	CHECK(util_strlcpy(buf, "GET", sizeof(buf)) == buf);
	CHECK_STR(buf, "GET");
	CHECK_STR(util_strlcpy(buf, "1234567", sizeof(buf)), "1234567");
	CHECK_STR(util_strlcpy(buf, "123456789", sizeof(buf)), "1234567");
	CHECK_STR(util_strlcpy(buf, "", sizeof(buf)), "");
	CHECK_STR(util_strlcpy(buf, "abc", 1), "");
}

/* util_fmt_ll: what snprintf("%lld") wrote, at the edges and around
 * every power of ten. */
static void
test_fmt_ll(void)
{
	static const long long	edges[] = { 0, 1, -1, 9, 10, -10, 99, 100,
		LLONG_MAX, LLONG_MIN, LLONG_MIN + 1, LLONG_MAX - 1 };
	char			 want[32], got[32];
	long long		 p;
	size_t			 i;
	int			 d, ok = 1;

	for (i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		snprintf(want, sizeof(want), "%lld", edges[i]);
		CHECK_INT(util_fmt_ll(got, edges[i]), strlen(want));
		CHECK_STR(got, want);
	}
	for (p = 1, d = 0; d < 18; d++, p *= 10) {
		long long v[] = { p - 1, p, p + 1, -p + 1, -p, -p - 1 };

		for (i = 0; i < 6; i++) {
			snprintf(want, sizeof(want), "%lld", v[i]);
			if (util_fmt_ll(got, v[i]) != strlen(want) ||
			    strcmp(got, want) != 0)
				ok = 0;
		}
	}
	CHECK(ok);
}

static void
test_slice_ieq(void)
{
	CHECK(util_slice_ieq("HoSt", 4, "host"));
	CHECK(util_slice_ieq("host", 4, "HOST"));
	CHECK(!util_slice_ieq("hos", 3, "host"));
	CHECK(!util_slice_ieq("hosts", 5, "host"));
	CHECK(!util_slice_ieq("h\0st", 4, "host"));
	CHECK(util_slice_ieq("", 0, ""));
	CHECK(!util_slice_ieq("@", 1, "`"));	/* 0x40 vs 0x60 */
	CHECK(!util_slice_ieq("[", 1, "{"));
}

static void
test_b64_decode(void)
{
	unsigned char	out[8];

	/* Padding is not counted; a decoded NUL is. */
	CHECK_INT(util_b64_decode("ZGV2OnB3", 8, out, sizeof(out)), 6);
	CHECK(memcmp(out, "dev:pw", 6) == 0);
	CHECK_INT(util_b64_decode("YQ==", 4, out, sizeof(out)), 1);
	CHECK_INT(util_b64_decode("YWI=", 4, out, sizeof(out)), 2);
	CHECK_INT(util_b64_decode("AAA=", 4, out, sizeof(out)), 2);
	CHECK_INT(util_b64_decode("", 0, out, sizeof(out)), 0);
	/* Not base64, not padded, or too long for out. */
	CHECK_INT(util_b64_decode("YQ", 2, out, sizeof(out)), -1);
	CHECK_INT(util_b64_decode("Y*==", 4, out, sizeof(out)), -1);
	CHECK_INT(util_b64_decode("ZGV2OnB3ZGV2", 12, out, sizeof(out)), -1);
	CHECK_INT(util_b64_decode("ZGV2OnB3", 8, out, 5), -1);
}

int
main(void)
{
	test_strlcpy();
	test_fmt_ll();
	test_slice_ieq();
	test_b64_decode();
	return t_done();
}
