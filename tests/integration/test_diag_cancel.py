#!/usr/bin/python3
"""Cancelled flow (issue 13 item 8): after GitHub redirected a flow back
with error=access_denied (the user clicked Cancel), an exchange whose
code is "undefined", "null" or empty means the callback did not handle
?error= and read a code that is not there: callback_error_unhandled.
Without a cancellation seen, such a code claims nothing.

The fake GitHub plays the cancel (?__deny=1 on authorize: a 302 to the
callback with error=access_denied&state=); curl is the browser and the
app, through the real binary, over intercepted TLS and plain HTTP, in ja
and en.
"""

import time

import diag_helpers as dh
import oauth_helpers as oh

PLAIN = "http://github.com"


class CancelledFlow(dh.DiagTestCase):

    def cancel(self, state, proxy=None, base=None):
        kw = {"base": base} if base else {}
        r, q = self.authorize(self.app.client_id, oh.CALLBACK, state,
                              proxy=proxy, extra=[("__deny", "1")], **kw)
        self.assertEqual(q.get("error"), "access_denied", q)
        return time.monotonic()

    def exchange(self, code, proxy=None, plain=False):
        p = proxy or self.proxy
        m = self.mark(p)
        r = self.curl_token(self.params(code), proxy=p, plain=plain)
        self.assertEqual(r.rc, 0, r)
        return m, r, self.one_record_since(m["gh"])

    def test_code_undefined_after_cancel_tls(self):
        t0 = self.cancel("cx-1")
        m, r, rec = self.exchange("undefined")
        t1 = time.monotonic()
        self.assert_diagnosed(r.headers, r.body, rec,
                              "bad_verification_code",
                              "callback_error_unhandled",
                              {"age": dh.age_values(0, t1 - t0)}, mark=m)

    def test_empty_code_after_cancel_plain_english(self):
        proxy = self.new_oauth_proxy(["--lang", "en"])
        t0 = self.cancel("cx-2", proxy=proxy, base=PLAIN)
        m, r, rec = self.exchange("", proxy=proxy, plain=True)
        t1 = time.monotonic()
        self.assert_diagnosed(r.headers, r.body, rec,
                              "bad_verification_code",
                              "callback_error_unhandled",
                              {"age": dh.age_values(0, t1 - t0)}, mark=m,
                              lang="en")

    def test_code_null_after_cancel_plain(self):
        t0 = self.cancel("cx-3", base=PLAIN)
        m, r, rec = self.exchange("null", plain=True)
        t1 = time.monotonic()
        self.assert_diagnosed(r.headers, r.body, rec,
                              "bad_verification_code",
                              "callback_error_unhandled",
                              {"age": dh.age_values(0, t1 - t0)}, mark=m)

    # -- no cause may be claimed ----------------------------------------------
    def test_code_undefined_without_cancel_generic(self):
        proxy = self.new_oauth_proxy()
        m, r, rec = self.exchange("undefined", proxy=proxy)
        self.assert_generic(r.headers, r.body, rec, "bad_verification_code",
                            mark=m)

    def test_real_code_after_cancel_not_blamed(self):
        # A cancel, then a real (but refused) code: not the callback's
        # fault.
        proxy = self.new_oauth_proxy()
        self.cancel("cx-4", proxy=proxy)
        m, r, rec = self.exchange("0badc0de" * 2 + "0000", proxy=proxy)
        self.assert_generic(r.headers, r.body, rec, "bad_verification_code",
                            mark=m)


if __name__ == "__main__":
    dh.main()
