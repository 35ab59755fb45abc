/* The directory's IPv6 table: (VDC, IPv6 address) -> the same record as
 * (VDC, IPv4) (docs/directory-protocol.md, "IPv6 keys").
 *
 * Part of the directory's core (dir/dir.c hands it REGISTER6, UNREGISTER6
 * and LOOKUP6 requests and their reply writer); I/O-free like the rest.
 * What it does not do yet, and IPv4 does: track leases and push changes,
 * persist registrations.  So an IPv6 answer carries a short lease
 * (DIR6_LEASE_MS): a holder sees a change when it ends, and agents register
 * their VMs' IPv6 addresses again at every start.
 */
#ifndef PEREGRINE_DIR_DIR6_H
#define PEREGRINE_DIR_DIR6_H

#include "lib/common.h"
#include "wire/dirproto.h"

enum dir6_limits {
	DIR6_LEASE_MS = 5000,		/* untracked: how stale an answer may get */
	DIR6_MAX_ENTRIES = 1 << 22,	/* default cap on (VDC, IPv6) entries */
};

/* Counters, appended to the directory's (dir/dir.h DIR_STATS). */
struct dir6_stats {
	uint64_t registers, unregisters, lookups, misses, invalid, full;
};

struct dir6;

struct dir6 *dir6_new(uint64_t seed, uint32_t max_entries, uint32_t neg_lease_ms);
void dir6_free(struct dir6 *t);
size_t dir6_count(const struct dir6 *t);
size_t dir6_mem_bytes(const struct dir6 *t);
const struct dir6_stats *dir6_stats(const struct dir6 *t);

/* One request of type DIRP_REGISTER6, DIRP_UNREGISTER6 or DIRP_LOOKUP6: a
 * reply record per request record into w (begun with the reply type). */
void dir6_request(struct dir6 *t, const struct dirp_msg *m, struct dirp_writer *w);

/* An address a VM may hold: not unspecified, loopback or multicast. */
bool dir6_addr_ok(const uint8_t ip6[16]);

#endif
