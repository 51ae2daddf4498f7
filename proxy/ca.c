#include <sys/file.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "config.h"
#include "util.h"

#define CA_DAYS		(10 * 365)
#define LEAF_DAYS	30		/* well under the 200-day ceiling */
#define LEAF_CACHE_MAX	256

struct leaf {
	struct leaf	*lf_prev, *lf_next;	/* LRU, most recent first */
	X509		*lf_cert;		/* owned */
	char		 lf_host[];
};

struct ca {
	X509		*ca_cert;	/* owned */
	EVP_PKEY	*ca_key;	/* owned: never leaves this file */
	EVP_PKEY	*ca_leaf_key;	/* owned: one per run */
	NAME_CONSTRAINTS *ca_nc;	/* owned, NULL when unconstrained */
	char		*ca_path;	/* owned: DIR/ca.pem */
	char		*ca_pem;	/* owned */
	size_t		 ca_pem_len;
	struct leaf	*ca_lru;
	unsigned	 ca_nleaves;
	unsigned long	 ca_minted, ca_hits;
};

static void
ssl_error(char *err, size_t errlen, const char *what)
{
	unsigned long	e = ERR_get_error();
	char		buf[200] = "";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s%s%s", what, e ? ": " : "", buf);
	ERR_clear_error();
}

static int
add_ext(X509 *issuer, X509 *subject, int nid, const char *value)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*ext;
	int		 r;

	X509V3_set_ctx(&ctx, issuer, subject, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	r = X509_add_ext(subject, ext, -1);
	X509_EXTENSION_free(ext);
	return r == 1 ? 0 : -1;
}

/* A random positive serial of 128 bits (at least 64 are required). */
static int
set_serial(X509 *x)
{
	BIGNUM		*bn = BN_new();
	ASN1_INTEGER	*ai = NULL;
	int		 r = -1;

	if (bn != NULL && BN_rand(bn, 128, BN_RAND_TOP_ONE,
	    BN_RAND_BOTTOM_ANY) == 1 &&
	    (ai = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
	    X509_set_serialNumber(x, ai) == 1)
		r = 0;
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return r;
}

static X509 *
cert_new(EVP_PKEY *pub, const char *cn, long days)
{
	X509		*x = X509_new();
	X509_NAME	*name;

	if (x == NULL)
		return NULL;
	name = X509_get_subject_name(x);
	if (X509_set_version(x, 2) != 1 || set_serial(x) == -1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -86400) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), days * 86400) == NULL ||
	    X509_set_pubkey(x, pub) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	    (const unsigned char *)"oauthlens", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* "critical,permitted;DNS:a,permitted;DNS:b,excluded;IP:..." */
static char *
constraints_value(const struct strlist *names)
{
	size_t	 i, len = 128, ips = 0;
	char	*v, *p;

	for (i = 0; i < names->sl_n; i++)
		len += strlen(names->sl_v[i]) + 64;
	v = p = xcalloc(1, len);
	p += sprintf(p, "critical");
	for (i = 0; i < names->sl_n; i++) {
		const char	*n = names->sl_v[i];
		unsigned char	 a[16];

		if (inet_pton(AF_INET, n, a) == 1) {
			p += sprintf(p, ",permitted;IP:%s/255.255.255.255", n);
			ips++;
			continue;
		}
		if (inet_pton(AF_INET6, n, a) == 1) {
			p += sprintf(p, ",permitted;IP:%s/ffff:ffff:ffff:ffff:"
			    "ffff:ffff:ffff:ffff", n);
			ips++;
			continue;
		}
		if (n[0] == '*' && n[1] == '.')
			n += 2;		/* a DNS subtree covers subdomains */
		p += sprintf(p, ",permitted;DNS:%s", n);
	}
	/* Without an IP subtree, IP-address names would not be
	 * constrained; with one, only those addresses are permitted (an
	 * exclusion would win over them, RFC 5280 4.2.1.10). */
	if (ips == 0)
		sprintf(p, ",excluded;IP:0.0.0.0/0.0.0.0,excluded;IP:::/::");
	return v;
}

static X509 *
ca_make_cert(EVP_PKEY *key, const struct strlist *names)
{
	X509	*x;
	char	 host[128] = "localhost", cn[200], *nc;

	gethostname(host, sizeof(host) - 1);
	snprintf(cn, sizeof(cn), "oauthlens development CA (%s)", host);
	if ((x = cert_new(key, cn, CA_DAYS)) == NULL)
		return NULL;
	if (X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
	    add_ext(x, x, NID_basic_constraints,
	    "critical,CA:TRUE,pathlen:0") == -1 ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ==
	    -1 || add_ext(x, x, NID_subject_key_identifier, "hash") == -1)
		goto fail;
	if (names != NULL && names->sl_n > 0) {
		nc = constraints_value(names);
		if (add_ext(x, x, NID_name_constraints, nc) == -1) {
			free(nc);
			goto fail;
		}
		free(nc);
	}
	if (X509_sign(x, key, EVP_sha256()) == 0)
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

/* Write a PEM file atomically: a temporary file in dir, then rename. */
static int
write_atomic(const char *dir, const char *name, mode_t mode, EVP_PKEY *key,
    X509 *cert, char *err, size_t errlen)
{
	char	 tmp[4096], path[4096];
	FILE	*f;
	int	 fd, ok;

	snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = mkstemp(tmp)) == -1 || fchmod(fd, mode) == -1 ||
	    (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "cannot write %s: %s", path,
		    strerror(errno));
		if (fd != -1) {
			close(fd);
			unlink(tmp);
		}
		return -1;
	}
	ok = key != NULL ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL,
	    NULL) : PEM_write_X509(f, cert);
	if (!ok || fflush(f) != 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "cannot write %s", path);
		fclose(f);
		unlink(tmp);
		return -1;
	}
	fclose(f);
	if (rename(tmp, path) == -1) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path,
		    strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int
ca_create(struct ca *ca, const char *dir, const struct strlist *names,
    char *err, size_t errlen)
{
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if ((ca->ca_key = EVP_EC_gen("P-256")) == NULL ||
	    (ca->ca_cert = ca_make_cert(ca->ca_key, names)) == NULL) {
		ssl_error(err, errlen, "cannot make the CA");
		return -1;
	}
	if (write_atomic(dir, "ca-key.pem", 0600, ca->ca_key, NULL, err,
	    errlen) == -1 || write_atomic(dir, "ca.pem", 0644, NULL,
	    ca->ca_cert, err, errlen) == -1)
		return -1;
	return 0;
}

static int
ca_load(struct ca *ca, const char *dir, const char *keypath, char *err,
    size_t errlen)
{
	struct stat	 st;
	FILE		*f;

	if (stat(ca->ca_path, &st) == -1 && errno == ENOENT) {
		snprintf(err, errlen, "%s exists but %s does not: remove %s "
		    "or run oauthlens --new-ca to make a new CA", keypath,
		    ca->ca_path, keypath);
		return -1;
	}
	if (stat(keypath, &st) == -1) {
		snprintf(err, errlen, "%s exists but %s does not: remove %s "
		    "or run oauthlens --new-ca to make a new CA", ca->ca_path,
		    keypath, ca->ca_path);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s belongs to uid %u, not to the user "
		    "oauthlens runs as (uid %u): someone else could have "
		    "chosen the CA key; remove the directory's CA files or fix "
		    "the owner", keypath, (unsigned)st.st_uid,
		    (unsigned)geteuid());
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s is readable by group or others "
		    "(mode %04o): the CA key must be private; fix it with: "
		    "chmod 600 %s", keypath, (unsigned)(st.st_mode & 07777),
		    keypath);
		return -1;
	}
	if ((f = fopen(ca->ca_path, "r")) == NULL ||
	    (ca->ca_cert = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
		if (f != NULL)
			fclose(f);
		snprintf(err, errlen, "cannot read the CA certificate %s: %s",
		    ca->ca_path, f ? "not a PEM certificate" : strerror(errno));
		return -1;
	}
	fclose(f);
	if ((f = fopen(keypath, "r")) == NULL ||
	    (ca->ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) {
		if (f != NULL)
			fclose(f);
		snprintf(err, errlen, "cannot read the CA key %s: %s", keypath,
		    f ? "not a PEM private key" : strerror(errno));
		return -1;
	}
	fclose(f);
	if (X509_check_private_key(ca->ca_cert, ca->ca_key) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "%s does not belong to %s: remove both "
		    "files from %s or run oauthlens --new-ca to make a new CA",
		    keypath, ca->ca_path, dir);
		return -1;
	}
	return 0;
}

/* The CA directory: a directory, not writable by others (who could
 * swap the CA in it). 0, or -1 with err. */
static int
ca_dir_ok(const char *dir, char *err, size_t errlen)
{
	struct stat	st;

	if (stat(dir, &st) == -1) {
		snprintf(err, errlen, "cannot use %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", dir);
		return -1;
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(err, errlen, "%s is writable by others (mode %04o): "
		    "anyone could replace the CA in it; fix it with: chmod "
		    "o-w %s", dir, (unsigned)(st.st_mode & 07777), dir);
		return -1;
	}
	return 0;
}

struct ca *
ca_open(const char *dir, const struct strlist *names, int renew, char *err,
    size_t errlen)
{
	struct ca	*ca = xcalloc(1, sizeof(*ca));
	char		 keypath[4096], lockpath[4096];
	int		 lockfd, r;
	BIO		*mem = NULL;
	char		*pem;
	long		 n;

	snprintf(keypath, sizeof(keypath), "%s/ca-key.pem", dir);
	ca->ca_path = xcalloc(1, strlen(dir) + 8);
	sprintf(ca->ca_path, "%s/ca.pem", dir);
	/* Two daemons starting at once must not both create a CA. */
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
		    strerror(errno));
		goto fail;
	}
	if (ca_dir_ok(dir, err, errlen) == -1)
		goto fail;
	snprintf(lockpath, sizeof(lockpath), "%s/.lock", dir);
	/* Not through a symbolic link: that would create or truncate
	 * nothing, but lock (and so wait on) whatever it names. */
	if ((lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1 && errno == ELOOP) {
		snprintf(err, errlen, "%s is a symbolic link: remove it",
		    lockpath);
		goto fail;
	}
	if (lockfd != -1)
		flock(lockfd, LOCK_EX);
	if (renew || (access(ca->ca_path, F_OK) == -1 &&
	    access(keypath, F_OK) == -1))
		r = ca_create(ca, dir, names, err, errlen);
	else
		r = ca_load(ca, dir, keypath, err, errlen);
	if (lockfd != -1)
		close(lockfd);
	if (r == -1)
		goto fail;
	ca->ca_nc = X509_get_ext_d2i(ca->ca_cert, NID_name_constraints, NULL,
	    NULL);
	if ((ca->ca_leaf_key = EVP_EC_gen("P-256")) == NULL) {
		ssl_error(err, errlen, "cannot make the leaf key");
		goto fail;
	}
	if ((mem = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509(mem, ca->ca_cert) != 1) {
		ssl_error(err, errlen, "cannot encode the CA certificate");
		goto fail;
	}
	n = BIO_get_mem_data(mem, &pem);
	ca->ca_pem = xstrndup(pem, (size_t)n);
	ca->ca_pem_len = (size_t)n;
	BIO_free(mem);
	return ca;
fail:
	BIO_free(mem);
	ca_free(ca);
	return NULL;
}

void
ca_free(struct ca *ca)
{
	struct leaf	*lf, *next;

	if (ca == NULL)
		return;
	for (lf = ca->ca_lru; lf != NULL; lf = next) {
		next = lf->lf_next;
		X509_free(lf->lf_cert);
		free(lf);
	}
	X509_free(ca->ca_cert);
	EVP_PKEY_free(ca->ca_key);
	EVP_PKEY_free(ca->ca_leaf_key);
	NAME_CONSTRAINTS_free(ca->ca_nc);
	free(ca->ca_path);
	free(ca->ca_pem);
	free(ca);
}

const char *
ca_cert_path(const struct ca *ca)
{
	return ca->ca_path;
}

const char *
ca_cert_pem(const struct ca *ca, size_t *len)
{
	*len = ca->ca_pem_len;
	return ca->ca_pem;
}

/* An address is permitted by an IP subtree holding it (and by none when
 * the CA has no IP subtree: it excludes every address). */
static int
ca_permits_ip(const struct ca *ca, const char *host)
{
	unsigned char	 a[16];
	int		 i, n, al;

	al = inet_pton(AF_INET, host, a) == 1 ? 4 : 16;
	if (al == 16 && inet_pton(AF_INET6, host, a) != 1)
		return 0;
	n = sk_GENERAL_SUBTREE_num(ca->ca_nc->permittedSubtrees);
	for (i = 0; i < n; i++) {
		GENERAL_SUBTREE		*st = sk_GENERAL_SUBTREE_value(
		    ca->ca_nc->permittedSubtrees, i);
		const unsigned char	*b;
		int			 j, ok = 1;

		if (st->base->type != GEN_IPADD ||
		    ASN1_STRING_length(st->base->d.iPAddress) != 2 * al)
			continue;
		b = ASN1_STRING_get0_data(st->base->d.iPAddress);
		for (j = 0; j < al; j++)
			if ((a[j] & b[al + j]) != (b[j] & b[al + j]))
				ok = 0;
		if (ok)
			return 1;
	}
	return 0;
}

int
ca_permits(const struct ca *ca, const char *host)
{
	int	i, n;
	size_t	hl = strlen(host);

	if (ca->ca_nc == NULL || ca->ca_nc->permittedSubtrees == NULL)
		return 1;
	if (util_ip_literal(host))
		return ca_permits_ip(ca, host);
	if (host[0] == '*' && host[1] == '.') {
		host += 2;
		hl -= 2;
	}
	n = sk_GENERAL_SUBTREE_num(ca->ca_nc->permittedSubtrees);
	for (i = 0; i < n; i++) {
		GENERAL_SUBTREE	*st = sk_GENERAL_SUBTREE_value(
		    ca->ca_nc->permittedSubtrees, i);
		const char	*base;
		size_t		 bl;

		if (st->base->type != GEN_DNS)
			continue;
		base = (const char *)ASN1_STRING_get0_data(st->base->d.dNSName);
		bl = (size_t)ASN1_STRING_length(st->base->d.dNSName);
		if (bl > 0 && base[0] == '.') {
			base++;
			bl--;
		}
		if ((hl == bl && strncasecmp(host, base, bl) == 0) ||
		    (hl > bl && host[hl - bl - 1] == '.' &&
		    strncasecmp(host + hl - bl, base, bl) == 0))
			return 1;
	}
	return 0;
}

static X509 *
mint(struct ca *ca, const char *host)
{
	X509		*x;
	char		 san[300], cn[80];
	unsigned char	 ip[16];
	int		 is_ip;

	is_ip = inet_pton(AF_INET, host, ip) == 1 ||
	    inet_pton(AF_INET6, host, ip) == 1;
	snprintf(san, sizeof(san), "%s:%s", is_ip ? "IP" : "DNS", host);
	/* An address as CN looks like a host name to OpenSSL, which then
	 * checks it against the DNS constraints: name it in words. */
	snprintf(cn, sizeof(cn), "%s%s", is_ip ? "oauthlens for " : "",
	    strlen(host) <= 64 - 14 || (!is_ip && strlen(host) <= 64) ?
	    host : "oauthlens");
	if ((x = cert_new(ca->ca_leaf_key, cn, LEAF_DAYS)) == NULL)
		return NULL;
	if (X509_set_issuer_name(x, X509_get_subject_name(ca->ca_cert)) != 1 ||
	    add_ext(ca->ca_cert, x, NID_subject_alt_name, san) == -1 ||
	    add_ext(ca->ca_cert, x, NID_basic_constraints, "critical,CA:FALSE")
	    == -1 || add_ext(ca->ca_cert, x, NID_key_usage,
	    "critical,digitalSignature") == -1 ||
	    add_ext(ca->ca_cert, x, NID_ext_key_usage, "serverAuth") == -1 ||
	    add_ext(ca->ca_cert, x, NID_authority_key_identifier,
	    "keyid:always") == -1 || X509_sign(x, ca->ca_key, EVP_sha256()) ==
	    0) {
		X509_free(x);
		ERR_clear_error();
		return NULL;
	}
	ca->ca_minted++;
	return x;
}

static void
lru_unlink(struct ca *ca, struct leaf *lf)
{
	if (lf->lf_prev != NULL)
		lf->lf_prev->lf_next = lf->lf_next;
	else
		ca->ca_lru = lf->lf_next;
	if (lf->lf_next != NULL)
		lf->lf_next->lf_prev = lf->lf_prev;
	lf->lf_prev = lf->lf_next = NULL;
}

static void
lru_push(struct ca *ca, struct leaf *lf)
{
	lf->lf_next = ca->ca_lru;
	if (ca->ca_lru != NULL)
		/* NOLINTNEXTLINE: never the freed tail */
		ca->ca_lru->lf_prev = lf;
	ca->ca_lru = lf;
}

/* The cached certificate for host, minting it on a miss. */
static X509 *
leaf_get(struct ca *ca, const char *host)
{
	struct leaf	*lf, *last = NULL;
	size_t		 hl = strlen(host);

	for (lf = ca->ca_lru; lf != NULL; lf = lf->lf_next) {
		if (strcasecmp(lf->lf_host, host) == 0) {
			ca->ca_hits++;
			lru_unlink(ca, lf);
			lru_push(ca, lf);
			return lf->lf_cert;
		}
		last = lf;
	}
	if (ca->ca_nleaves >= LEAF_CACHE_MAX && last != NULL) {
		lru_unlink(ca, last);
		X509_free(last->lf_cert);
		free(last);
		ca->ca_nleaves--;
	}
	lf = xcalloc(1, sizeof(*lf) + hl + 1);
	memcpy(lf->lf_host, host, hl + 1);
	if ((lf->lf_cert = mint(ca, host)) == NULL) {
		free(lf);
		return NULL;
	}
	lru_push(ca, lf);
	ca->ca_nleaves++;
	return lf->lf_cert;
}

int
ca_use_leaf(struct ca *ca, SSL *ssl, const char *host)
{
	X509	*x = leaf_get(ca, host);

	if (x == NULL || SSL_use_certificate(ssl, x) != 1 ||
	    SSL_use_PrivateKey(ssl, ca->ca_leaf_key) != 1) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

void
ca_stats(const struct ca *ca, unsigned long *minted, unsigned long *hits)
{
	*minted = ca->ca_minted;
	*hits = ca->ca_hits;
}
