#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "diag.h"
#include "inspect.h"
#include "util.h"

#define KEYLEN		16

enum flow_kind { FL_FREE, FL_AUTHORIZE, FL_ISSUED, FL_EXCHANGED, FL_POLL,
	FL_DENIED };

/* Where an exchange stands: recorded when its request is complete. */
enum flow_xstate { FX_INFLIGHT, FX_OK, FX_FAILED, FX_LOST };

struct flow {
	enum flow_kind	 f_kind;
	unsigned char	 f_key[KEYLEN];		/* H(state, code or refresh) */
	unsigned char	 f_hash2[KEYLEN];	/* H(challenge) or H(secret) */
	int		 f_has_hash2;
	int		 f_refresh;		/* FL_EXCHANGED: a refresh */
	char		 f_host[128];		/* FL_AUTHORIZE: its host */
	unsigned char	 f_state[KEYLEN];	/* FL_ISSUED: H(state) */
	int		 f_has_state;
	enum flow_xstate f_xstate;		/* FL_EXCHANGED */
	char		 f_error[48];		/* FX_FAILED: the error */
	uint64_t	 f_ms;
	uint64_t	 f_req;
	char		 f_client_id[96];	/* FL_AUTHORIZE, FL_EXCHANGED */
	char		 f_redirect_uri[512];	/* FL_AUTHORIZE */
	char		 f_scope[256];		/* FL_AUTHORIZE */
	unsigned	 f_interval;		/* FL_POLL: seconds */
};

struct flowmem {
	unsigned char	 fm_hkey[32];	/* random per run */
	EVP_MAC		*fm_mac;	/* owned: HMAC */
	struct flow	*fm_ring;	/* owned */
	unsigned	 fm_max, fm_next;
	uint64_t	 fm_max_age_ms;
	uint64_t	 fm_lifetime_ms;
};

struct flowmem *
flowmem_new(unsigned max, unsigned max_age_s, unsigned code_lifetime_s)
{
	struct flowmem	*fm = xcalloc(1, sizeof(*fm));

	if (max == 0)
		max = 1;
	fm->fm_ring = xcalloc(max, sizeof(*fm->fm_ring));
	fm->fm_max = max;
	fm->fm_max_age_ms = (uint64_t)max_age_s * 1000;
	fm->fm_lifetime_ms = (uint64_t)code_lifetime_s * 1000;
	if (RAND_bytes(fm->fm_hkey, sizeof(fm->fm_hkey)) != 1 ||
	    (fm->fm_mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		abort();	/* no CSPRNG or HMAC: nothing is safe */
	return fm;
}

void
flowmem_free(struct flowmem *fm)
{
	if (fm == NULL)
		return;
	OPENSSL_cleanse(fm->fm_hkey, sizeof(fm->fm_hkey));
	EVP_MAC_free(fm->fm_mac);
	free(fm->fm_ring);
	free(fm);
}

/* Keyed hash of a code or state: the value itself is never kept. The
 * kind goes in first (with its NUL) so a state and a code never collide. */
static void
keyed(const struct flowmem *fm, const char *what, const char *v,
    unsigned char out[KEYLEN])
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	size_t		 mdlen = 0;
	EVP_MAC_CTX	*ctx = EVP_MAC_CTX_new(fm->fm_mac);
	OSSL_PARAM	 params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
		OSSL_PARAM_construct_end()
	};

	if (ctx == NULL || EVP_MAC_init(ctx, fm->fm_hkey, sizeof(fm->fm_hkey),
	    params) != 1 || EVP_MAC_update(ctx, (const unsigned char *)what,
	    strlen(what) + 1) != 1 || EVP_MAC_update(ctx,
	    (const unsigned char *)v, strlen(v)) != 1 ||
	    EVP_MAC_final(ctx, md, &mdlen, sizeof(md)) != 1)
		memset(md, 0, sizeof(md));
	EVP_MAC_CTX_free(ctx);
	memcpy(out, md, KEYLEN);
}

static struct flow *
flow_add(struct flowmem *fm, enum flow_kind kind, uint64_t now)
{
	struct flow	*f = &fm->fm_ring[fm->fm_next];

	fm->fm_next = (fm->fm_next + 1) % fm->fm_max;
	memset(f, 0, sizeof(*f));
	f->f_kind = kind;
	f->f_ms = now;
	return f;
}

/* The newest live entry of kind with key (NULL key: any). */
static struct flow *
flow_find(struct flowmem *fm, enum flow_kind kind, const unsigned char *key,
    const char *client_id, uint64_t now)
{
	unsigned	i;

	for (i = 1; i <= fm->fm_max; i++) {
		struct flow *f = &fm->fm_ring[(fm->fm_next + fm->fm_max - i) %
		    fm->fm_max];

		if (f->f_kind != kind)
			continue;
		if (now - f->f_ms > fm->fm_max_age_ms) {
			f->f_kind = FL_FREE;	/* aged out */
			continue;
		}
		if (key != NULL && memcmp(f->f_key, key, KEYLEN) != 0)
			continue;
		if (client_id != NULL && strcmp(f->f_client_id, client_id) != 0)
			continue;
		return f;
	}
	return NULL;
}

static int
param(const char *q, size_t len, const char *key, char *out, size_t outlen)
{
	return inspect_form_get(q, len, key, out, outlen) >= 0 ? 0 : -1;
}

void
diag_authorize(struct flowmem *fm, const char *host, const char *query,
    size_t len, uint64_t now)
{
	struct flow	*f;
	char		 state[512], challenge[256], method[16];

	f = flow_add(fm, FL_AUTHORIZE, now);
	snprintf(f->f_host, sizeof(f->f_host), "%s", host);
	/* PKCE: GitHub takes S256 only; a plain challenge is not compared. */
	if (param(query, len, "code_challenge", challenge,
	    sizeof(challenge)) == 0 && challenge[0] != '\0' &&
	    param(query, len, "code_challenge_method", method,
	    sizeof(method)) == 0 && strcmp(method, "S256") == 0) {
		keyed(fm, "challenge", challenge, f->f_hash2);
		f->f_has_hash2 = 1;
	}
	if (param(query, len, "state", state, sizeof(state)) == 0)
		keyed(fm, "state", state, f->f_key);
	param(query, len, "client_id", f->f_client_id,
	    sizeof(f->f_client_id));
	param(query, len, "redirect_uri", f->f_redirect_uri,
	    sizeof(f->f_redirect_uri));
	param(query, len, "scope", f->f_scope, sizeof(f->f_scope));
	OPENSSL_cleanse(state, sizeof(state));
}

void
diag_denied(struct flowmem *fm, const char *query, size_t len,
    uint64_t now)
{
	struct flow	*f, *a = NULL;
	char		 state[512];
	unsigned char	 key[KEYLEN];

	if (param(query, len, "state", state, sizeof(state)) == 0) {
		keyed(fm, "state", state, key);
		OPENSSL_cleanse(state, sizeof(state));
		a = flow_find(fm, FL_AUTHORIZE, key, NULL, now);
	}
	/* The Location and then the callback bring the same error. */
	if ((f = flow_find(fm, FL_DENIED, NULL, NULL, now)) != NULL &&
	    now - f->f_ms < 60000 && (a == NULL ||
	    strcmp(f->f_client_id, a->f_client_id) == 0))
		return;
	f = flow_add(fm, FL_DENIED, now);
	if (a != NULL)
		snprintf(f->f_client_id, sizeof(f->f_client_id), "%s",
		    a->f_client_id);
}

void
diag_code_issued(struct flowmem *fm, const char *query, size_t len,
    uint64_t now)
{
	struct flow	*f;
	char		 code[512], state[512];
	unsigned char	 key[KEYLEN];

	if (param(query, len, "code", code, sizeof(code)) == -1)
		return;
	keyed(fm, "code", code, key);
	OPENSSL_cleanse(code, sizeof(code));
	/* The Location and then the callback deliver the same code. */
	if (flow_find(fm, FL_ISSUED, key, NULL, now) != NULL)
		return;
	f = flow_add(fm, FL_ISSUED, now);
	memcpy(f->f_key, key, KEYLEN);
	if (param(query, len, "state", state, sizeof(state)) == 0) {
		keyed(fm, "state", state, f->f_state);
		f->f_has_state = 1;
		OPENSSL_cleanse(state, sizeof(state));
	}
}

void
diag_exchange_begin(struct flowmem *fm, const struct diag_request *r)
{
	struct flow	*f;
	const char	*secret = r->dr_client_secret != NULL &&
			    r->dr_client_secret[0] != '\0' ?
			    r->dr_client_secret : r->dr_basic_secret;

	if (r->dr_code != NULL && r->dr_code[0] != '\0') {
		f = flow_add(fm, FL_EXCHANGED, r->dr_now_ms);
		keyed(fm, "code", r->dr_code, f->f_key);
	} else if (r->dr_refresh_token != NULL &&
	    r->dr_refresh_token[0] != '\0') {
		f = flow_add(fm, FL_EXCHANGED, r->dr_now_ms);
		keyed(fm, "refresh", r->dr_refresh_token, f->f_key);
		f->f_refresh = 1;
	} else
		return;
	if (secret != NULL && secret[0] != '\0') {
		keyed(fm, "secret", secret, f->f_hash2);
		f->f_has_hash2 = 1;
	}
	f->f_req = r->dr_req;
	f->f_xstate = FX_INFLIGHT;
	snprintf(f->f_client_id, sizeof(f->f_client_id), "%s",
	    r->dr_client_id ? r->dr_client_id : r->dr_basic_id ?
	    r->dr_basic_id : "");
}

void
diag_exchange_end(struct flowmem *fm, uint64_t req, int ok,
    const char *error)
{
	unsigned	i;

	for (i = 0; i < fm->fm_max; i++) {
		struct flow *f = &fm->fm_ring[i];

		if (f->f_kind != FL_EXCHANGED || f->f_req != req ||
		    f->f_xstate != FX_INFLIGHT)
			continue;
		f->f_xstate = ok ? FX_OK : error != NULL ? FX_FAILED : FX_LOST;
		snprintf(f->f_error, sizeof(f->f_error), "%s",
		    error != NULL ? error : "");
		return;
	}
}

/* The authorize request of this flow: through the code's state, else the
 * newest one for the same client_id. */
static struct flow *
flow_authorize(struct flowmem *fm, const struct diag_request *r,
    const char *client_id)
{
	struct flow	*iss, *a = NULL;
	unsigned char	 key[KEYLEN];

	if (r->dr_code != NULL) {
		keyed(fm, "code", r->dr_code, key);
		iss = flow_find(fm, FL_ISSUED, key, NULL, r->dr_now_ms);
		if (iss != NULL && iss->f_has_state)
			a = flow_find(fm, FL_AUTHORIZE, iss->f_state, NULL,
			    r->dr_now_ms);
	}
	if (a == NULL && client_id != NULL)
		a = flow_find(fm, FL_AUTHORIZE, NULL, client_id, r->dr_now_ms);
	return a;
}

/* Earlier exchanges of the same code (not r's own): the newest that
 * succeeded or is still in flight, else the newest that failed with the
 * same error. An exchange whose answer was not read counts for neither. */
static void
explain_exchanged(struct flowmem *fm, const struct diag_request *r,
    const char *error, const unsigned char *key, struct diag_result *res)
{
	struct flow	*used = NULL, *failed = NULL;
	unsigned	 i;

	for (i = 1; i <= fm->fm_max && used == NULL; i++) {
		struct flow *f = &fm->fm_ring[(fm->fm_next + fm->fm_max - i) %
		    fm->fm_max];

		if (f->f_kind != FL_EXCHANGED || f->f_req == r->dr_req ||
		    memcmp(f->f_key, key, KEYLEN) != 0 ||
		    r->dr_now_ms - f->f_ms > fm->fm_max_age_ms)
			continue;
		if (f->f_xstate == FX_OK || f->f_xstate == FX_INFLIGHT)
			used = f;
		else if (f->f_xstate == FX_FAILED && failed == NULL &&
		    strcmp(f->f_error, error) == 0)
			failed = f;
	}
	if (used == NULL && failed == NULL)
		return;
	if (used != NULL)
		res->dg_cause = used->f_xstate == FX_OK ? DC_CODE_REUSED :
		    DC_CODE_REUSED_OVERLAP;
	else {
		used = failed;
		res->dg_cause = DC_CODE_FAILED_BEFORE;
		/* A second POST within seconds is a library's retry. */
		if (r->dr_now_ms - failed->f_ms < 10000)
			res->dg_retry_of = failed->f_req;
	}
	res->dg_age_s = (long long)((r->dr_now_ms - used->f_ms) / 1000);
	res->dg_prev_req = used->f_req;
}

static int
nonempty(const char *s)
{
	return s != NULL && *s != '\0';
}

/* base64url(SHA-256(verifier)) without padding: RFC 7636's S256. */
static int
pkce_s256(const char *verifier, char *out, size_t outlen)
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen = 0;
	int		n, i;

	if (outlen < 45 || EVP_Digest(verifier, strlen(verifier), md, &mdlen,
	    EVP_sha256(), NULL) != 1 || mdlen != 32)
		return -1;
	n = EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (i = 0; i < n; i++)
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

/* The flow's authorize request (through the code's state) sent an S256
 * code_challenge: the exchange's code_verifier must hash to it. GitHub
 * documents no error code for a missing or wrong verifier: we assume
 * bad_verification_code (the code cannot be exchanged) and decide on the
 * request alone, never on the error's wording. */
static void
explain_pkce(struct flowmem *fm, const struct diag_request *r,
    const struct flow *a, struct diag_result *res)
{
	char		 s256[64];
	unsigned char	 key[KEYLEN];

	if (a == NULL || !a->f_has_hash2)
		return;
	if (r->dr_code_verifier == NULL || r->dr_code_verifier[0] == '\0') {
		res->dg_cause = DC_PKCE_MISSING;
		return;
	}
	if (pkce_s256(r->dr_code_verifier, s256, sizeof(s256)) == -1)
		return;
	keyed(fm, "challenge", s256, key);
	OPENSSL_cleanse(s256, sizeof(s256));
	if (CRYPTO_memcmp(key, a->f_hash2, KEYLEN) != 0)
		res->dg_cause = DC_PKCE_MISMATCH;
}

/* The flow was authorized on another host than the one exchanging. */
static int
other_host(const struct diag_request *r, const struct flow *a,
    enum diag_cause cause, struct diag_result *res)
{
	if (a == NULL || a->f_host[0] == '\0' || r->dr_host == NULL ||
	    strcasecmp(a->f_host, r->dr_host) == 0)
		return 0;
	res->dg_cause = cause;
	snprintf(res->dg_was, sizeof(res->dg_was), "%s", r->dr_host);
	snprintf(res->dg_want, sizeof(res->dg_want), "%s", a->f_host);
	snprintf(res->dg_registered, sizeof(res->dg_registered), "%s",
	    a->f_client_id);
	return 1;
}

/* A code that is no code ("undefined", "null", empty) after the user
 * cancelled a flow: the callback took the code without checking ?error=.
 * GitHub answers such a code as any unknown one, bad_verification_code
 * (assumed: nothing documents it). */
static int
explain_cancelled(struct flowmem *fm, const struct diag_request *r,
    const char *client_id, struct diag_result *res)
{
	const char	*c = r->dr_code != NULL ? r->dr_code : "";
	struct flow	*f = NULL;

	if (*c != '\0' && strcmp(c, "undefined") != 0 &&
	    strcmp(c, "null") != 0 && strcmp(c, "None") != 0 &&
	    strcmp(c, "nil") != 0)
		return 0;
	if (client_id != NULL)
		f = flow_find(fm, FL_DENIED, NULL, client_id, r->dr_now_ms);
	if (f == NULL)
		f = flow_find(fm, FL_DENIED, NULL, "", r->dr_now_ms);
	/* Only a cancellation of the last ten minutes explains it. */
	if (f == NULL || r->dr_now_ms - f->f_ms > fm->fm_lifetime_ms)
		return 0;
	res->dg_cause = DC_CALLBACK_ERROR;
	/* The value is not shown: it is what was sent as the code. */
	res->dg_age_s = (long long)((r->dr_now_ms - f->f_ms) / 1000);
	return 1;
}

static void
explain_code(struct flowmem *fm, const struct diag_request *r,
    const char *error, const char *client_id, struct diag_result *res)
{
	struct flow	*f, *a = NULL;
	unsigned char	 key[KEYLEN];

	if (explain_cancelled(fm, r, client_id, res))
		return;
	if (r->dr_code == NULL || r->dr_code[0] == '\0')
		return;
	keyed(fm, "code", r->dr_code, key);
	explain_exchanged(fm, r, error, key, res);
	if (res->dg_cause != DC_NONE)
		return;
	if ((f = flow_find(fm, FL_ISSUED, key, NULL, r->dr_now_ms)) == NULL)
		return;		/* never seen issued: claim nothing */
	if (f->f_has_state)
		a = flow_find(fm, FL_AUTHORIZE, f->f_state, NULL,
		    r->dr_now_ms);
	if (other_host(r, a, DC_CODE_OTHER_HOST, res))
		return;
	if (r->dr_now_ms - f->f_ms > fm->fm_lifetime_ms) {
		res->dg_cause = DC_CODE_EXPIRED;
		res->dg_age_s = (long long)((r->dr_now_ms - f->f_ms) / 1000);
		return;
	}
	if (client_id != NULL && a != NULL && a->f_client_id[0] != '\0' &&
	    strcmp(a->f_client_id, client_id) != 0) {
		res->dg_cause = DC_CODE_OTHER_CLIENT;
		snprintf(res->dg_registered, sizeof(res->dg_registered), "%s",
		    a->f_client_id);
		return;
	}
	explain_pkce(fm, r, a, res);
}

/* bad_refresh_token for a refresh token whose earlier exchange succeeded
 * (rotation: the app kept the old one) or is still in flight (two
 * refreshes racing). The code is documented, its wording is not: only
 * the code and the request count. */
static void
explain_refresh(struct flowmem *fm, const struct diag_request *r,
    const char *error, struct diag_result *res)
{
	unsigned char	key[KEYLEN];

	if (r->dr_refresh_token == NULL || r->dr_refresh_token[0] == '\0')
		return;
	keyed(fm, "refresh", r->dr_refresh_token, key);
	explain_exchanged(fm, r, error, key, res);
	if (res->dg_cause == DC_CODE_REUSED ||
	    res->dg_cause == DC_CODE_REUSED_OVERLAP)
		res->dg_cause = DC_REFRESH_REUSED;
	else {
		/* An unknown refresh token, or one that only failed: GitHub's
		 * word alone. */
		memset(res, 0, sizeof(*res));
	}
}

/* incorrect_client_credentials: this secret got a token earlier with
 * another client_id (two apps' values mixed), or the client_id was only
 * ever authorized on another host. */
static void
explain_other_app(struct flowmem *fm, const struct diag_request *r,
    const char *client_id, struct diag_result *res)
{
	const char	*secret = nonempty(r->dr_client_secret) ?
			    r->dr_client_secret : r->dr_basic_secret;
	unsigned char	 key[KEYLEN];
	unsigned	 i;
	struct flow	*a;

	if (nonempty(secret)) {
		keyed(fm, "secret", secret, key);
		for (i = 1; i <= fm->fm_max; i++) {
			struct flow *f = &fm->fm_ring[(fm->fm_next +
			    fm->fm_max - i) % fm->fm_max];

			if (f->f_kind != FL_EXCHANGED ||
			    f->f_xstate != FX_OK || !f->f_has_hash2 ||
			    r->dr_now_ms - f->f_ms > fm->fm_max_age_ms ||
			    CRYPTO_memcmp(f->f_hash2, key, KEYLEN) != 0 ||
			    client_id == NULL ||
			    strcmp(f->f_client_id, client_id) == 0)
				continue;
			res->dg_cause = DC_SECRET_OTHER_APP;
			res->dg_prev_req = f->f_req;
			snprintf(res->dg_registered,
			    sizeof(res->dg_registered), "%s", f->f_client_id);
			return;
		}
	}
	/* Authorized on another host, never on this one. */
	if (client_id == NULL || r->dr_host == NULL ||
	    (a = flow_find(fm, FL_AUTHORIZE, NULL, client_id,
	    r->dr_now_ms)) == NULL)
		return;
	for (i = 0; i < fm->fm_max; i++) {
		struct flow *f = &fm->fm_ring[i];

		if (f->f_kind == FL_AUTHORIZE &&
		    strcmp(f->f_client_id, client_id) == 0 &&
		    strcasecmp(f->f_host, r->dr_host) == 0)
			return;
	}
	other_host(r, a, DC_CLIENT_OTHER_HOST, res);
}

static int
has_stray(const char *s)
{
	size_t	n;

	if (s == NULL || (n = strlen(s)) == 0)
		return 0;
	if (strpbrk(s, "\r\n\"'") != NULL)
		return 1;
	return isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1]);
}

static int
all_of(const char *s, const char *set)
{
	return s != NULL && *s != '\0' && strspn(s, set) == strlen(s);
}

static void
explain_credentials(const struct diag_request *r, struct diag_result *res)
{
	const char	*id = nonempty(r->dr_client_id) ? r->dr_client_id :
			    r->dr_basic_id;
	const char	*secret = nonempty(r->dr_client_secret) ?
			    r->dr_client_secret : r->dr_basic_secret;
	static const char hex[] = "0123456789abcdefABCDEF";
	static const char *const fields[][2] = {
		{ "client_id", NULL }, { "client_secret", NULL },
		{ "client_id (Basic auth)", NULL },
		{ "client_secret (Basic auth)", NULL } };
	const char	*vals[4];
	int		 i;

	vals[0] = r->dr_client_id;
	vals[1] = r->dr_client_secret;
	vals[2] = r->dr_basic_id;
	vals[3] = r->dr_basic_secret;
	if (nonempty(r->dr_basic_id) && nonempty(r->dr_client_id) &&
	    (strcmp(r->dr_basic_id, r->dr_client_id) != 0 ||
	    (nonempty(r->dr_client_secret) && nonempty(r->dr_basic_secret) &&
	    CRYPTO_memcmp(r->dr_client_secret, r->dr_basic_secret,
	    strlen(r->dr_client_secret) + 1) != 0))) {
		res->dg_cause = DC_BOTH_AUTH;
		return;
	}
	for (i = 0; i < 4; i++)
		if (has_stray(vals[i])) {
			res->dg_cause = DC_WHITESPACE;
			snprintf(res->dg_field, sizeof(res->dg_field), "%s",
			    fields[i][0]);
			return;
		}
	/* The device flow needs no secret; the web flow (a code) does. */
	if (!nonempty(secret)) {
		if (nonempty(r->dr_code) && r->dr_device_code == NULL)
			res->dg_cause = DC_MISSING_SECRET;
		return;
	}
	if (all_of(id, "0123456789") || (id != NULL && strlen(id) == 40 &&
	    all_of(id, hex))) {
		res->dg_cause = DC_ID_SHAPE;
		return;
	}
	if (strlen(secret) != 40 || !all_of(secret, hex)) {
		res->dg_cause = DC_SECRET_SHAPE;
		res->dg_len = strlen(secret);
	}
}

/* scheme://host[:port]/path, lowercased scheme and host. */
struct url {
	char	u_scheme[16];
	char	u_host[256];
	int	u_port;		/* -1: default */
	char	u_path[512];
};

static int
url_split(const char *s, struct url *u)
{
	const char	*p = strstr(s, "://"), *h, *slash, *colon, *at, *close;
	size_t		 n;

	memset(u, 0, sizeof(*u));
	u->u_port = -1;
	if (p == NULL || (size_t)(p - s) >= sizeof(u->u_scheme))
		return -1;
	for (n = 0; s + n < p; n++)
		u->u_scheme[n] = (char)tolower((unsigned char)s[n]);
	h = p + 3;
	slash = h + strcspn(h, "/?#");
	/* Userinfo is not the host (and never shown). */
	if ((at = memrchr(h, '@', (size_t)(slash - h))) != NULL)
		h = at + 1;
	if (*h == '[') {
		/* An IPv6 literal keeps its brackets: "[::1]". */
		if ((close = memchr(h, ']', (size_t)(slash - h))) == NULL ||
		    (close + 1 != slash && close[1] != ':'))
			return -1;
		colon = close + 1 != slash ? close + 1 : NULL;
	} else
		colon = memchr(h, ':', (size_t)(slash - h));
	n = (size_t)((colon ? colon : slash) - h);
	if (n == 0 || n >= sizeof(u->u_host))
		return -1;
	for (size_t i = 0; i < n; i++)
		u->u_host[i] = (char)tolower((unsigned char)h[i]);
	if (colon != NULL && colon + 1 < slash) {
		uint64_t	port;

		/* One range-checked parse: a Location is network input. */
		if (util_parse_u64(colon + 1, (size_t)(slash - colon - 1), 0,
		    65535, &port) == -1)
			return -1;
		u->u_port = (int)port;
	}
	n = strcspn(slash, "?#");
	snprintf(u->u_path, sizeof(u->u_path), "%.*s", (int)n, slash);
	if (u->u_path[0] == '\0')
		snprintf(u->u_path, sizeof(u->u_path), "/");
	return 0;
}

static int
port_of(const struct url *u)
{
	if (u->u_port >= 0)
		return u->u_port;
	return strcmp(u->u_scheme, "https") == 0 ? 443 : 80;
}

static int
loopback(const char *host)
{
	return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "[::1]") == 0 ||
	    strcmp(host, "localhost") == 0;
}

/* How a redirect_uri differs from a callback URL. */
enum redirect_diff { RD_MATCH, RD_INVALID, RD_SCHEME, RD_HOST, RD_PORT,
	RD_PATH };

static enum redirect_diff
redirect_diff(const struct url *a, const struct url *b, char *why,
    size_t whylen)
{
	size_t	hl, bl, pl;

	if (strcmp(a->u_scheme, b->u_scheme) != 0) {
		snprintf(why, whylen, "scheme differs: %s vs %s", b->u_scheme,
		    a->u_scheme);
		return RD_SCHEME;
	}
	hl = strlen(a->u_host);
	bl = strlen(b->u_host);
	if (strcmp(a->u_host, b->u_host) != 0 && !(bl > hl &&
	    b->u_host[bl - hl - 1] == '.' &&
	    strcmp(b->u_host + bl - hl, a->u_host) == 0)) {
		if (loopback(a->u_host) && loopback(b->u_host))
			snprintf(why, whylen, "host differs: %s vs %s (a "
			    "loopback name and address are different hosts)",
			    b->u_host, a->u_host);
		else
			snprintf(why, whylen, "host differs: %s vs %s",
			    b->u_host, a->u_host);
		return RD_HOST;
	}
	/* A loopback callback accepts any port (RFC 8252 7.3). */
	if (port_of(a) != port_of(b) && !(loopback(a->u_host) &&
	    a->u_port == -1)) {
		snprintf(why, whylen, "port differs: %d vs %d", port_of(b),
		    port_of(a));
		return RD_PORT;
	}
	pl = strlen(a->u_path);
	if (strcmp(a->u_path, b->u_path) == 0)
		return RD_MATCH;
	if (strncmp(b->u_path, a->u_path, pl) == 0 &&
	    (a->u_path[pl - 1] == '/' || b->u_path[pl] == '/'))
		return RD_MATCH;
	if (strlen(b->u_path) + 1 == pl && a->u_path[pl - 1] == '/' &&
	    strncmp(a->u_path, b->u_path, pl - 1) == 0)
		snprintf(why, whylen, "trailing slash differs: %s vs %s",
		    b->u_path, a->u_path);
	else
		snprintf(why, whylen, "path %s is not %s or below it",
		    b->u_path, a->u_path);
	return RD_PATH;
}

int
diag_redirect_match(const char *registered, const char *sent, char *why,
    size_t whylen)
{
	struct url	a, b;

	if (url_split(registered, &a) == -1 || url_split(sent, &b) == -1) {
		snprintf(why, whylen,
		    "the redirect_uri is not an absolute URL");
		return 0;
	}
	return redirect_diff(&a, &b, why, whylen) == RD_MATCH;
}

void
diag_authorize_mismatch(const char *registered, const char *sent,
    struct diag_result *res)
{
	struct url	a, b;
	char		port[2][16];

	memset(res, 0, sizeof(*res));
	if (url_split(registered, &a) == -1 || url_split(sent, &b) == -1)
		return;
	switch (redirect_diff(&a, &b, res->dg_detail,
	    sizeof(res->dg_detail))) {
	case RD_MATCH:
	case RD_INVALID:
		return;
	case RD_SCHEME:
		res->dg_cause = DC_CALLBACK_SCHEME;
		snprintf(res->dg_was, sizeof(res->dg_was), "%s", b.u_scheme);
		snprintf(res->dg_want, sizeof(res->dg_want), "%s", a.u_scheme);
		break;
	case RD_HOST:
		res->dg_cause = DC_CALLBACK_HOST;
		snprintf(res->dg_was, sizeof(res->dg_was), "%s", b.u_host);
		snprintf(res->dg_want, sizeof(res->dg_want), "%s", a.u_host);
		break;
	case RD_PORT:
		res->dg_cause = DC_CALLBACK_PORT;
		snprintf(port[0], sizeof(port[0]), "%d", port_of(&b));
		snprintf(port[1], sizeof(port[1]), "%d", port_of(&a));
		snprintf(res->dg_was, sizeof(res->dg_was), "%s", port[0]);
		snprintf(res->dg_want, sizeof(res->dg_want), "%s", port[1]);
		break;
	case RD_PATH:
		res->dg_cause = DC_CALLBACK_PATH;
		snprintf(res->dg_was, sizeof(res->dg_was), "%s", b.u_path);
		snprintf(res->dg_want, sizeof(res->dg_want), "%s", a.u_path);
		break;
	}
	snprintf(res->dg_registered, sizeof(res->dg_registered), "%s",
	    registered);
}

static void
explain_redirect(struct flowmem *fm, const struct diag_request *r,
    const char *client_id, struct diag_result *res)
{
	struct flow	*a;

	if (r->dr_redirect_uri == NULL)
		return;
	a = flow_authorize(fm, r, client_id);
	if (a == NULL || a->f_redirect_uri[0] == '\0')
		return;
	snprintf(res->dg_registered, sizeof(res->dg_registered), "%s",
	    a->f_redirect_uri);
	if (strcmp(a->f_redirect_uri, r->dr_redirect_uri) == 0) {
		/* Same as the authorize request: the registered callback
		 * is what differs. */
		res->dg_cause = DC_REDIRECT_UNREGISTERED;
		return;
	}
	diag_redirect_match(a->f_redirect_uri, r->dr_redirect_uri,
	    res->dg_detail, sizeof(res->dg_detail));
	if (res->dg_detail[0] == '\0')
		snprintf(res->dg_detail, sizeof(res->dg_detail),
		    "it differs from the authorize request's");
	res->dg_cause = DC_REDIRECT_DIFFERS;
}

static const char *const cause_names[DC_COUNT] = {
	[DC_NONE] = "",
	[DC_CODE_REUSED] = "code_reused",
	[DC_CODE_EXPIRED] = "code_expired",
	[DC_CODE_OTHER_CLIENT] = "code_other_client",
	[DC_WHITESPACE] = "whitespace",
	[DC_SECRET_SHAPE] = "secret_shape",
	[DC_ID_SHAPE] = "id_shape",
	[DC_BOTH_AUTH] = "both_auth",
	[DC_MISSING_SECRET] = "missing_secret",
	[DC_REDIRECT_DIFFERS] = "redirect_differs",
	[DC_REDIRECT_UNREGISTERED] = "redirect_unregistered",
	[DC_CODE_REUSED_OVERLAP] = "code_reused",
	[DC_CODE_FAILED_BEFORE] = "code_already_failed",
	[DC_CALLBACK_SCHEME] = "callback_scheme",
	[DC_CALLBACK_HOST] = "callback_host",
	[DC_CALLBACK_PORT] = "callback_port",
	[DC_CALLBACK_PATH] = "callback_path",
	[DC_BROWSER_EXCHANGE] = "browser_exchange",
	[DC_PKCE_MISSING] = "pkce_verifier_missing",
	[DC_PKCE_MISMATCH] = "pkce_verifier_mismatch",
	[DC_REFRESH_REUSED] = "refresh_token_reused",
	[DC_SECRET_OTHER_APP] = "secret_other_app",
	[DC_CALLBACK_ERROR] = "callback_error_unhandled",
	[DC_CODE_OTHER_HOST] = "code_other_host",
	[DC_CLIENT_OTHER_HOST] = "client_other_host",
	[DC_TOKEN_METHOD] = "token_method",
	[DC_TOKEN_API_PATH] = "token_api_path",
	[DC_SLOW_DOWN] = "poll_interval",
	[DC_FORM_ANSWER] = "form_answer",
};

/* Sentence keys that are not the cause's name. */
static const char *const cause_keys[DC_COUNT] = {
	[DC_CODE_REUSED_OVERLAP] = "code_reused_overlap",
};

const char *
diag_cause_name(enum diag_cause cause)
{
	return cause < DC_COUNT ? cause_names[cause] : "";
}

const char *
diag_cause_key(enum diag_cause cause)
{
	if (cause >= DC_COUNT)
		return "";
	return cause_keys[cause] != NULL ? cause_keys[cause] :
	    cause_names[cause];
}

void
diag_explain(struct flowmem *fm, const char *error,
    const struct diag_request *r, struct diag_result *res)
{
	const char	*client_id = nonempty(r->dr_client_id) ?
			    r->dr_client_id : r->dr_basic_id;

	memset(res, 0, sizeof(*res));
	if (r->dr_browser) {
		/* Whatever GitHub said, the page cannot read it (no CORS
		 * headers) and the secret must not be in a browser. */
		res->dg_cause = DC_BROWSER_EXCHANGE;
		return;
	}
	if (strcmp(error, "bad_verification_code") == 0)
		explain_code(fm, r, error, client_id, res);
	else if (strcmp(error, "bad_refresh_token") == 0)
		explain_refresh(fm, r, error, res);
	else if (strcmp(error, "incorrect_client_credentials") == 0) {
		explain_credentials(r, res);
		if (res->dg_cause == DC_NONE)
			explain_other_app(fm, r, client_id, res);
	}
	else if (strcmp(error, "redirect_uri_mismatch") == 0)
		explain_redirect(fm, r, client_id, res);
}

void
diag_requested_scope(struct flowmem *fm, const struct diag_request *r,
    char *buf, size_t len)
{
	/* Only through this code's own flow: a newest-authorize guess
	 * could compare unrelated flows. */
	struct flow	*a = r->dr_code != NULL ? flow_authorize(fm, r, NULL) :
			    NULL;

	snprintf(buf, len, "%s", a != NULL ? a->f_scope : "");
}

int
diag_authorize_of(struct flowmem *fm, const char *query, size_t len,
    uint64_t now, char *client_id, size_t cidlen, char *redirect_uri,
    size_t rulen)
{
	char		 state[512];
	unsigned char	 key[KEYLEN];
	struct flow	*a;

	if (param(query, len, "state", state, sizeof(state)) == -1)
		return -1;
	keyed(fm, "state", state, key);
	OPENSSL_cleanse(state, sizeof(state));
	if ((a = flow_find(fm, FL_AUTHORIZE, key, NULL, now)) == NULL)
		return -1;
	snprintf(client_id, cidlen, "%s", a->f_client_id);
	snprintf(redirect_uri, rulen, "%s", a->f_redirect_uri);
	return 0;
}

int
diag_device_poll(struct flowmem *fm, const char *device_code, uint64_t now,
    uint64_t *elapsed_ms, unsigned *interval_s)
{
	unsigned char	 key[KEYLEN];
	struct flow	*f;
	int		 fast = 0;

	keyed(fm, "device", device_code, key);
	*interval_s = 5;
	*elapsed_ms = 0;
	if ((f = flow_find(fm, FL_POLL, key, NULL, now)) != NULL) {
		*interval_s = f->f_interval;
		*elapsed_ms = now - f->f_ms;
		fast = *elapsed_ms < (uint64_t)f->f_interval * 1000;
		f->f_ms = now;
		return fast;
	}
	f = flow_add(fm, FL_POLL, now);
	memcpy(f->f_key, key, KEYLEN);
	f->f_interval = 5;
	return 0;
}

void
diag_device_interval(struct flowmem *fm, const char *device_code,
    unsigned interval_s, uint64_t now)
{
	unsigned char	 key[KEYLEN];
	struct flow	*f;

	keyed(fm, "device", device_code, key);
	if ((f = flow_find(fm, FL_POLL, key, NULL, now)) != NULL)
		f->f_interval = interval_s;
}
