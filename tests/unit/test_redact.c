/* proxy/redact.c: what every sink shows of URLs and secrets. */
#include <string.h>

#include "redact.h"
#include "t.h"

static char	out[512];

static const char *
url(const struct redact *rd, const char *u)
{
	return redact_url(rd, u, strlen(u), out, sizeof(out));
}

static const char *
text(const struct redact *rd, const char *t)
{
	return redact_text(rd, t, strlen(t), out, sizeof(out));
}

static void
test_url(void)
{
	CHECK_STR(url(NULL, "http://localhost:3000/callback"),
	    "http://localhost:3000/callback");
	CHECK_STR(url(NULL, "http://user:pass@localhost:3000/cb"),
	    "http://***@localhost:3000/cb");
	CHECK_STR(url(NULL, "http://a@b@localhost/cb"),
	    "http://***@localhost/cb");
	CHECK_STR(url(NULL, "http://localhost/cb#access_token=gho_x&s=1"),
	    "http://localhost/cb#***");
	CHECK_STR(url(NULL, "http://localhost/cb?session=abc&client_id=Iv1.a"
	    "&scope=repo%2Cgist&state=xyz&code=c0de&flag&empty=&x=%ZZ"),
	    "http://localhost/cb?session=***&client_id=Iv1.a&scope=repo%2Cgist"
	    "&state=***&code=***&***&empty=&x=***");
	CHECK_STR(url(NULL, "/login/oauth/authorize?client%5Fid=Iv1&"
	    "response_type=code&error=e&error_description=d+x&interval=5"),
	    "/login/oauth/authorize?client%5Fid=Iv1&response_type=code&"
	    "error=e&error_description=d+x&interval=5");
	/* Names are matched exactly: client_id_x is not client_id. */
	CHECK_STR(url(NULL, "/a?client_id_x=1&CLIENT_ID=2&error%=3"),
	    "/a?client_id_x=***&CLIENT_ID=***&error%=***");
	CHECK_STR(url(NULL, "http://h?q=1#"), "http://h?q=***#***");
	CHECK_STR(url(NULL, ""), "");
	/* Redacting twice changes nothing. */
	CHECK_STR(url(NULL, "http://***@h/p?a=***#***"),
	    "http://***@h/p?a=***#***");
}

static void
test_secrets(void)
{
	struct redact	rd;
	const char	*secret =
	    " \"0123456789abcdef0123456789abcdef01234567\"\n";
	const char	*code = "c0de9f";

	redact_init(&rd);
	redact_add(&rd, secret);
	redact_add(&rd, code);
	redact_add(&rd, "abc");		/* too short to search for */
	redact_add(&rd, NULL);
	redact_add(&rd, "c0de9f");	/* once is enough */
	CHECK_INT(rd.rd_n, 2);
	/* Masked wherever it appears: a path, free text, a host. */
	CHECK_STR(url(&rd, "http://localhost/cb/c0de9f/x"),
	    "http://localhost/cb/***/x");
	CHECK_STR(text(&rd, "client_id 0123456789abcdef0123456789abcdef01234567"
	    " has leading whitespace"), "client_id *** has leading whitespace");
	CHECK_STR(text(&rd, "host differs: c0de9f.example vs abc"),
	    "host differs: ***.example vs abc");
	/* URLs in free text, whatever surrounds them; punctuation after a
	 * URL is part of it, masked with the last value. */
	CHECK_STR(text(&rd, "sent (http://u:p@h/cb?session=s1#t) and "
	    "=https://h/?error=x&state=y, done"),
	    "sent (http://***@h/cb?session=***#*** and "
	    "=https://h/?error=x&state=*** done");
	CHECK_STR(text(NULL, "no url here: a?b=c"), "no url here: a?b=c");
	/* Bounded: truncated, never overflowed. */
	{
		char	small[8];

		redact_text(NULL, "0123456789", 10, small, sizeof(small));
		CHECK_STR(small, "0123456");
	}
}

int
main(void)
{
	test_url();
	test_secrets();
	return t_done();
}
