/*
 * Connections to origins: DNS through evdns (the loop never blocks on a
 * lookup), --resolve overrides, each address tried in turn with a connect
 * timeout, and a pool of idle keep-alive connections per host:port.
 */
#ifndef OAUTHLENS_UPSTREAM_H
#define OAUTHLENS_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evdns_base;
struct bufferevent;
struct config;
struct mitm;

enum upstream_fail {
	UPSTREAM_OK,
	UPSTREAM_DNS,		/* name does not resolve */
	UPSTREAM_REFUSED,	/* every address refused */
	UPSTREAM_UNREACHABLE,	/* network or host unreachable */
	UPSTREAM_TIMEOUT,	/* connect timed out */
	UPSTREAM_TLS,		/* TLS handshake or verification failed */
	UPSTREAM_PARENT,	/* the upstream proxy refused or failed */
	UPSTREAM_ERROR		/* anything else */
};

/* Called once with a connected bufferevent (ownership passes, callbacks
 * unset, reading disabled) or with NULL, a cause and a detail line. Never
 * called from inside upstream_open(). */
typedef void	 (*upstream_cb)(struct bufferevent *bev,
		    enum upstream_fail why, const char *detail, void *arg);

struct upstream;
struct upstream_req;

/* The connector and pool for one event loop. */
struct upstream	*upstream_new(struct event_base *base, struct evdns_base *dns);
void		 upstream_free(struct upstream *up);

#define UPSTREAM_O_TUNNEL	0x01		/* relay bytes as they are */

/* Start connecting to host:port under cf (its --resolve entries, connect
 * timeout and upstream proxy); with tls set, over verified TLS from tls's
 * client context (the bufferevent handed over is then an OpenSSL one).
 * When cf sends host through a parent proxy (parent_for): with tls or
 * UPSTREAM_O_TUNNEL, a CONNECT through it, handed over only after its 2xx
 * (TLS runs inside, verified against host); else a connection to the
 * parent itself, for absolute-form requests. Returns a handle for
 * cancelling, or NULL if nothing could be started (then cb is not
 * called). */
struct upstream_req *upstream_open(struct upstream *up,
		    const struct config *cf, const char *host, uint16_t port,
		    unsigned flags, struct mitm *tls, upstream_cb cb,
		    void *arg);

/* The authority to ask a parent proxy for when host:port is wanted: its
 * --resolve address and port if cf has one (like curl's --connect-to),
 * else host:port itself. host (no brackets) goes to buf. */
void		 upstream_authority(const struct config *cf,
		    const char *host, uint16_t port, char *buf, size_t len,
		    uint16_t *outport);

/* Abandon a pending connect; its callback will not run (NULL ok). */
void		 upstream_cancel(struct upstream_req *req);

/* Pool kinds (the tls argument below). */
#define UPSTREAM_POOL_PLAIN	0	/* to the origin host:port */
#define UPSTREAM_POOL_TLS	1	/* TLS to the origin, maybe tunnelled */
#define UPSTREAM_POOL_PARENT	2	/* to a parent proxy's host:port */

/* An idle pooled connection to host:port, or NULL. Ownership passes;
 * callbacks are cleared, timeouts and watermarks kept. */
struct bufferevent *upstream_pool_take(struct upstream *up, const char *host,
		    uint16_t port, int tls);

/* Keep a healthy idle connection for reuse (or free it if the pool is
 * full). Ownership passes to the pool. */
void		 upstream_pool_put(struct upstream *up, const char *host,
		    uint16_t port, int tls, struct bufferevent *bev);

/* Close the idle TLS connections (their origins were verified against
 * a trust store that has just been replaced). */
void		 upstream_pool_drop_tls(struct upstream *up);

/* Close every idle connection (the upstream proxy changed). */
void		 upstream_pool_drop_all(struct upstream *up);

/* Number of idle pooled connections (for metrics and tests). */
unsigned	 upstream_pool_size(const struct upstream *up);

#endif
