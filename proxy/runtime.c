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

/* No User-Agent: the shape of the head. */
static const char *
runtime_by_shape(const struct http1_head *h)
{
	/* Python's http.client (requests, urllib3, urllib, pip) and PHP's
	 * stream wrapper (file_get_contents): a bare HTTP/1.0 line. */
	if (h->h_major == 1 && h->h_minor == 0 && h->h_nhdrs == 0)
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
	if (h->h_major == 1 && h->h_minor == 1 && h->h_nhdrs == 1 &&
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
