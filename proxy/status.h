/*
 * The proxy's own pages, for origin-form requests (GET /path) from allowed
 * clients: "/" (recent annotated errors, HTML), /healthz, /metrics
 * (Prometheus text format) and /ca.pem; and the counters behind them.
 */
#ifndef OAUTHLENS_STATUS_H
#define OAUTHLENS_STATUS_H

#include <stdint.h>

struct proxy;
struct http1_head;
struct evbuffer;
struct annotation;

/* Write the complete response for h into out (keep says whether the
 * connection stays open). Returns the status code written. */
int	 status_page(struct proxy *px, const struct http1_head *h,
	    struct evbuffer *out, int keep);

struct stats;
struct status_recent;

/* Remember an annotated error for "/" in *ring (made on first use, freed
 * by status_free) and count it by code in st. */
void	 status_record(struct status_recent **ring, struct stats *st,
	    const struct annotation *a);

/* Free what status_record kept. */
void	 status_free(struct proxy *px);

#endif
