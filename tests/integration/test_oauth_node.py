#!/usr/bin/python3
"""The code-for-token exchange with Node: @octokit/oauth-methods
exchangeWebFlowCode, fetch from undici with a ProxyAgent (CONNECT,
intercepted TLS, the proxy's ca.pem as the only trusted CA), driven by
tests/node/exchange.mjs. Packages: tests/node/package.json (exact versions,
package-lock.json), installed by tests/node/install.sh, which this test
runs first (idempotent). Skipped, with a message, when node is absent.

octokit sends the parameters as a JSON body with Accept: application/json,
and undici's fetch offers "br, gzip, deflate" over HTTPS: the proxy must
take br out (it cannot inspect it). Scenarios: good exchange, wrong
secret, wrong redirect_uri, reused code, unknown code.
"""

import base64

import oauth_helpers as oh


class NodeOctokit(oh.OAuthTestCase):

    @classmethod
    def setUpClass(cls):
        oh.ensure_node_clients()
        super().setUpClass()

    def run_exchange(self, code, **kw):
        m = self.mark()
        out = self.node_exchange(code, **kw)
        self.assertEqual(len(out["fetches"]), 1, "%r\n%s" %
                         (out, self.proxy.tail()))
        f = out["fetches"][0]
        self.assertEqual(f["status"], 200, f)
        rec = self.one_record_since(m["gh"])
        return m, out, f, rec

    def check_request(self, rec):
        # What octokit sent, as the fake saw it: JSON body, Accept JSON,
        # and no coding the proxy cannot decode.
        self.assertEqual(rec.format, "json")
        self.assertTrue(rec.headers and any(
            n.lower() == "content-type" and "application/json" in v
            for n, v in rec.headers), rec.headers)
        offered = [t.strip().split(";")[0].lower()
                   for t in (rec.accept_encoding or "").split(",")
                   if t.strip()]
        self.assertNotIn("br", offered, rec.accept_encoding)
        self.assertNotIn("zstd", offered, rec.accept_encoding)

    def check_error(self, out, f, rec, m, code, redirect_uri=oh.CALLBACK):
        self.assertFalse(out["ok"], out)
        err = out["error"]
        self.assertEqual(err.get("data", {}).get("error"), code, err)
        self.assertIn(code, err["message"])
        body = base64.b64decode(f["body_b64"])
        self.assert_annotated(oh.fetch_headers(f), body, rec, code, mark=m,
                              redirect_uri=redirect_uri,
                              body_is_raw=rec.content_encoding is None)
        # octokit hands the header to the app on the error's response.
        hdrs = {k.lower(): v for k, v in (err.get("headers") or {}).items()}
        self.assertIn(oh.HEADER.lower(), hdrs, err)
        self.assert_annotation_value(hdrs[oh.HEADER.lower()], code, "ja")

    def test_good_exchange(self):
        m, out, f, rec = self.run_exchange(self.fresh_code())
        self.check_request(rec)
        self.assertTrue(out["ok"], out)
        self.assertEqual(rec.outcome, "success")
        self.assertEqual(out["authentication"]["token"], rec.access_token)
        self.assertEqual(out["authentication"]["scopes"], ["repo,gist"])
        self.assertNotIn(oh.HEADER.lower(),
                         {k.lower() for k in out["headers"]})
        self.assert_untouched(oh.fetch_headers(f),
                              base64.b64decode(f["body_b64"]), rec, mark=m,
                              body_is_raw=rec.content_encoding is None)

    def test_code_from_authorize_redirect(self):
        code = self.authorize_code(oh.CALLBACK, state="n-1")
        m, out, f, rec = self.run_exchange(code)
        self.assertTrue(out["ok"], out)
        self.assertEqual(out["authentication"]["token"], rec.access_token)

    def test_wrong_secret(self):
        m, out, f, rec = self.run_exchange(self.fresh_code(),
                                           secret="6" * 40)
        self.check_request(rec)
        self.check_error(out, f, rec, m, "incorrect_client_credentials")

    def test_wrong_redirect_uri(self):
        m, out, f, rec = self.run_exchange(self.fresh_code(),
                                           redirect_uri=oh.WRONG_REDIRECT)
        self.check_error(out, f, rec, m, "redirect_uri_mismatch",
                         redirect_uri=oh.WRONG_REDIRECT)

    def test_reused_code(self):
        code = self.fresh_code()
        m, out, f, rec = self.run_exchange(code)
        self.assertTrue(out["ok"], out)
        m, out, f, rec = self.run_exchange(code)
        self.check_error(out, f, rec, m, "bad_verification_code")

    def test_unknown_code(self):
        m, out, f, rec = self.run_exchange("beadbeadbeadbeadbead")
        self.check_error(out, f, rec, m, "bad_verification_code")

    def test_gzip_response(self):
        # With gzip allowed by undici, GitHub may compress: the proxy still
        # annotates, and fetch decodes to GitHub's plain bytes.
        self.gh.set_variant(encoding="gzip", chunked=True)
        self.addCleanup(self.gh.set_variant)
        m, out, f, rec = self.run_exchange("beadbeadbeadbeadbeae")
        self.assertEqual(rec.content_encoding, "gzip")
        self.check_error(out, f, rec, m, "bad_verification_code")


if __name__ == "__main__":
    oh.main()
