#!/usr/bin/python3
"""Optional proxy_auth (Basic): without or with wrong credentials a client
gets 407 with Proxy-Authenticate and nothing reaches the origin; with the
right ones the request passes and the credentials are not forwarded or
logged.

Client: curl (--proxy-user) and raw sockets. Origin: /echo."""

import base64

import harness
from harness import ProxyTestCase, RawConn


SECRET = "s3cr3t-proxy-pass"


class ProxyAuth(ProxyTestCase):
    start_proxy = False

    def setUp(self):
        super().setUp()
        self.p = self.new_proxy({"proxy_auth": "dev:" + SECRET})

    def test_missing_credentials_407(self):
        before = self.origin.request_count
        r = self.curl("/echo?auth=none", proxy=self.p)
        self.assertEqual(r.status, 407, r)
        self.assertIn("Basic", r.header("Proxy-Authenticate") or "")
        self.assertEqual(self.origin.request_count, before)

    def test_wrong_credentials_407(self):
        before = self.origin.request_count
        r = self.curl("/echo?auth=wrong", proxy=self.p,
                      args=["--proxy-user", "dev:nope"])
        self.assertEqual(r.status, 407, r)
        # Same length as the real one: the comparison must still fail.
        r = self.curl("/echo?auth=wrong2", proxy=self.p,
                      args=["--proxy-user", "dev:" + "x" * len(SECRET)])
        self.assertEqual(r.status, 407, r)
        self.assertEqual(self.origin.request_count, before)

    def test_right_credentials_pass_and_are_not_forwarded(self):
        r = self.curl("/echo?auth=ok", proxy=self.p,
                      args=["--proxy-user", "dev:" + SECRET])
        self.assertEqual(r.status, 200, r)
        names = [h[0].lower() for h in r.json()["headers"]]
        self.assertNotIn("proxy-authorization", names)
        # CONNECT needs them too.
        with RawConn(self.p.port) as c:
            c.send("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n" %
                   self.origin.port)
            self.assertEqual(c.read_response("CONNECT").status, 407)
        cred = base64.b64encode(("dev:" + SECRET).encode()).decode()
        self.p.stop()
        text = self.p.stderr_text()
        self.assertNotIn(SECRET, text)
        self.assertNotIn(cred, text)


if __name__ == "__main__":
    harness.main()
