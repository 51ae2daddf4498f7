#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "conn.h"
#include "ca.h"
#include "diag.h"
#include "log.h"
#include "mitm.h"
#include "oauth.h"
#include "oauthlens.h"
#include "status.h"
#include "upstream.h"
#include "util.h"

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
#define REJECT_EXTRA	64	/* connections over the limit we answer */

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
	struct oauth_x		*x_oauth;	/* owned: token exchange */
	struct evbuffer		*x_hold;	/* owned: held response */
	char			*x_extra;	/* owned: header line to add */
	enum lang		 x_lang;
	size_t			 x_hold_head;	/* its head's length */
	unsigned		 x_connect:1, x_upgrade:1, x_is_head:1,
				 x_client_ka:1, x_http10:1, x_req_done:1,
				 x_resp_head:1, x_resp_done:1, x_reused:1,
				 x_dechunk:1, x_close:1, x_up_ka:1,
				 x_retried:1, x_has_body:1, x_resp_eof:1,
				 x_authorize:1;
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

static void	 conn_close(struct conn *, const char *);
static void	 conn_process(struct conn *);
static void	 conn_client_read_cb(struct bufferevent *, void *);
static void	 conn_client_write_cb(struct bufferevent *, void *);
static void	 conn_client_drained(struct conn *);
static void	 conn_up_drained(struct conn *);
static void	 conn_flush(struct conn *);
static void	 conn_client_event_cb(struct bufferevent *, short, void *);
static void	 conn_client_event(struct bufferevent *, short, struct conn *);
static void	 conn_up_event(struct bufferevent *, short, struct conn *);
static void	 conn_upstream_attach(struct bufferevent *, enum upstream_fail,
		    const char *, struct conn *);
static void	 conn_up_read_cb(struct bufferevent *, void *);
static void	 conn_up_write_cb(struct bufferevent *, void *);
static void	 conn_up_event_cb(struct bufferevent *, short, void *);
static void	 oauth_ctx_fill(struct conn *, struct oauth_ctx *);
static void	 conn_upstream_ready(struct bufferevent *, enum upstream_fail,
		    const char *, void *);

/* Case-insensitive search of a C string in a slice. */
static int
strcasestr_n(const char *p, size_t len, const char *needle)
{
	size_t	n = strlen(needle), i;

	for (i = 0; i + n <= len; i++)
		if (strncasecmp(p + i, needle, n) == 0)
			return 1;
	return 0;
}

static struct timeval
ms_tv(unsigned ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	return tv;
}

static void
timer_set(struct conn *c, unsigned ms)
{
	struct timeval	tv = ms_tv(ms);

	evtimer_add(c->c_timer, &tv);
}

static void
exchange_free(struct exchange *x)
{
	if (x == NULL)
		return;
	upstream_cancel(x->x_ureq);
	oauth_free(x->x_oauth);
	free(x->x_extra);
	if (x->x_hold != NULL)
		evbuffer_free(x->x_hold);
	if (x->x_head != NULL)
		evbuffer_free(x->x_head);
	free(x->x_target);
	free(x);
}

/* The one access record of an exchange. */
static void
exchange_log(struct conn *c, struct exchange *x)
{
	struct logrec	lr;
	char		host[300];

	/* Called once per exchange: the one place that counts it. */
	status_count(c->c_px, x->x_method, x->x_status);
	c->c_px->px_stats.st_bytes_in += x->x_in;
	c->c_px->px_stats.st_bytes_out += x->x_out;
	if (!log_enabled(LL_INFO))
		return;
	logrec_begin(&lr, LL_INFO, "access");
	logrec_int(&lr, "req", (long long)x->x_id);
	logrec_str(&lr, "client", c->c_peer);
	logrec_str(&lr, "method", x->x_method);
	snprintf(host, sizeof(host), "%s%s%s:%u",
	    strchr(x->x_host, ':') ? "[" : "", x->x_host,
	    strchr(x->x_host, ':') ? "]" : "", x->x_port);
	logrec_str(&lr, "host", x->x_host[0] ? host : "-");
	if (x->x_target != NULL)
		logrec_target(&lr, "target", x->x_target, x->x_target_len);
	logrec_int(&lr, "status", x->x_status);
	logrec_int(&lr, "bytes_in", (long long)x->x_in);
	logrec_int(&lr, "bytes_out", (long long)x->x_out);
	logrec_int(&lr, "ms", (long long)(util_now_ms() - x->x_start_ms));
	if (x->x_reused)
		logrec_int(&lr, "reused", 1);
	logrec_end(&lr);
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
	exchange_free(c->c_x);
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
 * The one way a connection dies. Frees the sockets now (libevent allows
 * it inside their callbacks) and the struct from the loop, so callers up
 * the stack may still look at c->c_state.
 */
static void
conn_close(struct conn *c, const char *why)
{
	struct timeval	now = { 0, 0 };

	if (c->c_state == CS_DEAD)
		return;
	if (c->c_x != NULL && c->c_x->x_status != 0 && !c->c_x->x_resp_done)
		exchange_log(c, c->c_x);
	log_debug("connection %llu from %s closed: %s",
	    (unsigned long long)c->c_id, c->c_peer, why);
	c->c_state = CS_DEAD;
	if (c->c_cbev != NULL)
		bufferevent_free(c->c_cbev);
	if (c->c_ubev != NULL)
		bufferevent_free(c->c_ubev);
	c->c_cbev = c->c_ubev = NULL;
	exchange_free(c->c_x);
	c->c_x = NULL;
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
	timer_set(c, c->c_cfg->cf_to_idle_ms);
	if (evbuffer_get_length(bufferevent_get_output(c->c_cbev)) == 0)
		conn_client_write_cb(c->c_cbev, c);
}

/* Answer with an error we made ourselves and close after it. */
static void
conn_error(struct conn *c, int status, const char *reason)
{
	struct logrec	lr;
	size_t		before;

	if (c->c_state == CS_DEAD)
		return;
	if (c->c_x != NULL && c->c_x->x_resp_head) {
		/* Too late for a status: the response already started. */
		conn_close(c, reason);
		return;
	}
	c->c_px->px_stats.st_errors++;
	before = evbuffer_get_length(bufferevent_get_output(c->c_cbev));
	http1_write_error(bufferevent_get_output(c->c_cbev), status, reason,
	    1);
	if (c->c_x != NULL)
		c->c_x->x_out += evbuffer_get_length(
		    bufferevent_get_output(c->c_cbev)) - before;
	logrec_begin(&lr, status >= 500 ? LL_WARN : LL_INFO, "proxy-error");
	if (c->c_x != NULL)
		logrec_int(&lr, "req", (long long)c->c_x->x_id);
	logrec_str(&lr, "client", c->c_peer);
	logrec_int(&lr, "status", status);
	logrec_str(&lr, "reason", reason);
	logrec_end(&lr);
	if (c->c_x != NULL) {
		c->c_x->x_status = status;
		c->c_x->x_resp_done = 1;
		exchange_log(c, c->c_x);
		exchange_free(c->c_x);
		c->c_x = NULL;
	}
	conn_finish(c);
}

void
conn_accept(struct proxy *px, evutil_socket_t fd, const struct sockaddr *sa,
    int socklen, int reject)
{
	struct conn	*c;
	int		 one = 1;
	struct timeval	 tv;

	/* Refusing politely costs a connection too: past a margin, just
	 * close. */
	if (reject != 0 && px->px_nrejecting >= REJECT_EXTRA) {
		px->px_stats.st_rejected++;
		evutil_closesocket(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->c_px = px;
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
	bufferevent_setcb(c->c_cbev, conn_client_read_cb,
	    conn_client_write_cb, conn_client_event_cb, c);
	bufferevent_setwatermark(c->c_cbev, EV_READ, 0, READ_HIGH);
	bufferevent_setwatermark(c->c_cbev, EV_WRITE, OUT_LOW, 0);
	/* Set once: idle in both directions. Which silences are fine
	 * depends on the state (conn_client_event_cb). */
	tv = ms_tv(reject ? c->c_cfg->cf_to_header_ms :
	    c->c_cfg->cf_to_idle_ms);
	bufferevent_set_timeouts(c->c_cbev, &tv, &tv);
	bufferevent_enable(c->c_cbev, EV_READ);
	c->c_state = CS_HEAD;
}

/* Refuse a request the connection was accepted to refuse. */
static void
conn_reject(struct conn *c)
{
	char	buf[160];

	if (c->c_reject == 403)
		snprintf(buf, sizeof(buf), "client %s is not in this proxy's "
		    "\"allow\" list", c->c_peer);
	else
		snprintf(buf, sizeof(buf), "too many connections (limit %u); "
		    "try again", c->c_cfg->cf_max_connections);
	c->c_px->px_stats.st_rejected++;
	conn_error(c, c->c_reject, buf);
}

static struct exchange *
exchange_new(struct conn *c, const struct http1_head *h)
{
	struct exchange	*x = calloc(1, sizeof(*x));

	if (x == NULL)
		return NULL;
	x->x_id = ++c->c_px->px_next_req;
	x->x_start_ms = util_now_ms();
	snprintf(x->x_method, sizeof(x->x_method), "%s", h->h_method);
	x->x_connect = h->h_connect;
	x->x_is_head = h->h_is_head;
	x->x_upgrade = h->h_upgrade;
	x->x_http10 = h->h_major == 1 && h->h_minor == 0;
	x->x_client_ka = h->h_keepalive;
	x->x_has_body = h->h_body != HTTP1_BODY_NONE;
	x->x_req_done = !x->x_has_body;
	c->c_px->px_stats.st_requests++;
	return x;
}

/* Start (or restart, after a stale pooled connection) the upstream leg. */
static void
conn_get_upstream(struct conn *c)
{
	struct exchange		*x = c->c_x;
	struct bufferevent	*bev = NULL;

	c->c_state = CS_UPSTREAM;
	if (!x->x_connect && !x->x_upgrade && !x->x_retried)
		bev = upstream_pool_take(c->c_px->px_up, x->x_host, x->x_port,
		    c->c_mitm_host != NULL);
	if (bev != NULL) {
		x->x_reused = 1;
		conn_upstream_ready(bev, UPSTREAM_OK, NULL, c);
		return;
	}
	x->x_reused = 0;
	x->x_ureq = upstream_connect(c->c_px->px_up, c->c_cfg, x->x_host,
	    x->x_port, c->c_mitm_host != NULL && !x->x_connect ?
	    c->c_px->px_mitm : NULL, conn_upstream_ready, c);
	if (x->x_ureq == NULL)
		conn_error(c, 502, "cannot start a connection to the origin");
}

/* The proxy's own pages answer origin-form requests. */
static void
conn_local(struct conn *c, const struct http1_head *h)
{
	struct exchange	*x = c->c_x;
	struct evbuffer	*out = bufferevent_get_output(c->c_cbev);
	size_t		 before = evbuffer_get_length(out);
	int		 keep;

	if (x->x_has_body) {
		conn_error(c, 405, "the proxy's own pages take no request "
		    "body");
		return;
	}
	keep = x->x_client_ka && !c->c_px->px_draining;
	x->x_status = status_page(c->c_px, h, out, keep);
	x->x_out = evbuffer_get_length(out) - before;
	x->x_resp_done = 1;
	exchange_log(c, x);
	exchange_free(x);
	c->c_x = NULL;
	if (!keep)
		conn_finish(c);
}

/* Guess the client's runtime from its User-Agent, for trust advice. */
static void
conn_guess_runtime(struct conn *c, const struct http1_head *h)
{
	static const char *const known[][2] = {
		{ "python-requests", "python-requests" },
		{ "python", "python" }, { "node", "node" },
		{ "undici", "node" }, { "axios", "node" },
		{ "go-http-client", "go" }, { "curl", "curl" },
		{ "java", "java" }, { "okhttp", "java" }, { "git", "git" },
	};
	const struct slice	*ua = http1_header(h, "user-agent");
	size_t			 i;

	snprintf(c->c_ua, sizeof(c->c_ua), "unknown");
	if (ua == NULL) {
		/* Python's http.client (requests, urllib3, urllib, pip)
		 * tunnels with a bare "CONNECT host:port HTTP/1.0" and no
		 * fields unless told to add some. */
		if (h->h_major == 1 && h->h_minor == 0 && h->h_nhdrs == 0)
			snprintf(c->c_ua, sizeof(c->c_ua), "python");
		return;
	}
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcasestr_n(ua->s_ptr, ua->s_len, known[i][0])) {
			snprintf(c->c_ua, sizeof(c->c_ua), "%s", known[i][1]);
			return;
		}
}

/* CONNECT to a host on the intercept list: answer 200 ourselves, then
 * terminate the client's TLS with a minted certificate once it is sent. */
static void
conn_intercept(struct conn *c, const struct http1_target *t)
{
	static const char established[] =
	    "HTTP/1.1 200 Connection established\r\n\r\n";
	struct exchange	*x = c->c_x;

	c->c_mitm_host = xstrdup(t->t_host);
	c->c_mitm_port = t->t_port;
	x->x_status = 200;
	x->x_resp_done = 1;
	exchange_log(c, x);
	exchange_free(x);
	c->c_x = NULL;
	c->c_px->px_stats.st_intercepted++;
	evbuffer_add(bufferevent_get_output(c->c_cbev), established,
	    sizeof(established) - 1);
	c->c_state = CS_TLS_START;
	bufferevent_setwatermark(c->c_cbev, EV_WRITE, 0, 0);
	timer_set(c, c->c_cfg->cf_to_header_ms);
}

/* The 200 is out: put TLS on the client socket. */
static void
conn_tls_start(struct conn *c)
{
	struct bufferevent	*plain = c->c_cbev, *tls;
	struct evbuffer		*pending = bufferevent_get_input(plain);
	SSL			*ssl;
	struct timeval		 tv;
	evutil_socket_t		 fd = bufferevent_getfd(plain);

	ssl = mitm_client_ssl(c->c_px->px_mitm, c->c_mitm_host);
	if (ssl == NULL) {
		conn_close(c, "cannot start TLS with the client");
		return;
	}
	if (evbuffer_get_length(pending) == 0) {
		/* Hand the socket itself to OpenSSL: no extra copy. */
		bufferevent_setfd(plain, -1);
		bufferevent_free(plain);
		tls = bufferevent_openssl_socket_new(c->c_px->px_base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (tls == NULL)
			evutil_closesocket(fd);
	} else {
		/* The ClientHello came early: read it through a filter. */
		tls = bufferevent_openssl_filter_new(c->c_px->px_base, plain,
		    ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (tls == NULL)
			bufferevent_free(plain);
	}
	c->c_cbev = tls;
	if (tls == NULL) {
		conn_close(c, "cannot start TLS with the client");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	tv = ms_tv(c->c_cfg->cf_to_idle_ms);
	bufferevent_set_timeouts(tls, &tv, &tv);
	bufferevent_setcb(tls, conn_client_read_cb, conn_client_write_cb,
	    conn_client_event_cb, c);
	bufferevent_setwatermark(tls, EV_READ, 0, READ_HIGH);
	bufferevent_setwatermark(tls, EV_WRITE, OUT_LOW, 0);
	bufferevent_enable(tls, EV_READ);
	c->c_state = CS_TLS_HANDSHAKE;
}

/* One plain line on why a client refused our certificate, and the fix
 * for its runtime. */
static void
conn_tls_failed(struct conn *c, short what, unsigned long err)
{
	SSL		*ssl = bufferevent_openssl_get_ssl(c->c_cbev);
	struct logrec	 lr;
	const char	*ca = c->c_px->px_ca ? ca_cert_path(c->c_px->px_ca) :
			    "certs/ca.pem";
	char		 fix[800], bundle[300];
	size_t		 dl = strlen(ca) > 6 ? strlen(ca) - 6 : 0;

	c->c_px->px_stats.st_tls_failed++;
	/* OpenSSL 3 reports a close without close_notify as an error. */
	if (ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		err = 0;
	if (err == 0 && ((what & BEV_EVENT_TIMEOUT) || ssl == NULL ||
	    SSL_get_state(ssl) == TLS_ST_BEFORE)) {
		/* Our certificate never reached the client (it left before
		 * its ClientHello), or it went quiet: no sign of distrust. */
		logrec_begin(&lr, LL_INFO, "tls-client-gone");
		logrec_str(&lr, "client", c->c_peer);
		logrec_str(&lr, "host", c->c_mitm_host);
		logrec_str(&lr, "msg", (what & BEV_EVENT_TIMEOUT) ? "the "
		    "client went quiet during the TLS handshake (timed out)" :
		    "the client closed the connection before the TLS handshake "
		    "began");
		logrec_end(&lr);
		return;
	}
	if (err != 0 && !mitm_untrusted_alert(err)) {
		logrec_begin(&lr, LL_WARN, "tls-client-failed");
		logrec_str(&lr, "client", c->c_peer);
		logrec_str(&lr, "host", c->c_mitm_host);
		logrec_str(&lr, "reason", ERR_reason_error_string(err));
		logrec_end(&lr);
		return;
	}
	/* Variables that replace the trust store get the bundle (system
	 * store + our CA), so hosts we do not intercept still verify. */
	snprintf(bundle, sizeof(bundle), "%.*sca-bundle.pem", (int)dl, ca);
	if (c->c_px->px_ca != NULL &&
	    !ca_permits(c->c_px->px_ca, c->c_mitm_host)) {
		logrec_begin(&lr, LL_WARN, "tls-untrusted");
		logrec_str(&lr, "client", c->c_peer);
		logrec_str(&lr, "host", c->c_mitm_host);
		logrec_str(&lr, "msg", "this host is outside the name "
		    "constraints of the oauthlens CA, so clients must reject "
		    "its certificate");
		logrec_str(&lr, "fix", "run oauthlens --new-ca once and trust "
		    "the new ca.pem");
		logrec_end(&lr);
		return;
	}
	if (strcmp(c->c_ua, "python-requests") == 0 ||
	    strcmp(c->c_ua, "python") == 0)
		snprintf(fix, sizeof(fix), "export REQUESTS_CA_BUNDLE=%s "
		    "SSL_CERT_FILE=%s (or pass verify=\"%s\")", bundle, bundle,
		    bundle);
	else if (strcmp(c->c_ua, "node") == 0)
		snprintf(fix, sizeof(fix), "export NODE_EXTRA_CA_CERTS=%s and "
		    "restart node", ca);
	else if (strcmp(c->c_ua, "go") == 0)
		snprintf(fix, sizeof(fix), "export SSL_CERT_FILE=%s", bundle);
	else if (strcmp(c->c_ua, "curl") == 0)
		snprintf(fix, sizeof(fix), "curl --cacert %s, or export "
		    "CURL_CA_BUNDLE=%s", bundle, bundle);
	else if (strcmp(c->c_ua, "java") == 0)
		snprintf(fix, sizeof(fix), "keytool -importcert -noprompt "
		    "-alias oauthlens -file %s -cacerts -storepass changeit", ca);
	else if (strcmp(c->c_ua, "git") == 0)
		snprintf(fix, sizeof(fix), "export GIT_SSL_CAINFO=%s", bundle);
	else
		snprintf(fix, sizeof(fix), "make the client trust %s (oauthlens "
		    "--env prints the variables for each runtime)", ca);
	logrec_begin(&lr, LL_WARN, "tls-untrusted");
	logrec_str(&lr, "client", c->c_peer);
	logrec_str(&lr, "host", c->c_mitm_host);
	logrec_str(&lr, "runtime", c->c_ua);
	logrec_str(&lr, "msg", err != 0 ? "the client rejected the "
	    "certificate oauthlens made for this host: it does not trust the "
	    "oauthlens CA" : "the client closed the connection during the TLS "
	    "handshake: it probably does not trust the oauthlens CA");
	logrec_str(&lr, "fix", fix);
	logrec_end(&lr);
}

/* Feed the flow memory: authorize requests, and callback requests that
 * deliver a code. Only keyed hashes of codes and states are kept. */
static void
conn_observe_request(struct conn *c, const struct http1_target *t)
{
	const char	*q;
	size_t		 plen, qlen;

	if (t->t_path.s_ptr == NULL || c->c_px->px_flow == NULL ||
	    (q = memchr(t->t_path.s_ptr, '?', t->t_path.s_len)) == NULL)
		return;
	plen = (size_t)(q - t->t_path.s_ptr);
	qlen = t->t_path.s_len - plen - 1;
	q++;
	if (config_token_host(c->c_cfg, t->t_host) && plen == 22 &&
	    memcmp(t->t_path.s_ptr, "/login/oauth/authorize", 22) == 0) {
		c->c_x->x_authorize = 1;
		diag_authorize(c->c_px->px_flow, q, qlen, util_now_ms());
	} else if (memmem(q, qlen, "code=", 5) != NULL)
		diag_code_issued(c->c_px->px_flow, q, qlen, util_now_ms());
	else if (memmem(q, qlen, "error=", 6) != NULL &&
	    memmem(q, qlen, "state=", 6) != NULL) {
		/* The browser brings an authorization error to the
		 * callback: say so on the app's answer. */
		struct oauth_ctx ctx;

		oauth_ctx_fill(c, &ctx);
		c->c_x->x_extra = oauth_redirect_error(c->c_cfg,
		    c->c_x->x_lang, q, qlen, &ctx);
	}
}

/* An authorize response that redirects to the callback with a code. */
static void
conn_observe_response(struct conn *c, const struct http1_head *h)
{
	const struct slice	*loc;
	const char		*q;

	struct oauth_ctx	 ctx;
	size_t			 qlen;

	if (c->c_x->x_oauth != NULL)
		oauth_clock(c->c_px, h);
	if (!c->c_x->x_authorize || c->c_px->px_flow == NULL ||
	    h->h_status / 100 != 3 ||
	    (loc = http1_header(h, "location")) == NULL ||
	    (q = memchr(loc->s_ptr, '?', loc->s_len)) == NULL)
		return;
	q++;
	qlen = (size_t)(loc->s_ptr + loc->s_len - q);
	if (memmem(q, qlen, "error=", 6) != NULL && c->c_x->x_extra == NULL) {
		oauth_ctx_fill(c, &ctx);
		c->c_x->x_extra = oauth_redirect_error(c->c_cfg,
		    c->c_x->x_lang, q, qlen, &ctx);
		return;
	}
	diag_code_issued(c->c_px->px_flow, q, qlen, util_now_ms());
}

/* Act on a parsed request head; the head's bytes are still in input. */
static void
conn_dispatch(struct conn *c, const struct http1_head *h, size_t headlen)
{
	struct http1_target	 t;
	struct http1_error	 err;
	struct exchange		*x;
	struct evbuffer		*in = bufferevent_get_input(c->c_cbev);
	char			 buf[320];

	if ((x = exchange_new(c, h)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	c->c_x = x;
	x->x_in = headlen;
	if (c->c_cfg->cf_proxy_auth != NULL && c->c_mitm_host == NULL) {
		const struct slice *pa = http1_header(h, "proxy-authorization");

		if (!config_proxy_auth_ok(c->c_cfg, pa ? pa->s_ptr : NULL,
		    pa ? pa->s_len : 0)) {
			conn_error(c, 407, pa ? "wrong proxy credentials" :
			    "this proxy needs credentials (proxy_auth)");
			return;
		}
	}
	if (http1_parse_target(h, &t, &err) == -1) {
		conn_error(c, err.he_status, err.he_reason);
		return;
	}
	if (c->c_mitm_host != NULL) {
		/* Inside an intercepted tunnel the authority is the one the
		 * client CONNECTed to; targets are in origin form. */
		if (t.t_form != 'o') {
			conn_error(c, 400, "requests inside a TLS tunnel must "
			    "use origin-form targets");
			return;
		}
		t.t_form = 'a';
		snprintf(t.t_host, sizeof(t.t_host), "%s", c->c_mitm_host);
		t.t_port = c->c_mitm_port;
		t.t_tls = 1;
	}
	/* Only the access record needs the target. */
	if (log_enabled(LL_INFO) && t.t_form == 'c')
		x->x_target = xstrndup(h->h_target.s_ptr, h->h_target.s_len);
	else if (log_enabled(LL_INFO) && asprintf(&x->x_target, "%s%.*s",
	    t.t_path.s_len == 0 || t.t_path.s_ptr[0] == '?' ? "/" : "",
	    (int)t.t_path.s_len, t.t_path.s_ptr ? t.t_path.s_ptr : "") == -1)
		x->x_target = NULL;
	x->x_target_len = x->x_target ? strlen(x->x_target) : 0;
	if (t.t_form == 'o') {
		/* h points into the input: answer first, then drain it. */
		conn_local(c, h);
		evbuffer_drain(in, headlen);
		return;
	}
	snprintf(x->x_host, sizeof(x->x_host), "%s", t.t_host);
	x->x_port = t.t_port;
	if (t.t_form == 'c') {
		if (c->c_px->px_mitm != NULL && c->c_mitm_host == NULL &&
		    config_connect_port_ok(c->c_cfg, t.t_port) &&
		    mitm_intercepts(&c->c_cfg->cf_intercept, t.t_host))
			conn_guess_runtime(c, h);	/* h lives in input */
		evbuffer_drain(in, headlen);
		if (!config_connect_port_ok(c->c_cfg, t.t_port)) {
			snprintf(buf, sizeof(buf), "CONNECT to port %u is not "
			    "allowed (connect_ports)", t.t_port);
			conn_error(c, 403, buf);
			return;
		}
		if (c->c_px->px_mitm != NULL && c->c_mitm_host == NULL &&
		    mitm_intercepts(&c->c_cfg->cf_intercept, t.t_host)) {
			conn_intercept(c, &t);
			return;
		}
		conn_get_upstream(c);
		return;
	}
	x->x_head = evbuffer_new();
	if (x->x_head == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	x->x_oauth = oauth_request(c->c_cfg, h, &t);
	x->x_lang = oauth_lang(c->c_cfg, h);
	conn_observe_request(c, &t);
	http1_write_request_head(x->x_head, h, &t,
	    (x->x_upgrade ? HTTP1_W_UPGRADE : 0) |
	    (x->x_oauth ? HTTP1_W_DECODABLE : 0));
	evbuffer_drain(in, headlen);
	conn_get_upstream(c);
}

/* Read and act on request heads while the connection is idle. */
static void
conn_read_head(struct conn *c)
{
	struct evbuffer		*in = bufferevent_get_input(c->c_cbev);
	struct http1_head	*h = &c->c_px->px_scratch;
	struct http1_error	 err;
	size_t			 len, headlen;
	const char		*buf;
	int			 r;

	len = evbuffer_get_length(in);
	if (len == 0)
		return;
	if (len > HTTP1_MAX_HEAD)
		len = HTTP1_MAX_HEAD;
	buf = (const char *)evbuffer_pullup(in, (ssize_t)len);
	r = http1_head_end(buf, len, &c->c_scan, &headlen, &err);
	if (r == 0) {
		/* A partial head: an absolute deadline from its first
		 * byte, which trickling more bytes does not extend. */
		if (!c->c_head_timer) {
			c->c_head_timer = 1;
			timer_set(c, c->c_cfg->cf_to_header_ms);
		}
		return;
	}
	c->c_scan = 0;
	if (c->c_head_timer) {
		c->c_head_timer = 0;
		evtimer_del(c->c_timer);
	}
	if (c->c_reject) {
		conn_reject(c);
		return;
	}
	if (r == -1) {
		conn_error(c, err.he_status, err.he_reason);
		return;
	}
	if (c->c_reqp == NULL &&
	    (c->c_reqp = http1_parser_new(HTTP1_REQUEST)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	if (http1_parse_head(c->c_reqp, buf, headlen, 0, h, &err) == -1) {
		conn_error(c, err.he_status, err.he_reason);
		return;
	}
	conn_dispatch(c, h, headlen);
}

static void
req_body_cb(void *arg, const char *p, size_t len)
{
	struct conn	*c = arg;

	oauth_request_body(c->c_x->x_oauth, p, len);
}

/* Move request body bytes to the origin while it keeps up. */
static void
conn_pump_request(struct conn *c)
{
	struct exchange		*x = c->c_x;
	struct evbuffer		*in = bufferevent_get_input(c->c_cbev);
	struct evbuffer		*out = bufferevent_get_output(c->c_ubev);
	struct evbuffer_iovec	 v;
	ssize_t			 n;
	char			 buf[200];

	while (!x->x_req_done && evbuffer_get_length(in) > 0) {
		if (evbuffer_get_length(out) >= OUT_HIGH)
			return;		/* conn_up_write_cb resumes */
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return;
		n = http1_parse_body(c->c_reqp, v.iov_base, v.iov_len,
		    x->x_oauth != NULL ? req_body_cb : NULL, c);
		if (n < 0) {
			snprintf(buf, sizeof(buf), "malformed request body: %s",
			    http1_parser_error(c->c_reqp));
			conn_error(c, 400, buf);
			return;
		}
		evbuffer_remove_buffer(in, out, (size_t)n);
		x->x_in += (uint64_t)n;
		if (http1_message_done(c->c_reqp))
			x->x_req_done = 1;
	}
}

static void
conn_become_tunnel(struct conn *c)
{
	struct timeval	tv = ms_tv(c->c_cfg->cf_to_idle_ms);

	c->c_state = CS_TUNNEL;
	c->c_px->px_stats.st_tunnels++;
	c->c_last_ms = util_now_ms();
	bufferevent_set_timeouts(c->c_cbev, &tv, &tv);
	bufferevent_set_timeouts(c->c_ubev, &tv, &tv);
	bufferevent_enable(c->c_cbev, EV_READ);
	bufferevent_enable(c->c_ubev, EV_READ);
}

/* Tunnel: move what one side sent to the other while it keeps up. */
static void
tunnel_pump(struct conn *c, struct bufferevent *from, struct bufferevent *to)
{
	struct evbuffer	*in = bufferevent_get_input(from);
	struct evbuffer	*out = bufferevent_get_output(to);
	size_t		 n = evbuffer_get_length(in);

	if (n == 0 || evbuffer_get_length(out) >= OUT_HIGH)
		return;
	evbuffer_add_buffer(out, in);
	c->c_last_ms = util_now_ms();
	if (from == c->c_cbev)
		c->c_x->x_in += n;
	else
		c->c_x->x_out += n;
}

static void
conn_upstream_attach(struct bufferevent *bev, enum upstream_fail why,
    const char *detail, struct conn *c)
{
	struct exchange	*x = c->c_x;
	struct timeval	 tv = ms_tv(c->c_cfg->cf_to_idle_ms);

	x->x_ureq = NULL;
	if (bev == NULL) {
		conn_error(c, why == UPSTREAM_TIMEOUT ? 504 : 502, detail);
		return;
	}
	c->c_ubev = bev;
	bufferevent_setcb(bev, conn_up_read_cb, conn_up_write_cb,
	    conn_up_event_cb, c);
	if (!x->x_reused) {
		/* A pooled connection keeps its watermarks. */
		bufferevent_setwatermark(bev, EV_READ, 0, READ_HIGH);
		bufferevent_setwatermark(bev, EV_WRITE, OUT_LOW, 0);
		bufferevent_enable(bev, EV_READ);
	}
	/* Re-armed for every exchange: a pooled connection's deadline
	 * must not count the time it sat idle (only a timer-heap update:
	 * the socket stays registered). */
	bufferevent_set_timeouts(bev, &tv, &tv);
	if (x->x_connect) {
		static const char established[] =
		    "HTTP/1.1 200 Connection established\r\n\r\n";

		x->x_status = 200;
		x->x_resp_head = 1;
		evbuffer_add(bufferevent_get_output(c->c_cbev), established,
		    sizeof(established) - 1);
		conn_become_tunnel(c);
		tunnel_pump(c, c->c_cbev, c->c_ubev);
		return;
	}
	c->c_state = CS_RELAY;
	c->c_uscan = 0;
	/* Keep the head for one retry while nothing else was sent. */
	if (x->x_reused && !x->x_has_body)
		evbuffer_add_buffer_reference(bufferevent_get_output(bev),
		    x->x_head);
	else {
		evbuffer_add_buffer(bufferevent_get_output(bev), x->x_head);
		evbuffer_free(x->x_head);
		x->x_head = NULL;
	}
	conn_pump_request(c);
}

/* Decoded response body: to the inspector while held, and to the client
 * (or the hold) when the body is being de-chunked for HTTP/1.0. */
static void
resp_body_cb(void *arg, const char *p, size_t len)
{
	struct conn	*c = arg;
	struct exchange	*x = c->c_x;

	if (x->x_hold != NULL)
		oauth_response_body(x->x_oauth, p, len);
	if (x->x_dechunk) {
		evbuffer_add(x->x_hold != NULL ? x->x_hold :
		    bufferevent_get_output(c->c_cbev), p, len);
		x->x_out += len;
	}
}

static void
oauth_ctx_fill(struct conn *c, struct oauth_ctx *ctx)
{
	ctx->oc_px = c->c_px;
	ctx->oc_req = c->c_x->x_id;
	ctx->oc_client = c->c_peer;
	ctx->oc_host = c->c_x->x_host;
}

/* Send a held response: its head, with the annotation when there is one,
 * then the body bytes exactly as the origin sent them. */
static void
conn_flush_hold(struct conn *c, const char *line)
{
	struct exchange	*x = c->c_x;
	struct evbuffer	*out = bufferevent_get_output(c->c_cbev);

	x->x_out += x->x_hold_head;
	if (line != NULL) {
		/* The head ends with "\r\n\r\n": insert before the last. */
		evbuffer_remove_buffer(x->x_hold, out, x->x_hold_head - 2);
		evbuffer_add(out, line, strlen(line));
		evbuffer_add(out, "\r\n", 2);
		x->x_out += strlen(line) + 2;
	}
	evbuffer_add_buffer(out, x->x_hold);
	evbuffer_free(x->x_hold);
	x->x_hold = NULL;
}

/* Past inspect_max_bytes, or the origin gave up: relay as it came. */
static void
conn_abandon_hold(struct conn *c, const char *why)
{
	struct oauth_ctx	ctx;

	oauth_ctx_fill(c, &ctx);
	oauth_abandon(c->c_x->x_oauth, &ctx, why);
	conn_flush_hold(c, NULL);
}

/* The exchange is over: log it, pool the upstream, go on or close. */
static void
conn_exchange_done(struct conn *c)
{
	struct exchange	*x = c->c_x;
	int		 close_client;

	x->x_resp_done = 1;
	exchange_log(c, x);
	close_client = x->x_close || !x->x_req_done || c->c_client_eof ||
	    c->c_px->px_draining;
	if (x->x_up_ka && x->x_req_done && c->c_ubev != NULL)
		upstream_pool_put(c->c_px->px_up, x->x_host, x->x_port,
		    c->c_mitm_host != NULL, c->c_ubev);
	else if (c->c_ubev != NULL)
		bufferevent_free(c->c_ubev);
	c->c_ubev = NULL;
	exchange_free(x);
	c->c_x = NULL;
	if (close_client) {
		conn_finish(c);
		return;
	}
	c->c_state = CS_HEAD;
	conn_process(c);
}

/* The response is complete: annotate and send a held one, then finish. */
static void
conn_response_complete(struct conn *c)
{
	struct oauth_ctx	ctx;

	if (c->c_x->x_hold != NULL) {
		oauth_ctx_fill(c, &ctx);
		conn_flush_hold(c, oauth_response_end(c->c_x->x_oauth, &ctx));
	}
	conn_exchange_done(c);
}

/* Decide how the response reaches this client, then send its head. */
static void
conn_response_head(struct conn *c, const struct http1_head *h)
{
	struct exchange	*x = c->c_x;
	unsigned	 flags = 0;
	int		 keep;

	x->x_status = h->h_status;
	conn_observe_response(c, h);
	x->x_up_ka = h->h_keepalive && h->h_body != HTTP1_BODY_EOF;
	x->x_dechunk = x->x_http10 && h->h_body == HTTP1_BODY_CHUNKED;
	/* A final answer before the whole request body (an origin refusing
	 * Expect: 100-continue, say) ends the connection after it. */
	keep = x->x_client_ka && !x->x_dechunk && x->x_req_done &&
	    h->h_body != HTTP1_BODY_EOF && !c->c_px->px_draining;
	if (!keep) {
		flags |= HTTP1_W_CLOSE;
		x->x_close = 1;
	} else if (x->x_http10)
		flags |= HTTP1_W_KEEPALIVE;
	if (x->x_dechunk)
		flags |= HTTP1_W_DECHUNK;
	x->x_resp_eof = h->h_body == HTTP1_BODY_EOF;
	x->x_resp_head = 1;
	if (x->x_oauth != NULL && oauth_response_head(x->x_oauth, h) == 1) {
		/* Hold the response until its body has been inspected. */
		if ((x->x_hold = evbuffer_new()) != NULL) {
			http1_write_response_head(x->x_hold, h, flags, NULL);
			x->x_hold_head = evbuffer_get_length(x->x_hold);
			return;
		}
	}
	http1_write_response_head(bufferevent_get_output(c->c_cbev), h, flags,
	    x->x_extra);
}

/* Read one response head; 1 when the body may follow, 0 to wait. */
static int
conn_read_response_head(struct conn *c)
{
	struct exchange		*x = c->c_x;
	struct evbuffer		*in = bufferevent_get_input(c->c_ubev);
	struct evbuffer		*out = bufferevent_get_output(c->c_cbev);
	struct http1_head	*h = &c->c_px->px_scratch;
	struct http1_error	 err;
	size_t			 len, headlen, before;
	const char		*buf;
	char			 reason[240];
	int			 r;

	for (;;) {
		len = evbuffer_get_length(in);
		if (len == 0)
			return 0;
		if (len > HTTP1_MAX_HEAD)
			len = HTTP1_MAX_HEAD;
		buf = (const char *)evbuffer_pullup(in, (ssize_t)len);
		r = http1_head_end(buf, len, &c->c_uscan, &headlen, &err);
		if (r == 0)
			return 0;
		c->c_uscan = 0;
		if (r == 1 && c->c_resp == NULL &&
		    (c->c_resp = http1_parser_new(HTTP1_RESPONSE)) == NULL) {
			conn_close(c, "out of memory");
			return 0;
		}
		if (r == -1 || http1_parse_head(c->c_resp, buf, headlen,
		    x->x_is_head, h, &err) == -1) {
			snprintf(reason, sizeof(reason), "bad response from "
			    "%s:%u: %s", x->x_host, x->x_port, err.he_reason);
			conn_error(c, 502, reason);
			return 0;
		}
		if (x->x_head != NULL) {
			/* An answer arrived: no retry from here on. */
			evbuffer_free(x->x_head);
			x->x_head = NULL;
		}
		if (h->h_status >= 100 && h->h_status < 200 &&
		    h->h_status != 101) {
			/* Interim responses pass to HTTP/1.1 clients only. */
			if (!x->x_http10) {
				before = evbuffer_get_length(out);
				http1_write_response_head(out, h, 0, NULL);
				x->x_out += evbuffer_get_length(out) - before;
			}
			evbuffer_drain(in, headlen);
			continue;
		}
		if (h->h_status == 101) {
			if (!x->x_upgrade) {
				conn_error(c, 502, "the origin switched "
				    "protocols without being asked");
				return 0;
			}
			x->x_status = 101;
			before = evbuffer_get_length(out);
			http1_write_response_head(out, h, HTTP1_W_UPGRADE,
			    NULL);
			x->x_resp_head = 1;
			x->x_out += evbuffer_get_length(out) - before;
			evbuffer_drain(in, headlen);
			conn_become_tunnel(c);
			tunnel_pump(c, c->c_ubev, c->c_cbev);
			tunnel_pump(c, c->c_cbev, c->c_ubev);
			return 0;
		}
		before = evbuffer_get_length(out);
		conn_response_head(c, h);
		x->x_out += evbuffer_get_length(out) - before;
		evbuffer_drain(in, headlen);
		if (h->h_body == HTTP1_BODY_NONE) {
			conn_exchange_done(c);
			return 0;
		}
		return 1;
	}
}

/* Move response bytes to the client while it keeps up. */
static void
conn_pump_response(struct conn *c)
{
	struct exchange		*x = c->c_x;
	struct evbuffer		*in = bufferevent_get_input(c->c_ubev);
	struct evbuffer		*out = bufferevent_get_output(c->c_cbev);
	struct evbuffer_iovec	 v;
	ssize_t			 n;

	if (!x->x_resp_head && !conn_read_response_head(c))
		return;
	while (evbuffer_get_length(in) > 0) {
		if (evbuffer_get_length(out) >= OUT_HIGH)
			return;		/* conn_client_write_cb resumes */
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return;
		n = http1_parse_body(c->c_resp, v.iov_base, v.iov_len,
		    x->x_dechunk || x->x_hold ? resp_body_cb : NULL, c);
		if (n < 0) {
			log_warnx("req %llu: bad response body from %s:%u: %s",
			    (unsigned long long)x->x_id, x->x_host, x->x_port,
			    http1_parser_error(c->c_resp));
			exchange_log(c, x);
			x->x_resp_done = 1;
			conn_finish(c);
			return;
		}
		if (x->x_dechunk)
			evbuffer_drain(in, (size_t)n);
		else {
			evbuffer_remove_buffer(in, x->x_hold != NULL ?
			    x->x_hold : out, (size_t)n);
			x->x_out += (uint64_t)n;
		}
		if (http1_message_done(c->c_resp)) {
			conn_response_complete(c);
			return;
		}
		if (x->x_hold != NULL && evbuffer_get_length(x->x_hold) -
		    x->x_hold_head > c->c_cfg->cf_inspect_max_bytes)
			conn_abandon_hold(c, "the response body is larger than "
			    "inspect_max_bytes");
	}
}

/* Run whatever the client's buffered input allows, without recursion. */
static void
conn_process(struct conn *c)
{
	if (c->c_in_loop)
		return;
	c->c_in_loop = 1;
	while (c->c_state == CS_HEAD && c->c_x == NULL &&
	    evbuffer_get_length(bufferevent_get_input(c->c_cbev)) > 0) {
		size_t before = evbuffer_get_length(
		    bufferevent_get_input(c->c_cbev));

		conn_read_head(c);
		if (c->c_state == CS_HEAD && c->c_x == NULL &&
		    evbuffer_get_length(bufferevent_get_input(c->c_cbev)) ==
		    before)
			break;		/* incomplete head: wait for more */
	}
	if (c->c_state == CS_HEAD && c->c_x == NULL && c->c_client_eof)
		conn_close(c, "client closed");
	c->c_in_loop = 0;
}

/*
 * libevent 2.1 reads a socket at most EVBUFFER_MAX_READ (4 KiB) at a time,
 * and each read is followed by a write to the peer: a 1 MiB body took 256
 * reads and 256 small writes. When a read came back full, take what else
 * the socket already holds, up to the input's high-water mark. Only bytes
 * that FIONREAD reports are read, so an EOF or an error is left for
 * libevent to find on its next read, as before.
 */
#define LIBEVENT_MAX_READ	4096

static void
bev_read_more(struct bufferevent *bev)
{
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_iovec	 v[2];
	struct iovec		 iov[2];
	size_t			 len = evbuffer_get_length(in), want, room;
	ssize_t			 n;
	int			 avail, nv, i;
	evutil_socket_t		 fd;

	if (len < LIBEVENT_MAX_READ || len >= READ_HIGH ||
	    bufferevent_openssl_get_ssl(bev) != NULL)
		return;
	fd = bufferevent_getfd(bev);
	if (fd < 0 || ioctl(fd, FIONREAD, &avail) == -1 || avail <= 0)
		return;
	want = READ_HIGH - len;
	if ((size_t)avail < want)
		want = (size_t)avail;
	/* As with the output, a bufferevent keeps its input's end frozen
	 * but while it reads itself. */
	evbuffer_unfreeze(in, 0);
	nv = evbuffer_reserve_space(in, (ev_ssize_t)want, v, 2);
	for (i = 0, room = 0; i < nv; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
		if (room + iov[i].iov_len > want)
			iov[i].iov_len = want - room;
		room += iov[i].iov_len;
	}
	n = nv > 0 ? readv(fd, iov, nv) : -1;
	for (i = 0; i < nv && n > 0; i++) {
		if ((size_t)n < v[i].iov_len)
			v[i].iov_len = (size_t)n;
		n -= (ssize_t)v[i].iov_len;
	}
	if (nv > 0)
		evbuffer_commit_space(in, v, i);	/* none when it failed */
	evbuffer_freeze(in, 0);
}

static void
conn_client_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	bev_read_more(bev);
	switch (c->c_state) {
	case CS_HEAD:
		conn_process(c);
		break;
	case CS_RELAY:
		if (!c->c_x->x_req_done)
			conn_pump_request(c);
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
	case CS_RELAY:
		if (c->c_x->x_resp_head)
			conn_pump_response(c);
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
		/* All sent: half-close, then read until the client closes
		 * so that unread input cannot turn our close into a reset. */
		shutdown(bufferevent_getfd(bev), SHUT_WR);
		bufferevent_disable(bev, EV_WRITE);
		timer_set(c, LINGER_MS);
		break;
	default:
		break;
	}
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
		if (what & BEV_EVENT_CONNECTED) {
			c->c_state = CS_HEAD;
			c->c_head_timer = 0;
			evtimer_del(c->c_timer);
			conn_process(c);
			return;
		}
		conn_tls_failed(c, what, (what & BEV_EVENT_ERROR) ?
		    bufferevent_get_openssl_error(bev) : 0);
		ERR_clear_error();
		conn_close(c, "TLS handshake with the client failed");
		return;
	}
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_TIMEOUT) {
		if ((c->c_state == CS_RELAY || c->c_state == CS_UPSTREAM) &&
		    (what & BEV_EVENT_READING) && x != NULL && x->x_req_done) {
			/* Waiting on the origin is not the client's fault. */
			bufferevent_enable(bev, EV_READ);
			return;
		}
		if (c->c_state == CS_TUNNEL && util_now_ms() - c->c_last_ms <
		    c->c_cfg->cf_to_idle_ms) {
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
		if (c->c_state == CS_HEAD)
			conn_close(c, "client closed");
		break;
	case CS_UPSTREAM:
	case CS_RELAY:
		if (!x->x_req_done)
			conn_close(c, "client closed during the request");
		/* Otherwise finish the response, then close. */
		break;
	case CS_TUNNEL:
		tunnel_pump(c, c->c_cbev, c->c_ubev);
		bufferevent_free(c->c_cbev);
		c->c_cbev = NULL;
		c->c_state = CS_FLUSH_UP;
		bufferevent_setwatermark(c->c_ubev, EV_WRITE, 0, 0);
		bufferevent_disable(c->c_ubev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(c->c_ubev)) ==
		    0)
			conn_close(c, "tunnel closed by client");
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

	bev_read_more(bev);
	if (c->c_state == CS_RELAY)
		conn_pump_response(c);
	else if (c->c_state == CS_TUNNEL)
		tunnel_pump(c, c->c_ubev, c->c_cbev);
	conn_flush(c);
}

/* Room in the origin's output: resume what waits for it. */
static void
conn_up_drained(struct conn *c)
{
	if (c->c_state == CS_RELAY && !c->c_x->x_req_done)
		conn_pump_request(c);
	else if (c->c_state == CS_TUNNEL)
		tunnel_pump(c, c->c_cbev, c->c_ubev);
	else if (c->c_state == CS_FLUSH_UP &&
	    evbuffer_get_length(bufferevent_get_output(c->c_ubev)) == 0)
		conn_close(c, "tunnel closed by client");
}

static void
conn_up_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	conn_up_drained(c);
	conn_flush(c);
}

/*
 * Write what a plain socket's output holds right away, instead of arming
 * EV_WRITE and waiting for epoll to say what a fresh loopback socket
 * always says: two epoll_ctl calls per response saved. Returns 1 when it
 * wrote and the output fell to the low-water mark (what libevent's write
 * callback would report). TLS bufferevents: tls_write_now().
 */
static int
bev_write_now(struct bufferevent *bev)
{
	struct evbuffer	*out = bufferevent_get_output(bev);
	size_t		 before = evbuffer_get_length(out), low, high;
	int		 n;

	if (before == 0 || bufferevent_openssl_get_ssl(bev) != NULL)
		return 0;
	/* A bufferevent keeps its output's front frozen but while it
	 * writes itself; do as it does. */
	evbuffer_unfreeze(out, 1);
	n = evbuffer_write(out, bufferevent_getfd(bev));
	evbuffer_freeze(out, 1);
	if (n <= 0)
		return 0;	/* EAGAIN or an error: libevent finds out */
	bufferevent_getwatermark(bev, EV_WRITE, &low, &high);
	return evbuffer_get_length(out) <= low;
}

/*
 * The same for a TLS bufferevent, which on its own encrypts only once
 * epoll reports the socket writable (two epoll_ctl calls and a loop pass
 * per record). While EV_WRITE is disabled the writes are ours: SSL_write
 * straight to the socket. Whatever does not go (the socket is full, or an
 * error) stays in the output, and enabling EV_WRITE hands it to libevent,
 * which then retries the same SSL_write as OpenSSL requires; once its
 * output is empty, conn_flush takes the writes back.
 */
static int
tls_write_now(struct bufferevent *bev)
{
	SSL			*ssl = bufferevent_openssl_get_ssl(bev);
	struct evbuffer		*out = bufferevent_get_output(bev);
	struct evbuffer_iovec	 v[8];
	size_t			 done = 0, low, high;
	int			 n, i, r;

	if (ssl == NULL || (bufferevent_get_enabled(bev) & EV_WRITE) ||
	    evbuffer_get_length(out) == 0 || !SSL_is_init_finished(ssl))
		return 0;
	n = evbuffer_peek(out, -1, NULL, v, 8);
	for (i = 0; i < n && i < 8; i++) {
		if (v[i].iov_len == 0)
			continue;
		if ((r = SSL_write(ssl, v[i].iov_base, (int)v[i].iov_len)) <= 0) {
			/* libevent's SSL_get_error must not see ours. */
			ERR_clear_error();
			break;
		}
		done += (size_t)r;
	}
	if (done == 0)
		return 0;
	evbuffer_drain(out, done);
	bufferevent_getwatermark(bev, EV_WRITE, &low, &high);
	return evbuffer_get_length(out) <= low;
}

/* After a callback did its work: send, let the senders refill, and leave
 * EV_WRITE armed only where bytes still wait. Iterative, bounded. */
static void
conn_flush(struct conn *c)
{
	struct bufferevent	*b;
	int			 i, again;

	if (c->c_flushing || c->c_state == CS_DEAD)
		return;
	c->c_flushing = 1;
	for (i = 0, again = 1; again && i < 32; i++) {
		again = 0;
		if (c->c_cbev != NULL && (bev_write_now(c->c_cbev) ||
		    tls_write_now(c->c_cbev))) {
			conn_client_drained(c);
			again = 1;
		}
		if (c->c_state == CS_DEAD)
			break;
		if (c->c_ubev != NULL && (bev_write_now(c->c_ubev) ||
		    tls_write_now(c->c_ubev))) {
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
			if (SSL_is_init_finished(bufferevent_openssl_get_ssl(b)))
				bufferevent_disable(b, EV_WRITE);
		} else if (bufferevent_get_enabled(b) & EV_WRITE)
			bufferevent_disable(b, EV_WRITE);
	}
}

/* The origin closed or failed while we relay an exchange. */
static void
conn_up_lost(struct conn *c, short what)
{
	struct exchange	*x = c->c_x;
	char		 buf[300];
	int		 err = EVUTIL_SOCKET_ERROR();

	if (x->x_resp_head && x->x_resp_eof && (what & BEV_EVENT_EOF)) {
		/* A close-delimited body ends here. */
		conn_pump_response(c);
		if (c->c_state == CS_RELAY && c->c_x == x &&
		    http1_parse_eof(c->c_resp) == 0) {
			bufferevent_free(c->c_ubev);
			c->c_ubev = NULL;
			x->x_up_ka = 0;
			conn_response_complete(c);
		}
		return;
	}
	if (x->x_resp_head) {
		/* Deliver what did arrive; the framing tells the client the
		 * response is cut short. */
		conn_pump_response(c);
		if (c->c_state != CS_RELAY || c->c_x != x)
			return;
		if (x->x_hold != NULL)
			conn_abandon_hold(c, "the origin closed the connection "
			    "before the body was complete");
		evbuffer_add_buffer(bufferevent_get_output(c->c_cbev),
		    bufferevent_get_input(c->c_ubev));
		log_info("req %llu: %s:%u closed the connection in the middle "
		    "of the response", (unsigned long long)x->x_id, x->x_host,
		    x->x_port);
		exchange_log(c, x);
		x->x_resp_done = 1;
		conn_finish(c);
		return;
	}
	if (x->x_reused && x->x_head != NULL && !x->x_retried) {
		/* A pooled connection the origin had already closed: the
		 * request never arrived, so send it again on a fresh one. */
		bufferevent_free(c->c_ubev);
		c->c_ubev = NULL;
		x->x_retried = 1;
		conn_get_upstream(c);
		return;
	}
	if (what & BEV_EVENT_EOF)
		snprintf(buf, sizeof(buf), "%s:%u closed the connection "
		    "without sending a response", x->x_host, x->x_port);
	else
		snprintf(buf, sizeof(buf), "connection to %s:%u failed: %s",
		    x->x_host, x->x_port, err == ECONNRESET ?
		    "reset by peer" : strerror(err ? err : EIO));
	conn_error(c, 502, buf);
}

static void
conn_up_event(struct bufferevent *bev, short what, struct conn *c)
{
	struct exchange	*x = c->c_x;
	char		 buf[300];

	if (c->c_state == CS_TUNNEL || c->c_state == CS_FLUSH_UP) {
		if ((what & BEV_EVENT_TIMEOUT) && c->c_state == CS_TUNNEL &&
		    util_now_ms() - c->c_last_ms < c->c_cfg->cf_to_idle_ms) {
			bufferevent_enable(bev, EV_READ);
			return;
		}
		if (c->c_state == CS_TUNNEL && (what & BEV_EVENT_EOF)) {
			/* Deliver what the origin sent, then close. */
			tunnel_pump(c, c->c_ubev, c->c_cbev);
			evbuffer_add_buffer(bufferevent_get_output(c->c_cbev),
			    bufferevent_get_input(c->c_ubev));
			conn_finish(c);
			return;
		}
		conn_close(c, what & BEV_EVENT_TIMEOUT ? "tunnel idle" :
		    "tunnel closed by origin");
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if ((what & BEV_EVENT_READING) && !x->x_req_done) {
			/* Still uploading: silence upstream is expected. */
			bufferevent_enable(bev, EV_READ);
			return;
		}
		snprintf(buf, sizeof(buf), "%s:%u timed out: it did not %s "
		    "within %u ms", x->x_host, x->x_port,
		    (what & BEV_EVENT_READING) ? "respond" :
		    "accept the request",
		    c->c_cfg->cf_to_idle_ms);
		if (x->x_resp_head)
			conn_close(c, buf);
		else
			conn_error(c, 504, buf);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_up_lost(c, what);
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

	conn_up_event(bev, what, c);
	conn_flush(c);
}

static void
conn_upstream_ready(struct bufferevent *bev, enum upstream_fail why,
    const char *detail, void *arg)
{
	struct conn	*c = arg;

	conn_upstream_attach(bev, why, detail, c);
	conn_flush(c);
}
