#!/usr/bin/python3
"""Keep-alive on both sides: many requests over one client connection use
one upstream connection (origin /conninfo names the TCP connection each
request arrived on), across every kind of framing; idle upstream
connections are pooled; closes are honoured; nothing leaks.

Client: raw sockets and requests.Session. Proxy: default flags."""

import time

import requests

import harness
from harness import ProxyTestCase, http_request, pattern_bytes


class KeepAlive(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = harness.Origin().start()

    @classmethod
    def tearDownClass(cls):
        cls.other.stop()
        super().tearDownClass()

    def test_pool_is_per_host_port(self):
        """Alternating origins on one client connection: each request
        reaches the origin it names, never a pooled connection to the
        other."""
        c = self.raw()
        for i in range(10):
            o = (self.origin, self.other)[i % 2]
            c.send(http_request("GET", o.url("/conninfo?alt=%d" % i)))
            self.assertEqual(c.read_response().status, 200)
        got_a = [r["target"] for r in self.origin.requests_for("/conninfo")
                 if "alt=" in r["target"]]
        got_b = [r["target"] for r in self.other.requests_for("/conninfo")
                 if "alt=" in r["target"]]
        self.assertEqual(got_a, ["/conninfo?alt=%d" % i
                                 for i in range(0, 10, 2)])
        self.assertEqual(got_b, ["/conninfo?alt=%d" % i
                                 for i in range(1, 10, 2)])
        # And each origin saw them on one connection.
        self.assertEqual(len({r["conn_id"] for r in
                              self.other.requests_for("/conninfo")}), 1)

    def conninfo(self, c, tag="x"):
        c.send(http_request("GET", self.origin.url("/conninfo?t=" + tag)))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_many_requests_one_upstream_connection(self):
        c = self.raw()
        infos = [self.conninfo(c, str(i)) for i in range(25)]
        ids = {i["conn_id"] for i in infos}
        self.assertEqual(len(ids), 1, "upstream connections used: %s" %
                         sorted(ids))
        nos = [i["request_no"] for i in infos]
        self.assertEqual(nos, list(range(nos[0], nos[0] + 25)),
                         "requests were not consecutive on that upstream "
                         "connection")

    def test_requests_session(self):
        s = requests.Session()
        s.trust_env = False
        s.proxies = {"http": self.proxy.url}
        self.addCleanup(s.close)
        before = self.origin.connection_count
        ids = set()
        for i in range(20):
            r = s.get(self.origin.url("/conninfo?s=%d" % i),
                      timeout=10 * harness.SLOW)
            self.assertEqual(r.status_code, 200)
            ids.add(r.json()["conn_id"])
        self.assertEqual(len(ids), 1, ids)
        self.assertLessEqual(self.origin.connection_count - before, 1)

    def test_every_framing_keeps_the_connection(self):
        """Length, chunked, HEAD, 204, 304, request bodies (length and
        chunked), and 100-continue, in sequence on one client connection:
        the same upstream connection serves them all."""
        c = self.raw()
        first = self.conninfo(c, "first")
        steps = [
            ("GET", "/bytes/1000", [], b"", 200, pattern_bytes(1000)),
            ("GET", "/bytes/70000?chunked=1", [], b"", 200,
             pattern_bytes(70000)),
            ("HEAD", "/bytes/5000", [], b"", 200, b""),
            ("GET", "/status/204", [], b"", 204, b""),
            ("GET", "/status/304", [], b"", 304, b""),
            ("POST", "/status/200", [], b"x" * 3000, 200, b"status 200\n"),
            ("POST", "/status/201",
             [("Transfer-Encoding", "chunked")],
             b"3\r\nabc\r\n0\r\n\r\n", 201, b"status 201\n"),
            ("HEAD", "/bytes/10?chunked=1", [], b"", 200, b""),
            ("GET", "/trailers", [], b"", 200, b"hello trailers\n"),
        ]
        for method, path, hdrs, body, status, want in steps:
            c.send(http_request(method, self.origin.url(path), hdrs, body))
            r = c.read_response(method)
            self.assertEqual(r.status, status, "%s %s: %r" %
                             (method, path, r))
            self.assertEqual(r.body, want, "%s %s" % (method, path))
        last = self.conninfo(c, "last")
        self.assertEqual(last["conn_id"], first["conn_id"],
                         "a framing in between lost the upstream "
                         "connection")
        self.assertEqual(last["request_no"],
                         first["request_no"] + len(steps) + 1)

    def test_pool_across_client_connections(self):
        c1 = self.raw()
        a = self.conninfo(c1, "pool-a")
        c1.close()
        time.sleep(0.3)
        c2 = self.raw()
        b = self.conninfo(c2, "pool-b")
        self.assertEqual(a["conn_id"], b["conn_id"],
                         "idle upstream connection was not pooled/reused")
        self.assertEqual(b["request_no"], a["request_no"] + 1)

    def test_parallel_clients_use_separate_upstreams(self):
        c1, c2 = self.raw(), self.raw()
        # Hold c1's upstream busy with a request the origin answers only
        # when the test says so; c2 must not be queued behind it on the
        # same upstream connection: it gets its answer meanwhile.
        hold = "parallel-%d" % time.monotonic_ns()
        self.addCleanup(self.origin.release, hold)
        c1.send(http_request("GET", self.origin.url("/slow?__hold=" + hold)))
        self.assertTrue(harness.wait_until(
            lambda: [r for r in self.origin.requests_for("/slow")
                     if hold in r["target"]], 10 * harness.SLOW),
            "the held request did not reach the origin")
        try:
            b = self.conninfo(c2, "parallel")
        except OSError as e:
            self.fail("second client waited for the first: %r" % e)
        self.origin.release(hold)
        r = c1.read_response()
        self.assertEqual(r.status, 200, r)
        a = self.conninfo(c1, "parallel-a")
        self.assertNotEqual(a["conn_id"], b["conn_id"])

    def test_client_connection_close(self):
        c = self.raw()
        c.send(http_request("GET", self.origin.url("/echo?close=1"),
                            [("Connection", "close")]))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertTrue(c.is_closed(), "proxy kept the client connection "
                        "open after Connection: close")

    def test_upstream_close_delimited_keeps_client_http11(self):
        """A close-delimited upstream response can reach an HTTP/1.1 client
        chunked (keeping the client connection) or close-delimited (then
        the proxy closes). Either way the body is exact and, if the
        connection stays, the next request works."""
        c = self.raw()
        c.send(http_request("GET", self.origin.url("/bytes/5000?close=1")))
        r = c.read_response()
        self.assertEqual(r.body, pattern_bytes(5000))
        if r.header("content-length") is None and not r.chunked:
            return  # close-delimited: read_response already saw EOF
        closed = self.origin.requests_for("/bytes/5000")[-1]["conn_id"]
        info = self.conninfo(c, "after-close-delimited")
        self.assertNotEqual(info["conn_id"], closed)

    def test_origin_closes_idle_pooled_connection(self):
        """The origin closes a keep-alive connection while it idles in the
        pool: the next request must still succeed."""
        c = self.raw()
        c.send(http_request("GET", self.origin.url("/idleclose?after=0.1")))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        closed = self.origin.requests_for("/idleclose")[-1]["conn_id"]
        time.sleep(0.6)
        info = self.conninfo(c, "after-idleclose")
        self.assertNotEqual(info["conn_id"], closed)

    def test_no_fd_leak_over_many_connections(self):
        c = self.raw()
        self.conninfo(c, "warm")
        c.close()
        time.sleep(0.3)
        base = self.proxy.fd_count()
        for i in range(60):
            with harness.RawConn(self.proxy.port) as k:
                k.send(http_request("GET",
                                    self.origin.url("/echo?fd=%d" % i)))
                self.assertEqual(k.read_response().status, 200)
        n = harness.wait_until(
            lambda: self.proxy.fd_count() <= base + 2, 5 * harness.SLOW)
        self.assertTrue(n, "proxy fds: %d before, %d after 60 closed "
                        "connections: %s" % (base, self.proxy.fd_count(),
                                             self.proxy.fds()))


if __name__ == "__main__":
    harness.main()
