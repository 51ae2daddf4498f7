/*
 * Which runtime sent a CONNECT, for the trust advice of tls-untrusted.
 * Only the CONNECT head is there to go by (the TLS that follows is the
 * part the client may refuse), so the guess comes from its User-Agent
 * and, when there is none, from the shape of the head each runtime's
 * HTTP stack writes (captured from the real clients; see
 * tests/unit/test_runtime.c).
 */
#ifndef OAUTHLENS_RUNTIME_H
#define OAUTHLENS_RUNTIME_H

#include <stddef.h>

struct http1_head;

/* What a ClientHello tells of the TLS library behind the client. */
struct runtime_hello {
	unsigned	rh_tls13:1;	/* supported_versions (43) offered */
	unsigned	rh_etm:1;	/* encrypt_then_mac (22): OpenSSL */
	unsigned	rh_status_v2:1;	/* status_request_v2 (17): Java */
};

/* The runtime that most likely sent the CONNECT head h: one of "python",
 * "node", "go", "curl", "java", "php", "ruby", "git", "wget", "deno",
 * "bun", "browser" or "unknown" (a static string). Heads that two
 * runtimes write byte for byte alike go to the more common one: a bare
 * HTTP/1.0 CONNECT (Python's http.client and PHP's streams) is "python",
 * a Host alone (Java's HttpClient and Ruby 3.1's Net::HTTP) is "java". */
const char	*runtime_guess(const struct http1_head *h);

/* Read a ClientHello handshake message (p: its 4-byte header and body,
 * as OpenSSL's message callback passes it) into *hello. 0, or -1 when p
 * is not a well-formed ClientHello (*hello is then all zero). */
int		 runtime_hello_parse(const unsigned char *p, size_t len,
		    struct runtime_hello *hello);

/* Settle, with the ClientHello that followed the CONNECT, the heads two
 * runtimes write alike: a bare HTTP/1.0 CONNECT whose hello offers no
 * TLS 1.3 is PHP's streams (Python always offers it); a Host-only one
 * from OpenSSL (encrypt_then_mac, no status_request_v2) is Ruby, not
 * Java; a libcurl-like one from BoringSSL (no encrypt_then_mac) is Bun,
 * not PHP. Returns guess otherwise (a static string either way). */
const char	*runtime_refine(const char *guess,
		    const struct runtime_hello *hello);

#endif
