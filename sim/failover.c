/* Failure to recovery (sim/failover.h).  Two models on one event core:
 * Peregrine's witness -> RAS -> directory -> agents chain, and spanning-tree
 * reconvergence for plain Ethernet. */
#include "sim/failover.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/rng.h"
#include "sim/event.h"
#include "topo/analyze.h"

#define US 1000ull
#define SEC 1000000000ull

void sim_fo_defaults(struct sim_fo_params *p, enum sim_scheme s)
{
	*p = (struct sim_fo_params){
		.scheme = s, .fail = SIM_FAIL_LINK, .seed = 1,
		.vms_per_server = SIM_FO_DEFAULT_VMS, .peers = SIM_FO_DEFAULT_PEERS,
		.directories = 1, .traps = SIM_FO_DEFAULT_TRAPS, .jitter = 0.1,
		.detect_us = SIM_FO_DETECT_US, .hop_us = SIM_FO_HOP_US,
		.ras_us_per_route = SIM_FO_RAS_US_PER_ROUTE,
		.ds_us_per_entry = SIM_FO_DS_US_PER_ENTRY,
		.fanout_us_per_client = SIM_FO_FANOUT_US_PER_CLIENT_VL2,
		.agent_us = SIM_FO_AGENT_US, .retry_us = SIM_FO_RETRY_US,
		.recompute_us_per_tree = SIM_FO_RECOMPUTE_US_PER_TREE,
		.stp = SIM_STP_8021D, .hello_s = 2, .max_age_s = 20, .fwd_delay_s = 15,
		.bpdu_hop_us = SIM_FO_BPDU_HOP_US,
	};
}

static uint64_t ns(double us)
{
	return (uint64_t)(us * US + 0.5);
}

/* ---- what fails ------------------------------------------------------------- */

struct failure {
	uint8_t *dead;		/* link id -> failed */
	uint32_t sw;		/* the failed switch, or SIM_NONE */
	uint32_t link;		/* the failed link, or SIM_NONE */
};

static bool fabric_link(const struct topo *t, uint32_t l)
{
	return !topo_is_server(t, t->links[l].a) && !topo_is_server(t, t->links[l].b);
}

static int named_target(const struct topo *t, const struct sim_fo_params *p,
			struct failure *f, char *err, size_t errlen)
{
	char a[128];
	const char *dash = strchr(p->target, '-');
	uint32_t x, y;

	if (p->fail == SIM_FAIL_SWITCH) {
		x = topo_find(t, p->target);
		if (x == UINT32_MAX || topo_is_server(t, x)) {
			snprintf(err, errlen, "--target %s: no such switch", p->target);
			return -EINVAL;
		}
		f->sw = x;
		return 0;
	}
	/* Names may hold dashes themselves: try every split. */
	for (; dash; dash = strchr(dash + 1, '-')) {
		size_t len = (size_t)(dash - p->target);

		if (len >= sizeof(a))
			break;
		memcpy(a, p->target, len);
		a[len] = 0;
		x = topo_find(t, a);
		y = topo_find(t, dash + 1);
		if (x != UINT32_MAX && y != UINT32_MAX &&
		    (f->link = topo_link_between(t, x, y)) != SIM_NONE && fabric_link(t, f->link))
			return 0;
	}
	snprintf(err, errlen, "--target %s: not SWITCH-SWITCH naming two linked switches",
		 p->target);
	return -EINVAL;
}

/* A random fabric link for which in_use() holds, or a random switch without
 * servers (failing a single-homed server's switch only isolates it). */
static int random_target(const struct sim_net *n, const struct sim_fo_params *p,
			 const uint8_t *in_use, struct failure *f, char *err, size_t errlen)
{
	const struct topo *t = n->t;
	uint32_t *cand = xmalloc(MAX(t->nlinks, t->nswitches) * sizeof(*cand)), nc = 0;
	struct rng r;

	rng_seed(&r, p->seed ^ 0xfa11);
	if (p->fail == SIM_FAIL_LINK) {
		for (uint32_t l = 0; l < t->nlinks; l++)
			if (fabric_link(t, l) && (!in_use || in_use[l]))
				cand[nc++] = l;
	} else {
		for (uint32_t i = 0; i < t->nswitches; i++)
			if (!n->attached[t->switches[i]])
				cand[nc++] = t->switches[i];
	}
	if (!nc) {
		free(cand);
		snprintf(err, errlen, "the topology has no %s to fail",
			 p->fail == SIM_FAIL_LINK ? "link between switches" : "switch without servers");
		return -EINVAL;
	}
	if (p->fail == SIM_FAIL_LINK)
		f->link = cand[rng_below(&r, nc)];
	else
		f->sw = cand[rng_below(&r, nc)];
	free(cand);
	return 0;
}

static int choose(const struct sim_net *n, const struct sim_fo_params *p,
		  const uint8_t *in_use, struct failure *f, struct sim_fo_result *r,
		  char *err, size_t errlen)
{
	const struct topo *t = n->t;
	int ret;

	f->sw = f->link = SIM_NONE;
	ret = p->target ? named_target(t, p, f, err, errlen)
			: random_target(n, p, in_use, f, err, errlen);
	if (ret)
		return ret;
	f->dead = xcalloc(t->nlinks, 1);
	if (f->link != SIM_NONE) {
		f->dead[f->link] = 1;
		snprintf(r->failed, sizeof(r->failed), "link %s-%s",
			 t->nodes[t->links[f->link].a].name, t->nodes[t->links[f->link].b].name);
	} else {
		for (uint32_t q = 0; q < t->nodes[f->sw].degree; q++)
			f->dead[topo_port(t, f->sw, q)->link] = 1;
		snprintf(r->failed, sizeof(r->failed), "switch %s", t->nodes[f->sw].name);
	}
	return 0;
}

/* Witnesses: the switches at the ends of the dead links. */
static uint32_t witnesses(const struct topo *t, const struct failure *f, uint32_t *w)
{
	uint32_t nw = 0;

	for (uint32_t l = 0; l < t->nlinks; l++) {
		uint32_t ends[2] = { t->links[l].a, t->links[l].b };

		if (!f->dead[l])
			continue;
		for (int e = 0; e < 2; e++)
			if (ends[e] != f->sw && !topo_is_server(t, ends[e]))
				w[nw++] = ends[e];
	}
	return nw;
}

/* Tree links that carry traffic: from v to hop[v] where carries[v]. */
static bool tree_link_used(const struct topo *t, const uint32_t *hop, const uint8_t *carries,
			   uint32_t l)
{
	uint32_t a = t->links[l].a, b = t->links[l].b;

	return (hop[a] == b && carries[a]) || (hop[b] == a && carries[b]);
}

static bool tree_uses_dead(const struct topo *t, const uint32_t *hop, const uint8_t *carries,
			   const uint8_t *dead)
{
	for (uint32_t l = 0; l < t->nlinks; l++)
		if (dead[l] && tree_link_used(t, hop, carries, l))
			return true;
	return false;
}

/* ---- statistics over per-client times ------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void times_summary(uint64_t *v, uint32_t n, struct sim_fo_result *r)
{
	double sum = 0;

	if (!n)
		return;
	qsort(v, n, sizeof(*v), cmp_u64);
	for (uint32_t i = 0; i < n; i++)
		sum += (double)v[i];
	r->mean_ns = sum / n;
	r->p50_ns = v[(n - 1) / 2];
	r->p99_ns = v[(uint32_t)((n - 1) * 0.99)];
	r->recovery_ns = v[n - 1];
}

/* ---- Peregrine ---------------------------------------------------------------- */

enum pg_event { PG_DETECT, PG_TRAP, PG_RAS_SEND, PG_DS, PG_SEND, PG_AGENT };

struct pg {
	const struct sim_net *n;
	const struct sim_fo_params *p;
	struct sim_fo_result *r;
	struct sim_events q;
	uint8_t *affected;	/* server index -> primary tree broken */
	/* SIM_SCOPE_SOURCES: per broken tree (edge switch node id -> slot + 1
	 * in cut_slot), the edge switches whose path to it is cut, as a
	 * bitmap over switch indexes. */
	uint32_t *cut_slot;
	uint64_t *cut;
	uint32_t cut_words, ncut;
	uint32_t failed_sw;
	uint64_t scoped_entries;	/* (agent, cached entry) pairs told */
	uint32_t *clients;	/* server indexes of the agents to notify */
	uint64_t *done_at;	/* per client: switched to backup, 0 = not yet */
	bool ras_busy, ds_busy;
};

/* The edge switches whose path up the tree towards e crosses a dead link
 * (parents come before children in BFS order, so one pass does it). */
static void record_cut(struct pg *g, uint32_t e, const uint32_t *hop, const uint32_t *queue,
		       uint32_t reached, const uint8_t *dead)
{
	const struct topo *t = g->n->t;
	uint64_t *bits;

	if (!g->cut_slot) {
		g->cut_slot = xcalloc(t->nnodes, sizeof(*g->cut_slot));
		g->cut_words = (t->nswitches + 63) / 64;
	}
	g->cut = xreallocarray(g->cut, (size_t)(g->ncut + 1) * g->cut_words, sizeof(uint64_t));
	bits = g->cut + (size_t)g->ncut * g->cut_words;
	memset(bits, 0, g->cut_words * sizeof(uint64_t));
	g->cut_slot[e] = ++g->ncut;
	for (uint32_t q = 1; q < reached; q++) {
		uint32_t v = queue[q], u = hop[v], l;

		if (topo_is_server(t, v))
			continue;
		l = topo_port(t, v, 0)->link;
		for (uint32_t k = 0; k < t->nodes[v].degree; k++)
			if (topo_port(t, v, k)->peer == u)
				l = topo_port(t, v, k)->link;
		/* bits of a parent are final before its children are seen */
		if (dead[l] || (u != e && (bits[t->nodes[u].index / 64] >>
					   (t->nodes[u].index % 64) & 1)))
			bits[t->nodes[v].index / 64] |= 1ull << (t->nodes[v].index % 64);
	}
}

static bool is_cut(const struct pg *g, uint32_t e, uint32_t sw)
{
	const struct topo *t = g->n->t;
	uint32_t slot = g->cut_slot ? g->cut_slot[e] : 0;
	const uint64_t *bits;

	if (!slot)
		return false;
	bits = g->cut + (size_t)(slot - 1) * g->cut_words;
	return bits[t->nodes[sw].index / 64] >> (t->nodes[sw].index % 64) & 1;
}

/* Which servers' primary trees use a dead link.  The tree towards a server
 * is the tree towards its edge switch plus the last hop, so one tree per
 * edge switch answers for all its servers. */
static void find_affected(struct pg *g, const struct failure *f)
{
	const struct sim_net *n = g->n;
	const struct topo *t = n->t;
	uint32_t *hop = xmalloc(t->nnodes * sizeof(*hop));
	uint32_t *dist = xmalloc(t->nnodes * sizeof(*dist));
	uint32_t *queue = xmalloc(t->nnodes * sizeof(*queue));
	uint8_t *broken = xcalloc(t->nnodes, 1), *carries = xcalloc(t->nnodes, 1);

	for (uint32_t i = 0; i < t->nswitches; i++) {
		uint32_t e = t->switches[i], reached;

		if (!n->attached[e] || e == f->sw)
			continue;
		reached = sim_tree_toward(n, e, NULL, t->nodes[e].index, hop, dist, queue);
		sim_tree_carries(n, hop, queue, reached, carries);
		broken[e] = tree_uses_dead(t, hop, carries, f->dead);
		if (broken[e] && g->p->scope == SIM_SCOPE_SOURCES)
			record_cut(g, e, hop, queue, reached, f->dead);
	}
	for (uint32_t s = 0; s < t->nservers; s++) {
		uint32_t node = t->servers[s], e = n->edge_of[s];
		bool alive = false;

		for (uint32_t q = 0; q < t->nodes[node].degree; q++)
			alive |= !f->dead[topo_port(t, node, q)->link] &&
				 topo_port(t, node, q)->peer != f->sw;
		if (!alive) {
			g->r->isolated_servers++;
			continue;
		}
		if (e == f->sw || broken[e]) {
			g->affected[s] = 1;
			g->r->affected_servers++;
		}
	}
	free(hop);
	free(dist);
	free(queue);
	free(broken);
	free(carries);
}

/* The agents holding a lease on an affected entry: each server caches the
 * GARP entries of `peers` VMs it talks to, picked at random. */
static uint32_t find_clients(struct pg *g)
{
	const struct topo *t = g->n->t;
	uint32_t S = t->nservers, nc = 0;
	struct rng r;

	rng_seed(&r, g->p->seed ^ 0xc11e);
	g->clients = xmalloc(S * sizeof(*g->clients));
	for (uint32_t u = 0; u < S && S > 1; u++) {
		bool holds = false;

		for (uint32_t k = 0; k < g->p->peers; k++) {
			uint32_t d = rng_below(&r, S - 1);

			d += d >= u;
			if (!g->affected[d])
				continue;
			/* Scoped: only if u's own path to d is the one cut. */
			if (g->p->scope == SIM_SCOPE_TREE ||
			    is_cut(g, g->n->edge_of[d], g->n->edge_of[u]) ||
			    g->n->edge_of[d] == g->failed_sw) {
				holds = true;
				g->scoped_entries++;
			}
		}
		if (holds)
			g->clients[nc++] = u;
	}
	return nc;
}

static void pg_send(struct pg *g, uint32_t type, uint32_t a, double extra_us)
{
	g->r->messages++;
	if (sim_chance(&g->q, g->p->loss)) {
		g->r->lost++;
		/* The sender hears nothing and tries again. */
		sim_event_after(&g->q, ns(extra_us) + sim_jitter(&g->q, ns(g->p->retry_us), 0),
				type == PG_TRAP ? PG_DETECT : type == PG_DS ? PG_RAS_SEND : PG_SEND,
				a, 1, 0);
		return;
	}
	sim_event_after(&g->q, ns(extra_us) + sim_jitter(&g->q, ns(g->p->hop_us), g->p->jitter),
			type, a, 0, 0);
}

static void pg_directory(struct pg *g)
{
	const struct sim_fo_params *p = g->p;
	double mark_us = p->ds_us_per_entry * (double)g->r->affected_entries;

	g->r->directory_ns = g->q.now;
	/* The clients are shared out among the directory servers; each
	 * notifies its share one after another. */
	for (uint32_t i = 0; i < g->r->clients; i++) {
		uint32_t k = i / p->directories;

		sim_event_after(&g->q, ns(mark_us + (k + 1) * p->fanout_us_per_client),
				PG_SEND, i, 0, 0);
	}
}

static void pg_event(struct pg *g, const struct sim_event *ev)
{
	const struct sim_fo_params *p = g->p;

	switch (ev->type) {
	case PG_DETECT:
		for (uint32_t c = 0; c < p->traps; c++)
			pg_send(g, PG_TRAP, ev->a, 0);
		break;
	case PG_TRAP:
		if (g->ras_busy)
			break;
		g->ras_busy = true;
		g->r->ras_ns = g->q.now;
		g->r->redundancy_ns = g->q.now + ns(p->recompute_us_per_tree * g->r->affected_servers);
		/* The RAS walks its inverse map, then tells the directory. */
		pg_send(g, PG_DS, 0, p->ras_us_per_route * g->r->affected_servers);
		break;
	case PG_RAS_SEND:
		pg_send(g, PG_DS, 0, 0);
		break;
	case PG_DS:
		if (!g->ds_busy) {
			g->ds_busy = true;
			pg_directory(g);
		}
		break;
	case PG_SEND:
		pg_send(g, PG_AGENT, ev->a, 0);
		break;
	case PG_AGENT:
		if (!g->done_at[ev->a])
			g->done_at[ev->a] = g->q.now + ns(p->agent_us);
		break;
	}
}

static int run_peregrine(const struct sim_net *n, const struct sim_fo_params *p,
			 struct sim_fo_result *r, char *err, size_t errlen)
{
	const struct topo *t = n->t;
	struct pg g = { .n = n, .p = p, .r = r };
	struct failure f;
	struct sim_event ev;
	uint32_t *w, nw;
	int ret;

	if ((ret = choose(n, p, NULL, &f, r, err, errlen)))
		return ret;
	g.affected = xcalloc(t->nservers, 1);
	g.failed_sw = f.sw;
	find_affected(&g, &f);
	r->clients = find_clients(&g);
	/* The directory's marking work: every entry whose primary broke, or
	 * scoped, only the cached copies of the agents it tells. */
	r->affected_entries = p->scope == SIM_SCOPE_TREE ?
			      (uint64_t)r->affected_servers * p->vms_per_server : g.scoped_entries;
	r->in_use = r->clients > 0;
	g.done_at = xcalloc(r->clients + 1, sizeof(*g.done_at));
	sim_events_init(&g.q, p->seed);
	w = xmalloc(2 * t->nlinks * sizeof(*w) + sizeof(*w));
	nw = witnesses(t, &f, w);
	for (uint32_t i = 0; i < nw && r->affected_servers; i++)
		sim_event_at(&g.q, sim_jitter(&g.q, ns(p->detect_us), p->jitter), PG_DETECT,
			     w[i], 0, 0);
	while (sim_event_next(&g.q, &ev))
		pg_event(&g, &ev);
	r->events = g.q.processed;
	times_summary(g.done_at, r->clients, r);
	r->agent_ns = g.done_at;
	r->recovered = true;
	sim_events_free(&g.q);
	free(w);
	free(g.clients);
	free(g.affected);
	free(g.cut_slot);
	free(g.cut);
	free(f.dead);
	return 0;
}

/* ---- plain Ethernet: spanning-tree reconvergence ---------------------------- */

enum stp_event { STP_DETECT, STP_BPDU, STP_FORWARD };

struct stp {
	const struct sim_net *n;
	const struct sim_fo_params *p;
	struct sim_events q;
	const uint8_t *dead;
	uint8_t *heard;		/* node id -> has the news */
	uint32_t *owner_of;	/* node id -> newly forwarding ports it owns */
	uint64_t last_forward;
};

/* The 802.1D tree: BFS from the root bridge (lowest id: switch 0, or the
 * lowest surviving one), ties to the lowest port as to the lowest bridge id. */
static uint32_t stp_root(const struct topo *t, uint32_t failed_sw)
{
	for (uint32_t i = 0; i < t->nswitches; i++)
		if (t->switches[i] != failed_sw)
			return t->switches[i];
	return SIM_NONE;
}

static void stp_tree(const struct sim_net *n, uint32_t root, const uint8_t *dead,
		     uint32_t *hop, uint32_t *dist, uint8_t *carries)
{
	uint32_t *queue = xmalloc(n->t->nnodes * sizeof(*queue));
	uint32_t reached = sim_tree_toward(n, root, dead, SIM_NONE, hop, dist, queue);

	if (carries)
		sim_tree_carries(n, hop, queue, reached, carries);
	free(queue);
}

static void stp_event(struct stp *s, const struct sim_event *ev)
{
	const struct topo *t = s->n->t;
	const struct sim_fo_params *p = s->p;
	uint32_t b = ev->a;

	if (ev->type == STP_FORWARD) {
		s->last_forward = MAX(s->last_forward, s->q.now);
		return;
	}
	if (s->heard[b])
		return;
	s->heard[b] = 1;
	/* A blocked port of this bridge that the new tree needs: 802.1D walks
	 * it through listening and learning; RSTP agrees in one handshake. */
	for (uint32_t k = 0; k < s->owner_of[b]; k++)
		sim_event_after(&s->q, p->stp == SIM_STP_8021D ?
				(uint64_t)(2 * p->fwd_delay_s * SEC) :
				2 * sim_jitter(&s->q, ns(p->bpdu_hop_us), p->jitter),
				STP_FORWARD, b, 0, 0);
	for (uint32_t q = 0; q < t->nodes[b].degree; q++) {
		const struct topo_adj *a = topo_port(t, b, q);

		if (!s->dead[a->link] && !topo_is_server(t, a->peer) && !s->heard[a->peer])
			sim_event_after(&s->q, sim_jitter(&s->q, ns(p->bpdu_hop_us), p->jitter),
					STP_BPDU, a->peer, 0, 0);
	}
}

/* The links the new tree adds; each has a blocked end that must start
 * forwarding: the end farther from the root before the failure. */
static void stp_new_ports(struct stp *s, const uint32_t *hop0, const uint32_t *dist0,
			  const uint32_t *hop1, struct sim_fo_result *r)
{
	const struct topo *t = s->n->t;

	for (uint32_t v = 0; v < t->nnodes; v++) {
		uint32_t u = hop1[v];

		if (topo_is_server(t, v) || u == SIM_NONE || hop0[v] == u || hop0[u] == v)
			continue;
		s->owner_of[dist0[u] > dist0[v] ? u : v]++;
		r->new_ports++;
	}
}

static bool spans_switches(const struct topo *t, const uint32_t *hop, uint32_t root,
			   uint32_t failed_sw)
{
	for (uint32_t i = 0; i < t->nswitches; i++) {
		uint32_t s = t->switches[i];

		if (s != root && s != failed_sw && hop[s] == SIM_NONE)
			return false;
	}
	return true;
}

static int run_l2(const struct sim_net *n, const struct sim_fo_params *p,
		  struct sim_fo_result *r, char *err, size_t errlen)
{
	const struct topo *t = n->t;
	uint32_t nn = t->nnodes, root0 = stp_root(t, SIM_NONE), root1, *w, nw;
	uint32_t *hop0 = xmalloc(nn * sizeof(uint32_t)), *dist0 = xmalloc(nn * sizeof(uint32_t));
	uint32_t *hop1 = xmalloc(nn * sizeof(uint32_t)), *dist1 = xmalloc(nn * sizeof(uint32_t));
	uint8_t *in_tree = xcalloc(t->nlinks, 1), *carries = xcalloc(nn, 1);
	struct stp s = { .n = n, .p = p };
	struct sim_event ev;
	struct failure f;
	uint64_t detect;
	int ret;

	stp_tree(n, root0, NULL, hop0, dist0, carries);
	for (uint32_t l = 0; l < t->nlinks; l++)
		in_tree[l] = tree_link_used(t, hop0, carries, l);
	if ((ret = choose(n, p, in_tree, &f, r, err, errlen)))
		goto out;
	/* Traffic between servers crosses the root when their paths meet
	 * there, so losing the root always interrupts some. */
	r->in_use = tree_uses_dead(t, hop0, carries, f.dead) || f.sw == root0;
	root1 = stp_root(t, f.sw);
	stp_tree(n, root1, f.dead, hop1, dist1, NULL);
	r->recovered = spans_switches(t, hop1, root1, f.sw);
	s.dead = f.dead;
	s.heard = xcalloc(nn, 1);
	s.owner_of = xcalloc(nn, sizeof(uint32_t));
	stp_new_ports(&s, hop0, dist0, hop1, r);
	sim_events_init(&s.q, p->seed);
	/* Loss of carrier is seen at once; a silent failure, or the root's,
	 * only when the stored BPDU information ages out. */
	detect = p->silent || f.sw == root0 ?
		 (uint64_t)((p->stp == SIM_STP_8021D ? p->max_age_s : 3 * p->hello_s) * SEC) :
		 ns(SIM_FO_DETECT_US);
	w = xmalloc(2 * t->nlinks * sizeof(*w) + sizeof(*w));
	nw = witnesses(t, &f, w);
	for (uint32_t i = 0; i < nw && r->in_use; i++)
		sim_event_at(&s.q, detect, STP_DETECT, w[i], 0, 0);
	while (sim_event_next(&s.q, &ev))
		stp_event(&s, &ev);
	r->events = s.q.processed;
	r->recovery_ns = r->in_use ? s.last_forward : 0;
	if (r->in_use && !r->new_ports)
		r->recovery_ns = detect;
	for (uint32_t i = 0; i < t->nservers; i++) {
		uint32_t node = t->servers[i];
		bool alive = false;

		for (uint32_t q = 0; q < t->nodes[node].degree; q++)
			alive |= !f.dead[topo_port(t, node, q)->link];
		r->isolated_servers += !alive;
	}
	r->mean_ns = (double)r->recovery_ns;
	r->p50_ns = r->p99_ns = r->recovery_ns;
	sim_events_free(&s.q);
	free(w);
	free(s.heard);
	free(s.owner_of);
	free(f.dead);
out:
	free(hop0);
	free(dist0);
	free(hop1);
	free(dist1);
	free(in_tree);
	free(carries);
	return ret;
}

void sim_fo_result_free(struct sim_fo_result *r)
{
	free(r->agent_ns);
	r->agent_ns = NULL;
}

int sim_failover_run(const struct sim_net *n, const struct sim_fo_params *p,
		     struct sim_fo_result *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	if (n->t->family == FAM_BCUBE) {
		snprintf(err, errlen, "failover models switch-centric fabrics, not BCube");
		return -EINVAL;
	}
	switch (p->scheme) {
	case SCHEME_PEREGRINE:
	case SCHEME_PEREGRINE_DUAL:
		return run_peregrine(n, p, r, err, errlen);
	case SCHEME_L2:
		return run_l2(n, p, r, err, errlen);
	default:
		snprintf(err, errlen, "failover models peregrine, peregrine-dual and l2, not %s",
			 sim_scheme_name(p->scheme));
		return -EINVAL;
	}
}
