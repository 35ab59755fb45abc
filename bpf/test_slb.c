/* The load balancer's XDP program (bpf/slb.bpf.c) through BPF_PROG_TEST_RUN,
 * from a table of {description, input packet, expected verdict, counter,
 * expected output}: every verdict has a case.  Each case also checks that
 * exactly its own counter moved.  Then sequences: a flow's first, second and
 * later packets; the connection table holding a flow when membership
 * changes; a failed backend; stickiness; a SYN flood and a spoofed-ACK flood
 * that must not evict an established flow.  Needs root (CAP_BPF); without
 * it every case is skipped. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/slb_loader.h"
#include "lib/common.h"
#include "lib/rng.h"
#include "slb/maglev.h"
#include "wire/be.h"
#include "wire/ipv4.h"

#define IP(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define HTONS(x) WIRE_HTONS(x)

/* Nodes: this SLB server 3; backend VMs 20.. on servers 5..; the client. */
enum { SLB = 3, IFACE = 1 /* loopback: a test run needs a real ifindex */, OTHER_NIC = 9 };
enum { BE_A, BE_B, BE_VDC2, BE_NOROUTE, BE_BACKUP, BE_BADMAC, NBE };
enum { VDC1 = 1, VDC2 = 2 };
enum { T_WEB, T_DNS, T_EMPTY, T_VDC2, T_NOROUTE, T_BACKUP, T_STICKY, T_BADMAC };

#define CLIENT IP(198, 51, 100, 7)
#define VIP1 IP(203, 0, 113, 10)
#define VIP_EMPTY IP(203, 0, 113, 11)
#define VIP_VDC2 IP(203, 0, 113, 12)
#define VIP_NOROUTE IP(203, 0, 113, 13)
#define VIP_BACKUP IP(203, 0, 113, 14)
#define VIP_STICKY IP(203, 0, 113, 15)
#define VIP_BADMAC IP(203, 0, 113, 16)

static bool have_root;
static struct pgr_slb_dp *dp;
static struct pgr_slb_backend backends[NBE];
static uint32_t *tables[8];	/* our copy of each Maglev table */

struct mac {
	uint8_t b[6];
};

static struct mac M(uint32_t node, uint32_t tree)
{
	struct mac m;

	pgr_mac_make(m.b, pgr_id_of(node, tree));
	return m;
}

static const struct mac GW = { { 0x02, 0x00, 0x00, 0x02, 0x00, 0x40 } };	/* gateway */
static const struct mac BCAST = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
static const struct mac MCAST = { { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 } };

/* ---- packets ---------------------------------------------------------------- */

enum pk_kind { TCP, UDP, ICMP, ARP };
enum { FIN = 0x01, SYN = 0x02, RST = 0x04, ACK = 0x10 };

struct pk {
	enum pk_kind kind;
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint8_t flags;		/* TCP */
	struct mac dst, src;	/* zero: the SLB's primary MAC, the gateway */
	uint8_t ver_ihl;	/* 0: 0x45 */
	uint16_t frag;		/* host order */
	int tot_extra;		/* added to the IPv4 total length */
	uint8_t doff;		/* TCP; 0: 5 */
	int udp_len;		/* 0: right */
	size_t trunc;		/* cut the frame to this length */
};

static size_t build(const struct pk *p, uint8_t *buf)
{
	static const struct mac zero;
	size_t l4len = p->kind == TCP ? 20 : 8, len;
	uint8_t *ip = buf + 14, *l4 = ip + 20;

	memset(buf, 0, 128);
	memcpy(buf, memcmp(&p->dst, &zero, 6) ? p->dst.b : M(SLB, 0).b, 6);
	memcpy(buf + 6, memcmp(&p->src, &zero, 6) ? p->src.b : GW.b, 6);
	wire_put16(buf + 12, p->kind == ARP ? WIRE_ETH_P_ARP : WIRE_ETH_P_IPV4);
	ip[0] = p->ver_ihl ? p->ver_ihl : 0x45;
	wire_put16(ip + 2, (uint16_t)(20 + l4len + 8 + p->tot_extra));
	wire_put16(ip + 6, p->frag);
	ip[8] = 64;
	ip[9] = p->kind == TCP ? WIRE_IPPROTO_TCP : p->kind == UDP ? WIRE_IPPROTO_UDP
								   : WIRE_IPPROTO_ICMP;
	memcpy(ip + 12, &p->saddr, 4);
	memcpy(ip + 16, &p->daddr, 4);
	memcpy(ip + 10, (uint16_t[]){ wire_csum(ip, 20) }, 2);
	wire_put16(l4, p->sport);
	wire_put16(l4 + 2, p->dport);
	if (p->kind == TCP) {
		l4[12] = (uint8_t)((p->doff ? p->doff : 5) << 4);
		l4[13] = p->flags;
	} else if (p->kind == UDP) {
		wire_put16(l4 + 4, (uint16_t)(p->udp_len ? p->udp_len : 16));
	}
	memcpy(l4 + l4len, "payload!", 8);
	len = 14 + 20 + l4len + 8;
	return p->trunc ? p->trunc : len;
}

/* ---- the fixture ------------------------------------------------------------ */

static struct pgr_slb_backend be_make(uint32_t vm, uint32_t server, uint32_t vdc, uint8_t avail,
				      uint32_t nic_bak)
{
	struct pgr_slb_backend be = { .vdc = vdc, .avail = avail,
				      .egress_ifindex = { IFACE, nic_bak } };

	for (uint32_t t = 0; t < PGR_TREES; t++) {
		pgr_mac_make(be.vm_mac[t], pgr_id_of(vm, t));
		pgr_mac_make(be.im_mac[t], pgr_id_of(server, t));
	}
	return be;
}

#define AV (PGR_SLB_AVAIL_PRI | PGR_SLB_AVAIL_BAK)

static void set_table(uint32_t t, const uint32_t *members, size_t n)
{
	struct slb_maglev_member mem[8];

	for (size_t i = 0; i < n; i++)
		mem[i] = (struct slb_maglev_member){ .key = members[i] * 7919 + 1, .weight = 1,
						     .value = members[i] };
	if (!tables[t])
		tables[t] = xcalloc(PGR_SLB_RING, sizeof(uint32_t));
	assert_int_equal(slb_maglev_build(mem, n, PGR_SLB_RING, tables[t]), 0);
	assert_int_equal(pgr_slb_table_set(pgr_slb_dp_maps(dp), t, tables[t]), 0);
}

static void set_vip(uint32_t ip, uint16_t port, uint8_t proto, uint32_t t, uint32_t vdc,
		    uint32_t flags)
{
	struct pgr_slb_vip_key k = { .ip = ip, .port = HTONS(port), .proto = proto };
	struct pgr_slb_vip v = { .table = t, .vdc = vdc, .flags = flags };

	assert_int_equal(pgr_slb_vip_set(pgr_slb_dp_maps(dp), &k, &v), 0);
}

static int setup(void **state)
{
	struct pgr_slb_dp_opts o = { .conns_max = PGR_SLB_CONNS_MIN };
	const struct pgr_slb_maps *m;
	char err[256];
	uint32_t idx;

	(void)state;
	have_root = geteuid() == 0;
	if (!have_root)
		return 0;
	pgr_mac_make(o.cfg.server_mac[0], pgr_id_of(SLB, 0));
	pgr_mac_make(o.cfg.server_mac[1], pgr_id_of(SLB, 1));
	if (pgr_slb_dp_open(&dp, &o, err, sizeof(err))) {
		print_error("%s\n", err);
		return -1;
	}
	m = pgr_slb_dp_maps(dp);
	backends[BE_A] = be_make(20, 5, VDC1, AV, IFACE);
	backends[BE_B] = be_make(21, 6, VDC1, AV, IFACE);
	backends[BE_VDC2] = be_make(22, 7, VDC2, AV, IFACE);
	backends[BE_NOROUTE] = be_make(23, 8, VDC1, 0, IFACE);
	backends[BE_BACKUP] = be_make(24, 9, VDC1, PGR_SLB_AVAIL_BAK, OTHER_NIC);
	backends[BE_BADMAC] = be_make(25, 10, VDC1, AV, IFACE);
	backends[BE_BADMAC].im_mac[0][0] = 0x00;	/* not a Peregrine MAC */
	for (idx = 0; idx < BE_BADMAC; idx++)
		assert_int_equal(pgr_slb_backend_set(m, idx, &backends[idx]), 0);
	/* the loader refuses it; the program must cope with it anyway */
	assert_int_equal(pgr_slb_backend_set(m, idx, &backends[idx]), -EINVAL);
	assert_int_equal(bpf_map_update_elem(m->backends, &idx, &backends[idx], BPF_ANY), 0);
	set_table(T_WEB, (uint32_t[]){ BE_A, BE_B }, 2);
	set_table(T_DNS, (uint32_t[]){ BE_A, BE_B }, 2);
	set_table(T_EMPTY, NULL, 0);
	set_table(T_VDC2, (uint32_t[]){ BE_VDC2 }, 1);
	set_table(T_NOROUTE, (uint32_t[]){ BE_NOROUTE }, 1);
	set_table(T_BACKUP, (uint32_t[]){ BE_BACKUP }, 1);
	set_table(T_STICKY, (uint32_t[]){ BE_A, BE_B }, 2);
	set_table(T_BADMAC, (uint32_t[]){ BE_BADMAC }, 1);
	set_vip(VIP1, 80, WIRE_IPPROTO_TCP, T_WEB, VDC1, 0);
	set_vip(VIP1, 53, WIRE_IPPROTO_UDP, T_DNS, VDC1, 0);
	set_vip(VIP_EMPTY, 80, WIRE_IPPROTO_TCP, T_EMPTY, VDC1, 0);
	set_vip(VIP_VDC2, 80, WIRE_IPPROTO_TCP, T_VDC2, VDC1, 0);
	set_vip(VIP_NOROUTE, 80, WIRE_IPPROTO_TCP, T_NOROUTE, VDC1, 0);
	set_vip(VIP_BACKUP, 80, WIRE_IPPROTO_TCP, T_BACKUP, VDC1, 0);
	set_vip(VIP_STICKY, 443, WIRE_IPPROTO_TCP, T_STICKY, VDC1, PGR_SLB_VIP_STICKY);
	set_vip(VIP_BADMAC, 80, WIRE_IPPROTO_TCP, T_BADMAC, VDC1, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pgr_slb_dp_close(dp);
	for (size_t i = 0; i < ARRAY_SIZE(tables); i++)
		free(tables[i]);
	return 0;
}

/* ---- running one packet ----------------------------------------------------- */

struct run {
	int retval;
	uint8_t out[256];
	uint32_t out_len;
};

static void run_pkt_on(struct pgr_slb_dp *d, const uint8_t *in, size_t len, struct run *r)
{
	struct xdp_md ctx = { .data_end = (uint32_t)len, .ingress_ifindex = IFACE };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	assert_int_equal(bpf_prog_test_run_opts(pgr_slb_dp_prog_fd(d), &opts), 0);
	r->retval = (int)opts.retval;
	r->out_len = opts.data_size_out;
}

static void run_pkt(const uint8_t *in, size_t len, struct run *r)
{
	run_pkt_on(dp, in, len, r);
}

/* The backend the Maglev table gives a packet (our copy of the table). */
static uint32_t maglev_pick(const struct pk *p, uint32_t t, bool sticky)
{
	struct pgr_slb_flow f = { .saddr = p->saddr, .daddr = p->daddr, .sport = HTONS(p->sport),
				  .dport = HTONS(p->dport),
				  .proto = p->kind == TCP ? WIRE_IPPROTO_TCP : WIRE_IPPROTO_UDP };

	return tables[t][pgr_slb_slot(&f, sticky)];
}

/* The frame a forward to backend `be` on `tree` makes of `in`. */
static void forwarded(uint8_t *frame, uint32_t be, uint32_t tree)
{
	memcpy(frame, backends[be].im_mac[tree], 6);
	memcpy(frame + 6, backends[be].vm_mac[tree] + 3, 3);
	pgr_id_put(frame + 9, pgr_id_of(SLB, tree));
}

#define NO_BE 0xff

struct slb_case {
	const char *desc;
	struct pk in;
	int verdict;
	enum pgr_slb_stat stat;
	uint8_t be;		/* forwarded to: a backend, MAGLEV (our table's pick), NO_BE */
	uint8_t tree;
	uint8_t table;		/* MAGLEV: which table */
};

#define MAGLEV 0xfe

/* Run c, check the verdict, the output and that only its counter moved;
 * returns the backend it went to (NO_BE if none). */
static uint32_t run_case(const struct slb_case *c)
{
	struct pgr_slb_counter before[PGR_SLB_STAT_COUNT], after[PGR_SLB_STAT_COUNT];
	uint8_t in[256], want[256];
	size_t len = build(&c->in, in);
	uint32_t be = c->be;
	struct run r;

	if (c->desc[0])
		print_message("  %s\n", c->desc);
	assert_int_equal(pgr_slb_stats_read(pgr_slb_dp_maps(dp), before), 0);
	run_pkt(in, len, &r);
	if (r.retval != c->verdict)
		fail_msg("%s: verdict %d, want %d", c->desc, r.retval, c->verdict);
	assert_int_equal(pgr_slb_stats_read(pgr_slb_dp_maps(dp), after), 0);
	for (int s = 0; s < PGR_SLB_STAT_COUNT; s++) {
		uint64_t d = after[s].packets - before[s].packets;

		if (d != (s == (int)c->stat))
			fail_msg("%s: counter %s moved by %llu", c->desc, pgr_slb_stat_name(s),
				 (unsigned long long)d);
	}
	assert_int_equal(after[c->stat].bytes - before[c->stat].bytes, len);
	memcpy(want, in, len);
	if (be == MAGLEV)
		be = maglev_pick(&c->in, c->table, c->table == T_STICKY);
	if (be != NO_BE)
		forwarded(want, be, c->tree);
	assert_int_equal(r.out_len, len);
	if (memcmp(r.out, want, len))
		fail_msg("%s: output frame differs", c->desc);
	return be;
}

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define TX XDP_TX
#define DROP XDP_DROP
#define PASS XDP_PASS
#define S(name) PGR_SLB_STAT_##name
#define SYN80(src_, sport_, dst_) { .kind = TCP, .saddr = (src_), .daddr = (dst_), .sport = (sport_), \
				 .dport = 80, .flags = SYN }

static void test_verdicts(void **state)
{
	const struct slb_case cases[] = {
		{ "SYN to a VIP: the Maglev table's backend, indirect to its server", SYN80(CLIENT, 1000, VIP1),
		  TX, S(FWD_NEW), MAGLEV, 0, T_WEB },
		{ "UDP to a VIP's other service", { .kind = UDP, .saddr = CLIENT, .daddr = VIP1,
		  .sport = 5353, .dport = 53 }, TX, S(FWD_NEW), MAGLEV, 0, T_DNS },
		{ "backend reachable on tree 2 only: its backup MACs, out of tree 2's NIC",
		  SYN80(CLIENT, 1000, VIP_BACKUP), XDP_REDIRECT, S(FWD_NEW), BE_BACKUP, 1 },
		{ "ARP: passed to the stack", { .kind = ARP }, PASS, S(PASS), NO_BE },
		{ "TCP to an address that is no VIP: passed", SYN80(CLIENT, 1000, IP(10, 0, 0, 1)),
		  PASS, S(PASS), NO_BE },
		{ "ICMP to an address that is no VIP: passed", { .kind = ICMP, .saddr = CLIENT,
		  .daddr = IP(10, 0, 0, 1) }, PASS, S(PASS), NO_BE },
		{ "ICMP to a VIP", { .kind = ICMP, .saddr = CLIENT, .daddr = VIP1 }, DROP,
		  S(DROP_PROTO), NO_BE },
		{ "TCP to a VIP's port that is not served", { .kind = TCP, .saddr = CLIENT,
		  .daddr = VIP1, .sport = 1, .dport = 81, .flags = SYN }, DROP, S(DROP_NO_SERVICE), NO_BE },
		{ "UDP to a VIP's TCP port", { .kind = UDP, .saddr = CLIENT, .daddr = VIP1,
		  .sport = 1, .dport = 80 }, DROP, S(DROP_NO_SERVICE), NO_BE },
		{ "Ethernet header only", { .kind = TCP, .trunc = 14 }, DROP, S(DROP_SHORT), NO_BE },
		{ "truncated IPv4 header", { .kind = TCP, .trunc = 14 + 19 }, DROP, S(DROP_SHORT), NO_BE },
		{ "truncated TCP header", { .kind = TCP, .saddr = CLIENT, .daddr = VIP1, .dport = 80,
		  .flags = SYN, .tot_extra = -18, .trunc = 14 + 20 + 10 }, DROP, S(DROP_SHORT), NO_BE },
		{ "truncated UDP header", { .kind = UDP, .saddr = CLIENT, .daddr = VIP1, .dport = 53,
		  .tot_extra = -12, .trunc = 14 + 20 + 4 }, DROP, S(DROP_SHORT), NO_BE },
		{ "IP version 6 in an IPv4 frame", { .kind = TCP, .saddr = CLIENT, .daddr = VIP1,
		  .dport = 80, .flags = SYN, .ver_ihl = 0x65 }, DROP, S(DROP_IP_BAD), NO_BE },
		{ "IPv4 header length 4", { .kind = TCP, .saddr = CLIENT, .daddr = VIP1,
		  .dport = 80, .flags = SYN, .ver_ihl = 0x44 }, DROP, S(DROP_IP_BAD), NO_BE },
		{ "IPv4 total length beyond the frame", { .kind = TCP, .saddr = CLIENT, .daddr = VIP1,
		  .dport = 80, .flags = SYN, .tot_extra = 100 }, DROP, S(DROP_IP_BAD), NO_BE },
		{ "IPv4 options", { .kind = TCP, .saddr = CLIENT, .daddr = VIP1, .dport = 80,
		  .flags = SYN, .ver_ihl = 0x46 }, DROP, S(DROP_IP_OPTIONS), NO_BE },
		{ "first fragment (more fragments)", { .kind = TCP, .saddr = CLIENT, .daddr = VIP1,
		  .dport = 80, .flags = SYN, .frag = 0x2000 }, DROP, S(DROP_FRAG), NO_BE },
		{ "later fragment (offset)", { .kind = UDP, .saddr = CLIENT, .daddr = VIP1,
		  .dport = 53, .frag = 0x0010 }, DROP, S(DROP_FRAG), NO_BE },
		{ "TCP data offset 4", { .kind = TCP, .saddr = CLIENT, .daddr = VIP1, .dport = 80,
		  .flags = ACK, .doff = 4 }, DROP, S(DROP_L4_BAD), NO_BE },
		{ "TCP SYN+FIN", { .kind = TCP, .saddr = CLIENT, .daddr = VIP1, .dport = 80,
		  .flags = SYN | FIN }, DROP, S(DROP_L4_BAD), NO_BE },
		{ "TCP SYN+RST", { .kind = TCP, .saddr = CLIENT, .daddr = VIP1, .dport = 80,
		  .flags = SYN | RST }, DROP, S(DROP_L4_BAD), NO_BE },
		{ "TCP without flags", { .kind = TCP, .saddr = CLIENT, .daddr = VIP1, .dport = 80 },
		  DROP, S(DROP_L4_BAD), NO_BE },
		{ "UDP length below its header", { .kind = UDP, .saddr = CLIENT, .daddr = VIP1,
		  .dport = 53, .udp_len = 4 }, DROP, S(DROP_L4_BAD), NO_BE },
		{ "UDP length beyond the IPv4 packet", { .kind = UDP, .saddr = CLIENT, .daddr = VIP1,
		  .dport = 53, .udp_len = 17 }, DROP, S(DROP_L4_BAD), NO_BE },
		{ "broadcast destination MAC", { .kind = TCP, .saddr = CLIENT, .daddr = VIP1, .dport = 80,
		  .flags = SYN, .dst = BCAST }, DROP, S(DROP_GROUP), NO_BE },
		{ "multicast source MAC", { .kind = TCP, .saddr = CLIENT, .daddr = VIP1, .dport = 80,
		  .flags = SYN, .src = MCAST }, DROP, S(DROP_GROUP), NO_BE },
		{ "spoofed source 127.0.0.1", SYN80(IP(127, 0, 0, 1), 1, VIP1), DROP, S(DROP_SPOOF), NO_BE },
		{ "spoofed source 0.1.2.3", SYN80(IP(0, 1, 2, 3), 1, VIP1), DROP, S(DROP_SPOOF), NO_BE },
		{ "spoofed multicast source", SYN80(IP(224, 0, 0, 1), 1, VIP1), DROP, S(DROP_SPOOF), NO_BE },
		{ "spoofed broadcast source", SYN80(IP(255, 255, 255, 255), 1, VIP1), DROP,
		  S(DROP_SPOOF), NO_BE },
		{ "source is the VIP itself (LAND)", SYN80(VIP1, 80, VIP1), DROP, S(DROP_SPOOF), NO_BE },
		{ "VIP without backends", SYN80(CLIENT, 1, VIP_EMPTY), DROP, S(DROP_NO_BACKEND), NO_BE },
		{ "table names a backend of another VDC: never forwarded", SYN80(CLIENT, 1, VIP_VDC2),
		  DROP, S(DROP_BAD_BACKEND), NO_BE },
		{ "backend entry with a foreign MAC", SYN80(CLIENT, 1, VIP_BADMAC), DROP,
		  S(DROP_BAD_BACKEND), NO_BE },
		{ "backend's server unreachable on both trees", SYN80(CLIENT, 1, VIP_NOROUTE), DROP,
		  S(DROP_NO_ROUTE), NO_BE },
	};

	(void)state;
	if (!have_root)
		skip();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		run_case(&cases[i]);
}

static bool in_table(int fd, const struct pk *p)
{
	struct pgr_slb_flow f = { .saddr = p->saddr, .daddr = p->daddr, .sport = HTONS(p->sport),
				  .dport = HTONS(p->dport),
				  .proto = p->kind == TCP ? WIRE_IPPROTO_TCP : WIRE_IPPROTO_UDP };
	struct pgr_slb_conn c;

	return bpf_map_lookup_elem(fd, &f, &c) == 0;
}

/* A client port whose flow the web table gives to `be`. */
static uint16_t port_to(uint32_t be, uint32_t src)
{
	for (uint16_t port = 2000;; port++) {
		struct pk p = SYN80(src, port, VIP1);

		if (maglev_pick(&p, T_WEB, false) == be)
			return port;
	}
}

/* SYN, then the flow's packets: new, promoted, established; a membership
 * change keeps the flow on its backend; a new SYN on the same tuple is a new
 * connection and takes the new table's pick; a failed backend's flows go to
 * the table's pick. */
static void test_flow_life(void **state)
{
	const struct pgr_slb_maps *m;
	uint16_t port;
	struct slb_case c = { "SYN", SYN80(CLIENT, 0, VIP1), TX, S(FWD_NEW), BE_A };

	(void)state;
	if (!have_root)
		skip();
	m = pgr_slb_dp_maps(dp);
	port = port_to(BE_A, CLIENT);
	c.in.sport = port;
	run_case(&c);
	assert_true(in_table(m->news, &c.in) && !in_table(m->conns, &c.in));
	c = (struct slb_case){ "second packet: promoted", c.in, TX, S(FWD_PROMOTED), BE_A };
	c.in.flags = ACK;
	run_case(&c);
	assert_true(in_table(m->conns, &c.in));
	c.desc = "third packet: established";
	c.stat = S(FWD_ESTABLISHED);
	run_case(&c);
	/* Membership changes: the table now sends everything to B. */
	set_table(T_WEB, (uint32_t[]){ BE_B }, 1);
	c.desc = "membership changed: the established flow keeps its backend";
	run_case(&c);
	c.desc = "a new flow takes the new table's backend";
	c.in.sport = (uint16_t)(port + 1);
	c.be = BE_B;
	c.stat = S(FWD_NEW);
	run_case(&c);
	c.desc = "a SYN on an established tuple is a new connection: the table's pick";
	c.in.sport = port;
	c.in.flags = SYN;
	run_case(&c);
	assert_false(in_table(m->conns, &c.in));	/* the old connection is gone */
	c.desc = "... and its next packet follows it, not the old connection";
	c.in.flags = ACK;
	c.stat = S(FWD_PROMOTED);
	run_case(&c);
	/* Back to A for the flow, then A fails. */
	set_table(T_WEB, (uint32_t[]){ BE_A, BE_B }, 2);
	c = (struct slb_case){ "reestablish on A", SYN80(CLIENT, port, VIP1), TX, S(FWD_NEW), BE_A };
	run_case(&c);
	c.in.flags = ACK;
	c.stat = S(FWD_PROMOTED);
	run_case(&c);
	backends[BE_A].flags = PGR_SLB_BE_DOWN;
	assert_int_equal(pgr_slb_backend_set(m, BE_A, &backends[BE_A]), 0);
	set_table(T_WEB, (uint32_t[]){ BE_B }, 1);
	c.desc = "its backend failed: the flow goes to the table's pick";
	c.be = BE_B;
	c.stat = S(FWD_NEW);
	run_case(&c);
	backends[BE_A].flags = 0;
	assert_int_equal(pgr_slb_backend_set(m, BE_A, &backends[BE_A]), 0);
	set_table(T_WEB, (uint32_t[]){ BE_A, BE_B }, 2);
}

/* Sticky VIP: every connection of a client to the same backend; different
 * clients spread over both. */
static void test_sticky(void **state)
{
	uint32_t used[2] = { 0 };

	(void)state;
	if (!have_root)
		skip();
	for (uint32_t client = 1; client <= 40; client++) {
		uint32_t first = NO_BE;

		for (uint16_t port = 1000; port < 1010; port++) {
			struct slb_case c = { "", { .kind = TCP, .saddr = IP(198, 51, 100, client),
				.daddr = VIP_STICKY, .sport = port, .dport = 443, .flags = SYN },
				TX, S(FWD_NEW), MAGLEV, 0, T_STICKY };
			uint32_t be = run_case(&c);

			if (first == NO_BE)
				first = be;
			assert_int_equal(be, first);
		}
		used[first == BE_B]++;
	}
	assert_true(used[0] > 5 && used[1] > 5);
}

/* A flood of SYNs and of one-packet spoofed flows, each far larger than the
 * tables, must leave an established flow in place. */
static void test_flood_keeps_established(void **state)
{
	const uint32_t flood = 8 * PGR_SLB_CONNS_MIN;
	uint16_t port;
	struct slb_case c = { "establish", SYN80(CLIENT, 0, VIP1), TX, S(FWD_NEW), BE_A };
	uint8_t in[256];
	struct rng r;
	struct run out;

	(void)state;
	if (!have_root)
		skip();
	rng_seed(&r, 9);
	port = port_to(BE_A, IP(198, 51, 100, 99));
	c.in.saddr = IP(198, 51, 100, 99);
	c.in.sport = port;
	run_case(&c);
	c.in.flags = ACK;
	c.stat = S(FWD_PROMOTED);
	run_case(&c);
	for (uint32_t i = 0; i < flood; i++) {
		struct pk p = SYN80(IP(100, 64, 0, 0) | (uint32_t)rng_next(&r) << 16,
				    (uint16_t)rng_next(&r), VIP1);

		if (i & 1)
			p.flags = ACK;	/* spoofed mid-flow packets */
		run_pkt(in, build(&p, in), &out);
		assert_int_equal(out.retval, XDP_TX);
	}
	assert_true(in_table(pgr_slb_dp_maps(dp)->conns, &c.in));
	c.desc = "after the flood: still established on its backend";
	c.stat = S(FWD_ESTABLISHED);
	run_case(&c);
}

/* An SLB server fails: its flows arrive at another one, which has no
 * connection entry for them but the same tables, and sends every one to the
 * backend it had (consistent hashing, no shared state). */
static void test_other_server_same_backend(void **state)
{
	struct pgr_slb_dp_opts o = { .conns_max = PGR_SLB_CONNS_MIN };
	struct pgr_slb_dp *dp2;
	const struct pgr_slb_maps *m2;
	char err[256];
	uint32_t same = 0, flows = 500, used[2] = { 0 };
	struct rng r;

	(void)state;
	if (!have_root)
		skip();
	pgr_mac_make(o.cfg.server_mac[0], pgr_id_of(SLB + 1, 0));
	pgr_mac_make(o.cfg.server_mac[1], pgr_id_of(SLB + 1, 1));
	assert_int_equal(pgr_slb_dp_open(&dp2, &o, err, sizeof(err)), 0);
	m2 = pgr_slb_dp_maps(dp2);
	for (uint32_t i = 0; i < NBE - 1; i++)
		assert_int_equal(pgr_slb_backend_set(m2, i, &backends[i]), 0);
	assert_int_equal(pgr_slb_table_set(m2, T_WEB, tables[T_WEB]), 0);
	{
		struct pgr_slb_vip_key k = { .ip = VIP1, .port = HTONS(80), .proto = WIRE_IPPROTO_TCP };
		struct pgr_slb_vip v = { .table = T_WEB, .vdc = VDC1 };

		assert_int_equal(pgr_slb_vip_set(m2, &k, &v), 0);
	}
	rng_seed(&r, 77);
	for (uint32_t i = 0; i < flows; i++) {
		struct pk p = SYN80(IP(100, 64, 1, 0) | (uint32_t)rng_next(&r) << 24,
				    (uint16_t)(1024 + rng_below(&r, 60000)), VIP1);
		uint8_t in[256];
		struct run a, b;
		size_t len;

		run_pkt(in, build(&p, in), &a);	/* SYN on the first server */
		p.flags = ACK;
		len = build(&p, in);
		run_pkt(in, len, &a);		/* established there */
		run_pkt_on(dp2, in, len, &b);	/* the same packet, on the other */
		assert_int_equal(a.retval, XDP_TX);
		assert_int_equal(b.retval, XDP_TX);
		/* same backend: same destination server and VM ID; the source
		 * ID differs (each server's own) */
		same += !memcmp(a.out, b.out, 9);
		used[!memcmp(a.out, backends[BE_B].im_mac[0], 6)]++;
	}
	print_message("  %u of %u flows to the same backend on the other server\n", same, flows);
	assert_int_equal(same, flows);
	assert_true(used[0] > flows / 4 && used[1] > flows / 4);	/* both backends in use */
	pgr_slb_dp_close(dp2);
}

static void test_stat_names(void **state)
{
	(void)state;
	assert_string_equal(pgr_slb_stat_name(PGR_SLB_STAT_FWD_ESTABLISHED), "fwd_established");
	assert_string_equal(pgr_slb_stat_name(PGR_SLB_STAT_DROP_NO_ROUTE), "drop_no_route");
	for (int s = 0; s < PGR_SLB_STAT_COUNT; s++)
		assert_true(strlen(pgr_slb_stat_desc(s)) > 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat_names),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_flow_life),
		cmocka_unit_test(test_sticky),
		cmocka_unit_test(test_flood_keeps_established),
		cmocka_unit_test(test_other_server_same_backend),
	};

	if (geteuid() != 0)
		fprintf(stderr, "SKIP: the BPF_PROG_TEST_RUN cases need root\n");
	return cmocka_run_group_tests(tests, setup, teardown);
}
