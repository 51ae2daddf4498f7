#include <sys/resource.h>
#include <sys/stat.h>

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdint.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "ca.h"
#include "config.h"
#include "confkeys.h"
#include "diag.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "mitm.h"
#include "notify.h"
#include "oauth.h"
#include "status.h"
#include "trustfiles.h"
#include "oauthlens.h"
#include "parent.h"
#include "runcmd.h"
#include "runenv.h"
#include "upstream.h"
#include "util.h"

#define DRAIN_TICK_MS	100

static void
usage(FILE *f)
{
	fputs(
"usage: oauthlens [options]\n"
"       oauthlens [options] run -- CMD [ARGS...]\n"
"  -c, --config FILE          JSON config (comments allowed); default\n"
"                             conf/oauthlens.conf in the tree\n"
"      --check-config         parse config and catalog, print the settings,\n"
"                             exit 0 or 2\n"
"      --print-ca             print the CA path and how to trust it\n"
"      --env                  print shell lines for HTTP(S)_PROXY and CAs\n"
"      --new-ca               replace the CA (after changing --intercept)\n"
"  run -- CMD [ARGS...]       run CMD with the --env settings; serve while it\n"
"                             runs unless an oauthlens already listens\n"
"  -V, --version              print the version\n"
"  -h, --help                 this help\n", f);
	confkeys_usage(f);
}

static void
drain_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy	*px = arg;
	struct timeval	 tv = { 0, DRAIN_TICK_MS * 1000 };

	px->px_drain_ms += DRAIN_TICK_MS;
	conn_drain_all(px);
	if (TAILQ_EMPTY(&px->px_conns)) {
		event_base_loopexit(px->px_base, NULL);
		return;
	}
	if (px->px_drain_ms >= px->px_cfg->cf_to_drain_ms) {
		log_warnx("drain timeout: closing %u connections",
		    px->px_nconns);
		conn_close_all(px);
		event_base_loopexit(px->px_base, NULL);
		return;
	}
	evtimer_add(px->px_drain_timer, &tv);
}

/* Stop accepting and let the open connections finish. */
static void
proxy_stop(struct proxy *px)
{
	struct timeval	 tv = { 0, 0 };

	notify_stopping();
	px->px_draining = 1;
	listener_close_all(px);
	px->px_drain_timer = evtimer_new(px->px_base, drain_tick_cb, px);
	evtimer_add(px->px_drain_timer, &tv);
}

/* run: the command has ended, so has the proxy's job. */
static void
run_done_cb(void *arg)
{
	struct proxy	*px = arg;

	if (!px->px_draining)
		proxy_stop(px);
}

static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct proxy	*px = arg;

	if (px->px_draining) {
		log_warnx("second signal: exiting now");
		conn_close_all(px);
		event_base_loopexit(px->px_base, NULL);
		return;
	}
	log_info("signal %d: stopping, letting %u connections finish",
	    (int)sig, px->px_nconns);
	proxy_stop(px);
}

static int
same_str(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* At start and on reload: intercept hosts the CA may not sign for. */
static void
warn_outside_ca(struct proxy *px)
{
	size_t	i;

	if (px->px_ca == NULL)
		return;
	for (i = 0; i < px->px_cfg->cf_intercept.sl_n; i++)
		if (!ca_permits(px->px_ca, px->px_cfg->cf_intercept.sl_v[i]))
			log_warnx("intercept host %s is outside the name "
			    "constraints of %s, so clients will reject its "
			    "certificates; run oauthlens --new-ca once to make "
			    "a CA for the current intercept list (then trust "
			    "the new ca.pem)", px->px_cfg->cf_intercept.sl_v[i],
			    ca_cert_path(px->px_ca));
}

static void
reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct proxy	*px = arg;
	struct config	*cf;
	char		 err[512];

	notify_reloading();
	cf = config_load(px->px_cli, err, sizeof(err));
	if (cf != NULL && px->px_mitm != NULL && !same_str(cf->cf_upstream_ca,
	    px->px_cfg->cf_upstream_ca)) {
		if (mitm_set_upstream_ca(px->px_mitm, cf->cf_upstream_ca, err,
		    sizeof(err)) == -1) {
			config_unref(cf);
			cf = NULL;
		} else {
			upstream_pool_drop_tls(px->px_up);
			log_info("origins are now verified against the system "
			    "store%s%s", cf->cf_upstream_ca ? " and " : "",
			    cf->cf_upstream_ca ? cf->cf_upstream_ca : "");
		}
	}
	if (cf == NULL) {
		log_errorx("reload failed, keeping the running configuration: "
		    "%s", err);
		notify_ready(px);
		return;
	}
	if (!parent_same(cf, px->px_cfg)) {
		char	desc[1024];

		upstream_pool_drop_all(px->px_up);
		parent_describe(cf, desc, sizeof(desc));
		log_info("new exchanges go %s", desc[0] ? desc : "direct "
		    "(no upstream proxy)");
	}
	config_unref(px->px_cfg);
	px->px_cfg = cf;
	warn_outside_ca(px);
	log_setup(cf->cf_log_level, cf->cf_log_format, cf->cf_log_target);
	log_info("configuration reloaded from %s", cf->cf_path ?
	    cf->cf_path : "defaults");
	notify_ready(px);
}

/* epoll with the change list: a write event armed and disarmed in one
 * loop iteration costs no epoll_ctl (we never dup(2) sockets, which is
 * the case the flag is unsafe for). */
static struct event_base *
base_new(void)
{
	struct event_config	*ec = event_config_new();
	struct event_base	*base;

	if (ec == NULL)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

static struct evdns_base *
dns_setup(struct event_base *base)
{
	struct evdns_base	*dns;

	dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (dns == NULL) {
		log_warnx("no usable /etc/resolv.conf: only /etc/hosts, "
		    "--resolve and literal addresses will work");
		dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (dns != NULL)
			evdns_base_load_hosts(dns, NULL);
	}
	if (dns != NULL) {
		evdns_base_set_option(dns, "timeout:", "3");
		evdns_base_set_option(dns, "attempts:", "2");
	}
	return dns;
}

/* More descriptors mean more clients before accept back-off. */
static void
raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

enum {
	OPT_CHECK_CONFIG = 256, OPT_PRINT_CA, OPT_ENV, OPT_NEW_CA,
	OPT_KEY		/* OPT_KEY + i: confkeys[i] */
};

static const struct option fixedopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
	{ "print-ca", no_argument, NULL, OPT_PRINT_CA },
	{ "env", no_argument, NULL, OPT_ENV },
	{ "new-ca", no_argument, NULL, OPT_NEW_CA },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
};
#define NFIXEDOPTS	(sizeof(fixedopts) / sizeof(fixedopts[0]))

/* The fixed options, then one per config key that has one; the short
 * options of both in shorts. */
static struct option *
longopts_new(char *shorts, size_t slen)
{
	struct option	*o;
	size_t		 i, n;

	for (n = 0; confkeys[n].ck_key != NULL; n++)
		;
	o = xcalloc(NFIXEDOPTS + n + 1, sizeof(*o));
	memcpy(o, fixedopts, sizeof(fixedopts));
	/* "+": options end at the first operand, so that run's command
	 * keeps its own options. */
	snprintf(shorts, slen, "+:c:Vh");
	for (i = 0, n = NFIXEDOPTS; confkeys[i].ck_key != NULL; i++) {
		if (confkeys[i].ck_flag == NULL)
			continue;
		o[n].name = confkeys[i].ck_flag;
		o[n].has_arg = required_argument;
		o[n++].val = OPT_KEY + (int)i;
		if (confkeys[i].ck_short != 0)
			snprintf(shorts + strlen(shorts), slen - strlen(shorts),
			    "%c:", confkeys[i].ck_short);
	}
	return o;
}

/* The key whose option is ch, or NULL. */
static const struct confkey *
key_of_opt(int ch)
{
	size_t	i;

	for (i = 0; confkeys[i].ck_key != NULL; i++)
		if ((int)i + OPT_KEY == ch || (confkeys[i].ck_short != 0 &&
		    confkeys[i].ck_short == ch))
			return &confkeys[i];
	return NULL;
}

/* Parse the command line into cli, and *run to the command of "run --
 * CMD" (NULL without); exits 0 or 2 for help and errors. Options end at
 * the first operand ("+"), so CMD's own options stay CMD's. */
static void
parse_args(int argc, char **argv, struct config_cli *cli, int *check,
    char ***run)
{
	const struct confkey	*k;
	struct option		*longopts;
	char			 shorts[64];
	int			 ch;

	longopts = longopts_new(shorts, sizeof(shorts));
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': cli->cc_config = optarg; break;
		case OPT_CHECK_CONFIG: *check = 1; break;
		case OPT_PRINT_CA: cli->cc_print_ca = 1; break;
		case OPT_ENV: cli->cc_env = 1; break;
		case OPT_NEW_CA: cli->cc_new_ca = 1; break;
		case 'V':
			printf("oauthlens %s\n", OAUTHLENS_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			fprintf(stderr, "oauthlens: option %s needs a value "
			    "(see --help)\n", argv[optind - 1]);
			exit(2);
		default:
			if ((k = key_of_opt(ch)) != NULL) {
				config_cli_add(cli, k, optarg);
				break;
			}
			fprintf(stderr, "oauthlens: unknown option %s (see "
			    "--help)\n", argv[optind - 1]);
			exit(2);
		}
	}
	free(longopts);
	if (optind < argc && strcmp(argv[optind], "run") == 0) {
		optind++;
		if (optind < argc && strcmp(argv[optind], "--") == 0)
			optind++;
		else if (optind < argc && argv[optind][0] == '-') {
			fprintf(stderr, "oauthlens: options go before run: "
			    "oauthlens [options] run -- CMD [ARGS...]\n");
			exit(2);
		}
		if (optind == argc) {
			fprintf(stderr, "oauthlens: run needs a command: "
			    "oauthlens run -- CMD [ARGS...]\n");
			exit(2);
		}
		*run = argv + optind;
		return;
	}
	if (optind < argc) {
		fprintf(stderr, "oauthlens: unexpected argument %s (see "
		    "--help)\n", argv[optind]);
		exit(2);
	}
}

/* The CA directory: --certs/"certs", else systemd's $STATE_DIRECTORY,
 * else certs/ in the source tree, else ./certs. */
static const char *
certs_dir(const struct config *cf, char *buf, size_t len)
{
	const char	*sd = getenv("STATE_DIRECTORY");

	if (cf->cf_certs != NULL)
		return cf->cf_certs;
	if (sd != NULL && *sd != '\0') {
		snprintf(buf, len, "%.*s", (int)strcspn(sd, ":"), sd);
		return buf;
	}
	if (util_tree_path("certs", buf, len) != NULL)
		return buf;
	return "certs";
}

/* certs/ca-bundle.pem: the system store plus our CA, for runtimes whose
 * variable replaces the store (blind tunnels must still verify). */
static int
write_bundle(const struct ca *ca, const char *dir, char *out, size_t len)
{
	static const char *const stores[] = {
		"/etc/ssl/certs/ca-certificates.crt",
		"/etc/pki/tls/certs/ca-bundle.crt", NULL
	};
	char		 tmp[PATH_MAX], buf[8192];
	const char	*pem;
	size_t		 n, i;
	FILE		*in = NULL, *f;
	int		 fd;

	snprintf(out, len, "%s/ca-bundle.pem", dir);
	snprintf(tmp, sizeof(tmp), "%s/.ca-bundle.pem.XXXXXX", dir);
	if ((fd = mkstemp(tmp)) == -1)
		return -1;
	fchmod(fd, 0644);
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	for (i = 0; stores[i] != NULL && in == NULL; i++)
		in = fopen(stores[i], "r");
	while (in != NULL && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, f);
	if (in != NULL)
		fclose(in);
	pem = ca_cert_pem(ca, &n);
	fputs("\n# oauthlens development CA\n", f);
	fwrite(pem, 1, n, f);
	if (fclose(f) != 0 || rename(tmp, out) == -1) {
		unlink(tmp);
		return -1;
	}
	return 0;
}


/* Free whatever setup made; safe on a partly built proxy. */
static void
proxy_free(struct proxy *px)
{
	size_t	i;

	listener_close_all(px);
	conn_close_all(px);
	if (px->px_base != NULL)
		/* deferred frees */
		event_base_loop(px->px_base, EVLOOP_NONBLOCK);
	notify_stop(px);
	status_free(px);
	flowmem_free(px->px_flow);
	free(px->px_oauth);
	upstream_free(px->px_up);
	mitm_free(px->px_mitm);
	ca_free(px->px_ca);
	for (i = 0; i < sizeof(px->px_sig) / sizeof(px->px_sig[0]); i++)
		if (px->px_sig[i] != NULL)
			event_free(px->px_sig[i]);
	if (px->px_drain_timer != NULL)
		event_free(px->px_drain_timer);
	if (px->px_accept_timer != NULL)
		event_free(px->px_accept_timer);
	if (px->px_dns != NULL)
		evdns_base_free(px->px_dns, 0);
	if (px->px_base != NULL)
		event_base_free(px->px_base);
	config_unref(px->px_cfg);
}

/* Listen where systemd says (socket activation) or where configured. */
static int
listen_all(struct proxy *px, char *err, size_t errlen)
{
	int	nfds, i;
	size_t	j;

	if ((nfds = notify_listen_fds()) > 0) {
		for (i = 0; i < nfds; i++)
			if (listener_adopt(px, notify_listen_fd_start() + i,
			    err, errlen) == -1)
				return -1;
		return 0;
	}
	for (j = 0; j < px->px_cfg->cf_listen.sl_n; j++)
		if (listener_open(px, px->px_cfg->cf_listen.sl_v[j], err,
		    errlen) == -1)
			return -1;
	return 0;
}

/* Set up the CA and the TLS contexts; 0, or -1 with err. */
static int
tls_setup(struct proxy *px, const struct config_cli *cli, char *bundle,
    size_t blen, char *err, size_t errlen)
{
	char		 certsbuf[PATH_MAX];
	const char	*certs;

	certs = certs_dir(px->px_cfg, certsbuf, sizeof(certsbuf));
	px->px_ca = ca_open(certs, px->px_cfg->cf_ca_name_constraints ?
	    &px->px_cfg->cf_intercept : NULL, cli->cc_new_ca, err, errlen);
	if (px->px_ca == NULL)
		return -1;
	if (write_bundle(px->px_ca, certs, bundle, blen) == -1)
		snprintf(bundle, blen, "%s", ca_cert_path(px->px_ca));
	if (trustfiles_write(px->px_ca, certs, bundle, err, errlen) == -1)
		log_warnx("%s", err);
	warn_outside_ca(px);
	px->px_mitm = mitm_new(px->px_ca, px->px_cfg->cf_upstream_ca, err,
	    errlen);
	return px->px_mitm == NULL ? -1 : 0;
}

/* The variables of --env, --print-ca and run: the first listener, the
 * CA, and proxy_auth's credentials in the proxy URL when it is set. */
static void
proxy_runenv(struct proxy *px, struct runenv *re)
{
	char	userpass[1024];

	runenv_init(re, px->px_cfg->cf_listen.sl_v[0],
	    ca_cert_path(px->px_ca));
	if (config_proxy_userpass(px->px_cfg, userpass,
	    sizeof(userpass)) == 0) {
		runenv_set_auth(re, userpass);
		OPENSSL_cleanse(userpass, sizeof(userpass));
	}
}

/* run, before serving: set the variables; when an oauthlens already
 * listens, exec the command (returns only if that fails). */
static int
run_prepare(struct proxy *px, char **run)
{
	struct runenv	re;

	proxy_runenv(px, &re);
	if (runenv_apply(&re) == -1) {
		log_errorx("cannot set the environment for %s", run[0]);
		return 1;
	}
	switch (runcmd_listening(px->px_cfg->cf_listen.sl_v[0])) {
	case 0:
		return -1;
	case -1:
		log_errorx("something other than oauthlens listens on %s: "
		    "choose another address with -l",
		    px->px_cfg->cf_listen.sl_v[0]);
		return 1;
	}
	log_info("an oauthlens already listens on %s: running %s with its "
	    "settings", px->px_cfg->cf_listen.sl_v[0], run[0]);
	return runcmd_exec(run);
}

/* Everything between the command line and the event loop; the exit
 * status, or -1 to run the loop. */
static int
setup(struct proxy *px, struct config_cli *cli, int check, char **run,
    struct runcmd **child)
{
	char		 err[512], bundle[PATH_MAX];
	struct runenv	 re;
	struct listener	*l;
	int		 rc;
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	size_t		 i;

	if ((px->px_cfg = config_load(cli, err, sizeof(err))) == NULL) {
		fprintf(stderr, "oauthlens: %s\n", err);
		return 2;
	}
	if (check) {
		printf("%s: ok\n", cli->cc_config ? cli->cc_config :
		    "built-in defaults");
		confkeys_show(px->px_cfg, stdout);
		return 0;
	}
	log_setup(px->px_cfg->cf_log_level, px->px_cfg->cf_log_format,
	    px->px_cfg->cf_log_target);
	if (tls_setup(px, cli, bundle, sizeof(bundle), err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "oauthlens: %s\n", err);
		return 1;
	}
	if (cli->cc_print_ca || cli->cc_env) {
		proxy_runenv(px, &re);
		if (cli->cc_env)
			runenv_print_env(&re, stdout);
		else
			runenv_print_trust(&re, stdout);
		return 0;
	}
	if (run != NULL && (rc = run_prepare(px, run)) != -1)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if ((px->px_base = base_new()) == NULL ||
	    (px->px_dns = dns_setup(px->px_base)) == NULL) {
		log_errorx("cannot set up the event loop");
		return 1;
	}
	px->px_up = upstream_new(px->px_base, px->px_dns);
	px->px_flow = flowmem_new(px->px_cfg->cf_flow_max_entries,
	    px->px_cfg->cf_flow_max_age_s, px->px_cfg->cf_code_lifetime_s);
	px->px_oauth = xcalloc(1, sizeof(*px->px_oauth));
	px->px_oauth->oe_flow = px->px_flow;
	px->px_oauth->oe_recent = &px->px_recent;
	px->px_oauth->oe_stats = &px->px_stats;
	if (listen_all(px, err, sizeof(err)) == -1) {
		log_errorx("%s", err);
		return 1;
	}
	/* Under run, the signals are the command's (runcmd passes them on). */
	for (i = 0; run == NULL && i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		px->px_sig[i] = evsignal_new(px->px_base, sigs[i],
		    sigs[i] == SIGHUP ? reload_cb : stop_cb, px);
		if (px->px_sig[i] == NULL ||
		    evsignal_add(px->px_sig[i], NULL) == -1) {
			log_errorx("cannot handle signal %d", sigs[i]);
			return 1;
		}
	}
	TAILQ_FOREACH(l, &px->px_listeners, l_entry)
		log_info("listening on %s", l->l_name);
	parent_describe(px->px_cfg, err, sizeof(err));
	if (err[0] != '\0')
		log_info("requests go through the %s", err);
	else if (px->px_cfg->cf_upstream_proxy != NULL &&
	    strcmp(px->px_cfg->cf_upstream_proxy, "env") == 0)
		log_warnx("upstream_proxy is env, but neither HTTPS_PROXY nor "
		    "HTTP_PROXY is set: requests go direct");
	else if (px->px_cfg->cf_env_proxy[0] != '\0')
		log_info("upstream_proxy is not set: requests go direct, "
		    "though the environment names %s (upstream_proxy env "
		    "would go through it)", px->px_cfg->cf_env_proxy);
	px->px_start_ms = util_now_ms();
	notify_start(px);
	notify_ready(px);
	if (run != NULL && (*child = runcmd_start(px->px_base, run,
	    run_done_cb, px, err, sizeof(err))) == NULL) {
		log_errorx("%s", err);
		return 1;
	}
	return -1;
}

int
main(int argc, char **argv)
{
	struct config_cli	 cli;
	struct proxy		 px;
	struct runcmd		*child = NULL;
	char			 cfgbuf[PATH_MAX], **run = NULL;
	int			 check = 0, rc;

	memset(&cli, 0, sizeof(cli));
	/* Before run sets them to ourselves for its command. */
	parent_env_keep(&cli);
	parse_args(argc, argv, &cli, &check, &run);
	if (cli.cc_config == NULL)
		cli.cc_config = util_tree_path("conf/oauthlens.conf", cfgbuf,
		    sizeof(cfgbuf));
	memset(&px, 0, sizeof(px));
	TAILQ_INIT(&px.px_listeners);
	TAILQ_INIT(&px.px_conns);
	px.px_cli = &cli;
	if ((rc = setup(&px, &cli, check, run, &child)) == -1) {
		event_base_dispatch(px.px_base);
		log_info("stopped");
		rc = run != NULL ? runcmd_status(child) : 0;
	}
	runcmd_free(child);
	proxy_free(&px);
	config_cli_clear(&cli);
	return rc;
}
