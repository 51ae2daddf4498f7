#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* Set once at start-up (and on reload) from the main loop only. */
static enum log_level	log_level = LL_INFO;
static enum log_format	log_format = LOGF_TEXT;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
log_setup(enum log_level level, enum log_format format)
{
	log_level = level;
	log_format = format;
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

static void
put(struct logrec *lr, const char *p, size_t n)
{
	/* Keep room for the closing "}\n"; truncate, never overflow. */
	if (n > LOGREC_MAX - 4 - lr->lr_len)
		n = LOGREC_MAX - 4 - lr->lr_len;
	memcpy(lr->lr_buf + lr->lr_len, p, n);
	lr->lr_len += n;
}

static void
putc1(struct logrec *lr, char c)
{
	put(lr, &c, 1);
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

/* Write val escaped for the current format (without quotes). */
static void
put_escaped(struct logrec *lr, const char *val, size_t len)
{
	const unsigned char	*p = (const unsigned char *)val;
	size_t			 i = 0, n;
	char			 esc[8];

	while (i < len) {
		if (p[i] == '"' || p[i] == '\\') {
			putc1(lr, '\\');
			putc1(lr, (char)p[i++]);
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			if (log_format == LOGF_JSON)
				snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
			else
				snprintf(esc, sizeof(esc), "\\x%02x", p[i]);
			put(lr, esc, strlen(esc));
			i++;
		} else if ((n = utf8_len(p + i, len - i)) == 0) {
			put(lr, "\xef\xbf\xbd", 3);	/* U+FFFD */
			i++;
		} else {
			put(lr, (const char *)p + i, n);
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

static void
put_key(struct logrec *lr, const char *key)
{
	if (log_format == LOGF_JSON) {
		put(lr, ",\"", 2);
		put(lr, key, strlen(key));
		put(lr, "\":", 2);
	} else {
		putc1(lr, ' ');
		put(lr, key, strlen(key));
		putc1(lr, '=');
	}
}

void
logrec_begin(struct logrec *lr, enum log_level level, const char *event)
{
	struct timespec	ts;
	struct tm	tm;
	char		tbuf[40];

	lr->lr_level = level;
	lr->lr_len = 0;
	lr->lr_on = log_enabled(level);
	if (!lr->lr_on)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(tbuf, sizeof(tbuf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	if (log_format == LOGF_JSON) {
		put(lr, "{\"ts\":\"", 7);
		put(lr, tbuf, strlen(tbuf));
		put(lr, "\",\"level\":\"", 11);
		put(lr, level_names[level], strlen(level_names[level]));
		put(lr, "\",\"event\":\"", 11);
		put(lr, event, strlen(event));
		putc1(lr, '"');
	} else {
		put(lr, tbuf, strlen(tbuf));
		putc1(lr, ' ');
		put(lr, level_names[level], strlen(level_names[level]));
		putc1(lr, ' ');
		put(lr, event, strlen(event));
	}
}

void
logrec_strn(struct logrec *lr, const char *key, const char *val, size_t len)
{
	int	quote;

	if (!lr->lr_on)
		return;
	put_key(lr, key);
	quote = log_format == LOGF_JSON || needs_quotes(val, len);
	if (quote)
		putc1(lr, '"');
	put_escaped(lr, val, len);
	if (quote)
		putc1(lr, '"');
}

void
logrec_str(struct logrec *lr, const char *key, const char *val)
{
	if (val == NULL)
		val = "";
	logrec_strn(lr, key, val, strlen(val));
}

void
logrec_int(struct logrec *lr, const char *key, long long val)
{
	char	buf[24];

	if (!lr->lr_on)
		return;
	put_key(lr, key);
	snprintf(buf, sizeof(buf), "%lld", val);
	put(lr, buf, strlen(buf));
}

int
log_secret_key(const char *key, size_t len)
{
	static const char *const secrets[] = {
		"code", "client_secret", "access_token", "refresh_token",
		"id_token", "token", "password", "device_code", "secret",
		"api_key", "apikey", "key", "sig", "signature", "auth",
		"authorization", "session", "jwt", "assertion",
		"client_assertion", "code_verifier", NULL
	};
	size_t	i;

	for (i = 0; secrets[i] != NULL; i++)
		if (util_slice_ieq(key, len, secrets[i]))
			return 1;
	return 0;
}

void
logrec_target(struct logrec *lr, const char *key, const char *target,
    size_t len)
{
	char		 buf[2048];
	const char	*q, *p, *end = target + len;
	size_t		 o = 0;

	if (!lr->lr_on)
		return;
	q = memchr(target, '?', len);
	if (q == NULL) {
		logrec_strn(lr, key, target, len);
		return;
	}
	/* Copy the path, then each parameter, masking secret values. */
#define EMIT(ptr, n) do {						\
	size_t n_ = (n);						\
	if (n_ > sizeof(buf) - o)					\
		n_ = sizeof(buf) - o;					\
	memcpy(buf + o, (ptr), n_);					\
	o += n_;							\
} while (0)
	EMIT(target, (size_t)(q - target) + 1);
	for (p = q + 1; p < end;) {
		const char	*amp, *eq;

		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq != NULL && log_secret_key(p, (size_t)(eq - p))) {
			EMIT(p, (size_t)(eq - p) + 1);
			EMIT("***", 3);
		} else
			EMIT(p, (size_t)(amp - p));
		if (amp < end)
			EMIT("&", 1);
		p = amp + 1;
	}
#undef EMIT
	logrec_strn(lr, key, buf, o);
}

void
logrec_end(struct logrec *lr)
{
	ssize_t	n;
	size_t	off = 0;

	if (!lr->lr_on)
		return;
	if (log_format == LOGF_JSON)
		lr->lr_buf[lr->lr_len++] = '}';
	lr->lr_buf[lr->lr_len++] = '\n';
	while (off < lr->lr_len) {
		n = write(STDERR_FILENO, lr->lr_buf + off, lr->lr_len - off);
		if (n <= 0)
			break;		/* a log sink failure must not stop us */
		off += (size_t)n;
	}
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
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	logrec_begin(&lr, level, "message");
	logrec_str(&lr, "msg", msg);
	logrec_end(&lr);
}
