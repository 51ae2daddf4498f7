#!/usr/bin/python3
"""The status page in a real browser: headless Chromium (Debian's
chromium package) loads http://127.0.0.1:PORT/ and its DOM shows the
annotated errors this test produced -- code, hint (Japanese and English:
the page's UTF-8 must decode), client_id, redirect_uri -- newest first in
table#errors, with the meta refresh in place.

Skipped, with a message, when /usr/bin/chromium is absent
(scripts/test.sh installs it). Servers: a fake token endpoint (sdhelp)."""

import os
import shutil
import subprocess
import tempfile
import unittest

import harness
from sdhelp import (BAD_CREDS_BODY, Daemon, FakeTokenEndpoint, StatusPage,
                    chromium_path, hint, stop_quietly, token_request)

CHROMIUM = chromium_path()


@unittest.skipIf(CHROMIUM is None, "chromium not installed: /usr/bin/chromium "
                 "absent (Debian package chromium; scripts/test.sh installs "
                 "it)")
class Browser(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="oauthlens-browser-")
        if not harness.KEEP_TMP:
            self.addCleanup(shutil.rmtree, self.tmp, True)
        self.fake = FakeTokenEndpoint().start()
        self.addCleanup(self.fake.stop)
        self.d = Daemon(self.tmp, {"lang": "auto"},
                        self.fake.resolve_arg()).start()
        self.addCleanup(stop_quietly, self.d)

    def dump_dom(self, url):
        profile = os.path.join(self.tmp, "chromium-profile")
        env = harness.clean_env()
        env["HOME"] = self.tmp
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-quic", "--no-first-run",
               "--disable-background-networking",
               "--disable-component-update", "--disable-sync",
               "--user-data-dir=" + profile, "--dump-dom", url]
        try:
            r = subprocess.run(cmd, capture_output=True, timeout=90,
                               env=env, cwd=self.tmp,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.fail("chromium did not finish within 90 s")
        self.assertEqual(r.returncode, 0, "chromium failed:\n%s" %
                         r.stderr.decode(errors="replace")[-3000:])
        return r.stdout.decode("utf-8")

    def test_page_shows_annotated_errors(self):
        r = token_request(self.d.url, client_id="Iv1.browser.ja",
                          redirect_uri="http://localhost:5173/auth/cb",
                          headers=["Accept-Language: ja"], tmpdir=self.tmp)
        self.assertIsNotNone(r.header("OAuth-Troubleshooting"), r)
        self.fake.body = BAD_CREDS_BODY
        r = token_request(self.d.url, client_id="Iv1.browser.en",
                          redirect_uri="http://localhost:5173/auth/cb2",
                          headers=["Accept-Language: en"], tmpdir=self.tmp)
        self.assertIsNotNone(r.header("OAuth-Troubleshooting"), r)

        dom = self.dump_dom("http://127.0.0.1:%d/" % self.d.port)
        self.assertIn("bad_verification_code", dom)
        self.assertIn(hint("bad_verification_code", "ja"), dom,
                      "the Japanese hint is not in the browser's DOM "
                      "(encoding?)")
        p = StatusPage(dom)
        self.assertIn("errors", p.tables, "no table#errors in the DOM")
        self.assertIsNotNone(p.refresh, "no meta refresh in the DOM")
        self.assertGreaterEqual(len(p.rows), 2, p.rows)
        first, second = p.rows[0], p.rows[1]
        col = p.column
        self.assertEqual(first[col("client_id")]["text"].strip(),
                         "Iv1.browser.en", "newest first")
        self.assertEqual(first[col("error")]["text"].strip(),
                         "incorrect_client_credentials")
        self.assertIn(hint("incorrect_client_credentials", "en"),
                      first[col("hint")]["text"])
        self.assertEqual(second[col("client_id")]["text"].strip(),
                         "Iv1.browser.ja")
        self.assertEqual(second[col("error")]["text"].strip(),
                         "bad_verification_code")
        self.assertIn(hint("bad_verification_code", "ja"),
                      second[col("hint")]["text"])
        self.assertEqual(second[col("redirect_uri")]["text"].strip(),
                         "http://localhost:5173/auth/cb")
        self.assertEqual(second[col("host")]["text"].strip(), "github.com")
        # The browser really fetched it from the daemon.
        self.assertTrue(self.d.wait_access(
            lambda a: a.get("target") == "/" and a.get("status") == 200,
            timeout=5), self.d.tail())
        rc = self.d.stop(check=True)
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    harness.main()
