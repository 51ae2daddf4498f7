#!/usr/bin/python3
"""The proxy's own pages are bounded under pipelining (issue 14, item 3).

One allowed client pipelining GET /ca.pem (2000 per write) and never
reading used to take the proxy to 3.5 GB in 15 s: local pages were
answered with no output bound.

Client: a raw socket that writes pipelined requests for 4 seconds (each
write bounded by a short timeout, so that a proxy that stops reading
only slows it down) and reads nothing. Asserted: the proxy's RSS (from
/proc) grows by less than 64 MiB (not under ASan, whose allocator makes
RSS meaningless); the client, once it reads, gets its
answers in order (the first ones complete and well-formed); the proxy
still serves others.
"""

import socket
import time

import harness
from harness import ProxyTestCase, SLOW

FLOOD_S = 4.0
CEILING_KIB = 64 * 1024


class PageBounds(ProxyTestCase):

    def test_pipelined_pages_not_read(self):
        p = self.proxy
        req = ("GET /ca.pem HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" %
               p.port).encode()
        batch = req * 2000
        before = p.rss_kib()
        c = self.raw()
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.sock.settimeout(0.2)
        sent = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < FLOOD_S:
            try:
                sent += c.sock.send(batch)
            except socket.timeout:
                pass
        grown = p.rss_kib() - before
        if harness.SANITIZE:
            grown = 0   # ASan's allocator makes RSS meaningless
        self.assertLess(grown, CEILING_KIB, "RSS grew by %d KiB after %d "
                        "bytes of pipelined requests" % (grown, sent))
        c.sock.settimeout(10 * SLOW)
        for _ in range(3):
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertIn(b"BEGIN CERTIFICATE", r.body)
        other = self.raw()
        other.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" %
                   p.port)
        self.assertEqual(other.read_response().status, 200)
        c.close()
        self.assert_alive()


if __name__ == "__main__":
    harness.main()
