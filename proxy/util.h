/*
 * Small helpers every module uses: byte slices, range-checked numbers,
 * ASCII case-insensitive comparison, monotonic time, checked allocation.
 */
#ifndef OAUTHLENS_UTIL_H
#define OAUTHLENS_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A borrowed byte range; never NUL-terminated by contract. */
struct slice {
	const char	*s_ptr;
	size_t		 s_len;
};

#define SLICE_LIT(lit)	((struct slice){ (lit), sizeof(lit) - 1 })

/* Parse all of [p, p+len) as a decimal integer in [min, max]; 0 or -1. */
int	 util_parse_u64(const char *p, size_t len, uint64_t min, uint64_t max,
	    uint64_t *out);

/* ASCII case-insensitive equality of a slice and a C string. */
int	 util_slice_ieq(const char *p, size_t len, const char *lit);

/* Trim optional whitespace (SP, HTAB) from both ends of *p, *len
 * (inline: once per field value and per list token). */
static inline void
util_trim_ows(const char **p, size_t *len)
{
	while (*len > 0 && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*len)--;
	}
	while (*len > 0 && ((*p)[*len - 1] == ' ' ||
	    (*p)[*len - 1] == '\t'))
		(*len)--;
}

/* Walk a comma-separated token list: returns 1 and the next token
 * (trimmed, never empty) through tok/toklen, 0 when exhausted. */
int	 util_list_next(const char **cur, const char *end, const char **tok,
	    size_t *toklen);

/* A file of the source tree: "<binary's dir>/../rel" when readable, else
 * rel under the working directory when readable; NULL otherwise. */
const char *util_tree_path(const char *rel, char *buf, size_t len);

struct sockaddr;

/* "a.b.c.d:port" or "[v6]:port" for an IPv4/IPv6 socket address, else
 * "local". */
void	 util_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len);

/* Monotonic milliseconds since an arbitrary origin. */
uint64_t util_now_ms(void);

/* Whether s is an IPv4 or IPv6 address in text (no brackets). */
int	 util_ip_literal(const char *s);

/* Whether a and b are the same IPv4 or IPv6 address (0 if either is not
 * an address). */
int	 util_ip_equal(const char *a, const char *b);

/* Copy the C string src into dst of size bytes (size > 0), truncated
 * and always NUL-terminated, as snprintf(dst, size, "%s", src) does
 * without the formatting cost. Returns dst. */
char	*util_strlcpy(char *dst, const char *src, size_t size);

/* The decimal text of v into buf (at least 21 bytes), NUL-terminated,
 * as snprintf(buf, size, "%lld", v) writes it, without the formatting
 * cost; returns its length. */
size_t	 util_fmt_ll(char *buf, long long v);

/* Decode standard base64 in[0..len) (padded, a multiple of 4) into out:
 * the number of bytes, padding not counted, or -1 when in is not base64
 * or outlen (len / 4 * 3 needed) is too small. */
int	 util_b64_decode(const char *in, size_t len, unsigned char *out,
	    size_t outlen);

/* malloc/calloc/strdup that abort on exhaustion (start-up and tiny
 * fixed-size objects only; per-request buffers use evbuffers). */
/* A list of strings, each owned. */
struct strlist {
	char		**sl_v;		/* owned strings */
	size_t		  sl_n;
};

/* Append a copy of s to a string list. */
void	 strlist_add(struct strlist *sl, const char *s);
void	 strlist_clear(struct strlist *sl);

/* Parse "addr:port", "[v6]:port" or "host:port" into its parts; host is
 * written without brackets. 0 or -1. */
int	 util_split_hostport(const char *s, char *host, size_t hostlen,
	    uint16_t *port);

void	*xcalloc(size_t n, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t len);

#endif
