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

void vl2a_on_entry(struct vl2a *a, const struct dirp_entry *e, bool invalidate,
		   struct vl2a_out *out)
{
	uint32_t aa = htonl(e->ip);
	int i = find(a, e->vdc, aa);

	if (i >= 0)
		a->pending[i].asked_ns = 0;
	if (invalidate || e->status == DIRP_NOT_FOUND) {
		a->st.not_found += !invalidate;
		put(out, (struct vl2a_act){ .kind = VL2A_DEL, .vdc = e->vdc, .aa = aa });
		return;
	}
	if (e->status != DIRP_OK) {
		a->st.stale++;
		return;
	}
	a->st.answers++;
	put(out, (struct vl2a_act){ .kind = VL2A_SET, .vdc = e->vdc, .aa = aa,
				    .tor_la = htonl(e->server), .version = e->version });
}

void vl2a_on_timeout(struct vl2a *a, uint32_t vdc, uint32_t aa)
{
	int i = find(a, vdc, aa);

	if (i >= 0)
		a->pending[i].asked_ns = 0;
}
