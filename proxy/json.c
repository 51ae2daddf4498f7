#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "json.h"
#include "util.h"

#define JSON_MAX_DEPTH	32
#define JSON_MAX_FILE	(4u << 20)

struct builder {
	const char	*b_buf;
	size_t		 b_len;
	size_t		 b_prev;		/* just past the last token */
	yajl_handle	 b_yajl;
	struct json	*b_root;
	struct json	*b_cur;		/* open container */
	struct json	*b_last;	/* last child of b_cur */
	char		*b_key;		/* pending member name */
	unsigned	 b_kline, b_kcol;
	int		 b_depth;
	int		 b_completing;	/* in yajl_complete_parse() */
	size_t		 b_poff;	/* position_at(): scanned so far */
	unsigned	 b_pline, b_pcol;
	const char	*b_err;
};

/* Offset -> 1-based line and column (columns count bytes). Tokens come
 * in order, so the scan resumes where the previous one stopped: linear in
 * the document, not quadratic. */
static void
position_at(struct builder *b, size_t off, unsigned *line, unsigned *col)
{
	if (off < b->b_poff) {
		b->b_poff = 0;
		b->b_pline = b->b_pcol = 1;
	}
	for (; b->b_poff < off; b->b_poff++) {
		if (b->b_buf[b->b_poff] == '\n') {
			b->b_pline++;
			b->b_pcol = 1;
		} else
			b->b_pcol++;
	}
	*line = b->b_pline;
	*col = b->b_pcol;
}

/* Start of the token that ends at the parser's current offset: the first
 * byte after the previous token that is not whitespace, a separator or a
 * comment. */
static size_t
token_start(struct builder *b)
{
	size_t	i = b->b_prev, end = yajl_get_bytes_consumed(b->b_yajl);

	/* yajl_complete_parse() counts from zero again: a top-level
	 * number ends the document. */
	if (b->b_completing || end < i)
		end = b->b_len;
	while (i < end) {
		char	c = b->b_buf[i];

		/* yajl's whitespace includes \v and \f. */
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
		    c == '\v' || c == '\f' || c == ',' || c == ':')
			i++;
		else if (c == '/' && i + 1 < end && b->b_buf[i + 1] == '/') {
			while (i < end && b->b_buf[i] != '\n')
				i++;
		} else if (c == '/' && i + 1 < end && b->b_buf[i + 1] == '*') {
			i += 2;
			while (i + 1 < end && !(b->b_buf[i] == '*' &&
			    b->b_buf[i + 1] == '/'))
				i++;
			i += 2;
		} else
			break;
	}
	b->b_prev = end;
	return i;
}

static struct json *
add(struct builder *b, enum json_type t)
{
	struct json	*j;

	j = xcalloc(1, sizeof(*j));
	j->j_type = t;
	position_at(b, token_start(b), &j->j_line, &j->j_col);
	if (b->b_cur == NULL) {
		b->b_root = j;
		return j;
	}
	j->j_parent = b->b_cur;
	if (b->b_cur->j_type == JSON_OBJECT) {
		j->j_key = b->b_key;
		j->j_kline = b->b_kline;
		j->j_kcol = b->b_kcol;
		b->b_key = NULL;
	}
	if (b->b_last == NULL)
		b->b_cur->j_child = j;
	else
		b->b_last->j_next = j;
	b->b_last = j;
	return j;
}

static int
cb_null(void *ctx)
{
	add(ctx, JSON_NULL);
	return 1;
}

static int
cb_bool(void *ctx, int v)
{
	add(ctx, JSON_BOOL)->j_bool = v;
	return 1;
}

static int
cb_number(void *ctx, const char *s, size_t len)
{
	struct json	*j = add(ctx, JSON_NUMBER);

	j->j_str = xstrndup(s, len);
	j->j_len = len;
	return 1;
}

static int
cb_string(void *ctx, const unsigned char *s, size_t len)
{
	struct json	*j = add(ctx, JSON_STRING);

	if (memchr(s, '\0', len) != NULL) {
		((struct builder *)ctx)->b_err = "string contains NUL";
		return 0;
	}
	j->j_str = xstrndup((const char *)s, len);
	j->j_len = len;
	return 1;
}

static int
open_container(struct builder *b, enum json_type t)
{
	struct json	*j;

	if (++b->b_depth > JSON_MAX_DEPTH) {
		b->b_err = "nested too deeply";
		return 0;
	}
	j = add(b, t);
	b->b_cur = j;
	b->b_last = NULL;
	return 1;
}

static int
close_container(struct builder *b)
{
	struct json	*j = b->b_cur;

	b->b_prev = yajl_get_bytes_consumed(b->b_yajl);
	b->b_depth--;
	b->b_cur = j->j_parent;
	b->b_last = j;
	return 1;
}

static int
cb_start_map(void *ctx)
{
	return open_container(ctx, JSON_OBJECT);
}

static int
cb_map_key(void *ctx, const unsigned char *s, size_t len)
{
	struct builder	*b = ctx;
	struct json	*m;

	position_at(b, token_start(b), &b->b_kline, &b->b_kcol);
	for (m = b->b_cur->j_child; m != NULL; m = m->j_next)
		if (strlen(m->j_key) == len && memcmp(m->j_key, s, len) == 0) {
			b->b_err = "duplicate key";
			return 0;
		}
	if (memchr(s, '\0', len) != NULL) {
		b->b_err = "key contains NUL";
		return 0;
	}
	b->b_key = xstrndup((const char *)s, len);
	return 1;
}

static int
cb_start_array(void *ctx)
{
	return open_container(ctx, JSON_ARRAY);
}

static int
cb_end(void *ctx)
{
	return close_container(ctx);
}

static const yajl_callbacks builder_callbacks = {
	cb_null, cb_bool, NULL, NULL, cb_number, cb_string,
	cb_start_map, cb_map_key, cb_end, cb_start_array, cb_end
};

void
json_free(struct json *j)
{
	struct json	*next;

	while (j != NULL) {
		next = j->j_next;
		json_free(j->j_child);
		free(j->j_key);
		free(j->j_str);
		free(j);
		j = next;
	}
}

struct json *
json_parse(const char *buf, size_t len, const char *name, char *err,
    size_t errlen)
{
	struct builder	b;
	yajl_status	st;
	unsigned	line, col;

	memset(&b, 0, sizeof(b));
	b.b_pline = b.b_pcol = 1;
	b.b_buf = buf;
	b.b_len = len;
	b.b_yajl = yajl_alloc(&builder_callbacks, NULL, &b);
	if (b.b_yajl == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	yajl_config(b.b_yajl, yajl_allow_comments, 1);
	st = yajl_parse(b.b_yajl, (const unsigned char *)buf, len);
	if (st == yajl_status_ok) {
		b.b_completing = 1;
		st = yajl_complete_parse(b.b_yajl);
	}
	if (st != yajl_status_ok) {
		size_t		 off = yajl_get_bytes_consumed(b.b_yajl);
		const char	*why = b.b_err;
		unsigned char	*msg = NULL;

		if (st == yajl_status_client_canceled && b.b_err != NULL &&
		    strcmp(b.b_err, "duplicate key") == 0) {
			line = b.b_kline;
			col = b.b_kcol;
		} else {
			/* yajl counts the offending byte as consumed. */
			if (off > len)
				off = len;
			position_at(&b, off > 0 && st == yajl_status_error ?
			    off - 1 : off, &line, &col);
		}
		if (why == NULL) {
			msg = yajl_get_error(b.b_yajl, 0, NULL, 0);
			why = msg != NULL ? (const char *)msg : "syntax error";
		}
		snprintf(err, errlen, "%s:%u:%u: %s", name, line, col, why);
		/* yajl's messages end with a newline. */
		for (size_t n = strlen(err); n > 0 && (err[n - 1] == '\n' ||
		    err[n - 1] == ' '); n--)
			err[n - 1] = '\0';
		if (msg != NULL)
			yajl_free_error(b.b_yajl, msg);
		yajl_free(b.b_yajl);
		free(b.b_key);
		json_free(b.b_root);
		return NULL;
	}
	yajl_free(b.b_yajl);
	if (b.b_root == NULL) {
		snprintf(err, errlen, "%s:1:1: empty document", name);
		return NULL;
	}
	return b.b_root;
}

struct json *
json_load_file(const char *path, char *err, size_t errlen)
{
	FILE		*f;
	char		*buf;
	size_t		 n;
	struct json	*j;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(JSON_MAX_FILE);
	if (buf == NULL) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	n = fread(buf, 1, JSON_MAX_FILE, f);
	if (ferror(f) || n == JSON_MAX_FILE) {
		snprintf(err, errlen, "%s: %s", path, ferror(f) ?
		    strerror(errno) : "file too large");
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	j = json_parse(buf, n, path, err, errlen);
	free(buf);
	return j;
}

const struct json *
json_get(const struct json *obj, const char *key)
{
	const struct json	*m;

	if (obj == NULL || obj->j_type != JSON_OBJECT)
		return NULL;
	for (m = obj->j_child; m != NULL; m = m->j_next)
		if (strcmp(m->j_key, key) == 0)
			return m;
	return NULL;
}

const char *
json_type_name(enum json_type t)
{
	static const char *const names[] = { "null", "boolean", "number",
		"string", "array", "object" };

	return names[t];
}
