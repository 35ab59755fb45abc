/* Internals shared by route/trees.c, route/failover.c and route/lbtree.c.
 * Nothing outside route/ includes this. */
#ifndef PEREGRINE_ROUTE_TREES_INT_H
#define PEREGRINE_ROUTE_TREES_INT_H

#include <assert.h>

#include "route/trees.h"
#include "route/failover.h"
#include "lib/hash.h"

#define RT_NONE UINT32_MAX
/* Egress codes: a port, RT_DELIVER(k) = "the root's k-th attachment link",
 * or ROUTE_NO_PORT. */
#define RT_DELIVER0 0xFFF0u
#define RT_DELIVER(k) ((uint16_t)(RT_DELIVER0 + (k)))
#define RT_IS_DELIVER(e) ((e) >= RT_DELIVER0 && (e) < RT_DELIVER0 + ROUTE_MAX_ATT)
#define RT_NOCHOICE 0xFFu

/* An edge of the relay graph (switches, plus servers where they relay). */
struct rt_edge {
	uint32_t peer;		/* relay index */
	uint32_t link;
	uint16_t port;		/* at this end */
};

/* An attachment group: the servers whose live links reach the same relay
 * nodes.  In relaying families every server is a group of its own. */
struct rt_group {
	uint32_t att[ROUTE_MAX_ATT];	/* relay indices, canonical order */
	uint8_t natt;
	uint32_t server;		/* relaying families: the server */
	uint64_t salt;			/* tie-breaks, from the key */
	uint32_t *mem, nmem, capmem;	/* member servers (node ids) */
	uint16_t *base;			/* [ROUTE_TREES * nrelay], on the full graph */
	uint16_t *cur;			/* recomputed for failures, or NULL */
	uint32_t multi;			/* index among groups with natt >= 2 */
	uint8_t *choice;		/* per multi group: ka << 4 | kb */
	uint32_t rep_pos;		/* position in the repaired list */
};

struct rt_vec {
	uint32_t *v;
	uint32_t n, cap;
};

static inline void rt_vec_push(struct rt_vec *v, uint32_t x)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? 2 * v->cap : 4;
		v->v = xreallocarray(v->v, v->cap, sizeof(*v->v));
	}
	v->v[v->n++] = x;
}

struct rt_frame {
	uint32_t node, it;
};

struct route_trees {
	const struct topo *t;
	bool relay;
	uint32_t nrelay;
	uint32_t *rel_of_node, *node_of_rel;
	uint32_t *radj_start;
	struct rt_edge *radj;
	uint8_t *link_dead, *node_dead;

	struct rt_group *groups;
	uint32_t ngroups, capgroups;
	struct hmap by_key;
	uint32_t *srv_group;		/* by node id (servers), RT_NONE */
	uint32_t *srv_pos;		/* position in its group's member list */
	uint32_t *srv_link;		/* [nnodes * ROUTE_MAX_ATT] canonical live links */
	uint8_t *srv_natt;
	uint32_t *multi;		/* group ids with natt >= 2 */
	uint32_t nmulti, capmulti;
	uint32_t *repaired, nrepaired;
	struct rt_vec *inv;		/* by link: g << 1 | tree over base trees */

	/* scratch for one computation */
	uint32_t *pre, *low, *par, *pedge, *order, *blk, *nxt, *prv, *num;
	uint32_t *d1, *d2, *broot, *bstart, *btail, *stamp, *rot;
	uint8_t *sign, *mask;
	uint8_t *eok;			/* per relay-graph edge: usable now */
	struct rt_frame *stack;
	uint32_t cur_stamp;
	bool one_block;			/* the last DFS found one block, no bridge */
	uint32_t *mark;			/* [nlinks + ROUTE_MAX_ATT] */
	uint32_t mark_stamp;
};

/* The current egress codes of group g in tree t at relay node v (dead nodes
 * hold nothing). */
static inline uint16_t rt_view(const struct route_trees *rt, const struct rt_group *g,
			       unsigned tree, uint32_t v)
{
	const uint16_t *a = g->cur ? g->cur : g->base;

	if (rt->node_dead[rt->node_of_rel[v]])
		return ROUTE_NO_PORT;
	return a[(size_t)tree * rt->nrelay + v];
}

static inline bool rt_link_alive(const struct route_trees *rt, uint32_t l)
{
	const struct topo_link *lk = &rt->t->links[l];

	return !rt->link_dead[l] && !rt->node_dead[lk->a] && !rt->node_dead[lk->b];
}

/* Port on node `node` of link l. */
static inline uint16_t rt_port_on(const struct topo *t, uint32_t l, uint32_t node)
{
	return t->links[l].a == node ? t->links[l].pa : t->links[l].pb;
}

/* The port an entry of owner at relay node v holds, from egress code e. */
uint16_t rt_resolve(const struct route_trees *rt, uint16_t e, uint32_t v, uint32_t owner);
/* The same with the owner's canonical links given (for links just changed). */
uint16_t rt_resolve_links(const struct route_trees *rt, uint16_t e, uint32_t v,
			  uint32_t owner, const uint32_t *links);
/* Egress codes of group g from scratch on the live graph (or the full graph
 * when with_failures is false) into out[ROUTE_TREES * nrelay]. */
void rt_compute(struct route_trees *rt, const struct rt_group *g, bool with_failures,
		uint16_t *out);
/* Set a group's derived fields from att/natt (server: relaying families). */
void rt_group_key(struct rt_group *g, uint32_t server);
/* Whether g's base trees still work for every live node. */
bool rt_intact(const struct route_trees *rt, const struct rt_group *g);
/* The group a server belongs to with its current live links (creating it),
 * or RT_NONE; fills srv_link/srv_natt. */
uint32_t rt_attach(struct route_trees *rt, uint32_t server);
void rt_group_add(struct route_trees *rt, uint32_t g, uint32_t server);
void rt_group_del(struct route_trees *rt, uint32_t g, uint32_t server);
/* Recompute the NIC choices of destination group g for every multi group;
 * returns whether any changed. */
bool rt_choices_of(struct route_trees *rt, uint32_t g);
/* The NIC choice (ka << 4 | kb, or RT_NOCHOICE) of multi group h toward g. */
uint8_t rt_choice(struct route_trees *rt, uint32_t g, uint32_t h);
void rt_set_repaired(struct route_trees *rt, uint32_t g, uint16_t *cur);
/* Canonical live links of server s (sorted by peer, then NIC) into links. */
uint8_t rt_server_links(const struct route_trees *rt, uint32_t s, uint32_t *links);

#endif
