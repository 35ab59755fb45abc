/* User-space tables for the forwarding decision (bpf/fwd_tables.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/fwd_tables.h"

/* The maps' seeds need not be secret here: the keys come from the caller's
 * own state, not from a remote peer. */
#define FWD_SEED 0x70677266ull	/* "pgrf" */

void pgr_fwd_tables_init(struct pgr_fwd_tables *t)
{
	hmap_init(&t->garp, 16, FWD_SEED);
	hmap_init(&t->vms, 16, FWD_SEED);
	hmap_init(&t->ports, 16, FWD_SEED);
	hmap_init(&t->garp6, 16, FWD_SEED);
	hmap_init(&t->vip_src, 16, FWD_SEED);
	hmap_init(&t->mcast, 16, FWD_SEED);
}

static void free_values(struct hmap *m)
{
	struct hmap_table *tabs[] = { &m->cur, &m->old };

	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < tabs[k]->cap; i++)
			if (tabs[k]->used[i])
				free((void *)(uintptr_t)tabs[k]->slots[i].val);
	hmap_free(m);
}

void pgr_fwd_tables_free(struct pgr_fwd_tables *t)
{
	free_values(&t->garp);
	free_values(&t->vms);
	free_values(&t->ports);
	free_values(&t->garp6);
	free_values(&t->vip_src);
	free_values(&t->mcast);
}

static const void *get(const struct hmap *m, uint64_t key)
{
	uint64_t *v = hmap_get(m, key);

	return v ? (const void *)(uintptr_t)*v : NULL;
}

static int put(struct hmap *m, uint64_t key, const void *val, size_t size, size_t max)
{
	uint64_t *v = hmap_get(m, key);
	void *copy;

	if (v) {
		memcpy((void *)(uintptr_t)*v, val, size);
		return 0;
	}
	if (m->count >= max)
		return -E2BIG;
	copy = xmalloc(size);
	memcpy(copy, val, size);
	hmap_put(m, key, (uint64_t)(uintptr_t)copy);
	return 0;
}

static bool del(struct hmap *m, uint64_t key)
{
	uint64_t *v = hmap_get(m, key);

	if (!v)
		return false;
	free((void *)(uintptr_t)*v);
	return hmap_del(m, key);
}

static uint64_t garp_key(const struct pgr_garp_key *k)
{
	return (uint64_t)k->vdc << 32 | k->ip;
}

int pgr_fwd_garp_put(struct pgr_fwd_tables *t, const struct pgr_garp_key *k,
		     const struct pgr_garp_entry *g)
{
	return put(&t->garp, garp_key(k), g, sizeof(*g), PGR_DP_GARP_MAX);
}

int pgr_fwd_vm_put(struct pgr_fwd_tables *t, uint32_t id, const struct pgr_vm *vm)
{
	return put(&t->vms, id, vm, sizeof(*vm), PGR_DP_VMS_MAX);
}

int pgr_fwd_port_put(struct pgr_fwd_tables *t, uint32_t ifindex, const struct pgr_vm *vm)
{
	return put(&t->ports, ifindex, vm, sizeof(*vm), PGR_DP_PORTS_MAX);
}

bool pgr_fwd_garp_del(struct pgr_fwd_tables *t, const struct pgr_garp_key *k)
{
	return del(&t->garp, garp_key(k));
}

bool pgr_fwd_vm_del(struct pgr_fwd_tables *t, uint32_t id)
{
	return del(&t->vms, id);
}

bool pgr_fwd_port_del(struct pgr_fwd_tables *t, uint32_t ifindex)
{
	return del(&t->ports, ifindex);
}

int pgr_fwd_vm_add(struct pgr_fwd_tables *t, const struct pgr_vm *vm, uint32_t backup_id)
{
	int rc;

	if (!pgr_mac_valid(vm->mac) || pgr_mac_id(vm->mac) != vm->id ||
	    !pgr_id_valid(backup_id) || (vm->flags & ~PGR_VM_ROUTER))
		return -EINVAL;
	rc = pgr_fwd_vm_put(t, vm->id, vm);
	if (!rc)
		rc = pgr_fwd_vm_put(t, backup_id, vm);
	if (!rc)
		rc = pgr_fwd_port_put(t, vm->ifindex, vm);
	return rc;
}

/* The loader refuses an entry whose MACs are not Peregrine's (-EINVAL), and
 * reports a delete of a missing key (-ENOENT); so do these. */
static bool garp_valid(const struct pgr_garp_entry *g)
{
	for (int t = 0; t < PGR_TREES; t++)
		if (!pgr_mac_valid(g->vm_mac[t]) || !pgr_mac_valid(g->im_mac[t]))
			return false;
	return true;
}

int pgr_fwd_op_garp_set(void *arg, const struct pgr_garp_key *k, const struct pgr_garp_entry *g)
{
	return garp_valid(g) ? pgr_fwd_garp_put(arg, k, g) : -EINVAL;
}

int pgr_fwd_op_garp_del(void *arg, const struct pgr_garp_key *k)
{
	return pgr_fwd_garp_del(arg, k) ? 0 : -ENOENT;
}

int pgr_fwd_op_vm_add(void *arg, const struct pgr_vm *vm, uint32_t backup_id)
{
	return pgr_fwd_vm_add(arg, vm, backup_id);
}

int pgr_fwd_op_vm_del(void *arg, const struct pgr_vm *vm, uint32_t backup_id)
{
	bool a = pgr_fwd_port_del(arg, vm->ifindex), b = pgr_fwd_vm_del(arg, backup_id),
	     c = pgr_fwd_vm_del(arg, vm->id);

	return a && b && c ? 0 : -ENOENT;
}

const struct pgr_garp_entry *pgr_fwd_garp(const struct pgr_fwd_tables *t,
					  const struct pgr_garp_key *k)
{
	return get(&t->garp, garp_key(k));
}

static uint64_t garp6_key(const struct pgr_garp6_key *k)
{
	return hash_bytes(k, sizeof(*k), FWD_SEED);
}

int pgr_fwd_garp6_put(struct pgr_fwd_tables *t, const struct pgr_garp6_key *k,
		      const struct pgr_garp_entry *g)
{
	const struct pgr_fwd_garp6 *old = get(&t->garp6, garp6_key(k));
	struct pgr_fwd_garp6 v = { .k = *k, .g = *g };

	if (old && memcmp(&old->k, k, sizeof(*k)))
		return -EEXIST;
	return put(&t->garp6, garp6_key(k), &v, sizeof(v), PGR_DP_GARP_MAX);
}

const struct pgr_garp_entry *pgr_fwd_garp6(const struct pgr_fwd_tables *t,
					   const struct pgr_garp6_key *k)
{
	const struct pgr_fwd_garp6 *v = get(&t->garp6, garp6_key(k));

	return v && !memcmp(&v->k, k, sizeof(*k)) ? &v->g : NULL;
}

const struct pgr_vm *pgr_fwd_vm(const struct pgr_fwd_tables *t, uint32_t id)
{
	return get(&t->vms, id);
}

const struct pgr_vm *pgr_fwd_port(const struct pgr_fwd_tables *t, uint32_t ifindex)
{
	return get(&t->ports, ifindex);
}

static uint64_t vip_src_key(const struct pgr_vip_src_key *k)
{
	return (uint64_t)k->ifindex << 32 | k->vip;
}

int pgr_fwd_vip_src_put(struct pgr_fwd_tables *t, const struct pgr_vip_src_key *k,
			const struct pgr_vip_src *v)
{
	return put(&t->vip_src, vip_src_key(k), v, sizeof(*v), PGR_DP_VIP_SRC_MAX);
}

const struct pgr_vip_src *pgr_fwd_vip_src(const struct pgr_fwd_tables *t,
					  const struct pgr_vip_src_key *k)
{
	return get(&t->vip_src, vip_src_key(k));
}

static uint64_t mcast_key(const struct pgr_mcast_key *k)
{
	return (uint64_t)k->vdc << 32 | k->group;
}

int pgr_fwd_mcast_put(struct pgr_fwd_tables *t, const struct pgr_mcast_key *k,
		      const struct pgr_mcast_entry *m)
{
	return put(&t->mcast, mcast_key(k), m, sizeof(*m), PGR_DP_MCAST_MAX);
}

bool pgr_fwd_mcast_del(struct pgr_fwd_tables *t, const struct pgr_mcast_key *k)
{
	return del(&t->mcast, mcast_key(k));
}

const struct pgr_mcast_entry *pgr_fwd_mcast(const struct pgr_fwd_tables *t,
					    const struct pgr_mcast_key *k)
{
	return get(&t->mcast, mcast_key(k));
}

int pgr_fwd_op_mcast_set(void *arg, const struct pgr_mcast_key *k, const struct pgr_mcast_entry *m)
{
	return pgr_fwd_mcast_put(arg, k, m);
}

int pgr_fwd_op_mcast_del(void *arg, const struct pgr_mcast_key *k)
{
	return pgr_fwd_mcast_del(arg, k) ? 0 : -ENOENT;
}
