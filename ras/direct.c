/* Traffic-driven direct routes of the RAS core (ras/ras.h, docs/ras.md).
 *
 * Three layers, each moved only when the one below allows it:
 *   1. the plan: per destination VM, the direct entries (switch, port) its
 *      MAC should have and the source servers that should send direct,
 *      recomputed by route_lb() every lb_ms from the traffic matrix;
 *   2. the wanted entries, which ras/ras.c reconciles with what the switches
 *      have like the tree entries: a plan that only adds entries is wanted
 *      at once; one that removes or changes an entry only once no agent may
 *      still send direct to that VM;
 *   3. the agents: told DIRECT on only while the plan is what is wanted and
 *      every wanted entry is acknowledged, DIRECT off before anything of
 *      that VM is removed.  One DIRECT in flight per agent, retransmitted
 *      with the same seq until the agent's ACK.
 * The source servers' NICs all join the VM's tree (whichever NIC the agent
 * picks, its first switch carries the entry). */
#include "ras/ras_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "route/lbtree.h"
#include "wire/pgr.h"

#define RD_MS 1000000ull
#define RD_NONE UINT32_MAX
#define RD_RESTART_GAP 1000000ull	/* an agent's seq jumping this far: it restarted */
enum { RD_MAX_MATRIX = 1 << 20, RD_MAX_INTERVAL_MS = 60000 };

struct rd_ent {
	uint32_t sw;
	uint16_t port;
};

struct rd_src {
	uint32_t srv;		/* server index */
	uint8_t want;		/* the plan says: send direct */
	uint8_t have;		/* the agent acknowledged on */
	uint8_t maybe;		/* state unknown (restart): tell it either way */
	uint8_t sent, sent_on;	/* a record in flight, and what it says */
};

struct rd_vm {
	uint32_t id;		/* primary id: the MAC its entries match */
	uint32_t server;	/* server index it was planned toward */
	double mbps;
	struct rd_ent *plan, *want;
	uint32_t nplan, nwant, capplan, capwant;
	struct rd_src *src;
	uint32_t nsrc, capsrc;
	bool adopted;		/* found in a dump before the first computation */
	uint64_t run;		/* the computation that chose it */
};

struct rd_agent {
	struct ras_addr addr;
	bool known;		/* it reported: its address is known */
	bool busy;
	uint64_t last_seq;
	uint64_t seq, due;
	uint32_t tries;
	uint16_t n;
	uint32_t recs[RASP_MAX_DIRECT];	/* VM ids in flight */
	size_t len;
	uint8_t buf[RASP_MAX_DGRAM];
};

struct rd_pair {
	uint32_t src_id, dst_id, src_srv;
	uint64_t bytes;
};

struct ras_direct {
	struct rasp_replay *replay;
	struct hmap vm_at;		/* VM id -> index in vms */
	struct rd_vm **vms;
	uint32_t nvms, capvms;
	struct hmap want;		/* sw << 32 | VM id -> port + 1 */
	struct hmap loc;		/* VM id -> server index + 1 */
	struct hmap hold;		/* VM id -> MOVED hold ends (ns) */
	struct hmap pair_at;		/* src << 32 | dst -> index in pairs */
	struct rd_pair *pairs;
	uint32_t npairs, cappairs;
	uint64_t *win_ms;		/* per server index: ms reported this window */
	struct rd_agent **agents;	/* per server index, once heard of */
	uint64_t lb_due, now0, run;
	uint32_t nservers;
	bool lb_done;			/* the first computation was made */
};

/* ---- small helpers ----------------------------------------------------------- */
static bool is_vm_id(const struct ras *r, uint32_t id)
{
	return pgr_id_valid(id) && pgr_id_tree(id) == 0 && pgr_id_node(id) > r->t->nservers &&
	       pgr_id_node(id) <= PGR_NODE_MAX;
}

static struct rd_vm *vm_find(const struct ras_direct *d, uint32_t id)
{
	uint64_t *v = hmap_get(&d->vm_at, id);

	return v ? d->vms[*v] : NULL;
}

static struct rd_vm *vm_get(struct ras_direct *d, uint32_t id)
{
	struct rd_vm *vm = vm_find(d, id);

	if (vm)
		return vm;
	if (d->nvms == d->capvms) {
		d->capvms = d->capvms ? d->capvms * 2 : 16;
		d->vms = xreallocarray(d->vms, d->capvms, sizeof(*d->vms));
	}
	vm = xcalloc(1, sizeof(*vm));
	vm->id = id;
	vm->server = RD_NONE;
	hmap_put(&d->vm_at, id, d->nvms);
	d->vms[d->nvms++] = vm;
	return vm;
}

static void vm_drop(struct ras_direct *d, uint32_t i)
{
	struct rd_vm *vm = d->vms[i];

	hmap_del(&d->vm_at, vm->id);
	free(vm->plan);
	free(vm->want);
	free(vm->src);
	free(vm);
	d->vms[i] = d->vms[--d->nvms];
	if (i < d->nvms)
		hmap_put(&d->vm_at, d->vms[i]->id, i);
}

static void ent_push(struct rd_ent **v, uint32_t *n, uint32_t *cap, struct rd_ent e)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*v = xreallocarray(*v, *cap, sizeof(**v));
	}
	(*v)[(*n)++] = e;
}

static uint16_t ent_port(const struct rd_ent *v, uint32_t n, uint32_t sw)
{
	for (uint32_t i = 0; i < n; i++)
		if (v[i].sw == sw)
			return v[i].port;
	return ROUTE_NO_PORT;
}

/* Every entry of a is in b with the same port. */
static bool ents_within(const struct rd_ent *a, uint32_t na, const struct rd_ent *b, uint32_t nb)
{
	for (uint32_t i = 0; i < na; i++)
		if (ent_port(b, nb, a[i].sw) != a[i].port)
			return false;
	return true;
}

static struct rd_src *src_find(struct rd_vm *vm, uint32_t srv)
{
	for (uint32_t i = 0; i < vm->nsrc; i++)
		if (vm->src[i].srv == srv)
			return &vm->src[i];
	return NULL;
}

static struct rd_src *src_get(struct rd_vm *vm, uint32_t srv)
{
	struct rd_src *s = src_find(vm, srv);

	if (s)
		return s;
	if (vm->nsrc == vm->capsrc) {
		vm->capsrc = vm->capsrc ? vm->capsrc * 2 : 4;
		vm->src = xreallocarray(vm->src, vm->capsrc, sizeof(*vm->src));
	}
	vm->src[vm->nsrc] = (struct rd_src){ .srv = srv };
	return &vm->src[vm->nsrc++];
}

/* Some agent may send direct to this VM now or once its message lands. */
static bool maybe_on(const struct rd_vm *vm)
{
	for (uint32_t i = 0; i < vm->nsrc; i++) {
		const struct rd_src *s = &vm->src[i];

		if (s->have || s->maybe || (s->sent && s->sent_on))
			return true;
	}
	return false;
}

static uint32_t loc_of(const struct ras_direct *d, uint32_t id)
{
	uint64_t *v = hmap_get(&d->loc, id);

	return v ? (uint32_t)(*v - 1) : RD_NONE;
}

static void withdraw(struct rd_vm *vm)
{
	vm->nplan = 0;
	for (uint32_t i = 0; i < vm->nsrc; i++)
		vm->src[i].want = 0;
}

/* An entry can still be used: its switch is programmed and alive, the link
 * behind its port is up. */
static bool ent_alive(const struct ras *r, const struct rd_ent *e)
{
	if (!ras_sw_usable(r, e->sw) || e->port >= r->t->nodes[e->sw].degree)
		return false;
	return !route_link_dead(r->rt)[topo_port(r->t, e->sw, e->port)->link];
}

/* Every link of server index s is up. */
static bool server_links_up(const struct ras *r, uint32_t s)
{
	uint32_t node = r->t->servers[s];

	for (uint32_t p = 0; p < r->t->nodes[node].degree; p++)
		if (route_link_dead(r->rt)[topo_port(r->t, node, p)->link])
			return false;
	return true;
}

static bool plan_alive(const struct ras *r, const struct rd_vm *vm)
{
	for (uint32_t i = 0; i < vm->nplan; i++)
		if (!ent_alive(r, &vm->plan[i]))
			return false;
	for (uint32_t i = 0; i < vm->nsrc; i++)
		if (vm->src[i].want && !server_links_up(r, vm->src[i].srv))
			return false;
	return true;
}

/* Every wanted entry is acknowledged by its switch. */
static bool installed(const struct ras *r, const struct rd_vm *vm)
{
	if (!vm->nwant)
		return false;
	for (uint32_t i = 0; i < vm->nwant; i++) {
		const struct ras_sw *s = r->sw[vm->want[i].sw];
		uint64_t *v;

		if (!s || s->state != RS_READY)
			return false;
		v = hmap_get(&s->dhave, vm->id);
		if (!v || *v - 1 != vm->want[i].port)
			return false;
	}
	return true;
}

static bool plan_is_want(const struct rd_vm *vm)
{
	return vm->nplan == vm->nwant && ents_within(vm->want, vm->nwant, vm->plan, vm->nplan);
}

/* ---- what the switches should have -------------------------------------------- */
uint16_t rd_want(const struct ras *r, uint32_t node, uint32_t vm_id)
{
	uint64_t *v = hmap_get(&r->d->want, (uint64_t)node << 32 | vm_id);

	return v ? (uint16_t)(*v - 1) : ROUTE_NO_PORT;
}

void rd_dumped(struct ras *r, uint32_t node, uint32_t vm_id, uint16_t port)
{
	struct ras_direct *d = r->d;
	struct rd_vm *vm;

	ras_dmark(r, node, vm_id);
	/* Before the first computation (a restart): kept as found, agents may
	 * be sending to it. */
	if (d->lb_done || !is_vm_id(r, vm_id) || !ent_alive(r, &(struct rd_ent){ node, port }))
		return;
	vm = vm_get(d, vm_id);
	if (vm->nplan && !vm->adopted)
		return;
	vm->adopted = true;
	if (ent_port(vm->want, vm->nwant, node) != ROUTE_NO_PORT)
		return;
	ent_push(&vm->want, &vm->nwant, &vm->capwant, (struct rd_ent){ node, port });
	ent_push(&vm->plan, &vm->nplan, &vm->capplan, (struct rd_ent){ node, port });
	hmap_put(&d->want, (uint64_t)node << 32 | vm_id, (uint64_t)port + 1);
}

void rd_dump_done(struct ras *r, uint32_t node)
{
	struct ras_direct *d = r->d;

	for (uint32_t i = 0; i < d->nvms; i++) {
		const struct rd_vm *vm = d->vms[i];

		if (ent_port(vm->want, vm->nwant, node) != ROUTE_NO_PORT)
			ras_dmark(r, node, vm->id);
	}
}

/* Make the plan what is wanted, if the agents allow it; marks the entries
 * that change.  Returns true if anything was marked. */
static bool vm_advance(struct ras *r, struct rd_vm *vm)
{
	struct ras_direct *d = r->d;

	if (plan_is_want(vm))
		return false;
	if (!ents_within(vm->want, vm->nwant, vm->plan, vm->nplan) && maybe_on(vm))
		return false;	/* DIRECT off first */
	for (uint32_t i = 0; i < vm->nwant; i++) {
		hmap_del(&d->want, (uint64_t)vm->want[i].sw << 32 | vm->id);
		ras_dmark(r, vm->want[i].sw, vm->id);
	}
	vm->nwant = 0;
	for (uint32_t i = 0; i < vm->nplan; i++) {
		ent_push(&vm->want, &vm->nwant, &vm->capwant, vm->plan[i]);
		hmap_put(&d->want, (uint64_t)vm->plan[i].sw << 32 | vm->id,
			 (uint64_t)vm->plan[i].port + 1);
		ras_dmark(r, vm->plan[i].sw, vm->id);
	}
	return true;
}

/* ---- the agents --------------------------------------------------------------------- */
static struct rd_agent *agent_get(struct ras_direct *d, uint32_t srv)
{
	if (!d->agents[srv])
		d->agents[srv] = xcalloc(1, sizeof(*d->agents[srv]));
	return d->agents[srv];
}

static uint64_t ras_wall(const struct ras *r, uint64_t now)
{
	return r->c.seq_base + (now - r->d->now0);
}

static void send_ack(struct ras *r, struct ras_addr to, uint64_t acked, uint64_t now,
		     struct ras_out *o)
{
	struct rasp_hdr h = { RASP_ACK, r->c.id, ++r->seq, ras_wall(r, now) };
	struct ras_dgram *g = ras_out_dgram(o, to);

	g->len = rasp_enc_ack(g->buf, sizeof(g->buf), &h, acked, &r->c.key);
	assert(g->len);
	r->st.acks_sent++;
}

static void agent_transmit(struct ras *r, struct rd_agent *a, uint64_t now, struct ras_out *o)
{
	struct ras_dgram *g = ras_out_dgram(o, a->addr);
	uint32_t backoff = a->tries < 4 ? 1u << a->tries : 8;

	memcpy(g->buf, a->buf, a->len);
	g->len = a->len;
	a->tries++;
	a->due = now + (uint64_t)RAS_DIRECT_RTO_MS * backoff * RD_MS;
}

/* The agent forgot what it was told (restarted) or is gone. */
static void agent_forget(struct ras *r, uint32_t srv)
{
	struct ras_direct *d = r->d;

	for (uint32_t i = 0; i < d->nvms; i++) {
		struct rd_src *s = src_find(d->vms[i], srv);

		if (s)
			s->have = s->maybe = s->sent = 0;
	}
	d->agents[srv]->busy = false;
}

/* One pass over every VM: what each idle agent must be told, then send. */
static void agents_send(struct ras *r, uint64_t now, struct ras_out *o)
{
	struct ras_direct *d = r->d;

	for (uint32_t i = 0; i < d->nvms; i++) {
		struct rd_vm *vm = d->vms[i];
		bool ready = d->lb_done && plan_is_want(vm) && installed(r, vm);

		for (uint32_t k = 0; k < vm->nsrc; k++) {
			struct rd_src *s = &vm->src[k];
			struct rd_agent *a = d->agents[s->srv];
			bool on = s->want && ready;

			if (s->sent || (on == s->have && !s->maybe) || !a || !a->known || a->busy ||
			    a->n == RASP_MAX_DIRECT)
				continue;
			if (!d->lb_done)
				continue;
			s->sent = 1;
			s->sent_on = on;
			a->recs[a->n++] = vm->id;
		}
	}
	for (uint32_t srv = 0; srv < r->t->nservers; srv++) {
		struct rd_agent *a = d->agents[srv];
		struct rasp_direct recs[RASP_MAX_DIRECT];
		struct rasp_hdr h = { RASP_DIRECT, r->c.id, 0, ras_wall(r, now) };

		if (!a || a->busy || !a->n)
			continue;
		for (uint16_t k = 0; k < a->n; k++) {
			struct rd_src *s = src_find(vm_find(d, a->recs[k]), srv);

			recs[k] = (struct rasp_direct){ a->recs[k], 0, s->sent_on };
		}
		h.seq = ++r->seq;
		a->len = rasp_enc_direct(a->buf, sizeof(a->buf), &h, recs, a->n, &r->c.key);
		assert(a->len);
		a->seq = h.seq;
		a->busy = true;
		a->tries = 0;
		r->st.direct_sent++;
		agent_transmit(r, a, now, o);
	}
}

static void on_agent_ack(struct ras *r, uint32_t srv, const struct rasp_msg *m, uint64_t now)
{
	struct ras_direct *d = r->d;
	struct rd_agent *a = d->agents[srv];

	if (!a || !a->busy || m->u.ack.acked != a->seq) {
		ras_drop(r, RAS_DROP_ACK, now);
		return;
	}
	for (uint16_t k = 0; k < a->n; k++) {
		struct rd_vm *vm = vm_find(d, a->recs[k]);
		struct rd_src *s = vm ? src_find(vm, srv) : NULL;

		assert(s && s->sent);
		if (s->have != s->sent_on)
			core_log_rl(&r->c.log, &r->rl, now, LOG_INFO, "%s %s direct to VM %06x",
				   r->t->nodes[r->t->servers[srv]].name,
				   s->sent_on ? "sends" : "no longer sends", vm->id);
		s->have = s->sent_on;
		s->sent = 0;
		s->maybe = 0;
		if (s->have)
			r->st.direct_on++;
		else
			r->st.direct_off++;
	}
	a->n = 0;
	a->busy = false;
	r->st.direct_acked++;
}

static uint64_t agents_tick(struct ras *r, uint64_t now, struct ras_out *o)
{
	struct ras_direct *d = r->d;
	uint64_t next = UINT64_MAX;

	for (uint32_t srv = 0; srv < r->t->nservers; srv++) {
		struct rd_agent *a = d->agents[srv];

		if (!a || !a->busy)
			continue;
		if (now >= a->due && a->tries < r->c.tries) {
			r->st.direct_retransmits++;
			agent_transmit(r, a, now, o);
		} else if (now >= a->due) {
			core_log_rl(&r->c.log, &r->rl, now, LOG_WARN,
				   "the agent of %s does not acknowledge DIRECT: taken as gone",
				   r->t->nodes[r->t->servers[srv]].name);
			r->st.agents_lost++;
			agent_forget(r, srv);
			a->n = 0;
			a->known = false;
			continue;
		}
		next = MIN(next, a->due);
	}
	return next;
}

/* ---- input --------------------------------------------------------------------------- */
/* Where a VM lives, as a report says; MOVED wins for a while. */
static void report_loc(struct ras_direct *d, uint32_t id, uint32_t srv, uint64_t now)
{
	uint64_t *hold = hmap_get(&d->hold, id);

	if (hold && now < *hold && loc_of(d, id) != srv)
		return;
	hmap_put(&d->loc, id, (uint64_t)srv + 1);
}

static void add_flow(struct ras *r, uint32_t srv, const struct rasp_flow *f)
{
	struct ras_direct *d = r->d;
	uint64_t key = (uint64_t)f->src_id << 32 | f->dst_id;
	uint64_t *at = hmap_get(&d->pair_at, key);

	if (!at) {
		if (d->npairs == RD_MAX_MATRIX)
			return;
		if (d->npairs == d->cappairs) {
			d->cappairs = d->cappairs ? d->cappairs * 2 : 64;
			d->pairs = xreallocarray(d->pairs, d->cappairs, sizeof(*d->pairs));
		}
		d->pairs[d->npairs] = (struct rd_pair){ f->src_id, f->dst_id, srv, 0 };
		hmap_put(&d->pair_at, key, d->npairs);
		at = hmap_get(&d->pair_at, key);
		d->npairs++;
	}
	d->pairs[*at].src_srv = srv;
	d->pairs[*at].bytes += f->bytes;
}

static void on_traffic(struct ras *r, struct ras_addr from, uint32_t srv,
		       const struct rasp_msg *m, uint64_t now, struct ras_out *o)
{
	struct ras_direct *d = r->d;
	struct rd_agent *a = agent_get(d, srv);
	bool bad = false;

	a->addr = from;
	a->known = true;
	r->st.traffic_reports++;
	if (m->u.traffic.part == 0)
		d->win_ms[srv] += MIN(m->u.traffic.interval_ms, (uint32_t)RD_MAX_INTERVAL_MS);
	for (uint16_t i = 0; i < m->u.traffic.n; i++) {
		struct rasp_flow f;

		rasp_flow_at(m, i, &f);
		if (!is_vm_id(r, f.src_id) || !is_vm_id(r, f.dst_id) ||
		    f.dst_server > r->t->nservers) {
			bad = true;
			continue;
		}
		r->st.traffic_flows++;
		report_loc(d, f.src_id, srv, now);
		if (f.dst_server != RASP_NO_SERVER)
			report_loc(d, f.dst_id, f.dst_server - 1, now);
		add_flow(r, srv, &f);
	}
	if (bad)
		ras_drop(r, RAS_DROP_VM, now);	/* the flows that make sense count */
	send_ack(r, from, m->h.seq, now, o);
}

static void on_moved(struct ras *r, struct ras_addr from, const struct rasp_msg *m,
		     bool replay, uint64_t now, struct ras_out *o)
{
	struct ras_direct *d = r->d;
	const struct rasp_moved *mv = &m->u.moved;
	struct rd_vm *vm;
	uint32_t srv;

	if (!is_vm_id(r, mv->vm_id) || mv->new_server >= r->t->nnodes ||
	    !topo_is_server(r->t, mv->new_server)) {
		ras_drop(r, RAS_DROP_VM, now);
		return;
	}
	/* A retransmission whose ACK was lost: acknowledged, not applied. */
	send_ack(r, from, m->h.seq, now, o);
	if (replay) {
		ras_drop(r, RAS_DROP_REPLAY, now);
		return;
	}
	r->st.moved++;
	srv = r->t->nodes[mv->new_server].index;
	hmap_put(&d->loc, mv->vm_id, (uint64_t)srv + 1);
	hmap_put(&d->hold, mv->vm_id, now + (uint64_t)RAS_MOVED_HOLD_MS * RD_MS);
	core_log(&r->c.log, LOG_INFO, "VM %06x moved to %s", mv->vm_id, r->t->nodes[mv->new_server].name);
	vm = vm_find(d, mv->vm_id);
	if (vm && vm->nplan && vm->server != srv) {
		withdraw(vm);
		r->st.withdrawn_moved++;
	}
	d->lb_due = MIN(d->lb_due, now + (uint64_t)RAS_REPLAN_MS * RD_MS);
}

void rd_input(struct ras *r, struct ras_addr from, const uint8_t *buf, size_t len,
	      uint64_t now, struct ras_out *o)
{
	struct ras_direct *d = r->d;
	struct rasp_msg m;
	uint32_t srv = RD_NONE;
	bool fresh;
	int e = rasp_decode(buf, len, &r->c.key, &m);

	if (e < 0) {
		ras_drop(r, RAS_DROP_RASP + -e, now);
		return;
	}
	if (m.h.type == RASP_DIRECT) {
		ras_drop(r, RAS_DROP_RASP_TYPE, now);
		return;
	}
	if (m.h.type != RASP_MOVED) {
		if (m.h.sender < 1 || m.h.sender > r->t->nservers) {
			ras_drop(r, RAS_DROP_AGENT, now);
			return;
		}
		srv = m.h.sender - 1;
	}
	/* An agent that restarted starts its seq at its start time: far above
	 * the last one.  It has forgotten every DIRECT. */
	if (srv != RD_NONE && d->agents[srv] && d->agents[srv]->last_seq &&
	    m.h.seq > d->agents[srv]->last_seq + RD_RESTART_GAP) {
		r->st.agent_restarts++;
		agent_forget(r, srv);
		d->agents[srv]->n = 0;
	}
	fresh = rasp_replay_accept(d->replay, m.h.sender, m.h.seq);
	if (m.h.type == RASP_MOVED) {
		on_moved(r, from, &m, !fresh, now, o);
		return;
	}
	if (!fresh) {
		ras_drop(r, RAS_DROP_REPLAY, now);
		return;
	}
	agent_get(d, srv)->last_seq = m.h.seq;
	if (m.h.type == RASP_TRAFFIC)
		on_traffic(r, from, srv, &m, now, o);
	else
		on_agent_ack(r, srv, &m, now);
}

/* ---- computing the direct routes ------------------------------------------------------- */
struct lb_vm {
	uint32_t id, dst;		/* VM, its server index */
	double mbps;
	uint32_t first, n;		/* its direct pairs in order[] */
	uint32_t efirst, en;		/* its route_lb entries in ents[] */
};

/* The source's NICs join the entries e: from each NIC's switch along the
 * destination's tree 0 until a node that has an entry.  False if a NIC is
 * down or a switch on the way cannot be programmed. */
static bool attach(const struct ras *r, uint32_t src, uint32_t dst, struct rd_ent **e,
		   uint32_t *n, uint32_t *cap)
{
	const struct topo *t = r->t;
	const uint8_t *ldead = route_link_dead(r->rt);

	for (uint32_t p = 0; p < t->nodes[src].degree; p++) {
		const struct topo_adj *a = topo_port(t, src, p);
		uint32_t v = a->peer;

		/* a NIC down: the agent would send direct on its backup MAC,
		 * which no switch carries */
		if (ldead[a->link])
			return false;
		for (uint32_t hops = 0; v != dst && ent_port(*e, *n, v) == ROUTE_NO_PORT; hops++) {
			uint16_t port = route_egress(r->rt, v, dst, 0);

			if (hops > t->nnodes || topo_is_server(t, v) || !ras_sw_usable(r, v) ||
			    port == ROUTE_NO_PORT)
				return false;
			ent_push(e, n, cap, (struct rd_ent){ v, port });
			v = topo_port(t, v, port)->peer;
		}
	}
	return true;
}

/* The entries fit every switch's table (used[] counts what is taken). */
static bool fits(const struct ras *r, const uint32_t *used, const struct rd_ent *e, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t cap = r->t->nodes[e[i].sw].fib_cap;

		if (cap && used[e[i].sw] + 1 > cap)
			return false;
	}
	return true;
}

/* A candidate route for the VM: base entries plus every source attached;
 * the sources that could not be attached are left out. */
static uint32_t candidate(struct ras *r, const struct lb_vm *v, const struct route_lb_pair *lp,
			  const uint32_t *order, const struct rd_ent *base, uint32_t nbase,
			  struct rd_ent **e, uint32_t *cap, uint8_t *src_ok)
{
	uint32_t n = 0, dst = r->t->servers[v->dst];

	for (uint32_t i = 0; i < nbase; i++) {
		if (!ent_alive(r, &base[i]) || topo_is_server(r->t, base[i].sw))
			return 0;
		ent_push(e, &n, cap, base[i]);
	}
	for (uint32_t k = 0; k < v->n; k++) {
		uint32_t save = n;

		src_ok[k] = attach(r, lp[order[v->first + k]].src, dst, e, &n, cap);
		if (!src_ok[k])
			n = save;
	}
	return n;
}

static int cmp_lbvm(const void *x, const void *y)
{
	const struct lb_vm *a = x, *b = y;

	if (a->mbps != b->mbps)
		return a->mbps > b->mbps ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

static int cmp_ent_mac(const void *x, const void *y)
{
	const struct route_lb_entry *a = x, *b = y;

	if (a->mac != b->mac)
		return a->mac < b->mac ? -1 : 1;
	return a->node < b->node ? -1 : a->node > b->node;
}

static int cmp_pair_mac(const void *x, const void *y, void *arg)
{
	const struct route_lb_pair *lp = arg;
	uint32_t i = *(const uint32_t *)x, j = *(const uint32_t *)y;

	if (lp[i].mac != lp[j].mac)
		return lp[i].mac < lp[j].mac ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* Take one VM's choice into its plan and its sources' wants. */
static void set_plan(struct ras *r, const struct lb_vm *v, const struct route_lb_pair *lp,
		     const uint32_t *order, const struct rd_ent *e, uint32_t n,
		     const uint8_t *src_ok)
{
	struct rd_vm *vm = vm_get(r->d, v->id);

	vm->adopted = false;
	vm->run = r->d->run;
	vm->server = v->dst;
	vm->mbps = v->mbps;
	vm->nplan = 0;
	for (uint32_t i = 0; i < n; i++)
		ent_push(&vm->plan, &vm->nplan, &vm->capplan, e[i]);
	for (uint32_t i = 0; i < vm->nsrc; i++)
		vm->src[i].want = 0;
	for (uint32_t k = 0; k < v->n; k++)
		if (src_ok[k])
			src_get(vm, r->t->nodes[lp[order[v->first + k]].src].index)->want = 1;
}

/* The traffic of the window as route_lb pairs; the window restarts. */
static uint32_t window_pairs(struct ras *r, struct route_lb_pair **out)
{
	struct ras_direct *d = r->d;
	struct route_lb_pair *lp = xmalloc(((size_t)d->npairs + 1) * sizeof(*lp));
	uint32_t n = 0, kept = 0;

	for (uint32_t i = 0; i < d->npairs; i++) {
		struct rd_pair *p = &d->pairs[i];
		uint32_t dst = loc_of(d, p->dst_id), ms = (uint32_t)d->win_ms[p->src_srv];
		double mbps = ms ? (double)p->bytes * 8.0 / ((double)ms * 1000.0) : 0;

		if (dst != RD_NONE && dst != p->src_srv && mbps >= r->c.min_mbps)
			lp[n++] = (struct route_lb_pair){ r->t->servers[p->src_srv],
							  r->t->servers[dst], p->dst_id, mbps };
		if (!p->bytes)
			continue;	/* idle for a whole window: forgotten */
		p->bytes = 0;
		d->pairs[kept++] = *p;
	}
	d->npairs = kept;
	hmap_clear(&d->pair_at);
	for (uint32_t i = 0; i < kept; i++)
		hmap_put(&d->pair_at, (uint64_t)d->pairs[i].src_id << 32 | d->pairs[i].dst_id, i);
	memset(d->win_ms, 0, r->t->nservers * sizeof(*d->win_ms));
	r->st.matrix_pairs = kept;
	*out = lp;
	return n;
}

/* Group the direct pairs of res by destination VM (heaviest first). */
static uint32_t group(struct ras *r, const struct route_lb_pair *lp, uint32_t n,
		      const struct route_lb_result *res, uint32_t *order, struct lb_vm **out)
{
	struct lb_vm *v = xmalloc(((size_t)n + 1) * sizeof(*v));
	uint32_t nv = 0, m = 0, e = 0;

	for (uint32_t i = 0; i < n; i++)
		if (res->direct[i])
			order[m++] = i;
	qsort_r(order, m, sizeof(*order), cmp_pair_mac, (void *)lp);
	qsort(res->entries, res->nentries, sizeof(*res->entries), cmp_ent_mac);
	for (uint32_t k = 0; k < m; k++) {
		const struct route_lb_pair *p = &lp[order[k]];

		if (!nv || v[nv - 1].id != p->mac) {
			v[nv++] = (struct lb_vm){ p->mac, r->t->nodes[p->dst].index, 0, k, 0, 0, 0 };
			while (e < res->nentries && res->entries[e].mac < p->mac)
				e++;
			v[nv - 1].efirst = e;
			while (e < res->nentries && res->entries[e].mac == p->mac)
				e++;
			v[nv - 1].en = e - v[nv - 1].efirst;
		}
		v[nv - 1].n++;
		v[nv - 1].mbps += p->rate;
	}
	qsort(v, nv, sizeof(*v), cmp_lbvm);
	*out = v;
	return nv;
}

/* Choose each VM's route: the one it has if it still serves every source
 * (no churn), else route_lb's; within the switches' capacity. */
static void choose(struct ras *r, const struct route_lb_pair *lp, const uint32_t *order,
		   const struct lb_vm *v, uint32_t nv, const struct route_lb_result *res)
{
	struct ras_direct *d = r->d;
	uint32_t *used = xcalloc(r->t->nnodes, sizeof(*used)), cap = 0;
	uint8_t *ok = xmalloc((size_t)res->routed + 1);
	struct rd_ent *e = NULL, *base = NULL;
	uint32_t nbase = 0, capbase = 0;

	for (uint32_t i = 0; i < r->t->nnodes; i++)
		if (!topo_is_server(r->t, i))
			used[i] = route_fib_count(r->rt, i);
	for (uint32_t k = 0; k < nv; k++) {
		struct rd_vm *old = vm_find(d, v[k].id);
		uint32_t n = 0;
		bool got = false;

		/* 1: what it has, if alive and toward the same server */
		if (old && old->nplan && !old->adopted && old->server == v[k].dst &&
		    plan_alive(r, old) && plan_is_want(old)) {
			n = candidate(r, &v[k], lp, order, old->plan, old->nplan, &e, &cap, ok);
			got = n && memchr(ok, 0, v[k].n) == NULL && fits(r, used, e, n);
		}
		/* 2: route_lb's */
		if (!got) {
			nbase = 0;
			for (uint32_t i = 0; i < v[k].en; i++) {
				const struct route_lb_entry *le = &res->entries[v[k].efirst + i];

				ent_push(&base, &nbase, &capbase, (struct rd_ent){ le->node, le->port });
			}
			n = candidate(r, &v[k], lp, order, base, nbase, &e, &cap, ok);
			got = n && memchr(ok, 1, v[k].n) != NULL;
			if (got && !fits(r, used, e, n)) {
				r->st.lb_skipped_fib++;	/* no room */
				continue;
			}
		}
		if (!got) {
			r->st.lb_no_attach += v[k].n;	/* no source can join */
			continue;
		}
		for (uint32_t i = 0; i < v[k].n; i++)
			r->st.lb_no_attach += !ok[i];
		for (uint32_t i = 0; i < n; i++)
			used[e[i].sw]++;
		set_plan(r, &v[k], lp, order, e, n, ok);
	}
	for (uint32_t i = 0; i < d->nvms; i++)
		if (d->vms[i]->run != d->run)
			withdraw(d->vms[i]);
	free(e);
	free(base);
	free(ok);
	free(used);
}

/* Before the first computation after a start, VMs found in the dumps may
 * have senders: every agent heard of so far is told either way. */
static void adopt_sources(struct ras *r)
{
	struct ras_direct *d = r->d;

	for (uint32_t i = 0; i < d->nvms; i++) {
		if (!d->vms[i]->adopted)
			continue;
		for (uint32_t s = 0; s < r->t->nservers; s++)
			if (d->agents[s] && d->agents[s]->known)
				src_get(d->vms[i], s)->maybe = 1;
	}
}

static void lb_run(struct ras *r, uint64_t now)
{
	struct route_lb_opts opts = { .max_pairs = r->c.max_pairs, .share = r->c.share,
				      .base = ROUTE_LB_TREES };
	struct route_lb_result res;
	struct route_lb_pair *lp;
	struct lb_vm *v = NULL;
	uint32_t n, nv, *order;
	char err[256];

	r->d->run++;
	n = window_pairs(r, &lp);
	if (!r->d->lb_done)
		adopt_sources(r);
	r->d->lb_done = true;
	r->st.lb_runs++;
	r->st.lb_skipped_fib = r->st.lb_no_attach = 0;
	if (r->c.no_direct)
		n = 0;
	if (route_lb(r->rt, lp, n, &opts, &res, err, sizeof(err))) {
		/* cannot happen: pairs are servers, one server per MAC */
		core_log_rl(&r->c.log, &r->rl, now, LOG_ERR, "route_lb: %s", err);
		free(lp);
		return;
	}
	r->st.lb_considered = res.considered;
	r->st.lb_routed = res.routed;
	r->st.lb_kept = res.kept;
	r->st.lb_skipped_fib = res.skipped_fib;
	order = xmalloc(((size_t)n + 1) * sizeof(*order));
	nv = group(r, lp, n, &res, order, &v);
	choose(r, lp, order, v, nv, &res);
	r->st.replans++;
	free(v);
	free(order);
	route_lb_result_free(&res);
	free(lp);
}

void rd_routes_changed(struct ras *r, uint64_t now, struct ras_out *o)
{
	struct ras_direct *d = r->d;

	(void)o;
	for (uint32_t i = 0; i < d->nvms; i++) {
		struct rd_vm *vm = d->vms[i];

		if (vm->nplan && !plan_alive(r, vm)) {
			core_log_rl(&r->c.log, &r->rl, now, LOG_INFO,
				   "direct route to VM %06x broken: withdrawn", vm->id);
			withdraw(vm);
			r->st.withdrawn_broken++;
			d->lb_due = MIN(d->lb_due, now + (uint64_t)RAS_REPLAN_MS * RD_MS);
		}
	}
}

/* ---- moving along ---------------------------------------------------------------------- */
static void gauges(struct ras *r)
{
	struct ras_direct *d = r->d;

	r->st.vms_direct = r->st.pairs_direct = r->st.agents_known = 0;
	for (uint32_t i = 0; i < d->nvms; i++) {
		uint32_t on = 0;

		for (uint32_t k = 0; k < d->vms[i]->nsrc; k++)
			on += d->vms[i]->src[k].have;
		r->st.pairs_direct += on;
		r->st.vms_direct += on > 0;
	}
	for (uint32_t s = 0; s < r->t->nservers; s++)
		r->st.agents_known += d->agents[s] && d->agents[s]->known;
}

/* Sources no longer wanted and off, VMs with nothing left: forgotten. */
static void sweep(struct ras *r)
{
	struct ras_direct *d = r->d;

	for (uint32_t i = d->nvms; i-- > 0;) {
		struct rd_vm *vm = d->vms[i];
		uint32_t keep = 0;

		for (uint32_t k = 0; k < vm->nsrc; k++) {
			const struct rd_src *s = &vm->src[k];

			if (s->want || s->have || s->maybe || s->sent)
				vm->src[keep++] = *s;
		}
		vm->nsrc = keep;
		if (!vm->nsrc && !vm->nplan && !vm->nwant && (d->lb_done || !vm->adopted))
			vm_drop(d, i);
	}
}

uint64_t rd_step(struct ras *r, uint64_t now, struct ras_out *o)
{
	struct ras_direct *d = r->d;
	bool marked = false;
	uint64_t next;

	if (now >= d->lb_due) {
		lb_run(r, now);
		d->lb_due = now + (uint64_t)r->c.lb_ms * RD_MS;
		/* entries a switch refused (full) are tried again */
		for (uint32_t i = 0; i < d->nvms; i++)
			if (plan_is_want(d->vms[i]) && !installed(r, d->vms[i]))
				for (uint32_t k = 0; k < d->vms[i]->nwant; k++)
					marked = true, ras_dmark(r, d->vms[i]->want[k].sw, d->vms[i]->id);
	}
	for (uint32_t i = 0; i < d->nvms && d->lb_done; i++)
		marked |= vm_advance(r, d->vms[i]);
	if (marked)
		ras_reconcile_all(r, now, o);
	agents_send(r, now, o);
	sweep(r);
	gauges(r);
	next = agents_tick(r, now, o);
	return MIN(next, d->lb_due);
}

/* ---- life ------------------------------------------------------------------------------- */
struct ras_direct *rd_new(struct ras *r, uint64_t now)
{
	struct ras_direct *d = xcalloc(1, sizeof(*d));

	d->replay = rasp_replay_new();
	assert(d->replay);
	hmap_init(&d->vm_at, 64, 0x7664ull);
	hmap_init(&d->want, 256, 0x7677ull);
	hmap_init(&d->loc, 256, 0x766cull);
	hmap_init(&d->hold, 16, 0x7668ull);
	hmap_init(&d->pair_at, 256, 0x7670ull);
	d->win_ms = xcalloc((size_t)r->t->nservers + 1, sizeof(*d->win_ms));
	d->agents = xcalloc((size_t)r->t->nservers + 1, sizeof(*d->agents));
	d->now0 = now;
	d->nservers = r->t->nservers;
	d->lb_due = now + (uint64_t)r->c.lb_ms * RD_MS;
	return d;
}

void rd_free(struct ras_direct *d)
{
	if (!d)
		return;
	while (d->nvms)
		vm_drop(d, d->nvms - 1);
	free(d->vms);
	for (uint32_t s = 0; s < d->nservers; s++)
		free(d->agents[s]);
	free(d->agents);
	hmap_free(&d->vm_at);
	hmap_free(&d->want);
	hmap_free(&d->loc);
	hmap_free(&d->hold);
	hmap_free(&d->pair_at);
	free(d->pairs);
	free(d->win_ms);
	rasp_replay_free(d->replay);
	free(d);
}

void ras_direct_foreach(const struct ras *r, ras_direct_fn fn, void *arg)
{
	const struct ras_direct *d = r->d;

	for (uint32_t i = 0; i < d->nvms; i++) {
		const struct rd_vm *vm = d->vms[i];
		uint32_t *sw = xmalloc(((size_t)vm->nwant + 1) * sizeof(*sw));
		uint16_t *port = xmalloc(((size_t)vm->nwant + 1) * sizeof(*port));
		uint32_t *src = xmalloc(((size_t)vm->nsrc + 1) * sizeof(*src)), ns = 0;
		struct ras_direct_info info = {
			.vm_id = vm->id, .mbps = vm->mbps, .nentries = vm->nwant,
			.entry_sw = sw, .entry_port = port, .sources = src,
			.server = vm->server == RD_NONE ? RD_NONE : r->t->servers[vm->server],
			.installed = installed(r, vm),
		};

		for (uint32_t k = 0; k < vm->nwant; k++) {
			sw[k] = vm->want[k].sw;
			port[k] = vm->want[k].port;
		}
		for (uint32_t k = 0; k < vm->nsrc; k++)
			if (vm->src[k].have)
				src[ns++] = r->t->servers[vm->src[k].srv];
		info.nsources = ns;
		fn(arg, &info);
		free(sw);
		free(port);
		free(src);
	}
}
