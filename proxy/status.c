#include <string.h>

#include <event2/buffer.h>

#include "http1.h"
#include "oauthlens.h"
#include "status.h"
#include "util.h"

static int
respond(struct evbuffer *out, int status, const char *ctype,
    const char *body, size_t len, int keep, int head_only)
{
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "%s\r\n", status, http1_status_text(status), ctype, len,
	    keep ? "" : "Connection: close\r\n");
	if (!head_only)
		evbuffer_add(out, body, len);
	return status;
}

int
status_page(struct proxy *px, const struct http1_head *h,
    struct evbuffer *out, int keep)
{
	const char	*path = h->h_target.s_ptr;
	size_t		 len = h->h_target.s_len;
	const char	*q = memchr(path, '?', len);
	static const char notfound[] = "404 Not Found: this is oauthlens, an "
	    "HTTP proxy; send proxied requests in absolute form "
	    "(http://host/path) or use CONNECT\n";

	if (q != NULL)
		len = (size_t)(q - path);
	if (strcmp(h->h_method, "GET") != 0 &&
	    strcmp(h->h_method, "HEAD") != 0)
		return respond(out, 405, "text/plain; charset=utf-8",
		    "405 Method Not Allowed\n", 23, keep, 0);
	if (len == 8 && memcmp(path, "/healthz", 8) == 0)
		return respond(out, px->px_draining ? 503 : 200,
		    "text/plain; charset=utf-8", px->px_draining ?
		    "draining\n" : "ok\n", px->px_draining ? 9 : 3, keep,
		    h->h_is_head);
	return respond(out, 404, "text/plain; charset=utf-8", notfound,
	    sizeof(notfound) - 1, keep, h->h_is_head);
}
