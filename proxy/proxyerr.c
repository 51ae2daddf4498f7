#include "proxyerr.h"

static const struct proxyerr_info table[PE_COUNT] = {
	[PE_BAD_REQUEST] = { "bad_request", 400, LL_INFO,
	    "malformed request" },
	[PE_HEAD_TOO_LARGE] = { "head_too_large", 431, LL_INFO,
	    "the request head is too large" },
	[PE_BAD_BODY] = { "bad_body", 400, LL_INFO,
	    "malformed request body" },
	[PE_CLIENT_NOT_ALLOWED] = { "client_not_allowed", 403, LL_INFO,
	    "this client is not in the proxy's \"allow\" list" },
	[PE_TOO_MANY] = { "too_many_connections", 503, LL_WARN,
	    "too many connections; try again" },
	[PE_PROXY_AUTH] = { "proxy_auth", 407, LL_INFO,
	    "this proxy needs credentials (proxy_auth)" },
	[PE_CONNECT_PORT] = { "connect_port", 403, LL_INFO,
	    "CONNECT to this port is not allowed (connect_ports)" },
	[PE_TUNNEL_TARGET] = { "tunnel_target", 400, LL_INFO,
	    "requests inside a TLS tunnel must use origin-form targets" },
	[PE_LOCAL_BODY] = { "local_body", 405, LL_INFO,
	    "the proxy's own pages take no request body" },
	[PE_LOCAL_HOST] = { "local_host", 403, LL_INFO,
	    "the proxy's own pages answer only to its own address or a "
	    "loopback name (Host)" },
	[PE_UPSTREAM_START] = { "upstream_start", 502, LL_WARN,
	    "cannot start a connection to the origin" },
	[PE_UPSTREAM_DNS] = { "upstream_dns", 502, LL_WARN,
	    "the origin's name does not resolve" },
	[PE_UPSTREAM_REFUSED] = { "upstream_refused", 502, LL_WARN,
	    "the origin refused the connection" },
	[PE_UPSTREAM_UNREACHABLE] = { "upstream_unreachable", 502, LL_WARN,
	    "the origin is unreachable" },
	[PE_UPSTREAM_TIMEOUT] = { "upstream_timeout", 504, LL_WARN,
	    "the origin timed out" },
	[PE_UPSTREAM_TLS] = { "upstream_tls", 502, LL_WARN,
	    "TLS with the origin failed" },
	[PE_UPSTREAM_FAILED] = { "upstream_failed", 502, LL_WARN,
	    "the connection to the origin failed" },
	[PE_UPSTREAM_CLOSED] = { "upstream_closed", 502, LL_WARN,
	    "the origin closed the connection without sending a response" },
	[PE_NOT_RETRIED] = { "not_retried", 502, LL_WARN,
	    "the origin closed a reused connection after the request was "
	    "sent: it may have been processed, so it was not sent again" },
	[PE_BAD_RESPONSE] = { "bad_response", 502, LL_WARN,
	    "the origin's response is malformed" },
	[PE_BAD_RESPONSE_BODY] = { "bad_response_body", 502, LL_WARN,
	    "the origin's chunked response body cannot be read" },
	[PE_TOO_MANY_INTERIM] = { "too_many_interim", 502, LL_WARN,
	    "the origin sent too many interim (1xx) responses" },
	[PE_UNASKED_UPGRADE] = { "unasked_upgrade", 502, LL_WARN,
	    "the origin switched protocols without being asked" },
	[PE_UPSTREAM_PARENT] = { "upstream_proxy", 502, LL_WARN,
	    "the upstream proxy refused the request" },
	[PE_LOOP] = { "loop", 508, LL_WARN,
	    "the request would come back to this proxy" },
};

const struct proxyerr_info *
proxyerr_info(enum proxy_error e)
{
	return &table[e < PE_COUNT ? e : PE_UPSTREAM_FAILED];
}

enum proxy_error
proxyerr_from_http1(int status)
{
	return status == 431 ? PE_HEAD_TOO_LARGE : PE_BAD_REQUEST;
}

enum proxy_error
proxyerr_from_upstream(enum upstream_fail why)
{
	switch (why) {
	case UPSTREAM_DNS:
		return PE_UPSTREAM_DNS;
	case UPSTREAM_REFUSED:
		return PE_UPSTREAM_REFUSED;
	case UPSTREAM_UNREACHABLE:
		return PE_UPSTREAM_UNREACHABLE;
	case UPSTREAM_TIMEOUT:
		return PE_UPSTREAM_TIMEOUT;
	case UPSTREAM_TLS:
		return PE_UPSTREAM_TLS;
	case UPSTREAM_PARENT:
		return PE_UPSTREAM_PARENT;
	case UPSTREAM_OK:
	case UPSTREAM_ERROR:
		break;
	}
	return PE_UPSTREAM_FAILED;
}
