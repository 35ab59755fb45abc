/* The chaos harness's insides, shared by sim/chaos*.c (docs/chaos.md).
 *
 *   chaos.c        the world: cores, management network, event loop, faults
 *   chaos_host.c   the servers: agent cores, their maps, the data plane
 *   chaos_check.c  the invariants
 */
#ifndef PEREGRINE_SIM_CHAOS_INT_H
#define PEREGRINE_SIM_CHAOS_INT_H

#include "agent/agent.h"
#include "dir/client.h"
#include "dir/dir.h"
#include "lib/hash.h"
#include "ras/ras.h"
#include "route/trees.h"
#include "sim/chaos.h"
#include "sim/event.h"
#include "switchd/switchd.h"
#include "topo/topo.h"

#define CHAOS_MS 1000000ull
#define CHAOS_T0_WALL 1700000000000ull	/* wall clock at simulated time 0 */
#define CHAOS_UPLINK_DELAY_MS 1000ull	/* switchd's --uplink-delay default */
/* The directory's big tables reserve this much address space each (16 GiB
 * in the daemon): a run of 1,000,000 VMs fits under `prlimit --as`. */
#define CHAOS_DIR_TABLE_RESERVE ((size_t)256 << 20)

/* Management-network endpoints: ip = CHAOS_NET + endpoint. */
enum chaos_ep {
	CHAOS_EP_DIR = 0,	/* the directory */
	CHAOS_EP_RAS = 1,	/* the RAS (switches and agents talk to it) */
	CHAOS_EP_SPARE = 2,	/* unused */
	CHAOS_EP_CHECK = 3,	/* the checker's directory client */
	CHAOS_EP_NODE = 4,	/* + topology node: a switchd or an agent */
};
#define CHAOS_NET 0x0a640000u	/* 10.100.0.0 */
enum { CHAOS_PORT = 7000, CHAOS_PORT_RAS = 7001 };

enum chaos_ev {
	CEV_MSG = 1,		/* c: message slot */
	CEV_TIMER,		/* a: endpoint, b: its generation */
	CEV_LINK,		/* a: link, b: 1 up / 0 down */
	CEV_SWITCH,		/* a: node, b: 1 up / 0 down */
	CEV_CRASH,		/* a: endpoint, b: 1 power loss (directory) */
	CEV_RESTART,		/* a: endpoint */
	CEV_PART,		/* b: 0 heal, 1 two-way, 2 one-way */
	CEV_MIGRATE,		/* a: VM, b: to server index */
	CEV_PACKET,		/* a: source VM, b: destination VM */
	CEV_GARBAGE,		/* a: endpoint */
	CEV_FAULTS_END,
	CEV_CHECK,		/* b: phase */
	CEV_NEXT_FAULT,
	CEV_QUIET_FAIL,		/* one link fails in a quiet network */
	CEV_QUIET_SAMPLE,	/* every ms: have all cached pairs recovered? */
	CEV_QUIET_PROBE,	/* b: round */
	CEV_QUIET_WATCH,	/* every cached entry is the directory's version */
	CEV_QUIET_REPAIR,	/* the tables and availability bits are repaired */
	CEV_SCALE_WARM,		/* --fail: every VM looks up its peers */
	CEV_SCALE_FAIL,		/* --fail: the one failure */
	CEV_SCALE_END,		/* --fail: the measurement window closes */
};

struct chaos_msg {
	uint64_t from, to;	/* dir_addr() */
	uint32_t len;
	uint8_t *buf;		/* NULL: a free slot */
};

struct chaos_switch {
	struct sw *sw;		/* NULL while switchd is down */
	bool dead;		/* the switch itself failed */
	uint16_t *fib;		/* the kernel's table: 2 per server, ROUTE_NO_PORT */
	uint64_t busy;		/* --fail: its netlink work ends then */
};

struct chaos_host {
	struct chaos *c;
	uint32_t index, node;
	struct agent *a;	/* NULL while the agent is down */
	struct dirc *dc;
	uint64_t last_tick;
	struct agent_config cfg;
	struct agent_vm_cfg *vms;	/* cfg.vms */
	uint32_t capvms;
	/* the data plane's maps (they outlive an agent restart) */
	struct hmap garp;	/* vdc << 32 | ip -> slot */
	struct pgr_garp_entry *gent;
	uint64_t *gkey;
	uint64_t *gset;		/* when each entry was last written by a reply */
	uint64_t *gsw;		/* --fail: 3 per entry (chaos_scale.c) */
	bool in_push;
	uint32_t ngent, gcap, *gfree, ngfree;
	struct hmap vmtab;	/* VM primary id -> 1 */
};

/* The store as the directory left it (LMDB in the daemon). */
struct chaos_store {
	struct hmap idx;	/* key -> record slot */
	uint8_t (*key)[DIR_STORE_KEY_LEN];
	uint8_t (*val)[DIR_STORE_VAL_LEN];
	uint32_t n, cap;
	/* soft batches committed since the last sync: undone by a power loss */
	struct { uint8_t key[DIR_STORE_KEY_LEN]; uint8_t val[DIR_STORE_VAL_LEN]; bool had; } *undo;
	uint32_t nundo, capundo;
};

struct chaos_check;

struct chaos {
	const struct chaos_opts *o;
	struct chaos_result *res;
	struct topo *t;
	struct sim_events q;
	struct auth_key key;
	uint64_t hash;
	bool stop;
	bool faults;		/* faults still being drawn */

	struct chaos_msg *msgs;
	uint32_t nmsgs, capmsgs, *mfree, nmfree;

	uint32_t *epgen;	/* per endpoint: its timer chain's generation */
	uint32_t *spins;	/* per endpoint: ticks in a row that asked for now */

	struct dir *dir;	/* NULL while down */
	struct dir_out dout;
	struct chaos_store store;

	struct ras *ras;	/* NULL while down */
	struct ras_out rout;
	struct ras_addr *swaddr;

	struct chaos_switch *sw;	/* per node (unused for servers) */
	struct chaos_host *host;	/* per server index */
	struct route_trees *agent_rt;	/* the agents' trees, shared */
	uint8_t *link_cut;	/* per link: failed by a fault */
	uint8_t *link_admin;	/* per link: set down by its switch (uplink tracking) */
	int8_t *intent;		/* per server * 2 + tree: the RAS's last word on
				 * that MAC (1 available, 0 not, -1 none yet) */
	struct dirc *chk;	/* the checker's client */
	struct chaos_check *ck;

	/* VMs: vdc, ip, where their port is now */
	uint32_t nvms, vdcs;
	uint32_t *vm_vdc, *vm_ip, *vm_at;
	uint8_t *vm_acked;	/* a registration of it was acknowledged */

	/* the management network */
	uint8_t *side;		/* per endpoint, in a partition */
	int part;		/* 0 none, 1 two-way, 2 one-way (side 0 cannot send) */
	double p_loss, p_dup, p_garbage, p_tear;
	uint64_t delay_ns, jitter_ns;
	/* fault rates: mean ms between faults of each kind (0: never) */
	uint32_t ms_link, ms_switch, ms_crash, ms_part, ms_migrate;
	uint64_t quiet_at;	/* when the quiet failure happened */
	uint64_t send_extra_ns;	/* added to the next datagrams' delay */
	uint64_t dir_busy;	/* --fail: the directory sends until then */
	uint64_t ras_busy;	/* --fail: the RAS computes until then */
	bool costs;		/* --fail without --no-costs */
	uint32_t vms_per_server;
	bool migrated;		/* a VM moved: servers' VMs are no longer v / per */
	struct chaos_scale *sc;	/* --fail only */
};

uint32_t chaos_neps(const struct chaos *c);
uint64_t chaos_ep_addr(uint32_t ep, uint16_t port);
/* The endpoint of an address, or UINT32_MAX. */
uint32_t chaos_addr_ep(const struct chaos *c, uint64_t addr);
struct dir_now chaos_now(const struct chaos *c);
/* Queue a datagram on the management network (loss, delay, duplicates). */
void chaos_send(struct chaos *c, uint64_t from, uint64_t to, const void *buf, size_t len);
void chaos_trace(struct chaos *c, const char *fmt, ...) PRINTF(2, 3);
/* Record the first violation and stop the run. */
void chaos_violation(struct chaos *c, int inv, const char *fmt, ...) PRINTF(3, 4);
/* Arm an endpoint's timer at an absolute time. */
void chaos_timer_at(struct chaos *c, uint32_t ep, uint64_t at);

/* VMs */
uint32_t chaos_vm_node(const struct chaos *c, uint32_t vm);
uint32_t chaos_vm_of_id(const struct chaos *c, uint32_t id);	/* UINT32_MAX: none */
uint32_t chaos_vm_by_key(const struct chaos *c, uint32_t vdc, uint32_t ip);

/* chaos_host.c */
int chaos_hosts_init(struct chaos *c);
void chaos_hosts_free(struct chaos *c);
void chaos_host_start(struct chaos *c, uint32_t s);
void chaos_host_stop(struct chaos *c, uint32_t s);
void chaos_host_input(struct chaos *c, uint32_t s, uint16_t port, const uint8_t *buf, size_t len);
void chaos_host_timer(struct chaos *c, uint32_t s);
void chaos_host_nic(struct chaos *c, uint32_t s, unsigned nic, bool up);
void chaos_host_reconfigure(struct chaos *c, uint32_t s);
/* A packet from VM src to VM dst's (VDC, IP), as src's VDC names it.
 * Returns true when it was delivered.  resolve: a miss goes to the agent
 * (false: a probe that changes nothing). */
bool chaos_packet(struct chaos *c, uint32_t src, uint32_t dst, bool resolve);
const struct pgr_garp_entry *chaos_host_garp(const struct chaos_host *h, uint32_t vdc,
					     uint32_t ip);

/* The RAS's last word on server s's MAC of `tree`: 1 available, 0 not, -1 none. */
int chaos_ras_intent(const struct chaos *c, uint32_t s, unsigned tree);
/* A link carries traffic: not failed, not set down, both ends alive. */
bool chaos_link_live(const struct chaos *c, uint32_t l);

void chaos_switch_set(struct chaos *c, uint32_t node, bool up);
void chaos_link_set(struct chaos *c, uint32_t l, bool up);

/* chaos_scale.c (--fail) */
void chaos_scale_init(struct chaos *c);
void chaos_scale_free(struct chaos *c);
void chaos_scale_start(struct chaos *c);
void chaos_scale_step(struct chaos *c, const struct sim_event *ev);
/* The RAS said server s's MAC of `tree` is (un)available. */
void chaos_scale_avail(struct chaos *c, uint32_t s, unsigned tree, bool avail, uint64_t at);
/* A cost charged (sim/chaos.c): counted from the failure on. */
enum { CHAOS_COST_RAS, CHAOS_COST_DIR };
void chaos_scale_charged(struct chaos *c, int kind, uint64_t ns);
void chaos_scale_netlink(struct chaos *c, uint32_t node, uint32_t entries, uint64_t ns);
/* Host h wrote GARP slot i. */
void chaos_scale_garp(struct chaos *c, struct chaos_host *h, uint32_t i);
/* A miss from VM src for (vdc, ip) to the agent of its server, and the
 * LOOKUPs of server s's misses so far (agent_flush). */
void chaos_host_miss(struct chaos *c, uint32_t src, uint32_t vdc, uint32_t ip);
void chaos_host_flush(struct chaos *c, uint32_t s);

/* chaos_check.c */
void chaos_check_dir_out(struct chaos *c, const struct dir_out *o);
void chaos_check_final_send(struct chaos *c);
void chaos_check_final(struct chaos *c);
void chaos_check_repair(struct chaos *c);
void chaos_check_chk_input(struct chaos *c, const uint8_t *buf, size_t len);
void chaos_check_probe(struct chaos *c, bool last, int inv);
/* After the quiet failure: true once every same-VDC pair whose source
 * holds an entry delivers. */
bool chaos_check_cached_pairs(struct chaos *c);
/* Every entry an agent holds is the directory's current version. */
void chaos_check_fresh(struct chaos *c);
void chaos_check_init(struct chaos *c);
void chaos_check_free(struct chaos *c);

#endif
