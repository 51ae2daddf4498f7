/* Diagnosis: the redirect_uri rules from GitHub's docs, credential shapes,
 * and the flow memory (reuse, expiry, other client), which keeps no code. */
#include <string.h>

#include "diag.h"
#include "t.h"

static void
test_redirect_rules(void)
{
	const char	*cb = "http://example.com/path";
	char		 why[256];

	/* The docs' good examples. */
	CHECK(diag_redirect_match(cb, "http://example.com/path", why, 256));
	CHECK(diag_redirect_match(cb, "http://example.com/path/subdir/other",
	    why, 256));
	CHECK(diag_redirect_match(cb, "http://oauth.example.com/path", why,
	    256));
	CHECK(diag_redirect_match(cb,
	    "http://oauth.example.com/path/subdir/other", why, 256));
	/* The docs' bad examples, each with its reason. */
	CHECK(!diag_redirect_match(cb, "http://example.com/bar", why, 256));
	CHECK(strstr(why, "path") != NULL);
	CHECK(!diag_redirect_match(cb, "http://example.com/", why, 256));
	CHECK(!diag_redirect_match(cb, "http://example.com:8080/path", why,
	    256));
	CHECK(strstr(why, "port") != NULL);
	CHECK(!diag_redirect_match(cb, "http://oauth.example.com:8080/path",
	    why, 256));
	CHECK(!diag_redirect_match(cb, "http://example.org", why, 256));
	CHECK(strstr(why, "host") != NULL);
	CHECK(!diag_redirect_match(cb, "https://example.com/path", why, 256));
	CHECK(strstr(why, "scheme") != NULL);
	/* Not a subdomain, only a suffix. */
	CHECK(!diag_redirect_match(cb, "http://badexample.com/path", why,
	    256));
	/* A path that merely starts with the callback's is outside it. */
	CHECK(!diag_redirect_match(cb, "http://example.com/pathology", why,
	    256));
	/* Loopback: any port; localhost is not 127.0.0.1. */
	CHECK(diag_redirect_match("http://127.0.0.1/path",
	    "http://127.0.0.1:1234/path", why, 256));
	CHECK(!diag_redirect_match("http://127.0.0.1/path",
	    "http://localhost:1234/path", why, 256));
	CHECK(strstr(why, "loopback") != NULL);
	CHECK(!diag_redirect_match("http://localhost:3000/callback/",
	    "http://localhost:3000/callback", why, 256));
	CHECK(strstr(why, "trailing slash") != NULL);
	/* IPv6 literals: the host is "[::1]", not "[" (issue 14). */
	CHECK(diag_redirect_match("http://[::1]/cb", "http://[::1]:3000/cb",
	    why, 256));
	CHECK(!diag_redirect_match("http://[::1]:3000/cb",
	    "http://127.0.0.1:3000/cb", why, 256));
	CHECK(strstr(why, "[::1]") != NULL && strstr(why, "loopback") != NULL);
	CHECK(!diag_redirect_match("http://[::1/cb", "http://[::1/cb", why,
	    256));
	/* Userinfo is neither the host nor shown in the reason. */
	CHECK(diag_redirect_match(cb, "http://user:tok3n@example.com/path",
	    why, 256));
	CHECK(!diag_redirect_match(cb, "http://user:tok3n@example.org/path",
	    why, 256));
	CHECK(strstr(why, "tok3n") == NULL && strstr(why, "user") == NULL);
}

static struct diag_request
req(uint64_t id, uint64_t now, const char *code, const char *cid,
    const char *secret)
{
	struct diag_request r;

	memset(&r, 0, sizeof(r));
	r.dr_req = id;
	r.dr_now_ms = now;
	r.dr_code = code;
	r.dr_client_id = cid;
	r.dr_client_secret = secret;
	return r;
}

static void
test_credentials(void)
{
	struct flowmem		*fm = flowmem_new(64, 3600, 600);
	struct diag_result	 d;
	struct diag_request	 r;
	const char		*good = "0123456789abcdef0123456789abcdef01234567";

	r = req(1, 1000, NULL, "Iv1.8a61f9b3a7aba766", good);
	diag_explain(fm, "incorrect_client_credentials", &r, &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "");	/* nothing wrong that we can see */
	r = req(1, 1000, NULL, "Iv1.8a61f9b3a7aba766", "0123456789abcdef0123"
	    "456789abcdef01234567\n");
	diag_explain(fm, "incorrect_client_credentials", &r, &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "whitespace");
	CHECK_STR(d.dg_field, "client_secret");
	r = req(1, 1000, NULL, "Iv1.8a61f9b3a7aba766", "short");
	diag_explain(fm, "incorrect_client_credentials", &r, &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "secret_shape");
	CHECK_INT(d.dg_len, 5);
	r = req(1, 1000, NULL, "123456", good);
	diag_explain(fm, "incorrect_client_credentials", &r, &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "id_shape");
	r = req(1, 1000, "somecode", "Iv1.8a61f9b3a7aba766", NULL);
	diag_explain(fm, "incorrect_client_credentials", &r, &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "missing_secret");
	r = req(1, 1000, NULL, "Iv1.8a61f9b3a7aba766", good);
	r.dr_basic_id = "Iv1.0000000000000000";
	r.dr_basic_secret = good;
	diag_explain(fm, "incorrect_client_credentials", &r, &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "both_auth");
	flowmem_free(fm);
}

static void
test_flows(void)
{
	struct flowmem		*fm = flowmem_new(64, 3600, 600);
	struct diag_result	 d;
	struct diag_request	 r;
	static const char	 authq[] = "client_id=Iv1.aaaa&redirect_uri="
	    "http%3A%2F%2Flocalhost%3A3000%2Fcb&state=st1";

	/* A code never seen issued: claim nothing. */
	r = req(1, 1000, "never-seen", "Iv1.aaaa", "s");
	diag_explain(fm, "bad_verification_code", &r, &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "");
	/* Exchanged once and succeeded, then again: reused, with age and
	 * request id. */
	diag_exchange_begin(fm, &r);
	diag_exchange_end(fm, 1, 1, NULL);
	r = req(2, 4000, "never-seen", "Iv1.aaaa", "s");
	diag_exchange_begin(fm, &r);
	diag_explain(fm, "bad_verification_code", &r, &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "code_reused");
	CHECK_STR(diag_cause_key(d.dg_cause), "code_reused");
	CHECK_INT(d.dg_age_s, 3);
	CHECK_INT(d.dg_prev_req, 1);
	CHECK_INT(d.dg_retry_of, 0);
	/* Issued through the authorize redirect, used too late. */
	diag_authorize(fm, "github.com", authq, strlen(authq), 10000);
	diag_code_issued(fm, "code=c2&state=st1", 17, 11000);
	r = req(3, 11000 + 601000, "c2", "Iv1.aaaa", "s");
	diag_explain(fm, "bad_verification_code", &r, &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "code_expired");
	CHECK_INT(d.dg_age_s, 601);
	/* Issued for one client, exchanged by another. */
	diag_code_issued(fm, "code=c3&state=st1", 17, 20000);
	r = req(4, 21000, "c3", "Iv1.bbbb", "s");
	diag_explain(fm, "bad_verification_code", &r, &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "code_other_client");
	/* redirect_uri differing from the authorize request's. */
	r = req(5, 22000, "c3", "Iv1.aaaa", "s");
	r.dr_redirect_uri = "http://127.0.0.1:3000/cb";
	diag_explain(fm, "redirect_uri_mismatch", &r, &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "redirect_differs");
	CHECK_STR(d.dg_registered, "http://localhost:3000/cb");
	CHECK(strstr(d.dg_detail, "host") != NULL);
	r.dr_redirect_uri = "http://localhost:3000/cb";
	diag_explain(fm, "redirect_uri_mismatch", &r, &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "redirect_unregistered");
	flowmem_free(fm);
}

/* An exchange is in the flow memory from its request on: the order of
 * events decides what a later failure of the same code may claim. */
static void
test_exchange_order(void)
{
	struct flowmem		*fm = flowmem_new(64, 3600, 600);
	struct diag_result	 d;
	struct diag_request	 r1, r2, r3;

	/* In flight (no answer yet) when the second one fails. */
	r1 = req(10, 1000, "dup", "Iv1.a", "s");
	diag_exchange_begin(fm, &r1);
	r2 = req(11, 1200, "dup", "Iv1.a", "s");
	diag_exchange_begin(fm, &r2);
	diag_explain(fm, "bad_verification_code", &r2, &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "code_reused");
	CHECK_STR(diag_cause_key(d.dg_cause), "code_reused_overlap");
	CHECK_INT(d.dg_prev_req, 10);
	CHECK_INT(d.dg_age_s, 0);
	diag_exchange_end(fm, 11, 0, "bad_verification_code");
	/* The first then succeeds; a third names it, not the failed one. */
	diag_exchange_end(fm, 10, 1, NULL);
	r3 = req(12, 5000, "dup", "Iv1.a", "s");
	diag_exchange_begin(fm, &r3);
	diag_explain(fm, "bad_verification_code", &r3, &d);
	CHECK(d.dg_cause == DC_CODE_REUSED);
	CHECK_INT(d.dg_prev_req, 10);
	CHECK_INT(d.dg_age_s, 4);

	/* A code that failed, retried: already failed, never reused. */
	r1 = req(20, 1000, "bad", "Iv1.a", "s");
	diag_exchange_begin(fm, &r1);
	diag_explain(fm, "bad_verification_code", &r1, &d);
	CHECK(d.dg_cause == DC_NONE);	/* its own entry does not count */
	diag_exchange_end(fm, 20, 0, "bad_verification_code");
	r2 = req(21, 3500, "bad", "Iv1.a", "s");
	diag_exchange_begin(fm, &r2);
	diag_explain(fm, "bad_verification_code", &r2, &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "code_already_failed");
	CHECK_INT(d.dg_prev_req, 20);
	CHECK_INT(d.dg_age_s, 2);
	CHECK_INT(d.dg_retry_of, 20);
	diag_exchange_end(fm, 21, 0, "bad_verification_code");
	/* Later than 10 s: the same cause, no longer grouped. */
	r3 = req(22, 30000, "bad", "Iv1.a", "s");
	diag_explain(fm, "bad_verification_code", &r3, &d);
	CHECK(d.dg_cause == DC_CODE_FAILED_BEFORE);
	CHECK_INT(d.dg_prev_req, 21);
	CHECK_INT(d.dg_retry_of, 0);

	/* Failed with another error (wrong secret: the code unspent), or
	 * no answer read at all: nothing can be claimed. */
	r1 = req(30, 1000, "other", "Iv1.a", "s");
	diag_exchange_begin(fm, &r1);
	diag_exchange_end(fm, 30, 0, "incorrect_client_credentials");
	r2 = req(31, 2000, "other", "Iv1.a", "s");
	diag_explain(fm, "bad_verification_code", &r2, &d);
	CHECK(d.dg_cause == DC_NONE);
	r1 = req(32, 1000, "lost", "Iv1.a", "s");
	diag_exchange_begin(fm, &r1);
	diag_exchange_end(fm, 32, 0, NULL);
	r2 = req(33, 2000, "lost", "Iv1.a", "s");
	diag_explain(fm, "bad_verification_code", &r2, &d);
	CHECK(d.dg_cause == DC_NONE);
	/* An end for an unknown request, or a second end: no effect. */
	diag_exchange_end(fm, 999, 1, NULL);
	diag_exchange_end(fm, 32, 1, NULL);
	diag_explain(fm, "bad_verification_code", &r2, &d);
	CHECK(d.dg_cause == DC_NONE);

	/* A page's request: browser_exchange whatever the error. */
	r1 = req(40, 1000, "dup", "Iv1.a", NULL);
	r1.dr_browser = 1;
	diag_explain(fm, "incorrect_client_credentials", &r1, &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "browser_exchange");
	flowmem_free(fm);
}

/* The registered callback GitHub redirected to, against the authorize
 * request's redirect_uri: which part differs. */
static void
test_authorize_mismatch(void)
{
	struct diag_result	d;

	diag_authorize_mismatch("https://app.example.com/auth/cb",
	    "http://app.example.com/auth/cb", &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "callback_scheme");
	CHECK_STR(d.dg_was, "http");
	CHECK_STR(d.dg_want, "https");
	CHECK_STR(d.dg_registered, "https://app.example.com/auth/cb");
	diag_authorize_mismatch("http://localhost:3000/cb",
	    "http://127.0.0.1:3000/cb", &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "callback_host");
	CHECK_STR(d.dg_was, "127.0.0.1");
	CHECK_STR(d.dg_want, "localhost");
	diag_authorize_mismatch("https://www.example.com/cb",
	    "https://example.com/cb", &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "callback_host");
	diag_authorize_mismatch("http://localhost:3000/cb",
	    "http://localhost:5173/cb", &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "callback_port");
	CHECK_STR(d.dg_was, "5173");
	CHECK_STR(d.dg_want, "3000");
	diag_authorize_mismatch("https://example.com/app/auth/callback",
	    "https://example.com/auth/callback", &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "callback_path");
	CHECK_STR(d.dg_was, "/auth/callback");
	CHECK_STR(d.dg_want, "/app/auth/callback");
	/* Allowed under GitHub's rules, or not URLs: nothing to name. */
	diag_authorize_mismatch("https://example.com/cb",
	    "https://sub.example.com/cb/deeper", &d);
	CHECK(d.dg_cause == DC_NONE);
	diag_authorize_mismatch("/relative", "https://example.com/cb", &d);
	CHECK(d.dg_cause == DC_NONE);
	diag_authorize_mismatch("https://example.com:99999/cb",
	    "https://example.com/cb", &d);
	CHECK(d.dg_cause == DC_NONE);
	diag_authorize_mismatch("https://example.com:x/cb",
	    "https://example.com/cb", &d);
	CHECK(d.dg_cause == DC_NONE);
}

/* The ring is bounded: old entries fall out, nothing grows. */
static void
test_bounded(void)
{
	struct flowmem		*fm = flowmem_new(16, 3600, 600);
	struct diag_result	 d;
	struct diag_request	 r;
	char			 code[32];
	int			 i;

	r = req(1, 1000, "first", "Iv1.a", "s");
	diag_exchange_begin(fm, &r);
	diag_exchange_end(fm, 1, 1, NULL);
	for (i = 0; i < 40; i++) {
		snprintf(code, sizeof(code), "c%d", i);
		r = req(2 + (uint64_t)i, 2000, code, "Iv1.a", "s");
		diag_exchange_begin(fm, &r);
		diag_exchange_end(fm, r.dr_req, 1, NULL);
	}
	r = req(100, 3000, "first", "Iv1.a", "s");
	diag_explain(fm, "bad_verification_code", &r, &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "");
	/* And entries age out. */
	r = req(101, 3000, "c39", "Iv1.a", "s");
	diag_explain(fm, "bad_verification_code", &r, &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "code_reused");
	r.dr_now_ms = 2000 + 3601 * 1000;
	diag_explain(fm, "bad_verification_code", &r, &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "");
	flowmem_free(fm);
}

int
main(void)
{
	test_redirect_rules();
	test_credentials();
	test_flows();
	test_bounded();
	test_exchange_order();
	test_authorize_mismatch();
	return t_done();
}
