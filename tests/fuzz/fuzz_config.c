/*
 * Fuzz the configuration loaders: proxy/json (the positioned tree), then
 * the same bytes as a config file (config_load) and as a hint catalog
 * (catalog_load).  The files live in a private directory,
 * /tmp/oauthlens-fuzz-config.<pid>/, beside a small valid catalog so that
 * a valid config gets as far as it can.
 *
 * Invariants: a parsed tree is well-formed (keys exactly on object
 * members, strings as long as they say, parents right, depth bounded) and
 * every node's line:column points at the first byte of its token; a parse
 * error is "file:line:col: reason" with the position inside the input;
 * config_load and catalog_load fail with the very message json_parse
 * gives for malformed JSON, and otherwise with "file:line:col: reason"
 * naming the config file (or the catalog it names); what loads is
 * complete (listen addresses, every required hint in both languages), its
 * lookups agree with its tables, and its values given back as options
 * change nothing.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "config.h"
#include "confkeys.h"
#include "fuzz.h"
#include "json.h"
#include "util.h"

#define FC_MAX_DEPTH	32
#define FC_PREFIX	"/tmp/oauthlens-fuzz-config."

static char	fc_dir[64], fc_conf[96], fc_cat[96];

/* Lines of the input, to turn line:col back into an offset. */
struct fc_lines {
	const char	*l_buf;
	size_t		 l_len;
	size_t		*l_start;	/* offset of each line */
	size_t		 l_n;
};

/* Remove the directory of process pid (ours at exit, or a dead one's). */
static void
fc_remove(long pid)
{
	char	path[96];

	snprintf(path, sizeof(path), "%s%ld/oauthlens.conf", FC_PREFIX, pid);
	unlink(path);
	snprintf(path, sizeof(path), "%s%ld/messages.json", FC_PREFIX, pid);
	unlink(path);
	snprintf(path, sizeof(path), "%s%ld", FC_PREFIX, pid);
	rmdir(path);
}

static void
fc_cleanup(void)
{
	fc_remove((long)getpid());
}

/* A crash skips atexit: remove what dead runs of this target left. */
static void
fc_sweep(void)
{
	DIR		*d;
	struct dirent	*e;
	const char	*base = strrchr(FC_PREFIX, '/') + 1;
	char		*end;
	long		 pid;

	if ((d = opendir("/tmp")) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, base, strlen(base)) != 0)
			continue;
		pid = strtol(e->d_name + strlen(base), &end, 10);
		if (*end == '\0' && pid > 0 && kill((pid_t)pid, 0) == -1 &&
		    errno == ESRCH)
			fc_remove(pid);
	}
	closedir(d);
}

static void
fc_write(const char *path, const void *p, size_t len)
{
	FILE	*f = fopen(path, "wb");

	FZ_ASSERT(f != NULL);
	FZ_ASSERT(len == 0 || fwrite(p, 1, len, f) == len);
	FZ_ASSERT(fclose(f) == 0);
}

/* Make the private directory and put a small valid catalog in it, made
 * from catalog_required[] so that it stays valid when that list grows. */
static void
fc_init(void)
{
	static int	 done;
	FILE		*f;
	size_t		 i;
	int		 l;

	if (done)
		return;
	done = 1;
	fc_sweep();
	snprintf(fc_dir, sizeof(fc_dir), "%s%ld", FC_PREFIX, (long)getpid());
	snprintf(fc_conf, sizeof(fc_conf), "%s/oauthlens.conf", fc_dir);
	snprintf(fc_cat, sizeof(fc_cat), "%s/messages.json", fc_dir);
	if (mkdir(fc_dir, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "fuzz_config: %s: %s\n", fc_dir,
		    strerror(errno));
		exit(1);
	}
	atexit(fc_cleanup);
	f = fopen(fc_cat, "w");
	FZ_ASSERT(f != NULL);
	fputs("{", f);
	for (i = 0; catalog_required[i] != NULL; i++) {
		fprintf(f, "%s\"%s\": {", i ? "," : "", catalog_required[i]);
		for (l = 0; l < 2; l++)
			fprintf(f, "%s\"%s\": {\"title\": \"t\", \"hint\": "
			    "\"h\", \"doc\": \"https://example.com/\"}",
			    l ? "," : "", l ? "en" : "ja");
		fputs("}", f);
	}
	fputs("}\n", f);
	FZ_ASSERT(fclose(f) == 0);
}

static void
fc_lines_init(struct fc_lines *l, const char *buf, size_t len)
{
	size_t	i;

	l->l_buf = buf;
	l->l_len = len;
	l->l_start = malloc((len + 2) * sizeof(size_t));
	FZ_ASSERT(l->l_start != NULL);
	l->l_n = 0;
	l->l_start[l->l_n++] = 0;
	for (i = 0; i < len; i++)
		if (buf[i] == '\n')
			l->l_start[l->l_n++] = i + 1;
}

/* The offset of line:col (1-based, bytes); line and col in range. */
static size_t
fc_offset(const struct fc_lines *l, unsigned line, unsigned col)
{
	size_t	start, end;

	FZ_ASSERT(line >= 1 && line <= l->l_n && col >= 1);
	start = l->l_start[line - 1];
	end = line < l->l_n ? l->l_start[line] : l->l_len + 1;
	FZ_ASSERT(start + col - 1 < end);
	return start + col - 1;
}

/* The byte a value of this type starts with. */
static int
fc_starts(enum json_type t, char c)
{
	switch (t) {
	case JSON_NULL:
		return c == 'n';
	case JSON_BOOL:
		return c == 't' || c == 'f';
	case JSON_NUMBER:
		return c == '-' || (c >= '0' && c <= '9');
	case JSON_STRING:
		return c == '"';
	case JSON_ARRAY:
		return c == '[';
	case JSON_OBJECT:
		return c == '{';
	}
	return 0;
}

static void
fc_check_tree(const struct json *j, const struct json *parent, int depth,
    const struct fc_lines *l)
{
	const struct json	*c, *d;
	size_t			 off;

	FZ_ASSERT(depth <= FC_MAX_DEPTH + 1);
	FZ_ASSERT(j->j_parent == parent);
	off = fc_offset(l, j->j_line, j->j_col);
	FZ_ASSERT(off < l->l_len && fc_starts(j->j_type, l->l_buf[off]));
	if (parent != NULL && parent->j_type == JSON_OBJECT) {
		FZ_ASSERT(j->j_key != NULL);
		off = fc_offset(l, j->j_kline, j->j_kcol);
		FZ_ASSERT(off < l->l_len && l->l_buf[off] == '"');
		/* Positions run forward: the key before its value. */
		FZ_ASSERT(j->j_kline < j->j_line || (j->j_kline == j->j_line &&
		    j->j_kcol < j->j_col));
	} else
		FZ_ASSERT(j->j_key == NULL);
	switch (j->j_type) {
	case JSON_STRING:
		FZ_ASSERT(j->j_str != NULL && strlen(j->j_str) == j->j_len);
		break;
	case JSON_NUMBER:
		FZ_ASSERT(j->j_str != NULL && j->j_len > 0 &&
		    strlen(j->j_str) == j->j_len);
		break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		for (c = j->j_child; c != NULL; c = c->j_next) {
			fc_check_tree(c, j, depth + 1, l);
			if (j->j_type != JSON_OBJECT)
				continue;
			FZ_ASSERT(json_get(j, c->j_key) != NULL);
			for (d = c->j_next; d != NULL; d = d->j_next)
				FZ_ASSERT(strcmp(c->j_key, d->j_key) != 0);
		}
		break;
	case JSON_NULL:
	case JSON_BOOL:
		FZ_ASSERT(j->j_child == NULL);
		break;
	default:
		FZ_ASSERT(0);
	}
	FZ_ASSERT(strcmp(json_type_name(j->j_type), "") != 0);
}

/*
 * err is "name:line:col: reason" with line:col inside the input.
 * Returns 1 if it is, 0 if it does not even start with "name:".
 */
static int
fc_positioned(const char *err, const char *name, const struct fc_lines *l)
{
	size_t		 n = strlen(name);
	unsigned long	 line, col;
	char		*end;

	if (strncmp(err, name, n) != 0 || err[n] != ':')
		return 0;
	line = strtoul(err + n + 1, &end, 10);
	FZ_ASSERT(end > err + n + 1 && *end == ':');
	col = strtoul(end + 1, &end, 10);
	FZ_ASSERT(*end == ':' && end[1] == ' ' && end[2] != '\0');
	if (l != NULL)
		(void)fc_offset(l, (unsigned)line, (unsigned)col);
	return 1;
}

/* A "messages" key that names anything but a file in our directory would
 * make config_load open arbitrary paths (devices, FIFOs): skip those. */
static int
fc_messages_safe(const struct json *root)
{
	const struct json	*m = json_get(root, "messages");

	return m == NULL || m->j_type != JSON_STRING ||
	    strchr(m->j_str, '/') == NULL;
}

/* The run-time lookups of a loaded config agree with its tables. */
static void
fc_lookups(const struct config *cf)
{
	struct sockaddr_in	 s4;
	struct sockaddr_in6	 s6;
	struct sockaddr		 sx;
	size_t			 i;
	int			 want;

	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_addr.s_addr = htonl(0x7f000001);
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_addr.s6_addr[15] = 1;
	memset(&sx, 0, sizeof(sx));
	sx.sa_family = AF_UNIX;
	FZ_ASSERT(!config_allowed(cf, &sx));
	if (config_allowed(cf, (struct sockaddr *)&s4) ||
	    config_allowed(cf, (struct sockaddr *)&s6))
		FZ_ASSERT(cf->cf_nallow > 0);
	/* ::ffff:127.0.0.1 is judged as 127.0.0.1. */
	s6.sin6_addr.s6_addr[10] = s6.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&s6.sin6_addr.s6_addr[12], &s4.sin_addr, 4);
	if (config_allowed(cf, (struct sockaddr *)&s4))
		FZ_ASSERT(config_allowed(cf, (struct sockaddr *)&s6));
	for (want = 0, i = 0; i < cf->cf_nconnect_ports; i++)
		want |= cf->cf_connect_ports[i] == 443;
	FZ_ASSERT(config_connect_port_ok(cf, 443) == want);
	for (i = 0; i < cf->cf_nresolve; i++)
		FZ_ASSERT(config_resolve(cf, cf->cf_resolve[i].rv_host,
		    cf->cf_resolve[i].rv_port) != NULL);
}

/*
 * The setters and the text form agree: giving a loaded config's own
 * scalar values back as options changes nothing (every key, including
 * fuzzed numbers such as 1e3 or 0.0015 seconds, reads back the same).
 */
static void
fc_cli_same(const struct config *cf)
{
	const struct confkey	*k;
	struct config_cli	 cli;
	struct config		*again;
	char			 (*vals)[512], a[512], b[512], err[1024];
	size_t			 n = 0;

	for (k = confkeys; k->ck_key != NULL; k++)
		n++;
	vals = calloc(n, sizeof(*vals));
	FZ_ASSERT(vals != NULL);
	memset(&cli, 0, sizeof(cli));
	cli.cc_config = fc_conf;
	for (k = confkeys, n = 0; k->ck_key != NULL; k++, n++) {
		if (k->ck_flag == NULL || k->ck_kind == CK_LIST)
			continue;
		confkey_text(cf, k, vals[n], sizeof(vals[n]));
		/* An unset string has no option text. */
		if (k->ck_kind == CK_STRING && vals[n][0] == '\0')
			continue;
		config_cli_add(&cli, k, vals[n]);
	}
	again = config_load(&cli, err, sizeof(err));
	FZ_ASSERT(again != NULL);
	for (k = confkeys; k->ck_key != NULL; k++) {
		confkey_text(cf, k, a, sizeof(a));
		confkey_text(again, k, b, sizeof(b));
		FZ_ASSERT(strcmp(a, b) == 0);
		/* Numbers exactly, not only as printed. */
		if (k->ck_kind == CK_UINT || k->ck_kind == CK_SECONDS)
			FZ_ASSERT(memcmp((const char *)cf + k->ck_off,
			    (const char *)again + k->ck_off,
			    sizeof(unsigned)) == 0);
		if (k->ck_kind == CK_SIZE)
			FZ_ASSERT(memcmp((const char *)cf + k->ck_off,
			    (const char *)again + k->ck_off,
			    sizeof(size_t)) == 0);
	}
	config_unref(again);
	config_cli_clear(&cli);
	free(vals);
}

static void
fc_config(const struct json *root, const char *jerr,
    const struct fc_lines *l)
{
	struct config_cli	 cli;
	struct config		*cf;
	const struct json	*m;
	char			 err[1024], cat[256];
	size_t			 i;

	memset(&cli, 0, sizeof(cli));
	cli.cc_config = fc_conf;
	err[0] = '\0';
	cf = config_load(&cli, err, sizeof(err));
	if (cf != NULL) {
		FZ_ASSERT(root != NULL && root->j_type == JSON_OBJECT);
		FZ_ASSERT(cf->cf_listen.sl_n > 0 && cf->cf_catalog != NULL);
		FZ_ASSERT(cf->cf_header_name != NULL &&
		    cf->cf_header_name[0] != '\0');
		FZ_ASSERT(cf->cf_max_connections > 0 &&
		    cf->cf_inspect_max_bytes >= 1024);
		FZ_ASSERT(cf->cf_to_connect_ms > 0 && cf->cf_to_header_ms > 0 &&
		    cf->cf_to_idle_ms > 0 && cf->cf_to_drain_ms > 0);
		for (i = 0; catalog_required[i] != NULL; i++) {
			FZ_ASSERT(catalog_lookup(cf->cf_catalog,
			    catalog_required[i], LANG_JA) != NULL);
			FZ_ASSERT(catalog_lookup(cf->cf_catalog,
			    catalog_required[i], LANG_EN) != NULL);
		}
		fc_lookups(cf);
		fc_cli_same(cf);
		config_unref(config_ref(cf));
		config_unref(cf);
		return;
	}
	FZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
	if (root == NULL) {
		/* Malformed JSON: the message json_parse gives. */
		FZ_ASSERT(strcmp(err, jerr) == 0);
		return;
	}
	if (fc_positioned(err, fc_conf, l))
		return;
	/* Otherwise the catalog it uses is at fault. */
	m = json_get(root, "messages");
	if (m != NULL && m->j_type == JSON_STRING)
		snprintf(cat, sizeof(cat), "%s/%s", fc_dir, m->j_str);
	else
		snprintf(cat, sizeof(cat), "%s", fc_cat);
	FZ_ASSERT(strncmp(err, cat, strlen(cat)) == 0 &&
	    err[strlen(cat)] == ':');
}

static void
fc_catalog(const struct json *root, const char *jerr,
    const struct fc_lines *l)
{
	struct catalog		*cat;
	const struct hint	*h;
	char			 err[1024];
	size_t			 i;
	int			 lang;

	err[0] = '\0';
	cat = catalog_load(fc_conf, err, sizeof(err));
	if (cat == NULL) {
		FZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL);
		if (root == NULL)
			FZ_ASSERT(strcmp(err, jerr) == 0);
		else
			FZ_ASSERT(fc_positioned(err, fc_conf, l));
		return;
	}
	FZ_ASSERT(root != NULL && root->j_type == JSON_OBJECT);
	for (i = 0; catalog_required[i] != NULL; i++)
		for (lang = LANG_JA; lang <= LANG_EN; lang++) {
			h = catalog_lookup(cat, catalog_required[i], lang);
			FZ_ASSERT(h != NULL && h->hi_title[0] != '\0' &&
			    h->hi_text[0] != '\0' &&
			    strncmp(h->hi_doc, "https://", 8) == 0);
		}
	FZ_ASSERT(catalog_lookup(cat, "", LANG_EN) == NULL ||
	    json_get(root, "") != NULL);
	catalog_free(cat);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fc_lines	 l;
	struct json	*root;
	char		 jerr[1024], *buf;

	fc_init();
	buf = fz_dup(data, size);
	fc_lines_init(&l, buf, size);
	jerr[0] = '\0';
	root = json_parse(buf, size, fc_conf, jerr, sizeof(jerr));
	if (root != NULL)
		fc_check_tree(root, NULL, 0, &l);
	else
		FZ_ASSERT(fc_positioned(jerr, fc_conf, &l));
	fc_write(fc_conf, buf, size);
	if (root == NULL || fc_messages_safe(root))
		fc_config(root, jerr, &l);
	fc_catalog(root, jerr, &l);
	json_free(root);
	free(l.l_start);
	free(buf);
	return 0;
}
