#!/usr/bin/python3
"""PHP (Debian's php-cli + php-curl) through oauthlens with nothing but
the --env lines (issue 12, item 4). oauthlens writes certs/php/
oauthlens.ini (curl.cainfo and openssl.cafile = ca-bundle.pem) and --env
sets PHP_INI_SCAN_DIR=:<certs>/php, whose leading colon keeps the
distribution's own conf.d (so the curl extension still loads).
tests/clients/exchange.php exchanges a code:

- with the curl extension (Guzzle, Socialite, league/oauth2-client sit on
  it): libcurl reads HTTPS_PROXY, the ini gives it the CA;
- with file_get_contents and a stream context whose proxy is HTTPS_PROXY
  as tcp://host:port (PHP's streams read no proxy variable: README tells
  PHP users to pass it), the ini's openssl.cafile gives it the CA.

Without PHP_INI_SCAN_DIR the curl extension refuses the certificate
(curl error 60), and so do streams without SSL_CERT_FILE as well; the
proxy says tls-untrusted, runtime=php, for both.
"""

import os
import subprocess

import harness
import oauth_helpers as oh
import runtime_helpers as rh
from harness import SLOW


class PHPRuntime(rh.RuntimeCase):

    @classmethod
    def setUpClass(cls):
        cls.php = rh.require("php", "php-cli")
        super().setUpClass()

    def exchange(self, mode, env=None):
        return lambda form: self.run_client(
            [self.php, os.path.join(rh.CLIENTS, "exchange.php"), mode,
             oh.TOKEN_URL, form], env=env)

    def php_eval(self, code, env=None):
        r = subprocess.run([self.php, "-r", code], capture_output=True,
                           env=env or self.client_env(), timeout=30 * SLOW)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.decode()

    def test_curl_extension_bad_code(self):
        self.check_bad_code(self.exchange("curl"))

    def test_curl_extension_good_code(self):
        self.check_good_code(self.exchange("curl"))

    def test_file_get_contents_with_stream_proxy_bad_code(self):
        self.check_bad_code(self.exchange("stream"))

    def test_ini_dir_keeps_the_distribution_conf_d(self):
        env = self.client_env()
        bundle = os.path.realpath(self.ca_bundle)
        self.assertEqual(env["PHP_INI_SCAN_DIR"], ":" + os.path.join(
            os.path.realpath(self.certs), "php"))
        mods = self.php_eval("echo implode(\"\\n\", get_loaded_extensions());",
                             env).split()
        self.assertIn("curl", mods, "the curl extension no longer loads "
                      "with PHP_INI_SCAN_DIR set")
        self.assertIn("openssl", mods)
        self.assertEqual(self.php_eval("echo ini_get('curl.cainfo');", env),
                         bundle)
        self.assertEqual(self.php_eval("echo ini_get('openssl.cafile');",
                                       env), bundle)
        ini = os.path.join(self.certs, "php", "oauthlens.ini")
        self.assertEqual(os.stat(ini).st_mode & 0o777, 0o644)

    def test_without_the_ini_curl_refuses_and_the_proxy_says_so(self):
        env = self.client_env(drop=("PHP_INI_SCAN_DIR",))
        self.check_untrusted(self.exchange("curl", env), "php", "60:")

    def test_stream_without_the_ini_is_named_php(self):
        # PHP's streams tunnel with the same bare HTTP/1.0 CONNECT as
        # Python's http.client; their ClientHello (no TLS 1.3 offered)
        # tells them apart. (Streams also read SSL_CERT_FILE, through
        # OpenSSL's default paths: both must go for them to refuse.)
        env = self.client_env(drop=("PHP_INI_SCAN_DIR", "SSL_CERT_FILE"))
        self.check_untrusted(self.exchange("stream", env), "php")


if __name__ == "__main__":
    harness.main()
