#!/usr/bin/python3
"""Large bodies through intercepted TLS, both ways, byte-identical, also
when one side is slow (so that TLS writes meet full sockets and the proxy
has to wait and retry them).

Client: curl through the proxy (CONNECT localhost:443, intercepted, curl
trusting only the proxy's CA). Origin: the test origin over TLS with a
certificate from the test CA, which the proxy trusts with --upstream-ca.
"""

import os

import harness
from harness import SLOW, ProxyTestCase, pattern, pattern_sha256
from test_large_bodies import file_sha

MiB = 1 << 20
BIG = (16 if harness.SANITIZE else 64) * MiB


class TLSLargeBodies(ProxyTestCase):

    origin_tls = True

    @classmethod
    def proxy_setup(cls):
        cls.certs = os.path.join(cls.tmp, "certs")
        return {}, ["--certs", cls.certs, "--intercept", "localhost",
                    "--upstream-ca", cls.ca.ca, "--resolve",
                    "localhost:443:127.0.0.1:%d" % cls.tls_origin.port]

    def https(self, path, args=(), timeout=90, **kw):
        return self.curl("https://localhost" + path,
                         ["--cacert", os.path.join(self.certs, "ca.pem")] +
                         list(args), timeout=timeout, **kw)

    def download(self, path, n, args=()):
        out = os.path.join(self.tmp, "dl.bin")
        self.addCleanup(lambda: os.path.exists(out) and os.unlink(out))
        r = self.https(path, args, output=out)
        self.assertEqual((r.rc, r.status), (0, 200), "%r\n%s" %
                         (r, self.proxy.tail()))
        self.assertEqual(os.path.getsize(out), n)
        self.assertEqual(file_sha(out), pattern_sha256(n),
                         "body differs from what the origin sent")

    def upload_file(self, n):
        p = os.path.join(self.tmp, "up-%d.bin" % n)
        with open(p, "wb") as f:
            for b in pattern(n):
                f.write(b)
        self.addCleanup(os.unlink, p)
        return p

    def upload(self, path, n, args=()):
        r = self.https(path, ["--data-binary", "@" + self.upload_file(n)] +
                       list(args))
        self.assertEqual((r.rc, r.status), (0, 200), "%r\n%s" %
                         (r, self.proxy.tail()))
        e = r.json()
        self.assertEqual(e["body_length"], n)
        self.assertEqual(e["body_sha256"], pattern_sha256(n))

    def test_big_download(self):
        self.download("/bytes/%d" % BIG, BIG)

    def test_chunked_download(self):
        self.download("/bytes/%d?chunked=1" % (BIG // 4), BIG // 4)

    def test_download_to_slow_client(self):
        # 8 MiB at 4 MiB/s: the proxy's writes to the client keep
        # finding the socket full.
        self.download("/bytes/%d" % (8 * MiB), 8 * MiB,
                      ["--limit-rate", "4M"])

    def test_big_upload(self):
        self.upload("/echo", BIG // 2)

    def test_upload_to_slow_origin(self):
        # The origin reads nothing for a second: the proxy's writes to it
        # meet a full socket, and the client's must wait.
        self.upload("/echo?readdelay=1", 16 * MiB)

    def test_keepalive_after_big_bodies(self):
        # One tunnel: a small body, a big one, a small one; the framing
        # of each survives the big one before it.
        def connects():
            return len([a for a in self.proxy.access_records()
                        if a.get("method") == "CONNECT"])
        before = connects()
        out = os.path.join(self.tmp, "ka.bin")
        self.addCleanup(lambda: os.path.exists(out) and os.unlink(out))
        small = "https://localhost/bytes/100"
        big = "https://localhost/bytes/%d" % (4 * MiB)
        # harness.curl puts "-o out" first and its URL last: the URLs
        # are small (-> out), big, small (-> /dev/null).
        r = harness.curl(small, self.proxy,
                         ["--cacert", os.path.join(self.certs, "ca.pem"),
                          small, "-o", "/dev/null", big, "-o", "/dev/null"],
                         timeout=60, tmpdir=self.tmp, output=out)
        self.assertEqual(r.rc, 0, "%r\n%s" % (r, self.proxy.tail()))
        statuses = [st for line, st, _ in r.blocks
                    if "established" not in (line or "").lower()]
        self.assertEqual(statuses, [200, 200, 200], r.blocks)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"".join(pattern(100)))
        harness.wait_until(lambda: connects() > before, 5 * SLOW)
        self.assertEqual(connects() - before, 1, "curl should have used "
                         "one tunnel for the three requests")

if __name__ == "__main__":
    harness.main()
