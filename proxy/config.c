#include <sys/socket.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "catalog.h"
#include "config.h"
#include "confkeys.h"
#include "json.h"
#include "parent.h"
#include "util.h"

struct cfgerr {
	char		*ce_buf;
	size_t		 ce_len;
	const char	*ce_file;
};

/* Report a problem at a node: "file:line:col: what". Returns -1. */
static int
fail_at(struct cfgerr *e, const struct json *j, int at_key, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static int
fail_at(struct cfgerr *e, const struct json *j, int at_key, const char *fmt,
    ...)
{
	va_list	ap;
	int	n;

	n = snprintf(e->ce_buf, e->ce_len, "%s:%u:%u: ", e->ce_file,
	    at_key ? j->j_kline : j->j_line, at_key ? j->j_kcol : j->j_col);
	if (n < 0 || (size_t)n >= e->ce_len)
		return -1;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): started above */
	vsnprintf(e->ce_buf + n, e->ce_len - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
cidr_match(const struct cidr *c, const uint8_t *addr)
{
	unsigned	full = c->ci_bits / 8, rest = c->ci_bits % 8;

	if (memcmp(c->ci_addr, addr, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((c->ci_addr[full] ^ addr[full]) & (0xff << (8 - rest))) == 0;
}

int
config_allowed(const struct config *cf, const struct sockaddr *sa)
{
	const uint8_t	*a4 = NULL, *a6 = NULL;
	size_t		 i;

	if (sa->sa_family == AF_INET)
		a4 = (const uint8_t *)
		    &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6) {
		a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		/* An IPv4-mapped address is judged as IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(
		    &((const struct sockaddr_in6 *)sa)->sin6_addr))
			a4 = a6 + 12;
	} else
		return 0;
	for (i = 0; i < cf->cf_nallow; i++) {
		const struct cidr *c = &cf->cf_allow[i];

		if (c->ci_family == AF_INET && a4 != NULL && cidr_match(c, a4))
			return 1;
		if (c->ci_family == AF_INET6 && a6 != NULL &&
		    cidr_match(c, a6))
			return 1;
	}
	return 0;
}

/*
 * Whether a Basic value (without "Basic ") is the credentials of want in
 * the Latin-1 that Python's requests and aiohttp encode them in: want's
 * UTF-8 decoded and compared with the value's bytes read as Latin-1.
 */
static int
proxy_auth_latin1(const char *want_b64, const char *v, size_t len)
{
	unsigned char	 w[800], g[800], u[1600];
	size_t		 i, n = 0;
	int		 gn, wn, ok;

	wn = util_b64_decode(want_b64, strlen(want_b64), w, sizeof(w));
	gn = util_b64_decode(v, len, g, sizeof(g));
	if (wn < 0 || gn < 0)
		return 0;
	for (i = 0; i < (size_t)gn; i++) {
		if (g[i] < 0x80)
			u[n++] = g[i];
		else {
			u[n++] = (unsigned char)(0xc0 | g[i] >> 6);
			u[n++] = (unsigned char)(0x80 | (g[i] & 0x3f));
		}
	}
	ok = n != (size_t)gn && n == (size_t)wn &&
	    CRYPTO_memcmp(u, w, n) == 0;
	OPENSSL_cleanse(w, sizeof(w));
	OPENSSL_cleanse(g, sizeof(g));
	OPENSSL_cleanse(u, sizeof(u));
	return ok;
}

int
config_proxy_auth_ok(const struct config *cf, const char *v, size_t len)
{
	const char	*want = cf->cf_proxy_auth;
	size_t		 wl;

	if (want == NULL)
		return 1;
	wl = strlen(want);
	/* The scheme is case-insensitive; the credentials compare in
	 * constant time. */
	if (v == NULL || len < 6 || strncasecmp(v, "basic ", 6) != 0)
		return 0;
	if (len == wl && CRYPTO_memcmp(v + 6, want + 6, wl - 6) == 0)
		return 1;
	return proxy_auth_latin1(want + 6, v + 6, len - 6);
}

int
config_proxy_userpass(const struct config *cf, char *buf, size_t len)
{
	const char	*b64;
	int		 n;

	if (cf->cf_proxy_auth == NULL || len == 0)
		return -1;
	b64 = cf->cf_proxy_auth + 6;
	n = util_b64_decode(b64, strlen(b64), (unsigned char *)buf, len - 1);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

int
config_connect_port_ok(const struct config *cf, uint16_t port)
{
	size_t	i;

	for (i = 0; i < cf->cf_nconnect_ports; i++)
		if (cf->cf_connect_ports[i] == port)
			return 1;
	return 0;
}

const struct resolve *
config_resolve(const struct config *cf, const char *host, uint16_t port)
{
	size_t	i;

	/* The later entry wins: "+" options come after the file's. */
	for (i = cf->cf_nresolve; i-- > 0; )
		if (cf->cf_resolve[i].rv_port == port &&
		    strcasecmp(cf->cf_resolve[i].rv_host, host) == 0)
			return &cf->cf_resolve[i];
	return NULL;
}

static int
want_type(struct cfgerr *e, const struct json *j, const char *key,
    enum json_type t)
{
	if (j->j_type == t)
		return 0;
	return fail_at(e, j, 0, "\"%s\" must be %s %s, not %s", key,
	    t == JSON_ARRAY || t == JSON_OBJECT ? "an" : "a",
	    json_type_name(t), json_type_name(j->j_type));
}

/* A JSON scalar as option text; NULL for other types. */
static const char *
json_text(const struct json *j)
{
	if (j->j_type == JSON_BOOL)
		return j->j_bool ? "true" : "false";
	if (j->j_type == JSON_STRING || j->j_type == JSON_NUMBER)
		return j->j_str;
	return NULL;
}

/* The JSON type a scalar key's value has. */
static enum json_type
json_kind(const struct confkey *k)
{
	switch (k->ck_kind) {
	case CK_BOOL:
		return JSON_BOOL;
	case CK_UINT:
	case CK_SIZE:
	case CK_SECONDS:
		return JSON_NUMBER;
	case CK_LIST:
		return JSON_ARRAY;
	default:
		return JSON_STRING;
	}
}

/* Set key k from its JSON value j, through the setter the command line
 * uses. */
static int
apply_json(struct cfgerr *e, struct config *cf, const struct confkey *k,
    const struct json *j)
{
	const struct json	*el;
	char			 what[128], why[256];
	size_t			 n = 0;

	if (want_type(e, j, k->ck_key, json_kind(k)) == -1)
		return -1;
	confkey_what(k, what, sizeof(what));
	if (k->ck_kind != CK_LIST) {
		if (confkey_set(cf, k, json_text(j), why, sizeof(why)) == 0)
			return 0;
		if (why[0] != '\0')
			return fail_at(e, j, 0, "\"%s\": %s", k->ck_key, why);
		return fail_at(e, j, 0, "\"%s\" must be %s", k->ck_key, what);
	}
	confkey_clear(cf, k);
	for (el = j->j_child; el != NULL; el = el->j_next, n++) {
		if (el->j_type != k->ck_elem)
			return fail_at(e, el, 0, "\"%s\" entries must be %ss",
			    k->ck_key, json_type_name(k->ck_elem));
		if (confkey_set(cf, k, json_text(el), why, sizeof(why)) == 0)
			continue;
		if (why[0] != '\0')
			return fail_at(e, el, 0, "\"%s\" in \"%s\": %s",
			    el->j_str, k->ck_key, why);
		return fail_at(e, el, 0, "\"%s\" is not %s", el->j_str,
		    what);
	}
	if (n < k->ck_min)
		return fail_at(e, j, 0, "\"%s\" needs at least %g %s",
		    k->ck_key, k->ck_min, k->ck_min == 1 ? "entry" : "entries");
	return 0;
}

/* The members of an object whose keys nest ("timeouts.idle"). */
static int
apply_object(struct cfgerr *e, struct config *cf, const struct json *obj)
{
	const struct confkey	*k;
	const struct json	*j;
	char			 name[128], expect[256];
	size_t			 plen = strlen(obj->j_key);

	if (want_type(e, obj, obj->j_key, JSON_OBJECT) == -1)
		return -1;
	for (j = obj->j_child; j != NULL; j = j->j_next) {
		snprintf(name, sizeof(name), "%s.%s", obj->j_key, j->j_key);
		if ((k = confkey_find(name)) != NULL) {
			if (apply_json(e, cf, k, j) == -1)
				return -1;
			continue;
		}
		expect[0] = '\0';
		for (k = confkeys; k->ck_key != NULL; k++) {
			size_t	n = strlen(expect);

			if (strncmp(k->ck_key, name, plen + 1) == 0)
				snprintf(expect + n, sizeof(expect) - n,
				    "%s%s", n ? ", " : "",
				    k->ck_key + plen + 1);
		}
		return fail_at(e, j, 1, "unknown key \"%s\" (expected %s)",
		    name, expect);
	}
	return 0;
}

/* Whether some key nests under this object name. */
static int
is_object_key(const char *key)
{
	const struct confkey	*k;
	size_t			 n = strlen(key);

	for (k = confkeys; k->ck_key != NULL; k++)
		if (strncmp(k->ck_key, key, n) == 0 && k->ck_key[n] == '.')
			return 1;
	return 0;
}

/* Apply one top-level member. */
static int
apply_key(struct cfgerr *e, struct config *cf, const struct json *j)
{
	const struct confkey	*k;

	if (strchr(j->j_key, '.') == NULL &&
	    (k = confkey_find(j->j_key)) != NULL)
		return apply_json(e, cf, k, j);
	if (is_object_key(j->j_key))
		return apply_object(e, cf, j);
	return fail_at(e, j, 1, "unknown key \"%s\"", j->j_key);
}

static struct config *
config_defaults(void)
{
	struct config	*cf = xcalloc(1, sizeof(*cf));

	cf->cf_refs = 1;
	confkeys_defaults(cf);
	return cf;
}

void
config_cli_add(struct config_cli *cli, const struct confkey *k,
    const char *val)
{
	struct cli_value	*v;

	v = realloc(cli->cc_vals, (cli->cc_nvals + 1) * sizeof(*v));
	if (v == NULL)
		abort();
	cli->cc_vals = v;
	v[cli->cc_nvals].cv_key = k;
	v[cli->cc_nvals++].cv_val = val;
}

void
config_cli_clear(struct config_cli *cli)
{
	size_t	i;

	for (i = 0; i < 3; i++) {
		free(cli->cc_proxy_env[i]);
		cli->cc_proxy_env[i] = NULL;
	}
	free(cli->cc_vals);
	cli->cc_vals = NULL;
	cli->cc_nvals = 0;
}

/* The command line over the file, by config_cli_add's rule: a list that
 * gets a value without "+" starts empty, then every value is set in the
 * order given. Errors are "--option value: expected ...". */
static int
apply_cli(struct config *cf, const struct config_cli *cli, char *err,
    size_t errlen)
{
	const struct cli_value	*v;
	const char		*s;
	char			 what[128], why[256];
	size_t			 i, j;

	for (i = 0; i < cli->cc_nvals; i++) {
		v = &cli->cc_vals[i];
		if (v->cv_key->ck_kind != CK_LIST || v->cv_val[0] == '+')
			continue;
		/* Only the first plain value of a key empties its list. */
		for (j = 0; j < i; j++)
			if (cli->cc_vals[j].cv_key == v->cv_key &&
			    cli->cc_vals[j].cv_val[0] != '+')
				break;
		if (j == i)
			confkey_clear(cf, v->cv_key);
	}
	for (i = 0; i < cli->cc_nvals; i++) {
		v = &cli->cc_vals[i];
		s = v->cv_val;
		if (v->cv_key->ck_kind == CK_LIST && s[0] == '+')
			s++;
		if (confkey_set(cf, v->cv_key, s, why, sizeof(why)) == -1) {
			if (why[0] == '\0')
				snprintf(why, sizeof(why), "expected %s",
				    confkey_what(v->cv_key, what,
				    sizeof(what)));
			snprintf(err, errlen, "--%s %s: %s",
			    v->cv_key->ck_flag, v->cv_key->ck_secret ?
			    "(value not repeated: it may hold a password)" :
			    v->cv_val, why);
			return -1;
		}
	}
	return 0;
}

/* A relative "messages" in the file is relative to the file. */
static void
messages_beside(struct config *cf)
{
	char		 buf[4096];
	const char	*slash = strrchr(cf->cf_path, '/');

	if (cf->cf_messages == NULL || cf->cf_messages[0] == '/' ||
	    slash == NULL)
		return;
	snprintf(buf, sizeof(buf), "%.*s%s", (int)(slash - cf->cf_path + 1),
	    cf->cf_path, cf->cf_messages);
	free(cf->cf_messages);
	cf->cf_messages = xstrdup(buf);
}

static int
load_catalog(struct config *cf, char *err, size_t errlen)
{
	char		 buf[4096];
	const char	*slash = cf->cf_path ? strrchr(cf->cf_path, '/') : NULL;
	int		 dirlen = slash ? (int)(slash - cf->cf_path + 1) : 0;

	if (cf->cf_messages == NULL) {
		/* Beside the config file, else the tree's catalog. */
		snprintf(buf, sizeof(buf), "%.*smessages.json", dirlen,
		    cf->cf_path ? cf->cf_path : "");
		if ((cf->cf_path != NULL && access(buf, R_OK) == 0) ||
		    util_tree_path("conf/messages.json", buf, sizeof(buf)))
			cf->cf_messages = xstrdup(buf);
		else {
			snprintf(err, errlen, "cannot find messages.json (the "
			    "hint catalog); set \"messages\" in the config");
			return -1;
		}
	}
	cf->cf_catalog = catalog_load(cf->cf_messages, err, errlen);
	return cf->cf_catalog == NULL ? -1 : 0;
}

struct config *
config_load(const struct config_cli *cli, char *err, size_t errlen)
{
	struct config		*cf = config_defaults();
	struct json		*root = NULL;
	const struct json	*j;
	struct cfgerr		 e = { err, errlen, cli->cc_config };

	if (cli->cc_config != NULL) {
		cf->cf_path = xstrdup(cli->cc_config);
		root = json_load_file(cli->cc_config, err, errlen);
		if (root == NULL)
			goto fail;
		if (root->j_type != JSON_OBJECT) {
			fail_at(&e, root, 0, "the configuration must be a JSON "
			    "object");
			goto fail;
		}
		for (j = root->j_child; j != NULL; j = j->j_next)
			if (apply_key(&e, cf, j) == -1)
				goto fail;
		json_free(root);
		root = NULL;
		messages_beside(cf);
	}
	if (apply_cli(cf, cli, err, errlen) == -1)
		goto fail;
	if (load_catalog(cf, err, errlen) == -1)
		goto fail;
	if (parent_config(cf, cli->cc_proxy_env_kept ?
	    (const char *const *)cli->cc_proxy_env : NULL, err, errlen) == -1)
		goto fail;
	if (cf->cf_listen.sl_n == 0) {
		snprintf(err, errlen, "%s: no listen address",
		    cli->cc_config ? cli->cc_config : "configuration");
		goto fail;
	}
	return cf;
fail:
	json_free(root);
	config_unref(cf);
	return NULL;
}

struct config *
config_ref(struct config *cf)
{
	cf->cf_refs++;
	return cf;
}

void
config_unref(struct config *cf)
{
	const struct confkey	*k;

	if (cf == NULL || --cf->cf_refs > 0)
		return;
	for (k = confkeys; k->ck_key != NULL; k++)
		confkey_free(cf, k);
	/* Made from upstream_proxy, not keys of their own. */
	parent_free(cf->cf_parent_http);
	parent_free(cf->cf_parent_tunnel);
	free(cf->cf_path);
	catalog_free(cf->cf_catalog);
	free(cf);
}
