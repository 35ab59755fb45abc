/* Security groups, the map side (bpf/policy_maps.h). */
#include "bpf/policy_maps.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/common.h"

const char *const pgr_pol_map_names[6] = {
	"pgr_pol_vms", "pgr_pol_port", "pgr_pol_peer", "pgr_ct", "pgr_pol_stats", "pgr_pol_slots",
};

int *pgr_pol_map_slot(struct pgr_pol_maps *m, size_t i)
{
	int *slots[] = { &m->vms, &m->port, &m->peer, &m->ct, &m->stats, &m->slots };

	_Static_assert(ARRAY_SIZE(slots) == ARRAY_SIZE(pgr_pol_map_names), "map table");
	return slots[i];
}

int pgr_pol_maps_open_pinned(const char *dir, struct pgr_pol_maps *m, char *err, size_t errlen)
{
	char path[256];

	for (size_t i = 0; i < ARRAY_SIZE(pgr_pol_map_names); i++)
		*pgr_pol_map_slot(m, i) = -1;
	for (size_t i = 0; i < ARRAY_SIZE(pgr_pol_map_names); i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, pgr_pol_map_names[i]);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			int e = errno;

			snprintf(err, errlen, "%s: %s", path, strerror(e));
			pgr_pol_maps_close(m);
			return -e;
		}
		*pgr_pol_map_slot(m, i) = fd;
	}
	return 0;
}

void pgr_pol_maps_close(struct pgr_pol_maps *m)
{
	for (size_t i = 0; i < ARRAY_SIZE(pgr_pol_map_names); i++) {
		int *fd = pgr_pol_map_slot(m, i);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

uint32_t pgr_pol_next_set(uint32_t vm_id, uint32_t cur)
{
	uint32_t g = (cur & 0xff) % 255 + 1;

	return vm_id << 8 | g;
}

uint32_t pgr_pol_current_set(const struct pgr_pol_maps *m, uint32_t vm_id)
{
	struct pgr_pol_vm v;

	return bpf_map_lookup_elem(m->vms, &vm_id, &v) ? 0 : v.set;
}

/* Walk one trie (key size ksz, set at offset 4) and delete set's keys:
 * collected first, since deleting while walking would lose the place. */
static size_t delete_set_in(int fd, size_t ksz, uint32_t set)
{
	uint8_t key[16], next[16], *found = NULL;
	size_t n = 0, cap = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		uint32_t s;

		memcpy(&s, next + 4, 4);
		if (s == set) {
			if (n == cap) {
				cap = cap ? 2 * cap : 256;
				found = xreallocarray(found, cap, ksz);
			}
			memcpy(found + n++ * ksz, next, ksz);
		}
		memcpy(key, next, ksz);
		prev = key;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, found + i * ksz);
	free(found);
	return n;
}

size_t pgr_pol_delete_set(const struct pgr_pol_maps *m, uint32_t set)
{
	return delete_set_in(m->port, sizeof(struct pgr_pol_port_key), set) +
	       delete_set_in(m->peer, sizeof(struct pgr_pol_peer_key), set);
}

static void delete_entries(const struct pgr_pol_maps *m, const struct pol_compiled *c,
			   size_t nport, size_t npeer)
{
	for (size_t i = 0; i < nport; i++)
		bpf_map_delete_elem(m->port, &c->port[i].k);
	for (size_t i = 0; i < npeer; i++)
		bpf_map_delete_elem(m->peer, &c->peer[i].k);
}

/* The VM's slot of pgr_pol_slots, in the array mmapped (*base, to be
 * unmapped with slots_unmap()); NULL with errno on failure. */
static struct pgr_pol_slot *slot_map(const struct pgr_pol_maps *m, uint32_t vm_id, void **base)
{
	*base = mmap(NULL, PGR_POL_SLOTS * sizeof(struct pgr_pol_slot), PROT_READ | PROT_WRITE,
		     MAP_SHARED, m->slots, 0);
	if (*base == MAP_FAILED)
		return NULL;
	return (struct pgr_pol_slot *)*base + (vm_id & (PGR_POL_SLOTS - 1));
}

static void slots_unmap(void *base)
{
	munmap(base, PGR_POL_SLOTS * sizeof(struct pgr_pol_slot));
}

int pgr_pol_apply(const struct pgr_pol_maps *m, uint32_t vm_id, const struct pol_compiled *c,
		  const struct pol_compiled *old)
{
	bool first = !pgr_pol_current_set(m, vm_id);
	struct pgr_pol_slot *slot;
	size_t np = 0, nr = 0;
	void *base;
	int err = 0;

	if (!c->vm.set || (old && old->vm.set == c->vm.set))
		return -EINVAL;	/* a new version needs a set of its own */
	slot = slot_map(m, vm_id, &base);
	if (!slot)
		return -errno;
	for (; np < c->nport && !err; np++)
		if (bpf_map_update_elem(m->port, &c->port[np].k, &c->port[np].cls, BPF_ANY))
			err = -errno;
	for (; nr < c->npeer && !err; nr++)
		if (bpf_map_update_elem(m->peer, &c->peer[nr].k, &c->peer[nr].rule, BPF_ANY))
			err = -errno;
	if (!err && first)	/* counted before its entry: the data plane then looks */
		__atomic_add_fetch(&slot->vms, 1, __ATOMIC_SEQ_CST);
	if (!err && bpf_map_update_elem(m->vms, &vm_id, &c->vm, BPF_ANY)) {
		err = -errno;
		if (first)
			__atomic_sub_fetch(&slot->vms, 1, __ATOMIC_SEQ_CST);
	}
	if (err) {
		slots_unmap(base);
		delete_entries(m, c, np, nr);
		return err;
	}
	__atomic_add_fetch(&slot->gen, 1, __ATOMIC_SEQ_CST);	/* after the switch */
	slots_unmap(base);
	if (old)
		delete_entries(m, old, old->nport, old->npeer);
	return 0;
}

int pgr_pol_remove(const struct pgr_pol_maps *m, uint32_t vm_id, const struct pol_compiled *old)
{
	struct pgr_pol_slot *slot;
	void *base;
	int err = 0;

	slot = slot_map(m, vm_id, &base);
	if (!slot)
		return -errno;
	if (!bpf_map_delete_elem(m->vms, &vm_id)) {
		__atomic_add_fetch(&slot->gen, 1, __ATOMIC_SEQ_CST);
		__atomic_sub_fetch(&slot->vms, 1, __ATOMIC_SEQ_CST);
	} else if (errno != ENOENT) {
		err = -errno;
	}
	slots_unmap(base);
	if (old)
		delete_entries(m, old, old->nport, old->npeer);
	return err;
}

int pgr_pol_stats_read(const struct pgr_pol_maps *m, struct pgr_counter *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct pgr_counter *per;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	per = xcalloc((size_t)ncpu, sizeof(*per));
	for (uint32_t s = 0; s < PGR_POL_STAT_COUNT; s++) {
		out[s] = (struct pgr_counter){ 0 };
		if (bpf_map_lookup_elem(m->stats, &s, per)) {
			free(per);
			return -errno;
		}
		for (int c = 0; c < ncpu; c++) {
			out[s].packets += per[c].packets;
			out[s].bytes += per[c].bytes;
		}
	}
	free(per);
	return 0;
}

static const char *const stat_names[] = {
#define PGR_POL_STAT_NAME(name, desc) #name,
	PGR_POL_STATS(PGR_POL_STAT_NAME)
#undef PGR_POL_STAT_NAME
};

static const char *const stat_descs[] = {
#define PGR_POL_STAT_DESC(name, desc) desc,
	PGR_POL_STATS(PGR_POL_STAT_DESC)
#undef PGR_POL_STAT_DESC
};

const char *pgr_pol_stat_name(enum pgr_pol_stat s)
{
	static char lower[PGR_POL_STAT_COUNT][32];

	if ((unsigned)s >= PGR_POL_STAT_COUNT)
		return "?";
	if (!lower[s][0])
		for (size_t i = 0; stat_names[s][i] && i + 1 < sizeof(lower[s]); i++)
			lower[s][i] = (char)tolower((unsigned char)stat_names[s][i]);
	return lower[s];
}

const char *pgr_pol_stat_desc(enum pgr_pol_stat s)
{
	return (unsigned)s < PGR_POL_STAT_COUNT ? stat_descs[s] : "?";
}
