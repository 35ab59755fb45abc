/* The forwarding decision of bpf/fwd.h, built for user space, against the
 * same decision built into the eBPF programs.
 *
 * One fixture is written to both the eBPF maps and the user-space tables
 * (bpf/fwd_tables.h).  test_every_verdict runs a frame for each verdict the
 * decision can reach through the user-space build alone and checks the
 * action, counter, tree, ifindex, event and output frame (no root needed).
 * test_same_as_ebpf (root) runs those frames and many random ones through
 * both builds, BPF_PROG_TEST_RUN for the programs, and requires the same
 * verdict, the same counter, the same output bytes and the same event. */
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

#include "bpf/fwd.h"
#include "bpf/loader.h"
#include "lib/rng.h"
#include "wire/frame.h"

#define IP(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

/* Nodes (wire numbering): servers 1 (this one) and 2, VMs from 10 on. */
enum { S1 = 1, S2 = 2, VA = 10, VB = 11, VC = 12, VD = 13, VE = 14, VF = 15,
       VG = 16, VH = 17, VSVC = 18, VX = 19, EDGE = 30 /* the Internet edge (gateway) */ };
enum { PORT_A = 1 /* loopback: test runs need an existing ifindex */, PORT_C = 7,
       NIC1 = 21, NIC2 = 22 };
enum { VDC1 = 1, VDC2 = 2 };
enum { RANDOM_FRAMES = 18000, BIG = 2048 };
/* Ports and NICs of the group entries: no such interface, so that a test
 * run's bpf_clone_redirect (which sends at once) sends nothing anywhere. */
enum { NO_IF = 0x7ffff000 };

#define A_IP IP(10, 0, 0, 1)
/* VIPs of VCs whose backend VM A is (docs/slb.md): VIP_OK usable on both
 * trees, VIP_BAK on the backup only, VIP_NONE on none, VIP_VDC2 a VC of
 * another VDC; CLIENT is outside the fabric. */
#define VIP_OK IP(203, 0, 113, 10)
#define VIP_BAK IP(203, 0, 113, 11)
#define VIP_NONE IP(203, 0, 113, 12)
#define VIP_VDC2 IP(203, 0, 113, 13)
#define VIP_LEG IP(203, 0, 113, 14)	/* the edge is a gateway leg VM (EDGE) on S2 */
#define CLIENT IP(198, 51, 100, 7)
#define B_IP IP(10, 0, 0, 2)
/* Groups: G1 with members (local and on S2), G_STALE whose member servers'
 * lease ran out, G_NONE unknown here; BCAST_IP VDC 1's broadcast. */
#define G1 IP(239, 1, 1, 1)
#define G_STALE IP(239, 1, 1, 2)
#define G_NONE IP(239, 1, 1, 3)
#define BCAST_IP 0xffffffffu
#define AV_ALL (PGR_AVAIL_VM_PRI | PGR_AVAIL_VM_BAK | PGR_AVAIL_IM_PRI | PGR_AVAIL_IM_BAK)

static bool have_root;
static struct pgr_dp *dp, *dp_pass;
static struct pgr_fwd_tables tab;
static struct pgr_config cfg, cfg_pass;

struct mac {
	uint8_t b[6];
};

static struct mac M(uint32_t node, uint32_t tree)
{
	struct mac m;

	pgr_mac_make(m.b, pgr_id_of(node, tree));
	return m;
}

static struct mac ENC(uint32_t dst_node, uint32_t dst_tree, uint32_t src_node)
{
	struct mac m;

	pgr_id_put(m.b, pgr_id_of(dst_node, dst_tree));
	pgr_id_put(m.b + 3, pgr_id_of(src_node, 0));
	return m;
}

static const struct mac BCAST = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

static struct mac GMAC(uint32_t group)
{
	struct mac m;

	pgr_group_mac(m.b, group);
	return m;
}
static const struct mac FOREIGN_MAC = { { 0x00, 0x1b, 0x21, 0x0a, 0x0b, 0x0c } };

/* ---- the fixture, in both builds --------------------------------------------- */

static void add_vm(uint32_t node, uint32_t ifindex, uint32_t vdc, uint32_t ip)
{
	struct pgr_vm v = { .ifindex = ifindex, .vdc = vdc, .ip = ip, .id = pgr_id_of(node, 0) };

	pgr_mac_make(v.mac, v.id);
	assert_int_equal(pgr_fwd_vm_add(&tab, &v, pgr_id_of(node, 1)), 0);
	if (have_root) {
		assert_int_equal(pgr_dp_vm_add(pgr_dp_maps(dp), &v, pgr_id_of(node, 1)), 0);
		assert_int_equal(pgr_dp_vm_add(pgr_dp_maps(dp_pass), &v, pgr_id_of(node, 1)), 0);
	}
}

/* Raw updates: the loader refuses a non-Peregrine MAC, the decision must
 * cope anyway. */
static void put_garp(uint32_t vdc, uint32_t ip, const struct pgr_garp_entry *g)
{
	struct pgr_garp_key k = { .vdc = vdc, .ip = ip };

	assert_int_equal(pgr_fwd_garp_put(&tab, &k, g), 0);
	if (have_root) {
		assert_int_equal(bpf_map_update_elem(pgr_dp_maps(dp)->garp, &k, g, BPF_ANY), 0);
		assert_int_equal(bpf_map_update_elem(pgr_dp_maps(dp_pass)->garp, &k, g, BPF_ANY), 0);
	}
}

static void set_garp(uint32_t vdc, uint32_t ip, uint32_t vm, uint32_t server, uint8_t avail,
		     uint8_t flags)
{
	struct pgr_garp_entry g = { .avail = avail, .flags = flags,
				    .egress_ifindex = { NIC1, NIC2 } };

	for (int t = 0; t < PGR_TREES; t++) {
		pgr_mac_make(g.vm_mac[t], pgr_id_of(vm, (uint32_t)t));
		pgr_mac_make(g.im_mac[t], pgr_id_of(server, (uint32_t)t));
	}
	put_garp(vdc, ip, &g);
}

/* leg_server: 0, the edge's MACs are its own port's (plain frames); else
 * the edge is a leg VM on that server (encapsulated frames). */
static void set_vip_src_leg(uint32_t ifindex, uint32_t vip, uint32_t vdc, uint8_t avail,
			    uint32_t leg_server)
{
	struct pgr_vip_src_key k = { .ifindex = ifindex, .vip = vip };
	struct pgr_vip_src v = { .vdc = vdc, .avail = avail, .egress_ifindex = { NIC1, NIC2 } };

	for (int t = 0; t < PGR_TREES; t++) {
		pgr_mac_make(v.edge_mac[t], pgr_id_of(EDGE, (uint32_t)t));
		if (leg_server)
			pgr_mac_make(v.im_mac[t], pgr_id_of(leg_server, (uint32_t)t));
	}
	assert_int_equal(pgr_fwd_vip_src_put(&tab, &k, &v), 0);
	if (have_root) {
		assert_int_equal(pgr_dp_vip_src_set(pgr_dp_maps(dp), &k, &v), 0);
		assert_int_equal(pgr_dp_vip_src_set(pgr_dp_maps(dp_pass), &k, &v), 0);
	}
}

static void set_vip_src(uint32_t ifindex, uint32_t vip, uint32_t vdc, uint8_t avail)
{
	set_vip_src_leg(ifindex, vip, vdc, avail, 0);
}

/* ---- IPv6: 2001:db8:1::/64 plus the EUI-64 of a VM's primary MAC ----------- */

struct ip6 {
	uint8_t b[16];
};

static struct ip6 A6_OF(uint32_t node)
{
	struct ip6 a = { { 0x20, 0x01, 0x0d, 0xb8, 0, 1 } };
	struct mac m = M(node, 0);

	a.b[8] = m.b[0] ^ 0x02;
	a.b[9] = m.b[1];
	a.b[10] = m.b[2];
	a.b[11] = 0xff;
	a.b[12] = 0xfe;
	memcpy(a.b + 13, m.b + 3, 3);
	return a;
}

static const struct ip6 UNSPEC6 = { { 0 } };

static void set_garp6(uint32_t vdc, uint32_t addr_node, uint32_t vm, uint32_t server,
		      uint8_t avail, uint8_t flags)
{
	struct pgr_garp_entry g = { .avail = avail, .flags = flags,
				    .egress_ifindex = { NIC1, NIC2 } };
	struct pgr_garp6_key k = { .vdc = vdc };

	memcpy(k.ip, A6_OF(addr_node).b, 16);
	for (int t = 0; t < PGR_TREES; t++) {
		pgr_mac_make(g.vm_mac[t], pgr_id_of(vm, (uint32_t)t));
		pgr_mac_make(g.im_mac[t], pgr_id_of(server, (uint32_t)t));
	}
	assert_int_equal(pgr_fwd_garp6_put(&tab, &k, &g), 0);
	if (have_root) {
		assert_int_equal(pgr_dp_garp6_set(pgr_dp_maps(dp), &k, &g), 0);
		assert_int_equal(pgr_dp_garp6_set(pgr_dp_maps(dp_pass), &k, &g), 0);
	}
}

/* (vdc, group): local ports PORT_A (the sender's own: skipped) and a
 * missing one, member server S2 on both trees out of missing NICs. */
static void set_mcast(uint32_t vdc, uint32_t group, uint8_t flags)
{
	struct pgr_mcast_key k = { .vdc = vdc, .group = group };
	struct pgr_mcast_entry e = { .nsrv = 1, .nlocal = 2, .flags = flags,
				     .local_ifindex = { PORT_A, NO_IF } };

	for (int t = 0; t < PGR_TREES; t++) {
		pgr_mac_make(e.srv[0].im_mac[t], pgr_id_of(S2, (uint32_t)t));
		e.srv[0].egress_ifindex[t] = NO_IF;
	}
	pgr_mac_make(e.srv[0].vm_mac, pgr_id_of(VB, 0));
	e.srv[0].avail = PGR_AVAIL_IM_PRI | PGR_AVAIL_IM_BAK;
	assert_int_equal(pgr_fwd_mcast_put(&tab, &k, &e), 0);
	if (have_root) {
		assert_int_equal(pgr_dp_mcast_set(pgr_dp_maps(dp), &k, &e), 0);
		assert_int_equal(pgr_dp_mcast_set(pgr_dp_maps(dp_pass), &k, &e), 0);
	}
}

static struct pgr_dp *open_dp(struct pgr_config *c, uint32_t flags)
{
	struct pgr_dp_opts o = { .cfg.flags = flags };
	struct pgr_dp *d;
	char err[256];

	pgr_mac_make(o.cfg.server_mac[0], pgr_id_of(S1, 0));
	pgr_mac_make(o.cfg.server_mac[1], pgr_id_of(S1, 1));
	*c = o.cfg;
	if (!have_root)
		return NULL;
	if (pgr_dp_open(&d, &o, err, sizeof(err))) {
		print_error("%s\n", err);
		return NULL;
	}
	return d;
}

static int setup(void **state)
{
	struct pgr_garp_entry bad;

	(void)state;
	have_root = geteuid() == 0;
	pgr_fwd_tables_init(&tab);
	dp = open_dp(&cfg, PGR_CFG_PEER);
	dp_pass = open_dp(&cfg_pass, PGR_CFG_PEER | PGR_CFG_PASS_FOREIGN);
	if (have_root && (!dp || !dp_pass))
		return -1;
	add_vm(VA, PORT_A, VDC1, A_IP);
	add_vm(VC, PORT_C, VDC1, IP(10, 0, 0, 3));
	set_garp(VDC1, B_IP, VB, S2, AV_ALL, 0);
	set_garp(VDC2, B_IP, VD, S2, AV_ALL, 0);
	set_garp(VDC1, IP(10, 0, 0, 3), VC, S1, AV_ALL, PGR_GARP_LOCAL);
	set_garp(VDC1, IP(10, 0, 0, 5), VE, S2, AV_ALL, PGR_GARP_DIRECT);
	set_garp(VDC1, IP(10, 0, 0, 6), VF, S2, 0, 0);
	set_garp(VDC1, IP(10, 0, 0, 7), VG, S2, AV_ALL & ~PGR_AVAIL_IM_PRI, 0);
	set_garp(VDC1, IP(10, 0, 0, 8), VH, S1, AV_ALL, PGR_GARP_LOCAL);
	set_garp(VDC1, IP(10, 0, 0, 9), VX, S2, AV_ALL & ~PGR_AVAIL_VM_PRI, PGR_GARP_DIRECT);
	set_garp(VDC1, IP(10, 0, 0, 10), VB, S2, PGR_AVAIL_VM_BAK | PGR_AVAIL_IM_BAK, 0);
	set_garp(PGR_VDC_SERVICE, IP(10, 255, 0, 1), VSVC, S2, AV_ALL, 0);
	set_garp(VDC1, IP(10, 0, 0, 99), VB, S2, AV_ALL, 0);
	bad = *pgr_fwd_garp(&tab, &(struct pgr_garp_key){ .vdc = VDC1, .ip = IP(10, 0, 0, 99) });
	memcpy(bad.im_mac[0], FOREIGN_MAC.b, 6);
	put_garp(VDC1, IP(10, 0, 0, 99), &bad);
	set_garp6(VDC1, VB, VB, S2, AV_ALL, 0);
	set_garp6(VDC2, VB, VD, S2, AV_ALL, 0);	/* VDC 2 reuses the address */
	set_garp6(VDC1, VC, VC, S1, AV_ALL, PGR_GARP_LOCAL);
	set_garp6(VDC1, VE, VE, S2, AV_ALL, PGR_GARP_DIRECT);
	set_vip_src(PORT_A, VIP_OK, VDC1, PGR_VIP_SRC_PRI | PGR_VIP_SRC_BAK);
	set_vip_src(PORT_A, VIP_BAK, VDC1, PGR_VIP_SRC_BAK);
	set_vip_src(PORT_A, VIP_NONE, VDC1, 0);
	set_vip_src(PORT_A, VIP_VDC2, VDC2, PGR_VIP_SRC_PRI | PGR_VIP_SRC_BAK);
	set_vip_src_leg(PORT_A, VIP_LEG, VDC1, PGR_VIP_SRC_PRI | PGR_VIP_SRC_BAK, S2);
	set_mcast(VDC1, G1, 0);
	set_mcast(VDC1, BCAST_IP, 0);
	set_mcast(VDC1, G_STALE, PGR_MCAST_STALE);
	set_mcast(VDC2, G_NONE, 0);	/* VDC 2's group: never VDC 1's */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pgr_fwd_tables_free(&tab);
	if (have_root) {
		pgr_dp_close(dp);
		pgr_dp_close(dp_pass);
	}
	return 0;
}

/* ---- frames ------------------------------------------------------------------ */

enum side { FROM_VM, FROM_NET, FROM_NET_PASS };

struct frame {
	enum side side;
	uint8_t b[BIG];
	size_t len;
	bool resent;
	uint32_t port;		/* FROM_VM: the port it came from; 0: VM A's */
};

static struct frame udp(enum side s, struct mac dst, struct mac src, uint32_t sip, uint32_t dip)
{
	struct frame f = { .side = s };

	f.len = wire_build_udp4(f.b, sizeof(f.b), dst.b, src.b, sip, dip, 4000, 5000, "payload", 7);
	return f;
}

/* A DHCP client's message (UDP 68 -> 67, bpf/dhcp.h) from src at sip. */
static struct frame dhcp(struct mac dst, struct mac src, uint32_t sip, uint32_t dip)
{
	struct frame f = { .side = FROM_VM };

	f.len = wire_build_udp4(f.b, sizeof(f.b), dst.b, src.b, sip, dip, 68, 67, "dhcp", 4);
	return f;
}

/* IPv6: Ethernet, the fixed header, then the payload (next header nh). */
static struct frame ip6(struct mac dst, struct mac src, struct ip6 sa, struct ip6 da, uint8_t nh,
			uint8_t hop, const void *payload, size_t plen)
{
	struct frame f = { .side = FROM_VM };
	uint8_t *h = f.b + 14;

	memcpy(f.b, dst.b, 6);
	memcpy(f.b + 6, src.b, 6);
	f.b[12] = 0x86;
	f.b[13] = 0xdd;
	h[0] = 0x60;
	h[4] = (uint8_t)(plen >> 8);
	h[5] = (uint8_t)plen;
	h[6] = nh;
	h[7] = hop;
	memcpy(h + 8, sa.b, 16);
	memcpy(h + 24, da.b, 16);
	memcpy(h + 40, payload, plen);
	f.len = 14 + 40 + plen;
	return f;
}

/* An IGMPv2 report for 224.1.2.3 from VM A (bpf/mcast.h: protocol 2 is
 * all the data plane looks at; the agent checks the rest). */
static struct frame igmp(void)
{
	struct mac dst = { { 0x01, 0x00, 0x5e, 0x01, 0x02, 0x03 } };
	struct frame f = udp(FROM_VM, dst, M(VA, 0), A_IP, IP(224, 1, 2, 3));

	f.b[14 + 9] = 2;
	return f;
}

/* An MLD message of type `type` from VM A to ff02::16, after an 8-byte
 * hop-by-hop header with the router alert (hbh) or directly. */
static struct frame mld(uint8_t type, bool hbh)
{
	struct mac dst = { { 0x33, 0x33, 0, 0, 0, 0x16 } };
	struct ip6 da = { { 0xff, 0x02, [15] = 0x16 } };
	uint8_t p[8 + 28] = { 58, 0, 5, 2, 0, 0, 1, 0 };

	p[hbh ? 8 : 0] = type;
	return hbh ? ip6(dst, M(VA, 0), A6_OF(VA), da, 0, 1, p, sizeof(p))
		   : ip6(dst, M(VA, 0), A6_OF(VA), da, 58, 1, p, 28);
}

static struct frame udp6(struct mac dst, struct mac src, struct ip6 sa, struct ip6 da)
{
	static const uint8_t udp[15] = { 0x0f, 0xa0, 0x13, 0x88, 0, 15, 0, 0, 'p', 'a', 'y', 'l',
					 'o', 'a', 'd' };

	return ip6(dst, src, sa, da, 17, 64, udp, sizeof(udp));
}

/* The ICMPv6 checksum the slow way: the pseudo-header and the message in
 * one buffer, through wire_csum. */
static uint16_t icmp6_csum(const struct ip6 *sa, const struct ip6 *da, const uint8_t *m, size_t n)
{
	uint8_t buf[40 + 64] = { 0 };

	memcpy(buf, sa->b, 16);
	memcpy(buf + 16, da->b, 16);
	buf[35] = (uint8_t)n;
	buf[39] = 58;
	memcpy(buf + 40, m, n);
	buf[40 + 2] = buf[40 + 3] = 0;
	return wire_csum(buf, 40 + n);
}

/* A Neighbour Solicitation (type 135) or Advertisement (136) for target
 * from sa to da, with a link-layer option (SLLA, TLLA) of lla unless
 * opt_type is 0; checksum right. */
static struct frame nd(uint8_t type, struct mac dst, struct mac src, struct ip6 sa, struct ip6 da,
		       struct ip6 target, uint8_t opt_type, struct mac lla)
{
	uint8_t m[32] = { type };
	size_t n = opt_type ? 32 : 24;
	uint16_t c;

	if (type == 136)
		m[4] = 0x60;	/* solicited, override */
	memcpy(m + 8, target.b, 16);
	m[24] = opt_type;
	m[25] = 1;
	memcpy(m + 26, lla.b, 6);
	c = icmp6_csum(&sa, &da, m, n);
	memcpy(m + 2, &c, 2);
	return ip6(dst, src, sa, da, 58, 255, m, n);
}

/* ff02::1:ffXX:XXXX and 33:33:ff:XX:XX:XX for target */
static struct ip6 SOLICITED(struct ip6 t)
{
	struct ip6 a = { { 0xff, 0x02, [11] = 1, [12] = 0xff } };

	memcpy(a.b + 13, t.b + 13, 3);
	return a;
}

static struct mac SOLICITED_MAC(struct ip6 t)
{
	struct mac m = { { 0x33, 0x33, 0xff } };

	memcpy(m.b + 3, t.b + 13, 3);
	return m;
}

static struct frame ns(struct mac src, struct ip6 sa, struct ip6 target, struct mac lla)
{
	return nd(135, SOLICITED_MAC(target), src, sa, SOLICITED(target), target, 1, lla);
}

static struct frame arp(enum side s, uint16_t op, struct mac src, struct mac sha, uint32_t spa,
			uint32_t tpa)
{
	struct frame f = { .side = s };

	f.len = wire_build_arp(f.b, sizeof(f.b), op, BCAST.b, sha.b, spa, M(VA, 0).b, tpa);
	memcpy(f.b + 6, src.b, 6);
	return f;
}

/* What VM A gets back for its request for ip. */
static struct frame arp_reply(struct mac from, uint32_t ip)
{
	struct frame f = { .side = FROM_VM };

	f.len = wire_build_arp(f.b, sizeof(f.b), 2, M(VA, 0).b, from.b, ip, M(VA, 0).b, A_IP);
	return f;
}

static struct frame eth(enum side s, struct mac dst, uint16_t type)
{
	struct frame f = { .side = s };

	f.len = wire_build_eth(f.b, sizeof(f.b), dst.b, M(VA, 0).b, type, "x", 1);
	return f;
}

static struct pgr_fwd decide(struct frame *f)
{
	uint8_t *d = f->b;

	if (f->side == FROM_VM)
		return pgr_fwd_from_vm(&tab, d, d + f->len, (uint32_t)f->len,
				       f->port ? f->port : PORT_A, f->resent);
	return pgr_fwd_from_net(&tab, f->side == FROM_NET ? &cfg : &cfg_pass, d, d + f->len);
}

/* ---- every verdict, user space ------------------------------------------------- */

struct want {
	enum pgr_fwd_act act;
	enum pgr_stat stat;
	uint32_t ifindex;
	uint8_t tree;
	uint8_t event;
};

struct vcase {
	const char *desc;
	struct frame in;
	struct want w;
	bool has_out;
	struct frame out;
};

#define NT PGR_FWD_NO_TREE
#define DROP(s) { PGR_FWD_DROP, PGR_STAT_##s, 0, NT, 0 }

static void check_case(const struct vcase *c)
{
	struct frame f = c->in;
	struct pgr_fwd r = decide(&f);

	print_message("  %s\n", c->desc);
	if (r.act != c->w.act || r.stat != c->w.stat || r.ifindex != c->w.ifindex ||
	    r.tree != c->w.tree || r.event != c->w.event)
		fail_msg("%s: got act %u %s ifindex %u tree %u event %u", c->desc, r.act,
			 pgr_dp_stat_name(r.stat), r.ifindex, r.tree, r.event);
	if (c->has_out) {
		assert_int_equal(f.len, c->out.len);
		assert_memory_equal(f.b, c->out.b, f.len);
	} else {
		assert_memory_equal(f.b, c->in.b, f.len);
	}
}

/* A Router Solicitation from src (sa) to ff02::2, hop limit hop, with its
 * source link-layer option. */
static struct frame rs(struct mac src, struct ip6 sa, uint8_t hop)
{
	struct mac dst = { { 0x33, 0x33, 0, 0, 0, 2 } };
	struct ip6 da = { { 0xff, 0x02, [15] = 2 } };
	uint8_t m[16] = { 133, 0, 0, 0, 0, 0, 0, 0, 1, 1 };
	uint16_t c;

	memcpy(m + 10, src.b, 6);
	c = icmp6_csum(&sa, &da, m, sizeof(m));
	memcpy(m + 2, &c, 2);
	return ip6(dst, src, sa, da, 58, hop, m, sizeof(m));
}

static struct vcase *verdict_cases(size_t *n)
{
	static struct vcase c[128];
	struct frame tr = udp(FROM_VM, M(VB, 0), M(VA, 0), A_IP, B_IP), big, resent, runt, stray, ihl4;
	struct frame dhcp_big, ns_hop, dad, ip6_short, ns_back, ns_back_hit, ip6_back, vip_c;
	struct frame igmp_big = igmp(), igmp_back = igmp(), mld_back = mld(143, true);
	struct frame hbh_udp = mld(17, true);
	struct frame rs_back = rs(M(VA, 0), A6_OF(VA), 255), rs_short = rs(M(VA, 0), A6_OF(VA), 255);
	struct ip6 ALL_NODES = { { 0xff, 0x02, [15] = 1 } };
	struct mac MC_ALL = { { 0x33, 0x33, 0, 0, 0, 1 } };
	size_t i = 0;

	tr.len = 14 + 10;
	big = udp(FROM_VM, M(VB, 0), M(VA, 0), A_IP, IP(10, 0, 0, 77));
	big.len = PGR_DP_HOLD_FRAME + 1;
	resent = udp(FROM_VM, M(VB, 0), M(VA, 0), A_IP, IP(10, 0, 0, 77));
	resent.resent = true;
	ns_back = ns(M(VA, 0), A6_OF(VA), A6_OF(50), M(VA, 0));
	ns_back.resent = true;
	ns_back_hit = ns(M(VA, 0), A6_OF(VA), A6_OF(VB), M(VA, 0));
	ns_back_hit.resent = true;
	ip6_back = udp6(M(VB, 0), M(VA, 0), A6_OF(VA), A6_OF(VB));
	ip6_back.resent = true;
	rs_back.resent = true;
	rs_short.len -= 12;	/* 4 bytes of the 8-byte RS header */
	rs_short.b[14 + 5] = 4;
	runt = udp(FROM_NET, M(VA, 0), M(VB, 0), B_IP, A_IP);
	runt.len = 13;
	stray = udp(FROM_VM, M(VB, 0), M(VA, 0), A_IP, B_IP);
	stray.port = 5;
	ihl4 = udp(FROM_VM, M(VB, 0), M(VA, 0), A_IP, B_IP);
	ihl4.b[WIRE_ETH_HLEN] = 0x44;
	dhcp_big = dhcp(BCAST, M(VA, 0), 0, 0xffffffffu);
	dhcp_big.len = PGR_DP_HOLD_FRAME + 1;
	ns_hop = ns(M(VA, 0), A6_OF(VA), A6_OF(VB), M(VA, 0));
	ns_hop.b[14 + 7] = 64;	/* hop limit must be 255 */
	dad = nd(135, SOLICITED_MAC(A6_OF(VA)), M(VA, 0), UNSPEC6, SOLICITED(A6_OF(VA)),
		 A6_OF(VA), 0, M(VA, 0));
	ip6_short = udp6(M(VB, 0), M(VA, 0), A6_OF(VA), A6_OF(VB));
	ip6_short.len = 14 + 30;
	vip_c = udp(FROM_VM, M(EDGE, 0), M(VC, 0), VIP_OK, CLIENT);
	vip_c.port = PORT_C;	/* VM C is no backend of the VC */
#define CASE(d, i_, w_) c[i++] = (struct vcase){ d, i_, w_, false, { 0 } }
#define CASEO(d, i_, w_, o_) c[i++] = (struct vcase){ d, i_, w_, true, o_ }
	CASEO("ARP request answered", arp(FROM_VM, 1, M(VA, 0), M(VA, 0), A_IP, B_IP),
	      ((struct want){ PGR_FWD_DELIVER, PGR_STAT_VM_ARP_REPLY, PORT_A, NT, 0 }),
	      arp_reply(M(VB, 0), B_IP));
	CASEO("ARP request for a service node", arp(FROM_VM, 1, M(VA, 0), M(VA, 0), A_IP,
	      IP(10, 255, 0, 1)), ((struct want){ PGR_FWD_DELIVER, PGR_STAT_VM_ARP_REPLY, PORT_A, NT, 0 }),
	      arp_reply(M(VSVC, 0), IP(10, 255, 0, 1)));
	CASE("ARP miss", arp(FROM_VM, 1, M(VA, 0), M(VA, 0), A_IP, IP(10, 0, 0, 50)),
	     ((struct want){ PGR_FWD_DROP, PGR_STAT_VM_ARP_MISS, 0, NT, PGR_EV_ARP_MISS }));
	CASE("ARP reply from a VM", arp(FROM_VM, 2, M(VA, 0), M(VA, 0), A_IP, B_IP),
	     ((struct want)DROP(VM_DROP_ARP_BAD)));
	CASEO("indirect", udp(FROM_VM, M(VB, 1), M(VA, 0), A_IP, B_IP),
	      ((struct want){ PGR_FWD_TRANSMIT, PGR_STAT_VM_INDIRECT, NIC1, PGR_PRIMARY, 0 }),
	      udp(FROM_VM, M(S2, 0), ENC(VB, 0, VA), A_IP, B_IP));
	CASEO("indirect, primary intermediary unavailable: backup tree",
	      udp(FROM_VM, M(VG, 0), M(VA, 0), A_IP, IP(10, 0, 0, 7)),
	      ((struct want){ PGR_FWD_TRANSMIT, PGR_STAT_VM_INDIRECT, NIC2, PGR_BACKUP, 0 }),
	      udp(FROM_VM, M(S2, 1), ENC(VG, 1, VA), A_IP, IP(10, 0, 0, 7)));
	CASEO("direct", udp(FROM_VM, M(VE, 0), M(VA, 0), A_IP, IP(10, 0, 0, 5)),
	      ((struct want){ PGR_FWD_TRANSMIT, PGR_STAT_VM_DIRECT, NIC1, PGR_PRIMARY, 0 }),
	      udp(FROM_VM, M(VE, 0), M(VA, 0), A_IP, IP(10, 0, 0, 5)));
	CASEO("direct, backup", udp(FROM_VM, M(VX, 0), M(VA, 0), A_IP, IP(10, 0, 0, 9)),
	      ((struct want){ PGR_FWD_TRANSMIT, PGR_STAT_VM_DIRECT, NIC2, PGR_BACKUP, 0 }),
	      udp(FROM_VM, M(VX, 1), M(VA, 0), A_IP, IP(10, 0, 0, 9)));
	CASEO("local", udp(FROM_VM, M(VC, 1), M(VA, 0), A_IP, IP(10, 0, 0, 3)),
	      ((struct want){ PGR_FWD_DELIVER, PGR_STAT_VM_LOCAL, PORT_C, NT, 0 }),
	      udp(FROM_VM, M(VC, 0), M(VA, 0), A_IP, IP(10, 0, 0, 3)));
	CASE("local entry, no local VM", udp(FROM_VM, M(VH, 0), M(VA, 0), A_IP, IP(10, 0, 0, 8)),
	     ((struct want)DROP(VM_DROP_LOCAL_MISS)));
	CASE("nothing available", udp(FROM_VM, M(VF, 0), M(VA, 0), A_IP, IP(10, 0, 0, 6)),
	     ((struct want)DROP(VM_DROP_NO_ROUTE)));
	CASE("another VDC's VM", udp(FROM_VM, M(VD, 0), M(VA, 0), A_IP, B_IP),
	     ((struct want)DROP(VM_DROP_DST_MAC)));
	CASE("spoofed source MAC", udp(FROM_VM, M(VB, 0), M(VC, 0), A_IP, B_IP),
	     ((struct want)DROP(VM_DROP_SRC_MAC)));
	CASE("spoofed source IP", udp(FROM_VM, M(VB, 0), M(VA, 0), IP(10, 0, 0, 3), B_IP),
	     ((struct want)DROP(VM_DROP_SRC_IP)));
	CASEO("from a VIP of its VC: to the Internet edge (DSR)",
	      udp(FROM_VM, M(EDGE, 0), M(VA, 0), VIP_OK, CLIENT),
	      ((struct want){ PGR_FWD_TRANSMIT, PGR_STAT_VM_VIP_OUT, NIC1, PGR_PRIMARY, 0 }),
	      udp(FROM_VM, M(EDGE, 0), M(VA, 0), VIP_OK, CLIENT));
	CASEO("from a VIP, to the edge's backup MAC: the primary tree while it is usable",
	      udp(FROM_VM, M(EDGE, 1), M(VA, 0), VIP_OK, CLIENT),
	      ((struct want){ PGR_FWD_TRANSMIT, PGR_STAT_VM_VIP_OUT, NIC1, PGR_PRIMARY, 0 }),
	      udp(FROM_VM, M(EDGE, 0), M(VA, 0), VIP_OK, CLIENT));
	CASEO("from a VIP, the edge's primary unusable: backup tree",
	      udp(FROM_VM, M(EDGE, 0), M(VA, 0), VIP_BAK, CLIENT),
	      ((struct want){ PGR_FWD_TRANSMIT, PGR_STAT_VM_VIP_OUT, NIC2, PGR_BACKUP, 0 }),
	      udp(FROM_VM, M(EDGE, 1), M(VA, 0), VIP_BAK, CLIENT));
	CASEO("from a VIP, the edge a gateway leg VM: encapsulated to the leg's server",
	      udp(FROM_VM, M(EDGE, 0), M(VA, 0), VIP_LEG, CLIENT),
	      ((struct want){ PGR_FWD_TRANSMIT, PGR_STAT_VM_VIP_OUT, NIC1, PGR_PRIMARY, 0 }),
	      udp(FROM_VM, M(S2, 0), ENC(EDGE, 0, VA), VIP_LEG, CLIENT));
	CASE("from a VIP, the edge a gateway leg VM, to another VM",
	     udp(FROM_VM, M(VB, 0), M(VA, 0), VIP_LEG, B_IP), ((struct want)DROP(VM_DROP_VIP_DST)));
	CASE("from a VIP, neither tree usable", udp(FROM_VM, M(EDGE, 0), M(VA, 0), VIP_NONE, CLIENT),
	     ((struct want)DROP(VM_DROP_NO_ROUTE)));
	CASE("from a VIP, to a VM rather than the edge",
	     udp(FROM_VM, M(VB, 0), M(VA, 0), VIP_OK, B_IP), ((struct want)DROP(VM_DROP_VIP_DST)));
	CASE("from the VIP of another VDC's VC", udp(FROM_VM, M(EDGE, 0), M(VA, 0), VIP_VDC2, CLIENT),
	     ((struct want)DROP(VM_DROP_SRC_IP)));
	CASE("from a VIP of no VC of the VM", udp(FROM_VM, M(EDGE, 0), M(VA, 0),
	     IP(203, 0, 113, 99), CLIENT), ((struct want)DROP(VM_DROP_SRC_IP)));
	CASE("from a VIP another VM may use", vip_c, ((struct want)DROP(VM_DROP_SRC_IP)));
	CASE("unresolved: held", udp(FROM_VM, M(VB, 0), M(VA, 0), A_IP, IP(10, 0, 0, 77)),
	     ((struct want){ PGR_FWD_HOLD, PGR_STAT_VM_MISS_HELD, 0, NT, PGR_EV_IP_MISS }));
	CASE("unresolved, longer than a full frame", big,
	     ((struct want){ PGR_FWD_DROP, PGR_STAT_VM_DROP_NO_GARP, 0, NT, PGR_EV_IP_MISS }));
	CASE("unresolved again after the resend", resent, ((struct want)DROP(VM_DROP_RESEND_MISS)));
	CASE("foreign intermediary", udp(FROM_VM, M(VB, 0), M(VA, 0), A_IP, IP(10, 0, 0, 99)),
	     ((struct want)DROP(VM_DROP_BAD_ENTRY)));
	CASE("DHCP DISCOVER (0.0.0.0 to broadcast): to the agent",
	     dhcp(BCAST, M(VA, 0), 0, 0xffffffffu),
	     ((struct want){ PGR_FWD_HOLD, PGR_STAT_VM_DHCP, 0, NT, PGR_EV_DHCP }));
	CASE("DHCP renewal (unicast to the server, any MAC): to the agent",
	     dhcp(M(S1, 0), M(VA, 0), A_IP, IP(10, 0, 0, 254)),
	     ((struct want){ PGR_FWD_HOLD, PGR_STAT_VM_DHCP, 0, NT, PGR_EV_DHCP }));
	CASE("DHCP with a spoofed source: to the agent, which checks it",
	     dhcp(BCAST, M(VC, 0), IP(10, 0, 0, 3), 0xffffffffu),
	     ((struct want){ PGR_FWD_HOLD, PGR_STAT_VM_DHCP, 0, NT, PGR_EV_DHCP }));
	CASE("DHCP longer than a full frame", dhcp_big, ((struct want)DROP(VM_DROP_DHCP)));
	igmp_big.len = PGR_DP_HOLD_FRAME + 1;
	igmp_back.resent = mld_back.resent = true;
	hbh_udp.b[14 + 40] = 17;	/* a hop-by-hop header, then not ICMPv6 */
	CASE("IGMPv2 report: to the agent", igmp(),
	     ((struct want){ PGR_FWD_HOLD, PGR_STAT_VM_MCAST_REPORT, 0, NT, PGR_EV_MCAST }));
	CASE("IGMP longer than a full frame", igmp_big, ((struct want)DROP(VM_DROP_MCAST)));
	CASE("IGMP sent back by the agent", igmp_back, ((struct want)DROP(VM_DROP_MCAST)));
	CASE("MLDv2 report after the router alert: to the agent", mld(143, true),
	     ((struct want){ PGR_FWD_HOLD, PGR_STAT_VM_MCAST_REPORT, 0, NT, PGR_EV_MCAST }));
	CASE("MLDv1 done without a hop-by-hop header: to the agent", mld(132, false),
	     ((struct want){ PGR_FWD_HOLD, PGR_STAT_VM_MCAST_REPORT, 0, NT, PGR_EV_MCAST }));
	CASE("MLD sent back by the agent", mld_back, ((struct want)DROP(VM_DROP_MCAST)));
	CASE("hop-by-hop header, then UDP to a group", hbh_udp, ((struct want)DROP(VM_DROP_GROUP)));
	CASE("ICMPv6 echo to a group (not MLD)", mld(128, false), ((struct want)DROP(VM_DROP_GROUP)));
	CASEO("IPv6 indirect: encapsulated as IPv4 is, no bytes added",
	      udp6(M(VB, 0), M(VA, 0), A6_OF(VA), A6_OF(VB)),
	      ((struct want){ PGR_FWD_TRANSMIT, PGR_STAT_VM_INDIRECT, NIC1, PGR_PRIMARY, 0 }),
	      udp6(M(S2, 0), ENC(VB, 0, VA), A6_OF(VA), A6_OF(VB)));
	CASEO("IPv6 direct", udp6(M(VE, 0), M(VA, 0), A6_OF(VA), A6_OF(VE)),
	      ((struct want){ PGR_FWD_TRANSMIT, PGR_STAT_VM_DIRECT, NIC1, PGR_PRIMARY, 0 }),
	      udp6(M(VE, 0), M(VA, 0), A6_OF(VA), A6_OF(VE)));
	CASEO("IPv6 local", udp6(M(VC, 1), M(VA, 0), A6_OF(VA), A6_OF(VC)),
	      ((struct want){ PGR_FWD_DELIVER, PGR_STAT_VM_LOCAL, PORT_C, NT, 0 }),
	      udp6(M(VC, 0), M(VA, 0), A6_OF(VA), A6_OF(VC)));
	CASE("IPv6 to another VDC's VM with the same address",
	     udp6(M(VD, 0), M(VA, 0), A6_OF(VA), A6_OF(VB)), ((struct want)DROP(VM_DROP_DST_MAC)));
	CASE("IPv6 from another VM's address", udp6(M(VB, 0), M(VA, 0), A6_OF(VC), A6_OF(VB)),
	     ((struct want)DROP(VM_DROP_SRC_IP6)));
	CASE("IPv6 from another VM's MAC", udp6(M(VB, 0), M(VC, 0), A6_OF(VA), A6_OF(VB)),
	     ((struct want)DROP(VM_DROP_SRC_MAC)));
	CASE("IPv6 to an address with no entry", udp6(M(VB, 0), M(VA, 0), A6_OF(VA), A6_OF(50)),
	     ((struct want)DROP(VM_DROP_NO_GARP6)));
	CASE("IPv6 multicast", udp6(MC_ALL, M(VA, 0), A6_OF(VA), ALL_NODES),
	     ((struct want)DROP(VM_DROP_GROUP)));
	CASE("truncated IPv6", ip6_short, ((struct want)DROP(VM_DROP_SHORT)));
	CASEO("Neighbour Solicitation answered from the GARP6 map",
	      ns(M(VA, 0), A6_OF(VA), A6_OF(VB), M(VA, 0)),
	      ((struct want){ PGR_FWD_DELIVER, PGR_STAT_VM_ND_REPLY, PORT_A, NT, 0 }),
	      nd(136, M(VA, 0), M(VB, 0), A6_OF(VB), A6_OF(VA), A6_OF(VB), 2, M(VB, 0)));
	CASE("Neighbour Solicitation for an address with no entry",
	     ns(M(VA, 0), A6_OF(VA), A6_OF(50), M(VA, 0)),
	     ((struct want){ PGR_FWD_HOLD, PGR_STAT_VM_ND_MISS, 0, NT, PGR_EV_ND_MISS }));
	CASE("Neighbour Solicitation sent back by the agent, still no entry", ns_back,
	     ((struct want)DROP(VM_DROP_RESEND_MISS)));
	CASEO("Neighbour Solicitation sent back by the agent, answered", ns_back_hit,
	      ((struct want){ PGR_FWD_DELIVER, PGR_STAT_VM_ND_REPLY, PORT_A, NT, 0 }),
	      nd(136, M(VA, 0), M(VB, 0), A6_OF(VB), A6_OF(VA), A6_OF(VB), 2, M(VB, 0)));
	CASE("IPv6 datagram sent back by the agent", ip6_back, ((struct want)DROP(VM_DROP_ETHERTYPE)));
	CASE("Neighbour Solicitation with another VM's link-layer address",
	     ns(M(VA, 0), A6_OF(VA), A6_OF(VB), M(VC, 0)), ((struct want)DROP(VM_DROP_ND_BAD)));
	CASE("Neighbour Solicitation with hop limit 64", ns_hop, ((struct want)DROP(VM_DROP_ND_BAD)));
	CASE("duplicate address detection: unanswered", dad, ((struct want)DROP(VM_ND_DAD)));
	CASE("Router Solicitation: to the agent", rs(M(VA, 0), A6_OF(VA), 255),
	     ((struct want){ PGR_FWD_HOLD, PGR_STAT_VM_RS, 0, NT, PGR_EV_RS }));
	CASE("Router Solicitation from ::, to the agent", rs(M(VA, 0), UNSPEC6, 255),
	     ((struct want){ PGR_FWD_HOLD, PGR_STAT_VM_RS, 0, NT, PGR_EV_RS }));
	CASE("Router Solicitation with hop limit 64", rs(M(VA, 0), A6_OF(VA), 64),
	     ((struct want)DROP(VM_DROP_RS)));
	CASE("Router Solicitation from another VM's address", rs(M(VA, 0), A6_OF(VC), 255),
	     ((struct want)DROP(VM_DROP_RS)));
	CASE("Router Solicitation from another VM's MAC", rs(M(VC, 0), A6_OF(VA), 255),
	     ((struct want)DROP(VM_DROP_SRC_MAC)));
	CASE("Router Solicitation sent back by the agent", rs_back, ((struct want)DROP(VM_DROP_RS)));
	CASE("Router Solicitation truncated", rs_short, ((struct want)DROP(VM_DROP_RS)));
	CASE("IPv4 broadcast", udp(FROM_VM, BCAST, M(VA, 0), A_IP, B_IP), ((struct want)DROP(VM_DROP_GROUP)));
	CASE("IPv4 header length 4", ihl4, ((struct want)DROP(VM_DROP_IP_BAD)));
	CASE("truncated IPv4", tr, ((struct want)DROP(VM_DROP_SHORT)));
	CASE("frame from a port that is not a VM's", stray, ((struct want)DROP(VM_DROP_NO_PORT)));
	CASE("runt frame from the fabric", runt, ((struct want)DROP(NET_DROP_SHORT)));
	CASE("IPv6", eth(FROM_VM, M(VB, 0), WIRE_ETH_P_IPV6), ((struct want)DROP(VM_DROP_IPV6)));
	CASE("other EtherType", eth(FROM_VM, M(VB, 0), 0x1234), ((struct want)DROP(VM_DROP_ETHERTYPE)));
	CASEO("decapsulated", udp(FROM_NET, M(S1, 1), ENC(VA, 1, VB), B_IP, A_IP),
	      ((struct want){ PGR_FWD_DELIVER, PGR_STAT_NET_DECAP, PORT_A, NT, 0 }),
	      udp(FROM_NET, M(VA, 0), M(VB, 0), B_IP, A_IP));
	CASEO("direct delivery", udp(FROM_NET, M(VC, 1), M(VB, 0), B_IP, A_IP),
	      ((struct want){ PGR_FWD_DELIVER, PGR_STAT_NET_DIRECT, PORT_C, NT, 0 }),
	      udp(FROM_NET, M(VC, 0), M(VB, 0), B_IP, A_IP));
	CASE("not encapsulated", udp(FROM_NET, M(S1, 0), M(VB, 0), B_IP, A_IP),
	     ((struct want)DROP(NET_DROP_BAD_ENCAP)));
	CASE("group frame: replicated (the copies: bpf/test_dp)",
	     udp(FROM_VM, GMAC(G1), M(VA, 0), A_IP, G1),
	     ((struct want){ PGR_FWD_REPLICATE, PGR_STAT_VM_GROUP_SENT, PORT_A, NT, 0 }));
	CASE("broadcast 255.255.255.255: replicated to the VDC's broadcast group",
	     udp(FROM_VM, BCAST, M(VA, 0), A_IP, BCAST_IP),
	     ((struct want){ PGR_FWD_REPLICATE, PGR_STAT_VM_GROUP_SENT, PORT_A, NT, 0 }));
	CASE("group whose member servers are stale: replicated, and asks again",
	     udp(FROM_VM, GMAC(G_STALE), M(VA, 0), A_IP, G_STALE),
	     ((struct want){ PGR_FWD_REPLICATE, PGR_STAT_VM_GROUP_SENT, PORT_A, NT,
			     PGR_EV_GROUP_MISS }));
	CASE("group unknown in the VM's VDC (another VDC's): dropped, asks",
	     udp(FROM_VM, GMAC(G_NONE), M(VA, 0), A_IP, G_NONE),
	     ((struct want){ PGR_FWD_DROP, PGR_STAT_VM_DROP_GROUP_NONE, 0, NT, PGR_EV_GROUP_MISS }));
	CASE("group frame to another group's MAC", udp(FROM_VM, GMAC(G_STALE), M(VA, 0), A_IP, G1),
	     ((struct want)DROP(VM_DROP_GROUP_MAC)));
	CASE("group frame to a unicast MAC", udp(FROM_VM, M(VB, 0), M(VA, 0), A_IP, G1),
	     ((struct want)DROP(VM_DROP_GROUP_MAC)));
	CASE("group frame from another VM's address", udp(FROM_VM, GMAC(G1), M(VA, 0), B_IP, G1),
	     ((struct want)DROP(VM_DROP_SRC_IP)));
	CASE("group frame from another MAC", udp(FROM_VM, GMAC(G1), M(VC, 0), A_IP, G1),
	     ((struct want)DROP(VM_DROP_SRC_MAC)));
	CASEO("replica: decapsulated, the group's MAC, to the local members",
	      udp(FROM_NET, M(S1, 1), ENC(VA, 0, VB), B_IP, G1),
	      ((struct want){ PGR_FWD_REPLICATE, PGR_STAT_NET_GROUP_LOCAL, 0, NT, 0 }),
	      udp(FROM_NET, GMAC(G1), M(VB, 0), B_IP, G1));
	CASEO("broadcast replica", udp(FROM_NET, M(S1, 0), ENC(VC, 1, VB), B_IP, BCAST_IP),
	      ((struct want){ PGR_FWD_REPLICATE, PGR_STAT_NET_GROUP_LOCAL, 0, NT, 0 }),
	      udp(FROM_NET, BCAST, M(VB, 0), B_IP, BCAST_IP));
	CASE("replica of a group with no member here (VDC 2's group, a VDC 1 VM's ID)",
	     udp(FROM_NET, M(S1, 0), ENC(VA, 0, VB), B_IP, G_NONE),
	     ((struct want)DROP(NET_DROP_GROUP_NONE)));
	CASE("no such VM", udp(FROM_NET, M(S1, 0), ENC(VB, 0, VA), A_IP, B_IP),
	     ((struct want)DROP(NET_DROP_NO_VM)));
	CASE("direct, bad source", udp(FROM_NET, M(VA, 0), FOREIGN_MAC, B_IP, A_IP),
	     ((struct want)DROP(NET_DROP_BAD_SRC)));
	CASE("broadcast", udp(FROM_NET, BCAST, M(VB, 0), B_IP, A_IP), ((struct want)DROP(NET_DROP_GROUP)));
	CASE("foreign", udp(FROM_NET, FOREIGN_MAC, M(VB, 0), B_IP, A_IP),
	     ((struct want)DROP(NET_DROP_FOREIGN)));
	CASE("pass mode: foreign", udp(FROM_NET_PASS, FOREIGN_MAC, M(VB, 0), B_IP, A_IP),
	     ((struct want){ PGR_FWD_PASS, PGR_STAT_NET_PASS, 0, NT, 0 }));
#undef CASE
#undef CASEO
	*n = i;
	return c;
}

/* The counters outside the decision: the port's egress hook (no decision
 * to make) and a full ring (an event or a DHCP frame lost). */
static bool decision_stat(int s)
{
	return s != PGR_STAT_PORT_RESEND && s != PGR_STAT_PORT_OUT && s != PGR_STAT_EVENT_LOST &&
	       s != PGR_STAT_VM_DROP_DHCP_LOST && s != PGR_STAT_VM_DROP_MCAST_LOST &&
	       s != PGR_STAT_VM_GROUP_COPY && s != PGR_STAT_VM_GROUP_LOCAL &&
	       s != PGR_STAT_VM_DROP_GROUP_COPY && s != PGR_STAT_VM_DROP_GROUP_RATE;
}

static void test_every_verdict(void **state)
{
	bool seen[PGR_STAT_COUNT] = { false };
	size_t n;
	struct vcase *c = verdict_cases(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		check_case(&c[i]);
		seen[c[i].w.stat] = true;
	}
	for (int s = 0; s < PGR_STAT_COUNT; s++)
		if (decision_stat(s) && !seen[s])
			fail_msg("no case for %s", pgr_dp_stat_name(s));
}

static void test_tables(void **state)
{
	struct pgr_fwd_tables t;
	struct pgr_garp_entry g = { .avail = 1 };
	struct pgr_vm v = { .ifindex = 3, .id = pgr_id_of(5, 0) };
	uint32_t n = 0;

	(void)state;
	pgr_fwd_tables_init(&t);
	pgr_mac_make(v.mac, v.id);
	for (uint32_t i = 0; i < PGR_DP_GARP_MAX; i++)
		assert_int_equal(pgr_fwd_garp_put(&t, &(struct pgr_garp_key){ 1, i }, &g), 0);
	assert_int_equal(pgr_fwd_garp_put(&t, &(struct pgr_garp_key){ 2, 0 }, &g), -E2BIG);
	g.avail = 2;	/* replacing needs no room */
	assert_int_equal(pgr_fwd_garp_put(&t, &(struct pgr_garp_key){ 1, 7 }, &g), 0);
	assert_int_equal(pgr_fwd_garp(&t, &(struct pgr_garp_key){ 1, 7 })->avail, 2);
	assert_true(pgr_fwd_garp_del(&t, &(struct pgr_garp_key){ 1, 7 }));
	assert_false(pgr_fwd_garp_del(&t, &(struct pgr_garp_key){ 1, 7 }));
	assert_null(pgr_fwd_garp(&t, &(struct pgr_garp_key){ 1, 7 }));
	for (uint32_t i = 0; i < PGR_DP_GARP_MAX; i++)
		n += pgr_fwd_garp(&t, &(struct pgr_garp_key){ 1, i }) != NULL;
	assert_int_equal(n, PGR_DP_GARP_MAX - 1);
	assert_int_equal(pgr_fwd_vm_add(&t, &v, pgr_id_of(5, 1)), 0);
	assert_ptr_equal(pgr_fwd_port(&t, 3)->id, v.id);
	assert_ptr_equal(pgr_fwd_vm(&t, pgr_id_of(5, 1))->id, v.id);
	/* the agent's callbacks: the loader's checks and answers */
	assert_int_equal(pgr_fwd_op_vm_del(&t, &v, pgr_id_of(5, 1)), 0);
	assert_null(pgr_fwd_port(&t, 3));
	assert_null(pgr_fwd_vm(&t, v.id));
	assert_null(pgr_fwd_vm(&t, pgr_id_of(5, 1)));
	assert_int_equal(pgr_fwd_op_vm_del(&t, &v, pgr_id_of(5, 1)), -ENOENT);
	assert_int_equal(pgr_fwd_op_vm_add(&t, &v, pgr_id_of(5, 1)), 0);
	assert_non_null(pgr_fwd_port(&t, 3));
	v.mac[0] = 0;
	assert_int_equal(pgr_fwd_op_vm_add(&t, &v, pgr_id_of(6, 1)), -EINVAL);
	assert_int_equal(pgr_fwd_op_garp_set(&t, &(struct pgr_garp_key){ 3, 3 }, &g), -EINVAL);
	for (int i = 0; i < PGR_TREES; i++) {
		pgr_mac_make(g.vm_mac[i], pgr_id_of(8, (uint32_t)i));
		pgr_mac_make(g.im_mac[i], pgr_id_of(2, (uint32_t)i));
	}
	assert_int_equal(pgr_fwd_garp_del(&t, &(struct pgr_garp_key){ 1, 8 }), true);
	assert_int_equal(pgr_fwd_op_garp_set(&t, &(struct pgr_garp_key){ 3, 3 }, &g), 0);
	assert_int_equal(pgr_fwd_op_garp_del(&t, &(struct pgr_garp_key){ 3, 3 }), 0);
	assert_int_equal(pgr_fwd_op_garp_del(&t, &(struct pgr_garp_key){ 3, 3 }), -ENOENT);
	pgr_fwd_tables_free(&t);
}

/* ---- the same frames through the eBPF build ------------------------------------ */

static struct pgr_held last_ev;
static bool got_ev;

static int on_event(void *ctx, void *data, size_t size)
{
	(void)ctx;
	assert_true(size >= sizeof(struct pgr_event) && size <= sizeof(last_ev));
	memset(&last_ev, 0, sizeof(last_ev));
	memcpy(&last_ev, data, size);
	got_ev = true;
	return 0;
}

static int expected_retval(const struct pgr_fwd *f)
{
	switch (f->act) {
	case PGR_FWD_DELIVER:
	case PGR_FWD_TRANSMIT:
		return TC_ACT_REDIRECT;
	case PGR_FWD_PASS:
		return TC_ACT_OK;
	default:
		return TC_ACT_SHOT;
	}
}

/* A test run needs a whole Ethernet header, and for IPv4 or IPv6 a whole
 * fixed network header after it. */
static bool kernel_refuses(const struct frame *f)
{
	uint16_t type = f->len >= 14 ? (uint16_t)(f->b[12] << 8 | f->b[13]) : 0;

	return f->len < 14 || (type == WIRE_ETH_P_IPV4 && f->len < 14 + 20) ||
	       (type == WIRE_ETH_P_IPV6 && f->len < 14 + 40);
}

/* Run f through the eBPF program and the user-space decision; false if the
 * frame cannot be a test run (a header shorter than the kernel accepts, a
 * port other than loopback), in which case only the user-space verdict is
 * checked (test_every_verdict). */
static bool compare(const struct frame *in, const char *what, struct ring_buffer *rb,
		    unsigned *hits)
{
	struct pgr_dp *d = in->side == FROM_NET_PASS ? dp_pass : dp;
	const struct pgr_dp_maps *m = pgr_dp_maps(d);
	int prog = in->side == FROM_VM ? pgr_dp_from_vm_fd(d) : pgr_dp_from_net_fd(d);
	struct pgr_counter before[PGR_STAT_COUNT], after[PGR_STAT_COUNT];
	struct frame u = *in;
	struct pgr_fwd f = decide(&u);
	uint8_t out[BIG];
	struct __sk_buff ctx = { .ifindex = PORT_A, .mark = in->resent ? PGR_MARK_RESEND : 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->b, .data_size_in = (uint32_t)in->len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));

	if (in->port)	/* test runs need a port that exists: loopback is VM A's */
		return false;
	assert_int_equal(pgr_dp_stats_read(m, before), 0);
	got_ev = false;
	if (bpf_prog_test_run_opts(prog, &o)) {
		if (errno != EINVAL || !kernel_refuses(in))
			fail_msg("%s: the kernel refused a test run (%s), %zu bytes, user space %s",
				 what, strerror(errno), in->len, pgr_dp_stat_name(f.stat));
		return false;
	}
	assert_int_equal(pgr_dp_stats_read(m, after), 0);
	ring_buffer__consume(rb);
	if ((int)o.retval != expected_retval(&f) ||
	    after[f.stat].packets != before[f.stat].packets + 1 || o.data_size_out != u.len ||
	    memcmp(out, u.b, u.len))
		fail_msg("%s: eBPF %d, user space %d/%s; counter %s; output %s", what,
			 (int)o.retval, expected_retval(&f), pgr_dp_stat_name(f.stat),
			 after[f.stat].packets == before[f.stat].packets + 1 ? "same" : "differs",
			 o.data_size_out == u.len && !memcmp(out, u.b, u.len) ? "same" : "differs");
	if (got_ev != (f.event != 0))
		fail_msg("%s: eBPF sent %s event, user space %s (%s)", what, got_ev ? "an" : "no",
			 f.event ? "one" : "none", pgr_dp_stat_name(f.stat));
	if (f.event) {
		assert_int_equal(last_ev.ev.type, f.event);
		assert_int_equal(last_ev.ev.vdc, f.ev_vdc);
		assert_int_equal(last_ev.ev.ip, f.ev_ip);
		assert_int_equal(last_ev.ev.vm_id, f.ev_vm_id);
		assert_int_equal(last_ev.ev.frame_len, f.act == PGR_FWD_HOLD ? in->len : 0);
	}
	hits[f.stat]++;
	return true;
}

static struct mac pick_mac(struct rng *r)
{
	const struct mac pool[] = {
		M(VA, 0), M(VA, 1), M(VB, 0), M(VB, 1), M(VC, 0), M(VC, 1), M(VD, 0), M(VE, 0),
		M(VE, 1), M(VX, 0), M(VX, 1), M(VG, 0), M(VG, 1), M(VH, 0), M(VF, 0), M(VSVC, 0),
		M(S1, 0), M(S1, 1), M(S2, 0), M(S2, 1), FOREIGN_MAC, BCAST,
		ENC(VA, 0, VB), ENC(VA, 1, VB), ENC(VB, 0, VA), ENC(VC, 0, VB), ENC(VC, 1, VA),
		{ { 0x01, 0x00, 0x5e, 0, 0, 1 } }, { { 0x02, 0x00, 0x00, 0x02, 0x00, 0x00 } },
	};

	return pool[rng_below(r, ARRAY_SIZE(pool))];
}

static uint32_t pick_ip(struct rng *r)
{
	static const uint32_t pool[] = {
		IP(10, 0, 0, 1), IP(10, 0, 0, 2), IP(10, 0, 0, 3), IP(10, 0, 0, 5), IP(10, 0, 0, 6),
		IP(10, 0, 0, 7), IP(10, 0, 0, 8), IP(10, 0, 0, 9), IP(10, 0, 0, 10), IP(10, 0, 0, 99),
		IP(10, 255, 0, 1), IP(10, 0, 0, 77),
	};

	return pool[rng_below(r, ARRAY_SIZE(pool))];
}

static struct rng vip_rng, rs_rng, grp_rng;

/* A random frame: well-formed ones aimed at the fixture (so that the deep
 * paths are reached), then with some bytes flipped, cut short or replaced by
 * noise altogether. */
static struct frame random_frame(struct rng *r)
{
	enum side s = (enum side)rng_below(r, 3);
	struct mac src = s == FROM_VM && rng_below(r, 4) ? M(VA, 0) : pick_mac(r);
	struct frame f;
	uint32_t k = rng_below(r, 12);

	if (k >= 10 && s == FROM_VM) {	/* IPv6 aimed at the fixture */
		static const uint32_t dst[] = { VB, VC, VE, 50 };
		uint32_t d = dst[rng_below(r, 4)];
		struct ip6 sa = rng_below(r, 4) ? A6_OF(VA) : A6_OF(VC);
		struct mac dm = rng_below(r, 4) ? M(d, rng_below(r, 2)) : M(VD, 0);

		if (k == 10 && rng_below(r, 4) == 0) {
			f = mld((uint8_t)(130 + rng_below(r, 4)), rng_below(r, 2));
			/* or a router solicitation, from a generator of its own */
			if (rng_below(&rs_rng, 2))
				f = rs(src, rng_below(&rs_rng, 4) ? sa : UNSPEC6,
				       rng_below(&rs_rng, 4) ? 255 : 64);
		}
		else if (k == 10)
			f = udp6(dm, src, sa, A6_OF(d));
		else if (rng_below(r, 4))
			f = ns(src, sa, A6_OF(d), rng_below(r, 4) ? src : M(VC, 0));
		else
			f = nd(135, SOLICITED_MAC(A6_OF(VA)), src, UNSPEC6, SOLICITED(A6_OF(VA)),
			       A6_OF(VA), 0, src);
	} else if (k < 5) {
		f = udp(s, pick_mac(r), src, rng_below(r, 4) ? A_IP : pick_ip(r), pick_ip(r));
		if (s == FROM_VM && rng_below(r, 2)) {
			const struct pgr_garp_entry *g = pgr_fwd_garp_lookup(&tab, VDC1,
									 wire_ip_get(f.b + 30));

			if (g)
				memcpy(f.b, g->vm_mac[rng_below(r, 2)], 6);
		}
		/* from a VIP (DSR), drawn from a generator of its own so that the
		 * other frames stay what they were */
		if (s == FROM_VM && rng_below(&vip_rng, 3) == 0) {
			static const uint32_t vips[] = { VIP_OK, VIP_BAK, VIP_NONE, VIP_VDC2,
							 IP(203, 0, 113, 99) };
			struct mac edge = M(EDGE, rng_below(&vip_rng, 2));

			wire_ip_put(f.b + 26, vips[rng_below(&vip_rng, ARRAY_SIZE(vips))]);
			if (rng_below(&vip_rng, 4))
				memcpy(f.b, edge.b, 6);
		}
		/* to a group, from a generator of its own as the VIPs */
		if (rng_below(&grp_rng, 5) == 0) {
			static const uint32_t gs[] = { G1, G_STALE, G_NONE, BCAST_IP };
			uint32_t g = gs[rng_below(&grp_rng, ARRAY_SIZE(gs))];

			wire_ip_put(f.b + 30, g);
			if (s == FROM_VM && rng_below(&grp_rng, 4))
				memcpy(f.b, GMAC(g).b, 6);
			if (s != FROM_VM && rng_below(&grp_rng, 2)) {
				memcpy(f.b, M(S1, rng_below(&grp_rng, 2)).b, 6);
				memcpy(f.b + 6, (rng_below(&grp_rng, 4) ? ENC(VA, 0, VB)
									: ENC(VC, 1, VA)).b, 6);
			}
		}
		if (rng_below(r, 8) == 0) {	/* to the DHCP server's port */
			f.b[14 + 20 + 2] = 0;
			f.b[14 + 20 + 3] = 67;
		} else if (rng_below(r, 8) == 0) {	/* IGMP */
			f.b[14 + 9] = 2;
		}
	} else if (k < 7) {
		f = arp(s, rng_below(r, 4) ? 1 : 2, src, rng_below(r, 4) ? src : pick_mac(r),
			rng_below(r, 4) ? A_IP : pick_ip(r), pick_ip(r));
	} else if (k < 8) {
		f = eth(s, pick_mac(r), rng_below(r, 2) ? WIRE_ETH_P_IPV6 : (uint16_t)rng_next(r));
	} else {
		f = (struct frame){ .side = s, .len = 14 + rng_below(r, 100) };
		for (size_t i = 0; i < f.len; i++)
			f.b[i] = (uint8_t)rng_next(r);
		if (rng_below(r, 2))
			memcpy(f.b + 12, "\x08\x00\x45", 3);
	}
	for (uint32_t n = rng_below(r, 3) ? 0 : 1 + rng_below(r, 4); n; n--)
		f.b[rng_below(r, (uint32_t)f.len)] ^= (uint8_t)(1 + rng_below(r, 255));
	if (rng_below(r, 10) == 0)
		f.len = 14 + rng_below(r, (uint32_t)f.len - 13);
	if (rng_below(r, 20) == 0)
		f.len = PGR_DP_HOLD_FRAME + rng_below(r, 200);	/* zero padding */
	f.resent = s == FROM_VM && rng_below(r, 8) == 0;
	return f;
}

static void test_same_as_ebpf(void **state)
{
	unsigned hits[PGR_STAT_COUNT] = { 0 }, refused = 0;
	struct ring_buffer *rb;
	size_t n;
	struct vcase *c = verdict_cases(&n);
	struct rng r;
	char what[64];

	(void)state;
	if (!have_root)
		skip();
	rb = ring_buffer__new(pgr_dp_maps(dp)->events, on_event, NULL, NULL);
	assert_non_null(rb);
	for (size_t i = 0; i < n; i++)
		compare(&c[i].in, c[i].desc, rb, hits);
	rng_seed(&r, 7);
	rng_seed(&vip_rng, 11);
	rng_seed(&rs_rng, 13);
	rng_seed(&grp_rng, 17);
	for (int i = 0; i < RANDOM_FRAMES; i++) {
		struct frame f = random_frame(&r);

		snprintf(what, sizeof(what), "random frame %d", i);
		refused += !compare(&f, what, rb, hits);
	}
	ring_buffer__free(rb);
	for (int s = 0; s < PGR_STAT_COUNT; s++)
		if (hits[s])
			print_message("  %-22s %u\n", pgr_dp_stat_name(s), hits[s]);
	print_message("  refused by the kernel (short headers): %u\n", refused);
	/* An IPv4 miss too long to hold (vm_drop_no_garp) needs a padded frame
	 * from a VM to a missing address with its own source: a few in 18,000
	 * since the VIP and group frames took their share (the fixture "big"
	 * holds the verdict exactly); every other verdict at least 5 times. */
	for (int s = 0; s < PGR_STAT_COUNT; s++)
		if (decision_stat(s) && s != PGR_STAT_VM_DROP_NO_PORT &&
		    s != PGR_STAT_NET_DROP_SHORT && hits[s] < (s == PGR_STAT_VM_DROP_NO_GARP ? 2u : 5u))
			fail_msg("random frames reached %s only %u times", pgr_dp_stat_name(s), hits[s]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_every_verdict),
		cmocka_unit_test(test_same_as_ebpf),
	};

	if (geteuid() != 0)
		fprintf(stderr, "SKIP: the eBPF half needs root\n");
	return cmocka_run_group_tests(tests, setup, teardown);
}
