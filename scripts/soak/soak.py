#!/usr/bin/python3
"""The soak run behind scripts/soak.sh: mixed load through oauthlens for a
given time, then a report and a verdict.

Load, all on loopback, for --minutes:
  wrk        plain proxying (absolute-form requests, scripts/soak/proxy.lua)
             to the test origin (tests/servers/origin.py, its own process):
             GET, POST with a body, chunked, 204, trailers, 64 KiB bodies;
  exchangers threads doing token exchanges with the fake GitHub
             (tests/servers/fake_github.py) through intercepted HTTPS
             (CONNECT github.com:443, TLS verified against the proxy's CA,
             1-5 exchanges per tunnel) and plain HTTP, cycling through every
             scenario: success, wrong secret, wrong redirect_uri, unknown,
             reused, expired and other-app codes, HTTP Basic, JSON bodies,
             every error code of the catalog forced, an error past
             inspect_max_bytes; in form, JSON and XML; plain, gzip, deflate,
             chunked. Each answer is checked: status 200, the annotation
             header present exactly when expected and naming the code;
  faults     a thread cycling through paths meant to fail (502 refused,
             reset, malformed status; 400 CL+TE; 431; 403 CONNECT port;
             504 after timeouts.idle; client leaving mid-download and
             mid-upload) and a blind CONNECT tunnel that must work;
  idle reuse a thread that leaves an upstream connection (to a second
             origin) in the pool for timeouts.idle - 2 s, then asks for
             an answer that takes 3 s: it must get 200, the whole
             timeout being the origin's again.

Measured: RSS and descriptors every 2 s; RSS at the start (after a
warm-up of min(60, max(10, 10% of the run)) seconds), the middle and the
end of the load; descriptors before the load (after one request of each
kind, pooled upstream connections not counted) and once the load has
stopped and idle upstream connections have timed out; /metrics at the end.

Exit status 1 if RSS grew more than 5% between middle and end, if the
descriptors did not return to the baseline, if any request that was not
meant to fail failed (or a fault got another answer than the one meant),
if /metrics disagrees with the annotations the clients saw, or if the
proxy did not exit 0 on SIGTERM. 2 for a usage or setup error.
"""

import argparse
import base64
import collections
import gzip
import itertools
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))

CALLBACK = "http://localhost:3000/callback"
TOKEN_PATH = "/login/oauth/access_token"
IDLE_S = 10                 # timeouts.idle: 504 and pooled connections
RSS_LIMIT = 0.05
SAMPLE_S = 2.0


def log(msg):
    sys.stderr.write("soak: %s\n" % msg)
    sys.stderr.flush()


# -- observation of the proxy ---------------------------------------------

def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """utime + stime of pid (/proc/PID/stat fields 14 and 15)."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def tcp_sockets(pid):
    """{inode: (state, local port, remote port)} of pid's network
    namespace."""
    out = {}
    for name in ("tcp", "tcp6"):
        try:
            f = open("/proc/%d/net/%s" % (pid, name))
        except OSError:
            continue
        with f:
            next(f)
            for line in f:
                p = line.split()
                lport = int(p[1].rsplit(":", 1)[1], 16)
                rport = int(p[2].rsplit(":", 1)[1], 16)
                out[int(p[9])] = (p[3], lport, rport)
    return out


def fd_breakdown(pid, port):
    """Descriptors of pid: total, and TCP ones split into clients (local
    port = the proxy's), upstream (other established TCP) and the rest."""
    d = "/proc/%d/fd" % pid
    links = []
    for name in os.listdir(d):
        try:
            links.append(os.readlink(os.path.join(d, name)))
        except OSError:
            pass
    tcp = tcp_sockets(pid)
    b = {"total": len(links), "clients": 0, "upstream": 0, "other": 0}
    for ln in links:
        m = re.match(r"socket:\[(\d+)\]", ln)
        t = tcp.get(int(m.group(1))) if m else None
        if t is None or t[0] == "0A":
            b["other"] += 1
        elif t[1] == port:
            b["clients"] += 1
        else:
            b["upstream"] += 1
    return b


def parse_metrics(text):
    """{(name, labels string): value} of a Prometheus exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$", line)
        if m:
            out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


# -- a small HTTP client over raw sockets ---------------------------------

class Conn:
    """A socket (plain or TLS) with a buffer: enough HTTP/1.1 for the
    soak's clients."""

    def __init__(self, sock, timeout=30):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = b""

    @classmethod
    def to_proxy(cls, port, timeout=30):
        s = socket.create_connection(("127.0.0.1", port), timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(s, timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        b = self.sock.recv(262144)
        if not b:
            raise EOFError("connection closed by the proxy")
        self.buf += b

    def line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise ValueError("line too long")
            self._fill()
        i = self.buf.index(b"\r\n")
        out, self.buf = self.buf[:i], self.buf[i + 2:]
        return out.decode("latin-1")

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self, method="GET"):
        """(status, [(name, value)], body)."""
        while True:
            status = int(self.line().split(" ", 2)[1])
            headers = []
            while True:
                h = self.line()
                if not h:
                    break
                n, _, v = h.partition(":")
                headers.append((n.strip(), v.strip()))
            if 100 <= status < 200 and status != 101:
                continue
            break
        hd = {n.lower(): v for n, v in headers}
        if method in ("HEAD", "CONNECT") or status in (204, 304):
            return status, headers, b""
        if "chunked" in hd.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size = int(self.line().split(";")[0].strip(), 16)
                if size == 0:
                    while self.line():
                        pass
                    break
                parts.append(self.exact(size))
                self.exact(2)
            return status, headers, b"".join(parts)
        if "content-length" in hd:
            return status, headers, self.exact(int(hd["content-length"]))
        try:
            while True:
                self._fill()
        except (EOFError, ConnectionResetError):
            pass
        out, self.buf = self.buf, b""
        return status, headers, out


def header(headers, name):
    for n, v in headers:
        if n.lower() == name.lower():
            return v
    return None


# -- the run ---------------------------------------------------------------

class Failures:
    """Unexpected failures: a count by kind and the first examples."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_kind = collections.Counter()
        self.examples = []

    def add(self, kind, detail):
        with self.lock:
            self.by_kind[kind] += 1
            if len(self.examples) < 25:
                self.examples.append("%s: %s" % (kind, detail[:400]))

    @property
    def total(self):
        with self.lock:
            return sum(self.by_kind.values())


class Soak:

    def __init__(self, a):
        self.a = a
        self.seconds = a.minutes * 60.0
        self.warmup = min(60.0, max(10.0, self.seconds * 0.1))
        self.stop = threading.Event()
        self.fail = Failures()
        self.lock = threading.Lock()
        self.exchanges = collections.Counter()     # scenario -> done
        self.annotated = collections.Counter()     # code -> seen by clients
        self.faults = collections.Counter()        # fault -> done
        self.samples = []                          # (t, rss KiB, fds)
        self.spent = collections.deque(maxlen=1000)  # codes to reuse
        self.t0 = None
        self.tmp = None
        self.procs = []
        self.fakes = []
        self.proxy = None

    # -- setup ---------------------------------------------------------
    def setup(self):
        import harness
        import oauth_helpers as oh
        from fake_github import FakeGitHub, Registry
        self.harness = harness
        self.tmp = tempfile.mkdtemp(prefix="oauthlens-soak-")
        self.gca = oh.GitHubCA(self.tmp)
        reg = Registry()
        self.gh = FakeGitHub(tls=self.gca.github, registry=reg).start()
        self.gh_plain = FakeGitHub(registry=reg).start()
        self.fakes = [self.gh, self.gh_plain]
        self.app = self.gh.add_app(callback=CALLBACK)
        self.app2 = self.gh.add_app(callback=CALLBACK)
        with open(os.path.join(SRC, "conf", "messages.json")) as f:
            self.catalog_codes = sorted(k for k in json.load(f)
                                        if not k.startswith("_"))
        self.origin_port = self.start_origin("origin")
        self.origin_auth = "127.0.0.1:%d" % self.origin_port
        # A second origin only the idle-reuse check talks to: its pooled
        # connection is the one that check left there.
        self.origin2_auth = "127.0.0.1:%d" % self.start_origin("origin2")
        self.certs = os.path.join(self.tmp, "certs")
        cfg = {"connect_ports": [443, self.origin_port],
               "timeouts": {"idle": IDLE_S}, "max_connections": 1024}
        args = ["--certs", self.certs, "--upstream-ca", self.gca.ca,
                "--resolve", "github.com:443:127.0.0.1:%d" % self.gh.port,
                "--resolve", "github.com:80:127.0.0.1:%d" %
                self.gh_plain.port]
        self.proxy = harness.Proxy(self.tmp, cfg, args,
                                   log_level=self.a.log_level,
                                   log_format="json", name="proxy")
        self.proxy.start(timeout=20)
        self.port = self.proxy.port
        self.ca_pem = os.path.join(self.certs, "ca.pem")
        self.ctx = ssl.create_default_context(cafile=self.ca_pem)
        self.closed_port = harness.closed_port()

    def start_origin(self, name):
        """tests/servers/origin.py as a process; its port."""
        ready = os.path.join(self.tmp, name + ".port")
        p = subprocess.Popen(
            [sys.executable, os.path.join(SRC, "tests", "servers",
                                          "origin.py"),
             "--port", "0", "--ready-file", ready],
            stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.procs.append(p)
        deadline = time.monotonic() + 20
        while not os.path.exists(ready):
            if time.monotonic() > deadline or p.poll() is not None:
                raise RuntimeError("the test origin did not start")
            time.sleep(0.05)
        with open(ready) as f:
            return int(f.read())

    def teardown(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        for f in self.fakes:
            f.stop()
        if self.proxy is not None and self.proxy.alive():
            self.proxy.stop(check=False)
        if self.tmp and not self.a.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- token exchanges --------------------------------------------------
    def scenarios(self):
        """Every scenario: (name, kind, forced error)."""
        out = [("success", "success", None),
               ("wrong-secret", "wrong-secret", None),
               ("wrong-redirect", "wrong-redirect", None),
               ("unknown-code", "unknown-code", None),
               ("success-then-reuse", "success", None),
               ("reused-code", "reused-code", None),
               ("expired-code", "expired-code", None),
               ("other-app-code", "other-app-code", None),
               ("basic-auth", "basic", None),
               ("basic-wrong-secret", "basic-wrong", None),
               ("json-body", "json", None),
               ("oversize-error", "oversize", "bad_verification_code")]
        out += [("forced-" + c, "forced", c) for c in self.catalog_codes]
        return out

    def build_exchange(self, sc, fmt, coding, plain):
        """(request bytes, expected annotation code or None, expected
        outcome word in the body)."""
        name, kind, forced = sc
        app = self.app
        secret, redirect, expect = app.client_secret, CALLBACK, None
        code = None
        q = {}
        auth = None
        ctype = "application/x-www-form-urlencoded"
        if kind == "success" or kind == "json" or kind == "basic":
            code = self.gh.issue_code(app.client_id)
        elif kind == "wrong-secret":
            code = self.gh.issue_code(app.client_id)
            secret = "0" * 40
            expect = "incorrect_client_credentials"
        elif kind == "basic-wrong":
            code = self.gh.issue_code(app.client_id)
            expect = "incorrect_client_credentials"
        elif kind == "wrong-redirect":
            code = self.gh.issue_code(app.client_id)
            redirect = "http://elsewhere.example/callback"
            expect = "redirect_uri_mismatch"
        elif kind == "unknown-code":
            code = "%020x" % random.getrandbits(80)
            expect = "bad_verification_code"
        elif kind == "reused-code":
            with self.lock:
                code = self.spent.popleft() if self.spent else None
            if code is None:
                code = "%020x" % random.getrandbits(80)
            expect = "bad_verification_code"
        elif kind == "expired-code":
            code = self.gh.issue_code(app.client_id, age=601)
            expect = "bad_verification_code"
        elif kind == "other-app-code":
            code = self.gh.issue_code(self.app2.client_id)
            expect = "bad_verification_code"
        elif kind == "oversize":
            code = self.gh.issue_code(app.client_id)
            q["__error"] = forced
            q["__oversize"] = "70000"
            expect = None           # past inspect_max_bytes: untouched
        elif kind == "forced":
            code = self.gh.issue_code(app.client_id)
            q["__error"] = forced
            expect = None if forced == "authorization_pending" else forced
        params = {"client_id": app.client_id, "client_secret": secret,
                  "code": code, "redirect_uri": redirect}
        if kind in ("basic", "basic-wrong"):
            bsecret = secret if kind == "basic" else "1" * 40
            del params["client_id"], params["client_secret"]
            auth = "Basic " + base64.b64encode(("%s:%s" % (
                app.client_id, bsecret)).encode()).decode()
        if kind == "json":
            body = json.dumps(params).encode()
            ctype = "application/json"
        else:
            body = urllib.parse.urlencode(params).encode()
        if coding in ("gzip", "deflate"):
            q["__encoding"] = coding
        if coding == "chunked":
            q["__chunked"] = "1"
        if coding == "chunked-gzip":
            q["__chunked"] = "1"
            q["__encoding"] = "gzip"
        path = TOKEN_PATH + ("?" + urllib.parse.urlencode(q) if q else "")
        target = ("http://github.com" + path) if plain else path
        lines = ["POST %s HTTP/1.1" % target, "Host: github.com",
                 "User-Agent: oauthlens-soak",
                 "Content-Type: " + ctype,
                 "Content-Length: %d" % len(body),
                 "Accept: " + {"form": "*/*", "json": "application/json",
                               "xml": "application/xml"}[fmt]]
        if coding != "identity":
            lines.append("Accept-Encoding: gzip, deflate")
        if auth:
            lines.append("Authorization: " + auth)
        word = "access_token" if kind in ("success", "json", "basic") \
            else (forced or expect)
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body, expect, \
            word, code

    def check_exchange(self, sc, status, headers, body, expect, word):
        """None if the answer is what the scenario meant, else why not."""
        if status != 200:
            return "status %s" % status
        ann = header(headers, "OAuth-Troubleshooting")
        if expect is None and ann is not None:
            return "unexpected annotation %r" % ann[:120]
        if expect is not None:
            if ann is None:
                return "no annotation (expected %s)" % expect
            if ann.split(";", 1)[0] != expect:
                return "annotation %r, expected %s" % (ann[:120], expect)
        enc = (header(headers, "Content-Encoding") or "").lower()
        try:
            if enc == "gzip":
                body = gzip.decompress(body)
            elif enc == "deflate":
                body = zlib.decompress(body)
        except (OSError, zlib.error) as e:
            return "body does not decode (%s): %s" % (enc, e)
        if word and word.encode() not in body:
            return "body lacks %r: %r" % (word, body[:200])
        return None

    def exchanger(self, i, cycle):
        rnd = random.Random(i)
        while not self.stop.is_set():
            plain = rnd.random() < 0.2
            c = None
            try:
                c = Conn.to_proxy(self.port)
                if not plain:
                    c.send(b"CONNECT github.com:443 HTTP/1.1\r\n"
                           b"Host: github.com:443\r\n\r\n")
                    st, _, _ = c.response("CONNECT")
                    if st != 200:
                        self.fail.add("exchange", "CONNECT answered %s" % st)
                        continue
                    c.sock = self.ctx.wrap_socket(
                        c.sock, server_hostname="github.com")
                for _ in range(rnd.randint(1, 5)):
                    if self.stop.is_set():
                        break
                    with self.lock:
                        sc, fmt, coding = next(cycle)
                    req, expect, word, code = self.build_exchange(
                        sc, fmt, coding, plain)
                    c.send(req)
                    st, hdrs, body = c.response("POST")
                    why = self.check_exchange(sc, st, hdrs, body, expect,
                                              word)
                    if why:
                        self.fail.add("exchange", "%s/%s/%s%s: %s" % (
                            sc[0], fmt, coding, "/plain" if plain else "",
                            why))
                    with self.lock:
                        self.exchanges[sc[0]] += 1
                        if expect:
                            self.annotated[expect] += 1
                        if sc[0] == "success-then-reuse" and not why:
                            self.spent.append(code)
                    if header(hdrs, "Connection") == "close":
                        break
            except (OSError, EOFError, ValueError, ssl.SSLError) as e:
                if not self.stop.is_set():
                    self.fail.add("exchange", "%s: %r" % (
                        "plain" if plain else "tls", e))
            finally:
                if c is not None:
                    c.close()

    # -- faults ------------------------------------------------------------
    def http(self, method, path, headers=(), body=b"", host=None):
        host = host or self.origin_auth
        lines = ["%s http://%s%s HTTP/1.1" % (method, host, path),
                 "Host: " + host] + ["%s: %s" % h for h in headers]
        if body and not any(n.lower() in ("content-length",
                                          "transfer-encoding")
                            for n, _ in headers):
            lines.append("Content-Length: %d" % len(body))
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def one_fault(self, name, data, want, method="GET", timeout=30):
        c = Conn.to_proxy(self.port, timeout)
        try:
            c.send(data)
            try:
                st, _, _ = c.response(method)
            except (EOFError, ConnectionResetError):
                st = None
            if st != want:
                self.fail.add("fault", "%s: got %s, meant %s" % (
                    name, st, want))
        finally:
            c.close()
        with self.lock:
            self.faults[name] += 1

    def abort(self, name, data, read):
        c = Conn.to_proxy(self.port)
        try:
            c.send(data)
            if read:
                c.line()
                c.exact(read)
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                              struct.pack("ii", 1, 0))
        finally:
            c.close()
        with self.lock:
            self.faults[name] += 1

    def tunnel(self):
        c = Conn.to_proxy(self.port)
        try:
            c.send(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (
                self.origin_auth, self.origin_auth)).encode())
            st, _, _ = c.response("CONNECT")
            if st != 200:
                self.fail.add("tunnel", "CONNECT answered %s" % st)
                return
            for i in range(3):
                c.send(b"GET /bytes/30000 HTTP/1.1\r\nHost: x\r\n\r\n")
                st, _, body = c.response()
                if st != 200 or len(body) != 30000:
                    self.fail.add("tunnel", "status %s, %d bytes" % (
                        st, len(body)))
        finally:
            c.close()
        with self.lock:
            self.faults["tunnel (meant to work)"] += 1

    def faulter(self):
        big = [("X-Big-%d" % i, "v" * 1000) for i in range(70)]
        steps = [
            lambda: self.one_fault("502 refused", self.http(
                "GET", "/", host="127.0.0.1:%d" % self.closed_port), 502),
            lambda: self.one_fault("502 reset", self.http(
                "GET", "/reset"), 502),
            lambda: self.one_fault("502 malformed status", self.http(
                "GET", "/badstatus"), 502),
            lambda: self.one_fault("400 CL+TE", self.http(
                "POST", "/echo", [("Content-Length", "5"),
                                  ("Transfer-Encoding", "chunked")],
                b"0\r\n\r\n"), 400),
            lambda: self.one_fault("431 head too large", self.http(
                "GET", "/echo", big), 431),
            lambda: self.one_fault("403 CONNECT port", (
                b"CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: x\r\n\r\n"), 403,
                "CONNECT"),
            lambda: self.abort("client leaves mid-download", self.http(
                "GET", "/bytes/%d" % (16 << 20)), 65536),
            lambda: self.abort("client leaves mid-upload", self.http(
                "POST", "/echo", [("Content-Length", "1000000")],
                b"x" * 10000), 0),
            self.tunnel,
        ]
        last_504 = 0.0
        while not self.stop.is_set():
            for step in steps:
                if self.stop.is_set():
                    break
                try:
                    step()
                except (OSError, EOFError, ValueError) as e:
                    self.fail.add("fault", "%r" % e)
                self.stop.wait(0.1)
            # A 504 takes timeouts.idle: one every 30 s, if it fits.
            now = time.monotonic()
            if now - last_504 > 30 and \
                    self.t0 + self.seconds - now > IDLE_S + 5:
                last_504 = now
                try:
                    self.one_fault("504 upstream stalls", self.http(
                        "GET", "/slow?delay=%d" % (IDLE_S + 3)), 504,
                        timeout=IDLE_S + 20)
                except (OSError, EOFError, ValueError) as e:
                    self.fail.add("fault", "504: %r" % e)

    def idler(self):
        """A pooled upstream connection reused after idling for most of
        timeouts.idle must still give the origin the whole timeout: put
        one in the pool, wait IDLE_S - 2 s, ask for an answer that takes
        3 s (more than what is left of the first idle period)."""
        name = "pooled connection reused after %d s idle (meant to " \
            "work)" % (IDLE_S - 2)
        while not self.stop.is_set() and \
                self.t0 + self.seconds - time.monotonic() > IDLE_S + 3:
            try:
                c = Conn.to_proxy(self.port)
                c.send(self.http("GET", "/echo?idler=1",
                                 [("Connection", "close")],
                                 host=self.origin2_auth))
                st, _, _ = c.response()
                c.close()
                if st != 200:
                    self.fail.add("idle-reuse", "first request: %s" % st)
                if self.stop.wait(IDLE_S - 2):
                    break
                t = time.monotonic()
                c = Conn.to_proxy(self.port, IDLE_S + 10)
                c.send(self.http("GET", "/slow?delay=3",
                                 [("Connection", "close")],
                                 host=self.origin2_auth))
                st, _, _ = c.response()
                c.close()
                if st != 200:
                    self.fail.add("idle-reuse", "%s: status %s after "
                                  "%.2f s (the origin answers in 3 s)" % (
                                      name, st, time.monotonic() - t))
                with self.lock:
                    self.faults[name] += 1
            except (OSError, EOFError, ValueError) as e:
                self.fail.add("idle-reuse", "%r" % e)

    # -- sampling ----------------------------------------------------------
    def sampler(self):
        pid = self.proxy.pid
        while not self.stop.wait(SAMPLE_S):
            try:
                self.samples.append((time.monotonic() - self.t0,
                                     rss_kib(pid),
                                     len(os.listdir("/proc/%d/fd" % pid))))
            except OSError:
                self.fail.add("proxy", "the proxy is gone")
                return

    def sample_at(self, t):
        """The RSS sample nearest to t seconds into the load."""
        best = min(self.samples, key=lambda s: abs(s[0] - t))
        return best

    # -- the run -------------------------------------------------------------
    def warm_up(self):
        """One request of each kind, so that whatever the proxy opens
        lazily is open; returns the descriptor baseline (pooled upstream
        connections not counted)."""
        c = Conn.to_proxy(self.port)
        c.send(self.http("GET", "/echo?warm=1"))
        st, _, _ = c.response()
        c.close()
        if st != 200:
            raise RuntimeError("warm-up request answered %s" % st)
        c = Conn.to_proxy(self.port)
        c.send(b"CONNECT github.com:443 HTTP/1.1\r\nHost: github.com\r\n\r\n")
        c.response("CONNECT")
        c.sock = self.ctx.wrap_socket(c.sock, server_hostname="github.com")
        req, expect, word, _ = self.build_exchange(
            ("success", "success", None), "json", "identity", False)
        c.send(req)
        st, h, b = c.response("POST")
        c.close()
        why = self.check_exchange(None, st, h, b, expect, word)
        if why:
            raise RuntimeError("warm-up exchange: " + why)
        time.sleep(0.5)
        b = fd_breakdown(self.proxy.pid, self.port)
        return b["total"] - b["upstream"] - b["clients"], b

    def run_wrk(self, seconds):
        cmd = ["wrk", "-t", str(self.a.wrk_threads), "-c",
               str(self.a.wrk_connections), "-d", "%ds" % seconds,
               "--timeout", "10s", "-s", os.path.join(HERE, "proxy.lua"),
               "http://127.0.0.1:%d" % self.port, "--", self.origin_auth]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)

    def metrics(self):
        c = Conn.to_proxy(self.port)
        c.send(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Connection: close\r\n\r\n")
        st, _, body = c.response()
        c.close()
        return parse_metrics(body.decode())

    def run(self):
        self.setup()
        base, base_b = self.warm_up()
        scen = self.scenarios()
        combos = [(s, f, cd) for s in scen for f in ("form", "json", "xml")
                  for cd in ("identity", "gzip", "deflate", "chunked",
                             "chunked-gzip")]
        # Scenario-major order: every scenario comes round quickly.
        combos.sort(key=lambda x: (("form", "json", "xml").index(x[1]),
                                   x[2]))
        cycle = itertools.cycle(combos)
        self.t0 = time.monotonic()
        rss0 = rss_kib(self.proxy.pid)
        cpu0 = cpu_seconds(self.proxy.pid)
        wrk = self.run_wrk(int(round(self.seconds)))
        self.procs.append(wrk)
        threads = [threading.Thread(target=self.sampler, daemon=True),
                   threading.Thread(target=self.faulter, daemon=True),
                   threading.Thread(target=self.idler, daemon=True)]
        threads += [threading.Thread(target=self.exchanger,
                                     args=(i, cycle), daemon=True)
                    for i in range(self.a.exchangers)]
        for t in threads:
            t.start()
        log("load running for %.0f s (wrk %d connections, %d exchangers, "
            "faults); warm-up %.0f s" % (self.seconds,
                                          self.a.wrk_connections,
                                          self.a.exchangers, self.warmup))
        next_note = 60
        while time.monotonic() - self.t0 < self.seconds:
            time.sleep(1)
            el = time.monotonic() - self.t0
            if el >= next_note:
                next_note += 60
                s = self.samples[-1] if self.samples else (0, 0, 0)
                log("%3.0f s: RSS %d KiB, %d fds, %d exchanges, %d "
                    "unexpected failures" % (el, s[1], s[2],
                                             sum(self.exchanges.values()),
                                             self.fail.total))
            if not self.proxy.alive():
                self.fail.add("proxy", "the proxy exited during the load")
                break
        end_sample = None
        if self.proxy.alive():
            end_sample = (time.monotonic() - self.t0,
                          rss_kib(self.proxy.pid),
                          len(os.listdir("/proc/%d/fd" % self.proxy.pid)))
            self.cpu = (cpu_seconds(self.proxy.pid) - cpu0,
                        end_sample[0])
        self.stop.set()
        try:
            out, _ = wrk.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            wrk.kill()
            out, _ = wrk.communicate()
        for t in threads:
            t.join(IDLE_S + 30)
        hung = [t.name for t in threads if t.is_alive()]
        if hung:
            self.fail.add("driver", "threads still running: %s" % hung)
        wrk_res = None
        for line in out.decode(errors="replace").splitlines():
            if line.startswith("SOAK-WRK "):
                wrk_res = json.loads(line[len("SOAK-WRK "):])
        if wrk_res is None:
            self.fail.add("wrk", "no summary from wrk (status %s): %s" % (
                wrk.returncode, out[-500:]))
            wrk_res = {}
        wrk_bad = sum(wrk_res.get(k, 0) for k in ("connect", "read",
                                                   "write", "status",
                                                   "timeout"))
        if wrk_bad:
            self.fail.add("wrk", "%d failed requests: %r" % (wrk_bad,
                                                               wrk_res))
            with self.fail.lock:
                self.fail.by_kind["wrk"] += wrk_bad - 1
        # Descriptors back: every client and pooled upstream connection
        # gone once timeouts.idle (or a pool's own limit, 30 s in some
        # versions) has passed.
        alive = self.proxy.alive()
        end_b = None
        if alive:
            deadline = time.monotonic() + max(IDLE_S, 30) + 20
            while time.monotonic() < deadline:
                end_b = fd_breakdown(self.proxy.pid, self.port)
                if end_b["total"] <= base:
                    break
                time.sleep(0.5)
            metrics = self.metrics()
        else:
            metrics = {}
        rc = self.proxy.stop(check=False, timeout=30)
        return self.report(base, base_b, end_b, rss0, end_sample, wrk_res,
                           metrics, rc)

    def report(self, base, base_b, end_b, rss0, end_sample, wrk_res,
               metrics, rc):
        r = {"minutes": self.a.minutes, "warmup_s": self.warmup}
        problems = []
        if self.samples and end_sample:
            samples = self.samples + [end_sample]
            t_start = self.sample_at(self.warmup)
            t_mid = self.sample_at(self.seconds / 2)
            r["rss_kib"] = {"before_load": rss0, "start": t_start[1],
                            "middle": t_mid[1], "end": end_sample[1],
                            "max": max(s[1] for s in samples)}
            growth = (end_sample[1] - t_mid[1]) / float(t_mid[1])
            r["rss_growth_middle_to_end"] = round(growth, 4)
            if growth > RSS_LIMIT:
                problems.append("RSS grew %.1f%% between middle and end "
                                "(limit %.0f%%)" % (growth * 100,
                                                    RSS_LIMIT * 100))
            r["fds_during_load_max"] = max(s[2] for s in samples)
        else:
            problems.append("no RSS samples (the proxy died?)")
        r["fds"] = {"baseline": base, "after_warmup": base_b,
                    "end": end_b}
        if end_b is None or end_b["total"] > base:
            problems.append("descriptors did not return to the baseline "
                            "%d: %r" % (base, end_b))
        ann_m = {}
        for (name, labels), v in metrics.items():
            if name == "oauthlens_oauth_errors_annotated_total":
                m = re.search(r'code="([^"]+)"', labels)
                ann_m[m.group(1) if m else labels] = int(v)
        req_m = {}
        for (name, labels), v in metrics.items():
            if name == "oauthlens_requests_total":
                req_m[labels] = int(v)
        r["metrics"] = {
            "requests_total": sum(req_m.values()),
            "requests_by_method_status": req_m,
            "annotated_by_code": ann_m,
            "proxy_errors_total": int(metrics.get(
                ("oauthlens_proxy_errors_total", ""), -1)),
            "intercepted_total": int(metrics.get(
                ("oauthlens_intercepted_total", ""), -1)),
            "tunnels_total": int(metrics.get(
                ("oauthlens_tunnels_total", ""), -1)),
            "certificates_minted_total": int(metrics.get(
                ("oauthlens_certificates_minted_total", ""), -1)),
        }
        if metrics and dict(self.annotated) != ann_m:
            problems.append("/metrics annotated counts %r differ from what "
                            "the clients saw %r" % (ann_m,
                                                    dict(self.annotated)))
        r["wrk"] = wrk_res
        r["exchanges"] = {"total": sum(self.exchanges.values()),
                          "by_scenario": dict(self.exchanges),
                          "annotated_seen_by_clients":
                          dict(self.annotated)}
        r["faults_and_checks"] = dict(self.faults)
        r["unexpected_failures"] = {"total": self.fail.total,
                                    "by_kind": dict(self.fail.by_kind),
                                    "examples": self.fail.examples}
        if self.fail.total:
            problems.append("%d requests failed that were not meant to" %
                            self.fail.total)
        cpu, wall = getattr(self, "cpu", (0.0, 1.0))
        r["proxy_cpu"] = {"seconds": round(cpu, 1),
                          "cores": round(cpu / wall, 2)}
        r["proxy_exit_status"] = rc
        if rc != 0:
            problems.append("the proxy exited with status %s on SIGTERM"
                            % rc)
        text = self.proxy.stderr_text()
        warn = collections.Counter()
        # Answers the proxy made itself with 5xx, by reason (the faults'
        # are among them).
        r5xx = collections.Counter()
        for line in text.splitlines():
            if '"level":"warn"' not in line and \
                    '"level":"error"' not in line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                warn["?"] += 1
                continue
            warn[rec.get("event", "?")] += 1
            if rec.get("event") == "proxy-error" and \
                    int(rec.get("status", 0)) >= 500:
                r5xx["%s %s" % (rec.get("status"), re.sub(
                    r"\d+", "N", str(rec.get("reason"))))] += 1
        r["proxy_log_warnings"] = warn
        r["proxy_5xx_by_reason"] = r5xx
        for m in self.harness.SANITIZER_MARKERS:
            if m in text:
                problems.append("sanitizer report in the proxy's stderr")
        r["rss_samples"] = self.samples[::max(1, len(self.samples) // 60)]
        r["problems"] = problems
        r["verdict"] = "FAIL" if problems else "PASS"
        self.print_report(r)
        path = self.a.report or os.path.join(self.tmp, "soak-report.json")
        with open(path, "w") as f:
            json.dump(r, f, indent=2, default=str)
        if self.a.keep or self.a.report:
            log("report in %s" % path)
        return 1 if problems else 0

    def print_report(self, r):
        w = r.get("wrk", {})
        rs = r.get("rss_kib", {})
        ex = r["exchanges"]
        m = r["metrics"]
        dur = w.get("duration_us", 0) / 1e6 or 1
        lines = [
            "== oauthlens soak: %g minute(s), %s ==" % (r["minutes"],
                                                         r["verdict"]),
            "requests: wrk %d (%.0f/s; p50 %.1f ms, p99 %.1f ms), token "
            "exchanges %d, faults %d; proxy /metrics requests_total %d" % (
                w.get("requests", 0), w.get("requests", 0) / dur,
                w.get("p50_us", 0) / 1e3, w.get("p99_us", 0) / 1e3,
                ex["total"], sum(r["faults_and_checks"].values()),
                m["requests_total"]),
            "wrk statuses %s; socket errors connect %d read %d write %d "
            "timeout %d; non-2xx/3xx %d" % (
                w.get("statuses"), w.get("connect", 0), w.get("read", 0),
                w.get("write", 0), w.get("timeout", 0), w.get("status", 0)),
            "errors annotated (/metrics): %s" % ", ".join(
                "%s %d" % kv for kv in sorted(m["annotated_by_code"].items())
            ),
            "proxy-made errors %d, intercepted %d, tunnels %d, leaves "
            "minted %d" % (m["proxy_errors_total"], m["intercepted_total"],
                           m["tunnels_total"],
                           m["certificates_minted_total"]),
            "faults and checks: %s" % ", ".join(
                "%s x%d" % kv for kv in sorted(r["faults_and_checks"].items())),
            "RSS KiB: before load %s, start (after %.0f s warm-up) %s, "
            "middle %s, end %s, max %s; middle->end %+.2f%%" % (
                rs.get("before_load"), r["warmup_s"], rs.get("start"),
                rs.get("middle"), rs.get("end"), rs.get("max"),
                100 * r.get("rss_growth_middle_to_end", 0)),
            "descriptors: baseline %s (after warm-up %s), end %s, max "
            "during load %s" % (r["fds"]["baseline"],
                                r["fds"]["after_warmup"], r["fds"]["end"],
                                r.get("fds_during_load_max")),
            "proxy CPU during the load: %.1f s (%.2f cores)" % (
                r["proxy_cpu"]["seconds"], r["proxy_cpu"]["cores"]),
            "unexpected failures: %d %s" % (
                r["unexpected_failures"]["total"],
                r["unexpected_failures"]["by_kind"]),
        ]
        for e in r["unexpected_failures"]["examples"][:10]:
            lines.append("  " + e)
        lines.append("proxy log records (level warn and above) by event: "
                     "%s" % dict(r["proxy_log_warnings"]))
        for reason, n in sorted(r["proxy_5xx_by_reason"].items()):
            lines.append("  5xx made by the proxy x%d: %s" % (n, reason))
        lines.append("proxy exit status on SIGTERM: %s" %
                     r["proxy_exit_status"])
        for p in r["problems"]:
            lines.append("PROBLEM: " + p)
        print("\n".join(lines), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--bin", help="the oauthlens binary")
    ap.add_argument("--wrk-connections", type=int, default=16)
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--exchangers", type=int, default=3)
    ap.add_argument("--report", help="write the JSON report here")
    ap.add_argument("--log-level", default="warn",
                    help="the proxy's --log-level (info logs every "
                    "request: large)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory")
    a = ap.parse_args(argv)
    if a.minutes <= 0 or a.minutes > 24 * 60:
        ap.error("MINUTES must be in (0, 1440]")
    if a.bin:
        os.environ["OAUTHLENS_BIN"] = os.path.abspath(a.bin)
    if shutil.which("wrk") is None:
        log("wrk is not installed")
        return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    s = Soak(a)
    # Every loop is bounded by the run time; this is the backstop.
    def backstop(*_):
        log("run time exceeded: stopping everything")
        for pr in s.procs + ([s.proxy.proc] if s.proxy and s.proxy.proc
                             else []):
            try:
                pr.kill()
            except OSError:
                pass
        os._exit(3)
    signal.signal(signal.SIGALRM, backstop)
    signal.alarm(int(s.seconds + s.warmup + 300))
    try:
        return s.run()
    except RuntimeError as e:
        log("setup failed: %s" % e)
        return 2
    finally:
        s.teardown()


if __name__ == "__main__":
    sys.exit(main())
