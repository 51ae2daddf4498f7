#!/usr/bin/python3
"""The config schema and its documents: --help, --check-config,
oauthlens.conf(5) and oauthlens(8) list exactly the same keys, those of
proxy/confkeys.c's table; both man pages render without warnings (groff
-ww, mandoc -T lint, man -l) and install; the one rule for options against
the file holds in the real binary (a list option replaces the file's list,
+VALUE adds to it), also for a key that only the table made an option.

Clients: the binary, groff, mandoc, man, cmake --install, curl. The proxy
only in the last two tests."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness
from harness import BUILD, Origin, Proxy, run_proxy_cli

# Options that are not config keys.
FIXED = {"config", "check-config", "print-ca", "env", "new-ca", "version",
         "help"}
PAGES = ("oauthlens.8", "oauthlens.conf.5")


def page(name):
    return os.path.join(BUILD, name)


class Docs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="oauthlens-docs-")
        cls.conf = os.path.join(cls.tmp, "empty.conf")
        with open(cls.conf, "w") as f:
            f.write("{}\n")

    @classmethod
    def tearDownClass(cls):
        if not harness.KEEP_TMP:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def check_config(self, *args, conf=None):
        """The effective settings, {key: value}, in the order printed."""
        r = run_proxy_cli(["-c", conf or self.conf, "--check-config"] +
                          list(args))
        self.assertEqual(r.returncode, 0, r)
        out = r.stdout.decode().splitlines()
        self.assertTrue(out[0].endswith(": ok"), out[0])
        keys = {}
        for line in out[1:]:
            m = re.match(r"^  (\S+) +(.*)$", line)
            self.assertIsNotNone(m, line)
            keys[m.group(1)] = m.group(2)
        return keys

    def table_keys(self):
        keys = list(self.check_config())
        self.assertGreaterEqual(len(keys), 20, keys)
        self.assertEqual(len(keys), len(set(keys)), keys)
        return keys

    def help_text(self):
        r = run_proxy_cli(["--help"])
        self.assertEqual(r.returncode, 0, r)
        return r.stdout.decode()

    def help_flags(self, text):
        flags = re.findall(r"^  (?:-\w, |    )--([a-z][a-z0-9.-]*)", text,
                           re.M)
        self.assertEqual(len(flags), len(set(flags)), flags)
        return [f for f in flags if f not in FIXED]

    def test_help_lists_every_key(self):
        text = self.help_text()
        keys = self.table_keys()
        flags = self.help_flags(text)
        m = re.search(r"^Config file only: (.*)$", text, re.M)
        only = m.group(1).split(", ") if m else []
        self.assertEqual(sorted([f.replace("-", "_") for f in flags] + only),
                         sorted(keys))
        self.assertIn("proxy_auth", only, "a secret stays off argv")
        self.assertIn("+HOST", text, "--help states the rule for lists")
        for line in text.splitlines():
            self.assertLessEqual(len(line), 80, line)

    def test_conf5_lists_every_key_in_order(self):
        with open(page("oauthlens.conf.5")) as f:
            text = f.read()
        self.assertEqual(re.findall(r"^\.It Cm (\S+)$", text, re.M),
                         self.table_keys())
        self.assertIn("Fl \\-intercept Ar +api.example.test", text)

    def test_man8_lists_every_option(self):
        with open(page("oauthlens.8")) as f:
            text = f.read()
        opts = re.findall(r"^\.It (?:Fl \w , )?Fl \\-(\S+) Ar", text, re.M)
        self.assertEqual([o for o in opts if o not in FIXED],
                         self.help_flags(self.help_text()))
        sets = re.findall(r"^Sets\n\.Cm (\S+) :$", text, re.M)
        self.assertEqual(sets, [k for k in self.table_keys()
                                if k != "proxy_auth"])

    def test_groff_renders_without_warnings(self):
        groff = shutil.which("groff")
        self.assertIsNotNone(groff, "groff (groff-base) is not installed")
        for p in PAGES:
            r = subprocess.run([groff, "-ww", "-z", "-mandoc", page(p)],
                               capture_output=True, timeout=60)
            self.assertEqual((r.returncode, r.stderr.decode()), (0, ""), p)

    def test_mandoc_lint(self):
        mandoc = shutil.which("mandoc")
        if mandoc is None:
            # scripts/test.sh installs it (DEPS_TEST); by hand, say so.
            self.skipTest("mandoc not installed (apt-get install mandoc)")
        r = subprocess.run([mandoc, "-T", "lint", "-W", "warning"] +
                           [page(p) for p in PAGES], capture_output=True,
                           timeout=60)
        self.assertEqual((r.returncode, r.stdout.decode() +
                          r.stderr.decode()), (0, ""))

    def test_man_l_shows_both_pages(self):
        man = shutil.which("man")
        if man is None:
            self.skipTest("man (man-db) not installed")
        for p, want in (("oauthlens.8", "--check-config"),
                        ("oauthlens.conf.5", "timeouts.idle")):
            r = subprocess.run([man, "-l", page(p)], capture_output=True,
                               timeout=60, env=dict(harness.clean_env(),
                                                    MANWIDTH="80",
                                                    MANPAGER="cat",
                                                    PAGER="cat"))
            self.assertEqual(r.returncode, 0, r)
            out = re.sub(r".\x08", "", r.stdout.decode())
            self.assertIn("NAME", out)
            self.assertIn(want, out.replace("\u2010", "-"))

    def test_pages_install(self):
        dest = os.path.join(self.tmp, "dest")
        harness.cmake_install(self, dest)
        found = {}
        for root, _, files in os.walk(dest):
            for name in files:
                found[name] = os.path.relpath(os.path.join(root, name), dest)
        self.assertRegex(found.get("oauthlens.8", ""), r"man/man8/")
        self.assertRegex(found.get("oauthlens.conf.5", ""), r"man/man5/")
        self.assertIn("BENCHMARKS.md", found)

    def test_rule_for_lists(self):
        conf = os.path.join(self.tmp, "list.conf")
        with open(conf, "w") as f:
            f.write('{"intercept": ["a.test"], "lang": "en"}\n')
        got = self.check_config("--intercept", "b.test", "--intercept",
                                "c.test", conf=conf)
        self.assertEqual(got["intercept"], "b.test c.test")
        got = self.check_config("--intercept", "+b.test", conf=conf)
        self.assertEqual(got["intercept"], "a.test b.test")
        got = self.check_config("--lang", "auto", "--timeouts.idle", "1.5",
                                conf=conf)
        self.assertEqual((got["lang"], got["timeouts.idle"]), ("auto", "1.5"))
        self.assertEqual(got["intercept"], "a.test")

    def test_bad_option_names_itself(self):
        r = run_proxy_cli(["-c", self.conf, "--check-config",
                           "--max-connections", "0"])
        self.assertEqual(r.returncode, 2, r)
        err = r.stderr.decode().strip()
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn("--max-connections 0: expected an integer between 1 "
                      "and 1000000", err)


class AllowOption(unittest.TestCase):
    """--allow, an option only because the table has a row for it: a
    plain value replaces the default loopback list (so this client gets
    403), +VALUE adds to it (so it is served)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="oauthlens-allow-")
        cls.origin = Origin().start()

    @classmethod
    def tearDownClass(cls):
        cls.origin.stop()
        if not harness.KEEP_TMP:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def status_with(self, value, name):
        p = Proxy(self.tmp, {}, ["--allow", value], name=name).start()
        try:
            r = harness.curl(self.origin.url("/echo?allow=" + name), p,
                             tmpdir=self.tmp)
        finally:
            p.stop()
        return r.status

    def test_replace_and_add(self):
        self.assertEqual(self.status_with("10.0.0.0/8", "replace"), 403)
        self.assertEqual(self.status_with("+10.0.0.0/8", "add"), 200)


if __name__ == "__main__":
    harness.main()
