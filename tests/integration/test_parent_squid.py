#!/usr/bin/python3
"""Through a real Squid (Debian's) as the upstream proxy, with Basic
credentials checked by basic_ncsa_auth: the intercepted token exchange
with curl (annotation and log record as without a parent), a blind
CONNECT tunnel to the TLS origin (the client sees the origin's own
certificate), plain HTTP in absolute form, a WebSocket upgrade, and that
Squid's access log saw each of them while the password appears in no log
of oauthlens and on no page.

The origins listen on loopback, which always goes direct, so the test
names them origin.test and fake GitHub github.com, with --resolve
entries that oauthlens turns into the authority it asks Squid for."""

import base64
import hashlib
import os
import ssl
import unittest

import harness
import oauth_helpers as oh
import parent_helpers as ph

USER = "dev"
PASSWORD = "pa55%word:with@odd"    # percent-encoded in the URL
PASSWORD_URL = "pa55%25word%3Awith%40odd"


@unittest.skipIf(ph.squid_missing() and not os.environ.get("CI"),
                 ph.squid_missing())
class ThroughSquid(oh.OAuthTestCase):
    # Squid logs a tunnel when it ends: idle pooled connections must
    # close soon for the access log to show them.
    proxy_config = {"timeouts": {"idle": 1}}

    @classmethod
    def extra_proxy_args(cls):
        cls.squid = ph.Squid(cls.tmp, users={USER: PASSWORD}).start()
        # A TLS origin that is not intercepted: origin.test:443.
        cls.tls_leaf = cls.gca.leaf("origin.test")
        cls.tls_fake = oh.FakeGitHub(tls=cls.tls_leaf,
                                     registry=cls.registry).start()
        cls._fakes.append(cls.tls_fake)
        return ["--upstream-proxy", "http://%s:%s@127.0.0.1:%d" %
                (USER, PASSWORD_URL, cls.squid.port),
                "--resolve", "origin.test:%d:127.0.0.1:%d" %
                (cls.origin.port, cls.origin.port),
                "--resolve", "origin.test:443:127.0.0.1:%d" %
                cls.tls_fake.port]

    @classmethod
    def _teardown_origins(cls):
        if getattr(cls, "squid", None):
            cls.squid.stop()
        super()._teardown_origins()

    def test_intercepted_token_exchange_annotated(self):
        code = self.fresh_code()
        m = self.mark()
        r = self.curl_token(self.params(code, secret="0" * 40))
        self.assertEqual((r.rc, r.status), (0, 200), "%r\n%s\n%s" % (
            r, self.proxy.tail(), self.squid.tail()))
        rec = self.one_record_since(m["gh"])
        self.assert_annotated(r.headers, r.body, rec,
                              "incorrect_client_credentials", mark=m)
        line = self.squid.wait_access("CONNECT 127.0.0.1:%d" %
                                      self.gh.port)
        self.assertIsNotNone(line, self.squid.access_lines())
        self.assertIn(USER, line)

    def origin_test_url(self, path):
        return "http://origin.test:%d%s" % (self.origin.port, path)

    def test_plain_http_absolute_form(self):
        r = self.curl(self.origin_test_url("/echo?via=squid"))
        self.assertEqual((r.rc, r.status), (0, 200), "%r\n%s\n%s" % (
            r, self.proxy.tail(), self.squid.tail()))
        e = r.json()
        self.assertEqual(e["target"], "/echo?via=squid")
        hdrs = dict((n.lower(), v) for n, v in e["headers"])
        self.assertIn("oauthlens", hdrs.get("via", ""))
        self.assertIn("squid", hdrs.get("via", ""))
        self.assertNotIn("proxy-authorization", hdrs)
        line = self.squid.wait_access(
            "GET http://127.0.0.1:%d/echo?via=squid" % self.origin.port)
        self.assertIsNotNone(line, self.squid.access_lines())
        self.assertIn(" %s " % USER, line)

    def test_plain_http_pooled_per_parent(self):
        for i in range(3):
            r = self.curl(self.origin_test_url("/echo?n=%d" % i))
            self.assertEqual((r.rc, r.status), (0, 200), r)
        recs = self.proxy.access_records()
        self.assertTrue(any(rec.get("reused") for rec in recs
                            if "/echo?n=" in rec.get("target", "")), recs)

    def test_blind_tunnel_shows_origin_certificate(self):
        c = self.raw(timeout=20)
        c.send("CONNECT origin.test:443 HTTP/1.1\r\n"
               "Host: origin.test:443\r\n\r\n")
        r = c.read_response("CONNECT")
        self.assertEqual(r.status, 200, "%r\n%s" % (r, self.proxy.tail()))
        ctx = ssl.create_default_context(cafile=self.gca.ca)
        c.sock = ctx.wrap_socket(c.sock, server_hostname="origin.test")
        with open(self.tls_leaf[0]) as f:
            self.assertEqual(c.sock.getpeercert(True),
                             ssl.PEM_cert_to_DER_cert(f.read()),
                             "the client must see the origin's own "
                             "certificate through a blind tunnel")
        c.send("GET /zen HTTP/1.1\r\nHost: origin.test\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertIn(b"fake github", r.body)
        c.close()
        line = self.squid.wait_access("CONNECT 127.0.0.1:%d" %
                                      self.tls_fake.port)
        self.assertIsNotNone(line, self.squid.access_lines())

    def test_websocket_upgrade(self):
        key = base64.b64encode(os.urandom(16)).decode()
        c = self.raw(timeout=20)
        c.send(harness.http_request("GET", self.origin_test_url("/ws"), [
            ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")]))
        r = c.read_response()
        self.assertEqual(r.status, 101, "%r\n%s\n%s" % (
            r, self.proxy.tail(), self.squid.tail()))
        want = base64.b64encode(hashlib.sha1(
            (key + harness.WS_GUID).encode()).digest()).decode()
        self.assertEqual(r.header("Sec-WebSocket-Accept"), want)
        c.send(harness.ws_encode(0x1, b"through squid", mask=os.urandom(4)))
        fin, op, data, masked = harness.ws_read_frame(c.read_exact)
        self.assertEqual((op, data), (0x1, b"through squid"))
        c.close()
        line = self.squid.wait_access("http://127.0.0.1:%d/ws" %
                                      self.origin.port)
        self.assertIsNotNone(line, self.squid.access_lines())

    def test_wrong_password_is_a_502_naming_407(self):
        p = self.new_oauth_proxy([
            "--upstream-proxy", "http://%s:wrong-s3cret@127.0.0.1:%d" %
            (USER, self.squid.port)])
        code = self.fresh_code()
        r = self.curl_token(self.params(code), proxy=p)
        self.assertEqual((r.rc, r.status), (0, 502), "%r\n%s" % (
            r, p.tail()))
        self.assert_reason(r.body, "upstream proxy", "dev:***@127.0.0.1",
                           "407", "refused the user and password")
        self.assertNotIn("wrong-s3cret", p.stderr_text() + r.text)

    def test_password_nowhere(self):
        self.curl_token(self.params(self.fresh_code()))
        # The status page, through the proxy itself as a shell with
        # HTTP_PROXY set sends it: served, not relayed to itself.
        r = self.curl("http://127.0.0.1:%d/" % self.proxy.port)
        self.assertEqual(r.status, 200, r)
        self.assertIn("upstream proxy http://dev:***@127.0.0.1:%d" %
                      self.squid.port, r.text)
        text = self.proxy.stderr_text() + r.text
        for needle in (PASSWORD, PASSWORD_URL, "pa55"):
            self.assertNotIn(needle, text)
        self.assertIn("dev:***@127.0.0.1:%d" % self.squid.port,
                      self.proxy.stderr_text())


@unittest.skipIf(ph.squid_missing() and not os.environ.get("CI"),
                 ph.squid_missing())
class ThroughOpenSquid(harness.ProxyTestCase):
    """Squid without authentication: plain and a blind tunnel, no
    Proxy-Authorization sent."""

    @classmethod
    def proxy_setup(cls):
        cls.squid = ph.Squid(cls.tmp, name="squid-open").start()
        return {"upstream_proxy": cls.squid.url}, [
            "--resolve", "origin.test:%d:127.0.0.1:%d" %
            (cls.origin.port, cls.origin.port),
            "--resolve", "origin.test:443:127.0.0.1:%d" % cls.origin.port]

    @classmethod
    def _teardown_origins(cls):
        if getattr(cls, "squid", None):
            cls.squid.stop()
        super()._teardown_origins()

    def test_plain(self):
        r = self.curl("http://origin.test:%d/echo?open=1" % self.origin.port)
        self.assertEqual((r.rc, r.status), (0, 200), "%r\n%s" % (
            r, self.proxy.tail()))
        via = [v for n, v in r.json()["headers"] if n.lower() == "via"]
        self.assertIn("squid", " ".join(via))
        self.assertNotIn("proxy-authorization",
                         [n.lower() for n, _ in r.json()["headers"]])
        line = self.squid.wait_access("GET http://127.0.0.1:%d/echo?open=1"
                                      % self.origin.port)
        self.assertIsNotNone(line, self.squid.access_lines())
        self.assertIn(" - HIER_DIRECT", line)

    def test_blind_tunnel(self):
        c = self.raw(timeout=20)
        c.send("CONNECT origin.test:443 HTTP/1.1\r\n"
               "Host: origin.test:443\r\n\r\n")
        r = c.read_response("CONNECT")
        self.assertEqual(r.status, 200, "%r\n%s" % (r, self.proxy.tail()))
        c.send("GET /echo?inside=1 HTTP/1.1\r\nHost: origin.test\r\n"
               "Connection: close\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.json()["target"], "/echo?inside=1")
        c.close()
        self.assertIsNotNone(self.squid.wait_access(
            "CONNECT 127.0.0.1:%d" % self.origin.port),
            self.squid.access_lines())


if __name__ == "__main__":
    harness.main()
