/*
 * mangen TEMPLATE OUTPUT: copy a hand-written mdoc page, replacing the
 * line ".\" @KEYS@" with the reference of every config key (for
 * oauthlens.conf(5)) and ".\" @OPTIONS@" with the option of every key
 * that has one (for oauthlens(8)), both from proxy/confkeys.c's table.
 * Built and run by CMake; the pages are never edited by hand after this.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confkeys.h"

/* Text as mdoc: one sentence a line (". " ends a sentence), long lines
 * broken at a space, a leading dot or quote escaped, backslashes written
 * as \e. */
static void
roff_text(FILE *f, const char *s)
{
	int	col = 0;

	for (; *s != '\0'; s++) {
		if (col == 0 && (*s == '.' || *s == '\''))
			col += fprintf(f, "\\&");
		if (*s == '\\')
			col += fprintf(f, "\\e");
		else if (s[0] == '.' && s[1] == ' ') {
			fputs(".\n", f);
			s++;
			col = 0;
		} else if (*s == ' ' && col > 64) {
			fputc('\n', f);
			col = 0;
		} else {
			fputc(*s, f);
			col++;
		}
	}
	if (col > 0)
		fputc('\n', f);
}

/* "-l , --listen" as mdoc, without the argument. */
static void
roff_flag(FILE *f, const struct confkey *k)
{
	if (k->ck_short != 0)
		fprintf(f, "Fl %c , ", k->ck_short);
	fprintf(f, "Fl \\-%s", k->ck_flag);
}

static void
gen_keys(FILE *f)
{
	const struct confkey	*k;
	char			 what[128], arg[64];

	fputs(".Bl -tag -width Ds\n", f);
	for (k = confkeys; k->ck_key != NULL; k++) {
		confkey_what(k, what, sizeof(what));
		confkey_arg(k, arg, sizeof(arg));
		fprintf(f, ".It Cm %s\n", k->ck_key);
		if (k->ck_kind == CK_LIST)
			fprintf(f, "An array of %ss, each %s.\n",
			    json_type_name(k->ck_elem), what);
		else if (k->ck_kind == CK_STRING)
			fprintf(f, "A string: %s.\n", what);
		else if (k->ck_kind == CK_WORD)
			fprintf(f, "One of %s.\n", what);
		else
			fprintf(f, "%c%s.\n", toupper((unsigned char)what[0]),
			    what + 1);
		roff_text(f, k->ck_doc);
		if (k->ck_def != NULL)
			fprintf(f, "Default:\n.Ql %s .\n", k->ck_def);
		if (k->ck_flag != NULL) {
			fputs("Option:\n.", f);
			roff_flag(f, k);
			fprintf(f, " Ar %s .\n", arg);
		} else
			fputs("No command-line option.\n", f);
	}
	fputs(".El\n", f);
}

static void
gen_options(FILE *f)
{
	const struct confkey	*k;
	char			 arg[64], help[256];

	fputs(".Bl -tag -width Ds\n", f);
	for (k = confkeys; k->ck_key != NULL; k++) {
		if (k->ck_flag == NULL)
			continue;
		confkey_arg(k, arg, sizeof(arg));
		fputs(".It ", f);
		roff_flag(f, k);
		fprintf(f, " Ar %s\n", arg);
		fprintf(f, "Sets\n.Cm %s :\n", k->ck_key);
		snprintf(help, sizeof(help), "%s.", k->ck_help);
		roff_text(f, help);
		if (k->ck_def != NULL)
			fprintf(f, "Default:\n.Ql %s .\n", k->ck_def);
	}
	fputs(".El\n", f);
}

int
main(int argc, char **argv)
{
	FILE	*in, *out;
	char	 line[1024];

	if (argc != 3) {
		fprintf(stderr, "usage: mangen TEMPLATE OUTPUT\n");
		return 2;
	}
	if ((in = fopen(argv[1], "r")) == NULL) {
		perror(argv[1]);
		return 1;
	}
	if ((out = fopen(argv[2], "w")) == NULL) {
		perror(argv[2]);
		fclose(in);
		return 1;
	}
	while (fgets(line, sizeof(line), in) != NULL) {
		if (strcmp(line, ".\\\" @KEYS@\n") == 0)
			gen_keys(out);
		else if (strcmp(line, ".\\\" @OPTIONS@\n") == 0)
			gen_options(out);
		else
			fputs(line, out);
	}
	fclose(in);
	if (fclose(out) != 0) {
		perror(argv[2]);
		remove(argv[2]);
		return 1;
	}
	return 0;
}
