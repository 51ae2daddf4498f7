/*
 * The transport's private types, shared by conn.c (a client connection's
 * life), request.c (a request head read and routed), exchange.c (one
 * request/response relay), tunnel.c (CONNECT and Upgrade byte relay) and
 * intercept.c (client-side TLS). Nothing outside those five files
 * includes this header.
 *
 * The files call downwards only: conn.c drives the others from libevent's
 * callbacks, and they tell it what they need next through c_next
 * (transport_want), which conn.c acts on as the stack unwinds.
 */
#ifndef OAUTHLENS_TRANSPORT_H
#define OAUTHLENS_TRANSPORT_H

#include <sys/queue.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>

#include "http1.h"
#include "proxyerr.h"
#include "upstream.h"

struct bufferevent;
struct config;
struct event;
struct oauth_x;
struct proxy;

/*
 * Memory bound per connection and direction: an input buffer stops
 * reading at READ_HIGH bytes, and bytes move to the peer's output only
 * while it holds less than OUT_HIGH, so each direction holds at most
 * READ_HIGH + OUT_HIGH + READ_HIGH bytes.
 */
#define READ_HIGH	(HTTP1_MAX_HEAD + 16384)
#define OUT_HIGH	(256 * 1024)
#define OUT_LOW		(64 * 1024)
/* Interim (1xx) responses relayed for one request; more is a 502. */
#define EXCHANGE_MAX_INTERIM	32
#define LINGER_MS	2000

enum conn_state {
	CS_HEAD,		/* waiting for a request head */
	CS_UPSTREAM,		/* request parsed, connecting upstream */
	CS_RELAY,		/* exchange in progress */
	CS_TUNNEL,		/* CONNECT or 101: bytes both ways */
	CS_TLS_START,		/* intercepted CONNECT: flushing the 200 */
	CS_TLS_HANDSHAKE,	/* intercepted CONNECT: client handshake */
	CS_FLUSH_UP,		/* tunnel: client gone, flushing upstream */
	CS_CLOSING,		/* flushing the client, then lingering */
	CS_DEAD			/* closed; freed from the loop */
};

/* Where the response of an exchange stands. */
enum xphase {
	XP_WAIT,		/* no final response head sent to the client */
	XP_BODY,		/* its head went out: relaying the body */
	XP_TUNNEL		/* answered 200 to CONNECT or 101: tunnel */
};

/* How an exchange ended, for exchange_end(). */
enum xoutcome {
	XO_DONE,		/* answered in full: the connection may go on */
	XO_ERROR,		/* answered with an error the proxy made */
	XO_CUT,			/* the response was cut short */
	XO_INTERCEPT,		/* CONNECT answered by us: TLS follows */
	XO_ABORT		/* the connection is closing under it */
};

/* What conn.c is to do once the lower modules return (they never call
 * up into it: they say what they want here). */
enum conn_next {
	CN_NONE,
	CN_PROCESS,		/* read the next request head */
	CN_FINISH,		/* flush what the client is owed, then close */
	CN_CLOSE,		/* close now (c_why says why) */
	CN_CONNECT		/* connect the exchange's upstream (again) */
};

/* One request/response exchange. */
struct exchange {
	uint64_t		 x_id;
	uint64_t		 x_start_ms;
	char			 x_method[24];
	char			 x_host[256];
	uint16_t		 x_port;
	char			*x_target;	/* owned: path, for the log */
	size_t			 x_target_len;
	int			 x_status;
	enum xphase		 x_phase;
	uint64_t		 x_in, x_out;
	struct evbuffer		*x_head;	/* owned: head to send */
	struct upstream_req	*x_ureq;	/* pending connect */
	struct oauth_x		*x_obs;		/* owned: OAuth observer */
	struct evbuffer		*x_hold;	/* owned: held response */
	size_t			 x_hold_head;	/* its head's length */
	unsigned		 x_connect:1, x_upgrade:1, x_is_head:1,
				 x_client_ka:1, x_http10:1, x_req_done:1,
				 x_reused:1, x_dechunk:1, x_close:1, x_up_ka:1,
				 x_retried:1, x_has_body:1, x_resp_eof:1,
				 x_req_chunked:1, x_resp_chunked:1,
				 x_via_parent:1;	/* to a parent proxy */
	unsigned		 x_interim;	/* 1xx heads relayed */
};

struct conn {
	TAILQ_ENTRY(conn)	 c_entry;
	struct proxy		*c_px;		/* borrowed */
	struct stats		*c_stats;	/* borrowed: the counters */
	struct config		*c_cfg;		/* referenced */
	struct bufferevent	*c_cbev;	/* owned: client */
	struct bufferevent	*c_ubev;	/* owned: upstream */
	struct event		*c_timer;	/* owned */
	struct http1_parser	*c_reqp;	/* owned, made on first use */
	struct http1_parser	*c_resp;	/* owned, made on first use */
	struct exchange		*c_x;		/* owned: current exchange */
	enum conn_state		 c_state;
	enum conn_next		 c_next;	/* asked of conn.c */
	const char		*c_why;		/* CN_CLOSE's reason: static */
	int			 c_reject;	/* status to refuse with */
	size_t			 c_scan;	/* head end search offset */
	size_t			 c_uscan;
	uint64_t		 c_id;
	uint64_t		 c_last_ms;	/* tunnel activity */
	char			*c_mitm_host;	/* owned: intercepted host */
	uint16_t		 c_mitm_port;
	char			 c_ua[24];	/* runtime, from CONNECT */
	uint64_t		 c_tls_done_ms;	/* client handshake ended */
	unsigned		 c_in_loop:1, c_head_timer:1, c_client_eof:1,
				 c_counted:1, c_flushing:1,
				 c_tls_quiet:1;	/* silent since the handshake */
	char			 c_peer[56];
};

/* Ask conn.c for what comes next (why: CN_CLOSE's reason, a string that
 * outlives the connection, or NULL). A close asked for stays asked for. */
static inline void
transport_want(struct conn *c, enum conn_next next, const char *why)
{
	if (c->c_next == CN_CLOSE)
		return;
	c->c_next = next;
	if (why != NULL)
		c->c_why = why;
}

/* (Re)arm the connection's one timer: ms from now. */
static inline void
transport_timer(struct conn *c, unsigned ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(c->c_timer, &tv);
}

/* request.c: the connection is idle: read one request head and act on
 * it (refuse it, answer it, tunnel it, intercept it or start an exchange
 * for it). Returns with the head consumed, or none complete yet. */
void	 request_read(struct conn *c);

/* exchange.c: a new exchange for a parsed request head (NULL: memory). */
struct exchange	*exchange_new(struct conn *c, const struct http1_head *h);

/* exchange.c: the one end of every exchange: tells the observer, logs
 * and counts it (when it got a status), pools or frees the upstream
 * side, frees the exchange, and asks conn.c for what follows. */
void	 exchange_end(struct conn *c, enum xoutcome outcome);

/* exchange.c: answer with an error the proxy made (detail replaces the
 * table's message when not NULL), logged once here; then finish. When
 * the response already started, asks for a close instead. Works without
 * an exchange too (a refused connection). */
void	 exchange_fail(struct conn *c, enum proxy_error pe,
	    const char *detail);

/* exchange.c: the request head is parsed and its target resolved in t:
 * report it to the observer and prepare the head for the origin (h points
 * into the client's input). 0, or -1 when out of memory. */
int	 exchange_forward(struct conn *c, const struct http1_head *h,
	    const struct http1_target *t);

/* exchange.c: answer an origin-form request with the proxy's own page. */
void	 exchange_local(struct conn *c, const struct http1_head *h);

/* exchange.c: (re)start the upstream leg: returns a pooled connection to
 * attach now, or NULL when cb(arg = c) will be called later (or the
 * exchange failed: c_next says so). */
struct bufferevent *exchange_connect(struct conn *c, upstream_cb cb);

/* exchange.c: the upstream leg is ready (c_ubev, fresh or pooled), or
 * failed (c_ubev NULL; why and detail say how). */
void	 exchange_attach(struct conn *c, enum upstream_fail why,
	    const char *detail);

/* exchange.c: move request body bytes to the origin while it keeps up. */
void	 exchange_pump_request(struct conn *c);

/* exchange.c: move response bytes to the client while it keeps up. */
void	 exchange_pump_response(struct conn *c);

/* exchange.c: an event on the origin's bufferevent during a relay. */
void	 exchange_up_event(struct conn *c, short what);

/* tunnel.c: bytes both ways from now on (after CONNECT or a 101). */
void	 tunnel_begin(struct conn *c);

/* tunnel.c: move what from sent to to, while to keeps up. */
void	 tunnel_pump(struct conn *c, struct bufferevent *from,
	    struct bufferevent *to);

/* tunnel.c: whether the tunnel saw traffic within the idle timeout (a
 * timeout on one side is then not the end). */
int	 tunnel_active(const struct conn *c);

/* tunnel.c: the client closed its side of the tunnel. */
void	 tunnel_client_eof(struct conn *c);

/* tunnel.c: an event on the origin's side of the tunnel. */
void	 tunnel_up_event(struct conn *c, short what);

/* intercept.c: whether a CONNECT to t is to be intercepted under c. */
int	 intercept_wanted(const struct conn *c, const struct http1_target *t);

/* intercept.c: note the client's runtime from its CONNECT head h, for the
 * trust advice if the handshake fails. */
void	 intercept_note_runtime(struct conn *c, const struct http1_head *h);

/* intercept.c: answer the CONNECT to t ourselves (the exchange ends
 * here); TLS starts once the 200 has left (intercept_tls_start). */
void	 intercept_begin(struct conn *c, const struct http1_target *t);

/* intercept.c: the 200 is out: put TLS on the client socket, which
 * becomes c_cbev (callbacks for the caller to set). 0, or -1 when TLS
 * could not start (c_cbev may then be NULL). */
int	 intercept_tls_start(struct conn *c);

/* intercept.c: an event on the client during the TLS handshake: 1 when
 * the handshake is done, 0 when it failed (logged, with the fix). */
int	 intercept_handshake_event(struct conn *c, short what);

/* intercept.c: the client closed (EOF or error event what) an
 * intercepted connection. When it had completed the handshake and sent
 * nothing since, shortly before, it rejected our certificate after the
 * handshake (GnuTLS clients do): logs tls-untrusted, counts the failure
 * and returns 1 (the caller closes); 0 otherwise. */
int	 intercept_silent_reject(struct conn *c, short what);

#endif
