#!/usr/bin/python3
"""The REST side of the fake GitHub (api.github.com) that a sign-in needs
after the token exchange: who the token belongs to.

It shares fake_github.Registry with a FakeGitHub, so the access tokens the
token endpoint hands out are the ones it accepts. Python standard library
only, plain or TLS, one thread per connection (httpcommon.ThreadedServer).

    reg = Registry()
    gh = FakeGitHub(tls=..., registry=reg).start()
    api = FakeGitHubAPI(tls=leaf("api.github.com"), registry=reg).start()
    api.user = {...}                  # the profile GET /user returns

Endpoints (as GitHub's REST API answers them):
  GET /user          the authenticated user (JSON), for
                     "Authorization: Bearer TOKEN" or "token TOKEN"
  GET /user/emails   [{email, primary, verified, visibility}]
  anything else      404 {"message": "Not Found", ...}
A token the registry does not know, or none: 401 {"message": "Bad
credentials"}; no User-Agent: 403 (GitHub refuses those).
Every request is recorded as (method, path, authorized) in .requests.
"""

import json

from httpcommon import (BadRequest, ThreadedServer, head_bytes, keep_alive,
                        read_exact, read_head, server_context)
from fake_github import Registry

DOCS = "https://docs.github.com/rest"

DEFAULT_USER = {
    "login": "mona-e2e",
    "id": 583231,
    "node_id": "MDQ6VXNlcjU4MzIzMQ==",
    "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4",
    "type": "User",
    "site_admin": False,
    "name": "Mona Lens",
    # null, as for a user who keeps the address private: Auth.js then
    # asks /user/emails, as it does for such users at GitHub.
    "email": None,
}

DEFAULT_EMAILS = [
    {"email": "mona-e2e@users.noreply.test", "primary": False,
     "verified": True, "visibility": None},
    {"email": "mona@example.test", "primary": True, "verified": True,
     "visibility": "private"},
]


class FakeGitHubAPI(ThreadedServer):

    accept_thread_name = "fake-github-api-accept"
    conn_thread_name = "fake-github-api-%d"

    def __init__(self, host="127.0.0.1", port=0, tls=None, registry=None):
        self.registry = registry or Registry()
        super().__init__(host, port, server_context(tls, ["http/1.1"]),
                         self.registry.lock)
        self.tls = tls
        self.user = dict(DEFAULT_USER)
        self.emails = [dict(e) for e in DEFAULT_EMAILS]
        self.requests = []          # (method, path, authorized)

    def api_requests(self, path=None):
        with self._lock:
            return [r for r in self.requests
                    if path is None or r[1] == path]

    def _token_known(self, req):
        a = req.header("authorization") or ""
        scheme, _, token = a.strip().partition(" ")
        if scheme.lower() not in ("bearer", "token") or not token:
            return False
        with self._lock:
            return token.strip() in self.registry.tokens

    def _serve_one(self, conn):
        try:
            req = read_head(conn.rfile)
        except BadRequest:
            return False
        if req is None:
            return False
        n = req.header("content-length")
        if n is not None:
            if not n.isdigit() or int(n) > 65536:
                return False
            req.body = read_exact(conn.rfile, int(n))
        keep = keep_alive(req)
        authorized = self._token_known(req)
        with self._lock:
            self.requests.append((req.method, req.path, authorized))
        if not req.header("user-agent"):
            status, body = 403, {
                "message": "Request forbidden by administrative rules. "
                "Please make sure your request has a User-Agent header",
                "documentation_url": DOCS}
        elif req.method != "GET" or req.path not in ("/user",
                                                     "/user/emails"):
            status, body = 404, {"message": "Not Found",
                                 "documentation_url": DOCS,
                                 "status": "404"}
        elif not authorized:
            status, body = 401, {"message": "Bad credentials",
                                 "documentation_url": DOCS,
                                 "status": "401"}
        elif req.path == "/user":
            status, body = 200, self.user
        else:
            status, body = 200, self.emails
        self._send(conn.sock, status, json.dumps(body).encode(), keep)
        return keep

    @staticmethod
    def _send(sock, status, body, keep):
        reasons = {200: "OK", 401: "Unauthorized", 403: "Forbidden",
                   404: "Not Found"}
        head = [("Server", "github.com"),
                ("Content-Type", "application/json; charset=utf-8"),
                ("X-GitHub-Media-Type", "github.v3; format=json"),
                ("Content-Length", "%d" % len(body))]
        if not keep:
            head.append(("Connection", "close"))
        sock.sendall(head_bytes(status, reasons[status], head) + body)

