/* The VL2 agent's core (agent/vl2.h). */
#include "agent/vl2.h"

#include <arpa/inet.h>
#include <string.h>

void vl2a_init(struct vl2a *a)
{
	memset(a, 0, sizeof(*a));
}

static int find(const struct vl2a *a, uint32_t vdc, uint32_t aa)
{
	for (int i = 0; i < VL2A_PENDING; i++)
		if (a->pending[i].aa == aa && a->pending[i].vdc == vdc && a->pending[i].asked_ns)
			return i;
	return -1;
}

static void put(struct vl2a_out *out, struct vl2a_act act)
{
	if (out->n < VL2A_OUT)
		out->a[out->n++] = act;
}

void vl2a_on_miss(struct vl2a *a, uint64_t now_ns, uint32_t vdc, uint32_t aa,
		  struct vl2a_out *out)
{
	int i = find(a, vdc, aa), free_slot = -1;

	a->st.misses++;
	if (i >= 0 && now_ns - a->pending[i].asked_ns < (uint64_t)VL2A_RETRY_MS * 1000000) {
		a->st.suppressed++;	/* asked already: a burst of the same miss */
		return;
	}
	if (i < 0) {
		for (int k = 0; k < VL2A_PENDING && free_slot < 0; k++)
			if (!a->pending[k].asked_ns ||
			    now_ns - a->pending[k].asked_ns >= 10ull * VL2A_RETRY_MS * 1000000)
				free_slot = k;
		if (free_slot < 0) {
			a->st.busy++;
			return;
		}
		i = free_slot;
	}
	a->pending[i].vdc = vdc;
	a->pending[i].aa = aa;
	a->pending[i].asked_ns = now_ns ? now_ns : 1;
	a->st.lookups++;
	put(out, (struct vl2a_act){ .kind = VL2A_LOOKUP, .vdc = vdc, .aa = aa });
}

/* Hold (vdc, aa) until renew_ns (0: let it go). */
static void hold(struct vl2a *a, uint32_t vdc, uint32_t aa, uint64_t renew_ns)
{
	int slot = -1;

	for (int i = 0; i < VL2A_HELD; i++) {
		if (a->held[i].renew_ns && a->held[i].vdc == vdc && a->held[i].aa == aa) {
			slot = i;
			break;
		}
		if (slot < 0 && !a->held[i].renew_ns)
			slot = i;
	}
	if (slot < 0) {
		a->st.unheld += renew_ns != 0;
		return;
	}
	a->held[slot].vdc = vdc;
	a->held[slot].aa = aa;
	a->held[slot].renew_ns = renew_ns;
}

void vl2a_on_entry(struct vl2a *a, uint64_t now_ns, const struct dirp_entry *e,
		   bool invalidate, struct vl2a_out *out)
{
	uint32_t aa = htonl(e->ip);
	int i = find(a, e->vdc, aa);

	if (i >= 0)
		a->pending[i].asked_ns = 0;
	if (invalidate || e->status == DIRP_NOT_FOUND) {
		a->st.not_found += !invalidate;
		hold(a, e->vdc, aa, 0);
		put(out, (struct vl2a_act){ .kind = VL2A_DEL, .vdc = e->vdc, .aa = aa });
		return;
	}
	if (e->status != DIRP_OK) {
		a->st.stale++;
		return;
	}
	a->st.answers++;
	/* a push carries no lease: the one held goes on */
	if (e->lease_ms)
		hold(a, e->vdc, aa, (now_ns ? now_ns : 1) +
		     (uint64_t)e->lease_ms * VL2A_RENEW_PCT / 100 * 1000000);
	put(out, (struct vl2a_act){ .kind = VL2A_SET, .vdc = e->vdc, .aa = aa,
				    .tor_la = htonl(e->server), .version = e->version });
}

void vl2a_on_timeout(struct vl2a *a, uint32_t vdc, uint32_t aa)
{
	int i = find(a, vdc, aa);

	if (i >= 0)
		a->pending[i].asked_ns = 0;
}

uint64_t vl2a_tick(struct vl2a *a, uint64_t now_ns, struct vl2a_out *out)
{
	uint64_t next = UINT64_MAX;

	for (int i = 0; i < VL2A_HELD; i++) {
		uint64_t due = a->held[i].renew_ns;

		if (!due)
			continue;
		if (due <= now_ns && out->n < VL2A_OUT) {
			a->st.renewals++;
			/* asked again a retry later if the answer never comes */
			a->held[i].renew_ns = now_ns + (uint64_t)VL2A_RETRY_MS * 1000000;
			put(out, (struct vl2a_act){ .kind = VL2A_LOOKUP, .vdc = a->held[i].vdc,
						    .aa = a->held[i].aa });
			due = a->held[i].renew_ns;
		}
		if (due < next)
			next = due;
	}
	return next;
}
