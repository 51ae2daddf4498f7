#!/usr/bin/python3
"""SIGHUP reload and SIGTERM drain.

Reload re-reads the config file and the hint catalog:
- a valid new config takes effect for new connections: "lang" ja -> en
  shows in the next annotation (header and log record), "allow" changes
  who may connect, an edited catalog shows its new hint (and only after
  the reload);
- an invalid config (syntax error, unknown key) or catalog is refused
  with an error record naming file:line:column, and the old one keeps
  serving;
- a slow request in flight during the reload completes unharmed.
SIGTERM: new connections are refused at once, a slow request in flight
completes, then the daemon exits 0; idle keep-alive connections do not
hold the exit back; timeouts.drain bounds the wait.

Clients: curl, raw sockets. Servers: harness Origin (/slow), a fake token
endpoint (sdhelp) answering GitHub's bad_verification_code."""

import json
import os
import shutil
import signal
import tempfile
import time
import unittest

import harness
from harness import SLOW, Origin, RawConn, http_request
from sdhelp import (HEADER, BackgroundCall, Daemon, FakeTokenEndpoint,
                    NotifySocket, catalog, connect_refused, hint,
                    parse_annotation, stop_quietly, token_request)

SLOW_BODY = b"slow response done\n" * 4


class ReloadBase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.origin = Origin().start()
        cls.fake = FakeTokenEndpoint().start()

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()
        cls.origin.stop()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="oauthlens-reload-")
        if not harness.KEEP_TMP:
            self.addCleanup(shutil.rmtree, self.tmp, True)
        self.notify = NotifySocket(self.tmp)
        self.addCleanup(self.notify.close)
        self.messages = os.path.join(self.tmp, "messages.json")
        shutil.copy(harness.os.path.join(harness.SRC, "conf",
                                         "messages.json"), self.messages)

    def start(self, config):
        cfg = {"messages": self.messages}
        cfg.update(config)
        d = Daemon(self.tmp, cfg, self.fake.resolve_arg(),
                   env=self.notify.env(), notify=self.notify)
        d.start()
        self.addCleanup(self.stop_checked, d)
        return d

    def stop_checked(self, d):
        if d.proc is not None and d.proc.poll() is None:
            d.stop(check=True)
        stop_quietly(d)

    def write(self, d, config=None, text=None):
        if text is None:
            cfg = {"messages": self.messages}
            cfg.update(config)
            text = "// rewritten by the test\n" + json.dumps(cfg, indent=2) \
                + "\n"
        with open(d.config_path, "w") as f:
            f.write(text)

    def reload(self, d):
        """SIGHUP and wait for RELOADING=1 then READY=1."""
        start = self.notify.count()
        d.signal(signal.SIGHUP)
        i, m = self.notify.wait_key("RELOADING", 10, start=start, value="1")
        self.assertIsNotNone(m, "no RELOADING=1 after SIGHUP\n" + d.tail())
        _, m = self.notify.wait_key("READY", 10, start=i + 1, value="1")
        self.assertIsNotNone(m, "no READY=1 after the reload\n" + d.tail())
        self.assertTrue(d.alive(), d.tail())

    def annotate(self, d, client_id="Iv1.reload0000000001"):
        r = token_request(d.url, client_id=client_id, tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 200), "%r\n%s" % (r, d.tail()))
        self.assertEqual(r.body, self.fake.body, "body not relayed "
                         "byte-identical")
        v = r.header(HEADER)
        self.assertIsNotNone(v, "no %s header: %r\n%s" % (HEADER, r.headers,
                                                          d.tail()))
        item, params = parse_annotation(v)
        self.assertEqual(item, "bad_verification_code", v)
        return params

    def error_records(self, d):
        return [r for r in d.log_records() if r.get("level") == "error"]


class ValidReload(ReloadBase):

    def test_lang_ja_to_en_for_new_connections(self):
        d = self.start({"lang": "ja"})
        p = self.annotate(d, "Iv1.before")
        self.assertEqual(p.get("lang"), "ja", p)
        self.assertEqual(p.get("hint"), hint("bad_verification_code", "ja"))
        self.write(d, {"lang": "en"})
        self.reload(d)
        p = self.annotate(d, "Iv1.after")
        self.assertEqual(p.get("lang"), "en", "the reloaded lang did not "
                         "take effect: %r\n%s" % (p, d.tail()))
        self.assertEqual(p.get("hint"), hint("bad_verification_code", "en"))
        self.assertIn("/en/", p.get("doc", ""), p)
        rec = d.wait_record(lambda r: r.get("event") == "oauth-error" and
                            r.get("client_id") == "Iv1.after")
        self.assertIsNotNone(rec, d.tail())
        self.assertEqual(rec.get("lang"), "en", rec)
        self.assertEqual(rec.get("hint"), hint("bad_verification_code", "en"))
        rec = d.wait_record(lambda r: "reloaded" in str(r.get("msg", "")))
        self.assertIsNotNone(rec, "no log record of the reload\n" + d.tail())

    def test_catalog_is_reread(self):
        d = self.start({"lang": "en"})
        old = hint("bad_verification_code", "en")
        self.assertEqual(self.annotate(d).get("hint"), old)
        cat = catalog()
        new = "RELOADED CATALOG: ask for a new code (\u65b0\u3057\u3044)."
        cat["bad_verification_code"]["en"]["hint"] = new
        with open(self.messages, "w", encoding="utf-8") as f:
            json.dump(cat, f, ensure_ascii=False, indent=1)
        # Not read per request: unchanged until the reload.
        self.assertEqual(self.annotate(d).get("hint"), old)
        self.reload(d)
        self.assertEqual(self.annotate(d).get("hint"), new, d.tail())

    def test_allow_change(self):
        d = self.start({"allow": ["127.0.0.0/8"]})
        self.assertEqual(d.http_get("/healthz").status, 200)
        self.write(d, {"allow": ["10.0.0.0/8"]})
        self.reload(d)
        r = d.http_get("/healthz")
        self.assertEqual(r.status, 403, "127.0.0.1 still allowed after "
                         "\"allow\" was reloaded without it: %r" % r)
        r = harness.curl(self.origin.url("/echo"), d, tmpdir=self.tmp)
        self.assertEqual(r.status, 403, r)
        self.write(d, {"allow": ["127.0.0.1/32"]})
        self.reload(d)
        self.assertEqual(d.http_get("/healthz").status, 200)
        r = harness.curl(self.origin.url("/echo"), d, tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 200), r)


class RefusedReload(ReloadBase):

    def assert_refused(self, d, path, line, col):
        """An error record naming path:line:col (col None: any)."""
        where = "%s:%d:" % (path, line) + ("%d" % col if col else "")

        def found(r):
            return r.get("level") == "error" and where in json.dumps(
                r, ensure_ascii=False)
        rec = d.wait_record(found)
        self.assertIsNotNone(rec, "no error record naming %s\n%s" %
                             (where, d.tail()))
        return rec

    def test_syntax_error_keeps_old_config(self):
        d = self.start({"lang": "ja"})
        self.assertEqual(self.annotate(d).get("lang"), "ja")
        # Line 4, column 1: the array is never closed.
        self.write(d, text='{\n  "lang": "en",\n  "allow": [ "127.0.0.0/8"'
                   '\n}\n')
        self.reload(d)
        self.assert_refused(d, d.config_path, 4, 1)
        p = self.annotate(d)
        self.assertEqual(p.get("lang"), "ja", "a refused config half-"
                         "applied: %r" % p)
        self.assertEqual(d.http_get("/healthz").status, 200)
        # A good config afterwards is taken.
        self.write(d, {"lang": "en"})
        self.reload(d)
        self.assertEqual(self.annotate(d).get("lang"), "en", d.tail())

    def test_unknown_key_keeps_old_config(self):
        d = self.start({"lang": "ja"})
        self.write(d, text='{\n  "lang": "en",\n  "langauge": "en"\n}\n')
        self.reload(d)
        self.assert_refused(d, d.config_path, 3, None)
        self.assertEqual(self.annotate(d).get("lang"), "ja")

    def test_broken_catalog_keeps_old_catalog(self):
        d = self.start({"lang": "en"})
        with open(self.messages, "w") as f:
            f.write('{\n  "bad_verification_code": {\n    "en": \n}\n')
        self.reload(d)
        self.assert_refused(d, self.messages, 4, None)
        p = self.annotate(d)
        self.assertEqual(p.get("hint"), hint("bad_verification_code", "en"))


class InFlight(ReloadBase):

    def slow_request(self, d, delay=None, hold=None):
        """A request through d that the origin answers after delay
        seconds, or (hold) when the test calls origin.release(hold)."""
        if hold is not None:
            path = "/slow?__hold=%s&id=%d" % (hold, time.monotonic_ns())
        else:
            path = "/slow?delay=%g&id=%d" % (delay, time.monotonic_ns())
        call = BackgroundCall(lambda: harness.curl(
            self.origin.url(path), d, timeout=30, tmpdir=self.tmp))
        call.start()
        self.addCleanup(call.join, 30 * SLOW)
        if hold is not None:            # cleanups run last first
            self.addCleanup(self.origin.release, hold)
        seen = harness.wait_until(
            lambda: [r for r in self.origin.requests_for("/slow")
                     if r.get("target") == path], 5 * SLOW)
        self.assertTrue(seen, "the slow request never reached the origin\n"
                        + d.tail())
        return call

    def test_slow_request_survives_reload(self):
        d = self.start({"lang": "ja"})
        # The origin answers when the test says: the reload happens with
        # the request in flight however long it takes.
        hold = "reload-%d" % time.monotonic_ns()
        call = self.slow_request(d, hold=hold)
        self.write(d, {"lang": "en"})
        self.reload(d)
        self.assertTrue(call.is_alive(), "slow request ended early")
        # New work meanwhile, under the new config.
        self.assertEqual(self.annotate(d).get("lang"), "en")
        self.origin.release(hold)
        call.join(30 * SLOW)
        self.assertIsNone(call.error, call.error)
        r = call.result
        self.assertEqual((r.rc, r.status, r.body), (0, 200, SLOW_BODY),
                         "%r\n%s" % (r, d.tail()))

    def test_slow_token_request_keeps_its_config(self):
        # The exchange in flight was accepted under lang=ja: the reload
        # must not change its annotation half-way.
        slow = FakeTokenEndpoint(delay=2).start()
        self.addCleanup(slow.stop)
        d = Daemon(self.tmp, {"messages": self.messages, "lang": "ja"},
                   slow.resolve_arg(), name="slowtoken",
                   env=self.notify.env(), notify=self.notify).start()
        self.addCleanup(self.stop_checked, d)
        call = BackgroundCall(lambda: token_request(
            d.url, client_id="Iv1.inflight", tmpdir=self.tmp))
        call.start()
        self.assertTrue(harness.wait_until(lambda: slow.requests, 5 * SLOW))
        self.write(d, {"lang": "en"})
        self.reload(d)
        call.join(30 * SLOW)
        self.assertIsNone(call.error, call.error)
        r = call.result
        self.assertEqual((r.rc, r.status, r.body), (0, 200, slow.body), r)
        item, p = parse_annotation(r.header(HEADER))
        self.assertEqual((item, p.get("lang")), ("bad_verification_code",
                                                 "ja"), r.headers)

    def test_slow_request_completes_on_sigterm(self):
        d = self.start({})
        # In flight until the test releases it, however slow the steps
        # below are.
        hold = "sigterm-%d" % time.monotonic_ns()
        call = self.slow_request(d, hold=hold)
        start = self.notify.count()
        d.signal(signal.SIGTERM)
        _, m = self.notify.wait_key("STOPPING", 5, start=start, value="1")
        self.assertIsNotNone(m, "no STOPPING=1\n" + d.tail())
        refused = harness.wait_until(lambda: connect_refused(d.port),
                                     1.0 * SLOW)
        self.assertTrue(refused, "new connections still accepted after "
                        "SIGTERM")
        self.assertTrue(call.is_alive(), "the slow request was cut short")
        self.assertIsNone(d.proc.poll(), "exited with a request in flight")
        self.origin.release(hold)
        call.join(30 * SLOW)
        done = time.monotonic()
        self.assertIsNone(call.error, call.error)
        r = call.result
        self.assertEqual((r.rc, r.status, r.body), (0, 200, SLOW_BODY),
                         "in-flight request harmed by SIGTERM: %r\n%s" %
                         (r, d.tail()))
        rc = d.wait_exit(10)
        self.assertEqual(rc, 0, "exit status after draining\n" + d.tail())
        self.assertLess(time.monotonic() - done, 3 * SLOW, "exit took long "
                        "after the last request finished")
        self.assertIsNone(d.sanitizer_report(), d.tail(n=60))

    def test_idle_keepalive_does_not_delay_stop(self):
        d = self.start({"timeouts": {"drain": 20}})
        c = RawConn(d.port)
        self.addCleanup(c.close)
        c.send(http_request("GET", self.origin.url("/echo")))
        self.assertEqual(c.read_response().status, 200)
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        rc = d.wait_exit(10)
        self.assertEqual(rc, 0, d.tail())
        self.assertLess(time.monotonic() - t0, 3 * SLOW, "an idle keep-alive "
                        "connection held the exit back")
        self.assertTrue(c.is_closed(2), "idle connection not closed")

    def test_drain_timeout_bounds_stop(self):
        d = self.start({"timeouts": {"drain": 1}})
        call = self.slow_request(d, 8)
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        rc = d.wait_exit(10)
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, "exit status after the drain timeout\n" +
                         d.tail())
        self.assertGreaterEqual(took, 0.8, "did not wait for the request "
                                "in flight")
        self.assertLess(took, 4 * SLOW, "timeouts.drain=1 but the stop "
                        "took %.1f s" % took)
        call.join(15 * SLOW)
        self.assertIsNotNone(call.result)
        self.assertNotEqual((call.result.rc, call.result.body),
                            (0, SLOW_BODY), "the request could not have "
                            "completed")
        self.assertIsNone(d.sanitizer_report(), d.tail(n=60))


if __name__ == "__main__":
    harness.main()
