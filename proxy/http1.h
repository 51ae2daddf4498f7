/*
 * HTTP/1.1 message framing and head rewriting. The only module that sees
 * http-parser: it parses complete heads (after the caller found their end
 * and checked their size), follows bodies byte by byte to find where a
 * message ends, and writes rewritten heads with hop-by-hop fields removed
 * (RFC 9110 section 7.6.1) and Via added.
 */
#ifndef OAUTHLENS_HTTP1_H
#define OAUTHLENS_HTTP1_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

struct evbuffer;

#define HTTP1_MAX_HEAD		(64 * 1024)
#define HTTP1_MAX_HEADERS	128

enum http1_kind { HTTP1_REQUEST, HTTP1_RESPONSE };

enum http1_body {
	HTTP1_BODY_NONE,	/* no body: length 0, HEAD, 1xx/204/304 */
	HTTP1_BODY_LENGTH,	/* Content-Length */
	HTTP1_BODY_CHUNKED,	/* Transfer-Encoding: chunked */
	HTTP1_BODY_EOF		/* response delimited by close */
};

/*
 * The fields the transport acts on, each name recognised once per head
 * (HF_UNKNOWN: not classified yet, for a head not made by
 * http1_parse_head).
 */
enum http1_field {
	HF_UNKNOWN,
	HF_OTHER,
	HF_ACCEPT_ENCODING,
	HF_CONNECTION,
	HF_CONTENT_LENGTH,
	HF_EXPECT,
	HF_HOST,
	HF_KEEP_ALIVE,
	HF_PROXY_AUTHENTICATE,
	HF_PROXY_AUTHORIZATION,
	HF_PROXY_CONNECTION,
	HF_TE,
	HF_TRAILER,
	HF_TRANSFER_ENCODING,
	HF_UPGRADE,
	HF_VIA
};

struct http1_hdr {
	struct slice	 hd_name;
	struct slice	 hd_value;	/* optional whitespace trimmed */
	unsigned	 hd_hop;	/* hop-by-hop: never forwarded */
	enum http1_field hd_field;	/* what hd_name names */
};

/*
 * A parsed head. Slices point into the caller's buffer and are valid only
 * as long as that buffer is.
 */
struct http1_head {
	enum http1_kind	 h_kind;
	char		 h_method[24];
	struct slice	 h_target;
	int		 h_status;
	struct slice	 h_reason;
	unsigned	 h_major, h_minor;
	enum http1_body	 h_body;
	uint64_t	 h_length;	/* with HTTP1_BODY_LENGTH */
	unsigned	 h_keepalive:1;	/* the sender allows reuse */
	unsigned	 h_upgrade:1;	/* Upgrade with Connection: upgrade */
	unsigned	 h_connect:1;	/* CONNECT request */
	unsigned	 h_is_head:1;	/* HEAD request */
	unsigned	 h_expect:1;	/* Expect: 100-continue */
	unsigned	 h_te:1;	/* a Transfer-Encoding field */
	int		 h_host;	/* index of Host, or -1 */
	size_t		 h_nhdrs;
	struct http1_hdr h_hdrs[HTTP1_MAX_HEADERS];
};

/* Why a message was refused: the status to answer and a reason. */
struct http1_error {
	int		 he_status;
	char		 he_reason[160];
};

/* A request target split into parts (absolute, authority or origin form). */
struct http1_target {
	int		 t_form;	/* 'a'bsolute, 'c'onnect, 'o'rigin */
	char		 t_host[256];	/* without brackets */
	uint16_t	 t_port;
	int		 t_tls;		/* inside an intercepted tunnel */
	struct slice	 t_path;	/* origin-form path and query */
};

struct http1_parser;

typedef void	 (*http1_body_cb)(void *arg, const char *p, size_t len);

/* A new parser for requests or responses; NULL on exhaustion. */
struct http1_parser *http1_parser_new(enum http1_kind kind);
void		 http1_parser_free(struct http1_parser *hp);

/*
 * Find the end of a head in buf. Returns 1 with *headlen set when
 * complete, 0 when more bytes are needed, -1 (with err) on a bare LF or a
 * head larger than HTTP1_MAX_HEAD. *scan keeps the offset already searched
 * between calls (start at 0).
 */
int		 http1_head_end(const char *buf, size_t len, size_t *scan,
		    size_t *headlen, struct http1_error *err);

/*
 * Parse a complete head (buf holds exactly headlen bytes). For responses,
 * req_head says the request was HEAD (no body follows). Resets the parser
 * for a new message first. Returns 0, or -1 with err filled.
 */
int		 http1_parse_head(struct http1_parser *hp, const char *buf,
		    size_t len, int req_head, struct http1_head *h,
		    struct http1_error *err);

/*
 * Follow body bytes. Returns the number consumed (less than len when the
 * message ends inside buf), or -1 on a framing error (reason through
 * http1_parser_error). Decoded body data goes to cb when not NULL.
 */
ssize_t		 http1_parse_body(struct http1_parser *hp, const char *buf,
		    size_t len, http1_body_cb cb, void *arg);

/*
 * Follow body bytes as http1_parse_body does and, when the body is
 * chunked, write to out (when not NULL) what the next hop must receive
 * for them: the decoded data as clean chunks ("size CRLF data CRLF"),
 * extensions dropped, and once the body ends "0 CRLF", the trailer fields
 * that may pass (as "name: value CRLF"; framing, routing and hop-by-hop
 * fields dropped) and CRLF. Chunked framing is read strictly (RFC 9112
 * section 7.1); -1 for anything else (reason through
 * http1_parser_error). Other bodies write nothing: the caller relays
 * their consumed bytes as they are.
 */
ssize_t		 http1_reframe_body(struct http1_parser *hp, const char *buf,
		    size_t len, struct evbuffer *out, http1_body_cb cb,
		    void *arg);

/* Tell the parser the peer closed: 0 if that ends the message (a
 * close-delimited body), -1 if the message is truncated. */
int		 http1_parse_eof(struct http1_parser *hp);

/* Whether the current message is complete. */
int		 http1_message_done(const struct http1_parser *hp);

/* The parser's reason for the last failure. */
const char	*http1_parser_error(const struct http1_parser *hp);

/* Split the request target. Returns 0, or -1 with err (400). */
int		 http1_parse_target(const struct http1_head *h,
		    struct http1_target *t, struct http1_error *err);

/* Flags for http1_write_response_head. */
#define HTTP1_W_CLOSE		0x01	/* add Connection: close */
#define HTTP1_W_KEEPALIVE	0x02	/* add Connection: keep-alive (1.0) */
#define HTTP1_W_DECHUNK		0x04	/* drop Transfer-Encoding */
#define HTTP1_W_UPGRADE		0x08	/* keep Upgrade, Connection: upgrade */
#define HTTP1_W_DECODABLE	0x10	/* Accept-Encoding: gzip/deflate only */

/* Write a request head for the origin: origin-form target, Host set to
 * the target's authority, hop-by-hop fields removed, Via added. Flags:
 * HTTP1_W_UPGRADE keeps Upgrade; HTTP1_W_DECODABLE keeps in
 * Accept-Encoding only the codings oauthlens can decode. */
void		 http1_write_request_head(struct evbuffer *out,
		    const struct http1_head *h, const struct http1_target *t,
		    unsigned flags);

/* The same for a parent proxy: the target in absolute form, its
 * authority ahost:aport (the --resolve address, or t's own; the Host
 * field keeps t's), and extra, when not NULL, one more "name: value"
 * line (Proxy-Authorization for the parent). */
void		 http1_write_proxy_request_head(struct evbuffer *out,
		    const struct http1_head *h, const struct http1_target *t,
		    unsigned flags, const char *ahost, uint16_t aport,
		    const char *extra);

/* Whether a Via field of h names oauthlens as a recipient: the request
 * has been through an oauthlens already (a loop). */
int		 http1_via_loop(const struct http1_head *h);

/* Write a response head for the client; extra, when not NULL, is added
 * as one more "name: value" line. */
void		 http1_write_response_head(struct evbuffer *out,
		    const struct http1_head *h, unsigned flags,
		    const char *extra);

/* Write a complete error response with a text/plain body. */
void		 http1_write_error(struct evbuffer *out, int status,
		    const char *body, int close);

/* The standard reason phrase of a status code. */
const char	*http1_status_text(int status);

/* What the field name [p, p+len) is (ASCII case-insensitive). */
enum http1_field http1_field_of(const char *p, size_t len);

/* Value of the first header with this name (case-insensitive), or NULL. */
const struct slice *http1_header(const struct http1_head *h,
		    const char *name);

#endif
