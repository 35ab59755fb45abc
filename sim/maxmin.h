/* Max-min fair sharing of link capacities among flows on fixed paths, by
 * progressive filling (water-filling): every unfrozen flow's rate rises at
 * the same pace; when a link fills up, the flows crossing it freeze at that
 * level; repeat until every flow is frozen.  The result is the unique
 * max-min fair allocation: no flow can gain without a flow of equal or
 * smaller rate losing.
 *
 * A flow is a list of resources (the simulator uses directed links).  The
 * solver keeps each link's saturation level in an indexed heap and, when a
 * link fills, updates only the links its flows cross, so a solve costs
 * O(I log R) for I flow-link incidences over R resources. */
#ifndef PEREGRINE_SIM_MAXMIN_H
#define PEREGRINE_SIM_MAXMIN_H

#include "lib/common.h"

enum maxmin_limits {
	MAXMIN_MAX_FLOWS = UINT32_MAX - 1,
	MAXMIN_MAX_INCIDENCES = UINT32_MAX - 1,	/* offsets are 32-bit */
};

struct maxmin {
	uint32_t nres;
	double *cap;		/* per resource, > 0 */
	uint32_t nflows, cap_flows;
	uint32_t *off;		/* flow f crosses res[off[f] .. off[f + 1]) */
	uint64_t ninc, cap_inc;
	uint32_t *res;
};

/* An empty problem over nres resources with the given capacities. */
void maxmin_init(struct maxmin *m, uint32_t nres, const double *cap);
/* Make room ahead of time (optional; adding grows as needed). */
void maxmin_reserve(struct maxmin *m, uint64_t flows, uint64_t incidences);
/* Add a flow over n >= 1 resources (one listed twice is used twice);
 * returns its index, or -1 if a limit would be passed. */
int64_t maxmin_add_flow(struct maxmin *m, const uint32_t *res, uint32_t n);
void maxmin_clear(struct maxmin *m);	/* drop the flows, keep capacities */
void maxmin_free(struct maxmin *m);

struct maxmin_stats {
	uint32_t levels;	/* links that filled (bottleneck events) */
	uint64_t bytes;		/* scratch memory the solve used */
};

/* Solve: rate[f] for every flow, in the capacities' unit.  rate may come
 * from maxmin_rates(), which backs large arrays with huge pages. */
double *maxmin_rates(const struct maxmin *m);	/* free() it */
void maxmin_solve(const struct maxmin *m, double *rate, struct maxmin_stats *st);

#endif
