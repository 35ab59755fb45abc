/* Forwarding schemes: the designs Peregrine runs on the same machinery.
 *
 * One table (wire/scheme.c) names them; everything that depends on the
 * scheme (the lab's bring-up, the daemons, the demo, `peregrine trace`)
 * switches on `enum pgr_scheme` and keeps its per-scheme parts in a table
 * indexed by it, so that adding a scheme is: one line here and in
 * wire/scheme.c, then one entry in each of those tables (docs/lab.md,
 * "Schemes").
 */
#ifndef PEREGRINE_WIRE_SCHEME_H
#define PEREGRINE_WIRE_SCHEME_H

#include <stdbool.h>
#include <stddef.h>

enum pgr_scheme {
	PGR_SCHEME_PEREGRINE = 0,	/* the default: MAC rewriting, two trees */
	PGR_SCHEME_VL2,			/* IP-in-IP to a random intermediate, OSPF+ECMP */
	PGR_SCHEME_BCUBE,		/* server-centric source routing through servers */
	PGR_SCHEME_EVPN,		/* the baseline: VXLAN, BGP EVPN, eBGP+BFD underlay */
	PGR_SCHEME_NETLORD,		/* NLA encapsulation to edge switches, SPAIN VLANs */
	PGR_SCHEME_COUNT,
};

/* "peregrine", "vl2", ... (never NULL for a valid scheme). */
const char *pgr_scheme_name(enum pgr_scheme s);
/* Name to scheme; false if unknown. */
bool pgr_scheme_parse(const char *name, enum pgr_scheme *out);
/* "peregrine, vl2": the valid names, for error messages. */
void pgr_scheme_list(char *buf, size_t len);

#endif
