"""Helpers for the systemd and status-page integration tests
(test_systemd_*.py, test_status_*.py), on top of harness.py.

  NotifySocket(dir)        an AF_UNIX datagram socket standing in for
                           systemd's NOTIFY_SOCKET; collects sd_notify
                           messages in a thread;
  FakeJournal(rundir)      a fake journald: a datagram socket at
                           RUNDIR/systemd/journal/socket that decodes the
                           native journal protocol (used with a private
                           mount namespace, see journal_wrapper());
  FakeTokenEndpoint        a plain-HTTP token endpoint answering
                           POST /login/oauth/access_token with a GitHub
                           error body (status 200, as GitHub does);
  Daemon                   harness.Proxy with its own CA directory, an
                           environment of our choice (NOTIFY_SOCKET,
                           WATCHDOG_USEC, JOURNAL_STREAM...), an optional
                           command wrapper (systemd-socket-activate,
                           unshare) and readiness from READY=1;
  token_request(...)       a token request through the proxy with curl;
  parse_annotation(value)  the OAuth-Troubleshooting header, decoded.
"""

import array
import html.parser
import http.server
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

import harness
from harness import (BIN, SLOW, SRC, Proxy, ProxyError, clean_env,
                     free_port, write_config)

BAD_CODE_BODY = (b"error=bad_verification_code&error_description=The+code+"
                 b"passed+is+incorrect+or+expired.&error_uri=https%3A%2F%2F"
                 b"docs.github.com%2F")
BAD_CREDS_BODY = (b"error=incorrect_client_credentials&error_description="
                  b"The+client_id+and%2For+client_secret+passed+are+"
                  b"incorrect.&error_uri=https%3A%2F%2Fdocs.github.com%2F")
HEADER = "OAuth-Troubleshooting"
CATALOG = os.path.join(SRC, "conf", "messages.json")

# Environment a test daemon must not inherit from whatever runs the tests
# (ctest may itself run under systemd).
SYSTEMD_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
               "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "JOURNAL_STREAM",
               "INVOCATION_ID", "STATE_DIRECTORY", "NO_COLOR")


def catalog():
    with open(CATALOG, encoding="utf-8") as f:
        return json.load(f)


def hint(code, lang):
    """The catalog's hint text for code in lang."""
    return catalog()[code][lang]["hint"]


# -- sd_notify -------------------------------------------------------------

def short_dir(d):
    """d, or a fresh directory under /tmp when a socket path in d would
    not fit in sockaddr_un (108 bytes; a long TMPDIR)."""
    if len(d) < 80:
        return d
    s = tempfile.mkdtemp(prefix="olsd-", dir="/tmp")
    if not harness.KEEP_TMP:
        import atexit
        atexit.register(shutil.rmtree, s, True)
    return s


class NotifyMessage:
    def __init__(self, t, raw, sent=None):
        self.t = t                      # time.monotonic() at receipt
        # When the daemon sent it (the kernel's SO_TIMESTAMP, wall clock
        # seconds), or None: unlike t, not delayed by this process.
        self.sent = sent
        self.raw = raw
        self.fields = {}
        for line in raw.split("\n"):
            k, sep, v = line.partition("=")
            if sep:
                self.fields[k] = v

    def get(self, k, default=None):
        return self.fields.get(k, default)

    def __contains__(self, k):
        return k in self.fields

    def __repr__(self):
        return "<notify +%.3f %r>" % (self.t, self.raw)


# Linux's SO_TIMESTAMP (= SCM_TIMESTAMP; Python 3.11 lacks the name): the
# kernel stamps a datagram for an AF_UNIX socket with it when it is sent.
SO_TIMESTAMP = getattr(socket, "SO_TIMESTAMP", 29)


class NotifySocket:
    """Bind an AF_UNIX SOCK_DGRAM socket at DIR/notify and record every
    datagram. .env() gives NOTIFY_SOCKET for the daemon."""

    def __init__(self, d):
        self.path = os.path.join(short_dir(d), "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
        except OSError:
            pass
        self.messages = []
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def env(self):
        return {"NOTIFY_SOCKET": self.path}

    def _run(self):
        while not self._stop:
            try:
                data, anc, _, _ = self.sock.recvmsg(
                    65536, socket.CMSG_SPACE(16))
            except socket.timeout:
                continue
            except OSError:
                return
            sent = None
            for level, kind, v in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP \
                        and len(v) >= 16:
                    sec, usec = struct.unpack("qq", v[:16])
                    sent = sec + usec / 1e6
            m = NotifyMessage(time.monotonic(),
                              data.decode("utf-8", errors="replace"), sent)
            with self.cond:
                self.messages.append(m)
                self.cond.notify_all()

    def close(self):
        self._stop = True
        self.thread.join(2)
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def count(self):
        with self.lock:
            return len(self.messages)

    def since(self, i=0):
        with self.lock:
            return list(self.messages[i:])

    def wait_for(self, pred, timeout, start=0):
        """The first message at index >= start satisfying pred, waiting up
        to timeout seconds (scaled under sanitizers); (index, message) or
        (None, None)."""
        deadline = time.monotonic() + timeout * SLOW
        with self.cond:
            i = start
            while True:
                while i < len(self.messages):
                    if pred(self.messages[i]):
                        return i, self.messages[i]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    return None, None
                self.cond.wait(min(left, 0.2))

    def wait_key(self, key, timeout, start=0, value=None):
        return self.wait_for(lambda m: key in m and
                             (value is None or m.get(key) == value),
                             timeout, start)

    def dump(self, start=0):
        return "\n".join("  %r" % m for m in self.since(start)) or "  (none)"


# -- a fake journald -----------------------------------------------------

def parse_journal_native(data):
    """Decode one datagram of journald's native protocol into a list of
    (FIELD, bytes) pairs: 'FIELD=value\\n' or 'FIELD\\n' + le64 size +
    value + '\\n'."""
    out = []
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, _, v = line.partition(b"=")
            out.append((k.decode("ascii"), v))
            i = nl + 1
        else:
            size = int.from_bytes(data[nl + 1:nl + 9], "little")
            v = data[nl + 9:nl + 9 + size]
            if len(v) != size or data[nl + 9 + size:nl + 10 + size] != b"\n":
                raise ValueError("bad binary field %r" % line)
            out.append((line.decode("ascii"), v))
            i = nl + 10 + size
    return out


class JournalEntry(dict):
    """FIELD -> str (last value wins; .all has every pair)."""

    def __init__(self, pairs):
        super().__init__()
        self.all = pairs
        for k, v in pairs:
            self[k] = v.decode("utf-8", errors="replace")


class FakeJournal:
    """A datagram socket at RUNDIR/systemd/journal/socket that records
    journal entries (including those libsystemd passes as a memfd when
    they are too large for a datagram)."""

    def __init__(self, rundir):
        self.rundir = rundir
        d = os.path.join(rundir, "systemd", "journal")
        os.makedirs(d)
        self.path = os.path.join(d, "socket")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.settimeout(0.1)
        self.entries = []
        self.errors = []
        self.lock = threading.Lock()
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        fds_size = socket.CMSG_LEN(4 * array.array("i").itemsize)
        while not self._stop:
            try:
                data, anc, _, _ = self.sock.recvmsg(1 << 20, fds_size)
            except socket.timeout:
                continue
            except OSError:
                return
            for level, typ, cdata in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fds = array.array("i")
                    fds.frombytes(cdata[:len(cdata) - len(cdata) %
                                        fds.itemsize])
                    for fd in fds:
                        with os.fdopen(fd, "rb") as f:
                            f.seek(0)
                            data = f.read()
            try:
                e = JournalEntry(parse_journal_native(data))
            except ValueError as ex:
                with self.lock:
                    self.errors.append("%s: %r" % (ex, data[:200]))
                continue
            with self.lock:
                self.entries.append(e)

    def close(self):
        self._stop = True
        self.thread.join(2)
        self.sock.close()

    def find(self, pred):
        with self.lock:
            return [e for e in self.entries if pred(e)]

    def wait(self, pred, timeout):
        return harness.wait_until(lambda: self.find(pred), timeout * SLOW)


def unshare_works():
    """True if this process may make a private mount namespace and
    bind-mount over /run in it (root in a permissive container)."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    d = tempfile.mkdtemp(prefix="oauthlens-unshare-")
    try:
        open(os.path.join(d, "probe"), "w").close()
        r = subprocess.run(["unshare", "-m", "--propagation", "private",
                            "sh", "-c", 'mount --bind "$0" /run && '
                            'test -e /run/probe', d],
                           capture_output=True, timeout=10,
                           env=clean_env(), cwd=d)
        return r.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        shutil.rmtree(d, ignore_errors=True)


def journal_wrapper(rundir):
    """A command prefix running the daemon with RUNDIR bind-mounted over
    /run in a private mount namespace, so that libsystemd's fixed
    /run/systemd/journal/socket is our FakeJournal. The daemon is exec'd,
    so its pid is the Popen's."""
    return ["unshare", "-m", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /run && exec "$@"', rundir]


# -- a fake token endpoint ---------------------------------------------

class FakeTokenEndpoint:
    """Plain HTTP on 127.0.0.1:<port>: POST /login/oauth/access_token
    answers 200 with .body (form-urlencoded, as GitHub does by default)
    after .delay seconds; anything else 404. Records every request."""

    def __init__(self, body=BAD_CODE_BODY, delay=0.0):
        self.body = body
        self.delay = delay
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _answer(self, status, body, ctype):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                outer.requests.append((self.path, dict(self.headers), body))
                if urllib.parse.urlsplit(self.path).path != \
                        "/login/oauth/access_token":
                    return self._answer(404, b"not found\n", "text/plain")
                if outer.delay:
                    time.sleep(outer.delay)
                self._answer(200, outer.body,
                             "application/x-www-form-urlencoded; "
                             "charset=utf-8")

            def do_GET(self):
                self._answer(200, b"fake github\n", "text/plain")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def resolve_arg(self):
        """The daemon's --resolve for http://github.com."""
        return ["--resolve", "github.com:80:127.0.0.1:%d" % self.port]


_codes = [0]


def fresh_code():
    """An authorization code never sent before (the daemon remembers codes
    and diagnoses a second use differently)."""
    _codes[0] += 1
    return "c%x%x%x" % (os.getpid(), _codes[0], time.monotonic_ns() % 4096)


def token_request(proxy_url, client_id="Iv1.8a61f9b3a7aba766",
                  redirect_uri="http://localhost:3000/callback",
                  code=None, headers=(), tmpdir=None, timeout=30):
    """POST http://github.com/login/oauth/access_token through the proxy
    (curl) with a fresh code unless one is given; returns
    harness.CurlResult."""
    code = code or fresh_code()
    form = urllib.parse.urlencode({
        "client_id": client_id, "client_secret": "s3cr3t-not-logged",
        "code": code, "redirect_uri": redirect_uri})
    args = ["--data-binary", form,
            "-H", "Content-Type: application/x-www-form-urlencoded"]
    for h in headers:
        args += ["-H", h]
    return harness.curl("http://github.com/login/oauth/access_token",
                        proxy_url, args, timeout=timeout, tmpdir=tmpdir)


_PARAM = re.compile(r';\s*([a-z*][a-z0-9_.*-]*)(?:=("(?:[^"\\]|\\.)*"|'
                    r'%"[^"]*"|[^;,\s]*))?')


def parse_annotation(value):
    """Decode an RFC 9651 List with one Token item and parameters:
    (item, {param: str}); Display Strings are percent-decoded UTF-8."""
    if value is None:
        return None, {}
    m = re.match(r'\s*([A-Za-z*][A-Za-z0-9_:/!#$%&\'*+.^`|~-]*)', value)
    if not m:
        raise ValueError("not a token item: %r" % value)
    item = m.group(1)
    params = {}
    pos = m.end()
    while pos < len(value):
        pm = _PARAM.match(value, pos)
        if not pm:
            break
        k, v = pm.group(1), pm.group(2)
        if v is None:
            v = True
        elif v.startswith('%"'):
            v = urllib.parse.unquote_to_bytes(v[2:-1]).decode("utf-8")
        elif v.startswith('"'):
            v = re.sub(r'\\(.)', r'\1', v[1:-1])
        params[k] = v
        pos = pm.end()
    if value[pos:].strip():
        raise ValueError("trailing garbage in %r at %d" % (value, pos))
    return item, params


# -- the daemon --------------------------------------------------------------

class Daemon(Proxy):
    """The oauthlens binary with its own CA directory (--certs), chosen
    environment variables (env; None removes one), an optional command
    prefix (wrapper) and optional readiness by READY=1 on a NotifySocket.

    listen: "cli" (-l 127.0.0.1:PORT), "config" ("listen" in the config
    file) or "none" (neither: socket activation passes the socket and
    the config's listen, if any, must not be bound)."""

    def __init__(self, tmpdir, config=None, args=(), name="daemon", env=None,
                 notify=None, wrapper=None, listen="cli", port=None,
                 log_format="json", log_level="debug", certs=True,
                 config_text=None):
        super().__init__(tmpdir, config, args, log_level=log_level,
                         log_format=log_format, name=name,
                         cli_listen=(listen == "cli"))
        self.listen = listen
        self.env = dict(env or {})
        self.notify = notify
        self.wrapper = list(wrapper or [])
        self.fixed_port = port
        self.config_text = config_text
        self.certs_dir = os.path.join(tmpdir, name + "-certs") if certs \
            else None
        self.stderr_file = None     # an open file to use as stderr

    def command(self):
        cmd = super().command()
        if self.certs_dir:
            cmd += ["--certs", self.certs_dir]
        return self.wrapper + cmd

    def environment(self):
        env = clean_env()
        for k in SYSTEMD_ENV:
            env.pop(k, None)
        for k, v in self.env.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def write_config(self):
        cfg = dict(self.config)
        if self.listen == "config":
            cfg["listen"] = ["127.0.0.1:%d" % self.port]
        if self.config_text is not None:
            with open(self.config_path, "w") as f:
                f.write(self.config_text)
        else:
            write_config(self.config_path, cfg)

    def spawn(self):
        """Start the process without waiting for anything."""
        if not os.access(BIN, os.X_OK):
            raise ProxyError("no proxy binary at %s (build it, or set "
                             "OAUTHLENS_BIN)" % BIN)
        self.port = self.fixed_port or free_port()
        self.write_config()
        err = open(self.log_path, "wb")
        out = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=err, cwd=SRC,
                                     env=self.environment())
        err.close()
        out.close()
        return self

    def start(self, timeout=10):
        for attempt in range(3):
            start = self.notify.count() if self.notify else 0
            self.spawn()
            if self.notify is not None:
                ok = self._wait_ready(start, timeout * SLOW)
            else:
                ok = self._wait_listening(timeout * SLOW)
            if ok:
                return self
            rc = self.proc.poll()
            tail = self.tail()
            if rc is None:
                self._kill()
                raise ProxyError("daemon not ready within %gs\ncommand: %s"
                                 "\nnotify messages:\n%s\n%s" %
                                 (timeout * SLOW, " ".join(self.command()),
                                  self.notify.dump(start) if self.notify
                                  else "-", tail))
            if "in use" not in tail.lower() or attempt == 2 or \
                    self.fixed_port:
                raise ProxyError("daemon exited with status %d at start\n"
                                 "command: %s\n%s" %
                                 (rc, " ".join(self.command()), tail))
        return self

    def _wait_ready(self, start, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            i, m = self.notify.wait_key("READY", 0.2, start=start)
            if m is not None:
                self.ready_index = i
                return True
        return False

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            return None

    def sanitizer_report(self):
        text = self.stderr_text()
        for m in harness.SANITIZER_MARKERS:
            if m in text:
                return m
        return None

    def records(self, event=None, pred=None):
        return [r for r in self.log_records()
                if (event is None or r.get("event") == event) and
                (pred is None or pred(r))]

    def wait_record(self, pred, timeout=5):
        def find():
            for r in self.log_records():
                if pred(r):
                    return r
            return None
        return harness.wait_until(find, timeout * SLOW)

    def http_get(self, path, timeout=10, headers=()):
        """An origin-form GET for the proxy's own pages; returns
        harness.Response."""
        req = "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % (path, self.port)
        for h in headers:
            req += h + "\r\n"
        req += "Connection: close\r\n\r\n"
        return harness.raw_exchange(self.port, req.encode("latin-1"),
                                    timeout=timeout)


def stop_quietly(d):
    """Cleanup for a Daemon that a test may have stopped itself."""
    if d is not None and d.proc is not None:
        if d.proc.poll() is None:
            d.proc.kill()
            try:
                d.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        d.proc = None


def connect_refused(port, timeout=1.0):
    """True if a TCP connect to 127.0.0.1:port is refused."""
    with socket.socket() as s:
        s.settimeout(timeout)
        return s.connect_ex(("127.0.0.1", port)) != 0


class BackgroundCall(threading.Thread):
    """Run fn() in a thread; .result / .error after join()."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn = fn
        self.result = None
        self.error = None

    def run(self):
        try:
            self.result = self.fn()
        except BaseException as e:     # reported by the test
            self.error = e



# -- the status page -----------------------------------------------------

class StatusPage(html.parser.HTMLParser):
    """Parse the proxy's / page: .refresh (the meta refresh content),
    .headers (th texts of table#errors), .rows (per row, per cell: the
    text and the tags found inside the cell), .tables (ids seen)."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.refresh = None
        self.headers = []
        self.rows = []
        self.tables = []
        self.title = ""
        self._in_errors = 0
        self._table_depth = 0
        self._cell = None
        self._row = None
        self._in_title = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and (a.get("http-equiv") or "").lower() == \
                "refresh":
            self.refresh = a.get("content")
        if tag == "title":
            self._in_title = True
        if tag == "table":
            self._table_depth += 1
            self.tables.append(a.get("id"))
            if a.get("id") == "errors":
                self._in_errors = self._table_depth
        if not self._in_errors:
            return
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = {"tag": tag, "text": "", "tags": [],
                          "attrs": a}
        elif self._cell is not None:
            self._cell["tags"].append((tag, a))

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if not self._in_errors:
            if tag == "table":
                self._table_depth -= 1
            return
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row and all(c["tag"] == "th" for c in self._row):
                self.headers = [c["text"].strip() for c in self._row]
            elif self._row:
                self.rows.append(self._row)
            self._row = None
        elif tag == "table":
            if self._in_errors == self._table_depth:
                self._in_errors = 0
            self._table_depth -= 1

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._cell is not None:
            self._cell["text"] += data

    def column(self, name):
        """Index of the column whose header contains name."""
        for i, h in enumerate(self.headers):
            if name.lower() in h.lower():
                return i
        raise KeyError("no column %r in %r" % (name, self.headers))

    def cell(self, row, name):
        return self.rows[row][self.column(name)]


def chromium_path():
    for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.access(p, os.X_OK):
            return p
    return None


class SharedDaemonCase(unittest.TestCase):
    """One Daemon per test class (cls.d, made by cls.make_daemon(name)).
    A test during which it dies fails with the daemon's stderr tail (a
    sanitizer report, say); the next test gets a fresh daemon, so that one
    crash shows as one failure."""

    @classmethod
    def make_daemon(cls, name):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.died_in = []
        cls.d = cls.make_daemon("daemon")

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.d is not None and cls.d.alive():
                cls.d.stop(check=True)
        finally:
            stop_quietly(cls.d)

    def setUp(self):
        cls = type(self)
        if cls.d is None or not cls.d.alive():
            stop_quietly(cls.d)
            cls.d = None
            cls.d = cls.make_daemon("daemon-after-%s" % cls.died_in[-1])
        self.d = cls.d

    def tearDown(self):
        d = type(self).d
        if d is not None and not d.alive():
            type(self).died_in.append(self._testMethodName)
            self.fail("the daemon died during this test (exit status %s)"
                      "\n%s" % (d.proc.returncode, d.tail(n=60)))
