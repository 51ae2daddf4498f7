/*
 * Request-aware diagnosis: what the proxy saw of a flow (the authorize
 * request and its host and PKCE challenge, the redirect that delivered the
 * code or the user's cancel, earlier exchanges from the moment their
 * request was complete, the secrets that got a token) and of the failing
 * request itself, turned into a cause of enum diag_cause and its
 * parameters.
 *
 * The flow memory is bounded in entries and age, lives in memory only, and
 * is keyed by HMAC-SHA256 (a random key per run) of codes, states, refresh
 * tokens, PKCE challenges and accepted secrets: none of them is ever
 * stored, nor a code_verifier.
 */
#ifndef OAUTHLENS_DIAG_H
#define OAUTHLENS_DIAG_H

#include <stddef.h>
#include <stdint.h>

struct flowmem;

/* The causes a diagnosis can claim: a closed set, each with a name (the
 * header's cause parameter, the log's cause= field) and the key of its
 * sentence in the catalog's "_causes", which must hold every one. */
enum diag_cause {
	DC_NONE,		/* nothing can be claimed */
	DC_CODE_REUSED,
	DC_CODE_EXPIRED,
	DC_CODE_OTHER_CLIENT,
	DC_WHITESPACE,
	DC_SECRET_SHAPE,
	DC_ID_SHAPE,
	DC_BOTH_AUTH,
	DC_MISSING_SECRET,
	DC_REDIRECT_DIFFERS,
	DC_REDIRECT_UNREGISTERED,
	DC_CODE_REUSED_OVERLAP,	/* code_reused: the other one in flight */
	DC_CODE_FAILED_BEFORE,	/* the same code failed the same way */
	DC_CALLBACK_SCHEME,	/* authorize redirect_uri vs registered */
	DC_CALLBACK_HOST,
	DC_CALLBACK_PORT,
	DC_CALLBACK_PATH,
	DC_BROWSER_EXCHANGE,	/* a token POST from a web page */
	DC_PKCE_MISSING,	/* challenge at authorize, no verifier */
	DC_PKCE_MISMATCH,	/* S256(verifier) is not the challenge */
	DC_REFRESH_REUSED,	/* a rotated refresh token sent again */
	DC_SECRET_OTHER_APP,	/* secret accepted with another client_id */
	DC_CALLBACK_ERROR,	/* access_denied, then code=undefined */
	DC_CODE_OTHER_HOST,	/* authorized here, exchanged there */
	DC_CLIENT_OTHER_HOST,	/* client_id authorized on another host */
	DC_TOKEN_METHOD,	/* GET on the token endpoint */
	DC_TOKEN_API_PATH,	/* /api/v3/login/oauth/... on GHE */
	DC_SLOW_DOWN,		/* slow_down: the interval it now asks */
	DC_FORM_ANSWER,		/* a note: form-encoded answer to a JSON app */
	DC_COUNT
};

/* The name of a cause ("code_reused"; "" for DC_NONE): the header's cause
 * parameter and the log's cause= field. Two causes may share a name when
 * they say the same thing in different words. */
const char	*diag_cause_name(enum diag_cause cause);

/* The key of a cause's sentence in the catalog's "_causes" (distinct for
 * every cause; "" for DC_NONE). */
const char	*diag_cause_key(enum diag_cause cause);

/* What the token request carried (borrowed strings, NULL when absent). */
struct diag_request {
	uint64_t	 dr_req;
	uint64_t	 dr_now_ms;
	const char	*dr_code;
	const char	*dr_client_id;		/* from the body */
	const char	*dr_client_secret;	/* from the body */
	const char	*dr_basic_id;		/* from Basic auth */
	const char	*dr_basic_secret;	/* from Basic auth */
	const char	*dr_redirect_uri;
	const char	*dr_grant_type;
	const char	*dr_device_code;
	const char	*dr_code_verifier;	/* PKCE */
	const char	*dr_refresh_token;
	const char	*dr_host;	/* the token endpoint's host */
	int		 dr_browser;	/* sent by a web page (Origin) */
};

/* A diagnosis: a cause token and the values its sentence needs. */
struct diag_result {
	enum diag_cause	 dg_cause;		/* DC_NONE: none claimed */
	long long	 dg_age_s;		/* code_reused, code_expired */
	uint64_t	 dg_prev_req;		/* code_reused */
	size_t		 dg_len;		/* secret_shape */
	char		 dg_field[32];		/* whitespace: which value */
	char		 dg_detail[256];	/* redirect_mismatch: how */
	char		 dg_registered[512];	/* redirect_mismatch */
	char		 dg_was[256];		/* callback_*: the part sent */
	char		 dg_want[256];		/* callback_*: registered */
	uint64_t	 dg_retry_of;		/* same code just failed */
};

/* A flow memory of at most max entries, each kept up to max_age_s;
 * codes older than code_lifetime_s are expired. */
struct flowmem	*flowmem_new(unsigned max, unsigned max_age_s,
		    unsigned code_lifetime_s);
void		 flowmem_free(struct flowmem *fm);

/* An authorize request to host (client_id, redirect_uri, state, scope,
 * code_challenge and its method in the query). */
void		 diag_authorize(struct flowmem *fm, const char *host,
		    const char *query, size_t len, uint64_t now_ms);

/* A redirect's query (Location, or the callback request) carries
 * error=access_denied: the user cancelled the flow of its state. */
void		 diag_denied(struct flowmem *fm, const char *query, size_t len,
		    uint64_t now_ms);

/* A query that delivers a code (Location of the authorize response, or
 * the browser's request to the callback): code, state. */
void		 diag_code_issued(struct flowmem *fm, const char *query,
		    size_t len, uint64_t now_ms);

/* Diagnose a token-endpoint error for the request; error is the code the
 * provider sent. Fills res (dg_cause DC_NONE when nothing is claimed). */
void		 diag_explain(struct flowmem *fm, const char *error,
		    const struct diag_request *r, struct diag_result *res);

/* The token request r is complete (its body sent): from now on its
 * exchange of r's code or refresh token, if any, is in flight and counts
 * for code_reused and refresh_token_reused (an overlapping second
 * exchange is seen); once it succeeds, its secret's keyed hash vouches
 * for its client_id (secret_other_app). */
void		 diag_exchange_begin(struct flowmem *fm,
		    const struct diag_request *r);

/* The exchange of request req ended: ok (a token came back), or failed
 * with the provider's error (NULL: no answer could be read). */
void		 diag_exchange_end(struct flowmem *fm, uint64_t req, int ok,
		    const char *error);

/* An authorize request asked for redirect_uri sent and the provider
 * redirected to registered (the app's registered callback) with
 * redirect_uri_mismatch: names the part that differs (DC_CALLBACK_*, with
 * dg_was, dg_want and dg_registered), or DC_NONE when the two match under
 * GitHub's rules or either is not an absolute URL. */
void		 diag_authorize_mismatch(const char *registered,
		    const char *sent, struct diag_result *res);

/* The scope the flow's authorize request asked for, into buf ("" when
 * unknown). */
void		 diag_requested_scope(struct flowmem *fm,
		    const struct diag_request *r, char *buf, size_t len);

/* The client_id and redirect_uri of the authorize request whose state
 * the query carries. 0, or -1 when that request was not seen. */
int		 diag_authorize_of(struct flowmem *fm, const char *query,
		    size_t len, uint64_t now_ms, char *client_id, size_t cidlen,
		    char *redirect_uri, size_t rulen);

/* A device-flow poll with device_code: 1 when it comes sooner after the
 * previous poll than the interval (5 s, or the last slow_down's), with
 * the time since it and the interval; 0 otherwise. Remembers this poll. */
int		 diag_device_poll(struct flowmem *fm, const char *device_code,
		    uint64_t now_ms, uint64_t *elapsed_ms,
		    unsigned *interval_s);

/* A slow_down answer raised the interval for device_code. */
void		 diag_device_interval(struct flowmem *fm,
		    const char *device_code, unsigned interval_s,
		    uint64_t now_ms);

/* Compare a sent redirect_uri with the registered (or authorize-time) one
 * under GitHub's rules: host and port equal (port free for loopback), path
 * equal or below. Returns 1 when they match, else 0 with a short reason
 * in why ("scheme differs: http vs https", ...). */
int		 diag_redirect_match(const char *registered, const char *sent,
		    char *why, size_t whylen);

#endif
