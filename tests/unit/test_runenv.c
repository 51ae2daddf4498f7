/*
 * runenv: the fix for each runtime name of the contract, the variables
 * each fix sets (shell-quoted as --env prints them), and --env's output
 * evaluated for a CA directory that needs quoting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runenv.h"
#include "t.h"

static char fix[RUNENV_VALUE_MAX];

static const char *
fix_for(const struct runenv *re, const char *runtime)
{
	return runenv_fix(runtime, re, fix, sizeof(fix));
}

static void
test_fixes(void)
{
	struct runenv	re;

	runenv_init(&re, "0.0.0.0:8123", "/nonexistent/certs/ca.pem");
	CHECK_STR(re.re_url, "http://127.0.0.1:8123");
	CHECK_STR(re.re_bundle, "/nonexistent/certs/ca-bundle.pem");
	CHECK_STR(fix_for(&re, "curl"), "curl --cacert "
	    "/nonexistent/certs/ca-bundle.pem, or export "
	    "CURL_CA_BUNDLE=/nonexistent/certs/ca-bundle.pem");
	CHECK(strstr(fix_for(&re, "python"), "export REQUESTS_CA_BUNDLE="
	    "/nonexistent/certs/ca-bundle.pem SSL_CERT_FILE=") == fix);
	CHECK(strstr(fix_for(&re, "python-requests"), "REQUESTS_CA_BUNDLE")
	    != NULL);
	CHECK(strstr(fix_for(&re, "node"), "NODE_EXTRA_CA_CERTS="
	    "/nonexistent/certs/ca.pem") != NULL);
	CHECK_STR(fix_for(&re, "go"), "export SSL_CERT_FILE="
	    "/nonexistent/certs/ca-bundle.pem");
	CHECK_STR(fix_for(&re, "ruby"), "export SSL_CERT_FILE="
	    "/nonexistent/certs/ca-bundle.pem");
	CHECK_STR(fix_for(&re, "git"), "export GIT_SSL_CAINFO="
	    "/nonexistent/certs/ca-bundle.pem");
	CHECK_STR(fix_for(&re, "wget"), "export WGETRC="
	    "/nonexistent/certs/wgetrc");
	CHECK_STR(fix_for(&re, "php"), "export PHP_INI_SCAN_DIR="
	    ":/nonexistent/certs/php");
	CHECK_STR(fix_for(&re, "deno"), "export NODE_EXTRA_CA_CERTS="
	    "/nonexistent/certs/ca.pem");
	CHECK_STR(fix_for(&re, "bun"), "export NODE_EXTRA_CA_CERTS="
	    "/nonexistent/certs/ca.pem");
	/* A browser imports the CA itself: no variable helps. */
	CHECK(strstr(fix_for(&re, "browser"), "certutil -d sql:$HOME/.pki/"
	    "nssdb -A -t C,, -n oauthlens -i /nonexistent/certs/ca.pem") !=
	    NULL);
	/* Java: one quoted word, the port and the trust store in it. */
	CHECK(strncmp(fix_for(&re, "java"), "export JAVA_TOOL_OPTIONS='"
	    "-Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=8123 ", 65) == 0);
	CHECK(strstr(fix, "-Djavax.net.ssl.trustStore=/nonexistent/certs/"
	    "java-truststore.p12 ") != NULL);
	CHECK(fix[strlen(fix) - 1] == '\'');
	/* Anything else gets the general advice. */
	CHECK(strstr(fix_for(&re, "unknown"), "oauthlens --env") != NULL);
	CHECK_STR(fix_for(&re, "cobol"), fix_for(&re, "unknown"));
	CHECK_STR(fix_for(&re, NULL), fix_for(&re, "unknown"));
	/* A short buffer truncates, NUL-terminated. */
	runenv_fix("curl", &re, fix, 10);
	CHECK_STR(fix, "curl --ca");
}

static void
test_ipv6_and_quoting(void)
{
	struct runenv	re;

	runenv_init(&re, "[::]:9000", "/tmp/it's here/ca.pem");
	CHECK_STR(re.re_url, "http://[::1]:9000");
	CHECK_STR(fix_for(&re, "git"), "export GIT_SSL_CAINFO="
	    "'/tmp/it'\\''s here/ca-bundle.pem'");
	/* A word of JAVA_TOOL_OPTIONS in double quotes, inside the shell's
	 * single quotes. */
	CHECK(strstr(fix_for(&re, "java"), "-Djavax.net.ssl.trustStore="
	    "\"/tmp/it'\\''s here/java-truststore.p12\"") != NULL);
	CHECK(strstr(fix, "-Dhttps.proxyHost=::1 ") != NULL);
}

/* Every line --env prints is "export NAME=WORD", the names in order. */
static void
test_env_lines(void)
{
	static const char *const names[] = { "HTTP_PROXY", "HTTPS_PROXY",
	    "http_proxy", "https_proxy", "NO_PROXY", "no_proxy",
	    "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
	    "GIT_SSL_CAINFO", "NODE_EXTRA_CA_CERTS", "NODE_USE_ENV_PROXY" };
	struct runenv	 re;
	char		*buf = NULL, *line, *save = NULL;
	size_t		 len = 0, i = 0;
	FILE		*f = open_memstream(&buf, &len);

	runenv_init(&re, "127.0.0.1:8080", "/c/ca.pem");
	runenv_print_env(&re, f);
	fclose(f);
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save), i++) {
		CHECK(strncmp(line, "export ", 7) == 0);
		if (i < sizeof(names) / sizeof(names[0]))
			CHECK(strncmp(line + 7, names[i], strlen(names[i])) ==
			    0 && line[7 + strlen(names[i])] == '=');
	}
	CHECK(i >= 15);
	free(buf);
}

int
main(void)
{
	test_fixes();
	test_ipv6_and_quoting();
	test_env_lines();
	return t_done();
}
