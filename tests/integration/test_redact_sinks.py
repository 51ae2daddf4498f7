#!/usr/bin/python3
"""Secrets in diagnoses (issue 14, item 6): one redaction for every sink.

A diagnosis is built from what the request carried: a redirect_uri with
userinfo, a session in its query, a token in its fragment, the request's
own code in its path; a client_id that is the client secret padded with
a space. Each is planted, then searched for in every sink the proxy
writes: the JSON log, the text log, the OAuth-Troubleshooting header, the
status page "/" and /metrics (the journal gets the same record fields as
the logs; JournalRedaction below reads the fake journald's entries where
the test may make a private mount namespace, as test_systemd_journal
does).

Clients: curl through the proxy (intercepted TLS) to the fake GitHub.
Flows: an authorize request with a secret-laden redirect_uri, exchanged
with a clean one (the secrets are in {registered}); an authorize with the
callback, exchanged with the secret-laden one (they are in {sent}); a
swapped, padded client_id (cause whitespace). The records must still say
what they should (cause, host, the clean parts of the URLs), so that the
search is not vacuous.
"""

import os
import secrets
import shutil
import tempfile
import unittest
import urllib.parse

import diag_helpers as dh
import harness
from sdhelp import (BAD_CREDS_BODY, Daemon, FakeJournal, FakeTokenEndpoint,
                    journal_wrapper, short_dir, stop_quietly, unshare_works)

CB = "http://localhost:3000/cb"


def needle(tag):
    return "%s%s" % (tag, secrets.token_hex(10))


class RedactSinks(dh.DiagTestCase):

    def setUp(self):
        super().setUp()
        self.text_proxy = self.new_oauth_proxy(log_format="text",
                                               name="proxy-text")

    def planted(self, code="", fragment=True):
        """A redirect_uri below CB with a secret in every place a URL can
        hide one (the fragment left out for an authorize request: the
        fake appends the code after it), and the needles it holds."""
        n = {k: needle(k) for k in ("USER", "PASS", "SESS", "FRAG", "ST")}
        uri = ("http://%s:%s@localhost:3000/cb/%s?session=%s&scope=repo"
               "&st=%s" % (n["USER"], n["PASS"], code, n["SESS"], n["ST"]))
        if fragment:
            uri += "#access_token=" + n["FRAG"]
        else:
            del n["FRAG"]
        return uri, list(n.values())

    def exchange(self, proxy, params):
        m = self.mark(proxy)
        r = self.curl_token(params, proxy=proxy)
        self.assertEqual(r.rc, 0, "%r\n%s" % (r, proxy.tail()))
        return m, r

    def sinks(self, proxy, responses):
        """(name, text) of every place the proxy shows what it saw."""
        out = [("log " + proxy.log_format, proxy.stderr_text())]
        for i, r in enumerate(responses):
            out.append(("header %d" % i, "\n".join(
                v for n, v in r.headers if n.lower() == dh.HEADER.lower())))
        for page in ("/", "/metrics"):
            c = harness.RawConn(proxy.port)
            c.send("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" %
                   (page, proxy.port))
            resp = c.read_response()
            c.close()
            self.assertEqual(resp.status, 200, resp)
            out.append((page, resp.body.decode("utf-8", "replace")))
        return out

    def assert_nowhere(self, sinks, needles):
        leaks = ["%s... in %s" % (s[:8], name) for name, text in sinks
                 for s in needles if s in text]
        self.assertEqual(leaks, [], "secrets shown:\n" + "\n".join(leaks))

    def run_flows(self, proxy):
        app = self.gh.add_app(callback=CB)
        needles = [app.client_secret]
        responses = []
        # 1. Secrets in the authorize request's redirect_uri ({registered}).
        uri, ns = self.planted(fragment=False)
        needles += ns
        code = self.authorized_code(app.client_id, uri, "s1", proxy=proxy)
        needles.append(code)
        m, r = self.exchange(proxy, [
            ("client_id", app.client_id),
            ("client_secret", app.client_secret), ("code", code),
            ("redirect_uri", CB)])
        responses.append(r)
        recs = self.new_log_records(m) if proxy.log_format == "json" \
            else None
        if recs is not None:
            self.assertEqual(recs[-1].get("cause"), "redirect_differs",
                             recs[-1])
            self.assertIn("localhost:3000/cb", recs[-1]["diagnosis"])
        # 2. Secrets in the exchange's redirect_uri ({sent}), the code in
        # its path.
        code = self.authorized_code(app.client_id, CB, "s2", proxy=proxy)
        needles.append(code)
        uri, ns = self.planted(code)
        needles += ns
        m, r = self.exchange(proxy, [
            ("client_id", app.client_id),
            ("client_secret", app.client_secret), ("code", code),
            ("redirect_uri", uri)])
        responses.append(r)
        if recs is not None:
            rec = self.new_log_records(m)[-1]
            self.assertEqual(rec.get("cause"), "redirect_differs", rec)
            self.assertIn("http://***@localhost:3000/cb/***?session=***&"
                          "scope=repo&st=***#***", rec["diagnosis"])
            self.assertEqual(rec["redirect_uri"], "http://***@localhost:"
                             "3000/cb/***?session=***&scope=repo&"
                             "st=***#***")
        # 3. The secret in the client_id slot, padded.
        m, r = self.exchange(proxy, [
            ("client_id", " " + app.client_secret),
            ("client_secret", app.client_secret), ("code", "x" * 20)])
        responses.append(r)
        if recs is not None:
            rec = self.new_log_records(m)[-1]
            self.assertEqual(rec.get("cause"), "whitespace", rec)
            self.assertIn("***", rec["client_id"])
        return needles, responses

    def test_json_log_header_pages(self):
        needles, responses = self.run_flows(self.proxy)
        sinks = self.sinks(self.proxy, responses)
        self.assertIn("redirect_differs", sinks[0][1])
        self.assertIn("whitespace", sinks[0][1])
        self.assertIn("localhost:3000/cb", sinks[-2][1])   # "/"
        self.assert_nowhere(sinks, needles)

    def test_text_log(self):
        needles, responses = self.run_flows(self.text_proxy)
        sinks = self.sinks(self.text_proxy, responses)
        self.assertIn("cause=redirect_differs", sinks[0][1])
        self.assert_nowhere(sinks, needles)


@unittest.skipUnless(unshare_works(), "cannot make a private mount "
                     "namespace here (needs root and unshare); the fake "
                     "journald needs one")
class JournalRedaction(unittest.TestCase):
    """The journal sink: a padded, swapped client secret and a
    redirect_uri with userinfo, a session and a fragment, sent to a token
    endpoint that answers incorrect_client_credentials."""

    def test_journal_fields(self):
        tmp = tempfile.mkdtemp(prefix="oauthlens-redact-journal-")
        if not harness.KEEP_TMP:
            self.addCleanup(shutil.rmtree, tmp, True)
        fake = FakeTokenEndpoint(body=BAD_CREDS_BODY).start()
        self.addCleanup(fake.stop)
        journal = FakeJournal(os.path.join(short_dir(tmp), "run"))
        self.addCleanup(journal.close)
        d = Daemon(tmp, None, list(fake.resolve_arg()) +
                   ["--log-target", "journal"],
                   wrapper=journal_wrapper(journal.rundir)).start()
        self.addCleanup(stop_quietly, d)
        secret = secrets.token_hex(20)
        n = {k: needle(k) for k in ("USER", "PASS", "SESS", "FRAG", "CODE")}
        uri = ("http://%s:%s@localhost:3000/cb?session=%s#access_token=%s"
               % (n["USER"], n["PASS"], n["SESS"], n["FRAG"]))
        form = urllib.parse.urlencode({
            "client_id": " " + secret, "client_secret": secret,
            "code": n["CODE"], "redirect_uri": uri})
        r = harness.curl("http://github.com/login/oauth/access_token",
                         d, ["--data-binary", form, "-H", "Content-Type: "
                             "application/x-www-form-urlencoded"],
                         tmpdir=tmp)
        self.assertEqual(r.status, 200, r)
        es = journal.wait(lambda e: e.get("OAUTH_ERROR") ==
                          "incorrect_client_credentials", 5)
        self.assertTrue(es, journal.entries[-5:])
        e = es[0]
        self.assertEqual(e.get("OAUTH_REDIRECT_URI"),
                         "http://***@localhost:3000/cb?session=***#***", e)
        self.assertEqual(e.get("OAUTHLENS_CAUSE"), "whitespace", e)
        self.assertIn("***", e.get("OAUTH_CLIENT_ID", ""), e)
        leaks = ["%s... in %s" % (v[:8], k.decode("latin-1"))
                 for ent in journal.entries for k, val in ent.all
                 for v in [secret] + list(n.values())
                 if v.encode() in val]
        self.assertEqual(leaks, [], "secrets in the journal:\n" +
                         "\n".join(leaks))


if __name__ == "__main__":
    dh.main()
