/* Flow-level throughput experiments: the network a scheme routes over, with
 * failures, and the all-to-all traffic pattern (sim abt, sim shuffle).
 *
 * A sim_paths is a topology plus a failure state plus the routing state of
 * one way of choosing paths; sim_paths_route gives each flow a single path over
 * live links.  Loads are counted on directed links: every link is full
 * duplex with its capacity in each direction. */
#ifndef PEREGRINE_SIM_ABT_H
#define PEREGRINE_SIM_ABT_H

#include "lib/json.h"
#include "lib/rng.h"
#include "route/spain.h"
#include "route/trees.h"
#include "route/vlb.h"
#include "sim/maxmin.h"
#include "sim/scheme.h"

enum sim_abt_limits {
	SIM_ABT_MAX_FLOWS = 1u << 26,		/* all-to-all flows in one solve */
	SIM_SPAIN_K = 4,			/* SPAIN paths per edge-switch pair */
	SIM_SWEEP_POINTS = 11,			/* 0, 2, .., 20 % failed */
	SIM_PATH_GUESS = 8,			/* links per flow reserved up front */
	SIM_REBALANCE_ROUNDS = 2,		/* re-placements of moved flows */
	SIM_MAX_LINK_MBPS = 1000000,		/* --link-mbps: up to 1 Tbit/s */
};

enum sim_fail_kind { SIM_FAIL_NONE, SIM_FAIL_SERVERS, SIM_FAIL_SWITCHES, SIM_FAIL_LINKS };

/* How a flow's path is chosen. */
enum sim_routing {
	SIM_ROUTE_DEFAULT,	/* the scheme's own */
	SIM_ROUTE_BSR,		/* BCube: first live BuildPathSet path, shortest
				 * first, else a BFS path over live links */
	SIM_ROUTE_VLB,		/* VL2: random intermediate (route_vlb_path) */
	SIM_ROUTE_ECMP,		/* shortest paths, hop-by-hop random next hop */
	SIM_ROUTE_TWO_LEVEL,	/* fat-tree: destination-based, deterministic */
	SIM_ROUTE_TREE,		/* plain Ethernet: one spanning tree */
	SIM_ROUTE_SPAIN,	/* SPAIN: a random live path of the switch pair */
	SIM_ROUTE_TREES,	/* Peregrine: the destination's primary tree, as
				 * the RAS computes it for the failures */
	SIM_ROUTE_COUNT
};

int sim_routing_parse(const char *s);			/* -1 if unknown */
const char *sim_routing_name(enum sim_routing r);
int sim_fail_parse(const char *s);			/* -1 if unknown */
const char *sim_fail_name(enum sim_fail_kind k);

struct sim_paths {
	const struct topo *t;
	enum sim_routing routing;
	uint8_t *link_dead;	/* nlinks */
	uint8_t *server_dead;	/* nservers */
	uint8_t *node_dead;	/* nnodes: failed servers and switches */
	uint32_t live_servers;
	uint32_t failed;	/* elements failed */
	struct rng rng;
	double *cap;		/* per directed link (2 * link + dir), Mbit/s */
	uint32_t *load;		/* flows placed so far per directed link */
	bool usual_only;	/* sim_paths_route: refuse a flow whose usual path is cut */
	/* per routing */
	struct route_vlb vlb;
	struct route_spain spain;
	struct route_trees *trees;	/* TREES */
	uint32_t *end_index;	/* SPAIN: node -> index in spain.ends */
	uint32_t *tree_up;	/* TREE: node -> link to its parent, UINT32_MAX */
	uint32_t *tree_depth;	/* TREE: UINT32_MAX if off the tree */
	uint32_t cached_dst;	/* BFS distances to this node (ECMP, BSR) */
	uint32_t *dist, *queue;
};

/* Build the network: fail round(rate * population) random servers,
 * switches or links (a prefix of one seeded permutation, so failure sets
 * grow with the rate), then set up the routing.  Returns 0, or -EINVAL with
 * a one-line reason (routing that does not fit the topology). */
int sim_paths_init(struct sim_paths *n, const struct topo *t, enum sim_scheme scheme,
		 enum sim_routing routing, enum sim_fail_kind fail, double rate,
		 uint64_t seed, char *err, size_t errlen);
void sim_paths_free(struct sim_paths *n);

/* A live path for the flow from server index src to dst; false if none.
 * Ask for flows grouped by destination: BFS results are cached per dst.
 * Where failures take a flow's usual path away (BSR, two-level), it moves to
 * the live alternative whose busiest link carries the fewest flows so far,
 * as BSR's probing for available bandwidth would find. */
bool sim_paths_route(struct sim_paths *n, uint32_t src, uint32_t dst, struct route_path *p);
/* Count a placed flow's path in n->load. */
void sim_paths_place(struct sim_paths *n, const struct route_path *p);

/* All-to-all among live servers into m (initialised here over the directed
 * links), destination-major.  Counts the pairs without a live path. */
int sim_all_to_all(struct sim_paths *n, struct maxmin *m, uint64_t *unreachable);

struct sim_abt_result {
	uint32_t servers, live_servers, failed;
	uint64_t flows, unreachable;
	double min_mbps;		/* the bottleneck flow's rate */
	double abt_gbps;		/* min rate * flows */
	double total_gbps;		/* sum of all rates */
	double build_s, solve_s;
	uint32_t levels;
};

/* One ABT computation. */
int sim_abt_run(const struct topo *t, enum sim_scheme scheme, enum sim_routing routing,
		enum sim_fail_kind fail, double rate, uint64_t seed,
		struct sim_abt_result *res, char *err, size_t errlen);

/* The experiments (sim/experiments.def). */
int sim_exp_abt(int argc, char **argv);
int sim_exp_shuffle(int argc, char **argv);

/* Every link at mbps (--link-mbps: the rates a lab shapes its links to). */
void sim_topo_set_link_mbps(struct topo *t, uint32_t mbps);

/* BCube's ABT, n / (n - 1) * (N - 1) link rates, in Gbit/s (at the first
 * link's rate: 1G as built). */
double sim_bcube_abt_formula(const struct topo *t);

#endif
