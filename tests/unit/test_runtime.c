/*
 * runtime_guess on the CONNECT heads real clients sent to a listening
 * socket (Debian 12 packages, captured 2026-12 with HTTPS_PROXY set), plus
 * the User-Agents of the runtimes not installed here (Deno writes its
 * fetch agent "Deno/<version>" into the CONNECT, ext/fetch/proxy.rs).
 */
#include <string.h>

#include "http1.h"
#include "runtime.h"
#include "t.h"

static struct http1_head	head;

/* Parse a complete head and guess; NULL when it does not parse. */
static const char *
guess(const char *msg)
{
	struct http1_parser	*hp = http1_parser_new(HTTP1_REQUEST);
	struct http1_error	 err;
	size_t			 scan = 0, headlen = 0;
	int			 r = -1;

	if (hp != NULL && http1_head_end(msg, strlen(msg), &scan, &headlen,
	    &err) == 1)
		r = http1_parse_head(hp, msg, headlen, 0, &head, &err);
	http1_parser_free(hp);
	return r == 0 ? runtime_guess(&head) : NULL;
}

static void
test_captured(void)
{
	/* curl 7.88.1 */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: curl/7.88.1\r\n"
	    "Proxy-Connection: Keep-Alive\r\n\r\n"), "curl");
	/* Python 3.11 requests 2.28 and urllib: http.client's tunnel */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.0\r\n\r\n"), "python");
	/* wget 1.21.3 (GnuTLS) */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "User-Agent: Wget/1.21.3\r\nHost: github.com:443\r\n\r\n"),
	    "wget");
	/* git 2.39.5 (libcurl with its own agent) */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: git/2.39.5\r\n"
	    "Proxy-Connection: Keep-Alive\r\n\r\n"), "git");
	/* OpenJDK 17.0.15 java.net.http.HttpClient */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\n\r\n"), "java");
	/* OpenJDK 17.0.15 HttpURLConnection */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "User-Agent: Java/17.0.15\r\nHost: github.com\r\n"
	    "Accept: text/html, image/gif, image/jpeg, */*; q=0.2\r\n"
	    "Proxy-Connection: keep-alive\r\n\r\n"), "java");
	/* PHP 8.2 curl extension (libcurl 7.88.1, no CURLOPT_USERAGENT) */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nProxy-Connection: Keep-Alive\r\n\r\n"),
	    "php");
	/* Go 1.19 net/http */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: Go-http-client/1.1\r\n\r\n"),
	    "go");
	/* Node 20 undici ProxyAgent (fetch) */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "host: github.com\r\nconnection: close\r\n\r\n"), "node");
}

static void
test_agents(void)
{
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: Deno/2.1.4\r\n\r\n"), "deno");
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: Bun/1.1.38\r\n\r\n"), "bun");
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: Ruby\r\n\r\n"), "ruby");
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: Python/3.11 aiohttp/3.8.4"
	    "\r\n\r\n"), "python");
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: python-requests/2.28.1"
	    "\r\n\r\n"), "python");
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: GuzzleHttp/7\r\n\r\n"),
	    "php");
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: node\r\n\r\n"), "node");
	/* The GitHub CLI is not git. */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: GitHub CLI 2.23.0\r\n\r\n"),
	    "unknown");
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nUser-Agent: Mozilla/5.0\r\n\r\n"),
	    "unknown");
}

static void
test_shapes(void)
{
	/* HTTP/1.0 with a field is not Python's bare tunnel line. */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.0\r\n"
	    "Host: github.com:443\r\n\r\n"), "unknown");
	/* Host and something else, no agent: not Java's HttpClient. */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n"
	    "Host: github.com:443\r\nX-Other: 1\r\n\r\n"), "unknown");
	/* No field at all on 1.1. */
	CHECK_STR(guess("CONNECT github.com:443 HTTP/1.1\r\n\r\n"),
	    "unknown");
}

int
main(void)
{
	test_captured();
	test_agents();
	test_shapes();
	return t_done();
}
