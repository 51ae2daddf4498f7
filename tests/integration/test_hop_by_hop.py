#!/usr/bin/python3
"""Hop-by-hop headers (RFC 9110 7.6.1) are removed in both directions:
Connection and every header it names (token by token, any case),
Keep-Alive, TE, Proxy-Authorization, Proxy-Connection, Upgrade (outside an
upgrade); Via is added; every other header arrives in the same order, case
and value.

Client: raw sockets (to see exact names). Proxy: default flags. Origin:
/echo (request headers as received) and /hop (a response full of
hop-by-hop headers)."""

import harness
from harness import ProxyTestCase, http_request

VIA = "1.1 oauthlens"


def conn_ok(value):
    """A Connection header the proxy may generate itself."""
    toks = {t.strip().lower() for t in value.split(",") if t.strip()}
    return toks <= {"keep-alive", "close"}


def end_to_end(headers):
    """Headers minus Via and a proxy-generated Connection."""
    return [(n, v) for n, v in headers
            if n.lower() != "via" and
            not (n.lower() == "connection" and conn_ok(v))]


def via_values(headers):
    out = []
    for n, v in headers:
        if n.lower() == "via":
            out += [x.strip() for x in v.split(",")]
    return out


class HopByHop(ProxyTestCase):

    def echo(self, headers, path="/echo"):
        c = self.raw()
        c.send(http_request("GET", self.origin.url(path), headers))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        return [tuple(h) for h in r.json()["headers"]]

    def test_request_hop_by_hop_removed_order_kept(self):
        host = ("Host", "127.0.0.1:%d" % self.origin.port)
        sent = [
            host,
            ("X-First", "1"),
            ("Connection", "X-Foo, keep-alive"),
            ("X-Foo", "hop-value-foo"),
            ("Keep-Alive", "timeout=5"),
            ("x-MiXeD-CaSe", "Value  With  Spaces"),
            ("TE", "trailers"),
            ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
            ("Proxy-Connection", "keep-alive"),
            ("Accept", "*/*"),
            ("connection", "x-other"),
            ("X-OTHER", "hop-value-other"),
            ("X-Foo-Not", "end-to-end, despite the prefix"),
            ("Cache-Control", "no-cache"),
            ("X-Last", "z"),
        ]
        got = self.echo(sent)
        want = [host, ("X-First", "1"),
                ("x-MiXeD-CaSe", "Value  With  Spaces"),
                ("Accept", "*/*"),
                ("X-Foo-Not", "end-to-end, despite the prefix"),
                ("Cache-Control", "no-cache"), ("X-Last", "z")]
        self.assertEqual(end_to_end(got), want,
                         "headers at the origin: %r" % got)
        self.assertIn(VIA, via_values(got))
        for n, v in got:
            self.assertNotIn("hop-value", v, "hop-by-hop %s leaked" % n)

    def test_upgrade_without_connection_token_removed(self):
        got = self.echo([("Upgrade", "h2c"), ("X-Keep", "1")])
        self.assertNotIn("upgrade", [n.lower() for n, _ in got],
                         "Upgrade is hop-by-hop: %r" % got)
        self.assertIn(("X-Keep", "1"), got)

    def test_via_appended_to_existing(self):
        got = self.echo([("Via", "1.0 corp-proxy"), ("X-A", "a")])
        vias = via_values(got)
        self.assertIn("1.0 corp-proxy", vias)
        self.assertIn(VIA, vias)
        self.assertLess(vias.index("1.0 corp-proxy"), vias.index(VIA),
                        "our Via must come after earlier hops")

    def test_duplicate_end_to_end_headers_kept(self):
        got = self.echo([("X-Dup", "1"), ("Accept", "a/b"), ("X-Dup", "2"),
                         ("Cookie", "a=1"), ("Cookie", "b=2")])
        e2e = end_to_end(got)
        self.assertEqual([h for h in e2e if h[0] in ("X-Dup", "Cookie",
                                                      "Accept")],
                         [("X-Dup", "1"), ("Accept", "a/b"), ("X-Dup", "2"),
                          ("Cookie", "a=1"), ("Cookie", "b=2")])

    def test_response_hop_by_hop_removed_order_kept(self):
        c = self.raw()
        c.send(http_request("GET", self.origin.url("/hop")))
        r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"hop\n")
        names = [n.lower() for n, _ in r.headers]
        for hop in ("x-bar", "keep-alive", "proxy-connection", "upgrade"):
            self.assertNotIn(hop, names, "response kept %s: %r" %
                             (hop, r.headers))
        e2e = [(n, v) for n, v in end_to_end(r.headers)
               if n.lower() not in ("date",)]
        self.assertEqual(e2e, [("X-First", "1"),
                               ("x-MiXeD-cAsE", "Value  With  Spaces"),
                               ("Cache-Control", "no-store"),
                               ("X-Last", "z"), ("Content-Length", "4")],
                         "response headers: %r" % r.headers)

    def test_response_via_added(self):
        c = self.raw()
        c.send(http_request("GET", self.origin.url("/hop")))
        r = c.read_response()
        self.assertIn(VIA, via_values(r.headers),
                      "RFC 9110 7.6.3: a proxy adds Via to responses too")

    def test_keep_alive_survives_hop_response(self):
        c = self.raw()
        for i in range(3):
            c.send(http_request("GET", self.origin.url("/hop")))
            self.assertEqual(c.read_response().body, b"hop\n")
        c.send(http_request("GET", self.origin.url("/echo?after-hop=1")))
        self.assertEqual(c.read_response().json()["target"],
                         "/echo?after-hop=1")


if __name__ == "__main__":
    harness.main()
