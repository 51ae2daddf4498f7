"""Origin for scripts/bench/callgrind.sh: answers every request on a
keep-alive connection with the same nginx-like head and a 100-byte body,
in one write (so the proxy under measurement reads each answer the same
way every time).  With "split" as the second argument, the head is the
one of Python's http.server (five fields) and the body a second write, as
http.server sends them, Nagle's algorithm on: the body waits for the
proxy's ACK of the head, so the proxy reads the two apart.  Requests are read up to their empty line; bodies
are not expected.  Listens on a loopback port of the kernel's choice and
writes it to the file named by the first argument."""
import os
import socket
import sys
import threading

BODY = b"x" * 100
ANSWER = (b"HTTP/1.1 200 OK\r\n"
          b"Server: nginx/1.22.1\r\n"
          b"Date: Sun, 06 Dec 2026 12:00:00 GMT\r\n"
          b"Content-Type: application/octet-stream\r\n"
          b"Content-Length: 100\r\n"
          b"Last-Modified: Sun, 06 Dec 2026 11:00:00 GMT\r\n"
          b"Connection: keep-alive\r\n"
          b"ETag: \"6937f9b0-64\"\r\n"
          b"Accept-Ranges: bytes\r\n"
          b"\r\n") + BODY
SPLIT_HEAD = (b"HTTP/1.1 200 OK\r\n"
              b"Server: SimpleHTTP/0.6 Python/3.11.2\r\n"
              b"Date: Sun, 06 Dec 2026 12:00:00 GMT\r\n"
              b"Content-type: application/octet-stream\r\n"
              b"Content-Length: 100\r\n"
              b"Last-Modified: Sun, 06 Dec 2026 11:00:00 GMT\r\n"
              b"\r\n")
WRITES = [ANSWER]


def serve(conn):
    buf = b""
    with conn:
        if len(WRITES) == 1:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                buf = buf[end + 4:]
                for w in WRITES:
                    conn.sendall(w)
                continue
            if len(buf) > 65536:
                return
            data = conn.recv(65536)
            if not data:
                return
            buf += data


def main():
    if len(sys.argv) > 2 and sys.argv[2] == "split":
        WRITES[:] = [SPLIT_HEAD, BODY]
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(tmp, sys.argv[1])
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
