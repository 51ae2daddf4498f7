/*
 * One client connection: reads request heads, relays each exchange to an
 * origin with backpressure in both directions, turns into a byte tunnel
 * after CONNECT or a 101, and answers the proxy's own pages. A connection
 * dies one way only, conn_close(), which writes its closing log line and
 * frees it from the event loop, never inside its own callback.
 */
#ifndef OAUTHLENS_CONN_H
#define OAUTHLENS_CONN_H

#include <sys/socket.h>

#include <event2/util.h>

struct proxy;

/* Take ownership of an accepted socket. reject is 0 to serve it, or the
 * status (403, 503) that its first request will be answered with. */
void	 conn_accept(struct proxy *px, evutil_socket_t fd,
	    const struct sockaddr *sa, int socklen, int reject);

/* Start draining: idle connections close now, busy ones after their
 * current exchange. */
void	 conn_drain_all(struct proxy *px);

/* Close every connection at once (the drain timeout has passed). */
void	 conn_close_all(struct proxy *px);

#endif
