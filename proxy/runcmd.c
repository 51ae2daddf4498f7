/*
 * `oauthlens run -- CMD`. The child inherits the terminal and the
 * environment runenv set; the proxy serves until it ends, then exits
 * with its status. Arguments are never logged (they may hold secrets):
 * only the command's name and pid.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "runcmd.h"
#include "util.h"

static const int runcmd_sigs[] = { SIGINT, SIGTERM, SIGHUP };
#define NSIGS	(sizeof(runcmd_sigs) / sizeof(runcmd_sigs[0]))

struct runcmd {
	pid_t		 rc_pid;
	int		 rc_status;	/* 128 + signal, or exit code */
	int		 rc_done;
	struct event	*rc_chld;	/* owned: SIGCHLD */
	struct event	*rc_fwd[NSIGS];	/* owned: passed on */
	void		(*rc_cb)(void *);
	void		*rc_arg;	/* borrowed */
};

/* Ask for a page no server has; oauthlens's 404 (or 407) names it. Two
 * seconds at most. */
static int
is_oauthlens(int fd)
{
	static const char	 probe[] = "GET /oauthlens-run-probe HTTP/1.0"
				    "\r\n\r\n";
	struct timeval		 tv = { 2, 0 };
	char			 buf[2048];
	size_t			 have = 0;
	ssize_t			 n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (send(fd, probe, sizeof(probe) - 1, MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(probe) - 1)
		return 0;
	while (have < sizeof(buf) - 1 &&
	    (n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0)) > 0)
		have += (size_t)n;
	buf[have] = '\0';
	return memmem(buf, have, "oauthlens", 9) != NULL;
}

int
runcmd_listening(const char *listen)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 host[256], port[8];
	uint16_t	 p;
	int		 fd, up = 0;

	if (util_split_hostport(listen, host, sizeof(host), &p) == -1)
		return 0;
	if (strcmp(host, "0.0.0.0") == 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "127.0.0.1");
	else if (strcmp(host, "::") == 0)
		snprintf(host, sizeof(host), "::1");
	snprintf(port, sizeof(port), "%u", p);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return 0;
	for (ai = res; ai != NULL && !up; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			up = is_oauthlens(fd) ? 1 : -1;
		close(fd);
	}
	freeaddrinfo(res);
	return up;
}

int
runcmd_exec(char *const argv[])
{
	int	e;

	execvp(argv[0], argv);
	e = errno;
	fprintf(stderr, "oauthlens run: %s: %s\n", argv[0], strerror(e));
	return e == ENOENT ? 127 : 126;
}

/* Reap the child; once it is gone, tell the owner (once). */
static void
runcmd_chld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct runcmd	*rc = arg;
	pid_t		 pid;
	int		 st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid != rc->rc_pid || rc->rc_done)
			continue;
		rc->rc_done = 1;
		if (WIFSIGNALED(st)) {
			rc->rc_status = 128 + WTERMSIG(st);
			log_info("command (pid %d) killed by signal %d",
			    (int)pid, WTERMSIG(st));
		} else {
			rc->rc_status = WEXITSTATUS(st);
			log_info("command (pid %d) exited with status %d",
			    (int)pid, rc->rc_status);
		}
		rc->rc_cb(rc->rc_arg);
	}
}

/*
 * A terminal's ^C (or ^\, a hangup) reaches the whole foreground process
 * group, the child included: passing SIGINT on again would deliver it
 * twice (many dev servers take a second ^C as "exit now"). So SIGINT is
 * passed on only when we are not in the terminal's foreground group,
 * that is when someone signalled us alone; SIGTERM and SIGHUP always.
 */
static void
runcmd_fwd_cb(evutil_socket_t sig, short what, void *arg)
{
	struct runcmd	*rc = arg;
	pid_t		 fg = tcgetpgrp(STDIN_FILENO);

	if (rc->rc_done)
		return;
	if (sig == SIGINT && fg != -1 && fg == getpgrp()) {
		log_debug("signal %d: the terminal sent it to the command "
		    "too", (int)sig);
		return;
	}
	log_info("signal %d: passing it on to the command (pid %d)",
	    (int)sig, (int)rc->rc_pid);
	kill(rc->rc_pid, (int)sig);
}

struct runcmd *
runcmd_start(struct event_base *base, char *const argv[],
    void (*done)(void *), void *arg, char *err, size_t errlen)
{
	struct runcmd	*rc = xcalloc(1, sizeof(*rc));
	sigset_t	 none;
	size_t		 i;

	rc->rc_cb = done;
	rc->rc_arg = arg;
	/* Handlers first, so that a child quicker than us is not missed. */
	rc->rc_chld = evsignal_new(base, SIGCHLD, runcmd_chld_cb, rc);
	if (rc->rc_chld == NULL || evsignal_add(rc->rc_chld, NULL) == -1)
		goto fail;
	for (i = 0; i < NSIGS; i++) {
		rc->rc_fwd[i] = evsignal_new(base, runcmd_sigs[i],
		    runcmd_fwd_cb, rc);
		if (rc->rc_fwd[i] == NULL ||
		    evsignal_add(rc->rc_fwd[i], NULL) == -1)
			goto fail;
	}
	fflush(NULL);
	if ((rc->rc_pid = fork()) == -1) {
		snprintf(err, errlen, "cannot start %s: fork: %s", argv[0],
		    strerror(errno));
		runcmd_free(rc);
		return NULL;
	}
	if (rc->rc_pid == 0) {
		/* Caught signals revert to default at exec; ignored ones
		 * (SIGPIPE) must be given back by hand. */
		signal(SIGPIPE, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		_exit(runcmd_exec(argv));
	}
	log_info("running %s (pid %d) with the proxy settings", argv[0],
	    (int)rc->rc_pid);
	return rc;
fail:
	snprintf(err, errlen, "cannot handle signals for the command");
	runcmd_free(rc);
	return NULL;
}

int
runcmd_status(const struct runcmd *rc)
{
	return rc != NULL && rc->rc_done ? rc->rc_status : 1;
}

void
runcmd_free(struct runcmd *rc)
{
	size_t	i;

	if (rc == NULL)
		return;
	if (rc->rc_chld != NULL)
		event_free(rc->rc_chld);
	for (i = 0; i < NSIGS; i++)
		if (rc->rc_fwd[i] != NULL)
			event_free(rc->rc_fwd[i]);
	free(rc);
}
