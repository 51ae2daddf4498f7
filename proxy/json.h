/*
 * A small JSON document tree for configuration files (the config and the
 * hint catalog), built from yajl's event API with comments allowed. Every
 * node remembers the line and column where it starts, so that every later
 * semantic error can name file:line:column. Not for network input.
 */
#ifndef OAUTHLENS_JSON_H
#define OAUTHLENS_JSON_H

#include <stddef.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING,
	JSON_ARRAY, JSON_OBJECT };

struct json {
	enum json_type	 j_type;
	unsigned	 j_line, j_col;		/* where the value starts */
	char		*j_key;			/* owned: member name */
	unsigned	 j_kline, j_kcol;	/* where that name starts */
	int		 j_bool;
	char		*j_str;			/* owned: string, number */
	size_t		 j_len;
	struct json	*j_child;		/* owned: first child */
	struct json	*j_next;		/* owned: next sibling */
	struct json	*j_parent;		/* borrowed */
};

/* Parse a whole file. On failure returns NULL and writes
 * "file:line:column: reason" into err. The tree is owned by the caller. */
struct json	*json_load_file(const char *path, char *err, size_t errlen);

/* Parse a buffer; name is used in error messages. Same contract. */
struct json	*json_parse(const char *buf, size_t len, const char *name,
		    char *err, size_t errlen);

/* Free a tree (NULL ok). */
void		 json_free(struct json *j);

/* Member of an object by name, or NULL. */
const struct json *json_get(const struct json *obj, const char *key);

/* Human name of a node type ("string", "object", ...). */
const char	*json_type_name(enum json_type t);

#endif
