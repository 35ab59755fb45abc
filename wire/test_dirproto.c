/* The directory protocol byte by byte: the layout of docs/directory-protocol.md
 * and every reason the decoder refuses a message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "wire/dirproto.h"

static const struct auth_key key = { { 3, 1, 4, 1, 5, 9, 2, 6 } };

static size_t lookup_msg(uint8_t *buf)
{
	struct dirp_hdr h = { .type = DIRP_LOOKUP, .session = 0x0102030405060708ull,
			      .seq = 0x1112131415161718ull, .time_ms = 0x2122232425262728ull,
			      .req_id = 0x3132333435363738ull };
	struct dirp_key k = { .vdc = 0xa1a2a3a4, .ip = 0x0a000001 };
	struct dirp_writer w;

	dirp_begin(&w, buf, DIRP_MAX_DGRAM, &h);
	dirp_put_key(&w, &k);
	return dirp_finish(&w, &key);
}

static void test_header_and_key_layout(void **st)
{
	static const uint8_t want[] = {
		0x50, 0x44, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00,		/* magic ver type count rsvd */
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,		/* session */
		0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,		/* seq */
		0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,		/* time_ms */
		0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38,		/* req_id */
		0xa1, 0xa2, 0xa3, 0xa4, 0x0a, 0x00, 0x00, 0x01,		/* vdc, ip */
	};
	uint8_t buf[DIRP_MAX_DGRAM], tag[AUTH_TAG_BYTES];
	struct dirp_msg m;
	struct dirp_key k;
	size_t len = lookup_msg(buf);

	(void)st;
	assert_int_equal(len, sizeof(want) + DIRP_TAG_LEN);
	assert_memory_equal(buf, want, sizeof(want));
	auth_tag(&key, buf, sizeof(want), tag);
	assert_memory_equal(buf + sizeof(want), tag, sizeof(tag));
	assert_int_equal(dirp_decode(buf, len, &key, &m), 0);
	assert_int_equal(m.h.type, DIRP_LOOKUP);
	assert_int_equal(m.h.count, 1);
	assert_true(m.h.session == 0x0102030405060708ull && m.h.req_id == 0x3132333435363738ull);
	dirp_get_key(&m, 0, &k);
	assert_int_equal(k.vdc, 0xa1a2a3a4);
	assert_int_equal(k.ip, 0x0a000001);
}

static void test_entry_layout(void **st)
{
	struct dirp_hdr h = { .type = DIRP_UPDATE };
	struct dirp_entry e = { .vdc = 7, .ip = 0xc0a80105, .status = DIRP_OK, .avail = 0x0b,
				.version = 0x01020304, .lease_ms = 30000, .server = 12 };
	uint8_t buf[DIRP_MAX_DGRAM], *r = buf + DIRP_HDR_LEN;
	struct dirp_writer w;
	struct dirp_entry back;
	struct dirp_msg m;

	(void)st;
	for (int s = 0; s < DIRP_NMACS; s++)
		wire_put48(e.mac[s], 0x020000000010ull + (uint64_t)s);
	dirp_begin(&w, buf, sizeof(buf), &h);
	dirp_put_entry(&w, &e);
	assert_int_equal(dirp_finish(&w, &key), DIRP_HDR_LEN + DIRP_ENTRY_LEN + DIRP_TAG_LEN);
	assert_memory_equal(r, "\x00\x00\x00\x07\xc0\xa8\x01\x05\x00\x0b\x00\x00", 12);
	assert_memory_equal(r + 12, "\x01\x02\x03\x04\x00\x00\x75\x30\x00\x00\x00\x0c", 12);
	assert_memory_equal(r + 24, "\x02\x00\x00\x00\x00\x10", 6);	/* vm_mac */
	assert_memory_equal(r + 42, "\x02\x00\x00\x00\x00\x13", 6);	/* server_mac_backup */
	assert_int_equal(dirp_decode(buf, w.len, &key, &m), 0);
	dirp_get_entry(&m, 0, &back);
	assert_true(back.vdc == e.vdc && back.ip == e.ip && back.status == e.status &&
		    back.avail == e.avail && back.version == e.version &&
		    back.lease_ms == e.lease_ms && back.server == e.server);
	assert_memory_equal(back.mac, e.mac, sizeof(e.mac));
}

static void test_decode_refusals(void **st)
{
	uint8_t buf[DIRP_MAX_DGRAM + 8], bad[DIRP_MAX_DGRAM + 8];
	struct auth_key other = { { 9 } };
	struct dirp_msg m;
	size_t len;

	(void)st;
	len = lookup_msg(buf);
	assert_int_equal(dirp_decode(buf, DIRP_HDR_LEN + DIRP_TAG_LEN - 1, &key, &m), -DIRP_E_SHORT);
	memset(bad, 0, sizeof(bad));
	assert_int_equal(dirp_decode(bad, DIRP_MAX_DGRAM + 1, &key, &m), -DIRP_E_OVERSIZE);
	memcpy(bad, buf, len);
	bad[0] = 0x51;
	assert_int_equal(dirp_decode(bad, len, &key, &m), -DIRP_E_MAGIC);
	memcpy(bad, buf, len);
	bad[2] = 2;
	assert_int_equal(dirp_decode(bad, len, &key, &m), -DIRP_E_VERSION);
	memcpy(bad, buf, len);
	bad[3] = 0x33;
	assert_int_equal(dirp_decode(bad, len, &key, &m), -DIRP_E_TYPE);
	memcpy(bad, buf, len);
	bad[5] = 2;					/* count 2, one record */
	assert_int_equal(dirp_decode(bad, len, &key, &m), -DIRP_E_LENGTH);
	assert_int_equal(dirp_decode(buf, len - 1, &key, &m), -DIRP_E_LENGTH);
	assert_int_equal(dirp_decode(buf, len, &other, &m), -DIRP_E_TAG);
	memcpy(bad, buf, len);
	bad[DIRP_HDR_LEN + 7] ^= 1;			/* a body bit */
	assert_int_equal(dirp_decode(bad, len, &key, &m), -DIRP_E_TAG);
	memcpy(bad, buf, len);
	bad[7] = 1;					/* reserved, re-tagged */
	auth_tag(&key, bad, len - DIRP_TAG_LEN, bad + len - DIRP_TAG_LEN);
	assert_int_equal(dirp_decode(bad, len, &key, &m), -DIRP_E_FIELD);
	assert_string_equal(dirp_err_name(-DIRP_E_TAG), "bad-tag");
}

static void test_limits_and_restamp(void **st)
{
	struct dirp_hdr h = { .type = DIRP_LOOKUP, .seq = 1 };
	uint8_t buf[DIRP_MAX_DGRAM];
	struct dirp_writer w;
	struct dirp_key k = { 1, 2 };
	struct dirp_msg m;
	unsigned n = 0;

	(void)st;
	dirp_begin(&w, buf, sizeof(buf), &h);
	while (dirp_room(&w)) {
		dirp_put_key(&w, &k);
		n++;
	}
	assert_int_equal(n, DIRP_MAX_RECORDS);
	assert_int_equal(dirp_max_records(DIRP_STATS), 0);
	assert_int_equal(dirp_record_len(0x99), 0);
	dirp_finish(&w, &key);
	dirp_restamp(buf, w.len, 77, 88, &key);
	assert_int_equal(dirp_decode(buf, w.len, &key, &m), 0);
	assert_true(m.h.seq == 77 && m.h.time_ms == 88);
	/* A reply of 29 entries still fits one unfragmented datagram. */
	assert_true(DIRP_HDR_LEN + DIRP_MAX_RECORDS * DIRP_ENTRY_LEN + DIRP_TAG_LEN <= DIRP_MAX_DGRAM);
}


/* The IPv6 forms: 60-byte entries, 20-byte keys, 23 to a datagram; the
 * reserved bytes and the status of an entry6 are checked like an entry's. */
static void test_entry6_layout(void **st)
{
	struct dirp_hdr h = { .type = DIRP_REGISTER6 | DIRP_REPLY_BIT };
	struct dirp_entry6 e = { .vdc = 7, .status = DIRP_NOT_FOUND, .avail = 0x0b,
				 .version = 0x01020304, .lease_ms = 5000, .server = 12 }, back;
	struct dirp_key6 k = { .vdc = 9 }, kb;
	uint8_t buf[DIRP_MAX_DGRAM], *r = buf + DIRP_HDR_LEN;
	struct dirp_writer w;
	struct dirp_msg m;
	size_t len;

	(void)st;
	for (int i = 0; i < 16; i++)
		e.ip6[i] = k.ip6[i] = (uint8_t)(0xf0 + i);
	for (int s = 0; s < DIRP_NMACS; s++)
		wire_put48(e.mac[s], 0x020000000010ull + (uint64_t)s);
	dirp_begin(&w, buf, sizeof(buf), &h);
	dirp_put_entry6(&w, &e);
	len = dirp_finish(&w, &key);
	assert_int_equal(len, DIRP_HDR_LEN + 60 + DIRP_TAG_LEN);
	assert_memory_equal(r, "\x00\x00\x00\x07\xf0\xf1", 6);
	assert_int_equal(r[19], 0xff);
	assert_memory_equal(r + 20, "\x01\x0b\x00\x00\x01\x02\x03\x04\x00\x00\x13\x88\x00\x00\x00\x0c", 16);
	assert_memory_equal(r + 36, "\x02\x00\x00\x00\x00\x10", 6);	/* vm_mac */
	assert_memory_equal(r + 54, "\x02\x00\x00\x00\x00\x13", 6);	/* server_mac_backup */
	assert_int_equal(dirp_decode(buf, len, &key, &m), 0);
	dirp_get_entry6(&m, 0, &back);
	assert_true(back.vdc == e.vdc && back.status == e.status && back.avail == e.avail &&
		    back.version == e.version && back.lease_ms == e.lease_ms &&
		    back.server == e.server);
	assert_memory_equal(back.ip6, e.ip6, 16);
	assert_memory_equal(back.mac, e.mac, sizeof(e.mac));
	r[22] = 1;					/* reserved */
	auth_tag(&key, buf, len - DIRP_TAG_LEN, buf + len - DIRP_TAG_LEN);
	assert_int_equal(dirp_decode(buf, len, &key, &m), -DIRP_E_FIELD);
	r[22] = 0;
	r[20] = DIRP_STATUS_MAX + 1;			/* status */
	auth_tag(&key, buf, len - DIRP_TAG_LEN, buf + len - DIRP_TAG_LEN);
	assert_int_equal(dirp_decode(buf, len, &key, &m), -DIRP_E_FIELD);

	h.type = DIRP_LOOKUP6;
	dirp_begin(&w, buf, sizeof(buf), &h);
	while (dirp_room(&w))
		dirp_put_key6(&w, &k);
	assert_int_equal(w.count, 23);
	len = dirp_finish(&w, &key);
	assert_int_equal(len, DIRP_HDR_LEN + 23 * 20 + DIRP_TAG_LEN);
	assert_int_equal(dirp_decode(buf, len, &key, &m), 0);
	dirp_get_key6(&m, 22, &kb);
	assert_int_equal(kb.vdc, 9);
	assert_memory_equal(kb.ip6, k.ip6, 16);
	assert_string_equal(dirp_type_name(DIRP_LOOKUP6 | DIRP_REPLY_BIT), "lookup6-reply");
	/* A length that is not a whole number of keys. */
	assert_int_equal(dirp_decode(buf, len - 20 + 8, &key, &m), -DIRP_E_LENGTH);
}

/* Group membership: 50-byte member records, 28 to a datagram, a MEMBERS
 * request of exactly one group key; flags and reserved bytes zero. */
static void test_member_layout(void **st)
{
	struct dirp_hdr h = { .type = DIRP_JOIN | DIRP_REPLY_BIT };
	struct dirp_member g = { .vdc = 7, .status = DIRP_FULL, .lease_ms = 2000, .server = 12 }, back;
	struct dirp_key6 k = { .vdc = 9 };
	uint8_t buf[DIRP_MAX_DGRAM], *r = buf + DIRP_HDR_LEN;
	struct dirp_writer w;
	struct dirp_msg m;
	size_t len;

	(void)st;
	dirp_group4(g.group, 0xe0010203);		/* 224.1.2.3 */
	wire_put48(g.vm, 0x020000000010ull);
	wire_put48(g.im[0], 0x020000000020ull);
	wire_put48(g.im[1], 0x020000000021ull);
	dirp_begin(&w, buf, sizeof(buf), &h);
	dirp_put_member(&w, &g);
	len = dirp_finish(&w, &key);
	assert_int_equal(len, DIRP_HDR_LEN + 50 + DIRP_TAG_LEN);
	assert_memory_equal(r, "\x00\x00\x00\x07\0\0\0\0\0\0\0\0\0\0\xff\xff\xe0\x01\x02\x03", 20);
	assert_memory_equal(r + 20, "\x03\x00\x00\x00\x00\x00\x07\xd0\x00\x00\x00\x0c", 12);
	assert_memory_equal(r + 32, "\x02\x00\x00\x00\x00\x10", 6);
	assert_memory_equal(r + 44, "\x02\x00\x00\x00\x00\x21", 6);
	assert_int_equal(dirp_decode(buf, len, &key, &m), 0);
	dirp_get_member(&m, 0, &back);
	assert_true(back.vdc == 7 && back.status == DIRP_FULL && back.lease_ms == 2000 &&
		    back.server == 12);
	assert_memory_equal(back.group, g.group, 16);
	assert_memory_equal(back.vm, g.vm, 6);
	assert_memory_equal(back.im, g.im, 12);
	r[21] = 1;					/* flags */
	auth_tag(&key, buf, len - DIRP_TAG_LEN, buf + len - DIRP_TAG_LEN);
	assert_int_equal(dirp_decode(buf, len, &key, &m), -DIRP_E_FIELD);
	r[21] = 0;
	r[20] = DIRP_STATUS_MAX + 1;
	auth_tag(&key, buf, len - DIRP_TAG_LEN, buf + len - DIRP_TAG_LEN);
	assert_int_equal(dirp_decode(buf, len, &key, &m), -DIRP_E_FIELD);

	h.type = DIRP_JOIN;
	dirp_begin(&w, buf, sizeof(buf), &h);
	while (dirp_room(&w))
		dirp_put_member(&w, &g);
	assert_int_equal(w.count, DIRP_MAX_MEMBERS);
	assert_int_equal(DIRP_MAX_MEMBERS, 28);
	/* one group per MEMBERS request */
	h.type = DIRP_MEMBERS;
	dirp_begin(&w, buf, sizeof(buf), &h);
	dirp_put_key6(&w, &k);
	assert_false(dirp_room(&w));
	assert_string_equal(dirp_type_name(DIRP_MEMBERS | DIRP_REPLY_BIT), "members-reply");
	/* which groups a VM may join */
	assert_true(dirp_group_ok(g.group));
	dirp_group4(g.group, 0xe0000001);		/* 224.0.0.1: all hosts */
	assert_false(dirp_group_ok(g.group));
	dirp_group4(g.group, 0xffffffff);
	assert_false(dirp_group_ok(g.group));
	assert_true(dirp_group_is_bcast(g.group));
	dirp_group4(g.group, 0x0a000001);		/* unicast */
	assert_false(dirp_group_ok(g.group));
	memset(g.group, 0, 16);
	g.group[0] = 0xff;
	g.group[1] = 0x02;
	g.group[15] = 1;				/* ff02::1 */
	assert_false(dirp_group_ok(g.group));
	g.group[15] = 0xfb;				/* ff02::fb */
	assert_true(dirp_group_ok(g.group));
	assert_false(dirp_group_is_bcast(g.group));
	g.group[0] = 0xfd;
	assert_false(dirp_group_ok(g.group));
}

/* ACK6: 24-byte records (VDC, IPv6 address, version), as many as an
 * UPDATE6 carries; a directory-bound type (no reply or push bit). */
static void test_ack6_layout(void **st)
{
	struct dirp_hdr h = { .type = DIRP_ACK6 };
	struct dirp_ack6 a = { .vdc = 7, .version = 0x01020304 }, back;
	uint8_t buf[DIRP_MAX_DGRAM], *r = buf + DIRP_HDR_LEN;
	struct dirp_writer w;
	struct dirp_msg m;
	size_t len;

	(void)st;
	for (int i = 0; i < 16; i++)
		a.ip6[i] = (uint8_t)(0xf0 + i);
	assert_int_equal(h.type & (DIRP_REPLY_BIT | DIRP_UPDATE), 0);
	dirp_begin(&w, buf, sizeof(buf), &h);
	while (dirp_room(&w))
		dirp_put_ack6(&w, &a);
	assert_int_equal(w.count, DIRP_MAX_RECORDS6);
	len = dirp_finish(&w, &key);
	assert_int_equal(len, DIRP_HDR_LEN + DIRP_MAX_RECORDS6 * 24 + DIRP_TAG_LEN);
	assert_memory_equal(r, "\x00\x00\x00\x07\xf0\xf1", 6);
	assert_memory_equal(r + 20, "\x01\x02\x03\x04", 4);
	assert_int_equal(dirp_decode(buf, len, &key, &m), 0);
	dirp_get_ack6(&m, 22, &back);
	assert_int_equal(back.vdc, 7);
	assert_int_equal(back.version, 0x01020304);
	assert_memory_equal(back.ip6, a.ip6, 16);
	assert_string_equal(dirp_type_name(DIRP_ACK6), "ack6");
	/* not a whole number of records */
	buf[5] = 1;
	auth_tag(&key, buf, DIRP_HDR_LEN + 25, buf + DIRP_HDR_LEN + 25);
	assert_int_equal(dirp_decode(buf, DIRP_HDR_LEN + 25 + DIRP_TAG_LEN, &key, &m),
			 -DIRP_E_LENGTH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_and_key_layout),
		cmocka_unit_test(test_entry_layout),
		cmocka_unit_test(test_entry6_layout),
		cmocka_unit_test(test_ack6_layout),
		cmocka_unit_test(test_member_layout),
		cmocka_unit_test(test_decode_refusals),
		cmocka_unit_test(test_limits_and_restamp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
