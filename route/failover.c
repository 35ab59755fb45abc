/* Fail-over updates (route/failover.h, docs/routing.md).
 *
 * The rule that makes incremental updates equal a computation from scratch:
 * a group's trees under a failure set F are its base trees (computed once on
 * the intact graph) when those still work for every live node, and otherwise
 * the trees computed on the graph without F.  So an event need only look at
 *   - groups on their base trees that use a link the event breaks (found
 *     through the inverse map, link -> base trees using it), and
 *   - groups already recomputed, whose trees depend on all of F;
 * every other group keeps its trees.  A server whose own access link changes
 * only moves to another attachment group: its two MACs' entries change and
 * nothing else does.
 */
#include "route/trees_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- deltas ---------------------------------------------------------------- */

void route_delta_init(struct route_delta *d)
{
	memset(d, 0, sizeof(*d));
}

void route_delta_reset(struct route_delta *d)
{
	d->nops = 0;
	d->nnic_dsts = d->nnic_srcs = 0;
	d->recomputed = 0;
}

void route_delta_free(struct route_delta *d)
{
	free(d->ops);
	free(d->nic_dsts);
	free(d->nic_srcs);
	memset(d, 0, sizeof(*d));
}

static void rt_emit(struct route_delta *d, uint32_t sw, uint32_t owner, unsigned tr,
		    uint16_t port, enum route_op op)
{
	if (!d || port == ROUTE_NO_PORT)
		return;
	if (d->nops == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 256;
		d->ops = xreallocarray(d->ops, d->cap, sizeof(*d->ops));
	}
	d->ops[d->nops++] = (struct route_fib_op){ sw, owner, port, (uint8_t)tr, (uint8_t)op };
}

static void rt_change(struct route_delta *d, uint32_t sw, uint32_t owner, unsigned tr,
		      uint16_t from, uint16_t to)
{
	if (from == to)
		return;
	rt_emit(d, sw, owner, tr, from, ROUTE_OP_DEL);
	rt_emit(d, sw, owner, tr, to, ROUTE_OP_ADD);
}

static void rt_list_add(uint32_t **v, uint32_t *n, uint32_t *cap, uint32_t x)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		*v = xreallocarray(*v, *cap, sizeof(**v));
	}
	(*v)[(*n)++] = x;
}

static int rt_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void rt_sort_unique(uint32_t *v, uint32_t *n)
{
	uint32_t o = 0;

	if (!*n)
		return;
	qsort(v, *n, sizeof(*v), rt_cmp_u32);
	for (uint32_t i = 0; i < *n; i++)
		if (!o || v[o - 1] != v[i])
			v[o++] = v[i];
	*n = o;
}

static void rt_finish_lists(struct route_delta *d)
{
	if (!d)
		return;
	rt_sort_unique(d->nic_dsts, &d->nnic_dsts);
	rt_sort_unique(d->nic_srcs, &d->nnic_srcs);
}

/* Collapse the ops appended since `start` to one net change per (switch,
 * owner, tree): node events touch an entry in several phases. */
static void rt_compact(struct route_delta *d, size_t start)
{
	struct hmap first;
	size_t n = d->nops - start, o = start;
	struct route_fib_op *ops = d->ops + start, *net;
	uint16_t *from, *to;
	uint32_t nk = 0;

	if (n < 2)
		return;
	hmap_init(&first, n, 0x6f7073);
	net = xmalloc(n * sizeof(*net));
	from = xmalloc(n * sizeof(*from));
	to = xmalloc(n * sizeof(*to));
	for (size_t i = 0; i < n; i++) {
		uint64_t key = (uint64_t)ops[i].sw << 32 | (uint64_t)ops[i].owner << 1 | ops[i].tree;
		uint64_t *slot = hmap_get(&first, key);
		uint32_t k;

		if (!slot) {
			k = nk++;
			hmap_put(&first, key, k);
			net[k] = ops[i];
			from[k] = ops[i].op == ROUTE_OP_DEL ? ops[i].port : ROUTE_NO_PORT;
		} else {
			k = (uint32_t)*slot;
		}
		to[k] = ops[i].op == ROUTE_OP_ADD ? ops[i].port : ROUTE_NO_PORT;
	}
	for (uint32_t k = 0; k < nk; k++) {
		if (from[k] == to[k])
			continue;
		if (from[k] != ROUTE_NO_PORT) {
			d->ops[o] = net[k];
			d->ops[o].port = from[k];
			d->ops[o++].op = ROUTE_OP_DEL;
		}
		if (to[k] != ROUTE_NO_PORT) {
			d->ops[o] = net[k];
			d->ops[o].port = to[k];
			d->ops[o++].op = ROUTE_OP_ADD;
		}
	}
	d->nops = o;
	free(net);
	free(from);
	free(to);
	hmap_free(&first);
}

/* ---- recomputing a group ------------------------------------------------------ */

/* Old code at v: `old` under the failure state before the event, in which
 * relay node ev (if any) had liveness ev_alive. */
static uint16_t rt_old_code(const struct route_trees *rt, const uint16_t *old, uint32_t v,
			    uint32_t ev, bool ev_alive)
{
	bool alive = v == ev ? ev_alive : !rt->node_dead[rt->node_of_rel[v]];

	return alive ? old[v] : ROUTE_NO_PORT;
}

static void rt_diff(const struct route_trees *rt, const struct rt_group *g, const uint16_t *old,
		    uint32_t ev, bool ev_alive, struct route_delta *d)
{
	for (unsigned tr = 0; tr < ROUTE_TREES; tr++) {
		const uint16_t *o = old + (size_t)tr * rt->nrelay;

		for (uint32_t v = 0; v < rt->nrelay; v++) {
			uint16_t oe = rt_old_code(rt, o, v, ev, ev_alive), ne = rt_view(rt, g, tr, v);
			uint32_t sw = rt->node_of_rel[v];

			if (oe == ne)
				continue;
			for (uint32_t m = 0; m < g->nmem; m++) {
				uint32_t P = g->mem[m];

				rt_change(d, sw, P, tr, oe == ROUTE_NO_PORT ? oe : rt_resolve(rt, oe, v, P),
					  ne == ROUTE_NO_PORT ? ne : rt_resolve(rt, ne, v, P));
			}
		}
	}
}

/* Whether some single-homed source's tree reach changed with g's trees
 * (their NIC is fixed, but it stops or starts being usable). */
static bool rt_single_reach_changed(const struct route_trees *rt, uint32_t gi,
				    const uint16_t *old, uint32_t ev, bool ev_alive)
{
	const struct rt_group *g = &rt->groups[gi];

	for (uint32_t hi = 0; hi < rt->ngroups; hi++) {
		const struct rt_group *h = &rt->groups[hi];

		if (h->natt != 1 || !h->nmem)
			continue;
		for (unsigned tr = 0; tr < ROUTE_TREES; tr++) {
			uint32_t a = h->att[0];
			uint16_t oe = rt_old_code(rt, old + (size_t)tr * rt->nrelay, a, ev, ev_alive);

			if ((oe == ROUTE_NO_PORT) != (rt_view(rt, g, tr, a) == ROUTE_NO_PORT))
				return true;
		}
	}
	return false;
}

static void rt_refresh(struct route_trees *rt, uint32_t gi, uint32_t ev, bool ev_alive,
		       struct route_delta *d)
{
	struct rt_group *g = &rt->groups[gi];
	uint16_t *old = g->cur ? g->cur : g->base, *cur = NULL;
	size_t sz = (size_t)ROUTE_TREES * rt->nrelay * sizeof(uint16_t);
	bool same;

	if (!rt_intact(rt, g)) {
		cur = xmalloc(sz);
		rt_compute(rt, g, true, cur);
	}
	same = !memcmp(old, cur ? cur : g->base, sz);
	if (old == g->cur)
		g->cur = NULL;	/* keep old alive for the diff */
	rt_set_repaired(rt, gi, cur);
	g = &rt->groups[gi];
	if (d)
		d->recomputed++;
	if (!same || ev != RT_NONE)
		rt_diff(rt, g, old, ev, ev_alive, d);
	if (!same && !rt->relay) {
		bool nics = rt_choices_of(rt, gi);

		nics = rt_single_reach_changed(rt, gi, old, ev, ev_alive) || nics;
		for (uint32_t m = 0; nics && d && m < g->nmem; m++)
			rt_list_add(&d->nic_dsts, &d->nnic_dsts, &d->cap_dsts, g->mem[m]);
	}
	if (old != g->base && old != g->cur)
		free(old);
}

/* Groups to look at after relay links go down (links[]) or come up: every
 * recomputed group, plus base groups whose base trees send a live node over
 * a link that went down. */
static uint32_t rt_candidates(struct route_trees *rt, const uint32_t *links, uint32_t nl,
			      uint32_t **out)
{
	uint8_t *seen = xcalloc(rt->ngroups ? rt->ngroups : 1, 1);
	uint32_t *c = xmalloc(((size_t)rt->ngroups + 1) * sizeof(uint32_t)), n = 0;

	for (uint32_t i = 0; i < rt->nrepaired; i++) {
		seen[rt->repaired[i]] = 1;
		c[n++] = rt->repaired[i];
	}
	for (uint32_t j = 0; j < nl; j++) {
		const struct rt_vec *iv = &rt->inv[links[j]];
		const struct topo_link *lk = &rt->t->links[links[j]];

		for (uint32_t i = 0; i < iv->n; i++) {
			uint32_t gi = iv->v[i] >> 1, tr = iv->v[i] & 1;
			const uint16_t *a = rt->groups[gi].base + (size_t)tr * rt->nrelay;
			bool broken = false;

			if (seen[gi])
				continue;
			/* the end that sends over the link must still be alive */
			for (int e = 0; e < 2 && !broken; e++) {
				uint32_t node = e ? lk->b : lk->a, v = rt->rel_of_node[node], sent;

				if (v == RT_NONE || rt->node_dead[node] || a[v] == ROUTE_NO_PORT)
					continue;
				if (RT_IS_DELIVER(a[v]))
					sent = rt->relay ? topo_port(rt->t, rt->groups[gi].server,
								     a[v] - RT_DELIVER0)->link : RT_NONE;
				else
					sent = topo_port(rt->t, node, a[v])->link;
				broken = sent == links[j];
			}
			if (broken) {
				seen[gi] = 1;
				c[n++] = gi;
			}
		}
	}
	free(seen);
	*out = c;
	return n;
}

static void rt_refresh_all(struct route_trees *rt, const uint32_t *links, uint32_t nl,
			   uint32_t ev, bool ev_alive, struct route_delta *d)
{
	uint32_t *c, n = rt_candidates(rt, links, nl, &c);

	for (uint32_t i = 0; i < n; i++)
		rt_refresh(rt, c[i], ev, ev_alive, d);
	free(c);
}

/* A non-relaying server's live links changed: move it to its new group. */
static void rt_move(struct route_trees *rt, uint32_t s, struct route_delta *d)
{
	uint32_t old_links[ROUTE_MAX_ATT], go = rt->srv_group[s], gn;
	uint8_t old_n = rt->srv_natt[s];

	memcpy(old_links, &rt->srv_link[(size_t)s * ROUTE_MAX_ATT], sizeof(old_links));
	gn = rt_attach(rt, s);
	if (gn == go && old_n == rt->srv_natt[s] &&
	    !memcmp(old_links, &rt->srv_link[(size_t)s * ROUTE_MAX_ATT], old_n * sizeof(uint32_t)))
		return;
	for (unsigned tr = 0; tr < ROUTE_TREES; tr++) {
		for (uint32_t v = 0; v < rt->nrelay; v++) {
			uint16_t from = ROUTE_NO_PORT, to = ROUTE_NO_PORT, e;

			if (go != RT_NONE && (e = rt_view(rt, &rt->groups[go], tr, v)) != ROUTE_NO_PORT)
				from = rt_resolve_links(rt, e, v, s, old_links);
			if (gn != RT_NONE && (e = rt_view(rt, &rt->groups[gn], tr, v)) != ROUTE_NO_PORT)
				to = rt_resolve(rt, e, v, s);
			rt_change(d, rt->node_of_rel[v], s, tr, from, to);
		}
	}
	if (go != RT_NONE)
		rt_group_del(rt, go, s);
	if (gn != RT_NONE)
		rt_group_add(rt, gn, s);
	if (d) {	/* its NICs toward everyone, and everyone's toward it */
		rt_list_add(&d->nic_srcs, &d->nnic_srcs, &d->cap_srcs, s);
		rt_list_add(&d->nic_dsts, &d->nnic_dsts, &d->cap_dsts, s);
	}
}

static bool rt_is_access(const struct route_trees *rt, uint32_t l)
{
	const struct topo_link *lk = &rt->t->links[l];

	return !rt->relay && (topo_is_server(rt->t, lk->a) || topo_is_server(rt->t, lk->b));
}

static void rt_link_event(struct route_trees *rt, uint32_t l, bool down, struct route_delta *d)
{
	if (rt_is_access(rt, l)) {
		const struct topo_link *lk = &rt->t->links[l];

		rt_move(rt, topo_is_server(rt->t, lk->a) ? lk->a : lk->b, d);
	} else {
		rt_refresh_all(rt, &l, down ? 1 : 0, RT_NONE, false, d);
	}
	rt_finish_lists(d);
}

void route_link_down(struct route_trees *rt, uint32_t l, struct route_delta *d)
{
	bool was = rt_link_alive(rt, l);

	assert(l < rt->t->nlinks);
	rt->link_dead[l] = 1;
	if (was)
		rt_link_event(rt, l, true, d);
}

void route_link_up(struct route_trees *rt, uint32_t l, struct route_delta *d)
{
	assert(l < rt->t->nlinks);
	if (!rt->link_dead[l])
		return;
	rt->link_dead[l] = 0;
	if (rt_link_alive(rt, l))
		rt_link_event(rt, l, false, d);
}

/* Entries a relay node holds in groups not being recomputed (skip[g] == 0)
 * appear or vanish with it. */
static void rt_node_entries(struct route_trees *rt, uint32_t v, bool add, const uint8_t *skip,
			    struct route_delta *d)
{
	for (uint32_t gi = 0; gi < rt->ngroups; gi++) {
		const struct rt_group *g = &rt->groups[gi];

		if (skip && skip[gi])
			continue;	/* recomputed groups diff themselves */
		for (unsigned tr = 0; g->nmem && tr < ROUTE_TREES; tr++) {
			uint16_t e = rt_view(rt, g, tr, v);

			if (e == ROUTE_NO_PORT)
				continue;
			for (uint32_t m = 0; m < g->nmem; m++)
				rt_emit(d, rt->node_of_rel[v], g->mem[m], tr,
					rt_resolve(rt, e, v, g->mem[m]), add ? ROUTE_OP_ADD : ROUTE_OP_DEL);
		}
	}
}

/* Groups to recompute when relay node v comes back: the recomputed ones,
 * and base groups in which v itself sends over a link that is still down. */
static uint8_t *rt_up_candidates(struct route_trees *rt, uint32_t v)
{
	uint8_t *c = xcalloc(rt->ngroups ? rt->ngroups : 1, 1);
	uint32_t node = rt->node_of_rel[v];

	for (uint32_t gi = 0; gi < rt->ngroups; gi++) {
		const struct rt_group *g = &rt->groups[gi];

		if (g->cur) {
			c[gi] = 1;
			continue;
		}
		for (unsigned tr = 0; tr < ROUTE_TREES && !c[gi]; tr++) {
			uint16_t e = g->base[(size_t)tr * rt->nrelay + v];
			uint32_t l;

			if (e == ROUTE_NO_PORT || (RT_IS_DELIVER(e) && !rt->relay))
				continue;
			l = RT_IS_DELIVER(e) ? topo_port(rt->t, g->server, e - RT_DELIVER0)->link
					     : topo_port(rt->t, node, e)->link;
			c[gi] = !rt_link_alive(rt, l);
		}
	}
	return c;
}

/* Multi-homed source groups attached to relay node v: their NIC choices
 * toward every group depend on whether v is alive. */
static void rt_recheck_choices(struct route_trees *rt, uint32_t v, struct route_delta *d)
{
	for (uint32_t m = 0; m < rt->nmulti; m++) {
		const struct rt_group *h = &rt->groups[rt->multi[m]];
		bool has = false;

		for (uint32_t k = 0; k < h->natt; k++)
			has |= h->att[k] == v;
		if (!has)
			continue;
		for (uint32_t gi = 0; gi < rt->ngroups; gi++) {
			uint8_t c = rt_choice(rt, gi, rt->multi[m]);
			struct rt_group *g = &rt->groups[gi];

			if (c == g->choice[m])
				continue;
			g->choice[m] = c;
			for (uint32_t i = 0; d && h->nmem && i < g->nmem; i++)
				rt_list_add(&d->nic_dsts, &d->nnic_dsts, &d->cap_dsts, g->mem[i]);
		}
	}
}

/* Servers next to switch w change attachment when w fails or recovers. */
static void rt_move_neighbours(struct route_trees *rt, uint32_t w, struct route_delta *d)
{
	if (rt->relay)
		return;
	for (uint32_t p = 0; p < rt->t->nodes[w].degree; p++) {
		uint32_t s = topo_port(rt->t, w, p)->peer;

		if (topo_is_server(rt->t, s))
			rt_move(rt, s, d);
	}
}

static uint32_t rt_node_links(const struct route_trees *rt, uint32_t w, uint32_t *links)
{
	uint32_t n = 0;

	for (uint32_t p = 0; p < rt->t->nodes[w].degree; p++) {
		uint32_t l = topo_port(rt->t, w, p)->link;

		if (!rt_is_access(rt, l) && rt_link_alive(rt, l))
			links[n++] = l;
	}
	return n;
}

void route_node_down(struct route_trees *rt, uint32_t w, struct route_delta *d)
{
	size_t start = d ? d->nops : 0;
	uint32_t v = rt->rel_of_node[w], *links, nl;

	assert(w < rt->t->nnodes);
	if (rt->node_dead[w])
		return;
	if (v == RT_NONE) {
		rt->node_dead[w] = 1;
		rt_move(rt, w, d);
		rt_finish_lists(d);
		return;
	}
	links = xmalloc(((size_t)rt->t->nodes[w].degree + 1) * sizeof(uint32_t));
	nl = rt_node_links(rt, w, links);
	rt_node_entries(rt, v, false, NULL, d);
	rt->node_dead[w] = 1;
	rt_refresh_all(rt, links, nl, RT_NONE, false, d);
	if (!rt->relay)
		rt_recheck_choices(rt, v, d);
	rt_move_neighbours(rt, w, d);
	free(links);
	if (d)
		rt_compact(d, start);
	rt_finish_lists(d);
}

void route_node_up(struct route_trees *rt, uint32_t w, struct route_delta *d)
{
	size_t start = d ? d->nops : 0;
	uint32_t v = rt->rel_of_node[w];
	uint8_t *cand;

	assert(w < rt->t->nnodes);
	if (!rt->node_dead[w])
		return;
	rt->node_dead[w] = 0;
	if (v == RT_NONE) {
		rt_move(rt, w, d);
		rt_finish_lists(d);
		return;
	}
	cand = rt_up_candidates(rt, v);
	rt_node_entries(rt, v, true, cand, d);
	for (uint32_t gi = 0, n = rt->ngroups; gi < n; gi++)
		if (cand[gi])
			rt_refresh(rt, gi, v, false, d);
	free(cand);
	if (!rt->relay)
		rt_recheck_choices(rt, v, d);
	rt_move_neighbours(rt, w, d);
	if (d)
		rt_compact(d, start);
	rt_finish_lists(d);
}

const uint8_t *route_link_dead(const struct route_trees *rt)
{
	return rt->link_dead;
}

const uint8_t *route_node_dead(const struct route_trees *rt)
{
	return rt->node_dead;
}
