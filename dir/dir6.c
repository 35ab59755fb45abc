/* The directory's IPv6 table (dir/dir6.h).
 *
 * A dense array of entries and a map from a keyed 64-bit hash of
 * (VDC, address) to the entry's index.  Two keys with the same hash (a
 * chance of about n^2 / 2^65, and the seed is secret) cannot both be held:
 * the second registration is answered FULL and counted, never confused
 * with the first, since every hit compares the whole key. */
#include "dir/dir6.h"

#include <stdlib.h>
#include <string.h>

#include "lib/hash.h"
#include "wire/be.h"

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
};

struct dir6 {
	struct entry6 *a;
	uint32_t n, cap, max;
	uint32_t vclock;
	uint32_t neg_lease_ms;
	uint64_t seed;
	struct hmap by_key;
	size_t holder_bytes;
	struct dir6_stats st;
};

struct dir6 *dir6_new(uint64_t seed, uint32_t max_entries, uint32_t neg_lease_ms)
{
	struct dir6 *t = xcalloc(1, sizeof(*t));

	t->seed = hash_u64(seed, 0x6666);
	t->max = max_entries ? max_entries : DIR6_MAX_ENTRIES;
	t->neg_lease_ms = neg_lease_ms;
	hmap_init(&t->by_key, 64, hash_u64(seed, 0x6667));
	return t;
}

void dir6_free(struct dir6 *t)
{
	if (!t)
		return;
	hmap_free(&t->by_key);
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
	return (size_t)t->cap * sizeof(*t->a) + hmap_bytes(&t->by_key) + t->holder_bytes;
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
#define NONE6 UINT32_MAX
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
	r->avail = e->avail;
	r->version = e->version;
	r->server = e->server;
	memcpy(r->mac, e->mac, sizeof(r->mac));
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

/* A lease for ctx->from on e until until_ms. */
static void lease_grant(struct dir6 *t, struct entry6 *e, const struct dir6_ctx *ctx,
			uint64_t until_ms)
{
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

/* Push r to the holders of e whose lease runs. */
static void push_holders(struct dir6 *t, struct entry6 *e, const struct dirp_entry6 *r,
			 const struct dir6_ctx *ctx)
{
	uint64_t addrs[64];
	size_t n = 0;

	holders_prune(e, ctx->now_ms);
	for (uint32_t i = 0; i < e->nh; i++) {
		addrs[n++] = e->h[i].addr;
		if (n == ARRAY_SIZE(addrs) || i + 1 == e->nh) {
			if (ctx->push)
				ctx->push(ctx->arg, r, addrs, n);
			t->st.pushes += n;
			n = 0;
		}
	}
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
	}
	e = &t->a[i];
	if (e->version && e->server == r->server && e->avail == r->avail &&
	    !memcmp(e->mac, r->mac, sizeof(e->mac)))
		return DIRP_OK;		/* a retransmission, or no change */
	e->server = r->server;
	e->avail = r->avail;
	memcpy(e->mac, r->mac, sizeof(e->mac));
	e->version = ++t->vclock;
	t->st.registers++;
	if (e->nh) {
		struct dirp_entry6 p = { .vdc = e->vdc };

		memcpy(p.ip6, e->ip6, 16);
		record(e, &p);
		push_holders(t, e, &p, ctx);
	}
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

	holders_free(t, &t->a[i]);
	hmap_del(&t->by_key, h);
	if (i != last) {
		t->a[i] = t->a[last];
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
