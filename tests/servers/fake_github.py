#!/usr/bin/python3
"""A fake GitHub OAuth server for oauthlens's integration tests.

Python standard library only: one thread per connection, HTTP/1.1
keep-alive, plain or TLS. It answers the token endpoint exactly as GitHub
does (see ../shared/GITHUB-FACTS.md): status 200 for errors too, the body
format chosen by Accept (form-urlencoded by default, application/json,
application/xml), GitHub's exact error descriptions and error_uri values.

As a module:
    gh = FakeGitHub(tls=(cert, key)).start()
    app = gh.add_app()                          # a registered OAuth app
    code = gh.issue_code(app.client_id)         # a fresh authorization code
    ... gh.port, gh.token_requests(), gh.last_token_request() ...
    gh.stop()

As a script:
    python3 tests/servers/fake_github.py --port 0 [--tls CERT KEY] \\
        [--app CLIENT_ID:SECRET:CALLBACK]... [--ready-file F]
prints the bound port on stdout (and writes it to F) and serves until
SIGTERM or SIGINT.

Endpoints:
  POST /login/oauth/access_token
        Parameters from the query string and the body (form-urlencoded or
        JSON, as GitHub accepts both; the body wins). Client credentials
        from the body or HTTP Basic (RFC 6749 2.3.1: form-encoded, then
        base64). Checks, in order: client_id known and client_secret right
        (incorrect_client_credentials); a redirect_uri that breaks the
        callback rule (redirect_uri_mismatch); the code known, unused,
        younger than 10 minutes and issued to this client_id
        (bad_verification_code); a redirect_uri other than the one the
        code was issued for (redirect_uri_mismatch). On success the code is
        spent and the answer is access_token=gho_...&scope=...&
        token_type=bearer in the format asked for.
        grant_type=refresh_token (a GitHub App with expiring user tokens,
        add_app(expiring=True)): a known unused refresh token gets a new
        access token and a new refresh token, and stops working
        (rotation); else bad_refresh_token. A code issued with an S256
        code_challenge needs the matching code_verifier, else
        bad_verification_code (assumed: GitHub documents no error code
        for it).
  GET  /login/oauth/authorize?client_id=&redirect_uri=&scope=&state=
        302 to the redirect URI with ?code=&state= (no login page: the
        user always approves, unless __deny=1: then ?error=access_denied,
        as when the user cancels); an unknown client_id is 404; a bad
        redirect_uri redirects to the registered callback with
        error=redirect_uri_mismatch, as GitHub does.
  GET|POST /__issue?client_id=&redirect_uri=&scope=&age=SECONDS
        mint a code directly (age backdates it: age=601 is expired);
        JSON {"code": ...}.
  POST /__control   JSON body: set the response variant (see Variant) for
        the following token responses: {"chunked": true, "encoding":
        "gzip"|"deflate"|null, "force_error": "code"|null, "oversize":
        BYTES|0, "count": N (only the next N token responses; default: until
        changed)}; {} resets. Answers the variant now in force.
  GET  /__log       JSON: every token request as recorded (see
        TokenRecord.summary()).
  GET  /zen, GET /  a line of text (for tunnel tests).
  Anything else, and any method but POST on the token endpoint: 404 "Not
  Found" (GitHub's answer to a GET there is observed; GitHub Enterprise
  Server's answer to /api/v3/login/oauth/access_token is assumed alike).
Per-request query flags on the token endpoint override the variant:
  __chunked=1, __encoding=gzip|deflate, __error=CODE, __oversize=BYTES;
  __hold=NAME holds a success answer, after the code (or refresh token) is
  spent, until gh.release(NAME) (at most 30 s): GitHub spends a code when
  it decides, so a second exchange of it that overlaps a slow first one
  fails at once (the overlapping double exchange of a handler that runs
  twice, two refreshes racing).

Every token request is recorded with what it received (headers, body,
parameters, Accept-Encoding) and exactly what was sent back (status,
header list, body bytes as put on the wire before chunking, their
sha256), so a test can compare what its client got through the proxy
byte for byte.
"""

import argparse
import base64
import gzip
import hashlib
import json
import secrets
import string
import sys
import threading
import time
import urllib.parse
import zlib
from email.utils import formatdate
from xml.sax.saxutils import escape as xml_escape

from httpcommon import (BadRequest, ThreadedServer, encode_chunked,
                        head_bytes, header_value, keep_alive, q_value,
                        read_chunked, read_exact, read_head,
                        serve_until_signal, server_context)

MAX_BODY = 1 << 20
CODE_TTL = 600          # seconds: GitHub's codes expire after 10 minutes
TOKEN_PATH = "/login/oauth/access_token"
AUTHORIZE_PATH = "/login/oauth/authorize"

DOCS = "https://docs.github.com"
TOKEN_ERRORS_PAGE = DOCS + "/apps/oauth-apps/maintaining-oauth-apps/" \
    "troubleshooting-oauth-app-access-token-request-errors"
AUTHZ_ERRORS_PAGE = DOCS + "/apps/oauth-apps/maintaining-oauth-apps/" \
    "troubleshooting-authorization-request-errors"

# GitHub's exact error descriptions and docs links (GITHUB-FACTS.md).
ERRORS = {
    "incorrect_client_credentials": (
        "The client_id and/or client_secret passed are incorrect.",
        TOKEN_ERRORS_PAGE + "#incorrect-client-credentials"),
    "redirect_uri_mismatch": (
        "The redirect_uri MUST match the registered callback URL for this "
        "application.",
        AUTHZ_ERRORS_PAGE + "#redirect-uri-mismatch2"),
    "bad_verification_code": (
        "The code passed is incorrect or expired.",
        TOKEN_ERRORS_PAGE + "#bad-verification-code"),
    "unverified_user_email": (
        "The user must have a verified primary email.",
        TOKEN_ERRORS_PAGE + "#unverified_user_email"),
    # The code is documented, the wording observed (GITHUB-FACTS.md).
    "bad_refresh_token": (
        "The refresh token passed is incorrect or expired.",
        DOCS + "/apps/creating-github-apps/authenticating-with-a-github-"
        "app/refreshing-user-access-tokens"),
}

REFRESH_GRANT = "refresh_token"

CONTENT_TYPES = {
    "form": "application/x-www-form-urlencoded; charset=utf-8",
    "json": "application/json; charset=utf-8",
    "xml": "application/xml; charset=utf-8",
}

# Irregular chunk sizes for the chunked variant.
CHUNK_CYCLE = (1, 7, 64, 3, 500, 13)

_ALNUM = string.ascii_letters + string.digits


def new_client_id():
    """An OAuth app client ID shaped like GitHub's (Ov23li + 14)."""
    return "Ov23li" + "".join(secrets.choice(_ALNUM) for _ in range(14))


def new_client_secret():
    return secrets.token_hex(20)          # 40 lowercase hex characters


def new_code():
    return secrets.token_hex(10)          # GitHub's codes: 20 hex


def new_access_token(prefix="gho_"):
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(36))


def pkce_s256(verifier):
    """RFC 7636's S256: base64url(SHA-256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(
        verifier.encode()).digest()).decode().rstrip("=")


def accept_format(accept):
    """GitHub's choice of body format from an Accept header value: the
    first of application/json or application/xml named with q > 0, else
    form-urlencoded (GitHub's default, also for */* and no Accept)."""
    if not accept:
        return "form"
    for item in accept.split(","):
        parts = [p.strip() for p in item.split(";")]
        mt = parts[0].lower()
        q = q_value(parts[1:])
        if q <= 0:
            continue
        if mt == "application/json":
            return "json"
        if mt == "application/xml":
            return "xml"
    return "form"


def accepted_codings(value):
    """{coding: q} from an Accept-Encoding value (lower case)."""
    out = {}
    if value is None:
        return out
    for item in value.split(","):
        parts = [p.strip() for p in item.split(";")]
        if not parts[0]:
            continue
        out[parts[0].lower()] = q_value(parts[1:])
    return out


def coding_allowed(accept_encoding, coding):
    c = accepted_codings(accept_encoding)
    if coding in c:
        return c[coding] > 0
    return c.get("*", 0) > 0


def encode_body(fields, fmt):
    """fields: list of (name, value) in GitHub's order."""
    if fmt == "json":
        return json.dumps(dict(fields), separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8")
    if fmt == "xml":
        return ("<OAuth>" + "".join(
            "<%s>%s</%s>" % (k, xml_escape(v), k) for k, v in fields) +
            "</OAuth>").encode("utf-8")
    return urllib.parse.urlencode(fields).encode("utf-8")


def error_fields(code):
    desc, uri = ERRORS.get(code, ("An error occurred.", TOKEN_ERRORS_PAGE))
    return [("error", code), ("error_description", desc), ("error_uri", uri)]


def redirect_allowed(callback, redirect):
    """GitHub's rule for OAuth apps: scheme and host (subdomains allowed)
    and port as in the callback URL, the path the callback's or below it;
    for a loopback callback the port may differ."""
    try:
        cb = urllib.parse.urlsplit(callback)
        rd = urllib.parse.urlsplit(redirect)
        cb_port, rd_port = cb.port, rd.port
    except ValueError:
        return False
    if rd.scheme.lower() != cb.scheme.lower() or not rd.hostname:
        return False
    ch, rh = cb.hostname or "", rd.hostname
    if rh != ch and not rh.endswith("." + ch):
        return False
    # GitHub: the port may differ for loopback IP literals (not for
    # "localhost", which RFC 8252 advises against).
    loopback = ch in ("127.0.0.1", "::1")
    default = {"http": 80, "https": 443}.get(cb.scheme.lower())
    if not loopback and (cb_port or default) != (rd_port or default):
        return False
    cpath = cb.path or "/"
    rpath = rd.path or "/"
    if rpath == cpath:
        return True
    base = cpath if cpath.endswith("/") else cpath + "/"
    return rpath.startswith(base) and ".." not in rpath.split("/")


class App:
    def __init__(self, client_id, client_secret, callback, name="test app",
                 expiring=False):
        self.client_id = client_id
        self.client_secret = client_secret
        self.callback = callback
        self.name = name
        # A GitHub App with expiring user tokens: a refresh token with
        # every access token, rotated on every refresh.
        self.expiring = expiring
        # Refuse a bad redirect_uri with GitHub's own page instead of the
        # redirect to the registered callback.
        self.refuse_page = False

    def __repr__(self):
        return "<App %s callback=%s>" % (self.client_id, self.callback)


class Code:
    def __init__(self, code, client_id, redirect_uri, scope, issued):
        self.code = code
        self.client_id = client_id
        self.redirect_uri = redirect_uri    # as given at authorize, or None
        self.scope = scope
        self.issued = issued
        self.used = False
        self.challenge = None       # PKCE: S256 code_challenge, or None


class Variant:
    """How token responses are sent (not what they say)."""

    def __init__(self, chunked=False, encoding=None, force_error=None,
                 oversize=0, count=None):
        if encoding not in (None, "gzip", "deflate"):
            raise ValueError("encoding must be gzip, deflate or null")
        self.chunked = bool(chunked)
        self.encoding = encoding
        self.force_error = force_error
        self.oversize = int(oversize or 0)
        self.count = count

    def to_json(self):
        return {"chunked": self.chunked, "encoding": self.encoding,
                "force_error": self.force_error, "oversize": self.oversize,
                "count": self.count}


class TokenRecord:
    """One token-endpoint request and exactly what was answered."""

    def __init__(self):
        self.n = 0
        self.conn_id = 0
        self.tls = False
        self.time = 0.0
        self.method = ""
        self.target = ""
        self.headers = []           # as received, in order
        self.body = b""             # request body as received
        self.params = {}            # merged query + body parameters
        self.auth = None            # "basic", "body" or None
        self.client_id = None
        self.client_secret = None
        self.code = None
        self.redirect_uri = None
        self.accept = None
        self.accept_encoding = None  # None when the header was absent
        self.format = "form"
        self.outcome = None         # "success" or the error code
        self.access_token = None
        self.refresh_token = None   # GitHub Apps with expiring tokens
        self.scope = None
        self.variant = None
        self.hold = None            # __hold: the name it waits for
        self.status = 200
        self.resp_headers = []      # (name, value) as sent, in order
        self.resp_body = b""        # payload as sent (after coding, before
        self.resp_plain = b""       # chunking); resp_plain before coding
        self.resp_sha256 = ""
        self.chunked = False
        self.content_encoding = None

    def resp_header(self, name):
        return header_value(self.resp_headers, name)

    def summary(self):
        return {
            "n": self.n, "conn_id": self.conn_id, "tls": self.tls,
            "method": self.method, "target": self.target,
            "headers": self.headers, "params": self.params,
            "auth": self.auth, "client_id": self.client_id,
            "redirect_uri": self.redirect_uri, "accept": self.accept,
            "accept_encoding": self.accept_encoding, "format": self.format,
            "outcome": self.outcome, "status": self.status,
            "resp_headers": self.resp_headers,
            "resp_body_b64": base64.b64encode(self.resp_body).decode(),
            "resp_sha256": self.resp_sha256, "chunked": self.chunked,
            "content_encoding": self.content_encoding,
            "variant": self.variant,
        }


class Registry:
    """What GitHub knows: apps, codes, tokens, and the record of token
    requests. Several FakeGitHub listeners (say, HTTPS on one port and
    plain HTTP on another, as GitHub Enterprise can be) may share one."""

    def __init__(self):
        self.lock = threading.Lock()
        self.apps = {}
        self.codes = {}
        self.tokens = []            # every access token handed out
        self.refresh = {}           # refresh token -> [client_id, used]
        self.holds = {}             # __hold name -> threading.Event
        self.records = []           # TokenRecord, in arrival order
        self.variant = Variant()


class FakeGitHub(ThreadedServer):
    """The fake. start() binds and serves in background threads
    (httpcommon.ThreadedServer: start, stop, one thread a connection)."""

    accept_thread_name = "fake-github-accept"
    conn_thread_name = "fake-github-%d"

    def __init__(self, host="127.0.0.1", port=0, tls=None,
                 server_name="github.com", registry=None):
        self.registry = registry or Registry()
        # The lock is the registry's: listeners sharing it share the lock.
        super().__init__(host, port, server_context(tls, ["http/1.1"]),
                         self.registry.lock)
        self.tls = tls
        self.server_name = server_name
        self.apps = self.registry.apps
        self.codes = self.registry.codes
        self.tokens = self.registry.tokens
        self.records = self.registry.records
        self.requests = []          # (method, target, conn_id), this port
        self.handshake_errors = []  # TLS handshakes that failed here

    # -- registry ------------------------------------------------------
    def add_app(self, client_id=None, client_secret=None,
                callback="http://localhost:3000/callback", name="test app",
                expiring=False):
        app = App(client_id or new_client_id(),
                  client_secret or new_client_secret(), callback, name,
                  expiring)
        with self._lock:
            self.apps[app.client_id] = app
        return app

    def issue_code(self, client_id, redirect_uri=None, scope="repo,gist",
                   age=0.0, challenge=None):
        """A fresh code for client_id (tied to redirect_uri when given, and
        to an S256 PKCE challenge); age backdates it by that many
        seconds."""
        c = Code(new_code(), client_id, redirect_uri, scope,
                 time.time() - age)
        c.challenge = challenge
        with self._lock:
            self.codes[c.code] = c
        return c.code

    def set_variant(self, **kw):
        """chunked, encoding, force_error, oversize, count (None: until
        changed). set_variant() resets."""
        v = Variant(**kw)
        with self._lock:
            self.registry.variant = v
        return v

    def _hold_event(self, name):
        with self._lock:
            return self.registry.holds.setdefault(name, threading.Event())

    def release(self, name):
        """Let the success answers held with __hold=name go."""
        self._hold_event(name).set()

    # -- observation -----------------------------------------------------
    def token_requests(self):
        with self._lock:
            return list(self.records)

    def last_token_request(self):
        with self._lock:
            return self.records[-1] if self.records else None

    @property
    def token_request_count(self):
        with self._lock:
            return len(self.records)

    def secrets_used(self):
        """Every client secret, code and access token this fake knows of
        (for tests that grep logs for secrets)."""
        with self._lock:
            out = [a.client_secret for a in self.apps.values()]
            out += list(self.codes)
            out += list(self.tokens)
            out += list(self.registry.refresh)
            for r in self.records:
                for v in (r.client_secret, r.code, r.access_token,
                          r.params.get("code_verifier"),
                          r.params.get("refresh_token")):
                    if v:
                        out.append(v)
        return sorted(set(out))

    def url(self, path="/"):
        return "%s://%s:%d%s" % ("https" if self.tls else "http",
                                 self.host, self.port, path)

    def _handshake_failed(self, err):
        with self._lock:
            self.handshake_errors.append(str(err))

    # -- HTTP --------------------------------------------------------------
    def _read_request(self, conn):
        """The request with its body (the head as httpcommon reads it);
        None at a clean EOF between requests."""
        req = read_head(conn.rfile)
        if req is None:
            return None
        te = req.tokens("transfer-encoding")
        if req.header("expect") and \
                req.header("expect").lower() == "100-continue":
            conn.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if te:
            if te[-1] != "chunked":
                raise BadRequest("unsupported transfer-encoding")
            req.body = read_chunked(conn.rfile, MAX_BODY)[0]
        elif req.header("content-length") is not None:
            n = int(req.header("content-length"))
            if n > MAX_BODY:
                raise BadRequest("body too large")
            req.body = read_exact(conn.rfile, n)
        return req

    def _serve_one(self, conn):
        sock, cid = conn.sock, conn.conn_id
        try:
            req = self._read_request(conn)
        except BadRequest as e:
            # GitHub's fake says what, not the bytes that were wrong.
            self._send(sock, None, 400, [("Content-Type", "text/plain")],
                       ("fake github: %s\n" % e.brief).encode(), keep=False)
            return False
        if req is None:
            return False
        with self._lock:
            self.requests.append((req.method, req.target, cid))
        keep = keep_alive(req)
        try:
            if req.path == TOKEN_PATH:
                if req.method != "POST":
                    self._send(sock, req, 404,
                               [("Content-Type", "text/plain")],
                               b"Not Found\n", keep)
                else:
                    self._token(sock, req, keep, cid)
            elif req.path == AUTHORIZE_PATH:
                self._authorize(sock, req, keep)
            elif req.path == "/__issue":
                self._issue(sock, req, keep)
            elif req.path == "/__control":
                self._control(sock, req, keep)
            elif req.path == "/__log":
                body = json.dumps([r.summary() for r in
                                   self.token_requests()]).encode()
                self._send(sock, req, 200,
                           [("Content-Type", "application/json")], body,
                           keep)
            elif req.path in ("/", "/zen"):
                self._send(sock, req, 200,
                           [("Content-Type", "text/plain; charset=utf-8"),
                            ("Server", "GitHub.com")],
                           ("fake github (%s)\n" %
                            self.server_name).encode(), keep)
            else:
                self._send(sock, req, 404, [("Content-Type", "text/plain")],
                           b"Not Found\n", keep)
        except (BadRequest, ValueError) as e:
            self._send(sock, req, 400, [("Content-Type", "text/plain")],
                       ("fake github: %s\n" % e).encode(), keep=False)
            return False
        return keep

    def _send(self, sock, req, status, headers, body=b"", keep=True,
              chunked=False):
        """Send one response in one write. headers: the exact list to
        send (framing is added here: Content-Length, or chunked in chunks
        of CHUNK_CYCLE's sizes)."""
        reasons = {100: "Continue", 200: "OK", 302: "Found",
                   400: "Bad Request", 404: "Not Found"}
        head = list(headers)
        if not chunked:
            head.append(("Content-Length", "%d" % len(body)))
        else:
            head.append(("Transfer-Encoding", "chunked"))
        if not keep:
            head.append(("Connection", "close"))
        data = head_bytes(status, reasons.get(status, "Unknown"), head)
        if req is not None and req.method == "HEAD":
            sock.sendall(data)
            return
        if not chunked:
            sock.sendall(data + body)
            return
        sock.sendall(data + b"".join(encode_chunked([body], CHUNK_CYCLE)))

    @staticmethod
    def _github_headers(ctype):
        """The headers GitHub sends with a token response (the proxy must
        keep every one of them)."""
        return [
            ("Server", "GitHub.com"),
            ("Date", formatdate(usegmt=True)),
            ("Content-Type", ctype),
            ("Vary", "X-PJAX, X-PJAX-Container, Turbo-Visit, Turbo-Frame, "
             "Accept-Encoding, Accept, X-Requested-With"),
            ("Cache-Control", "max-age=0, private, must-revalidate"),
            ("ETag", 'W/"%s"' % secrets.token_hex(16)),
            ("Strict-Transport-Security",
             "max-age=31536000; includeSubdomains; preload"),
            ("X-Frame-Options", "deny"),
            ("X-Content-Type-Options", "nosniff"),
            ("X-XSS-Protection", "0"),
            ("Referrer-Policy", "origin-when-cross-origin, "
             "strict-origin-when-cross-origin"),
            ("X-GitHub-Request-Id", "%04X:%06X:%07X:%07X:%08X" % (
                secrets.randbits(16), secrets.randbits(24),
                secrets.randbits(28), secrets.randbits(28),
                secrets.randbits(32))),
        ]

    # -- the token endpoint ------------------------------------------------
    def _params(self, req):
        """(params, auth, client_id, client_secret): query first, then the
        body's parameters over them."""
        params = dict(req.query)
        ctype = (req.header("content-type") or "").split(";")[0].strip() \
            .lower()
        if req.body:
            if ctype == "application/json":
                try:
                    obj = json.loads(req.body.decode("utf-8"))
                except ValueError:
                    raise BadRequest("Problems parsing JSON")
                if isinstance(obj, dict):
                    for k, v in obj.items():
                        if v is not None:
                            params[k] = v if isinstance(v, str) else str(v)
            else:
                params.update(urllib.parse.parse_qsl(
                    req.body.decode("utf-8", errors="replace"),
                    keep_blank_values=True))
        auth = None
        cid = params.get("client_id")
        secret = params.get("client_secret")
        if cid is not None or secret is not None:
            auth = "body"
        a = req.header("authorization")
        if a and a[:6].lower() == "basic ":
            try:
                dec = base64.b64decode(a[6:].strip(), validate=True) \
                    .decode("utf-8")
                bid, _, bsecret = dec.partition(":")
                bid = urllib.parse.unquote_plus(bid)
                bsecret = urllib.parse.unquote_plus(bsecret)
            except (ValueError, UnicodeDecodeError):
                bid = bsecret = None
            if bid is not None and cid is None:
                cid, secret, auth = bid, bsecret, "basic"
        return params, auth, cid, secret

    def _refresh(self, rec, app):
        """grant_type=refresh_token (lock held): a known, unused refresh
        token of this app gets a new access token and a new refresh token
        and stops working (rotation); anything else is
        bad_refresh_token."""
        r = self.registry.refresh.get(rec.params.get("refresh_token") or "")
        if r is None or r[1] or r[0] != app.client_id:
            return "bad_refresh_token"
        r[1] = True
        rec.access_token = new_access_token("ghu_")
        self.tokens.append(rec.access_token)
        rec.refresh_token = new_access_token("ghr_")
        self.registry.refresh[rec.refresh_token] = [app.client_id, False]
        rec.scope = ""
        return "success"

    def _decide(self, rec):
        """The outcome GitHub would give: "success" (the code is spent and
        rec.access_token set) or the error code."""
        now = time.time()
        with self._lock:
            app = self.apps.get(rec.client_id or "")
            if app is None or rec.client_secret != app.client_secret:
                return "incorrect_client_credentials"
            if rec.params.get("grant_type") == REFRESH_GRANT:
                return self._refresh(rec, app)
            redirect = rec.redirect_uri
            if redirect is not None and redirect != "" and \
                    not redirect_allowed(app.callback, redirect):
                return "redirect_uri_mismatch"
            c = self.codes.get(rec.code or "")
            if c is None or c.used or c.client_id != app.client_id or \
                    now - c.issued > CODE_TTL:
                return "bad_verification_code"
            if c.redirect_uri is not None and redirect and \
                    redirect != c.redirect_uri:
                return "redirect_uri_mismatch"
            # PKCE: GitHub documents no error code for a missing or
            # wrong code_verifier; we assume bad_verification_code (the
            # code cannot be exchanged) and leave the code unspent.
            if c.challenge is not None and pkce_s256(
                    rec.params.get("code_verifier") or "") != c.challenge:
                return "bad_verification_code"
            c.used = True
            token = new_access_token("ghu_" if app.expiring else "gho_")
            self.tokens.append(token)
            rec.access_token = token
            rec.scope = c.scope
            if app.expiring:
                rec.refresh_token = new_access_token("ghr_")
                self.registry.refresh[rec.refresh_token] = \
                    [app.client_id, False]
            return "success"

    def _take_variant(self, req):
        with self._lock:
            v = self.registry.variant
            eff = Variant(v.chunked, v.encoding, v.force_error, v.oversize)
            if v.count is not None:
                v.count -= 1
                if v.count <= 0:
                    self.registry.variant = Variant()
        q = dict(req.query)
        if "__chunked" in q:
            eff.chunked = q["__chunked"] not in ("0", "")
        if "__encoding" in q:
            eff.encoding = q["__encoding"] or None
        if "__error" in q:
            eff.force_error = q["__error"] or None
        if "__oversize" in q:
            eff.oversize = int(q["__oversize"] or 0)
        return eff

    def _token(self, sock, req, keep, cid):
        rec = TokenRecord()
        rec.conn_id = cid
        rec.tls = self._ctx is not None
        rec.time = time.time()
        rec.method = req.method
        rec.target = req.target
        rec.headers = list(req.headers)
        rec.body = req.body
        rec.params, rec.auth, rec.client_id, rec.client_secret = \
            self._params(req)
        rec.code = rec.params.get("code")
        rec.redirect_uri = rec.params.get("redirect_uri")
        rec.accept = req.header("accept")
        rec.accept_encoding = req.header("accept-encoding")
        rec.format = accept_format(rec.accept)
        v = self._take_variant(req)
        rec.variant = v.to_json()
        rec.hold = dict(req.query).get("__hold") or None
        # A forced error is answered whatever the request (the code, if
        # any, stays unspent).
        outcome = v.force_error or self._decide(rec)
        rec.outcome = outcome
        if outcome == "success":
            fields = [("access_token", rec.access_token),
                      ("scope", rec.scope), ("token_type", "bearer")]
            if rec.format == "xml":
                fields = [fields[2], fields[1], fields[0]]
            if rec.refresh_token:
                fields = [("access_token", rec.access_token),
                          ("expires_in", "28800"),
                          ("refresh_token", rec.refresh_token),
                          ("refresh_token_expires_in", "15811200"),
                          ("scope", rec.scope), ("token_type", "bearer")]
        else:
            fields = error_fields(outcome)
        if v.oversize:
            # An error (or success) with padding that takes the body past
            # the proxy's inspection limit.
            fields = fields + [("padding", "x" * v.oversize)]
        plain = encode_body(fields, rec.format)
        headers = self._github_headers(CONTENT_TYPES[rec.format])
        body = plain
        if v.encoding and coding_allowed(rec.accept_encoding, v.encoding):
            if v.encoding == "gzip":
                body = gzip.compress(plain, mtime=0)
            else:
                body = zlib.compress(plain)
            headers.append(("Content-Encoding", v.encoding))
            rec.content_encoding = v.encoding
        rec.chunked = v.chunked
        rec.status = 200
        rec.resp_headers = list(headers)
        rec.resp_plain = plain
        rec.resp_body = body
        rec.resp_sha256 = hashlib.sha256(body).hexdigest()
        if outcome == "success" and rec.hold is not None:
            self._hold_event(rec.hold).wait(30)
        with self._lock:
            rec.n = len(self.records) + 1
            self.records.append(rec)
        self._send(sock, req, 200, headers, body, keep, chunked=v.chunked)

    # -- authorize, issue, control ----------------------------------------
    def _authorize(self, sock, req, keep):
        q = dict(req.query)
        with self._lock:
            app = self.apps.get(q.get("client_id", ""))
        if app is None:
            self._send(sock, req, 404, [("Content-Type", "text/plain")],
                       b"Not Found\n", keep)
            return
        redirect = q.get("redirect_uri")
        state = q.get("state")
        if redirect and app.refuse_page and \
                not redirect_allowed(app.callback, redirect):
            # Reports since 2024: GitHub shows its own page ("The
            # redirect_uri is not associated with this application.")
            # instead of redirecting. Undocumented; we assume status 400.
            self._send(sock, req, 400,
                       [("Server", "GitHub.com"),
                        ("Content-Type", "text/html; charset=utf-8")],
                       b"<html><body><h1>Be careful!</h1><p>The "
                       b"redirect_uri is not associated with this "
                       b"application.</p></body></html>", keep)
            return
        if q.get("__deny") and (not redirect or
                                redirect_allowed(app.callback, redirect)):
            # The user clicked Cancel on the consent page.
            params = [("error", "access_denied"),
                      ("error_description",
                       "The user has denied your application access."),
                      ("error_uri", AUTHZ_ERRORS_PAGE + "#access-denied")]
            target = redirect or app.callback
        elif redirect and not redirect_allowed(app.callback, redirect):
            desc = "The redirect_uri MUST match the registered callback " \
                "URL for this application."
            params = [("error", "redirect_uri_mismatch"),
                      ("error_description", desc),
                      ("error_uri", AUTHZ_ERRORS_PAGE +
                       "#redirect-uri-mismatch")]
            target = app.callback
        else:
            # PKCE: S256 only (GitHub's changelog, 2025-07-14).
            challenge = q.get("code_challenge") if \
                q.get("code_challenge_method") == "S256" else None
            code = self.issue_code(app.client_id, redirect or None,
                                   q.get("scope", "") or "",
                                   challenge=challenge)
            params = [("code", code)]
            target = redirect or app.callback
        if state is not None:
            params.append(("state", state))
        sep = "&" if "?" in target else "?"
        loc = target + sep + urllib.parse.urlencode(params)
        self._send(sock, req, 302,
                   [("Server", "GitHub.com"), ("Location", loc),
                    ("Content-Type", "text/html; charset=utf-8")],
                   b'<html><body>You are being <a href="%s">redirected'
                   b'</a>.</body></html>' % loc.encode(), keep)

    def _issue(self, sock, req, keep):
        q = dict(req.query)
        if req.body:
            q.update(urllib.parse.parse_qsl(req.body.decode()))
        if "client_id" not in q:
            raise BadRequest("client_id required")
        code = self.issue_code(q["client_id"], q.get("redirect_uri") or None,
                               q.get("scope", "repo,gist"),
                               float(q.get("age", 0)))
        self._send(sock, req, 200, [("Content-Type", "application/json")],
                   json.dumps({"code": code}).encode(), keep)

    def _control(self, sock, req, keep):
        if req.method == "POST":
            try:
                spec = json.loads(req.body or b"{}")
            except ValueError:
                raise BadRequest("control body must be JSON")
            if not isinstance(spec, dict):
                raise BadRequest("control body must be a JSON object")
            allowed = {"chunked", "encoding", "force_error", "oversize",
                       "count"}
            bad = set(spec) - allowed
            if bad:
                raise BadRequest("unknown control keys: %s" %
                                 ", ".join(sorted(bad)))
            self.set_variant(**spec)
        with self._lock:
            body = json.dumps(self.registry.variant.to_json()).encode()
        self._send(sock, req, 200, [("Content-Type", "application/json")],
                   body, keep)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--app", action="append", default=[],
                    metavar="CLIENT_ID:SECRET:CALLBACK")
    ap.add_argument("--ready-file")
    a = ap.parse_args(argv)
    gh = FakeGitHub(a.host, a.port, tuple(a.tls) if a.tls else None)
    for spec in a.app:
        cid, secret, cb = spec.split(":", 2)
        gh.add_app(cid, secret, cb)
    gh.start()
    return serve_until_signal(gh, a.ready_file, 1)


if __name__ == "__main__":
    sys.exit(main())
