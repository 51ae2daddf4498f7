#!/usr/bin/python3
"""Command line and config file: -h, -V, --check-config, unknown options
and bad values exit 2 with one line, config errors name file:line:column,
comments are allowed, SIGTERM exits 0, -l is repeatable.

Client: the binary itself and curl. No proxy per class."""

import os
import re
import socket

import harness
from harness import ProxyTestCase, run_proxy_cli


class Cli(ProxyTestCase):
    start_proxy = False

    def write(self, name, text):
        p = os.path.join(self.tmp, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def test_help(self):
        r = run_proxy_cli(["-h"])
        self.assertEqual(r.returncode, 0, r)
        out = (r.stdout + r.stderr).decode()
        for opt in ("--config", "--listen", "--resolve", "--log-format",
                    "--log-level", "--check-config"):
            self.assertIn(opt, out)

    def test_version(self):
        r = run_proxy_cli(["-V"])
        self.assertEqual(r.returncode, 0, r)
        self.assertRegex((r.stdout + r.stderr).decode(), r"\d+\.\d+\.\d+")

    def assert_usage_error(self, args):
        r = run_proxy_cli(args)
        self.assertEqual(r.returncode, 2, "%s: %r" % (args, r))
        err = r.stderr.decode().strip()
        self.assertTrue(err, "%s: no message" % args)
        self.assertEqual(len(err.splitlines()), 1,
                         "%s: not one line: %r" % (args, err))

    def test_unknown_option(self):
        self.assert_usage_error(["--no-such-option"])

    def test_bad_values(self):
        good = self.write("good.conf", "{}\n")
        for args in (["--log-level", "loud"], ["--log-format", "xml"],
                     ["-l", "127.0.0.1:notaport"], ["-l", "127.0.0.1:70000"],
                     ["--resolve", "host-without-port"]):
            self.assert_usage_error(["-c", good, "--check-config"] + args)

    def test_check_config_ok_with_comments(self):
        p = self.write("ok.conf", """// line comment
{
  /* block comment */
  "allow": ["127.0.0.0/8", "::1/128"],
  "connect_ports": [443, 8443],
  "max_connections": 100,
  "timeouts": {"connect": 5, "header": 10, "idle": 60, "drain": 1.5},
  "log_level": "debug"
}
""")
        r = run_proxy_cli(["-c", p, "--check-config"])
        self.assertEqual(r.returncode, 0, r)

    def test_unknown_key_names_position(self):
        p = self.write("unknown.conf", '{\n  "allow": [],\n  "bogus": 1\n}\n')
        r = run_proxy_cli(["-c", p, "--check-config"])
        self.assertEqual(r.returncode, 2, r)
        err = r.stderr.decode() + r.stdout.decode()
        self.assertRegex(err, re.escape(p) + r":3:\d+",
                         "no file:line:column for the unknown key")
        self.assertIn("bogus", err)

    def test_syntax_error_names_position(self):
        p = self.write("syntax.conf", '{\n  "allow": [\n    "127.0.0.1/8",,\n'
                       '  ]\n}\n')
        r = run_proxy_cli(["-c", p, "--check-config"])
        self.assertEqual(r.returncode, 2, r)
        self.assertRegex(r.stderr.decode() + r.stdout.decode(),
                         re.escape(p) + r":3:\d+")

    def test_bad_value_in_config(self):
        for body in ('{"max_connections": "many"}',
                     '{"allow": ["300.0.0.0/8"]}',
                     '{"timeouts": {"idle": -1}}',
                     '{"connect_ports": [0]}'):
            p = self.write("bad.conf", body)
            r = run_proxy_cli(["-c", p, "--check-config"])
            self.assertEqual(r.returncode, 2, "%s: %r" % (body, r))
            self.assertIn(p, r.stderr.decode() + r.stdout.decode())

    def test_missing_config_file(self):
        r = run_proxy_cli(["-c", os.path.join(self.tmp, "absent.conf"),
                           "--check-config"])
        self.assertEqual(r.returncode, 2, r)

    def test_two_listeners_and_sigterm(self):
        extra = harness.free_port()
        p = self.new_proxy({}, ["-l", "127.0.0.1:%d" % extra])
        with socket.create_connection(("127.0.0.1", extra), 5):
            pass
        for port in (p.port, extra):
            r = harness.curl(self.origin.url("/echo?l=%d" % port),
                             "http://127.0.0.1:%d" % port, tmpdir=self.tmp)
            self.assertEqual(r.status, 200, r)
        # Cleanup stops it with SIGTERM and requires exit status 0.

    def test_listen_from_config(self):
        p = self.new_proxy({}, cli_listen=False)
        self.assertNotIn("-l", p.command())
        r = harness.curl(self.origin.url("/echo?cfg-listen=1"), p,
                         tmpdir=self.tmp)
        self.assertEqual(r.status, 200, r)

    def test_command_line_overrides_config(self):
        # Config says log_format text; the command line says json.
        p = self.new_proxy({"log_format": "text", "log_level": "error"})
        harness.curl(self.origin.url("/echo?override=1"), p,
                     tmpdir=self.tmp)
        self.assertTrue(harness.wait_until(
            lambda: p.access_records(), 3 * harness.SLOW),
            "--log-format json --log-level debug did not override the "
            "config\n" + p.tail())


if __name__ == "__main__":
    harness.main()
