#!/usr/bin/python3
"""An upstream proxy that says no, or fails: a scripted parent (a thread
of the test) refuses CONNECT with 407, 403 or 503, closes before
answering, or opens the tunnel and drops it; a port where nothing
listens stands for a parent that is down. The client always gets a 502
that names the parent (password as ***) and its status or the network
error; a plain request the parent answers 407 becomes a 502 too (the
client cannot answer the parent's challenge). Credentials from the URL
reach the parent percent-decoded as Proxy-Authorization: Basic and
appear in no log line.

Client: raw sockets and curl. Origin: the plain test origin, reached as
origin.test through --resolve (loopback always goes direct)."""

import base64

import harness
import parent_helpers as ph
from harness import ProxyTestCase

PASSWORD = "s3cret-p%w"
PASSWORD_URL = "s3cret-p%25w"


class Refusals(ProxyTestCase):
    start_proxy = False

    def through(self, parent_url, config=None):
        return self.new_proxy(config, [
            "--upstream-proxy", parent_url,
            "--resolve", "origin.test:443:127.0.0.1:%d" % self.origin.port,
            "--resolve", "origin.test:%d:127.0.0.1:%d" %
            (self.origin.port, self.origin.port)])

    def scripted(self, mode):
        p = ph.ScriptedParent(mode).start()
        self.addCleanup(p.stop)
        return p

    def connect(self, proxy):
        c = self.raw(proxy=proxy, timeout=20)
        c.send("CONNECT origin.test:443 HTTP/1.1\r\n"
               "Host: origin.test:443\r\n\r\n")
        return c, c.read_response("CONNECT")

    def assert_502(self, proxy, r, *words):
        self.assertEqual(r.status, 502, "%r\n%s" % (r, proxy.tail()))
        self.assert_reason(r.body, "upstream proxy", *words)
        self.assertNotIn(PASSWORD, proxy.stderr_text())
        self.assertNotIn(PASSWORD, r.body.decode(errors="replace"))

    def test_407_without_credentials(self):
        parent = self.scripted("407")
        p = self.through(parent.url)
        c, r = self.connect(p)
        self.assert_502(p, r, parent.url, "407",
                        "Proxy Authentication Required", "credentials")
        self.assertIsNone(r.header("Proxy-Authenticate"),
                          "the parent's challenge is not the client's")
        head = parent.connect_heads()[0]
        self.assertTrue(head.startswith(
            "CONNECT 127.0.0.1:%d HTTP/1.1" % self.origin.port), head)
        self.assertNotIn("proxy-authorization", head.lower())

    def test_407_with_credentials_names_them_refused(self):
        parent = self.scripted("407")
        p = self.through("http://dev:%s@127.0.0.1:%d" %
                         (PASSWORD_URL, parent.port))
        c, r = self.connect(p)
        self.assert_502(p, r, "dev:***@127.0.0.1:%d" % parent.port, "407",
                        "refused the user and password")

    def test_407_ntlm_names_the_schemes_and_a_bridge(self):
        # A Windows-domain proxy: NTLM and Negotiate only, no Basic. The
        # 502 says that credentials cannot help and what can, for a
        # tunnel and for a plain request alike.
        parent = self.scripted("407-ntlm")
        p = self.through("http://dev:%s@127.0.0.1:%d" %
                         (PASSWORD_URL, parent.port))
        c, r = self.connect(p)
        self.assert_502(p, r, "407", "asks for NTLM, Negotiate",
                        "Basic credentials only", "cntlm")
        self.assertNotIn("refused the user and password",
                         r.body.decode())
        r = self.curl("http://origin.test:%d/echo" % self.origin.port,
                      proxy=p)
        self.assert_502(p, r, "407", "asks for NTLM, Negotiate", "cntlm")

    def test_403(self):
        parent = self.scripted("403")
        p = self.through(parent.url)
        c, r = self.connect(p)
        self.assert_502(p, r, "403 Forbidden", "policy")

    def test_503(self):
        parent = self.scripted("503")
        p = self.through(parent.url)
        c, r = self.connect(p)
        self.assert_502(p, r, "503 Service Unavailable")

    def test_parent_down(self):
        port = harness.closed_port()
        before = len(self.origin.requests_for("/echo"))
        p = self.through("http://127.0.0.1:%d" % port)
        c, r = self.connect(p)
        self.assert_502(p, r, "127.0.0.1:%d" % port, "refused")
        r = self.curl("http://origin.test:%d/echo" % self.origin.port,
                      proxy=p)
        self.assert_502(p, r, "127.0.0.1:%d" % port, "refused")
        self.assertEqual(len(self.origin.requests_for("/echo")), before)

    def test_parent_closes_before_answering(self):
        parent = self.scripted("close")
        p = self.through(parent.url)
        c, r = self.connect(p)
        self.assert_502(p, r, "closed the connection", "before answering")

    def test_parent_drops_the_tunnel(self):
        parent = self.scripted("drop")
        p = self.through(parent.url)
        c, r = self.connect(p)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(c.is_closed(wait=10), "the client's tunnel must "
                        "close when the parent's does")
        rec = p.wait_access(lambda a: a.get("method") == "CONNECT")
        self.assertIsNotNone(rec, p.tail())
        self.assert_alive(p)

    def test_plain_request_407_becomes_502(self):
        parent = self.scripted("407")
        p = self.through(parent.url)
        r = self.curl("http://origin.test:%d/echo" % self.origin.port,
                      proxy=p)
        self.assert_502(p, r, parent.url, "407", "credentials")
        self.assertIsNone(r.header("Proxy-Authenticate"))
        head = parent.connect_heads()[0]
        self.assertTrue(head.startswith(
            "GET http://127.0.0.1:%d/echo HTTP/1.1" % self.origin.port),
            head)

    def test_credentials_sent_decoded_and_never_logged(self):
        parent = self.scripted("tunnel")
        p = self.through("http://d%%40v:%s@127.0.0.1:%d" %
                         (PASSWORD_URL, parent.port))
        c, r = self.connect(p)
        self.assertEqual(r.status, 200, "%r\n%s" % (r, p.tail()))
        c.send("GET /echo?t=1 HTTP/1.1\r\nHost: origin.test\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["target"], "/echo?t=1")
        head = parent.connect_heads()[0]
        want = base64.b64encode(("d@v:" + PASSWORD).encode()).decode()
        self.assertIn("\r\nProxy-Authorization: Basic %s" % want, head)
        status = self.curl("http://127.0.0.1:%d/metrics" % p.port, proxy=p)
        for text in (p.stderr_text(), status.text):
            self.assertNotIn(PASSWORD, text)
            self.assertNotIn(PASSWORD_URL, text)
            self.assertNotIn(want, text)
        self.assertIn("d%40v:***@127.0.0.1", p.stderr_text())
        r = harness.run_proxy_cli(["--upstream-proxy", "http://d%%40v:%s@"
                                   "127.0.0.1:%d" % (PASSWORD_URL,
                                                     parent.port),
                                   "--check-config"])
        self.assertEqual(r.returncode, 0, r)
        out = (r.stdout + r.stderr).decode()
        self.assertIn("d%%40v:***@127.0.0.1:%d" % parent.port, out)
        self.assertNotIn("s3cret", out)

    def test_bad_url_refused_at_start_without_the_password(self):
        for url, why in (("https://u:s3cret@p:1", "not supported"),
                         ("http://u:s3cret%zz@p:1", "user:password"),
                         ("http://p:99999", "port")):
            r = harness.run_proxy_cli(["--upstream-proxy", url,
                                       "--check-config"])
            err = r.stderr.decode()
            self.assertEqual(r.returncode, 2, err)
            self.assertIn(why, err)
            self.assertNotIn("s3cret", err)


if __name__ == "__main__":
    harness.main()
