/* Edge-independent tree pairs (docs/routing.md has the why).
 *
 * For one attachment group g the computation runs on the relay graph (the
 * switches, plus the servers in BCube) with a virtual root R standing for the
 * group's servers, joined to each attachment by a virtual link k:
 *
 *   1. an iterative DFS from R gives preorder numbers and low points;
 *   2. the low points split the graph into blocks (2-connected pieces, or
 *      single bridge links) and, inside each block, Tarjan's list algorithm
 *      gives an st-numbering: s = the block's root (its vertex nearest R),
 *      t = its first DFS vertex, and every other vertex has a neighbour in
 *      the block numbered lower and one numbered higher;
 *   3. tree 0 steps to a lower-numbered neighbour, tree 1 to a higher one
 *      (t steps straight to s), choosing the one with the shortest path
 *      onwards (after a failure: the link used before, if still allowed).  Tree-0 paths only fall and tree-1 paths only rise, so they
 *      meet only at the block root and never share a link; a bridge is the
 *      one link both must use.
 */
#include "route/trees_int.h"
#include "topo/analyze.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RT_BRIDGE (RT_NONE - 1)
#define RT_MINUS 0
#define RT_PLUS 1
#define RT_KEY_SEED 0x70657265ull

/* ---- small helpers ------------------------------------------------------- */

static uint32_t rt_next_stamp(uint32_t *stamp_counter, uint32_t *stamps, size_t n)
{
	if (++*stamp_counter == 0) {
		memset(stamps, 0, n * sizeof(*stamps));
		*stamp_counter = 1;
	}
	return *stamp_counter;
}

uint8_t rt_server_links(const struct route_trees *rt, uint32_t s, uint32_t *links)
{
	const struct topo *t = rt->t;
	uint8_t n = 0;

	if (rt->node_dead[s])
		return 0;
	for (uint32_t p = 0; p < t->nodes[s].degree && n < ROUTE_MAX_ATT; p++) {
		const struct topo_adj *a = topo_port(t, s, p);
		uint32_t j;

		if (!rt_link_alive(rt, a->link) || rt->rel_of_node[a->peer] == RT_NONE)
			continue;
		/* insertion sort by peer, then port: at most 8 links */
		for (j = n; j > 0; j--) {
			uint32_t pj = topo_other(t, links[j - 1], s);

			if (rt->rel_of_node[pj] <= rt->rel_of_node[a->peer])
				break;
			links[j] = links[j - 1];
		}
		links[j] = a->link;
		n++;
	}
	return n;
}

uint16_t rt_resolve_links(const struct route_trees *rt, uint16_t e, uint32_t v,
			  uint32_t owner, const uint32_t *links)
{
	uint32_t k, l;

	if (!RT_IS_DELIVER(e))
		return e;
	k = e - RT_DELIVER0;
	l = rt->relay ? topo_port(rt->t, owner, k)->link : links[k];
	return rt_port_on(rt->t, l, rt->node_of_rel[v]);
}

uint16_t rt_resolve(const struct route_trees *rt, uint16_t e, uint32_t v, uint32_t owner)
{
	return rt_resolve_links(rt, e, v, owner, &rt->srv_link[(size_t)owner * ROUTE_MAX_ATT]);
}

/* ---- the relay graph ------------------------------------------------------- */

static void rt_build_relay(struct route_trees *rt)
{
	const struct topo *t = rt->t;
	uint32_t n = 0, e = 0;

	rt->rel_of_node = xmalloc((size_t)t->nnodes * sizeof(uint32_t));
	rt->node_of_rel = xmalloc((size_t)t->nnodes * sizeof(uint32_t));
	for (uint32_t v = 0; v < t->nnodes; v++) {
		bool r = rt->relay || !topo_is_server(t, v);

		rt->rel_of_node[v] = r ? n : RT_NONE;
		if (r)
			rt->node_of_rel[n++] = v;
	}
	rt->nrelay = n;
	rt->radj_start = xmalloc(((size_t)n + 1) * sizeof(uint32_t));
	for (uint32_t i = 0; i < n; i++) {
		uint32_t v = rt->node_of_rel[i];

		rt->radj_start[i] = e;
		for (uint32_t p = 0; p < t->nodes[v].degree; p++)
			e += rt->rel_of_node[topo_port(t, v, p)->peer] != RT_NONE;
	}
	rt->radj_start[n] = e;
	rt->radj = xmalloc((size_t)(e ? e : 1) * sizeof(*rt->radj));
	e = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t v = rt->node_of_rel[i];

		for (uint32_t p = 0; p < t->nodes[v].degree; p++) {
			const struct topo_adj *a = topo_port(t, v, p);

			if (rt->rel_of_node[a->peer] != RT_NONE)
				rt->radj[e++] = (struct rt_edge){ rt->rel_of_node[a->peer], a->link,
								  (uint16_t)p };
		}
	}
}

static void rt_alloc_scratch(struct route_trees *rt)
{
	size_t n = (size_t)rt->nrelay + 1, n2 = 2 * n + 1;

	rt->pre = xmalloc(n * sizeof(uint32_t));
	rt->low = xmalloc(n * sizeof(uint32_t));
	rt->par = xmalloc(n * sizeof(uint32_t));
	rt->pedge = xmalloc(n * sizeof(uint32_t));
	rt->order = xmalloc(n * sizeof(uint32_t));
	rt->blk = xmalloc(n * sizeof(uint32_t));
	rt->num = xmalloc(n * sizeof(uint32_t));
	rt->d1 = xmalloc(n * sizeof(uint32_t));
	rt->d2 = xmalloc(n * sizeof(uint32_t));
	rt->rot = xmalloc(n * sizeof(uint32_t));
	rt->broot = xmalloc(n * sizeof(uint32_t));
	rt->bstart = xmalloc(n * sizeof(uint32_t));
	rt->btail = xmalloc(n * sizeof(uint32_t));
	rt->stamp = xcalloc(n, sizeof(uint32_t));
	rt->nxt = xmalloc(n2 * sizeof(uint32_t));
	rt->prv = xmalloc(n2 * sizeof(uint32_t));
	rt->sign = xmalloc(n);
	rt->mask = xmalloc(n);
	rt->stack = xmalloc(n * sizeof(*rt->stack));
	rt->mark = xcalloc((size_t)rt->t->nlinks + ROUTE_MAX_ATT, sizeof(uint32_t));
	rt->eok = xmalloc((size_t)rt->radj_start[rt->nrelay] + 1);
}

/* ---- one computation ----------------------------------------------------------- */

static bool rt_virt_alive(const struct route_trees *rt, const struct rt_group *g,
			  uint32_t k, bool wf)
{
	if (!wf)
		return true;
	if (rt->relay)
		return rt_link_alive(rt, topo_port(rt->t, g->server, k)->link);
	return !rt->node_dead[rt->node_of_rel[g->att[k]]];
}

static void rt_mark_att(struct route_trees *rt, const struct rt_group *g)
{
	uint32_t s = rt_next_stamp(&rt->cur_stamp, rt->stamp, (size_t)rt->nrelay + 1);

	for (uint32_t k = 0; k < g->natt; k++) {
		uint32_t a = g->att[k];

		if (rt->stamp[a] != s) {
			rt->stamp[a] = s;
			rt->mask[a] = 0;
		}
		rt->mask[a] |= (uint8_t)(1u << k);
	}
}

/* The it-th edge of relay node v (R = nrelay is the root): 1 and the edge,
 * 0 for a dead or excluded edge, -1 past the end.  Virtual links to R come
 * first; relay links are visited from offset rot. */
static int rt_edge_at(const struct route_trees *rt, const struct rt_group *g, uint32_t v,
		      uint32_t it, uint32_t rot, bool wf, uint32_t *peer, uint32_t *eid)
{
	uint32_t R = rt->nrelay, nv = 0, deg, j;
	const struct rt_edge *e;

	if (v == R) {
		uint32_t k;

		if (it >= g->natt)
			return -1;
		k = g->natt - 1 - it;
		if (g->att[k] == RT_NONE || !rt_virt_alive(rt, g, k, wf))
			return 0;
		*peer = g->att[k];
		*eid = rt->t->nlinks + k;
		return 1;
	}
	if (rt->stamp[v] == rt->cur_stamp)
		nv = (uint32_t)__builtin_popcount(rt->mask[v]);
	if (it < nv) {
		uint32_t m = rt->mask[v], k;

		for (j = 0; j < it; j++)
			m &= m - 1;
		k = (uint32_t)__builtin_ctz(m);
		if (!rt_virt_alive(rt, g, k, wf))
			return 0;
		*peer = R;
		*eid = rt->t->nlinks + k;
		return 1;
	}
	deg = rt->radj_start[v + 1] - rt->radj_start[v];
	j = it - nv;
	if (j >= deg)
		return -1;
	j += rot;
	if (j >= deg)
		j -= deg;
	e = &rt->radj[rt->radj_start[v] + j];
	if (!rt->eok[e - rt->radj])
		return 0;	/* dead, or one of P's links (the virtual links) */
	*peer = e->peer;
	*eid = e->link;
	return 1;
}

/* Which relay-graph edges this computation may use. */
static void rt_mark_edges(struct route_trees *rt, const struct rt_group *g, bool wf)
{
	uint32_t ne = rt->radj_start[rt->nrelay];

	if (!wf && !rt->relay) {
		memset(rt->eok, 1, ne);
		return;
	}
	for (uint32_t i = 0; i < ne; i++) {
		const struct rt_edge *e = &rt->radj[i];

		rt->eok[i] = !(wf && !rt_link_alive(rt, e->link)) &&
			     !(rt->relay && rt->node_of_rel[e->peer] == g->server);
	}
}

static uint32_t rt_dfs(struct route_trees *rt, const struct rt_group *g, bool wf)
{
	uint32_t R = rt->nrelay, cnt = 1, sp = 0;

	memset(rt->pre, 0xff, (size_t)(R + 1) * sizeof(uint32_t));
	rt->pre[R] = rt->low[R] = 0;
	rt->order[0] = R;
	rt->par[R] = rt->pedge[R] = RT_NONE;
	rt->rot[R] = 0;
	rt->stack[sp++] = (struct rt_frame){ R, 0 };
	while (sp) {
		struct rt_frame *f = &rt->stack[sp - 1];
		uint32_t v = f->node, u, eid, deg;
		int r = rt_edge_at(rt, g, v, f->it++, rt->rot[v], wf, &u, &eid);

		if (r < 0) {
			if (--sp)
				rt->low[rt->stack[sp - 1].node] =
					MIN(rt->low[rt->stack[sp - 1].node], rt->low[v]);
			continue;
		}
		if (r == 0 || eid == rt->pedge[v])
			continue;
		if (rt->pre[u] != RT_NONE) {
			rt->low[v] = MIN(rt->low[v], rt->pre[u]);
			continue;
		}
		rt->pre[u] = rt->low[u] = cnt;
		rt->order[cnt++] = u;
		rt->par[u] = v;
		rt->pedge[u] = eid;
		deg = rt->radj_start[u + 1] - rt->radj_start[u];
		rt->rot[u] = deg ? (uint32_t)(hash_u64(u, g->salt) % deg) : 0;
		rt->stack[sp++] = (struct rt_frame){ u, 0 };
	}
	return cnt;
}

static void rt_insert(struct route_trees *rt, uint32_t v, uint32_t p, bool before)
{
	if (before) {
		uint32_t q = rt->prv[p];

		rt->nxt[q] = v;
		rt->prv[v] = q;
		rt->nxt[v] = p;
		rt->prv[p] = v;
	} else {
		uint32_t q = rt->nxt[p];

		rt->nxt[p] = v;
		rt->prv[v] = p;
		rt->nxt[v] = q;
		if (q != RT_NONE)
			rt->prv[q] = v;
	}
}

/* Blocks and, inside each, Tarjan's st-ordering as a linked list headed by a
 * sentinel standing for the block's root. */
static uint32_t rt_blocks(struct route_trees *rt, uint32_t cnt)
{
	uint32_t H0 = rt->nrelay + 1, nblk = 0, bridges = 0;

	for (uint32_t i = 1; i < cnt; i++) {
		uint32_t v = rt->order[i], p = rt->par[v], b, a;

		if (rt->low[v] >= rt->pre[v]) {
			rt->blk[v] = RT_BRIDGE;
			bridges++;
			continue;
		}
		if (rt->low[v] >= rt->pre[p]) {
			b = nblk++;
			rt->broot[b] = p;
			rt->bstart[b] = v;
			rt->blk[v] = b;
			rt->nxt[H0 + b] = v;
			rt->prv[v] = H0 + b;
			rt->nxt[v] = RT_NONE;
			rt->sign[p] = RT_MINUS;
			continue;
		}
		b = rt->blk[p];
		assert(b < nblk);
		rt->blk[v] = b;
		a = rt->order[rt->low[v]];
		if (rt->sign[a] == RT_MINUS) {
			rt_insert(rt, v, p, true);
			rt->sign[p] = RT_PLUS;
		} else {
			rt_insert(rt, v, p, false);
			rt->sign[p] = RT_MINUS;
		}
	}
	/* One block holding every node (a 2-connected relay graph, the usual
	 * case): every edge is in it and the root R numbers 0. */
	rt->one_block = nblk == 1 && !bridges;
	rt->num[rt->nrelay] = 0;
	for (uint32_t b = 0; b < nblk; b++) {
		uint32_t n = 0, last = RT_NONE;

		for (uint32_t v = rt->nxt[H0 + b]; v != RT_NONE; v = rt->nxt[v]) {
			rt->num[v] = ++n;
			last = v;
		}
		rt->btail[b] = last;
	}
	return nblk;
}

static uint16_t rt_code(const struct route_trees *rt, uint32_t v, uint32_t eid)
{
	if (eid >= rt->t->nlinks)
		return RT_DELIVER(eid - rt->t->nlinks);
	return rt_port_on(rt->t, eid, rt->node_of_rel[v]);
}

/* Number of u within block b (its root counts 0). */
static inline uint32_t rt_numb(const struct route_trees *rt, uint32_t b, uint32_t u)
{
	return u == rt->broot[b] ? 0 : rt->num[u];
}

/* The block an edge v-u belongs to: that of its deeper end. */
static inline uint32_t rt_eblock(const struct route_trees *rt, uint32_t v, uint32_t u)
{
	return rt->pre[u] > rt->pre[v] ? rt->blk[u] : rt->blk[v];
}

/* Best neighbour of v in block b below (down) or above its number: the
 * shortest path onwards, ties broken by a hash of the group and the link. */
/* The running best choice of rt_best: (not the preferred link, depth) first,
 * the hash only computed to break a tie. */
struct rt_pick {
	uint64_t rank;		/* not-preferred << 32 | depth */
	uint32_t hash, eid;
	bool hashed;
};

static inline void rt_consider(const struct route_trees *rt, const struct rt_group *g,
			       uint32_t b, uint32_t v, uint32_t u, uint32_t eid, bool down,
			       uint32_t pref, const uint32_t *depth, struct rt_pick *pk)
{
	uint32_t nu, nv = rt->num[v], h;
	uint64_t rank;

	if (!rt->one_block && rt_eblock(rt, v, u) != b)
		return;
	nu = rt->one_block ? rt->num[u] : rt_numb(rt, b, u);
	if (down ? nu >= nv : nu <= nv)
		return;
	rank = (uint64_t)(eid != pref) << 32 | depth[u];
	if (rank > pk->rank)
		return;
	h = (uint32_t)hash_u64(eid, g->salt);
	if (rank == pk->rank) {
		if (!pk->hashed)
			pk->hash = (uint32_t)hash_u64(pk->eid, g->salt);
		pk->hashed = true;
		if (h >= pk->hash)
			return;
	}
	*pk = (struct rt_pick){ rank, h, eid, true };
}

/* Best neighbour of v in block b below (down) or above its number: when
 * recomputing for failures, the link v used in the base trees if it is
 * allowed (pref: fewer changes); then the shortest path onwards; then a hash
 * of the group and link.
 * (The same edges as rt_edge_at, walked directly: this is the inner loop.) */
static uint32_t rt_best(struct route_trees *rt, const struct rt_group *g, bool wf,
			uint32_t b, uint32_t v, bool down, uint32_t skip_eid, uint32_t pref,
			const uint32_t *depth, uint32_t *best_depth)
{
	struct rt_pick pk = { UINT64_MAX, 0, RT_NONE, false };
	uint32_t nl = rt->t->nlinks;

	if (rt->stamp[v] == rt->cur_stamp)
		for (uint32_t m = rt->mask[v]; m; m &= m - 1) {
			uint32_t k = (uint32_t)__builtin_ctz(m);

			if (nl + k != skip_eid && rt_virt_alive(rt, g, k, wf))
				rt_consider(rt, g, b, v, rt->nrelay, nl + k, down, pref, depth, &pk);
		}
	for (uint32_t i = rt->radj_start[v]; i < rt->radj_start[v + 1]; i++) {
		const struct rt_edge *e = &rt->radj[i];

		if (e->link == skip_eid || !rt->eok[i])
			continue;
		rt_consider(rt, g, b, v, e->peer, e->link, down, pref, depth, &pk);
	}
	assert(pk.eid != RT_NONE);
	*best_depth = (uint32_t)pk.rank + 1;
	return pk.eid;
}

/* The edge v sends over in g's base tree tr, when recomputing for failures. */
static uint32_t rt_pref(const struct route_trees *rt, const struct rt_group *g, bool wf,
			unsigned tr, uint32_t v)
{
	uint16_t e;

	if (!wf || !g->base)
		return RT_NONE;
	e = g->base[(size_t)tr * rt->nrelay + v];
	if (e == ROUTE_NO_PORT)
		return RT_NONE;
	if (RT_IS_DELIVER(e))
		return rt->t->nlinks + (e - RT_DELIVER0);
	return topo_port(rt->t, rt->node_of_rel[v], e)->link;
}

static void rt_choose_block(struct route_trees *rt, const struct rt_group *g, bool wf,
			    uint32_t b, uint16_t *out0, uint16_t *out1)
{
	uint32_t H0 = rt->nrelay + 1, c = rt->broot[b], t = rt->bstart[b], eid;

	for (uint32_t v = rt->nxt[H0 + b]; v != RT_NONE; v = rt->nxt[v]) {
		eid = rt_best(rt, g, wf, b, v, true, v == t ? rt->pedge[t] : RT_NONE,
			      rt_pref(rt, g, wf, 0, v), rt->d1, &rt->d1[v]);
		out0[v] = rt_code(rt, v, eid);
	}
	for (uint32_t v = rt->btail[b]; v != H0 + b; v = rt->prv[v]) {
		if (v == t) {
			out1[v] = rt_code(rt, v, rt->pedge[t]);
			rt->d2[v] = rt->d2[c] + 1;
		} else {
			eid = rt_best(rt, g, wf, b, v, false, RT_NONE, rt_pref(rt, g, wf, 1, v),
				      rt->d2, &rt->d2[v]);
			out1[v] = rt_code(rt, v, eid);
		}
	}
}

void rt_compute(struct route_trees *rt, const struct rt_group *g, bool wf, uint16_t *out)
{
	uint32_t n = rt->nrelay, R = n, cnt;
	uint16_t *out0 = out, *out1 = out + n;

	memset(out, 0xff, (size_t)ROUTE_TREES * n * sizeof(uint16_t));
	rt_mark_att(rt, g);
	rt_mark_edges(rt, g, wf);
	cnt = rt_dfs(rt, g, wf);
	rt_blocks(rt, cnt);
	rt->d1[R] = rt->d2[R] = 0;
	for (uint32_t i = 1; i < cnt; i++) {
		uint32_t v = rt->order[i], p = rt->par[v];

		if (rt->blk[v] == RT_BRIDGE) {
			out0[v] = out1[v] = rt_code(rt, v, rt->pedge[v]);
			rt->d1[v] = rt->d1[p] + 1;
			rt->d2[v] = rt->d2[p] + 1;
		} else if (rt->bstart[rt->blk[v]] == v) {
			rt_choose_block(rt, g, wf, rt->blk[v], out0, out1);
		}
	}
}

/* ---- groups ------------------------------------------------------------------- */

bool rt_intact(const struct route_trees *rt, const struct rt_group *g)
{
	const struct topo *t = rt->t;

	for (unsigned tr = 0; tr < ROUTE_TREES; tr++) {
		const uint16_t *a = g->base + (size_t)tr * rt->nrelay;

		for (uint32_t v = 0; v < rt->nrelay; v++) {
			uint32_t node = rt->node_of_rel[v], l;

			if (a[v] == ROUTE_NO_PORT || rt->node_dead[node])
				continue;
			if (RT_IS_DELIVER(a[v])) {
				if (!rt->relay)
					continue;
				l = topo_port(t, g->server, a[v] - RT_DELIVER0)->link;
			} else {
				l = topo_port(t, node, a[v])->link;
			}
			if (!rt_link_alive(rt, l))
				return false;
		}
	}
	return true;
}

void rt_set_repaired(struct route_trees *rt, uint32_t gi, uint16_t *cur)
{
	struct rt_group *g = &rt->groups[gi];

	if (g->cur && g->cur != cur)
		free(g->cur);
	if (cur && g->rep_pos == RT_NONE) {
		g->rep_pos = rt->nrepaired;
		rt->repaired[rt->nrepaired++] = gi;
	} else if (!cur && g->rep_pos != RT_NONE) {
		uint32_t last = rt->repaired[--rt->nrepaired];

		rt->repaired[g->rep_pos] = last;
		rt->groups[last].rep_pos = g->rep_pos;
		g->rep_pos = RT_NONE;
	}
	g->cur = cur;
}

void rt_group_add(struct route_trees *rt, uint32_t gi, uint32_t s)
{
	struct rt_group *g = &rt->groups[gi];

	if (g->nmem == g->capmem) {
		g->capmem = g->capmem ? 2 * g->capmem : 4;
		g->mem = xreallocarray(g->mem, g->capmem, sizeof(*g->mem));
	}
	rt->srv_pos[s] = g->nmem;
	g->mem[g->nmem++] = s;
	rt->srv_group[s] = gi;
}

void rt_group_del(struct route_trees *rt, uint32_t gi, uint32_t s)
{
	struct rt_group *g = &rt->groups[gi];
	uint32_t pos = rt->srv_pos[s], last = g->mem[--g->nmem];

	assert(g->mem[pos] == s);
	g->mem[pos] = last;
	rt->srv_pos[last] = pos;
	rt->srv_group[s] = RT_NONE;
}

/* Walk tree `tr` of group g from relay node v to the root, marking (or, with
 * count, counting marked) edge ids.  False if the walk does not reach R. */
static bool rt_walk(struct route_trees *rt, const struct rt_group *g, unsigned tr,
		    uint32_t v, bool count, uint32_t *len, uint32_t *hits)
{
	const struct topo *t = rt->t;

	for (uint32_t steps = 0; steps <= rt->nrelay; steps++) {
		uint16_t e = rt_view(rt, g, tr, v);
		uint32_t eid;
		const struct topo_adj *a;

		if (e == ROUTE_NO_PORT)
			return false;
		a = RT_IS_DELIVER(e) ? NULL : topo_port(t, rt->node_of_rel[v], e);
		eid = a ? a->link : t->nlinks + (e - RT_DELIVER0);
		if (count)
			*hits += rt->mark[eid] == rt->mark_stamp;
		else
			rt->mark[eid] = rt->mark_stamp;
		++*len;
		if (!a)
			return true;
		v = rt->rel_of_node[a->peer];
		if (v == RT_NONE)
			return false;
	}
	return false;
}

/* NIC pair (ka for tree 0, kb for tree 1) for servers of multi group h
 * toward destination group g: fewest shared links, then shortest, then the
 * lowest indices. */
uint8_t rt_choice(struct route_trees *rt, uint32_t gi, uint32_t hi)
{
	const struct rt_group *g = &rt->groups[gi], *h = &rt->groups[hi];
	uint64_t best = UINT64_MAX;
	uint8_t bestc = RT_NOCHOICE;

	for (uint32_t ka = 0; ka < h->natt; ka++) {
		uint32_t len1 = 0, dummy = 0;

		rt->mark_stamp = rt_next_stamp(&rt->mark_stamp, rt->mark,
					       (size_t)rt->t->nlinks + ROUTE_MAX_ATT);
		if (!rt_walk(rt, g, 0, h->att[ka], false, &len1, &dummy))
			continue;
		for (uint32_t kb = 0; kb < h->natt; kb++) {
			uint32_t len2 = 0, shared = ka == kb;
			uint64_t key;

			if (!rt_walk(rt, g, 1, h->att[kb], true, &len2, &shared))
				continue;
			key = (uint64_t)shared << 40 | (uint64_t)(len1 + len2) << 8 | ka << 4 | kb;
			if (key < best) {
				best = key;
				bestc = (uint8_t)(ka << 4 | kb);
			}
		}
	}
	return bestc;
}

bool rt_choices_of(struct route_trees *rt, uint32_t gi)
{
	bool changed = false;

	for (uint32_t m = 0; m < rt->nmulti; m++) {
		uint8_t c = rt_choice(rt, gi, rt->multi[m]);

		changed |= rt->groups[gi].choice[m] != c;
		rt->groups[gi].choice[m] = c;
	}
	return changed;
}

static void rt_add_multi(struct route_trees *rt, uint32_t hi)
{
	if (rt->nmulti == rt->capmulti) {
		rt->capmulti = rt->capmulti ? 2 * rt->capmulti : 16;
		rt->multi = xreallocarray(rt->multi, rt->capmulti, sizeof(uint32_t));
		for (uint32_t g = 0; g < rt->ngroups; g++) {
			if (!rt->groups[g].choice)
				continue;	/* the group being created */
			rt->groups[g].choice = xrealloc(rt->groups[g].choice, rt->capmulti);
			memset(rt->groups[g].choice + rt->nmulti, RT_NOCHOICE,
			       rt->capmulti - rt->nmulti);
		}
	}
	rt->groups[hi].multi = rt->nmulti;
	rt->multi[rt->nmulti++] = hi;
}

static void rt_inv_add(struct route_trees *rt, uint32_t gi)
{
	const struct rt_group *g = &rt->groups[gi];
	const struct topo *t = rt->t;

	for (unsigned tr = 0; tr < ROUTE_TREES; tr++) {
		const uint16_t *a = g->base + (size_t)tr * rt->nrelay;

		for (uint32_t v = 0; v < rt->nrelay; v++) {
			uint32_t l;

			if (a[v] == ROUTE_NO_PORT)
				continue;
			if (RT_IS_DELIVER(a[v])) {
				if (!rt->relay)
					continue;
				l = topo_port(t, g->server, a[v] - RT_DELIVER0)->link;
			} else {
				l = topo_port(t, rt->node_of_rel[v], a[v])->link;
			}
			rt_vec_push(&rt->inv[l], gi << 1 | tr);
		}
	}
}

void rt_group_key(struct rt_group *g, uint32_t server)
{
	g->server = server;
	g->salt = hash_bytes(g->att, g->natt * sizeof(uint32_t), RT_KEY_SEED ^ server);
	g->multi = RT_NONE;
	g->rep_pos = RT_NONE;
}

static uint32_t rt_group_new(struct route_trees *rt, const uint32_t *att, uint8_t natt,
			     uint32_t server)
{
	uint32_t gi = rt->ngroups++;
	struct rt_group *g;
	size_t sz = (size_t)ROUTE_TREES * rt->nrelay * sizeof(uint16_t);

	if (gi == rt->capgroups) {
		rt->capgroups = rt->capgroups ? 2 * rt->capgroups : 64;
		rt->groups = xreallocarray(rt->groups, rt->capgroups, sizeof(*rt->groups));
		rt->repaired = xreallocarray(rt->repaired, rt->capgroups, sizeof(uint32_t));
	}
	g = &rt->groups[gi];
	memset(g, 0, sizeof(*g));
	memcpy(g->att, att, natt * sizeof(uint32_t));
	g->natt = natt;
	rt_group_key(g, server);
	g->base = xmalloc(sz);
	rt_compute(rt, g, false, g->base);
	rt_inv_add(rt, gi);
	if (!rt_intact(rt, g)) {
		uint16_t *cur = xmalloc(sz);

		rt_compute(rt, g, true, cur);
		rt_set_repaired(rt, gi, cur);
	}
	if (rt->relay)
		return gi;
	if (natt >= 2)
		rt_add_multi(rt, gi);
	g = &rt->groups[gi];
	g->choice = xmalloc(rt->capmulti ? rt->capmulti : 1);
	memset(g->choice, RT_NOCHOICE, rt->capmulti ? rt->capmulti : 1);
	rt_choices_of(rt, gi);
	if (natt >= 2)
		for (uint32_t o = 0; o < gi; o++)
			rt->groups[o].choice[g->multi] = rt_choice(rt, o, gi);
	return gi;
}

uint32_t rt_attach(struct route_trees *rt, uint32_t s)
{
	uint32_t *links = &rt->srv_link[(size_t)s * ROUTE_MAX_ATT], att[ROUTE_MAX_ATT];
	uint64_t key;
	uint8_t n;

	if (rt->relay)
		return rt->t->nodes[s].index;
	n = rt_server_links(rt, s, links);
	rt->srv_natt[s] = n;
	if (!n)
		return RT_NONE;
	for (uint8_t k = 0; k < n; k++)
		att[k] = rt->rel_of_node[topo_other(rt->t, links[k], s)];
	key = hash_bytes(att, n * sizeof(uint32_t), RT_KEY_SEED);
	for (;;) {
		uint64_t *gp = hmap_get(&rt->by_key, key);
		const struct rt_group *g;

		if (!gp) {
			uint32_t gi = rt_group_new(rt, att, n, RT_NONE);

			hmap_put(&rt->by_key, key, gi);
			return gi;
		}
		g = &rt->groups[*gp];
		if (g->natt == n && !memcmp(g->att, att, n * sizeof(uint32_t)))
			return (uint32_t)*gp;
		key = hash_u64(key, 0x51);	/* a 64-bit collision: probe on */
	}
}

/* ---- construction ------------------------------------------------------------- */

static int rt_check_topo(const struct topo *t, char *err, size_t errlen)
{
	for (uint32_t v = 0; v < t->nnodes; v++) {
		const struct topo_node *n = &t->nodes[v];

		if (n->degree > ROUTE_MAX_PORT) {
			snprintf(err, errlen, "%s has %u links: routing encodes at most %u ports",
				 n->name, n->degree, ROUTE_MAX_PORT);
			return -EINVAL;
		}
		if (n->kind == TOPO_SERVER && n->degree > ROUTE_MAX_ATT) {
			snprintf(err, errlen, "server %s has %u links: at most %u", n->name,
				 n->degree, ROUTE_MAX_ATT);
			return -EINVAL;
		}
	}
	if (topo_servers_relay(t) &&
	    (uint64_t)t->nservers * t->nnodes * 2 * ROUTE_TREES > ROUTE_MAX_TREE_BYTES) {
		snprintf(err, errlen, "%u relaying servers x %u nodes: the tree pairs would need "
			 "%.1f GiB (limit %.0f)", t->nservers, t->nnodes,
			 (double)t->nservers * t->nnodes * 4 / (1 << 30),
			 (double)(ROUTE_MAX_TREE_BYTES >> 30));
		return -EINVAL;
	}
	if (t->nservers > ROUTE_MAX_GROUPS) {
		snprintf(err, errlen, "%u servers: routing handles at most %u", t->nservers,
			 ROUTE_MAX_GROUPS);
		return -EINVAL;
	}
	return 0;
}

int route_trees_new(const struct topo *t, const uint8_t *link_dead, const uint8_t *node_dead,
		    struct route_trees **out, char *err, size_t errlen)
{
	struct route_trees *rt;
	int ret = rt_check_topo(t, err, errlen);

	if (ret)
		return ret;
	rt = xcalloc(1, sizeof(*rt));
	rt->t = t;
	rt->relay = topo_servers_relay(t);
	rt->link_dead = xcalloc(t->nlinks ? t->nlinks : 1, 1);
	rt->node_dead = xcalloc(t->nnodes ? t->nnodes : 1, 1);
	if (link_dead)
		memcpy(rt->link_dead, link_dead, t->nlinks);
	if (node_dead)
		memcpy(rt->node_dead, node_dead, t->nnodes);
	rt_build_relay(rt);
	rt_alloc_scratch(rt);
	rt->inv = xcalloc(t->nlinks ? t->nlinks : 1, sizeof(*rt->inv));
	hmap_init(&rt->by_key, 64, RT_KEY_SEED);
	rt->srv_group = xmalloc((size_t)t->nnodes * sizeof(uint32_t));
	memset(rt->srv_group, 0xff, (size_t)t->nnodes * sizeof(uint32_t));
	rt->srv_pos = xcalloc(t->nnodes, sizeof(uint32_t));
	rt->srv_link = xcalloc((size_t)t->nnodes * ROUTE_MAX_ATT, sizeof(uint32_t));
	rt->srv_natt = xcalloc(t->nnodes, 1);
	for (uint32_t i = 0; i < t->nservers; i++) {
		uint32_t s = t->servers[i], g;

		if (rt->relay) {
			uint32_t att[ROUTE_MAX_ATT];
			uint8_t n = (uint8_t)t->nodes[s].degree;

			for (uint8_t k = 0; k < n; k++)
				att[k] = rt->rel_of_node[topo_port(t, s, k)->peer];
			g = rt_group_new(rt, att, n, s);
		} else {
			g = rt_attach(rt, s);
		}
		if (g != RT_NONE)
			rt_group_add(rt, g, s);
	}
	*out = rt;
	return 0;
}

void route_trees_free(struct route_trees *rt)
{
	if (!rt)
		return;
	for (uint32_t g = 0; g < rt->ngroups; g++) {
		free(rt->groups[g].mem);
		free(rt->groups[g].base);
		free(rt->groups[g].cur);
		free(rt->groups[g].choice);
	}
	for (uint32_t l = 0; l < rt->t->nlinks; l++)
		free(rt->inv[l].v);
	free(rt->inv);
	free(rt->groups);
	free(rt->repaired);
	free(rt->multi);
	hmap_free(&rt->by_key);
	free(rt->srv_group);
	free(rt->srv_pos);
	free(rt->srv_link);
	free(rt->srv_natt);
	free(rt->rel_of_node);
	free(rt->node_of_rel);
	free(rt->radj_start);
	free(rt->radj);
	free(rt->link_dead);
	free(rt->node_dead);
	free(rt->pre); free(rt->low); free(rt->par); free(rt->pedge); free(rt->order);
	free(rt->blk); free(rt->num); free(rt->d1); free(rt->d2); free(rt->rot);
	free(rt->broot); free(rt->bstart); free(rt->btail); free(rt->stamp);
	free(rt->nxt); free(rt->prv); free(rt->sign); free(rt->mask); free(rt->stack);
	free(rt->mark); free(rt->eok);
	free(rt);
}

const struct topo *route_topo(const struct route_trees *rt)
{
	return rt->t;
}

bool route_servers_relay(const struct route_trees *rt)
{
	return rt->relay;
}

/* ---- queries ------------------------------------------------------------------- */

/* NIC of non-relaying source s toward group gi in tree tr. */
static uint16_t rt_source_nic(const struct route_trees *rt, uint32_t s, uint32_t gi,
			      unsigned tr)
{
	const struct rt_group *g = &rt->groups[gi];
	uint32_t hi = rt->srv_group[s], k, l;

	if (hi == RT_NONE)
		return ROUTE_NO_PORT;
	if (rt->srv_natt[s] == 1) {
		if (rt_view(rt, g, tr, rt->groups[hi].att[0]) == ROUTE_NO_PORT)
			return ROUTE_NO_PORT;
		k = 0;
	} else {
		uint8_t c = g->choice[rt->groups[hi].multi];

		if (c == RT_NOCHOICE)
			return ROUTE_NO_PORT;
		k = tr == 0 ? c >> 4 : c & 15;
	}
	l = rt->srv_link[(size_t)s * ROUTE_MAX_ATT + k];
	return rt_port_on(rt->t, l, s);
}

uint16_t route_egress(const struct route_trees *rt, uint32_t node, uint32_t dst, unsigned tree)
{
	uint32_t gi = rt->srv_group[dst], v = rt->rel_of_node[node];

	assert(tree < ROUTE_TREES && topo_is_server(rt->t, dst));
	if (gi == RT_NONE || node == dst || rt->node_dead[node])
		return ROUTE_NO_PORT;
	if (v == RT_NONE)
		return rt_source_nic(rt, node, gi, tree);
	return rt_resolve(rt, rt_view(rt, &rt->groups[gi], tree, v), v, dst);
}

uint32_t route_server_group(const struct route_trees *rt, uint32_t s)
{
	return rt->srv_group[s] == RT_NONE ? UINT32_MAX : rt->srv_group[s];
}

uint32_t route_tree_path(const struct route_trees *rt, uint32_t src, uint32_t dst,
			 unsigned tree, uint32_t *links, uint32_t max)
{
	uint32_t n = 0, node = src;

	while (node != dst) {
		uint16_t p = route_egress(rt, node, dst, tree);
		const struct topo_adj *a;

		if (p == ROUTE_NO_PORT || n == max)
			return UINT32_MAX;
		a = topo_port(rt->t, node, p);
		if (!rt_link_alive(rt, a->link))
			return UINT32_MAX;
		links[n++] = a->link;
		node = a->peer;
	}
	return n;
}

void route_fib_foreach(const struct route_trees *rt, uint32_t sw, route_fib_fn *fn, void *arg)
{
	uint32_t v = rt->rel_of_node[sw];

	if (v == RT_NONE || rt->node_dead[sw])
		return;
	for (uint32_t gi = 0; gi < rt->ngroups; gi++) {
		const struct rt_group *g = &rt->groups[gi];

		for (unsigned tr = 0; g->nmem && tr < ROUTE_TREES; tr++) {
			uint16_t e = rt_view(rt, g, tr, v);

			if (e == ROUTE_NO_PORT)
				continue;
			for (uint32_t m = 0; m < g->nmem; m++)
				fn(arg, sw, g->mem[m], tr, rt_resolve(rt, e, v, g->mem[m]));
		}
	}
}

uint32_t route_fib_count(const struct route_trees *rt, uint32_t sw)
{
	uint32_t v = rt->rel_of_node[sw], n = 0;

	if (v == RT_NONE || rt->node_dead[sw])
		return 0;
	for (uint32_t gi = 0; gi < rt->ngroups; gi++)
		for (unsigned tr = 0; tr < ROUTE_TREES; tr++)
			if (rt_view(rt, &rt->groups[gi], tr, v) != ROUTE_NO_PORT)
				n += rt->groups[gi].nmem;
	return n;
}

/* Whether group g's current tree tr sends from relay node v over link l. */
static bool rt_uses(const struct route_trees *rt, const struct rt_group *g, unsigned tr,
		    uint32_t v, uint32_t l, uint32_t owner)
{
	uint16_t e = rt_view(rt, g, tr, v);

	if (e == ROUTE_NO_PORT)
		return false;
	return topo_port(rt->t, rt->node_of_rel[v], rt_resolve(rt, e, v, owner))->link == l;
}

static uint64_t rt_users_of(const struct route_trees *rt, uint32_t gi, unsigned tr,
			    uint32_t l, route_user_fn *fn, void *arg)
{
	const struct rt_group *g = &rt->groups[gi];
	const struct topo_link *lk = &rt->t->links[l];
	uint32_t va = rt->rel_of_node[lk->a], vb = rt->rel_of_node[lk->b];
	uint64_t n = 0;

	for (uint32_t m = 0; m < g->nmem; m++) {
		uint32_t P = g->mem[m];

		if ((va != RT_NONE && rt_uses(rt, g, tr, va, l, P)) ||
		    (vb != RT_NONE && rt_uses(rt, g, tr, vb, l, P))) {
			n++;
			if (fn)
				fn(arg, P, tr);
		}
	}
	return n;
}

uint64_t route_link_users(const struct route_trees *rt, uint32_t l, route_user_fn *fn,
			  void *arg)
{
	const struct topo_link *lk = &rt->t->links[l];
	uint64_t n = 0;

	if (!rt->relay && (topo_is_server(rt->t, lk->a) || topo_is_server(rt->t, lk->b))) {
		uint32_t s = topo_is_server(rt->t, lk->a) ? lk->a : lk->b;

		if (rt->srv_group[s] == RT_NONE)
			return 0;
		for (unsigned tr = 0; tr < ROUTE_TREES; tr++) {
			uint32_t w = topo_other(rt->t, l, s);

			if (rt->rel_of_node[w] != RT_NONE &&
			    rt_uses(rt, &rt->groups[rt->srv_group[s]], tr, rt->rel_of_node[w], l, s)) {
				n++;
				if (fn)
					fn(arg, s, tr);
			}
		}
		return n;
	}
	/* Base trees through the inverse map, recomputed ones by a scan. */
	for (uint32_t i = 0; i < rt->inv[l].n; i++) {
		uint32_t x = rt->inv[l].v[i];

		if (!rt->groups[x >> 1].cur)
			n += rt_users_of(rt, x >> 1, x & 1, l, fn, arg);
	}
	for (uint32_t i = 0; i < rt->nrepaired; i++)
		for (unsigned tr = 0; tr < ROUTE_TREES; tr++)
			n += rt_users_of(rt, rt->repaired[i], tr, l, fn, arg);
	return n;
}

/* ---- figures ---------------------------------------------------------------------- */

void route_stats(const struct route_trees *rt, struct route_stats *st)
{
	uint64_t *fib = xcalloc(rt->nrelay ? rt->nrelay : 1, sizeof(uint64_t));
	uint64_t sw_live = 0, fib_sum = 0, hop_n[ROUTE_TREES] = { 0 };
	double hop_sum[ROUTE_TREES] = { 0 };

	memset(st, 0, sizeof(*st));
	st->repaired = rt->nrepaired;
	st->bytes = sizeof(*rt) + (size_t)rt->t->nnodes * (3 * 4 + ROUTE_MAX_ATT * 4 + 1 + 8 + 2) +
		    (size_t)rt->radj_start[rt->nrelay] * sizeof(struct rt_edge) +
		    (size_t)rt->nrelay * (17 * 4 + 2 + ROUTE_TREES * 2);
	for (uint32_t gi = 0; gi < rt->ngroups; gi++) {
		const struct rt_group *g = &rt->groups[gi];
		size_t arr = (size_t)ROUTE_TREES * rt->nrelay * 2;

		st->bytes += sizeof(*g) + arr + (g->cur ? arr : 0) + g->capmem * 4 + rt->capmulti;
		if (!g->nmem)
			continue;
		st->groups++;
		st->servers += g->nmem;
		for (unsigned tr = 0; tr < ROUTE_TREES; tr++) {
			for (uint32_t v = 0; v < rt->nrelay; v++) {
				uint16_t e = rt_view(rt, g, tr, v);
				uint32_t len = 0, hits = 0;

				if (e == ROUTE_NO_PORT)
					continue;
				fib[v] += g->nmem;
				if (topo_is_server(rt->t, rt->node_of_rel[v]))
					continue;
				if (rt_walk((struct route_trees *)rt, g, tr, v, true, &len, &hits)) {
					hop_sum[tr] += (double)len * g->nmem;
					hop_n[tr] += g->nmem;
				}
			}
		}
	}
	for (uint32_t l = 0; l < rt->t->nlinks; l++)
		st->bytes += (size_t)rt->inv[l].cap * 4 + sizeof(struct rt_vec);
	for (uint32_t v = 0; v < rt->nrelay; v++) {
		uint32_t node = rt->node_of_rel[v];

		if (topo_is_server(rt->t, node) || rt->node_dead[node])
			continue;
		sw_live++;
		fib_sum += fib[v];
		st->fib_max = MAX(st->fib_max, (uint32_t)fib[v]);
	}
	st->fib_mean = sw_live ? (double)fib_sum / (double)sw_live : 0;
	for (unsigned tr = 0; tr < ROUTE_TREES; tr++)
		st->hops[tr] = hop_n[tr] ? hop_sum[tr] / (double)hop_n[tr] : 0;
	free(fib);
}
