/*
 * Redaction: the one function every sink that shows request-derived text
 * goes through (text and JSON log, journal, the OAuth-Troubleshooting
 * header, the status page). URLs lose their userinfo, their fragment and
 * every query value whose name is not on a short allow-list of harmless
 * keys; any value equal to a secret seen in the exchange is masked
 * wherever it appears, URL or not.
 */
#ifndef OAUTHLENS_REDACT_H
#define OAUTHLENS_REDACT_H

#include <stddef.h>

#include "util.h"

#define REDACT_MAX	12	/* secrets remembered per exchange */
#define REDACT_MIN	4	/* shorter values are not searched for */
#define REDACT_MASK	"***"

/* The secrets seen in one exchange. Values are borrowed. */
struct redact {
	unsigned	 rd_n;
	struct slice	 rd_secret[REDACT_MAX];	/* borrowed */
};

/* An empty set. */
void	 redact_init(struct redact *rd);

/*
 * Remember a secret value (client_secret, code, a token, a verifier),
 * borrowed: it must outlive every use of rd. Whitespace and quotes around
 * it are trimmed first (a secret pasted with them is still the secret);
 * values of fewer than REDACT_MIN bytes are ignored. NULL is ignored.
 */
void	 redact_add(struct redact *rd, const char *val);

/*
 * Copy len bytes of free text to out (outlen bytes, always NUL-terminated,
 * truncated to fit): every URL in it ("scheme://...", up to a byte that
 * cannot be in a URL) redacted as redact_url does, and every secret of rd
 * (NULL: none) replaced by REDACT_MASK. Returns out.
 */
char	*redact_text(const struct redact *rd, const char *text, size_t len,
	    char *out, size_t outlen);

/*
 * The same for a value that is one URL or request target, absolute or
 * origin-form ("/path?query#fragment"). Returns out.
 */
char	*redact_url(const struct redact *rd, const char *url, size_t len,
	    char *out, size_t outlen);

/* Whether a query parameter name (percent-encoded as sent) is on the
 * allow-list whose values are shown: client_id, scope, response_type,
 * error, error_description, interval. */
int	 redact_allowed_key(const char *name, size_t len);

#endif
