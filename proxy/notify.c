#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "notify.h"
#include "oauthlens.h"

int
notify_listen_fds(void)
{
	int	n = sd_listen_fds(1);

	return n > 0 ? n : 0;
}

int
notify_listen_fd_start(void)
{
	return SD_LISTEN_FDS_START;
}

static void
status_line(struct proxy *px, char *buf, size_t len)
{
	const struct stats	*st = &px->px_stats;
	struct listener		*l;
	size_t			 o;

	o = (size_t)snprintf(buf, len, "listening on");
	TAILQ_FOREACH(l, &px->px_listeners, l_entry)
		if (o < len)
			o += (size_t)snprintf(buf + o, len - o, " %s",
			    l->l_name);
	if (o < len)
		snprintf(buf + o, len - o, "; %llu requests, %llu errors "
		    "annotated, %u connections",
		    (unsigned long long)stats_get(st, STAT_REQUESTS),
		    (unsigned long long)stats_get(st, STAT_ANNOTATED),
		    px->px_nconns);
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy	*px = arg;

	/* Sent from the event loop: a stuck loop stops the pings. */
	sd_notify(0, "WATCHDOG=1");
	notify_status(px);
}

int
notify_start(struct proxy *px)
{
	uint64_t	usec = 0;
	struct timeval	tv;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	px->px_watchdog = event_new(px->px_base, -1, EV_PERSIST, watchdog_cb,
	    px);
	if (px->px_watchdog == NULL)
		return -1;
	return event_add(px->px_watchdog, &tv);
}

void
notify_ready(struct proxy *px)
{
	char	buf[512];

	status_line(px, buf, sizeof(buf));
	sd_notifyf(0, "READY=1\nSTATUS=%s", buf);
}

void
notify_reloading(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000 +
	    (unsigned long long)ts.tv_nsec / 1000);
}

void
notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void
notify_status(struct proxy *px)
{
	char	buf[512];

	status_line(px, buf, sizeof(buf));
	sd_notifyf(0, "STATUS=%s", buf);
}

void
notify_stop(struct proxy *px)
{
	if (px->px_watchdog != NULL)
		event_free(px->px_watchdog);
	px->px_watchdog = NULL;
}
