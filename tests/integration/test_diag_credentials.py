#!/usr/bin/python3
"""Diagnoses of incorrect_client_credentials (issue 7): whitespace,
secret_shape, id_shape, both_auth, missing_secret; and credentials of a
shape GitHub uses, where no cause may be claimed.

curl (body and Basic auth) and requests-oauthlib (Basic auth by default,
the body with include_client_id=True) through the real binary, against the
fake GitHub over intercepted TLS. The secrets themselves must never show up
in the header or the log, whatever was wrong with them.
"""

import json
import secrets

import diag_helpers as dh
import harness
import oauth_helpers as oh

CODE = "dead" + "beef" * 4


class CredentialDiagnoses(dh.DiagTestCase):

    def assert_secret_absent(self, r, *values):
        text = self.proxy.stderr_text()
        hdr = " ".join(v for n, v in r.headers if n.lower() ==
                       dh.HEADER.lower())
        for v in values:
            self.assertNotIn(v.strip(), hdr, "a secret in the header")
            self.assertNotIn(v.strip(), text, "a secret in the log")

    # -- whitespace --------------------------------------------------------------
    def test_whitespace_trailing_newline_body(self):
        # CLIENT_SECRET=...\n read from a file: curl sends %0A.
        secret = self.app.client_secret + "\n"
        m, r, rec = self.token_exchange(self.params(self.fresh_code(),
                                                    secret=secret))
        self.assertEqual(rec.client_secret, secret)
        self.assert_diagnosed(r.headers, r.body, rec,
                              "incorrect_client_credentials", "whitespace",
                              {"field": "client_secret"}, mark=m)

    def test_whitespace_trailing_spaces_body(self):
        m, r, rec = self.token_exchange(self.params(
            self.fresh_code(), secret=self.app.client_secret + "  "))
        self.assert_diagnosed(r.headers, r.body, rec,
                              "incorrect_client_credentials", "whitespace",
                              {"field": "client_secret"}, mark=m)

    def test_whitespace_client_id_quoted(self):
        # CLIENT_ID="Ov23li..." with the quotes kept by a naive loader.
        cid = '"%s"' % self.app.client_id
        m, r, rec = self.token_exchange(self.params(self.fresh_code(),
                                                    client_id=cid))
        self.assert_diagnosed(r.headers, r.body, rec,
                              "incorrect_client_credentials", "whitespace",
                              {"field": "client_id"}, mark=m, client_id=cid)

    def test_whitespace_basic_auth_requests(self):
        # requests-oauthlib sends the credentials as Basic auth.
        m = self.mark()
        res = self.requests_token(self.fresh_code(),
                                  secret=self.app.client_secret + "\r\n")
        rec = self.one_record_since(m["gh"])
        self.assertEqual(rec.auth, "basic", rec.summary())
        self.assert_diagnosed(res.headers, res.body, rec,
                              "incorrect_client_credentials", "whitespace",
                              {"field": "client_secret (Basic auth)"},
                              mark=m)

    def test_whitespace_basic_auth_form_encoded(self):
        # RFC 6749 2.3.1: Basic credentials form-encoded first, as Auth.js
        # (oauth4webapi) sends them: the .env line break arrives as "%0A"
        # and is still a stray line break, not a 43-character secret.
        import urllib.parse
        enc = urllib.parse.quote(self.app.client_secret + "\n", safe="")
        m, r, rec = self.token_exchange(
            [("code", self.fresh_code()), ("redirect_uri", oh.CALLBACK)],
            auth=(self.app.client_id, enc))
        self.assertEqual(rec.auth, "basic", rec.summary())
        self.assert_diagnosed(r.headers, r.body, rec,
                              "incorrect_client_credentials", "whitespace",
                              {"field": "client_secret (Basic auth)"},
                              mark=m)

    # -- secret_shape -------------------------------------------------------------
    def test_secret_shape_twelve_characters(self):
        secret = "s3cr3tValue9"
        self.assertEqual(len(secret), 12)
        m, r, rec = self.token_exchange(self.params(self.fresh_code(),
                                                    secret=secret))
        self.assert_diagnosed(r.headers, r.body, rec,
                              "incorrect_client_credentials", "secret_shape",
                              {"len": "12"}, mark=m)
        self.assert_secret_absent(r, secret)

    def test_secret_shape_requests_body(self):
        # A token pasted where the secret goes (41 characters).
        secret = "ghp_" + "A1b2C3d4E5" * 3 + "f6g7h8i9j"
        m = self.mark()
        res = self.requests_token(self.fresh_code(), secret=secret,
                                  include_client_id=True)
        rec = self.one_record_since(m["gh"])
        self.assertEqual(rec.auth, "body", rec.summary())
        self.assert_diagnosed(res.headers, res.body, rec,
                              "incorrect_client_credentials", "secret_shape",
                              {"len": str(len(secret))}, mark=m)
        self.assert_secret_absent(res, secret)

    # -- id_shape -------------------------------------------------------------------
    def test_id_shape_numeric_app_id(self):
        # The GitHub App's numeric App ID instead of its Client ID.
        m, r, rec = self.token_exchange(self.params(self.fresh_code(),
                                                    client_id="123456"))
        self.assert_diagnosed(r.headers, r.body, rec,
                              "incorrect_client_credentials", "id_shape",
                              {}, mark=m, client_id="123456")

    def test_id_shape_swapped_with_secret(self):
        # client_id and client_secret swapped: the value sent as client_id
        # is the secret, and must not be logged as a client ID. (An app
        # of its own: the fake now counts that app's client ID among the
        # secrets it has seen.)
        app = self.gh.add_app(callback=oh.CALLBACK)
        cid, secret = app.client_secret, app.client_id
        m = self.mark()
        r = self.curl_token([("client_id", cid), ("client_secret", secret),
                             ("code", self.gh.issue_code(app.client_id)),
                             ("redirect_uri", oh.CALLBACK)])
        rec = self.one_record_since(m["gh"])
        self.assertEqual(rec.outcome, "incorrect_client_credentials")
        value, item, params = self.annotation(r.headers)
        self.assertEqual((item, params.get("cause")),
                         ("incorrect_client_credentials", "id_shape"), value)
        recs = self.new_log_records(m)
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0].get("cause"), "id_shape", recs[0])
        # Neither the log nor the status page (recent errors, with their
        # client_id) may show it.
        page = harness.curl(self.proxy.url + "/", tmpdir=self.tmp)
        self.assertEqual((page.rc, page.status), (0, 200), page)
        self.assertNotIn(app.client_secret, page.text,
                         "a secret on the status page")
        self.assert_secret_absent(r, app.client_secret)

    # -- both_auth -----------------------------------------------------------------
    def test_both_auth_differ(self):
        # Basic auth carries the right pair, the body a stale secret.
        m, r, rec = self.token_exchange(
            self.params(self.fresh_code(), secret="9" * 40),
            auth=(self.app.client_id, self.app.client_secret))
        self.assert_diagnosed(r.headers, r.body, rec,
                              "incorrect_client_credentials", "both_auth",
                              {}, mark=m)
        self.assert_secret_absent(r, "9" * 40, self.app.client_secret)

    def test_both_auth_same_values_no_cause(self):
        # Both ways, the same (wrong, well-shaped) pair: nothing differs,
        # and nothing else is recognisably wrong.
        wrong = secrets.token_hex(20)
        m, r, rec = self.token_exchange(
            self.params(self.fresh_code(), secret=wrong),
            auth=(self.app.client_id, wrong))
        self.assert_generic(r.headers, r.body, rec,
                            "incorrect_client_credentials", mark=m)

    # -- missing_secret ---------------------------------------------------------------
    def test_missing_secret(self):
        m, r, rec = self.token_exchange([("client_id", self.app.client_id),
                                         ("code", self.fresh_code()),
                                         ("redirect_uri", oh.CALLBACK)])
        self.assertIsNone(rec.client_secret)
        self.assert_diagnosed(r.headers, r.body, rec,
                              "incorrect_client_credentials",
                              "missing_secret", {}, mark=m)

    def test_missing_secret_english(self):
        proxy = self.new_oauth_proxy(["--lang", "auto"])
        m = self.mark(proxy)
        r = self.curl_token([("client_id", self.app.client_id),
                             ("code", self.fresh_code())], proxy=proxy,
                            headers=["Accept-Language: en-US,en;q=0.8"])
        rec = self.one_record_since(m["gh"])
        self.assert_diagnosed(r.headers, r.body, rec,
                              "incorrect_client_credentials",
                              "missing_secret", {}, mark=m, lang="en",
                              redirect_uri=None)

    # -- shapes GitHub uses: no cause ---------------------------------------------------
    def test_wellshaped_wrong_credentials_no_cause(self):
        # Client IDs of the shapes GitHub hands out, secrets of 40 hex
        # characters, simply not the registered ones.
        ids = [self.app.client_id,                    # Ov23li + 14
               "Iv1." + secrets.token_hex(8),         # GitHub App
               "Iv23li" + secrets.token_hex(7),       # GitHub App, newer
               secrets.token_hex(10)]                 # older OAuth app
        for cid in ids:
            with self.subTest(client_id=cid):
                wrong = secrets.token_hex(20)
                m, r, rec = self.token_exchange(self.params(
                    self.fresh_code(), client_id=cid, secret=wrong))
                self.assertEqual(rec.outcome, "incorrect_client_credentials")
                self.assert_generic(r.headers, r.body, rec,
                                    "incorrect_client_credentials", mark=m,
                                    client_id=cid)
                self.assert_secret_absent(r, wrong)

    def test_correct_credentials_untouched(self):
        m, r, rec = self.token_exchange(self.params(self.fresh_code()))
        self.assertEqual(rec.outcome, "success")
        self.assert_untouched(r.headers, r.body, rec, mark=m)

    def test_uppercase_hex_secret_no_cause(self):
        # Upper-case hex is still 40 hex characters: not a shape problem.
        wrong = secrets.token_hex(20).upper()
        m, r, rec = self.token_exchange(self.params(CODE, secret=wrong))
        self.assert_generic(r.headers, r.body, rec,
                            "incorrect_client_credentials", mark=m)
        self.assertNotIn(wrong, json.dumps(self.new_log_records(m, expect=0)))


if __name__ == "__main__":
    dh.main()
