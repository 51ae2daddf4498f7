/*
 * sfv: RFC 9651 serializers against the RFC's rules, Display String round
 * trips over every Unicode scalar value, and rejection of invalid input.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "sfv.h"
#include "t.h"

/* The buffer's contents as a NUL-terminated string (static storage). */
static const char *
str(struct evbuffer *b)
{
	static char s[65536];
	size_t n = evbuffer_get_length(b);

	if (n >= sizeof(s))
		n = sizeof(s) - 1;
	evbuffer_copyout(b, s, n);
	s[n] = '\0';
	return s;
}

static void
reset(struct evbuffer *b)
{
	evbuffer_drain(b, evbuffer_get_length(b));
}

/* Every byte printable ASCII (a field value needs nothing else). */
static int
printable(struct evbuffer *b)
{
	size_t i, n = evbuffer_get_length(b);
	unsigned char *p = evbuffer_pullup(b, -1);

	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return 0;
	return 1;
}

static const char *
token(struct evbuffer *b, const char *s)
{
	reset(b);
	return sfv_add_token(b, s, strlen(s)) == 0 ? str(b) : NULL;
}

static void
test_token(struct evbuffer *b)
{
	CHECK_STR(token(b, "bad_verification_code"), "bad_verification_code");
	CHECK_STR(token(b, "a"), "a");
	CHECK_STR(token(b, "*"), "*");
	CHECK_STR(token(b, "*foo"), "*foo");
	CHECK_STR(token(b, "text/html"), "text/html");
	CHECK_STR(token(b, "urn:ietf:params"), "urn:ietf:params");
	CHECK_STR(token(b, "A!#$%&'*+-.^_`|~9"), "A!#$%&'*+-.^_`|~9");
	CHECK(token(b, "") == NULL);
	CHECK(token(b, "1abc") == NULL);
	CHECK(token(b, "-x") == NULL);
	CHECK(token(b, ":x") == NULL);
	CHECK(token(b, "a b") == NULL);
	CHECK(token(b, "a,b") == NULL);
	CHECK(token(b, "a;b") == NULL);
	CHECK(token(b, "a\"b") == NULL);
	CHECK(token(b, "a=b") == NULL);
	CHECK(token(b, "a(b)") == NULL);
	CHECK(token(b, "caf\xc3\xa9") == NULL);
	CHECK(token(b, "a\tb") == NULL);
	CHECK_INT(evbuffer_get_length(b), 0);
	/* length is explicit: an embedded NUL is not a token character */
	reset(b);
	CHECK_INT(sfv_add_token(b, "ab\0c", 4), -1);
	CHECK_INT(sfv_add_token(b, "ab\0c", 2), 0);
	CHECK_STR(str(b), "ab");
}

static const char *
string(struct evbuffer *b, const char *s)
{
	reset(b);
	return sfv_add_string(b, s, strlen(s)) == 0 ? str(b) : NULL;
}

static void
test_string(struct evbuffer *b)
{
	CHECK_STR(string(b, ""), "\"\"");
	CHECK_STR(string(b, "hello world"), "\"hello world\"");
	CHECK_STR(string(b, "a\"b\\c"), "\"a\\\"b\\\\c\"");
	CHECK_STR(string(b, "100% ~"), "\"100% ~\"");
	CHECK_STR(string(b, "https://docs.github.com/ja/apps#x"),
	    "\"https://docs.github.com/ja/apps#x\"");
	CHECK(string(b, "tab\there") == NULL);
	CHECK(string(b, "nl\n") == NULL);
	CHECK(string(b, "del\x7f") == NULL);
	CHECK(string(b, "caf\xc3\xa9") == NULL);
	CHECK(string(b, "\x1f") == NULL);
	CHECK_INT(evbuffer_get_length(b), 0);
}

static void
test_integer(struct evbuffer *b)
{
	reset(b);
	CHECK_INT(sfv_add_integer(b, 0), 0);
	CHECK_STR(str(b), "0");
	reset(b);
	CHECK_INT(sfv_add_integer(b, -42), 0);
	CHECK_STR(str(b), "-42");
	reset(b);
	CHECK_INT(sfv_add_integer(b, 999999999999999LL), 0);
	CHECK_STR(str(b), "999999999999999");
	reset(b);
	CHECK_INT(sfv_add_integer(b, -999999999999999LL), 0);
	CHECK_STR(str(b), "-999999999999999");
	reset(b);
	CHECK_INT(sfv_add_integer(b, 1000000000000000LL), -1);
	CHECK_INT(sfv_add_integer(b, -1000000000000000LL), -1);
	CHECK_INT(sfv_add_integer(b, -9223372036854775807LL - 1), -1);
	CHECK_INT(evbuffer_get_length(b), 0);
}

static const char *
param(struct evbuffer *b, const char *key)
{
	reset(b);
	return sfv_add_param(b, key) == 0 ? str(b) : NULL;
}

static void
test_param(struct evbuffer *b)
{
	CHECK_STR(param(b, "lang"), ";lang=");
	CHECK_STR(param(b, "*"), ";*=");
	CHECK_STR(param(b, "*x9"), ";*x9=");
	CHECK_STR(param(b, "a_b-c.d*e0"), ";a_b-c.d*e0=");
	CHECK(param(b, "") == NULL);
	CHECK(param(b, "Lang") == NULL);
	CHECK(param(b, "lAng") == NULL);
	CHECK(param(b, "0a") == NULL);
	CHECK(param(b, "_a") == NULL);
	CHECK(param(b, "a b") == NULL);
	CHECK(param(b, "a=b") == NULL);
	CHECK(param(b, "a/b") == NULL);
	CHECK_INT(evbuffer_get_length(b), 0);
}

static const char *
display(struct evbuffer *b, const char *s, size_t len)
{
	reset(b);
	return sfv_add_display_string(b, s, len) == 0 ? str(b) : NULL;
}

/* Decode what display() produced; NULL if the parser refuses it. */
static const char *
undisplay(const char *enc, size_t *len)
{
	static char s[65536];
	struct evbuffer *b = evbuffer_new();
	const char *r = NULL;

	if (sfv_parse_display_string(enc, strlen(enc), b) == 0 &&
	    (*len = evbuffer_get_length(b)) < sizeof(s)) {
		evbuffer_copyout(b, s, *len);
		s[*len] = '\0';
		r = s;
	}
	evbuffer_free(b);
	return r;
}

#define DISPLAY(b, lit)	display((b), (lit), sizeof(lit) - 1)

static void
test_display_encode(struct evbuffer *b)
{
	/* the RFC's own example, Section 3.3.8 */
	CHECK_STR(DISPLAY(b, "This is intended for display to \xc3\xbcsers."),
	    "%\"This is intended for display to %c3%bcsers.\"");
	CHECK_STR(DISPLAY(b, ""), "%\"\"");
	CHECK_STR(DISPLAY(b, "100%"), "%\"100%25\"");
	CHECK_STR(DISPLAY(b, "say \"hi\""), "%\"say %22hi%22\"");
	/* backslash is not escaped in a Display String */
	CHECK_STR(DISPLAY(b, "a\\b"), "%\"a\\b\"");
	CHECK_STR(DISPLAY(b, "tab\tnl\n\x7f"), "%\"tab%09nl%0a%7f\"");
	CHECK_STR(DISPLAY(b, "nul\0!"), "%\"nul%00!\"");
	CHECK_STR(DISPLAY(b, "\xe3\x81\x82"), "%\"%e3%81%82\"");
	CHECK_STR(DISPLAY(b, "\xf0\x9f\x98\x80"), "%\"%f0%9f%98%80\"");
	CHECK_STR(DISPLAY(b, "\xf4\x8f\xbf\xbf"), "%\"%f4%8f%bf%bf\"");
	CHECK_STR(DISPLAY(b, "\xed\x9f\xbf"), "%\"%ed%9f%bf\"");
	CHECK_STR(DISPLAY(b, "\xef\xbf\xbf"), "%\"%ef%bf%bf\"");
	CHECK_STR(DISPLAY(b, "~ !#$&'()*+,-./:;<=>?@[]^_`{|}"),
	    "%\"~ !#$&'()*+,-./:;<=>?@[]^_`{|}\"");

	/* invalid UTF-8: nothing written */
	CHECK(DISPLAY(b, "\x80") == NULL);		/* lone continuation */
	CHECK(DISPLAY(b, "\xbf") == NULL);
	CHECK(DISPLAY(b, "\xc0\x80") == NULL);		/* overlong NUL */
	CHECK(DISPLAY(b, "\xc1\xbf") == NULL);		/* overlong */
	CHECK(DISPLAY(b, "\xe0\x80\xaf") == NULL);	/* overlong '/' */
	CHECK(DISPLAY(b, "\xe0\x9f\xbf") == NULL);
	CHECK(DISPLAY(b, "\xf0\x8f\xbf\xbf") == NULL);
	CHECK(DISPLAY(b, "\xed\xa0\x80") == NULL);	/* surrogate */
	CHECK(DISPLAY(b, "\xed\xbf\xbf") == NULL);
	CHECK(DISPLAY(b, "\xf4\x90\x80\x80") == NULL);	/* > U+10FFFF */
	CHECK(DISPLAY(b, "\xf5\x80\x80\x80") == NULL);
	CHECK(DISPLAY(b, "\xff") == NULL);
	CHECK(DISPLAY(b, "\xfe") == NULL);
	CHECK(DISPLAY(b, "\xe3\x81") == NULL);		/* truncated */
	CHECK(DISPLAY(b, "ab\xe3") == NULL);
	CHECK(DISPLAY(b, "\xf0\x9f\x98") == NULL);
	CHECK(DISPLAY(b, "\xe3\x41\x82") == NULL);	/* bad continuation */
	CHECK(DISPLAY(b, "\xc3\xc3\xbc") == NULL);
	CHECK_INT(evbuffer_get_length(b), 0);
	reset(b);
	evbuffer_add(b, "keep", 4);
	CHECK_INT(sfv_add_display_string(b, "ok\xc3", 3), -1);
	CHECK_STR(str(b), "keep");
}

static int
undisplay_fails(const char *enc)
{
	size_t n;

	return undisplay(enc, &n) == NULL;
}

static void
test_display_decode(void)
{
	struct evbuffer *b;
	size_t n;

	CHECK_STR(undisplay("%\"This is intended for display to "
	    "%c3%bcsers.\"", &n), "This is intended for display to "
	    "\xc3\xbcsers.");
	CHECK_STR(undisplay("%\"\"", &n), "");
	CHECK_INT(n, 0);
	CHECK_STR(undisplay("%\"a\\b\"", &n), "a\\b");
	CHECK_STR(undisplay("%\"%25%22\"", &n), "%\"");
	CHECK_STR(undisplay("%\"%00\"", &n), "");
	CHECK_INT(n, 1);
	/* characters that need no escaping may still be escaped */
	CHECK_STR(undisplay("%\"%41\"", &n), "A");

	CHECK(undisplay_fails(""));
	CHECK(undisplay_fails("%"));
	CHECK(undisplay_fails("%\""));			/* unterminated */
	CHECK(undisplay_fails("\"abc\""));		/* a String */
	CHECK(undisplay_fails("% \"abc\""));
	CHECK(undisplay_fails("%\"abc"));
	CHECK(undisplay_fails("%\"abc\" "));		/* trailing */
	CHECK(undisplay_fails("%\"a\"b\""));
	CHECK(undisplay_fails("%\"%C3%BC\""));		/* uppercase hex */
	CHECK(undisplay_fails("%\"%c3%Bc\""));
	CHECK(undisplay_fails("%\"%g0\""));
	CHECK(undisplay_fails("%\"%2\""));		/* short escape */
	CHECK(undisplay_fails("%\"%\""));
	CHECK(undisplay_fails("%\"%c3\""));		/* invalid UTF-8 */
	CHECK(undisplay_fails("%\"%ed%a0%80\""));	/* surrogate */
	CHECK(undisplay_fails("%\"%c0%80\""));		/* overlong */
	CHECK(undisplay_fails("%\"%ff\""));
	CHECK(undisplay_fails("%\"\xc3\xbc\""));	/* raw non-ASCII */
	CHECK(undisplay_fails("%\"a\tb\""));		/* raw control */
	CHECK(undisplay_fails("%\"a\x7f\""));

	/* failure leaves the output untouched */
	b = evbuffer_new();
	evbuffer_add(b, "keep", 4);
	CHECK_INT(sfv_parse_display_string("%\"ok%c3\"", 8, b), -1);
	CHECK_STR(str(b), "keep");
	/* embedded NUL in the encoded form is a control character */
	CHECK_INT(sfv_parse_display_string("%\"a\0\"", 5, b), -1);
	evbuffer_free(b);
}

static int
lchex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Encode, check the encoding is plain ASCII with only lowercase escapes,
 * decode, compare. */
static int
roundtrip(struct evbuffer *b, const char *s, size_t len)
{
	struct evbuffer *dec = evbuffer_new();
	unsigned char *p;
	size_t i, n;
	int ok = 0;

	reset(b);
	if (dec == NULL || sfv_add_display_string(b, s, len) == -1 ||
	    !printable(b))
		goto done;
	n = evbuffer_get_length(b);
	p = evbuffer_pullup(b, -1);
	if (n < 3 || p[0] != '%' || p[1] != '"' || p[n - 1] != '"')
		goto done;
	for (i = 2; i < n - 1; i++) {
		if (p[i] == '"')
			goto done;
		if (p[i] != '%')
			continue;
		if (i + 2 >= n - 1 || !lchex(p[i + 1]) || !lchex(p[i + 2]))
			goto done;
		i += 2;
	}
	if (sfv_parse_display_string((char *)p, n, dec) == -1 ||
	    evbuffer_get_length(dec) != len ||
	    (len > 0 && memcmp(evbuffer_pullup(dec, -1), s, len) != 0))
		goto done;
	ok = 1;
done:
	evbuffer_free(dec);
	return ok;
}

/* Append code point cp to s as UTF-8; returns bytes written. */
static size_t
utf8(unsigned long cp, char *s)
{
	if (cp < 0x80) {
		s[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		s[0] = (char)(0xc0 | cp >> 6);
		s[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		s[0] = (char)(0xe0 | cp >> 12);
		s[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		s[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	s[0] = (char)(0xf0 | cp >> 18);
	s[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	s[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	s[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static void
test_roundtrip(struct evbuffer *b)
{
	static const char *const samples[] = {
		"",
		"plain ASCII, with punctuation: ;,=()<>@[]{}?/\\|~`!#$&'*+",
		"100% sure",
		"%%%",
		"%25 is not decoded twice",
		"\"quoted\" and 'single'",
		"\\\"",
		"%\"",
		"認可コードが正しくないか、有効期限（10分）が切れています。",
		"client_id と client_secret を確認してください。",
		"リダイレクトURI「http://localhost:3000/cb」が一致しません",
		"半角ｶﾀｶﾅと全角／記号　（全角空白）",
		"emoji 😀🔑🚫 and flags 🇯🇵",
		"mixed: naïve café Ünïcödé ∑∞ 𝔘𝔫𝔦",
		"\xf4\x8f\xbf\xbf\xee\x80\x80\xef\xbf\xbd",
		"tab\tcr\rlf\nnul",
	};
	char buf[256 * 4];
	unsigned long cp, start;
	size_t i, n;
	int fails = 0;

	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		CHECK(roundtrip(b, samples[i], strlen(samples[i])));
	CHECK(roundtrip(b, "a\0b", 3));

	/* every scalar value, 256 to a string, surrogates excluded */
	for (start = 0; start < 0x110000; start += 256) {
		n = 0;
		for (cp = start; cp < start + 256; cp++)
			if (cp < 0xd800 || cp > 0xdfff)
				n += utf8(cp, buf + n);
		if (n > 0 && !roundtrip(b, buf, n))
			fails++;
	}
	CHECK_INT(fails, 0);

	/* every single byte: valid alone only below 0x80 */
	fails = 0;
	for (cp = 0; cp < 256; cp++) {
		buf[0] = (char)cp;
		reset(b);
		if ((sfv_add_display_string(b, buf, 1) == 0) != (cp < 0x80))
			fails++;
		else if (cp < 0x80 && !roundtrip(b, buf, 1))
			fails++;
	}
	CHECK_INT(fails, 0);
}

static void
test_annotation(struct evbuffer *b)
{
	struct sfv_param extra[2] = {
		{ "cause", "basic_auth" },
		{ "x-1", "*y" },
	};
	struct sfv_param dup[1] = { { "lang", "en" } };
	struct sfv_param badkey[1] = { { "Cause", "x" } };
	struct sfv_param badtok[1] = { { "cause", "not a token" } };
	const char *doc = "https://docs.github.com/ja/apps/oauth-apps/"
	    "maintaining-oauth-apps/troubleshooting-oauth-app-access-token-"
	    "request-errors#bad-verification-code";
	char want[1024];

	reset(b);
	CHECK_INT(sfv_annotation(b, "bad_verification_code", "ja",
	    "コード \"x\" 100%", doc, NULL, 0), 0);
	snprintf(want, sizeof(want), "bad_verification_code;lang=ja;"
	    "hint=%%\"%%e3%%82%%b3%%e3%%83%%bc%%e3%%83%%89 %%22x%%22 100%%25\";"
	    "doc=\"%s\"", doc);
	CHECK_STR(str(b), want);
	CHECK(printable(b));

	reset(b);
	CHECK_INT(sfv_annotation(b, "redirect_uri_mismatch", "en", "Hint.",
	    "https://x/#a", extra, 2), 0);
	CHECK_STR(str(b), "redirect_uri_mismatch;lang=en;hint=%\"Hint.\";"
	    "doc=\"https://x/#a\";cause=basic_auth;x-1=*y");

	/* each invalid piece: -1 and nothing written */
	reset(b);
	CHECK_INT(sfv_annotation(b, "bad code", "ja", "h", "d", NULL, 0), -1);
	CHECK_INT(sfv_annotation(b, "", "ja", "h", "d", NULL, 0), -1);
	CHECK_INT(sfv_annotation(b, "c", "j a", "h", "d", NULL, 0), -1);
	CHECK_INT(sfv_annotation(b, "c", "ja", "\xff", "d", NULL, 0), -1);
	CHECK_INT(sfv_annotation(b, "c", "ja", "h", "d\n", NULL, 0), -1);
	CHECK_INT(sfv_annotation(b, "c", "ja", "h", "d", dup, 1), -1);
	CHECK_INT(sfv_annotation(b, "c", "ja", "h", "d", badkey, 1), -1);
	CHECK_INT(sfv_annotation(b, "c", "ja", "h", "d", badtok, 1), -1);
	extra[1].sp_key = "cause";
	CHECK_INT(sfv_annotation(b, "c", "ja", "h", "d", extra, 2), -1);
	CHECK_INT(evbuffer_get_length(b), 0);
}

int
main(void)
{
	struct evbuffer *b;

	if ((b = evbuffer_new()) == NULL)
		return 1;
	test_token(b);
	test_string(b);
	test_integer(b);
	test_param(b);
	test_display_encode(b);
	test_display_decode();
	test_roundtrip(b);
	test_annotation(b);
	evbuffer_free(b);
	return t_done();
}
