/*
 * The OAuth observer's event order (proxy/oauth.c): a token exchange is in
 * the flow memory from oauth_request_done, so a second exchange of the
 * same code that overlaps the first is code_reused; a code whose earlier
 * exchange failed the same way is code_already_failed; an exchange whose
 * answer was never read vouches for nothing; the response may come
 * before the request is complete.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "confkeys.h"
#include "diag.h"
#include "http1.h"
#include "oauth.h"
#include "stats.h"
#include "status.h"
#include "t.h"

static struct config	*cf;
static struct oauth_env	 env;
static struct status_recent *recent;
static struct stats	 stats;
static uint64_t		 next_req;

static const char	 form_error[] = "error=bad_verification_code&"
    "error_description=The+code+passed+is+incorrect+or+expired.";
static const char	 form_ok[] = "access_token=gho_16C7e42F292c6912E7710c8"
    "38347Ae178B4a&scope=repo&token_type=bearer";

/* An exchange as exchange.c drives it. */
struct ex {
	struct http1_parser	*e_hp;
	struct http1_head	 e_head;
	struct http1_target	 e_t;
	struct oauth_x		*e_o;
	char			 e_body[256];
};

static int
parse_head(struct http1_parser *hp, const char *msg, struct http1_head *h)
{
	struct http1_error	err;
	size_t			scan = 0, headlen = 0;

	if (http1_head_end(msg, strlen(msg), &scan, &headlen, &err) != 1)
		return -1;
	return http1_parse_head(hp, msg, headlen, 0, h, &err);
}

/* A token POST of code (form body), its head seen: the tracker. */
static void
ex_start(struct ex *e, const char *code)
{
	struct oauth_ctx	ctx = { &env, ++next_req, "127.0.0.1:1",
				    "github.com" };
	struct http1_error	err;
	char			head[512];
	unsigned		wflags = 0;

	memset(e, 0, sizeof(*e));
	snprintf(e->e_body, sizeof(e->e_body), "client_id=Ov23liAAAAAAAAAAAAAA"
	    "&client_secret=0123456789abcdef0123456789abcdef01234567&code=%s",
	    code);
	snprintf(head, sizeof(head), "POST http://github.com/login/oauth/"
	    "access_token HTTP/1.1\r\nHost: github.com\r\nContent-Type: "
	    "application/x-www-form-urlencoded\r\nAccept-Language: en\r\n"
	    "Content-Length: %zu\r\n\r\n", strlen(e->e_body));
	e->e_hp = http1_parser_new(HTTP1_REQUEST);
	CHECK(e->e_hp != NULL && parse_head(e->e_hp, head, &e->e_head) == 0);
	CHECK(http1_parse_target(&e->e_head, &e->e_t, &err) == 0);
	e->e_o = oauth_request(cf, &ctx, &e->e_head, &e->e_t, &wflags);
	CHECK(e->e_o != NULL);
	CHECK(wflags & HTTP1_W_DECODABLE);
}

/* The request body, passed on whole. */
static void
ex_request(struct ex *e)
{
	oauth_request_body(e->e_o, e->e_body, strlen(e->e_body));
	oauth_request_done(e->e_o);
}

/* The answer arrives (body held and inspected): the header line, if any,
 * copied into line. */
static void
ex_answer(struct ex *e, const char *body, enum oauth_outcome outcome,
    char *line, size_t linelen)
{
	struct http1_parser	*rp = http1_parser_new(HTTP1_RESPONSE);
	struct http1_head	 rh;
	char			 head[256];
	const char		*l;

	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/x-www-form-urlencoded; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n\r\n", strlen(body));
	CHECK(rp != NULL && parse_head(rp, head, &rh) == 0);
	CHECK(oauth_response_head(e->e_o, &rh) == 1);
	oauth_response_body(e->e_o, body, outcome == OAUTH_COMPLETE ?
	    strlen(body) : strlen(body) / 2);
	l = oauth_end(e->e_o, outcome);
	snprintf(line, linelen, "%s", l != NULL ? l : "");
	/* Only the first end counts. */
	CHECK(oauth_end(e->e_o, OAUTH_FAILED) == NULL);
	http1_parser_free(rp);
}

static void
ex_free(struct ex *e)
{
	oauth_free(e->e_o);
	http1_parser_free(e->e_hp);
}

static void
test_overlap(void)
{
	struct ex	a, b, c;
	char		line[4096];

	/* A's request is complete, its answer slow; B sends the same code
	 * and fails first: code_reused, naming A, in the overlap's words. */
	ex_start(&a, "c0de1");
	ex_request(&a);
	ex_start(&b, "c0de1");
	ex_request(&b);
	ex_answer(&b, form_error, OAUTH_COMPLETE, line, sizeof(line));
	CHECK(strstr(line, ";cause=code_reused") != NULL);
	CHECK(strstr(line, "still waiting") != NULL);
	CHECK(strstr(line, "req=1") != NULL);
	ex_answer(&a, form_ok, OAUTH_COMPLETE, line, sizeof(line));
	CHECK_STR(line, "");		/* a success is never annotated */
	/* C after A succeeded: the plain code_reused sentence, naming A. */
	ex_start(&c, "c0de1");
	ex_request(&c);
	ex_answer(&c, form_error, OAUTH_COMPLETE, line, sizeof(line));
	CHECK(strstr(line, ";cause=code_reused") != NULL);
	CHECK(strstr(line, "already exchanged") != NULL);
	CHECK(strstr(line, "req=1") != NULL);
	ex_free(&a);
	ex_free(&b);
	ex_free(&c);
}

static void
test_failed_before(void)
{
	struct ex	d, e;
	char		line[4096];

	/* D's answer comes before its request is complete (an origin that
	 * answers early): still recorded, once. */
	ex_start(&d, "bad77");
	oauth_request_body(d.e_o, d.e_body, strlen(d.e_body));
	ex_answer(&d, form_error, OAUTH_COMPLETE, line, sizeof(line));
	CHECK(strstr(line, "cause=") == NULL);	/* never seen: no claim */
	oauth_request_done(d.e_o);
	ex_start(&e, "bad77");
	ex_request(&e);
	ex_answer(&e, form_error, OAUTH_COMPLETE, line, sizeof(line));
	CHECK(strstr(line, ";cause=code_already_failed") != NULL);
	CHECK(strstr(line, "code_reused") == NULL);
	ex_free(&d);
	ex_free(&e);
}

static void
test_answer_lost(void)
{
	struct ex	f, g, h;
	char		line[4096];

	/* F's answer is cut: nobody knows whether the code was spent. */
	ex_start(&f, "lost9");
	ex_request(&f);
	ex_answer(&f, form_ok, OAUTH_CUT, line, sizeof(line));
	CHECK_STR(line, "");
	ex_start(&g, "lost9");
	ex_request(&g);
	ex_answer(&g, form_error, OAUTH_COMPLETE, line, sizeof(line));
	CHECK(line[0] != '\0' && strstr(line, "cause=") == NULL);
	/* H freed while in flight (client gone): it ends there too, and
	 * counts for nothing afterwards. */
	ex_start(&h, "gone5");
	ex_request(&h);
	oauth_free(h.e_o);
	http1_parser_free(h.e_hp);
	ex_start(&h, "gone5");
	ex_request(&h);
	ex_answer(&h, form_error, OAUTH_COMPLETE, line, sizeof(line));
	CHECK(line[0] != '\0' && strstr(line, "cause=") == NULL);
	ex_free(&f);
	ex_free(&g);
	ex_free(&h);
}

int
main(void)
{
	struct config_cli	cli;
	char			err[512];

	memset(&cli, 0, sizeof(cli));
	config_cli_add(&cli, confkey_find("lang"), "en");
	cf = config_load(&cli, err, sizeof(err));
	config_cli_clear(&cli);
	CHECK(cf != NULL);
	if (cf == NULL) {
		fprintf(stderr, "%s\n", err);
		return t_done();
	}
	env.oe_flow = flowmem_new(64, 3600, 600);
	env.oe_recent = &recent;
	env.oe_stats = &stats;
	test_overlap();
	test_failed_before();
	test_answer_lost();
	flowmem_free(env.oe_flow);
	free(recent);
	config_unref(cf);
	return t_done();
}
