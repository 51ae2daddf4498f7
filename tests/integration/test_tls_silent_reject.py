#!/usr/bin/python3
"""Rejections after the handshake (issue 12, item 6). GnuTLS clients
(wget, Debian's git without GIT_SSL_CAINFO) check the certificate only
once the handshake is over, then close without an alert or a byte: the
proxy logs tls-untrusted, naming the runtime, and counts it in
oauthlens_tls_client_failures_total. A connection that stays idle past
the short window and then closes is a keep-alive connection, not a
rejection: nothing is logged or counted.

- a Python client that completes the handshake (trusting our CA) and
  closes at once: blamed (this is the shape of the rejection);
- one that stays idle past the window, then closes: not blamed;
- the real wget in a clean environment with the --env lines but without
  WGETRC (so without the CA): tls-untrusted, runtime=wget; with WGETRC
  its token POST goes through and is annotated;
- the real git without GIT_SSL_CAINFO: tls-untrusted, runtime=git.
"""

import os
import re
import socket
import ssl
import subprocess
import time

import harness
import oauth_helpers as oh
import runtime_helpers as rh
from harness import SLOW

WINDOW_S = 2.0		# SILENT_REJECT_MS in proxy/intercept.c


class SilentReject(rh.RuntimeCase):

    def failures(self):
        r = harness.curl("http://127.0.0.1:%d/metrics" % self.proxy.port,
                         None, tmpdir=self.tmp)
        self.assertEqual(r.status, 200, r)
        m = re.search(rb"^oauthlens_tls_client_failures_total (\d+)$",
                      r.body, re.M)
        self.assertTrue(m, r.body[:2000])
        return int(m.group(1))

    def handshake(self):
        """A client socket through CONNECT github.com:443 with TLS done
        (trusting the oauthlens CA); (tls socket, "ip:port")."""
        s = socket.create_connection(("127.0.0.1", self.proxy.port),
                                     timeout=10 * SLOW)
        local = "127.0.0.1:%d" % s.getsockname()[1]
        s.sendall(b"CONNECT github.com:443 HTTP/1.1\r\n"
                  b"Host: github.com:443\r\n"
                  b"User-Agent: oauthlens-test\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(1)
            self.assertTrue(chunk, "the proxy closed before its 200")
            head += chunk
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        ctx = ssl.create_default_context(cafile=self.ca_pem)
        return ctx.wrap_socket(s, server_hostname="github.com"), local

    def closed(self, local, since):
        """Wait until the proxy has closed the connection from local."""
        needle = "from %s closed" % local
        return harness.wait_until(lambda: [
            r for r in self.proxy.log_records()[since:]
            if needle in str(r.get("msg", ""))], 10 * SLOW)

    def records_for(self, local, since):
        return [r for r in self.untrusted_records(since)
                if r.get("client") == local]

    def test_close_right_after_the_handshake_is_blamed(self):
        m = len(self.proxy.log_records())
        before = self.failures()
        t, local = self.handshake()
        t.close()
        self.assertTrue(self.closed(local, m), self.proxy.tail())
        recs = self.records_for(local, m)
        self.assertEqual(len(recs), 1, self.proxy.tail())
        self.assertEqual(recs[0].get("level"), "warn")
        self.assertEqual(recs[0].get("host"), "github.com")
        self.assertIn("closed without sending a request",
                      recs[0].get("msg", ""))
        self.assertIn("fix", recs[0])
        self.assertEqual(self.failures(), before + 1)

    def test_idle_past_the_window_is_not_blamed(self):
        m = len(self.proxy.log_records())
        before = self.failures()
        t, local = self.handshake()
        time.sleep(WINDOW_S * SLOW + 0.5)
        t.close()
        self.assertTrue(self.closed(local, m), self.proxy.tail())
        self.assertEqual(self.records_for(local, m), [],
                         "an idle keep-alive connection was blamed")
        self.assertEqual(self.failures(), before)

    def test_a_request_then_close_is_not_blamed(self):
        m = len(self.proxy.log_records())
        t, local = self.handshake()
        t.sendall(b"GET /zen HTTP/1.1\r\nHost: github.com\r\n"
                  b"Connection: close\r\n\r\n")
        data = b""
        while True:
            chunk = t.recv(65536)
            if not chunk:
                break
            data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:200])
        t.close()
        self.assertTrue(self.closed(local, m), self.proxy.tail())
        self.assertEqual(self.records_for(local, m), [])

    def wget(self, env, form):
        out = os.path.join(self.tmp, "wget-%d.out" % time.monotonic_ns())
        r = subprocess.run([rh.require("wget", "wget"), "-q", "-t", "1",
                            "-T", str(int(30 * SLOW)), "-O", out,
                            "--header", "Accept: application/json",
                            "--post-data", form, oh.TOKEN_URL],
                           env=env, capture_output=True, timeout=60 * SLOW,
                           cwd=self.tmp, stdin=subprocess.DEVNULL)
        return r, out

    def test_wget_without_the_ca_is_blamed(self):
        m = len(self.proxy.log_records())
        before = self.failures()
        n = self.gh.token_request_count
        r, _ = self.wget(self.client_env(drop=("WGETRC",)),
                         self.form("beadbead"))
        self.assertEqual(r.returncode, 5, "wget should fail to verify: "
                         "%r" % r)
        recs = harness.wait_until(lambda: self.untrusted_records(m),
                                  10 * SLOW)
        self.assertTrue(recs, self.proxy.tail())
        self.assertEqual(recs[0].get("runtime"), "wget", recs[0])
        self.assertEqual(self.gh.token_request_count, n)
        self.assertEqual(self.failures(), before + 1)

    def test_wget_with_the_env_lines_exchanges(self):
        env = self.client_env()
        self.assertEqual(env["WGETRC"], os.path.join(
            os.path.realpath(self.certs), "wgetrc"))
        m = self.mark()
        r, out = self.wget(env, self.form("beadbeadbeadbeadbead"))
        self.assertEqual(r.returncode, 0, "%r\n%s" % (r, self.proxy.tail()))
        rec = self.one_record_since(m["gh"])
        self.assertEqual(rec.outcome, "bad_verification_code")
        self.assert_body(oh.read_bytes(out), rec)
        recs = self.new_log_records(m)
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0].get("error"), "bad_verification_code")

    def test_git_without_its_variable_is_blamed(self):
        git = rh.require("git", "git")
        m = len(self.proxy.log_records())
        r = subprocess.run([git, "ls-remote", "https://github.com/o/r"],
                           env=self.client_env(drop=("GIT_SSL_CAINFO",)),
                           capture_output=True, timeout=60 * SLOW,
                           cwd=self.tmp, stdin=subprocess.DEVNULL)
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn(b"certificate", r.stderr)
        recs = harness.wait_until(lambda: self.untrusted_records(m),
                                  10 * SLOW)
        self.assertTrue(recs, self.proxy.tail())
        self.assertEqual(recs[0].get("runtime"), "git", recs[0])


if __name__ == "__main__":
    harness.main()
