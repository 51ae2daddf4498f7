/*
 * The libevent fast path: reading and writing a bufferevent's socket
 * ourselves where libevent 2.1 would cost extra system calls. Written
 * against libevent 2.1.12 (Debian 12); each helper mirrors what that
 * version's bufferevent does around its own reads and writes (the frozen
 * ends of its evbuffers), and leaves errors and EOF for libevent to find.
 */
#ifndef OAUTHLENS_BEVIO_H
#define OAUTHLENS_BEVIO_H

#include <stddef.h>

struct bufferevent;

/* After libevent filled a plain socket's input with one full read, read
 * what the socket already holds, up to high bytes of input in all. */
void	 bevio_read_more(struct bufferevent *bev, size_t high);

/* Write what the output holds now (plain: evbuffer_write; TLS: SSL_write
 * while EV_WRITE is disabled). 1 when it wrote and the output fell to the
 * low-water mark (what libevent's write callback would report), else 0;
 * what was not written stays in the output for libevent. */
int	 bevio_write_now(struct bufferevent *bev);

#endif
