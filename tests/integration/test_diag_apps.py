#!/usr/bin/python3
"""Secret of another app (issue 13 item 5): incorrect_client_credentials
where this very secret got a token earlier with another client_id (a
staging ID with the production secret) is secret_other_app, naming that
client_id. Only a keyed hash of an accepted secret is kept. A well-formed
secret never seen accepted claims nothing.

curl through the real binary against the fake GitHub as github.com, over
intercepted TLS and plain HTTP, in ja and en.
"""

import diag_helpers as dh
import oauth_helpers as oh

TOKEN_PATH = oh.TOKEN_PATH


class SecretOfAnotherApp(dh.DiagTestCase):

    def setUp(self):
        super().setUp()
        self.prod = self.gh.add_app(callback=oh.CALLBACK, name="prod")
        self.staging = self.gh.add_app(callback=oh.CALLBACK, name="staging")

    def accepted(self, app, proxy=None, plain=False):
        """A successful exchange with app's credentials: its req id."""
        p = proxy or self.proxy
        m = self.mark(p)
        r = self.curl_token(self.params(self.gh.issue_code(app.client_id),
                                        client_id=app.client_id,
                                        secret=app.client_secret),
                            proxy=p, plain=plain)
        self.assertEqual(self.one_record_since(m["gh"]).outcome, "success")
        return self.access_since(m, TOKEN_PATH)[0]["req"]

    def mixed(self, proxy=None, plain=False):
        p = proxy or self.proxy
        m = self.mark(p)
        r = self.curl_token(self.params(
            self.gh.issue_code(self.staging.client_id),
            client_id=self.staging.client_id,
            secret=self.prod.client_secret), proxy=p, plain=plain)
        return m, r, self.one_record_since(m["gh"])

    def test_staging_id_production_secret_tls(self):
        ok_req = self.accepted(self.prod)
        m, r, rec = self.mixed()
        self.assert_diagnosed(r.headers, r.body, rec,
                              "incorrect_client_credentials",
                              "secret_other_app",
                              {"req": str(ok_req),
                               "registered": self.prod.client_id},
                              mark=m, client_id=self.staging.client_id)
        self.assertNotIn(self.prod.client_secret, self.proxy.stderr_text())

    def test_staging_id_production_secret_plain_english(self):
        proxy = self.new_oauth_proxy(["--lang", "en"])
        ok_req = self.accepted(self.prod, proxy, plain=True)
        m, r, rec = self.mixed(proxy, plain=True)
        self.assert_diagnosed(r.headers, r.body, rec,
                              "incorrect_client_credentials",
                              "secret_other_app",
                              {"req": str(ok_req),
                               "registered": self.prod.client_id},
                              mark=m, lang="en",
                              client_id=self.staging.client_id)

    # -- no cause may be claimed ----------------------------------------------
    def test_secret_never_accepted_generic(self):
        # The production secret was never seen accepted by this proxy
        # (a fresh one): a well-formed wrong secret, GitHub's word only.
        proxy = self.new_oauth_proxy()
        m, r, rec = self.mixed(proxy)
        self.assert_generic(r.headers, r.body, rec,
                            "incorrect_client_credentials", mark=m,
                            client_id=self.staging.client_id)

    def test_secret_failed_before_with_other_id_generic(self):
        # Seen before with another client_id, but refused there too:
        # it vouches for nothing.
        proxy = self.new_oauth_proxy()
        wrong = "ab" * 20
        m = self.mark(proxy)
        self.curl_token(self.params(self.gh.issue_code(
            self.prod.client_id), client_id=self.prod.client_id,
            secret=wrong), proxy=proxy)
        m = self.mark(proxy)
        r = self.curl_token(self.params(self.gh.issue_code(
            self.staging.client_id), client_id=self.staging.client_id,
            secret=wrong), proxy=proxy)
        rec = self.one_record_since(m["gh"])
        self.assert_generic(r.headers, r.body, rec,
                            "incorrect_client_credentials", mark=m,
                            client_id=self.staging.client_id)


class NumericAppId(dh.DiagTestCase):
    """Issue 13 item 14: the GitHub App's numeric App ID sent as client_id
    stays id_shape, also when its secret was accepted before with the real
    Client ID (secret_other_app must not take its place)."""

    def test_numeric_app_id_after_success_plain_english(self):
        proxy = self.new_oauth_proxy(["--lang", "en"])
        m = self.mark(proxy)
        r = self.curl_token(self.params(self.fresh_code()), proxy=proxy,
                            plain=True)
        self.assertEqual(self.one_record_since(m["gh"]).outcome, "success")
        m = self.mark(proxy)
        r = self.curl_token(self.params(self.fresh_code(),
                                        client_id="1234567"),
                            proxy=proxy, plain=True)
        rec = self.one_record_since(m["gh"])
        self.assert_diagnosed(r.headers, r.body, rec,
                              "incorrect_client_credentials", "id_shape",
                              {}, mark=m, lang="en", client_id="1234567")


if __name__ == "__main__":
    dh.main()
