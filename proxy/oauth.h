/*
 * Token-endpoint exchanges: recognises POST /login/oauth/access_token to a
 * configured host, keeps what the request says about the app (client_id,
 * redirect_uri, the language asked for), inspects the response body, and
 * when the provider answered with a catalogued error, produces the header
 * line and the warn record. Never keeps a secret: client_secret and code
 * are not copied out of the request body buffer, which is bounded and
 * freed with the exchange.
 */
#ifndef OAUTHLENS_OAUTH_H
#define OAUTHLENS_OAUTH_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct config;
struct http1_head;
struct http1_target;
struct oauth_x;
struct proxy;

/* Where the exchange came from, for the log record. */
struct oauth_ctx {
	struct proxy	*oc_px;		/* for the status page and counters */
	uint64_t	 oc_req;
	const char	*oc_client;
	const char	*oc_host;
};

/* A tracker when the request is a token-endpoint exchange under cf (the
 * caller owns it and keeps cf alive meanwhile), else NULL. */
struct oauth_x	*oauth_request(const struct config *cf,
		    const struct http1_head *h, const struct http1_target *t);

/* Request body bytes (after transfer decoding); kept up to a bound. */
void		 oauth_request_body(struct oauth_x *o, const char *p,
		    size_t len);

/* The final response head arrived: 1 when its body is to be held and
 * inspected, 0 to relay it untouched (no body, or a coding we cannot
 * decode; the latter is logged). */
int		 oauth_response_head(struct oauth_x *o,
		    const struct http1_head *h);

/* Response body bytes (after transfer decoding). */
void		 oauth_response_body(struct oauth_x *o, const char *p,
		    size_t len);

/* Inspection was abandoned (why: a short phrase); logs one warn record. */
void		 oauth_abandon(struct oauth_x *o, const struct oauth_ctx *ctx,
		    const char *why);

/* The body is complete. When it carries a catalogued error, returns the
 * header line ("Name: value", owned by o) and logs the warn record;
 * otherwise returns NULL (other error codes are logged at info). */
const char	*oauth_response_end(struct oauth_x *o,
		    const struct oauth_ctx *ctx);

/* The hint language for a request under cf (--lang auto reads its
 * Accept-Language). */
enum lang	 oauth_lang(const struct config *cf, const struct http1_head *h);

/* An authorization error carried by a redirect's query (the authorize
 * response's Location, or the browser's request to the callback): logs it
 * and returns the header line for the response that carries it
 * (malloc'd), or NULL when the query holds no error. */
char		*oauth_redirect_error(const struct config *cf, enum lang lang,
		    const char *query, size_t len, const struct oauth_ctx *ctx);

/* Warn once when a token endpoint's Date is more than a minute from our
 * clock (expiry reasoning would be off). */
void		 oauth_clock(struct proxy *px, const struct http1_head *h);

/* Free a tracker (NULL ok). */
void		 oauth_free(struct oauth_x *o);

#endif
