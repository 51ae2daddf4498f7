#!/usr/bin/python3
"""A client that does not trust the oauthlens CA (issue 4): one log line
that says so in plain words and names the fix for the client's runtime,
guessed from the CONNECT request's User-Agent. Real clients: curl and
Python requests (whose CONNECT has no User-Agent: its bare HTTP/1.0
CONNECT gives it away), each trusting only the fake GitHub's test CA, so each
rejects the certificate the proxy minted and says so with a TLS alert.

And the opposite: a client that goes away after the 200 without starting
TLS never saw our certificate; blaming the CA there would send a developer
after the wrong fix, so it is an info line of its own.
"""

import socket

import requests

import harness
import oauth_helpers as oh
from harness import SLOW


class UntrustedCA(oh.OAuthTestCase):

    def records(self, event, since):
        return [r for r in self.proxy.log_records()[since:]
                if r.get("event") == event]

    def mark(self):
        return len(self.proxy.log_records())

    def wait_record(self, event, since):
        found = harness.wait_until(lambda: self.records(event, since),
                                   10 * SLOW)
        self.assertTrue(found, "no %s record; proxy log:\n%s" %
                        (event, self.proxy.tail()))
        return found[0]

    def test_curl_rejects_the_minted_certificate(self):
        m = self.mark()
        r = harness.curl("https://github.com/zen", self.proxy,
                         ["--cacert", self.gca.ca], tmpdir=self.tmp)
        self.assertEqual(r.rc, 60, "curl should refuse a certificate "
                         "from a CA it does not trust: %r" % r)
        rec = self.wait_record("tls-untrusted", m)
        self.assertEqual(rec.get("runtime"), "curl", rec)
        self.assertEqual(rec.get("host"), "github.com", rec)
        self.assertIn("does not trust the oauthlens CA", rec.get("msg", ""))
        self.assertIn("--cacert " + self.ca_bundle, rec.get("fix", ""))
        self.assertEqual(rec.get("level"), "warn", rec)
        self.assertEqual(self.records("tls-client-gone", m), [])

    def test_python_requests_rejects_the_minted_certificate(self):
        m = self.mark()
        s = requests.Session()
        s.trust_env = False
        proxies = {"https": self.proxy.url}
        with self.assertRaises(requests.exceptions.SSLError):
            s.get("https://github.com/zen", proxies=proxies,
                  verify=self.gca.ca, timeout=10 * SLOW)
        rec = self.wait_record("tls-untrusted", m)
        # requests tunnels through http.client, whose bare
        # "CONNECT host:443 HTTP/1.0" carries no User-Agent.
        self.assertEqual(rec.get("runtime"), "python", rec)
        self.assertIn("REQUESTS_CA_BUNDLE=" + self.ca_bundle,
                      rec.get("fix", ""))
        self.assertIn("verify=", rec.get("fix", ""))

    def test_client_gone_before_tls_is_not_blamed_on_the_ca(self):
        m = self.mark()
        s = socket.create_connection(("127.0.0.1", self.proxy.port),
                                     timeout=10 * SLOW)
        local = "127.0.0.1:%d" % s.getsockname()[1]
        s.sendall(b"CONNECT github.com:443 HTTP/1.1\r\n"
                  b"Host: github.com:443\r\n"
                  b"User-Agent: curl/7.88.1\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            self.assertTrue(chunk, "the proxy closed before its 200")
            head += chunk
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        s.close()
        rec = self.wait_record("tls-client-gone", m)
        self.assertEqual(rec.get("client"), local, rec)
        self.assertIn("before the TLS handshake began", rec.get("msg", ""))
        self.assertEqual(rec.get("level"), "info", rec)
        self.assertEqual([r for r in self.records("tls-untrusted", m)
                          if r.get("client") == local], [],
                         "an abandoned connection was blamed on the CA")


if __name__ == "__main__":
    harness.main()
