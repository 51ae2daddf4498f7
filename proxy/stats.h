/*
 * The proxy's counters, typed: what /metrics and the systemd status line
 * report. The transport holds a pointer to the one struct stats (not the
 * whole context) and adds to it; status.c only reads it.
 */
#ifndef OAUTHLENS_STATS_H
#define OAUTHLENS_STATS_H

#include <stdint.h>

/* Methods and status classes counted in /metrics. */
enum stat_method { SM_GET, SM_HEAD, SM_POST, SM_PUT, SM_PATCH, SM_DELETE,
	SM_OPTIONS, SM_CONNECT, SM_OTHER, SM_COUNT };

/* The plain counters. */
enum stat_counter {
	STAT_REQUESTS,		/* request heads accepted */
	STAT_ERRORS,		/* error responses the proxy made */
	STAT_BYTES_IN,		/* from clients */
	STAT_BYTES_OUT,		/* to clients */
	STAT_TUNNELS,		/* CONNECT or 101 tunnels */
	STAT_REJECTED,		/* connections refused (allow, limit) */
	STAT_INTERCEPTED,	/* CONNECTs whose TLS we terminated */
	STAT_TLS_FAILED,	/* client TLS handshakes that failed */
	STAT_ANNOTATED,		/* provider errors annotated */
	STAT_COUNT
};

#define STAT_CODES_MAX	32

struct stat_code {
	char		 sc_code[64];
	uint64_t	 sc_count;
};

struct stats {
	uint64_t	 st_v[STAT_COUNT];
	uint64_t	 st_by_method[SM_COUNT][6];	/* [method][class] */
	struct stat_code st_codes[STAT_CODES_MAX];	/* annotated, by code */
};

/* Add n to a counter. */
static inline void
stats_add(struct stats *st, enum stat_counter sc, uint64_t n)
{
	st->st_v[sc] += n;
}

/* A counter's value. */
static inline uint64_t
stats_get(const struct stats *st, enum stat_counter sc)
{
	return st->st_v[sc];
}

/* One finished exchange: its method ("GET") and status (0: none). */
void	 stats_exchange(struct stats *st, const char *method, int status);

/* One annotated provider error, by its code (the first STAT_CODES_MAX
 * codes are counted apart; STAT_ANNOTATED counts them all). */
void	 stats_annotated(struct stats *st, const char *code);

/* The /metrics name of a method slot ("GET", ..., "other"). */
const char *stats_method_name(enum stat_method m);

#endif
