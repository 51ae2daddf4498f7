#!/usr/bin/python3
"""A pooled connection the origin closed is not used for the next request.

Since a lost non-idempotent request is no longer sent again (RFC 9110
9.2.2), a POST that lands on a pooled connection whose FIN the event loop
has not processed yet would get a 502. The pool checks the socket before
handing a connection out, so that window is closed.

Origin: a raw socket server in this process; it answers the first request
on its first connection with keep-alive, then closes that connection when
told, and answers requests on later connections with "fresh".
Proxy: stopped (SIGSTOP) while the client sends a body-less POST and then
the origin closes the pooled connection, then continued, so the client's
request and the origin's FIN are ready in the same loop pass, the request
first.
Asserted, five times over: the POST gets the fresh connection's 200,
reaches the origin once, and nothing answers 502.
"""

import os
import signal
import threading
import time

import harness
from harness import ProxyTestCase, SLOW, http_request


class RawOrigin(harness.RawServer):
    """First connection: one keep-alive answer, then closed on demand.
    Later connections: every request answered "fresh" (and counted)."""

    def __init__(self):
        self.close_first = threading.Event()
        self.posts = 0
        self.lock = threading.Lock()
        self.first = True
        super().__init__()

    @staticmethod
    def read_head(conn):
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(4096)
            if not chunk:
                return None
            buf += chunk
        return buf

    def serve(self, conn):
        with self.lock:
            first, self.first = self.first, False
        with conn:
            if first:
                if self.read_head(conn) is None:
                    return
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                             b"\r\npool!")
                self.close_first.wait(30)
                return
            while True:
                head = self.read_head(conn)
                if head is None:
                    return
                if head.startswith(b"POST"):
                    with self.lock:
                        self.posts += 1
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                             b"\r\nfresh")


class PoolLiveness(ProxyTestCase):

    def round(self, n):
        origin = RawOrigin()
        try:
            base = "http://127.0.0.1:%d" % origin.port
            c = self.raw()
            c.send(http_request("GET", base + "/warm"))
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            time.sleep(0.1 * SLOW)	# pooled by now
            pid = self.proxy.pid
            os.kill(pid, signal.SIGSTOP)
            try:
                # The request first, then the FIN: epoll reports the
                # client's socket first, before the pool sees its EOF.
                c.send(http_request("POST", base +
                                    "/login/oauth/access_token?code=x%d" %
                                    n))
                time.sleep(0.1)
                origin.close_first.set()
                time.sleep(0.2)
            finally:
                os.kill(pid, signal.SIGCONT)
            r = c.read_response()
            self.assertEqual(r.status, 200, "round %d: %r" % (n, r))
            self.assertEqual(r.body, b"fresh")
            harness.wait_until(lambda: origin.posts >= 1, 5 * SLOW)
            time.sleep(0.2 * SLOW)
            self.assertEqual(origin.posts, 1, "round %d" % n)
        finally:
            origin.close()

    def test_closed_pooled_connection_is_skipped(self):
        for n in range(5):
            self.round(n)
        self.assertFalse([r for r in self.proxy.log_records()
                          if r.get("status") == 502])


if __name__ == "__main__":
    harness.main()
