#!/usr/bin/python3
"""--intercept with IP literals, and SNI that names another intercepted
host. The CA made for an intercept list holding 127.0.0.1 and ::1 permits
exactly those addresses (IP name constraints); the leaf minted for
CONNECT 127.0.0.1:443 has an IP SAN and verifies in curl, Python and Node
(when installed); [::1] likewise in Python. A client that CONNECTs by
address and sends SNI github.com gets a github.com leaf, and its requests
go to github.com (the token exchange is annotated); SNI naming a host
that is not intercepted gets the CONNECT address. A CA made before the
addresses were added is reported at start with the --new-ca fix.

Origins: the fake GitHub (github.com:443 through --resolve) and a TLS
test origin whose certificate names IP 127.0.0.1 (127.0.0.1:443 through
--resolve)."""

import os
import socket
import ssl
import subprocess

import harness
import oauth_helpers as oh

NODE_CLIENT = r"""
const net = require('net'), tls = require('tls'), fs = require('fs');
const [port, ca] = [process.argv[1], fs.readFileSync(process.argv[2])];
const s = net.connect(+port, '127.0.0.1', () => {
  s.write('CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n');
});
s.once('data', (d) => {
  if (!d.toString().startsWith('HTTP/1.1 200')) { console.log('no 200');
    process.exit(3); }
  const t = tls.connect({socket: s, ca, host: '127.0.0.1'}, () => {
    t.write('GET /echo?node=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
            'Connection: close\r\n\r\n');
  });
  let out = '';
  t.on('data', (x) => { out += x; });
  t.on('end', () => { console.log(out.split('\r\n')[0]); process.exit(0); });
  t.on('error', (e) => { console.log('tls error ' + e.message);
    process.exit(4); });
});
"""


class InterceptIP(oh.OAuthTestCase):

    @classmethod
    def extra_proxy_args(cls):
        cls.ip_origin = harness.Origin(tls=(cls.gca.cert, cls.gca.key))
        cls.ip_origin.start()
        return ["--intercept", "+127.0.0.1", "--intercept", "+::1",
                "--resolve", "127.0.0.1:443:127.0.0.1:%d" %
                cls.ip_origin.port]

    @classmethod
    def _teardown_origins(cls):
        if getattr(cls, "ip_origin", None):
            cls.ip_origin.stop()
        super()._teardown_origins()

    def tls_by_address(self, authority, sni, verify_name=None):
        c = self.raw(timeout=20)
        c.send("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (authority,
                                                           authority))
        r = c.read_response("CONNECT")
        self.assertEqual(r.status, 200, r)
        ctx = ssl.create_default_context(cafile=self.ca_pem)
        if verify_name is None:
            ctx.check_hostname = False
        c.sock = ctx.wrap_socket(c.sock, server_hostname=sni)
        return c

    def test_curl_ipv4(self):
        r = harness.curl("https://127.0.0.1/echo?ip=4", self.proxy,
                         ["--cacert", self.ca_pem], tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 200), "%r\n%s" % (
            r, self.proxy.tail()))
        self.assertTrue(r.json()["tls"])
        self.assertEqual(r.json()["target"], "/echo?ip=4")

    def test_python_ipv4_leaf_has_ip_san(self):
        c = self.tls_by_address("127.0.0.1:443", "127.0.0.1", "127.0.0.1")
        cert = c.sock.getpeercert()
        self.assertIn(("IP Address", "127.0.0.1"), cert["subjectAltName"])
        self.assertIn("oauthlens", repr(cert["issuer"]))
        c.send("GET /echo?py=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.json()["target"], "/echo?py=1")

    def test_python_ipv6_leaf(self):
        c = self.tls_by_address("[::1]:443", "::1", "::1")
        self.assertIn(("IP Address", "0:0:0:0:0:0:0:1"),
                      c.sock.getpeercert()["subjectAltName"])

    def test_node_ipv4(self):
        node = oh.node_bin()
        if node is None:
            self.skipTest("node is not installed")
        r = subprocess.run([node, "-e", NODE_CLIENT, str(self.proxy.port),
                            self.ca_pem], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(r.stdout.decode().strip(), "HTTP/1.1 200 OK", r)

    def test_ca_permits_exactly_the_addresses(self):
        out = subprocess.run(["openssl", "x509", "-in", self.ca_pem,
                              "-noout", "-ext", "nameConstraints"],
                             capture_output=True, timeout=30).stdout.decode()
        self.assertIn("IP:127.0.0.1/255.255.255.255", out)
        self.assertIn("IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:"
                      "FFFF:FFFF", out)
        self.assertIn("DNS:github.com", out)
        self.assertNotIn("Excluded", out)

    def test_sni_names_intercepted_host(self):
        code = self.fresh_code()
        m = self.mark()
        c = self.tls_by_address("127.0.0.1:443", "github.com", "github.com")
        self.assertIn(("DNS", "github.com"),
                      c.sock.getpeercert()["subjectAltName"])
        c.send(self.token_request(self.params(code, secret="0" * 40)))
        r = c.read_response("POST")
        self.assertEqual(r.status, 200, r)
        rec = self.one_record_since(m["gh"])
        self.assert_annotated(r.headers, r.body, rec,
                              "incorrect_client_credentials", mark=m)

    def test_sni_not_intercepted_gets_the_address(self):
        c = self.tls_by_address("127.0.0.1:443", "example.org")
        cert = c.sock.getpeercert(True)
        text = subprocess.run(["openssl", "x509", "-inform", "DER",
                               "-noout", "-ext", "subjectAltName"],
                              input=cert, capture_output=True,
                              timeout=30).stdout.decode()
        self.assertIn("IP Address:127.0.0.1", text)
        self.assertNotIn("example.org", text)

    def test_old_ca_reported_with_new_ca_fix(self):
        certs = os.path.join(self.tmp, "certs-before-ip")
        p = self.new_oauth_proxy(certs=certs, name="proxy-old-ca")
        p.stop()
        p = self.new_oauth_proxy(["--intercept", "+127.0.0.1"], certs=certs,
                                 name="proxy-old-ca-ip")
        text = p.stderr_text()
        self.assertIn("127.0.0.1 is outside the name constraints", text)
        self.assertIn("--new-ca", text)


if __name__ == "__main__":
    harness.main()
