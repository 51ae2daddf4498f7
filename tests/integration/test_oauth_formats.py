#!/usr/bin/python3
"""Token responses in every shape GitHub sends them, through the proxy:
form, JSON and XML bodies (chosen by Accept), Content-Length or chunked,
gzip or deflate; the token endpoint over plain HTTP too; br and zstd taken
out of Accept-Encoding upstream; an error code outside the catalog
(relayed untouched, info record); a body over inspect_max_bytes (relayed
untouched, oauth-uninspected warn record); parameters in the query string.

Client: curl through the proxy (CONNECT + intercepted TLS unless noted)
and raw TLS connections where the exact bytes matter.
"""

import gzip
import json
import unittest
import urllib.parse
import zlib

import harness
import oauth_helpers as oh

FORMATS = (("form", None), ("form", "*/*"), ("json", "application/json"),
           ("xml", "application/xml"))


class Formats(oh.OAuthTestCase):

    def setUp(self):
        super().setUp()
        self.gh.set_variant()
        self.addCleanup(self.gh.set_variant)

    def exchange(self, params, **kw):
        m = self.mark()
        r = self.curl_token(params, **kw)
        self.assertEqual((r.rc, r.status), (0, 200), "%r\n%s" %
                         (r, self.proxy.tail()))
        return m, r, self.one_record_since(m["gh"])

    def error_params(self, code):
        """Request parameters that make the fake answer `code`."""
        if code == "incorrect_client_credentials":
            return self.params(self.fresh_code(), secret="2" * 40)
        if code == "redirect_uri_mismatch":
            return self.params(self.fresh_code(),
                               redirect_uri=oh.WRONG_REDIRECT)
        return self.params("feedfacefeedfacefeed")

    def check_error(self, code, m, r, rec, raw=True):
        self.assert_annotated(
            r.headers, r.body, rec, code, mark=m, body_is_raw=raw,
            redirect_uri=oh.WRONG_REDIRECT
            if code == "redirect_uri_mismatch" else oh.CALLBACK)

    # -- formats ----------------------------------------------------------
    def test_errors_in_each_format(self):
        for fmt, accept in FORMATS:
            for code in oh.ANNOTATED:
                with self.subTest(format=fmt, accept=accept, code=code):
                    m, r, rec = self.exchange(self.error_params(code),
                                              accept=accept)
                    self.assertEqual(rec.format, fmt)
                    self.check_error(code, m, r, rec)
                    # The body still says what GitHub said, in its format.
                    if fmt == "json":
                        self.assertEqual(r.json()["error"], code)
                    elif fmt == "xml":
                        self.assertIn(b"<error>%s</error>" % code.encode(),
                                      r.body)
                    else:
                        self.assertEqual(dict(urllib.parse.parse_qsl(
                            r.text))["error"], code)

    def test_success_in_each_format_untouched(self):
        for fmt, accept in FORMATS:
            with self.subTest(format=fmt, accept=accept):
                m, r, rec = self.exchange(self.params(self.fresh_code()),
                                          accept=accept)
                self.assertEqual((rec.format, rec.outcome), (fmt, "success"))
                self.assertIn(rec.access_token.encode(), r.body)
                self.assert_untouched(r.headers, r.body, rec, mark=m)

    # -- framing and codings -------------------------------------------------
    def test_chunked(self):
        self.gh.set_variant(chunked=True)
        for fmt, accept in FORMATS[1:]:
            with self.subTest(format=fmt):
                m, r, rec = self.exchange(
                    self.error_params("bad_verification_code"),
                    accept=accept)
                self.assertTrue(rec.chunked)
                self.check_error("bad_verification_code", m, r, rec)
                m, r, rec = self.exchange(self.params(self.fresh_code()),
                                          accept=accept)
                self.assertEqual(rec.outcome, "success")
                self.assert_untouched(r.headers, r.body, rec, mark=m)

    def test_gzip_and_deflate(self):
        # curl does not decode (no --compressed): the body must be the
        # compressed bytes GitHub sent, Content-Encoding kept.
        for enc in ("gzip", "deflate"):
            for chunked in (False, True):
                self.gh.set_variant(encoding=enc, chunked=chunked)
                for fmt, accept in FORMATS[2:]:
                    with self.subTest(encoding=enc, chunked=chunked,
                                      format=fmt):
                        m, r, rec = self.exchange(
                            self.error_params("redirect_uri_mismatch"),
                            accept=accept,
                            headers=["Accept-Encoding: %s" % enc])
                        self.assertEqual(rec.content_encoding, enc)
                        self.assertEqual(r.header("Content-Encoding"), enc)
                        self.check_error("redirect_uri_mismatch", m, r, rec)
                        dec = gzip.decompress(r.body) if enc == "gzip" \
                            else zlib.decompress(r.body)
                        self.assertEqual(dec, rec.resp_plain)
                        m, r, rec = self.exchange(
                            self.params(self.fresh_code()), accept=accept,
                            headers=["Accept-Encoding: %s" % enc])
                        self.assertEqual(rec.content_encoding, enc)
                        self.assert_untouched(r.headers, r.body, rec, mark=m)

    def test_curl_compressed_br_zstd_dropped(self):
        # curl --compressed offers deflate, gzip, br, zstd (this curl has
        # all four); the proxy cannot inspect br or zstd, so GitHub must
        # not be offered them.
        self.gh.set_variant(encoding="gzip")
        m, r, rec = self.exchange(self.error_params("bad_verification_code"),
                                  accept="application/json",
                                  args=["--compressed"])
        offered = [t.strip().split(";")[0].lower()
                   for t in (rec.accept_encoding or "").split(",")
                   if t.strip()]
        self.assertNotIn("br", offered, rec.accept_encoding)
        self.assertNotIn("zstd", offered, rec.accept_encoding)
        self.assertIn("gzip", offered, rec.accept_encoding)
        self.assertEqual(rec.content_encoding, "gzip")
        # curl decoded the gzip body: compare with the plain bytes.
        self.check_error("bad_verification_code", m, r, rec, raw=False)

    def test_only_br_zstd_offered(self):
        self.gh.set_variant(encoding="gzip")
        m, r, rec = self.exchange(self.error_params("bad_verification_code"),
                                  accept="application/json",
                                  headers=["Accept-Encoding: br, zstd"])
        offered = [t.strip().split(";")[0].lower()
                   for t in (rec.accept_encoding or "").split(",")
                   if t.strip()]
        self.assertNotIn("br", offered, rec.accept_encoding)
        self.assertNotIn("zstd", offered, rec.accept_encoding)
        self.assertIsNone(rec.content_encoding)
        self.check_error("bad_verification_code", m, r, rec)

    def test_raw_split_writes_exact_bytes(self):
        # A raw TLS client: the annotated response's body is exactly the
        # bytes the fake sent, framed with Content-Length or chunked.
        self.gh.set_variant(chunked=True)
        c = self.intercepted_conn()
        m = self.mark()
        req = self.token_request(self.error_params("bad_verification_code"),
                                 accept="application/xml")
        # The request head and body in small pieces.
        for i in range(0, len(req), 7):
            c.send(req[i:i + 7])
        r = c.read_response("POST")
        rec = self.one_record_since(m["gh"])
        self.assertEqual(r.status, 200)
        self.assert_annotated(r.headers, r.body, rec, "bad_verification_code",
                              mark=m)

    # -- other codes, big bodies -------------------------------------------------
    UNKNOWN = "oauthlens_test_unknown_error"

    def test_unknown_error_code_untouched_info_record(self):
        # A code no catalog has: relayed untouched, one info record with
        # the code and no hint.
        self.assertNotIn(self.UNKNOWN, self.catalog)
        self.gh.set_variant(force_error=self.UNKNOWN)
        for fmt, accept in FORMATS[1:]:
            with self.subTest(format=fmt):
                m, r, rec = self.exchange(self.params(self.fresh_code()),
                                          accept=accept)
                self.assertEqual(rec.outcome, self.UNKNOWN)
                self.check_info_only(m, r, rec, self.UNKNOWN)

    def check_info_only(self, m, r, rec, code):
        self.assert_untouched(r.headers, r.body, rec)
        recs = self.new_log_records(m)
        self.assertEqual(len(recs), 1, recs)
        x = recs[0]
        self.assertEqual(x.get("level"), "info", x)
        self.assertEqual(x.get("error"), code, x)
        self.assertEqual(x.get("client_id"), self.app.client_id, x)
        for k in ("lang", "hint", "doc", "title"):
            self.assertNotIn(k, x, x)
        self.assert_no_secrets(json.dumps(x), "the info record")

    def test_other_github_code(self):
        # unverified_user_email (GitHub documents it): annotated from the
        # catalog once the catalog has it, else relayed with an info record.
        code = "unverified_user_email"
        self.gh.set_variant(force_error=code)
        m, r, rec = self.exchange(self.params(self.fresh_code()),
                                  accept="application/json")
        self.assertEqual(rec.outcome, code)
        if code in self.catalog:
            self.assert_annotated(r.headers, r.body, rec, code, mark=m)
        else:
            self.check_info_only(m, r, rec, code)

    def test_oversized_error_uninspected(self):
        for chunked in (False, True):
            self.gh.set_variant(oversize=70000, chunked=chunked)
            for fmt, accept in FORMATS[1:]:
                with self.subTest(chunked=chunked, format=fmt):
                    m, r, rec = self.exchange(
                        self.error_params("bad_verification_code"),
                        accept=accept)
                    self.assertEqual(rec.outcome, "bad_verification_code")
                    self.assertGreater(len(rec.resp_body), 65536)
                    self.assert_untouched(r.headers, r.body, rec)
                    recs = self.new_log_records(
                        m, events=("oauth-uninspected", "oauth-error"))
                    self.assertEqual([x["event"] for x in recs],
                                     ["oauth-uninspected"], recs)
                    self.assertEqual(recs[0].get("level"), "warn", recs)
                    self.assertEqual(recs[0].get("host"), "github.com")

    def test_inspect_max_bytes_from_config(self):
        p = self.new_oauth_proxy(config={"inspect_max_bytes": 1024})
        self.gh.set_variant(oversize=1500)
        m = self.mark(p)
        r = self.curl_token(self.error_params("bad_verification_code"),
                            proxy=p)
        rec = self.one_record_since(m["gh"])
        self.assert_untouched(r.headers, r.body, rec)
        recs = self.new_log_records(m, events=("oauth-uninspected",
                                               "oauth-error"))
        self.assertEqual([x["event"] for x in recs], ["oauth-uninspected"])
        self.gh.set_variant(oversize=500)
        m = self.mark(p)
        r = self.curl_token(self.error_params("bad_verification_code"),
                            proxy=p)
        rec = self.one_record_since(m["gh"])
        self.assert_annotated(r.headers, r.body, rec, "bad_verification_code",
                              mark=m)

    # -- plain HTTP, query parameters ---------------------------------------------
    def test_plain_http_token_endpoint(self):
        for fmt, accept in FORMATS[1:]:
            for code in oh.ANNOTATED:
                with self.subTest(format=fmt, code=code):
                    m, r, rec = self.exchange(self.error_params(code),
                                              accept=accept, plain=True)
                    self.assertFalse(rec.tls, "went over TLS")
                    self.check_error(code, m, r, rec)
        m, r, rec = self.exchange(self.params(self.fresh_code()), plain=True)
        self.assertEqual((rec.tls, rec.outcome), (False, "success"))
        self.assert_untouched(r.headers, r.body, rec, mark=m)

    def test_plain_http_raw_chunked_gzip(self):
        self.gh.set_variant(chunked=True, encoding="gzip")
        m = self.mark()
        req = harness.http_request(
            "POST", oh.TOKEN_URL_PLAIN,
            [("Accept", "application/json"),
             ("Accept-Encoding", "gzip, br"),
             ("Content-Type", "application/x-www-form-urlencoded")],
            urllib.parse.urlencode(self.error_params(
                "incorrect_client_credentials")).encode())
        r = harness.raw_exchange(self.proxy.port, req, "POST")
        rec = self.one_record_since(m["gh"])
        self.assertFalse(rec.tls)
        self.assertEqual(rec.content_encoding, "gzip")
        self.assertNotIn("br", rec.accept_encoding or "")
        self.assert_annotated(r.headers, r.body, rec,
                              "incorrect_client_credentials", mark=m)

    def test_parameters_in_query_string(self):
        # GitHub takes the parameters from the query string too; the log
        # record still names client_id and redirect_uri.
        q = urllib.parse.urlencode(self.error_params("bad_verification_code"))
        m = self.mark()
        r = harness.curl(oh.TOKEN_URL + "?" + q, self.proxy,
                         ["--cacert", self.ca_pem, "-X", "POST"],
                         tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        rec = self.one_record_since(m["gh"])
        self.assertEqual(rec.body, b"")
        self.check_error("bad_verification_code", m, r, rec)

    def test_not_the_token_endpoint(self):
        # Same host, other paths and methods: never annotated, even when
        # the body looks like an error.
        m = self.mark()
        for url, args in (
                (oh.TOKEN_URL + "x", ["-d", "code=1"]),
                ("https://github.com/login/oauth/access_token/",
                 ["-d", "code=1"]),
                (oh.TOKEN_URL, ["-X", "PUT", "-d", "code=1"])):
            with self.subTest(url=url, args=args):
                r = harness.curl(url, self.proxy,
                                 ["--cacert", self.ca_pem] + args,
                                 tmpdir=self.tmp)
                self.assertEqual((r.rc, r.status), (0, 404), r)
                self.assertIsNone(r.header(oh.HEADER))
        self.assertEqual(self.new_log_records(m, expect=0), [])


class HelperSelfCheck(unittest.TestCase):
    """The RFC 9651 decoder the other tests rely on."""

    def test_decoder(self):
        v = 'bad_verification_code;lang=ja;hint=%"a%25b%22c%e3%81%82";' \
            'doc="https://x/\\"y";x=?1;n=-12;d=1.5;b=:AQI=:'
        (item, params), = oh.sfv_parse_list(v)
        self.assertIsInstance(item, oh.Token)
        self.assertEqual(params["hint"], 'a%b"c\u3042')
        self.assertIsInstance(params["hint"], oh.DisplayString)
        self.assertEqual(params["doc"], 'https://x/"y')
        self.assertEqual((params["x"], params["n"], params["d"],
                          params["b"]), (True, -12, 1.5, b"\x01\x02"))
        self.assertEqual(oh.display_string('a%b"c\u3042'),
                         '%"a%25b%22c%e3%81%82"')
        for bad in ('t;hint=%"%E3%81%82"', 't;hint=%"\u3042"', 't;hint=%"a',
                    't;hint=%"%e3%81"', 't,', 't;Lang=ja', '"a" x',
                    't;hint=%"%g0"'):
            with self.subTest(bad=bad):
                with self.assertRaises(oh.SFVError):
                    oh.sfv_parse_list(bad)


if __name__ == "__main__":
    oh.main()
