#include <stdio.h>
#include <string.h>

#include "stats.h"

static const char *const method_names[SM_COUNT] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT",
	"other"
};

const char *
stats_method_name(enum stat_method m)
{
	return m < SM_COUNT ? method_names[m] : "other";
}

void
stats_exchange(struct stats *st, const char *method, int status)
{
	int	m, cls = status / 100;

	for (m = 0; m < SM_OTHER; m++)
		if (strcmp(method, method_names[m]) == 0)
			break;
	if (cls < 1 || cls > 5)
		cls = 0;
	st->st_by_method[m][cls]++;
}

void
stats_annotated(struct stats *st, const char *code)
{
	size_t	i;

	st->st_v[STAT_ANNOTATED]++;
	for (i = 0; i < STAT_CODES_MAX; i++) {
		struct stat_code *sc = &st->st_codes[i];

		if (sc->sc_code[0] == '\0')
			snprintf(sc->sc_code, sizeof(sc->sc_code), "%s", code);
		if (strcmp(sc->sc_code, code) == 0) {
			sc->sc_count++;
			break;
		}
	}
}
