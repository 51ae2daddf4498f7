#include <sys/ioctl.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bevio.h"

/*
 * libevent 2.1 reads a socket at most EVBUFFER_MAX_READ (4 KiB) at a time,
 * and each read is followed by a write to the peer: a 1 MiB body took 256
 * reads and 256 small writes. When a read came back full, take what else
 * the socket already holds, up to the input's high-water mark. Only bytes
 * that FIONREAD reports are read, so an EOF or an error is left for
 * libevent to find on its next read, as before.
 */
#define LIBEVENT_MAX_READ	4096

void
bevio_read_more(struct bufferevent *bev, size_t high)
{
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_iovec	 v[2];
	struct iovec		 iov[2];
	size_t			 len = evbuffer_get_length(in), want, room;
	ssize_t			 n;
	int			 avail, nv, i;
	evutil_socket_t		 fd;

	if (len < LIBEVENT_MAX_READ || len >= high ||
	    bufferevent_openssl_get_ssl(bev) != NULL)
		return;
	fd = bufferevent_getfd(bev);
	if (fd < 0 || ioctl(fd, FIONREAD, &avail) == -1 || avail <= 0)
		return;
	want = high - len;
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
		/* none when it failed */
		evbuffer_commit_space(in, v, i);
	evbuffer_freeze(in, 0);
}

/*
 * Write what a plain socket's output holds right away, instead of arming
 * EV_WRITE and waiting for epoll to say what a fresh loopback socket
 * always says: two epoll_ctl calls per response saved.
 */
static int
plain_write_now(struct bufferevent *bev)
{
	struct evbuffer	*out = bufferevent_get_output(bev);
	size_t		 before = evbuffer_get_length(out), low, high;
	int		 n;

	if (before == 0)
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
 * output is empty, the caller takes the writes back.
 */
static int
tls_write_now(struct bufferevent *bev, SSL *ssl)
{
	struct evbuffer		*out = bufferevent_get_output(bev);
	struct evbuffer_iovec	 v[8];
	size_t			 done = 0, low, high;
	int			 n, i, r;

	if ((bufferevent_get_enabled(bev) & EV_WRITE) ||
	    evbuffer_get_length(out) == 0 || !SSL_is_init_finished(ssl))
		return 0;
	n = evbuffer_peek(out, -1, NULL, v, 8);
	for (i = 0; i < n && i < 8; i++) {
		if (v[i].iov_len == 0)
			continue;
		r = SSL_write(ssl, v[i].iov_base, (int)v[i].iov_len);
		if (r <= 0) {
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

int
bevio_write_now(struct bufferevent *bev)
{
	SSL	*ssl = bufferevent_openssl_get_ssl(bev);

	return ssl != NULL ? tls_write_now(bev, ssl) : plain_write_now(bev);
}
