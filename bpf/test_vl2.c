/* The VL2 programs (bpf/vl2_encap.bpf.c, bpf/vl2_decap.bpf.c) through
 * BPF_PROG_TEST_RUN, from tables of {description, input frame, expected
 * verdict, expected output frame}; each case also checks that exactly its
 * own counter moved, by one packet.  Needs root; without it every case is
 * skipped. */
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

#include "bpf/vl2.h"
#include "vl2_decap.skel.h"
#include "vl2_encap.skel.h"
#include "wire/arp.h"
#include "wire/eth.h"
#include "wire/frame.h"

#define IP(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

enum { PORT = 1 /* loopback: a test run needs an existing ifindex */, NIC = 1 };
enum { RED = 1, BLUE = 2 };

static const uint32_t SELF_LA = IP(10, 96, 0, 33), ANYCAST = IP(10, 111, 255, 254),
	TOR3_LA = IP(10, 112, 0, 10), INT0_LA = IP(10, 112, 0, 1), AA_A = IP(10, 0, 0, 1),
	AA_B = IP(10, 0, 0, 2), AA_BLUE = IP(10, 1, 0, 7);
static const uint8_t VM_MAC[6] = { 0x02, 0, 0, 0x02, 0, 0x12 },
	GW_MAC[6] = { 0x02, 0x56, 0x4c, 0x32, 0, 1 },
	BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, ZERO[6] = { 0 };

static bool have_root;
static struct vl2_encap *enc;
static struct vl2_decap *dec_int, *dec_tor;

struct frame {
	uint8_t b[2048];
	size_t len;
};

static struct frame udp(uint32_t src, uint32_t dst, size_t payload)
{
	static uint8_t pl[1600];
	struct frame f;

	memset(pl, 'x', sizeof(pl));
	f.len = wire_build_udp4(f.b, sizeof(f.b), GW_MAC, VM_MAC, src, dst, 4000, 5000, pl,
				payload);
	assert_true(f.len > 0);
	return f;
}

/* `in` with two IPv4 headers pushed after its Ethernet header, as the
 * encapsulation must write them (built here independently of the program). */
static void ipv4_hdr(uint8_t *p, uint16_t tot, uint8_t tos, uint32_t s, uint32_t d)
{
	struct wire_ipv4 h = { .ver_ihl = 0x45, .tos = tos, .tot_len = htons(tot),
			       .frag = htons(0x4000), .ttl = VL2_TTL, .proto = 4,
			       .saddr = s, .daddr = d };

	h.check = wire_csum(&h, sizeof(h));	/* network order */
	memcpy(p, &h, sizeof(h));
}

static struct frame encapsulated(const struct frame *in, uint32_t outer_dst, uint32_t tor_la)
{
	struct frame f;
	uint16_t inner = (uint16_t)(in->len - WIRE_ETH_HLEN);

	memcpy(f.b, in->b, WIRE_ETH_HLEN);
	ipv4_hdr(f.b + 14, inner + 40, in->b[15], SELF_LA, outer_dst);
	ipv4_hdr(f.b + 34, inner + 20, in->b[15], SELF_LA, tor_la);
	memcpy(f.b + 54, in->b + 14, inner);
	f.len = in->len + 40;
	return f;
}

static void stats(int map_fd, uint64_t *out)
{
	struct pgr_counter c[VL2_STAT_COUNT];

	_Static_assert(sizeof(struct vl2_counter) == sizeof(struct pgr_counter), "counter layout");
	assert_int_equal(pgr_counters_read(map_fd, VL2_STAT_COUNT, c), 0);
	for (uint32_t k = 0; k < VL2_STAT_COUNT; k++)
		out[k] = c[k].packets;
}

struct kase {
	const char *what;
	struct frame in;
	int verdict;
	enum vl2_stat stat;
	bool has_out;
	struct frame out;	/* has_out: the exact frame afterwards */
};

#define NO_OUT false, { { 0 }, 0 }

static void run(int prog_fd, int stats_fd, const struct kase *k)
{
	struct __sk_buff ctx = { .ifindex = PORT };
	uint8_t out[2048];
	uint64_t before[VL2_STAT_COUNT], after[VL2_STAT_COUNT];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = k->in.b,
		    .data_size_in = (uint32_t)k->in.len, .data_out = out,
		    .data_size_out = sizeof(out), .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));

	stats(stats_fd, before);
	if (bpf_prog_test_run_opts(prog_fd, &opts))
		fail_msg("%s: test run refused: %s", k->what, strerror(errno));
	stats(stats_fd, after);
	if ((int)opts.retval != k->verdict)
		fail_msg("%s: verdict %d, expected %d", k->what, (int)opts.retval, k->verdict);
	for (uint32_t s = 0; s < VL2_STAT_COUNT; s++)
		if (after[s] - before[s] != (s == k->stat))
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
}

/* ---- setup ---------------------------------------------------------------- */
static int setup(void **state)
{
	struct vl2_port port = { .vdc = RED, .aa = AA_A };
	struct vl2_aa_key kb = { RED, AA_B }, kblue = { BLUE, AA_B };
	struct vl2_aa_entry tor3 = { .tor_la = TOR3_LA }, other = { .tor_la = INT0_LA };
	uint32_t ifindex = PORT;

	(void)state;
	have_root = geteuid() == 0;
	if (!have_root)
		return 0;
	assert_non_null(enc = vl2_encap__open());
	enc->rodata->vl2_cfg.self_la = SELF_LA;
	enc->rodata->vl2_cfg.anycast = ANYCAST;
	enc->rodata->vl2_cfg.nic_ifindex = NIC;
	memcpy((void *)enc->rodata->vl2_cfg.gw_mac, GW_MAC, 6);
	assert_int_equal(vl2_encap__load(enc), 0);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(enc->maps.vl2_ports), &ifindex, &port,
					     BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(enc->maps.vl2_aa), &kb, &tor3,
					     BPF_ANY), 0);
	/* the same AA in another tenant's space, elsewhere */
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(enc->maps.vl2_aa), &kblue, &other,
					     BPF_ANY), 0);

	assert_non_null(dec_int = vl2_decap__open());
	dec_int->rodata->vl2_cfg.self_la = INT0_LA;
	dec_int->rodata->vl2_cfg.anycast = ANYCAST;
	assert_int_equal(vl2_decap__load(dec_int), 0);
	assert_non_null(dec_tor = vl2_decap__open());
	dec_tor->rodata->vl2_cfg.self_la = TOR3_LA;
	assert_int_equal(vl2_decap__load(dec_tor), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vl2_encap__destroy(enc);
	vl2_decap__destroy(dec_int);
	vl2_decap__destroy(dec_tor);
	return 0;
}

/* ---- encapsulation ------------------------------------------------------- */
static void test_encap(void **state)
{
	struct frame a_b = udp(AA_A, AA_B, 100), big, arp_req, arp_miss, arp_reply, v6, shrt;
	struct wire_eth *e;
	struct wire_arp *a;
	int prog, st;

	(void)state;
	if (!have_root)
		skip();
	prog = bpf_program__fd(enc->progs.vl2_encap);
	st = bpf_map__fd(enc->maps.vl2_stats);
	big = udp(AA_A, AA_B, VL2_TENANT_MTU - 28 + 1);
	arp_req.len = wire_build_arp(arp_req.b, sizeof(arp_req.b), WIRE_ARP_REQUEST, BCAST,
				     VM_MAC, AA_A, ZERO, AA_B);
	memcpy(arp_req.b + 6, VM_MAC, 6);
	arp_miss.len = wire_build_arp(arp_miss.b, sizeof(arp_miss.b), WIRE_ARP_REQUEST, BCAST,
				      VM_MAC, AA_A, ZERO, IP(10, 0, 0, 99));
	memcpy(arp_miss.b + 6, VM_MAC, 6);
	arp_reply = arp_req;
	e = (struct wire_eth *)arp_reply.b;
	a = (struct wire_arp *)(e + 1);
	memcpy(e->dst, VM_MAC, 6);
	memcpy(e->src, GW_MAC, 6);
	a->op = htons(2);
	memcpy(a->sha, GW_MAC, 6);
	wire_ip_put(a->spa, AA_B);
	memcpy(a->tha, VM_MAC, 6);
	wire_ip_put(a->tpa, AA_A);
	v6.len = wire_build_eth(v6.b, sizeof(v6.b), GW_MAC, VM_MAC, WIRE_ETH_P_IPV6, "x", 1);
	/* the kernel refuses to test-run IPv4 shorter than its header */
	shrt = arp_req;
	shrt.len = WIRE_ETH_HLEN + 10;

	{
		const struct kase cases[] = {
			{ "a packet to a cached AA: two headers, anycast outside, ToR inside",
			  a_b, TC_ACT_REDIRECT, VL2_STAT_ENC_SENT, true,
			  encapsulated(&a_b, ANYCAST, TOR3_LA) },
			{ "an AA not cached: dropped (the agent resolves it)",
			  udp(AA_A, IP(10, 0, 0, 9), 10), TC_ACT_SHOT, VL2_STAT_ENC_MISS, NO_OUT },
			{ "an AA cached only in another tenant's space: a miss",
			  udp(AA_A, AA_BLUE, 10), TC_ACT_SHOT, VL2_STAT_ENC_MISS, NO_OUT },
			{ "a source address that is not the VM's AA",
			  udp(IP(10, 0, 0, 7), AA_B, 10), TC_ACT_SHOT, VL2_STAT_ENC_DROP_SPOOF, NO_OUT },
			{ "one byte over the tenant MTU", big, TC_ACT_SHOT,
			  VL2_STAT_ENC_DROP_TOO_BIG, NO_OUT },
			{ "ARP for a cached AA: answered with the gateway MAC, to the VM",
			  arp_req, TC_ACT_REDIRECT, VL2_STAT_ENC_ARP_REPLY, true, arp_reply },
			{ "ARP for an AA not cached", arp_miss, TC_ACT_SHOT, VL2_STAT_ENC_ARP_MISS, NO_OUT },
			{ "IPv6", v6, TC_ACT_SHOT, VL2_STAT_ENC_DROP_NOT_IP, NO_OUT },
			{ "a truncated ARP packet", shrt, TC_ACT_SHOT, VL2_STAT_ENC_DROP_SHORT, NO_OUT },
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			run(prog, st, &cases[i]);
	}
	{
		/* a frame from a port that is no VM's */
		uint32_t ifindex = PORT;
		struct vl2_port port;
		const struct kase k = { "not from a VM port", a_b, TC_ACT_SHOT,
					VL2_STAT_ENC_DROP_NO_PORT, NO_OUT };
		int fd = bpf_map__fd(enc->maps.vl2_ports);

		assert_int_equal(bpf_map_lookup_elem(fd, &ifindex, &port), 0);
		assert_int_equal(bpf_map_delete_elem(fd, &ifindex), 0);
		run(prog, st, &k);
		assert_int_equal(bpf_map_update_elem(fd, &ifindex, &port, BPF_ANY), 0);
	}
}

/* ---- decapsulation ------------------------------------------------------- */
static void test_decap(void **state)
{
	struct frame a_b = udp(AA_A, AA_B, 100), twice, once, bad_inner, cut, other;
	int pi, si, pt, stt;

	(void)state;
	if (!have_root)
		skip();
	pi = bpf_program__fd(dec_int->progs.vl2_decap);
	si = bpf_map__fd(dec_int->maps.vl2_stats);
	pt = bpf_program__fd(dec_tor->progs.vl2_decap);
	stt = bpf_map__fd(dec_tor->maps.vl2_stats);
	twice = encapsulated(&a_b, ANYCAST, TOR3_LA);
	/* what the intermediate passes on: the middle header and the packet */
	memcpy(once.b, twice.b, WIRE_ETH_HLEN);
	memcpy(once.b + 14, twice.b + 34, twice.len - 34);
	once.len = twice.len - 20;
	bad_inner = twice;
	bad_inner.b[34] = 0x65;		/* inner version 6 */
	cut = twice;
	cut.len = 14 + 20 + 10;
	cut.b[16] = 0;
	cut.b[17] = 30;			/* outer total length 30: valid, inner cut */
	cut.b[24] = cut.b[25] = 0;
	other = encapsulated(&a_b, IP(10, 112, 0, 2), TOR3_LA);

	{
		const struct kase at_int[] = {
			{ "intermediate: to the anycast address, outer header removed", twice,
			  TC_ACT_OK, VL2_STAT_DEC_DECAP, true, once },
			{ "intermediate: the inner packet to the ToR is not its own: passed", once,
			  TC_ACT_OK, VL2_STAT_DEC_PASS, true, once },
			{ "intermediate: IP-in-IP to another switch: passed", other, TC_ACT_OK,
			  VL2_STAT_DEC_PASS, true, other },
			{ "intermediate: a plain packet: passed", a_b, TC_ACT_OK, VL2_STAT_DEC_PASS,
			  true, a_b },
			{ "intermediate: the inner header is no IPv4", bad_inner, TC_ACT_SHOT,
			  VL2_STAT_DEC_DROP_BAD_INNER, NO_OUT },
			{ "intermediate: the inner header is cut off", cut, TC_ACT_SHOT,
			  VL2_STAT_DEC_DROP_SHORT, NO_OUT },
		};
		const struct kase at_tor[] = {
			{ "ToR: to its LA, outer header removed: the tenant's packet", once,
			  TC_ACT_OK, VL2_STAT_DEC_DECAP, true, a_b },
			{ "ToR: the anycast address is not its own: passed", twice, TC_ACT_OK,
			  VL2_STAT_DEC_PASS, true, twice },
		};

		for (size_t i = 0; i < sizeof(at_int) / sizeof(at_int[0]); i++)
			run(pi, si, &at_int[i]);
		for (size_t i = 0; i < sizeof(at_tor) / sizeof(at_tor[0]); i++)
			run(pt, stt, &at_tor[i]);
	}
}

/* ---- what the headers cost, without root ----------------------------------- */
static void test_sizes(void **state)
{
	(void)state;
	assert_int_equal(VL2_HDR_BYTES, 40);
	assert_int_equal(VL2_TENANT_MTU, 1460);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_encap),
		cmocka_unit_test(test_decap),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
