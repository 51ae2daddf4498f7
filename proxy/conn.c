/*
 * One client connection's life: accept, read request heads, dispatch each
 * to the proxy's own pages, an exchange (exchange.c), a tunnel (tunnel.c)
 * or an interception (intercept.c), and one close path. libevent's
 * callbacks enter here and end by flushing what they produced.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "conn.h"
#include "transport.h"
#include "bevio.h"
#include "log.h"
#include "oauthlens.h"
#include "upstream.h"
#include "util.h"

#define REJECT_EXTRA	64	/* connections over the limit we answer */

static void	 conn_client_read_cb(struct bufferevent *, void *);
static void	 conn_client_write_cb(struct bufferevent *, void *);
static void	 conn_client_event_cb(struct bufferevent *, short, void *);
static void	 conn_up_read_cb(struct bufferevent *, void *);
static void	 conn_up_write_cb(struct bufferevent *, void *);
static void	 conn_up_event_cb(struct bufferevent *, short, void *);
static void	 conn_flush(struct conn *);
static void	 conn_settle(struct conn *);
static void	 conn_process(struct conn *);
static void	 conn_client_drained(struct conn *);
static void	 conn_connect(struct conn *);
static void	 conn_close(struct conn *, const char *);
static void	 conn_attach_client(struct conn *, struct bufferevent *,
		    unsigned);

static struct timeval
ms_tv(unsigned ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	return tv;
}

static void
conn_free(struct conn *c)
{
	struct proxy	*px = c->c_px;

	TAILQ_REMOVE(&px->px_conns, c, c_entry);
	if (c->c_counted)
		px->px_nconns--;
	else
		px->px_nrejecting--;
	http1_parser_free(c->c_reqp);
	http1_parser_free(c->c_resp);
	event_free(c->c_timer);
	config_unref(c->c_cfg);
	free(c->c_mitm_host);
	free(c);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	switch (c->c_state) {
	case CS_DEAD:
		conn_free(c);
		return;
	case CS_HEAD:
		conn_close(c, c->c_head_timer ? "timed out reading the "
		    "request head" : "idle");
		return;
	case CS_CLOSING:
		conn_close(c, "done");
		return;
	case CS_TLS_START:
	case CS_TLS_HANDSHAKE:
		conn_close(c, "timed out in the TLS handshake");
		return;
	default:
		conn_close(c, "timed out");
		return;
	}
}

/*
 * The one way a connection dies. Ends its exchange, frees the sockets now
 * (libevent allows it inside their callbacks) and the struct from the
 * loop, so callers up the stack may still look at c->c_state.
 */
static void
conn_close(struct conn *c, const char *why)
{
	struct timeval	now = { 0, 0 };

	if (c->c_state == CS_DEAD)
		return;
	exchange_end(c, XO_ABORT);
	c->c_next = CN_NONE;
	log_debug("connection %llu from %s closed: %s",
	    (unsigned long long)c->c_id, c->c_peer, why);
	c->c_state = CS_DEAD;
	if (c->c_cbev != NULL)
		bufferevent_free(c->c_cbev);
	if (c->c_ubev != NULL)
		bufferevent_free(c->c_ubev);
	c->c_cbev = c->c_ubev = NULL;
	evtimer_add(c->c_timer, &now);
}

/* Flush what the client still has to receive, then close politely. */
static void
conn_finish(struct conn *c)
{
	if (c->c_state == CS_DEAD)
		return;
	if (c->c_ubev != NULL) {
		bufferevent_free(c->c_ubev);
		c->c_ubev = NULL;
	}
	c->c_state = CS_CLOSING;
	bufferevent_setwatermark(c->c_cbev, EV_WRITE, 0, 0);
	bufferevent_enable(c->c_cbev, EV_READ);
	transport_timer(c, c->c_cfg->cf_to_idle_ms);
	if (evbuffer_get_length(bufferevent_get_output(c->c_cbev)) == 0)
		conn_client_write_cb(c->c_cbev, c);
}

void
conn_accept(struct proxy *px, evutil_socket_t fd, const struct sockaddr *sa,
    int socklen, int reject)
{
	struct conn	*c;
	int		 one = 1;

	/* Refusing politely costs a connection too: past a margin, just
	 * close. */
	if (reject != 0 && px->px_nrejecting >= REJECT_EXTRA) {
		stats_add(&px->px_stats, STAT_REJECTED, 1);
		evutil_closesocket(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->c_px = px;
	c->c_stats = &px->px_stats;
	c->c_cfg = config_ref(px->px_cfg);
	c->c_id = ++px->px_next_conn;
	c->c_reject = reject;
	util_sockaddr_str(sa, c->c_peer, sizeof(c->c_peer));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->c_cbev = bufferevent_socket_new(px->px_base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	c->c_timer = evtimer_new(px->px_base, conn_timer_cb, c);
	TAILQ_INSERT_TAIL(&px->px_conns, c, c_entry);
	if (reject == 0) {
		c->c_counted = 1;
		px->px_nconns++;
	} else
		px->px_nrejecting++;
	if (c->c_cbev == NULL || c->c_timer == NULL) {
		if (c->c_cbev == NULL)
			evutil_closesocket(fd);
		conn_close(c, "out of memory");
		return;
	}
	/* Set once: idle in both directions. Which silences are fine
	 * depends on the state (conn_client_event). */
	conn_attach_client(c, c->c_cbev, reject ? c->c_cfg->cf_to_header_ms :
	    c->c_cfg->cf_to_idle_ms);
	c->c_state = CS_HEAD;
}

/* Take bev as the client side: callbacks, watermarks, both timeouts. */
static void
conn_attach_client(struct conn *c, struct bufferevent *bev,
    unsigned timeout_ms)
{
	struct timeval	tv = ms_tv(timeout_ms);

	c->c_cbev = bev;
	bufferevent_setcb(bev, conn_client_read_cb, conn_client_write_cb,
	    conn_client_event_cb, c);
	bufferevent_setwatermark(bev, EV_READ, 0, READ_HIGH);
	bufferevent_setwatermark(bev, EV_WRITE, OUT_LOW, 0);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ);
}

/* The upstream leg is ready (bev) or failed (NULL): hand it to the
 * exchange. */
static void
conn_upstream_attach(struct conn *c, struct bufferevent *bev,
    enum upstream_fail why, const char *detail)
{
	if (bev != NULL) {
		c->c_ubev = bev;
		bufferevent_setcb(bev, conn_up_read_cb, conn_up_write_cb,
		    conn_up_event_cb, c);
	}
	exchange_attach(c, why, detail);
}

static void
conn_upstream_ready(struct bufferevent *bev, enum upstream_fail why,
    const char *detail, void *arg)
{
	struct conn	*c = arg;

	conn_upstream_attach(c, bev, why, detail);
	conn_flush(c);
}

/* Connect the exchange's upstream leg: a pooled one at once, or later. */
static void
conn_connect(struct conn *c)
{
	struct bufferevent	*bev = exchange_connect(c, conn_upstream_ready);

	if (bev != NULL)
		conn_upstream_attach(c, bev, UPSTREAM_OK, NULL);
}

/*
 * Whether the client's output is past its high-water mark: pipelined
 * requests (the proxy's own pages among them) then wait until it drains,
 * as relayed bodies do, and the client's input stops at READ_HIGH.
 */
static int
conn_out_full(struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->c_cbev)) >=
	    OUT_HIGH;
}

/* Run whatever the client's buffered input allows, without recursion. */
static void
conn_process(struct conn *c)
{
	if (c->c_in_loop)
		return;
	c->c_in_loop = 1;
	while (c->c_state == CS_HEAD && c->c_x == NULL &&
	    c->c_next == CN_NONE && !conn_out_full(c) &&
	    evbuffer_get_length(bufferevent_get_input(c->c_cbev)) > 0) {
		size_t before = evbuffer_get_length(
		    bufferevent_get_input(c->c_cbev));

		request_read(c);
		if (c->c_next == CN_PROCESS) {
			/* An exchange answered at once (a page of ours):
			 * the next head may already be here. */
			c->c_next = CN_NONE;
			continue;
		}
		if (c->c_state == CS_HEAD && c->c_x == NULL &&
		    c->c_next == CN_NONE &&
		    evbuffer_get_length(bufferevent_get_input(c->c_cbev)) ==
		    before)
			break;		/* incomplete head: wait for more */
	}
	if (c->c_state == CS_HEAD && c->c_x == NULL &&
	    c->c_next == CN_NONE && c->c_client_eof && !conn_out_full(c))
		transport_want(c, CN_CLOSE, "client closed");
	c->c_in_loop = 0;
}

/* Act on what the lower modules asked for, until nothing is asked. */
static void
conn_settle(struct conn *c)
{
	enum conn_next	next;

	while (c->c_state != CS_DEAD && (next = c->c_next) != CN_NONE) {
		c->c_next = CN_NONE;
		switch (next) {
		case CN_PROCESS:
			c->c_state = CS_HEAD;
			conn_process(c);
			break;
		case CN_FINISH:
			conn_finish(c);
			break;
		case CN_CLOSE:
			conn_close(c, c->c_why != NULL ? c->c_why : "closed");
			break;
		case CN_CONNECT:
			conn_connect(c);
			break;
		case CN_NONE:
			break;
		}
	}
}

/*
 * The socket's output beneath a TLS filter changed (libevent's entry
 * point): once it is empty, a closing connection may shut the socket
 * down, which it could not while records were still queued there.
 */
static void
conn_under_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct conn	*c = arg;

	if (info->n_deleted > 0 && evbuffer_get_length(buf) == 0 &&
	    c->c_state == CS_CLOSING)
		conn_client_drained(c);	/* frees nothing while closing */
}

/* The 200 to an intercepted CONNECT has left: start TLS. */
static void
conn_tls_start(struct conn *c)
{
	struct bufferevent	*under;

	if (intercept_tls_start(c) == -1) {
		conn_close(c, "cannot start TLS with the client");
		return;
	}
	conn_attach_client(c, c->c_cbev, c->c_cfg->cf_to_idle_ms);
	if ((under = bufferevent_get_underlying(c->c_cbev)) != NULL)
		evbuffer_add_cb(bufferevent_get_output(under), conn_under_cb,
		    c);
	c->c_state = CS_TLS_HANDSHAKE;
}

static void
conn_client_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	bevio_read_more(bev, READ_HIGH);
	c->c_tls_quiet = 0;	/* it spoke: no silent rejection */
	switch (c->c_state) {
	case CS_HEAD:
		conn_process(c);
		break;
	case CS_RELAY:
		if (!c->c_x->x_req_done)
			exchange_pump_request(c);
		break;
	case CS_TUNNEL:
		tunnel_pump(c, c->c_cbev, c->c_ubev);
		break;
	case CS_CLOSING:
		evbuffer_drain(bufferevent_get_input(bev),
		    evbuffer_get_length(bufferevent_get_input(bev)));
		break;
	default:
		break;		/* CS_UPSTREAM: stays buffered */
	}
	conn_flush(c);
}

/* Room in the client's output: resume what waits for it. */
static void
conn_client_drained(struct conn *c)
{
	struct bufferevent	*bev = c->c_cbev;

	switch (c->c_state) {
	case CS_HEAD:
		/* Pipelined requests waiting for room. */
		conn_process(c);
		break;
	case CS_RELAY:
		/* A body, or interim heads waiting for room. */
		exchange_pump_response(c);
		break;
	case CS_TLS_START:
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_tls_start(c);
		break;
	case CS_TUNNEL:
		tunnel_pump(c, c->c_ubev, c->c_cbev);
		break;
	case CS_CLOSING:
		if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
			break;
		/* Beneath a TLS filter, its records must have left too
		 * (conn_under_cb calls again when they have). */
		if (bufferevent_get_underlying(bev) != NULL &&
		    evbuffer_get_length(bufferevent_get_output(
		    bufferevent_get_underlying(bev))) > 0)
			break;
		/* All sent: half-close, then read until the client closes
		 * so that unread input cannot turn our close into a reset. */
		shutdown(bufferevent_getfd(bev), SHUT_WR);
		bufferevent_disable(bev, EV_WRITE);
		transport_timer(c, LINGER_MS);
		break;
	default:
		break;
	}
	conn_settle(c);
}

static void
conn_client_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	conn_client_drained(c);
	conn_flush(c);
}

static void
conn_client_event(struct bufferevent *bev, short what, struct conn *c)
{
	struct exchange	*x = c->c_x;

	if (c->c_state == CS_TLS_HANDSHAKE) {
		if (!intercept_handshake_event(c, what)) {
			conn_close(c, "TLS handshake with the client failed");
			return;
		}
		c->c_state = CS_HEAD;
		c->c_head_timer = 0;
		evtimer_del(c->c_timer);
		conn_process(c);
		return;
	}
	if (what & BEV_EVENT_CONNECTED)
		return;
	if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) &&
	    intercept_silent_reject(c, what)) {
		conn_close(c, "client rejected the certificate after the TLS "
		    "handshake");
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if ((c->c_state == CS_RELAY || c->c_state == CS_UPSTREAM) &&
		    (what & BEV_EVENT_READING) && x != NULL && x->x_req_done) {
			/* Waiting on the origin is not the client's fault. */
			bufferevent_enable(bev, EV_READ);
			return;
		}
		if (tunnel_active(c)) {
			bufferevent_enable(bev, EV_READ);
			return;
		}
		conn_close(c, (what & BEV_EVENT_WRITING) ? "client stopped "
		    "reading" : "client idle");
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		conn_close(c, "client connection error");
		return;
	}
	if (!(what & BEV_EVENT_EOF))
		return;
	c->c_client_eof = 1;
	switch (c->c_state) {
	case CS_HEAD:
		conn_process(c);
		conn_settle(c);
		/* Requests waiting for room are answered first. */
		if (c->c_state == CS_HEAD && c->c_x == NULL &&
		    !conn_out_full(c))
			conn_close(c, "client closed");
		break;
	case CS_UPSTREAM:
	case CS_RELAY:
		if (!x->x_req_done)
			conn_close(c, "client closed during the request");
		/* Otherwise finish the response, then close. */
		break;
	case CS_TUNNEL:
		tunnel_client_eof(c);
		break;
	default:
		conn_close(c, "client closed");
		break;
	}
}

static void
conn_up_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	bevio_read_more(bev, READ_HIGH);
	if (c->c_state == CS_RELAY)
		exchange_pump_response(c);
	else if (c->c_state == CS_TUNNEL)
		tunnel_pump(c, c->c_ubev, c->c_cbev);
	conn_flush(c);
}

/* Room in the origin's output: resume what waits for it. */
static void
conn_up_drained(struct conn *c)
{
	if (c->c_state == CS_RELAY && !c->c_x->x_req_done)
		exchange_pump_request(c);
	else if (c->c_state == CS_TUNNEL)
		tunnel_pump(c, c->c_cbev, c->c_ubev);
	else if (c->c_state == CS_FLUSH_UP &&
	    evbuffer_get_length(bufferevent_get_output(c->c_ubev)) == 0)
		conn_close(c, "tunnel closed by client");
	conn_settle(c);
}

static void
conn_up_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	conn_up_drained(c);
	conn_flush(c);
}

/* After a callback did its work: act on what it asked for, send, let the
 * senders refill, and leave EV_WRITE armed only where bytes still wait.
 * Iterative, bounded. */
static void
conn_flush(struct conn *c)
{
	struct bufferevent	*b;
	int			 i, again;

	if (c->c_flushing || c->c_state == CS_DEAD)
		return;
	conn_settle(c);
	c->c_flushing = 1;
	for (i = 0, again = 1; again && i < 32; i++) {
		again = 0;
		if (c->c_state != CS_DEAD && c->c_cbev != NULL &&
		    bevio_write_now(c->c_cbev)) {
			conn_client_drained(c);
			again = 1;
		}
		if (c->c_state != CS_DEAD && c->c_ubev != NULL &&
		    bevio_write_now(c->c_ubev)) {
			conn_up_drained(c);
			again = 1;
		}
		if (c->c_state == CS_DEAD)
			break;
	}
	c->c_flushing = 0;
	if (c->c_state == CS_DEAD)
		return;
	for (i = 0; i < 2; i++) {
		b = i == 0 ? c->c_cbev : c->c_ubev;
		if (b == NULL || (i == 0 && c->c_state == CS_CLOSING &&
		    !(bufferevent_get_enabled(b) & EV_WRITE) &&
		    evbuffer_get_length(bufferevent_get_output(b)) == 0))
			continue;
		if (evbuffer_get_length(bufferevent_get_output(b)) > 0) {
			if (!(bufferevent_get_enabled(b) & EV_WRITE))
				bufferevent_enable(b, EV_WRITE);
		} else if (bufferevent_openssl_get_ssl(b) != NULL) {
			/* Also drops the write event the TLS bufferevent
			 * armed when bytes were added, before epoll sees it. */
			SSL *ssl = bufferevent_openssl_get_ssl(b);

			if (SSL_is_init_finished(ssl))
				bufferevent_disable(b, EV_WRITE);
		} else if (bufferevent_get_enabled(b) & EV_WRITE)
			bufferevent_disable(b, EV_WRITE);
	}
}

void
conn_drain_all(struct proxy *px)
{
	struct conn	*c, *next;

	for (c = TAILQ_FIRST(&px->px_conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, c_entry);
		if (c->c_state == CS_HEAD && c->c_x == NULL &&
		    evbuffer_get_length(bufferevent_get_input(c->c_cbev)) == 0)
			conn_close(c, "shutting down");
	}
}

void
conn_close_all(struct proxy *px)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &px->px_conns, c_entry)
		conn_close(c, "shutting down");
}

/* libevent's entry points: each ends by flushing what it produced. */
static void
conn_client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	conn_client_event(bev, what, c);
	conn_flush(c);
}

static void
conn_up_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	if (c->c_state == CS_TUNNEL || c->c_state == CS_FLUSH_UP)
		tunnel_up_event(c, what);
	else
		exchange_up_event(c, what);
	conn_flush(c);
}
