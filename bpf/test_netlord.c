/* The NetLord programs (bpf/netlord_switch.bpf.c, netlord_encap.bpf.c,
 * netlord_decap.bpf.c) through BPF_PROG_TEST_RUN, from tables of
 * {description, input frame, expected verdict, expected counters, expected
 * output frame}; each case checks that exactly its own counters moved, by
 * one packet each.  Expected frames are built here, independently of the
 * programs.  Needs root; without it every case is skipped.
 *
 * A test run needs an existing ingress ifindex: every frame comes in on the
 * loopback (1); the other ports are numbers the programs only redirect to. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/loader.h"

#include "bpf/netlord.h"
#include "netlord_decap.skel.h"
#include "netlord_encap.skel.h"
#include "netlord_switch.skel.h"
#include "wire/arp.h"
#include "wire/eth.h"
#include "wire/frame.h"

#define IP(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define BIT(s) (1ull << (s))

enum { IN = 1, UP0 = 100, UP1 = 101, DOWN3 = 103, VM_B_PORT = 200, NIC = 7 };
enum { RED = 15, BLUE = 16, VID = 10, VID2 = 20, MY_PORT = 2, B_PORT = 3, CAPACITY = 2 };

static const uint32_t A = IP(10, 0, 0, 1), B = IP(10, 0, 0, 2), C = IP(10, 0, 0, 3),
	D = IP(10, 0, 0, 4), E = IP(10, 0, 0, 5), G = IP(10, 0, 0, 7);
static const uint8_t ES1[6] = { 0x02, 0x4e, 0x4c, 0, 0, 1 }, ES2[6] = { 0x02, 0x4e, 0x4c, 0, 0, 2 },
	ES3[6] = { 0x02, 0x4e, 0x4c, 0, 0, 3 }, ES4[6] = { 0x02, 0x4e, 0x4c, 0, 0, 4 },
	CORE[6] = { 0x02, 0x4e, 0x4c, 0, 0, 9 }, SRV_B[6] = { 0x02, 0, 0, 1, 0, 3 },
	VM_A[6] = { 0x02, 0, 0, 2, 0, 1 }, VM_B[6] = { 0x02, 0, 0, 2, 0, 2 },
	VM_E[6] = { 0x02, 0, 0, 2, 0, 5 }, BLUE_B[6] = { 0x02, 0, 0, 3, 0, 2 },
	BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, ZERO[6] = { 0 };

static bool have_root;
static struct netlord_switch *edge, *core;
static struct netlord_encap *enc;
static struct netlord_decap *dec;

struct frame {
	uint8_t b[2048];
	size_t len;
};

static struct frame udp(const uint8_t *dst, const uint8_t *src, uint32_t s, uint32_t d,
			uint16_t sport, size_t payload)
{
	static uint8_t pl[1600];
	struct frame f;

	memset(pl, 'x', sizeof(pl));
	f.len = wire_build_udp4(f.b, sizeof(f.b), dst, src, s, d, sport, 5000, pl, payload);
	assert_true(f.len > 0);
	return f;
}

static void ipv4_hdr(uint8_t *p, uint16_t tot, uint8_t tos, uint8_t ttl, uint32_t s, uint32_t d)
{
	struct wire_ipv4 h = { .ver_ihl = 0x45, .tos = tos, .tot_len = htons(tot),
			       .frag = htons(0x4000), .ttl = ttl, .proto = NL_IPPROTO,
			       .saddr = s, .daddr = d };

	h.check = wire_csum(&h, sizeof(h));
	memcpy(p, &h, sizeof(h));
}

/* What the NLA must send for `in`: edge MAC to edge MAC, the tag, P.T. */
static struct frame encapsulated(const struct frame *in, const uint8_t *dst_edge, uint16_t vid,
				 uint8_t dport, uint32_t tenant)
{
	struct frame f;
	uint16_t tpid = htons(0x8100), tci = htons(vid), type = htons(0x0800);

	memcpy(f.b, dst_edge, 6);
	memcpy(f.b + 6, ES1, 6);
	memcpy(f.b + 12, &tpid, 2);
	memcpy(f.b + 14, &tci, 2);
	memcpy(f.b + 16, &type, 2);
	ipv4_hdr(f.b + 18, (uint16_t)(in->len + 20), in->b[15], NL_TTL, NL_ADDR(MY_PORT, tenant),
		 NL_ADDR(dport, tenant));
	memcpy(f.b + 38, in->b, in->len);
	f.len = in->len + NL_HDR_BYTES;
	return f;
}

/* What the destination edge switch must deliver for an encapsulated frame:
 * tag off, Ethernet from the switch to the server, TTL one less. */
static struct frame delivered(const struct frame *enc_f, const uint8_t *sw, const uint8_t *srv)
{
	struct frame f;
	struct wire_ipv4 h;

	memcpy(f.b, srv, 6);
	memcpy(f.b + 6, sw, 6);
	memcpy(f.b + 12, enc_f->b + 16, 2);
	memcpy(&h, enc_f->b + 18, 20);
	h.ttl--;
	h.check = 0;
	h.check = wire_csum(&h, sizeof(h));
	memcpy(f.b + 14, &h, 20);
	memcpy(f.b + 34, enc_f->b + 38, enc_f->len - 38);
	f.len = enc_f->len - 4;
	return f;
}

static struct frame tagged(const struct frame *in, uint16_t vid)
{
	struct frame f;
	uint16_t tpid = htons(0x8100), tci = htons(vid);

	memcpy(f.b, in->b, 12);
	memcpy(f.b + 12, &tpid, 2);
	memcpy(f.b + 14, &tci, 2);
	memcpy(f.b + 16, in->b + 12, in->len - 12);
	f.len = in->len + 4;
	return f;
}

static void stats(int map_fd, uint64_t *out)
{
	struct pgr_counter c[NL_STAT_COUNT];

	_Static_assert(sizeof(struct nl_counter) == sizeof(struct pgr_counter), "counter layout");
	assert_int_equal(pgr_counters_read(map_fd, NL_STAT_COUNT, c), 0);
	for (uint32_t k = 0; k < NL_STAT_COUNT; k++)
		out[k] = c[k].packets;
}

struct kase {
	const char *what;
	struct frame in;
	int verdict;
	uint64_t moved;		/* BIT(stat) of each counter that moves by one */
	bool has_out;
	struct frame out;	/* has_out: the exact frame afterwards */
};

#define NO_OUT false, { { 0 }, 0 }

static size_t run_out(int prog_fd, int stats_fd, const struct kase *k, uint8_t *out)
{
	struct __sk_buff ctx = { .ifindex = IN };
	uint64_t before[NL_STAT_COUNT], after[NL_STAT_COUNT];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = k->in.b,
		    .data_size_in = (uint32_t)k->in.len, .data_out = out, .data_size_out = 2048,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));

	stats(stats_fd, before);
	if (bpf_prog_test_run_opts(prog_fd, &opts))
		fail_msg("%s: test run refused: %s", k->what, strerror(errno));
	stats(stats_fd, after);
	if ((int)opts.retval != k->verdict)
		fail_msg("%s: verdict %d, expected %d", k->what, (int)opts.retval, k->verdict);
	for (uint32_t s = 0; s < NL_STAT_COUNT; s++)
		if (after[s] - before[s] != !!(k->moved & BIT(s)))
			fail_msg("%s: counter %u moved by %llu", k->what, s,
				 (unsigned long long)(after[s] - before[s]));
	if (k->has_out) {
		if (opts.data_size_out != k->out.len)
			fail_msg("%s: %u bytes out, expected %zu", k->what, opts.data_size_out,
				 k->out.len);
		for (size_t i = 0; i < k->out.len; i++)
			if (out[i] != k->out.b[i])
				fail_msg("%s: byte %zu is %02x, expected %02x", k->what, i, out[i],
					 k->out.b[i]);
	}
	return opts.data_size_out;
}

static void run(int prog_fd, int stats_fd, const struct kase *k)
{
	uint8_t out[2048];

	run_out(prog_fd, stats_fd, k, out);
}

static void put(struct bpf_map *m, const void *key, const void *val)
{
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(m), key, val, BPF_ANY), 0);
}

/* ---- setup ---------------------------------------------------------------- */
static struct netlord_switch *load_switch(const uint8_t *mac, bool is_edge)
{
	struct netlord_switch *s = netlord_switch__open();
	struct nl_vlan_ports v10 = { 3, { IN, UP0, UP1 } }, v20 = { 2, { UP0, UP1 } };
	struct nl_downlink d3 = { .ifindex = DOWN3 };
	uint32_t k10 = VID, k20 = VID2, k3 = B_PORT;

	assert_non_null(s);
	memcpy((void *)s->rodata->nl_sw_cfg.mac, mac, 6);
	s->rodata->nl_sw_cfg.edge = is_edge;
	s->rodata->nl_sw_cfg.fib_capacity = CAPACITY;
	assert_int_equal(netlord_switch__load(s), 0);
	put(s->maps.nl_vlan_ports, &k10, &v10);
	put(s->maps.nl_vlan_ports, &k20, &v20);
	memcpy(d3.mac, SRV_B, 6);
	put(s->maps.nl_downlinks, &k3, &d3);
	return s;
}

static void setup_nla(void)
{
	struct nl_port pa = { .tenant = RED, .ip = A };
	struct nl_dir_key kb = { RED, B }, kd = { RED, D }, ke = { RED, E }, kg = { BLUE, G },
		kbb = { BLUE, B };
	struct nl_dir_entry eb = { .port = B_PORT }, ed = { .port = 4 }, ee = { .port = 5 },
		eg = { .port = B_PORT }, ebb = { .port = B_PORT };
	struct nl_edge_key k2 = { 0 }, k3 = { 0 };
	struct nl_vlan_choice c2 = { 1, { VID } }, c3 = { 2, { VID, VID2 } };
	struct nl_vm_key vb = { .tenant = RED };
	uint32_t ifindex = IN, vb_port = VM_B_PORT;

	memcpy(pa.mac, VM_A, 6);
	memcpy(eb.mac, VM_B, 6);
	memcpy(eb.edge_mac, ES2, 6);
	memcpy(ed.mac, VM_B, 6);
	memcpy(ed.edge_mac, ES4, 6);	/* no VLAN to ES4 */
	memcpy(ee.mac, VM_E, 6);
	memcpy(ee.edge_mac, ES3, 6);
	memcpy(eg.mac, BLUE_B, 6);
	memcpy(eg.edge_mac, ES2, 6);
	memcpy(ebb.mac, BLUE_B, 6);
	memcpy(ebb.edge_mac, ES2, 6);
	memcpy(k2.mac, ES2, 6);
	memcpy(k3.mac, ES3, 6);
	memcpy(vb.mac, VM_B, 6);

	assert_non_null(enc = netlord_encap__open());
	memcpy((void *)enc->rodata->nl_cfg.edge_mac, ES1, 6);
	enc->rodata->nl_cfg.port = MY_PORT;
	enc->rodata->nl_cfg.nic_ifindex = NIC;
	assert_int_equal(netlord_encap__load(enc), 0);
	put(enc->maps.nl_ports, &ifindex, &pa);
	put(enc->maps.nl_dir, &kb, &eb);
	put(enc->maps.nl_dir, &kd, &ed);
	put(enc->maps.nl_dir, &ke, &ee);
	put(enc->maps.nl_dir, &kg, &eg);	/* G only in blue's space */
	put(enc->maps.nl_dir, &kbb, &ebb);	/* blue reuses red's B */
	put(enc->maps.nl_paths, &k2, &c2);
	put(enc->maps.nl_paths, &k3, &c3);

	assert_non_null(dec = netlord_decap__open());
	memcpy((void *)dec->rodata->nl_cfg.nic_mac, SRV_B, 6);
	dec->rodata->nl_cfg.port = B_PORT;
	assert_int_equal(netlord_decap__load(dec), 0);
	put(dec->maps.nl_vms, &vb, &vb_port);
}

static int setup(void **state)
{
	(void)state;
	have_root = geteuid() == 0;
	if (!have_root)
		return 0;
	edge = load_switch(ES2, true);
	core = load_switch(CORE, false);
	setup_nla();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	netlord_switch__destroy(edge);
	netlord_switch__destroy(core);
	netlord_encap__destroy(enc);
	netlord_decap__destroy(dec);
	return 0;
}

static uint64_t fib_used(struct netlord_switch *s)
{
	uint32_t zero = 0;
	uint64_t used;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(s->maps.nl_fib_used), &zero, &used), 0);
	return used;
}

static bool fib_get(struct netlord_switch *s, uint16_t vid, const uint8_t *mac, uint32_t *ifindex)
{
	struct nl_fib_key k = { .vid = vid };
	struct nl_fib_entry e;

	memcpy(k.mac, mac, 6);
	if (bpf_map_lookup_elem(bpf_map__fd(s->maps.nl_fib), &k, &e))
		return false;
	*ifindex = e.ifindex;
	return true;
}

/* ---- the switch -------------------------------------------------------------- */
static void test_switch(void **state)
{
	struct frame plain = udp(ES2, ES1, NL_ADDR(MY_PORT, RED), NL_ADDR(B_PORT, RED), 1, 40);
	struct frame to_es3 = tagged(&plain, VID), bcast, to_es1, to_es9, v30, gsrc, from_es4;
	struct nl_fib_key kx = { .vid = VID };
	struct nl_fib_entry ex = { .ifindex = UP0 };
	uint32_t where;
	int prog, st;

	(void)state;
	if (!have_root)
		skip();
	prog = bpf_program__fd(core->progs.netlord_switch);
	st = bpf_map__fd(core->maps.nl_stats);
	memcpy(to_es3.b, ES3, 6);
	bcast = to_es3;
	memcpy(bcast.b, BCAST, 6);
	from_es4 = bcast;
	memcpy(from_es4.b + 6, ES4, 6);
	to_es1 = to_es3;	/* ES1 sent it: to ES1 goes back out of IN */
	memcpy(to_es1.b, ES1, 6);
	memcpy(to_es1.b + 6, ES3, 6);
	v30 = to_es3;
	v30.b[15] = 30;
	gsrc = to_es3;
	gsrc.b[6] = 0x01;
	to_es9 = to_es3;
	memcpy(to_es9.b, CORE, 6);	/* a core switch's own MAC: no router */
	memcpy(to_es9.b + 6, ES4, 6);

	{
		const struct kase cases[] = {
			{ "an unknown destination: flooded in the VLAN, the source learned",
			  to_es3, TC_ACT_SHOT, BIT(NL_STAT_SW_FLOOD) | BIT(NL_STAT_SW_LEARNED), NO_OUT },
			{ "the same again: flooded, nothing more learned", to_es3, TC_ACT_SHOT,
			  BIT(NL_STAT_SW_FLOOD), NO_OUT },
			{ "to the source just learned on the ingress port: filtered", to_es1,
			  TC_ACT_SHOT, BIT(NL_STAT_SW_DROP_SAME_PORT) | BIT(NL_STAT_SW_LEARNED), NO_OUT },
			{ "broadcast: flooded", bcast, TC_ACT_SHOT, BIT(NL_STAT_SW_FLOOD), NO_OUT },
			{ "a VLAN the port is not in", tagged(&plain, VID2), TC_ACT_SHOT,
			  BIT(NL_STAT_SW_DROP_NOT_MEMBER), NO_OUT },
			{ "a VLAN the switch does not have", v30, TC_ACT_SHOT,
			  BIT(NL_STAT_SW_DROP_NOT_MEMBER), NO_OUT },
			{ "untagged", plain, TC_ACT_SHOT, BIT(NL_STAT_SW_DROP_UNTAGGED), NO_OUT },
			{ "a group source address", gsrc, TC_ACT_SHOT, BIT(NL_STAT_SW_DROP_BAD_SRC),
			  NO_OUT },
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			run(prog, st, &cases[i]);
	}
	assert_true(fib_get(core, VID, ES1, &where));
	assert_int_equal(where, IN);
	assert_true(fib_get(core, VID, ES3, &where));
	assert_false(fib_get(core, VID2, ES1, &where));	/* per VLAN */
	assert_int_equal(fib_used(core), 2);
	{
		/* the FIB is full (capacity 2): ES4 is not learned, and the frame
		 * still goes where (VLAN, destination) says */
		const struct kase full = { "a third source with the FIB full: not learned",
					   from_es4, TC_ACT_SHOT,
					   BIT(NL_STAT_SW_FLOOD) | BIT(NL_STAT_SW_FIB_FULL), NO_OUT };
		const struct kase fwd = { "a known destination: out of its port, unchanged", to_es3,
					  TC_ACT_REDIRECT, BIT(NL_STAT_SW_FORWARD), true, to_es3 };
		const struct kase own = { "a core switch's own MAC: switched like any other",
					  to_es9, TC_ACT_SHOT,
					  BIT(NL_STAT_SW_FLOOD) | BIT(NL_STAT_SW_FIB_FULL), NO_OUT };

		run(prog, st, &full);
		assert_false(fib_get(core, VID, ES4, &where));
		assert_int_equal(fib_used(core), 2);
		run(prog, st, &own);
		/* ES3 learned behind UP0 (ES3's own frames come in there) */
		memcpy(kx.mac, ES3, 6);
		assert_int_equal(bpf_map_update_elem(bpf_map__fd(core->maps.nl_fib), &kx, &ex,
						     BPF_ANY), 0);
		run(prog, st, &fwd);
	}
}

/* ---- the edge switch's delivery on the outer IP ------------------------------ */
static void test_deliver(void **state)
{
	struct frame tenant = udp(VM_B, VM_A, A, B, 1, 100);
	struct frame in = encapsulated(&tenant, ES2, VID, B_PORT, RED), no_port, ttl1, arp_to_me;
	struct wire_ipv4 *h;
	int prog, st;

	(void)state;
	if (!have_root)
		skip();
	prog = bpf_program__fd(edge->progs.netlord_switch);
	st = bpf_map__fd(edge->maps.nl_stats);
	no_port = encapsulated(&tenant, ES2, VID, 4, RED);
	ttl1 = in;
	h = (struct wire_ipv4 *)(ttl1.b + 18);
	h->ttl = 1;
	h->check = 0;
	h->check = wire_csum(h, sizeof(*h));
	arp_to_me = in;
	arp_to_me.b[16] = 0x08;
	arp_to_me.b[17] = 0x06;

	{
		const struct kase cases[] = {
			{ "to the edge switch's MAC: tag off, out of port P to the server", in,
			  TC_ACT_REDIRECT, BIT(NL_STAT_SW_DELIVER) | BIT(NL_STAT_SW_LEARNED), true,
			  delivered(&in, ES2, SRV_B) },
			{ "P.T names a port without a server", no_port, TC_ACT_SHOT,
			  BIT(NL_STAT_SW_DROP_NO_PORT), NO_OUT },
			{ "TTL 1", ttl1, TC_ACT_SHOT, BIT(NL_STAT_SW_DROP_TTL), NO_OUT },
			{ "to its MAC but not IPv4", arp_to_me, TC_ACT_SHOT,
			  BIT(NL_STAT_SW_DROP_NOT_IP), NO_OUT },
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			run(prog, st, &cases[i]);
	}
}

/* ---- the NLA: encapsulation -------------------------------------------------- */
struct misses {
	int n;
	struct nl_event ev[8];
};

static int collect_miss(void *ctx, void *data, size_t size)
{
	struct misses *m = ctx;

	if (size == sizeof(struct nl_event) && m->n < 8)
		memcpy(&m->ev[m->n], data, size);
	m->n++;
	return 0;
}

static void test_encap(void **state)
{
	struct frame a_b = udp(VM_B, VM_A, A, B, 1, 100), big, exact, arp_req, arp_miss, arp_reply,
		v6, shrt, wrong_mac, spoof_mac;
	struct wire_eth *e;
	struct wire_arp *a;
	int prog, st;

	(void)state;
	if (!have_root)
		skip();
	prog = bpf_program__fd(enc->progs.netlord_encap);
	st = bpf_map__fd(enc->maps.nl_stats);
	big = udp(VM_B, VM_A, A, B, 1, NL_TENANT_MTU - 28 + 1);
	exact = udp(VM_B, VM_A, A, B, 1, NL_TENANT_MTU - 28);
	wrong_mac = udp(VM_E, VM_A, A, B, 1, 10);
	spoof_mac = udp(VM_B, VM_E, A, B, 1, 10);
	arp_req.len = wire_build_arp(arp_req.b, sizeof(arp_req.b), WIRE_ARP_REQUEST, BCAST, VM_A,
				     A, ZERO, B);
	arp_miss.len = wire_build_arp(arp_miss.b, sizeof(arp_miss.b), WIRE_ARP_REQUEST, BCAST,
				      VM_A, A, ZERO, C);
	arp_reply = arp_req;
	e = (struct wire_eth *)arp_reply.b;
	a = (struct wire_arp *)(e + 1);
	memcpy(e->dst, VM_A, 6);
	memcpy(e->src, VM_B, 6);
	a->op = htons(2);
	memcpy(a->sha, VM_B, 6);	/* B's own MAC, not a gateway's */
	wire_ip_put(a->spa, B);
	memcpy(a->tha, VM_A, 6);
	wire_ip_put(a->tpa, A);
	v6.len = wire_build_eth(v6.b, sizeof(v6.b), VM_B, VM_A, WIRE_ETH_P_IPV6, "x", 1);
	shrt = arp_req;
	shrt.len = WIRE_ETH_HLEN + 10;

	{
		const struct kase cases[] = {
			{ "to B: edge MAC to edge MAC, VLAN tag, P.T to P.T, the frame as it was",
			  a_b, TC_ACT_REDIRECT, BIT(NL_STAT_ENC_SENT), true,
			  encapsulated(&a_b, ES2, VID, B_PORT, RED) },
			{ "exactly the tenant MTU", exact, TC_ACT_REDIRECT, BIT(NL_STAT_ENC_SENT), true,
			  encapsulated(&exact, ES2, VID, B_PORT, RED) },
			{ "one byte over the tenant MTU", big, TC_ACT_SHOT,
			  BIT(NL_STAT_ENC_DROP_TOO_BIG), NO_OUT },
			{ "an address not cached: a miss", udp(VM_B, VM_A, A, C, 1, 10), TC_ACT_SHOT,
			  BIT(NL_STAT_ENC_MISS), NO_OUT },
			{ "an address cached only in another tenant's space: a miss",
			  udp(BLUE_B, VM_A, A, G, 1, 10), TC_ACT_SHOT, BIT(NL_STAT_ENC_MISS), NO_OUT },
			{ "a MAC that is not NL-ARP's for the IP", wrong_mac, TC_ACT_SHOT,
			  BIT(NL_STAT_ENC_DROP_WRONG_MAC), NO_OUT },
			{ "another tenant's VM MAC for a reused address",
			  udp(BLUE_B, VM_A, A, B, 1, 10), TC_ACT_SHOT,
			  BIT(NL_STAT_ENC_DROP_WRONG_MAC), NO_OUT },
			{ "a source IP not the VM's", udp(VM_B, VM_A, C, B, 1, 10), TC_ACT_SHOT,
			  BIT(NL_STAT_ENC_DROP_SPOOF), NO_OUT },
			{ "a source MAC not the VM's", spoof_mac, TC_ACT_SHOT,
			  BIT(NL_STAT_ENC_DROP_SPOOF), NO_OUT },
			{ "no VLAN to the destination's edge switch", udp(VM_B, VM_A, A, D, 1, 10),
			  TC_ACT_SHOT, BIT(NL_STAT_ENC_DROP_NO_VLAN), NO_OUT },
			{ "ARP for B: answered with B's own MAC, back to the VM", arp_req,
			  TC_ACT_REDIRECT, BIT(NL_STAT_ENC_ARP_REPLY), true, arp_reply },
			{ "ARP for an address not cached", arp_miss, TC_ACT_SHOT,
			  BIT(NL_STAT_ENC_ARP_MISS), NO_OUT },
			{ "IPv6", v6, TC_ACT_SHOT, BIT(NL_STAT_ENC_DROP_NOT_IP), NO_OUT },
			{ "a truncated ARP packet", shrt, TC_ACT_SHOT, BIT(NL_STAT_ENC_DROP_SHORT),
			  NO_OUT },
		};

		struct misses got = { 0 };
		struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(enc->maps.nl_events),
							  collect_miss, &got, NULL);

		assert_non_null(rb);
		ring_buffer__consume(rb);	/* what earlier tests left */
		got.n = 0;
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			run(prog, st, &cases[i]);
		/* the three misses reached the NLA: tenant, address, the VM's
		 * port, and whether an ARP request missed (the NLA answers it) */
		ring_buffer__consume(rb);
		ring_buffer__free(rb);
		assert_int_equal(got.n, 3);
		assert_int_equal(got.ev[0].tenant, RED);
		assert_int_equal(got.ev[0].ip, C);
		assert_int_equal(got.ev[1].ip, G);
		assert_int_equal(got.ev[2].ip, C);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(got.ev[i].ifindex, IN);
			assert_int_equal(got.ev[i].arp, i == 2);
		}
	}
	{
		uint32_t ifindex = IN;
		struct nl_port port;
		const struct kase k = { "not from a VM port", a_b, TC_ACT_SHOT,
					BIT(NL_STAT_ENC_DROP_NO_PORT), NO_OUT };
		int fd = bpf_map__fd(enc->maps.nl_ports);

		assert_int_equal(bpf_map_lookup_elem(fd, &ifindex, &port), 0);
		assert_int_equal(bpf_map_delete_elem(fd, &ifindex), 0);
		run(prog, st, &k);
		assert_int_equal(bpf_map_update_elem(fd, &ifindex, &port, BPF_ANY), 0);
	}
}

/* Flows to an edge switch with two VLANs: each flow keeps its VLAN, and the
 * flows use both (64 flows all on one VLAN: 2^-63 by chance). */
static void test_spread(void **state)
{
	unsigned seen[2] = { 0, 0 };
	uint8_t out[2048];
	int prog, st;

	(void)state;
	if (!have_root)
		skip();
	prog = bpf_program__fd(enc->progs.netlord_encap);
	st = bpf_map__fd(enc->maps.nl_stats);
	for (uint16_t sport = 1000; sport < 1064; sport++) {
		struct kase k = { "a flow to ES3", udp(VM_E, VM_A, A, E, sport, 20), TC_ACT_REDIRECT,
				  BIT(NL_STAT_ENC_SENT), NO_OUT };
		uint16_t vid[2];

		for (int rep = 0; rep < 2; rep++) {
			run_out(prog, st, &k, out);
			assert_memory_equal(out, ES3, 6);
			vid[rep] = (uint16_t)(out[14] << 8 | out[15]);
			assert_true(vid[rep] == VID || vid[rep] == VID2);
		}
		assert_int_equal(vid[0], vid[1]);
		seen[vid[0] == VID2]++;
	}
	printf("# 64 flows over 2 VLANs: %u on %d, %u on %d\n", seen[0], VID, seen[1], VID2);
	assert_true(seen[0] > 0 && seen[1] > 0);
}

/* ---- the NLA: decapsulation -------------------------------------------------- */
static void test_decap(void **state)
{
	struct frame a_b = udp(VM_B, VM_A, A, B, 1, 100), in, other_port, not_me, ipip, bad, cut,
		blue, arp;
	struct frame sent = encapsulated(&a_b, ES2, VID, B_PORT, RED);
	struct frame blue_sent, other_sent;
	int prog, st;

	(void)state;
	if (!have_root)
		skip();
	prog = bpf_program__fd(dec->progs.netlord_decap);
	st = bpf_map__fd(dec->maps.nl_stats);
	in = delivered(&sent, ES2, SRV_B);
	other_sent = encapsulated(&a_b, ES2, VID, 4, RED);
	other_port = delivered(&other_sent, ES2, SRV_B);
	not_me = in;
	not_me.b[5] = 0x99;
	ipip = in;
	ipip.b[14 + 9] = 4;
	bad = in;
	bad.b[14] = 0x46;
	cut = in;
	cut.len = 14 + 20 + 10;
	/* blue has no VM with B's MAC on this server: the same MAC in another
	 * tenant is another VM */
	blue_sent = encapsulated(&a_b, ES2, VID, B_PORT, BLUE);
	blue = delivered(&blue_sent, ES2, SRV_B);
	arp.len = wire_build_arp(arp.b, sizeof(arp.b), WIRE_ARP_REQUEST, BCAST, ES2, 0, ZERO, 0);

	{
		const struct kase cases[] = {
			{ "for this server's port: to the VM by (tenant, MAC), the frame as sent",
			  in, TC_ACT_REDIRECT, BIT(NL_STAT_DEC_DELIVER), true, a_b },
			{ "the VM's MAC in another tenant: no such VM", blue, TC_ACT_SHOT,
			  BIT(NL_STAT_DEC_DROP_NO_VM), NO_OUT },
			{ "another port's P.T: passed", other_port, TC_ACT_OK, BIT(NL_STAT_DEC_PASS),
			  true, other_port },
			{ "to another MAC: passed", not_me, TC_ACT_OK, BIT(NL_STAT_DEC_PASS), true,
			  not_me },
			{ "IPv4 of another protocol: passed", ipip, TC_ACT_OK, BIT(NL_STAT_DEC_PASS),
			  true, ipip },
			{ "ARP: passed", arp, TC_ACT_OK, BIT(NL_STAT_DEC_PASS), true, arp },
			{ "an outer header with options", bad, TC_ACT_SHOT,
			  BIT(NL_STAT_DEC_DROP_BAD_IP), NO_OUT },
			{ "cut short", cut, TC_ACT_SHOT, BIT(NL_STAT_DEC_DROP_BAD_IP), NO_OUT },
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			run(prog, st, &cases[i]);
	}
}

/* ---- the whole path: NLA, edge switch, NLA ------------------------------------ */
static void test_end_to_end(void **state)
{
	struct frame a_b = udp(VM_B, VM_A, A, B, 7, 300);
	struct kase k = { "encap", a_b, TC_ACT_REDIRECT, BIT(NL_STAT_ENC_SENT), NO_OUT };
	uint8_t out[2048];
	size_t n;

	(void)state;
	if (!have_root)
		skip();
	n = run_out(bpf_program__fd(enc->progs.netlord_encap), bpf_map__fd(enc->maps.nl_stats),
		    &k, out);
	memcpy(k.in.b, out, n);
	k.in.len = n;
	k.what = "edge switch";
	k.moved = BIT(NL_STAT_SW_DELIVER);	/* ES1 was learned in test_deliver */
	n = run_out(bpf_program__fd(edge->progs.netlord_switch), bpf_map__fd(edge->maps.nl_stats),
		    &k, out);
	memcpy(k.in.b, out, n);
	k.in.len = n;
	k.what = "decap";
	k.moved = BIT(NL_STAT_DEC_DELIVER);
	k.has_out = true;
	k.out = a_b;
	run_out(bpf_program__fd(dec->progs.netlord_decap), bpf_map__fd(dec->maps.nl_stats), &k,
		out);
}

/* ---- the addresses and what the headers cost, without root -------------------- */
static void test_sizes(void **state)
{
	uint32_t a = NL_ADDR(3, 15);

	(void)state;
	assert_memory_equal(&a, "\x03\x00\x00\x0f", 4);
	a = NL_ADDR(127, 0xabcdef);
	assert_memory_equal(&a, "\x7f\xab\xcd\xef", 4);
	assert_int_equal(NL_ADDR_PORT(a), 127);
	assert_int_equal(NL_ADDR_TENANT(a), 0xabcdef);
	assert_int_equal(NL_HDR_BYTES, 38);
	assert_int_equal(NL_TENANT_MTU, 1466);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_switch),
		cmocka_unit_test(test_deliver),
		cmocka_unit_test(test_encap),
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_decap),
		cmocka_unit_test(test_end_to_end),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
