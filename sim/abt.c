/* sim abt: all-to-all aggregate bottleneck throughput by flow-level max-min
 * fair sharing over each scheme's paths, and its degradation under failures.
 * Also the routing layer that sim shuffle shares (sim/abt.h). */
#include "sim/abt.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/parse.h"
#include "route/bcube.h"
#include "topo/analyze.h"

static const char *const routing_names[SIM_ROUTE_COUNT] = {
	[SIM_ROUTE_DEFAULT] = "default", [SIM_ROUTE_BSR] = "bsr", [SIM_ROUTE_VLB] = "vlb",
	[SIM_ROUTE_ECMP] = "ecmp", [SIM_ROUTE_TWO_LEVEL] = "two-level",
	[SIM_ROUTE_TREE] = "tree", [SIM_ROUTE_SPAIN] = "spain", [SIM_ROUTE_TREES] = "trees",
};

static const char *const fail_names[] = {
	[SIM_FAIL_NONE] = "none", [SIM_FAIL_SERVERS] = "servers",
	[SIM_FAIL_SWITCHES] = "switches", [SIM_FAIL_LINKS] = "links",
};

int sim_routing_parse(const char *s)
{
	for (int i = 0; i < SIM_ROUTE_COUNT; i++)
		if (!strcmp(s, routing_names[i]))
			return i;
	return -1;
}

const char *sim_routing_name(enum sim_routing r)
{
	return r < SIM_ROUTE_COUNT ? routing_names[r] : "?";
}

int sim_fail_parse(const char *s)
{
	for (int i = 0; i < (int)ARRAY_SIZE(fail_names); i++)
		if (!strcmp(s, fail_names[i]))
			return i;
	return -1;
}

const char *sim_fail_name(enum sim_fail_kind k)
{
	return k < ARRAY_SIZE(fail_names) ? fail_names[k] : "?";
}

/* ---- failures ------------------------------------------------------------- */

static void kill_node(struct sim_paths *n, uint32_t node)
{
	const struct topo *t = n->t;

	for (uint32_t p = 0; p < t->nodes[node].degree; p++)
		n->link_dead[topo_port(t, node, p)->link] = 1;
	n->node_dead[node] = 1;
	if (topo_is_server(t, node) && !n->server_dead[t->nodes[node].index]) {
		n->server_dead[t->nodes[node].index] = 1;
		n->live_servers--;
	}
}

/* Fail the first round(rate * pop) elements of a seeded permutation. */
static void apply_failures(struct sim_paths *n, enum sim_fail_kind kind, double rate,
			   uint64_t seed)
{
	const struct topo *t = n->t;
	uint32_t pop = kind == SIM_FAIL_SERVERS ? t->nservers
		     : kind == SIM_FAIL_SWITCHES ? t->nswitches
		     : kind == SIM_FAIL_LINKS ? t->nlinks : 0;
	uint32_t count = (uint32_t)lround(rate * pop), *perm;
	struct rng r;

	if (!count)
		return;
	rng_seed(&r, seed ^ 0x6661696c75726573ull);
	perm = xmalloc(sizeof(*perm) * pop);
	for (uint32_t i = 0; i < pop; i++)
		perm[i] = i;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t j = i + rng_below(&r, pop - i), x = perm[i];

		perm[i] = perm[j];
		perm[j] = x;
		if (kind == SIM_FAIL_SERVERS)
			kill_node(n, t->servers[perm[i]]);
		else if (kind == SIM_FAIL_SWITCHES)
			kill_node(n, t->switches[perm[i]]);
		else
			n->link_dead[perm[i]] = 1;
	}
	n->failed = count;
	free(perm);
}

/* ---- routing state ---------------------------------------------------------- */

static enum sim_routing default_routing(enum sim_scheme s)
{
	switch (s) {
	case SCHEME_BCUBE: return SIM_ROUTE_BSR;
	case SCHEME_VL2: return SIM_ROUTE_VLB;
	case SCHEME_EVPN: return SIM_ROUTE_ECMP;
	case SCHEME_L2: return SIM_ROUTE_TREE;
	case SCHEME_SPAIN:
	case SCHEME_NETLORD: return SIM_ROUTE_SPAIN;
	case SCHEME_PEREGRINE:
	case SCHEME_PEREGRINE_DUAL: return SIM_ROUTE_TREES;
	default: return SIM_ROUTE_DEFAULT;
	}
}

/* A live link from a server to a switch: its first live NIC's switch. */
static uint32_t first_switch(const struct sim_paths *n, uint32_t srv_node, uint32_t *link)
{
	const struct topo *t = n->t;

	for (uint32_t p = 0; p < t->nodes[srv_node].degree; p++) {
		const struct topo_adj *a = topo_port(t, srv_node, p);

		if (!n->link_dead[a->link] && (!n->tree_depth || n->tree_depth[a->peer] != UINT32_MAX)) {
			*link = a->link;
			return a->peer;
		}
	}
	return UINT32_MAX;
}

/* One spanning tree over the live switches, rooted at the first live switch
 * of the highest level (a spanning tree protocol's converged state). */
static void build_tree(struct sim_paths *n)
{
	const struct topo *t = n->t;
	uint32_t root = UINT32_MAX, head = 0, tail = 0;

	n->tree_up = xmalloc(sizeof(*n->tree_up) * t->nnodes);
	n->tree_depth = xmalloc(sizeof(*n->tree_depth) * t->nnodes);
	memset(n->tree_up, 0xff, sizeof(*n->tree_up) * t->nnodes);
	memset(n->tree_depth, 0xff, sizeof(*n->tree_depth) * t->nnodes);
	for (uint32_t i = 0; i < t->nswitches; i++) {
		uint32_t sw = t->switches[i];
		bool live = false;

		for (uint32_t p = 0; p < t->nodes[sw].degree; p++)
			live |= !n->link_dead[topo_port(t, sw, p)->link];
		if (live && (root == UINT32_MAX || t->nodes[sw].level > t->nodes[root].level))
			root = sw;
	}
	if (root == UINT32_MAX)
		return;
	n->tree_depth[root] = 0;
	n->queue[tail++] = root;
	while (head < tail) {
		uint32_t u = n->queue[head++];

		for (uint32_t p = 0; p < t->nodes[u].degree; p++) {
			const struct topo_adj *a = topo_port(t, u, p);

			if (n->link_dead[a->link] || topo_is_server(t, a->peer) ||
			    n->tree_depth[a->peer] != UINT32_MAX)
				continue;
			n->tree_depth[a->peer] = n->tree_depth[u] + 1;
			n->tree_up[a->peer] = a->link;
			n->queue[tail++] = a->peer;
		}
	}
}

static int setup_routing(struct sim_paths *n, char *err, size_t errlen)
{
	const struct topo *t = n->t;
	bool relay = topo_servers_relay(t);

	switch (n->routing) {
	case SIM_ROUTE_BSR:
		if (t->family != FAM_BCUBE)
			goto need_bcube;
		return 0;
	case SIM_ROUTE_TWO_LEVEL:
		if (t->family != FAM_FATTREE) {
			snprintf(err, errlen, "two-level routing needs a fat-tree topology");
			return -EINVAL;
		}
		return 0;
	case SIM_ROUTE_VLB:
		if (relay || route_vlb_init(&n->vlb, t))
			goto need_switches;
		return 0;
	case SIM_ROUTE_ECMP:
		if (relay)
			goto need_switches;
		return 0;
	case SIM_ROUTE_TREE:
		if (relay)
			goto need_switches;
		build_tree(n);
		return 0;
	case SIM_ROUTE_SPAIN:
		if (relay)
			goto need_switches;
		if (route_spain_build(t, SIM_SPAIN_K, &n->spain, err, errlen))
			return -EINVAL;
		n->end_index = xmalloc(sizeof(*n->end_index) * t->nnodes);
		memset(n->end_index, 0xff, sizeof(*n->end_index) * t->nnodes);
		for (uint32_t i = 0; i < n->spain.nends; i++)
			n->end_index[n->spain.ends[i]] = i;
		return 0;
	case SIM_ROUTE_TREES:
		return route_trees_new(t, n->link_dead, n->node_dead, &n->trees, err, errlen)
		       ? -EINVAL : 0;
	default:
		snprintf(err, errlen, "no routing given and the scheme has none for this "
			 "experiment (use --routing)");
		return -EINVAL;
	}
need_bcube:
	snprintf(err, errlen, "%s routing needs a BCube topology", routing_names[n->routing]);
	return -EINVAL;
need_switches:
	snprintf(err, errlen, "%s routing needs a switch-centric topology (servers do not relay)",
		 routing_names[n->routing]);
	return -EINVAL;
}

int sim_paths_init(struct sim_paths *n, const struct topo *t, enum sim_scheme scheme,
		 enum sim_routing routing, enum sim_fail_kind fail, double rate,
		 uint64_t seed, char *err, size_t errlen)
{
	int ret;

	memset(n, 0, sizeof(*n));
	n->t = t;
	n->routing = routing == SIM_ROUTE_DEFAULT ? default_routing(scheme) : routing;
	if (scheme == SCHEME_BCUBE && t->family != FAM_BCUBE && routing == SIM_ROUTE_DEFAULT) {
		snprintf(err, errlen, "scheme bcube needs a bcube:n=..,k=.. topology");
		return -EINVAL;
	}
	n->link_dead = xcalloc(t->nlinks ? t->nlinks : 1, 1);
	n->server_dead = xcalloc(t->nservers ? t->nservers : 1, 1);
	n->node_dead = xcalloc(t->nnodes ? t->nnodes : 1, 1);
	n->live_servers = t->nservers;
	n->dist = xmalloc(sizeof(*n->dist) * t->nnodes);
	n->queue = xmalloc(sizeof(*n->queue) * t->nnodes);
	n->cached_dst = UINT32_MAX;
	n->cap = xmalloc(sizeof(*n->cap) * 2 * (t->nlinks ? t->nlinks : 1));
	n->load = xcalloc(2 * (size_t)(t->nlinks ? t->nlinks : 1), sizeof(*n->load));
	for (uint32_t l = 0; l < t->nlinks; l++)
		n->cap[2 * l] = n->cap[2 * l + 1] = t->links[l].mbps;
	rng_seed(&n->rng, seed);
	apply_failures(n, fail, rate, seed);
	if ((ret = setup_routing(n, err, errlen))) {
		sim_paths_free(n);
		return ret;
	}
	return 0;
}

void sim_paths_free(struct sim_paths *n)
{
	if (n->routing == SIM_ROUTE_VLB && n->vlb.ints)
		route_vlb_free(&n->vlb);
	if (n->routing == SIM_ROUTE_SPAIN)
		route_spain_free(&n->spain);
	free(n->end_index);
	free(n->tree_up);
	free(n->tree_depth);
	free(n->link_dead);
	free(n->server_dead);
	free(n->node_dead);
	if (n->trees)
		route_trees_free(n->trees);
	free(n->dist);
	free(n->queue);
	free(n->cap);
	free(n->load);
	memset(n, 0, sizeof(*n));
}

/* ---- paths per routing --------------------------------------------------------- */

static bool live(const struct sim_paths *n, const struct route_path *p)
{
	for (uint32_t i = 0; i < p->len; i++)
		if (n->link_dead[p->links[i]])
			return false;
	return true;
}

void sim_paths_place(struct sim_paths *n, const struct route_path *p)
{
	for (uint32_t i = 0; i < p->len; i++)
		n->load[route_path_dirlink(n->t, p, i)]++;
}

/* The busiest directed link of a path, by flows placed so far. */
static uint32_t max_load(const struct sim_paths *n, const struct route_path *p)
{
	uint32_t m = 0;

	for (uint32_t i = 0; i < p->len; i++)
		m = MAX(m, n->load[route_path_dirlink(n->t, p, i)]);
	return m;
}

/* Keep candidate c in *best if it is live and less loaded (shorter on ties). */
static void consider(const struct sim_paths *n, const struct route_path *c,
		     struct route_path *best, uint32_t *best_load)
{
	uint32_t l;

	if (!live(n, c))
		return;
	l = max_load(n, c);
	if (l < *best_load || (l == *best_load && c->len < best->len)) {
		*best = *c;
		*best_load = l;
	}
}

static void bfs_to(struct sim_paths *n, uint32_t dst_node, bool relay)
{
	if (n->cached_dst == dst_node)
		return;
	topo_bfs(n->t, dst_node, n->link_dead, relay, n->dist, n->queue);
	n->cached_dst = dst_node;
}

/* A shortest live path through servers and switches (BSR's fallback),
 * first port first. */
static bool bfs_path(struct sim_paths *n, uint32_t s, uint32_t d, struct route_path *p)
{
	const struct topo *t = n->t;

	bfs_to(n, d, true);
	if (n->dist[s] == TOPO_UNREACHED || n->dist[s] > ROUTE_PATH_MAX_LINKS)
		return false;
	route_path_start(p, s);
	while (route_path_last(p) != d) {
		uint32_t at = route_path_last(p), port;

		for (port = 0; port < t->nodes[at].degree; port++) {
			const struct topo_adj *a = topo_port(t, at, port);

			if (!n->link_dead[a->link] && n->dist[a->peer] + 1 == n->dist[at])
				break;
		}
		if (port == t->nodes[at].degree || !route_path_step(t, p, port))
			return false;
	}
	return true;
}

/* BSR: DCRouting from the highest differing level, which spreads
 * all-to-all traffic evenly over every link.  If failures cut it, the least
 * loaded live path of BuildPathSet's k+1; if they cut all of those, a BFS
 * path over live links (the paper's fallback). */
static bool bsr_path(struct sim_paths *n, uint32_t src, uint32_t dst, struct route_path *p)
{
	const struct topo *t = n->t;
	uint8_t ds[TOPO_BCUBE_MAX_K + 1], dd[TOPO_BCUBE_MAX_K + 1], order[TOPO_BCUBE_MAX_K + 1];
	struct route_path set[TOPO_BCUBE_MAX_K + 1];
	uint32_t k1 = t->p.k + 1, i = k1, best = UINT32_MAX;

	topo_bcube_digits(t, src, ds);
	topo_bcube_digits(t, dst, dd);
	while (i-- > 0 && ds[i] == dd[i])
		;
	for (uint32_t m = 0; m < k1; m++)
		order[m] = (uint8_t)((i + k1 - m) % k1);
	if (!route_bcube_routing(t, src, dst, order, p) && live(n, p))
		return true;
	if (n->usual_only)
		return false;
	if (route_bcube_path_set(t, src, dst, set) == k1)
		for (uint32_t j = 0; j < k1; j++)
			consider(n, &set[j], p, &best);
	return best != UINT32_MAX || bfs_path(n, t->servers[src], t->servers[dst], p);
}

/* Walk the node list, failing on a missing or dead link. */
static bool through_nodes(const struct sim_paths *n, const uint32_t *nodes, uint32_t cnt,
			  struct route_path *p)
{
	route_path_start(p, nodes[0]);
	for (uint32_t i = 1; i < cnt; i++) {
		uint32_t l = topo_link_between(n->t, nodes[i - 1], nodes[i]);

		if (l == UINT32_MAX || n->link_dead[l] || !route_path_step_link(n->t, p, l))
			return false;
	}
	return true;
}

/* Fat-tree destination-based routing (in the spirit of the fat-tree paper's
 * two-level tables): up through aggregation switch (host mod k/2) and core
 * (edge mod k/2) of the destination, which spreads all-to-all traffic
 * evenly.  If failures cut that path, the least loaded live one of the
 * other choices.  Node ids follow topo_build_fattree's order. */
static bool two_level_path(struct sim_paths *n, uint32_t src, uint32_t dst, struct route_path *p)
{
	const struct topo *t = n->t;
	uint32_t k = t->p.k, h = k / 2, core0 = 0, agg0 = h * h, edge0 = h * h + k * h;
	uint32_t es = src / h, ed = dst / h, ps = es / h, pd = ed / h;
	uint32_t hd = dst % h, ein = ed % h, best = UINT32_MAX;
	uint32_t nodes[7];
	struct route_path c;

	nodes[0] = t->servers[src];
	nodes[1] = edge0 + es;
	if (es == ed) {
		nodes[2] = t->servers[dst];
		return through_nodes(n, nodes, 3, p);
	}
	for (uint32_t i = 0; i < h; i++) {
		uint32_t a = (hd + i) % h;

		nodes[2] = agg0 + ps * h + a;
		for (uint32_t j = 0; j < (ps == pd ? 1 : h); j++) {
			uint32_t cnt = 0;

			if (ps != pd) {
				nodes[3] = core0 + a * h + (ein + j) % h;
				nodes[4] = agg0 + pd * h + a;
				cnt = 3;
			} else {
				cnt = 1;
			}
			nodes[2 + cnt] = edge0 + ed;
			nodes[3 + cnt] = t->servers[dst];
			if (!through_nodes(n, nodes, 4 + cnt, &c))
				continue;
			if (i == 0 && j == 0) {
				*p = c;
				return true;
			}
			if (n->usual_only)
				return false;
			consider(n, &c, p, &best);
		}
	}
	return best != UINT32_MAX;
}

/* The tree path: climb from the deeper end until both meet. */
static bool tree_path(struct sim_paths *n, uint32_t s, uint32_t d, struct route_path *p)
{
	const struct topo *t = n->t;
	uint32_t ls, ld, a, b, down[ROUTE_PATH_MAX_LINKS], ndown = 0;

	a = first_switch(n, s, &ls);
	b = first_switch(n, d, &ld);
	if (a == UINT32_MAX || b == UINT32_MAX)
		return false;
	route_path_start(p, s);
	route_path_step_link(t, p, ls);
	while (a != b) {
		if (n->tree_depth[a] >= n->tree_depth[b]) {
			if (!route_path_step_link(t, p, n->tree_up[a]))
				return false;
			a = route_path_last(p);
		} else {
			if (ndown == ROUTE_PATH_MAX_LINKS)
				return false;
			down[ndown++] = n->tree_up[b];
			b = topo_other(t, n->tree_up[b], b);
		}
	}
	while (ndown)
		if (!route_path_step_link(t, p, down[--ndown]))
			return false;
	return route_path_step_link(t, p, ld);
}

/* SPAIN: a random live path among the pair's, as the end host spreads flows
 * over VLANs. */
static bool spain_path(struct sim_paths *n, uint32_t s, uint32_t d, struct route_path *p)
{
	const struct topo *t = n->t;
	const struct route_spain *sp = &n->spain;
	uint32_t ls, ld, a = first_switch(n, s, &ls), b = first_switch(n, d, &ld);
	uint32_t ia, ib, pair, count = 0, pick = UINT32_MAX;

	if (a == UINT32_MAX || b == UINT32_MAX)
		return false;
	route_path_start(p, s);
	route_path_step_link(t, p, ls);
	if (a != b) {
		ia = n->end_index[a];
		ib = n->end_index[b];
		pair = route_spain_pair(sp, ia, ib);
		for (uint32_t q = sp->pair_off[pair]; q < sp->pair_off[pair + 1]; q++)
			if (live(n, &sp->paths[q]) && rng_below(&n->rng, ++count) == 0)
				pick = q;
		if (pick == UINT32_MAX)
			return false;
		for (uint32_t i = 0; i < sp->paths[pick].len; i++) {
			const struct route_path *q = &sp->paths[pick];
			uint32_t l = ia < ib ? q->links[i] : q->links[q->len - 1 - i];

			if (!route_path_step_link(t, p, l))
				return false;
		}
	}
	return route_path_step_link(t, p, ld);
}

/* Peregrine: the primary tree of the destination, from the source's NIC. */
static bool trees_path(struct sim_paths *n, uint32_t s, uint32_t d, struct route_path *p)
{
	uint32_t links[ROUTE_PATH_MAX_LINKS];
	uint32_t len = route_tree_path(n->trees, s, d, 0, links, ROUTE_PATH_MAX_LINKS);

	if (len == UINT32_MAX || !len)
		return false;
	route_path_start(p, s);
	for (uint32_t i = 0; i < len; i++)
		if (!route_path_step_link(n->t, p, links[i]))
			return false;
	return route_path_last(p) == d && live(n, p);
}

bool sim_paths_route(struct sim_paths *n, uint32_t src, uint32_t dst, struct route_path *p)
{
	const struct topo *t = n->t;
	uint32_t inter;

	if (n->server_dead[src] || n->server_dead[dst] || src == dst)
		return false;
	switch (n->routing) {
	case SIM_ROUTE_BSR:
		return bsr_path(n, src, dst, p);
	case SIM_ROUTE_VLB:
		return !route_vlb_path(&n->vlb, &n->rng, src, dst, n->link_dead, p, &inter);
	case SIM_ROUTE_ECMP:
		bfs_to(n, t->servers[dst], false);
		return route_ecmp_walk(t, &n->rng, t->servers[src], t->servers[dst],
				       n->link_dead, n->dist, p);
	case SIM_ROUTE_TWO_LEVEL:
		return two_level_path(n, src, dst, p);
	case SIM_ROUTE_TREE:
		return tree_path(n, t->servers[src], t->servers[dst], p);
	case SIM_ROUTE_SPAIN:
		return spain_path(n, t->servers[src], t->servers[dst], p);
	case SIM_ROUTE_TREES:
		return trees_path(n, t->servers[src], t->servers[dst], p);
	default:
		return false;
	}
}

static int add_flow(struct maxmin *m, const uint32_t *res, uint32_t len)
{
	return maxmin_add_flow(m, res, len) < 0 ? -E2BIG : 0;
}

static uint32_t dirlinks(const struct sim_paths *n, const struct route_path *p, uint32_t *res)
{
	for (uint32_t i = 0; i < p->len; i++)
		res[i] = route_path_dirlink(n->t, p, i);
	return p->len;
}

/* Routings that move cut flows by load place every intact flow first, so
 * that the moved ones see the whole load of the others. */
static bool two_pass(const struct sim_paths *n)
{
	return n->routing == SIM_ROUTE_BSR || n->routing == SIM_ROUTE_TWO_LEVEL;
}

/* The flows failures moved: their pairs and, per flow, its path's directed
 * links (len, then up to ROUTE_PATH_MAX_LINKS ids). */
struct moved {
	uint64_t n, cap;
	uint32_t (*pair)[2];
	uint32_t (*links)[ROUTE_PATH_MAX_LINKS + 1];
};

static void moved_add(struct moved *mv, uint32_t s, uint32_t d)
{
	if (mv->n == mv->cap) {
		mv->cap = 2 * mv->cap + 1024;
		mv->pair = xreallocarray(mv->pair, mv->cap, sizeof(*mv->pair));
	}
	mv->pair[mv->n][0] = s;
	mv->pair[mv->n++][1] = d;
}

/* Place moved flow i on the least loaded live alternative; false if none. */
static bool moved_place(struct sim_paths *n, struct moved *mv, uint64_t i)
{
	struct route_path p;
	uint32_t *l = mv->links[i];

	if (!sim_paths_route(n, mv->pair[i][0], mv->pair[i][1], &p) || !p.len) {
		l[0] = 0;
		return false;
	}
	l[0] = dirlinks(n, &p, &l[1]);
	for (uint32_t j = 1; j <= l[0]; j++)
		n->load[l[j]]++;
	return true;
}

/* Move every moved flow again, now that all of them are placed: BSR
 * re-probes periodically, and flows drift off the links that filled up. */
static void moved_rebalance(struct sim_paths *n, struct moved *mv)
{
	for (uint32_t r = 0; r < SIM_REBALANCE_ROUNDS; r++) {
		for (uint64_t i = 0; i < mv->n; i++) {
			uint32_t *l = mv->links[i];

			if (!l[0])
				continue;
			for (uint32_t j = 1; j <= l[0]; j++)
				n->load[l[j]]--;
			moved_place(n, mv, i);
		}
	}
}

int sim_all_to_all(struct sim_paths *n, struct maxmin *m, uint64_t *unreachable)
{
	const struct topo *t = n->t;
	uint64_t flows = (uint64_t)n->live_servers * (n->live_servers ? n->live_servers - 1 : 0);
	uint32_t res[ROUTE_PATH_MAX_LINKS];
	struct moved mv = { 0 };
	struct route_path p;
	int ret = 0;

	*unreachable = 0;
	maxmin_init(m, 2 * t->nlinks, n->cap);
	if (flows > SIM_ABT_MAX_FLOWS)
		return -E2BIG;
	maxmin_reserve(m, flows, flows * SIM_PATH_GUESS);
	n->usual_only = two_pass(n);
	for (uint32_t d = 0; d < t->nservers && !ret; d++) {
		if (n->server_dead[d])
			continue;
		for (uint32_t s = 0; s < t->nservers && !ret; s++) {
			if (s == d || n->server_dead[s])
				continue;
			if (sim_paths_route(n, s, d, &p) && p.len) {
				uint32_t len = dirlinks(n, &p, res);

				for (uint32_t i = 0; i < len; i++)
					n->load[res[i]]++;
				ret = add_flow(m, res, len);
			} else if (n->usual_only) {
				moved_add(&mv, s, d);
			} else {
				(*unreachable)++;
			}
		}
	}
	n->usual_only = false;
	mv.links = xmalloc(sizeof(*mv.links) * (mv.n ? mv.n : 1));
	for (uint64_t i = 0; i < mv.n; i++)
		*unreachable += !moved_place(n, &mv, i);
	moved_rebalance(n, &mv);
	for (uint64_t i = 0; i < mv.n && !ret; i++)
		if (mv.links[i][0])
			ret = add_flow(m, &mv.links[i][1], mv.links[i][0]);
	free(mv.pair);
	free(mv.links);
	return ret;
}

/* ---- ABT -------------------------------------------------------------------- */

void sim_topo_set_link_mbps(struct topo *t, uint32_t mbps)
{
	for (uint32_t i = 0; i < t->nlinks; i++)
		t->links[i].mbps = mbps;
}

double sim_bcube_abt_formula(const struct topo *t)
{
	double n = t->p.n, N = t->nservers;

	return n / (n - 1) * (N - 1) * (t->nlinks ? t->links[0].mbps / 1000.0 : 0);
}

int sim_abt_run(const struct topo *t, enum sim_scheme scheme, enum sim_routing routing,
		enum sim_fail_kind fail, double rate, uint64_t seed,
		struct sim_abt_result *res, char *err, size_t errlen)
{
	struct maxmin_stats st;
	struct sim_paths n;
	struct maxmin m;
	double *r, min = INFINITY, sum = 0;
	uint64_t t0 = mono_ns(), t1;
	int ret;

	memset(res, 0, sizeof(*res));
	if ((ret = sim_paths_init(&n, t, scheme, routing, fail, rate, seed, err, errlen)))
		return ret;
	if ((ret = sim_all_to_all(&n, &m, &res->unreachable))) {
		snprintf(err, errlen, "%u live servers make too many flows (at most %u)",
			 n.live_servers, SIM_ABT_MAX_FLOWS);
		maxmin_free(&m);
		sim_paths_free(&n);
		return ret;
	}
	t1 = mono_ns();
	r = maxmin_rates(&m);
	maxmin_solve(&m, r, &st);
	for (uint32_t f = 0; f < m.nflows; f++) {
		min = fmin(min, r[f]);
		sum += r[f];
	}
	res->servers = t->nservers;
	res->live_servers = n.live_servers;
	res->failed = n.failed;
	res->flows = m.nflows;
	res->min_mbps = m.nflows ? min : 0;
	res->abt_gbps = res->min_mbps * m.nflows / 1000;
	res->total_gbps = sum / 1000;
	res->levels = st.levels;
	res->build_s = (double)(t1 - t0) / 1e9;
	res->solve_s = (double)(mono_ns() - t1) / 1e9;
	free(r);
	maxmin_free(&m);
	sim_paths_free(&n);
	return 0;
}

/* ---- the command ------------------------------------------------------------- */

static const char abt_help[] =
	"Usage: peregrine sim abt --topo SPEC --scheme S [--routing R]\n"
	"                         [--fail servers|switches|links [--rate R]] [--seed N]\n"
	"                         [--link-mbps M] [--json] [--plot FILE]\n"
	"\n"
	"All-to-all aggregate bottleneck throughput (ABT): every live server sends\n"
	"one flow to every other, each flow on one path chosen as the scheme routes,\n"
	"links shared max-min fairly (full duplex, per direction).  ABT is the\n"
	"bottleneck flow's rate times the number of flows, in Gbit/s.\n"
	"\n"
	"  --topo SPEC       a topology (peregrine topo --help)\n"
	"  --scheme S        bcube (BCube source routing), vl2 (VLB), l2 (one\n"
	"                    spanning tree), spain or netlord (SPAIN paths),\n"
	"                    peregrine or peregrine-dual (primary trees)\n"
	"  --routing R       override the scheme's path choice: bsr, vlb, ecmp\n"
	"                    (random shortest path), two-level (fat-tree,\n"
	"                    destination-based), tree, spain, trees\n"
	"  --fail KIND       fail random servers, switches or links; without --rate\n"
	"                    sweep 0, 2, .., 20 %% (graceful degradation)\n"
	"  --rate R          fraction failed, 0 .. 1\n"
	"  --seed N          failures and random path choices (default 1)\n"
	"  --link-mbps M     every link at M Mbit/s instead of the builder's rates\n"
	"                    (what a lab with links.mbps: M shapes them to)\n"
	"  --json            machine-readable: servers, abt, flows, ... (and sweep)\n"
	"  --plot FILE       with a sweep, draw ABT against the failure rate (SVG or\n"
	"                    PNG by extension, through gnuplot)\n";

struct abt_opts {
	const char *topo, *plot;
	int scheme, routing, fail;
	double rate;
	bool have_rate, json;
	uint64_t seed;
	uint32_t link_mbps;	/* 0: the builder's rates */
};

static int abt_usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "peregrine sim abt: %s%s%s\nTry 'peregrine sim abt --help'.\n", msg,
		arg ? ": " : "", arg ? arg : "");
	return 2;
}

static int parse_abt(int argc, char **argv, struct abt_opts *o)
{
	static const struct option opts[] = {
		{ "topo", required_argument, NULL, 't' }, { "scheme", required_argument, NULL, 's' },
		{ "routing", required_argument, NULL, 'r' }, { "fail", required_argument, NULL, 'f' },
		{ "rate", required_argument, NULL, 'R' }, { "seed", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' }, { "plot", required_argument, NULL, 'p' },
		{ "link-mbps", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' }, { 0 }
	};
	int c;

	*o = (struct abt_opts){ .scheme = -1, .routing = SIM_ROUTE_DEFAULT,
				.fail = SIM_FAIL_NONE, .seed = 1 };
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't': o->topo = optarg; break;
		case 'p': o->plot = optarg; break;
		case 'j': o->json = true; break;
		case 'h': fputs(abt_help, stdout); return 1;
		case 's':
			if ((o->scheme = sim_scheme_parse(optarg)) < 0)
				return abt_usage_error("unknown scheme", optarg);
			break;
		case 'r':
			if ((o->routing = sim_routing_parse(optarg)) < 0)
				return abt_usage_error("unknown routing", optarg);
			break;
		case 'f':
			if ((o->fail = sim_fail_parse(optarg)) <= 0)
				return abt_usage_error("--fail takes servers, switches or links", optarg);
			break;
		case 'R':
			if (!parse_double(optarg, &o->rate) || o->rate < 0 || o->rate > 1)
				return abt_usage_error("--rate takes a fraction 0 .. 1", optarg);
			o->have_rate = true;
			break;
		case 'S':
			if (!parse_u64(optarg, UINT64_MAX, &o->seed))
				return abt_usage_error("bad --seed", optarg);
			break;
		case 'L':
			if (!parse_u32(optarg, SIM_MAX_LINK_MBPS, &o->link_mbps) || !o->link_mbps)
				return abt_usage_error("--link-mbps takes 1 .. 1000000", optarg);
			break;
		default:
			return abt_usage_error("bad option", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return abt_usage_error("unexpected argument", argv[optind]);
	if (!o->topo || o->scheme < 0)
		return abt_usage_error("--topo and --scheme are required", NULL);
	if (o->have_rate && o->fail == SIM_FAIL_NONE)
		return abt_usage_error("--rate needs --fail", NULL);
	if (o->plot && (o->have_rate || o->fail == SIM_FAIL_NONE))
		return abt_usage_error("--plot draws a sweep: give --fail without --rate", NULL);
	/* The name goes into a gnuplot string: nothing that could end it. */
	if (o->plot && strpbrk(o->plot, "'\"\\\n"))
		return abt_usage_error("--plot FILE may not contain quotes or backslashes", o->plot);
	return 0;
}

static json_t *result_json(const struct sim_abt_result *r, double rate)
{
	json_t *j = json_object();

	JSET(j, "rate", JREAL(rate));
	JSET(j, "failed", JINT(r->failed));
	JSET(j, "live_servers", JINT(r->live_servers));
	JSET(j, "flows", JINT(r->flows));
	JSET(j, "unreachable_pairs", JINT(r->unreachable));
	JSET(j, "abt", JREAL(r->abt_gbps));
	JSET(j, "bottleneck_mbps", JREAL(r->min_mbps));
	JSET(j, "total_gbps", JREAL(r->total_gbps));
	JSET(j, "build_s", JREAL(r->build_s));
	JSET(j, "solve_s", JREAL(r->solve_s));
	return j;
}

static void print_result(const struct sim_abt_result *r)
{
	printf("flows            %llu (%llu pairs without a live path)\n",
	       (unsigned long long)r->flows, (unsigned long long)r->unreachable);
	printf("bottleneck flow  %.4f Mbit/s\n", r->min_mbps);
	printf("ABT              %.3f Gbit/s\n", r->abt_gbps);
	printf("total            %.3f Gbit/s (sum of max-min rates)\n", r->total_gbps);
	printf("time             %.2f s paths, %.2f s max-min (%u bottleneck levels)\n",
	       r->build_s, r->solve_s, r->levels);
}

/* gnuplot reads the data inline; the terminal follows the extension. */
static int plot_sweep(const char *file, const struct abt_opts *o, const struct topo *t,
		      const double *rates, const struct sim_abt_result *res, uint32_t npts)
{
	size_t len = strlen(file);
	bool png = len > 4 && !strcmp(file + len - 4, ".png");
	FILE *g;

	if (!(g = popen("gnuplot", "w")))
		return -1;
	fprintf(g, "set terminal %s size 800,500\nset output '%s'\n",
		png ? "png" : "svg", file);
	fprintf(g, "set title 'ABT with failed %s: %s'\n", sim_fail_name(o->fail), t->spec);
	fprintf(g, "set xlabel 'failed %s (%%)'\nset ylabel 'ABT (Gbit/s)'\n"
		   "set yrange [0:*]\nset grid\n$d << EOD\n", sim_fail_name(o->fail));
	for (uint32_t i = 0; i < npts; i++)
		fprintf(g, "%g %g\n", 100 * rates[i], res[i].abt_gbps);
	fprintf(g, "EOD\nplot $d with linespoints lw 2 pt 7 title '%s, %s routing'\n",
		sim_scheme_name((enum sim_scheme)o->scheme),
		sim_routing_name(o->routing ? (enum sim_routing)o->routing
				 : default_routing((enum sim_scheme)o->scheme)));
	return pclose(g) == 0 ? 0 : -1;
}

static void print_header(const struct abt_opts *o, const struct topo *t)
{
	enum sim_routing r = o->routing ? (enum sim_routing)o->routing
			     : default_routing((enum sim_scheme)o->scheme);

	printf("topology         %s (%u servers)\n", t->spec, t->nservers);
	printf("scheme           %s, %s routing\n", sim_scheme_name((enum sim_scheme)o->scheme),
	       sim_routing_name(r));
	if (t->family == FAM_BCUBE)
		printf("BCube formula    n/(n-1)(N-1) = %.3f Gbit/s\n", sim_bcube_abt_formula(t));
}

static int run_abt(const struct abt_opts *o, const struct topo *t, json_t *j)
{
	double rates[SIM_SWEEP_POINTS];
	struct sim_abt_result res[SIM_SWEEP_POINTS];
	uint32_t npts = 0;
	json_t *sweep = json_array();
	char err[256];

	if (o->fail == SIM_FAIL_NONE || o->have_rate)
		rates[npts++] = o->have_rate ? o->rate : 0;
	else
		for (; npts < SIM_SWEEP_POINTS; npts++)
			rates[npts] = 0.02 * npts;
	if (!o->json)
		print_header(o, t);
	for (uint32_t i = 0; i < npts; i++) {
		if (sim_abt_run(t, (enum sim_scheme)o->scheme, (enum sim_routing)o->routing,
				(enum sim_fail_kind)o->fail, rates[i], o->seed, &res[i], err,
				sizeof(err))) {
			json_decref(sweep);
			fprintf(stderr, "peregrine: %s\n", err);
			return 1;
		}
		json_array_append_new(sweep, result_json(&res[i], rates[i]));
		if (o->json)
			continue;
		if (npts > 1)
			printf("\n%s failed: %.0f %% (%u)\n", sim_fail_name(o->fail),
			       100 * rates[i], res[i].failed);
		else if (o->fail != SIM_FAIL_NONE)
			printf("failed           %u %s (%.1f %%)\n", res[i].failed,
			       sim_fail_name(o->fail), 100 * rates[i]);
		print_result(&res[i]);
	}
	JSET(j, "servers", JINT(t->nservers));
	JSET(j, "abt", JREAL(res[0].abt_gbps));
	JSET(j, "flows", JINT(res[0].flows));
	JSET(j, "bottleneck_mbps", JREAL(res[0].min_mbps));
	if (t->family == FAM_BCUBE)
		JSET(j, "formula", JREAL(sim_bcube_abt_formula(t)));
	JSET(j, "sweep", sweep);
	if (o->plot) {
		if (plot_sweep(o->plot, o, t, rates, res, npts)) {
			fprintf(stderr, "peregrine: gnuplot failed to write %s\n", o->plot);
			return 1;
		}
		if (!o->json)
			printf("\nplot             %s\n", o->plot);
	}
	return 0;
}

int sim_exp_abt(int argc, char **argv)
{
	struct abt_opts o;
	struct topo *t;
	char err[512];
	json_t *j;
	int ret;

	if ((ret = parse_abt(argc, argv, &o)))
		return ret == 1 ? 0 : ret;
	if (topo_from_spec(o.topo, &t, err, sizeof(err))) {
		fprintf(stderr, "peregrine: %s\n", err);
		return 1;
	}
	if (o.link_mbps)
		sim_topo_set_link_mbps(t, o.link_mbps);
	j = json_object();
	JSET(j, "topo", JSTR(t->spec));
	JSET(j, "scheme", JSTR(sim_scheme_name((enum sim_scheme)o.scheme)));
	if (o.link_mbps)
		JSET(j, "link_mbps", JINT(o.link_mbps));
	ret = run_abt(&o, t, j);
	JSET(j, "peak_rss_mib", JREAL((double)peak_rss_bytes() / (1 << 20)));
	if (!ret && o.json)
		json_print(stdout, j);
	else
		json_decref(j);
	if (!ret && !o.json)
		printf("peak RSS         %.1f MiB\n", (double)peak_rss_bytes() / (1 << 20));
	topo_free(t);
	return ret;
}
