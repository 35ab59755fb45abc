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

enum dirc_udp_limits {
	DIRC_UDP_SERVERS = 8,		/* directory servers to fail over between */
	/* A server silent this long with a request in flight is given up for
	 * the next (a loaded server answers something every few ms; a lookup
	 * waiting behind a write in etcd may take longer, and is then asked
	 * of the next server, which is harmless in a replicated directory). */
	DIRC_UDP_FAILOVER_MS = 30,
	/* The same for writes (REGISTER, SET_AVAIL, ...): a replicated
	 * server answers them once etcd committed, which a loaded etcd takes
	 * 100 ms or more to do; with only writes in flight a slow server is
	 * not taken for a dead one (a dead one refuses datagrams: left at
	 * once).  At least failover_ms. */
	DIRC_UDP_WRITE_FAILOVER_MS = 300,
	/* A server given up is *suspect* this long: the client does not move
	 * back to it while another server is not suspect (a dead server and
	 * one slowed by etcd commits would otherwise take turns, 30 ms lost
	 * on the dead one each time). */
	DIRC_UDP_SUSPECT_MS = 1000,
};

/* The current time from the system clocks. */
struct dir_now dir_now_sys(void);

/* cfg.send and cfg.send_arg are filled in here.  NULL with -errno in *err
 * if the socket cannot be made. */
struct dirc_udp *dirc_udp_open(const struct sockaddr_in *server, struct dirc_cfg *cfg,
			       int *err);
void dirc_udp_close(struct dirc_udp *u);

/* A replicated directory (docs/ha.md): another server to move to when the
 * one in use stops answering, that is when its address refuses datagrams
 * (ICMP port unreachable: nothing listens there, the process died; moved
 * at once), or a read (a lookup, a renewal) has gone unanswered for
 * failover_ms (0: DIRC_UDP_FAILOVER_MS), or a write for
 * DIRC_UDP_WRITE_FAILOVER_MS, and no datagram came from it meanwhile.  The
 * server left is suspect for DIRC_UDP_SUSPECT_MS: the next server in turn
 * that is not suspect is taken; when every other one is, a silent server
 * is kept (it may be slow, the others are known bad) and a refusing one is
 * left for the one suspected longest ago.  What is in flight is sent to the
 * new server at once.  0, -ENOSPC past DIRC_UDP_SERVERS.
 * Lookups are hedged (dir/client.h) to the next server not suspect, else
 * to the next one left for silence only; its answer clears its suspicion.
 * They go out on a second socket: dirc_udp_fd() is an epoll fd of both. */
int dirc_udp_add_server(struct dirc_udp *u, const struct sockaddr_in *server);
void dirc_udp_set_failover_ms(struct dirc_udp *u, uint32_t ms);
/* Called after each move to another server (the caller renews its leases
 * there: the new server pushes only what it has leased). */
void dirc_udp_on_failover(struct dirc_udp *u, void (*fn)(void *arg, unsigned server),
			  void *arg);
/* The server in use (0: the one given to dirc_udp_open), and moves so far. */
unsigned dirc_udp_server(const struct dirc_udp *u);
uint64_t dirc_udp_failovers(const struct dirc_udp *u);
/* Moves because the server's address refused datagrams (of the above). */
uint64_t dirc_udp_refusals(const struct dirc_udp *u);
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

/* ---- policies, blocking (command-line tools, the lab) -------------------------
 * docs/directory-protocol.md, "Policies".  Each request waits up to
 * timeout_ms for its answer (the client retransmits meanwhile). */
struct dirc_pol_answer {
	uint8_t status;			/* enum dirp_status */
	uint32_t version;
	char why[DIRP_POL_CHUNK + 1];	/* a refusal's reason; "" */
};

/* Set (vdc, ip)'s policy to text, chunk by chunk: 0 with the directory's
 * last answer in *a (a refusal stops it), or -ETIMEDOUT, -EINVAL, -EBUSY. */
int dirc_udp_pol_set(struct dirc_udp *u, uint32_t vdc, uint32_t ip, const char *text,
		     uint32_t len, int timeout_ms, struct dirc_pol_answer *a);
/* Read (vdc, ip)'s policy: 0 with *a (status ok: *text malloc'd, *len
 * bytes, NUL-terminated), or -ETIMEDOUT, -EINVAL, -EBUSY. */
int dirc_udp_pol_get(struct dirc_udp *u, uint32_t vdc, uint32_t ip, int timeout_ms,
		     char **text, uint32_t *len, struct dirc_pol_answer *a);
/* Remove it: 0 with *a, or -ETIMEDOUT, -EINVAL, -EBUSY. */
int dirc_udp_pol_del(struct dirc_udp *u, uint32_t vdc, uint32_t ip, int timeout_ms,
		     struct dirc_pol_answer *a);

#endif
