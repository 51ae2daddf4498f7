/* Config parsing: defaults, positions in errors, CIDRs, --resolve. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
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
	strlist_add(&cli.cc_resolve, "GitHub.com:443:127.0.0.1:9443");
	strlist_add(&cli.cc_listen, "[::1]:9000");
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
	strlist_clear(&cli.cc_resolve);
	strlist_add(&cli.cc_resolve, "github.com:443:not-an-ip:1");
	cf = config_load(&cli, err, sizeof(err));
	CHECK(cf == NULL);
	CHECK(strstr(err, "--resolve") != NULL);
	strlist_clear(&cli.cc_resolve);
	strlist_clear(&cli.cc_listen);

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
