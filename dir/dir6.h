/* The directory's IPv6 table: (VDC, IPv6 address) -> the same record as
 * (VDC, IPv4) (docs/directory-protocol.md, "IPv6 keys").
 *
 * Part of the directory's core (dir/dir.c hands it REGISTER6, UNREGISTER6,
 * LOOKUP6 and ACK6 requests, the RAS's SET_AVAIL and MOVE records, and the
 * timer); I/O-free like the rest.
 *
 * Leases: a found LOOKUP6 answer gives the asker a lease of DIR6_LEASE_MS,
 * tracked per entry (up to DIR6_HOLDERS addresses).  A change to the entry
 * (another server, other MACs or availability bits) or its removal is
 * pushed to every holder whose lease runs (DIRP_UPDATE6), and retransmitted
 * with the IPv4 pushes' backoff (20 ms doubling to 1 s) until the holder
 * acknowledges it (DIRP_ACK6), asks again, or its lease ends.  The pushes
 * of one call are batched as the IPv4 ones: per holder, every record it is
 * owed in as few datagrams as fit; holders owed the same records share the
 * datagrams.
 *
 * Store: every change comes out through ctx->store (the daemon writes it
 * with the IPv4 entries, under a 20-byte key: dir/dir.h), and dir6_restore
 * takes the stored entries back at start-up.
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
	/* Pending pushes (one per holder and entry, the latest record)
	 * retransmitted per tick; the rest wait for the next tick. */
	DIR6_RETX_PER_TICK = 1 << 16,
};

/* Counters, appended to the directory's (dir/dir.h DIR_STATS). */
struct dir6_stats {
	uint64_t registers, unregisters, lookups, misses, invalid, full;
	uint64_t pushes;	/* records pushed (one per change and holder) */
	uint64_t untracked;	/* answers past DIR6_HOLDERS, not tracked */
	uint64_t push_datagrams;
	uint64_t retx;		/* records pushed again, not yet acknowledged */
	uint64_t acked;		/* pending pushes settled by an ACK6 */
	uint64_t lease_ended;	/* pending pushes dropped: the lease ended */
	uint64_t avail_changes;	/* entries whose availability bits changed */
	uint64_t moves;		/* entries that followed their VM's MOVE */
};

/* One UPDATE6 datagram: n records (at most DIRP_MAX_RECORDS6) to naddrs
 * addresses (dir_addr()). */
typedef void (*dir6_push_fn)(void *arg, const struct dirp_entry6 *recs, size_t n,
			     const uint64_t *addrs, size_t naddrs);

/* A store write: r's key, and its content unless del.  soft: availability
 * bits only (dir/dir.h, struct dir_op). */
typedef void (*dir6_store_fn)(void *arg, const struct dirp_entry6 *r, bool del, bool soft);

/* Who asks, when, and where the pushes and store writes go. */
struct dir6_ctx {
	uint64_t from;		/* the asker's address */
	uint64_t now_ms;	/* monotonic */
	dir6_push_fn push;
	dir6_store_fn store;	/* NULL: nothing stored */
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

/* An ACK6 from ctx->from: settles its pending pushes of the records'
 * versions or older.  No reply. */
void dir6_ack(struct dir6 *t, const struct dirp_msg *m, const struct dir6_ctx *ctx);

/* SET_AVAIL: the bit of `mac` in the scope's slots (enum dirp_scope) of every
 * entry holding it, as for IPv4.  Returns how many entries changed; *seen:
 * whether any entry holds the MAC at all. */
uint32_t dir6_set_avail(struct dir6 *t, const struct dirp_avail *a, bool *seen,
			const struct dir6_ctx *ctx);

/* MOVE of the VM whose primary MAC is vm_mac in VDC vdc: its entries take
 * the new server and intermediaries, both marked available (as the IPv4
 * entry does).  Returns how many entries changed. */
uint32_t dir6_move(struct dir6 *t, uint32_t vdc, const uint8_t vm_mac[6], uint32_t server,
		   const uint8_t im[2][6], const struct dir6_ctx *ctx);

/* Send the pushes queued by the calls above (all of them go out together,
 * batched): call once at the end of every input and tick. */
void dir6_flush(struct dir6 *t, const struct dir6_ctx *ctx);

/* Retransmit due pushes (queued: dir6_flush sends them); returns the next
 * deadline (monotonic ms), UINT64_MAX when nothing is pending. */
uint64_t dir6_tick(struct dir6 *t, const struct dir6_ctx *ctx);

/* Start-up: an entry as the store holds it (status, lease_ms ignored).
 * 0, or -EINVAL for one this version cannot take (bad MACs or address, a
 * key already held, the table full). */
int dir6_restore(struct dir6 *t, const struct dirp_entry6 *r);

/* An address a VM may hold: not unspecified, loopback or multicast. */
bool dir6_addr_ok(const uint8_t ip6[16]);

#endif
