#!/usr/bin/python3
"""The proxy's own pages, requested in origin form on the proxy port:
/healthz ("ok"), /ca.pem (the CA certificate of --certs, PEM), / (HTML:
recent annotated errors in table#errors -- time, host, code, hint,
client_id, redirect_uri -- newest first, values HTML-escaped, and a meta
refresh), anything else 404. HEAD is answered without a body.

Clients: raw sockets, curl, openssl. Server: a fake token endpoint
(sdhelp) answering GitHub errors."""

import datetime
import os
import re
import shutil
import ssl
import subprocess
import tempfile

import harness
from sdhelp import (BAD_CODE_BODY, BAD_CREDS_BODY, Daemon, FakeTokenEndpoint,
                    SharedDaemonCase, StatusPage, hint, token_request)


class Pages(SharedDaemonCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="oauthlens-pages-")
        cls.fake = FakeTokenEndpoint().start()
        try:
            super().setUpClass()
        except BaseException:
            cls._stop_servers()
            raise

    @classmethod
    def make_daemon(cls, name):
        return Daemon(cls.tmp, {"lang": "auto"}, cls.fake.resolve_arg(),
                      name=name).start()

    @classmethod
    def _stop_servers(cls):
        cls.fake.stop()
        if not harness.KEEP_TMP:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls._stop_servers()

    def get(self, path, method="GET"):
        req = ("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close"
               "\r\n\r\n" % (method, path, self.d.port)).encode()
        return harness.raw_exchange(self.d.port, req, method=method)

    def error(self, client_id, redirect_uri="http://localhost:3000/cb",
              body=BAD_CODE_BODY, lang="ja"):
        self.fake.body = body
        try:
            r = token_request(self.d.url, client_id=client_id,
                              redirect_uri=redirect_uri,
                              headers=["Accept-Language: %s" % lang],
                              tmpdir=self.tmp)
        finally:
            self.fake.body = BAD_CODE_BODY
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertIsNotNone(r.header("OAuth-Troubleshooting"), r.headers)
        return r

    def page(self):
        r = self.get("/")
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.header("content-type") or "",
                         r"^text/html;\s*charset=utf-8$")
        return StatusPage(r.body.decode("utf-8"))

    def row_of(self, p, client_id):
        col = p.column("client_id")
        for i, row in enumerate(p.rows):
            if row[col]["text"].strip() == client_id:
                return i
        self.fail("no row with client_id %r; rows: %r" %
                  (client_id, [r[col]["text"] for r in p.rows]))

    def test_healthz(self):
        r = self.get("/healthz")
        self.assertEqual((r.status, r.body), (200, b"ok\n"))
        self.assertTrue((r.header("content-type") or "").startswith(
            "text/plain"), r.headers)
        h = self.get("/healthz", "HEAD")
        self.assertEqual((h.status, h.body), (200, b""))
        self.assertEqual(h.header("content-length"), "3", h.headers)
        # Also with a query string (load balancers add one).
        self.assertEqual(self.get("/healthz?probe=1").status, 200)

    def test_ca_pem(self):
        r = self.get("/ca.pem")
        self.assertEqual(r.status, 200, r)
        text = r.body.decode("ascii")
        self.assertRegex(text, r"^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/="
                         r"\n]+-----END CERTIFICATE-----\n?$")
        with open(os.path.join(self.d.certs_dir, "ca.pem")) as f:
            on_disk = f.read()
        self.assertEqual(ssl.PEM_cert_to_DER_cert(text),
                         ssl.PEM_cert_to_DER_cert(on_disk),
                         "/ca.pem is not the CA of --certs")
        self.assertNotIn("PRIVATE KEY", text)
        out = subprocess.run(["openssl", "x509", "-noout", "-text"],
                             input=r.body, capture_output=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(b"CA:TRUE", out.stdout, "not a CA certificate")
        ctype = r.header("content-type") or ""
        self.assertTrue(ctype.startswith(("application/x-pem-file",
                                          "application/x-x509-ca-cert",
                                          "application/pem-certificate-chain"
                                          )), ctype)

    def test_unknown_page_is_404(self):
        for path in ("/nope", "/metrics/x", "/healthz/", "/ca.pem.bak"):
            r = self.get(path)
            self.assertEqual(r.status, 404, "%s: %r" % (path, r))

    def test_index_refreshes_itself(self):
        p = self.page()
        self.assertIsNotNone(p.refresh, "no <meta http-equiv=refresh>")
        m = re.match(r"^\s*(\d+)\s*(;.*)?$", p.refresh)
        self.assertIsNotNone(m, "meta refresh content %r" % p.refresh)
        self.assertGreater(int(m.group(1)), 0)
        self.assertIn("oauthlens", p.title)

    def test_index_lists_errors_newest_first(self):
        t0 = datetime.datetime.now(datetime.timezone.utc).replace(
            microsecond=0)
        self.error("Iv1.first", "http://localhost:3000/one")
        self.error("Iv1.second", "http://localhost:3000/two",
                   body=BAD_CREDS_BODY, lang="en")
        self.error("Iv1.third", "http://127.0.0.1:8000/three")
        t1 = datetime.datetime.now(datetime.timezone.utc)
        p = self.page()
        for name in ("time", "host", "error", "hint", "client_id",
                     "redirect_uri"):
            p.column(name)
        i1, i2, i3 = (self.row_of(p, c) for c in
                      ("Iv1.first", "Iv1.second", "Iv1.third"))
        self.assertLess(i3, i2, "not newest first")
        self.assertLess(i2, i1, "not newest first")
        self.assertEqual(i3, 0, "the newest error is not the first row")
        row = p.rows[i3]
        self.assertEqual(row[p.column("host")]["text"].strip(), "github.com")
        self.assertEqual(row[p.column("error")]["text"].strip(),
                         "bad_verification_code")
        self.assertIn(hint("bad_verification_code", "ja"),
                      row[p.column("hint")]["text"])
        self.assertEqual(row[p.column("redirect_uri")]["text"].strip(),
                         "http://127.0.0.1:8000/three")
        row = p.rows[i2]
        self.assertEqual(row[p.column("error")]["text"].strip(),
                         "incorrect_client_credentials")
        self.assertIn(hint("incorrect_client_credentials", "en"),
                      row[p.column("hint")]["text"])
        self.assertEqual(row[p.column("redirect_uri")]["text"].strip(),
                         "http://localhost:3000/two")
        ts = re.search(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d",
                       p.rows[i3][p.column("time")]["text"])
        self.assertIsNotNone(ts, p.rows[i3][p.column("time")])
        when = datetime.datetime.strptime(
            ts.group(0).replace("T", " "), "%Y-%m-%d %H:%M:%S").replace(
                tzinfo=datetime.timezone.utc)
        self.assertTrue(t0 - datetime.timedelta(seconds=2) <= when <=
                        t1 + datetime.timedelta(seconds=2),
                        "time %s is not the UTC time of the error (%s..%s)"
                        % (when, t0, t1))

    def test_index_escapes_values(self):
        cid = 'Iv1.<b id="x">bold</b>&amp;"\''
        # error is a key whose value is shown (issue 14: others are
        # masked), so the markup reaches the page and must be escaped.
        uri = 'http://localhost:3000/cb?error=<script>alert(1)</script>'
        self.error(cid, uri)
        p = self.page()
        i = self.row_of(p, cid)
        for name, want in (("client_id", cid), ("redirect_uri", uri)):
            c = p.rows[i][p.column(name)]
            self.assertEqual(c["text"].strip(), want)
            self.assertNotIn("b", [t for t, _ in c["tags"]], c)
            self.assertNotIn("script", [t for t, _ in c["tags"]], c)

    def test_head_index(self):
        r = self.get("/", "HEAD")
        self.assertEqual((r.status, r.body), (200, b""))
        self.assertGreater(int(r.header("content-length") or 0), 0)


if __name__ == "__main__":
    harness.main()
