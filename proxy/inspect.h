/*
 * Token-response body inspector: streaming, bounded, format chosen by
 * Content-Type (JSON via yajl's event API, XML via expat, otherwise
 * form-urlencoded), content coding undone with zlib for inspection only.
 * It reads the body; it never changes or keeps it.
 */
#ifndef OAUTHLENS_INSPECT_H
#define OAUTHLENS_INSPECT_H

#include <stddef.h>

struct inspect;

/*
 * What the body said at top level.  Strings are NUL-terminated, decoded
 * (percent-decoding for form, unescaping for JSON and XML), truncated at
 * a UTF-8 character boundary if long, and never contain NUL (a decoded
 * NUL in one of these fields makes the body malformed).  The access
 * token itself is never copied, only its presence noted.
 */
struct inspect_result {
	char	error[64];
	char	error_description[256];
	char	error_uri[512];
	char	scope[256];		/* granted scopes, on success */
	char	interval[16];		/* device flow slow_down */
	int	has_error;		/* "error" present and non-empty */
	int	has_access_token;	/* "access_token" present, non-empty */
};

/* New inspector for a response with these Content-Type and Content-Encoding
 * values (pointer + length, borrowed; NULL or 0 length = absent); NULL on
 * an unsupported coding or no memory.  Caller owns it: inspect_free(). */
struct inspect	*inspect_new(const char *content_type, size_t ct_len,
		    const char *content_encoding, size_t ce_len,
		    size_t max_bytes);

/* Feed body bytes (after transfer decoding, any split); 0, or -1 for good
 * once raw or decoded size passes max_bytes or decoding/parsing fails. */
int		 inspect_feed(struct inspect *in, const void *buf, size_t len);

/* End of body: 0 and *res filled if the whole body parsed as its format,
 * -1 if malformed, truncated or already failed (*res then zeroed). */
int		 inspect_finish(struct inspect *in, struct inspect_result *res);

/* Free an inspector and all it holds; NULL is fine. */
void		 inspect_free(struct inspect *in);

/* Copy the percent-decoded value of the last `key` pair in form body
 * body[0..len) into out (NUL-terminated); returns its length, or -1 if
 * absent, malformed (bad %-escape anywhere, decoded NUL) or >= outlen. */
int		 inspect_form_get(const char *body, size_t len, const char *key,
		    char *out, size_t outlen);

#endif
