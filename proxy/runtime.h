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

struct http1_head;

/* The runtime that most likely sent the CONNECT head h: one of "python",
 * "node", "go", "curl", "java", "php", "ruby", "git", "wget", "deno",
 * "bun" or "unknown" (a static string). Heads that two runtimes write
 * byte for byte alike go to the more common one: a bare HTTP/1.0 CONNECT
 * (Python's http.client and PHP's streams) is "python", a Host alone
 * (Java's HttpClient and Ruby 3.1's Net::HTTP) is "java". */
const char	*runtime_guess(const struct http1_head *h);

#endif
