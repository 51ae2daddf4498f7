/*
 * RFC 9651 Structured Field Values: the serializers for the subset
 * oauthlens emits (Token, String, Display String, Integer, parameters)
 * and a Display String parser for round-trip tests and fuzzing.
 *
 * Every serializer appends to a caller-owned evbuffer and is atomic:
 * on -1 nothing has been appended.  Nothing here keeps state.
 */
#ifndef OAUTHLENS_SFV_H
#define OAUTHLENS_SFV_H

#include <stddef.h>

struct evbuffer;

/* One extra Token-valued parameter for sfv_annotation(); both borrowed. */
struct sfv_param {
	const char	*sp_key;	/* RFC 9651 key, e.g. "cause" */
	const char	*sp_token;	/* value, serialized as a Token */
};

/* Append tok[0..len) as a Token; -1 if it is not an sf-token. */
int	sfv_add_token(struct evbuffer *out, const char *tok, size_t len);

/* Append s[0..len) as a String ("…", \ and " escaped); -1 if any byte is
 * outside 0x20-0x7e. */
int	sfv_add_string(struct evbuffer *out, const char *s, size_t len);

/* Append UTF-8 s[0..len) as a Display String (%"…", lowercase hex);
 * -1 if s is not valid UTF-8. */
int	sfv_add_display_string(struct evbuffer *out, const void *s,
	    size_t len);

/* Append v as an Integer; -1 if |v| > 999,999,999,999,999. */
int	sfv_add_integer(struct evbuffer *out, long long v);

/* Append ";key=" (the caller appends the bare item next); -1 if key
 * (NUL-terminated) is not an RFC 9651 key. */
int	sfv_add_param(struct evbuffer *out, const char *key);

/* Parse the whole of in[0..len) as one Display String and append the
 * decoded UTF-8 to out; -1 on anything RFC 9651 4.2.10 rejects, or on
 * trailing bytes after the closing quote (out then unchanged). */
int	sfv_parse_display_string(const char *in, size_t len,
	    struct evbuffer *out);

/* Append the annotation item `code;lang=L;hint=%"…";doc="…"` followed by
 * the nextra Token parameters in extra[] (may be NULL when nextra is 0);
 * all strings NUL-terminated and borrowed.  -1 if any piece is invalid
 * for its type (out then unchanged). */
int	sfv_annotation(struct evbuffer *out, const char *code,
	    const char *lang, const char *hint, const char *doc,
	    const struct sfv_param *extra, size_t nextra);

#endif
