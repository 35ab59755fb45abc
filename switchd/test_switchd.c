/* Unit tests of the switchd core: capacity, ports, retransmissions, replays,
 * kernel refusals, link reports, dumps, and random operations against a
 * naive model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>

#include "lib/rng.h"
#include "switchd/switchd.h"
#include "wire/dirproto.h"

static const struct auth_key key = { { 7, 7, 7 } };
static const struct sw_addr ctl = { 0x7f000001, 9000 }, ras = { 0xac1f0001, 7500 };
static struct sw_out out;

static struct sw *mk(uint32_t cap, uint16_t nports)
{
	struct sw_config c = { .id = 5, .fib_cap = cap, .has_ras = true, .ras = ras,
			       .seq_base = 1000, .key = key };
	struct sw *s = sw_new(&c);

	sw_out_reset(&out);
	for (uint16_t p = 0; p < nports; p++)
		sw_port(s, p, true, true, 0, &out);
	assert_int_equal(out.ndg, 0);	/* first sightings are not reported */
	return s;
}

static void mac_of(uint32_t i, uint8_t mac[6])
{
	wire_put48(mac, 0x025047000000ull | i);
}

/* Send ops as one request with seq, "apply" them (kernel accepts all
 * unless fail_at matches an nl index), commit, decode the ack. */
static void request(struct sw *s, uint64_t seq, const struct swp_op *ops, uint16_t n,
		    int fail_at, struct swp_msg *ack, uint8_t *ackbuf)
{
	uint8_t buf[SWP_MAX_DGRAM];
	struct swp_hdr h = { .sender = 1, .seq = seq };
	size_t len = swp_enc_fib_ops(buf, sizeof(buf), &h, ops, n, &key);

	sw_out_reset(&out);
	sw_input(s, ctl, buf, len, 0, &out);
	for (int i = 0; i < out.nnl; i++)
		out.nl[i].err = i == fail_at ? -EINVAL : 0;
	sw_commit(s, &out);
	assert_int_equal(out.ndg, 1);
	assert_int_equal(out.dg[0].to.ip, ctl.ip);
	memcpy(ackbuf, out.dg[0].buf, out.dg[0].len);
	assert_int_equal(swp_decode(ackbuf, out.dg[0].len, &key, ack), 0);
	assert_int_equal(ack->h.type, SWP_FIB_ACK);
	assert_true(ack->h.seq == seq);
}

static void test_capacity(void **state)
{
	struct sw *s = mk(4, 8);
	struct swp_op ops[6];
	uint8_t ab[SWP_MAX_DGRAM];
	struct swp_msg ack;

	(void)state;
	for (int i = 0; i < 6; i++) {
		ops[i] = (struct swp_op){ .kind = SWP_OP_ADD, .port = (uint16_t)i };
		mac_of((uint32_t)i + 1, ops[i].mac);
	}
	request(s, 10, ops, 6, -1, &ack, ab);
	for (int i = 0; i < 4; i++)
		assert_int_equal(ack.u.fib_ack.status[i], SWP_OK);
	assert_int_equal(ack.u.fib_ack.status[4], SWP_FULL);
	assert_int_equal(ack.u.fib_ack.status[5], SWP_FULL);
	assert_int_equal(ack.u.fib_ack.used, 4);
	assert_int_equal(ack.u.fib_ack.cap, 4);
	assert_int_equal(out.nnl, 4);		/* only accepted entries reach the kernel */
	/* moving an existing entry needs no room; a delete makes room */
	ops[0].port = 7;
	ops[1].kind = SWP_OP_DEL;
	request(s, 11, ops, 6, -1, &ack, ab);
	assert_int_equal(ack.u.fib_ack.status[0], SWP_OK);
	assert_int_equal(ack.u.fib_ack.status[1], SWP_OK);
	assert_int_equal(ack.u.fib_ack.status[2], SWP_OK);
	assert_int_equal(ack.u.fib_ack.status[4], SWP_OK);	/* took the freed slot */
	assert_int_equal(ack.u.fib_ack.status[5], SWP_FULL);
	assert_int_equal(sw_fib_lookup(s, ops[0].mac), 7);
	assert_int_equal(sw_fib_lookup(s, ops[1].mac), -1);
	assert_int_equal(sw_fib_used(s), 4);
	assert_int_equal(sw_stats(s)->ops_refused[SWP_FULL], 3);
	sw_free(s);
}

static void test_bad_ops(void **state)
{
	struct sw *s = mk(10, 2);
	struct swp_op ops[3] = { { SWP_OP_ADD, 5, { 0 } }, { SWP_OP_ADD, 1, { 0 } },
				 { SWP_OP_DEL, 0, { 0 } } };
	uint8_t ab[SWP_MAX_DGRAM];
	struct swp_msg ack;

	(void)state;
	mac_of(1, ops[0].mac);
	memcpy(ops[1].mac, (uint8_t[6]){ 0x01, 0, 0x5e, 0, 0, 1 }, 6);
	mac_of(2, ops[2].mac);
	request(s, 1, ops, 3, -1, &ack, ab);
	assert_int_equal(ack.u.fib_ack.status[0], SWP_NO_PORT);
	assert_int_equal(ack.u.fib_ack.status[1], SWP_BAD_MAC);
	assert_int_equal(ack.u.fib_ack.status[2], SWP_NOT_FOUND);
	assert_int_equal(out.nnl, 0);
	/* a vanished port takes its entries with it, and no new ones */
	ops[0].port = 1;
	mac_of(1, ops[0].mac);
	request(s, 2, ops, 1, -1, &ack, ab);
	assert_int_equal(ack.u.fib_ack.status[0], SWP_OK);
	assert_int_equal(sw_fib_used(s), 1);
	sw_out_reset(&out);
	sw_port(s, 1, false, false, 0, &out);
	assert_int_equal(sw_fib_used(s), 0);
	assert_int_equal(sw_fib_lookup(s, ops[0].mac), -1);
	assert_int_equal(sw_stats(s)->entries_lost, 1);
	request(s, 3, ops, 1, -1, &ack, ab);
	assert_int_equal(ack.u.fib_ack.status[0], SWP_NO_PORT);
	sw_free(s);
}

static void test_retransmit_and_replay(void **state)
{
	struct sw *s = mk(10, 4);
	struct swp_op op = { SWP_OP_ADD, 1, { 0 } };
	uint8_t ab[SWP_MAX_DGRAM], buf[SWP_MAX_DGRAM];
	struct swp_hdr h = { .sender = 1, .seq = 50 };
	struct swp_msg ack;
	size_t len;

	(void)state;
	mac_of(9, op.mac);
	request(s, 50, &op, 1, -1, &ack, ab);
	/* the same request again (its ack was lost): same ack, nothing applied */
	len = swp_enc_fib_ops(buf, sizeof(buf), &h, &op, 1, &key);
	sw_out_reset(&out);
	sw_input(s, ctl, buf, len, 0, &out);
	assert_false(out.pending);
	assert_int_equal(out.nnl, 0);
	assert_int_equal(out.ndg, 1);
	assert_memory_equal(out.dg[0].buf, ab, out.dg[0].len);
	assert_int_equal(sw_stats(s)->duplicates, 1);
	/* an older one is a replay */
	h.seq = 49;
	len = swp_enc_fib_ops(buf, sizeof(buf), &h, &op, 1, &key);
	sw_out_reset(&out);
	sw_input(s, ctl, buf, len, 0, &out);
	assert_int_equal(out.ndg, 0);
	assert_int_equal(sw_stats(s)->drops[SW_DROP_REPLAY], 1);
	/* a wrong key is dropped and counted */
	{
		struct auth_key k2 = { { 1 } };

		h.seq = 60;
		len = swp_enc_fib_ops(buf, sizeof(buf), &h, &op, 1, &k2);
		sw_out_reset(&out);
		sw_input(s, ctl, buf, len, 0, &out);
		assert_int_equal(out.ndg, 0);
		assert_int_equal(sw_stats(s)->drops[SW_DROP_DECODE + SWP_E_AUTH], 1);
	}
	sw_free(s);
}

/* Fencing (docs/ha.md): two RAS processes share the RAS sender id and
 * number requests term << SW_TERM_SHIFT | n.  Once the new leader (a higher
 * term) has programmed the switch, the old leader's requests are refused and
 * counted as fenced, and link reports go to the new leader's address. */
static void fib_ops_from(struct sw *s, struct sw_addr from, uint64_t seq, uint32_t i)
{
	uint8_t buf[SWP_MAX_DGRAM];
	struct swp_hdr h = { .sender = 0xfffffe00u, .seq = seq };
	struct swp_op op = { SWP_OP_ADD, 1, { 0 } };
	size_t len;

	mac_of(i, op.mac);
	len = swp_enc_fib_ops(buf, sizeof(buf), &h, &op, 1, &key);
	sw_out_reset(&out);
	sw_input(s, from, buf, len, 0, &out);
	for (int k = 0; k < out.nnl; k++)
		out.nl[k].err = 0;
	if (out.pending)
		sw_commit(s, &out);
}

static void test_fencing(void **state)
{
	struct sw_config c = { .id = 5, .fib_cap = 10, .has_ras = true, .ras = ras,
			       .seq_base = 1000, .key = key, .ras_follows_leader = true,
			       .ras_id = 0xfffffe00u };
	const struct sw_addr old = { 0xac1f0002, 7500 }, new = { 0xac1f0003, 7500 };
	struct sw *s = sw_new(&c);

	(void)state;
	sw_out_reset(&out);
	for (uint16_t p = 0; p < 4; p++)
		sw_port(s, p, true, true, 0, &out);
	fib_ops_from(s, old, 7ull << SW_TERM_SHIFT | 5, 1);
	assert_int_equal(out.ndg, 1);
	assert_int_equal(sw_fib_used(s), 1);
	assert_int_equal(sw_stats(s)->leader_changes, 1);
	fib_ops_from(s, new, 9ull << SW_TERM_SHIFT | 1, 2);	/* the new leader */
	assert_int_equal(sw_fib_used(s), 2);
	assert_int_equal(sw_stats(s)->leader_changes, 2);
	/* the old leader, however far its counter went: refused, no ACK */
	fib_ops_from(s, old, 7ull << SW_TERM_SHIFT | 999999, 3);
	assert_int_equal(out.ndg, 0);
	assert_int_equal(sw_fib_used(s), 2);
	assert_int_equal(sw_stats(s)->fenced, 1);
	/* a link report goes to the new leader */
	sw_out_reset(&out);
	sw_port(s, 2, true, false, 1000, &out);
	assert_int_equal(out.ndg, 1);
	assert_int_equal(out.dg[0].to.ip, new.ip);
	/* an older request of the same term is a replay, not fenced */
	fib_ops_from(s, new, 9ull << SW_TERM_SHIFT | 0, 4);
	assert_int_equal(sw_stats(s)->fenced, 1);
	assert_int_equal(sw_stats(s)->drops[SW_DROP_REPLAY], 2);
	sw_free(s);
}

static void add_ports(struct sw *s)
{
	sw_out_reset(&out);
	for (uint16_t p = 0; p < 4; p++)
		sw_port(s, p, true, true, 0, &out);
}

/* A restarted switchd (docs/ha.md): the peers' last requests are gone with
 * the process, the highest RAS term is not (the shell keeps save_term in
 * --term-file and starts the next core with it as sw_config.ras_term).
 * The deposed leader is refused after the restart as before it. */
static void test_fencing_after_restart(void **state)
{
	struct sw_config c = { .id = 5, .fib_cap = 10, .has_ras = true, .ras = ras,
			       .seq_base = 1000, .key = key, .ras_follows_leader = true,
			       .ras_id = 0xfffffe00u };
	const struct sw_addr old = { 0xac1f0002, 7500 }, new = { 0xac1f0003, 7500 };
	struct sw *s = sw_new(&c);
	uint64_t kept;

	(void)state;
	add_ports(s);
	fib_ops_from(s, old, 7ull << SW_TERM_SHIFT | 5, 1);
	assert_int_equal(out.save_term, 7);		/* a new term: to be kept */
	fib_ops_from(s, old, 7ull << SW_TERM_SHIFT | 6, 2);
	assert_int_equal(out.save_term, 0);		/* the same term: nothing new */
	fib_ops_from(s, new, 9ull << SW_TERM_SHIFT | 1, 3);
	assert_int_equal(out.save_term, 9);
	assert_int_equal(out.ndg, 1);			/* acknowledged */
	kept = sw_ras_term(s);
	assert_int_equal(kept, 9);
	sw_free(s);

	/* restarted with the term kept: the old leader is fenced */
	c.ras_term = kept;
	s = sw_new(&c);
	add_ports(s);
	fib_ops_from(s, old, 7ull << SW_TERM_SHIFT | 999999, 4);
	assert_int_equal(out.ndg, 0);
	assert_int_equal(out.save_term, 0);
	assert_int_equal(sw_fib_used(s), 0);
	assert_int_equal(sw_stats(s)->fenced, 1);
	assert_int_equal(sw_stats(s)->drops[SW_DROP_REPLAY], 1);
	/* the current leader goes on, from any request number of its term */
	fib_ops_from(s, new, 9ull << SW_TERM_SHIFT | 2, 5);
	assert_int_equal(out.ndg, 1);
	assert_int_equal(sw_fib_used(s), 1);
	assert_int_equal(out.save_term, 0);
	sw_free(s);

	/* restarted knowing no term (what happened before --term-file): the
	 * deposed leader's programming was taken */
	c.ras_term = 0;
	s = sw_new(&c);
	add_ports(s);
	fib_ops_from(s, old, 7ull << SW_TERM_SHIFT | 999999, 6);
	assert_int_equal(out.ndg, 1);
	assert_int_equal(sw_stats(s)->fenced, 0);
	sw_free(s);
}

/* Not the RAS's sender id: the term does not apply (swctl, tests). */
static void test_term_only_for_ras(void **state)
{
	struct sw_config c = { .id = 5, .fib_cap = 10, .seq_base = 1000, .key = key,
			       .ras_id = 0xfffffe00u, .ras_term = 1000 };
	struct sw *s = sw_new(&c);
	struct swp_op op = { SWP_OP_ADD, 1, { 0 } };
	uint8_t ab[SWP_MAX_DGRAM];
	struct swp_msg ack;

	(void)state;
	add_ports(s);
	mac_of(1, op.mac);
	request(s, 1, &op, 1, -1, &ack, ab);
	assert_int_equal(ack.u.fib_ack.status[0], SWP_OK);
	assert_int_equal(sw_stats(s)->fenced, 0);
	assert_int_equal(sw_ras_term(s), 1000);
	sw_free(s);
}

static void test_kernel_refusal(void **state)
{
	struct sw *s = mk(10, 4);
	struct swp_op ops[3];
	uint8_t ab[SWP_MAX_DGRAM];
	struct swp_msg ack;

	(void)state;
	ops[0] = (struct swp_op){ SWP_OP_ADD, 1, { 0 } };
	mac_of(1, ops[0].mac);
	request(s, 1, ops, 1, -1, &ack, ab);
	/* move it to port 2 (refused), then add another (ok) */
	ops[0].port = 2;
	ops[1] = (struct swp_op){ SWP_OP_ADD, 3, { 0 } };
	mac_of(2, ops[1].mac);
	request(s, 2, ops, 2, 0, &ack, ab);
	assert_int_equal(ack.u.fib_ack.status[0], SWP_KERNEL);
	assert_int_equal(ack.u.fib_ack.status[1], SWP_OK);
	assert_int_equal(sw_fib_lookup(s, ops[0].mac), 1);	/* as the kernel has it */
	/* add then delete the same MAC, the add refused: it stays absent and
	 * the delete (which the kernel "did") leaves nothing */
	ops[0] = (struct swp_op){ SWP_OP_ADD, 1, { 0 } };
	mac_of(3, ops[0].mac);
	ops[1] = (struct swp_op){ SWP_OP_DEL, 0, { 0 } };
	mac_of(3, ops[1].mac);
	request(s, 3, ops, 2, 0, &ack, ab);
	assert_int_equal(ack.u.fib_ack.status[0], SWP_KERNEL);
	assert_int_equal(sw_fib_lookup(s, ops[0].mac), -1);
	assert_int_equal(sw_fib_used(s), 2);
	sw_free(s);
}

static void test_link_reports(void **state)
{
	struct sw *s = mk(10, 4);
	uint8_t ackb[128];
	struct swp_hdr h = { .sender = 0, .seq = 1 };
	struct swp_msg m;
	uint64_t seq;
	size_t len;

	(void)state;
	sw_out_reset(&out);
	sw_port(s, 2, true, false, 1000, &out);	/* carrier lost */
	assert_int_equal(out.ndg, 1);
	assert_int_equal(out.dg[0].to.ip, ras.ip);
	assert_int_equal(swp_decode(out.dg[0].buf, out.dg[0].len, &key, &m), 0);
	assert_int_equal(m.h.type, SWP_LINK);
	assert_int_equal(m.h.sender, 5);
	assert_int_equal(m.u.link.port, 2);
	assert_int_equal(m.u.link.state, SWP_PORT_DOWN);
	assert_true(m.u.link.at_ns == 1000);
	seq = m.h.seq;
	assert_int_equal(sw_port_state(s, 2), 0);
	/* the same state again is no news */
	sw_out_reset(&out);
	sw_port(s, 2, true, false, 2000, &out);
	assert_int_equal(out.ndg, 0);
	/* not acknowledged: resent after the retry interval, not before */
	sw_out_reset(&out);
	sw_tick(s, 1000 + SW_LINK_RETRY_NS - 1, &out);
	assert_int_equal(out.ndg, 0);
	sw_tick(s, 1000 + SW_LINK_RETRY_NS, &out);
	assert_int_equal(out.ndg, 1);
	/* acknowledged: no more */
	len = swp_enc_link_ack(ackb, sizeof(ackb), &h, seq, &key);
	sw_out_reset(&out);
	sw_input(s, ras, ackb, len, 0, &out);
	assert_int_equal(sw_pending_links(s), 0);
	sw_tick(s, 10 * SW_LINK_RETRY_NS, &out);
	assert_int_equal(out.ndg, 0);
	/* never acknowledged (a RAS that cannot hear): SW_LINK_RETRIES fast
	 * sends, then one every SW_LINK_SLOW_RETRY_NS, for as long as it
	 * takes; never given up */
	sw_port(s, 3, false, false, 0, &out);	/* vanished: reported down */
	assert_int_equal(out.ndg, 1);
	for (int i = 1; i <= SW_LINK_RETRIES + 2; i++) {
		sw_out_reset(&out);
		sw_tick(s, (uint64_t)i * SW_LINK_RETRY_NS, &out);
	}
	assert_int_equal(sw_pending_links(s), 1);
	assert_int_equal(sw_stats(s)->link_retransmits, 1 + SW_LINK_RETRIES - 1);
	{
		uint64_t t = (uint64_t)(SW_LINK_RETRIES + 2) * SW_LINK_RETRY_NS, n0;

		n0 = sw_stats(s)->link_retransmits;
		for (int i = 1; i <= 600; i++) {	/* ten minutes, a tick a second */
			sw_out_reset(&out);
			sw_tick(s, t + (uint64_t)i * SW_LINK_SLOW_RETRY_NS, &out);
		}
		assert_int_equal(sw_pending_links(s), 1);
		assert_int_equal(sw_stats(s)->link_retransmits - n0, 600);
	}
	assert_int_equal(sw_stats(s)->link_given_up, 0);
	sw_free(s);
}

/* Uplink tracking: the switch's ports 0 and 1 lead to other switches, 2-4
 * to servers. */
#define DELAY_NS (1000ull * 1000 * 1000)

static struct sw *mk_tracking(bool up0)
{
	struct sw_config c = { .id = 5, .fib_cap = 10, .has_ras = true, .ras = ras,
			       .seq_base = 1000, .key = key, .uplink_delay_ns = DELAY_NS };
	struct sw *s = sw_new(&c);

	sw_out_reset(&out);
	for (uint16_t p = 0; p < 5; p++)
		sw_port(s, p, true, p || up0, 0, &out);
	sw_uplink(s, 0);
	sw_uplink(s, 1);
	return s;
}

/* o->admin holds exactly ports 2, 3, 4 going `up`. */
static void expect_servers(bool up)
{
	assert_int_equal(out.nadmin, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(out.admin[i].port, 2 + i);
		assert_int_equal(out.admin[i].up, up);
	}
}

static void test_uplink_tracking(void **state)
{
	struct sw *s = mk_tracking(true);

	(void)state;
	sw_start(s, 0, &out);
	assert_int_equal(out.nadmin, 0);
	/* one uplink down: still connected */
	sw_port(s, 0, true, false, 10, &out);
	assert_int_equal(out.nadmin, 0);
	assert_false(sw_isolated(s));
	/* the last one: the server ports go down, and the link is reported */
	sw_out_reset(&out);
	sw_port(s, 1, true, false, 20, &out);
	assert_true(sw_isolated(s));
	expect_servers(false);
	assert_int_equal(out.ndg, 1);
	sw_admin_done(s, &out);
	/* the kernel tells of the ports going down: nothing more to do */
	sw_out_reset(&out);
	for (uint16_t p = 2; p < 5; p++)
		sw_port(s, p, true, false, 30, &out);
	assert_int_equal(out.nadmin, 0);
	assert_int_equal(out.ndg, 3);
	/* an uplink comes back: the servers wait for the delay */
	sw_out_reset(&out);
	sw_port(s, 1, true, true, 100, &out);
	assert_int_equal(out.nadmin, 0);
	assert_true(sw_tick(s, 100, &out) <= 100 + DELAY_NS);
	sw_out_reset(&out);
	sw_tick(s, 100 + DELAY_NS - 1, &out);
	assert_int_equal(out.nadmin, 0);
	/* it flaps: the wait starts again from its last coming up */
	sw_port(s, 1, true, false, 200, &out);
	sw_port(s, 1, true, true, 300, &out);
	sw_out_reset(&out);
	sw_tick(s, 100 + DELAY_NS, &out);
	assert_int_equal(out.nadmin, 0);
	assert_true(sw_isolated(s));
	sw_out_reset(&out);
	sw_tick(s, 300 + DELAY_NS, &out);
	expect_servers(true);
	assert_false(sw_isolated(s));
	sw_admin_done(s, &out);
	assert_int_equal(sw_stats(s)->isolations, 1);
	assert_int_equal(sw_stats(s)->restores, 1);
	assert_int_equal(sw_stats(s)->ports_shut, 3);
	assert_int_equal(sw_stats(s)->ports_raised, 3);
	/* nothing left to raise at shutdown */
	sw_out_reset(&out);
	assert_true(sw_release(s, &out));
	assert_int_equal(out.nadmin, 0);
	sw_free(s);
}

/* A switchd that crashed while cut off left server ports 2 and 3 down (4
 * came up since): its successor, started with both uplinks up, raises them
 * after the delay (and not before), leaves port 4 alone all along, and
 * ignores the call for an uplink or once started. */
static void test_uplink_shut_found(void **state)
{
	struct sw_config c = { .id = 5, .fib_cap = 10, .has_ras = true, .ras = ras,
			       .seq_base = 1000, .key = key, .uplink_delay_ns = DELAY_NS };
	struct sw *s = sw_new(&c);

	(void)state;
	sw_out_reset(&out);
	sw_uplink(s, 0);
	sw_uplink(s, 1);
	for (uint16_t p = 0; p < 5; p++) {
		sw_port(s, p, true, p < 2 || p == 4, 0, &out);
		if (p == 2 || p == 3)
			sw_port_shut_found(s, p);
	}
	sw_port_shut_found(s, 0);	/* an uplink: not ours to raise */
	assert_int_equal(sw_stats(s)->shut_found, 2);
	sw_out_reset(&out);
	sw_start(s, 0, &out);
	assert_int_equal(out.nadmin, 0);	/* port 4 stays up */
	assert_false(sw_isolated(s));
	assert_true(sw_tick(s, 0, &out) <= DELAY_NS);
	sw_out_reset(&out);
	sw_tick(s, DELAY_NS - 1, &out);
	assert_int_equal(out.nadmin, 0);
	sw_out_reset(&out);
	sw_tick(s, DELAY_NS, &out);
	assert_int_equal(out.nadmin, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(out.admin[i].port, 2 + i);
		assert_true(out.admin[i].up);
	}
	sw_admin_done(s, &out);
	assert_int_equal(sw_stats(s)->ports_raised, 2);
	assert_int_equal(sw_stats(s)->ports_shut, 0);
	assert_false(sw_isolated(s));
	/* after the start: ignored */
	sw_port_shut_found(s, 3);
	assert_int_equal(sw_stats(s)->shut_found, 2);
	sw_out_reset(&out);
	assert_true(sw_release(s, &out));
	assert_int_equal(out.nadmin, 0);
	sw_free(s);
}

static void test_uplink_start_cut_off(void **state)
{
	struct sw *s = mk_tracking(false);

	(void)state;
	sw_port(s, 1, true, false, 0, &out);	/* first sighting: down */
	sw_out_reset(&out);
	sw_start(s, 0, &out);
	assert_true(sw_isolated(s));
	expect_servers(false);
	/* the kernel refused port 3: the core does not raise it later */
	out.admin[1].err = -EPERM;
	sw_admin_done(s, &out);
	assert_int_equal(sw_stats(s)->admin_errors, 1);
	/* stopping: every port taken down comes back */
	sw_out_reset(&out);
	assert_true(sw_release(s, &out));
	assert_int_equal(out.nadmin, 2);
	assert_int_equal(out.admin[0].port, 2);
	assert_int_equal(out.admin[1].port, 4);
	assert_true(out.admin[0].up && out.admin[1].up);
	sw_free(s);
}

static void test_no_uplinks_no_tracking(void **state)
{
	struct sw *s = mk(10, 4);

	(void)state;
	sw_start(s, 0, &out);
	for (uint16_t p = 0; p < 4; p++)
		sw_port(s, p, true, false, 10, &out);
	assert_int_equal(out.nadmin, 0);
	assert_false(sw_isolated(s));
	sw_free(s);
}

static void test_dump_pages(void **state)
{
	enum { N = 2500 };
	struct sw *s = mk(N, 16);
	uint8_t buf[64], seen[N] = { 0 };
	struct swp_hdr h = { .sender = 1, .seq = 5 };
	uint64_t last = 0, sum = 0;
	uint32_t off = 0, total = 0;

	(void)state;
	for (uint32_t i = 0; i < N; i++) {
		uint8_t mac[6];

		mac_of(i * 7919 % N + 1, mac);
		sw_adopt(s, mac, (uint16_t)(i % 16));
	}
	for (;;) {
		struct swp_msg m;
		size_t len = swp_enc_dump_req(buf, sizeof(buf), &h, SWP_WHAT_FIB, off, &key);

		sw_out_reset(&out);
		sw_input(s, ctl, buf, len, 0, &out);
		assert_int_equal(out.ndg, 1);
		assert_int_equal(swp_decode(out.dg[0].buf, out.dg[0].len, &key, &m), 0);
		assert_int_equal(m.u.dump_fib.used, N);
		if (m.u.dump_fib.n == 0)
			break;
		for (uint16_t i = 0; i < m.u.dump_fib.n; i++) {
			struct swp_fib_entry e;
			uint64_t v;

			swp_fib_entry_at(&m, i, &e);
			v = wire_get48(e.mac);
			assert_true(v > last);	/* sorted, no repeats across pages */
			last = v;
			seen[(v & 0xffffff) - 1]++;
			assert_int_equal(sw_fib_lookup(s, e.mac), e.port);
			sum += swp_entry_hash(e.mac, e.port);
		}
		assert_true(m.u.dump_fib.sum == sw_fib_sum(s));
		off += m.u.dump_fib.n;
		total += m.u.dump_fib.n;
	}
	assert_int_equal(total, N);
	assert_true(sum == sw_fib_sum(s));	/* the pages add up to the sum */
	for (int i = 0; i < N; i++)
		assert_int_equal(seen[i], 1);
	sw_free(s);
}

/* Random requests against a plain array: same statuses, same table. */
/* ---- the witness's notice to the directory (switchd/notice.h) ---------- */
static const struct sw_addr dir_a = { 0xac1f0010, 7300 }, dir_b = { 0xac1f0011, 7300 };

static struct sw *mk_notice(uint32_t ndirs, uint16_t nports)
{
	struct sw_config c = { .id = 5, .fib_cap = 1000, .has_ras = true, .ras = ras,
			       .seq_base = 1000, .key = key, .ndirs = ndirs,
			       .dirs = { dir_a, dir_b }, .wall_offset_ms = 1700000000000 };
	struct sw *s = sw_new(&c);

	sw_out_reset(&out);
	for (uint16_t p = 0; p < nports; p++)
		sw_port(s, p, true, true, 0, &out);
	return s;
}

/* The datagrams in `out` to `to` that are SET_AVAIL requests: their MACs
 * (as mac_of numbers) or'ed into a bitmap; returns how many datagrams. */
static int notices_to(struct sw_addr to, uint64_t req_id[8], uint8_t *seen, uint32_t nseen)
{
	int k = 0;

	for (int i = 0; i < out.ndg; i++) {
		struct dirp_msg m;

		if (out.dg[i].to.ip != to.ip || out.dg[i].to.port != to.port)
			continue;
		assert_int_equal(dirp_decode(out.dg[i].buf, out.dg[i].len, &key, &m), 0);
		assert_int_equal(m.h.type, DIRP_SET_AVAIL);
		assert_true(m.h.time_ms >= 1700000000000ull);
		if (k < 8)
			req_id[k] = m.h.req_id;
		k++;
		for (unsigned r = 0; r < m.h.count; r++) {
			struct dirp_avail a;
			uint64_t v;

			dirp_get_avail(&m, r, &a);
			assert_int_equal(a.scope, DIRP_SCOPE_INTERMEDIARY);
			assert_int_equal(a.avail, 0);
			v = wire_get48(a.mac) & 0xffffff;
			assert_true(v < nseen);
			seen[v]++;
		}
	}
	return k;
}

/* The directory's answer to request req_id. */
static void dir_reply(struct sw *s, struct sw_addr from, uint64_t req_id)
{
	struct dirp_hdr h = { .type = DIRP_SET_AVAIL | DIRP_REPLY_BIT, .session = 9, .seq = 1,
			      .time_ms = 1700000000000, .req_id = req_id };
	uint8_t buf[DIRP_MAX_DGRAM];
	struct dirp_writer w;
	size_t len;

	dirp_begin(&w, buf, sizeof(buf), &h);
	len = dirp_finish(&w, &key);
	sw_out_reset(&out);
	sw_input(s, from, buf, len, 0, &out);
}

static void add_on_port(struct sw *s, uint32_t first, uint32_t n, uint16_t port)
{
	for (uint32_t i = first; i < first + n; i++) {
		uint8_t mac[6];

		mac_of(i, mac);
		sw_adopt(s, mac, port);
	}
}

static void test_notice(void **state)
{
	struct sw *s = mk_notice(2, 4);
	uint8_t seen_a[300] = { 0 }, seen_b[300] = { 0 }, ackb[128];
	struct swp_hdr h = { .sender = 0, .seq = 1 };
	uint64_t ra[8], rb[8], t = 1000;
	struct swp_msg m;
	size_t len;

	(void)state;
	add_on_port(s, 0, 200, 1);	/* 200 MACs out of port 1 */
	add_on_port(s, 200, 10, 2);
	/* port 1 down: the link report and, to each server, the 200 MACs in
	 * seven notices (29 per datagram); nothing of port 2 */
	sw_out_reset(&out);
	sw_port(s, 1, true, false, t, &out);
	assert_int_equal(out.ndg, 15);
	assert_int_equal(out.dg[0].to.ip, ras.ip);
	assert_int_equal(notices_to(dir_a, ra, seen_a, 300), 7);
	assert_int_equal(notices_to(dir_b, rb, seen_b, 300), 7);
	for (int i = 0; i < 300; i++) {
		assert_int_equal(seen_a[i], i < 200);
		assert_int_equal(seen_b[i], i < 200);
	}
	assert_int_equal(sw_stats(s)->notices, 7);
	assert_int_equal(sw_stats(s)->notice_macs, 200);
	/* server A answers all, B all but the last: the last goes again to
	 * B alone, after the retry interval and not before */
	for (int i = 0; i < 7; i++)
		dir_reply(s, dir_a, ra[i]);
	for (int i = 0; i < 6; i++)
		dir_reply(s, dir_b, rb[i]);
	assert_int_equal(sw_stats(s)->notice_replies, 13);
	sw_out_reset(&out);
	sw_tick(s, t + SW_NOTICE_RETRY_NS - 1, &out);
	assert_int_equal(out.ndg, 0);
	sw_out_reset(&out);
	sw_tick(s, t + SW_NOTICE_RETRY_NS, &out);
	assert_int_equal(out.ndg, 2);	/* the link report and one notice */
	memset(seen_b, 0, sizeof(seen_b));
	assert_int_equal(notices_to(dir_a, ra, seen_a, 300), 0);
	assert_int_equal(notices_to(dir_b, rb, seen_b, 300), 1);
	/* the last notice's 26 MACs (200 - 6 x 29), each once */
	for (int i = 0, n = 0; i < 300; i++) {
		assert_true(seen_b[i] <= (i < 200));
		n += seen_b[i];
		if (i == 299)
			assert_int_equal(n, 26);
	}
	/* never answered: SW_NOTICE_TRIES transmissions in all, then quiet */
	for (int i = 2; i <= SW_NOTICE_TRIES + 2; i++) {
		sw_out_reset(&out);
		sw_tick(s, t + (uint64_t)i * SW_NOTICE_RETRY_NS, &out);
	}
	assert_int_equal(sw_stats(s)->notice_retransmits, SW_NOTICE_TRIES - 1);
	assert_int_equal(sw_stats(s)->notice_unanswered, 1);
	sw_out_reset(&out);
	sw_tick(s, t + 100 * SW_NOTICE_RETRY_NS, &out);
	assert_int_equal(notices_to(dir_b, rb, seen_b, 300), 0);
	/* a late answer is counted, not taken for anything */
	dir_reply(s, dir_b, rb[0]);
	assert_int_equal(sw_stats(s)->notice_late_replies, 1);
	assert_int_equal(out.ndg, 0);
	/* port 2 down, then the RAS acknowledges the report: the RAS owns
	 * the availability now, no notice goes again */
	sw_out_reset(&out);
	t = 200 * SW_NOTICE_RETRY_NS;
	sw_port(s, 2, true, false, t, &out);
	assert_int_equal(swp_decode(out.dg[0].buf, out.dg[0].len, &key, &m), 0);
	assert_int_equal(m.h.type, SWP_LINK);
	len = swp_enc_link_ack(ackb, sizeof(ackb), &h, m.h.seq, &key);
	sw_out_reset(&out);
	sw_input(s, ras, ackb, len, t, &out);
	assert_int_equal(sw_stats(s)->notice_ras_acked, 1);
	sw_out_reset(&out);
	sw_tick(s, t + 5 * SW_NOTICE_RETRY_NS, &out);
	assert_int_equal(notices_to(dir_a, ra, seen_a, 300) + notices_to(dir_b, rb, seen_b, 300), 0);
	/* port 0 (no entries) down tells no one but the RAS; port 1 up sends
	 * nothing to the directory (availability comes back from the RAS) */
	sw_out_reset(&out);
	sw_port(s, 0, true, false, t, &out);
	sw_port(s, 1, true, true, t, &out);
	assert_int_equal(out.ndg, 2);
	assert_int_equal(notices_to(dir_a, ra, seen_a, 300) + notices_to(dir_b, rb, seen_b, 300), 0);
	/* bad input from a server's address is counted and dropped */
	sw_out_reset(&out);
	sw_input(s, dir_a, ackb, len, t, &out);
	assert_int_equal(sw_stats(s)->notice_bad_replies, 1);
	assert_int_equal(out.ndg, 0);
	sw_free(s);
}

static void test_notice_port_up_stops(void **state)
{
	struct sw *s = mk_notice(1, 2);
	uint8_t seen[20] = { 0 };
	uint64_t r[8];

	(void)state;
	add_on_port(s, 0, 3, 1);
	sw_out_reset(&out);
	sw_port(s, 1, true, false, 1000, &out);
	assert_int_equal(notices_to(dir_a, r, seen, 20), 1);
	sw_out_reset(&out);
	sw_port(s, 1, true, true, 2000, &out);	/* back before any answer */
	sw_out_reset(&out);
	sw_tick(s, 1000 + 3 * SW_NOTICE_RETRY_NS, &out);
	assert_int_equal(notices_to(dir_a, r, seen, 20), 0);
	sw_free(s);
}

static void test_no_dirs_no_notice(void **state)
{
	struct sw *s = mk(10, 2);
	uint8_t mac[6];

	(void)state;
	mac_of(1, mac);
	sw_adopt(s, mac, 1);
	sw_out_reset(&out);
	sw_port(s, 1, true, false, 1000, &out);
	assert_int_equal(out.ndg, 1);	/* the link report alone */
	assert_int_equal(sw_stats(s)->notices, 0);
	sw_free(s);
}

static void test_vs_naive(void **state)
{
	enum { MACS = 64, PORTS = 6, CAP = 20, ROUNDS = 3000 };
	int model[MACS];	/* port or -1 */
	bool port_up[PORTS + 2];
	struct sw *s = mk(CAP, PORTS);
	uint8_t ab[SWP_MAX_DGRAM];
	struct rng r;
	uint64_t seq = 1;

	(void)state;
	rng_seed(&r, 99);
	for (int i = 0; i < MACS; i++)
		model[i] = -1;
	for (int p = 0; p < PORTS + 2; p++)
		port_up[p] = p < PORTS;
	for (int round = 0; round < ROUNDS; round++) {
		struct swp_op ops[8];
		uint8_t want[8];
		uint16_t n = (uint16_t)(1 + rng_below(&r, 8));
		int used = 0;
		struct swp_msg ack;

		for (int i = 0; i < MACS; i++)
			used += model[i] >= 0;
		for (uint16_t i = 0; i < n; i++) {
			uint32_t mi = rng_below(&r, MACS);
			uint16_t port = (uint16_t)rng_below(&r, PORTS + 2);

			ops[i] = (struct swp_op){ .kind = rng_below(&r, 3) ? SWP_OP_ADD : SWP_OP_DEL,
						  .port = port };
			mac_of(mi + 1, ops[i].mac);
			if (ops[i].kind == SWP_OP_DEL) {
				want[i] = model[mi] >= 0 ? SWP_OK : SWP_NOT_FOUND;
				if (model[mi] >= 0)
					used--;
				model[mi] = -1;
			} else if (!port_up[port]) {
				want[i] = SWP_NO_PORT;
			} else if (model[mi] < 0 && used >= CAP) {
				want[i] = SWP_FULL;
			} else {
				want[i] = SWP_OK;
				used += model[mi] < 0;
				model[mi] = port;
			}
		}
		uint64_t sum = 0;

		request(s, seq++, ops, n, -1, &ack, ab);
		assert_memory_equal(ack.u.fib_ack.status, want, n);
		for (int i = 0; i < MACS; i++) {
			uint8_t mac[6];

			mac_of((uint32_t)i + 1, mac);
			assert_int_equal(sw_fib_lookup(s, mac), model[i]);
			if (model[i] >= 0)
				sum += swp_entry_hash(mac, (uint16_t)model[i]);
		}
		/* the ACK's table sum is the model's */
		assert_true(ack.u.fib_ack.sum == sum);
		assert_true(sw_fib_sum(s) == sum);
	}
	sw_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_bad_ops),
		cmocka_unit_test(test_retransmit_and_replay),
		cmocka_unit_test(test_fencing),
		cmocka_unit_test(test_fencing_after_restart),
		cmocka_unit_test(test_term_only_for_ras),
		cmocka_unit_test(test_kernel_refusal),
		cmocka_unit_test(test_link_reports),
		cmocka_unit_test(test_uplink_tracking),
		cmocka_unit_test(test_uplink_start_cut_off),
		cmocka_unit_test(test_uplink_shut_found),
		cmocka_unit_test(test_no_uplinks_no_tracking),
		cmocka_unit_test(test_dump_pages),
		cmocka_unit_test(test_vs_naive),
		cmocka_unit_test(test_notice),
		cmocka_unit_test(test_notice_port_up_stops),
		cmocka_unit_test(test_no_dirs_no_notice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
