/* The cluster of SLB servers (see ring.h). */
#include "slb/ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct slb_ring {
	struct slb_ring_cfg cfg;
	uint64_t live;
	uint32_t pred, succ, master;
	uint64_t pred_seen;		/* last heartbeat from pred (or when it became pred) */
	uint64_t next_tick;
	uint32_t load[SLB_RING_MAX + 1];	/* master: members' last reports */
	uint32_t own_load;
	uint8_t owner[SLB_RING_VIPS_MAX];
	uint64_t version;
	uint64_t mine[SLB_RING_VIPS_MAX / 64];
	uint32_t above, below, quiet;
	uint64_t leaving;		/* master: released, VIPs moved off, until gone */
	uint8_t stale[SLB_RING_MAX + 1];	/* master: reports in a row of an older version */
	bool resync;			/* master: announce again at the next tick */
	uint64_t ticks;			/* since start: dead members are probed every `misses` */
	uint64_t ctr[SLB_RING_CTR_COUNT];
	bool started;
};

static uint64_t bit(uint32_t id)
{
	return 1ull << (id - 1);
}

static bool is_live(const struct slb_ring *r, uint32_t id)
{
	return id >= 1 && id <= SLB_RING_MAX && (r->live & bit(id));
}

/* May own VIPs: live and not being released. */
static bool can_own(const struct slb_ring *r, uint32_t id)
{
	return is_live(r, id) && !(r->leaving & bit(id));
}

/* The next live id after `id` in ring order (wrapping); id itself if alone. */
static uint32_t next_live(const struct slb_ring *r, uint32_t id, int dir)
{
	for (uint32_t k = 1; k <= SLB_RING_MAX; k++) {
		uint32_t c = (uint32_t)(((int)id - 1 + dir * (int)k + 2 * SLB_RING_MAX) % SLB_RING_MAX) + 1;

		if (is_live(r, c))
			return c;
	}
	return id;
}

struct slb_ring *slb_ring_new(const struct slb_ring_cfg *cfg)
{
	struct slb_ring *r;

	if (cfg->self < 1 || cfg->self > SLB_RING_MAX || !(cfg->members & bit(cfg->self)) ||
	    (cfg->live & ~cfg->members) || !cfg->interval_ns || !cfg->misses ||
	    cfg->nvips > SLB_RING_VIPS_MAX || cfg->low_pct > cfg->high_pct || cfg->high_pct > 100 ||
	    !cfg->hold || !cfg->min_live)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->cfg = *cfg;
	r->live = cfg->live | bit(cfg->self);
	return r;
}

void slb_ring_free(struct slb_ring *r)
{
	free(r);
}

void slb_ring_out_free(struct slb_ring_out *out)
{
	free(out->sends);
	*out = (struct slb_ring_out){ 0 };
}

static struct slb_ring_msg *send_to(struct slb_ring *r, struct slb_ring_out *out, uint32_t to,
				    enum slb_ring_msg_type t)
{
	struct slb_ring_send *s;

	if (out->n == out->cap) {
		out->cap = out->cap ? out->cap * 2 : 16;
		out->sends = xrealloc(out->sends, out->cap * sizeof(*out->sends));
	}
	s = &out->sends[out->n++];
	memset(s, 0, sizeof(*s));
	s->to = to;
	s->msg.type = t;
	s->msg.from = r->cfg.self;
	return &s->msg;
}

static void to_all(struct slb_ring *r, struct slb_ring_out *out, const struct slb_ring_msg *m)
{
	for (uint32_t id = 1; id <= SLB_RING_MAX; id++)
		if (id != r->cfg.self && is_live(r, id)) {
			struct slb_ring_msg *c = send_to(r, out, id, m->type);

			*c = *m;
		}
}

/* ---- assignment (master) ---------------------------------------------------- */

static void count_vips(const struct slb_ring *r, uint32_t *n)
{
	memset(n, 0, (SLB_RING_MAX + 1) * sizeof(*n));
	for (uint32_t v = 0; v < r->cfg.nvips; v++)
		n[r->owner[v]]++;
}

static uint32_t emptiest(const struct slb_ring *r, const uint32_t *n)
{
	uint32_t best = SLB_RING_NOBODY;

	for (uint32_t id = 1; id <= SLB_RING_MAX; id++)
		if (can_own(r, id) && (!best || n[id] < n[best] ||
				       (n[id] == n[best] && r->load[id] < r->load[best])))
			best = id;
	return best;
}

static void announce(struct slb_ring *r, struct slb_ring_out *out)
{
	struct slb_ring_msg m = { .type = SLB_RING_ASSIGN, .from = r->cfg.self };

	r->resync = false;
	memset(r->stale, 0, sizeof(r->stale));
	r->version = (((r->version >> 6) + 1) << 6) | (r->cfg.self - 1);
	m.version = r->version;
	memcpy(m.owner, r->owner, sizeof(m.owner));
	to_all(r, out, &m);
	r->ctr[SLB_RING_CTR_assigns]++;
}

/* Orphans to the emptiest live member; true if anything moved. */
static bool adopt_orphans(struct slb_ring *r)
{
	uint32_t n[SLB_RING_MAX + 1];
	bool moved = false;

	count_vips(r, n);
	for (uint32_t v = 0; v < r->cfg.nvips; v++) {
		if (can_own(r, r->owner[v]))
			continue;
		n[r->owner[v]]--;
		r->owner[v] = (uint8_t)emptiest(r, n);
		n[r->owner[v]]++;
		moved = true;
	}
	return moved;
}

/* One VIP from the fullest to the emptiest while they differ by more than one. */
static bool rebalance_one(struct slb_ring *r)
{
	uint32_t n[SLB_RING_MAX + 1], lo, hi = SLB_RING_NOBODY;

	count_vips(r, n);
	lo = emptiest(r, n);
	for (uint32_t id = 1; id <= SLB_RING_MAX; id++)
		if (can_own(r, id) && (!hi || n[id] > n[hi]))
			hi = id;
	if (!hi || n[hi] <= n[lo] + 1)
		return false;
	for (uint32_t v = r->cfg.nvips; v-- > 0;)
		if (r->owner[v] == hi) {
			r->owner[v] = (uint8_t)lo;
			return true;
		}
	return false;
}

/* ---- membership --------------------------------------------------------------- */

static void report_mine(struct slb_ring *r, struct slb_ring_out *out)
{
	uint64_t mine[SLB_RING_VIPS_MAX / 64] = { 0 };

	for (uint32_t v = 0; v < r->cfg.nvips; v++)
		if (r->owner[v] == r->cfg.self)
			mine[v / 64] |= 1ull << (v % 64);
	if (memcmp(mine, r->mine, sizeof(mine))) {
		memcpy(r->mine, mine, sizeof(mine));
		out->vips_changed = true;
	}
	memcpy(out->mine, r->mine, sizeof(mine));
}

static void membership(struct slb_ring *r, uint64_t now, struct slb_ring_out *out)
{
	uint32_t pred = next_live(r, r->cfg.self, -1);

	if (pred != r->pred)
		r->pred_seen = now;	/* a new predecessor gets a whole window */
	r->pred = pred;
	r->succ = next_live(r, r->cfg.self, +1);
	r->master = next_live(r, 0 + SLB_RING_MAX, +1);	/* the lowest live id */
	if (r->master == r->cfg.self && r->started && adopt_orphans(r))
		announce(r, out);
	report_mine(r, out);
}

static void set_live(struct slb_ring *r, uint32_t id, bool live, uint64_t now,
		     struct slb_ring_out *out)
{
	if (is_live(r, id) == live)
		return;
	if (live) {
		r->live |= bit(id);
		r->ctr[SLB_RING_CTR_rejoins]++;
		r->resync = true;	/* it missed what was announced while it was away */
	} else {
		r->live &= ~bit(id);
		r->leaving &= ~bit(id);
		r->ctr[SLB_RING_CTR_deaths]++;
	}
	membership(r, now, out);
}

/* ---- auto scaling (master) --------------------------------------------------- */

static void autoscale(struct slb_ring *r, uint64_t now, struct slb_ring_out *out)
{
	uint32_t nlive = 0, sum = 0, hi = SLB_RING_NOBODY, off = SLB_RING_NOBODY;

	r->load[r->cfg.self] = r->own_load;
	for (uint32_t id = 1; id <= SLB_RING_MAX; id++) {
		if (can_own(r, id)) {
			nlive++;
			sum += r->load[id];
			if (id != r->cfg.self)
				hi = id;
		} else if (!off && !is_live(r, id) && (r->cfg.members & bit(id))) {
			off = id;
		}
	}
	if (r->quiet) {
		r->quiet--;
		return;
	}
	r->above = sum > r->cfg.high_pct * nlive ? r->above + 1 : 0;
	r->below = sum < r->cfg.low_pct * nlive ? r->below + 1 : 0;
	if (r->above >= r->cfg.hold && off) {
		out->scale = +1;
		out->scale_id = off;
		r->ctr[SLB_RING_CTR_scale_up]++;
	} else if (r->below >= r->cfg.hold && nlive > r->cfg.min_live && hi) {
		/* its VIPs move now, while it still runs; then it may go */
		out->scale = -1;
		out->scale_id = hi;
		r->ctr[SLB_RING_CTR_scale_down]++;
		r->leaving |= bit(hi);
		if (adopt_orphans(r))
			announce(r, out);
		report_mine(r, out);
	} else {
		return;
	}
	r->above = r->below = 0;
	r->quiet = r->cfg.hold;
}

/* ---- events -------------------------------------------------------------------- */

static void tick(struct slb_ring *r, uint64_t now, struct slb_ring_out *out)
{
	uint64_t window = r->cfg.misses * r->cfg.interval_ns;

	if (r->succ != r->cfg.self) {
		send_to(r, out, r->succ, SLB_RING_HB)->load_pct = r->own_load;
		r->ctr[SLB_RING_CTR_hb_sent]++;
	}
	if (r->master != r->cfg.self) {
		struct slb_ring_msg *m = send_to(r, out, r->master, SLB_RING_LOAD);

		m->load_pct = r->own_load;
		m->version = r->version;	/* the master resends a view we lack */
	}
	/* members we think dead are asked once a window: after a partition
	 * heals, nobody would speak to them otherwise */
	if (++r->ticks % r->cfg.misses == 0)
		for (uint32_t id = 1; id <= SLB_RING_MAX; id++)
			if (id != r->cfg.self && (r->cfg.members & bit(id)) && !is_live(r, id))
				send_to(r, out, id, SLB_RING_HB)->load_pct = r->own_load;
	if (r->pred != r->cfg.self && now > r->pred_seen + window) {
		struct slb_ring_msg m = { .type = SLB_RING_DEAD, .from = r->cfg.self, .who = r->pred };

		r->ctr[SLB_RING_CTR_declared_dead]++;
		set_live(r, r->pred, false, now, out);
		to_all(r, out, &m);
	}
	if (r->master == r->cfg.self) {
		if (r->resync) {
			adopt_orphans(r);
			announce(r, out);
			report_mine(r, out);
		} else if (rebalance_one(r)) {
			announce(r, out);
			report_mine(r, out);
		}
		autoscale(r, now, out);
	}
}

static bool msg_ok(const struct slb_ring *r, const struct slb_ring_msg *m)
{
	if (m->from < 1 || m->from > SLB_RING_MAX || !(r->cfg.members & bit(m->from)) ||
	    m->from == r->cfg.self || m->load_pct > 100)
		return false;
	if ((m->type == SLB_RING_DEAD || m->type == SLB_RING_ALIVE) &&
	    (m->who < 1 || m->who > SLB_RING_MAX || !(r->cfg.members & bit(m->who))))
		return false;
	if (m->type == SLB_RING_ASSIGN)
		for (uint32_t v = 0; v < r->cfg.nvips; v++)
			if (m->owner[v] < 1 || m->owner[v] > SLB_RING_MAX ||
			    !(r->cfg.members & bit(m->owner[v])))
				return false;
	return m->type >= SLB_RING_HB && m->type <= SLB_RING_ASSIGN;
}

static void on_msg(struct slb_ring *r, uint64_t now, const struct slb_ring_msg *m,
		   struct slb_ring_out *out)
{
	if (m->type != SLB_RING_DEAD && !is_live(r, m->from)) {
		/* a member we thought dead speaks: back, and everyone is told */
		struct slb_ring_msg a = { .type = SLB_RING_ALIVE, .from = r->cfg.self, .who = m->from };

		set_live(r, m->from, true, now, out);
		to_all(r, out, &a);
	}
	switch (m->type) {
	case SLB_RING_HB:
		if (m->from == r->pred)
			r->pred_seen = now;
		break;
	case SLB_RING_LOAD:
		r->load[m->from] = m->load_pct;
		if (r->master != r->cfg.self)
			break;
		/* A member holds an assignment we never made (announced while we
		 * were cut off from it) or has missed ours twice in a row: ours
		 * again, with a version above both. */
		if (m->version > r->version) {
			r->version = m->version;
			r->resync = true;
		} else if (m->version < r->version && ++r->stale[m->from] >= 2) {
			r->resync = true;
		} else if (m->version == r->version) {
			r->stale[m->from] = 0;
		}
		break;
	case SLB_RING_DEAD:
		if (m->who == r->cfg.self) {	/* not dead: say so */
			struct slb_ring_msg a = { .type = SLB_RING_ALIVE, .from = r->cfg.self,
						  .who = r->cfg.self };

			set_live(r, m->from, true, now, out);
			to_all(r, out, &a);
		} else {
			set_live(r, m->who, false, now, out);
		}
		break;
	case SLB_RING_ALIVE:
		set_live(r, m->who, true, now, out);
		break;
	case SLB_RING_ASSIGN:
		if (m->version <= r->version)
			break;
		r->version = m->version;
		memcpy(r->owner, m->owner, sizeof(r->owner));
		/* a stale master's view may name members we know dead */
		if (r->master == r->cfg.self && adopt_orphans(r))
			announce(r, out);
		report_mine(r, out);
		break;
	}
}

int slb_ring_input(struct slb_ring *r, uint64_t now, const struct slb_ring_event *ev,
		   struct slb_ring_out *out)
{
	int ret = 0;

	out->n = 0;
	out->vips_changed = false;
	out->scale = 0;
	out->scale_id = 0;
	switch (ev->type) {
	case SLB_RING_EV_START:
		if (r->started) {
			ret = -EINVAL;
			break;
		}
		r->started = true;
		r->next_tick = now;
		membership(r, now, out);
		if (r->master == r->cfg.self) {
			uint32_t id = r->master;

			for (uint32_t v = 0; v < r->cfg.nvips; v++, id = next_live(r, id, +1))
				r->owner[v] = (uint8_t)id;
			announce(r, out);
			report_mine(r, out);
		}
		break;
	case SLB_RING_EV_TIMER:
		break;
	case SLB_RING_EV_LOAD:
		if (ev->load_pct > 100) {
			ret = -EINVAL;
			break;
		}
		r->own_load = ev->load_pct;
		break;
	case SLB_RING_EV_MSG:
		if (!r->started || !msg_ok(r, &ev->msg)) {
			ret = -EINVAL;
			break;
		}
		on_msg(r, now, &ev->msg, out);
		break;
	default:
		ret = -EINVAL;
	}
	if (ret)
		r->ctr[SLB_RING_CTR_bad_msg]++;
	if (r->started && now >= r->next_tick) {
		tick(r, now, out);
		r->next_tick += r->cfg.interval_ns;
		if (r->next_tick <= now)	/* called late: no burst of catch-up ticks */
			r->next_tick = now + r->cfg.interval_ns;
	}
	out->deadline_ns = r->started ? r->next_tick : UINT64_MAX;
	return ret;
}

uint32_t slb_ring_master(const struct slb_ring *r)
{
	return r->master;
}

uint64_t slb_ring_live(const struct slb_ring *r)
{
	return r->live;
}

uint32_t slb_ring_owner(const struct slb_ring *r, uint32_t v)
{
	return v < r->cfg.nvips ? r->owner[v] : SLB_RING_NOBODY;
}

uint64_t slb_ring_version(const struct slb_ring *r)
{
	return r->version;
}

uint64_t slb_ring_counter(const struct slb_ring *r, enum slb_ring_counter k)
{
	return (unsigned)k < SLB_RING_CTR_COUNT ? r->ctr[k] : 0;
}

const char *slb_ring_counter_name(enum slb_ring_counter k)
{
	static const char *const names[] = {
#define SLB_RING_CTR_NAME(name, desc) #name,
		SLB_RING_COUNTERS(SLB_RING_CTR_NAME)
#undef SLB_RING_CTR_NAME
	};

	return (unsigned)k < SLB_RING_CTR_COUNT ? names[k] : "?";
}

uint32_t slb_ring_load_pct(uint64_t flows, uint64_t elapsed_ns, uint32_t capacity_cps)
{
	/* flows * 100 / (capacity * seconds), without overflow for a day's flows */
	long double pct;

	if (!elapsed_ns || !capacity_cps)
		return 0;
	pct = (long double)flows * 1e11L / ((long double)capacity_cps * (long double)elapsed_ns);
	return pct >= 100 ? 100 : (uint32_t)pct;
}
