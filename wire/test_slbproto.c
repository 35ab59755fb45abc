/* The SLB control messages: round trips of every type, every refusal
 * reason, a golden datagram. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "wire/be.h"
#include "wire/slbproto.h"

static const struct auth_key key = { { 1, 2, 3 } };

static struct slbp_msg msg(uint8_t type, uint8_t a, uint8_t b)
{
	return (struct slbp_msg){ .type = type, .sender = 9, .seq = 1234567890123ull,
				  .time_ns = 77, .vdc = 7, .ip = 0x0500000a, .a = a, .b = b };
}

static void test_round_trip(void **state)
{
	const struct slbp_msg ms[] = { msg(SLBP_HEALTH, 1, 0), msg(SLBP_HEALTH, 0, 0),
				       msg(SLBP_LOAD, 100, 37), msg(SLBP_DRAIN, 1, 0) };
	uint8_t buf[128];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ms); i++) {
		struct slbp_msg m;

		assert_int_equal(slbp_encode(buf, sizeof(buf), &ms[i], &key), SLBP_DGRAM_BYTES);
		assert_int_equal(slbp_decode(buf, SLBP_DGRAM_BYTES, &key, &m), 0);
		assert_int_equal(m.type, ms[i].type);
		assert_int_equal(m.sender, ms[i].sender);
		assert_int_equal(m.seq, ms[i].seq);
		assert_int_equal(m.time_ns, ms[i].time_ns);
		assert_int_equal(m.vdc, ms[i].vdc);
		assert_int_equal(m.ip, ms[i].ip);
		assert_int_equal(m.a, ms[i].a);
		assert_int_equal(m.b, ms[i].b);
	}
	/* golden: the header and body bytes */
	assert_int_equal(buf[0], 0x50);
	assert_int_equal(buf[1], 0x53);
	assert_int_equal(buf[2], SLBP_VERSION);
	assert_int_equal(buf[3], SLBP_DRAIN);
	assert_int_equal(wire_get32(buf + 4), 9);
	assert_int_equal(wire_get32(buf + 24), 7);
	assert_int_equal(buf[28], 10);	/* 10.0.0.5 as on the wire */
	assert_int_equal(buf[31], 5);
	assert_int_equal(buf[32], 1);
}

static void test_refused(void **state)
{
	uint8_t buf[128], bad[128];
	struct slbp_msg m = msg(SLBP_LOAD, 50, 50), out;
	const struct auth_key other = { { 9 } };

	(void)state;
	assert_int_equal(slbp_encode(buf, sizeof(buf), &m, &key), SLBP_DGRAM_BYTES);
	assert_int_equal(slbp_decode(buf, 39, &key, &out), -SLBP_E_SHORT);
	memcpy(bad, buf, SLBP_DGRAM_BYTES);
	bad[0] = 0;
	assert_int_equal(slbp_decode(bad, SLBP_DGRAM_BYTES, &key, &out), -SLBP_E_MAGIC);
	memcpy(bad, buf, SLBP_DGRAM_BYTES);
	bad[2] = 9;
	assert_int_equal(slbp_decode(bad, SLBP_DGRAM_BYTES, &key, &out), -SLBP_E_VERSION);
	memcpy(bad, buf, SLBP_DGRAM_BYTES);
	bad[3] = 5;
	assert_int_equal(slbp_decode(bad, SLBP_DGRAM_BYTES, &key, &out), -SLBP_E_TYPE);
	assert_int_equal(slbp_decode(buf, SLBP_DGRAM_BYTES + 1, &key, &out), -SLBP_E_LENGTH);
	assert_int_equal(slbp_decode(buf, SLBP_DGRAM_BYTES, &other, &out), -SLBP_E_AUTH);
	memcpy(bad, buf, SLBP_DGRAM_BYTES);
	bad[24 + 8] = 101;	/* cpu 101%, re-signed */
	auth_tag(&key, bad, SLBP_HDR_BYTES + SLBP_BODY_BYTES, bad + SLBP_HDR_BYTES + SLBP_BODY_BYTES);
	assert_int_equal(slbp_decode(bad, SLBP_DGRAM_BYTES, &key, &out), -SLBP_E_FIELD);
	bad[24 + 8] = 1;
	bad[24 + 11] = 1;	/* padding not zero */
	auth_tag(&key, bad, SLBP_HDR_BYTES + SLBP_BODY_BYTES, bad + SLBP_HDR_BYTES + SLBP_BODY_BYTES);
	assert_int_equal(slbp_decode(bad, SLBP_DGRAM_BYTES, &key, &out), -SLBP_E_FIELD);
	/* the encoder refuses what the decoder would */
	m = msg(SLBP_HEALTH, 2, 0);
	assert_int_equal(slbp_encode(buf, sizeof(buf), &m, &key), 0);
	m = msg(SLBP_LOAD, 1, 1);
	m.vdc = 0;
	assert_int_equal(slbp_encode(buf, sizeof(buf), &m, &key), 0);
	assert_string_equal(slbp_err_name(-SLBP_E_AUTH), "auth");
	assert_string_equal(slbp_type_name(SLBP_LOAD), "load");
}

static void test_ring(void **state)
{
	struct slbp_msg m = { .type = SLBP_RING, .sender = 3, .seq = 99, .time_ns = 5,
			      .ring = { .kind = 5, .who = 0, .load = 40, .version = 1ull << 40,
					.nvips = 3, .owner = { 1, 2, 3 } } }, out;
	uint8_t buf[SLBP_RING_DGRAM_MAX];
	size_t len;

	(void)state;
	len = slbp_encode(buf, sizeof(buf), &m, &key);
	assert_int_equal(len, SLBP_HDR_BYTES + SLBP_RING_FIXED + 3 + AUTH_TAG_BYTES);
	assert_int_equal(slbp_decode(buf, len, &key, &out), 0);
	assert_int_equal(out.type, SLBP_RING);
	assert_int_equal(out.sender, 3);
	assert_int_equal(out.ring.kind, 5);
	assert_int_equal(out.ring.load, 40);
	assert_int_equal(out.ring.version, 1ull << 40);
	assert_int_equal(out.ring.nvips, 3);
	assert_memory_equal(out.ring.owner, m.ring.owner, 3);
	assert_int_equal(slbp_decode(buf, len - 1, &key, &out), -SLBP_E_LENGTH);
	buf[SLBP_HDR_BYTES + SLBP_RING_FIXED + 1] = 65;	/* owner out of range, re-signed */
	auth_tag(&key, buf, len - AUTH_TAG_BYTES, buf + len - AUTH_TAG_BYTES);
	assert_int_equal(slbp_decode(buf, len, &key, &out), -SLBP_E_FIELD);
	m.sender = 0;	/* no ring id */
	assert_int_equal(slbp_encode(buf, sizeof(buf), &m, &key), 0);
	m.sender = 3;
	assert_int_equal(slbp_encode(buf, len - 1, &m, &key), 0);	/* no room */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_ring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
