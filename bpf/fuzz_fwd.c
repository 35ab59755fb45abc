/* libFuzzer: the forwarding decision (bpf/fwd.h, user-space build) on
 * arbitrary frames, from a VM and from the fabric, with a small fixture of
 * tables: IPv4, ARP, DHCP, IPv6 and Neighbour Discovery parsing never read
 * outside the frame (ASan: the frame is a heap block of exactly its
 * length), never change its length, and a Neighbour Advertisement built in
 * place carries a checksum that verifies.  Input: one byte of mode (bit 0:
 * from the fabric; bit 1: a frame the agent sent back), then the frame. */
#include <stdlib.h>
#include <string.h>

#include "bpf/fwd.h"
#include "wire/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { VA = 10, VB = 11, VC = 12, S1 = 1, S2 = 2, PORT_A = 1, PORT_C = 7 };

static struct pgr_fwd_tables tab;
static struct pgr_config cfg;

static void entry(struct pgr_garp_entry *g, uint32_t vm, uint32_t server, uint8_t flags)
{
	memset(g, 0, sizeof(*g));
	for (uint32_t t = 0; t < PGR_TREES; t++) {
		pgr_mac_make(g->vm_mac[t], pgr_id_of(vm, t));
		pgr_mac_make(g->im_mac[t], pgr_id_of(server, t));
		g->egress_ifindex[t] = 21 + t;
	}
	g->avail = 0x0f;
	g->flags = flags;
}

/* 2001:db8:1:: + the EUI-64 of node's primary MAC */
static void addr6(uint8_t *a, uint32_t node)
{
	uint8_t m[6];

	pgr_mac_make(m, pgr_id_of(node, 0));
	memset(a, 0, 16);
	a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8, a[5] = 1;
	a[8] = m[0] ^ 2, a[9] = m[1], a[10] = m[2], a[11] = 0xff, a[12] = 0xfe;
	memcpy(a + 13, m + 3, 3);
}

static void fixture(void)
{
	struct pgr_vm a = { .ifindex = PORT_A, .vdc = 1, .ip = 0x0100000a, .id = pgr_id_of(VA, 0) };
	struct pgr_vm c = { .ifindex = PORT_C, .vdc = 1, .ip = 0x0300000a, .id = pgr_id_of(VC, 0) };
	struct pgr_garp_entry g;
	struct pgr_garp6_key k6 = { .vdc = 1 };

	pgr_fwd_tables_init(&tab);
	pgr_mac_make(a.mac, a.id);
	pgr_mac_make(c.mac, c.id);
	pgr_fwd_vm_add(&tab, &a, pgr_id_of(VA, 1));
	pgr_fwd_vm_add(&tab, &c, pgr_id_of(VC, 1));
	entry(&g, VB, S2, 0);
	pgr_fwd_garp_put(&tab, &(struct pgr_garp_key){ .vdc = 1, .ip = 0x0200000a }, &g);
	addr6(k6.ip, VB);
	pgr_fwd_garp6_put(&tab, &k6, &g);
	entry(&g, VC, S1, PGR_GARP_LOCAL);
	pgr_fwd_garp_put(&tab, &(struct pgr_garp_key){ .vdc = 1, .ip = 0x0300000a }, &g);
	addr6(k6.ip, VC);
	pgr_fwd_garp6_put(&tab, &k6, &g);
	pgr_mac_make(cfg.server_mac[0], pgr_id_of(S1, 0));
	pgr_mac_make(cfg.server_mac[1], pgr_id_of(S1, 1));
}

/* The NA's checksum over its pseudo-header verifies (sums to 0xffff). */
static void check_na(const uint8_t *f, size_t len)
{
	uint8_t buf[40 + 32] = { 0 };

	if (len < 14 + 40 + 32)
		abort();
	memcpy(buf, f + 14 + 8, 32);	/* source and destination */
	buf[35] = 32;
	buf[39] = 58;
	memcpy(buf + 40, f + 14 + 40, 32);
	if (wire_csum(buf, sizeof(buf)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	uint8_t *f;
	size_t len;
	struct pgr_fwd r;

	if (!ready) {
		fixture();
		ready = true;
	}
	if (size < 1)
		return 0;
	len = size - 1;
	f = malloc(len ? len : 1);
	if (!f)
		abort();
	memcpy(f, data + 1, len);
	if (data[0] & 1)
		r = pgr_fwd_from_net(&tab, &cfg, f, f + len);
	else
		r = pgr_fwd_from_vm(&tab, f, f + len, (uint32_t)len, PORT_A, data[0] & 2);
	if (r.stat >= PGR_STAT_COUNT || r.act > PGR_FWD_HOLD)
		abort();
	if (r.stat == PGR_STAT_VM_ND_REPLY)
		check_na(f, len);
	free(f);
	return 0;
}
