#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "diag.h"
#include "json.h"
#include "util.h"

const char *const catalog_required[] = {
	"incorrect_client_credentials",
	"redirect_uri_mismatch",
	"bad_verification_code",
	NULL
};

static const char *const lang_names[] = { "ja", "en" };

struct entry {
	char		*e_code;
	struct hint	 e_hints[2];	/* indexed by enum lang */
};

struct catalog {
	struct json	*cat_doc;	/* owned: hint strings point in here */
	const struct json *cat_causes;	/* borrowed from cat_doc */
	struct entry	*cat_entries;	/* owned */
	size_t		 cat_n;
};

static int
fail(char *err, size_t errlen, const char *path, const struct json *j,
    int at_key, const char *what, const char *name)
{
	snprintf(err, errlen, "%s:%u:%u: %s%s%s", path,
	    at_key ? j->j_kline : j->j_line, at_key ? j->j_kcol : j->j_col,
	    what, name ? " " : "", name ? name : "");
	return -1;
}

static int
load_hint(const struct json *lj, struct hint *h, const char *path, char *err,
    size_t errlen)
{
	static const char *const fields[] = { "title", "hint", "doc" };
	const char		**slots[3];
	const struct json	*f;
	size_t			 i;

	slots[0] = &h->hi_title;
	slots[1] = &h->hi_text;
	slots[2] = &h->hi_doc;
	if (lj->j_type != JSON_OBJECT)
		return fail(err, errlen, path, lj, 0, "expected an object with "
		    "title, hint and doc for language", lj->j_key);
	for (f = lj->j_child; f != NULL; f = f->j_next) {
		for (i = 0; i < 3; i++)
			if (strcmp(f->j_key, fields[i]) == 0)
				break;
		if (i == 3)
			return fail(err, errlen, path, f, 1, "unknown field",
			    f->j_key);
		if (f->j_type != JSON_STRING || f->j_len == 0)
			return fail(err, errlen, path, f, 0, "expected a "
			    "non-empty string for", f->j_key);
		*slots[i] = f->j_str;
	}
	for (i = 0; i < 3; i++)
		if (*slots[i] == NULL)
			return fail(err, errlen, path, lj, 0, "missing field",
			    fields[i]);
	if (strncmp(h->hi_doc, "https://", 8) != 0)
		return fail(err, errlen, path, json_get(lj, "doc"), 0,
		    "doc must be an https:// URL", NULL);
	return 0;
}

/* "_causes": { cause: { "ja": "...", "en": "..." } }. */
static int
load_causes(const struct json *cj, const char *path, char *err,
    size_t errlen)
{
	const struct json	*c, *l;

	if (cj->j_type != JSON_OBJECT)
		return fail(err, errlen, path, cj, 0, "_causes must be an "
		    "object", NULL);
	for (c = cj->j_child; c != NULL; c = c->j_next) {
		if (c->j_type != JSON_OBJECT)
			return fail(err, errlen, path, c, 0, "expected an "
			    "object of languages for cause", c->j_key);
		for (l = c->j_child; l != NULL; l = l->j_next)
			if ((strcmp(l->j_key, "ja") != 0 &&
			    strcmp(l->j_key, "en") != 0) ||
			    l->j_type != JSON_STRING)
				return fail(err, errlen, path, l, 1, "expected "
				    "\"ja\" or \"en\" with a string in cause",
				    c->j_key);
		if (json_get(c, "ja") == NULL || json_get(c, "en") == NULL)
			return fail(err, errlen, path, c, 1, "cause needs both "
			    "ja and en:", c->j_key);
	}
	return 0;
}

const char *
catalog_cause(const struct catalog *cat, enum diag_cause cause,
    enum lang lang)
{
	const struct json	*c = json_get(cat->cat_causes,
				    diag_cause_key(cause));
	const struct json	*t = json_get(c, lang == LANG_EN ? "en" : "ja");

	return t != NULL ? t->j_str : NULL;
}

struct catalog *
catalog_load(const char *path, char *err, size_t errlen)
{
	struct catalog		*cat;
	const struct json	*cj, *lj;
	size_t			 i, l;

	cat = xcalloc(1, sizeof(*cat));
	if ((cat->cat_doc = json_load_file(path, err, errlen)) == NULL)
		goto fail;
	if (cat->cat_doc->j_type != JSON_OBJECT) {
		fail(err, errlen, path, cat->cat_doc, 0, "the catalog must be "
		    "an object of error codes", NULL);
		goto fail;
	}
	for (cj = cat->cat_doc->j_child; cj != NULL; cj = cj->j_next)
		if (strcmp(cj->j_key, "_causes") != 0)
			cat->cat_n++;
	cat->cat_entries = xcalloc(cat->cat_n + 1, sizeof(struct entry));
	for (cj = cat->cat_doc->j_child, i = 0; cj != NULL;
	    cj = cj->j_next) {
		struct entry *e;

		if (strcmp(cj->j_key, "_causes") == 0) {
			if (load_causes(cj, path, err, errlen) == -1)
				goto fail;
			cat->cat_causes = cj;
			continue;
		}
		e = &cat->cat_entries[i++];
		e->e_code = cj->j_key;
		if (cj->j_type != JSON_OBJECT) {
			fail(err, errlen, path, cj, 0, "expected an object of "
			    "languages for", cj->j_key);
			goto fail;
		}
		for (lj = cj->j_child; lj != NULL; lj = lj->j_next) {
			for (l = 0; l < 2; l++)
				if (strcmp(lj->j_key, lang_names[l]) == 0)
					break;
			if (l == 2) {
				fail(err, errlen, path, lj, 1, "unknown "
				    "language (expected ja or en):", lj->j_key);
				goto fail;
			}
			if (load_hint(lj, &e->e_hints[l], path, err,
			    errlen) == -1)
				goto fail;
		}
		for (l = 0; l < 2; l++)
			if (e->e_hints[l].hi_text == NULL) {
				char what[96];

				snprintf(what, sizeof(what), "code %s has no "
				    "language", cj->j_key);
				fail(err, errlen, path, cj, 1, what,
				    lang_names[l]);
				goto fail;
			}
	}
	for (i = 0; catalog_required[i] != NULL; i++)
		if (catalog_lookup(cat, catalog_required[i], LANG_JA) == NULL) {
			fail(err, errlen, path, cat->cat_doc, 0, "missing "
			    "required code", catalog_required[i]);
			goto fail;
		}
	/* Every cause the diagnosis can claim has its sentence. */
	for (i = DC_NONE + 1; i < DC_COUNT; i++)
		if (json_get(cat->cat_causes, diag_cause_key(i)) == NULL) {
			fail(err, errlen, path, cat->cat_causes ?
			    cat->cat_causes : cat->cat_doc, 0, "\"_causes\" "
			    "misses the sentence for cause",
			    diag_cause_key(i));
			goto fail;
		}
	return cat;
fail:
	catalog_free(cat);
	return NULL;
}

void
catalog_free(struct catalog *cat)
{
	if (cat == NULL)
		return;
	json_free(cat->cat_doc);
	free(cat->cat_entries);
	free(cat);
}

const struct hint *
catalog_lookup(const struct catalog *cat, const char *code, enum lang lang)
{
	size_t	i;

	if (lang != LANG_EN)
		lang = LANG_JA;
	for (i = 0; i < cat->cat_n; i++)
		if (strcmp(cat->cat_entries[i].e_code, code) == 0)
			return &cat->cat_entries[i].e_hints[lang];
	return NULL;
}
