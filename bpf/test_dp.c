/* The data-plane programs through BPF_PROG_TEST_RUN, from tables of
 * {description, input frame, expected verdict, expected output frame}.
 *
 * Each case also checks that exactly its own verdict counter moved (by one
 * packet) and nothing else did, and the ring-buffer events of misses.  Needs
 * root (CAP_BPF, CAP_NET_ADMIN); without it every case is skipped. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/loader.h"
#include "lib/rng.h"
#include "wire/frame.h"

#define IP(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

/* Nodes (wire numbering): servers 1 (this one) and 2, VMs from 10 on. */
enum { S1 = 1, S2 = 2, VA = 10, VB = 11, VC = 12, VD = 13, VE = 14, VF = 15,
       VG = 16, VH = 17, VSVC = 18, VX = 19 };
enum { PORT_A = 1 /* loopback: test runs need an existing ifindex */, PORT_C = 7,
       NIC1 = 21, NIC2 = 22 };
enum { VDC1 = 1, VDC2 = 2 };

static bool have_root;

struct mac {
	uint8_t b[6];
};

static struct mac M(uint32_t node, uint32_t tree)
{
	struct mac m;

	pgr_mac_make(m.b, pgr_id_of(node, tree));
	return m;
}

static const struct mac BCAST = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
static const struct mac FOREIGN_MAC = { { 0x00, 0x1b, 0x21, 0x0a, 0x0b, 0x0c } };
static const struct mac ZERO = { { 0 } };

/* The frame an encapsulating agent would send: DA = im, SA = dst id : src id. */
static struct mac ENC(uint32_t dst_node, uint32_t dst_tree, uint32_t src_node)
{
	struct mac m;

	pgr_id_put(m.b, pgr_id_of(dst_node, dst_tree));
	pgr_id_put(m.b + 3, pgr_id_of(src_node, 0));
	return m;
}

/* ---- a small packet builder ------------------------------------------------ */

enum pkt_kind { PKT_NONE, PKT_UDP, PKT_ARP, PKT_ETH, PKT_RAW };

struct pkt {
	enum pkt_kind kind;
	struct mac dst, src;
	uint32_t saddr, daddr;		/* UDP; ARP: spa, tpa */
	uint16_t op;			/* ARP op; PKT_ETH: EtherType */
	struct mac sha, tha;		/* ARP */
	uint8_t ver_ihl;		/* UDP: 0 = 0x45 */
	size_t trunc;			/* cut the frame to this length */
	bool dhcp;			/* UDP: 68 -> 67, a DHCP client's */
};

static size_t build(const struct pkt *p, uint8_t *buf)
{
	size_t n = 0;

	switch (p->kind) {
	case PKT_UDP:
		n = wire_build_udp4(buf, WIRE_FRAME_MAX, p->dst.b, p->src.b, p->saddr,
				    p->daddr, p->dhcp ? 68 : 4000, p->dhcp ? 67 : 5000, "payload", 7);
		if (p->ver_ihl)
			buf[WIRE_ETH_HLEN] = p->ver_ihl;
		break;
	case PKT_ARP:
		n = wire_build_arp(buf, WIRE_FRAME_MAX, p->op, p->dst.b, p->sha.b, p->saddr,
				   p->tha.b, p->daddr);
		memcpy(buf + 6, p->src.b, 6);
		break;
	case PKT_ETH:
		n = wire_build_eth(buf, WIRE_FRAME_MAX, p->dst.b, p->src.b, p->op, "x", 1);
		break;
	default:
		fail();
	}
	return p->trunc ? p->trunc : n;
}

/* ---- the fixture: server S1 with VMs A and C, a GARP map ------------------- */

static struct pgr_dp *dp1, *dp2, *dp_pass;

static const struct pgr_vm vm_a = { .ifindex = PORT_A, .vdc = VDC1, .ip = IP(10, 0, 0, 1) };
static const struct pgr_vm vm_c = { .ifindex = PORT_C, .vdc = VDC1, .ip = IP(10, 0, 0, 3) };

static struct pgr_vm vm_of(struct pgr_vm v, uint32_t node)
{
	v.id = pgr_id_of(node, 0);
	pgr_mac_make(v.mac, v.id);
	return v;
}

static struct pgr_garp_entry garp(uint32_t vm, uint32_t server, uint8_t avail, uint8_t flags)
{
	struct pgr_garp_entry g = { .avail = avail, .flags = flags,
				    .egress_ifindex = { NIC1, NIC2 } };

	for (int t = 0; t < PGR_TREES; t++) {
		pgr_mac_make(g.vm_mac[t], pgr_id_of(vm, (uint32_t)t));
		pgr_mac_make(g.im_mac[t], pgr_id_of(server, (uint32_t)t));
	}
	return g;
}

#define AV_ALL (PGR_AVAIL_VM_PRI | PGR_AVAIL_VM_BAK | PGR_AVAIL_IM_PRI | PGR_AVAIL_IM_BAK)

static void set_garp(struct pgr_dp *dp, uint32_t vdc, uint32_t ip, struct pgr_garp_entry g)
{
	struct pgr_garp_key k = { .vdc = vdc, .ip = ip };

	assert_int_equal(pgr_dp_garp_set(pgr_dp_maps(dp), &k, &g), 0);
}

static struct pgr_dp *open_dp(uint32_t server, uint32_t flags)
{
	struct pgr_dp_opts o = { .cfg.flags = flags };
	struct pgr_dp *dp;
	char err[256];

	pgr_mac_make(o.cfg.server_mac[0], pgr_id_of(server, 0));
	pgr_mac_make(o.cfg.server_mac[1], pgr_id_of(server, 1));
	if (pgr_dp_open(&dp, &o, err, sizeof(err))) {
		print_error("%s\n", err);
		return NULL;
	}
	return dp;
}

static int setup(void **state)
{
	struct pgr_vm a = vm_of(vm_a, VA), c = vm_of(vm_c, VC);
	struct pgr_garp_entry bad;
	struct pgr_garp_key bad_key = { .vdc = VDC1, .ip = IP(10, 0, 0, 99) };

	(void)state;
	have_root = geteuid() == 0;
	if (!have_root)
		return 0;
	dp1 = open_dp(S1, PGR_CFG_PEER);
	dp2 = open_dp(S2, PGR_CFG_PEER);
	dp_pass = open_dp(S1, PGR_CFG_PEER | PGR_CFG_PASS_FOREIGN);
	if (!dp1 || !dp2 || !dp_pass)
		return -1;
	assert_int_equal(pgr_dp_vm_add(pgr_dp_maps(dp1), &a, pgr_id_of(VA, 1)), 0);
	assert_int_equal(pgr_dp_vm_add(pgr_dp_maps(dp1), &c, pgr_id_of(VC, 1)), 0);
	set_garp(dp1, VDC1, IP(10, 0, 0, 2), garp(VB, S2, AV_ALL, 0));
	set_garp(dp1, VDC2, IP(10, 0, 0, 2), garp(VD, S2, AV_ALL, 0));
	set_garp(dp1, VDC1, IP(10, 0, 0, 3), garp(VC, S1, AV_ALL, PGR_GARP_LOCAL));
	set_garp(dp1, VDC1, IP(10, 0, 0, 5), garp(VE, S2, AV_ALL, PGR_GARP_DIRECT));
	set_garp(dp1, VDC1, IP(10, 0, 0, 6), garp(VF, S2, 0, 0));
	set_garp(dp1, VDC1, IP(10, 0, 0, 7), garp(VG, S2, AV_ALL & ~PGR_AVAIL_IM_PRI, 0));
	set_garp(dp1, VDC1, IP(10, 0, 0, 8), garp(VH, S1, AV_ALL, PGR_GARP_LOCAL));
	set_garp(dp1, VDC1, IP(10, 0, 0, 9), garp(VX, S2,
			AV_ALL & ~PGR_AVAIL_VM_PRI, PGR_GARP_DIRECT));
	set_garp(dp1, PGR_VDC_SERVICE, IP(10, 255, 0, 1), garp(VSVC, S2, AV_ALL, 0));
	/* The loader refuses a non-Peregrine MAC; the program must cope anyway. */
	bad = garp(VB, S2, AV_ALL, 0);
	memcpy(bad.im_mac[0], FOREIGN_MAC.b, 6);
	assert_int_equal(pgr_dp_garp_set(pgr_dp_maps(dp1), &bad_key, &bad), -EINVAL);
	assert_int_equal(bpf_map_update_elem(pgr_dp_maps(dp1)->garp, &bad_key, &bad, BPF_ANY), 0);
	/* S2 hosts B for the round trip. */
	{
		struct pgr_vm b = vm_of((struct pgr_vm){ .ifindex = 9, .vdc = VDC1,
							  .ip = IP(10, 0, 0, 2) }, VB);

		assert_int_equal(pgr_dp_vm_add(pgr_dp_maps(dp2), &b, pgr_id_of(VB, 1)), 0);
	}
	assert_int_equal(pgr_dp_vm_add(pgr_dp_maps(dp_pass), &a, pgr_id_of(VA, 1)), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pgr_dp_close(dp1);
	pgr_dp_close(dp2);
	pgr_dp_close(dp_pass);
	return 0;
}

/* ---- running one frame ------------------------------------------------------ */

enum { BIG = 2048 };	/* test frames longer than a full frame (GSO) */

struct run {
	int retval;
	uint8_t out[BIG];
	uint32_t out_len;
	uint32_t mark;		/* skb->mark afterwards */
};

static void run_prog_mark(int prog_fd, const uint8_t *in, size_t len, uint32_t ifindex,
			  uint32_t mark, uint32_t repeat, struct run *r)
{
	struct __sk_buff ctx = { .ifindex = ifindex, .mark = mark }, ctx_out = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .ctx_out = &ctx_out,
		    .ctx_size_out = sizeof(ctx_out), .repeat = repeat);

	assert_int_equal(bpf_prog_test_run_opts(prog_fd, &opts), 0);
	r->retval = (int)opts.retval;
	r->out_len = opts.data_size_out;
	r->mark = ctx_out.mark;
}

static void run_prog(int prog_fd, const uint8_t *in, size_t len, uint32_t ifindex,
		     uint32_t repeat, struct run *r)
{
	run_prog_mark(prog_fd, in, len, ifindex, 0, repeat, r);
}

/* The last event read from the ring, with the frame an IPv4 miss carries. */
static struct pgr_held last_ev;

static int on_event(void *ctx, void *data, size_t size)
{
	struct pgr_event *out = ctx;

	assert_true(size >= sizeof(*out));
	memcpy(out, data, sizeof(*out));
	assert_int_equal(size, sizeof(*out) + out->frame_len);
	assert_true(out->frame_len <= PGR_DP_HOLD_FRAME);
	memcpy(&last_ev, data, size);
	return 0;
}

enum prog { FROM_VM, FROM_NET, TO_VM };

struct dp_case {
	const char *desc;
	enum prog prog;
	struct pkt in;
	int verdict;			/* TC_ACT_* */
	enum pgr_stat stat;
	struct pkt out;			/* PKT_NONE: unchanged */
	uint32_t event;			/* PGR_EV_* expected in the ring, or 0 */
	uint32_t event_ip;
	uint32_t mark;			/* skb->mark going in */
};

static void run_case(struct pgr_dp *dp, const struct dp_case *c)
{
	struct pgr_counter before[PGR_STAT_COUNT], after[PGR_STAT_COUNT];
	uint8_t in[BIG] = { 0 }, want[BIG];
	struct pgr_event ev = { 0 };
	struct ring_buffer *rb;
	size_t inlen = build(&c->in, in), wantlen;
	int fd = c->prog == FROM_VM ? pgr_dp_from_vm_fd(dp) :
		 c->prog == FROM_NET ? pgr_dp_from_net_fd(dp) : pgr_dp_to_vm_fd(dp);
	struct run r;

	print_message("  %s\n", c->desc);
	rb = ring_buffer__new(pgr_dp_maps(dp)->events, on_event, &ev, NULL);
	assert_non_null(rb);
	ring_buffer__consume(rb);
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(pgr_dp_stats_read(pgr_dp_maps(dp), before), 0);
	run_prog_mark(fd, in, inlen, PORT_A, c->mark, 1, &r);
	assert_int_equal(r.retval, c->verdict);
	/* from_vm takes the mark off a frame sent back; to_vm leaves it */
	assert_int_equal(r.mark, c->prog == TO_VM ? c->mark : 0);
	if (c->out.kind == PKT_NONE) {
		memcpy(want, in, inlen);
		wantlen = inlen;
	} else {
		wantlen = build(&c->out, want);
	}
	assert_int_equal(r.out_len, wantlen);
	assert_memory_equal(r.out, want, wantlen);
	assert_int_equal(pgr_dp_stats_read(pgr_dp_maps(dp), after), 0);
	for (int s = 0; s < PGR_STAT_COUNT; s++) {
		uint64_t d = after[s].packets - before[s].packets;

		if (d != (s == (int)c->stat))
			fail_msg("%s: counter %s moved by %llu", c->desc, pgr_dp_stat_name(s),
				 (unsigned long long)d);
	}
	assert_int_equal(after[c->stat].bytes - before[c->stat].bytes, inlen);
	ring_buffer__consume(rb);
	assert_int_equal(ev.type, c->event);
	if (c->event) {
		assert_int_equal(ev.ip, c->event_ip);
		assert_int_equal(ev.vdc, VDC1);
		assert_int_equal(ev.vm_id, pgr_id_of(VA, 0));
		assert_int_equal(ev.ifindex, PORT_A);
		/* a held miss and DHCP carry the whole frame; a plain one nothing */
		assert_int_equal(ev.frame_len, c->stat == PGR_STAT_VM_MISS_HELD ||
					       c->stat == PGR_STAT_VM_DHCP ? inlen : 0);
		assert_memory_equal(last_ev.frame, in, ev.frame_len);
	}
	ring_buffer__free(rb);
}

#define A_IP IP(10, 0, 0, 1)
#define B_IP IP(10, 0, 0, 2)
#define UDP(d, s, sip, dip) { .kind = PKT_UDP, .dst = (d), .src = (s), .saddr = (sip), .daddr = (dip) }
#define ARPQ(hw, ip, tip) { .kind = PKT_ARP, .op = WIRE_ARP_REQUEST, .dst = BCAST, \
			      .src = (hw), .sha = (hw), .saddr = (ip), .daddr = (tip) }
#define ARPR(to, from, from_ip, to_ip) { .kind = PKT_ARP, .op = WIRE_ARP_REPLY, .dst = (to), \
			      .src = (from), .sha = (from), .saddr = (from_ip), .tha = (to), \
			      .daddr = (to_ip) }
/* The tables leave the trailing fields of a case out when they do not apply. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define REDIR TC_ACT_REDIRECT
#define SHOT TC_ACT_SHOT

static void test_from_vm(void **state)
{
	const struct dp_case cases[] = {
		{ "ARP request for a remote VM is answered with its primary MAC", FROM_VM,
		  ARPQ(M(VA, 0), A_IP, B_IP), REDIR, PGR_STAT_VM_ARP_REPLY,
		  ARPR(M(VA, 0), M(VB, 0), B_IP, A_IP) },
		{ "ARP request for a service node falls back to VDC 0", FROM_VM,
		  ARPQ(M(VA, 0), A_IP, IP(10, 255, 0, 1)), REDIR, PGR_STAT_VM_ARP_REPLY,
		  ARPR(M(VA, 0), M(VSVC, 0), IP(10, 255, 0, 1), A_IP) },
		{ "ARP miss: dropped, event to user space", FROM_VM,
		  ARPQ(M(VA, 0), A_IP, IP(10, 0, 0, 50)), SHOT, PGR_STAT_VM_ARP_MISS,
		  .event = PGR_EV_ARP_MISS, .event_ip = IP(10, 0, 0, 50) },
		{ "ARP reply from a VM is dropped", FROM_VM,
		  ARPR(M(VB, 0), M(VA, 0), A_IP, B_IP), SHOT, PGR_STAT_VM_DROP_ARP_BAD },
		{ "ARP request with a spoofed sender MAC", FROM_VM,
		  { .kind = PKT_ARP, .op = 1, .dst = BCAST, .src = M(VA, 0), .sha = M(VC, 0),
		    .saddr = A_IP, .daddr = B_IP }, SHOT, PGR_STAT_VM_DROP_ARP_BAD },
		{ "ARP request with a spoofed sender IP", FROM_VM,
		  ARPQ(M(VA, 0), IP(10, 0, 0, 3), B_IP), SHOT, PGR_STAT_VM_DROP_ARP_BAD },
		{ "gratuitous ARP for the VM's own address", FROM_VM,
		  ARPQ(M(VA, 0), A_IP, A_IP), SHOT, PGR_STAT_VM_DROP_ARP_BAD },
		{ "truncated ARP", FROM_VM,
		  { .kind = PKT_ARP, .op = 1, .dst = BCAST, .src = M(VA, 0), .sha = M(VA, 0),
		    .saddr = A_IP, .daddr = B_IP, .trunc = 14 + 20 }, SHOT, PGR_STAT_VM_DROP_SHORT },
		{ "IPv4 to a remote VM goes indirect through its server's primary MAC", FROM_VM,
		  UDP(M(VB, 0), M(VA, 0), A_IP, B_IP), REDIR, PGR_STAT_VM_INDIRECT,
		  UDP(M(S2, 0), ENC(VB, 0, VA), A_IP, B_IP) },
		{ "the VM may address the destination's backup MAC", FROM_VM,
		  UDP(M(VB, 1), M(VA, 0), A_IP, B_IP), REDIR, PGR_STAT_VM_INDIRECT,
		  UDP(M(S2, 0), ENC(VB, 0, VA), A_IP, B_IP) },
		{ "primary intermediary unavailable: backup MAC, backup tree", FROM_VM,
		  UDP(M(VG, 0), M(VA, 0), A_IP, IP(10, 0, 0, 7)), REDIR, PGR_STAT_VM_INDIRECT,
		  UDP(M(S2, 1), ENC(VG, 1, VA), A_IP, IP(10, 0, 0, 7)) },
		{ "direct pair: destination VM's primary MAC, source untouched", FROM_VM,
		  UDP(M(VE, 0), M(VA, 0), A_IP, IP(10, 0, 0, 5)), REDIR, PGR_STAT_VM_DIRECT,
		  UDP(M(VE, 0), M(VA, 0), A_IP, IP(10, 0, 0, 5)) },
		{ "direct pair, primary unavailable: backup MAC", FROM_VM,
		  UDP(M(VX, 0), M(VA, 0), A_IP, IP(10, 0, 0, 9)), REDIR, PGR_STAT_VM_DIRECT,
		  UDP(M(VX, 1), M(VA, 0), A_IP, IP(10, 0, 0, 9)) },
		{ "nothing available: dropped", FROM_VM,
		  UDP(M(VF, 0), M(VA, 0), A_IP, IP(10, 0, 0, 6)), SHOT, PGR_STAT_VM_DROP_NO_ROUTE },
		{ "same-server destination delivered locally", FROM_VM,
		  UDP(M(VC, 1), M(VA, 0), A_IP, IP(10, 0, 0, 3)), REDIR, PGR_STAT_VM_LOCAL,
		  UDP(M(VC, 0), M(VA, 0), A_IP, IP(10, 0, 0, 3)) },
		{ "local entry without a local VM", FROM_VM,
		  UDP(M(VH, 0), M(VA, 0), A_IP, IP(10, 0, 0, 8)), SHOT, PGR_STAT_VM_DROP_LOCAL_MISS },
		{ "isolation: another VDC's VM with the same IP", FROM_VM,
		  UDP(M(VD, 0), M(VA, 0), A_IP, B_IP), SHOT, PGR_STAT_VM_DROP_DST_MAC },
		{ "isolation: destination MAC of some other VM", FROM_VM,
		  UDP(M(VC, 0), M(VA, 0), A_IP, B_IP), SHOT, PGR_STAT_VM_DROP_DST_MAC },
		{ "spoofed source MAC", FROM_VM,
		  UDP(M(VB, 0), M(VC, 0), A_IP, B_IP), SHOT, PGR_STAT_VM_DROP_SRC_MAC },
		{ "spoofed source IP", FROM_VM,
		  UDP(M(VB, 0), M(VA, 0), IP(10, 0, 0, 3), B_IP), SHOT, PGR_STAT_VM_DROP_SRC_IP },
		{ "unresolved destination IP: frame and event to user space", FROM_VM,
		  UDP(M(VB, 0), M(VA, 0), A_IP, IP(10, 0, 0, 77)), SHOT, PGR_STAT_VM_MISS_HELD,
		  .event = PGR_EV_IP_MISS, .event_ip = IP(10, 0, 0, 77) },
		{ "unresolved, longer than a full frame (GSO): plain event, dropped", FROM_VM,
		  { .kind = PKT_UDP, .dst = M(VB, 0), .src = M(VA, 0), .saddr = A_IP,
		    .daddr = IP(10, 0, 0, 77), .trunc = PGR_DP_HOLD_FRAME + 1 }, SHOT,
		  PGR_STAT_VM_DROP_NO_GARP, .event = PGR_EV_IP_MISS, .event_ip = IP(10, 0, 0, 77) },
		{ "a held frame sent back, still unresolved: dropped, no event", FROM_VM,
		  UDP(M(VB, 0), M(VA, 0), A_IP, IP(10, 0, 0, 77)), SHOT,
		  PGR_STAT_VM_DROP_RESEND_MISS, .mark = PGR_MARK_RESEND },
		{ "a held frame sent back, resolved: forwarded like any frame, mark gone", FROM_VM,
		  UDP(M(VB, 0), M(VA, 0), A_IP, B_IP), REDIR, PGR_STAT_VM_INDIRECT,
		  UDP(M(S2, 0), ENC(VB, 0, VA), A_IP, B_IP), .mark = PGR_MARK_RESEND },
		{ "a held frame sent back still meets the isolation checks", FROM_VM,
		  UDP(M(VD, 0), M(VA, 0), A_IP, B_IP), SHOT, PGR_STAT_VM_DROP_DST_MAC,
		  .mark = PGR_MARK_RESEND },
		{ "a frame sent back that is not IPv4: dropped", FROM_VM,
		  ARPQ(M(VA, 0), A_IP, B_IP), SHOT, PGR_STAT_VM_DROP_ETHERTYPE,
		  .mark = PGR_MARK_RESEND },
		{ "port egress: a frame to the VM passes", TO_VM,
		  UDP(M(VA, 0), M(VB, 0), B_IP, A_IP), TC_ACT_OK, PGR_STAT_PORT_OUT },
		{ "port egress: a held frame sent back turns to the port's ingress", TO_VM,
		  UDP(M(VB, 0), M(VA, 0), A_IP, B_IP), REDIR, PGR_STAT_PORT_RESEND,
		  .mark = PGR_MARK_RESEND },
		{ "port egress: another mark passes", TO_VM,
		  UDP(M(VA, 0), M(VB, 0), B_IP, A_IP), TC_ACT_OK, PGR_STAT_PORT_OUT, .mark = 7 },
		{ "GARP entry with a foreign intermediary", FROM_VM,
		  UDP(M(VB, 0), M(VA, 0), A_IP, IP(10, 0, 0, 99)), SHOT, PGR_STAT_VM_DROP_BAD_ENTRY },
		{ "IPv4 broadcast", FROM_VM,
		  UDP(BCAST, M(VA, 0), A_IP, IP(10, 0, 0, 255)), SHOT, PGR_STAT_VM_DROP_GROUP },
		{ "DHCP DISCOVER from 0.0.0.0 to broadcast: frame to the agent", FROM_VM,
		  { .kind = PKT_UDP, .dst = BCAST, .src = M(VA, 0), .saddr = 0,
		    .daddr = 0xffffffffu, .dhcp = true }, SHOT, PGR_STAT_VM_DHCP,
		  .event = PGR_EV_DHCP, .event_ip = 0 },
		{ "DHCP renewal, unicast to any MAC: frame to the agent", FROM_VM,
		  { .kind = PKT_UDP, .dst = M(S1, 0), .src = M(VA, 0), .saddr = A_IP,
		    .daddr = IP(10, 0, 0, 254), .dhcp = true }, SHOT, PGR_STAT_VM_DHCP,
		  .event = PGR_EV_DHCP, .event_ip = A_IP },
		{ "DHCP longer than a full frame: dropped, no event", FROM_VM,
		  { .kind = PKT_UDP, .dst = BCAST, .src = M(VA, 0), .daddr = 0xffffffffu,
		    .dhcp = true, .trunc = PGR_DP_HOLD_FRAME + 1 }, SHOT, PGR_STAT_VM_DROP_DHCP },
		{ "DHCP sent back by the agent (never): dropped, no event", FROM_VM,
		  { .kind = PKT_UDP, .dst = BCAST, .src = M(VA, 0), .daddr = 0xffffffffu,
		    .dhcp = true }, SHOT, PGR_STAT_VM_DROP_DHCP, .mark = PGR_MARK_RESEND },
		{ "IPv4 header length 4", FROM_VM,
		  { .kind = PKT_UDP, .dst = M(VB, 0), .src = M(VA, 0), .saddr = A_IP,
		    .daddr = B_IP, .ver_ihl = 0x44 }, SHOT, PGR_STAT_VM_DROP_IP_BAD },
		/* (A truncated IPv4 header cannot be tested here: the kernel refuses
		 * such input to BPF_PROG_TEST_RUN with EINVAL.) */
		{ "IPv6", FROM_VM, { .kind = PKT_ETH, .dst = M(VB, 0), .src = M(VA, 0),
		  .op = WIRE_ETH_P_IPV6 }, SHOT, PGR_STAT_VM_DROP_IPV6 },
		{ "other EtherType to a multicast address", FROM_VM,
		  { .kind = PKT_ETH, .dst = { { 0x01, 0x80, 0xc2, 0, 0, 0x0e } }, .src = M(VA, 0),
		    .op = 0x88cc }, SHOT, PGR_STAT_VM_DROP_GROUP },
		{ "other EtherType, unicast", FROM_VM,
		  { .kind = PKT_ETH, .dst = M(VB, 0), .src = M(VA, 0), .op = 0x1234 },
		  SHOT, PGR_STAT_VM_DROP_ETHERTYPE },
	};

	(void)state;
	if (!have_root)
		skip();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		run_case(dp1, &cases[i]);
}

static void test_from_vm_unknown_port(void **state)
{
	const struct dp_case c = { "frame from a port that is not a VM", FROM_VM,
		UDP(M(VB, 0), M(VA, 0), A_IP, B_IP), SHOT, PGR_STAT_VM_DROP_NO_PORT };
	uint32_t port = PORT_A;
	struct pgr_vm saved;

	(void)state;
	if (!have_root)
		skip();
	assert_int_equal(bpf_map_lookup_elem(pgr_dp_maps(dp1)->ports, &port, &saved), 0);
	assert_int_equal(bpf_map_delete_elem(pgr_dp_maps(dp1)->ports, &port), 0);
	run_case(dp1, &c);
	assert_int_equal(bpf_map_update_elem(pgr_dp_maps(dp1)->ports, &port, &saved, BPF_ANY), 0);
}

/* A VDC's leg of the Internet gateway (PGR_VM_ROUTER) forwards outside
 * addresses: any source IP passes, its own MAC is still required, and it
 * still reaches only its VDC's entries. */
static void test_from_vm_router_port(void **state)
{
	const uint32_t outside = IP(198, 51, 100, 7);
	const struct dp_case cases[] = {
		{ "router leg: an outside source address is forwarded", FROM_VM,
		  UDP(M(VB, 0), M(VA, 0), outside, B_IP), REDIR, PGR_STAT_VM_INDIRECT,
		  UDP(M(S2, 0), ENC(VB, 0, VA), outside, B_IP) },
		{ "router leg: a spoofed source MAC is still dropped", FROM_VM,
		  UDP(M(VB, 0), M(VC, 0), outside, B_IP), SHOT, PGR_STAT_VM_DROP_SRC_MAC },
		{ "router leg: another VDC's VM is still out of reach", FROM_VM,
		  UDP(M(VD, 0), M(VA, 0), outside, B_IP), SHOT, PGR_STAT_VM_DROP_DST_MAC },
	};
	const struct dp_case tenant = { "a tenant's VM: the same frame is spoofed", FROM_VM,
		UDP(M(VB, 0), M(VA, 0), outside, B_IP), SHOT, PGR_STAT_VM_DROP_SRC_IP };
	uint32_t port = PORT_A;
	struct pgr_vm saved, router;

	(void)state;
	if (!have_root)
		skip();
	run_case(dp1, &tenant);
	assert_int_equal(bpf_map_lookup_elem(pgr_dp_maps(dp1)->ports, &port, &saved), 0);
	router = saved;
	router.flags = PGR_VM_ROUTER;
	assert_int_equal(bpf_map_update_elem(pgr_dp_maps(dp1)->ports, &port, &router, BPF_ANY), 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		run_case(dp1, &cases[i]);
	assert_int_equal(bpf_map_update_elem(pgr_dp_maps(dp1)->ports, &port, &saved, BPF_ANY), 0);
	run_case(dp1, &tenant);
}

static void test_from_net(void **state)
{
	const struct dp_case cases[] = {
		{ "indirect to our primary MAC: decapsulated for VM A", FROM_NET,
		  UDP(M(S1, 0), ENC(VA, 0, VB), B_IP, A_IP), REDIR, PGR_STAT_NET_DECAP,
		  UDP(M(VA, 0), M(VB, 0), B_IP, A_IP) },
		{ "indirect to our backup MAC, VM's backup ID: VM gets its own MAC", FROM_NET,
		  UDP(M(S1, 1), ENC(VA, 1, VB), B_IP, A_IP), REDIR, PGR_STAT_NET_DECAP,
		  UDP(M(VA, 0), M(VB, 0), B_IP, A_IP) },
		{ "to our MAC with a plain source: not encapsulated", FROM_NET,
		  UDP(M(S1, 0), M(VB, 0), B_IP, A_IP), SHOT, PGR_STAT_NET_DROP_BAD_ENCAP },
		{ "to our MAC with a foreign source", FROM_NET,
		  UDP(M(S1, 0), FOREIGN_MAC, B_IP, A_IP), SHOT, PGR_STAT_NET_DROP_BAD_ENCAP },
		{ "indirect for an ID that is not here", FROM_NET,
		  UDP(M(S1, 0), ENC(VB, 0, VA), A_IP, B_IP), SHOT, PGR_STAT_NET_DROP_NO_VM },
		{ "direct to a local VM's backup MAC", FROM_NET,
		  UDP(M(VA, 1), M(VB, 0), B_IP, A_IP), REDIR, PGR_STAT_NET_DIRECT,
		  UDP(M(VA, 0), M(VB, 0), B_IP, A_IP) },
		{ "direct to a local VM's primary MAC", FROM_NET,
		  UDP(M(VC, 0), M(VB, 0), B_IP, IP(10, 0, 0, 3)), REDIR, PGR_STAT_NET_DIRECT,
		  UDP(M(VC, 0), M(VB, 0), B_IP, IP(10, 0, 0, 3)) },
		{ "direct with an encapsulated-looking source", FROM_NET,
		  UDP(M(VA, 0), ENC(VA, 0, VB), B_IP, A_IP), SHOT, PGR_STAT_NET_DROP_BAD_SRC },
		{ "direct with a foreign source", FROM_NET,
		  UDP(M(VA, 0), FOREIGN_MAC, B_IP, A_IP), SHOT, PGR_STAT_NET_DROP_BAD_SRC },
		{ "broadcast", FROM_NET,
		  ARPQ(M(VB, 0), B_IP, A_IP), SHOT, PGR_STAT_NET_DROP_GROUP },
		{ "another server's MAC", FROM_NET,
		  UDP(M(S2, 0), ENC(VB, 0, VA), A_IP, B_IP), SHOT, PGR_STAT_NET_DROP_FOREIGN },
		{ "a VM that is not here", FROM_NET,
		  UDP(M(VB, 0), M(VA, 0), A_IP, B_IP), SHOT, PGR_STAT_NET_DROP_FOREIGN },
		{ "a foreign destination", FROM_NET,
		  UDP(FOREIGN_MAC, M(VA, 0), A_IP, B_IP), SHOT, PGR_STAT_NET_DROP_FOREIGN },
		{ "encapsulated source to a zero destination", FROM_NET,
		  UDP(ZERO, ENC(VA, 0, VB), B_IP, A_IP), SHOT, PGR_STAT_NET_DROP_FOREIGN },
	};

	(void)state;
	if (!have_root)
		skip();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		run_case(dp1, &cases[i]);
}

static void test_from_net_pass_foreign(void **state)
{
	const struct dp_case cases[] = {
		{ "pass mode: foreign frame to the stack", FROM_NET,
		  UDP(FOREIGN_MAC, M(VA, 0), A_IP, B_IP), TC_ACT_OK, PGR_STAT_NET_PASS },
		{ "pass mode: broadcast to the stack", FROM_NET,
		  ARPQ(M(VB, 0), B_IP, A_IP), TC_ACT_OK, PGR_STAT_NET_PASS },
		{ "pass mode: ours still decapsulated", FROM_NET,
		  UDP(M(S1, 0), ENC(VA, 0, VB), B_IP, A_IP), REDIR, PGR_STAT_NET_DECAP,
		  UDP(M(VA, 0), M(VB, 0), B_IP, A_IP) },
		{ "pass mode: malformed encapsulation still dropped", FROM_NET,
		  UDP(M(S1, 0), M(VB, 0), B_IP, A_IP), SHOT, PGR_STAT_NET_DROP_BAD_ENCAP },
	};

	(void)state;
	if (!have_root)
		skip();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		run_case(dp_pass, &cases[i]);
}

/* From VM A on S1 through from_vm, then S2's from_net: B receives A's frame
 * exactly as A sent it, for random payloads and sizes. */
static void test_round_trip(void **state)
{
	struct rng r;

	(void)state;
	if (!have_root)
		skip();
	rng_seed(&r, 44);
	for (int i = 0; i < 200; i++) {
		uint8_t in[WIRE_FRAME_MAX], payload[1400];
		size_t plen = rng_below(&r, sizeof(payload)), len;
		struct run a, b;

		for (size_t j = 0; j < plen; j++)
			payload[j] = (uint8_t)rng_next(&r);
		len = wire_build_udp4(in, sizeof(in), M(VB, rng_below(&r, 2)).b, M(VA, 0).b,
				      A_IP, B_IP, (uint16_t)rng_next(&r), 80, payload, plen);
		run_prog(pgr_dp_from_vm_fd(dp1), in, len, PORT_A, 1, &a);
		assert_int_equal(a.retval, TC_ACT_REDIRECT);
		assert_int_equal(a.out_len, len);
		run_prog(pgr_dp_from_net_fd(dp2), a.out, a.out_len, PORT_A, 1, &b);
		assert_int_equal(b.retval, TC_ACT_REDIRECT);
		memcpy(in, M(VB, 0).b, 6);	/* B receives its own MAC */
		assert_int_equal(b.out_len, len);
		assert_memory_equal(b.out, in, len);
	}
}

static int count_pair(const struct pgr_pair *p, const struct pgr_counter *c, void *arg)
{
	struct pgr_counter *out = arg;

	if (p->src_id == pgr_id_of(VA, 0) && p->dst_id == pgr_id_of(VB, 0))
		*out = *c;
	return 0;
}

static void test_traffic_matrix(void **state)
{
	uint8_t in[WIRE_FRAME_MAX];
	struct pgr_counter before = { 0 }, after = { 0 };
	struct run r;
	size_t len;

	(void)state;
	if (!have_root)
		skip();
	len = wire_build_udp4(in, sizeof(in), M(VB, 0).b, M(VA, 0).b, A_IP, B_IP, 1, 2,
			      NULL, 0);
	pgr_dp_traffic_walk(pgr_dp_maps(dp1), count_pair, &before);
	/* One run each: a repeated run would see its own rewritten frame. */
	for (int i = 0; i < 25; i++)
		run_prog(pgr_dp_from_vm_fd(dp1), in, len, PORT_A, 1, &r);
	assert_true(pgr_dp_traffic_walk(pgr_dp_maps(dp1), count_pair, &after) >= 1);
	assert_int_equal(after.packets - before.packets, 25);
	assert_int_equal(after.bytes - before.bytes, 25 * len);
	/* A dropped frame is not traffic. */
	len = wire_build_udp4(in, sizeof(in), M(VD, 0).b, M(VA, 0).b, A_IP, B_IP, 1, 2,
			      NULL, 0);
	run_prog(pgr_dp_from_vm_fd(dp1), in, len, PORT_A, 1, &r);
	assert_int_equal(r.retval, TC_ACT_SHOT);
	pgr_dp_traffic_walk(pgr_dp_maps(dp1), count_pair, &before);
	assert_int_equal(before.packets, after.packets);
}

/* ---- random frames against a naive model ------------------------------------
 * The model decides with plain byte compares, in the order the rules are
 * written in docs/dataplane.md, reading the same tables through the syscall
 * interface; the programs must agree on verdict, counter and output frame. */

struct expect {
	int verdict;
	enum pgr_stat stat;
};

static bool mac_is(const uint8_t *a, struct mac b)
{
	return memcmp(a, b.b, 6) == 0;
}

static bool model_garp(uint32_t vdc, uint32_t ip, struct pgr_garp_entry *g)
{
	struct pgr_garp_key k = { .vdc = vdc, .ip = ip }, s = { .vdc = 0, .ip = ip };
	int fd = pgr_dp_maps(dp1)->garp;

	return !bpf_map_lookup_elem(fd, &k, g) || !bpf_map_lookup_elem(fd, &s, g);
}

static bool model_vm(const uint8_t *id3, struct pgr_vm *vm)
{
	uint32_t id = (uint32_t)id3[0] << 16 | (uint32_t)id3[1] << 8 | id3[2];

	return !bpf_map_lookup_elem(pgr_dp_maps(dp1)->vms, &id, vm);
}

static bool peregrine_mac(const uint8_t *m)
{
	uint32_t id = (uint32_t)m[3] << 16 | (uint32_t)m[4] << 8 | m[5];

	return m[0] == 2 && m[1] == 0 && m[2] == 0 && (m[3] & 3) == 2 && id != 0x020000;
}

static bool id_shaped(const uint8_t *p)
{
	return (p[0] & 3) == 2 && !(p[0] == 2 && p[1] == 0 && p[2] == 0);
}

static struct expect model_ipv4(uint8_t *f, struct pgr_vm *a)
{
	struct pgr_garp_entry g;
	struct pgr_vm d;
	uint32_t saddr, daddr;
	int t;

	if ((f[14] >> 4) != 4 || (f[14] & 15) < 5)
		return (struct expect){ SHOT, PGR_STAT_VM_DROP_IP_BAD };
	if (f[0] & 1)
		return (struct expect){ SHOT, PGR_STAT_VM_DROP_GROUP };
	if (memcmp(f + 6, a->mac, 6))
		return (struct expect){ SHOT, PGR_STAT_VM_DROP_SRC_MAC };
	memcpy(&saddr, f + 26, 4);
	memcpy(&daddr, f + 30, 4);
	if (saddr != a->ip)
		return (struct expect){ SHOT, PGR_STAT_VM_DROP_SRC_IP };
	if (!model_garp(a->vdc, daddr, &g))
		return (struct expect){ SHOT, PGR_STAT_VM_MISS_HELD };
	if (memcmp(f, g.vm_mac[0], 6) && memcmp(f, g.vm_mac[1], 6))
		return (struct expect){ SHOT, PGR_STAT_VM_DROP_DST_MAC };
	if (g.flags & PGR_GARP_LOCAL) {
		if (!model_vm(g.vm_mac[0] + 3, &d))
			return (struct expect){ SHOT, PGR_STAT_VM_DROP_LOCAL_MISS };
		memcpy(f, d.mac, 6);
		return (struct expect){ REDIR, PGR_STAT_VM_LOCAL };
	}
	if (g.flags & PGR_GARP_DIRECT) {
		t = g.avail & PGR_AVAIL_VM_PRI ? 0 : g.avail & PGR_AVAIL_VM_BAK ? 1 : -1;
		if (t < 0)
			return (struct expect){ SHOT, PGR_STAT_VM_DROP_NO_ROUTE };
		memcpy(f, g.vm_mac[t], 6);
		return (struct expect){ REDIR, PGR_STAT_VM_DIRECT };
	}
	t = g.avail & PGR_AVAIL_IM_PRI ? 0 : g.avail & PGR_AVAIL_IM_BAK ? 1 : -1;
	if (t < 0)
		return (struct expect){ SHOT, PGR_STAT_VM_DROP_NO_ROUTE };
	if (!peregrine_mac(g.im_mac[t]) || !peregrine_mac(g.vm_mac[t]) || !peregrine_mac(f + 6))
		return (struct expect){ SHOT, PGR_STAT_VM_DROP_BAD_ENTRY };
	memcpy(f, g.im_mac[t], 6);
	memcpy(f + 6, g.vm_mac[t] + 3, 3);
	return (struct expect){ REDIR, PGR_STAT_VM_INDIRECT };
}

static struct expect model_arp(uint8_t *f, struct pgr_vm *a)
{
	uint8_t req[28];
	struct pgr_garp_entry g;
	uint32_t spa, tpa;

	memcpy(req, f + 14, 28);
	memcpy(&spa, req + 14, 4);
	memcpy(&tpa, req + 24, 4);
	if (memcmp(req, "\0\1\x08\0\6\4\0\1", 8) || memcmp(f + 6, a->mac, 6) ||
	    memcmp(req + 8, a->mac, 6) || spa != a->ip || tpa == a->ip)
		return (struct expect){ SHOT, PGR_STAT_VM_DROP_ARP_BAD };
	if (!model_garp(a->vdc, tpa, &g))
		return (struct expect){ SHOT, PGR_STAT_VM_ARP_MISS };
	memcpy(f, a->mac, 6);			/* to the asker */
	memcpy(f + 6, g.vm_mac[0], 6);		/* from the answer */
	f[21] = 2;				/* reply */
	memcpy(f + 14 + 8, g.vm_mac[0], 6);	/* sha */
	memcpy(f + 14 + 14, &tpa, 4);		/* spa */
	memcpy(f + 14 + 18, a->mac, 6);		/* tha */
	memcpy(f + 14 + 24, &spa, 4);		/* tpa */
	return (struct expect){ REDIR, PGR_STAT_VM_ARP_REPLY };
}

static struct expect model_from_vm(uint8_t *f)
{
	uint32_t port = PORT_A;
	struct pgr_vm a;
	uint16_t type = (uint16_t)(f[12] << 8 | f[13]);

	assert_int_equal(bpf_map_lookup_elem(pgr_dp_maps(dp1)->ports, &port, &a), 0);
	if (type == WIRE_ETH_P_IPV4)
		return model_ipv4(f, &a);
	if (type == WIRE_ETH_P_ARP)
		return model_arp(f, &a);
	if (type == WIRE_ETH_P_IPV6)
		return (struct expect){ SHOT, PGR_STAT_VM_DROP_IPV6 };
	if (f[0] & 1)
		return (struct expect){ SHOT, PGR_STAT_VM_DROP_GROUP };
	return (struct expect){ SHOT, PGR_STAT_VM_DROP_ETHERTYPE };
}

static struct expect model_from_net(uint8_t *f)
{
	struct pgr_vm vm;
	bool src_plain = peregrine_mac(f + 6);
	bool src_encap = id_shaped(f + 6) && (f[9] & 3) == 2 &&
			 !(f[9] == 2 && f[10] == 0 && f[11] == 0);

	if (f[0] & 1)
		return (struct expect){ SHOT, PGR_STAT_NET_DROP_GROUP };
	if (mac_is(f, M(S1, 0)) || mac_is(f, M(S1, 1))) {
		if (!src_encap)
			return (struct expect){ SHOT, PGR_STAT_NET_DROP_BAD_ENCAP };
		if (!model_vm(f + 6, &vm))
			return (struct expect){ SHOT, PGR_STAT_NET_DROP_NO_VM };
		memcpy(f, vm.mac, 6);
		f[6] = 2, f[7] = 0, f[8] = 0;
		return (struct expect){ REDIR, PGR_STAT_NET_DECAP };
	}
	if (!(f[0] == 2 && f[1] == 0 && f[2] == 0) || !model_vm(f + 3, &vm))
		return (struct expect){ SHOT, PGR_STAT_NET_DROP_FOREIGN };
	if (!src_plain)
		return (struct expect){ SHOT, PGR_STAT_NET_DROP_BAD_SRC };
	memcpy(f, vm.mac, 6);
	return (struct expect){ REDIR, PGR_STAT_NET_DIRECT };
}

static struct mac pick_mac(struct rng *r)
{
	const struct mac pool[] = {
		M(VA, 0), M(VA, 1), M(VB, 0), M(VB, 1), M(VC, 0), M(VC, 1), M(VD, 0), M(VE, 0),
		M(VE, 1), M(VX, 0), M(VX, 1), M(VG, 0), M(VG, 1), M(VH, 0), M(VF, 0), M(VSVC, 0),
		M(S1, 0), M(S1, 1), M(S2, 0), M(S2, 1), FOREIGN_MAC, BCAST,
		ENC(VA, 0, VB), ENC(VA, 1, VB), ENC(VB, 0, VA), ENC(VC, 0, VB), ENC(VC, 1, VA),
		{ { 0x01, 0x00, 0x5e, 0, 0, 1 } }, { { 0x02, 0x00, 0x00, 0x02, 0x00, 0x00 } },
		{ { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 } },
	};

	return pool[rng_below(r, ARRAY_SIZE(pool))];
}

static uint32_t pick_ip(struct rng *r)
{
	static const uint32_t pool[] = {
		IP(10, 0, 0, 1), IP(10, 0, 0, 2), IP(10, 0, 0, 3), IP(10, 0, 0, 5), IP(10, 0, 0, 6),
		IP(10, 0, 0, 7), IP(10, 0, 0, 8), IP(10, 0, 0, 9), IP(10, 0, 0, 99),
		IP(10, 255, 0, 1), IP(10, 0, 0, 77),
	};

	return pool[rng_below(r, ARRAY_SIZE(pool))];
}

static struct mac pick_of(struct rng *r, const struct mac *pool, size_t n)
{
	return pool[rng_below(r, (uint32_t)n)];
}

/* A random frame, leaning towards what a VM or the fabric would send so that
 * the deep paths are reached as well as the early drops. */
static struct pkt random_pkt(struct rng *r, bool from_vm)
{
	static const uint8_t ver_ihl[] = { 0x45, 0x45, 0x45, 0x45, 0x45, 0x46, 0x44, 0x65 };
	const struct mac servers[] = { M(S1, 0), M(S1, 1) };
	const struct mac encs[] = { ENC(VA, 0, VB), ENC(VA, 1, VB), ENC(VB, 0, VA),
				    ENC(VC, 0, VB), ENC(VC, 1, VA) };
	const struct mac locals[] = { M(VA, 0), M(VA, 1), M(VC, 0), M(VC, 1) };
	uint32_t kind = rng_below(r, 8);
	struct pkt p = { .dst = pick_mac(r), .src = pick_mac(r) };
	struct pgr_garp_entry g;

	if (from_vm && rng_below(r, 4))
		p.src = M(VA, 0);
	if (!from_vm && rng_below(r, 3) == 0) {
		p.dst = pick_of(r, servers, ARRAY_SIZE(servers));
		if (rng_below(r, 4))
			p.src = pick_of(r, encs, ARRAY_SIZE(encs));
	} else if (!from_vm && rng_below(r, 2)) {
		p.dst = pick_of(r, locals, ARRAY_SIZE(locals));
	}
	if (kind < 4) {
		p.kind = PKT_UDP;
		p.saddr = rng_below(r, 4) ? IP(10, 0, 0, 1) : pick_ip(r);
		p.daddr = pick_ip(r);
		p.ver_ihl = ver_ihl[rng_below(r, ARRAY_SIZE(ver_ihl))];
		if (from_vm && rng_below(r, 4) && model_garp(VDC1, p.daddr, &g))
			memcpy(p.dst.b, g.vm_mac[rng_below(r, 2)], 6);
	} else if (kind < 6) {
		p.kind = PKT_ARP;
		p.op = rng_below(r, 4) ? WIRE_ARP_REQUEST : WIRE_ARP_REPLY;
		p.sha = rng_below(r, 4) ? p.src : pick_mac(r);
		p.tha = pick_mac(r);
		p.saddr = rng_below(r, 4) ? IP(10, 0, 0, 1) : pick_ip(r);
		p.daddr = pick_ip(r);
	} else {
		p.kind = PKT_ETH;
		p.op = kind == 6 ? WIRE_ETH_P_IPV6 : 0x1234;
	}
	return p;
}

static void test_random_vs_model(void **state)
{
	struct pgr_counter before[PGR_STAT_COUNT], after[PGR_STAT_COUNT];
	unsigned hits[PGR_STAT_COUNT] = { 0 };
	struct ring_buffer *rb;
	struct pgr_event ev;
	struct rng r;

	(void)state;
	if (!have_root)
		skip();
	rb = ring_buffer__new(pgr_dp_maps(dp1)->events, on_event, &ev, NULL);
	assert_non_null(rb);
	rng_seed(&r, 2024);
	for (int i = 0; i < 4000; i++) {
		bool vm = i & 1;
		struct pkt p = random_pkt(&r, vm);
		uint8_t in[WIRE_FRAME_MAX], want[WIRE_FRAME_MAX];
		size_t len = build(&p, in);
		struct expect x;
		struct run out;

		memcpy(want, in, len);
		x = vm ? model_from_vm(want) : model_from_net(want);
		assert_int_equal(pgr_dp_stats_read(pgr_dp_maps(dp1), before), 0);
		run_prog(vm ? pgr_dp_from_vm_fd(dp1) : pgr_dp_from_net_fd(dp1), in, len, PORT_A, 1,
			 &out);
		assert_int_equal(pgr_dp_stats_read(pgr_dp_maps(dp1), after), 0);
		if (out.retval != x.verdict || after[x.stat].packets != before[x.stat].packets + 1 ||
		    out.out_len != len || memcmp(out.out, want, len))
			fail_msg("frame %d (%s): program %d/%s, model %d/%s, output %s", i,
				 vm ? "from_vm" : "from_net", out.retval,
				 pgr_dp_stat_name(after[x.stat].packets == before[x.stat].packets + 1
						  ? x.stat : PGR_STAT_COUNT),
				 x.verdict, pgr_dp_stat_name(x.stat),
				 out.out_len == len && !memcmp(out.out, want, len) ? "equal" : "differs");
		hits[x.stat]++;
		ring_buffer__consume(rb);
	}
	ring_buffer__free(rb);
	for (int st = 0; st < PGR_STAT_COUNT; st++)
		if (hits[st])
			print_message("  %-20s %u\n", pgr_dp_stat_name(st), hits[st]);
	/* The random frames reached the deep paths, not only the early drops. */
	assert_true(hits[PGR_STAT_VM_INDIRECT] > 20 && hits[PGR_STAT_VM_ARP_REPLY] > 20 &&
		    hits[PGR_STAT_NET_DECAP] > 20 && hits[PGR_STAT_VM_LOCAL] > 5 &&
		    hits[PGR_STAT_VM_DIRECT] > 5 && hits[PGR_STAT_NET_DIRECT] > 20 &&
		    hits[PGR_STAT_VM_DROP_DST_MAC] > 20 && hits[PGR_STAT_VM_DROP_NO_ROUTE] > 5 &&
		    hits[PGR_STAT_VM_DROP_BAD_ENTRY] > 5 && hits[PGR_STAT_NET_DROP_NO_VM] > 5);
}

static void test_stat_names(void **state)
{
	(void)state;
	assert_string_equal(pgr_dp_stat_name(PGR_STAT_VM_ARP_REPLY), "vm_arp_reply");
	assert_string_equal(pgr_dp_stat_name(PGR_STAT_EVENT_LOST), "event_lost");
	for (int s = 0; s < PGR_STAT_COUNT; s++)
		assert_true(strlen(pgr_dp_stat_desc(s)) > 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat_names),
		cmocka_unit_test(test_from_vm),
		cmocka_unit_test(test_from_vm_unknown_port),
		cmocka_unit_test(test_from_vm_router_port),
		cmocka_unit_test(test_from_net),
		cmocka_unit_test(test_from_net_pass_foreign),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_traffic_matrix),
		cmocka_unit_test(test_random_vs_model),
	};

	if (geteuid() != 0)
		fprintf(stderr, "SKIP: the BPF_PROG_TEST_RUN cases need root\n");
	return cmocka_run_group_tests(tests, setup, teardown);
}
