#!/usr/bin/python3
"""Interim responses are bounded (issue 14, item 2).

An origin that streams 103 Early Hints heads to a client that does not
read used to take the proxy from 10 MB to 5 GB in 18 s: each 1xx was
written to the client with no high-water check and no count limit.

Origin: a raw socket server in this file; after the request head it
sends 103 heads (8 KiB of fields each) for up to 4 seconds, until the
proxy closes the connection. Clients: raw sockets.

Asserted: with a client that never reads, the proxy's RSS (from /proc)
grows by less than 64 MiB over the flood, and the proxy closes the
origin's connection well before the 4 seconds (the one check that
means something under ASan, whose allocator makes RSS meaningless); a client that reads gets
at most 32 interim responses and then a 502 that says why; the proxy
serves the next request.
"""

import socket
import threading
import time

import harness
from harness import ProxyTestCase, SLOW, http_request

FLOOD_S = 4.0
CEILING_KIB = 64 * 1024
HEAD = (b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n" +
        b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 1000) for i in range(8)) +
        b"\r\n")


class InterimFlood:
    """Accepts one connection, reads a request head, sends HEAD until
    FLOOD_S pass or the peer closes."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.sent = 0
        self.closed_by_peer = False
        self.elapsed = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.sock.settimeout(30)
        conn, _ = self.sock.accept()
        conn.settimeout(FLOOD_S * SLOW + 5)
        buf = b""
        while b"\r\n\r\n" not in buf:
            b = conn.recv(65536)
            if not b:
                return
            buf += b
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < FLOOD_S:
                conn.sendall(HEAD)
                self.sent += 1
        except OSError:
            self.closed_by_peer = True
        self.elapsed = time.monotonic() - t0
        conn.close()
        self.sock.close()

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)


class InterimBounds(ProxyTestCase):

    def test_client_not_reading(self):
        o = InterimFlood()
        before = self.proxy.rss_kib()
        c = self.raw()
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.send(http_request("GET", o.url("/hints")))
        o.thread.join(FLOOD_S * SLOW + 10)
        self.assertFalse(o.thread.is_alive())
        grown = self.proxy.rss_kib() - before
        if harness.SANITIZE:
            grown = 0   # ASan's allocator makes RSS meaningless
        self.assertLess(grown, CEILING_KIB, "RSS grew by %d KiB while the "
                        "origin sent %d interim heads" % (grown, o.sent))
        self.assertTrue(o.closed_by_peer, "the proxy let the origin send "
                        "%d interim heads for %.1f s" % (o.sent, o.elapsed))
        self.assert_alive()

    def test_client_reading(self):
        o = InterimFlood()
        c = self.raw()
        c.send(http_request("GET", o.url("/hints")))
        r = c.read_response()
        self.assertLessEqual(len(r.interim), 32)
        self.assertEqual(r.status, 502, r)
        self.assert_reason(r.body, "interim")
        o.thread.join(FLOOD_S * SLOW + 10)
        self.assertTrue(o.closed_by_peer)
        c2 = self.raw()
        c2.send(http_request("GET", self.origin.url("/echo")))
        self.assertEqual(c2.read_response().status, 200)


if __name__ == "__main__":
    harness.main()
