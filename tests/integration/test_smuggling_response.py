#!/usr/bin/python3
"""Response smuggling toward clients (issue 14, item 1, response side).

A hostile origin answers with a chunked body that http-parser 2.9 reads
as one chunk (its extension runs to the CR) while a client that ends a
chunk line at a bare LF, as RFC 9112 2.2 allows (RawConn here, Go), reads
a short body and then a second, forged response: relayed as raw bytes,
that forged response answered the client's next pipelined request.

Origin: a raw socket server in this file. Client: harness.RawConn
(pipelining two requests). Asserted: no response the client reads is the
forged one (the first is cut, never completed with the origin's framing;
the connection ends); a token-endpoint response, held for inspection and
so not yet started, gets 502 naming the chunk error; a well-formed
chunked response with extensions and trailers arrives re-framed.
"""


import harness
from harness import ProxyTestCase, http_request

FORGED = (b"HTTP/1.1 200 OK\r\nX-Forged: 1\r\nContent-Length: 7\r\n\r\n")


def hidden_response_body():
    rest = b"0\r\n\r\n" + FORGED
    n = len(rest)
    return (b"%x;\n" % n) + b"a" * n + b"\r\n" + rest + b"\r\n0\r\n\r\n"


GOOD = (b"5;ext=1\r\nhello\r\n6 ;q=\"x\"\r\n world\r\n0\r\n"
        b"X-Sum: 11\r\nContent-Length: 99\r\n\r\n")


class HostileOrigin(harness.RawServer):
    def serve(self, conn):
        conn.settimeout(20)
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    b = conn.recv(65536)
                    if not b:
                        return
                    buf += b
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.split(b"\r\n")
                path = lines[0].split(b" ")[1]
                for ln in lines[1:]:
                    if ln.lower().startswith(b"content-length:"):
                        n = int(ln.split(b":")[1])
                        while len(buf) < n:
                            buf += conn.recv(65536)
                        buf = buf[n:]
                if path.startswith(b"/evil") or b"access_token" in path:
                    body = hidden_response_body()
                elif path.startswith(b"/good"):
                    body = GOOD
                else:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Real: %s\r\n"
                                 b"Content-Length: 2\r\n\r\nok" % path)
                    continue
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: "
                             b"application/json\r\nTransfer-Encoding: "
                             b"chunked\r\n\r\n" + body)
        except OSError:
            pass
        finally:
            conn.close()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)



class ResponseSmuggling(ProxyTestCase):

    proxy_config = {"token_endpoints": ["127.0.0.1"]}

    def setUp(self):
        super().setUp()
        self.o = HostileOrigin()
        self.addCleanup(self.o.close)

    def test_forged_response_never_reaches_client(self):
        c = self.raw()
        c.send(http_request("GET", self.o.url("/evil")) +
               http_request("GET", self.o.url("/next")))
        got = []
        try:
            for _ in range(2):
                got.append(c.read_response())
        except (EOFError, ConnectionResetError, ValueError):
            pass
        for r in got:
            self.assertIsNone(r.header("x-forged"), "the client read the "
                              "origin's forged response: %r" % r)
        self.assertEqual([r.header("x-real") for r in got[1:]],
                         ["/next"] * len(got[1:]))
        self.assert_alive()

    def test_held_token_response_gets_502(self):
        c = self.raw()
        c.send(http_request("POST", self.o.url("/login/oauth/access_token"),
                            [("Content-Type",
                              "application/x-www-form-urlencoded")],
                            body=b"client_id=x&code=y"))
        r = c.read_response("POST")
        self.assertEqual(r.status, 502, r)
        self.assert_reason(r.body, "bad response body", "chunk")

    def test_good_chunked_response_reframed(self):
        c = self.raw()
        c.send(http_request("GET", self.o.url("/good")))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"hello world")
        self.assertEqual(r.trailers, [("X-Sum", "11")])
        self.assertNotIn(b"ext=", r.raw_head)


if __name__ == "__main__":
    harness.main()
