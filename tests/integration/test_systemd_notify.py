#!/usr/bin/python3
"""The sd_notify protocol for real: the test binds the AF_UNIX datagram
socket that systemd would (NOTIFY_SOCKET), starts the daemon with
WATCHDOG_USEC=400000 (WATCHDOG_PID unset) and reads what it says:

  READY=1 with STATUS=listening on 127.0.0.1:PORT; N requests, N errors
  annotated, N connections -- once listening; WATCHDOG=1 about every
  200 ms (half WATCHDOG_USEC), also while busy; STATUS following traffic;
  SIGHUP -> RELOADING=1 + MONOTONIC_USEC, then READY=1 (also when the new
  config is refused); SIGTERM/SIGINT -> STOPPING=1 and exit status 0.

Clients: raw sockets, curl. Servers: harness Origin, a fake token
endpoint (sdhelp)."""

import re
import shutil
import signal
import statistics
import tempfile
import time
import unittest

import harness
from harness import SLOW, Origin, RawConn
from sdhelp import (BackgroundCall, Daemon, FakeTokenEndpoint, NotifySocket,
                    connect_refused, stop_quietly, token_request)

WATCHDOG_USEC = 400000
STATUS_RE = re.compile(r"^listening on 127\.0\.0\.1:(\d+); (\d+) requests, "
                       r"(\d+) errors annotated, (\d+) connections$")


class NotifyTest(unittest.TestCase):

    watchdog = True

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="oauthlens-notify-")
        self.addCleanup(self._rmtmp)
        self.notify = NotifySocket(self.tmp)
        self.addCleanup(self.notify.close)

    def _rmtmp(self):
        if not harness.KEEP_TMP:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, config=None, args=(), env=None, name="daemon"):
        e = dict(self.notify.env())
        if self.watchdog:
            e["WATCHDOG_USEC"] = str(WATCHDOG_USEC)
        e["WATCHDOG_PID"] = None
        e.update(env or {})
        d = Daemon(self.tmp, config, args, name=name, env=e,
                   notify=self.notify)
        d.start()
        self.addCleanup(self.stop_checked, d)
        return d

    def stop_checked(self, d):
        if d.proc is None:
            return
        if d.proc.poll() is None:
            d.stop(check=True)
        else:
            stop_quietly(d)

    def explain(self, d, start=0):
        return "notify messages:\n%s\n%s" % (self.notify.dump(start),
                                             d.tail())

    def status_of(self, m):
        s = m.get("STATUS")
        self.assertIsNotNone(s, "no STATUS= in %r" % m)
        mm = STATUS_RE.match(s)
        self.assertIsNotNone(mm, "STATUS=%r is not 'listening on ADDR:PORT; "
                             "N requests, N errors annotated, N "
                             "connections'" % s)
        return [int(x) for x in mm.groups()]

    def watchdogs(self, start=0):
        return [m for m in self.notify.since(start)
                if m.get("WATCHDOG") == "1"]

    def assert_cadence(self, pings, d, what):
        # When the daemon sent each, not when this (busy, loaded) process
        # got round to reading it: the cadence is the daemon's.
        times = [m.t if m.sent is None else m.sent for m in pings]
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertGreaterEqual(len(gaps), 3, "%s: only %d WATCHDOG=1 "
                                "messages\n%s" % (what, len(pings),
                                                  self.explain(d)))
        med = statistics.median(gaps)
        half = WATCHDOG_USEC / 2e6
        self.assertTrue(0.6 * half <= med <= 1.5 * half * SLOW,
                        "%s: median WATCHDOG=1 interval %.3f s, expected "
                        "about %.3f s (half of WATCHDOG_USEC)\n%s" %
                        (what, med, half, self.explain(d)))
        self.assertLess(max(gaps), WATCHDOG_USEC / 1e6 * SLOW,
                        "%s: a gap of %.3f s between WATCHDOG=1 messages "
                        "exceeds WATCHDOG_USEC (systemd would kill the "
                        "service); gaps: %s" % (what, max(gaps),
                                                ["%.3f" % g for g in gaps]))


class Ready(NotifyTest):

    def test_ready_with_status_once_listening(self):
        d = self.start()
        # READY=1 means accepting: connect right away, no retry.
        self.assertFalse(connect_refused(d.port), "READY=1 sent but port "
                         "%d refuses connections" % d.port)
        msgs = self.notify.since(0)
        ready = [m for m in msgs if m.get("READY") == "1"]
        self.assertEqual(len(ready), 1, "expected one READY=1 at start\n" +
                         self.explain(d))
        port, nreq, nerr, nconn = self.status_of(ready[0])
        self.assertEqual(port, d.port, ready[0])
        self.assertEqual((nreq, nerr), (0, 0), ready[0])
        for m in msgs[:msgs.index(ready[0])]:
            self.assertNotIn("STOPPING", m, m)
        r = d.http_get("/healthz")
        self.assertEqual((r.status, r.body), (200, b"ok\n"))

    def test_status_follows_traffic(self):
        fake = FakeTokenEndpoint().start()
        self.addCleanup(fake.stop)
        d = self.start(args=fake.resolve_arg())
        r = token_request(d.url, tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertIsNotNone(r.header("OAuth-Troubleshooting"),
                             "the fake token error was not annotated: %r" %
                             r.headers)
        for _ in range(3):
            self.assertEqual(d.http_get("/healthz").status, 200)
        # STATUS is refreshed with the watchdog pings.
        start = self.notify.count()
        held = RawConn(d.port)
        self.addCleanup(held.close)
        held.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        held.read_response()

        def good(m):
            if "STATUS" not in m:
                return False
            mm = STATUS_RE.match(m.get("STATUS"))
            return mm is not None and int(mm.group(2)) >= 5 and \
                int(mm.group(3)) == 1 and int(mm.group(4)) >= 1
        _, m = self.notify.wait_for(good, 3, start=start)
        self.assertIsNotNone(m, "no STATUS= with >= 5 requests, 1 error "
                             "annotated and >= 1 open connection after that "
                             "traffic\n" + self.explain(d, start))


class Watchdog(NotifyTest):

    def test_watchdog_every_half_interval(self):
        d = self.start()
        start = self.notify.count()
        time.sleep(2.2)
        self.assert_cadence(self.watchdogs(start), d, "idle")
        n = len(self.watchdogs(start))
        self.assertGreaterEqual(n, 7 / SLOW, "only %d WATCHDOG=1 in 2.2 s "
                                "with WATCHDOG_USEC=400000" % n)
        self.assertLessEqual(n, 16, "%d WATCHDOG=1 in 2.2 s: far more often "
                             "than every 200 ms" % n)

    def test_watchdog_keeps_going_while_busy(self):
        origin = Origin().start()
        self.addCleanup(origin.stop)
        d = self.start()
        slow = BackgroundCall(lambda: harness.curl(
            origin.url("/slow?delay=1.5"), d, timeout=20, tmpdir=self.tmp))
        start = self.notify.count()
        slow.start()
        # Keep the event loop busy alongside the slow request.
        deadline = time.monotonic() + 1.5
        n = 0
        with RawConn(d.port) as c:
            while time.monotonic() < deadline:
                c.send(harness.http_request("GET",
                                            origin.url("/bytes/20000")))
                r = c.read_response()
                self.assertEqual(r.status, 200)
                n += 1
        slow.join(30 * SLOW)
        self.assertIsNone(slow.error, slow.error)
        self.assertEqual((slow.result.rc, slow.result.status), (0, 200),
                         slow.result)
        self.assertGreater(n, 3)
        self.assert_cadence(self.watchdogs(start), d, "busy (%d requests "
                            "and a slow one)" % n)


class NoWatchdog(NotifyTest):

    watchdog = False

    def test_no_pings_without_watchdog_usec(self):
        d = self.start()
        time.sleep(1.0)
        self.assertEqual(self.watchdogs(), [], "WATCHDOG=1 sent although "
                         "WATCHDOG_USEC is unset\n" + self.explain(d))

    def test_no_pings_for_another_pid(self):
        # WATCHDOG_PID names another process: the watchdog is not ours.
        d = self.start(env={"WATCHDOG_USEC": str(WATCHDOG_USEC),
                            "WATCHDOG_PID": "1"})
        time.sleep(1.0)
        self.assertEqual(self.watchdogs(), [], "WATCHDOG=1 sent although "
                         "WATCHDOG_PID is another process\n" +
                         self.explain(d))


class Reload(NotifyTest):

    def reload_and_check(self, d):
        start = self.notify.count()
        t0 = time.monotonic_ns() // 1000
        d.signal(signal.SIGHUP)
        i, m = self.notify.wait_key("RELOADING", 5, start=start, value="1")
        t1 = time.monotonic_ns() // 1000
        self.assertIsNotNone(m, "no RELOADING=1 after SIGHUP\n" +
                             self.explain(d, start))
        mono = m.get("MONOTONIC_USEC")
        self.assertIsNotNone(mono, "RELOADING=1 without MONOTONIC_USEC= "
                             "(systemd >= 253 requires it): %r" % m)
        self.assertTrue(mono.isdigit(), m)
        self.assertTrue(t0 <= int(mono) <= t1, "MONOTONIC_USEC=%s is not "
                        "CLOCK_MONOTONIC at the reload (between %d and %d)"
                        % (mono, t0, t1))
        for earlier in self.notify.since(start)[:i - start]:
            self.assertNotIn("READY", earlier, "READY before RELOADING")
        j, ready = self.notify.wait_key("READY", 5, start=i + 1, value="1")
        self.assertIsNotNone(ready, "no READY=1 after RELOADING=1\n" +
                             self.explain(d, start))
        port, _, _, _ = self.status_of(ready)
        self.assertEqual(port, d.port)
        return start

    def test_sighup_reloading_then_ready(self):
        d = self.start(config={"lang": "ja"})
        harness.write_config(d.config_path, {"lang": "en"})
        self.reload_and_check(d)
        self.assertTrue(d.alive(), d.tail())
        self.assertEqual(d.http_get("/healthz").status, 200)
        # And again: every reload is announced.
        self.reload_and_check(d)
        self.assertEqual(d.http_get("/healthz").status, 200)

    def test_refused_reload_still_ends_with_ready(self):
        d = self.start(config={"lang": "ja"})
        with open(d.config_path, "w") as f:
            f.write('{\n  "lang": "en",\n  "allow": [ "127.0.0.0/8"\n}\n')
        self.reload_and_check(d)
        self.assertTrue(d.alive(), d.tail())
        self.assertEqual(d.http_get("/healthz").status, 200)


class Stop(NotifyTest):

    def stop_with(self, sig):
        d = self.start()
        start = self.notify.count()
        d.signal(sig)
        i, m = self.notify.wait_key("STOPPING", 5, start=start, value="1")
        self.assertIsNotNone(m, "no STOPPING=1 after signal %d\n" %
                             sig + self.explain(d, start))
        rc = d.wait_exit(15)
        self.assertEqual(rc, 0, "exit status %r after signal %d\n%s" %
                         (rc, sig, d.tail()))
        self.assertIsNone(d.sanitizer_report(), d.tail(n=60))
        after = self.notify.since(i + 1)
        self.assertFalse([x for x in after if "READY" in x],
                         "READY after STOPPING: %r" % after)
        self.assertTrue(connect_refused(d.port), "port still accepting "
                        "after exit")

    def test_sigterm_stopping_and_exit_0(self):
        self.stop_with(signal.SIGTERM)

    def test_sigint_stopping_and_exit_0(self):
        self.stop_with(signal.SIGINT)


if __name__ == "__main__":
    harness.main()
