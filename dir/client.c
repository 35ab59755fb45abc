#include "dir/client.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/rng.h"

#define NONE UINT32_MAX

struct pending {
	bool used;
	bool hedged;			/* a hedge was tried (once per request) */
	bool hedge_sent;		/* and sent; kept after the answer, so that
					 * the other answer is known for what it is */
	uint8_t tries;
	uint64_t req_id;
	uint64_t due;
	uint64_t first_ns;		/* its first transmission */
	uint32_t prev, next;		/* the in-flight list */
	dirc_reply_fn cb;
	void *arg;
	size_t len;
	uint8_t buf[DIRP_MAX_DGRAM];
};

struct srv_session {
	uint64_t id, top, bits, last_ms;
};

struct dirc {
	struct dirc_cfg cfg;
	uint64_t session, seq, next_req;
	struct pending *p;		/* cfg.max_pending slots */
	uint32_t mask;			/* cfg.max_pending - 1 */
	uint32_t head, tail;		/* in-flight list, oldest first */
	unsigned nflight;
	unsigned hedges;		/* hedged lookups in flight */
	uint64_t srtt_ns;		/* smoothed answer time of reads; 0: none yet */
	uint64_t owed_ns;		/* first send of the oldest lookup the hedge
					 * server answered since the server in use
					 * last sent anything; 0: none */
	struct srv_session srv[DIRC_SESSIONS];
	struct dirc_stats st;
};

struct dirc *dirc_new(const struct dirc_cfg *cfg)
{
	struct dirc *c = xcalloc(1, sizeof(*c));
	struct rng r;

	assert(cfg->key && cfg->send);
	c->cfg = *cfg;
	if (!c->cfg.rto_ms)
		c->cfg.rto_ms = DIRC_RTO_MS;
	if (!c->cfg.tries)
		c->cfg.tries = DIRC_TRIES;
	if (!c->cfg.skew_ms)
		c->cfg.skew_ms = DIR_SKEW_MS;
	rng_seed(&r, cfg->seed);
	c->session = rng_next(&r) | 1;
	c->next_req = (rng_next(&r) >> 16) | 1;
	if (!c->cfg.max_pending)
		c->cfg.max_pending = DIRC_MAX_PENDING;
	if (!c->cfg.hedge_flight)
		c->cfg.hedge_flight = DIRC_HEDGE_FLIGHT;
	assert(c->cfg.max_pending <= DIRC_MAX_PENDING &&
	       !(c->cfg.max_pending & (c->cfg.max_pending - 1)));
	c->mask = c->cfg.max_pending - 1;
	c->p = xcalloc(c->cfg.max_pending, sizeof(*c->p));
	c->head = c->tail = NONE;
	return c;
}

void dirc_free(struct dirc *c)
{
	if (!c)
		return;
	free(c->p);
	free(c);
}

unsigned dirc_in_flight(const struct dirc *c)
{
	return c->nflight;
}

const struct dirc_stats *dirc_get_stats(const struct dirc *c)
{
	return &c->st;
}

static void flight_unlink(struct dirc *c, uint32_t i)
{
	struct pending *p = &c->p[i];

	if (p->prev != NONE)
		c->p[p->prev].next = p->next;
	else
		c->head = p->next;
	if (p->next != NONE)
		c->p[p->next].prev = p->prev;
	else
		c->tail = p->prev;
	p->used = false;
	c->nflight--;
	c->hedges -= p->hedge_sent;
}

static void flight_append(struct dirc *c, uint32_t i)
{
	c->p[i].used = true;
	c->p[i].next = NONE;
	c->p[i].prev = c->tail;
	if (c->tail != NONE)
		c->p[c->tail].next = i;
	else
		c->head = i;
	c->tail = i;
	c->nflight++;
}

static void put_records(struct dirp_writer *w, uint8_t type, const void *recs, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		switch (type) {
		case DIRP_REGISTER:
			dirp_put_entry(w, (const struct dirp_entry *)recs + i);
			break;
		case DIRP_LOOKUP:
		case DIRP_RENEW:
		case DIRP_UNREGISTER:
			dirp_put_key(w, (const struct dirp_key *)recs + i);
			break;
		case DIRP_REGISTER6:
			dirp_put_entry6(w, (const struct dirp_entry6 *)recs + i);
			break;
		case DIRP_LOOKUP6:
		case DIRP_UNREGISTER6:
		case DIRP_MEMBERS:
			dirp_put_key6(w, (const struct dirp_key6 *)recs + i);
			break;
		case DIRP_JOIN:
		case DIRP_LEAVE:
			dirp_put_member(w, (const struct dirp_member *)recs + i);
			break;
		case DIRP_SET_AVAIL:
			dirp_put_avail(w, (const struct dirp_avail *)recs + i);
			break;
		case DIRP_MOVE:
			dirp_put_move(w, (const struct dirp_move *)recs + i);
			break;
		case DIRP_POL_SET:
		case DIRP_POL_GET:
		case DIRP_POL_DEL:
			dirp_put_pol(w, (const struct dirp_pol *)recs + i);
			break;
		default:
			assert(!"checked by dirc_request");
		}
	}
}

static uint64_t rto_ns(const struct dirc *c, unsigned tries)
{
	uint64_t ms = (uint64_t)c->cfg.rto_ms << MIN(tries, 10u);

	return MIN(ms, (uint64_t)MAX(DIRC_RTO_MAX_MS, c->cfg.rto_ms)) * 1000000ull;
}

int64_t dirc_request(struct dirc *c, struct dir_now now, uint8_t type,
		     const void *recs, unsigned n, dirc_reply_fn cb, void *arg)
{
	struct dirp_hdr h = { .type = type, .session = c->session, .time_ms = now.wall_ms };
	struct dirp_writer w;
	struct pending *p;
	uint32_t i;

	if (type < DIRP_REGISTER || type > DIRP_POL_DEL || type == DIRP_ACK ||
	    n > dirp_max_records(type) || (n && !recs))
		return -EINVAL;
	h.req_id = c->next_req;
	i = (uint32_t)(h.req_id & c->mask);
	if (c->p[i].used)
		return -EBUSY;
	c->next_req++;
	h.seq = ++c->seq;
	p = &c->p[i];
	dirp_begin(&w, p->buf, sizeof(p->buf), &h);
	put_records(&w, type, recs, n);
	p->len = dirp_finish(&w, c->cfg.key);
	p->req_id = h.req_id;
	p->tries = 1;
	p->hedged = p->hedge_sent = false;
	p->first_ns = now.ns;
	p->due = now.ns + rto_ns(c, 0);
	p->cb = cb;
	p->arg = arg;
	flight_append(c, i);
	c->st.requests++;
	c->cfg.send(c->cfg.send_arg, p->buf, p->len);
	return (int64_t)h.req_id;
}

/* ---- input ----------------------------------------------------------------- */

/* Requests the server answers only once its store took them. */
static bool is_write(uint8_t type)
{
	switch (type) {
	case DIRP_REGISTER: case DIRP_UNREGISTER: case DIRP_SET_AVAIL: case DIRP_MOVE:
	case DIRP_REGISTER6: case DIRP_UNREGISTER6: case DIRP_JOIN: case DIRP_LEAVE:
		return true;
	default:
		return false;
	}
}

/* Requests hedged: lookups alone (docs/directory-protocol.md, "Hedged
 * lookups": writes are not, and a renewal holds a lease where it goes). */
static bool is_hedged(uint8_t type)
{
	return type == DIRP_LOOKUP || type == DIRP_LOOKUP6;
}

/* A read's answer time, for the hedge delay (Karn: only requests sent
 * once, answered by the server in use). */
static void rtt_sample(struct dirc *c, const struct pending *p, uint64_t now_ns)
{
	uint64_t s = now_ns > p->first_ns ? now_ns - p->first_ns : 0;

	if (p->tries != 1 || is_write(p->buf[3]))
		return;
	c->srtt_ns = c->srtt_ns ? c->srtt_ns - c->srtt_ns / 8 + s / 8 : MAX(s, (uint64_t)1);
}

static void on_reply(struct dirc *c, const struct dirp_msg *m, uint64_t now_ns, bool hedge)
{
	uint32_t i = (uint32_t)(m->h.req_id & c->mask);
	struct pending *p = &c->p[i];
	dirc_reply_fn cb;
	void *arg;

	if (!p->used || p->req_id != m->h.req_id || (p->buf[3] | DIRP_REPLY_BIT) != m->h.type) {
		/* authentic (decoded with the key): late */
		if (!p->used && p->req_id == m->h.req_id && p->hedge_sent)
			c->st.hedge_dropped++;	/* the other answer */
		else
			c->st.late_replies++;
		return;
	}
	if (hedge) {
		c->st.hedge_won++;
		c->owed_ns = c->owed_ns ? MIN(c->owed_ns, p->first_ns) : p->first_ns;
	} else {
		rtt_sample(c, p, now_ns);
	}
	cb = p->cb;
	arg = p->arg;
	flight_unlink(c, i);
	c->st.replies++;
	if (cb)
		cb(arg, m->h.req_id, m);
}

/* The replay window for pushes of one server session. */
static bool push_fresh(struct dirc *c, const struct dirp_hdr *h, struct dir_now now)
{
	struct srv_session *s = NULL, *oldest = &c->srv[0];
	uint64_t off;

	if (h->time_ms > now.wall_ms + c->cfg.skew_ms || h->time_ms + c->cfg.skew_ms < now.wall_ms)
		return false;
	for (int i = 0; i < DIRC_SESSIONS; i++) {
		if (c->srv[i].id == h->session)
			s = &c->srv[i];
		if (c->srv[i].last_ms < oldest->last_ms)
			oldest = &c->srv[i];
	}
	if (!s) {
		/* A new server session (a directory that restarted) takes the
		 * slot of the one heard from longest ago, even if that one is
		 * still within the skew window: refusing it (as before) left an
		 * agent deaf to every push after DIRC_SESSIONS directory starts
		 * in 2 x skew, its entries stale until their leases ended.  What
		 * forgetting a live window gives away is small: a captured push of
		 * the forgotten session, replayed within the skew, is applied only
		 * where it carries a version newer than the one held (the agent
		 * keeps the highest version), so it cannot roll an entry back. */
		if (oldest->id && oldest->last_ms + 2ull * c->cfg.skew_ms >= now.wall_ms)
			c->st.sessions_evicted++;
		s = oldest;
		memset(s, 0, sizeof(*s));
		s->id = h->session;
	}
	if (h->seq > s->top) {
		off = h->seq - s->top;
		s->bits = off >= 64 ? 0 : s->bits << off;
		s->bits |= 1;
		s->top = h->seq;
	} else {
		off = s->top - h->seq;
		if (off >= 64 || (s->bits & (1ull << off)))
			return false;
		s->bits |= 1ull << off;
	}
	s->last_ms = now.wall_ms;
	return true;
}

static void on_push(struct dirc *c, const struct dirp_msg *m, struct dir_now now, bool hedge)
{
	struct dirp_hdr h = { .type = DIRP_ACK, .session = c->session, .seq = ++c->seq,
			      .time_ms = now.wall_ms };
	uint8_t buf[DIRP_MAX_DGRAM];
	struct dirp_writer w;

	if (!push_fresh(c, &m->h, now)) {
		c->st.dropped++;
		return;
	}
	c->st.pushes++;
	dirp_begin(&w, buf, sizeof(buf), &h);
	for (unsigned i = 0; i < m->h.count; i++) {
		struct dirp_entry e;
		struct dirp_ack a;

		dirp_get_entry(m, i, &e);
		if (c->cfg.on_push)
			c->cfg.on_push(c->cfg.push_arg, m->h.type, &e);
		a = (struct dirp_ack){ .vdc = e.vdc, .ip = e.ip, .version = e.version };
		dirp_put_ack(&w, &a);
		c->st.push_records++;
	}
	if (hedge)
		(void)c->cfg.hedge(c->cfg.hedge_arg, buf, dirp_finish(&w, c->cfg.key));
	else
		c->cfg.send(c->cfg.send_arg, buf, dirp_finish(&w, c->cfg.key));
	c->st.acks_sent++;
}

/* IPv6 pushes: checked, handed over and acknowledged (ACK6) as IPv4 ones. */
static void on_push6(struct dirc *c, const struct dirp_msg *m, struct dir_now now)
{
	struct dirp_hdr h = { .type = DIRP_ACK6, .session = c->session, .seq = ++c->seq,
			      .time_ms = now.wall_ms };
	uint8_t buf[DIRP_MAX_DGRAM];
	struct dirp_writer w;

	if (!push_fresh(c, &m->h, now)) {
		c->st.dropped++;
		return;
	}
	c->st.pushes++;
	dirp_begin(&w, buf, sizeof(buf), &h);
	for (unsigned i = 0; i < m->h.count; i++) {
		struct dirp_entry6 e;
		struct dirp_ack6 a;

		dirp_get_entry6(m, i, &e);
		if (c->cfg.on_push6)
			c->cfg.on_push6(c->cfg.push_arg, &e);
		a = (struct dirp_ack6){ .vdc = e.vdc, .version = e.version };
		memcpy(a.ip6, e.ip6, 16);
		dirp_put_ack6(&w, &a);
		c->st.push_records++;
	}
	c->cfg.send(c->cfg.send_arg, buf, dirp_finish(&w, c->cfg.key));
	c->st.acks_sent++;
}

/* A policy's note: checked as pushes, handed over, not acknowledged. */
static void on_pol_note(struct dirc *c, const struct dirp_msg *m, struct dir_now now)
{
	struct dirp_pol p;

	if (!push_fresh(c, &m->h, now) || m->h.count != 1) {
		c->st.dropped++;
		return;
	}
	c->st.pushes++;
	dirp_get_pol(m, 0, &p);
	if (c->cfg.on_pol)
		c->cfg.on_pol(c->cfg.push_arg, &p);
	c->st.push_records++;
}

static void input(struct dirc *c, struct dir_now now, const uint8_t *buf, size_t len,
		  bool hedge)
{
	struct dirp_msg m;

	if (dirp_decode(buf, len, c->cfg.key, &m) < 0) {
		c->st.dropped++;
		return;
	}
	if (!hedge)
		c->owed_ns = 0;		/* the server in use is alive */
	if (m.h.type == DIRP_UPDATE || m.h.type == DIRP_INVALIDATE)
		on_push(c, &m, now, hedge);
	else if (m.h.type == DIRP_UPDATE6)
		on_push6(c, &m, now);
	else if (m.h.type == DIRP_POL_NOTE)
		on_pol_note(c, &m, now);
	else if (m.h.type & DIRP_REPLY_BIT)
		on_reply(c, &m, now.ns, hedge);
	else
		c->st.dropped++;
}

void dirc_input(struct dirc *c, struct dir_now now, const uint8_t *buf, size_t len)
{
	input(c, now, buf, len, false);
}

void dirc_hedge_input(struct dirc *c, struct dir_now now, const uint8_t *buf, size_t len)
{
	if (!c->cfg.hedge) {
		c->st.dropped++;
		return;
	}
	input(c, now, buf, len, true);
}

/* ---- timers ----------------------------------------------------------------- */

void dirc_expedite(struct dirc *c, uint64_t now_ns)
{
	c->owed_ns = 0;
	for (uint32_t i = c->head; i != NONE; i = c->p[i].next)
		c->p[i].due = MIN(c->p[i].due, now_ns);
}

uint64_t dirc_oldest(const struct dirc *c, bool writes)
{
	uint64_t owed = writes ? 0 : c->owed_ns;

	for (uint32_t i = c->head; i != NONE; i = c->p[i].next)
		if (is_write(c->p[i].buf[3]) == writes)
			return owed ? MIN(owed, c->p[i].first_ns) : c->p[i].first_ns;
	return owed;
}

uint64_t dirc_hedge_delay(const struct dirc *c)
{
	uint64_t ms = 1000000ull, d = c->srtt_ns * DIRC_HEDGE_RTT_MULT;

	if (!c->srtt_ns)
		return DIRC_HEDGE_MAX_MS * ms;
	return MIN(MAX(d, DIRC_HEDGE_MIN_MS * ms), DIRC_HEDGE_MAX_MS * ms);
}

/* Hedge p if it is a lookup unanswered for the hedge delay and a hedge is
 * free: once, through cfg.hedge, freshly stamped (the hedge server's
 * replay window may have seen later numbers).  Returns when p is due for
 * it, UINT64_MAX when never or not now (no hedge free: the next tick after
 * an answer looks again). */
static uint64_t hedge(struct dirc *c, struct pending *p, struct dir_now now, uint64_t delay)
{
	if (!c->cfg.hedge || p->hedged || !is_hedged(p->buf[3]))
		return UINT64_MAX;
	if (c->hedges >= c->cfg.hedge_flight)
		return UINT64_MAX;
	if (p->first_ns + delay > now.ns)
		return p->first_ns + delay;
	p->hedged = true;
	dirp_restamp(p->buf, p->len, ++c->seq, now.wall_ms, c->cfg.key);
	if (c->cfg.hedge(c->cfg.hedge_arg, p->buf, p->len)) {
		p->hedge_sent = true;
		c->hedges++;
		c->st.hedged++;
	}
	return UINT64_MAX;
}

uint64_t dirc_tick(struct dirc *c, struct dir_now now)
{
	uint64_t next = UINT64_MAX, delay = dirc_hedge_delay(c);
	uint32_t i = c->head;

	while (i != NONE) {
		struct pending *p = &c->p[i];
		uint32_t nx = p->next;

		if (p->due <= now.ns) {
			if (p->tries >= c->cfg.tries) {
				dirc_reply_fn cb = p->cb;
				void *arg = p->arg;
				uint64_t id = p->req_id;

				flight_unlink(c, i);
				c->st.timeouts++;
				if (cb)
					cb(arg, id, NULL);
				i = nx;
				continue;
			}
			dirp_restamp(p->buf, p->len, ++c->seq, now.wall_ms, c->cfg.key);
			p->due = now.ns + rto_ns(c, p->tries);
			p->tries++;
			c->st.retransmits++;
			c->cfg.send(c->cfg.send_arg, p->buf, p->len);
		}
		next = MIN(next, hedge(c, p, now, delay));
		next = MIN(next, p->due);
		i = nx;
	}
	return next;
}
