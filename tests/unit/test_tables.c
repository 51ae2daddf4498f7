/*
 * The closed tables: every proxy error has a token, an error status and a
 * message; every diagnosis cause has a distinct name and a sentence in
 * both languages of the shipped catalog; a catalog without one of them
 * is refused at load, naming the cause.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "diag.h"
#include "proxyerr.h"
#include "t.h"

static void
test_proxy_errors(void)
{
	int	i, j;

	for (i = 0; i < PE_COUNT; i++) {
		const struct proxyerr_info *pi = proxyerr_info(i);

		CHECK(pi->pi_token != NULL && pi->pi_token[0] != '\0');
		CHECK(pi->pi_message != NULL && pi->pi_message[0] != '\0');
		CHECK(pi->pi_status >= 400 && pi->pi_status <= 599);
		/* The proxy's own failures warn; the client's are info. */
		CHECK(pi->pi_status < 500 || pi->pi_level == LL_WARN);
		for (j = 0; j < i; j++)
			CHECK(strcmp(proxyerr_info(j)->pi_token,
			    pi->pi_token) != 0);
	}
	CHECK_INT(proxyerr_info(proxyerr_from_http1(431))->pi_status, 431);
	CHECK_INT(proxyerr_info(proxyerr_from_http1(400))->pi_status, 400);
	CHECK_INT(proxyerr_info(
	    proxyerr_from_upstream(UPSTREAM_TIMEOUT))->pi_status, 504);
	CHECK_INT(proxyerr_info(
	    proxyerr_from_upstream(UPSTREAM_DNS))->pi_status, 502);
}

static void
test_causes(void)
{
	struct catalog	*cat;
	char		 err[512];
	int		 i, j;

	CHECK_STR(diag_cause_name(DC_NONE), "");
	CHECK_STR(diag_cause_key(DC_NONE), "");
	for (i = DC_NONE + 1; i < DC_COUNT; i++) {
		CHECK(diag_cause_name(i)[0] != '\0');
		CHECK(diag_cause_key(i)[0] != '\0');
		for (j = DC_NONE + 1; j < i; j++)
			CHECK(strcmp(diag_cause_key(i),
			    diag_cause_key(j)) != 0);
	}
	/* Two sentences for one name: the other exchange is done or still
	 * in flight. */
	CHECK_STR(diag_cause_name(DC_CODE_REUSED_OVERLAP), "code_reused");
	CHECK_STR(diag_cause_key(DC_CODE_REUSED_OVERLAP),
	    "code_reused_overlap");
	cat = catalog_load("conf/messages.json", err, sizeof(err));
	CHECK(cat != NULL);
	if (cat == NULL) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	for (i = DC_NONE + 1; i < DC_COUNT; i++) {
		CHECK(catalog_cause(cat, i, LANG_JA) != NULL);
		CHECK(catalog_cause(cat, i, LANG_EN) != NULL);
	}
	CHECK(catalog_cause(cat, DC_NONE, LANG_EN) == NULL);
	catalog_free(cat);
}

/* The shipped catalog with one cause's entry renamed must not load. */
static void
test_catalog_refuses_missing_cause(void)
{
	FILE		*f = fopen("conf/messages.json", "r");
	char		*buf, *p, path[] = "/tmp/test_tables.XXXXXX", err[512];
	struct catalog	*cat;
	long		 n;
	int		 fd;

	CHECK(f != NULL);
	if (f == NULL)
		return;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	p = strstr(buf, "\"missing_secret\": {");
	CHECK(p != NULL);
	if (p != NULL)
		memcpy(p + 1, "mizzing", 7);
	fd = mkstemp(path);
	CHECK(fd >= 0 && write(fd, buf, (size_t)n) == n);
	close(fd);
	cat = catalog_load(path, err, sizeof(err));
	CHECK(cat == NULL);
	CHECK(strstr(err, "missing_secret") != NULL);
	CHECK(strstr(err, path) != NULL);
	catalog_free(cat);
	unlink(path);
	free(buf);
}

int
main(void)
{
	test_proxy_errors();
	test_causes();
	test_catalog_refuses_missing_cause();
	return t_done();
}
