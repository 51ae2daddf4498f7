#!/usr/bin/python3
"""Ruby's Net::HTTP (Debian's ruby) through oauthlens with nothing but the
--env lines (issue 12: keep it working): Net::HTTP.new takes the proxy
from http_proxy, OpenSSL the CA from SSL_CERT_FILE (ca-bundle.pem).
tests/clients/exchange.rb exchanges a bad and a good code; without
SSL_CERT_FILE Ruby refuses the certificate and the proxy says
tls-untrusted, runtime=ruby.
"""

import os

import harness
import oauth_helpers as oh
import runtime_helpers as rh


class RubyRuntime(rh.RuntimeCase):

    @classmethod
    def setUpClass(cls):
        cls.ruby = rh.require("ruby", "ruby")
        super().setUpClass()

    def exchange(self, env=None):
        return lambda form: self.run_client(
            [self.ruby, os.path.join(rh.CLIENTS, "exchange.rb"),
             oh.TOKEN_URL, form], env=env)

    def test_bad_code(self):
        self.check_bad_code(self.exchange())

    def test_good_code(self):
        self.check_good_code(self.exchange())

    def test_without_ssl_cert_file_the_proxy_says_so(self):
        # Ruby 3.1's CONNECT (Host alone) is Java's HttpClient's byte for
        # byte; the ClientHello (OpenSSL's encrypt_then_mac, no
        # status_request_v2) tells them apart.
        self.check_untrusted(self.exchange(self.client_env(
            drop=("SSL_CERT_FILE",))), "ruby", "SSL")


if __name__ == "__main__":
    harness.main()
