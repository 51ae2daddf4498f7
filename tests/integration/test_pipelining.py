#!/usr/bin/python3
"""Pipelining: several requests in one write are answered in order, with
exact bodies, whatever their framing, however the bytes are split, and even
when an earlier request is slower than a later one to another origin.

Client: raw sockets. Proxy: default flags. Origins: two instances."""

import time

import harness
from harness import Origin, ProxyTestCase, http_request, pattern_bytes


class Pipelining(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = Origin().start()

    @classmethod
    def tearDownClass(cls):
        cls.other.stop()
        super().tearDownClass()

    def test_three_gets_one_write(self):
        c = self.raw()
        c.send(b"".join(http_request("GET", self.origin.url("/echo?n=%d" % i))
                        for i in (1, 2, 3)))
        for i in (1, 2, 3):
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["target"], "/echo?n=%d" % i)

    def test_mixed_framings_in_one_write(self):
        body = pattern_bytes(5000)
        reqs = [
            ("GET", "/bytes/100000", [], b""),
            ("HEAD", "/bytes/5", [], b""),
            ("POST", "/echo?p=post", [], body),
            ("GET", "/status/204", [], b""),
            ("POST", "/echo?p=chunked", [("Transfer-Encoding", "chunked")],
             b"4\r\nabcd\r\n0\r\n\r\n"),
            ("GET", "/bytes/30000?chunked=1", [], b""),
            ("GET", "/status/304", [], b""),
            ("GET", "/echo?p=last", [], b""),
        ]
        c = self.raw()
        c.send(b"".join(http_request(m, self.origin.url(p), h, b)
                        for m, p, h, b in reqs))
        out = [c.read_response(m) for m, _, _, _ in reqs]
        self.assertEqual([r.status for r in out],
                         [200, 200, 200, 204, 200, 200, 304, 200])
        self.assertEqual(out[0].body, pattern_bytes(100000))
        self.assertEqual(out[1].header("content-length"), "5")
        self.assertEqual(out[1].body, b"")
        self.assertEqual(out[2].json()["target"], "/echo?p=post")
        self.assertEqual(out[2].json()["body_length"], 5000)
        self.assertEqual(out[4].json()["target"], "/echo?p=chunked")
        self.assertEqual(out[4].json()["body_length"], 4)
        self.assertEqual(out[5].body, pattern_bytes(30000))
        self.assertEqual(out[7].json()["target"], "/echo?p=last")

    def test_order_kept_when_first_is_slower(self):
        c = self.raw()
        c.send(http_request("GET", self.origin.url("/slow?delay=1")) +
               http_request("GET", self.other.url("/echo?fast=1")) +
               http_request("GET", self.origin.url("/echo?third=1")))
        r1 = c.read_response()
        self.assertEqual(r1.status, 200, r1)
        self.assertTrue(r1.body.startswith(b"slow response done"), r1)
        r2 = c.read_response()
        self.assertEqual(r2.json()["target"], "/echo?fast=1")
        r3 = c.read_response()
        self.assertEqual(r3.json()["target"], "/echo?third=1")

    def test_fragmented_pipeline(self):
        data = b"".join(http_request("GET", self.origin.url("/echo?f=%d" % i),
                                     [("X-Pad", "p" * i * 10)])
                        for i in range(4))
        c = self.raw()
        # Bytes arrive in odd pieces, splitting lines and CRLFs.
        for i in range(0, len(data), 7):
            c.send(data[i:i + 7])
            if i % 70 == 0:
                time.sleep(0.005)
        for i in range(4):
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["target"], "/echo?f=%d" % i)

    def test_close_in_pipeline_drops_the_rest(self):
        c = self.raw()
        tag = "/echo?dropped=%d" % time.monotonic_ns()
        c.send(http_request("GET", self.origin.url("/echo?c=1")) +
               http_request("GET", self.origin.url("/echo?c=2"),
                            [("Connection", "close")]) +
               http_request("GET", self.origin.url(tag)))
        self.assertEqual(c.read_response().json()["target"], "/echo?c=1")
        self.assertEqual(c.read_response().json()["target"], "/echo?c=2")
        self.assertTrue(c.is_closed(), "connection stayed open after a "
                        "request with Connection: close")
        self.assertEqual([r for r in self.origin.requests
                          if r["target"] == tag], [],
                         "request after Connection: close reached the "
                         "origin")

    def test_many_pipelined(self):
        n = 50
        c = self.raw()
        c.send(b"".join(http_request("GET", self.origin.url("/echo?m=%d" % i))
                        for i in range(n)))
        for i in range(n):
            r = c.read_response()
            self.assertEqual(r.json()["target"], "/echo?m=%d" % i)


if __name__ == "__main__":
    harness.main()
