#!/usr/bin/python3
"""Logging: one JSON access record per request with the documented fields,
error responses logged too, and no secret ever in the log at debug level
(Authorization, Cookie, Set-Cookie, Proxy-Authorization, OAuth secrets in
query strings and bodies), on success and on error paths, in JSON and in
text format.

Client: curl and raw sockets. Proxy: --log-level debug, JSON (and text in
one test). Origin: /echo, /bytes, /setcookie."""

import base64
import json

import harness
from harness import ProxyTestCase, RawConn, http_request

ACCESS_FIELDS = ("ts", "level", "event", "req", "client", "method", "host",
                 "status", "bytes_in", "bytes_out", "ms")


class AccessLog(ProxyTestCase):

    def test_every_line_is_json(self):
        self.curl("/echo?json=1")
        bad = [line for line in self.proxy.stderr_text().splitlines()
               if line.strip() and not line.lstrip().startswith("{")]
        self.assertEqual(bad, [], "non-JSON lines on stderr")
        for rec in self.proxy.log_records():
            for k in ("ts", "level", "event"):
                self.assertIn(k, rec, rec)

    def test_access_record_fields(self):
        r = self.curl("/bytes/5000")
        self.assert_ok_curl(r)
        rec = self.proxy.wait_access(
            lambda a: a.get("status") == 200 and a.get("method") == "GET"
            and a.get("bytes_out", 0) >= 5000)
        self.assertIsNotNone(rec, "no access record for a 5000-byte GET "
                             "(bytes_out = bytes sent to the client)\n" +
                             self.proxy.tail())
        for k in ACCESS_FIELDS:
            self.assertIn(k, rec, "access record lacks %s: %r" % (k, rec))
        self.assertIn("127.0.0.1", rec["host"])
        self.assertTrue(str(rec["client"]).startswith("127.0.0.1"), rec)
        self.assertIsInstance(rec["ms"], (int, float))
        self.assertGreaterEqual(rec["ms"], 0)

    def test_access_record_upload_bytes_in(self):
        r = self.curl("/echo?up=1", ["--data-binary", "@-"],
                      stdin=b"u" * 10000)
        self.assert_ok_curl(r)
        rec = self.proxy.wait_access(
            lambda a: a.get("method") == "POST" and
            a.get("bytes_in", 0) >= 10000)
        self.assertIsNotNone(rec, "no access record with bytes_in >= 10000 "
                             "for a 10000-byte upload\n" + self.proxy.tail())

    def test_one_record_per_request(self):
        def n_access():
            return len(self.proxy.access_records())
        harness.wait_until(lambda: False, 0.3)
        before = n_access()
        c = self.raw()
        for i in range(5):
            c.send(http_request("GET", self.origin.url("/echo?one=%d" % i)))
            self.assertEqual(c.read_response().status, 200)
        c.close()
        harness.wait_until(lambda: n_access() >= before + 5,
                           3 * harness.SLOW)
        harness.wait_until(lambda: False, 0.3)
        self.assertEqual(n_access() - before, 5)

    def test_error_responses_logged(self):
        port = harness.closed_port()
        r = self.curl("http://127.0.0.1:%d/x" % port)
        self.assertEqual(r.status, 502, r)
        rec = self.proxy.wait_access(
            lambda a: a.get("status") == 502 and
            str(a.get("host")).endswith(":%d" % port))
        self.assertIsNotNone(rec, "no access record for a 502\n" +
                             self.proxy.tail())
        self.assertIn(str(port), str(rec.get("host")), rec)
        self.assertEqual(rec.get("host"), "127.0.0.1:%d" % port, rec)

    def test_access_record_host_ipv6(self):
        """An IPv6 authority is logged in brackets, with its port (the
        502 of a closed port, or of no IPv6 at all: either way a record)."""
        port = harness.closed_port()
        r = self.curl("http://[::1]:%d/x" % port, ["-g"])
        self.assertEqual(r.status, 502, r)
        rec = self.proxy.wait_access(
            lambda a: a.get("status") == 502 and "::1" in str(a.get("host")))
        self.assertIsNotNone(rec, "no access record for the [::1] 502\n" +
                             self.proxy.tail())
        self.assertEqual(rec.get("host"), "[::1]:%d" % port, rec)


SECRETS = {
    "authorization": "SECRETAUTH1",
    "cookie": "SECRETCOOKIE2",
    "proxy-user-password": "SECRETPROXYPW3",
    "query code": "SECRETCODE",
    "query client_secret": "SECRET2",
    "body secret": "SECRETBODY6",
    "set-cookie": "SETCOOKIESECRET",
    "proxy-authorization bearer": "SECRETPROXYTOKEN5",
    "error-path query": "SECRETERR9",
    "malformed-request query": "SECRETMAL10",
    "connect proxy password": "SECRETCONNECT11",
}


class Secrets(ProxyTestCase):

    def drive(self, proxy):
        """Send every secret through proxy, on good and bad paths."""
        url = self.origin.url("/echo?code=SECRETCODE&client_secret=SECRET2"
                              "&state=ok")
        r = harness.curl(url, proxy, [
            "-H", "Authorization: Bearer SECRETAUTH1",
            "-H", "Cookie: session=SECRETCOOKIE2",
            "-U", "user:SECRETPROXYPW3", "--proxy-basic",
            "--data", "client_secret=SECRETBODY6&code=SECRETBODY6"],
            tmpdir=self.tmp)
        self.assertEqual(r.status, 200, r)
        e = r.json()
        # They did reach the origin (the proxy is not hiding them there;
        # only Proxy-Authorization is consumed).
        self.assertIn("code=SECRETCODE", e["target"])
        self.assertIn(["Authorization", "Bearer SECRETAUTH1"], e["headers"])
        r = harness.curl(self.origin.url("/setcookie"), proxy,
                         tmpdir=self.tmp)
        self.assertEqual(r.status, 200, r)
        self.assertIn("SETCOOKIESECRET", r.header("set-cookie") or "")
        with RawConn(proxy.port) as c:
            c.send(http_request("GET", self.origin.url("/echo?x=1"),
                                [("Proxy-Authorization",
                                  "Bearer SECRETPROXYTOKEN5")]))
            self.assertEqual(c.read_response().status, 200)
        r = harness.curl("http://nonexistent.invalid/cb?code=SECRETERR9",
                         proxy, ["-H", "Authorization: Basic SECRETAUTH1"],
                         tmpdir=self.tmp, timeout=40)
        self.assertEqual(r.status, 502, r)
        self.assertNotIn("SECRETERR9", r.text, "secret in the error body")
        with RawConn(proxy.port) as c:
            c.send(b"GET %s HTTP/1.1\r\nCookie: SECRETCOOKIE2\r\n"
                   b"Bad Header\r\n\r\n" %
                   self.origin.url("/cb?code=SECRETMAL10").encode())
            self.assertEqual(c.read_response().status, 400)
        cred = base64.b64encode(b"user:SECRETCONNECT11").decode()
        with RawConn(proxy.port) as c:
            c.send("CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n"
                   "Proxy-Authorization: Basic %s\r\n\r\n" % cred)
            c.read_response("CONNECT")

    def check_log(self, proxy):
        text = proxy.stderr_text()
        self.assertTrue(text.strip(), "empty log")
        leaks = []
        for what, s in SECRETS.items():
            if s in text:
                leaks.append(what)
            b64 = base64.b64encode(("user:" + s).encode()).decode()
            if b64 in text:
                leaks.append(what + " (base64)")
        lines = [line for line in text.splitlines()
                 if any(s in line for s in SECRETS.values())]
        self.assertEqual(leaks, [], "secrets in the debug log:\n%s" %
                         "\n".join(lines[:20]))

    def test_no_secrets_in_json_debug_log(self):
        self.drive(self.proxy)
        self.check_log(self.proxy)

    def test_no_secrets_in_text_debug_log(self):
        p = self.new_proxy(log_format="text")
        self.drive(p)
        text = p.stderr_text()
        self.assertFalse(text.lstrip().startswith("{"),
                         "--log-format text printed JSON")
        self.check_log(p)

    def test_oauth_tokens_in_query_not_logged(self):
        url = self.origin.url("/cb?access_token=SECRETAT12"
                              "&refresh_token=SECRETRT13&password=SECRETPW14")
        r = self.curl(url)
        self.assertEqual(r.status, 404, r)
        self.proxy.wait_access(lambda a: a.get("status") == 404)
        text = self.proxy.stderr_text()
        for s in ("SECRETAT12", "SECRETRT13", "SECRETPW14"):
            self.assertNotIn(s, text)

    def test_log_is_valid_utf8_json_with_odd_input(self):
        with RawConn(self.proxy.port) as c:
            c.send(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   b"User-Agent: \xff\xfe\"quote\\\r\n\r\n" %
                   (self.origin.url("/echo?ua=%22%00\xff").encode("latin-1"),
                    self.origin.port))
            try:
                c.read_response()
            except (EOFError, OSError):
                pass
        self.curl("/echo?after-odd=1")
        with open(self.proxy.log_path, "rb") as f:
            raw = f.read()
        raw.decode("utf-8")  # raises if the log is not UTF-8
        for line in raw.decode().splitlines():
            if line.lstrip().startswith("{"):
                json.loads(line)


if __name__ == "__main__":
    harness.main()
