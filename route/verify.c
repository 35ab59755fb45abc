/* Checking tree pairs by walking them (route_verify in route/trees.h).
 *
 * Deliberately independent of how the trees are built: it searches the live
 * graph itself, walks every path hop by hop, and judges a link shared by both
 * paths of a source as unavoidable only if a search without that link no
 * longer reaches the source from the root.
 */
#include "route/trees_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vf_cut {
	uint32_t eid;
	uint8_t *reach;		/* reached from the root without eid */
};

struct vf {
	const struct route_trees *rt;
	struct route_verify *out;
	const struct rt_group *g;
	uint8_t *reach;		/* from the root, all live links */
	uint32_t *queue;
	uint8_t *shared;	/* by link id */
	uint32_t *mark, mark_stamp;
	uint32_t *hits, nhits;	/* eids shared by the current pair */
	struct vf_cut *cuts;
	uint32_t ncuts, capcuts;
};

static void vf_error(struct vf *f, const char *what, uint32_t node)
{
	if (!f->out->first_error[0])
		snprintf(f->out->first_error, sizeof(f->out->first_error),
			 "%s: from %s toward group of %s", what,
			 node == RT_NONE ? "?" : f->rt->t->nodes[node].name,
			 f->g->nmem ? f->rt->t->nodes[f->g->mem[0]].name : "?");
}

static bool vf_virt_alive(const struct route_trees *rt, const struct rt_group *g, uint32_t k)
{
	if (rt->relay)
		return rt_link_alive(rt, topo_port(rt->t, g->server, k)->link);
	return !rt->node_dead[rt->node_of_rel[g->att[k]]];
}

/* Breadth-first search from the root over live links, without edge `skip`. */
static void vf_search(struct vf *f, uint32_t skip, uint8_t *reach)
{
	const struct route_trees *rt = f->rt;
	const struct rt_group *g = f->g;
	uint32_t R = rt->nrelay, head = 0, tail = 0, nl = rt->t->nlinks;

	memset(reach, 0, (size_t)R + 1);
	reach[R] = 1;
	for (uint32_t k = 0; k < g->natt; k++)
		if (nl + k != skip && vf_virt_alive(rt, g, k) && !reach[g->att[k]]) {
			reach[g->att[k]] = 1;
			f->queue[tail++] = g->att[k];
		}
	while (head < tail) {
		uint32_t v = f->queue[head++];

		for (uint32_t i = rt->radj_start[v]; i < rt->radj_start[v + 1]; i++) {
			const struct rt_edge *e = &rt->radj[i];

			if (e->link == skip || reach[e->peer] || !rt_link_alive(rt, e->link))
				continue;
			if (rt->relay && rt->node_of_rel[e->peer] == g->server)
				continue;
			reach[e->peer] = 1;
			f->queue[tail++] = e->peer;
		}
	}
}

static const uint8_t *vf_cut(struct vf *f, uint32_t eid)
{
	for (uint32_t i = 0; i < f->ncuts; i++)
		if (f->cuts[i].eid == eid)
			return f->cuts[i].reach;
	if (f->ncuts == f->capcuts) {
		f->capcuts = f->capcuts ? 2 * f->capcuts : 8;
		f->cuts = xreallocarray(f->cuts, f->capcuts, sizeof(*f->cuts));
	}
	f->cuts[f->ncuts].eid = eid;
	f->cuts[f->ncuts].reach = xmalloc((size_t)f->rt->nrelay + 1);
	vf_search(f, eid, f->cuts[f->ncuts].reach);
	return f->cuts[f->ncuts++].reach;
}

/* Walk tree tr from v to the root: true if it gets there over live links.
 * With count, collect the edge ids already marked into hits. */
static bool vf_walk(struct vf *f, unsigned tr, uint32_t v, bool count)
{
	const struct route_trees *rt = f->rt;
	const struct topo *t = rt->t;

	for (uint32_t steps = 0; steps <= rt->nrelay; steps++) {
		uint16_t e = rt_view(rt, f->g, tr, v);
		uint32_t eid, node = rt->node_of_rel[v];
		const struct topo_adj *a = NULL;

		if (e == ROUTE_NO_PORT)
			return false;
		if (RT_IS_DELIVER(e)) {
			if (e - RT_DELIVER0 >= f->g->natt || !vf_virt_alive(rt, f->g, e - RT_DELIVER0) ||
			    f->g->att[e - RT_DELIVER0] != v)
				return false;
			eid = t->nlinks + (e - RT_DELIVER0);
		} else {
			if (e >= t->nodes[node].degree)
				return false;
			a = topo_port(t, node, e);
			if (!rt_link_alive(rt, a->link))
				return false;
			eid = a->link;
		}
		if (!count)
			f->mark[eid] = f->mark_stamp;
		else if (f->mark[eid] == f->mark_stamp)
			f->hits[f->nhits++] = eid;
		if (!a)
			return true;
		v = rt->rel_of_node[a->peer];
		if (v == RT_NONE || (rt->relay && a->peer == f->g->server))
			return false;
	}
	return false;
}

/* Record eid as shared by the pair's two paths. */
static void vf_note_shared(struct vf *f, uint32_t eid)
{
	const struct route_trees *rt = f->rt;
	uint32_t nl = rt->t->nlinks;

	if (eid < nl) {
		f->shared[eid] = 1;
		return;
	}
	for (uint32_t m = 0; m < f->g->nmem; m++) {
		uint32_t P = f->g->mem[m], k = eid - nl;

		f->shared[rt->relay ? topo_port(rt->t, P, k)->link
				    : rt->srv_link[(size_t)P * ROUTE_MAX_ATT + k]] = 1;
	}
}

/* Tree-0 path from x and tree-1 path from y; false if either fails. */
static bool vf_pair(struct vf *f, uint32_t x, uint32_t y)
{
	if (++f->mark_stamp == 0) {
		memset(f->mark, 0, ((size_t)f->rt->t->nlinks + ROUTE_MAX_ATT) * sizeof(uint32_t));
		f->mark_stamp = 1;
	}
	f->nhits = 0;
	return vf_walk(f, 0, x, false) && vf_walk(f, 1, y, true);
}

/* Relay nodes as sources: both trees span what the root reaches, and the
 * two paths share only links that cut the node off. */
static void vf_relay_sources(struct vf *f)
{
	const struct route_trees *rt = f->rt;

	for (uint32_t v = 0; v < rt->nrelay; v++) {
		uint32_t node = rt->node_of_rel[v];

		if (rt->node_dead[node] || (rt->relay && node == f->g->server))
			continue;
		for (unsigned tr = 0; tr < ROUTE_TREES; tr++) {
			bool has = rt_view(rt, f->g, tr, v) != ROUTE_NO_PORT;

			if (f->reach[v] && !has) {
				f->out->unspanned++;
				vf_error(f, "node connected to the root but not in the tree", node);
			}
		}
		if (!f->reach[v])
			continue;
		f->out->sources += f->g->nmem;
		if (!vf_pair(f, v, v)) {
			f->out->loops++;
			vf_error(f, "path loops or breaks", node);
			continue;
		}
		for (uint32_t i = 0; i < f->nhits; i++) {
			if (vf_cut(f, f->hits[i])[v]) {
				f->out->avoidable++;
				vf_error(f, "both paths share a link they could avoid", node);
			} else {
				vf_note_shared(f, f->hits[i]);
			}
		}
	}
}

/* Non-relaying servers as sources, one check per source group h. */
static void vf_server_sources(struct vf *f, const struct rt_group *h)
{
	const struct route_trees *rt = f->rt;
	uint32_t nr = 0, ka = 0, kb = 0, first = h->mem[0];

	for (uint32_t k = 0; k < h->natt; k++)
		nr += f->reach[h->att[k]] && !rt->node_dead[rt->node_of_rel[h->att[k]]];
	if (h->natt >= 2) {
		uint8_t c = f->g->choice[h->multi];

		if (c == RT_NOCHOICE) {
			if (nr) {
				f->out->unspanned++;
				vf_error(f, "server with a way to the root has no NIC choice", first);
			}
			return;
		}
		ka = c >> 4;
		kb = c & 15;
	} else if (!nr) {
		return;
	}
	f->out->sources += (uint64_t)h->nmem * f->g->nmem;
	if (!vf_pair(f, h->att[ka], h->att[kb])) {
		f->out->loops++;
		vf_error(f, "server's path loops or breaks", first);
		return;
	}
	for (uint32_t i = 0; i < f->nhits; i++) {
		const uint8_t *cut = vf_cut(f, f->hits[i]);
		bool avoidable = false;

		for (uint32_t k = 0; k < h->natt; k++)
			avoidable |= cut[h->att[k]] != 0;
		if (avoidable) {
			f->out->avoidable++;
			vf_error(f, "a server's two paths share a link they could avoid", first);
		} else {
			vf_note_shared(f, f->hits[i]);
		}
	}
	if (ka == kb) {
		if (nr > 1) {
			f->out->avoidable++;
			vf_error(f, "a server uses one NIC for both trees but has two ways", first);
		}
		for (uint32_t m = 0; m < h->nmem; m++)
			f->shared[rt->srv_link[(size_t)h->mem[m] * ROUTE_MAX_ATT + ka]] = 1;
	}
}

static void vf_group(struct vf *f, const struct rt_group *g)
{
	const struct route_trees *rt = f->rt;

	f->g = g;
	f->ncuts = 0;
	vf_search(f, RT_NONE, f->reach);
	vf_relay_sources(f);
	if (!rt->relay)
		for (uint32_t hi = 0; hi < rt->ngroups; hi++)
			if (rt->groups[hi].nmem)
				vf_server_sources(f, &rt->groups[hi]);
	for (uint32_t i = 0; i < f->ncuts; i++)
		free(f->cuts[i].reach);
}

void route_verify(const struct route_trees *rt, struct route_verify *v)
{
	struct vf f = { .rt = rt, .out = v };
	uint32_t nl = rt->t->nlinks;

	memset(v, 0, sizeof(*v));
	f.reach = xmalloc((size_t)rt->nrelay + 1);
	f.queue = xmalloc(((size_t)rt->nrelay + 1) * sizeof(uint32_t));
	f.shared = xcalloc((size_t)nl + 1, 1);
	f.mark = xcalloc((size_t)nl + ROUTE_MAX_ATT, sizeof(uint32_t));
	f.hits = xmalloc(((size_t)rt->nrelay + 2) * sizeof(uint32_t));
	for (uint32_t gi = 0; gi < rt->ngroups; gi++)
		if (rt->groups[gi].nmem)
			vf_group(&f, &rt->groups[gi]);
	for (uint32_t l = 0; l < nl; l++)
		v->nshared += f.shared[l];
	v->shared = xmalloc(((size_t)v->nshared + 1) * sizeof(uint32_t));
	v->nshared = 0;
	for (uint32_t l = 0; l < nl; l++)
		if (f.shared[l])
			v->shared[v->nshared++] = l;
	v->ok = !v->loops && !v->unspanned && !v->avoidable;
	free(f.reach);
	free(f.queue);
	free(f.shared);
	free(f.mark);
	free(f.hits);
	free(f.cuts);
}

void route_verify_free(struct route_verify *v)
{
	free(v->shared);
	v->shared = NULL;
}
