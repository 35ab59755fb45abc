/* Deterministic simulation of the real control plane (`peregrine sim chaos`).
 *
 * One run builds a small data center from a topology spec and runs, in one
 * process, the real cores: one directory (dir/), one RAS (ras/), one switchd
 * core (switchd/) per switch and one host agent (agent/) per server.  They
 * talk over a simulated management network (datagrams between addresses,
 * with delay) on a simulated clock (sim/event.h); the switches' tables and
 * the agents' GARP maps make up a simulated fabric that carries data
 * packets.  Faults are drawn from the seed, and so are their rates: message
 * loss, duplication, reordering and delay, management-network partitions
 * (also one-way), crashes and restarts of every daemon (the directory from
 * its persisted records), link and switch failures and recoveries, VM
 * migrations, traffic between random VMs and garbage datagrams.  Invariants
 * are checked as the run goes and once the faults stop; the first violation
 * ends the run.  docs/chaos.md describes it.
 *
 * A run is a function of its options and seed alone: it hashes every event
 * it processes, and the same seed gives the same hash.
 */
#ifndef PEREGRINE_SIM_CHAOS_H
#define PEREGRINE_SIM_CHAOS_H

#include <stdio.h>

#include "lib/common.h"

enum chaos_limits {
	CHAOS_FAULT_MS = 20000,		/* default: faults for this long */
	CHAOS_SETTLE_MS = 10000,	/* then this long to converge */
	CHAOS_PARTITION_MS = 3000,	/* default: longest partition */
	CHAOS_PROBE_TRIES = 5,		/* pair probes after settling, 1 s apart */
	CHAOS_FAILOVER_SAMPLE_MS = 1000,	/* fail-over time measured up to this */
	CHAOS_SPIN_TICKS = 1000,	/* ticks in a row asking for now: a spin */
	CHAOS_LEASE_MS = 2000,		/* the directory's lease on a found entry */
	CHAOS_FRESH_MS = 300,		/* after it, every cached entry is current */
	CHAOS_REPAIR_MS = 2000,		/* after it, the tables and bits are repaired */
	CHAOS_VMS_PER_SERVER = 2,
	CHAOS_VDCS = 3,
	CHAOS_MAX_VMS = 1 << 16,	/* VMs in one run (small fabrics) */
	CHAOS_MAX_NODES = 1 << 14,	/* topology nodes in one run */
	CHAOS_MAX_SEEDS = 1000000,
	/* --fail (sim/chaos_scale.c): one failure in a quiet fabric, at scale */
	CHAOS_SCALE_MAX_VMS = 1 << 21,
	CHAOS_SCALE_MAX_NODES = 1 << 17,
	CHAOS_SCALE_PEERS = 4,		/* default: destinations each VM resolves */
	CHAOS_SCALE_MAX_PEERS = 64,
	CHAOS_SCALE_LEASE_MS = 60000,	/* no lease ends during a measurement */
	CHAOS_SCALE_WINDOW_MS = 1000,	/* agents switched within this after the failure */
	CHAOS_MAX_MS = 3600 * 1000,	/* longest --fault-ms / --settle-ms */
};

/* The invariants, in the order the checker tries them. */
#define CHAOS_INVARIANTS(X)                                                           \
	X(isolation, "a packet reached a VM other than the (VDC, IP) it was sent to")  \
	X(loop, "a packet visited a switch twice")                                      \
	X(durability, "a registration was acknowledged before it was stored")           \
	X(registration, "an acknowledged registration is gone after the faults")        \
	X(tables, "a switch's table differs from a fresh computation after settling")   \
	X(availability, "an agent's availability bits differ from the RAS's after settling") \
	X(delivery, "a same-VDC pair does not deliver after settling")                  \
	X(spin, "a core's next deadline stays in the past (its daemon would spin)")     \
	X(failover, "after one link failure in a settled fabric, an agent holds an old version of an entry, or a pair does not deliver") \
	X(repair, "2 s after one link failure in a settled fabric, a switch's table or an availability bit is not yet what a fresh computation gives")

enum chaos_invariant {
#define CHAOS_INV_ENUM(name, desc) CHAOS_INV_##name,
	CHAOS_INVARIANTS(CHAOS_INV_ENUM)
#undef CHAOS_INV_ENUM
	CHAOS_INV_COUNT
};

const char *chaos_invariant_name(int inv);
const char *chaos_invariant_desc(int inv);

/* The kinds of fault, each with a rate drawn per seed. */
#define CHAOS_FAULTS(X)                                                              \
	X(loss, "datagrams lost")                                                    \
	X(dup, "datagrams duplicated")                                               \
	X(reorder, "delay jitter, which reorders datagrams")                         \
	X(partition, "management-network partitions, both ways or one way")          \
	X(crash, "crashes and restarts of any daemon (the directory: power loss too)") \
	X(tear, "the directory dying around a store commit")                         \
	X(link, "link failures and recoveries")                                      \
	X(switch, "switch failures and recoveries (the table is lost)")              \
	X(migrate, "VM migrations")                                                  \
	X(garbage, "garbage datagrams to every daemon")

enum chaos_fault {
#define CHAOS_F_ENUM(name, desc) CHAOS_F_##name,
	CHAOS_FAULTS(CHAOS_F_ENUM)
#undef CHAOS_F_ENUM
	CHAOS_F_COUNT
};

const char *chaos_fault_name(int f);
const char *chaos_fault_desc(int f);

struct chaos_opts {
	const char *topo;		/* topology spec */
	uint64_t seed;
	uint32_t fault_ms;		/* 0: CHAOS_FAULT_MS */
	uint32_t settle_ms;		/* 0: CHAOS_SETTLE_MS */
	uint32_t vms_per_server;	/* 0: CHAOS_VMS_PER_SERVER */
	uint32_t vdcs;			/* 0: CHAOS_VDCS */
	uint32_t partition_ms;		/* 0: CHAOS_PARTITION_MS */
	bool no_faults;			/* a quiet run: traffic only */
	uint32_t faults;		/* 1 << CHAOS_F_*; 0: every kind */
	bool strict_loops;		/* a loop while the RAS reprograms is a violation too */
	FILE *trace;			/* NULL: no readable trace */
	/* --fail: no faults, no invariant checks; warm up, fail one spine or
	 * one leaf-spine link, measure the agents' switch (chaos_scale.c) */
	int fail;			/* enum chaos_fail */
	uint32_t peers;			/* 0: CHAOS_SCALE_PEERS */
	/* --fail: what the daemons' work costs in simulated time (docs/chaos.md,
	 * "Costs charged"); each daemon is one thread, its datagrams leave when
	 * the work before them is done */
	bool no_costs;			/* charge nothing */
	uint32_t netlink_rate;		/* switchd: entries/s; 0: CHAOS_NETLINK_RATE */
	uint32_t dir_send_ns;		/* directory: per datagram; 0: CHAOS_DIR_SEND_NS */
};

enum chaos_fail { CHAOS_FAIL_NONE, CHAOS_FAIL_SPINE, CHAOS_FAIL_LINK };

/* --fail: what one datagram costs the directory to send, from `peregrine
 * bench directory` (docs/directory.md, "Fan-out"): 10,000 push datagrams
 * in 19.4 ms (fanout_ms, on par with the kernel's floor), 1.94 us each. */
#define CHAOS_DIR_SEND_NS 1940ull
/* --fail: what switchd and the kernel take to install one bridge entry:
 * `peregrine bench lab` measured 80,000-226,000 entries/s through switchd
 * and netlink (docs/lab.md); the slow end is charged. */
#define CHAOS_NETLINK_RATE 80000u

/* What one --fail run measured. */
struct chaos_scale_result {
	uint32_t failed;		/* the node (spine) or link that failed */
	uint64_t vms;
	uint64_t entries;		/* GARP entries agents held at the failure */
	uint64_t lookups_failed;	/* by then: not found, timed out or refused */
	uint64_t macs_changed;		/* server MACs the RAS withdrew */
	uint64_t restored;		/* affected entries the agent had not switched
					 * when the RAS gave their tree back */
	uint64_t agents_affected;	/* held an entry of such a MAC */
	uint64_t agents_switched;	/* of those, every such entry switched */
	uint64_t switch_ns_p50, switch_ns_p99, switch_ns_max;	/* over switched agents */
	/* the directory's part: until every affected entry of an agent showed
	 * the withdrawal in its map (agents that saw every one) */
	uint64_t agents_heard;
	uint64_t heard_ns_p50, heard_ns_p99, heard_ns_max;
	uint64_t messages;		/* management datagrams from the failure on */
	uint64_t pushes, push_datagrams;	/* the directory's, from the failure on */
	uint64_t ras_ns;		/* failure to the RAS's last availability change */
	/* the costs charged from the failure to the end (0 with no_costs) */
	uint64_t ras_cpu_ns;		/* the RAS core's CPU time, measured */
	uint64_t netlink_entries;	/* entries switchds gave the kernel */
	uint64_t netlink_ns_max;	/* the busiest switchd's netlink time */
	uint64_t dir_send_ns;		/* the directory's sending time */
	uint64_t setup_ns;		/* simulated time before the failure */
};

struct chaos_result {
	bool violated;
	int invariant;			/* enum chaos_invariant */
	uint64_t at_ns;			/* simulated time of the violation */
	char detail[256];
	uint64_t events;		/* events processed */
	uint64_t hash;			/* of every event processed, in order */
	uint64_t messages, lost, duplicated, garbage;
	uint64_t packets, delivered;
	uint64_t failover_ns;		/* quiet failure to every cached pair delivering;
					 * UINT64_MAX: not within CHAOS_FAILOVER_SAMPLE_MS */
	uint64_t loops_transient;	/* loops while the RAS reprograms or on withdrawn trees */
	uint64_t crashes, link_faults, switch_faults, partitions, migrations;
	double rate_loss, rate_dup;	/* the rates this seed drew */
	struct chaos_scale_result scale;	/* --fail only */
};

/* Run one seed.  0, or -EINVAL with a reason in err (a topology that cannot
 * be built or routed, or one too large for the harness). */
int chaos_run(const struct chaos_opts *o, struct chaos_result *r, char *err, size_t errlen);

#endif
