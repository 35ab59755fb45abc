/* Load-balanced direct routes (route/lbtree.h, docs/routing.md). */
#include "route/lbtree.h"
#include "route/trees_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LB_HOP 1e-6		/* added per hop: among equal loads, fewer hops */
#define LB_SEED 0x6c62ull

struct lb_heap_item {
	double key;
	uint32_t node;
};

struct lb {
	const struct route_trees *rt;
	const struct topo *t;
	double *load;			/* per link direction */
	uint32_t *fib_free;		/* per node; UINT32_MAX: no limit */
	struct hmap mac_dst;		/* mac -> dst + 1 */
	struct hmap tree;		/* mac << 32 | node -> link + 1 */
	struct rt_vec *tnodes;		/* per mac index: nodes on its direct tree */
	struct hmap mac_idx;		/* mac -> index into tnodes */
	uint32_t nmacs;
	/* shortest-path search */
	double *dist;
	uint32_t *via, *touched, ntouched;
	uint8_t *fixed;
	struct lb_heap_item *heap;
	uint32_t nheap, capheap;
	bool hit_full;
	/* base paths, CSR by pair */
	uint32_t *bstart, *bpath;
	uint32_t *buf;
};

static inline uint32_t lb_arc(const struct topo *t, uint32_t l, uint32_t from)
{
	return 2 * l + (t->links[l].a == from ? 0 : 1);
}

static inline double lb_cap(const struct topo *t, uint32_t l)
{
	return t->links[l].mbps ? (double)t->links[l].mbps : 1.0;
}

static bool lb_relays(const struct lb *b, uint32_t node)
{
	return b->rt->rel_of_node[node] != RT_NONE;
}

/* ---- heap ------------------------------------------------------------------ */

static void lb_push(struct lb *b, double key, uint32_t node)
{
	uint32_t i;

	if (b->nheap == b->capheap) {
		b->capheap = b->capheap ? 2 * b->capheap : 256;
		b->heap = xreallocarray(b->heap, b->capheap, sizeof(*b->heap));
	}
	for (i = b->nheap++; i && b->heap[(i - 1) / 2].key > key; i = (i - 1) / 2)
		b->heap[i] = b->heap[(i - 1) / 2];
	b->heap[i] = (struct lb_heap_item){ key, node };
}

static struct lb_heap_item lb_pop(struct lb *b)
{
	struct lb_heap_item top = b->heap[0], last = b->heap[--b->nheap];
	uint32_t i = 0;

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= b->nheap)
			break;
		if (c + 1 < b->nheap && b->heap[c + 1].key < b->heap[c].key)
			c++;
		if (b->heap[c].key >= last.key)
			break;
		b->heap[i] = b->heap[c];
		i = c;
	}
	if (b->nheap)
		b->heap[i] = last;
	return top;
}

/* ---- base routes ----------------------------------------------------------- */

/* Breadth-first tree toward dst: parent link of every node in par. */
static void lb_bfs(struct lb *b, uint32_t dst, uint32_t *par)
{
	const struct topo *t = b->t;
	uint32_t head = 0, tail = 0, *q = b->touched;

	memset(par, 0xff, (size_t)t->nnodes * sizeof(uint32_t));
	par[dst] = RT_NONE - 1;
	q[tail++] = dst;
	while (head < tail) {
		uint32_t u = q[head++];

		if (u != dst && !lb_relays(b, u))
			continue;
		for (uint32_t p = 0; p < t->nodes[u].degree; p++) {
			const struct topo_adj *a = topo_port(t, u, p);

			if (par[a->peer] != RT_NONE || !rt_link_alive(b->rt, a->link))
				continue;
			par[a->peer] = a->link;
			q[tail++] = a->peer;
		}
	}
}

static uint32_t lb_base_path(struct lb *b, const struct route_lb_pair *p, enum route_lb_base base,
			     const uint32_t *par, uint32_t *out)
{
	uint32_t n = 0, v = p->src, max = b->t->nnodes + 1;

	if (base == ROUTE_LB_TREES) {
		n = route_tree_path(b->rt, p->src, p->dst, 0, out, max);
		if (n == UINT32_MAX)
			n = route_tree_path(b->rt, p->src, p->dst, 1, out, max);
		return n;
	}
	if (par[v] == RT_NONE)
		return UINT32_MAX;
	while (v != p->dst) {
		out[n++] = par[v];
		v = topo_other(b->t, par[v], v);
	}
	return n;
}

static int lb_cmp_dst(const void *x, const void *y, void *arg)
{
	const struct route_lb_pair *pairs = arg;
	uint32_t i = *(const uint32_t *)x, j = *(const uint32_t *)y;

	if (pairs[i].dst != pairs[j].dst)
		return pairs[i].dst < pairs[j].dst ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* Base paths of every pair, one search per destination for shortest paths. */
static void lb_base_paths(struct lb *b, const struct route_lb_pair *pairs, uint32_t n,
			  enum route_lb_base base)
{
	uint32_t *ord = xmalloc(((size_t)n + 1) * sizeof(uint32_t)), cap = 1024, used = 0;
	uint32_t *par = xmalloc((size_t)b->t->nnodes * sizeof(uint32_t)), *len;
	uint32_t **paths = xcalloc((size_t)n + 1, sizeof(uint32_t *));

	len = xcalloc((size_t)n + 1, sizeof(uint32_t));
	for (uint32_t i = 0; i < n; i++)
		ord[i] = i;
	qsort_r(ord, n, sizeof(*ord), lb_cmp_dst, (void *)pairs);
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = ord[k], m;

		if (base == ROUTE_LB_SHORTEST && (k == 0 || pairs[ord[k - 1]].dst != pairs[i].dst))
			lb_bfs(b, pairs[i].dst, par);
		m = pairs[i].src == pairs[i].dst ? UINT32_MAX
						 : lb_base_path(b, &pairs[i], base, par, b->buf);
		len[i] = m;
		if (m != UINT32_MAX) {
			paths[i] = xmalloc(((size_t)m + 1) * sizeof(uint32_t));
			memcpy(paths[i], b->buf, (size_t)m * sizeof(uint32_t));
		}
	}
	b->bstart = xmalloc(((size_t)n + 1) * sizeof(uint32_t));
	b->bpath = xmalloc(cap * sizeof(uint32_t));
	for (uint32_t i = 0; i < n; i++) {
		uint32_t m = len[i] == UINT32_MAX ? 0 : len[i];

		b->bstart[i] = used;
		while (used + m > cap)
			b->bpath = xreallocarray(b->bpath, cap *= 2, sizeof(uint32_t));
		if (m)
			memcpy(b->bpath + used, paths[i], (size_t)m * sizeof(uint32_t));
		used += m;
		free(paths[i]);
	}
	b->bstart[n] = used;
	free(paths);
	free(len);
	free(par);
	free(ord);
}

/* ---- loads ----------------------------------------------------------------- */

/* Add rate to the link directions of a path from src. */
static void lb_add(struct lb *b, uint32_t src, const uint32_t *links, uint32_t n, double rate)
{
	uint32_t v = src;

	for (uint32_t i = 0; i < n; i++) {
		b->load[lb_arc(b->t, links[i], v)] += rate;
		v = topo_other(b->t, links[i], v);
	}
}

/* The highest utilisation on a path once it carries rate more. */
static double lb_bottleneck(const struct lb *b, uint32_t src, const uint32_t *links, uint32_t n,
			    double rate)
{
	double worst = 0;
	uint32_t v = src;

	for (uint32_t i = 0; i < n; i++) {
		worst = MAX(worst, (b->load[lb_arc(b->t, links[i], v)] + rate) / lb_cap(b->t, links[i]));
		v = topo_other(b->t, links[i], v);
	}
	return worst;
}

static void lb_util(const struct lb *b, double *max, double *mean)
{
	double sum = 0, worst = 0;
	uint32_t n = 0;

	for (uint32_t l = 0; l < b->t->nlinks; l++) {
		if (!rt_link_alive(b->rt, l))
			continue;
		for (int d = 0; d < 2; d++) {
			double u = b->load[2 * l + d] / lb_cap(b->t, l);

			worst = MAX(worst, u);
			sum += u;
			n++;
		}
	}
	*max = worst;
	*mean = n ? sum / n : 0;
}

/* ---- direct trees --------------------------------------------------------------- */

static uint32_t lb_tree_link(const struct lb *b, uint32_t mac, uint32_t node)
{
	uint64_t *v = hmap_get(&b->tree, (uint64_t)mac << 32 | node);

	return v ? (uint32_t)(*v - 1) : RT_NONE;
}

static struct rt_vec *lb_tree_nodes(struct lb *b, uint32_t mac)
{
	uint64_t *v = hmap_get(&b->mac_idx, mac);

	if (!v) {
		b->tnodes = xreallocarray(b->tnodes, (size_t)b->nmacs + 1, sizeof(*b->tnodes));
		memset(&b->tnodes[b->nmacs], 0, sizeof(*b->tnodes));
		hmap_put(&b->mac_idx, mac, b->nmacs);
		return &b->tnodes[b->nmacs++];
	}
	return &b->tnodes[*v];
}

static void lb_touch(struct lb *b, uint32_t v, double d, uint32_t via)
{
	if (b->dist[v] == INFINITY)
		b->touched[b->ntouched++] = v;
	b->dist[v] = d;
	b->via[v] = via;
}

static void lb_reset(struct lb *b)
{
	for (uint32_t i = 0; i < b->ntouched; i++) {
		b->dist[b->touched[i]] = INFINITY;
		b->fixed[b->touched[i]] = 0;
	}
	b->ntouched = 0;
	b->nheap = 0;
	b->hit_full = false;
}

/* Seed the search with the destination and the nodes already on the MAC's
 * tree, each at the weighted cost of its tree path. */
static void lb_seed(struct lb *b, const struct route_lb_pair *p, const struct rt_vec *tn)
{
	lb_touch(b, p->dst, 0, RT_NONE);
	b->fixed[p->dst] = 1;
	lb_push(b, 0, p->dst);
	for (uint32_t i = 0; i < tn->n; i++) {
		uint32_t x = tn->v[i], v = x;
		double c = 0;

		while (v != p->dst) {
			uint32_t l = lb_tree_link(b, p->mac, v);

			c += (b->load[lb_arc(b->t, l, v)] + p->rate) / lb_cap(b->t, l) + LB_HOP;
			v = topo_other(b->t, l, v);
		}
		lb_touch(b, x, c, RT_NONE);
		b->fixed[x] = 1;
		lb_push(b, c, x);
	}
}

/* Dijkstra from the destination side; true if the source is reached. */
static bool lb_search(struct lb *b, const struct route_lb_pair *p)
{
	const struct topo *t = b->t;

	while (b->nheap) {
		struct lb_heap_item it = lb_pop(b);
		uint32_t u = it.node;

		if (it.key > b->dist[u])
			continue;
		if (u == p->src)
			return true;
		if (u != p->dst && !lb_relays(b, u))
			continue;
		for (uint32_t q = 0; q < t->nodes[u].degree; q++) {
			const struct topo_adj *a = topo_port(t, u, q);
			uint32_t y = a->peer;
			double d;

			if (b->fixed[y] || !rt_link_alive(b->rt, a->link))
				continue;
			if (!lb_relays(b, y) && y != p->src)
				continue;
			if (y != p->src && b->fib_free[y] == 0) {
				b->hit_full = true;
				continue;
			}
			d = it.key + (b->load[lb_arc(t, a->link, y)] + p->rate) / lb_cap(t, a->link) +
			    LB_HOP;
			if (d < b->dist[y]) {
				lb_touch(b, y, d, a->link);
				lb_push(b, d, y);
			}
		}
	}
	return false;
}

/* The found path from the source, into b->buf; its length. */
static uint32_t lb_found_path(struct lb *b, const struct route_lb_pair *p)
{
	uint32_t n = 0, v = p->src;

	while (v != p->dst) {
		uint32_t l = b->fixed[v] ? lb_tree_link(b, p->mac, v) : b->via[v];

		b->buf[n++] = l;
		v = topo_other(b->t, l, v);
	}
	return n;
}

/* Put the new nodes of the path on the MAC's tree. */
static void lb_graft(struct lb *b, const struct route_lb_pair *p, const uint32_t *links, uint32_t n)
{
	struct rt_vec *tn = lb_tree_nodes(b, p->mac);
	uint32_t v = p->src;

	for (uint32_t i = 0; i < n && !b->fixed[v]; i++) {
		if (lb_relays(b, v)) {
			hmap_put(&b->tree, (uint64_t)p->mac << 32 | v, (uint64_t)links[i] + 1);
			rt_vec_push(tn, v);
			if (b->fib_free[v] != UINT32_MAX)
				b->fib_free[v]--;
		}
		v = topo_other(b->t, links[i], v);
	}
}

/* ---- the algorithm ---------------------------------------------------------------- */

static int lb_check(const struct topo *t, const struct route_lb_pair *pairs, uint32_t n,
		    struct hmap *mac_dst, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct route_lb_pair *p = &pairs[i];
		uint64_t *d;

		if (p->src >= t->nnodes || p->dst >= t->nnodes || !topo_is_server(t, p->src) ||
		    !topo_is_server(t, p->dst)) {
			snprintf(err, errlen, "pair %u: source and destination must be servers", i);
			return -EINVAL;
		}
		if (!(p->rate >= 0) || !isfinite(p->rate)) {
			snprintf(err, errlen, "pair %u: bad rate", i);
			return -EINVAL;
		}
		d = hmap_get(mac_dst, p->mac);
		if (d && *d != (uint64_t)p->dst + 1) {
			snprintf(err, errlen, "pair %u: MAC %u already belongs to another server",
				 i, p->mac);
			return -EINVAL;
		}
		hmap_put(mac_dst, p->mac, (uint64_t)p->dst + 1);
	}
	return 0;
}

static int lb_cmp_rate(const void *x, const void *y, void *arg)
{
	const struct route_lb_pair *pairs = arg;
	uint32_t i = *(const uint32_t *)x, j = *(const uint32_t *)y;

	if (pairs[i].rate != pairs[j].rate)
		return pairs[i].rate > pairs[j].rate ? -1 : 1;
	return i < j ? -1 : i > j;
}

static void lb_init(struct lb *b, const struct route_trees *rt, const struct route_lb_opts *o)
{
	const struct topo *t = rt->t;

	b->rt = rt;
	b->t = t;
	b->load = xcalloc((size_t)t->nlinks * 2 + 1, sizeof(double));
	b->fib_free = xmalloc((size_t)t->nnodes * sizeof(uint32_t));
	b->dist = xmalloc((size_t)t->nnodes * sizeof(double));
	b->via = xmalloc((size_t)t->nnodes * sizeof(uint32_t));
	b->touched = xmalloc(((size_t)t->nnodes + 1) * sizeof(uint32_t));
	b->fixed = xcalloc(t->nnodes, 1);
	b->buf = xmalloc(((size_t)t->nnodes + 2) * sizeof(uint32_t));
	for (uint32_t v = 0; v < t->nnodes; v++) {
		uint32_t cap = t->nodes[v].fib_cap, used;

		b->dist[v] = INFINITY;
		if (topo_is_server(t, v) || !cap) {
			b->fib_free[v] = UINT32_MAX;
			continue;
		}
		used = o->fib_used ? o->fib_used[v] : route_fib_count(rt, v);
		b->fib_free[v] = cap > used ? cap - used : 0;
	}
	hmap_init(&b->tree, 64, LB_SEED);
	hmap_init(&b->mac_idx, 64, LB_SEED);
}

static void lb_fini(struct lb *b)
{
	for (uint32_t i = 0; i < b->nmacs; i++)
		free(b->tnodes[i].v);
	free(b->tnodes);
	hmap_free(&b->tree);
	hmap_free(&b->mac_idx);
	hmap_free(&b->mac_dst);
	free(b->fib_free);
	free(b->dist);
	free(b->via);
	free(b->touched);
	free(b->fixed);
	free(b->heap);
	free(b->bstart);
	free(b->bpath);
	free(b->buf);
}

/* Route one pair directly if that helps; returns the direct path's length
 * (path in dpath) or UINT32_MAX when it stays on its base route. */
static uint32_t lb_route_one(struct lb *b, const struct route_lb_pair *p, uint32_t i,
			     uint32_t *dpath, struct route_lb_result *res)
{
	const uint32_t *bp = b->bpath + b->bstart[i];
	uint32_t bn = b->bstart[i + 1] - b->bstart[i], n;
	bool has_base = bn || p->src == p->dst;
	double old_b, new_b;

	lb_reset(b);
	if (has_base)
		lb_add(b, p->src, bp, bn, -p->rate);
	lb_seed(b, p, lb_tree_nodes(b, p->mac));
	if (!lb_search(b, p)) {
		if (b->hit_full)
			res->skipped_fib++;
		else
			res->unreachable++;
		if (has_base)
			lb_add(b, p->src, bp, bn, p->rate);
		return UINT32_MAX;
	}
	n = lb_found_path(b, p);
	old_b = has_base ? lb_bottleneck(b, p->src, bp, bn, p->rate) : INFINITY;
	new_b = lb_bottleneck(b, p->src, b->buf, n, p->rate);
	if (new_b > old_b) {
		res->kept++;
		lb_add(b, p->src, bp, bn, p->rate);
		return UINT32_MAX;
	}
	lb_graft(b, p, b->buf, n);
	lb_add(b, p->src, b->buf, n, p->rate);
	memcpy(dpath, b->buf, (size_t)n * sizeof(uint32_t));
	res->routed++;
	return n;
}

static void lb_entries(struct lb *b, struct route_lb_result *res)
{
	uint32_t total = 0, k = 0;
	uint64_t key, val;

	for (uint32_t i = 0; i < b->nmacs; i++)
		total += b->tnodes[i].n;
	res->entries = xmalloc(((size_t)total + 1) * sizeof(*res->entries));
	for (size_t it = 0; hmap_next(&b->tree, &it, &key, &val);) {
		uint32_t node = (uint32_t)key, l = (uint32_t)val - 1;

		res->entries[k++] = (struct route_lb_entry){ node, (uint32_t)(key >> 32),
							     rt_port_on(b->t, l, node) };
	}
	res->nentries = k;
}

int route_lb(const struct route_trees *rt, const struct route_lb_pair *pairs, uint32_t n,
	     const struct route_lb_opts *o, struct route_lb_result *res, char *err, size_t errlen)
{
	struct lb b = { 0 };
	uint32_t *ord, *dlen, **dpaths, used = 0, k;
	double total = 0, taken = 0, direct = 0;
	int ret;

	memset(res, 0, sizeof(*res));
	hmap_init(&b.mac_dst, 64, LB_SEED);
	ret = lb_check(rt->t, pairs, n, &b.mac_dst, err, errlen);
	if (ret) {
		hmap_free(&b.mac_dst);
		return ret;
	}
	lb_init(&b, rt, o);
	lb_base_paths(&b, pairs, n, o->base);
	for (uint32_t i = 0; i < n; i++) {
		lb_add(&b, pairs[i].src, b.bpath + b.bstart[i], b.bstart[i + 1] - b.bstart[i],
		       pairs[i].rate);
		total += pairs[i].rate;
	}
	lb_util(&b, &res->max_before, &res->mean_before);
	ord = xmalloc(((size_t)n + 1) * sizeof(uint32_t));
	dlen = xmalloc(((size_t)n + 1) * sizeof(uint32_t));
	dpaths = xcalloc((size_t)n + 1, sizeof(uint32_t *));
	for (uint32_t i = 0; i < n; i++) {
		ord[i] = i;
		dlen[i] = UINT32_MAX;
	}
	qsort_r(ord, n, sizeof(*ord), lb_cmp_rate, (void *)pairs);
	for (k = 0; k < n; k++) {
		const struct route_lb_pair *p = &pairs[ord[k]];

		if ((o->max_pairs && k >= o->max_pairs) ||
		    (o->share > 0 && o->share < 1 && taken >= o->share * total))
			break;
		taken += p->rate;
		if (p->src == p->dst)
			continue;
		dpaths[ord[k]] = xmalloc(((size_t)rt->t->nnodes + 1) * sizeof(uint32_t));
		dlen[ord[k]] = lb_route_one(&b, p, ord[k], dpaths[ord[k]], res);
		if (dlen[ord[k]] != UINT32_MAX)
			direct += p->rate;
	}
	res->considered = k;
	res->routed_share = total > 0 ? direct / total : 0;
	lb_util(&b, &res->max_after, &res->mean_after);
	lb_entries(&b, res);
	/* every pair's final route */
	res->path_start = xmalloc(((size_t)n + 1) * sizeof(uint32_t));
	res->direct = xcalloc((size_t)n + 1, 1);
	for (uint32_t i = 0; i < n; i++)
		used += dlen[i] != UINT32_MAX ? dlen[i] : b.bstart[i + 1] - b.bstart[i];
	res->path = xmalloc(((size_t)used + 1) * sizeof(uint32_t));
	used = 0;
	for (uint32_t i = 0; i < n; i++) {
		bool d = dlen[i] != UINT32_MAX;
		uint32_t m = d ? dlen[i] : b.bstart[i + 1] - b.bstart[i];

		res->path_start[i] = used;
		res->direct[i] = d;
		memcpy(res->path + used, d ? dpaths[i] : b.bpath + b.bstart[i], (size_t)m * sizeof(uint32_t));
		used += m;
		free(dpaths[i]);
	}
	res->path_start[n] = used;
	res->load = b.load;
	b.load = NULL;
	free(dpaths);
	free(dlen);
	free(ord);
	lb_fini(&b);
	return 0;
}

void route_lb_result_free(struct route_lb_result *res)
{
	free(res->entries);
	free(res->path_start);
	free(res->path);
	free(res->direct);
	free(res->load);
	memset(res, 0, sizeof(*res));
}
