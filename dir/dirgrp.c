/* The directory's group table (dir/dirgrp.h).
 *
 * Groups sit in a dense array, found through a map from a keyed hash of
 * (VDC, group) (two keys with one hash: the second is refused FULL, as in
 * dir/dir6.c); each group owns a small array of members, at most
 * DIRGRP_MAX_VMS.  A second map counts the groups of each VDC. */
#include "dir/dirgrp.h"

#include <stdlib.h>
#include <string.h>

#include "lib/hash.h"
#include "wire/be.h"

struct member {
	uint8_t vm[6];
	uint32_t server;
	uint8_t im[2][6];
};

struct group {
	uint32_t vdc;
	uint8_t g[16];
	uint32_t n;
	struct member *m;	/* DIRGRP_MAX_VMS, allocated with the group */
};

struct dirgrp {
	struct group *a;
	uint32_t n, cap;
	size_t members;
	uint32_t neg_lease_ms;
	uint64_t seed;
	struct hmap by_key;	/* hash(vdc, group) -> index */
	struct hmap per_vdc;	/* vdc -> groups */
	struct dirgrp_stats st;
};

#define NONE_G UINT32_MAX

struct dirgrp *dirgrp_new(uint64_t seed, uint32_t neg_lease_ms)
{
	struct dirgrp *t = xcalloc(1, sizeof(*t));

	t->seed = hash_u64(seed, 0x4747);
	t->neg_lease_ms = neg_lease_ms;
	hmap_init(&t->by_key, 16, hash_u64(seed, 0x4748));
	hmap_init(&t->per_vdc, 16, hash_u64(seed, 0x4749));
	return t;
}

void dirgrp_free(struct dirgrp *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < t->n; i++)
		free(t->a[i].m);
	hmap_free(&t->by_key);
	hmap_free(&t->per_vdc);
	free(t->a);
	free(t);
}

size_t dirgrp_count(const struct dirgrp *t)
{
	return t->n;
}

size_t dirgrp_members(const struct dirgrp *t)
{
	return t->members;
}

size_t dirgrp_mem_bytes(const struct dirgrp *t)
{
	return (size_t)t->cap * sizeof(*t->a) +
	       (size_t)t->n * DIRGRP_MAX_VMS * sizeof(struct member) +
	       hmap_bytes(&t->by_key) + hmap_bytes(&t->per_vdc);
}

const struct dirgrp_stats *dirgrp_stats(const struct dirgrp *t)
{
	return &t->st;
}

static uint64_t key_hash(const struct dirgrp *t, uint32_t vdc, const uint8_t g[16])
{
	uint8_t k[20];

	wire_put32(k, vdc);
	memcpy(k + 4, g, 16);
	return hash_bytes(k, sizeof(k), t->seed);
}

/* The group's index or NONE_G; a hash collision counts as absent with
 * *clash set. */
static uint32_t find(const struct dirgrp *t, uint32_t vdc, const uint8_t g[16], bool *clash)
{
	uint64_t *v = hmap_get(&t->by_key, key_hash(t, vdc, g));
	const struct group *gr;

	*clash = false;
	if (!v)
		return NONE_G;
	gr = &t->a[*v];
	if (gr->vdc == vdc && !memcmp(gr->g, g, 16))
		return (uint32_t)*v;
	*clash = true;
	return NONE_G;
}

static uint64_t vdc_groups(const struct dirgrp *t, uint32_t vdc)
{
	uint64_t *v = hmap_get(&t->per_vdc, vdc);

	return v ? *v : 0;
}

static void vdc_add(struct dirgrp *t, uint32_t vdc, int delta)
{
	uint64_t n = vdc_groups(t, vdc) + (uint64_t)(int64_t)delta;

	if (n)
		hmap_put(&t->per_vdc, vdc, n);
	else
		hmap_del(&t->per_vdc, vdc);
}

static uint32_t group_add(struct dirgrp *t, uint32_t vdc, const uint8_t g[16])
{
	uint32_t i;

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->a = xreallocarray(t->a, t->cap, sizeof(*t->a));
	}
	i = t->n++;
	t->a[i] = (struct group){ .vdc = vdc };
	memcpy(t->a[i].g, g, 16);
	t->a[i].m = xcalloc(DIRGRP_MAX_VMS, sizeof(struct member));
	hmap_put(&t->by_key, key_hash(t, vdc, g), i);
	vdc_add(t, vdc, 1);
	return i;
}

/* Remove group i: the last one moves into its place. */
static void group_del(struct dirgrp *t, uint32_t i)
{
	uint32_t last = --t->n;

	hmap_del(&t->by_key, key_hash(t, t->a[i].vdc, t->a[i].g));
	vdc_add(t, t->a[i].vdc, -1);
	free(t->a[i].m);
	if (i != last) {
		t->a[i] = t->a[last];
		hmap_put(&t->by_key, key_hash(t, t->a[i].vdc, t->a[i].g), i);
	}
}

static bool has_server(const struct group *gr, uint32_t server)
{
	for (uint32_t k = 0; k < gr->n; k++)
		if (gr->m[k].server == server)
			return true;
	return false;
}

static uint32_t servers(const struct group *gr)
{
	uint32_t n = 0;

	for (uint32_t k = 0; k < gr->n; k++) {
		bool seen = false;

		for (uint32_t j = 0; j < k && !seen; j++)
			seen = gr->m[j].server == gr->m[k].server;
		n += !seen;
	}
	return n;
}

static int member_find(const struct group *gr, const uint8_t vm[6])
{
	for (uint32_t k = 0; k < gr->n; k++)
		if (!memcmp(gr->m[k].vm, vm, 6))
			return (int)k;
	return -1;
}

static bool join_ok(const struct dirp_member *r)
{
	return (dirp_group_ok(r->group) || dirp_group_is_bcast(r->group)) && !r->status &&
	       !r->lease_ms && r->server && dirp_mac_ok(r->vm) && dirp_mac_ok(r->im[0]) &&
	       dirp_mac_ok(r->im[1]) && memcmp(r->im[0], r->im[1], 6) &&
	       memcmp(r->vm, r->im[0], 6) && memcmp(r->vm, r->im[1], 6);
}

static uint8_t join_one(struct dirgrp *t, const struct dirp_member *r)
{
	uint32_t i;
	struct group *gr;
	struct member *mb;
	bool clash;
	int k;

	if (!join_ok(r))
		return t->st.invalid++, DIRP_INVALID;
	i = find(t, r->vdc, r->group, &clash);
	if (clash || (i == NONE_G && t->n >= DIRGRP_MAX_GROUPS))
		return t->st.full_table++, DIRP_FULL;
	if (i == NONE_G && vdc_groups(t, r->vdc) >= DIRGRP_MAX_PER_VDC)
		return t->st.full_vdc++, DIRP_FULL;
	if (i == NONE_G)
		i = group_add(t, r->vdc, r->group);
	gr = &t->a[i];
	k = member_find(gr, r->vm);
	if (k < 0) {
		if (gr->n >= DIRGRP_MAX_VMS ||
		    (!has_server(gr, r->server) && servers(gr) >= DIRGRP_MAX_SERVERS)) {
			if (!gr->n)
				group_del(t, i);
			return t->st.full_group++, DIRP_FULL;
		}
		k = (int)gr->n++;
		t->members++;
	} else if (gr->m[k].server != r->server && !has_server(gr, r->server) &&
		   servers(gr) >= DIRGRP_MAX_SERVERS) {
		return t->st.full_group++, DIRP_FULL;	/* moved to one server too many */
	}
	mb = &gr->m[k];
	memcpy(mb->vm, r->vm, 6);
	mb->server = r->server;
	memcpy(mb->im, r->im, sizeof(mb->im));
	t->st.joins++;
	return DIRP_OK;
}

static uint8_t leave_one(struct dirgrp *t, const struct dirp_member *r)
{
	bool clash;
	uint32_t i = find(t, r->vdc, r->group, &clash);
	struct group *gr;
	int k;

	if (i == NONE_G)
		return DIRP_NOT_FOUND;
	gr = &t->a[i];
	if ((k = member_find(gr, r->vm)) < 0)
		return DIRP_NOT_FOUND;
	gr->m[k] = gr->m[--gr->n];
	t->members--;
	t->st.leaves++;
	if (!gr->n)
		group_del(t, i);
	return DIRP_OK;
}

static void do_change(struct dirgrp *t, const struct dirp_msg *m, struct dirp_writer *w)
{
	for (unsigned k = 0; k < m->h.count; k++) {
		struct dirp_member r;

		dirp_get_member(m, k, &r);
		r.status = m->h.type == DIRP_JOIN ? join_one(t, &r) : leave_one(t, &r);
		r.lease_ms = 0;
		dirp_put_member(w, &r);
	}
}

static void do_members(struct dirgrp *t, const struct dirp_msg *m, struct dirp_writer *w)
{
	struct dirp_member out = { 0 };
	struct dirp_key6 key;
	const struct group *gr;
	bool clash;
	uint32_t i;

	if (m->h.count != 1) {	/* one group per question: nothing to answer */
		t->st.invalid++;
		return;
	}
	dirp_get_key6(m, 0, &key);
	out.vdc = key.vdc;
	memcpy(out.group, key.ip6, 16);
	t->st.lookups++;
	i = find(t, key.vdc, key.ip6, &clash);
	if (i == NONE_G) {
		out.status = DIRP_NOT_FOUND;
		out.lease_ms = t->neg_lease_ms;
		t->st.misses++;
		dirp_put_member(w, &out);
		return;
	}
	gr = &t->a[i];
	out.lease_ms = DIRGRP_LEASE_MS;
	for (uint32_t k = 0; k < gr->n; k++) {
		bool seen = false;

		for (uint32_t j = 0; j < k && !seen; j++)
			seen = gr->m[j].server == gr->m[k].server;
		if (seen)
			continue;
		out.server = gr->m[k].server;
		memcpy(out.vm, gr->m[k].vm, 6);	/* the replicas' DST_ID there */
		memcpy(out.im, gr->m[k].im, sizeof(out.im));
		dirp_put_member(w, &out);	/* at most DIRGRP_MAX_SERVERS: fits */
	}
}

void dirgrp_request(struct dirgrp *t, const struct dirp_msg *m, struct dirp_writer *w)
{
	switch (m->h.type) {
	case DIRP_JOIN:
	case DIRP_LEAVE: do_change(t, m, w); break;
	case DIRP_MEMBERS: do_members(t, m, w); break;
	default: break;
	}
}
