#!/usr/bin/python3
"""Socket activation for real, with systemd-socket-activate (Debian's
systemd package): it binds 127.0.0.1:PORT, waits for the first
connection, then execs the daemon with LISTEN_FDS=1 and the socket as fd
3. The daemon must serve that socket -- including the connection that
woke it -- instead of binding the "listen" address of its config, say
READY=1 with the passed address in STATUS, answer /healthz and proxy,
keep the socket over a reload, and stop cleanly on SIGTERM.

Clients: raw sockets, curl. Server: harness Origin."""

import os
import shutil
import signal
import subprocess
import tempfile
import unittest

import harness
from harness import BIN, SLOW, Origin, RawConn, free_port, http_request
from sdhelp import Daemon, NotifySocket, connect_refused, stop_quietly

ACTIVATE = shutil.which("systemd-socket-activate")
SS = shutil.which("ss")
PASS_ENV = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")


def listen_backlog(port):
    """The backlog of the listening socket on 127.0.0.1:port (ss shows it
    as Send-Q), or None."""
    r = subprocess.run([SS, "-Hltn", "sport = :%d" % port],
                       capture_output=True, timeout=10)
    for line in r.stdout.decode().splitlines():
        f = line.split()
        if len(f) >= 4 and f[0] == "LISTEN" and f[3].endswith(":%d" % port):
            return int(f[2])
    return None


@unittest.skipIf(ACTIVATE is None, "systemd-socket-activate not installed "
                 "(Debian package systemd)")
class SocketActivation(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.origin = Origin().start()

    @classmethod
    def tearDownClass(cls):
        cls.origin.stop()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="oauthlens-sockact-")
        if not harness.KEEP_TMP:
            self.addCleanup(shutil.rmtree, self.tmp, True)
        self.notify = NotifySocket(self.tmp)
        self.addCleanup(self.notify.close)

    def activate(self):
        """Start systemd-socket-activate on a free port with the daemon
        behind it; its config's "listen" names another free port."""
        for attempt in range(3):
            port, conf_port = free_port(), free_port()
            if port == conf_port:
                continue
            wrapper = [ACTIVATE, "-l", "127.0.0.1:%d" % port,
                       "-E", "NOTIFY_SOCKET=" + self.notify.path]
            for k in PASS_ENV:
                if k in os.environ:
                    wrapper += ["-E", k]
            d = Daemon(self.tmp, {"listen": ["127.0.0.1:%d" % conf_port]},
                       name="activated-%d" % attempt, notify=self.notify,
                       wrapper=wrapper, listen="none", port=port)
            d.spawn()
            self.addCleanup(self.stop_checked, d)
            ok = harness.wait_until(
                lambda: "Listening on" in d.stderr_text() or
                d.proc.poll() is not None, 10 * SLOW)
            if ok and d.proc.poll() is None:
                d.conf_port = conf_port
                return d
            if "in use" not in d.stderr_text().lower():
                self.fail("systemd-socket-activate did not start:\n" +
                          d.tail())
        self.fail("no free port pair")

    def stop_checked(self, d):
        if d.proc is not None and d.proc.poll() is None:
            d.stop(check=True)
        stop_quietly(d)

    def wait_ready(self, d):
        _, m = self.notify.wait_key("READY", 10, value="1")
        self.assertIsNotNone(m, "no READY=1 after activation\n%s\n%s" %
                             (self.notify.dump(), d.tail()))
        return m

    def test_first_connection_is_served_on_passed_socket(self):
        d = self.activate()
        self.assertNotIn("Execing", d.stderr_text(), "activated before any "
                         "connection")
        # This connection wakes the daemon and must be served by it.
        c = RawConn(d.port, timeout=15)
        self.addCleanup(c.close)
        c.send(http_request("GET", self.origin.url("/echo?first=1")))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["target"], "/echo?first=1")
        m = self.wait_ready(d)
        self.assertRegex(m.get("STATUS", ""), r"^listening on 127\.0\.0\.1:%d;"
                         % d.port)
        # The activated process is oauthlens itself (exec), with the
        # socket passed as fd 3 and LISTEN_FDS=1.
        self.assertEqual(os.path.realpath("/proc/%d/exe" % d.pid),
                         os.path.realpath(BIN))
        with open("/proc/%d/environ" % d.pid, "rb") as f:
            env = dict(x.split(b"=", 1) for x in f.read().split(b"\0")
                       if b"=" in x)
        self.assertEqual(env.get(b"LISTEN_FDS"), b"1", env)
        self.assertTrue(d.fds().get(3, "").startswith("socket:"), d.fds())
        # It did not bind its configured listen address.
        self.assertTrue(connect_refused(d.conf_port), "the daemon bound the "
                        "config's listen address %d although a socket was "
                        "passed" % d.conf_port)
        self.assertNotIn("127.0.0.1:%d" % d.conf_port, m.get("STATUS"))

        h = d.http_get("/healthz")
        self.assertEqual((h.status, h.body), (200, b"ok\n"))
        r = harness.curl(self.origin.url("/bytes/100000"), d,
                         tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status, len(r.body)), (0, 200, 100000), r)
        self.assertEqual(r.body, harness.pattern_bytes(100000))

    def test_reload_and_stop_with_passed_socket(self):
        d = self.activate()
        self.assertEqual(d.http_get("/healthz").status, 200)
        self.wait_ready(d)
        start = self.notify.count()
        d.signal(signal.SIGHUP)
        i, m = self.notify.wait_key("READY", 10, start=start, value="1")
        self.assertIsNotNone(m, "no READY=1 after SIGHUP\n" +
                             self.notify.dump(start))
        self.assertTrue(connect_refused(d.conf_port), "reload bound the "
                        "config's listen address")
        self.assertEqual(d.http_get("/healthz").status, 200, d.tail())
        r = harness.curl(self.origin.url("/echo"), d, tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 200), r)

        start = self.notify.count()
        d.signal(signal.SIGTERM)
        _, m = self.notify.wait_key("STOPPING", 10, start=start, value="1")
        self.assertIsNotNone(m, "no STOPPING=1\n" + self.notify.dump(start))
        rc = d.wait_exit(15)
        self.assertEqual(rc, 0, d.tail())
        self.assertIsNone(d.sanitizer_report(), d.tail(n=60))
        self.assertTrue(connect_refused(d.port), "passed socket still "
                        "accepting after exit")

    @unittest.skipIf(SS is None, "ss (iproute2) not installed")
    def test_passed_socket_backlog_kept(self):
        # The socket's settings belong to whoever passed it (a .socket
        # unit's Backlog=): the daemon must not listen() on it again with
        # its own backlog.
        d = self.activate()
        before = listen_backlog(d.port)
        self.assertIsNotNone(before)
        self.assertEqual(d.http_get("/healthz").status, 200)
        self.wait_ready(d)
        after = listen_backlog(d.port)
        self.assertEqual(after, before, "the daemon changed the passed "
                         "socket's listen backlog from %d to %s (it calls "
                         "listen() again; libevent's evconnlistener_new with "
                         "backlog -1 does listen(fd, 128), 0 leaves the "
                         "socket alone)" % (before, after))


if __name__ == "__main__":
    harness.main()
