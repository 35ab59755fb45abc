/* A server's data-plane tables in user space, for the forwarding decision of
 * bpf/fwd.h outside the kernel: `peregrine trace` and the simulator.
 *
 * The same four tables as the eBPF maps of bpf/dp.h, with the same keys,
 * values and limits: the GARP and GARP6 maps, the local VMs by ID and by port.  Puts
 * beyond a map's max_entries fail with -E2BIG as the kernel's do.  The caller
 * fills them (from the pinned maps, from an agent core's state); the
 * decision only reads them. */
#ifndef PEREGRINE_BPF_FWD_TABLES_H
#define PEREGRINE_BPF_FWD_TABLES_H

#include "bpf/dp.h"
#include "lib/hash.h"

struct pgr_fwd_tables {
	struct hmap garp;	/* vdc << 32 | ip -> struct pgr_garp_entry * */
	struct hmap vms;	/* ID -> struct pgr_vm * */
	struct hmap ports;	/* ifindex -> struct pgr_vm * */
	struct hmap garp6;	/* hash of the (vdc, IPv6) key -> struct pgr_fwd_garp6 * */
	struct hmap vip_src;	/* ifindex << 32 | vip -> struct pgr_vip_src * */
	struct hmap mcast;	/* vdc << 32 | group -> struct pgr_mcast_entry * */
};

/* A GARP6 value with its key: the hash map's 64-bit key is a hash of the
 * 20-byte key, so the lookup compares the whole key. */
struct pgr_fwd_garp6 {
	struct pgr_garp6_key k;
	struct pgr_garp_entry g;
};

void pgr_fwd_tables_init(struct pgr_fwd_tables *t);
void pgr_fwd_tables_free(struct pgr_fwd_tables *t);

/* Insert or replace; 0 or -E2BIG. */
int pgr_fwd_garp_put(struct pgr_fwd_tables *t, const struct pgr_garp_key *k,
		     const struct pgr_garp_entry *g);
int pgr_fwd_vm_put(struct pgr_fwd_tables *t, uint32_t id, const struct pgr_vm *vm);
int pgr_fwd_port_put(struct pgr_fwd_tables *t, uint32_t ifindex, const struct pgr_vm *vm);
/* 0, -E2BIG, or -EEXIST if another key has the same 64-bit hash */
int pgr_fwd_garp6_put(struct pgr_fwd_tables *t, const struct pgr_garp6_key *k,
		      const struct pgr_garp_entry *g);
int pgr_fwd_vip_src_put(struct pgr_fwd_tables *t, const struct pgr_vip_src_key *k,
			const struct pgr_vip_src *v);
/* true if it was there */
bool pgr_fwd_garp_del(struct pgr_fwd_tables *t, const struct pgr_garp_key *k);
bool pgr_fwd_vm_del(struct pgr_fwd_tables *t, uint32_t id);
bool pgr_fwd_port_del(struct pgr_fwd_tables *t, uint32_t ifindex);

/* A local VM as the agent adds one (pgr_dp_vm_add): under both of its IDs
 * (vm->id and backup_id) and its port, with the loader's checks.  0,
 * -EINVAL or -E2BIG. */
int pgr_fwd_vm_add(struct pgr_fwd_tables *t, const struct pgr_vm *vm, uint32_t backup_id);

/* The same writes with the signatures of the agent core's data-plane
 * callbacks (struct agent_ops: garp_set, garp_del, vm_add, vm_del; arg is
 * the struct pgr_fwd_tables), so that a simulated agent writes into these
 * tables what a real one writes into its maps. */
int pgr_fwd_op_garp_set(void *arg, const struct pgr_garp_key *k, const struct pgr_garp_entry *g);
int pgr_fwd_op_garp_del(void *arg, const struct pgr_garp_key *k);
int pgr_fwd_op_vm_add(void *arg, const struct pgr_vm *vm, uint32_t backup_id);
int pgr_fwd_op_vm_del(void *arg, const struct pgr_vm *vm, uint32_t backup_id);

/* (VDC, IPv4 group) -> member servers and local ports (bpf/dp.h); put: 0 or
 * -E2BIG.  The op_ forms have agent_ops' mcast_set and mcast_del
 * signatures (arg: the tables). */
int pgr_fwd_mcast_put(struct pgr_fwd_tables *t, const struct pgr_mcast_key *k,
		      const struct pgr_mcast_entry *m);
bool pgr_fwd_mcast_del(struct pgr_fwd_tables *t, const struct pgr_mcast_key *k);
int pgr_fwd_op_mcast_set(void *arg, const struct pgr_mcast_key *k, const struct pgr_mcast_entry *m);
int pgr_fwd_op_mcast_del(void *arg, const struct pgr_mcast_key *k);

/* The lookups bpf/fwd.h's decision reads (NULL: no entry). */
const struct pgr_garp_entry *pgr_fwd_garp(const struct pgr_fwd_tables *t,
					  const struct pgr_garp_key *k);
const struct pgr_garp_entry *pgr_fwd_garp6(const struct pgr_fwd_tables *t,
					   const struct pgr_garp6_key *k);
const struct pgr_vm *pgr_fwd_vm(const struct pgr_fwd_tables *t, uint32_t id);
const struct pgr_vm *pgr_fwd_port(const struct pgr_fwd_tables *t, uint32_t ifindex);
const struct pgr_vip_src *pgr_fwd_vip_src(const struct pgr_fwd_tables *t,
					  const struct pgr_vip_src_key *k);
const struct pgr_mcast_entry *pgr_fwd_mcast(const struct pgr_fwd_tables *t,
					    const struct pgr_mcast_key *k);

#endif
