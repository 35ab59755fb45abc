/* The directory's IPv6 table: (VDC, IPv6 address) -> the same record as
 * (VDC, IPv4) (docs/directory-protocol.md, "IPv6 keys").
 *
 * Part of the directory's core (dir/dir.c hands it REGISTER6, UNREGISTER6
 * and LOOKUP6 requests and their reply writer); I/O-free like the rest.
 *
 * Leases: a found LOOKUP6 answer gives the asker a lease of DIR6_LEASE_MS,
 * tracked per entry (up to DIR6_HOLDERS addresses).  A change to the entry
 * (another server, other MACs or bits) or its removal is pushed at once to
 * every holder whose lease runs (DIRP_UPDATE6, one datagram per change to
 * all of them).  IPv6 pushes are not acknowledged, so not retransmitted: a
 * holder renews at half its lease (agent/agent6.c), which bounds what a lost
 * push costs.  What IPv4 does and this table does not yet: persist its
 * entries (agents register their VMs' addresses again every 10 s and at
 * every start), SET_AVAIL and MOVE.
 */
#ifndef PEREGRINE_DIR_DIR6_H
#define PEREGRINE_DIR_DIR6_H

#include "lib/common.h"
#include "wire/dirproto.h"

enum dir6_limits {
	DIR6_LEASE_MS = 5000,		/* untracked: how stale an answer may get */
	DIR6_MAX_ENTRIES = 1 << 22,	/* default cap on (VDC, IPv6) entries */
	/* Lease holders tracked per entry: a server's agent is one holder, so
	 * an entry pushed to more servers than this is exceptional; one past
	 * it gets its answer untracked (counted untracked), and renews. */
	DIR6_HOLDERS = 1024,
};

/* Counters, appended to the directory's (dir/dir.h DIR_STATS). */
struct dir6_stats {
	uint64_t registers, unregisters, lookups, misses, invalid, full;
	uint64_t pushes;	/* records pushed (one per change and holder) */
	uint64_t untracked;	/* answers past DIR6_HOLDERS, not tracked */
};

/* A change to push: the record (status NOT_FOUND: removed) and the
 * addresses (dir_addr()) whose lease on it runs. */
typedef void (*dir6_push_fn)(void *arg, const struct dirp_entry6 *r, const uint64_t *addrs,
			     size_t n);

/* Who asks, when, and where the pushes go. */
struct dir6_ctx {
	uint64_t from;		/* the asker's address */
	uint64_t now_ms;	/* monotonic */
	dir6_push_fn push;
	void *arg;
};

struct dir6;

struct dir6 *dir6_new(uint64_t seed, uint32_t max_entries, uint32_t neg_lease_ms);
void dir6_free(struct dir6 *t);
size_t dir6_count(const struct dir6 *t);
size_t dir6_mem_bytes(const struct dir6 *t);
const struct dir6_stats *dir6_stats(const struct dir6 *t);

/* One request of type DIRP_REGISTER6, DIRP_UNREGISTER6 or DIRP_LOOKUP6: a
 * reply record per request record into w (begun with the reply type). */
void dir6_request(struct dir6 *t, const struct dirp_msg *m, struct dirp_writer *w,
		  const struct dir6_ctx *ctx);

/* An address a VM may hold: not unspecified, loopback or multicast. */
bool dir6_addr_ok(const uint8_t ip6[16]);

#endif
