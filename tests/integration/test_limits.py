#!/usr/bin/python3
"""Load at the limits: connection floods, descriptor exhaustion, slowloris.

  test_flood_10000_over_max_connections
        max_connections 1000, 10,000 clients (opened in batches from this
        process, RLIMIT_NOFILE raised; the proxy keeps its own, raised,
        limit). The first 1000 hold their slots and are still served; the
        next ones get 503 with Retry-After, and beyond max_connections + 64
        the proxy closes them instead of holding a descriptor each (it
        must not hold 9,000 idle rejected sockets). No crash; once they
        close, a normal request succeeds and the proxy is back to its
        descriptor baseline.
  test_fd_exhaustion_backoff
        `ulimit -Sn 256 -Hn 256` for the proxy and 600 clients: accept
        fails with EMFILE, the proxy says "pausing accepts" and does not
        spin (under 0.5 CPU-second over a 2 s window while the listening
        socket stays readable); once the clients leave it serves again.
  test_slowloris_closed_after_header_timeout
        timeouts.header 2 s; clients trickling one byte of a request head
        every 0.5 s are closed about 2 s after their first byte even
        though they keep sending; nothing reaches the origin.

After every scenario: /proc/PID/fd back to the count measured after a
warm-up request (the listening socket and anything opened lazily are in
that baseline; pooled upstream connections are avoided by using the
origin's /idleclose, which closes them).

Client: non-blocking raw sockets and curl. Proxy: one per test, started
through `bash -c 'ulimit ...; exec oauthlens ...'`. Origin: /idleclose,
/echo."""

import errno
import os
import re
import resource
import selectors
import socket
import time
import unittest

import harness
from harness import SLOW, ProxyTestCase, http_request, wait_until

MAX_CONNECTIONS = 1000
FLOOD = 10000
REJECT_EXTRA = 64       # proxy/conn.c: rejected connections answered 503
SMALL_NOFILE = 256
SMALL_CLIENTS = 600
CLK_TCK = os.sysconf("SC_CLK_TCK")


def raise_own_nofile(need):
    """Raise this process's soft RLIMIT_NOFILE (and the hard one if we
    may) to at least need; False if impossible."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
            return True
        except (ValueError, OSError):
            return False
    if soft == resource.RLIM_INFINITY or soft >= need:
        return True
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    return True


def proc_limits(pid):
    with open("/proc/%d/limits" % pid) as f:
        return f.read()


def cpu_seconds(pid):
    """utime + stime of pid, in seconds (/proc/PID/stat fields 14, 15)."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def accept_queue(port):
    """Connections waiting in the accept queue of the socket listening on
    127.0.0.1:port (rx_queue of its LISTEN row in /proc/net/tcp)."""
    want = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            if p[1] == want and p[3] == "0A":
                return int(p[4].split(":")[1], 16)
    return 0


class LimitedProxy(harness.Proxy):
    """harness.Proxy started through bash with RLIMIT_NOFILE lowered first
    (soft and hard: the daemon raises its soft limit to the hard one).
    nofile=None: the limits this process has."""

    def __init__(self, tmpdir, config=None, args=(), nofile=None, **kw):
        super().__init__(tmpdir, config, args, **kw)
        self.nofile = nofile

    def command(self):
        cmd = super().command()
        if self.nofile is None:
            return cmd
        # Lowering: the soft limit first, or the hard one is refused.
        return ["bash", "-c", 'ulimit -Sn %d && ulimit -Hn %d && exec "$@"'
                % (self.nofile, self.nofile), "bash"] + cmd


class Herd:
    """Many non-blocking client sockets to one port."""

    def __init__(self, port):
        self.port = port
        self.socks = []
        self.failed = 0         # connects that did not complete

    def connect(self, n, batch=250, settle=None, timeout=30):
        """Open n connections, batch at a time; after each batch call
        settle() (bounded by the caller) before the next."""
        deadline = time.monotonic() + timeout * SLOW
        left = n
        while left > 0 and time.monotonic() < deadline:
            k = min(batch, left)
            self._connect_batch(k, deadline)
            left -= k
            if settle is not None:
                settle()
        return self

    def _connect_batch(self, k, deadline):
        sel = selectors.DefaultSelector()
        pending = []
        for _ in range(k):
            s = socket.socket()
            s.setblocking(False)
            rc = s.connect_ex(("127.0.0.1", self.port))
            if rc not in (0, errno.EINPROGRESS):
                s.close()
                self.failed += 1
                continue
            sel.register(s, selectors.EVENT_WRITE)
            pending.append(s)
        left = set(pending)
        while left and time.monotonic() < deadline:
            for key, _ in sel.select(0.5):
                s = key.fileobj
                sel.unregister(s)
                left.discard(s)
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    s.close()
                    self.failed += 1
                else:
                    self.socks.append(s)
        for s in left:
            sel.unregister(s)
            s.close()
            self.failed += 1
        sel.close()

    def closed_by_peer(self):
        """The sockets the peer has closed (EOF or RST, nothing else to
        read) by now."""
        out = []
        for s in self.socks:
            try:
                b = s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
            except OSError:
                out.append(s)
                continue
            if b == b"":
                out.append(s)
        return out

    def request_all(self, data, timeout=60):
        """Send data on every socket and read until EOF: [(sock, bytes or
        None when the send failed)], in order."""
        sent = {}
        for s in self.socks:
            try:
                s.send(data)
                sent[s] = bytearray()
            except OSError:
                sent[s] = None
        return self._read_all(sent, timeout)

    @staticmethod
    def _read_all(sent, timeout):
        sel = selectors.DefaultSelector()
        for s, buf in sent.items():
            if buf is not None:
                sel.register(s, selectors.EVENT_READ)
        open_ = sum(1 for b in sent.values() if b is not None)
        deadline = time.monotonic() + timeout * SLOW
        while open_ and time.monotonic() < deadline:
            for key, _ in sel.select(0.5):
                s = key.fileobj
                try:
                    b = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    b = b""
                if b:
                    sent[s] += b
                    continue
                sel.unregister(s)
                open_ -= 1
        sel.close()
        return [(s, None if b is None else bytes(b))
                for s, b in sent.items()]

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []


def status_of(raw):
    """(status, Retry-After value or None) of a raw response; (None, None)
    when nothing (or no status line) came back."""
    if not raw or not raw.startswith(b"HTTP/1."):
        return None, None
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    parts = head[0].split(" ", 2)
    ra = None
    for h in head[1:]:
        n, _, v = h.partition(":")
        if n.strip().lower() == "retry-after":
            ra = v.strip()
    return int(parts[1]), ra


class Limits(ProxyTestCase):
    start_proxy = False

    def start(self, config, nofile=None, name=None):
        p = LimitedProxy(self.tmp, config, nofile=nofile,
                         log_level="info",
                         name=name or "proxy-" + self._testMethodName)
        p.start()
        self.addCleanup(p.stop, True)
        self.proxy = p
        return p

    def warm_up(self, p):
        """One request through p (whatever is opened lazily is opened),
        then the descriptor baseline once the upstream side is gone."""
        r = self.curl("/idleclose?after=0.1&warm=1", proxy=p)
        self.assertEqual((r.rc, r.status), (0, 200), "%r\n%s" %
                         (r, p.tail()))
        time.sleep(0.5 * SLOW)
        return p.fd_count()

    def assert_fds_back(self, p, base, timeout=20):
        ok = wait_until(lambda: p.fd_count() <= base, timeout * SLOW, 0.2)
        self.assertTrue(ok, "proxy descriptors %d, baseline %d: %s\n%s" % (
            p.fd_count(), base, sorted(p.fds().values())[:40], p.tail()))

    def assert_serves(self, p, tag, timeout=10):
        """A normal request succeeds (retried for a bounded time while the
        proxy catches up)."""
        last = []

        def ok():
            r = self.curl("/idleclose?after=0.1&%s=1" % tag, proxy=p,
                          timeout=5)
            last[:] = [r]
            return r.rc == 0 and r.status == 200
        self.assertTrue(wait_until(ok, timeout * SLOW, 0.25),
                        "no normal request succeeded within %gs: %r\n%s" %
                        (timeout * SLOW, last, p.tail()))

    # -- (a) -------------------------------------------------------------
    def test_flood_10000_over_max_connections(self):
        if not raise_own_nofile(FLOOD + 2 * MAX_CONNECTIONS + 512):
            raise unittest.SkipTest("cannot raise RLIMIT_NOFILE to %d" %
                                    (FLOOD + 2 * MAX_CONNECTIONS + 512))
        # The proxy inherits our raised limits (and raises its soft one to
        # the hard one): room for every client, held or not.
        p = self.start({"max_connections": MAX_CONNECTIONS})
        soft = int(re.search(r"Max open files\s+(\d+)",
                             proc_limits(p.pid)).group(1))
        if soft < FLOOD + MAX_CONNECTIONS + 256:
            raise unittest.SkipTest("the proxy's RLIMIT_NOFILE is %d" % soft)
        base = self.warm_up(p)
        t0 = time.monotonic()

        def drained():
            wait_until(lambda: accept_queue(p.port) == 0, 10 * SLOW, 0.02)

        # The slot holders: accepted and counted, idle.
        holders = Herd(p.port).connect(MAX_CONNECTIONS, settle=drained)
        self.assertEqual(holders.failed, 0)
        self.assertTrue(wait_until(
            lambda: p.fd_count() >= base + MAX_CONNECTIONS, 10 * SLOW),
            "the proxy did not accept the first %d connections (fds %d)" %
            (MAX_CONNECTIONS, p.fd_count()))
        # The flood: every one of these is over the limit.
        flood = Herd(p.port).connect(FLOOD - MAX_CONNECTIONS,
                                     settle=drained, timeout=120)
        self.addCleanup(holders.close)
        self.addCleanup(flood.close)
        drained()
        time.sleep(0.5 * SLOW)
        peak = p.fd_count()
        closed = len(flood.closed_by_peer())
        t_flood = time.monotonic() - t0
        self.assert_alive(p)
        with self.subTest("rejected connections beyond max_connections + "
                          "%d are closed, not held" % REJECT_EXTRA):
            # The proxy may hold the holders, REJECT_EXTRA rejected
            # clients waiting for their 503, and a little slack.
            self.assertLessEqual(
                peak, base + MAX_CONNECTIONS + REJECT_EXTRA + 16,
                "with %d clients connected (%d over max_connections %d) "
                "the proxy holds %d descriptors (baseline %d); it closed "
                "%d of the %d over the limit" % (
                    FLOOD, FLOOD - MAX_CONNECTIONS, MAX_CONNECTIONS, peak,
                    base, closed, len(flood.socks)))
        # A client arriving now is refused, readably or by a close.
        r = self.curl("/idleclose?after=0.1&late=1", proxy=p, timeout=10)
        self.assertTrue(r.status == 503 or r.rc != 0, r)
        if r.status == 503:
            self.assertIsNotNone(r.header("Retry-After"), r)

        # Every over-the-limit client asks: 503 + Retry-After, or closed.
        req = http_request("GET", self.origin.url("/idleclose?after=0.1"),
                           [("Connection", "close")])
        got = flood.request_all(req, timeout=60)
        counts = {}
        bad = []
        for _, raw in got:
            st, ra = status_of(raw)
            counts[st] = counts.get(st, 0) + 1
            if st == 503 and not (ra and ra.isdigit()):
                bad.append("503 without Retry-After: %r" % raw[:300])
            elif st not in (503, None):
                bad.append("status %s for a client over the limit: %r" %
                           (st, raw[:300]))
        self.assertEqual(bad[:5], [], "%d unexpected answers" % len(bad))
        self.assertGreaterEqual(counts.get(503, 0), 1,
                                "no client over the limit got a 503: %r"
                                % counts)
        self.assert_alive(p)
        # The slot holders are still served.
        got = holders.request_all(req, timeout=60)
        hs = {}
        for _, raw in got:
            st, _ = status_of(raw)
            hs[st] = hs.get(st, 0) + 1
        self.assertEqual(hs, {200: MAX_CONNECTIONS},
                         "slot holders' statuses\n" + p.tail())
        holders.close()
        flood.close()
        self.assert_serves(p, "after")
        self.assert_fds_back(p, base)
        print("flood: %d connections in %.1fs, peak fds %d (baseline %d), "
              "%d closed at once, answers over the limit %r" %
              (FLOOD, t_flood, peak, base, closed, counts))

    # -- (b) -------------------------------------------------------------
    def test_fd_exhaustion_backoff(self):
        if not raise_own_nofile(SMALL_CLIENTS + 512):
            raise unittest.SkipTest("cannot raise RLIMIT_NOFILE")
        p = self.start({}, nofile=SMALL_NOFILE)
        self.assertRegex(proc_limits(p.pid), r"Max open files\s+%d\s+%d" %
                         (SMALL_NOFILE, SMALL_NOFILE))
        base = self.warm_up(p)
        herd = Herd(p.port)
        self.addCleanup(herd.close)
        herd.connect(SMALL_CLIENTS, batch=100,
                     settle=lambda: time.sleep(0.1))
        self.assertTrue(wait_until(lambda: "pausing accepts" in
                                   p.stderr_text(), 10 * SLOW),
                        "no accept back-off logged with %d clients and "
                        "RLIMIT_NOFILE %d (fds %d)\n%s" % (
                            SMALL_CLIENTS, SMALL_NOFILE, p.fd_count(),
                            p.tail()))
        self.assertIn("accept on", p.stderr_text())
        # Saturated: the listening socket stays readable (clients wait in
        # its queue) and the proxy has no descriptor to take them with.
        self.assertGreater(accept_queue(p.port), 0,
                           "no client left waiting: not saturated")
        self.assertGreaterEqual(p.fd_count(), SMALL_NOFILE - 8)
        lines0 = p.stderr_text().count("pausing accepts")
        c0 = cpu_seconds(p.pid)
        time.sleep(2.0)
        cpu = cpu_seconds(p.pid) - c0
        pauses = p.stderr_text().count("pausing accepts") - lines0
        self.assert_alive(p)
        self.assertGreater(accept_queue(p.port), 0)
        self.assertLess(cpu, 0.5, "the proxy used %.2f CPU-seconds in 2 s "
                        "while out of descriptors (busy loop?)" % cpu)
        # One back-off line per pause (250 ms): about 8 in 2 s.
        self.assertLessEqual(pauses, 20, "%d back-off lines in 2 s" %
                             pauses)
        herd.close()
        self.assert_serves(p, "resumed", timeout=15)
        self.assert_fds_back(p, base)
        print("fd exhaustion: %.3f CPU-s over 2 s saturated, %d back-off "
              "lines" % (cpu, pauses))

    # -- (c) -------------------------------------------------------------
    def test_slowloris_closed_after_header_timeout(self):
        header_s = 2.0
        p = self.start({"timeouts": {"header": int(header_s)}})
        base = self.warm_up(p)
        before = self.origin.request_count
        head = http_request("GET", self.origin.url("/echo?slowloris=1"),
                            [("X-Pad", "a" * 200)])
        n = 8
        socks = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", p.port), 5)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.setblocking(False)
            self.addCleanup(s.close)
            socks.append(s)
        first = [None] * n
        closed_at = [None] * n
        got = [b""] * n
        sent = [0] * n
        deadline = time.monotonic() + 4 * header_s * SLOW + 4
        while time.monotonic() < deadline and None in closed_at:
            for i, s in enumerate(socks):
                if closed_at[i] is not None:
                    continue
                try:
                    while True:
                        b = s.recv(4096)
                        if not b:
                            raise ConnectionResetError
                        got[i] += b
                except BlockingIOError:
                    pass
                except OSError:
                    closed_at[i] = time.monotonic()
                    continue
                try:
                    s.send(head[sent[i]:sent[i] + 1])
                    sent[i] += 1
                    if first[i] is None:
                        first[i] = time.monotonic()
                except OSError:
                    closed_at[i] = time.monotonic()
            time.sleep(0.5)
        self.assert_alive(p)
        lives = []
        for i in range(n):
            self.assertIsNotNone(closed_at[i], "slowloris client %d still "
                                 "open after %d bytes over %.1fs" % (
                                     i, sent[i],
                                     time.monotonic() - first[i]))
            lives.append(closed_at[i] - first[i])
            self.assertLess(sent[i], len(head))
            st, _ = status_of(got[i])
            self.assertIn(st, (None, 408), got[i][:200])
        # Closed at the header deadline: not before it, and not much later
        # (one 0.5 s send interval of detection slack).
        self.assertGreaterEqual(min(lives), header_s - 0.1, lives)
        self.assertLessEqual(max(lives), header_s + 1.0 * SLOW + 0.5, lives)
        self.assertEqual(self.origin.request_count, before,
                         "a trickled request reached the origin")
        self.assert_serves(p, "after-slowloris")
        self.assert_fds_back(p, base)
        print("slowloris: %d clients closed after %.2f-%.2fs (header "
              "timeout %gs), %d-%d bytes sent" % (
                  n, min(lives), max(lives), header_s, min(sent),
                  max(sent)))


if __name__ == "__main__":
    harness.main()
