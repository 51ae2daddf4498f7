#!/usr/bin/python3
"""WebSocket through the proxy: an absolute-form GET with Upgrade gets the
origin's 101 (Upgrade and Connection kept on a 101), then the connection is
a byte tunnel: text, binary (large), fragmented messages, ping/pong and
close all pass. A refused upgrade leaves the connection in HTTP.

Client: raw socket with hand-made RFC 6455 frames. Proxy: default flags.
Origin: /ws echo."""

import base64
import hashlib
import os
import struct

import harness
from harness import ProxyTestCase, WS_GUID, http_request, pattern_bytes, \
    ws_encode, ws_read_frame


def ws_headers(key):
    return [("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13"),
            ("Origin", "http://127.0.0.1")]


class WebSocket(ProxyTestCase):

    def handshake(self, path="/ws"):
        key = base64.b64encode(os.urandom(16)).decode()
        c = self.raw(timeout=20)
        c.send(http_request("GET", self.origin.url(path), ws_headers(key)))
        r = c.read_response()
        self.assertEqual(r.status, 101, "%r\n%s" % (r, self.proxy.tail()))
        self.assertIn("websocket", r.tokens("upgrade"),
                      "Upgrade header dropped from the 101")
        self.assertIn("upgrade", r.tokens("connection"),
                      "Connection: upgrade dropped from the 101")
        want = base64.b64encode(hashlib.sha1(
            (key + WS_GUID).encode()).digest()).decode()
        self.assertEqual(r.header("Sec-WebSocket-Accept"), want)
        return c

    def roundtrip(self, c, opcode, payload):
        c.send(ws_encode(opcode, payload, mask=os.urandom(4)))
        fin, op, data, masked = ws_read_frame(c.read_exact)
        self.assertTrue(fin)
        self.assertFalse(masked, "server frames are never masked")
        return op, data

    def test_upgrade_request_reaches_origin(self):
        c = self.handshake()
        hs = self.origin.requests_for("/ws")[-1]["headers"]
        names = [n.lower() for n, _ in hs]
        self.assertIn("upgrade", names)
        self.assertIn("sec-websocket-key", names)
        c.close()

    def test_text_and_binary_echo(self):
        c = self.handshake()
        self.assertEqual(self.roundtrip(c, 0x1, "héllo wörld".encode()),
                         (0x1, "héllo wörld".encode()))
        self.assertEqual(self.roundtrip(c, 0x2, b"\x00\xff" * 50),
                         (0x2, b"\x00\xff" * 50))
        big = pattern_bytes(70000)
        self.assertEqual(self.roundtrip(c, 0x2, big), (0x2, big))
        self.assertEqual(self.roundtrip(c, 0x1, b""), (0x1, b""))

    def test_large_message(self):
        n = (1 if harness.SANITIZE else 4) << 20
        c = self.handshake()
        big = pattern_bytes(n)
        op, data = self.roundtrip(c, 0x2, big)
        self.assertEqual(op, 0x2)
        self.assertEqual(len(data), n)
        self.assertEqual(data, big)

    def test_fragmented_message_and_ping(self):
        c = self.handshake()
        c.send(ws_encode(0x1, b"frag-1 ", mask=os.urandom(4), fin=False) +
               ws_encode(0x9, b"ping!", mask=os.urandom(4)) +
               ws_encode(0x0, b"frag-2 ", mask=os.urandom(4), fin=False) +
               ws_encode(0x0, b"frag-3", mask=os.urandom(4), fin=True))
        fin, op, data, _ = ws_read_frame(c.read_exact)
        self.assertEqual((op, data), (0xA, b"ping!"))
        fin, op, data, _ = ws_read_frame(c.read_exact)
        self.assertEqual((op, data), (0x1, b"frag-1 frag-2 frag-3"))

    def test_many_messages_in_one_write(self):
        c = self.handshake()
        msgs = [("m%d" % i).encode() * (i + 1) for i in range(100)]
        c.send(b"".join(ws_encode(0x1, m, mask=os.urandom(4))
                        for m in msgs))
        for m in msgs:
            fin, op, data, _ = ws_read_frame(c.read_exact)
            self.assertEqual(data, m)

    def test_close_handshake_then_closed(self):
        c = self.handshake()
        c.send(ws_encode(0x8, struct.pack("!H", 1000) + b"bye",
                         mask=os.urandom(4)))
        fin, op, data, _ = ws_read_frame(c.read_exact)
        self.assertEqual(op, 0x8)
        self.assertEqual(data, struct.pack("!H", 1000))
        self.assertTrue(c.is_closed(5), "tunnel not closed after the "
                        "origin closed")

    def test_refused_upgrade_stays_http(self):
        # No Sec-WebSocket-Key: the origin answers 426 and stays HTTP; the
        # proxy must not have switched to a tunnel.
        c = self.raw()
        c.send(http_request("GET", self.origin.url("/ws?bad=1"),
                            [("Upgrade", "websocket"),
                             ("Connection", "Upgrade")]))
        r = c.read_response()
        self.assertEqual(r.status, 426, r)
        c.send(http_request("GET", self.origin.url("/echo?after-426=1")))
        r2 = c.read_response()
        self.assertEqual(r2.status, 200, r2)
        e = r2.json()
        self.assertEqual(e["target"], "/echo?after-426=1")
        self.assertTrue(any(n.lower() == "via" for n, _ in e["headers"]),
                        "second request was tunnelled, not proxied")


if __name__ == "__main__":
    harness.main()
