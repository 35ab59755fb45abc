/* The directory core: leases, pushes, retransmission, expiry, VDC isolation,
 * the shared service range, availability, migration, replay protection, the
 * store, and a randomized run against a deliberately naive model. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/client.h"
#include "dir/dir.h"
#include "dir/dir6.h"
#include "dir/dirgrp.h"
#include "dir/dirpol.h"
#include "bpf/policy.h"
#include "lib/rng.h"
#include "wire/be.h"
#include "wire/eth.h"

#define MS 1000000ull
#define T0_WALL 1700000000000ull
#define LEASE_MS 1000
#define SVC_NET 0x0afe0000u		/* 10.254.0.0/16 */
#define A1 dir_addr(0x7f000001, 1001)
#define A2 dir_addr(0x7f000001, 1002)
#define A3 dir_addr(0x7f000001, 1003)
#define RAS dir_addr(0x7f000001, 2000)

static struct auth_key key = { { 1, 2, 3, 4, 5, 6, 7, 8 } };

/* ---- harness ------------------------------------------------------------------ */

struct h {
	struct dir *d;
	struct dir_out out;
	uint64_t t;			/* ns since start */
	uint64_t seq;
	uint64_t req;
};

static struct dir_now now_of(const struct h *h)
{
	return (struct dir_now){ .ns = h->t + 1, .wall_ms = T0_WALL + h->t / MS };
}

static void h_init_lease(struct h *h, uint32_t max_leases, uint32_t lease_ms)
{
	struct dir_cfg cfg = { .key = &key, .seed = 42, .lease_ms = lease_ms,
			       .neg_lease_ms = 100, .service_net = SVC_NET,
			       .service_mask = 0xffff0000u, .max_leases = max_leases };

	memset(h, 0, sizeof(*h));
	h->d = dir_new(&cfg);
	dir_out_init(&h->out);
}

static void h_init(struct h *h, uint32_t max_leases)
{
	h_init_lease(h, max_leases, LEASE_MS);
}

static void h_fini(struct h *h)
{
	dir_free(h->d);
	dir_out_free(&h->out);
}

/* Encode a request from session `from` (one session per address). */
static size_t h_msg(struct h *h, uint64_t from, uint8_t type, const void *recs, unsigned n,
		    uint8_t *buf)
{
	struct dirp_hdr hd = { .type = type, .session = from, .seq = ++h->seq,
			       .time_ms = now_of(h).wall_ms, .req_id = ++h->req };
	struct dirp_writer w;

	dirp_begin(&w, buf, DIRP_MAX_DGRAM, &hd);
	for (unsigned i = 0; i < n; i++) {
		switch (type) {
		case DIRP_REGISTER: dirp_put_entry(&w, (const struct dirp_entry *)recs + i); break;
		case DIRP_ACK: dirp_put_ack(&w, (const struct dirp_ack *)recs + i); break;
		case DIRP_SET_AVAIL: dirp_put_avail(&w, (const struct dirp_avail *)recs + i); break;
		case DIRP_MOVE: dirp_put_move(&w, (const struct dirp_move *)recs + i); break;
		case DIRP_REGISTER6: dirp_put_entry6(&w, (const struct dirp_entry6 *)recs + i); break;
		case DIRP_UNREGISTER6:
		case DIRP_MEMBERS:
		case DIRP_LOOKUP6: dirp_put_key6(&w, (const struct dirp_key6 *)recs + i); break;
		case DIRP_JOIN:
		case DIRP_LEAVE: dirp_put_member(&w, (const struct dirp_member *)recs + i); break;
		default: dirp_put_key(&w, (const struct dirp_key *)recs + i); break;
		}
	}
	return dirp_finish(&w, &key);
}

/* Send a request; out is reset first so it holds only this request's output. */
static void h_send(struct h *h, uint64_t from, uint8_t type, const void *recs, unsigned n)
{
	uint8_t buf[DIRP_MAX_DGRAM];
	size_t len = h_msg(h, from, type, recs, n, buf);

	dir_out_reset(&h->out);
	dir_input(h->d, now_of(h), from, buf, len, &h->out);
}

static void h_tick(struct h *h, uint64_t advance_ms)
{
	h->t += advance_ms * MS;
	dir_out_reset(&h->out);
	dir_tick(h->d, now_of(h), &h->out);
}

/* The reply (the datagram sent to `to` with a reply type), decoded. */
static bool h_reply(struct h *h, uint64_t to, struct dirp_msg *m)
{
	for (size_t i = 0; i < h->out.nsends; i++) {
		const struct dir_send *s = &h->out.sends[i];

		if (s->ndst != 1 || h->out.dsts[s->dst] != to)
			continue;
		assert_int_equal(dirp_decode(h->out.buf + s->off, s->len, &key, m), 0);
		if (m->h.type & DIRP_REPLY_BIT)
			return true;
	}
	return false;
}

/* Count pushes (UPDATE/INVALIDATE) to `to` in the last output; the last one
 * decoded into m if not NULL. */
/* Records pushed to `to` (m: the last push datagram); *dgrams: datagrams. */
static int h_pushes_n(struct h *h, uint64_t to, struct dirp_msg *m, int *dgrams)
{
	int n = 0;

	*dgrams = 0;

	for (size_t i = 0; i < h->out.nsends; i++) {
		const struct dir_send *s = &h->out.sends[i];
		struct dirp_msg x;

		assert_int_equal(dirp_decode(h->out.buf + s->off, s->len, &key, &x), 0);
		if (x.h.type != DIRP_UPDATE && x.h.type != DIRP_INVALIDATE)
			continue;
		for (uint32_t j = 0; j < s->ndst; j++) {
			if (h->out.dsts[s->dst + j] == to) {
				n += x.h.count;
				(*dgrams)++;
				if (m)
					*m = x;
			}
		}
	}
	return n;
}

static int h_pushes(struct h *h, uint64_t to, struct dirp_msg *m)
{
	int dgrams;

	return h_pushes_n(h, to, m, &dgrams);
}

static uint64_t h_stat(struct h *h, int which)
{
	uint64_t st[DIR_STAT_COUNT];

	dir_get_stats(h->d, st);
	return st[which];
}

static struct dirp_entry vm(uint32_t vdc, uint32_t ip, uint32_t vmid, uint32_t server)
{
	struct dirp_entry e = { .vdc = vdc, .ip = ip, .avail = DIRP_AVAIL_ALL, .server = server };

	wire_put48(e.mac[DIRP_VM_PRI], 0x020000000000ull | (uint64_t)vmid << 1);
	wire_put48(e.mac[DIRP_VM_BAK], 0x020000000001ull | (uint64_t)vmid << 1);
	wire_put48(e.mac[DIRP_IM_PRI], 0x0a0000000000ull | (uint64_t)server << 1);
	wire_put48(e.mac[DIRP_IM_BAK], 0x0a0000000001ull | (uint64_t)server << 1);
	return e;
}

static void reg(struct h *h, struct dirp_entry e, uint8_t want)
{
	struct dirp_msg m;
	struct dirp_entry r;

	h_send(h, RAS, DIRP_REGISTER, &e, 1);
	assert_true(h_reply(h, RAS, &m));
	dirp_get_entry(&m, 0, &r);
	assert_int_equal(r.status, want);
}

static struct dirp_entry lookup(struct h *h, uint64_t from, uint32_t vdc, uint32_t ip)
{
	struct dirp_key k = { vdc, ip };
	struct dirp_entry r;
	struct dirp_msg m;

	h_send(h, from, DIRP_LOOKUP, &k, 1);
	assert_true(h_reply(h, from, &m));
	assert_int_equal(m.h.count, 1);
	dirp_get_entry(&m, 0, &r);
	assert_int_equal(r.vdc, vdc);
	assert_int_equal(r.ip, ip);
	return r;
}

static void ack_entry(struct h *h, uint64_t from, const struct dirp_entry *e)
{
	struct dirp_ack a = { e->vdc, e->ip, e->version };

	h_send(h, from, DIRP_ACK, &a, 1);
	assert_int_equal(h->out.nsends, 0);	/* acks get no reply */
}

/* m must point at the last output (it is read before anything is sent). */
static void ack(struct h *h, uint64_t from, const struct dirp_msg *push)
{
	struct dirp_entry e;

	dirp_get_entry(push, 0, &e);
	ack_entry(h, from, &e);
}

/* ---- cases --------------------------------------------------------------------- */

static void test_not_found_negative_lease(void **st)
{
	struct h h;
	struct dirp_entry r;

	(void)st;
	h_init(&h, 0);
	r = lookup(&h, A1, 1, 0x0a000001);
	assert_int_equal(r.status, DIRP_NOT_FOUND);
	assert_int_equal(r.lease_ms, 100);
	assert_int_equal(h_stat(&h, DIR_STAT_leases), 0);
	assert_int_equal(h_stat(&h, DIR_STAT_clients), 0);
	h_fini(&h);
}

static void test_register_lookup_lease(void **st)
{
	struct h h;
	struct dirp_entry e = vm(1, 0x0a000001, 5, 9), r;

	(void)st;
	h_init(&h, 0);
	reg(&h, e, DIRP_OK);
	assert_int_equal(h.out.nops, 1);	/* written to the store */
	assert_false(h.out.ops[0].del);
	assert_false(h.out.ops[0].soft);	/* durable before the reply */
	r = lookup(&h, A1, 1, 0x0a000001);
	assert_int_equal(r.status, DIRP_OK);
	assert_int_equal(r.lease_ms, LEASE_MS);
	assert_int_equal(r.server, 9);
	assert_memory_equal(r.mac, e.mac, sizeof(e.mac));
	assert_int_equal(r.avail, DIRP_AVAIL_ALL);
	assert_int_equal(h_stat(&h, DIR_STAT_leases), 1);
	/* The same client again: one lease, renewed. */
	lookup(&h, A1, 1, 0x0a000001);
	assert_int_equal(h_stat(&h, DIR_STAT_leases), 1);
	lookup(&h, A2, 1, 0x0a000001);
	assert_int_equal(h_stat(&h, DIR_STAT_leases), 2);
	assert_int_equal(h_stat(&h, DIR_STAT_clients), 2);
	/* A retransmitted registration changes nothing. */
	reg(&h, e, DIRP_OK);
	assert_int_equal(h.out.nops, 0);
	assert_int_equal(h_pushes(&h, A1, NULL), 0);
	h_fini(&h);
}

static void test_invalid_registrations(void **st)
{
	struct h h;
	struct dirp_entry e = vm(1, 0x0a000001, 5, 9);

	(void)st;
	h_init(&h, 0);
	e.mac[DIRP_VM_BAK][0] |= 1;			/* group bit */
	reg(&h, e, DIRP_INVALID);
	e = vm(1, 0x0a000001, 5, 9);
	memcpy(e.mac[DIRP_IM_BAK], e.mac[DIRP_IM_PRI], 6);	/* not distinct */
	reg(&h, e, DIRP_INVALID);
	e = vm(DIR_VDC_SERVICE, 0x0a000001, 5, 9);	/* reserved VDC */
	reg(&h, e, DIRP_INVALID);
	assert_int_equal(h.out.nops, 0);
	assert_int_equal(h_stat(&h, DIR_STAT_entries), 0);
	assert_int_equal(h_stat(&h, DIR_STAT_invalid_records), 3);
	h_fini(&h);
}

static void test_vdc_isolation(void **st)
{
	struct h h;
	struct dirp_entry r;

	(void)st;
	h_init(&h, 0);
	reg(&h, vm(1, 0x0a000001, 5, 9), DIRP_OK);
	reg(&h, vm(2, 0x0a000001, 6, 10), DIRP_OK);
	r = lookup(&h, A1, 1, 0x0a000001);
	assert_int_equal(r.server, 9);
	r = lookup(&h, A1, 2, 0x0a000001);
	assert_int_equal(r.server, 10);
	r = lookup(&h, A1, 3, 0x0a000001);
	assert_int_equal(r.status, DIRP_NOT_FOUND);
	/* Changing VDC 2's entry pushes nothing to holders of VDC 1's. */
	h_send(&h, RAS, DIRP_UNREGISTER, &(struct dirp_key){ 2, 0x0a000001 }, 1);
	assert_int_equal(h_pushes(&h, A1, NULL), 1);	/* A1 holds both */
	lookup(&h, A2, 1, 0x0a000001);
	h_send(&h, RAS, DIRP_UNREGISTER, &(struct dirp_key){ 1, 0x0a000001 }, 1);
	assert_int_equal(h_pushes(&h, A2, NULL), 1);
	assert_int_equal(lookup(&h, A3, 1, 0x0a000001).status, DIRP_NOT_FOUND);
	h_fini(&h);
}

/* (VDC, 0.0.0.0) is the VDC's default route (its Internet gateway leg):
 * an address the VDC has not registered resolves to it, in the asker's
 * terms; a registered address, another VDC, and a VDC without one do not. */
static void test_default_route(void **st)
{
	const uint32_t outside = 0xc6336407;	/* 198.51.100.7 */
	struct dirp_entry gw = vm(1, 0, 40, 3), r;
	struct h h;

	(void)st;
	h_init(&h, 0);
	assert_int_equal(lookup(&h, A1, 1, outside).status, DIRP_NOT_FOUND);
	reg(&h, vm(1, 0x0a000001, 5, 9), DIRP_OK);
	reg(&h, gw, DIRP_OK);
	r = lookup(&h, A1, 1, outside);
	assert_int_equal(r.status, DIRP_OK);
	assert_int_equal(r.server, 3);
	assert_memory_equal(r.mac, gw.mac, sizeof(gw.mac));
	assert_int_equal(r.lease_ms, LEASE_MS);
	assert_int_equal(h_stat(&h, DIR_STAT_lookup_default), 1);
	assert_int_equal(lookup(&h, A1, 1, 0x0a000001).server, 9);	/* its own entry */
	assert_int_equal(lookup(&h, A1, 2, outside).status, DIRP_NOT_FOUND);	/* VDC 2: none */
	/* The gateway's change reaches the holders of its lease. */
	h_send(&h, RAS, DIRP_UNREGISTER, &(struct dirp_key){ 1, 0 }, 1);
	assert_int_equal(h_pushes(&h, A1, NULL), 1);
	assert_int_equal(lookup(&h, A2, 1, outside).status, DIRP_NOT_FOUND);
	assert_int_equal(h_stat(&h, DIR_STAT_lookup_default), 1);
	h_fini(&h);
}

/* The start-up race: a lookup of an address of the VDC made before its VM
 * registers is answered with the default route; the VM's registration is
 * then pushed to that holder (and to every holder of the default route's
 * lease), which replaces the gateway in its cache at once. */
static void test_default_route_then_register(void **st)
{
	const uint32_t early = 0x0a000005;	/* 10.0.0.5, not registered yet */
	struct dirp_entry gw = vm(1, 0, 40, 3), r;
	struct dirp_msg m;
	struct h h;

	(void)st;
	h_init(&h, 0);
	reg(&h, gw, DIRP_OK);
	r = lookup(&h, A1, 1, early);
	assert_int_equal(r.status, DIRP_OK);
	assert_int_equal(r.server, 3);		/* the gateway, for now */
	reg(&h, vm(1, early, 7, 12), DIRP_OK);
	assert_int_equal(h_pushes(&h, A1, &m), 1);
	assert_int_equal(m.h.type, DIRP_UPDATE);
	dirp_get_entry(&m, 0, &r);
	assert_int_equal(r.vdc, 1);
	assert_int_equal(r.ip, early);
	assert_int_equal(r.server, 12);
	assert_int_equal(h_stat(&h, DIR_STAT_default_repushes), 1);
	/* The lease given with the push is a lease: the VM's next change
	 * reaches the holder too. */
	reg(&h, vm(1, early, 7, 13), DIRP_OK);
	assert_int_equal(h_pushes(&h, A1, &m), 1);
	/* A re-registration with the same content, another VDC, or a VDC
	 * without a default route pushes nothing to the holder. */
	reg(&h, vm(1, early, 7, 13), DIRP_OK);
	assert_int_equal(h_pushes(&h, A1, NULL), 0);
	reg(&h, vm(2, 0x0a000006, 8, 12), DIRP_OK);
	assert_int_equal(h_pushes(&h, A1, NULL), 0);
	assert_int_equal(h_stat(&h, DIR_STAT_default_repushes), 1);
	h_fini(&h);
}

static void test_service_range_shared(void **st)
{
	struct h h;
	struct dirp_entry r;
	struct dirp_msg m;

	(void)st;
	h_init(&h, 0);
	reg(&h, vm(7, SVC_NET | 5, 5, 9), DIRP_OK);
	r = lookup(&h, A1, 1, SVC_NET | 5);	/* any VDC sees it */
	assert_int_equal(r.status, DIRP_OK);
	assert_int_equal(r.server, 9);
	r = lookup(&h, A2, 2, SVC_NET | 5);
	assert_int_equal(r.status, DIRP_OK);
	/* Registering it again from another VDC is the same entry. */
	reg(&h, vm(8, SVC_NET | 5, 5, 11), DIRP_OK);
	assert_int_equal(h_stat(&h, DIR_STAT_entries), 1);
	assert_int_equal(h_pushes(&h, A1, &m), 1);
	dirp_get_entry(&m, 0, &r);
	assert_int_equal(r.vdc, DIR_VDC_SERVICE);	/* pushed in shared terms */
	assert_int_equal(r.server, 11);
	/* Outside the range, VDCs are separate. */
	reg(&h, vm(7, 0x0afd0005, 5, 9), DIRP_OK);
	assert_int_equal(lookup(&h, A1, 8, 0x0afd0005).status, DIRP_NOT_FOUND);
	h_fini(&h);
}

static void test_push_ack_stops_retransmission(void **st)
{
	struct h h;
	struct dirp_entry e = vm(1, 0x0a000001, 5, 9), r;
	struct dirp_msg m;

	(void)st;
	h_init(&h, 0);
	reg(&h, e, DIRP_OK);
	lookup(&h, A1, 1, 0x0a000001);
	lookup(&h, A2, 1, 0x0a000001);
	e.server = 10;
	reg(&h, e, DIRP_OK);
	/* One datagram, two destinations. */
	assert_int_equal(h_pushes(&h, A1, &m), 1);
	assert_int_equal(h_pushes(&h, A2, NULL), 1);
	assert_int_equal(m.h.type, DIRP_UPDATE);
	dirp_get_entry(&m, 0, &r);
	assert_int_equal(r.server, 10);
	assert_int_equal(h_stat(&h, DIR_STAT_pending_pushes), 2);
	dirp_get_entry(&m, 0, &r);
	ack(&h, A1, &m);
	assert_int_equal(h_stat(&h, DIR_STAT_pending_pushes), 1);
	h_tick(&h, DIR_PUSH_RTO_MS);
	assert_int_equal(h_pushes(&h, A1, NULL), 0);
	assert_int_equal(h_pushes(&h, A2, NULL), 1);	/* retransmitted */
	/* An ack for an older version does not settle a newer push. */
	e.server = 11;
	reg(&h, e, DIRP_OK);
	ack_entry(&h, A2, &r);
	assert_int_equal(h_stat(&h, DIR_STAT_pending_pushes), 2);
	/* A lookup settles it: the reply carries the entry. */
	lookup(&h, A2, 1, 0x0a000001);
	assert_int_equal(h_stat(&h, DIR_STAT_pending_pushes), 1);
	h_fini(&h);
}

static void test_retransmit_until_lease_ends(void **st)
{
	struct h h;
	struct dirp_entry e = vm(1, 0x0a000001, 5, 9);
	uint64_t sent_at[32];
	int n = 0;

	(void)st;
	h_init(&h, 0);
	reg(&h, e, DIRP_OK);
	lookup(&h, A1, 1, 0x0a000001);		/* lease until t + 1000 ms */
	e.server = 10;
	reg(&h, e, DIRP_OK);
	assert_int_equal(h_pushes(&h, A1, NULL), 1);
	for (int ms = 0; ms < 1500; ms++) {
		h_tick(&h, 1);
		if (h_pushes(&h, A1, NULL))
			sent_at[n++] = h.t / MS;
	}
	/* 20, 40, 80, 160, 320 ms apart, and nothing after the lease ends. */
	assert_int_equal(n, 5);
	assert_in_range(sent_at[0], 20, 22);
	for (int i = 1; i < n; i++)
		assert_in_range(sent_at[i] - sent_at[i - 1], 20u << i, (20u << i) + 2);
	assert_true(sent_at[n - 1] < LEASE_MS + 1);
	assert_int_equal(h_stat(&h, DIR_STAT_pending_pushes), 0);
	assert_int_equal(h_stat(&h, DIR_STAT_leases), 0);
	assert_int_equal(h_stat(&h, DIR_STAT_push_lease_ended), 1);
	h_fini(&h);
}

static void test_lease_expiry_sweep(void **st)
{
	struct h h;

	(void)st;
	h_init(&h, 0);
	reg(&h, vm(1, 0x0a000001, 5, 9), DIRP_OK);
	lookup(&h, A1, 1, 0x0a000001);
	h_tick(&h, LEASE_MS - 10);
	assert_int_equal(h_stat(&h, DIR_STAT_leases), 1);
	h_tick(&h, 20);
	assert_int_equal(h_stat(&h, DIR_STAT_leases), 0);
	assert_int_equal(h_stat(&h, DIR_STAT_clients), 0);
	/* A change after expiry pushes to nobody. */
	reg(&h, vm(1, 0x0a000001, 5, 10), DIRP_OK);
	assert_int_equal(h_pushes(&h, A1, NULL), 0);
	h_fini(&h);
}

static void test_unregister_invalidate_drains(void **st)
{
	struct h h;
	struct dirp_msg m;
	struct dirp_entry r;

	(void)st;
	h_init(&h, 0);
	reg(&h, vm(1, 0x0a000001, 5, 9), DIRP_OK);
	lookup(&h, A1, 1, 0x0a000001);
	h_send(&h, RAS, DIRP_UNREGISTER, &(struct dirp_key){ 1, 0x0a000001 }, 1);
	assert_int_equal(h.out.nops, 1);
	assert_true(h.out.ops[0].del);
	assert_int_equal(h_pushes(&h, A1, &m), 1);
	assert_int_equal(m.h.type, DIRP_INVALIDATE);
	dirp_get_entry(&m, 0, &r);
	assert_int_equal(h_stat(&h, DIR_STAT_draining), 1);
	assert_int_equal(h_stat(&h, DIR_STAT_entries), 0);
	assert_int_equal(lookup(&h, A2, 1, 0x0a000001).status, DIRP_NOT_FOUND);
	ack_entry(&h, A1, &r);
	assert_int_equal(h_stat(&h, DIR_STAT_draining), 0);
	assert_int_equal(h_stat(&h, DIR_STAT_leases), 0);
	/* Unregister, then register again before the client acked: UPDATE. */
	reg(&h, vm(1, 0x0a000001, 5, 9), DIRP_OK);
	lookup(&h, A1, 1, 0x0a000001);
	h_send(&h, RAS, DIRP_UNREGISTER, &(struct dirp_key){ 1, 0x0a000001 }, 1);
	reg(&h, vm(1, 0x0a000001, 5, 12), DIRP_OK);
	assert_int_equal(h_pushes(&h, A1, &m), 1);
	assert_int_equal(m.h.type, DIRP_UPDATE);
	dirp_get_entry(&m, 0, &r);
	assert_int_equal(r.server, 12);
	assert_int_equal(h_stat(&h, DIR_STAT_entries), 1);
	assert_int_equal(h_stat(&h, DIR_STAT_draining), 0);
	h_fini(&h);
}

static void test_availability(void **st)
{
	struct h h;
	struct dirp_avail a = { .scope = DIRP_SCOPE_INTERMEDIARY, .avail = 0 };
	struct dirp_avail_res res;
	struct dirp_entry r;
	struct dirp_msg m;

	(void)st;
	h_init(&h, 0);
	for (uint32_t i = 0; i < 3; i++)
		reg(&h, vm(1, 0x0a000001 + i, 5 + i, 9), DIRP_OK);	/* on server 9 */
	reg(&h, vm(1, 0x0a000010, 20, 10), DIRP_OK);		/* on server 10 */
	lookup(&h, A1, 1, 0x0a000001);
	lookup(&h, A1, 1, 0x0a000002);
	lookup(&h, A1, 1, 0x0a000010);
	r = vm(1, 0, 0, 9);
	memcpy(a.mac, r.mac[DIRP_IM_PRI], 6);
	h_send(&h, RAS, DIRP_SET_AVAIL, &a, 1);
	assert_true(h_reply(&h, RAS, &m));
	dirp_get_avail_res(&m, 0, &res);
	assert_int_equal(res.status, DIRP_OK);
	assert_int_equal(res.affected, 3);
	assert_int_equal(h.out.nops, 3);
	/* Availability is soft: the pushes need not wait for a disk sync. */
	for (size_t i = 0; i < h.out.nops; i++)
		assert_true(h.out.ops[i].soft);
	assert_int_equal(h_pushes(&h, A1, NULL), 2);	/* the two it caches */
	r = lookup(&h, A2, 1, 0x0a000003);
	assert_int_equal(r.avail, DIRP_AVAIL_ALL & ~(1 << DIRP_IM_PRI));
	assert_int_equal(lookup(&h, A2, 1, 0x0a000010).avail, DIRP_AVAIL_ALL);
	/* Again: nothing changes. */
	h_send(&h, RAS, DIRP_SET_AVAIL, &a, 1);
	assert_true(h_reply(&h, RAS, &m));
	dirp_get_avail_res(&m, 0, &res);
	assert_int_equal(res.affected, 0);
	/* The VM scope does not touch server MACs, and vice versa. */
	a.scope = DIRP_SCOPE_VM;
	a.avail = 1;
	h_send(&h, RAS, DIRP_SET_AVAIL, &a, 1);
	assert_true(h_reply(&h, RAS, &m));
	dirp_get_avail_res(&m, 0, &res);
	assert_int_equal(res.affected, 0);
	r = vm(1, 0, 6, 0);
	memcpy(a.mac, r.mac[DIRP_VM_BAK], 6);		/* 10.0.0.2's backup */
	a.avail = 0;
	h_send(&h, RAS, DIRP_SET_AVAIL, &a, 1);
	assert_true(h_reply(&h, RAS, &m));
	dirp_get_avail_res(&m, 0, &res);
	assert_int_equal(res.affected, 1);
	r = lookup(&h, A2, 1, 0x0a000002);
	assert_int_equal(r.avail, DIRP_AVAIL_ALL & ~(1 << DIRP_IM_PRI) & ~(1 << DIRP_VM_BAK));
	/* Unknown MAC. */
	a.mac[5] ^= 0x80;
	h_send(&h, RAS, DIRP_SET_AVAIL, &a, 1);
	assert_true(h_reply(&h, RAS, &m));
	dirp_get_avail_res(&m, 0, &res);
	assert_int_equal(res.status, DIRP_NOT_FOUND);
	h_fini(&h);
}

static void test_migration(void **st)
{
	struct h h;
	struct dirp_entry e = vm(1, 0x0a000001, 5, 9), to = vm(1, 0, 0, 30), r;
	struct dirp_move mv = { .vdc = 1, .ip = 0x0a000001, .server = 30 };
	struct dirp_avail a = { .scope = DIRP_SCOPE_INTERMEDIARY };
	struct dirp_avail_res res;
	struct dirp_msg m;

	(void)st;
	h_init(&h, 0);
	reg(&h, e, DIRP_OK);
	lookup(&h, A1, 1, 0x0a000001);
	memcpy(mv.im[0], to.mac[DIRP_IM_PRI], 6);
	memcpy(mv.im[1], to.mac[DIRP_IM_BAK], 6);
	h_send(&h, RAS, DIRP_MOVE, &mv, 1);
	assert_true(h_reply(&h, RAS, &m));
	dirp_get_entry(&m, 0, &r);
	assert_int_equal(r.status, DIRP_OK);
	assert_int_equal(r.server, 30);
	assert_int_equal(h_pushes(&h, A1, &m), 1);
	dirp_get_entry(&m, 0, &r);
	assert_memory_equal(r.mac[DIRP_IM_PRI], to.mac[DIRP_IM_PRI], 6);
	assert_memory_equal(r.mac[DIRP_VM_PRI], e.mac[DIRP_VM_PRI], 6);	/* VM keeps its MACs */
	/* The MAC index follows: the old server no longer covers it. */
	memcpy(a.mac, e.mac[DIRP_IM_PRI], 6);
	h_send(&h, RAS, DIRP_SET_AVAIL, &a, 1);
	assert_true(h_reply(&h, RAS, &m));
	dirp_get_avail_res(&m, 0, &res);
	assert_int_equal(res.status, DIRP_NOT_FOUND);
	memcpy(a.mac, to.mac[DIRP_IM_PRI], 6);
	h_send(&h, RAS, DIRP_SET_AVAIL, &a, 1);
	assert_true(h_reply(&h, RAS, &m));
	dirp_get_avail_res(&m, 0, &res);
	assert_int_equal(res.affected, 1);
	/* Moving an unknown VM. */
	mv.ip = 0x0a000099;
	h_send(&h, RAS, DIRP_MOVE, &mv, 1);
	assert_true(h_reply(&h, RAS, &m));
	dirp_get_entry(&m, 0, &r);
	assert_int_equal(r.status, DIRP_NOT_FOUND);
	h_fini(&h);
}

static void test_replay_and_bad_input(void **st)
{
	struct h h;
	struct dirp_key k = { 1, 1 };
	uint8_t buf[DIRP_MAX_DGRAM];
	size_t len;

	(void)st;
	h_init(&h, 0);
	len = h_msg(&h, A1, DIRP_LOOKUP, &k, 1, buf);
	dir_input(h.d, now_of(&h), A1, buf, len, &h.out);
	assert_int_equal(h.out.nsends, 1);
	dir_out_reset(&h.out);
	dir_input(h.d, now_of(&h), A1, buf, len, &h.out);	/* replayed */
	assert_int_equal(h.out.nsends, 0);
	assert_int_equal(h_stat(&h, DIR_STAT_drop_replay), 1);
	/* Far below the window. */
	h.seq += 100;
	h_send(&h, A1, DIRP_LOOKUP, &k, 1);
	dir_input(h.d, now_of(&h), A1, buf, len, &h.out);
	assert_int_equal(h_stat(&h, DIR_STAT_drop_too_old), 1);
	/* Stale: 31 s later the same bytes are refused by their timestamp. */
	h.t += 31000 * MS;
	dir_out_reset(&h.out);
	dir_input(h.d, now_of(&h), A1, buf, len, &h.out);
	assert_int_equal(h_stat(&h, DIR_STAT_drop_stale), 1);
	/* Forged: one bit of the body flipped. */
	len = h_msg(&h, A1, DIRP_LOOKUP, &k, 1, buf);
	buf[DIRP_HDR_LEN] ^= 1;
	dir_input(h.d, now_of(&h), A1, buf, len, &h.out);
	assert_int_equal(h_stat(&h, DIR_STAT_drop_tag), 1);
	/* Too short, too long, a reply type. */
	dir_input(h.d, now_of(&h), A1, buf, 10, &h.out);
	assert_int_equal(h_stat(&h, DIR_STAT_drop_short), 1);
	memset(buf, 0, sizeof(buf));
	dir_input(h.d, now_of(&h), A1, buf, DIRP_MAX_DGRAM + 1, &h.out);
	assert_int_equal(h_stat(&h, DIR_STAT_drop_oversize), 1);
	len = h_msg(&h, A1, DIRP_LOOKUP | DIRP_REPLY_BIT, NULL, 0, buf);
	dir_input(h.d, now_of(&h), A1, buf, len, &h.out);
	assert_int_equal(h_stat(&h, DIR_STAT_drop_unexpected), 1);
	assert_int_equal(h_stat(&h, DIR_STAT_dropped), 7);
	assert_int_equal(h.out.nsends, 0);
	h_fini(&h);
}

static void test_lease_limit(void **st)
{
	struct h h;

	(void)st;
	h_init(&h, 1);
	reg(&h, vm(1, 0x0a000001, 5, 9), DIRP_OK);
	assert_int_equal(lookup(&h, A1, 1, 0x0a000001).lease_ms, LEASE_MS);
	assert_int_equal(lookup(&h, A2, 1, 0x0a000001).lease_ms, 0);	/* do not cache */
	assert_int_equal(h_stat(&h, DIR_STAT_leases_refused), 1);
	assert_int_equal(h_stat(&h, DIR_STAT_clients), 1);
	h_fini(&h);
}

static void test_restore_from_store(void **st)
{
	struct h h, h2;
	struct dir_op ops[8];
	size_t n = 0;
	struct dirp_entry r;

	(void)st;
	h_init(&h, 0);
	reg(&h, vm(1, 0x0a000001, 5, 9), DIRP_OK);
	ops[n++] = h.out.ops[0];
	reg(&h, vm(2, 0x0a000001, 6, 9), DIRP_OK);
	ops[n++] = h.out.ops[0];
	h_send(&h, RAS, DIRP_UNREGISTER, &(struct dirp_key){ 2, 0x0a000001 }, 1);
	ops[n++] = h.out.ops[0];
	h_init(&h2, 0);
	for (size_t i = 0; i < n; i++)	/* replay the ops as a store would hold them */
		if (!ops[i].del && !(i + 1 < n && ops[i + 1].del &&
				     !memcmp(ops[i].key, ops[i + 1].key, 8)))
			assert_int_equal(dir_restore(h2.d, ops[i].key, 8, ops[i].val,
						     DIR_STORE_VAL_LEN), 0);
	r = lookup(&h2, A1, 1, 0x0a000001);
	assert_int_equal(r.status, DIRP_OK);
	assert_int_equal(r.version, 1);
	assert_int_equal(lookup(&h2, A1, 2, 0x0a000001).status, DIRP_NOT_FOUND);
	/* Versions continue above what was stored. */
	reg(&h2, vm(1, 0x0a000001, 5, 10), DIRP_OK);
	assert_int_equal(lookup(&h2, A1, 1, 0x0a000001).version, 2);
	/* Garbage is refused. */
	ops[0].val[0] = 99;
	assert_int_equal(dir_restore(h2.d, ops[0].key, 8, ops[0].val, DIR_STORE_VAL_LEN), -EINVAL);
	assert_int_equal(dir_restore(h2.d, ops[0].key, 7, ops[0].val, DIR_STORE_VAL_LEN), -EINVAL);
	h_fini(&h);
	h_fini(&h2);
}

/* Replicated directory: server A's store writes applied to server B in the
 * store's order (dir_apply) reach B's lease holders as pushes with A's
 * versions; B's own echo is a no-op; a delete invalidates with a higher
 * version; read-only refuses writes with TRY_LATER but keeps lookups. */
static void test_apply_from_shared_store(void **st)
{
	struct h a, b;
	struct dirp_entry r, e = vm(1, 0x0a000001, 5, 9);
	struct dirp_msg m;
	struct dir_op op;
	uint32_t v1;

	(void)st;
	h_init(&a, 0);
	h_init(&b, 0);
	reg(&a, e, DIRP_OK);
	op = a.out.ops[0];
	dir_out_reset(&b.out);
	assert_int_equal(dir_apply(b.d, now_of(&b), op.key, 8, op.val, DIR_STORE_VAL_LEN, &b.out), 1);
	r = lookup(&b, A1, 1, 0x0a000001);
	assert_int_equal(r.status, DIRP_OK);
	v1 = r.version;
	assert_int_equal(v1, lookup(&a, A2, 1, 0x0a000001).version);
	/* The same record again (our own write coming back): nothing. */
	dir_out_reset(&b.out);
	assert_int_equal(dir_apply(b.d, now_of(&b), op.key, 8, op.val, DIR_STORE_VAL_LEN, &b.out), 0);
	assert_int_equal(b.out.nsends, 0);
	/* A moves it: B's holder A1 gets an UPDATE with A's newer version. */
	reg(&a, vm(1, 0x0a000001, 5, 12), DIRP_OK);
	op = a.out.ops[0];
	dir_out_reset(&b.out);
	assert_int_equal(dir_apply(b.d, now_of(&b), op.key, 8, op.val, DIR_STORE_VAL_LEN, &b.out), 1);
	assert_int_equal(b.out.nops, 0);	/* no store write comes back out */
	assert_int_equal(h_pushes(&b, A1, &m), 1);
	assert_int_equal(m.h.type, DIRP_UPDATE);
	dirp_get_entry(&m, 0, &r);
	assert_int_equal(r.server, 12);
	assert_true(r.version > v1);
	v1 = r.version;
	/* A unregisters: B invalidates with a version above the last one. */
	h_send(&a, RAS, DIRP_UNREGISTER, &(struct dirp_key){ 1, 0x0a000001 }, 1);
	op = a.out.ops[0];
	assert_true(op.del);
	dir_out_reset(&b.out);
	assert_int_equal(dir_apply(b.d, now_of(&b), op.key, 8, NULL, 0, &b.out), 1);
	assert_int_equal(h_pushes(&b, A1, &m), 1);
	assert_int_equal(m.h.type, DIRP_INVALIDATE);
	dirp_get_entry(&m, 0, &r);
	assert_true(r.version > v1);
	assert_int_equal(lookup(&b, A2, 1, 0x0a000001).status, DIRP_NOT_FOUND);
	assert_int_equal(h_stat(&b, DIR_STAT_remote_changes), 3);
	/* Garbage from the store is refused. */
	op.val[0] = 99;
	assert_int_equal(dir_apply(b.d, now_of(&b), op.key, 8, op.val, DIR_STORE_VAL_LEN, &b.out),
			 -EINVAL);
	assert_int_equal(dir_apply(b.d, now_of(&b), op.key, 7, NULL, 0, &b.out), -EINVAL);
	/* Read-only: writes are refused, lookups answered. */
	reg(&b, vm(2, 0x0a000002, 6, 9), DIRP_OK);
	dir_set_read_only(b.d, true);
	reg(&b, vm(3, 0x0a000003, 7, 9), DIRP_TRY_LATER);
	assert_int_equal(b.out.nops, 0);
	h_send(&b, RAS, DIRP_UNREGISTER, &(struct dirp_key){ 2, 0x0a000002 }, 1);
	assert_int_equal(b.out.nops, 0);
	assert_true(h_reply(&b, RAS, &m));
	dirp_get_entry(&m, 0, &r);
	assert_int_equal(r.status, DIRP_TRY_LATER);
	assert_int_equal(lookup(&b, A2, 2, 0x0a000002).status, DIRP_OK);
	assert_int_equal(h_stat(&b, DIR_STAT_refused_read_only), 2);
	dir_set_read_only(b.d, false);
	reg(&b, vm(3, 0x0a000003, 7, 9), DIRP_OK);
	h_fini(&a);
	h_fini(&b);
}

/* Tables past the size where they move to mappings of their own (entries:
 * 64 B each, 4 MB from 65,536 on; the lease slab likewise): every entry
 * registered is still found with its content after the tables grew, and
 * every lookup from several clients gets its lease. */
static void test_big_tables(void **st)
{
	enum { N = 100000, CLIENTS = 6 };
	struct dirp_entry e[DIRP_MAX_RECORDS];
	struct dirp_key keys[DIRP_MAX_RECORDS];
	struct dirp_msg m;
	struct h h;

	(void)st;
	h_init(&h, 0);
	for (uint32_t i = 0; i < N;) {
		unsigned n = 0;

		for (; n < DIRP_MAX_RECORDS && i < N; n++, i++)
			e[n] = vm(1 + i % 3, 0x0a000000 + i, i, i / 7);
		h_send(&h, RAS, DIRP_REGISTER, e, n);
		assert_true(h_reply(&h, RAS, &m));
		assert_int_equal(m.h.count, n);
	}
	assert_int_equal(h_stat(&h, DIR_STAT_entries), N);
	for (uint64_t c = 0; c < CLIENTS; c++) {
		for (uint32_t i = 0; i < N;) {
			uint32_t first = i;
			unsigned n = 0;

			for (; n < DIRP_MAX_RECORDS && i < N; n++, i++)
				keys[n] = (struct dirp_key){ 1 + i % 3, 0x0a000000 + i };
			h_send(&h, A1 + c, DIRP_LOOKUP, keys, n);
			assert_true(h_reply(&h, A1 + c, &m));
			assert_int_equal(m.h.count, n);
			for (unsigned j = 0; j < n; j++) {
				struct dirp_entry r, want = vm(1 + (first + j) % 3, 0x0a000000 + first + j,
							      first + j, (first + j) / 7);

				dirp_get_entry(&m, j, &r);
				assert_int_equal(r.status, DIRP_OK);
				assert_int_equal(r.server, want.server);
				assert_memory_equal(r.mac, want.mac, sizeof(want.mac));
				assert_int_equal(r.lease_ms, LEASE_MS);
			}
		}
	}
	assert_int_equal(h_stat(&h, DIR_STAT_leases), (uint64_t)N * CLIENTS);
	h_fini(&h);
}

static void test_multi_lookup(void **st)
{
	struct h h;
	struct dirp_key keys[DIRP_MAX_RECORDS];
	struct dirp_msg m;

	(void)st;
	h_init(&h, 0);
	for (uint32_t i = 0; i < DIRP_MAX_RECORDS; i++) {
		keys[i] = (struct dirp_key){ 1, 0x0a000001 + i };
		if (i % 2)
			reg(&h, vm(1, 0x0a000001 + i, i, 9), DIRP_OK);
	}
	h_send(&h, A1, DIRP_LOOKUP, keys, DIRP_MAX_RECORDS);
	assert_true(h_reply(&h, A1, &m));
	assert_int_equal(m.h.count, DIRP_MAX_RECORDS);
	for (unsigned i = 0; i < m.h.count; i++) {
		struct dirp_entry r;

		dirp_get_entry(&m, i, &r);
		assert_int_equal(r.ip, 0x0a000001 + i);
		assert_int_equal(r.status, i % 2 ? DIRP_OK : DIRP_NOT_FOUND);
	}
	assert_true(h.out.sends[0].len <= DIRP_MAX_DGRAM);
	h_fini(&h);
}

/* ---- the client library against the core ------------------------------------------------ */

struct wire {
	struct h *h;
	uint64_t addr;
	int pushes, replies, timeouts;
	struct dirp_entry last_push;
	bool drop_next;
};

static void wire_send(void *arg, const uint8_t *buf, size_t len)
{
	struct wire *w = arg;

	if (w->drop_next) {
		w->drop_next = false;
		return;
	}
	dir_input(w->h->d, now_of(w->h), w->addr, buf, len, &w->h->out);
}

static void wire_push(void *arg, uint8_t type, const struct dirp_entry *e)
{
	struct wire *w = arg;

	(void)type;
	w->pushes++;
	w->last_push = *e;
}

static void wire_reply(void *arg, uint64_t id, const struct dirp_msg *m)
{
	struct wire *w = arg;

	(void)id;
	if (m)
		w->replies++;
	else
		w->timeouts++;
}

/* Deliver everything the core sent to w's address, then clear the output. */
static void wire_deliver(struct wire *w, struct dirc *c)
{
	struct dir_out o = w->h->out;

	dir_out_init(&w->h->out);
	for (size_t i = 0; i < o.nsends; i++)
		for (uint32_t j = 0; j < o.sends[i].ndst; j++)
			if (o.dsts[o.sends[i].dst + j] == w->addr)
				dirc_input(c, now_of(w->h), o.buf + o.sends[i].off, o.sends[i].len);
	dir_out_free(&o);
}

static void test_client_library(void **st)
{
	struct h h;
	struct wire w = { .h = &h, .addr = A1 };
	struct dirc_cfg cfg = { .key = &key, .seed = 7, .send = wire_send, .send_arg = &w,
				.on_push = wire_push, .push_arg = &w };
	struct dirp_entry e = vm(1, 0x0a000001, 5, 9);
	struct dirp_key k = { 1, 0x0a000001 };
	struct dirc *c;
	uint64_t pushed;

	(void)st;
	h_init(&h, 0);
	c = dirc_new(&cfg);
	assert_true(dirc_request(c, now_of(&h), DIRP_REGISTER, &e, 1, wire_reply, &w) > 0);
	wire_deliver(&w, c);
	assert_int_equal(w.replies, 1);
	/* A lost request is retransmitted and answered once. */
	w.drop_next = true;
	assert_true(dirc_request(c, now_of(&h), DIRP_LOOKUP, &k, 1, wire_reply, &w) > 0);
	assert_int_equal(dirc_in_flight(c), 1);
	h.t += DIRC_RTO_MS * MS;
	dirc_tick(c, now_of(&h));
	wire_deliver(&w, c);
	assert_int_equal(w.replies, 2);
	assert_int_equal(dirc_in_flight(c), 0);
	assert_int_equal(dirc_get_stats(c)->retransmits, 1);
	/* A slow answer: the request is retransmitted before its reply
	 * arrives, both are answered; the second reply is late, not bad. */
	assert_true(dirc_request(c, now_of(&h), DIRP_LOOKUP, &k, 1, wire_reply, &w) > 0);
	h.t += DIRC_RTO_MS * MS;
	dirc_tick(c, now_of(&h));
	assert_int_equal(dirc_get_stats(c)->retransmits, 2);
	wire_deliver(&w, c);
	assert_int_equal(w.replies, 3);
	assert_int_equal(dirc_get_stats(c)->late_replies, 1);
	assert_int_equal(dirc_get_stats(c)->dropped, 0);
	/* A change is pushed, handed over and acknowledged. */
	e.server = 10;
	dir_out_reset(&h.out);
	h_send(&h, RAS, DIRP_REGISTER, &e, 1);
	pushed = h_stat(&h, DIR_STAT_pending_pushes);
	assert_int_equal(pushed, 1);
	wire_deliver(&w, c);
	assert_int_equal(w.pushes, 1);
	assert_int_equal(w.last_push.server, 10);
	assert_int_equal(h_stat(&h, DIR_STAT_pending_pushes), 0);
	/* A request nobody answers times out. */
	w.drop_next = true;
	dirc_request(c, now_of(&h), DIRP_STATS, NULL, 0, wire_reply, &w);
	for (int i = 0; i < 20 && dirc_in_flight(c); i++) {
		w.drop_next = true;
		h.t += 1000 * MS;
		dirc_tick(c, now_of(&h));
	}
	assert_int_equal(w.timeouts, 1);
	assert_int_equal(dirc_request(c, now_of(&h), DIRP_ACK, NULL, 0, NULL, NULL), -EINVAL);
	dirc_free(c);
	h_fini(&h);
}

/* A push from server session `session`, its seq, at wall time wall_ms. */
static size_t push_dgram(uint8_t *buf, size_t cap, uint64_t session, uint64_t seq,
			 uint64_t wall_ms, uint32_t version)
{
	struct dirp_hdr h = { .type = DIRP_UPDATE, .session = session, .seq = seq,
			      .time_ms = wall_ms };
	struct dirp_entry e = vm(1, 0x0a000001, 5, 9);
	struct dirp_writer w;

	e.version = version;
	dirp_begin(&w, buf, cap, &h);
	dirp_put_entry(&w, &e);
	return dirp_finish(&w, &key);
}

static void count_send(void *arg, const uint8_t *buf, size_t len)
{
	(void)buf;
	(void)len;
	(*(int *)arg)++;
}

/* More directory starts than DIRC_SESSIONS within twice the skew (chaos
 * seed 106 of --faults=all: seven starts in 20 s): every new session's
 * pushes are still taken and acknowledged, the oldest session's window
 * making room; a replay within the current session is still dropped. */
static void test_client_many_sessions(void **st)
{
	struct wire w = { 0 };
	int acks = 0;
	struct dirc_cfg cfg = { .key = &key, .seed = 8, .send = count_send, .send_arg = &acks,
				.on_push = wire_push, .push_arg = &w };
	struct dirc *c = dirc_new(&cfg);
	struct dir_now now = { .ns = 1, .wall_ms = T0_WALL };
	uint8_t buf[DIRP_MAX_DGRAM];
	size_t len = 0;

	(void)st;
	for (int i = 0; i < 3 * DIRC_SESSIONS; i++) {
		now.wall_ms += 1000;	/* a restart a second */
		len = push_dgram(buf, sizeof(buf), 0x1000u + (uint64_t)i, 1, now.wall_ms,
				 (uint32_t)i + 1);
		dirc_input(c, now, buf, len);
		assert_int_equal(w.pushes, i + 1);
		assert_int_equal(acks, i + 1);
	}
	assert_int_equal(dirc_get_stats(c)->sessions_evicted, 2 * DIRC_SESSIONS);
	assert_int_equal(dirc_get_stats(c)->dropped, 0);
	dirc_input(c, now, buf, len);	/* the same datagram again */
	assert_int_equal(w.pushes, 3 * DIRC_SESSIONS);
	assert_int_equal(dirc_get_stats(c)->dropped, 1);
	dirc_free(c);
}

/* Every entry a change touches goes to a client in as few datagrams as fit
 * them, and clients holding the same entries share those datagrams; the
 * retransmissions of one tick are batched the same way. */
static void test_push_batching(void **st)
{
	enum { N = 40 };
	unsigned max = dirp_max_records(DIRP_UPDATE), per = (N + max - 1) / max;
	struct dirp_avail a = { .scope = DIRP_SCOPE_INTERMEDIARY, .avail = 0 };
	struct dirp_ack acks[N];
	struct dirp_entry r;
	int d1, d2, d3;
	struct h h;

	(void)st;
	h_init(&h, 0);
	for (uint32_t i = 0; i < N; i++) {
		reg(&h, vm(1, 0x0a000001 + i, 5 + i, 9), DIRP_OK);	/* all on server 9 */
		lookup(&h, A1, 1, 0x0a000001 + i);
		lookup(&h, A2, 1, 0x0a000001 + i);
	}
	lookup(&h, A3, 1, 0x0a000001);
	r = vm(1, 0, 0, 9);
	memcpy(a.mac, r.mac[DIRP_IM_PRI], 6);
	h_send(&h, RAS, DIRP_SET_AVAIL, &a, 1);
	assert_int_equal(h_pushes_n(&h, A1, NULL, &d1), N);
	assert_int_equal(h_pushes_n(&h, A2, NULL, &d2), N);
	assert_int_equal(h_pushes_n(&h, A3, NULL, &d3), 1);
	assert_int_equal(d1, per);
	assert_int_equal(d2, per);
	assert_int_equal(d3, 1);
	/* A1 and A2 share theirs: per datagrams of 2 addresses, and A3's */
	assert_int_equal(h_stat(&h, DIR_STAT_push_datagrams), per + 1);
	assert_int_equal(h_stat(&h, DIR_STAT_pushes), 2 * N + 1);
	assert_int_equal(h_stat(&h, DIR_STAT_pending_pushes), 2 * N + 1);
	/* A1 acknowledges everything, as many records to an ACK as fit */
	for (uint32_t i = 0; i < N; i++) {
		r = lookup(&h, A3, 1, 0x0a000001 + i);	/* settles A3's push, reads versions */
		acks[i] = (struct dirp_ack){ r.vdc, r.ip, r.version };
	}
	for (unsigned i = 0; i < N; i += dirp_max_records(DIRP_ACK))
		h_send(&h, A1, DIRP_ACK, acks + i, MIN(N - i, dirp_max_records(DIRP_ACK)));
	assert_int_equal(h_stat(&h, DIR_STAT_pending_pushes), N);
	/* A2's are retransmitted, batched: per datagrams to A2 alone */
	h_tick(&h, 25);
	assert_int_equal(h_pushes_n(&h, A2, NULL, &d2), N);
	assert_int_equal(d2, per);
	assert_int_equal(h_pushes_n(&h, A1, NULL, &d1), 0);
	assert_int_equal(h_pushes_n(&h, A3, NULL, &d3), 0);
	assert_int_equal(h_stat(&h, DIR_STAT_push_retx), N);
	assert_int_equal(h_stat(&h, DIR_STAT_push_datagrams), 2 * per + 1);
	h_fini(&h);
}

/* ---- randomized: the core against a naive model --------------------------------------------- */

#define NKEYS 24
#define NCLIENTS 5
#define RND_LEASE_MS 5000	/* longer than a settling round (1.1 s) */

struct model_entry {
	bool live;
	uint32_t vdc, ip;	/* normalised */
	struct dirp_entry e;
};

struct cache {			/* what a client believes */
	bool valid;
	uint64_t expiry;	/* ns */
	uint32_t version;
	bool live;
	struct dirp_entry e;
};

struct rnd {
	struct h h;
	struct rng r;
	struct model_entry m[NKEYS * 4];
	int nm;
	struct cache cache[NCLIENTS][NKEYS * 4];
	uint32_t keys_vdc[NKEYS], keys_ip[NKEYS];
};

static uint64_t caddr(int c)
{
	return dir_addr(0x7f000002, (uint16_t)(3000 + c));
}

static struct model_entry *model_find(struct rnd *x, uint32_t vdc, uint32_t ip, bool create)
{
	if ((ip & 0xffff0000u) == SVC_NET)
		vdc = DIR_VDC_SERVICE;
	for (int i = 0; i < x->nm; i++)
		if (x->m[i].vdc == vdc && x->m[i].ip == ip)
			return &x->m[i];
	if (!create)
		return NULL;
	x->m[x->nm] = (struct model_entry){ .vdc = vdc, .ip = ip };
	return &x->m[x->nm++];
}

static int model_index(struct rnd *x, const struct model_entry *me)
{
	return (int)(me - x->m);
}

static bool same(const struct dirp_entry *a, const struct dirp_entry *b)
{
	return a->server == b->server && a->avail == b->avail && !memcmp(a->mac, b->mac, sizeof(a->mac));
}

/* Deliver the core's output to the simulated clients, losing each push with
 * probability loss; clients apply pushes and acknowledge. */
static void rnd_deliver(struct rnd *x, double loss)
{
	struct dir_out o = x->h.out;

	dir_out_init(&x->h.out);
	for (size_t i = 0; i < o.nsends; i++) {
		struct dirp_msg m;
		struct dirp_entry e;
		struct model_entry *me;

		assert_int_equal(dirp_decode(o.buf + o.sends[i].off, o.sends[i].len, &key, &m), 0);
		if (m.h.type != DIRP_UPDATE && m.h.type != DIRP_INVALIDATE)
			continue;
		dirp_get_entry(&m, 0, &e);
		me = model_find(x, e.vdc, e.ip, false);
		assert_non_null(me);
		for (uint32_t j = 0; j < o.sends[i].ndst; j++) {
			int c = (int)((o.dsts[o.sends[i].dst + j] & 0xffff) - 3000);
			struct cache *ca = &x->cache[c][model_index(x, me)];
			struct dirp_ack a = { e.vdc, e.ip, e.version };
			struct dir_out save;

			assert_in_range(c, 0, NCLIENTS - 1);
			if (rng_double(&x->r) < loss)
				continue;
			if (ca->valid && e.version > ca->version) {
				/* INVALIDATE: the client drops the entry. */
				ca->valid = m.h.type == DIRP_UPDATE;
				ca->version = e.version;
				ca->live = true;
				ca->e = e;
			}
			save = x->h.out;
			dir_out_init(&x->h.out);
			h_send(&x->h, caddr(c), DIRP_ACK, &a, 1);
			assert_int_equal(x->h.out.nsends, 0);
			dir_out_free(&x->h.out);
			x->h.out = save;
		}
	}
	dir_out_free(&o);
}

static void rnd_step(struct rnd *x)
{
	int k = (int)rng_below(&x->r, NKEYS), op = (int)rng_below(&x->r, 100);
	uint32_t vdc = x->keys_vdc[k], ip = x->keys_ip[k];
	struct model_entry *me = model_find(x, vdc, ip, true);
	struct dirp_msg m;
	struct dirp_entry r;

	if (op < 45) {			/* lookup from a random client */
		int c = (int)rng_below(&x->r, NCLIENTS);
		struct cache *ca = &x->cache[c][model_index(x, me)];

		r = lookup(&x->h, caddr(c), vdc, ip);
		assert_int_equal(r.status, me->live ? DIRP_OK : DIRP_NOT_FOUND);
		ca->valid = false;		/* NOT FOUND: the client forgets it */
		if (me->live) {
			assert_true(same(&r, &me->e));
			*ca = (struct cache){ .valid = true, .expiry = x->h.t + RND_LEASE_MS * MS,
					      .version = r.version, .live = true, .e = r };
		}
		rnd_deliver(x, 0);
	} else if (op < 65) {		/* register or change */
		struct dirp_entry e = vm(vdc, ip, rng_below(&x->r, 40), rng_below(&x->r, 6));

		e.avail = (uint8_t)rng_below(&x->r, 16);
		h_send(&x->h, RAS, DIRP_REGISTER, &e, 1);
		assert_true(h_reply(&x->h, RAS, &m));
		dirp_get_entry(&m, 0, &r);
		assert_int_equal(r.status, DIRP_OK);
		me->live = true;
		me->e = e;
		rnd_deliver(x, 0.3);
	} else if (op < 75) {		/* unregister */
		h_send(&x->h, RAS, DIRP_UNREGISTER, &(struct dirp_key){ vdc, ip }, 1);
		assert_true(h_reply(&x->h, RAS, &m));
		dirp_get_entry(&m, 0, &r);
		assert_int_equal(r.status, me->live ? DIRP_OK : DIRP_NOT_FOUND);
		me->live = false;
		rnd_deliver(x, 0.3);
	} else if (op < 85) {		/* an intermediary goes down or up */
		struct dirp_entry s = vm(0, 0, 0, rng_below(&x->r, 6));
		struct dirp_avail a = { .scope = DIRP_SCOPE_INTERMEDIARY,
					.avail = (uint8_t)rng_below(&x->r, 2) };
		int slot = DIRP_IM_PRI + (int)rng_below(&x->r, 2);
		uint32_t changed = 0;
		struct dirp_avail_res res;

		memcpy(a.mac, s.mac[slot], 6);
		for (int i = 0; i < x->nm; i++) {
			struct dirp_entry *e = &x->m[i].e;
			uint8_t bits = e->avail;

			if (!x->m[i].live || memcmp(e->mac[slot], a.mac, 6))
				continue;
			bits = a.avail ? bits | (uint8_t)(1 << slot) : bits & (uint8_t)~(1 << slot);
			changed += bits != e->avail;
			e->avail = bits;
		}
		h_send(&x->h, RAS, DIRP_SET_AVAIL, &a, 1);
		assert_true(h_reply(&x->h, RAS, &m));
		dirp_get_avail_res(&m, 0, &res);
		assert_int_equal(res.affected, changed);
		rnd_deliver(x, 0.3);
	} else {			/* time passes */
		x->h.t += rng_below(&x->r, 300) * MS;
		dir_out_reset(&x->h.out);
		dir_tick(x->h.d, now_of(&x->h), &x->h.out);
		rnd_deliver(x, 0.3);
	}
}

/* Every client's unexpired belief matches the directory, after the pushes
 * have had their chance (a loss-free round of retransmissions). */
static void rnd_settle_and_check(struct rnd *x)
{
	int checked = 0;

	for (int i = 0; i < 44; i++) {
		x->h.t += 25 * MS;
		dir_out_reset(&x->h.out);
		dir_tick(x->h.d, now_of(&x->h), &x->h.out);
		rnd_deliver(x, 0);
	}
	for (int c = 0; c < NCLIENTS; c++) {
		for (int i = 0; i < x->nm; i++) {
			struct cache *ca = &x->cache[c][i];

			if (!ca->valid || ca->expiry <= x->h.t)
				continue;
			assert_int_equal(ca->live, x->m[i].live);
			if (ca->live)
				assert_true(same(&ca->e, &x->m[i].e));
			checked++;
		}
	}
	assert_true(checked > 0);	/* the check saw live caches */
}

static void test_randomized_against_model(void **st)
{
	struct rnd *x = calloc(1, sizeof(*x));

	(void)st;
	for (uint64_t seed = 1; seed <= 20; seed++) {
		memset(x, 0, sizeof(*x));
		h_init_lease(&x->h, 0, RND_LEASE_MS);
		rng_seed(&x->r, seed);
		for (int k = 0; k < NKEYS; k++) {
			/* Few VDCs, few IPs, some in the shared range: collisions. */
			x->keys_vdc[k] = 1 + rng_below(&x->r, 3);
			x->keys_ip[k] = (rng_below(&x->r, 4) ? 0x0a000000u : SVC_NET) |
					rng_below(&x->r, 6);
		}
		for (int i = 0; i < 2000; i++) {
			rnd_step(x);
			if (i % 250 == 249)
				rnd_settle_and_check(x);
		}
		rnd_settle_and_check(x);
		/* After every lease ends, the directory holds none. */
		x->h.t += (RND_LEASE_MS + 10) * MS;
		for (int i = 0; i < 1000; i++) {
			dir_out_reset(&x->h.out);
			dir_tick(x->h.d, now_of(&x->h), &x->h.out);
		}
		assert_int_equal(h_stat(&x->h, DIR_STAT_leases), 0);
		assert_int_equal(h_stat(&x->h, DIR_STAT_pending_pushes), 0);
		assert_int_equal(h_stat(&x->h, DIR_STAT_draining), 0);
		h_fini(&x->h);
	}
	free(x);
}

/* Thousands of agents caching one entry (its lease vector is searched, not
 * scanned): lookups in random order, renewals of a random part, expiry of
 * the rest, then a change pushed to exactly the holders whose leases run,
 * acks and lease ends, all against a plain array of who holds what. */
/* Big tables live in their own mappings, which dir_big_tables reports for
 * the prefault helper; a big table's leases are swept in small slices on a
 * fast tick, a small one's on the slow tick. */
static void test_big_tables_and_sweep(void **st)
{
	enum { N = 29 * 3000 };	/* 5.6 MB of entries: past the 4 MB of a big table */
	struct prefault_span sp[DIR_SPANS];
	struct dirp_entry e[29];
	struct dirp_key k[29];
	uint64_t next;
	struct h h;

	(void)st;
	h_init(&h, 0);
	dir_big_tables(h.d, sp);
	for (int i = 0; i < DIR_SPANS; i++)
		assert_null(sp[i].base);	/* all small, on the heap */
	reg(&h, vm(1, 0x0a000001, 5, 9), DIRP_OK);
	h_send(&h, A1, DIRP_LOOKUP, &(struct dirp_key){ 1, 0x0a000001 }, 1);
	next = dir_tick(h.d, now_of(&h), &h.out);	/* one entry, one lease: slow tick */
	assert_int_equal(next - now_of(&h).ns, (uint64_t)DIR_TICK_MS * MS);
	for (uint32_t i = 0; i < N; i += 29) {
		for (uint32_t j = 0; j < 29; j++)
			e[j] = vm(1, 0x0b000000 + i + j, 100000 + i + j, 7);
		h_send(&h, A2, DIRP_REGISTER, e, 29);
	}
	assert_int_equal(h_stat(&h, DIR_STAT_entries), N + 1);
	dir_big_tables(h.d, sp);
	assert_non_null(sp[0].base);		/* entries */
	assert_true(sp[0].used >= (size_t)N * 64 && sp[0].used <= sp[0].reserved);
	assert_true(sp[0].reserved >= ((size_t)1 << 30));	/* reserved address space */
	/* A3 holds a lease on every entry: the sweep has more than a slice. */
	for (uint32_t i = 0; i < N; i += 29) {
		for (uint32_t j = 0; j < 29; j++)
			k[j] = (struct dirp_key){ 1, 0x0b000000 + i + j };
		h_send(&h, A3, DIRP_LOOKUP, k, 29);
	}
	assert_int_equal(h_stat(&h, DIR_STAT_leases), N + 1);
	next = dir_tick(h.d, now_of(&h), &h.out);
	assert_int_equal(next - now_of(&h).ns, (uint64_t)DIR_SWEEP_TICK_MS * MS);
	/* Past the leases' end, the fast ticks sweep every entry. */
	h_tick(&h, LEASE_MS + 1);
	for (uint32_t t = 0; t < N / DIR_SWEEP_PER_TICK + 1; t++)
		h_tick(&h, DIR_SWEEP_TICK_MS);
	assert_int_equal(h_stat(&h, DIR_STAT_leases), 0);
	next = dir_tick(h.d, now_of(&h), &h.out);
	assert_int_equal(next - now_of(&h).ns, (uint64_t)DIR_TICK_MS * MS);
	h_fini(&h);
}

static void test_many_holders(void **st)
{
	enum { N = 3000, NONE_HELD = 0, HELD = 1, RENEWED = 2 };
	static uint8_t holds[N];
	static uint32_t order[N];
	struct dirp_key k = { 1, 0x0a000001 };
	unsigned held = 0, renewed = 0, acked = 0;
	struct dirp_entry r;
	struct dirp_msg m;
	struct rng x;
	struct h h;

	(void)st;
	rng_seed(&x, 7);
	h_init(&h, 0);
	reg(&h, vm(1, k.ip, 5, 9), DIRP_OK);
	for (uint32_t i = 0; i < N; i++)
		order[i] = i;
	for (uint32_t i = N - 1; i > 0; i--) {
		uint32_t j = (uint32_t)rng_below(&x, i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	memset(holds, NONE_HELD, sizeof(holds));
	for (uint32_t i = 0; i < N; i++) {
		if (rng_below(&x, 3) == 0)
			continue;
		r = lookup(&h, caddr((int)order[i]), k.vdc, k.ip);
		assert_int_equal(r.status, DIRP_OK);
		holds[order[i]] = HELD;
		held++;
	}
	assert_int_equal(h_stat(&h, DIR_STAT_leases), held);
	assert_int_equal(h_stat(&h, DIR_STAT_clients), held);

	h_tick(&h, LEASE_MS / 2);
	for (uint32_t c = 0; c < N; c++) {
		if (holds[c] != HELD || rng_below(&x, 2))
			continue;
		h_send(&h, caddr((int)c), DIRP_RENEW, &k, 1);
		assert_true(h_reply(&h, caddr((int)c), &m));
		dirp_get_entry(&m, 0, &r);
		assert_int_equal(r.status, DIRP_OK);
		holds[c] = RENEWED;
		renewed++;
	}
	assert_int_equal(h_stat(&h, DIR_STAT_leases), held);	/* renewals add none */
	h_tick(&h, LEASE_MS / 2 + 10);	/* the leases not renewed end */
	assert_int_equal(h_stat(&h, DIR_STAT_leases), renewed);
	assert_int_equal(h_stat(&h, DIR_STAT_clients), renewed);

	reg(&h, vm(1, k.ip, 5, 10), DIRP_OK);	/* it moves: one push per holder */
	for (uint32_t c = 0; c < N; c++)
		assert_int_equal(h_pushes(&h, caddr((int)c), NULL), holds[c] == RENEWED);
	for (uint32_t c = 0; c < N; c++)	/* the pushed record, to acknowledge */
		if (holds[c] == RENEWED && h_pushes(&h, caddr((int)c), &m))
			break;
	dirp_get_entry(&m, 0, &r);
	assert_int_equal(r.server, 10);
	for (uint32_t c = 0; c < N; c++) {
		if (holds[c] == RENEWED && rng_below(&x, 2)) {
			ack_entry(&h, caddr((int)c), &r);
			acked++;
		}
	}
	assert_int_equal(h_stat(&h, DIR_STAT_pending_pushes), renewed - acked);
	h_tick(&h, LEASE_MS + 10);	/* every lease ends, and its push */
	assert_int_equal(h_stat(&h, DIR_STAT_leases), 0);
	assert_int_equal(h_stat(&h, DIR_STAT_clients), 0);
	assert_int_equal(h_stat(&h, DIR_STAT_pending_pushes), 0);
	h_fini(&h);
}


/* ---- groups (dir/dirgrp.c) ---------------------------------------------------------- */

/* VM `vm` of server `server` joins (vdc, 224.1.0.g). */
static struct dirp_member grp_rec(uint32_t vdc, uint32_t g, uint32_t vm, uint32_t server)
{
	struct dirp_member r = { .vdc = vdc, .server = server };

	dirp_group4(r.group, 0xe0010000u | g);
	wire_put48(r.vm, 0x020000100000ull | (uint64_t)vm << 1);
	wire_put48(r.im[0], 0x020000200000ull | (uint64_t)server << 1);
	wire_put48(r.im[1], 0x020000200001ull | (uint64_t)server << 1);
	return r;
}

static struct dirp_key6 grp_key(const struct dirp_member *r, uint32_t vdc)
{
	struct dirp_key6 k = { .vdc = vdc };

	memcpy(k.ip6, r->group, 16);
	return k;
}

/* Send one request, return the reply's count; *r its record i. */
static unsigned grp_ask(struct h *h, uint8_t type, const void *recs, unsigned n, unsigned i,
			struct dirp_member *r)
{
	struct dirp_msg m;

	h_send(h, A1, type, recs, n);
	assert_true(h_reply(h, A1, &m));
	assert_int_equal(m.h.type, type | DIRP_REPLY_BIT);
	if (i < m.h.count)
		dirp_get_member(&m, i, r);
	return m.h.count;
}

static void test_groups(void **state)
{
	struct h h;
	struct dirp_member j[4] = { grp_rec(7, 1, 1, 10), grp_rec(7, 1, 2, 10),
				    grp_rec(7, 1, 3, 11), grp_rec(8, 1, 4, 12) }, r;
	struct dirp_key6 k7 = grp_key(&j[0], 7), k8 = grp_key(&j[0], 8), k9 = grp_key(&j[0], 9);
	uint64_t st[DIR_STAT_COUNT];
	bool seen10 = false, seen11 = false;

	(void)state;
	h_init(&h, 0);
	assert_int_equal(grp_ask(&h, DIRP_JOIN, j, 4, 3, &r), 4);
	assert_int_equal(r.status, DIRP_OK);
	/* VDC 7's group: two servers (10 twice), never VDC 8's member. */
	assert_int_equal(grp_ask(&h, DIRP_MEMBERS, &k7, 1, 0, &r), 2);
	for (unsigned i = 0; i < 2; i++) {
		grp_ask(&h, DIRP_MEMBERS, &k7, 1, i, &r);
		assert_int_equal(r.status, DIRP_OK);
		assert_int_equal(r.vdc, 7);
		assert_int_equal(r.lease_ms, DIRGRP_LEASE_MS);
		/* a member VM of that server: the replicas' DST_ID */
		seen10 |= r.server == 10 && !memcmp(r.im, j[0].im, 12) &&
			  (!memcmp(r.vm, j[0].vm, 6) || !memcmp(r.vm, j[1].vm, 6));
		seen11 |= r.server == 11 && !memcmp(r.im, j[2].im, 12) && !memcmp(r.vm, j[2].vm, 6);
	}
	assert_true(seen10 && seen11);
	assert_int_equal(grp_ask(&h, DIRP_MEMBERS, &k8, 1, 0, &r), 1);
	assert_int_equal(r.server, 12);
	assert_int_equal(grp_ask(&h, DIRP_MEMBERS, &k9, 1, 0, &r), 1);
	assert_int_equal(r.status, DIRP_NOT_FOUND);
	assert_int_equal(r.lease_ms, 100);
	/* A join again changes nothing; a leave of a non-member is NOT FOUND. */
	grp_ask(&h, DIRP_JOIN, j, 1, 0, &r);
	assert_int_equal(r.status, DIRP_OK);
	grp_ask(&h, DIRP_LEAVE, &j[2], 1, 0, &r);
	assert_int_equal(r.status, DIRP_OK);
	grp_ask(&h, DIRP_LEAVE, &j[2], 1, 0, &r);
	assert_int_equal(r.status, DIRP_NOT_FOUND);
	assert_int_equal(grp_ask(&h, DIRP_MEMBERS, &k7, 1, 0, &r), 1);
	assert_int_equal(r.server, 10);
	/* The last member leaves: the group is gone. */
	grp_ask(&h, DIRP_LEAVE, j, 2, 0, &r);
	assert_int_equal(grp_ask(&h, DIRP_MEMBERS, &k7, 1, 0, &r), 1);
	assert_int_equal(r.status, DIRP_NOT_FOUND);
	dir_get_stats(h.d, st);
	assert_int_equal(st[DIR_STAT_grp_groups], 1);
	assert_int_equal(st[DIR_STAT_grp_members], 1);
	assert_int_equal(st[DIR_STAT_grp_leaves], 3);
	assert_int_equal(st[DIR_STAT_grp_lookup_misses], 2);
	h_fini(&h);
}

/* Every limit refuses (FULL) and counts; a bad record is INVALID. */
static void test_group_limits(void **state)
{
	struct h h;
	struct dirp_member r, bad[4];
	uint64_t st[DIR_STAT_COUNT];
	uint32_t g;

	(void)state;
	h_init(&h, 0);
	for (g = 0; g < DIRGRP_MAX_PER_VDC; g++) {
		struct dirp_member j = grp_rec(7, g + 1, 1, 10);

		grp_ask(&h, DIRP_JOIN, &j, 1, 0, &r);
		assert_int_equal(r.status, DIRP_OK);
	}
	r = grp_rec(7, g + 1, 1, 10);
	grp_ask(&h, DIRP_JOIN, &r, 1, 0, &r);
	assert_int_equal(r.status, DIRP_FULL);
	r = grp_rec(8, g + 1, 1, 10);			/* another VDC has its own */
	grp_ask(&h, DIRP_JOIN, &r, 1, 0, &r);
	assert_int_equal(r.status, DIRP_OK);
	/* VMs per group: 64 VMs on two servers, the 65th refused. */
	for (uint32_t v = 0; v < DIRGRP_MAX_VMS; v++) {
		r = grp_rec(9, 1, 100 + v, 20 + v % 2);
		grp_ask(&h, DIRP_JOIN, &r, 1, 0, &r);
		assert_int_equal(r.status, DIRP_OK);
	}
	r = grp_rec(9, 1, 999, 20);
	grp_ask(&h, DIRP_JOIN, &r, 1, 0, &r);
	assert_int_equal(r.status, DIRP_FULL);
	/* Servers per group: what one MEMBERS reply lists. */
	for (uint32_t s = 0; s < DIRGRP_MAX_SERVERS; s++) {
		r = grp_rec(9, 2, 200 + s, 100 + s);
		grp_ask(&h, DIRP_JOIN, &r, 1, 0, &r);
		assert_int_equal(r.status, DIRP_OK);
	}
	r = grp_rec(9, 2, 999, 999);
	grp_ask(&h, DIRP_JOIN, &r, 1, 0, &r);
	assert_int_equal(r.status, DIRP_FULL);
	r = grp_rec(9, 2, 998, 100);			/* a server already in */
	grp_ask(&h, DIRP_JOIN, &r, 1, 0, &r);
	assert_int_equal(r.status, DIRP_OK);
	{
		struct dirp_key6 k = grp_key(&r, 9);

		assert_int_equal(grp_ask(&h, DIRP_MEMBERS, &k, 1, 0, &r), DIRGRP_MAX_SERVERS);
	}
	/* Invalid: a unicast "group", a group MAC, the same MAC twice, server 0. */
	for (int i = 0; i < 4; i++)
		bad[i] = grp_rec(10, 1, 1, 10);
	dirp_group4(bad[0].group, 0x0a000001);
	bad[1].vm[0] |= 1;
	memcpy(bad[2].im[1], bad[2].im[0], 6);
	bad[3].server = 0;
	for (unsigned i = 0; i < 4; i++) {
		grp_ask(&h, DIRP_JOIN, bad, 4, i, &r);
		assert_int_equal(r.status, DIRP_INVALID);
	}
	/* The broadcast group may be joined (the agents put every VM in it). */
	r = grp_rec(10, 1, 1, 10);
	dirp_group4(r.group, 0xffffffffu);
	grp_ask(&h, DIRP_JOIN, &r, 1, 0, &r);
	assert_int_equal(r.status, DIRP_OK);
	dir_get_stats(h.d, st);
	assert_int_equal(st[DIR_STAT_grp_full_vdc], 1);
	assert_int_equal(st[DIR_STAT_grp_full_group], 2);
	assert_int_equal(st[DIR_STAT_grp_invalid], 16);
	h_fini(&h);
}

/* ---- IPv6 keys (dir/dir6.c) ------------------------------------------------------ */

static struct dirp_entry6 v6_entry(uint32_t vdc, uint16_t tail, uint8_t node)
{
	struct dirp_entry6 e = { .vdc = vdc, .server = 100 + node, .avail = DIRP_AVAIL_ALL };
	static const uint8_t pfx[8] = { 0xfd, 0, 0, 0, 0, 0, 0, 1 };

	memcpy(e.ip6, pfx, 8);
	e.ip6[14] = (uint8_t)(tail >> 8);
	e.ip6[15] = (uint8_t)tail;
	for (int s = 0; s < DIRP_NMACS; s++) {
		uint8_t m[6] = { 0x02, 0x50, 0x47, (uint8_t)s, (uint8_t)(tail >> 8), (uint8_t)(tail + node) };

		memcpy(e.mac[s], m, 6);
	}
	return e;
}

static struct dirp_key6 v6_key(const struct dirp_entry6 *e, uint32_t vdc)
{
	struct dirp_key6 k = { .vdc = vdc };

	memcpy(k.ip6, e->ip6, 16);
	return k;
}

static void v6_reply(struct h *h, uint8_t type, unsigned i, struct dirp_entry6 *r)
{
	struct dirp_msg m;

	assert_true(h_reply(h, A1, &m));
	assert_int_equal(m.h.type, type | DIRP_REPLY_BIT);
	dirp_get_entry6(&m, i, r);
}

static void test_ipv6_keys(void **state)
{
	struct h h;
	struct dirp_entry6 e = v6_entry(7, 1, 3), r;
	struct dirp_key6 k = v6_key(&e, 7), other_vdc = v6_key(&e, 8);
	struct dirp_key k4 = { .vdc = 7, .ip = 1 };
	uint64_t st[DIR_STAT_COUNT];

	(void)state;
	h_init(&h, 0);
	h_send(&h, A1, DIRP_REGISTER6, &e, 1);
	v6_reply(&h, DIRP_REGISTER6, 0, &r);
	assert_int_equal(r.status, DIRP_OK);
	assert_memory_equal(r.ip6, e.ip6, 16);
	assert_true(r.version > 0);
	h_send(&h, A1, DIRP_LOOKUP6, &k, 1);
	v6_reply(&h, DIRP_LOOKUP6, 0, &r);
	assert_int_equal(r.status, DIRP_OK);
	assert_int_equal(r.server, e.server);
	assert_memory_equal(r.mac, e.mac, sizeof(e.mac));
	assert_int_equal(r.lease_ms, DIR6_LEASE_MS);
	/* Another VDC, same address: nothing (VDCs reuse addresses). */
	h_send(&h, A1, DIRP_LOOKUP6, &other_vdc, 1);
	v6_reply(&h, DIRP_LOOKUP6, 0, &r);
	assert_int_equal(r.status, DIRP_NOT_FOUND);
	assert_int_equal(r.lease_ms, 100);
	assert_int_equal(r.vdc, 8);
	/* The IPv4 table is another key family. */
	h_send(&h, A1, DIRP_LOOKUP, &k4, 1);
	{
		struct dirp_msg m;
		struct dirp_entry r4;

		assert_true(h_reply(&h, A1, &m));
		dirp_get_entry(&m, 0, &r4);
		assert_int_equal(r4.status, DIRP_NOT_FOUND);
	}
	/* Same content again: no new version. */
	{
		uint32_t v;

		h_send(&h, A1, DIRP_LOOKUP6, &k, 1);
		v6_reply(&h, DIRP_LOOKUP6, 0, &r);
		v = r.version;

		h_send(&h, A1, DIRP_REGISTER6, &e, 1);
		v6_reply(&h, DIRP_REGISTER6, 0, &r);
		assert_int_equal(r.status, DIRP_OK);
		assert_int_equal(r.version, v);
	}
	dir_get_stats(h.d, st);
	assert_int_equal(st[DIR_STAT_v6_entries], 1);
	assert_int_equal(st[DIR_STAT_v6_registers], 1);
	assert_int_equal(st[DIR_STAT_v6_lookup_misses], 1);
	assert_int_equal(st[DIR_STAT_entries], 0);
	h_send(&h, A1, DIRP_UNREGISTER6, &k, 1);
	v6_reply(&h, DIRP_UNREGISTER6, 0, &r);
	assert_int_equal(r.status, DIRP_OK);
	h_send(&h, A1, DIRP_UNREGISTER6, &k, 1);
	v6_reply(&h, DIRP_UNREGISTER6, 0, &r);
	assert_int_equal(r.status, DIRP_NOT_FOUND);
	h_send(&h, A1, DIRP_LOOKUP6, &k, 1);
	v6_reply(&h, DIRP_LOOKUP6, 0, &r);
	assert_int_equal(r.status, DIRP_NOT_FOUND);
	h_fini(&h);
}

/* The UPDATE6 datagrams to `to` in the last output: records, last in r. */
static int v6_pushes(struct h *h, uint64_t to, struct dirp_entry6 *r, unsigned *ndst)
{
	int n = 0;

	for (size_t i = 0; i < h->out.nsends; i++) {
		const struct dir_send *s = &h->out.sends[i];
		struct dirp_msg x;

		assert_int_equal(dirp_decode(h->out.buf + s->off, s->len, &key, &x), 0);
		if (x.h.type != DIRP_UPDATE6)
			continue;
		for (uint32_t j = 0; j < s->ndst; j++)
			if (h->out.dsts[s->dst + j] == to) {
				n += x.h.count;
				dirp_get_entry6(&x, 0, r);
				*ndst = s->ndst;
			}
	}
	return n;
}

/* IPv6 leases: a LOOKUP6 answer is a lease; a change is pushed at once to
 * every holder whose lease runs (one datagram to all), a removal too (NOT
 * FOUND); a registration that changes nothing pushes nothing; a lease
 * that ended is not pushed. */
static void test_ipv6_pushes(void **state)
{
	struct h h;
	struct dirp_entry6 e = v6_entry(7, 1, 3), r, p;
	struct dirp_key6 k = v6_key(&e, 7);
	unsigned ndst = 0;
	uint32_t v;

	(void)state;
	h_init(&h, 0);
	h_send(&h, A1, DIRP_REGISTER6, &e, 1);
	h_send(&h, A2, DIRP_LOOKUP6, &k, 1);
	h_send(&h, A3, DIRP_LOOKUP6, &k, 1);
	h_send(&h, A3, DIRP_LOOKUP6, &k, 1);		/* asked again: one lease */
	{
		struct dirp_msg m;

		assert_true(h_reply(&h, A3, &m));
		dirp_get_entry6(&m, 0, &r);
		v = r.version;
	}

	/* the VM moves to server 104: one UPDATE6 to A2 and A3, none to A1 */
	e.server = 104;
	h_send(&h, A1, DIRP_REGISTER6, &e, 1);
	assert_int_equal(v6_pushes(&h, A2, &p, &ndst), 1);
	assert_int_equal(ndst, 2);
	assert_int_equal(v6_pushes(&h, A3, &p, &ndst), 1);
	assert_int_equal(v6_pushes(&h, A1, &p, &ndst), 0);
	assert_int_equal(p.status, DIRP_OK);
	assert_int_equal(p.vdc, 7);
	assert_memory_equal(p.ip6, e.ip6, 16);
	assert_int_equal(p.server, 104);
	assert_true(p.version > v);
	assert_memory_equal(p.mac, e.mac, sizeof(e.mac));
	assert_int_equal(h_stat(&h, DIR_STAT_v6_pushes), 2);

	/* the same again: nothing to push */
	h_send(&h, A1, DIRP_REGISTER6, &e, 1);
	assert_int_equal(v6_pushes(&h, A2, &p, &ndst), 0);

	/* A2 renews within its lease, A3 does not: only A2 is told */
	h.t += (DIR6_LEASE_MS - 1000) * MS;
	h_send(&h, A2, DIRP_LOOKUP6, &k, 1);
	h.t += 2000 * MS;
	e.server = 105;
	h_send(&h, A1, DIRP_REGISTER6, &e, 1);
	assert_int_equal(v6_pushes(&h, A2, &p, &ndst), 1);
	assert_int_equal(ndst, 1);
	assert_int_equal(p.server, 105);
	assert_int_equal(v6_pushes(&h, A3, &p, &ndst), 0);

	/* removed: NOT FOUND pushed to the holder */
	h_send(&h, A1, DIRP_UNREGISTER6, &k, 1);
	assert_int_equal(v6_pushes(&h, A2, &p, &ndst), 1);
	assert_int_equal(p.status, DIRP_NOT_FOUND);
	assert_memory_equal(p.ip6, e.ip6, 16);
	assert_int_equal(h_stat(&h, DIR_STAT_v6_pushes), 4);

	/* registered again: nobody holds it any more */
	h_send(&h, A1, DIRP_REGISTER6, &e, 1);
	assert_int_equal(v6_pushes(&h, A2, &p, &ndst), 0);
	h_fini(&h);
}

static void test_ipv6_invalid(void **state)
{
	struct h h;
	struct dirp_entry6 bad[4], r;
	uint64_t st[DIR_STAT_COUNT];

	(void)state;
	h_init(&h, 0);
	for (int i = 0; i < 4; i++)
		bad[i] = v6_entry(7, (uint16_t)(10 + i), 1);
	bad[0].ip6[0] = 0xff;			/* multicast */
	memset(bad[1].ip6, 0, 16);		/* unspecified */
	memcpy(bad[2].mac[1], bad[2].mac[0], 6);	/* two slots the same MAC */
	bad[3].mac[0][0] |= 1;			/* a group MAC */
	h_send(&h, A1, DIRP_REGISTER6, bad, 4);
	for (unsigned i = 0; i < 4; i++) {
		v6_reply(&h, DIRP_REGISTER6, i, &r);
		assert_int_equal(r.status, DIRP_INVALID);
	}
	dir_get_stats(h.d, st);
	assert_int_equal(st[DIR_STAT_v6_entries], 0);
	assert_int_equal(st[DIR_STAT_v6_invalid], 4);
	h_fini(&h);
}

/* Random registrations and removals against a naive list. */
static void test_ipv6_randomized(void **state)
{
	enum { N = 300, OPS = 6000 };
	struct h h;
	static bool held[2][N];
	static uint8_t node[2][N];
	struct rng r;

	(void)state;
	memset(held, 0, sizeof(held));
	h_init(&h, 0);
	rng_seed(&r, 6);
	for (int op = 0; op < OPS; op++) {
		unsigned v = (unsigned)(rng_next(&r) % 2), a = (unsigned)(rng_next(&r) % N);
		unsigned what = (unsigned)(rng_next(&r) % 3);
		struct dirp_entry6 e = v6_entry(1 + v, (uint16_t)a, (uint8_t)(rng_next(&r) % 4)), x;
		struct dirp_key6 k = v6_key(&e, 1 + v);

		if (what == 0) {
			h_send(&h, A1, DIRP_REGISTER6, &e, 1);
			v6_reply(&h, DIRP_REGISTER6, 0, &x);
			assert_int_equal(x.status, DIRP_OK);
			held[v][a] = true;
			node[v][a] = (uint8_t)(e.server - 100);
		} else if (what == 1) {
			h_send(&h, A1, DIRP_UNREGISTER6, &k, 1);
			v6_reply(&h, DIRP_UNREGISTER6, 0, &x);
			assert_int_equal(x.status, held[v][a] ? DIRP_OK : DIRP_NOT_FOUND);
			held[v][a] = false;
		} else {
			h_send(&h, A1, DIRP_LOOKUP6, &k, 1);
			v6_reply(&h, DIRP_LOOKUP6, 0, &x);
			assert_int_equal(x.status, held[v][a] ? DIRP_OK : DIRP_NOT_FOUND);
			if (held[v][a])
				assert_int_equal(x.server, 100u + node[v][a]);
		}
	}
	{
		uint64_t st[DIR_STAT_COUNT];
		unsigned n = 0;

		for (unsigned v = 0; v < 2; v++)
			for (unsigned a = 0; a < N; a++)
				n += held[v][a];
		dir_get_stats(h.d, st);
		assert_int_equal(st[DIR_STAT_v6_entries], n);
	}
	h_fini(&h);
}

/* ---- policies (dir/dirpol.c) ------------------------------------------------------ */

#define TENANT dir_addr(0x7f000001, 3000)

/* Send one pol record tagged with k from `from`; true and *r filled when a
 * reply tagged with k came back (r->data points into h->out). */
static bool pol_req(struct h *h, uint64_t from, const struct auth_key *k, uint8_t type,
		    const struct dirp_pol *rq, struct dirp_pol *r)
{
	struct dirp_hdr hd = { .type = type, .session = from, .seq = ++h->seq,
			       .time_ms = now_of(h).wall_ms, .req_id = ++h->req };
	uint8_t buf[DIRP_MAX_DGRAM];
	struct dirp_writer w;
	struct dirp_msg m;

	dirp_begin(&w, buf, sizeof(buf), &hd);
	dirp_put_pol(&w, rq);
	dir_out_reset(&h->out);
	dir_input(h->d, now_of(h), from, buf, dirp_finish(&w, k), &h->out);
	for (size_t i = 0; i < h->out.nsends; i++) {
		const struct dir_send *s = &h->out.sends[i];

		if (s->ndst != 1 || h->out.dsts[s->dst] != from)
			continue;
		if (dirp_decode(h->out.buf + s->off, s->len, k, &m) == 0 &&
		    m.h.type == (type | DIRP_REPLY_BIT)) {
			assert_int_equal(m.h.req_id, hd.req_id);
			dirp_get_pol(&m, 0, r);
			return true;
		}
	}
	return false;
}

/* Set (vdc, ip)'s policy to text in chunks; the last reply's status, its
 * version in *version and its reason in why (may be NULL). */
static uint8_t pol_set(struct h *h, uint64_t from, const struct auth_key *k, uint32_t vdc,
		       uint32_t ip, const char *text, uint32_t *version, char *why)
{
	uint32_t total = (uint32_t)strlen(text), off = 0;
	static uint32_t xfer;
	struct dirp_pol r;

	xfer++;
	do {
		struct dirp_pol rq = { .vdc = vdc, .ip = ip, .total = total, .offset = off,
				       .xfer = xfer, .data = (const uint8_t *)text + off };

		rq.len = (uint16_t)MIN(total - off, (uint32_t)DIRP_POL_CHUNK);
		assert_true(pol_req(h, from, k, DIRP_POL_SET, &rq, &r));
		off += rq.len;
		if (r.status != DIRP_OK)
			break;
	} while (off < total);
	if (version)
		*version = r.version;
	if (why) {
		memcpy(why, r.data, r.status ? r.len : 0);
		why[r.status ? r.len : 0] = 0;
	}
	return r.status;
}

/* Read (vdc, ip)'s policy in chunks into a new string; NULL when not found. */
static char *pol_get(struct h *h, uint64_t from, const struct auth_key *k, uint32_t vdc,
		     uint32_t ip, uint32_t *version)
{
	char *text = NULL;
	uint32_t off = 0;
	struct dirp_pol r;

	do {
		struct dirp_pol rq = { .vdc = vdc, .ip = ip, .offset = off };

		assert_true(pol_req(h, from, k, DIRP_POL_GET, &rq, &r));
		if (r.status != DIRP_OK) {
			assert_int_equal(r.status, DIRP_NOT_FOUND);
			free(text);
			return NULL;
		}
		if (!text)
			text = calloc(1, r.total + 1);
		assert_int_equal(r.offset, off);
		memcpy(text + off, r.data, r.len);
		off += r.len;
		*version = r.version;
	} while (off < r.total);
	return text ? text : calloc(1, 1);
}

/* POL_NOTE records sent to `to` in the last output: how many; the last in *r. */
static int pol_notes(struct h *h, uint64_t to, struct dirp_pol *r)
{
	int n = 0;

	for (size_t i = 0; i < h->out.nsends; i++) {
		const struct dir_send *s = &h->out.sends[i];
		struct dirp_msg m;

		if (s->ndst != 1 || h->out.dsts[s->dst] != to)
			continue;
		/* notes carry the shared key's tag; a tenant's replies its own */
		if (dirp_decode(h->out.buf + s->off, s->len, &key, &m) || m.h.type != DIRP_POL_NOTE)
			continue;
		dirp_get_pol(&m, 0, r);
		n++;
	}
	return n;
}

static const char pol_web[] = "# web\nin tcp 80 from any\nin icmp from 10.0.0.0/24\n";

static void test_policy_set_get_del_restore(void **st)
{
	struct h h, h2;
	struct auth_key k1;
	uint32_t v;
	char *text;

	(void)st;
	h_init(&h, 0);
	auth_vdc_key(&key, 1, &k1);
	assert_int_equal(pol_set(&h, TENANT, &k1, 1, 0x0a000005, pol_web, &v, NULL), DIRP_OK);
	assert_int_equal(v, 1);
	assert_int_equal(h.out.npops, 1);	/* one store write, before the reply */
	text = pol_get(&h, TENANT, &k1, 1, 0x0a000005, &v);
	assert_string_equal(text, pol_web);
	assert_int_equal(v, 1);
	free(text);
	/* the shared key (an agent, the operator) reads it too */
	text = pol_get(&h, A1, &key, 1, 0x0a000005, &v);
	assert_string_equal(text, pol_web);
	free(text);
	assert_int_equal(pol_set(&h, TENANT, &k1, 1, 0x0a000005, "in udp 53 from any\n", &v, NULL),
			 DIRP_OK);
	assert_int_equal(v, 2);
	/* an empty policy is a policy: inbound denied */
	assert_int_equal(pol_set(&h, TENANT, &k1, 1, 0x0a000006, "", &v, NULL), DIRP_OK);
	assert_int_equal(h_stat(&h, DIR_STAT_pol_policies), 2);

	/* a restart: the store's records give back both */
	h_init(&h2, 0);
	{
		struct h h3;
		struct dirp_pol r;
		struct dirp_pol rq = { .vdc = 1, .ip = 0x0a000005 };

		/* collect the writes of a fresh directory taking the same sets */
		h_init(&h3, 0);
		assert_int_equal(pol_set(&h3, TENANT, &k1, 1, 0x0a000005, pol_web, &v, NULL), DIRP_OK);
		for (size_t i = 0; i < h3.out.npops; i++)
			assert_int_equal(dir_restore(h2.d, h3.out.pops[i].key, DIR_POL_KEY_LEN,
						     h3.out.pbuf + h3.out.pops[i].off,
						     h3.out.pops[i].len), 0);
		/* a value this version cannot read */
		h3.out.pbuf[h3.out.pops[0].off] = 99;
		assert_int_equal(dir_restore(h2.d, h3.out.pops[0].key, DIR_POL_KEY_LEN,
					     h3.out.pbuf + h3.out.pops[0].off, h3.out.pops[0].len),
				 -EINVAL);
		h_fini(&h3);
		text = pol_get(&h2, TENANT, &k1, 1, 0x0a000005, &v);
		assert_string_equal(text, pol_web);
		assert_int_equal(v, 1);
		free(text);
		/* delete: written as a delete, gone */
		assert_true(pol_req(&h2, TENANT, &k1, DIRP_POL_DEL, &rq, &r));
		assert_int_equal(r.status, DIRP_OK);
		assert_int_equal(h2.out.npops, 1);
		assert_true(h2.out.pops[0].del);
		assert_null(pol_get(&h2, TENANT, &k1, 1, 0x0a000005, &v));
		assert_true(pol_req(&h2, TENANT, &k1, DIRP_POL_DEL, &rq, &r));
		assert_int_equal(r.status, DIRP_NOT_FOUND);
	}
	h_fini(&h2);
	h_fini(&h);
}

static void test_policy_large_chunked(void **st)
{
	size_t cap = (size_t)PGR_POL_RULES_MAX * 40 + 64, len = 0;
	char *big = malloc(cap), *text;
	struct auth_key k1;
	char why[DIRP_POL_CHUNK + 1];
	uint32_t v;
	struct h h;

	(void)st;
	h_init(&h, 0);
	auth_vdc_key(&key, 1, &k1);
	for (int i = 0; i < PGR_POL_RULES_MAX; i++)
		len += (size_t)snprintf(big + len, cap - len, "in tcp %d from 10.%d.%d.0/24\n",
					1 + i % 60000, i / 256 % 256, i % 256);
	assert_true(len > 20 * DIRP_POL_CHUNK);
	/* the most rules a policy may have (bpf/test_policy.c checks one more
	 * is refused; test_policy_bad_input that the directory names the line) */
	assert_int_equal(pol_set(&h, TENANT, &k1, 1, 7, big, &v, why), DIRP_OK);
	text = pol_get(&h, A1, &key, 1, 7, &v);
	assert_string_equal(text, big);
	assert_int_equal(v, 1);
	free(text);
	free(big);
	h_fini(&h);
}

static void test_policy_bad_input(void **st)
{
	struct auth_key k1;
	char why[DIRP_POL_CHUNK + 1];
	struct dirp_pol r;
	uint32_t v;
	struct h h;

	(void)st;
	h_init(&h, 0);
	auth_vdc_key(&key, 1, &k1);
	assert_int_equal(pol_set(&h, TENANT, &k1, 1, 5, pol_web, &v, NULL), DIRP_OK);
	/* a rule that does not parse: its line and field, the old policy kept */
	assert_int_equal(pol_set(&h, TENANT, &k1, 1, 5, "in tcp 22 from any\n\nin tcp 70000 from any\n",
				 &v, why), DIRP_INVALID);
	assert_non_null(strstr(why, "policy:3: ports: "));
	free(pol_get(&h, TENANT, &k1, 1, 5, &v));
	assert_int_equal(v, 1);
	assert_int_equal(h_stat(&h, DIR_STAT_pol_refused), 1);
	/* a chunk that is not the next one of its transfer */
	{
		struct dirp_pol rq = { .vdc = 1, .ip = 5, .total = 4000, .offset = 0, .xfer = 77,
				       .len = 10, .data = (const uint8_t *)"in icmp fr" };

		assert_true(pol_req(&h, TENANT, &k1, DIRP_POL_SET, &rq, &r));
		assert_int_equal(r.status, DIRP_OK);
		rq.offset = 2000;
		assert_true(pol_req(&h, TENANT, &k1, DIRP_POL_SET, &rq, &r));
		assert_int_equal(r.status, DIRP_INVALID);
		rq.offset = 10;
		rq.xfer = 78;
		assert_true(pol_req(&h, TENANT, &k1, DIRP_POL_SET, &rq, &r));
		assert_int_equal(r.status, DIRP_INVALID);
	}
	/* a retransmitted last chunk gets the same answer, no second write */
	{
		const char *t = "in tcp 443 from any\n";
		struct dirp_pol rq = { .vdc = 1, .ip = 9, .total = (uint32_t)strlen(t), .xfer = 90,
				       .len = (uint16_t)strlen(t), .data = (const uint8_t *)t };

		assert_true(pol_req(&h, TENANT, &k1, DIRP_POL_SET, &rq, &r));
		assert_int_equal(r.status, DIRP_OK);
		assert_int_equal(h.out.npops, 1);
		assert_true(pol_req(&h, TENANT, &k1, DIRP_POL_SET, &rq, &r));
		assert_int_equal(r.status, DIRP_OK);
		assert_int_equal(r.version, 1);
		assert_int_equal(h.out.npops, 0);
	}
	/* a GET past the end */
	{
		struct dirp_pol rq = { .vdc = 1, .ip = 5, .offset = 100000 };

		assert_true(pol_req(&h, TENANT, &k1, DIRP_POL_GET, &rq, &r));
		assert_int_equal(r.status, DIRP_INVALID);
	}
	/* the VDC's limit on policies: empty ones, cheap to set */
	for (uint32_t ip = 100; ip < 100 + DIRPOL_VDC_MAX; ip++) {
		uint8_t s = pol_set(&h, TENANT, &k1, 1, ip, "", &v, why);

		if (s != DIRP_OK) {
			assert_int_equal(s, DIRP_FULL);
			assert_int_equal(h_stat(&h, DIR_STAT_pol_policies), DIRPOL_VDC_MAX);
			assert_non_null(strstr(why, "DIRPOL_VDC_MAX"));
			break;
		}
	}
	assert_int_equal(h_stat(&h, DIR_STAT_pol_policies), DIRPOL_VDC_MAX);
	/* another VDC is not held back by it */
	{
		struct auth_key k2;

		auth_vdc_key(&key, 2, &k2);
		assert_int_equal(pol_set(&h, TENANT, &k2, 2, 5, pol_web, &v, NULL), DIRP_OK);
	}
	/* read-only (the shared store down): changes wait, reads go on */
	dir_set_read_only(h.d, true);
	assert_int_equal(pol_set(&h, TENANT, &k1, 1, 5, pol_web, &v, why), DIRP_TRY_LATER);
	free(pol_get(&h, TENANT, &k1, 1, 5, &v));
	h_fini(&h);
}

static void test_policy_vdc_cannot_cross(void **st)
{
	struct auth_key k1, k2;
	struct dirp_pol r;
	uint32_t v;
	char *text;
	struct h h;

	(void)st;
	h_init(&h, 0);
	auth_vdc_key(&key, 1, &k1);
	auth_vdc_key(&key, 2, &k2);
	assert_true(memcmp(&k1, &k2, sizeof(k1)) != 0);
	assert_int_equal(pol_set(&h, TENANT, &k2, 2, 5, "in tcp 22 from any\n", &v, NULL), DIRP_OK);
	/* VDC 1's key reads nothing of VDC 2, changes nothing, deletes nothing */
	{
		struct dirp_pol rq = { .vdc = 2, .ip = 5 };
		uint64_t tags = h_stat(&h, DIR_STAT_drop_tag);

		assert_false(pol_req(&h, TENANT, &k1, DIRP_POL_GET, &rq, &r));
		assert_int_equal(h.out.nsends, 0);
		assert_false(pol_req(&h, TENANT, &k1, DIRP_POL_DEL, &rq, &r));
		rq = (struct dirp_pol){ .vdc = 2, .ip = 5, .total = 3, .len = 3, .xfer = 1,
					.data = (const uint8_t *)"in " };
		assert_false(pol_req(&h, TENANT, &k1, DIRP_POL_SET, &rq, &r));
		assert_int_equal(h_stat(&h, DIR_STAT_drop_tag), tags + 3);
		assert_int_equal(h.out.npops, 0);
	}
	text = pol_get(&h, TENANT, &k2, 2, 5, &v);
	assert_string_equal(text, "in tcp 22 from any\n");
	assert_int_equal(v, 1);
	free(text);
	/* a VDC's key makes nothing else: a registration tagged with it is dropped */
	{
		struct dirp_entry e = vm(1, 5, 5, 1);
		struct dirp_hdr hd = { .type = DIRP_REGISTER, .session = TENANT, .seq = ++h.seq,
				       .time_ms = now_of(&h).wall_ms, .req_id = 1 };
		uint8_t buf[DIRP_MAX_DGRAM];
		struct dirp_writer w;

		dirp_begin(&w, buf, sizeof(buf), &hd);
		dirp_put_entry(&w, &e);
		dir_out_reset(&h.out);
		dir_input(h.d, now_of(&h), TENANT, buf, dirp_finish(&w, &k1), &h.out);
		assert_int_equal(h.out.nsends, 0);
		assert_int_equal(h.out.nops, 0);
	}
	/* and the reply to a tenant is tagged with its key, not the shared one */
	{
		struct dirp_pol rq = { .vdc = 2, .ip = 5 };
		struct dirp_msg m;

		assert_true(pol_req(&h, TENANT, &k2, DIRP_POL_GET, &rq, &r));
		assert_int_equal(dirp_decode(h.out.buf, h.out.sends[0].len, &key, &m), -DIRP_E_TAG);
	}
	h_fini(&h);
}

static void test_policy_pushes_follow_the_vm(void **st)
{
	struct dirp_entry e = vm(1, 0x0a000005, 5, 1);
	struct auth_key k1;
	struct dirp_pol r;
	uint32_t v;
	struct h h;

	(void)st;
	h_init(&h, 0);
	auth_vdc_key(&key, 1, &k1);
	/* A1 registers the VM and asks for its policy: none yet; A3 reads
	 * it with the shared key without saying it hosts it */
	h_send(&h, A1, DIRP_REGISTER, &e, 1);
	assert_int_equal(pol_notes(&h, A1, &r), 0);
	{
		struct dirp_pol rq = { .vdc = 1, .ip = 0x0a000005, .xfer = DIRP_POL_WATCH };

		assert_true(pol_req(&h, A1, &key, DIRP_POL_GET, &rq, &r));
		assert_int_equal(r.status, DIRP_NOT_FOUND);
	}
	assert_null(pol_get(&h, A3, &key, 1, 0x0a000005, &v));
	/* set: A1 is told, the text in the note */
	assert_int_equal(pol_set(&h, TENANT, &k1, 1, 0x0a000005, pol_web, &v, NULL), DIRP_OK);
	assert_int_equal(pol_notes(&h, A1, &r), 1);
	assert_int_equal(r.status, DIRP_OK);
	assert_int_equal(r.version, 1);
	assert_int_equal(r.total, strlen(pol_web));
	assert_memory_equal(r.data, pol_web, r.len);
	assert_int_equal(pol_notes(&h, TENANT, &r), 0);
	assert_int_equal(pol_notes(&h, A3, &r), 0);
	/* the VM moves: A2 registers it and gets the policy */
	e.server = 2;
	h_send(&h, A2, DIRP_REGISTER, &e, 1);
	assert_int_equal(pol_notes(&h, A2, &r), 1);
	assert_int_equal(r.version, 1);
	/* a change goes to A2 now, not to A1 */
	assert_int_equal(pol_set(&h, TENANT, &k1, 1, 0x0a000005, "in tcp 22 from any\n", &v, NULL),
			 DIRP_OK);
	assert_int_equal(pol_notes(&h, A2, &r), 1);
	assert_int_equal(r.version, 2);
	assert_int_equal(pol_notes(&h, A1, &r), 0);
	/* deleted: A2 is told it has none */
	{
		struct dirp_pol rq = { .vdc = 1, .ip = 0x0a000005 };

		assert_true(pol_req(&h, TENANT, &k1, DIRP_POL_DEL, &rq, &r));
		assert_int_equal(pol_notes(&h, A2, &r), 1);
		assert_int_equal(r.status, DIRP_NOT_FOUND);
	}
	assert_int_equal(h_stat(&h, DIR_STAT_pol_notes), 4);
	h_fini(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_found_negative_lease),
		cmocka_unit_test(test_register_lookup_lease),
		cmocka_unit_test(test_invalid_registrations),
		cmocka_unit_test(test_vdc_isolation),
		cmocka_unit_test(test_service_range_shared),
		cmocka_unit_test(test_default_route),
		cmocka_unit_test(test_default_route_then_register),
		cmocka_unit_test(test_push_ack_stops_retransmission),
		cmocka_unit_test(test_retransmit_until_lease_ends),
		cmocka_unit_test(test_lease_expiry_sweep),
		cmocka_unit_test(test_unregister_invalidate_drains),
		cmocka_unit_test(test_availability),
		cmocka_unit_test(test_push_batching),
		cmocka_unit_test(test_migration),
		cmocka_unit_test(test_replay_and_bad_input),
		cmocka_unit_test(test_lease_limit),
		cmocka_unit_test(test_restore_from_store),
		cmocka_unit_test(test_apply_from_shared_store),
		cmocka_unit_test(test_multi_lookup),
		cmocka_unit_test(test_big_tables),
		cmocka_unit_test(test_client_library),
		cmocka_unit_test(test_client_many_sessions),
		cmocka_unit_test(test_randomized_against_model),
		cmocka_unit_test(test_many_holders),
		cmocka_unit_test(test_big_tables_and_sweep),
		cmocka_unit_test(test_ipv6_keys),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_group_limits),
		cmocka_unit_test(test_ipv6_invalid),
		cmocka_unit_test(test_ipv6_pushes),
		cmocka_unit_test(test_ipv6_randomized),
		cmocka_unit_test(test_policy_set_get_del_restore),
		cmocka_unit_test(test_policy_large_chunked),
		cmocka_unit_test(test_policy_bad_input),
		cmocka_unit_test(test_policy_vdc_cannot_cross),
		cmocka_unit_test(test_policy_pushes_follow_the_vm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
