#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "annotate.h"
#include "ca.h"
#include "catalog.h"
#include "http1.h"
#include "oauthlens.h"
#include "redact.h"
#include "status.h"
#include "parent.h"
#include "upstream.h"
#include "util.h"

#define RECENT_MAX	50

struct recent {
	time_t		 r_time;
	uint64_t	 r_req;
	char		 r_host[128];
	char		 r_code[64];
	char		 r_lang[4];
	char		 r_title[160];
	char		 r_hint[1024];
	char		 r_cause[48];		/* diagnosed cause, or "" */
	char		 r_diagnosis[1024];	/* its sentence */
	char		 r_doc[256];
	char		 r_client_id[96];
	char		 r_redirect_uri[512];
};

struct status_recent {
	struct recent	 sr_ring[RECENT_MAX];
	unsigned	 sr_next;	/* slot for the next record */
	unsigned	 sr_n;
};

void
status_record(struct status_recent **ring, struct stats *st,
    const struct annotation *a)
{
	struct status_recent	*sr;
	struct recent		*r;

	stats_annotated(st, a->an_code);
	if (*ring == NULL)
		*ring = xcalloc(1, sizeof(**ring));
	sr = *ring;
	r = &sr->sr_ring[sr->sr_next];
	sr->sr_next = (sr->sr_next + 1) % RECENT_MAX;
	if (sr->sr_n < RECENT_MAX)
		sr->sr_n++;
	memset(r, 0, sizeof(*r));
	r->r_time = time(NULL);
	r->r_req = a->an_req;
	snprintf(r->r_host, sizeof(r->r_host), "%s", a->an_host);
	snprintf(r->r_code, sizeof(r->r_code), "%s", a->an_code);
	snprintf(r->r_lang, sizeof(r->r_lang), "%s",
	    annotate_lang_name(a->an_lang));
	if (a->an_hint != NULL) {
		snprintf(r->r_title, sizeof(r->r_title), "%s",
		    a->an_hint->hi_title);
		snprintf(r->r_hint, sizeof(r->r_hint), "%s",
		    a->an_hint->hi_text);
		snprintf(r->r_doc, sizeof(r->r_doc), "%s", a->an_hint->hi_doc);
	}
	if (a->an_cause != NULL && a->an_diagnosis != NULL) {
		snprintf(r->r_cause, sizeof(r->r_cause), "%s", a->an_cause);
		/* Through the exchange's redaction, as every sink. */
		redact_text(a->an_redact, a->an_diagnosis,
		    strlen(a->an_diagnosis), r->r_diagnosis,
		    sizeof(r->r_diagnosis));
	}
	if (a->an_client_id != NULL)
		redact_text(a->an_redact, a->an_client_id,
		    strlen(a->an_client_id), r->r_client_id,
		    sizeof(r->r_client_id));
	if (a->an_redirect_uri != NULL)
		redact_url(a->an_redact, a->an_redirect_uri,
		    strlen(a->an_redirect_uri), r->r_redirect_uri,
		    sizeof(r->r_redirect_uri));
}

void
status_free(struct proxy *px)
{
	free(px->px_recent);
	px->px_recent = NULL;
}

static int
respond(struct evbuffer *out, int status, const char *ctype,
    struct evbuffer *body, int keep, int head_only)
{
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "%s\r\n", status, http1_status_text(status), ctype,
	    evbuffer_get_length(body), keep ? "" : "Connection: close\r\n");
	if (!head_only)
		evbuffer_add_buffer(out, body);
	evbuffer_free(body);
	return status;
}

static void
html_escape(struct evbuffer *b, const char *s)
{
	for (; *s != '\0'; s++)
		switch (*s) {
		case '<': evbuffer_add(b, "&lt;", 4); break;
		case '>': evbuffer_add(b, "&gt;", 4); break;
		case '&': evbuffer_add(b, "&amp;", 5); break;
		case '"': evbuffer_add(b, "&quot;", 6); break;
		case '\'': evbuffer_add(b, "&#39;", 5); break;
		default: evbuffer_add(b, s, 1); break;
		}
}

static void
page_index(struct proxy *px, struct evbuffer *b)
{
	struct status_recent	*sr = px->px_recent;
	unsigned		 i, n = sr ? sr->sr_n : 0;
	char			 parent[1024];

	evbuffer_add_printf(b, "<!doctype html>\n<html lang=\"ja\"><head>"
	    "<meta charset=\"utf-8\"><meta http-equiv=\"refresh\" "
	    "content=\"5\"><title>oauthlens</title><style>"
	    "body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
	    "table{border-collapse:collapse;width:100%%}"
	    "td,th{border-bottom:1px solid #ddd;padding:.4em;text-align:left;"
	    "vertical-align:top}th{background:#f4f4f4}"
	    "code{background:#f4f4f4;padding:0 .2em}"
	    ".code{color:#b00;font-weight:bold}</style></head><body>\n"
	    "<h1>oauthlens</h1><p>%llu requests, %llu errors annotated, "
	    "%u open connections. This page refreshes every 5 seconds.</p>\n"
	    "<h2>Recent OAuth errors</h2>\n",
	    (unsigned long long)stats_get(&px->px_stats, STAT_REQUESTS),
	    (unsigned long long)stats_get(&px->px_stats, STAT_ANNOTATED),
	    px->px_nconns);
	parent_describe(px->px_cfg, parent, sizeof(parent));
	if (parent[0] != '\0') {
		/* The password is already ***. */
		evbuffer_add_printf(b, "<p id=\"upstream\">Requests go through "
		    "the ");
		html_escape(b, parent);
		evbuffer_add_printf(b, ".</p>\n");
	}
	if (n == 0) {
		evbuffer_add_printf(b, "<p id=\"none\">No annotated errors "
		    "yet.</p>\n</body></html>\n");
		return;
	}
	evbuffer_add_printf(b, "<table id=\"errors\"><tr><th>time (UTC)</th>"
	    "<th>host</th><th>error</th><th>hint</th><th>client_id</th>"
	    "<th>redirect_uri</th></tr>\n");
	for (i = 0; i < n; i++) {
		/* Newest first. */
		const struct recent *r = &sr->sr_ring[(sr->sr_next +
		    RECENT_MAX - 1 - i) % RECENT_MAX];
		char		 ts[32];
		struct tm	 tm;

		gmtime_r(&r->r_time, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
		evbuffer_add_printf(b, "<tr><td>%s</td><td>", ts);
		html_escape(b, r->r_host);
		evbuffer_add_printf(b, "</td><td class=\"code\">");
		html_escape(b, r->r_code);
		evbuffer_add_printf(b, "</td><td lang=\"%s\"><b>", r->r_lang);
		html_escape(b, r->r_title);
		evbuffer_add_printf(b, "</b><br>");
		if (r->r_cause[0] != '\0') {
			/* What this very request did wrong, then the docs'
			 * advice. */
			evbuffer_add_printf(b, "<span class=\"cause\"><code>");
			html_escape(b, r->r_cause);
			evbuffer_add_printf(b, "</code> ");
			html_escape(b, r->r_diagnosis);
			evbuffer_add_printf(b, "</span><br>");
		}
		html_escape(b, r->r_hint);
		if (r->r_doc[0] != '\0') {
			evbuffer_add_printf(b, "<br><a href=\"");
			html_escape(b, r->r_doc);
			evbuffer_add_printf(b, "\">docs</a>");
		}
		evbuffer_add_printf(b, "</td><td><code>");
		html_escape(b, r->r_client_id);
		evbuffer_add_printf(b, "</code></td><td><code>");
		html_escape(b, r->r_redirect_uri);
		evbuffer_add_printf(b, "</code></td></tr>\n");
	}
	evbuffer_add_printf(b, "</table>\n</body></html>\n");
}

static void
metric(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

/* The single-value families, in the order page_metrics() fills them. */
struct scalar {
	const char	*s_name;
	const char	*s_type;
	const char	*s_help;
};

static const struct scalar scalars[] = {
	{ "oauthlens_open_connections", "gauge",
	    "Client connections open now." },
	{ "oauthlens_pooled_upstream_connections", "gauge",
	    "Idle upstream connections kept for reuse." },
	{ "oauthlens_received_bytes_total", "counter",
	    "Bytes received from clients." },
	{ "oauthlens_sent_bytes_total", "counter", "Bytes sent to clients." },
	{ "oauthlens_tunnels_total", "counter",
	    "Blind CONNECT and Upgrade tunnels." },
	{ "oauthlens_intercepted_total", "counter",
	    "CONNECT tunnels whose TLS was intercepted." },
	{ "oauthlens_tls_client_failures_total", "counter",
	    "Client TLS handshakes that failed." },
	{ "oauthlens_certificates_minted_total", "counter",
	    "Leaf certificates minted." },
	{ "oauthlens_certificate_cache_hits_total", "counter",
	    "Leaf certificates served from the cache." },
	{ "oauthlens_rejected_connections_total", "counter",
	    "Connections refused by allow or max_connections." },
	{ "oauthlens_proxy_errors_total", "counter",
	    "Error responses oauthlens made itself (4xx/5xx)." },
	{ "oauthlens_uptime_seconds", "gauge", "Seconds since start." },
};

static void
page_metrics(struct proxy *px, struct evbuffer *b)
{
	const struct stats		*st = &px->px_stats;
	unsigned long			 minted = 0, hits = 0;
	int				 m, k;
	size_t				 i;

	metric(b, "oauthlens_requests_total", "counter", "Requests by method "
	    "and status class.");
	for (m = 0; m < SM_COUNT; m++)
		for (k = 0; k < 6; k++)
			if (st->st_by_method[m][k] > 0)
				evbuffer_add_printf(b,
				    "oauthlens_requests_total"
				    "{method=\"%s\",status=\"%s\"} %llu\n",
				    stats_method_name(m), k == 0 ? "other" :
				    (const char *[]){ "", "1xx", "2xx", "3xx",
				    "4xx", "5xx" }[k],
				    (unsigned long long)st->st_by_method[m][k]);
	metric(b, "oauthlens_oauth_errors_annotated_total", "counter",
	    "Token-endpoint errors annotated, by error code.");
	for (i = 0; i < STAT_CODES_MAX && st->st_codes[i].sc_code[0]; i++)
		evbuffer_add_printf(b, "oauthlens_oauth_errors_annotated_total"
		    "{code=\"%s\"} %llu\n", st->st_codes[i].sc_code,
		    (unsigned long long)st->st_codes[i].sc_count);
	if (px->px_ca != NULL)
		ca_stats(px->px_ca, &minted, &hits);
	for (i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
		unsigned long long	v;

		switch (i) {
		case 0: v = px->px_nconns; break;
		case 1: v = upstream_pool_size(px->px_up); break;
		case 2: v = stats_get(st, STAT_BYTES_IN); break;
		case 3: v = stats_get(st, STAT_BYTES_OUT); break;
		case 4: v = stats_get(st, STAT_TUNNELS); break;
		case 5: v = stats_get(st, STAT_INTERCEPTED); break;
		case 6: v = stats_get(st, STAT_TLS_FAILED); break;
		case 7: v = minted; break;
		case 8: v = hits; break;
		case 9: v = stats_get(st, STAT_REJECTED); break;
		case 10: v = stats_get(st, STAT_ERRORS); break;
		default:
			v = (util_now_ms() - px->px_start_ms) / 1000;
			break;
		}
		metric(b, scalars[i].s_name, scalars[i].s_type,
		    scalars[i].s_help);
		evbuffer_add_printf(b, "%s %llu\n", scalars[i].s_name, v);
	}
}

int
status_page(struct proxy *px, const struct http1_head *h,
    struct evbuffer *out, int keep)
{
	const char	*path = h->h_target.s_ptr;
	size_t		 len = h->h_target.s_len;
	const char	*q = memchr(path, '?', len);
	struct evbuffer	*b = evbuffer_new();
	int		 head = h->h_is_head;

	if (q != NULL)
		len = (size_t)(q - path);
	if (b == NULL)
		return 500;
	if (strcmp(h->h_method, "GET") != 0 && !head) {
		evbuffer_add_printf(b, "405 Method Not Allowed: the proxy's "
		    "own pages answer GET and HEAD\n");
		return respond(out, 405, "text/plain; charset=utf-8", b, keep,
		    0);
	}
	if (len == 1 && path[0] == '/') {
		page_index(px, b);
		return respond(out, 200, "text/html; charset=utf-8", b, keep,
		    head);
	}
	if (len == 8 && memcmp(path, "/healthz", 8) == 0) {
		evbuffer_add_printf(b, "%s\n", px->px_draining ? "draining" :
		    "ok");
		return respond(out, px->px_draining ? 503 : 200,
		    "text/plain; charset=utf-8", b, keep, head);
	}
	if (len == 8 && memcmp(path, "/metrics", 8) == 0) {
		page_metrics(px, b);
		return respond(out, 200, "text/plain; version=0.0.4; "
		    "charset=utf-8", b, keep, head);
	}
	if (len == 7 && memcmp(path, "/ca.pem", 7) == 0 && px->px_ca != NULL) {
		size_t		 n;
		const char	*pem = ca_cert_pem(px->px_ca, &n);

		evbuffer_add(b, pem, n);
		return respond(out, 200, "application/x-pem-file", b, keep,
		    head);
	}
	evbuffer_add_printf(b, "404 Not Found: this is oauthlens, an HTTP "
	    "proxy; its own pages are /, /healthz, /metrics and /ca.pem. Send "
	    "proxied requests in absolute form (http://host/path) or use "
	    "CONNECT\n");
	return respond(out, 404, "text/plain; charset=utf-8", b, keep, head);
}
