/* The host agent's core against the real directory core (dir/dir.h) over an
 * in-memory network, with fake maps: miss -> lookup -> map fill -> ARP
 * reply, isolation, pushes, lease renewal and expiry, NIC state,
 * reconfiguration, restart, the traffic report, RAS DIRECT, bad input, and
 * the configuration file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "dir/dir.h"
#include "wire/frame.h"
#include "wire/pgr.h"
#include "wire/rasproto.h"

#define MS 1000000ull
#define T0_WALL 1700000000000ull
#define LEASE_MS 1000
#define NAGENTS 2
#define IP(d) (0x0a000000u | (d))	/* 10.0.0.d */

static struct auth_key key = { { 9, 8, 7, 6, 5, 4, 3, 2 } };

/* ---- the fake server: maps, ports, RAS socket -------------------------- */

enum { FAKE_GARP = 64, FAKE_VMS = 16, FAKE_FRAMES = 16, FAKE_RAS = 16, FAKE_SENT = 16,
       FAKE_VIPS = 8 };

struct fake {
	struct pgr_garp_key gk[FAKE_GARP];
	struct pgr_garp_entry gv[FAKE_GARP];
	bool gused[FAKE_GARP];
	struct pgr_vm vms[FAKE_VMS];
	bool vused[FAKE_VMS];
	unsigned vm_adds, vm_dels, garp_sets;
	uint8_t frames[FAKE_FRAMES][AGENT_ARP_LEN];
	uint32_t frame_if[FAKE_FRAMES];
	unsigned nframes;
	uint8_t ras[FAKE_RAS][RASP_MAX_DGRAM];
	size_t ras_len[FAKE_RAS];
	unsigned nras;
	/* held frames sent back: bytes, port, and whether the map held the
	 * destination's entry at that moment */
	uint8_t sent[FAKE_SENT][WIRE_FRAME_MAX];
	size_t sent_len[FAKE_SENT];
	uint32_t sent_if[FAKE_SENT];
	bool sent_mapped[FAKE_SENT];
	unsigned nsent;
	/* VIP sources (pgr_vip_src) */
	struct pgr_vip_src_key vk[FAKE_VIPS];
	struct pgr_vip_src vv[FAKE_VIPS];
	bool vipused[FAKE_VIPS];
};

static int garp_slot(struct fake *f, const struct pgr_garp_key *k)
{
	for (int i = 0; i < FAKE_GARP; i++)
		if (f->gused[i] && !memcmp(&f->gk[i], k, sizeof(*k)))
			return i;
	return -1;
}

static int f_garp_set(void *arg, const struct pgr_garp_key *k, const struct pgr_garp_entry *g)
{
	struct fake *f = arg;
	int i = garp_slot(f, k);

	for (int j = 0; i < 0 && j < FAKE_GARP; j++)
		if (!f->gused[j])
			i = j;
	assert_true(i >= 0);
	f->gused[i] = true;
	f->gk[i] = *k;
	f->gv[i] = *g;
	f->garp_sets++;
	return 0;
}

static int f_garp_del(void *arg, const struct pgr_garp_key *k)
{
	struct fake *f = arg;
	int i = garp_slot(f, k);

	if (i < 0)
		return -ENOENT;
	f->gused[i] = false;
	return 0;
}

static const struct pgr_garp_entry *f_garp(struct fake *f, uint32_t vdc, uint32_t ip)
{
	struct pgr_garp_key k = { vdc, htonl(ip) };
	int i = garp_slot(f, &k);

	return i < 0 ? NULL : &f->gv[i];
}

static int f_vm_add(void *arg, const struct pgr_vm *vm, uint32_t backup_id)
{
	struct fake *f = arg;

	assert_int_equal(backup_id, pgr_id_of(pgr_id_node(vm->id), PGR_BACKUP));
	for (int i = 0; i < FAKE_VMS; i++)
		if (!f->vused[i]) {
			f->vused[i] = true;
			f->vms[i] = *vm;
			f->vm_adds++;
			return 0;
		}
	fail();
	return -ENOSPC;
}

static int f_vm_del(void *arg, const struct pgr_vm *vm, uint32_t backup_id)
{
	struct fake *f = arg;

	(void)backup_id;
	for (int i = 0; i < FAKE_VMS; i++)
		if (f->vused[i] && f->vms[i].id == vm->id) {
			f->vused[i] = false;
			f->vm_dels++;
			return 0;
		}
	return -ENOENT;
}

static int vip_slot(struct fake *f, const struct pgr_vip_src_key *k)
{
	for (int i = 0; i < FAKE_VIPS; i++)
		if (f->vipused[i] && !memcmp(&f->vk[i], k, sizeof(*k)))
			return i;
	return -1;
}

static int f_vip_set(void *arg, const struct pgr_vip_src_key *k, const struct pgr_vip_src *v)
{
	struct fake *f = arg;
	int i = vip_slot(f, k);

	for (int j = 0; i < 0 && j < FAKE_VIPS; j++)
		if (!f->vipused[j])
			i = j;
	assert_true(i >= 0);
	f->vipused[i] = true;
	f->vk[i] = *k;
	f->vv[i] = *v;
	return 0;
}

static int f_vip_del(void *arg, const struct pgr_vip_src_key *k)
{
	struct fake *f = arg;
	int i = vip_slot(f, k);

	if (i < 0)
		return -ENOENT;
	f->vipused[i] = false;
	return 0;
}

static const struct pgr_vip_src *f_vip(struct fake *f, uint32_t port, uint32_t vip)
{
	struct pgr_vip_src_key k = { port, htonl(vip) };
	int i = vip_slot(f, &k);

	return i < 0 ? NULL : &f->vv[i];
}

static unsigned f_nvips(const struct fake *f)
{
	unsigned n = 0;

	for (int i = 0; i < FAKE_VIPS; i++)
		n += f->vipused[i];
	return n;
}

static int f_arp(void *arg, uint32_t ifindex, const uint8_t *frame, size_t len)
{
	struct fake *f = arg;

	assert_int_equal(len, AGENT_ARP_LEN);
	assert_true(f->nframes < FAKE_FRAMES);
	memcpy(f->frames[f->nframes], frame, len);
	f->frame_if[f->nframes++] = ifindex;
	return 0;
}

static const struct pgr_garp_entry *f_garp(struct fake *f, uint32_t vdc, uint32_t ip);

/* A held frame sent back; the destination (VDC 1) is the frame's. */
static int f_resend(void *arg, uint32_t ifindex, const uint8_t *frame, size_t len)
{
	struct fake *f = arg;
	uint32_t dst = (uint32_t)frame[30] << 24 | (uint32_t)frame[31] << 16 | frame[32] << 8 | frame[33];

	assert_true(f->nsent < FAKE_SENT);
	memcpy(f->sent[f->nsent], frame, len);
	f->sent_len[f->nsent] = len;
	f->sent_if[f->nsent] = ifindex;
	f->sent_mapped[f->nsent++] = f_garp(f, 1, dst) != NULL;
	return 0;
}

static int f_ras(void *arg, const uint8_t *buf, size_t len)
{
	struct fake *f = arg;

	if (f->nras == FAKE_RAS)
		return -ENOBUFS;
	memcpy(f->ras[f->nras], buf, len);
	f->ras_len[f->nras++] = len;
	return 0;
}

static void mac_of(uint32_t node, uint32_t tree, uint8_t mac[6])
{
	pgr_mac_make(mac, pgr_id_of(node, tree));
}

/* ---- the harness: directory core + agents on an in-memory network ------ */

struct h;

struct node {
	struct h *h;
	uint64_t addr;
	struct dirc *c;
	struct agent *a;
	struct fake f;
	struct agent_config cfg;
	struct agent_vm_cfg vms[4];
};

struct h {
	struct topo *topo;	/* H_TOPO: server node n is srv<n-1>, tree t leaves on NIC t */
	struct dir *d;
	struct dir_out out;
	uint64_t t;
	struct node n[NAGENTS];
	/* datagrams from clients to the directory, queued */
	uint8_t q[64][DIRP_MAX_DGRAM];
	size_t qlen[64];
	uint64_t qfrom[64];
	unsigned nq;
	bool drop_to_dir;
	uint64_t ras_seq;		/* SET_AVAIL requests sent as the RAS */
};

static struct dir_now now_of(const struct h *h)
{
	return (struct dir_now){ .ns = h->t + 1, .wall_ms = T0_WALL + h->t / MS };
}

static void c_send(void *arg, const uint8_t *buf, size_t len)
{
	struct node *n = arg;
	struct h *h = n->h;

	if (h->drop_to_dir)
		return;
	assert_true(h->nq < 64);
	memcpy(h->q[h->nq], buf, len);
	h->qlen[h->nq] = len;
	h->qfrom[h->nq++] = n->addr;
}

static void c_push(void *arg, uint8_t type, const struct dirp_entry *e)
{
	struct node *n = arg;

	agent_on_push(n->a, type, e, now_of(n->h));
}

static void deliver_out(struct h *h)
{
	for (size_t i = 0; i < h->out.nsends; i++) {
		const struct dir_send *s = &h->out.sends[i];

		for (uint32_t j = 0; j < s->ndst; j++)
			for (int k = 0; k < NAGENTS; k++)
				if (h->out.dsts[s->dst + j] == h->n[k].addr) {
					agent_clock(h->n[k].a, now_of(h));
					dirc_input(h->n[k].c, now_of(h), h->out.buf + s->off, s->len);
				}
	}
	dir_out_reset(&h->out);
}

/* Deliver everything in flight until the network is quiet. */
static void pump(struct h *h)
{
	for (int round = 0; round < 50 && h->nq; round++) {
		unsigned n = h->nq;
		uint8_t (*q)[DIRP_MAX_DGRAM] = malloc(sizeof(h->q));
		size_t len[64];
		uint64_t from[64];

		memcpy(q, h->q, sizeof(h->q));
		memcpy(len, h->qlen, sizeof(len));
		memcpy(from, h->qfrom, sizeof(from));
		h->nq = 0;
		for (unsigned i = 0; i < n; i++) {
			dir_input(h->d, now_of(h), from[i], q[i], len[i], &h->out);
			deliver_out(h);
		}
		free(q);
	}
	assert_int_equal(h->nq, 0);
}

static void node_client(struct node *n, uint64_t seed)
{
	struct dirc_cfg dc = { .key = &key, .seed = seed, .send = c_send, .send_arg = n,
			       .on_push = c_push, .push_arg = n };

	n->c = dirc_new(&dc);
}

static void node_agent(struct h *h, struct node *n)
{
	struct agent_ops ops = { &n->f, f_garp_set, f_garp_del, f_vm_add, f_vm_del, f_arp,
				 f_resend, f_ras, { NULL, NULL }, NULL, NULL, NULL, NULL,
				 f_vip_set, f_vip_del };

	char err[256];

	n->a = agent_new(&ops, n->c, &key, now_of(h));
	if (n->cfg.node)	/* a restart: the server is known */
		assert_int_equal(agent_topology(n->a, h->topo, n->cfg.server, n->cfg.node, err,
						sizeof(err)), 0);
}

/* Server pgr node `node` with VMs (vdc, host, vm node, ifindex)... */
static void node_config(struct node *n, uint32_t node, unsigned nvms, const uint32_t (*vms)[4])
{
	memset(&n->cfg, 0, sizeof(n->cfg));
	snprintf(n->cfg.server, sizeof(n->cfg.server), "srv%u", node - 1);
	n->cfg.node = node;
	n->cfg.nnics = 2;
	n->cfg.nic_ifindex[0] = 10 * node + 1;
	n->cfg.nic_ifindex[1] = 10 * node + 2;
	n->cfg.nvms = nvms;
	n->cfg.vms = n->vms;
	for (unsigned i = 0; i < nvms; i++) {
		struct agent_vm_cfg *v = &n->vms[i];

		memset(v, 0, sizeof(*v));
		snprintf(v->name, sizeof(v->name), "vm%u", vms[i][2]);
		snprintf(v->port, sizeof(v->port), "p%u", vms[i][3]);
		v->vdc = vms[i][0];
		v->ip = IP(vms[i][1]);
		v->node = vms[i][2];
		v->ifindex = vms[i][3];
	}
}

/* Agent 0 on server node 1 with red (vdc 1) 10.0.0.1 = VM node 9 on port
 * 101; agent 1 on server node 5 with red 10.0.0.5 (node 13, port 201), red
 * 10.0.0.6 (node 14, port 202) and blue (vdc 2) 10.0.0.7 (node 15). */
static const uint32_t vms0[][4] = { { 1, 1, 9, 101 } };
static const uint32_t vms1[][4] = { { 1, 5, 13, 201 }, { 1, 6, 14, 202 }, { 2, 7, 15, 203 } };

#define H_TOPO "leafspine:spines=2,leaves=2,servers=4,homing=2"

static struct topo *spec(const char *sp)
{
	struct topo *t;
	char err[256];

	if (topo_from_spec(sp, &t, err, sizeof(err)))
		fail_msg("%s: %s", sp, err);
	return t;
}

static void h_init(struct h *h)
{
	struct dir_cfg dc = { .key = &key, .seed = 7, .lease_ms = LEASE_MS, .neg_lease_ms = 100 };
	char err[256];

	memset(h, 0, sizeof(*h));
	h->topo = spec(H_TOPO);
	h->d = dir_new(&dc);
	dir_out_init(&h->out);
	for (int i = 0; i < NAGENTS; i++) {
		h->n[i].h = h;
		h->n[i].addr = dir_addr(0x7f000001, (uint16_t)(1000 + i));
		node_client(&h->n[i], 100 + (uint64_t)i);
		node_agent(h, &h->n[i]);
	}
	node_config(&h->n[0], 1, 1, vms0);
	node_config(&h->n[1], 5, 3, vms1);
	for (int i = 0; i < NAGENTS; i++) {
		assert_int_equal(agent_topology(h->n[i].a, h->topo, h->n[i].cfg.server,
						h->n[i].cfg.node, err, sizeof(err)), 0);
		agent_configure(h->n[i].a, &h->n[i].cfg, now_of(h));
	}
	pump(h);
}

static void h_fini(struct h *h)
{
	for (int i = 0; i < NAGENTS; i++) {
		agent_free(h->n[i].a);
		dirc_free(h->n[i].c);
	}
	dir_free(h->d);
	dir_out_free(&h->out);
	topo_free(h->topo);
}

/* Advance time by ms in steps of 10 ms: client retransmissions, directory
 * pushes. */
static void h_advance(struct h *h, uint64_t ms)
{
	for (uint64_t i = 0; i < ms; i += 10) {
		h->t += 10 * MS;
		for (int k = 0; k < NAGENTS; k++) {
			agent_clock(h->n[k].a, now_of(h));
			dirc_tick(h->n[k].c, now_of(h));
		}
		dir_tick(h->d, now_of(h), &h->out);
		deliver_out(h);
		pump(h);
	}
}

static void miss(struct h *h, int agent, uint32_t type, uint32_t vdc, uint32_t ip,
		 uint32_t vm_node, uint32_t port)
{
	struct pgr_event ev = { .type = type, .vdc = vdc, .ip = htonl(ip),
				.vm_id = pgr_id_of(vm_node, PGR_PRIMARY), .ifindex = port };

	agent_miss(h->n[agent].a, &ev, NULL, 0, now_of(h));
}

/* A UDP frame from red 10.0.0.1 (VM node 9) to ip whose first payload byte
 * is tag, of len bytes in all (at least 60). */
static size_t udp_frame(uint8_t *f, uint32_t ip, uint8_t tag, size_t len)
{
	uint8_t payload[WIRE_FRAME_MAX] = { tag }, src[6], dst[6];

	mac_of(9, 0, src);
	mac_of(13, 0, dst);
	return wire_build_udp4(f, WIRE_FRAME_MAX, dst, src, htonl(IP(1)), htonl(ip), 4000, 5000,
			       payload, len < 60 ? 18 : len - 42);
}

/* An IPv4 miss of red 10.0.0.1 (port 101) to ip carrying a frame. */
static void miss_frame(struct h *h, uint32_t ip, uint8_t tag, size_t len)
{
	struct pgr_event ev = { .type = PGR_EV_IP_MISS, .vdc = 1, .ip = htonl(ip),
				.vm_id = pgr_id_of(9, PGR_PRIMARY), .ifindex = 101 };
	uint8_t f[WIRE_FRAME_MAX];
	size_t n = udp_frame(f, ip, tag, len);

	ev.frame_len = (uint32_t)n;
	agent_miss(h->n[0].a, &ev, f, n, now_of(h));
}

static uint8_t sent_tag(const struct h *h, unsigned i)
{
	return h->n[0].f.sent[i][42];
}


/* ---- tests ------------------------------------------------------------------ */

static void test_register_and_attach(void **state)
{
	struct h h;

	(void)state;
	h_init(&h);
	assert_int_equal(h.n[0].f.vm_adds, 1);
	assert_int_equal(h.n[1].f.vm_adds, 3);
	assert_int_equal(h.n[0].f.vms[0].ifindex, 101);
	assert_int_equal(h.n[0].f.vms[0].ip, htonl(IP(1)));
	assert_int_equal(h.n[0].f.vms[0].id, pgr_id_of(9, 0));
	assert_int_equal(agent_get_stats(h.n[1].a)->registers, 1);
	assert_int_equal(agent_get_stats(h.n[1].a)->register_fail, 0);
	h_fini(&h);
}

/* miss -> LOOKUP -> GARP entry -> ARP reply into the asking VM's port */
static void test_miss_fills_and_answers(void **state)
{
	const struct pgr_garp_entry *g;
	uint8_t m[6], im[6];
	const uint8_t *f;
	struct h h;

	(void)state;
	h_init(&h);
	miss(&h, 0, PGR_EV_ARP_MISS, 1, IP(5), 9, 101);
	miss(&h, 0, PGR_EV_ARP_MISS, 1, IP(5), 9, 101);	/* the VM asks again */
	miss(&h, 0, PGR_EV_IP_MISS, 1, IP(6), 9, 101);
	assert_null(f_garp(&h.n[0].f, 1, IP(5)));
	agent_flush(h.n[0].a, now_of(&h));
	assert_int_equal(agent_get_stats(h.n[0].a)->lookups, 1);	/* one batch */
	assert_int_equal(agent_get_stats(h.n[0].a)->lookup_keys, 2);
	pump(&h);
	g = f_garp(&h.n[0].f, 1, IP(5));
	assert_non_null(g);
	mac_of(13, 0, m);
	assert_memory_equal(g->vm_mac[0], m, 6);
	mac_of(13, 1, m);
	assert_memory_equal(g->vm_mac[1], m, 6);
	mac_of(5, 0, im);
	assert_memory_equal(g->im_mac[0], im, 6);
	mac_of(5, 1, im);
	assert_memory_equal(g->im_mac[1], im, 6);
	assert_int_equal(g->avail, PGR_AVAIL_VM_PRI | PGR_AVAIL_VM_BAK | PGR_AVAIL_IM_PRI |
					   PGR_AVAIL_IM_BAK);
	assert_int_equal(g->egress_ifindex[0], 11);
	assert_int_equal(g->egress_ifindex[1], 12);
	assert_int_equal(g->flags, 0);
	assert_non_null(f_garp(&h.n[0].f, 1, IP(6)));
	/* exactly one ARP reply (the ARP miss; not the IP miss), well formed */
	assert_int_equal(h.n[0].f.nframes, 1);
	assert_int_equal(h.n[0].f.frame_if[0], 101);
	f = h.n[0].f.frames[0];
	mac_of(9, 0, m);
	assert_memory_equal(f, m, 6);			/* to the asking VM */
	mac_of(13, 0, m);
	assert_memory_equal(f + 6, m, 6);		/* from the target's MAC */
	assert_int_equal(f[12] << 8 | f[13], 0x0806);
	assert_int_equal(f[14] << 8 | f[15], 1);	/* Ethernet */
	assert_int_equal(f[16] << 8 | f[17], 0x0800);	/* IPv4 */
	assert_int_equal(f[18], 6);
	assert_int_equal(f[19], 4);
	assert_int_equal(f[20] << 8 | f[21], 2);	/* reply */
	assert_memory_equal(f + 22, m, 6);
	assert_int_equal((uint32_t)f[28] << 24 | (uint32_t)f[29] << 16 | f[30] << 8 | f[31], IP(5));
	mac_of(9, 0, m);
	assert_memory_equal(f + 32, m, 6);		/* the asker's MAC and IP */
	assert_int_equal((uint32_t)f[38] << 24 | (uint32_t)f[39] << 16 | f[40] << 8 | f[41], IP(1));
	for (int i = 42; i < AGENT_ARP_LEN; i++)
		assert_int_equal(f[i], 0);		/* padding */
	/* an ARP miss for a cached entry (racing the map) is answered at once */
	miss(&h, 0, PGR_EV_ARP_MISS, 1, IP(5), 9, 101);
	assert_int_equal(h.n[0].f.nframes, 2);
	h_fini(&h);
}

/* red 10.0.0.1 asking for 10.0.0.7 finds nothing (blue's VM is not red's);
 * nothing is written, nobody is answered. */
static void test_isolation(void **state)
{
	struct h h;

	(void)state;
	h_init(&h);
	miss(&h, 0, PGR_EV_ARP_MISS, 1, IP(7), 9, 101);
	agent_flush(h.n[0].a, now_of(&h));
	pump(&h);
	assert_null(f_garp(&h.n[0].f, 1, IP(7)));
	assert_int_equal(h.n[0].f.nframes, 0);
	assert_int_equal(agent_get_stats(h.n[0].a)->not_found, 1);
	/* a repeated miss inside the negative lease does not ask again */
	miss(&h, 0, PGR_EV_ARP_MISS, 1, IP(7), 9, 101);
	agent_flush(h.n[0].a, now_of(&h));
	assert_int_equal(agent_get_stats(h.n[0].a)->lookups, 1);
	/* after it, it does */
	h_advance(&h, 200);
	agent_tick(h.n[0].a, now_of(&h));
	miss(&h, 0, PGR_EV_ARP_MISS, 1, IP(7), 9, 101);
	agent_flush(h.n[0].a, now_of(&h));
	assert_int_equal(agent_get_stats(h.n[0].a)->lookups, 2);
	h_fini(&h);
}

static void fill(struct h *h, uint32_t ip)
{
	miss(h, 0, PGR_EV_IP_MISS, 1, ip, 9, 101);
	agent_flush(h->n[0].a, now_of(h));
	pump(h);
	assert_non_null(f_garp(&h->n[0].f, 1, ip));
}

/* A SET_AVAIL at the directory reaches the map through a push, before any
 * timer runs. */
static void test_push_changes_availability(void **state)
{
	struct dirp_avail av = { .scope = DIRP_SCOPE_INTERMEDIARY, .avail = 0 };
	struct dirp_hdr hd = { .type = DIRP_SET_AVAIL, .session = 999, .seq = 1, .req_id = 1 };
	uint8_t buf[DIRP_MAX_DGRAM];
	struct dirp_writer w;
	struct h h;
	size_t len;

	(void)state;
	h_init(&h);
	fill(&h, IP(5));
	mac_of(5, 0, av.mac);
	hd.time_ms = now_of(&h).wall_ms;
	dirp_begin(&w, buf, sizeof(buf), &hd);
	dirp_put_avail(&w, &av);
	len = dirp_finish(&w, &key);
	dir_input(h.d, now_of(&h), dir_addr(0x7f000001, 2000), buf, len, &h.out);
	deliver_out(&h);
	pump(&h);
	assert_int_equal(f_garp(&h.n[0].f, 1, IP(5))->avail,
			 PGR_AVAIL_VM_PRI | PGR_AVAIL_VM_BAK | PGR_AVAIL_IM_BAK);
	assert_int_equal(agent_get_stats(h.n[0].a)->pushes_applied, 1);
	/* the same push again (a retransmission) changes nothing */
	assert_int_equal(agent_get_stats(h.n[0].a)->pushes_stale, 0);
	h_fini(&h);
}

/* A REGISTER or UNREGISTER of one record at the directory, as a third
 * party sends it (the gateway leg's agent), and its pushes delivered. */
static void dir_send1(struct h *h, uint8_t type, const struct dirp_entry *e)
{
	struct dirp_hdr hd = { .type = type, .session = 998, .seq = ++h->ras_seq,
			       .req_id = h->ras_seq };
	uint8_t buf[DIRP_MAX_DGRAM];
	struct dirp_writer w;
	size_t len;

	hd.time_ms = now_of(h).wall_ms;
	dirp_begin(&w, buf, sizeof(buf), &hd);
	if (type == DIRP_REGISTER)
		dirp_put_entry(&w, e);
	else
		dirp_put_key(&w, &(struct dirp_key){ e->vdc, e->ip });
	len = dirp_finish(&w, &key);
	dir_input(h->d, now_of(h), dir_addr(0x7f000001, 2001), buf, len, &h->out);
	deliver_out(h);
	pump(h);
}

static struct dirp_entry leg_on(uint32_t server)
{
	struct dirp_entry e = { .vdc = 1, .ip = 0, .avail = DIRP_AVAIL_ALL, .server = server };

	for (unsigned t = 0; t < 2; t++) {
		mac_of(40, t, e.mac[DIRP_VM_PRI + t]);
		mac_of(server, t, e.mac[DIRP_IM_PRI + t]);
	}
	return e;
}

/* An outside address cached from the VDC's default route follows the
 * default route's changes, though the push names (VDC, 0.0.0.0) and the
 * cache holds (VDC, outside address). */
static void test_default_route_push_follows(void **state)
{
	const uint32_t outside = 0xc6336407;	/* 198.51.100.7 */
	struct dirp_entry leg = leg_on(5);
	uint8_t im[6];
	struct h h;

	(void)state;
	h_init(&h);
	dir_send1(&h, DIRP_REGISTER, &leg);
	fill(&h, outside);
	mac_of(5, 0, im);
	assert_memory_equal(f_garp(&h.n[0].f, 1, outside)->im_mac[0], im, 6);
	/* the leg moves to server 1: the cached answer follows at once */
	leg = leg_on(1);
	dir_send1(&h, DIRP_REGISTER, &leg);
	assert_non_null(f_garp(&h.n[0].f, 1, outside));
	mac_of(1, 0, im);
	assert_memory_equal(f_garp(&h.n[0].f, 1, outside)->im_mac[0], im, 6);
	/* a VM's own entry (registered, not from the default route) stays */
	fill(&h, IP(5));
	mac_of(5, 0, im);
	/* the leg goes: the cached answer goes too */
	dir_send1(&h, DIRP_UNREGISTER, &leg);
	assert_null(f_garp(&h.n[0].f, 1, outside));
	assert_non_null(f_garp(&h.n[0].f, 1, IP(5)));
	assert_memory_equal(f_garp(&h.n[0].f, 1, IP(5))->im_mac[0], im, 6);
	h_fini(&h);
}

/* SET_AVAIL of one of the server's MACs (tree t) as the RAS sends it. */
static void set_im_avail(struct h *h, uint32_t node, unsigned t, uint8_t avail)
{
	struct dirp_avail av = { .scope = DIRP_SCOPE_INTERMEDIARY, .avail = avail };
	struct dirp_hdr hd = { .type = DIRP_SET_AVAIL, .session = 999, .seq = ++h->ras_seq,
			       .req_id = h->ras_seq };
	uint8_t buf[DIRP_MAX_DGRAM];
	struct dirp_writer w;
	size_t len;

	mac_of(node, t, av.mac);
	hd.time_ms = now_of(h).wall_ms;
	dirp_begin(&w, buf, sizeof(buf), &hd);
	dirp_put_avail(&w, &av);
	len = dirp_finish(&w, &key);
	dir_input(h->d, now_of(h), dir_addr(0x7f000001, 2000), buf, len, &h->out);
	deliver_out(h);
	pump(h);
}

/* A fail-over, timed: the directory takes tree 0 of the destination's
 * server away, then tree 1 as well (the same fail-over), gives tree 0
 * back (still degraded) and then tree 1: one fail-over of 50 ms, from
 * the first push to the last. */
static void test_failover_duration(void **state)
{
	const struct agent_failover_hist *fh;
	struct h h;

	(void)state;
	h_init(&h);
	fill(&h, IP(5));
	fh = agent_get_failover_hist(h.n[0].a);
	set_im_avail(&h, 5, 0, 0);
	assert_int_equal(agent_get_stats(h.n[0].a)->failovers, 1);
	h_advance(&h, 30);
	set_im_avail(&h, 5, 1, 0);
	assert_int_equal(agent_get_stats(h.n[0].a)->failovers, 1);
	h_advance(&h, 10);
	set_im_avail(&h, 5, 0, 1);
	assert_int_equal(agent_get_stats(h.n[0].a)->failbacks, 0);
	assert_int_equal(fh->count, 0);
	h_advance(&h, 10);
	set_im_avail(&h, 5, 1, 1);
	assert_int_equal(agent_get_stats(h.n[0].a)->failbacks, 1);
	assert_int_equal(fh->count, 1);
	assert_int_equal(fh->sum_ns, 50 * MS);
	assert_int_equal(fh->bucket[5], 1);	/* (20, 50] ms */
	/* a push that changes nothing of the availability is no fail-over */
	h_advance(&h, 10);
	set_im_avail(&h, 5, 1, 1);
	assert_int_equal(agent_get_stats(h.n[0].a)->failovers, 1);
	assert_int_equal(fh->count, 1);
	h_fini(&h);
}

/* The histogram's buckets: a bound belongs to its bucket; past the last
 * bucket a duration is counted (+Inf) but in no bucket. */
static void test_failover_buckets(void **state)
{
	struct agent_failover_hist fh = { 0 };
	struct agent_failover_entry e = { 0 };
	uint64_t in_buckets = 0;

	(void)state;
	agent_failover_observe(&fh, 1 * MS);
	agent_failover_observe(&fh, 1 * MS + 1);
	agent_failover_observe(&fh, 61000 * MS);
	assert_int_equal(fh.bucket[0], 1);
	assert_int_equal(fh.bucket[1], 1);
	for (int b = 0; b < AGENT_FO_BUCKETS; b++)
		in_buckets += fh.bucket[b];
	assert_int_equal(in_buckets, 2);
	assert_int_equal(fh.count, 3);
	/* a MAC that was never available does not make a fail-back wait */
	assert_int_equal(agent_failover_update(&fh, &e, 0x7, 0x5, 0xf, 100), 1);
	assert_int_equal(agent_failover_update(&fh, &e, 0x5, 0x7, 0xf, 300), -1);
	assert_int_equal(fh.count, 4);
	assert_int_equal(fh.sum_ns, 1 * MS + 1 * MS + 1 + 61000 * MS + 200);
}

/* Both trees held by the directory (a recovery moving both): the entry
 * keeps sending on what its NICs allow instead of dropping; one tree
 * released: back to the normal choice. */
static void test_both_trees_held(void **state)
{
	const uint8_t all = PGR_AVAIL_VM_PRI | PGR_AVAIL_VM_BAK | PGR_AVAIL_IM_PRI | PGR_AVAIL_IM_BAK;
	struct h h;

	(void)state;
	h_init(&h);
	fill(&h, IP(5));
	set_im_avail(&h, 5, 0, 0);
	assert_int_equal(f_garp(&h.n[0].f, 1, IP(5))->avail, all & ~PGR_AVAIL_IM_PRI);
	assert_int_equal(agent_get_stats(h.n[0].a)->both_held, 0);
	set_im_avail(&h, 5, 1, 0);
	assert_int_equal(f_garp(&h.n[0].f, 1, IP(5))->avail, all);
	assert_true(agent_get_stats(h.n[0].a)->both_held > 0);
	agent_nic_state(h.n[0].a, 0, false);	/* and our tree-0 NIC goes down */
	assert_int_equal(f_garp(&h.n[0].f, 1, IP(5))->avail, PGR_AVAIL_VM_BAK | PGR_AVAIL_IM_BAK);
	agent_nic_state(h.n[0].a, 0, true);
	set_im_avail(&h, 5, 0, 1);		/* tree 0 released, tree 1 still held */
	assert_int_equal(f_garp(&h.n[0].f, 1, IP(5))->avail, all & ~PGR_AVAIL_IM_BAK);
	set_im_avail(&h, 5, 1, 1);
	assert_int_equal(f_garp(&h.n[0].f, 1, IP(5))->avail, all);
	h_fini(&h);
}

static int walk_used(struct h *h, uint64_t *pkts)
{
	struct pgr_pair p = { pgr_id_of(9, 0), pgr_id_of(13, 0) };
	struct pgr_counter c;

	*pkts += 10;
	c = (struct pgr_counter){ *pkts, *pkts * 100 };
	agent_traffic_begin(h->n[0].a);
	agent_traffic_pair(h->n[0].a, &p, &c);
	agent_traffic_end(h->n[0].a, now_of(h));
	return 0;
}

/* The cache's slots are allocated as they are first taken, a chunk at a
 * time: entries across chunk boundaries are found again, every slot up to
 * AGENT_CACHE_MAX can be taken, and a miss beyond that is refused and
 * counted as the fixed table refused it. */
static void test_cache_bound(void **state)
{
	struct h h;
	uint64_t bad;

	(void)state;
	h_init(&h);
	fill(&h, IP(5));
	bad = agent_get_stats(h.n[0].a)->miss_bad;
	for (uint32_t i = 1; i < AGENT_CACHE_MAX; i++)	/* pending, never flushed */
		miss(&h, 0, PGR_EV_IP_MISS, 1, 0x0b000000u + i, 9, 101);
	assert_int_equal(agent_cache_size(h.n[0].a), AGENT_CACHE_MAX);
	assert_int_equal(agent_get_stats(h.n[0].a)->miss_bad, bad);
	miss(&h, 0, PGR_EV_IP_MISS, 1, 0x0c000000u, 9, 101);
	assert_int_equal(agent_cache_size(h.n[0].a), AGENT_CACHE_MAX);
	assert_int_equal(agent_get_stats(h.n[0].a)->miss_bad, bad + 1);
	assert_non_null(agent_cached(h.n[0].a, 1, IP(5)));
	h_fini(&h);
}

/* Leases: the used entry (10.0.0.5) is renewed and stays; the idle one
 * (10.0.0.6) expires and leaves the map. */
static void test_leases(void **state)
{
	uint64_t pkts = 0;
	struct h h;

	(void)state;
	h_init(&h);
	fill(&h, IP(5));
	fill(&h, IP(6));
	for (int s = 0; s < 30; s++) {	/* 3 s: three leases */
		h_advance(&h, 100);
		walk_used(&h, &pkts);
		agent_tick(h.n[0].a, now_of(&h));
		pump(&h);
	}
	assert_non_null(f_garp(&h.n[0].f, 1, IP(5)));
	assert_null(f_garp(&h.n[0].f, 1, IP(6)));
	assert_true(agent_get_stats(h.n[0].a)->renews >= 3);
	assert_int_equal(agent_get_stats(h.n[0].a)->expired, 1);
	assert_int_equal(agent_cache_size(h.n[0].a), 1);
	/* a push still reaches the renewed entry: its lease at the directory is live */
	{
		uint32_t recs[1][4] = { { 1, 5, 13, 201 } };

		node_config(&h.n[1], 5, 1, (const uint32_t(*)[4])recs);
		h.n[1].vms[0].node = 16;	/* a new VM takes 10.0.0.5 */
		agent_configure(h.n[1].a, &h.n[1].cfg, now_of(&h));
		pump(&h);
	}
	{
		uint8_t m[6];

		mac_of(16, 0, m);
		assert_memory_equal(f_garp(&h.n[0].f, 1, IP(5))->vm_mac[0], m, 6);
	}
	h_fini(&h);
}

/* Every traffic second sends the deltas to the RAS, decodable. */
static void test_traffic_report(void **state)
{
	struct rasp_msg m;
	struct rasp_flow fl;
	uint64_t pkts = 0;
	struct h h;

	(void)state;
	h_init(&h);
	walk_used(&h, &pkts);	/* the first round is the baseline: nothing sent */
	assert_int_equal(h.n[0].f.nras, 0);
	walk_used(&h, &pkts);
	assert_int_equal(h.n[0].f.nras, 1);
	assert_int_equal(rasp_decode(h.n[0].f.ras[0], h.n[0].f.ras_len[0], &key, &m), 0);
	assert_int_equal(m.h.type, RASP_TRAFFIC);
	assert_int_equal(m.h.sender, 1);
	assert_int_equal(m.u.traffic.n, 1);
	rasp_flow_at(&m, 0, &fl);
	assert_int_equal(fl.packets, 10);	/* the delta, not the total (20) */
	assert_int_equal(fl.bytes, 1000);
	assert_int_equal(fl.dst_id, pgr_id_of(13, 0));
	assert_int_equal(fl.dst_server, RASP_NO_SERVER);	/* not looked up yet */
	/* once the destination is cached, its server (node 5) goes with it */
	fill(&h, IP(5));
	walk_used(&h, &pkts);
	assert_int_equal(h.n[0].f.nras, 2);
	assert_int_equal(rasp_decode(h.n[0].f.ras[1], h.n[0].f.ras_len[1], &key, &m), 0);
	rasp_flow_at(&m, 0, &fl);
	assert_int_equal(fl.dst_server, 5);
	/* no traffic: nothing sent */
	agent_traffic_begin(h.n[0].a);
	agent_traffic_end(h.n[0].a, now_of(&h));
	assert_int_equal(h.n[0].f.nras, 2);
	h_fini(&h);
}

/* A restarted agent reusing the pinned data plane finds counters that hold
 * the previous run's totals; its first report must not present them as one
 * second of traffic (the RAS would take a light stream for a heavy pair and
 * route it direct).  Only what moved since counts. */
static void test_traffic_restart(void **state)
{
	struct rasp_msg m;
	struct rasp_flow fl;
	uint64_t pkts = 1000000;	/* the previous run's total */
	struct h h;

	(void)state;
	h_init(&h);
	walk_used(&h, &pkts);
	assert_int_equal(h.n[0].f.nras, 0);
	walk_used(&h, &pkts);
	assert_int_equal(h.n[0].f.nras, 1);
	assert_int_equal(rasp_decode(h.n[0].f.ras[0], h.n[0].f.ras_len[0], &key, &m), 0);
	assert_int_equal(m.u.traffic.n, 1);
	rasp_flow_at(&m, 0, &fl);
	assert_int_equal(fl.packets, 10);
	assert_int_equal(fl.bytes, 1000);
	/* a pair that appears later counts from zero, in full */
	{
		struct pgr_pair p = { pgr_id_of(9, 0), pgr_id_of(14, 0) };
		struct pgr_counter c = { 7, 700 };

		agent_traffic_begin(h.n[0].a);
		agent_traffic_pair(h.n[0].a, &p, &c);
		agent_traffic_end(h.n[0].a, now_of(&h));
		assert_int_equal(h.n[0].f.nras, 2);
		assert_int_equal(rasp_decode(h.n[0].f.ras[1], h.n[0].f.ras_len[1], &key, &m), 0);
		rasp_flow_at(&m, 0, &fl);
		assert_int_equal(fl.packets, 7);
	}
	h_fini(&h);
}

/* A NIC going down moves the entries whose tree leaves on it to the other
 * tree, locally; coming back restores them. */
static void test_nic_down(void **state)
{
	struct h h;

	(void)state;
	h_init(&h);
	fill(&h, IP(5));
	agent_nic_state(h.n[0].a, 0, false);
	assert_int_equal(f_garp(&h.n[0].f, 1, IP(5))->avail, PGR_AVAIL_VM_BAK | PGR_AVAIL_IM_BAK);
	agent_nic_state(h.n[0].a, 0, true);
	assert_int_equal(f_garp(&h.n[0].f, 1, IP(5))->avail, 0x0f);
	h_fini(&h);
}

/* SIGHUP: a removed VM is detached, a new one attached and registered, an
 * unchanged one left alone. */
static void test_reconfigure(void **state)
{
	const uint32_t now_vms[][4] = { { 1, 5, 13, 201 }, { 1, 8, 17, 204 } };
	struct h h;

	(void)state;
	h_init(&h);
	node_config(&h.n[1], 5, 2, now_vms);
	agent_configure(h.n[1].a, &h.n[1].cfg, now_of(&h));
	pump(&h);
	assert_int_equal(h.n[1].f.vm_adds, 4);	/* 3 at start + 1 */
	assert_int_equal(h.n[1].f.vm_dels, 2);
	assert_int_equal(agent_vm_count(h.n[1].a), 2);
	fill(&h, IP(8));
	{
		uint8_t m[6];

		mac_of(17, 0, m);
		assert_memory_equal(f_garp(&h.n[0].f, 1, IP(8))->vm_mac[0], m, 6);
	}
	h_fini(&h);
}

/* A restarted agent adopts what the pinned map holds, registers again, and
 * keeps the entries that are in use; the directory losing its state is
 * repaired by the periodic registration. */
/* A VM that is a backend of VCs may answer from their VIPs: the agent writes
 * (its port, VIP) with the VM's VDC, the edge's MACs and, for a gateway leg,
 * the leg's server's MACs; the entries follow the VM: gone when it leaves
 * the server (a migration), written on the server it arrives at, rewritten
 * when its VCs change. */
static void test_vips_follow_vm(void **state)
{
	const uint32_t one[][4] = { { 1, 5, 13, 201 }, { 2, 7, 15, 203 } };
	const uint32_t arrived[][4] = { { 1, 1, 9, 101 }, { 1, 6, 14, 301 } };
	const struct pgr_vip_src *v;
	struct agent_vip_cfg vips;
	uint8_t m[6];
	struct h h;

	(void)state;
	h_init(&h);
	assert_int_equal(f_nvips(&h.n[1].f), 0);
	/* red 10.0.0.6 (node 14) backs two VCs: the edge a leg (node 40) on
	 * server node 2, and a gateway of its own (node 41) */
	h.n[1].vms[1].vips[0] = (struct agent_vip_cfg){ IP(200), 40, 2 };
	h.n[1].vms[1].vips[1] = (struct agent_vip_cfg){ IP(201), 41, 0 };
	h.n[1].vms[1].nvips = 2;
	agent_configure(h.n[1].a, &h.n[1].cfg, now_of(&h));
	assert_int_equal(f_nvips(&h.n[1].f), 2);
	assert_int_equal(agent_get_stats(h.n[1].a)->vips, 2);
	assert_non_null(v = f_vip(&h.n[1].f, 202, IP(200)));
	assert_int_equal(v->vdc, 1);
	assert_int_equal(v->avail, PGR_VIP_SRC_PRI | PGR_VIP_SRC_BAK);
	for (unsigned t = 0; t < PGR_TREES; t++) {
		mac_of(40, t, m);
		assert_memory_equal(v->edge_mac[t], m, 6);
		mac_of(2, t, m);
		assert_memory_equal(v->im_mac[t], m, 6);
		assert_int_equal(v->egress_ifindex[t], 51 + t);	/* node 5's NICs */
	}
	assert_non_null(v = f_vip(&h.n[1].f, 202, IP(201)));
	mac_of(41, 1, m);
	assert_memory_equal(v->edge_mac[1], m, 6);
	memset(m, 0, sizeof(m));
	assert_memory_equal(v->im_mac[0], m, 6);	/* plain frames */
	assert_null(f_vip(&h.n[1].f, 201, IP(200)));	/* not the other VMs' */
	/* one VC left: its entry goes, the other is rewritten */
	h.n[1].vms[1].vips[0] = h.n[1].vms[1].vips[1];
	h.n[1].vms[1].nvips = 1;
	agent_configure(h.n[1].a, &h.n[1].cfg, now_of(&h));
	assert_int_equal(f_nvips(&h.n[1].f), 1);
	assert_null(f_vip(&h.n[1].f, 202, IP(200)));
	assert_non_null(f_vip(&h.n[1].f, 202, IP(201)));
	assert_int_equal(h.n[1].f.vm_dels, 0);	/* the VM itself left alone */
	assert_int_equal(agent_get_stats(h.n[1].a)->vips_removed, 1);
	/* the VM migrates from node 5 to node 1 (a new port there) */
	vips = h.n[1].vms[1].vips[0];
	node_config(&h.n[1], 5, 2, one);
	agent_configure(h.n[1].a, &h.n[1].cfg, now_of(&h));
	assert_int_equal(f_nvips(&h.n[1].f), 0);
	assert_int_equal(agent_get_stats(h.n[1].a)->vips_removed, 2);
	node_config(&h.n[0], 1, 2, arrived);
	h.n[0].vms[1].vips[0] = vips;
	h.n[0].vms[1].nvips = 1;
	agent_configure(h.n[0].a, &h.n[0].cfg, now_of(&h));
	assert_int_equal(f_nvips(&h.n[0].f), 1);
	assert_non_null(v = f_vip(&h.n[0].f, 301, IP(201)));
	assert_int_equal(v->egress_ifindex[0], 11);	/* node 1's NIC */
	h_fini(&h);
}

static void test_restart(void **state)
{
	struct dir_cfg dc = { .key = &key, .seed = 8, .lease_ms = LEASE_MS, .neg_lease_ms = 100 };
	struct pgr_garp_key k = { 1, htonl(IP(5)) };
	struct pgr_garp_entry g;
	uint64_t pkts = 0;
	struct h h;

	(void)state;
	h_init(&h);
	fill(&h, IP(5));
	g = *f_garp(&h.n[0].f, 1, IP(5));
	/* the agent goes away; the map stays */
	agent_free(h.n[0].a);
	dirc_free(h.n[0].c);
	node_client(&h.n[0], 555);
	node_agent(&h, &h.n[0]);
	agent_configure(h.n[0].a, &h.n[0].cfg, now_of(&h));
	agent_adopt(h.n[0].a, &k, &g, now_of(&h));
	assert_int_equal(agent_get_stats(h.n[0].a)->registers, 1);
	pump(&h);
	assert_int_equal(agent_get_stats(h.n[0].a)->register_fail, 0);
	for (int s = 0; s < 40; s++) {
		h_advance(&h, 100);
		walk_used(&h, &pkts);
		agent_tick(h.n[0].a, now_of(&h));
		pump(&h);
	}
	assert_memory_equal(f_garp(&h.n[0].f, 1, IP(5)), &g, offsetof(struct pgr_garp_entry, version));
	assert_true(agent_get_stats(h.n[0].a)->renews >= 1);
	/* the directory restarts empty: the agents register again within
	 * AGENT_REREG_MS and lookups find them */
	dir_free(h.d);
	h.d = dir_new(&dc);
	h_advance(&h, AGENT_REREG_MS);
	for (int i = 0; i < NAGENTS; i++)
		agent_tick(h.n[i].a, now_of(&h));
	pump(&h);
	fill(&h, IP(6));
	h_fini(&h);
}

/* The directory does not answer: the lookup gives up, the next miss asks
 * again and then succeeds. */
static void test_lookup_timeout(void **state)
{
	struct h h;

	(void)state;
	h_init(&h);
	h.drop_to_dir = true;
	miss(&h, 0, PGR_EV_ARP_MISS, 1, IP(5), 9, 101);
	agent_flush(h.n[0].a, now_of(&h));
	h_advance(&h, 10000);
	assert_int_equal(agent_get_stats(h.n[0].a)->lookup_timeouts, 1);
	assert_int_equal(agent_cache_size(h.n[0].a), 0);
	h.drop_to_dir = false;
	miss(&h, 0, PGR_EV_ARP_MISS, 1, IP(5), 9, 101);
	agent_flush(h.n[0].a, now_of(&h));
	pump(&h);
	assert_non_null(f_garp(&h.n[0].f, 1, IP(5)));
	assert_int_equal(h.n[0].f.nframes, 1);
	h_fini(&h);
}

/* The frames of a miss are held until the answer is in the map, then sent
 * back in order on the VM's port; nothing is sent before. */
static void test_hold_flush_on_answer(void **state)
{
	const struct agent_stats *st;
	struct h h;

	(void)state;
	h_init(&h);
	st = agent_get_stats(h.n[0].a);
	for (uint8_t t = 1; t <= 3; t++)
		miss_frame(&h, IP(5), t, 80);
	assert_int_equal(agent_held_frames(h.n[0].a), 3);
	agent_flush(h.n[0].a, now_of(&h));
	assert_int_equal(st->lookup_keys, 1);	/* one lookup for the three */
	assert_int_equal(h.n[0].f.nsent, 0);
	pump(&h);
	assert_int_equal(h.n[0].f.nsent, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(sent_tag(&h, i), i + 1);
		assert_int_equal(h.n[0].f.sent_if[i], 101);
		assert_true(h.n[0].f.sent_mapped[i]);
		assert_int_equal(h.n[0].f.sent_len[i], 80);
	}
	assert_int_equal(st->held, 3);
	assert_int_equal(st->held_sent, 3);
	assert_int_equal(agent_held_frames(h.n[0].a), 0);
	assert_int_equal(agent_held_bytes(h.n[0].a), 0);
	/* a frame that missed while the map was being written goes at once */
	miss_frame(&h, IP(5), 9, 80);
	assert_int_equal(h.n[0].f.nsent, 4);
	assert_int_equal(sent_tag(&h, 3), 9);
	h_fini(&h);
}

/* Per destination the newest AGENT_HOLD_PER_DST frames are kept; in all, no
 * more than AGENT_HOLD_MAX frames and AGENT_HOLD_BYTES bytes. */
static void test_hold_bounds(void **state)
{
	const struct agent_stats *st;
	struct h h;
	unsigned n;

	(void)state;
	h_init(&h);
	st = agent_get_stats(h.n[0].a);
	for (uint8_t t = 1; t <= AGENT_HOLD_PER_DST + 2; t++)
		miss_frame(&h, IP(5), t, 100);
	assert_int_equal(agent_held_frames(h.n[0].a), AGENT_HOLD_PER_DST);
	assert_int_equal(st->held_drop_full, 2);
	agent_flush(h.n[0].a, now_of(&h));
	pump(&h);
	assert_int_equal(h.n[0].f.nsent, AGENT_HOLD_PER_DST);
	for (unsigned i = 0; i < AGENT_HOLD_PER_DST; i++)
		assert_int_equal(sent_tag(&h, i), i + 3);	/* the oldest two went */
	/* full frames to many destinations: the byte limit */
	for (n = 0; n < 100; n++)
		miss_frame(&h, 0x0a010000u + n, 1, WIRE_FRAME_MAX);
	assert_int_equal(agent_held_frames(h.n[0].a), AGENT_HOLD_BYTES / WIRE_FRAME_MAX);
	assert_true(agent_held_bytes(h.n[0].a) <= AGENT_HOLD_BYTES);
	assert_int_equal(st->held_drop_pool, 100 - AGENT_HOLD_BYTES / WIRE_FRAME_MAX);
	h_fini(&h);

	h_init(&h);
	st = agent_get_stats(h.n[0].a);
	for (n = 0; n < AGENT_HOLD_MAX + 10; n++)	/* small frames: the slot limit */
		miss_frame(&h, 0x0a010000u + n / 2, (uint8_t)n, 60);
	assert_int_equal(agent_held_frames(h.n[0].a), AGENT_HOLD_MAX);
	assert_int_equal(st->held_drop_pool, 10);
	h_fini(&h);
}

/* A frame older than AGENT_HOLD_MS is dropped, a younger one kept and sent. */
static void test_hold_expiry(void **state)
{
	const struct agent_stats *st;
	struct h h;

	(void)state;
	h_init(&h);
	st = agent_get_stats(h.n[0].a);
	h.drop_to_dir = true;	/* the first LOOKUPs get lost */
	miss_frame(&h, IP(5), 1, 80);
	agent_flush(h.n[0].a, now_of(&h));
	h_advance(&h, 800);
	miss_frame(&h, IP(5), 2, 80);
	h_advance(&h, AGENT_HOLD_MS - 800 + 100);
	agent_tick(h.n[0].a, now_of(&h));
	assert_int_equal(st->held_drop_age, 1);
	assert_int_equal(agent_held_frames(h.n[0].a), 1);
	h.drop_to_dir = false;	/* a retransmission gets through */
	h_advance(&h, 1000);
	assert_int_equal(h.n[0].f.nsent, 1);
	assert_int_equal(sent_tag(&h, 0), 2);
	assert_int_equal(agent_held_frames(h.n[0].a), 0);
	h_fini(&h);
}

/* NOT FOUND (another VDC's address) drops what is held, and what comes while
 * the negative answer holds; so does a lookup nobody answers. */
static void test_hold_dropped_unresolved(void **state)
{
	const struct agent_stats *st;
	struct h h;

	(void)state;
	h_init(&h);
	st = agent_get_stats(h.n[0].a);
	miss_frame(&h, IP(7), 1, 80);
	miss_frame(&h, IP(7), 2, 80);
	agent_flush(h.n[0].a, now_of(&h));
	pump(&h);
	assert_int_equal(st->not_found, 1);
	assert_int_equal(st->held_drop_unresolved, 2);
	miss_frame(&h, IP(7), 3, 80);
	assert_int_equal(st->held_drop_unresolved, 3);
	assert_int_equal(h.n[0].f.nsent, 0);
	assert_int_equal(agent_held_frames(h.n[0].a), 0);
	h.drop_to_dir = true;
	miss_frame(&h, IP(5), 4, 80);
	agent_flush(h.n[0].a, now_of(&h));
	h_advance(&h, 10000);
	assert_int_equal(st->lookup_timeouts, 1);
	assert_int_equal(st->held_drop_age + st->held_drop_unresolved, 4);
	assert_int_equal(agent_held_frames(h.n[0].a), 0);
	assert_int_equal(h.n[0].f.nsent, 0);
	h_fini(&h);
}

/* A frame whose TCP/UDP checksum the VM left to offload is sent completed;
 * a frame that is not IPv4 to the missed address is refused. */
static void test_hold_frame_checks(void **state)
{
	struct pgr_event ev = { .type = PGR_EV_IP_MISS, .vdc = 1, .ip = htonl(IP(5)),
				.vm_id = pgr_id_of(9, PGR_PRIMARY), .ifindex = 101 };
	const struct agent_stats *st;
	uint8_t f[WIRE_FRAME_MAX];
	size_t n;
	struct h h;

	(void)state;
	h_init(&h);
	st = agent_get_stats(h.n[0].a);
	n = udp_frame(f, IP(6), 1, 80);	/* to 10.0.0.6, the event says .5 */
	agent_miss(h.n[0].a, &ev, f, n, now_of(&h));
	assert_int_equal(st->held_bad, 1);
	agent_miss(h.n[0].a, &ev, f, 10, now_of(&h));	/* truncated */
	assert_int_equal(st->held_bad, 2);
	n = udp_frame(f, IP(5), 1, 80);
	f[40] = 0x12;	/* the checksum field holds the pseudo-header sum */
	f[41] = 0x34;
	{
		uint32_t sum = 0x0a00 + 1 + 0x0a00 + 5 + 17 + (uint32_t)(n - 34);

		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		f[40] = (uint8_t)(sum >> 8);
		f[41] = (uint8_t)sum;
	}
	agent_miss(h.n[0].a, &ev, f, n, now_of(&h));
	agent_flush(h.n[0].a, now_of(&h));
	pump(&h);
	assert_int_equal(h.n[0].f.nsent, 1);
	assert_int_equal(st->held_csum, 1);
	assert_int_equal(wire_l4_csum_complete(h.n[0].f.sent[0], n), WIRE_L4_CSUM_GOOD);
	h_fini(&h);
}

/* DIRECT from the RAS sets the flag (and for tree 1 keeps the primary off),
 * is acknowledged, and a replay is acknowledged but not applied twice; a
 * push that moves the VM to another server drops it at once. */
static void test_ras_direct(void **state)
{
	struct rasp_direct d = { pgr_id_of(13, 0), 1, 1 };
	struct rasp_hdr hd = { RASP_DIRECT, 0, 5000, 0 };
	uint8_t buf[256];
	struct rasp_msg m;
	struct h h;
	size_t len;

	(void)state;
	h_init(&h);
	fill(&h, IP(5));
	hd.time_ns = now_of(&h).wall_ms * MS;
	len = rasp_enc_direct(buf, sizeof(buf), &hd, &d, 1, &key);
	agent_ras_input(h.n[0].a, buf, len, now_of(&h));
	assert_int_equal(f_garp(&h.n[0].f, 1, IP(5))->flags, PGR_GARP_DIRECT);
	assert_int_equal(f_garp(&h.n[0].f, 1, IP(5))->avail, 0x0e);
	assert_int_equal(h.n[0].f.nras, 1);
	assert_int_equal(rasp_decode(h.n[0].f.ras[0], h.n[0].f.ras_len[0], &key, &m), 0);
	assert_int_equal(m.h.type, RASP_ACK);
	assert_int_equal(m.u.ack.acked, 5000);
	agent_ras_input(h.n[0].a, buf, len, now_of(&h));
	assert_int_equal(agent_get_stats(h.n[0].a)->direct_applied, 1);
	assert_int_equal(h.n[0].f.nras, 2);
	/* off again */
	d.on = 0;
	hd.seq++;
	len = rasp_enc_direct(buf, sizeof(buf), &hd, &d, 1, &key);
	agent_ras_input(h.n[0].a, buf, len, now_of(&h));
	assert_int_equal(f_garp(&h.n[0].f, 1, IP(5))->flags, 0);
	assert_int_equal(f_garp(&h.n[0].f, 1, IP(5))->avail, 0x0f);
	/* on again, then the VM moves to another server (the directory pushes
	 * its new intermediary): direct is dropped at once, the RAS's DIRECT
	 * off that follows changes nothing */
	d.on = 1;
	hd.seq++;
	len = rasp_enc_direct(buf, sizeof(buf), &hd, &d, 1, &key);
	agent_ras_input(h.n[0].a, buf, len, now_of(&h));
	assert_int_equal(f_garp(&h.n[0].f, 1, IP(5))->flags, PGR_GARP_DIRECT);
	{
		const uint32_t here[][4] = { { 1, 1, 9, 101 }, { 1, 5, 13, 201 } };
		const uint32_t left[][4] = { { 1, 6, 14, 202 }, { 2, 7, 15, 203 } };

		node_config(&h.n[1], 5, 2, left);	/* VM 13 leaves node 5 ... */
		agent_configure(h.n[1].a, &h.n[1].cfg, now_of(&h));
		node_config(&h.n[0], 1, 2, here);	/* ... for node 1 */
		agent_configure(h.n[0].a, &h.n[0].cfg, now_of(&h));
		pump(&h);
	}
	assert_int_equal(agent_get_stats(h.n[0].a)->direct_moved, 1);
	assert_int_equal(f_garp(&h.n[0].f, 1, IP(5))->flags & PGR_GARP_DIRECT, 0);
	d.on = 0;
	hd.seq++;
	len = rasp_enc_direct(buf, sizeof(buf), &hd, &d, 1, &key);
	agent_ras_input(h.n[0].a, buf, len, now_of(&h));
	assert_int_equal(f_garp(&h.n[0].f, 1, IP(5))->flags & PGR_GARP_DIRECT, 0);
	/* garbage and a wrong key are counted, never applied */
	buf[30] ^= 1;
	agent_ras_input(h.n[0].a, buf, len, now_of(&h));
	agent_ras_input(h.n[0].a, buf, 3, now_of(&h));
	assert_int_equal(agent_get_stats(h.n[0].a)->ras_bad, 3);
	h_fini(&h);
}

/* Miss events that do not match a local VM are dropped and counted. */
static void test_bad_misses(void **state)
{
	struct h h;

	(void)state;
	h_init(&h);
	miss(&h, 0, PGR_EV_ARP_MISS, 1, IP(5), 9, 999);	/* unknown port */
	miss(&h, 0, PGR_EV_ARP_MISS, 2, IP(5), 9, 101);	/* not the VM's VDC */
	miss(&h, 0, PGR_EV_ARP_MISS, 1, IP(5), 10, 101);	/* not the port's VM */
	miss(&h, 0, 77, 1, IP(5), 9, 101);			/* unknown type */
	agent_flush(h.n[0].a, now_of(&h));
	assert_int_equal(agent_get_stats(h.n[0].a)->miss_bad, 4);
	assert_int_equal(agent_get_stats(h.n[0].a)->lookups, 0);
	h_fini(&h);
}

/* ---- the configuration file -------------------------------------------------- */

static const char good_cfg[] =
	"server: srv0\nnode: 1\nnics: [p-nic0, p-nic1]\n"
	"directory: \"172.31.0.1:7300\"\nras: 172.31.0.1:7500\nkey: /tmp/key\n"
	"topology: leafspine:spines=2,leaves=4,servers=2,homing=2\n"
	"vms:\n  - { name: red-srv0, vdc: 1, ip: 10.0.0.1, node: 9, port: p-v1 }\n"
	"  - { name: blue-srv0, vdc: 2, ip: 10.0.0.1, node: 10, port: p-v2,\n"
	"      vips: [{ip: 203.0.113.10, edge: 40, via: 3}, {ip: 203.0.113.11, edge: 41}] }\n";

static void test_config_round_trip(void **state)
{
	struct agent_config c, d;
	char err[256], *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(agent_config_load_buf(&c, "a.yaml", good_cfg, strlen(good_cfg), err,
					       sizeof(err)), 0);
	assert_string_equal(c.server, "srv0");
	assert_int_equal(c.nnics, 2);
	assert_int_equal(c.nvms, 2);
	assert_int_equal(c.vms[1].vdc, 2);
	assert_int_equal(c.vms[1].ip, IP(1));
	assert_int_equal(c.vms[0].nvips, 0);
	assert_int_equal(c.vms[1].nvips, 2);
	assert_int_equal(c.vms[1].vips[0].ip, 0xcb00710a);
	assert_int_equal(c.vms[1].vips[0].edge, 40);
	assert_int_equal(c.vms[1].vips[0].via, 3);
	assert_int_equal(c.vms[1].vips[1].via, 0);
	assert_int_equal(ntohs(c.ras.sin_port), 7500);
	f = open_memstream(&buf, &len);
	assert_int_equal(agent_config_write(&c, f), 0);
	fclose(f);
	assert_int_equal(agent_config_load_buf(&d, "b.yaml", buf, len, err, sizeof(err)), 0);
	assert_int_equal(d.nvms, 2);
	assert_memory_equal(d.vms, c.vms, sizeof(*c.vms) * 2);
	assert_memory_equal(&d.directory, &c.directory, sizeof(c.directory));
	assert_string_equal(d.topology, c.topology);
	free(buf);
	agent_config_free(&c);
	agent_config_free(&d);
}

static void test_config_errors(void **state)
{
	static const struct { const char *text, *msg; } bad[] = {
		{ "server: a\n", "missing" },
		{ "[1, 2]\n", "expected a mapping" },
		{ "server: srv0\nnode: 1\nnics: []\ndirectory: 1.2.3.4:1\nras: 1.2.3.4:2\n"
		  "key: k\ntopology: t\n", "nics" },
		{ "server: srv0\nnode: 1\nnics: [a]\ndirectory: 1.2.3.4\nras: 1.2.3.4:2\n"
		  "key: k\ntopology: t\n", "directory" },
		{ "server: srv0\nnode: 1\nnics: [a]\ndirectory: 1.2.3.4:1\nras: 1.2.3.4:2\n"
		  "key: k\ntopology: t\nvms:\n  - { name: x, vdc: 0, ip: 10.0.0.1, node: 9, port: p }\n",
		  "a.yaml:9: vms[].vdc" },
		{ "server: srv0\nnode: 1\nnics: [a]\ndirectory: 1.2.3.4:1\nras: 1.2.3.4:2\n"
		  "key: k\ntopology: t\nvms:\n  - { name: x, vdc: 1, ip: 10.0.0.1, node: 9, port: p }\n"
		  "  - { name: y, vdc: 1, ip: 10.0.0.1, node: 10, port: q }\n", "same node" },
		{ "server: srv0\nnode: 1\nnics: [a]\ndirectory: 1.2.3.4:1\nras: 1.2.3.4:2\n"
		  "key: k\ntopology: t\nbogus: 1\n", "bogus" },
#define VIPS_CFG(x) "server: srv0\nnode: 1\nnics: [a]\ndirectory: 1.2.3.4:1\nras: 1.2.3.4:2\n" \
	"key: k\ntopology: t\nvms:\n  - { name: x, vdc: 1, ip: 10.0.0.1, node: 9, port: p,\n" \
	"      vips: " x " }\n"
		{ VIPS_CFG("[{ip: 10.0.0.1, edge: 4}]"), "a.yaml:10: vms[].vips[].ip: the VM's own" },
		{ VIPS_CFG("[{ip: 224.0.0.1, edge: 4}]"), "vips[].ip: not a unicast host" },
		{ VIPS_CFG("[{ip: 1.2.3.4, edge: 4}, {ip: 1.2.3.4, edge: 5}]"), "listed twice" },
		{ VIPS_CFG("[{ip: 1.2.3.4}]"), "vips[].edge: missing" },
		{ VIPS_CFG("[{ip: 1.2.3.4, edge: 0}]"), "vips[].edge: expected an integer" },
		{ VIPS_CFG("[{ip: 1.2.3.4, edge: 4, via: 0}]"), "vips[].via: expected an integer" },
		{ VIPS_CFG("[{ip: 1.2.3.4, edge: 4, port: 80}]"), "port" },
		{ VIPS_CFG("[1, 2, 3, 4, 5, 6, 7, 8, 9]"), "at most 8 VIPs" },
		{ VIPS_CFG("[5]"), "vms[].vips[]: expected {ip, edge, via}" },
#undef VIPS_CFG
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct agent_config c;
		char err[256];

		assert_int_equal(agent_config_load_buf(&c, "a.yaml", bad[i].text,
						       strlen(bad[i].text), err, sizeof(err)),
				 -EINVAL);
		if (!strstr(err, bad[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].msg);
		assert_null(c.vms);
	}
}

/* The routing trees are the core's: for every pair of servers the NIC it
 * sends on in tree t is the one route/ computes, on a dual-homed fabric and
 * on a single-homed one (both trees on NIC 0); a server that is not the
 * configuration's node is refused, and with no topology nothing gets a NIC. */
static void check_tree_nics(const char *sp)
{
	struct agent_ops ops = { NULL, f_garp_set, f_garp_del, f_vm_add, f_vm_del, f_arp,
				 f_resend, f_ras, { NULL, NULL }, NULL, NULL, NULL, NULL, NULL, NULL };
	struct dir_now now = { 1, T0_WALL };
	struct topo *t = spec(sp);
	struct route_trees *rt;
	char err[256], name[32];
	unsigned nic1 = 0;

	assert_int_equal(route_trees_new(t, NULL, NULL, &rt, err, sizeof(err)), 0);
	for (uint32_t s = 0; s < t->nservers; s++) {
		struct agent *a = agent_new(&ops, NULL, &key, now);

		assert_int_equal(agent_tree_nic(a, 1, 0), -1);
		snprintf(name, sizeof(name), "%s", t->nodes[t->servers[s]].name);
		assert_int_equal(agent_topology(a, t, name, s + 2 > t->nservers ? 1 : s + 2, err,
						sizeof(err)), -EINVAL);
		assert_int_equal(agent_topology(a, t, "nosuch", s + 1, err, sizeof(err)), -EINVAL);
		assert_int_equal(agent_topology(a, t, name, s + 1, err, sizeof(err)), 0);
		for (uint32_t d = 0; d < t->nservers; d++) {
			for (unsigned tr = 0; tr < 2; tr++) {
				uint16_t p = route_egress(rt, t->servers[s], t->servers[d], tr);

				assert_int_equal(agent_tree_nic(a, d + 1, tr),
						 p == ROUTE_NO_PORT ? -1 : (int)p);
				nic1 += p == 1;
			}
		}
		assert_int_equal(agent_tree_nic(a, 0, 0), -1);
		assert_int_equal(agent_tree_nic(a, t->nservers + 1, 0), -1);
		agent_free(a);
	}
	if (t->nodes[t->servers[0]].degree > 1)
		assert_true(nic1 > 0);
	else
		assert_int_equal(nic1, 0);
	route_trees_free(rt);
	topo_free(t);
}

static void test_trees_from_topology(void **state)
{
	(void)state;
	check_tree_nics(H_TOPO);
	check_tree_nics("leafspine:spines=2,leaves=4,servers=2,homing=2");
	check_tree_nics("vl2:da=4,di=4,per_tor=2");
}

/* agent_tick returns its next deadline (lib/core.h): the next round, or the
 * re-registration when that comes first. */
static void test_tick_deadline(void **state)
{
	struct h h;
	uint64_t next;

	(void)state;
	h_init(&h);
	next = agent_tick(h.n[0].a, now_of(&h));
	assert_true(next == now_of(&h).ns + AGENT_TRAFFIC_MS * MS);
	h.t += (AGENT_REREG_MS - AGENT_TRAFFIC_MS / 2) * MS;
	next = agent_tick(h.n[0].a, now_of(&h));
	assert_true(next > now_of(&h).ns && next < now_of(&h).ns + AGENT_TRAFFIC_MS * MS);
	h_fini(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trees_from_topology),
		cmocka_unit_test(test_tick_deadline),
		cmocka_unit_test(test_register_and_attach),
		cmocka_unit_test(test_miss_fills_and_answers),
		cmocka_unit_test(test_isolation),
		cmocka_unit_test(test_push_changes_availability),
		cmocka_unit_test(test_default_route_push_follows),
		cmocka_unit_test(test_failover_duration),
		cmocka_unit_test(test_failover_buckets),
		cmocka_unit_test(test_leases),
		cmocka_unit_test(test_traffic_report),
		cmocka_unit_test(test_traffic_restart),
		cmocka_unit_test(test_nic_down),
		cmocka_unit_test(test_both_trees_held),
		cmocka_unit_test(test_reconfigure),
		cmocka_unit_test(test_vips_follow_vm),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_lookup_timeout),
		cmocka_unit_test(test_hold_flush_on_answer),
		cmocka_unit_test(test_hold_bounds),
		cmocka_unit_test(test_hold_expiry),
		cmocka_unit_test(test_hold_dropped_unresolved),
		cmocka_unit_test(test_hold_frame_checks),
		cmocka_unit_test(test_ras_direct),
		cmocka_unit_test(test_bad_misses),
		cmocka_unit_test(test_cache_bound),
		cmocka_unit_test(test_config_round_trip),
		cmocka_unit_test(test_config_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
