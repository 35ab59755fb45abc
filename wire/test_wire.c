/* Unit tests for wire/: addresses, the encapsulation, ARP, IPv4, parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "lib/rng.h"
#include "wire/be.h"
#include "wire/frame.h"

static const uint8_t ip_a[4] = { 10, 0, 0, 1 }, ip_b[4] = { 10, 0, 0, 2 };

/* The definition, spelled out bit by bit: the naive version. */
static bool naive_id_valid(uint32_t id)
{
	uint8_t top = (uint8_t)(id >> 16);

	return id < (1u << 24) && !(top & 1) && (top & 2) && id != 0x020000;
}

static void test_id_space(void **state)
{
	uint32_t nvalid = 0;

	(void)state;
	for (uint32_t id = 0; id < (1u << 24); id++) {
		bool v = pgr_id_valid(id);

		assert_int_equal(v, naive_id_valid(id));
		nvalid += v;
		if (v) {
			uint8_t sa[6];

			/* An ID in the first half of a source address is unicast,
			 * locally administered and never the prefix. */
			pgr_id_put(sa, id);
			pgr_id_put(sa + 3, id);
			assert_false(wire_mac_is_group(sa));
			assert_true(sa[0] & WIRE_MAC_LOCAL);
			assert_int_equal(pgr_src_kind(sa), PGR_SRC_ENCAP);
			assert_int_equal(pgr_id_from_index(pgr_id_index(id)), id);
		}
	}
	assert_int_equal(nvalid, (1u << PGR_ID_BITS) - 1);
	assert_false(pgr_id_valid(0x1000000));
}

static void test_node_numbering(void **state)
{
	(void)state;
	assert_int_equal(pgr_id_of(0, 0), 0);
	assert_int_equal(pgr_id_of(PGR_NODE_MAX + 1, 0), 0);
	assert_int_equal(pgr_id_of(1, 2), 0);
	assert_int_equal(pgr_id_of(1, PGR_PRIMARY), 0x020002);
	assert_int_equal(pgr_id_of(1, PGR_BACKUP), 0x020003);
	for (uint32_t n = 1; n <= PGR_NODE_MAX; n += 997) {
		for (uint32_t t = 0; t < PGR_TREES; t++) {
			uint32_t id = pgr_id_of(n, t);

			assert_true(pgr_id_valid(id));
			assert_int_equal(pgr_id_node(id), n);
			assert_int_equal(pgr_id_tree(id), t);
		}
	}
	assert_true(pgr_id_valid(pgr_id_of(PGR_NODE_MAX, PGR_BACKUP)));
}

static void test_src_kind(void **state)
{
	static const struct {
		uint8_t sa[6];
		enum pgr_src_kind kind;
	} cases[] = {
		{ { 0x02, 0x00, 0x00, 0x02, 0x00, 0x05 }, PGR_SRC_PLAIN },
		{ { 0x02, 0x00, 0x07, 0x02, 0x00, 0x05 }, PGR_SRC_ENCAP },
		{ { 0x06, 0x12, 0x34, 0x02, 0x00, 0x05 }, PGR_SRC_ENCAP },
		{ { 0x02, 0x00, 0x00, 0x02, 0x00, 0x00 }, PGR_SRC_FOREIGN },	/* id = prefix */
		{ { 0x02, 0x00, 0x00, 0x00, 0x00, 0x05 }, PGR_SRC_FOREIGN },	/* U/L clear */
		{ { 0x02, 0x00, 0x00, 0x03, 0x00, 0x05 }, PGR_SRC_FOREIGN },	/* I/G in id */
		{ { 0x00, 0x1b, 0x21, 0x02, 0x00, 0x05 }, PGR_SRC_FOREIGN },	/* vendor OUI */
		{ { 0x00, 0x1b, 0x21, 0x12, 0x34, 0x56 }, PGR_SRC_FOREIGN },
		/* Shape alone: any locally administered address whose halves both
		 * look like IDs reads as encapsulated; receivers also require DA =
		 * one of their own server MACs (docs/wire-format.md). */
		{ { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }, PGR_SRC_ENCAP },
		{ { 0x03, 0x00, 0x00, 0x02, 0x00, 0x05 }, PGR_SRC_INVALID },
		{ { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, PGR_SRC_INVALID },
		{ { 0, 0, 0, 0, 0, 0 }, PGR_SRC_INVALID },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_int_equal(pgr_src_kind(cases[i].sa), cases[i].kind);
}

/* A random frame between two random VMs, random payload. */
static size_t random_frame(struct rng *r, uint8_t *buf)
{
	uint8_t dst[6], src[6], payload[200];
	size_t plen = rng_below(r, sizeof(payload));

	pgr_mac_make(dst, pgr_id_of(1 + rng_below(r, PGR_NODE_MAX), rng_below(r, 2)));
	pgr_mac_make(src, pgr_id_of(1 + rng_below(r, PGR_NODE_MAX), rng_below(r, 2)));
	for (size_t i = 0; i < plen; i++)
		payload[i] = (uint8_t)rng_next(r);
	return wire_build_eth(buf, WIRE_FRAME_MAX, dst, src, (uint16_t)rng_next(r), payload,
			      plen);
}

static void test_encap_decap_roundtrip(void **state)
{
	struct rng r;

	(void)state;
	rng_seed(&r, 4);
	for (int i = 0; i < 100000; i++) {
		uint8_t orig[WIRE_FRAME_MAX], buf[WIRE_FRAME_MAX], im[6];
		struct wire_eth *e = (struct wire_eth *)buf;
		size_t len = random_frame(&r, orig);
		struct wire_frame f;

		memcpy(buf, orig, len);
		pgr_mac_make(im, pgr_id_of(1 + rng_below(&r, PGR_NODE_MAX), rng_below(&r, 2)));
		assert_int_equal(pgr_encap(e, im, orig), 0);
		/* Same length, only the 12 address bytes changed. */
		assert_memory_equal(buf + 12, orig + 12, len - 12);
		assert_memory_equal(e->dst, im, 6);
		assert_int_equal(pgr_encap_dst_id(e), pgr_id_get(orig + 3));
		assert_int_equal(pgr_encap_src_id(e), pgr_id_get(orig + 9));
		/* (the random EtherType may be ARP or IPv4 with a junk header) */
		assert_int_not_equal(wire_frame_parse(buf, len, &f), WIRE_ERR_BAD_SRC);
		assert_int_equal(f.addr_kind, WIRE_ADDR_INDIRECT);
		assert_int_equal(pgr_decap(e), 0);
		assert_memory_equal(buf, orig, len);
	}
}

/* The example of docs/wire-format.md, byte by byte: VM node 10 sends to VM
 * node 11 through server node 2's primary MAC. */
static void test_encap_golden(void **state)
{
	static const uint8_t sent[12] = { 0x02, 0x00, 0x00, 0x02, 0x00, 0x16,
					  0x02, 0x00, 0x00, 0x02, 0x00, 0x14 };
	static const uint8_t wire[12] = { 0x02, 0x00, 0x00, 0x02, 0x00, 0x04,
					  0x02, 0x00, 0x16, 0x02, 0x00, 0x14 };
	uint8_t buf[60], im[6];
	struct wire_frame f;

	(void)state;
	pgr_mac_make(im, pgr_id_of(2, PGR_PRIMARY));
	assert_int_equal(pgr_id_of(10, 0), 0x020014);
	assert_int_equal(pgr_id_of(11, 0), 0x020016);
	wire_build_eth(buf, sizeof(buf), sent, sent + 6, WIRE_ETH_P_IPV4, NULL, 0);
	assert_int_equal(pgr_encap((struct wire_eth *)buf, im, sent), 0);
	assert_memory_equal(buf, wire, 12);
	assert_int_equal(buf[12], 0x08);	/* the rest is untouched */
	/* 46 zero bytes after the header: not a valid IPv4 header */
	assert_int_equal(wire_frame_parse(buf, sizeof(buf), &f), WIRE_ERR_IPV4_HEADER);
	assert_int_equal(f.addr_kind, WIRE_ADDR_INDIRECT);
	assert_int_equal(pgr_decap((struct wire_eth *)buf), 0);
	assert_memory_equal(buf, sent, 12);
}

static void test_encap_refuses(void **state)
{
	uint8_t buf[64], im[6], vm[6], foreign[6] = { 0x00, 0x1b, 0x21, 1, 2, 3 };
	struct wire_eth *e = (struct wire_eth *)buf;
	uint8_t copy[64];

	(void)state;
	pgr_mac_make(im, pgr_id_of(7, 0));
	pgr_mac_make(vm, pgr_id_of(9, 0));
	wire_build_eth(buf, sizeof(buf), vm, foreign, 0x0800, NULL, 0);
	memcpy(copy, buf, sizeof(buf));
	assert_int_equal(pgr_encap(e, im, vm), -1);		/* foreign source */
	assert_memory_equal(buf, copy, sizeof(buf));
	assert_int_equal(pgr_decap(e), -1);			/* not encapsulated */
	wire_build_eth(buf, sizeof(buf), vm, vm, 0x0800, NULL, 0);
	assert_int_equal(pgr_encap(e, foreign, vm), -1);	/* foreign intermediary */
	assert_int_equal(pgr_encap(e, im, foreign), -1);	/* foreign destination */
	assert_int_equal(pgr_encap(e, im, vm), 0);
	assert_int_equal(pgr_encap(e, im, vm), -1);		/* twice */
}

static void test_arp_reply(void **state)
{
	uint8_t buf[64], vm[6], dst[6], bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t zero[6] = { 0 };
	struct wire_frame f;
	struct wire_arp *a;

	(void)state;
	pgr_mac_make(vm, pgr_id_of(3, 0));
	pgr_mac_make(dst, pgr_id_of(4, 0));
	assert_int_equal(wire_build_arp(buf, sizeof(buf), WIRE_ARP_REQUEST, bcast, vm,
					wire_ip_get(ip_a), zero, wire_ip_get(ip_b)), 60);
	assert_int_equal(wire_frame_parse(buf, 60, &f), WIRE_OK);
	assert_non_null(f.arp);
	a = (struct wire_arp *)(buf + WIRE_ETH_HLEN);
	wire_arp_reply_in_place((struct wire_eth *)buf, a, dst);
	assert_memory_equal(buf, vm, 6);
	assert_memory_equal(buf + 6, dst, 6);
	assert_int_equal(wire_arp_op(a), WIRE_ARP_REPLY);
	assert_memory_equal(a->sha, dst, 6);
	assert_memory_equal(a->spa, ip_b, 4);
	assert_memory_equal(a->tha, vm, 6);
	assert_memory_equal(a->tpa, ip_a, 4);
}

static void test_parse_errors(void **state)
{
	uint8_t buf[WIRE_FRAME_MAX], vm[6], ip[20];
	struct wire_frame f;
	size_t n;

	(void)state;
	pgr_mac_make(vm, pgr_id_of(3, 0));
	n = wire_build_udp4(buf, sizeof(buf), vm, vm, wire_ip_get(ip_a), wire_ip_get(ip_b),
			    1, 2, "hello", 5);
	assert_int_equal(n, 60);
	assert_int_equal(wire_frame_parse(buf, n, &f), WIRE_OK);
	assert_int_equal(f.l4_off, 34);
	assert_int_equal(wire_csum(buf + 14, 20), 0);	/* a valid checksum sums to 0 */
	assert_int_equal(wire_frame_parse(buf, 13, &f), WIRE_ERR_SHORT_ETH);
	assert_int_equal(wire_frame_parse(buf, 33, &f), WIRE_ERR_SHORT_IPV4);
	buf[14] = 0x44;		/* IHL 4 */
	assert_int_equal(wire_frame_parse(buf, n, &f), WIRE_ERR_IPV4_HEADER);
	buf[14] = 0x65;		/* version 6 */
	assert_int_equal(wire_frame_parse(buf, n, &f), WIRE_ERR_IPV4_HEADER);
	buf[14] = 0x45;
	buf[16] = 0xff;		/* total length past the frame */
	assert_int_equal(wire_frame_parse(buf, n, &f), WIRE_ERR_IPV4_HEADER);
	buf[6] |= 1;		/* group source */
	assert_int_equal(wire_frame_parse(buf, n, &f), WIRE_ERR_BAD_SRC);
	memset(ip, 0, sizeof(ip));
	n = wire_build_eth(buf, sizeof(buf), vm, vm, WIRE_ETH_P_ARP, ip, 20);
	assert_int_equal(wire_frame_parse(buf, 14 + 20, &f), WIRE_ERR_SHORT_ARP);
	assert_int_equal(wire_frame_parse(buf, n, &f), WIRE_ERR_ARP_KIND);
	assert_int_equal(wire_build_eth(buf, 59, vm, vm, 1, NULL, 0), 0);
}

/* wire/be.h: big-endian bytes, and a MAC address as a 48-bit number. */
static void test_be(void **state)
{
	static const uint8_t want[14] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
					  0x02, 0x50, 0x47, 0x00, 0x00, 0x2a };
	uint8_t b[14];

	(void)state;
	wire_put64(b, 0x123456789abcdef0ull);
	wire_put48(b + 8, 0xffff02504700002aull);	/* bits above 48 are dropped */
	assert_memory_equal(b, want, sizeof(b));
	assert_int_equal(wire_get16(b), 0x1234);
	assert_int_equal(wire_get32(b + 4), 0x9abcdef0u);
	assert_true(wire_get64(b) == 0x123456789abcdef0ull);
	assert_true(wire_get48(b + 8) == 0x02504700002aull);
}

static void test_mac_text(void **state)
{
	uint8_t mac[6], back[6];
	char s[18];

	(void)state;
	pgr_mac_make(mac, pgr_id_of(PGR_NODE_MAX, 1));
	wire_mac_str(mac, s);
	assert_string_equal(s, "02:00:00:fe:ff:ff");
	assert_true(wire_mac_parse(s, back));
	assert_memory_equal(mac, back, 6);
	assert_true(wire_mac_parse("0A:bC:00:00:00:01", back));
	assert_false(wire_mac_parse("02:00:00:00:00", back));
	assert_false(wire_mac_parse("02:00:00:00:00:01:", back));
	assert_false(wire_mac_parse("02-00-00-00-00-01", back));
	assert_false(wire_mac_parse("2:00:00:00:00:01", back));
	assert_false(wire_mac_parse("", back));
}

/* The receiver's check, written out on its own: the one's complement sum of
 * the pseudo header and the segment is all ones. */
static bool naive_l4_ok(const uint8_t *f)
{
	unsigned hlen = (f[14] & 15) * 4, tot = (unsigned)(f[16] << 8 | f[17]);
	unsigned l4len = tot - hlen;
	uint64_t sum = 0;

	for (unsigned i = 26; i < 34; i += 2)
		sum += (unsigned)(f[i] << 8 | f[i + 1]);
	sum += f[23] + l4len;
	for (unsigned i = 0; i < l4len; i++)
		sum += i & 1 ? f[14 + hlen + i] : (unsigned)f[14 + hlen + i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/* A UDP (or, with the protocol byte changed, TCP) frame whose checksum field
 * holds what a VM leaving the checksum to offload writes there: the folded
 * pseudo-header sum. */
static size_t partial_frame(uint8_t *f, uint8_t proto, size_t plen)
{
	static const uint8_t mac[6] = { 2, 0, 0, 2, 0, 0x12 };
	uint8_t payload[64];
	size_t n, off = proto == WIRE_IPPROTO_TCP ? 16 : 6;
	uint32_t sum;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 37 + 1);
	n = wire_build_udp4(f, WIRE_FRAME_MAX, mac, mac, 0x0100000a, 0x0500000a, 4000, 80,
			    payload, plen);
	f[23] = proto;
	sum = (10u << 8) + 1 + (10u << 8) + 5 + proto + 8 + (uint32_t)plen;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	f[34 + off] = (uint8_t)(sum >> 8);
	f[34 + off + 1] = (uint8_t)sum;
	return n;
}

static void test_l4_csum(void **state)
{
	uint8_t f[WIRE_FRAME_MAX], g[WIRE_FRAME_MAX];
	size_t n;

	(void)state;
	for (unsigned plen = 12; plen < 40; plen += 7) {	/* odd and even lengths */
		n = partial_frame(f, WIRE_IPPROTO_TCP, plen);
		assert_false(naive_l4_ok(f));
		assert_int_equal(wire_l4_csum_complete(f, n), WIRE_L4_CSUM_COMPLETED);
		assert_true(naive_l4_ok(f));
		memcpy(g, f, n);	/* complete: left alone */
		assert_int_equal(wire_l4_csum_complete(f, n), WIRE_L4_CSUM_GOOD);
		assert_memory_equal(f, g, n);
		n = partial_frame(f, WIRE_IPPROTO_UDP, plen);
		assert_int_equal(wire_l4_csum_complete(f, n), WIRE_L4_CSUM_COMPLETED);
		assert_true(naive_l4_ok(f));
	}
	/* a wrong checksum stays wrong: the receiver drops it as before */
	n = partial_frame(f, WIRE_IPPROTO_TCP, 20);
	f[34 + 17] ^= 0x40;
	memcpy(g, f, n);
	assert_int_equal(wire_l4_csum_complete(f, n), WIRE_L4_CSUM_BAD);
	assert_memory_equal(f, g, n);
	/* UDP without a checksum, a fragment, ICMP, a truncated frame */
	n = partial_frame(f, WIRE_IPPROTO_UDP, 20);
	f[40] = f[41] = 0;
	assert_int_equal(wire_l4_csum_complete(f, n), WIRE_L4_CSUM_NONE);
	n = partial_frame(f, WIRE_IPPROTO_TCP, 20);
	f[20] = 0x20;	/* more fragments */
	assert_int_equal(wire_l4_csum_complete(f, n), WIRE_L4_CSUM_NONE);
	n = partial_frame(f, WIRE_IPPROTO_ICMP, 20);
	assert_int_equal(wire_l4_csum_complete(f, n), WIRE_L4_CSUM_NONE);
	n = partial_frame(f, WIRE_IPPROTO_TCP, 20);
	assert_int_equal(wire_l4_csum_complete(f, 40), WIRE_L4_CSUM_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_space),
		cmocka_unit_test(test_node_numbering),
		cmocka_unit_test(test_src_kind),
		cmocka_unit_test(test_encap_decap_roundtrip),
		cmocka_unit_test(test_encap_golden),
		cmocka_unit_test(test_encap_refuses),
		cmocka_unit_test(test_arp_reply),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_mac_text),
		cmocka_unit_test(test_be),
		cmocka_unit_test(test_l4_csum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
