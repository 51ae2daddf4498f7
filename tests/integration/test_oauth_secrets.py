#!/usr/bin/python3
"""No secret in any log line at any level: client_secret, code,
access_token and Authorization values never appear in what the proxy
writes, with --log-level debug, in the JSON and the text formats.

Every client (curl with the credentials in the body, in HTTP Basic and in
the query string; requests-oauthlib with Basic and with the body; Node
octokit with a JSON body) runs good and failing exchanges, in the three
formats, chunked and gzip, over intercepted TLS and plain HTTP, with
random secrets, codes and tokens. Then every file the proxies wrote is
searched for each of them (and for the base64 of id:secret). The logs must
not be empty of what matters: the test also checks that the oauth-error
records are there, so that the search is not vacuous.
"""

import base64
import glob
import os
import secrets
import urllib.parse

import harness
import oauth_helpers as oh


class NoSecretsInLogs(oh.OAuthTestCase):

    def rand_secret(self):
        return secrets.token_hex(20)

    def rand_code(self):
        return secrets.token_hex(10)

    def flows(self, proxy):
        """Run every client's exchanges through proxy."""
        gh = self.gh
        expect = 0          # annotated errors we cause

        # curl, credentials in the body, each format, TLS and plain.
        for plain in (False, True):
            for accept in (None, "application/json", "application/xml"):
                r = self.curl_token(self.params(self.fresh_code()),
                                    accept=accept, proxy=proxy, plain=plain)
                self.assertEqual(r.status, 200, r)
                for params in (
                        self.params(self.fresh_code(),
                                    secret=self.rand_secret()),
                        self.params(self.rand_code()),
                        self.params(self.fresh_code(),
                                    redirect_uri=oh.WRONG_REDIRECT)):
                    r = self.curl_token(params, accept=accept, proxy=proxy,
                                        plain=plain)
                    self.assertEqual(r.status, 200, r)
                    self.assertIsNotNone(r.header(oh.HEADER), r)
                    expect += 1
        # Reused code.
        code = self.fresh_code()
        for _ in range(2):
            self.curl_token(self.params(code), proxy=proxy)
        expect += 1
        # Chunked + gzip, both outcomes.
        gh.set_variant(chunked=True, encoding="gzip")
        try:
            for params in (self.params(self.fresh_code()),
                           self.params(self.rand_code())):
                r = self.curl_token(params, accept="application/json",
                                    proxy=proxy, args=["--compressed"])
                self.assertEqual(r.status, 200, r)
            expect += 1
        finally:
            gh.set_variant()
        # HTTP Basic.
        for secret in (self.app.client_secret, self.rand_secret()):
            r = self.curl_token([("code", self.fresh_code()),
                                 ("redirect_uri", oh.CALLBACK)],
                                auth=(self.app.client_id, secret),
                                proxy=proxy)
            self.assertEqual(r.status, 200, r)
        expect += 1
        # Parameters in the query string, TLS and plain HTTP.
        for url in (oh.TOKEN_URL, oh.TOKEN_URL_PLAIN):
            for params in (self.params(self.fresh_code()),
                           self.params(self.fresh_code(),
                                       secret=self.rand_secret())):
                q = urllib.parse.urlencode(params)
                r = harness.curl(url + "?" + q, proxy,
                                 ["--cacert", self.ca_pem, "-X", "POST"],
                                 tmpdir=self.tmp)
                self.assertEqual((r.rc, r.status), (0, 200), r)
            expect += 1
        # requests-oauthlib: Basic (default) and body.
        for include in (None, True):
            res = self.requests_token(self.fresh_code(), proxy=proxy,
                                      include_client_id=include)
            self.assertIsNone(res.error, res)
            for kw in ({"secret": self.rand_secret()},
                       {"redirect_uri": oh.WRONG_REDIRECT}):
                res = self.requests_token(self.fresh_code(), proxy=proxy,
                                          include_client_id=include, **kw)
                self.assertIsNotNone(res.error, res)
                expect += 1
            res = self.requests_token(self.rand_code(), proxy=proxy,
                                      include_client_id=include)
            self.assertIsNotNone(res.error, res)
            expect += 1
        # Node octokit (JSON body).
        if self.have_node:
            out = self.node_exchange(self.fresh_code(), proxy=proxy)
            self.assertTrue(out["ok"], out)
            for kw in ({"secret": self.rand_secret()},
                       {"code": self.rand_code()}):
                code = kw.pop("code", None) or self.fresh_code()
                out = self.node_exchange(code, proxy=proxy, **kw)
                self.assertFalse(out["ok"], out)
                expect += 1
        return expect

    def needles(self):
        """Every secret value the fake saw or handed out, and every
        Authorization value sent to it."""
        out = set(self.gh.secrets_used())
        for rec in self.gh.token_requests():
            for n, v in rec.headers:
                if n.lower() == "authorization":
                    out.add(v)
                    out.add(v.split(" ", 1)[-1])
            if rec.client_secret:
                out.add(urllib.parse.quote_plus(rec.client_secret))
            if rec.access_token:
                out.add(rec.access_token)
        out.add(base64.b64encode(("%s:%s" % (
            self.app.client_id, self.app.client_secret)).encode()).decode())
        return sorted(s for s in out if s and len(s) >= 16)

    def test_no_secret_in_any_log(self):
        try:
            oh.ensure_node_clients()
            self.have_node = True
        except oh.unittest.SkipTest as e:
            print("note: %s" % e)
            self.have_node = False
        text_proxy = self.new_oauth_proxy(log_format="text",
                                          log_level="debug",
                                          name="proxy-text")
        expect_json = self.flows(self.proxy)
        expect_text = self.flows(text_proxy)
        # The logs hold what they should (so the search below means
        # something): one oauth-error record per annotated response.
        errs = [r for r in self.proxy.log_records()
                if r.get("event") == "oauth-error"]
        self.assertEqual(len(errs), expect_json, "oauth-error records in the "
                         "JSON log")
        text = text_proxy.stderr_text()
        self.assertEqual(text.count(" oauth-error "), expect_text,
                         "oauth-error lines in the text log")
        self.assertTrue(any(r.get("level") == "debug"
                            for r in self.proxy.log_records()),
                        "no debug records: is --log-level debug in force?")
        needles = self.needles()
        self.assertGreater(len(needles), 40)
        files = sorted(set(glob.glob(os.path.join(self.tmp, "*.stderr")) +
                           glob.glob(os.path.join(self.tmp, "*.stdout"))))
        self.assertGreaterEqual(len(files), 4, files)
        leaks = []
        for path in files:
            data = oh.read_bytes(path).decode("utf-8", errors="replace")
            for s in needles:
                i = data.find(s)
                if i >= 0:
                    line = data[data.rfind("\n", 0, i) + 1:
                                data.find("\n", i)]
                    leaks.append("%s: %s... in: %s" % (
                        os.path.basename(path), s[:8], line[:400]))
        self.assertEqual(leaks, [], "secrets in the proxy's logs:\n" +
                         "\n".join(leaks))


if __name__ == "__main__":
    oh.main()
