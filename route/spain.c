/* SPAIN path sets and greedy VLAN packing (see spain.h). */
#include "route/spain.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo/analyze.h"

/* ---- weighted shortest paths (Dijkstra, binary heap, lazy deletion) ----- */

struct heap_item {
	uint32_t dist, node;
};

struct dijkstra {
	const struct topo *t;
	uint32_t *dist, *via;		/* per node: distance, link it was reached by */
	/* per node: the run whose dist and via it holds; a node of another
	 * run is at infinity.  Saves clearing dist for every search (a
	 * search touches the switches near its pair; the array spans every
	 * server too). */
	uint32_t *stamp, run;
	uint32_t *touched;		/* links one pair counted: 2k paths' worth */
	/* Switch-to-switch adjacency, compact: node n's neighbours are
	 * adj[adj_off[n] .. adj_off[n + 1]).  A ToR's ports are mostly
	 * servers', which a search never enters: skipping them here, not by
	 * reading each peer's node, is most of the search's time. */
	uint32_t *adj_off;
	struct sp_adj { uint32_t peer, link; } *adj;
	struct heap_item *heap;
	uint32_t nheap, cap;
	const uint32_t *uses;		/* per link: earlier paths of this pair on it */
};

static void heap_push(struct dijkstra *d, uint32_t dist, uint32_t node)
{
	uint32_t i;

	if (d->nheap == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 256;
		d->heap = xreallocarray(d->heap, d->cap, sizeof(*d->heap));
	}
	i = d->nheap++;
	while (i && d->heap[(i - 1) / 2].dist > dist) {
		d->heap[i] = d->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	d->heap[i] = (struct heap_item){ dist, node };
}

static struct heap_item heap_pop(struct dijkstra *d)
{
	struct heap_item top = d->heap[0], last = d->heap[--d->nheap];
	uint32_t i = 0;

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= d->nheap)
			break;
		if (c + 1 < d->nheap && d->heap[c + 1].dist < d->heap[c].dist)
			c++;
		if (d->heap[c].dist >= last.dist)
			break;
		d->heap[i] = d->heap[c];
		i = c;
	}
	if (d->nheap)
		d->heap[i] = last;
	return top;
}

/* Shortest path a -> b under weights 1 + PENALTY * uses; false if none. */
static bool weighted_path(struct dijkstra *d, uint32_t a, uint32_t b, struct route_path *out)
{
	const struct topo *t = d->t;
	uint32_t hops = 0;

	if (++d->run == 0) {	/* wrapped: every stamp is stale again */
		memset(d->stamp, 0, sizeof(*d->stamp) * t->nnodes);
		d->run = 1;
	}
	d->nheap = 0;
	d->dist[a] = 0;
	d->stamp[a] = d->run;
	heap_push(d, 0, a);
	while (d->nheap) {
		struct heap_item it = heap_pop(d);

		if (it.dist != d->dist[it.node])
			continue;
		if (it.node == b)
			break;
		for (uint32_t p = d->adj_off[it.node]; p < d->adj_off[it.node + 1]; p++) {
			const struct sp_adj *adj = &d->adj[p];
			uint32_t nd = it.dist + 1 + ROUTE_SPAIN_PENALTY * d->uses[adj->link];

			if (d->stamp[adj->peer] == d->run && nd >= d->dist[adj->peer])
				continue;
			d->stamp[adj->peer] = d->run;
			d->dist[adj->peer] = nd;
			d->via[adj->peer] = adj->link;
			heap_push(d, nd, adj->peer);
		}
	}
	if (d->stamp[b] != d->run)
		return false;
	/* Walk back, then reverse into out. */
	for (uint32_t x = b; x != a; x = topo_other(t, d->via[x], x))
		if (++hops > ROUTE_PATH_MAX_LINKS)
			return false;
	out->len = hops;
	out->nodes[hops] = b;
	for (uint32_t x = b, i = hops; x != a; i--) {
		out->links[i - 1] = d->via[x];
		x = topo_other(t, d->via[x], x);
		out->nodes[i - 1] = x;
	}
	return true;
}

static bool same_path(const struct route_path *p, const struct route_path *q)
{
	return p->len == q->len && !memcmp(p->links, q->links, sizeof(p->links[0]) * p->len);
}

/* Up to k paths for one pair into out; returns how many.  uses is all
 * zero before and after: only the links this pair counted are cleared
 * (clearing every link of the fabric per pair cost more than the
 * searches). */
static uint32_t pair_paths(struct dijkstra *d, uint32_t *uses, uint32_t a, uint32_t b,
			   uint32_t k, struct route_path *out)
{
	uint32_t *touched = d->touched, n = 0, nt = 0;

	for (uint32_t tries = 0; n < k && tries < 2 * k; tries++) {
		struct route_path *p = &out[n];
		bool dup = false;

		if (!weighted_path(d, a, b, p) ||
		    (n && p->len > out[0].len + ROUTE_SPAIN_STRETCH))
			break;
		for (uint32_t i = 0; i < p->len; i++) {
			uses[p->links[i]]++;
			touched[nt++] = p->links[i];
		}
		for (uint32_t i = 0; i < n; i++)
			dup |= same_path(&out[i], p);
		n += !dup;
	}
	for (uint32_t i = 0; i < nt; i++)
		uses[touched[i]] = 0;
	return n;
}

/* ---- greedy packing --------------------------------------------------------- */

struct vlan {
	uint32_t *uf;		/* union-find over node ids */
	uint64_t *has;		/* link bitset */
	uint64_t *on;		/* node bitset: nodes the VLAN spans */
	uint32_t nlinks;
};

static uint32_t uf_find(uint32_t *uf, uint32_t x)
{
	while (uf[x] != x) {
		uf[x] = uf[uf[x]];
		x = uf[x];
	}
	return x;
}

static bool bit(const uint64_t *set, uint32_t i)
{
	return set[i / 64] >> (i % 64) & 1;
}

static bool has_link(const struct vlan *v, uint32_t l)
{
	return bit(v->has, l);
}

/* Whether path p can join VLAN v and leave it a tree: it must touch the
 * VLAN (unless the VLAN is empty) and close no loop.  The path's nodes
 * already joined in v form classes; each new link must join two classes. */
static bool fits(struct vlan *v, const struct route_path *p)
{
	uint32_t root[ROUTE_PATH_MAX_LINKS + 1], cls[ROUTE_PATH_MAX_LINKS + 1];
	bool touches = !v->nlinks;

	for (uint32_t i = 0; i <= p->len && !touches; i++)
		touches = bit(v->on, p->nodes[i]);
	if (!touches)
		return false;

	for (uint32_t i = 0; i <= p->len; i++) {
		root[i] = uf_find(v->uf, p->nodes[i]);
		cls[i] = i;
		for (uint32_t j = 0; j < i; j++)
			if (root[j] == root[i])
				cls[i] = cls[j];
	}
	for (uint32_t i = 0; i < p->len; i++) {
		uint32_t a = cls[i], b = cls[i + 1];

		if (has_link(v, p->links[i]))
			continue;
		if (a == b)
			return false;
		for (uint32_t j = 0; j <= p->len; j++)	/* merge class b into a */
			if (cls[j] == b)
				cls[j] = a;
	}
	return true;
}

static void join(struct vlan *v, const struct route_path *p)
{
	for (uint32_t i = 0; i < p->len; i++) {
		uint32_t l = p->links[i];

		if (has_link(v, l))
			continue;
		v->has[l / 64] |= 1ull << (l % 64);
		v->nlinks++;
		v->uf[uf_find(v->uf, p->nodes[i])] = uf_find(v->uf, p->nodes[i + 1]);
	}
	for (uint32_t i = 0; i <= p->len; i++)
		v->on[p->nodes[i] / 64] |= 1ull << (p->nodes[i] % 64);
}

static void vlan_open(const struct topo *t, struct vlan *v)
{
	v->uf = xmalloc(sizeof(*v->uf) * t->nnodes);
	for (uint32_t i = 0; i < t->nnodes; i++)
		v->uf[i] = i;
	v->has = xcalloc((t->nlinks + 63) / 64, sizeof(*v->has));
	v->on = xcalloc((t->nnodes + 63) / 64, sizeof(*v->on));
	v->nlinks = 0;
}

/* Pack paths[order[i]] in turn; order NULL means 0, 1, 2, .. */
static uint32_t pack(const struct topo *t, const struct route_path *paths,
		     const uint32_t *order, uint32_t npaths, uint32_t max_vlans,
		     uint16_t *vlan_of)
{
	struct vlan *v = xcalloc(max_vlans, sizeof(*v));
	uint32_t nv = 0;
	bool ok = true;

	for (uint32_t i = 0; i < npaths && ok; i++) {
		uint32_t pi = order ? order[i] : i, j;

		for (j = 0; j < nv && !fits(&v[j], &paths[pi]); j++)
			;
		if (j == nv) {
			if (nv == max_vlans) {
				ok = false;
				break;
			}
			vlan_open(t, &v[nv++]);
		}
		join(&v[j], &paths[pi]);
		vlan_of[pi] = (uint16_t)j;
	}
	for (uint32_t j = 0; j < nv; j++) {
		free(v[j].uf);
		free(v[j].has);
		free(v[j].on);
	}
	free(v);
	return ok ? nv : 0;
}

uint32_t route_spain_pack(const struct topo *t, const struct route_path *paths,
			  uint32_t npaths, uint32_t max_vlans, uint16_t *vlan_of)
{
	return pack(t, paths, NULL, npaths, MIN(max_vlans, (uint32_t)ROUTE_SPAIN_MAX_VLANS),
		    vlan_of);
}

/* ---- the whole computation ------------------------------------------------- */

uint32_t route_spain_pair(const struct route_spain *s, uint32_t i, uint32_t j)
{
	uint32_t a = MIN(i, j), b = MAX(i, j);

	/* Pairs (a, b), a < b, in row order. */
	return (uint32_t)((uint64_t)a * (2 * s->nends - a - 1) / 2 + (b - a - 1));
}

static void find_ends(const struct topo *t, struct route_spain *s)
{
	s->ends = xmalloc(sizeof(*s->ends) * t->nswitches);
	s->nends = 0;
	for (uint32_t i = 0; i < t->nswitches; i++) {
		uint32_t sw = t->switches[i];
		bool edge = false;

		for (uint32_t p = 0; p < t->nodes[sw].degree && !edge; p++)
			edge = topo_is_server(t, topo_port(t, sw, p)->peer);
		if (edge)
			s->ends[s->nends++] = sw;
	}
	if (!s->nends)
		for (uint32_t i = 0; i < t->nswitches; i++)
			s->ends[s->nends++] = t->switches[i];
}

static void compute_paths(const struct topo *t, struct route_spain *s)
{
	struct dijkstra d = { .t = t };
	uint32_t *uses = xcalloc(t->nlinks, sizeof(*uses));
	size_t cap = (size_t)s->npairs * s->k;

	d.dist = xmalloc(sizeof(*d.dist) * t->nnodes);
	d.via = xmalloc(sizeof(*d.via) * t->nnodes);
	d.stamp = xcalloc(t->nnodes, sizeof(*d.stamp));
	d.adj_off = xcalloc((size_t)t->nnodes + 1, sizeof(*d.adj_off));
	d.adj = xmalloc(sizeof(*d.adj) * (2 * (size_t)t->nlinks + 1));
	for (uint32_t n = 0, at = 0; n < t->nnodes; n++) {
		d.adj_off[n] = at;
		if (!topo_is_server(t, n))
			for (uint32_t p = 0; p < t->nodes[n].degree; p++) {
				const struct topo_adj *a = topo_port(t, n, p);

				if (!topo_is_server(t, a->peer))
					d.adj[at++] = (struct sp_adj){ a->peer, a->link };
			}
		d.adj_off[n + 1] = at;
	}
	d.touched = xmalloc(sizeof(*d.touched) * 2 * s->k * ROUTE_PATH_MAX_LINKS);
	d.uses = uses;
	s->paths = xmalloc(sizeof(*s->paths) * (cap ? cap : 1));
	s->pair_off = xmalloc(sizeof(*s->pair_off) * (s->npairs + 1));
	s->npaths = 0;
	for (uint32_t i = 0; i < s->nends; i++) {
		for (uint32_t j = i + 1; j < s->nends; j++) {
			s->pair_off[route_spain_pair(s, i, j)] = s->npaths;
			s->npaths += pair_paths(&d, uses, s->ends[i], s->ends[j], s->k,
						&s->paths[s->npaths]);
		}
	}
	s->pair_off[s->npairs] = s->npaths;
	free(uses);
	free(d.dist);
	free(d.via);
	free(d.stamp);
	free(d.touched);
	free(d.adj_off);
	free(d.adj);
	free(d.heap);
}

/* Rounds: every pair's path 0, then every pair's path 1, ... */
static uint32_t *round_order(const struct route_spain *s)
{
	uint32_t *order = xmalloc(sizeof(*order) * (s->npaths ? s->npaths : 1)), n = 0;

	for (uint32_t r = 0; r < s->k; r++)
		for (uint32_t p = 0; p < s->npairs; p++)
			if (s->pair_off[p] + r < s->pair_off[p + 1])
				order[n++] = s->pair_off[p] + r;
	return order;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* VLAN link lists from the packed paths: sorted unique (vlan, link). */
static void vlan_lists(struct route_spain *s)
{
	size_t n = 0, m = 0;
	uint64_t *vl;

	for (uint32_t i = 0; i < s->npaths; i++)
		n += s->paths[i].len;
	vl = xmalloc(sizeof(*vl) * (n ? n : 1));
	for (uint32_t i = 0, at = 0; i < s->npaths; i++)
		for (uint32_t j = 0; j < s->paths[i].len; j++)
			vl[at++] = (uint64_t)s->path_vlan[i] << 32 | s->paths[i].links[j];
	qsort(vl, n, sizeof(*vl), cmp_u64);
	s->vlan_links = xmalloc(sizeof(*s->vlan_links) * (n ? n : 1));
	s->vlan_off = xcalloc(s->nvlans + 1, sizeof(*s->vlan_off));
	for (size_t i = 0; i < n; i++) {
		if (i && vl[i] == vl[i - 1])
			continue;
		s->vlan_links[m++] = (uint32_t)vl[i];
		s->vlan_off[(vl[i] >> 32) + 1] = (uint32_t)m;
	}
	for (uint32_t v = 1; v <= s->nvlans; v++)
		s->vlan_off[v] = MAX(s->vlan_off[v], s->vlan_off[v - 1]);
	free(vl);
}

int route_spain_build(const struct topo *t, uint32_t k, struct route_spain *out,
		      char *err, size_t errlen)
{
	uint32_t *order;

	memset(out, 0, sizeof(*out));
	if (topo_servers_relay(t) || !t->nswitches) {
		snprintf(err, errlen, "SPAIN needs a switch-centric topology");
		return -EINVAL;
	}
	if (k < 1 || k > ROUTE_SPAIN_MAX_K) {
		snprintf(err, errlen, "k must be 1..%u, got %u", ROUTE_SPAIN_MAX_K, k);
		return -EINVAL;
	}
	out->k = k;
	find_ends(t, out);
	if ((uint64_t)out->nends * (out->nends - 1) / 2 > ROUTE_SPAIN_MAX_PAIRS) {
		snprintf(err, errlen, "%u edge switches make too many pairs (at most %u)",
			 out->nends, ROUTE_SPAIN_MAX_PAIRS);
		route_spain_free(out);
		return -E2BIG;
	}
	out->npairs = out->nends * (out->nends - 1) / 2;
	compute_paths(t, out);
	out->path_vlan = xmalloc(sizeof(*out->path_vlan) * (out->npaths ? out->npaths : 1));
	order = round_order(out);
	out->nvlans = pack(t, out->paths, order, out->npaths, ROUTE_SPAIN_MAX_VLANS,
			   out->path_vlan);
	free(order);
	if (!out->nvlans && out->npaths) {
		snprintf(err, errlen, "the paths need more than %u VLANs", ROUTE_SPAIN_MAX_VLANS);
		route_spain_free(out);
		return -E2BIG;
	}
	vlan_lists(out);
	return 0;
}

void route_spain_free(struct route_spain *s)
{
	free(s->ends);
	free(s->pair_off);
	free(s->paths);
	free(s->path_vlan);
	free(s->vlan_off);
	free(s->vlan_links);
	memset(s, 0, sizeof(*s));
}
