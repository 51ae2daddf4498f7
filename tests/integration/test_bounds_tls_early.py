#!/usr/bin/python3
"""The early-ClientHello TLS path has the same bounds (issue 14, item 4).

A client that sends its ClientHello in the same packet as the CONNECT
takes another TLS path in the proxy (a filter over the socket): there a
256 MiB download the client never read was buffered whole (RSS 270 MB,
while the normal order stays flat), and a response on a Connection: close
exchange was logged as sent but never reached the client (the socket was
shut down while TLS records were still queued beneath the filter).

Client: Python's ssl over memory BIOs on a raw socket, so that the
ClientHello goes out with the CONNECT in one write. Proxy: intercepts
localhost, the TLS test origin behind it (--upstream-ca).

Asserted, for the early order and the normal one: with a client that does
not read, the proxy's RSS (from /proc) grows by less than 64 MiB (not
under ASan, whose allocator makes RSS meaningless) and the origin gets
less than 64 MiB of its 256 MiB out; a Connection: close response arrives
whole and byte-identical.
"""

import hashlib
import os
import socket
import ssl
import time

import harness
from harness import SLOW, ProxyTestCase, pattern_sha256

MiB = 1 << 20
CEILING_KIB = 64 * 1024
WAIT_S = 4.0


class TLSClient:
    """TLS over a raw socket through CONNECT, with the ClientHello in the
    CONNECT's write (early=True) or after the 200 (early=False)."""

    def __init__(self, port, target, cafile, early, rcvbuf=None):
        ctx = ssl.create_default_context(cafile=cafile)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out,
                                server_hostname="localhost")
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                 rcvbuf)
        self.sock.settimeout(20 * SLOW)
        self.sock.connect(("127.0.0.1", port))
        connect = ("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" %
                   (target, target)).encode()
        hello = b""
        if early:
            self.step()
            hello = self.out.read()
            assert hello, "no ClientHello"
        self.sock.sendall(connect + hello)
        buf = b""
        while b"\r\n\r\n" not in buf:
            b = self.sock.recv(65536)
            if not b:
                raise EOFError("closed before the 200")
            buf += b
        head, rest = buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200"), head
        self.inc.write(rest)
        while not self.step():
            self.flush()
            self.feed()
        self.flush()

    def step(self):
        try:
            self.tls.do_handshake()
            return True
        except ssl.SSLWantReadError:
            return False

    def flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def feed(self):
        b = self.sock.recv(262144)
        if not b:
            raise EOFError("connection closed")
        self.inc.write(b)

    def send(self, data):
        self.tls.write(data)
        self.flush()

    def read_all(self):
        """Everything until the peer closes (TLS EOF or TCP EOF)."""
        out = []
        while True:
            try:
                d = self.tls.read(262144)
                if not d:
                    break
                out.append(d)
            except ssl.SSLWantReadError:
                try:
                    self.feed()
                except EOFError:
                    break
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
        return b"".join(out)

    def close(self):
        self.sock.close()


class EarlyTLSBounds(ProxyTestCase):

    origin_tls = True

    @classmethod
    def proxy_setup(cls):
        cls.certs = os.path.join(cls.tmp, "certs")
        return ({"connect_ports": [443]},
                ["--certs", cls.certs, "--intercept", "localhost",
                 "--upstream-ca", cls.ca.ca, "--resolve",
                 "localhost:443:127.0.0.1:%d" % cls.tls_origin.port])

    def client(self, early, rcvbuf=None):
        c = TLSClient(self.proxy.port, "localhost:443",
                      os.path.join(self.certs, "ca.pem"), early, rcvbuf)
        self.addCleanup(c.close)
        return c

    def test_unread_download_bounded(self):
        for early in (True, False):
            with self.subTest(early=early):
                c = self.client(early, rcvbuf=4096)
                before = self.proxy.rss_kib()
                sent0 = self.tls_origin.body_bytes_sent
                c.send(b"GET /bytes/%d HTTP/1.1\r\nHost: localhost\r\n\r\n"
                       % (256 * MiB))
                peak = before
                t0 = time.monotonic()
                while time.monotonic() - t0 < WAIT_S * SLOW:
                    peak = max(peak, self.proxy.rss_kib())
                    time.sleep(0.1)
                grown = peak - before
                sent = self.tls_origin.body_bytes_sent - sent0
                if harness.SANITIZE:
                    grown = 0   # ASan's allocator makes RSS meaningless
                self.assertLess(grown, CEILING_KIB, "early=%s: RSS grew by "
                                "%d KiB for a download nobody reads" %
                                (early, grown))
                # Socket buffers hold some MiB; the rest waits at the
                # origin.
                self.assertLess(sent, 64 * MiB, "early=%s: the origin "
                                "could send %d MiB to a client that reads "
                                "nothing" % (early, sent // MiB))
                c.close()

    def test_close_response_arrives(self):
        n = 3 * MiB + 7
        for early in (True, False):
            with self.subTest(early=early):
                c = self.client(early)
                c.send(b"GET /bytes/%d HTTP/1.1\r\nHost: localhost\r\n"
                       b"Connection: close\r\n\r\n" % n)
                data = c.read_all()
                head, _, body = data.partition(b"\r\n\r\n")
                self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:80])
                self.assertIn(b"connection: close", head.lower())
                self.assertEqual(len(body), n, "early=%s: %d of %d body "
                                 "bytes arrived" % (early, len(body), n))
                self.assertEqual(hashlib.sha256(body).hexdigest(),
                                 pattern_sha256(n))


if __name__ == "__main__":
    harness.main()
