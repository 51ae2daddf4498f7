/*
 * One request/response exchange on a client connection: the head sent to
 * the origin, the request body pumped with backpressure, the response
 * head read (interim answers passed on, a 101 turned into a tunnel), and
 * the response body relayed, or held for the OAuth observer to inspect
 * and annotate before it is sent. conn.c drives it from libevent's
 * callbacks; this file names no OAuth path or parameter.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "transport.h"
#include "log.h"
#include "oauth.h"
#include "oauthlens.h"
#include "parent.h"
#include "proxyerr.h"
#include "status.h"
#include "upstream.h"
#include "util.h"


struct exchange *
exchange_new(struct conn *c, const struct http1_head *h)
{
	struct exchange	*x = calloc(1, sizeof(*x));

	if (x == NULL)
		return NULL;
	x->x_id = ++c->c_px->px_next_req;
	x->x_start_ms = util_now_ms();
	util_strlcpy(x->x_method, h->h_method, sizeof(x->x_method));
	x->x_connect = h->h_connect;
	x->x_is_head = h->h_is_head;
	x->x_upgrade = h->h_upgrade;
	x->x_http10 = h->h_major == 1 && h->h_minor == 0;
	x->x_client_ka = h->h_keepalive;
	x->x_has_body = h->h_body != HTTP1_BODY_NONE;
	x->x_req_done = !x->x_has_body;
	/* Chunked bodies are re-framed, never relayed as they came. */
	x->x_req_chunked = h->h_body == HTTP1_BODY_CHUNKED;
	stats_add(c->c_stats, STAT_REQUESTS, 1);
	return x;
}

static void
exchange_free(struct exchange *x)
{
	if (x == NULL)
		return;
	upstream_cancel(x->x_ureq);
	oauth_free(x->x_obs);
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
	size_t		n;
	int		v6;

	/* Called once per exchange: the one place that counts it. */
	stats_exchange(c->c_stats, x->x_method, x->x_status);
	stats_add(c->c_stats, STAT_BYTES_IN, x->x_in);
	stats_add(c->c_stats, STAT_BYTES_OUT, x->x_out);
	if (!log_enabled(LL_INFO))
		return;
	logrec_begin(&lr, LL_INFO, "access");
	logrec_int(&lr, "req", (long long)x->x_id);
	logrec_str(&lr, "client", c->c_peer);
	logrec_str(&lr, "method", x->x_method);
	/* "host:port", "[v6]:port": x_host holds 255 bytes at most. */
	v6 = strchr(x->x_host, ':') != NULL;
	n = strlen(x->x_host);
	host[0] = '[';
	memcpy(host + v6, x->x_host, n);
	n += v6;
	if (v6)
		host[n++] = ']';
	host[n++] = ':';
	util_fmt_ll(host + n, x->x_port);
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

/* Where x's upstream leg is pooled: by parent proxy for a plain request
 * that goes through one (any origin can share it), else by origin. */
static const char *
exchange_pool_key(struct conn *c, const struct exchange *x, uint16_t *port,
    int *kind)
{
	const struct parent	*pa;

	*port = x->x_port;
	*kind = UPSTREAM_POOL_PLAIN;
	if (c->c_mitm_host != NULL)
		*kind = UPSTREAM_POOL_TLS;
	else if ((pa = parent_for(c->c_cfg, 0, x->x_host)) != NULL) {
		*port = pa->pa_port;
		*kind = UPSTREAM_POOL_PARENT;
		return pa->pa_host;
	}
	return x->x_host;
}

void
exchange_end(struct conn *c, enum xoutcome outcome)
{
	struct exchange	*x = c->c_x;
	int		 go_on;

	if (x == NULL)
		return;
	oauth_end(x->x_obs, OAUTH_FAILED);	/* no-op once it ended */
	if (x->x_status != 0)
		exchange_log(c, x);
	go_on = outcome == XO_DONE && !x->x_close && x->x_req_done &&
	    !c->c_client_eof && !c->c_px->px_draining;
	if (outcome == XO_DONE && x->x_up_ka && x->x_req_done &&
	    c->c_ubev != NULL) {
		uint16_t	 port;
		int		 kind;
		const char	*key = exchange_pool_key(c, x, &port, &kind);

		upstream_pool_put(c->c_px->px_up, key, port, kind, c->c_ubev);
	} else if (c->c_ubev != NULL && outcome != XO_ABORT)
		bufferevent_free(c->c_ubev);
	if (outcome != XO_ABORT)
		c->c_ubev = NULL;
	exchange_free(x);
	c->c_x = NULL;
	switch (outcome) {
	case XO_DONE:
		transport_want(c, go_on ? CN_PROCESS : CN_FINISH, NULL);
		break;
	case XO_ERROR:
	case XO_CUT:
		transport_want(c, CN_FINISH, NULL);
		break;
	case XO_INTERCEPT:
	case XO_ABORT:
		break;		/* the caller goes on, or closes */
	}
}

void
exchange_fail(struct conn *c, enum proxy_error pe, const char *detail)
{
	const struct proxyerr_info	*pi = proxyerr_info(pe);
	struct exchange			*x = c->c_x;
	struct evbuffer			*out;
	struct logrec			 lr;
	const char			*reason = detail ? detail :
					    pi->pi_message;
	size_t				 before;

	if (c->c_next == CN_CLOSE || c->c_cbev == NULL)
		return;
	if (x != NULL && x->x_phase != XP_WAIT) {
		/* Too late for a status: the response already started. */
		log_debug("connection %llu: %s after the response started: "
		    "closing", (unsigned long long)c->c_id, reason);
		transport_want(c, CN_CLOSE, pi->pi_message);
		return;
	}
	stats_add(c->c_stats, STAT_ERRORS, 1);
	out = bufferevent_get_output(c->c_cbev);
	before = evbuffer_get_length(out);
	http1_write_error(out, pi->pi_status, reason, 1);
	logrec_begin(&lr, pi->pi_level, "proxy-error");
	if (x != NULL)
		logrec_int(&lr, "req", (long long)x->x_id);
	logrec_str(&lr, "client", c->c_peer);
	logrec_int(&lr, "status", pi->pi_status);
	logrec_str(&lr, "error", pi->pi_token);
	logrec_str(&lr, "reason", reason);
	logrec_end(&lr);
	if (x == NULL) {
		transport_want(c, CN_FINISH, NULL);
		return;
	}
	x->x_out += evbuffer_get_length(out) - before;
	x->x_status = pi->pi_status;
	exchange_end(c, XO_ERROR);
}

/*
 * DNS rebinding: a page of another site whose name now resolves to this
 * listener would read "/" and /metrics. The own pages answer only to the
 * listener's own address and the loopback names, with its port (no port:
 * port 80); a request without Host (HTTP/1.0) is no browser's.
 */
static int
exchange_host_is_self(struct conn *c, const struct http1_head *h)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	const struct slice	*v;
	const char		*names[] = { "localhost", "127.0.0.1", "[::1]",
				    NULL };
	char			 self[64], want[80], *colon;
	unsigned long		 port;
	size_t			 i;

	if (h->h_host == -1)
		return 1;
	v = &h->h_hdrs[h->h_host].hd_value;
	if (getsockname(bufferevent_getfd(c->c_cbev), (struct sockaddr *)&ss,
	    &sl) == -1)
		return 0;
	util_sockaddr_str((struct sockaddr *)&ss, self, sizeof(self));
	if ((colon = strrchr(self, ':')) == NULL)
		return 1;	/* not an IP socket: no name to rebind */
	*colon = '\0';
	port = strtoul(colon + 1, NULL, 10);
	names[3] = self;
	for (i = 0; i < 4; i++) {
		snprintf(want, sizeof(want), "%s:%lu", names[i], port);
		if (util_slice_ieq(v->s_ptr, v->s_len, want) ||
		    (port == 80 && util_slice_ieq(v->s_ptr, v->s_len,
		    names[i])))
			return 1;
	}
	return 0;
}

/* The proxy's own pages answer origin-form requests. */
void
exchange_local(struct conn *c, const struct http1_head *h)
{
	struct exchange	*x = c->c_x;
	struct evbuffer	*out = bufferevent_get_output(c->c_cbev);
	size_t		 before = evbuffer_get_length(out);
	int		 keep;

	if (!exchange_host_is_self(c, h)) {
		exchange_fail(c, PE_LOCAL_HOST, NULL);
		return;
	}
	if (x->x_has_body) {
		exchange_fail(c, PE_LOCAL_BODY, NULL);
		return;
	}
	keep = x->x_client_ka && !c->c_px->px_draining;
	x->x_status = status_page(c->c_px, h, out, keep);
	x->x_out = evbuffer_get_length(out) - before;
	x->x_close = !keep;
	exchange_end(c, XO_DONE);
}

struct bufferevent *
exchange_connect(struct conn *c, upstream_cb cb)
{
	struct exchange		*x = c->c_x;
	struct bufferevent	*bev = NULL;
	const char		*key;
	uint16_t		 port;
	int			 kind;

	c->c_state = CS_UPSTREAM;
	key = exchange_pool_key(c, x, &port, &kind);
	if (!x->x_connect && !x->x_upgrade && !x->x_retried)
		bev = upstream_pool_take(c->c_px->px_up, key, port, kind);
	if (bev != NULL) {
		x->x_reused = 1;
		return bev;
	}
	x->x_reused = 0;
	x->x_ureq = upstream_open(c->c_px->px_up, c->c_cfg, x->x_host,
	    x->x_port, x->x_connect ? UPSTREAM_O_TUNNEL : 0,
	    c->c_mitm_host != NULL && !x->x_connect ? c->c_px->px_mitm : NULL,
	    cb, c);
	if (x->x_ureq == NULL)
		exchange_fail(c, PE_UPSTREAM_START, NULL);
	return NULL;
}

int
exchange_forward(struct conn *c, const struct http1_head *h,
    const struct http1_target *t)
{
	struct exchange		*x = c->c_x;
	struct oauth_ctx	 ctx;
	const struct parent	*pa;
	char			 ahost[256];
	uint16_t		 aport;
	unsigned		 wflags = 0;

	if ((x->x_head = evbuffer_new()) == NULL)
		return -1;
	ctx.oc_env = c->c_px->px_oauth;
	ctx.oc_req = x->x_id;
	ctx.oc_client = c->c_peer;
	ctx.oc_host = x->x_host;
	x->x_obs = oauth_request(c->c_cfg, &ctx, h, t, &wflags);
	if (x->x_req_done)
		oauth_request_done(x->x_obs);	/* no body */
	if (x->x_upgrade)
		wflags |= HTTP1_W_UPGRADE;
	if (c->c_mitm_host == NULL &&
	    (pa = parent_for(c->c_cfg, 0, t->t_host)) != NULL) {
		/* To a parent proxy: absolute form, its credentials. */
		upstream_authority(c->c_cfg, t->t_host, t->t_port, ahost,
		    sizeof(ahost), &aport);
		http1_write_proxy_request_head(x->x_head, h, t, wflags, ahost,
		    aport, pa->pa_auth_line);
		x->x_via_parent = 1;
	} else
		http1_write_request_head(x->x_head, h, t, wflags);
	return 0;
}

static void
req_body_cb(void *arg, const char *p, size_t len)
{
	struct conn	*c = arg;

	oauth_request_body(c->c_x->x_obs, p, len);
}

void
exchange_pump_request(struct conn *c)
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
		n = http1_reframe_body(c->c_reqp, v.iov_base, v.iov_len,
		    out, x->x_obs != NULL ? req_body_cb : NULL, c);
		if (n < 0) {
			snprintf(buf, sizeof(buf), "malformed request body: %s",
			    http1_parser_error(c->c_reqp));
			exchange_fail(c, PE_BAD_BODY, buf);
			return;
		}
		if (x->x_req_chunked)
			evbuffer_drain(in, (size_t)n);
		else
			evbuffer_remove_buffer(in, out, (size_t)n);
		x->x_in += (uint64_t)n;
		if (http1_message_done(c->c_reqp)) {
			x->x_req_done = 1;
			oauth_request_done(x->x_obs);
		}
	}
}

void
exchange_attach(struct conn *c, enum upstream_fail why, const char *detail)
{
	struct exchange		*x = c->c_x;
	struct bufferevent	*bev = c->c_ubev;
	struct timeval		 tv = { c->c_cfg->cf_to_idle_ms / 1000,
				    (c->c_cfg->cf_to_idle_ms % 1000) * 1000 };

	x->x_ureq = NULL;
	if (bev == NULL) {
		exchange_fail(c, proxyerr_from_upstream(why), detail);
		return;
	}
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
		x->x_phase = XP_TUNNEL;
		evbuffer_add(bufferevent_get_output(c->c_cbev), established,
		    sizeof(established) - 1);
		tunnel_begin(c);
		tunnel_pump(c, c->c_cbev, c->c_ubev);
		/* Bytes a parent proxy sent right after its 2xx. */
		tunnel_pump(c, c->c_ubev, c->c_cbev);
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
	exchange_pump_request(c);
}

/* Decoded response body: to the observer while held, and to the client
 * (or the hold) when the body is being de-chunked for HTTP/1.0. */
static void
resp_body_cb(void *arg, const char *p, size_t len)
{
	struct conn	*c = arg;
	struct exchange	*x = c->c_x;

	if (x->x_hold != NULL)
		oauth_response_body(x->x_obs, p, len);
	if (x->x_dechunk) {
		evbuffer_add(x->x_hold != NULL ? x->x_hold :
		    bufferevent_get_output(c->c_cbev), p, len);
		x->x_out += len;
	}
}

/* Send a held response: its head, with the annotation when there is one,
 * then the body bytes exactly as the origin sent them. */
static void
exchange_flush_hold(struct conn *c, const char *line)
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
exchange_abandon_hold(struct conn *c, enum oauth_outcome why)
{
	oauth_end(c->c_x->x_obs, why);
	exchange_flush_hold(c, NULL);
}

/* The response is complete: annotate and send a held one, then finish. */
static void
exchange_response_complete(struct conn *c)
{
	const char	*line = oauth_end(c->c_x->x_obs, OAUTH_COMPLETE);

	if (c->c_x->x_hold != NULL)
		exchange_flush_hold(c, line);
	exchange_end(c, XO_DONE);
}

/* Decide how the response reaches this client, then send its head. */
static void
exchange_response_head(struct conn *c, const struct http1_head *h)
{
	struct exchange	*x = c->c_x;
	unsigned	 flags = 0;
	int		 keep, hold;

	x->x_status = h->h_status;
	hold = oauth_response_head(x->x_obs, h);
	x->x_up_ka = h->h_keepalive && h->h_body != HTTP1_BODY_EOF;
	x->x_dechunk = x->x_http10 && h->h_body == HTTP1_BODY_CHUNKED;
	x->x_resp_chunked = h->h_body == HTTP1_BODY_CHUNKED;
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
	x->x_phase = XP_BODY;
	if (hold == 1) {
		/* Hold the response until its body has been inspected. */
		if ((x->x_hold = evbuffer_new()) != NULL) {
			http1_write_response_head(x->x_hold, h, flags, NULL);
			x->x_hold_head = evbuffer_get_length(x->x_hold);
			return;
		}
	}
	http1_write_response_head(bufferevent_get_output(c->c_cbev), h, flags,
	    oauth_head_line(x->x_obs));
}

/* The client's 502 for a parent proxy that refused a plain request. */
static void
exchange_parent_refused(struct conn *c, const struct http1_head *h)
{
	struct exchange		*x = c->c_x;
	const struct parent	*pa = parent_for(c->c_cfg, 0, x->x_host);
	char			 buf[480], hint[300];

	snprintf(buf, sizeof(buf), "upstream proxy %s refused the request "
	    "for %s:%u: %d%s", pa ? pa->pa_shown : "?", x->x_host,
	    x->x_port, h->h_status, parent_refusal_hint(pa, h, hint,
	    sizeof(hint)));
	exchange_fail(c, PE_UPSTREAM_PARENT, buf);
}

/* Read one response head; 1 when the body may follow, 0 to wait. */
static int
exchange_read_response_head(struct conn *c)
{
	struct exchange		*x = c->c_x;
	struct evbuffer		*in = bufferevent_get_input(c->c_ubev);
	struct evbuffer		*out = bufferevent_get_output(c->c_cbev);
	/* 4 KiB, this call only */
	struct http1_head	 head, *h = &head;
	struct http1_error	 err;
	size_t			 len, headlen, before;
	const char		*buf;
	char			 reason[240];
	int			 r;

	for (;;) {
		len = evbuffer_get_length(in);
		if (len == 0)
			return 0;
		/* Interim heads wait for the client as body bytes do
		 * (conn_client_drained resumes); the origin's input stops
		 * at its high-water mark meanwhile. */
		if (evbuffer_get_length(out) >= OUT_HIGH)
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
			transport_want(c, CN_CLOSE, "out of memory");
			return 0;
		}
		if (r == -1 || http1_parse_head(c->c_resp, buf, headlen,
		    x->x_is_head, h, &err) == -1) {
			snprintf(reason, sizeof(reason), "bad response from "
			    "%s:%u: %s", x->x_host, x->x_port, err.he_reason);
			exchange_fail(c, PE_BAD_RESPONSE, reason);
			return 0;
		}
		if (x->x_via_parent && h->h_status == 407) {
			/* The parent's 407 is not the client's to answer:
			 * oauthlens holds the parent's credentials. */
			exchange_parent_refused(c, h);
			return 0;
		}
		if (x->x_head != NULL) {
			/* An answer arrived: no retry from here on. */
			evbuffer_free(x->x_head);
			x->x_head = NULL;
		}
		if (h->h_status >= 100 && h->h_status < 200 &&
		    h->h_status != 101) {
			if (++x->x_interim > EXCHANGE_MAX_INTERIM) {
				snprintf(reason, sizeof(reason), "%s:%u sent "
				    "more than %d interim (1xx) responses",
				    x->x_host, x->x_port,
				    EXCHANGE_MAX_INTERIM);
				exchange_fail(c, PE_TOO_MANY_INTERIM, reason);
				return 0;
			}
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
				exchange_fail(c, PE_UNASKED_UPGRADE, NULL);
				return 0;
			}
			x->x_status = 101;
			before = evbuffer_get_length(out);
			http1_write_response_head(out, h, HTTP1_W_UPGRADE,
			    NULL);
			x->x_phase = XP_TUNNEL;
			x->x_out += evbuffer_get_length(out) - before;
			evbuffer_drain(in, headlen);
			tunnel_begin(c);
			tunnel_pump(c, c->c_ubev, c->c_cbev);
			tunnel_pump(c, c->c_cbev, c->c_ubev);
			return 0;
		}
		before = evbuffer_get_length(out);
		exchange_response_head(c, h);
		x->x_out += evbuffer_get_length(out) - before;
		evbuffer_drain(in, headlen);
		if (h->h_body == HTTP1_BODY_NONE) {
			exchange_end(c, XO_DONE);
			return 0;
		}
		return 1;
	}
}

/*
 * A response body that cannot be read unambiguously: a 502 while nothing
 * of it reached the client (held for inspection), else the connection
 * ends, and the client sees a cut response (its chunks never finish).
 */
static void
exchange_bad_response_body(struct conn *c)
{
	struct exchange	*x = c->c_x;
	char		 buf[300];

	snprintf(buf, sizeof(buf), "bad response body from %s:%u: %s",
	    x->x_host, x->x_port, http1_parser_error(c->c_resp));
	if (x->x_hold != NULL) {
		oauth_end(x->x_obs, OAUTH_CUT);
		evbuffer_free(x->x_hold);
		x->x_hold = NULL;
		x->x_phase = XP_WAIT;
		x->x_out = 0;
		x->x_up_ka = 0;
		exchange_fail(c, PE_BAD_RESPONSE_BODY, buf);
		return;
	}
	log_warnx("req %llu: %s", (unsigned long long)x->x_id, buf);
	exchange_end(c, XO_CUT);
}

/* Move response bytes to the client: while it keeps up when bounded,
 * else all there is (the origin has gone; its input is bounded). */
static void
pump_response(struct conn *c, int bounded)
{
	struct exchange		*x = c->c_x;
	struct evbuffer		*in = bufferevent_get_input(c->c_ubev);
	struct evbuffer		*out = bufferevent_get_output(c->c_cbev);
	struct evbuffer		*to;
	struct evbuffer_iovec	 v;
	ssize_t			 n;
	size_t			 before;

	if (x->x_phase == XP_WAIT && !exchange_read_response_head(c))
		return;
	while (evbuffer_get_length(in) > 0) {
		if (bounded && evbuffer_get_length(out) >= OUT_HIGH)
			return;		/* conn_client_write_cb resumes */
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return;
		/* De-chunked for HTTP/1.0: resp_body_cb writes the data. */
		to = x->x_dechunk ? NULL : x->x_hold != NULL ? x->x_hold : out;
		before = to != NULL ? evbuffer_get_length(to) : 0;
		n = http1_reframe_body(c->c_resp, v.iov_base, v.iov_len, to,
		    x->x_dechunk || x->x_hold ? resp_body_cb : NULL, c);
		if (n < 0) {
			exchange_bad_response_body(c);
			return;
		}
		if (x->x_dechunk)
			evbuffer_drain(in, (size_t)n);
		else if (x->x_resp_chunked) {
			evbuffer_drain(in, (size_t)n);
			x->x_out += evbuffer_get_length(to) - before;
		} else {
			evbuffer_remove_buffer(in, to, (size_t)n);
			x->x_out += (uint64_t)n;
		}
		if (http1_message_done(c->c_resp)) {
			exchange_response_complete(c);
			return;
		}
		if (x->x_hold != NULL && evbuffer_get_length(x->x_hold) -
		    x->x_hold_head > c->c_cfg->cf_inspect_max_bytes)
			exchange_abandon_hold(c, OAUTH_TOO_LARGE);
	}
}

void
exchange_pump_response(struct conn *c)
{
	pump_response(c, 1);
}

/*
 * Whether a request lost with its reused connection may be sent again
 * (RFC 9110 section 9.2.2): an idempotent method, or a request the origin
 * provably never read, because no byte of it left our output buffer.
 */
static int
exchange_may_retry(struct conn *c)
{
	static const char *const idempotent[] = { "GET", "HEAD", "OPTIONS",
		"TRACE", "PUT", "DELETE", NULL };
	struct exchange	*x = c->c_x;
	size_t		 i;

	for (i = 0; idempotent[i] != NULL; i++)
		if (strcmp(x->x_method, idempotent[i]) == 0)
			return 1;
	return evbuffer_get_length(bufferevent_get_output(c->c_ubev)) >=
	    evbuffer_get_length(x->x_head);
}

/* The origin closed or failed while we relay an exchange. */
static void
exchange_up_lost(struct conn *c, short what)
{
	struct exchange	*x = c->c_x;
	char		 buf[300];
	int		 err = EVUTIL_SOCKET_ERROR();

	if (x->x_phase == XP_BODY && x->x_resp_eof &&
	    (what & BEV_EVENT_EOF)) {
		/* A close-delimited body ends here. */
		exchange_pump_response(c);
		if (c->c_state == CS_RELAY && c->c_x == x &&
		    http1_parse_eof(c->c_resp) == 0) {
			bufferevent_free(c->c_ubev);
			c->c_ubev = NULL;
			x->x_up_ka = 0;
			exchange_response_complete(c);
		}
		return;
	}
	if (x->x_phase != XP_WAIT) {
		/* Deliver what did arrive; the framing tells the client the
		 * response is cut short. A chunked body's bytes go through
		 * the decoder, never as they came. */
		pump_response(c, 0);
		if (c->c_state != CS_RELAY || c->c_x != x)
			return;
		if (x->x_hold != NULL)
			exchange_abandon_hold(c, OAUTH_CUT);
		if (!x->x_resp_chunked)
			evbuffer_add_buffer(bufferevent_get_output(c->c_cbev),
			    bufferevent_get_input(c->c_ubev));
		log_info("req %llu: %s:%u closed the connection in the middle "
		    "of the response", (unsigned long long)x->x_id, x->x_host,
		    x->x_port);
		exchange_end(c, XO_CUT);
		return;
	}
	if (x->x_reused && x->x_head != NULL && !x->x_retried &&
	    exchange_may_retry(c)) {
		/* A pooled connection the origin had already closed: send
		 * the request again on a fresh one. */
		bufferevent_free(c->c_ubev);
		c->c_ubev = NULL;
		x->x_retried = 1;
		transport_want(c, CN_CONNECT, NULL);
		return;
	}
	if (x->x_reused && x->x_head != NULL && !x->x_retried) {
		snprintf(buf, sizeof(buf), "%s:%u closed a reused connection "
		    "after the %s request was sent: it may have been "
		    "processed, so it was not sent again (RFC 9110 9.2.2)",
		    x->x_host, x->x_port, x->x_method);
		exchange_fail(c, PE_NOT_RETRIED, buf);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		snprintf(buf, sizeof(buf), "%s:%u closed the connection "
		    "without sending a response", x->x_host, x->x_port);
		exchange_fail(c, PE_UPSTREAM_CLOSED, buf);
		return;
	}
	snprintf(buf, sizeof(buf), "connection to %s:%u failed: %s",
	    x->x_host, x->x_port, err == ECONNRESET ?
	    "reset by peer" : strerror(err ? err : EIO));
	exchange_fail(c, PE_UPSTREAM_FAILED, buf);
}

void
exchange_up_event(struct conn *c, short what)
{
	struct exchange	*x = c->c_x;
	char		 buf[300];

	if (what & BEV_EVENT_TIMEOUT) {
		if ((what & BEV_EVENT_READING) && !x->x_req_done) {
			/* Still uploading: silence upstream is expected. */
			bufferevent_enable(c->c_ubev, EV_READ);
			return;
		}
		snprintf(buf, sizeof(buf), "%s:%u timed out: it did not %s "
		    "within %u ms", x->x_host, x->x_port,
		    (what & BEV_EVENT_READING) ? "respond" :
		    "accept the request",
		    c->c_cfg->cf_to_idle_ms);
		if (x->x_hold != NULL) {
			/* A held token response stalled: the client gets
			 * what did arrive, with the uninspected line, and
			 * sees it cut short. */
			exchange_abandon_hold(c, OAUTH_STALLED);
			log_info("req %llu: %s", (unsigned long long)x->x_id,
			    buf);
			exchange_end(c, XO_CUT);
			return;
		}
		exchange_fail(c, PE_UPSTREAM_TIMEOUT, buf);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		exchange_up_lost(c, what);
}
