#!/usr/bin/python3
"""/metrics: Prometheus text exposition format 0.0.4, parsed by a strict
parser written here from the format's specification (HELP/TYPE lines,
metric and label name syntax, label value escapes, float values,
one TYPE per family before its samples, families contiguous, no
duplicate series, newline-terminated), and counters that rise with
traffic:

  oauthlens_requests_total{method,status}     by method and status class
  oauthlens_open_connections                  gauge, up and back down
  oauthlens_received_bytes_total / _sent_     at least the bytes on the
                                              wire, not counted twice
  oauthlens_tunnels_total                     blind CONNECT
  oauthlens_certificates_minted_total         intercepted CONNECT: one
  oauthlens_certificate_cache_hits_total      mint, then cache hits
  oauthlens_oauth_errors_annotated_total{code}

Clients: raw sockets, curl (CONNECT, intercepted TLS). Servers: harness
Origin (plain and TLS), a fake token endpoint (sdhelp)."""

import math
import os
import re
import shutil
import tempfile

import harness
from harness import SLOW, Origin, RawConn, TestCA, closed_port, http_request
from sdhelp import (BAD_CODE_BODY, BAD_CREDS_BODY, Daemon, FakeTokenEndpoint,
                    SharedDaemonCase, token_request)

# -- a strict parser of the text exposition format -------------------------

METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"),
            "summary": ("_sum", "_count")}


class ExpositionError(ValueError):
    pass


def parse_value(s, lineno):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", s):
        raise ExpositionError("line %d: bad value %r" % (lineno, s))
    return float(s)


def parse_labels(s, pos, lineno):
    """Parse '{a="x",b="y"}' starting at s[pos] == '{'; return (dict,
    end)."""
    labels = {}
    pos += 1
    while True:
        if pos < len(s) and s[pos] == "}":
            return labels, pos + 1
        m = re.compile(LABEL_NAME).match(s, pos)
        if not m:
            raise ExpositionError("line %d: bad label name at %d: %r" %
                                  (lineno, pos, s))
        name = m.group(0)
        if name.startswith("__"):
            raise ExpositionError("line %d: reserved label %s" %
                                  (lineno, name))
        if name in labels:
            raise ExpositionError("line %d: duplicate label %s" %
                                  (lineno, name))
        pos = m.end()
        if s[pos:pos + 2] != '="':
            raise ExpositionError("line %d: expected =\" after %s" %
                                  (lineno, name))
        pos += 2
        val = []
        while True:
            if pos >= len(s):
                raise ExpositionError("line %d: unterminated label value" %
                                      lineno)
            c = s[pos]
            if c == "\\":
                nxt = s[pos + 1:pos + 2]
                if nxt not in ("\\", '"', "n"):
                    raise ExpositionError("line %d: bad escape \\%s" %
                                          (lineno, nxt))
                val.append("\n" if nxt == "n" else nxt)
                pos += 2
            elif c == '"':
                pos += 1
                break
            elif c == "\n":
                raise ExpositionError("line %d: newline in label value" %
                                      lineno)
            else:
                val.append(c)
                pos += 1
        labels[name] = "".join(val)
        if pos < len(s) and s[pos] == ",":
            pos += 1
        elif pos < len(s) and s[pos] == "}":
            return labels, pos + 1
        else:
            raise ExpositionError("line %d: expected , or } at %d" %
                                  (lineno, pos))


class Family:
    def __init__(self, name):
        self.name = name
        self.type = None
        self.help = None
        self.samples = []           # (sample name, labels, value)


def parse_exposition(text):
    """{family name: Family}; raises ExpositionError on any deviation."""
    if text and not text.endswith("\n"):
        raise ExpositionError("does not end with a newline")
    families = {}
    order = []                      # family of each sample, in order
    done = set()                    # families whose samples have ended
    current = None
    seen = set()

    def family_of(sample):
        if sample in families and families[sample].type is not None:
            return families[sample]
        for f in families.values():
            for suf in SUFFIXES.get(f.type, ()):
                if sample == f.name + suf:
                    return f
        f = families.get(sample)
        if f is None:
            f = families[sample] = Family(sample)
        return f

    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        if line.strip() == "":
            continue
        if line.startswith("#"):
            m = re.fullmatch(r"#\s+(HELP|TYPE)\s+(%s)(?:\s(.*))?" %
                             METRIC_NAME, line)
            if not m:
                continue            # a plain comment
            kind, name, rest = m.group(1), m.group(2), m.group(3) or ""
            f = families.setdefault(name, Family(name))
            if kind == "TYPE":
                if f.type is not None:
                    raise ExpositionError("line %d: second TYPE for %s" %
                                          (lineno, name))
                if f.samples:
                    raise ExpositionError("line %d: TYPE for %s after its "
                                          "samples" % (lineno, name))
                if rest.strip() not in TYPES:
                    raise ExpositionError("line %d: unknown type %r" %
                                          (lineno, rest))
                f.type = rest.strip()
            else:
                if f.help is not None:
                    raise ExpositionError("line %d: second HELP for %s" %
                                          (lineno, name))
                if re.search(r"\\[^\\n]", rest):
                    raise ExpositionError("line %d: bad escape in HELP" %
                                          lineno)
                f.help = rest
            continue
        m = re.compile(METRIC_NAME).match(line)
        if not m:
            raise ExpositionError("line %d: bad metric name: %r" %
                                  (lineno, line))
        name = m.group(0)
        pos = m.end()
        labels = {}
        if pos < len(line) and line[pos] == "{":
            labels, pos = parse_labels(line, pos, lineno)
        rest = line[pos:]
        if not rest[:1] in (" ", "\t"):
            raise ExpositionError("line %d: no space before the value" %
                                  lineno)
        parts = rest.split()
        if len(parts) not in (1, 2):
            raise ExpositionError("line %d: trailing garbage %r" %
                                  (lineno, rest))
        value = parse_value(parts[0], lineno)
        if len(parts) == 2 and not re.fullmatch(r"-?\d+", parts[1]):
            raise ExpositionError("line %d: bad timestamp" % lineno)
        f = family_of(name)
        if f is not current:
            if f.name in done:
                raise ExpositionError("line %d: samples of %s are not "
                                      "together" % (lineno, f.name))
            if current is not None:
                done.add(current.name)
            current = f
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            raise ExpositionError("line %d: duplicate series %r" %
                                  (lineno, key))
        seen.add(key)
        if f.type == "counter" and not (value >= 0):
            raise ExpositionError("line %d: negative counter" % lineno)
        f.samples.append((name, labels, value))
        order.append(f.name)
    return families


class Metrics:
    def __init__(self, families):
        self.families = families

    def value(self, name, **labels):
        """The sample of family `name` whose labels are exactly `labels`
        (0 if absent: a labelled counter appears at its first use)."""
        f = self.families.get(name)
        if f is None:
            raise KeyError("no metric family %s" % name)
        for n, ls, v in f.samples:
            if n == name and ls == labels:
                return v
        return 0.0


# -- the tests -------------------------------------------------------------

class MetricsBase(SharedDaemonCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="oauthlens-metrics-")
        cls.ca = TestCA(cls.tmp)
        cls.origin = Origin().start()
        cls.tls = Origin(tls=(cls.ca.cert, cls.ca.key)).start()
        cls.fake = FakeTokenEndpoint().start()
        try:
            super().setUpClass()
        except BaseException:
            cls._stop_servers()
            raise

    @classmethod
    def make_daemon(cls, name):
        tp = cls.tls.port
        return Daemon(cls.tmp, {"connect_ports": [443, tp]},
                      cls.fake.resolve_arg() +
                      ["--intercept", "localhost",
                       "--resolve", "localhost:%d:127.0.0.1:%d" % (tp, tp),
                       "--upstream-ca", cls.ca.ca], name=name).start()

    @classmethod
    def _stop_servers(cls):
        cls.fake.stop()
        cls.tls.stop()
        cls.origin.stop()
        if not harness.KEEP_TMP:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls._stop_servers()

    def scrape(self):
        r = self.d.http_get("/metrics")
        self.assertEqual(r.status, 200, r)
        ctype = r.header("content-type") or ""
        self.assertRegex(ctype, r"^text/plain;\s*version=0\.0\.4(;|$)",
                         ctype)
        text = r.body.decode("utf-8")
        try:
            return Metrics(parse_exposition(text))
        except ExpositionError as e:
            self.fail("/metrics is not valid exposition format: %s\n%s" %
                      (e, text))

    def curl(self, url, args=()):
        return harness.curl(url, self.d, args, tmpdir=self.tmp)


class Format(MetricsBase):

    FAMILIES = {
        "oauthlens_requests_total": "counter",
        "oauthlens_open_connections": "gauge",
        "oauthlens_received_bytes_total": "counter",
        "oauthlens_sent_bytes_total": "counter",
        "oauthlens_tunnels_total": "counter",
        "oauthlens_certificates_minted_total": "counter",
        "oauthlens_certificate_cache_hits_total": "counter",
        "oauthlens_oauth_errors_annotated_total": "counter",
    }

    def test_families_and_types(self):
        self.curl(self.origin.url("/echo"))
        m = self.scrape()
        for name, typ in self.FAMILIES.items():
            self.assertIn(name, m.families, "no %s" % name)
            f = m.families[name]
            self.assertEqual(f.type, typ, name)
            self.assertTrue(f.help, "%s has no HELP" % name)
        for name, f in m.families.items():
            self.assertTrue(name.startswith("oauthlens_"), name)
            if f.type == "counter":
                self.assertTrue(name.endswith("_total"), name)
        for n, labels, v in m.families["oauthlens_requests_total"].samples:
            self.assertEqual(set(labels), {"method", "status"}, labels)
            self.assertRegex(labels["status"], r"^([1-5]xx|other)$")

    def test_parser_is_strict(self):
        good = ('# HELP a_total A.\n# TYPE a_total counter\n'
                'a_total{x="1\\"\\n\\\\"} 1\na_total 2.5e3\n')
        self.assertEqual(parse_exposition(good)["a_total"].samples[0][1],
                         {"x": '1"\n\\'})
        for bad in ('a 1', 'a{x="1} 1\n', 'a{x=1} 1\n', 'a{x="\\q"} 1\n',
                    '1a 1\n', 'a one\n', 'a{x="1",x="2"} 1\n', 'a 1\na 2\n',
                    '# TYPE a counter\n# TYPE a counter\na 1\n',
                    'a 1\n# TYPE a counter\n', 'a 1\nb 1\na{x="y"} 1\n',
                    '# TYPE a counter\na -1\n', '# TYPE a countr\na 1\n',
                    'a 1 2 3\n', 'a{__x="1"} 1\n'):
            with self.assertRaises(ExpositionError, msg=repr(bad)):
                parse_exposition(bad)

    def test_odd_error_code_keeps_format_valid(self):
        # The error code comes from the network: whatever it is, the
        # exposition must stay parseable (escaped or left out).
        self.fake.body = (b'error=weird%22code%5C%0A%7Bx%7D%20y&'
                          b'error_description=x')
        try:
            r = token_request(self.d.url, tmpdir=self.tmp)
        finally:
            self.fake.body = BAD_CODE_BODY
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.scrape()


class Counters(MetricsBase):

    def test_requests_by_method_and_status(self):
        before = self.scrape()
        for _ in range(5):
            self.assertEqual(self.curl(self.origin.url("/echo")).status, 200)
        for _ in range(2):
            r = self.curl(self.origin.url("/echo"), ["--data", "x=1"])
            self.assertEqual(r.status, 200)
        self.assertEqual(self.curl(self.origin.url("/status/404")).status,
                         404)
        self.assertEqual(self.curl(self.origin.url("/status/503")).status,
                         503)
        after = self.scrape()

        def delta(**labels):
            return after.value("oauthlens_requests_total", **labels) - \
                before.value("oauthlens_requests_total", **labels)
        # GET 2xx: 5 proxied, plus the first scrape itself (counted once
        # it is answered).
        self.assertIn(delta(method="GET", status="2xx"), (5, 6))
        self.assertEqual(delta(method="POST", status="2xx"), 2)
        self.assertEqual(delta(method="GET", status="4xx"), 1)
        self.assertEqual(delta(method="GET", status="5xx"), 1)

    def test_open_connections_gauge(self):
        # Quiet: the scrape's own connection is the only one open (earlier
        # clients' closes may still be on their way).
        base = 1
        quiet = harness.wait_until(
            lambda: self.scrape().value("oauthlens_open_connections") ==
            base, 5 * SLOW)
        self.assertTrue(quiet, "oauthlens_open_connections is not 1 (the "
                        "scrape itself) with no other client connected")
        conns = []
        try:
            for _ in range(4):
                c = RawConn(self.d.port)
                conns.append(c)
                c.send(http_request("GET", self.origin.url("/echo")))
                self.assertEqual(c.read_response().status, 200)
            now = self.scrape().value("oauthlens_open_connections")
            self.assertEqual(now, base + 4, "4 idle keep-alive connections "
                             "open: gauge %s, before %s" % (now, base))
        finally:
            for c in conns:
                c.close()
        back = harness.wait_until(
            lambda: self.scrape().value("oauthlens_open_connections") ==
            base, 5 * SLOW)
        self.assertTrue(back, "the gauge did not come back to %s after the "
                        "connections closed" % base)

    def test_bytes_counters(self):
        n = 300000
        before = self.scrape()
        req = http_request("GET", self.origin.url("/bytes/%d" % n),
                           [("X-Pad", "p" * 1000)])
        with RawConn(self.d.port) as c:
            c.send(req)
            r = c.read_response()
        self.assertEqual((r.status, len(r.body)), (200, n))
        got = len(r.raw_head) + len(r.body)
        after = self.scrape()
        rin = after.value("oauthlens_received_bytes_total") - \
            before.value("oauthlens_received_bytes_total")
        rout = after.value("oauthlens_sent_bytes_total") - \
            before.value("oauthlens_sent_bytes_total")
        # The first scrape's own exchange may be counted in between.
        self.assertGreaterEqual(rin, len(req), "received_bytes_total rose "
                                "by %d for a %d-byte request" % (rin,
                                                                 len(req)))
        self.assertLess(rin, len(req) + 4096, "received bytes over-counted")
        self.assertGreaterEqual(rout, got, "sent_bytes_total rose by %d but "
                                "the client received %d bytes (head %d + "
                                "body %d); head as received:\n%s" %
                                (rout, got, len(r.raw_head), len(r.body),
                                 r.raw_head.decode("latin-1")))
        self.assertLess(rout, got + 16384, "sent bytes over-counted "
                        "(%d for %d on the wire)" % (rout, got))

    def test_tunnel_counters(self):
        n = 200000
        before = self.scrape()
        r = self.curl(self.tls.url("/bytes/%d" % n), ["--cacert",
                                                      self.ca.ca])
        self.assertEqual((r.rc, r.status, len(r.body)), (0, 200, n), r)
        after = harness.wait_until(
            lambda: (lambda m: m if m.value("oauthlens_tunnels_total") >
                     before.value("oauthlens_tunnels_total") else None)(
                         self.scrape()), 3 * SLOW)
        self.assertTrue(after, "oauthlens_tunnels_total did not rise for a "
                        "blind CONNECT")
        self.assertEqual(after.value("oauthlens_tunnels_total") -
                         before.value("oauthlens_tunnels_total"), 1)
        rout = after.value("oauthlens_sent_bytes_total") - \
            before.value("oauthlens_sent_bytes_total")
        self.assertGreaterEqual(rout, n, "tunnelled bytes not counted as "
                                "sent")
        self.assertLess(rout, 1.5 * n, "tunnelled bytes counted twice? "
                        "%d for %d" % (rout, n))

    def test_certificate_counters(self):
        before = self.scrape()
        url = "https://localhost:%d/echo" % self.tls.port
        ca = os.path.join(self.d.certs_dir, "ca.pem")
        for i in range(3):
            r = self.curl(url, ["--cacert", ca])
            self.assertEqual((r.rc, r.status), (0, 200),
                             "intercepted request %d: %r\n%s" %
                             (i, r, self.d.tail()))
        after = self.scrape()
        minted = after.value("oauthlens_certificates_minted_total") - \
            before.value("oauthlens_certificates_minted_total")
        hits = after.value("oauthlens_certificate_cache_hits_total") - \
            before.value("oauthlens_certificate_cache_hits_total")
        if before.value("oauthlens_certificates_minted_total") == 0:
            self.assertEqual(minted, 1, "first interception of localhost "
                             "must mint one certificate")
            self.assertEqual(hits, 2, "the next two must be cache hits")
        else:
            self.assertEqual(minted + hits, 3)

    def test_annotated_errors_by_code(self):
        before = self.scrape()
        for body in (BAD_CODE_BODY, BAD_CREDS_BODY, BAD_CODE_BODY):
            self.fake.body = body
            try:
                r = token_request(self.d.url, tmpdir=self.tmp)
            finally:
                self.fake.body = BAD_CODE_BODY
            self.assertIsNotNone(r.header("OAuth-Troubleshooting"), r)
        after = self.scrape()
        name = "oauthlens_oauth_errors_annotated_total"
        self.assertEqual(after.value(name, code="bad_verification_code") -
                         before.value(name, code="bad_verification_code"), 2)
        self.assertEqual(after.value(name,
                                     code="incorrect_client_credentials") -
                         before.value(name,
                                      code="incorrect_client_credentials"), 1)

    def test_bytes_of_proxy_made_errors_counted(self):
        # A 502 the proxy writes itself is traffic too.
        before = self.scrape()
        req = http_request("GET", "http://127.0.0.1:%d/x" % closed_port())
        with RawConn(self.d.port) as c:
            c.send(req)
            r = c.read_response()
        self.assertEqual(r.status, 502, r)
        after = self.scrape()
        rin = after.value("oauthlens_received_bytes_total") - \
            before.value("oauthlens_received_bytes_total")
        rout = after.value("oauthlens_sent_bytes_total") - \
            before.value("oauthlens_sent_bytes_total")
        self.assertGreaterEqual(rin, len(req), "a request answered 502 is "
                                "missing from received_bytes_total")
        self.assertGreaterEqual(rout, len(r.raw_head) + len(r.body),
                                "a 502 response is missing from "
                                "sent_bytes_total")
        self.assertEqual(after.value("oauthlens_requests_total",
                                     method="GET", status="5xx") -
                         before.value("oauthlens_requests_total",
                                      method="GET", status="5xx"), 1)


if __name__ == "__main__":
    harness.main()
