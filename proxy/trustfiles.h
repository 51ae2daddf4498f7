/*
 * Trust files for the runtimes that cannot take ca-bundle.pem through an
 * environment variable alone, written in the CA directory beside it at
 * every start (and for --env, --print-ca and run):
 *   java-truststore.p12  PKCS12, password "changeit": the bundle's
 *                        certificates as trusted certificate entries that
 *                        Java accepts (JAVA_TOOL_OPTIONS points at it);
 *   php/oauthlens.ini    curl.cainfo and openssl.cafile = the bundle
 *                        (PHP_INI_SCAN_DIR=:<dir>/php);
 *   wgetrc               ca_certificate = the bundle (WGETRC).
 * Each file is replaced atomically (temporary file and rename, mode 0644).
 */
#ifndef OAUTHLENS_TRUSTFILES_H
#define OAUTHLENS_TRUSTFILES_H

#include <stddef.h>

struct ca;

/* The PKCS12 store's password: Java's convention for trust stores. */
#define TRUSTFILES_P12_PASSWORD	"changeit"

/* Write the three files into dir (the CA directory). bundle is the PEM
 * file the runtimes should trust (ca-bundle.pem: the system store plus
 * ca's certificate); the Java store holds every certificate in it, and
 * ca's certificate in any case (alias "oauthlens"). Returns 0, or -1 with
 * err naming the file that could not be written (the others are still
 * attempted). */
int	 trustfiles_write(const struct ca *ca, const char *dir,
	    const char *bundle, char *err, size_t errlen);

#endif
