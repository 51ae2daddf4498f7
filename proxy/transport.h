/*
 * The transport's private types, shared by conn.c (a client connection's
 * life), exchange.c (one request/response relay), tunnel.c (CONNECT and
 * Upgrade byte relay) and intercept.c (client-side TLS). Nothing outside
 * those four files includes this header.
 *
 * The files call downwards: conn.c drives the others from libevent's
 * callbacks. The few lifecycle verbs the lower files need (answer with an
 * error, finish, close) are declared at the end, each with its contract.
 */
#ifndef OAUTHLENS_TRANSPORT_H
#define OAUTHLENS_TRANSPORT_H

#include <sys/queue.h>
#include <stdint.h>

#include "http1.h"
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
	uint64_t		 x_in, x_out;
	struct evbuffer		*x_head;	/* owned: request head to send */
	struct upstream_req	*x_ureq;	/* pending connect */
	struct oauth_x		*x_obs;		/* owned: OAuth observer */
	struct evbuffer		*x_hold;	/* owned: held response */
	size_t			 x_hold_head;	/* its head's length */
	unsigned		 x_connect:1, x_upgrade:1, x_is_head:1,
				 x_client_ka:1, x_http10:1, x_req_done:1,
				 x_resp_head:1, x_resp_done:1, x_reused:1,
				 x_dechunk:1, x_close:1, x_up_ka:1,
				 x_retried:1, x_has_body:1, x_resp_eof:1;
};

struct conn {
	TAILQ_ENTRY(conn)	 c_entry;
	struct proxy		*c_px;		/* borrowed */
	struct config		*c_cfg;		/* referenced */
	struct bufferevent	*c_cbev;	/* owned: client */
	struct bufferevent	*c_ubev;	/* owned: upstream */
	struct event		*c_timer;	/* owned */
	struct http1_parser	*c_reqp;	/* owned, made on first use */
	struct http1_parser	*c_resp;	/* owned, made on first use */
	struct exchange		*c_x;		/* owned: current exchange */
	enum conn_state		 c_state;
	int			 c_reject;	/* status to refuse with */
	size_t			 c_scan;	/* head end search offset */
	size_t			 c_uscan;
	uint64_t		 c_id;
	uint64_t		 c_last_ms;	/* tunnel activity */
	char			*c_mitm_host;	/* owned: intercepted authority */
	uint16_t		 c_mitm_port;
	char			 c_ua[24];	/* client runtime, from CONNECT */
	unsigned		 c_in_loop:1, c_head_timer:1, c_client_eof:1,
				 c_counted:1, c_flushing:1;
	char			 c_peer[56];
};

/* conn.c: arm the connection's one timer for ms from now. */
void	 conn_timer_set(struct conn *c, unsigned ms);

/* conn.c: the one way a connection dies (why: for the debug line). Frees
 * the sockets now and the struct from the loop, so callers up the stack
 * may still look at c->c_state (CS_DEAD). */
void	 conn_close(struct conn *c, const char *why);

/* conn.c: flush what the client still has to receive, then close. */
void	 conn_finish(struct conn *c);

/* conn.c: answer the current exchange with an error the proxy made
 * (logged once, here), then finish; closes instead when the response
 * already started. */
void	 conn_error(struct conn *c, int status, const char *reason);

/* conn.c: upstream_connect's callback for the connection (arg). */
void	 conn_upstream_ready(struct bufferevent *bev, enum upstream_fail why,
	    const char *detail, void *arg);

/* conn.c: take bev as the connection's client side: its callbacks,
 * watermarks, both timeouts (ms) and reading. */
void	 conn_attach_client(struct conn *c, struct bufferevent *bev,
	    unsigned timeout_ms);

/* conn.c: take bev as the connection's upstream side (its callbacks). */
void	 conn_attach_upstream(struct conn *c, struct bufferevent *bev);

/* conn.c: read and act on buffered request heads (the connection is back
 * in CS_HEAD after an exchange or a handshake). */
void	 conn_process(struct conn *c);

/* exchange.c: a new exchange for a parsed request head (NULL: memory). */
struct exchange	*exchange_new(struct conn *c, const struct http1_head *h);

/* exchange.c: free an exchange and what it owns (NULL ok). */
void	 exchange_free(struct exchange *x);

/* exchange.c: the exchange's one access record; counts it too. */
void	 exchange_log(struct conn *c, struct exchange *x);

/* exchange.c: the request head is parsed and its target resolved in t:
 * report it to the observer and prepare the head for the origin (h points
 * into the client's input). 0, or -1 when out of memory. */
int	 exchange_forward(struct conn *c, const struct http1_head *h,
	    const struct http1_target *t);

/* exchange.c: answer an origin-form request with the proxy's own page. */
void	 exchange_local(struct conn *c, const struct http1_head *h);

/* exchange.c: (re)start the upstream leg of the current exchange. */
void	 exchange_connect(struct conn *c);

/* exchange.c: the upstream leg is ready (bev, fresh or pooled), or
 * failed (bev NULL; why and detail say how). */
void	 exchange_attach(struct conn *c, struct bufferevent *bev,
	    enum upstream_fail why, const char *detail);

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

/* intercept.c: answer the CONNECT to t ourselves; TLS starts once the 200
 * has left (intercept_tls_start). */
void	 intercept_begin(struct conn *c, const struct http1_target *t);

/* intercept.c: the 200 is out: put TLS on the client socket. */
void	 intercept_tls_start(struct conn *c);

/* intercept.c: an event on the client during the TLS handshake. */
void	 intercept_handshake_event(struct conn *c, short what);

#endif
