/* The BCube programs (bpf/bcube_send.bpf.c, bpf/bcube_fwd.bpf.c) through
 * BPF_PROG_TEST_RUN, from tables of {description, input frame, expected
 * verdict, expected output frame}; each case also checks that exactly its
 * own counter moved, by one packet.  The frames with a BCube header are
 * built here independently of the programs.  Needs root; without it every
 * case but the sizes is skipped.
 *
 * The server under test is 5 = digits (1, 1) of a BCube(4, 1): its level-0
 * neighbours are 4, 6, 7 (digit 0, 2, 3), its level-1 neighbours 1, 9, 13. */
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

#include "bpf/bcube.h"
#include "bcube_fwd.skel.h"
#include "bcube_send.skel.h"
#include "wire/eth.h"
#include "wire/frame.h"

#define IP(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

enum { SELF = 5, CTX_IF = 1 /* loopback: a test run needs an existing ifindex */,
       NIC1_IF = 4242 /* only stored by bpf_redirect, never used */ };

static const uint32_t SELF_IP = IP(10, 210, 0, 6), IP_6 = IP(10, 210, 0, 7),
	IP_1 = IP(10, 210, 0, 2), IP_7 = IP(10, 210, 0, 8), IP_BAD = IP(10, 210, 0, 99),
	IP_2 = IP(10, 210, 0, 3), IP_NONE = IP(10, 210, 0, 50),
	IP_2B = IP(10, 210, 0, 60) /* the same two paths, for the TCP cases */;
static const uint8_t NIC0_MAC[6] = { 0x02, 0, 0, 0x05, 0, 0 },
	NIC1_MAC[6] = { 0x02, 0, 0, 0x05, 0, 1 }, GW_MAC[6] = { 0x02, 0x42, 0x43, 0, 0, 1 },
	MAC_4[6] = { 0x02, 0, 0, 0x04, 0, 0 }, MAC_6[6] = { 0x02, 0, 0, 0x06, 0, 0 },
	MAC_1[6] = { 0x02, 0, 0, 0x01, 0, 1 }, BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static bool have_root;
static struct bcube_send *snd;
static struct bcube_fwd *fwd;

struct frame {
	uint8_t b[2048];
	size_t len;
};

static struct frame udp(uint32_t src, uint32_t dst, uint16_t sport, size_t payload)
{
	static uint8_t pl[1600];
	struct frame f;

	memset(pl, 'x', sizeof(pl));
	f.len = wire_build_udp4(f.b, sizeof(f.b), GW_MAC, NIC0_MAC, src, dst, sport, 5000, pl,
				payload);
	assert_true(f.len > 0);
	return f;
}

/* `ip` (an Ethernet frame) with a BCube header put in after new Ethernet
 * addresses; nha as a string of entries. */
static struct frame bcube(const struct frame *ip, const uint8_t *dst_mac, const uint8_t *src_mac,
			  uint32_t src, uint32_t dst, uint8_t proto, uint8_t nhi, const char *nha,
			  size_t nha_len)
{
	struct bcube_hdr h = { .dst = htonl(dst), .src = htonl(src), .proto = proto,
			       .hlen = BCUBE_HDR_BYTES, .nhi = nhi, .nha_len = (uint8_t)nha_len };
	struct frame f;

	memcpy(h.nha, nha, nha_len);
	memcpy(f.b, dst_mac, 6);
	memcpy(f.b + 6, src_mac, 6);
	f.b[12] = BCUBE_ETH_P >> 8;
	f.b[13] = BCUBE_ETH_P & 0xff;
	memcpy(f.b + 14, &h, sizeof(h));
	memcpy(f.b + 14 + sizeof(h), ip->b + 14, ip->len - 14);
	f.len = ip->len + sizeof(h);
	return f;
}

/* A probe frame: header, then struct bcube_probe with bw (Mbit/s). */
static struct frame probe(const uint8_t *dst_mac, const uint8_t *src_mac, uint32_t src,
			  uint32_t dst, uint8_t nhi, const char *nha, size_t nha_len, uint32_t bw)
{
	struct bcube_probe p = { .seq = htonl(7), .bw_mbps = htonl(bw), .path = 1,
				 .sent_ns = 12345 };
	struct frame body = { .len = 14 + sizeof(p) };

	memcpy(body.b + 14, &p, sizeof(p));
	return bcube(&body, dst_mac, src_mac, src, dst, BCUBE_P_PROBE, nhi, nha, nha_len);
}

static void set_probe_bw(struct frame *f, uint32_t bw)
{
	uint32_t v = htonl(bw);

	memcpy(f->b + 14 + BCUBE_HDR_BYTES + offsetof(struct bcube_probe, bw_mbps), &v, 4);
}

static void stats(int map_fd, uint64_t *out)
{
	struct pgr_counter c[BCUBE_STAT_COUNT];

	_Static_assert(sizeof(struct bcube_counter) == sizeof(struct pgr_counter), "counter layout");
	assert_int_equal(pgr_counters_read(map_fd, BCUBE_STAT_COUNT, c), 0);
	for (uint32_t k = 0; k < BCUBE_STAT_COUNT; k++)
		out[k] = c[k].packets;
}

struct kase {
	const char *what;
	struct frame in;
	uint32_t mark_in;
	int verdict;
	enum bcube_stat stat;
	bool has_out;
	struct frame out;	/* has_out: the exact frame afterwards (but the id) */
	uint32_t mark_out;
};

#define NO_OUT false, { { 0 }, 0 }, 0

/* Bytes 22..25 are the header's id: the flow's hash, which the kernel
 * computes; a sent frame's id is checked apart (test_send_spreads). */
static void run(int prog_fd, int stats_fd, const struct kase *k, bool skip_id)
{
	struct __sk_buff ctx = { .ifindex = CTX_IF, .mark = k->mark_in }, ctx_out = { 0 };
	uint8_t out[2048];
	uint64_t before[BCUBE_STAT_COUNT], after[BCUBE_STAT_COUNT];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = k->in.b,
		    .data_size_in = (uint32_t)k->in.len, .data_out = out,
		    .data_size_out = sizeof(out), .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .ctx_out = &ctx_out, .ctx_size_out = sizeof(ctx_out));

	stats(stats_fd, before);
	if (bpf_prog_test_run_opts(prog_fd, &opts))
		fail_msg("%s: test run refused: %s", k->what, strerror(errno));
	stats(stats_fd, after);
	if ((int)opts.retval != k->verdict)
		fail_msg("%s: verdict %d, expected %d", k->what, (int)opts.retval, k->verdict);
	for (uint32_t s = 0; s < BCUBE_STAT_COUNT; s++)
		if (after[s] - before[s] != (s == k->stat))
			fail_msg("%s: counter %u moved by %llu", k->what, s,
				 (unsigned long long)(after[s] - before[s]));
	if (!k->has_out)
		return;
	if (opts.data_size_out != k->out.len)
		fail_msg("%s: %u bytes out, expected %zu", k->what, opts.data_size_out, k->out.len);
	for (size_t i = 0; i < k->out.len; i++) {
		if (skip_id && i >= 22 && i < 26)
			continue;
		if (out[i] != k->out.b[i])
			fail_msg("%s: byte %zu is %02x, expected %02x", k->what, i, out[i],
				 k->out.b[i]);
	}
	if (ctx_out.mark != k->mark_out)
		fail_msg("%s: mark %08x, expected %08x", k->what, ctx_out.mark, k->mark_out);
}

/* ---- setup ---------------------------------------------------------------- */
static void config(struct bcube_config *c)
{
	c->self = htonl(SELF);
	c->self_ip = SELF_IP;
	c->net = IP(10, 210, 0, 0);
	c->mask = IP(255, 255, 0, 0);
	c->n = 4;
	c->k = 1;
	c->digits[0] = 1;
	c->digits[1] = 1;
}

static void put(int fd, uint32_t key, const void *v)
{
	assert_int_equal(bpf_map_update_elem(fd, &key, v, BPF_ANY), 0);
}

static void route(uint32_t ip, uint32_t dst, const struct bcube_path *paths, uint8_t npaths)
{
	struct bcube_route r = { .dst = htonl(dst), .npaths = npaths };

	memcpy(r.paths, paths, npaths * sizeof(*paths));
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(snd->maps.bcube_routes), &ip, &r,
					     BPF_ANY), 0);
}

static int setup(void **state)
{
	struct bcube_nic nic0 = { .ifindex = CTX_IF, .avail_mbps = 800 },
		nic1 = { .ifindex = NIC1_IF, .avail_mbps = 300 };
	struct bcube_nbr n4 = { .up = 1 }, n6 = { .up = 1 }, n7 = { .up = 0 }, n1 = { .up = 1 };
	struct bcube_path p6 = { 1, { bcube_nha_entry(0, 2) } },
		p1 = { 1, { bcube_nha_entry(1, 0) } }, p7 = { 1, { bcube_nha_entry(0, 3) } },
		/* to 2 = (2, 0): two parallel paths, first level 0 then level 1, or
		 * the other way round */
		p2[2] = { { 2, { bcube_nha_entry(0, 2), bcube_nha_entry(1, 0) } },
			  { 2, { bcube_nha_entry(1, 0), bcube_nha_entry(0, 2) } } };
	int nics, nbrs;

	(void)state;
	have_root = geteuid() == 0;
	if (!have_root)
		return 0;
	memcpy(nic0.mac, NIC0_MAC, 6);
	memcpy(nic1.mac, NIC1_MAC, 6);
	memcpy(n4.mac, MAC_4, 6);
	memcpy(n6.mac, MAC_6, 6);
	memcpy(n1.mac, MAC_1, 6);
	assert_non_null(snd = bcube_send__open());
	config((struct bcube_config *)&snd->rodata->bcube_cfg);
	assert_int_equal(bcube_send__load(snd), 0);
	assert_non_null(fwd = bcube_fwd__open());
	config((struct bcube_config *)&fwd->rodata->bcube_cfg);
	/* one table of NICs and neighbours, as the daemon shares them */
	assert_int_equal(bpf_map__reuse_fd(fwd->maps.bcube_nics,
					   bpf_map__fd(snd->maps.bcube_nics)), 0);
	assert_int_equal(bpf_map__reuse_fd(fwd->maps.bcube_nbrs,
					   bpf_map__fd(snd->maps.bcube_nbrs)), 0);
	assert_int_equal(bcube_fwd__load(fwd), 0);
	nics = bpf_map__fd(snd->maps.bcube_nics);
	nbrs = bpf_map__fd(snd->maps.bcube_nbrs);
	put(nics, 0, &nic0);
	put(nics, 1, &nic1);
	put(nbrs, 0 * BCUBE_MAX_N + 0, &n4);
	put(nbrs, 0 * BCUBE_MAX_N + 2, &n6);
	put(nbrs, 0 * BCUBE_MAX_N + 3, &n7);
	put(nbrs, 1 * BCUBE_MAX_N + 0, &n1);
	route(IP_6, 6, &p6, 1);
	route(IP_1, 1, &p1, 1);
	route(IP_7, 7, &p7, 1);
	route(IP_BAD, 9, &p6, 0);
	route(IP_2, 2, p2, 2);
	route(IP_2B, 2, p2, 2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	bcube_send__destroy(snd);
	bcube_fwd__destroy(fwd);
	return 0;
}

/* ---- the sender ------------------------------------------------------------ */
static void test_send(void **state)
{
	struct frame to6 = udp(SELF_IP, IP_6, 4000, 100), to1 = udp(SELF_IP, IP_1, 4000, 100),
		big = udp(SELF_IP, IP_6, 4000, BCUBE_TENANT_MTU - 28 + 1),
		fits = udp(SELF_IP, IP_6, 4000, BCUBE_TENANT_MTU - 28), outside, arp, own, bad;
	const char e6[] = { (char)bcube_nha_entry(0, 2) }, e1[] = { (char)bcube_nha_entry(1, 0) };
	int prog, st;

	(void)state;
	if (!have_root)
		skip();
	prog = bpf_program__fd(snd->progs.bcube_send);
	st = bpf_map__fd(snd->maps.bcube_stats);
	outside = udp(SELF_IP, IP(10, 211, 0, 7), 4000, 10);
	arp.len = wire_build_arp(arp.b, sizeof(arp.b), 1, BCAST, NIC0_MAC, SELF_IP,
				 (const uint8_t[6]){ 0 }, IP_6);
	own = probe(MAC_6, NIC0_MAC, SELF, 6, 1, e6, 1, 1000);
	bad = to6;
	bad.b[14] = 0x40;	/* IHL 0 */
	{
		struct frame shrt4 = to6;

		shrt4.len = 14 + 20;	/* a header, no room for what it claims */
		const struct kase cases[] = {
			{ "to 6 over level 0: the NIC the kernel chose, header in", to6, 0,
			  TC_ACT_OK, BCUBE_STAT_SEND_SENT, true,
			  bcube(&to6, MAC_6, NIC0_MAC, SELF, 6, BCUBE_P_IPV4, 1, e6, 1), 0 },
			{ "to 1 over level 1: redirected to NIC 1, its MAC as source", to1, 0,
			  TC_ACT_REDIRECT, BCUBE_STAT_SEND_SENT, true,
			  bcube(&to1, MAC_1, NIC1_MAC, SELF, 1, BCUBE_P_IPV4, 1, e1, 1), 0 },
			{ "exactly the tenant MTU", fits, 0, TC_ACT_OK, BCUBE_STAT_SEND_SENT, true,
			  bcube(&fits, MAC_6, NIC0_MAC, SELF, 6, BCUBE_P_IPV4, 1, e6, 1), 0 },
			{ "one byte over the tenant MTU", big, 0, TC_ACT_SHOT,
			  BCUBE_STAT_SEND_DROP_TOO_BIG, NO_OUT },
			{ "no route: dropped, the daemon told", udp(SELF_IP, IP_NONE, 4000, 10), 0,
			  TC_ACT_SHOT, BCUBE_STAT_SEND_MISS, NO_OUT },
			{ "the first hop (7 on level 0) is down", udp(SELF_IP, IP_7, 4000, 10), 0,
			  TC_ACT_SHOT, BCUBE_STAT_SEND_DROP_NO_NBR, NO_OUT },
			{ "a route without paths", udp(SELF_IP, IP_BAD, 4000, 10), 0, TC_ACT_SHOT,
			  BCUBE_STAT_SEND_DROP_BAD_ROUTE, NO_OUT },
			{ "outside the BCube range: as is", outside, 0, TC_ACT_OK,
			  BCUBE_STAT_SEND_PASS, true, outside, 0 },
			{ "ARP: as is", arp, 0, TC_ACT_OK, BCUBE_STAT_SEND_PASS, true, arp, 0 },
			{ "the daemon's own probe: as is", own, 0, TC_ACT_OK, BCUBE_STAT_SEND_PASS,
			  true, own, 0 },
			{ "IPv4 header length 0", bad, 0, TC_ACT_SHOT, BCUBE_STAT_SEND_DROP_BAD_IP,
			  NO_OUT },
			{ "IPv4 longer than the frame", shrt4, 0, TC_ACT_SHOT,
			  BCUBE_STAT_SEND_DROP_BAD_IP, NO_OUT },
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			run(prog, st, &cases[i], true);
	}
}

/* The first hop bcube_send gave `in` (one test run): 0 for the
 * level-0-first path to 2, 1 for the level-1-first one. */
static unsigned sent_path(int prog, const struct frame *in)
{
	struct __sk_buff ctx = { .ifindex = CTX_IF };
	uint8_t out[256];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in->b, .data_size_in = (uint32_t)in->len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));
	struct bcube_hdr h;

	assert_int_equal(bpf_prog_test_run_opts(prog, &opts), 0);
	memcpy(&h, out + 14, sizeof(h));
	assert_int_equal(h.nha_len, 2);
	assert_int_equal(ntohl(h.dst), 2);
	if (h.nha[0] == bcube_nha_entry(0, 2))
		return 0;
	if (h.nha[0] == bcube_nha_entry(1, 0))
		return 1;
	fail_msg("first hop %02x", h.nha[0]);
	return 2;
}

/* The route's count of flows started (bcube_send's `flows`). */
static uint32_t flows_started(uint32_t ip)
{
	struct bcube_route r;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(snd->maps.bcube_routes), &ip, &r), 0);
	return r.flows;
}

/* Flows this server starts to a destination with two paths take them in
 * turn, the route's first (BSR's own) path first: 64 UDP flows (source
 * ports), flow i on path i % 2, and each keeps its path.  The old choice
 * by hash failed this: one flow per destination went either way, and an
 * all-to-all loaded some links 17 flows where every one carries 12. */
static void test_send_spreads(void **state)
{
	unsigned used[2] = { 0 };
	int prog;

	(void)state;
	if (!have_root)
		skip();
	prog = bpf_program__fd(snd->progs.bcube_send);
	for (uint16_t sport = 1000; sport < 1064; sport++) {
		struct frame in = udp(SELF_IP, IP_2, sport, 50);
		unsigned p = sent_path(prog, &in);

		assert_int_equal(p, (sport - 1000u) % 2);
		used[p]++;
	}
	assert_int_equal(flows_started(IP_2), 64);
	/* the same flows again: the same paths, no new flow counted */
	for (uint16_t sport = 1000; sport < 1064; sport++) {
		struct frame in = udp(SELF_IP, IP_2, sport, 50);

		assert_int_equal(sent_path(prog, &in), (sport - 1000u) % 2);
	}
	assert_int_equal(flows_started(IP_2), 64);
	printf("64 flows: %u on the level-0-first path, %u on the level-1-first path\n",
	       used[0], used[1]);
}

/* A TCP segment: the UDP frame's bytes made a 20-byte TCP header with
 * these flags (checksums are not looked at). */
static struct frame tcp(uint32_t dst, uint16_t sport, uint8_t flags)
{
	struct frame f = udp(SELF_IP, dst, sport, 12);

	f.b[14 + 9] = 6;			/* protocol TCP */
	memset(f.b + 14 + 20 + 4, 0, 16);	/* sequence, acknowledgement, ... */
	f.b[14 + 20 + 12] = 5 << 4;		/* data offset: 20 bytes */
	f.b[14 + 20 + 13] = flags;
	return f;
}

/* TCP: a SYN starts a flow (the route's next path, remembered); a SYN-ACK
 * (the answer to the other side's flow), a segment of a flow not seen
 * start, ICMP take the path of their hash and start nothing. */
static void test_send_tcp(void **state)
{
	enum { SYN = 0x02, ACK = 0x10 };
	struct frame a_syn = tcp(IP_2B, 2000, SYN), a_data = tcp(IP_2B, 2000, ACK),
		b_syn = tcp(IP_2B, 2001, SYN), b_data = tcp(IP_2B, 2001, ACK),
		synack = tcp(IP_2B, 2002, SYN | ACK), mid = tcp(IP_2B, 2003, ACK), icmp;
	int prog;

	(void)state;
	if (!have_root)
		skip();
	prog = bpf_program__fd(snd->progs.bcube_send);
	icmp = udp(SELF_IP, IP_2B, 7, 20);
	icmp.b[14 + 9] = 1;
	sent_path(prog, &synack);
	sent_path(prog, &mid);
	sent_path(prog, &icmp);
	assert_int_equal(flows_started(IP_2B), 0);
	assert_int_equal(sent_path(prog, &a_syn), 0);	/* the first flow: the route's first path */
	assert_int_equal(sent_path(prog, &b_syn), 1);
	assert_int_equal(flows_started(IP_2B), 2);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(sent_path(prog, &a_data), 0);
		assert_int_equal(sent_path(prog, &b_data), 1);
	}
	assert_int_equal(sent_path(prog, &synack), sent_path(prog, &synack));
	assert_int_equal(flows_started(IP_2B), 2);
}

/* ---- the relay and the destination ------------------------------------------ */
static void test_fwd(void **state)
{
	struct frame pkt = udp(IP(10, 210, 0, 5), IP(10, 210, 0, 3), 4000, 100), relay_in,
		relay_out, deliver_in, deliver_out, strip_in, strip_out, probe_in, probe_out,
		probe_here, probe_here_out, hello, hlen, nha9, nhi, not_mine, own_digit, level2,
		digit4, down, shrt, probe_cut, strip_other;
	/* 4 = (0, 1) -> 5 (level 0) -> 1 (level 1) -> 2 (level 0) */
	const char path[] = { (char)bcube_nha_entry(0, 1), (char)bcube_nha_entry(1, 0),
			      (char)bcube_nha_entry(0, 2) };
	/* 1 = (1, 0) -> 5 (level 1) */
	const char to5[] = { (char)bcube_nha_entry(1, 1) };
	int prog, st;

	(void)state;
	if (!have_root)
		skip();
	prog = bpf_program__fd(fwd->progs.bcube_fwd);
	st = bpf_map__fd(fwd->maps.bcube_stats);
	relay_in = bcube(&pkt, NIC0_MAC, MAC_4, 4, 2, BCUBE_P_IPV4, 1, path, 3);
	relay_out = bcube(&pkt, MAC_1, NIC1_MAC, 4, 2, BCUBE_P_IPV4, 2, path, 3);
	deliver_in = bcube(&pkt, NIC1_MAC, MAC_1, 1, SELF, BCUBE_P_IPV4, 1, to5, 1);
	deliver_out = deliver_in;
	deliver_out.b[12] = 0x08;
	deliver_out.b[13] = 0x00;
	strip_in = deliver_out;
	strip_out = pkt;
	memcpy(strip_out.b, deliver_in.b, 12);
	strip_other = bcube(&pkt, NIC1_MAC, MAC_1, 1, 9, BCUBE_P_IPV4, 1, to5, 1);
	strip_other.b[12] = 0x08;
	strip_other.b[13] = 0x00;
	probe_in = probe(NIC0_MAC, MAC_4, 4, 2, 1, path, 3, 1000);
	probe_out = probe(MAC_1, NIC1_MAC, 4, 2, 2, path, 3, 300);	/* min(800, 300) */
	probe_here = probe(NIC1_MAC, MAC_1, 1, SELF, 1, to5, 1, 1000);
	probe_here_out = probe_here;
	set_probe_bw(&probe_here_out, 300);	/* came in on level 1 */
	probe_cut = probe_in;
	probe_cut.len -= 10;
	hello = probe(BCAST, MAC_4, 4, BCUBE_ADDR_ALL, 0, "", 0, 0);
	hello.b[14 + offsetof(struct bcube_hdr, proto)] = BCUBE_P_HELLO;
	hlen = relay_in;
	hlen.b[14 + offsetof(struct bcube_hdr, hlen)] = 20;
	nha9 = relay_in;
	nha9.b[14 + offsetof(struct bcube_hdr, nha_len)] = 9;
	nhi = relay_in;
	nhi.b[14 + offsetof(struct bcube_hdr, nhi)] = 4;
	not_mine = bcube(&pkt, NIC0_MAC, MAC_4, 4, 2, BCUBE_P_IPV4, 3, path, 3);
	{
		const char e_own[] = { (char)bcube_nha_entry(0, 0), (char)bcube_nha_entry(0, 1) },
			e_l2[] = { (char)bcube_nha_entry(0, 0), (char)bcube_nha_entry(2, 0) },
			e_d4[] = { (char)bcube_nha_entry(0, 0), (char)bcube_nha_entry(0, 4) },
			e_down[] = { (char)bcube_nha_entry(0, 0), (char)bcube_nha_entry(0, 3) };

		own_digit = bcube(&pkt, NIC0_MAC, MAC_4, 4, 2, BCUBE_P_IPV4, 1, e_own, 2);
		level2 = bcube(&pkt, NIC0_MAC, MAC_4, 4, 2, BCUBE_P_IPV4, 1, e_l2, 2);
		digit4 = bcube(&pkt, NIC0_MAC, MAC_4, 4, 2, BCUBE_P_IPV4, 1, e_d4, 2);
		down = bcube(&pkt, NIC0_MAC, MAC_4, 4, 2, BCUBE_P_IPV4, 1, e_down, 2);
	}
	shrt = relay_in;
	shrt.len = 14 + 10;
	{
		const struct kase cases[] = {
			{ "relay: 4 -> 5 -> 1 -> 2, out of NIC 1 to 1, NHI 2", relay_in, 0,
			  TC_ACT_REDIRECT, BCUBE_STAT_FWD_RELAY, true, relay_out, 0 },
			{ "deliver, first pass: relabelled IPv4, marked, back into the NIC",
			  deliver_in, 0, TC_ACT_REDIRECT, BCUBE_STAT_FWD_DELIVER, true,
			  deliver_out, BCUBE_MARK_STRIP },
			{ "deliver, second pass: header removed, the IPv4 packet", strip_in,
			  BCUBE_MARK_STRIP, TC_ACT_OK, BCUBE_STAT_FWD_STRIPPED, true, strip_out, 0 },
			{ "second pass of a frame for another server", strip_other,
			  BCUBE_MARK_STRIP, TC_ACT_SHOT, BCUBE_STAT_FWD_DROP_BAD_HDR, NO_OUT },
			{ "probe relayed: bandwidth lowered to min(in 800, out 300)", probe_in, 0,
			  TC_ACT_REDIRECT, BCUBE_STAT_FWD_RELAY, true, probe_out, 0 },
			{ "probe for this server: to the daemon, lowered to its NIC's 300",
			  probe_here, 0, TC_ACT_OK, BCUBE_STAT_FWD_LOCAL, true, probe_here_out, 0 },
			{ "a probe cut short", probe_cut, 0, TC_ACT_SHOT,
			  BCUBE_STAT_FWD_DROP_SHORT, NO_OUT },
			{ "hello: to the daemon as is", hello, 0, TC_ACT_OK, BCUBE_STAT_FWD_LOCAL,
			  true, hello, 0 },
			{ "plain IPv4: as is", pkt, 0, TC_ACT_OK, BCUBE_STAT_FWD_PASS, true, pkt, 0 },
			{ "header length 20", hlen, 0, TC_ACT_SHOT, BCUBE_STAT_FWD_DROP_BAD_HDR,
			  NO_OUT },
			{ "NHA length 9", nha9, 0, TC_ACT_SHOT, BCUBE_STAT_FWD_DROP_BAD_HDR, NO_OUT },
			{ "NHI past the NHA", nhi, 0, TC_ACT_SHOT, BCUBE_STAT_FWD_DROP_BAD_HDR,
			  NO_OUT },
			{ "path ends here, destination 2", not_mine, 0, TC_ACT_SHOT,
			  BCUBE_STAT_FWD_DROP_NOT_MINE, NO_OUT },
			{ "next hop is this server's own digit", own_digit, 0, TC_ACT_SHOT,
			  BCUBE_STAT_FWD_DROP_BAD_HOP, NO_OUT },
			{ "next hop on level 2 of a BCube with k = 1", level2, 0, TC_ACT_SHOT,
			  BCUBE_STAT_FWD_DROP_BAD_HOP, NO_OUT },
			{ "next hop digit 4 with n = 4", digit4, 0, TC_ACT_SHOT,
			  BCUBE_STAT_FWD_DROP_BAD_HOP, NO_OUT },
			{ "next hop (7) is down", down, 0, TC_ACT_SHOT,
			  BCUBE_STAT_FWD_DROP_NO_NBR, NO_OUT },
			{ "truncated header", shrt, 0, TC_ACT_SHOT, BCUBE_STAT_FWD_DROP_SHORT,
			  NO_OUT },
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			run(prog, st, &cases[i], false);
	}
}

/* ---- what the header costs, without root ------------------------------------- */
static void test_sizes(void **state)
{
	struct bcube_hdr h = { 0 };

	(void)state;
	assert_int_equal(BCUBE_HDR_BYTES, 24);
	assert_int_equal(BCUBE_TENANT_MTU, 1476);
	assert_int_equal(offsetof(struct bcube_hdr, nha), 16);
	h.nha[0] = bcube_nha_entry(7, 31);
	assert_int_equal(h.nha[0], 0xff);
	assert_int_equal(bcube_nha_entry(1, 2), 0x22);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_send),
		cmocka_unit_test(test_send_spreads),
		cmocka_unit_test(test_send_tcp),
		cmocka_unit_test(test_fwd),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
