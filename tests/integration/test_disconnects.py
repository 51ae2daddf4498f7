#!/usr/bin/python3
"""Clients that go away: mid-download, mid-upload (FIN or RST), while the
origin is still thinking, inside a tunnel. The proxy must close the
upstream side (an upstream connection with an unfinished message is never
pooled), stay up, and return to its baseline of open fds.

Client: raw sockets. Proxy: default flags. Origin: /bytes, /echo, /slow,
/conninfo (origin.is_conn_open tells whether the proxy closed upstream)."""

import base64
import os
import socket
import struct
import time

import harness
from harness import ProxyTestCase, RawConn, http_request

MiB = 1 << 20


def rst_close(c):
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                      struct.pack("ii", 1, 0))
    c.close()


class Disconnects(ProxyTestCase):

    def setUp(self):
        super().setUp()
        # Baseline with one pooled upstream connection at most.
        with RawConn(self.proxy.port) as c:
            c.send(http_request("GET", self.origin.url("/echo?warm=1")))
            c.read_response()
        time.sleep(0.2)
        self.base_fds = self.proxy.fd_count()

    def assert_fds_back(self):
        ok = harness.wait_until(
            lambda: self.proxy.fd_count() <= self.base_fds + 1,
            5 * harness.SLOW)
        self.assertTrue(ok, "proxy fds %d, baseline %d: %s" % (
            self.proxy.fd_count(), self.base_fds, self.proxy.fds()))

    def last_conn_id(self, path):
        recs = self.origin.requests_for(path)
        self.assertTrue(recs, "request never reached the origin")
        return recs[-1]["conn_id"]

    def assert_upstream_closed(self, cid):
        ok = harness.wait_until(lambda: not self.origin.is_conn_open(cid),
                                5 * harness.SLOW)
        self.assertTrue(ok, "upstream connection %d still open after the "
                        "client left mid-message" % cid)

    def abort_download(self, close):
        n = 64 * MiB
        tag = "/bytes/%d" % n
        c = RawConn(self.proxy.port)
        c.send(http_request("GET", self.origin.url(tag + "?abort=1")))
        c.read_head()
        c.read_exact(65536)
        close(c)
        cid = self.last_conn_id(tag)
        self.assert_upstream_closed(cid)
        # The next request must not be served on that connection's
        # leftovers.
        with RawConn(self.proxy.port) as k:
            k.send(http_request("GET", self.origin.url("/conninfo?n=1")))
            r = k.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertNotEqual(r.json()["conn_id"], cid)
        self.assert_alive()
        self.assert_fds_back()

    def test_client_closes_mid_download(self):
        self.abort_download(lambda c: c.close())

    def test_client_resets_mid_download(self):
        self.abort_download(rst_close)

    def test_client_closes_mid_upload(self):
        c = RawConn(self.proxy.port)
        c.send(http_request("POST", self.origin.url("/echo?upabort=1"),
                            [("Content-Length", str(10 * MiB))]))
        c.send(harness.pattern_bytes(MiB))
        def arrived():
            return [r for r in self.origin.requests_for("/echo")
                    if "upabort" in r["target"]]
        recs = harness.wait_until(arrived, 5 * harness.SLOW)
        self.assertTrue(recs, "upload never reached the origin")
        cid = recs[-1]["conn_id"]
        # Let some body flow before the client vanishes.
        time.sleep(0.2)
        rst_close(c)
        self.assert_upstream_closed(cid)
        self.assert_alive()
        self.assert_fds_back()

    def test_client_leaves_while_origin_thinks(self):
        c = RawConn(self.proxy.port)
        c.send(http_request("GET", self.origin.url("/slow?delay=1.5")))
        time.sleep(0.3)
        c.close()
        time.sleep(1.6)
        self.assert_alive()
        self.assert_fds_back()
        with RawConn(self.proxy.port) as k:
            k.send(http_request("GET", self.origin.url("/echo?after=1")))
            self.assertEqual(k.read_response().status, 200)

    def test_tunnel_client_resets(self):
        # connect_ports default is [443]: use an Upgrade tunnel instead.
        c = RawConn(self.proxy.port)
        key = base64.b64encode(os.urandom(16)).decode()
        c.send(http_request("GET", self.origin.url("/ws"),
                            [("Upgrade", "websocket"),
                             ("Connection", "Upgrade"),
                             ("Sec-WebSocket-Key", key),
                             ("Sec-WebSocket-Version", "13")]))
        r = c.read_response()
        self.assertEqual(r.status, 101, r)
        cid = self.last_conn_id("/ws")
        c.send(harness.ws_encode(0x2, b"x" * 1000, mask=b"abcd",
                                 fin=False))
        rst_close(c)
        self.assert_upstream_closed(cid)
        self.assert_alive()
        self.assert_fds_back()

    def test_many_aborts_no_leak(self):
        for i in range(20):
            c = RawConn(self.proxy.port)
            c.send(http_request("GET", self.origin.url(
                "/bytes/%d?many=%d" % (4 * MiB, i))))
            try:
                c.read_head()
            except (EOFError, OSError):
                pass
            (rst_close if i % 2 else RawConn.close)(c)
        self.assert_alive()
        self.assert_fds_back()


if __name__ == "__main__":
    harness.main()
