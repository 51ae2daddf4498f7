"""Machinery for the diagnosis tests (tests/integration/test_diag_*.py), on
top of oauth_helpers.py and harness.py (which stay as they are).

  DiagTestCase          oauth_helpers.OAuthTestCase (fake GitHub as
                        github.com, the proxy with --resolve/--certs/
                        --upstream-ca) plus:
    filled(cause, lang, **values)   the catalog's _causes sentence with
                        its placeholders filled, as a regular expression
                        (a value may be a set of acceptable strings);
    assert_diagnosed(...)           header item, cause parameter, the hint
                        starting with the filled sentence, the catalog's
                        hint after it, and the JSON oauth-error record with
                        the same cause and diagnosis (and retry_of);
    assert_generic(...)             annotated, no cause anywhere;
    add_provider(...), provider_proxy(...)   tests/servers/fake_provider.py
                        as github.com (TLS) or another host (plain), and a
                        proxy pointed at it;
    browser_get(...), post_form(...)         curl through a proxy;
    log_since(...), access_since(...)        JSON log records;
  age_values(lo, hi)    the whole seconds a duration measured between lo
                        and hi may be reported as.
"""

import math
import re
import time
import urllib.parse

import harness
import oauth_helpers as oh
from harness import SLOW, wait_until

from fake_provider import FakeProvider

HEADER = oh.HEADER


def age_values(lo, hi):
    """{str(n)} for every whole number of seconds a proxy may report for a
    duration known to lie between lo and hi seconds."""
    return {str(n) for n in range(max(0, math.floor(lo) - 1),
                                  math.ceil(hi) + 1)}


class DiagTestCase(oh.OAuthTestCase):

    # -- the catalog's sentences ------------------------------------------------
    def filled(self, cause, lang="ja", sentence=None, **values):
        """The _causes sentence for cause (or the sentence key given) in
        lang with every placeholder replaced by its value (a string, or a
        set of acceptable strings), as a regular expression matching
        exactly that text."""
        causes = self.catalog.get("_causes", {})
        key = sentence or cause
        self.assertIn(key, causes, "cause %s is not in the catalog" % key)
        tmpl = causes[key][lang]
        names = re.findall(r"\{([a-z_]+)\}", tmpl)
        for n in names:
            self.assertIn(n, values, "no test value for {%s} of %s" %
                          (n, cause))
        out = []
        for i, part in enumerate(re.split(r"\{[a-z_]+\}", tmpl)):
            out.append(re.escape(part))
            if i < len(names):
                v = values[names[i]]
                alts = sorted(v) if isinstance(v, (set, frozenset, list,
                                                   tuple)) else [v]
                out.append("(?:%s)" % "|".join(re.escape(str(a))
                                               for a in alts))
        return "".join(out)

    # -- the annotation -----------------------------------------------------------
    def annotation(self, headers):
        """The one OAuth-Troubleshooting value in headers, parsed:
        (value, item, params)."""
        vals = [v for n, v in headers if n.lower() == HEADER.lower()]
        self.assertEqual(len(vals), 1, "expected one %s header, got %r" %
                         (HEADER, headers))
        item, params = self.parse_annotation(vals[0])
        return vals[0], item, params

    def assert_no_annotation(self, headers):
        vals = [v for n, v in headers if n.lower() == HEADER.lower()]
        self.assertEqual(vals, [], "unexpected %s header" % HEADER)

    def assert_diagnosed(self, headers, body, rec, code, cause, values=None,
                         mark=None, lang="ja", client_id=None,
                         redirect_uri=oh.CALLBACK, host="github.com",
                         retry_of=None, sentence=None):
        """The response carries the annotation for code with ;cause=cause,
        the hint is the filled sentence, a space and the catalog's hint;
        the body and headers are the origin's; and (mark given) exactly
        one new oauth-error record, with that cause, that diagnosis and
        retry_of (None: absent). Returns (params, record)."""
        client_id = client_id or self.app.client_id
        self.assert_annotated(headers, body, rec, code, lang=lang,
                              cause=cause, redirect_uri=redirect_uri,
                              client_id=client_id)
        value, item, params = self.annotation(headers)
        self.assertEqual(params.get("cause"), cause, value)
        self.assertIsInstance(params.get("cause"), oh.Token, value)
        hint = params["hint"]
        entry = self.catalog[code][lang]
        want = self.filled(cause, lang, sentence, **(values or {}))
        self.assertRegex(hint, "^" + want + " " + re.escape(entry["hint"]) +
                         "$", "the hint is not the filled %s sentence and "
                         "the catalog's %s hint" % (cause, code))
        diagnosis = hint[:len(hint) - len(entry["hint"]) - 1]
        record = None
        if mark is not None:
            record = self.assert_log_record(mark, code, lang, client_id,
                                            redirect_uri, host=host,
                                            cause=cause, diagnosis=diagnosis)
            self.assertEqual(record.get("retry_of"), retry_of,
                             "retry_of in %r" % record)
            self.assert_status_shows(mark["proxy"], code, cause, diagnosis)
        return params, record

    def assert_status_shows(self, proxy, code, cause, diagnosis):
        """The proxy's / page has a row for code whose hint cell names
        cause and holds its sentence."""
        import sdhelp
        import urllib.request
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(proxy.url + "/", timeout=10) as f:
            page = sdhelp.StatusPage(f.read().decode("utf-8"))
        cells = [row[page.column("hint")]["text"] for row in page.rows
                 if code in row[page.column("error")]["text"]]
        self.assertTrue(any(cause in c and diagnosis in c for c in cells),
                        "the / page does not show %s and its sentence: %r"
                        % (cause, cells))

    def assert_generic(self, headers, body, rec, code, mark=None, lang="ja",
                       client_id=None, redirect_uri=oh.CALLBACK,
                       host="github.com"):
        """Annotated with the catalog's hint alone: no cause parameter, no
        cause or diagnosis in the record. Returns (params, record)."""
        client_id = client_id or self.app.client_id
        self.assert_annotated(headers, body, rec, code, lang=lang,
                              cause=None, redirect_uri=redirect_uri,
                              client_id=client_id)
        value, item, params = self.annotation(headers)
        self.assertNotIn("cause", params, value)
        self.assertEqual(params["hint"], self.catalog[code][lang]["hint"])
        record = None
        if mark is not None:
            record = self.assert_log_record(mark, code, lang, client_id,
                                            redirect_uri, host=host)
            for k in ("cause", "diagnosis", "retry_of"):
                self.assertNotIn(k, record, record)
        return params, record

    # -- log records -----------------------------------------------------------------
    def log_since(self, mark, event=None, level=None, expect=0,
                      settle=0.1):
        """JSON records logged since mark (optionally of one event and
        level); waits (bounded) for `expect` of them."""
        p = mark["proxy"]

        def get():
            return [r for r in p.log_records()[mark["log"]:]
                    if (event is None or r.get("event") == event) and
                    (level is None or r.get("level") == level)]
        if expect:
            wait_until(lambda: len(get()) >= expect, 5 * SLOW)
        time.sleep(settle * SLOW)
        return get()

    def access_since(self, mark, path):
        """The access records since mark whose target path is path (waits,
        bounded, for the first)."""
        p = mark["proxy"]

        def get():
            return [r for r in p.log_records()[mark["log"]:]
                    if r.get("event") == "access" and urllib.parse.urlsplit(
                        r.get("target", "")).path.endswith(path)]
        wait_until(get, 5 * SLOW)
        time.sleep(0.1 * SLOW)
        return get()

    # -- the second fake ---------------------------------------------------------------
    def add_provider(self, tls=True, **kw):
        """A FakeProvider (TLS with the github.com certificate, or plain
        HTTP), stopped by cleanup."""
        fp = FakeProvider(tls=self.gca.github if tls else None, **kw).start()
        self.addCleanup(fp.stop)
        return fp

    def provider_proxy(self, fp, config=None, extra=(), host="github.com",
                       port=443, **kw):
        """A proxy for this test that reaches fp as host:port (and the
        class's fake GitHub nowhere)."""
        args = ["--certs", self.certs, "--upstream-ca", self.gca.ca,
                "--resolve", "%s:%d:127.0.0.1:%d" % (host, port, fp.port)]
        return self.new_proxy(self.proxy_config_for(config),
                              args + list(extra), **kw)

    def pmark(self, proxy, fp=None):
        """Where proxy's log and fp's record stand now."""
        return {"log": len(proxy.log_records()), "proxy": proxy,
                "fp": fp.record_count if fp is not None else 0,
                "gh": self.gh.token_request_count}

    def one_provider_record(self, fp, mark):
        recs = fp.token_records()[mark["fp"]:]
        self.assertEqual(len(recs), 1, "expected one token request at the "
                         "fake provider, got %r" % recs)
        return recs[0]

    # -- clients --------------------------------------------------------------------------
    def browser_get(self, url, proxy=None):
        """GET url through the proxy the way a browser follows links (one
        hop: redirects are not followed). Returns harness.CurlResult."""
        args = ["--cacert", self.ca_pem] if url.startswith("https:") else []
        return harness.curl(url, proxy or self.proxy, args, timeout=30,
                            tmpdir=self.tmp)

    def post_form(self, url, params, proxy=None, accept=None, auth=None,
                  headers=()):
        """POST params (list of (name, value), form-encoded) to url
        through the proxy with curl. Returns harness.CurlResult."""
        a = ["--cacert", self.ca_pem] if url.startswith("https:") else []
        for k, v in params:
            a += ["--data-urlencode", "%s=%s" % (k, v)]
        if accept:
            a += ["-H", "Accept: " + accept]
        if auth:
            a += ["-u", "%s:%s" % auth]
        for h in headers:
            a += ["-H", h]
        return harness.curl(url, proxy or self.proxy, a, timeout=30,
                            tmpdir=self.tmp)

    def authorize(self, client_id, redirect_uri, state, scope="repo,gist",
                  proxy=None, extra=(), base="https://github.com"):
        """A browser's GET base/login/oauth/authorize through the proxy;
        the 302 (not followed) and its Location's query as a dict."""
        q = [("client_id", client_id), ("redirect_uri", redirect_uri),
             ("state", state), ("scope", scope)] + list(extra)
        r = self.browser_get(base + "/login/oauth/authorize?" +
                             urllib.parse.urlencode(q), proxy)
        self.assertEqual((r.rc, r.status), (0, 302), "%r\n%s" %
                         (r, (proxy or self.proxy).tail()))
        loc = urllib.parse.urlsplit(r.header("Location"))
        return r, dict(urllib.parse.parse_qsl(loc.query))

    def authorized_code(self, client_id, redirect_uri, state,
                        scope="repo,gist", proxy=None):
        r, q = self.authorize(client_id, redirect_uri, state, scope, proxy)
        self.assertEqual(q.get("state"), state, r.header("Location"))
        self.assertIn("code", q, r.header("Location"))
        return q["code"]

    def backdate(self, code, seconds):
        """Make the fake GitHub see code as issued `seconds` earlier."""
        with self.gh.registry.lock:
            self.gh.registry.codes[code].issued -= seconds

    def token_exchange(self, params, proxy=None, auth=None, accept=None):
        """curl_token through proxy: (mark, result, the fake's record)."""
        p = proxy or self.proxy
        m = self.mark(p)
        r = self.curl_token(params, accept=accept, auth=auth, proxy=p)
        self.assertEqual(r.rc, 0, "%r\n%s" % (r, p.tail()))
        return m, r, self.one_record_since(m["gh"])


def main():
    harness.main()
