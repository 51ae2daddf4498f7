/*
 * The hint catalog (conf/messages.json): for each error code and language,
 * a title, the hint and the docs URL, and the sentence of each diagnosed
 * cause. Validated completely at load, so a loaded catalog always has
 * every required code and every cause in every language.
 */
#ifndef OAUTHLENS_CATALOG_H
#define OAUTHLENS_CATALOG_H

#include <stddef.h>

#include "conftypes.h"
#include "diag.h"

struct hint {
	const char	*hi_title;
	const char	*hi_text;
	const char	*hi_doc;
};

struct catalog;

/* Load and validate a catalog file. NULL with "file:line:col: reason" in
 * err on any problem: malformed JSON, a required code or language
 * missing, a field missing or of the wrong type, a doc that is not an
 * https URL. */
struct catalog	*catalog_load(const char *path, char *err, size_t errlen);

/* Free a catalog (NULL ok). */
void		 catalog_free(struct catalog *cat);

/* The hint for code in lang (LANG_JA or LANG_EN), or NULL when the code is
 * not in the catalog. Strings live as long as the catalog. */
const struct hint *catalog_lookup(const struct catalog *cat,
		    const char *code, enum lang lang);

/* The sentence template for a diagnosed cause in lang ({age}, {req},
 * {len}, {field}, {detail}, {sent}, {registered} are filled in by the
 * caller), from the catalog's "_causes" object; a loaded catalog has one
 * for every cause but DC_NONE (NULL). */
const char	*catalog_cause(const struct catalog *cat,
		    enum diag_cause cause, enum lang lang);

/* The codes a catalog must hold. */
extern const char *const catalog_required[];

#endif
