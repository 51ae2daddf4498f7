/*
 * inspect: every format x every documented code, success bodies, every
 * split of every body (plain and content-coded), limits, gzip bombs,
 * malformed input, nesting, DTDs, and inspect_form_get().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "inspect.h"
#include "t.h"

#define MAX	65536

enum fmt { FORM, JSON, XML, NFMT };

static const char *const fmt_ct[NFMT] = {
	"application/x-www-form-urlencoded",
	"application/json; charset=utf-8",
	"application/xml",
};

/* The three documented codes, with GITHUB-FACTS.md's exact texts. */
static const struct code {
	const char	*error;
	const char	*description;
	const char	*uri;
} codes[] = {
	{ "incorrect_client_credentials",
	  "The client_id and/or client_secret passed are incorrect.",
	  "https://docs.github.com/apps/managing-oauth-apps/"
	  "troubleshooting-oauth-app-access-token-request-errors/"
	  "#incorrect-client-credentials" },
	{ "redirect_uri_mismatch",
	  "The redirect_uri MUST match the registered callback URL for "
	  "this application.",
	  "https://docs.github.com/apps/managing-oauth-apps/"
	  "troubleshooting-authorization-request-errors/"
	  "#redirect-uri-mismatch2" },
	{ "bad_verification_code",
	  "The code passed is incorrect or expired.",
	  "https://docs.github.com/apps/managing-oauth-apps/"
	  "troubleshooting-oauth-app-access-token-request-errors/"
	  "#bad-verification-code" },
};
#define NCODES	(sizeof(codes) / sizeof(codes[0]))

static const char *const success[NFMT] = {
	"access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a"
	"&scope=repo%2Cgist&token_type=bearer",
	"{\"access_token\":\"gho_16C7e42F292c6912E7710c838347Ae178B4a\","
	"\"scope\":\"repo,gist\",\"token_type\":\"bearer\"}",
	"<OAuth><token_type>bearer</token_type><scope>repo,gist</scope>"
	"<access_token>gho_16C7e42F292c6912E7710c838347Ae178B4a"
	"</access_token></OAuth>",
};

/* application/x-www-form-urlencoded, as a browser or Rails writes it. */
static void
form_encode(const char *s, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("*-._", c) != NULL)
			*out++ = (char)c;
		else if (c == ' ')
			*out++ = '+';
		else {
			*out++ = '%';
			*out++ = hex[c >> 4];
			*out++ = hex[c & 0xf];
		}
	}
	*out = '\0';
}

static void
error_body(enum fmt f, const struct code *c, char *out, size_t outlen)
{
	char d[512], u[512];

	switch (f) {
	case FORM:
		form_encode(c->description, d);
		form_encode(c->uri, u);
		snprintf(out, outlen, "error=%s&error_description=%s"
		    "&error_uri=%s", c->error, d, u);
		break;
	case JSON:
		snprintf(out, outlen, "{\n  \"error\": \"%s\",\n"
		    "  \"error_description\": \"%s\",\n"
		    "  \"error_uri\": \"%s\"\n}\n", c->error,
		    c->description, c->uri);
		break;
	default:
		snprintf(out, outlen, "<?xml version=\"1.0\" "
		    "encoding=\"UTF-8\"?>\n<OAuth><error>%s</error>"
		    "<error_description>%s</error_description>"
		    "<error_uri>%s</error_uri></OAuth>", c->error,
		    c->description, c->uri);
		break;
	}
}

/* Compress with zlib: wbits 31 gzip, 15 zlib-wrapped, -15 raw deflate. */
static size_t
zpack_level(int level, int wbits, const void *in, size_t len,
    unsigned char *out, size_t outlen)
{
	z_stream z;
	size_t n;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, level, Z_DEFLATED, wbits, 9,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return 0;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)outlen;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		return 0;
	}
	n = outlen - z.avail_out;
	deflateEnd(&z);
	return n;
}

static size_t
zpack(int wbits, const void *in, size_t len, unsigned char *out,
    size_t outlen)
{
	return zpack_level(9, wbits, in, len, out, outlen);
}

/*
 * Inspect body[0..len): in step-byte pieces if step > 0, else as the two
 * pieces [0, cut) and [cut, len).  Returns finish's value, or -1 as soon
 * as a feed fails (finish must then fail too).
 */
static int
run(const char *ct, const char *ce, size_t max, const void *body,
    size_t len, size_t step, size_t cut, struct inspect_result *res)
{
	const unsigned char *p = body;
	struct inspect *in;
	size_t off, n;
	int rc;

	memset(res, 0xa5, sizeof(*res));
	in = inspect_new(ct, ct ? strlen(ct) : 0, ce, ce ? strlen(ce) : 0,
	    max);
	if (in == NULL)
		return -2;
	if (step == 0) {
		if (cut > len)
			cut = len;
		if (inspect_feed(in, p, cut) == -1 ||
		    inspect_feed(in, p + cut, len - cut) == -1)
			goto feedfail;
	} else {
		for (off = 0; off < len; off += n) {
			n = step < len - off ? step : len - off;
			if (inspect_feed(in, p + off, n) == -1)
				goto feedfail;
		}
	}
	rc = inspect_finish(in, res);
	inspect_free(in);
	return rc;
feedfail:
	rc = inspect_finish(in, res) == -1 ? -1 : -3;
	inspect_free(in);
	return rc;
}

static int
same(const struct inspect_result *a, const struct inspect_result *b)
{
	return strcmp(a->error, b->error) == 0 &&
	    strcmp(a->error_description, b->error_description) == 0 &&
	    strcmp(a->error_uri, b->error_uri) == 0 &&
	    a->has_error == b->has_error &&
	    a->has_access_token == b->has_access_token;
}

/* Same result for one feed, every two-feed split, and 1-byte feeds. */
static int
splits_agree(const char *ct, const char *ce, const void *body, size_t len,
    const struct inspect_result *want)
{
	struct inspect_result r;
	size_t cut;
	int bad = 0;

	for (cut = 0; cut <= len; cut++)
		if (run(ct, ce, MAX, body, len, 0, cut, &r) != 0 ||
		    !same(&r, want))
			bad++;
	if (run(ct, ce, MAX, body, len, 1, 0, &r) != 0 || !same(&r, want))
		bad++;
	if (run(ct, ce, MAX, body, len, 7, 0, &r) != 0 || !same(&r, want))
		bad++;
	return bad;
}

/* One body under every content coding, every split of the coded bytes. */
static int
codings_agree(const char *ct, const char *body,
    const struct inspect_result *want)
{
	static const struct {
		const char	*ce;
		int		 wbits;
	} cod[] = {
		{ NULL, 0 }, { "identity", 0 }, { "gzip", 31 },
		{ "x-gzip", 31 }, { "deflate", 15 }, { "deflate", -15 },
	};
	unsigned char z[8192];
	const void *p;
	size_t i, n;
	int bad = 0;

	for (i = 0; i < sizeof(cod) / sizeof(cod[0]); i++) {
		p = body;
		n = strlen(body);
		if (cod[i].wbits != 0) {
			n = zpack(cod[i].wbits, body, n, z, sizeof(z));
			p = z;
		}
		if (n == 0 || splits_agree(ct, cod[i].ce, p, n, want) != 0) {
			fprintf(stderr, "  coding %s/%d differs\n",
			    cod[i].ce ? cod[i].ce : "-", cod[i].wbits);
			bad++;
		}
	}
	return bad;
}

static void
test_codes(void)
{
	struct inspect_result r;
	char body[2048];
	size_t i;
	int f;

	for (i = 0; i < NCODES; i++) {
		for (f = 0; f < NFMT; f++) {
			error_body((enum fmt)f, &codes[i], body, sizeof(body));
			CHECK_INT(run(fmt_ct[f], NULL, MAX, body, strlen(body),
			    0, 0, &r), 0);
			CHECK_INT(r.has_error, 1);
			CHECK_INT(r.has_access_token, 0);
			CHECK_STR(r.error, codes[i].error);
			CHECK_STR(r.error_description, codes[i].description);
			CHECK_STR(r.error_uri, codes[i].uri);
			CHECK_INT(codings_agree(fmt_ct[f], body, &r), 0);
		}
	}
}

static void
test_github_examples(void)
{
	static const char form[] = "error=bad_verification_code"
	    "&error_description=The+code+passed+is+incorrect+or+expired."
	    "&error_uri=https%3A%2F%2Fdocs.github.com%2Fapps%2Fmanaging-"
	    "oauth-apps%2Ftroubleshooting-oauth-app-access-token-request-"
	    "errors%2F%23bad-verification-code";
	static const char json[] = "{\"error\":\"bad_verification_code\","
	    "\"error_description\":\"The code passed is incorrect or "
	    "expired.\",\"error_uri\":\"/apps/managing-oauth-apps/"
	    "troubleshooting-oauth-app-access-token-request-errors/"
	    "#bad-verification-code\"}";
	struct inspect_result r;

	CHECK_INT(run(NULL, NULL, MAX, form, strlen(form), 0, 0, &r), 0);
	CHECK_STR(r.error, "bad_verification_code");
	CHECK_STR(r.error_description,
	    "The code passed is incorrect or expired.");
	CHECK_STR(r.error_uri, codes[2].uri);
	CHECK_INT(run("application/json", NULL, MAX, json, strlen(json), 0,
	    0, &r), 0);
	CHECK_STR(r.error, "bad_verification_code");
	CHECK_STR(r.error_uri, "/apps/managing-oauth-apps/troubleshooting-"
	    "oauth-app-access-token-request-errors/#bad-verification-code");
}

static void
test_success(void)
{
	struct inspect_result r;
	int f;

	for (f = 0; f < NFMT; f++) {
		CHECK_INT(run(fmt_ct[f], NULL, MAX, success[f],
		    strlen(success[f]), 0, 0, &r), 0);
		CHECK_INT(r.has_error, 0);
		CHECK_INT(r.has_access_token, 1);
		CHECK_STR(r.error, "");
		CHECK_STR(r.error_description, "");
		CHECK_STR(r.error_uri, "");
		/* the token is never copied anywhere in the result */
		CHECK(memmem(&r, sizeof(r), "gho_", 4) == NULL);
		CHECK_INT(codings_agree(fmt_ct[f], success[f], &r), 0);
	}
}

static int
rc_of(const char *ct, const char *body, struct inspect_result *r)
{
	return run(ct, NULL, MAX, body, strlen(body), 0, 0, r);
}

static void
test_limits(void)
{
	struct inspect_result r;
	unsigned char *big, *z;
	char body[2048];
	size_t len, zlen, off;
	struct inspect *in;
	int rc;

	error_body(JSON, &codes[0], body, sizeof(body));
	len = strlen(body);
	CHECK_INT(run(fmt_ct[JSON], NULL, len, body, len, 0, 0, &r), 0);
	CHECK_INT(run(fmt_ct[JSON], NULL, len - 1, body, len, 0, 0, &r), -1);
	CHECK_INT(run(fmt_ct[JSON], NULL, len - 1, body, len, 1, 0, &r), -1);
	CHECK_INT(run(fmt_ct[FORM], NULL, 0, "a", 1, 0, 0, &r), -1);
	CHECK_INT(run(fmt_ct[FORM], NULL, 0, "", 0, 0, 0, &r), 0);

	/* the decoded size counts too, not only the raw size */
	z = malloc(1 << 20);
	zlen = zpack(31, body, len, z, 1 << 20);
	CHECK(zlen < len - 1);
	CHECK_INT(run(fmt_ct[JSON], "gzip", len, z, zlen, 0, 0, &r), 0);
	CHECK_INT(run(fmt_ct[JSON], "gzip", len - 1, z, zlen, 0, 0, &r), -1);
	CHECK_INT(run(fmt_ct[JSON], "gzip", len - 1, z, zlen, 1, 0, &r), -1);

	/* and the raw size on its own: stored blocks outgrow their content */
	zlen = zpack_level(0, 31, body, len, z, 1 << 20);
	CHECK(zlen > len);
	CHECK_INT(run(fmt_ct[JSON], "gzip", zlen, z, zlen, 0, 0, &r), 0);
	CHECK_INT(run(fmt_ct[JSON], "gzip", zlen - 1, z, zlen, 0, 0, &r), -1);
	CHECK_INT(run(fmt_ct[JSON], "gzip", zlen - 1, z, zlen, 1, 0, &r), -1);

	/* a gzip bomb: 64 MiB of 'a' in a JSON string, about 64 KiB packed */
	big = malloc(64 << 20);
	memset(big, 'a', 64 << 20);
	memcpy(big, "{\"error\":\"", 10);
	zlen = zpack(31, big, 64 << 20, z, 1 << 20);
	CHECK(zlen > 0 && zlen < (1 << 20));
	CHECK_INT(run(fmt_ct[JSON], "gzip", 1 << 20, z, zlen, 0, 0, &r), -1);
	/* fed in 1 KiB pieces it stops long before the end of the input */
	in = inspect_new("application/json", 16, "gzip", 4, MAX);
	for (off = 0, rc = 0; off < zlen && rc == 0; off += 1024)
		rc = inspect_feed(in, z + off, zlen - off < 1024 ?
		    zlen - off : 1024);
	CHECK_INT(rc, -1);
	CHECK(off < zlen / 4);
	CHECK_INT(inspect_finish(in, &r), -1);
	CHECK_INT(r.has_error, 0);
	inspect_free(in);
	/* the same bomb as deflate (zlib and raw) */
	zlen = zpack(15, big, 64 << 20, z, 1 << 20);
	CHECK_INT(run(fmt_ct[JSON], "deflate", MAX, z, zlen, 0, 0, &r), -1);
	zlen = zpack(-15, big, 64 << 20, z, 1 << 20);
	CHECK_INT(run(fmt_ct[JSON], "deflate", MAX, z, zlen, 0, 0, &r), -1);
	free(big);
	free(z);
}

/* Every prefix short of a JSON/XML body's last character is truncated. */
static int
prefixes_fail(enum fmt f, const char *body)
{
	struct inspect_result r;
	size_t n, len = strlen(body);
	int bad = 0;

	while (len > 0 && strchr(" \n", body[len - 1]) != NULL)
		len--;
	for (n = 0; n < len; n++)
		if (run(fmt_ct[f], NULL, MAX, body, n, 0, n / 2, &r) != -1)
			bad++;
	return bad;
}

static void
test_malformed(void)
{
	static const char *const json[] = {
		"", " ", "{", "{\"error\":\"x\"", "{\"error\":}",
		"{\"error\" \"x\"}", "{\"error\":\"x\"}}",
		"{\"error\":\"x\"} x",
		"{\"error\":\"x\"}{}", "{'error':'x'}", "{\"error\":\"x\\q\"}",
		"{\"error\":\"\xc3\x28\"}", "/* c */ {}", "{\"error\":x}",
		"{\"error\":\"a\\u0000b\"}", "{\"error\":\"a\nb\"}",
		"[1,]", "{\"a\":1,}", "nul", "error=x",
	};
	static const char *const xml[] = {
		"", "x", "<OAuth>", "<OAuth><error>x</error>",
		"<OAuth><error>x</OAuth>", "<OAuth>&foo;</OAuth>",
		"<OAuth></OAuth><x/>", "<OAuth><error>\xff</error></OAuth>",
		"<OAuth><error>&#0;</error></OAuth>", "<a><b></a></b>",
		"{\"error\":\"x\"}",
	};
	static const char *const form[] = {
		"error=%zz", "error=%4", "error=abc%", "%", "%%41", "a=b&c=%G1",
		"error=%00", "error=bad%00code", "x%2=1",
	};
	struct inspect_result r;
	char body[2048];
	size_t i;
	int f;

	for (i = 0; i < sizeof(json) / sizeof(json[0]); i++)
		CHECK_INT(rc_of(fmt_ct[JSON], json[i], &r), -1);
	for (i = 0; i < sizeof(xml) / sizeof(xml[0]); i++)
		CHECK_INT(rc_of(fmt_ct[XML], xml[i], &r), -1);
	for (i = 0; i < sizeof(form) / sizeof(form[0]); i++)
		CHECK_INT(rc_of(fmt_ct[FORM], form[i], &r), -1);
	CHECK_INT(r.has_error, 0);
	CHECK_STR(r.error, "");

	for (f = JSON; f <= XML; f++) {
		error_body((enum fmt)f, &codes[1], body, sizeof(body));
		CHECK_INT(prefixes_fail((enum fmt)f, body), 0);
		CHECK_INT(prefixes_fail((enum fmt)f, success[f]), 0);
	}
	/* form prefixes are still forms; a cut %-escape is not */
	CHECK_INT(rc_of(fmt_ct[FORM], "error=a%2", &r), -1);
	CHECK_INT(rc_of(fmt_ct[FORM], "", &r), 0);
	CHECK_INT(r.has_error, 0);
}

/* depth x open, then mid, then depth x close, into buf. */
static const char *
nest(char *buf, int depth, const char *open, const char *mid,
    const char *close)
{
	char *p = buf;
	int i;

	for (i = 0; i < depth; i++)
		p += sprintf(p, "%s", open);
	p += sprintf(p, "%s", mid);
	for (i = 0; i < depth; i++)
		p += sprintf(p, "%s", close);
	return buf;
}

static void
test_json(void)
{
	static char deep[65536];
	struct inspect_result r;

	CHECK_INT(rc_of("application/json",
	    "{\"x\":{\"error\":\"bad_verification_code\"}}", &r), 0);
	CHECK_INT(r.has_error, 0);
	CHECK_INT(rc_of("application/json", "[{\"error\":\"x\"}]", &r), 0);
	CHECK_INT(r.has_error, 0);
	CHECK_INT(rc_of("application/json", "{\"error\":{\"error\":\"x\"}}",
	    &r), 0);
	CHECK_INT(r.has_error, 0);
	CHECK_INT(rc_of("application/json", "{\"error\":[\"x\"]}", &r), 0);
	CHECK_INT(r.has_error, 0);
	CHECK_INT(rc_of("application/json", "{\"error\":123}", &r), 0);
	CHECK_INT(r.has_error, 0);
	CHECK_INT(rc_of("application/json", "{\"error\":null}", &r), 0);
	CHECK_INT(r.has_error, 0);
	CHECK_INT(rc_of("application/json", "{\"error\":\"\"}", &r), 0);
	CHECK_INT(r.has_error, 0);
	CHECK_INT(rc_of("application/json", "\"error\"", &r), 0);
	CHECK_INT(r.has_error, 0);
	CHECK_INT(rc_of("application/json",
	    "{\"x\":[{\"error\":\"y\"}],\"n\":1e999,\"b\":true,"
	    "\"big\":123456789012345678901234567890,\"error\":\"z\"}", &r), 0);
	CHECK_STR(r.error, "z");
	CHECK_INT(rc_of("application/json",
	    "{\"error\":\"a\",\"error\":\"b\"}", &r), 0);
	CHECK_STR(r.error, "b");
	CHECK_INT(rc_of("application/json",
	    "{\"error_description\":\"q\\\"\\\\\\/\\n\\u3042\\ud83d\\ude00\","
	    "\"error\":\"e\"}", &r), 0);
	CHECK_STR(r.error_description, "q\"\\/\n\xe3\x81\x82\xf0\x9f\x98\x80");
	CHECK_INT(rc_of("application/json",
	    "{\"access_token\":\"\",\"error\":\"e\"}", &r), 0);
	CHECK_INT(r.has_access_token, 0);

	/* nesting is bounded: 32 levels parse, 33 do not */
	CHECK_INT(rc_of("application/json", nest(deep, 32, "[", "1", "]"),
	    &r), 0);
	CHECK_INT(rc_of("application/json", nest(deep, 33, "[", "1", "]"),
	    &r), -1);
	CHECK_INT(rc_of("application/json", nest(deep, 32, "{\"a\":", "1",
	    "}"), &r), 0);
	CHECK_INT(rc_of("application/json", nest(deep, 33, "{\"a\":", "1",
	    "}"), &r), -1);
	CHECK_INT(rc_of("application/json", nest(deep, 5000, "[", "", "]"),
	    &r), -1);
}

static void
test_xml(void)
{
	static const char *const dtd[] = {
		"<!DOCTYPE OAuth><OAuth><error>x</error></OAuth>",
		"<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n"
		" <!ENTITY lol \"lol\">\n"
		" <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
		" <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
		" <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
		" <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
		"]>\n<OAuth><error>&lol4;</error></OAuth>",
		"<!DOCTYPE OAuth [<!ENTITY e \"bad_verification_code\">]>"
		"<OAuth><error>&e;</error></OAuth>",
		"<!DOCTYPE OAuth [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		"<OAuth><error>&x;</error></OAuth>",
		"<!DOCTYPE OAuth SYSTEM \"http://127.0.0.1:1/x.dtd\">"
		"<OAuth><error>x</error></OAuth>",
		"<!DOCTYPE OAuth [<!ENTITY % p \"x\"> %p;]><OAuth/>",
	};
	struct inspect_result r;
	size_t i;

	for (i = 0; i < sizeof(dtd) / sizeof(dtd[0]); i++) {
		CHECK_INT(rc_of("text/xml", dtd[i], &r), -1);
		CHECK_INT(r.has_error, 0);
		CHECK_INT(prefixes_fail(XML, dtd[i]), 0);
	}
	CHECK_INT(rc_of("text/xml",
	    "<OAuth><x><error>e</error></x></OAuth>", &r), 0);
	CHECK_INT(r.has_error, 0);
	CHECK_INT(rc_of("text/xml", "<error>e</error>", &r), 0);
	CHECK_INT(r.has_error, 0);
	CHECK_INT(rc_of("text/xml", "<response a=\"1\">\n  <error b=\"2\">"
	    "e1</error>\n</response>\n", &r), 0);
	CHECK_STR(r.error, "e1");
	CHECK_INT(rc_of("text/xml", "<OAuth><error>a &amp; &lt;b&gt; &#x3042;"
	    "<![CDATA[<c>]]><!-- x --><i>skip</i>d</error></OAuth>", &r), 0);
	CHECK_STR(r.error, "a & <b> \xe3\x81\x82<c>d");
	CHECK_INT(rc_of("text/xml", "<OAuth><error>a</error><error>b</error>"
	    "</OAuth>", &r), 0);
	CHECK_STR(r.error, "b");
	CHECK_INT(rc_of("text/xml", "<OAuth><error/></OAuth>", &r), 0);
	CHECK_INT(r.has_error, 0);
	CHECK_INT(rc_of("text/xml", "<ns:OAuth xmlns:ns=\"u\"><ns:error>x"
	    "</ns:error></ns:OAuth>", &r), 0);
	CHECK_INT(r.has_error, 0);
}

static void
test_form(void)
{
	struct inspect_result r;

	CHECK_INT(rc_of(NULL, "error=a+b%20c%2B%2b&error_uri=%E3%81%82",
	    &r), 0);
	CHECK_STR(r.error, "a b c++");
	CHECK_STR(r.error_uri, "\xe3\x81\x82");
	CHECK_INT(rc_of(NULL, "%65rror=x", &r), 0);
	CHECK_STR(r.error, "x");
	CHECK_INT(rc_of(NULL, "error=x=y", &r), 0);
	CHECK_STR(r.error, "x=y");
	CHECK_INT(rc_of(NULL, "error", &r), 0);
	CHECK_INT(r.has_error, 0);
	CHECK_INT(rc_of(NULL, "error=", &r), 0);
	CHECK_INT(r.has_error, 0);
	CHECK_INT(rc_of(NULL, "&&error=x&&=y&", &r), 0);
	CHECK_STR(r.error, "x");
	CHECK_INT(rc_of(NULL, "ERROR=x&errors=y&xerror=z&error+=w", &r), 0);
	CHECK_INT(r.has_error, 0);
	CHECK_INT(rc_of(NULL, "error=a&error=b", &r), 0);
	CHECK_STR(r.error, "b");
	CHECK_INT(rc_of("text/html", "error=x", &r), 0);
	CHECK_STR(r.error, "x");
	CHECK_INT(rc_of(NULL, "<html>error</html>", &r), 0);
	CHECK_INT(r.has_error, 0);
	CHECK_INT(rc_of(NULL, "access_token=t&error=e", &r), 0);
	CHECK_INT(r.has_access_token, 1);
	CHECK_INT(r.has_error, 1);
}

/* Long values truncate to the slot, never splitting a UTF-8 character. */
static void
test_truncation(void)
{
	struct inspect_result r;
	char body[4096], *p;
	int i;

	p = body + sprintf(body, "{\"error\":\"");
	for (i = 0; i < 100; i++)
		*p++ = 'e';
	p += sprintf(p, "\",\"error_description\":\"d");
	for (i = 0; i < 300; i++)
		p += sprintf(p, "\xe3\x81\x82");	/* 3 bytes each */
	p += sprintf(p, "\",\"error_uri\":\"x");
	for (i = 0; i < 300; i++)
		p += sprintf(p, "\xf0\x9f\x98\x80");	/* 4 bytes each */
	sprintf(p, "\"}");
	CHECK_INT(rc_of("application/json", body, &r), 0);
	CHECK_INT(strlen(r.error), 63);
	CHECK_INT(r.has_error, 1);
	CHECK_INT(strlen(r.error_description), 253);	/* "d" + 84 */
	CHECK_INT(strlen(r.error_uri), 509);		/* "x" + 127 */
	CHECK_INT((unsigned char)r.error_uri[508], 0x80);
}

static void
test_content_headers(void)
{
	static const char json[] = "{\"error\":\"x\"}";
	static const char xml[] = "<OAuth><error>x</error></OAuth>";
	static const struct {
		const char	*ct;
		const char	*body;
		int		 has_error;
	} ct[] = {
		{ "application/json", json, 1 },
		{ "Application/JSON; charset=utf-8", json, 1 },
		{ " application/json ;charset=utf-8", json, 1 },
		{ "application/vnd.github+json", json, 1 },
		{ "application/problem+JSON", json, 1 },
		{ "text/xml", xml, 1 },
		{ "TEXT/XML; charset=UTF-8", xml, 1 },
		{ "application/xml", xml, 1 },
		/* everything else is a form: these bodies then say nothing */
		{ "application/x-www-form-urlencoded", json, 0 },
		{ "text/plain", json, 0 },
		{ "application/jsonx", json, 0 },
		{ "json", json, 0 },
		{ "", json, 0 },
		{ NULL, xml, 0 },
		{ "application/xhtml+xml", xml, 0 },
	};
	static const char *const bad_ce[] = {
		"br", "zstd", "compress", "gzip, br", "gzip, gzip",
		"deflate,gzip", "gzipx", "g zip",
	};
	static const char *const good_ce[] = {
		"", "identity", " identity ", "IDENTITY", ",",
	};
	struct inspect_result r;
	struct inspect *in;
	unsigned char z[256];
	size_t i, zlen;

	for (i = 0; i < sizeof(ct) / sizeof(ct[0]); i++) {
		CHECK_INT(rc_of(ct[i].ct, ct[i].body, &r), 0);
		if (r.has_error != ct[i].has_error)
			fprintf(stderr, "  content type \"%s\"\n",
			    ct[i].ct ? ct[i].ct : "(null)");
		CHECK_INT(r.has_error, ct[i].has_error);
	}
	/* lengths are honoured: no NUL needed, nothing read past them */
	in = inspect_new("text/xmlfoo", 8, "gzipper", 4, MAX);
	CHECK(in != NULL);
	inspect_free(in);
	for (i = 0; i < sizeof(bad_ce) / sizeof(bad_ce[0]); i++) {
		in = inspect_new(NULL, 0, bad_ce[i], strlen(bad_ce[i]), MAX);
		CHECK(in == NULL);
		inspect_free(in);
	}
	for (i = 0; i < sizeof(good_ce) / sizeof(good_ce[0]); i++) {
		CHECK_INT(run("application/json", good_ce[i], MAX, json,
		    strlen(json), 0, 3, &r), 0);
		CHECK_INT(r.has_error, 1);
	}
	zlen = zpack(31, json, strlen(json), z, sizeof(z));
	CHECK_INT(run("application/json", " GZIP ", MAX, z, zlen, 0, 0, &r), 0);
	CHECK_INT(run("application/json", "identity, gzip", MAX, z, zlen, 0,
	    0, &r), 0);
	CHECK_INT(r.has_error, 1);
	inspect_free(NULL);
}

static void
test_coding_errors(void)
{
	static const char json[] = "{\"error\":\"x\"}";
	struct inspect_result r;
	unsigned char z[512];
	size_t n, m;

	/* truncated streams */
	n = zpack(31, json, strlen(json), z, sizeof(z));
	CHECK_INT(run(fmt_ct[JSON], "gzip", MAX, z, n - 1, 0, 0, &r), -1);
	CHECK_INT(run(fmt_ct[JSON], "gzip", MAX, z, 10, 0, 0, &r), -1);
	CHECK_INT(run(fmt_ct[JSON], "gzip", MAX, z, 0, 0, 0, &r), -1);
	CHECK_INT(run(fmt_ct[JSON], "deflate", MAX, z, 0, 0, 0, &r), -1);
	CHECK_INT(run(fmt_ct[JSON], "deflate", MAX, "x", 1, 0, 0, &r), -1);
	/* not compressed at all */
	CHECK_INT(run(fmt_ct[JSON], "gzip", MAX, json, strlen(json), 0, 0,
	    &r), -1);
	CHECK_INT(run(fmt_ct[JSON], "deflate", MAX, json, strlen(json), 0,
	    0, &r), -1);
	/* corrupted CRC */
	z[n - 6] ^= 0xff;
	CHECK_INT(run(fmt_ct[JSON], "gzip", MAX, z, n, 0, 0, &r), -1);
	z[n - 6] ^= 0xff;
	/* two gzip members make one body; garbage after one does not */
	m = zpack(31, "", 0, z + n, sizeof(z) - n);
	CHECK_INT(run(fmt_ct[JSON], "gzip", MAX, z, n + m, 0, 0, &r), 0);
	CHECK_INT(splits_agree(fmt_ct[JSON], "gzip", z, n + m, &r), 0);
	memcpy(z + n, "junk", 4);
	CHECK_INT(run(fmt_ct[JSON], "gzip", MAX, z, n + 4, 0, 0, &r), -1);
	n = zpack(15, json, strlen(json), z, sizeof(z));
	CHECK_INT(run(fmt_ct[JSON], "deflate", MAX, z, n, 0, 0, &r), 0);
	CHECK_INT(run(fmt_ct[JSON], "deflate", MAX, z, n + 1, 0, 0, &r), -1);
	/* one zlib stream per deflate body, unlike gzip members */
	m = zpack(15, "", 0, z + n, sizeof(z) - n);
	CHECK_INT(run(fmt_ct[JSON], "deflate", MAX, z, n + m, 0, 0, &r), -1);
	CHECK_INT(run(fmt_ct[JSON], "deflate", MAX, z, n - 1, 0, 0, &r), -1);
	/* a gzip body labelled deflate is not sniffed as anything else */
	n = zpack(31, json, strlen(json), z, sizeof(z));
	CHECK_INT(run(fmt_ct[JSON], "deflate", MAX, z, n, 0, 0, &r), -1);
}

static void
test_lifecycle(void)
{
	struct inspect_result r;
	struct inspect *in;

	in = inspect_new(NULL, 0, NULL, 0, MAX);
	CHECK_INT(inspect_feed(in, "error=%zz", 9), -1);
	CHECK_INT(inspect_feed(in, "", 0), -1);
	CHECK_INT(inspect_finish(in, &r), -1);
	inspect_free(in);

	in = inspect_new(NULL, 0, NULL, 0, MAX);
	CHECK_INT(inspect_feed(in, "error=e", 7), 0);
	CHECK_INT(inspect_feed(in, NULL, 0), 0);
	CHECK_INT(inspect_finish(in, &r), 0);
	CHECK_STR(r.error, "e");
	CHECK_INT(inspect_finish(in, &r), -1);
	CHECK_INT(inspect_feed(in, "x", 1), -1);
	inspect_free(in);

	/* freed mid-body in every format and coding: no leaks (ASan) */
	in = inspect_new("application/json", 16, "gzip", 4, MAX);
	CHECK_INT(inspect_feed(in, "\x1f\x8b", 2), 0);
	inspect_free(in);
	in = inspect_new("text/xml", 8, "deflate", 7, MAX);
	CHECK_INT(inspect_feed(in, "\x78", 1), 0);
	inspect_free(in);
	in = inspect_new("text/xml", 8, NULL, 0, MAX);
	CHECK_INT(inspect_feed(in, "<OAuth><error>x", 15), 0);
	inspect_free(in);
}

static void
test_form_get(void)
{
	static const char req[] = "client_id=Iv1.8a61f9b3a7aba766"
	    "&client_secret=0123456789abcdef0123456789abcdef01234567"
	    "&code=abc&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback"
	    "&grant_type=authorization_code";
	char out[64];

	CHECK_INT(inspect_form_get(req, strlen(req), "client_id", out,
	    sizeof(out)), 20);
	CHECK_STR(out, "Iv1.8a61f9b3a7aba766");
	CHECK_INT(inspect_form_get(req, strlen(req), "redirect_uri", out,
	    sizeof(out)), 30);
	CHECK_STR(out, "http://localhost:3000/callback");
	CHECK_INT(inspect_form_get(req, strlen(req), "grant_type", out,
	    sizeof(out)), 18);
	CHECK_STR(out, "authorization_code");
	CHECK_INT(inspect_form_get(req, strlen(req), "scope", out,
	    sizeof(out)), -1);
	CHECK_INT(inspect_form_get(req, strlen(req), "client", out,
	    sizeof(out)), -1);
	/* exactly fits, and one byte short */
	CHECK_INT(inspect_form_get(req, strlen(req), "client_id", out, 21),
	    20);
	CHECK_INT(inspect_form_get(req, strlen(req), "client_id", out, 20),
	    -1);
	CHECK_INT(inspect_form_get(req, strlen(req), "client_id", out, 0),
	    -1);
	/* the length bounds the search: the key lies past it */
	CHECK_INT(inspect_form_get(req, 30, "redirect_uri", out,
	    sizeof(out)), -1);
	CHECK_INT(inspect_form_get("client_id=", 10, "client_id", out,
	    sizeof(out)), 0);
	CHECK_STR(out, "");
	CHECK_INT(inspect_form_get("client_id", 9, "client_id", out,
	    sizeof(out)), 0);
	CHECK_INT(inspect_form_get("client_id=a&client_id=b", 23, "client_id",
	    out, sizeof(out)), 1);
	CHECK_STR(out, "b");
	CHECK_INT(inspect_form_get("a=%zz&client_id=x", 17, "client_id", out,
	    sizeof(out)), -1);
	CHECK_INT(inspect_form_get("client_id=a%00b", 15, "client_id", out,
	    sizeof(out)), -1);
	CHECK_INT(inspect_form_get("client_idx=1&xclient_id=2", 25,
	    "client_id", out, sizeof(out)), -1);
	CHECK_INT(inspect_form_get("", 0, "client_id", out, sizeof(out)),
	    -1);
}

int
main(void)
{
	test_codes();
	test_github_examples();
	test_success();
	test_limits();
	test_malformed();
	test_json();
	test_xml();
	test_form();
	test_truncation();
	test_content_headers();
	test_coding_errors();
	test_lifecycle();
	test_form_get();
	return t_done();
}
