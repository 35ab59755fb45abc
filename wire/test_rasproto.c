/* The RAS protocol: round trips, every refusal reason, replay window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lib/rng.h"
#include "wire/rasproto.h"

static struct auth_key key = { { 1, 2, 3 } };

static void test_traffic_round_trip(void **state)
{
	static struct rasp_flow flows[RASP_MAX_FLOWS];
	static uint8_t buf[RASP_MAX_DGRAM];
	struct rasp_hdr h = { .sender = 7, .seq = 123456789012ull, .time_ns = 42 };
	struct rasp_msg m;
	struct rng r;
	size_t len;

	(void)state;
	rng_seed(&r, 3);
	for (int i = 0; i < RASP_MAX_FLOWS; i++)
		flows[i] = (struct rasp_flow){ rng_below(&r, RASP_ID_MAX + 1),
					       rng_below(&r, RASP_ID_MAX + 1),
					       rng_next(&r), rng_next(&r),
					       rng_below(&r, RASP_ID_MAX + 1) };
	len = rasp_enc_traffic(buf, sizeof(buf), &h, 1000, 2, 3, flows, RASP_MAX_FLOWS, &key);
	assert_true(len > 0 && len <= RASP_MAX_DGRAM);
	assert_int_equal(rasp_decode(buf, len, &key, &m), 0);
	assert_int_equal(m.h.type, RASP_TRAFFIC);
	assert_int_equal(m.h.sender, 7);
	assert_int_equal(m.h.seq, 123456789012ull);
	assert_int_equal(m.h.time_ns, 42);
	assert_int_equal(m.u.traffic.interval_ms, 1000);
	assert_int_equal(m.u.traffic.part, 2);
	assert_int_equal(m.u.traffic.parts, 3);
	assert_int_equal(m.u.traffic.n, RASP_MAX_FLOWS);
	for (uint16_t i = 0; i < m.u.traffic.n; i++) {
		struct rasp_flow f;

		rasp_flow_at(&m, i, &f);
		assert_int_equal(f.src_id, flows[i].src_id);
		assert_int_equal(f.dst_id, flows[i].dst_id);
		assert_int_equal(f.bytes, flows[i].bytes);
		assert_int_equal(f.packets, flows[i].packets);
		assert_int_equal(f.dst_server, flows[i].dst_server);
	}
	/* A destination server above 24 bits is not encoded, nor decoded. */
	flows[0].dst_server = RASP_ID_MAX + 1;
	assert_int_equal(rasp_enc_traffic(buf, sizeof(buf), &h, 1, 0, 1, flows, 1, &key), 0);
	flows[0].dst_server = 5;
	len = rasp_enc_traffic(buf, sizeof(buf), &h, 1, 0, 1, flows, 1, &key);
	buf[RASP_HDR_BYTES + RASP_TRAFFIC_FIXED + 24] = 1;	/* server id 0x01000005 */
	auth_tag(&key, buf, len - AUTH_TAG_BYTES, buf + len - AUTH_TAG_BYTES);
	assert_int_equal(rasp_decode(buf, len, &key, &m), -RASP_E_FIELD);
	/* One flow more does not fit. */
	assert_int_equal(rasp_enc_traffic(buf, sizeof(buf), &h, 1, 0, 1, flows,
					  RASP_MAX_FLOWS + 1, &key), 0);
}

static void test_moved_and_ack(void **state)
{
	uint8_t buf[256];
	struct rasp_hdr h = { .sender = 1, .seq = 5 };
	struct rasp_moved mv = { 0x123456, 10, 11 };
	struct rasp_msg m;
	size_t len;

	(void)state;
	len = rasp_enc_moved(buf, sizeof(buf), &h, &mv, &key);
	assert_int_equal(rasp_decode(buf, len, &key, &m), 0);
	assert_int_equal(m.u.moved.vm_id, 0x123456);
	assert_int_equal(m.u.moved.new_server, 11);
	len = rasp_enc_ack(buf, sizeof(buf), &h, 99, &key);
	assert_int_equal(rasp_decode(buf, len, &key, &m), 0);
	assert_int_equal(m.h.type, RASP_ACK);
	assert_int_equal(m.u.ack.acked, 99);
	mv.vm_id = RASP_ID_MAX + 1;
	assert_int_equal(rasp_enc_moved(buf, sizeof(buf), &h, &mv, &key), 0);
	assert_int_equal(rasp_enc_ack(buf, 30, &h, 1, &key), 0);	/* too small */
}

static void test_direct(void **state)
{
	static struct rasp_direct d[RASP_MAX_DIRECT + 1];
	static uint8_t buf[RASP_MAX_DGRAM];
	struct rasp_hdr h = { .sender = 2, .seq = 9 };
	struct rasp_msg m;
	size_t len;

	(void)state;
	for (int i = 0; i <= RASP_MAX_DIRECT; i++)
		d[i] = (struct rasp_direct){ (uint32_t)i * 7, (uint8_t)(i & 1), (uint8_t)(i % 3 == 0) };
	len = rasp_enc_direct(buf, sizeof(buf), &h, d, RASP_MAX_DIRECT, &key);
	assert_true(len > 0 && len <= RASP_MAX_DGRAM);
	assert_int_equal(rasp_decode(buf, len, &key, &m), 0);
	assert_int_equal(m.h.type, RASP_DIRECT);
	assert_int_equal(m.u.direct.n, RASP_MAX_DIRECT);
	for (uint16_t i = 0; i < m.u.direct.n; i++) {
		struct rasp_direct got;

		rasp_direct_at(&m, i, &got);
		assert_int_equal(got.vm_id, d[i].vm_id);
		assert_int_equal(got.tree, d[i].tree);
		assert_int_equal(got.on, d[i].on);
	}
	assert_int_equal(rasp_enc_direct(buf, sizeof(buf), &h, d, RASP_MAX_DIRECT + 1, &key), 0);
	assert_int_equal(rasp_enc_direct(buf, sizeof(buf), &h, d, 0, &key), 0);
	d[0].tree = 2;
	assert_int_equal(rasp_enc_direct(buf, sizeof(buf), &h, d, 1, &key), 0);
}

static void test_refusals(void **state)
{
	uint8_t buf[256], bad[256];
	struct rasp_hdr h = { .sender = 1, .seq = 5 };
	struct auth_key other = { { 9 } };
	struct rasp_flow f = { 1, 2, 3, 4, 5 };
	struct rasp_msg m;
	size_t len = rasp_enc_traffic(buf, sizeof(buf), &h, 10, 0, 1, &f, 1, &key);

	(void)state;
	assert_int_equal(rasp_decode(buf, 10, &key, &m), -RASP_E_SHORT);
	memcpy(bad, buf, len);
	bad[0] ^= 1;
	assert_int_equal(rasp_decode(bad, len, &key, &m), -RASP_E_MAGIC);
	memcpy(bad, buf, len);
	bad[2] = 9;
	assert_int_equal(rasp_decode(bad, len, &key, &m), -RASP_E_VERSION);
	memcpy(bad, buf, len);
	bad[3] = 77;
	assert_int_equal(rasp_decode(bad, len, &key, &m), -RASP_E_TYPE);
	assert_int_equal(rasp_decode(buf, len, &other, &m), -RASP_E_AUTH);
	memcpy(bad, buf, len);
	bad[RASP_HDR_BYTES + 12] ^= 1;		/* a flow byte: tag no longer matches */
	assert_int_equal(rasp_decode(bad, len, &key, &m), -RASP_E_AUTH);
	/* part >= parts, correctly signed: a field error */
	assert_int_equal(rasp_enc_traffic(buf, sizeof(buf), &h, 10, 1, 1, &f, 1, &key), 0);
	assert_string_equal(rasp_err_name(-RASP_E_AUTH), "bad-tag");
	assert_string_equal(rasp_type_name(RASP_MOVED), "MOVED");
}

static void test_replay(void **state)
{
	struct rasp_replay *r = rasp_replay_new();

	(void)state;
	assert_true(rasp_replay_accept(r, 1, 100));
	assert_false(rasp_replay_accept(r, 1, 100));
	assert_false(rasp_replay_accept(r, 1, 99));
	assert_true(rasp_replay_accept(r, 2, 50));	/* senders are separate */
	assert_true(rasp_replay_accept(r, 1, 101));
	rasp_replay_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_traffic_round_trip),
		cmocka_unit_test(test_moved_and_ack),
		cmocka_unit_test(test_direct),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_replay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
