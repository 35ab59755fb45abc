/* The NetLord agent's core (docs/netlord.md): which VLANs the flows to each
 * edge switch spread over, and how that changes when links fail.
 *
 * route/spain.c computes k paths for every pair of edge switches and packs
 * them into VLANs, each a tree; a pair's path inside a VLAN is the only way
 * between the two switches in that tree.  The plan keeps, for the NLA's
 * own edge switch and every other edge switch, the VLANs of the pair's
 * paths.  A link going down takes out exactly the VLANs whose path for the
 * pair crosses it (a VLAN whose tree breaks elsewhere still joins the pair),
 * and the NLA re-selects among those left: the data plane's nl_paths entry
 * for that edge switch is rewritten, so the flows on the dead VLAN move to
 * the others and no other flow moves.  No I/O: cmd/ reads the link changes
 * and writes the map. */
#ifndef PEREGRINE_AGENT_NETLORD_H
#define PEREGRINE_AGENT_NETLORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/netlord.h"
#include "route/spain.h"

struct nla_dest {
	uint32_t n;			/* the pair's paths (at most NL_K_MAX) */
	uint16_t vid[NL_K_MAX];		/* their VLANs (802.1Q id: index + 1) */
	uint32_t path[NL_K_MAX];	/* their index in route_spain.paths */
};

struct nla_plan {
	const struct topo *t;
	const struct route_spain *s;
	uint32_t self;			/* our edge switch: index in s->ends */
	struct nla_dest *dest;		/* per edge switch index */
	uint8_t *down;			/* per link: 1 while down */
	uint64_t reselections;		/* edge switches whose choice changed */
};

/* The plan for the NLA of a server under edge switch self_node.  Returns 0,
 * or -EINVAL with a one-line reason (not an edge switch of s; k above
 * NL_K_MAX). */
int nla_plan_build(struct nla_plan *p, const struct topo *t, const struct route_spain *s,
		   uint32_t self_node, char *err, size_t errlen);
void nla_plan_free(struct nla_plan *p);

/* The VLANs to spread flows to edge switch `end` (index in s->ends) over,
 * with every link up on their paths: written into c (c->n 0: none left, the
 * destination is cut off).  To our own edge switch: the first VLAN that
 * touches it (1 if none), as its downlinks are in every VLAN. */
void nla_plan_choice(const struct nla_plan *p, uint32_t end, struct nl_vlan_choice *c);

/* Link `link` went down or came back.  Writes the indices of the edge
 * switches whose choice changed into changed[] (at most max); returns how
 * many changed. */
uint32_t nla_plan_link(struct nla_plan *p, uint32_t link, bool up, uint32_t *changed,
		       uint32_t max);

#endif
