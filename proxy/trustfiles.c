/*
 * Trust files for Java, PHP and wget, written beside ca-bundle.pem. See
 * trustfiles.h.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "ca.h"
#include "trustfiles.h"

/* Java (8u301, 11.0.12 and 17 on) loads a PKCS12 certificate bag as a
 * trusted certificate entry only when the bag carries Oracle's
 * trusted-key-usage attribute; its value lists the purposes the
 * certificate is trusted for, anyExtendedKeyUsage standing for all. A bag
 * without it is silently dropped: an empty trust store, every handshake
 * failing. OpenSSL 3.0's pkcs12 command cannot add it (3.2's -jdktrust
 * can), hence the bags are built here. */
#define JDK_TRUSTED_KEY_USAGE	"2.16.840.1.113894.746875.1.1"
#define ANY_EXTENDED_KEY_USAGE	"2.5.29.37.0"

#define P12_NAME	"java-truststore.p12"
#define PHP_DIR		"php"
#define PHP_NAME	"php/oauthlens.ini"
#define WGETRC_NAME	"wgetrc"

/* Replace dir/name with len bytes of data: a temporary file in the same
 * directory, mode 0644, renamed over the old one. 0, or -1 with err. */
static int
write_file(const char *dir, const char *name, const void *data, size_t len,
    char *err, size_t errlen)
{
	char		 path[PATH_MAX], tmp[PATH_MAX];
	const char	*base;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path)) {
		snprintf(err, errlen, "%s/%s: path too long", dir, name);
		return -1;
	}
	base = strrchr(path, '/') + 1;
	snprintf(tmp, sizeof(tmp), "%.*s.%s.XXXXXX", (int)(base - path), path,
	    base);
	if ((fd = mkstemp(tmp)) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", path,
		    strerror(errno));
		return -1;
	}
	while (off < len) {
		n = write(fd, (const char *)data + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	if (fchmod(fd, 0644) == -1 || close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -1;
}

/* Add x to bags as a certificate bag Java reads as a trusted certificate
 * entry named alias. 0 or -1. */
static int
p12_add_trusted(STACK_OF(PKCS12_SAFEBAG) **bags, X509 *x, const char *alias,
    const ASN1_OBJECT *any)
{
	PKCS12_SAFEBAG	*bag;

	/* The bag belongs to *bags once PKCS12_add_cert returns it. */
	if ((bag = PKCS12_add_cert(bags, x)) == NULL ||
	    !PKCS12_add_friendlyname_asc(bag, alias, -1) ||
	    !PKCS12_add1_attr_by_txt(bag, JDK_TRUSTED_KEY_USAGE,
	    V_ASN1_OBJECT, (const unsigned char *)any, -1))
		return -1;
	return 0;
}

/* Add every certificate of the PEM file bundle but own, as "system-NNN".
 * An unreadable bundle adds nothing. 0 or -1. */
static int
p12_add_bundle(STACK_OF(PKCS12_SAFEBAG) **bags, const char *bundle,
    const X509 *own, const ASN1_OBJECT *any)
{
	BIO		*bio;
	X509		*x;
	char		 alias[32];
	unsigned	 n = 0;
	int		 rc = 0;

	if (bundle == NULL || (bio = BIO_new_file(bundle, "r")) == NULL)
		return 0;
	while (rc == 0 && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) !=
	    NULL) {
		if (X509_cmp(x, own) != 0) {
			snprintf(alias, sizeof(alias), "system-%03u", ++n);
			rc = p12_add_trusted(bags, x, alias, any);
		}
		X509_free(x);
	}
	BIO_free(bio);
	return rc;
}

/* The DER of the Java trust store (OPENSSL_free it), *len its length; NULL
 * on failure. The certificates are public: one unencrypted safe, with a
 * SHA-256 MAC under the password, which Java requires to load a store. */
static unsigned char *
p12_build(const struct ca *ca, const char *bundle, int *len)
{
	STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
	STACK_OF(PKCS7)	*safes = NULL;
	PKCS12		*p12 = NULL;
	ASN1_OBJECT	*any;
	X509		*own = NULL;
	BIO		*bio;
	unsigned char	*der = NULL;
	const char	*pem;
	size_t		 pemlen;

	*len = 0;
	if ((any = OBJ_txt2obj(ANY_EXTENDED_KEY_USAGE, 1)) == NULL)
		goto done;
	pem = ca_cert_pem(ca, &pemlen);
	if ((bio = BIO_new_mem_buf(pem, (int)pemlen)) == NULL)
		goto done;
	own = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (own == NULL ||
	    p12_add_trusted(&bags, own, "oauthlens", any) == -1 ||
	    p12_add_bundle(&bags, bundle, own, any) == -1)
		goto done;
	ERR_clear_error();	/* the PEM reader's end of file */
	if (!PKCS12_add_safe(&safes, bags, -1, 0, NULL) ||
	    (p12 = PKCS12_add_safes(safes, 0)) == NULL ||
	    !PKCS12_set_mac(p12, TRUSTFILES_P12_PASSWORD, -1, NULL, 0,
	    PKCS12_DEFAULT_ITER, EVP_sha256()))
		goto done;
	if ((*len = i2d_PKCS12(p12, &der)) <= 0) {
		der = NULL;
		*len = 0;
	}
done:
	PKCS12_free(p12);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	X509_free(own);
	ASN1_OBJECT_free(any);
	return der;
}

static int
write_p12(const struct ca *ca, const char *dir, const char *bundle,
    char *err, size_t errlen)
{
	unsigned char	*der;
	unsigned long	 e;
	int		 len, rc;

	if ((der = p12_build(ca, bundle, &len)) == NULL) {
		e = ERR_get_error();
		snprintf(err, errlen, "cannot make %s/%s: %s", dir, P12_NAME,
		    e ? ERR_reason_error_string(e) : "out of memory");
		ERR_clear_error();
		return -1;
	}
	rc = write_file(dir, P12_NAME, der, (size_t)len, err, errlen);
	OPENSSL_free(der);
	return rc;
}

/* php/oauthlens.ini and wgetrc, both naming the bundle by its absolute
 * path (the runtimes run in the app's directory, not ours). */
static int
write_ini_files(const char *dir, const char *bundle, char *err,
    size_t errlen)
{
	char	abs[PATH_MAX], sub[PATH_MAX], text[PATH_MAX + 512];
	int	n, rc = 0;

	if (realpath(bundle, abs) == NULL) {
		snprintf(err, errlen, "cannot write %s/%s and %s/%s: %s: %s",
		    dir, PHP_NAME, dir, WGETRC_NAME, bundle, strerror(errno));
		return -1;
	}
	/* Neither format can quote these; refuse rather than write a file
	 * that points elsewhere. */
	if (strpbrk(abs, "\"$\\\n\r") != NULL) {
		snprintf(err, errlen, "cannot write %s/%s and %s/%s: the path "
		    "%s has a character they cannot quote", dir, PHP_NAME, dir,
		    WGETRC_NAME, abs);
		return -1;
	}
	snprintf(sub, sizeof(sub), "%s/%s", dir, PHP_DIR);
	if (mkdir(sub, 0755) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", sub,
		    strerror(errno));
		rc = -1;
	} else {
		n = snprintf(text, sizeof(text),
		    "; Written by oauthlens at every start: PHP's curl "
		    "extension and its\n"
		    "; OpenSSL streams trust the system store plus the "
		    "oauthlens CA.\n"
		    "; Use with PHP_INI_SCAN_DIR=:%s (the leading colon keeps\n"
		    "; the distribution's own conf.d).\n"
		    "curl.cainfo = \"%s\"\n"
		    "openssl.cafile = \"%s\"\n", sub, abs, abs);
		rc = write_file(dir, PHP_NAME, text, (size_t)n, err, errlen);
	}
	n = snprintf(text, sizeof(text),
	    "# Written by oauthlens at every start: wget trusts the system "
	    "store\n"
	    "# plus the oauthlens CA. Use with WGETRC=<this file>.\n"
	    "ca_certificate = %s\n", abs);
	if (rc == 0)
		rc = write_file(dir, WGETRC_NAME, text, (size_t)n, err, errlen);
	else
		(void)write_file(dir, WGETRC_NAME, text, (size_t)n, sub,
		    sizeof(sub));
	return rc;
}

int
trustfiles_write(const struct ca *ca, const char *dir, const char *bundle,
    char *err, size_t errlen)
{
	char	e2[512];
	int	rc;

	rc = write_p12(ca, dir, bundle, err, errlen);
	if (bundle == NULL)
		bundle = ca_cert_path(ca);
	if (rc == 0)
		return write_ini_files(dir, bundle, err, errlen);
	(void)write_ini_files(dir, bundle, e2, sizeof(e2));
	return rc;
}
