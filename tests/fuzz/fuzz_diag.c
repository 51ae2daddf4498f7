/*
 * Fuzz the flow memory's parsers of network input (proxy/diag): authorize
 * queries (state, client_id, redirect_uri, PKCE challenge), the Location
 * or callback URL compared with a redirect_uri (url_split, GitHub's
 * redirect rules), a redirect's code or access_denied query, and a token
 * request's code, code_verifier and refresh_token through one exchange
 * and a second one of the same values.
 *
 * Input: byte 0 options (bit 0: the first exchange succeeds; bits 1-2: the
 * error of the second, bad_verification_code, bad_refresh_token,
 * incorrect_client_credentials or redirect_uri_mismatch; bit 3: the
 * second carries Origin; bit 4: the authorize went to github.com, not to
 * the token request's host), then pieces cut at NUL bytes: authorize query,
 * registered URL, sent redirect_uri, code query, denied query, code,
 * code_verifier, refresh_token, client_id, client_secret, host.
 *
 * Invariants: diag_authorize_mismatch names a part (callback_*) only when
 * the two URLs do not match under diag_redirect_match, and never when
 * they do; its strings are terminated inside their arrays; a diagnosis is
 * a cause of the table, the same when asked twice, DC_NONE exactly when
 * its name is empty; a code or refresh token exchanged with success and
 * refused afterwards is code_reused / refresh_token_reused unless an
 * earlier rule (a page's request, a cancelled flow's non-code) claims it;
 * PKCE causes only for bad_verification_code, mismatch only with a
 * verifier, missing only without one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "fuzz.h"

#define FD_PIECES	11

static const char *const fd_errors[4] = {
	"bad_verification_code", "bad_refresh_token",
	"incorrect_client_credentials", "redirect_uri_mismatch"
};

static int
fd_terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static void
fd_check_result(const struct diag_result *d)
{
	FZ_ASSERT(d->dg_cause >= DC_NONE && d->dg_cause < DC_COUNT);
	FZ_ASSERT((d->dg_cause == DC_NONE) ==
	    (diag_cause_name(d->dg_cause)[0] == '\0'));
	FZ_ASSERT(fd_terminated(d->dg_field, sizeof(d->dg_field)));
	FZ_ASSERT(fd_terminated(d->dg_detail, sizeof(d->dg_detail)));
	FZ_ASSERT(fd_terminated(d->dg_registered, sizeof(d->dg_registered)));
	FZ_ASSERT(fd_terminated(d->dg_was, sizeof(d->dg_was)));
	FZ_ASSERT(fd_terminated(d->dg_want, sizeof(d->dg_want)));
}

static void
fd_mismatch(const char *registered, const char *sent)
{
	struct diag_result	d;
	char			why[256];
	int			match;

	diag_authorize_mismatch(registered, sent, &d);
	fd_check_result(&d);
	match = diag_redirect_match(registered, sent, why, sizeof(why));
	FZ_ASSERT(fd_terminated(why, sizeof(why)));
	if (match)
		FZ_ASSERT(d.dg_cause == DC_NONE);
	if (d.dg_cause != DC_NONE) {
		FZ_ASSERT(!match);
		FZ_ASSERT(d.dg_cause == DC_CALLBACK_SCHEME ||
		    d.dg_cause == DC_CALLBACK_HOST ||
		    d.dg_cause == DC_CALLBACK_PORT ||
		    d.dg_cause == DC_CALLBACK_PATH);
		FZ_ASSERT(strncmp(d.dg_registered, registered,
		    sizeof(d.dg_registered) - 1) == 0);
	}
}

static int
fd_noncode(const char *c)
{
	return c == NULL || *c == '\0' || strcmp(c, "undefined") == 0 ||
	    strcmp(c, "null") == 0 || strcmp(c, "None") == 0 ||
	    strcmp(c, "nil") == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*piece[FD_PIECES];
	char			*buf, *p, *end;
	struct flowmem		*fm;
	struct diag_request	 r1, r2;
	struct diag_result	 d, again;
	unsigned		 opts, i;
	const char		*error;

	if (size < 1)
		return 0;
	opts = data[0];
	buf = fz_dup(data + 1, size - 1);
	buf = realloc(buf, size);	/* room for the final NUL */
	if (buf == NULL)
		abort();
	buf[size - 1] = '\0';
	end = buf + size - 1;
	for (i = 0, p = buf; i < FD_PIECES; i++) {
		piece[i] = p <= end ? p : "";
		if (p <= end)
			p += strlen(p) + 1;
	}
	fd_mismatch(piece[1], piece[2]);

	fm = flowmem_new(32, 3600, 600);
	diag_authorize(fm, opts & 16 ? "github.com" : piece[10], piece[0],
	    strlen(piece[0]), 1000);
	diag_code_issued(fm, piece[3], strlen(piece[3]), 2000);
	diag_denied(fm, piece[4], strlen(piece[4]), 2500);

	memset(&r1, 0, sizeof(r1));
	r1.dr_req = 1;
	r1.dr_now_ms = 3000;
	r1.dr_code = piece[5][0] != '\0' ? piece[5] : NULL;
	r1.dr_code_verifier = piece[6][0] != '\0' ? piece[6] : NULL;
	r1.dr_refresh_token = piece[7][0] != '\0' ? piece[7] : NULL;
	r1.dr_client_id = piece[8];
	r1.dr_client_secret = piece[9];
	r1.dr_redirect_uri = piece[2];
	r1.dr_host = piece[10];
	diag_exchange_begin(fm, &r1);
	diag_exchange_end(fm, 1, opts & 1, opts & 1 ? NULL : fd_errors[0]);

	r2 = r1;
	r2.dr_req = 2;
	r2.dr_now_ms = 4000;
	r2.dr_browser = (opts & 8) != 0;
	diag_exchange_begin(fm, &r2);
	error = fd_errors[(opts >> 1) & 3];
	diag_explain(fm, error, &r2, &d);
	fd_check_result(&d);
	diag_explain(fm, error, &r2, &again);
	FZ_ASSERT(memcmp(&d, &again, sizeof(d)) == 0);

	if (r2.dr_browser)
		FZ_ASSERT(d.dg_cause == DC_BROWSER_EXCHANGE);
	else if ((opts & 1) && strcmp(error, "bad_verification_code") == 0 &&
	    !fd_noncode(r2.dr_code))
		FZ_ASSERT(d.dg_cause == DC_CODE_REUSED);
	else if ((opts & 1) && strcmp(error, "bad_refresh_token") == 0 &&
	    r2.dr_code == NULL && r2.dr_refresh_token != NULL)
		FZ_ASSERT(d.dg_cause == DC_REFRESH_REUSED);
	if (d.dg_cause == DC_PKCE_MISMATCH || d.dg_cause == DC_PKCE_MISSING)
		FZ_ASSERT(strcmp(error, "bad_verification_code") == 0);
	if (d.dg_cause == DC_PKCE_MISMATCH)
		FZ_ASSERT(r2.dr_code_verifier != NULL);
	if (d.dg_cause == DC_PKCE_MISSING)
		FZ_ASSERT(r2.dr_code_verifier == NULL);
	if (d.dg_cause == DC_CALLBACK_ERROR)
		FZ_ASSERT(fd_noncode(r2.dr_code));
	diag_exchange_end(fm, 2, 0, error);
	flowmem_free(fm);
	free(buf);
	return 0;
}
