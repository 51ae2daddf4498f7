/* Config parsing: defaults, positions in errors, CIDRs, --resolve. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "confkeys.h"
#include "json.h"
#include "t.h"

static char	path[] = "/tmp/oauthlens-test-config-XXXXXX";
static char	err[512];

static struct config *
load(const char *text)
{
	struct config_cli	cli;
	FILE			*f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	memset(&cli, 0, sizeof(cli));
	cli.cc_config = path;
	err[0] = '\0';
	return config_load(&cli, err, sizeof(err));
}

/* The error names path:line:col and contains what. */
static void
check_error(const char *text, int line, int col, const char *what)
{
	struct config	*cf = load(text);
	char		 want[600];

	CHECK(cf == NULL);
	config_unref(cf);
	snprintf(want, sizeof(want), "%s:%d:%d: ", path, line, col);
	if (strncmp(err, want, strlen(want)) != 0 ||
	    strstr(err, what) == NULL) {
		fprintf(stderr, "got \"%s\", want prefix \"%s\" and \"%s\"\n",
		    err, want, what);
		t_fail++;
	} else
		t_pass++;
}

/* Write text to the test's config file. */
static void
put(const char *text)
{
	FILE	*f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

/* The file's config with the given command-line values (key, value
 * pairs, NULL-ended); err holds the message when NULL. */
static struct config *
load_cli(const char *text, ...)
{
	struct config_cli	 cli;
	struct config		*cf;
	const char		*key, *val;
	va_list			 ap;

	put(text);
	memset(&cli, 0, sizeof(cli));
	cli.cc_config = path;
	va_start(ap, text);
	while ((key = va_arg(ap, const char *)) != NULL) {
		val = va_arg(ap, const char *);
		config_cli_add(&cli, confkey_find(key), val);
	}
	va_end(ap);
	err[0] = '\0';
	cf = config_load(&cli, err, sizeof(err));
	config_cli_clear(&cli);
	return cf;
}

/* {"key": value}, or {"obj": {"key": value}} for "obj.key". */
static void
json_member(char *buf, size_t len, const struct confkey *k,
    const char *value, int raw)
{
	const char	*dot = strchr(k->ck_key, '.');
	char		 v[600];
	int		 quote;

	quote = k->ck_kind == CK_STRING || k->ck_kind == CK_WORD ||
	    (k->ck_kind == CK_LIST && k->ck_elem == JSON_STRING);

	if (raw)
		snprintf(v, sizeof(v), "%s", value);
	else
		snprintf(v, sizeof(v), "%s%s%s%s%s",
		    k->ck_kind == CK_LIST ? "[" : "",
		    quote ? "\"" : "", value, quote ? "\"" : "",
		    k->ck_kind == CK_LIST ? "]" : "");
	if (dot != NULL)
		snprintf(buf, len, "{\"%.*s\": {\"%s\": %s}}",
		    (int)(dot - k->ck_key), k->ck_key, dot + 1, v);
	else
		snprintf(buf, len, "{\"%s\": %s}", k->ck_key, v);
}

static void
expect_text(const struct config *cf, const struct confkey *k,
    const char *want, const char *how)
{
	char	got[1024];

	if (cf == NULL) {
		fprintf(stderr, "%s %s: %s\n", k->ck_key, how, err);
		t_fail++;
		return;
	}
	confkey_text(cf, k, got, sizeof(got));
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "%s %s: got \"%s\", want \"%s\"\n", k->ck_key,
		    how, got, want);
		t_fail++;
	} else
		t_pass++;
}

/* Every key of the table round-trips through the file and the command
 * line: its example loads, reads back the same, and differs from the
 * default; a bad value fails with the option's name; the defaults the
 * table states are the ones a "{}" file gets. */
static void
check_keys(void)
{
	const struct confkey	*k;
	struct config		*cf, *def;
	char			 json[1024], want[1024], dtext[1024];
	char			 absmsg[4096], plus[600];

	CHECK(realpath("conf/messages.json", absmsg) != NULL);
	def = load_cli("{}", NULL);
	CHECK(def != NULL);
	if (def == NULL)
		return;
	for (k = confkeys; k->ck_key != NULL; k++) {
		const char *ex = k->ck_example;
		int	    is_msg = strcmp(k->ck_key, "messages") == 0;

		CHECK(ex != NULL && k->ck_doc != NULL);
		/* A field of its own (offset 0 is cf_refs), or a list kept
		 * entirely by its own functions. */
		CHECK(k->ck_off != 0 || (k->ck_kind == CK_LIST &&
		    k->ck_set != NULL && k->ck_clear != NULL &&
		    k->ck_text != NULL));
		if (ex == NULL)
			continue;
		/* A flag is the key with - for _; file-only keys have none. */
		if (k->ck_flag != NULL) {
			char	 flag[64];
			size_t	 i;

			snprintf(flag, sizeof(flag), "%s", k->ck_key);
			for (i = 0; flag[i] != '\0'; i++)
				if (flag[i] == '_')
					flag[i] = '-';
			CHECK_STR(k->ck_flag, flag);
			CHECK(k->ck_help != NULL && strlen(k->ck_help) <= 50);
		}
		confkey_text(def, k, dtext, sizeof(dtext));
		if (k->ck_def != NULL)
			CHECK_STR(dtext, k->ck_def);
		snprintf(want, sizeof(want), "%s", k->ck_set == NULL ||
		    k->ck_text == NULL || k->ck_kind == CK_LIST ? ex : "(set)");
		if (is_msg)
			snprintf(want, sizeof(want), "%s", absmsg);
		if (strcmp(want, dtext) == 0) {
			fprintf(stderr, "%s: example is the default\n",
			    k->ck_key);
			t_fail++;
		}
		json_member(json, sizeof(json), k, is_msg ? absmsg : ex, 0);
		cf = load_cli(json, NULL);
		expect_text(cf, k, want, "from the file");
		if (cf != NULL && strcmp(k->ck_key, "proxy_auth") == 0) {
			/* dev:secret, and one letter off */
			CHECK(config_proxy_auth_ok(cf,
			    "Basic ZGV2OnNlY3JldA==", 22));
			CHECK(!config_proxy_auth_ok(cf,
			    "Basic ZGV2OnNlY3JldB==", 22));
		}
		config_unref(cf);
		/* The wrong JSON type names the file and the key. */
		json_member(json, sizeof(json), k,
		    k->ck_kind == CK_LIST ? "{}" : k->ck_kind == CK_STRING ||
		    k->ck_kind == CK_WORD ? "1" : "\"x\"", 1);
		cf = load_cli(json, NULL);
		CHECK(cf == NULL && strncmp(err, path, strlen(path)) == 0 &&
		    strstr(err, k->ck_key) != NULL);
		if (cf != NULL || strstr(err, k->ck_key) == NULL)
			fprintf(stderr, "%s: %s\n", json, err);
		config_unref(cf);
		if (k->ck_flag == NULL)
			continue;
		cf = load_cli("{}", k->ck_key, ex, NULL);
		expect_text(cf, k, ex, "from the command line");
		config_unref(cf);
		if (k->ck_kind == CK_LIST) {
			snprintf(plus, sizeof(plus), "+%s", ex);
			snprintf(want, sizeof(want), "%s%s%s", dtext,
			    dtext[0] ? " " : "", ex);
			cf = load_cli("{}", k->ck_key, plus, NULL);
			expect_text(cf, k, want, "added with +");
			config_unref(cf);
		}
		if (k->ck_kind == CK_STRING && k->ck_ok == NULL &&
		    k->ck_set == NULL)
			continue;
		cf = load_cli("{}", k->ck_key, "", NULL);
		CHECK(cf == NULL && strncmp(err, "--", 2) == 0 &&
		    strncmp(err + 2, k->ck_flag, strlen(k->ck_flag)) == 0);
		config_unref(cf);
	}
	config_unref(def);
}

/* fuzz_config's dictionary names every key (nested ones by their last
 * part), so that the fuzzer reaches each setter. */
static void
check_dictionary(void)
{
	const struct confkey	*k;
	const char		*name;
	char			 buf[8192], needle[96];
	size_t			 n;
	FILE			*f = fopen("tests/fuzz/json.dict", "r");

	CHECK(f != NULL);
	if (f == NULL)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	for (k = confkeys; k->ck_key != NULL; k++) {
		name = strrchr(k->ck_key, '.');
		name = name ? name + 1 : k->ck_key;
		snprintf(needle, sizeof(needle), "\"\\\"%s\\\"\"\n", name);
		if (strstr(buf, needle) == NULL) {
			fprintf(stderr, "tests/fuzz/json.dict lacks %s",
			    needle);
			t_fail++;
		} else
			t_pass++;
	}
}

/* The rule for lists: plain values replace the file's list, "+" values
 * add to it, both together replace and add; a later resolve entry wins. */
static void
check_cli_rule(void)
{
	const struct confkey	*k = confkey_find("intercept");
	struct config		*cf;
	const char		*file = "{\"intercept\": [\"a.test\"]}";

	cf = load_cli(file, "intercept", "b.test", "intercept", "c.test",
	    NULL);
	expect_text(cf, k, "b.test c.test", "replaced");
	config_unref(cf);
	cf = load_cli(file, "intercept", "+b.test", NULL);
	expect_text(cf, k, "a.test b.test", "added");
	config_unref(cf);
	cf = load_cli(file, "intercept", "+b.test", "intercept", "c.test",
	    NULL);
	expect_text(cf, k, "b.test c.test", "added and replaced");
	config_unref(cf);
	cf = load_cli(file, "lang", "en", NULL);
	CHECK(cf != NULL && cf->cf_lang == LANG_EN);
	config_unref(cf);
	cf = load_cli("{\"resolve\": [\"h.test:80:127.0.0.1:1\"]}", "resolve",
	    "+h.test:80:127.0.0.1:2", NULL);
	CHECK(cf != NULL && cf->cf_nresolve == 2);
	if (cf != NULL)
		CHECK_INT(ntohs(((const struct sockaddr_in *)&config_resolve(
		    cf, "h.test", 80)->rv_addr)->sin_port), 2);
	config_unref(cf);
	/* A check that says why is quoted, in the file and as an option. */
	check_error("{\"intercept\": [\"github.com\", \"*x.test\"]}", 1, 30,
	    "\"*x.test\" in \"intercept\": a wildcard is written *.suffix");
	cf = load_cli("{}", "intercept", "*x.test", NULL);
	CHECK(cf == NULL);
	CHECK_STR(err, "--intercept *x.test: a wildcard is written *.suffix");
	cf = load_cli("{}", "token_endpoints", "*.x.test", NULL);
	CHECK(cf == NULL);
	CHECK_STR(err, "--token-endpoints *.x.test: expected a host name, or "
	    "host/path");
	/* Seconds read back exactly, to the millisecond. */
	cf = load_cli("{\"timeouts\": {\"idle\": 12345.678}}",
	    "timeouts.drain", "0.0015", NULL);
	expect_text(cf, confkey_find("timeouts.idle"), "12345.678", "exact");
	expect_text(cf, confkey_find("timeouts.drain"), "0.002", "rounded");
	config_unref(cf);
	/* The log enums' words are log.c's, in the same order. */
	cf = load_cli("{\"log_level\": \"warn\", \"log_format\": \"json\", "
	    "\"log_target\": \"stderr\"}", NULL);
	CHECK(cf != NULL && cf->cf_log_level == LL_WARN &&
	    cf->cf_log_format == LOGF_JSON && cf->cf_log_target == LOGT_STDERR);
	config_unref(cf);
}

static int
allowed(const struct config *cf, const char *addr)
{
	struct sockaddr_storage	ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &s4->sin_addr);
	}
	return config_allowed(cf, (struct sockaddr *)&ss);
}

int
main(void)
{
	struct config		*cf;
	struct config_cli	 cli;
	int			 fd = mkstemp(path);

	close(fd);
	/* Defaults. */
	cf = load("{}");
	if (cf == NULL) {
		fprintf(stderr, "%s\n", err);
		return t_done();
	}
	CHECK_INT(cf->cf_nconnect_ports, 1);
	CHECK_INT(cf->cf_connect_ports[0], 443);
	CHECK_INT(cf->cf_inspect_max_bytes, 65536);
	CHECK_STR(cf->cf_header_name, "OAuth-Troubleshooting");
	CHECK_STR(cf->cf_listen.sl_v[0], "127.0.0.1:8080");
	CHECK(allowed(cf, "127.0.0.1"));
	CHECK(allowed(cf, "127.9.8.7"));
	CHECK(allowed(cf, "::1"));
	CHECK(allowed(cf, "::ffff:127.0.0.1"));
	CHECK(!allowed(cf, "10.0.0.1"));
	CHECK(!allowed(cf, "::2"));
	config_unref(cf);

	/* proxy_auth with a non-ASCII password: UTF-8 as given, Latin-1 as
	 * Python's requests sends it, nothing else; userpass gives it back. */
	cf = load("{ \"proxy_auth\": \"dev:p\u00e9\" }");
	CHECK(cf != NULL);
	if (cf != NULL) {
		char	up[64];

		CHECK(config_proxy_auth_ok(cf, "Basic ZGV2OnDDqQ==", 18));
		CHECK(config_proxy_auth_ok(cf, "basic ZGV2OnDp", 14));
		CHECK(!config_proxy_auth_ok(cf, "Basic ZGV2OnDq", 14));
		CHECK(!config_proxy_auth_ok(cf, "Basic ZGV2OnA=", 14));
		CHECK(!config_proxy_auth_ok(cf, "Basic ZGV2OnDDqQ", 16));
		CHECK(!config_proxy_auth_ok(cf, NULL, 0));
		CHECK(config_proxy_userpass(cf, up, sizeof(up)) == 0 &&
		    strcmp(up, "dev:p\xc3\xa9") == 0);
		CHECK(config_proxy_userpass(cf, up, 4) == -1);
	}
	config_unref(cf);
	cf = load("{ \"proxy_auth\": \"dev:plain\" }");
	/* An ASCII password has no second form. */
	CHECK(cf != NULL && config_proxy_auth_ok(cf, "Basic ZGV2OnBsYWlu", 18));
	CHECK(cf != NULL && !config_proxy_auth_ok(cf, "Basic ZGV2OnBsYWlv",
	    18));
	config_unref(cf);

	/* Comments, timeouts in seconds, CIDRs. */
	cf = load("// c\n{ /* x */ \"timeouts\": {\"idle\": 1.5},\n"
	    "\"allow\": [\"10.1.0.0/16\"], \"connect_ports\": [443, 8443] }");
	CHECK(cf != NULL);
	if (cf != NULL) {
		CHECK_INT(cf->cf_to_idle_ms, 1500);
		CHECK(allowed(cf, "10.1.2.3"));
		CHECK(!allowed(cf, "10.2.0.1"));
		CHECK(!allowed(cf, "127.0.0.1"));
		CHECK(config_connect_port_ok(cf, 8443));
		CHECK(!config_connect_port_ok(cf, 80));
	}
	config_unref(cf);

	/* Errors name the place. */
	check_error("{\n  \"listen\": [\"127.0.0.1:8080\"],\n  \"bogus\": 1\n}",
	    3, 3, "unknown key \"bogus\"");
	check_error("{\"timeouts\": {\"idle\": 1,\n \"slow\": 2}}", 2, 2,
	    "timeouts.slow");
	check_error("{\"max_connections\": \"many\"}", 1, 21, "number");
	check_error("{\"max_connections\": 0}", 1, 21, "between");
	check_error("{\"allow\": [\"300.1.1.1/8\"]}", 1, 12, "CIDR");
	check_error("{\"lang\": \"fr\"}", 1, 10, "ja, en or auto");
	check_error("{\"listen\": [\n\n   \"nope\"]}", 3, 4, "address:port");
	check_error("{\"a\": 1,, }", 1, 9, "");
	check_error("{\"lang\": \"ja\", \"lang\": \"en\"}", 1, 16, "duplicate");
	check_error("[1]", 1, 1, "object");

	/* The command line wins and is checked too. */
	memset(&cli, 0, sizeof(cli));
	config_cli_add(&cli, confkey_find("resolve"),
	    "GitHub.com:443:127.0.0.1:9443");
	config_cli_add(&cli, confkey_find("listen"), "[::1]:9000");
	cf = config_load(&cli, err, sizeof(err));
	CHECK(cf != NULL);
	if (cf != NULL) {
		const struct resolve *rv = config_resolve(cf, "github.com",
		    443);

		CHECK(rv != NULL);
		CHECK(rv != NULL && ntohs(((struct sockaddr_in *)
		    &rv->rv_addr)->sin_port) == 9443);
		CHECK(config_resolve(cf, "github.com", 80) == NULL);
		CHECK_STR(cf->cf_listen.sl_v[0], "[::1]:9000");
	}
	config_unref(cf);
	config_cli_clear(&cli);
	config_cli_add(&cli, confkey_find("resolve"),
	    "github.com:443:not-an-ip:1");
	cf = config_load(&cli, err, sizeof(err));
	CHECK(cf == NULL);
	CHECK(strstr(err, "--resolve") != NULL);
	config_cli_clear(&cli);

	check_keys();
	check_cli_rule();
	check_dictionary();

	/* The shipped config parses. */
	memset(&cli, 0, sizeof(cli));
	cli.cc_config = "conf/oauthlens.conf";
	cf = config_load(&cli, err, sizeof(err));
	if (cf == NULL)
		fprintf(stderr, "%s\n", err);
	CHECK(cf != NULL);
	config_unref(cf);
	unlink(path);
	return t_done();
}
