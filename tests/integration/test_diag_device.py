#!/usr/bin/python3
"""The device flow through the proxy (issue 7): POST /login/device/code,
then curl polling POST /login/oauth/access_token with
grant_type=urn:ietf:params:oauth:grant-type:device_code, against
tests/servers/fake_provider.py as github.com over intercepted TLS.

authorization_pending is the normal answer: no header, one debug record.
slow_down is annotated and its record carries the new interval; a poll
sooner than the interval (5 s, or the last slow_down's) gives a warn
oauth-device-poll record. expired_token, incorrect_device_code,
access_denied, device_flow_disabled, unsupported_grant_type and
incorrect_client_credentials are annotated with the catalog's hint, and no
web-flow cause is claimed for them.
"""

import json
import time
import urllib.parse

import diag_helpers as dh
from fake_provider import DEVICE_GRANT

DEVICE_URL = "https://github.com/login/device/code"
TOKEN_URL = "https://github.com/login/oauth/access_token"


class DeviceFlow(dh.DiagTestCase):

    def setUp(self):
        super().setUp()
        self.fp = self.add_provider()
        self.papp = self.fp.add_app()
        self.px = self.provider_proxy(self.fp)

    def device_code(self, app=None, accept="application/json"):
        """POST /login/device/code through the proxy: the parsed body."""
        app = app or self.papp
        m = self.pmark(self.px, self.fp)
        r = self.post_form(DEVICE_URL, [("client_id", app.client_id),
                                        ("scope", "repo")], self.px,
                           accept=accept)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assert_no_annotation(r.headers)
        self.assertEqual(self.log_since(m, event="oauth-error"), [])
        body = json.loads(r.body) if accept == "application/json" else \
            dict(urllib.parse.parse_qsl(r.text))
        self.assertIn("device_code", body, body)
        return body

    def poll(self, device_code, app=None, grant=DEVICE_GRANT, accept=None,
             client_id=None):
        """One poll through the proxy: (mark, curl result, the fake's
        record)."""
        params = [("client_id", client_id or (app or self.papp).client_id),
                  ("device_code", device_code)]
        if grant is not None:
            params.append(("grant_type", grant))
        m = self.pmark(self.px, self.fp)
        r = self.post_form(TOKEN_URL, params, self.px, accept=accept)
        self.assertEqual((r.rc, r.status), (0, 200), "%r\n%s" %
                         (r, self.px.tail()))
        return m, r, self.one_provider_record(self.fp, m)

    def device_poll_records(self, mark, expect=0):
        return self.log_since(mark, event="oauth-device-poll", expect=expect)

    # -- pending, slow_down, polling too fast -----------------------------------
    def test_pending_then_slow_down(self):
        dc = self.device_code()["device_code"]
        self.assertEqual(dc and len(dc), 40)
        # First poll: the user has not entered the code yet.
        m, r, rec = self.poll(dc, accept="application/json")
        self.assertEqual(rec.outcome, "authorization_pending")
        self.assert_untouched(r.headers, r.body, rec)
        self.assertEqual(self.log_since(m, event="oauth-error"), [])
        dbg = [x for x in self.log_since(m, level="debug", expect=1)
               if "authorization_pending" in json.dumps(x)]
        self.assertEqual(len(dbg), 1, self.log_since(m))
        self.assertEqual(self.log_since(m, level="warn"), [])
        self.assertEqual(self.log_since(m, level="info", event="oauth-error"),
                         [])
        # Second poll at once: GitHub says slow_down, interval 10.
        m, r, rec = self.poll(dc, accept="application/json")
        self.assertEqual(rec.outcome, "slow_down")
        self.assertEqual(json.loads(r.body)["interval"], 10)
        # The hint itself names the new interval (issue 13 item 13).
        _, record = self.assert_diagnosed(r.headers, r.body, rec,
                                          "slow_down", "poll_interval",
                                          {"field": "10"}, mark=m,
                                          client_id=self.papp.client_id,
                                          redirect_uri=None)
        self.assertEqual(str(record.get("interval")), "10", record)
        self.assertEqual(record.get("level"), "warn", record)
        fast = self.device_poll_records(m, expect=1)
        self.assertEqual(len(fast), 1, fast)
        self.assertEqual(fast[0].get("level"), "warn", fast[0])
        self.assertEqual(int(fast[0].get("interval")), 5, fast[0])
        self.assertLess(int(fast[0].get("elapsed_ms")), 5000, fast[0])
        self.assertNotIn(dc, self.px.stderr_text(), "device_code logged")
        # Third poll at once again: the proxy now holds the client to the
        # raised interval (10 s).
        m, r, rec = self.poll(dc)
        self.assertEqual(rec.outcome, "slow_down")
        self.assertEqual(dict(urllib.parse.parse_qsl(r.text))["interval"],
                         "15")
        fast = self.device_poll_records(m, expect=1)
        self.assertEqual(len(fast), 1, fast)
        self.assertEqual(int(fast[0].get("interval")), 10, fast[0])

    def test_slow_down_interval_english_plain(self):
        # Issue 13 item 13 in English, over plain HTTP (fake_provider as
        # another GitHub Enterprise host).
        fp = self.add_provider(tls=False)
        app = fp.add_app()
        host = "ghe.example.test"
        px = self.provider_proxy(fp, host=host, port=80, extra=[
            "--lang", "en"], config={"token_endpoints": [host]})
        d = fp.new_device(app.client_id)
        url = "http://%s/login/oauth/access_token" % host
        params = [("client_id", app.client_id), ("device_code", d.code),
                  ("grant_type", DEVICE_GRANT)]
        self.post_form(url, params, px)
        m = self.pmark(px, fp)
        r = self.post_form(url, params, px)
        rec = self.one_provider_record(fp, m)
        self.assertEqual(rec.outcome, "slow_down")
        self.assert_diagnosed(r.headers, r.body, rec, "slow_down",
                              "poll_interval", {"field": "10"}, mark=m,
                              lang="en", client_id=app.client_id,
                              redirect_uri=None, host=host)

    def test_poll_at_interval_not_flagged(self):
        d = self.fp.new_device(self.papp.client_id, interval=5)
        m, r, rec = self.poll(d.code)
        self.assertEqual(rec.outcome, "authorization_pending")
        time.sleep(5.3)
        m, r, rec = self.poll(d.code)
        self.assertEqual(rec.outcome, "authorization_pending")
        self.assert_no_annotation(r.headers)
        self.assertEqual(self.device_poll_records(m), [])
        self.assertEqual(self.log_since(m, level="warn"), [])

    def test_approved_untouched(self):
        d = self.fp.new_device(self.papp.client_id, scope="repo")
        self.fp.approve(d)
        m, r, rec = self.poll(d.code, accept="application/json")
        self.assertEqual(rec.outcome, "success")
        self.assertIn("access_token", json.loads(r.body))
        self.assert_untouched(r.headers, r.body, rec)
        self.assertEqual(self.log_since(m, event="oauth-error"), [])

    # -- the device flow's errors ------------------------------------------------------
    def check_error(self, code, poll_args, client_id=None):
        m, r, rec = self.poll(**poll_args)
        self.assertEqual(rec.outcome, code, rec)
        _, record = self.assert_generic(
            r.headers, r.body, rec, code, mark=m,
            client_id=client_id or self.papp.client_id, redirect_uri=None)
        return record

    def test_expired_token(self):
        d = self.fp.new_device(self.papp.client_id, expires_in=1)
        time.sleep(1.3)
        self.check_error("expired_token", {"device_code": d.code})

    def test_incorrect_device_code(self):
        self.check_error("incorrect_device_code",
                         {"device_code": "0" * 40})

    def test_access_denied(self):
        d = self.fp.new_device(self.papp.client_id)
        self.fp.deny(d)
        self.check_error("access_denied", {"device_code": d.code})

    def test_device_flow_disabled(self):
        app = self.fp.add_app(device_flow=False)
        self.check_error("device_flow_disabled",
                         {"device_code": "1" * 40, "app": app},
                         client_id=app.client_id)

    def test_device_flow_disabled_at_device_code(self):
        # Issue 13 item 12: the first step, POST /login/device/code, is
        # what GitHub answers with device_flow_disabled.
        app = self.fp.add_app(device_flow=False)
        for accept, lang in (("application/json", "ja"), (None, "en")):
            with self.subTest(accept=accept):
                px = self.px if lang == "ja" else self.provider_proxy(
                    self.fp, extra=["--lang", "en"])
                m = self.pmark(px, self.fp)
                r = self.post_form(DEVICE_URL, [("client_id", app.client_id),
                                                ("scope", "repo")], px,
                                   accept=accept)
                self.assertEqual((r.rc, r.status), (0, 200), r)
                rec = self.one_provider_record(self.fp, m)
                self.assertEqual(rec.outcome, "device_flow_disabled", rec)
                self.assert_generic(r.headers, r.body, rec,
                                    "device_flow_disabled", mark=m,
                                    lang=lang, client_id=app.client_id,
                                    redirect_uri=None)

    def test_unsupported_grant_type(self):
        d = self.fp.new_device(self.papp.client_id)
        for grant in (None, "device_code"):
            with self.subTest(grant_type=grant):
                self.check_error("unsupported_grant_type",
                                 {"device_code": d.code, "grant": grant})

    def test_incorrect_client_credentials_no_web_cause(self):
        # The device flow needs no client_secret: an unknown client_id
        # (of a good shape) must not be diagnosed as missing_secret.
        d = self.fp.new_device(self.papp.client_id)
        other = "Ov23li" + "Zz9" * 4 + "Qq"
        self.check_error("incorrect_client_credentials",
                         {"device_code": d.code, "client_id": other},
                         client_id=other)

    def test_bad_refresh_token(self):
        # GitHub Apps' refresh tokens, on the same endpoint.
        refresh = "ghr_" + "x1" * 38
        m = self.pmark(self.px, self.fp)
        r = self.post_form(TOKEN_URL, [
            ("client_id", self.papp.client_id),
            ("client_secret", self.papp.client_secret),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh)], self.px,
            accept="application/json")
        rec = self.one_provider_record(self.fp, m)
        self.assertEqual(rec.outcome, "bad_refresh_token")
        self.assert_generic(r.headers, r.body, rec, "bad_refresh_token",
                            mark=m, client_id=self.papp.client_id,
                            redirect_uri=None)
        self.assertNotIn(refresh, self.px.stderr_text())
        self.assertNotIn(self.papp.client_secret, self.px.stderr_text())


if __name__ == "__main__":
    dh.main()
