#!/usr/bin/python3
"""Authorization request errors and granted scopes (issue 7).

Errors GitHub delivers on the browser's redirect to the callback
(?error=access_denied|application_suspended|redirect_uri_mismatch&
error_description=...&state=...) are annotated on the response that carries
them, both the authorize request's 302 (Location) and the browser's GET of
the callback URL, and logged with context "authorize". A token that grants
fewer scopes than the authorize request asked for gives one info
"oauth-scope" record with both lists.

The browser is curl (redirects not followed); tests/servers/
fake_provider.py plays github.com for the errors it can be asked for
(?__error=), and the app's callback server (plain HTTP, reached as
localhost:3000 through --resolve); the fake GitHub plays github.com for
redirect_uri_mismatch and the scope tests (requests-oauthlib exchanges).
"""

import urllib.parse

import diag_helpers as dh
import oauth_helpers as oh

CB = "http://localhost:3000/cb"


class AuthorizeErrors(dh.DiagTestCase):

    def setUp(self):
        super().setUp()
        self.fp = self.add_provider()
        self.app_cb = self.add_provider(tls=False)     # the app's callback
        self.papp = self.fp.add_app(callback=CB)
        self.px = self.provider_proxy(self.fp, extra=[
            "--resolve", "localhost:3000:127.0.0.1:%d" % self.app_cb.port])

    def assert_authorize_record(self, mark, code, client_id=None,
                                redirect_uri=None, host="github.com",
                                cause=None):
        recs = self.new_log_records(mark)
        self.assertEqual(len(recs), 1, "expected one oauth-error record: "
                         "%r\n%s" % (recs, mark["proxy"].tail()))
        r = recs[0]
        entry = self.catalog[code]["ja"]
        self.assertEqual(r.get("level"), "warn", r)
        self.assertEqual(r.get("error"), code, r)
        self.assertEqual(r.get("context"), "authorize", r)
        self.assertEqual(r.get("host"), host, r)
        self.assertEqual(r.get("lang"), "ja", r)
        for k in ("ts", "req", "client"):
            self.assertIn(k, r)
        for k in ("title", "hint", "doc"):
            self.assertEqual(r.get(k), entry[k], r)
        # test_diag_callback.py checks the sentence of each cause.
        self.assertEqual(r.get("cause"), cause, r)
        # The authorize request carried these; the contract (DESIGN.md,
        # log record) asks for them where the request carried them.
        if client_id is not None:
            self.assertEqual(r.get("client_id"), client_id, r)
        if redirect_uri is not None:
            self.assertEqual(r.get("redirect_uri"), redirect_uri, r)
        return r

    def assert_redirect_annotation(self, r, code, cause=None):
        value, item, params = self.annotation(r.headers)
        entry = self.catalog[code]["ja"]
        self.assertEqual(item, code, value)
        self.assertEqual(params.get("lang"), "ja", value)
        self.assertEqual(params.get("cause"), cause, value)
        if cause is None:
            self.assertEqual(params.get("hint"), entry["hint"], value)
        else:
            self.assertTrue(params["hint"].endswith(" " + entry["hint"]),
                            value)
        self.assertEqual(params.get("doc"), entry["doc"], value)
        self.assertIn(";hint=" + oh.display_string(params["hint"]), value)
        return params

    def test_access_denied_on_authorize_redirect(self):
        m = self.pmark(self.px)
        r, q = self.authorize(self.papp.client_id, CB, "d-1", "repo",
                              proxy=self.px,
                              extra=[("__error", "access_denied")])
        self.assertEqual(q.get("error"), "access_denied", q)
        self.assertEqual(q.get("state"), "d-1", q)
        # The 302 itself: Location untouched, the annotation added.
        self.assertTrue(r.header("Location").startswith(CB + "?error="),
                        r.header("Location"))
        self.assert_redirect_annotation(r, "access_denied")
        self.assert_authorize_record(m, "access_denied")

    def test_application_suspended_on_authorize_redirect(self):
        m = self.pmark(self.px)
        r, q = self.authorize(self.papp.client_id, CB, "s-1", "repo",
                              proxy=self.px,
                              extra=[("__error", "application_suspended")])
        self.assertEqual(q.get("error"), "application_suspended", q)
        self.assert_redirect_annotation(r, "application_suspended")
        self.assert_authorize_record(m, "application_suspended")

    def test_access_denied_on_callback_request(self):
        # The browser brings the error to the app's callback: the app's
        # answer carries the annotation.
        q = urllib.parse.urlencode([
            ("error", "access_denied"),
            ("error_description",
             "The user has denied your application access."),
            ("error_uri", "/apps/troubleshooting-authorization-request-"
             "errors/#access-denied"), ("state", "d-2")])
        m = self.pmark(self.px)
        r = self.browser_get(CB + "?" + q, self.px)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(r.body, b"callback page of the test app\n")
        self.assert_redirect_annotation(r, "access_denied")
        self.assert_authorize_record(m, "access_denied", host="localhost")

    def test_redirect_uri_mismatch_on_authorize_redirect(self):
        # The fake GitHub redirects a bad redirect_uri to the registered
        # callback with error=redirect_uri_mismatch; the path differs
        # (issue 13: the cause is named).
        m = self.mark()
        bad = "http://localhost:3000/elsewhere"
        r, q = self.authorize(self.app.client_id, bad, "m-1")
        self.assertEqual(q.get("error"), "redirect_uri_mismatch", q)
        self.assertTrue(r.header("Location").startswith(oh.CALLBACK + "?"))
        self.assert_redirect_annotation(r, "redirect_uri_mismatch",
                                        "callback_path")
        self.assert_authorize_record(m, "redirect_uri_mismatch",
                                     cause="callback_path")

    def test_authorize_record_names_client_and_redirect(self):
        # DESIGN.md: the record has client_id and redirect_uri "where the
        # request carried them"; the authorize request carries both.
        for err, redirect in (("access_denied", CB),
                              ("redirect_uri_mismatch",
                               "http://localhost:3000/elsewhere")):
            with self.subTest(error=err):
                m = self.pmark(self.px)
                extra = [("__error", err)]
                self.authorize(self.papp.client_id, redirect, "c-" + err,
                               "repo", proxy=self.px, extra=extra)
                self.assert_authorize_record(
                    m, err, client_id=self.papp.client_id,
                    redirect_uri=redirect,
                    cause="callback_path" if err != "access_denied" else
                    None)

    # -- no annotation ---------------------------------------------------------------
    def test_code_redirect_and_callback_untouched(self):
        m = self.pmark(self.px)
        r, q = self.authorize(self.papp.client_id, CB, "ok-1", "repo",
                              proxy=self.px)
        self.assertIn("code", q)
        self.assert_no_annotation(r.headers)
        cb = self.browser_get(CB + "?" + urllib.parse.urlencode(q), self.px)
        self.assertEqual((cb.rc, cb.status), (0, 200), cb)
        self.assert_no_annotation(cb.headers)
        self.assertEqual(self.log_since(m, event="oauth-error"), [])
        self.assertNotIn(q["code"], self.px.stderr_text())

    def test_unknown_error_on_callback_not_annotated(self):
        # An error code outside the catalog: relayed untouched, logged at
        # info only.
        q = urllib.parse.urlencode([("error", "temporarily_unavailable"),
                                    ("state", "t-1")])
        m = self.pmark(self.px)
        r = self.browser_get(CB + "?" + q, self.px)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assert_no_annotation(r.headers)
        self.assertEqual(self.log_since(m, level="warn"), [])


class GrantedScope(dh.DiagTestCase):

    def exchange(self, code):
        m = self.mark()
        res = self.requests_token(code)
        self.assertIsNone(res.error, res)
        rec = self.one_record_since(m["gh"])
        self.assertEqual(rec.outcome, "success")
        return m, res, rec

    def test_scope_narrower_than_requested(self):
        code = self.authorized_code(self.app.client_id, oh.CALLBACK,
                                    "sc-1", scope="repo,user")
        # The user (or an organization policy) granted repo only.
        with self.gh.registry.lock:
            self.gh.registry.codes[code].scope = "repo"
        m, res, rec = self.exchange(code)
        self.assertEqual(res.token.get("scope"), ["repo"])
        self.assert_untouched(res.headers, res.body, rec)
        recs = self.log_since(m, event="oauth-scope", expect=1)
        self.assertEqual(len(recs), 1, recs)
        r = recs[0]
        self.assertEqual(r.get("level"), "info", r)
        self.assertEqual(r.get("requested"), "repo,user", r)
        self.assertEqual(r.get("granted"), "repo", r)
        self.assertEqual(r.get("host"), "github.com", r)
        self.assertNotIn(res.token["access_token"], self.proxy.stderr_text())

    def test_scope_as_requested_no_record(self):
        code = self.authorized_code(self.app.client_id, oh.CALLBACK,
                                    "sc-2", scope="repo,user")
        m, res, rec = self.exchange(code)
        self.assertEqual(self.log_since(m, event="oauth-scope"), [])

    def test_scope_wider_order_changed_no_record(self):
        # Granted in another order, or more than asked: nothing missing.
        code = self.authorized_code(self.app.client_id, oh.CALLBACK,
                                    "sc-3", scope="user repo")
        with self.gh.registry.lock:
            self.gh.registry.codes[code].scope = "gist,repo,user"
        m, res, rec = self.exchange(code)
        self.assertEqual(self.log_since(m, event="oauth-scope"), [])


if __name__ == "__main__":
    dh.main()
