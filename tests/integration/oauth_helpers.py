"""Machinery for the OAuth annotation and TLS interception tests
(tests/integration/test_oauth_*.py), on top of harness.py.

  sfv_parse_list(value)      an RFC 9651 List parser (Token, String,
                             Display String, Integer, Decimal, Boolean,
                             Byte Sequence, Date, Inner List, parameters);
  display_string(s)          the canonical RFC 9651 serialisation of a
                             Display String;
  load_catalog()             conf/messages.json as the proxy reads it
                             (never hard-code hint texts in tests);
  GitHubCA(dir)              the test CA plus certificates for github.com
                             and any other name, and a second, unknown CA;
  FakeGitHub                 tests/servers/fake_github.py;
  OAuthTestCase              a fake GitHub over TLS (github.com:443) and
                             over plain HTTP (github.com:80) sharing one
                             registry, and the proxy pointed at them with
                             --resolve, --upstream-ca and --certs;
  clients: curl_token, requests_token (requests-oauthlib), node_exchange
  (@octokit/oauth-methods through undici's ProxyAgent);
  assertions: assert_annotated, assert_untouched, assert_no_secrets.

Environment: as harness.py; OAUTHLENS_TEST_MESSAGES=FILE makes the proxy
(through the "messages" config key) and the tests use another catalog.
"""

import base64
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import unittest

import harness
from harness import SRC, SLOW, clean_env, wait_until

from fake_github import FakeGitHub, Registry, ERRORS  # noqa: F401

TOKEN_PATH = "/login/oauth/access_token"
TOKEN_URL = "https://github.com" + TOKEN_PATH
TOKEN_URL_PLAIN = "http://github.com" + TOKEN_PATH
CALLBACK = "http://localhost:3000/callback"
WRONG_REDIRECT = "http://localhost:3000/elsewhere"
HEADER = "OAuth-Troubleshooting"
ANNOTATED = ("incorrect_client_credentials", "redirect_uri_mismatch",
             "bad_verification_code")
NODE_DIR = os.path.join(SRC, "tests", "node")

# Response fields that belong to the hop or to the message framing: the
# proxy may add, drop or change them (re-framing a held body with
# Content-Length, for one). Every other origin field must arrive as sent.
FRAMING = ("content-length", "transfer-encoding", "connection", "keep-alive",
           "proxy-connection", "te", "trailer", "upgrade")


# -- RFC 9651 structured field values ---------------------------------------

class SFVError(ValueError):
    pass


class Token(str):
    """An sf-token (distinct from sf-string)."""

    def __repr__(self):
        return "Token(%s)" % str.__repr__(self)


class DisplayString(str):
    """An sf-displaystring, decoded to text."""

    def __repr__(self):
        return "DisplayString(%s)" % str.__repr__(self)


class Date(int):
    pass


_LCALPHA = "abcdefghijklmnopqrstuvwxyz"
_ALPHA = _LCALPHA + _LCALPHA.upper()
_DIGIT = "0123456789"
_TCHAR = "!#$%&'*+-.^_`|~" + _ALPHA + _DIGIT
_LCHEX = "0123456789abcdef"


class _Parser:
    def __init__(self, s):
        if not isinstance(s, str):
            s = s.decode("latin-1")
        for ch in s:
            if not 0x20 <= ord(ch) <= 0x7e and ch != "\t":
                raise SFVError("non-ASCII or control character %r" % ch)
        self.s = s
        self.i = 0

    def peek(self):
        return self.s[self.i] if self.i < len(self.s) else ""

    def take(self):
        c = self.peek()
        if not c:
            raise SFVError("unexpected end of input")
        self.i += 1
        return c

    def skip_sp(self):
        while self.peek() == " ":
            self.i += 1

    def skip_ows(self):
        while self.peek() in (" ", "\t") and self.peek():
            self.i += 1

    def fail(self, what):
        raise SFVError("%s at offset %d of %r" % (what, self.i, self.s))

    # 4.2.1
    def list(self):
        members = []
        self.skip_sp()
        while self.i < len(self.s):
            members.append(self.item_or_inner_list())
            self.skip_ows()
            if self.i >= len(self.s):
                return members
            if self.take() != ",":
                self.fail("expected ','")
            self.skip_ows()
            if self.i >= len(self.s):
                self.fail("trailing comma")
        return members

    def item_or_inner_list(self):
        if self.peek() == "(":
            return self.inner_list()
        return self.item()

    def inner_list(self):
        self.take()
        items = []
        while self.i < len(self.s):
            self.skip_sp()
            if self.peek() == ")":
                self.take()
                return (items, self.parameters())
            items.append(self.item())
            if self.peek() not in (" ", ")"):
                self.fail("bad inner list")
        self.fail("unterminated inner list")

    # 4.2.3
    def item(self):
        v = self.bare_item()
        return (v, self.parameters())

    def bare_item(self):
        c = self.peek()
        if c == "-" or c in _DIGIT:
            return self.number()
        if c == '"':
            return self.string()
        if c == "*" or c in _ALPHA:
            return self.token()
        if c == ":":
            return self.byte_sequence()
        if c == "?":
            return self.boolean()
        if c == "@":
            self.take()
            n = self.number()
            if not isinstance(n, int):
                self.fail("date must be an integer")
            return Date(n)
        if c == "%":
            return self.display_string()
        self.fail("unrecognised bare item")

    def parameters(self):
        params = {}
        while self.peek() == ";":
            self.take()
            self.skip_sp()
            k = self.key()
            v = True
            if self.peek() == "=":
                self.take()
                v = self.bare_item()
            params[k] = v
        return params

    def key(self):
        c = self.peek()
        if not c or (c not in _LCALPHA and c != "*"):
            self.fail("bad key")
        out = ""
        while self.peek() and (self.peek() in _LCALPHA + _DIGIT + "_-.*"):
            out += self.take()
        return out

    def number(self):
        neg = False
        if self.peek() == "-":
            self.take()
            neg = True
        if not self.peek() or self.peek() not in _DIGIT:
            self.fail("expected a digit")
        num = ""
        dec = False
        while self.peek() and (self.peek() in _DIGIT or
                               (self.peek() == "." and not dec)):
            c = self.take()
            if c == ".":
                if len(num) > 12:
                    self.fail("decimal integer part too long")
                dec = True
            num += c
            if not dec and len(num) > 15:
                self.fail("integer too long")
            if dec and len(num) > 16:
                self.fail("decimal too long")
        if dec:
            if num.endswith("."):
                self.fail("decimal ends with '.'")
            if len(num.split(".")[1]) > 3:
                self.fail("more than 3 fractional digits")
            v = float(num)
        else:
            v = int(num)
        return -v if neg else v

    def string(self):
        self.take()
        out = []
        while True:
            c = self.take()
            if c == "\\":
                n = self.take()
                if n not in ('"', "\\"):
                    self.fail("bad escape")
                out.append(n)
            elif c == '"':
                return "".join(out)
            elif not 0x20 <= ord(c) <= 0x7e:
                self.fail("bad string character")
            else:
                out.append(c)

    def token(self):
        out = self.take()
        while self.peek() and self.peek() in _TCHAR + ":/":
            out += self.take()
        return Token(out)

    def byte_sequence(self):
        self.take()
        j = self.s.find(":", self.i)
        if j < 0:
            self.fail("unterminated byte sequence")
        b = self.s[self.i:j]
        self.i = j + 1
        try:
            return base64.b64decode(b, validate=True)
        except ValueError:
            self.fail("bad base64")

    def boolean(self):
        self.take()
        c = self.take()
        if c not in "01":
            self.fail("bad boolean")
        return c == "1"

    def display_string(self):
        self.take()
        if self.take() != '"':
            self.fail("expected '\"' after '%'")
        buf = bytearray()
        while True:
            c = self.take()
            if not 0x20 <= ord(c) <= 0x7e:
                self.fail("bad display string character")
            if c == "%":
                h = self.take() + self.take()
                if any(x not in _LCHEX for x in h):
                    self.fail("percent-encoding %r is not lowercase hex" % h)
                buf.append(int(h, 16))
            elif c == '"':
                try:
                    return DisplayString(buf.decode("utf-8"))
                except UnicodeDecodeError as e:
                    raise SFVError("display string is not UTF-8: %s" % e)
            else:
                buf.append(ord(c))


def sfv_parse_list(value):
    """Parse an RFC 9651 List: [(bare item, {param: value}), ...]; inner
    lists are ([(item, params)...], params). Raises SFVError."""
    p = _Parser(value)
    out = p.list()
    p.skip_sp()
    if p.i != len(p.s):
        p.fail("trailing characters")
    return out


def display_string(text):
    """The RFC 9651 serialisation of a Display String: %"...", with %, "
    and every byte outside 0x20-0x7e as lowercase %xx."""
    out = ['%"']
    for b in text.encode("utf-8"):
        if b in (0x25, 0x22) or not 0x20 <= b <= 0x7e:
            out.append("%%%02x" % b)
        else:
            out.append(chr(b))
    out.append('"')
    return "".join(out)


def sf_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- the hint catalog --------------------------------------------------------

def catalog_path():
    return os.environ.get("OAUTHLENS_TEST_MESSAGES") or \
        os.path.join(SRC, "conf", "messages.json")


def load_catalog():
    """{code: {lang: {title, hint, doc}}}, read now (the file is the
    proxy's; tests never carry their own hint texts)."""
    with open(catalog_path(), encoding="utf-8") as f:
        return json.load(f)


# -- certificates -------------------------------------------------------------

def openssl(*args, cwd=None, input=None, timeout=60, check=True):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, input=input,
                       capture_output=True, timeout=timeout)
    if check and r.returncode:
        raise RuntimeError("openssl %s failed: %s" % (
            " ".join(args[:2]), r.stderr.decode(errors="replace")))
    return r


class GitHubCA(harness.TestCA):
    """harness.TestCA (testca.pem: the CA given to --upstream-ca) plus
    leaf certificates for any DNS name (github.com by default), and a
    second CA (othca.pem) the proxy does not know."""

    def __init__(self, d):
        super().__init__(d)
        self.other_ca = os.path.join(d, "otherca.pem")
        self.other_ca_key = os.path.join(d, "otherca-key.pem")
        self._run("req", "-x509", "-newkey", "ec",
                  "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                  "-keyout", self.other_ca_key, "-out", self.other_ca,
                  "-days", "2", "-subj", "/CN=oauthlens test unknown CA",
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.github = self.leaf("github.com")

    def leaf(self, name, sans=None, other_ca=False):
        """(cert, key) for DNS name `name` (SANs: `sans` or just name),
        signed by the test CA or (other_ca) by the unknown one."""
        tag = "%s%s" % (name.replace("*", "_"), "-other" if other_ca else "")
        cert = os.path.join(self.dir, "leaf-%s.pem" % tag)
        key = os.path.join(self.dir, "leaf-%s-key.pem" % tag)
        csr = os.path.join(self.dir, "leaf-%s.csr" % tag)
        ext = os.path.join(self.dir, "leaf-%s.ext" % tag)
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectAltName=%s\n" % ",".join(
                        "DNS:" + n for n in (sans or [name])))
        self._run("req", "-new", "-newkey", "ec",
                  "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                  "-keyout", key, "-out", csr, "-subj", "/CN=%s" % name)
        ca, ca_key = (self.other_ca, self.other_ca_key) if other_ca else \
            (self.ca, self.ca_key)
        self._run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
                  "-CAcreateserial", "-days", "2", "-extfile", ext,
                  "-out", cert)
        return cert, key


def read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def pem_certs(text):
    """Every PEM certificate block in text, in order."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    return re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----"
                      r"\n?", text, re.S)


def cert_info(pem, tmpdir):
    """{'serial', 'subject', 'issuer', 'san', 'not_before', 'not_after',
    'text', 'fingerprint'} of one PEM certificate (via openssl x509)."""
    path = os.path.join(tmpdir, "cert-%d.pem" % time.monotonic_ns())
    with open(path, "w") as f:
        f.write(pem)
    try:
        r = openssl("x509", "-in", path, "-noout", "-serial", "-subject",
                    "-issuer", "-startdate", "-enddate", "-fingerprint",
                    "-sha256", "-nameopt", "RFC2253", "-text")
        out = r.stdout.decode()
        info = {"text": out}
        for line in out.splitlines():
            k, _, v = line.partition("=")
            if k == "serial":
                info["serial"] = v.strip()
            elif k == "subject":
                info["subject"] = v.strip()
            elif k == "issuer":
                info["issuer"] = v.strip()
            elif k == "notBefore":
                info["not_before"] = v.strip()
            elif k == "notAfter":
                info["not_after"] = v.strip()
            elif k.lower().startswith("sha256 fingerprint"):
                info["fingerprint"] = v.strip()
        m = re.search(r"X509v3 Subject Alternative Name:.*?\n\s*(.+)\n", out)
        info["san"] = m.group(1).strip() if m else ""
        return info
    finally:
        os.unlink(path)


def s_client(proxy_port, host, port=443, servername=None, cafile=None,
             timeout=10):
    """openssl s_client through the proxy's CONNECT: (returncode, stdout
    text, [PEM certs the server sent]). (OpenSSL 3.0's s_client spins
    when the proxy closes the CONNECT without an answer: the timeout
    bounds that.)"""
    args = ["s_client", "-proxy", "127.0.0.1:%d" % proxy_port,
            "-connect", "%s:%d" % (host, port),
            "-servername", servername or host, "-showcerts"]
    if cafile:
        args += ["-CAfile", cafile, "-verify_return_error"]
    try:
        r = openssl(*args, input=b"", timeout=timeout * SLOW, check=False)
    except subprocess.TimeoutExpired as e:
        return None, "openssl s_client did not finish within %gs: %s" % (
            timeout * SLOW, (e.stdout or b"")[-2000:].decode(
                errors="replace")), []
    out = r.stdout.decode(errors="replace")
    return r.returncode, out + r.stderr.decode(errors="replace"), \
        pem_certs(out)


# -- the test base class ---------------------------------------------------------

# Causes said in more than one sentence (proxy/diag.c, cause_keys): the
# catalog's keys for each.
SENTENCE_KEYS = {"code_reused": ("code_reused", "code_reused_overlap")}


class OAuthTestCase(harness.ProxyTestCase):
    """A fake GitHub reachable, for the proxy, as github.com:443 (TLS, a
    certificate from the test CA) and github.com:80 (plain HTTP), with
    one registered OAuth app (cls.app, callback CALLBACK); the proxy runs
    with --certs <tmp>/certs --upstream-ca <testca> and the two --resolve
    mappings, plus cls.extra_args (computed by extra_proxy_args(cls))."""

    proxy_config = {}
    extra_args = []

    @classmethod
    def proxy_setup(cls):
        cls.gca = GitHubCA(cls.tmp)
        cls.registry = Registry()
        cls.gh = FakeGitHub(tls=cls.gca.github, registry=cls.registry)
        cls.gh.start()
        cls.gh_plain = FakeGitHub(registry=cls.registry).start()
        cls._fakes = [cls.gh, cls.gh_plain]
        cls.app = cls.gh.add_app(callback=CALLBACK)
        cls.certs = os.path.join(cls.tmp, "certs")
        cls.ca_pem = os.path.join(cls.certs, "ca.pem")
        cls.ca_bundle = os.path.join(cls.certs, "ca-bundle.pem")
        cls.catalog = load_catalog()
        return cls.proxy_config_for(), cls.base_args() + \
            list(cls.extra_proxy_args())

    @classmethod
    def proxy_config_for(cls, overrides=None):
        cfg = dict(cls.proxy_config)
        if os.environ.get("OAUTHLENS_TEST_MESSAGES"):
            cfg["messages"] = catalog_path()
        cfg.update(overrides or {})
        return cfg

    @classmethod
    def base_args(cls, certs=None):
        return ["--certs", certs or cls.certs,
                "--upstream-ca", cls.gca.ca,
                "--resolve", "github.com:443:127.0.0.1:%d" % cls.gh.port,
                "--resolve", "github.com:80:127.0.0.1:%d" %
                cls.gh_plain.port]

    @classmethod
    def extra_proxy_args(cls):
        return cls.extra_args

    @classmethod
    def _teardown_origins(cls):
        for f in getattr(cls, "_fakes", []):
            f.stop()
        super()._teardown_origins()

    def add_fake(self, **kw):
        """Another FakeGitHub (for example with a certificate for another
        name), stopped by cleanup."""
        f = FakeGitHub(**kw).start()
        self.addCleanup(f.stop)
        return f

    def new_oauth_proxy(self, extra=(), config=None, certs=None, **kw):
        """A second proxy for this test with the base arguments."""
        return self.new_proxy(self.proxy_config_for(config),
                              self.base_args(certs) + list(extra), **kw)

    # -- codes and records --------------------------------------------------
    def fresh_code(self, redirect_uri=None, scope="repo,gist", age=0):
        return self.gh.issue_code(self.app.client_id, redirect_uri, scope,
                                  age)

    def authorize_code(self, redirect_uri=CALLBACK, state="xyz",
                       proxy=None, client_id=None):
        """A code obtained the way a browser does: GET /login/oauth/
        authorize through the proxy (curl); the code is in the 302's
        Location, which is not followed."""
        import urllib.parse
        q = urllib.parse.urlencode({"client_id": client_id or
                                    self.app.client_id,
                                    "redirect_uri": redirect_uri,
                                    "scope": "repo,gist", "state": state})
        r = harness.curl("https://github.com/login/oauth/authorize?" + q,
                         proxy or self.proxy, ["--cacert", self.ca_pem],
                         timeout=30, tmpdir=self.tmp)
        self.assertEqual((r.rc, r.status), (0, 302), "%r\n%s" %
                         (r, self.proxy.tail()))
        loc = urllib.parse.urlsplit(r.header("Location"))
        params = dict(urllib.parse.parse_qsl(loc.query))
        self.assertEqual(params.get("state"), state)
        self.assertIn("code", params, r.header("Location"))
        return params["code"]

    def records_since(self, n):
        return self.gh.token_requests()[n:]

    def one_record_since(self, n):
        recs = self.records_since(n)
        self.assertEqual(len(recs), 1, "expected one token request at the "
                         "fake GitHub, got %d" % len(recs))
        return recs[0]

    # -- clients ---------------------------------------------------------------
    def curl_token(self, params, accept=None, args=(), proxy=None,
                   plain=False, auth=None, headers=(), cacert=None):
        """POST the token endpoint with curl through the proxy. params:
        list of (name, value), form-encoded in the body; auth: (id,
        secret) for HTTP Basic. Returns harness.CurlResult."""
        a = []
        if not plain:
            a += ["--cacert", cacert or self.ca_pem]
        for k, v in params:
            a += ["--data-urlencode", "%s=%s" % (k, v)]
        if accept:
            a += ["-H", "Accept: " + accept]
        for h in headers:
            a += ["-H", h]
        if auth:
            a += ["-u", "%s:%s" % auth]
        a += list(args)
        return harness.curl(TOKEN_URL_PLAIN if plain else TOKEN_URL,
                            proxy or self.proxy, a, timeout=30,
                            tmpdir=self.tmp)

    def intercepted_conn(self, host="github.com", proxy=None, cafile=None,
                         timeout=20):
        """A harness.RawConn through CONNECT host:443 and TLS on top
        (verified against the proxy's CA, SNI host): send origin-form
        requests and read_response() on it."""
        import ssl
        c = self.raw(timeout=timeout, proxy=proxy)
        c.send("CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n" %
               (host, host))
        r = c.read_response("CONNECT")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(c.buf, b"")
        ctx = ssl.create_default_context(cafile=cafile or self.ca_pem)
        c.sock = ctx.wrap_socket(c.sock, server_hostname=host)
        return c

    @staticmethod
    def token_request(params, accept=None, headers=(), target=TOKEN_PATH,
                      host="github.com", body=None):
        """Bytes of a token POST (origin-form unless target is absolute);
        params form-encoded in the body."""
        import urllib.parse
        if body is None:
            body = urllib.parse.urlencode(params).encode()
        lines = ["POST %s HTTP/1.1" % target, "Host: %s" % host,
                 "User-Agent: oauthlens-test", "Content-Type: "
                 "application/x-www-form-urlencoded",
                 "Content-Length: %d" % len(body)]
        if accept:
            lines.append("Accept: " + accept)
        lines += list(headers)
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def params(self, code, secret=None, redirect_uri=CALLBACK,
               client_id=None):
        p = [("client_id", client_id or self.app.client_id),
             ("client_secret", secret or self.app.client_secret),
             ("code", code)]
        if redirect_uri is not None:
            p.append(("redirect_uri", redirect_uri))
        return p

    def requests_token(self, code, secret=None, redirect_uri=CALLBACK,
                       include_client_id=None, headers=None, proxy=None,
                       verify=None):
        """OAuth2Session.fetch_token through the proxy (CONNECT). Returns
        a RequestsResult: token (or None), error (the exception or None),
        response (the requests.Response the compliance hook saw)."""
        from requests_oauthlib import OAuth2Session
        res = RequestsResult()

        def hook(r):
            res.response = r
            res.headers = _urllib3_header_list(r)
            res.body = r.content
            return r

        s = OAuth2Session(self.app.client_id, redirect_uri=redirect_uri)
        s.trust_env = False
        s.register_compliance_hook("access_token_response", hook)
        url = (proxy or self.proxy).url
        try:
            res.token = s.fetch_token(
                TOKEN_URL, code=code,
                client_secret=secret or self.app.client_secret,
                include_client_id=include_client_id,
                headers=headers, proxies={"https": url, "http": url},
                verify=verify or self.ca_bundle, timeout=30 * SLOW)
        except Exception as e:          # oauthlib raises per error code
            res.error = e
        finally:
            s.close()
        return res

    def node_exchange(self, code, secret=None, redirect_uri=CALLBACK,
                      headers=None, proxy=None, ca=None):
        """exchangeWebFlowCode (tests/node/exchange.mjs) through undici's
        ProxyAgent; the parsed JSON it prints."""
        spec = {"clientId": self.app.client_id,
                "clientSecret": secret or self.app.client_secret,
                "code": code, "proxy": (proxy or self.proxy).url,
                "ca": [ca or self.ca_pem]}
        if redirect_uri is not None:
            spec["redirectUrl"] = redirect_uri
        if headers:
            spec["headers"] = headers
        r = subprocess.run([node_bin(), "exchange.mjs", json.dumps(spec)],
                           cwd=NODE_DIR, capture_output=True,
                           timeout=60 * SLOW, env=clean_env())
        self.assertEqual(r.returncode, 0, "exchange.mjs failed: %s" %
                         r.stderr.decode(errors="replace"))
        try:
            return json.loads(r.stdout)
        except ValueError:
            self.fail("exchange.mjs printed no JSON: %r / %r" %
                      (r.stdout[:500], r.stderr[:500]))

    # -- log records -------------------------------------------------------------
    def oauth_records(self, proxy=None, events=("oauth-error",)):
        return [r for r in (proxy or self.proxy).log_records()
                if r.get("event") in events]

    def mark(self, proxy=None):
        """Where the proxy's log and the fake's record stand now."""
        p = proxy or self.proxy
        return {"log": len(p.log_records()),
                "gh": self.gh.token_request_count, "proxy": p}

    def new_log_records(self, mark, events=("oauth-error",), expect=1,
                        settle=0.1):
        """Records of the given events logged since mark: waits (bounded)
        until `expect` of them are there, then a little longer so that a
        duplicate would be seen."""
        p = mark["proxy"]

        def get():
            return [r for r in p.log_records()[mark["log"]:]
                    if r.get("event") in events]
        if expect:
            wait_until(lambda: len(get()) >= expect, 5 * SLOW)
        time.sleep(settle * SLOW)
        return get()

    # -- assertions -----------------------------------------------------------------
    def assert_headers_kept(self, got, rec, annotated):
        """got: [(name, value)] the client received. Every field the fake
        sent, other than framing, arrived unchanged; nothing was added but
        Via, framing and (when annotated) the annotation header."""
        sent = sorted((n.lower(), v) for n, v in rec.resp_headers
                      if n.lower() not in FRAMING)
        extra_ok = {"via"} | set(FRAMING)
        if annotated:
            extra_ok.add(HEADER.lower())
        recv = sorted((n.lower(), v) for n, v in got
                      if n.lower() not in extra_ok)
        self.assertEqual(recv, sent, "origin header fields changed:\n sent "
                         "%r\n received %r" % (rec.resp_headers, got))
        self.assertTrue(any(n.lower() == "via" for n, _ in got),
                        "no Via header in %r" % (got,))
        ct = [v for n, v in got if n.lower() == "content-type"]
        self.assertEqual(ct, [rec.resp_header("Content-Type")])

    def parse_annotation(self, value):
        try:
            lst = sfv_parse_list(value)
        except SFVError as e:
            self.fail("%s is not a valid RFC 9651 List: %s\n%r" %
                      (HEADER, e, value))
        self.assertEqual(len(lst), 1, "expected one list member: %r" % value)
        item, params = lst[0]
        self.assertIsInstance(item, Token, "item is not a Token: %r" % value)
        return item, params

    def cause_regex(self, cause, lang):
        """The catalog's sentence for a diagnosed cause as a regular
        expression ({placeholder} matches any text: a cancelled flow's code
        may be empty)."""
        causes = self.catalog.get("_causes", {})
        self.assertIn(cause, causes, "cause %r is not in the catalog's "
                      "_causes" % cause)
        alts = []
        for key in SENTENCE_KEYS.get(cause, (cause,)):
            parts = re.split(r"\{[a-z_]+\}", causes[key][lang])
            alts.append("".join(re.escape(p) + "(?:.*?)"
                                for p in parts[:-1]) + re.escape(parts[-1]))
        return "(?:%s)" % "|".join(alts)

    def assert_annotation_value(self, value, code, lang):
        """The header value is `code;lang=..;hint=%"..";doc=".."` (and
        maybe `;cause=token`): the hint is the catalog's hint for code and
        lang, preceded, when a cause was diagnosed, by the catalog's
        sentence for that cause. Returns (params, cause, diagnosis)."""
        item, params = self.parse_annotation(value)
        entry = self.catalog[code][lang]
        self.assertEqual(item, code)
        self.assertEqual(params.get("lang"), lang, value)
        self.assertIsInstance(params.get("lang"), Token,
                              "lang is not a Token: %r" % value)
        hint = params.get("hint")
        self.assertIsInstance(hint, DisplayString,
                              "hint is not a Display String: %r" % value)
        cause = params.get("cause")
        diagnosis = None
        if cause is None:
            self.assertEqual(hint, entry["hint"], "hint is not the "
                             "catalog's %s hint for %s" % (lang, code))
        else:
            self.assertIsInstance(cause, Token, value)
            self.assertTrue(hint.endswith(entry["hint"]), "hint does not "
                            "end with the catalog's %s hint for %s: %r" %
                            (lang, code, hint))
            diagnosis = hint[:len(hint) - len(entry["hint"])].rstrip()
            self.assertRegex(diagnosis, "^" + self.cause_regex(cause, lang)
                             + "$", "the diagnosis is not the catalog's "
                             "sentence for cause %s" % cause)
        self.assertIsInstance(params.get("doc"), str)
        self.assertNotIsInstance(params.get("doc"), (Token, DisplayString),
                                 "doc is not a String: %r" % value)
        self.assertEqual(params["doc"], entry["doc"])
        # Canonical serialisation: exactly %, " and bytes outside
        # 0x20-0x7e encoded, in lowercase.
        self.assertIn(";hint=" + display_string(hint), value)
        self.assertIn(";doc=" + sf_string(entry["doc"]), value)
        self.assertTrue(value.startswith(code + ";"), value)
        return params, cause, diagnosis

    def assert_log_record(self, mark, code, lang, client_id, redirect_uri,
                          host="github.com", cause=None, diagnosis=None):
        recs = self.new_log_records(mark)
        self.assertEqual(len(recs), 1, "expected exactly one oauth-error "
                         "record, got %d: %r\n%s" %
                         (len(recs), recs, mark["proxy"].tail()))
        r = recs[0]
        entry = self.catalog[code][lang]
        self.assertEqual(r.get("level"), "warn", r)
        self.assertEqual(r.get("error"), code, r)
        self.assertEqual(r.get("lang"), lang, r)
        self.assertEqual(r.get("host"), host, r)
        for k in ("ts", "req", "client"):
            self.assertIn(k, r)
        self.assertTrue(str(r["client"]).startswith("127.0.0.1:"), r)
        self.assertEqual(r.get("client_id"), client_id,
                         "client_id in the log record: %r" % r)
        self.assertEqual(r.get("redirect_uri"), redirect_uri,
                         "redirect_uri in the log record: %r" % r)
        self.assertEqual(r.get("title"), entry["title"], r)
        self.assertEqual(r.get("hint"), entry["hint"], r)
        self.assertEqual(r.get("doc"), entry["doc"], r)
        # The same diagnosis as the header's, or none in either.
        self.assertEqual(r.get("cause"), cause, r)
        self.assertEqual(r.get("diagnosis"), diagnosis, r)
        self.assert_no_secrets(json.dumps(r, ensure_ascii=False),
                               "the oauth-error record")
        return r

    def assert_annotated(self, got_headers, body, rec, code, lang="ja",
                         mark=None, client_id=None, redirect_uri=CALLBACK,
                         body_is_raw=True, cause=Ellipsis):
        """The client got the fake's error response with the annotation:
        one header that decodes to the catalog's entry, the body byte for
        byte, every origin header kept; and (mark given) the proxy logged
        exactly one matching record. cause: the diagnosed cause expected
        (None: none); by default any the catalog knows, or none.
        Returns the cause."""
        self.assertEqual(rec.outcome, code, "the fake answered %s" %
                         rec.outcome)
        vals = [v for n, v in got_headers if n.lower() == HEADER.lower()]
        self.assertEqual(len(vals), 1, "expected one %s header, got %r\n%s"
                         % (HEADER, got_headers, self.proxy.tail()))
        _, got_cause, diagnosis = self.assert_annotation_value(vals[0], code,
                                                               lang)
        if cause is not Ellipsis:
            self.assertEqual(got_cause, cause, "diagnosed cause")
        self.assert_body(body, rec, body_is_raw)
        self.assert_headers_kept(got_headers, rec, annotated=True)
        if mark is not None:
            self.assert_log_record(mark, code, lang,
                                   client_id or self.app.client_id,
                                   redirect_uri, cause=got_cause,
                                   diagnosis=diagnosis)
        return got_cause

    def assert_body(self, body, rec, raw=True):
        want = rec.resp_body if raw else rec.resp_plain
        self.assertEqual(hashlib.sha256(body).hexdigest(),
                         hashlib.sha256(want).hexdigest(),
                         "body differs from what the origin sent:\n got "
                         "%r\n sent %r" % (body[:300], want[:300]))

    def assert_untouched(self, got_headers, body, rec, mark=None,
                         body_is_raw=True, events=("oauth-error",)):
        """No annotation header, body and header fields as the fake sent
        them; (mark given) no record of `events` since."""
        vals = [v for n, v in got_headers if n.lower() == HEADER.lower()]
        self.assertEqual(vals, [], "unexpected %s header" % HEADER)
        self.assert_body(body, rec, body_is_raw)
        self.assert_headers_kept(got_headers, rec, annotated=False)
        if mark is not None and events:
            recs = self.new_log_records(mark, events=events, expect=0)
            self.assertEqual(recs, [], "unexpected log records")

    def all_secrets(self):
        """Secret values the fake knows of, long enough to be meaningful
        needles (a test may send code=1)."""
        return [s for s in self.gh.secrets_used() if len(s) >= 12]

    def assert_no_secrets(self, text, where):
        for s in self.all_secrets():
            self.assertNotIn(s, text, "a secret (%s...) appears in %s" %
                             (s[:6], where))


class RequestsResult:
    def __init__(self):
        self.token = None
        self.error = None
        self.response = None
        self.headers = []
        self.body = b""

    def __repr__(self):
        return "<RequestsResult token=%r error=%r headers=%r body=%r>" % (
            self.token and sorted(self.token), self.error, self.headers,
            self.body[:200])


def _urllib3_header_list(r):
    """[(name, value)] as received, duplicates kept."""
    h = r.raw.headers if r.raw is not None else None
    if h is not None and hasattr(h, "iteritems"):
        return list(h.iteritems())
    if h is not None:
        return list(h.items())
    return list(r.headers.items())


# -- node ----------------------------------------------------------------------

def node_bin():
    return shutil.which("node") or shutil.which("nodejs")


def ensure_node_clients():
    """Run tests/node/install.sh (under a lock: several test files may
    ask at once); raise SkipTest when node is absent."""
    if node_bin() is None:
        raise unittest.SkipTest("node is not installed: the Node client "
                                "(@octokit/oauth-methods) tests are skipped")
    lock = os.path.join(NODE_DIR, ".install.lock")
    with open(lock, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        r = subprocess.run(["sh", os.path.join(NODE_DIR, "install.sh")],
                           capture_output=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError("tests/node/install.sh failed (%d): %s" % (
            r.returncode, r.stderr.decode(errors="replace")[-2000:]))


def node_headers(d):
    """An octokit headers object as [(name, value)]."""
    return [(k, str(v)) for k, v in (d or {}).items()]


def fetch_headers(f):
    return [(k, v) for k, v in f.get("headers", [])]


def main():
    harness.main()
