/* Delivery of the RAS's availability changes to the directory (ras.h,
 * "Delivery to the directory").
 *
 * Per MAC (server, tree) the core keeps the latest value it wants the
 * directory to hold and whether that value still has to be sent.  MACs to
 * send wait in a FIFO (each at most once, so it holds every MAC); up to
 * RAS_AVAIL_INFLIGHT SET_AVAIL requests are in flight through a directory
 * client core (dir/client.h), which retransmits them.  A request's reply
 * delivers the values it carried; a value changed meanwhile is queued again
 * by ra_want, so the directory always ends with the latest one.
 *
 * A MAC may be in two requests in flight (a link failure's "unavailable",
 * then the reprogrammed fabric's "available", sent at once: the fail-back
 * must not wait for a round trip).  The older one's retransmission could
 * then land after the newer one, acknowledged as it is: so a MAC sent
 * while an older request of it was in flight is sent once more, with its
 * latest value, when the last request that carried it ends.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "dir/client.h"
#include "ras/ras_int.h"

enum { RA_NONE = 2 };	/* want[]: never announced */

struct ra_req {
	int64_t id;		/* 0: free */
	uint16_t n;
	uint32_t idx[DIRP_MAX_RECORDS];
};

struct ras_avq {
	struct ras *r;
	struct dirc *c;
	struct ras_out *o;	/* the output of the call in progress */
	uint64_t now;
	uint8_t *want;		/* per idx: 0, 1 or RA_NONE */
	uint8_t *queued;	/* per idx: in q[] */
	uint16_t *flying;	/* per idx: requests in flight that carry it */
	uint8_t *again;		/* per idx: sent while in flight: once more at the end */
	uint32_t *q, qhead, qn;	/* ring of nidx */
	struct ra_req req[RAS_AVAIL_INFLIGHT];
	uint32_t inflight;	/* records in req[] */
	uint64_t session;	/* the directory's, 0 until its first reply */
	int64_t probe_id;
	uint64_t probe_at;
	unsigned dir_cur;	/* 0: c.dir, k: c.more_dirs[k - 1] */
	struct ras_addr dir0;	/* c.dir as configured */
	uint64_t moved_at;
};

static struct dir_now dnow(const struct ras *r, uint64_t now)
{
	return (struct dir_now){ .ns = now,
				 .wall_ms = (uint64_t)((int64_t)(now / 1000000) +
						       r->c.wall_offset_ms) };
}

static void dir_send(void *arg, const uint8_t *buf, size_t len)
{
	struct ras_avq *av = arg;
	struct ras_out *o = av->o;
	struct ras_dgram *g;

	assert(o && len <= sizeof(g->buf));
	if (o->ndir == o->cap_dir) {
		o->cap_dir = o->cap_dir ? o->cap_dir * 2 : 16;
		o->dir = xreallocarray(o->dir, o->cap_dir, sizeof(*o->dir));
	}
	g = &o->dir[o->ndir++];
	g->to = av->r->c.dir;
	g->len = len;
	memcpy(g->buf, buf, len);
}

struct ras_avq *ra_new(struct ras *r)
{
	struct ras_avq *av = xcalloc(1, sizeof(*av));
	size_t n = r->nidx ? r->nidx : 1;
	struct dirc_cfg dc = { .key = &r->c.key, .seed = r->c.seq_base ^ 0x7261766171ull,
			       .send = dir_send, .send_arg = av, .rto_ms = RAS_AVAIL_RTO_MS,
			       .tries = r->c.nmore_dirs ? RAS_AVAIL_TRIES_HA : RAS_AVAIL_TRIES };

	av->r = r;
	av->dir0 = r->c.dir;
	av->c = dirc_new(&dc);
	av->want = xmalloc(n);
	memset(av->want, RA_NONE, n);
	av->queued = xcalloc(n, 1);
	av->flying = xcalloc(n, sizeof(*av->flying));
	av->again = xcalloc(n, 1);
	av->q = xcalloc(n, sizeof(*av->q));
	return av;
}

void ra_free(struct ras_avq *av)
{
	if (!av)
		return;
	dirc_free(av->c);
	free(av->want);
	free(av->queued);
	free(av->flying);
	free(av->again);
	free(av->q);
	free(av);
}

static void enqueue(struct ras_avq *av, uint32_t idx)
{
	if (av->queued[idx])
		return;
	av->queued[idx] = 1;
	av->q[(av->qhead + av->qn++) % av->r->nidx] = idx;
}

static uint32_t dequeue(struct ras_avq *av)
{
	uint32_t idx = av->q[av->qhead];

	av->qhead = (av->qhead + 1) % av->r->nidx;
	av->qn--;
	av->queued[idx] = 0;
	return idx;
}

static void pending(struct ras *r)
{
	r->st.avail_pending = r->av->qn + r->av->inflight;
}

void ra_want(struct ras *r, uint32_t idx, bool avail)
{
	r->av->want[idx] = avail;
	if (r->c.dir.ip)
		enqueue(r->av, idx);
	pending(r);
}

/* The directory answers with a session id of its own: a new one means it
 * restarted and may have lost what it was told (availability is written
 * before its reply but not synced): say everything again. */
static void note_session(struct ras_avq *av, uint64_t session)
{
	if (av->session && session != av->session) {
		av->r->st.dir_restarts++;
		for (uint32_t idx = 0; idx < av->r->nidx; idx++)
			if (av->want[idx] != RA_NONE)
				enqueue(av, idx);
	}
	av->session = session;
}

/* A request went unanswered: with several directory servers, the next
 * one (the session it answers with differs, so everything is said again). */
static void dir_move(struct ras_avq *av)
{
	struct ras *r = av->r;
	unsigned n = r->c.nmore_dirs + 1;

	if (n == 1 || (av->moved_at && av->now < av->moved_at + RAS_DIR_MOVE_HOLD_MS * 1000000ull))
		return;
	av->dir_cur = (av->dir_cur + 1) % n;
	r->c.dir = av->dir_cur ? r->c.more_dirs[av->dir_cur - 1] : av->dir0;
	av->moved_at = av->now;
	r->st.dir_moves++;
	if (r->c.log.fn)
		core_log(&r->c.log, LOG_WARN, "directory server %u of %u in use: the last did "
			 "not answer", av->dir_cur + 1, n);
}

static void on_reply(void *arg, uint64_t req_id, const struct dirp_msg *m)
{
	struct ras_avq *av = arg;
	struct ras_stats *st = &av->r->st;
	struct ra_req *q = NULL;

	if (!m)
		dir_move(av);

	if ((int64_t)req_id == av->probe_id) {
		av->probe_id = 0;
		if (m)
			note_session(av, m->h.session);
		return;
	}
	for (int i = 0; i < RAS_AVAIL_INFLIGHT && !q; i++)
		if (av->req[i].id == (int64_t)req_id)
			q = &av->req[i];
	if (!q)
		return;
	if (m && m->h.type == (DIRP_SET_AVAIL | DIRP_REPLY_BIT)) {
		st->avail_acked += q->n;
		st->avail_acked_ns = av->now;
		note_session(av, m->h.session);
	} else {	/* never answered: again, with the latest values */
		st->avail_timeouts++;
		for (uint16_t k = 0; k < q->n; k++)
			enqueue(av, q->idx[k]);
	}
	for (uint16_t k = 0; k < q->n; k++) {
		uint32_t idx = q->idx[k];

		if (--av->flying[idx] == 0 && av->again[idx]) {
			av->again[idx] = 0;
			enqueue(av, idx);
		}
	}
	av->inflight -= q->n;
	q->id = 0;
	pending(av->r);
}

bool ra_input(struct ras *r, struct ras_addr from, const uint8_t *buf, size_t len,
	      uint64_t now, struct ras_out *o)
{
	struct ras_avq *av = r->av;
	uint64_t dropped, late;

	if (!r->c.dir.ip || from.ip != r->c.dir.ip || from.port != r->c.dir.port)
		return false;
	dropped = dirc_get_stats(av->c)->dropped;
	late = dirc_get_stats(av->c)->late_replies;
	av->o = o;
	av->now = now;
	dirc_input(av->c, dnow(r, now), buf, len);
	av->o = NULL;
	if (dirc_get_stats(av->c)->dropped != dropped)
		ras_drop(r, RAS_DROP_DIR, now);
	else if (dirc_get_stats(av->c)->late_replies != late)
		ras_drop(r, RAS_DROP_STALE, now);	/* a retransmission's second reply */
	return true;
}

/* One SET_AVAIL from the front of the queue into free slot q. */
static bool send_one(struct ras_avq *av, struct ra_req *q)
{
	struct ras *r = av->r;
	struct dirp_avail recs[DIRP_MAX_RECORDS];
	unsigned n = MIN(av->qn, MIN(dirp_max_records(DIRP_SET_AVAIL), DIRP_MAX_RECORDS));
	int64_t id;

	for (unsigned k = 0; k < n; k++) {
		uint32_t idx = av->q[(av->qhead + k) % r->nidx];

		ras_server_mac(idx / 2, idx % 2, recs[k].mac);
		recs[k].scope = DIRP_SCOPE_INTERMEDIARY;
		recs[k].avail = av->want[idx];
	}
	id = dirc_request(av->c, dnow(r, av->now), DIRP_SET_AVAIL, recs, n, on_reply, av);
	if (id < 0)
		return false;
	q->id = id;
	q->n = (uint16_t)n;
	for (unsigned k = 0; k < n; k++) {
		uint32_t idx = dequeue(av);

		q->idx[k] = idx;
		if (av->flying[idx]++)
			av->again[idx] = 1;
	}
	av->inflight += n;
	r->st.avail_requests++;
	r->st.avail_records += n;
	return true;
}

static void send_queued(struct ras_avq *av)
{
	for (int i = 0; i < RAS_AVAIL_INFLIGHT && av->qn; i++)
		if (!av->req[i].id && !send_one(av, &av->req[i]))
			break;
	pending(av->r);
}

void ra_flush(struct ras *r, uint64_t now, struct ras_out *o)
{
	struct ras_avq *av = r->av;

	if (!r->c.dir.ip || !av->qn)
		return;
	av->o = o;
	av->now = now;
	send_queued(av);
	av->o = NULL;
}

uint64_t ra_step(struct ras *r, uint64_t now, struct ras_out *o)
{
	struct ras_avq *av = r->av;
	uint64_t next;

	if (!r->c.dir.ip)
		return UINT64_MAX;
	av->o = o;
	av->now = now;
	dirc_tick(av->c, dnow(r, now));	/* retransmissions, timeouts */
	send_queued(av);
	if (!av->inflight && !av->probe_id && now >= av->probe_at) {
		int64_t id = dirc_request(av->c, dnow(r, now), DIRP_STATS, NULL, 0, on_reply, av);

		av->probe_id = id > 0 ? id : 0;
		av->probe_at = now + RAS_DIR_PROBE_MS * 1000000ull;
	}
	next = dirc_tick(av->c, dnow(r, now));	/* the next deadline */
	av->o = NULL;
	/* A probe held back by requests in flight is due when they end (an
	 * input, or dirc_tick's deadline): a probe_at in the past is no
	 * deadline, or the shell would be called back at once, forever. */
	return av->probe_at > now ? MIN(next, av->probe_at) : next;
}
