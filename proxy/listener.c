#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "conn.h"
#include "listener.h"
#include "log.h"
#include "oauthlens.h"
#include "util.h"

#define ACCEPT_BACKOFF_MS	250

static void
accept_cb(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa,
    int socklen, void *arg)
{
	struct listener	*l = arg;
	struct proxy	*px = l->l_px;
	int		 reject = 0;

	if (px->px_draining) {
		evutil_closesocket(fd);
		return;
	}
	if (!config_allowed(px->px_cfg, sa))
		reject = 403;
	else if (px->px_nconns >= px->px_cfg->cf_max_connections)
		reject = 503;
	conn_accept(px, fd, sa, socklen, reject);
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy	*px = arg;
	struct listener	*l;

	TAILQ_FOREACH(l, &px->px_listeners, l_entry)
		evconnlistener_enable(l->l_ev);
}

/* Out of descriptors: pause accepting for a moment instead of spinning
 * on a listening socket that stays readable. */
static void
accept_error_cb(struct evconnlistener *ev, void *arg)
{
	struct listener	*l = arg;
	struct proxy	*px = l->l_px;
	struct listener	*it;
	struct timeval	 tv = { 0, ACCEPT_BACKOFF_MS * 1000 };
	int		 err = EVUTIL_SOCKET_ERROR();

	log_warnx("accept on %s failed: %s; pausing accepts for %d ms",
	    l->l_name, strerror(err), ACCEPT_BACKOFF_MS);
	TAILQ_FOREACH(it, &px->px_listeners, l_entry)
		evconnlistener_disable(it->l_ev);
	if (px->px_accept_timer == NULL)
		px->px_accept_timer = evtimer_new(px->px_base, resume_cb, px);
	if (px->px_accept_timer != NULL)
		evtimer_add(px->px_accept_timer, &tv);
}

static int
is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr)
		    >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(
	    &((const struct sockaddr_in6 *)sa)->sin6_addr);
}

int
listener_open(struct proxy *px, const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	int			 sslen = sizeof(ss);
	struct listener		*l;

	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss,
	    &sslen) == -1) {
		snprintf(err, errlen, "listen %s: not an IP address and port",
		    addr);
		return -1;
	}
	l = xcalloc(1, sizeof(*l));
	l->l_px = px;
	snprintf(l->l_name, sizeof(l->l_name), "%s", addr);
	l->l_ev = evconnlistener_new_bind(px->px_base, accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    1024, (struct sockaddr *)&ss, sslen);
	if (l->l_ev == NULL) {
		snprintf(err, errlen, "listen %s: %s", addr,
		    strerror(errno));
		free(l);
		return -1;
	}
	evconnlistener_set_error_cb(l->l_ev, accept_error_cb);
	TAILQ_INSERT_TAIL(&px->px_listeners, l, l_entry);
	if (!is_loopback((struct sockaddr *)&ss))
		log_warnx("listening on %s, which is not a loopback address: "
		    "anyone allowed by \"allow\" can use this proxy to reach "
		    "your network", addr);
	return 0;
}

int
listener_adopt(struct proxy *px, int fd, char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	struct listener		*l;

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1) {
		snprintf(err, errlen, "passed socket %d: %s", fd,
		    strerror(errno));
		return -1;
	}
	evutil_make_socket_nonblocking(fd);
	l = xcalloc(1, sizeof(*l));
	l->l_px = px;
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
		util_sockaddr_str((struct sockaddr *)&ss, l->l_name,
		    sizeof(l->l_name));
	else
		snprintf(l->l_name, sizeof(l->l_name), "fd %d", fd);
	l->l_ev = evconnlistener_new(px->px_base, accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (l->l_ev == NULL) {
		snprintf(err, errlen, "passed socket %d: cannot listen", fd);
		free(l);
		return -1;
	}
	evconnlistener_set_error_cb(l->l_ev, accept_error_cb);
	TAILQ_INSERT_TAIL(&px->px_listeners, l, l_entry);
	return 0;
}

void
listener_close_all(struct proxy *px)
{
	struct listener	*l;

	while ((l = TAILQ_FIRST(&px->px_listeners)) != NULL) {
		TAILQ_REMOVE(&px->px_listeners, l, l_entry);
		evconnlistener_free(l->l_ev);
		free(l);
	}
}
