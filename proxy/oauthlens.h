/*
 * The one context every module shares: the event loop, the DNS base, the
 * current configuration snapshot, the upstream connector, the listeners,
 * the live connections and the counters. There are no other mutable
 * globals (the log level and format are set from here).
 */
#ifndef OAUTHLENS_H
#define OAUTHLENS_H

#include <sys/queue.h>
#include <stdint.h>

#include "config.h"
#include "stats.h"

struct event_base;
struct evdns_base;
struct evconnlistener;
struct event;
struct upstream;
struct conn;
struct ca;
struct mitm;
struct status_recent;
struct flowmem;
struct oauth_env;

struct listener {
	TAILQ_ENTRY(listener)	 l_entry;
	struct evconnlistener	*l_ev;		/* owned */
	struct proxy		*l_px;		/* borrowed */
	char			 l_name[64];	/* "127.0.0.1:8080" */
};


struct proxy {
	struct event_base	*px_base;	/* owned */
	struct evdns_base	*px_dns;	/* owned */
	struct upstream		*px_up;		/* owned */
	struct ca		*px_ca;		/* owned */
	struct mitm		*px_mitm;	/* owned: TLS contexts */
	struct config		*px_cfg;	/* referenced: in force */
	const struct config_cli	*px_cli;	/* borrowed: for reloads */
	TAILQ_HEAD(, listener)	 px_listeners;
	TAILQ_HEAD(, conn)	 px_conns;
	unsigned		 px_nconns;	/* served connections */
	unsigned		 px_nrejecting;	/* being refused */
	uint64_t		 px_next_req;
	uint64_t		 px_next_conn;
	int			 px_draining;
	struct event		*px_drain_timer;	/* owned */
	struct event		*px_accept_timer;	/* owned: back-off */
	struct event		*px_watchdog;		/* owned */
	struct event		*px_sig[3];	/* owned: INT TERM HUP */
	unsigned		 px_drain_ms;		/* draining so far */
	struct stats		 px_stats;
	struct status_recent	*px_recent;	/* owned: ring of errors */
	struct flowmem		*px_flow;	/* owned: diagnosis memory */
	struct oauth_env	*px_oauth;	/* owned: what oauth may reach */
	uint64_t		 px_start_ms;
};

#endif
