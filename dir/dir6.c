/* The directory's IPv6 table (dir/dir6.h).
 *
 * A dense array of entries and a map from a keyed 64-bit hash of
 * (VDC, address) to the entry's index.  Two keys with the same hash (a
 * chance of about n^2 / 2^65, and the seed is secret) cannot both be held:
 * the second registration is answered FULL and counted, never confused
 * with the first, since every hit compares the whole key.
 *
 * A MAC index (every MAC of every entry -> the entries holding it, doubly
 * linked per slot so that an entry moved by a removal is relinked in O(1))
 * serves SET_AVAIL and MOVE.  Pending pushes live apart from the entries,
 * keyed by (holder, VDC, address) and carrying the record owed, so that a
 * removal's NOT FOUND is retransmitted after its entry is gone. */
#include "dir/dir6.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hash.h"
#include "wire/be.h"

#define NONE6 UINT32_MAX

struct holder6 {
	uint64_t addr;
	uint64_t until_ms;
};

struct entry6 {
	uint32_t vdc;
	uint8_t ip6[16];
	uint8_t avail;
	uint32_t version, server;
	uint8_t mac[DIRP_NMACS][6];
	struct holder6 *h;		/* lease holders, nh of caph */
	uint32_t nh, caph;
	uint32_t mprev[DIRP_NMACS], mnext[DIRP_NMACS];	/* MAC index chains */
};

/* A push owed to a holder: the latest record, until acknowledged. */
struct pend6 {
	uint64_t addr;
	struct dirp_entry6 r;
	uint64_t due_ms, until_ms;	/* next retransmission; the lease's end */
	uint8_t level;
};

struct dir6 {
	struct entry6 *a;
	uint32_t n, cap, max;
	uint32_t vclock;
	uint32_t neg_lease_ms;
	uint64_t seed;
	struct hmap by_key;
	struct hmap by_mac;		/* MAC -> first entry holding it */
	size_t holder_bytes;
	struct pend6 *p;		/* pending pushes, np of capp */
	uint32_t np, capp;
	struct hmap by_pend;		/* hash of (holder, VDC, address) -> pending */
	uint64_t *batch;		/* pending hashes to send at dir6_flush */
	size_t nbatch, capb;
	struct dir6_stats st;
};

static const uint32_t rto_ms[] = { 20, 40, 80, 160, 320, 640, 1000 };

struct dir6 *dir6_new(uint64_t seed, uint32_t max_entries, uint32_t neg_lease_ms)
{
	struct dir6 *t = xcalloc(1, sizeof(*t));

	t->seed = hash_u64(seed, 0x6666);
	t->max = max_entries ? max_entries : DIR6_MAX_ENTRIES;
	t->neg_lease_ms = neg_lease_ms;
	hmap_init(&t->by_key, 64, hash_u64(seed, 0x6667));
	hmap_init(&t->by_mac, 64, hash_u64(seed, 0x6668));
	hmap_init(&t->by_pend, 64, hash_u64(seed, 0x6669));
	return t;
}

void dir6_free(struct dir6 *t)
{
	if (!t)
		return;
	hmap_free(&t->by_key);
	hmap_free(&t->by_mac);
	hmap_free(&t->by_pend);
	free(t->p);
	free(t->batch);
	for (uint32_t i = 0; i < t->n; i++)
		free(t->a[i].h);
	free(t->a);
	free(t);
}

size_t dir6_count(const struct dir6 *t)
{
	return t->n;
}

size_t dir6_mem_bytes(const struct dir6 *t)
{
	return (size_t)t->cap * sizeof(*t->a) + hmap_bytes(&t->by_key) + t->holder_bytes +
	       hmap_bytes(&t->by_mac) + hmap_bytes(&t->by_pend) +
	       (size_t)t->capp * sizeof(*t->p) + t->capb * sizeof(*t->batch);
}

const struct dir6_stats *dir6_stats(const struct dir6 *t)
{
	return &t->st;
}

bool dir6_addr_ok(const uint8_t ip6[16])
{
	static const uint8_t zero[16];
	static const uint8_t loop[16] = { [15] = 1 };

	return ip6[0] != 0xff && memcmp(ip6, zero, 16) && memcmp(ip6, loop, 16);
}

static uint64_t key_hash(const struct dir6 *t, uint32_t vdc, const uint8_t ip6[16])
{
	uint8_t k[20];

	wire_put32(k, vdc);
	memcpy(k + 4, ip6, 16);
	return hash_bytes(k, sizeof(k), t->seed);
}

/* The entry's index, NONE6 if absent; *h the key's hash. */
static uint32_t find(const struct dir6 *t, uint32_t vdc, const uint8_t ip6[16], uint64_t *h)
{
	uint64_t *v;

	*h = key_hash(t, vdc, ip6);
	if (!(v = hmap_get(&t->by_key, *h)))
		return NONE6;
	return (uint32_t)*v;
}

static bool same_key(const struct entry6 *e, uint32_t vdc, const uint8_t ip6[16])
{
	return e->vdc == vdc && !memcmp(e->ip6, ip6, 16);
}

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

static void record(const struct entry6 *e, struct dirp_entry6 *r)
{
	r->vdc = e->vdc;
	memcpy(r->ip6, e->ip6, 16);
	r->avail = e->avail;
	r->version = e->version;
	r->server = e->server;
	memcpy(r->mac, e->mac, sizeof(r->mac));
}

/* ---- the MAC index -------------------------------------------------------------- */

static int mac_slot(const struct entry6 *e, uint64_t mac)
{
	for (int s = 0; s < DIRP_NMACS; s++)
		if (wire_get48(e->mac[s]) == mac)
			return s;
	return -1;
}

static void mac_link(struct dir6 *t, uint32_t i)
{
	struct entry6 *e = &t->a[i];

	for (int s = 0; s < DIRP_NMACS; s++) {
		uint64_t mac = wire_get48(e->mac[s]), *head = hmap_get(&t->by_mac, mac);

		e->mprev[s] = NONE6;
		e->mnext[s] = head ? (uint32_t)*head : NONE6;
		if (head) {
			struct entry6 *n = &t->a[*head];

			n->mprev[mac_slot(n, mac)] = i;
		}
		hmap_put(&t->by_mac, mac, i);
	}
}

static void mac_unlink(struct dir6 *t, uint32_t i)
{
	struct entry6 *e = &t->a[i];

	for (int s = 0; s < DIRP_NMACS; s++) {
		uint64_t mac = wire_get48(e->mac[s]);
		uint32_t p = e->mprev[s], n = e->mnext[s];

		if (p != NONE6)
			t->a[p].mnext[mac_slot(&t->a[p], mac)] = n;
		else if (n == NONE6)
			hmap_del(&t->by_mac, mac);
		else
			hmap_put(&t->by_mac, mac, n);
		if (n != NONE6)
			t->a[n].mprev[mac_slot(&t->a[n], mac)] = p;
	}
}

/* ---- pending pushes ------------------------------------------------------------ */

static uint64_t pend_hash(const struct dir6 *t, uint64_t addr, uint32_t vdc, const uint8_t ip6[16])
{
	uint8_t k[28];

	wire_put64(k, addr);
	wire_put32(k + 8, vdc);
	memcpy(k + 12, ip6, 16);
	return hash_bytes(k, sizeof(k), t->seed ^ 0x70656e64ull);
}

static uint32_t pend_find(const struct dir6 *t, uint64_t addr, uint32_t vdc, const uint8_t ip6[16])
{
	uint64_t *v = hmap_get(&t->by_pend, pend_hash(t, addr, vdc, ip6));
	const struct pend6 *p;

	if (!v)
		return NONE6;
	p = &t->p[*v];
	return p->addr == addr && p->r.vdc == vdc && !memcmp(p->r.ip6, ip6, 16) ? (uint32_t)*v
										: NONE6;
}

static void pend_remove(struct dir6 *t, uint32_t i)
{
	uint32_t last = --t->np;

	hmap_del(&t->by_pend, pend_hash(t, t->p[i].addr, t->p[i].r.vdc, t->p[i].r.ip6));
	if (i != last) {
		t->p[i] = t->p[last];
		hmap_put(&t->by_pend, pend_hash(t, t->p[i].addr, t->p[i].r.vdc, t->p[i].r.ip6), i);
	}
}

static void batch_add(struct dir6 *t, uint32_t i)
{
	if (t->nbatch == t->capb) {
		t->capb = t->capb ? t->capb * 2 : 64;
		t->batch = xreallocarray(t->batch, t->capb, sizeof(*t->batch));
	}
	t->batch[t->nbatch++] = pend_hash(t, t->p[i].addr, t->p[i].r.vdc, t->p[i].r.ip6);
}

/* Owe r to addr (whose lease runs until until_ms): the latest record
 * replaces an older one still owed, and is sent at the next flush. */
static void pend_arm(struct dir6 *t, uint64_t addr, uint64_t until_ms, const struct dirp_entry6 *r,
		     uint64_t now_ms)
{
	uint64_t h = pend_hash(t, addr, r->vdc, r->ip6), *v = hmap_get(&t->by_pend, h);
	uint32_t i;

	if (v) {
		/* Another key with the same hash (2^-64): it gives way and
		 * is made good by its holder's renewal. */
		i = (uint32_t)*v;
	} else {
		if (t->np == t->capp) {
			t->capp = t->capp ? t->capp * 2 : 64;
			t->p = xreallocarray(t->p, t->capp, sizeof(*t->p));
		}
		i = t->np++;
		hmap_put(&t->by_pend, h, i);
	}
	t->p[i] = (struct pend6){ .addr = addr, .r = *r, .until_ms = until_ms, .level = 0,
				  .due_ms = now_ms + rto_ms[0] };
	batch_add(t, i);
	t->st.pushes++;
}

/* ---- leases ------------------------------------------------------------------- */

/* Drop the holders whose lease ended. */
static void holders_prune(struct entry6 *e, uint64_t now_ms)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < e->nh; i++)
		if (e->h[i].until_ms > now_ms)
			e->h[k++] = e->h[i];
	e->nh = k;
}

static void holders_free(struct dir6 *t, struct entry6 *e)
{
	t->holder_bytes -= (size_t)e->caph * sizeof(*e->h);
	free(e->h);
	e->h = NULL;
	e->nh = e->caph = 0;
}

/* A lease for ctx->from on e until until_ms; a push still owed to it is
 * settled (the answer carries the entry). */
static void lease_grant(struct dir6 *t, struct entry6 *e, const struct dir6_ctx *ctx,
			uint64_t until_ms)
{
	uint32_t pi = pend_find(t, ctx->from, e->vdc, e->ip6);

	if (pi != NONE6)
		pend_remove(t, pi);
	for (uint32_t i = 0; i < e->nh; i++)
		if (e->h[i].addr == ctx->from) {
			e->h[i].until_ms = until_ms;
			return;
		}
	if (e->nh == e->caph)
		holders_prune(e, ctx->now_ms);
	if (e->nh == e->caph) {
		uint32_t cap = e->caph ? e->caph * 2 : 4;

		if (cap > DIR6_HOLDERS) {
			t->st.untracked++;
			return;
		}
		e->h = xreallocarray(e->h, cap, sizeof(*e->h));
		t->holder_bytes += (size_t)(cap - e->caph) * sizeof(*e->h);
		e->caph = cap;
	}
	e->h[e->nh++] = (struct holder6){ .addr = ctx->from, .until_ms = until_ms };
}

/* Owe r to the holders of e whose lease runs. */
static void push_holders(struct dir6 *t, struct entry6 *e, const struct dirp_entry6 *r,
			 const struct dir6_ctx *ctx)
{
	holders_prune(e, ctx->now_ms);
	for (uint32_t i = 0; i < e->nh; i++)
		pend_arm(t, e->h[i].addr, e->h[i].until_ms, r, ctx->now_ms);
}

/* ---- changes ------------------------------------------------------------------- */

static void store(const struct dir6_ctx *ctx, const struct dirp_entry6 *r, bool del, bool soft)
{
	if (ctx->store)
		ctx->store(ctx->arg, r, del, soft);
}

/* Entry i changed (its version bumped here): stored, pushed. */
static void changed(struct dir6 *t, uint32_t i, bool soft, const struct dir6_ctx *ctx)
{
	struct entry6 *e = &t->a[i];
	struct dirp_entry6 r = { 0 };

	e->version = ++t->vclock;
	record(e, &r);
	store(ctx, &r, false, soft);
	if (e->nh)
		push_holders(t, e, &r, ctx);
}

static uint8_t register_one(struct dir6 *t, const struct dirp_entry6 *r,
			    const struct dir6_ctx *ctx)
{
	uint64_t h;
	uint32_t i = find(t, r->vdc, r->ip6, &h);
	struct entry6 *e;

	if (!macs_ok(r->mac) || r->status || r->version || r->lease_ms || !dir6_addr_ok(r->ip6))
		return DIRP_INVALID;
	if (i != NONE6 && !same_key(&t->a[i], r->vdc, r->ip6))
		return DIRP_FULL;		/* a hash collision: refused, counted */
	if (i == NONE6) {
		if (t->n >= t->max)
			return DIRP_FULL;
		if (t->n == t->cap) {
			t->cap = t->cap ? t->cap * 2 : 64;
			t->a = xreallocarray(t->a, t->cap, sizeof(*t->a));
		}
		i = t->n++;
		memset(&t->a[i], 0, sizeof(t->a[i]));
		t->a[i].vdc = r->vdc;
		memcpy(t->a[i].ip6, r->ip6, 16);
		hmap_put(&t->by_key, h, i);
	} else {
		e = &t->a[i];
		if (e->server == r->server && e->avail == r->avail &&
		    !memcmp(e->mac, r->mac, sizeof(e->mac)))
			return DIRP_OK;		/* a retransmission, or no change */
		mac_unlink(t, i);
	}
	e = &t->a[i];
	e->server = r->server;
	e->avail = r->avail;
	memcpy(e->mac, r->mac, sizeof(e->mac));
	mac_link(t, i);
	t->st.registers++;
	changed(t, i, false, ctx);
	return DIRP_OK;
}

static void do_register(struct dir6 *t, const struct dirp_msg *m, struct dirp_writer *w,
			const struct dir6_ctx *ctx)
{
	for (unsigned k = 0; k < m->h.count; k++) {
		struct dirp_entry6 r, out = { 0 };
		uint64_t h;
		uint32_t i;

		dirp_get_entry6(m, k, &r);
		out.status = register_one(t, &r, ctx);
		if (out.status == DIRP_OK && (i = find(t, r.vdc, r.ip6, &h)) != NONE6)
			record(&t->a[i], &out);
		t->st.invalid += out.status == DIRP_INVALID;
		t->st.full += out.status == DIRP_FULL;
		out.vdc = r.vdc;
		memcpy(out.ip6, r.ip6, 16);
		dirp_put_entry6(w, &out);
	}
}

/* Remove entry i: the last one moves into its place. */
static void remove_at(struct dir6 *t, uint32_t i, uint64_t h)
{
	uint32_t last = --t->n;

	mac_unlink(t, i);
	holders_free(t, &t->a[i]);
	hmap_del(&t->by_key, h);
	if (i != last) {
		mac_unlink(t, last);
		t->a[i] = t->a[last];
		mac_link(t, i);
		hmap_put(&t->by_key, key_hash(t, t->a[i].vdc, t->a[i].ip6), i);
	}
}

static void do_unregister(struct dir6 *t, const struct dirp_msg *m, struct dirp_writer *w,
			  const struct dir6_ctx *ctx)
{
	for (unsigned k = 0; k < m->h.count; k++) {
		struct dirp_entry6 out = { .status = DIRP_NOT_FOUND };
		struct dirp_key6 key;
		uint64_t h;
		uint32_t i;

		dirp_get_key6(m, k, &key);
		i = find(t, key.vdc, key.ip6, &h);
		if (i != NONE6 && same_key(&t->a[i], key.vdc, key.ip6)) {
			struct dirp_entry6 p = { .vdc = key.vdc, .status = DIRP_NOT_FOUND };

			out.status = DIRP_OK;
			out.version = ++t->vclock;
			p.version = out.version;
			memcpy(p.ip6, key.ip6, 16);
			store(ctx, &p, true, false);
			push_holders(t, &t->a[i], &p, ctx);
			remove_at(t, i, h);
			t->st.unregisters++;
		}
		out.vdc = key.vdc;
		memcpy(out.ip6, key.ip6, 16);
		dirp_put_entry6(w, &out);
	}
}

static void do_lookup(struct dir6 *t, const struct dirp_msg *m, struct dirp_writer *w,
		      const struct dir6_ctx *ctx)
{
	for (unsigned k = 0; k < m->h.count; k++) {
		struct dirp_entry6 out = { 0 };
		struct dirp_key6 key;
		uint64_t h;
		uint32_t i;

		dirp_get_key6(m, k, &key);
		i = find(t, key.vdc, key.ip6, &h);
		t->st.lookups++;
		if (i != NONE6 && same_key(&t->a[i], key.vdc, key.ip6)) {
			record(&t->a[i], &out);
			out.lease_ms = DIR6_LEASE_MS;
			lease_grant(t, &t->a[i], ctx, ctx->now_ms + DIR6_LEASE_MS);
		} else {
			out.status = DIRP_NOT_FOUND;
			out.lease_ms = t->neg_lease_ms;
			t->st.misses++;
		}
		out.vdc = key.vdc;
		memcpy(out.ip6, key.ip6, 16);
		dirp_put_entry6(w, &out);
	}
}

void dir6_request(struct dir6 *t, const struct dirp_msg *m, struct dirp_writer *w,
		  const struct dir6_ctx *ctx)
{
	switch (m->h.type) {
	case DIRP_REGISTER6: do_register(t, m, w, ctx); break;
	case DIRP_UNREGISTER6: do_unregister(t, m, w, ctx); break;
	case DIRP_LOOKUP6: do_lookup(t, m, w, ctx); break;
	default: break;
	}
}

void dir6_ack(struct dir6 *t, const struct dirp_msg *m, const struct dir6_ctx *ctx)
{
	for (unsigned k = 0; k < m->h.count; k++) {
		struct dirp_ack6 a;
		uint32_t i;

		dirp_get_ack6(m, k, &a);
		i = pend_find(t, ctx->from, a.vdc, a.ip6);
		if (i == NONE6 || a.version < t->p[i].r.version)
			continue;	/* an older push's ack: the newer one is owed */
		pend_remove(t, i);
		t->st.acked++;
	}
}

/* ---- the RAS: availability and moves --------------------------------------------- */

uint32_t dir6_set_avail(struct dir6 *t, const struct dirp_avail *a, bool *seen,
			const struct dir6_ctx *ctx)
{
	uint64_t mac = wire_get48(a->mac), *head = hmap_get(&t->by_mac, mac);
	uint32_t i = head ? (uint32_t)*head : NONE6, n = 0;

	*seen = head != NULL;
	while (i != NONE6) {
		struct entry6 *e = &t->a[i];
		int s = mac_slot(e, mac);
		bool vm = s == DIRP_VM_PRI || s == DIRP_VM_BAK;
		uint8_t bits = e->avail;

		if (vm == (a->scope == DIRP_SCOPE_VM))
			bits = a->avail ? bits | (uint8_t)(1 << s) : bits & (uint8_t)~(1 << s);
		if (bits != e->avail) {
			e->avail = bits;
			/* soft, as IPv4's: the RAS asserts it again at start */
			changed(t, i, true, ctx);
			n++;
		}
		i = t->a[i].mnext[s];
	}
	t->st.avail_changes += n;
	return n;
}

uint32_t dir6_move(struct dir6 *t, uint32_t vdc, const uint8_t vm_mac[6], uint32_t server,
		   const uint8_t im[2][6], const struct dir6_ctx *ctx)
{
	uint64_t mac = wire_get48(vm_mac), *head = hmap_get(&t->by_mac, mac);
	uint32_t i = head ? (uint32_t)*head : NONE6, n = 0;

	while (i != NONE6) {
		struct entry6 *e = &t->a[i];
		int s = mac_slot(e, mac);
		uint32_t next = e->mnext[s];
		uint8_t macs[DIRP_NMACS][6];
		uint8_t avail = e->avail | 1 << DIRP_IM_PRI | 1 << DIRP_IM_BAK;

		memcpy(macs, e->mac, sizeof(macs));
		memcpy(macs[DIRP_IM_PRI], im[0], 6);
		memcpy(macs[DIRP_IM_BAK], im[1], 6);
		if (s == DIRP_VM_PRI && e->vdc == vdc && macs_ok(macs) &&
		    (e->server != server || e->avail != avail || memcmp(e->mac, macs, sizeof(macs)))) {
			mac_unlink(t, i);
			e->server = server;
			e->avail = avail;
			memcpy(e->mac, macs, sizeof(macs));
			mac_link(t, i);
			changed(t, i, false, ctx);
			n++;
		}
		i = next;
	}
	t->st.moves += n;
	return n;
}

/* ---- sending --------------------------------------------------------------------- */

static int cmp_pend(const void *x, const void *y, void *arg)
{
	const struct pend6 *a = &((const struct dir6 *)arg)->p[*(const uint32_t *)x];
	const struct pend6 *b = &((const struct dir6 *)arg)->p[*(const uint32_t *)y];
	int c;

	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	if (a->r.vdc != b->r.vdc)
		return a->r.vdc < b->r.vdc ? -1 : 1;
	c = memcmp(a->r.ip6, b->r.ip6, 16);
	return c;
}

/* One holder's run of the sorted batch, and a hash of its records. */
struct span6 {
	uint64_t hash;
	uint32_t start, len;
};

static int cmp_span6(const void *x, const void *y)
{
	const struct span6 *a = x, *b = y;

	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return a->start < b->start ? -1 : a->start > b->start;
}

static bool same_rec(const struct dirp_entry6 *a, const struct dirp_entry6 *b)
{
	return a->vdc == b->vdc && !memcmp(a->ip6, b->ip6, 16) && a->version == b->version &&
	       a->status == b->status;
}

static bool span_same(const struct dir6 *t, const uint32_t *idx, const struct span6 *a,
		      const struct span6 *b)
{
	if (a->hash != b->hash || a->len != b->len)
		return false;
	for (uint32_t i = 0; i < a->len; i++)
		if (!same_rec(&t->p[idx[a->start + i]].r, &t->p[idx[b->start + i]].r))
			return false;
	return true;
}

/* qsort_r is a GNU extension; a small insertion-merge sort keeps this
 * portable and the batch is usually short. */
static void sort_idx(uint32_t *v, size_t n, const struct dir6 *t)
{
	uint32_t *tmp;

	if (n < 2)
		return;
	if (n <= 16) {
		for (size_t i = 1; i < n; i++) {
			uint32_t x = v[i];
			size_t j = i;

			for (; j && cmp_pend(&v[j - 1], &x, (void *)t) > 0; j--)
				v[j] = v[j - 1];
			v[j] = x;
		}
		return;
	}
	sort_idx(v, n / 2, t);
	sort_idx(v + n / 2, n - n / 2, t);
	tmp = xreallocarray(NULL, n, sizeof(*tmp));
	for (size_t i = 0, a = 0, b = n / 2; i < n; i++)
		tmp[i] = b >= n || (a < n / 2 && cmp_pend(&v[a], &v[b], (void *)t) <= 0) ? v[a++]
											  : v[b++];
	memcpy(v, tmp, n * sizeof(*v));
	free(tmp);
}

void dir6_flush(struct dir6 *t, const struct dir6_ctx *ctx)
{
	size_t n = 0, nspans = 0;
	uint32_t *idx;
	struct span6 *spans;
	uint64_t *addrs;

	if (!t->nbatch)
		return;
	idx = xreallocarray(NULL, t->nbatch, sizeof(*idx));
	for (size_t i = 0; i < t->nbatch; i++) {
		uint64_t *v = hmap_get(&t->by_pend, t->batch[i]);

		if (v)		/* not settled since it was queued */
			idx[n++] = (uint32_t)*v;
	}
	t->nbatch = 0;
	sort_idx(idx, n, t);
	spans = xreallocarray(NULL, MAX(n, (size_t)1), sizeof(*spans));
	for (size_t i = 0, k = 0; i < n; i = k) {
		uint64_t h = 0x9e3779b97f4a7c15ull;
		size_t j = i;

		for (k = i; k < n && t->p[idx[k]].addr == t->p[idx[i]].addr; k++) {
			if (k > i && idx[k] == idx[k - 1])
				continue;	/* queued twice in one call */
			idx[j++] = idx[k];
			h = hash_u64(h ^ t->p[idx[k]].r.version ^ (uint64_t)t->p[idx[k]].r.vdc << 32,
				     hash_bytes(t->p[idx[k]].r.ip6, 16, 0x36));
		}
		spans[nspans++] = (struct span6){ .hash = h, .start = (uint32_t)i,
						  .len = (uint32_t)(j - i) };
	}
	qsort(spans, nspans, sizeof(*spans), cmp_span6);
	addrs = xreallocarray(NULL, MAX(nspans, (size_t)1), sizeof(*addrs));
	for (size_t i = 0, j; i < nspans; i = j) {
		size_t na = 0;

		for (j = i; j < nspans && span_same(t, idx, &spans[i], &spans[j]); j++)
			addrs[na++] = t->p[idx[spans[j].start]].addr;
		for (uint32_t k = 0; k < spans[i].len; k += DIRP_MAX_RECORDS6) {
			struct dirp_entry6 recs[DIRP_MAX_RECORDS6];
			uint32_t m = MIN(spans[i].len - k, (uint32_t)DIRP_MAX_RECORDS6);

			for (uint32_t r = 0; r < m; r++)
				recs[r] = t->p[idx[spans[i].start + k + r]].r;
			if (ctx->push)
				ctx->push(ctx->arg, recs, m, addrs, na);
			t->st.push_datagrams++;
		}
	}
	free(addrs);
	free(spans);
	free(idx);
}

uint64_t dir6_tick(struct dir6 *t, const struct dir6_ctx *ctx)
{
	uint64_t next = UINT64_MAX, now = ctx->now_ms;
	uint32_t sent = 0;

	for (uint32_t i = 0; i < t->np;) {
		struct pend6 *p = &t->p[i];

		if (p->until_ms <= now) {
			pend_remove(t, i);	/* the holder stops using the record */
			t->st.lease_ended++;
			continue;
		}
		if (p->due_ms <= now && sent < DIR6_RETX_PER_TICK) {
			p->level = (uint8_t)MIN(p->level + 1u, ARRAY_SIZE(rto_ms) - 1);
			p->due_ms = now + rto_ms[p->level];
			batch_add(t, i);
			t->st.retx++;
			sent++;
		}
		next = MIN(next, MIN(p->due_ms, p->until_ms));
		i++;
	}
	return next;
}

int dir6_restore(struct dir6 *t, const struct dirp_entry6 *r)
{
	uint64_t h;
	uint32_t i = find(t, r->vdc, r->ip6, &h);
	struct entry6 *e;

	if (i != NONE6 || t->n >= t->max || !macs_ok(r->mac) || !dir6_addr_ok(r->ip6) ||
	    r->avail > DIRP_AVAIL_ALL)
		return -EINVAL;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->a = xreallocarray(t->a, t->cap, sizeof(*t->a));
	}
	i = t->n++;
	e = &t->a[i];
	memset(e, 0, sizeof(*e));
	e->vdc = r->vdc;
	memcpy(e->ip6, r->ip6, 16);
	e->avail = r->avail;
	e->version = r->version;
	e->server = r->server;
	memcpy(e->mac, r->mac, sizeof(e->mac));
	hmap_put(&t->by_key, h, i);
	mac_link(t, i);
	t->vclock = MAX(t->vclock, r->version);
	return 0;
}
