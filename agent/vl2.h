/* The VL2 agent's core (docs/vl2.md): which (tenant, AA) to resolve, and
 * what the directory's answers and pushes mean for the cache the
 * encapsulation reads.  No I/O: events in, actions out (struct vl2a_out);
 * cmd/agent_vl2.c does the directory requests and the map updates. */
#ifndef PEREGRINE_AGENT_VL2_H
#define PEREGRINE_AGENT_VL2_H

#include <stdbool.h>
#include <stdint.h>

#include "wire/dirproto.h"

enum vl2a_limits {
	VL2A_PENDING = 256,		/* lookups in flight */
	VL2A_RETRY_MS = 200,		/* the same miss is asked again after this */
	VL2A_OUT = 64,			/* actions per event */
	VL2A_HELD = 4096,		/* cached entries whose leases are renewed */
	VL2A_RENEW_PCT = 80,		/* renew when this much of a lease has passed */
};

enum vl2a_act_kind {
	VL2A_LOOKUP,		/* ask the directory for (vdc, aa) */
	VL2A_SET,		/* cache (vdc, aa) -> tor_la */
	VL2A_DEL,		/* forget (vdc, aa) */
};

struct vl2a_act {
	enum vl2a_act_kind kind;
	uint32_t vdc, aa;	/* aa: network order, as the data plane keys it */
	uint32_t tor_la;	/* network order */
	uint32_t version;
};

struct vl2a_out {
	unsigned n;
	struct vl2a_act a[VL2A_OUT];
};

struct vl2a_stats {
	uint64_t misses, lookups, suppressed, busy, answers, not_found, pushes, stale;
	uint64_t renewals, unheld;	/* unheld: the held table was full */
};

struct vl2a {
	struct {
		uint32_t vdc, aa;
		uint64_t asked_ns;
	} pending[VL2A_PENDING];
	/* what the cache holds, and when to ask again: a renewed lease keeps
	 * the directory's pushes coming (a migration's AA -> LA update), and
	 * the answer corrects an entry whose push was missed */
	struct {
		uint32_t vdc, aa;
		uint64_t renew_ns;	/* 0: free */
	} held[VL2A_HELD];
	struct vl2a_stats st;
};

void vl2a_init(struct vl2a *a);
/* The data plane missed (vdc, aa) (an event from vl2_events). */
void vl2a_on_miss(struct vl2a *a, uint64_t now_ns, uint32_t vdc, uint32_t aa,
		  struct vl2a_out *out);
/* The directory answered a lookup, or pushed an entry (UPDATE: push true,
 * INVALIDATE: invalidate true).  In a VL2 entry, `server` is the LA of the
 * ToR above the AA (host order). */
void vl2a_on_entry(struct vl2a *a, uint64_t now_ns, const struct dirp_entry *e,
		   bool invalidate, struct vl2a_out *out);
/* Renew due leases; returns the next deadline (ns), UINT64_MAX if none.
 * Scans every held entry: call it about once a second. */
uint64_t vl2a_tick(struct vl2a *a, uint64_t now_ns, struct vl2a_out *out);
/* A lookup that the directory never answered. */
void vl2a_on_timeout(struct vl2a *a, uint32_t vdc, uint32_t aa);

#endif
