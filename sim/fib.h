/* The forwarding-table model: how many entries each scheme puts on each
 * switch (docs/experiments.md, "sim fib", has the model and its sources).
 *
 * Every switch's count is kept as four coefficients so that the same numbers
 * answer three questions: the count at V VMs per server, the largest V this
 * topology takes, and how far a data center of this shape can grow:
 *
 *   entries(V) = remote + local + V * (remote_vm + local_vm)
 *
 * "remote" entries are for things elsewhere in the data center (other
 * servers, their VMs, other edge switches): they grow in proportion to the
 * number of servers when the fabric grows by adding edge switches of the same
 * shape.  "local" entries are for the switch's own attached servers and VMs,
 * or are constant; they do not.  `local` may be negative (a correction such
 * as "every edge switch's MAC but its own").
 */
#ifndef PEREGRINE_SIM_FIB_H
#define PEREGRINE_SIM_FIB_H

#include "sim/limits.h"
#include "sim/net.h"
#include "sim/scheme.h"

struct sim_fib_params {
	enum sim_scheme scheme;
	uint32_t vms_per_server;
	uint32_t fib_cap;	/* 0: each switch's own capacity from the topology */
	uint32_t vlans;		/* spain, netlord: 0 = one per top-tier switch */
	uint32_t heavy;		/* peregrine-dual: heavy pairs per server */
	uint64_t seed;		/* peregrine-dual: which pairs are heavy */
};

struct sim_fib_coef {
	int64_t remote, remote_vm, local, local_vm;
};

struct sim_fib_role {
	uint32_t switches;
	uint64_t max;
	double mean;
};

struct sim_fib_result {
	uint32_t nswitches;
	struct sim_fib_coef *coef;	/* switch index -> coefficients */
	uint64_t *entries;		/* switch index -> entries at V */
	uint64_t fib_max, fib_total;
	double fib_mean;
	uint32_t argmax;		/* switch index of a fullest switch */
	uint32_t overflowing;		/* switches over their capacity */
	bool fits;
	uint64_t vms;			/* servers * V */
	/* Growing the data center at this V (see above); UINT64_MAX when no
	 * switch's table grows with it. */
	uint64_t max_servers, max_vms;
	/* The largest V on this topology; -1 if it does not fit even with no
	 * VMs, INT64_MAX when no table grows with V. */
	int64_t max_vms_per_server;
	uint32_t vlans;			/* spain, netlord */
	uint64_t direct_entries;	/* peregrine-dual: total over switches */
	struct sim_fib_role roles[ROLE_COUNT];
};

/* Check that the scheme can run on the topology (bcube needs a BCube, the
 * others a switch-centric fabric).  0 or -EINVAL with a reason. */
int sim_scheme_fits_topo(enum sim_scheme s, const struct topo *t, char *err, size_t errlen);

/* Compute every switch's entries.  0, or -EINVAL with a one-line reason. */
int sim_fib_model(const struct sim_net *n, const struct sim_fib_params *p,
		  struct sim_fib_result *r, char *err, size_t errlen);
void sim_fib_result_free(struct sim_fib_result *r);

/* Entries of one switch at V VMs per server. */
static inline int64_t sim_fib_at(const struct sim_fib_coef *c, uint64_t v)
{
	return c->remote + c->local + (int64_t)v * (c->remote_vm + c->local_vm);
}

#endif
