#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <http_parser.h>

#include "http1.h"

#define VIA_VALUE	"1.1 oauthlens"

/*
 * Chunked bodies (RFC 9112 section 7.1) are decoded here, not by
 * http-parser: Debian's 2.9 build is lenient (any byte up to CR in a chunk
 * extension, any two bytes after chunk data, trailers with a bare LF,
 * folding or a space in the name), and a next hop that reads the same
 * bytes with its own grammar (Go ends a chunk line at a bare LF) finds a
 * second, smuggled message in them. One strict grammar, and the transport
 * writes what it decoded as clean chunks: extensions are parsed to the
 * grammar and dropped; trailer fields are parsed to the grammar and
 * passed, rewritten as "name: value", unless they are framing, routing or
 * hop-by-hop fields (RFC 9110 section 6.5.1: those are not for trailers,
 * and a recipient may discard any). No byte of the sender's framing
 * reaches the next hop.
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-ext    = *( BWS ";" BWS name [ BWS "=" BWS ( token /
 *                  quoted-string ) ] )
 */
#define CK_MAX_LINE	4096		/* chunk-size and extensions */
#define CK_MAX_TRAILERS	HTTP1_MAX_HEAD	/* the whole trailer section */

enum ck_state {
	CK_SIZE0,	/* the first hex digit */
	CK_SIZE,	/* hex digits, BWS, ';' or CR */
	CK_BWS,		/* BWS that must end in ';' */
	CK_NAME0,	/* BWS after ';', then an extension name */
	CK_NAME,	/* name characters, BWS, '=', ';' or CR */
	CK_NAME_BWS,	/* BWS after a name: '=' or ';' */
	CK_VAL0,	/* BWS after '=', then a token or a quoted string */
	CK_TOKEN,	/* token characters, BWS, ';' or CR */
	CK_QUOTED,	/* inside a quoted string */
	CK_QPAIR,	/* after a backslash in a quoted string */
	CK_AFTER,	/* after a quoted string: BWS, ';' or CR */
	CK_LINE_LF,	/* the LF of a chunk line */
	CK_DATA,	/* ck_left bytes of data */
	CK_DATA_CR,	/* the CRLF after chunk data */
	CK_DATA_LF,
	CK_TR_LINE,	/* a trailer field's name, or the final CRLF */
	CK_TR_NAME,
	CK_TR_VALUE,
	CK_TR_LF,
	CK_END_LF,
	CK_DONE,
	CK_ERROR
};

struct ck {
	enum ck_state	 ck_state;
	uint64_t	 ck_size;	/* the size being read */
	uint64_t	 ck_left;	/* data bytes left in this chunk */
	size_t		 ck_line;	/* bytes of this chunk line */
	size_t		 ck_trailers;	/* bytes of the trailer section */
	struct evbuffer	*ck_tr;		/* owned: its bytes, when any */
	const char	*ck_error;	/* static: why it failed */
};

struct http1_parser {
	http_parser		 hp_p;
	enum http1_kind		 hp_kind;
	struct http1_head	*hp_head;	/* during http1_parse_head */
	int			 hp_in_value;	/* last callback was a value */
	int			 hp_too_many;
	int			 hp_headers_done;
	int			 hp_done;	/* message complete */
	int			 hp_skip_body;	/* response to HEAD */
	http1_body_cb		 hp_cb;
	void			*hp_cbarg;
	int			 hp_chunked;	/* body read by hp_ck */
	struct ck		 hp_ck;
};

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct http1_parser	*hp = p->data;

	if (hp->hp_head->h_target.s_ptr == NULL)
		hp->hp_head->h_target.s_ptr = at;
	hp->hp_head->h_target.s_len += len;
	return 0;
}

static int
on_status(http_parser *p, const char *at, size_t len)
{
	struct http1_parser	*hp = p->data;

	if (hp->hp_head->h_reason.s_ptr == NULL)
		hp->hp_head->h_reason.s_ptr = at;
	hp->hp_head->h_reason.s_len += len;
	return 0;
}

/* The head is contiguous and obs-fold was refused before parsing, so a
 * name and a value each arrive in a single callback. */
static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http1_parser	*hp = p->data;
	struct http1_head	*h = hp->hp_head;

	if (h == NULL)
		return 0;	/* a trailer field: relayed as it came */
	if (h->h_nhdrs == HTTP1_MAX_HEADERS) {
		hp->hp_too_many = 1;
		return -1;
	}
	h->h_hdrs[h->h_nhdrs].hd_name.s_ptr = at;
	h->h_hdrs[h->h_nhdrs].hd_name.s_len = len;
	h->h_hdrs[h->h_nhdrs].hd_value.s_ptr = at + len;
	h->h_hdrs[h->h_nhdrs].hd_value.s_len = 0;
	h->h_hdrs[h->h_nhdrs].hd_hop = 0;
	h->h_hdrs[h->h_nhdrs].hd_field = HF_UNKNOWN;
	h->h_nhdrs++;
	hp->hp_in_value = 0;
	return 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http1_parser	*hp = p->data;
	struct http1_hdr	*hd;

	if (hp->hp_head == NULL)
		return 0;	/* a trailer field */
	if (hp->hp_head->h_nhdrs == 0)
		return -1;
	hd = &hp->hp_head->h_hdrs[hp->hp_head->h_nhdrs - 1];
	hd->hd_value.s_ptr = at;
	hd->hd_value.s_len = len;
	util_trim_ows(&hd->hd_value.s_ptr, &hd->hd_value.s_len);
	hp->hp_in_value = 1;
	return 0;
}

static int
on_headers_complete(http_parser *p)
{
	struct http1_parser	*hp = p->data;

	hp->hp_headers_done = 1;
	/* Responses to HEAD, and 1xx, 204 and 304 responses, have no body
	 * whatever their fields say (RFC 9112 6.3). */
	if (hp->hp_kind == HTTP1_RESPONSE && (p->status_code / 100 == 1 ||
	    p->status_code == 204 || p->status_code == 304))
		return 1;
	return hp->hp_skip_body ? 1 : 0;
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
	struct http1_parser	*hp = p->data;

	if (hp->hp_cb != NULL)
		hp->hp_cb(hp->hp_cbarg, at, len);
	return 0;
}

static int
on_message_complete(http_parser *p)
{
	struct http1_parser	*hp = p->data;

	hp->hp_done = 1;
	/* Stop exactly at the message boundary: pipelined bytes stay. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_url = on_url,
	.on_status = on_status,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

struct http1_parser *
http1_parser_new(enum http1_kind kind)
{
	struct http1_parser	*hp = calloc(1, sizeof(*hp));

	if (hp == NULL)
		return NULL;
	hp->hp_kind = kind;
	return hp;
}

void
http1_parser_free(struct http1_parser *hp)
{
	if (hp == NULL)
		return;
	if (hp->hp_ck.ck_tr != NULL)
		evbuffer_free(hp->hp_ck.ck_tr);
	free(hp);
}

static void
set_error(struct http1_error *err, int status, const char *fmt,
    const char *arg)
{
	err->he_status = status;
	snprintf(err->he_reason, sizeof(err->he_reason), fmt, arg);
}

int
http1_head_end(const char *buf, size_t len, size_t *scan, size_t *headlen,
    struct http1_error *err)
{
	const char	*nl;
	size_t		 i = *scan;

	while (i < len && (nl = memchr(buf + i, '\n', len - i)) != NULL) {
		i = (size_t)(nl - buf);
		if (i == 0 || buf[i - 1] != '\r') {
			set_error(err, 400, "bare LF in the message head%s",
			    " (lines must end with CRLF)");
			return -1;
		}
		/* "\r\n\r\n" ends the head; a leading CRLF does not. */
		if (i >= 3 && buf[i - 2] == '\n') {
			if (i + 1 > HTTP1_MAX_HEAD)
				break;
			*headlen = i + 1;
			return 1;
		}
		i++;
	}
	*scan = i < len ? i : len;
	if (len >= HTTP1_MAX_HEAD) {
		set_error(err, 431, "the header block is larger than %s",
		    "64 KiB");
		return -1;
	}
	return 0;
}

/* ASCII lower case of any byte (exact: only 'A'..'Z' change). */
static inline unsigned char
lc(unsigned char ch)
{
	return (unsigned char)(ch - 'A') < 26 ? ch | 0x20 : ch;
}

/*
 * Eight (four) bytes at a time: bit 5 of each byte of lit that is a
 * letter, the others 0. lit's bytes are ASCII, so no sum carries into
 * the next byte: (x + 0x1f) has bit 7 from 'a' up, (x + 0x05) from '{'
 * up.
 */
static inline uint64_t
letters64(uint64_t x)
{
	const uint64_t	ones = 0x0101010101010101ULL;

	return ((x + 0x1f * ones) & ~(x + 0x05 * ones) & 0x80 * ones) >> 2;
}

static inline uint32_t
letters32(uint32_t x)
{
	const uint32_t	ones = 0x01010101U;

	return ((x + 0x1f * ones) & ~(x + 0x05 * ones) & 0x80 * ones) >> 2;
}

/* Whether bytes n and lit's are the same word: a byte of lit that is a
 * letter matches itself and its upper case (c | 0x20), any other only
 * itself. */
static inline int
word64_ieq(const char *p, const char *lit)
{
	uint64_t	a, b;

	memcpy(&a, p, sizeof(a));
	memcpy(&b, lit, sizeof(b));
	return (a | letters64(b)) == b;
}

static inline int
word32_ieq(const char *p, const char *lit)
{
	uint32_t	a, b;

	memcpy(&a, p, sizeof(a));
	memcpy(&b, lit, sizeof(b));
	return (a | letters32(b)) == b;
}

/*
 * Whether [p, p+n) is lit (lower-case letters and '-', n bytes long, n
 * at least 2) in any case: by words, the last one overlapping the one
 * before, never reading past n.
 */
static inline int
ieq_lower(const char *p, const char *lit, size_t n)
{
	size_t	i;

	if (n >= 8) {
		for (i = 0; i + 8 < n; i += 8)
			if (!word64_ieq(p + i, lit + i))
				return 0;
		/* n is lit's length (FIELD_IS): cppcheck mixes call sites. */
		/* cppcheck-suppress pointerOutOfBoundsCond */
		return word64_ieq(p + n - 8, lit + n - 8);
	}
	if (n >= 4)
		return word32_ieq(p, lit) && word32_ieq(p + n - 4, lit + n - 4);
	for (i = 0; i < n; i++)
		if (lc((unsigned char)p[i]) != (unsigned char)lit[i])
			return 0;
	return 1;
}

/* The literal's own length, so that every offset is known constant. */
#define FIELD_IS(p, n, lit, f)						\
	((n) == sizeof(lit) - 1 && ieq_lower((p), (lit),		\
	    sizeof(lit) - 1) ? (f) : HF_OTHER)

/* By length, then by first letter: one full comparison at most. */
enum http1_field
http1_field_of(const char *p, size_t n)
{
	if (n < 2)
		return HF_OTHER;
	switch (n) {
	case 2:
		return FIELD_IS(p, n, "te", HF_TE);
	case 3:
		return FIELD_IS(p, n, "via", HF_VIA);
	case 4:
		return FIELD_IS(p, n, "host", HF_HOST);
	case 6:
		return FIELD_IS(p, n, "expect", HF_EXPECT);
	case 7:
		if (lc((unsigned char)p[0]) == 'u')
			return FIELD_IS(p, n, "upgrade", HF_UPGRADE);
		return FIELD_IS(p, n, "trailer", HF_TRAILER);
	case 10:
		if (lc((unsigned char)p[0]) == 'c')
			return FIELD_IS(p, n, "connection", HF_CONNECTION);
		return FIELD_IS(p, n, "keep-alive", HF_KEEP_ALIVE);
	case 14:
		return FIELD_IS(p, n, "content-length", HF_CONTENT_LENGTH);
	case 15:
		return FIELD_IS(p, n, "accept-encoding", HF_ACCEPT_ENCODING);
	case 16:
		return FIELD_IS(p, n, "proxy-connection", HF_PROXY_CONNECTION);
	case 17:
		return FIELD_IS(p, n, "transfer-encoding",
		    HF_TRANSFER_ENCODING);
	case 18:
		return FIELD_IS(p, n, "proxy-authenticate",
		    HF_PROXY_AUTHENTICATE);
	case 19:
		return FIELD_IS(p, n, "proxy-authorization",
		    HF_PROXY_AUTHORIZATION);
	default:
		return HF_OTHER;
	}
}

/* hd's field: classified by http1_parse_head, else now. */
static enum http1_field
field(const struct http1_hdr *hd)
{
	return hd->hd_field != HF_UNKNOWN ? hd->hd_field :
	    http1_field_of(hd->hd_name.s_ptr, hd->hd_name.s_len);
}

/* The fields Connection may name without effect: framing and Host go
 * through whatever it says (dropping them would desynchronise hops). */
static int
conn_keeps(enum http1_field f)
{
	return f == HF_CONTENT_LENGTH || f == HF_TRANSFER_ENCODING ||
	    f == HF_HOST;
}

/* Host, Expect, Transfer-Encoding and the fixed hop-by-hop set from the
 * fields' classes (check_names set them); then, only when there is a
 * Connection field, the fields it names. */
static void
classify_fields(struct http1_head *h)
{
	size_t	i, j;
	int	conn = 0;

	h->h_host = -1;
	for (i = 0; i < h->h_nhdrs; i++) {
		struct http1_hdr *hd = &h->h_hdrs[i];

		switch (hd->hd_field) {
		case HF_TE:
		case HF_UPGRADE:
		case HF_TRAILER:
		case HF_KEEP_ALIVE:
		case HF_PROXY_AUTHENTICATE:
		case HF_PROXY_AUTHORIZATION:
			hd->hd_hop = 1;
			break;
		case HF_CONNECTION:
		case HF_PROXY_CONNECTION:
			hd->hd_hop = 1;
			conn = 1;
			break;
		case HF_HOST:
			if (h->h_host == -1)
				h->h_host = (int)i;
			break;
		case HF_EXPECT:
			if (util_slice_ieq(hd->hd_value.s_ptr,
			    hd->hd_value.s_len, "100-continue"))
				h->h_expect = 1;
			break;
		case HF_TRANSFER_ENCODING:
			h->h_te = 1;
			break;
		default:
			break;
		}
	}
	if (!conn)
		return;
	for (i = 0; i < h->h_nhdrs; i++) {
		const char		*cur, *end, *tok;
		size_t			 toklen;
		enum http1_field	 f;

		if (h->h_hdrs[i].hd_field != HF_CONNECTION &&
		    h->h_hdrs[i].hd_field != HF_PROXY_CONNECTION)
			continue;
		cur = h->h_hdrs[i].hd_value.s_ptr;
		end = cur + h->h_hdrs[i].hd_value.s_len;
		while (util_list_next(&cur, end, &tok, &toklen)) {
			if (conn_keeps(f = http1_field_of(tok, toklen)))
				continue;
			/* A known name: its fields carry its class. */
			for (j = 0; j < h->h_nhdrs; j++)
				if (f != HF_OTHER ?
				    h->h_hdrs[j].hd_field == f :
				    h->h_hdrs[j].hd_name.s_len == toklen &&
				    strncasecmp(h->h_hdrs[j].hd_name.s_ptr,
				    tok, toklen) == 0)
					h->h_hdrs[j].hd_hop = 1;
		}
	}
}

/* Refuse obsolete line folding (a line that starts with SP or HTAB) and
 * a CR that does not end a line: http-parser would read either one
 * differently from the next hop. 1 for folding, 2 for a bare CR. */
static int
has_obs_fold(const char *buf, size_t len)
{
	const char	*p, *end = buf + len;

	for (p = buf; (p = memchr(p, '\n', (size_t)(end - p))) != NULL &&
	    p + 1 < end; p++)
		if (p[1] == ' ' || p[1] == '\t')
			return 1;
	for (p = buf; (p = memchr(p, '\r', (size_t)(end - p))) != NULL &&
	    p + 1 < end; p++)
		if (p[1] != '\n')
			return 2;
	return 0;
}

/* RFC 9110 5.1: a field name is a token. */
static const unsigned char tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

/* Whether every field name is a token; classifies each one. */
static int
check_names(struct http1_head *h)
{
	size_t	i, j;

	for (i = 0; i < h->h_nhdrs; i++) {
		struct http1_hdr	*hd = &h->h_hdrs[i];
		const struct slice	*n = &hd->hd_name;

		if (n->s_len == 0)
			return 0;
		for (j = 0; j < n->s_len; j++)
			if (!tchar[(unsigned char)n->s_ptr[j]])
				return 0;
		hd->hd_field = http1_field_of(n->s_ptr, n->s_len);
	}
	return 1;
}

static int
ck_fail(struct ck *ck, const char *why)
{
	ck->ck_state = CK_ERROR;
	ck->ck_error = why;
	return -1;
}

static int
ck_hex(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

#define CK_WS(ch)	((ch) == ' ' || (ch) == '\t')

/* What may follow a size, a name or a value: BWS, ';' or CR. */
static int
ck_after(struct ck *ck, unsigned char ch)
{
	if (ch == ';')
		ck->ck_state = CK_NAME0;
	else if (CK_WS(ch))
		ck->ck_state = CK_BWS;
	else if (ch == '\r')
		ck->ck_state = CK_LINE_LF;
	else
		return ck_fail(ck, "junk in a chunk line");
	return 0;
}

/* The size's hex digits; then what ck_after allows. */
static int
ck_size(struct ck *ck, unsigned char ch)
{
	int	d = ck_hex(ch);

	if (d == -1) {
		if (ck->ck_state == CK_SIZE0)
			return ck_fail(ck, "a chunk size that is not hex");
		return ck_after(ck, ch);
	}
	/* 16 hex digits fill 64 bits; leading zeros are bounded by the
	 * line length. */
	if (ck->ck_size >> 60 != 0)
		return ck_fail(ck, "a chunk size over 64 bits");
	ck->ck_size = ck->ck_size << 4 | (uint64_t)d;
	ck->ck_state = CK_SIZE;
	return 0;
}

/* The end of a chunk line: data follows, or the trailers after size 0. */
static int
ck_line_end(struct ck *ck, unsigned char ch)
{
	if (ch != '\n')
		return ck_fail(ck, "a CR without LF in a chunk line");
	ck->ck_line = 0;
	ck->ck_left = ck->ck_size;
	ck->ck_size = 0;
	ck->ck_state = ck->ck_left == 0 ? CK_TR_LINE : CK_DATA;
	return 0;
}

/* One byte of a chunk line: size, extensions, CRLF. */
static int
ck_line_byte(struct ck *ck, unsigned char ch)
{
	if (++ck->ck_line > CK_MAX_LINE)
		return ck_fail(ck, "a chunk line longer than 4096 bytes");
	if (ch == '\n' && ck->ck_state != CK_LINE_LF)
		return ck_fail(ck, "a bare LF in a chunk line (lines must "
		    "end with CRLF)");
	switch (ck->ck_state) {
	case CK_SIZE0:
	case CK_SIZE:
		return ck_size(ck, ch);
	case CK_BWS:		/* "5 \r\n" is not in the grammar */
	case CK_NAME_BWS:
		if (CK_WS(ch))
			return 0;
		if (ch == ';')
			ck->ck_state = CK_NAME0;
		else if (ch == '=' && ck->ck_state == CK_NAME_BWS)
			ck->ck_state = CK_VAL0;
		else
			return ck_fail(ck, "whitespace in a chunk line that "
			    "no ';' or '=' follows");
		return 0;
	case CK_NAME0:
	case CK_VAL0:
		if (CK_WS(ch))
			return 0;
		if (tchar[ch])
			ck->ck_state = ck->ck_state == CK_NAME0 ? CK_NAME :
			    CK_TOKEN;
		else if (ch == '"' && ck->ck_state == CK_VAL0)
			ck->ck_state = CK_QUOTED;
		else
			return ck_fail(ck, "a malformed chunk extension");
		return 0;
	case CK_NAME:
		if (tchar[ch])
			return 0;
		if (ch == '=')
			ck->ck_state = CK_VAL0;
		else if (CK_WS(ch))
			ck->ck_state = CK_NAME_BWS;
		else
			return ck_after(ck, ch);
		return 0;
	case CK_TOKEN:
		return tchar[ch] ? 0 : ck_after(ck, ch);
	case CK_QUOTED:
		/* qdtext: HTAB, SP, VCHAR but '"' and '\', obs-text. */
		if (ch == '"')
			ck->ck_state = CK_AFTER;
		else if (ch == '\\')
			ck->ck_state = CK_QPAIR;
		else if (ch != '\t' && (ch < 0x20 || ch == 0x7f))
			return ck_fail(ck, "a control character in a chunk "
			    "extension");
		return 0;
	case CK_QPAIR:
		if (ch != '\t' && (ch < 0x20 || ch == 0x7f))
			return ck_fail(ck, "a control character in a chunk "
			    "extension");
		ck->ck_state = CK_QUOTED;
		return 0;
	case CK_AFTER:
		return ck_after(ck, ch);
	case CK_LINE_LF:
		return ck_line_end(ck, ch);
	default:
		return ck_fail(ck, "chunk decoder state");
	}
}

/* One byte after chunk data, or of the trailer section. */
static int
ck_tail_byte(struct ck *ck, unsigned char ch)
{
	if (ck->ck_state >= CK_TR_LINE &&
	    ++ck->ck_trailers > CK_MAX_TRAILERS)
		return ck_fail(ck, "a trailer section larger than 64 KiB");
	if (ch == '\n' && ck->ck_state != CK_DATA_LF &&
	    ck->ck_state != CK_TR_LF && ck->ck_state != CK_END_LF)
		return ck_fail(ck, ck->ck_state == CK_DATA_CR ? "chunk data "
		    "not followed by CRLF" : "a bare LF in the trailer "
		    "section (lines must end with CRLF)");
	if (CK_WS(ch) && ck->ck_state == CK_TR_LINE)
		return ck_fail(ck, "obsolete line folding in the trailer "
		    "section");
	switch (ck->ck_state) {
	case CK_DATA_CR:
		if (ch != '\r')
			return ck_fail(ck, "chunk data not followed by CRLF");
		ck->ck_state = CK_DATA_LF;
		return 0;
	case CK_DATA_LF:
		if (ch != '\n')
			return ck_fail(ck, "chunk data not followed by CRLF");
		ck->ck_state = CK_SIZE0;
		return 0;
	case CK_TR_LINE:
		/* SP or HTAB here is obsolete folding, LF a bare LF. */
		if (ch == '\r')
			ck->ck_state = CK_END_LF;
		else if (tchar[ch])
			ck->ck_state = CK_TR_NAME;
		else
			return ck_fail(ck, "a malformed trailer field");
		return 0;
	case CK_TR_NAME:
		if (ch == ':')
			ck->ck_state = CK_TR_VALUE;
		else if (!tchar[ch])
			return ck_fail(ck, "a trailer field name that is "
			    "not a token");
		return 0;
	case CK_TR_VALUE:
		if (ch == '\r')
			ck->ck_state = CK_TR_LF;
		else if (ch != '\t' && (ch < 0x20 || ch == 0x7f))
			return ck_fail(ck, "a control character in a "
			    "trailer field");
		return 0;
	case CK_TR_LF:
	case CK_END_LF:
		if (ch != '\n')
			return ck_fail(ck, "a CR without LF in the trailers");
		ck->ck_state = ck->ck_state == CK_TR_LF ? CK_TR_LINE :
		    CK_DONE;
		return 0;
	default:
		return ck_fail(ck, "chunk decoder state");
	}
}

/* Hand n data bytes to cb, and to out as one clean chunk. */
static void
ck_emit(const char *p, size_t n, struct evbuffer *out, http1_body_cb cb,
    void *arg)
{
	char	small[4096 + 24];
	int	l;

	if (cb != NULL)
		cb(arg, p, n);
	if (out == NULL)
		return;
	l = snprintf(small, sizeof(small), "%zx\r\n", n);
	/* One add for a small chunk: each add to a bufferevent's output
	 * runs its callbacks. */
	if (n <= sizeof(small) - (size_t)l - 2) {
		memcpy(small + l, p, n);
		small[l + n] = '\r';
		small[l + n + 1] = '\n';
		evbuffer_add(out, small, (size_t)l + n + 2);
		return;
	}
	evbuffer_add(out, small, (size_t)l);
	evbuffer_add(out, p, n);
	evbuffer_add(out, "\r\n", 2);
}

/* Fields that never pass in a trailer section: framing, routing, the
 * hop-by-hop set, and what describes the whole content. */
static int
ck_trailer_dropped(const char *p, size_t n)
{
	static const char *const names[] = { "content-length",
		"transfer-encoding", "trailer", "host", "connection",
		"keep-alive", "te", "upgrade", "proxy-connection",
		"proxy-authorization", "proxy-authenticate",
		"content-encoding", "content-type", "content-range", NULL };
	size_t	i;

	for (i = 0; names[i] != NULL; i++)
		if (util_slice_ieq(p, n, names[i]))
			return 1;
	return 0;
}

/*
 * The end of the body: "0 CRLF", the trailer fields that may pass (the
 * section was checked byte by byte: every line is "name:value CRLF"),
 * and the final CRLF.
 */
static void
ck_write_end(struct ck *ck, struct evbuffer *out)
{
	const char	*p, *end, *nl, *colon, *v;
	size_t		 len, vl;

	evbuffer_add(out, "0\r\n", 3);
	len = ck->ck_tr != NULL ? evbuffer_get_length(ck->ck_tr) : 0;
	if (len == 0 || (p = (const char *)evbuffer_pullup(ck->ck_tr,
	    -1)) == NULL) {
		evbuffer_add(out, "\r\n", 2);
		return;
	}
	for (end = p + len; p < end; p = nl + 1) {
		/* The empty line that ends the section has no colon. */
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
		    (colon = memchr(p, ':', (size_t)(nl - p))) == NULL)
			break;
		v = colon + 1;
		vl = (size_t)(nl - 1 - v);
		util_trim_ows(&v, &vl);
		if (ck_trailer_dropped(p, (size_t)(colon - p)))
			continue;
		evbuffer_add(out, p, (size_t)(colon - p));
		evbuffer_add(out, ": ", 2);
		evbuffer_add(out, v, vl);
		evbuffer_add(out, "\r\n", 2);
	}
	evbuffer_add(out, "\r\n", 2);
}

/* Keep trailer bytes [from, to) for ck_write_end. */
static int
ck_keep(struct ck *ck, const char *from, const char *to)
{
	if (ck->ck_tr == NULL && (ck->ck_tr = evbuffer_new()) == NULL)
		return ck_fail(ck, "out of memory");
	return evbuffer_add(ck->ck_tr, from, (size_t)(to - from)) == 0 ? 0 :
	    ck_fail(ck, "out of memory");
}

/* Decode chunked bytes; returns bytes consumed or -1 (ck_error set). */
static ssize_t
ck_feed(struct ck *ck, const char *buf, size_t len, struct evbuffer *out,
    http1_body_cb cb, void *arg)
{
	size_t	i = 0, n, tr = len;	/* tr: trailer bytes from here */
	int	r;

	while (i < len && ck->ck_state != CK_DONE) {
		if (ck->ck_state == CK_ERROR)
			return -1;
		if (tr == len && ck->ck_state >= CK_TR_LINE)
			tr = i;
		if (ck->ck_state == CK_DATA) {
			n = len - i;
			if (n > ck->ck_left)
				n = (size_t)ck->ck_left;
			ck_emit(buf + i, n, out, cb, arg);
			ck->ck_left -= n;
			i += n;
			if (ck->ck_left == 0)
				ck->ck_state = CK_DATA_CR;
			continue;
		}
		if (ck->ck_state < CK_DATA)
			r = ck_line_byte(ck, (unsigned char)buf[i]);
		else
			r = ck_tail_byte(ck, (unsigned char)buf[i]);
		if (r == -1)
			return -1;
		i++;
	}
	/* The trailer section's bytes, when the next hop gets them; none
	 * kept for the usual empty one. */
	if (out != NULL && tr < i && !(ck->ck_tr == NULL &&
	    ck->ck_state == CK_DONE && ck->ck_trailers == 2) &&
	    ck_keep(ck, buf + tr, buf + i) == -1)
		return -1;
	if (ck->ck_state == CK_DONE && out != NULL)
		ck_write_end(ck, out);
	return ck->ck_state == CK_ERROR ? -1 : (ssize_t)i;
}

static void
reset(struct http1_parser *hp)
{
	struct evbuffer	*tr;

	http_parser_init(&hp->hp_p, hp->hp_kind == HTTP1_REQUEST ?
	    HTTP_REQUEST : HTTP_RESPONSE);
	hp->hp_p.data = hp;
	hp->hp_in_value = 0;
	hp->hp_too_many = 0;
	hp->hp_headers_done = 0;
	hp->hp_done = 0;
	hp->hp_cb = NULL;
	hp->hp_chunked = 0;
	tr = hp->hp_ck.ck_tr;
	memset(&hp->hp_ck, 0, sizeof(hp->hp_ck));
	if (tr != NULL)
		evbuffer_drain(tr, evbuffer_get_length(tr));
	hp->hp_ck.ck_tr = tr;	/* kept for the next message */
}

static void
fill_head(struct http1_parser *hp, struct http1_head *h)
{
	http_parser	*p = &hp->hp_p;

	h->h_major = p->http_major;
	h->h_minor = p->http_minor;
	h->h_keepalive = http_should_keep_alive(p) ? 1 : 0;
	if (hp->hp_kind == HTTP1_REQUEST) {
		const char *m = http_method_str((enum http_method)p->method);
		size_t	    ml = strlen(m);

		if (ml >= sizeof(h->h_method))
			ml = sizeof(h->h_method) - 1;
		memcpy(h->h_method, m, ml);
		h->h_method[ml] = '\0';
		h->h_connect = p->method == HTTP_CONNECT;
		h->h_is_head = p->method == HTTP_HEAD;
		h->h_upgrade = p->upgrade && !h->h_connect;
	} else {
		h->h_status = p->status_code;
		h->h_upgrade = p->upgrade;
	}
	if (hp->hp_done)
		h->h_body = HTTP1_BODY_NONE;
	else if (p->flags & F_CHUNKED)
		h->h_body = HTTP1_BODY_CHUNKED;
	else if (p->content_length != ULLONG_MAX) {
		h->h_body = HTTP1_BODY_LENGTH;
		h->h_length = p->content_length;
	} else
		h->h_body = HTTP1_BODY_EOF;
	classify_fields(h);
}

/* Whether our reading of Transfer-Encoding (the last coding of the last
 * field, whitespace trimmed) disagrees with http-parser's framing: a
 * "chunked<TAB>" that one reads as chunked and the other not. */
static int
te_disagrees(const struct http1_head *h)
{
	const char	*cur, *end, *tok = NULL, *t;
	size_t		 toklen = 0, tl, i;
	int		 seen = 0;

	for (i = 0; i < h->h_nhdrs; i++) {
		if (h->h_hdrs[i].hd_field != HF_TRANSFER_ENCODING)
			continue;
		seen = 1;
		cur = h->h_hdrs[i].hd_value.s_ptr;
		end = cur + h->h_hdrs[i].hd_value.s_len;
		while (util_list_next(&cur, end, &t, &tl)) {
			tok = t;
			toklen = tl;
		}
	}
	/* Without a body (HEAD, 204, 304, upgrades) framing is moot. */
	if (!seen || h->h_body == HTTP1_BODY_NONE)
		return 0;
	return (tok != NULL && util_slice_ieq(tok, toklen, "chunked")) !=
	    (h->h_body == HTTP1_BODY_CHUNKED);
}

/*
 * Transfer-Encoding beyond what http-parser checks (RFC 9112 section 6.1):
 * chunked at most once, no "identity" (no longer a transfer coding), none
 * at all in an HTTP/1.0 request (its framing is then faulty). NULL, or
 * why not.
 */
static const char *
te_faulty(const struct http1_head *h)
{
	const char	*cur, *end, *t;
	size_t		 tl, i;
	int		 chunked = 0;

	for (i = 0; i < h->h_nhdrs; i++) {
		if (h->h_hdrs[i].hd_field != HF_TRANSFER_ENCODING)
			continue;
		if (h->h_kind == HTTP1_REQUEST && h->h_major == 1 &&
		    h->h_minor == 0)
			return "Transfer-Encoding in an HTTP/1.0 request";
		cur = h->h_hdrs[i].hd_value.s_ptr;
		end = cur + h->h_hdrs[i].hd_value.s_len;
		while (util_list_next(&cur, end, &t, &tl)) {
			if (util_slice_ieq(t, tl, "identity"))
				return "Transfer-Encoding: identity";
			if (util_slice_ieq(t, tl, "chunked") && chunked++ > 0)
				return "chunked applied more than once";
		}
	}
	return NULL;
}

/* RFC 9112 3.2: a request target is visible ASCII; a TAB, a form feed or
 * an 8-bit byte is read differently by the next hop, or by none. */
static int
target_ok(const struct slice *t)
{
	size_t	i;

	for (i = 0; i < t->s_len; i++)
		if ((unsigned char)t->s_ptr[i] <= 0x20 ||
		    (unsigned char)t->s_ptr[i] >= 0x7f)
			return 0;
	return 1;
}

/* A reason phrase with anything but SP, HTAB and visible ASCII (control
 * bytes reach the client's terminal) is replaced by the standard one. */
static void
reason_clean(struct http1_head *h)
{
	size_t	i;

	for (i = 0; i < h->h_reason.s_len; i++) {
		unsigned char ch = (unsigned char)h->h_reason.s_ptr[i];

		if (ch != '\t' && (ch < 0x20 || ch >= 0x7f)) {
			h->h_reason.s_ptr = http1_status_text(h->h_status);
			h->h_reason.s_len = strlen(h->h_reason.s_ptr);
			return;
		}
	}
}

int
http1_parse_head(struct http1_parser *hp, const char *buf, size_t len,
    int req_head, struct http1_head *h, struct http1_error *err)
{
	size_t		 n;
	enum http_errno	 e;
	const char	*why;

	memset(h, 0, offsetof(struct http1_head, h_hdrs));
	h->h_kind = hp->hp_kind;
	reset(hp);
	hp->hp_head = h;
	hp->hp_skip_body = req_head;
	switch (has_obs_fold(buf, len)) {
	case 1:
		set_error(err, 400, "obsolete line folding in a header%s", "");
		return -1;
	case 2:
		set_error(err, 400, "bare CR in the message head%s", "");
		return -1;
	}
	n = http_parser_execute(&hp->hp_p, &settings, buf, len);
	e = HTTP_PARSER_ERRNO(&hp->hp_p);
	hp->hp_head = NULL;
	if (hp->hp_too_many) {
		set_error(err, 431, "more than %s header fields", "128");
		return -1;
	}
	if ((e != HPE_OK && e != HPE_PAUSED) || !hp->hp_headers_done) {
		set_error(err, 400, "malformed message head: %s",
		    e != HPE_OK ? http_errno_description(e) :
		    "incomplete head");
		return -1;
	}
	if (!check_names(h)) {
		set_error(err, 400, "malformed message head: %s",
		    "a header name is not a token");
		return -1;
	}
	if (n != len && !(hp->hp_done || hp->hp_p.upgrade)) {
		set_error(err, 400, "malformed message head: %s",
		    "trailing bytes");
		return -1;
	}
	fill_head(hp, h);
	hp->hp_chunked = h->h_body == HTTP1_BODY_CHUNKED;
	if (h->h_kind == HTTP1_RESPONSE && (h->h_status < 100 ||
	    h->h_status > 999)) {
		set_error(err, 400, "malformed status line: %s",
		    "the status code is not three digits");
		return -1;
	}
	if (h->h_te && te_disagrees(h)) {
		set_error(err, 400, "malformed message head: %s",
		    "Transfer-Encoding that does not end in chunked as read");
		return -1;
	}
	if (h->h_te && (why = te_faulty(h)) != NULL) {
		set_error(err, 400, "malformed message head: %s", why);
		return -1;
	}
	if (h->h_kind == HTTP1_REQUEST && !target_ok(&h->h_target)) {
		set_error(err, 400, "malformed request target: %s", "a "
		    "control, space or 8-bit byte in it");
		return -1;
	}
	if (h->h_kind == HTTP1_RESPONSE)
		reason_clean(h);
	return 0;
}

ssize_t
http1_parse_body(struct http1_parser *hp, const char *buf, size_t len,
    http1_body_cb cb, void *arg)
{
	return http1_reframe_body(hp, buf, len, NULL, cb, arg);
}

ssize_t
http1_reframe_body(struct http1_parser *hp, const char *buf, size_t len,
    struct evbuffer *out, http1_body_cb cb, void *arg)
{
	size_t		n;
	ssize_t		r;
	enum http_errno	e;

	/* Zero bytes would tell http-parser the peer closed. */
	if (hp->hp_done || len == 0)
		return 0;
	if (hp->hp_chunked) {
		r = ck_feed(&hp->hp_ck, buf, len, out, cb, arg);
		if (hp->hp_ck.ck_state == CK_DONE)
			hp->hp_done = 1;
		return r;
	}
	hp->hp_cb = cb;
	hp->hp_cbarg = arg;
	n = http_parser_execute(&hp->hp_p, &settings, buf, len);
	hp->hp_cb = NULL;
	e = HTTP_PARSER_ERRNO(&hp->hp_p);
	if (e != HPE_OK && !(e == HPE_PAUSED && hp->hp_done))
		return -1;
	return (ssize_t)n;
}

int
http1_parse_eof(struct http1_parser *hp)
{
	if (hp->hp_done)
		return 0;
	if (hp->hp_chunked) {
		if (hp->hp_ck.ck_state != CK_ERROR)
			ck_fail(&hp->hp_ck, "the chunked body is truncated");
		return -1;
	}
	http_parser_execute(&hp->hp_p, &settings, NULL, 0);
	return hp->hp_done ? 0 : -1;
}

int
http1_message_done(const struct http1_parser *hp)
{
	return hp->hp_done;
}

const char *
http1_parser_error(const struct http1_parser *hp)
{
	if (hp->hp_chunked && hp->hp_ck.ck_error != NULL)
		return hp->hp_ck.ck_error;
	return http_errno_description(HTTP_PARSER_ERRNO(&hp->hp_p));
}

static int
copy_field(const char *buf, const struct http_parser_url *u, int f,
    char *out, size_t outlen)
{
	size_t	len = u->field_data[f].len;

	if (!(u->field_set & (1 << f)) || len == 0 || len >= outlen)
		return -1;
	memcpy(out, buf + u->field_data[f].off, len);
	out[len] = '\0';
	return 0;
}

int
http1_parse_target(const struct http1_head *h, struct http1_target *t,
    struct http1_error *err)
{
	struct http_parser_url	 u;
	const char		*buf = h->h_target.s_ptr;
	size_t			 len = h->h_target.s_len, end;

	memset(t, 0, sizeof(*t));
	if (len > 0 && buf[0] == '/' && !h->h_connect) {
		t->t_form = 'o';
		t->t_path = h->h_target;
		return 0;
	}
	http_parser_url_init(&u);
	if (http_parser_parse_url(buf, len, h->h_connect, &u) != 0 ||
	    copy_field(buf, &u, UF_HOST, t->t_host, sizeof(t->t_host)) == -1) {
		set_error(err, 400, "malformed request target%s", "");
		return -1;
	}
	/* An IPv6 zone ("[fe80::1%25eth0]") names an interface of the
	 * sender's host: meaningless here, and it would not survive being
	 * written on (found by fuzz_request_head). */
	if (strchr(t->t_host, '%') != NULL) {
		set_error(err, 400, "an IPv6 zone identifier in the target "
		    "is not allowed%s", "");
		return -1;
	}
	if (h->h_connect) {
		t->t_form = 'c';
		if (!(u.field_set & (1 << UF_PORT)) || u.port == 0) {
			set_error(err, 400, "CONNECT needs host:port%s", "");
			return -1;
		}
		t->t_port = u.port;
		return 0;
	}
	t->t_form = 'a';
	if (!(u.field_set & (1 << UF_SCHEMA)) || !util_slice_ieq(buf +
	    u.field_data[UF_SCHEMA].off, u.field_data[UF_SCHEMA].len, "http")) {
		set_error(err, 400, "only http:// targets can be proxied "
		    "(use CONNECT for https)%s", "");
		return -1;
	}
	if (u.field_set & (1 << UF_USERINFO)) {
		set_error(err, 400, "user information in the target is not "
		    "allowed%s", "");
		return -1;
	}
	t->t_port = (u.field_set & (1 << UF_PORT)) ? u.port : 80;
	if (t->t_port == 0) {
		set_error(err, 400, "port 0 in the target%s", "");
		return -1;
	}
	/* Path and query, without a fragment; "/" when empty. */
	end = (u.field_set & (1 << UF_FRAGMENT)) ?
	    (size_t)u.field_data[UF_FRAGMENT].off - 1 : len;
	if (u.field_set & (1 << UF_PATH))
		t->t_path.s_ptr = buf + u.field_data[UF_PATH].off;
	else if (u.field_set & (1 << UF_QUERY))
		t->t_path.s_ptr = buf + u.field_data[UF_QUERY].off - 1;
	if (t->t_path.s_ptr != NULL)
		t->t_path.s_len = (size_t)(buf + end - t->t_path.s_ptr);
	return 0;
}

/*
 * Heads are assembled in a stack buffer and handed to the output evbuffer
 * in one evbuffer_add(): every add to a bufferevent's output runs its
 * callbacks and re-arms its write event, which per header field cost more
 * than the rest of the relay.
 */
struct hb {
	struct evbuffer	*hb_out;
	size_t		 hb_len;
	char		 hb_buf[8192];
};

static void
hb_flush(struct hb *b)
{
	if (b->hb_len > 0)
		evbuffer_add(b->hb_out, b->hb_buf, b->hb_len);
	b->hb_len = 0;
}

static void
hb_add(struct hb *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (n > sizeof(b->hb_buf) - b->hb_len) {
		hb_flush(b);
		if (n > sizeof(b->hb_buf)) {
			evbuffer_add(b->hb_out, p, n);
			return;
		}
	}
	memcpy(b->hb_buf + b->hb_len, p, n);
	b->hb_len += n;
}

static void
hb_str(struct hb *b, const char *s)
{
	hb_add(b, s, strlen(s));
}

static void
hb_uint(struct hb *b, unsigned v)
{
	char	buf[12];
	size_t	i = sizeof(buf);

	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	hb_add(b, buf + i, sizeof(buf) - i);
}

static void
add_slice(struct hb *out, const struct slice *s)
{
	hb_add(out, s->s_ptr, s->s_len);
}

/*
 * "name: value CRLF". A field that came as exactly that (one space after
 * the colon, no whitespace after the value) is copied as one piece: the
 * head it was parsed from is contiguous and its lines end in CRLF.
 */
static void
add_field(struct hb *out, const struct http1_hdr *hd)
{
	const char	*n = hd->hd_name.s_ptr, *v = hd->hd_value.s_ptr;
	size_t		 nl = hd->hd_name.s_len, vl = hd->hd_value.s_len;

	if (v == n + nl + 2 && n[nl] == ':' && n[nl + 1] == ' ' &&
	    v[vl] == '\r' && v[vl + 1] == '\n') {
		hb_add(out, n, nl + 2 + vl + 2);
		return;
	}
	add_slice(out, &hd->hd_name);
	hb_add(out, ": ", 2);
	add_slice(out, &hd->hd_value);
	hb_add(out, "\r\n", 2);
}

static void
write_host(struct hb *out, const struct http1_target *t)
{
	int	v6 = strchr(t->t_host, ':') != NULL;

	hb_add(out, "Host: [", v6 ? 7 : 6);
	hb_str(out, t->t_host);
	if (v6)
		hb_add(out, "]", 1);
	if (t->t_port != (t->t_tls ? 443 : 80)) {
		hb_add(out, ":", 1);
		hb_uint(out, t->t_port);
	}
	hb_add(out, "\r\n", 2);
}

/* Accept-Encoding without codings the inspector cannot decode (br, zstd,
 * compress, "*"); dropped entirely when nothing is left. */
static void
write_decodable(struct hb *out, const struct http1_hdr *hd)
{
	const char	*cur = hd->hd_value.s_ptr;
	const char	*end = cur + hd->hd_value.s_len;
	const char	*tok;
	size_t		 toklen, n, kept = 0;

	while (util_list_next(&cur, end, &tok, &toklen)) {
		const char *semi = memchr(tok, ';', toklen);

		n = semi ? (size_t)(semi - tok) : toklen;
		while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
			n--;
		if (!util_slice_ieq(tok, n, "gzip") &&
		    !util_slice_ieq(tok, n, "x-gzip") &&
		    !util_slice_ieq(tok, n, "deflate") &&
		    !util_slice_ieq(tok, n, "identity"))
			continue;
		if (kept++ == 0) {
			add_slice(out, &hd->hd_name);
			hb_add(out, ": ", 2);
		} else
			hb_add(out, ", ", 2);
		hb_add(out, tok, toklen);
	}
	if (kept > 0)
		hb_add(out, "\r\n", 2);
}

/* The request head, with the target in origin form (ahost NULL) or in
 * absolute form with ahost:aport as its authority. */
static void
write_request_head(struct evbuffer *evout, const struct http1_head *h,
    const struct http1_target *t, unsigned flags, const char *ahost,
    uint16_t aport, const char *extra)
{
	int		upgrade = (flags & HTTP1_W_UPGRADE) != 0;
	size_t		i;
	struct hb	hb, *out = &hb;

	hb.hb_out = evout;
	hb.hb_len = 0;

	hb_add(out, h->h_method, strlen(h->h_method));
	hb_add(out, " ", 1);
	if (ahost != NULL) {
		int	v6 = strchr(ahost, ':') != NULL;

		hb_add(out, v6 ? "http://[" : "http://", v6 ? 8 : 7);
		hb_str(out, ahost);
		if (v6)
			hb_add(out, "]", 1);
		if (aport != 80) {
			hb_add(out, ":", 1);
			hb_uint(out, aport);
		}
	}
	/* "http://h?q" has an empty path: it is "/?q" in origin form. */
	if (t->t_path.s_len == 0 || t->t_path.s_ptr[0] == '?')
		hb_add(out, "/", 1);
	add_slice(out, &t->t_path);
	hb_add(out, " HTTP/1.1\r\n", 11);
	/* RFC 9112 3.2.2: the target's authority replaces any Host. */
	if (h->h_host == -1)
		write_host(out, t);
	for (i = 0; i < h->h_nhdrs; i++) {
		const struct http1_hdr *hd = &h->h_hdrs[i];

		enum http1_field	 f = field(hd);

		if ((int)i == h->h_host) {
			write_host(out, t);
			continue;
		}
		if (f == HF_HOST)
			continue;
		if (hd->hd_hop && !(upgrade && f == HF_UPGRADE))
			continue;
		if ((flags & HTTP1_W_DECODABLE) && f == HF_ACCEPT_ENCODING) {
			write_decodable(out, hd);
			continue;
		}
		add_field(out, hd);
	}
	if (upgrade)
		hb_add(out, "Connection: Upgrade\r\n", 21);
	if (extra != NULL) {
		hb_str(out, extra);
		hb_add(out, "\r\n", 2);
	}
	hb_add(out, "Via: " VIA_VALUE "\r\n\r\n",
	    sizeof("Via: " VIA_VALUE "\r\n\r\n") - 1);
	hb_flush(out);
}

void
http1_write_request_head(struct evbuffer *evout, const struct http1_head *h,
    const struct http1_target *t, unsigned flags)
{
	write_request_head(evout, h, t, flags, NULL, 0, NULL);
}

void
http1_write_proxy_request_head(struct evbuffer *evout,
    const struct http1_head *h, const struct http1_target *t,
    unsigned flags, const char *ahost, uint16_t aport, const char *extra)
{
	write_request_head(evout, h, t, flags, ahost, aport, extra);
}

int
http1_via_loop(const struct http1_head *h)
{
	size_t		 i, n;
	const char	*cur, *end, *tok, *sp;
	size_t		 toklen;

	for (i = 0; i < h->h_nhdrs; i++) {
		const struct http1_hdr *hd = &h->h_hdrs[i];

		if (field(hd) != HF_VIA)
			continue;
		cur = hd->hd_value.s_ptr;
		end = cur + hd->hd_value.s_len;
		/* "1.1 oauthlens, 1.1 squid (squid/5.7)": the second word
		 * of an entry is the recipient. */
		while (util_list_next(&cur, end, &tok, &toklen)) {
			if ((sp = memchr(tok, ' ', toklen)) == NULL)
				continue;
			sp++;
			for (n = 0; sp + n < tok + toklen && sp[n] != ' ' &&
			    sp[n] != '\t'; n++)
				;
			if (util_slice_ieq(sp, n, "oauthlens"))
				return 1;
		}
	}
	return 0;
}

void
http1_write_response_head(struct evbuffer *evout, const struct http1_head *h,
    unsigned flags, const char *extra)
{
	size_t		i;
	struct hb	hb, *out = &hb;

	hb.hb_out = evout;
	hb.hb_len = 0;
	hb_add(out, "HTTP/1.1 ", 9);
	hb_uint(out, (unsigned)h->h_status);
	hb_add(out, " ", 1);
	add_slice(out, &h->h_reason);
	hb_add(out, "\r\n", 2);
	for (i = 0; i < h->h_nhdrs; i++) {
		const struct http1_hdr *hd = &h->h_hdrs[i];

		if (hd->hd_hop && !((flags & HTTP1_W_UPGRADE) &&
		    field(hd) == HF_UPGRADE))
			continue;
		if ((flags & HTTP1_W_DECHUNK) &&
		    field(hd) == HF_TRANSFER_ENCODING)
			continue;
		add_field(out, hd);
	}
	if (flags & HTTP1_W_UPGRADE)
		hb_add(out, "Connection: Upgrade\r\n", 21);
	else if (flags & HTTP1_W_CLOSE)
		hb_add(out, "Connection: close\r\n", 19);
	else if (flags & HTTP1_W_KEEPALIVE)
		hb_add(out, "Connection: keep-alive\r\n", 24);
	if (extra != NULL) {
		hb_add(out, extra, strlen(extra));
		hb_add(out, "\r\n", 2);
	}
	hb_add(out, "Via: " VIA_VALUE "\r\n\r\n",
	    sizeof("Via: " VIA_VALUE "\r\n\r\n") - 1);
	hb_flush(out);
}

const char *
http1_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 508: return "Loop Detected";
	default: return "Error";
	}
}

void
http1_write_error(struct evbuffer *out, int status, const char *body,
    int close)
{
	const char	*text = http1_status_text(status);

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n"
	    "%s%s%s"
	    "Via: " VIA_VALUE "\r\n\r\n"
	    "%d %s: %s\n", status, text,
	    strlen(body) + strlen(text) + 7,
	    close ? "Connection: close\r\n" : "",
	    status == 503 ? "Retry-After: 1\r\n" : "",
	    status == 407 ?
	    "Proxy-Authenticate: Basic realm=\"oauthlens\"\r\n" : "",
	    status, text, body);
}

const struct slice *
http1_header(const struct http1_head *h, const char *name)
{
	size_t	i;

	for (i = 0; i < h->h_nhdrs; i++)
		if (util_slice_ieq(h->h_hdrs[i].hd_name.s_ptr,
		    h->h_hdrs[i].hd_name.s_len, name))
			return &h->h_hdrs[i].hd_value;
	return NULL;
}
