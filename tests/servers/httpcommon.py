"""HTTP/1.1 server plumbing shared by the hand-written test servers
(origin.py, fake_github.py) and, for header lookups, the integration
harness.

Python standard library only. What is here is the part the servers do the
same way: reading a request head and its body (Content-Length or chunked),
the keep-alive decision, writing a head, cutting a body into chunks, a
listener that serves each TCP (or TLS) connection in its own thread, and a
script's `--ready-file` start-up. What a server answers, and how it frames
it, stays in that server: each one's deliberate differences (the origin's
framing endpoints, the fake GitHub's exact header set) are not here.

Found the way the servers are: tests/servers is on sys.path (harness.py
puts it there; a server run as a script has its own folder there).
"""

import os
import signal
import socket
import ssl
import threading
import urllib.parse

BLOCK = 65536
MAX_LINE = 65536
MAX_HEAD = 1 << 20
CRLF = (b"\r\n", b"\n")


class BadRequest(Exception):
    """A request the server cannot follow. str(e) is the message with its
    detail (the origin answers it); e.brief the message without the
    detail (the fake GitHub answers that)."""

    def __init__(self, message, brief=None):
        super().__init__(message)
        self.brief = brief if brief is not None else message


# -- header lists: [(name, value)] in order and case -------------------------

def header_value(headers, name):
    """Value of the first field called name (any case), or None."""
    name = name.lower()
    for n, v in headers:
        if n.lower() == name:
            return v
    return None


def header_values(headers, name):
    """Values of every field called name (any case), in order."""
    name = name.lower()
    return [v for n, v in headers if n.lower() == name]


def header_tokens(headers, name):
    """Comma-separated tokens of every `name` field, lower case."""
    out = []
    for v in header_values(headers, name):
        out += [t.strip().lower() for t in v.split(",") if t.strip()]
    return out


class HeaderList:
    """header(), header_all(), tokens() over self.headers."""

    def header(self, name):
        """Value of the first header called name, or None."""
        return header_value(self.headers, name)

    def header_all(self, name):
        return header_values(self.headers, name)

    def tokens(self, name):
        """Comma-separated tokens of every `name` header, lower case."""
        return header_tokens(self.headers, name)


def q_value(params):
    """The q of a list item from its parameters (the parts after the
    first ';', stripped): 1.0 when absent, 0.0 when not a number; the last
    q given wins."""
    q = 1.0
    for p in params:
        k, _, v = p.partition("=")
        if k.strip().lower() == "q":
            try:
                q = float(v)
            except ValueError:
                q = 0.0
    return q


# -- reading a request ---------------------------------------------------

class Request(HeaderList):
    def __init__(self):
        self.method = ""
        self.target = ""
        self.version = ""
        self.headers = []
        self.raw_head = b""
        self.body = b""
        self.chunked = False
        self.chunk_extensions = []
        self.trailers = []
        self.sent_100 = False
        self.path = ""
        self.query = []


def readline(rfile, limit=MAX_LINE):
    line = rfile.readline(limit + 1)
    if len(line) > limit:
        raise BadRequest("line too long")
    return line


def read_exact(rfile, n, progress=None):
    """n bytes from rfile (ConnectionError at EOF); progress(k) after
    every read of k bytes."""
    parts = []
    while n > 0:
        b = rfile.read(min(n, BLOCK))
        if not b:
            raise ConnectionError("EOF in body")
        parts.append(b)
        n -= len(b)
        if progress:
            progress(len(b))
    return b"".join(parts)


def parse_fields(lines):
    """[(name, value)] from raw field lines; BadRequest for a line without
    a colon or a name with white space around it."""
    fields = []
    for line in lines:
        s = line.rstrip(b"\r\n").decode("latin-1")
        if ":" not in s:
            raise BadRequest("header without colon: %r" % s,
                             "header without colon")
        name, value = s.split(":", 1)
        if not name or name != name.strip():
            raise BadRequest("bad header name %r" % name, "bad header name")
        fields.append((name, value.strip(" \t")))
    return fields


def read_head(rfile):
    """Read a request head into a Request (path, and query as parse_qsl's
    list); None at a clean EOF between requests. Empty lines before the
    request line are skipped."""
    line = readline(rfile)
    while line in CRLF:
        line = readline(rfile)
    if not line:
        return None
    raw = [line]
    total = len(line)
    hlines = []
    while True:
        h = readline(rfile)
        if not h:
            raise ConnectionError("EOF in head")
        raw.append(h)
        total += len(h)
        if total > MAX_HEAD:
            raise BadRequest("head too large")
        if h in CRLF:
            break
        hlines.append(h)
    req = Request()
    req.raw_head = b"".join(raw)
    parts = line.rstrip(b"\r\n").decode("latin-1").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest("bad request line %r" % line, "bad request line")
    req.method, req.target, req.version = parts
    req.headers = parse_fields(hlines)
    t = req.target
    if "://" in t:
        sp = urllib.parse.urlsplit(t)
        req.path, q = sp.path or "/", sp.query
    else:
        req.path, _, q = t.partition("?")
    req.query = urllib.parse.parse_qsl(q, keep_blank_values=True)
    return req


def read_chunked(rfile, limit=None, progress=None):
    """Read a chunked body: (body, chunk extensions, raw trailer lines).
    BadRequest past limit bytes (if given) or for a chunk not followed by
    CRLF; ValueError for a bad chunk size."""
    parts = []
    exts = []
    total = 0
    while True:
        line = readline(rfile).rstrip(b"\r\n").decode("latin-1")
        size_s, _, ext = line.partition(";")
        if ext:
            exts.append(ext)
        size = int(size_s.strip(), 16)
        if size == 0:
            break
        total += size
        if limit is not None and total > limit:
            raise BadRequest("body too large")
        parts.append(read_exact(rfile, size, progress))
        if readline(rfile) not in CRLF:
            raise BadRequest("missing CRLF after chunk")
    trailers = []
    while True:
        h = readline(rfile)
        if h in CRLF or not h:
            break
        trailers.append(h)
    return b"".join(parts), exts, trailers


def keep_alive(req):
    """Whether the connection stays open after this request."""
    toks = req.tokens("connection")
    if req.version == "HTTP/1.0":
        return "keep-alive" in toks
    return "close" not in toks


# -- writing a response ------------------------------------------------------

def head_bytes(status, reason, headers):
    """A response head: status line, the fields in order, empty line."""
    head = ["HTTP/1.1 %d %s" % (status, reason)]
    for n, v in headers:
        head.append("%s: %s" % (n, v))
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")


def encode_chunked(blocks, cycle, ext=False, trailers=()):
    """Yield the chunked coding of the byte strings in blocks, cut in
    chunks of the sizes in cycle, in turn (the turn runs on across
    blocks); ext adds extensions naming each chunk's index; trailers:
    [(name, value)] after the last chunk."""
    i = 0
    for b in blocks:
        off = 0
        while off < len(b):
            size = min(cycle[i % len(cycle)], len(b) - off)
            e = ";n=%d;name=\"q\"" % i if ext else ""
            yield b"%x%s\r\n" % (size, e.encode()) + \
                b[off:off + size] + b"\r\n"
            off += size
            i += 1
    t = "".join("%s: %s\r\n" % kv for kv in trailers)
    yield b"0\r\n" + t.encode("latin-1") + b"\r\n"


# -- serving -----------------------------------------------------------------

def server_context(tls, alpn=None):
    """A TLS server context from tls = (cert, key), or None without."""
    if not tls:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls[0], tls[1])
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


class ConnState:
    """One accepted connection: its id (1, 2, ... per listener), socket
    (TLS once the handshake is done), peer, whether TLS, and how many
    requests it has carried."""

    def __init__(self, conn_id, sock, peer, tls):
        self.conn_id = conn_id
        self.sock = sock
        self.peer = peer
        self.tls = tls
        self.n_requests = 0
        self.rfile = sock.makefile("rb", buffering=BLOCK)


class ThreadedServer:
    """A listener that serves each connection in a thread of its own,
    calling self._serve_one(conn) until it returns False. start() binds
    (port 0: any) and accepts in a background thread; stop() closes the
    listener and shuts every open connection down."""

    accept_thread_name = "server-accept"
    conn_thread_name = "server-conn-%d"

    def __init__(self, host, port, ctx, lock=None):
        self.host = host
        self.port = port
        self._ctx = ctx
        self._lock = lock or threading.Lock()
        self._stop = threading.Event()
        self._conns = set()
        self._open_ids = set()
        self._next_conn = 0
        self._lsock = None
        self._thread = None

    def _serve_one(self, conn):
        """Serve one request on conn; True to read another."""
        raise NotImplementedError

    def _handshake_failed(self, err):
        """A TLS handshake failed (the connection is then closed)."""

    def start(self):
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        s.listen(128)
        s.settimeout(0.2)
        self.port = s.getsockname()[1]
        self._lsock = s
        self._thread = threading.Thread(target=self._accept_loop,
                                        name=self.accept_thread_name,
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        if self._lsock:
            self._lsock.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                sock, peer = self._lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            with self._lock:
                self._next_conn += 1
                cid = self._next_conn
            threading.Thread(target=self._serve_conn,
                             args=(sock, peer, cid),
                             name=self.conn_thread_name % cid,
                             daemon=True).start()

    def _serve_conn(self, sock, peer, cid):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(60)
        with self._lock:
            self._conns.add(sock)
            self._open_ids.add(cid)
        try:
            if self._ctx:
                sock.settimeout(10)
                try:
                    tsock = self._ctx.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    self._handshake_failed(e)
                    return
                tsock.settimeout(60)
                with self._lock:
                    self._conns.discard(sock)
                    self._conns.add(tsock)
                sock = tsock
            conn = ConnState(cid, sock, peer, bool(self._ctx))
            while not self._stop.is_set():
                if not self._serve_one(conn):
                    break
        except (OSError, ConnectionError, ssl.SSLError, ValueError):
            pass
        finally:
            with self._lock:
                self._conns.discard(sock)
            try:
                sock.close()
            except OSError:
                pass
            with self._lock:
                self._open_ids.discard(cid)


def serve_until_signal(server, ready_file=None, poll=0.5):
    """A server run as a script: on SIGTERM or SIGINT stop it; print its
    port on stdout and write it to ready_file (atomically); wait for the
    signal, stop, return 0."""
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    print(server.port, flush=True)
    if ready_file:
        tmp = ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % server.port)
        os.replace(tmp, ready_file)
    while not done.wait(poll):
        pass
    server.stop()
    return 0
