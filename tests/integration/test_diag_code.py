#!/usr/bin/python3
"""Diagnoses of bad_verification_code (issues 7 and 13): code_reused,
code_already_failed, code_expired, code_other_client, and the cases where
no cause may be claimed.

Real clients through the real binary against the fake GitHub over
intercepted TLS: curl, requests-oauthlib (OAuth2Session.fetch_token with
proxies=) and, when node is installed, @octokit/oauth-methods. Codes reach
the proxy the way a browser brings them: the 302 of /login/oauth/authorize
(Location: ...?code=&state=) or the browser's GET of the callback URL.
Expiry is GitHub's business: the tests backdate the code in the fake's
registry and shorten the proxy's code_lifetime to 2 s.
"""

import time
import urllib.parse

import diag_helpers as dh
import oauth_helpers as oh

TOKEN_PATH = oh.TOKEN_PATH


class CodeDiagnoses(dh.DiagTestCase):

    def test_code_reused_after_success_requests(self):
        # requests-oauthlib exchanges a code, then the app (a reload, an
        # effect running twice) exchanges it again a second later.
        code = self.authorized_code(self.app.client_id, oh.CALLBACK, "r-1")
        m0 = self.mark()
        t0 = time.monotonic()
        first = self.requests_token(code)
        t1 = time.monotonic()
        self.assertIsNone(first.error, first)
        acc = self.access_since(m0, TOKEN_PATH)
        self.assertEqual(len(acc), 1, acc)
        first_req = acc[0]["req"]
        time.sleep(1.1)
        m = self.mark()
        t2 = time.monotonic()
        res = self.requests_token(code)
        t3 = time.monotonic()
        self.assertIsNotNone(res.error, res)
        rec = self.one_record_since(m["gh"])
        self.assert_diagnosed(
            res.headers, res.body, rec, "bad_verification_code",
            "code_reused", {"age": dh.age_values(t2 - t1, t3 - t0),
                            "req": str(first_req)}, mark=m)

    def test_code_already_failed_retry_grouped(self):
        # A library that tries Basic auth first and retries at once with
        # the credentials in the body (golang.org/x/oauth2 does): the
        # first answer has no cause (the code was never seen), the second
        # names the first, says retrying cannot help (the code never
        # worked: not code_reused, issue 13) and is grouped with it
        # (retry_of).
        code = "c0ffee" + "0" * 14
        m1, r1, rec1 = self.token_exchange(
            [("code", code), ("redirect_uri", oh.CALLBACK)],
            auth=(self.app.client_id, self.app.client_secret))
        t1 = time.monotonic()
        _, first = self.assert_generic(r1.headers, r1.body, rec1,
                                       "bad_verification_code", mark=m1)
        m2, r2, rec2 = self.token_exchange(self.params(code))
        t2 = time.monotonic()
        self.assert_diagnosed(
            r2.headers, r2.body, rec2, "bad_verification_code",
            "code_already_failed", {"age": dh.age_values(0, t2 - t1 + 0.5),
                            "req": str(first["req"])}, mark=m2,
            retry_of=first["req"])

    def test_code_already_failed_late_retry_not_grouped(self):
        # The same code again, but more than 10 s after the failed
        # exchange: still code_already_failed, no longer a library's
        # immediate retry (no retry_of).
        code = "c0ffee" + "1" * 14
        m1, r1, rec1 = self.token_exchange(self.params(code))
        t1 = time.monotonic()
        _, first = self.assert_generic(r1.headers, r1.body, rec1,
                                       "bad_verification_code", mark=m1)
        time.sleep(10.5)
        m2, r2, rec2 = self.token_exchange(self.params(code))
        t2 = time.monotonic()
        self.assert_diagnosed(
            r2.headers, r2.body, rec2, "bad_verification_code",
            "code_already_failed",
            {"age": dh.age_values(10.5, t2 - t1 + 0.5),
                            "req": str(first["req"])}, mark=m2)

    def test_code_other_client(self):
        # The authorize request ran for app A; the exchange uses app B's
        # credentials (two apps in one .env, the wrong one picked).
        other = self.gh.add_app(callback=oh.CALLBACK)
        code = self.authorized_code(self.app.client_id, oh.CALLBACK, "o-1")
        m, r, rec = self.token_exchange(self.params(
            code, client_id=other.client_id, secret=other.client_secret))
        self.assert_diagnosed(r.headers, r.body, rec,
                              "bad_verification_code", "code_other_client",
                              {"registered": self.app.client_id}, mark=m,
                              client_id=other.client_id)

    def test_code_other_client_english(self):
        proxy = self.new_oauth_proxy(["--lang", "en"])
        other = self.gh.add_app(callback=oh.CALLBACK)
        code = self.authorized_code(other.client_id, oh.CALLBACK, "o-2",
                                    proxy=proxy)
        m, r, rec = self.token_exchange(self.params(code), proxy=proxy)
        self.assert_diagnosed(r.headers, r.body, rec,
                              "bad_verification_code", "code_other_client",
                              {"registered": other.client_id}, mark=m,
                              lang="en")

    # -- code_expired: a proxy whose code lifetime is 2 s -------------------------
    def expiring_proxy(self):
        return self.new_oauth_proxy(
            ["--resolve", "localhost:3000:127.0.0.1:%d" % self.origin.port],
            config={"code_lifetime": 2})

    def test_code_expired_seen_in_location(self):
        proxy = self.expiring_proxy()
        code = self.authorized_code(self.app.client_id, oh.CALLBACK, "e-1",
                                    proxy=proxy)
        t0 = time.monotonic()
        time.sleep(3)
        self.backdate(code, 601)        # GitHub's clock agrees
        m, r, rec = self.token_exchange(self.params(code), proxy=proxy)
        t1 = time.monotonic()
        self.assert_diagnosed(r.headers, r.body, rec,
                              "bad_verification_code", "code_expired",
                              {"age": dh.age_values(3, t1 - t0 + 1)},
                              mark=m)

    def test_code_expired_seen_on_callback(self):
        # The proxy never saw the authorize response (the browser used
        # no proxy for github.com), only the browser's GET of the callback
        # URL carrying the code.
        proxy = self.expiring_proxy()
        code = self.fresh_code()
        q = urllib.parse.urlencode({"code": code, "state": "e-2"})
        cb = self.browser_get(oh.CALLBACK + "?" + q, proxy)
        self.assertEqual(cb.rc, 0, cb)
        self.assertIsNone(cb.header(dh.HEADER), cb.headers)
        t0 = time.monotonic()
        time.sleep(3)
        self.backdate(code, 601)
        m, r, rec = self.token_exchange(self.params(code), proxy=proxy)
        t1 = time.monotonic()
        self.assert_diagnosed(r.headers, r.body, rec,
                              "bad_verification_code", "code_expired",
                              {"age": dh.age_values(3, t1 - t0 + 1)},
                              mark=m)
        # Nothing in any record gives the code away.
        self.assertNotIn(code, proxy.stderr_text())

    def test_code_young_enough_not_expired(self):
        # Within code_lifetime: the proxy must not claim code_expired
        # even though GitHub says the code is bad.
        proxy = self.expiring_proxy()
        code = self.authorized_code(self.app.client_id, oh.CALLBACK, "e-3",
                                    proxy=proxy)
        self.backdate(code, 601)
        m, r, rec = self.token_exchange(self.params(code), proxy=proxy)
        self.assert_generic(r.headers, r.body, rec, "bad_verification_code",
                            mark=m)

    # -- no cause may be claimed -----------------------------------------------------
    def test_first_time_unseen_code_generic(self):
        # A code the proxy never saw issued nor exchanged: GitHub's word
        # only, whatever the client.
        m, r, rec = self.token_exchange(self.params("ba5eba11" * 2 + "0000"))
        self.assert_generic(r.headers, r.body, rec, "bad_verification_code",
                            mark=m)
        m = self.mark()
        res = self.requests_token("ba5eba11" * 2 + "0001")
        rec = self.one_record_since(m["gh"])
        self.assert_generic(res.headers, res.body, rec,
                            "bad_verification_code", mark=m)

    def test_seen_fresh_same_client_generic(self):
        # Issued through the proxy a moment ago, to this client, never
        # exchanged: the proxy cannot tell why GitHub refuses it.
        code = self.authorized_code(self.app.client_id, oh.CALLBACK, "n-1")
        with self.gh.registry.lock:
            del self.gh.registry.codes[code]
        m, r, rec = self.token_exchange(self.params(code))
        self.assert_generic(r.headers, r.body, rec, "bad_verification_code",
                            mark=m)

    def test_other_code_not_reused(self):
        # A different code from the one exchanged before is not "reused".
        code = self.fresh_code()
        self.token_exchange(self.params(code))
        m, r, rec = self.token_exchange(self.params(code[:-1] + (
            "0" if code[-1] != "0" else "1")))
        self.assert_generic(r.headers, r.body, rec, "bad_verification_code",
                            mark=m)


class FlowMemoryBound(dh.DiagTestCase):
    """The flow memory holds at most flow_max_entries entries: a code
    exchanged before as many newer exchanges is forgotten, and then no
    cause may be claimed."""

    proxy_config = {"flow_max_entries": 16}

    def exchange_others(self, n, tag):
        for i in range(n):
            self.token_exchange(self.params("%s%04d" % (tag, i) + "0" * 10))

    def test_reuse_remembered_then_forgotten(self):
        code = self.fresh_code()
        m, r, rec = self.token_exchange(self.params(code))
        self.assertEqual(rec.outcome, "success")
        self.exchange_others(12, "a0b1c2")
        m, r, rec = self.token_exchange(self.params(code))
        value, item, params = self.annotation(r.headers)
        self.assertEqual(params.get("cause"), "code_reused", value)
        code = self.fresh_code()
        self.token_exchange(self.params(code))
        self.exchange_others(20, "d3e4f5")
        m, r, rec = self.token_exchange(self.params(code))
        self.assert_generic(r.headers, r.body, rec, "bad_verification_code",
                            mark=m)


class CodeDiagnosesNode(dh.DiagTestCase):
    """The reused code with Octokit (a JSON request body)."""

    @classmethod
    def setUpClass(cls):
        oh.ensure_node_clients()
        super().setUpClass()

    def test_code_reused_octokit(self):
        import base64
        code = self.authorized_code(self.app.client_id, oh.CALLBACK, "k-1")
        m0 = self.mark()
        t0 = time.monotonic()
        out = self.node_exchange(code)
        self.assertTrue(out["ok"], out)
        first_req = self.access_since(m0, TOKEN_PATH)[0]["req"]
        m = self.mark()
        out = self.node_exchange(code)
        t2 = time.monotonic()
        self.assertFalse(out["ok"], out)
        f = out["fetches"][0]
        rec = self.one_record_since(m["gh"])
        self.assert_diagnosed(
            oh.fetch_headers(f), base64.b64decode(f["body_b64"]), rec,
            "bad_verification_code", "code_reused",
            {"age": dh.age_values(0, t2 - t0), "req": str(first_req)},
            mark=m)


if __name__ == "__main__":
    dh.main()
