/* The Route Algorithm Server core (ras/ras.h, docs/ras.md). */
#include "ras/ras.h"
#include "ras/ras_int.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/core.h"
#include "route/failover.h"
#include "wire/be.h"
#include "wire/pgr.h"

/* ---- small helpers --------------------------------------------------------- */
void ras_server_mac(uint32_t s, unsigned tree, uint8_t mac[6])
{
	pgr_mac_make(mac, pgr_id_of(s + 1, tree));
}

/* The (server, tree) index of a MAC, or RAS_FOREIGN. */
static uint32_t mac_index(const struct ras *r, const uint8_t mac[6])
{
	uint32_t node;

	if (!pgr_mac_valid(mac))
		return RAS_FOREIGN;
	node = pgr_id_node(pgr_mac_id(mac));
	if (node < 1 || node > r->t->nservers)
		return RAS_FOREIGN;
	return (node - 1) * 2 + pgr_id_tree(pgr_mac_id(mac));
}

static uint32_t idx_owner(const struct ras *r, uint32_t idx)
{
	return r->t->servers[idx / 2];
}

static uint16_t want_port(const struct ras *r, uint32_t sw, uint32_t idx)
{
	return route_egress(r->rt, sw, idx_owner(r, idx), idx % 2);
}

void ras_out_init(struct ras_out *o)
{
	memset(o, 0, sizeof(*o));
}

void ras_out_reset(struct ras_out *o)
{
	o->ndg = 0;
	o->navail = 0;
	o->ndir = 0;
}

void ras_out_free(struct ras_out *o)
{
	free(o->dg);
	free(o->avail);
	free(o->dir);
	ras_out_init(o);
}

struct ras_dgram *ras_out_dgram(struct ras_out *o, struct ras_addr to)
{
	if (o->ndg == o->cap_dg) {
		o->cap_dg = o->cap_dg ? o->cap_dg * 2 : 16;
		o->dg = xreallocarray(o->dg, o->cap_dg, sizeof(*o->dg));
	}
	o->dg[o->ndg].to = to;
	o->dg[o->ndg].len = 0;
	return &o->dg[o->ndg++];
}

static void out_avail(struct ras *r, struct ras_out *o, uint32_t idx, bool avail)
{
	if (o->navail == o->cap_avail) {
		o->cap_avail = o->cap_avail ? o->cap_avail * 2 : 64;
		o->avail = xreallocarray(o->avail, o->cap_avail, sizeof(*o->avail));
	}
	ras_server_mac(idx / 2, idx % 2, o->avail[o->navail].mac);
	o->avail[o->navail++].avail = avail;
	ra_want(r, idx, avail);
	if (avail)
		r->st.avail_up++;
	else
		r->st.avail_down++;
}

const char *ras_drop_name(int reason)
{
	if (reason >= RAS_DROP_DECODE && reason < RAS_DROP_UNEXPECTED)
		return swp_err_name(reason - RAS_DROP_DECODE);
	switch (reason) {
	case RAS_DROP_UNEXPECTED: return "unexpected type";
	case RAS_DROP_SENDER: return "unknown sender";
	case RAS_DROP_PORT: return "port without a link";
	case RAS_DROP_STALE: return "stale reply";
	case RAS_DROP_REPLAY: return "replayed";
	case RAS_DROP_AGENT: return "not a server";
	case RAS_DROP_VM: return "bad VM or server";
	case RAS_DROP_RASP_TYPE: return "unexpected RAS-protocol type";
	case RAS_DROP_ACK: return "stale ACK";
	case RAS_DROP_DIR: return "bad or unmatched directory reply";
	default: break;
	}
	if (reason > RAS_DROP_RASP && reason < RAS_DROP_REPLAY)
		return rasp_err_name(reason - RAS_DROP_RASP);
	return "?";
}

void ras_drop(struct ras *r, int reason, uint64_t now)
{
	assert(reason >= 0 && reason < RAS_DROP_COUNT);
	r->st.drops[reason]++;
	core_log_rl(&r->c.log, &r->rl, now, LOG_WARN, "dropped a datagram: %s", ras_drop_name(reason));
}

/* ---- sending ----------------------------------------------------------------- */
static void transmit(struct ras *r, uint32_t node, uint64_t now, struct ras_out *o)
{
	struct ras_sw *s = r->sw[node];
	struct ras_dgram *d = ras_out_dgram(o, r->c.sw[node]);
	uint32_t backoff = s->tries < 4 ? 1u << s->tries : 8;

	memcpy(d->buf, s->buf, s->len);
	d->len = s->len;
	s->tries++;
	s->due = now + (uint64_t)r->c.rto_ms * backoff * 1000000ull;
}

static void send_dump(struct ras *r, uint32_t node, uint8_t kind, uint64_t now,
		      struct ras_out *o)
{
	struct ras_sw *s = r->sw[node];
	struct swp_hdr h = { .type = SWP_DUMP_REQ, .sender = r->c.id, .seq = ++r->seq };

	s->len = swp_enc_dump_req(s->buf, sizeof(s->buf), &h,
				  kind == RS_PORTS || kind == RS_PORT_AUDIT ? SWP_WHAT_PORTS : SWP_WHAT_FIB,
				  kind == RS_AUDIT ? 0 :
				  kind == RS_PORT_AUDIT ? s->audit_port_off : s->dump_offset, &r->c.key);
	assert(s->len);
	s->seq = h.seq;
	s->busy = kind;
	s->tries = 0;
	r->st.dumps++;
	transmit(r, node, now, o);
}

static void dclear(struct ras_sw *s)
{
	hmap_clear(&s->dmark);
	s->nddirty = 0;
}

static void begin_dump(struct ras *r, uint32_t node, uint64_t now, struct ras_out *o)
{
	struct ras_sw *s = r->sw[node];

	s->state = RS_DUMPING;
	s->dump_offset = 0;
	s->nforeign = 0;
	s->claimed = false;	/* a restarted switch learns our term again */
	for (uint32_t i = 0; i < r->nidx; i++)
		s->have[i] = ROUTE_NO_PORT;
	s->nhave = 0;
	s->sum = 0;
	r->st.entries_direct -= (uint32_t)s->dhave.count;
	hmap_clear(&s->dhave);
	dclear(s);
	r->st.converged = false;
	send_dump(r, node, RS_DUMP, now, o);
}

/* ---- reconciling ----------------------------------------------------------- */
/* What the switch holds for MAC: the count and the sum follow. */
static void sum_move(struct ras_sw *s, const uint8_t mac[6], uint16_t from, uint16_t to)
{
	if (from != ROUTE_NO_PORT)
		s->sum -= swp_entry_hash(mac, from);
	if (to != ROUTE_NO_PORT)
		s->sum += swp_entry_hash(mac, to);
}

static void set_have(struct ras_sw *s, uint32_t idx, uint16_t port)
{
	uint8_t mac[6];

	ras_server_mac(idx / 2, idx % 2, mac);
	sum_move(s, mac, s->have[idx], port);
	s->nhave += (port != ROUTE_NO_PORT) - (s->have[idx] != ROUTE_NO_PORT);
	s->have[idx] = port;
}

static void mark_dirty(struct ras_sw *s, uint32_t idx)
{
	if (s->is_dirty[idx])
		return;
	s->is_dirty[idx] = 1;
	s->dirty[s->ndirty++] = idx;
}

void ras_dmark(struct ras *r, uint32_t node, uint32_t vm_id)
{
	struct ras_sw *s = r->sw[node];

	if (!s || s->state == RS_NONE || hmap_get(&s->dmark, vm_id))
		return;
	hmap_put(&s->dmark, vm_id, 1);
	if (s->nddirty == s->capddirty) {
		s->capddirty = s->capddirty ? s->capddirty * 2 : 64;
		s->ddirty = xreallocarray(s->ddirty, s->capddirty, sizeof(*s->ddirty));
	}
	s->ddirty[s->nddirty++] = vm_id;
}

static uint16_t dhave_port(const struct ras_sw *s, uint32_t vm_id)
{
	uint64_t *v = hmap_get(&s->dhave, vm_id);

	return v ? (uint16_t)(*v - 1) : ROUTE_NO_PORT;
}

static void dset_have(struct ras *r, struct ras_sw *s, uint32_t vm_id, uint16_t port)
{
	bool had = hmap_get(&s->dhave, vm_id) != NULL;
	uint8_t mac[6];

	pgr_mac_make(mac, vm_id);
	sum_move(s, mac, dhave_port(s, vm_id), port);
	if (port == ROUTE_NO_PORT)
		hmap_del(&s->dhave, vm_id);
	else
		hmap_put(&s->dhave, vm_id, (uint64_t)port + 1);
	r->st.entries_direct += (port != ROUTE_NO_PORT) - had;
}

static void add_op(struct ras_sw *s, uint32_t idx, uint8_t kind, uint16_t port,
		   const uint8_t mac[6])
{
	struct swp_op *op = &s->ops[s->nops];

	op->kind = kind;
	op->port = kind == SWP_OP_ADD ? port : 0;
	memcpy(op->mac, mac, 6);
	s->op_idx[s->nops++] = idx;
}

/* Trees are reprogrammed from the root outward: switch node's new entry
 * for (server, tree) idx, port `want`, waits while the switch it leads to
 * (its parent in the new tree) does not hold its own new entry yet and
 * will: that entry is dirty or may be in the batch in flight there.  A
 * packet then follows old entries until it meets a switch that holds its
 * new one, and new ones from there to the root, all of which are
 * installed (each switch's parent was before it): no loop, at any moment
 * of the change.  In any order, a switch with its new entry can send a
 * packet to one whose old entry sends it back (an Ethernet loop: no TTL).
 * A parent that is lost, dead, being read, or that refused its entry
 * (idle, nothing dirty) is not waited for. */
static bool wait_parent(const struct ras *r, uint32_t node, uint32_t idx, uint16_t want)
{
	uint32_t parent = topo_port(r->t, node, want)->peer;
	const struct ras_sw *p = r->sw[parent];

	if (!p || p->state != RS_READY || p->have[idx] == want_port(r, parent, idx))
		return false;
	return p->is_dirty[idx] || p->busy == RS_FIB_OPS;
}

/* One pass over the dirty list: deletes (adds == false) or adds.  Entries
 * already right leave the list; entries put in the batch too; adds whose
 * parent is not ready (wait_parent) stay. */
static void collect(struct ras *r, uint32_t node, bool adds)
{
	struct ras_sw *s = r->sw[node];
	uint32_t keep = 0;

	for (uint32_t k = 0; k < s->ndirty; k++) {
		uint32_t idx = s->dirty[k];
		uint16_t want = want_port(r, node, idx), have = s->have[idx];
		bool del = want == ROUTE_NO_PORT;
		uint8_t mac[6];

		if (want == have) {
			s->is_dirty[idx] = 0;
			continue;
		}
		if (del != adds && s->nops < SWP_MAX_OPS && (del || !wait_parent(r, node, idx, want))) {
			ras_server_mac(idx / 2, idx % 2, mac);
			add_op(s, idx, del ? SWP_OP_DEL : SWP_OP_ADD, want, mac);
			s->is_dirty[idx] = 0;
			continue;
		}
		s->dirty[keep++] = idx;
	}
	s->ndirty = keep;
}

/* The same for direct entries (VM MACs). */
static void dcollect(struct ras *r, uint32_t node, bool adds)
{
	struct ras_sw *s = r->sw[node];
	uint32_t keep = 0;

	for (uint32_t k = 0; k < s->nddirty; k++) {
		uint32_t id = s->ddirty[k];
		uint16_t want = rd_want(r, node, id), have = dhave_port(s, id);
		bool del = want == ROUTE_NO_PORT;
		uint8_t mac[6];

		if (want == have) {
			hmap_del(&s->dmark, id);
			continue;
		}
		if (del != adds && s->nops < SWP_MAX_OPS) {
			pgr_mac_make(mac, id);
			add_op(s, RAS_DOP | id, del ? SWP_OP_DEL : SWP_OP_ADD, want, mac);
			hmap_del(&s->dmark, id);
			r->st.dops_sent++;
			continue;
		}
		s->ddirty[keep++] = id;
	}
	s->nddirty = keep;
}

/* Send the next batch of a ready, idle switch, if it needs one. */
static void reconcile(struct ras *r, uint32_t node, uint64_t now, struct ras_out *o)
{
	struct ras_sw *s = r->sw[node];
	struct swp_hdr h = { .type = SWP_FIB_OPS, .sender = r->c.id };

	if (!s || s->state != RS_READY || r->ports_pending)
		return;
	/* An audit in flight must not delay a change: its reply is dropped. */
	if ((s->busy == RS_AUDIT || s->busy == RS_PORT_AUDIT) &&
	    (s->ndirty || s->nforeign || s->nddirty))
		s->busy = RS_IDLE;
	if (s->busy)
		return;
	s->nops = 0;
	while (s->nforeign && s->nops < SWP_MAX_OPS) {
		uint8_t mac[6];

		uint64_t f = s->foreign[--s->nforeign];

		wire_put48(mac, f & 0xffffffffffffull);
		sum_move(s, mac, (uint16_t)(f >> 48), ROUTE_NO_PORT);
		add_op(s, RAS_FOREIGN, SWP_OP_DEL, 0, mac);
	}
	collect(r, node, false);
	dcollect(r, node, false);
	collect(r, node, true);
	dcollect(r, node, true);
	if (!s->nops && s->claimed)
		return;
	s->claimed = true;
	h.seq = ++r->seq;
	s->len = swp_enc_fib_ops(s->buf, sizeof(s->buf), &h, s->ops, s->nops, &r->c.key);
	assert(s->len);
	s->seq = h.seq;
	s->busy = RS_FIB_OPS;
	s->tries = 0;
	r->st.batches++;
	r->st.ops_sent += s->nops;
	r->st.converged = false;
	transmit(r, node, now, o);
}

/* A (server, tree) pair is usable if some live neighbour switch of the
 * server forwards it. */
static bool reachable(const struct ras *r, uint32_t idx)
{
	uint32_t owner = idx_owner(r, idx);
	const struct topo_node *n = &r->t->nodes[owner];
	const uint8_t *ldead = route_link_dead(r->rt);

	for (uint32_t p = 0; p < n->degree; p++) {
		const struct topo_adj *a = topo_port(r->t, owner, p);

		if (!ldead[a->link] && route_egress(r->rt, a->peer, owner, idx % 2) != ROUTE_NO_PORT)
			return true;
	}
	return false;
}

static void apply_deferred(struct ras *r, uint64_t now, struct ras_out *o);

/* A switch that stopped answering (RS_LOST: a partition of the management
 * network, its switchd down) still forwards with the table it had: an entry
 * of (server, tree) idx there that is not what the routes say may send the
 * tree's packets back where they came from (an Ethernet loop: no TTL).  Such
 * a pair stays held until the switch is read and reprogrammed. */
static bool stale_on_lost(const struct ras *r, uint32_t idx, bool any_lost)
{
	if (!any_lost)
		return false;
	for (uint32_t n = 0; n < r->t->nnodes; n++) {
		const struct ras_sw *s = r->sw[n];

		if (s && s->state == RS_LOST && s->have[idx] != want_port(r, n, idx))
			return true;
	}
	return false;
}

/* When every live switch holds what it should: release the held MACs, then
 * start the recovery's deferred tree-1 changes if there are any. */
static void check_converged(struct ras *r, uint64_t now, struct ras_out *o)
{
	bool any_lost = false;

	if (r->st.converged)
		return;
	for (uint32_t i = 0; i < r->t->nnodes; i++) {
		const struct ras_sw *s = r->sw[i];

		any_lost |= s && s->state == RS_LOST;

		if (s && (s->state == RS_DUMPING ||
			  (s->state == RS_READY &&
			   ((s->busy && s->busy != RS_AUDIT) || s->ndirty || s->nforeign ||
			    s->nddirty))))
			return;
	}
	for (uint32_t idx = 0; idx < r->nidx; idx++) {
		if (r->held[idx] && reachable(r, idx) && !stale_on_lost(r, idx, any_lost)) {
			r->held[idx] = 0;
			out_avail(r, o, idx, true);
		}
	}
	if (r->ndeferred) {
		apply_deferred(r, now, o);
		return;
	}
	if (!r->st.converged && r->st.ev_at_ns && now >= r->st.ev_at_ns) {
		static const uint64_t ub_ms[RAS_EV_BUCKETS] = RAS_EV_BUCKETS_MS;
		uint64_t ns = now - r->st.ev_at_ns;
		unsigned b = 0;

		while (b < RAS_EV_BUCKETS && ns > ub_ms[b] * 1000000ull)
			b++;
		if (b < RAS_EV_BUCKETS)
			r->st.ev_hist[b]++;
		r->st.ev_count++;
		r->st.ev_sum_ns += ns;
	}
	r->st.converged = true;
	r->st.ev_done_ns = now;
}

/* ---- replies from switches --------------------------------------------------- */
/* The switch says how many entries it holds and their sum: if that is not
 * what we believe (its switchd restarted with an empty table, someone else
 * changed it, an entry's port is not the one we hold), read the whole table
 * again.  The count alone cannot see a wrong port. */
static bool audit_ok(struct ras *r, uint32_t node, uint32_t used, uint64_t sum, uint64_t now,
		     struct ras_out *o)
{
	struct ras_sw *s = r->sw[node];
	uint32_t have = s->nhave + s->nforeign + (uint32_t)s->dhave.count;

	if (used == have && sum == s->sum)
		return true;
	r->st.audits_failed++;
	r->st.audits_sum_failed += used == have;
	core_log_rl(&r->c.log, &r->rl, now, LOG_WARN, "switch %s holds %u entries%s, not %u: reading it again",
		   r->t->nodes[node].name, used, used == have ? " with other ports" : "", have);
	begin_dump(r, node, now, o);
	return false;
}

static void on_fib_ack(struct ras *r, uint32_t node, const struct swp_msg *m, uint64_t now,
		       struct ras_out *o)
{
	struct ras_sw *s = r->sw[node];

	if (s->busy != RS_FIB_OPS || m->h.seq != s->seq || m->u.fib_ack.n != s->nops) {
		ras_drop(r, RAS_DROP_STALE, now);
		return;
	}
	for (uint16_t i = 0; i < s->nops; i++) {
		uint8_t st = m->u.fib_ack.status[i];
		const struct swp_op *op = &s->ops[i];
		uint32_t idx = s->op_idx[i];
		char mb[18];

		if (st == SWP_OK || (st == SWP_NOT_FOUND && op->kind == SWP_OP_DEL)) {
			r->st.ops_ok++;
			if (idx != RAS_FOREIGN && (idx & RAS_DOP))
				dset_have(r, s, idx & ~RAS_DOP, op->kind == SWP_OP_ADD ? op->port
										: ROUTE_NO_PORT);
			else if (idx != RAS_FOREIGN)
				set_have(s, idx, op->kind == SWP_OP_ADD ? op->port : ROUTE_NO_PORT);
			continue;
		}
		if (idx != RAS_FOREIGN && (idx & RAS_DOP))
			r->st.dops_refused++;	/* tried again at the next computation */
		/* Refused: left as it is until an event touches it again. */
		r->st.ops_refused[st <= SWP_STATUS_MAX ? st : SWP_KERNEL]++;
		core_log_rl(&r->c.log, &r->rl, now, LOG_WARN, "switch %s refused %s %s port %u: %s",
			   r->t->nodes[node].name, op->kind == SWP_OP_ADD ? "add" : "del",
			   swp_mac_str(op->mac, mb), op->port, swp_status_name(st));
	}
	s->busy = RS_IDLE;
	if (audit_ok(r, node, m->u.fib_ack.used, m->u.fib_ack.sum, now, o))
		reconcile(r, node, now, o);
	/* its neighbours' entries may have waited for these (wait_parent) */
	for (uint32_t p = 0; p < r->t->nodes[node].degree; p++) {
		uint32_t peer = topo_port(r->t, node, p)->peer;

		if (r->sw[peer] && r->sw[peer]->ndirty)
			reconcile(r, peer, now, o);
	}
}

static void on_dump(struct ras *r, uint32_t node, const struct swp_msg *m, uint64_t now,
		    struct ras_out *o)
{
	struct ras_sw *s = r->sw[node];

	if (s->busy == RS_AUDIT && m->h.seq == s->seq) {
		s->busy = RS_IDLE;
		if (audit_ok(r, node, m->u.dump_fib.used, m->u.dump_fib.sum, now, o))
			reconcile(r, node, now, o);
		return;
	}
	if (s->busy != RS_DUMP || m->h.seq != s->seq || m->u.dump_fib.offset != s->dump_offset) {
		ras_drop(r, RAS_DROP_STALE, now);
		return;
	}
	for (uint16_t i = 0; i < m->u.dump_fib.n; i++) {
		struct swp_fib_entry e;
		uint32_t idx;

		swp_fib_entry_at(m, i, &e);
		idx = mac_index(r, e.mac);
		if (idx != RAS_FOREIGN)
			set_have(s, idx, e.port);
		else if (pgr_mac_valid(e.mac) &&
			 pgr_id_node(pgr_mac_id(e.mac)) > r->t->nservers) {
			dset_have(r, s, pgr_mac_id(e.mac), e.port);
			rd_dumped(r, node, pgr_mac_id(e.mac), e.port);
		} else if (s->nforeign < RAS_MAX_FOREIGN) {
			s->foreign[s->nforeign++] = (uint64_t)e.port << 48 | wire_get48(e.mac);
			sum_move(s, e.mac, ROUTE_NO_PORT, e.port);
		}
	}
	s->dump_offset += m->u.dump_fib.n;
	s->busy = RS_IDLE;
	if (m->u.dump_fib.n && s->dump_offset < m->u.dump_fib.used) {
		send_dump(r, node, RS_DUMP, now, o);
		return;
	}
	s->state = RS_READY;
	for (uint32_t idx = 0; idx < r->nidx; idx++)
		mark_dirty(s, idx);
	rd_dump_done(r, node);
	reconcile(r, node, now, o);
}

/* ---- start-up: port states ---------------------------------------------------- */
static void switch_dead(struct ras *r, uint32_t node);
static bool switch_links_dead(const struct ras *r, uint32_t node);

/* A switch's ports are known (or it will not tell): once every switch's
 * are, the tables may be changed. */
static void ports_settled(struct ras *r, uint32_t node, uint64_t now, struct ras_out *o)
{
	struct ras_sw *s = r->sw[node];

	if (s->ports_known)
		return;
	s->ports_known = true;
	assert(r->ports_pending > 0);
	if (--r->ports_pending)
		return;
	for (uint32_t n = 0; n < r->t->nnodes; n++)
		reconcile(r, n, now, o);
}

/* A port found down at start-up: the link is down before anything is
 * programmed, so there is nothing to hold. */
static void startup_link_down(struct ras *r, uint32_t l, uint64_t now, struct ras_out *o)
{
	const struct topo_link *lk = &r->t->links[l];
	uint32_t ends[2] = { lk->a, lk->b };

	if (route_link_dead(r->rt)[l])
		return;
	route_delta_reset(&r->delta);
	route_link_down(r->rt, l, &r->delta);
	core_log(&r->c.log, LOG_INFO, "link %s:%u - %s:%u is down at start-up", r->t->nodes[lk->a].name, lk->pa,
		 r->t->nodes[lk->b].name, lk->pb);
	for (int i = 0; i < 2; i++) {
		uint32_t e = ends[i];

		if (topo_is_server(r->t, e) || route_node_dead(r->rt)[e] || !switch_links_dead(r, e))
			continue;
		switch_dead(r, e);
		if (r->sw[e] && r->sw[e]->state != RS_NONE)
			ports_settled(r, e, now, o);
	}
}

static void link_event(struct ras *r, uint32_t l, bool up, uint64_t now, struct ras_out *o);

/* A port audit's page: a port whose state is not what we hold for its link
 * (a change while its switchd was down or restarting, or while the switch
 * had failed: a fresh switchd does not report what it first sees) is applied
 * as a link report would be, unless a report came in since the audit was
 * sent (the report is newer than the page). */
static void on_port_audit(struct ras *r, uint32_t node, const struct swp_msg *m, uint64_t now,
			  struct ras_out *o)
{
	struct ras_sw *s = r->sw[node];

	s->busy = RS_IDLE;
	r->st.port_audits++;
	for (uint16_t i = 0; i < m->u.dump_ports.n; i++) {
		struct swp_port p;
		uint32_t l;
		bool up;

		swp_port_at(m, i, &p);
		if (p.port >= r->t->nodes[node].degree || s->port_at[p.port] > s->audit_sent)
			continue;
		l = topo_port(r->t, node, p.port)->link;
		up = p.state == SWP_PORT_UP;
		if (!route_link_dead(r->rt)[l] == up)
			continue;
		r->st.ports_wrong++;
		core_log_rl(&r->c.log, &r->rl, now, LOG_WARN, "switch %s port %u is %s, not as we held it: applied",
			    r->t->nodes[node].name, p.port, up ? "up" : "down");
		link_event(r, l, up, now, o);
	}
	s->audit_port_off += m->u.dump_ports.n;
	if (!m->u.dump_ports.n || s->audit_port_off >= m->u.dump_ports.total)
		s->audit_port_off = 0;
	reconcile(r, node, now, o);
}

static void on_ports(struct ras *r, uint32_t node, const struct swp_msg *m, uint64_t now,
		     struct ras_out *o)
{
	struct ras_sw *s = r->sw[node];

	if (s->busy == RS_PORT_AUDIT && m->h.seq == s->seq) {
		on_port_audit(r, node, m, now, o);
		return;
	}
	if (s->busy != RS_PORTS || m->h.seq != s->seq ||
	    m->u.dump_ports.offset != s->dump_offset) {
		ras_drop(r, RAS_DROP_STALE, now);
		return;
	}
	s->busy = RS_IDLE;
	for (uint16_t i = 0; i < m->u.dump_ports.n; i++) {
		struct swp_port p;

		swp_port_at(m, i, &p);
		if (p.port < r->t->nodes[node].degree && p.state == SWP_PORT_DOWN)
			startup_link_down(r, topo_port(r->t, node, p.port)->link, now, o);
	}
	if (s->state == RS_DEAD)
		return;
	s->dump_offset += m->u.dump_ports.n;
	if (m->u.dump_ports.n && s->dump_offset < m->u.dump_ports.total) {
		send_dump(r, node, RS_PORTS, now, o);
		return;
	}
	begin_dump(r, node, now, o);
	ports_settled(r, node, now, o);
}

/* ---- failures ------------------------------------------------------------------ */
static void hold_pair(void *arg, uint32_t owner, unsigned tree)
{
	struct ras *r = arg;
	uint32_t idx = r->t->nodes[owner].index * 2 + tree;

	if (!r->held[idx]) {
		r->held[idx] = 2;	/* 2: newly held, announced below */
		r->st.ev_pairs++;
	}
}

/* Whether switch node's entry of (server, tree) idx sends on port: what it
 * holds, or, with a batch in flight, may hold (the routes' entry; an entry
 * the routes moved but that waits for its parent, wait_parent, sends
 * nothing there yet).  A switch not read yet: by the routes. */
static bool sends_to(const struct ras *r, uint32_t node, uint32_t idx, uint16_t port)
{
	const struct ras_sw *s = r->sw[node];
	bool want = want_port(r, node, idx) == port;

	if (!s || s->state != RS_READY)
		return want;
	return s->have[idx] == port || (s->busy == RS_FIB_OPS && want);
}

/* Whether switch w carries traffic of owner's tree: an attached server
 * sends that tree to it, by the routes or by the base trees (an agent
 * computes its NICs from the whole topology, agent_topology), or a live
 * neighbour that carries the tree sends it there (sends_to).  A failed
 * link that only w's own entry of a tree crosses, w carrying nothing of
 * that tree (a failed spine's entry in a tree where no switch sends through
 * it), loses no packet: the tree stays available, and the agents sending on
 * it need not switch.  Relaying servers (BCube) always carry, and so does a
 * switch further than RAS_CARRY_DEPTH hops from any source checked.  The
 * answer is the same for every server of owner's attachment group (they
 * share their trees): kept in r->carry until the next event. */
static bool carries_d(struct ras *r, uint32_t w, uint32_t owner, unsigned tree, unsigned depth)
{
	const uint8_t *ldead = route_link_dead(r->rt);
	uint32_t idx = r->t->nodes[owner].index * 2 + tree;
	uint32_t g = route_server_group(r->rt, owner);
	uint64_t key = ((uint64_t)g * r->t->nnodes + w) * 2 + tree, *memo;
	bool yes = false;

	if (topo_is_server(r->t, w) || depth == 0)
		return true;
	if (route_node_dead(r->rt)[w])
		return false;
	if (g != UINT32_MAX && (memo = hmap_get(&r->carry, key)))
		return *memo;
	for (uint32_t p = 0; p < r->t->nodes[w].degree && !yes; p++) {
		const struct topo_adj *a = topo_port(r->t, w, p);
		const struct topo_link *lk = &r->t->links[a->link];
		uint16_t back = lk->a == w ? lk->pb : lk->pa;

		if (ldead[a->link] || a->peer == owner)
			continue;
		if (topo_is_server(r->t, a->peer))
			yes = route_egress(r->rt, a->peer, owner, tree) == back ||
			      route_egress(r->base, a->peer, owner, tree) == back;
		else
			yes = sends_to(r, a->peer, idx, back) &&
			      carries_d(r, a->peer, owner, tree, depth - 1);
	}
	if (g != UINT32_MAX)
		hmap_put(&r->carry, key, yes);
	return yes;
}

static bool carries(struct ras *r, uint32_t w, uint32_t owner, unsigned tree)
{
	return carries_d(r, w, owner, tree, RAS_CARRY_DEPTH);
}

struct link_users {
	struct ras *r;
	uint32_t link;
};

/* A (server, tree) whose entry at one end of a failing link sends over it:
 * held if that end carries the tree's traffic (checked before the routes
 * drop the link). */
static void hold_user(void *arg, uint32_t owner, unsigned tree)
{
	struct link_users *u = arg;
	const struct topo_link *lk = &u->r->t->links[u->link];
	uint32_t end = route_egress(u->r->rt, lk->a, owner, tree) == lk->pa ? lk->a : lk->b;

	if (carries(u->r, end, owner, tree))
		hold_pair(u->r, owner, tree);
	else
		u->r->st.pairs_spared++;
}

static void announce_held(struct ras *r, struct ras_out *o)
{
	for (uint32_t idx = 0; idx < r->nidx; idx++) {
		if (r->held[idx] == 2) {
			r->held[idx] = 1;
			out_avail(r, o, idx, false);
		}
	}
}

/* A switch has failed when every link to another switch is down: only
 * switches report links, so its server links are never heard of. */
static bool switch_links_dead(const struct ras *r, uint32_t node)
{
	const uint8_t *ldead = route_link_dead(r->rt);
	uint32_t nsw = 0;

	for (uint32_t p = 0; p < r->t->nodes[node].degree; p++) {
		const struct topo_adj *a = topo_port(r->t, node, p);

		if (topo_is_server(r->t, a->peer))
			continue;
		nsw++;
		if (!ldead[a->link])
			return false;
	}
	return nsw > 0;
}

/* An op of the delta: its entry is dirty, and its pair held if hold says
 * so. */
static void take_op(struct ras *r, const struct route_fib_op *op, bool hold)
{
	struct ras_sw *s = r->sw[op->sw];

	if (hold)
		hold_pair(r, op->owner, op->tree);
	if (s && s->state != RS_NONE)
		mark_dirty(s, r->t->nodes[op->owner].index * 2 + op->tree);
}

/* Switch node stops answering: its entries that are not what the routes
 * say (a change a failure made without holding the pair, in_order) may now
 * send packets back where they came from; their pairs are held until it is
 * read and reprogrammed (stale_on_lost). */
static void hold_stale(struct ras *r, uint32_t node, struct ras_out *o)
{
	const struct ras_sw *s = r->sw[node];

	for (uint32_t idx = 0; idx < r->nidx; idx++)
		if (s->have[idx] != want_port(r, node, idx))
			hold_pair(r, idx_owner(r, idx), idx % 2);
	for (uint32_t idx = 0; idx < r->nidx; idx++)
		if (r->held[idx] == 2) {
			r->st.converged = false;
			break;
		}
	announce_held(r, o);
}

/* Every switch that holds entries is programmed in order (wait_parent):
 * none is being read or lost. */
static bool in_order(const struct ras *r)
{
	for (uint32_t n = 0; n < r->t->nnodes; n++)
		if (r->sw[n] && (r->sw[n]->state == RS_DUMPING || r->sw[n]->state == RS_LOST))
			return false;
	return true;
}

static void defer_op(struct ras *r, const struct route_fib_op *op)
{
	if (r->ndeferred == r->capdeferred) {
		r->capdeferred = r->capdeferred ? r->capdeferred * 2 : 256;
		r->deferred = xreallocarray(r->deferred, r->capdeferred, sizeof(*r->deferred));
	}
	r->deferred[r->ndeferred++] = *op;
	r->st.deferred_ops++;
}

/* Take ops now, or defer those that would leave a server with both trees
 * held: an op whose other tree is held (and will be released), and a tree-1
 * op whose tree 0 changes now.  Tree-0 ops go first, so each phase makes
 * progress. */
static void schedule(struct ras *r, const struct route_fib_op *ops, size_t n)
{
	memset(r->owner_t0, 0, r->t->nservers);
	for (size_t i = 0; i < n; i++) {
		uint32_t si = r->t->nodes[ops[i].owner].index;

		if (ops[i].tree == 0 && !(r->held[si * 2 + 1] && reachable(r, si * 2 + 1)))
			r->owner_t0[si] = 1;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t si = r->t->nodes[ops[i].owner].index;
		uint32_t other = si * 2 + !ops[i].tree;

		if ((r->held[other] && reachable(r, other)) || (ops[i].tree == 1 && r->owner_t0[si]))
			defer_op(r, &ops[i]);
		else
			take_op(r, &ops[i], true);
	}
}

/* Apply the delta: every touched entry is dirty, then reconcile.
 *
 * A pair is held while its tree is broken or its entries change in a way
 * that could loop, and the agents send on the other tree.  A link failure
 * breaks one of a server's two trees at most (they are disjoint), but a
 * recovery (a link or a switch back) may move both
 * trees of many servers at once: held together, those servers would be
 * unreachable until every switch answered.  Nothing is broken in a
 * recovery, so it goes in phases (schedule()): no server has both trees
 * held, the changes that would do that wait until the fabric is programmed
 * (apply_deferred).  Every server keeps a tree it may use all along. */
static void apply_delta(struct ras *r, bool recovery, uint64_t now, struct ras_out *o)
{
	struct route_delta *d = &r->delta;

	if (recovery) {
		schedule(r, d->ops, d->nops);
	} else {
		/* What a failure broke was held as it came in (hold_user) and
		 * is reprogrammed now, also in the middle of a recovery.  The
		 * other trees it changes (a recomputed group moves entries of
		 * trees the failure did not cut) lose no packet while they
		 * change: their old paths work, and root-outward programming
		 * (wait_parent) sends a packet that meets a new entry along new
		 * entries only, all installed.  That holds while every switch
		 * is programmed in order; with one being read or lost, the
		 * changed pairs are held as before. */
		bool hold = !in_order(r);

		for (size_t i = 0; i < d->nops; i++)
			take_op(r, &d->ops[i], hold);
	}
	announce_held(r, o);	/* to the directory before the switches */
	r->st.ev_ops = d->nops;
	r->st.converged = false;
	for (uint32_t n = 0; n < r->t->nnodes; n++)
		reconcile(r, n, now, o);
}

/* The next phase of a recovery: the fabric is programmed, the held pairs
 * released. */
static void apply_deferred(struct ras *r, uint64_t now, struct ras_out *o)
{
	struct route_fib_op *ops = r->deferred;
	size_t n = r->ndeferred;

	r->deferred = NULL;
	r->ndeferred = r->capdeferred = 0;
	schedule(r, ops, n);
	free(ops);
	announce_held(r, o);
	r->st.converged = false;
	for (uint32_t node = 0; node < r->t->nnodes; node++)
		reconcile(r, node, now, o);
}

static void switch_dead(struct ras *r, uint32_t node)
{
	struct ras_sw *s = r->sw[node];

	route_node_down(r->rt, node, &r->delta);
	r->st.node_events++;
	core_log(&r->c.log, LOG_INFO, "switch %s failed: every link to a switch is down", r->t->nodes[node].name);
	if (s && s->state != RS_NONE) {
		s->state = RS_DEAD;
		s->busy = RS_IDLE;
	}
}

static void switch_back(struct ras *r, uint32_t node, uint64_t now, struct ras_out *o)
{
	struct ras_sw *s = r->sw[node];

	route_node_up(r->rt, node, &r->delta);
	r->st.node_events++;
	core_log(&r->c.log, LOG_INFO, "switch %s is back: reading its table", r->t->nodes[node].name);
	if (s && s->state != RS_NONE)
		begin_dump(r, node, now, o);
}

static void link_event(struct ras *r, uint32_t l, bool up, uint64_t now, struct ras_out *o)
{
	const struct topo_link *lk = &r->t->links[l];
	uint32_t ends[2] = { lk->a, lk->b };

	if (!route_link_dead(r->rt)[l] == up)
		return;
	r->st.link_events++;
	r->st.ev_at_ns = now;
	r->st.ev_pairs = 0;
	route_delta_reset(&r->delta);
	if (up) {
		for (int i = 0; i < 2; i++)
			if (route_node_dead(r->rt)[ends[i]])
				switch_back(r, ends[i], now, o);
		route_link_up(r->rt, l, &r->delta);
	} else {
		struct link_users u = { r, l };

		hmap_clear(&r->carry);
		route_link_users(r->rt, l, hold_user, &u);
		route_link_down(r->rt, l, &r->delta);
		for (int i = 0; i < 2; i++)
			if (!topo_is_server(r->t, ends[i]) && !route_node_dead(r->rt)[ends[i]] &&
			    switch_links_dead(r, ends[i])) {
				switch_dead(r, ends[i]);
				if (r->sw[ends[i]] && r->sw[ends[i]]->state == RS_DEAD)
					ports_settled(r, ends[i], now, o);
			}
	}
	apply_delta(r, up, now, o);
	rd_routes_changed(r, now, o);
	core_log(&r->c.log, LOG_INFO, "link %s:%u - %s:%u %s: %zu forwarding changes, %u more pairs held",
		 r->t->nodes[lk->a].name, lk->pa, r->t->nodes[lk->b].name, lk->pb,
		 up ? "up" : "down", r->delta.nops, r->st.ev_pairs);
	check_converged(r, now, o);
}

static void on_link(struct ras *r, struct ras_addr from, uint32_t node,
		    const struct swp_msg *m, uint64_t now, struct ras_out *o)
{
	struct swp_hdr h = { .type = SWP_LINK_ACK, .sender = r->c.id, .seq = m->h.seq };
	struct ras_dgram *d;

	if (m->u.link.port >= r->t->nodes[node].degree) {
		ras_drop(r, RAS_DROP_PORT, now);
		return;
	}
	r->st.link_reports++;
	d = ras_out_dgram(o, from);
	d->len = swp_enc_link_ack(d->buf, sizeof(d->buf), &h, m->h.seq, &r->c.key);
	assert(d->len);
	/* A retransmitted older report (its ack was lost) must not undo a
	 * newer one: acknowledged, not applied. */
	if (m->h.seq <= r->sw[node]->port_seq[m->u.link.port]) {
		r->st.old_reports++;
		return;
	}
	r->sw[node]->port_seq[m->u.link.port] = m->h.seq;
	r->sw[node]->port_at[m->u.link.port] = now;
	link_event(r, topo_port(r->t, node, m->u.link.port)->link,
		   m->u.link.state == SWP_PORT_UP, now, o);
}

static void input(struct ras *r, struct ras_addr from, const uint8_t *buf, size_t len,
		  uint64_t now, struct ras_out *o)
{
	struct swp_msg m;
	uint32_t node;
	int e;

	if (ra_input(r, from, buf, len, now, o))
		return;
	if (len >= 2 && wire_get16(buf) == RASP_MAGIC) {
		rd_input(r, from, buf, len, now, o);
		check_converged(r, now, o);
		rd_step(r, now, o);
		return;
	}
	e = swp_decode(buf, len, &r->c.key, &m);
	if (e < 0) {
		ras_drop(r, RAS_DROP_DECODE + -e, now);
		return;
	}
	node = m.h.sender;
	if (node >= r->t->nnodes || !r->sw[node] || r->c.sw[node].ip != from.ip) {
		ras_drop(r, RAS_DROP_SENDER, now);
		return;
	}
	switch (m.h.type) {
	case SWP_FIB_ACK:
		on_fib_ack(r, node, &m, now, o);
		break;
	case SWP_DUMP_FIB:
		on_dump(r, node, &m, now, o);
		break;
	case SWP_DUMP_PORTS:
		on_ports(r, node, &m, now, o);
		break;
	case SWP_LINK:
		on_link(r, from, node, &m, now, o);
		break;
	default:
		ras_drop(r, RAS_DROP_UNEXPECTED, now);
		return;
	}
	check_converged(r, now, o);
	rd_step(r, now, o);
}

/* ---- time ------------------------------------------------------------------------ */
static uint64_t tick_switch(struct ras *r, uint32_t node, uint64_t now, struct ras_out *o)
{
	struct ras_sw *s = r->sw[node];

	if (s->state == RS_LOST)
		return now >= s->resync_at ? (begin_dump(r, node, now, o), s->due) : s->resync_at;
	if (!s->busy && s->state == RS_READY && now >= s->audit_at) {
		s->audit_at = now + (uint64_t)RAS_AUDIT_MS * 1000000ull;
		/* entry counts and port states in turn, counts first */
		bool ports = s->audit_ports;

		s->audit_ports = !ports;
		if (ports) {
			s->audit_sent = now;
			send_dump(r, node, RS_PORT_AUDIT, now, o);
		} else {
			r->st.audits++;
			send_dump(r, node, RS_AUDIT, now, o);
		}
		return s->due;
	}
	if (!s->busy && s->state == RS_READY && s->ndirty) {
		/* entries that waited for a parent that is gone or gave up */
		reconcile(r, node, now, o);
		if (s->busy)
			return s->due;
	}
	if (!s->busy)
		return s->state == RS_READY ? s->audit_at : UINT64_MAX;
	if (now < s->due)
		return s->due;
	if (s->tries < r->c.tries) {
		r->st.retransmits++;
		transmit(r, node, now, o);
		return s->due;
	}
	core_log_rl(&r->c.log, &r->rl, now, LOG_WARN, "switch %s does not answer: reading it again in %u ms",
		   r->t->nodes[node].name, RAS_RESYNC_MS);
	r->st.lost++;
	s->busy = RS_IDLE;
	ports_settled(r, node, now, o);
	hold_stale(r, node, o);
	s->state = RS_LOST;
	s->ndirty = 0;
	memset(s->is_dirty, 0, r->nidx);
	dclear(s);
	s->resync_at = now + (uint64_t)RAS_RESYNC_MS * 1000000ull;
	return s->resync_at;
}

void ras_input(struct ras *r, struct ras_addr from, const uint8_t *buf, size_t len,
	       uint64_t now, struct ras_out *o)
{
	input(r, from, buf, len, now, o);
	ra_flush(r, now, o);	/* the changes it made, to the directory */
}

uint64_t ras_tick(struct ras *r, uint64_t now, struct ras_out *o)
{
	uint64_t next = UINT64_MAX, due;

	for (uint32_t n = 0; n < r->t->nnodes; n++) {
		if (!r->sw[n] || r->sw[n]->state == RS_NONE || r->sw[n]->state == RS_DEAD)
			continue;
		due = tick_switch(r, n, now, o);
		if (due < next)
			next = due;
	}
	check_converged(r, now, o);
	due = rd_step(r, now, o);
	next = MIN(next, due);
	return MIN(next, ra_step(r, now, o));
}

void ras_start(struct ras *r, uint64_t now, struct ras_out *o)
{
	r->st.ev_at_ns = now;
	r->st.converged = false;
	for (uint32_t n = 0; n < r->t->nnodes; n++) {
		struct ras_sw *s = r->sw[n];

		if (s && s->state != RS_NONE) {
			r->ports_pending++;
			s->state = RS_DUMPING;
			s->dump_offset = 0;
		} else if (s) {
			s->ports_known = true;
		}
	}
	for (uint32_t n = 0; n < r->t->nnodes; n++)
		if (r->sw[n] && !r->sw[n]->ports_known)
			send_dump(r, n, RS_PORTS, now, o);
	check_converged(r, now, o);
	ra_flush(r, now, o);
}

/* ---- life ----------------------------------------------------------------------- */
int ras_new(const struct ras_cfg *c, uint64_t now, struct ras **out, char *err, size_t errlen)
{
	struct ras *r = xcalloc(1, sizeof(*r));
	const struct topo *t = c->t;
	int rc;

	r->c = *c;
	r->c.id = c->id ? c->id : RAS_SENDER_ID;
	r->c.rto_ms = c->rto_ms ? c->rto_ms : RAS_RTO_MS;
	r->c.tries = c->tries ? c->tries : RAS_TRIES;
	r->c.lb_ms = c->lb_ms ? c->lb_ms : RAS_LB_MS;
	r->c.max_pairs = c->max_pairs ? c->max_pairs : RAS_MAX_PAIRS;
	r->c.min_mbps = c->min_mbps > 0 ? c->min_mbps : RAS_MIN_MBPS;
	r->t = t;
	r->seq = c->seq_base;
	r->rl = (struct log_rl)LOG_RL_INIT(1000, 10);
	if (t->nservers > PGR_NODE_MAX - 1) {
		snprintf(err, errlen, "%u servers: more than Peregrine MACs can number",
			 t->nservers);
		free(r);
		return -EINVAL;
	}
	if ((rc = route_trees_new(t, NULL, NULL, &r->rt, err, errlen))) {
		free(r);
		return rc;
	}
	if ((rc = route_trees_new(t, NULL, NULL, &r->base, err, errlen))) {
		route_trees_free(r->rt);
		free(r);
		return rc;
	}
	route_delta_init(&r->delta);
	hmap_init(&r->carry, 64, c->seq_base);
	r->nidx = t->nservers * 2;
	r->held = xmalloc(r->nidx ? r->nidx : 1);
	memset(r->held, 1, r->nidx);	/* announced available once programmed */
	r->owner_t0 = xcalloc(r->t->nservers ? r->t->nservers : 1, 1);
	r->sw = xcalloc(t->nnodes, sizeof(*r->sw));
	for (uint32_t n = 0; n < t->nnodes; n++) {
		struct ras_sw *s;

		if (topo_is_server(t, n))
			continue;
		s = r->sw[n] = xcalloc(1, sizeof(*s));
		s->have = xcalloc(r->nidx + 1, sizeof(*s->have));
		s->is_dirty = xcalloc(r->nidx + 1, 1);
		s->dirty = xcalloc(r->nidx + 1, sizeof(*s->dirty));
		s->foreign = xcalloc(RAS_MAX_FOREIGN, sizeof(*s->foreign));
		s->port_seq = xcalloc(t->nodes[n].degree + 1u, sizeof(*s->port_seq));
		s->port_at = xcalloc(t->nodes[n].degree + 1u, sizeof(*s->port_at));
		hmap_init(&s->dhave, 16, 0x6468ull + n);
		hmap_init(&s->dmark, 16, 0x646dull + n);
		s->state = c->sw[n].ip ? RS_READY : RS_NONE;
	}
	r->d = rd_new(r, now);
	r->av = ra_new(r);
	*out = r;
	return 0;
}

void ras_free(struct ras *r)
{
	if (!r)
		return;
	free(r->deferred);
	free(r->owner_t0);
	for (uint32_t n = 0; n < r->t->nnodes; n++) {
		struct ras_sw *s = r->sw[n];

		if (!s)
			continue;
		free(s->have);
		free(s->is_dirty);
		free(s->dirty);
		free(s->foreign);
		free(s->port_seq);
		free(s->port_at);
		hmap_free(&s->dhave);
		hmap_free(&s->dmark);
		free(s->ddirty);
		free(s);
	}
	rd_free(r->d);
	ra_free(r->av);
	free(r->sw);
	free(r->held);
	route_delta_free(&r->delta);
	route_trees_free(r->rt);
	route_trees_free(r->base);
	hmap_free(&r->carry);
	free(r);
}

const struct ras_stats *ras_stats(const struct ras *r)
{
	return &r->st;
}

const struct route_trees *ras_routes(const struct ras *r)
{
	return r->rt;
}

void ras_reconcile_all(struct ras *r, uint64_t now, struct ras_out *o)
{
	for (uint32_t n = 0; n < r->t->nnodes; n++)
		reconcile(r, n, now, o);
	check_converged(r, now, o);
}

bool ras_sw_usable(const struct ras *r, uint32_t node)
{
	const struct ras_sw *s = r->sw[node];

	return s && s->state != RS_NONE && s->state != RS_DEAD && !route_node_dead(r->rt)[node];
}
