#!/usr/bin/python3
"""A second fake OAuth server for oauthlens's diagnosis tests: what
tests/servers/fake_github.py does not do.

Python standard library only (http.server, one thread per connection,
HTTP/1.1 keep-alive, plain or TLS). Answers as GitHub does (see
/work/shared/GITHUB-FACTS.md): token errors with status 200 in the format
Accept asks for, GitHub's header set. Every response carries a Date that is
`date_skew` seconds off the real clock (0 by default).

    fp = FakeProvider(tls=(cert, key), date_skew=300).start()
    app = fp.add_app(callback="http://localhost:3000/cb")
    dc = fp.new_device(app.client_id)      # or POST /login/device/code
    fp.approve(dc) / fp.deny(dc)
    ... fp.records (ProviderRecord, token endpoints only) ...
    fp.stop()

Endpoints:
  POST /login/device/code   client_id, scope -> device_code (40 hex),
        user_code, verification_uri, expires_in, interval (form, JSON or
        XML by Accept); an app with the device flow off gets
        error=device_flow_disabled.
  POST /login/oauth/access_token
        grant_type=urn:ietf:params:oauth:grant-type:device_code: in this
        order incorrect_client_credentials (unknown client_id),
        device_flow_disabled, incorrect_device_code (unknown, or another
        client's), expired_token (older than expires_in), access_denied
        (fp.deny), slow_down (sooner than interval after the previous poll:
        the interval grows by 5 s and the body carries it), success
        (fp.approve; the device code is spent), else authorization_pending.
        A device_code without that grant_type, or a grant_type other than
        authorization_code / refresh_token / the device one:
        unsupported_grant_type. grant_type=refresh_token: bad_refresh_token.
        Otherwise (web flow): fp.web_outcome (bad_verification_code).
        ?__error=CODE answers that error whatever the request.
  GET  /login/oauth/authorize?client_id=&redirect_uri=&state=&scope=
        302 to redirect_uri (else the app's callback) with ?code=&state=;
        with &__error=access_denied|application_suspended|
        redirect_uri_mismatch, that error with GitHub's description and
        error_uri, and the state, instead of a code.
  POST /oauth/token         an RFC 6749 provider (section 5.2): status 400
        (401 with WWW-Authenticate for invalid_client), JSON {"error",
        "error_description"}; the code from ?__error=, else
        fp.rfc_error (invalid_grant).
  GET  anything else        200 text/plain (an app's callback page).
"""

import base64
import http.server
import json
import secrets
import ssl
import threading
import time
import urllib.parse
from email.utils import formatdate
from xml.sax.saxutils import escape as xml_escape

from httpcommon import header_value, q_value

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEVICE_CODE_PATH = "/login/device/code"
TOKEN_PATH = "/login/oauth/access_token"
AUTHORIZE_PATH = "/login/oauth/authorize"
RFC_TOKEN_PATH = "/oauth/token"

DOCS = "https://docs.github.com"
TOKEN_ERRORS = DOCS + "/apps/oauth-apps/maintaining-oauth-apps/" \
    "troubleshooting-oauth-app-access-token-request-errors"
AUTHZ_ERRORS = DOCS + "/apps/oauth-apps/maintaining-oauth-apps/" \
    "troubleshooting-authorization-request-errors"
DEVICE_ERRORS = DOCS + "/apps/oauth-apps/building-oauth-apps/" \
    "authorizing-oauth-apps#error-codes-for-the-device-flow"

# error -> (error_description, error_uri), GitHub's wording.
GITHUB_ERRORS = {
    "incorrect_client_credentials": (
        "The client_id and/or client_secret passed are incorrect.",
        TOKEN_ERRORS + "#incorrect-client-credentials"),
    "bad_verification_code": (
        "The code passed is incorrect or expired.",
        TOKEN_ERRORS + "#bad-verification-code"),
    "redirect_uri_mismatch": (
        "The redirect_uri MUST match the registered callback URL for this "
        "application.", AUTHZ_ERRORS + "#redirect-uri-mismatch"),
    "unverified_user_email": (
        "The user must have a verified primary email.",
        TOKEN_ERRORS + "#unverified_user_email"),
    "bad_refresh_token": (
        "The refresh token passed is incorrect or expired.",
        DOCS + "/apps/creating-github-apps/authenticating-with-a-github-app/"
        "refreshing-user-access-tokens"),
    "authorization_pending": (
        "The authorization request is still pending.", DEVICE_ERRORS),
    "slow_down": (
        "Too many requests have been made in the same timeframe.",
        DEVICE_ERRORS),
    "expired_token": ("The device_code has expired.", DEVICE_ERRORS),
    "unsupported_grant_type": (
        "The grant type is not supported.", DEVICE_ERRORS),
    "incorrect_device_code": (
        "The device_code provided is not valid.", DEVICE_ERRORS),
    "access_denied": (
        "The authorization request was denied.", DEVICE_ERRORS),
    "device_flow_disabled": (
        "Device Flow must be explicitly enabled for this App",
        DEVICE_ERRORS),
    "application_suspended": (
        "Your application has been suspended. Contact support@github.com.",
        AUTHZ_ERRORS + "#application-suspended"),
}
AUTHORIZE_ERRORS = {
    "access_denied": "The user has denied your application access.",
    "application_suspended": GITHUB_ERRORS["application_suspended"][0],
    "redirect_uri_mismatch": GITHUB_ERRORS["redirect_uri_mismatch"][0],
}
RFC_ERRORS = {
    "invalid_request": "The request is missing a required parameter.",
    "invalid_client": "Client authentication failed.",
    "invalid_grant": "The provided authorization grant is invalid, "
                     "expired, revoked, or was issued to another client.",
    "unauthorized_client": "The client is not authorized to use this "
                           "grant type.",
    "unsupported_grant_type": "The authorization grant type is not "
                              "supported.",
    "invalid_scope": "The requested scope is invalid.",
}
CONTENT_TYPES = {
    "form": "application/x-www-form-urlencoded; charset=utf-8",
    "json": "application/json; charset=utf-8",
    "xml": "application/xml; charset=utf-8",
}


def accept_format(accept):
    """GitHub's choice: JSON or XML when named with q > 0, else form."""
    for item in (accept or "").split(","):
        parts = [p.strip() for p in item.split(";")]
        q = q_value(parts[1:])
        if q > 0 and parts[0].lower() == "application/json":
            return "json"
        if q > 0 and parts[0].lower() == "application/xml":
            return "xml"
    return "form"


def encode_body(fields, fmt):
    if fmt == "json":
        obj = {}
        for k, v in fields:
            obj[k] = int(v) if k in ("interval", "expires_in") else v
        return json.dumps(obj, separators=(",", ":")).encode()
    if fmt == "xml":
        return ("<OAuth>" + "".join("<%s>%s</%s>" % (k, xml_escape(str(v)),
                                                    k) for k, v in fields) +
                "</OAuth>").encode()
    return urllib.parse.urlencode(fields).encode()


class ProviderApp:
    def __init__(self, client_id, client_secret, callback, device_flow):
        self.client_id = client_id
        self.client_secret = client_secret
        self.callback = callback
        self.device_flow = device_flow


class Device:
    def __init__(self, code, client_id, scope, expires_in, interval):
        self.code = code
        self.user_code = "%04X-%04X" % (secrets.randbits(16),
                                        secrets.randbits(16))
        self.client_id = client_id
        self.scope = scope
        self.issued = time.monotonic()
        self.expires_in = expires_in
        self.interval = interval
        self.last_poll = None
        self.state = "pending"          # approved, denied, spent


class ProviderRecord:
    """One token-endpoint request and exactly what was answered (the
    attributes oauth_helpers' assertions read from fake_github's
    TokenRecord)."""

    def __init__(self):
        self.time = 0.0
        self.method = ""
        self.path = ""
        self.target = ""
        self.headers = []
        self.params = {}
        self.client_id = None
        self.outcome = None
        self.status = 200
        self.resp_headers = []
        self.resp_body = b""
        self.resp_plain = b""
        self.content_encoding = None
        self.chunked = False
        self.format = "form"

    def resp_header(self, name):
        return header_value(self.resp_headers, name)

    def __repr__(self):
        return "<ProviderRecord %s %s -> %s %s>" % (
            self.method, self.path, self.status, self.outcome)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com"
    sys_version = ""

    def log_message(self, fmt, *args):    # quiet
        pass

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()

    # -- plumbing ---------------------------------------------------------
    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, headers, body):
        """headers: the exact list sent (Content-Length is added)."""
        self.send_response_only(status)
        for n, v in headers:
            self.send_header(n, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _date(self):
        return formatdate(time.time() + self.server.fake.date_skew,
                          usegmt=True)

    def _params(self, body):
        u = urllib.parse.urlsplit(self.path)
        params = dict(urllib.parse.parse_qsl(u.query,
                                             keep_blank_values=True))
        ctype = (self.headers.get("Content-Type") or "").split(";")[0] \
            .strip().lower()
        if body and ctype == "application/json":
            try:
                obj = json.loads(body.decode("utf-8"))
            except ValueError:
                obj = {}
            if isinstance(obj, dict):
                params.update({k: str(v) for k, v in obj.items()
                               if v is not None})
        elif body:
            params.update(urllib.parse.parse_qsl(
                body.decode("utf-8", "replace"), keep_blank_values=True))
        a = self.headers.get("Authorization") or ""
        if a[:6].lower() == "basic " and "client_id" not in params:
            try:
                cid, _, sec = base64.b64decode(a[6:].strip()).decode() \
                    .partition(":")
                params["client_id"] = urllib.parse.unquote_plus(cid)
                params["client_secret"] = urllib.parse.unquote_plus(sec)
            except (ValueError, UnicodeDecodeError):
                pass
        return u.path, params

    def _github_headers(self, fmt):
        return [("Server", "GitHub.com"), ("Date", self._date()),
                ("Content-Type", CONTENT_TYPES[fmt]),
                ("Cache-Control", "max-age=0, private, must-revalidate"),
                ("Vary", "Accept-Encoding, Accept, X-Requested-With"),
                ("X-Frame-Options", "deny"),
                ("X-GitHub-Request-Id", "%08X:%06X" % (
                    secrets.randbits(32), secrets.randbits(24)))]

    def _record(self, path, params, outcome, status, headers, body, fmt):
        rec = ProviderRecord()
        rec.time = time.time()
        rec.method = self.command
        rec.path = path
        rec.target = self.path
        rec.headers = list(self.headers.items())
        rec.params = dict(params)
        rec.client_id = params.get("client_id")
        rec.outcome = outcome
        rec.status = status
        rec.resp_headers = list(headers)
        rec.resp_body = rec.resp_plain = body
        rec.format = fmt
        with self.server.fake.lock:
            self.server.fake.records.append(rec)

    # -- methods ------------------------------------------------------------
    def do_GET(self):
        path, params = self._params(b"")
        if path == AUTHORIZE_PATH:
            return self._authorize(params)
        self._send(200, [("Content-Type", "text/plain; charset=utf-8"),
                         ("Date", self._date())],
                   b"callback page of the test app\n")

    def do_POST(self):
        body = self._read_body()
        path, params = self._params(body)
        fmt = accept_format(self.headers.get("Accept"))
        if path == DEVICE_CODE_PATH:
            return self._device_code(params, fmt)
        if path == TOKEN_PATH:
            return self._token(path, params, fmt)
        if path == RFC_TOKEN_PATH:
            return self._rfc_token(path, params)
        self._send(404, [("Content-Type", "text/plain")], b"Not Found\n")

    # -- GitHub ---------------------------------------------------------------
    def _authorize(self, params):
        fake = self.server.fake
        with fake.lock:
            app = fake.apps.get(params.get("client_id", ""))
        if app is None:
            return self._send(404, [("Content-Type", "text/plain")],
                              b"Not Found\n")
        err = params.get("__error")
        target = params.get("redirect_uri") or app.callback
        if err:
            if err == "redirect_uri_mismatch":
                target = app.callback
            q = [("error", err),
                 ("error_description", AUTHORIZE_ERRORS.get(
                     err, "An error occurred.")),
                 ("error_uri", AUTHZ_ERRORS + "#" + err.replace("_", "-"))]
        else:
            q = [("code", secrets.token_hex(10))]
        if "state" in params:
            q.append(("state", params["state"]))
        loc = target + ("&" if "?" in target else "?") + \
            urllib.parse.urlencode(q)
        self._send(302, [("Server", "GitHub.com"), ("Date", self._date()),
                         ("Location", loc),
                         ("Content-Type", "text/html; charset=utf-8")],
                   b'<html><body>You are being <a href="%s">redirected'
                   b'</a>.</body></html>' % loc.encode())

    def _device_code(self, params, fmt):
        fake = self.server.fake
        with fake.lock:
            app = fake.apps.get(params.get("client_id", ""))
        if app is None or not app.device_flow:
            code = "incorrect_client_credentials" if app is None else \
                "device_flow_disabled"
            fields = self._error_fields(code)
        else:
            d = fake.new_device(app.client_id, params.get("scope", ""))
            fields = [("device_code", d.code), ("user_code", d.user_code),
                      ("verification_uri", "https://github.com/login/device"),
                      ("expires_in", str(d.expires_in)),
                      ("interval", str(d.interval))]
            code = "success"
        headers = self._github_headers(fmt)
        body = encode_body(fields, fmt)
        # Recorded like a token request (what was sent back, exactly).
        self._record(DEVICE_CODE_PATH, params, code, 200, headers, body,
                     fmt)
        self._send(200, headers, body)

    @staticmethod
    def _error_fields(code, extra=()):
        desc, uri = GITHUB_ERRORS.get(code, ("An error occurred.",
                                             TOKEN_ERRORS))
        return [("error", code), ("error_description", desc),
                ("error_uri", uri)] + list(extra)

    def _token(self, path, params, fmt):
        fake = self.server.fake
        extra = []
        fields = None
        grant = params.get("grant_type")
        if params.get("__error"):
            outcome = params["__error"]
        elif grant == DEVICE_GRANT:
            outcome, extra, fields = fake.poll(params)
        elif (grant is None and "device_code" in params) or \
                grant not in (None, "", "authorization_code",
                              "refresh_token", DEVICE_GRANT):
            outcome = "unsupported_grant_type"
        elif grant == "refresh_token":
            outcome = "bad_refresh_token"
        else:
            outcome = fake.web_outcome
        if fields is None:
            fields = self._error_fields(outcome, extra)
        headers = self._github_headers(fmt)
        body = encode_body(fields, fmt)
        self._record(path, params, outcome, 200, headers, body, fmt)
        self._send(200, headers, body)

    # -- RFC 6749 ---------------------------------------------------------------
    def _rfc_token(self, path, params):
        fake = self.server.fake
        code = params.get("__error") or fake.rfc_error
        status = 401 if code == "invalid_client" else 400
        headers = [("Date", self._date()),
                   ("Content-Type", "application/json;charset=UTF-8"),
                   ("Cache-Control", "no-store"), ("Pragma", "no-cache")]
        if status == 401:
            headers.append(("WWW-Authenticate",
                            'Basic realm="auth.example.test"'))
        body = json.dumps({"error": code, "error_description":
                           RFC_ERRORS.get(code, "Error.")}).encode()
        self._record(path, params, code, status, headers, body, "json")
        self._send(status, headers, body)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, fake):
        self.fake = fake
        super().__init__(addr, _Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.fake.ctx is not None:
            # The handshake happens in the handler's thread, on first read.
            sock = self.fake.ctx.wrap_socket(sock, server_side=True,
                                             do_handshake_on_connect=False)
        sock.settimeout(30)
        return sock, addr

    def handle_error(self, request, client_address):
        pass            # a client that went away: nothing to report


class FakeProvider:
    def __init__(self, host="127.0.0.1", port=0, tls=None, date_skew=0):
        self.host = host
        self.port = port
        self.ctx = None
        if tls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(tls[0], tls[1])
            self.ctx.set_alpn_protocols(["http/1.1"])
        self.date_skew = date_skew
        self.lock = threading.Lock()
        self.apps = {}
        self.devices = {}
        self.records = []
        self.web_outcome = "bad_verification_code"
        self.rfc_error = "invalid_grant"
        self.device_expires_in = 900
        self.device_interval = 5
        self._srv = None
        self._thread = None

    # -- registry -----------------------------------------------------------
    def add_app(self, client_id=None, client_secret=None,
                callback="http://localhost:3000/cb", device_flow=True):
        app = ProviderApp(client_id or "Ov23li" + secrets.token_hex(7),
                          client_secret or secrets.token_hex(20), callback,
                          device_flow)
        with self.lock:
            self.apps[app.client_id] = app
        return app

    def new_device(self, client_id, scope="", expires_in=None,
                   interval=None):
        d = Device(secrets.token_hex(20), client_id, scope,
                   expires_in or self.device_expires_in,
                   interval or self.device_interval)
        with self.lock:
            self.devices[d.code] = d
        return d

    def approve(self, device):
        with self.lock:
            device.state = "approved"

    def deny(self, device):
        with self.lock:
            device.state = "denied"

    def poll(self, params):
        """One device-flow poll: (outcome, extra error fields, success
        fields or None)."""
        with self.lock:
            app = self.apps.get(params.get("client_id", ""))
            d = self.devices.get(params.get("device_code", ""))
            now = time.monotonic()
            if app is None:
                return "incorrect_client_credentials", [], None
            if not app.device_flow:
                return "device_flow_disabled", [], None
            if d is None or d.client_id != app.client_id or \
                    d.state == "spent":
                return "incorrect_device_code", [], None
            if now - d.issued > d.expires_in:
                return "expired_token", [], None
            if d.state == "denied":
                return "access_denied", [], None
            last, d.last_poll = d.last_poll, now
            if last is not None and now - last < d.interval:
                d.interval += 5
                return "slow_down", [("interval", str(d.interval))], None
            if d.state == "approved":
                d.state = "spent"
                token = "gho_" + secrets.token_hex(18)
                return "success", [], [("access_token", token),
                                       ("token_type", "bearer"),
                                       ("scope", d.scope)]
            return "authorization_pending", [], None

    def token_records(self):
        with self.lock:
            return list(self.records)

    @property
    def record_count(self):
        with self.lock:
            return len(self.records)

    # -- life cycle -------------------------------------------------------------
    def start(self):
        self._srv = _Server((self.host, self.port), self)
        self.port = self._srv.server_address[1]
        self._thread = threading.Thread(target=self._srv.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="fake-provider", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._srv is not None:
            self._srv.shutdown()
            self._srv.server_close()
            self._thread.join(5)
            self._srv = None

    def url(self, path="/"):
        return "%s://%s:%d%s" % ("https" if self.ctx else "http", self.host,
                                 self.port, path)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    import sys
    fp = FakeProvider(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    fp.start()
    print(fp.port, flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        fp.stop()
