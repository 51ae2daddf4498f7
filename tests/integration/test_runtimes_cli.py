#!/usr/bin/python3
"""Python, curl, wget and git with nothing but oauthlens's variables
(issue 12, items 1 and 5): each posts a bad code to
https://github.com/login/oauth/access_token (git: ls-remote of a
repository on github.com) with no proxy or CA option, once after
eval "$(oauthlens --env)" and once under oauthlens run --, in an env -i
environment. The proxy must log the oauth-error, and the client must see
the annotation header where it shows headers.

Python is Debian's /usr/bin/python3 with python3-requests and
python3-aiohttp (scripts/deps.sh); aiohttp with trust_env=True, as the
README and --print-ca tell. wget reads the WGETRC oauthlens names (the
wgetrc oauthlens writes at start, trustfiles.c).
"""

import json
import os
import re

import oauth_helpers as oh
import runenv_helpers as rh

PY = "/usr/bin/python3"
PY_CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "runtime_py_client.py")
VIAS = ("env", "run")


class CliRuntimes(rh.RuntimeTestCase):

    def form_args(self, flag):
        spec = self.spec()
        return [flag, "client_id=" + spec["clientId"],
                flag, "client_secret=" + spec["clientSecret"],
                flag, "code=" + spec["code"],
                flag, "redirect_uri=" + spec["redirectUri"]]

    def python(self, mode):
        for via in VIAS:
            with self.subTest(via=via):
                res = self.run_client([PY, PY_CLIENT, mode,
                                       json.dumps(self.spec())], via)
                self.assertEqual(res.rc, 0, res)
                out = res.json()
                self.assertNotIn("failure", out, "%s via %s: %r\n%s" % (
                    mode, via, out, res.log_text))
                self.assertEqual(out["error"], "bad_verification_code")
                self.assert_header(out["header"])
                self.assert_logged(res, what="%s via %s" % (mode, via))

    def test_python_urllib(self):
        self.python("urllib")

    def test_python_requests(self):
        self.python("requests")

    def test_python_aiohttp(self):
        self.python("aiohttp")

    def header_in(self, text):
        m = re.search(r"^\s*%s:\s*(.+?)\r?$" % oh.HEADER, text,
                      re.M | re.I)
        return m.group(1) if m else None

    def test_curl(self):
        for via in VIAS:
            with self.subTest(via=via):
                res = self.run_client(
                    ["curl", "-sS", "-D", "-", "-H",
                     "Accept: application/json"] +
                    self.form_args("--data-urlencode") + [oh.TOKEN_URL], via)
                self.assertEqual(res.rc, 0, res)
                self.assertIn('"error":"bad_verification_code"', res.stdout)
                self.assert_header(self.header_in(res.stdout))
                self.assert_logged(res, what="curl via %s" % via)

    def test_wget(self):
        wgetrc = os.path.join(self.certs, "wgetrc")
        self.assertIn(os.path.realpath(self.ca_bundle), oh.read_text(wgetrc))
        spec = self.spec()
        data = "&".join("%s=%s" % kv for kv in (
            ("client_id", spec["clientId"]),
            ("client_secret", spec["clientSecret"]),
            ("code", spec["code"]), ("redirect_uri", spec["redirectUri"])))
        for via in VIAS:
            with self.subTest(via=via):
                res = self.run_client(
                    ["wget", "-q", "-S", "-O", "-", "--header",
                     "Accept: application/json", "--post-data", data,
                     oh.TOKEN_URL], via)
                self.assertEqual(res.rc, 0, res)
                self.assertIn('"error":"bad_verification_code"', res.stdout)
                # -S prints the response head on stderr.
                self.assert_header(self.header_in(res.client_stderr))
                self.assert_logged(res, what="wget via %s" % via)

    def test_git_ls_remote(self):
        # The fake GitHub has no repositories: git gets a 404 for the ref
        # advertisement, which it can only have read through the proxy,
        # over TLS it trusted.
        for via in VIAS:
            with self.subTest(via=via):
                res = self.run_client(
                    ["git", "ls-remote", "https://github.com/octo/app.git"],
                    via, env={"GIT_TERMINAL_PROMPT": "0"})
                self.assertNotEqual(res.rc, 0, res)
                err = res.client_stderr
                self.assertNotRegex(err.lower(), r"certificate|ssl|tls|proxy",
                                    res)
                self.assertRegex(err, r"[Nn]ot [Ff]ound|404", res)
                got = [r for r in res.all_records
                       if r.get("event") == "access" and
                       r.get("host") == "github.com:443" and
                       "/octo/app.git/info/refs" in r.get("target", "")]
                self.assertTrue(got and got[0].get("status") == 404,
                                "no request for the refs through the proxy:"
                                " %r\n%s" % (res, res.log_text))


if __name__ == "__main__":
    oh.main()
