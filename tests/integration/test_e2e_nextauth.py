#!/usr/bin/python3
"""End to end (issue 12): a Next.js app with Auth.js's GitHub provider
(tests/e2e/nextauth, versions pinned, built once by tests/e2e/install.sh),
signed in by headless Chromium, with oauthlens intercepting github.com and
api.github.com in front of the fake GitHub.

The app is started twice, the two ways a developer would:
  via "env"  env -i PATH HOME plus the app's own settings (AUTH_GITHUB_ID,
             AUTH_GITHUB_SECRET, AUTH_SECRET, AUTH_URL), then
             eval "$(oauthlens --env)" and exec next start, against the
             test class's proxy;
  via "run"  the same environment, under `oauthlens run -- next start`
             with nothing listening on its port, so run serves itself
             (its log on its stderr, beside the app's).
Nothing but oauthlens's variables tells the app's server (Node 20's fetch,
under Auth.js's oauth4webapi) about the proxy or its CA.

The browser (Debian's chromium through playwright-core, tests/e2e/driver/
signin.mjs) reaches github.com through the proxy (--proxy-server) and
trusts oauthlens's CA through an NSS database in a temporary HOME (certutil,
Debian's libnss3-tools). For each way:
  - a good sign-in works: the page shows the fake's user (name from
    api.github.com/user, address from /user/emails, both through the
    proxy with the token the token endpoint gave);
  - the callback URL replayed (with the cookies it first carried) makes
    the app exchange the spent code again: oauthlens logs
    oauth-error error=bad_verification_code cause=code_reused;
  - the app started with the placeholder secret of an .env.example:
    oauthlens logs error=incorrect_client_credentials cause=secret_shape
    (with its length).
A developer's trap found on the way: with AUTH_URL=http://127.0.0.1:PORT
Auth.js sends the token request a redirect_uri on localhost (Next.js's
NextURL renames loopback addresses), GitHub answers redirect_uri_mismatch,
and oauthlens logs cause=redirect_differs naming both hosts.
The control: the same browser without the CA in its NSS database is
refused at github.com and the proxy logs tls-untrusted.
A secret that ends in a line break (a .env value with its newline) is
refused and diagnosed as cause=whitespace, though Auth.js sends it as
Basic auth, form-encoded (the proxy decodes it, RFC 6749 2.3.1).

The app is built once (next build, about a minute on two loaded cores;
`next dev` would compile the routes again at every start, about 27 s
each), then each `next start` is ready in a second or two. No secret
reaches the proxy's log. Skipped, with a message, when node,
chromium or certutil is absent (scripts/test.sh installs them all).
"""

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import unittest
import urllib.parse
import urllib.request

import harness
import oauth_helpers as oh
import runenv_helpers as rh
from fake_github_api import FakeGitHubAPI, DEFAULT_USER, DEFAULT_EMAILS
from harness import BIN, SLOW

E2E_DIR = os.path.join(harness.SRC, "tests", "e2e")
APP_DIR = os.path.join(E2E_DIR, "nextauth")
DRIVER = os.path.join(E2E_DIR, "driver", "signin.mjs")
CHROMIUM = "/usr/bin/chromium"
CALLBACK_PATH = "/api/auth/callback/github"
# The value an .env.example gives, left in place.
PLACEHOLDER_SECRET = "your-github-client-secret"
PRIMARY_EMAIL = [e["email"] for e in DEFAULT_EMAILS if e["primary"]][0]


def missing_runtime():
    if oh.node_bin() is None:
        return "node"
    if not os.access(CHROMIUM, os.X_OK):
        return "chromium (%s)" % CHROMIUM
    if shutil.which("certutil") is None:
        return "certutil (Debian package libnss3-tools)"
    return None


def ensure_app():
    """tests/e2e/install.sh under a lock (npm ci, next build when stale)."""
    lock = os.path.join(E2E_DIR, ".install.lock")
    with open(lock, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        r = subprocess.run(["sh", os.path.join(E2E_DIR, "install.sh")],
                           capture_output=True, timeout=900,
                           stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise RuntimeError("tests/e2e/install.sh failed (%d): %s" % (
            r.returncode, r.stderr.decode(errors="replace")[-3000:]))


class App:
    """One `next start` of the app (in its own process group), directly
    or under `oauthlens run --`; its output in a file. Each start is an
    OAuth app of its own at the fake, registered with the callback on the
    port it listens on (chosen then, and again if another process took
    it first). secret: what AUTH_GITHUB_SECRET gets, as a function of the
    registered secret (default: the secret itself)."""

    def __init__(self, tc, via, name, secret=None, host="localhost"):
        self.tc = tc
        self.via = via
        self.name = name
        self.host = host
        self.secret_of = secret or (lambda s: s)
        self.log_path = os.path.join(tc.tmp, name + ".out")
        self.proxy_port = None
        self.mark = None
        self.proc = None

    def _register(self):
        self.port = harness.free_port()
        self.url = "http://%s:%d" % (self.host, self.port)
        self.callback = self.url + CALLBACK_PATH
        self.gh_app = self.tc.gh.add_app(callback=self.callback,
                                         name="nextauth e2e " + self.name)
        self.client_id = self.gh_app.client_id
        self.secret = self.secret_of(self.gh_app.client_secret)

    def start(self):
        self.tc.addCleanup(self.stop)
        for attempt in range(3):
            self._register()
            self._spawn()
            harness.wait_until(self._ready, 60 * SLOW, interval=0.2)
            if self.proc.poll() is None:
                break
            taken = "EADDRINUSE" in self.output() or \
                "in use" in self.output()
            if not taken or attempt == 2:
                self.tc.fail("the app (via %s) exited with status %s:\n%s"
                             % (self.via, self.proc.returncode,
                                self.output()[-3000:]))
        if not self._ready():
            self.tc.fail("the app (via %s) was not ready within %gs:\n%s" %
                         (self.via, 60 * SLOW, self.output()[-3000:]))
        return self

    def _spawn(self):
        tc = self.tc
        env = tc.clean_env({
            "AUTH_GITHUB_ID": self.client_id,
            "AUTH_GITHUB_SECRET": self.secret,
            "AUTH_SECRET": tc.auth_secret,
            "AUTH_URL": self.url,
            "AUTH_TRUST_HOST": "true",
            "NEXT_TELEMETRY_DISABLED": "1",
        })
        nxt = [os.path.join(APP_DIR, "node_modules", ".bin", "next"),
               "start", "-H", "127.0.0.1", "-p", str(self.port)]
        if self.via == "env":
            self.proxy_port = tc.proxy.port
            self.mark = len(tc.proxy.log_records())
            cmd = ["bash", "-c", 'eval "$1"; shift; exec "$@"', "bash",
                   tc.env_text()] + nxt
        else:
            self.proxy_port = harness.free_port()
            cmd = [BIN, "-c", tc.proxy.config_path, "-l",
                   "127.0.0.1:%d" % self.proxy_port, "--log-format", "json",
                   "--log-level", "info"] + tc.base_args() + \
                ["run", "--"] + nxt
        out = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=APP_DIR, env=env,
                                     stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        out.close()

    def _ready(self):
        if self.proc.poll() is not None:
            return True          # start() reports it
        try:
            opener = urllib.request.build_opener(
                urllib.request.ProxyHandler({}))
            with opener.open(self.url + "/api/auth/providers",
                             timeout=5) as r:
                ok = r.status == 200
        except OSError:
            return False
        if ok and self.via == "run":
            # run listens before it starts the command; check anyway.
            with socket.socket() as s:
                s.settimeout(2)
                return s.connect_ex(("127.0.0.1", self.proxy_port)) == 0
        return ok

    def output(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def records(self):
        """The proxy's log records logged for this app's run."""
        if self.via == "env":
            return self.tc.proxy.log_records()[self.mark:]
        return rh.json_lines(self.output())

    def oauth_errors(self):
        return [r for r in self.records() if r.get("event") == "oauth-error"]

    def proxy_log_text(self):
        if self.via == "env":
            return self.tc.proxy.stderr_text()
        return "\n".join(line for line in self.output().splitlines()
                         if line.startswith('{"ts":'))

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(10 * SLOW)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@unittest.skipIf(missing_runtime() is not None, "%s not installed: the "
                 "Next.js + Auth.js end-to-end test is skipped "
                 "(scripts/test.sh installs it)" % missing_runtime())
class NextAuthSignIn(rh.RuntimeTestCase):

    @classmethod
    def setUpClass(cls):
        ensure_app()
        super().setUpClass()

    @classmethod
    def proxy_setup(cls):
        cfg, args = super().proxy_setup()
        cls.api = FakeGitHubAPI(tls=cls.gca.leaf("api.github.com"),
                                registry=cls.registry).start()
        cls._fakes.append(cls.api)
        cls.auth_secret = os.urandom(32).hex()
        cls.nssdb_home = os.path.join(cls.tmp, "browser-home")
        return cfg, args + cls.api_args()

    @classmethod
    def api_args(cls):
        # "+": added to the default list (github.com), not replacing it.
        return ["--intercept", "+api.github.com",
                "--resolve", "api.github.com:443:127.0.0.1:%d" %
                cls.api.port]

    @classmethod
    def base_args(cls, certs=None):
        a = super().base_args(certs)
        if getattr(cls, "api", None) is not None:
            a += cls.api_args()
        return a

    # -- the browser ---------------------------------------------------------
    def nss_home(self):
        """A HOME whose NSS database trusts oauthlens's CA (made once)."""
        home = self.nssdb_home
        db = os.path.join(home, ".pki", "nssdb")
        if os.path.exists(os.path.join(db, "cert9.db")):
            return home
        os.makedirs(db, exist_ok=True)
        for args in (["-N", "--empty-password"],
                     ["-A", "-t", "C,,", "-n", "oauthlens test CA", "-i",
                      self.ca_pem]):
            r = subprocess.run(["certutil", "-d", "sql:" + db] + args,
                               capture_output=True, timeout=30,
                               stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 0, "certutil %s: %s" % (
                args[0], r.stderr.decode(errors="replace")))
        return home

    def browse(self, app, replay=False, trusted=True):
        """Run the sign-in in a fresh Chromium profile; the driver's
        JSON. trusted=False: a HOME without the NSS database, and the
        driver stops when the request to github.com fails."""
        stamp = time.monotonic_ns()
        profile = os.path.join(self.tmp, "profile-%d" % stamp)
        home = self.nss_home()
        if not trusted:
            home = os.path.join(self.tmp, "bare-home-%d" % stamp)
            os.makedirs(home)
        spec = {"appUrl": app.url,
                "proxy": "http://127.0.0.1:%d" % app.proxy_port,
                "userDataDir": profile, "home": home, "replay": replay,
                "expectUntrusted": not trusted, "executablePath": CHROMIUM,
                "timeoutMs": int(45000 * SLOW)}
        env = harness.clean_env()
        env["HOME"] = home
        # Its own process group, so that a driver killed on timeout does
        # not leave Chromium behind.
        p = subprocess.Popen([oh.node_bin(), DRIVER, json.dumps(spec)],
                             cwd=os.path.dirname(DRIVER), env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL,
                             start_new_session=True)
        try:
            stdout, stderr = p.communicate(timeout=150 * SLOW)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            stdout, stderr = p.communicate()
            self.fail("the browser did not finish within %gs: %r\napp:\n%s"
                      % (150 * SLOW, stderr[-2000:], app.output()[-3000:]))
        text = stdout.decode(errors="replace")
        lines = [line for line in text.splitlines() if line.startswith("{")]
        self.assertEqual(p.returncode, 0, "driver failed: %s\n%s" % (
            text[-2000:], stderr.decode(errors="replace")[-3000:]))
        self.assertTrue(lines, "driver printed no JSON: %s" % text[-2000:])
        out = json.loads(lines[-1])
        self.assertNotIn("failure", out, "the browser run failed: %s\n"
                         "app and proxy output:\n%s" % (
                             out.get("failure"), app.output()[-4000:]))
        return out

    # -- assertions ----------------------------------------------------------
    def wait_errors(self, app, n):
        harness.wait_until(lambda: len(app.oauth_errors()) >= n, 5 * SLOW)
        time.sleep(0.2 * SLOW)       # a duplicate would show by now
        return app.oauth_errors()

    def assert_clean_log(self, app):
        text = app.proxy_log_text()
        self.assertTrue(text, "no proxy log lines (via %s)" % app.via)
        self.assert_no_secrets(text, "the proxy's log (via %s)" % app.via)
        self.assertNotIn(app.secret.strip(), text)
        self.assertNotIn(self.auth_secret, text)

    def good_signin_then_replay(self, via):
        api0 = len(self.api.api_requests())
        gh0 = self.gh.token_request_count
        # On localhost, not 127.0.0.1: see test_env_auth_url_loopback_ip.
        app = App(self, via, "app-%s-good" % via)
        app.start()
        out = self.browse(app, replay=True)
        # The sign-in: GitHub's authorize through the proxy, the code
        # exchanged once, the user read from the API with that token.
        self.assertTrue(out["signedIn"], "not signed in (via %s): %r\n%s" %
                        (via, out, app.output()[-4000:]))
        self.assertEqual(out["signedInText"], "Signed in as %s (%s)" % (
            DEFAULT_USER["name"], PRIMARY_EMAIL), out)
        self.assertIn("GET https://github.com/login/oauth/authorize",
                      out["githubRequests"], out)
        self.assertTrue(out["callbackUrl"].startswith(
            app.callback + "?"), out)
        recs = self.gh.token_requests()[gh0:]
        self.assertGreaterEqual(len(recs), 1, "no token request reached "
                                "the fake GitHub")
        first = recs[0]
        self.assertEqual(first.outcome, "success", first.summary())
        self.assertTrue(first.tls, "the token request was not over TLS")
        self.assertEqual(first.client_id, app.client_id)
        api = self.api.api_requests()[api0:]
        self.assertIn(("GET", "/user", True), api, api)
        self.assertIn(("GET", "/user/emails", True), api, api)
        # The replay: the same code a second time, refused by GitHub and
        # diagnosed by the proxy.
        self.assertIn("replay", out, out)
        self.assertIn("/api/auth/error", out["replay"]["finalUrl"], out)
        self.assertEqual(len(recs), 2, "expected the sign-in's and the "
                         "replay's token requests: %r" %
                         [r.outcome for r in recs])
        self.assertEqual(recs[1].outcome, "bad_verification_code")
        self.assertEqual(recs[1].code, first.code, "the replay sent "
                         "another code")
        errs = self.wait_errors(app, 1)
        self.assertEqual(len(errs), 1, "expected one oauth-error record "
                         "(via %s): %r\n%s" % (via, errs,
                                               app.proxy_log_text()[-3000:]))
        rec = errs[0]
        self.assertEqual(rec.get("error"), "bad_verification_code", rec)
        self.assertEqual(rec.get("cause"), "code_reused", rec)
        self.assertEqual(rec.get("host"), "github.com", rec)
        self.assertEqual(rec.get("client_id"), app.client_id, rec)
        self.assert_clean_log(app)

    def wrong_secret(self, via, secret=lambda s: PLACEHOLDER_SECRET,
                     cause="secret_shape",
                     detail=str(len(PLACEHOLDER_SECRET))):
        """The app started with a wrong secret (secret: the registered
        one -> the one the app gets): the sign-in fails, and the proxy
        logs incorrect_client_credentials with `cause` and a diagnosis
        that contains `detail` (cause None: any cause)."""
        gh0 = self.gh.token_request_count
        app = App(self, via, "app-%s-wrong-secret-%s" % (
            via, cause or "any-cause"), secret)
        app.start()
        out = self.browse(app)
        self.assertFalse(out["signedIn"], out)
        self.assertIn("/api/auth/error", out["finalUrl"], out)
        recs = self.gh.token_requests()[gh0:]
        self.assertEqual([r.outcome for r in recs],
                         ["incorrect_client_credentials"],
                         [r.summary() for r in recs])
        errs = self.wait_errors(app, 1)
        self.assertEqual(len(errs), 1, "expected one oauth-error record "
                         "(via %s): %r\n%s" % (via, errs,
                                               app.proxy_log_text()[-3000:]))
        rec = errs[0]
        self.assertEqual(rec.get("error"), "incorrect_client_credentials",
                         rec)
        if cause is not None:
            self.assertEqual(rec.get("cause"), cause, rec)
            self.assertIn(detail, rec.get("diagnosis", ""), rec)
        else:
            self.assertTrue(rec.get("cause") and rec.get("diagnosis"), rec)
        self.assertEqual(rec.get("client_id"), app.client_id, rec)
        self.assert_clean_log(app)
        return rec

    # -- the scenarios -------------------------------------------------------
    def test_env_browser_without_the_ca(self):
        # The control: the same browser without oauthlens's CA in its NSS
        # database is refused at github.com, and the proxy says so. (So
        # the other tests' browser really goes through the proxy and
        # trusts it through that database.)
        auth0 = len([r for r in self.gh.requests
                     if r[1].startswith("/login/oauth/authorize")])
        app = App(self, "env", "app-env-untrusted")
        app.start()
        out = self.browse(app, trusted=False)
        self.assertIn("CERT", out.get("githubFailure") or "", out)
        self.assertFalse(out["signedIn"], out)
        self.assertEqual(len([r for r in self.gh.requests
                              if r[1].startswith("/login/oauth/authorize")]),
                         auth0, "the authorize request reached the fake")
        recs = harness.wait_until(lambda: [
            r for r in app.records() if r.get("event") == "tls-untrusted"],
            5 * SLOW)
        self.assertTrue(recs, "no tls-untrusted record:\n%s" %
                        app.proxy_log_text()[-3000:])
        self.assertEqual(recs[0].get("host"), "github.com", recs[0])
        # A browser needs the CA imported, not a variable.
        self.assertEqual(recs[0].get("runtime"), "browser", recs[0])
        self.assertIn("certutil", recs[0].get("fix", ""), recs[0])

    def test_env_sign_in_and_reused_code(self):
        self.good_signin_then_replay("env")

    def test_env_wrong_secret(self):
        self.wrong_secret("env")

    def test_run_sign_in_and_reused_code(self):
        self.good_signin_then_replay("run")

    def test_run_wrong_secret(self):
        self.wrong_secret("run")

    def test_env_auth_url_loopback_ip(self):
        # AUTH_URL=http://127.0.0.1:PORT, the app registered with that
        # callback. Auth.js builds the authorize request's redirect_uri
        # from AUTH_URL, but the token request's from the request URL,
        # which Next.js's NextURL rewrites to localhost: GitHub refuses
        # the exchange, and oauthlens says which hosts differ.
        gh0 = self.gh.token_request_count
        app = App(self, "env", "app-env-ip", host="127.0.0.1")
        app.start()
        out = self.browse(app)
        self.assertFalse(out["signedIn"], out)
        self.assertIn("/api/auth/error", out["finalUrl"], out)
        self.assertIn("redirect_uri=" + urllib.parse.quote(
            app.callback, safe=""), out["authorizeUrl"], out)
        recs = self.gh.token_requests()[gh0:]
        self.assertEqual([r.outcome for r in recs],
                         ["redirect_uri_mismatch"],
                         [r.summary() for r in recs])
        sent = "http://localhost:%d%s" % (app.port, CALLBACK_PATH)
        self.assertEqual(recs[0].redirect_uri, sent)
        errs = self.wait_errors(app, 1)
        self.assertEqual(len(errs), 1, errs)
        rec = errs[0]
        self.assertEqual(rec.get("error"), "redirect_uri_mismatch", rec)
        self.assertEqual(rec.get("cause"), "redirect_differs", rec)
        self.assertEqual(rec.get("redirect_uri"), sent, rec)
        self.assertEqual(rec.get("client_id"), app.client_id, rec)
        diagnosis = rec.get("diagnosis", "")
        self.assertIn(app.callback, diagnosis, rec)
        self.assertIn("localhost vs 127.0.0.1", diagnosis, rec)
        self.assert_clean_log(app)

    def test_env_secret_with_line_break(self):
        # The right secret with the line break a .env file left on it:
        # refused and logged with a cause (which one: the next test).
        rec = self.wrong_secret("env", lambda s: s + "\n",
                                cause=None, detail="client_secret")
        type(self).line_break_record = rec

    def test_env_secret_with_line_break_cause(self):
        # Runs after the test above, which records the line. Auth.js
        # sends the credentials as Basic auth, form-encoded first as RFC
        # 6749 2.3.1 says (the line break as "%0A"): the proxy decodes
        # them before the diagnosis, so the cause is whitespace, not
        # secret_shape (43 characters).
        rec = getattr(type(self), "line_break_record", None)
        if rec is None:
            self.skipTest("test_env_secret_with_line_break did not run "
                          "or failed")
        self.assertEqual(rec.get("cause"), "whitespace", rec)


if __name__ == "__main__":
    oh.main()
