/* Behaviour that still lives in the daemon shells, redone here so that the
 * harness can run the cores today.  Each piece goes when its core owns it
 * (docs/chaos.md, "Glue"):
 *
 *   - the RAS shell's delivery of availability changes to the directory
 *     (cmd/ras.c send_avail).  The shell sends each change once and only
 *     logs a SET_AVAIL that times out; here every change is retried until
 *     the directory acknowledges it, and everything is asserted again when
 *     the directory comes back with a new session (it may have lost soft
 *     writes to a power loss).  That is the behaviour the RAS core is to
 *     take over, with acknowledgement and retry.
 *   - the agent shell's routing trees (cmd/agent.c op_egress): the NIC a
 *     server sends on in each tree, from route/ over the whole topology.
 *
 * Not modelled: switchd's uplink tracking (cmd/switchd.c --uplinks), which
 * the lab turns on; a leaf cut off from every spine keeps its server ports
 * up here. */
#include "sim/chaos_int.h"

#include <stdlib.h>
#include <string.h>

#include "wire/pgr.h"

enum { GLUE_INFLIGHT = 64, GLUE_TICK_MS = 20 };

struct glue_req {
	int64_t id;		/* 0: free */
	uint32_t n;
	uint32_t slot[DIRP_MAX_RECORDS * 2];
	uint32_t gen[DIRP_MAX_RECORDS * 2];
};

struct chaos_glue {
	struct route_trees *rt;		/* the agents' static trees */
	struct dirc *dc;		/* the RAS shell's directory client */
	int8_t *intent;			/* per server * 2 + tree: -1, 0, 1 */
	uint32_t *gen;			/* bumped by every change */
	uint8_t *pending, *inflight;
	uint64_t session;		/* the directory's, from its replies */
	struct glue_req req[GLUE_INFLIGHT];
};

static uint32_t nslots(const struct chaos *c)
{
	return 2 * c->t->nservers;
}

static void dc_send(void *arg, const uint8_t *buf, size_t len)
{
	struct chaos *c = arg;

	chaos_send(c, chaos_ep_addr(CHAOS_EP_RASDIR, CHAOS_PORT),
		   chaos_ep_addr(CHAOS_EP_DIR, CHAOS_PORT), buf, len);
}

static void all_pending(struct chaos *c)
{
	struct chaos_glue *g = c->glue;

	for (uint32_t i = 0; i < nslots(c); i++)
		g->pending[i] = g->intent[i] >= 0;
}

static void on_reply(void *arg, uint64_t req_id, const struct dirp_msg *m)
{
	struct chaos *c = arg;
	struct chaos_glue *g = c->glue;
	struct glue_req *r = NULL;

	for (int i = 0; i < GLUE_INFLIGHT && !r; i++)
		if (g->req[i].id == (int64_t)req_id)
			r = &g->req[i];
	if (!r)
		return;
	for (uint32_t i = 0; i < r->n; i++) {
		uint32_t s = r->slot[i];
		bool ok = m && m->h.type == (DIRP_SET_AVAIL | DIRP_REPLY_BIT) && i < m->h.count;

		if (ok) {
			struct dirp_avail_res res;

			dirp_get_avail_res(m, i, &res);
			ok = res.status == DIRP_OK;
		}
		g->inflight[s] = 0;
		if (!ok || r->gen[i] != g->gen[s])
			g->pending[s] = 1;
	}
	r->id = 0;
	if (m && m->h.session != g->session) {
		if (g->session)
			all_pending(c);	/* a restarted directory: assert it all again */
		g->session = m->h.session;
	}
}

static struct glue_req *free_req(struct chaos_glue *g)
{
	for (int i = 0; i < GLUE_INFLIGHT; i++)
		if (!g->req[i].id)
			return &g->req[i];
	return NULL;
}

/* Send what is pending and not in flight, in as few requests as fit. */
static void flush(struct chaos *c)
{
	struct chaos_glue *g = c->glue;
	unsigned max = dirp_max_records(DIRP_SET_AVAIL);
	uint32_t s = 0;

	if (!g->dc)
		return;
	while (s < nslots(c)) {
		struct dirp_avail recs[DIRP_MAX_RECORDS * 2];
		struct glue_req *r = free_req(g);
		int64_t id;

		if (!r)
			return;
		r->n = 0;
		for (; s < nslots(c) && r->n < max; s++) {
			if (!g->pending[s] || g->inflight[s])
				continue;
			pgr_mac_make(recs[r->n].mac, pgr_id_of(s / 2 + 1, s & 1));
			recs[r->n].scope = DIRP_SCOPE_INTERMEDIARY;
			recs[r->n].avail = (uint8_t)g->intent[s];
			r->slot[r->n] = s;
			r->gen[r->n++] = g->gen[s];
		}
		if (!r->n)
			return;
		id = dirc_request(g->dc, chaos_now(c), DIRP_SET_AVAIL, recs, r->n, on_reply, c);
		if (id < 0)
			return;
		r->id = id;
		for (uint32_t i = 0; i < r->n; i++) {
			g->pending[r->slot[i]] = 0;
			g->inflight[r->slot[i]] = 1;
		}
	}
}

void chaos_glue_ras_avail(struct chaos *c, const struct ras_out *o)
{
	struct chaos_glue *g = c->glue;

	for (size_t i = 0; i < o->navail; i++) {
		const uint8_t *mac = o->avail[i].mac;
		uint32_t id, node;

		if (!pgr_mac_valid(mac))
			continue;
		id = pgr_mac_id(mac);
		node = pgr_id_node(id);
		if (node < 1 || node > c->t->nservers)
			continue;
		uint32_t s = (node - 1) * 2 + pgr_id_tree(id);

		g->intent[s] = (int8_t)(o->avail[i].avail ? 1 : 0);
		chaos_trace(c, "ras: %s tree %u %savailable", c->t->nodes[c->t->servers[node - 1]].name,
			    pgr_id_tree(id), o->avail[i].avail ? "" : "un");
		g->gen[s]++;
		g->pending[s] = 1;
	}
	flush(c);
}

void chaos_glue_ras_input(struct chaos *c, const uint8_t *buf, size_t len)
{
	if (c->glue->dc)
		dirc_input(c->glue->dc, chaos_now(c), buf, len);
}

uint64_t chaos_glue_ras_tick(struct chaos *c)
{
	struct chaos_glue *g = c->glue;
	uint64_t next = c->q.now + GLUE_TICK_MS * CHAOS_MS, d;

	if (!g->dc)
		return next;
	d = dirc_tick(g->dc, chaos_now(c));
	flush(c);
	return d < next ? d : next;
}

void chaos_glue_ras_start(struct chaos *c)
{
	struct chaos_glue *g = c->glue;
	struct dirc_cfg dc = { .key = &c->key, .seed = rng_next(&c->q.rng), .send = dc_send,
			       .send_arg = c };

	g->dc = dirc_new(&dc);
	if (!g->dc)
		die("out of memory");
	memset(g->intent, 0xff, nslots(c));
	memset(g->pending, 0, nslots(c));
	memset(g->inflight, 0, nslots(c));
	memset(g->req, 0, sizeof(g->req));
	g->session = 0;
}

void chaos_glue_ras_stop(struct chaos *c)
{
	dirc_free(c->glue->dc);
	c->glue->dc = NULL;
}

int chaos_glue_intent(const struct chaos *c, uint32_t s, unsigned tree)
{
	return c->glue->intent[s * 2 + tree];
}

int chaos_glue_egress(struct chaos *c, uint32_t self, uint32_t dst, unsigned tree)
{
	uint16_t port = route_egress(c->glue->rt, self, dst, tree);

	return port == ROUTE_NO_PORT ? -1 : port;
}

int chaos_glue_init(struct chaos *c)
{
	struct chaos_glue *g = calloc(1, sizeof(*g));
	char err[256];

	if (!g)
		die("out of memory");
	c->glue = g;
	g->intent = malloc(nslots(c));
	g->gen = calloc(nslots(c), sizeof(uint32_t));
	g->pending = calloc(nslots(c), 1);
	g->inflight = calloc(nslots(c), 1);
	if (!g->intent || !g->gen || !g->pending || !g->inflight)
		die("out of memory");
	memset(g->intent, 0xff, nslots(c));
	if (route_trees_new(c->t, NULL, NULL, &g->rt, err, sizeof(err)))
		die("chaos: routes: %s", err);
	return 0;
}

void chaos_glue_free(struct chaos *c)
{
	struct chaos_glue *g = c->glue;

	if (!g)
		return;
	if (g->dc)
		dirc_free(g->dc);
	if (g->rt)
		route_trees_free(g->rt);
	free(g->intent);
	free(g->gen);
	free(g->pending);
	free(g->inflight);
	free(g);
	c->glue = NULL;
}
