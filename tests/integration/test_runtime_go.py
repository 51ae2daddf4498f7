#!/usr/bin/python3
"""Go's net/http (Debian's golang-go; tests/clients/exchange.go, built
here) through oauthlens with nothing but the --env lines (issue 12: keep
it working): the default transport reads HTTPS_PROXY, crypto/x509 reads
SSL_CERT_FILE (ca-bundle.pem). A bad and a good code; without
SSL_CERT_FILE Go refuses the certificate and the proxy says
tls-untrusted.
"""

import os
import subprocess

import harness
import oauth_helpers as oh
import runtime_helpers as rh
from harness import SLOW


class GoRuntime(rh.RuntimeCase):

    @classmethod
    def setUpClass(cls):
        go = rh.require("go", "golang-go")
        super().setUpClass()
        cls.exe = os.path.join(cls.tmp, "exchange")
        env = {"PATH": rh.BASE_PATH, "HOME": cls.tmp, "GO111MODULE": "off",
               "GOCACHE": os.path.join(cls.tmp, "gocache"),
               "GOPATH": os.path.join(cls.tmp, "gopath")}
        r = subprocess.run([go, "build", "-o", cls.exe, os.path.join(
            rh.CLIENTS, "exchange.go")], capture_output=True, env=env,
            timeout=300 * SLOW)
        if r.returncode != 0:
            cls.tearDownClass()
            raise AssertionError("go build failed: %s" %
                                 r.stderr.decode(errors="replace"))

    def exchange(self, env=None):
        return lambda form: self.run_client([self.exe, oh.TOKEN_URL, form],
                                            env=env)

    def test_bad_code(self):
        self.check_bad_code(self.exchange())

    def test_good_code(self):
        self.check_good_code(self.exchange())

    def test_without_ssl_cert_file_the_proxy_says_so(self):
        self.check_untrusted(self.exchange(self.client_env(
            drop=("SSL_CERT_FILE",))), "go", "certificate")


if __name__ == "__main__":
    harness.main()
