#!/usr/bin/python3
"""Large bodies stream through byte-identical, both ways, with bounded
proxy memory (backpressure).

Client: curl (-o file) and raw sockets reading or writing slowly. Proxy:
default flags. Origin: /bytes/N (length, chunked, close-delimited) and
/echo (sha256 of what arrived; ?__hold= keeps it from reading the body until
the test releases it)."""

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
# Body bytes the proxy may hold while one side reads nothing: its design
# bound (transport.h) is about 416 KiB a direction.
HELD_BOUND = 4 * MiB


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

    # -- backpressure ----------------------------------------------------
    # One side stops reading; the other has SLOWN bytes to send. What the
    # proxy holds in its own memory is what it has read from the sender
    # minus what it has written towards the receiver, each side measured
    # as what the sending program handed its kernel minus what the kernel
    # still holds in flight (harness.tcp_queues), once everything has
    # stalled. With backpressure that is the proxy's buffers (its design
    # bound is about 416 KiB a direction, transport.h); without, nearly
    # all of SLOWN. How much the kernels hold (their buffers grow up to
    # tcp_rmem's maximum, 32 MiB on some hosts) or how fast the sender
    # goes does not enter into it.

    def settle(self, measure):
        ok, v = harness.wait_settled(measure, 30 * harness.SLOW)
        self.assertTrue(ok, "the transfer did not stall within %gs while "
                        "one side read nothing: %r" % (30 * harness.SLOW, v))
        return v

    def assert_bounded(self, held, base, what):
        grown = self.proxy.rss_kib() - base
        if harness.SANITIZE:
            grown = 0  # ASan's allocator makes RSS meaningless
        print("  %s: the proxy holds %d KiB, RSS +%d KiB"
              % (what, held // 1024, grown))
        self.assertLess(held, HELD_BOUND, "the proxy holds %d bytes of the "
                        "body while %s: no backpressure" % (held, what))
        self.assertLess(grown, RSS_BOUND_KIB, "proxy RSS grew by %d KiB "
                        "while %s: no backpressure" % (grown, what))

    def test_download_backpressure(self):
        """A client that stops reading: the proxy must stop reading from
        the origin instead of buffering the body."""
        base = self.proxy.rss_kib()
        sent0 = self.origin.body_bytes_sent
        path = "/bytes/%d?dl=%d" % (SLOWN, time.monotonic_ns())
        c = self.raw(timeout=60)
        c.send(http_request("GET", self.origin.url(path)))
        head = c.read_head()
        self.assertIn(" 200 ", head[0] + " ", head)
        up = self.origin.requests_for(path.split("?")[0])[-1]["peer"][1]
        down = c.sock.getsockname()[1]

        def measure():
            q = harness.tcp_queues()
            return (self.origin.body_bytes_sent - sent0,
                    harness.kernel_bytes(q, self.origin.port, up),
                    harness.kernel_bytes(q, self.proxy.port, down))
        sent, k_up, k_down = self.settle(measure)
        # The origin's count misses the 64 KiB block being sent, if any:
        # it can only make held smaller by that much.
        held = sent - k_up - k_down - len(c.buf)
        self.assert_bounded(held, base, "the client reads nothing")
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
        """An origin that does not read the body (until the test lets it):
        the proxy must stop reading from the client instead of buffering
        the body."""
        base = self.proxy.rss_kib()
        hold = "up-%d" % time.monotonic_ns()
        self.addCleanup(self.origin.release, hold)
        c = self.raw(timeout=60)
        head = http_request("POST", self.origin.url("/echo?__hold=" + hold),
                            headers=[("Content-Length", str(SLOWN))])
        errors = []
        sent = [0]      # body bytes the client's kernel has taken

        def sender():
            try:
                c.send(head)
                for b in pattern(SLOWN):
                    mv = memoryview(b)
                    while mv:
                        n = c.sock.send(mv)
                        sent[0] += n
                        mv = mv[n:]
            except OSError as e:
                errors.append(e)
        t = threading.Thread(target=sender, daemon=True)
        t.start()
        recs = harness.wait_until(
            lambda: [r for r in self.origin.requests_for("/echo")
                     if hold in r["target"]], 10 * harness.SLOW)
        self.assertTrue(recs, "the request did not reach the origin\n" +
                        self.proxy.tail())
        up = recs[0]["peer"][1]
        down = c.sock.getsockname()[1]

        def measure():
            q = harness.tcp_queues()
            return (sent[0], harness.kernel_bytes(q, down, self.proxy.port),
                    harness.kernel_bytes(q, up, self.origin.port))
        n, k_down, k_up = self.settle(measure)
        # The origin has read the head (and up to 64 KiB more into its
        # buffer): counting none of it as written makes held larger.
        held = n - k_down - k_up
        self.assert_bounded(held, base, "the origin reads nothing")
        self.assertFalse(errors, errors)
        self.origin.release(hold)
        r = c.read_response()
        t.join(30)
        self.assertFalse(errors, errors)
        self.assertEqual(r.status, 200, r)
        e = r.json()
        self.assertEqual(e["body_length"], SLOWN)
        self.assertEqual(e["body_sha256"], pattern_sha256(SLOWN))


if __name__ == "__main__":
    harness.main()
