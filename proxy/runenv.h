/*
 * The run environment: the one table of variables that sends every
 * runtime through oauthlens and makes it trust the CA (read by --env,
 * run, --print-ca), and the one table of per-runtime fixes (read by
 * --print-ca and the tls-untrusted log line).
 */
#ifndef OAUTHLENS_RUNENV_H
#define OAUTHLENS_RUNENV_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Everything the variables are made of, as absolute paths. */
struct runenv {
	char		re_host[256];	/* proxy host, no brackets */
	uint16_t	re_port;
	char		re_url[2400];	/* http://[USER:PASS@]HOST:PORT */
	char		re_shown[400];	/* the same, password as *** */
	int		re_auth;	/* re_url carries credentials */
	char		re_certs[PATH_MAX];	/* CA directory */
	char		re_ca[PATH_MAX];	/* certs/ca.pem */
	char		re_bundle[PATH_MAX];	/* ca-bundle.pem */
	char		re_preload[PATH_MAX];	/* Node's, or "" */
};

/* Longest value a variable can have (JAVA_TOOL_OPTIONS). */
#define RUNENV_VALUE_MAX	(3 * PATH_MAX + 1024)

/* Fill re from a listen address ("addr:port", "[v6]:port"; wildcard
 * addresses become loopback) and the CA certificate's path (the bundle
 * and the other trust files live beside it). */
void	 runenv_init(struct runenv *re, const char *listen,
	    const char *ca_path);

/* Put the proxy_auth credentials ("user:password") into the proxy URL
 * of the variables, percent-encoded; re_shown keeps the password out. */
void	 runenv_set_auth(struct runenv *re, const char *userpass);

/* Write the --env lines to f: one shell-quoted export per variable. */
void	 runenv_print_env(const struct runenv *re, FILE *f);

/* Write the --print-ca text to f: the files, and each runtime's setup. */
void	 runenv_print_trust(const struct runenv *re, FILE *f);

/* Set every variable in this process's environment (for run); an
 * existing NODE_OPTIONS is kept after ours. 0, or -1 with errno. */
int	 runenv_apply(const struct runenv *re);

/* The one-line fix that makes `runtime` (a name of the contract:
 * python, node, go, curl, java, php, ruby, git, wget, deno, bun; anything
 * else is unknown) trust the CA, written into buf; returns buf. */
const char *runenv_fix(const char *runtime, const struct runenv *re,
	    char *buf, size_t len);

#endif
