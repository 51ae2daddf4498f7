/*
 * The proxy's own pages, for origin-form requests (GET /path): /healthz
 * now; the status page, /metrics and /ca.pem join as their features land.
 */
#ifndef OAUTHLENS_STATUS_H
#define OAUTHLENS_STATUS_H

struct proxy;
struct http1_head;
struct evbuffer;

/* Write the complete response for h into out (keep says whether the
 * connection stays open). Returns the status code written. */
int	 status_page(struct proxy *px, const struct http1_head *h,
	    struct evbuffer *out, int keep);

#endif
