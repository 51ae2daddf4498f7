#!/usr/bin/python3
"""The hint's language: ja by default whatever the client asks, --lang en,
--lang auto (the request's Accept-Language, falling back to ja), and
"lang" in the config file. Header and log record must both carry the
catalog's entry for the language chosen.

Clients: curl and requests-oauthlib through the proxy's intercepted TLS.
"""

import oauth_helpers as oh


class LangCase(oh.OAuthTestCase):

    def check(self, code, lang, accept_language=None, proxy=None):
        p = proxy or self.proxy
        if code == "redirect_uri_mismatch":
            params = self.params(self.fresh_code(),
                                 redirect_uri=oh.WRONG_REDIRECT)
            ru = oh.WRONG_REDIRECT
        elif code == "incorrect_client_credentials":
            params = self.params(self.fresh_code(), secret="3" * 40)
            ru = oh.CALLBACK
        else:
            params = self.params("cafebabecafebabecafe")
            ru = oh.CALLBACK
        headers = ["Accept-Language: " + accept_language] \
            if accept_language is not None else []
        m = self.mark(p)
        r = self.curl_token(params, accept="application/json",
                            headers=headers, proxy=p)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        rec = self.one_record_since(m["gh"])
        self.assert_annotated(r.headers, r.body, rec, code, lang=lang,
                              mark=m, redirect_uri=ru)


class DefaultJa(LangCase):
    def test_ja_whatever_accept_language(self):
        for al in (None, "en", "en-US,en;q=0.9", "ja"):
            for code in oh.ANNOTATED:
                with self.subTest(accept_language=al, code=code):
                    self.check(code, "ja", al)

    def test_config_lang_en(self):
        p = self.new_oauth_proxy(config={"lang": "en"})
        for code in oh.ANNOTATED:
            with self.subTest(code=code):
                self.check(code, "en", "ja", proxy=p)

    def test_cli_overrides_config(self):
        p = self.new_oauth_proxy(["--lang", "ja"], config={"lang": "en"})
        self.check("bad_verification_code", "ja", "en", proxy=p)


class LangEn(LangCase):
    extra_args = ["--lang", "en"]

    def test_en_whatever_accept_language(self):
        for al in (None, "ja", "ja-JP,ja;q=0.9"):
            for code in oh.ANNOTATED:
                with self.subTest(accept_language=al, code=code):
                    self.check(code, "en", al)


class LangAuto(LangCase):
    extra_args = ["--lang", "auto"]

    CASES = (
        (None, "ja"),
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("EN-gb", "en"),
        ("ja", "ja"),
        ("ja-JP,ja;q=0.9,en;q=0.8", "ja"),
        ("en;q=0.3, ja;q=0.8", "ja"),
        ("ja;q=0.2, en;q=0.9", "en"),
        ("fr-FR, fr;q=0.9", "ja"),          # neither: fall back to ja
        ("de, en;q=0.5", "en"),
        ("", "ja"),
    )

    def test_accept_language(self):
        for al, lang in self.CASES:
            with self.subTest(accept_language=al):
                self.check("bad_verification_code", lang, al)

    def test_each_code_en(self):
        for code in oh.ANNOTATED:
            with self.subTest(code=code):
                self.check(code, "en", "en-US")

    def test_requests_oauthlib_accept_language(self):
        for al, lang in (("en-US,en;q=0.9", "en"), ("ja", "ja")):
            with self.subTest(accept_language=al):
                m = self.mark()
                res = self.requests_token(
                    self.fresh_code(), secret="4" * 40,
                    headers={"Accept": "application/json",
                             "Content-Type": "application/x-www-form-"
                             "urlencoded;charset=UTF-8",
                             "Accept-Language": al})
                self.assertIsNotNone(res.response, res)
                rec = self.one_record_since(m["gh"])
                self.assert_annotated(res.headers, res.body, rec,
                                      "incorrect_client_credentials",
                                      lang=lang, mark=m)


if __name__ == "__main__":
    oh.main()
