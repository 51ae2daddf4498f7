/*
 * systemd integration: the notify protocol (READY, STATUS, WATCHDOG,
 * RELOADING, STOPPING) and socket activation. The only module, with the
 * journal sink in log.c, that includes systemd headers. Every call is a
 * no-op when not running under systemd.
 */
#ifndef OAUTHLENS_NOTIFY_H
#define OAUTHLENS_NOTIFY_H

struct proxy;

/* Sockets passed by systemd (LISTEN_FDS), or 0; their descriptors start
 * at notify_listen_fd_start(). */
int	 notify_listen_fds(void);
int	 notify_listen_fd_start(void);

/* Start the watchdog timer (half of WATCHDOG_USEC) when systemd asks for
 * one. 0 or -1. */
int	 notify_start(struct proxy *px);

/* READY=1 with a STATUS line. */
void	 notify_ready(struct proxy *px);

/* RELOADING=1 (before a reload) and STOPPING=1. */
void	 notify_reloading(void);
void	 notify_stopping(void);

/* Refresh STATUS= with the current counters. */
void	 notify_status(struct proxy *px);

/* Free the watchdog timer. */
void	 notify_stop(struct proxy *px);

#endif
