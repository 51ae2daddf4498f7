/*
 * Checks shared by the two proxy/http1 fuzz targets: the head scan (whole
 * and incremental must agree) and the body follower (split and whole must
 * agree, never consume more than given, stop early only at the end).
 */
#ifndef OAUTHLENS_FUZZ_HTTP1_H
#define OAUTHLENS_FUZZ_HTTP1_H

#include <sys/types.h>

#include <stdint.h>
#include <string.h>

#include <event2/buffer.h>

#include "fuzz.h"
#include "http1.h"
#include "util.h"

/* A refusal carries a status the daemon answers with and a reason. */
static inline int
fh_is_error(const struct http1_error *err)
{
	return (err->he_status == 400 || err->he_status == 431) &&
	    memchr(err->he_reason, '\0', sizeof(err->he_reason)) != NULL &&
	    err->he_reason[0] != '\0';
}

static inline int
fh_inside(const struct slice *s, const char *buf, size_t len)
{
	if (s->s_len == 0)
		return 1;
	return s->s_ptr >= buf && s->s_ptr + s->s_len <= buf + len;
}

/* A Content-Length value as http-parser reads it: digits only, any number
 * of leading zeros, no overflow.  0, or -1 if it is not one. */
static inline int
fh_content_length(const struct slice *v, uint64_t *out)
{
	uint64_t	n = 0;
	size_t		i;

	if (v->s_len == 0)
		return -1;
	for (i = 0; i < v->s_len; i++) {
		unsigned d = (unsigned)(unsigned char)v->s_ptr[i] - '0';

		if (d > 9 || n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*out = n;
	return 0;
}

/* Names a head we rewrote must never carry (RFC 9110 7.6.1). */
static inline int
fh_hop_name(const struct slice *n)
{
	static const char *const names[] = { "keep-alive",
		"proxy-connection", "te", "trailer", "proxy-authorization",
		"proxy-authenticate", NULL };
	size_t	i;

	for (i = 0; names[i] != NULL; i++)
		if (fz_ieq(n->s_ptr, n->s_len, names[i]))
			return 1;
	return 0;
}

/*
 * The fields of a parsed head: every name non-empty, names and values
 * inside buf, each Content-Length a number (the last one in *cl); counts
 * Content-Length and Transfer-Encoding fields into *ncl and *nte, and
 * checks the parser refused the smuggling shapes (two Content-Lengths, or
 * Content-Length with Transfer-Encoding).
 */
static inline void
fh_check_fields(const struct http1_head *h, const char *buf, size_t len,
    size_t *ncl, size_t *nte, uint64_t *cl)
{
	size_t	i;

	*ncl = *nte = 0;
	*cl = 0;
	FZ_ASSERT(h->h_nhdrs <= HTTP1_MAX_HEADERS);
	for (i = 0; i < h->h_nhdrs; i++) {
		const struct http1_hdr *hd = &h->h_hdrs[i];

		FZ_ASSERT(hd->hd_name.s_len > 0);
		FZ_ASSERT(fh_inside(&hd->hd_name, buf, len));
		FZ_ASSERT(fh_inside(&hd->hd_value, buf, len));
		if (fz_ieq(hd->hd_name.s_ptr, hd->hd_name.s_len,
		    "content-length")) {
			(*ncl)++;
			FZ_ASSERT(fh_content_length(&hd->hd_value, cl) == 0);
		}
		if (fz_ieq(hd->hd_name.s_ptr, hd->hd_name.s_len,
		    "transfer-encoding"))
			(*nte)++;
	}
	FZ_ASSERT(*ncl <= 1);
	FZ_ASSERT(!(*ncl > 0 && *nte > 0));
}

/*
 * The end of the head at buf: once over the whole buffer, once growing a
 * prefix piece by piece as conn_read_head does; both must agree.
 * Returns what http1_head_end returned, with *headlen.
 */
static inline int
fh_head_end(const char *buf, size_t len, struct fz_rng *rng,
    size_t *headlen)
{
	struct http1_error	err;
	size_t			scan = 0, hl1 = 0, hl2 = 0, have = 0;
	int			r1, r2 = 0;
	const char		*first;

	r1 = http1_head_end(buf, len, &scan, &hl1, &err);
	if (r1 == 1) {
		FZ_ASSERT(hl1 >= 4 && hl1 <= len && hl1 <= HTTP1_MAX_HEAD);
		FZ_ASSERT(memcmp(buf + hl1 - 4, "\r\n\r\n", 4) == 0);
		/* The first empty line ends it, past a leading CRLF. */
		first = memmem(buf + 1, hl1 - 1, "\r\n\r\n", 4);
		FZ_ASSERT(first == buf + hl1 - 4 || (first == NULL &&
		    hl1 == 4));
	} else if (r1 == -1)
		FZ_ASSERT(fh_is_error(&err));
	else
		FZ_ASSERT(r1 == 0 && scan <= len);
	scan = 0;
	while (have < len) {
		have += fz_piece(rng, len - have);
		r2 = http1_head_end(buf, have, &scan, &hl2, &err);
		if (r2 != 0)
			break;
		FZ_ASSERT(scan <= have);
	}
	FZ_ASSERT(r2 == r1);
	FZ_ASSERT(r1 != 1 || hl2 == hl1);
	*headlen = hl1;
	return r1;
}

struct fh_body {
	const char	*b_piece;	/* the piece being parsed */
	size_t		 b_plen;
	struct evbuffer	*b_out;		/* decoded bytes */
};

static inline void
fh_body_cb(void *arg, const char *p, size_t len)
{
	struct fh_body	*b = arg;

	FZ_ASSERT(p >= b->b_piece && len <= b->b_plen &&
	    p + len <= b->b_piece + b->b_plen);
	evbuffer_add(b->b_out, p, len);
}

static inline int
fh_same(struct evbuffer *a, struct evbuffer *b)
{
	size_t	n = evbuffer_get_length(a);

	return n == evbuffer_get_length(b) && (n == 0 ||
	    memcmp(evbuffer_pullup(a, -1), evbuffer_pullup(b, -1), n) == 0);
}

/*
 * Follow the body in buf with two parsers that read the same head: hp fed
 * in random pieces (each an exact-size copy), hp2 fed everything at once.
 * Both must agree.  Returns bytes consumed, or -1 on a framing error;
 * *decoded gets the decoded body length.
 */
static inline ssize_t
fh_body(struct http1_parser *hp, struct http1_parser *hp2,
    const struct http1_head *h, const char *buf, size_t len,
    struct fz_rng *rng, size_t *decoded)
{
	struct fh_body	 b1, b2;
	size_t		 off = 0, n;
	ssize_t		 r, r2;
	int		 err = 0;
	char		*piece;

	b1.b_out = evbuffer_new();
	b2.b_out = evbuffer_new();
	FZ_ASSERT(b1.b_out != NULL && b2.b_out != NULL);
	while (off < len && !http1_message_done(hp)) {
		n = fz_piece(rng, len - off);
		piece = fz_dup(buf + off, n);
		b1.b_piece = piece;
		b1.b_plen = n;
		r = http1_parse_body(hp, piece, n, fh_body_cb, &b1);
		free(piece);
		if (r == -1) {
			err = 1;
			FZ_ASSERT(http1_parser_error(hp) != NULL);
			break;
		}
		FZ_ASSERT(r >= 0 && (size_t)r <= n);
		FZ_ASSERT((size_t)r == n || http1_message_done(hp));
		off += (size_t)r;
	}
	b2.b_piece = buf;
	b2.b_plen = len;
	r2 = len > 0 ? http1_parse_body(hp2, buf, len, fh_body_cb, &b2) : 0;
	FZ_ASSERT(err == (r2 == -1));
	*decoded = evbuffer_get_length(b1.b_out);
	if (!err) {
		FZ_ASSERT((size_t)r2 == off);
		FZ_ASSERT(http1_message_done(hp) == http1_message_done(hp2));
		FZ_ASSERT(fh_same(b1.b_out, b2.b_out));
		FZ_ASSERT(*decoded <= off);
		if (h->h_body == HTTP1_BODY_NONE)
			FZ_ASSERT(off == 0 && http1_message_done(hp));
		if (h->h_body == HTTP1_BODY_LENGTH) {
			/* Content-Length bodies pass through as they are. */
			FZ_ASSERT(*decoded == off && off <= h->h_length);
			FZ_ASSERT(http1_message_done(hp) ==
			    (off == h->h_length));
		}
		if (h->h_body == HTTP1_BODY_EOF)
			FZ_ASSERT(*decoded == off && off == len &&
			    !http1_message_done(hp));
	}
	evbuffer_free(b1.b_out);
	evbuffer_free(b2.b_out);
	return err ? -1 : (ssize_t)off;
}

#endif
