/* Running a lab: the state directory, namespaces, processes.
 *
 * A lab with prefix P keeps everything it needs to find and remove itself in
 * LAB_RUN_DIR/lab-P/ (written before anything else is created):
 *
 *   lab.yaml          the lab file it was built from (the plan is derived
 *                     from it again by every command)
 *   key               the management network's shared key
 *   pids/NODE.DAEMON  one pid file per daemon started
 *   logs/NODE.DAEMON.log
 *   setup/            the batch scripts `up` ran (for debugging)
 */
#ifndef PEREGRINE_LAB_RUN_H
#define PEREGRINE_LAB_RUN_H

#include <sys/types.h>
#include "lab/lab.h"

#define LAB_RUN_DIR "/run/peregrine"

enum lab_run_limits {
	LAB_STOP_WAIT_MS = 3000,	/* SIGTERM, then SIGKILL after this */
	LAB_READY_WAIT_MS = 10000,	/* daemons must answer within this */
	LAB_OSPF_WAIT_MS = 30000,	/* a VL2 fabric converges within this */
	LAB_BGP_WAIT_MS = 60000,	/* an EVPN fabric: underlay and EVPN routes */
	LAB_MAX_DAEMONS_PER_NODE = 4,
	LAB_SETUP_JOBS = 8,		/* setup scripts running at once */
	LAB_SAVE_LOGS_MAX = 1000,	/* lab-P.1 .. lab-P.1000 under PEREGRINE_LAB_SAVE_LOGS */
};

/* Where a daemon runs. */
enum lab_where { LAB_ON_SWITCH, LAB_ON_SERVER, LAB_ON_MGMT,
		 /* a replicated control plane's namespaces (lab/ha.c) */
		 LAB_ON_HA_ETCD, LAB_ON_HA_DIR, LAB_ON_HA_RAS,
		 /* the load balancer's servers and the edge server (lab/slb.c) */
		 LAB_ON_SLB, LAB_ON_SLB_EDGE };

/* A daemon the lab starts.  The table in lab/daemons.c lists those that
 * exist; the directory, the RAS and the host agent join it as they land. */
struct lab_daemon {
	const char *name;		/* the peregrine subcommand, or the program's name */
	enum lab_where where;
	/* argv after "peregrine NAME" (or after `exe`); returns argc (at most
	 * LAB_MAX_ARGS).  Its command line must carry "--name P-NODE" (or
	 * FRR's "-N P-NODE"): that is how the lab knows its processes. */
	int (*args)(const struct lab *l, const char *dir, uint32_t node, char **argv,
		    char (*bufs)[128]);
	uint32_t schemes;		/* LAB_IN(scheme) bits: the schemes it runs in */
	const char *exe;		/* NULL: peregrine itself; else a program's path */
	/* its Prometheus metrics port on the node's management address
	 * (--metrics); 0: none.  One port per daemon kind, so that the
	 * directory and the RAS can share the management namespace. */
	uint16_t metrics_port;
};
#define LAB_IN(s) (1u << (s))
/* an SLB server with 3 peers, a standby and scaling: 34; switchd in an HA
 * lab: 24; and --metrics */
enum { LAB_MAX_ARGS = 40 };
/* "http://A.B.C.D:PORT/metrics" of daemon d on node (LAB_NS_MGMT or a
 * topology node) into buf; false if d serves none. */
bool lab_metrics_url(const struct lab *l, const struct lab_daemon *d, uint32_t node, char *buf,
		     size_t len);

/* The replicated control plane's daemons (lab/ha.c); `node` is an HA
 * namespace's `which`. */
int lab_ha_etcd_args(const struct lab *l, const char *dir, uint32_t which, char **argv,
		     char (*b)[128]);
int lab_ha_directory_args(const struct lab *l, const char *dir, uint32_t which, char **argv,
			  char (*b)[128]);
int lab_ha_ras_args(const struct lab *l, const char *dir, uint32_t which, char **argv,
		    char (*b)[128]);
/* A replicated control plane's daemons: etcd members, wait until etcd
 * answers (a step of `up`), directory servers, RAS processes.  0 or -1. */
int lab_ha_start(const struct lab *l, char *err, size_t errlen);
struct agent_config;
/* An agent's directory servers: its own first (server index modulo their
 * number), then the others. */
void lab_ha_agent_dirs(const struct lab *l, uint32_t node, struct agent_config *c);
/* The name of a node's namespace (without the prefix): "mgmt", an HA
 * namespace's, a topology node's. */
const char *lab_node_name(const struct lab *l, uint32_t node, char *buf, size_t len);
/* Does daemon d run on node (LAB_NS_MGMT, an HA namespace, a topology node)? */
bool lab_daemon_runs_on(const struct lab *l, const struct lab_daemon *d, uint32_t node);

int lab_slb_args(const struct lab *l, const char *dir, uint32_t node, char **argv,
		 char (*b)[128]);
int lab_slb_edge_args(const struct lab *l, const char *dir, uint32_t node, char **argv,
		      char (*b)[128]);
/* This program's path (/proc/self/exe). */
bool lab_self_exe(char *buf, size_t len);

extern const struct lab_daemon lab_daemons[];
/* The first entry of lab_daemons with this name. */
size_t lab_daemon_first(const char *name);
extern const size_t lab_ndaemons;
/* Traffic-matrix pairs of each of the lab's agents (agent --traffic-pairs). */
uint32_t lab_traffic_pairs(const struct lab *l);

void lab_state_dir(const char *prefix, char *buf, size_t len);
/* Write val to the /proc/sys file path (in the caller's network
 * namespace).  0 or -errno. */
int lab_write_sysctl(const char *path, const char *val);
/* A multipath hash seed of the calling namespace's own (routed schemes).
 * Left unset, every namespace hashes with the same boot-time key: a ToR and
 * the switch after it then compute the same hash for a flow, and the second
 * choice follows the first (polarisation; measured in docs/vl2.md).
 * Kernels before 6.11 have no such setting: 0, as if set.  0 or -errno. */
int lab_multipath_seed(uint32_t node);

/* Build the lab.  On failure everything created is removed again.  `yaml`
 * is the lab file's text (saved to the state directory).  Returns 0 or -1
 * with a one-line reason in err. */
int lab_up(const struct lab *l, const char *yaml, size_t len, char *err, size_t errlen);
/* Remove a lab: its daemons, anything else running in its namespaces, its
 * namespaces, its state directory (whose daemon logs are first copied to
 * $PEREGRINE_LAB_SAVE_LOGS/lab-P.N/ when that is set).  Works on a
 * half-built or crashed lab; finds namespaces by the plan and by the
 * prefix.  Returns what it removed through the counters (may be NULL). */
int lab_down(const char *prefix, unsigned *nprocs, unsigned *nns);
/* Load the lab that is up under `prefix`. */
int lab_load_running(const char *prefix, struct lab *l, char *err, size_t errlen);

/* A numbered step of `up` (KIND NAME in setup/steps); -1 with err set when
 * PEREGRINE_LAB_FAIL_AFTER says it is to fail. */
int lab_step(const char *kind, const char *name, char *err, size_t errlen);

/* The lab file's `policy:` set in the running directory (lab/policy.c;
 * nothing with ha:, whose directory keeps no policies).  0, or -1 with
 * err naming the VM and why. */
int lab_policies_to_directory(const struct lab *l, char *err, size_t errlen);

/* Processes. */
int lab_start_daemons(const struct lab *l, uint32_t node, char *err, size_t errlen);
void lab_stop_daemons(const struct lab *l, const char *node);
/* Pid of a running daemon or 0. */
pid_t lab_daemon_pid(const struct lab *l, const char *node, const char *daemon);

/* Namespaces and commands. */
int lab_enter_ns(const char *ns);
/* IPv6 back on in the VMs of VDCs with subnet6 (lab/ipv6.c); 0 or -1. */
int lab_ipv6_vms(const struct lab *l);
bool lab_ns_exists(const char *ns);
/* Run argv (no shell), stderr captured into err.  Returns the exit status. */
int lab_run(char *const argv[], char *err, size_t errlen);
/* Set a node's fabric interfaces up or down (all, or the one to `peer`). */
int lab_set_links(const struct lab *l, uint32_t node, uint32_t peer, bool up,
		  char *err, size_t errlen);
/* Write a server's neighbour entries again (they go when its NICs go down). */
int lab_restore_neighbours(const struct lab *l, uint32_t node, char *err, size_t errlen);
/* Run fn inside the management namespace (sockets it opens stay there),
 * then return to the caller's namespace. */
int lab_in_mgmt(const struct lab *l, int (*fn)(const struct lab *, void *), void *arg);
/* The same in any namespace of the lab (its full name, "P-srv0"). */
int lab_in_ns(const struct lab *l, const char *ns, int (*fn)(const struct lab *, void *),
	      void *arg);
/* A switchd client for a switch of the lab (call inside the mgmt namespace). */
struct swc;
int lab_switch_client(const struct lab *l, uint32_t node, struct swc *c);
/* The sender id of lab tools in switchd messages. */
#define LAB_TOOL_ID 0xffffff00u
/* Wait until a switch's switchd answers a dump (from the mgmt namespace). */
int lab_wait_switchd(const struct lab *l, uint32_t node, int timeout_ms);
/* Wait until a (re)started switch forwards, as its scheme says: its
 * switchd answers (peregrine), it has its OSPF routes (vl2). */
int lab_wait_switch(const struct lab *l, uint32_t node);
/* What the scheme does after `lab migrate` moved a VM's port (VL2: the
 * AA's routes).  0 or -1 with err. */
int lab_scheme_moved(const struct lab *l, const struct lab_vm *vm, uint32_t from, uint32_t to,
		     char *err, size_t errlen);

/* ---- the VL2 scheme (lab/vl2_run.c) --------------------------------------- */
/* Switch settings (forwarding, multipath hash): one step of `up`. */
int lab_vl2_prepare(const struct lab *l, char *err, size_t errlen);
/* Wait until every switch has OSPF routes to every other switch: one
 * step per switch. */
int lab_vl2_ready(const struct lab *l, char *err, size_t errlen);
int lab_vl2_wait_ospf(const struct lab *l, uint32_t node, int timeout_ms);
/* After `lab migrate` moved a VM's port: the AA's routes on the new server
 * and on both ToRs. */
int lab_vl2_moved(const struct lab *l, const struct lab_vm *vm, uint32_t from, uint32_t to,
		  char *err, size_t errlen);

/* ---- the BCube scheme (lab/bcube.c) ---------------------------------------- */
/* The servers' reverse-path filter off: one step of `up`. */
int lab_bcube_prepare(const struct lab *l, char *err, size_t errlen);
/* Nothing to wait for: plain bridges forward at once (docs/bcube.md). */
int lab_bcube_ready(const struct lab *l, char *err, size_t errlen);
int lab_bcube_switch_ready(const struct lab *l, uint32_t node, int timeout_ms);
/* ---- the EVPN scheme (lab/evpn_run.c) ------------------------------------- */
/* Forwarding and multipath settings of every node: one step of `up`. */
int lab_evpn_prepare(const struct lab *l, char *err, size_t errlen);
/* Wait until every node has BGP routes to every other node's loopback and
 * every VTEP floods each VNI to every other VTEP (EVPN type-3 routes): one
 * step per node. */
int lab_evpn_ready(const struct lab *l, char *err, size_t errlen);
int lab_evpn_wait_bgp(const struct lab *l, uint32_t node, int timeout_ms);
/* After `lab migrate` moved a VM's port: the port joins its VDC's bridge
 * on the new server and the VM announces itself (a gratuitous ARP, as a
 * hypervisor does after a move), from which EVPN learns the move. */
int lab_evpn_moved(const struct lab *l, const struct lab_vm *vm, uint32_t from, uint32_t to,
		   char *err, size_t errlen);

/* ---- migration (lab/migrate.c) -------------------------------------------- */
/* Write STATE/agents/NAME.yaml for server `node` from the plan
 * (docs/agent.md).  0 or -errno. */
int lab_agent_config_write(const struct lab *l, uint32_t node);
/* The agent configuration of server `node` (c owned by the caller:
 * agent_config_free), its files under the state directory `dir`. */
/* switchd's --uplinks of switch `node` ("0,1"), false if it tracks none. */
bool lab_switch_uplinks(const struct topo *t, uint32_t node, char *buf, size_t len);
struct agent_config;
void lab_agent_config_of(const struct lab *l, const char *dir, uint32_t node,
			 struct agent_config *c);
/* Apply STATE/placement (VMs that migrated) to a loaded lab.  0 or -errno. */
int lab_placement_load(struct lab *l, char *err, size_t errlen);
/* When each step of a migration happened (wall clock, ns since the epoch),
 * so that a stream's loss can be set against them. */
struct lab_migration {
	uint64_t detach_ns;	/* the port leaves the old server */
	uint64_t attach_ns;	/* it is up in the new server */
	uint64_t signal_ns;	/* both agents signalled */
	bool ras_told, ras_acked;
};

/* Move a VM to another server: the placement saved, its port into the new
 * server's namespace, both agents told (SIGHUP), the RAS told (MOVED).
 * *m (may be NULL) gets the times. */
int lab_migrate(struct lab *l, const char *vm, const char *server, struct lab_migration *m,
		char *err, size_t errlen);

/* ---- the NetLord scheme (lab/netlord.c) -------------------------------------- */
/* Loads netlord_switch on every switch and the NLA on every server. */
int lab_netlord_prepare(const struct lab *l, char *err, size_t errlen);
int lab_netlord_ready(const struct lab *l, char *err, size_t errlen);
/* The entries a NetLord switch's program has learned (its pinned
 * nl_fib_used), for `lab status`; negative errno if it is not running. */
int lab_netlord_fib_used(const struct lab *l, uint32_t node, uint32_t *used);
int lab_netlord_switch_ready(const struct lab *l, uint32_t node, int timeout_ms);

#endif
