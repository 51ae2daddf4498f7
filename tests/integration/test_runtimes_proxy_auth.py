#!/usr/bin/python3
"""proxy_auth with the one line of setup: when the proxy demands Basic
credentials, eval "$(oauthlens --env)" and oauthlens run -- put them into
the proxy variables (user and password percent-encoded, here with '@',
':', '%', '/', a space and a non-ASCII letter in the password), so curl,
wget, git, Python (urllib, requests, aiohttp), Go, Ruby and Node (global
fetch and the https module, through Node's own proxy switch on 24 and the
preload on 20) reach GitHub through it and see the annotation, not a 407
(Go and Ruby after --env only, as in their own tests). The
password reaches no log line and --print-ca shows it as ***; without the
credentials the same proxy answers 407, so they are what let the clients
in. Java takes no proxy credentials from JAVA_TOOL_OPTIONS: --env says
so in a comment, which the shell ignores.
"""

import json
import subprocess

import harness
import oauth_helpers as oh
import runenv_helpers as rh
import test_runtime_go as go
import test_runtime_ruby as ruby
import test_runtimes_cli as cli
import test_runtimes_node as node

USER = "dev"
PASSWORD = "p@ss w:rd%/\u00e9"
PASSWORD_URL = "p%40ss%20w%3Ard%25%2F%C3%A9"
AUTH = {"proxy_auth": USER + ":" + PASSWORD}


class ProxyAuthCli(cli.CliRuntimes):
    """curl, wget, git and Python, each via env and run, as in
    test_runtimes_cli, with proxy_auth set."""
    proxy_config = AUTH

    def run_client(self, argv, via, **kw):
        res = super().run_client(argv, via, **kw)
        self.assertNotIn(PASSWORD, res.log_text)
        self.assertNotIn(PASSWORD_URL, res.log_text)
        return res


class ProxyAuthGo(go.GoRuntime):
    """Go's net/http, as in test_runtime_go, after --env with proxy_auth."""
    proxy_config = AUTH

    @property
    def env_args(self):
        return ["-c", self.proxy.config_path]


class ProxyAuthRuby(ruby.RubyRuntime):
    """Ruby's Net::HTTP, as in test_runtime_ruby, after --env with
    proxy_auth."""
    proxy_config = AUTH

    @property
    def env_args(self):
        return ["-c", self.proxy.config_path]


class ProxyAuthSetup(rh.RuntimeTestCase):
    proxy_config = AUTH

    def test_env_carries_the_credentials(self):
        text = self.env_text()
        want = "http://%s:%s@127.0.0.1:%d" % (USER, PASSWORD_URL,
                                              self.proxy.port)
        for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
                    "https_proxy"):
            self.assertIn("export %s=%s\n" % (var, want), text)
        self.assertIn("# proxy_auth:", text)
        self.assertIn("JAVA_TOOL_OPTIONS", text)
        # The comment and every line are valid shell.
        r = subprocess.run(["bash", "-c", 'eval "$1" && echo "$HTTPS_PROXY"',
                            "bash", text], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode().strip(), want)

    def test_print_ca_hides_the_password(self):
        r = harness.run_proxy_cli(["-c", self.proxy.config_path, "-l",
                                   "127.0.0.1:%d" % self.proxy.port] +
                                  self.base_args() + ["--print-ca"])
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn("http://%s:***@127.0.0.1:%d" % (USER, self.proxy.port),
                      out)
        self.assertNotIn(PASSWORD_URL, out)
        self.assertNotIn(PASSWORD, out)

    def test_without_credentials_407(self):
        p = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
             "--proxy", "http://127.0.0.1:%d" % self.proxy.port,
             "http://github.com/"], env=self.clean_env(),
            capture_output=True, timeout=30 * harness.SLOW)
        self.assertEqual(p.stdout.decode(), "407", p.stderr)

    def node(self, version, mode, via):
        res = self.run_client([node.node_for(version), node.CLIENT, mode,
                               json.dumps(self.spec())], via)
        what = "Node %s %s via %s" % (version, mode, via)
        self.assertEqual(res.rc, 0, "%s: %r" % (what, res))
        out = res.json()
        self.assertNotIn("failure", out, "%s: %r\n%s" % (what, out,
                                                         res.log_text))
        self.assertEqual(out["error"], "bad_verification_code", out)
        self.assert_header(out["header"])
        self.assert_logged(res, what=what)
        self.assertNotIn(PASSWORD, res.log_text)

    def test_node(self):
        oh.ensure_node_clients()
        for version, mode in (("20", "fetch"), ("20", "https"),
                              ("24", "fetch"), ("24", "https")):
            for via in ("env", "run"):
                with self.subTest(node=version, mode=mode, via=via):
                    self.node(version, mode, via)


if __name__ == "__main__":
    oh.main()
