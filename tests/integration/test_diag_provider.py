#!/usr/bin/python3
"""Other providers, the rest of the catalog, and the provider's clock
(issue 7).

- A token endpoint configured as "auth.example.test/oauth/token" (plain
  HTTP, --resolve auth.example.test:80) answering RFC 6749 section 5.2
  errors with status 400 (401 for invalid_client) and a JSON body: the
  response is annotated with the catalog's generic hint and the RFC's doc
  URL, status, headers and body kept; nothing GitHub-specific is claimed;
  other paths on that host are not token endpoints.
- unverified_user_email from GitHub's token endpoint: annotated.
- A token endpoint whose Date is 5 minutes off the local clock: one warn
  record, once per run, whichever way the clock is off.

Clients: curl and requests-oauthlib (proxies=).
"""

import json
import os
from unittest import mock

import diag_helpers as dh
import oauth_helpers as oh
from harness import SLOW

HOST = "auth.example.test"
RFC_URL = "http://%s/oauth/token" % HOST
RFC_CODES = ("invalid_request", "invalid_client", "invalid_grant",
             "unauthorized_client", "unsupported_grant_type",
             "invalid_scope")
RFC_DOC = "https://www.rfc-editor.org/rfc/rfc6749#section-5.2"


class OtherProvider(dh.DiagTestCase):

    def setUp(self):
        super().setUp()
        self.fp = self.add_provider(tls=False)
        self.px = self.provider_proxy(
            self.fp, host=HOST, port=80,
            config={"token_endpoints": ["github.com",
                                        HOST + "/oauth/token"]})

    def rfc_params(self, secret="0123456789ab"):
        return [("grant_type", "authorization_code"),
                ("code", "SplxlOBeZQQYbYS6WxSbIA"),
                ("redirect_uri", "https://client.example.test/cb"),
                ("client_id", "s6BhdRkqt3"), ("client_secret", secret)]

    def test_rfc_errors_annotated(self):
        for code in RFC_CODES:
            with self.subTest(error=code):
                if code != "unsupported_grant_type":
                    # (that code is GitHub's device flow's too, and its
                    # catalog entry points at GitHub's page)
                    self.assertEqual(self.catalog[code]["ja"]["doc"],
                                     RFC_DOC)
                    self.assertEqual(self.catalog[code]["en"]["doc"],
                                     RFC_DOC)
                m = self.pmark(self.px, self.fp)
                r = self.post_form(RFC_URL + "?__error=" + code,
                                   self.rfc_params(), self.px,
                                   accept="application/json")
                self.assertEqual(r.rc, 0, r)
                rec = self.one_provider_record(self.fp, m)
                self.assertEqual(r.status, rec.status)
                self.assertEqual(r.status,
                                 401 if code == "invalid_client" else 400)
                self.assert_generic(r.headers, r.body, rec, code, mark=m,
                                    client_id="s6BhdRkqt3",
                                    redirect_uri="https://client.example."
                                    "test/cb", host=HOST)
                self.assertNotIn("0123456789ab", self.px.stderr_text())

    def test_invalid_grant_requests_oauthlib(self):
        from requests_oauthlib import OAuth2Session
        res = oh.RequestsResult()

        def hook(resp):
            res.headers = oh._urllib3_header_list(resp)
            res.body = resp.content
            return resp
        m = self.pmark(self.px, self.fp)
        s = OAuth2Session("s6BhdRkqt3",
                          redirect_uri="https://client.example.test/cb")
        s.trust_env = False
        s.register_compliance_hook("access_token_response", hook)
        # oauthlib refuses plain http unless told this is a test.
        env = mock.patch.dict(os.environ, {"OAUTHLIB_INSECURE_TRANSPORT":
                                           "1"})
        env.start()
        self.addCleanup(env.stop)
        try:
            s.fetch_token(RFC_URL, code="SplxlOBeZQQYbYS6WxSbIA",
                          client_secret="c" * 12, include_client_id=True,
                          proxies={"http": self.px.url}, timeout=30 * SLOW)
            self.fail("fetch_token succeeded")
        except Exception as e:          # oauthlib's InvalidGrantError
            self.assertIn("invalid_grant", repr(e))
        finally:
            s.close()
        rec = self.one_provider_record(self.fp, m)
        self.assertEqual(rec.status, 400)
        self.assert_generic(res.headers, res.body, rec, "invalid_grant",
                            mark=m, client_id="s6BhdRkqt3",
                            redirect_uri="https://client.example.test/cb",
                            host=HOST)

    def test_other_paths_untouched(self):
        # The entry names a path: GitHub's path on that host, and any
        # other, are not token endpoints.
        for path in ("/login/oauth/access_token", "/oauth/token2",
                     "/oauth"):
            with self.subTest(path=path):
                m = self.pmark(self.px, self.fp)
                r = self.post_form("http://%s%s" % (HOST, path),
                                   self.rfc_params(), self.px)
                self.assertEqual(r.rc, 0, r)
                self.assert_no_annotation(r.headers)
                self.assertEqual(self.log_since(m, event="oauth-error"), [])

    def test_github_rules_not_applied(self):
        # invalid_client with a 12-character secret: GitHub's secret shape
        # means nothing for another provider.
        m = self.pmark(self.px, self.fp)
        r = self.post_form(RFC_URL + "?__error=invalid_client",
                           self.rfc_params(), self.px)
        rec = self.one_provider_record(self.fp, m)
        self.assert_generic(
            r.headers, r.body, rec, "invalid_client", mark=m,
            client_id="s6BhdRkqt3",
            redirect_uri="https://client.example.test/cb", host=HOST)
        self.assertEqual(r.header("WWW-Authenticate"),
                         'Basic realm="auth.example.test"')


class GitHubCatalogCodes(dh.DiagTestCase):

    def test_unverified_user_email(self):
        m = self.mark()
        r = self.post_form(oh.TOKEN_URL + "?__error=unverified_user_email",
                           self.params(self.fresh_code()))
        self.assertEqual(r.rc, 0, r)
        rec = self.one_record_since(m["gh"])
        self.assertEqual(rec.outcome, "unverified_user_email")
        self.assert_generic(r.headers, r.body, rec, "unverified_user_email",
                            mark=m)
        self.assertEqual(
            self.catalog["unverified_user_email"]["en"]["doc"],
            "https://docs.github.com/en/apps/oauth-apps/maintaining-oauth-"
            "apps/troubleshooting-oauth-app-access-token-request-errors"
            "#unverified-user-email")


class ProviderClock(dh.DiagTestCase):

    def clock_records(self, mark):
        return [r for r in self.log_since(mark, event="message",
                                          level="warn")
                if "clock" in r.get("msg", "")]

    def skewed(self, skew):
        fp = self.add_provider(date_skew=skew)
        fp.add_app()
        px = self.provider_proxy(fp)
        m = self.pmark(px, fp)
        for i in range(3):
            r = self.post_form(oh.TOKEN_URL, self.params("ab" * 10), px)
            self.assertEqual((r.rc, r.status), (0, 200), r)
            self.assertEqual(self.one_provider_record(
                fp, {"fp": m["fp"] + i}).outcome, "bad_verification_code")
        recs = self.clock_records(m)
        self.assertEqual(len(recs), 1, "expected one clock warning: %r\n%s" %
                         (recs, px.tail()))
        return recs[0]["msg"]

    def test_provider_clock_ahead(self):
        msg = self.skewed(300)
        # Our clock is behind theirs by 300 s (give or take one).
        self.assertTrue(any("%d seconds behind" % n in msg
                            for n in (299, 300, 301)), msg)

    def test_provider_clock_behind(self):
        msg = self.skewed(-300)
        self.assertTrue(any("%d seconds ahead" % n in msg
                            for n in (299, 300, 301)), msg)

    def test_clock_in_step_no_record(self):
        fp = self.add_provider(date_skew=20)
        px = self.provider_proxy(fp)
        m = self.pmark(px, fp)
        r = self.post_form(oh.TOKEN_URL, self.params("ab" * 10), px)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(self.clock_records(m), [])
        self.assertEqual([x for x in self.log_since(m) if "clock" in
                          json.dumps(x)], [])


if __name__ == "__main__":
    dh.main()
