/* The load balancer's control core: one SLB server's view of its VCs.
 *
 * An I/O-free state machine with the project's contract:
 *   slb_input(core, now, event, out) -> actions in `out`, next deadline.
 * Events: start, timer, a backend answered a health probe, a load report
 * for a backend (CPU and network, percent), drain on/off.  Actions: write a
 * backend entry, a Maglev table or a service into the data plane, probe a
 * backend.  The shell (cmd/slb.c) does the I/O: BPF maps, probes, clock.
 *
 * Health: a backend that has not answered for `fails` probe intervals is
 * down (detection within fails * interval of its last answer, bounded by
 * the deadline the core returns); its table slots go to the others and its
 * entry is marked PGR_SLB_BE_DOWN, so its established flows are re-picked.
 * One answer brings it back.  Draining: out of the tables (no new flows),
 * entry kept as it is (established flows stay).  Weights: the configured
 * weight times (100 - load)%, in steps of SLB_LOAD_STEP_PCT and never below
 * SLB_LOAD_FLOOR_PCT, load = max(CPU, network) (the seed: "based on network
 * and CPU load"); a table is rebuilt only when an effective weight changes.
 *
 * Backend indices (what the tables hold) follow the order of the
 * configuration, and table keys are (VDC, IP): every SLB server given the
 * same file builds the same tables. */
#ifndef PEREGRINE_SLB_SLB_H
#define PEREGRINE_SLB_SLB_H

#include "bpf/slb.h"
#include "slb/vc.h"

enum slb_core_limits {
	SLB_LOAD_STEP_PCT = 10,		/* weights move in steps: no rebuild per jitter */
	SLB_LOAD_FLOOR_PCT = 10,	/* a loaded backend keeps a tenth of its weight */
};

enum slb_event_type {
	SLB_EV_START,		/* write everything; probes begin */
	SLB_EV_TIMER,		/* the deadline passed */
	SLB_EV_PROBE_OK,	/* backend answered */
	SLB_EV_LOAD,		/* backend's load: cpu_pct, net_pct */
	SLB_EV_DRAIN,		/* backend: drain on (on = true) or off */
};

struct slb_event {
	enum slb_event_type type;
	uint32_t backend;	/* global backend index */
	uint32_t cpu_pct, net_pct;	/* 0 .. 100 */
	bool on;
};

enum slb_action_type {
	SLB_ACT_BACKEND,	/* index, be */
	SLB_ACT_TABLE,		/* index (table), slots (PGR_SLB_RING, the core's) */
	SLB_ACT_VIP,		/* key, vip */
	SLB_ACT_PROBE,		/* index (backend), ip, port, proto */
};

struct slb_action {
	enum slb_action_type type;
	uint32_t index;
	struct pgr_slb_backend be;
	const uint32_t *slots;	/* valid until the next slb_input */
	struct pgr_slb_vip_key key;
	struct pgr_slb_vip vip;
	uint32_t ip;		/* network order */
	uint16_t port;		/* host order */
	uint8_t proto;
};

struct slb_out {
	struct slb_action *acts;	/* grown by the core, owned by the caller */
	size_t n, cap;
	uint64_t deadline_ns;		/* call again with SLB_EV_TIMER by then */
};

#define SLB_COUNTERS(X)                                                          \
	X(probes, "health probes asked for")                                    \
	X(backend_down, "backends found down")                                  \
	X(backend_up, "backends back up")                                       \
	X(rebuilds, "Maglev tables rebuilt")                                    \
	X(weight_changes, "effective weights changed by load")                  \
	X(bad_event, "events refused: unknown backend or value out of range")

enum slb_counter {
#define SLB_CTR_ENUM(name, desc) SLB_CTR_##name,
	SLB_COUNTERS(SLB_CTR_ENUM)
#undef SLB_CTR_ENUM
	SLB_CTR_COUNT
};

enum slb_be_state { SLB_BE_UP, SLB_BE_DOWN };

/* What the shell may read for status. */
struct slb_backend_view {
	const char *vc;
	uint32_t vdc, ip, vm, server;
	enum slb_be_state state;
	bool drain;
	uint32_t load_pct, weight;	/* effective weight (0 when out of the tables) */
	uint32_t slots;			/* table slots it holds (in its VC's first table) */
};

struct slb_core;

/* A core for cfg (the core keeps its own copy). */
struct slb_core *slb_core_new(const struct slb_config *cfg);
void slb_core_free(struct slb_core *c);
/* 0; -EINVAL for an event it refuses (counted as bad_event, no action). */
int slb_input(struct slb_core *c, uint64_t now, const struct slb_event *ev, struct slb_out *out);
void slb_out_free(struct slb_out *out);

uint32_t slb_core_nbackends(const struct slb_core *c);
/* The first backend (vdc, ip) (ip in network order) at index `from` or
 * later: its index, or -1.  One VM may back several VCs. */
int64_t slb_core_find(const struct slb_core *c, uint32_t vdc, uint32_t ip, uint32_t from);
void slb_core_backend(const struct slb_core *c, uint32_t i, struct slb_backend_view *v);
uint64_t slb_core_counter(const struct slb_core *c, enum slb_counter k);
const char *slb_counter_name(enum slb_counter k);

#endif
