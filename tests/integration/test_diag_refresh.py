#!/usr/bin/python3
"""Refresh token reused (issue 13 item 4): GitHub Apps with expiring user
tokens get a new refresh token with every refresh and the old one stops
working (rotation). bad_refresh_token for a refresh token whose earlier
refresh succeeded (the app kept the old one) or is still in flight (two
refreshes racing) is refresh_token_reused, naming the earlier request and
its age. An unknown refresh token claims nothing.

The fake GitHub rotates refresh tokens (add_app(expiring=True)) and
answers a used or unknown one with bad_refresh_token (the code is
documented, the wording assumed). curl through the real binary, over
intercepted TLS and plain HTTP, in ja and en; keyed hashes only, no
refresh token in the log.
"""

import json
import threading
import time

import diag_helpers as dh
import oauth_helpers as oh

TOKEN_PATH = oh.TOKEN_PATH


class RefreshReused(dh.DiagTestCase):

    def setUp(self):
        super().setUp()
        self.gapp = self.gh.add_app(callback=oh.CALLBACK, expiring=True)

    def refresh(self, token, proxy=None, plain=False, args=()):
        p = proxy or self.proxy
        m = self.mark(p)
        r = self.curl_token([("client_id", self.gapp.client_id),
                             ("client_secret", self.gapp.client_secret),
                             ("grant_type", "refresh_token"),
                             ("refresh_token", token)],
                            accept="application/json", proxy=p,
                            plain=plain, args=args)
        self.assertEqual(r.rc, 0, r)
        return m, r

    def first_tokens(self, proxy=None, plain=False):
        """The first refresh token of a user of the GitHub App."""
        code = self.gh.issue_code(self.gapp.client_id)
        r = self.curl_token([("client_id", self.gapp.client_id),
                             ("client_secret", self.gapp.client_secret),
                             ("code", code)], accept="application/json",
                            proxy=proxy, plain=plain)
        body = json.loads(r.body)
        self.assertTrue(body["refresh_token"].startswith("ghr_"), body)
        return body["refresh_token"]

    def test_rotation_not_stored_tls(self):
        r1 = self.first_tokens()
        m0 = self.mark()
        m, r = self.refresh(r1)
        t0 = time.monotonic()
        self.assertIn("refresh_token", json.loads(r.body))
        ok_req = self.access_since(m0, TOKEN_PATH)[0]["req"]
        time.sleep(1.1)
        m, r = self.refresh(r1)             # the old one again
        t1 = time.monotonic()
        rec = self.one_record_since(m["gh"])
        self.assert_diagnosed(r.headers, r.body, rec, "bad_refresh_token",
                              "refresh_token_reused",
                              {"req": str(ok_req),
                               "age": dh.age_values(1.1, t1 - t0)},
                              mark=m, client_id=self.gapp.client_id,
                              redirect_uri=None)
        text = self.proxy.stderr_text()
        self.assertNotIn(r1, text)
        self.assertNotIn(self.gapp.client_secret, text)

    def test_two_refreshes_racing_plain_english(self):
        proxy = self.new_oauth_proxy(["--lang", "en"])
        r1 = self.first_tokens(proxy, plain=True)
        got = {}
        m0 = self.mark(proxy)

        def slow():
            got["m"], got["r"] = self.refresh(
                r1, proxy, plain=True, args=["--url-query", "__hold=rf-1"])
        th = threading.Thread(target=slow)
        t0 = time.monotonic()
        th.start()
        try:
            # The fake has rotated r1 and holds the first answer.
            dh.wait_until(lambda: "rf-1" in self.gh.registry.holds,
                          10 * dh.SLOW)
            m, r = self.refresh(r1, proxy, plain=True)
            t1 = time.monotonic()
        finally:
            self.gh.release("rf-1")
            th.join(30 * dh.SLOW)
        self.assertEqual(got["r"].status, 200)
        self.assertIsNone(got["r"].header(dh.HEADER))
        recs = [x for x in self.records_since(m["gh"])
                if x.outcome == "bad_refresh_token"]
        self.assertEqual(len(recs), 1, recs)
        slow_req = [a for a in self.access_since(m0, TOKEN_PATH)
                    if "__hold" in a.get("target", "")][0]["req"]
        self.assert_diagnosed(r.headers, r.body, recs[0],
                              "bad_refresh_token", "refresh_token_reused",
                              {"req": str(slow_req),
                               "age": dh.age_values(0, t1 - t0)},
                              mark=m, lang="en",
                              client_id=self.gapp.client_id,
                              redirect_uri=None)

    # -- no cause may be claimed ----------------------------------------------
    def test_unknown_refresh_token_generic(self):
        m, r = self.refresh("ghr_" + "Q" * 36, plain=True)
        rec = self.one_record_since(m["gh"])
        self.assert_generic(r.headers, r.body, rec, "bad_refresh_token",
                            mark=m, client_id=self.gapp.client_id,
                            redirect_uri=None)

    def test_rotated_token_used_once_untouched(self):
        r1 = self.first_tokens()
        m, r = self.refresh(r1)
        r2 = json.loads(r.body)["refresh_token"]
        m, r = self.refresh(r2)
        self.assertIn("access_token", json.loads(r.body))
        self.assertIsNone(r.header(dh.HEADER))
        self.assertEqual(self.log_since(m, event="oauth-error"), [])


if __name__ == "__main__":
    dh.main()
