/* The agent's IPv6 control plane (agent/agent6.c) with real directory and
 * client cores behind two agents: each registers its VMs' SLAAC and
 * link-local addresses; a Neighbour Solicitation the data plane could not
 * answer is looked up (LOOKUP6), the entry written to GARP6 and the NS sent
 * back; another VDC's address, a malformed or spoofed NS get nothing.  The
 * entries written follow the directory (pushes, renewals, expiry), and a
 * router solicitation is answered at once. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "dir/dir.h"
#include "dir/dir6.h"
#include "wire/pgr.h"

#define SEC 1000000000ull

static const struct auth_key key = { { 4, 5, 6 } };

struct fake {
	unsigned nset, nresend, ndel;
	struct pgr_garp6_key del;
	struct pgr_garp6_key k;
	struct pgr_garp_entry g;
	uint32_t resend_ifindex;
	uint8_t resend[128];
	size_t resend_len;
	/* datagrams to the directory */
	uint8_t q[16][DIRP_MAX_DGRAM];
	size_t qlen[16];
	unsigned nq;
};

static int f_garp(void *arg, const struct pgr_garp_key *k, const struct pgr_garp_entry *g)
{
	(void)arg, (void)k, (void)g;
	return 0;
}

static int f_del(void *arg, const struct pgr_garp_key *k)
{
	(void)arg, (void)k;
	return 0;
}

static int f_vm(void *arg, const struct pgr_vm *vm, uint32_t b)
{
	(void)arg, (void)vm, (void)b;
	return 0;
}

static unsigned nsent;
static uint32_t sent_ifindex[8];
static uint8_t sent_frame[8][AGENT6_RA_LEN];

static int f_send(void *arg, uint32_t ifindex, const uint8_t *frame, size_t len)
{
	(void)arg;
	if (nsent < 8 && len == AGENT6_RA_LEN) {
		sent_ifindex[nsent] = ifindex;
		memcpy(sent_frame[nsent], frame, len);
	}
	nsent++;
	return 0;
}

static int f_resend(void *arg, uint32_t ifindex, const uint8_t *frame, size_t len)
{
	struct fake *f = arg;

	assert_true(len <= sizeof(f->resend));
	f->nresend++;
	f->resend_ifindex = ifindex;
	memcpy(f->resend, frame, len);
	f->resend_len = len;
	return 0;
}

static int f_ras(void *arg, const uint8_t *buf, size_t len)
{
	(void)arg, (void)buf, (void)len;
	return 0;
}

static int f_garp6(void *arg, const struct pgr_garp6_key *k, const struct pgr_garp_entry *g)
{
	struct fake *f = arg;

	f->nset++;
	f->k = *k;
	f->g = *g;
	return 0;
}

static int f_garp6_del(void *arg, const struct pgr_garp6_key *k)
{
	struct fake *f = arg;

	f->ndel++;
	f->del = *k;
	return 0;
}

static void f_dir(void *arg, const uint8_t *buf, size_t len)
{
	struct fake *f = arg;

	assert_true(f->nq < 16);	/* IPv4, IPv6 and group registrations */
	memcpy(f->q[f->nq], buf, len);
	f->qlen[f->nq++] = len;
}

/* The directory clients by address, for pushes; pushes dropped (lost). */
static struct {
	uint64_t addr;
	struct dirc *c;
} clients[4];
static bool drop_pushes;

static uint64_t addr_of(const struct fake *f)
{
	return (uint64_t)(uintptr_t)f & 0xffff;
}

static void client_at(const struct fake *f, struct dirc *c)
{
	for (unsigned i = 0; i < 4; i++)
		if (!clients[i].c || clients[i].addr == addr_of(f)) {
			clients[i].addr = addr_of(f);
			clients[i].c = c;
			return;
		}
}

/* f's datagrams to the directory; what comes out goes to the client at
 * its address (c when none is known). */
static void pump(struct dir *d, struct dirc *c, struct fake *f, struct dir_now now)
{
	struct dir_out out;

	dir_out_init(&out);
	for (unsigned i = 0; i < f->nq; i++) {
		dir_input(d, now, addr_of(f), f->q[i], f->qlen[i], &out);
		for (size_t k = 0; k < out.nsends; k++) {
			const struct dir_send *sd = &out.sends[k];
			const uint8_t *b = out.buf + sd->off;

			if (drop_pushes && b[3] == DIRP_UPDATE6)
				continue;
			for (uint32_t j = 0; j < sd->ndst; j++) {
				struct dirc *to = c;

				for (unsigned n = 0; n < 4; n++)
					if (clients[n].c && clients[n].addr == out.dsts[sd->dst + j])
						to = clients[n].c;
				dirc_input(to, now, b, sd->len);
			}
		}
		dir_out_reset(&out);
	}
	f->nq = 0;
	dir_out_free(&out);
}

static struct agent_vm_cfg vm_cfg(const char *name, uint32_t vdc, uint32_t node, uint32_t ifindex)
{
	struct agent_vm_cfg v = { .vdc = vdc, .ip = 0x0a000000u + node, .node = node,
				  .ifindex = ifindex, .has_prefix6 = true,
				  .prefix6 = { 0xfd, 0, 0, 0, 0, 0, 0, 1 } };

	snprintf(v.name, sizeof(v.name), "%s", name);
	snprintf(v.port, sizeof(v.port), "p%u", node);
	return v;
}

/* A Neighbour Solicitation from the VM (node) for target. */
static size_t ns_frame(uint8_t *b, uint32_t node, const uint8_t target[16])
{
	uint8_t mac[6], src[2][16];
	struct agent_vm_cfg v = vm_cfg("x", 1, node, 1);

	pgr_mac_make(mac, pgr_id_of(node, PGR_PRIMARY));
	agent6_vm_addrs(&v, src);
	memset(b, 0, 86);
	b[0] = 0x33, b[1] = 0x33, b[2] = 0xff;
	memcpy(b + 3, target + 13, 3);
	memcpy(b + 6, mac, 6);
	b[12] = 0x86, b[13] = 0xdd;
	b[14] = 0x60;
	b[19] = 32;		/* payload length */
	b[20] = 58;		/* ICMPv6 */
	b[21] = 255;
	memcpy(b + 22, src[1], 16);
	b[38] = 0xff, b[39] = 0x02, b[49] = 1, b[50] = 0xff;
	memcpy(b + 51, target + 13, 3);
	b[54] = 135;
	memcpy(b + 62, target, 16);
	b[78] = 1, b[79] = 1;	/* source link-layer address option */
	memcpy(b + 80, mac, 6);
	return 86;
}

static void agent6_end_to_end(void **state)
{
	static struct fake f1, f2;
	struct agent_ops o1 = { &f1, f_garp, f_del, f_vm, f_vm, f_send, f_resend, f_ras,
				{ NULL, NULL }, f_garp6, f_garp6_del, NULL, NULL, NULL, NULL };
	struct agent_ops o2 = { &f2, f_garp, f_del, f_vm, f_vm, f_send, f_resend, f_ras,
				{ NULL, NULL }, f_garp6, f_garp6_del, NULL, NULL, NULL, NULL };
	struct dirc_cfg c1 = { .key = &key, .seed = 1, .send = f_dir, .send_arg = &f1 };
	struct dirc_cfg c2 = { .key = &key, .seed = 2, .send = f_dir, .send_arg = &f2 };
	struct dir_cfg dc = { .key = &key, .seed = 3 };
	struct dir *d = dir_new(&dc);
	struct dirc *dc1 = dirc_new(&c1), *dc2 = dirc_new(&c2);
	struct dir_now now = { .ns = SEC, .wall_ms = 1700000000000ull };
	struct agent_vm_cfg v1[1] = { vm_cfg("red-a", 1, 13, 7) };
	struct agent_vm_cfg v2[2] = { vm_cfg("red-b", 1, 14, 8), vm_cfg("blue-b", 2, 15, 9) };
	struct agent_config k1 = { .server = "srv1", .node = 1, .nnics = 1, .nvms = 1, .vms = v1 };
	struct agent_config k2 = { .server = "srv2", .node = 2, .nnics = 1, .nvms = 2, .vms = v2 };
	struct agent *a1 = agent_new(&o1, dc1, &key, now), *a2 = agent_new(&o2, dc2, &key, now);
	uint8_t addr14[2][16], addr15[2][16], frame[128], mac[6];
	struct pgr_event ev = { .type = PGR_EV_ND_MISS, .vdc = 1, .vm_id = pgr_id_of(13, 0),
				.ifindex = 7 };
	uint64_t st[DIR_STAT_COUNT];
	size_t n;

	(void)state;
	agent_configure(a1, &k1, now);
	agent_configure(a2, &k2, now);
	pump(d, dc1, &f1, now);
	pump(d, dc2, &f2, now);
	dir_get_stats(d, st);
	assert_int_equal(st[DIR_STAT_v6_entries], 6);	/* 3 VMs: SLAAC and link-local */
	assert_int_equal(agent_stats6(a2)->registers6, 1);
	assert_int_equal(agent_stats6(a2)->register6_fail, 0);

	/* red-a asks for red-b's SLAAC address */
	agent6_vm_addrs(&v2[0], addr14);
	n = ns_frame(frame, 13, addr14[1]);
	agent_miss(a1, &ev, frame, n, now);
	agent_miss(a1, &ev, frame, n, now);	/* the NS again: one lookup */
	assert_int_equal(f1.nq, 1);
	pump(d, dc1, &f1, now);
	assert_int_equal(f1.nset, 1);
	assert_int_equal(f1.k.vdc, 1);
	assert_memory_equal(f1.k.ip, addr14[1], 16);
	pgr_mac_make(mac, pgr_id_of(14, PGR_PRIMARY));
	assert_memory_equal(f1.g.vm_mac[PGR_PRIMARY], mac, 6);
	pgr_mac_make(mac, pgr_id_of(2, PGR_PRIMARY));
	assert_memory_equal(f1.g.im_mac[PGR_PRIMARY], mac, 6);
	assert_false(f1.g.flags & PGR_GARP_LOCAL);
	assert_int_equal(f1.nresend, 1);
	assert_int_equal(f1.resend_ifindex, 7);
	assert_int_equal(f1.resend_len, n);
	assert_memory_equal(f1.resend, frame, n);
	assert_int_equal(agent_stats6(a1)->nd_resolved, 1);

	/* blue-b's address from VDC 1: the directory has it only in VDC 2 */
	agent6_vm_addrs(&v2[1], addr15);
	assert_memory_equal(addr15[1], addr14[1], 8);	/* same prefix, reused */
	n = ns_frame(frame, 13, addr15[1]);
	agent_miss(a1, &ev, frame, n, now);
	pump(d, dc1, &f1, now);
	assert_int_equal(f1.nset, 1);
	assert_int_equal(agent_stats6(a1)->nd_not_found, 1);

	/* an NS whose source MAC is not the port's VM; a truncated one; an
	 * event from the port with another VM's id */
	n = ns_frame(frame, 14, addr14[1]);
	agent_miss(a1, &ev, frame, n, now);
	n = ns_frame(frame, 13, addr14[1]);
	agent_miss(a1, &ev, frame, 40, now);
	ev.vm_id = pgr_id_of(14, 0);
	agent_miss(a1, &ev, frame, n, now);
	assert_int_equal(f1.nq, 0);
	assert_int_equal(agent_stats6(a1)->nd_bad, 3);

	/* red-b's own server resolves its neighbour locally */
	agent6_vm_addrs(&v2[0], addr14);
	n = ns_frame(frame, 14, addr14[0]);
	ev = (struct pgr_event){ .type = PGR_EV_ND_MISS, .vdc = 1, .vm_id = pgr_id_of(14, 0),
				 .ifindex = 8 };
	agent_miss(a2, &ev, frame, n, now);
	pump(d, dc2, &f2, now);
	assert_int_equal(f2.nset, 1);
	assert_true(f2.g.flags & PGR_GARP_LOCAL);
	agent_free(a1);
	agent_free(a2);
	dirc_free(dc1);
	dirc_free(dc2);
	dir_free(d);
}

static void addresses_are_eui64(void **state)
{
	struct agent_vm_cfg v = vm_cfg("x", 1, 13, 1);
	uint8_t a[2][16], mac[6];

	(void)state;
	pgr_mac_make(mac, pgr_id_of(13, PGR_PRIMARY));
	assert_int_equal(agent6_vm_addrs(&v, a), 2);
	assert_memory_equal(a[0], "\xfe\x80\0\0\0\0\0\0", 8);
	assert_memory_equal(a[1], "\xfd\0\0\0\0\0\0\x01", 8);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(a[i][8], mac[0] ^ 2);
		assert_memory_equal(a[i] + 11, "\xff\xfe", 2);
		assert_memory_equal(a[i] + 13, mac + 3, 3);
	}
	v.has_prefix6 = false;
	assert_int_equal(agent6_vm_addrs(&v, a), 1);
}


/* The one's-complement sum of the pseudo-header and the ICMPv6 message,
 * summed here independently of the agent's code: 0xffff when the checksum
 * is right. */
static uint16_t icmp6_sum(const uint8_t *ip)
{
	size_t mlen = (size_t)ip[4] << 8 | ip[5];
	uint32_t sum = (uint32_t)mlen + 58;

	for (size_t i = 8; i < 40; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	for (size_t i = 0; i < mlen; i += 2)
		sum += (uint32_t)ip[40 + i] << 8 | (i + 1 < mlen ? ip[41 + i] : 0);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void router_advertisement(void **state)
{
	struct agent_vm_cfg v = vm_cfg("x", 1, 13, 7);
	uint8_t f[AGENT6_RA_LEN], mac[6];
	const uint8_t *ip = f + 14, *ra = ip + 40;

	(void)state;
	assert_int_equal(agent6_ra_frame(1, &v, f), AGENT6_RA_LEN);
	pgr_mac_make(mac, pgr_id_of(1, PGR_PRIMARY));
	assert_memory_equal(f, "\x33\x33\0\0\0\x01", 6);
	assert_memory_equal(f + 6, mac, 6);
	assert_memory_equal(f + 12, "\x86\xdd\x60", 3);
	assert_int_equal(ip[4] << 8 | ip[5], 64);
	assert_int_equal(ip[6], 58);
	assert_int_equal(ip[7], 255);
	assert_memory_equal(ip + 8, "\xfe\x80\0\0\0\0\0\0", 8);
	assert_int_equal(ip[16], mac[0] ^ 2);
	assert_memory_equal(ip + 24, "\xff\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	assert_int_equal(ra[0], 134);
	assert_int_equal(ra[1], 0);
	assert_int_equal(ra[6] << 8 | ra[7], 0);		/* router lifetime: no default route */
	assert_memory_equal(ra + 16, "\x01\x01", 2);		/* source link-layer */
	assert_memory_equal(ra + 18, mac, 6);
	assert_memory_equal(ra + 24, "\x05\x01\0\0\0\0\x05\xdc", 8);	/* MTU 1500 */
	assert_memory_equal(ra + 32, "\x03\x04\x40\xc0", 4);	/* /64, on-link, autonomous */
	assert_memory_equal(ra + 48, "\xfd\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\0", 16);
	assert_int_equal(icmp6_sum(ip), 0xffff);
	f[AGENT6_RA_LEN - 9] ^= 1;				/* any other prefix: wrong */
	assert_int_not_equal(icmp6_sum(ip), 0xffff);
}

/* The agent's tick sends one RA to each VM with a prefix, AGENT6_RA_INITIAL
 * of them AGENT6_RA_INITIAL_MS apart, then one every AGENT6_RA_MS; a new
 * configuration starts the initial ones again. */
static void ra_from_tick(void **state)
{
	static struct fake f;
	struct agent_ops o = { &f, f_garp, f_del, f_vm, f_vm, f_send, f_resend, f_ras,
			       { NULL, NULL }, f_garp6, f_garp6_del, NULL, NULL, NULL, NULL };
	struct dirc_cfg c = { .key = &key, .seed = 1, .send = f_dir, .send_arg = &f };
	struct dirc *dc = dirc_new(&c);
	struct dir_now now = { .ns = SEC, .wall_ms = 1700000000000ull };
	struct agent_vm_cfg v[2] = { vm_cfg("a", 1, 13, 7), vm_cfg("b", 2, 14, 8) };
	struct agent_config k = { .server = "srv1", .node = 1, .nnics = 1, .nvms = 2, .vms = v };
	const uint64_t MS = 1000000;
	struct agent *a;
	uint64_t next;

	(void)state;
	v[1].has_prefix6 = false;
	a = agent_new(&o, dc, &key, now);
	agent_configure(a, &k, now);
	nsent = 0;
	next = agent_tick(a, now);
	assert_int_equal(nsent, 1);
	assert_int_equal(sent_ifindex[0], 7);
	assert_int_equal(sent_frame[0][14 + 40], 134);
	assert_true(next <= now.ns + AGENT6_RA_INITIAL_MS * MS);
	for (unsigned i = 1; i < AGENT6_RA_INITIAL; i++) {
		now.ns += AGENT6_RA_INITIAL_MS * MS - 1;
		agent_tick(a, now);
		assert_int_equal(nsent, i);		/* not before its time */
		now.ns += 1;
		agent_tick(a, now);
		assert_int_equal(nsent, i + 1);
	}
	now.ns += AGENT6_RA_INITIAL_MS * MS;
	next = agent_tick(a, now);
	assert_int_equal(nsent, AGENT6_RA_INITIAL);	/* the slow rate now */
	now.ns += (uint64_t)AGENT6_RA_MS * MS - AGENT6_RA_INITIAL_MS * MS;
	agent_tick(a, now);
	assert_int_equal(nsent, AGENT6_RA_INITIAL + 1);
	agent_configure(a, &k, now);			/* SIGHUP: again at once */
	now.ns += 1;
	agent_tick(a, now);
	assert_int_equal(nsent, AGENT6_RA_INITIAL + 2);
	assert_int_equal(agent_stats6(a)->ra_sent, AGENT6_RA_INITIAL + 2);
	(void)next;
	agent_free(a);
	dirc_free(dc);
}

static void push6(void *arg, const struct dirp_entry6 *e)
{
	agent_on_push6(*(struct agent **)arg, e);
}

/* The GARP6 entry an NS miss wrote is renewed at half its lease, rewritten
 * when the VM moved to another server, removed when the directory no
 * longer holds it, and removed when its lease ends unanswered. */
static void garp6_leases(void **state)
{
	static struct fake f1, f2, f3;
	struct agent_ops o1 = { &f1, f_garp, f_del, f_vm, f_vm, f_send, f_resend, f_ras,
				{ NULL, NULL }, f_garp6, f_garp6_del, NULL, NULL, NULL, NULL };
	struct agent_ops o2 = o1, o3 = o1;
	struct dirc_cfg c1 = { .key = &key, .seed = 1, .send = f_dir, .send_arg = &f1,
			       .on_push6 = push6, .push_arg = NULL };
	struct dirc_cfg c2 = c1, c3 = c1;
	struct dir_cfg dc = { .key = &key, .seed = 3 };
	struct dir *d = dir_new(&dc);
	struct dirc *dc1, *dc2, *dc3;
	struct dir_now now = { .ns = SEC, .wall_ms = 1700000000000ull };
	struct agent_vm_cfg v1[1] = { vm_cfg("red-a", 1, 13, 7) };
	struct agent_vm_cfg v2[1] = { vm_cfg("red-b", 1, 14, 8) };
	struct agent_config k1 = { .server = "srv1", .node = 1, .nnics = 1, .nvms = 1, .vms = v1 };
	struct agent_config k2 = { .server = "srv2", .node = 2, .nnics = 1, .nvms = 1, .vms = v2 };
	struct agent_config k3 = { .server = "srv3", .node = 3, .nnics = 1, .nvms = 1, .vms = v2 };
	struct agent *a1, *a2, *a3;
	uint8_t addr[2][16], frame[128], mac[6];
	struct pgr_event ev = { .type = PGR_EV_ND_MISS, .vdc = 1, .vm_id = pgr_id_of(13, 0),
				.ifindex = 7 };
	const uint64_t half = DIR6_LEASE_MS / 2 * 1000000ull;
	struct dirp_key6 gone = { .vdc = 1 };
	size_t n;

	(void)state;
	o2.arg = &f2, o3.arg = &f3;
	c2.seed = 2, c2.send_arg = &f2;
	c3.seed = 4, c3.send_arg = &f3;
	c1.push_arg = &a1, c2.push_arg = &a2, c3.push_arg = &a3;
	dc1 = dirc_new(&c1), dc2 = dirc_new(&c2), dc3 = dirc_new(&c3);
	client_at(&f1, dc1), client_at(&f2, dc2), client_at(&f3, dc3);
	a1 = agent_new(&o1, dc1, &key, now);
	a2 = agent_new(&o2, dc2, &key, now);
	a3 = agent_new(&o3, dc3, &key, now);
	agent_configure(a1, &k1, now);
	agent_configure(a2, &k2, now);
	pump(d, dc1, &f1, now);
	pump(d, dc2, &f2, now);
	agent6_vm_addrs(&v2[0], addr);
	n = ns_frame(frame, 13, addr[1]);
	agent_miss(a1, &ev, frame, n, now);
	pump(d, dc1, &f1, now);
	assert_int_equal(f1.nset, 1);

	/* not before half the lease; then one LOOKUP6, the same record */
	now.ns += half - 1;
	agent_tick(a1, now);
	pump(d, dc1, &f1, now);
	assert_int_equal(agent_stats6(a1)->nd_renewed, 0);
	now.ns += 1;
	agent_tick(a1, now);
	pump(d, dc1, &f1, now);
	assert_int_equal(agent_stats6(a1)->nd_renewed, 1);
	assert_int_equal(f1.nset, 1);

	/* red-b moves to srv3: the directory pushes the change at once */
	agent_configure(a3, &k3, now);
	pump(d, dc3, &f3, now);
	assert_int_equal(agent_stats6(a1)->nd_pushed, 1);
	assert_int_equal(f1.nset, 2);
	pgr_mac_make(mac, pgr_id_of(3, PGR_PRIMARY));
	assert_memory_equal(f1.g.im_mac[PGR_PRIMARY], mac, 6);
	assert_memory_equal(f1.k.ip, addr[1], 16);

	/* back to srv2 with the push lost: the next renewal rewrites it */
	drop_pushes = true;
	agent_configure(a2, &k2, now);
	pump(d, dc2, &f2, now);
	assert_int_equal(f1.nset, 2);
	now.ns += half;
	agent_tick(a1, now);
	pump(d, dc1, &f1, now);
	assert_int_equal(agent_stats6(a1)->nd_updated, 1);
	assert_int_equal(f1.nset, 3);
	pgr_mac_make(mac, pgr_id_of(2, PGR_PRIMARY));
	assert_memory_equal(f1.g.im_mac[PGR_PRIMARY], mac, 6);

	/* removed from the directory, the push lost: removed at the renewal */
	memcpy(gone.ip6, addr[1], 16);
	assert_true(dirc_request(dc3, now, DIRP_UNREGISTER6, &gone, 1, NULL, NULL) > 0);
	pump(d, dc3, &f3, now);
	now.ns += half;
	agent_tick(a1, now);
	pump(d, dc1, &f1, now);
	assert_int_equal(f1.ndel, 1);
	assert_int_equal(f1.del.vdc, 1);
	assert_memory_equal(f1.del.ip, addr[1], 16);
	assert_int_equal(agent_stats6(a1)->nd_expired, 1);
	drop_pushes = false;

	/* removed with the push delivered: at once */
	agent_configure(a2, &k2, now);
	pump(d, dc2, &f2, now);
	n = ns_frame(frame, 13, addr[1]);
	agent_miss(a1, &ev, frame, n, now);
	pump(d, dc1, &f1, now);
	assert_int_equal(f1.nset, 4);
	assert_true(dirc_request(dc3, now, DIRP_UNREGISTER6, &gone, 1, NULL, NULL) > 0);
	pump(d, dc3, &f3, now);
	assert_int_equal(f1.ndel, 2);
	assert_int_equal(agent_stats6(a1)->nd_pushed, 2);

	/* resolved again (its link-local address), then no answer: removed
	 * when the lease ends, not before */
	n = ns_frame(frame, 13, addr[0]);
	agent_miss(a1, &ev, frame, n, now);
	pump(d, dc1, &f1, now);
	assert_int_equal(f1.nset, 5);
	now.ns += half;
	agent_tick(a1, now);
	f1.nq = 0;				/* the directory is gone */
	now.ns += half - 1;
	agent_tick(a1, now);
	f1.nq = 0;
	assert_int_equal(f1.ndel, 2);
	now.ns += 1;
	agent_tick(a1, now);
	f1.nq = 0;
	assert_int_equal(f1.ndel, 3);
	assert_memory_equal(f1.del.ip, addr[0], 16);
	assert_int_equal(agent_stats6(a1)->nd_expired, 2);
	agent_free(a1);
	agent_free(a2);
	agent_free(a3);
	dirc_free(dc1);
	dirc_free(dc2);
	dirc_free(dc3);
	dir_free(d);
}

/* A Router Solicitation from the VM (node), from its link-local address. */
static size_t rs_frame(uint8_t *b, uint32_t node)
{
	uint8_t mac[6], src[2][16];
	struct agent_vm_cfg v = vm_cfg("x", 1, node, 1);

	pgr_mac_make(mac, pgr_id_of(node, PGR_PRIMARY));
	agent6_vm_addrs(&v, src);
	memset(b, 0, 70);
	memcpy(b, "\x33\x33\0\0\0\x02", 6);
	memcpy(b + 6, mac, 6);
	b[12] = 0x86, b[13] = 0xdd;
	b[14] = 0x60;
	b[19] = 16;		/* payload length */
	b[20] = 58;
	b[21] = 255;
	memcpy(b + 22, src[0], 16);
	b[38] = 0xff, b[39] = 0x02, b[53] = 2;
	b[54] = 133;
	b[62] = 1, b[63] = 1;	/* source link-layer address option */
	memcpy(b + 64, mac, 6);
	return 70;
}

/* A router solicitation is answered at once with the VM's advertisement,
 * AGENT6_RS_BURST at once, then one every AGENT6_RS_MS; a malformed one,
 * one from another VM's MAC or port, or from a VM without a prefix get
 * nothing. */
static void rs_answered(void **state)
{
	static struct fake f;
	struct agent_ops o = { &f, f_garp, f_del, f_vm, f_vm, f_send, f_resend, f_ras,
			       { NULL, NULL }, f_garp6, f_garp6_del, NULL, NULL, NULL, NULL };
	struct dirc_cfg c = { .key = &key, .seed = 1, .send = f_dir, .send_arg = &f };
	struct dirc *dc = dirc_new(&c);
	struct dir_now now = { .ns = SEC, .wall_ms = 1700000000000ull };
	struct agent_vm_cfg v[2] = { vm_cfg("a", 1, 13, 7), vm_cfg("b", 2, 14, 8) };
	struct agent_config k = { .server = "srv1", .node = 1, .nnics = 1, .nvms = 2, .vms = v };
	struct pgr_event ev = { .type = PGR_EV_RS, .vdc = 1, .vm_id = pgr_id_of(13, 0),
				.ifindex = 7 };
	uint8_t frame[128], want[AGENT6_RA_LEN];
	struct agent *a;
	size_t n;

	(void)state;
	v[1].has_prefix6 = false;
	a = agent_new(&o, dc, &key, now);
	agent_configure(a, &k, now);
	f.nq = 0;
	nsent = 0;
	n = rs_frame(frame, 13);
	for (unsigned i = 0; i < AGENT6_RS_BURST + 2; i++)
		agent_miss(a, &ev, frame, n, now);
	assert_int_equal(nsent, AGENT6_RS_BURST);
	assert_int_equal(sent_ifindex[0], 7);
	agent6_ra_frame(1, &v[0], want);
	assert_memory_equal(sent_frame[0], want, AGENT6_RA_LEN);
	assert_int_equal(agent_stats6(a)->rs_answered, AGENT6_RS_BURST);
	assert_int_equal(agent_stats6(a)->rs_rate, 2);
	now.ns += AGENT6_RS_MS * 1000000ull;
	agent_miss(a, &ev, frame, n, now);
	agent_miss(a, &ev, frame, n, now);
	assert_int_equal(nsent, AGENT6_RS_BURST + 1);

	/* bad: hop limit, truncated, another VM's MAC, another VM's port, a
	 * VM without a prefix */
	now.ns += 10 * SEC;
	frame[21] = 64;
	agent_miss(a, &ev, frame, n, now);
	frame[21] = 255;
	agent_miss(a, &ev, frame, 60, now);
	n = rs_frame(frame, 14);
	agent_miss(a, &ev, frame, n, now);
	ev.vm_id = pgr_id_of(14, 0);
	agent_miss(a, &ev, frame, n, now);
	ev.ifindex = 8;
	agent_miss(a, &ev, frame, n, now);
	assert_int_equal(nsent, AGENT6_RS_BURST + 1);
	assert_int_equal(agent_stats6(a)->rs_bad, 5);
	agent_free(a);
	dirc_free(dc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(addresses_are_eui64),
		cmocka_unit_test(agent6_end_to_end),
		cmocka_unit_test(router_advertisement),
		cmocka_unit_test(ra_from_tick),
		cmocka_unit_test(garp6_leases),
		cmocka_unit_test(rs_answered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
