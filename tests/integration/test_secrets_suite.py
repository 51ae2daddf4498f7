#!/usr/bin/python3
"""No secret in any log, whatever the traffic: the whole log of proxies
at --log-level debug (JSON and text; without and with proxy_auth) is
searched for every secret value a representative mix of traffic carried.

The mix, on each of the four proxies:
  plain HTTP   Authorization (Bearer, Basic, token), Cookie, Proxy-
               Authorization, query strings with code=, client_secret=,
               access_token=, refresh_token=, id_token= (first, middle,
               last, repeated, empty, with '=' in the value), secrets in
               request bodies (Content-Length and chunked), Set-Cookie in
               a response, HEAD, keep-alive;
  intercepted  token exchanges with fake GitHub (good and failing, so that
  HTTPS        oauth-error records are written), authorize with the code in
               the 302's Location, GET with Authorization and Cookie;
  CONNECT      a blind tunnel carrying a request with secrets, CONNECT to
               a refused port, with Proxy-Authorization;
  error paths  502 (refused, reset, malformed status line), 504
               (timeouts.idle 3 s), 400 (bare LF, CL+TE, user information
               in the target), 431, 407 (wrong and missing proxy
               credentials), a client leaving mid-upload;
  own pages    /, /metrics, /healthz, and an unknown page, asked with
               secrets in the query; their bodies are searched too.
Every file the proxies wrote (stderr, stdout) is searched for every
secret, its Basic base64 form and its last 16 characters. The logs must
hold what they should (access records with masked targets, debug records,
oauth-error records), so that the search is not vacuous.

Certificates: after interception, ca-key.pem is mode 0600, the directory
holds only ca.pem, ca-key.pem, ca-bundle.pem and .lock (no leaf key, no
other file with a private key), and a CA key readable by others is
refused at start.
"""

import base64
import glob
import os
import secrets
import shutil
import socket
import stat
import struct
import urllib.parse

import harness
import oauth_helpers as oh
from harness import RawConn, closed_port, http_request

CERT_FILES = {"ca.pem", "ca-key.pem", "ca-bundle.pem", ".lock",
              "java-truststore.p12", "php", "php/oauthlens.ini", "wgetrc"}


class SecretsSuite(oh.OAuthTestCase):

    @classmethod
    def proxy_setup(cls):
        cls.proxy_config = {"connect_ports": [443, cls.origin.port],
                            "timeouts": {"idle": 3}}
        return super().proxy_setup()

    def setUp(self):
        super().setUp()
        self.needles = {}       # secret value -> what it was

    # -- secrets -----------------------------------------------------------
    def sec(self, kind):
        """A fresh secret value (letters and digits: the same in every
        encoding), remembered as a needle."""
        tag = "".join(ch for ch in kind if ch.isalpha())[:3].upper()
        v = "%s%s" % (tag or "SEC", secrets.token_hex(12))
        self.needles[v] = kind
        return v

    def basic(self, user, password, kind):
        b = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        self.needles[b] = kind + " (base64)"
        return "Basic " + b

    # -- clients -----------------------------------------------------------
    def proxy_headers(self, p):
        """Proxy-Authorization for p: the right credentials when p needs
        them, a secret-looking value otherwise (hop-by-hop: removed)."""
        if getattr(p, "auth", None):
            return [("Proxy-Authorization", self.basic("dev", p.auth,
                                                       "proxy_auth"))]
        return [("Proxy-Authorization",
                 self.basic("dev", self.sec("proxy-authorization"),
                            "proxy-authorization"))]

    def curl_args(self, p):
        if getattr(p, "auth", None):
            return ["--proxy-user", "dev:" + p.auth]
        return ["--proxy-user", "dev:" + self.sec("proxy-user")]

    def raw_req(self, p, data, method="GET", timeout=10):
        """Send data on a fresh connection to p; the response, or None
        when the proxy closed without one."""
        with RawConn(p.port, timeout=timeout) as c:
            c.send(data)
            try:
                return c.read_response(method)
            except (EOFError, ConnectionResetError):
                return None

    def secret_query(self):
        q = [("state", "visible-state"),
             ("code", self.sec("code")),
             ("client_secret", self.sec("client_secret")),
             ("access_token", self.sec("access_token")),
             ("refresh_token", self.sec("refresh_token")),
             ("id_token", self.sec("id_token"))]
        return urllib.parse.urlencode(q)

    def odd_queries(self):
        """Secrets in every position of a query string."""
        c1, c2, c3 = self.sec("code"), self.sec("code"), self.sec("code")
        t1, t2 = self.sec("access_token"), self.sec("refresh_token")
        return ["code=%s" % c1,
                "a=1&code=%s&b=2" % c2,
                "x=&access_token=%s=tail&code=" % t1,
                "code=%s&code=%s" % (c3, c3),
                "refresh_token=%s#fragment" % t2,
                "client_secret=%s&" % self.sec("client_secret")]

    # -- the mix -----------------------------------------------------------
    def plain_http(self, p):
        o = self.origin
        hdrs = [("Authorization", "Bearer " + self.sec("bearer")),
                ("Cookie", "session=%s; theme=dark; csrf=%s" % (
                    self.sec("cookie"), self.sec("cookie")))]
        r = self.raw_req(p, http_request(
            "GET", o.url("/echo?" + self.secret_query()),
            hdrs + self.proxy_headers(p)))
        self.assertEqual(r.status, 200, r)
        # The origin got Authorization and Cookie, not Proxy-Authorization.
        sent = [n.lower() for n, _ in r.json()["headers"]]
        self.assertIn("authorization", sent)
        self.assertNotIn("proxy-authorization", sent)
        for q in self.odd_queries():
            r = self.raw_req(p, http_request("GET", o.url("/echo?" + q),
                                             self.proxy_headers(p)))
            self.assertEqual(r.status, 200, r)
        # curl: Basic, a GitHub-style token header, HEAD.
        r = harness.curl(o.url("/echo?" + self.secret_query()), p,
                         self.curl_args(p) + [
                             "-u", "user:" + self.sec("basic-password"),
                             "-b", "sid=" + self.sec("cookie")],
                         tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        r = harness.curl(o.url("/echo?" + self.secret_query()), p,
                         self.curl_args(p) + [
                             "-I", "-H", "Authorization: token " +
                             self.sec("token")], tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        # Bodies: form with Content-Length, JSON chunked.
        body = ("client_secret=%s&code=%s&password=%s" % (
            self.sec("client_secret"), self.sec("code"),
            self.sec("password"))).encode()
        r = self.raw_req(p, http_request(
            "POST", o.url("/echo?post=1"),
            [("Content-Type", "application/x-www-form-urlencoded")] +
            self.proxy_headers(p), body))
        self.assertEqual(r.status, 200, r)
        js = ('{"refresh_token": "%s", "client_secret": "%s"}' % (
            self.sec("refresh_token"), self.sec("client_secret"))).encode()
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(js), js)
        r = self.raw_req(p, http_request(
            "POST", o.url("/echo?chunked=1"),
            [("Content-Type", "application/json"),
             ("Transfer-Encoding", "chunked")] + self.proxy_headers(p)) +
            chunked)
        self.assertEqual(r.status, 200, r)
        # Set-Cookie in a response (the origin's fixed value: one asked
        # for in the query would be in the logged target, as it should).
        self.needles["SETCOOKIESECRET"] = "set-cookie"
        r = self.raw_req(p, http_request("GET", o.url("/setcookie"),
                                         self.proxy_headers(p)))
        self.assertEqual(r.status, 200, r)
        self.assertIn("SETCOOKIESECRET", r.header("Set-Cookie"))
        # Keep-alive: three requests on one connection.
        with RawConn(p.port) as c:
            for i in range(3):
                c.send(http_request(
                    "GET", o.url("/echo?ka=%d&code=%s" % (
                        i, self.sec("code"))),
                    [("Authorization", "Bearer " + self.sec("bearer"))] +
                    self.proxy_headers(p)))
                self.assertEqual(c.read_response().status, 200)

    def intercepted(self, p):
        extra = self.curl_args(p)
        # Token exchanges: success, wrong secret, bad code, wrong redirect.
        for params in (self.params(self.fresh_code()),
                       self.params(self.fresh_code(),
                                   secret=self.sec("client_secret")),
                       self.params(self.sec("code")),
                       self.params(self.fresh_code(),
                                   redirect_uri=oh.WRONG_REDIRECT)):
            r = self.curl_token(params, accept="application/json",
                                proxy=p, args=extra)
            self.assertEqual((r.rc, r.status), (0, 200), r)
        # The same over plain HTTP (github.com:80).
        r = self.curl_token(self.params(self.sec("code")), proxy=p,
                            plain=True, args=extra)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        # Parameters in the query string.
        q = urllib.parse.urlencode(self.params(self.fresh_code()))
        r = harness.curl(oh.TOKEN_URL + "?" + q, p, extra + [
            "--cacert", self.ca_pem, "-X", "POST"], tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        # Authorize: the code comes back in the 302's Location.
        q = urllib.parse.urlencode({"client_id": self.app.client_id,
                                    "redirect_uri": oh.CALLBACK,
                                    "state": "st"})
        r = harness.curl("https://github.com/login/oauth/authorize?" + q, p,
                         extra + ["--cacert", self.ca_pem], tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 302), r)
        self.assertIn("code=", r.header("Location"))
        # An API-style GET with a token and a cookie.
        r = harness.curl("https://github.com/zen?access_token=" +
                         self.sec("access_token"), p, extra + [
                             "--cacert", self.ca_pem,
                             "-H", "Authorization: token " +
                             self.sec("token"),
                             "-b", "user_session=" + self.sec("cookie")],
                         tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 200), r)

    def connect_paths(self, p):
        # A blind tunnel to the origin with secrets inside.
        with RawConn(p.port) as c:
            c.send(("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d"
                    "\r\n" % (self.origin.port, self.origin.port)) +
                   "".join("%s: %s\r\n" % h for h in self.proxy_headers(p))
                   + "\r\n")
            r = c.read_response("CONNECT")
            self.assertEqual(r.status, 200, r)
            c.send("GET /echo?code=%s HTTP/1.1\r\nHost: x\r\nAuthorization: "
                   "Bearer %s\r\n\r\n" % (self.sec("code"),
                                          self.sec("bearer")))
            self.assertEqual(c.read_response().status, 200)
        # CONNECT to a port outside connect_ports.
        r = self.raw_req(p, ("CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: "
                             "127.0.0.1:25\r\n" + "".join(
                                 "%s: %s\r\n" % h
                                 for h in self.proxy_headers(p)) +
                             "\r\n").encode(), "CONNECT")
        self.assertEqual(r.status, 403, r)

    def error_paths(self, p):
        o = self.origin
        pa = self.proxy_headers

        def auth():
            return [("Authorization", "Bearer " + self.sec("bearer")),
                    ("Cookie", "s=" + self.sec("cookie"))] + pa(p)
        cases = [
            ("refused", 502, http_request(
                "GET", "http://127.0.0.1:%d/x?%s" % (
                    closed_port(), self.secret_query()), auth())),
            ("reset", 502, http_request(
                "GET", o.url("/reset?" + self.secret_query()), auth())),
            ("bad status", 502, http_request(
                "GET", o.url("/badstatus?code=" + self.sec("code")),
                auth())),
            ("stall", 504, http_request(
                "GET", o.url("/slow?delay=20&code=" + self.sec("code")),
                auth())),
            ("bare LF", 400, http_request(
                "GET", o.url("/echo?" + self.secret_query()), auth())
             .replace(b"\r\nAuthorization", b"\nAuthorization")),
            ("CL+TE", 400, http_request(
                "POST", o.url("/echo?code=" + self.sec("code")),
                auth() + [("Content-Length", "5"),
                          ("Transfer-Encoding", "chunked")]) +
             b"0\r\n\r\n"),
            ("userinfo", 400, http_request(
                "GET", "http://user:%s@127.0.0.1:%d/?code=%s" % (
                    self.sec("userinfo"), o.port, self.sec("code")),
                auth(), host="127.0.0.1:%d" % o.port)),
            ("431", 431, http_request(
                "GET", o.url("/echo?" + self.secret_query()),
                auth() + [("X-Big-%d" % i, "v" * 1000)
                          for i in range(70)])),
        ]
        for what, want, data in cases:
            r = self.raw_req(p, data, timeout=20)
            self.assertIsNotNone(r, "%s: no response\n%s" % (what, p.tail()))
            self.assertEqual(r.status, want, "%s: %r" % (what, r))
        # Proxy credentials: wrong and missing (407 only when required).
        for hdr in ([("Proxy-Authorization", self.basic(
                "dev", self.sec("wrong-proxy-pass"), "wrong proxy_auth"))],
                    []):
            r = self.raw_req(p, http_request(
                "GET", o.url("/echo?" + self.secret_query()),
                [("Authorization", "Bearer " + self.sec("bearer"))] + hdr))
            self.assertEqual(r.status, 407 if getattr(p, "auth", None)
                             else 200, r)
        # A client that leaves mid-upload, secrets in the sent part.
        c = RawConn(p.port)
        body = ("client_secret=%s&" % self.sec("client_secret")).encode()
        c.send(http_request("POST", o.url("/echo?abort=1"),
                            auth() + [("Content-Length", "100000")]) + body)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          struct.pack("ii", 1, 0))
        c.close()

    def own_pages(self, p):
        """The proxy's pages, asked with secrets; their bodies."""
        out = []
        for path in ("/", "/metrics", "/healthz", "/nope"):
            r = self.raw_req(p, ("GET %s?%s HTTP/1.1\r\nHost: 127.0.0.1:%d"
                                 "\r\n%s\r\n" % (
                                     path, self.secret_query(), p.port,
                                     "".join("%s: %s\r\n" % h for h in
                                             self.proxy_headers(p)))
                                 ).encode())
            self.assertIsNotNone(r, path)
            out.append(("page %s" % path, r.raw_head + r.body))
        return out

    # -- the search --------------------------------------------------------
    def all_needles(self):
        out = dict(self.needles)
        for s in self.gh.secrets_used():
            if len(s) >= 12:
                out.setdefault(s, "fake GitHub secret/code/token")
        for rec in self.gh.token_requests():
            for n, v in rec.headers:
                if n.lower() == "authorization":
                    out.setdefault(v.split(" ", 1)[-1], "Authorization")
        b = base64.b64encode(("%s:%s" % (self.app.client_id,
                                         self.app.client_secret)).encode())
        out.setdefault(b.decode(), "client Basic credentials")
        # Also the tail of each: a secret logged in part is still a leak.
        for v, kind in list(out.items()):
            if len(v) >= 24:
                out.setdefault(v[-16:], kind + " (last 16 characters)")
        return out

    def search(self, texts):
        needles = self.all_needles()
        leaks = []
        for where, data in texts:
            if isinstance(data, bytes):
                data = data.decode("utf-8", errors="replace")
            for s, kind in needles.items():
                i = data.find(s)
                if i >= 0:
                    line = data[data.rfind("\n", 0, i) + 1:
                                data.find("\n", i)]
                    leaks.append("%s: %s (%s...) in: %s" % (
                        where, kind, s[:6], line[:300]))
        return needles, leaks

    def test_no_secret_in_any_log(self):
        auth_a, auth_b = self.sec("proxy_auth"), self.sec("proxy_auth")
        proxies = [self.proxy,
                   self.new_oauth_proxy(log_format="text", log_level="debug",
                                        name="proxy-text"),
                   self.new_oauth_proxy(config={"proxy_auth": "dev:" +
                                                auth_a},
                                        log_format="json", log_level="debug",
                                        name="proxy-auth-json"),
                   self.new_oauth_proxy(config={"proxy_auth": "dev:" +
                                                auth_b},
                                        log_format="text", log_level="debug",
                                        name="proxy-auth-text")]
        proxies[2].auth, proxies[3].auth = auth_a, auth_b
        pages = []
        for p in proxies:
            self.plain_http(p)
            self.intercepted(p)
            self.connect_paths(p)
            self.error_paths(p)
            pages += [("%s %s" % (p.name, w), d) for w, d in
                      self.own_pages(p)]
            self.assertTrue(p.alive(), p.tail())
        # Let the last exchanges finish and be logged.
        harness.wait_until(lambda: False, 1.0)
        # Not vacuous: access records with masked targets, debug records,
        # oauth-error records, in both formats.
        for p in (proxies[0], proxies[2]):
            recs = p.log_records()
            self.assertTrue(any(r.get("level") == "debug" for r in recs),
                            "no debug records in %s" % p.log_path)
            acc = [r for r in recs if r.get("event") == "access"]
            self.assertGreater(len(acc), 40, p.log_path)
            self.assertTrue(any("code=***" in str(r.get("target"))
                                for r in acc), "no masked target logged")
            self.assertGreaterEqual(len([r for r in recs if r.get("event")
                                         == "oauth-error"]), 3)
        for p in (proxies[1], proxies[3]):
            text = p.stderr_text()
            self.assertIn(" debug ", text)
            self.assertIn("code=***", text)
            self.assertGreaterEqual(text.count(" oauth-error "), 3)
        files = sorted(set(glob.glob(os.path.join(self.tmp, "*.stderr")) +
                           glob.glob(os.path.join(self.tmp, "*.stdout"))))
        self.assertGreaterEqual(len(files), 8, files)
        texts = [(os.path.basename(f), oh.read_bytes(f)) for f in files]
        needles, leaks = self.search(texts + pages)
        self.assertGreater(len(needles), 300)
        self.assertEqual(leaks, [], "%d secrets in the proxies' output:\n%s"
                         % (len(leaks), "\n".join(leaks[:40])))

    def test_percent_encoded_names_masked(self):
        """RFC 3986 2.3: a name with an unreserved character percent-
        encoded is the same name (client%5Fsecret is client_secret to
        every server that decodes the query); its value is masked too."""
        o = self.origin
        names = ["client%5Fsecret", "client%5fsecret", "%63ode",
                 "access%5Ftoken", "refresh%5Ftoken", "%63%6F%64%65"]
        for n in names:
            r = self.raw_req(self.proxy, http_request(
                "GET", o.url("/echo?a=1&%s=%s" % (n, self.sec(n)))))
            self.assertEqual(r.status, 200, r)
        harness.wait_until(lambda: False, 0.5)
        _, leaks = self.search([("proxy.stderr", self.proxy.stderr_text())])
        self.assertEqual(leaks, [], "%d secrets under percent-encoded "
                         "names logged:\n%s" % (len(leaks),
                                                "\n".join(leaks)))

    # -- certificates ------------------------------------------------------
    def test_certs_dir_holds_only_the_ca(self):
        # Intercept something first, so that leaves were minted.
        for _ in range(2):
            r = self.curl_token(self.params(self.fresh_code()))
            self.assertEqual((r.rc, r.status), (0, 200), r)
        key = os.path.join(self.certs, "ca-key.pem")
        mode = stat.S_IMODE(os.stat(key).st_mode)
        self.assertEqual(mode, 0o600, "ca-key.pem has mode %04o" % mode)
        found = set()
        for root, dirs, files in os.walk(self.certs):
            for f in files + dirs:
                found.add(os.path.relpath(os.path.join(root, f),
                                          self.certs))
        self.assertEqual(found - CERT_FILES, set(), "files other than the "
                         "CA's under --certs")
        for f in found & CERT_FILES - {"ca-key.pem", "php"}:
            data = oh.read_bytes(os.path.join(self.certs, f))
            self.assertNotIn(b"PRIVATE KEY", data, "a private key in %s" % f)
        # The Java store is DER: ask OpenSSL for its keys (none).
        r = oh.openssl("pkcs12", "-in", os.path.join(
            self.certs, "java-truststore.p12"), "-passin", "pass:changeit",
            "-nocerts", "-nodes")
        self.assertNotIn(b"PRIVATE KEY", r.stdout, "a private key in the "
                         "Java trust store")
        # The served leaf's key is not the CA key (the one key on disk).
        pub = oh.openssl("pkey", "-in", key, "-pubout").stdout
        rc, out, certs = oh.s_client(self.proxy.port, "github.com",
                                     cafile=self.ca_pem)
        self.assertTrue(certs, out)
        leaf = os.path.join(self.tmp, "served-leaf.pem")
        with open(leaf, "w") as f:
            f.write(certs[0])
        leaf_pub = oh.openssl("x509", "-in", leaf, "-noout",
                              "-pubkey").stdout
        self.assertNotEqual(pub, leaf_pub)

    def test_ca_key_readable_by_others_refused(self):
        d = os.path.join(self.tmp, "certs-open")
        shutil.copytree(self.certs, d)
        os.chmod(os.path.join(d, "ca-key.pem"), 0o644)
        p = harness.Proxy(self.tmp, self.proxy_config_for(),
                          self.base_args(certs=d), name="proxy-open-key")
        try:
            p.start(timeout=5)
        except harness.ProxyError:
            pass
        else:
            p.stop(check=False)
            self.fail("the proxy started with a CA key of mode 0644")
        text = p.stderr_text()
        self.assertIn("chmod 600", text)
        self.assertIn("ca-key.pem", text)


if __name__ == "__main__":
    oh.main()
