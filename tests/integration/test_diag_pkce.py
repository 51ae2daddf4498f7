#!/usr/bin/python3
"""PKCE (issue 13 item 7): the proxy remembers the S256 code_challenge of
the authorize request (as a keyed hash) and, when the exchange of that
flow's code fails, names a code_verifier that is missing
(pkce_verifier_missing) or whose S256 is not the challenge
(pkce_verifier_mismatch). A clean PKCE flow is untouched.

The fake GitHub (tests/servers/fake_github.py) binds a code to its
challenge and answers a missing or wrong verifier with
bad_verification_code: GitHub documents no error code for it, so that is
the behaviour assumed; the proxy matches on that code and the request.
Through the real binary with curl, over intercepted TLS and plain HTTP, in
ja and en.
"""

import base64
import hashlib
import secrets

import diag_helpers as dh
import oauth_helpers as oh

PLAIN = "http://github.com"


def s256(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(
        verifier.encode()).digest()).decode().rstrip("=")


class Pkce(dh.DiagTestCase):

    def pkce_code(self, state, proxy=None, base=None):
        """(code, verifier): authorize with a fresh S256 challenge."""
        verifier = secrets.token_urlsafe(48)
        kw = {"base": base} if base else {}
        r, q = self.authorize(self.app.client_id, oh.CALLBACK, state,
                              proxy=proxy,
                              extra=[("code_challenge", s256(verifier)),
                                     ("code_challenge_method", "S256")],
                              **kw)
        self.assertIn("code", q, r.header("Location"))
        return q["code"], verifier

    def exchange(self, code, verifier, proxy=None, plain=False):
        p = proxy or self.proxy
        params = self.params(code)
        if verifier is not None:
            params.append(("code_verifier", verifier))
        m = self.mark(p)
        r = self.curl_token(params, proxy=p, plain=plain)
        self.assertEqual(r.rc, 0, r)
        return m, r, self.one_record_since(m["gh"])

    def test_wrong_verifier_tls(self):
        code, verifier = self.pkce_code("pk-1")
        other = secrets.token_urlsafe(48)     # regenerated between steps
        m, r, rec = self.exchange(code, other)
        self.assert_diagnosed(r.headers, r.body, rec,
                              "bad_verification_code",
                              "pkce_verifier_mismatch", mark=m)
        for v in (verifier, other, code):
            self.assertNotIn(v, self.proxy.stderr_text())

    def test_missing_verifier_plain_english(self):
        proxy = self.new_oauth_proxy(["--lang", "en"])
        code, verifier = self.pkce_code("pk-2", proxy=proxy, base=PLAIN)
        m, r, rec = self.exchange(code, None, proxy=proxy, plain=True)
        self.assert_diagnosed(r.headers, r.body, rec,
                              "bad_verification_code",
                              "pkce_verifier_missing", mark=m, lang="en")

    def test_wrong_verifier_plain(self):
        code, verifier = self.pkce_code("pk-3", base=PLAIN)
        m, r, rec = self.exchange(code, verifier[:-1] + "x" if
                                  verifier[-1] != "x" else verifier[:-1] +
                                  "y", plain=True)
        self.assert_diagnosed(r.headers, r.body, rec,
                              "bad_verification_code",
                              "pkce_verifier_mismatch", mark=m)

    # -- no cause may be claimed ----------------------------------------------
    def test_clean_pkce_flow_untouched(self):
        code, verifier = self.pkce_code("pk-4")
        m, r, rec = self.exchange(code, verifier)
        self.assertEqual(rec.outcome, "success")
        self.assert_untouched(r.headers, r.body, rec, mark=m)
        self.assertEqual(self.log_since(m, level="warn"), [])
        self.assertNotIn(verifier, self.proxy.stderr_text())

    def test_right_verifier_other_failure_not_pkce(self):
        # The verifier is right; the code was already spent: reuse, not
        # PKCE.
        code, verifier = self.pkce_code("pk-5")
        m0 = self.mark()
        m, r, rec = self.exchange(code, verifier)
        self.assertEqual(rec.outcome, "success")
        m, r, rec = self.exchange(code, verifier)
        value, item, params = self.annotation(r.headers)
        self.assertEqual(params.get("cause"), "code_reused", value)

    def test_no_challenge_at_authorize_no_pkce_cause(self):
        # A flow without PKCE whose code GitHub refuses: no PKCE claim
        # even though the exchange carries a verifier.
        code = self.authorized_code(self.app.client_id, oh.CALLBACK, "pk-6")
        with self.gh.registry.lock:
            del self.gh.registry.codes[code]
        m, r, rec = self.exchange(code, secrets.token_urlsafe(48))
        self.assert_generic(r.headers, r.body, rec, "bad_verification_code",
                            mark=m)


if __name__ == "__main__":
    dh.main()
