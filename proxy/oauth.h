/*
 * The OAuth observer: the transport reports each exchange's events here
 * (request head, request body bytes, response head, response body bytes,
 * the end and its outcome), and this module alone recognises what they
 * mean for OAuth: authorize requests and the redirects that answer them,
 * callbacks that deliver a code or an error, token-endpoint exchanges. It
 * feeds the flow memory (diag.c) and, when the provider answered with a
 * catalogued error, produces the header line and the warn record.
 *
 * Never keeps a secret: client_secret and code are not copied out of the
 * request body buffer, which is bounded and wiped with the tracker.
 */
#ifndef OAUTHLENS_OAUTH_H
#define OAUTHLENS_OAUTH_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct http1_head;
struct http1_target;
struct oauth_x;
struct flowmem;
struct stats;
struct status_recent;

/* What the OAuth layer may reach of the proxy, and nothing else of it:
 * one per process, filled by main.c. */
struct oauth_env {
	struct flowmem		 *oe_flow;	/* borrowed; NULL: none */
	struct status_recent	**oe_recent;	/* the "/" page's ring */
	struct stats		 *oe_stats;	/* borrowed: the counters */
	int			  oe_clock_warned; /* warned once */
};

/* Where the exchange came from, for the log records; the strings are
 * borrowed for the tracker's life. */
struct oauth_ctx {
	struct oauth_env *oc_env;	/* borrowed; NULL: no memory, page */
	uint64_t	 oc_req;
	const char	*oc_client;
	const char	*oc_host;
};

/* How an exchange ended, for oauth_end(). */
enum oauth_outcome {
	OAUTH_COMPLETE,		/* the whole response arrived */
	OAUTH_TOO_LARGE,	/* the body outgrew inspect_max_bytes */
	OAUTH_CUT,		/* the origin stopped before the end */
	OAUTH_STALLED,		/* the origin went quiet past timeouts.idle */
	OAUTH_FAILED		/* no response (error, client gone) */
};

/* A request head for the origin, its target resolved in t. Returns a
 * tracker when OAuth has an interest in the exchange (the caller owns it
 * and keeps cf alive meanwhile), else NULL. May OR HTTP1_W_* flags into
 * *wflags for the head written to the origin. */
struct oauth_x	*oauth_request(const struct config *cf,
		    const struct oauth_ctx *ctx, const struct http1_head *h,
		    const struct http1_target *t, unsigned *wflags);

/* Request body bytes (after transfer decoding); kept up to a bound. */
void		 oauth_request_body(struct oauth_x *o, const char *p,
		    size_t len);

/* The request is complete (its whole body was read from the client and
 * passed on): a token exchange is in the flow memory from now on, so a
 * second one of the same code that overlaps it is seen (NULL o ok;
 * called at most once, before or after the response head). */
void		 oauth_request_done(struct oauth_x *o);

/* The final response head arrived: 1 when its body is to be held and
 * inspected, 0 to relay it untouched (no body, or a coding we cannot
 * decode; the latter is logged). */
int		 oauth_response_head(struct oauth_x *o,
		    const struct http1_head *h);

/* A header line ("Name: value", owned by o) to add to a response head
 * that is not held, or NULL (NULL o ok). */
const char	*oauth_head_line(const struct oauth_x *o);

/* Response body bytes (after transfer decoding), while held. */
void		 oauth_response_body(struct oauth_x *o, const char *p,
		    size_t len);

/* The exchange ended with outcome (only the first call counts). For a
 * held response that completed with a catalogued error, returns the
 * header line to add (owned by o) and logs the warn record; an
 * inspection given up is logged once. Otherwise NULL. */
const char	*oauth_end(struct oauth_x *o, enum oauth_outcome outcome);

/* Free a tracker (NULL ok). */
void		 oauth_free(struct oauth_x *o);

#endif
