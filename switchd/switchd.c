/* The switch-side core (see switchd.h). */
#include "switchd/switchd.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hash.h"
#include "switchd/notice.h"

enum { PORT_ABSENT = 0, PORT_DOWN = 1, PORT_UP = 2 };

struct sw_peer {
	bool used;
	uint32_t sender;
	uint64_t last_seq;	/* highest FIB_OPS seq handled */
	uint64_t last_seen;	/* for eviction */
	struct sw_addr addr;
	size_t ack_len;
	uint8_t ack[SW_ACK_CACHE];
};

struct sw_link_report {
	uint64_t seq, at_ns, sent_ns;
	uint16_t port;
	uint8_t state;
	uint8_t tries;
};

/* What the pending FIB_OPS needs at commit time. */
struct sw_pending {
	struct sw_peer *peer;
	struct sw_hdr_copy { uint32_t sender; uint64_t seq; } h;
	uint16_t nops;
	uint8_t status[SWP_MAX_OPS];
	/* Per netlink op: the table's entry for its MAC before the op. */
	bool had[SWP_MAX_OPS];
	uint16_t old_port[SWP_MAX_OPS];
};

struct sw {
	struct sw_config c;
	struct hmap fib;		/* mac (u64) -> port */
	uint8_t *ports;			/* SW_MAX_PORTS states */
	uint64_t sum;			/* the table sum (wire/swproto.h) of fib */
	uint64_t gen;			/* bumped on every FIB change */
	struct swp_fib_entry *snap;	/* sorted FIB for dumps */
	uint32_t nsnap;
	uint64_t snap_gen;
	struct sw_peer peers[SW_MAX_PEERS];
	struct sw_link_report links[SW_MAX_PENDING_LINK];
	uint32_t nlinks;
	uint64_t link_seq;
	struct sw_pending pend;
	struct sw_stats st;
	/* uplink tracking */
	uint8_t *uplink;		/* per port: leads to another switch */
	uint8_t *shut;			/* per port: taken down by the tracking */
	uint16_t *uplinks;		/* the ports with uplink[] set */
	uint32_t nuplinks, nshut;
	uint32_t nports;		/* highest port seen + 1 */
	bool started, isolated;
	uint64_t ras_term;		/* highest term of ras_id accepted */
	bool admin_more;		/* admin requests left over (out full) */
	uint64_t restore_at;		/* 0: no restore pending */
	struct swn *notice;		/* the witness's notice (notice.h) */
};

struct sw *sw_new(const struct sw_config *c)
{
	struct sw *s = xcalloc(1, sizeof(*s));

	s->c = *c;
	s->ras_term = c->ras_term;
	hmap_init(&s->fib, MIN(c->fib_cap, 1u << 16) + 16, c->seq_base ^ c->id);
	s->ports = xcalloc(SW_MAX_PORTS, 1);
	s->uplink = xcalloc(SW_MAX_PORTS, 1);
	s->shut = xcalloc(SW_MAX_PORTS, 1);
	s->link_seq = c->seq_base;
	s->snap_gen = UINT64_MAX;
	assert(c->ndirs <= SW_MAX_DIRS);
	s->notice = swn_new(&s->c, &s->st);
	return s;
}

void sw_free(struct sw *s)
{
	if (!s)
		return;
	swn_free(s->notice);
	hmap_free(&s->fib);
	free(s->ports);
	free(s->uplink);
	free(s->shut);
	free(s->uplinks);
	free(s->snap);
	free(s);
}

void sw_out_reset(struct sw_out *o)
{
	o->nnl = 0;
	o->pending = false;
	o->save_term = 0;
	o->ndg = 0;
	o->nadmin = 0;
}

/* Every change of the table goes through these two: they keep its sum. */
static uint64_t key_hash(uint64_t key, uint16_t port)
{
	uint8_t mac[6];

	wire_put48(mac, key);
	return swp_entry_hash(mac, port);
}

static void fib_set(struct sw *s, uint64_t key, uint16_t port)
{
	uint64_t *cur = hmap_get(&s->fib, key);

	if (cur)
		s->sum -= key_hash(key, (uint16_t)*cur);
	s->sum += key_hash(key, port);
	hmap_put(&s->fib, key, port);
}

static void fib_del(struct sw *s, uint64_t key)
{
	uint64_t *cur = hmap_get(&s->fib, key);

	if (!cur)
		return;
	s->sum -= key_hash(key, (uint16_t)*cur);
	hmap_del(&s->fib, key);
}

uint64_t sw_fib_sum(const struct sw *s)
{
	return s->sum;
}

uint64_t sw_ras_term(const struct sw *s)
{
	return s->ras_term;
}

uint32_t sw_fib_used(const struct sw *s)
{
	return (uint32_t)s->fib.count;
}

uint32_t sw_fib_cap(const struct sw *s)
{
	return s->c.fib_cap;
}

int sw_port_state(const struct sw *s, uint16_t port)
{
	return s->ports[port] == PORT_ABSENT ? -1 : s->ports[port] == PORT_UP;
}

int sw_fib_lookup(const struct sw *s, const uint8_t mac[6])
{
	uint64_t *v = hmap_get(&s->fib, wire_get48(mac));

	return v ? (int)*v : -1;
}

const struct sw_stats *sw_stats(const struct sw *s)
{
	return &s->st;
}

uint32_t sw_pending_links(const struct sw *s)
{
	return s->nlinks;
}

const char *sw_drop_name(int reason)
{
	switch (reason) {
	case SW_DROP_UNEXPECTED: return "unexpected type";
	case SW_DROP_REPLAY: return "replayed request";
	case SW_DROP_STALE_ACK: return "stale link ack";
	default: return swp_err_name(reason);
	}
}

void sw_adopt(struct sw *s, const uint8_t mac[6], uint16_t port)
{
	fib_set(s, wire_get48(mac), port);
	s->gen++;
}

/* ---- output ---------------------------------------------------------------- */
static struct sw_dgram *out_dgram(struct sw_out *o, struct sw_addr to)
{
	struct sw_dgram *d;

	if (o->ndg == SW_OUT_DGRAMS)
		return NULL;
	d = &o->dg[o->ndg];
	d->to = to;
	d->len = 0;
	return d;
}

static struct swp_hdr my_hdr(const struct sw *s, uint64_t seq)
{
	return (struct swp_hdr){ .sender = s->c.id, .seq = seq };
}

/* ---- link reports ---------------------------------------------------------- */
static void send_link(struct sw *s, struct sw_link_report *r, uint64_t now,
		      struct sw_out *o)
{
	struct swp_hdr h = my_hdr(s, r->seq);
	struct sw_dgram *d = out_dgram(o, s->c.ras);

	if (!d)
		return;		/* the next tick retries */
	d->len = swp_enc_link(d->buf, sizeof(d->buf), &h, r->port, r->state, r->at_ns,
			      &s->c.key);
	assert(d->len);
	o->ndg++;
	r->sent_ns = now;
	if (r->tries < UINT8_MAX)	/* slow retries go on: saturate, never wrap */
		r->tries++;
}

/* The report's seq, or 0 when there is no RAS to tell. */
static uint64_t report_link(struct sw *s, uint16_t port, bool up, uint64_t now,
			    struct sw_out *o)
{
	struct sw_link_report *r;

	if (!s->c.has_ras)
		return 0;
	if (s->nlinks == SW_MAX_PENDING_LINK) {
		/* The oldest report is the least useful: a newer one supersedes
		 * it on the same port, and the RAS can always dump. */
		memmove(s->links, s->links + 1, (SW_MAX_PENDING_LINK - 1) * sizeof(*r));
		s->nlinks--;
		s->st.link_given_up++;
	}
	r = &s->links[s->nlinks++];
	*r = (struct sw_link_report){ .seq = ++s->link_seq, .at_ns = now, .port = port,
				      .state = up ? SWP_PORT_UP : SWP_PORT_DOWN };
	s->st.link_reports++;
	send_link(s, r, now, o);
	return r->seq;
}

/* The witness's notice (notice.h): the MACs the port forwarded. */
static void notice_port(struct sw *s, uint16_t port, bool up, uint64_t link_seq,
			uint64_t now, struct sw_out *o)
{
	uint64_t k, v, *macs = NULL;
	size_t n = 0, cap = 0;

	if (!s->c.ndirs)
		return;
	if (up) {
		swn_port_up(s->notice, port);
		return;
	}
	for (size_t it = 0; hmap_next(&s->fib, &it, &k, &v);) {
		if (v != port)
			continue;
		if (n == cap)
			macs = xreallocarray(macs, cap = cap ? 2 * cap : 64, sizeof(*macs));
		macs[n++] = k;
	}
	swn_port_down(s->notice, port, link_seq, macs, n, now, o);
	free(macs);
}

/* The kernel drops a port's entries with the port: so does the table. */
static void forget_port(struct sw *s, uint16_t port)
{
	uint64_t k, v, *keys = NULL;
	size_t n = 0, cap = 0;

	for (size_t it = 0; hmap_next(&s->fib, &it, &k, &v);) {
		if (v != port)
			continue;
		if (n == cap)
			keys = xreallocarray(keys, cap = cap ? 2 * cap : 64, sizeof(*keys));
		keys[n++] = k;
	}
	for (size_t i = 0; i < n; i++)
		fib_del(s, keys[i]);
	s->gen += n > 0;
	s->st.entries_lost += n;
	free(keys);
}

/* ---- uplink tracking (switchd.h) ------------------------------------------- */
void sw_uplink(struct sw *s, uint16_t port)
{
	if (s->uplink[port])
		return;
	s->uplink[port] = 1;
	s->uplinks = xreallocarray(s->uplinks, s->nuplinks + 1, sizeof(*s->uplinks));
	s->uplinks[s->nuplinks++] = port;
}

bool sw_isolated(const struct sw *s)
{
	return s->isolated;
}

static bool admin_op(struct sw *s, struct sw_out *o, uint16_t port, bool up)
{
	if (o->nadmin == SW_OUT_ADMIN) {
		s->admin_more = true;
		return false;
	}
	o->admin[o->nadmin++] = (struct sw_admin_op){ .port = port, .up = up };
	return true;
}

static void raise_shut(struct sw *s, struct sw_out *o)
{
	for (uint32_t p = 0; p < s->nports && s->nshut; p++) {
		if (!s->shut[p])
			continue;
		if (!admin_op(s, o, (uint16_t)p, true))
			return;
		s->shut[p] = 0;
		s->nshut--;
		s->st.ports_raised++;
	}
}

/* Bring the ports' administrative state in line with the tracking: while
 * isolated every server port that is up goes down (also one that comes up
 * meanwhile); otherwise every port taken down comes back. */
static void admin_sync(struct sw *s, struct sw_out *o)
{
	s->admin_more = false;
	if (!s->isolated) {
		if (!s->restore_at)	/* else: ports found shut wait for the delay */
			raise_shut(s, o);
		return;
	}
	for (uint32_t p = 0; p < s->nports; p++) {
		if (s->uplink[p] || s->shut[p] || s->ports[p] != PORT_UP)
			continue;
		if (!admin_op(s, o, (uint16_t)p, false))
			return;
		s->shut[p] = 1;
		s->nshut++;
		s->st.ports_shut++;
	}
}

static void track_uplinks(struct sw *s, uint64_t now, struct sw_out *o)
{
	bool any = false;

	if (!s->nuplinks || !s->started)
		return;
	for (uint32_t i = 0; i < s->nuplinks && !any; i++)
		any = s->ports[s->uplinks[i]] == PORT_UP;
	if (!any)
		s->restore_at = 0;
	else if (s->isolated && !s->restore_at)
		s->restore_at = MAX(now + s->c.uplink_delay_ns, (uint64_t)1);
	if (!any && !s->isolated) {
		s->isolated = true;
		s->st.isolations++;
	} else if (any && s->isolated && now >= s->restore_at) {
		s->isolated = false;
		s->restore_at = 0;
		s->st.restores++;
	} else if (any && !s->isolated && s->restore_at && now >= s->restore_at) {
		s->restore_at = 0;	/* the ports found shut at start may come back */
	}
	admin_sync(s, o);
}

void sw_port_shut_found(struct sw *s, uint16_t port)
{
	if (s->started || !s->nuplinks || s->uplink[port] || s->shut[port])
		return;
	s->shut[port] = 1;
	s->nshut++;
	s->nports = MAX(s->nports, (uint32_t)port + 1);
	s->st.shut_found++;
}

void sw_start(struct sw *s, uint64_t now, struct sw_out *o)
{
	s->started = true;
	/* ports a crashed predecessor shut come back after the uplink delay,
	 * as after an isolation (the RAS reprograms meanwhile); the others
	 * stay as they are */
	if (s->nshut)
		s->restore_at = MAX(now + s->c.uplink_delay_ns, (uint64_t)1);
	track_uplinks(s, now, o);
}

void sw_admin_done(struct sw *s, struct sw_out *o)
{
	for (uint16_t i = 0; i < o->nadmin; i++) {
		const struct sw_admin_op *a = &o->admin[i];

		if (!a->err)
			continue;
		s->st.admin_errors++;
		if (!a->up && s->shut[a->port]) {	/* not ours to raise */
			s->shut[a->port] = 0;
			s->nshut--;
		}
	}
}

bool sw_release(struct sw *s, struct sw_out *o)
{
	s->isolated = false;
	s->restore_at = 0;
	raise_shut(s, o);
	return !s->nshut;
}

void sw_port(struct sw *s, uint16_t port, bool present, bool up, uint64_t now,
	     struct sw_out *o)
{
	uint8_t old = s->ports[port], cur = !present ? PORT_ABSENT : up ? PORT_UP : PORT_DOWN;

	s->ports[port] = cur;
	s->nports = MAX(s->nports, (uint32_t)port + 1);
	if (old != PORT_ABSENT && cur == PORT_ABSENT) {
		forget_port(s, port);
		if (s->shut[port]) {	/* gone: nothing to raise */
			s->shut[port] = 0;
			s->nshut--;
		}
	}
	if (old == PORT_ABSENT || cur == old)
		return;
	/* A vanished port is down as far as forwarding goes. */
	if ((old == PORT_UP) != (cur == PORT_UP)) {
		uint64_t seq = report_link(s, port, cur == PORT_UP, now, o);

		notice_port(s, port, cur == PORT_UP, seq, now, o);
		track_uplinks(s, now, o);
	}
}

static void drop_link_report(struct sw *s, uint32_t i)
{
	memmove(&s->links[i], &s->links[i + 1], (s->nlinks - i - 1) * sizeof(s->links[0]));
	s->nlinks--;
}

/* When report r is due again: fast at first, then slowly, never given up. */
static uint64_t link_due(const struct sw_link_report *r)
{
	return r->sent_ns + (r->tries < SW_LINK_RETRIES ? SW_LINK_RETRY_NS : SW_LINK_SLOW_RETRY_NS);
}

static void retransmit_links(struct sw *s, uint64_t now, struct sw_out *o)
{
	for (uint32_t i = 0; i < s->nlinks; i++) {
		struct sw_link_report *r = &s->links[i];

		if (now < link_due(r))
			continue;
		if (o->ndg == SW_OUT_DGRAMS)
			return;
		send_link(s, r, now, o);
		s->st.link_retransmits++;
	}
}

uint64_t sw_tick(struct sw *s, uint64_t now, struct sw_out *o)
{
	uint64_t next = UINT64_MAX;

	retransmit_links(s, now, o);
	next = swn_tick(s->notice, now, o);
	if (s->restore_at || s->admin_more)
		track_uplinks(s, now, o);
	for (uint32_t i = 0; i < s->nlinks; i++)
		next = MIN(next, link_due(&s->links[i]));
	if (s->restore_at)
		next = MIN(next, s->restore_at);
	if (s->admin_more || o->ndg == SW_OUT_DGRAMS)
		next = now;
	return next;
}

static void on_link_ack(struct sw *s, const struct swp_msg *m)
{
	for (uint32_t i = 0; i < s->nlinks; i++) {
		if (s->links[i].seq == m->u.link_ack.acked) {
			swn_link_acked(s->notice, s->links[i].seq);
			drop_link_report(s, i);
			return;
		}
	}
	s->st.drops[SW_DROP_STALE_ACK]++;
}

/* ---- peers ----------------------------------------------------------------- */
static struct sw_peer *find_peer(struct sw *s, uint32_t sender, uint64_t now)
{
	struct sw_peer *victim = &s->peers[0];

	for (int i = 0; i < SW_MAX_PEERS; i++) {
		struct sw_peer *p = &s->peers[i];

		if (p->used && p->sender == sender)
			return p;
		if (!p->used || (victim->used && p->last_seen < victim->last_seen))
			victim = p;
	}
	memset(victim, 0, sizeof(*victim));
	victim->used = true;
	victim->sender = sender;
	victim->last_seen = now;
	return victim;
}

/* ---- FIB operations -------------------------------------------------------- */
static uint8_t check_op(struct sw *s, const struct swp_op *op, bool had)
{
	if (!swp_mac_ok(op->mac))
		return SWP_BAD_MAC;
	if (op->kind == SWP_OP_DEL)
		return had ? SWP_OK : SWP_NOT_FOUND;
	if (s->ports[op->port] == PORT_ABSENT)
		return SWP_NO_PORT;
	if (!had && s->fib.count >= s->c.fib_cap)
		return SWP_FULL;
	return SWP_OK;
}

static void apply_op(struct sw *s, const struct swp_op *op, uint16_t idx, struct sw_out *o)
{
	uint64_t key = wire_get48(op->mac), *cur = hmap_get(&s->fib, key);
	struct sw_pending *p = &s->pend;
	uint8_t st = check_op(s, op, cur != NULL);
	struct sw_nl_op *nl;

	p->status[idx] = st;
	if (st != SWP_OK)
		return;
	nl = &o->nl[o->nnl];
	p->had[o->nnl] = cur != NULL;
	p->old_port[o->nnl] = cur ? (uint16_t)*cur : 0;
	/* A delete names the port that holds the entry, whatever the request
	 * said: that is where the kernel keeps it. */
	*nl = (struct sw_nl_op){ .kind = op->kind == SWP_OP_ADD ? SW_NL_ADD : SW_NL_DEL,
				 .port = op->kind == SWP_OP_ADD ? op->port : (uint16_t)*cur,
				 .op_index = idx };
	memcpy(nl->mac, op->mac, 6);
	o->nnl++;
	if (op->kind == SWP_OP_ADD)
		fib_set(s, key, op->port);
	else
		fib_del(s, key);
	s->gen++;
}

static void on_fib_ops(struct sw *s, struct sw_addr from, const struct swp_msg *m,
		       uint64_t now, struct sw_out *o)
{
	struct sw_peer *peer = find_peer(s, m->h.sender, now);
	struct sw_dgram *d;

	if (peer->ack_len && m->h.seq == peer->last_seq) {
		s->st.duplicates++;
		if ((d = out_dgram(o, from))) {
			memcpy(d->buf, peer->ack, peer->ack_len);
			d->len = peer->ack_len;
			o->ndg++;
		}
		return;
	}
	/* A RAS term below the highest accepted, also before a restart
	 * (the peer's last_seq is gone then, the term is not) */
	if (m->h.sender == s->c.ras_id && m->h.seq >> SW_TERM_SHIFT < s->ras_term) {
		s->st.drops[SW_DROP_REPLAY]++;
		s->st.fenced++;
		return;
	}
	if (peer->ack_len && m->h.seq < peer->last_seq) {
		s->st.drops[SW_DROP_REPLAY]++;
		s->st.fenced += m->h.seq >> SW_TERM_SHIFT < peer->last_seq >> SW_TERM_SHIFT;
		return;
	}
	if (m->h.sender == s->c.ras_id && m->h.seq >> SW_TERM_SHIFT > s->ras_term) {
		s->ras_term = m->h.seq >> SW_TERM_SHIFT;
		o->save_term = s->ras_term;
		if (s->c.ras_follows_leader) {
			s->c.ras = from;	/* link reports to the new leader */
			s->c.has_ras = true;
			s->st.leader_changes++;
		}
	}
	s->st.requests++;
	peer->last_seq = m->h.seq;
	peer->last_seen = now;
	peer->addr = from;
	s->pend.peer = peer;
	s->pend.h.sender = m->h.sender;
	s->pend.h.seq = m->h.seq;
	s->pend.nops = m->u.fib_ops.n;
	for (uint16_t i = 0; i < m->u.fib_ops.n; i++) {
		struct swp_op op;

		swp_op_at(m, i, &op);
		apply_op(s, &op, i, o);
	}
	o->pending = true;
}

/* The table's state for the MAC of nl op i if only the ops the kernel took
 * had happened: start from the state before the first op on that MAC in this
 * request and replay the successful ones. */
static void redo_mac(struct sw *s, const struct sw_out *o, uint16_t i)
{
	const uint8_t *mac = o->nl[i].mac;
	uint64_t key = wire_get48(mac);
	uint16_t first = i;
	bool had;
	uint16_t port;

	for (uint16_t j = 0; j < i; j++)
		if (!memcmp(o->nl[j].mac, mac, 6)) {
			first = j;
			break;
		}
	had = s->pend.had[first];
	port = s->pend.old_port[first];
	for (uint16_t j = first; j < o->nnl; j++) {
		if (memcmp(o->nl[j].mac, mac, 6) || o->nl[j].err)
			continue;
		had = o->nl[j].kind == SW_NL_ADD;
		port = o->nl[j].port;
	}
	if (had)
		fib_set(s, key, port);
	else
		fib_del(s, key);
	s->gen++;
}

void sw_commit(struct sw *s, struct sw_out *o)
{
	struct sw_pending *p = &s->pend;
	struct swp_hdr h = my_hdr(s, p->h.seq);
	struct sw_dgram *d;

	if (!o->pending)
		return;
	o->pending = false;
	for (uint16_t i = 0; i < o->nnl; i++) {
		if (o->nl[i].err) {
			p->status[o->nl[i].op_index] = SWP_KERNEL;
			redo_mac(s, o, i);
		}
	}
	for (uint16_t i = 0; i < p->nops; i++) {
		if (p->status[i] == SWP_OK)
			s->st.ops_ok++;
		else
			s->st.ops_refused[p->status[i]]++;
	}
	p->peer->ack_len = swp_enc_fib_ack(p->peer->ack, sizeof(p->peer->ack), &h,
					   sw_fib_used(s), s->c.fib_cap, s->sum, p->status, p->nops,
					   &s->c.key);
	assert(p->peer->ack_len);
	if ((d = out_dgram(o, p->peer->addr))) {
		memcpy(d->buf, p->peer->ack, p->peer->ack_len);
		d->len = p->peer->ack_len;
		o->ndg++;
	}
}

/* ---- dumps ----------------------------------------------------------------- */
static int cmp_entry(const void *a, const void *b)
{
	uint64_t x = wire_get48(((const struct swp_fib_entry *)a)->mac);
	uint64_t y = wire_get48(((const struct swp_fib_entry *)b)->mac);

	return x < y ? -1 : x > y;
}

/* A sorted copy of the FIB, rebuilt only when it changed, so that the pages
 * of one dump are consistent while the table is quiet. */
static void refresh_snapshot(struct sw *s)
{
	uint64_t k, v;
	uint32_t n = 0;

	if (s->snap_gen == s->gen)
		return;
	s->snap = xreallocarray(s->snap, s->fib.count + 1, sizeof(*s->snap));
	for (size_t it = 0; hmap_next(&s->fib, &it, &k, &v);) {
		wire_put48(s->snap[n].mac, k);
		s->snap[n++].port = (uint16_t)v;
	}
	qsort(s->snap, n, sizeof(*s->snap), cmp_entry);
	s->nsnap = n;
	s->snap_gen = s->gen;
}

static void dump_fib(struct sw *s, const struct swp_hdr *h, uint32_t off,
		     struct sw_dgram *d)
{
	uint32_t n;

	refresh_snapshot(s);
	off = MIN(off, s->nsnap);
	n = MIN(s->nsnap - off, (uint32_t)SWP_MAX_DUMP_FIB);
	d->len = swp_enc_dump_fib(d->buf, sizeof(d->buf), h, sw_fib_used(s), s->c.fib_cap,
				  s->sum, off, s->snap + off, (uint16_t)n, &s->c.key);
}

static void dump_ports(struct sw *s, const struct swp_hdr *h, uint32_t off,
		       struct sw_dgram *d)
{
	struct swp_port pages[SWP_MAX_DUMP_PORTS];
	uint32_t total = 0;
	uint16_t n = 0;

	for (uint32_t p = 0; p < SW_MAX_PORTS; p++) {
		if (s->ports[p] == PORT_ABSENT)
			continue;
		if (total >= off && n < SWP_MAX_DUMP_PORTS)
			pages[n++] = (struct swp_port){ .port = (uint16_t)p,
				.state = s->ports[p] == PORT_UP ? SWP_PORT_UP : SWP_PORT_DOWN };
		total++;
	}
	d->len = swp_enc_dump_ports(d->buf, sizeof(d->buf), h, total, off, pages, n,
				    &s->c.key);
}

static void on_dump(struct sw *s, struct sw_addr from, const struct swp_msg *m,
		    struct sw_out *o)
{
	struct swp_hdr h = my_hdr(s, m->h.seq);
	struct sw_dgram *d = out_dgram(o, from);

	if (!d)
		return;
	s->st.dumps++;
	if (m->u.dump_req.what == SWP_WHAT_FIB)
		dump_fib(s, &h, m->u.dump_req.offset, d);
	else
		dump_ports(s, &h, m->u.dump_req.offset, d);
	assert(d->len);
	o->ndg++;
}

/* ---- input ----------------------------------------------------------------- */
void sw_input(struct sw *s, struct sw_addr from, const uint8_t *buf, size_t len,
	      uint64_t now, struct sw_out *o)
{
	struct swp_msg m;
	int err;

	assert(!o->pending);
	if (s->c.ndirs && swn_is_dir(s->notice, from)) {
		swn_input(s->notice, from, buf, len);
		return;
	}
	err = swp_decode(buf, len, &s->c.key, &m);
	if (err) {
		s->st.drops[SW_DROP_DECODE - err]++;
		return;
	}
	switch (m.h.type) {
	case SWP_FIB_OPS: on_fib_ops(s, from, &m, now, o); break;
	case SWP_DUMP_REQ: on_dump(s, from, &m, o); break;
	case SWP_LINK_ACK: on_link_ack(s, &m); break;
	default: s->st.drops[SW_DROP_UNEXPECTED]++; break;
	}
}
