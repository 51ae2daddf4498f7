#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "config.h"
#include "log.h"
#include "mitm.h"
#include "util.h"

#define SESSION_CACHE_MAX	64

struct session {
	struct session	*s_next;
	SSL_SESSION	*s_sess;	/* owned */
	char		 s_host[];
};

struct mitm {
	struct ca	*m_ca;		/* borrowed */
	SSL_CTX		*m_server;	/* owned: towards clients */
	SSL_CTX		*m_client;	/* owned: towards origins */
	struct session	*m_sessions;
	unsigned	 m_nsessions;
};

/* ex_data slots: the CONNECT host on client SSLs, the mitm on both. */
static int	idx_host = -1;
static int	idx_list = -1;	/* borrowed intercept list */
static int	idx_mitm = -1;

static void
host_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	free(ptr);
}

int
mitm_intercepts(const struct strlist *list, const char *host)
{
	size_t	i, hl = strlen(host);

	for (i = 0; i < list->sl_n; i++) {
		const char	*e = list->sl_v[i];
		size_t		 el = strlen(e);

		if (util_ip_literal(e)) {
			/* "::1" and "0:0::1" are one address. */
			if (util_ip_equal(e, host))
				return 1;
		} else if (e[0] == '*' && e[1] == '.') {
			/* "*.example.com": subdomains, at any depth. */
			if (hl > el - 1 && strcasecmp(host + hl - (el - 1),
			    e + 1) == 0)
				return 1;
		} else if (strcasecmp(host, e) == 0)
			return 1;
	}
	return 0;
}

const char *
mitm_client_host(SSL *ssl)
{
	const char	*sni = SSL_get_servername(ssl,
			    TLSEXT_NAMETYPE_host_name);
	const char	*host = SSL_get_ex_data(ssl, idx_host);
	const struct strlist *list = SSL_get_ex_data(ssl, idx_list);

	/* Prefer SNI when it names the host the client CONNECTed to, or
	 * another intercepted host (a client that CONNECTs by address and
	 * names the host in SNI); any other mismatch (domain fronting)
	 * gets the CONNECT name. */
	if (sni != NULL && host != NULL && (strcasecmp(sni, host) == 0 ||
	    (list != NULL && mitm_intercepts(list, sni))))
		return sni;
	return host != NULL ? host : sni;
}

/* Choose the leaf certificate once the ClientHello (and SNI) is known. */
static int
cert_cb(SSL *ssl, void *arg)
{
	struct mitm	*m = arg;
	const char	*host = mitm_client_host(ssl);

	if (host == NULL || ca_use_leaf(m->m_ca, ssl, host) == -1)
		return 0;
	return 1;
}

static int
alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char h11[] = "\x08http/1.1";
	unsigned char *sel;

	if (SSL_select_next_proto(&sel, outlen, h11, sizeof(h11) - 1, in,
	    inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;	/* no ALPN, HTTP/1.1 */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* Keep the newest session per origin host for resumption. */
static int
new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct mitm	*m = SSL_get_ex_data(ssl, idx_mitm);
	const char	*host = SSL_get_servername(ssl,
			    TLSEXT_NAMETYPE_host_name);
	struct session	*s, **sp;
	size_t		 hl;

	if (m == NULL || host == NULL)
		return 0;
	for (sp = &m->m_sessions; (s = *sp) != NULL; sp = &s->s_next)
		if (strcasecmp(s->s_host, host) == 0) {
			SSL_SESSION_free(s->s_sess);
			s->s_sess = sess;
			return 1;
		}
	if (m->m_nsessions >= SESSION_CACHE_MAX)
		return 0;
	hl = strlen(host);
	s = xcalloc(1, sizeof(*s) + hl + 1);
	memcpy(s->s_host, host, hl + 1);
	s->s_sess = sess;
	s->s_next = m->m_sessions;
	m->m_sessions = s;
	m->m_nsessions++;
	return 1;
}

struct mitm *
mitm_new(struct ca *ca, const char *upstream_ca, char *err, size_t errlen)
{
	struct mitm	*m = xcalloc(1, sizeof(*m));

	if (idx_host == -1) {
		idx_host = SSL_get_ex_new_index(0, NULL, NULL, NULL,
		    host_free);
		idx_mitm = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
		idx_list = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	}
	m->m_ca = ca;
	m->m_server = SSL_CTX_new(TLS_server_method());
	m->m_client = SSL_CTX_new(TLS_client_method());
	if (m->m_server == NULL || m->m_client == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(m->m_server, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(m->m_server, TLS1_3_VERSION);
	SSL_CTX_set_cert_cb(m->m_server, cert_cb, m);
	SSL_CTX_set_alpn_select_cb(m->m_server, alpn_cb, m);
	SSL_CTX_set_options(m->m_server, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(m->m_server, SSL_MODE_RELEASE_BUFFERS);

	SSL_CTX_set_min_proto_version(m->m_client, TLS1_2_VERSION);
	SSL_CTX_set_verify(m->m_client, SSL_VERIFY_PEER, NULL);
	if (mitm_set_upstream_ca(m, upstream_ca, err, errlen) == -1) {
		mitm_free(m);
		return NULL;
	}
	SSL_CTX_set_alpn_protos(m->m_client,
	    (const unsigned char *)"\x08http/1.1", 9);
	SSL_CTX_set_session_cache_mode(m->m_client, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(m->m_client, new_session_cb);
	SSL_CTX_set_mode(m->m_client, SSL_MODE_RELEASE_BUFFERS);
	return m;
fail:
	snprintf(err, errlen, "cannot set up TLS: %s",
	    ERR_reason_error_string(ERR_get_error()));
	ERR_clear_error();
	mitm_free(m);
	return NULL;
}

static void
sessions_clear(struct mitm *m)
{
	struct session	*s, *next;

	for (s = m->m_sessions; s != NULL; s = next) {
		next = s->s_next;
		SSL_SESSION_free(s->s_sess);
		free(s);
	}
	m->m_sessions = NULL;
	m->m_nsessions = 0;
}

int
mitm_set_upstream_ca(struct mitm *m, const char *upstream_ca, char *err,
    size_t errlen)
{
	X509_STORE	*st = X509_STORE_new();

	if (st == NULL || X509_STORE_set_default_paths(st) != 1) {
		snprintf(err, errlen, "cannot load the system trust store: %s",
		    ERR_reason_error_string(ERR_get_error()));
		goto fail;
	}
	if (upstream_ca != NULL && X509_STORE_load_file(st, upstream_ca) != 1) {
		snprintf(err, errlen, "upstream CA bundle %s: cannot load it "
		    "as PEM certificates", upstream_ca);
		goto fail;
	}
	/* Verification runs within one handshake call, so the old store
	 * is no longer in use between callbacks: it can go now. Sessions
	 * resumed would skip the new verification: they go too. */
	SSL_CTX_set_cert_store(m->m_client, st);
	sessions_clear(m);
	return 0;
fail:
	ERR_clear_error();
	X509_STORE_free(st);
	return -1;
}

void
mitm_free(struct mitm *m)
{
	if (m == NULL)
		return;
	sessions_clear(m);
	SSL_CTX_free(m->m_server);
	SSL_CTX_free(m->m_client);
	free(m);
}

SSL *
mitm_client_ssl(struct mitm *m, const char *host,
    const struct strlist *intercept)
{
	SSL	*ssl = SSL_new(m->m_server);

	if (ssl == NULL)
		return NULL;
	SSL_set_ex_data(ssl, idx_host, xstrdup(host));
	SSL_set_ex_data(ssl, idx_list, (void *)intercept);
	return ssl;
}

SSL *
mitm_upstream_ssl(struct mitm *m, const char *host)
{
	SSL		*ssl = SSL_new(m->m_client);
	struct session	*s;

	if (ssl == NULL)
		return NULL;
	SSL_set_ex_data(ssl, idx_mitm, m);
	/* RFC 6066 3: no SNI for an address; SSL_set1_host checks it
	 * against the certificate's IP names. */
	if ((!util_ip_literal(host) &&
	    SSL_set_tlsext_host_name(ssl, host) != 1) ||
	    SSL_set1_host(ssl, host) != 1) {
		SSL_free(ssl);
		ERR_clear_error();
		return NULL;
	}
	for (s = m->m_sessions; s != NULL; s = s->s_next)
		if (strcasecmp(s->s_host, host) == 0) {
			SSL_set_session(ssl, s->s_sess);
			break;
		}
	return ssl;
}

void
mitm_upstream_error(SSL *ssl, unsigned long e, char *buf, size_t len)
{
	long	v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;

	if (v != X509_V_OK)
		snprintf(buf, len, "certificate verification failed: %s",
		    v == X509_V_ERR_HOSTNAME_MISMATCH ? "wrong name (the "
		    "certificate does not name this host)" :
		    v == X509_V_ERR_CERT_HAS_EXPIRED ? "certificate has "
		    "expired" :
		    v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
		    v == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
		    v == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ?
		    "unknown issuer (not trusted by the system store or "
		    "--upstream-ca)" : X509_verify_cert_error_string(v));
	else if (e != 0)
		snprintf(buf, len, "TLS handshake failed: %s",
		    ERR_reason_error_string(e));
	else
		snprintf(buf, len, "TLS handshake failed: the connection "
		    "closed");
	ERR_clear_error();
}

int
mitm_untrusted_alert(unsigned long err)
{
	int	r = ERR_GET_REASON(err);

	return r == SSL_R_TLSV1_ALERT_UNKNOWN_CA ||
	    r == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE ||
	    r == SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN ||
	    r == SSL_R_TLSV1_ALERT_DECRYPT_ERROR;
}
