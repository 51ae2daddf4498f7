#!/usr/bin/python3
"""Many clients at once: keep-alive connections doing mixed requests in
parallel (bodies of every framing both ways) each get exactly their own
responses; parallel CONNECT tunnels and WebSockets do not mix bytes; the
proxy ends with the fds it started with.

Client: threads with raw sockets. Proxy: connect_ports = [plain origin].
Origins: two plain instances."""

import base64
import hashlib
import os
import random
import threading
import time

import harness
from harness import Origin, ProxyTestCase, RawConn, http_request, \
    pattern_bytes, ws_encode, ws_read_frame

THREADS = 8 if harness.SANITIZE else 16
ROUNDS = 10 if harness.SANITIZE else 20


class Concurrency(ProxyTestCase):

    @classmethod
    def proxy_setup(cls):
        cls.other = Origin().start()
        return {"connect_ports": [cls.origin.port]}, []

    @classmethod
    def tearDownClass(cls):
        cls.other.stop()
        super().tearDownClass()

    def run_threads(self, fn, n=THREADS, timeout=90):
        errors = []

        def wrap(i):
            try:
                fn(i)
            except BaseException as e:  # reported below
                errors.append("thread %d: %r" % (i, e))
        ts = [threading.Thread(target=wrap, args=(i,), daemon=True)
              for i in range(n)]
        for t in ts:
            t.start()
        deadline = time.monotonic() + timeout * harness.SLOW
        for t in ts:
            t.join(max(0, deadline - time.monotonic()))
        self.assertFalse([t for t in ts if t.is_alive()],
                         "threads still running at the deadline")
        self.assertEqual(errors, [], "\n".join(errors[:10]) + "\n" +
                         self.proxy.tail())

    def test_parallel_keepalive_mixed(self):
        base = self.proxy.fd_count()

        def client(i):
            rnd = random.Random(i)
            with RawConn(self.proxy.port, timeout=30) as c:
                for k in range(ROUNDS):
                    o = self.origin if (i + k) % 2 else self.other
                    kind = rnd.randrange(4)
                    tag = "t%d-k%d" % (i, k)
                    if kind == 0:
                        n = rnd.randrange(0, 300000)
                        c.send(http_request("GET", o.url(
                            "/bytes/%d?%s" % (n, tag))))
                        r = c.read_response()
                        assert r.body == pattern_bytes(n), tag
                    elif kind == 1:
                        n = rnd.randrange(1, 200000)
                        c.send(http_request("GET", o.url(
                            "/bytes/%d?chunked=1&%s" % (n, tag))))
                        r = c.read_response()
                        assert r.body == pattern_bytes(n), tag
                    elif kind == 2:
                        body = os.urandom(rnd.randrange(0, 100000))
                        c.send(http_request("POST", o.url("/echo?" + tag),
                                            body=body))
                        e = c.read_response().json()
                        assert e["target"] == "/echo?" + tag, (tag, e)
                        assert e["body_sha256"] == \
                            hashlib.sha256(body).hexdigest(), tag
                    else:
                        body = os.urandom(rnd.randrange(1, 50000))
                        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body),
                                                               body)
                        c.send(http_request(
                            "PUT", o.url("/echo?" + tag),
                            [("Transfer-Encoding", "chunked")], chunked))
                        e = c.read_response().json()
                        assert e["target"] == "/echo?" + tag, (tag, e)
                        assert e["body_sha256"] == \
                            hashlib.sha256(body).hexdigest(), tag
        self.run_threads(client)
        self.assert_alive()
        # Pooled idle upstream connections may remain: at most one per
        # client thread and origin.
        ok = harness.wait_until(
            lambda: self.proxy.fd_count() <= base + 2 * THREADS,
            5 * harness.SLOW)
        self.assertTrue(ok, "fds: %d, before %d" % (self.proxy.fd_count(),
                                                    base))

    def test_parallel_tunnels(self):
        def client(i):
            with RawConn(self.proxy.port, timeout=30) as c:
                auth = "127.0.0.1:%d" % self.origin.port
                c.send("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" %
                       (auth, auth))
                r = c.read_response("CONNECT")
                assert r.status == 200, r
                for k in range(ROUNDS // 2):
                    n = 1000 * (i + 1) + k
                    c.send("GET /bytes/%d HTTP/1.1\r\nHost: %s\r\n\r\n" %
                           (n, auth))
                    r = c.read_response()
                    assert r.body == pattern_bytes(n), (i, k)
        self.run_threads(client)

    def test_parallel_websockets(self):
        def client(i):
            with RawConn(self.proxy.port, timeout=30) as c:
                key = base64.b64encode(os.urandom(16)).decode()
                c.send(http_request("GET", self.origin.url("/ws"), [
                    ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                    ("Sec-WebSocket-Key", key),
                    ("Sec-WebSocket-Version", "13")]))
                r = c.read_response()
                assert r.status == 101, r
                for k in range(ROUNDS):
                    msg = ("client %d message %d " % (i, k)).encode() * \
                        (k + 1)
                    c.send(ws_encode(0x1, msg, mask=os.urandom(4)))
                    _, op, data, _ = ws_read_frame(c.read_exact)
                    assert data == msg, (i, k)
        self.run_threads(client)


if __name__ == "__main__":
    harness.main()
