/* The chaos harness's world: the real cores on a simulated management
 * network and clock, the fault schedule, and the event loop
 * (docs/chaos.md). */
#include "sim/chaos_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wire/dirproto.h"
#include "wire/pgr.h"
#include "wire/rasproto.h"
#include "wire/swproto.h"

static const char *const inv_names[] = {
#define X(name, desc) #name,
	CHAOS_INVARIANTS(X)
#undef X
};
static const char *const inv_descs[] = {
#define X(name, desc) desc,
	CHAOS_INVARIANTS(X)
#undef X
};

static const char *const fault_names[] = {
#define X(name, desc) #name,
	CHAOS_FAULTS(X)
#undef X
};
static const char *const fault_descs[] = {
#define X(name, desc) desc,
	CHAOS_FAULTS(X)
#undef X
};

const char *chaos_fault_name(int f)
{
	return f >= 0 && f < CHAOS_F_COUNT ? fault_names[f] : "?";
}

const char *chaos_fault_desc(int f)
{
	return f >= 0 && f < CHAOS_F_COUNT ? fault_descs[f] : "?";
}

const char *chaos_invariant_name(int inv)
{
	return inv >= 0 && inv < CHAOS_INV_COUNT ? inv_names[inv] : "?";
}

const char *chaos_invariant_desc(int inv)
{
	return inv >= 0 && inv < CHAOS_INV_COUNT ? inv_descs[inv] : "?";
}

/* ---- small helpers ----------------------------------------------------------- */

static uint64_t draw_ms(struct chaos *c, uint32_t lo, uint32_t hi)
{
	return (lo + rng_below(&c->q.rng, hi - lo + 1)) * CHAOS_MS;
}

uint32_t chaos_neps(const struct chaos *c)
{
	return CHAOS_EP_NODE + c->t->nnodes;
}

uint64_t chaos_ep_addr(uint32_t ep, uint16_t port)
{
	return dir_addr(CHAOS_NET + ep, port);
}

uint32_t chaos_addr_ep(const struct chaos *c, uint64_t addr)
{
	uint32_t ip = (uint32_t)(addr >> 16);

	if (ip < CHAOS_NET || ip - CHAOS_NET >= chaos_neps(c))
		return UINT32_MAX;
	return ip - CHAOS_NET;
}

struct dir_now chaos_now(const struct chaos *c)
{
	/* +1: the cores take 0 as "never" in places */
	return (struct dir_now){ .ns = c->q.now + 1, .wall_ms = CHAOS_T0_WALL + c->q.now / CHAOS_MS };
}

void chaos_trace(struct chaos *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->o->trace)
		return;
	fprintf(c->o->trace, "%12.3f ms  ", (double)c->q.now / CHAOS_MS);
	va_start(ap, fmt);
	vfprintf(c->o->trace, fmt, ap);
	va_end(ap);
	fputc('\n', c->o->trace);
}

void chaos_violation(struct chaos *c, int inv, const char *fmt, ...)
{
	va_list ap;

	if (c->res->violated)
		return;
	c->res->violated = true;
	c->res->invariant = inv;
	c->res->at_ns = c->q.now;
	va_start(ap, fmt);
	vsnprintf(c->res->detail, sizeof(c->res->detail), fmt, ap);
	va_end(ap);
	chaos_trace(c, "VIOLATION %s: %s", chaos_invariant_name(inv), c->res->detail);
	c->stop = true;
}

/* ---- VMs ------------------------------------------------------------------------ */

uint32_t chaos_vm_node(const struct chaos *c, uint32_t vm)
{
	return c->t->nservers + 1 + vm;
}

uint32_t chaos_vm_of_id(const struct chaos *c, uint32_t id)
{
	uint32_t node = pgr_id_node(id);

	if (node <= c->t->nservers || node - c->t->nservers - 1 >= c->nvms)
		return UINT32_MAX;
	return node - c->t->nservers - 1;
}

uint32_t chaos_vm_by_key(const struct chaos *c, uint32_t vdc, uint32_t ip)
{
	uint64_t v;

	if (vdc < 1 || vdc > c->vdcs || ip < 0x0a000001u)
		return UINT32_MAX;
	v = (uint64_t)(ip - 0x0a000001u) * c->vdcs + vdc - 1;
	return v < c->nvms ? (uint32_t)v : UINT32_MAX;
}

/* ---- the management network ------------------------------------------------------ */

static bool blocked(const struct chaos *c, uint32_t from, uint32_t to)
{
	if (!c->part || from == UINT32_MAX || to == UINT32_MAX || c->side[from] == c->side[to])
		return false;
	return c->part == 1 || c->side[from] == 0;
}

static void queue_copy(struct chaos *c, uint64_t from, uint64_t to, const void *buf, size_t len)
{
	uint64_t delay = c->delay_ns + c->send_extra_ns +
			 (c->jitter_ns ? rng_next(&c->q.rng) % c->jitter_ns : 0);
	uint32_t slot;

	if (c->nmfree) {
		slot = c->mfree[--c->nmfree];
	} else {
		if (c->nmsgs == c->capmsgs) {
			c->capmsgs = c->capmsgs ? c->capmsgs * 2 : 1024;
			c->msgs = realloc(c->msgs, c->capmsgs * sizeof(*c->msgs));
			c->mfree = realloc(c->mfree, c->capmsgs * sizeof(*c->mfree));
			if (!c->msgs || !c->mfree)
				die("out of memory");
		}
		slot = c->nmsgs++;
	}
	c->msgs[slot] = (struct chaos_msg){ from, to, (uint32_t)len, xcalloc(1, len) };
	memcpy(c->msgs[slot].buf, buf, len);
	sim_event_after(&c->q, delay, CEV_MSG, 0, 0, slot);
}

void chaos_send(struct chaos *c, uint64_t from, uint64_t to, const void *buf, size_t len)
{
	c->res->messages++;
	if (blocked(c, chaos_addr_ep(c, from), chaos_addr_ep(c, to)) ||
	    sim_chance(&c->q, c->p_loss)) {
		c->res->lost++;
		return;
	}
	queue_copy(c, from, to, buf, len);
	if (sim_chance(&c->q, c->p_dup)) {
		c->res->duplicated++;
		queue_copy(c, from, to, buf, len);
	}
}

void chaos_timer_at(struct chaos *c, uint32_t ep, uint64_t at)
{
	if (at <= c->q.now)
		at = c->q.now + 1;
	sim_event_at(&c->q, at, CEV_TIMER, ep, c->epgen[ep], 0);
}

/* ---- the directory and its store -------------------------------------------------- */

static uint64_t store_key(const uint8_t *k)
{
	uint64_t v;

	memcpy(&v, k, sizeof(v));
	return v;
}

static void store_put(struct chaos_store *s, const uint8_t *key, const uint8_t *val)
{
	uint64_t *slot = hmap_get(&s->idx, store_key(key));

	if (slot) {
		memcpy(s->val[*slot], val, DIR_STORE_VAL_LEN);
		return;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->key = realloc(s->key, s->cap * sizeof(*s->key));
		s->val = realloc(s->val, s->cap * sizeof(*s->val));
		if (!s->key || !s->val)
			die("out of memory");
	}
	memcpy(s->key[s->n], key, DIR_STORE_KEY_LEN);
	memcpy(s->val[s->n], val, DIR_STORE_VAL_LEN);
	hmap_put(&s->idx, store_key(key), s->n++);
}

static void store_del(struct chaos_store *s, const uint8_t *key)
{
	uint64_t *slot = hmap_get(&s->idx, store_key(key));
	uint32_t i, last;

	if (!slot)
		return;
	i = (uint32_t)*slot;
	last = --s->n;
	hmap_del(&s->idx, store_key(key));
	if (i != last) {
		memcpy(s->key[i], s->key[last], DIR_STORE_KEY_LEN);
		memcpy(s->val[i], s->val[last], DIR_STORE_VAL_LEN);
		hmap_put(&s->idx, store_key(s->key[i]), i);
	}
}

static void store_remember(struct chaos_store *s, const uint8_t *key)
{
	uint64_t *slot = hmap_get(&s->idx, store_key(key));

	if (s->nundo == s->capundo) {
		s->capundo = s->capundo ? s->capundo * 2 : 64;
		s->undo = realloc(s->undo, s->capundo * sizeof(*s->undo));
		if (!s->undo)
			die("out of memory");
	}
	memcpy(s->undo[s->nundo].key, key, DIR_STORE_KEY_LEN);
	s->undo[s->nundo].had = slot != NULL;
	if (slot)
		memcpy(s->undo[s->nundo].val, s->val[*slot], DIR_STORE_VAL_LEN);
	s->nundo++;
}

/* One batch, atomically, as an LMDB transaction: synced, unless every
 * operation is soft (then a power loss before the next sync undoes it). */
static void store_apply(struct chaos_store *s, const struct dir_op *ops, size_t n)
{
	bool soft = true;

	for (size_t i = 0; i < n; i++)
		soft &= ops[i].soft;
	for (size_t i = 0; i < n; i++) {
		if (soft)
			store_remember(s, ops[i].key);
		if (ops[i].del)
			store_del(s, ops[i].key);
		else
			store_put(s, ops[i].key, ops[i].val);
	}
	if (!soft)
		s->nundo = 0;	/* a synced commit syncs every one before it */
}

static void store_power_loss(struct chaos_store *s)
{
	while (s->nundo) {
		s->nundo--;
		if (s->undo[s->nundo].had)
			store_put(s, s->undo[s->nundo].key, s->undo[s->nundo].val);
		else
			store_del(s, s->undo[s->nundo].key);
	}
}

static void crash(struct chaos *c, uint32_t ep, bool power);

/* --fail: the directory is one thread, and each datagram it sends costs it
 * CHAOS_DIR_SEND_NS: the next leaves that much after the last. */
static void dir_charge(struct chaos *c)
{
	uint64_t ns = c->o->dir_send_ns ? c->o->dir_send_ns : CHAOS_DIR_SEND_NS;

	if (!c->costs)
		return;
	c->dir_busy = MAX(c->dir_busy, c->q.now) + ns;
	c->send_extra_ns = c->dir_busy - c->q.now;
	if (c->sc)
		chaos_scale_charged(c, CHAOS_COST_DIR, ns);
}

/* --fail: the RAS core's CPU time for one call, measured around it (the
 * harness, not the core, reads the clock): the RAS is one thread, its
 * datagrams leave once it has done the work before them.  The core's state
 * changes at once; only what it sends waits. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void ras_charge(struct chaos *c, uint64_t t0)
{
	uint64_t ns;

	if (!c->costs)
		return;
	ns = cpu_ns() - t0;
	c->ras_busy = MAX(c->ras_busy, c->q.now) + ns;
	c->send_extra_ns = c->ras_busy - c->q.now;
	if (c->sc)
		chaos_scale_charged(c, CHAOS_COST_RAS, ns);
}

static void dir_deliver(struct chaos *c)
{
	struct dir_out *o = &c->dout;
	uint64_t from = chaos_ep_addr(CHAOS_EP_DIR, CHAOS_PORT);

	if (o->nops && c->faults && sim_chance(&c->q, c->p_tear)) {
		/* the process dies around the commit: before it, or after it
		 * and before any datagram leaves */
		bool committed = rng_below(&c->q.rng, 2);

		if (committed)
			store_apply(&c->store, o->ops, o->nops);
		chaos_trace(c, "directory dies %s committing %zu writes",
			    committed ? "after" : "before", o->nops);
		dir_out_reset(o);
		crash(c, CHAOS_EP_DIR, false);
		return;
	}
	store_apply(&c->store, o->ops, o->nops);
	chaos_check_dir_out(c, o);
	for (size_t i = 0; i < o->nsends; i++)
		for (uint32_t j = 0; j < o->sends[i].ndst; j++) {
			dir_charge(c);
			chaos_send(c, from, o->dsts[o->sends[i].dst + j], o->buf + o->sends[i].off,
				   o->sends[i].len);
		}
	c->send_extra_ns = 0;
	dir_out_reset(o);
}

static void dir_start(struct chaos *c)
{
	struct dir_cfg cfg = { .key = &c->key, .seed = rng_next(&c->q.rng),
			       .lease_ms = c->o->fail ? CHAOS_SCALE_LEASE_MS : CHAOS_LEASE_MS,
			       .neg_lease_ms = 200,
			       .table_reserve = CHAOS_DIR_TABLE_RESERVE };

	uint64_t st[DIR_STAT_COUNT];
	uint32_t restored = 0;

	c->dir = dir_new(&cfg);
	for (uint32_t i = 0; i < c->store.n; i++)
		if (dir_restore(c->dir, c->store.key[i], DIR_STORE_KEY_LEN, c->store.val[i],
				DIR_STORE_VAL_LEN))
			chaos_trace(c, "directory: record %u unreadable", i);
		else
			restored++;
	/* A restarted directory serves every record it took from its store at
	 * once, not once the agents register again. */
	dir_get_stats(c->dir, st);
	if (st[DIR_STAT_entries] + st[DIR_STAT_v6_entries] != restored)
		chaos_violation(c, CHAOS_INV_durability, "the restarted directory holds %" PRIu64
				" entries of the %u records it restored from its store",
				st[DIR_STAT_entries] + st[DIR_STAT_v6_entries], restored);
	chaos_timer_at(c, CHAOS_EP_DIR, c->q.now + 1);
}

/* ---- the RAS ------------------------------------------------------------------------ */

int chaos_ras_intent(const struct chaos *c, uint32_t s, unsigned tree)
{
	return c->intent[s * 2 + tree];
}

/* The RAS's availability changes, as a record of its last word on each MAC. */
static void ras_record_avail(struct chaos *c, const struct ras_out *o)
{
	for (size_t i = 0; i < o->navail; i++) {
		const uint8_t *mac = o->avail[i].mac;
		uint32_t id, node;

		if (!pgr_mac_valid(mac))
			continue;
		id = pgr_mac_id(mac);
		node = pgr_id_node(id);
		if (node < 1 || node > c->t->nservers)
			continue;
		c->intent[(node - 1) * 2 + pgr_id_tree(id)] = (int8_t)(o->avail[i].avail ? 1 : 0);
		/* when it leaves the RAS (after its charged work) */
		chaos_scale_avail(c, node - 1, pgr_id_tree(id), o->avail[i].avail,
				  c->q.now + c->send_extra_ns);
		chaos_trace(c, "ras: %s tree %u %savailable", c->t->nodes[c->t->servers[node - 1]].name,
			    pgr_id_tree(id), o->avail[i].avail ? "" : "un");
	}
}

static void ras_deliver(struct chaos *c)
{
	struct ras_out *o = &c->rout;
	uint64_t from = chaos_ep_addr(CHAOS_EP_RAS, CHAOS_PORT);

	ras_record_avail(c, o);
	for (size_t i = 0; i < o->ndir; i++)	/* the directory first */
		chaos_send(c, from, dir_addr(o->dir[i].to.ip, o->dir[i].to.port), o->dir[i].buf,
			   o->dir[i].len);
	for (size_t i = 0; i < o->ndg; i++)
		chaos_send(c, from, dir_addr(o->dg[i].to.ip, o->dg[i].to.port), o->dg[i].buf,
			   o->dg[i].len);
	c->send_extra_ns = 0;
	ras_out_reset(o);
}

static void ras_start_core(struct chaos *c)
{
	struct ras_cfg cfg = { .t = c->t, .sw = c->swaddr, .key = c->key,
			       .seq_base = c->q.now + 1, .no_direct = true,
			       .dir = { CHAOS_NET + CHAOS_EP_DIR, CHAOS_PORT },
			       .wall_offset_ms = (int64_t)CHAOS_T0_WALL };
	char err[256];

	if (ras_new(&cfg, c->q.now + 1, &c->ras, err, sizeof(err)))
		die("chaos: RAS: %s", err);
	memset(c->intent, 0xff, 2 * c->t->nservers);	/* a new RAS has said nothing */
	ras_start(c->ras, c->q.now + 1, &c->rout);
	ras_deliver(c);
	chaos_timer_at(c, CHAOS_EP_RAS, c->q.now + 1);
}

/* ---- switches -------------------------------------------------------------------------- */

bool chaos_link_live(const struct chaos *c, uint32_t l)
{
	const struct topo_link *k = &c->t->links[l];

	return !c->link_cut[l] && !c->link_admin[l] && !c->sw[k->a].dead && !c->sw[k->b].dead;
}

static long fib_slot(const struct chaos *c, const uint8_t mac[6])
{
	uint32_t id, node;

	if (!pgr_mac_valid(mac))
		return -1;
	id = pgr_mac_id(mac);
	node = pgr_id_node(id);
	if (node < 1 || node > c->t->nservers)
		return -1;
	return (long)(node - 1) * 2 + pgr_id_tree(id);
}

static void link_ends_changed(struct chaos *c, uint32_t l);

/* --fail: switchd gives n entries to the kernel, one netlink request each,
 * at the netlink rate; its answers (the FIB_ACK) leave when they are done.
 * The harness's kernel table changes at once (no packets flow in --fail). */
static void netlink_charge(struct chaos *c, struct chaos_switch *s, uint32_t n)
{
	uint64_t rate = c->o->netlink_rate ? c->o->netlink_rate : CHAOS_NETLINK_RATE;
	uint64_t ns = n * 1000000000ull / rate;

	if (!c->costs || !n)
		return;
	s->busy = MAX(s->busy, c->q.now) + ns;
	if (c->sc)
		chaos_scale_netlink(c, (uint32_t)(s - c->sw), n, ns);
}

static void sw_deliver(struct chaos *c, uint32_t node, struct sw_out *o)
{
	struct chaos_switch *s = &c->sw[node];
	uint64_t from = chaos_ep_addr(CHAOS_EP_NODE + node, CHAOS_PORT);
	uint32_t changed[SW_OUT_ADMIN], nchanged = 0;

	/* uplink tracking: the switch sets its server ports down or up; both
	 * ends see the link change once this output is carried out */
	for (uint16_t i = 0; i < o->nadmin; i++) {
		uint32_t l = topo_port(c->t, node, o->admin[i].port)->link;

		o->admin[i].err = 0;
		if (c->link_admin[l] != !o->admin[i].up) {
			c->link_admin[l] = !o->admin[i].up;
			changed[nchanged++] = l;
			chaos_trace(c, "%s sets port %u %s", c->t->nodes[node].name,
				    o->admin[i].port, o->admin[i].up ? "up" : "down");
		}
	}
	if (o->nadmin)
		sw_admin_done(s->sw, o);

	if (o->pending) {
		for (uint16_t i = 0; i < o->nnl; i++) {
			long k = fib_slot(c, o->nl[i].mac);

			/* the bridge takes only the entries a Peregrine fabric has */
			o->nl[i].err = k < 0 ? -EINVAL : 0;
			if (k >= 0)
				s->fib[k] = o->nl[i].kind == SW_NL_ADD ? o->nl[i].port : ROUTE_NO_PORT;
		}
		sw_commit(s->sw, o);
		netlink_charge(c, s, o->nnl);
	}
	if (c->costs && s->busy > c->q.now)
		c->send_extra_ns = s->busy - c->q.now;
	for (int i = 0; i < o->ndg; i++)
		chaos_send(c, from, dir_addr(o->dg[i].to.ip, o->dg[i].to.port), o->dg[i].buf,
			   o->dg[i].len);
	c->send_extra_ns = 0;
	sw_out_reset(o);
	for (uint32_t i = 0; i < nchanged; i++)
		link_ends_changed(c, changed[i]);
}

static struct sw_out *sw_scratch(void)
{
	static _Thread_local struct sw_out *o;

	if (!o)
		o = xcalloc(1, sizeof(*o));
	sw_out_reset(o);
	return o;
}

static void switchd_start(struct chaos *c, uint32_t node)
{
	struct chaos_switch *s = &c->sw[node];
	struct sw_config cfg = { .id = node, .fib_cap = 1u << 20, .has_ras = true,
				 .ras = { CHAOS_NET + CHAOS_EP_RAS, CHAOS_PORT },
				 .seq_base = c->q.now + 1, .key = c->key,
				 .uplink_delay_ns = CHAOS_UPLINK_DELAY_MS * CHAOS_MS };
	struct sw_out *o = sw_scratch();

	s->sw = sw_new(&cfg);
	for (uint16_t p = 0; p < c->t->nodes[node].degree; p++)
		if (!topo_is_server(c->t, topo_port(c->t, node, p)->peer))
			sw_uplink(s->sw, p);
	for (uint32_t k = 0; k < 2 * c->t->nservers; k++) {
		uint8_t mac[6];

		if (s->fib[k] == ROUTE_NO_PORT)
			continue;
		pgr_mac_make(mac, pgr_id_of(k / 2 + 1, k & 1));
		sw_adopt(s->sw, mac, s->fib[k]);
	}
	for (uint16_t p = 0; p < c->t->nodes[node].degree; p++) {
		uint32_t l = topo_port(c->t, node, p)->link;

		sw_port(s->sw, p, true, chaos_link_live(c, l), c->q.now + 1, o);
		if (c->link_admin[l])	/* a crashed predecessor shut it */
			sw_port_shut_found(s->sw, p);
	}
	sw_start(s->sw, c->q.now + 1, o);
	sw_deliver(c, node, o);
	chaos_timer_at(c, CHAOS_EP_NODE + node, c->q.now + 1);
}

/* A link end changed: its switch or server sees it. */
static void port_change(struct chaos *c, uint32_t node, uint16_t port)
{
	bool up = chaos_link_live(c, topo_port(c->t, node, port)->link);

	if (topo_is_server(c->t, node)) {
		chaos_host_nic(c, c->t->nodes[node].index, port, up);
		return;
	}
	if (c->sw[node].sw && !c->sw[node].dead) {
		struct sw_out *o = sw_scratch();

		sw_port(c->sw[node].sw, port, true, up, c->q.now + 1, o);
		sw_deliver(c, node, o);
	}
}

static void link_ends_changed(struct chaos *c, uint32_t l)
{
	const struct topo_link *k = &c->t->links[l];

	port_change(c, k->a, k->pa);
	port_change(c, k->b, k->pb);
}

/* ---- crashes and restarts -------------------------------------------------------------- */

static bool ep_alive(const struct chaos *c, uint32_t ep)
{
	if (ep == CHAOS_EP_DIR)
		return c->dir;
	if (ep == CHAOS_EP_RAS)
		return c->ras;
	if (ep < CHAOS_EP_NODE)
		return true;
	if (topo_is_server(c->t, ep - CHAOS_EP_NODE))
		return c->host[c->t->nodes[ep - CHAOS_EP_NODE].index].a;
	return c->sw[ep - CHAOS_EP_NODE].sw;
}

static void crash(struct chaos *c, uint32_t ep, bool power)
{
	uint32_t node = ep - CHAOS_EP_NODE;

	if (!ep_alive(c, ep) || ep == CHAOS_EP_SPARE || ep == CHAOS_EP_CHECK)
		return;
	c->epgen[ep]++;
	c->res->crashes++;
	if (ep == CHAOS_EP_DIR) {
		chaos_trace(c, "crash directory%s", power ? " (power loss)" : "");
		dir_free(c->dir);
		c->dir = NULL;
		if (power)
			store_power_loss(&c->store);
	} else if (ep == CHAOS_EP_RAS) {
		chaos_trace(c, "crash ras");
		ras_free(c->ras);
		c->ras = NULL;
	} else if (topo_is_server(c->t, node)) {
		chaos_trace(c, "crash agent %s", c->t->nodes[node].name);
		chaos_host_stop(c, c->t->nodes[node].index);
	} else {
		chaos_trace(c, "crash switchd %s", c->t->nodes[node].name);
		sw_free(c->sw[node].sw);
		c->sw[node].sw = NULL;
	}
	if (c->faults)
		sim_event_after(&c->q, draw_ms(c, 20, 2000), CEV_RESTART, ep, 0, 0);
}

static void restart(struct chaos *c, uint32_t ep)
{
	uint32_t node = ep - CHAOS_EP_NODE;

	if (ep_alive(c, ep))
		return;
	chaos_trace(c, "restart endpoint %u", ep);
	if (ep == CHAOS_EP_DIR)
		dir_start(c);
	else if (ep == CHAOS_EP_RAS)
		ras_start_core(c);
	else if (topo_is_server(c->t, node))
		chaos_host_start(c, c->t->nodes[node].index);
	else if (!c->sw[node].dead)
		switchd_start(c, node);
}

static void switch_set(struct chaos *c, uint32_t node, bool up)
{
	struct chaos_switch *s = &c->sw[node];

	if (s->dead == !up)
		return;
	chaos_trace(c, "switch %s %s", c->t->nodes[node].name, up ? "up" : "fails");
	if (!up) {
		c->epgen[CHAOS_EP_NODE + node]++;
		if (s->sw)
			sw_free(s->sw);
		s->sw = NULL;
		s->dead = true;
		/* a switch that reboots comes back with every port up */
		for (uint16_t p = 0; p < c->t->nodes[node].degree; p++)
			c->link_admin[topo_port(c->t, node, p)->link] = 0;
		for (uint32_t k = 0; k < 2 * c->t->nservers; k++)
			s->fib[k] = ROUTE_NO_PORT;	/* the table is lost */
	} else {
		s->dead = false;
		switchd_start(c, node);
	}
	for (uint16_t p = 0; p < c->t->nodes[node].degree; p++) {
		const struct topo_adj *a = topo_port(c->t, node, p);
		const struct topo_link *k = &c->t->links[a->link];

		port_change(c, a->peer, k->a == node ? k->pb : k->pa);
	}
}

void chaos_switch_set(struct chaos *c, uint32_t node, bool up)
{
	switch_set(c, node, up);
}

void chaos_link_set(struct chaos *c, uint32_t l, bool up)
{
	if (c->link_cut[l] == !up)
		return;
	c->link_cut[l] = !up;
	link_ends_changed(c, l);
}

/* ---- garbage ---------------------------------------------------------------------------- */

static void garbage(struct chaos *c, uint32_t ep)
{
	static const uint16_t magic[] = { DIRP_MAGIC, SWP_MAGIC, RASP_MAGIC };
	uint8_t buf[256];
	size_t len = rng_below(&c->q.rng, sizeof(buf));
	uint16_t port = rng_below(&c->q.rng, 2) ? CHAOS_PORT_RAS : CHAOS_PORT;

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)rng_next(&c->q.rng);
	if (len >= 2 && rng_below(&c->q.rng, 2)) {
		uint16_t m = magic[rng_below(&c->q.rng, 3)];

		buf[0] = (uint8_t)(m >> 8);
		buf[1] = (uint8_t)m;
	}
	c->res->garbage++;
	chaos_send(c, chaos_ep_addr(CHAOS_EP_CHECK, 9), chaos_ep_addr(ep, port), buf, len);
}

/* ---- faults ------------------------------------------------------------------------------ */

enum { F_LINK, F_SWITCH, F_CRASH, F_PART, F_MIGRATE, F_TRAFFIC, F_GARBAGE, F_KINDS };

static uint32_t fault_mean_ms(const struct chaos *c, unsigned kind)
{
	switch (kind) {
	case F_LINK: return c->ms_link;
	case F_SWITCH: return c->ms_switch;
	case F_CRASH: return c->ms_crash;
	case F_PART: return c->ms_part;
	case F_MIGRATE: return c->ms_migrate;
	case F_TRAFFIC: return 5;
	default: return c->p_garbage > 0 ? 50 : 0;
	}
}

static void next_fault(struct chaos *c, unsigned kind)
{
	uint32_t mean = fault_mean_ms(c, kind);

	if (mean)
		sim_event_after(&c->q, draw_ms(c, 1, 2 * mean), CEV_NEXT_FAULT, kind, 0, 0);
}

static uint32_t random_switch(struct chaos *c)
{
	return c->t->switches[rng_below(&c->q.rng, c->t->nswitches)];
}

static void fault_partition(struct chaos *c)
{
	uint32_t n = chaos_neps(c);

	if (c->part)
		return;
	for (uint32_t i = 0; i < n; i++)
		c->side[i] = rng_below(&c->q.rng, 4) == 0;
	c->part = 1 + rng_below(&c->q.rng, 2);
	c->res->partitions++;
	chaos_trace(c, "partition (%s)", c->part == 1 ? "both ways" : "one way");
	sim_event_after(&c->q, draw_ms(c, 20, c->o->partition_ms ? c->o->partition_ms :
					  CHAOS_PARTITION_MS), CEV_PART, 0, 0, 0);
}

static void fault_migrate(struct chaos *c)
{
	uint32_t vm = rng_below(&c->q.rng, c->nvms);
	uint32_t to = rng_below(&c->q.rng, c->t->nservers);

	if (to != c->vm_at[vm])
		sim_event_after(&c->q, 0, CEV_MIGRATE, vm, to, 0);
}

static void fault(struct chaos *c, unsigned kind)
{
	if (!fault_mean_ms(c, kind) || (!c->faults && kind != F_TRAFFIC))
		return;
	switch (kind) {
	case F_LINK: {
		uint32_t l = rng_below(&c->q.rng, c->t->nlinks);

		if (!c->link_cut[l]) {
			sim_event_after(&c->q, 0, CEV_LINK, l, 0, 0);
			sim_event_after(&c->q, draw_ms(c, 20, 3000), CEV_LINK, l, 1, 0);
		}
		break;
	}
	case F_SWITCH: {
		uint32_t s = random_switch(c);

		if (!c->sw[s].dead) {
			sim_event_after(&c->q, 0, CEV_SWITCH, s, 0, 0);
			sim_event_after(&c->q, draw_ms(c, 50, 4000), CEV_SWITCH, s, 1, 0);
		}
		break;
	}
	case F_CRASH: {
		uint32_t ep = rng_below(&c->q.rng, chaos_neps(c));

		sim_event_after(&c->q, 0, CEV_CRASH, ep, rng_below(&c->q.rng, 2), 0);
		break;
	}
	case F_PART:
		fault_partition(c);
		break;
	case F_MIGRATE:
		fault_migrate(c);
		break;
	case F_TRAFFIC: {
		uint32_t src = rng_below(&c->q.rng, c->nvms), dst = rng_below(&c->q.rng, c->nvms);

		sim_event_after(&c->q, 0, CEV_PACKET, src, dst, 0);
		break;
	}
	default:
		sim_event_after(&c->q, 0, CEV_GARBAGE, rng_below(&c->q.rng, chaos_neps(c)), 0, 0);
	}
	next_fault(c, kind);
}

/* The rates themselves come from the seed: some runs lose many messages and
 * crash rarely, others the other way round, some see no kind at all. */
static void draw_rates(struct chaos *c)
{
	struct rng *r = &c->q.rng;
	static const uint32_t means[] = { 0, 200, 1000, 4000 };
	uint32_t on = c->o->faults ? c->o->faults : (1u << CHAOS_F_COUNT) - 1;

	/* every rate is drawn, then the kinds left out are zeroed: the same
	 * seed draws the same rates whatever --faults says */
	c->delay_ns = (20 + rng_below(r, 500)) * 1000ull;
	c->jitter_ns = rng_below(r, 3) ? (1 + rng_below(r, 2000)) * 1000ull : 0;
	c->p_loss = rng_below(r, 4) ? rng_double(r) * 0.2 : 0;
	c->p_dup = rng_below(r, 3) ? rng_double(r) * 0.1 : 0;
	c->p_garbage = rng_below(r, 2) ? 0.02 : 0;
	c->p_tear = rng_below(r, 2) ? 0.005 : 0;
	c->ms_link = means[rng_below(r, 4)];
	c->ms_switch = means[rng_below(r, 4)] * 2;
	c->ms_crash = means[rng_below(r, 4)] * 2;
	c->ms_part = means[rng_below(r, 4)] * 2;
	c->ms_migrate = means[rng_below(r, 4)];
	if (c->o->no_faults || c->o->fail)	/* --fail: a quiet network */
		on = 0;
	if (!(on & 1u << CHAOS_F_reorder))
		c->jitter_ns = 0;
	if (!(on & 1u << CHAOS_F_loss))
		c->p_loss = 0;
	if (!(on & 1u << CHAOS_F_dup))
		c->p_dup = 0;
	if (!(on & 1u << CHAOS_F_garbage))
		c->p_garbage = 0;
	if (!(on & 1u << CHAOS_F_tear))
		c->p_tear = 0;
	if (!(on & 1u << CHAOS_F_link))
		c->ms_link = 0;
	if (!(on & 1u << CHAOS_F_switch))
		c->ms_switch = 0;
	if (!(on & 1u << CHAOS_F_crash))
		c->ms_crash = 0;
	if (!(on & 1u << CHAOS_F_partition))
		c->ms_part = 0;
	if (!(on & 1u << CHAOS_F_migrate))
		c->ms_migrate = 0;
	c->res->rate_loss = c->p_loss;
	c->res->rate_dup = c->p_dup;
}

/* The faults stop: everything failed comes back and the network heals. */
static void faults_end(struct chaos *c)
{
	chaos_trace(c, "faults stop");
	c->faults = false;
	c->p_loss = c->p_dup = 0;
	c->jitter_ns = 0;
	c->part = 0;
	for (uint32_t l = 0; l < c->t->nlinks; l++)
		if (c->link_cut[l]) {
			c->link_cut[l] = 0;
			link_ends_changed(c, l);
		}
	for (uint32_t i = 0; i < c->t->nswitches; i++)
		switch_set(c, c->t->switches[i], true);
	for (uint32_t ep = 0; ep < chaos_neps(c); ep++)
		restart(c, ep);
}

/* ---- the event loop ---------------------------------------------------------------------- */

static void deliver_msg(struct chaos *c, const struct chaos_msg *m)
{
	uint32_t ep = chaos_addr_ep(c, m->to), node = ep - CHAOS_EP_NODE;
	uint16_t port = (uint16_t)m->to;

	if (ep == UINT32_MAX)
		return;
	if (ep == CHAOS_EP_DIR) {
		if (c->dir) {
			dir_input(c->dir, chaos_now(c), m->from, m->buf, m->len, &c->dout);
			dir_deliver(c);
		}
	} else if (ep == CHAOS_EP_RAS) {
		if (c->ras) {
			struct ras_addr from = { (uint32_t)(m->from >> 16), (uint16_t)m->from };

			uint64_t t0 = c->costs ? cpu_ns() : 0;

			ras_input(c->ras, from, m->buf, m->len, c->q.now + 1, &c->rout);
			ras_charge(c, t0);
			ras_deliver(c);
		}
	} else if (ep == CHAOS_EP_CHECK) {
		chaos_check_chk_input(c, m->buf, m->len);
	} else if (ep < CHAOS_EP_NODE) {
		return;		/* nobody listens there */
	} else if (topo_is_server(c->t, node)) {
		chaos_host_input(c, c->t->nodes[node].index, port, m->buf, m->len);
	} else if (c->sw[node].sw) {
		struct sw_out *o = sw_scratch();
		struct sw_addr from = { (uint32_t)(m->from >> 16), (uint16_t)m->from };

		sw_input(c->sw[node].sw, from, m->buf, m->len, c->q.now + 1, o);
		sw_deliver(c, node, o);
	}
}

/* A tick that returns a deadline not after now asks to be called again at
 * once; a core that keeps doing so would spin its daemon's CPU. */
static void spin_check(struct chaos *c, uint32_t ep, uint64_t next)
{
	if (next > c->q.now + 1) {
		c->spins[ep] = 0;
		return;
	}
	if (++c->spins[ep] == CHAOS_SPIN_TICKS)
		chaos_violation(c, CHAOS_INV_spin, "endpoint %u: %u ticks in a row returned a "
				"deadline not after now", ep, CHAOS_SPIN_TICKS);
}

static void timer(struct chaos *c, uint32_t ep)
{
	uint32_t node = ep - CHAOS_EP_NODE;
	uint64_t next;

	if (ep == CHAOS_EP_DIR) {
		next = dir_tick(c->dir, chaos_now(c), &c->dout);
		spin_check(c, ep, next);
		dir_deliver(c);
		c->store.nundo = 0;	/* the shell syncs soft batches after a tick */
		next = next < c->q.now + 10 * CHAOS_MS ? next : c->q.now + 10 * CHAOS_MS;
	} else if (ep == CHAOS_EP_RAS) {
		uint64_t t0 = c->costs ? cpu_ns() : 0;

		next = ras_tick(c->ras, c->q.now + 1, &c->rout);
		ras_charge(c, t0);
		spin_check(c, ep, next);
		ras_deliver(c);
		next = next < c->q.now + 10 * CHAOS_MS ? next : c->q.now + 10 * CHAOS_MS;
	} else if (ep == CHAOS_EP_CHECK) {
		next = dirc_tick(c->chk, chaos_now(c));
		next = next < c->q.now + 50 * CHAOS_MS ? next : c->q.now + 50 * CHAOS_MS;
	} else if (topo_is_server(c->t, node)) {
		chaos_host_timer(c, c->t->nodes[node].index);
		return;	/* it arms its own */
	} else {
		struct sw_out *o = sw_scratch();

		next = sw_tick(c->sw[node].sw, c->q.now + 1, o);
		spin_check(c, ep, next);
		sw_deliver(c, node, o);
		next = next < c->q.now + SW_LINK_RETRY_NS ? next : c->q.now + SW_LINK_RETRY_NS;
	}
	chaos_timer_at(c, ep, next);
}

static void migrate(struct chaos *c, uint32_t vm, uint32_t to)
{
	uint32_t from = c->vm_at[vm];

	if (from == to)
		return;
	c->res->migrations++;
	chaos_trace(c, "migrate vm%u %s -> %s", vm, c->t->nodes[c->t->servers[from]].name,
		    c->t->nodes[c->t->servers[to]].name);
	c->vm_at[vm] = to;	/* the port moves at once */
	c->migrated = true;
	chaos_host_reconfigure(c, to);
	chaos_host_reconfigure(c, from);
}

/* The faults are over and the fabric has settled: one link fails, chosen by
 * the seed among those whose loss leaves every server connected. */
static void quiet_fail(struct chaos *c)
{
	uint32_t l, tries = 0;

	do {
		const struct topo_link *k;

		l = rng_below(&c->q.rng, c->t->nlinks);
		k = &c->t->links[l];
		if ((!topo_is_server(c->t, k->a) || c->t->nodes[k->a].degree > 1) &&
		    (!topo_is_server(c->t, k->b) || c->t->nodes[k->b].degree > 1))
			break;
	} while (++tries < 1000);
	c->quiet_at = c->q.now;
	c->link_cut[l] = 1;
	chaos_trace(c, "quiet failure: link %u (%s - %s)", l, c->t->nodes[c->t->links[l].a].name,
		    c->t->nodes[c->t->links[l].b].name);
	link_ends_changed(c, l);
	chaos_check_probe(c, false, -1);	/* forget which pairs delivered */
	sim_event_after(&c->q, 0, CEV_QUIET_SAMPLE, 0, 0, 0);
	sim_event_after(&c->q, CHAOS_FRESH_MS * CHAOS_MS, CEV_QUIET_WATCH, 0, 0, 0);
	sim_event_after(&c->q, CHAOS_REPAIR_MS * CHAOS_MS, CEV_QUIET_REPAIR, 0, 0, 0);
}

static void hash_event(struct chaos *c, const struct sim_event *ev)
{
	uint64_t h = c->hash;

	h = hash_u64(h ^ ev->at, 1);
	h = hash_u64(h ^ ((uint64_t)ev->type << 32 | ev->a), 2);
	h = hash_u64(h ^ ((uint64_t)ev->b << 32 | (uint32_t)ev->c), 3);
	if (ev->type == CEV_MSG) {
		const struct chaos_msg *m = &c->msgs[ev->c];

		h = hash_u64(h ^ m->from ^ m->to << 1, 4);
		h ^= hash_bytes(m->buf, m->len, 5);
	}
	c->hash = h;
}

static void trace_event(struct chaos *c, const struct sim_event *ev)
{
	if (!c->o->trace)
		return;
	if (ev->type == CEV_MSG) {
		const struct chaos_msg *m = &c->msgs[ev->c];
		struct dirp_msg d;
		char recs[160] = "";
		size_t n = 0;

		/* directory messages: their type and first records */
		if (!dirp_decode(m->buf, m->len, &c->key, &d)) {
			for (unsigned i = 0; i < d.h.count && i < 4 && d.rec_len == DIRP_ENTRY_LEN; i++) {
				struct dirp_entry e;

				dirp_get_entry(&d, i, &e);
				n += (size_t)snprintf(recs + n, sizeof(recs) - n, " (%u, %08x) v%u avail %x",
						      e.vdc, e.ip, e.version, e.avail);
			}
			chaos_trace(c, "msg %u -> %u: %s%s%s", chaos_addr_ep(c, m->from),
				    chaos_addr_ep(c, m->to), dirp_type_name(d.h.type & 0x7f),
				    d.h.type & DIRP_REPLY_BIT ? " reply" : "", recs);
			return;
		}
		chaos_trace(c, "msg %u -> %u (%u bytes)", chaos_addr_ep(c, m->from),
			    chaos_addr_ep(c, m->to), m->len);
	} else if (ev->type != CEV_TIMER && ev->type != CEV_NEXT_FAULT) {
		chaos_trace(c, "event %u (%u, %u)", ev->type, ev->a, ev->b);
	}
}

static void step(struct chaos *c, const struct sim_event *ev)
{
	switch (ev->type) {
	case CEV_MSG:
		deliver_msg(c, &c->msgs[ev->c]);
		free(c->msgs[ev->c].buf);
		c->msgs[ev->c].buf = NULL;
		c->mfree[c->nmfree++] = (uint32_t)ev->c;
		break;
	case CEV_TIMER:
		if (ev->b == c->epgen[ev->a] && ep_alive(c, ev->a))
			timer(c, ev->a);
		break;
	case CEV_LINK:
		if (!c->faults && !ev->b)
			break;
		if (c->link_cut[ev->a] == !ev->b)
			break;
		c->link_cut[ev->a] = !ev->b;
		c->res->link_faults += !ev->b;
		chaos_trace(c, "link %u (%s - %s) %s", ev->a, c->t->nodes[c->t->links[ev->a].a].name,
			    c->t->nodes[c->t->links[ev->a].b].name, ev->b ? "up" : "fails");
		link_ends_changed(c, ev->a);
		break;
	case CEV_SWITCH:
		if (c->faults || ev->b) {
			c->res->switch_faults += !ev->b && !c->sw[ev->a].dead;
			switch_set(c, ev->a, ev->b);
		}
		break;
	case CEV_CRASH:
		if (c->faults)
			crash(c, ev->a, ev->b);
		break;
	case CEV_RESTART:
		restart(c, ev->a);
		break;
	case CEV_PART:
		c->part = 0;
		chaos_trace(c, "partition heals");
		break;
	case CEV_MIGRATE:
		if (c->faults)
			migrate(c, ev->a, ev->b);
		break;
	case CEV_PACKET:
		chaos_packet(c, ev->a, ev->b, true);
		break;
	case CEV_GARBAGE:
		if (c->faults)
			garbage(c, ev->a);
		break;
	case CEV_FAULTS_END:
		faults_end(c);
		break;
	case CEV_CHECK:
		if (ev->b == 0) {
			chaos_check_final(c);
			chaos_check_final_send(c);
		} else {
			chaos_check_probe(c, ev->b == CHAOS_PROBE_TRIES, CHAOS_INV_delivery);
		}
		break;
	case CEV_QUIET_FAIL:
		quiet_fail(c);
		break;
	case CEV_QUIET_SAMPLE:
		if (chaos_check_cached_pairs(c))
			c->res->failover_ns = c->q.now - c->quiet_at;
		else if (ev->b < CHAOS_FAILOVER_SAMPLE_MS)
			sim_event_after(&c->q, CHAOS_MS, CEV_QUIET_SAMPLE, 0, ev->b + 1, 0);
		else
			c->res->failover_ns = UINT64_MAX;
		break;
	case CEV_QUIET_WATCH:
		chaos_check_fresh(c);
		break;
	case CEV_QUIET_REPAIR:
		chaos_check_repair(c);
		break;
	case CEV_QUIET_PROBE:
		chaos_check_probe(c, ev->b == CHAOS_PROBE_TRIES, CHAOS_INV_failover);
		break;
	case CEV_NEXT_FAULT:
		fault(c, ev->a);
		break;
	case CEV_SCALE_WARM:
	case CEV_SCALE_FAIL:
	case CEV_SCALE_END:
		chaos_scale_step(c, ev);
		break;
	}
}

/* ---- set-up and tear-down ---------------------------------------------------------------- */

static int world_check(const struct chaos *c, char *err, size_t errlen)
{
	uint32_t max_nodes = c->o->fail ? CHAOS_SCALE_MAX_NODES : CHAOS_MAX_NODES;
	uint64_t max_vms = c->o->fail ? CHAOS_SCALE_MAX_VMS : CHAOS_MAX_VMS;

	if (c->t->nnodes > max_nodes) {
		snprintf(err, errlen, "%u nodes: the harness takes at most %u%s", c->t->nnodes,
			 max_nodes, c->o->fail ? "" : " (with --fail more)");
		return -EINVAL;
	}
	if (!c->t->nswitches || !c->t->nlinks) {
		snprintf(err, errlen, "no switches or no links");
		return -EINVAL;
	}
	for (uint32_t s = 0; s < c->t->nservers; s++)
		if (c->t->nodes[c->t->servers[s]].degree > AGENT_MAX_NICS ||
		    !c->t->nodes[c->t->servers[s]].degree) {
			snprintf(err, errlen, "server %s: the harness takes 1 or 2 NICs a server",
				 c->t->nodes[c->t->servers[s]].name);
			return -EINVAL;
		}
	if ((uint64_t)c->t->nservers * (c->o->vms_per_server ? c->o->vms_per_server :
					CHAOS_VMS_PER_SERVER) > max_vms) {
		snprintf(err, errlen, "more than %llu VMs%s", (unsigned long long)max_vms,
			 c->o->fail ? "" : " (with --fail more)");
		return -EINVAL;
	}
	return 0;
}

static void world_vms(struct chaos *c)
{
	uint32_t per = c->o->vms_per_server ? c->o->vms_per_server : CHAOS_VMS_PER_SERVER;

	c->vdcs = c->o->vdcs ? c->o->vdcs : CHAOS_VDCS;
	c->vms_per_server = per;
	c->nvms = c->t->nservers * per;
	c->vm_vdc = xcalloc(c->nvms, sizeof(uint32_t));
	c->vm_ip = xcalloc(c->nvms, sizeof(uint32_t));
	c->vm_at = xcalloc(c->nvms, sizeof(uint32_t));
	c->vm_acked = xcalloc(c->nvms, 1);
	for (uint32_t v = 0; v < c->nvms; v++) {
		c->vm_vdc[v] = 1 + v % c->vdcs;
		c->vm_ip[v] = 0x0a000001u + v / c->vdcs;
		c->vm_at[v] = v / per;
	}
}

static int world_new(struct chaos *c, char *err, size_t errlen)
{
	int rc;

	if ((rc = topo_from_spec(c->o->topo, &c->t, err, errlen)))
		return rc;
	if ((rc = world_check(c, err, errlen)))
		return rc;
	sim_events_init(&c->q, c->o->seed);
	for (int i = 0; i < 8; i++)
		c->key.k[i] = (uint8_t)(0x50 + i);
	draw_rates(c);
	world_vms(c);
	c->epgen = xcalloc(chaos_neps(c), sizeof(uint32_t));
	c->spins = xcalloc(chaos_neps(c), sizeof(uint32_t));
	c->side = xcalloc(chaos_neps(c), 1);
	c->link_cut = xcalloc(c->t->nlinks, 1);
	c->sw = xcalloc(c->t->nnodes, sizeof(*c->sw));
	c->swaddr = xcalloc(c->t->nnodes, sizeof(*c->swaddr));
	hmap_init(&c->store.idx, c->nvms, 11);
	dir_out_init(&c->dout);
	ras_out_init(&c->rout);
	for (uint32_t i = 0; i < c->t->nswitches; i++) {
		uint32_t n = c->t->switches[i];

		c->swaddr[n] = (struct ras_addr){ CHAOS_NET + CHAOS_EP_NODE + n, CHAOS_PORT };
		c->sw[n].fib = xcalloc(2 * c->t->nservers, sizeof(uint16_t));
		memset(c->sw[n].fib, 0xff, 2 * c->t->nservers * sizeof(uint16_t));
	}
	c->intent = xcalloc(2 * c->t->nservers, 1);
	c->link_admin = xcalloc(c->t->nlinks, 1);
	if ((rc = chaos_hosts_init(c)))
		return rc;
	chaos_check_init(c);
	if (c->o->fail)
		chaos_scale_init(c);
	c->costs = c->o->fail && !c->o->no_costs;
	return 0;
}

static void world_free(struct chaos *c)
{
	chaos_check_free(c);
	chaos_scale_free(c);
	chaos_hosts_free(c);
	free(c->intent);
	free(c->link_admin);
	if (c->ras)
		ras_free(c->ras);
	if (c->dir)
		dir_free(c->dir);
	dir_out_free(&c->dout);
	ras_out_free(&c->rout);
	for (uint32_t i = 0; c->t && c->sw && i < c->t->nnodes; i++) {
		if (c->sw[i].sw)
			sw_free(c->sw[i].sw);
		free(c->sw[i].fib);
	}
	for (uint32_t i = 0; i < c->nmsgs; i++)
		free(c->msgs[i].buf);
	free(c->msgs);
	free(c->mfree);
	hmap_free(&c->store.idx);
	free(c->store.key);
	free(c->store.val);
	free(c->store.undo);
	free(c->sw);
	free(c->swaddr);
	free(c->link_cut);
	free(c->side);
	free(c->epgen);
	free(c->spins);
	free(c->vm_vdc);
	free(c->vm_ip);
	free(c->vm_at);
	free(c->vm_acked);
	sim_events_free(&c->q);
	if (c->t)
		topo_free(c->t);
}

static void world_start(struct chaos *c)
{
	uint64_t fault_ns = (uint64_t)(c->o->fault_ms ? c->o->fault_ms : CHAOS_FAULT_MS) * CHAOS_MS;
	uint64_t settle_ns = (uint64_t)(c->o->settle_ms ? c->o->settle_ms : CHAOS_SETTLE_MS) *
			     CHAOS_MS;

	dir_start(c);
	for (uint32_t i = 0; i < c->t->nswitches; i++)
		switchd_start(c, c->t->switches[i]);
	ras_start_core(c);
	for (uint32_t s = 0; s < c->t->nservers; s++)
		chaos_host_start(c, s);
	chaos_timer_at(c, CHAOS_EP_CHECK, 1);
	if (c->o->fail) {
		chaos_scale_start(c);	/* no faults, no traffic, no checks */
		return;
	}
	c->faults = !c->o->no_faults;
	/* faults begin once the fabric has had a moment to come up */
	for (unsigned k = 0; k < F_KINDS; k++)
		if (c->faults || k == F_TRAFFIC)
			sim_event_at(&c->q, 500 * CHAOS_MS, CEV_NEXT_FAULT, k, 0, 0);
	sim_event_at(&c->q, 500 * CHAOS_MS + fault_ns, CEV_FAULTS_END, 0, 0, 0);
	uint64_t end = 500 * CHAOS_MS + fault_ns + settle_ns;

	for (uint32_t i = 0; i <= CHAOS_PROBE_TRIES; i++)
		sim_event_at(&c->q, end + i * 1000 * CHAOS_MS, CEV_CHECK, 0, i, 0);
	end += (CHAOS_PROBE_TRIES + 1) * 1000 * CHAOS_MS;
	sim_event_at(&c->q, end, CEV_QUIET_FAIL, 0, 0, 0);
	for (uint32_t i = 1; i <= CHAOS_PROBE_TRIES; i++)
		sim_event_at(&c->q, end + (uint64_t)i * 1000 * CHAOS_MS, CEV_QUIET_PROBE, 0, i, 0);
}

int chaos_run(const struct chaos_opts *o, struct chaos_result *r, char *err, size_t errlen)
{
	struct chaos c = { .o = o, .res = r };
	struct sim_event ev;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = world_new(&c, err, errlen))) {
		world_free(&c);
		return rc;
	}
	world_start(&c);
	while (!c.stop && sim_event_next(&c.q, &ev)) {
		hash_event(&c, &ev);
		trace_event(&c, &ev);
		step(&c, &ev);
		if (ev.type == CEV_QUIET_PROBE && ev.b == CHAOS_PROBE_TRIES)
			break;
	}
	r->events = c.q.processed;
	r->hash = c.hash;
	world_free(&c);
	return 0;
}
