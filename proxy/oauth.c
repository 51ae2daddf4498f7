#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include <event2/buffer.h>
#include <yajl/yajl_parse.h>

#include "annotate.h"
#include "catalog.h"
#include "config.h"
#include "diag.h"
#include "oauthlens.h"
#include "http1.h"
#include "inspect.h"
#include "log.h"
#include "oauth.h"
#include "redact.h"
#include "status.h"
#include "util.h"

#define REQ_BODY_MAX	16384

/* What OAuth watches in an exchange. */
enum oauth_kind {
	OK_TOKEN,		/* a token-endpoint request */
	OK_AUTHORIZE,		/* an authorize request: its redirect */
	OK_CALLBACK,		/* a callback carrying an error */
	OK_MISSED		/* a token request the endpoint will not take */
};

struct oauth_x {
	enum oauth_kind		 o_kind;
	struct oauth_ctx	 o_ctx;		/* strings borrowed */
	const struct config	*o_cf;		/* borrowed */
	enum lang		 o_lang;
	struct evbuffer		*o_req;		/* owned: request body */
	char			*o_query;	/* owned: target query */
	char			 o_basic_id[128];	/* id from Basic auth */
	char			 o_basic_secret[256]; /* for diagnosis only */
	struct inspect		*o_insp;	/* owned */
	int			 o_failed;	/* inspection gave up */
	int			 o_req_json;	/* request body is JSON */
	int			 o_browser;	/* sent by a web page */
	int			 o_accept_fmt;	/* Accept names JSON or XML */
	int			 o_fetch;	/* Sec-Fetch-Mode: cors */
	int			 o_form;	/* the answer is form-encoded */
	int			 o_begun;	/* in the flow memory */
	int			 o_done;	/* its exchange ended there */
	char			*o_redirect;	/* owned: its redirect_uri */
	char			 o_client_id[128]; /* authorize's client_id */
	enum diag_cause		 o_cause;	/* OK_MISSED: why */
	char			 o_what[1024];	/* OK_MISSED: method or path */
	char			*o_line;	/* owned: the header line */
	char			*o_head_line;	/* owned: for a head not held */
	int			 o_ended;	/* oauth_end was called */
};

static enum lang	 oauth_lang(const struct config *,
			    const struct http1_head *);

/* --lang auto: the first of ja/en by q-value in Accept-Language. */
static enum lang
pick_lang(const struct http1_head *h)
{
	const struct slice	*al = http1_header(h, "accept-language");
	const char		*cur, *end, *tok;
	size_t			 toklen;
	double			 best = -1;
	enum lang		 lang = LANG_JA;

	if (al == NULL)
		return LANG_JA;
	cur = al->s_ptr;
	end = cur + al->s_len;
	while (util_list_next(&cur, end, &tok, &toklen)) {
		const char	*semi = memchr(tok, ';', toklen);
		size_t		 n = semi ? (size_t)(semi - tok) : toklen;
		double		 q = 1.0;
		enum lang	 l;

		if (n >= 2 && strncasecmp(tok, "ja", 2) == 0 &&
		    (n == 2 || tok[2] == '-'))
			l = LANG_JA;
		else if (n >= 2 && strncasecmp(tok, "en", 2) == 0 &&
		    (n == 2 || tok[2] == '-'))
			l = LANG_EN;
		else
			continue;
		if (semi != NULL) {
			const char *qp = memmem(semi, toklen - n, "q=", 2);

			if (qp != NULL)
				q = strtod(qp + 2, NULL);
		}
		if (q > best) {
			best = q;
			lang = l;
		}
	}
	return lang;
}

/* Whether host is a token-endpoint host ("host" or "host/path" entries of
 * token_endpoints). */
static int
token_host(const struct config *cf, const char *host)
{
	size_t	i, n, hl = strlen(host);

	for (i = 0; i < cf->cf_token_endpoints.sl_n; i++) {
		n = strcspn(cf->cf_token_endpoints.sl_v[i], "/");
		if (n == hl && strncasecmp(cf->cf_token_endpoints.sl_v[i],
		    host, n) == 0)
			return 1;
	}
	return 0;
}

/* Whether host and path (without query) name a token endpoint: the entry's
 * path, or GitHub's /login/oauth/access_token for a bare host. */
static int
token_endpoint(const struct config *cf, const char *host,
    const char *path, size_t plen)
{
	static const char	 github[] = "/login/oauth/access_token";
	size_t			 i, n, hl = strlen(host);

	for (i = 0; i < cf->cf_token_endpoints.sl_n; i++) {
		const char	*e = cf->cf_token_endpoints.sl_v[i];
		const char	*p;

		n = strcspn(e, "/");
		if (n != hl || strncasecmp(e, host, n) != 0)
			continue;
		p = e[n] == '/' ? e + n : github;
		if (strlen(p) == plen && memcmp(p, path, plen) == 0)
			return 1;
	}
	return 0;
}

/* The one way an annotation leaves: its log record, and for a catalogued
 * code the "/" page's entry and the header line (malloc'd; else NULL). */
static char *
annotation_emit(const struct config *cf, const struct oauth_ctx *ctx,
    const struct annotation *a)
{
	annotate_log(a);
	if (a->an_hint == NULL)
		return NULL;
	if (ctx->oc_env != NULL)
		status_record(ctx->oc_env->oe_recent, ctx->oc_env->oe_stats, a);
	return annotate_header(cf->cf_header_name, a);
}

static int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * RFC 6749 section 2.3.1: Basic credentials are form-encoded before
 * base64 (Auth.js's oauth4webapi does so; many clients send them raw).
 * A value with a %XX escape is decoded in place ('+' is a space there);
 * one without is left as it came, so a raw '+' stays a '+'.
 */
static void
basic_form_decode(char *s)
{
	size_t	i, o;
	int	hi, lo, escaped = 0;

	for (i = 0; s[i] != '\0' && !escaped; i++)
		escaped = s[i] == '%' && hex_digit(s[i + 1]) >= 0 &&
		    hex_digit(s[i + 2]) >= 0;
	if (!escaped)
		return;
	for (i = o = 0; s[i] != '\0'; i++, o++) {
		if (s[i] == '%' && (hi = hex_digit(s[i + 1])) >= 0 &&
		    (lo = hex_digit(s[i + 2])) >= 0) {
			s[o] = (char)(hi * 16 + lo);
			i += 2;
		} else
			s[o] = s[i] == '+' ? ' ' : s[i];
	}
	s[o] = '\0';
}

/* The client_id and secret of "Authorization: Basic base64(id:secret)".
 * The secret is kept only for the diagnosis, wiped with the exchange. */
static void
basic_credentials(const struct http1_head *h, struct oauth_x *o)
{
	const struct slice	*a = http1_header(h, "authorization");
	unsigned char		 dec[384];
	const char		*colon;
	int			 n;

	if (a == NULL || a->s_len < 7 ||
	    strncasecmp(a->s_ptr, "basic ", 6) != 0)
		return;
	n = util_b64_decode(a->s_ptr + 6, a->s_len - 6, dec, sizeof(dec) - 1);
	if (n > 0) {
		dec[n] = '\0';
		colon = strchr((char *)dec, ':');
		if (colon != NULL && (size_t)(colon - (char *)dec) <
		    sizeof(o->o_basic_id)) {
			snprintf(o->o_basic_id, sizeof(o->o_basic_id), "%.*s",
			    (int)(colon - (char *)dec), dec);
			snprintf(o->o_basic_secret, sizeof(o->o_basic_secret),
			    "%s", colon + 1);
			basic_form_decode(o->o_basic_id);
			basic_form_decode(o->o_basic_secret);
		}
	}
	OPENSSL_cleanse(dec, sizeof(dec));
}

static struct oauth_x *
tracker_new(enum oauth_kind kind, const struct config *cf,
    const struct oauth_ctx *ctx, const struct http1_head *h)
{
	struct oauth_x	*o;

	if ((o = calloc(1, sizeof(*o))) == NULL)
		return NULL;
	o->o_kind = kind;
	o->o_ctx = *ctx;
	o->o_cf = cf;
	o->o_lang = oauth_lang(cf, h);
	return o;
}

/* A request a web page made: browsers send Origin with every POST and
 * Sec-Fetch-Site with every request; servers send neither. (Node's
 * fetch sends Sec-Fetch-Mode: cors, so that one proves nothing.) */
static int
browser_request(const struct http1_head *h)
{
	return http1_header(h, "origin") != NULL ||
	    http1_header(h, "sec-fetch-site") != NULL;
}

/* Accept names application/json or application/xml (with q > 0): the
 * only ways to get anything but GitHub's form-encoded default. */
static int
accepts_format(const struct http1_head *h)
{
	const struct slice	*ac = http1_header(h, "accept");
	const char		*cur, *end, *tok;
	size_t			 toklen;

	if (ac == NULL)
		return 0;
	cur = ac->s_ptr;
	end = cur + ac->s_len;
	while (util_list_next(&cur, end, &tok, &toklen)) {
		const char	*semi = memchr(tok, ';', toklen);
		size_t		 n = semi ? (size_t)(semi - tok) : toklen;
		const char	*qp;

		while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
			n--;
		if (!util_slice_ieq(tok, n, "application/json") &&
		    !util_slice_ieq(tok, n, "application/xml"))
			continue;
		if (semi != NULL && (qp = memmem(semi, toklen - n, "q=",
		    2)) != NULL && strtod(qp + 2, NULL) <= 0)
			continue;
		return 1;
	}
	return 0;
}

/* POST to a token endpoint: keep what the request says about the app. */
static struct oauth_x *
token_request(const struct config *cf, const struct oauth_ctx *ctx,
    const struct http1_head *h, const struct http1_target *t,
    const char *q, size_t plen)
{
	struct oauth_x		*o;
	const struct slice	*ct, *m;

	if ((o = tracker_new(OK_TOKEN, cf, ctx, h)) == NULL)
		return NULL;
	o->o_req = evbuffer_new();
	ct = http1_header(h, "content-type");
	o->o_req_json = ct != NULL && ct->s_len >= 16 &&
	    strncasecmp(ct->s_ptr, "application/json", 16) == 0;
	if (q != NULL)
		o->o_query = xstrndup(q + 1, t->t_path.s_len - plen - 1);
	basic_credentials(h, o);
	o->o_browser = browser_request(h);
	o->o_accept_fmt = accepts_format(h);
	m = http1_header(h, "sec-fetch-mode");
	o->o_fetch = m != NULL && util_slice_ieq(m->s_ptr, m->s_len, "cors");
	return o;
}

static char	*redirect_error(const struct config *, enum lang,
		    const char *, size_t, const struct oauth_ctx *,
		    const char *, const struct oauth_x *);
static char	*callback_url(const struct http1_target *, size_t);

/* Any other request with a query: an authorize request (its redirect
 * will deliver a code or an error), or a callback bringing a code or an
 * authorization error. Only keyed hashes of codes and states are kept. */
static struct oauth_x *
flow_request(const struct config *cf, const struct oauth_ctx *ctx,
    const struct http1_head *h, const struct http1_target *t,
    const char *q, size_t plen)
{
	struct flowmem	*fm = ctx->oc_env ? ctx->oc_env->oe_flow : NULL;
	struct oauth_x	*o;
	size_t		 qlen = t->t_path.s_len - plen - 1;
	char		*reg;

	if (fm == NULL)
		return NULL;
	q++;
	if (token_host(cf, t->t_host) && plen == 22 &&
	    memcmp(t->t_path.s_ptr, "/login/oauth/authorize", 22) == 0) {
		char	ru[1024];

		diag_authorize(fm, t->t_host, q, qlen, util_now_ms());
		if ((o = tracker_new(OK_AUTHORIZE, cf, ctx, h)) == NULL)
			return NULL;
		if (inspect_form_get(q, qlen, "redirect_uri", ru,
		    sizeof(ru)) > 0)
			o->o_redirect = xstrdup(ru);
		inspect_form_get(q, qlen, "client_id", o->o_client_id,
		    sizeof(o->o_client_id));
		return o;
	}
	if (memmem(q, qlen, "code=", 5) != NULL) {
		diag_code_issued(fm, q, qlen, util_now_ms());
		return NULL;
	}
	if (memmem(q, qlen, "error=", 6) == NULL ||
	    memmem(q, qlen, "state=", 6) == NULL)
		return NULL;
	/* The browser brings an authorization error to the callback: say
	 * so on the app's answer. */
	if ((o = tracker_new(OK_CALLBACK, cf, ctx, h)) == NULL)
		return NULL;
	/* GitHub sends a mismatching authorize request to the registered
	 * callback: this very URL. */
	reg = callback_url(t, plen);
	o->o_head_line = redirect_error(cf, o->o_lang, q, qlen, ctx, reg,
	    NULL);
	free(reg);
	if (o->o_head_line == NULL) {
		oauth_free(o);
		return NULL;
	}
	return o;
}

/* POST /login/device/code on a token host: the device flow's first step,
 * answered by device_flow_disabled when the app has it off. */
static int
device_code_endpoint(const struct config *cf, const struct http1_target *t,
    size_t plen)
{
	return token_host(cf, t->t_host) && plen == 18 &&
	    memcmp(t->t_path.s_ptr, "/login/device/code", 18) == 0;
}

/* Why the token endpoint will answer this request with 404, or DC_NONE:
 * a GET (a link, a redirect, a fetch() without a method), a page's CORS
 * preflight, or (GitHub Enterprise Server) the REST API's /api/v3 prefix
 * in front of the OAuth path. A PUT and such are nobody's usual slip. */
static enum diag_cause
missed_cause(const struct config *cf, const struct http1_head *h,
    const struct http1_target *t, size_t plen)
{
	static const char	 api[] = "/api/v3/login/oauth/";

	if (token_endpoint(cf, t->t_host, t->t_path.s_ptr, plen)) {
		if (strcmp(h->h_method, "GET") == 0)
			return DC_TOKEN_METHOD;
		if (strcmp(h->h_method, "OPTIONS") == 0 && browser_request(h))
			return DC_BROWSER_EXCHANGE;
		return DC_NONE;
	}
	if (token_host(cf, t->t_host) && plen > sizeof(api) - 1 &&
	    memcmp(t->t_path.s_ptr, api, sizeof(api) - 1) == 0)
		return DC_TOKEN_API_PATH;
	return DC_NONE;
}

/* A request meant for the token endpoint that it will answer with 404: a
 * tracker that annotates the 404 (missed_response), or NULL. */
static struct oauth_x *
missed_request(const struct config *cf, const struct oauth_ctx *ctx,
    const struct http1_head *h, const struct http1_target *t, size_t plen)
{
	struct oauth_x		*o;
	enum diag_cause		 cause = missed_cause(cf, h, t, plen);

	if (cause == DC_NONE ||
	    (o = tracker_new(OK_MISSED, cf, ctx, h)) == NULL)
		return NULL;
	o->o_cause = cause;
	if (cause == DC_TOKEN_API_PATH)
		snprintf(o->o_what, sizeof(o->o_what), "%.*s", (int)plen,
		    t->t_path.s_ptr);
	else
		snprintf(o->o_what, sizeof(o->o_what), "%s", h->h_method);
	return o;
}

struct oauth_x *
oauth_request(const struct config *cf, const struct oauth_ctx *ctx,
    const struct http1_head *h, const struct http1_target *t,
    unsigned *wflags)
{
	struct oauth_x	*o;
	const char	*q;
	size_t		 plen;

	if (t->t_path.s_ptr == NULL)
		return NULL;
	plen = t->t_path.s_len;
	q = memchr(t->t_path.s_ptr, '?', plen);
	if (q != NULL)
		plen = (size_t)(q - t->t_path.s_ptr);
	if (strcmp(h->h_method, "POST") == 0 &&
	    (token_endpoint(cf, t->t_host, t->t_path.s_ptr, plen) ||
	    device_code_endpoint(cf, t, plen))) {
		if ((o = token_request(cf, ctx, h, t, q, plen)) != NULL)
			*wflags |= HTTP1_W_DECODABLE;
		/* A code in the token request's own query is remembered
		 * as any other that passes (as it always was). */
		if (q != NULL && ctx->oc_env != NULL &&
		    ctx->oc_env->oe_flow != NULL &&
		    memmem(q + 1, t->t_path.s_len - plen - 1, "code=", 5))
			diag_code_issued(ctx->oc_env->oe_flow, q + 1,
			    t->t_path.s_len - plen - 1, util_now_ms());
		return o;
	}
	if ((o = missed_request(cf, ctx, h, t, plen)) != NULL)
		return o;
	return q != NULL ? flow_request(cf, ctx, h, t, q, plen) : NULL;
}

/* The URL a request was sent to, without its query (malloc'd): scheme
 * from the tunnel, the port only when not the scheme's default. */
static char *
callback_url(const struct http1_target *t, size_t plen)
{
	const char	*scheme = t->t_tls ? "https" : "http";
	char		 port[8] = "";
	char		*url;
	int		 v6 = strchr(t->t_host, ':') != NULL;	/* [::1] */

	if (t->t_port != (t->t_tls ? 443 : 80))
		snprintf(port, sizeof(port), ":%u", (unsigned)t->t_port);
	if (asprintf(&url, "%s://%s%s%s%s%.*s", scheme, v6 ? "[" : "",
	    t->t_host, v6 ? "]" : "", port, (int)plen, t->t_path.s_ptr) == -1)
		return NULL;
	return url;
}

void
oauth_request_body(struct oauth_x *o, const char *p, size_t len)
{
	size_t	have;

	if (o == NULL || o->o_req == NULL ||
	    (have = evbuffer_get_length(o->o_req)) >= REQ_BODY_MAX)
		return;
	if (len > REQ_BODY_MAX - have)
		len = REQ_BODY_MAX - have;
	evbuffer_add(o->o_req, p, len);
}

static void	 clock_check(struct oauth_env *, const struct http1_head *);
static void	 render_cause(const char *, const struct diag_result *,
		    const struct diag_request *, const struct redact *, char *,
		    size_t);

/* Open a log record of an exchange's OAuth event: its request number,
 * client and host first. */
static void
oauth_rec_begin(struct logrec *lr, enum log_level level, const char *event,
    const struct oauth_ctx *ctx)
{
	logrec_begin(lr, level, event);
	logrec_int(lr, "req", (long long)ctx->oc_req);
	logrec_str(lr, "client", ctx->oc_client);
	logrec_str(lr, "host", ctx->oc_host);
}

/* GitHub refused the authorize request with a page of its own instead of
 * redirecting back (reported for a redirect_uri not associated with the
 * app; undocumented). We assume it comes with a 4xx status: a 200 page is
 * also what a login or consent page is, so only a 4xx is claimed, and not
 * its prose. The browser never returns to the app: say which
 * redirect_uri the request carried. */
static void
authorize_refused(struct oauth_x *o, int status)
{
	const struct oauth_ctx	*ctx = &o->o_ctx;
	struct logrec		 lr;

	oauth_rec_begin(&lr, LL_WARN, "oauth-authorize-refused", ctx);
	logrec_int(&lr, "status", status);
	if (o->o_client_id[0] != '\0')
		logrec_str(&lr, "client_id", o->o_client_id);
	if (o->o_redirect != NULL)
		logrec_target(&lr, "redirect_uri", o->o_redirect,
		    strlen(o->o_redirect));
	logrec_str(&lr, "msg", "the provider refused the authorize request "
	    "with a page of its own and will not redirect back to the app: "
	    "check the client_id, and that the redirect_uri is allowed by the "
	    "app's registered callback URL");
	logrec_end(&lr);
}

/* An authorize request answered by a redirect to the callback: with a
 * code (remembered), or with an error (said on the app's answer). */
static void
authorize_response(struct oauth_x *o, const struct http1_head *h)
{
	struct flowmem		*fm = o->o_ctx.oc_env->oe_flow;
	const struct slice	*loc;
	const char		*q;
	size_t			 qlen;

	if (h->h_status / 100 == 4) {
		authorize_refused(o, h->h_status);
		return;
	}
	if (h->h_status / 100 != 3 ||
	    (loc = http1_header(h, "location")) == NULL ||
	    (q = memchr(loc->s_ptr, '?', loc->s_len)) == NULL)
		return;
	q++;
	qlen = (size_t)(loc->s_ptr + loc->s_len - q);
	if (memmem(q, qlen, "error=", 6) != NULL) {
		/* On redirect_uri_mismatch the Location is the registered
		 * callback (GitHub documents it): compare. */
		char *reg = xstrndup(loc->s_ptr, (size_t)(q - 1 - loc->s_ptr));

		o->o_head_line = redirect_error(o->o_cf, o->o_lang, q, qlen,
		    &o->o_ctx, reg, o);
		free(reg);
		return;
	}
	diag_code_issued(fm, q, qlen, util_now_ms());
}

/* The token endpoint answered 404 to a request it does not take: the
 * provider sent no error code, so the item is "not_found" (the catalog's
 * hint for a 404) and the cause says what was wrong with the request. */
static char *
missed_response(struct oauth_x *o)
{
	const struct oauth_ctx	*ctx = &o->o_ctx;
	struct annotation	 a;
	struct diag_result	 d;
	struct diag_request	 r;
	const char		*tmpl;
	char			 sentence[1024];

	memset(&a, 0, sizeof(a));
	memset(&d, 0, sizeof(d));
	memset(&r, 0, sizeof(r));
	a.an_req = ctx->oc_req;
	a.an_client = ctx->oc_client;
	a.an_host = ctx->oc_host;
	a.an_code = "not_found";
	a.an_lang = o->o_lang;
	a.an_hint = catalog_lookup(o->o_cf->cf_catalog, a.an_code, o->o_lang);
	d.dg_cause = o->o_cause;
	snprintf(d.dg_field, sizeof(d.dg_field), "%s", o->o_what);
	snprintf(d.dg_was, sizeof(d.dg_was), "%s", ctx->oc_host);
	r.dr_redirect_uri = o->o_what;		/* {sent}: the path */
	tmpl = catalog_cause(o->o_cf->cf_catalog, d.dg_cause, o->o_lang);
	if (tmpl != NULL) {
		render_cause(tmpl, &d, &r, NULL, sentence, sizeof(sentence));
		a.an_cause = diag_cause_name(d.dg_cause);
		a.an_diagnosis = sentence;
	}
	return annotation_emit(o->o_cf, ctx, &a);
}

int
oauth_response_head(struct oauth_x *o, const struct http1_head *h)
{
	const struct slice	*ct, *ce;

	if (o == NULL)
		return 0;
	if (o->o_kind == OK_AUTHORIZE)
		authorize_response(o, h);
	if (o->o_kind == OK_MISSED && h->h_status == 404)
		o->o_head_line = missed_response(o);
	if (o->o_kind != OK_TOKEN)
		return 0;
	if (o->o_ctx.oc_env != NULL)
		clock_check(o->o_ctx.oc_env, h);
	if (h->h_body == HTTP1_BODY_NONE)
		return 0;
	ct = http1_header(h, "content-type");
	ce = http1_header(h, "content-encoding");
	o->o_form = ct != NULL && ct->s_len >= 33 &&
	    strncasecmp(ct->s_ptr, "application/x-www-form-urlencoded",
	    33) == 0;
	o->o_insp = inspect_new(ct ? ct->s_ptr : NULL, ct ? ct->s_len : 0,
	    ce ? ce->s_ptr : NULL, ce ? ce->s_len : 0,
	    o->o_cf->cf_inspect_max_bytes);
	if (o->o_insp == NULL) {
		log_warnx("token response with Content-Encoding \"%.*s\" "
		    "relayed without inspection", ce ? (int)ce->s_len : 0,
		    ce ? ce->s_ptr : "");
		return 0;
	}
	return 1;
}

const char *
oauth_head_line(const struct oauth_x *o)
{
	return o != NULL ? o->o_head_line : NULL;
}

void
oauth_response_body(struct oauth_x *o, const char *p, size_t len)
{
	if (o != NULL && o->o_insp != NULL && !o->o_failed &&
	    inspect_feed(o->o_insp, p, len) == -1)
		o->o_failed = 1;
}

/* Inspection was given up (why: a short phrase): one warn record. */
static void
abandon(struct oauth_x *o, const char *why)
{
	const struct oauth_ctx	*ctx = &o->o_ctx;
	struct logrec	lr;

	oauth_rec_begin(&lr, LL_WARN, "oauth-uninspected", ctx);
	logrec_str(&lr, "reason", why);
	logrec_end(&lr);
	o->o_failed = 1;
}

/* A top-level string member of a JSON request body (clients such as
 * Octokit send {"client_id": ..., "code": ...}). */
struct jget {
	const char	*jg_key;
	char		*jg_out;
	size_t		 jg_outlen;
	int		 jg_depth;
	int		 jg_want;	/* the last key at depth 1 was ours */
	int		 jg_found;
};

static int
jg_string(void *ctx, const unsigned char *s, size_t len)
{
	struct jget	*g = ctx;

	if (g->jg_depth == 1 && g->jg_want && len < g->jg_outlen &&
	    memchr(s, '\0', len) == NULL) {
		memcpy(g->jg_out, s, len);
		g->jg_out[len] = '\0';
		g->jg_found = 1;
	}
	g->jg_want = 0;
	return 1;
}

static int
jg_key(void *ctx, const unsigned char *s, size_t len)
{
	struct jget	*g = ctx;

	g->jg_want = g->jg_depth == 1 && strlen(g->jg_key) == len &&
	    memcmp(g->jg_key, s, len) == 0;
	return 1;
}

static int
jg_open(void *ctx)
{
	struct jget	*g = ctx;

	g->jg_want = 0;
	return ++g->jg_depth < 32;
}

static int
jg_close(void *ctx)
{
	((struct jget *)ctx)->jg_depth--;
	return 1;
}

static int
jg_other(void *ctx)
{
	((struct jget *)ctx)->jg_want = 0;
	return 1;
}

static int
jg_bool(void *ctx, int b)
{
	return jg_other(ctx);
}

static int
jg_number(void *ctx, const char *s, size_t len)
{
	return jg_other(ctx);
}

static const yajl_callbacks jg_callbacks = {
	jg_other, jg_bool, NULL, NULL, jg_number, jg_string, jg_open, jg_key,
	jg_close, jg_open, jg_close
};

static int
json_get_param(const char *body, size_t len, const char *key, char *out,
    size_t outlen)
{
	struct jget	g = { key, out, outlen, 0, 0, 0 };
	yajl_handle	h = yajl_alloc(&jg_callbacks, NULL, &g);

	if (h == NULL)
		return -1;
	if (yajl_parse(h, (const unsigned char *)body, len) == yajl_status_ok)
		yajl_complete_parse(h);
	yajl_free(h);
	return g.jg_found ? 0 : -1;
}

/* A parameter of the request: body (form or JSON) first, then the
 * query. */
static int
request_param(struct oauth_x *o, const char *key, char *out, size_t outlen)
{
	size_t		 len = evbuffer_get_length(o->o_req);
	const char	*body = (const char *)evbuffer_pullup(o->o_req, -1);

	if (body != NULL && o->o_req_json &&
	    json_get_param(body, len, key, out, outlen) == 0)
		return 0;
	if (body != NULL && !o->o_req_json &&
	    inspect_form_get(body, len, key, out, outlen) >= 0)
		return 0;
	if (o->o_query != NULL && inspect_form_get(o->o_query,
	    strlen(o->o_query), key, out, outlen) >= 0)
		return 0;
	out[0] = '\0';
	return -1;
}

/* Fill a cause sentence's placeholders. */
static void
render_cause(const char *tmpl, const struct diag_result *d,
    const struct diag_request *r, const struct redact *rd, char *out,
    size_t outlen)
{
	size_t	o = 0;

	while (*tmpl != '\0' && o + 1 < outlen) {
		char		 val[600];
		const char	*end;
		size_t		 n;

		if (*tmpl != '{' || (end = strchr(tmpl, '}')) == NULL) {
			out[o++] = *tmpl++;
			continue;
		}
		n = (size_t)(end - tmpl - 1);
		val[0] = '\0';
		if (n == 3 && strncmp(tmpl + 1, "age", 3) == 0)
			snprintf(val, sizeof(val), "%lld", d->dg_age_s);
		else if (n == 3 && strncmp(tmpl + 1, "req", 3) == 0)
			snprintf(val, sizeof(val), "%llu",
			    (unsigned long long)d->dg_prev_req);
		else if (n == 3 && strncmp(tmpl + 1, "len", 3) == 0)
			snprintf(val, sizeof(val), "%zu", d->dg_len);
		else if (n == 5 && strncmp(tmpl + 1, "field", 5) == 0)
			snprintf(val, sizeof(val), "%s", d->dg_field);
		else if (n == 6 && strncmp(tmpl + 1, "detail", 6) == 0)
			redact_text(rd, d->dg_detail, strlen(d->dg_detail),
			    val, sizeof(val));
		else if (n == 4 && strncmp(tmpl + 1, "sent", 4) == 0)
			redact_url(rd, r->dr_redirect_uri ?
			    r->dr_redirect_uri : "", r->dr_redirect_uri ?
			    strlen(r->dr_redirect_uri) : 0, val, sizeof(val));
		else if (n == 10 && strncmp(tmpl + 1, "registered", 10) == 0)
			redact_url(rd, d->dg_registered,
			    strlen(d->dg_registered), val, sizeof(val));
		else if (n == 3 && strncmp(tmpl + 1, "was", 3) == 0)
			redact_text(rd, d->dg_was, strlen(d->dg_was), val,
			    sizeof(val));
		else if (n == 4 && strncmp(tmpl + 1, "want", 4) == 0)
			redact_text(rd, d->dg_want, strlen(d->dg_want), val,
			    sizeof(val));
		else {
			out[o++] = *tmpl++;
			continue;
		}
		/* Request text (a redirect_uri) is shown, not trusted: only
		 * printable ASCII goes into the sentence, other bytes
		 * percent-encoded (the same URL; a '?' would start a query
		 * for the redaction the sinks apply again). */
		for (n = 0; val[n] != '\0' && o + 1 < outlen; n++) {
			unsigned char ch = (unsigned char)val[n];

			if (ch >= 0x20 && ch <= 0x7e)
				out[o++] = (char)ch;
			else if (o + 4 < outlen) {
				snprintf(out + o, 4, "%%%02X", ch);
				o += 3;
			} else
				break;
		}
		tmpl = end + 1;
	}
	out[o] = '\0';
}

/* A device-flow poll sooner than the interval: GitHub answers slow_down
 * and adds 5 seconds each time. */
static void
device_poll(struct flowmem *fm, const struct diag_request *r,
    const struct oauth_ctx *ctx)
{
	struct logrec	lr;
	uint64_t	elapsed;
	unsigned	interval;

	if (!diag_device_poll(fm, r->dr_device_code, r->dr_now_ms, &elapsed,
	    &interval))
		return;
	oauth_rec_begin(&lr, LL_WARN, "oauth-device-poll", ctx);
	logrec_int(&lr, "elapsed_ms", (long long)elapsed);
	logrec_int(&lr, "interval", interval);
	logrec_str(&lr, "msg", "the client polls the token endpoint faster "
	    "than the device flow's interval; wait at least interval seconds "
	    "between polls (slow_down raises it by 5)");
	logrec_end(&lr);
}

static int
scope_has(const char *list, const char *s, size_t n)
{
	const char	*p = list;

	while (*p != '\0') {
		size_t	l;

		p += strspn(p, " ,");
		l = strcspn(p, " ,");
		if (l == n && strncmp(p, s, n) == 0)
			return 1;
		p += l;
	}
	return 0;
}

/* The token grants fewer scopes than the authorize request asked for. */
static void
scope_check(struct flowmem *fm, const struct diag_request *r,
    const struct inspect_result *res, const struct oauth_ctx *ctx)
{
	struct logrec	 lr;
	char		 want[256];
	const char	*p;
	int		 missing = 0;

	diag_requested_scope(fm, r, want, sizeof(want));
	for (p = want; *p != '\0';) {
		size_t	l;

		p += strspn(p, " ,");
		l = strcspn(p, " ,");
		if (l > 0 && !scope_has(res->scope, p, l))
			missing = 1;
		p += l;
	}
	if (!missing)
		return;
	logrec_begin(&lr, LL_INFO, "oauth-scope");
	logrec_int(&lr, "req", (long long)ctx->oc_req);
	logrec_str(&lr, "host", ctx->oc_host);
	logrec_str(&lr, "requested", want);
	logrec_str(&lr, "granted", res->scope);
	logrec_str(&lr, "msg", "the token grants fewer scopes than the "
	    "authorization request asked for (the user or an organization "
	    "policy narrowed them)");
	logrec_end(&lr);
}

/* The request's parameters, for the diagnosis and the log record. */
struct params {
	char	code[512], client_id[256], client_secret[256];
	char	redirect_uri[1024], grant_type[128], device_code[256];
	char	refresh_token[512], code_verifier[256];
};

/* A client_id that has a client secret's shape (40 hex characters) once
 * whitespace and quotes around it are trimmed: a swapped value. */
static int
secret_shaped(const char *v)
{
	size_t	n;

	v += strspn(v, " \t\r\n\"'");
	n = strspn(v, "0123456789abcdefABCDEF");
	return n == 40 && v[n + strspn(v + n, " \t\r\n\"'")] == '\0';
}

/*
 * The secrets of the exchange, masked in every sink: the request's code,
 * client secrets (body and Basic), device code, refresh token and PKCE
 * verifier, and a client_id that is shaped like a secret. Borrows p.
 */
static void
fill_redact(struct oauth_x *o, struct params *p, const struct diag_request *r,
    struct redact *rd)
{
	redact_init(rd);
	redact_add(rd, r->dr_code);
	redact_add(rd, r->dr_client_secret);
	redact_add(rd, r->dr_basic_secret);
	redact_add(rd, r->dr_device_code);
	if (request_param(o, "refresh_token", p->refresh_token,
	    sizeof(p->refresh_token)) == 0)
		redact_add(rd, p->refresh_token);
	if (request_param(o, "code_verifier", p->code_verifier,
	    sizeof(p->code_verifier)) == 0)
		redact_add(rd, p->code_verifier);
	if (r->dr_client_id != NULL && secret_shaped(r->dr_client_id))
		redact_add(rd, r->dr_client_id);
	if (r->dr_basic_id != NULL && secret_shaped(r->dr_basic_id))
		redact_add(rd, r->dr_basic_id);
}

static void
fill_request(struct oauth_x *o, struct params *p, struct diag_request *r,
    const struct oauth_ctx *ctx)
{
	memset(r, 0, sizeof(*r));
	r->dr_req = ctx->oc_req;
	r->dr_now_ms = util_now_ms();
#define P(field) (request_param(o, #field, p->field, sizeof(p->field)) == \
	0 ? p->field : NULL)
	r->dr_code = P(code);
	r->dr_client_id = P(client_id);
	r->dr_client_secret = P(client_secret);
	r->dr_redirect_uri = P(redirect_uri);
	r->dr_grant_type = P(grant_type);
	r->dr_device_code = P(device_code);
	r->dr_code_verifier = P(code_verifier);
	r->dr_refresh_token = P(refresh_token);
#undef P
	r->dr_host = ctx->oc_host;
	r->dr_basic_id = o->o_basic_id[0] ? o->o_basic_id : NULL;
	r->dr_basic_secret = o->o_basic_secret[0] ? o->o_basic_secret : NULL;
	r->dr_browser = o->o_browser;
}

/* The token request is complete: its exchange is in the flow memory from
 * now on (r: its parameters), so an overlapping one is seen. */
static void
exchange_begin(struct oauth_x *o, struct flowmem *fm,
    const struct diag_request *r)
{
	if (o->o_begun || fm == NULL)
		return;
	o->o_begun = 1;
	diag_exchange_begin(fm, r);
}

/* The exchange ended: ok, failed with error, or (NULL) no answer read. */
static void
exchange_done(struct oauth_x *o, int ok, const char *error)
{
	struct flowmem	*fm = o->o_ctx.oc_env ? o->o_ctx.oc_env->oe_flow : NULL;

	if (!o->o_begun || o->o_done || fm == NULL)
		return;
	o->o_done = 1;
	diag_exchange_end(fm, o->o_ctx.oc_req, ok, error);
}

void
oauth_request_done(struct oauth_x *o)
{
	struct diag_request	 r;
	struct params		*p;

	if (o == NULL || o->o_kind != OK_TOKEN || o->o_begun ||
	    o->o_ctx.oc_env == NULL || o->o_ctx.oc_env->oe_flow == NULL ||
	    (p = calloc(1, sizeof(*p))) == NULL)
		return;
	fill_request(o, p, &r, &o->o_ctx);
	exchange_begin(o, o->o_ctx.oc_env->oe_flow, &r);
	OPENSSL_cleanse(p, sizeof(*p));
	free(p);
}

/* A token answered form-encoded because the request did not ask for
 * JSON: an app that parses JSON fails on it ("invalid character",
 * "Unexpected token"). Info only: curl, gh and many libraries want form. */
static void
form_success(const struct oauth_ctx *ctx)
{
	struct logrec	lr;

	oauth_rec_begin(&lr, LL_INFO, "oauth-format", ctx);
	logrec_str(&lr, "format", "form");
	logrec_str(&lr, "msg", "the token request sent no \"Accept: "
	    "application/json\", so the answer is form-encoded "
	    "(access_token=...&scope=...); an app that parses it as JSON "
	    "fails with \"invalid character\" or \"Unexpected token\"");
	logrec_end(&lr);
}

/* A token POST from a web page that got its token: the page cannot read
 * it, and the secret is in the browser. */
static void
browser_success(const struct oauth_ctx *ctx)
{
	struct logrec	lr;

	oauth_rec_begin(&lr, LL_WARN, "oauth-browser", ctx);
	logrec_str(&lr, "cause", diag_cause_name(DC_BROWSER_EXCHANGE));
	logrec_str(&lr, "msg", "a web page sent this token request (Origin, "
	    "Sec-Fetch-Site): the token endpoint sends no CORS headers, "
	    "so the page cannot read the answer, and the client_secret does "
	    "not belong in a browser; exchange the code on the server");
	logrec_end(&lr);
}

/* The held token response is complete: inspect, diagnose, annotate. */
static const char *
token_end(struct oauth_x *o)
{
	const struct oauth_ctx	*ctx = &o->o_ctx;
	struct inspect_result	 res;
	struct annotation	 a;
	struct diag_request	 r;
	struct diag_result	 d;
	struct params		*p;
	struct flowmem		*fm = ctx->oc_env ? ctx->oc_env->oe_flow : NULL;
	struct redact		 rd;
	const char		*tmpl;
	char			 sentence[1024];
	uint64_t		 secs;

	if (o->o_failed) {
		abandon(o, "the response body could not be decoded or is "
		    "larger than inspect_max_bytes");
		return NULL;
	}
	memset(&res, 0, sizeof(res));
	if (inspect_finish(o->o_insp, &res) == -1)
		return NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	fill_request(o, p, &r, ctx);
	/* The answer came before the request was complete. */
	exchange_begin(o, fm, &r);
	if (fm != NULL && r.dr_device_code != NULL)
		device_poll(fm, &r, ctx);
	if (!res.has_error) {
		if (res.has_access_token) {
			exchange_done(o, 1, NULL);
			if (o->o_browser)
				browser_success(ctx);
			if (o->o_form && !o->o_accept_fmt)
				form_success(ctx);
		}
		if (fm != NULL && res.has_access_token)
			scope_check(fm, &r, &res, ctx);
		goto out;
	}
	if (strcmp(res.error, "authorization_pending") == 0) {
		/* The normal answer while the user has not approved yet. */
		log_debug("req %llu: device flow: authorization_pending",
		    (unsigned long long)ctx->oc_req);
		goto out;
	}
	if (strcmp(res.error, "slow_down") == 0 && fm != NULL &&
	    r.dr_device_code != NULL && res.interval[0] != '\0')
		diag_device_interval(fm, r.dr_device_code,
		    (unsigned)strtoul(res.interval, NULL, 10), r.dr_now_ms);
	memset(&a, 0, sizeof(a));
	a.an_req = ctx->oc_req;
	a.an_client = ctx->oc_client;
	a.an_host = ctx->oc_host;
	a.an_code = res.error;
	a.an_lang = o->o_lang;
	fill_redact(o, p, &r, &rd);
	a.an_redact = &rd;
	a.an_client_id = r.dr_client_id ? r.dr_client_id : r.dr_basic_id;
	/* A client_id that is really a secret (swapped) is not shown,
	 * padded or not. */
	if (a.an_client_id != NULL && secret_shaped(a.an_client_id))
		a.an_client_id = "*** (40 hex characters: a client secret?)";
	a.an_redirect_uri = r.dr_redirect_uri;
	a.an_hint = catalog_lookup(o->o_cf->cf_catalog, res.error, o->o_lang);
	a.an_interval = res.interval[0] != '\0' ? res.interval : NULL;
	if (fm != NULL) {
		diag_explain(fm, res.error, &r, &d);
		tmpl = catalog_cause(o->o_cf->cf_catalog, d.dg_cause,
		    o->o_lang);
		if (tmpl != NULL) {
			render_cause(tmpl, &d, &r, &rd, sentence,
			    sizeof(sentence));
			a.an_cause = diag_cause_name(d.dg_cause);
			a.an_diagnosis = sentence;
		}
		a.an_retry_of = d.dg_retry_of;
	}
	/* slow_down: the hint itself names the interval now in force. */
	if (a.an_cause == NULL && strcmp(res.error, "slow_down") == 0 &&
	    util_parse_u64(res.interval, strlen(res.interval), 1, 86400,
	    &secs) == 0 && (tmpl = catalog_cause(o->o_cf->cf_catalog,
	    DC_SLOW_DOWN, o->o_lang)) != NULL) {
		memset(&d, 0, sizeof(d));
		d.dg_cause = DC_SLOW_DOWN;
		snprintf(d.dg_field, sizeof(d.dg_field), "%llu",
		    (unsigned long long)secs);
		render_cause(tmpl, &d, &r, &rd, sentence, sizeof(sentence));
		a.an_cause = diag_cause_name(d.dg_cause);
		a.an_diagnosis = sentence;
	}
	exchange_done(o, 0, res.error);
	/* An app that speaks JSON (it sends a JSON body, or uses fetch(),
	 * whose answers are read with .json()) and gets form back cannot
	 * read the error at all: say so after the hint. curl, gh and most
	 * server libraries read form: no note for them. */
	if (o->o_form && !o->o_accept_fmt && (o->o_req_json || o->o_fetch))
		a.an_note = catalog_cause(o->o_cf->cf_catalog, DC_FORM_ANSWER,
		    o->o_lang);
	o->o_line = annotation_emit(o->o_cf, ctx, &a);
out:
	OPENSSL_cleanse(p, sizeof(*p));
	free(p);
	return o->o_line;
}

const char *
oauth_end(struct oauth_x *o, enum oauth_outcome outcome)
{
	const char	*line = NULL;

	if (o == NULL || o->o_ended)
		return NULL;
	o->o_ended = 1;
	if (o->o_kind != OK_TOKEN)
		return NULL;
	switch (o->o_insp != NULL ? outcome : OAUTH_FAILED) {
	case OAUTH_COMPLETE:
		line = token_end(o);
		break;
	case OAUTH_TOO_LARGE:
		abandon(o, "the response body is larger than "
		    "inspect_max_bytes");
		break;
	case OAUTH_CUT:
		abandon(o, "the origin closed the connection before the body "
		    "was complete");
		break;
	case OAUTH_STALLED:
		abandon(o, "the origin sent nothing more for timeouts.idle "
		    "before the body was complete");
		break;
	case OAUTH_FAILED:
		break;
	}
	/* Whatever the answer was, it was not read: neither a success nor
	 * a failure of this code (no-op when token_end said which). */
	exchange_done(o, 0, NULL);
	return line;
}

/* The hint language for a request under cf (--lang auto reads its
 * Accept-Language). */
static enum lang
oauth_lang(const struct config *cf, const struct http1_head *h)
{
	return cf->cf_lang == LANG_AUTO ? pick_lang(h) : cf->cf_lang;
}

/* An authorization error carried by a redirect's query (the authorize
 * response's Location, or the browser's request to the callback): logs it
 * and returns the header line for the response that carries it
 * (malloc'd), or NULL when the query holds no catalogued error.
 * registered: the callback URL the redirect goes to (NULL unknown); authz:
 * the authorize request's tracker when this is its response (NULL on the
 * callback), for its client_id and redirect_uri when no state tells. */
static char *
redirect_error(const struct config *cf, enum lang lang,
    const char *query, size_t len, const struct oauth_ctx *ctx,
    const char *registered, const struct oauth_x *authz)
{
	struct annotation	a;
	struct diag_result	d;
	struct diag_request	r;
	char			code[64], client_id[128], redirect_uri[512];
	char			sentence[1024];
	const char		*tmpl;

	if (inspect_form_get(query, len, "error", code, sizeof(code)) <= 0)
		return NULL;
	/* Remembered: a callback that ignores ?error= exchanges no code. */
	if (strcmp(code, "access_denied") == 0 && ctx->oc_env != NULL &&
	    ctx->oc_env->oe_flow != NULL)
		diag_denied(ctx->oc_env->oe_flow, query, len, util_now_ms());
	memset(&a, 0, sizeof(a));
	a.an_req = ctx->oc_req;
	a.an_client = ctx->oc_client;
	a.an_host = ctx->oc_host;
	a.an_code = code;
	a.an_lang = lang;
	a.an_context = "authorize";
	/* The redirect names neither: the authorize request of its state
	 * did. */
	if (ctx->oc_env != NULL && ctx->oc_env->oe_flow != NULL &&
	    diag_authorize_of(ctx->oc_env->oe_flow, query, len, util_now_ms(),
	    client_id, sizeof(client_id), redirect_uri,
	    sizeof(redirect_uri)) == 0) {
		if (client_id[0] != '\0')
			a.an_client_id = client_id;
		if (redirect_uri[0] != '\0')
			a.an_redirect_uri = redirect_uri;
	} else if (inspect_form_get(query, len, "client_id", client_id,
	    sizeof(client_id)) >= 0)
		a.an_client_id = client_id;
	if (a.an_client_id == NULL && authz != NULL &&
	    authz->o_client_id[0] != '\0')
		a.an_client_id = authz->o_client_id;
	if (a.an_redirect_uri == NULL && authz != NULL)
		a.an_redirect_uri = authz->o_redirect;
	a.an_hint = catalog_lookup(cf->cf_catalog, code, lang);
	/* Which part of the redirect_uri the registered callback refuses. */
	if (strcmp(code, "redirect_uri_mismatch") == 0 && registered != NULL &&
	    a.an_redirect_uri != NULL) {
		diag_authorize_mismatch(registered, a.an_redirect_uri, &d);
		tmpl = catalog_cause(cf->cf_catalog, d.dg_cause, lang);
		if (tmpl != NULL) {
			memset(&r, 0, sizeof(r));
			r.dr_redirect_uri = a.an_redirect_uri;
			render_cause(tmpl, &d, &r, NULL, sentence,
			    sizeof(sentence));
			a.an_cause = diag_cause_name(d.dg_cause);
			a.an_diagnosis = sentence;
		}
	}
	return annotation_emit(cf, ctx, &a);
}

/* Warn once when a token endpoint's Date is more than a minute from our
 * clock (expiry reasoning would be off). */
static void
clock_check(struct oauth_env *env, const struct http1_head *h)
{
	const struct slice	*d = http1_header(h, "date");
	struct tm		 tm;
	char			 buf[64];
	time_t			 theirs, ours = time(NULL);
	long long		 skew;

	if (env->oe_clock_warned || d == NULL || d->s_len >= sizeof(buf))
		return;
	memcpy(buf, d->s_ptr, d->s_len);
	buf[d->s_len] = '\0';
	memset(&tm, 0, sizeof(tm));
	if (strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm) == NULL)
		return;
	theirs = timegm(&tm);
	skew = (long long)ours - (long long)theirs;
	if (skew >= -60 && skew <= 60)
		return;
	env->oe_clock_warned = 1;
	log_warnx("this machine's clock is %lld seconds %s the token "
	    "endpoint's (Date: %s): reasoning about code expiry is off; fix "
	    "the clock (timedatectl, NTP)", skew < 0 ? -skew : skew,
	    skew < 0 ? "behind" : "ahead of", buf);
}

void
oauth_free(struct oauth_x *o)
{
	if (o == NULL)
		return;
	exchange_done(o, 0, NULL);
	/* The request body and query hold client_secret and code: wipe
	 * them before the allocator reuses the memory. */
	if (o->o_req != NULL) {
		size_t	 n = evbuffer_get_length(o->o_req);
		char	*p = (char *)evbuffer_pullup(o->o_req, -1);

		if (p != NULL)
			OPENSSL_cleanse(p, n);
		evbuffer_free(o->o_req);
	}
	if (o->o_query != NULL)
		OPENSSL_cleanse(o->o_query, strlen(o->o_query));
	free(o->o_query);
	free(o->o_redirect);
	inspect_free(o->o_insp);
	free(o->o_line);
	free(o->o_head_line);
	OPENSSL_cleanse(o, sizeof(*o));
	free(o);
}
