/* The directory server's core: an I/O-free state machine.
 *
 * Events in: a datagram from an address at a time (dir_input), the timer
 * (dir_tick), entries restored from the store at start-up (dir_restore).
 * Actions out, in a struct dir_out: datagrams to send (each to one or many
 * addresses) and store writes.  The caller must make the store writes durable
 * BEFORE it sends any datagram of the same dir_out: that is what lets a reply
 * acknowledge a registration (docs/directory.md).  The one exception is a
 * batch whose every write is `soft` (availability bits only, soft state that
 * the RAS asserts again): it must be written before the datagrams, but need
 * not be synced to disk first, so that a fail-over never waits on a disk.
 *
 * Time comes in as a struct dir_now (monotonic ns for leases and timers, wall
 * ms for the replay window); randomness as a seed in the config.
 */
#ifndef PEREGRINE_DIR_DIR_H
#define PEREGRINE_DIR_DIR_H

#include "lib/auth.h"
#include "lib/common.h"
#include "lib/core.h"
#include "lib/prefault.h"
#include "wire/dirproto.h"

enum dir_limits {
	DIR_LEASE_MS = 30000,		/* default lease on a found entry */
	DIR_NEG_LEASE_MS = 1000,	/* default lease on NOT FOUND */
	DIR_SKEW_MS = 30000,		/* accepted |sender clock - ours| */
	DIR_REPLAY_WINDOW = 64,		/* sequence numbers remembered per session */
	DIR_MAX_ENTRIES = 1 << 24,	/* default cap on entries (live + draining) */
	DIR_MAX_LEASES = 1 << 25,	/* default cap on leases */
	DIR_MAX_CLIENTS = 1 << 20,	/* addresses holding leases */
	DIR_MAX_SESSIONS = 1 << 20,	/* replay windows */
	DIR_PUSH_RTO_MS = 20,		/* first retransmission of a push */
	DIR_PUSH_RTO_MAX_MS = 1000,	/* backoff cap: retried until the lease ends */
	DIR_PUSH_LEVELS = 7,		/* 20, 40, ... 640, 1000 ms */
	DIR_RETX_PER_TICK = 1 << 16,	/* pushes retransmitted per dir_tick */
	/* Entries (and replay sessions) checked for expired leases per tick,
	 * ticking every DIR_SWEEP_TICK_MS while there are more than one slice
	 * and leases are held (DIR_TICK_MS otherwise): 100K entries
	 * a second, in slices of about 0.1 ms (one of 4096 entries every 50 ms
	 * held lookups up for 0.7-1 ms each time, 1% of them at half load). */
	DIR_SWEEP_PER_TICK = 512,
	DIR_SWEEP_TICK_MS = 5,
	DIR_TICK_MS = 50,		/* longest sleep between ticks */
	DIR_STORE_KEY_LEN = 8,
	DIR_STORE_VAL_LEN = 40,
	DIR_STORE_FORMAT = 1,
	DIR_POL_KEY_LEN = 9,		/* a policy's store key: 'P', vdc, ip (dir/dirpol.h) */
};

/* The normalised VDC of the shared service-node range. */
#define DIR_VDC_SERVICE 0xffffffffu

struct dir_cfg {
	const struct auth_key *key;
	uint64_t seed;			/* session id, hash seeds */
	uint32_t lease_ms;		/* 0: DIR_LEASE_MS */
	uint32_t neg_lease_ms;		/* 0: DIR_NEG_LEASE_MS */
	uint32_t skew_ms;		/* 0: DIR_SKEW_MS */
	uint32_t service_net;		/* shared range (host order); mask 0: none */
	uint32_t service_mask;
	uint32_t max_entries;		/* 0: DIR_MAX_ENTRIES */
	uint32_t max_leases;		/* 0: DIR_MAX_LEASES */
	/* Address space reserved for each big table (its pages exist only once
	 * touched); 0: 16 GiB.  A process with many cores under an address-space
	 * limit (the simulator) takes less; a table outgrowing it is remapped. */
	size_t table_reserve;
	/* Called before a big table's mapping moves or goes (dir_big_tables);
	 * NULL: nothing to tell. */
	void (*table_moving)(void *arg);
	void *table_arg;
	struct core_log log;		/* lib/core.h; zero: no log lines */
	/* The store cannot hold policies (the replicated store: docs/ha.md):
	 * POL_SET and POL_DEL are answered DIRP_TRY_LATER with the reason. */
	bool no_policies;
};

struct dir_now {
	uint64_t ns;			/* monotonic */
	uint64_t wall_ms;		/* ms since the epoch */
};

/* A peer address: IPv4 (host order) << 16 | port. */
static inline uint64_t dir_addr(uint32_t ip, uint16_t port)
{
	return (uint64_t)ip << 16 | port;
}

struct dir_send {
	uint32_t off, len;		/* the datagram in out->buf */
	uint32_t dst, ndst;		/* its destinations in out->dsts */
};

struct dir_op {
	bool del;
	bool soft;	/* availability only: written, not synced, before sending */
	uint8_t key[DIR_STORE_KEY_LEN];
	uint8_t val[DIR_STORE_VAL_LEN];
};

/* A policy's store write (dir/dirpol.h): its key, and its value as
 * out->pbuf[off, off + len) (nothing for a delete). */
struct dir_pol_op {
	bool del;
	uint8_t key[DIR_POL_KEY_LEN];
	size_t off, len;
};

struct dir_out {
	/* policies' writes, made durable with ops (same rule) */
	struct dir_pol_op *pops;
	size_t npops, pops_cap;
	uint8_t *pbuf;
	size_t plen, pcap;
	uint8_t *buf;
	size_t len, cap;
	struct dir_send *sends;
	size_t nsends, sends_cap;
	uint64_t *dsts;
	size_t ndsts, dsts_cap;
	struct dir_op *ops;
	size_t nops, ops_cap;
};

void dir_out_init(struct dir_out *o);
void dir_out_reset(struct dir_out *o);
void dir_out_free(struct dir_out *o);

/* Why datagrams were dropped (counted, logged rate-limited). */
enum dir_drop {
	DIR_DROP_SHORT = DIRP_E_SHORT,
	DIR_DROP_OVERSIZE = DIRP_E_OVERSIZE,
	DIR_DROP_MAGIC = DIRP_E_MAGIC,
	DIR_DROP_VERSION = DIRP_E_VERSION,
	DIR_DROP_TYPE = DIRP_E_TYPE,
	DIR_DROP_LENGTH = DIRP_E_LENGTH,
	DIR_DROP_TAG = DIRP_E_TAG,
	DIR_DROP_FIELD = DIRP_E_FIELD,
	DIR_DROP_STALE = DIRP_E_COUNT,	/* timestamp outside the skew */
	DIR_DROP_REPLAY,		/* sequence number seen before */
	DIR_DROP_TOO_OLD,		/* below the replay window */
	DIR_DROP_SESSIONS,		/* replay table full */
	DIR_DROP_UNEXPECTED,		/* a reply or push type sent to us */
	DIR_DROP_COUNT
};

const char *dir_drop_name(int reason);

/* Counters, in the order the STATS reply carries them. */
#define DIR_STATS(X) \
	X(rx) X(tx_datagrams) X(dropped) \
	X(lookups) X(lookup_hits) X(lookup_misses) X(leases_refused) \
	X(registers) X(unregisters) X(moves) X(avail_changes) X(invalid_records) \
	X(pushes) X(push_retx) X(push_acked) X(push_lease_ended) \
	X(entries) X(draining) X(leases) X(clients) X(pending_pushes) X(sessions) \
	X(drop_short) X(drop_oversize) X(drop_magic) X(drop_version) X(drop_type) \
	X(drop_length) X(drop_tag) X(drop_field) X(drop_stale) X(drop_replay) \
	X(drop_too_old) X(drop_sessions) X(drop_unexpected) X(push_datagrams) \
	X(remote_changes) X(refused_read_only) \
	X(v6_entries) X(v6_registers) X(v6_unregisters) X(v6_lookups) \
	X(v6_lookup_misses) X(v6_invalid) X(v6_full) X(v6_pushes) X(v6_untracked) \
	X(lookup_default) \
	X(default_repushes) \
	X(grp_groups) X(grp_members) X(grp_joins) X(grp_leaves) X(grp_lookups) \
	X(grp_lookup_misses) X(grp_invalid) X(grp_full_vdc) X(grp_full_group) \
	X(pol_policies) X(pol_changes) X(pol_gets) X(pol_refused) X(pol_notes)

enum dir_stat {
#define X(n) DIR_STAT_##n,
	DIR_STATS(X)
#undef X
	DIR_STAT_COUNT
};
_Static_assert((int)DIR_STAT_COUNT <= (int)DIRP_MAX_STATS, "stats fit one reply");

const char *dir_stat_name(int i);

struct dir;

struct dir *dir_new(const struct dir_cfg *cfg);
void dir_free(struct dir *d);

/* Start-up: an entry as the store holds it (key and value from a dir_op),
 * or a policy (from a dir_pol_op, key DIR_POL_KEY_LEN bytes).
 * 0, or -EINVAL for a record this version cannot read. */
int dir_restore(struct dir *d, const uint8_t *key, size_t klen,
		const uint8_t *val, size_t vlen);

/* Replicated directory (docs/ha.md): a change another server made, as the
 * shared store holds it (key and value of a dir_op; val NULL: the entry was
 * deleted).  Applied whatever the versions say: the caller hands changes in
 * the store's order.  Lease holders get the change pushed (in out); no store
 * write comes out of it.  1 if the entry changed, 0 if not, -EINVAL for a
 * record this version cannot read. */
int dir_apply(struct dir *d, struct dir_now now, const uint8_t *key, size_t klen,
	      const uint8_t *val, size_t vlen, struct dir_out *out);

/* While read-only (the shared store cannot take writes), registrations,
 * unregistrations and moves are answered DIRP_TRY_LATER and counted in
 * refused_read_only; lookups, renewals and availability go on. */
void dir_set_read_only(struct dir *d, bool ro);

/* A datagram from `from` (dir_addr()). */
void dir_input(struct dir *d, struct dir_now now, uint64_t from,
	       const uint8_t *buf, size_t len, struct dir_out *out);

/* Retransmit due pushes, expire leases and replay windows.  Returns when it
 * wants to be called next (monotonic ns). */
uint64_t dir_tick(struct dir *d, struct dir_now now, struct dir_out *out);

/* Snapshot of the counters (indexed by enum dir_stat). */
void dir_get_stats(const struct dir *d, uint64_t stats[DIR_STAT_COUNT]);

/* Bytes of memory the tables hold now (for the memory figures). */
size_t dir_mem_bytes(const struct dir *d);

/* The big tables (those in their own mappings, see table_grow in dir.c), one
 * slot per table (base NULL while a table is small and on the heap): where
 * each starts, how many bytes of it are in use (its high-water mark: the
 * next growth touches the bytes just past it) and how many are mapped.  The
 * daemon shell hands them to a prefault helper (lib/prefault.h) so that the
 * serving loop's growth lands on pages already faulted in.  A span stays
 * valid until cfg.table_moving is called (a table outgrowing its
 * reservation) or dir_free. */
enum { DIR_SPANS = 5 };
_Static_assert((int)DIR_SPANS <= (int)PREFAULT_SPANS, "prefault slots");

void dir_big_tables(const struct dir *d, struct prefault_span out[DIR_SPANS]);

/* Shared range test: "10.254.0.0/16" -> net, mask.  False on bad syntax. */
bool dir_parse_cidr(const char *s, uint32_t *net, uint32_t *mask);

#endif
