/*
 * A request head on a client connection, read and routed: refused (a
 * connection over the limits), answered with the proxy's own page,
 * turned into a tunnel or an interception (CONNECT), or handed to an
 * exchange for the origin. Loops back into the proxy end here with 508.
 * It asks conn.c for what follows through c_next, like the files below.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "transport.h"
#include "config.h"
#include "log.h"
#include "oauthlens.h"
#include "parent.h"
#include "upstream.h"
#include "util.h"

/* Refuse a request the connection was accepted to refuse. */
static void
request_reject(struct conn *c)
{
	char	buf[160];

	if (c->c_reject == 403)
		snprintf(buf, sizeof(buf), "client %s is not in this proxy's "
		    "\"allow\" list", c->c_peer);
	else
		snprintf(buf, sizeof(buf), "too many connections (limit %u); "
		    "try again", c->c_cfg->cf_max_connections);
	stats_add(c->c_stats, STAT_REJECTED, 1);
	exchange_fail(c, c->c_reject == 403 ? PE_CLIENT_NOT_ALLOWED :
	    PE_TOO_MANY, buf);
}

/* "GET http://127.0.0.1:8080/healthz" sent to 127.0.0.1:8080 (by a shell
 * that ran eval "$(oauthlens --env)"): one of our own pages, answered
 * here rather than relayed back to ourselves. */
static void
request_own_page(struct conn *c, const struct http1_head *h,
    const struct http1_target *t, size_t headlen)
{
	struct http1_head	*own = xcalloc(1, sizeof(*own));

	memcpy(own->h_method, h->h_method, sizeof(own->h_method));
	own->h_is_head = h->h_is_head;
	/* The target's authority is our own listener already: the Host
	 * check for rebound names has nothing left to check. */
	own->h_host = -1;
	own->h_target = t->t_path;
	if (own->h_target.s_len == 0 || own->h_target.s_ptr[0] == '?') {
		own->h_target.s_ptr = "/";
		own->h_target.s_len = 1;
	}
	exchange_local(c, own);
	free(own);
	evbuffer_drain(bufferevent_get_input(c->c_cbev), headlen);
}

/* A request that would come back to this proxy: a CONNECT to one of our
 * listeners, a target that --resolve maps to one, or one that has been
 * through an oauthlens already (Via). Answers 508 and returns -1. */
static int
request_loop_check(struct conn *c, const struct http1_head *h,
    const struct http1_target *t)
{
	char		 host[256], buf[400];
	uint16_t	 port;

	upstream_authority(c->c_cfg, t->t_host, t->t_port, host, sizeof(host),
	    &port);
	if ((t->t_form == 'c' && parent_names_listener(t->t_host, t->t_port,
	    &c->c_cfg->cf_listen)) || (config_resolve(c->c_cfg, t->t_host,
	    t->t_port) != NULL && parent_names_listener(host, port,
	    &c->c_cfg->cf_listen))) {
		snprintf(buf, sizeof(buf), "%s:%u is this proxy's own "
		    "listener: the request would loop back into oauthlens "
		    "(use oauthlens as the client's proxy, not as its "
		    "target)", t->t_host, t->t_port);
		exchange_fail(c, PE_LOOP, buf);
		return -1;
	}
	if (http1_via_loop(h)) {
		exchange_fail(c, PE_LOOP, "the request has already passed "
		    "through oauthlens (Via): a proxy loop; the upstream proxy "
		    "must not send requests back to oauthlens");
		return -1;
	}
	return 0;
}

/* Act on a parsed request head; the head's bytes are still in input. */
static void
request_dispatch(struct conn *c, const struct http1_head *h, size_t headlen)
{
	struct http1_target	 t;
	struct http1_error	 err;
	struct exchange		*x;
	struct evbuffer		*in = bufferevent_get_input(c->c_cbev);
	char			 buf[320];

	if ((x = exchange_new(c, h)) == NULL) {
		transport_want(c, CN_CLOSE, "out of memory");
		return;
	}
	c->c_x = x;
	x->x_in = headlen;
	if (c->c_cfg->cf_proxy_auth != NULL && c->c_mitm_host == NULL) {
		const struct slice *pa = http1_header(h, "proxy-authorization");

		if (!config_proxy_auth_ok(c->c_cfg, pa ? pa->s_ptr : NULL,
		    pa ? pa->s_len : 0)) {
			exchange_fail(c, PE_PROXY_AUTH, pa ? "wrong proxy "
			    "credentials" : NULL);
			return;
		}
	}
	if (http1_parse_target(h, &t, &err) == -1) {
		exchange_fail(c, proxyerr_from_http1(err.he_status),
		    err.he_reason);
		return;
	}
	if (c->c_mitm_host != NULL) {
		/* Inside an intercepted tunnel the authority is the one the
		 * client CONNECTed to; targets are in origin form. */
		if (t.t_form != 'o') {
			exchange_fail(c, PE_TUNNEL_TARGET, NULL);
			return;
		}
		t.t_form = 'a';
		snprintf(t.t_host, sizeof(t.t_host), "%s", c->c_mitm_host);
		t.t_port = c->c_mitm_port;
		t.t_tls = 1;
	}
	if (c->c_mitm_host == NULL && t.t_form != 'o' &&
	    request_loop_check(c, h, &t) == -1)
		return;
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
		exchange_local(c, h);
		evbuffer_drain(in, headlen);
		return;
	}
	if (t.t_form == 'a' && c->c_mitm_host == NULL &&
	    parent_names_listener(t.t_host, t.t_port, &c->c_cfg->cf_listen)) {
		request_own_page(c, h, &t, headlen);
		return;
	}
	util_strlcpy(x->x_host, t.t_host, sizeof(x->x_host));
	x->x_port = t.t_port;
	if (t.t_form == 'c') {
		if (intercept_wanted(c, &t))
			intercept_note_runtime(c, h);	/* h lives in input */
		evbuffer_drain(in, headlen);
		if (!config_connect_port_ok(c->c_cfg, t.t_port)) {
			snprintf(buf, sizeof(buf), "CONNECT to port %u is not "
			    "allowed (connect_ports)", t.t_port);
			exchange_fail(c, PE_CONNECT_PORT, buf);
			return;
		}
		if (intercept_wanted(c, &t)) {
			intercept_begin(c, &t);
			transport_timer(c, c->c_cfg->cf_to_header_ms);
			return;
		}
		transport_want(c, CN_CONNECT, NULL);
		return;
	}
	if (exchange_forward(c, h, &t) == -1) {
		transport_want(c, CN_CLOSE, "out of memory");
		return;
	}
	evbuffer_drain(in, headlen);
	transport_want(c, CN_CONNECT, NULL);
}

/* The connection is idle: read one request head and act on it. */
void
request_read(struct conn *c)
{
	struct evbuffer		*in = bufferevent_get_input(c->c_cbev);
	/* 4 KiB, this call only */
	struct http1_head	 head, *h = &head;
	struct http1_error	 err;
	size_t			 len, headlen;
	const char		*buf;
	int			 r;

	/* RFC 9112 2.2: empty lines before a request line are ignored
	 * (some clients send one after a POST body). */
	while (c->c_scan == 0 && evbuffer_get_length(in) >= 2 &&
	    memcmp(evbuffer_pullup(in, 2), "\r\n", 2) == 0)
		evbuffer_drain(in, 2);
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
			transport_timer(c, c->c_cfg->cf_to_header_ms);
		}
		return;
	}
	c->c_scan = 0;
	if (c->c_head_timer) {
		c->c_head_timer = 0;
		evtimer_del(c->c_timer);
	}
	if (c->c_reject) {
		request_reject(c);
		return;
	}
	if (r == -1) {
		exchange_fail(c, proxyerr_from_http1(err.he_status),
		    err.he_reason);
		return;
	}
	if (c->c_reqp == NULL &&
	    (c->c_reqp = http1_parser_new(HTTP1_REQUEST)) == NULL) {
		transport_want(c, CN_CLOSE, "out of memory");
		return;
	}
	if (http1_parse_head(c->c_reqp, buf, headlen, 0, h, &err) == -1) {
		exchange_fail(c, proxyerr_from_http1(err.he_status),
		    err.he_reason);
		return;
	}
	request_dispatch(c, h, headlen);
}
