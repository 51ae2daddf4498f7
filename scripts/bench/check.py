#!/usr/bin/env python3
"""Preflight for scripts/bench.sh: proves, before any load, that a target
answers the exact requests the load generators will send.

  check.py get HOST:PORT URL_OR_PATH BODY_BYTES
      sends "GET URL_OR_PATH HTTP/1.1" + Host (the URL's host when it is
      absolute, i.e. the wrk absolute-form trick through a proxy), twice on
      one connection, and checks both answers are 200 with BODY_BYTES of
      body.  Prints the status line, the Via/Server headers and whether the
      connection stayed open.
  check.py connect HOST:PORT TARGET_HOST:PORT PATH BODY_BYTES
      sends CONNECT TARGET, expects 2xx, then a GET PATH inside the tunnel.
  check.py tls HOST:PORT TARGET_HOST:PORT|- NAME CAFILE PATH BODY_BYTES
      sends CONNECT TARGET and expects 2xx (with "-": talks to HOST:PORT
      directly), then a TLS handshake that verifies the certificate against
      CAFILE alone for NAME (sent as SNI, ALPN http/1.1), and two GET PATH
      in that session.  Prints the TLS version and who issued the
      certificate: through an intercepting proxy, the proxy's CA.

Exit status 0 when every check passed, 1 otherwise (reason on stdout).
"""
import socket
import ssl
import sys


def read_response(sock, buf, no_body=False):
    """Reads one response framed by Content-Length (or, with no_body, a
    CONNECT answer); returns (status line, headers, body length,
    leftover bytes)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed before a response head")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    status = lines[0]
    if no_body:
        length = 0
    elif "content-length" in headers:
        length = int(headers["content-length"])
    else:
        raise RuntimeError("no Content-Length in the answer '%s'" % status)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("closed after %d of %d body bytes"
                               % (len(rest), length))
        rest += chunk
    return status, headers, length, rest[length:]


def is_closed(sock):
    sock.settimeout(0.3)
    try:
        return sock.recv(1) == b""
    except socket.timeout:
        return False
    finally:
        sock.settimeout(10)


def connect(hostport):
    host, _, port = hostport.rpartition(":")
    s = socket.create_connection((host, int(port)), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def expect(status, headers, length, want):
    code = status.split()[1]
    if code != "200" or length != want:
        raise RuntimeError("got '%s' with %d body bytes, wanted 200 and %d"
                           % (status, length, want))
    return "%s, %d body bytes, via=%s server=%s" % (
        status, length, headers.get("via", "-"), headers.get("server", "-"))


def check_get(hostport, target, want):
    host = target.split("/")[2] if target.startswith("http://") else hostport
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, host)).encode()
    s = connect(hostport)
    buf = b""
    notes = []
    for i in range(2):
        s.sendall(req)
        status, headers, length, buf = read_response(s, buf)
        notes.append(expect(status, headers, length, want))
        if i == 0 and is_closed(s):
            notes.append("server closed the connection after the "
                         "response (no client keep-alive)")
            s.close()
            s = connect(hostport)
            buf = b""
    s.close()
    return "; ".join(notes)


def check_connect(hostport, target, path, want):
    s = connect(hostport)
    s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n"
               % (target, target)).encode())
    status, headers, _, buf = read_response(s, b"", no_body=True)
    if not status.split()[1].startswith("2"):
        raise RuntimeError("CONNECT answered '%s'" % status)
    note = "CONNECT: %s" % status
    for _ in range(2):
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n"
                   % (path, target)).encode())
        st, hd, length, buf = read_response(s, buf)
        note += "; inside: " + expect(st, hd, length, want)
    s.close()
    return note


def check_tls(hostport, target, name, cafile, path, want):
    s = connect(hostport)
    note = ""
    if target != "-":
        s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n"
                   % (target, target)).encode())
        status, _, _, buf = read_response(s, b"", no_body=True)
        if not status.split()[1].startswith("2"):
            raise RuntimeError("CONNECT answered '%s'" % status)
        if buf:
            raise RuntimeError("bytes after the CONNECT answer")
        note = "CONNECT: %s; " % status
    port = (target if target != "-" else hostport).rpartition(":")[2]
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(["http/1.1"])
    t = ctx.wrap_socket(s, server_hostname=name)
    cert = t.getpeercert()
    issuer = dict(x[0] for x in cert.get("issuer", ()))
    note += "%s %s, certificate for %s issued by '%s'" % (
        t.version(), t.selected_alpn_protocol() or "no ALPN",
        ",".join(v for k, v in cert.get("subjectAltName", ())),
        issuer.get("commonName", issuer.get("organizationName", "?")))
    buf = b""
    for _ in range(2):
        t.sendall(("GET %s HTTP/1.1\r\nHost: %s:%s\r\n\r\n"
                   % (path, name, port)).encode())
        st, hd, length, buf = read_response(t, buf)
        note += "; inside: " + expect(st, hd, length, want)
    t.close()
    return note


def main(argv):
    try:
        if argv[1] == "get" and len(argv) == 5:
            print("ok: " + check_get(argv[2], argv[3], int(argv[4])))
        elif argv[1] == "connect" and len(argv) == 6:
            print("ok: " + check_connect(argv[2], argv[3], argv[4],
                                         int(argv[5])))
        elif argv[1] == "tls" and len(argv) == 8:
            print("ok: " + check_tls(argv[2], argv[3], argv[4], argv[5],
                                     argv[6], int(argv[7])))
        else:
            print(__doc__)
            return 2
    except (OSError, RuntimeError, IndexError, ValueError) as e:
        print("FAILED: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
