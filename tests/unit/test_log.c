/* The text record as written to stderr: time stamp and numbers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "t.h"

/* One record's line, from stderr sent to a temporary file. */
static void
test_record_line(void)
{
	FILE		*f = tmpfile();
	int		 saved = dup(STDERR_FILENO), i;
	char		 line[512];
	const char	*pat = "dddd-dd-ddTdd:dd:dd.dddZ info t ";
	struct logrec	 lr;

	CHECK(f != NULL && saved != -1);
	if (f == NULL || saved == -1)
		return;
	dup2(fileno(f), STDERR_FILENO);
	setenv("NO_COLOR", "1", 1);
	log_setup(LL_INFO, LOGF_TEXT, LOGT_STDERR);
	logrec_begin(&lr, LL_INFO, "t");
	logrec_int(&lr, "a", 0);
	logrec_int(&lr, "b", -42);
	logrec_int(&lr, "c", 9223372036854775807LL);
	logrec_int(&lr, "d", -9223372036854775807LL - 1);
	logrec_str(&lr, "e", "x y");
	logrec_end(&lr);
	logrec_begin(&lr, LL_DEBUG, "off");
	logrec_int(&lr, "a", 1);
	logrec_end(&lr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	CHECK(fgets(line, sizeof(line), f) != NULL);
	CHECK(strlen(line) > strlen(pat));
	for (i = 0; pat[i] != '\0'; i++)
		if (pat[i] == 'd' ? line[i] < '0' || line[i] > '9' :
		    line[i] != pat[i])
			break;
	CHECK_INT(i, strlen(pat));
	CHECK_STR(line + strlen(pat), "a=0 b=-42 c=9223372036854775807 "
	    "d=-9223372036854775808 e=\"x y\"\n");
	/* The debug record was not written. */
	CHECK(fgets(line, sizeof(line), f) == NULL);
	fclose(f);
}

int
main(void)
{
	test_record_line();
	return t_done();
}
