#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "config.h"
#include "http1.h"
#include "log.h"
#include "mitm.h"
#include "parent.h"
#include "upstream.h"
#include "util.h"

#define POOL_MAX_PER_KEY	512
#define POOL_MAX		4096
#define MAX_ADDRS		8
#define PARENT_HEAD_MAX		(16 * 1024)

/* Where a request stands. */
enum ur_stage {
	UR_CONNECT,		/* TCP (and direct TLS) connect */
	UR_PARENT,		/* CONNECT sent, reading the parent's head */
	UR_TUNNEL_TLS		/* TLS handshake inside the parent's tunnel */
};

struct pooled {
	TAILQ_ENTRY(pooled)	 pl_entry;
	struct upstream		*pl_up;		/* borrowed */
	struct pool_key		*pl_key;	/* borrowed */
	struct bufferevent	*pl_bev;	/* owned */
};

struct pool_key {
	TAILQ_ENTRY(pool_key)	 pk_entry;
	TAILQ_HEAD(, pooled)	 pk_idle;	/* most recent first */
	unsigned		 pk_n;
	uint16_t		 pk_port;
	int			 pk_tls;
	char			 pk_host[];
};

struct upstream {
	struct event_base	*up_base;	/* borrowed */
	struct evdns_base	*up_dns;	/* borrowed */
	TAILQ_HEAD(, pool_key)	 up_keys;
	unsigned		 up_pooled;
};

struct upstream_req {
	struct upstream		*ur_up;		/* borrowed */
	upstream_cb		 ur_cb;
	struct mitm		*ur_tls;	/* borrowed, NULL for TCP */
	void			*ur_arg;
	struct evdns_getaddrinfo_request *ur_dns; /* pending lookup */
	struct bufferevent	*ur_bev;	/* owned: attempt in flight */
	struct event		*ur_defer;	/* owned: report later */
	struct timeval		 ur_timeout;
	struct sockaddr_storage	 ur_addrs[MAX_ADDRS];
	socklen_t		 ur_addrlens[MAX_ADDRS];
	int			 ur_naddrs, ur_next;
	enum upstream_fail	 ur_why;
	enum ur_stage		 ur_stage;
	struct config		*ur_cf;		/* referenced, with a parent */
	const struct parent	*ur_parent;	/* borrowed from ur_cf */
	int			 ur_via_connect; /* CONNECT through it */
	size_t			 ur_scan;	/* parent head end search */
	char			 ur_detail[400];
	char			 ur_host[256];
	uint16_t		 ur_port;
	/* The CONNECT authority asked of a parent: the host, or its
	 * --resolve address; and where the socket goes: host or parent. */
	char			 ur_thost[256];
	uint16_t		 ur_tport;
	char			 ur_chost[256];
	uint16_t		 ur_cport;
	char			 ur_name[340];	/* "host:port" or the parent */
	/* Direct, while oauthlens's environment names a proxy: that
	 * proxy (password as ***), for the words of a failure; or "". */
	char			 ur_env_proxy[400];
};

struct upstream *
upstream_new(struct event_base *base, struct evdns_base *dns)
{
	struct upstream	*up = xcalloc(1, sizeof(*up));

	up->up_base = base;
	up->up_dns = dns;
	TAILQ_INIT(&up->up_keys);
	return up;
}

static void
pooled_free(struct upstream *up, struct pooled *pl)
{
	struct pool_key	*pk = pl->pl_key;

	TAILQ_REMOVE(&pk->pk_idle, pl, pl_entry);
	pk->pk_n--;
	up->up_pooled--;
	bufferevent_free(pl->pl_bev);
	free(pl);
	if (pk->pk_n == 0) {
		TAILQ_REMOVE(&up->up_keys, pk, pk_entry);
		free(pk);
	}
}

/* Close a key's idle connections and free it. */
static void
pool_key_free(struct upstream *up, struct pool_key *pk)
{
	struct pooled	*pl;

	while ((pl = TAILQ_FIRST(&pk->pk_idle)) != NULL) {
		TAILQ_REMOVE(&pk->pk_idle, pl, pl_entry);
		up->up_pooled--;
		bufferevent_free(pl->pl_bev);
		free(pl);
	}
	TAILQ_REMOVE(&up->up_keys, pk, pk_entry);
	free(pk);
}

void
upstream_pool_drop_tls(struct upstream *up)
{
	struct pool_key	*pk, *next;

	for (pk = TAILQ_FIRST(&up->up_keys); pk != NULL; pk = next) {
		next = TAILQ_NEXT(pk, pk_entry);
		if (pk->pk_tls)
			pool_key_free(up, pk);
	}
}

void
upstream_pool_drop_all(struct upstream *up)
{
	struct pool_key	*pk, *next;

	for (pk = TAILQ_FIRST(&up->up_keys); pk != NULL; pk = next) {
		next = TAILQ_NEXT(pk, pk_entry);
		pool_key_free(up, pk);
	}
}

void
upstream_free(struct upstream *up)
{
	struct pool_key	*pk, *next;

	if (up == NULL)
		return;
	for (pk = TAILQ_FIRST(&up->up_keys); pk != NULL; pk = next) {
		next = TAILQ_NEXT(pk, pk_entry);
		pool_key_free(up, pk);
	}
	free(up);
}

static void
req_free(struct upstream_req *ur)
{
	if (ur->ur_dns != NULL)
		evdns_getaddrinfo_cancel(ur->ur_dns);
	if (ur->ur_bev != NULL)
		bufferevent_free(ur->ur_bev);
	event_free(ur->ur_defer);
	config_unref(ur->ur_cf);
	free(ur);
}

void
upstream_cancel(struct upstream_req *ur)
{
	if (ur == NULL)
		return;
	ur->ur_cb = NULL;
	/* A lookup in flight calls back once more (as cancelled); let that
	 * callback free the request. */
	if (ur->ur_dns != NULL) {
		struct evdns_getaddrinfo_request *r = ur->ur_dns;

		ur->ur_dns = NULL;
		if (ur->ur_bev != NULL) {
			bufferevent_free(ur->ur_bev);
			ur->ur_bev = NULL;
		}
		evdns_getaddrinfo_cancel(r);
		return;
	}
	req_free(ur);
}

/* Report the outcome from the event loop (never from a caller's stack). */
static void
defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_req	*ur = arg;
	struct bufferevent	*bev = ur->ur_why == UPSTREAM_OK ?
	    ur->ur_bev : NULL;

	if (bev != NULL)
		ur->ur_bev = NULL;
	if (ur->ur_env_proxy[0] != '\0' && (ur->ur_why == UPSTREAM_DNS ||
	    ur->ur_why == UPSTREAM_REFUSED || ur->ur_why == UPSTREAM_TIMEOUT ||
	    ur->ur_why == UPSTREAM_UNREACHABLE))
		snprintf(ur->ur_detail + strlen(ur->ur_detail),
		    sizeof(ur->ur_detail) - strlen(ur->ur_detail), " (oauthlens "
		    "went direct: upstream_proxy is not set, though its "
		    "environment names %s; upstream_proxy env goes through it)",
		    ur->ur_env_proxy);
	if (ur->ur_cb != NULL)
		ur->ur_cb(bev, ur->ur_why, ur->ur_detail, ur->ur_arg);
	else if (bev != NULL)
		bufferevent_free(bev);
	req_free(ur);
}

static void
finish(struct upstream_req *ur, enum upstream_fail why)
{
	ur->ur_why = why;
	event_active(ur->ur_defer, EV_TIMEOUT, 1);
}

static void	 try_next(struct upstream_req *ur);
static void	 connect_event_cb(struct bufferevent *, short, void *);

/* The parent's tunnel is open: start TLS with the origin inside it, on
 * the socket itself (as direct TLS does), so the bufferevent handed over
 * is an ordinary OpenSSL one. */
static void
parent_tls_start(struct upstream_req *ur)
{
	evutil_socket_t	 fd = bufferevent_getfd(ur->ur_bev);
	SSL		*ssl = mitm_upstream_ssl(ur->ur_tls, ur->ur_host);

	if (ssl == NULL) {
		snprintf(ur->ur_detail, sizeof(ur->ur_detail), "cannot start "
		    "TLS with %s:%u", ur->ur_host, ur->ur_port);
		finish(ur, UPSTREAM_TLS);
		return;
	}
	bufferevent_setfd(ur->ur_bev, -1);
	bufferevent_free(ur->ur_bev);
	ur->ur_stage = UR_TUNNEL_TLS;
	ur->ur_bev = bufferevent_openssl_socket_new(ur->ur_up->up_base, fd,
	    ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (ur->ur_bev == NULL) {
		evutil_closesocket(fd);
		snprintf(ur->ur_detail, sizeof(ur->ur_detail), "cannot start "
		    "TLS with %s:%u", ur->ur_host, ur->ur_port);
		finish(ur, UPSTREAM_TLS);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(ur->ur_bev, 1);
	bufferevent_setcb(ur->ur_bev, NULL, NULL, connect_event_cb, ur);
	bufferevent_set_timeouts(ur->ur_bev, &ur->ur_timeout,
	    &ur->ur_timeout);
	bufferevent_enable(ur->ur_bev, EV_READ | EV_WRITE);
}

/* A refusal from the parent, named with its status, reason and why. */
static void
parent_refused(struct upstream_req *ur, const struct http1_head *h)
{
	char		reason[64], hint[300];
	size_t		i, n = h->h_reason.s_len;

	if (n >= sizeof(reason))
		n = sizeof(reason) - 1;
	for (i = 0; i < n; i++) {
		char c = h->h_reason.s_ptr[i];

		reason[i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	reason[n] = '\0';
	snprintf(ur->ur_detail, sizeof(ur->ur_detail), "%s refused CONNECT "
	    "%s:%u: %d %s%s", ur->ur_name, ur->ur_host, ur->ur_port,
	    h->h_status, reason, parent_refusal_hint(ur->ur_parent, h, hint,
	    sizeof(hint)));
	finish(ur, UPSTREAM_PARENT);
}

/* Read the parent's answer to CONNECT; a 2xx opens the tunnel. */
static void
parent_read_cb(struct bufferevent *bev, void *arg)
{
	struct upstream_req	*ur = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct http1_parser	*hp;
	struct http1_head	*h;
	struct http1_error	 err;
	size_t			 len = evbuffer_get_length(in), headlen;
	const char		*buf;
	int			 r;

	if (len > PARENT_HEAD_MAX)
		len = PARENT_HEAD_MAX;
	buf = (const char *)evbuffer_pullup(in, (ssize_t)len);
	r = http1_head_end(buf, len, &ur->ur_scan, &headlen, &err);
	if (r == 0 && len < PARENT_HEAD_MAX)
		return;
	bufferevent_disable(bev, EV_READ);
	h = xcalloc(1, sizeof(*h));
	hp = http1_parser_new(HTTP1_RESPONSE);
	if (r != 1 || hp == NULL ||
	    http1_parse_head(hp, buf, headlen, 1, h, &err) == -1) {
		snprintf(ur->ur_detail, sizeof(ur->ur_detail), "%s answered "
		    "CONNECT %s:%u with a malformed response", ur->ur_name,
		    ur->ur_host, ur->ur_port);
		finish(ur, UPSTREAM_PARENT);
	} else if (h->h_status < 200 || h->h_status > 299)
		parent_refused(ur, h);
	else {
		evbuffer_drain(in, headlen);
		log_debug("%s opened a tunnel to %s:%u", ur->ur_name,
		    ur->ur_host, ur->ur_port);
		if (ur->ur_tls != NULL && evbuffer_get_length(in) > 0) {
			snprintf(ur->ur_detail, sizeof(ur->ur_detail), "%s "
			    "sent bytes before TLS with %s:%u began",
			    ur->ur_name, ur->ur_host, ur->ur_port);
			finish(ur, UPSTREAM_PARENT);
		} else if (ur->ur_tls != NULL)
			parent_tls_start(ur);
		else {
			bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
			bufferevent_set_timeouts(bev, NULL, NULL);
			bufferevent_disable(bev, EV_READ | EV_WRITE);
			finish(ur, UPSTREAM_OK);
		}
	}
	http1_parser_free(hp);
	free(h);
}

static void
parent_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct upstream_req	*ur = arg;
	int			 err = EVUTIL_SOCKET_ERROR();

	bufferevent_disable(bev, EV_READ | EV_WRITE);
	if (what & BEV_EVENT_TIMEOUT) {
		snprintf(ur->ur_detail, sizeof(ur->ur_detail), "%s did not "
		    "answer CONNECT %s:%u in time", ur->ur_name, ur->ur_host,
		    ur->ur_port);
		finish(ur, UPSTREAM_TIMEOUT);
		return;
	}
	snprintf(ur->ur_detail, sizeof(ur->ur_detail), "%s %s before "
	    "answering CONNECT %s:%u", ur->ur_name, what & BEV_EVENT_EOF ?
	    "closed the connection" : strerror(err ? err : EIO), ur->ur_host,
	    ur->ur_port);
	finish(ur, UPSTREAM_PARENT);
}

/* Connected to the parent: ask it for a tunnel to host:port. */
static void
parent_connect(struct upstream_req *ur)
{
	struct bufferevent	*bev = ur->ur_bev;

	ur->ur_stage = UR_PARENT;
	parent_write_connect(bufferevent_get_output(bev), ur->ur_parent,
	    ur->ur_thost, ur->ur_tport);
	bufferevent_setcb(bev, parent_read_cb, NULL, parent_event_cb, ur);
	bufferevent_setwatermark(bev, EV_READ, 0, PARENT_HEAD_MAX);
	bufferevent_set_timeouts(bev, &ur->ur_timeout, &ur->ur_timeout);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void
connect_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct upstream_req	*ur = arg;
	char			 addr[80];
	int			 err = EVUTIL_SOCKET_ERROR();
	unsigned long		 sslerr = 0;

	util_sockaddr_str((struct sockaddr *)&ur->ur_addrs[ur->ur_next - 1],
	    addr, sizeof(addr));
	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;

		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY,
		    &one, sizeof(one));
		if (ur->ur_stage == UR_CONNECT && ur->ur_via_connect) {
			parent_connect(ur);
			return;
		}
		bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
		bufferevent_set_timeouts(bev, NULL, NULL);
		bufferevent_disable(bev, EV_READ | EV_WRITE);
		log_debug("connected to %s (%s)", addr, ur->ur_name);
		finish(ur, UPSTREAM_OK);
		return;
	}
	if (ur->ur_tls != NULL && !(what & BEV_EVENT_TIMEOUT) &&
	    (ur->ur_stage == UR_TUNNEL_TLS || !ur->ur_via_connect) &&
	    ((sslerr = bufferevent_get_openssl_error(bev)) != 0 ||
	    (what & BEV_EVENT_EOF))) {
		char	why[200];

		mitm_upstream_error(bufferevent_openssl_get_ssl(bev), sslerr,
		    why, sizeof(why));
		if (ur->ur_stage == UR_TUNNEL_TLS)
			snprintf(ur->ur_detail, sizeof(ur->ur_detail), "TLS "
			    "with %s:%u (through upstream proxy %s): %s",
			    ur->ur_host, ur->ur_port, ur->ur_parent->pa_shown,
			    why);
		else
			snprintf(ur->ur_detail, sizeof(ur->ur_detail), "TLS "
			    "with %s:%u (%s): %s", ur->ur_host, ur->ur_port,
			    addr, why);
		bufferevent_free(bev);
		ur->ur_bev = NULL;
		/* Not an address problem: another address won't help. */
		finish(ur, UPSTREAM_TLS);
		return;
	}
	bufferevent_free(bev);
	ur->ur_bev = NULL;
	if (ur->ur_stage == UR_TUNNEL_TLS) {
		/* A timeout or an error inside the tunnel: the next address
		 * of the parent would not help. */
		snprintf(ur->ur_detail, sizeof(ur->ur_detail), "TLS with "
		    "%s:%u (through upstream proxy %s) %s", ur->ur_host,
		    ur->ur_port, ur->ur_parent->pa_shown,
		    what & BEV_EVENT_TIMEOUT ? "timed out" : "failed");
		finish(ur, what & BEV_EVENT_TIMEOUT ? UPSTREAM_TIMEOUT :
		    UPSTREAM_TLS);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		ur->ur_why = UPSTREAM_TIMEOUT;
		snprintf(ur->ur_detail, sizeof(ur->ur_detail),
		    "connecting to %s (%s) timed out", ur->ur_name, addr);
	} else if (err == ECONNREFUSED) {
		ur->ur_why = UPSTREAM_REFUSED;
		snprintf(ur->ur_detail, sizeof(ur->ur_detail),
		    "connection to %s (%s) refused", ur->ur_name, addr);
	} else if (err == ENETUNREACH || err == EHOSTUNREACH) {
		ur->ur_why = UPSTREAM_UNREACHABLE;
		snprintf(ur->ur_detail, sizeof(ur->ur_detail),
		    "%s (%s) is unreachable: %s", ur->ur_name, addr,
		    strerror(err));
	} else {
		ur->ur_why = UPSTREAM_ERROR;
		snprintf(ur->ur_detail, sizeof(ur->ur_detail),
		    "cannot connect to %s (%s): %s", ur->ur_name, addr,
		    strerror(err ? err : EIO));
	}
	log_debug("%s", ur->ur_detail);
	try_next(ur);
}

/* Start the next address; report the last failure when none is left. */
static void
try_next(struct upstream_req *ur)
{
	while (ur->ur_next < ur->ur_naddrs) {
		int i = ur->ur_next++;

		if (ur->ur_tls != NULL && !ur->ur_via_connect) {
			SSL *ssl = mitm_upstream_ssl(ur->ur_tls, ur->ur_host);

			/* The bufferevent owns the SSL, even on failure. */
			ur->ur_bev = ssl == NULL ? NULL :
			    bufferevent_openssl_socket_new(ur->ur_up->up_base,
			    -1, ssl, BUFFEREVENT_SSL_CONNECTING,
			    BEV_OPT_CLOSE_ON_FREE);
			if (ur->ur_bev != NULL)
				bufferevent_openssl_set_allow_dirty_shutdown(
				    ur->ur_bev, 1);
		} else
			ur->ur_bev = bufferevent_socket_new(ur->ur_up->up_base,
			    -1, BEV_OPT_CLOSE_ON_FREE);
		if (ur->ur_bev == NULL)
			break;
		bufferevent_setcb(ur->ur_bev, NULL, NULL, connect_event_cb,
		    ur);
		bufferevent_set_timeouts(ur->ur_bev, NULL, &ur->ur_timeout);
		if (bufferevent_socket_connect(ur->ur_bev,
		    (struct sockaddr *)&ur->ur_addrs[i],
		    (int)ur->ur_addrlens[i]) == 0)
			return;
		/* libevent freed nothing: the attempt failed at once. */
		ur->ur_why = UPSTREAM_ERROR;
		snprintf(ur->ur_detail, sizeof(ur->ur_detail),
		    "cannot connect to %s: %s", ur->ur_name,
		    strerror(errno ? errno : EIO));
		bufferevent_free(ur->ur_bev);
		ur->ur_bev = NULL;
	}
	if (ur->ur_why == UPSTREAM_OK) {
		ur->ur_why = UPSTREAM_ERROR;
		snprintf(ur->ur_detail, sizeof(ur->ur_detail),
		    "cannot connect to %s", ur->ur_name);
	}
	finish(ur, ur->ur_why);
}

static void
add_addr(struct upstream_req *ur, const struct sockaddr *sa, socklen_t len)
{
	if (ur->ur_naddrs == MAX_ADDRS || len > sizeof(ur->ur_addrs[0]))
		return;
	memcpy(&ur->ur_addrs[ur->ur_naddrs], sa, len);
	ur->ur_addrlens[ur->ur_naddrs++] = len;
}

static void
dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct upstream_req	*ur = arg;
	struct evutil_addrinfo	*ai;

	ur->ur_dns = NULL;
	if (result == EVUTIL_EAI_CANCEL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		if (ur->ur_cb == NULL) {
			req_free(ur);
			return;
		}
	}
	if (result != 0) {
		snprintf(ur->ur_detail, sizeof(ur->ur_detail),
		    "cannot resolve %s%s%s: %s", ur->ur_chost,
		    ur->ur_parent ? ", the host of upstream proxy " : "",
		    ur->ur_parent ? ur->ur_parent->pa_shown : "",
		    evutil_gai_strerror(result));
		finish(ur, UPSTREAM_DNS);
		return;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			((struct sockaddr_in *)ai->ai_addr)->sin_port =
			    htons(ur->ur_cport);
		else if (ai->ai_family == AF_INET6)
			((struct sockaddr_in6 *)ai->ai_addr)->sin6_port =
			    htons(ur->ur_cport);
		else
			continue;
		add_addr(ur, ai->ai_addr, (socklen_t)ai->ai_addrlen);
	}
	evutil_freeaddrinfo(res);
	if (ur->ur_naddrs == 0) {
		snprintf(ur->ur_detail, sizeof(ur->ur_detail),
		    "cannot resolve %s: no IPv4 or IPv6 address", ur->ur_chost);
		finish(ur, UPSTREAM_DNS);
		return;
	}
	try_next(ur);
}

/* A literal IPv4 or IPv6 address needs no lookup. */
static int
literal_addr(struct upstream_req *ur)
{
	struct sockaddr_in	s4;
	struct sockaddr_in6	s6;

	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	if (inet_pton(AF_INET, ur->ur_chost, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		s4.sin_port = htons(ur->ur_cport);
		add_addr(ur, (struct sockaddr *)&s4, sizeof(s4));
		return 1;
	}
	if (inet_pton(AF_INET6, ur->ur_chost, &s6.sin6_addr) == 1) {
		s6.sin6_family = AF_INET6;
		s6.sin6_port = htons(ur->ur_cport);
		add_addr(ur, (struct sockaddr *)&s6, sizeof(s6));
		return 1;
	}
	return 0;
}

/* RFC 6761 6.4: resolvers answer .invalid negatively without asking. */
static int
reserved_invalid(const char *host)
{
	size_t	n = strlen(host);

	if (n > 0 && host[n - 1] == '.')
		n--;
	return (n == 7 && strncasecmp(host, "invalid", 7) == 0) ||
	    (n > 8 && strncasecmp(host + n - 8, ".invalid", 8) == 0);
}

void
upstream_authority(const struct config *cf, const char *host,
    uint16_t port, char *buf, size_t len, uint16_t *outport)
{
	const struct resolve	*rv = config_resolve(cf, host, port);
	const struct sockaddr	*sa;

	util_strlcpy(buf, host, len);
	*outport = port;
	if (rv == NULL)
		return;
	sa = (const struct sockaddr *)&rv->rv_addr;
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    buf, (socklen_t)len);
		*outport = ntohs(((const struct sockaddr_in *)sa)->sin_port);
	} else {
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
		    (socklen_t)len);
		*outport = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	}
}

struct upstream_req *
upstream_open(struct upstream *up, const struct config *cf,
    const char *host, uint16_t port, unsigned flags, struct mitm *tls,
    upstream_cb cb, void *arg)
{
	struct upstream_req		*ur;
	const struct resolve		*rv;
	struct evutil_addrinfo		 hints;
	struct evdns_getaddrinfo_request *r;

	if (strlen(host) >= sizeof(ur->ur_host))
		return NULL;
	ur = xcalloc(1, sizeof(*ur));
	ur->ur_up = up;
	ur->ur_tls = tls;
	ur->ur_cb = cb;
	ur->ur_arg = arg;
	snprintf(ur->ur_host, sizeof(ur->ur_host), "%s", host);
	ur->ur_port = port;
	ur->ur_parent = parent_for(cf, tls != NULL ||
	    (flags & UPSTREAM_O_TUNNEL), host);
	if (ur->ur_parent != NULL) {
		ur->ur_cf = config_ref((struct config *)cf);
		ur->ur_via_connect = tls != NULL ||
		    (flags & UPSTREAM_O_TUNNEL) != 0;
		snprintf(ur->ur_chost, sizeof(ur->ur_chost), "%s",
		    ur->ur_parent->pa_host);
		ur->ur_cport = ur->ur_parent->pa_port;
		snprintf(ur->ur_name, sizeof(ur->ur_name), "upstream proxy %s",
		    ur->ur_parent->pa_shown);
		upstream_authority(cf, host, port, ur->ur_thost,
		    sizeof(ur->ur_thost), &ur->ur_tport);
	} else {
		snprintf(ur->ur_chost, sizeof(ur->ur_chost), "%s", host);
		ur->ur_cport = port;
		/* Only when the environment names a proxy; not for
		 * loopback, a --resolve mapping or .invalid. */
		if (cf->cf_env_proxy[0] != '\0' && !parent_bypass(NULL, host) &&
		    config_resolve(cf, host, port) == NULL &&
		    !reserved_invalid(host))
			snprintf(ur->ur_env_proxy, sizeof(ur->ur_env_proxy),
			    "%s", cf->cf_env_proxy);
		snprintf(ur->ur_name, sizeof(ur->ur_name), "%s%s%s:%u",
		    strchr(host, ':') ? "[" : "", host,
		    strchr(host, ':') ? "]" : "", port);
	}
	ur->ur_timeout.tv_sec = cf->cf_to_connect_ms / 1000;
	ur->ur_timeout.tv_usec = (cf->cf_to_connect_ms % 1000) * 1000;
	ur->ur_defer = event_new(up->up_base, -1, 0, defer_cb, ur);
	if (ur->ur_defer == NULL) {
		config_unref(ur->ur_cf);
		free(ur);
		return NULL;
	}
	host = ur->ur_chost;
	port = ur->ur_cport;
	if ((rv = config_resolve(cf, host, port)) != NULL) {
		add_addr(ur, (const struct sockaddr *)&rv->rv_addr,
		    rv->rv_addrlen);
		try_next(ur);
		return ur;
	}
	if (literal_addr(ur)) {
		try_next(ur);
		return ur;
	}
	if (reserved_invalid(host)) {
		snprintf(ur->ur_detail, sizeof(ur->ur_detail),
		    "cannot resolve %s: names under .invalid never exist "
		    "(RFC 6761)", host);
		finish(ur, UPSTREAM_DNS);
		return ur;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	r = evdns_getaddrinfo(up->up_dns, host, NULL, &hints, dns_cb, ur);
	/* NULL means the answer came at once and dns_cb already ran. */
	ur->ur_dns = r;
	return ur;
}

static struct pool_key *
pool_find(struct upstream *up, const char *host, uint16_t port, int tls)
{
	struct pool_key	*pk;

	TAILQ_FOREACH(pk, &up->up_keys, pk_entry)
		if (pk->pk_port == port && pk->pk_tls == tls &&
		    strcasecmp(pk->pk_host, host) == 0)
			return pk;
	return NULL;
}

/* An idle connection that speaks or closes is no longer reusable. */
static void
pool_read_cb(struct bufferevent *bev, void *arg)
{
	struct pooled	*pl = arg;

	pooled_free(pl->pl_up, pl);
}

static void
pool_event_cb(struct bufferevent *bev, short what, void *arg)
{
	pool_read_cb(bev, arg);
}

/*
 * Whether an idle connection is still open as far as the socket can tell
 * without blocking: nothing buffered, and no EOF, data (a TLS close_notify
 * is data here) or error waiting. The pool's read callback would find the
 * same on the next loop pass; this closes the window before it.
 */
static int
pooled_alive(const struct pooled *pl)
{
	evutil_socket_t	fd = bufferevent_getfd(pl->pl_bev);
	char		c;
	ssize_t		n;

	if (evbuffer_get_length(bufferevent_get_input(pl->pl_bev)) > 0)
		return 0;
	if (fd < 0)
		return 1;
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

struct bufferevent *
upstream_pool_take(struct upstream *up, const char *host, uint16_t port,
    int tls)
{
	struct pool_key		*pk = pool_find(up, host, port, tls);
	struct pooled		*pl;
	struct bufferevent	*bev;

	/* Skip connections the origin closed since the loop last looked:
	 * a request sent on one is lost, and only idempotent ones may be
	 * sent again (RFC 9110 section 9.2.2). */
	while (pk != NULL && !pooled_alive(TAILQ_FIRST(&pk->pk_idle))) {
		pooled_free(up, TAILQ_FIRST(&pk->pk_idle));
		pk = pool_find(up, host, port, tls);
	}
	if (pk == NULL)
		return NULL;
	pl = TAILQ_FIRST(&pk->pk_idle);
	bev = pl->pl_bev;
	pl->pl_bev = NULL;
	/* Timeouts, watermarks and enabled events stay as the first user
	 * set them: re-arming events costs more than a small request. */
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	TAILQ_REMOVE(&pk->pk_idle, pl, pl_entry);
	pk->pk_n--;
	up->up_pooled--;
	free(pl);
	if (pk->pk_n == 0) {
		TAILQ_REMOVE(&up->up_keys, pk, pk_entry);
		free(pk);
	}
	return bev;
}

void
upstream_pool_put(struct upstream *up, const char *host, uint16_t port,
    int tls, struct bufferevent *bev)
{
	struct pool_key	*pk = pool_find(up, host, port, tls);
	struct pooled	*pl;
	size_t		 hl = strlen(host);

	if (up->up_pooled >= POOL_MAX || (pk != NULL &&
	    pk->pk_n >= POOL_MAX_PER_KEY) ||
	    evbuffer_get_length(bufferevent_get_input(bev)) > 0) {
		bufferevent_free(bev);
		return;
	}
	if (pk == NULL) {
		pk = xcalloc(1, sizeof(*pk) + hl + 1);
		memcpy(pk->pk_host, host, hl + 1);
		pk->pk_port = port;
		pk->pk_tls = tls;
		TAILQ_INIT(&pk->pk_idle);
		TAILQ_INSERT_HEAD(&up->up_keys, pk, pk_entry);
	}
	pl = xcalloc(1, sizeof(*pl));
	pl->pl_up = up;
	pl->pl_key = pk;
	pl->pl_bev = bev;
	TAILQ_INSERT_HEAD(&pk->pk_idle, pl, pl_entry);
	pk->pk_n++;
	up->up_pooled++;
	/* Reading stays enabled, so a close or stray bytes free it; its
	 * read timeout (timeouts.idle) ends an idle connection. */
	if (!(bufferevent_get_enabled(bev) & EV_READ))
		bufferevent_enable(bev, EV_READ);
	bufferevent_setcb(bev, pool_read_cb, NULL, pool_event_cb, pl);
}

unsigned
upstream_pool_size(const struct upstream *up)
{
	return up->up_pooled;
}
