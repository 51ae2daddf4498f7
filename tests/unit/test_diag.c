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
	/* Exchanged once, then again: reused, with age and request id. */
	diag_exchanged(fm, &r, 0);
	r = req(2, 4000, "never-seen", "Iv1.aaaa", "s");
	diag_explain(fm, "bad_verification_code", &r, &d);
	CHECK_STR(diag_cause_name(d.dg_cause), "code_reused");
	CHECK_INT(d.dg_age_s, 3);
	CHECK_INT(d.dg_prev_req, 1);
	/* Issued through the authorize redirect, used too late. */
	diag_authorize(fm, authq, strlen(authq), 10000);
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
	diag_exchanged(fm, &r, 0);
	for (i = 0; i < 40; i++) {
		snprintf(code, sizeof(code), "c%d", i);
		r = req(2 + (uint64_t)i, 2000, code, "Iv1.a", "s");
		diag_exchanged(fm, &r, 0);
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
	return t_done();
}
