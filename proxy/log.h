/*
 * Logging: one record per line on stderr, as text (`ts level event k=v`)
 * or JSON lines. Records are built field by field into a bounded buffer
 * and written with one write(2). Values that may carry secrets go through
 * the redacting helpers; nothing here ever prints a query value, cookie or
 * credential verbatim.
 */
#ifndef OAUTHLENS_LOG_H
#define OAUTHLENS_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LL_ERROR, LL_WARN, LL_INFO, LL_DEBUG };
enum log_format { LOGF_TEXT, LOGF_JSON };
enum log_target { LOGT_AUTO, LOGT_STDERR, LOGT_JOURNAL };

#define LOGREC_VALUES	6144
#define LOGREC_FIELDS	24

struct logfield {
	const char	*lf_key;	/* a string literal */
	unsigned	 lf_off, lf_len;
	unsigned	 lf_num;	/* a number: unquoted in JSON */
};

/* A record being built; fields are rendered when it ends. */
struct logrec {
	enum log_level	 lr_level;
	int		 lr_on;		/* level enabled: fields are kept */
	const char	*lr_event;
	unsigned	 lr_nfields;
	size_t		 lr_vlen;
	struct logfield	 lr_fields[LOGREC_FIELDS];
	char		 lr_values[LOGREC_VALUES];
};

/* Set the level, format and destination of every later record (auto:
 * the journal when stderr is systemd's journal stream, else stderr). */
void	 log_setup(enum log_level level, enum log_format format,
	    enum log_target target);

/* Whether records of this level are written. */
int	 log_enabled(enum log_level level);

/* Parse "error|warn|info|debug" / "text|json"; 0 or -1. */
int	 log_level_parse(const char *s, enum log_level *out);
int	 log_format_parse(const char *s, enum log_format *out);
int	 log_target_parse(const char *s, enum log_target *out);

/* Start a record with timestamp, level and event name. */
void	 logrec_begin(struct logrec *lr, enum log_level level,
	    const char *event);

/* Add a field; the value is quoted and escaped as the format needs,
 * invalid UTF-8 replaced. */
void	 logrec_str(struct logrec *lr, const char *key, const char *val);
void	 logrec_strn(struct logrec *lr, const char *key, const char *val,
	    size_t len);
void	 logrec_int(struct logrec *lr, const char *key, long long val);

/* Add a request target or URL as redact_url() shows it: no userinfo, no
 * fragment, no query value but those of the harmless keys. */
void	 logrec_target(struct logrec *lr, const char *key, const char *target,
	    size_t len);

/* Finish the record and write it. */
void	 logrec_end(struct logrec *lr);

/* One-field convenience records: event "message" with a msg field. */
void	 log_msg(enum log_level level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#define log_warnx(...)	log_msg(LL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LL_DEBUG, __VA_ARGS__)
#define log_errorx(...)	log_msg(LL_ERROR, __VA_ARGS__)

#endif
