/*
 * The config schema: one row per key of oauthlens.conf, read by the JSON
 * loader, the command line, --help, --check-config and the generator of
 * oauthlens.conf(5). Values are parsed from text (a JSON string, number or
 * bool, or an option's argument) by one setter per kind, so that a key
 * accepts the same values from the file and the command line. Adding a
 * key is one row in confkeys.c and one field in struct config: loading,
 * the options, --help, --check-config, the man pages and freeing follow.
 */
#ifndef OAUTHLENS_CONFKEYS_H
#define OAUTHLENS_CONFKEYS_H

#include <stddef.h>
#include <stdio.h>

#include "conftypes.h"
#include "json.h"

enum confkind {
	CK_STRING,	/* char *; any text, or what ck_ok accepts */
	CK_BOOL,	/* int; JSON true/false, "true"/"false" as an option */
	CK_WORD,	/* an enum: the index of the value in ck_words */
	CK_UINT,	/* unsigned, an integer in [ck_min, ck_max] */
	CK_SIZE,	/* size_t, an integer in [ck_min, ck_max] */
	CK_SECONDS,	/* unsigned milliseconds, given in (fractional) s */
	CK_LIST		/* a JSON array; a repeatable option */
};

struct confkey {
	const char	*ck_key;	/* JSON key; "timeouts.idle" nests */
	const char	*ck_flag;	/* long option, or NULL: file only */
	int		 ck_short;	/* short option letter, or 0 */
	int		 ck_secret;	/* a value may hold a password: no
					 * message repeats it */
	enum confkind	 ck_kind;
	enum json_type	 ck_elem;	/* CK_LIST: JSON type of entries */
	size_t		 ck_off;	/* offsetof(struct config, field) */
	double		 ck_min, ck_max; /* numbers; CK_LIST: ck_min entries */
	const char *const *ck_words;	/* CK_WORD: the values, NULL-ended */
	/* Whether a value (or entry) is acceptable; may say why not in why,
	 * which then replaces "must be <ck_what>" in the message. */
	int		(*ck_ok)(const char *, char *why, size_t whylen);
	/* Custom storage: set a scalar or append one entry (0/-1), empty a
	 * list, write the value (or entries, space-separated) as text. */
	int		(*ck_set)(struct config *, const char *);
	void		(*ck_clear)(struct config *);
	void		(*ck_text)(const struct config *, char *, size_t);
	const char	*ck_arg;	/* metavariable: "ADDR:PORT" */
	const char	*ck_what;	/* a valid value, for messages */
	const char	*ck_def;	/* default as option text (lists: words
					 * separated by spaces); NULL: unset */
	const char	*ck_example;	/* another valid value, for the tests */
	const char	*ck_help;	/* one line for --help */
	const char	*ck_doc;	/* sentences for oauthlens.conf(5) */
};

/* Every key, in the order of --help and the man page; ends with a row
 * whose ck_key is NULL. */
extern const struct confkey confkeys[];

/* The row for a JSON key ("timeouts.idle"), or NULL. */
const struct confkey *confkey_find(const char *key);

/* A valid value of k in words ("an integer between 1 and 65535"), for
 * messages and documentation; returns buf. */
const char	*confkey_what(const struct confkey *k, char *buf,
		    size_t len);

/* The argument of k's option as --help shows it: "ja|en|auto", "SEC". */
void		 confkey_arg(const struct confkey *k, char *buf, size_t len);

/* The value of k in cf as option text (lists: entries separated by
 * spaces, "" when empty; unset strings: ""; secrets: "(set)"). */
void		 confkey_text(const struct config *cf,
		    const struct confkey *k, char *buf, size_t len);

/* Set k from option text: a scalar's value, or append one list entry.
 * 0, or -1 if the text is not what k accepts (nothing changed); then why
 * (NULL ok) holds ck_ok's reason, or "" for the generic one. */
int		 confkey_set(struct config *cf, const struct confkey *k,
		    const char *s, char *why, size_t whylen);

/* Empty list k (a no-op for scalars). */
void		 confkey_clear(struct config *cf, const struct confkey *k);

/* Free what k holds in cf (strings wiped first), leaving it unset. */
void		 confkey_free(struct config *cf, const struct confkey *k);

/* Set every key that has a default to it (lists: to exactly its words). */
void		 confkeys_defaults(struct config *cf);

/* Print the option lines of every key that has one, the rule for options
 * against the file, and the keys that are file-only, as --help shows. */
void		 confkeys_usage(FILE *f);

/* Print every key and its value in cf, one "  key  value" line each (for
 * --check-config); secrets print as "(set)". */
void		 confkeys_show(const struct config *cf, FILE *f);

#endif
