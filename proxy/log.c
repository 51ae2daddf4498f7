#include <sys/stat.h>
#include <sys/uio.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"
#include "redact.h"
#include "util.h"

#define LINE_MAX_BYTES	16384

/* Set at start-up and on reload, from the main loop only. */
static enum log_level	log_level = LL_INFO;
static enum log_format	log_format = LOGF_TEXT;
static int		log_journal;	/* records go to the journal */
static int		log_colour;	/* stderr is a terminal */

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const char *const level_colours[] = { "\033[1;31m", "\033[33m",
	"\033[32m", "\033[2m" };
static const int level_priority[] = { 3, 4, 6, 7 };

/* systemd sets JOURNAL_STREAM=dev:ino when stderr is the journal. */
static int
stderr_is_journal(void)
{
	const char		*js = getenv("JOURNAL_STREAM");
	struct stat		 st;
	unsigned long long	 dev, ino;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_setup(enum log_level level, enum log_format format,
    enum log_target target)
{
	log_level = level;
	log_format = format;
	log_journal = target == LOGT_JOURNAL ||
	    (target == LOGT_AUTO && stderr_is_journal());
	log_colour = !log_journal && format == LOGF_TEXT &&
	    isatty(STDERR_FILENO) && getenv("NO_COLOR") == NULL;
}

int
log_enabled(enum log_level level)
{
	return level <= log_level;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	size_t	i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

int
log_format_parse(const char *s, enum log_format *out)
{
	if (strcmp(s, "text") == 0)
		*out = LOGF_TEXT;
	else if (strcmp(s, "json") == 0)
		*out = LOGF_JSON;
	else
		return -1;
	return 0;
}

int
log_target_parse(const char *s, enum log_target *out)
{
	if (strcmp(s, "auto") == 0)
		*out = LOGT_AUTO;
	else if (strcmp(s, "stderr") == 0)
		*out = LOGT_STDERR;
	else if (strcmp(s, "journal") == 0)
		*out = LOGT_JOURNAL;
	else
		return -1;
	return 0;
}

void
logrec_begin(struct logrec *lr, enum log_level level, const char *event)
{
	lr->lr_level = level;
	lr->lr_on = log_enabled(level);
	lr->lr_event = event;
	lr->lr_nfields = 0;
	lr->lr_vlen = 0;
}

static void
add_field(struct logrec *lr, const char *key, const char *val, size_t len,
    unsigned num)
{
	struct logfield	*f;

	if (!lr->lr_on || lr->lr_nfields == LOGREC_FIELDS)
		return;
	if (len > LOGREC_VALUES - lr->lr_vlen)
		/* truncate, never overflow */
		len = LOGREC_VALUES - lr->lr_vlen;
	f = &lr->lr_fields[lr->lr_nfields++];
	f->lf_key = key;
	f->lf_off = (unsigned)lr->lr_vlen;
	f->lf_len = (unsigned)len;
	f->lf_num = num;
	memcpy(lr->lr_values + lr->lr_vlen, val, len);
	lr->lr_vlen += len;
}

void
logrec_strn(struct logrec *lr, const char *key, const char *val, size_t len)
{
	add_field(lr, key, val, len, 0);
}

void
logrec_str(struct logrec *lr, const char *key, const char *val)
{
	if (val == NULL)
		val = "";
	add_field(lr, key, val, strlen(val), 0);
}

void
logrec_int(struct logrec *lr, const char *key, long long val)
{
	char	buf[24];

	if (!lr->lr_on)
		return;
	add_field(lr, key, buf, util_fmt_ll(buf, val), 1);
}

void
logrec_target(struct logrec *lr, const char *key, const char *target,
    size_t len)
{
	char	buf[2048];

	if (!lr->lr_on)
		return;
	logrec_str(lr, key, redact_url(NULL, target, len, buf, sizeof(buf)));
}

/* A bounded output line. */
struct line {
	size_t	l_len;
	char	l_buf[LINE_MAX_BYTES];
};

static void
put(struct line *l, const char *p, size_t n)
{
	if (n > sizeof(l->l_buf) - 4 - l->l_len)
		n = sizeof(l->l_buf) - 4 - l->l_len;
	memcpy(l->l_buf + l->l_len, p, n);
	l->l_len += n;
}

static void
puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t		need, i;
	uint32_t	cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		need = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (n < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (need == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return need;
}

/* Escape for the format: control bytes as \u00XX (JSON) or \xXX (text),
 * invalid UTF-8 as U+FFFD, so a line is always one valid UTF-8 line. */
static void
put_escaped(struct line *l, const char *val, size_t len, int json)
{
	const unsigned char	*p = (const unsigned char *)val;
	size_t			 i = 0, n;
	char			 esc[8];

	while (i < len) {
		if (p[i] == '"' || p[i] == '\\') {
			put(l, "\\", 1);
			put(l, (const char *)p + i++, 1);
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			snprintf(esc, sizeof(esc), json ? "\\u%04x" : "\\x%02x",
			    p[i]);
			puts_(l, esc);
			i++;
		} else if ((n = utf8_len(p + i, len - i)) == 0) {
			put(l, "\xef\xbf\xbd", 3);
			i++;
		} else {
			put(l, (const char *)p + i, n);
			i += n;
		}
	}
}

static int
needs_quotes(const char *val, size_t len)
{
	size_t	i;

	if (len == 0)
		return 1;
	for (i = 0; i < len; i++)
		if (val[i] == ' ' || val[i] == '"' || val[i] == '=' ||
		    (unsigned char)val[i] < 0x21 || val[i] == '\\')
			return 1;
	return 0;
}

/* v as exactly w digits, zero-padded, at p; returns p + w. */
static char *
digits(char *p, unsigned v, int w)
{
	int	i;

	for (i = w - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + w;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC); written by hand, as this runs once
 * per record, and snprintf with seven numbers cost more than the rest of
 * an access record. */
static void
timestamp(char *buf, size_t len)
{
	struct timespec	ts;
	struct tm	tm;
	char		*p = buf;
	int		 year;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	year = tm.tm_year + 1900;
	if (len < 25 || year < 0 || year > 9999) {
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		    year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec, (int)(ts.tv_nsec / 1000000));
		return;
	}
	p = digits(p, (unsigned)year, 4);
	*p++ = '-';
	p = digits(p, (unsigned)tm.tm_mon + 1, 2);
	*p++ = '-';
	p = digits(p, (unsigned)tm.tm_mday, 2);
	*p++ = 'T';
	p = digits(p, (unsigned)tm.tm_hour, 2);
	*p++ = ':';
	p = digits(p, (unsigned)tm.tm_min, 2);
	*p++ = ':';
	p = digits(p, (unsigned)tm.tm_sec, 2);
	*p++ = '.';
	p = digits(p, (unsigned)(ts.tv_nsec / 1000000), 3);
	*p++ = 'Z';
	*p = '\0';
}

/* `event k=v k="v w"`, optionally coloured, without the time and level. */
static void
render_fields(struct line *l, const struct logrec *lr, int colour)
{
	unsigned	i;

	puts_(l, lr->lr_event);
	for (i = 0; i < lr->lr_nfields; i++) {
		const struct logfield	*f = &lr->lr_fields[i];
		const char		*v = lr->lr_values + f->lf_off;
		int			 q = needs_quotes(v, f->lf_len);
		int			 hi = colour && strcmp(f->lf_key,
					    "error") == 0;

		put(l, " ", 1);
		puts_(l, f->lf_key);
		put(l, "=", 1);
		if (hi)
			puts_(l, "\033[1;31m");
		if (q)
			put(l, "\"", 1);
		put_escaped(l, v, f->lf_len, 0);
		if (q)
			put(l, "\"", 1);
		if (hi)
			puts_(l, "\033[0m");
	}
}

static void
render_json(struct line *l, const struct logrec *lr, const char *ts)
{
	unsigned	i;

	puts_(l, "{\"ts\":\"");
	puts_(l, ts);
	puts_(l, "\",\"level\":\"");
	puts_(l, level_names[lr->lr_level]);
	puts_(l, "\",\"event\":\"");
	puts_(l, lr->lr_event);
	put(l, "\"", 1);
	for (i = 0; i < lr->lr_nfields; i++) {
		const struct logfield *f = &lr->lr_fields[i];

		puts_(l, ",\"");
		puts_(l, f->lf_key);
		puts_(l, "\":");
		if (!f->lf_num)
			put(l, "\"", 1);
		put_escaped(l, lr->lr_values + f->lf_off, f->lf_len, 1);
		if (!f->lf_num)
			put(l, "\"", 1);
	}
	put(l, "}", 1);
}

/* Journal field names: the ones DESIGN.md promises, OAUTHLENS_* else. */
static void
journal_name(const char *key, char *buf, size_t len)
{
	static const char *const map[][2] = {
		{ "error", "OAUTH_ERROR" }, { "client_id", "OAUTH_CLIENT_ID" },
		{ "redirect_uri", "OAUTH_REDIRECT_URI" }, { "req", "REQ_ID" },
		{ "host", "HOST" }, { "lang", "OAUTH_LANG" },
		{ "hint", "OAUTH_HINT" }, { "doc", "OAUTH_DOC" },
	};
	size_t	i, o;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(key, map[i][0]) == 0) {
			snprintf(buf, len, "%s", map[i][1]);
			return;
		}
	o = (size_t)snprintf(buf, len, "OAUTHLENS_");
	for (i = 0; key[i] != '\0' && o + 1 < len; i++)
		buf[o++] = (key[i] >= 'a' && key[i] <= 'z') ? key[i] - 32 :
		    (key[i] >= '0' && key[i] <= '9') || (key[i] >= 'A' &&
		    key[i] <= 'Z') ? key[i] : '_';
	buf[o] = '\0';
}

static void
send_journal(const struct logrec *lr)
{
	struct iovec	iov[LOGREC_FIELDS + 4];
	char		names[LOGREC_FIELDS][48], prio[16], ev[64];
	char		*bufs[LOGREC_FIELDS];
	struct line	*msg;
	unsigned	i, n = 0;
	const char	*hint = NULL, *error = NULL;

	if ((msg = malloc(sizeof(*msg))) == NULL)
		return;
	msg->l_len = 0;
	/* MESSAGE: for an annotated error, the hint itself, in the chosen
	 * language; otherwise the record as text. */
	for (i = 0; i < lr->lr_nfields; i++) {
		if (strcmp(lr->lr_fields[i].lf_key, "hint") == 0)
			hint = lr->lr_values + lr->lr_fields[i].lf_off;
		if (strcmp(lr->lr_fields[i].lf_key, "error") == 0)
			error = lr->lr_values + lr->lr_fields[i].lf_off;
	}
	puts_(msg, "MESSAGE=");
	if (hint != NULL && error != NULL) {
		const char	*sep = "";

		for (i = 0; i < lr->lr_nfields; i++) {
			const struct logfield *f = &lr->lr_fields[i];

			if (strcmp(f->lf_key, "error") == 0 ||
			    strcmp(f->lf_key, "diagnosis") == 0 ||
			    strcmp(f->lf_key, "hint") == 0 ||
			    strcmp(f->lf_key, "doc") == 0) {
				puts_(msg, sep);
				put_escaped(msg, lr->lr_values + f->lf_off,
				    f->lf_len, 0);
				sep = strcmp(f->lf_key, "error") == 0 ? ": " :
				    " ";
			}
		}
	} else if (strcmp(lr->lr_event, "message") == 0 &&
	    lr->lr_nfields == 1)
		put_escaped(msg, lr->lr_values, lr->lr_fields[0].lf_len, 0);
	else
		render_fields(msg, lr, 0);
	iov[n].iov_base = msg->l_buf;
	iov[n++].iov_len = msg->l_len;
	snprintf(prio, sizeof(prio), "PRIORITY=%d",
	    level_priority[lr->lr_level]);
	iov[n].iov_base = prio;
	iov[n++].iov_len = strlen(prio);
	snprintf(ev, sizeof(ev), "OAUTHLENS_EVENT=%s", lr->lr_event);
	iov[n].iov_base = ev;
	iov[n++].iov_len = strlen(ev);
	for (i = 0; i < lr->lr_nfields; i++) {
		const struct logfield	*f = &lr->lr_fields[i];
		size_t			 nl;

		journal_name(f->lf_key, names[i], sizeof(names[i]));
		nl = strlen(names[i]);
		bufs[i] = malloc(nl + 1 + f->lf_len);
		if (bufs[i] == NULL)
			continue;
		memcpy(bufs[i], names[i], nl);
		bufs[i][nl] = '=';
		memcpy(bufs[i] + nl + 1, lr->lr_values + f->lf_off, f->lf_len);
		iov[n].iov_base = bufs[i];
		iov[n++].iov_len = nl + 1 + f->lf_len;
	}
	sd_journal_sendv(iov, (int)n);
	for (i = 0; i < lr->lr_nfields; i++)
		free(bufs[i]);
	free(msg);
}

void
logrec_end(struct logrec *lr)
{
	struct line	*l;
	char		 ts[40];
	size_t		 off = 0;
	ssize_t		 n;

	if (!lr->lr_on)
		return;
	if (log_journal) {
		send_journal(lr);
		return;
	}
	if ((l = malloc(sizeof(*l))) == NULL)
		return;
	l->l_len = 0;
	timestamp(ts, sizeof(ts));
	if (log_format == LOGF_JSON)
		render_json(l, lr, ts);
	else {
		puts_(l, ts);
		put(l, " ", 1);
		if (log_colour)
			puts_(l, level_colours[lr->lr_level]);
		puts_(l, level_names[lr->lr_level]);
		if (log_colour)
			puts_(l, "\033[0m");
		put(l, " ", 1);
		render_fields(l, lr, log_colour);
	}
	put(l, "\n", 1);
	while (off < l->l_len) {
		n = write(STDERR_FILENO, l->l_buf + off, l->l_len - off);
		if (n <= 0)
			/* a log sink failure must not stop us */
			break;
		off += (size_t)n;
	}
	free(l);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	struct logrec	lr;
	char		msg[2048];
	va_list		ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): started above */
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	logrec_begin(&lr, level, "message");
	logrec_str(&lr, "msg", msg);
	logrec_end(&lr);
}
