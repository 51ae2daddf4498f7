/*
 * A byte tunnel: after a CONNECT that is not intercepted, or a 101
 * Switching Protocols, bytes move both ways untouched, each direction with
 * the same backpressure as bodies. Either side closing ends it once what
 * the other side still has to receive has left.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "transport.h"
#include "config.h"
#include "oauthlens.h"
#include "util.h"

void
tunnel_begin(struct conn *c)
{
	struct timeval	tv = { c->c_cfg->cf_to_idle_ms / 1000,
			    (c->c_cfg->cf_to_idle_ms % 1000) * 1000 };

	c->c_state = CS_TUNNEL;
	stats_add(c->c_stats, STAT_TUNNELS, 1);
	c->c_last_ms = util_now_ms();
	bufferevent_set_timeouts(c->c_cbev, &tv, &tv);
	bufferevent_set_timeouts(c->c_ubev, &tv, &tv);
	bufferevent_enable(c->c_cbev, EV_READ);
	bufferevent_enable(c->c_ubev, EV_READ);
}

void
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

int
tunnel_active(const struct conn *c)
{
	return c->c_state == CS_TUNNEL &&
	    util_now_ms() - c->c_last_ms < c->c_cfg->cf_to_idle_ms;
}

void
tunnel_client_eof(struct conn *c)
{
	tunnel_pump(c, c->c_cbev, c->c_ubev);
	bufferevent_free(c->c_cbev);
	c->c_cbev = NULL;
	c->c_state = CS_FLUSH_UP;
	bufferevent_setwatermark(c->c_ubev, EV_WRITE, 0, 0);
	bufferevent_disable(c->c_ubev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->c_ubev)) == 0)
		transport_want(c, CN_CLOSE, "tunnel closed by client");
}

void
tunnel_up_event(struct conn *c, short what)
{
	if ((what & BEV_EVENT_TIMEOUT) && tunnel_active(c)) {
		bufferevent_enable(c->c_ubev, EV_READ);
		return;
	}
	if (c->c_state == CS_TUNNEL && (what & BEV_EVENT_EOF)) {
		/* Deliver what the origin sent, then close. */
		tunnel_pump(c, c->c_ubev, c->c_cbev);
		evbuffer_add_buffer(bufferevent_get_output(c->c_cbev),
		    bufferevent_get_input(c->c_ubev));
		transport_want(c, CN_FINISH, NULL);
		return;
	}
	transport_want(c, CN_CLOSE, what & BEV_EVENT_TIMEOUT ? "tunnel idle" :
	    "tunnel closed by origin");
}
