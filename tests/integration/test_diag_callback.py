#!/usr/bin/python3
"""The authorize step's redirect_uri_mismatch, explained (issue 13 item 1).

GitHub answers an authorize request whose redirect_uri its registered
callback does not allow by redirecting the browser to the *registered*
callback with ?error=redirect_uri_mismatch (documented; the fake GitHub
does exactly that), so the 302's Location reveals the registered URL. The
proxy compares it with the redirect_uri the authorize request carried and
names the part that differs: callback_scheme (an app behind a
TLS-terminating reverse proxy builds http://), callback_host (localhost
vs 127.0.0.1, www.), callback_port, callback_path (an app under a
sub-path drops it). The same diagnosis is given when the browser brings
the error to the registered callback (the app's own server).

The browser is curl (redirects not followed), through the real binary, to
the fake GitHub as github.com over intercepted TLS and over plain HTTP, in
ja and en. Each test registers an app of its own.
"""

import re
import urllib.parse

import diag_helpers as dh
import oauth_helpers as oh

PLAIN = "http://github.com"


class CallbackMismatch(dh.DiagTestCase):

    def mismatch(self, callback, sent, state, proxy=None, base=None,
                 lang="ja"):
        """Authorize app(callback) with redirect_uri sent: the 302 to the
        registered callback, its mark, and the app."""
        app = self.gh.add_app(callback=callback)
        p = proxy or self.proxy
        m = self.mark(p)
        kw = {"base": base} if base else {}
        r, q = self.authorize(app.client_id, sent, state, proxy=p, **kw)
        self.assertEqual(q.get("error"), "redirect_uri_mismatch", q)
        self.assertEqual(q.get("state"), state, q)
        self.assertTrue(r.header("Location").startswith(callback + "?"),
                        r.header("Location"))
        return app, m, r

    def assert_explained(self, headers, mark, app, cause, values,
                         lang="ja", host="github.com"):
        """One annotation on the response: redirect_uri_mismatch with
        ;cause=cause, the filled sentence then the catalog's hint; one
        warn record with context authorize, the same cause and diagnosis,
        the authorize request's client_id and redirect_uri."""
        value, item, params = self.annotation(headers)
        entry = self.catalog["redirect_uri_mismatch"][lang]
        self.assertEqual(item, "redirect_uri_mismatch", value)
        self.assertEqual(params.get("lang"), lang, value)
        self.assertEqual(params.get("cause"), cause, value)
        self.assertIsInstance(params.get("cause"), oh.Token, value)
        self.assertEqual(params.get("doc"), entry["doc"], value)
        want = self.filled(cause, lang, **values)
        hint = params["hint"]
        self.assertRegex(hint, "^" + want + " " +
                         re.escape(entry["hint"]) + "$")
        recs = self.log_since(mark, event="oauth-error", expect=1)
        self.assertEqual(len(recs), 1, recs)
        rec = recs[0]
        self.assertEqual(rec.get("level"), "warn", rec)
        self.assertEqual(rec.get("context"), "authorize", rec)
        self.assertEqual(rec.get("host"), host, rec)
        self.assertEqual(rec.get("cause"), cause, rec)
        self.assertEqual(rec.get("diagnosis"),
                         hint[:len(hint) - len(entry["hint"]) - 1], rec)
        self.assertEqual(rec.get("client_id"), app.client_id, rec)
        self.assertEqual(rec.get("redirect_uri"), values["sent"], rec)
        self.assert_status_shows(mark["proxy"], "redirect_uri_mismatch",
                                 cause, rec["diagnosis"])
        return rec

    # -- over intercepted TLS -------------------------------------------------
    def test_scheme_behind_tls_terminating_proxy(self):
        cb = "https://app.example.test/auth/callback"
        sent = "http://app.example.test/auth/callback"
        app, m, r = self.mismatch(cb, sent, "sch-1")
        self.assert_explained(r.headers, m, app, "callback_scheme",
                              {"sent": sent, "registered": cb,
                               "was": "http", "want": "https"})

    def test_host_loopback_address_english(self):
        proxy = self.new_oauth_proxy(["--lang", "en"])
        cb = "http://localhost:3000/callback"
        sent = "http://127.0.0.1:3000/callback"
        app, m, r = self.mismatch(cb, sent, "hst-1", proxy=proxy)
        self.assert_explained(r.headers, m, app, "callback_host",
                              {"sent": sent, "registered": cb,
                               "was": "127.0.0.1", "want": "localhost"},
                              lang="en")

    def test_host_www_dropped(self):
        cb = "https://www.example.test/callback"
        sent = "https://example.test/callback"
        app, m, r = self.mismatch(cb, sent, "hst-2")
        self.assert_explained(r.headers, m, app, "callback_host",
                              {"sent": sent, "registered": cb,
                               "was": "example.test",
                               "want": "www.example.test"})

    # -- over plain HTTP ------------------------------------------------------
    def test_port_moved_plain(self):
        cb = "http://localhost:3000/callback"
        sent = "http://localhost:5173/callback"
        app, m, r = self.mismatch(cb, sent, "prt-1", base=PLAIN)
        self.assert_explained(r.headers, m, app, "callback_port",
                              {"sent": sent, "registered": cb,
                               "was": "5173", "want": "3000"})

    def test_path_sub_path_dropped_plain_english(self):
        proxy = self.new_oauth_proxy(["--lang", "en"])
        cb = "https://example.test/app/auth/callback"
        sent = "https://example.test/auth/callback"
        app, m, r = self.mismatch(cb, sent, "pth-1", proxy=proxy,
                                  base=PLAIN)
        self.assert_explained(r.headers, m, app, "callback_path",
                              {"sent": sent, "registered": cb,
                               "was": "/auth/callback",
                               "want": "/app/auth/callback"}, lang="en")

    # -- the browser brings the error to the registered callback --------------
    def test_on_the_callback_request(self):
        # The app's own server (localhost:3000, plain HTTP) answers the
        # browser's GET of the registered callback: that answer carries
        # the explanation, the callback URL being the registered one.
        proxy = self.new_oauth_proxy(
            ["--resolve", "localhost:3000:127.0.0.1:%d" % self.origin.port])
        cb = "http://localhost:3000/callback"
        sent = "http://localhost:3000/login/callback/"
        app, m, r = self.mismatch(cb, sent, "cbq-1", proxy=proxy)
        m = self.mark(proxy)
        back = self.browser_get(r.header("Location"), proxy)
        self.assertEqual(back.rc, 0, back)
        self.assert_explained(back.headers, m, app, "callback_path",
                              {"sent": sent, "registered": cb,
                               "was": "/login/callback/",
                               "want": "/callback"}, host="localhost")

    # -- GitHub's own page instead of a redirect ------------------------------
    def test_refused_with_own_page_plain(self):
        # Reported since 2024, undocumented: GitHub shows "The
        # redirect_uri is not associated with this application" and never
        # redirects back. The fake assumes a 400; the proxy says in the
        # log that the authorize request was refused, and with which
        # redirect_uri.
        app = self.gh.add_app(callback="https://app.example.test/cb")
        app.refuse_page = True
        sent = "http://app.example.test/cb"
        m = self.mark()
        r = self.browser_get(PLAIN + "/login/oauth/authorize?" +
                             urllib.parse.urlencode(
                                 [("client_id", app.client_id),
                                  ("redirect_uri", sent), ("state", "rf-1")]))
        self.assertEqual((r.rc, r.status), (0, 400), r)
        self.assertIn(b"not associated", r.body)
        recs = self.log_since(m, event="oauth-authorize-refused", expect=1)
        self.assertEqual(len(recs), 1, recs)
        rec = recs[0]
        self.assertEqual(rec.get("level"), "warn", rec)
        self.assertEqual(rec.get("status"), 400, rec)
        self.assertEqual(rec.get("redirect_uri"), sent, rec)
        self.assertEqual(rec.get("client_id"), app.client_id, rec)
        self.assertIn("redirect_uri", rec.get("msg", ""))

    # -- nothing to explain ---------------------------------------------------
    def test_allowed_redirect_gets_a_code(self):
        # A sub-path and a subdomain of the registered callback are
        # allowed: a code comes back, nothing is annotated or logged.
        cb = "https://example.test/cb"
        app = self.gh.add_app(callback=cb)
        m = self.mark()
        r, q = self.authorize(app.client_id,
                              "https://auth.example.test/cb/deeper", "ok-1")
        self.assertIn("code", q)
        self.assert_no_annotation(r.headers)
        self.assertEqual(self.log_since(m, event="oauth-error"), [])
        self.assertEqual(self.log_since(m, event="oauth-authorize-refused"),
                         [])
        self.assertNotIn(q["code"], self.proxy.stderr_text())

    def test_mismatch_without_state_still_explained(self):
        # No state: the proxy knows the redirect_uri from the authorize
        # request itself.
        cb = "https://app.example.test/cb"
        sent = "http://app.example.test/cb"
        app = self.gh.add_app(callback=cb)
        m = self.mark()
        r = self.browser_get("https://github.com/login/oauth/authorize?" +
                             urllib.parse.urlencode(
                                 [("client_id", app.client_id),
                                  ("redirect_uri", sent)]))
        self.assertEqual(r.status, 302, r)
        self.assert_explained(r.headers, m, app, "callback_scheme",
                              {"sent": sent, "registered": cb,
                               "was": "http", "want": "https"})


if __name__ == "__main__":
    dh.main()
