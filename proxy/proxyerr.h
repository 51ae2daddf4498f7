/*
 * Every error response the proxy itself makes, as a closed set: each
 * cause has one token (the log's error= field), one status, one log
 * level and one default message. The transport says which cause and,
 * where it knows more, a detail line that replaces the message.
 */
#ifndef OAUTHLENS_PROXYERR_H
#define OAUTHLENS_PROXYERR_H

#include "log.h"
#include "upstream.h"

enum proxy_error {
	PE_BAD_REQUEST,		/* malformed request head or target */
	PE_HEAD_TOO_LARGE,	/* head over the size or field limits */
	PE_BAD_BODY,		/* malformed request body framing */
	PE_CLIENT_NOT_ALLOWED,	/* client outside the allow list */
	PE_TOO_MANY,		/* over max_connections */
	PE_PROXY_AUTH,		/* proxy_auth credentials missing/wrong */
	PE_CONNECT_PORT,	/* CONNECT to a port not in connect_ports */
	PE_TUNNEL_TARGET,	/* non-origin-form request inside TLS */
	PE_LOCAL_BODY,		/* a body sent to the proxy's own pages */
	PE_LOCAL_HOST,		/* own pages asked by another Host name */
	PE_UPSTREAM_START,	/* could not start connecting */
	PE_UPSTREAM_DNS,	/* the origin's name does not resolve */
	PE_UPSTREAM_REFUSED,	/* the origin refused the connection */
	PE_UPSTREAM_UNREACHABLE, /* network or host unreachable */
	PE_UPSTREAM_TIMEOUT,	/* connecting or answering timed out */
	PE_UPSTREAM_TLS,	/* TLS with the origin failed */
	PE_UPSTREAM_FAILED,	/* the origin connection failed otherwise */
	PE_UPSTREAM_CLOSED,	/* the origin closed without answering */
	PE_NOT_RETRIED,		/* lost after sending; not idempotent */
	PE_BAD_RESPONSE,	/* the origin's response head is malformed */
	PE_BAD_RESPONSE_BODY,	/* its chunked body cannot be read */
	PE_TOO_MANY_INTERIM,	/* more 1xx than EXCHANGE_MAX_INTERIM */
	PE_UNASKED_UPGRADE,	/* a 101 nobody asked for */
	PE_UPSTREAM_PARENT,	/* the upstream proxy refused or failed */
	PE_LOOP,		/* the request would come back to us */
	PE_COUNT
};

struct proxyerr_info {
	const char	*pi_token;	/* "upstream_timeout" */
	int		 pi_status;	/* 504 */
	enum log_level	 pi_level;	/* of the proxy-error record */
	const char	*pi_message;	/* when no detail is known */
};

/* The table row of e (never NULL; e must be < PE_COUNT). */
const struct proxyerr_info *proxyerr_info(enum proxy_error e);

/* The cause of an http1 parse error with status (400, 431, ...). */
enum proxy_error proxyerr_from_http1(int status);

/* The cause of a failed upstream connection. */
enum proxy_error proxyerr_from_upstream(enum upstream_fail why);

#endif
