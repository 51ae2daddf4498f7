/*
 * The parent ("upstream") proxy of a corporate network: its URL
 * (http://[user[:password]@]host[:port], userinfo percent-decoded), the
 * hosts that bypass it (no_upstream_proxy), and the CONNECT head that
 * opens a tunnel through it. Pure functions: the connections themselves
 * are upstream.c's. The password never leaves this module except inside
 * the Proxy-Authorization value; pa_shown is the form every log line and
 * page uses.
 */
#ifndef OAUTHLENS_PARENT_H
#define OAUTHLENS_PARENT_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct http1_head;
struct strlist;
struct config;
struct config_cli;

#define PARENT_DEFAULT_PORT	1080	/* curl's, for a URL without one */
#define PARENT_USER_MAX		64	/* user name, as written in the URL */

struct parent {
	char		 pa_host[256];	/* without brackets */
	uint16_t	 pa_port;
	char		*pa_auth;	/* owned: "Basic <base64>" or NULL */
	char		*pa_auth_line;	/* owned: "Proxy-Authorization: ..." */
	char		 pa_shown[400];	/* "http://user:***@host:port" */
};

/* Parse a parent proxy URL into a new parent (free with parent_free).
 * Returns NULL with a reason in err that never repeats the password. */
struct parent	*parent_parse(const char *url, char *err, size_t errlen);

/* Free a parent, wiping its credentials (NULL ok). */
void		 parent_free(struct parent *pa);

/* Whether s is a valid no_upstream_proxy entry: "*", a host name,
 * ".suffix" or "*.suffix", an IP address or an address/bits CIDR. */
int		 parent_bypass_ok(const char *s);

/* Whether host (no brackets) goes direct under the entries of list
 * (NULL: none): loopback (localhost, 127.0.0.0/8, ::1) always does. */
int		 parent_bypass(const struct strlist *list, const char *host);

/* Append the entries of a NO_PROXY-style value (comma or space separated)
 * to list, skipping empty ones. */
void		 parent_bypass_split(const char *value, struct strlist *list);

/* Whether host:port names one of the listen addresses ("addr:port"
 * strings): the same address, a loopback name for a loopback or wildcard
 * listener, or any loopback address for a wildcard one. */
int		 parent_names_listener(const char *host, uint16_t port,
		    const struct strlist *listen);

/* Keep copies of HTTPS_PROXY, HTTP_PROXY and NO_PROXY (upper or lower
 * case) as the process started, for every later load: "run" sets them
 * to oauthlens itself for its command. */
void		 parent_env_keep(struct config_cli *cli);

/* After the rest of cf is loaded: make cf's parents from its
 * upstream_proxy (a URL, or "env": HTTPS_PROXY for tunnels, HTTP_PROXY for
 * plain requests, NO_PROXY added to no_upstream_proxy), refusing a parent
 * that is one of cf's own listeners. env: the values parent_env_keep
 * kept, or NULL to read the environment now. 0, or -1 with a reason in
 * err. */
int		 parent_config(struct config *cf, const char *const *env,
		    char *err, size_t errlen);

/* The parent that a request for host goes through under cf, or NULL for
 * direct: tunnel for CONNECT and intercepted TLS, else plain HTTP. */
const struct parent *parent_for(const struct config *cf, int tunnel,
		    const char *host);

/* Whether two snapshots route alike (same parents and bypass list). */
int		 parent_same(const struct config *a, const struct config *b);

/* Why a parent's refusal (its response head h) happened, in words for
 * the 502, written into buf with a leading space, or "": a 407 wants
 * credentials, refused pa's, or asks for schemes oauthlens does not
 * speak (only Basic: NTLM, Negotiate and Digest need a local bridge); a
 * 403 is the parent's policy. Returns buf. */
const char	*parent_refusal_hint(const struct parent *pa,
		    const struct http1_head *h, char *buf, size_t len);

/* One line for logs and --check-config: the parents (password as ***)
 * and the bypass list, or "" when there is no parent. */
void		 parent_describe(const struct config *cf, char *buf,
		    size_t len);

/* Write "CONNECT host:port HTTP/1.1" with Host and, when the parent has
 * credentials, Proxy-Authorization, ending the head. */
void		 parent_write_connect(struct evbuffer *out,
		    const struct parent *pa, const char *host, uint16_t port);

#endif
