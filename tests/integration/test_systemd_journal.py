#!/usr/bin/python3
"""Logging to the journal: with --log-target journal, or automatically when
JOURNAL_STREAM names the daemon's stderr (as systemd sets it), records go
to the journal (sd_journal_send) with a priority and the fields
OAUTH_ERROR, OAUTH_CLIENT_ID, REQ_ID, HOST and MESSAGE (the hint, in the
chosen language) instead of stderr.

Three ways to look, depending on the machine:
- always: --log-target journal starts, proxies, annotates, answers
  /healthz and exits 0 on SIGTERM without a journald (no socket at
  /run/systemd/journal/socket) and writes no records to stderr; the
  JOURNAL_STREAM check takes stderr only when dev:ino match;
- where the test may make a private mount namespace (root, unshare):
  /run is replaced by a directory holding a fake journald socket, and the
  entries the daemon sends are decoded from the native protocol and
  checked field by field;
- where a real journald runs: the entry is found with journalctl.

Clients: curl. Servers: a fake token endpoint (sdhelp), harness Origin."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import harness
from harness import SLOW, Origin
from sdhelp import (Daemon, FakeJournal, FakeTokenEndpoint, hint,
                    journal_wrapper, short_dir, stop_quietly, token_request,
                    unshare_works)

JOURNAL_SOCKET = "/run/systemd/journal/socket"
JOURNALCTL = shutil.which("journalctl")
UNSHARE = unshare_works()


class JournalBase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeTokenEndpoint().start()
        cls.origin = Origin().start()

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()
        cls.origin.stop()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="oauthlens-journal-")
        if not harness.KEEP_TMP:
            self.addCleanup(shutil.rmtree, self.tmp, True)

    def daemon(self, config=None, args=(), env=None, wrapper=None,
               name="daemon"):
        d = Daemon(self.tmp, config, list(self.fake.resolve_arg()) +
                   list(args), env=env, wrapper=wrapper, name=name)
        return d

    def run_traffic(self, d, client_id, lang_header=None):
        hdrs = ["Accept-Language: %s" % lang_header] if lang_header else []
        r = token_request(d.url, client_id=client_id,
                          redirect_uri="http://localhost:3000/cb",
                          headers=hdrs, tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertIsNotNone(r.header("OAuth-Troubleshooting"), r.headers)
        h = d.http_get("/healthz")
        self.assertEqual((h.status, h.body), (200, b"ok\n"))
        r = harness.curl(self.origin.url("/echo"), d, tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 200), r)

    def stop_ok(self, d):
        rc = d.stop(check=False)
        self.assertEqual(rc, 0, "exit status %r\n%s" % (rc, d.tail(n=60)))
        self.assertIsNone(d.sanitizer_report(), d.tail(n=60))

    def stderr_records(self, d):
        return [r for r in d.log_records() if r.get("event") in
                ("access", "oauth-error", "message")]


class JournalTarget(JournalBase):

    def test_journal_target_starts_serves_and_stops(self):
        # Without a journald here the records are dropped; the daemon must
        # neither crash nor fall back to half-written stderr lines.
        d = self.daemon(args=["--log-target", "journal"]).start()
        self.addCleanup(stop_quietly, d)
        for i in range(3):
            self.run_traffic(d, "Iv1.nojournald%d" % i)
        self.assertTrue(d.alive(), d.tail())
        self.stop_ok(d)
        self.assertEqual(self.stderr_records(d), [], "records went to "
                         "stderr although --log-target journal")

    def test_journal_stream_must_match_stderr(self):
        # JOURNAL_STREAM naming another file: stderr is not the journal.
        d = self.daemon(env={"JOURNAL_STREAM": "1:1"}).start()
        self.addCleanup(stop_quietly, d)
        self.run_traffic(d, "Iv1.notjournal")
        rec = d.wait_record(lambda r: r.get("event") == "oauth-error")
        self.assertIsNotNone(rec, "JOURNAL_STREAM for another file sent "
                             "the records away from stderr\n" + d.tail())
        self.stop_ok(d)

    def test_journal_stream_matching_stderr_leaves_stderr(self):
        d = self.daemon(name="jstream")
        open(d.log_path, "wb").close()
        st = os.stat(d.log_path)
        d.env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        d.start()
        self.addCleanup(stop_quietly, d)
        self.assertEqual(os.stat(d.log_path).st_ino, st.st_ino)
        self.run_traffic(d, "Iv1.stream")
        self.stop_ok(d)
        self.assertEqual(self.stderr_records(d), [], "JOURNAL_STREAM matches "
                         "stderr, yet records were written to it")


@unittest.skipUnless(UNSHARE, "cannot make a private mount namespace here "
                     "(needs root and unshare); the fake journald needs one")
class FakeJournald(JournalBase):

    def setUp(self):
        super().setUp()
        self.rundir = os.path.join(short_dir(self.tmp), "run")
        self.journal = FakeJournal(self.rundir)
        self.addCleanup(self.journal.close)

    def oauth_entry(self, client_id):
        es = self.journal.wait(lambda e: e.get("OAUTH_CLIENT_ID") ==
                               client_id, 5)
        self.assertTrue(es, "no journal entry with OAUTH_CLIENT_ID=%s; "
                        "entries: %r" % (client_id, self.journal.entries[-5:]))
        self.assertEqual(len(es), 1, es)
        return es[0]

    def check_entry(self, e, client_id, lang):
        self.assertEqual(e.get("OAUTH_ERROR"), "bad_verification_code", e)
        self.assertEqual(e.get("OAUTH_CLIENT_ID"), client_id, e)
        self.assertEqual(e.get("OAUTH_REDIRECT_URI"),
                         "http://localhost:3000/cb", e)
        self.assertRegex(e.get("REQ_ID", ""), r"^[0-9]+$", e)
        self.assertEqual(e.get("HOST"), "github.com", e)
        self.assertEqual(e.get("PRIORITY"), "4", "an annotated error is "
                         "logged at warning priority: %r" % e)
        msg = e.get("MESSAGE", "")
        self.assertIn(hint("bad_verification_code", lang), msg,
                      "MESSAGE does not carry the %s hint: %r" % (lang, msg))
        self.assertIn("bad_verification_code", msg)
        for k in e:
            self.assertRegex(k, r"^[A-Z0-9][A-Z0-9_]*$", "invalid journal "
                             "field name %r" % k)

    def test_fields_with_log_target_journal(self):
        d = self.daemon({"lang": "auto"}, ["--log-target", "journal"],
                        wrapper=journal_wrapper(self.rundir)).start()
        self.addCleanup(stop_quietly, d)
        self.run_traffic(d, "Iv1.journal.en", lang_header="en-US,en;q=0.8")
        self.run_traffic(d, "Iv1.journal.ja", lang_header="ja")
        self.check_entry(self.oauth_entry("Iv1.journal.en"),
                         "Iv1.journal.en", "en")
        ja = self.oauth_entry("Iv1.journal.ja")
        self.check_entry(ja, "Iv1.journal.ja", "ja")
        # Other records: the start message and access records, at info.
        listening = self.journal.wait(
            lambda e: "listening on 127.0.0.1:%d" % d.port in
            e.get("MESSAGE", ""), 5)
        self.assertTrue(listening, self.journal.entries[:5])
        self.assertEqual(listening[0].get("PRIORITY"), "6", listening[0])
        self.assertTrue(self.journal.wait(lambda e: e.get("REQ_ID") ==
                                          ja.get("REQ_ID") and
                                          e.get("PRIORITY") == "6", 5),
                        "no access record for request %s" % ja.get("REQ_ID"))
        self.stop_ok(d)
        self.assertEqual(self.journal.errors, [])
        self.assertEqual(self.stderr_records(d), [], "records also went to "
                         "stderr")

    def test_journal_stream_autodetected(self):
        d = self.daemon({"lang": "en"}, wrapper=journal_wrapper(self.rundir),
                        name="auto")
        open(d.log_path, "wb").close()
        st = os.stat(d.log_path)
        d.env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        d.start()
        self.addCleanup(stop_quietly, d)
        self.run_traffic(d, "Iv1.autodetect")
        self.check_entry(self.oauth_entry("Iv1.autodetect"),
                         "Iv1.autodetect", "en")
        self.stop_ok(d)
        self.assertEqual(self.stderr_records(d), [])


@unittest.skipUnless(os.path.exists(JOURNAL_SOCKET) and JOURNALCTL,
                     "no journald running here (%s absent)" % JOURNAL_SOCKET)
class RealJournald(JournalBase):

    def test_entry_found_with_journalctl(self):
        cid = "Iv1.real%d" % os.getpid()
        d = self.daemon({"lang": "en"}, ["--log-target", "journal"]).start()
        self.addCleanup(stop_quietly, d)
        self.run_traffic(d, cid)

        def find():
            r = subprocess.run([JOURNALCTL, "--no-pager", "-o", "json",
                                "OAUTH_CLIENT_ID=" + cid,
                                "OAUTH_ERROR=bad_verification_code"],
                               capture_output=True, timeout=20)
            out = []
            for line in r.stdout.decode(errors="replace").splitlines():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
            return out
        es = harness.wait_until(find, 10 * SLOW, interval=0.5)
        self.assertTrue(es, "journalctl OAUTH_CLIENT_ID=%s found nothing"
                        % cid)
        e = es[0]
        self.assertEqual(e.get("HOST"), "github.com", e)
        self.assertEqual(e.get("PRIORITY"), "4", e)
        self.assertRegex(str(e.get("REQ_ID")), r"^[0-9]+$")
        self.assertIn(hint("bad_verification_code", "en"),
                      str(e.get("MESSAGE")))
        self.stop_ok(d)


if __name__ == "__main__":
    harness.main()
