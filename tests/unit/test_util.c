/* Helpers of proxy/util.c that the hot path relies on. */
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

int
main(void)
{
	test_strlcpy();
	test_slice_ieq();
	return t_done();
}
