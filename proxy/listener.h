/*
 * Listening sockets: bind, accept, the client ACL and the connection
 * limit, and back-off when descriptors run out.
 */
#ifndef OAUTHLENS_LISTENER_H
#define OAUTHLENS_LISTENER_H

#include <stddef.h>

struct proxy;

/* Bind and listen on "addr:port" / "[v6]:port". 0, or -1 with a reason
 * in err. */
int	 listener_open(struct proxy *px, const char *addr, char *err,
	    size_t errlen);

/* Serve an already listening socket (systemd socket activation). */
int	 listener_adopt(struct proxy *px, int fd, char *err, size_t errlen);

/* Stop accepting and close every listening socket. */
void	 listener_close_all(struct proxy *px);

#endif
