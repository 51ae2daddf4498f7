/*
 * Fuzz the response side of proxy/http1: heads (interim 1xx, 101, final),
 * the head written for the client, and body framing (Content-Length,
 * chunked with extensions and trailers, close-delimited) followed over
 * random splits, then the upstream closing.
 *
 * Input: byte 0 options, byte 1 split seed, then an origin's byte stream
 * (up to six heads: interim ones and keep-alive responses).  Options bit
 * 0: the request was HEAD; bits 1-3: which http1_write_response_head
 * flags; bit 4: add an extra field line, as an annotation does.
 *
 * Invariants: a parsed head is consistent (no body after HEAD, 1xx, 204,
 * 304; one Content-Length at most, never with Transfer-Encoding; a
 * close-delimited body has no Content-Length); the head written for the
 * client ends with CRLF CRLF, parses back with the same status and the
 * same framing (or close-delimited when dechunking), carries no
 * hop-by-hop field but our own Connection; the body follower agrees split
 * and whole, a complete Content-Length body decodes to exactly the
 * declared length; at the end, EOF completes only a close-delimited body
 * and never repairs a framing error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "fuzz.h"
#include "fuzz_http1.h"
#include "http1.h"
#include "util.h"

#define RF_MAX_HEADS	6
#define RF_EXTRA	"OAuth-Troubleshooting: bad_verification_code;lang=en"

static struct http1_head	rf_head, rf_head2, rf_out;

static const unsigned rf_variants[8] = {
	0, HTTP1_W_CLOSE, HTTP1_W_KEEPALIVE, HTTP1_W_DECHUNK | HTTP1_W_CLOSE,
	HTTP1_W_DECHUNK, HTTP1_W_UPGRADE, HTTP1_W_CLOSE | HTTP1_W_KEEPALIVE,
	HTTP1_W_DECHUNK | HTTP1_W_KEEPALIVE
};

static void
rf_check_head(const struct http1_head *h, const char *buf, size_t len,
    int req_head)
{
	size_t		ncl, nte, i;
	uint64_t	cl;

	FZ_ASSERT(h->h_kind == HTTP1_RESPONSE);
	FZ_ASSERT(h->h_status >= 100 && h->h_status <= 999);
	/* The reason is the origin's, or the standard one when the
	 * origin's had a byte other than SP, HTAB or visible ASCII. */
	FZ_ASSERT(fh_inside(&h->h_reason, buf, len) ||
	    h->h_reason.s_ptr == http1_status_text(h->h_status));
	for (i = 0; i < h->h_reason.s_len; i++)
		FZ_ASSERT(h->h_reason.s_ptr[i] == '\t' ||
		    (h->h_reason.s_ptr[i] >= 0x20 &&
		    h->h_reason.s_ptr[i] < 0x7f));
	fh_check_fields(h, buf, len, &ncl, &nte, &cl);
	if (req_head || h->h_status / 100 == 1 || h->h_status == 204 ||
	    h->h_status == 304)
		FZ_ASSERT(h->h_body == HTTP1_BODY_NONE);
	switch (h->h_body) {
	case HTTP1_BODY_LENGTH:
		FZ_ASSERT(ncl == 1 && h->h_length == cl && cl > 0);
		break;
	case HTTP1_BODY_CHUNKED:
		FZ_ASSERT(nte > 0);
		break;
	case HTTP1_BODY_EOF:
		FZ_ASSERT(ncl == 0);
		break;
	case HTTP1_BODY_NONE:
		/* A declared length is ignored only where RFC 9112 6.3
		 * says there is no body. */
		FZ_ASSERT(ncl == 0 || cl == 0 || req_head ||
		    h->h_status / 100 == 1 || h->h_status == 204 ||
		    h->h_status == 304);
		break;
	default:
		FZ_ASSERT(0);
	}
}

/* The Connection value we add for these flags, or NULL. */
static const char *
rf_our_connection(unsigned flags)
{
	if (flags & HTTP1_W_UPGRADE)
		return "Upgrade";
	if (flags & HTTP1_W_CLOSE)
		return "close";
	if (flags & HTTP1_W_KEEPALIVE)
		return "keep-alive";
	return NULL;
}

/* What the client sees: parse the written head as the client would. */
static void
rf_check_written(const struct http1_head *h, int req_head, unsigned flags,
    int extra)
{
	struct evbuffer		*out = evbuffer_new();
	struct http1_parser	*hp;
	struct http1_error	 err;
	const char		*buf, *conn = rf_our_connection(flags);
	size_t			 len, scan = 0, headlen = 0, i, nconn = 0;

	FZ_ASSERT(out != NULL);
	http1_write_response_head(out, h, flags, extra ? RF_EXTRA : NULL);
	len = evbuffer_get_length(out);
	buf = (const char *)evbuffer_pullup(out, -1);
	FZ_ASSERT(len >= 4 && buf != NULL);
	FZ_ASSERT(memcmp(buf + len - 4, "\r\n\r\n", 4) == 0);
	if (len > HTTP1_MAX_HEAD || h->h_nhdrs + 3 > HTTP1_MAX_HEADERS) {
		evbuffer_free(out);
		return;		/* the client's limits, not ours */
	}
	FZ_ASSERT(http1_head_end(buf, len, &scan, &headlen, &err) == 1);
	FZ_ASSERT(headlen == len);
	hp = http1_parser_new(HTTP1_RESPONSE);
	FZ_ASSERT(hp != NULL);
	FZ_ASSERT(http1_parse_head(hp, buf, len, req_head, &rf_out,
	    &err) == 0);
	http1_parser_free(hp);
	FZ_ASSERT(rf_out.h_status == h->h_status);
	FZ_ASSERT(rf_out.h_major == 1 && rf_out.h_minor == 1);
	FZ_ASSERT(rf_out.h_nhdrs <= h->h_nhdrs + 3);
	/* Same framing for the client, or close-delimited when dechunked. */
	if ((flags & HTTP1_W_DECHUNK) && h->h_body == HTTP1_BODY_CHUNKED)
		FZ_ASSERT(rf_out.h_body == HTTP1_BODY_EOF);
	else {
		FZ_ASSERT(rf_out.h_body == h->h_body);
		FZ_ASSERT(h->h_body != HTTP1_BODY_LENGTH ||
		    rf_out.h_length == h->h_length);
	}
	for (i = 0; i < rf_out.h_nhdrs; i++) {
		const struct slice *n = &rf_out.h_hdrs[i].hd_name;
		const struct slice *v = &rf_out.h_hdrs[i].hd_value;

		FZ_ASSERT(!fh_hop_name(n));
		if (fz_ieq(n->s_ptr, n->s_len, "connection")) {
			nconn++;
			FZ_ASSERT(conn != NULL && v->s_len == strlen(conn) &&
			    memcmp(v->s_ptr, conn, v->s_len) == 0);
		}
		if (fz_ieq(n->s_ptr, n->s_len, "upgrade"))
			FZ_ASSERT(flags & HTTP1_W_UPGRADE);
		if (flags & HTTP1_W_DECHUNK)
			FZ_ASSERT(!fz_ieq(n->s_ptr, n->s_len,
			    "transfer-encoding"));
	}
	FZ_ASSERT(nconn == (conn != NULL ? 1 : 0));
	evbuffer_free(out);
}

/*
 * One response: its head (headlen bytes, an exact-size copy) and what
 * follows it.  Returns the body bytes consumed, or -1 when nothing after
 * it can be read (a refusal, a tunnel, a framing error, the end).
 */
static ssize_t
rf_message(struct http1_parser *hp, struct http1_parser *hp2,
    const char *head, size_t headlen, const char *rest, size_t len,
    unsigned opts, struct fz_rng *rng)
{
	struct http1_error	 err;
	int			 req_head = opts & 1, e1, e2;
	unsigned		 flags = rf_variants[(opts >> 1) & 7];
	size_t			 decoded;
	ssize_t			 n;

	if (http1_parse_head(hp, head, headlen, req_head, &rf_head,
	    &err) == -1) {
		FZ_ASSERT(fh_is_error(&err));
		return -1;
	}
	FZ_ASSERT(http1_parse_head(hp2, head, headlen, req_head, &rf_head2,
	    &err) == 0);
	rf_check_head(&rf_head, head, headlen, req_head);
	(void)http1_header(&rf_head, "content-type");
	if (rf_head.h_status / 100 == 1 && rf_head.h_status != 101) {
		/* Interim: written as it is, then the next head. */
		rf_check_written(&rf_head, req_head, 0, 0);
		return 0;
	}
	if (rf_head.h_status == 101) {
		rf_check_written(&rf_head, req_head, HTTP1_W_UPGRADE, 0);
		return -1;	/* a tunnel from here on */
	}
	rf_check_written(&rf_head, req_head, flags & ~HTTP1_W_UPGRADE,
	    (opts & 0x10) != 0);
	n = fh_body(hp, hp2, &rf_head, rest, len, rng, &decoded);
	if (n == -1) {
		/* A framing error stays one when the peer closes. */
		FZ_ASSERT(http1_parse_eof(hp) == -1);
		return -1;
	}
	if (!http1_message_done(hp)) {
		/* The input ends: the upstream closed. */
		e1 = http1_parse_eof(hp);
		e2 = http1_parse_eof(hp2);
		FZ_ASSERT(e1 == e2);
		FZ_ASSERT((e1 == 0) == (rf_head.h_body == HTTP1_BODY_EOF));
		FZ_ASSERT(e1 == -1 || http1_message_done(hp));
		return -1;
	}
	if (rf_head.h_body == HTTP1_BODY_LENGTH)
		FZ_ASSERT(decoded == rf_head.h_length);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http1_parser	*hp, *hp2;
	struct fz_rng		 rng;
	size_t			 off = 0, headlen;
	ssize_t			 n;
	char			*buf, *head;
	int			 i;

	if (size < 2)
		return 0;
	fz_rng_init(&rng, data[1]);
	buf = fz_dup(data + 2, size - 2);
	size -= 2;
	hp = http1_parser_new(HTTP1_RESPONSE);
	hp2 = http1_parser_new(HTTP1_RESPONSE);
	FZ_ASSERT(hp != NULL && hp2 != NULL);
	for (i = 0; i < RF_MAX_HEADS && off < size; i++) {
		if (fh_head_end(buf + off, size - off, &rng, &headlen) != 1)
			break;
		head = fz_dup(buf + off, headlen);
		off += headlen;
		n = rf_message(hp, hp2, head, headlen, buf + off, size - off,
		    data[0], &rng);
		free(head);
		if (n == -1)
			break;
		off += (size_t)n;
	}
	http1_parser_free(hp);
	http1_parser_free(hp2);
	free(buf);
	return 0;
}
