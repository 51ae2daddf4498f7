#!/usr/bin/python3
"""valgrind memcheck over a representative scenario: no memory errors and
no definite leaks.

The normal build (not ASan: skipped under OAUTHLENS_SANITIZE=1) runs under
  valgrind --leak-check=full --errors-for-leak-kinds=definite
           --error-exitcode=99
through: GET, POST with a body, a chunked upload and a chunked download,
keep-alive requests, a blind CONNECT tunnel, intercepted TLS token
exchanges with fake GitHub (one annotated), error paths (502 refused, 400
CL+TE, 431, a client leaving mid-download), the /metrics page. Then
SIGTERM: the exit status must be 0 (99 = valgrind found an error or a
definite leak) and the valgrind log must say "definitely lost: 0 bytes"
(or hold no leak summary at all) and "ERROR SUMMARY: 0 errors".

Skipped when valgrind is not installed (a failure instead with
OAUTHLENS_REQUIRE_VALGRIND=1, as scripts/test.sh --valgrind sets). Takes
10-30 s, so it runs in every normal suite run too.
"""

import os
import re
import shutil
import time
import unittest
import urllib.parse

import harness
import oauth_helpers as oh
from harness import RawConn, http_request


class ValgrindProxy(harness.Proxy):
    """harness.Proxy run under valgrind memcheck; its report in
    <name>.valgrind."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.vg_log = os.path.join(self.tmpdir, self.name + ".valgrind")

    def command(self):
        return ["valgrind", "--tool=memcheck", "--leak-check=full",
                "--errors-for-leak-kinds=definite", "--error-exitcode=99",
                "--num-callers=30", "--track-fds=no",
                "--log-file=" + self.vg_log] + super().command()

    def vg_text(self):
        try:
            with open(self.vg_log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


class Valgrind(oh.OAuthTestCase):
    start_proxy = False

    @classmethod
    def setUpClass(cls):
        if harness.SANITIZE:
            raise unittest.SkipTest("OAUTHLENS_SANITIZE=1: an ASan binary "
                                    "does not run under valgrind")
        if shutil.which("valgrind") is None:
            if os.environ.get("OAUTHLENS_REQUIRE_VALGRIND") == "1":
                raise AssertionError("valgrind is not installed and "
                                     "OAUTHLENS_REQUIRE_VALGRIND=1")
            raise unittest.SkipTest("valgrind is not installed")
        super().setUpClass()

    def test_memcheck_clean(self):
        t0 = time.monotonic()
        cfg, args = type(self).proxy_setup()
        cfg = dict(cfg, connect_ports=[443, self.origin.port])
        p = ValgrindProxy(self.tmp, cfg, args, name="proxy-valgrind",
                          log_level="debug").start(timeout=60)
        self.proxy = p
        try:
            self.scenario(p)
        except BaseException:
            p.stop(check=False, timeout=60)
            raise
        rc = p.stop(check=False, timeout=60)
        vg = p.vg_text()
        summary = "\n".join(vg.splitlines()[-40:])
        self.assertNotEqual(rc, 99, "valgrind reported errors or definite "
                            "leaks:\n" + self.excerpt(vg))
        self.assertEqual(rc, 0, "exit status %s under valgrind\n%s\n%s" %
                         (rc, summary, p.tail()))
        self.assertRegex(vg, r"ERROR SUMMARY: 0 errors", summary)
        if "LEAK SUMMARY" in vg:
            self.assertRegex(vg, r"definitely lost: 0 bytes in 0 blocks",
                             self.excerpt(vg))
        else:
            self.assertIn("All heap blocks were freed", vg, summary)
        m = re.search(r"in use at exit: ([\d,]+) bytes", vg)
        print("valgrind: clean in %.0fs; in use at exit: %s bytes" % (
            time.monotonic() - t0, m.group(1) if m else "?"))

    @staticmethod
    def excerpt(vg):
        """The error and definite-leak records of a valgrind log."""
        out, keep = [], False
        for line in vg.splitlines():
            body = re.sub(r"^==\d+== ?", "", line)
            if re.match(r"(Invalid|Conditional|Syscall|Mismatched|"
                        r"Source and destination|Use of uninit|"
                        r"[\d,]+ .*bytes in .*definitely lost)", body):
                keep = True
            elif body == "":
                keep = False
            if keep:
                out.append(body)
        return "\n".join(out[:200]) or "\n".join(vg.splitlines()[-40:])

    def scenario(self, p):
        o = self.origin
        slow = 30
        # GET, POST with a body, chunked both ways.
        r = self.curl("/echo?vg=1", proxy=p, timeout=slow)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        body = os.urandom(200000)
        r = self.curl("/echo?post=1", proxy=p, stdin=body, timeout=slow,
                      args=["--data-binary", "@-", "-H",
                            "Content-Type: application/octet-stream"])
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(r.json()["body_length"], len(body))
        r = self.curl("/echo?chunked=1", proxy=p, stdin=body[:70000],
                      timeout=slow,
                      args=["--data-binary", "@-", "-H",
                            "Transfer-Encoding: chunked"])
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertTrue(r.json()["chunked"])
        r = self.curl("/bytes/300000?chunked=1", proxy=p, timeout=slow)
        self.assertEqual((r.rc, r.status, len(r.body)), (0, 200, 300000))
        # Keep-alive: five requests on one connection.
        with RawConn(p.port, timeout=slow) as c:
            for i in range(5):
                c.send(http_request("GET", o.url("/conninfo?ka=%d" % i)))
                self.assertEqual(c.read_response().status, 200)
        # A blind CONNECT tunnel.
        with RawConn(p.port, timeout=slow) as c:
            c.send("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n" %
                   o.port)
            self.assertEqual(c.read_response("CONNECT").status, 200)
            c.send("GET /bytes/100000 HTTP/1.1\r\nHost: x\r\n\r\n")
            r = c.read_response()
            self.assertEqual((r.status, len(r.body)), (200, 100000))
        # Intercepted TLS: a good exchange and an annotated one.
        r = self.curl_token(self.params(self.fresh_code()), proxy=p)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        r = self.curl_token(self.params("0" * 20), proxy=p,
                            accept="application/json")
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertIsNotNone(r.header(oh.HEADER), r)
        # Issue 13's paths: the same code again (code_already_failed), the
        # authorize step's mismatch explained, a GET on the token endpoint.
        r = self.curl_token(self.params("0" * 20), proxy=p)
        self.assertIn("cause=code_already_failed", r.header(oh.HEADER) or "")
        q = urllib.parse.urlencode([
            ("client_id", self.app.client_id), ("state", "vg"),
            ("redirect_uri", "http://localhost:3000/elsewhere")])
        r = harness.curl("https://github.com/login/oauth/authorize?" + q, p,
                         ["--cacert", self.ca_pem], timeout=slow,
                         tmpdir=self.tmp)
        self.assertIn("cause=callback_path", r.header(oh.HEADER) or "")
        r = harness.curl(oh.TOKEN_URL, p, ["--cacert", self.ca_pem],
                         timeout=slow, tmpdir=self.tmp)
        self.assertEqual(r.status, 404, r)
        self.assertIn("cause=token_method", r.header(oh.HEADER) or "")
        # Error paths.
        r = self.curl("http://127.0.0.1:%d/x" % harness.closed_port(),
                      proxy=p, timeout=slow)
        self.assertEqual(r.status, 502, r)
        with RawConn(p.port, timeout=slow) as c:
            c.send(http_request("POST", o.url("/echo"),
                                [("Content-Length", "5"),
                                 ("Transfer-Encoding", "chunked")]) +
                   b"0\r\n\r\n")
            self.assertEqual(c.read_response().status, 400)
        with RawConn(p.port, timeout=slow) as c:
            c.send(http_request("GET", o.url("/echo"),
                                [("X-Big-%d" % i, "v" * 1000)
                                 for i in range(70)]))
            self.assertEqual(c.read_response().status, 431)
        c = RawConn(p.port, timeout=slow)
        c.send(http_request("GET", o.url("/bytes/%d" % (8 << 20))))
        c.read_head()
        c.read_exact(65536)
        c.close()
        r = harness.curl("http://127.0.0.1:%d/metrics" % p.port,
                         timeout=slow, tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertTrue(p.alive(), p.tail())
        # Let the aborted download and pooled connections settle.
        time.sleep(1.0)


if __name__ == "__main__":
    oh.main()
