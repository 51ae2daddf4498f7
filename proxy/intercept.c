/*
 * Interception of a CONNECT to a host on the intercept list: the proxy
 * answers the 200 itself, then terminates the client's TLS with a
 * certificate minted for the host (mitm.c, ca.c), and the connection
 * goes back to reading request heads, now inside TLS. When the client
 * refuses the certificate, one line says why and the fix for its
 * runtime, guessed from the CONNECT head.
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "transport.h"
#include "ca.h"
#include "config.h"
#include "log.h"
#include "mitm.h"
#include "oauthlens.h"
#include "runenv.h"
#include "runtime.h"
#include "util.h"

/*
 * A client that completes the handshake and closes without a byte within
 * this many milliseconds rejected the certificate after the handshake
 * (GnuTLS clients verify only then, and leave without an alert). Longer
 * silences are idle keep-alive connections, which are not blamed.
 */
#define SILENT_REJECT_MS	2000

int
intercept_wanted(const struct conn *c, const struct http1_target *t)
{
	return c->c_px->px_mitm != NULL && c->c_mitm_host == NULL &&
	    config_connect_port_ok(c->c_cfg, t->t_port) &&
	    mitm_intercepts(&c->c_cfg->cf_intercept, t->t_host);
}

/* Note the client's runtime from its CONNECT head, for trust advice. */
void
intercept_note_runtime(struct conn *c, const struct http1_head *h)
{
	snprintf(c->c_ua, sizeof(c->c_ua), "%s", runtime_guess(h));
}

/* CONNECT to a host on the intercept list: answer 200 ourselves, then
 * terminate the client's TLS with a minted certificate once it is sent. */
void
intercept_begin(struct conn *c, const struct http1_target *t)
{
	static const char established[] =
	    "HTTP/1.1 200 Connection established\r\n\r\n";
	struct exchange	*x = c->c_x;

	c->c_mitm_host = xstrdup(t->t_host);
	c->c_mitm_port = t->t_port;
	x->x_status = 200;
	exchange_end(c, XO_INTERCEPT);
	stats_add(c->c_stats, STAT_INTERCEPTED, 1);
	evbuffer_add(bufferevent_get_output(c->c_cbev), established,
	    sizeof(established) - 1);
	c->c_state = CS_TLS_START;
	bufferevent_setwatermark(c->c_cbev, EV_WRITE, 0, 0);
}

/* OpenSSL's message callback, set until the ClientHello arrives: the
 * hello settles the runtime where two write the same CONNECT head. */
static void
intercept_hello_cb(int write_p, int version, int type, const void *buf,
    size_t len, SSL *ssl, void *arg)
{
	struct conn		*c = arg;
	struct runtime_hello	 rh;
	const char		*r;

	if (write_p || type != SSL3_RT_HANDSHAKE || len < 1 ||
	    *(const unsigned char *)buf != SSL3_MT_CLIENT_HELLO)
		return;
	SSL_set_msg_callback(ssl, NULL);
	if (runtime_hello_parse(buf, len, &rh) == 0 &&
	    (r = runtime_refine(c->c_ua, &rh)) != c->c_ua)
		snprintf(c->c_ua, sizeof(c->c_ua), "%s", r);
}

/* The 200 is out: put TLS on the client socket. */
int
intercept_tls_start(struct conn *c)
{
	struct bufferevent	*plain = c->c_cbev, *tls;
	struct evbuffer		*pending = bufferevent_get_input(plain);
	SSL			*ssl;
	evutil_socket_t		 fd = bufferevent_getfd(plain);

	ssl = mitm_client_ssl(c->c_px->px_mitm, c->c_mitm_host,
	    &c->c_cfg->cf_intercept);
	if (ssl == NULL)
		return -1;
	SSL_set_msg_callback(ssl, intercept_hello_cb);
	SSL_set_msg_callback_arg(ssl, c);
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
		else
			/* Beneath the filter the TLS records wait in the
			 * plain socket's output, where the relay's checks
			 * (on the filter's output) do not see them:
			 * SSL_write through the filter's BIO stops at this
			 * high-water mark instead, resumed below OUT_LOW,
			 * as on the socket path. conn.c watches that
			 * output for the close. */
			bufferevent_setwatermark(plain, EV_WRITE, OUT_LOW,
			    OUT_HIGH);
	}
	c->c_cbev = tls;
	if (tls == NULL)
		return -1;
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	return 0;
}

static void	 tls_untrusted(struct conn *, const char *);

/* One plain line on why a client refused our certificate, and the fix
 * for its runtime. */
static void
tls_failed(struct conn *c, short what, unsigned long err)
{
	SSL		*ssl = bufferevent_openssl_get_ssl(c->c_cbev);
	struct logrec	 lr;

	stats_add(c->c_stats, STAT_TLS_FAILED, 1);
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
	tls_untrusted(c, err != 0 ? "the client rejected the certificate "
	    "oauthlens made for this host: it does not trust the oauthlens "
	    "CA" : "the client closed the connection during the TLS "
	    "handshake: it probably does not trust the oauthlens CA");
}

/* The tls-untrusted line: what the client did (msg), and the fix for its
 * runtime. */
static void
tls_untrusted(struct conn *c, const char *msg)
{
	struct logrec	 lr;
	const char	*ca = c->c_px->px_ca ? ca_cert_path(c->c_px->px_ca) :
			    "certs/ca.pem";
	struct runenv	 re;
	char		 fix[RUNENV_VALUE_MAX];

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
	/* The fix comes from the table --env and run use (runenv.c). */
	runenv_init(&re, c->c_cfg->cf_listen.sl_n > 0 ?
	    c->c_cfg->cf_listen.sl_v[0] : NULL, ca);
	runenv_fix(c->c_ua, &re, fix, sizeof(fix));
	logrec_begin(&lr, LL_WARN, "tls-untrusted");
	logrec_str(&lr, "client", c->c_peer);
	logrec_str(&lr, "host", c->c_mitm_host);
	logrec_str(&lr, "runtime", c->c_ua);
	logrec_str(&lr, "msg", msg);
	logrec_str(&lr, "fix", fix);
	logrec_end(&lr);
}

int
intercept_handshake_event(struct conn *c, short what)
{
	const char	*name;

	if (what & BEV_EVENT_CONNECTED) {
		c->c_tls_done_ms = util_now_ms();
		c->c_tls_quiet = 1;
		name = mitm_client_host(bufferevent_openssl_get_ssl(c->c_cbev));
		/* CONNECT by address with SNI naming an intercepted host:
		 * the requests are for that host (name, TLS, OAuth). */
		if (name != NULL && strcasecmp(name, c->c_mitm_host) != 0) {
			log_debug("connection %llu: CONNECT %s, SNI %s: "
			    "intercepting as %s", (unsigned long long)c->c_id,
			    c->c_mitm_host, name, name);
			free(c->c_mitm_host);
			c->c_mitm_host = xstrdup(name);
		}
		return 1;
	}
	tls_failed(c, what, (what & BEV_EVENT_ERROR) ?
	    bufferevent_get_openssl_error(c->c_cbev) : 0);
	ERR_clear_error();
	return 0;
}

int
intercept_silent_reject(struct conn *c, short what)
{
	unsigned long	err = 0;

	if (!c->c_tls_quiet || c->c_state != CS_HEAD || c->c_x != NULL ||
	    evbuffer_get_length(bufferevent_get_input(c->c_cbev)) > 0)
		return 0;
	c->c_tls_quiet = 0;
	if (what & BEV_EVENT_ERROR) {
		err = bufferevent_get_openssl_error(c->c_cbev);
		ERR_clear_error();
		/* OpenSSL 3 reports a close without close_notify as an
		 * error; an alert that names distrust is one at any time. */
		if (ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
			err = 0;
		else if (err == 0 || !mitm_untrusted_alert(err))
			return 0;
	}
	if (err == 0 && util_now_ms() - c->c_tls_done_ms > SILENT_REJECT_MS)
		return 0;
	stats_add(c->c_stats, STAT_TLS_FAILED, 1);
	tls_untrusted(c, err != 0 ? "the client completed the TLS handshake, "
	    "then rejected the certificate oauthlens made for this host: it "
	    "does not trust the oauthlens CA" : "the client completed the TLS "
	    "handshake and closed without sending a request: it probably "
	    "rejected the certificate (GnuTLS clients such as wget, and git "
	    "built on them, check it only then)");
	return 1;
}
