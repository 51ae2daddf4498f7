#!/usr/bin/python3
"""Large bodies stream through byte-identical, both ways, with bounded
proxy memory (backpressure).

Client: curl (-o file) and raw sockets reading or writing slowly. Proxy:
default flags. Origin: /bytes/N (length, chunked, close-delimited) and
/echo (sha256 of what arrived; ?readdelay= makes it a slow reader)."""

import hashlib
import os
import threading
import time

import harness
from harness import ProxyTestCase, http_request, pattern, pattern_sha256

MiB = 1 << 20
BIG = (20 if harness.SANITIZE else 100) * MiB
# Memory checks: without backpressure the proxy would hold ~all of SLOWN.
SLOWN = 96 * MiB
RSS_BOUND_KIB = 32 * 1024


def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(MiB)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


class LargeBodies(ProxyTestCase):

    def download(self, path, n, timeout=60):
        out = os.path.join(self.tmp, "dl.bin")
        self.addCleanup(lambda: os.path.exists(out) and os.unlink(out))
        r = self.curl(path, timeout=timeout, output=out)
        self.assertEqual(r.rc, 0, "%r\n%s" % (r, self.proxy.tail()))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(os.path.getsize(out), n)
        self.assertEqual(file_sha(out), pattern_sha256(n),
                         "body differs from what the origin sent")
        return r

    def test_1mib_content_length(self):
        r = self.download("/bytes/%d" % MiB, MiB)
        self.assertEqual(r.header("content-length"), str(MiB))

    def test_1mib_chunked(self):
        self.download("/bytes/%d?chunked=1&ext=1" % MiB, MiB)

    def test_1mib_close_delimited(self):
        self.download("/bytes/%d?close=1" % MiB, MiB)

    def test_big_download(self):
        t0 = time.monotonic()
        self.download("/bytes/%d" % BIG, BIG, timeout=90)
        print("  %d MiB download through the proxy: %.2fs" %
              (BIG // MiB, time.monotonic() - t0))

    def test_big_chunked_download(self):
        n = BIG // 5
        self.download("/bytes/%d?chunked=1" % n, n, timeout=60)

    def test_big_upload(self):
        n = BIG // 2
        p = os.path.join(self.tmp, "up.bin")
        with open(p, "wb") as f:
            for b in pattern(n):
                f.write(b)
        self.addCleanup(os.unlink, p)
        r = self.curl("/echo", ["--data-binary", "@" + p], timeout=90)
        self.assert_ok_curl(r)
        e = r.json()
        self.assertEqual(e["body_length"], n)
        self.assertEqual(e["body_sha256"], pattern_sha256(n))

    def test_big_chunked_upload(self):
        n = BIG // 5
        p = os.path.join(self.tmp, "upc.bin")
        with open(p, "wb") as f:
            for b in pattern(n):
                f.write(b)
        self.addCleanup(os.unlink, p)
        r = self.curl("/echo", ["-H", "Transfer-Encoding: chunked",
                                "--data-binary", "@" + p], timeout=90)
        self.assert_ok_curl(r)
        self.assertEqual(r.json()["body_sha256"], pattern_sha256(n))

    def test_download_backpressure(self):
        """A client that stops reading: the proxy must stop reading from
        the origin instead of buffering the body."""
        base = self.proxy.rss_kib()
        sent0 = self.origin.body_bytes_sent
        c = self.raw(timeout=60)
        c.send(http_request("GET", self.origin.url("/bytes/%d" % SLOWN)))
        head = c.read_head()
        self.assertIn(" 200 ", head[0] + " ", head)
        time.sleep(2.0)
        grown = self.proxy.rss_kib() - base
        sent = self.origin.body_bytes_sent - sent0
        if harness.SANITIZE:
            grown = 0  # ASan's allocator makes RSS meaningless
        print("  client not reading: proxy RSS +%d KiB, origin sent %d KiB"
              % (grown, sent // 1024))
        # Kernel socket buffers on both sides hold some MiB; the rest must
        # still be waiting at the origin.
        self.assertLess(sent, SLOWN // 2, "the origin could send %d bytes "
                        "to a client that reads nothing: no backpressure"
                        % sent)
        self.assertLess(grown, RSS_BOUND_KIB,
                        "proxy RSS grew by %d KiB while the client was not "
                        "reading: no backpressure" % grown)
        h = hashlib.sha256()
        got = len(c.buf)
        h.update(c.buf)
        c.buf = b""
        while got < SLOWN:
            b = c.sock.recv(1 << 20)
            if not b:
                break
            h.update(b)
            got += len(b)
        self.assertEqual(got, SLOWN)
        self.assertEqual(h.hexdigest(), pattern_sha256(SLOWN))

    def test_upload_backpressure(self):
        """An origin that does not read the body yet: the proxy must stop
        reading from the client instead of buffering the body."""
        base = self.proxy.rss_kib()
        c = self.raw(timeout=60)
        errors = []
        progress = [0]

        def sender():
            try:
                c.send(http_request("POST",
                                    self.origin.url("/echo?readdelay=3"),
                                    headers=[("Content-Length",
                                              str(SLOWN))]))
                for b in pattern(SLOWN):
                    c.sock.sendall(b)
                    progress[0] += len(b)
            except OSError as e:
                errors.append(e)
        t = threading.Thread(target=sender, daemon=True)
        t.start()
        time.sleep(2.0)
        grown = self.proxy.rss_kib() - base
        if harness.SANITIZE:
            grown = 0  # ASan's allocator makes RSS meaningless
        print("  origin not reading: proxy RSS +%d KiB, client sent %d KiB"
              % (grown, progress[0] // 1024))
        self.assertLess(progress[0], SLOWN // 2, "the client could send %d "
                        "bytes to an origin that reads nothing: no "
                        "backpressure" % progress[0])
        self.assertLess(grown, RSS_BOUND_KIB,
                        "proxy RSS grew by %d KiB while the origin was not "
                        "reading: no backpressure" % grown)
        r = c.read_response()
        t.join(30)
        self.assertFalse(errors, errors)
        self.assertEqual(r.status, 200, r)
        e = r.json()
        self.assertEqual(e["body_length"], SLOWN)
        self.assertEqual(e["body_sha256"], pattern_sha256(SLOWN))


if __name__ == "__main__":
    harness.main()
