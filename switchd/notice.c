/* The witness's own notice to the directory (see notice.h). */
#include "switchd/notice.h"

#include <stdlib.h>
#include <string.h>

#include "wire/dirproto.h"

_Static_assert((int)SWN_MACS_PER_NOTICE == (int)DIRP_MAX_RECORDS, "one notice, one datagram");

struct swn_notice {
	uint64_t req_id, link_seq, sent_ns;
	uint16_t port;
	uint8_t tries;
	uint32_t answered;	/* bit i: directory server i replied */
	uint16_t nrecs;
	uint8_t macs[SWN_MACS_PER_NOTICE][6];
};

struct swn {
	const struct sw_config *c;
	struct sw_stats *st;
	uint64_t session, seq, req_id;
	struct swn_notice *q;	/* SW_MAX_NOTICES, the first nq in use */
	uint32_t nq;
};

struct swn *swn_new(const struct sw_config *c, struct sw_stats *st)
{
	struct swn *n = xcalloc(1, sizeof(*n));

	n->c = c;
	n->st = st;
	/* a new session per start: the directory's replay check is per
	 * session, and seq_base is the wall clock at start */
	n->session = c->seq_base ^ ((uint64_t)c->id << 32) ^ 0x5357u;
	n->req_id = c->seq_base;
	n->q = xcalloc(SW_MAX_NOTICES, sizeof(*n->q));
	return n;
}

void swn_free(struct swn *n)
{
	if (!n)
		return;
	free(n->q);
	free(n);
}

static uint32_t all_dirs(const struct swn *n)
{
	return n->c->ndirs >= 32 ? UINT32_MAX : (1u << n->c->ndirs) - 1;
}

static void drop_notice(struct swn *n, uint32_t i)
{
	if (n->q[i].answered != all_dirs(n))
		n->st->notice_unanswered++;
	memmove(&n->q[i], &n->q[i + 1], (n->nq - i - 1) * sizeof(n->q[0]));
	n->nq--;
}

/* One SET_AVAIL to every server that has not answered; false when the
 * output is full (the next tick sends it). */
static bool send_notice(struct swn *n, struct swn_notice *q, uint64_t now, struct sw_out *o)
{
	struct dirp_hdr h = { .type = DIRP_SET_AVAIL, .session = n->session,
			      .req_id = q->req_id };
	uint32_t want = 0;

	for (uint32_t i = 0; i < n->c->ndirs; i++)
		want += !(q->answered & 1u << i);
	if (o->ndg + (int)want > SW_OUT_DGRAMS)
		return false;
	h.seq = ++n->seq;
	h.time_ms = (uint64_t)((int64_t)(now / 1000000) + n->c->wall_offset_ms);
	for (uint32_t i = 0; i < n->c->ndirs; i++) {
		struct sw_dgram *d = &o->dg[o->ndg];
		struct dirp_writer w;

		if (q->answered & 1u << i)
			continue;
		dirp_begin(&w, d->buf, sizeof(d->buf), &h);
		for (uint16_t r = 0; r < q->nrecs; r++) {
			struct dirp_avail a = { .scope = DIRP_SCOPE_INTERMEDIARY, .avail = 0 };

			memcpy(a.mac, q->macs[r], 6);
			dirp_put_avail(&w, &a);
		}
		d->to = n->c->dirs[i];
		d->len = dirp_finish(&w, &n->c->key);
		o->ndg++;
		n->st->notices_sent++;
	}
	n->st->notice_retransmits += q->tries > 0;
	q->tries++;
	q->sent_ns = now;
	return true;
}

void swn_port_down(struct swn *n, uint16_t port, uint64_t link_seq, const uint64_t *macs,
		   size_t nmacs, uint64_t now, struct sw_out *o)
{
	for (size_t off = 0; off < nmacs; off += SWN_MACS_PER_NOTICE) {
		struct swn_notice *q;

		if (n->nq == SW_MAX_NOTICES)	/* the oldest matters least */
			drop_notice(n, 0);
		q = &n->q[n->nq++];
		*q = (struct swn_notice){ .req_id = ++n->req_id, .link_seq = link_seq,
					  .port = port };
		q->nrecs = (uint16_t)MIN(nmacs - off, (size_t)SWN_MACS_PER_NOTICE);
		for (uint16_t r = 0; r < q->nrecs; r++)
			wire_put48(q->macs[r], macs[off + r]);
		n->st->notices++;
		n->st->notice_macs += q->nrecs;
		send_notice(n, q, now, o);
	}
}

void swn_port_up(struct swn *n, uint16_t port)
{
	for (uint32_t i = n->nq; i-- > 0;)
		if (n->q[i].port == port)
			drop_notice(n, i);
}

void swn_link_acked(struct swn *n, uint64_t link_seq)
{
	for (uint32_t i = n->nq; i-- > 0;)
		if (link_seq && n->q[i].link_seq == link_seq) {
			n->st->notice_ras_acked++;
			n->q[i].answered = all_dirs(n);	/* not counted unanswered */
			drop_notice(n, i);
		}
}

static int dir_index(const struct swn *n, struct sw_addr from)
{
	for (uint32_t i = 0; i < n->c->ndirs; i++)
		if (n->c->dirs[i].ip == from.ip && n->c->dirs[i].port == from.port)
			return (int)i;
	return -1;
}

bool swn_is_dir(const struct swn *n, struct sw_addr from)
{
	return dir_index(n, from) >= 0;
}

void swn_input(struct swn *n, struct sw_addr from, const uint8_t *buf, size_t len)
{
	int di = dir_index(n, from);
	struct dirp_msg m;

	if (di < 0 || dirp_decode(buf, len, &n->c->key, &m) < 0 ||
	    m.h.type != (DIRP_SET_AVAIL | DIRP_REPLY_BIT)) {
		n->st->notice_bad_replies++;
		return;
	}
	for (uint32_t i = 0; i < n->nq; i++) {
		struct swn_notice *q = &n->q[i];

		if (q->req_id != m.h.req_id)
			continue;
		q->answered |= 1u << di;
		n->st->notice_replies++;
		if (q->answered == all_dirs(n))
			drop_notice(n, i);
		return;
	}
	n->st->notice_late_replies++;	/* a second answer, or after giving up */
}

uint64_t swn_tick(struct swn *n, uint64_t now, struct sw_out *o)
{
	uint64_t next = UINT64_MAX;

	for (uint32_t i = 0; i < n->nq;) {
		struct swn_notice *q = &n->q[i];

		if (q->tries && q->tries >= SW_NOTICE_TRIES &&
		    now >= q->sent_ns + SW_NOTICE_RETRY_NS) {
			drop_notice(n, i);	/* given up: a RAS will tell */
			continue;
		}
		if (!q->tries || now >= q->sent_ns + SW_NOTICE_RETRY_NS) {
			if (!send_notice(n, q, now, o))
				return now;
		}
		next = MIN(next, q->sent_ns + SW_NOTICE_RETRY_NS);
		i++;
	}
	return next;
}
