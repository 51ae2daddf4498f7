/*
 * trustfiles: the Java store read back with OpenSSL (MAC under
 * "changeit", one certificate bag per certificate of the bundle, each with
 * an alias and Oracle's trusted-key-usage attribute = anyExtendedKeyUsage,
 * no private key, no local key id), the PHP ini and the wgetrc naming the
 * bundle by absolute path, modes 0644, no temporary files left, rewrite
 * over old files, and the errors for an unwritable directory and a bundle
 * path the ini formats cannot quote. Java itself reading the store is
 * tests/integration/test_runtime_java.py.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "ca.h"
#include "trustfiles.h"
#include "t.h"

static char	tmpdir[] = "/tmp/test_trustfiles.XXXXXX";

static char *
slurp(const char *path, size_t *len)
{
	FILE	*f = fopen(path, "rb");
	char	*buf;
	long	 n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

static void
spit(const char *path, const char *text)
{
	FILE	*f = fopen(path, "w");

	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

static struct ca *
new_ca(const char *name)
{
	char		 d[PATH_MAX], err[512];
	struct ca	*ca;

	snprintf(d, sizeof(d), "%s/%s", tmpdir, name);
	ca = ca_open(d, NULL, 0, err, sizeof(err));
	if (ca == NULL)
		fprintf(stderr, "ca_open: %s\n", err);
	return ca;
}

/* A file's mode bits, or -1. */
static int
mode_of(const char *path)
{
	struct stat	st;

	return stat(path, &st) == -1 ? -1 : (int)(st.st_mode & 07777);
}

/* Files in dir whose name starts with '.' besides . and .. and .lock. */
static int
leftovers(const char *dir)
{
	DIR		*d = opendir(dir);
	struct dirent	*e;
	int		 n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 &&
		    strcmp(e->d_name, "..") != 0 &&
		    strcmp(e->d_name, ".lock") != 0)
			n++;
	closedir(d);
	return n;
}

/* Check one bag; returns its certificate (caller frees) or NULL. */
static X509 *
check_bag(const PKCS12_SAFEBAG *bag, char *alias, size_t alen)
{
	const ASN1_TYPE	*t;
	ASN1_OBJECT	*oid, *any;
	char		*name;
	X509		*x;

	CHECK_INT(PKCS12_SAFEBAG_get_nid(bag), NID_certBag);
	name = PKCS12_get_friendlyname((PKCS12_SAFEBAG *)bag);
	CHECK(name != NULL);
	snprintf(alias, alen, "%s", name ? name : "");
	OPENSSL_free(name);
	CHECK(PKCS12_SAFEBAG_get0_attr(bag, NID_localKeyID) == NULL);
	oid = OBJ_txt2obj("2.16.840.1.113894.746875.1.1", 1);
	any = OBJ_txt2obj("2.5.29.37.0", 1);
	t = NULL;
	if (oid != NULL)
		t = PKCS12_get_attr_gen(PKCS12_SAFEBAG_get0_attrs(bag),
		    OBJ_obj2nid(oid));
	/* The OID may be unknown to this OpenSSL (no NID): walk the
	 * attributes by object instead. */
	if (t == NULL && oid != NULL) {
		const STACK_OF(X509_ATTRIBUTE) *a =
		    PKCS12_SAFEBAG_get0_attrs(bag);
		int i = X509at_get_attr_by_OBJ(a, oid, -1);

		if (i >= 0)
			t = X509_ATTRIBUTE_get0_type(X509at_get_attr(a, i), 0);
	}
	CHECK(t != NULL);
	CHECK(t != NULL && ASN1_TYPE_get(t) == V_ASN1_OBJECT &&
	    OBJ_cmp(t->value.object, any) == 0);
	ASN1_OBJECT_free(oid);
	ASN1_OBJECT_free(any);
	x = PKCS12_SAFEBAG_get1_cert(bag);
	CHECK(x != NULL);
	return x;
}

/* Read the store back: every bag checked; aliases and certificates in
 * order into the arrays (at most max). Returns the number of bags. */
static int
read_store(const char *path, char aliases[][32], X509 **certs, int max)
{
	STACK_OF(PKCS7)	*safes;
	STACK_OF(PKCS12_SAFEBAG) *bags;
	PKCS12		*p12;
	BIO		*bio = BIO_new_file(path, "rb");
	int		 i, j, n = 0;

	p12 = bio ? d2i_PKCS12_bio(bio, NULL) : NULL;
	BIO_free(bio);
	CHECK(p12 != NULL);
	if (p12 == NULL)
		return 0;
	CHECK(PKCS12_mac_present(p12));
	CHECK(PKCS12_verify_mac(p12, "changeit", -1) == 1);
	CHECK(PKCS12_verify_mac(p12, "changeme", -1) == 0);
	safes = PKCS12_unpack_authsafes(p12);
	CHECK(safes != NULL);
	for (i = 0; safes != NULL && i < sk_PKCS7_num(safes); i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);

		/* Certificates are public: no encrypted safe. */
		CHECK_INT(OBJ_obj2nid(p7->type), NID_pkcs7_data);
		bags = PKCS12_unpack_p7data(p7);
		for (j = 0; bags != NULL && j < sk_PKCS12_SAFEBAG_num(bags);
		    j++, n++)
			if (n < max)
				certs[n] = check_bag(
				    sk_PKCS12_SAFEBAG_value(bags, j),
				    aliases[n], sizeof(aliases[n]));
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	}
	sk_PKCS7_pop_free(safes, PKCS7_free);
	PKCS12_free(p12);
	return n;
}

static X509 *
pem_cert(const struct ca *ca)
{
	size_t		 len;
	const char	*pem = ca_cert_pem(ca, &len);
	BIO		*bio = BIO_new_mem_buf(pem, (int)len);
	X509		*x = PEM_read_bio_X509(bio, NULL, NULL, NULL);

	BIO_free(bio);
	return x;
}

static void
test_files(void)
{
	struct ca	*own = new_ca("own"), *other = new_ca("other");
	char		 dir[PATH_MAX], bundle[PATH_MAX], path[PATH_MAX],
			 want[PATH_MAX * 2], err[512], aliases[8][32];
	X509		*certs[8] = { NULL }, *ox, *xx;
	char		*text, *bundle_text;
	size_t		 len;
	int		 n, i;

	CHECK(own != NULL && other != NULL);
	if (own == NULL || other == NULL)
		return;
	snprintf(dir, sizeof(dir), "%s/own", tmpdir);
	/* A bundle like write_bundle's: another root, then ours, with the
	 * comment line between (ours twice: the store has it once). */
	snprintf(bundle, sizeof(bundle), "%s/ca-bundle.pem", dir);
	n = asprintf(&bundle_text, "%s\n# oauthlens development CA\n%s%s",
	    ca_cert_pem(other, &len), ca_cert_pem(own, &len),
	    ca_cert_pem(own, &len));
	CHECK(n > 0);
	spit(bundle, bundle_text);
	free(bundle_text);
	/* Old files are replaced. */
	snprintf(path, sizeof(path), "%s/wgetrc", dir);
	spit(path, "ca_certificate = /nowhere\n");

	CHECK_INT(trustfiles_write(own, dir, bundle, err, sizeof(err)), 0);

	snprintf(path, sizeof(path), "%s/java-truststore.p12", dir);
	CHECK_INT(mode_of(path), 0644);
	n = read_store(path, aliases, certs, 8);
	CHECK_INT(n, 2);
	CHECK_STR(aliases[0], "oauthlens");
	CHECK_STR(aliases[1], "system-001");
	ox = pem_cert(own);
	xx = pem_cert(other);
	CHECK(certs[0] != NULL && X509_cmp(certs[0], ox) == 0);
	CHECK(certs[1] != NULL && X509_cmp(certs[1], xx) == 0);
	for (i = 0; i < 8; i++)
		X509_free(certs[i]);
	X509_free(ox);
	X509_free(xx);

	snprintf(path, sizeof(path), "%s/php/oauthlens.ini", dir);
	CHECK_INT(mode_of(path), 0644);
	text = slurp(path, NULL);
	CHECK(text != NULL);
	snprintf(want, sizeof(want), "\ncurl.cainfo = \"%s\"\n", bundle);
	CHECK(text != NULL && strstr(text, want) != NULL);
	snprintf(want, sizeof(want), "\nopenssl.cafile = \"%s\"\n", bundle);
	CHECK(text != NULL && strstr(text, want) != NULL);
	free(text);

	snprintf(path, sizeof(path), "%s/wgetrc", dir);
	CHECK_INT(mode_of(path), 0644);
	text = slurp(path, NULL);
	snprintf(want, sizeof(want), "\nca_certificate = %s\n", bundle);
	CHECK(text != NULL && strstr(text, want) != NULL);
	CHECK(text != NULL && strstr(text, "/nowhere") == NULL);
	/* Nothing else that changes wget's behaviour: one setting. */
	{
		char	*line, *save = NULL;
		int	 settings = 0;

		for (line = strtok_r(text, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			if (line[0] != '#' && line[0] != '\0')
				settings++;
		CHECK_INT(settings, 1);
	}
	free(text);
	CHECK_INT(leftovers(dir), 0);
	snprintf(path, sizeof(path), "%s/php", dir);
	CHECK_INT(leftovers(path), 0);
	CHECK_INT(mode_of(path), 0755);

	/* No bundle (write_bundle failed): the store has our CA alone and
	 * the ini files name ca.pem. */
	unlink(bundle);
	CHECK_INT(trustfiles_write(own, dir, NULL, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/java-truststore.p12", dir);
	memset(certs, 0, sizeof(certs));
	CHECK_INT(read_store(path, aliases, certs, 8), 1);
	CHECK_STR(aliases[0], "oauthlens");
	X509_free(certs[0]);
	snprintf(path, sizeof(path), "%s/wgetrc", dir);
	text = slurp(path, NULL);
	snprintf(want, sizeof(want), "ca_certificate = %s\n",
	    ca_cert_path(own));
	CHECK(text != NULL && strstr(text, want) != NULL);
	free(text);

	ca_free(own);
	ca_free(other);
}

static void
test_errors(void)
{
	struct ca	*ca = new_ca("err");
	char		 dir[PATH_MAX], odd[PATH_MAX], err[512];

	CHECK(ca != NULL);
	if (ca == NULL)
		return;
	/* A directory that is not there: each file fails, the message names
	 * the first. */
	snprintf(dir, sizeof(dir), "%s/missing", tmpdir);
	err[0] = '\0';
	CHECK_INT(trustfiles_write(ca, dir, ca_cert_path(ca), err,
	    sizeof(err)), -1);
	CHECK(strstr(err, "java-truststore.p12") != NULL);
	CHECK(strstr(err, dir) != NULL);

	/* A bundle path the ini formats cannot quote: refused, not written
	 * pointing elsewhere; the Java store is still made. */
	snprintf(dir, sizeof(dir), "%s/err", tmpdir);
	snprintf(odd, sizeof(odd), "%s/we\"ird$.pem", dir);
	spit(odd, ca_cert_pem(ca, &(size_t){ 0 }));
	err[0] = '\0';
	CHECK_INT(trustfiles_write(ca, dir, odd, err, sizeof(err)), -1);
	CHECK(strstr(err, "cannot quote") != NULL);
	snprintf(odd, sizeof(odd), "%s/wgetrc", dir);
	CHECK_INT(access(odd, F_OK), -1);
	snprintf(odd, sizeof(odd), "%s/java-truststore.p12", dir);
	CHECK_INT(access(odd, F_OK), 0);
	ca_free(ca);
}

int
main(void)
{
	char	cmd[PATH_MAX + 16];
	int	rc;

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_files();
	test_errors();
	rc = t_done();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return rc;
}
