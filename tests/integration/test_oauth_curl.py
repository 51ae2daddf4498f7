#!/usr/bin/python3
"""The code-for-token exchange with curl through the proxy's intercepted
TLS: good exchange, wrong secret, wrong redirect_uri, bad codes (reused,
unknown, expired, another app's), credentials in HTTP Basic, a code from
the authorize redirect.

Fake GitHub over TLS as github.com:443 (--resolve, --upstream-ca with the
test CA); curl trusts only the proxy's CA (--cacert certs/ca.pem). Each
error must come back with the annotation decoding to the catalog's ja
entry, the body byte for byte, every origin header, and exactly one warn
record in the proxy's log.
"""

import oauth_helpers as oh


class CurlExchange(oh.OAuthTestCase):

    def exchange(self, params, **kw):
        m = self.mark()
        r = self.curl_token(params, **kw)
        self.assertEqual(r.rc, 0, "curl failed: %r\n%s" %
                         (r, self.proxy.tail()))
        self.assertEqual(r.status, 200, "%r\n%s" % (r, self.proxy.tail()))
        return m, r, self.one_record_since(m["gh"])

    def test_good_exchange_untouched(self):
        code = self.fresh_code()
        m, r, rec = self.exchange(self.params(code))
        self.assertEqual(rec.outcome, "success")
        self.assertTrue(rec.tls)
        self.assertEqual(r.body.decode(),
                         "access_token=%s&scope=repo%%2Cgist&"
                         "token_type=bearer" % rec.access_token)
        self.assertTrue(rec.access_token.startswith("gho_"))
        self.assert_untouched(r.headers, r.body, rec, mark=m)

    def test_code_from_authorize_redirect(self):
        code = self.authorize_code(oh.CALLBACK)
        m, r, rec = self.exchange(self.params(code), accept="application/json")
        self.assertEqual(rec.outcome, "success")
        self.assertEqual(r.json()["access_token"], rec.access_token)
        self.assert_untouched(r.headers, r.body, rec, mark=m)

    def test_wrong_secret(self):
        code = self.fresh_code()
        m, r, rec = self.exchange(self.params(code, secret="0" * 40))
        self.assert_annotated(r.headers, r.body, rec,
                              "incorrect_client_credentials", mark=m)

    def test_unknown_client_id(self):
        code = self.fresh_code()
        m, r, rec = self.exchange(self.params(
            code, client_id="Ov23liAAAAAAAAAAAAAA"))
        self.assert_annotated(r.headers, r.body, rec,
                              "incorrect_client_credentials", mark=m,
                              client_id="Ov23liAAAAAAAAAAAAAA")

    def test_wrong_redirect_uri(self):
        code = self.fresh_code()
        m, r, rec = self.exchange(self.params(code,
                                              redirect_uri=oh.WRONG_REDIRECT))
        self.assert_annotated(r.headers, r.body, rec,
                              "redirect_uri_mismatch", mark=m,
                              redirect_uri=oh.WRONG_REDIRECT)

    def test_reused_code(self):
        code = self.fresh_code()
        m, r, rec = self.exchange(self.params(code))
        self.assertEqual(rec.outcome, "success")
        self.assert_untouched(r.headers, r.body, rec, mark=m)
        m, r, rec = self.exchange(self.params(code))
        self.assert_annotated(r.headers, r.body, rec,
                              "bad_verification_code", mark=m)

    def test_unknown_code(self):
        m, r, rec = self.exchange(self.params("0123456789abcdef0123"))
        self.assert_annotated(r.headers, r.body, rec,
                              "bad_verification_code", mark=m)

    def test_expired_code(self):
        code = self.fresh_code(age=601)
        m, r, rec = self.exchange(self.params(code))
        self.assert_annotated(r.headers, r.body, rec,
                              "bad_verification_code", mark=m)

    def test_code_of_another_app(self):
        other = self.gh.add_app(callback=oh.CALLBACK)
        code = self.gh.issue_code(other.client_id)
        m, r, rec = self.exchange(self.params(code))
        self.assert_annotated(r.headers, r.body, rec,
                              "bad_verification_code", mark=m)

    def test_redirect_uri_omitted(self):
        # GitHub uses the registered callback; the record has no
        # redirect_uri because the request carried none.
        m, r, rec = self.exchange(self.params("0123456789abcdef0124",
                                              redirect_uri=None))
        self.assert_annotated(r.headers, r.body, rec,
                              "bad_verification_code", mark=m,
                              redirect_uri=None)

    def test_basic_auth_wrong_secret(self):
        # Credentials in HTTP Basic, not in the body: the record still
        # names the client_id (from the Authorization header), never the
        # secret.
        code = self.fresh_code()
        m, r, rec = self.exchange(
            [("code", code), ("redirect_uri", oh.CALLBACK)],
            auth=(self.app.client_id, "f" * 40))
        self.assertEqual(rec.auth, "basic")
        self.assert_annotated(r.headers, r.body, rec,
                              "incorrect_client_credentials", mark=m)

    def test_basic_auth_good(self):
        code = self.fresh_code()
        m, r, rec = self.exchange(
            [("code", code), ("redirect_uri", oh.CALLBACK)],
            auth=(self.app.client_id, self.app.client_secret))
        self.assertEqual((rec.auth, rec.outcome), ("basic", "success"))
        self.assert_untouched(r.headers, r.body, rec, mark=m)

    def test_keepalive_errors_then_success(self):
        # Three exchanges on one intercepted client connection (a raw TLS
        # client, as keep-alive HTTP clients do): each annotated or not on
        # its own, and the upstream connection kept too.
        c = self.intercepted_conn()
        m = self.mark()
        outcomes = []
        for params in (self.params("0123456789abcdef0125"),
                       self.params(self.fresh_code()),
                       self.params(self.fresh_code(), secret="1" * 40)):
            c.send(self.token_request(params))
            r = c.read_response("POST")
            self.assertEqual(r.status, 200, r)
            rec = self.records_since(m["gh"])[-1]
            outcomes.append(rec.outcome)
            if rec.outcome == "success":
                self.assert_untouched(r.headers, r.body, rec)
            else:
                self.assert_annotated(r.headers, r.body, rec, rec.outcome)
        self.assertEqual(outcomes, ["bad_verification_code", "success",
                                    "incorrect_client_credentials"])
        recs = self.records_since(m["gh"])
        self.assertEqual(len({x.conn_id for x in recs}), 1,
                         "the proxy did not keep the upstream connection")
        errs = self.new_log_records(m, expect=2)
        self.assertEqual([e["error"] for e in errs],
                         ["bad_verification_code",
                          "incorrect_client_credentials"])


    # -- diagnosed causes ----------------------------------------------------
    def test_diagnosed_causes(self):
        # Where one thing is wrong and the proxy saw what it needs (the
        # authorize redirect, the earlier exchange, the request itself),
        # the header and the record name the cause (catalog "_causes").
        cid, secret = self.app.client_id, self.app.client_secret
        other = self.gh.add_app(callback=oh.CALLBACK)

        def run(params, code, cause, auth=None, **kw):
            with self.subTest(cause=cause):
                m, r, rec = self.exchange(params, auth=auth)
                self.assert_annotated(r.headers, r.body, rec, code, mark=m,
                                      cause=cause, **kw)

        code = self.fresh_code()
        self.exchange(self.params(code))
        run(self.params(code), "bad_verification_code", "code_reused")
        code = self.authorize_code(oh.CALLBACK, state="d-1")
        run(self.params(code, redirect_uri=oh.WRONG_REDIRECT),
            "redirect_uri_mismatch", "redirect_differs",
            redirect_uri=oh.WRONG_REDIRECT)
        code = self.authorize_code(oh.CALLBACK, state="d-2",
                                   client_id=other.client_id)
        run(self.params(code), "bad_verification_code", "code_other_client")
        run([("client_id", cid), ("code", self.fresh_code()),
             ("redirect_uri", oh.CALLBACK)],
            "incorrect_client_credentials", "missing_secret")
        run(self.params(self.fresh_code(), secret="abc123"),
            "incorrect_client_credentials", "secret_shape")
        run(self.params(self.fresh_code(), secret=secret + " "),
            "incorrect_client_credentials", "whitespace")
        run(self.params(self.fresh_code(), secret="9" * 40),
            "incorrect_client_credentials", "both_auth",
            auth=(cid, secret))

    # -- the fake's own controls, used through the proxy ------------------
    def test_fake_issue_control_log_endpoints(self):
        import json
        import urllib.parse
        import harness
        base = "https://github.com"
        ca = ["--cacert", self.ca_pem]
        # /__issue mints a code tied to a redirect_uri.
        q = urllib.parse.urlencode({"client_id": self.app.client_id,
                                    "redirect_uri": oh.CALLBACK + "/sub"})
        r = harness.curl(base + "/__issue?" + q, self.proxy, ca,
                         tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        code = r.json()["code"]
        # Another redirect_uri, though allowed by the callback rule, is not
        # the one the code was issued for.
        m, r2, rec = self.exchange(self.params(code))
        self.assert_annotated(r2.headers, r2.body, rec,
                              "redirect_uri_mismatch", mark=m)
        m, r2, rec = self.exchange(self.params(
            code, redirect_uri=oh.CALLBACK + "/sub"))
        self.assertEqual(rec.outcome, "success")
        # /__control: the next response only chunked and gzip.
        r = harness.curl(base + "/__control", self.proxy, ca + [
            "-H", "Content-Type: application/json", "--data",
            json.dumps({"chunked": True, "encoding": "gzip", "count": 1})],
            tmpdir=self.tmp)
        self.assertEqual(r.json()["encoding"], "gzip", r)
        hdr = ["Accept-Encoding: gzip"]
        m, r2, rec = self.exchange(self.params(self.fresh_code()),
                                   headers=hdr)
        self.assertTrue(rec.chunked)
        self.assertEqual(rec.content_encoding, "gzip")
        self.assert_untouched(r2.headers, r2.body, rec, mark=m)
        m, r2, rec = self.exchange(self.params(self.fresh_code()),
                                   headers=hdr)
        self.assertEqual((rec.chunked, rec.content_encoding), (False, None))
        # Query flags on the token endpoint.
        m = self.mark()
        r2 = harness.curl(oh.TOKEN_URL + "?__error=oauthlens_test_unknown&"
                          "__chunked=1", self.proxy, ca + ["-d", "code=1"],
                          tmpdir=self.tmp)
        rec = self.one_record_since(m["gh"])
        self.assertEqual((rec.outcome, rec.chunked),
                         ("oauthlens_test_unknown", True))
        self.assert_untouched(r2.headers, r2.body, rec)
        # /__log lists every token request.
        r = harness.curl(base + "/__log", self.proxy, ca, tmpdir=self.tmp)
        log = r.json()
        self.assertEqual(len(log), self.gh.token_request_count)
        self.assertEqual(log[-1]["outcome"], "oauthlens_test_unknown")

    def test_fake_github_standalone(self):
        # tests/servers/fake_github.py as a script (plain HTTP, direct).
        import subprocess
        import harness
        ready = self.tmp + "/fake.ready"
        secret = "ab" * 20
        p = subprocess.Popen(
            ["/usr/bin/python3", harness.SRC + "/tests/servers/fake_github.py",
             "--port", "0", "--ready-file", ready,
             "--app", "Ov23liSTANDALONE0000:%s:%s" % (secret, oh.CALLBACK)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            port = int(p.stdout.readline())
            r = harness.curl("http://127.0.0.1:%d/__issue?client_id="
                             "Ov23liSTANDALONE0000" % port, None,
                             tmpdir=self.tmp)
            code = r.json()["code"]
            args = []
            for k, v in (("client_id", "Ov23liSTANDALONE0000"),
                         ("client_secret", secret), ("code", code)):
                args += ["--data-urlencode", "%s=%s" % (k, v)]
            r = harness.curl("http://127.0.0.1:%d%s" % (port, oh.TOKEN_PATH),
                             None, args + ["-H", "Accept: application/json"],
                             tmpdir=self.tmp)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["token_type"], "bearer")
            r = harness.curl("http://127.0.0.1:%d%s" % (port, oh.TOKEN_PATH),
                             None, args, tmpdir=self.tmp)
            self.assertEqual(r.body, b"error=bad_verification_code&"
                             b"error_description=The+code+passed+is+"
                             b"incorrect+or+expired.&error_uri=https%3A%2F%2F"
                             b"docs.github.com%2Fapps%2Foauth-apps%2F"
                             b"maintaining-oauth-apps%2Ftroubleshooting-"
                             b"oauth-app-access-token-request-errors%23"
                             b"bad-verification-code")
            self.assertEqual(r.header("Content-Type"),
                             "application/x-www-form-urlencoded; "
                             "charset=utf-8")
        finally:
            p.terminate()
            p.wait(10)
            p.stdout.close()
            p.stderr.close()


if __name__ == "__main__":
    oh.main()
