/* IGMP and MLD reports from a VM (agent/mcast.c): every message kind and
 * record type, every drop reason, the per-VM group limit and rate.  The
 * group replication table (agent/grp.c) against a real directory core:
 * member servers learnt, VDCs apart, leases, idle groups, limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "agent/grp.h"
#include "agent/mcast.h"
#include "bpf/fwd_tables.h"
#include "dir/dir.h"
#include "dir/dirgrp.h"
#include "wire/be.h"
#include "wire/dirproto.h"

static const struct agent_mcast_vm vm = { .mac = { 0x02, 0, 0, 0, 0, 0x1a }, .ip = 0x0a000005 };

static uint16_t csum(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* An IGMP frame from the VM to dst carrying msg; returns its length. */
static size_t igmp_frame(uint8_t *f, uint32_t dst, const uint8_t *msg, size_t mlen)
{
	uint8_t *ip = f + 14;

	memset(f, 0, 14 + 24);
	f[0] = 0x01;
	f[2] = 0x5e;
	wire_put32(f + 2, 0x5e000000 | (dst & 0x7fffff));
	f[2] = 0x5e;
	memcpy(f + 6, vm.mac, 6);
	wire_put16(f + 12, 0x0800);
	ip[0] = 0x46;					/* with the router alert option */
	wire_put16(ip + 2, (uint16_t)(24 + mlen));
	ip[8] = 1;
	ip[9] = 2;
	wire_put32(ip + 12, vm.ip);
	wire_put32(ip + 16, dst);
	wire_put32(ip + 20, 0x94040000);
	wire_put16(ip + 10, csum(0, ip, 24));
	memcpy(ip + 24, msg, mlen);
	wire_put16(ip + 24 + 2, 0);
	wire_put16(ip + 24 + 2, csum(0, ip + 24, mlen));
	return 14 + 24 + mlen;
}

/* An MLD frame (hop-by-hop router alert, then ICMPv6) to dst. */
static size_t mld_frame(uint8_t *f, const uint8_t dst[16], const uint8_t *msg, size_t mlen)
{
	uint8_t *ip = f + 14, *m = ip + 48;
	uint32_t sum = 0;

	memset(f, 0, 14 + 48);
	f[0] = 0x33;
	f[1] = 0x33;
	memcpy(f + 2, dst + 12, 4);
	memcpy(f + 6, vm.mac, 6);
	wire_put16(f + 12, 0x86dd);
	ip[0] = 0x60;
	wire_put16(ip + 4, (uint16_t)(8 + mlen));
	ip[6] = 0;					/* hop-by-hop */
	ip[7] = 1;
	ip[8] = 0xfe;
	ip[9] = 0x80;
	ip[16] = vm.mac[0] ^ 2;
	ip[17] = vm.mac[1];
	ip[18] = vm.mac[2];
	ip[19] = 0xff;
	ip[20] = 0xfe;
	memcpy(ip + 21, vm.mac + 3, 3);
	memcpy(ip + 24, dst, 16);
	ip[40] = 58;					/* then ICMPv6 */
	ip[42] = 5;					/* router alert: MLD */
	ip[43] = 2;
	memcpy(m, msg, mlen);
	wire_put16(m + 2, 0);
	for (int i = 8; i < 40; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	sum += (uint32_t)mlen + 58;
	wire_put16(m + 2, csum(sum, m, mlen));
	return 14 + 48 + mlen;
}

static void group6(uint8_t g[16], uint8_t scope, uint8_t last)
{
	memset(g, 0, 16);
	g[0] = 0xff;
	g[1] = scope;
	g[15] = last;
}

static enum agent_mcast_verdict parse(const uint8_t *f, size_t n, struct agent_mcast_op *ops,
				      unsigned *nops)
{
	return agent_mcast_parse(&vm, f, n, ops, nops);
}

/* The agent's general query (it is its VMs' querier): a frame the parser
 * reads through to the message type, so its lengths, TTL and both checksums
 * are right; a query is never taken from a VM (drop_type). */
static void test_query_frame(void **st)
{
	uint8_t f[AGENT_MCAST_QUERY_LEN], bad[AGENT_MCAST_QUERY_LEN];
	struct agent_mcast_op ops[AGENT_MCAST_OPS];
	unsigned n;

	(void)st;
	assert_int_equal(agent_mcast_query_frame(vm.mac, f), AGENT_MCAST_QUERY_LEN);
	assert_memory_equal(f, "\x01\x00\x5e\x00\x00\x01", 6);
	assert_int_equal(wire_get32(f + 14 + 16), 0xe0000001u);	/* 224.0.0.1 */
	assert_int_equal(wire_get32(f + 14 + 12), 0);			/* from 0.0.0.0 */
	assert_int_equal(f[14 + 8], 1);					/* TTL */
	assert_int_equal(f[14 + 24], 0x11);				/* query */
	assert_int_equal(f[14 + 24 + 1], AGENT_MCAST_QUERY_RESP_DS);
	assert_int_equal(wire_get32(f + 14 + 24 + 4), 0);		/* general */
	assert_int_equal(parse(f, sizeof(f), ops, &n), AGENT_MCAST_drop_type);
	assert_int_equal(n, 0);
	memcpy(bad, f, sizeof(f));
	bad[14 + 24 + 9] ^= 1;			/* QQIC: the message's checksum fails */
	assert_int_equal(parse(bad, sizeof(bad), ops, &n), AGENT_MCAST_drop_csum);
	memcpy(bad, f, sizeof(f));
	bad[14 + 21] ^= 1;			/* the router alert: the header's fails */
	assert_int_equal(parse(bad, sizeof(bad), ops, &n), AGENT_MCAST_drop_csum);
}

/* The MLDv2 query likewise: from the EUI-64 link-local address of the MAC
 * (the parser's spoof check), hop limit 1, the hop-by-hop header, the
 * ICMPv6 checksum over the pseudo-header. */
static void test_query6_frame(void **st)
{
	uint8_t f[AGENT_MCAST_QUERY6_LEN], bad[AGENT_MCAST_QUERY6_LEN];
	struct agent_mcast_op ops[AGENT_MCAST_OPS];
	unsigned n;

	(void)st;
	assert_int_equal(agent_mcast_query6_frame(vm.mac, f), AGENT_MCAST_QUERY6_LEN);
	assert_memory_equal(f, "\x33\x33\x00\x00\x00\x01", 6);
	assert_int_equal(f[14 + 7], 1);				/* hop limit */
	assert_int_equal(f[14 + 8], 0xfe);			/* fe80:: */
	assert_int_equal(f[14 + 24], 0xff);			/* ff02::1 */
	assert_int_equal(f[14 + 39], 1);
	assert_int_equal(f[14 + 48], 130);			/* listener query */
	assert_int_equal(wire_get16(f + 14 + 48 + 4), AGENT_MCAST_QUERY6_RESP_MS);
	assert_int_equal(parse(f, sizeof(f), ops, &n), AGENT_MCAST_drop_type);
	memcpy(bad, f, sizeof(f));
	bad[14 + 48 + 25] ^= 1;			/* QQIC: the checksum fails */
	assert_int_equal(parse(bad, sizeof(bad), ops, &n), AGENT_MCAST_drop_csum);
	memcpy(bad, f, sizeof(f));
	bad[14 + 23] ^= 1;			/* not the MAC's link-local address */
	assert_int_equal(parse(bad, sizeof(bad), ops, &n), AGENT_MCAST_drop_spoof);
}

static void test_igmp(void **st)
{
	uint8_t f[1600], msg[64] = { 0 }, g[16];
	struct agent_mcast_op ops[AGENT_MCAST_OPS];
	unsigned n;
	size_t len;

	(void)st;
	msg[0] = 0x16;					/* v2 report 224.1.2.3 */
	wire_put32(msg + 4, 0xe0010203);
	len = igmp_frame(f, 0xe0010203, msg, 8);
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_report);
	assert_int_equal(n, 1);
	assert_true(ops[0].join);
	dirp_group4(g, 0xe0010203);
	assert_memory_equal(ops[0].group, g, 16);
	msg[0] = 0x17;					/* v2 leave, to 224.0.0.2 */
	len = igmp_frame(f, 0xe0000002, msg, 8);
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_report);
	assert_int_equal(n, 1);
	assert_false(ops[0].join);
	len = igmp_frame(f, 0xe0010203, msg, 8);	/* a leave not to all routers */
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_group);
	msg[0] = 0x16;					/* a report to another group */
	len = igmp_frame(f, 0xe0010204, msg, 8);
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_group);
	wire_put32(msg + 4, 0x0a000001);		/* a unicast "group" */
	len = igmp_frame(f, 0x0a000001, msg, 8);
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_group);
	msg[0] = 0x11;					/* a query from a VM */
	len = igmp_frame(f, 0xe0000001, msg, 8);
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_type);

	/* v3: EXCLUDE{} joins A, TO_INCLUDE{} leaves B, BLOCK changes nothing,
	 * ALLOW{s} joins C; aux data skipped. */
	memset(msg, 0, sizeof(msg));
	msg[0] = 0x22;
	wire_put16(msg + 6, 4);
	msg[8] = 4;  wire_put32(msg + 12, 0xe000000a);			/* 8..15 */
	msg[16] = 3; msg[17] = 1; wire_put32(msg + 20, 0xe000000b);	/* 16..27 */
	msg[28] = 6; wire_put16(msg + 30, 1); wire_put32(msg + 32, 0xe000000c);	/* 28..39 */
	msg[40] = 5; wire_put16(msg + 42, 1); wire_put32(msg + 44, 0xe000000d);	/* 40..51 */
	len = igmp_frame(f, 0xe0000016, msg, 52);
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_report);
	assert_int_equal(n, 3);
	assert_true(ops[0].join && !ops[1].join && ops[2].join);
	assert_int_equal(wire_get32(ops[1].group + 12), 0xe000000b);
	assert_int_equal(wire_get32(ops[2].group + 12), 0xe000000d);
	/* a record past the end, an unknown record type, trailing bytes */
	len = igmp_frame(f, 0xe0000016, msg, 48);
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_record);
	assert_int_equal(n, 0);
	msg[28] = 7;
	len = igmp_frame(f, 0xe0000016, msg, 52);
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_record);
	msg[28] = 6;
	len = igmp_frame(f, 0xe0000016, msg, 56);
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_record);
	len = igmp_frame(f, 0xe0000001, msg, 52);	/* v3 not to 224.0.0.22 */
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_group);
}

static void test_igmp_bad(void **st)
{
	uint8_t f[1600], msg[8] = { 0x16, 0, 0, 0, 0xe0, 1, 2, 3 };
	struct agent_mcast_op ops[AGENT_MCAST_OPS];
	unsigned n;
	size_t len = igmp_frame(f, 0xe0010203, msg, 8);

	(void)st;
	f[6 + 5] ^= 1;					/* another MAC */
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_spoof);
	f[6 + 5] ^= 1;
	f[14 + 8] = 2;					/* TTL 2 (checksum fixed) */
	wire_put16(f + 14 + 10, 0);
	wire_put16(f + 14 + 10, csum(0, f + 14, 24));
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_ttl);
	len = igmp_frame(f, 0xe0010203, msg, 8);
	f[14 + 8] = 2;					/* checksum not fixed */
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_csum);
	len = igmp_frame(f, 0xe0010203, msg, 8);
	f[len - 1] ^= 0x40;				/* the message's checksum */
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_csum);
	len = igmp_frame(f, 0xe0010203, msg, 8);
	wire_put32(f + 14 + 12, 0x0a000006);		/* another address */
	wire_put16(f + 14 + 10, 0);
	wire_put16(f + 14 + 10, csum(0, f + 14, 24));
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_spoof);
	len = igmp_frame(f, 0xe0010203, msg, 8);
	wire_put16(f + 14 + 6, 0x2000);			/* more fragments */
	wire_put16(f + 14 + 10, 0);
	wire_put16(f + 14 + 10, csum(0, f + 14, 24));
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_fragment);
	len = igmp_frame(f, 0xe0010203, msg, 8);
	assert_int_equal(parse(f, len - 1, ops, &n), AGENT_MCAST_drop_frame);	/* truncated */
	assert_int_equal(parse(f, 13, ops, &n), AGENT_MCAST_drop_frame);
	f[14 + 9] = 17;					/* not IGMP */
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_frame);
	len = igmp_frame(f, 0xe0010203, msg, 8);
	f[0] = 0x02;					/* to a unicast MAC */
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_group);
}

static void test_mld(void **st)
{
	uint8_t f[1600], msg[128] = { 0 }, dst[16], g[16];
	struct agent_mcast_op ops[AGENT_MCAST_OPS];
	unsigned n;
	size_t len;

	(void)st;
	group6(g, 0x0e, 0x42);				/* MLDv1 report ff0e::42 */
	msg[0] = 131;
	memcpy(msg + 8, g, 16);
	len = mld_frame(f, g, msg, 24);
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_report);
	assert_int_equal(n, 1);
	assert_true(ops[0].join);
	assert_memory_equal(ops[0].group, g, 16);
	msg[0] = 132;					/* done, to ff02::2 */
	group6(dst, 0x02, 0x02);
	len = mld_frame(f, dst, msg, 24);
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_report);
	assert_false(ops[0].join);
	msg[0] = 130;					/* a query from a VM */
	len = mld_frame(f, dst, msg, 24);
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_type);

	/* MLDv2 to ff02::16: EXCLUDE{} of ff05::7, and the solicited-node
	 * group, which the fabric serves itself. */
	memset(msg, 0, sizeof(msg));
	msg[0] = 143;
	wire_put16(msg + 6, 2);
	msg[8] = 2;
	group6(msg + 12, 0x05, 0x07);
	msg[28] = 4;
	group6(msg + 32, 0x02, 0x1a);
	msg[32 + 11] = 1;
	msg[32 + 12] = 0xff;
	group6(dst, 0x02, 0x16);
	len = mld_frame(f, dst, msg, 48);
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_report);
	assert_int_equal(n, 1);
	assert_int_equal(ops[0].group[1], 0x05);
	wire_put16(msg + 6, 1);				/* only the solicited-node one */
	memmove(msg + 8, msg + 28, 20);
	len = mld_frame(f, dst, msg, 28);
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_ignored);
	assert_int_equal(n, 0);
	/* all-nodes may not be joined */
	group6(msg + 12, 0x02, 0x01);
	len = mld_frame(f, dst, msg, 28);
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_group);
	/* another VM's identifier, hop limit 255, a bad checksum */
	group6(msg + 12, 0x05, 0x07);
	len = mld_frame(f, dst, msg, 28);
	f[14 + 8 + 15] ^= 1;
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_spoof);
	len = mld_frame(f, dst, msg, 28);
	f[14 + 7] = 255;
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_ttl);
	len = mld_frame(f, dst, msg, 28);
	f[len - 1] ^= 1;
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_csum);
	len = mld_frame(f, dst, msg, 28);
	f[14 + 40 + 1] = 9;				/* hop-by-hop longer than the packet */
	assert_int_equal(parse(f, len, ops, &n), AGENT_MCAST_drop_frame);
}

/* The VM's groups: joins and leaves once each, AGENT_MCAST_VM_GROUPS at
 * most; the rate: a burst, then AGENT_MCAST_PER_S. */
static void test_state(void **st)
{
	struct agent_mcast_state s = { 0 };
	struct agent_mcast_op op = { .join = true };
	unsigned i;

	(void)st;
	for (i = 0; i < AGENT_MCAST_VM_GROUPS; i++) {
		dirp_group4(op.group, 0xe0000100 + i);
		assert_int_equal(agent_mcast_apply(&s, &op), AGENT_MCAST_join);
		assert_int_equal(agent_mcast_apply(&s, &op), AGENT_MCAST_report);
	}
	dirp_group4(op.group, 0xe0000200);
	assert_int_equal(agent_mcast_apply(&s, &op), AGENT_MCAST_drop_limit);
	op.join = false;
	dirp_group4(op.group, 0xe0000100);
	assert_int_equal(agent_mcast_apply(&s, &op), AGENT_MCAST_leave);
	assert_int_equal(agent_mcast_apply(&s, &op), AGENT_MCAST_report);
	op.join = true;
	dirp_group4(op.group, 0xe0000200);
	assert_int_equal(agent_mcast_apply(&s, &op), AGENT_MCAST_join);

	for (i = 0; i < AGENT_MCAST_BURST; i++)
		assert_true(agent_mcast_take(&s, 1000));
	assert_false(agent_mcast_take(&s, 1000));
	assert_false(agent_mcast_take(&s, 1000 + 200000000ull));
	assert_true(agent_mcast_take(&s, 1000 + 250000000ull));
	assert_false(agent_mcast_take(&s, 1000 + 260000000ull));
	assert_string_equal(agent_mcast_verdict_name(AGENT_MCAST_drop_rate), "drop_rate");
}

/* ---- the core's part, with a real directory behind it ------------------------------ */

static const struct auth_key dkey = { { 7, 7, 7 } };
static struct dir *dir;
static struct dir_out dout;
static const struct dir_now t0 = { .ns = 1000, .wall_ms = 1700000000000ull };

static void to_dir(void *arg, const uint8_t *buf, size_t len)
{
	(void)arg;
	dir_out_reset(&dout);
	dir_input(dir, t0, 1, buf, len, &dout);
}

/* MEMBERS of (vdc, group): the member servers, in *servers. */
static unsigned members(uint32_t vdc, const uint8_t g[16], uint32_t *servers)
{
	struct dirp_hdr h = { .type = DIRP_MEMBERS, .session = 99, .seq = 1,
			      .time_ms = t0.wall_ms, .req_id = 1 };
	static uint64_t seq = 1;
	struct dirp_key6 k = { .vdc = vdc };
	uint8_t buf[DIRP_MAX_DGRAM];
	struct dirp_writer w;
	struct dirp_member r;
	struct dirp_msg m;
	unsigned n = 0;

	h.seq = ++seq;
	memcpy(k.ip6, g, 16);
	dirp_begin(&w, buf, sizeof(buf), &h);
	dirp_put_key6(&w, &k);
	to_dir(NULL, buf, dirp_finish(&w, &dkey));
	assert_int_equal(dout.nsends, 1);
	assert_int_equal(dirp_decode(dout.buf + dout.sends[0].off, dout.sends[0].len, &dkey, &m), 0);
	for (unsigned i = 0; i < m.h.count; i++) {
		dirp_get_member(&m, i, &r);
		if (r.status == DIRP_OK)
			servers[n++] = r.server;
	}
	return n;
}

static struct agent_mcast_env env_of(struct dirc *c, uint32_t vdc, uint32_t vm_node,
				     uint32_t server, uint64_t *st, uint64_t *fail)
{
	struct agent_mcast_env e = { .dirc = c, .vdc = vdc, .server = server, .st = st,
				     .send_fail = fail };

	memcpy(e.vm_mac, vm.mac, 6);
	e.vm_mac[5] = (uint8_t)(vm_node * 2);
	wire_put48(e.server_mac[0], 0x020000000000ull | server * 2);
	wire_put48(e.server_mac[1], 0x020000000001ull | server * 2);
	return e;
}

/* Reports go to the directory as JOIN and LEAVE of the VM's own VDC: two
 * VDCs with the same group address stay apart; the refresh puts a VM into
 * its VDC's broadcast group; a flood of reports is limited. */
static void test_core(void **st)
{
	struct dir_cfg cfg = { .key = &dkey, .seed = 5, .neg_lease_ms = 100 };
	struct dirc_cfg cc = { .key = &dkey, .seed = 9, .send = to_dir };
	uint8_t f[1600], msg[8] = { 0x16, 0, 0, 0, 0xe0, 1, 2, 3 }, g[16], bc[16];
	uint64_t c[AGENT_MCAST_COUNT] = { 0 }, fail = 0;
	struct agent_mcast_state sa = { 0 }, sb = { 0 }, sc = { 0 };
	struct agent_mcast_env ea, eb, ec;
	struct dirc *dc;
	uint32_t srv[DIRP_MAX_MEMBERS];
	size_t len;

	(void)st;
	dir = dir_new(&cfg);
	dir_out_init(&dout);
	dc = dirc_new(&cc);
	ea = env_of(dc, 1, 13, 10, c, &fail);		/* the report's MAC is vm.mac */
	memcpy(ea.vm_mac, vm.mac, 6);
	eb = env_of(dc, 2, 13, 11, c, &fail);
	memcpy(eb.vm_mac, vm.mac, 6);
	ec = env_of(dc, 1, 14, 12, c, &fail);
	dirp_group4(g, 0xe0010203);
	dirp_group4(bc, 0xffffffffu);

	len = igmp_frame(f, 0xe0010203, msg, 8);
	agent_mcast_input(&ea, &sa, t0, vm.ip, f, len);
	agent_mcast_input(&ea, &sa, t0, vm.ip, f, len);	/* again: no change */
	agent_mcast_input(&eb, &sb, t0, vm.ip, f, len);
	assert_int_equal(c[AGENT_MCAST_report], 3);
	assert_int_equal(c[AGENT_MCAST_join], 2);
	assert_int_equal(members(1, g, srv), 1);
	assert_int_equal(srv[0], 10);
	assert_int_equal(members(2, g, srv), 1);
	assert_int_equal(srv[0], 11);
	assert_int_equal(members(3, g, srv), 0);
	/* the broadcast group: only VMs refreshed into it, of their VDC */
	assert_int_equal(agent_mcast_refresh(&ec, &sc, t0), 1);
	assert_int_equal(agent_mcast_refresh(&ea, &sa, t0), 2);
	assert_int_equal(members(1, bc, srv), 2);
	assert_true((srv[0] == 10 && srv[1] == 12) || (srv[0] == 12 && srv[1] == 10));
	assert_int_equal(members(2, bc, srv), 0);
	/* a leave: VDC 1's group is gone, VDC 2's stays */
	msg[0] = 0x17;
	len = igmp_frame(f, 0xe0000002, msg, 8);
	agent_mcast_input(&ea, &sa, t0, vm.ip, f, len);
	assert_int_equal(c[AGENT_MCAST_leave], 1);
	assert_int_equal(members(1, g, srv), 0);
	assert_int_equal(members(2, g, srv), 1);
	/* a flood: the burst is taken, the rest counted and never parsed */
	for (int i = 0; i < 100; i++)
		agent_mcast_input(&ec, &sc, t0, vm.ip, f, len);
	assert_int_equal(c[AGENT_MCAST_drop_rate], 100 - AGENT_MCAST_BURST);
	assert_int_equal(fail, 0);
	dirc_free(dc);
	dir_out_free(&dout);
	dir_free(dir);
}

/* ---- group replication: agent/grp.c ----------------------------------------------- */

/* The directory's answers wait here until deliver() hands them to the
 * client, as a socket would between two calls. */
static struct {
	uint8_t buf[8][DIRP_MAX_DGRAM];
	size_t len[8];
	unsigned n;
} q;

static void to_dir_queued(void *arg, const uint8_t *buf, size_t len)
{
	(void)arg;
	dir_out_reset(&dout);
	dir_input(dir, t0, 1, buf, len, &dout);
	for (unsigned i = 0; i < dout.nsends && q.n < 8; i++) {
		memcpy(q.buf[q.n], dout.buf + dout.sends[i].off, dout.sends[i].len);
		q.len[q.n++] = dout.sends[i].len;
	}
}

static void deliver(struct dirc *c, struct dir_now now)
{
	for (unsigned i = 0; i < q.n; i++)
		dirc_input(c, now, q.buf[i], q.len[i]);
	q.n = 0;
}

static int nic_of(const void *arg, uint32_t node, unsigned tree)
{
	(void)arg;
	return node == 12 && tree == 0 ? -1 : (int)tree;	/* server 12: no primary path */
}

#define G4(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

static void test_grp(void **st)
{
	struct dir_cfg cfg = { .key = &dkey, .seed = 5, .neg_lease_ms = 100 };
	struct dirc_cfg cc = { .key = &dkey, .seed = 9, .send = to_dir_queued };
	uint64_t c[AGENT_MCAST_COUNT] = { 0 }, fail = 0;
	const uint32_t G = G4(239, 1, 2, 3), BC = 0xffffffffu, nics[2] = { 21, 22 };
	const bool down[2] = { false, false };
	struct agent_mcast_state s[24] = { 0 };
	struct agent_grp_vm vms[24];
	struct agent_grps t = { 0 };
	struct pgr_fwd_tables tab;
	const struct pgr_mcast_entry *e;
	struct dir_now now = t0;
	struct dirc *dc;
	uint8_t g16[16];

	(void)st;
	dir = dir_new(&cfg);
	dir_out_init(&dout);
	dc = dirc_new(&cc);
	pgr_fwd_tables_init(&tab);
	dirp_group4(g16, 0xef010203);
	/* members: VDC 1's G on servers 10 (here), 11, 12; VDC 2's G on 13 */
	for (uint32_t srv = 10; srv <= 13; srv++) {
		struct agent_mcast_state m = { .n = 1 };
		struct agent_mcast_env env = env_of(dc, srv == 13 ? 2 : 1, srv + 20, srv, c, &fail);

		memcpy(m.group[0], g16, 16);
		assert_int_equal(agent_mcast_refresh(&env, &m, now), 2);
	}
	deliver(dc, now);
	/* here: VM 0 (VDC 1, in G), VM 1 (VDC 1), VM 2 (VDC 2, in G: VDC 2's) */
	s[0].n = s[2].n = 1;
	memcpy(s[0].group[0], g16, 16);
	memcpy(s[2].group[0], g16, 16);
	for (unsigned i = 0; i < 24; i++)
		vms[i] = (struct agent_grp_vm){ .vdc = i == 2 ? 2 : 1, .ifindex = 100 + i, .m = &s[i] };
	struct agent_grp_env env = { .dirc = dc, .node = 10, .nnics = 2, .nic_ifindex = nics,
				     .nic_down = down, .tree_nic = nic_of,
				     .set = pgr_fwd_op_mcast_set, .del = pgr_fwd_op_mcast_del,
				     .arg = &tab, .vms = vms, .nvms = 3 };

	/* local members only, until a VM sends */
	agent_grps_sync(&t, &env, now);
	assert_int_equal(agent_grps_count(&t), 4);	/* two broadcasts, two G */
	e = pgr_fwd_mcast(&tab, &(struct pgr_mcast_key){ 1, BC });
	assert_non_null(e);
	assert_int_equal(e->nlocal, 2);
	assert_int_equal(e->nsrv, 0);
	assert_int_equal(e->flags, PGR_MCAST_NO_SERVERS);
	e = pgr_fwd_mcast(&tab, &(struct pgr_mcast_key){ 1, G });
	assert_int_equal(e->nlocal, 1);
	assert_int_equal(e->local_ifindex[0], 100);
	e = pgr_fwd_mcast(&tab, &(struct pgr_mcast_key){ 2, G });
	assert_int_equal(e->nlocal, 1);
	assert_int_equal(e->local_ifindex[0], 102);
	/* a send misses: MEMBERS; servers 11 and 12, not this one, not VDC 2's 13 */
	agent_grps_miss(&t, &env, 1, G, now);
	agent_grps_miss(&t, &env, 1, G, now);	/* asked already: nothing more */
	assert_int_equal(t.st[AGENT_GRP_members_sent], 1);
	deliver(dc, now);
	e = pgr_fwd_mcast(&tab, &(struct pgr_mcast_key){ 1, G });
	assert_int_equal(e->flags, 0);
	assert_int_equal(e->nsrv, 2);
	for (unsigned i = 0; i < 2; i++) {
		const struct pgr_mcast_srv *v = &e->srv[i];
		uint32_t node = (uint32_t)v->im_mac[0][5] / 2;

		assert_true(node == 11 || node == 12);
		assert_int_equal(v->vm_mac[5], (node + 20) * 2);	/* its member VM: DST_ID */
		/* server 12 has no primary path here: backup only */
		assert_int_equal(v->avail, node == 12 ? PGR_AVAIL_IM_BAK
						      : PGR_AVAIL_IM_PRI | PGR_AVAIL_IM_BAK);
		assert_int_equal(v->egress_ifindex[1], 22);
	}
	/* the lease runs out: stale, still used; the next miss asks again */
	now.ns += DIRGRP_LEASE_MS * 1000000ull;
	agent_grps_sync(&t, &env, now);
	e = pgr_fwd_mcast(&tab, &(struct pgr_mcast_key){ 1, G });
	assert_int_equal(e->flags, PGR_MCAST_STALE);
	assert_int_equal(e->nsrv, 2);
	agent_grps_miss(&t, &env, 1, G, now);
	assert_int_equal(t.st[AGENT_GRP_members_sent], 2);
	deliver(dc, now);
	assert_int_equal(pgr_fwd_mcast(&tab, &(struct pgr_mcast_key){ 1, G })->flags, 0);
	/* VDC 2's G: server 13 only */
	agent_grps_miss(&t, &env, 2, G, now);
	deliver(dc, now);
	e = pgr_fwd_mcast(&tab, &(struct pgr_mcast_key){ 2, G });
	assert_int_equal(e->nsrv, 1);
	assert_int_equal(e->srv[0].im_mac[0][5], 26);
	/* a group with no member anywhere: known, none; not a group: refused */
	agent_grps_miss(&t, &env, 1, G4(239, 9, 9, 9), now);
	deliver(dc, now);
	e = pgr_fwd_mcast(&tab, &(struct pgr_mcast_key){ 1, G4(239, 9, 9, 9) });
	assert_non_null(e);
	assert_int_equal(e->nsrv + e->nlocal + e->flags, 0);
	agent_grps_miss(&t, &env, 1, G4(10, 0, 0, 1), now);
	agent_grps_miss(&t, &env, 7, G, now);		/* no VM here in VDC 7 */
	assert_int_equal(t.st[AGENT_GRP_miss_bad], 2);
	/* idle: member servers forgotten; a group with no local member removed */
	now.ns += AGENT_GRP_IDLE_MS * 1000000ull;
	agent_grps_sync(&t, &env, now);
	assert_null(pgr_fwd_mcast(&tab, &(struct pgr_mcast_key){ 1, G4(239, 9, 9, 9) }));
	e = pgr_fwd_mcast(&tab, &(struct pgr_mcast_key){ 1, G });
	assert_int_equal(e->nsrv, 0);
	assert_int_equal(e->nlocal, 1);
	assert_int_equal(e->flags, PGR_MCAST_NO_SERVERS);
	assert_int_equal(t.st[AGENT_GRP_removed], 1);
	/* VM 0 leaves G: its local copy goes; 24 VMs: the broadcast keeps 16 */
	s[0].n = 0;
	env.nvms = 24;
	agent_grps_sync(&t, &env, now);
	assert_null(pgr_fwd_mcast(&tab, &(struct pgr_mcast_key){ 1, G }));
	assert_int_equal(pgr_fwd_mcast(&tab, &(struct pgr_mcast_key){ 1, BC })->nlocal,
			 PGR_MCAST_LOCAL);
	assert_int_equal(t.st[AGENT_GRP_too_many_local], 23 - PGR_MCAST_LOCAL);
	assert_int_equal(fail, 0);
	agent_grps_free(&t);
	pgr_fwd_tables_free(&tab);
	dirc_free(dc);
	dir_out_free(&dout);
	dir_free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_frame),
		cmocka_unit_test(test_query6_frame),
		cmocka_unit_test(test_igmp),
		cmocka_unit_test(test_igmp_bad),
		cmocka_unit_test(test_mld),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_core),
		cmocka_unit_test(test_grp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
