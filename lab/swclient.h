/* A blocking client of the switchd protocol, for tools (`peregrine swctl`,
 * `peregrine lab`): send a request, wait for the matching reply, retransmit
 * the same request (same seq, so switchd applies it once) on timeout. */
#ifndef PEREGRINE_LAB_SWCLIENT_H
#define PEREGRINE_LAB_SWCLIENT_H

#include <netinet/in.h>
#include "wire/swproto.h"

enum swc_limits {
	SWC_TIMEOUT_MS = 200,	/* per attempt */
	SWC_TRIES = 5,
	SWC_MAX_DUMP = 1u << 24,	/* entries a dump may return */
};

struct swc {
	int fd;
	struct sockaddr_in to;
	struct auth_key key;
	uint32_t id;
	uint64_t seq;
	int timeout_ms, tries;
};

/* 0 or -errno. */
int swc_open(struct swc *c, const struct sockaddr_in *to, const struct auth_key *key,
	     uint32_t id);
void swc_close(struct swc *c);
/* Apply up to SWP_MAX_OPS operations; status[i] per op.  0, -ETIMEDOUT, -EIO. */
int swc_fib_ops(struct swc *c, const struct swp_op *ops, uint16_t n, uint8_t *status,
		uint32_t *used, uint32_t *cap);
/* The whole FIB, sorted by MAC (caller frees *out). */
int swc_dump_fib(struct swc *c, struct swp_fib_entry **out, uint32_t *n, uint32_t *used,
		 uint32_t *cap);
/* Only the counters: used and capacity. */
int swc_fib_use(struct swc *c, uint32_t *used, uint32_t *cap);
int swc_dump_ports(struct swc *c, struct swp_port **out, uint32_t *n);

#endif
