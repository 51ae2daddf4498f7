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

#include "log.h"

enum lang { LANG_JA, LANG_EN, LANG_AUTO };

struct catalog;
struct parent;

struct strlist {
	char		**sl_v;		/* owned strings */
	size_t		  sl_n;
};

struct cidr {
	int		 ci_family;	/* AF_INET or AF_INET6 */
	uint8_t		 ci_addr[16];
	unsigned	 ci_bits;
};

/* --resolve HOST:PORT:ADDR:PORT */
struct resolve {
	char			*rv_host;	/* owned, lowercase */
	uint16_t		 rv_port;
	struct sockaddr_storage	 rv_addr;
	socklen_t		 rv_addrlen;
};

struct config {
	int		 cf_refs;
	char		*cf_path;		/* owned: the file read */
	struct strlist	 cf_listen;	/* "addr:port" / "[v6]:port" */
	struct cidr	*cf_allow;		/* owned array */
	size_t		 cf_nallow;
	uint16_t	*cf_connect_ports;	/* owned array */
	size_t		 cf_nconnect_ports;
	struct resolve	*cf_resolve;		/* owned array */
	size_t		 cf_nresolve;
	struct strlist	 cf_intercept;
	struct strlist	 cf_token_endpoints;
	char		*cf_certs;
	char		*cf_upstream_ca;
	char		*cf_upstream_proxy;	/* as given: URL or "env" */
	struct strlist	 cf_no_upstream_proxy;	/* hosts that go direct */
	struct parent	*cf_parent_http;	/* owned: plain requests */
	struct parent	*cf_parent_tunnel;	/* owned: CONNECT, TLS */
	char		*cf_header_name;
	char		*cf_proxy_auth;		/* "Basic <base64>" or NULL */
	char		*cf_messages;		/* hint catalog path */
	struct catalog	*cf_catalog;		/* owned: loaded from it */
	int		 cf_ca_name_constraints;
	enum lang	 cf_lang;
	enum log_format	 cf_log_format;
	enum log_level	 cf_log_level;
	enum log_target	 cf_log_target;
	unsigned	 cf_max_connections;
	unsigned	 cf_code_lifetime_s;
	unsigned	 cf_flow_max_entries;
	unsigned	 cf_flow_max_age_s;
	size_t		 cf_inspect_max_bytes;
	unsigned	 cf_to_connect_ms;
	unsigned	 cf_to_header_ms;
	unsigned	 cf_to_idle_ms;
	unsigned	 cf_to_drain_ms;
};

struct confkey;

/* Command-line values that override the file, in the order given. */
struct cli_value {
	const struct confkey	*cv_key;	/* borrowed: a table row */
	const char		*cv_val;	/* borrowed: argv */
};

struct config_cli {
	const char		*cc_config;
	struct cli_value	*cc_vals;	/* owned array */
	size_t			 cc_nvals;
	int			 cc_new_ca;
	int			 cc_print_ca;
	int			 cc_env;
	/* HTTPS_PROXY, HTTP_PROXY and NO_PROXY as oauthlens started (owned
	 * copies, parent_env_keep), for upstream_proxy "env" at every load;
	 * unset: read the environment at each load. */
	char			*cc_proxy_env[3];
	int			 cc_proxy_env_kept;
};

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
 * always true when no proxy_auth is configured. */
int		 config_proxy_auth_ok(const struct config *cf, const char *v,
		    size_t len);

/* Whether CONNECT to this port is allowed. */
int		 config_connect_port_ok(const struct config *cf, uint16_t port);

/* The --resolve entry for host:port, or NULL. */
const struct resolve *config_resolve(const struct config *cf,
		    const char *host, uint16_t port);

/* Parse "addr:port", "[v6]:port" or "host:port" into its parts; host is
 * written without brackets. 0 or -1. */
int		 config_split_hostport(const char *s, char *host,
		    size_t hostlen, uint16_t *port);

/* Append a copy of s to a string list. */
void		 strlist_add(struct strlist *sl, const char *s);
void		 strlist_clear(struct strlist *sl);

#endif
