"""Real runtimes run the way a developer runs them (issue 12): a clean
environment (`env -i` plus PATH and HOME) and nothing but the lines
`oauthlens --env` prints, then an idiomatic token exchange through the
proxy's intercepted TLS against the fake GitHub. The clients live in
tests/clients/ and print one JSON object (status, headers, body_b64,
error).

  require(tool, package)   path of a runtime's command; missing: the test
                           fails under CI (scripts/test.sh installs it)
                           and is skipped, with a message, by hand;
  npm_binary(rel, what)    the same for Deno and Bun, from the npm
                           registry's binary packages (tests/runtimes/);
  RuntimeCase              an OAuthTestCase with run_client() and
                           check_bad_code()/check_good_code();
  env_lines(case)          the environment the --env lines give.

While --env predates the shared contract (issue 12; it prints no
JAVA_TOOL_OPTIONS), the variables it lacks are added from the contract,
so the tests exercise the files and the transport; once it prints the
contract's list, its own lines alone are used.
"""

import base64
import json
import os
import shutil
import subprocess
import unittest

import harness
import oauth_helpers as oh
from harness import SLOW

CLIENTS = os.path.join(harness.SRC, "tests", "clients")
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


def require(tool, package):
    """The absolute path of tool; under CI a missing tool is a failure
    (scripts/test.sh installs package), by hand a skip."""
    path = shutil.which(tool, path=BASE_PATH)
    if path:
        return path
    msg = "%s is not installed (Debian package %s; scripts/test.sh " \
        "installs it)" % (tool, package)
    if os.environ.get("CI"):
        raise AssertionError(msg)
    raise unittest.SkipTest(msg)


RUNTIMES_DIR = os.path.join(harness.SRC, "tests", "runtimes")


def npm_binary(rel, what):
    """A binary from tests/runtimes/node_modules (Deno, Bun: the npm
    registry's binary packages), installed first by tests/runtimes/
    install.sh under a lock; missing: a failure under CI, a skip by hand."""
    import fcntl
    if shutil.which("npm") is not None:
        with open(os.path.join(RUNTIMES_DIR, ".install.lock"), "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            r = subprocess.run(["sh", os.path.join(RUNTIMES_DIR,
                                                   "install.sh")],
                               capture_output=True, timeout=600)
        if r.returncode != 0:
            raise AssertionError("tests/runtimes/install.sh failed: %s" %
                                 r.stderr.decode(errors="replace")[-2000:])
    path = os.path.join(RUNTIMES_DIR, "node_modules", rel)
    if os.access(path, os.X_OK):
        return path
    msg = "%s is not installed (tests/runtimes/install.sh needs npm)" % what
    if os.environ.get("CI"):
        raise AssertionError(msg)
    raise unittest.SkipTest(msg)


def contract_vars(port, certs):
    """The variables of issue 12's contract for a proxy on 127.0.0.1."""
    certs = os.path.realpath(certs)
    bundle = os.path.join(certs, "ca-bundle.pem")
    url = "http://127.0.0.1:%d" % port
    java = ("-Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort={p} "
            "-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort={p} "
            "-Dhttp.nonProxyHosts=localhost|127.0.0.1|[::1] "
            "-Djavax.net.ssl.trustStore={c}/java-truststore.p12 "
            "-Djavax.net.ssl.trustStorePassword=changeit "
            "-Djavax.net.ssl.trustStoreType=PKCS12").format(p=port, c=certs)
    return {
        "HTTP_PROXY": url, "HTTPS_PROXY": url, "http_proxy": url,
        "https_proxy": url, "NO_PROXY": "localhost,127.0.0.1,::1",
        "no_proxy": "localhost,127.0.0.1,::1", "SSL_CERT_FILE": bundle,
        "REQUESTS_CA_BUNDLE": bundle, "CURL_CA_BUNDLE": bundle,
        "GIT_SSL_CAINFO": bundle,
        "NODE_EXTRA_CA_CERTS": os.path.join(certs, "ca.pem"),
        "JAVA_TOOL_OPTIONS": java,
        "PHP_INI_SCAN_DIR": ":" + os.path.join(certs, "php"),
        "WGETRC": os.path.join(certs, "wgetrc"),
    }


def env_lines(proxy, certs, home, args=()):
    """The environment of a fresh shell (PATH, HOME) after
    eval "$(oauthlens [args] --env)" for this proxy and CA directory,
    completed from the contract where --env does not print a variable
    yet."""
    r = harness.run_proxy_cli(list(args) + ["--certs", certs, "--env", "-l",
                                            "127.0.0.1:%d" % proxy.port])
    if r.returncode != 0:
        raise AssertionError("oauthlens --env failed: %s" % r.stderr)
    e = subprocess.run(["/bin/bash", "-c", 'eval "$1" && env -0', "bash",
                        r.stdout.decode()], capture_output=True, timeout=10,
                       env={"PATH": BASE_PATH, "HOME": home})
    if e.returncode != 0:
        raise AssertionError("the --env lines do not run in bash: %s" %
                             e.stderr.decode(errors="replace"))
    env = dict(x.split("=", 1) for x in e.stdout.decode().split("\0")
               if "=" in x)
    if "JAVA_TOOL_OPTIONS" not in env:
        # An --env from before the contract: complete it, so the files
        # and the transport are tested until it prints everything.
        for k, v in contract_vars(proxy.port, certs).items():
            env.setdefault(k, v)
    return env


class RuntimeCase(oh.OAuthTestCase):
    """OAuthTestCase plus a client runner in a clean environment."""

    # Options --env is given before its own (a subclass's config file).
    env_args = ()

    def client_env(self, drop=(), extra=None):
        home = os.path.join(self.tmp, "home")
        os.makedirs(home, exist_ok=True)
        env = env_lines(self.proxy, self.certs, home, self.env_args)
        for k in drop:
            env.pop(k, None)
        env.update(extra or {})
        return env

    def run_client(self, argv, env=None, cwd=None, timeout=60):
        """Run a client (argv) in env (default: client_env()); its JSON
        output as a dict (status, headers, body, error, stderr)."""
        r = subprocess.run(argv, env=env if env is not None else
                           self.client_env(), cwd=cwd or self.tmp,
                           capture_output=True, timeout=timeout * SLOW,
                           stdin=subprocess.DEVNULL)
        err = r.stderr.decode(errors="replace")
        try:
            out = json.loads(r.stdout.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            self.fail("%s printed no JSON (exit %d): %r\nstderr: %s\n%s" % (
                argv[:2], r.returncode, r.stdout[-500:], err[-2000:],
                self.proxy.tail()))
        out["body"] = base64.b64decode(out.get("body_b64") or "")
        out["headers"] = [tuple(h) for h in out.get("headers") or []]
        out["stderr"] = err
        return out

    def form(self, code, secret=None, redirect_uri=oh.CALLBACK):
        import urllib.parse
        return urllib.parse.urlencode(self.params(code, secret,
                                                  redirect_uri))

    def check_bad_code(self, exchange, code="beadbeadbeadbeadbead"):
        """exchange(form) runs a client; a code GitHub does not know gets
        the fake's bad_verification_code with the annotation header and one
        oauth-error record."""
        m = self.mark()
        out = exchange(self.form(code))
        self.assertIsNone(out["error"], "%s\n%s\n%s" % (
            out["error"], out["stderr"][-1500:], self.proxy.tail()))
        self.assertEqual(out["status"], 200, out)
        rec = self.one_record_since(m["gh"])
        self.assert_annotated(out["headers"], out["body"], rec,
                              "bad_verification_code", mark=m,
                              body_is_raw=rec.content_encoding is None)
        return out

    def check_good_code(self, exchange):
        """A fresh code: the token arrives, nothing is added."""
        m = self.mark()
        out = exchange(self.form(self.fresh_code()))
        self.assertIsNone(out["error"], "%s\n%s" % (out["error"],
                                                    self.proxy.tail()))
        self.assertEqual(out["status"], 200, out)
        rec = self.one_record_since(m["gh"])
        self.assertEqual(rec.outcome, "success")
        self.assertIn(rec.access_token.encode(), out["body"])
        self.assert_untouched(out["headers"], out["body"], rec, mark=m,
                              body_is_raw=rec.content_encoding is None)
        return out

    def check_untrusted(self, exchange, runtime, error_part=None):
        """exchange(form) runs a client missing its CA setting: it fails
        (its error naming error_part), the token endpoint never hears of
        it, and the proxy's one tls-untrusted record names runtime. The
        record is returned."""
        m = len(self.proxy.log_records())
        n = self.gh.token_request_count
        out = exchange(self.form("beadbead"))
        self.assertIsNotNone(out["error"], out)
        if error_part is not None:
            self.assertIn(error_part, out["error"])
        recs = harness.wait_until(lambda: self.untrusted_records(m),
                                  10 * SLOW)
        self.assertTrue(recs, "no tls-untrusted record:\n" +
                        self.proxy.tail())
        self.assertEqual(recs[0].get("runtime"), runtime, recs[0])
        self.assertEqual(self.gh.token_request_count, n)
        return recs[0]

    def untrusted_records(self, since):
        return [r for r in self.proxy.log_records()[since:]
                if r.get("event") == "tls-untrusted"]
