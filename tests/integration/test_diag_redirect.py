#!/usr/bin/python3
"""Diagnoses of redirect_uri_mismatch (issue 7): redirect_differs (the
exchange's redirect_uri is not the one this flow's authorize request used:
say how) and redirect_unregistered (it is the same, so the app's registered
callback URL is what differs); no cause when the proxy saw no authorize
request for the client.

The browser's authorize request and the exchange go through the real
binary (curl, requests-oauthlib) to the fake GitHub over intercepted TLS.
Every test registers an app of its own (callback http://localhost:3000/cb),
so that the proxy's memory of other tests' flows cannot answer for it.
"""

import diag_helpers as dh
import oauth_helpers as oh

CB = "http://localhost:3000/cb"


class RedirectDiagnoses(dh.DiagTestCase):

    def new_app(self, callback=CB):
        return self.gh.add_app(callback=callback)

    def exchange_for(self, app, code, redirect_uri, proxy=None):
        return self.token_exchange([("client_id", app.client_id),
                                    ("client_secret", app.client_secret),
                                    ("code", code),
                                    ("redirect_uri", redirect_uri)],
                                   proxy=proxy)

    def test_redirect_differs_loopback_host(self):
        # Authorized with localhost, exchanged with 127.0.0.1.
        app = self.new_app()
        code = self.authorized_code(app.client_id, CB, "h-1")
        sent = "http://127.0.0.1:3000/cb"
        m, r, rec = self.exchange_for(app, code, sent)
        self.assertEqual(rec.outcome, "redirect_uri_mismatch")
        _, record = self.assert_diagnosed(
            r.headers, r.body, rec, "redirect_uri_mismatch",
            "redirect_differs",
            {"sent": sent, "registered": CB,
             "detail": "host differs: 127.0.0.1 vs localhost (a loopback "
                       "name and address are different hosts)"},
            mark=m, client_id=app.client_id, redirect_uri=sent)
        self.assertIn("host differs", record["diagnosis"])

    def test_redirect_differs_requests_oauthlib(self):
        # The same slip with requests-oauthlib, the other way round.
        app = self.gh.add_app(callback="http://127.0.0.1:3000/cb")
        code = self.authorized_code(app.client_id,
                                    "http://127.0.0.1:3000/cb", "h-2")
        from requests_oauthlib import OAuth2Session
        res = oh.RequestsResult()

        def hook(resp):
            res.headers = oh._urllib3_header_list(resp)
            res.body = resp.content
            return resp
        m = self.mark()
        s = OAuth2Session(app.client_id, redirect_uri=CB)
        s.trust_env = False
        s.register_compliance_hook("access_token_response", hook)
        url = self.proxy.url
        try:
            s.fetch_token(oh.TOKEN_URL, code=code,
                          client_secret=app.client_secret,
                          include_client_id=True,
                          proxies={"https": url, "http": url},
                          verify=self.ca_bundle, timeout=30)
            self.fail("fetch_token succeeded")
        except Exception as e:          # oauthlib raises per error code
            self.assertIn("redirect_uri_mismatch", repr(e))
        finally:
            s.close()
        rec = self.one_record_since(m["gh"])
        self.assert_diagnosed(
            res.headers, res.body, rec, "redirect_uri_mismatch",
            "redirect_differs",
            {"sent": CB, "registered": "http://127.0.0.1:3000/cb",
             "detail": "host differs: localhost vs 127.0.0.1 (a loopback "
                       "name and address are different hosts)"},
            mark=m, client_id=app.client_id, redirect_uri=CB)

    def test_redirect_differs_how(self):
        # Scheme, port, path and trailing slash: each slip named.
        cases = [
            ("https://localhost:3000/cb", CB, "scheme differs: https vs http"),
            ("http://localhost:4000/cb", CB, "port differs: 4000 vs 3000"),
            ("http://localhost:3000/other", CB,
             "path /other is not /cb or below it"),
            ("http://localhost:3000/cb", CB + "/",
             "trailing slash differs: /cb vs /cb/"),
        ]
        for i, (sent, authorized, detail) in enumerate(cases):
            with self.subTest(sent=sent, authorized=authorized):
                app = self.new_app()
                code = self.authorized_code(app.client_id, authorized,
                                            "w-%d" % i)
                m, r, rec = self.exchange_for(app, code, sent)
                self.assertEqual(rec.outcome, "redirect_uri_mismatch")
                self.assert_diagnosed(
                    r.headers, r.body, rec, "redirect_uri_mismatch",
                    "redirect_differs",
                    {"sent": sent, "registered": authorized,
                     "detail": detail},
                    mark=m, client_id=app.client_id, redirect_uri=sent)

    def test_redirect_differs_text_is_encoded(self):
        # Request text in the sentence: '%' and '"' must be percent-
        # encoded in the Display String (checked by assert_annotated), and
        # bytes outside printable ASCII are shown percent-encoded (issue
        # 14: not as '?', which would start a query). Query values are
        # shown only for the harmless keys (scope, error, ...).
        # The log record keeps the UTF-8 (its writer escapes what needs
        # it), redacted the same way.
        cases = [("/cb?scope=%2Fhome&error=%22x%22&next=%2F",
                  "/cb?scope=%2Fhome&error=%22x%22&next=***",
                  "/cb?scope=%2Fhome&error=%22x%22&next=***"),
                 ("/cb/caf\u00e9", "/cb/caf%C3%A9", "/cb/caf\u00e9")]
        for i, (path, shown, logged) in enumerate(cases):
            with self.subTest(path=path):
                app = self.new_app()
                authorized = "http://localhost:3000" + path
                sent = "http://127.0.0.1:3000" + path
                code = self.authorized_code(app.client_id, authorized,
                                            "x-%d" % i)
                m, r, rec = self.exchange_for(app, code, sent)
                self.assertEqual(rec.outcome, "redirect_uri_mismatch")
                self.assert_diagnosed(
                    r.headers, r.body, rec, "redirect_uri_mismatch",
                    "redirect_differs",
                    {"sent": "http://127.0.0.1:3000" + shown,
                     "registered": "http://localhost:3000" + shown,
                     "detail": "host differs: 127.0.0.1 vs localhost (a "
                               "loopback name and address are different "
                               "hosts)"},
                    mark=m, client_id=app.client_id,
                    redirect_uri="http://127.0.0.1:3000" + logged)

    def test_redirect_unregistered(self):
        # The app authorizes and exchanges with the same redirect_uri, and
        # GitHub refuses it: the registered callback URL is what is wrong.
        app = self.new_app(callback="https://app.example.test/cb")
        r0, q = self.authorize(app.client_id, CB, "u-1")
        # GitHub's own answer to the browser already says so.
        self.assertEqual(q.get("error"), "redirect_uri_mismatch", q)
        code = self.gh.issue_code(app.client_id)
        m, r, rec = self.exchange_for(app, code, CB)
        self.assertEqual(rec.outcome, "redirect_uri_mismatch")
        self.assert_diagnosed(r.headers, r.body, rec, "redirect_uri_mismatch",
                              "redirect_unregistered", {"sent": CB},
                              mark=m, client_id=app.client_id,
                              redirect_uri=CB)

    # -- no cause ------------------------------------------------------------------
    def test_no_authorize_seen_generic(self):
        # The proxy saw no authorize request for this client: GitHub's
        # word and the generic hint only.
        app = self.new_app()
        sent = "http://127.0.0.1:3000/cb"
        m, r, rec = self.exchange_for(app, self.gh.issue_code(app.client_id),
                                      sent)
        self.assertEqual(rec.outcome, "redirect_uri_mismatch")
        self.assert_generic(r.headers, r.body, rec, "redirect_uri_mismatch",
                            mark=m, client_id=app.client_id,
                            redirect_uri=sent)

    def test_matching_redirect_untouched(self):
        app = self.new_app()
        code = self.authorized_code(app.client_id, CB + "/deeper", "g-1")
        m, r, rec = self.exchange_for(app, code, CB + "/deeper")
        self.assertEqual(rec.outcome, "success")
        self.assert_untouched(r.headers, r.body, rec, mark=m)


if __name__ == "__main__":
    dh.main()
