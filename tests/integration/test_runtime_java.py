#!/usr/bin/python3
"""Java (OpenJDK 17, Debian's openjdk-17-jdk-headless) through oauthlens
with nothing but the --env lines (issue 12, item 3): JAVA_TOOL_OPTIONS
carries https.proxyHost/Port and javax.net.ssl.trustStore pointing at
certs/java-truststore.p12, which oauthlens writes; no root, no change to
the JDK. tests/clients/OAuthExchange.java, compiled here with javac,
exchanges a code the way apps do:

- HttpClient.newHttpClient(), stock: its proxy() is empty, yet it uses
  ProxySelector.getDefault(), which reads https.proxyHost;
- HttpClient.newBuilder().proxy(ProxySelector.getDefault());
- HttpURLConnection;

each with a bad code (the annotation header reaches the app, one
oauth-error record) and, for the stock client, a good one; a plain GET
to 127.0.0.1 goes direct (http.nonProxyHosts). Without the
trust store property Java refuses the certificate and the proxy says
tls-untrusted. The store holds every certificate of ca-bundle.pem as a
trusted entry (keytool reads them back).
"""

import json
import os
import re
import subprocess

import harness
import oauth_helpers as oh
import runtime_helpers as rh
from harness import SLOW


class JavaRuntime(rh.RuntimeCase):

    @classmethod
    def setUpClass(cls):
        cls.javac = rh.require("javac", "openjdk-17-jdk-headless")
        cls.java = rh.require("java", "openjdk-17-jdk-headless")
        super().setUpClass()
        cls.classes = os.path.join(cls.tmp, "classes")
        r = subprocess.run([cls.javac, "-d", cls.classes, os.path.join(
            rh.CLIENTS, "OAuthExchange.java")], capture_output=True,
            timeout=120 * SLOW)
        if r.returncode != 0:
            cls.tearDownClass()
            raise AssertionError("javac failed: %s" %
                                 r.stderr.decode(errors="replace"))

    def exchange(self, mode, env=None):
        return lambda form: self.run_client(
            [self.java, "-cp", self.classes, "OAuthExchange", mode,
             oh.TOKEN_URL, form], env=env)

    def test_httpclient_stock_bad_code(self):
        self.check_bad_code(self.exchange("httpclient"))

    def test_httpclient_stock_good_code(self):
        self.check_good_code(self.exchange("httpclient"))

    def test_httpclient_default_selector_bad_code(self):
        self.check_bad_code(self.exchange("httpclient-selector"))

    def test_urlconnection_bad_code(self):
        self.check_bad_code(self.exchange("urlconnection"))

    def test_loopback_bypasses_the_proxy(self):
        # http.nonProxyHosts=localhost|127.0.0.1|[::1]: an app calling
        # itself or a local service is not sent through oauthlens (the
        # JDK's own default would do the same: this checks that the
        # contract's value does not lose it).
        n = len(self.proxy.access_records())
        out = self.run_client([self.java, "-cp", self.classes,
                               "OAuthExchange", "get",
                               self.origin.url("/echo"), ""])
        self.assertIsNone(out["error"], out)
        self.assertEqual(out["status"], 200, out)
        names = [h[0].lower() for h in json.loads(out["body"])["headers"]]
        self.assertNotIn("via", names, "the request went through the "
                         "proxy")
        self.assertEqual(len(self.proxy.access_records()), n)

    def test_without_trust_store_the_proxy_says_so(self):
        env = self.client_env()
        env["JAVA_TOOL_OPTIONS"] = " ".join(
            o for o in env["JAVA_TOOL_OPTIONS"].split()
            if not o.startswith("-Djavax.net.ssl."))
        rec = self.check_untrusted(self.exchange("httpclient", env),
                                   "java", "SSLHandshakeException")
        self.assertEqual(rec.get("host"), "github.com")

    def test_store_holds_the_bundle_as_trusted_entries(self):
        keytool = os.path.join(os.path.dirname(os.path.realpath(
            self.java)), "keytool")
        store = os.path.join(self.certs, "java-truststore.p12")
        self.assertEqual(os.stat(store).st_mode & 0o777, 0o644)
        r = subprocess.run([keytool, "-list", "-keystore", store,
                            "-storetype", "PKCS12", "-storepass",
                            "changeit"], capture_output=True,
                           timeout=60 * SLOW)
        text = r.stdout.decode(errors="replace")
        self.assertEqual(r.returncode, 0, text + r.stderr.decode())
        entries = re.findall(r"^([^,\n]+), .*, (\w+Entry),", text, re.M)
        bundle = oh.pem_certs(oh.read_text(self.ca_bundle))
        self.assertGreater(len(bundle), 1)
        self.assertEqual(len(entries), len(bundle), text[:2000])
        self.assertEqual({kind for _, kind in entries},
                         {"trustedCertEntry"})
        self.assertIn("oauthlens", [alias for alias, _ in entries])
        # A wrong password is refused: the MAC is checked.
        r = subprocess.run([keytool, "-list", "-keystore", store,
                            "-storepass", "changeme"], capture_output=True,
                           timeout=60 * SLOW)
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    harness.main()
