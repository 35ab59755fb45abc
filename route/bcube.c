/* BCube source routing over the topology model (seeds/003).
 *
 * An address is a server index; its digits a_k .. a_0 are base n, digit l
 * selecting the server's port on its level-l switch (topo/build.c).  A server
 * hop from x to a server differing only in digit l goes out of x's NIC l to
 * the level-l switch and from there out of the switch's port b_l. */
#include "route/bcube.h"

#include <errno.h>
#include <stdlib.h>

/* Powers of n for digit arithmetic, pw[l] = n^l, l = 0 .. k+1. */
struct bc {
	uint32_t n, k;
	uint32_t pw[TOPO_BCUBE_MAX_K + 2];
};

static bool bc_init(const struct topo *t, struct bc *b)
{
	if (t->family != FAM_BCUBE || t->p.k > TOPO_BCUBE_MAX_K)
		return false;
	b->n = t->p.n;
	b->k = t->p.k;
	b->pw[0] = 1;
	for (uint32_t l = 1; l <= b->k + 1; l++)
		b->pw[l] = b->pw[l - 1] * b->n;
	return b->pw[b->k + 1] == t->nservers;
}

static inline uint32_t digit(const struct bc *b, uint32_t a, uint32_t l)
{
	return a / b->pw[l] % b->n;
}

static inline uint32_t set_digit(const struct bc *b, uint32_t a, uint32_t l, uint32_t v)
{
	return a - digit(b, a, l) * b->pw[l] + v * b->pw[l];
}

uint32_t route_bcube_hamming(const struct topo *t, uint32_t a, uint32_t b)
{
	struct bc bc;
	uint32_t h = 0;

	if (!bc_init(t, &bc))
		return 0;
	for (uint32_t l = 0; l <= bc.k; l++)
		h += digit(&bc, a, l) != digit(&bc, b, l);
	return h;
}

bool route_bcube_hop(const struct topo *t, struct route_path *p, uint32_t level,
		     uint32_t to)
{
	uint32_t from = route_path_last(p), save = p->len;
	struct bc bc;

	if (!bc_init(t, &bc) || level > bc.k || to >= t->nservers ||
	    !topo_is_server(t, from) || p->len + 2 > ROUTE_PATH_MAX_LINKS)
		return false;
	if (!route_path_step(t, p, level))
		return false;
	if (!route_path_step(t, p, digit(&bc, to, level)) ||
	    route_path_last(p) != t->servers[to]) {
		p->len = save;
		return false;
	}
	return true;
}

static bool is_permutation(const uint8_t *order, uint32_t k)
{
	uint32_t seen = 0;

	for (uint32_t i = 0; i <= k; i++) {
		if (order[i] > k || seen & (1u << order[i]))
			return false;
		seen |= 1u << order[i];
	}
	return true;
}

/* Continue p (standing at server address `at`) to b, correcting digits in
 * `order`. */
static bool correct_digits(const struct topo *t, const struct bc *bc, struct route_path *p,
			   uint32_t at, uint32_t b, const uint8_t *order)
{
	for (uint32_t i = 0; i <= bc->k; i++) {
		uint32_t l = order[i], want = digit(bc, b, l);

		if (digit(bc, at, l) == want)
			continue;
		at = set_digit(bc, at, l, want);
		if (!route_bcube_hop(t, p, l, at))
			return false;
	}
	return true;
}

int route_bcube_routing(const struct topo *t, uint32_t a, uint32_t b,
			const uint8_t *order, struct route_path *out)
{
	struct bc bc;

	if (!bc_init(t, &bc) || a >= t->nservers || b >= t->nservers ||
	    !is_permutation(order, bc.k))
		return -EINVAL;
	route_path_start(out, t->servers[a]);
	if (!correct_digits(t, &bc, out, a, b, order))
		return -EINVAL;
	return 0;
}

/* The order i, i-1, .., i-k (mod k+1). */
static void descending_from(const struct bc *bc, uint32_t i, uint8_t *order)
{
	for (uint32_t m = 0; m <= bc->k; m++)
		order[m] = (uint8_t)((i + (bc->k + 1) - m) % (bc->k + 1));
}

static bool dc_routing(const struct topo *t, const struct bc *bc, uint32_t a, uint32_t b,
		       uint32_t i, struct route_path *p)
{
	uint8_t order[TOPO_BCUBE_MAX_K + 1];

	descending_from(bc, i, order);
	route_path_start(p, t->servers[a]);
	return correct_digits(t, bc, p, a, b, order);
}

static bool alt_dc_routing(const struct topo *t, const struct bc *bc, uint32_t a,
			   uint32_t b, uint32_t i, struct route_path *p)
{
	uint8_t order[TOPO_BCUBE_MAX_K + 1];
	uint32_t c = set_digit(bc, a, i, (digit(bc, a, i) + 1) % bc->n);

	descending_from(bc, (i + bc->k) % (bc->k + 1), order);
	route_path_start(p, t->servers[a]);
	return route_bcube_hop(t, p, i, c) && correct_digits(t, bc, p, c, b, order);
}

uint32_t route_bcube_path_set(const struct topo *t, uint32_t a, uint32_t b,
			      struct route_path *paths)
{
	struct bc bc;

	if (!bc_init(t, &bc) || a >= t->nservers || b >= t->nservers || a == b)
		return 0;
	for (uint32_t i = 0; i <= bc.k; i++) {
		bool ok = digit(&bc, a, i) != digit(&bc, b, i)
			  ? dc_routing(t, &bc, a, b, i, &paths[i])
			  : alt_dc_routing(t, &bc, a, b, i, &paths[i]);

		if (!ok)
			return 0;
	}
	return bc.k + 1;
}

/* Tree j's view of server x: relative digits c = x - root (mod n).  If
 * c_j = 0 (and x is not the root), x hangs off x - e_j on level j.  Else x
 * receives on the last level, in the order j, j+1, .., j+k, where c is
 * non-zero: the tree first walks the root's level-j switch as a chain
 * (c_j = 1, 2, .., n-1), then fans out level by level, each switch walked as
 * a chain.  Every hop is y -> y + e_l on level l, so a directed link is named
 * by its receiving end; over the k+1 trees each server receives once per
 * level (a cyclic shift on its non-zero levels, the identity on the others),
 * hence no directed link is used twice. */
static uint32_t tree_level(const struct bc *bc, uint32_t root, uint32_t x, uint32_t j)
{
	uint32_t k1 = bc->k + 1;

	if ((digit(bc, x, j) + bc->n - digit(bc, root, j)) % bc->n == 0)
		return j;
	for (uint32_t m = 1; m < k1; m++) {
		uint32_t l = (j + k1 - m) % k1;

		if (digit(bc, x, l) != digit(bc, root, l))
			return l;
	}
	return j;
}

int route_bcube_trees_build(const struct topo *t, uint32_t root,
			    struct route_bcube_trees *out)
{
	struct bc bc;
	uint32_t N = t->nservers;

	if (!bc_init(t, &bc) || root >= N)
		return -EINVAL;
	out->root = root;
	out->ntrees = bc.k + 1;
	out->nservers = N;
	out->parent = xmalloc(sizeof(*out->parent) * (size_t)out->ntrees * N);
	out->level = xmalloc(sizeof(*out->level) * (size_t)out->ntrees * N);
	for (uint32_t j = 0; j < out->ntrees; j++) {
		for (uint32_t x = 0; x < N; x++) {
			size_t at = (size_t)j * N + x;
			uint32_t l;

			if (x == root) {
				out->parent[at] = UINT32_MAX;
				out->level[at] = 0;
				continue;
			}
			l = tree_level(&bc, root, x, j);
			out->level[at] = (uint8_t)l;
			out->parent[at] = set_digit(&bc, x, l,
						    (digit(&bc, x, l) + bc.n - 1) % bc.n);
		}
	}
	return 0;
}

void route_bcube_trees_free(struct route_bcube_trees *tr)
{
	free(tr->parent);
	free(tr->level);
	tr->parent = NULL;
	tr->level = NULL;
}
