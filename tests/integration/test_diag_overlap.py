#!/usr/bin/python3
"""The same code exchanged twice (issue 13 items 2 and 3).

An exchange is in the proxy's flow memory from the moment its request is
complete, not when its answer comes back: a second exchange of the same
code that overlaps a slow first one (a callback handler or a React effect
that runs twice) is code_reused, naming the request still in flight. A
code whose earlier exchange failed the same way is code_already_failed
(retrying cannot help), never code_reused: reuse is claimed only when the
earlier exchange succeeded or was still in flight.

curl through the real binary against the fake GitHub (tests/servers/
fake_github.py: ?__hold=NAME holds a success answer after the code is
spent until the test releases it, as GitHub answers the second exchange at
once) as github.com, over
intercepted TLS and over plain HTTP, in ja and en.
"""

import threading
import time

import diag_helpers as dh
import oauth_helpers as oh

TOKEN_PATH = oh.TOKEN_PATH


class OverlappingExchange(dh.DiagTestCase):

    def slow_then_fast(self, code, hold, proxy=None, plain=False):
        """Exchange code with a success answer the fake holds, and again
        while it is held (the first in flight). Returns (mark, result,
        record) of the second, the first's req id, and (t0, t1): the
        first's send and the second's answer."""
        p = proxy or self.proxy
        first = {}

        def slow():
            first["r"] = self.curl_token(
                self.params(code), args=["--url-query", "__hold=" + hold],
                proxy=p, plain=plain)
        m0 = self.mark(p)
        t0 = time.monotonic()
        th = threading.Thread(target=slow)
        th.start()
        try:
            # The fake has spent the code and holds the answer.
            dh.wait_until(lambda: hold in self.gh.registry.holds,
                          10 * dh.SLOW)
            m = self.mark(p)
            r = self.curl_token(self.params(code), proxy=p, plain=plain)
            t1 = time.monotonic()
        finally:
            self.gh.release(hold)
            th.join(30 * dh.SLOW)
        self.assertEqual(r.rc, 0, r)
        self.assertFalse(th.is_alive())
        self.assertEqual(first["r"].rc, 0, first["r"])
        self.assertEqual(first["r"].status, 200)
        self.assertIsNone(first["r"].header(dh.HEADER))
        recs = [x for x in self.records_since(m0["gh"]) if x.code == code]
        self.assertEqual(sorted(x.outcome for x in recs),
                         ["bad_verification_code", "success"], recs)
        second = [x for x in recs if x.outcome != "success"][0]
        acc = [a for a in self.access_since(m0, TOKEN_PATH)
               if "__hold" in a.get("target", "")]
        self.assertEqual(len(acc), 1, acc)
        return m, r, second, acc[0]["req"], (t0, t1)

    def test_overlapping_exchange_tls(self):
        code = self.authorized_code(self.app.client_id, oh.CALLBACK, "ov-1")
        m, r, rec, first_req, (t0, t1) = self.slow_then_fast(code, "ov-1")
        self.assert_diagnosed(r.headers, r.body, rec,
                              "bad_verification_code", "code_reused",
                              {"req": str(first_req),
                               "age": dh.age_values(0, t1 - t0)},
                              mark=m, sentence="code_reused_overlap")

    def test_overlapping_exchange_plain_english(self):
        proxy = self.new_oauth_proxy(["--lang", "en"])
        code = self.fresh_code()
        m, r, rec, first_req, (t0, t1) = self.slow_then_fast(
            code, "ov-2", proxy=proxy, plain=True)
        self.assert_diagnosed(r.headers, r.body, rec,
                              "bad_verification_code", "code_reused",
                              {"req": str(first_req),
                               "age": dh.age_values(0, t1 - t0)},
                              mark=m, lang="en",
                              sentence="code_reused_overlap")

    def test_reused_after_success_plain(self):
        # Sequential, the first one done: the plain code_reused sentence.
        code = self.fresh_code()
        m0 = self.mark()
        r = self.curl_token(self.params(code), plain=True)
        self.assertEqual((r.rc, r.status), (0, 200))
        t0 = time.monotonic()
        first_req = self.access_since(m0, TOKEN_PATH)[0]["req"]
        m = self.mark()
        r = self.curl_token(self.params(code), plain=True)
        t1 = time.monotonic()
        rec = self.one_record_since(m["gh"])
        self.assert_diagnosed(r.headers, r.body, rec,
                              "bad_verification_code", "code_reused",
                              {"req": str(first_req),
                               "age": dh.age_values(0, t1 - t0 + 1)},
                              mark=m, sentence="code_reused")


class AlreadyFailed(dh.DiagTestCase):

    def test_never_valid_code_retried_plain_english(self):
        # A code GitHub never issued (copied wrong), sent twice: the
        # second answer says it already failed, and is not code_reused.
        proxy = self.new_oauth_proxy(["--lang", "en"])
        code = "f00d" * 5
        m1 = self.mark(proxy)
        r1 = self.curl_token(self.params(code), proxy=proxy, plain=True)
        rec1 = self.one_record_since(m1["gh"])
        t1 = time.monotonic()
        _, first = self.assert_generic(r1.headers, r1.body, rec1,
                                       "bad_verification_code", mark=m1,
                                       lang="en")
        m2 = self.mark(proxy)
        r2 = self.curl_token(self.params(code), proxy=proxy, plain=True)
        t2 = time.monotonic()
        rec2 = self.one_record_since(m2["gh"])
        self.assert_diagnosed(r2.headers, r2.body, rec2,
                              "bad_verification_code", "code_already_failed",
                              {"req": str(first["req"]),
                               "age": dh.age_values(0, t2 - t1 + 0.5)},
                              mark=m2, lang="en", retry_of=first["req"])

    def test_expired_code_retried_not_reused(self):
        # Expired at GitHub, retried: the same error again, not reuse.
        code = self.fresh_code(age=601)
        m1, r1, rec1 = self.token_exchange(self.params(code))
        _, first = self.assert_generic(r1.headers, r1.body, rec1,
                                       "bad_verification_code", mark=m1)
        m2, r2, rec2 = self.token_exchange(self.params(code))
        params, record = self.assert_diagnosed(
            r2.headers, r2.body, rec2, "bad_verification_code",
            "code_already_failed", {"req": str(first["req"]),
                                    "age": dh.age_values(0, 30)},
            mark=m2, retry_of=first["req"])

    # -- no cause may be claimed ----------------------------------------------
    def test_wellformed_wrong_secret_then_right_one(self):
        # A well-formed but wrong secret: GitHub's word only, and the code
        # stays unspent; the right secret then gets the token, and a
        # third exchange is code_reused (the success), not "already
        # failed" (the first failure was another error).
        code = self.fresh_code()
        wrong = "0123456789abcdef" * 2 + "01234567"
        m, r, rec = self.token_exchange(self.params(code, secret=wrong))
        self.assert_generic(r.headers, r.body, rec,
                            "incorrect_client_credentials", mark=m)
        m0 = self.mark()
        m, r, rec = self.token_exchange(self.params(code))
        self.assertEqual(rec.outcome, "success")
        self.assert_untouched(r.headers, r.body, rec, mark=m)
        ok_req = self.access_since(m0, TOKEN_PATH)[0]["req"]
        m, r, rec = self.token_exchange(self.params(code))
        value, item, params = self.annotation(r.headers)
        self.assertEqual(params.get("cause"), "code_reused", value)
        self.assertIn("req=%d" % ok_req, params["hint"])

    def test_answer_lost_claims_nothing(self):
        # The first exchange's answer never came (the origin's body was
        # cut): the proxy cannot tell whether it spent the code, so the
        # second failure claims nothing.
        code = self.fresh_code()
        self.gh.set_variant(force_error="bad_verification_code",
                            oversize=70000, count=1)
        m, r, rec = self.token_exchange(self.params(code))
        self.assert_no_annotation(r.headers)
        with self.gh.registry.lock:
            self.gh.registry.codes[code].used = True
        m, r, rec = self.token_exchange(self.params(code))
        self.assert_generic(r.headers, r.body, rec, "bad_verification_code",
                            mark=m)


if __name__ == "__main__":
    dh.main()
