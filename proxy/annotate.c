#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "annotate.h"
#include "catalog.h"
#include "log.h"
#include "redact.h"
#include "sfv.h"
#include "util.h"

const char *
annotate_lang_name(enum lang lang)
{
	return lang == LANG_EN ? "en" : "ja";
}

char *
annotate_header(const char *name, const struct annotation *a)
{
	struct evbuffer	*b = evbuffer_new();
	char		*line = NULL, *text = NULL;
	struct sfv_param cause = { "cause", a->an_cause };
	size_t		 n;
	char		 diag[ANNOTATE_SHOWN];

	if (b == NULL || a->an_hint == NULL)
		goto out;
	/* The diagnosis, when there is one, comes before the docs' advice;
	 * a note about the answer itself (catalog text) after it. */
	if ((a->an_diagnosis != NULL || a->an_note != NULL) &&
	    asprintf(&text, "%s%s%s%s%s", a->an_diagnosis != NULL ?
	    redact_text(a->an_redact, a->an_diagnosis,
	    strlen(a->an_diagnosis), diag, sizeof(diag)) : "",
	    a->an_diagnosis != NULL ? " " : "", a->an_hint->hi_text,
	    a->an_note != NULL ? " " : "",
	    a->an_note != NULL ? a->an_note : "") == -1)
		text = NULL;
	evbuffer_add_printf(b, "%s: ", name);
	if (sfv_annotation(b, a->an_code, annotate_lang_name(a->an_lang),
	    text != NULL ? text : a->an_hint->hi_text, a->an_hint->hi_doc,
	    a->an_cause != NULL ? &cause : NULL, a->an_cause != NULL) == -1 &&
	    (text == NULL || sfv_annotation(b, a->an_code,
	    annotate_lang_name(a->an_lang), a->an_hint->hi_text,
	    a->an_hint->hi_doc, NULL, 0) == -1))
		/* the diagnosis could not be encoded: generic */
		goto out;
	n = evbuffer_get_length(b);
	if ((line = malloc(n + 1)) == NULL)
		goto out;
	evbuffer_remove(b, line, n);
	line[n] = '\0';
out:
	free(text);
	if (b != NULL)
		evbuffer_free(b);
	return line;
}

void
annotate_log(const struct annotation *a)
{
	struct logrec	lr;
	char		shown[ANNOTATE_SHOWN];

	logrec_begin(&lr, a->an_hint != NULL ? LL_WARN : LL_INFO,
	    "oauth-error");
	logrec_int(&lr, "req", (long long)a->an_req);
	logrec_str(&lr, "client", a->an_client);
	logrec_str(&lr, "host", a->an_host);
	logrec_str(&lr, "error", a->an_code);
	if (a->an_hint != NULL)
		logrec_str(&lr, "lang", annotate_lang_name(a->an_lang));
	if (a->an_client_id != NULL)
		logrec_str(&lr, "client_id", redact_text(a->an_redact,
		    a->an_client_id, strlen(a->an_client_id), shown,
		    sizeof(shown)));
	if (a->an_redirect_uri != NULL)
		logrec_str(&lr, "redirect_uri", redact_url(a->an_redact,
		    a->an_redirect_uri, strlen(a->an_redirect_uri), shown,
		    sizeof(shown)));
	if (a->an_cause != NULL) {
		logrec_str(&lr, "cause", a->an_cause);
		if (a->an_diagnosis != NULL)
			logrec_str(&lr, "diagnosis", redact_text(a->an_redact,
			    a->an_diagnosis, strlen(a->an_diagnosis), shown,
			    sizeof(shown)));
	}
	if (a->an_note != NULL)
		logrec_str(&lr, "note", a->an_note);
	if (a->an_context != NULL)
		logrec_str(&lr, "context", a->an_context);
	if (a->an_interval != NULL)
		logrec_str(&lr, "interval", a->an_interval);
	if (a->an_retry_of != 0)
		logrec_int(&lr, "retry_of", (long long)a->an_retry_of);
	if (a->an_hint != NULL) {
		logrec_str(&lr, "title", a->an_hint->hi_title);
		logrec_str(&lr, "hint", a->an_hint->hi_text);
		logrec_str(&lr, "doc", a->an_hint->hi_doc);
	} else
		logrec_str(&lr, "msg", "error code not in the hint catalog; "
		    "relayed untouched");
	logrec_end(&lr);
}
