/* Security groups, the map side: write a VM's compiled rules
 * (agent/policy.h) into the maps of bpf/policy.h, switch the VM to them in
 * one update, and delete the previous version; read the verdict counters.
 * docs/policy.md, "Updating a policy". */
#ifndef PEREGRINE_BPF_POLICY_MAPS_H
#define PEREGRINE_BPF_POLICY_MAPS_H

#include "agent/policy.h"

/* The maps' file descriptors (owned by whoever opened them). */
struct pgr_pol_maps {
	int vms, port, peer, ct, stats, slots;
};

/* The map names, in the order of struct pgr_pol_maps. */
extern const char *const pgr_pol_map_names[6];
int *pgr_pol_map_slot(struct pgr_pol_maps *m, size_t i);

/* Open the maps pinned in dir (a data plane's pins, bpf/loader.h).  0 or
 * -errno, with err filled. */
int pgr_pol_maps_open_pinned(const char *dir, struct pgr_pol_maps *m, char *err, size_t errlen);
void pgr_pol_maps_close(struct pgr_pol_maps *m);

/* The rule set for a VM's next version: (vm_id << 8) | generation, the
 * generation 1..255 and never the current one (cur; 0: none), so that sets
 * are unique per server and a version never reuses the one it replaces. */
uint32_t pgr_pol_next_set(uint32_t vm_id, uint32_t cur);
/* The set installed for vm_id now, or 0. */
uint32_t pgr_pol_current_set(const struct pgr_pol_maps *m, uint32_t vm_id);
/* Delete every trie entry of rule set `set` (walking the tries: for a
 * version the caller no longer has compiled).  The number deleted. */
size_t pgr_pol_delete_set(const struct pgr_pol_maps *m, uint32_t set);

/* Install c for the VM with primary ID vm_id: its entries first, then the
 * VM's switch to c->vm.set (for a VM without a policy before, its slot
 * counts it first), then its slot's generation is bumped (its tracked
 * connections are checked again), then old's entries (the version it
 * replaces; NULL: none) are deleted.  A packet sees either the old rules or
 * the new ones, never a mix.  0 or -errno (on failure the VM keeps the old
 * set and what was written of the new one is deleted).  Two writers may
 * change different VMs' policies at once (the slot is changed with atomic
 * operations), not the same VM's. */
int pgr_pol_apply(const struct pgr_pol_maps *m, uint32_t vm_id, const struct pol_compiled *c,
		  const struct pol_compiled *old);
/* Take the VM's policy away (it is no longer policed; its slot's generation
 * is bumped and its count dropped, so its tracked connections are forgotten
 * at their next packet) and delete old's entries.  0 or -errno. */
int pgr_pol_remove(const struct pgr_pol_maps *m, uint32_t vm_id, const struct pol_compiled *old);

/* Counters summed over CPUs: out[PGR_POL_STAT_COUNT].  0 or -errno. */
int pgr_pol_stats_read(const struct pgr_pol_maps *m, struct pgr_counter *out);
const char *pgr_pol_stat_name(enum pgr_pol_stat s);	/* "drop_rule" */
const char *pgr_pol_stat_desc(enum pgr_pol_stat s);

#endif
