/*
 * The shape of a configuration snapshot and of the command line that
 * overrides it: the data that config.c loads and hands out, that the key
 * table (confkeys.c) fills field by field and that parent.c resolves its
 * upstream proxies into. Types only, so that those lower files need
 * nothing of the loader above them.
 */
#ifndef OAUTHLENS_CONFTYPES_H
#define OAUTHLENS_CONFTYPES_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "util.h"

enum lang { LANG_JA, LANG_EN, LANG_AUTO };

struct catalog;
struct parent;

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
	/* With upstream_proxy unset: the proxy oauthlens's environment
	 * names all the same (password as ***), or "". */
	char		 cf_env_proxy[400];
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

#endif
