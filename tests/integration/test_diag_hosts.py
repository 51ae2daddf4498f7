#!/usr/bin/python3
"""GitHub Enterprise host mix-ups and token requests the endpoint does not
take (issue 13 items 6 and 10).

- code_other_host: a code issued by an authorize request on one host
  (github.com) exchanged at another (a GitHub Enterprise Server host);
- client_other_host: a client_id authorized on github.com sent to the GHE
  token endpoint (an app exists on one host only);
- token_api_path: a token POST to /api/v3/login/oauth/access_token (the
  REST API's prefix; GHE's OAuth endpoints are on the web host): GHE
  answers 404, annotated as not_found with the cause;
- token_method: a GET on the token endpoint (GitHub answers 404,
  observed), annotated as not_found: it takes POST.

A second fake GitHub with its own registry plays the GHE host
ghe.example.test over plain HTTP (configured in token_endpoints, reached
through --resolve); github.com is the class's fake over intercepted TLS
and plain HTTP. ja and en.
"""

import re
import urllib.parse

import diag_helpers as dh
import oauth_helpers as oh
from fake_github import FakeGitHub, Registry

GHE = "ghe.example.test"
GHE_TOKEN = "http://%s/login/oauth/access_token" % GHE


class EnterpriseHosts(dh.DiagTestCase):

    def setUp(self):
        super().setUp()
        self.ghe = self.add_fake(server_name=GHE, registry=Registry())
        self.ghe_app = self.ghe.add_app(callback=oh.CALLBACK)

    def ghe_proxy(self, lang="ja"):
        return self.new_oauth_proxy(
            ["--lang", lang, "--resolve", "%s:80:127.0.0.1:%d" %
             (GHE, self.ghe.port)],
            config={"token_endpoints": ["github.com", GHE]})

    def ghe_post(self, proxy, params, url=GHE_TOKEN):
        m = self.mark(proxy)
        m["ghe"] = self.ghe.token_request_count
        r = self.post_form(url, params, proxy)
        self.assertEqual(r.rc, 0, r)
        return m, r

    def ghe_record(self, m):
        recs = self.ghe.token_requests()[m["ghe"]:]
        self.assertEqual(len(recs), 1, recs)
        return recs[0]

    def test_code_from_github_com_exchanged_at_ghe(self):
        proxy = self.ghe_proxy()
        code = self.authorized_code(self.app.client_id, oh.CALLBACK,
                                    "gh-1", proxy=proxy)
        m, r = self.ghe_post(proxy, [
            ("client_id", self.ghe_app.client_id),
            ("client_secret", self.ghe_app.client_secret), ("code", code)])
        rec = self.ghe_record(m)
        self.assert_diagnosed(r.headers, r.body, rec,
                              "bad_verification_code", "code_other_host",
                              {"was": GHE, "want": "github.com"}, mark=m,
                              client_id=self.ghe_app.client_id,
                              redirect_uri=None, host=GHE)

    def test_github_com_client_id_at_ghe_english(self):
        proxy = self.ghe_proxy("en")
        code = self.authorized_code(self.app.client_id, oh.CALLBACK,
                                    "gh-2", proxy=proxy)
        m, r = self.ghe_post(proxy, [
            ("client_id", self.app.client_id),
            ("client_secret", self.app.client_secret), ("code", code)])
        rec = self.ghe_record(m)
        self.assert_diagnosed(r.headers, r.body, rec,
                              "incorrect_client_credentials",
                              "client_other_host",
                              {"was": GHE, "want": "github.com",
                               "registered": self.app.client_id},
                              mark=m, lang="en", redirect_uri=None,
                              host=GHE)

    def assert_not_found(self, r, mark, cause, values, lang="ja",
                         host="github.com"):
        """A 404 relayed as is, with the not_found annotation and cause."""
        self.assertEqual(r.status, 404, r)
        value, item, params = self.annotation(r.headers)
        entry = self.catalog["not_found"][lang]
        self.assertEqual(item, "not_found", value)
        self.assertEqual(params.get("cause"), cause, value)
        self.assertEqual(params.get("doc"), entry["doc"], value)
        self.assertRegex(params["hint"], "^" + self.filled(
            cause, lang, **values) + " " + re.escape(entry["hint"]) +
            "$")
        recs = self.log_since(mark, event="oauth-error", expect=1)
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0].get("cause"), cause, recs[0])
        self.assertEqual(recs[0].get("host"), host, recs[0])
        self.assertEqual(recs[0].get("level"), "warn", recs[0])
        self.assert_status_shows(mark["proxy"], "not_found", cause,
                                 recs[0]["diagnosis"])
        return recs[0]

    def test_token_post_under_api_v3(self):
        proxy = self.ghe_proxy()
        path = "/api/v3/login/oauth/access_token"
        m, r = self.ghe_post(proxy, self.params(
            "c0de" * 5, client_id=self.ghe_app.client_id,
            secret=self.ghe_app.client_secret), url="http://%s%s" %
            (GHE, path))
        self.assertEqual(r.body, b"Not Found\n")
        self.assert_not_found(r, m, "token_api_path",
                              {"sent": path, "was": GHE}, host=GHE)
        self.assertNotIn(self.ghe_app.client_secret, proxy.stderr_text())

    def test_get_on_token_endpoint_tls(self):
        m = self.mark()
        q = urllib.parse.urlencode(self.params("c0de" * 5))
        r = self.browser_get("https://github.com/login/oauth/access_token?" +
                             q)
        self.assert_not_found(r, m, "token_method", {"field": "GET"})
        self.assertNotIn(self.app.client_secret, self.proxy.stderr_text())

    def test_get_on_token_endpoint_plain_english(self):
        proxy = self.new_oauth_proxy(["--lang", "en"])
        m = self.mark(proxy)
        r = self.browser_get("http://github.com/login/oauth/access_token",
                             proxy)
        self.assert_not_found(r, m, "token_method", {"field": "GET"},
                              lang="en")

    # -- no cause may be claimed ----------------------------------------------
    def test_ghe_flow_at_ghe_untouched(self):
        proxy = self.ghe_proxy()
        code = self.ghe.issue_code(self.ghe_app.client_id)
        m, r = self.ghe_post(proxy, [
            ("client_id", self.ghe_app.client_id),
            ("client_secret", self.ghe_app.client_secret), ("code", code)])
        self.assertEqual(self.ghe_record(m).outcome, "success")
        self.assert_no_annotation(r.headers)
        self.assertEqual(self.log_since(m, event="oauth-error"), [])

    def test_other_404_not_annotated(self):
        m = self.mark()
        r = self.browser_get("https://github.com/login/oauth/nothing")
        self.assertEqual(r.status, 404)
        self.assert_no_annotation(r.headers)
        self.assertEqual(self.log_since(m, event="oauth-error"), [])


if __name__ == "__main__":
    dh.main()
