#!/usr/bin/python3
"""How the token request is made (issue 13 items 9 and 11).

- browser_exchange: a token POST from a web page (it carries Origin, or
  Sec-Fetch-Site) cannot read GitHub's answer (no CORS headers) and puts
  the client_secret in a browser: every error it gets names that cause,
  and a success gives one warn oauth-browser record (the success itself is
  never modified). Node's fetch sends Sec-Fetch-Mode: cors from a server,
  which proves nothing: no claim.
- Response format: without Accept: application/json GitHub answers
  form-encoded, the usual cause of "Unexpected token" / "invalid
  character" in an app that parses JSON. A success gives one info
  oauth-format record; an error to an app that speaks JSON (a JSON body,
  or fetch() with its Sec-Fetch-Mode: cors) carries the form_answer note
  after the hint and in the record. curl and most server libraries read
  form: no note for them (the issue asks for the note on every error;
  narrowed so that the common curl case is not told about JSON).

curl through the real binary against the fake GitHub as github.com, over
intercepted TLS and plain HTTP, in ja and en.
"""

import json

import diag_helpers as dh
import harness
import oauth_helpers as oh

ORIGIN = "Origin: http://localhost:3000"


class BrowserExchange(dh.DiagTestCase):

    def test_page_exchange_error_tls(self):
        m, r, rec = self.token_exchange_h(self.params("c0ffee" * 3 + "00"),
                                          [ORIGIN])
        self.assert_diagnosed(r.headers, r.body, rec,
                              "bad_verification_code", "browser_exchange",
                              mark=m)

    def test_page_exchange_missing_secret_plain_english(self):
        # The page has no secret (rightly): still the browser's cause.
        proxy = self.new_oauth_proxy(["--lang", "en"])
        params = [("client_id", self.app.client_id),
                  ("code", self.fresh_code())]
        m, r, rec = self.token_exchange_h(params, ["Sec-Fetch-Site: "
                                                   "cross-site"],
                                          proxy=proxy, plain=True)
        self.assert_diagnosed(r.headers, r.body, rec,
                              "incorrect_client_credentials",
                              "browser_exchange", mark=m, lang="en",
                              redirect_uri=None)

    def test_page_exchange_success_logged_untouched(self):
        m, r, rec = self.token_exchange_h(self.params(self.fresh_code()),
                                          [ORIGIN])
        self.assertEqual(rec.outcome, "success")
        self.assert_untouched(r.headers, r.body, rec, mark=m)
        recs = self.log_since(m, event="oauth-browser", expect=1)
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0].get("level"), "warn", recs[0])
        self.assertEqual(recs[0].get("cause"), "browser_exchange", recs[0])
        self.assertNotIn(self.app.client_secret, self.proxy.stderr_text())

    def test_cors_preflight_plain(self):
        # fetch() with a JSON body from a page sends OPTIONS first; the
        # token endpoint answers 404 and the POST never happens.
        m = self.mark()
        r = harness.curl(oh.TOKEN_URL_PLAIN, self.proxy,
                         ["-X", "OPTIONS", "-H", ORIGIN, "-H",
                          "Access-Control-Request-Method: POST"],
                         timeout=30, tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 404), r)
        value, item, params = self.annotation(r.headers)
        self.assertEqual(item, "not_found", value)
        self.assertEqual(params.get("cause"), "browser_exchange", value)
        entry = self.catalog["not_found"]["ja"]
        self.assertEqual(params["hint"], self.catalog["_causes"][
            "browser_exchange"]["ja"] + " " + entry["hint"])
        recs = self.log_since(m, event="oauth-error", expect=1)
        self.assertEqual([x.get("cause") for x in recs],
                         ["browser_exchange"])

    # -- no cause may be claimed ----------------------------------------------
    def test_server_fetch_not_a_browser(self):
        # (Octokit's way: fetch, Accept: application/json.)
        m, r, rec = self.token_exchange_h(self.params("c0ffee" * 3 + "11"),
                                          ["Sec-Fetch-Mode: cors",
                                           "Accept: application/json"])
        self.assert_generic(r.headers, r.body, rec, "bad_verification_code",
                            mark=m)
        self.assertEqual(self.log_since(m, event="oauth-browser"), [])

    def token_exchange_h(self, params, headers, proxy=None, plain=False):
        p = proxy or self.proxy
        m = self.mark(p)
        r = self.curl_token(params, headers=headers, proxy=p, plain=plain)
        self.assertEqual(r.rc, 0, r)
        return m, r, self.one_record_since(m["gh"])


class ResponseFormat(dh.DiagTestCase):

    def post_json(self, obj, accept=None, proxy=None, plain=False):
        """POST a JSON body (as fetch(JSON.stringify(...)) does)."""
        p = proxy or self.proxy
        url = oh.TOKEN_URL_PLAIN if plain else oh.TOKEN_URL
        a = [] if plain else ["--cacert", self.ca_pem]
        a += ["-H", "Content-Type: application/json", "--data-binary",
              json.dumps(obj)]
        if accept:
            a += ["-H", "Accept: " + accept]
        m = self.mark(p)
        r = harness.curl(url, p, a, timeout=30, tmpdir=self.tmp)
        self.assertEqual(r.rc, 0, r)
        return m, r, self.one_record_since(m["gh"])

    def body(self, code):
        return {"client_id": self.app.client_id,
                "client_secret": self.app.client_secret, "code": code}

    def assert_noted(self, r, rec, m, lang):
        """The generic annotation with the form_answer note after the
        hint, in the header and in the warn record."""
        self.assertEqual(rec.format, "form")
        value, item, params = self.annotation(r.headers)
        entry = self.catalog["bad_verification_code"][lang]
        note = self.catalog["_causes"]["form_answer"][lang]
        self.assertNotIn("cause", params, value)
        self.assertEqual(params["hint"], entry["hint"] + " " + note)
        self.assertIn(";hint=" + oh.display_string(params["hint"]), value)
        self.assert_body(r.body, rec)
        recs = self.log_since(m, event="oauth-error", expect=1)
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0].get("note"), note, recs[0])
        self.assertNotIn("cause", recs[0])

    def test_json_app_gets_form_error_tls(self):
        m, r, rec = self.post_json(self.body("ab" * 10))
        self.assert_noted(r, rec, m, "ja")

    def test_json_app_gets_form_error_plain_english(self):
        proxy = self.new_oauth_proxy(["--lang", "en"])
        m, r, rec = self.post_json(self.body("cd" * 10), proxy=proxy,
                                   plain=True)
        self.assert_noted(r, rec, m, "en")

    def test_fetch_gets_form_error_noted(self):
        # Node's fetch (undici) with a form body and no Accept: the app
        # will call res.json() on a form-encoded answer.
        m, r, rec = self.token_exchange_h(self.params("12" * 10),
                                          ["Sec-Fetch-Mode: cors"])
        self.assert_noted(r, rec, m, "ja")

    def test_form_error_to_curl_not_noted(self):
        m, r, rec = self.token_exchange(self.params("34" * 10))
        self.assertEqual(rec.format, "form")
        self.assert_generic(r.headers, r.body, rec, "bad_verification_code",
                            mark=m)

    def token_exchange_h(self, params, headers):
        m = self.mark()
        r = self.curl_token(params, headers=headers)
        self.assertEqual(r.rc, 0, r)
        return m, r, self.one_record_since(m["gh"])

    def test_form_success_info_record(self):
        m, r, rec = self.token_exchange(self.params(self.fresh_code()))
        self.assertEqual((rec.outcome, rec.format), ("success", "form"))
        self.assert_untouched(r.headers, r.body, rec, mark=m)
        recs = self.log_since(m, event="oauth-format", expect=1)
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0].get("level"), "info", recs[0])
        self.assertEqual(recs[0].get("format"), "form", recs[0])
        self.assertNotIn(rec.access_token, self.proxy.stderr_text())

    # -- nothing to note ------------------------------------------------------
    def test_json_asked_no_note(self):
        m, r, rec = self.post_json(self.body("ef" * 10),
                                   accept="application/json")
        self.assertEqual(rec.format, "json")
        self.assert_generic(r.headers, r.body, rec, "bad_verification_code",
                            mark=m, redirect_uri=None)
        m, r, rec = self.token_exchange(self.params(self.fresh_code()),
                                        accept="application/json")
        self.assertEqual(self.log_since(m, event="oauth-format"), [])

    def test_json_refused_by_q_zero_noted(self):
        # Accept: application/json;q=0 refuses JSON: form it is.
        m, r, rec = self.post_json(self.body("a1" * 10),
                                   accept="application/json;q=0, */*")
        self.assert_noted(r, rec, m, "ja")


if __name__ == "__main__":
    dh.main()
