/* Unit tests of the switchd protocol: every message round-trips, every
 * malformed one is refused with its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lib/rng.h"
#include "wire/swproto.h"

static struct auth_key key = { { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 } };
static struct auth_key other = { { 9 } };

static void test_fib_ops_roundtrip(void **state)
{
	struct swp_op ops[SWP_MAX_OPS];
	struct swp_hdr h = { .sender = 77, .seq = 0x0102030405060708ull };
	uint8_t buf[SWP_MAX_DGRAM];
	struct swp_msg m;
	struct rng r;
	size_t len;

	(void)state;
	rng_seed(&r, 1);
	for (int i = 0; i < SWP_MAX_OPS; i++) {
		ops[i].kind = rng_below(&r, 2) ? SWP_OP_ADD : SWP_OP_DEL;
		ops[i].port = (uint16_t)rng_below(&r, SWP_MAX_PORT + 1);
		wire_put48(ops[i].mac, rng_next(&r) & 0xfeffffffffffull);
	}
	len = swp_enc_fib_ops(buf, sizeof(buf), &h, ops, SWP_MAX_OPS, &key);
	assert_int_equal(len, 16 + 4 + SWP_MAX_OPS * 10 + 16);
	assert_int_equal(swp_decode(buf, len, &key, &m), 0);
	assert_int_equal(m.h.type, SWP_FIB_OPS);
	assert_int_equal(m.h.sender, 77);
	assert_true(m.h.seq == h.seq);
	assert_int_equal(m.u.fib_ops.n, SWP_MAX_OPS);
	for (uint16_t i = 0; i < SWP_MAX_OPS; i++) {
		struct swp_op o;

		swp_op_at(&m, i, &o);
		assert_int_equal(o.kind, ops[i].kind);
		assert_int_equal(o.port, ops[i].port);
		assert_memory_equal(o.mac, ops[i].mac, 6);
	}
	/* one too many does not encode */
	assert_int_equal(swp_enc_fib_ops(buf, sizeof(buf), &h, ops, SWP_MAX_OPS + 1, &key), 0);
	/* and a short buffer does not either */
	assert_int_equal(swp_enc_fib_ops(buf, 100, &h, ops, 20, &key), 0);
}

static void test_other_roundtrips(void **state)
{
	struct swp_hdr h = { .sender = 3, .seq = 9 };
	uint8_t buf[SWP_MAX_DGRAM], st[3] = { SWP_OK, SWP_FULL, SWP_NO_PORT };
	struct swp_fib_entry e[2] = { { { 2, 0, 0, 0, 0, 1 }, 5 }, { { 2, 0, 0, 0, 0, 2 }, 6 } };
	struct swp_port p[2] = { { 0, SWP_PORT_UP }, { 7, SWP_PORT_DOWN } }, pp;
	struct swp_fib_entry ee;
	struct swp_msg m;
	size_t len;

	(void)state;
	len = swp_enc_fib_ack(buf, sizeof(buf), &h, 10, 20, 0x0102030405060708ull, st, 3, &key);
	assert_int_equal(swp_decode(buf, len, &key, &m), 0);
	assert_int_equal(m.h.type, SWP_FIB_ACK);
	assert_int_equal(m.u.fib_ack.used, 10);
	assert_int_equal(m.u.fib_ack.cap, 20);
	assert_true(m.u.fib_ack.sum == 0x0102030405060708ull);
	assert_memory_equal(m.u.fib_ack.status, st, 3);

	len = swp_enc_dump_req(buf, sizeof(buf), &h, SWP_WHAT_PORTS, 1234, &key);
	assert_int_equal(swp_decode(buf, len, &key, &m), 0);
	assert_int_equal(m.u.dump_req.what, SWP_WHAT_PORTS);
	assert_int_equal(m.u.dump_req.offset, 1234);

	len = swp_enc_dump_fib(buf, sizeof(buf), &h, 2, 8, 0xfedcba9876543210ull, 3, e, 2, &key);
	assert_int_equal(swp_decode(buf, len, &key, &m), 0);
	assert_int_equal(m.u.dump_fib.n, 2);
	assert_int_equal(m.u.dump_fib.offset, 3);
	assert_true(m.u.dump_fib.sum == 0xfedcba9876543210ull);
	swp_fib_entry_at(&m, 1, &ee);
	assert_memory_equal(ee.mac, e[1].mac, 6);
	assert_int_equal(ee.port, 6);

	len = swp_enc_dump_ports(buf, sizeof(buf), &h, 2, 0, p, 2, &key);
	assert_int_equal(swp_decode(buf, len, &key, &m), 0);
	swp_port_at(&m, 1, &pp);
	assert_int_equal(pp.port, 7);
	assert_int_equal(pp.state, SWP_PORT_DOWN);

	len = swp_enc_link(buf, sizeof(buf), &h, 65534, SWP_PORT_UP, 123456789ull, &key);
	assert_int_equal(swp_decode(buf, len, &key, &m), 0);
	assert_int_equal(m.h.type, SWP_LINK);
	assert_int_equal(m.u.link.port, 65534);
	assert_int_equal(m.u.link.state, SWP_PORT_UP);
	assert_true(m.u.link.at_ns == 123456789ull);

	len = swp_enc_link_ack(buf, sizeof(buf), &h, 42, &key);
	assert_int_equal(swp_decode(buf, len, &key, &m), 0);
	assert_true(m.u.link_ack.acked == 42);
}

/* Re-tag a modified datagram so the check under test is the one that fires. */
static void retag(uint8_t *buf, size_t len)
{
	auth_tag(&key, buf, len - AUTH_TAG_BYTES, buf + len - AUTH_TAG_BYTES);
}

static void test_refusals(void **state)
{
	struct swp_hdr h = { .sender = 1, .seq = 1 };
	struct swp_op op = { SWP_OP_ADD, 3, { 2, 0, 0, 0, 0, 9 } };
	uint8_t buf[SWP_MAX_DGRAM], copy[SWP_MAX_DGRAM];
	struct swp_msg m;
	size_t len = swp_enc_fib_ops(buf, sizeof(buf), &h, &op, 1, &key);

	(void)state;
	assert_int_equal(swp_decode(buf, 20, &key, &m), -SWP_E_SHORT);
	assert_int_equal(swp_decode(buf, len, &other, &m), -SWP_E_AUTH);
	for (size_t i = 0; i < len; i++) {	/* any flipped bit is caught */
		memcpy(copy, buf, len);
		copy[i] ^= 0x10;
		assert_int_not_equal(swp_decode(copy, len, &key, &m), 0);
	}
	memcpy(copy, buf, len);
	copy[0] = 0;
	assert_int_equal(swp_decode(copy, len, &key, &m), -SWP_E_MAGIC);
	memcpy(copy, buf, len);
	copy[2] = SWP_VERSION + 1;
	assert_int_equal(swp_decode(copy, len, &key, &m), -SWP_E_VERSION);
	memcpy(copy, buf, len);
	copy[3] = 99;
	assert_int_equal(swp_decode(copy, len, &key, &m), -SWP_E_TYPE);
	memcpy(copy, buf, len);
	copy[16 + 4] = 7;	/* op kind */
	retag(copy, len);
	assert_int_equal(swp_decode(copy, len, &key, &m), -SWP_E_FIELD);
	memcpy(copy, buf, len);
	copy[16 + 1] = 2;	/* count says 2, one op follows */
	retag(copy, len);
	assert_int_equal(swp_decode(copy, len, &key, &m), -SWP_E_LENGTH);
	memcpy(copy, buf, len);
	copy[16 + 6] = 0xff;	/* port 65535+ */
	copy[16 + 7] = 0xff;
	retag(copy, len);
	assert_int_equal(swp_decode(copy, len, &key, &m), -SWP_E_FIELD);
	assert_string_equal(swp_err_name(-SWP_E_AUTH), "bad tag");
}

static void test_mac_text(void **state)
{
	uint8_t mac[6];
	char s[18];

	(void)state;
	assert_true(swp_mac_parse("02:50:47:80:00:0a", mac));
	assert_string_equal(swp_mac_str(mac, s), "02:50:47:80:00:0a");
	assert_true(swp_mac_ok(mac));
	assert_false(swp_mac_parse("02:50:47:80:00", mac));
	assert_false(swp_mac_parse("02:50:47:80:00:0a:", mac));
	assert_false(swp_mac_parse("02-50-47-80-00-0a", mac));
	assert_false(swp_mac_parse("0g:50:47:80:00:0a", mac));
	assert_true(swp_mac_parse("01:00:5e:00:00:01", mac));
	assert_false(swp_mac_ok(mac));
	assert_true(swp_mac_parse("00:00:00:00:00:00", mac));
	assert_false(swp_mac_ok(mac));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fib_ops_roundtrip),
		cmocka_unit_test(test_other_roundtrips),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_mac_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
