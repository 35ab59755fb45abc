/* The directory client on a UDP socket: the glue between struct dirc (no
 * I/O) and a program's event loop.  One connected, non-blocking socket: put
 * dirc_udp_fd() in your poll set or loop, call dirc_udp_readable() when it
 * is readable and dirc_udp_tick() when dirc_udp_tick()'s last answer comes
 * due.  dirc_udp_wait() is a small blocking helper for command-line tools.
 */
#ifndef PEREGRINE_DIR_CLIENT_UDP_H
#define PEREGRINE_DIR_CLIENT_UDP_H

#include <netinet/in.h>
#include "dir/client.h"

struct dirc_udp;

/* The current time from the system clocks. */
struct dir_now dir_now_sys(void);

/* cfg.send and cfg.send_arg are filled in here.  NULL with -errno in *err
 * if the socket cannot be made. */
struct dirc_udp *dirc_udp_open(const struct sockaddr_in *server, struct dirc_cfg *cfg,
			       int *err);
void dirc_udp_close(struct dirc_udp *u);
struct dirc *dirc_udp_client(struct dirc_udp *u);
int dirc_udp_fd(const struct dirc_udp *u);
/* The socket's local address (for tests and logs). */
int dirc_udp_local(const struct dirc_udp *u, struct sockaddr_in *a);

/* Read everything waiting and feed it to the client. */
void dirc_udp_readable(struct dirc_udp *u);
/* Retransmit; returns the next deadline (monotonic ns) or UINT64_MAX. */
uint64_t dirc_udp_tick(struct dirc_udp *u);
/* Serve the socket until cond(arg) is true or `timeout_ms` passes; 0 or
 * -ETIMEDOUT. */
int dirc_udp_wait(struct dirc_udp *u, bool (*cond)(void *arg), void *arg, int timeout_ms);

#endif
