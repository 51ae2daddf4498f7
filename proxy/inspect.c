/*
 * Token-response body inspector.
 *
 * Bytes flow feed -> (inflate) -> one of three streaming parsers, each of
 * which only routes the text of four top-level fields into fixed-size
 * slots.  Nothing grows with the body except what yajl and expat buffer
 * internally, and that is capped by max_bytes on both the raw and the
 * decoded side, so a gzip bomb stops after max_bytes of output.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST
#include <expat.h>
#include <yajl/yajl_parse.h>
#include <zlib.h>

#include "inspect.h"

#define INSPECT_JSON_MAXDEPTH	32
#define INSPECT_KEYMAX		64	/* longer form keys never match */
#define INSPECT_ZCHUNK		4096	/* inflate output per step */
#define INSPECT_SLICE		65536	/* largest piece given a parser */

enum inspect_fmt {
	INSPECT_FMT_FORM,
	INSPECT_FMT_JSON,
	INSPECT_FMT_XML
};

enum inspect_coding {
	INSPECT_CODING_IDENTITY,
	INSPECT_CODING_GZIP,
	INSPECT_CODING_DEFLATE
};

/* The top-level fields of interest; order matches inspect_names[]. */
enum inspect_fid {
	INSPECT_F_ERROR,
	INSPECT_F_DESCRIPTION,
	INSPECT_F_URI,
	INSPECT_F_TOKEN,
	INSPECT_F_SCOPE,
	INSPECT_F_INTERVAL,
	INSPECT_F_COUNT
};

static const char *const inspect_names[INSPECT_F_COUNT] = {
	"error", "error_description", "error_uri", "access_token", "scope",
	"interval"
};

/* One value being collected: the latest occurrence of its key wins. */
struct inspect_field {
	char	*f_buf;		/* borrowed, f_cap + 1 bytes; NULL if cap 0 */
	size_t	 f_cap;
	size_t	 f_len;		/* bytes kept */
	size_t	 f_total;	/* bytes seen, kept or not */
	int	 f_seen;
	int	 f_nul;		/* a NUL byte was seen */
};

/* Streaming application/x-www-form-urlencoded parser. */
struct inspect_form {
	struct inspect_field	*fm_fields;	/* borrowed, fm_n of them */
	const char *const	*fm_names;	/* borrowed, fm_n of them */
	size_t			 fm_n;
	struct inspect_field	*fm_cur;	/* borrowed: value target */
	char			 fm_key[INSPECT_KEYMAX];
	size_t			 fm_keylen;	/* > INSPECT_KEYMAX: too long */
	int			 fm_invalue;
	int			 fm_pct;	/* hex digits owed after '%' */
	unsigned int		 fm_octet;
	int			 fm_bad;
};

struct inspect {
	enum inspect_fmt	 i_fmt;
	enum inspect_coding	 i_coding;
	size_t			 i_max;
	size_t			 i_raw;		/* body bytes fed */
	size_t			 i_decoded;	/* after content decoding */
	int			 i_failed;
	int			 i_finished;

	z_stream		 i_z;		/* valid if i_zinit */
	int			 i_zinit;
	int			 i_zend;	/* stream ended */
	unsigned char		 i_zhead[2];	/* deflate: sniffed header */
	size_t			 i_zheadlen;

	yajl_handle		 i_json;	/* owned, JSON only */
	int			 i_jdepth;
	struct inspect_field	*i_jcur;	/* borrowed: next value's */

	XML_Parser		 i_xml;		/* owned, XML only */
	int			 i_xdepth;
	struct inspect_field	*i_xcur;	/* borrowed: open child's */

	struct inspect_form	 i_form;

	struct inspect_field	 i_fields[INSPECT_F_COUNT];
	struct inspect_result	 i_res;		/* storage for i_fields */
};

/* ---- small helpers ---------------------------------------------------- */

static int
inspect_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Case-insensitive (ASCII) comparison of a slice with a literal. */
static int
inspect_ieq(const char *s, size_t len, const char *lit)
{
	size_t i;

	if (strlen(lit) != len)
		return 0;
	for (i = 0; i < len; i++)
		if (inspect_lower((unsigned char)s[i]) != lit[i])
			return 0;
	return 1;
}

static int
inspect_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Trim optional whitespace from both ends of *s[0..*len). */
static void
inspect_trim(const char **s, size_t *len)
{
	while (*len > 0 && inspect_ows((*s)[0])) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && inspect_ows((*s)[*len - 1]))
		(*len)--;
}

static int
inspect_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)inspect_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Length of p[0..len) without a UTF-8 sequence cut short at its end. */
static size_t
inspect_utf8_cut(const unsigned char *p, size_t len)
{
	size_t i, need;

	for (i = len; i > 0 && len - i < 4; i--) {
		if ((p[i - 1] & 0xc0) == 0x80)
			continue;
		if (p[i - 1] < 0x80)
			return len;
		need = p[i - 1] >= 0xf0 ? 4 : p[i - 1] >= 0xe0 ? 3 : 2;
		return len - (i - 1) >= need ? len : i - 1;
	}
	return len;
}

/* ---- fields ----------------------------------------------------------- */

static void
inspect_field_init(struct inspect_field *f, char *buf, size_t size)
{
	memset(f, 0, sizeof(*f));
	f->f_buf = buf;
	f->f_cap = size > 0 ? size - 1 : 0;
}

static void
inspect_field_begin(struct inspect_field *f)
{
	f->f_len = f->f_total = 0;
	f->f_nul = 0;
	f->f_seen = 1;
}

static void
inspect_field_add(struct inspect_field *f, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t n;

	if (len == 0)
		return;
	if (memchr(p, '\0', len) != NULL)
		f->f_nul = 1;
	n = f->f_cap - f->f_len < len ? f->f_cap - f->f_len : len;
	if (n > 0) {
		memcpy(f->f_buf + f->f_len, p, n);
		f->f_len += n;
	}
	f->f_total += len;
}

/* Length (1-4) of the well-formed UTF-8 sequence at p, or 0: no
 * overlongs, no surrogates, nothing above U+10FFFF. */
static size_t
inspect_utf8_seq(const unsigned char *p, size_t len)
{
	size_t		need, i;
	unsigned	lo = 0x80, hi = 0xbf;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		need = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (len < need || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return need;
}

/* NUL-terminate, dropping a character split by truncation; bytes that
 * are not UTF-8 become '?' so that every result string is text. */
static void
inspect_field_end(struct inspect_field *f)
{
	unsigned char	*p = (unsigned char *)f->f_buf;
	size_t		 i, n;

	if (f->f_buf == NULL)
		return;
	if (f->f_total > f->f_len)
		f->f_len = inspect_utf8_cut(p, f->f_len);
	for (i = 0; i < f->f_len; i += n)
		if ((n = inspect_utf8_seq(p + i, f->f_len - i)) == 0) {
			p[i] = '?';
			n = 1;
		}
	f->f_buf[f->f_len] = '\0';
}

static struct inspect_field *
inspect_lookup(struct inspect_field *fields, const char *const *names,
    size_t n, const void *key, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(names[i]) == len && memcmp(names[i], key, len) == 0)
			return &fields[i];
	return NULL;
}

/* ---- form-urlencoded -------------------------------------------------- */

static void
inspect_form_init(struct inspect_form *fm, struct inspect_field *fields,
    const char *const *names, size_t n)
{
	memset(fm, 0, sizeof(*fm));
	fm->fm_fields = fields;
	fm->fm_names = names;
	fm->fm_n = n;
}

/* One decoded byte of the current key or value. */
static void
inspect_form_out(struct inspect_form *fm, unsigned char c)
{
	if (fm->fm_invalue) {
		if (fm->fm_cur != NULL)
			inspect_field_add(fm->fm_cur, &c, 1);
	} else if (fm->fm_keylen < INSPECT_KEYMAX)
		fm->fm_key[fm->fm_keylen++] = (char)c;
	else
		fm->fm_keylen = INSPECT_KEYMAX + 1;
}

/* The key is complete: find where its value goes. */
static void
inspect_form_key(struct inspect_form *fm)
{
	fm->fm_cur = NULL;
	if (fm->fm_keylen <= INSPECT_KEYMAX)
		fm->fm_cur = inspect_lookup(fm->fm_fields, fm->fm_names,
		    fm->fm_n, fm->fm_key, fm->fm_keylen);
	if (fm->fm_cur != NULL)
		inspect_field_begin(fm->fm_cur);
	fm->fm_invalue = 1;
}

static void
inspect_form_endpair(struct inspect_form *fm)
{
	if (!fm->fm_invalue && fm->fm_keylen > 0)
		inspect_form_key(fm);	/* "key" alone: empty value */
	fm->fm_invalue = 0;
	fm->fm_keylen = 0;
	fm->fm_cur = NULL;
}

static int
inspect_form_feed(struct inspect_form *fm, const unsigned char *p,
    size_t len)
{
	size_t i;
	int h;

	for (i = 0; i < len && !fm->fm_bad; i++) {
		if (fm->fm_pct > 0) {
			if ((h = inspect_hexval(p[i])) == -1) {
				fm->fm_bad = 1;
				break;
			}
			fm->fm_octet = fm->fm_octet << 4 | (unsigned int)h;
			if (--fm->fm_pct == 0)
				inspect_form_out(fm,
				    (unsigned char)fm->fm_octet);
			continue;
		}
		switch (p[i]) {
		case '%':
			fm->fm_pct = 2;
			fm->fm_octet = 0;
			break;
		case '+':
			inspect_form_out(fm, ' ');
			break;
		case '&':
			inspect_form_endpair(fm);
			break;
		case '=':
			if (!fm->fm_invalue)
				inspect_form_key(fm);
			else
				inspect_form_out(fm, '=');
			break;
		default:
			inspect_form_out(fm, p[i]);
			break;
		}
	}
	return fm->fm_bad ? -1 : 0;
}

static int
inspect_form_finish(struct inspect_form *fm)
{
	if (fm->fm_bad || fm->fm_pct > 0)
		return -1;
	inspect_form_endpair(fm);
	return 0;
}

int
inspect_form_get(const char *body, size_t len, const char *key, char *out,
    size_t outlen)
{
	struct inspect_form fm;
	struct inspect_field f;

	if (outlen == 0)
		return -1;
	inspect_field_init(&f, out, outlen);
	inspect_form_init(&fm, &f, &key, 1);
	if (inspect_form_feed(&fm, (const unsigned char *)body, len) == -1 ||
	    inspect_form_finish(&fm) == -1)
		return -1;
	if (!f.f_seen || f.f_nul || f.f_total > f.f_cap || f.f_len > INT_MAX)
		return -1;
	inspect_field_end(&f);		/* text, as the inspector's fields */
	return (int)f.f_len;
}

/* ---- JSON (yajl event API) -------------------------------------------- */

/* Any value at all: it consumes the pending top-level key. */
static int
inspect_json_value(void *ctx)
{
	struct inspect *in = ctx;

	in->i_jcur = NULL;
	return 1;
}

static int
inspect_json_bool(void *ctx, int v)
{
	return inspect_json_value(ctx);
}

static int
inspect_json_number(void *ctx, const char *s, size_t len)
{
	struct inspect *in = ctx;

	/* Device flow: "interval" is a number in JSON bodies. */
	if (in->i_jcur == &in->i_fields[INSPECT_F_INTERVAL]) {
		inspect_field_begin(in->i_jcur);
		inspect_field_add(in->i_jcur, (const unsigned char *)s, len);
	}
	return inspect_json_value(ctx);
}

static int
inspect_json_string(void *ctx, const unsigned char *s, size_t len)
{
	struct inspect *in = ctx;

	if (in->i_jcur != NULL) {
		inspect_field_begin(in->i_jcur);
		inspect_field_add(in->i_jcur, s, len);
	}
	return inspect_json_value(ctx);
}

static int
inspect_json_start(void *ctx)
{
	struct inspect *in = ctx;

	inspect_json_value(ctx);
	return ++in->i_jdepth <= INSPECT_JSON_MAXDEPTH;
}

static int
inspect_json_end(void *ctx)
{
	struct inspect *in = ctx;

	in->i_jdepth--;
	return 1;
}

/* Keys at depth 1 are the root object's: only they count. */
static int
inspect_json_key(void *ctx, const unsigned char *key, size_t len)
{
	struct inspect *in = ctx;

	in->i_jcur = NULL;
	if (in->i_jdepth == 1)
		in->i_jcur = inspect_lookup(in->i_fields, inspect_names,
		    INSPECT_F_COUNT, key, len);
	return 1;
}

static const yajl_callbacks inspect_json_cb = {
	.yajl_null = inspect_json_value,
	.yajl_boolean = inspect_json_bool,
	.yajl_number = inspect_json_number,	/* no range errors */
	.yajl_string = inspect_json_string,
	.yajl_start_map = inspect_json_start,
	.yajl_map_key = inspect_json_key,
	.yajl_end_map = inspect_json_end,
	.yajl_start_array = inspect_json_start,
	.yajl_end_array = inspect_json_end,
};

/* ---- XML (expat) ------------------------------------------------------ */

/* Depth 0 is outside the root, 1 inside it, 2 inside one of its children. */
static void XMLCALL
inspect_xml_start(void *ctx, const XML_Char *name, const XML_Char **attrs)
{
	struct inspect *in = ctx;

	if (in->i_xdepth == 1) {
		in->i_xcur = inspect_lookup(in->i_fields, inspect_names,
		    INSPECT_F_COUNT, name, strlen(name));
		if (in->i_xcur != NULL)
			inspect_field_begin(in->i_xcur);
	}
	in->i_xdepth++;
}

static void XMLCALL
inspect_xml_end(void *ctx, const XML_Char *name)
{
	struct inspect *in = ctx;

	if (--in->i_xdepth == 1)
		in->i_xcur = NULL;
}

static void XMLCALL
inspect_xml_text(void *ctx, const XML_Char *s, int len)
{
	struct inspect *in = ctx;

	if (in->i_xdepth == 2 && in->i_xcur != NULL && len > 0)
		inspect_field_add(in->i_xcur, s, (size_t)len);
}

/* No DTDs at all: that rules out entity expansion (billion laughs). */
static void XMLCALL
inspect_xml_doctype(void *ctx, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	struct inspect *in = ctx;

	XML_StopParser(in->i_xml, XML_FALSE);
}

static void XMLCALL
inspect_xml_entity(void *ctx, const XML_Char *name, int is_param,
    const XML_Char *value, int value_len, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	struct inspect *in = ctx;

	XML_StopParser(in->i_xml, XML_FALSE);
}

static int
inspect_xml_init(struct inspect *in)
{
	if ((in->i_xml = XML_ParserCreate(NULL)) == NULL)
		return -1;
	XML_SetUserData(in->i_xml, in);
	XML_SetElementHandler(in->i_xml, inspect_xml_start, inspect_xml_end);
	XML_SetCharacterDataHandler(in->i_xml, inspect_xml_text);
	XML_SetStartDoctypeDeclHandler(in->i_xml, inspect_xml_doctype);
	XML_SetEntityDeclHandler(in->i_xml, inspect_xml_entity);
	if (!XML_SetParamEntityParsing(in->i_xml,
	    XML_PARAM_ENTITY_PARSING_NEVER))
		return -1;
	return 0;
}

/* ---- decoded bytes to the parser -------------------------------------- */

static int
inspect_parse(struct inspect *in, const unsigned char *p, size_t len)
{
	size_t n;

	if (len > in->i_max - in->i_decoded)
		return -1;
	in->i_decoded += len;
	for (; len > 0; p += n, len -= n) {
		n = len < INSPECT_SLICE ? len : INSPECT_SLICE;
		switch (in->i_fmt) {
		case INSPECT_FMT_JSON:
			if (yajl_parse(in->i_json, p, n) != yajl_status_ok)
				return -1;
			break;
		case INSPECT_FMT_XML:
			if (XML_Parse(in->i_xml, (const char *)p, (int)n,
			    XML_FALSE) != XML_STATUS_OK)
				return -1;
			break;
		case INSPECT_FMT_FORM:
			if (inspect_form_feed(&in->i_form, p, n) == -1)
				return -1;
			break;
		}
	}
	return 0;
}

/* ---- content decoding ------------------------------------------------- */

/* RFC 1950 header: CM 8, window <= 32K, FCHECK makes it a multiple of 31. */
static int
inspect_zlib_header(const unsigned char h[2])
{
	return (h[0] & 0x0f) == 8 && (h[0] >> 4) <= 7 &&
	    ((unsigned int)h[0] << 8 | h[1]) % 31 == 0;
}

static int
inspect_inflate(struct inspect *in, const unsigned char *p, size_t len)
{
	unsigned char out[INSPECT_ZCHUNK];
	z_stream *z = &in->i_z;
	size_t chunk, used;
	int rc;

	while (len > 0) {
		if (in->i_zend) {
			/* gzip may hold several members; deflate ends once */
			if (in->i_coding != INSPECT_CODING_GZIP ||
			    inflateReset(z) != Z_OK)
				return -1;
			in->i_zend = 0;
		}
		chunk = len < INSPECT_SLICE ? len : INSPECT_SLICE;
		z->next_in = p;
		z->avail_in = (uInt)chunk;
		do {
			z->next_out = out;
			z->avail_out = sizeof(out);
			rc = inflate(z, Z_NO_FLUSH);
			if (rc != Z_OK && rc != Z_STREAM_END &&
			    rc != Z_BUF_ERROR)
				return -1;
			if (inspect_parse(in, out,
			    sizeof(out) - z->avail_out) == -1)
				return -1;
			if (rc == Z_STREAM_END)
				in->i_zend = 1;
		} while (rc == Z_OK && (z->avail_in > 0 || z->avail_out == 0));
		if ((used = chunk - z->avail_in) == 0 && !in->i_zend)
			return -1;	/* no progress: cannot happen */
		p += used;
		len -= used;
	}
	return 0;
}

/*
 * Start zlib once it can be: "deflate" is zlib-wrapped or raw, told apart
 * by its first two bytes, which are held back until both are in.
 */
static int
inspect_zstart(struct inspect *in, const unsigned char **p, size_t *len)
{
	int wbits = 15 + 16;		/* gzip only */

	if (in->i_coding == INSPECT_CODING_DEFLATE) {
		while (*len > 0 && in->i_zheadlen < sizeof(in->i_zhead)) {
			in->i_zhead[in->i_zheadlen++] = **p;
			(*p)++;
			(*len)--;
		}
		if (in->i_zheadlen < sizeof(in->i_zhead))
			return 0;
		wbits = inspect_zlib_header(in->i_zhead) ? 15 : -15;
	}
	if (inflateInit2(&in->i_z, wbits) != Z_OK)
		return -1;
	in->i_zinit = 1;
	if (in->i_coding == INSPECT_CODING_DEFLATE)
		return inspect_inflate(in, in->i_zhead, sizeof(in->i_zhead));
	return 0;
}

/* ---- public API ------------------------------------------------------- */

static enum inspect_fmt
inspect_format(const char *ct, size_t len)
{
	const char *type, *sub;
	size_t i = 0, tlen, slen;

	if (ct == NULL)
		return INSPECT_FMT_FORM;
	while (i < len && inspect_ows(ct[i]))
		i++;
	for (type = ct + i; i < len && ct[i] != '/' && ct[i] != ';'; i++)
		;
	if (i == len || ct[i] != '/')
		return INSPECT_FMT_FORM;
	tlen = (size_t)(ct + i - type);
	for (sub = ct + ++i; i < len && ct[i] != ';'; i++)
		;
	slen = (size_t)(ct + i - sub);
	inspect_trim(&type, &tlen);
	inspect_trim(&sub, &slen);
	if ((inspect_ieq(type, tlen, "application") &&
	    inspect_ieq(sub, slen, "json")) ||
	    (slen > 5 && inspect_ieq(sub + slen - 5, 5, "+json")))
		return INSPECT_FMT_JSON;
	if ((inspect_ieq(type, tlen, "application") ||
	    inspect_ieq(type, tlen, "text")) && inspect_ieq(sub, slen, "xml"))
		return INSPECT_FMT_XML;
	return INSPECT_FMT_FORM;
}

/* One coding out of a Content-Encoding list; identity entries are no-ops. */
static int
inspect_coding(const char *ce, size_t len, enum inspect_coding *coding)
{
	const char *s;
	size_t i = 0, n;

	*coding = INSPECT_CODING_IDENTITY;
	while (ce != NULL && i < len) {
		for (s = ce + i; i < len && ce[i] != ','; i++)
			;
		n = (size_t)(ce + i - s);
		if (i < len)
			i++;
		inspect_trim(&s, &n);
		if (n == 0 || inspect_ieq(s, n, "identity"))
			continue;
		if (*coding != INSPECT_CODING_IDENTITY)
			return -1;	/* stacked codings */
		if (inspect_ieq(s, n, "gzip") || inspect_ieq(s, n, "x-gzip"))
			*coding = INSPECT_CODING_GZIP;
		else if (inspect_ieq(s, n, "deflate"))
			*coding = INSPECT_CODING_DEFLATE;
		else
			return -1;
	}
	return 0;
}

struct inspect *
inspect_new(const char *content_type, size_t ct_len,
    const char *content_encoding, size_t ce_len, size_t max_bytes)
{
	struct inspect *in;
	struct inspect_result *r;

	if ((in = calloc(1, sizeof(*in))) == NULL)
		return NULL;
	in->i_max = max_bytes;
	in->i_fmt = inspect_format(content_type, ct_len);
	if (inspect_coding(content_encoding, ce_len, &in->i_coding) == -1)
		goto fail;
	r = &in->i_res;
	inspect_field_init(&in->i_fields[INSPECT_F_ERROR], r->error,
	    sizeof(r->error));
	inspect_field_init(&in->i_fields[INSPECT_F_DESCRIPTION],
	    r->error_description, sizeof(r->error_description));
	inspect_field_init(&in->i_fields[INSPECT_F_URI], r->error_uri,
	    sizeof(r->error_uri));
	inspect_field_init(&in->i_fields[INSPECT_F_TOKEN], NULL, 0);
	inspect_field_init(&in->i_fields[INSPECT_F_SCOPE], r->scope,
	    sizeof(r->scope));
	inspect_field_init(&in->i_fields[INSPECT_F_INTERVAL], r->interval,
	    sizeof(r->interval));
	switch (in->i_fmt) {
	case INSPECT_FMT_JSON:
		if ((in->i_json = yajl_alloc(&inspect_json_cb, NULL,
		    in)) == NULL)
			goto fail;
		break;
	case INSPECT_FMT_XML:
		if (inspect_xml_init(in) == -1)
			goto fail;
		break;
	case INSPECT_FMT_FORM:
		inspect_form_init(&in->i_form, in->i_fields, inspect_names,
		    INSPECT_F_COUNT);
		break;
	}
	return in;
fail:
	inspect_free(in);
	return NULL;
}

int
inspect_feed(struct inspect *in, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	if (in->i_failed || in->i_finished)
		return -1;
	if (len > in->i_max - in->i_raw)
		goto fail;
	in->i_raw += len;
	if (in->i_coding == INSPECT_CODING_IDENTITY) {
		if (inspect_parse(in, p, len) == -1)
			goto fail;
		return 0;
	}
	if (!in->i_zinit && inspect_zstart(in, &p, &len) == -1)
		goto fail;
	if (in->i_zinit && inspect_inflate(in, p, len) == -1)
		goto fail;
	return 0;
fail:
	in->i_failed = 1;
	return -1;
}

int
inspect_finish(struct inspect *in, struct inspect_result *res)
{
	size_t i;

	memset(res, 0, sizeof(*res));
	if (in->i_failed || in->i_finished)
		goto fail;
	in->i_finished = 1;
	if (in->i_coding != INSPECT_CODING_IDENTITY && !in->i_zend)
		goto fail;	/* truncated stream */
	switch (in->i_fmt) {
	case INSPECT_FMT_JSON:
		if (yajl_complete_parse(in->i_json) != yajl_status_ok)
			goto fail;
		break;
	case INSPECT_FMT_XML:
		if (XML_Parse(in->i_xml, "", 0, XML_TRUE) != XML_STATUS_OK)
			goto fail;
		break;
	case INSPECT_FMT_FORM:
		if (inspect_form_finish(&in->i_form) == -1)
			goto fail;
		break;
	}
	for (i = 0; i < INSPECT_F_COUNT; i++) {
		if (in->i_fields[i].f_nul)
			goto fail;
		inspect_field_end(&in->i_fields[i]);
	}
	*res = in->i_res;
	res->has_error = in->i_fields[INSPECT_F_ERROR].f_total > 0;
	res->has_access_token = in->i_fields[INSPECT_F_TOKEN].f_total > 0;
	return 0;
fail:
	in->i_failed = 1;
	return -1;
}

void
inspect_free(struct inspect *in)
{
	if (in == NULL)
		return;
	if (in->i_zinit)
		inflateEnd(&in->i_z);
	if (in->i_json != NULL)
		yajl_free(in->i_json);
	if (in->i_xml != NULL)
		XML_ParserFree(in->i_xml);
	free(in);
}
