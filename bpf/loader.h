/* Loading the data plane: open both skeletons, set the read-only
 * configuration, load them over one shared set of maps, attach with tc, and
 * tear down through one path.  Also the user-space side of every map (fill
 * the tables, read the counters), on a loaded data plane or on its pinned
 * maps (docs/dataplane.md). */
#ifndef PEREGRINE_BPF_LOADER_H
#define PEREGRINE_BPF_LOADER_H

#include "bpf/dp.h"
#include "bpf/policy_maps.h"

enum pgr_dp_loader_limits {
	PGR_DP_ATTACH_MAX = 256,	/* tc hooks one data plane tracks */
	PGR_DP_PATH_MAX = 256,
	PGR_DP_TC_HANDLE = 0x5047,	/* our tc filter: handle and priority */
	PGR_DP_TC_PRIO = 1,
};

#define PGR_DP_PIN_ROOT "/sys/fs/bpf/peregrine"

/* The maps' file descriptors (owned by whoever opened them). */
struct pgr_dp_maps {
	int garp, vms, ports, traffic, stats, events;
	int garp6;		/* (VDC, IPv6) -> entry (bpf/fwd6.h) */
	int vip_src;		/* (port, VIP) a VM may answer from (DSR, docs/slb.md) */
	int mcast;		/* (VDC, group) -> members (docs/multicast.md) */
};

struct pgr_dp_opts {
	struct pgr_config cfg;	/* server MACs, PGR_CFG_* flags */
	const char *pin_dir;	/* pin maps and programs here; NULL: no pins */
	uint32_t traffic_max;	/* traffic matrix pairs, PGR_DP_TRAFFIC_MIN to
				 * PGR_DP_TRAFFIC_MAX; 0: PGR_DP_TRAFFIC_MAX */
};

struct pgr_dp;

/* Open, configure and load both programs.  0 or negative errno; err gets a
 * one-line reason. */
int pgr_dp_open(struct pgr_dp **out, const struct pgr_dp_opts *o, char *err, size_t errlen);
/* Detach every hook this data plane attached (unless pgr_dp_keep() was
 * called), unpin nothing, free everything. */
void pgr_dp_close(struct pgr_dp *dp);
/* Leave the tc hooks and pins in place on close (short-lived CLI). */
void pgr_dp_keep(struct pgr_dp *dp);

const struct pgr_dp_maps *pgr_dp_maps(const struct pgr_dp *dp);
/* The security-group maps (bpf/policy.h), shared by both programs. */
const struct pgr_pol_maps *pgr_dp_pol_maps(const struct pgr_dp *dp);
int pgr_dp_from_vm_fd(const struct pgr_dp *dp);
int pgr_dp_from_net_fd(const struct pgr_dp *dp);
int pgr_dp_to_vm_fd(const struct pgr_dp *dp);

/* tc: from_vm (ingress) and to_vm (egress) on a VM port, from_net (ingress)
 * on a NIC.  0 or -errno. */
int pgr_dp_attach_vm(struct pgr_dp *dp, uint32_t ifindex);
int pgr_dp_attach_nic(struct pgr_dp *dp, uint32_t ifindex);

/* Attach a program fd (for instance a pinned one) to tc ingress; a VM port's
 * two programs to its ingress and egress; remove our filters (both hooks)
 * again.  0 or -errno. */
int pgr_dp_tc_attach(int prog_fd, uint32_t ifindex, bool *created_hook);
int pgr_dp_tc_attach_port(int from_vm_fd, int to_vm_fd, uint32_t ifindex, bool *created_hook);
/* Whether a Peregrine program is attached at ifindex's tc ingress (in the
 * calling thread's network namespace): a VM port the agent has taken. */
bool pgr_dp_tc_attached(uint32_t ifindex);
int pgr_dp_tc_detach(uint32_t ifindex, bool destroy_hook);

/* ---- pinned data planes: /sys/fs/bpf/peregrine/NAME/ ------------------- */

/* PGR_DP_PIN_ROOT "/" name; false if the name is empty, too long or has '/'. */
bool pgr_dp_pin_path(const char *name, char *out, size_t outlen);
/* Mount bpffs on /sys/fs/bpf unless it is there already.  0 or -errno. */
int pgr_dp_mount_bpffs(void);
/* Open the maps pinned in dir.  0 or -errno. */
int pgr_dp_maps_open_pinned(const char *dir, struct pgr_dp_maps *m, char *err,
			    size_t errlen);
void pgr_dp_maps_close(struct pgr_dp_maps *m);
/* A pinned program ("from_vm", "from_net" or "to_vm"): fd or -errno. */
int pgr_dp_prog_open_pinned(const char *dir, const char *prog);
/* Remove dir's pins and dir itself.  0 or -errno. */
int pgr_dp_unpin(const char *dir);

/* ---- tables -------------------------------------------------------------- */

/* A local VM: its port and both of its IDs (primary in vm->id). */
int pgr_dp_vm_add(const struct pgr_dp_maps *m, const struct pgr_vm *vm, uint32_t backup_id);
int pgr_dp_vm_del(const struct pgr_dp_maps *m, const struct pgr_vm *vm, uint32_t backup_id);
/* Insert or replace a GARP entry; -EINVAL if a MAC in it is not Peregrine's. */
int pgr_dp_garp_set(const struct pgr_dp_maps *m, const struct pgr_garp_key *k,
		    const struct pgr_garp_entry *g);
int pgr_dp_garp_del(const struct pgr_dp_maps *m, const struct pgr_garp_key *k);
/* Allow a VM (its port) to answer from a VIP of its VCs: 0, -EINVAL (edge
 * MACs not unicast, pad not zero) or the map's error. */
int pgr_dp_vip_src_set(const struct pgr_dp_maps *m, const struct pgr_vip_src_key *k,
		       const struct pgr_vip_src *v);
int pgr_dp_vip_src_del(const struct pgr_dp_maps *m, const struct pgr_vip_src_key *k);
/* An IPv6 destination's entry (the same entry as IPv4's); -EINVAL as above. */
int pgr_dp_garp6_set(const struct pgr_dp_maps *m, const struct pgr_garp6_key *k,
		     const struct pgr_garp_entry *g);
int pgr_dp_garp6_del(const struct pgr_dp_maps *m, const struct pgr_garp6_key *k);

/* A group's member servers and local ports (bpf/dp.h, struct
 * pgr_mcast_entry); -EINVAL if a count is past its limit or a MAC is not
 * Peregrine's. */
int pgr_dp_mcast_set(const struct pgr_dp_maps *m, const struct pgr_mcast_key *k,
		     const struct pgr_mcast_entry *e);
int pgr_dp_mcast_del(const struct pgr_dp_maps *m, const struct pgr_mcast_key *k);

/* Counters summed over CPUs: out[PGR_STAT_COUNT].  0 or -errno. */
int pgr_dp_stats_read(const struct pgr_dp_maps *m, struct pgr_counter *out);
/* Counters 0..n-1 of any per-CPU array of {packets, bytes} (the schemes'
 * programs keep theirs so: vl2_counter, nl_counter, bcube_counter), summed
 * over the CPUs.  0 or -errno. */
int pgr_counters_read(int map_fd, uint32_t n, struct pgr_counter *out);
const char *pgr_dp_stat_name(enum pgr_stat s);	/* "vm_arp_reply" */
const char *pgr_dp_stat_desc(enum pgr_stat s);

/* Walk the traffic matrix (summed over CPUs); fn returns non-zero to stop.
 * Returns the number of pairs visited or -errno. */
int pgr_dp_traffic_walk(const struct pgr_dp_maps *m,
			int (*fn)(const struct pgr_pair *, const struct pgr_counter *, void *),
			void *arg);

#endif
