#!/usr/bin/python3
"""Request smuggling into the shared upstream pool (issue 14, item 1).

Origin: a Go net/http server (tests/servers/go_origin, built by the test
with Debian's golang-go). Go ends a chunk line at a bare LF (RFC 9112
section 2.2 allows it); http-parser 2.9 reads the same bytes as one chunk
extension. A proxy that relays the client's chunked bytes as they came
hands Go a second, smuggled request, whose response (a second late)
arrives on the pooled connection after the next client's request was
sent on it: that client, whoever it is, reads it as its own.

Clients: raw sockets. Client A sends a chunked POST whose body hides
"GET /smuggled" behind a bare LF in a chunk extension (and other shapes
http-parser took: bytes after chunk data, a bare LF or folding in a
trailer); then clients B, each on a new connection, ask for /b-N.
Asserted: A gets 400; every B gets the response to its own request, never
another's; Go never reads /smuggled; a well-formed chunked body with
extensions and trailers still reaches Go whole, and what Go reads is the
payload alone (the proxy re-frames: no extension reaches it).
"""

import os
import shutil
import subprocess
import unittest

import harness
from harness import ProxyTestCase, http_request

GO = shutil.which("go")
SRC_DIR = os.path.join(harness.SRC, "tests", "servers", "go_origin")

# Answered a second late: by then its connection is back in the pool and
# the next client's request has been sent on it.
SMUGGLED = (b"GET /smuggled?delay=1s HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 7\r\n\r\n")


def bare_lf_extension():
    """One chunk to http-parser (its extension runs to the CR), a chunk,
    the last chunk and a second request to Go (its line ends at the LF).
    The 7 bytes after the second request are that request's body."""
    rest = b"0\r\n\r\n" + SMUGGLED
    n = len(rest)
    return (b"%x;\n" % n) + b"a" * n + b"\r\n" + rest + b"\r\n0\r\n\r\n"


ATTACKS = {
    "bare LF in a chunk extension": bare_lf_extension(),
    "bytes after chunk data": b"5\r\nhelloXX0\r\n\r\n" + SMUGGLED +
    b"1234567",
    "bare LF in a trailer": b"0\r\nX: a\n\r\n" + SMUGGLED + b"1234567",
    "folded trailer": b"0\r\nX: a\r\n " + SMUGGLED + b"\r\n\r\n",
    "size with trailing space": b"5 \r\nhello\r\n0\r\n\r\n",
}


@unittest.skipIf(GO is None, "go not installed: apt-get install golang-go "
                 "(scripts/test.sh installs it)")
class SmugglingGo(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.go = cls.start_go()
        except BaseException:
            super().tearDownClass()
            raise

    @classmethod
    def start_go(cls):
        binary = os.path.join(cls.tmp, "go_origin")
        env = dict(os.environ, GO111MODULE="off",
                   GOCACHE=os.path.join(cls.tmp, "gocache"),
                   GOPATH=os.path.join(cls.tmp, "gopath"))
        subprocess.run([GO, "build", "-o", binary,
                        os.path.join(SRC_DIR, "main.go")], env=env,
                       check=True, timeout=300)
        cls.go_log = os.path.join(cls.tmp, "go_origin.stderr")
        with open(cls.go_log, "wb") as err:
            proc = subprocess.Popen([binary], stdout=subprocess.PIPE,
                                    stderr=err)
        line = proc.stdout.readline().decode()
        if not line.startswith("port "):
            proc.kill()
            raise RuntimeError("go_origin did not start: %r" % line)
        cls.go_port = int(line.split()[1])
        return proc

    @classmethod
    def tearDownClass(cls):
        cls.go.kill()
        cls.go.wait(10)
        super().tearDownClass()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.go_port, path)

    def go_requests(self):
        with open(self.go_log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def others(self, rounds=4):
        """Clients B, each on a new connection: each must get the answer
        to its own request. Returns the paths they were answered for."""
        got = []
        for i in range(rounds):
            path = "/b-%d-%d" % (os.getpid(), len(got))
            c = self.raw()
            c.send(http_request("GET", self.url(path)))
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            answered = r.json()["path"]
            got.append(answered)
            self.assertEqual(answered, path, "client B asked for %s and "
                             "got the response to %s (someone else's "
                             "request)\n%s" % (path, answered,
                                               self.proxy.tail()))
            c.close()
        return got

    def test_attacks_refused_and_pool_clean(self):
        for name, body in ATTACKS.items():
            with self.subTest(name):
                # A pooled connection exists before the attack.
                self.others(1)
                a = self.raw()
                a.send(http_request("POST", self.url("/a"), [
                    ("Transfer-Encoding", "chunked")], body=body))
                r = a.read_response()
                # Whatever A got, the clients after it get their own
                # answers: the property that matters most, checked first.
                self.others()
                self.assertEqual(r.status, 400, "%s: %r\n%s" %
                                 (name, r, self.proxy.tail()))
                self.assert_reason(r.body, "malformed request body")
                a.close()
        self.assertNotIn("/smuggled", self.go_requests())
        self.assert_alive()

    def test_well_formed_chunked_reaches_go(self):
        body = (b"5;name=value ; q=\"a;b\"\r\nhello\r\n"
                b"6\r\n world\r\n0;last\r\nX-Sum: 11\r\n\r\n")
        c = self.raw()
        c.send(http_request("POST", self.url("/ok"), [
            ("Transfer-Encoding", "chunked")], body=body))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        e = r.json()
        self.assertEqual((e["path"], e["body"]), ("/ok", "hello world"))
        self.assertNotIn("error", e)
        # The same connection goes on: the body ended where it should.
        c.send(http_request("GET", self.url("/after")))
        self.assertEqual(c.read_response().json()["path"], "/after")
        self.others()


if __name__ == "__main__":
    harness.main()
