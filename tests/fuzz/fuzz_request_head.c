/*
 * Fuzz the request side of proxy/http1: finding the end of a head (at
 * once and over a random split), parsing it, splitting its target,
 * rewriting it for the origin, and following its body.
 *
 * Input: byte 0 options, byte 1 split seed, then a client's byte stream
 * (up to four pipelined requests).  Options bit 0: treat origin-form
 * targets as if inside an intercepted tunnel (the daemon rewrites those
 * too); bit 1: intercepted port 8443 instead of 443.
 *
 * Invariants: the scan agrees with itself whatever the split; a parsed
 * head is consistent (slices inside the buffer, one Content-Length at
 * most, never Content-Length with Transfer-Encoding, a request body is
 * never delimited by close); the rewritten head ends with CRLF CRLF, is a
 * valid request with the same method and the same body framing as the one
 * the proxy parsed (else the origin and the proxy disagree on where the
 * next request starts), has exactly one Host naming the target, and no
 * hop-by-hop field; http1_parse_body consumes no more than it is given,
 * stops early only at the message's end, hands the callback pointers
 * inside the piece, and gives the same result split or whole.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "fuzz.h"
#include "fuzz_http1.h"
#include "http1.h"
#include "util.h"

#define RH_MAX_MSGS	4

/* Both heads are large; static keeps them off the fuzzer's stack. */
static struct http1_head	rh_head, rh_head2, rh_out;

/* A parsed request head is consistent with the bytes it came from. */
static void
rh_check_head(const struct http1_head *h, const char *buf, size_t len)
{
	size_t		i, ncl, nte;
	uint64_t	cl;

	FZ_ASSERT(h->h_kind == HTTP1_REQUEST);
	FZ_ASSERT(memchr(h->h_method, '\0', sizeof(h->h_method)) != NULL);
	FZ_ASSERT(fh_inside(&h->h_target, buf, len));
	FZ_ASSERT(h->h_host >= -1 && h->h_host < (int)h->h_nhdrs);
	fh_check_fields(h, buf, len, &ncl, &nte, &cl);
	/* h_host is the first Host field. */
	for (i = 0; i < h->h_nhdrs; i++)
		if (fz_ieq(h->h_hdrs[i].hd_name.s_ptr,
		    h->h_hdrs[i].hd_name.s_len, "host"))
			FZ_ASSERT(h->h_host != -1 && (size_t)h->h_host <= i);
	FZ_ASSERT(h->h_body != HTTP1_BODY_EOF);
	if (nte > 0)
		FZ_ASSERT(h->h_body == HTTP1_BODY_CHUNKED ||
		    (h->h_body == HTTP1_BODY_NONE && (h->h_upgrade ||
		    h->h_connect)));
	if (h->h_body == HTTP1_BODY_CHUNKED)
		FZ_ASSERT(nte > 0);
	if (h->h_body == HTTP1_BODY_LENGTH)
		FZ_ASSERT(ncl == 1 && h->h_length == cl && cl > 0);
	if (ncl == 1 && h->h_body != HTTP1_BODY_LENGTH)
		FZ_ASSERT(cl == 0 || h->h_connect || h->h_upgrade);
}

/* "host" or "host:port" as the rewritten head must carry it. */
static void
rh_authority(const struct http1_target *t, char *buf, size_t len)
{
	int	v6 = strchr(t->t_host, ':') != NULL;
	int	n;

	n = snprintf(buf, len, "%s%s%s", v6 ? "[" : "", t->t_host,
	    v6 ? "]" : "");
	FZ_ASSERT(n > 0 && (size_t)n < len);
	if (t->t_port != (t->t_tls ? 443 : 80))
		snprintf(buf + n, len - (size_t)n, ":%u", t->t_port);
}

/* Accept-Encoding after HTTP1_W_DECODABLE: only codings we decode. */
static void
rh_check_decodable(const struct slice *v)
{
	const char	*cur = v->s_ptr, *end = cur + v->s_len, *tok;
	size_t		 toklen, n;

	while (util_list_next(&cur, end, &tok, &toklen)) {
		const char *semi = memchr(tok, ';', toklen);

		n = semi ? (size_t)(semi - tok) : toklen;
		while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
			n--;
		FZ_ASSERT(fz_ieq(tok, n, "gzip") || fz_ieq(tok, n, "x-gzip") ||
		    fz_ieq(tok, n, "deflate") || fz_ieq(tok, n, "identity"));
	}
}

/* The rewritten target: origin-form, the path ("/" first when empty). */
static void
rh_check_target(const struct slice *out, const struct http1_target *t)
{
	size_t	want = t->t_path.s_len;

	FZ_ASSERT(out->s_len > 0 && out->s_ptr[0] == '/');
	if (want == 0 || t->t_path.s_ptr[0] == '?') {
		FZ_ASSERT(out->s_len == want + 1);
		FZ_ASSERT(want == 0 || memcmp(out->s_ptr + 1, t->t_path.s_ptr,
		    want) == 0);
	} else
		FZ_ASSERT(out->s_len == want &&
		    memcmp(out->s_ptr, t->t_path.s_ptr, want) == 0);
}

/*
 * What the origin sees: parse the rewritten head as the origin would.
 * The daemon keeps Upgrade exactly when the request is an upgrade
 * (conn_dispatch); with the other choice the head need not parse again
 * (an upgrade may carry a Transfer-Encoding only an upgrade excuses).
 */
static void
rh_check_rewrite(const struct http1_head *h, const struct http1_target *t,
    unsigned flags, struct evbuffer *out)
{
	struct http1_parser	*hp;
	struct http1_error	 err;
	const char		*buf;
	char			 auth[300];
	size_t			 len, scan = 0, headlen = 0, i, nhost = 0;
	size_t			 nconn = 0;
	int			 as_daemon;

	as_daemon = ((flags & HTTP1_W_UPGRADE) != 0) == h->h_upgrade;
	len = evbuffer_get_length(out);
	buf = (const char *)evbuffer_pullup(out, -1);
	FZ_ASSERT(len >= 4 && buf != NULL);
	FZ_ASSERT(memcmp(buf + len - 4, "\r\n\r\n", 4) == 0);
	if (len > HTTP1_MAX_HEAD || h->h_nhdrs + 3 > HTTP1_MAX_HEADERS)
		return;	/* the origin's limits, not ours */
	FZ_ASSERT(http1_head_end(buf, len, &scan, &headlen, &err) == 1);
	FZ_ASSERT(headlen == len);	/* no empty line smuggled inside */
	hp = http1_parser_new(HTTP1_REQUEST);
	FZ_ASSERT(hp != NULL);
	if (http1_parse_head(hp, buf, len, 0, &rh_out, &err) == -1) {
		FZ_ASSERT(!as_daemon);
		http1_parser_free(hp);
		return;
	}
	http1_parser_free(hp);
	FZ_ASSERT(strcmp(rh_out.h_method, h->h_method) == 0);
	FZ_ASSERT(rh_out.h_major == 1 && rh_out.h_minor == 1);
	rh_check_target(&rh_out.h_target, t);
	/* Same framing, or the origin reads the body as a new request. */
	FZ_ASSERT(rh_out.h_body == h->h_body);
	FZ_ASSERT(h->h_body != HTTP1_BODY_LENGTH ||
	    rh_out.h_length == h->h_length);
	FZ_ASSERT(rh_out.h_nhdrs <= h->h_nhdrs + 3);
	rh_authority(t, auth, sizeof(auth));
	for (i = 0; i < rh_out.h_nhdrs; i++) {
		const struct slice *n = &rh_out.h_hdrs[i].hd_name;
		const struct slice *v = &rh_out.h_hdrs[i].hd_value;

		FZ_ASSERT(!fh_hop_name(n));
		if (fz_ieq(n->s_ptr, n->s_len, "host")) {
			nhost++;
			FZ_ASSERT(fz_ieq(v->s_ptr, v->s_len, auth));
		}
		if (fz_ieq(n->s_ptr, n->s_len, "connection")) {
			/* Only our own, with an upgrade. */
			nconn++;
			FZ_ASSERT(flags & HTTP1_W_UPGRADE);
			FZ_ASSERT(v->s_len == 7 &&
			    memcmp(v->s_ptr, "Upgrade", 7) == 0);
		}
		if (fz_ieq(n->s_ptr, n->s_len, "upgrade"))
			FZ_ASSERT(flags & HTTP1_W_UPGRADE);
		if ((flags & HTTP1_W_DECODABLE) &&
		    fz_ieq(n->s_ptr, n->s_len, "accept-encoding"))
			rh_check_decodable(v);
	}
	FZ_ASSERT(nhost == 1);
	FZ_ASSERT(nconn == ((flags & HTTP1_W_UPGRADE) ? 1 : 0));
	FZ_ASSERT(rh_out.h_nhdrs > 0 && fz_ieq(
	    rh_out.h_hdrs[rh_out.h_nhdrs - 1].hd_name.s_ptr,
	    rh_out.h_hdrs[rh_out.h_nhdrs - 1].hd_name.s_len, "via"));
}

/*
 * The head for a parent proxy (http1_write_proxy_request_head): the same
 * method and framing, the target in absolute form naming the same host,
 * port and path, and exactly one Proxy-Authorization, ours.
 */
static void
rh_check_proxy(const struct http1_head *h, const struct http1_target *t,
    struct evbuffer *out)
{
	static const char	 cred[] = "Basic dXNlcjpwYXNz";
	struct http1_parser	*hp;
	struct http1_error	 err;
	struct http1_target	 t2;
	const struct slice	*pa;
	const char		*buf;
	size_t			 len, scan = 0, headlen = 0, i, npa = 0;
	size_t			 pl = t->t_path.s_len, slash;

	len = evbuffer_get_length(out);
	buf = (const char *)evbuffer_pullup(out, -1);
	FZ_ASSERT(len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0);
	if (len > HTTP1_MAX_HEAD || h->h_nhdrs + 4 > HTTP1_MAX_HEADERS)
		return;
	FZ_ASSERT(http1_head_end(buf, len, &scan, &headlen, &err) == 1);
	FZ_ASSERT(headlen == len);
	hp = http1_parser_new(HTTP1_REQUEST);
	FZ_ASSERT(hp != NULL);
	/* Written as the daemon does (Upgrade kept for an upgrade): it
	 * must parse. */
	FZ_ASSERT(http1_parse_head(hp, buf, len, 0, &rh_out, &err) == 0);
	http1_parser_free(hp);
	FZ_ASSERT(strcmp(rh_out.h_method, h->h_method) == 0);
	FZ_ASSERT(rh_out.h_body == h->h_body);
	FZ_ASSERT(h->h_body != HTTP1_BODY_LENGTH ||
	    rh_out.h_length == h->h_length);
	FZ_ASSERT(http1_parse_target(&rh_out, &t2, &err) == 0);
	FZ_ASSERT(t2.t_form == 'a' && t2.t_port == t->t_port &&
	    strcmp(t2.t_host, t->t_host) == 0);
	/* "http://h?q" is sent as "http://h/?q". */
	slash = pl == 0 || t->t_path.s_ptr[0] == '?';
	FZ_ASSERT(t2.t_path.s_len == pl + slash);
	FZ_ASSERT(!slash || t2.t_path.s_ptr[0] == '/');
	FZ_ASSERT(pl == 0 || memcmp(t2.t_path.s_ptr + slash, t->t_path.s_ptr,
	    pl) == 0);
	for (i = 0; i < rh_out.h_nhdrs; i++) {
		pa = &rh_out.h_hdrs[i].hd_value;
		if (!fz_ieq(rh_out.h_hdrs[i].hd_name.s_ptr,
		    rh_out.h_hdrs[i].hd_name.s_len, "proxy-authorization"))
			continue;
		npa++;
		FZ_ASSERT(pa->s_len == sizeof(cred) - 1 &&
		    memcmp(pa->s_ptr, cred, pa->s_len) == 0);
	}
	FZ_ASSERT(npa == 1);
}

/* Split the target and, where the daemon would, rewrite the head. */
static void
rh_forward(const struct http1_head *h, unsigned opts)
{
	static const unsigned	 variants[] = { 0, HTTP1_W_UPGRADE,
		HTTP1_W_DECODABLE, HTTP1_W_UPGRADE | HTTP1_W_DECODABLE };
	struct http1_target	 t;
	struct http1_error	 err;
	struct evbuffer		*out;
	size_t			 i;

	if (http1_parse_target(h, &t, &err) == -1) {
		FZ_ASSERT(fh_is_error(&err) && err.he_status == 400);
		return;
	}
	FZ_ASSERT(memchr(t.t_host, '\0', sizeof(t.t_host)) != NULL);
	FZ_ASSERT(fh_inside(&t.t_path, h->h_target.s_ptr,
	    h->h_target.s_len));
	switch (t.t_form) {
	case 'c':
		FZ_ASSERT(h->h_connect && t.t_port != 0 && t.t_host[0]);
		return;		/* a tunnel: no head is written */
	case 'o':
		FZ_ASSERT(!h->h_connect);
		FZ_ASSERT(h->h_target.s_len > 0 && h->h_target.s_ptr[0] ==
		    '/');
		if (!(opts & 1))
			return;	/* answered locally */
		/* Inside an intercepted tunnel (conn_dispatch). */
		t.t_form = 'a';
		snprintf(t.t_host, sizeof(t.t_host), "github.com");
		t.t_port = (opts & 2) ? 8443 : 443;
		t.t_tls = 1;
		break;
	case 'a':
		FZ_ASSERT(!h->h_connect && t.t_host[0] != '\0' &&
		    t.t_port != 0);
		break;
	default:
		FZ_ASSERT(0);
	}
	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		out = evbuffer_new();
		FZ_ASSERT(out != NULL);
		http1_write_request_head(out, h, &t, variants[i]);
		rh_check_rewrite(h, &t, variants[i], out);
		evbuffer_free(out);
	}
	if (t.t_tls)
		return;		/* intercepted: never to a parent in clear */
	out = evbuffer_new();
	FZ_ASSERT(out != NULL);
	http1_write_proxy_request_head(out, h, &t, h->h_upgrade ?
	    HTTP1_W_UPGRADE : 0, t.t_host, t.t_port,
	    "Proxy-Authorization: Basic dXNlcjpwYXNz");
	rh_check_proxy(h, &t, out);
	evbuffer_free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http1_parser	*hp, *hp2;
	struct http1_error	 err;
	struct fz_rng		 rng;
	unsigned		 opts;
	size_t			 off = 0, headlen, decoded;
	ssize_t			 n;
	char			*buf, *head;
	int			 msg, r;

	if (size < 2)
		return 0;
	opts = data[0];
	fz_rng_init(&rng, data[1]);
	buf = fz_dup(data + 2, size - 2);
	size -= 2;
	hp = http1_parser_new(HTTP1_REQUEST);
	hp2 = http1_parser_new(HTTP1_REQUEST);
	FZ_ASSERT(hp != NULL && hp2 != NULL);
	for (msg = 0; msg < RH_MAX_MSGS && off < size; msg++) {
		if (fh_head_end(buf + off, size - off, &rng, &headlen) != 1)
			break;
		head = fz_dup(buf + off, headlen);
		r = http1_parse_head(hp, head, headlen, 0, &rh_head, &err);
		if (r == -1) {
			FZ_ASSERT(fh_is_error(&err));
			free(head);
			break;
		}
		FZ_ASSERT(http1_parse_head(hp2, head, headlen, 0, &rh_head2,
		    &err) == 0);
		rh_check_head(&rh_head, head, headlen);
		(void)http1_header(&rh_head, "content-type");
		rh_forward(&rh_head, opts);
		off += headlen;
		n = fh_body(hp, hp2, &rh_head, buf + off, size - off, &rng,
		    &decoded);
		free(head);
		if (n == -1 || !http1_message_done(hp) || rh_head.h_connect ||
		    rh_head.h_upgrade)
			break;	/* an error, the end, or a tunnel */
		off += (size_t)n;
	}
	http1_parser_free(hp);
	http1_parser_free(hp2);
	free(buf);
	return 0;
}
