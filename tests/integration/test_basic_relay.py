#!/usr/bin/python3
"""Basic relaying: methods, bodies (length, chunked, 100-continue), HEAD,
204/304, HTTP/1.0 clients, absolute-form to origin-form, --resolve.

Client: curl, requests and raw sockets. Proxy: default flags. Origin:
tests/servers/origin.py (/echo reports what arrived)."""

import hashlib
import os
import threading
import time
import unittest

import requests

import harness
from harness import ProxyTestCase, http_request, pattern_bytes, \
    pattern_sha256


def sha(b):
    return hashlib.sha256(b).hexdigest()


class BasicRelay(ProxyTestCase):

    def session(self):
        s = requests.Session()
        s.trust_env = False
        s.proxies = {"http": self.proxy.url, "https": self.proxy.url}
        self.addCleanup(s.close)
        return s

    def upload_file(self, n):
        p = os.path.join(self.tmp, "upload-%d.bin" % n)
        if not os.path.exists(p):
            with open(p, "wb") as f:
                f.write(pattern_bytes(n))
        return p

    # -- GET -------------------------------------------------------------
    def test_get_curl(self):
        r = self.curl("/echo?x=1&y=%20z")
        self.assert_ok_curl(r)
        e = r.json()
        self.assertEqual(e["method"], "GET")
        self.assertEqual(e["target"], "/echo?x=1&y=%20z",
                         "origin must get origin-form, query unchanged")
        self.assertEqual(e["version"], "HTTP/1.1")
        self.assertIn(["Host", "127.0.0.1:%d" % self.origin.port],
                      e["headers"])
        self.assertEqual(e["body_length"], 0)

    def test_get_requests(self):
        r = self.session().get(self.origin.url("/echo?via=requests"),
                               timeout=10 * harness.SLOW)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json()["target"], "/echo?via=requests")

    def test_target_bytes_preserved(self):
        target = "/echo/a%2Fb;p=1?q=%7E~!$'()*,;=:@&empty=&x=%ZZ"
        c = self.raw()
        c.send(http_request("GET", self.origin.url(target)))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["target"], target)

    def test_absolute_uri_without_path(self):
        c = self.raw()
        base = "http://127.0.0.1:%d" % self.origin.port
        for uri, want in ((base, "/"), (base + "?q=1", "/?q=1")):
            c.send("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" %
                   (uri, self.origin.port))
            r = c.read_response()
            self.assertEqual(r.status, 200, "%s: %r" % (uri, r))
            rec = self.origin.requests[-1]
            self.assertEqual(rec["target"], want, uri)

    def test_scheme_and_host_case_insensitive(self):
        c = self.raw()
        c.send("GET HTTP://LOCALHOST:%d/echo?case=1 HTTP/1.1\r\n"
               "Host: LOCALHOST:%d\r\n\r\n" % ((self.origin.port,) * 2))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["target"], "/echo?case=1")

    def test_long_target_and_many_headers(self):
        target = "/echo?long=" + "x" * 8000
        hdrs = [("X-H%03d" % i, "value %d" % i) for i in range(100)]
        c = self.raw()
        c.send(http_request("GET", self.origin.url(target), hdrs))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        e = r.json()
        self.assertEqual(e["target"], target)
        got = [tuple(h) for h in e["headers"] if h[0].startswith("X-H")]
        self.assertEqual(got, hdrs)

    def test_transfer_encoding_token_case(self):
        c = self.raw()
        c.send(http_request("POST", self.origin.url("/echo?te-case=1"),
                            [("Transfer-Encoding", "Chunked")],
                            b"3\r\nabc\r\n0\r\n\r\n"))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["body_sha256"], sha(b"abc"))

    def test_http10_post_with_length(self):
        body = pattern_bytes(5000)
        c = self.raw()
        c.send(("POST %s HTTP/1.0\r\nContent-Length: %d\r\n\r\n" %
                (self.origin.url("/echo?p10=1"), len(body))).encode() + body)
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["body_sha256"], sha(body))

    def test_host_replaced_by_absolute_uri_authority(self):
        # RFC 9112 3.2.2: the proxy routes by the request-target and must
        # send a Host that matches it, not the client's Host.
        c = self.raw()
        c.send(http_request("GET", self.origin.url("/echo?h=1"),
                            headers=[("Host", "wrong.example")]))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        hosts = [v for n, v in r.json()["headers"] if n.lower() == "host"]
        self.assertEqual(hosts, ["127.0.0.1:%d" % self.origin.port])

    # -- bodies ----------------------------------------------------------
    def test_post_body_curl(self):
        n = 300001
        r = self.curl("/echo", ["--data-binary", "@" + self.upload_file(n),
                                "-H", "Content-Type: application/x-test"])
        self.assert_ok_curl(r)
        e = r.json()
        self.assertEqual(e["method"], "POST")
        self.assertEqual(e["body_length"], n)
        self.assertEqual(e["body_sha256"], pattern_sha256(n))
        self.assertIn(["Content-Length", str(n)], e["headers"])

    def test_post_requests(self):
        body = pattern_bytes(70000)
        r = self.session().post(self.origin.url("/echo"), data=body,
                                timeout=10 * harness.SLOW)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json()["body_sha256"], sha(body))

    def test_other_methods_with_body(self):
        s = self.session()
        for m in ("PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"):
            body = ("body of %s" % m).encode()
            r = s.request(m, self.origin.url("/echo?m=" + m), data=body,
                          timeout=10 * harness.SLOW)
            self.assertEqual(r.status_code, 200, m)
            e = r.json()
            self.assertEqual(e["method"], m)
            self.assertEqual(e["body_sha256"], sha(body), m)

    def test_chunked_upload_curl(self):
        n = 500000
        r = self.curl("/echo", ["-H", "Transfer-Encoding: chunked",
                                "--data-binary", "@" + self.upload_file(n)])
        self.assert_ok_curl(r)
        e = r.json()
        self.assertEqual(e["body_length"], n)
        self.assertEqual(e["body_sha256"], pattern_sha256(n))

    def test_chunked_upload_requests_generator(self):
        parts = [pattern_bytes(n)[-min(n, 999):] for n in
                 (1, 100, 4096, 65536, 65537, 3)]

        def gen():
            for p in parts:
                yield p
        r = self.session().post(self.origin.url("/echo?gen=1"), data=gen(),
                                timeout=10 * harness.SLOW)
        self.assertEqual(r.status_code, 200)
        e = r.json()
        self.assertEqual(e["body_sha256"], sha(b"".join(parts)))

    def test_chunked_extensions_and_trailers(self):
        body = (b"5;name=value\r\nhello\r\n"
                b"1;a;b=\"q\"\r\n \r\n"
                b"6\r\nworld!\r\n"
                b"0;last=1\r\nX-Trailer: t1\r\nX-Other-Trailer: t2\r\n\r\n")
        c = self.raw()
        c.send(http_request("POST", self.origin.url("/echo?trailers=1"),
                            headers=[("Transfer-Encoding", "chunked"),
                                     ("Trailer", "X-Trailer")],
                            body=body))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        e = r.json()
        self.assertEqual(e["body_length"], 12)
        self.assertEqual(e["body_sha256"], sha(b"hello world!"))
        self.assertTrue(e["chunked"], "a chunked request should stay "
                        "chunked upstream (trailers are kept)")
        self.assertIn(["X-Trailer", "t1"], e["trailers"])
        self.assertIn(["X-Other-Trailer", "t2"], e["trailers"])
        # The connection is still usable: framing ended where it should.
        c.send(http_request("GET", self.origin.url("/echo?after=1")))
        r2 = c.read_response()
        self.assertEqual(r2.json()["target"], "/echo?after=1")

    def test_response_trailers_kept(self):
        c = self.raw()
        c.send(http_request("GET", self.origin.url("/trailers")))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.chunked)
        self.assertEqual(r.body, b"hello trailers\n")
        self.assertIn(("X-Checksum", "c0ffee"), r.trailers)

    def test_expect_100_continue(self):
        n = 200000
        t0 = time.monotonic()
        r = self.curl("/echo", ["-H", "Expect: 100-continue",
                                "--expect100-timeout", "20",
                                "--data-binary", "@" + self.upload_file(n)])
        dt = time.monotonic() - t0
        self.assert_ok_curl(r)
        self.assertEqual(r.json()["body_sha256"], pattern_sha256(n))
        self.assertIn(100, [b[1] for b in r.blocks],
                      "client never got 100 Continue")
        self.assertLess(dt, 10 * harness.SLOW)

    def test_expect_rejected_by_origin(self):
        """The origin answers 417 without reading the body. The client has
        sent no body: either the proxy closes (and says so), or it keeps
        the connection and then the client's body must be skipped."""
        n = 200000
        c = self.raw()
        c.send(http_request("POST", self.origin.url("/expect-reject"),
                            [("Expect", "100-continue"),
                             ("Content-Length", str(n))]))
        r = c.read_response()
        self.assertEqual(r.status, 417, r)
        self.assertEqual(r.body, b"expectation refused\n")
        if "close" in r.tokens("connection"):
            self.assertTrue(c.is_closed(), "said close, stayed open")
            return
        try:
            c.send(pattern_bytes(n))
            c.send(http_request("GET", self.origin.url("/echo?after-417=1")))
            r2 = c.read_response()
        except (EOFError, ConnectionResetError) as e:
            self.fail("proxy kept the connection without Connection: close,"
                      " then dropped it (%r); curl fails like this" % e)
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r2.json()["target"], "/echo?after-417=1")

    # -- bodiless responses ------------------------------------------------
    def test_head(self):
        c = self.raw()
        c.send(http_request("HEAD", self.origin.url("/bytes/12345")))
        r = c.read_response("HEAD")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Length"), "12345")
        # No body may follow: the next response on this connection must
        # start right away with a status line.
        c.send(http_request("GET", self.origin.url("/echo?after-head=1")))
        r2 = c.read_response()
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r2.json()["target"], "/echo?after-head=1")

    def test_head_curl(self):
        r = self.curl("/bytes/777", ["-I"])
        self.assert_ok_curl(r)
        self.assertEqual(r.header("content-length"), "777")

    def test_204_and_304(self):
        c = self.raw()
        c.send(http_request("GET", self.origin.url("/status/204")))
        r = c.read_response()
        self.assertEqual(r.status, 204, r)
        self.assertIsNone(r.header("transfer-encoding"))
        c.send(http_request("GET", self.origin.url("/status/304"),
                            headers=[("If-None-Match", '"v1"')]))
        r = c.read_response()
        self.assertEqual(r.status, 304, r)
        self.assertEqual(r.header("ETag"), '"v1"')
        self.assertIsNone(r.header("transfer-encoding"))
        c.send(http_request("GET", self.origin.url("/echo?after-304=1")))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["target"], "/echo?after-304=1")

    def test_204_304_curl(self):
        for code in (204, 304):
            r = self.curl("/status/%d" % code)
            self.assert_ok_curl(r, code)
            self.assertEqual(r.body, b"")

    def test_304_and_204_with_content_length(self):
        c = self.raw()
        for code in (304, 204):
            c.send(http_request("GET",
                                self.origin.url("/status/%d?cl=1234" % code)))
            r = c.read_response()
            self.assertEqual(r.status, code, r)
        c.send(http_request("GET", self.origin.url("/echo?after-cl=1")))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["target"], "/echo?after-cl=1",
                         "the proxy waited for a body after 304/204 "
                         "with Content-Length")

    def test_early_hints_then_final(self):
        c = self.raw()
        c.send(http_request("GET", self.origin.url("/early-hints")))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"after hints\n")
        for i in r.interim:
            self.assertEqual(i.status, 103)
        c.send(http_request("GET", self.origin.url("/echo?after-103=1")))
        self.assertEqual(c.read_response().json()["target"],
                         "/echo?after-103=1")

    def test_status_line_without_reason(self):
        c = self.raw()
        c.send(http_request("GET", self.origin.url("/noreason")))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"ok\n")

    def test_early_final_response_during_upload(self):
        """The origin answers 413 and closes before reading a 16 MiB body;
        the client, still sending, must get the 413."""
        n = 16 << 20
        c = self.raw(timeout=20)
        c.send(http_request("POST", self.origin.url("/early-413"),
                            [("Content-Length", str(n))]))
        done = []

        def sender():
            try:
                for b in harness.pattern(n):
                    c.sock.sendall(b)
            except OSError as e:
                done.append(e)
        t = threading.Thread(target=sender, daemon=True)
        t.start()
        try:
            r = c.read_response()
        except (EOFError, ConnectionResetError) as e:
            self.fail("no 413 reached the client: %r" % e)
        self.assertEqual(r.status, 413, r)
        self.assertEqual(r.body, b"too large")
        c.close()
        t.join(10)
        self.assert_alive()

    def test_error_statuses_pass_through(self):
        for code in (400, 401, 404, 500, 503):
            r = self.curl("/status/%d" % code)
            self.assertEqual(r.status, code, r)
            self.assertEqual(r.body, b"status %d\n" % code)
            self.assertEqual(r.header("X-Origin-Status"), str(code))

    # -- HTTP/1.0 ------------------------------------------------------------
    def test_http10_curl(self):
        r = self.curl("/bytes/1000", ["-0"])
        self.assert_ok_curl(r)
        self.assertEqual(r.body, pattern_bytes(1000))

    def test_http10_raw_closes(self):
        c = self.raw()
        c.send("GET %s HTTP/1.0\r\n\r\n" % self.origin.url("/echo?v10=1"))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        e = r.json()
        self.assertEqual(e["target"], "/echo?v10=1")
        hosts = [v for n, v in e["headers"] if n.lower() == "host"]
        self.assertEqual(hosts, ["127.0.0.1:%d" % self.origin.port],
                         "the proxy must send Host upstream")
        self.assertTrue(c.is_closed(), "HTTP/1.0 without keep-alive: the "
                        "proxy must close after the response")

    def test_http10_client_gets_no_chunked(self):
        n = 100000
        c = self.raw()
        c.send("GET %s HTTP/1.0\r\n\r\n" %
               self.origin.url("/bytes/%d?chunked=1" % n))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("chunked", r.tokens("transfer-encoding"),
                         "chunked sent to an HTTP/1.0 client")
        self.assertEqual(len(r.body), n)
        self.assertEqual(sha(r.body), pattern_sha256(n))

    def test_http10_keepalive(self):
        c = self.raw()
        for i in range(3):
            c.send("GET %s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" %
                   self.origin.url("/echo?k=%d" % i))
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["target"], "/echo?k=%d" % i)
            if "keep-alive" not in r.tokens("connection"):
                # The proxy chose to close: legal, but then it must.
                self.assertTrue(c.is_closed())
                break


class IPv6(ProxyTestCase):
    """An IPv6 origin, and a proxy also listening on [::1]."""

    @classmethod
    def proxy_setup(cls):
        cls.origin6 = harness.Origin(host="::1").start()
        cls.port6 = harness.free_port("::1")
        return {}, ["-l", "[::1]:%d" % cls.port6]

    @classmethod
    def tearDownClass(cls):
        cls.origin6.stop()
        super().tearDownClass()

    def test_ipv6_origin(self):
        r = self.curl(self.origin6.url("/echo?v6=1"))
        self.assert_ok_curl(r)
        e = r.json()
        self.assertEqual(e["target"], "/echo?v6=1")
        hosts = [v for n, v in e["headers"] if n.lower() == "host"]
        self.assertEqual(hosts, ["[::1]:%d" % self.origin6.port])

    def test_ipv6_listener(self):
        r = self.curl("/echo?via-v6-listener=1",
                      proxy="http://[::1]:%d" % self.port6)
        self.assert_ok_curl(r)
        self.assertEqual(r.json()["target"], "/echo?via-v6-listener=1")


class Resolve(ProxyTestCase):
    """--resolve on the command line and resolve in the config file: the
    option's leading + adds its entry to the file's list."""

    @classmethod
    def proxy_setup(cls):
        return ({"resolve": ["cfg.example.test:8081:127.0.0.1:%d" %
                             cls.origin.port]},
                ["--resolve", "+example.test:80:127.0.0.1:%d" %
                 cls.origin.port])

    def test_resolve_flag(self):
        r = self.curl("http://example.test/echo?r=1")
        self.assert_ok_curl(r)
        e = r.json()
        self.assertEqual(e["target"], "/echo?r=1")
        hosts = [v for n, v in e["headers"] if n.lower() == "host"]
        self.assertEqual(hosts, ["example.test"])

    def test_resolve_config(self):
        r = self.curl("http://cfg.example.test:8081/echo?r=2")
        self.assert_ok_curl(r)
        hosts = [v for n, v in r.json()["headers"] if n.lower() == "host"]
        self.assertEqual(hosts, ["cfg.example.test:8081"])

    def test_resolve_is_per_port(self):
        # example.test:8080 is not overridden: it must not reach the origin
        # (and .test does not resolve), so 502.
        before = len(self.origin.requests_for("/echo"))
        r = self.curl("http://example.test:8080/echo?r=3", timeout=40)
        self.assertEqual(r.status, 502, r)
        self.assertEqual(len(self.origin.requests_for("/echo")), before)


if __name__ == "__main__":
    harness.main()
