/* Loading the load balancer's XDP program (bpf/slb.bpf.c) and the
 * user-space side of its maps: services, Maglev tables, backends, counters
 * (docs/slb.md). */
#ifndef PEREGRINE_BPF_SLB_LOADER_H
#define PEREGRINE_BPF_SLB_LOADER_H

#include <stddef.h>
#include "bpf/slb.h"

struct pgr_slb_maps {
	int vips, tables, backends, conns, news, stats, backend_stats;
};

struct pgr_slb_dp_opts {
	struct pgr_slb_config cfg;	/* this server's MACs */
	uint32_t conns_max;	/* PGR_SLB_CONNS_MIN .. PGR_SLB_CONNS_MAX; 0: the most */
};

struct pgr_slb_dp;

/* Open, configure and load.  0 or negative errno; err gets a one-line reason. */
int pgr_slb_dp_open(struct pgr_slb_dp **out, const struct pgr_slb_dp_opts *o, char *err,
		    size_t errlen);
/* Detach from the NIC it was attached to, free everything. */
void pgr_slb_dp_close(struct pgr_slb_dp *dp);
const struct pgr_slb_maps *pgr_slb_dp_maps(const struct pgr_slb_dp *dp);
int pgr_slb_dp_prog_fd(const struct pgr_slb_dp *dp);
/* XDP on ifindex: native if the driver has it, else generic; generic only
 * when `generic` (a veth whose peer has no XDP program cannot take XDP_TX
 * frames in native mode).  0 or -errno. */
int pgr_slb_dp_attach(struct pgr_slb_dp *dp, uint32_t ifindex, bool generic);

/* ---- tables -------------------------------------------------------------- */

/* A service and its VIP's marker entry (port 0, protocol 0); -EINVAL for a
 * key with port or protocol 0 or a table out of range. */
int pgr_slb_vip_set(const struct pgr_slb_maps *m, const struct pgr_slb_vip_key *k,
		    const struct pgr_slb_vip *v);
/* Remove a service; the marker goes with the VIP's last service (the
 * caller says so: last). */
int pgr_slb_vip_del(const struct pgr_slb_maps *m, const struct pgr_slb_vip_key *k, bool last);
/* Write table t's PGR_SLB_RING slots. */
int pgr_slb_table_set(const struct pgr_slb_maps *m, uint32_t t, const uint32_t *slots);
/* -EINVAL if an address in it is not a Peregrine MAC or idx is out of range. */
int pgr_slb_backend_set(const struct pgr_slb_maps *m, uint32_t idx,
			const struct pgr_slb_backend *be);

/* Counters summed over CPUs: out[PGR_SLB_STAT_COUNT]; one backend's. */
int pgr_slb_stats_read(const struct pgr_slb_maps *m, struct pgr_slb_counter *out);
int pgr_slb_backend_stats_read(const struct pgr_slb_maps *m, uint32_t idx,
			       struct pgr_slb_counter *out);
const char *pgr_slb_stat_name(enum pgr_slb_stat s);	/* "fwd_established" */
const char *pgr_slb_stat_desc(enum pgr_slb_stat s);

#endif
