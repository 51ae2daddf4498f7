/* The typed counters: exchanges by method and status class, annotated
 * codes counted apart up to STAT_CODES_MAX and all in STAT_ANNOTATED. */
#include <stdio.h>
#include <string.h>

#include "stats.h"
#include "t.h"

int
main(void)
{
	struct stats	st;
	char		code[16];
	int		i;

	memset(&st, 0, sizeof(st));
	stats_exchange(&st, "GET", 200);
	stats_exchange(&st, "GET", 204);
	stats_exchange(&st, "POST", 502);
	stats_exchange(&st, "BREW", 418);
	stats_exchange(&st, "CONNECT", 0);
	CHECK_INT(st.st_by_method[SM_GET][2], 2);
	CHECK_INT(st.st_by_method[SM_POST][5], 1);
	CHECK_INT(st.st_by_method[SM_OTHER][4], 1);
	CHECK_INT(st.st_by_method[SM_CONNECT][0], 1);
	CHECK_STR(stats_method_name(SM_OTHER), "other");
	CHECK_STR(stats_method_name(SM_PATCH), "PATCH");

	stats_add(&st, STAT_BYTES_IN, 100);
	stats_add(&st, STAT_BYTES_IN, 23);
	CHECK_INT(stats_get(&st, STAT_BYTES_IN), 123);
	CHECK_INT(stats_get(&st, STAT_BYTES_OUT), 0);

	stats_annotated(&st, "bad_verification_code");
	stats_annotated(&st, "bad_verification_code");
	stats_annotated(&st, "redirect_uri_mismatch");
	CHECK_STR(st.st_codes[0].sc_code, "bad_verification_code");
	CHECK_INT(st.st_codes[0].sc_count, 2);
	CHECK_INT(st.st_codes[1].sc_count, 1);
	for (i = 0; i < STAT_CODES_MAX + 5; i++) {
		snprintf(code, sizeof(code), "c%d", i);
		stats_annotated(&st, code);
	}
	/* Every one counted in all; the table keeps the first codes. */
	CHECK_INT(stats_get(&st, STAT_ANNOTATED), 3 + STAT_CODES_MAX + 5);
	CHECK_STR(st.st_codes[STAT_CODES_MAX - 1].sc_code, "c29");
	return t_done();
}
