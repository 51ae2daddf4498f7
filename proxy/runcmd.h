/*
 * `oauthlens run -- CMD`: the command as a child of the serving proxy
 * (fork/exec, signals passed on, its exit status reaped through the
 * event loop), or exec'd in place when a proxy already listens.
 */
#ifndef OAUTHLENS_RUNCMD_H
#define OAUTHLENS_RUNCMD_H

#include <stddef.h>

struct event_base;
struct runcmd;

/* Who listens at the listen address ("addr:port", "[v6]:port"; wildcards
 * are tried on loopback): 1 an oauthlens (it names itself when asked for
 * a page it does not have), 0 nobody, -1 something else. */
int	 runcmd_listening(const char *listen);

/* Replace this process with argv[0] (searched in PATH); returns only on
 * failure, after saying why on stderr, with 127 (not found) or 126. */
int	 runcmd_exec(char *const argv[]);

/* Start argv as a child; SIGINT, SIGTERM and SIGHUP sent to us are passed
 * on to it, and when it has ended done(arg) runs from the loop. argv is
 * borrowed for the call. NULL, with a reason in err, if it cannot
 * start. */
struct runcmd *runcmd_start(struct event_base *base, char *const argv[],
	    void (*done)(void *), void *arg, char *err, size_t errlen);

/* The exit status run reports: the child's, or 128 + its signal. */
int	 runcmd_status(const struct runcmd *rc);

/* Stop listening for signals and free; the child is not touched. NULL
 * is accepted. */
void	 runcmd_free(struct runcmd *rc);

#endif
