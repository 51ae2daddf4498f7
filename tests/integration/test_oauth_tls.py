#!/usr/bin/python3
"""TLS interception (issue 4) with the real binary and real TLS clients
(curl, openssl s_client -proxy, Python ssl):

- the certificate minted for github.com verifies with
  `openssl verify -CAfile certs/ca.pem`, names the host, is short-lived,
  and is cached (a second connection gets the same serial);
- a restart with the same --certs reuses the CA;
- a host that is not intercepted is tunnelled: the client sees the
  origin's own certificate (trusting the test CA works, trusting only the
  oauthlens CA fails);
- an upstream with a certificate for the wrong name, or from an unknown
  CA: 502 whose body (and log) says why;
- the CA key readable by others (0644) or group (0640), or not matching
  the certificate: refused at start, the message says chmod 600;
- --print-ca and --env print the paths (test_run.py checks every --env
  variable); GET /ca.pem on the proxy serves it.
"""

import calendar
import os
import re
import shutil
import socket
import stat
import subprocess
import time

import harness
import oauth_helpers as oh
from harness import SLOW


def cert_time(s):
    return calendar.timegm(time.strptime(s, "%b %d %H:%M:%S %Y %Z"))


class TLSIntercept(oh.OAuthTestCase):

    @classmethod
    def extra_proxy_args(cls):
        g = cls.gca
        # An upstream whose certificate names another host, one whose CA
        # the proxy does not know, and a host that is not intercepted.
        cls.wrongname = oh.FakeGitHub(tls=g.leaf("other.test"),
                                      server_name="other.test").start()
        cls.unknownca = oh.FakeGitHub(
            tls=g.leaf("unknownca.test", other_ca=True),
            server_name="unknownca.test").start()
        cls.tunnel_cert = g.leaf("tunnel.test")
        cls.tunnel = oh.FakeGitHub(tls=cls.tunnel_cert,
                                   server_name="tunnel.test").start()
        cls._fakes += [cls.wrongname, cls.unknownca, cls.tunnel]
        return ["--intercept", "github.com",
                "--intercept", "wrongname.test",
                "--intercept", "unknownca.test",
                "--resolve", "wrongname.test:443:127.0.0.1:%d" %
                cls.wrongname.port,
                "--resolve", "unknownca.test:443:127.0.0.1:%d" %
                cls.unknownca.port,
                "--resolve", "tunnel.test:443:127.0.0.1:%d" %
                cls.tunnel.port]

    def write(self, name, text):
        p = os.path.join(self.tmp, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def leaf_of(self, host, proxy=None):
        rc, out, certs = oh.s_client((proxy or self.proxy).port, host)
        self.assertTrue(certs, "s_client got no certificate from %s "
                        "through the proxy:\n%s\n%s" %
                        (host, out[-2000:], self.proxy.tail()))
        return certs[0]

    def verify(self, leaf_pem, cafile, host):
        p = self.write("leaf-%d.pem" % time.monotonic_ns(), leaf_pem)
        return oh.openssl("verify", "-CAfile", cafile, "-purpose",
                          "sslserver", "-verify_hostname", host, p,
                          check=False)

    # -- minted certificates ----------------------------------------------
    def test_minted_cert_verifies_and_names_host(self):
        leaf = self.leaf_of("github.com")
        r = self.verify(leaf, self.ca_pem, "github.com")
        self.assertEqual(r.returncode, 0, "openssl verify: %s%s" %
                         (r.stdout.decode(), r.stderr.decode()))
        self.assertIn(b": OK", r.stdout)
        info = oh.cert_info(leaf, self.tmp)
        self.assertIn("DNS:github.com", info["san"])
        ca = oh.cert_info(oh.read_text(self.ca_pem), self.tmp)
        self.assertEqual(info["issuer"], ca["subject"])
        # Not the fake's own certificate: the proxy minted it.
        fake = oh.cert_info(oh.read_text(self.gca.github[0]), self.tmp)
        self.assertNotEqual(info["fingerprint"], fake["fingerprint"])
        span = cert_time(info["not_after"]) - cert_time(info["not_before"])
        self.assertLess(span, 200 * 86400, "leaf valid for %.0f days" %
                        (span / 86400))
        self.assertLess(cert_time(info["not_before"]), time.time())
        self.assertGreater(cert_time(info["not_after"]), time.time())
        # A random serial of at least 64 bits.
        self.assertGreaterEqual(len(info["serial"].lstrip("0")), 15,
                                info["serial"])
        # The test CA (what the origin uses) does not vouch for it.
        r = self.verify(leaf, self.gca.ca, "github.com")
        self.assertNotEqual(r.returncode, 0)

    def test_second_connection_reuses_cached_cert(self):
        a = oh.cert_info(self.leaf_of("github.com"), self.tmp)
        b = oh.cert_info(self.leaf_of("github.com"), self.tmp)
        self.assertEqual(a["serial"], b["serial"])
        self.assertEqual(a["fingerprint"], b["fingerprint"])

    def test_ca_files(self):
        st = os.stat(os.path.join(self.certs, "ca-key.pem"))
        self.assertEqual(stat.S_IMODE(st.st_mode) & 0o077, 0,
                         "ca-key.pem mode %o" % stat.S_IMODE(st.st_mode))
        ca = oh.read_text(self.ca_pem)
        info = oh.cert_info(ca, self.tmp)
        self.assertRegex(info["text"], r"CA:TRUE")
        bundle = oh.read_text(self.ca_bundle)
        certs = oh.pem_certs(bundle)
        self.assertIn(oh.pem_certs(ca)[0].strip(),
                      [c.strip() for c in certs])
        self.assertGreater(len(certs), 1, "ca-bundle.pem holds only the "
                           "oauthlens CA, not the system store")

    def test_restart_reuses_ca(self):
        d = os.path.join(self.tmp, "certs-restart")
        p1 = self.new_oauth_proxy(certs=d, name="restart-1")
        ca1 = oh.read_bytes(os.path.join(d, "ca.pem"))
        key1 = oh.read_bytes(os.path.join(d, "ca-key.pem"))
        leaf1 = self.leaf_of("github.com", p1)
        self.assertEqual(p1.stop(), 0)
        p2 = self.new_oauth_proxy(certs=d, name="restart-2")
        self.assertEqual(oh.read_bytes(os.path.join(d, "ca.pem")), ca1,
                         "the restart made a new CA")
        self.assertEqual(oh.read_bytes(os.path.join(d, "ca-key.pem")),
                         key1)
        ca_copy = self.write("ca-restart-1.pem", ca1.decode())
        for leaf in (leaf1, self.leaf_of("github.com", p2)):
            r = self.verify(leaf, ca_copy, "github.com")
            self.assertEqual(r.returncode, 0, r.stderr)
        # And a real exchange still goes through with the old ca.pem.
        code = self.fresh_code()
        r = self.curl_token(self.params(code), proxy=p2, cacert=ca_copy)
        self.assertEqual((r.rc, r.status), (0, 200), r)

    # -- tunnels ------------------------------------------------------------
    def test_not_intercepted_host_sees_origin_cert(self):
        r = harness.curl("https://tunnel.test/zen", self.proxy,
                         ["--cacert", self.gca.ca], tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 200), "%r\n%s" %
                         (r, self.proxy.tail()))
        self.assertEqual(r.body, b"fake github (tunnel.test)\n")
        self.assertIsNone(r.header("Via"), "the tunnel's HTTP was touched")
        r = harness.curl("https://tunnel.test/zen", self.proxy,
                         ["--cacert", self.ca_pem], tmpdir=self.tmp)
        self.assertNotEqual(r.rc, 0, "curl trusted tunnel.test with only "
                            "the oauthlens CA: it was intercepted")
        self.assertIn("certificate", r.stderr.lower())
        leaf = self.leaf_of("tunnel.test")
        got = oh.cert_info(leaf, self.tmp)
        want = oh.cert_info(oh.read_text(self.tunnel_cert[0]), self.tmp)
        self.assertEqual(got["fingerprint"], want["fingerprint"])

    def test_intercepted_non_token_request_untouched(self):
        m = self.mark()
        r = harness.curl("https://github.com/zen", self.proxy,
                         ["--cacert", self.ca_pem], tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(r.body, b"fake github (github.com)\n")
        self.assertIsNone(r.header(oh.HEADER))
        self.assertEqual(self.new_log_records(m, expect=0), [])

    # -- upstream verification ------------------------------------------------
    def upstream_failure(self, host, words):
        m = self.mark()
        n_wrong = len(self.wrongname.requests) + len(self.unknownca.requests)
        r = harness.curl("https://%s%s" % (host, oh.TOKEN_PATH), self.proxy,
                         ["--cacert", self.ca_pem, "-d", "code=x"],
                         tmpdir=self.tmp)
        self.assertEqual(r.rc, 0, "curl: %r\n%s" % (r, self.proxy.tail()))
        self.assertEqual(r.status, 502, "%r\n%s" % (r, self.proxy.tail()))
        self.assert_reason(r.body, *words)
        self.assertEqual(len(self.wrongname.requests) +
                         len(self.unknownca.requests), n_wrong,
                         "a request reached an unverified upstream")
        # The log says the same.
        def logged():
            text = "\n".join(str(x) for x in
                             self.proxy.log_records()[m["log"]:]).lower()
            return all(w.lower() in text for w in words)
        self.assertTrue(harness.wait_until(logged, 5 * SLOW),
                        "the log does not say %r:\n%s" %
                        (words, self.proxy.tail()))

    def test_upstream_wrong_name(self):
        self.upstream_failure("wrongname.test", ["wrong name"])

    def test_upstream_unknown_issuer(self):
        self.upstream_failure("unknownca.test", ["unknown issuer"])

    # -- the CA key's protection ------------------------------------------------
    def start_refused(self, certs):
        port = harness.free_port()
        cfg = harness.write_config(os.path.join(self.tmp, "refused.conf"),
                                   self.proxy_config_for())
        try:
            r = subprocess.run([harness.BIN, "-c", cfg, "-l",
                                "127.0.0.1:%d" % port, "--certs", certs],
                               capture_output=True, timeout=10 * SLOW,
                               cwd=harness.SRC, env=harness.clean_env(),
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.fail("the proxy started (ran for %gs) with an unsafe CA "
                      "key" % (10 * SLOW))
        return r

    def make_ca(self, name):
        d = os.path.join(self.tmp, name)
        r = harness.run_proxy_cli(["--certs", d, "--print-ca"])
        self.assertEqual(r.returncode, 0, r.stderr)
        return d

    def test_ca_key_readable_by_others_refused(self):
        for mode in (0o644, 0o640, 0o604):
            with self.subTest(mode=oct(mode)):
                d = self.make_ca("certs-mode-%o" % mode)
                key = os.path.join(d, "ca-key.pem")
                os.chmod(key, mode)
                r = self.start_refused(d)
                msg = (r.stdout + r.stderr).decode(errors="replace")
                self.assertNotEqual(r.returncode, 0, msg)
                self.assertRegex(msg, r"chmod 0?600", msg)
                self.assertIn("ca-key.pem", msg)
                self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), mode,
                                 "the proxy changed the key's mode itself")

    def test_ca_key_not_matching_refused(self):
        d = self.make_ca("certs-mismatch")
        other = self.make_ca("certs-other")
        shutil.copy(os.path.join(other, "ca-key.pem"),
                    os.path.join(d, "ca-key.pem"))
        os.chmod(os.path.join(d, "ca-key.pem"), 0o600)
        r = self.start_refused(d)
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn("ca-key.pem", (r.stdout + r.stderr).decode())

    # -- telling the user -----------------------------------------------------------
    def test_print_ca(self):
        d = os.path.join(self.tmp, "certs-print")
        r = harness.run_proxy_cli(["--certs", d, "--print-ca"])
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(os.path.join(d, "ca.pem")),
                        "--print-ca did not create the CA")
        self.assertIn(os.path.join(os.path.realpath(d), "ca.pem"), out)
        self.assertIn(os.path.join(os.path.realpath(d), "ca-bundle.pem"),
                      out)
        # A second run prints the same CA without replacing it.
        ca = oh.read_bytes(os.path.join(d, "ca.pem"))
        r = harness.run_proxy_cli(["--certs", d, "--print-ca"])
        self.assertEqual(r.returncode, 0)
        self.assertEqual(oh.read_bytes(os.path.join(d, "ca.pem")), ca)

    def test_env(self):
        d = os.path.realpath(os.path.join(self.tmp, "certs-env"))
        port = harness.free_port()
        r = harness.run_proxy_cli(["--certs", d, "--env", "-l",
                                   "127.0.0.1:%d" % port])
        self.assertEqual(r.returncode, 0, r.stderr)
        names = ("HTTP_PROXY", "HTTPS_PROXY", "SSL_CERT_FILE",
                 "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
                 "CURL_CA_BUNDLE", "GIT_SSL_CAINFO")
        script = 'eval "$1"\n' + "".join(
            'printf "%s=%%s\\n" "${%s-<unset>}"\n' % (n, n) for n in names)
        e = subprocess.run(["bash", "-c", script, "bash", r.stdout.decode()],
                           capture_output=True, timeout=10,
                           env={"PATH": os.environ.get("PATH", "/usr/bin")})
        self.assertEqual(e.returncode, 0, e.stderr)
        got = dict(line.split("=", 1) for line in
                   e.stdout.decode().splitlines())
        self.assertEqual(got["HTTP_PROXY"], "http://127.0.0.1:%d" % port)
        self.assertEqual(got["HTTPS_PROXY"], "http://127.0.0.1:%d" % port)
        self.assertEqual(got["NODE_EXTRA_CA_CERTS"],
                         os.path.join(d, "ca.pem"))
        for n in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                  "GIT_SSL_CAINFO"):
            self.assertEqual(got[n], os.path.join(d, "ca-bundle.pem"), n)
            self.assertTrue(os.path.exists(got[n]), n)
        # Java gets its proxy and trust store from JAVA_TOOL_OPTIONS now,
        # not advice to rewrite the JDK's store.
        self.assertNotIn("keytool", r.stdout.decode())
        self.assertRegex(r.stdout.decode(), r"JAVA_TOOL_OPTIONS=.*%s" %
                         re.escape(os.path.join(d, "java-truststore.p12")))

    def test_ca_pem_served(self):
        r = harness.curl("http://127.0.0.1:%d/ca.pem" % self.proxy.port,
                         None, tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(oh.pem_certs(r.body), oh.pem_certs(
            oh.read_text(self.ca_pem)))


if __name__ == "__main__":
    oh.main()
