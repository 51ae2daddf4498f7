"""Parent ("upstream") proxies for the test_parent_*.py tests.

  Squid(tmpdir, users=None)  Debian's squid on a free loopback port, with a
                             generated config (no cache, its own pid, logs
                             and run files in the test's directory); with
                             users={name: password}, basic_ncsa_auth over
                             an htpasswd file made with openssl passwd
                             -apr1. access_lines() reads its access log.
  ScriptedParent(mode)       a tiny parent in a thread of the test, for
                             what Squid will not do on demand: "407",
                             "403", "503" (refuse CONNECT with that
                             status), "drop" (200, then close the tunnel
                             at once), "close" (close before answering),
                             "tunnel" (a real CONNECT tunnel), "answer"
                             (200 "scripted parent" to any request, then
                             close). It records every request head it
                             reads.
"""

import os
import socket
import subprocess
import threading

import harness

SQUID = "/usr/sbin/squid"
NCSA = "/usr/lib/squid/basic_ncsa_auth"


def squid_missing():
    """A reason string when Squid is not installed, else None."""
    for p in (SQUID, NCSA):
        if not os.access(p, os.X_OK):
            return "%s is missing (scripts/test.sh installs the squid " \
                "package)" % p
    return None


class Squid:
    def __init__(self, tmpdir, users=None, name="squid"):
        self.dir = os.path.join(tmpdir, name)
        os.makedirs(self.dir, exist_ok=True)
        # Squid drops root for its workers (user proxy); they write the
        # logs: the test's directory gets search permission only.
        os.chmod(tmpdir, 0o711)
        os.chmod(self.dir, 0o777)
        self.users = dict(users or {})
        self.port = None
        self.proc = None
        self.access_log = os.path.join(self.dir, "access.log")
        self.cache_log = os.path.join(self.dir, "cache.log")

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def url_with(self, user, password):
        return "http://%s:%s@127.0.0.1:%d" % (user, password, self.port)

    def _htpasswd(self):
        path = os.path.join(self.dir, "htpasswd")
        with open(path, "w") as f:
            for u, p in self.users.items():
                h = subprocess.run(["openssl", "passwd", "-apr1", p],
                                   capture_output=True, check=True,
                                   timeout=30).stdout.decode().strip()
                f.write("%s:%s\n" % (u, h))
        os.chmod(path, 0o644)
        return path

    def _config(self):
        d = self.dir
        lines = [
            "http_port 127.0.0.1:%d" % self.port,
            "pid_filename %s/squid.pid" % d,
            "cache_log %s" % self.cache_log,
            "access_log stdio:%s" % self.access_log,
            "cache_store_log none",
            "coredump_dir %s" % d,
            "netdb_filename none",
            "cache deny all",
            "cache_mem 8 MB",
            "shutdown_lifetime 0 seconds",
            "visible_hostname oauthlens-test-squid",
            "forwarded_for delete",
            "via on",
            "strip_query_terms off",
            "http_upgrade_request_protocols websocket allow all",
            "acl Safe_ports port 1-65535",
            "acl CONNECT method CONNECT",
        ]
        if self.users:
            lines += [
                "auth_param basic program %s %s" % (NCSA, self._htpasswd()),
                "auth_param basic realm oauthlens-test",
                "acl authed proxy_auth REQUIRED",
                "http_access allow authed",
                "http_access deny all",
            ]
        else:
            lines += ["http_access allow all"]
        path = os.path.join(d, "squid.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def start(self, timeout=30):
        for attempt in range(3):
            self.port = harness.free_port()
            conf = self._config()
            with open(os.path.join(self.dir, "stdout"), "wb") as out, \
                    open(os.path.join(self.dir, "stderr"), "wb") as err:
                self.proc = subprocess.Popen(
                    [SQUID, "-N", "-f", conf], cwd=self.dir,
                    stdin=subprocess.DEVNULL, stdout=out, stderr=err)
            if self._wait(timeout * harness.SLOW):
                return self
            self.stop()
        raise RuntimeError("squid did not start\n%s" % self.tail())

    def _wait(self, timeout):
        return harness.wait_listening(self.proc, self.port, timeout, 0.1)

    def tail(self):
        out = []
        for n in ("stderr", "cache.log"):
            try:
                with open(os.path.join(self.dir, n), errors="replace") as f:
                    out.append("--- squid %s ---\n%s" % (n, f.read()[-3000:]))
            except FileNotFoundError:
                pass
        return "\n".join(out)

    def access_lines(self):
        try:
            with open(self.access_log, errors="replace") as f:
                return [ln.rstrip("\n") for ln in f if ln.strip()]
        except FileNotFoundError:
            return []

    def wait_access(self, needle, timeout=10):
        """The first access-log line containing needle (Squid writes a
        line when a transaction ends), or None."""
        def find():
            for ln in self.access_lines():
                if needle in ln:
                    return ln
            return None
        return harness.wait_until(find, timeout * harness.SLOW)

    def all_text(self):
        """Everything Squid logged (for secrets checks)."""
        out = []
        for n in ("access.log", "cache.log", "stderr", "stdout"):
            try:
                with open(os.path.join(self.dir, n), errors="replace") as f:
                    out.append(f.read())
            except FileNotFoundError:
                pass
        return "\n".join(out)

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None


class ScriptedParent:
    """A parent proxy that answers CONNECT as its mode says."""

    def __init__(self, mode):
        self.mode = mode
        self.heads = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        try:
            socket.create_connection(("127.0.0.1", self.port), 1).close()
        except OSError:
            pass
        self.thread.join(5)
        self.sock.close()

    def _serve(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if self.stopping:
                c.close()
                return
            threading.Thread(target=self._one, args=(c,),
                             daemon=True).start()

    def _read_head(self, c):
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = c.recv(4096)
            if not d:
                return None, b""
            buf += d
            if len(buf) > 65536:
                return None, b""
        head, rest = buf.split(b"\r\n\r\n", 1)
        return head.decode("latin-1"), rest

    def _one(self, c):
        c.settimeout(20)
        try:
            head, rest = self._read_head(c)
            if head is None:
                return
            with self.lock:
                self.heads.append(head)
            m = self.mode
            if m == "close":
                return
            if m in ("407", "407-ntlm", "403", "503"):
                status = m[:3]
                text = {"407": "Proxy Authentication Required",
                        "403": "Forbidden",
                        "503": "Service Unavailable"}[status]
                body = b"refused by the scripted parent\n"
                extra = {"407": "Proxy-Authenticate: Basic realm=\"corp\""
                                "\r\n",
                         # What a proxy in a Windows domain offers.
                         "407-ntlm": "Proxy-Authenticate: NTLM\r\n"
                                     "Proxy-Authenticate: Negotiate\r\n"
                         }.get(m, "")
                c.sendall(("HTTP/1.1 %s %s\r\n%sContent-Length: %d\r\n"
                           "Connection: close\r\n\r\n" %
                           (status, text, extra, len(body))).encode() + body)
                return
            if m == "answer":
                body = b"scripted parent\n"
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                          b"Connection: close\r\n\r\n" % len(body) + body)
                return
            if m == "drop":
                c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                return
            if m == "tunnel":
                target = head.split("\r\n")[0].split()[1]
                host, port = target.rsplit(":", 1)
                up = socket.create_connection((host.strip("[]"),
                                               int(port)), 10)
                c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if rest:
                    up.sendall(rest)
                _relay(c, up)
        except OSError:
            pass
        finally:
            c.close()

    def connect_heads(self):
        with self.lock:
            return list(self.heads)


def _relay(a, b):
    """Copy bytes both ways until either side closes."""
    def pump(src, dst):
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                dst.sendall(d)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
    t = threading.Thread(target=pump, args=(b, a), daemon=True)
    t.start()
    pump(a, b)
    t.join(30)
    b.close()
