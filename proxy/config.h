/*
 * The configuration: an immutable, reference-counted snapshot. The file is
 * JSON with comments (conf/oauthlens.conf); command-line options override
 * it by one rule (config_cli_add). Reload parses a new snapshot and swaps
 * it in only if valid; connections keep the snapshot they started with.
 */
#ifndef OAUTHLENS_CONFIG_H
#define OAUTHLENS_CONFIG_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "conftypes.h"

/* The one rule for options against the file, as --help and the man pages
 * state it: an option replaces the key's value; a list option (given
 * once or more) replaces the file's whole list, except that a value
 * written with a leading "+" is added to the file's list instead. */
void		 config_cli_add(struct config_cli *cli,
		    const struct confkey *k, const char *val);

/* Free what config_cli_add allocated (the values stay argv's). */
void		 config_cli_clear(struct config_cli *cli);

/* Parse the file named by cli->cc_config (or the built-in defaults when
 * it is NULL), apply the command line and load the hint catalog ("messages",
 * default messages.json beside the config file, else the tree's
 * conf/messages.json). Returns a snapshot with one reference, or NULL with
 * "file:line:column: reason" (or "option: reason") in err. */
struct config	*config_load(const struct config_cli *cli, char *err,
		    size_t errlen);

/* Take / drop a reference; the last drop frees (NULL ok). */
struct config	*config_ref(struct config *cf);
void		 config_unref(struct config *cf);

/* Whether an address is inside one of the allow CIDRs. */
int		 config_allowed(const struct config *cf,
		    const struct sockaddr *sa);

/* Whether a Proxy-Authorization value grants access (constant time);
 * always true when no proxy_auth is configured. A non-ASCII user or
 * password is accepted in UTF-8 and in the Latin-1 that some clients
 * (Python's requests, aiohttp) encode it in. */
int		 config_proxy_auth_ok(const struct config *cf, const char *v,
		    size_t len);

/* The proxy_auth credentials as "user:password" into buf (for the
 * variables of --env and run; wipe buf after use): 0, or -1 when
 * proxy_auth is not set. */
int		 config_proxy_userpass(const struct config *cf, char *buf,
		    size_t len);

/* Whether CONNECT to this port is allowed. */
int		 config_connect_port_ok(const struct config *cf, uint16_t port);

/* The --resolve entry for host:port, or NULL. */
const struct resolve *config_resolve(const struct config *cf,
		    const char *host, uint16_t port);

#endif
