/*
 * connload: a load client for a forward proxy's CONNECT tunnels, built by
 * scripts/bench.sh (wrk cannot send CONNECT).  One thread, epoll, every
 * socket TCP_NODELAY.  The origin behind the tunnel is HTTP/1.1 (plain, or
 * TLS in the tls modes) that answers with a Content-Length (nginx serving a
 * static file).
 *
 * Modes:
 *   ka       open -c tunnels (CONNECT host:port, wait for 200); once all are
 *            up, run keep-alive GETs inside each, one outstanding per
 *            tunnel, for -d seconds; report requests/s and latency.
 *   new      -c workers, each: connect, CONNECT, wait for 200, one GET,
 *            read the response, close; repeat for -d seconds; report new
 *            tunnels/s.
 *   idleconn open -c client connections that send nothing.
 *   idletun  open -c established tunnels that send nothing.
 *   tlska    as ka, with a TLS session inside each tunnel: the keep-alive
 *            GETs go over TLS (an intercepting proxy's minted certificate).
 *   tlsnew   as new, with a full TLS handshake (the client never resumes a
 *            session) between the CONNECT answer and the GET.
 * The tls modes verify the server's certificate against the CA file -C
 * and the name -n (default: the target's host), sent as SNI; ALPN offers
 * http/1.1.  A handshake that fails counts as an error; the first few
 * failures are described on stderr.
 * The idle modes print "ready N" once every connection is up, then hold
 * them until -d seconds have passed or SIGTERM.  -D skips the CONNECT and
 * talks to the target directly (the baseline); the target must then be an
 * IPv4 address, while through a proxy it may be any host name.
 *
 * Output: one line of key=value pairs on stdout; exit 0, or 1 when nothing
 * was measured.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define CL_HEAD_MAX	 8192		/* response head we accept */
#define CL_PENDING_MAX	 64		/* connects in flight at once */
#define CL_SETUP_SECS	 30		/* bound on opening connections */
#define CL_BUCKET_US	 10		/* latency histogram resolution */
#define CL_BUCKETS	 200000		/* 10 us x 200k = 2 s, then overflow */
#define CL_TLS_REPORTS	 3		/* handshake failures described */

enum cl_mode { M_KA, M_NEW, M_IDLECONN, M_IDLETUN };

enum cl_state {
	S_FREE,		/* slot unused */
	S_CONNECTING,	/* TCP connect in progress */
	S_TUNNEL,	/* CONNECT sent, waiting for the proxy's answer */
	S_HANDSHAKE,	/* TLS handshake in progress (tls modes) */
	S_READY,	/* up and quiet (idle modes, ka before the start) */
	S_REQUEST,	/* GET sent, reading the response */
};

struct cl_conn {
	int		 c_fd;
	enum cl_state	 c_state;
	SSL		*c_ssl;		/* owned; tls modes, once the stream is up */
	size_t		 c_hlen;	/* bytes in c_head */
	long long	 c_body_left;	/* -1 while reading the head */
	uint64_t	 c_t0;		/* request (new: cycle) start, ns */
	uint32_t	 c_events;	/* what epoll watches for */
	const char	*c_out;		/* borrowed: bytes still to write */
	size_t		 c_outlen;
	char		 c_head[CL_HEAD_MAX];
};

struct cl_ctx {
	enum cl_mode	  x_mode;
	int		  x_direct;
	int		  x_tls;	/* tlska, tlsnew */
	int		  x_epfd;
	SSL_CTX		 *x_sslctx;	/* owned; tls modes */
	const char	 *x_name;	/* borrowed: name verified, SNI */
	int		  x_name_is_ip;
	int		  x_tls_reports;	/* failures described so far */
	struct sockaddr_in x_addr;	/* where we connect */
	int		  x_nconns;
	double		  x_secs;
	struct cl_conn	 *x_conns;	/* owned, x_nconns */
	int		  x_pending;	/* connects and CONNECTs in flight */
	int		  x_ready;	/* idle/ka: connections up */
	int		  x_running;	/* measuring */
	uint64_t	  x_start, x_end;
	uint64_t	  x_done;	/* requests (ka) or cycles (new) */
	uint64_t	  x_backoff;	/* no new connects before this, ns */
	uint64_t	  x_errors;
	uint64_t	  x_connect_errors;
	uint32_t	 *x_hist;	/* owned, CL_BUCKETS + 1 */
	char		  x_connect[512];	/* CONNECT request */
	char		  x_get[512];		/* GET request */
	char		  x_scratch[65536];
};

static volatile sig_atomic_t cl_stop;

static void
cl_on_signal(int sig)
{
	(void)sig;
	cl_stop = 1;
}

static uint64_t
cl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
cl_usage(void)
{
	fprintf(stderr, "usage: connload -m ka|new|idleconn|idletun|tlska|"
	    "tlsnew -p proxy_ip:port -t host:port [-u path] [-c conns] "
	    "[-d secs] [-D] [-C cafile] [-n name]\n");
	exit(2);
}

static int
cl_parse_addr(const char *s, struct sockaddr_in *sin)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, colon - s);
	host[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		return -1;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
}

static void
cl_watch(struct cl_ctx *x, struct cl_conn *c, uint32_t events, int op)
{
	struct epoll_event ev;

	if (op == EPOLL_CTL_MOD && c->c_events == events)
		return;
	c->c_events = events;
	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(x->x_epfd, op, c->c_fd, &ev) == -1) {
		perror("connload: epoll_ctl");
		exit(1);
	}
}

static void
cl_close(struct cl_ctx *x, struct cl_conn *c)
{
	if (c->c_state == S_CONNECTING || c->c_state == S_TUNNEL ||
	    c->c_state == S_HANDSHAKE)
		x->x_pending--;
	if (x->x_mode != M_NEW &&
	    (c->c_state == S_READY || c->c_state == S_REQUEST))
		x->x_ready--;
	SSL_free(c->c_ssl);
	c->c_ssl = NULL;
	close(c->c_fd);	/* also drops it from the epoll set */
	c->c_fd = -1;
	c->c_state = S_FREE;
}

/* Opens one connection in slot c; 0, or -1 when the connect failed. */
static int
cl_open(struct cl_ctx *x, struct cl_conn *c)
{
	int one = 1;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		perror("connload: socket");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&x->x_addr, sizeof(x->x_addr))
	    == -1 && errno != EINPROGRESS) {
		close(fd);
		x->x_connect_errors++;
		x->x_backoff = cl_now() + 10000000;
		return -1;
	}
	c->c_fd = fd;
	c->c_state = S_CONNECTING;
	c->c_hlen = 0;
	c->c_body_left = -1;
	c->c_out = NULL;
	c->c_outlen = 0;
	if (x->x_mode == M_NEW)
		c->c_t0 = cl_now();
	x->x_pending++;
	cl_watch(x, c, EPOLLOUT, EPOLL_CTL_ADD);
	return 0;
}

/* Opens free slots, at most CL_PENDING_MAX connects in flight. */
static void
cl_fill(struct cl_ctx *x)
{
	int i;

	if (cl_stop || (x->x_running && cl_now() >= x->x_end))
		return;
	if (cl_now() < x->x_backoff)
		return;	/* after a failed connect: do not spin */
	if (x->x_running &&
	    (x->x_mode == M_IDLECONN || x->x_mode == M_IDLETUN))
		return;	/* holding: a dropped connection stays dropped */
	for (i = 0; i < x->x_nconns && x->x_pending < CL_PENDING_MAX; i++) {
		if (x->x_conns[i].c_state != S_FREE)
			continue;
		if (cl_open(x, &x->x_conns[i]) == -1)
			return;	/* out of ports or fds: next tick */
	}
}

/* Says why c's TLS failed (the first few times, while it matters). */
static void
cl_tls_fail(struct cl_ctx *x, struct cl_conn *c, const char *what, int err)
{
	char buf[256];
	unsigned long e = ERR_peek_error();
	long vr = SSL_get_verify_result(c->c_ssl);

	if (x->x_tls_reports < CL_TLS_REPORTS &&
	    (!x->x_running || cl_now() < x->x_end)) {
		x->x_tls_reports++;
		if (e != 0)
			ERR_error_string_n(e, buf, sizeof(buf));
		else if (err == SSL_ERROR_SYSCALL)
			snprintf(buf, sizeof(buf), "%s", errno != 0 ?
			    strerror(errno) : "connection closed by the peer");
		else
			snprintf(buf, sizeof(buf), "SSL error %d", err);
		fprintf(stderr, "connload: TLS %s failed: %s%s%s\n", what, buf,
		    vr != X509_V_OK ? "; certificate: " : "",
		    vr != X509_V_OK ? X509_verify_cert_error_string(vr) : "");
	}
	ERR_clear_error();
}

/*
 * After an SSL_* call on c returned err: -1 with errno EAGAIN when it must
 * wait (watching what it waits for), 0 for a clean close, else -1.
 */
static ssize_t
cl_tls_wait(struct cl_ctx *x, struct cl_conn *c, int err, const char *what)
{
	switch (err) {
	case SSL_ERROR_WANT_READ:
		/* a write waiting for a read is retried on EPOLLIN too */
		cl_watch(x, c, EPOLLIN, EPOLL_CTL_MOD);
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		cl_watch(x, c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		cl_tls_fail(x, c, what, err);
		errno = EPROTO;
		return -1;
	}
}

/* read(2) on c, through its TLS session when it has one. */
static ssize_t
cl_io_read(struct cl_ctx *x, struct cl_conn *c, void *buf, size_t len)
{
	int n;

	if (c->c_ssl == NULL)
		return read(c->c_fd, buf, len);
	ERR_clear_error();
	n = SSL_read(c->c_ssl, buf, (int)len);
	if (n > 0)
		return n;
	return cl_tls_wait(x, c, SSL_get_error(c->c_ssl, n), "read");
}

/* write(2) on c, through TLS when it has it; on EAGAIN, watches for it. */
static ssize_t
cl_io_write(struct cl_ctx *x, struct cl_conn *c, const void *buf,
    size_t len)
{
	ssize_t n;
	int r;

	if (c->c_ssl == NULL) {
		n = write(c->c_fd, buf, len);
		if (n == -1 && errno == EAGAIN)
			cl_watch(x, c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
		return n;
	}
	ERR_clear_error();
	r = SSL_write(c->c_ssl, buf, (int)len);
	if (r > 0)
		return r;
	n = cl_tls_wait(x, c, SSL_get_error(c->c_ssl, r), "write");
	return n == 0 ? -1 : n;
}

/* Writes what is queued on c; 0, or -1 on a dead connection. */
static int
cl_flush(struct cl_ctx *x, struct cl_conn *c)
{
	ssize_t n;

	while (c->c_outlen > 0) {
		n = cl_io_write(x, c, c->c_out, c->c_outlen);
		if (n == -1 && errno == EAGAIN)
			return 0;	/* watching for what it waits for */
		if (n <= 0)
			return -1;
		c->c_out += n;
		c->c_outlen -= (size_t)n;
	}
	cl_watch(x, c, EPOLLIN, EPOLL_CTL_MOD);
	return 0;
}

static int
cl_send(struct cl_ctx *x, struct cl_conn *c, const char *req)
{
	c->c_out = req;
	c->c_outlen = strlen(req);
	c->c_hlen = 0;
	c->c_body_left = -1;
	return cl_flush(x, c);
}

static int
cl_send_get(struct cl_ctx *x, struct cl_conn *c)
{
	c->c_state = S_REQUEST;
	if (x->x_mode == M_KA)
		c->c_t0 = cl_now();
	return cl_send(x, c, x->x_get);
}

/* c talks to the origin (through the tunnel, over TLS if asked). */
static int
cl_stream_ready(struct cl_ctx *x, struct cl_conn *c)
{
	x->x_pending--;
	if (x->x_mode == M_NEW)
		return cl_send_get(x, c);
	c->c_state = S_READY;
	x->x_ready++;
	cl_watch(x, c, EPOLLIN, EPOLL_CTL_MOD);
	if (x->x_mode == M_KA && x->x_running)
		return cl_send_get(x, c);
	return 0;
}

/* Drives c's TLS handshake; 0 (done, or waiting), -1 when it failed. */
static int
cl_handshake(struct cl_ctx *x, struct cl_conn *c)
{
	int n;

	ERR_clear_error();
	n = SSL_connect(c->c_ssl);
	if (n == 1)
		return cl_stream_ready(x, c);
	return cl_tls_wait(x, c, SSL_get_error(c->c_ssl, n), "handshake")
	    == -1 && errno == EAGAIN ? 0 : -1;
}

/*
 * The byte stream to the origin is up on c: starts TLS in the tls modes
 * (a fresh session: never resumed), else c is ready.
 */
static int
cl_stream_up(struct cl_ctx *x, struct cl_conn *c)
{
	SSL *ssl;

	if (!x->x_tls)
		return cl_stream_ready(x, c);
	if ((ssl = SSL_new(x->x_sslctx)) == NULL ||
	    SSL_set_fd(ssl, c->c_fd) != 1) {
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	c->c_ssl = ssl;
	if (x->x_name_is_ip)
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), x->x_name);
	else if (SSL_set_tlsext_host_name(ssl, x->x_name) != 1 ||
	    SSL_set1_host(ssl, x->x_name) != 1) {
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	c->c_state = S_HANDSHAKE;
	c->c_hlen = 0;
	c->c_body_left = -1;
	return cl_handshake(x, c);
}

/*
 * Parses a complete response head: the status code, and the Content-Length
 * (-1 when there is none).  -1 when the head is not HTTP.
 */
static int
cl_parse_head(const char *h, size_t len, int *status, long long *clen)
{
	const char *p = h, *end = h + len, *eol;
	char num[24];
	size_t n;

	if (len < 12 || strncmp(h, "HTTP/1.", 7) != 0)
		return -1;
	*status = atoi(h + 9);
	*clen = -1;
	while ((eol = memchr(p, '\n', end - p)) != NULL) {
		p = eol + 1;
		if (end - p > 15 && strncasecmp(p, "content-length:", 15) == 0) {
			eol = memchr(p, '\n', end - p);
			if (eol == NULL ||
			    (n = (size_t)(eol - (p + 15))) >= sizeof(num))
				return -1;
			memcpy(num, p + 15, n);
			num[n] = '\0';
			*clen = strtoll(num, NULL, 10);
		}
	}
	return 0;
}

static void
cl_record(struct cl_ctx *x, uint64_t t0)
{
	uint64_t us = (cl_now() - t0) / 1000;
	uint64_t b = us / CL_BUCKET_US;

	x->x_hist[b < CL_BUCKETS ? b : CL_BUCKETS]++;
}

/* A response (or the CONNECT answer) is complete on c. */
static int
cl_complete(struct cl_ctx *x, struct cl_conn *c)
{
	uint64_t now = cl_now();

	if (c->c_state == S_TUNNEL)
		return cl_stream_up(x, c);
	if (x->x_running && now < x->x_end) {
		x->x_done++;
		cl_record(x, c->c_t0);
	}
	if (x->x_mode == M_NEW) {
		if (c->c_ssl != NULL) {	/* close_notify, as clients do */
			ERR_clear_error();
			SSL_shutdown(c->c_ssl);
			ERR_clear_error();
		}
		cl_close(x, c);
		return 0;
	}
	if (now >= x->x_end)
		return 0;
	return cl_send_get(x, c);
}

/* Consumes what arrived on c; 0, or -1 when the connection must go. */
static int
cl_read(struct cl_ctx *x, struct cl_conn *c)
{
	char *sep;
	size_t extra;
	long long clen;
	ssize_t n;
	int status;

	for (;;) {
		if (c->c_body_left >= 0) {
			n = cl_io_read(x, c, x->x_scratch,
			    sizeof(x->x_scratch));
			if (n > 0 && n > c->c_body_left)
				return -1;	/* bytes nobody asked for */
			if (n > 0)
				c->c_body_left -= n;
		} else {
			if (c->c_hlen == sizeof(c->c_head) - 1)
				return -1;
			n = cl_io_read(x, c, c->c_head + c->c_hlen,
			    sizeof(c->c_head) - 1 - c->c_hlen);
			if (n > 0) {
				c->c_hlen += (size_t)n;
				c->c_head[c->c_hlen] = '\0';
			}
		}
		if (n == 0)
			return -1;
		if (n == -1)
			return errno == EAGAIN ? 0 : -1;
		if (c->c_body_left < 0) {
			sep = strstr(c->c_head, "\r\n\r\n");
			if (sep == NULL)
				continue;
			if (cl_parse_head(c->c_head, sep + 4 - c->c_head,
			    &status, &clen) == -1 || status != 200)
				return -1;
			if (c->c_state == S_TUNNEL)
				clen = 0;	/* a 2xx to CONNECT has no body */
			if (clen < 0)
				return -1;
			extra = c->c_hlen - (size_t)(sep + 4 - c->c_head);
			if ((long long)extra > clen)
				return -1;
			c->c_body_left = clen - (long long)extra;
		}
		if (c->c_body_left == 0 && cl_complete(x, c) == -1)
			return -1;
		if (c->c_state == S_FREE || c->c_state == S_READY ||
		    c->c_state == S_HANDSHAKE)
			return 0;
	}
}

/* The TCP connect on c finished; -2 when it failed (counted here). */
static int
cl_connected(struct cl_ctx *x, struct cl_conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	getsockopt(c->c_fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err != 0) {
		x->x_connect_errors++;
		x->x_backoff = cl_now() + 10000000;
		return -2;	/* counted already */
	}
	if (!x->x_direct && x->x_mode != M_IDLECONN) {
		c->c_state = S_TUNNEL;
		return cl_send(x, c, x->x_connect);
	}
	return cl_stream_up(x, c);
}

static void
cl_event(struct cl_ctx *x, struct cl_conn *c, uint32_t ev)
{
	int rv = 0;

	if (c->c_state == S_CONNECTING)
		rv = cl_connected(x, c);
	else if (c->c_state == S_HANDSHAKE)
		rv = cl_handshake(x, c);
	else if (c->c_outlen > 0 && ((ev & EPOLLOUT) || c->c_ssl != NULL))
		rv = cl_flush(x, c);	/* TLS: a write may wait for a read */
	/* TLS: a read may wait for a write */
	if (rv == 0 && c->c_state != S_CONNECTING && c->c_state != S_FREE &&
	    c->c_state != S_HANDSHAKE && ((ev & (EPOLLIN | EPOLLHUP |
	    EPOLLERR)) || (c->c_ssl != NULL && c->c_outlen == 0)))
		rv = cl_read(x, c);
	if (rv < 0) {
		if (rv == -1 && (!x->x_running || cl_now() < x->x_end))
			x->x_errors++;
		cl_close(x, c);
	}
}

static void
cl_loop_once(struct cl_ctx *x, int ms)
{
	struct epoll_event evs[256];
	int i, n;

	n = epoll_wait(x->x_epfd, evs, 256, ms);
	for (i = 0; i < n; i++)
		cl_event(x, evs[i].data.ptr, evs[i].events);
	cl_fill(x);
}

static uint64_t
cl_percentile(struct cl_ctx *x, double p)
{
	uint64_t total = 0, want, acc = 0;
	uint32_t b;

	for (b = 0; b <= CL_BUCKETS; b++)
		total += x->x_hist[b];
	if (total == 0)
		return 0;
	want = (uint64_t)(p / 100.0 * (double)total);
	if (want == 0)
		want = 1;
	for (b = 0; b <= CL_BUCKETS; b++) {
		acc += x->x_hist[b];
		if (acc >= want)
			break;
	}
	return (uint64_t)(b + 1) * CL_BUCKET_US;
}

/* Opens every connection (the setup phase); the count that came up. */
static int
cl_setup(struct cl_ctx *x)
{
	uint64_t limit = cl_now() + (uint64_t)CL_SETUP_SECS * 1000000000u;

	cl_fill(x);
	while (!cl_stop && x->x_ready < x->x_nconns && cl_now() < limit)
		cl_loop_once(x, 10);
	return x->x_ready;
}

static void
cl_measure(struct cl_ctx *x)
{
	int i;

	x->x_start = cl_now();
	x->x_end = x->x_start + (uint64_t)(x->x_secs * 1e9);
	x->x_running = 1;
	if (x->x_mode == M_KA) {
		for (i = 0; i < x->x_nconns; i++)
			if (x->x_conns[i].c_state == S_READY &&
			    cl_send_get(x, &x->x_conns[i]) == -1) {
				x->x_errors++;
				cl_close(x, &x->x_conns[i]);
			}
	}
	cl_fill(x);
	while (!cl_stop && cl_now() < x->x_end)
		cl_loop_once(x, 10);
}

static void
cl_hold(struct cl_ctx *x, int up)
{
	uint64_t end = cl_now() + (uint64_t)(x->x_secs * 1e9);

	printf("ready %d failed %d\n", up, x->x_nconns - up);
	fflush(stdout);
	x->x_running = 1;
	x->x_end = end;
	while (!cl_stop && cl_now() < end)
		cl_loop_once(x, 100);
}

/* The client side of TLS: verifies the server against cafile only. */
static SSL_CTX *
cl_tls_ctx(const char *cafile)
{
	static const unsigned char alpn[] = "\x08http/1.1";
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1 ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1) != 0) {
		fprintf(stderr, "connload: TLS setup with CA file %s:\n",
		    cafile);
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* every handshake is a full one: nothing kept to resume */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

static void
cl_init(struct cl_ctx *x, const char *target, const char *path,
    const char *host)
{
	snprintf(x->x_connect, sizeof(x->x_connect),
	    "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target);
	snprintf(x->x_get, sizeof(x->x_get),
	    "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: connload\r\n\r\n",
	    path, host);
	x->x_conns = calloc((size_t)x->x_nconns, sizeof(*x->x_conns));
	x->x_hist = calloc(CL_BUCKETS + 1, sizeof(*x->x_hist));
	x->x_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (x->x_conns == NULL || x->x_hist == NULL || x->x_epfd == -1) {
		perror("connload");
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	static struct cl_ctx ctx;
	struct cl_ctx *x = &ctx;
	const char *proxy = NULL, *target = NULL, *path = "/small", *mode;
	const char *cafile = NULL, *name = NULL, *colon;
	char host[300], namebuf[256];
	unsigned char ip[16];
	double secs;
	int ch, up;

	mode = "ka";
	x->x_nconns = 50;
	x->x_secs = 5;
	while ((ch = getopt(argc, argv, "m:p:t:u:c:d:DC:n:")) != -1) {
		switch (ch) {
		case 'm': mode = optarg; break;
		case 'p': proxy = optarg; break;
		case 't': target = optarg; break;
		case 'u': path = optarg; break;
		case 'c': x->x_nconns = atoi(optarg); break;
		case 'd': x->x_secs = atof(optarg); break;
		case 'D': x->x_direct = 1; break;
		case 'C': cafile = optarg; break;
		case 'n': name = optarg; break;
		default: cl_usage();
		}
	}
	if (strcmp(mode, "ka") == 0)
		x->x_mode = M_KA;
	else if (strcmp(mode, "new") == 0)
		x->x_mode = M_NEW;
	else if (strcmp(mode, "idleconn") == 0)
		x->x_mode = M_IDLECONN;
	else if (strcmp(mode, "idletun") == 0)
		x->x_mode = M_IDLETUN;
	else if (strcmp(mode, "tlska") == 0)
		x->x_mode = M_KA, x->x_tls = 1;
	else if (strcmp(mode, "tlsnew") == 0)
		x->x_mode = M_NEW, x->x_tls = 1;
	else
		cl_usage();
	if (target == NULL || (colon = strrchr(target, ':')) == NULL ||
	    colon == target || (size_t)(colon - target) >= sizeof(namebuf) ||
	    x->x_nconns < 1 || x->x_secs <= 0 || (x->x_tls && cafile == NULL))
		cl_usage();
	if (cl_parse_addr(x->x_direct ? target : proxy ? proxy : "",
	    &x->x_addr) == -1)
		cl_usage();
	if (name == NULL) {	/* the target's host, [v6] unbracketed */
		memcpy(namebuf, target, colon - target);
		namebuf[colon - target] = '\0';
		name = namebuf;
		if (name[0] == '[' && colon[-1] == ']') {
			namebuf[colon - target - 1] = '\0';
			name++;
		}
	}
	x->x_name = name;
	x->x_name_is_ip = inet_pton(AF_INET, name, ip) == 1 ||
	    inet_pton(AF_INET6, name, ip) == 1;
	/* Host: the name the certificate is checked for, and the port */
	snprintf(host, sizeof(host), "%s%s%s%s", x->x_name_is_ip &&
	    strchr(name, ':') ? "[" : "", name, x->x_name_is_ip &&
	    strchr(name, ':') ? "]" : "", colon);
	if (x->x_tls)
		x->x_sslctx = cl_tls_ctx(cafile);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, cl_on_signal);
	signal(SIGINT, cl_on_signal);
	cl_init(x, target, path, host);

	if (x->x_mode == M_IDLECONN || x->x_mode == M_IDLETUN) {
		up = cl_setup(x);
		cl_hold(x, up);
		printf("mode=%s conns=%d up=%d still_open=%d errors=%llu "
		    "connect_errors=%llu\n", mode, x->x_nconns, up, x->x_ready,
		    (unsigned long long)x->x_errors,
		    (unsigned long long)x->x_connect_errors);
		return up == x->x_nconns ? 0 : 1;
	}
	if (x->x_mode == M_KA && cl_setup(x) < x->x_nconns)
		fprintf(stderr, "connload: only %d of %d tunnels came up\n",
		    x->x_ready, x->x_nconns);
	cl_measure(x);
	secs = (double)(cl_now() - x->x_start) / 1e9;
	printf("mode=%s conns=%d secs=%.3f count=%llu rate=%.1f p50_us=%llu "
	    "p99_us=%llu errors=%llu connect_errors=%llu\n", mode,
	    x->x_nconns, secs, (unsigned long long)x->x_done,
	    (double)x->x_done / secs,
	    (unsigned long long)cl_percentile(x, 50),
	    (unsigned long long)cl_percentile(x, 99),
	    (unsigned long long)x->x_errors,
	    (unsigned long long)x->x_connect_errors);
	return x->x_done > 0 ? 0 : 1;
}
