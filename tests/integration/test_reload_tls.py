#!/usr/bin/python3
"""SIGHUP reload of the origins' trust (upstream_ca in the config file):
the new bundle applies to the next connection, idle pooled TLS connections
and cached sessions verified under the old trust are dropped, and a bundle
that cannot be loaded refuses the reload and keeps the running trust.
Real binary, curl through the proxy to the fake GitHub over TLS.
"""

import json
import os
import signal

import harness
import oauth_helpers as oh
from harness import SLOW


class ReloadUpstreamCA(oh.OAuthTestCase):

    def setUp(self):
        super().setUp()
        # No --upstream-ca on the command line: the config file decides.
        self.p = self.new_proxy(
            {}, ["--certs", self.certs, "--resolve",
                 "github.com:443:127.0.0.1:%d" % self.gh.port],
            name="reload-%s" % self._testMethodName)

    def rewrite(self, **cfg):
        with open(self.p.config_path, "w") as f:
            f.write("// rewritten by test_reload_tls\n")
            json.dump(cfg, f)

    def reload(self, expect):
        n = len(self.p.log_records())
        os.kill(self.p.pid, signal.SIGHUP)
        rec = harness.wait_until(
            lambda: [r for r in self.p.log_records()[n:]
                     if expect in r.get("msg", "")], 10 * SLOW)
        self.assertTrue(rec, "no %r after SIGHUP:\n%s" %
                        (expect, self.p.tail()))
        return rec[0]

    def zen(self):
        return harness.curl("https://github.com/zen", self.p,
                            ["--cacert", self.ca_pem], tmpdir=self.tmp)

    def test_upstream_ca_follows_reloads(self):
        r = self.zen()
        self.assertEqual(r.status, 502, "the test CA is not trusted yet: "
                         "%r\n%s" % (r, self.p.tail()))
        self.assertIn("unknown issuer", r.text)

        self.rewrite(upstream_ca=self.gca.ca)
        self.reload("configuration reloaded")
        r = self.zen()
        self.assertEqual((r.rc, r.status), (0, 200), "%r\n%s" %
                         (r, self.p.tail()))

        # A bundle that cannot be read: refused, the running trust stays.
        missing = os.path.join(self.tmp, "no-such-ca.pem")
        self.rewrite(upstream_ca=missing)
        rec = self.reload("reload failed")
        self.assertEqual(rec.get("level"), "error", rec)
        self.assertIn(missing, rec.get("msg", ""))
        r = self.zen()
        self.assertEqual((r.rc, r.status), (0, 200), "%r\n%s" %
                         (r, self.p.tail()))

        # Back to the system store only: the pooled connection and the
        # cached session were verified under the old trust and must not
        # carry the next request.
        self.rewrite()
        self.reload("configuration reloaded")
        r = self.zen()
        self.assertEqual(r.status, 502, "%r\n%s" % (r, self.p.tail()))
        self.assertIn("unknown issuer", r.text)


if __name__ == "__main__":
    oh.main()
