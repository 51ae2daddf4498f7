#!/usr/bin/python3
"""oauthlens run -- CMD (issue 12, item 1; DESIGN.md's command line):

- CMD gets exactly the variables --env prints (same names, same values
  once a shell has evaluated the quoting), an existing NODE_OPTIONS kept
  after ours, and nothing else;
- with nothing listening on the address, run serves in the same process
  while CMD runs (CMD's request through the proxy is in run's log) and
  exits with CMD's status: its exit code, 128 + the signal that killed it,
  127 when it does not exist;
- with an oauthlens already listening there, run only sets the variables
  and execs: CMD has run's pid, and its traffic goes to that proxy; with
  another server there, run refuses (exit 1) and CMD does not run;
- SIGINT, SIGTERM and SIGHUP sent to run reach CMD; a ^C typed on the
  terminal (a pty here) reaches it once, not twice;
- --print-ca names each runtime's fix and which Node gets which mechanism;
- --env's quoting survives a CA directory with blanks and quotes;
- NO_PROXY keeps loopback direct for curl, Python and Node (preload).
"""

import json
import os
import pty
import select
import signal
import subprocess
import time

import harness
import oauth_helpers as oh
import runenv_helpers as rh
from harness import BIN, SLOW

PY = "/usr/bin/python3"

# Prints its environment as NAME=VALUE lines (NUL-separated).
PRINT_ENV = "import os,sys; sys.stdout.write(''.join(k+'='+v+'\\0' for k,v " \
    "in sorted(os.environ.items())))"

# Waits for a signal, then exits with 100 + its number.
WAIT_SIGNAL = """
import os, signal, sys, time
ready = sys.argv[1]
def h(sig, frame):
    os._exit(100 + sig)
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, h)
open(ready, "w").write(str(os.getpid()))
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    time.sleep(0.05)
os._exit(3)
"""

# Counts SIGINTs: after the first, waits a second for a duplicate, then
# exits with 100 + the count.
COUNT_SIGINT = """
import os, signal, sys, time
n = [0]
def h(sig, frame):
    n[0] += 1
signal.signal(signal.SIGINT, h)
open(sys.argv[1], "w").write(str(os.getpid()))
deadline = time.monotonic() + 60
while n[0] == 0 and time.monotonic() < deadline:
    time.sleep(0.02)
time.sleep(1)
os._exit(100 + n[0])
"""


def env_dict(raw):
    out = {}
    for item in raw.decode().split("\0"):
        if item:
            k, _, v = item.partition("=")
            out[k] = v
    return out


class Run(rh.RuntimeTestCase):

    def run_cmd(self, argv, port=None, env=None, timeout=60, certs=None):
        """oauthlens [base args] -l 127.0.0.1:port run -- argv, waited
        for; a free port (so run serves) unless given."""
        cmd = [BIN, "-c", self.proxy.config_path, "-l", "127.0.0.1:%d" %
               (port or harness.free_port()), "--log-format", "json"] + \
            self.base_args(certs) + ["run", "--"] + list(argv)
        return subprocess.run(cmd, env=self.clean_env(env),
                              capture_output=True, timeout=timeout * SLOW,
                              stdin=subprocess.DEVNULL, cwd=harness.SRC)

    def env_vars(self, port, certs=None, base=None):
        """The variables eval "$(oauthlens --env)" sets, as a dict."""
        r = harness.run_proxy_cli(["-c", self.proxy.config_path, "-l",
                                   "127.0.0.1:%d" % port] +
                                  self.base_args(certs) + ["--env"])
        self.assertEqual(r.returncode, 0, r.stderr)
        p = subprocess.run(["bash", "-c", 'eval "$1"; exec "$2" -c "$3"',
                            "bash", r.stdout.decode(), PY, PRINT_ENV],
                           env=self.clean_env(base), capture_output=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = env_dict(p.stdout)
        for k in ("PWD", "SHLVL", "_"):     # bash's own
            got.pop(k, None)
        return r.stdout.decode(), got

    def test_sets_exactly_the_env_variables(self):
        port = harness.closed_port()
        text, want = self.env_vars(port)
        r = self.run_cmd([PY, "-c", PRINT_ENV], port=port)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = env_dict(r.stdout)
        self.assertEqual(got, want)
        # The variables of the issue, each with its value.
        url = "http://127.0.0.1:%d" % port
        certs = os.path.realpath(self.certs)
        bundle = os.path.join(certs, "ca-bundle.pem")
        for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            self.assertEqual(got[k], url, k)
        for k in ("NO_PROXY", "no_proxy"):
            self.assertEqual(got[k], "localhost,127.0.0.1,::1", k)
        for k in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                  "GIT_SSL_CAINFO"):
            self.assertEqual(got[k], bundle, k)
        self.assertEqual(got["NODE_EXTRA_CA_CERTS"],
                         os.path.join(certs, "ca.pem"))
        self.assertEqual(got["NODE_USE_ENV_PROXY"], "1")
        preload = os.path.join(os.path.realpath(harness.SRC), "proxy",
                               "node", "oauthlens-preload.cjs")
        self.assertEqual(got["NODE_OPTIONS"], "--require " + preload)
        self.assertEqual(got["JAVA_TOOL_OPTIONS"], (
            "-Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=%d "
            "-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=%d "
            "-Dhttp.nonProxyHosts=localhost|127.0.0.1|[::1] "
            "-Djavax.net.ssl.trustStore=%s/java-truststore.p12 "
            "-Djavax.net.ssl.trustStorePassword=changeit "
            "-Djavax.net.ssl.trustStoreType=PKCS12") % (port, port, certs))
        self.assertEqual(got["PHP_INI_SCAN_DIR"], ":%s/php" % certs)
        self.assertEqual(got["WGETRC"], "%s/wgetrc" % certs)
        # The JAVA_TOOL_OPTIONS line needs its quotes.
        self.assertIn("export JAVA_TOOL_OPTIONS='-Dhttps.proxyHost=", text)

    def test_keeps_node_options(self):
        port = harness.closed_port()
        base = {"NODE_OPTIONS": "--max-old-space-size=100"}
        _, want = self.env_vars(port, base=base)
        r = self.run_cmd([PY, "-c", PRINT_ENV], port=port, env=base)
        got = env_dict(r.stdout)
        self.assertEqual(got, want)
        self.assertRegex(got["NODE_OPTIONS"],
                         r"^--require \S+oauthlens-preload\.cjs "
                         r"--max-old-space-size=100$")

    def test_env_quoting_with_odd_certs_dir(self):
        certs = os.path.join(self.tmp, "my certs 'x' $HOME")
        port = harness.closed_port()
        _, got = self.env_vars(port, certs=certs)
        real = os.path.realpath(certs)
        self.assertEqual(got["SSL_CERT_FILE"],
                         os.path.join(real, "ca-bundle.pem"))
        self.assertTrue(os.path.exists(got["SSL_CERT_FILE"]))
        self.assertEqual(got["PHP_INI_SCAN_DIR"], ":%s/php" % real)
        self.assertIn('-Djavax.net.ssl.trustStore="%s/java-truststore.p12"'
                      % real, got["JAVA_TOOL_OPTIONS"])
        r = self.run_cmd([PY, "-c", PRINT_ENV], port=port, certs=certs)
        self.assertEqual(env_dict(r.stdout), got)

    def test_serves_while_the_command_runs(self):
        r = self.run_cmd(["curl", "-sS", "https://github.com/zen"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"fake github (github.com)\n")
        recs = rh.json_lines(r.stderr.decode())
        msgs = [x.get("msg", "") for x in recs]
        self.assertTrue(any(m.startswith("listening on") for m in msgs),
                        r.stderr)
        self.assertTrue([x for x in recs if x.get("event") == "access" and
                         x.get("target") == "/zen"], r.stderr)
        self.assertIn("stopped", msgs)

    def test_exit_status(self):
        for argv, want in (([PY, "-c", "import sys; sys.exit(7)"], 7),
                           (["true"], 0),
                           ([PY, "-c", "import os; os.kill(os.getpid(), "
                             "15)"], 128 + 15),
                           (["no-such-command-oauthlens"], 127)):
            with self.subTest(cmd=argv[-1]):
                r = self.run_cmd(argv)
                self.assertEqual(r.returncode, want, r.stderr)
        r = harness.run_proxy_cli(["run", "--"])
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"run needs a command", r.stderr)
        r = harness.run_proxy_cli(["run", "--lang", "en", "--", "true"])
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"options go before run", r.stderr)
        # Without "--" the command starts at the first word after run.
        r = subprocess.run([BIN, "-c", self.proxy.config_path, "-l",
                            "127.0.0.1:%d" % harness.free_port()] +
                           self.base_args() + ["run", "sh", "-c", "exit 5"],
                           env=self.clean_env(), capture_output=True,
                           timeout=60 * SLOW, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 5, r.stderr)

    def test_execs_when_a_proxy_listens(self):
        m = self.mark()
        cmd = [BIN, "-c", self.proxy.config_path, "-l",
               "127.0.0.1:%d" % self.proxy.port] + self.base_args() + \
            ["run", "--", "sh", "-c",
             'echo $$; exec curl -sS https://github.com/zen']
        p = subprocess.Popen(cmd, env=self.clean_env(), cwd=harness.SRC,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        out, err = p.communicate(timeout=30 * SLOW)
        self.assertEqual(p.returncode, 0, err)
        pid, _, body = out.decode().partition("\n")
        self.assertEqual(int(pid), p.pid, "the command did not replace run")
        self.assertEqual(body, "fake github (github.com)\n")
        self.assertNotIn(b"listening on", err)
        self.assertTrue(self.proxy.wait_access(
            lambda x: x.get("target") == "/zen" and
            x in self.proxy.log_records()[m["log"]:]),
            "the request did not reach the listening proxy")

    def test_loopback_stays_direct(self):
        # NO_PROXY: an app calling itself or a local service does not go
        # through oauthlens, with curl, Python and Node (the preload's
        # fetch and http module on the machine's Node).
        node = oh.node_bin()
        script = (
            "set -e\n"
            "for h in 127.0.0.1 localhost; do\n"
            "  curl -sS http://$h:%(p)d/echo; echo\n"
            "  %(py)s -c 'import requests,sys; "
            "print(requests.get(sys.argv[1]).text)' http://$h:%(p)d/echo\n"
            "done\n" % {"p": self.origin.port, "py": PY})
        if node:
            script += (
                "%(node)s -e 'fetch(process.argv[1]).then((r) => r.text())"
                ".then(console.log)' http://127.0.0.1:%(p)d/echo\n"
                "%(node)s -e 'require(\"http\").get(process.argv[1], (r) => "
                "r.pipe(process.stdout))' http://localhost:%(p)d/echo\n"
                % {"node": node, "p": self.origin.port})
        n0 = self.origin.request_count
        r = self.run_cmd(["bash", "-c", script])
        self.assertEqual(r.returncode, 0, r.stderr)
        bodies, text, dec = [], r.stdout.decode().strip(), json.JSONDecoder()
        while text:
            obj, end = dec.raw_decode(text)
            bodies.append(obj)
            text = text[end:].strip()
        self.assertEqual(len(bodies), 6 if node else 4, r.stdout)
        for b in bodies:
            self.assertFalse([v for n, v in b["headers"]
                              if n.lower() == "via"], b)
        self.assertEqual(self.origin.request_count - n0, len(bodies))
        self.assertEqual([x for x in rh.json_lines(r.stderr.decode())
                          if x.get("event") == "access"], [], r.stderr)

    def test_refuses_when_another_server_listens(self):
        # An origin that is not oauthlens on the address: run must not
        # send the command's traffic there, nor run it.
        port = self.origin.port
        marker = os.path.join(self.tmp, "ran")
        r = self.run_cmd(["touch", marker], port=port)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"something other than oauthlens listens", r.stderr)
        self.assertFalse(os.path.exists(marker))

    def test_signals_reach_the_command(self):
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with self.subTest(sig=sig.name):
                ready = os.path.join(self.tmp, "ready-%d" % sig)
                cmd = [BIN, "-c", self.proxy.config_path, "-l",
                       "127.0.0.1:%d" % harness.free_port()] + \
                    self.base_args() + ["run", "--", PY, "-c", WAIT_SIGNAL,
                                        ready]
                p = subprocess.Popen(cmd, env=self.clean_env(),
                                     cwd=harness.SRC,
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
                try:
                    self.assertTrue(harness.wait_until(
                        lambda: os.path.exists(ready) and
                        os.path.getsize(ready) > 0, 20 * SLOW),
                        "the command did not start")
                    p.send_signal(sig)
                    out, err = p.communicate(timeout=30 * SLOW)
                finally:
                    if p.poll() is None:
                        p.kill()
                        p.wait()
                self.assertEqual(p.returncode, 100 + sig, err)
                self.assertIn(b"passing it on", err)

    def test_terminal_ctrl_c_reaches_the_command_once(self):
        ready = os.path.join(self.tmp, "ready-pty")
        cmd = [BIN, "-c", self.proxy.config_path, "-l",
               "127.0.0.1:%d" % harness.free_port(), "--log-level",
               "debug"] + self.base_args() + \
            ["run", "--", PY, "-c", COUNT_SIGINT, ready]
        pid, fd = pty.fork()
        if pid == 0:            # a new session, the pty its terminal
            try:
                os.chdir(harness.SRC)
                os.execve(BIN, cmd, self.clean_env())
            finally:
                os._exit(127)
        out = b""
        status = None
        deadline = time.monotonic() + 60 * SLOW
        sent = False
        try:
            while time.monotonic() < deadline:
                if not sent and os.path.exists(ready) and \
                        os.path.getsize(ready) > 0:
                    os.write(fd, b"\x03")      # ^C, as typed
                    sent = True
                r, _, _ = select.select([fd], [], [], 0.1)
                if r:
                    try:
                        chunk = os.read(fd, 65536)
                    except OSError:             # EIO: the session ended
                        chunk = b""
                    out += chunk
                got, st = os.waitpid(pid, os.WNOHANG)
                if got == pid:
                    status = st
                    break
        finally:
            if status is None:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            os.close(fd)
        self.assertTrue(sent, "the command never started:\n%s" %
                        out.decode(errors="replace"))
        self.assertIsNotNone(status, "run did not exit")
        self.assertEqual(os.waitstatus_to_exitcode(status), 101,
                         "the command got %d SIGINTs (want 1):\n%s" % (
                             os.waitstatus_to_exitcode(status) - 100,
                             out.decode(errors="replace")[-2000:]))
        # Two SIGINTs close together may merge into one in the kernel, so
        # the count alone cannot tell: run must also have decided not to
        # pass this one on.
        self.assertIn(b"the terminal sent it to the command too", out)
        self.assertNotIn(b"passing it on", out)

    def test_print_ca(self):
        r = harness.run_proxy_cli(["-c", self.proxy.config_path, "-l",
                                   "127.0.0.1:%d" % self.proxy.port] +
                                  self.base_args() + ["--print-ca"])
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        certs = os.path.realpath(self.certs)
        for want in ("oauthlens run --", "export WGETRC=%s/wgetrc" % certs,
                     "trust_env=True", "NODE_USE_ENV_PROXY=1",
                     "22.21+, 24.5+", "18, 20",
                     "oauthlens-preload.cjs", "export JAVA_TOOL_OPTIONS=",
                     "export PHP_INI_SCAN_DIR=:%s/php" % certs,
                     "curl --cacert %s/ca-bundle.pem" % certs,
                     "request_fulluri"):
            self.assertIn(want, out)
        self.assertNotIn("keytool", out)


if __name__ == "__main__":
    oh.main()
