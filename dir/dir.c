/* The directory core (see dir.h and docs/directory.md).
 *
 * Tables, all arrays indexed by u32 with free lists, owned by struct dir:
 *   entries   (vdc, ip) -> MACs, server, availability, version, lease list
 *   leases    one per (entry, client): client and expiry, kept in one
 *             contiguous vector per entry (power-of-two size classes carved
 *             from one slab), so that finding a client's lease on an entry
 *             or walking every holder for a push reads adjacent memory
 *   clients   addresses holding leases, with their lease count
 *   pushes    pending UPDATE/INVALIDATE per (entry, client), on FIFO queues
 *             by retransmission level (each level has one timeout, so a
 *             queue is ordered by deadline)
 *   sessions  replay windows per sender session
 * An unregistered entry stays "draining" (a tombstone: lookups miss it) until
 * every lease on it has acknowledged the INVALIDATE or expired.
 */
#include "dir/dir.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lib/hash.h"
#include "lib/core.h"
#include "lib/rng.h"
#include "dir/dir6.h"
#include "dir/dirgrp.h"
#include "dir/dirpol.h"

#define NONE UINT32_MAX
#define DIR_BIG_TABLE ((size_t)4 << 20)	/* tables from this size on are mappings */
#define DIR_TABLE_RESERVE ((size_t)16 << 30)	/* address space per big table */

enum entry_state { E_FREE = 0, E_LIVE = 1, E_DRAINING = 2 };

struct entry {
	uint32_t vdc, ip;		/* normalised key */
	uint8_t mac[DIRP_NMACS][6];
	uint32_t server;
	uint32_t version;
	uint32_t lv;			/* lease vector: first slot in the slab */
	uint16_t nl;			/* leases in it */
	uint8_t avail;
	uint8_t state : 4;
	uint8_t lcls : 4;		/* vector capacity 1 << lcls */
	uint32_t mac_next[DIRP_NMACS];	/* MAC index chains; [0] is the free list */
};
_Static_assert(sizeof(struct entry) == 64, "one cache line per entry");

/* 8 bytes: 10 million leases fit in 80 MB plus the vectors' slack. */
struct lease {
	uint32_t client;		/* free block: next free block of its class */
	uint32_t expiry;		/* ms since d->t0 (see lease_ms_now) */
};

enum { LEASE_CLASSES = 16 };		/* vectors of 1 .. 32768 leases */

struct client {
	uint64_t addr;
	uint32_t nleases;		/* free list link when unused */
};

struct push {
	uint32_t entry, client;
	uint32_t prev, next;		/* queue of its level, or free list */
	uint8_t level;
	uint64_t due;
};

/* One client's run of d->batch, and a hash of its entries. */
struct push_span {
	uint64_t hash;
	uint32_t start, len;
};

struct session {
	uint64_t id;
	uint32_t link;			/* free list */
	bool used;
	uint64_t top;			/* highest sequence number seen */
	uint64_t bits;			/* bit i: top - i seen */
	uint64_t last_ms;		/* wall ms of the last accepted message */
};

/* A growable array of T with a free list; index NONE is never valid. */
#define POOL(T) struct { T *a; uint32_t n, cap, free, used; }

struct dir {
	struct dir_cfg cfg;
	uint64_t session;		/* ours, in every datagram we send */
	uint64_t seq, push_seq;

	POOL(struct entry) e;
	struct {
		struct lease *a;
		uint32_t n, cap;		/* slots carved, slots allocated */
		uint32_t free[LEASE_CLASSES];	/* free blocks per size class */
		uint32_t used;			/* leases held */
	} l;
	POOL(struct client) c;
	POOL(struct push) p;
	POOL(struct session) s;
	struct hmap by_key;		/* (vdc << 32 | ip) -> entry */
	struct hmap by_mac;		/* mac -> first entry holding it */
	struct hmap by_addr;		/* address -> client */
	struct hmap by_push;		/* (entry << 32 | client) -> push */
	struct hmap by_session;		/* session id -> session */
	uint32_t qhead[DIR_PUSH_LEVELS], qtail[DIR_PUSH_LEVELS];
	uint32_t vclock;		/* last version handed out */
	uint64_t t0;			/* origin of lease times (ns); moved by rebase() */
	bool t0_set;
	uint32_t sweep_e, sweep_s;	/* sweep cursors */
	uint64_t *scratch;		/* retransmission grouping */
	size_t scratch_cap;
	/* Pushes to send when the call ends, as (client << 32 | entry):
	 * every change and retransmission of one call go out together, one
	 * datagram per client with all its entries (push_flush). */
	uint64_t *batch;
	size_t nbatch, batch_cap;
	struct push_span *spans;
	size_t spans_cap;
	uint64_t st[DIR_STAT_COUNT];
	struct log_rl rl;
	bool read_only;			/* dir_set_read_only */
	struct dir6 *v6;		/* (VDC, IPv6) keys: dir/dir6.c */
	struct dirgrp *grp;		/* (VDC, group) members: dir/dirgrp.c */
	struct dirpol *pol;		/* (VDC, IP) policies: dir/dirpol.c */
};

static const uint32_t push_rto_ms[DIR_PUSH_LEVELS] = { 20, 40, 80, 160, 320, 640, 1000 };
_Static_assert(DIR_PUSH_RTO_MS == 20 && DIR_PUSH_RTO_MAX_MS == 1000, "rto table");

/* ---- pools ------------------------------------------------------------------ */

#define POOL_ALLOC(d, pool, link) pool_alloc_(&(d)->cfg, (void **)&(pool).a, sizeof(*(pool).a), \
	&(pool).n, &(pool).cap, &(pool).free, &(pool).used, \
	offsetof(__typeof__(*(pool).a), link))
#define POOL_FREE(pool, i, link) do { \
	(pool).a[i].link = (pool).free; (pool).free = (i); (pool).used--; } while (0)

/* Grow a table from old_n to new_n elements of `size` bytes.  Small tables
 * live on the heap.  From DIR_BIG_TABLE bytes on, a table gets its own
 * mapping of DIR_TABLE_RESERVE bytes of address space (pages exist only once
 * touched), so growing it within that costs nothing: no copy and no stall of
 * the serving loop (growing a 100 MB lease slab by realloc takes tens of
 * milliseconds), and the table never moves, so the huge pages it asks for
 * stay whole (big tables are read at random; TLB misses dominate a lookup's
 * cost).  Past the reservation, mremap moves page tables, not data. */
static size_t table_span(const struct dir_cfg *cfg, size_t bytes)
{
	return MAX(bytes, cfg->table_reserve);
}

static void *table_grow(const struct dir_cfg *cfg, void *a, size_t old_n, size_t new_n,
			size_t size)
{
	size_t old_b = old_n * size, new_b = new_n * size;
	void *p;

	assert(new_n >= old_n && new_n <= SIZE_MAX / size);
	if (new_b < DIR_BIG_TABLE)
		return xreallocarray(a, new_n, size);
	if (old_b < DIR_BIG_TABLE) {
		p = mmap(NULL, table_span(cfg, new_b), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			die("out of memory (%zu bytes): %s", new_b, strerror(errno));
		madvise(p, table_span(cfg, new_b), MADV_HUGEPAGE);
		if (old_b)
			memcpy(p, a, old_b);
		free(a);
		return p;
	}
	if (new_b <= table_span(cfg, old_b))
		return a;
	if (cfg->table_moving)	/* see dir_big_tables */
		cfg->table_moving(cfg->table_arg);
	p = mremap(a, table_span(cfg, old_b), new_b, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		die("out of memory (%zu bytes): %s", new_b, strerror(errno));
	madvise(p, new_b, MADV_HUGEPAGE);
	return p;
}

static void table_free(const struct dir_cfg *cfg, void *a, size_t n, size_t size)
{
	if (n * size < DIR_BIG_TABLE)
		free(a);
	else
		munmap(a, table_span(cfg, n * size));
}

static uint32_t pool_alloc_(const struct dir_cfg *cfg, void **a, size_t size, uint32_t *n,
			    uint32_t *cap, uint32_t *free_head, uint32_t *used, size_t link_off)
{
	uint32_t i;

	if (*free_head != NONE) {
		i = *free_head;
		memcpy(free_head, (uint8_t *)*a + (size_t)i * size + link_off, sizeof(uint32_t));
	} else {
		if (*n == *cap) {
			uint32_t old = *cap;

			*cap = *cap ? *cap + *cap / 2 : 64;
			*a = table_grow(cfg, *a, old, *cap, size);
		}
		i = (*n)++;
	}
	(*used)++;
	memset((uint8_t *)*a + (size_t)i * size, 0, size);
	return i;
}

/* ---- output --------------------------------------------------------------- */

void dir_out_init(struct dir_out *o)
{
	memset(o, 0, sizeof(*o));
}

void dir_out_reset(struct dir_out *o)
{
	o->len = o->nsends = o->ndsts = o->nops = 0;
	o->npops = o->plen = 0;
}

void dir_out_free(struct dir_out *o)
{
	free(o->buf);
	free(o->sends);
	free(o->dsts);
	free(o->ops);
	free(o->pops);
	free(o->pbuf);
	memset(o, 0, sizeof(*o));
}

#define GROW(arr, n, cap) do { if ((n) == (cap)) { \
	(cap) = (cap) ? (cap) * 2 : 64; (arr) = xreallocarray((arr), (cap), sizeof(*(arr))); } \
	} while (0)

/* Room for one more datagram at out->buf + out->len. */
static uint8_t *out_reserve(struct dir_out *o)
{
	if (o->cap - o->len < DIRP_MAX_DGRAM) {
		o->cap = MAX(o->cap * 2, (size_t)DIRP_MAX_DGRAM * 16);
		o->buf = xrealloc(o->buf, o->cap);
	}
	return o->buf + o->len;
}

/* Commit a datagram of len bytes written at out_reserve(); destinations
 * follow with out_dst(). */
static struct dir_send *out_commit(struct dir_out *o, size_t len)
{
	struct dir_send *s;

	GROW(o->sends, o->nsends, o->sends_cap);
	s = &o->sends[o->nsends++];
	s->off = (uint32_t)o->len;
	s->len = (uint32_t)len;
	s->dst = (uint32_t)o->ndsts;
	s->ndst = 0;
	o->len += len;
	return s;
}

static void out_dst(struct dir_out *o, struct dir_send *s, uint64_t addr)
{
	assert(s == &o->sends[o->nsends - 1]);
	GROW(o->dsts, o->ndsts, o->dsts_cap);
	o->dsts[o->ndsts++] = addr;
	s->ndst++;
}

static struct dir_op *out_op(struct dir_out *o)
{
	GROW(o->ops, o->nops, o->ops_cap);
	memset(&o->ops[o->nops], 0, sizeof(o->ops[0]));
	return &o->ops[o->nops++];
}

/* ---- names -------------------------------------------------------------------- */

const char *dir_stat_name(int i)
{
	static const char *const names[] = {
#define X(n) #n,
		DIR_STATS(X)
#undef X
	};

	return i >= 0 && i < DIR_STAT_COUNT ? names[i] : "?";
}

const char *dir_drop_name(int reason)
{
	switch (reason) {
	case DIR_DROP_STALE: return "stale-timestamp";
	case DIR_DROP_REPLAY: return "replay";
	case DIR_DROP_TOO_OLD: return "below-replay-window";
	case DIR_DROP_SESSIONS: return "sessions-full";
	case DIR_DROP_UNEXPECTED: return "unexpected-type";
	default: return dirp_err_name(-reason);
	}
}

bool dir_parse_cidr(const char *s, uint32_t *net, uint32_t *mask)
{
	char ip[32], *end;
	const char *slash = strchr(s, '/');
	struct in_addr a;
	long bits;

	if (!slash || (size_t)(slash - s) >= sizeof(ip))
		return false;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = 0;
	bits = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || bits < 1 || bits > 32 || inet_pton(AF_INET, ip, &a) != 1)
		return false;
	*mask = bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
	*net = ntohl(a.s_addr) & *mask;
	return true;
}

/* ---- life cycle ----------------------------------------------------------------- */

struct dir *dir_new(const struct dir_cfg *cfg)
{
	struct dir *d = xcalloc(1, sizeof(*d));
	struct rng r;

	d->cfg = *cfg;
	if (!d->cfg.table_reserve)
		d->cfg.table_reserve = DIR_TABLE_RESERVE;
	if (!d->cfg.lease_ms)
		d->cfg.lease_ms = DIR_LEASE_MS;
	if (!d->cfg.neg_lease_ms)
		d->cfg.neg_lease_ms = DIR_NEG_LEASE_MS;
	if (!d->cfg.skew_ms)
		d->cfg.skew_ms = DIR_SKEW_MS;
	if (!d->cfg.max_entries)
		d->cfg.max_entries = DIR_MAX_ENTRIES;
	if (!d->cfg.max_leases)
		d->cfg.max_leases = DIR_MAX_LEASES;
	rng_seed(&r, cfg->seed);
	d->session = rng_next(&r) | 1;
	hmap_init(&d->by_key, 1024, rng_next(&r));
	hmap_init(&d->by_mac, 1024, rng_next(&r));
	hmap_init(&d->by_addr, 64, rng_next(&r));
	hmap_init(&d->by_push, 64, rng_next(&r));
	hmap_init(&d->by_session, 64, rng_next(&r));
	d->e.free = d->c.free = d->p.free = d->s.free = NONE;
	for (int i = 0; i < LEASE_CLASSES; i++)
		d->l.free[i] = NONE;
	for (int i = 0; i < DIR_PUSH_LEVELS; i++)
		d->qhead[i] = d->qtail[i] = NONE;
	d->rl = (struct log_rl)LOG_RL_INIT(1000, 10);
	d->v6 = dir6_new(rng_next(&r), MIN(d->cfg.max_entries, (uint32_t)DIR6_MAX_ENTRIES),
			 d->cfg.neg_lease_ms);
	d->grp = dirgrp_new(rng_next(&r), d->cfg.neg_lease_ms);
	d->pol = dirpol_new(rng_next(&r));
	return d;
}

void dir_free(struct dir *d)
{
	if (!d)
		return;
	dir6_free(d->v6);
	dirgrp_free(d->grp);
	dirpol_free(d->pol);
	hmap_free(&d->by_key);
	hmap_free(&d->by_mac);
	hmap_free(&d->by_addr);
	hmap_free(&d->by_push);
	hmap_free(&d->by_session);
	table_free(&d->cfg, d->e.a, d->e.cap, sizeof(*d->e.a));
	table_free(&d->cfg, d->l.a, d->l.cap, sizeof(*d->l.a));
	table_free(&d->cfg, d->c.a, d->c.cap, sizeof(*d->c.a));
	table_free(&d->cfg, d->p.a, d->p.cap, sizeof(*d->p.a));
	table_free(&d->cfg, d->s.a, d->s.cap, sizeof(*d->s.a));
	free(d->scratch);
	free(d->batch);
	free(d->spans);
	free(d);
}

size_t dir_mem_bytes(const struct dir *d)
{
	const struct hmap *maps[] = { &d->by_key, &d->by_mac, &d->by_addr, &d->by_push,
				      &d->by_session };
	size_t n = sizeof(*d);

	n += (size_t)d->e.cap * sizeof(*d->e.a) + (size_t)d->l.cap * sizeof(*d->l.a);
	n += (size_t)d->c.cap * sizeof(*d->c.a) + (size_t)d->p.cap * sizeof(*d->p.a);
	n += (size_t)d->s.cap * sizeof(*d->s.a) + d->scratch_cap * sizeof(uint64_t);
	n += d->batch_cap * sizeof(uint64_t) + d->spans_cap * sizeof(struct push_span);
	for (size_t i = 0; i < ARRAY_SIZE(maps); i++)
		n += hmap_bytes(maps[i]);
	n += dir6_mem_bytes(d->v6) + dirgrp_mem_bytes(d->grp) + dirpol_mem_bytes(d->pol);
	return n;
}

static struct prefault_span span_of(const struct dir_cfg *cfg, void *a, uint32_t n,
				    uint32_t cap, size_t size)
{
	if ((size_t)cap * size < DIR_BIG_TABLE)
		return (struct prefault_span){ 0 };
	return (struct prefault_span){ .base = a, .used = (size_t)n * size,
				       .reserved = table_span(cfg, (size_t)cap * size) };
}

void dir_big_tables(const struct dir *d, struct prefault_span out[DIR_SPANS])
{
	out[0] = span_of(&d->cfg, d->e.a, d->e.n, d->e.cap, sizeof(*d->e.a));
	out[1] = span_of(&d->cfg, d->l.a, d->l.n, d->l.cap, sizeof(*d->l.a));
	out[2] = span_of(&d->cfg, d->c.a, d->c.n, d->c.cap, sizeof(*d->c.a));
	out[3] = span_of(&d->cfg, d->p.a, d->p.n, d->p.cap, sizeof(*d->p.a));
	out[4] = span_of(&d->cfg, d->s.a, d->s.n, d->s.cap, sizeof(*d->s.a));
}

void dir_get_stats(const struct dir *d, uint64_t st[DIR_STAT_COUNT])
{
	memcpy(st, d->st, sizeof(d->st));
	st[DIR_STAT_entries] = d->by_key.count;
	st[DIR_STAT_draining] = d->st[DIR_STAT_draining];
	st[DIR_STAT_leases] = d->l.used;
	st[DIR_STAT_clients] = d->c.used;
	st[DIR_STAT_pending_pushes] = d->p.used;
	st[DIR_STAT_sessions] = d->s.used;
	st[DIR_STAT_entries] -= d->st[DIR_STAT_draining];
	st[DIR_STAT_v6_entries] = dir6_count(d->v6);
	st[DIR_STAT_v6_registers] = dir6_stats(d->v6)->registers;
	st[DIR_STAT_v6_unregisters] = dir6_stats(d->v6)->unregisters;
	st[DIR_STAT_v6_lookups] = dir6_stats(d->v6)->lookups;
	st[DIR_STAT_v6_lookup_misses] = dir6_stats(d->v6)->misses;
	st[DIR_STAT_v6_invalid] = dir6_stats(d->v6)->invalid;
	st[DIR_STAT_v6_full] = dir6_stats(d->v6)->full;
	st[DIR_STAT_v6_pushes] = dir6_stats(d->v6)->pushes;
	st[DIR_STAT_v6_untracked] = dir6_stats(d->v6)->untracked;
	st[DIR_STAT_grp_groups] = dirgrp_count(d->grp);
	st[DIR_STAT_pol_policies] = dirpol_count(d->pol);
	st[DIR_STAT_grp_members] = dirgrp_members(d->grp);
	st[DIR_STAT_grp_joins] = dirgrp_stats(d->grp)->joins;
	st[DIR_STAT_grp_leaves] = dirgrp_stats(d->grp)->leaves;
	st[DIR_STAT_grp_lookups] = dirgrp_stats(d->grp)->lookups;
	st[DIR_STAT_grp_lookup_misses] = dirgrp_stats(d->grp)->misses;
	st[DIR_STAT_grp_invalid] = dirgrp_stats(d->grp)->invalid;
	st[DIR_STAT_grp_full_vdc] = dirgrp_stats(d->grp)->full_vdc;
	st[DIR_STAT_grp_full_group] = dirgrp_stats(d->grp)->full_group +
				      dirgrp_stats(d->grp)->full_table;
}

/* ---- keys, MACs and the MAC index ------------------------------------------------ */

static bool in_service(const struct dir *d, uint32_t ip)
{
	return d->cfg.service_mask && (ip & d->cfg.service_mask) == d->cfg.service_net;
}

/* The table key: service-range addresses belong to no VDC. */
static uint64_t norm_key(const struct dir *d, uint32_t vdc, uint32_t ip)
{
	if (in_service(d, ip))
		vdc = DIR_VDC_SERVICE;
	return (uint64_t)vdc << 32 | ip;
}

static uint32_t find_entry(const struct dir *d, uint32_t vdc, uint32_t ip)
{
	uint64_t *v = hmap_get(&d->by_key, norm_key(d, vdc, ip));

	return v ? (uint32_t)*v : NONE;
}

static int mac_slot(const struct entry *e, uint64_t mac)
{
	for (int s = 0; s < DIRP_NMACS; s++)
		if (wire_get48(e->mac[s]) == mac)
			return s;
	return -1;
}

static void mac_link(struct dir *d, uint32_t ei, int slot)
{
	struct entry *e = &d->e.a[ei];
	uint64_t mac = wire_get48(e->mac[slot]);
	uint64_t *head = hmap_get(&d->by_mac, mac);

	e->mac_next[slot] = head ? (uint32_t)*head : NONE;
	hmap_put(&d->by_mac, mac, ei);
}

static void mac_unlink(struct dir *d, uint32_t ei, int slot)
{
	uint64_t mac = wire_get48(d->e.a[ei].mac[slot]);
	uint64_t *head = hmap_get(&d->by_mac, mac);
	uint32_t *link, i;

	assert(head);
	if (*head == ei) {
		uint32_t next = d->e.a[ei].mac_next[slot];

		if (next == NONE)
			hmap_del(&d->by_mac, mac);
		else
			*head = next;
		return;
	}
	for (i = (uint32_t)*head; ; i = *link) {
		int s = mac_slot(&d->e.a[i], mac);

		assert(s >= 0);
		link = &d->e.a[i].mac_next[s];
		assert(*link != NONE);
		if (*link == ei) {
			*link = d->e.a[ei].mac_next[slot];
			return;
		}
	}
}

static void mac_index(struct dir *d, uint32_t ei, bool add)
{
	for (int s = 0; s < DIRP_NMACS; s++) {
		if (add)
			mac_link(d, ei, s);
		else
			mac_unlink(d, ei, s);
	}
}

/* Four unicast MACs, all different. */
static bool macs_ok(const uint8_t mac[DIRP_NMACS][6])
{
	for (int i = 0; i < DIRP_NMACS; i++) {
		if (!dirp_mac_ok(mac[i]))
			return false;
		for (int j = 0; j < i; j++)
			if (!memcmp(mac[i], mac[j], 6))
				return false;
	}
	return true;
}

/* ---- the store ---------------------------------------------------------------------- */

/* Value: format u8, avail u8, pad u16, version u32, server u32, 4 MACs, pad. */
static struct dir_op *store_put(struct dir_out *o, const struct entry *e)
{
	struct dir_op *op = out_op(o);

	wire_put32(op->key, e->vdc);
	wire_put32(op->key + 4, e->ip);
	op->val[0] = DIR_STORE_FORMAT;
	op->val[1] = e->avail;
	wire_put32(op->val + 4, e->version);
	wire_put32(op->val + 8, e->server);
	memcpy(op->val + 12, e->mac, sizeof(e->mac));
	return op;
}

static void store_del(struct dir_out *o, const struct entry *e)
{
	struct dir_op *op = out_op(o);

	op->del = true;
	wire_put32(op->key, e->vdc);
	wire_put32(op->key + 4, e->ip);
}

static uint32_t entry_add(struct dir *d, uint64_t key)
{
	uint32_t ei = POOL_ALLOC(d, d->e, mac_next[0]);

	d->e.a[ei].lv = NONE;
	d->e.a[ei].vdc = (uint32_t)(key >> 32);
	d->e.a[ei].ip = (uint32_t)key;
	hmap_put(&d->by_key, key, ei);
	return ei;
}

int dir_restore(struct dir *d, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	uint64_t k;
	uint32_t ei;
	struct entry *e;

	if (dirpol_is_key(key, klen))
		return dirpol_restore(d->pol, key, klen, val, vlen);
	if (klen != DIR_STORE_KEY_LEN || vlen != DIR_STORE_VAL_LEN || val[0] != DIR_STORE_FORMAT ||
	    val[1] > DIRP_AVAIL_ALL)
		return -EINVAL;
	k = (uint64_t)wire_get32(key) << 32 | wire_get32(key + 4);
	if (hmap_get(&d->by_key, k) || d->e.used >= d->cfg.max_entries)
		return -EINVAL;
	ei = entry_add(d, k);
	e = &d->e.a[ei];
	e->state = E_LIVE;
	e->avail = val[1];
	e->version = wire_get32(val + 4);
	e->server = wire_get32(val + 8);
	memcpy(e->mac, val + 12, sizeof(e->mac));
	if (!macs_ok(e->mac)) {
		hmap_del(&d->by_key, k);
		POOL_FREE(d->e, ei, mac_next[0]);
		return -EINVAL;
	}
	mac_index(d, ei, true);
	d->vclock = MAX(d->vclock, e->version);
	return 0;
}

/* ---- clients and leases ---------------------------------------------------------------- */

static uint32_t client_get(struct dir *d, uint64_t addr, bool create)
{
	uint64_t *v = hmap_get(&d->by_addr, addr);
	uint32_t ci;

	if (v)
		return (uint32_t)*v;
	if (!create || d->c.used >= DIR_MAX_CLIENTS)
		return NONE;
	ci = POOL_ALLOC(d, d->c, nleases);
	d->c.a[ci].addr = addr;
	hmap_put(&d->by_addr, addr, ci);
	return ci;
}

static void client_unref(struct dir *d, uint32_t ci)
{
	struct client *c = &d->c.a[ci];

	assert(c->nleases > 0);
	if (--c->nleases == 0) {
		hmap_del(&d->by_addr, c->addr);
		POOL_FREE(d->c, ci, nleases);
	}
}

static void push_unqueue(struct dir *d, uint32_t pi)
{
	struct push *p = &d->p.a[pi];

	if (p->prev != NONE)
		d->p.a[p->prev].next = p->next;
	else
		d->qhead[p->level] = p->next;
	if (p->next != NONE)
		d->p.a[p->next].prev = p->prev;
	else
		d->qtail[p->level] = p->prev;
}

static void push_enqueue(struct dir *d, uint32_t pi, uint8_t level, uint64_t now)
{
	struct push *p = &d->p.a[pi];

	p->level = level;
	p->due = now + (uint64_t)push_rto_ms[level] * 1000000ull;
	p->next = NONE;
	p->prev = d->qtail[level];
	if (p->prev != NONE)
		d->p.a[p->prev].next = pi;
	else
		d->qhead[level] = pi;
	d->qtail[level] = pi;
}

static uint64_t push_key(uint32_t ei, uint32_t ci)
{
	return (uint64_t)ei << 32 | ci;
}

static uint32_t push_find(const struct dir *d, uint32_t ei, uint32_t ci)
{
	uint64_t *v;

	if (!d->p.used)
		return NONE;
	v = hmap_get(&d->by_push, push_key(ei, ci));
	return v ? (uint32_t)*v : NONE;
}

static void push_remove(struct dir *d, uint32_t pi)
{
	struct push *p = &d->p.a[pi];

	push_unqueue(d, pi);
	hmap_del(&d->by_push, push_key(p->entry, p->client));
	POOL_FREE(d->p, pi, next);
}

/* (Re)start the push of entry ei to client ci. */
static void push_arm(struct dir *d, uint32_t ei, uint32_t ci, uint64_t now)
{
	uint32_t pi = push_find(d, ei, ci);

	if (pi != NONE) {
		push_unqueue(d, pi);
	} else {
		pi = POOL_ALLOC(d, d->p, next);
		d->p.a[pi].entry = ei;
		d->p.a[pi].client = ci;
		hmap_put(&d->by_push, push_key(ei, ci), pi);
	}
	push_enqueue(d, pi, 0, now);
}

static void entry_maybe_free(struct dir *d, uint32_t ei)
{
	struct entry *e = &d->e.a[ei];

	if (e->state != E_DRAINING || e->nl)
		return;
	hmap_del(&d->by_key, (uint64_t)e->vdc << 32 | e->ip);
	e->state = E_FREE;
	d->st[DIR_STAT_draining]--;
	POOL_FREE(d->e, ei, mac_next[0]);
}

/* ---- lease vectors ---- */

/* Lease times are u32 milliseconds since d->t0, which rebase() moves
 * forward every 2^31 ms (24 days) so they never wrap. */
static uint32_t lease_ms_now(struct dir *d, uint64_t now_ns)
{
	if (!d->t0_set) {
		d->t0 = now_ns;
		d->t0_set = true;
	}
	return now_ns <= d->t0 ? 0 : (uint32_t)MIN((now_ns - d->t0) / 1000000ull, (uint64_t)UINT32_MAX);
}

static void rebase(struct dir *d, uint64_t now_ns)
{
	uint32_t delta = lease_ms_now(d, now_ns);

	if (delta < (1u << 31))
		return;
	delta -= 1u << 20;	/* keep a margin below now */
	for (uint32_t ei = 0; ei < d->e.n; ei++) {
		const struct entry *e = &d->e.a[ei];

		for (uint32_t i = 0; e->state != E_FREE && i < e->nl; i++) {
			struct lease *l = &d->l.a[e->lv + i];

			l->expiry = l->expiry > delta ? l->expiry - delta : 0;
		}
	}
	d->t0 += (uint64_t)delta * 1000000ull;
}

static uint32_t lv_alloc(struct dir *d, unsigned cls)
{
	uint32_t off = d->l.free[cls], len = 1u << cls;

	if (off != NONE) {
		d->l.free[cls] = d->l.a[off].client;
		return off;
	}
	if (d->l.n + len > d->l.cap) {
		uint32_t old = d->l.cap;

		d->l.cap = MAX(d->l.cap + d->l.cap / 2, d->l.n + len);
		d->l.cap = MAX(d->l.cap, 1024u);
		d->l.a = table_grow(&d->cfg, d->l.a, old, d->l.cap, sizeof(*d->l.a));
	}
	off = d->l.n;
	d->l.n += len;
	return off;
}

static void lv_free(struct dir *d, uint32_t off, unsigned cls)
{
	d->l.a[off].client = d->l.free[cls];
	d->l.free[cls] = off;
}

/* An entry's lease vector is sorted by client index, so that finding one
 * holder of an entry every agent caches (a gateway, a service node) is a
 * binary search, not a walk over 100,000 holders on every renewal.  Short
 * vectors are scanned: that is faster than searching them. */
enum { LEASE_SCAN = 16 };

/* Position of client ci in entry e's vector, or where it would go. */
static uint32_t lease_pos(const struct dir *d, const struct entry *e, uint32_t ci)
{
	const struct lease *v = &d->l.a[e->lv];
	uint32_t lo = 0, hi = e->nl;

	while (hi - lo > LEASE_SCAN) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (v[mid].client < ci)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo < hi && v[lo].client < ci)
		lo++;
	return lo;
}

/* Index in the slab of client ci's lease on entry ei, or NONE. */
static uint32_t lease_find(const struct dir *d, uint32_t ei, uint32_t ci)
{
	const struct entry *e = &d->e.a[ei];
	uint32_t i;

	if (e->nl == 0)
		return NONE;
	i = lease_pos(d, e, ci);
	return i < e->nl && d->l.a[e->lv + i].client == ci ? e->lv + i : NONE;
}

static bool lease_add(struct dir *d, uint32_t ei, uint32_t ci, uint32_t expiry)
{
	struct entry *e = &d->e.a[ei];
	struct lease *l;
	uint32_t pos;

	if (e->lv == NONE) {
		e->lv = lv_alloc(d, 0);
		e->lcls = 0;
	} else if (e->nl == 1u << e->lcls) {
		uint32_t off;

		if (e->lcls == LEASE_CLASSES - 1)
			return false;
		off = lv_alloc(d, e->lcls + 1u);
		e = &d->e.a[ei];
		memcpy(&d->l.a[off], &d->l.a[e->lv], sizeof(struct lease) * e->nl);
		lv_free(d, e->lv, e->lcls);
		e->lv = off;
		e->lcls++;
	}
	pos = lease_pos(d, e, ci);
	l = &d->l.a[e->lv + pos];
	memmove(l + 1, l, sizeof(*l) * (e->nl - pos));
	e->nl++;
	l->client = ci;
	l->expiry = (uint32_t)expiry;
	d->l.used++;
	d->c.a[ci].nleases++;
	return true;
}

/* Client ci no longer holds a lease on entry ei: its pending push goes, and
 * its count.  The caller takes the lease out of the vector. */
static void lease_release(struct dir *d, uint32_t ei, uint32_t ci)
{
	uint32_t pi = push_find(d, ei, ci);

	if (pi != NONE) {
		push_remove(d, pi);
		d->st[DIR_STAT_push_lease_ended]++;
	}
	d->l.used--;
	client_unref(d, ci);
}

static void lease_vector_shrunk(struct dir *d, struct entry *e)
{
	if (e->nl == 0 && e->lv != NONE) {
		lv_free(d, e->lv, e->lcls);
		e->lv = NONE;
	}
}

/* Remove the lease at slot i of entry ei's vector and its pending push. */
static void lease_drop(struct dir *d, uint32_t ei, uint32_t i)
{
	struct entry *e = &d->e.a[ei];
	struct lease *l = &d->l.a[e->lv + i];
	uint32_t ci = l->client;

	memmove(l, l + 1, sizeof(*l) * (e->nl - i - 1));
	e->nl--;
	lease_vector_shrunk(d, e);
	lease_release(d, ei, ci);
}

/* Drop the expired leases of an entry (one pass that keeps the order);
 * free the entry if it was draining and done. */
static void entry_expire(struct dir *d, uint32_t ei, uint32_t now)
{
	struct entry *e = &d->e.a[ei];
	uint32_t kept = 0;

	for (uint32_t i = 0; i < e->nl; i++) {
		struct lease l = d->l.a[e->lv + i];

		if (l.expiry > now)
			d->l.a[e->lv + kept++] = l;
		else
			lease_release(d, ei, l.client);
	}
	e->nl = kept;
	lease_vector_shrunk(d, e);
	entry_maybe_free(d, ei);
}

/* Give client ci a lease on entry ei until `expiry`; false if no room.  A
 * pending push to this client is settled: the reply carries the entry. */
static bool lease_grant(struct dir *d, uint32_t ei, uint32_t ci, uint32_t expiry)
{
	uint32_t li = lease_find(d, ei, ci), pi;

	if (li != NONE) {
		d->l.a[li].expiry = expiry;
		if ((pi = push_find(d, ei, ci)) != NONE)
			push_remove(d, pi);
		return true;
	}
	if (d->l.used >= d->cfg.max_leases)
		return false;
	return lease_add(d, ei, ci, expiry);
}

/* ---- messages out ------------------------------------------------------------------------ */

static void entry_record(const struct dir *d, uint32_t ei, struct dirp_entry *r)
{
	const struct entry *e = &d->e.a[ei];

	memset(r, 0, sizeof(*r));
	r->vdc = e->vdc;
	r->ip = e->ip;
	r->version = e->version;
	if (e->state != E_LIVE) {
		r->status = DIRP_NOT_FOUND;
		return;
	}
	r->avail = e->avail;
	r->server = e->server;
	memcpy(r->mac, e->mac, sizeof(r->mac));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Queue the push of entry ei to client ci for the end of this call. */
static void push_later(struct dir *d, uint32_t ci, uint32_t ei)
{
	GROW(d->batch, d->nbatch, d->batch_cap);
	d->batch[d->nbatch++] = (uint64_t)ci << 32 | ei;
}

/* Entry ei changed: push it to every live lease holder. */
static void entry_changed(struct dir *d, uint32_t ei, struct dir_now now, struct dir_out *o)
{
	(void)o;
	entry_expire(d, ei, lease_ms_now(d, now.ns));
	if (d->e.a[ei].state == E_FREE)
		return;
	for (uint32_t i = 0; i < d->e.a[ei].nl; i++) {
		uint32_t ci = d->l.a[d->e.a[ei].lv + i].client;

		push_later(d, ci, ei);
		push_arm(d, ei, ci, now.ns);
		d->st[DIR_STAT_pushes]++;
	}
}

static int cmp_span(const void *a, const void *b)
{
	const struct push_span *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* The entries of two spans (low 32 bits of their batch items) are equal. */
static bool span_same(const struct dir *d, const struct push_span *a, const struct push_span *b)
{
	if (a->hash != b->hash || a->len != b->len)
		return false;
	for (uint32_t i = 0; i < a->len; i++)
		if ((uint32_t)d->batch[a->start + i] != (uint32_t)d->batch[b->start + i])
			return false;
	return true;
}

/* The datagrams of one group of clients holding the same entries: UPDATEs
 * for the live ones, then INVALIDATEs, as many records to a datagram as fit;
 * each datagram is shared by every client of the group. */
static void push_group(struct dir *d, const struct push_span *g, size_t ng, struct dir_now now,
		       struct dir_out *o)
{
	unsigned max = dirp_max_records(DIRP_UPDATE);

	for (int pass = 0; pass < 2; pass++) {
		uint8_t type = pass ? DIRP_INVALIDATE : DIRP_UPDATE;
		uint32_t i = 0;

		while (i < g[0].len) {
			struct dirp_hdr h = { .type = type, .session = d->session,
					      .time_ms = now.wall_ms };
			struct dirp_writer w;
			struct dir_send *s;
			unsigned k = 0;

			for (; i < g[0].len && k < max; i++) {
				uint32_t ei = (uint32_t)d->batch[g[0].start + i];
				struct dirp_entry r;

				if ((d->e.a[ei].state == E_LIVE) == (bool)pass)
					continue;
				if (!k++) {
					h.seq = ++d->push_seq;
					dirp_begin(&w, out_reserve(o), DIRP_MAX_DGRAM, &h);
				}
				entry_record(d, ei, &r);
				dirp_put_entry(&w, &r);
			}
			if (!k)
				break;
			s = out_commit(o, dirp_finish(&w, d->cfg.key));
			for (size_t j = 0; j < ng; j++)
				out_dst(o, s, d->c.a[d->batch[g[j].start] >> 32].addr);
			d->st[DIR_STAT_push_datagrams]++;
		}
	}
}

/* Send the pushes of this call: per client, every entry queued for it (the
 * latest version of each, once), in as few datagrams as fit them; clients
 * with the same entries share datagrams (a change to one entry held by N
 * clients is one datagram to N addresses, as the fan-out benchmark sends
 * it).  A push settled or dropped since it was queued is not sent. */
static void push_flush(struct dir *d, struct dir_now now, struct dir_out *o)
{
	size_t n = d->nbatch, k = 0, nspans = 0;

	if (!n)
		return;
	d->nbatch = 0;
	qsort(d->batch, n, sizeof(uint64_t), cmp_u64);
	for (size_t i = 0; i < n; i++) {
		uint64_t v = d->batch[i];

		if ((k && d->batch[k - 1] == v) ||
		    push_find(d, (uint32_t)v, (uint32_t)(v >> 32)) == NONE)
			continue;
		d->batch[k++] = v;
	}
	for (size_t i = 0; i < k;) {
		uint32_t ci = (uint32_t)(d->batch[i] >> 32);
		struct push_span *sp;
		uint64_t hsh = 0x9e3779b97f4a7c15ull;
		size_t j = i;

		for (; j < k && (uint32_t)(d->batch[j] >> 32) == ci; j++)
			hsh = hash_u64(hsh ^ (uint32_t)d->batch[j], 0x7075736873ull);
		GROW(d->spans, nspans, d->spans_cap);
		sp = &d->spans[nspans++];
		*sp = (struct push_span){ .hash = hsh, .start = (uint32_t)i,
					  .len = (uint32_t)(j - i) };
		i = j;
	}
	qsort(d->spans, nspans, sizeof(*d->spans), cmp_span);
	for (size_t i = 0; i < nspans;) {
		size_t j = i + 1;

		while (j < nspans && span_same(d, &d->spans[i], &d->spans[j]))
			j++;
		push_group(d, &d->spans[i], j - i, now, o);
		i = j;
	}
}

static void bump(struct dir *d, uint32_t ei)
{
	d->e.a[ei].version = ++d->vclock;
}

/* ---- requests ------------------------------------------------------------------------------- */

struct req {
	struct dir *d;
	struct dir_now now;
	uint64_t from;
	const struct dirp_msg *m;
	struct dir_out *o;
	struct dirp_writer w;
	const struct auth_key *rkey;	/* tags the reply: the key that tagged the request */
	/* The reply is built here, not in o->buf: pushes made while handling
	 * the request may move o->buf. */
	uint8_t reply[DIRP_MAX_DGRAM];
};

static void reply_begin(struct req *q)
{
	struct dirp_hdr h = {
		.type = q->m->h.type | DIRP_REPLY_BIT, .session = q->d->session,
		.seq = ++q->d->seq, .time_ms = q->now.wall_ms, .req_id = q->m->h.req_id,
	};

	dirp_begin(&q->w, q->reply, sizeof(q->reply), &h);
}

static void reply_end(struct req *q)
{
	size_t len = dirp_finish(&q->w, q->rkey);
	struct dir_send *s;

	memcpy(out_reserve(q->o), q->reply, len);
	s = out_commit(q->o, len);
	out_dst(q->o, s, q->from);
}

/* A request's lookups are independent: start every memory access of one
 * stage for all of them before using any (hash slots, then entries, then
 * lease vectors), so that the cache misses overlap instead of queueing. */
static void lookup_prefetch(const struct dir *d, const struct dirp_msg *m, uint32_t *eis)
{
	const struct hmap *h = &d->by_key;
	unsigned n = m->h.count;

	for (unsigned i = 0; i < n; i++) {
		struct dirp_key k;

		dirp_get_key(m, i, &k);
		hmap_prefetch(h, norm_key(d, k.vdc, k.ip));
	}
	for (unsigned i = 0; i < n; i++) {
		struct dirp_key k;

		dirp_get_key(m, i, &k);
		eis[i] = find_entry(d, k.vdc, k.ip);
		if (eis[i] != NONE)
			__builtin_prefetch(&d->e.a[eis[i]]);
	}
	for (unsigned i = 0; i < n; i++)
		if (eis[i] != NONE && d->e.a[eis[i]].nl)
			__builtin_prefetch(&d->l.a[d->e.a[eis[i]].lv], 1);
}

/* An address the VDC has not registered resolves to the VDC's default
 * route, the entry registered at (VDC, 0.0.0.0): its leg of the Internet
 * gateway (docs/edge.md).  The answer keeps the asked address, so the agent
 * caches (VDC, outside address) -> the gateway's MACs, and the lease is the
 * gateway entry's.  Without such an entry a miss stays a miss. */
static uint32_t default_route(struct dir *d, uint32_t ei, const struct dirp_key *k)
{
	uint32_t gw;

	if ((ei != NONE && d->e.a[ei].state == E_LIVE) || k->ip == 0 || k->vdc == DIR_VDC_SERVICE ||
	    in_service(d, k->ip))
		return ei;
	gw = find_entry(d, k->vdc, 0);
	if (gw == NONE || d->e.a[gw].state != E_LIVE)
		return ei;
	d->st[DIR_STAT_lookup_default]++;
	return gw;
}

/* An address that has just become live in a VDC with a default route may
 * have been answered with the gateway until now (a lookup made before its VM
 * registered, at start-up): every holder of the default route's lease gets
 * a lease on the new entry until the default route's lease ends, so the
 * push that follows replaces the gateway in its cache (an agent that never
 * asked for the address ignores the push, and the lease runs out).  */
static void default_holders_lease(struct dir *d, uint32_t ei, uint32_t now_ms)
{
	const struct entry *e = &d->e.a[ei];
	uint32_t gw;

	if (e->ip == 0 || e->vdc == DIR_VDC_SERVICE)
		return;
	gw = find_entry(d, e->vdc, 0);
	if (gw == NONE || d->e.a[gw].state != E_LIVE)
		return;
	/* by index: granting a lease on ei may move the lease pool */
	for (uint32_t i = 0; i < d->e.a[gw].nl; i++) {
		struct lease l = d->l.a[d->e.a[gw].lv + i];

		if (l.expiry <= now_ms)
			continue;
		if (lease_grant(d, ei, l.client, l.expiry))
			d->st[DIR_STAT_default_repushes]++;
		else
			d->st[DIR_STAT_leases_refused]++;
	}
}

static void do_lookup(struct req *q)
{
	struct dir *d = q->d;
	uint32_t ci = client_get(d, q->from, true), eis[DIRP_MAX_RECORDS];
	/* Rounded up: the directory never ends a lease before its holder does
	 * (holders count from when they sent the request). */
	uint32_t expiry = lease_ms_now(d, q->now.ns) + d->cfg.lease_ms + 1;

	lookup_prefetch(d, q->m, eis);
	for (unsigned i = 0; i < q->m->h.count; i++) {
		struct dirp_key k;
		struct dirp_entry r;
		uint32_t ei = eis[i];
		bool via_default;

		dirp_get_key(q->m, i, &k);
		d->st[DIR_STAT_lookups]++;
		ei = default_route(d, ei, &k);
		via_default = ei != NONE && k.ip != 0 && d->e.a[ei].ip == 0;
		if (ei == NONE || d->e.a[ei].state != E_LIVE) {
			memset(&r, 0, sizeof(r));
			r.status = DIRP_NOT_FOUND;
			r.lease_ms = d->cfg.neg_lease_ms;
			d->st[DIR_STAT_lookup_misses]++;
		} else {
			entry_record(d, ei, &r);
			d->st[DIR_STAT_lookup_hits]++;
			if (ci != NONE && lease_grant(d, ei, ci, expiry))
				r.lease_ms = d->cfg.lease_ms;
			else
				d->st[DIR_STAT_leases_refused]++;
		}
		r.vdc = k.vdc;		/* answer in the asker's terms */
		r.ip = k.ip;
		if (via_default && r.status == DIRP_OK)
			r.flags = DIRP_ENTRY_DEFAULT;
		dirp_put_entry(&q->w, &r);
	}
	if (ci != NONE && d->c.a[ci].nleases == 0) {
		hmap_del(&d->by_addr, d->c.a[ci].addr);
		POOL_FREE(d->c, ci, nleases);
	}
}

static bool same_content(const struct entry *e, const struct dirp_entry *r)
{
	return e->server == r->server && e->avail == r->avail &&
	       !memcmp(e->mac, r->mac, sizeof(e->mac));
}

static void set_content(struct dir *d, uint32_t ei, const struct dirp_entry *r)
{
	struct entry *e = &d->e.a[ei];

	if (e->state == E_LIVE)
		mac_index(d, ei, false);
	e->server = r->server;
	e->avail = r->avail;
	memcpy(e->mac, r->mac, sizeof(e->mac));
	mac_index(d, ei, true);
}

/* A POL_NOTE to the agent at addr (dir/dirpol.c). */
static void pol_note(void *arg, const struct dirp_pol *r, uint64_t addr)
{
	struct req *q = arg;
	struct dir *d = q->d;
	struct dirp_hdr h = { .type = DIRP_POL_NOTE, .session = d->session, .seq = ++d->push_seq,
			      .time_ms = q->now.wall_ms };
	struct dirp_writer w;
	struct dir_send *s;

	dirp_begin(&w, out_reserve(q->o), DIRP_MAX_DGRAM, &h);
	dirp_put_pol(&w, r);
	s = out_commit(q->o, dirp_finish(&w, d->cfg.key));
	out_dst(q->o, s, addr);
	d->st[DIR_STAT_push_datagrams]++;
}

static struct dirpol_ctx pol_ctx(struct req *q)
{
	return (struct dirpol_ctx){ .from = q->from, .agent = q->rkey == q->d->cfg.key, .now_ms = q->now.ns / 1000000,
				    .read_only = q->d->read_only, .no_store = q->d->cfg.no_policies,
				    .note = pol_note, .arg = q, .out = q->o, .st = q->d->st,
				    .log = &q->d->cfg.log, .now_ns = q->now.ns };
}

static uint8_t register_one(struct req *q, struct dirp_entry *r)
{
	struct dir *d = q->d;
	uint64_t key = norm_key(d, r->vdc, r->ip);
	uint64_t *v = hmap_get(&d->by_key, key);
	uint32_t ei;

	if (!macs_ok(r->mac) || r->status || r->flags || r->version || r->lease_ms ||
	    (r->vdc == DIR_VDC_SERVICE && !in_service(d, r->ip)))
		return DIRP_INVALID;
	if (d->read_only) {
		d->st[DIR_STAT_refused_read_only]++;
		return DIRP_TRY_LATER;
	}
	if (v) {
		ei = (uint32_t)*v;
		if (d->e.a[ei].state == E_LIVE && same_content(&d->e.a[ei], r))
			return DIRP_OK;		/* a retransmission, or no change */
		if (d->e.a[ei].state == E_DRAINING)
			d->st[DIR_STAT_draining]--;
	} else {
		if (d->e.used >= d->cfg.max_entries)
			return DIRP_FULL;
		ei = entry_add(d, key);
	}
	bool was_live = d->e.a[ei].state == E_LIVE;

	set_content(d, ei, r);
	d->e.a[ei].state = E_LIVE;
	bump(d, ei);
	store_put(q->o, &d->e.a[ei]);
	if (!was_live)
		default_holders_lease(d, ei, lease_ms_now(d, q->now.ns));
	entry_changed(d, ei, q->now, q->o);
	d->st[DIR_STAT_registers]++;
	return DIRP_OK;
}

static void do_register(struct req *q)
{
	for (unsigned i = 0; i < q->m->h.count; i++) {
		struct dirp_entry r, out;
		uint32_t ei;

		dirp_get_entry(q->m, i, &r);
		memset(&out, 0, sizeof(out));
		out.status = register_one(q, &r);
		if (out.status == DIRP_OK && (ei = find_entry(q->d, r.vdc, r.ip)) != NONE) {
			struct dirpol_ctx ctx = pol_ctx(q);

			entry_record(q->d, ei, &out);
			dirpol_registered(q->d->pol, r.vdc, r.ip, &ctx);
		}
		else
			q->d->st[DIR_STAT_invalid_records] += out.status == DIRP_INVALID;
		out.vdc = r.vdc;
		out.ip = r.ip;
		dirp_put_entry(&q->w, &out);
	}
}

static void do_unregister(struct req *q)
{
	struct dir *d = q->d;

	for (unsigned i = 0; i < q->m->h.count; i++) {
		struct dirp_entry out = { .status = DIRP_NOT_FOUND };
		struct dirp_key k;
		uint32_t ei;

		dirp_get_key(q->m, i, &k);
		ei = find_entry(d, k.vdc, k.ip);
		if (ei != NONE && d->e.a[ei].state == E_LIVE && d->read_only) {
			out.status = DIRP_TRY_LATER;
			d->st[DIR_STAT_refused_read_only]++;
		} else if (ei != NONE && d->e.a[ei].state == E_LIVE) {
			mac_index(d, ei, false);
			d->e.a[ei].state = E_DRAINING;
			d->st[DIR_STAT_draining]++;
			bump(d, ei);
			store_del(q->o, &d->e.a[ei]);
			out.status = DIRP_OK;
			out.version = d->e.a[ei].version;
			entry_changed(d, ei, q->now, q->o);
			entry_maybe_free(d, ei);
			dirpol_unregistered(d->pol, k.vdc, k.ip, q->from);
			d->st[DIR_STAT_unregisters]++;
		}
		out.vdc = k.vdc;
		out.ip = k.ip;
		dirp_put_entry(&q->w, &out);
	}
}

static void do_move(struct req *q)
{
	struct dir *d = q->d;

	for (unsigned i = 0; i < q->m->h.count; i++) {
		struct dirp_entry out = { .status = DIRP_NOT_FOUND }, r;
		struct dirp_move mv;
		uint32_t ei;

		dirp_get_move(q->m, i, &mv);
		ei = find_entry(d, mv.vdc, mv.ip);
		if (ei != NONE && d->e.a[ei].state == E_LIVE && d->read_only) {
			out.status = DIRP_TRY_LATER;
			d->st[DIR_STAT_refused_read_only]++;
		} else if (ei != NONE && d->e.a[ei].state == E_LIVE) {
			entry_record(d, ei, &r);
			r.server = mv.server;
			memcpy(r.mac[DIRP_IM_PRI], mv.im[0], 6);
			memcpy(r.mac[DIRP_IM_BAK], mv.im[1], 6);
			r.avail |= 1 << DIRP_IM_PRI | 1 << DIRP_IM_BAK;
			r.status = r.version = 0;
			if (!macs_ok(r.mac)) {
				out.status = DIRP_INVALID;
				d->st[DIR_STAT_invalid_records]++;
			} else if (!same_content(&d->e.a[ei], &r)) {
				set_content(d, ei, &r);
				bump(d, ei);
				store_put(q->o, &d->e.a[ei]);
				entry_changed(d, ei, q->now, q->o);
				d->st[DIR_STAT_moves]++;
			}
			if (out.status != DIRP_INVALID)
				entry_record(d, ei, &out);
		}
		out.vdc = mv.vdc;
		out.ip = mv.ip;
		dirp_put_entry(&q->w, &out);
	}
}

/* Set availability bits on every entry holding `mac` in the scope's slots.
 * Changed entries are collected first: changing one relinks nothing, but a
 * push may free nothing either, so walking while changing is safe; counting
 * first keeps the walk simple to reason about. */
static uint32_t set_avail(struct req *q, const struct dirp_avail *a)
{
	struct dir *d = q->d;
	uint64_t mac = wire_get48(a->mac), *head = hmap_get(&d->by_mac, mac);
	uint32_t ei = head ? (uint32_t)*head : NONE, changed = 0;

	while (ei != NONE) {
		struct entry *e = &d->e.a[ei];
		int s = mac_slot(e, mac);
		bool vm = s == DIRP_VM_PRI || s == DIRP_VM_BAK;
		uint8_t bits = e->avail;

		assert(s >= 0);
		if (vm == (a->scope == DIRP_SCOPE_VM))
			bits = a->avail ? bits | (uint8_t)(1 << s) : bits & (uint8_t)~(1 << s);
		if (bits != e->avail) {
			e->avail = bits;
			bump(d, ei);
			/* Availability is the RAS's soft state (it marks every
			 * MAC again when it starts): the push must not wait for
			 * a disk sync, it is the fail-over's critical path. */
			store_put(q->o, e)->soft = true;
			entry_changed(d, ei, q->now, q->o);
			changed++;
		}
		ei = d->e.a[ei].mac_next[s];
	}
	return changed;
}

static void do_set_avail(struct req *q)
{
	for (unsigned i = 0; i < q->m->h.count; i++) {
		struct dirp_avail a;
		struct dirp_avail_res res = { 0 };

		dirp_get_avail(q->m, i, &a);
		memcpy(res.mac, a.mac, 6);
		res.status = hmap_get(&q->d->by_mac, wire_get48(a.mac)) ? DIRP_OK : DIRP_NOT_FOUND;
		res.affected = set_avail(q, &a);
		q->d->st[DIR_STAT_avail_changes] += res.affected;
		dirp_put_avail_res(&q->w, &res);
	}
}

/* ---- changes from the shared store ---- */

static int apply_delete(struct dir *d, struct dir_now now, uint64_t k, struct dir_out *out)
{
	uint64_t *v = hmap_get(&d->by_key, k);
	uint32_t ei;

	if (!v || d->e.a[*v].state != E_LIVE)
		return 0;
	ei = (uint32_t)*v;
	mac_index(d, ei, false);
	d->e.a[ei].state = E_DRAINING;
	d->st[DIR_STAT_draining]++;
	bump(d, ei);
	entry_changed(d, ei, now, out);
	entry_maybe_free(d, ei);
	return 1;
}

int dir_apply(struct dir *d, struct dir_now now, const uint8_t *key, size_t klen,
	      const uint8_t *val, size_t vlen, struct dir_out *out)
{
	struct dirp_entry r = { 0 };
	uint64_t k, *v;
	uint32_t ei;
	int rc;

	if (klen != DIR_STORE_KEY_LEN)
		return -EINVAL;
	k = (uint64_t)wire_get32(key) << 32 | wire_get32(key + 4);
	if (!val) {
		rc = apply_delete(d, now, k, out);
	} else {
		if (vlen != DIR_STORE_VAL_LEN || val[0] != DIR_STORE_FORMAT ||
		    val[1] > DIRP_AVAIL_ALL)
			return -EINVAL;
		r.avail = val[1];
		r.server = wire_get32(val + 8);
		memcpy(r.mac, val + 12, sizeof(r.mac));
		if (!macs_ok(r.mac))
			return -EINVAL;
		v = hmap_get(&d->by_key, k);
		if (v && d->e.a[*v].state == E_LIVE && same_content(&d->e.a[*v], &r) &&
		    d->e.a[*v].version == wire_get32(val + 4))
			return 0;	/* what we hold already (our own write) */
		if (v) {
			ei = (uint32_t)*v;
			if (d->e.a[ei].state == E_DRAINING)
				d->st[DIR_STAT_draining]--;
		} else {
			if (d->e.used >= d->cfg.max_entries)
				return -ENOSPC;
			ei = entry_add(d, k);
		}
		set_content(d, ei, &r);
		d->e.a[ei].state = E_LIVE;
		d->e.a[ei].version = wire_get32(val + 4);
		d->vclock = MAX(d->vclock, d->e.a[ei].version);
		entry_changed(d, ei, now, out);
		rc = 1;
	}
	d->st[DIR_STAT_remote_changes] += (uint64_t)rc;
	push_flush(d, now, out);
	return rc;
}

void dir_set_read_only(struct dir *d, bool ro)
{
	d->read_only = ro;
}

static void do_stats(struct req *q)
{
	uint64_t st[DIR_STAT_COUNT];

	dir_get_stats(q->d, st);
	for (int i = 0; i < DIR_STAT_COUNT; i++)
		dirp_put_stat(&q->w, st[i]);
}

static void do_ack(struct req *q)
{
	struct dir *d = q->d;
	uint32_t ci = client_get(d, q->from, false);

	for (unsigned i = 0; i < q->m->h.count && ci != NONE; i++) {
		struct dirp_ack a;
		uint32_t ei, pi, li;

		dirp_get_ack(q->m, i, &a);
		ei = find_entry(d, a.vdc, a.ip);
		if (ei == NONE || (pi = push_find(d, ei, ci)) == NONE ||
		    a.version < d->e.a[ei].version)
			continue;
		push_remove(d, pi);
		d->st[DIR_STAT_push_acked]++;
		if (d->e.a[ei].state != E_DRAINING)
			continue;
		/* The client dropped the entry: so do we. */
		if ((li = lease_find(d, ei, ci)) != NONE) {
			uint32_t last = d->c.a[ci].nleases == 1;

			lease_drop(d, ei, li - d->e.a[ei].lv);
			if (last)
				ci = NONE;	/* the client record is gone */
		}
		entry_maybe_free(d, ei);
	}
}

/* ---- input ---------------------------------------------------------------------------------- */

static void drop(struct dir *d, struct dir_now now, uint64_t from, int reason)
{
	char ip[INET_ADDRSTRLEN];
	struct in_addr a = { htonl((uint32_t)(from >> 16)) };

	d->st[DIR_STAT_dropped]++;
	d->st[DIR_STAT_drop_short + reason - 1]++;
	if (d->cfg.log.fn) {
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		core_log_rl(&d->cfg.log, &d->rl, now.ns, LOG_WARN,
			    "directory: dropped a datagram from %s:%u: %s", ip,
			    (unsigned)(from & 0xffff), dir_drop_name(reason));
	}
}

static uint32_t session_get(struct dir *d, uint64_t id)
{
	uint64_t *v = hmap_get(&d->by_session, id);
	uint32_t si;

	if (v)
		return (uint32_t)*v;
	if (d->s.used >= DIR_MAX_SESSIONS)
		return NONE;
	si = POOL_ALLOC(d, d->s, link);
	d->s.a[si].id = id;
	d->s.a[si].used = true;
	hmap_put(&d->by_session, id, si);
	return si;
}

/* 0 or a DIR_DROP_ reason.  Only authenticated messages get here, so only
 * key holders can make sessions. */
static int replay_check(struct dir *d, const struct dirp_hdr *h, struct dir_now now)
{
	uint64_t skew = d->cfg.skew_ms;
	struct session *s;
	uint64_t off;
	uint32_t si;

	if (h->time_ms > now.wall_ms + skew || h->time_ms + skew < now.wall_ms)
		return DIR_DROP_STALE;
	if ((si = session_get(d, h->session)) == NONE)
		return DIR_DROP_SESSIONS;
	s = &d->s.a[si];
	if (h->seq > s->top) {
		off = h->seq - s->top;
		s->bits = off >= DIR_REPLAY_WINDOW ? 0 : s->bits << off;
		s->bits |= 1;
		s->top = h->seq;
	} else {
		off = s->top - h->seq;
		if (off >= DIR_REPLAY_WINDOW)
			return DIR_DROP_TOO_OLD;
		if (s->bits & (1ull << off))
			return DIR_DROP_REPLAY;
		s->bits |= 1ull << off;
	}
	s->last_ms = now.wall_ms;
	return 0;
}

/* A change to an IPv6 entry (dir/dir6.c): one UPDATE6 to its holders. */
static void push6(void *arg, const struct dirp_entry6 *r, const uint64_t *addrs, size_t n)
{
	struct req *q = arg;
	struct dir *d = q->d;
	struct dirp_hdr h = { .type = DIRP_UPDATE6, .session = d->session, .seq = ++d->push_seq,
			      .time_ms = q->now.wall_ms };
	struct dirp_writer w;
	struct dir_send *s;

	dirp_begin(&w, out_reserve(q->o), DIRP_MAX_DGRAM, &h);
	dirp_put_entry6(&w, r);
	s = out_commit(q->o, dirp_finish(&w, d->cfg.key));
	for (size_t i = 0; i < n; i++)
		out_dst(q->o, s, addrs[i]);
	d->st[DIR_STAT_push_datagrams]++;
}

void dir_input(struct dir *d, struct dir_now now, uint64_t from, const uint8_t *buf,
	       size_t len, struct dir_out *out)
{
	struct dirp_msg m;
	struct req q = { .d = d, .now = now, .from = from, .m = &m, .o = out, .rkey = d->cfg.key };
	struct auth_key vdc_key;
	bool by_vdc;
	int err;

	d->st[DIR_STAT_rx]++;
	err = dirp_decode_auth(buf, len, d->cfg.key, &m, &by_vdc, &vdc_key);
	if (by_vdc)
		q.rkey = &vdc_key;
	if (err < 0) {
		drop(d, now, from, -err);
		return;
	}
	if (m.h.type & (DIRP_REPLY_BIT | DIRP_UPDATE)) {
		drop(d, now, from, DIR_DROP_UNEXPECTED);
		return;
	}
	if ((err = replay_check(d, &m.h, now))) {
		drop(d, now, from, err);
		return;
	}
	if (m.h.type == DIRP_ACK) {
		do_ack(&q);
		push_flush(d, now, out);
		return;
	}
	reply_begin(&q);
	switch (m.h.type) {
	case DIRP_LOOKUP:
	case DIRP_RENEW: do_lookup(&q); break;
	case DIRP_REGISTER: do_register(&q); break;
	case DIRP_UNREGISTER: do_unregister(&q); break;
	case DIRP_MOVE: do_move(&q); break;
	case DIRP_SET_AVAIL: do_set_avail(&q); break;
	case DIRP_STATS: do_stats(&q); break;
	case DIRP_REGISTER6:
	case DIRP_UNREGISTER6:
	case DIRP_LOOKUP6: {
		struct dir6_ctx ctx = { .from = from, .now_ms = now.ns / 1000000,
					.push = push6, .arg = &q };

		dir6_request(d->v6, &m, &q.w, &ctx);
		break;
	}
	case DIRP_JOIN:
	case DIRP_LEAVE:
	case DIRP_MEMBERS: dirgrp_request(d->grp, &m, &q.w); break;
	case DIRP_POL_SET:
	case DIRP_POL_GET:
	case DIRP_POL_DEL: {
		struct dirpol_ctx ctx = pol_ctx(&q);

		dirpol_request(d->pol, &m, &q.w, &ctx);
		break;
	}
	default: assert(!"decoder let an unknown type through");
	}
	push_flush(d, now, out);	/* the pushes go before the reply, as they did */
	reply_end(&q);
}

/* ---- timers ---------------------------------------------------------------------------------- */

/* Pop due pushes (dropping those whose lease ended) into d->scratch as
 * (entry << 32 | push); returns how many. */
static size_t collect_due(struct dir *d, uint64_t now)
{
	uint32_t now_ms = lease_ms_now(d, now);
	size_t n = 0;

	for (int lv = 0; lv < DIR_PUSH_LEVELS; lv++) {
		while (d->qhead[lv] != NONE && d->p.a[d->qhead[lv]].due <= now &&
		       n < DIR_RETX_PER_TICK) {
			uint32_t pi = d->qhead[lv];
			struct push *p = &d->p.a[pi];
			uint32_t li = lease_find(d, p->entry, p->client);

			assert(li != NONE);	/* a push goes when its lease goes */
			push_unqueue(d, pi);
			if (d->l.a[li].expiry <= now_ms) {
				/* The lease ran out: the client stops using the entry. */
				push_enqueue(d, pi, p->level, now);
				entry_expire(d, p->entry, now_ms);
				continue;
			}
			push_enqueue(d, pi, (uint8_t)MIN(lv + 1, DIR_PUSH_LEVELS - 1), now);
			if (n == d->scratch_cap) {
				d->scratch_cap = d->scratch_cap ? d->scratch_cap * 2 : 1024;
				d->scratch = xreallocarray(d->scratch, d->scratch_cap, sizeof(uint64_t));
			}
			d->scratch[n++] = (uint64_t)p->entry << 32 | pi;
		}
	}
	return n;
}

static void retransmit(struct dir *d, struct dir_now now, struct dir_out *o)
{
	size_t n = collect_due(d, now.ns);

	for (size_t i = 0; i < n; i++) {
		uint32_t ei = (uint32_t)(d->scratch[i] >> 32), pi = (uint32_t)d->scratch[i];

		/* Pushes whose lease ended were removed after being collected
		 * only if entry_expire ran on their entry; check. */
		if (push_find(d, ei, d->p.a[pi].client) != pi)
			continue;
		push_later(d, d->p.a[pi].client, ei);
		d->st[DIR_STAT_push_retx]++;
	}
	push_flush(d, now, o);
}

static void sweep(struct dir *d, uint64_t now_ns, uint64_t wall_ms)
{
	uint64_t idle = 2ull * d->cfg.skew_ms + 1000;

	for (int i = 0; i < DIR_SWEEP_PER_TICK && d->e.n; i++) {
		uint32_t ei = d->sweep_e++ % d->e.n;

		if (d->e.a[ei].state != E_FREE)
			entry_expire(d, ei, lease_ms_now(d, now_ns));
	}
	d->sweep_e %= MAX(d->e.n, 1u);
	for (int i = 0; i < DIR_SWEEP_PER_TICK && d->s.n; i++) {
		uint32_t si = d->sweep_s++ % d->s.n;
		struct session *s = &d->s.a[si];

		if (s->used && s->last_ms + idle < wall_ms) {
			hmap_del(&d->by_session, s->id);
			s->used = false;
			POOL_FREE(d->s, si, link);
		}
	}
	d->sweep_s %= MAX(d->s.n, 1u);
}

uint64_t dir_tick(struct dir *d, struct dir_now now, struct dir_out *out)
{
	/* Tables one slice sweeps whole need no more than the slow tick. */
	bool big = (d->l.used && d->e.n > DIR_SWEEP_PER_TICK) || d->s.n > DIR_SWEEP_PER_TICK;
	uint64_t next = now.ns + (uint64_t)(big ? DIR_SWEEP_TICK_MS : DIR_TICK_MS) * 1000000ull;

	rebase(d, now.ns);
	retransmit(d, now, out);
	sweep(d, now.ns, now.wall_ms);
	push_flush(d, now, out);
	for (int lv = 0; lv < DIR_PUSH_LEVELS; lv++)
		if (d->qhead[lv] != NONE)
			next = MIN(next, MAX(d->p.a[d->qhead[lv]].due, now.ns + 1000000ull));
	return next;
}
