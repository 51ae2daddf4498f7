#!/usr/bin/python3
"""CONNECT: a blind byte tunnel to the local TLS origin. The client
verifies the origin's own certificate (signed by the test CA) through the
proxy; ports outside connect_ports get 403 without any connection
attempt; upstream failures get 502.

Client: curl --cacert, requests (verify=testca.pem), raw sockets with the
ssl module. Proxy: connect_ports = [TLS origin, plain origin, a closed
port]. Origins: TLS and plain."""

import hashlib
import os
import socket
import ssl
import time

import requests

import harness
from harness import ProxyTestCase, pattern_sha256


class Connect(ProxyTestCase):
    origin_tls = True

    @classmethod
    def proxy_setup(cls):
        cls.refused_port = harness.closed_port()
        return ({"connect_ports": [cls.tls_origin.port, cls.origin.port,
                                   cls.refused_port]}, [])

    def connect(self, authority, c=None):
        c = c or self.raw()
        c.send("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" %
               (authority, authority))
        return c, c.read_response("CONNECT")

    def tls_url(self, path):
        return self.tls_origin.url(path)

    def test_curl_verifies_origin_certificate(self):
        r = self.curl(self.tls_url("/echo?tls=1"),
                      ["--cacert", self.ca.ca])
        self.assertEqual(r.rc, 0, "%r\n%s" % (r, self.proxy.tail()))
        self.assertEqual(r.blocks[0][1], 200, r.blocks)
        self.assertEqual(r.status, 200)
        e = r.json()
        self.assertTrue(e["tls"])
        self.assertEqual(e["target"], "/echo?tls=1")

    def test_connect_status_line(self):
        c, r = self.connect("127.0.0.1:%d" % self.tls_origin.port)
        self.assertEqual(r.raw_head.split(b"\r\n")[0],
                         b"HTTP/1.1 200 Connection established")

    def test_client_sees_origin_certificate(self):
        c, r = self.connect("127.0.0.1:%d" % self.tls_origin.port)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(c.buf, b"", "bytes after the 200 head")
        ctx = ssl.create_default_context(cafile=self.ca.ca)
        with ctx.wrap_socket(c.sock, server_hostname="127.0.0.1") as t:
            self.assertEqual(t.getpeercert(binary_form=True),
                             self.ca.cert_der(),
                             "the tunnel did not present the origin's "
                             "certificate")
            t.sendall(b"GET /conninfo HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Connection: close\r\n\r\n")
            data = b""
            deadline = time.monotonic() + 10 * harness.SLOW
            while time.monotonic() < deadline:
                try:
                    b = t.recv(65536)
                except (ssl.SSLError, OSError):
                    break
                if not b:
                    break
                data += b
            self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:200])

    def test_tunnel_keepalive_with_requests(self):
        s = requests.Session()
        s.trust_env = False
        s.verify = self.ca.ca
        s.proxies = {"https": self.proxy.url}
        self.addCleanup(s.close)
        ids = set()
        for i in range(10):
            r = s.get(self.tls_url("/conninfo?i=%d" % i),
                      timeout=10 * harness.SLOW)
            self.assertEqual(r.status_code, 200)
            ids.add(r.json()["conn_id"])
        self.assertEqual(len(ids), 1, "one tunnel expected, got %s" % ids)

    def test_tunnel_large_download_and_upload(self):
        n = (4 if harness.SANITIZE else 16) << 20
        out = os.path.join(self.tmp, "tunnel.bin")
        r = self.curl(self.tls_url("/bytes/%d" % n),
                      ["--cacert", self.ca.ca], output=out, timeout=60)
        self.assertEqual(r.rc, 0, r)
        h = hashlib.sha256()
        with open(out, "rb") as f:
            h.update(f.read())
        self.assertEqual(h.hexdigest(), pattern_sha256(n))
        r = self.curl(self.tls_url("/echo"),
                      ["--cacert", self.ca.ca, "--data-binary", "@" + out],
                      timeout=60)
        os.unlink(out)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.json()["body_sha256"], pattern_sha256(n))

    def test_bytes_sent_with_connect_head_are_forwarded(self):
        """A client may send its first tunnel bytes in the same write as
        the CONNECT head; they must reach the origin after the connect."""
        c = self.raw()
        auth = "127.0.0.1:%d" % self.origin.port
        c.send("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n"
               "GET /echo?early=1 HTTP/1.1\r\nHost: %s\r\n\r\n" %
               (auth, auth, auth))
        r = c.read_response("CONNECT")
        self.assertEqual(r.status, 200, r)
        r2 = c.read_response()
        self.assertEqual(r2.status, 200, r2)
        e = r2.json()
        self.assertEqual(e["target"], "/echo?early=1",
                         "tunnelled request was rewritten")
        self.assertNotIn("Via", [n for n, _ in e["headers"]],
                         "tunnelled bytes were treated as HTTP")

    def test_origin_close_closes_tunnel(self):
        c, r = self.connect("127.0.0.1:%d" % self.origin.port)
        self.assertEqual(r.status, 200, r)
        c.send("GET /hangup HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(c.is_closed(5), "tunnel stayed open after the "
                        "origin closed")

    def test_client_close_closes_upstream(self):
        before = self.origin.connection_count
        c, r = self.connect("127.0.0.1:%d" % self.origin.port)
        self.assertEqual(r.status, 200, r)
        c.send("GET /conninfo HTTP/1.1\r\nHost: x\r\n\r\n")
        info = c.read_response().json()
        self.assertEqual(self.origin.connection_count, before + 1)
        c.close()
        # The origin's thread for that connection ends when it sees EOF.
        gone = harness.wait_until(
            lambda: not self.origin.is_conn_open(info["conn_id"]),
            5 * harness.SLOW)
        self.assertTrue(gone, "upstream side of the tunnel not closed")

    def test_denied_port_403(self):
        # A listener of our own on a port not in connect_ports: the proxy
        # must refuse without connecting to it.
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(4)
        ls.setblocking(False)
        self.addCleanup(ls.close)
        port = ls.getsockname()[1]
        c, r = self.connect("127.0.0.1:%d" % port)
        self.assertEqual(r.status, 403, r)
        time.sleep(0.2)
        with self.assertRaises(BlockingIOError,
                               msg="proxy connected to a denied port"):
            ls.accept()

    def test_denied_port_curl(self):
        r = self.curl("https://127.0.0.1:443/", ["--cacert", self.ca.ca])
        self.assertNotEqual(r.rc, 0)
        self.assertEqual(r.blocks[0][1] if r.blocks else None, 403, r)

    def test_connect_refused_502(self):
        c, r = self.connect("127.0.0.1:%d" % self.refused_port)
        self.assertEqual(r.status, 502, r)
        self.assert_reason(r.body, "refused", "127.0.0.1")

    def test_connect_dns_failure_502(self):
        c, r = self.connect("nonexistent.invalid:%d" % self.tls_origin.port)
        self.assertEqual(r.status, 502, r)
        self.assert_reason(r.body, "nonexistent.invalid")

    def test_connect_bad_authority_400(self):
        for auth in ("127.0.0.1", "127.0.0.1:notaport", ":443",
                     "127.0.0.1:99999"):
            c, r = self.connect(auth)
            self.assertIn(r.status, (400, 403), "%s: %r" % (auth, r))
            self.assert_alive()


if __name__ == "__main__":
    harness.main()
