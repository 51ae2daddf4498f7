#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libgen.h>
#include <limits.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util.h"

int
util_parse_u64(const char *p, size_t len, uint64_t min, uint64_t max,
    uint64_t *out)
{
	uint64_t	v = 0;
	size_t		i;

	if (len == 0 || len > 20)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned d;

		if (p[i] < '0' || p[i] > '9')
			return -1;
		d = (unsigned)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int
util_slice_ieq(const char *p, size_t len, const char *lit)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (lit[i] == '\0' || lower((unsigned char)p[i]) !=
		    lower((unsigned char)lit[i]))
			return 0;
	return lit[len] == '\0';
}

int
util_list_next(const char **cur, const char *end, const char **tok,
    size_t *toklen)
{
	while (*cur < end) {
		const char	*s = *cur, *comma;
		size_t		 n;

		comma = memchr(s, ',', (size_t)(end - s));
		if (comma == NULL)
			comma = end;
		*cur = comma < end ? comma + 1 : end;
		n = (size_t)(comma - s);
		util_trim_ows(&s, &n);
		if (n > 0) {
			*tok = s;
			*toklen = n;
			return 1;
		}
	}
	return 0;
}

char *
util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t	n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
	return dst;
}

size_t
util_fmt_ll(char *buf, long long v)
{
	char			 tmp[20];
	unsigned long long	 u = v < 0 ? 0ULL - (unsigned long long)v :
				    (unsigned long long)v;
	size_t			 i = sizeof(tmp), n = 0;

	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		buf[n++] = '-';
	memcpy(buf + n, tmp + i, sizeof(tmp) - i);
	n += sizeof(tmp) - i;
	buf[n] = '\0';
	return n;
}

uint64_t
util_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
oom(void)
{
	fputs("oauthlens: out of memory\n", stderr);
	abort();
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p = calloc(n, size);

	if (p == NULL)
		oom();
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p = strdup(s);

	if (p == NULL)
		oom();
	return p;
}

char *
xstrndup(const char *s, size_t len)
{
	char	*p = strndup(s, len);

	if (p == NULL)
		oom();
	return p;
}

const char *
util_tree_path(const char *rel, char *buf, size_t len)
{
	char	exe[PATH_MAX];
	ssize_t	n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		snprintf(buf, len, "%s/../%s", dirname(exe), rel);
		if (access(buf, R_OK) == 0)
			return buf;
	}
	if (access(rel, R_OK) == 0) {
		snprintf(buf, len, "%s", rel);
		return buf;
	}
	return NULL;
}

void
util_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char	a[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	} else
		snprintf(buf, len, "local");
}

int
util_ip_literal(const char *s)
{
	unsigned char	a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

int
util_ip_equal(const char *a, const char *b)
{
	unsigned char	x[16], y[16];

	if (inet_pton(AF_INET, a, x) == 1)
		return inet_pton(AF_INET, b, y) == 1 && memcmp(x, y, 4) == 0;
	if (inet_pton(AF_INET6, a, x) == 1)
		return inet_pton(AF_INET6, b, y) == 1 && memcmp(x, y, 16) == 0;
	return 0;
}

void
strlist_add(struct strlist *sl, const char *s)
{
	char	**v;

	v = realloc(sl->sl_v, (sl->sl_n + 1) * sizeof(*v));
	if (v == NULL)
		abort();
	sl->sl_v = v;
	sl->sl_v[sl->sl_n++] = xstrdup(s);
}

void
strlist_clear(struct strlist *sl)
{
	size_t	i;

	for (i = 0; i < sl->sl_n; i++)
		free(sl->sl_v[i]);
	free(sl->sl_v);
	sl->sl_v = NULL;
	sl->sl_n = 0;
}

int
util_split_hostport(const char *s, char *host, size_t hostlen,
    uint16_t *port)
{
	const char	*colon, *h = s;
	size_t		 hl;
	uint64_t	 p;

	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			return -1;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || memchr(s, ':', (size_t)(colon - s)))
			return -1;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen)
		return -1;
	if (util_parse_u64(colon + 1, strlen(colon + 1), 1, 65535, &p) == -1)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return 0;
}

int
util_b64_decode(const char *in, size_t len, unsigned char *out,
    size_t outlen)
{
	int	n;

	if (len % 4 != 0 || len / 4 * 3 > outlen || len > INT_MAX)
		return -1;
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (n < 0)
		return -1;
	/* EVP_DecodeBlock counts the padding as decoded zero bytes. */
	while (n > 0 && len > 0 && in[--len] == '=')
		n--;
	return n;
}
