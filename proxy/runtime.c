/*
 * Runtime recognition from a CONNECT head. See runtime.h.
 */
#include <string.h>
#include <strings.h>

#include "http1.h"
#include "runtime.h"

/* User-Agent fragments, case-insensitive, most specific first: "git/"
 * and not "git" (the GitHub CLI says "GitHub CLI"), Deno and Bun before
 * the generic names their agents may carry. */
static const char *const runtime_agents[][2] = {
	{ "deno/", "deno" }, { "bun/", "bun" },
	{ "go-http-client", "go" }, { "python", "python" },
	{ "aiohttp", "python" }, { "node", "node" }, { "undici", "node" },
	{ "axios", "node" }, { "guzzle", "php" }, { "php", "php" },
	{ "wget", "wget" }, { "git/", "git" }, { "curl", "curl" },
	{ "java", "java" }, { "okhttp", "java" }, { "ruby", "ruby" },
	/* Last: every browser's agent starts so, and none of the above. */
	{ "mozilla/", "browser" },
};

/* Case-insensitive search of a C string in a slice. */
static int
runtime_has(const struct slice *s, const char *needle)
{
	size_t	n = strlen(needle), i;

	for (i = 0; i + n <= s->s_len; i++)
		if (strncasecmp(s->s_ptr + i, needle, n) == 0)
			return 1;
	return 0;
}

/* Whether the head has a field spelt exactly name (case included). */
static int
runtime_field_spelt(const struct http1_head *h, const char *name)
{
	size_t	n = strlen(name), i;

	for (i = 0; i < h->h_nhdrs; i++)
		if (h->h_hdrs[i].hd_name.s_len == n &&
		    memcmp(h->h_hdrs[i].hd_name.s_ptr, name, n) == 0)
			return 1;
	return 0;
}

/* The fields the runtime's HTTP stack writes on its own: all but a
 * Proxy-Authorization, which any of them adds when the proxy URL carries
 * credentials. */
static size_t
runtime_own_fields(const struct http1_head *h)
{
	return h->h_nhdrs - (http1_header(h, "proxy-authorization") != NULL);
}

/* No User-Agent: the shape of the head. */
static const char *
runtime_by_shape(const struct http1_head *h)
{
	size_t	own = runtime_own_fields(h);

	/* Python's http.client (requests, urllib3, urllib, pip) and PHP's
	 * stream wrapper (file_get_contents): a bare HTTP/1.0 line. */
	if (h->h_major == 1 && h->h_minor == 0 && own == 0)
		return "python";
	/* undici (Node's fetch, ProxyAgent) writes lowercase names. */
	if (runtime_field_spelt(h, "host"))
		return "node";
	/* libcurl without CURLOPT_USERAGENT: PHP's curl extension and every
	 * library on it (Guzzle, Socialite, league/oauth2-client). */
	if (http1_header(h, "proxy-connection") != NULL)
		return "php";
	/* java.net.http.HttpClient: Host alone (so does Ruby 3.1's
	 * Net::HTTP, which trusts SSL_CERT_FILE; Java is the one that needs
	 * telling). */
	if (h->h_major == 1 && h->h_minor == 1 && own == 1 &&
	    h->h_host == 0)
		return "java";
	return "unknown";
}

const char *
runtime_guess(const struct http1_head *h)
{
	const struct slice	*ua = http1_header(h, "user-agent");
	size_t			 i;

	if (ua == NULL)
		return runtime_by_shape(h);
	for (i = 0; i < sizeof(runtime_agents) / sizeof(runtime_agents[0]);
	    i++)
		if (runtime_has(ua, runtime_agents[i][0]))
			return runtime_agents[i][1];
	return "unknown";
}

/* TLS numbers (RFC 8446 section 4, RFC 7366, RFC 6961). */
#define HELLO_CLIENT		1
#define EXT_STATUS_REQUEST_V2	17
#define EXT_ENCRYPT_THEN_MAC	22
#define EXT_SUPPORTED_VERSIONS	43

/* Take n bytes at *q (bounded by end) as a big-endian number; -1 when
 * they are not there. */
static int
hello_take(const unsigned char **q, const unsigned char *end, size_t n,
    size_t *out)
{
	size_t	v = 0, i;

	if ((size_t)(end - *q) < n)
		return -1;
	for (i = 0; i < n; i++)
		v = v << 8 | (*q)[i];
	*q += n;
	*out = v;
	return 0;
}

/* Skip a vector whose length takes lenbytes. */
static int
hello_skip(const unsigned char **q, const unsigned char *end, size_t lenbytes)
{
	size_t	n;

	if (hello_take(q, end, lenbytes, &n) == -1 || (size_t)(end - *q) < n)
		return -1;
	*q += n;
	return 0;
}

int
runtime_hello_parse(const unsigned char *p, size_t len,
    struct runtime_hello *hello)
{
	const unsigned char	*q = p, *end = p + len, *xend;
	size_t			 type, n, xlen;
	struct runtime_hello	 rh;

	memset(hello, 0, sizeof(*hello));
	memset(&rh, 0, sizeof(rh));
	if (hello_take(&q, end, 1, &type) == -1 || type != HELLO_CLIENT ||
	    hello_take(&q, end, 3, &n) == -1 || (size_t)(end - q) < n)
		return -1;
	end = q + n;
	/* legacy_version, random, session id, cipher suites, methods */
	if ((size_t)(end - q) < 2 + 32)
		return -1;
	q += 2 + 32;
	if (hello_skip(&q, end, 1) == -1 || hello_skip(&q, end, 2) == -1 ||
	    hello_skip(&q, end, 1) == -1)
		return -1;
	if (q == end) {			/* no extensions at all */
		*hello = rh;
		return 0;
	}
	if (hello_take(&q, end, 2, &xlen) == -1 || (size_t)(end - q) != xlen)
		return -1;
	xend = q + xlen;
	while (q < xend) {
		if (hello_take(&q, xend, 2, &type) == -1 ||
		    hello_skip(&q, xend, 2) == -1)
			return -1;
		if (type == EXT_SUPPORTED_VERSIONS)
			rh.rh_tls13 = 1;
		else if (type == EXT_ENCRYPT_THEN_MAC)
			rh.rh_etm = 1;
		else if (type == EXT_STATUS_REQUEST_V2)
			rh.rh_status_v2 = 1;
	}
	*hello = rh;
	return 0;
}

const char *
runtime_refine(const char *guess, const struct runtime_hello *hello)
{
	if (strcmp(guess, "python") == 0 && !hello->rh_tls13)
		return "php";
	if (strcmp(guess, "java") == 0 && hello->rh_etm &&
	    !hello->rh_status_v2)
		return "ruby";
	if (strcmp(guess, "php") == 0 && !hello->rh_etm)
		return "bun";
	return guess;
}
