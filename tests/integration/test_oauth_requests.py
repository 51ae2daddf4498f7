#!/usr/bin/python3
"""The code-for-token exchange with Python requests-oauthlib
(OAuth2Session.fetch_token, Debian's python3-requests-oauthlib) through
the proxy: proxies= (CONNECT, intercepted TLS), verify= the proxy's CA
bundle (system store + ca.pem) or ca.pem alone.

fetch_token sends Accept: application/json and, by default, the client
credentials as HTTP Basic; include_client_id=True puts them in the body.
Scenarios: good exchange, wrong secret, wrong redirect_uri, reused code,
unknown code. Each error: oauthlib raises with GitHub's error code, the
response it parsed carries the annotation (catalog ja entry), the body is
byte-identical, every header kept, one warn record naming client_id and
redirect_uri.
"""

import oauth_helpers as oh


class RequestsOAuthlib(oh.OAuthTestCase):

    def run_exchange(self, code, **kw):
        m = self.mark()
        res = self.requests_token(code, **kw)
        self.assertIsNotNone(res.response, "no response reached "
                             "requests-oauthlib: %r\n%s" %
                             (res, self.proxy.tail()))
        self.assertEqual(res.response.status_code, 200, res)
        return m, res, self.one_record_since(m["gh"])

    def check_error(self, res, rec, m, code, redirect_uri=oh.CALLBACK):
        self.assertIsNone(res.token)
        self.assertEqual(getattr(res.error, "error", None), code,
                         "oauthlib raised %r" % (res.error,))
        self.assert_annotated(res.headers, res.body, rec, code, mark=m,
                              redirect_uri=redirect_uri)

    def test_good_exchange(self):
        for include in (None, True):
            with self.subTest(include_client_id=include):
                m, res, rec = self.run_exchange(self.fresh_code(),
                                                include_client_id=include)
                self.assertIsNone(res.error, res)
                self.assertEqual(rec.auth, "body" if include else "basic")
                self.assertEqual(rec.format, "json")
                self.assertEqual(res.token["access_token"],
                                 rec.access_token)
                self.assertEqual(res.token["token_type"], "bearer")
                self.assert_untouched(res.headers, res.body, rec, mark=m)

    def test_good_exchange_verify_ca_pem_only(self):
        m, res, rec = self.run_exchange(self.fresh_code(),
                                        verify=self.ca_pem)
        self.assertIsNone(res.error, res)
        self.assert_untouched(res.headers, res.body, rec, mark=m)

    def test_code_from_authorize_redirect(self):
        code = self.authorize_code(oh.CALLBACK, state="st-1")
        m, res, rec = self.run_exchange(code)
        self.assertIsNone(res.error, res)
        self.assertEqual(res.token["access_token"], rec.access_token)

    def test_wrong_secret(self):
        for include in (None, True):
            with self.subTest(include_client_id=include):
                m, res, rec = self.run_exchange(self.fresh_code(),
                                                secret="5" * 40,
                                                include_client_id=include)
                self.check_error(res, rec, m, "incorrect_client_credentials")

    def test_wrong_redirect_uri(self):
        m, res, rec = self.run_exchange(self.fresh_code(),
                                        redirect_uri=oh.WRONG_REDIRECT)
        self.check_error(res, rec, m, "redirect_uri_mismatch",
                         redirect_uri=oh.WRONG_REDIRECT)

    def test_reused_code(self):
        code = self.fresh_code()
        m, res, rec = self.run_exchange(code)
        self.assertIsNone(res.error, res)
        m, res, rec = self.run_exchange(code)
        self.check_error(res, rec, m, "bad_verification_code")

    def test_unknown_code(self):
        for include in (None, True):
            with self.subTest(include_client_id=include):
                m, res, rec = self.run_exchange("deadbeefdeadbeefdead",
                                                include_client_id=include)
                self.check_error(res, rec, m, "bad_verification_code")


if __name__ == "__main__":
    oh.main()
