"""Shared machinery for oauthlens's integration tests.

Each tests/integration/test_*.py runs as its own process (ctest), imports
this module, and uses:

  TestCA(dir)             a CA and a server certificate for 127.0.0.1 and
                          localhost, made with the openssl CLI;
  Origin                  the test origin (tests/servers/origin.py), run in
                          a thread of the test process;
  Proxy(dir, config, args) the oauthlens binary as a subprocess, stderr in
                          a file, JSON logs, fd and RSS probes;
  curl(...)               curl through the proxy, returning status,
                          headers and body;
  RawConn / read_response raw sockets for what clients libraries hide
                          (pipelining, exact header case, bad requests);
  ProxyTestCase           unittest base class: one origin and one proxy per
                          test class, stopped (and checked) at the end.

Environment (set by ctest): OAUTHLENS_BIN, OAUTHLENS_SRC, OAUTHLENS_BUILD,
OAUTHLENS_SANITIZE ("1" under ASan/UBSan: slower proxy, smaller sizes).
OAUTHLENS_KEEP_TMP=1 keeps the temporary directories for inspection.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("OAUTHLENS_SRC") or os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("OAUTHLENS_BUILD") or os.path.join(SRC, "build")
BIN = os.environ.get("OAUTHLENS_BIN") or os.path.join(BUILD, "oauthlens")
SANITIZE = os.environ.get("OAUTHLENS_SANITIZE", "0").lower() in \
    ("1", "on", "true", "yes")
KEEP_TMP = os.environ.get("OAUTHLENS_KEEP_TMP") == "1"

sys.path.insert(0, os.path.join(SRC, "tests", "servers"))
from origin import (Origin, pattern, pattern_bytes,  # noqa: E402,F401
                    pattern_sha256, ws_encode, ws_read_frame, WS_GUID)
from httpcommon import HeaderList  # noqa: E402

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")

# Scale factor for sizes and timing margins under sanitizers.
SLOW = 3.0 if SANITIZE else 1.0


def clean_env():
    """The environment without proxy variables (curl honours NO_PROXY even
    with -x, and requests reads them all)."""
    env = dict(os.environ)
    for k in list(env):
        if k.lower() in ("http_proxy", "https_proxy", "all_proxy",
                         "no_proxy", "curl_ca_bundle"):
            del env[k]
    return env


class PortHold:
    """A TCP port that no other socket on this machine can be given while
    the hold lasts, yet a server told to use it can still listen there.

    A port picked by binding to port 0 and closing is free only "a moment
    ago": until the server binds it, the kernel may hand it to any other
    bind(0) (another test's server) or use it as the source port of an
    outgoing connection, and the server then fails with "address already
    in use". Here a socket stays bound to the port (SO_REUSEADDR, never
    listening): the kernel's port choice for bind(0) and connect() skips
    a bound port, while an explicit bind with SO_REUSEADDR, which every
    server the tests start sets (oauthlens, Python's servers, Node,
    Squid, systemd-socket-activate), still succeeds, and only one socket
    may listen. A connect() to a held port nobody listens on is refused."""

    def __init__(self, host="127.0.0.1"):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]

    def release(self):
        self.sock.close()


# Holds given out by free_port() and closed_port(): kept for the life of
# the test process (a port number may be written into a config or an
# environment long after it was picked).
_held_ports = []


def free_port(host="127.0.0.1"):
    """A TCP port on host that stays reserved for this process (see
    PortHold): a server started later with it can listen there."""
    h = PortHold(host)
    _held_ports.append(h)
    return h.port


def closed_port():
    """A port nothing listens on (connect gets RST), and nothing will:
    it is held for this process and never listened on."""
    p = free_port()
    with socket.socket() as s:
        s.settimeout(1)
        if s.connect_ex(("127.0.0.1", p)) == 0:
            raise RuntimeError("held port %d accepts connections" % p)
    return p


def tcp_queues():
    """{(local port, remote port): (send queue, receive queue)} for every
    TCP connection from 127.0.0.1 to 127.0.0.1 (/proc/net/tcp): the bytes
    the kernel holds for that socket, not yet taken by the peer's kernel
    (send) or not yet read by the socket's owner (receive)."""
    out = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            laddr, lport = fields[1].split(":")
            raddr, rport = fields[2].split(":")
            if laddr != "0100007F" or raddr != "0100007F" or \
                    fields[3] == "0A":          # listening
                continue
            tx, rx = fields[4].split(":")
            out[(int(lport, 16), int(rport, 16))] = (int(tx, 16),
                                                     int(rx, 16))
    return out


def server_conns(port):
    """How many connections to 127.0.0.1:port its server still holds open
    (ESTABLISHED or CLOSE_WAIT on its side, accepted or still queued;
    /proc/net/tcp)."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[3] in ("01", "08") and \
                    int(fields[1].split(":")[1], 16) == port:
                n += 1
    return n


def kernel_bytes(queues, a, b):
    """Bytes on their way from the socket on 127.0.0.1:a to its peer on
    127.0.0.1:b, held by the kernel (a's send queue, b's receive queue)."""
    return queues.get((a, b), (0, 0))[0] + queues.get((b, a), (0, 0))[1]


def wait_settled(measure, timeout, quiet=0.5):
    """Call measure() until it returns the same value twice `quiet`
    seconds apart (everything stalled), or timeout seconds pass; return
    (settled, last value)."""
    deadline = time.monotonic() + timeout
    last = measure()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        v = measure()
        if v == last:
            return True, v
        last = v
    return False, last


def wait_until(pred, timeout, interval=0.05):
    """Poll pred() until it is true or timeout seconds pass; return the
    last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def wait_listening(proc, port, timeout, interval=0.05):
    """Wait until something accepts on 127.0.0.1:port while proc runs:
    True, or False when proc exited or timeout seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(interval)
    return False


def listener_owned_by(pid, port):
    """True if process pid holds a socket listening on TCP port `port`
    (any address; /proc/net/tcp{,6} and /proc/<pid>/fd)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A" and \
                            int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add("socket:[%s]" % fields[9])
        except OSError:
            pass
    if not inodes:
        return False
    d = "/proc/%d/fd" % pid
    try:
        names = os.listdir(d)
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(os.path.join(d, name)) in inodes:
                return True
        except OSError:
            pass
    return False


class RawServer:
    """A loopback TCP server for origins that must misbehave exactly:
    each accepted connection is handed to self.serve(conn) in a thread of
    its own (subclasses define serve). close() stops accepting."""

    def __init__(self, backlog=16):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,),
                             daemon=True).start()

    def serve(self, conn):
        raise NotImplementedError

    def close(self):
        self.sock.close()


# -- certificates ------------------------------------------------------

class TestCA:
    """A throw-away CA (testca.pem) and a server certificate signed by it
    for IP 127.0.0.1 and DNS localhost (server.pem, server-key.pem)."""

    def __init__(self, d):
        self.dir = d
        self.ca = os.path.join(d, "testca.pem")
        self.ca_key = os.path.join(d, "testca-key.pem")
        self.cert = os.path.join(d, "server.pem")
        self.key = os.path.join(d, "server-key.pem")
        self._make()

    def _run(self, *args):
        r = subprocess.run(["openssl"] + list(args), cwd=self.dir,
                           capture_output=True, timeout=60)
        if r.returncode:
            raise RuntimeError("openssl %s failed: %s" %
                               (args[0], r.stderr.decode(errors="replace")))

    def _make(self):
        ext = os.path.join(self.dir, "server.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        self._run("req", "-x509", "-newkey", "ec",
                  "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                  "-keyout", self.ca_key, "-out", self.ca, "-days", "2",
                  "-subj", "/CN=oauthlens integration test CA",
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        csr = os.path.join(self.dir, "server.csr")
        self._run("req", "-new", "-newkey", "ec",
                  "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                  "-keyout", self.key, "-out", csr,
                  "-subj", "/CN=oauthlens test origin")
        self._run("x509", "-req", "-in", csr, "-CA", self.ca,
                  "-CAkey", self.ca_key, "-CAcreateserial", "-days", "2",
                  "-extfile", ext, "-out", self.cert)

    def cert_der(self):
        """The server certificate in DER (to compare with getpeercert)."""
        import ssl
        with open(self.cert) as f:
            return ssl.PEM_cert_to_DER_cert(f.read())


# -- the proxy -----------------------------------------------------------

def write_config(path, overrides=None):
    """Write a JSON config file holding exactly `overrides`."""
    with open(path, "w") as f:
        f.write("// oauthlens integration test config\n")
        json.dump(overrides or {}, f, indent=2)
        f.write("\n")
    return path


class ProxyError(AssertionError):
    pass


class Proxy:
    """build/oauthlens as a subprocess listening on 127.0.0.1:<port>."""

    def __init__(self, tmpdir, config=None, args=(), log_level="debug",
                 log_format="json", name="proxy", cli_listen=True,
                 env=None):
        self.tmpdir = tmpdir
        self.env = dict(env or {})   # added to clean_env()
        self.cli_listen = cli_listen
        self.config = dict(config or {})
        self.args = list(args)
        self.log_level = log_level
        self.log_format = log_format
        self.name = name
        self.config_path = os.path.join(tmpdir, name + ".conf")
        self.log_path = os.path.join(tmpdir, name + ".stderr")
        self.stdout_path = os.path.join(tmpdir, name + ".stdout")
        self.proc = None
        self.port = None
        self._hold = None       # PortHold of self.port until stop()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def pid(self):
        return self.proc.pid

    def command(self):
        """-l 127.0.0.1:port, or (cli_listen=False) "listen" in the
        config file."""
        cmd = [BIN, "-c", self.config_path]
        if self.cli_listen:
            cmd += ["-l", "127.0.0.1:%d" % self.port]
        return cmd + ["--log-format", self.log_format,
                      "--log-level", self.log_level] + self.args

    def start(self, timeout=10):
        if not os.access(BIN, os.X_OK):
            raise ProxyError("no proxy binary at %s (build it, or set "
                             "OAUTHLENS_BIN)" % BIN)
        for attempt in range(3):
            if self._hold is not None:
                self._hold.release()
            self._hold = PortHold()
            self.port = self._hold.port
            cfg = dict(self.config)
            if not self.cli_listen:
                cfg["listen"] = ["127.0.0.1:%d" % self.port]
            write_config(self.config_path, cfg)
            err = open(self.log_path, "wb")
            out = open(self.stdout_path, "wb")
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, cwd=SRC,
                                         env=dict(clean_env(), **self.env))
            err.close()
            out.close()
            if self._wait_listening(timeout * SLOW):
                return self
            rc = self.proc.poll()
            tail = self.tail()
            if rc is None:
                self._kill()
                raise ProxyError("proxy did not accept on port %d within %gs"
                                 "\n%s" % (self.port, timeout * SLOW, tail))
            if "in use" not in tail.lower() or attempt == 2:
                raise ProxyError("proxy exited with status %d at start\n"
                                 "command: %s\n%s" %
                                 (rc, " ".join(self.command()), tail))
        return self

    def _wait_listening(self, timeout):
        """Until the proxy itself listens on self.port: that a connect()
        succeeds is not enough, another process's socket could answer
        (the proxy then exits with "address already in use" while the
        test talks to a stranger)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not wait_listening(self.proc, self.port,
                                  deadline - time.monotonic()):
                return False
            if listener_owned_by(self.proc.pid, self.port):
                return True
            time.sleep(0.05)
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _kill(self):
        try:
            self.proc.kill()
            self.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            pass

    def stop(self, check=True, timeout=15):
        """SIGTERM, wait, and (check=True) fail unless the exit status was
        0 and stderr holds no sanitizer report."""
        if self.proc is None:
            return None
        problems = []
        if self.proc.poll() is not None:
            problems.append("proxy had already exited with status %s "
                            "before SIGTERM" % self.proc.returncode)
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                problems.append("proxy did not exit within %gs of SIGTERM"
                                % (timeout * SLOW))
                self._kill()
            else:
                if self.proc.returncode != 0:
                    problems.append("proxy exited with status %s after "
                                    "SIGTERM" % self.proc.returncode)
        text = self.stderr_text()
        for m in SANITIZER_MARKERS:
            if m in text:
                problems.append("sanitizer report in proxy stderr (%s)" % m)
        rc = self.proc.returncode
        self.proc = None
        if self._hold is not None:
            self._hold.release()
            self._hold = None
        if check and problems:
            raise ProxyError("; ".join(problems) + "\n" +
                             self.tail(text=text, n=60))
        return rc

    # -- observation ---------------------------------------------------
    def stderr_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, n=30, text=None):
        lines = (text if text is not None else self.stderr_text()).splitlines()
        return "--- proxy stderr (last %d lines of %s) ---\n%s" % (
            min(n, len(lines)), self.log_path, "\n".join(lines[-n:]))

    def log_records(self):
        """Every stderr line that parses as a JSON object."""
        out = []
        for line in self.stderr_text().splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
        return out

    def access_records(self):
        return [r for r in self.log_records() if r.get("event") == "access"]

    def wait_access(self, pred, timeout=5):
        """Wait for an access record satisfying pred; return it or None."""
        def find():
            for r in self.access_records():
                if pred(r):
                    return r
            return None
        return wait_until(find, timeout * SLOW)

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def fds(self):
        """{fd: readlink target} of the proxy process."""
        d = "/proc/%d/fd" % self.proc.pid
        out = {}
        for name in os.listdir(d):
            try:
                out[int(name)] = os.readlink(os.path.join(d, name))
            except OSError:
                pass
        return out

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


def cmake_install(test, dest, build=None):
    """cmake --install the build (default BUILD) into DESTDIR=dest for a
    test: skips it when cmake is missing, fails it when the install does."""
    cmake = shutil.which("cmake")
    if cmake is None:
        test.skipTest("cmake not installed")
    r = subprocess.run([cmake, "--install", build or BUILD],
                       capture_output=True, timeout=120,
                       env=dict(clean_env(), DESTDIR=dest))
    test.assertEqual(r.returncode, 0, "cmake --install with DESTDIR "
                     "failed:\n%s" % (r.stdout + r.stderr).decode(
                         errors="replace"))


def run_proxy_cli(args, timeout=10):
    """Run the binary to completion (for -h, -V, --check-config); return
    the CompletedProcess (stdout, stderr as bytes)."""
    cmd = [BIN] + list(args)
    return subprocess.run(cmd, capture_output=True, timeout=timeout * SLOW,
                          cwd=SRC, env=clean_env(), stdin=subprocess.DEVNULL)


class Reply(HeaderList):
    """What curl or a raw socket got: header lookups over .headers
    (httpcommon.HeaderList), json() and text over .body."""

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")


# -- curl ----------------------------------------------------------------

class CurlResult(Reply):
    def __init__(self, rc, stderr, blocks, body):
        self.rc = rc
        self.stderr = stderr
        self.blocks = blocks          # every header block (1xx, CONNECT)
        self.body = body
        last = blocks[-1] if blocks else (None, None, [])
        self.status_line, self.status, self.headers = last

    def __repr__(self):
        return "<curl rc=%s status=%s stderr=%r body=%r>" % (
            self.rc, self.status, self.stderr.strip()[:300], self.body[:300])


def parse_header_blocks(raw):
    blocks = []
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        lines = [x.decode("latin-1") for x in block.split(b"\n") if x]
        if not lines or not lines[0].startswith("HTTP/"):
            continue
        parts = lines[0].split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() \
            else None
        hdrs = []
        for h in lines[1:]:
            n, _, v = h.partition(":")
            hdrs.append((n, v.strip()))
        blocks.append((lines[0], status, hdrs))
    return blocks


_curl_seq = [0]


def curl(url, proxy=None, args=(), timeout=30, tmpdir=None, stdin=None,
         output=None):
    """Run curl (through proxy if given) and return a CurlResult. With
    output=PATH the body goes to that file and .body stays empty."""
    d = tmpdir or tempfile.gettempdir()
    _curl_seq[0] += 1
    tag = "%d-%d" % (os.getpid(), _curl_seq[0])
    hfile = os.path.join(d, "curl-%s.head" % tag)
    bfile = os.path.join(d, "curl-%s.body" % tag)
    cmd = ["curl", "-sS", "--max-time", str(int(timeout * SLOW)),
           "-D", hfile, "-o", output or bfile]
    if proxy is not None:
        cmd += ["-x", proxy.url if isinstance(proxy, Proxy) else proxy]
    cmd += list(args) + [url]
    try:
        r = subprocess.run(cmd, capture_output=True, input=stdin,
                           timeout=timeout * SLOW + 10, env=clean_env())
        raw = b""
        body = b""
        if os.path.exists(hfile):
            with open(hfile, "rb") as f:
                raw = f.read()
        if os.path.exists(bfile):
            with open(bfile, "rb") as f:
                body = f.read()
    finally:
        for p in (hfile, bfile):
            if os.path.exists(p):
                os.unlink(p)
    return CurlResult(r.returncode, r.stderr.decode(errors="replace"),
                      parse_header_blocks(raw), body)


# -- raw sockets -----------------------------------------------------------

class Response(Reply):
    def __init__(self):
        self.version = None
        self.status = None
        self.reason = None
        self.headers = []
        self.raw_head = b""
        self.body = b""
        self.trailers = []
        self.chunked = False
        self.interim = []      # 1xx responses before this one

    def __repr__(self):
        return "<Response %s %s headers=%r body=%r>" % (
            self.status, self.reason, self.headers, self.body[:300])


class RawConn:
    """A raw TCP client connection with a read buffer and a deadline on
    every operation."""

    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.timeout = timeout * SLOW
        self.sock = socket.create_connection((host, port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self):
        b = self.sock.recv(262144)
        if not b:
            raise EOFError("connection closed by peer")
        self.buf += b

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_line(self, limit=1 << 20):
        while b"\n" not in self.buf:
            if len(self.buf) > limit:
                raise ValueError("line too long")
            self._fill()
        i = self.buf.index(b"\n") + 1
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_until_close(self, limit=1 << 30):
        """Everything until EOF (or RST, which ends it too)."""
        try:
            while len(self.buf) < limit:
                self._fill()
        except (EOFError, ConnectionResetError):
            pass
        out, self.buf = self.buf, b""
        return out

    def is_closed(self, wait=2.0):
        """True if the peer closes (EOF or RST) within `wait` seconds with
        no further data."""
        self.sock.settimeout(wait * SLOW)
        try:
            b = self.sock.recv(65536)
            if b:
                self.buf += b
                return False
            return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(self.timeout)

    def read_head(self):
        lines = []
        line = self.read_line()
        raw = [line]
        while True:
            h = self.read_line()
            raw.append(h)
            if h in (b"\r\n", b"\n"):
                break
            lines.append(h.rstrip(b"\r\n").decode("latin-1"))
        status = raw[0].rstrip(b"\r\n").decode("latin-1")
        hdrs = []
        for h in lines:
            n, _, v = h.partition(":")
            hdrs.append((n, v.strip(" \t")))
        return status, hdrs, b"".join(raw)

    def read_response(self, method="GET", skip_interim=True):
        """Read one response (after any 1xx, which are kept in .interim
        unless it is a 101)."""
        interim = []
        while True:
            r = Response()
            status, r.headers, r.raw_head = self.read_head()
            parts = status.split(" ", 2)
            r.version = parts[0]
            r.status = int(parts[1])
            r.reason = parts[2] if len(parts) > 2 else ""
            if 100 <= r.status < 200 and r.status != 101 and skip_interim:
                interim.append(r)
                continue
            break
        r.interim = interim
        if method == "HEAD" or r.status in (204, 304) or \
                100 <= r.status < 200:
            return r
        if method == "CONNECT" and 200 <= r.status < 300:
            return r
        te = r.tokens("transfer-encoding")
        if te and te[-1] == "chunked":
            r.chunked = True
            parts = []
            while True:
                line = self.read_line().rstrip(b"\r\n").decode("latin-1")
                size = int(line.partition(";")[0].strip(), 16)
                if size == 0:
                    break
                parts.append(self.read_exact(size))
                self.read_exact(2)
            while True:
                h = self.read_line()
                if h in (b"\r\n", b"\n"):
                    break
                n, _, v = h.decode("latin-1").rstrip("\r\n").partition(":")
                r.trailers.append((n, v.strip()))
            r.body = b"".join(parts)
        elif r.header("content-length") is not None:
            r.body = self.read_exact(int(r.header("content-length")))
        else:
            r.body = self.read_until_close()
        return r


def raw_exchange(port, data, method="GET", timeout=10):
    """Open a connection, send data, read one response, close."""
    with RawConn(port, timeout=timeout) as c:
        c.send(data)
        return c.read_response(method)


def http_request(method, url, headers=(), body=b"", version="HTTP/1.1",
                 host=None):
    """Bytes of an absolute-form request. headers: list of (name, value),
    sent in that order; Host is first unless given in headers."""
    from urllib.parse import urlsplit
    u = urlsplit(url)
    names = [n.lower() for n, _ in headers]
    lines = ["%s %s %s" % (method, url, version)]
    if "host" not in names:
        lines.append("Host: %s" % (host or u.netloc))
    for n, v in headers:
        lines.append("%s: %s" % (n, v))
    if body and "content-length" not in names and \
            "transfer-encoding" not in names:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# -- the test base class ---------------------------------------------------

class ProxyTestCase(unittest.TestCase):
    """One origin (plain HTTP; plus TLS if origin_tls) and one proxy per
    test class. Subclasses set proxy_config / proxy_args, or override
    proxy_setup(cls) to compute them once the origins exist."""

    proxy_config = {}
    proxy_args = []
    origin_tls = False
    start_proxy = True

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="oauthlens-%s-" % cls.__name__)
        cls.origin = Origin().start()
        cls.tls_origin = None
        cls.ca = None
        if cls.origin_tls:
            cls.ca = TestCA(cls.tmp)
            cls.tls_origin = Origin(tls=(cls.ca.cert, cls.ca.key)).start()
        cls.proxy = None
        if cls.start_proxy:
            try:
                cfg, args = cls.proxy_setup()
                cls.proxy = Proxy(cls.tmp, cfg, args).start()
            except BaseException:
                cls._teardown_origins()
                raise

    @classmethod
    def proxy_setup(cls):
        return cls.proxy_config, cls.proxy_args

    def setUp(self):
        # A proxy that died in an earlier test was reported there; start a
        # fresh one so that this test measures something.
        cls = type(self)
        if cls.proxy is not None and not cls.proxy.alive():
            old = cls.proxy
            cls.proxy = Proxy(cls.tmp, old.config, old.args,
                              name="proxy-after-%s" % cls._died_in[-1])
            cls.proxy.start()

    def tearDown(self):
        cls = type(self)
        p = cls.proxy
        if p is not None and not p.alive():
            if not hasattr(cls, "_died_in"):
                cls._died_in = []
            cls._died_in.append(self._testMethodName)
            text = p.stderr_text()
            san = [m for m in SANITIZER_MARKERS if m in text]
            self.fail("the proxy died during this test (exit status %s%s)"
                      "\n%s" % (p.proc.returncode,
                                 ", sanitizer: " + san[0] if san else "",
                                 p.tail(text=text, n=40)))

    @classmethod
    def _teardown_origins(cls):
        cls.origin.stop()
        if cls.tls_origin:
            cls.tls_origin.stop()
        if not KEEP_TMP:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.proxy is not None and cls.proxy.alive():
                cls.proxy.stop(check=True)
            died = getattr(cls, "_died_in", [])
            if died:
                raise ProxyError("the proxy died during: %s" %
                                 ", ".join(died))
        finally:
            cls._teardown_origins()

    def new_proxy(self, config=None, args=(), name=None, **kw):
        """Start an extra proxy for one test; stopped (and checked) by
        cleanup. kw: log_level, log_format, cli_listen."""
        p = Proxy(self.tmp, config, args,
                  name=name or "proxy-%s" % self._testMethodName,
                  **kw).start()
        self.addCleanup(p.stop, True)
        return p

    def curl(self, path_or_url, args=(), proxy=None, timeout=30, **kw):
        url = path_or_url if "://" in path_or_url else \
            self.origin.url(path_or_url)
        return curl(url, proxy or self.proxy, args, timeout=timeout,
                    tmpdir=self.tmp, **kw)

    def raw(self, timeout=10, proxy=None):
        c = RawConn((proxy or self.proxy).port, timeout=timeout)
        self.addCleanup(c.close)
        return c

    def assert_alive(self, proxy=None):
        p = proxy or self.proxy
        self.assertTrue(p.alive(), "proxy died\n" + p.tail())

    def assert_ok_curl(self, r, status=200):
        self.assertEqual(r.rc, 0, "curl failed: %r\n%s" %
                         (r, self.proxy.tail()))
        self.assertEqual(r.status, status, "%r\n%s" % (r, self.proxy.tail()))

    def assert_reason(self, body, *words):
        text = body.decode("utf-8", errors="replace") \
            if isinstance(body, bytes) else body
        for w in words:
            self.assertIn(w.lower(), text.lower(),
                          "error body %r does not mention %r" % (text, w))


def stale_binary():
    """Why BIN is not a build of this source tree, or None: it is older
    than a file of proxy/ (the tree changed since the build, or
    OAUTHLENS_BIN names another tree's binary). Tests run against such a
    binary test other code, and fail in puzzling ways: one built before
    `run` existed answers "unexpected argument run"."""
    try:
        built = os.stat(BIN).st_mtime
    except OSError:
        return None             # Proxy.start and the tests say so
    d = os.path.join(SRC, "proxy")
    newer = [n for n in sorted(os.listdir(d)) if n.endswith((".c", ".h"))
             and os.stat(os.path.join(d, n)).st_mtime > built]
    if not newer:
        return None
    return ("%s is older than %s in %s: rebuild it (cmake --build), or "
            "point OAUTHLENS_BIN at this tree's build" %
            (BIN, ", ".join(newer[:3]) + (" ..." if len(newer) > 3 else ""),
             d))


def main():
    """unittest.main with verbose output; exit status 1 on any failure
    (at once, without running anything, if the binary is stale)."""
    why = stale_binary()
    if why is not None:
        sys.stderr.write("harness: %s\n" % why)
        sys.exit(1)
    unittest.main(verbosity=2)
