"""Machinery for tests/integration/test_runtimes_*.py (issue 12): a real
client of some runtime does a token exchange with a bad code in a clean
environment, set up in one of the two ways a developer would:

  via="env"  env -i PATH=... HOME=... bash -c 'eval "$(oauthlens --env)";
             exec CMD' against the test class's proxy;
  via="run"  env -i PATH=... HOME=... oauthlens [base args] run -- CMD,
             with no proxy listening on its port, so run serves in the
             same process (its log on its stderr).

Either way nothing but the variables oauthlens sets tells the client about
the proxy or the CA. The proxy maps github.com to the fake GitHub with
--resolve and trusts the fake's test CA (--upstream-ca), as in
oauth_helpers.OAuthTestCase; NO_PROXY is loopback only, so github.com goes
through the proxy.
"""

import json
import os
import subprocess

import harness
import oauth_helpers as oh
from harness import BIN, SLOW

CLEAN_PATH = "/usr/local/bin:/usr/bin:/bin"
UNKNOWN_CODE = "beadbeadbeadbeadbead"


class RunResult:
    """What one client run left: its exit status and output, the
    oauth-error records the serving proxy logged for it (records), and
    every record it logged (all_records)."""

    def __init__(self, proc, records, log_text, all_records):
        self.all_records = all_records
        self.rc = proc.returncode
        self.stdout = proc.stdout.decode(errors="replace")
        self.stderr = proc.stderr.decode(errors="replace")
        self.records = records
        self.log_text = log_text

    @property
    def client_stderr(self):
        """stderr without the proxy's JSON log lines (under run both
        write there)."""
        return "\n".join(line for line in self.stderr.splitlines()
                         if not line.startswith('{"ts":'))

    def json(self):
        for line in reversed(self.stdout.splitlines()):
            if line.startswith("{"):
                return json.loads(line)
        raise AssertionError("no JSON line on stdout:\n%s\n%s" %
                             (self.stdout[-2000:], self.stderr[-2000:]))

    def __repr__(self):
        return "<RunResult rc=%s stdout=%r stderr=%r>" % (
            self.rc, self.stdout[-1500:], self.stderr[-3000:])


def json_lines(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


class RuntimeTestCase(oh.OAuthTestCase):

    @classmethod
    def proxy_setup(cls):
        cfg, args = super().proxy_setup()
        cls.home = os.path.join(cls.tmp, "home")
        os.makedirs(cls.home, exist_ok=True)
        return cfg, args

    def clean_env(self, extra=None):
        env = {"PATH": CLEAN_PATH, "HOME": self.home, "LANG": "C.UTF-8"}
        env.update(extra or {})
        return env

    def env_text(self):
        """The --env lines for the class proxy (its port and certs)."""
        r = harness.run_proxy_cli(["-c", self.proxy.config_path, "-l",
                                   "127.0.0.1:%d" % self.proxy.port] +
                                  self.base_args() + ["--env"])
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.decode()

    def run_client(self, argv, via, cwd=None, timeout=90, env=None):
        """Run argv in a clean environment set up `via` "env" or "run";
        returns a RunResult whose records are the oauth-error records
        logged for this run."""
        if via == "env":
            m = len(self.proxy.log_records())
            cmd = ["bash", "-c", 'eval "$1"; shift; exec "$@"', "bash",
                   self.env_text()] + list(argv)
        else:
            port = harness.free_port()
            cmd = [BIN, "-c", self.proxy.config_path, "-l",
                   "127.0.0.1:%d" % port, "--log-format", "json",
                   "--log-level", "info"] + self.base_args() + \
                ["run", "--"] + list(argv)
        try:
            p = subprocess.run(cmd, cwd=cwd or harness.SRC,
                               env=self.clean_env(env),
                               stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=timeout * SLOW)
        except subprocess.TimeoutExpired as e:
            self.fail("%s (via %s) did not finish in %gs: %r %r\n%s" % (
                argv[0], via, timeout * SLOW, (e.stdout or b"")[-1000:],
                (e.stderr or b"")[-2000:], self.proxy.tail()))
        if via == "env":
            def oauth():
                return [r for r in self.proxy.log_records()[m:]
                        if r.get("event") == "oauth-error"]
            # The line may trail the client's exit by a moment.
            if not oauth():
                harness.wait_until(oauth, 3 * SLOW)
            allrecs = self.proxy.log_records()[m:]
            log = self.proxy.tail()
        else:
            text = p.stderr.decode(errors="replace")
            allrecs = json_lines(text)
            log = text[-3000:]
            for marker in harness.SANITIZER_MARKERS:
                self.assertNotIn(marker, text, "sanitizer report under run")
        recs = [r for r in allrecs if r.get("event") == "oauth-error"]
        return RunResult(p, recs, log, allrecs)

    def spec(self, code=UNKNOWN_CODE):
        return {"clientId": self.app.client_id,
                "clientSecret": self.app.client_secret, "code": code,
                "redirectUri": oh.CALLBACK}

    def assert_logged(self, res, code="bad_verification_code", what=""):
        """Exactly one oauth-error record with the error and client_id,
        and no secret in it."""
        self.assertEqual(len(res.records), 1, "%s: expected one oauth-error "
                         "record, got %r\n%r\n%s" % (what, res.records, res,
                                                     res.log_text))
        rec = res.records[0]
        self.assertEqual(rec.get("error"), code, rec)
        self.assertEqual(rec.get("host"), "github.com", rec)
        self.assertEqual(rec.get("client_id"), self.app.client_id, rec)
        self.assert_no_secrets(json.dumps(rec), "the oauth-error record")
        return rec

    def assert_header(self, value, code="bad_verification_code"):
        self.assertIsNotNone(value, "the client saw no %s header" %
                             oh.HEADER)
        self.assert_annotation_value(value, code, "ja")
