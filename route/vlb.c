/* VLB paths and equal-cost shortest paths (see vlb.h). */
#include "route/vlb.h"

#include <errno.h>
#include <stdlib.h>

#include "topo/analyze.h"

static inline bool dead(const uint8_t *link_dead, uint32_t l)
{
	return link_dead && link_dead[l];
}

int route_vlb_init(struct route_vlb *v, const struct topo *t)
{
	uint32_t top = 0;

	if (topo_servers_relay(t) || !t->nswitches)
		return -EINVAL;
	for (uint32_t i = 0; i < t->nswitches; i++)
		top = MAX(top, t->nodes[t->switches[i]].level);
	v->t = t;
	v->top_level = top;
	v->nints = 0;
	v->ints = xmalloc(sizeof(*v->ints) * t->nswitches);
	for (uint32_t i = 0; i < t->nswitches; i++)
		if (t->nodes[t->switches[i]].level == top)
			v->ints[v->nints++] = t->switches[i];
	return 0;
}

void route_vlb_free(struct route_vlb *v)
{
	free(v->ints);
	v->ints = NULL;
}

/* Uniform choice among the climbing paths to a target, by reservoir
 * sampling while they are enumerated. */
struct pick {
	struct rng *r;
	const uint8_t *link_dead;
	uint32_t target, target_level;
	uint32_t count;
	struct route_path chosen;
};

static void climb(const struct topo *t, struct route_path *cur, struct pick *pk)
{
	uint32_t at = route_path_last(cur), lvl = t->nodes[at].level;

	if (at == pk->target) {
		if (rng_below(pk->r, ++pk->count) == 0)
			pk->chosen = *cur;
		return;
	}
	if (lvl >= pk->target_level)
		return;
	for (uint32_t port = 0; port < t->nodes[at].degree; port++) {
		const struct topo_adj *adj = topo_port(t, at, port);
		const struct topo_node *peer = &t->nodes[adj->peer];

		if (dead(pk->link_dead, adj->link) || peer->kind != TOPO_SWITCH ||
		    peer->level <= lvl || peer->level > pk->target_level)
			continue;
		if (!route_path_step_link(t, cur, adj->link))
			continue;
		climb(t, cur, pk);
		cur->len--;
	}
}

/* Pick a random climbing path from node `from` to `target`; false if none. */
static bool pick_climb(const struct topo *t, struct rng *r, const uint8_t *link_dead,
		       uint32_t from, uint32_t target, struct route_path *out)
{
	struct pick pk = { .r = r, .link_dead = link_dead, .target = target,
			   .target_level = t->nodes[target].level };
	struct route_path cur;

	route_path_start(&cur, from);
	climb(t, &cur, &pk);
	if (!pk.count)
		return false;
	*out = pk.chosen;
	return true;
}

/* up (src .. I) followed by down (dst .. I) reversed. */
static bool join(const struct topo *t, const struct route_path *up,
		 const struct route_path *down, struct route_path *out)
{
	*out = *up;
	for (uint32_t i = down->len; i > 0; i--)
		if (!route_path_step_link(t, out, down->links[i - 1]))
			return false;
	return true;
}

/* A random live switch shared by both servers, as a two-link path. */
static bool common_switch(const struct topo *t, struct rng *r, const uint8_t *link_dead,
			  uint32_t s, uint32_t d, struct route_path *out)
{
	uint32_t count = 0;

	for (uint32_t i = 0; i < t->nodes[s].degree; i++) {
		const struct topo_adj *ai = topo_port(t, s, i);

		if (dead(link_dead, ai->link))
			continue;
		for (uint32_t j = 0; j < t->nodes[d].degree; j++) {
			const struct topo_adj *aj = topo_port(t, d, j);

			if (aj->peer != ai->peer || dead(link_dead, aj->link))
				continue;
			if (rng_below(r, ++count) == 0) {
				route_path_start(out, s);
				route_path_step_link(t, out, ai->link);
				route_path_step_link(t, out, aj->link);
			}
		}
	}
	return count > 0;
}

static bool through(const struct route_vlb *v, struct rng *r, const uint8_t *link_dead,
		    uint32_t s, uint32_t d, uint32_t inter, struct route_path *out)
{
	struct route_path up, down;

	return pick_climb(v->t, r, link_dead, s, inter, &up) &&
	       pick_climb(v->t, r, link_dead, d, inter, &down) &&
	       join(v->t, &up, &down, out);
}

int route_vlb_path(const struct route_vlb *v, struct rng *r, uint32_t src, uint32_t dst,
		   const uint8_t *link_dead, struct route_path *out,
		   uint32_t *intermediate)
{
	const struct topo *t = v->t;
	uint32_t s, d, count = 0;
	struct route_path p;

	if (src >= t->nservers || dst >= t->nservers || src == dst)
		return -EINVAL;
	s = t->servers[src];
	d = t->servers[dst];
	*intermediate = UINT32_MAX;
	if (common_switch(t, r, link_dead, s, d, out))
		return 0;
	for (int i = 0; i < ROUTE_VLB_TRIES; i++) {
		uint32_t inter = v->ints[rng_below(r, v->nints)];

		if (through(v, r, link_dead, s, d, inter, out)) {
			*intermediate = inter;
			return 0;
		}
	}
	/* Failures: choose uniformly among the intermediates still usable. */
	for (uint32_t i = 0; i < v->nints; i++) {
		if (!through(v, r, link_dead, s, d, v->ints[i], &p))
			continue;
		if (rng_below(r, ++count) == 0) {
			*out = p;
			*intermediate = v->ints[i];
		}
	}
	return count ? 0 : -ENOENT;
}

/* ---- equal-cost shortest paths ------------------------------------------- */

/* Whether the hop at -> adj continues a shortest path to b. */
static bool next_hop(const struct topo *t, const uint8_t *link_dead, const uint32_t *dist,
		     uint32_t at, const struct topo_adj *adj, uint32_t b)
{
	return !dead(link_dead, adj->link) && dist[adj->peer] != TOPO_UNREACHED &&
	       dist[adj->peer] + 1 == dist[at] && (adj->peer == b || !topo_is_server(t, adj->peer));
}

struct ecmp_enum {
	const struct topo *t;
	const uint8_t *link_dead;
	const uint32_t *dist;
	uint32_t b, max, found;
	struct route_path *paths;
	uint64_t *count;	/* memo: shortest paths from a node to b, +1 */
};

static uint64_t count_from(struct ecmp_enum *e, uint32_t at)
{
	uint64_t n = 0;

	if (at == e->b)
		return 1;
	if (e->count[at])
		return e->count[at] - 1;
	for (uint32_t port = 0; port < e->t->nodes[at].degree; port++) {
		const struct topo_adj *adj = topo_port(e->t, at, port);

		if (next_hop(e->t, e->link_dead, e->dist, at, adj, e->b))
			n += count_from(e, adj->peer);
	}
	e->count[at] = n + 1;
	return n;
}

static void list_from(struct ecmp_enum *e, struct route_path *cur)
{
	uint32_t at = route_path_last(cur);

	if (e->found >= e->max)
		return;
	if (at == e->b) {
		e->paths[e->found++] = *cur;
		return;
	}
	for (uint32_t port = 0; port < e->t->nodes[at].degree; port++) {
		const struct topo_adj *adj = topo_port(e->t, at, port);

		if (!next_hop(e->t, e->link_dead, e->dist, at, adj, e->b) ||
		    !route_path_step_link(e->t, cur, adj->link))
			continue;
		list_from(e, cur);
		cur->len--;
	}
}

uint64_t route_ecmp_paths(const struct topo *t, uint32_t a, uint32_t b,
			  const uint8_t *link_dead, struct route_path *paths, uint32_t max,
			  uint32_t *dist_to_b)
{
	uint32_t *queue = xmalloc(sizeof(*queue) * t->nnodes);
	struct ecmp_enum e = { .t = t, .link_dead = link_dead, .dist = dist_to_b,
			       .b = b, .max = max, .paths = paths };
	struct route_path cur;
	uint64_t total = 0;

	topo_bfs(t, b, link_dead, false, dist_to_b, queue);
	free(queue);
	if (dist_to_b[a] == TOPO_UNREACHED || dist_to_b[a] > ROUTE_PATH_MAX_LINKS)
		return 0;
	e.count = xcalloc(t->nnodes, sizeof(*e.count));
	total = count_from(&e, a);
	free(e.count);
	route_path_start(&cur, a);
	list_from(&e, &cur);
	return total;
}

bool route_ecmp_walk(const struct topo *t, struct rng *r, uint32_t a, uint32_t b,
		     const uint8_t *link_dead, const uint32_t *dist_to_b,
		     struct route_path *out)
{
	if (dist_to_b[a] == TOPO_UNREACHED || dist_to_b[a] > ROUTE_PATH_MAX_LINKS)
		return false;
	route_path_start(out, a);
	while (route_path_last(out) != b) {
		uint32_t at = route_path_last(out), count = 0, link = UINT32_MAX;

		for (uint32_t port = 0; port < t->nodes[at].degree; port++) {
			const struct topo_adj *adj = topo_port(t, at, port);

			if (next_hop(t, link_dead, dist_to_b, at, adj, b) &&
			    rng_below(r, ++count) == 0)
				link = adj->link;
		}
		if (!count || !route_path_step_link(t, out, link))
			return false;
	}
	return true;
}
