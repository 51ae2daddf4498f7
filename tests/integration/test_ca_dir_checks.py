#!/usr/bin/python3
"""The CA directory is checked before it is trusted (issue 14, item 7).

oauthlens --print-ca --certs DIR opens (or creates) the CA in DIR and
exits: 0 when it could, non-zero with one line that says what to fix.
Asserted: a good directory works; a .lock that is a symbolic link, a
directory writable by others, and a CA key owned by another user (root
only: the test must chown) are refused with a reason; a directory that
holds only ca-key.pem says that ca.pem is missing (not "cannot read").
"""

import os
import shutil
import tempfile
import unittest

import harness
from harness import run_proxy_cli


class CADirChecks(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="oauthlens-cadir-")
        if not harness.KEEP_TMP:
            self.addCleanup(shutil.rmtree, self.tmp, True)
        self.good = os.path.join(self.tmp, "good")
        r = self.print_ca(self.good)
        self.assertEqual(r.returncode, 0, r.stderr)

    def print_ca(self, d):
        return run_proxy_cli(["--print-ca", "--certs", d], timeout=30)

    def copy(self, name):
        d = os.path.join(self.tmp, name)
        shutil.copytree(self.good, d, symlinks=True)
        os.chmod(d, 0o700)
        return d

    def refused(self, d, *words):
        r = self.print_ca(d)
        err = r.stderr.decode("utf-8", "replace")
        self.assertNotEqual(r.returncode, 0, "accepted %s: %s" % (d, err))
        for w in words:
            self.assertIn(w, err)
        return err

    def test_good_directory_reopens(self):
        self.assertEqual(self.print_ca(self.copy("again")).returncode, 0)

    def test_lock_symlink_refused(self):
        d = self.copy("lock-link")
        target = os.path.join(self.tmp, "elsewhere")
        lock = os.path.join(d, ".lock")
        if os.path.exists(lock):
            os.unlink(lock)
        os.symlink(target, lock)
        self.refused(d, ".lock", "symbolic link")
        self.assertFalse(os.path.exists(target), "the link was followed")

    def test_world_writable_directory_refused(self):
        d = self.copy("open-dir")
        os.chmod(d, 0o777)
        self.refused(d, "writable by others", "chmod o-w")

    @unittest.skipUnless(os.geteuid() == 0, "needs root to give the key "
                         "to another user")
    def test_key_of_another_user_refused(self):
        d = self.copy("other-owner")
        os.chown(os.path.join(d, "ca-key.pem"), 65534, 65534)
        self.refused(d, "ca-key.pem", "uid 65534")

    def test_key_without_certificate(self):
        d = self.copy("key-only")
        os.unlink(os.path.join(d, "ca.pem"))
        err = self.refused(d, "ca.pem does not")
        self.assertNotIn("cannot read", err)


if __name__ == "__main__":
    harness.main()
