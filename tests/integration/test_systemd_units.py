#!/usr/bin/python3
"""The systemd units: conf/oauthlens.service.in as CMake configured it
(<build>/oauthlens.service) and conf/oauthlens.socket.

- `systemd-analyze verify` passes on both (exit 0 and not one output line
  about our units). ExecStart names the install path, which does not exist
  here, so the copy verified has ExecStart pointing at OAUTHLENS_BIN with
  -c conf/oauthlens.conf; the original is checked for that install path.
- The service has the keys the issue asks for: Type=notify, WatchdogSec,
  ExecReload sending HUP to $MAINPID, Restart=on-failure, DynamicUser,
  StateDirectory=oauthlens and the hardening list.
- The socket unit pairs with the service (same name, Accept=no) and
  listens on the default address.
- `cmake --install` into a DESTDIR puts the binary, config, catalog and
  units where ExecStart and the unit directory expect them.
"""

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import unittest

import harness
from harness import BIN, SRC

# ctest sets OAUTHLENS_BUILD; by hand, OAUTHLENS_BIN's directory is the
# build directory (the binary is built at its top).
BUILD = os.environ.get("OAUTHLENS_BUILD") or os.path.dirname(BIN)

SERVICE_BUILT = os.path.join(BUILD, "oauthlens.service")
SERVICE_IN = os.path.join(SRC, "conf", "oauthlens.service.in")
SOCKET = os.path.join(SRC, "conf", "oauthlens.socket")
CONF = os.path.join(SRC, "conf", "oauthlens.conf")
ANALYZE = shutil.which("systemd-analyze")


def parse_unit(path):
    """{section: [(key, value), ...]} with continuation lines joined and
    comments dropped, keys in file order (repeatable keys stay
    repeated)."""
    out = {}
    section = None
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    buf = ""
    for raw in lines:
        line = buf + raw
        buf = ""
        if line.endswith("\\"):
            buf = line[:-1] + " "
            continue
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if s.startswith("[") and s.endswith("]"):
            section = s[1:-1]
            out.setdefault(section, [])
            continue
        if section is None or "=" not in s:
            raise ValueError("%s: unexpected line %r" % (path, raw))
        k, _, v = s.partition("=")
        out[section].append((k.strip(), v.strip()))
    return out


def values(unit, section, key):
    return [v for k, v in unit.get(section, []) if k == key]


def value(unit, section, key):
    v = values(unit, section, key)
    return v[-1] if v else None


def cmake_cache(key):
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return line.split("=", 1)[1].strip()
    except FileNotFoundError:
        pass
    return None


class Units(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="oauthlens-units-")
        if not harness.KEEP_TMP:
            self.addCleanup(shutil.rmtree, self.tmp, True)
        self.assertTrue(os.path.exists(SERVICE_BUILT),
                        "%s missing: CMake must configure "
                        "conf/oauthlens.service.in into the build directory"
                        % SERVICE_BUILT)
        self.service = parse_unit(SERVICE_BUILT)
        self.socket = parse_unit(SOCKET)

    def verifiable_copy(self):
        """A copy of the built service whose ExecStart runs OAUTHLENS_BIN
        -c conf/oauthlens.conf, next to a copy of the socket unit."""
        with open(SERVICE_BUILT, encoding="utf-8") as f:
            text = f.read()
        starts = re.findall(r"^ExecStart=.*$", text, re.M)
        self.assertEqual(len(starts), 1, starts)
        argv = shlex.split(starts[0].partition("=")[2])
        self.assertIn("-c", argv)
        argv[0] = BIN
        argv[argv.index("-c") + 1] = CONF
        text = text.replace(starts[0], "ExecStart=" +
                            " ".join(shlex.quote(a) for a in argv))
        svc = os.path.join(self.tmp, "oauthlens.service")
        sock = os.path.join(self.tmp, "oauthlens.socket")
        with open(svc, "w", encoding="utf-8") as f:
            f.write(text)
        shutil.copy(SOCKET, sock)
        return svc, sock

    def verify(self, *units):
        r = subprocess.run([ANALYZE, "verify"] + list(units),
                           capture_output=True, timeout=60, cwd=self.tmp,
                           env=dict(harness.clean_env(), SYSTEMD_PAGER="",
                                    SYSTEMD_LOG_COLOR="0"))
        out = (r.stdout + r.stderr).decode("utf-8", errors="replace")
        return r.returncode, out

    @unittest.skipIf(ANALYZE is None, "systemd-analyze not installed "
                     "(Debian package systemd)")
    def test_systemd_analyze_verify_both_units(self):
        svc, sock = self.verifiable_copy()
        rc, out = self.verify(svc, sock)
        ours = [line for line in out.splitlines()
                if "oauthlens" in line]
        self.assertEqual(rc, 0, "systemd-analyze verify failed:\n" + out)
        self.assertEqual(ours, [], "systemd-analyze verify complains about "
                         "our units:\n" + "\n".join(ours))

    @unittest.skipIf(ANALYZE is None, "systemd-analyze not installed")
    def test_verify_catches_mistakes(self):
        # The check above means something: a bad key is reported, and the
        # unmodified unit fails on its (not installed) ExecStart.
        svc, sock = self.verifiable_copy()
        with open(svc, "a") as f:
            f.write("\n[Service]\nNoSuchKey=1\n")
        rc, out = self.verify(svc, sock)
        self.assertIn("NoSuchKey", out)
        if not os.path.exists(value(self.service, "Service", "ExecStart")
                              .split()[0]):
            shutil.copy(SERVICE_BUILT, svc)
            rc, out = self.verify(svc, sock)
            self.assertNotEqual(rc, 0, "verify passed with a missing "
                                "ExecStart binary:\n" + out)

    def test_configured_without_placeholders(self):
        with open(SERVICE_BUILT, encoding="utf-8") as f:
            text = f.read()
        self.assertNotRegex(text, r"@[A-Z_]+@", "unsubstituted placeholder")
        with open(SERVICE_IN, encoding="utf-8") as f:
            self.assertIn("@OAUTHLENS_BINDIR@", f.read())

    def test_exec_start_uses_install_paths(self):
        start = value(self.service, "Service", "ExecStart")
        self.assertIsNotNone(start, "no ExecStart")
        argv = shlex.split(start)
        self.assertTrue(os.path.isabs(argv[0]), argv)
        self.assertEqual(os.path.basename(argv[0]), "oauthlens", argv)
        prefix = cmake_cache("CMAKE_INSTALL_PREFIX")
        if prefix:
            self.assertEqual(argv[0], os.path.join(prefix, "bin",
                                                   "oauthlens"), argv)
        self.assertIn("-c", argv, "ExecStart must name the installed "
                      "config: %r" % argv)
        cfg = argv[argv.index("-c") + 1]
        self.assertTrue(os.path.isabs(cfg), cfg)
        self.assertTrue(cfg.endswith("/oauthlens/oauthlens.conf"), cfg)

    def test_service_keys(self):
        s = self.service
        self.assertEqual(value(s, "Service", "Type"), "notify")
        wd = value(s, "Service", "WatchdogSec")
        self.assertIsNotNone(wd, "no WatchdogSec=")
        m = re.fullmatch(r"(\d+)(s|sec|min|ms)?", wd)
        self.assertIsNotNone(m, "WatchdogSec=%r" % wd)
        self.assertGreater(int(m.group(1)), 0)
        reload_ = value(s, "Service", "ExecReload")
        self.assertIsNotNone(reload_, "no ExecReload=")
        argv = shlex.split(reload_.lstrip("-@:+!"))
        self.assertEqual(os.path.basename(argv[0]), "kill", argv)
        self.assertIn("-HUP", argv)
        self.assertIn("$MAINPID", argv)
        self.assertEqual(value(s, "Service", "Restart"), "on-failure")
        self.assertIn(value(s, "Service", "DynamicUser"), ("yes", "true"))
        self.assertEqual(value(s, "Service", "StateDirectory"), "oauthlens")
        self.assertEqual(value(s, "Install", "WantedBy"),
                         "multi-user.target")

    def test_service_hardening(self):
        s = self.service
        yes = ("yes", "true", "1", "on")
        for k in ("NoNewPrivileges", "PrivateTmp", "PrivateDevices",
                  "MemoryDenyWriteExecute"):
            self.assertIn(value(s, "Service", k), yes, "%s=yes missing" % k)
        self.assertEqual(value(s, "Service", "ProtectSystem"), "strict")
        self.assertIn(value(s, "Service", "ProtectHome"),
                      yes + ("read-only", "tmpfs"))
        fams = " ".join(values(s, "Service", "RestrictAddressFamilies"))
        self.assertEqual(set(fams.split()), {"AF_INET", "AF_INET6",
                                             "AF_UNIX"}, fams)
        self.assertIn("@system-service",
                      " ".join(values(s, "Service", "SystemCallFilter"))
                      .split())
        caps = values(s, "Service", "CapabilityBoundingSet")
        self.assertTrue(caps, "no CapabilityBoundingSet=")
        self.assertEqual(caps[-1], "", "CapabilityBoundingSet must be empty "
                         "(no capabilities), is %r" % caps[-1])

    def test_socket_unit(self):
        s = self.socket
        self.assertIn("Socket", s)
        listens = values(s, "Socket", "ListenStream")
        self.assertEqual(listens, ["127.0.0.1:8080"], listens)
        self.assertIn(value(s, "Socket", "Accept") or "no",
                      ("no", "false"), "the daemon serves the listening "
                      "socket itself: Accept=no")
        svc = value(s, "Socket", "Service")
        self.assertIn(svc, (None, "oauthlens.service"), svc)
        self.assertEqual(value(s, "Install", "WantedBy"), "sockets.target")

    def test_install_layout_matches_exec_start(self):
        dest = os.path.join(self.tmp, "dest")
        harness.cmake_install(self, dest, BUILD)
        argv = shlex.split(value(self.service, "Service", "ExecStart"))
        binary = dest + argv[0]
        cfg = dest + argv[argv.index("-c") + 1]
        self.assertTrue(os.access(binary, os.X_OK), "ExecStart binary %s "
                        "is not what install puts there" % argv[0])
        self.assertTrue(os.path.isfile(cfg), "ExecStart config %s not "
                        "installed" % cfg)
        self.assertTrue(os.path.isfile(os.path.join(os.path.dirname(cfg),
                                                    "messages.json")),
                        "messages.json not installed next to the config")
        units = []
        for root, _, files in os.walk(dest):
            for f in files:
                if f in ("oauthlens.service", "oauthlens.socket"):
                    units.append(os.path.join(root, f))
        self.assertEqual(sorted(os.path.basename(u) for u in units),
                         ["oauthlens.service", "oauthlens.socket"], units)
        self.assertEqual(len({os.path.dirname(u) for u in units}), 1, units)
        self.assertTrue(os.path.dirname(units[0]).endswith(
            "/systemd/system"), units)
        r = subprocess.run([binary, "-c", cfg, "--check-config"],
                           capture_output=True, timeout=30,
                           env=harness.clean_env(), cwd=self.tmp)
        self.assertEqual(r.returncode, 0, "installed config and catalog do "
                         "not load:\n%s" % (r.stdout + r.stderr).decode(
                             errors="replace"))


if __name__ == "__main__":
    harness.main()
