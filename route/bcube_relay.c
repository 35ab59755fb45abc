/* The relay plan of BCube's one-to-all transfer (route/bcube_relay.h). */
#include <assert.h>
#include <errno.h>

#include "route/bcube_relay.h"

int route_bcube_relay_plan(const struct route_bcube_trees *tr, uint32_t tree,
			   uint32_t server, struct route_bcube_relay *out)
{
	uint32_t N = tr->nservers;
	const uint32_t *par;
	const uint8_t *lev;

	if (tree >= tr->ntrees || server >= N)
		return -EINVAL;
	par = &tr->parent[(size_t)tree * N];
	lev = &tr->level[(size_t)tree * N];
	out->tree = tree;
	out->server = server;
	out->parent = par[server];
	out->level = server == tr->root ? 0 : lev[server];
	out->nchildren = 0;
	/* children by level: a child on level l is the one server whose parent
	 * is this one and which is reached on level l */
	for (uint32_t l = 0; l < tr->ntrees; l++) {
		for (uint32_t x = 0; x < N; x++) {
			if (x == tr->root || par[x] != server || lev[x] != l)
				continue;
			assert(out->nchildren < ROUTE_BCUBE_RELAY_MAX_CHILDREN);
			out->child[out->nchildren] = x;
			out->child_level[out->nchildren++] = (uint8_t)l;
		}
	}
	return 0;
}

void route_bcube_relay_part(uint64_t bytes, uint32_t nparts, uint32_t part,
			    uint64_t *offset, uint64_t *len)
{
	assert(nparts > 0 && part < nparts);
	/* bytes * part / nparts without overflow for bytes < 2^56 */
	uint64_t q = bytes / nparts, r = bytes % nparts;

	*offset = q * part + (part < r ? part : r);
	*len = q + (part < r ? 1 : 0);
}
