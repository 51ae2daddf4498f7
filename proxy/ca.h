/*
 * The local certificate authority: ca.pem and ca-key.pem in the certs
 * directory, created on first start (EC P-256, ten years, critical
 * nameConstraints limited to the intercept list) and checked on every
 * start; and the leaf certificates minted from it, one per host name,
 * cached. The only module that sees the CA's private key.
 */
#ifndef OAUTHLENS_CA_H
#define OAUTHLENS_CA_H

#include <stddef.h>

#include <openssl/ssl.h>

struct strlist;
struct ca;

/* Open the CA in dir, creating it when absent (or replacing it when
 * renew is set). names, when not NULL, become the permitted DNS subtrees
 * of a new CA. Returns NULL with a message that says how to fix the
 * problem (key readable by others, key and certificate that do not match,
 * unreadable files). */
struct ca	*ca_open(const char *dir, const struct strlist *names,
		    int renew, char *err, size_t errlen);

/* Free the CA and its cache (NULL ok). */
void		 ca_free(struct ca *ca);

/* Path of the CA certificate (ca.pem). */
const char	*ca_cert_path(const struct ca *ca);

/* The CA certificate as PEM text (borrowed). */
const char	*ca_cert_pem(const struct ca *ca, size_t *len);

/* Whether the CA's name constraints (if any) permit host. */
int		 ca_permits(const struct ca *ca, const char *host);

/* Install the leaf certificate for host (a DNS name or an IP literal) and
 * the run's leaf key on ssl, minting and caching the certificate when
 * needed. 0 or -1. */
int		 ca_use_leaf(struct ca *ca, SSL *ssl, const char *host);

/* Counters for metrics: certificates minted, cache hits. */
void		 ca_stats(const struct ca *ca, unsigned long *minted,
		    unsigned long *hits);

#endif
