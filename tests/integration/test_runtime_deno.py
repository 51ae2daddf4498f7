#!/usr/bin/python3
"""Deno (2.9.6, the npm registry's binary package, pinned in
tests/runtimes/) through oauthlens with nothing but the --env lines
(issue 12: keep it working): its fetch reads HTTPS_PROXY, and trusts the
CA through NODE_EXTRA_CA_CERTS (not SSL_CERT_FILE). tests/clients/
exchange.mjs exchanges a bad code; without NODE_EXTRA_CA_CERTS Deno
refuses the certificate and the proxy says tls-untrusted, runtime=deno
(its CONNECT carries User-Agent: Deno/<version>).
"""

import os

import harness
import oauth_helpers as oh
import runtime_helpers as rh


class DenoRuntime(rh.RuntimeCase):

    @classmethod
    def setUpClass(cls):
        cls.deno = rh.npm_binary("@deno/linux-x64-glibc/deno", "Deno")
        super().setUpClass()

    def exchange(self, drop=()):
        env = self.client_env(drop=drop)
        env["DENO_DIR"] = os.path.join(self.tmp, "deno")
        env["DENO_NO_UPDATE_CHECK"] = "1"
        return lambda form: self.run_client(
            [self.deno, "run", "-A", os.path.join(rh.CLIENTS,
                                                  "exchange.mjs"),
             oh.TOKEN_URL, form], env=env)

    def test_bad_code(self):
        self.check_bad_code(self.exchange())

    def test_without_node_extra_ca_certs_the_proxy_says_so(self):
        self.check_untrusted(self.exchange(drop=("NODE_EXTRA_CA_CERTS",)),
                             "deno", "certificate")


if __name__ == "__main__":
    harness.main()
