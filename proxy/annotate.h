/*
 * What an annotated error says, in the two places it is said: the response
 * header (an RFC 9651 List item: the code as a Token, lang, hint as a
 * Display String, doc as a String) and the one warn record in the log.
 */
#ifndef OAUTHLENS_ANNOTATE_H
#define OAUTHLENS_ANNOTATE_H

#include <stdint.h>

#include "config.h"

struct hint;
struct redact;

/* One annotated (or catalogued-as-unknown) provider error. Every pointer
 * is borrowed; an_hint is NULL for codes not in the catalog. */
struct annotation {
	uint64_t	 an_req;
	const char	*an_client;
	const char	*an_host;
	const char	*an_code;
	enum lang	 an_lang;
	const struct hint *an_hint;
	const char	*an_client_id;		/* NULL when not sent */
	const char	*an_redirect_uri;	/* NULL when not sent */
	const char	*an_cause;		/* diagnosed cause, or NULL */
	const char	*an_diagnosis;		/* its sentence, in an_lang */
	uint64_t	 an_retry_of;		/* earlier request of a retry */
	const char	*an_interval;		/* slow_down's new interval */
	const char	*an_context;		/* "authorize" for redirects */
	const struct redact *an_redact;		/* the exchange's secrets */
	const char	*an_note;		/* a sentence after the hint */
};

/* Every sink shows an_client_id, an_redirect_uri and an_diagnosis only
 * through redact_text / redact_url with an_redact (NULL: URL rules only):
 * annotate_header, annotate_log, status_record. */
#define ANNOTATE_SHOWN	1024	/* bytes of one redacted value */

/* The header line "name: value" for a (an_hint set), malloc'd; NULL when
 * the code cannot be a Token or a piece cannot be encoded. */
char	*annotate_header(const char *name, const struct annotation *a);

/* The log record: warn "oauth-error" with the hint when an_hint is set,
 * info "oauth-error" with the code alone otherwise. */
void	 annotate_log(const struct annotation *a);

/* "ja" or "en". */
const char *annotate_lang_name(enum lang lang);

#endif
