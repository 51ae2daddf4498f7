#!/usr/bin/python3
"""Bun (1.4.4, the npm registry's binary package, pinned in
tests/runtimes/) through oauthlens with nothing but the --env lines
(issue 12: keep it working): its fetch reads HTTPS_PROXY, and trusts the
CA through NODE_EXTRA_CA_CERTS or SSL_CERT_FILE. tests/clients/
exchange.mjs exchanges a bad code; without both Bun refuses the
certificate and the proxy says tls-untrusted, runtime=bun: its CONNECT
is PHP curl's byte for byte, its BoringSSL ClientHello is not.
"""

import os

import harness
import oauth_helpers as oh
import runtime_helpers as rh


class BunRuntime(rh.RuntimeCase):

    @classmethod
    def setUpClass(cls):
        cls.bun = rh.npm_binary("@oven/bun-linux-x64/bin/bun", "Bun")
        super().setUpClass()

    def exchange(self, drop=()):
        env = self.client_env(drop=drop)
        env["BUN_INSTALL_CACHE_DIR"] = os.path.join(self.tmp, "bun")
        return lambda form: self.run_client(
            [self.bun, os.path.join(rh.CLIENTS, "exchange.mjs"),
             oh.TOKEN_URL, form], env=env)

    def test_bad_code(self):
        self.check_bad_code(self.exchange())

    def test_without_the_ca_variables_the_proxy_says_so(self):
        self.check_untrusted(self.exchange(drop=("NODE_EXTRA_CA_CERTS",
                                                 "SSL_CERT_FILE")),
                             "bun", "certificate")


if __name__ == "__main__":
    harness.main()
