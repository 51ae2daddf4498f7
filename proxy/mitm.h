/*
 * TLS for intercepted CONNECT tunnels, both sides. Client side: a server
 * context that presents a leaf certificate minted for the requested name
 * (SNI, else the CONNECT authority), TLS 1.2 and 1.3, ALPN http/1.1 only.
 * Origin side: a client context that verifies the real server against the
 * system trust store plus --upstream-ca, checks the host name, sends SNI
 * and resumes sessions.
 */
#ifndef OAUTHLENS_MITM_H
#define OAUTHLENS_MITM_H

#include <stddef.h>

#include <openssl/ssl.h>

struct ca;
struct mitm;
struct strlist;

/* Contexts for both sides; upstream_ca may be NULL. NULL with err. */
struct mitm	*mitm_new(struct ca *ca, const char *upstream_ca, char *err,
		    size_t errlen);
void		 mitm_free(struct mitm *m);

/* Trust for origins from now on: the system store plus upstream_ca (a
 * PEM bundle, or NULL). Cached sessions are dropped. -1 with err, and
 * the old trust kept, when it cannot be loaded. */
int		 mitm_set_upstream_ca(struct mitm *m, const char *upstream_ca,
		    char *err, size_t errlen);

/* Whether host is on the intercept list ("*.suffix" entries match
 * subdomains). */
int		 mitm_intercepts(const struct strlist *list, const char *host);

/* A server-side SSL for a client that asked to CONNECT to host; its leaf
 * names the client's SNI instead when that is on intercept (borrowed: it
 * must outlive the SSL), else host. */
SSL		*mitm_client_ssl(struct mitm *m, const char *host,
		    const struct strlist *intercept);

/* A client-side SSL towards host, with SNI, host name verification and a
 * cached session when there is one. */
SSL		*mitm_upstream_ssl(struct mitm *m, const char *host);

/* Explain why an upstream handshake failed ("certificate has expired",
 * "wrong name", ...) into buf; err is the OpenSSL error, 0 if none. */
void		 mitm_upstream_error(SSL *ssl, unsigned long err, char *buf,
		    size_t len);

/* Whether a client handshake failure looks like the client not trusting
 * the CA (alert unknown_ca, bad or unknown certificate). */
int		 mitm_untrusted_alert(unsigned long err);

/* The host name the leaf names: the client's SNI when it is the CONNECT
 * host or another intercepted host, else the CONNECT host. */
const char	*mitm_client_host(SSL *ssl);

#endif
