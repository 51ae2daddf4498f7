#!/usr/bin/python3
"""The smaller holes of issue 14 (item 7), one regression each.

Clients: raw sockets. Origins: the harness origin, and a raw one in this
file for what no well-behaved server sends (a reason phrase with an
escape sequence, a token response that stalls while held).

Asserted: request targets with TAB, form feed or 8-bit bytes, and
Transfer-Encoding "identity, chunked", chunked twice, or on an HTTP/1.0
request get 400 and never reach the origin; two CRLFs before a request
line are ignored; a reason phrase with control bytes reaches the client
as the standard one; the proxy's own pages answer only to its own
address or a loopback name (not to a rebound DNS name); a held token
response that stalls past timeouts.idle still gives the client its head
and the bytes that came, and an oauth-uninspected line.
"""

import time

import harness
from harness import ProxyTestCase, SLOW, http_request


class RawOrigin(harness.RawServer):
    """Answers each request by path: /escape (a reason phrase with an
    escape sequence), anything with access_token (a JSON head and half
    the body, then silence)."""

    def serve(self, conn):
        conn.settimeout(30)
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                b = conn.recv(65536)
                if not b:
                    return
                buf += b
            path = buf.split(b" ")[1]
            if path.startswith(b"/escape"):
                conn.sendall(b"HTTP/1.1 200 O\x1b]0;pwned\x07K\x1b[2J\r\n"
                             b"Content-Length: 2\r\n\r\nok")
            else:
                body = b'{"error":"bad_verification_code"}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: "
                             b"application/json\r\nContent-Length: %d\r\n"
                             b"\r\n" % len(body) + body[:10])
                time.sleep(20)
        except OSError:
            pass
        finally:
            conn.close()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)


class SmallHardening(ProxyTestCase):

    proxy_config = {"token_endpoints": ["127.0.0.1"],
                    "timeouts": {"idle": 2}}

    def refused(self, data, what):
        before = len(self.origin.requests)
        c = self.raw()
        c.send(data)
        r = c.read_response()
        self.assertEqual(r.status, 400, "%s: %r" % (what, r))
        time.sleep(0.2 * SLOW)
        self.assertEqual(len(self.origin.requests), before,
                         "%s reached the origin" % what)

    def test_target_bytes(self):
        base = "http://127.0.0.1:%d/echo" % self.origin.port
        for what, tail in (("TAB", b"/a\tb"), ("form feed", b"/a\x0cb"),
                           ("8-bit", b"/caf\xc3\xa9")):
            with self.subTest(what):
                self.refused(b"GET " + base.encode() + tail +
                             b" HTTP/1.1\r\nHost: x\r\n\r\n", what)

    def test_transfer_encoding_shapes(self):
        url = self.origin.url("/echo")
        for what, version, te in (
                ("identity, chunked", "HTTP/1.1", "identity, chunked"),
                ("chunked twice", "HTTP/1.1", "chunked, chunked"),
                ("TE on HTTP/1.0", "HTTP/1.0", "chunked")):
            with self.subTest(what):
                self.refused(http_request("POST", url, [
                    ("Transfer-Encoding", te)], body=b"1\r\na\r\n0\r\n\r\n",
                    version=version), what)

    def test_empty_lines_before_request(self):
        c = self.raw()
        c.send(b"\r\n\r\n" + http_request("GET", self.origin.url("/echo")))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)

    def test_reason_phrase_escape(self):
        o = RawOrigin()
        self.addCleanup(o.sock.close)
        c = self.raw()
        c.send(http_request("GET", o.url("/escape")))
        r = c.read_response()
        self.assertEqual((r.status, r.reason), (200, "OK"), r)
        self.assertNotIn(b"\x1b", r.raw_head)

    def test_pages_answer_only_to_self(self):
        p = self.proxy
        for host, want in (("127.0.0.1:%d" % p.port, 200),
                           ("localhost:%d" % p.port, 200),
                           ("LOCALHOST:%d" % p.port, 200),
                           ("rebound.example:%d" % p.port, 403),
                           ("127.0.0.1.nip.io:%d" % p.port, 403),
                           ("127.0.0.1:%d" % (p.port + 1), 403)):
            for page in ("/", "/metrics"):
                with self.subTest(host=host, page=page):
                    c = self.raw()
                    c.send("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" %
                           (page, host))
                    r = c.read_response()
                    self.assertEqual(r.status, want, r)
                    if want == 403:
                        self.assertNotIn(b"oauthlens_", r.body)

    def test_held_token_response_stalls(self):
        o = RawOrigin()
        self.addCleanup(o.sock.close)
        m = len(self.proxy.log_records())
        c = self.raw(timeout=20)
        c.send(http_request("POST", o.url("/login/oauth/access_token"),
                            [("Content-Type",
                              "application/x-www-form-urlencoded")],
                            body=b"client_id=x&code=y"))
        t0 = time.monotonic()
        status, headers, _ = c.read_head()
        self.assertTrue(status.startswith("HTTP/1.1 200"), status)
        got = c.read_until_close()
        self.assertEqual(got, b'{"error":"', "the bytes that came")
        self.assertLess(time.monotonic() - t0, 15 * SLOW)
        harness.wait_until(lambda: any(
            r.get("event") == "oauth-uninspected"
            for r in self.proxy.log_records()[m:]), 5 * SLOW)
        rec = [r for r in self.proxy.log_records()[m:]
               if r.get("event") == "oauth-uninspected"]
        self.assertTrue(rec, self.proxy.tail())
        self.assertIn("timeouts.idle", rec[0]["reason"])


if __name__ == "__main__":
    harness.main()
