/*
 * The run environment: which variables reach which runtime, and the one
 * fix per runtime. `--env` prints the variable table, `run` sets it, and
 * `--print-ca` and the tls-untrusted line read the fix table, so the four
 * never disagree.
 */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "config.h"
#include "runenv.h"
#include "util.h"

#define PRELOAD_NAME	"oauthlens-preload.cjs"
#define PRELOAD_TREE	"proxy/node/" PRELOAD_NAME
#define NO_PROXY_LIST	"localhost,127.0.0.1,::1"

enum runenv_kind {
	RV_PROXY, RV_NO_PROXY, RV_BUNDLE, RV_CA, RV_ONE, RV_NODE_OPTIONS,
	RV_JAVA, RV_PHP, RV_WGETRC
};

/* The variables, in the order --env prints them. */
static const struct {
	const char		*name;
	enum runenv_kind	 kind;
} runenv_vars[] = {
	{ "HTTP_PROXY", RV_PROXY },
	{ "HTTPS_PROXY", RV_PROXY },
	{ "http_proxy", RV_PROXY },
	{ "https_proxy", RV_PROXY },
	{ "NO_PROXY", RV_NO_PROXY },
	{ "no_proxy", RV_NO_PROXY },
	{ "SSL_CERT_FILE", RV_BUNDLE },
	{ "REQUESTS_CA_BUNDLE", RV_BUNDLE },
	{ "CURL_CA_BUNDLE", RV_BUNDLE },
	{ "GIT_SSL_CAINFO", RV_BUNDLE },
	{ "NODE_EXTRA_CA_CERTS", RV_CA },
	{ "NODE_USE_ENV_PROXY", RV_ONE },
	{ "NODE_OPTIONS", RV_NODE_OPTIONS },
	{ "JAVA_TOOL_OPTIONS", RV_JAVA },
	{ "PHP_INI_SCAN_DIR", RV_PHP },
	{ "WGETRC", RV_WGETRC },
};

/*
 * One fix per runtime name (the names are a contract with runtime
 * recognition). In a template, {NAME} becomes NAME=value of the variable
 * table, shell-quoted; {ca} and {bundle} the bare paths.
 */
static const struct {
	const char	*runtime;
	const char	*label;		/* for --print-ca */
	const char	*fix;
} runenv_fixes[] = {
	{ "curl", "curl", "curl --cacert {bundle}, or export "
	    "{CURL_CA_BUNDLE}" },
	{ "python", "Python", "export {REQUESTS_CA_BUNDLE} {SSL_CERT_FILE} "
	    "(or pass verify=\"{bundle}\"; aiohttp also needs "
	    "ClientSession(trust_env=True))" },
	{ "node", "Node", "export {NODE_EXTRA_CA_CERTS} and restart node "
	    "(oauthlens run -- CMD also sends fetch through the proxy)" },
	{ "go", "Go", "export {SSL_CERT_FILE}" },
	{ "java", "Java", "export {JAVA_TOOL_OPTIONS}" },
	{ "php", "PHP", "export {PHP_INI_SCAN_DIR}" },
	{ "ruby", "Ruby", "export {SSL_CERT_FILE}" },
	{ "git", "git", "export {GIT_SSL_CAINFO}" },
	{ "wget", "wget", "export {WGETRC}" },
	{ "deno", "Deno", "export {NODE_EXTRA_CA_CERTS}" },
	{ "bun", "Bun", "export {NODE_EXTRA_CA_CERTS}" },
	{ "browser", "browser", "import {ca} as a trusted CA in the browser "
	    "(Chrome/Chromium on Linux: certutil -d sql:$HOME/.pki/nssdb -A "
	    "-t C,, -n oauthlens -i {ca}; Firefox: Settings, Certificates, "
	    "Import)" },
	{ "unknown", NULL, "make the client trust {ca}: eval \"$(oauthlens "
	    "--env)\" sets the variable of every runtime, or start the app "
	    "with oauthlens run -- CMD" },
};

#define NVARS	(sizeof(runenv_vars) / sizeof(runenv_vars[0]))
#define NFIXES	(sizeof(runenv_fixes) / sizeof(runenv_fixes[0]))

/* The path made absolute when it exists, else as given. */
static void
abs_path(const char *path, char *out, size_t len)
{
	char	buf[PATH_MAX];

	if (realpath(path, buf) != NULL)
		snprintf(out, len, "%s", buf);
	else
		snprintf(out, len, "%s", path);
}

/* The Node preload: from the source tree when run from it (edits take
 * effect at once), else beside the binary, where CMake installs it. */
static void
find_preload(char *out, size_t len)
{
	char	buf[PATH_MAX], exe[PATH_MAX];
	ssize_t	n;

	out[0] = '\0';
	if (util_tree_path(PRELOAD_TREE, buf, sizeof(buf)) != NULL) {
		abs_path(buf, out, len);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return;
	exe[n] = '\0';
	snprintf(buf, sizeof(buf), "%s/%s", dirname(exe), PRELOAD_NAME);
	if (access(buf, R_OK) == 0)
		snprintf(out, len, "%s", buf);
}

void
runenv_init(struct runenv *re, const char *listen, const char *ca_path)
{
	char	dir[PATH_MAX];
	int	v6;

	memset(re, 0, sizeof(*re));
	if (listen == NULL || util_split_hostport(listen, re->re_host,
	    sizeof(re->re_host), &re->re_port) == -1) {
		snprintf(re->re_host, sizeof(re->re_host), "127.0.0.1");
		re->re_port = 8080;
	}
	if (strcmp(re->re_host, "0.0.0.0") == 0)
		snprintf(re->re_host, sizeof(re->re_host), "127.0.0.1");
	else if (strcmp(re->re_host, "::") == 0)
		snprintf(re->re_host, sizeof(re->re_host), "::1");
	v6 = strchr(re->re_host, ':') != NULL;
	snprintf(re->re_url, sizeof(re->re_url), "http://%s%s%s:%u",
	    v6 ? "[" : "", re->re_host, v6 ? "]" : "", re->re_port);
	snprintf(re->re_shown, sizeof(re->re_shown), "%s", re->re_url);
	abs_path(ca_path, re->re_ca, sizeof(re->re_ca));
	snprintf(dir, sizeof(dir), "%s", re->re_ca);
	snprintf(re->re_certs, sizeof(re->re_certs), "%s", dirname(dir));
	snprintf(re->re_bundle, sizeof(re->re_bundle), "%s/ca-bundle.pem",
	    re->re_certs);
	find_preload(re->re_preload, sizeof(re->re_preload));
}

/* Append s[0..n) to out percent-encoded: all but RFC 3986's unreserved
 * characters, so that every URL parser gives back the same bytes. */
static void
pct_cat(char *out, size_t len, const char *s, size_t n)
{
	static const char	hex[] = "0123456789ABCDEF";
	size_t			i, o = strlen(out);

	for (i = 0; i < n && o + 4 < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch) != NULL)
			out[o++] = (char)ch;
		else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
}

void
runenv_set_auth(struct runenv *re, const char *userpass)
{
	const char	*colon = strchr(userpass, ':');
	char		 user[200] = "", pass[2200] = "";
	int		 v6 = strchr(re->re_host, ':') != NULL;

	if (colon == NULL)
		return;
	pct_cat(user, sizeof(user), userpass, (size_t)(colon - userpass));
	pct_cat(pass, sizeof(pass), colon + 1, strlen(colon + 1));
	snprintf(re->re_url, sizeof(re->re_url), "http://%s:%s@%s%s%s:%u",
	    user, pass, v6 ? "[" : "", re->re_host, v6 ? "]" : "",
	    re->re_port);
	snprintf(re->re_shown, sizeof(re->re_shown), "http://%s:***@%s%s%s:%u",
	    user, v6 ? "[" : "", re->re_host, v6 ? "]" : "", re->re_port);
	OPENSSL_cleanse(pass, sizeof(pass));
	re->re_auth = 1;
}

/* A path as one word of a whitespace-split option list (NODE_OPTIONS,
 * JAVA_TOOL_OPTIONS): double-quoted when it holds a blank or quote. */
static void
opt_word(char *out, size_t len, const char *path)
{
	size_t	i, o = 0;

	if (strpbrk(path, " \t\n\"'\\") == NULL) {
		snprintf(out, len, "%s", path);
		return;
	}
	if (len < 3)
		return;
	out[o++] = '"';
	for (i = 0; path[i] != '\0' && o + 3 < len; i++) {
		if (path[i] == '"' || path[i] == '\\')
			out[o++] = '\\';
		out[o++] = path[i];
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* The value of a variable of the given kind, into buf. */
static const char *
var_value(const struct runenv *re, enum runenv_kind kind, char *buf,
    size_t len)
{
	char	w[PATH_MAX + 64], p[PATH_MAX + 32];

	switch (kind) {
	case RV_PROXY:
		snprintf(buf, len, "%s", re->re_url);
		break;
	case RV_NO_PROXY:
		snprintf(buf, len, "%s", NO_PROXY_LIST);
		break;
	case RV_BUNDLE:
		snprintf(buf, len, "%s", re->re_bundle);
		break;
	case RV_CA:
		snprintf(buf, len, "%s", re->re_ca);
		break;
	case RV_ONE:
		snprintf(buf, len, "1");
		break;
	case RV_NODE_OPTIONS:
		opt_word(w, sizeof(w), re->re_preload);
		snprintf(buf, len, "--require %s", w);
		break;
	case RV_JAVA:
		snprintf(p, sizeof(p), "%s/java-truststore.p12", re->re_certs);
		opt_word(w, sizeof(w), p);
		snprintf(buf, len, "-Dhttps.proxyHost=%s -Dhttps.proxyPort=%u "
		    "-Dhttp.proxyHost=%s -Dhttp.proxyPort=%u "
		    "-Dhttp.nonProxyHosts=localhost|127.0.0.1|[::1] "
		    "-Djavax.net.ssl.trustStore=%s "
		    "-Djavax.net.ssl.trustStorePassword=changeit "
		    "-Djavax.net.ssl.trustStoreType=PKCS12", re->re_host,
		    re->re_port, re->re_host, re->re_port, w);
		break;
	case RV_PHP:
		snprintf(buf, len, ":%s/php", re->re_certs);
		break;
	case RV_WGETRC:
		snprintf(buf, len, "%s/wgetrc", re->re_certs);
		break;
	}
	return buf;
}

/* Is the variable usable here? NODE_OPTIONS needs the preload file. */
static int
var_present(const struct runenv *re, size_t i)
{
	return runenv_vars[i].kind != RV_NODE_OPTIONS ||
	    re->re_preload[0] != '\0';
}

/* s as one shell word into out: bare when it is plain, else single-quoted
 * ('\'' for a quote). Truncated to len. */
static const char *
sh_quote(const char *s, char *out, size_t len)
{
	static const char plain[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:,@%+=-";
	size_t	o = 0;

	if (*s != '\0' && s[strspn(s, plain)] == '\0') {
		snprintf(out, len, "%s", s);
		return out;
	}
	if (len < 3)
		return "''";
	out[o++] = '\'';
	for (; *s != '\0' && o + 6 < len; s++) {
		if (*s == '\'') {
			memcpy(out + o, "'\\''", 4);
			o += 4;
		} else
			out[o++] = *s;
	}
	out[o++] = '\'';
	out[o] = '\0';
	return out;
}

void
runenv_print_env(const struct runenv *re, FILE *f)
{
	char	*v = xcalloc(2, RUNENV_VALUE_MAX);
	char	*q = v + RUNENV_VALUE_MAX;
	size_t	 i;

	for (i = 0; i < NVARS; i++) {
		if (!var_present(re, i))
			continue;
		var_value(re, runenv_vars[i].kind, v, RUNENV_VALUE_MAX);
		fprintf(f, "export %s=%s", runenv_vars[i].name,
		    sh_quote(v, q, RUNENV_VALUE_MAX));
		/* Keep options the shell already gives Node. */
		if (runenv_vars[i].kind == RV_NODE_OPTIONS)
			fprintf(f, "\"${%s:+ $%s}\"", runenv_vars[i].name,
			    runenv_vars[i].name);
		fputc('\n', f);
	}
	if (re->re_auth)
		fprintf(f, "# proxy_auth: the proxy variables carry its user "
		    "and password. Java takes none\n# from JAVA_TOOL_OPTIONS: "
		    "its app must answer the 407 (java.net.Authenticator,\n# "
		    "with -Djdk.http.auth.tunneling.disabledSchemes= for "
		    "HTTPS).\n");
	OPENSSL_cleanse(v, 2 * RUNENV_VALUE_MAX);
	free(v);
}

int
runenv_apply(const struct runenv *re)
{
	char		*v = xcalloc(1, RUNENV_VALUE_MAX), *both = NULL;
	const char	*old;
	size_t		 i;
	int		 rc = 0;

	for (i = 0; i < NVARS && rc == 0; i++) {
		if (!var_present(re, i))
			continue;
		var_value(re, runenv_vars[i].kind, v, RUNENV_VALUE_MAX);
		old = getenv(runenv_vars[i].name);
		if (runenv_vars[i].kind == RV_NODE_OPTIONS && old != NULL &&
		    *old != '\0' && strstr(old, re->re_preload) == NULL) {
			if (asprintf(&both, "%s %s", v, old) == -1) {
				rc = -1;
				break;
			}
			rc = setenv(runenv_vars[i].name, both, 1);
			free(both);
		} else if (runenv_vars[i].kind != RV_NODE_OPTIONS ||
		    old == NULL || strstr(old, re->re_preload) == NULL)
			rc = setenv(runenv_vars[i].name, v, 1);
	}
	OPENSSL_cleanse(v, RUNENV_VALUE_MAX);
	free(v);
	return rc;
}

/* The fix-table row for a runtime; unknown names get the last row. */
static size_t
fix_row(const char *runtime)
{
	size_t	i;

	/* "python-requests" is what recognition said before the names
	 * were fixed; it is python all the same. */
	if (runtime != NULL && strncmp(runtime, "python", 6) == 0)
		runtime = "python";
	for (i = 0; runtime != NULL && i < NFIXES - 1; i++)
		if (strcmp(runenv_fixes[i].runtime, runtime) == 0)
			return i;
	return NFIXES - 1;
}

/* Append n bytes of s to buf at *o, truncating at len. */
static void
put(char *buf, size_t len, size_t *o, const char *s, size_t n)
{
	if (*o + 1 >= len)
		return;
	if (n > len - 1 - *o)
		n = len - 1 - *o;
	memcpy(buf + *o, s, n);
	*o += n;
	buf[*o] = '\0';
}

const char *
runenv_fix(const char *runtime, const struct runenv *re, char *buf,
    size_t len)
{
	const char	*t = runenv_fixes[fix_row(runtime)].fix, *e;
	char		*v = xcalloc(2, RUNENV_VALUE_MAX);
	char		*q = v + RUNENV_VALUE_MAX;
	size_t		 o = 0, i, n;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	while (*t != '\0') {
		if (*t != '{' || (e = strchr(t, '}')) == NULL) {
			n = strcspn(t + 1, "{") + 1;
			put(buf, len, &o, t, n);
			t += n;
			continue;
		}
		n = (size_t)(e - t - 1);
		if (n == 2 && strncmp(t + 1, "ca", 2) == 0)
			put(buf, len, &o, re->re_ca, strlen(re->re_ca));
		else if (n == 6 && strncmp(t + 1, "bundle", 6) == 0)
			put(buf, len, &o, re->re_bundle, strlen(re->re_bundle));
		else
			for (i = 0; i < NVARS; i++) {
				if (strlen(runenv_vars[i].name) != n ||
				    strncmp(runenv_vars[i].name, t + 1, n) != 0)
					continue;
				var_value(re, runenv_vars[i].kind, v,
				    RUNENV_VALUE_MAX);
				sh_quote(v, q, RUNENV_VALUE_MAX);
				put(buf, len, &o, t + 1, n);
				put(buf, len, &o, "=", 1);
				put(buf, len, &o, q, strlen(q));
				break;
			}
		t = e + 1;
	}
	free(v);
	return buf;
}

void
runenv_print_trust(const struct runenv *re, FILE *f)
{
	char	fix[RUNENV_VALUE_MAX];
	size_t	i;

	fprintf(f, "oauthlens CA certificate: %s\n"
	    "The same plus the system store: %s\n\n"
	    "Start the app with `oauthlens run -- CMD` (for example oauthlens "
	    "run -- npm run dev),\nor eval \"$(oauthlens --env)\" in the shell "
	    "that starts it: either sets the proxy\n(%s, NO_PROXY=%s) and "
	    "what each runtime below needs.\n\n", re->re_ca, re->re_bundle,
	    re->re_shown, NO_PROXY_LIST);
	for (i = 0; i < NFIXES; i++) {
		if (runenv_fixes[i].label == NULL)
			continue;
		fprintf(f, "  %-7s %s\n", runenv_fixes[i].label,
		    runenv_fix(runenv_fixes[i].runtime, re, fix, sizeof(fix)));
	}
	fprintf(f, "\nNode, fetch and https:\n"
	    "  22.21+, 24.5+  Node itself (NODE_USE_ENV_PROXY=1)\n"
	    "  18, 20, older 22 and 24  the preload in NODE_OPTIONS:\n"
	    "                 %s\n"
	    "  every version  the preload, for agents an app makes itself\n"
	    "                 (simple-oauth2)\n"
	    "aiohttp: ClientSession(trust_env=True) reads the proxy and "
	    "SSL_CERT_FILE.\n"
	    "wget: reads WGETRC (%s/wgetrc).\n"
	    "PHP file_get_contents: a stream context with 'proxy' => "
	    "'tcp://%s%s%s:%u'\nand 'request_fulluri' => true.\n",
	    re->re_preload[0] != '\0' ? re->re_preload : "(not found)",
	    re->re_certs, strchr(re->re_host, ':') ? "[" : "", re->re_host,
	    strchr(re->re_host, ':') ? "]" : "", re->re_port);
}
