/* `peregrine sim chaos --fail spine|link`: the same world as a chaos run
 * (the real directory, RAS, switchd and agent cores), without faults or
 * invariant checks, at data-center scale: every VM looks up a few peers in
 * its VDC, then one spine or one leaf-spine link fails, and the run
 * measures how long each affected agent takes to switch trees
 * (docs/chaos.md, "Scale").
 *
 * An agent is affected when, at the failure, it holds a GARP entry sent on
 * a tree whose MAC the RAS then withdraws.  The entry has switched once the
 * agent's map selects the other tree (from_vm: the primary while its bit is
 * set, else the backup), or, if that comes later or never, once the RAS
 * gives the tree back (it works again); the agent's switch time is the
 * latest over its entries, counted from the failure.  The RAS's changes are seen where the
 * harness records them (ras_deliver in chaos.c), the map writes where the
 * agent makes them (chaos_host.c op_garp_set). */
#include "sim/chaos_int.h"

#include <stdlib.h>
#include <string.h>

#include "wire/pgr.h"

enum {
	SCALE_WARM_MS = 1000,	/* first look: has the RAS programmed the fabric? */
	SCALE_POLL_MS = 100,	/* if not, look again this much later */
	SCALE_SETUP_MS = 120000,	/* give up waiting after this */
	SCALE_FAIL_MS = 500,	/* after the lookups: the failure (later if the
				 * directory is still sending their replies) */
};

struct chaos_scale {
	uint64_t fail_at;		/* 0: not yet */
	uint64_t *down_at;		/* per server MAC (s * 2 + tree): the RAS's
					 * first withdrawal after the failure, 0: none */
	uint64_t *up_at;		/* its return after that, 0: none */
	uint64_t msgs0, pushes0, pdg0;
	uint64_t last_change;
	uint64_t *netlink_ns;		/* per node: switchd's netlink time since */
};

void chaos_scale_init(struct chaos *c)
{
	c->sc = xcalloc(1, sizeof(*c->sc));
	c->sc->down_at = xcalloc(2 * (size_t)c->t->nservers, sizeof(uint64_t));
	c->sc->up_at = xcalloc(2 * (size_t)c->t->nservers, sizeof(uint64_t));
	c->sc->netlink_ns = xcalloc(c->t->nnodes, sizeof(uint64_t));
}

void chaos_scale_free(struct chaos *c)
{
	if (!c->sc)
		return;
	free(c->sc->down_at);
	free(c->sc->up_at);
	free(c->sc->netlink_ns);
	free(c->sc);
	c->sc = NULL;
}

void chaos_scale_start(struct chaos *c)
{
	sim_event_at(&c->q, SCALE_WARM_MS * CHAOS_MS, CEV_SCALE_WARM, 0, 0, 0);
}

/* ---- warm-up: every VM resolves `peers` VMs of its own VDC ----------------------------- */

/* Once the RAS has programmed every switch: the lookups, then the failure. */
static void warm(struct chaos *c)
{
	uint32_t peers = c->o->peers ? c->o->peers : CHAOS_SCALE_PEERS;
	uint32_t per_vdc = c->nvms / c->vdcs;

	if (!ras_stats(c->ras)->converged && c->q.now < SCALE_SETUP_MS * CHAOS_MS) {
		sim_event_after(&c->q, SCALE_POLL_MS * CHAOS_MS, CEV_SCALE_WARM, 0, 0, 0);
		return;
	}
	sim_event_after(&c->q, SCALE_FAIL_MS * CHAOS_MS, CEV_SCALE_FAIL, 0, 0, 0);
	if (per_vdc < 2)
		return;
	for (uint32_t v = 0; v < c->nvms; v++) {
		for (uint32_t k = 0; k < peers; k++) {
			/* VMs v' with v' % vdcs == v % vdcs share v's VDC */
			uint32_t d = (uint32_t)rng_below(&c->q.rng, per_vdc) * c->vdcs + v % c->vdcs;

			if (d != v && d < c->nvms)
				chaos_host_miss(c, v, c->vm_vdc[v], c->vm_ip[d]);
		}
		/* each agent batches its VMs' misses, as between two flushes */
		if (v + 1 == c->nvms || c->vm_at[v + 1] != c->vm_at[v])
			chaos_host_flush(c, c->vm_at[v]);
	}
	chaos_trace(c, "scale: the RAS %s converged; %u VMs look up %u peers each",
		    ras_stats(c->ras)->converged ? "has" : "has NOT", c->nvms, peers);
}

/* ---- the failure ----------------------------------------------------------------------- */

static bool is_spine(const struct chaos *c, uint32_t n)
{
	if (topo_is_server(c->t, n))
		return false;
	for (uint16_t p = 0; p < c->t->nodes[n].degree; p++)
		if (topo_is_server(c->t, topo_port(c->t, n, p)->peer))
			return false;
	return true;
}

/* A spine (a switch with no server), or a link between two switches. */
static uint32_t pick(struct chaos *c, bool spine)
{
	uint32_t n = spine ? c->t->nswitches : c->t->nlinks, start = rng_below(&c->q.rng, n);

	for (uint32_t i = 0; i < n; i++) {
		uint32_t x = (start + i) % n;

		if (spine && is_spine(c, c->t->switches[x]))
			return c->t->switches[x];
		if (!spine && !topo_is_server(c->t, c->t->links[x].a) &&
		    !topo_is_server(c->t, c->t->links[x].b))
			return x;
	}
	return UINT32_MAX;
}

static uint64_t dir_stat(const struct chaos *c, int which)
{
	uint64_t st[DIR_STAT_COUNT];

	if (!c->dir)
		return 0;
	dir_get_stats(c->dir, st);
	return st[which];
}

static void snapshot(struct chaos *c);

static void fail(struct chaos *c)
{
	struct chaos_scale_result *r = &c->res->scale;
	bool spine = c->o->fail == CHAOS_FAIL_SPINE;
	uint32_t x;

	if (c->dir_busy > c->q.now) {	/* the lookups' replies are still going out */
		sim_event_at(&c->q, c->dir_busy + CHAOS_MS, CEV_SCALE_FAIL, 0, 0, 0);
		return;
	}
	sim_event_after(&c->q, CHAOS_SCALE_WINDOW_MS * CHAOS_MS, CEV_SCALE_END, 0, 0, 0);
	x = pick(c, spine);
	if (x == UINT32_MAX) {
		chaos_trace(c, "scale: no %s to fail", spine ? "spine" : "leaf-spine link");
		return;
	}
	snapshot(c);
	r->vms = c->nvms;
	c->sc->fail_at = c->q.now;
	c->sc->msgs0 = c->res->messages;
	c->sc->pushes0 = dir_stat(c, DIR_STAT_pushes);
	c->sc->pdg0 = dir_stat(c, DIR_STAT_push_datagrams);
	r->failed = x;
	r->setup_ns = c->q.now;
	if (spine) {
		chaos_trace(c, "scale: spine %s fails", c->t->nodes[x].name);
		chaos_switch_set(c, x, false);
	} else {
		chaos_trace(c, "scale: link %u (%s - %s) fails", x,
			    c->t->nodes[c->t->links[x].a].name, c->t->nodes[c->t->links[x].b].name);
		chaos_link_set(c, x, false);
	}
}

void chaos_scale_avail(struct chaos *c, uint32_t s, unsigned tree, bool avail, uint64_t at)
{
	struct chaos_scale *sc = c->sc;
	size_t k = (size_t)s * 2 + tree;

	if (!sc || !sc->fail_at)
		return;
	if (!sc->down_at[k] && !avail) {
		sc->down_at[k] = at;
		sc->last_change = at;
		c->res->scale.macs_changed++;
	} else if (sc->down_at[k] && !sc->up_at[k] && avail) {
		sc->up_at[k] = at;
	}
}

void chaos_scale_charged(struct chaos *c, int kind, uint64_t ns)
{
	if (!c->sc->fail_at)
		return;
	if (kind == CHAOS_COST_RAS)
		c->res->scale.ras_cpu_ns += ns;
	else
		c->res->scale.dir_send_ns += ns;
}

void chaos_scale_netlink(struct chaos *c, uint32_t node, uint32_t entries, uint64_t ns)
{
	struct chaos_scale_result *r = &c->res->scale;

	if (!c->sc->fail_at)
		return;
	r->netlink_entries += entries;
	c->sc->netlink_ns[node] += ns;
	r->netlink_ns_max = MAX(r->netlink_ns_max, c->sc->netlink_ns[node]);
}

/* The owner server index of a GARP entry's intermediary MACs, or UINT32_MAX. */
static uint32_t entry_owner(const struct chaos *c, const struct pgr_garp_entry *g)
{
	uint32_t node;

	if ((g->flags & PGR_GARP_LOCAL) || !pgr_mac_valid(g->im_mac[0]))
		return UINT32_MAX;
	node = pgr_id_node(pgr_mac_id(g->im_mac[0]));
	return node >= 1 && node <= c->t->nservers ? node - 1 : UINT32_MAX;
}

/* The tree the data plane sends an entry on (from_vm: the primary while
 * its bit is set, else the backup), or -1. */
static int entry_tree(const struct pgr_garp_entry *g)
{
	if (g->avail & PGR_AVAIL_IM_PRI)
		return 0;
	return g->avail & PGR_AVAIL_IM_BAK ? 1 : -1;
}

/* At the failure: the tree each entry is sent on (h->gsw[3i + 1] = tree + 1;
 * 0: none), no switch yet (h->gsw[3i] = 0) and no withdrawal heard yet
 * (h->gsw[3i + 2] = 0). */
static void snapshot(struct chaos *c)
{
	uint64_t n = 0;

	for (uint32_t s = 0; s < c->t->nservers; s++) {
		struct chaos_host *h = &c->host[s];

		for (uint32_t i = 0; i < h->ngent; i++) {
			int tr = entry_tree(&h->gent[i]);

			h->gsw[3 * i] = h->gsw[3 * i + 2] = 0;
			h->gsw[3 * i + 1] = h->gkey[i] == UINT64_MAX ||
					    entry_owner(c, &h->gent[i]) == UINT32_MAX ? 0 :
					    (uint64_t)(tr + 1);
			n += h->gkey[i] != UINT64_MAX;
		}
	}
	c->res->scale.entries = n;
	for (uint32_t s = 0; s < c->t->nservers; s++)
		if (c->host[s].a) {
			const struct agent_stats *st = agent_get_stats(c->host[s].a);

			c->res->scale.lookups_failed += st->not_found + st->lookup_timeouts +
							st->miss_bad;
		}
}

/* Entry i was sent on tree T at the failure: it has switched once its map
 * entry selects another tree while T is withdrawn. */
void chaos_scale_garp(struct chaos *c, struct chaos_host *h, uint32_t i)
{
	struct chaos_scale *sc = c->sc;
	const struct pgr_garp_entry *g = &h->gent[i];
	uint32_t s;
	size_t k;
	int tr;

	if (!sc || !sc->fail_at || !h->gsw[3 * i + 1] || (s = entry_owner(c, g)) == UINT32_MAX)
		return;
	tr = (int)h->gsw[3 * i + 1] - 1;
	k = (size_t)s * 2 + (size_t)tr;
	if (!sc->down_at[k])
		return;
	/* the withdrawal reached the map through the directory */
	if (!h->gsw[3 * i + 2] && !(g->avail & (PGR_AVAIL_IM_PRI << tr)))
		h->gsw[3 * i + 2] = c->q.now;
	if (h->gsw[3 * i] || sc->up_at[k] || entry_tree(g) == tr)
		return;
	h->gsw[3 * i] = c->q.now;
	chaos_trace(c, "scale: %s leaves %s tree %d", c->t->nodes[h->node].name,
		    c->t->nodes[c->t->servers[s]].name, tr);
}

/* ---- the figures ------------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Host h's switch time + 1: 0 not affected, UINT64_MAX not switched.  An
 * entry whose tree came back before the agent left it counts from its
 * return (the tree works again); r->restored counts them. */
static uint64_t host_switch(struct chaos *c, const struct chaos_host *h)
{
	const struct chaos_scale *sc = c->sc;
	uint64_t worst = 0;

	for (uint32_t i = 0; i < h->ngent; i++) {
		uint32_t s;
		uint64_t at;
		size_t k;

		if (h->gkey[i] == UINT64_MAX || !h->gsw[3 * i + 1] ||
		    (s = entry_owner(c, &h->gent[i])) == UINT32_MAX)
			continue;
		k = (size_t)s * 2 + h->gsw[3 * i + 1] - 1;
		if (!sc->down_at[k])
			continue;
		at = h->gsw[3 * i];
		if (!at || (sc->up_at[k] && sc->up_at[k] < at)) {
			if (!sc->up_at[k])
				return UINT64_MAX;
			at = sc->up_at[k];
			c->res->scale.restored++;
		}
		worst = MAX(worst, at - sc->fail_at + 1);
	}
	return worst;
}

/* Host h's time until every affected entry's map showed the withdrawal
 * (the directory's push) + 1: 0 not affected, UINT64_MAX not every one. */
static uint64_t host_heard(const struct chaos *c, const struct chaos_host *h)
{
	const struct chaos_scale *sc = c->sc;
	uint64_t worst = 0;

	for (uint32_t i = 0; i < h->ngent; i++) {
		if (h->gkey[i] == UINT64_MAX || !h->gsw[3 * i + 1] ||
		    entry_owner(c, &h->gent[i]) == UINT32_MAX ||
		    !sc->down_at[(size_t)entry_owner(c, &h->gent[i]) * 2 + h->gsw[3 * i + 1] - 1])
			continue;
		if (!h->gsw[3 * i + 2])
			return UINT64_MAX;
		worst = MAX(worst, h->gsw[3 * i + 2] - sc->fail_at + 1);
	}
	return worst;
}

static void percentiles(uint64_t *t, uint32_t n, uint64_t *p50, uint64_t *p99, uint64_t *max)
{
	if (!n)
		return;
	qsort(t, n, sizeof(*t), cmp_u64);
	*p50 = t[(n - 1) / 2];
	*p99 = t[(uint64_t)(n - 1) * 99 / 100];
	*max = t[n - 1];
}

static void finish(struct chaos *c)
{
	struct chaos_scale_result *r = &c->res->scale;
	uint64_t *t = xcalloc(c->t->nservers + 1, sizeof(uint64_t));
	uint32_t n = 0;

	if (!c->sc->fail_at)
		goto out;
	for (uint32_t s = 0; s < c->t->nservers; s++) {
		uint64_t w = host_switch(c, &c->host[s]);

		if (!w)
			continue;
		r->agents_affected++;
		if (w != UINT64_MAX)
			t[n++] = w - 1;
	}
	r->agents_switched = n;
	percentiles(t, n, &r->switch_ns_p50, &r->switch_ns_p99, &r->switch_ns_max);
	n = 0;
	for (uint32_t s = 0; s < c->t->nservers; s++) {
		uint64_t w = host_heard(c, &c->host[s]);

		if (w && w != UINT64_MAX)
			t[n++] = w - 1;
	}
	r->agents_heard = n;
	percentiles(t, n, &r->heard_ns_p50, &r->heard_ns_p99, &r->heard_ns_max);
	for (uint32_t i = 0; i < c->t->nswitches; i++) {
		const struct chaos_switch *w = &c->sw[c->t->switches[i]];

		for (int d = 0; w->sw && d < SW_DROP_COUNT; d++)
			if (sw_stats(w->sw)->drops[d])
				chaos_trace(c, "scale: %s dropped %llu datagrams (reason %d)",
					    c->t->nodes[c->t->switches[i]].name,
					    (unsigned long long)sw_stats(w->sw)->drops[d], d);
	}
	r->messages = c->res->messages - c->sc->msgs0;
	r->pushes = dir_stat(c, DIR_STAT_pushes) - c->sc->pushes0;
	r->push_datagrams = dir_stat(c, DIR_STAT_push_datagrams) - c->sc->pdg0;
	r->ras_ns = c->sc->last_change ? c->sc->last_change - c->sc->fail_at : 0;
	chaos_trace(c, "scale: %llu of %llu affected agents switched",
		    (unsigned long long)r->agents_switched, (unsigned long long)r->agents_affected);
out:
	free(t);
	c->stop = true;
}

void chaos_scale_step(struct chaos *c, const struct sim_event *ev)
{
	switch (ev->type) {
	case CEV_SCALE_WARM:
		warm(c);
		break;
	case CEV_SCALE_FAIL:
		fail(c);
		break;
	case CEV_SCALE_END:
		finish(c);
		break;
	}
}
