#!/usr/bin/python3
"""A local HTTP/1.1 origin server for oauthlens's integration tests.

Python standard library only. One thread per connection, keep-alive, a
hand-written request parser (so that the request line and the header block
are seen exactly as the proxy sent them: order, case, chunk extensions and
trailers), optional TLS, and a WebSocket echo written from RFC 6455.

As a module:
    o = Origin(tls=(cert, key)).start()
    ... o.port, o.requests_for('/echo'), o.request_count ...
    o.stop()

As a script:
    python3 tests/servers/origin.py --port 0 [--tls CERT KEY] --ready-file F
prints the bound port on stdout (and writes it to F) and serves until
SIGTERM or SIGINT.

Endpoints (any method unless noted; HEAD is honoured everywhere):
  /bytes/N            N deterministic pseudo-random bytes (see pattern()),
                      Content-Length; ?chunked=1 chunked (irregular chunk
                      sizes, ?ext=1 adds chunk extensions); ?close=1
                      close-delimited, no length.
  /echo               JSON: method, target (as received), version, headers
                      ([name, value] in order and case), raw_head, body
                      length and sha256, whether it was chunked, chunk
                      extensions, trailers, conn_id, request_no, sent_100.
                      ?readdelay=S sleeps before reading the request body;
                      ?__hold=NAME does not read it until the test calls
                      release(NAME) (60 s at most).
  /conninfo           JSON: conn_id (one per accepted TCP connection) and
                      request_no (1, 2, ... on that connection).
  /status/N           status N; 204/304 and 1xx-free no-body rules.
  /slow?delay=S       sleeps S seconds, then answers; &stall=1 sends the
                      head and half the body first, then sleeps.
                      /slow?__hold=NAME answers when the test calls
                      release(NAME) (60 s at most).
  /trailers           chunked response with Trailer: X-Checksum and a
                      trailer field.
  /hop                response carrying hop-by-hop headers (Connection:
                      X-Bar, X-Bar, Keep-Alive, Proxy-Connection, Upgrade,
                      Proxy-Authenticate is *not* hop-by-hop and is kept
                      out) among end-to-end headers of mixed case.
  /setcookie          response with Set-Cookie (for log-secret tests).
  /expect-reject      with Expect: 100-continue: 417 without reading the
                      body, then close.
  /ws                 WebSocket echo (text, binary, fragmented messages,
                      ping -> pong, close -> close).
  /reset              reads the request, then closes with RST (SO_LINGER
                      0) before any response; ?after=N sends a head with a
                      2N Content-Length and N body bytes first.
  /badstatus          malformed status line, then close
                      (?kind=garbage: binary junk instead).
  /shortbody          Content-Length: 1000, 10 body bytes, then close.
  /hangup             reads the request, closes (FIN) without answering.
  /badframing?kind=   clte (CL and TE), dupcl (two Content-Lengths),
                      badchunk (bad chunk size), fold (obs-fold header).
  /early-hints        103 Early Hints, then 200.
  /noreason           "HTTP/1.1 200" without a reason phrase.
  /early-413          413 + close before reading the body, then drains it.
  /drip?count=N&interval=S  chunked, one small chunk every S seconds.
  /status/204|304?cl=N  adds a Content-Length (still no body).
  /idleclose?after=S  answers normally (keep-alive framing), then closes
                      the connection S seconds later, as servers do with
                      idle connections.
  /stats              JSON: request_count, connection_count.
Every request is recorded (method, target, path, headers, conn_id, peer)
when its head has been read, before the body: tests use that to prove that
a request did not reach the origin.
"""

import argparse
import base64
import hashlib
import http
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time

from httpcommon import (BLOCK, BadRequest, ThreadedServer, encode_chunked,
                        head_bytes, keep_alive, parse_fields, read_chunked,
                        read_exact, read_head, serve_until_signal,
                        server_context)

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Irregular chunk sizes: exercise the proxy's chunk parser at odd offsets.
CHUNK_CYCLE = (1, 4093, 30000, 7, 17000, 14435)


def _block(k):
    return hashlib.shake_128(b"oauthlens-%d" % k).digest(BLOCK)


def pattern(n):
    """Yield the first n bytes of the deterministic test pattern."""
    k = 0
    while n > 0:
        b = _block(k)
        if n < BLOCK:
            b = b[:n]
        yield b
        n -= len(b)
        k += 1


_sha_cache = {}


def pattern_sha256(n):
    """sha256 hex digest of the first n pattern bytes (cached)."""
    if n not in _sha_cache:
        h = hashlib.sha256()
        for b in pattern(n):
            h.update(b)
        _sha_cache[n] = h.hexdigest()
    return _sha_cache[n]


def pattern_bytes(n):
    return b"".join(pattern(n))


class Origin(ThreadedServer):
    """The test origin. start() binds and serves in background threads
    (httpcommon.ThreadedServer: start, stop, one thread a connection)."""

    accept_thread_name = "origin-accept"
    conn_thread_name = "origin-conn-%d"

    def __init__(self, host="127.0.0.1", port=0, tls=None):
        super().__init__(host, port, server_context(tls))
        self.tls = tls
        self.requests = []
        # Streamed response body bytes handed to the kernel so far (all
        # connections): lets tests see how far a download has progressed.
        self.body_bytes_sent = 0
        # Request body bytes read so far (all connections).
        self.body_bytes_read = 0
        self._holds = {}        # ?__hold= name -> threading.Event

    def _hold_event(self, name):
        with self._lock:
            return self._holds.setdefault(name, threading.Event())

    def release(self, name):
        """Let the requests held with ?__hold=name read their bodies."""
        self._hold_event(name).set()

    # -- bookkeeping -------------------------------------------------
    @property
    def request_count(self):
        with self._lock:
            return len(self.requests)

    @property
    def connection_count(self):
        with self._lock:
            return self._next_conn

    def is_conn_open(self, conn_id):
        """True while the origin still serves TCP connection conn_id."""
        with self._lock:
            return conn_id in self._open_ids

    @property
    def open_connections(self):
        with self._lock:
            return len(self._open_ids)

    def requests_for(self, path_prefix):
        """Recorded requests whose path starts with path_prefix."""
        with self._lock:
            return [r for r in self.requests
                    if r["path"].startswith(path_prefix)]

    def url(self, path="/"):
        scheme = "https" if self.tls else "http"
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d%s" % (scheme, host, self.port, path)

    # -- one request ---------------------------------------------------
    def _read_body(self, conn, req):
        te = req.tokens("transfer-encoding")
        if te:
            if te[-1] != "chunked":
                raise BadRequest("unsupported transfer-encoding")
            req.chunked = True
            body, req.chunk_extensions, tl = read_chunked(
                conn.rfile, progress=self._count_read)
            req.trailers = parse_fields(tl)
            req.body = body
            return
        cl = req.header_all("content-length")
        if cl:
            n = int(cl[0])
            req.body = read_exact(conn.rfile, n, self._count_read) \
                if n else b""

    def _count_read(self, n):
        with self._lock:
            self.body_bytes_read += n

    def _serve_one(self, conn):
        try:
            req = read_head(conn.rfile)
        except BadRequest as e:
            self._send(conn, None, 400, [("Content-Type", "text/plain")],
                       ("origin: %s\n" % e).encode(), keep=False)
            return False
        if req is None:
            return False
        req.query = dict(req.query)
        conn.n_requests += 1
        rec = {"method": req.method, "target": req.target, "path": req.path,
               "headers": list(req.headers), "conn_id": conn.conn_id,
               "request_no": conn.n_requests, "time": time.time(),
               "peer": list(conn.peer)[:2]}
        with self._lock:
            self.requests.append(rec)
        keep = keep_alive(req)
        h = getattr(self, "_h_" + self._route(req.path), None)
        if h is None:
            self._consume(conn, req)
            self._send(conn, req, 404, [("Content-Type", "text/plain")],
                       b"origin: no such endpoint\n", keep)
            return keep
        try:
            return h(conn, req, keep)
        except (BadRequest, ValueError) as e:
            # Framing the origin cannot follow: answer 400 and close.
            try:
                self._send(conn, None, 400, [("Content-Type", "text/plain")],
                           ("origin: %s\n" % e).encode(), keep=False)
            except OSError:
                pass
            return False

    @staticmethod
    def _route(path):
        seg = path.strip("/").split("/")[0]
        return seg.replace("-", "_") or "root"

    def _consume(self, conn, req):
        if req.header("expect") and \
                req.header("expect").lower() == "100-continue" and \
                (req.header("content-length") not in (None, "0") or
                 req.header("transfer-encoding")):
            conn.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            req.sent_100 = True
        self._read_body(conn, req)

    def _send(self, conn, req, status, headers, body=b"", keep=True,
              length=True):
        """Send a complete response; body is bytes or an iterable."""
        reason = http.HTTPStatus(status).phrase if status in \
            http.HTTPStatus._value2member_map_ else "Unknown"
        nobody = status in (204, 304) or 100 <= status < 200
        head = list(headers)
        if length and not nobody and isinstance(body, bytes):
            head.append(("Content-Length", "%d" % len(body)))
        if not keep:
            head.append(("Connection", "close"))
        elif req is not None and req.version == "HTTP/1.0":
            head.append(("Connection", "keep-alive"))
        data = head_bytes(status, reason, head)
        if req is not None and req.method == "HEAD" or nobody:
            conn.sock.sendall(data)
            return
        if isinstance(body, bytes):
            conn.sock.sendall(data + body)
        else:
            conn.sock.sendall(data)
            for b in body:
                conn.sock.sendall(b)
                with self._lock:
                    self.body_bytes_sent += len(b)

    def _json(self, conn, req, obj, keep, status=200):
        body = (json.dumps(obj, indent=1) + "\n").encode()
        self._send(conn, req, status,
                   [("Content-Type", "application/json")], body, keep)
        return keep

    # -- endpoints -----------------------------------------------------
    def _h_root(self, conn, req, keep):
        self._consume(conn, req)
        self._send(conn, req, 200, [("Content-Type", "text/plain")],
                   b"oauthlens test origin\n", keep)
        return keep

    def _h_stats(self, conn, req, keep):
        self._consume(conn, req)
        return self._json(conn, req, {"request_count": self.request_count,
                                      "connection_count":
                                      self.connection_count}, keep)

    def _h_echo(self, conn, req, keep):
        d = float(req.query.get("readdelay", "0"))
        if d:
            time.sleep(min(d, 30))
        if req.query.get("__hold"):
            self._hold_event(req.query["__hold"]).wait(60)
        self._consume(conn, req)
        obj = {
            "method": req.method,
            "target": req.target,
            "version": req.version,
            "headers": [[n, v] for n, v in req.headers],
            "raw_head": req.raw_head.decode("latin-1"),
            "body_length": len(req.body),
            "body_sha256": hashlib.sha256(req.body).hexdigest(),
            "chunked": req.chunked,
            "chunk_extensions": req.chunk_extensions,
            "trailers": [[n, v] for n, v in req.trailers],
            "conn_id": conn.conn_id,
            "request_no": conn.n_requests,
            "sent_100": req.sent_100,
            "tls": conn.tls,
        }
        return self._json(conn, req, obj, keep)

    def _h_conninfo(self, conn, req, keep):
        self._consume(conn, req)
        return self._json(conn, req, {"conn_id": conn.conn_id,
                                      "request_no": conn.n_requests,
                                      "peer": list(conn.peer)[:2]}, keep)

    def _h_bytes(self, conn, req, keep):
        self._consume(conn, req)
        try:
            n = int(req.path.split("/")[2])
        except (IndexError, ValueError):
            self._send(conn, req, 400, [], b"bad length\n", keep)
            return keep
        hdrs = [("Content-Type", "application/octet-stream"),
                ("X-Pattern-Sha256-Hint", "pattern_sha256(%d)" % n)]
        if req.query.get("close") == "1":
            self._send(conn, req, 200, hdrs, pattern(n), keep=False,
                       length=False)
            return False
        if req.query.get("chunked") == "1":
            hdrs.append(("Transfer-Encoding", "chunked"))
            ext = req.query.get("ext") == "1"
            self._send(conn, req, 200, hdrs,
                       self._chunks(pattern(n), ext), keep, length=False)
            return keep
        hdrs.append(("Content-Length", str(n)))
        self._send(conn, req, 200, hdrs, pattern(n), keep, length=False)
        return keep

    @staticmethod
    def _chunks(blocks, ext=False, trailers=()):
        return encode_chunked(blocks, CHUNK_CYCLE, ext, trailers)

    def _h_status(self, conn, req, keep):
        self._consume(conn, req)
        try:
            code = int(req.path.split("/")[2])
        except (IndexError, ValueError):
            code = 400
        if code < 200 or code > 599:
            code = 400
        hdrs = [("X-Origin-Status", str(code))]
        if code == 304:
            hdrs.append(("ETag", '"v1"'))
        body = b"" if code in (204, 304) else b"status %d\n" % code
        if code in (204, 304) and "cl" in req.query:
            # Allowed for 304 (the length the 200 would have); a proxy
            # must still not wait for a body.
            hdrs.append(("Content-Length", req.query["cl"]))
        self._send(conn, req, code, hdrs, body, keep)
        return keep

    def _h_slow(self, conn, req, keep):
        self._consume(conn, req)
        d = min(float(req.query.get("delay", "1")), 60)
        body = b"slow response done\n" * 4
        if req.query.get("stall") == "1":
            head = ("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" %
                    len(body)).encode()
            conn.sock.sendall(head + body[:len(body) // 2])
            time.sleep(d)
            conn.sock.sendall(body[len(body) // 2:])
            return keep
        if req.query.get("__hold"):
            self._hold_event(req.query["__hold"]).wait(60)
        else:
            time.sleep(d)
        self._send(conn, req, 200, [("Content-Type", "text/plain")],
                   body, keep)
        return keep

    def _h_trailers(self, conn, req, keep):
        self._consume(conn, req)
        body = [b"hello ", b"trailers\n"]
        hdrs = [("Content-Type", "text/plain"),
                ("Transfer-Encoding", "chunked"),
                ("Trailer", "X-Checksum")]
        self._send(conn, req, 200, hdrs,
                   self._chunks(body, trailers=[("X-Checksum", "c0ffee")]),
                   keep, length=False)
        return keep

    HOP_RESPONSE = [
        ("X-First", "1"),
        ("Connection", "X-Bar, keep-alive"),
        ("X-Bar", "hop-by-hop-value"),
        ("Keep-Alive", "timeout=5, max=100"),
        ("x-MiXeD-cAsE", "Value  With  Spaces"),
        ("Proxy-Connection", "keep-alive"),
        ("Upgrade", "h2c"),
        ("Cache-Control", "no-store"),
        ("X-Last", "z"),
    ]

    def _h_hop(self, conn, req, keep):
        self._consume(conn, req)
        body = b"hop\n"
        hdrs = list(self.HOP_RESPONSE) + \
            [("Content-Length", str(len(body)))]
        self._send(conn, req, 200, hdrs, body, keep, length=False)
        return keep

    def _h_setcookie(self, conn, req, keep):
        self._consume(conn, req)
        v = req.query.get("v", "sid=SETCOOKIESECRET")
        self._send(conn, req, 200, [("Set-Cookie", v + "; HttpOnly")],
                   b"cookie set\n", keep)
        return keep

    def _h_expect_reject(self, conn, req, keep):
        e = req.header("expect")
        if e and e.lower() == "100-continue":
            self._send(conn, req, 417, [("Content-Type", "text/plain")],
                       b"expectation refused\n", keep=False)
            return False
        self._consume(conn, req)
        self._send(conn, req, 200, [], b"no expectation\n", keep)
        return keep

    def _h_reset(self, conn, req, keep):
        self._consume(conn, req)
        after = int(req.query.get("after", "0"))
        if after:
            head = ("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" %
                    (2 * after)).encode()
            conn.sock.sendall(head + pattern_bytes(after))
            time.sleep(0.2)
        self._rst(conn.sock)
        return False

    @staticmethod
    def _rst(sock):
        raw = sock
        if isinstance(sock, ssl.SSLSocket):
            raw = socket.socket(fileno=os.dup(sock.fileno()))
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                       struct.pack("ii", 1, 0))
        if raw is not sock:
            raw.close()

    def _h_badstatus(self, conn, req, keep):
        self._consume(conn, req)
        if req.query.get("kind") == "garbage":
            conn.sock.sendall(b"\x00\x01\x02 not http at all\r\n\r\n")
        else:
            conn.sock.sendall(b"HTTP/1.1 abc Broken\r\n"
                              b"Content-Length: 0\r\n\r\n")
        return False

    def _h_badframing(self, conn, req, keep):
        """Responses whose framing a proxy must not pass on as is."""
        self._consume(conn, req)
        kind = req.query.get("kind", "clte")
        if kind == "clte":
            head = (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n")
            body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        elif kind == "dupcl":
            head = (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                    b"Content-Length: 11\r\n\r\n")
            body = b"hello world"
        elif kind == "badchunk":
            head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            body = b"5\r\nhello\r\nzz\r\n world\r\n0\r\n\r\n"
        else:  # obs-fold and a bare CR in header values
            head = (b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\n"
                    b"Content-Length: 2\r\n\r\n")
            body = b"ok"
        conn.sock.sendall(head + body)
        time.sleep(0.2)
        return False

    def _h_early_hints(self, conn, req, keep):
        self._consume(conn, req)
        conn.sock.sendall(b"HTTP/1.1 103 Early Hints\r\n"
                          b"Link: </style.css>; rel=preload\r\n\r\n")
        time.sleep(0.05)
        self._send(conn, req, 200, [("Link", "</style.css>; rel=preload")],
                   b"after hints\n", keep)
        return keep

    def _h_noreason(self, conn, req, keep):
        self._consume(conn, req)
        conn.sock.sendall(b"HTTP/1.1 200\r\nContent-Length: 3\r\n\r\nok\n")
        return keep

    def _h_early_413(self, conn, req, keep):
        """Refuse the body without reading it, then drain it for a while
        (lingering close) so that the 413 is not lost to a RST."""
        conn.sock.sendall(b"HTTP/1.1 413 Content Too Large\r\n"
                          b"Content-Type: text/plain\r\nContent-Length: 9\r\n"
                          b"Connection: close\r\n\r\ntoo large")
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.settimeout(0.5)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if not conn.sock.recv(BLOCK):
                    break
        except OSError:
            pass
        return False

    def _h_drip(self, conn, req, keep):
        """count chunks, one every interval seconds (chunked)."""
        self._consume(conn, req)
        n = min(int(req.query.get("count", "5")), 1000)
        iv = min(float(req.query.get("interval", "0.3")), 10)

        def gen():
            for i in range(n):
                if i:
                    time.sleep(iv)
                yield b"drip %d\n" % i
        hdrs = [("Content-Type", "text/plain"),
                ("Transfer-Encoding", "chunked")]
        self._send(conn, req, 200, hdrs, self._chunks(gen()), keep,
                   length=False)
        return keep

    def _h_hangup(self, conn, req, keep):
        self._consume(conn, req)
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        return False

    def _h_idleclose(self, conn, req, keep):
        self._consume(conn, req)
        self._send(conn, req, 200, [("Content-Type", "text/plain")],
                   b"closing soon\n", keep)
        time.sleep(min(float(req.query.get("after", "0.1")), 10))
        return False

    def _h_shortbody(self, conn, req, keep):
        self._consume(conn, req)
        conn.sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n"
                          b"Content-Type: text/plain\r\n\r\n0123456789")
        return False

    # -- WebSocket -----------------------------------------------------
    def _h_ws(self, conn, req, keep):
        self._consume(conn, req)
        key = req.header("sec-websocket-key")
        if "websocket" not in req.tokens("upgrade") or \
                "upgrade" not in req.tokens("connection") or not key or \
                req.header("sec-websocket-version") != "13":
            self._send(conn, req, 426, [("Sec-WebSocket-Version", "13")],
                       b"origin: websocket upgrade expected\n", keep)
            return keep
        accept = base64.b64encode(hashlib.sha1(
            (key + WS_GUID).encode()).digest()).decode()
        conn.sock.sendall((
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())
        ws_serve(conn.rfile, conn.sock)
        return False


def ws_encode(opcode, payload, mask=None, fin=True):
    """Encode one WebSocket frame; mask is 4 bytes (client) or None."""
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, m | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, m | 127, n)
    if mask:
        payload = ws_mask(payload, mask)
        hdr += mask
    return hdr + payload


def ws_mask(payload, mask):
    n = len(payload)
    k = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^
            int.from_bytes(k, "big")).to_bytes(n, "big") if n else b""


def ws_read_frame(read_exact):
    """Read one frame with read_exact(n); return (fin, opcode, payload,
    masked)."""
    b0, b1 = read_exact(2)
    fin, opcode = bool(b0 & 0x80), b0 & 0x0F
    masked, n = bool(b1 & 0x80), b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(8))[0]
    if n > (64 << 20):
        raise ConnectionError("frame too large")
    mask = read_exact(4) if masked else None
    payload = read_exact(n) if n else b""
    if mask:
        payload = ws_mask(payload, mask)
    return fin, opcode, payload, masked


def ws_serve(rfile, sock):
    """Echo messages until a close frame or EOF."""
    def rx(n):
        return read_exact(rfile, n)
    msg_op, parts = None, []
    while True:
        fin, op, payload, masked = ws_read_frame(rx)
        if not masked:
            sock.sendall(ws_encode(0x8, struct.pack("!H", 1002)))
            return
        if op == 0x8:
            sock.sendall(ws_encode(0x8, payload[:2]))
            return
        if op == 0x9:
            sock.sendall(ws_encode(0xA, payload))
            continue
        if op == 0xA:
            continue
        if op in (0x1, 0x2):
            msg_op, parts = op, [payload]
        elif op == 0x0 and msg_op is not None:
            parts.append(payload)
        else:
            sock.sendall(ws_encode(0x8, struct.pack("!H", 1002)))
            return
        if fin:
            sock.sendall(ws_encode(msg_op, b"".join(parts)))
            msg_op, parts = None, []


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--ready-file")
    a = ap.parse_args(argv)
    o = Origin(a.host, a.port, tuple(a.tls) if a.tls else None).start()
    return serve_until_signal(o, a.ready_file, 0.5)


if __name__ == "__main__":
    sys.exit(main())
