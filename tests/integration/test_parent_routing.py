#!/usr/bin/python3
"""Which requests go through the upstream proxy: no_upstream_proxy
(suffixes, hosts, CIDRs; loopback always direct), upstream_proxy "env"
(HTTP_PROXY for plain requests, HTTPS_PROXY for tunnels, NO_PROXY added
to the bypass list; a value naming oauthlens's own listener refused at
start with exit status 2), SIGHUP switching to another parent, and loops
answered 508 (CONNECT to our own listener, --resolve onto it, a request
that already carries oauthlens's Via) while an absolute-form request for
our own pages is answered as one.

Parents: scripted ("answer": 200 "scripted parent" to anything, and the
request heads it saw). Origin: the plain test origin, as several names
through --resolve."""

import os
import signal
import subprocess

import harness
import parent_helpers as ph
from harness import ProxyTestCase


class Routing(ProxyTestCase):
    start_proxy = False

    def resolve_args(self, *names):
        a = []
        for n in names:
            a += ["--resolve", "%s:%d:127.0.0.1:%d" %
                  (n, self.origin.port, self.origin.port),
                  "--resolve", "%s:443:127.0.0.1:%d" %
                  (n, self.origin.port)]
        return a

    def scripted(self, mode="answer"):
        p = ph.ScriptedParent(mode).start()
        self.addCleanup(p.stop)
        return p

    def get(self, proxy, host, path="/echo"):
        return self.curl("http://%s:%d%s" % (host, self.origin.port, path),
                         proxy=proxy)

    def assert_parent(self, r, proxy):
        self.assertEqual((r.rc, r.status), (0, 200), "%r\n%s" %
                         (r, proxy.tail()))
        self.assertEqual(r.body, b"scripted parent\n")

    def assert_direct(self, r, proxy, target):
        self.assertEqual((r.rc, r.status), (0, 200), "%r\n%s" %
                         (r, proxy.tail()))
        self.assertEqual(r.json()["target"], target)

    def test_no_upstream_proxy(self):
        parent = self.scripted()
        p = self.new_proxy({"upstream_proxy": parent.url,
                            "no_upstream_proxy": [".corp.test", "wiki.test",
                                                  "10.0.0.0/8"]},
                           self.resolve_args("git.corp.test", "wiki.test",
                                             "github.test"))
        self.assert_direct(self.get(p, "git.corp.test", "/echo?a"), p,
                           "/echo?a")
        self.assert_direct(self.get(p, "wiki.test", "/echo?b"), p, "/echo?b")
        self.assert_direct(self.get(p, "127.0.0.1", "/echo?c"), p, "/echo?c")
        self.assertEqual(parent.connect_heads(), [])
        self.assert_parent(self.get(p, "github.test", "/echo?d"), p)
        self.assertEqual(len(parent.connect_heads()), 1)
        self.assertTrue(parent.connect_heads()[0].startswith(
            "GET http://127.0.0.1:%d/echo?d HTTP/1.1\r\n" % self.origin.port))

    def test_env(self):
        plain, tunnels = self.scripted(), self.scripted()
        p = self.new_proxy({"upstream_proxy": "env"},
                           self.resolve_args("direct.test", "far.test"),
                           env={"HTTP_PROXY": plain.url,
                                "https_proxy": tunnels.url,
                                "NO_PROXY": "localhost, direct.test"})
        self.assert_parent(self.get(p, "far.test"), p)
        self.assert_direct(self.get(p, "direct.test", "/echo?e"), p,
                           "/echo?e")
        c = self.raw(proxy=p)
        c.send("CONNECT far.test:443 HTTP/1.1\r\nHost: far.test:443\r\n\r\n")
        r = c.read_response("CONNECT")
        self.assertEqual(r.status, 200, "%r\n%s" % (r, p.tail()))
        heads = tunnels.connect_heads()
        self.assertEqual(len(heads), 1, heads)
        self.assertTrue(heads[0].startswith("CONNECT 127.0.0.1:%d " %
                                            self.origin.port), heads)
        self.assertEqual(len(plain.connect_heads()), 1)
        self.assertIn("upstream proxy %s for HTTPS and tunnels, %s for "
                      "plain HTTP" % (tunnels.url, plain.url),
                      p.stderr_text())

    def test_env_proxy_unused_is_named_when_direct_fails(self):
        # A developer behind a company proxy starts oauthlens without
        # upstream_proxy: its own environment names the proxy. A direct
        # connection that fails (192.0.2.1 is TEST-NET-1: refused,
        # unreachable or silent, whichever this network makes of it) says
        # so and names the setting; the start-up line does too.
        env_url = "http://dev:s3cret@127.0.0.1:%d" % harness.closed_port()
        shown = env_url.replace("s3cret", "***")
        p = self.new_proxy(None, ["--timeouts.connect", "2"],
                           env={"HTTPS_PROXY": env_url})
        r = self.curl("http://192.0.2.1/", proxy=p, timeout=30)
        self.assertIn(r.status, (502, 504), "%r\n%s" % (r, p.tail()))
        self.assert_reason(r.body, "192.0.2.1", "went direct",
                           "environment names " + shown,
                           "upstream_proxy env")
        self.assertIn("though the environment names " + shown,
                      p.stderr_text())
        self.assertNotIn("s3cret", p.stderr_text())
        self.assertNotIn(b"s3cret", r.body)
        # Loopback and --resolve targets are never the company proxy's
        # business: no such words there.
        r = self.curl("http://127.0.0.1:%d/" % harness.closed_port(),
                      proxy=p, timeout=30)
        self.assertEqual(r.status, 502, r)
        self.assertNotIn(b"went direct", r.body)

    def test_no_env_proxy_no_words(self):
        p = self.new_proxy(None, ["--timeouts.connect", "2"])
        r = self.curl("http://192.0.2.1/", proxy=p, timeout=30)
        self.assertIn(r.status, (502, 504), r)
        self.assertNotIn(b"went direct", r.body)
        self.assertNotIn("environment names", p.stderr_text())

    def test_env_pointing_at_ourselves_refused(self):
        port = harness.free_port()
        env = dict(harness.clean_env(),
                   HTTPS_PROXY="http://127.0.0.1:%d" % port,
                   HTTP_PROXY="http://127.0.0.1:%d" % port)
        for extra in (["--check-config"], []):
            r = subprocess.run([harness.BIN, "-l", "127.0.0.1:%d" % port,
                                "--upstream-proxy", "env"] + extra,
                               capture_output=True, timeout=30, env=env,
                               cwd=harness.SRC, stdin=subprocess.DEVNULL)
            err = r.stderr.decode()
            self.assertEqual(r.returncode, 2, err)
            self.assertIn("HTTPS_PROXY", err)
            self.assertIn("own listener", err)
            self.assertIn("oauthlens --env", err)

    def test_loops(self):
        port2 = harness.free_port()
        p = self.new_proxy(None, ["-l", "127.0.0.1:%d" % port2,
                                  "--resolve", "loop.test:80:127.0.0.1:%d"
                                  % port2])
        for proxy, req, why in (
                (p, "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n" %
                 p.port, "own listener"),
                (p, "GET http://origin.test/ HTTP/1.1\r\nHost: origin.test"
                 "\r\nVia: 1.1 squid, 1.1 oauthlens\r\n\r\n", "Via"),
                (p, "GET http://loop.test/ HTTP/1.1\r\nHost: loop.test\r\n"
                 "\r\n", "own listener")):
            c = self.raw(proxy=proxy)
            c.send(req)
            r = c.read_response("CONNECT" if req.startswith("CONNECT")
                                else "GET")
            self.assertEqual(r.status, 508, "%r\n%s" % (r, proxy.tail()))
            self.assert_reason(r.body, "Loop Detected", why)
        # Our own pages in absolute form are served, not relayed.
        r = self.curl("http://127.0.0.1:%d/healthz" % p.port, proxy=p)
        self.assertEqual((r.status, r.body), (200, b"ok\n"))
        self.assertIsNone(p.wait_access(
            lambda a: a.get("target") == "/healthz" and
            a.get("host", "-") != "-", timeout=0.5))

    def test_sighup_switches_parent(self):
        a, b = self.scripted(), self.scripted()
        p = self.new_proxy({"upstream_proxy": a.url},
                           self.resolve_args("far.test"))
        self.assert_parent(self.get(p, "far.test"), p)
        harness.write_config(p.config_path, {"upstream_proxy": b.url})
        os.kill(p.pid, signal.SIGHUP)
        self.assertTrue(harness.wait_until(
            lambda: "new exchanges go upstream proxy %s" % b.url in
            p.stderr_text(), 10 * harness.SLOW), p.tail())
        self.assert_parent(self.get(p, "far.test"), p)
        self.assertEqual((len(a.connect_heads()), len(b.connect_heads())),
                         (1, 1))
        harness.write_config(p.config_path, {})
        os.kill(p.pid, signal.SIGHUP)
        self.assertTrue(harness.wait_until(
            lambda: "new exchanges go direct" in p.stderr_text(),
            10 * harness.SLOW), p.tail())
        self.assert_direct(self.get(p, "far.test", "/echo?f"), p, "/echo?f")


if __name__ == "__main__":
    harness.main()
