/* XDP on an SLB server's fabric NIC: layer-4 load balancing of the VIPs.
 *
 * A client's packet to a (VIP, port, protocol) service goes to one backend
 * VM: the connection table's if the flow is established, else the Maglev
 * table's slot for the flow's hash.  It leaves through the fabric's own
 * encapsulation (no bytes added: DA := the backend's server, SA := the
 * backend VM's ID : this server's ID), so the backend's agent delivers it
 * like any indirect frame; the VM holds the VIP and answers the client
 * directly (direct server return).
 *
 * Flows seen once go to a table of their own (slb_new); a second packet
 * promotes them to the connection table (slb_conns).  A flood of SYNs or of
 * spoofed one-packet flows therefore evicts only other new flows, never an
 * established one.  Every verdict is counted.  docs/slb.md. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bpf/slb.h"
#include "wire/be.h"
#include "wire/ipv4.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load; frozen afterwards. */
const volatile struct pgr_slb_config pgr_slb_cfg = {};

enum { TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_ACK = 0x10 };
enum { TCP_HLEN = 20, UDP_HLEN = 8, IP_FRAG_MASK = 0x3fff /* MF | offset */ };

static __always_inline int verdict(struct xdp_md *ctx, enum pgr_slb_stat s, int act)
{
	uint32_t key = s;
	struct pgr_slb_counter *c = bpf_map_lookup_elem(&slb_stats, &key);

	if (c) {
		c->packets++;
		c->bytes += ctx->data_end - ctx->data;
	}
	return act;
}

#define SLB_DROP(reason) return verdict(ctx, PGR_SLB_STAT_##reason, XDP_DROP)

/* 0/8, 127/8, multicast, class E and broadcast: never a client's source. */
static __always_inline bool martian(const struct wire_ipv4 *ip)
{
	uint8_t a = ((const uint8_t *)&ip->saddr)[0];

	return a == 0 || a == 127 || a >= 224 || ip->saddr == ip->daddr;
}

/* The backend named by a slot or a connection, if it may take this VIP's
 * traffic: it exists, it is of the VIP's VDC, and its addresses are
 * Peregrine's (the loader refuses other entries; the program copes). */
static __always_inline struct pgr_slb_backend *backend(uint32_t idx, const struct pgr_slb_vip *vip)
{
	struct pgr_slb_backend *be = bpf_map_lookup_elem(&slb_backends, &idx);

	if (!be || be->vdc != vip->vdc || !pgr_mac_valid(be->vm_mac[PGR_PRIMARY]) ||
	    !pgr_mac_valid(be->vm_mac[PGR_BACKUP]) || !pgr_mac_valid(be->im_mac[PGR_PRIMARY]) ||
	    !pgr_mac_valid(be->im_mac[PGR_BACKUP]))
		return NULL;
	return be;
}

/* DSR through the fabric: the indirect encapsulation toward the backend VM,
 * on the tree its server is reachable by, out of that tree's NIC. */
static __always_inline int forward(struct xdp_md *ctx, struct wire_eth *e, uint32_t idx,
				   const struct pgr_slb_backend *be, enum pgr_slb_stat s)
{
	struct pgr_slb_counter *c;
	uint32_t tree, ifindex;

	if (be->avail & PGR_SLB_AVAIL_PRI)
		tree = PGR_PRIMARY;
	else if (be->avail & PGR_SLB_AVAIL_BAK)
		tree = PGR_BACKUP;
	else
		SLB_DROP(DROP_NO_ROUTE);
	wire_mac_copy(e->dst, be->im_mac[tree]);
	e->src[0] = be->vm_mac[tree][3];
	e->src[1] = be->vm_mac[tree][4];
	e->src[2] = be->vm_mac[tree][5];
	e->src[3] = pgr_slb_cfg.server_mac[tree][3];
	e->src[4] = pgr_slb_cfg.server_mac[tree][4];
	e->src[5] = pgr_slb_cfg.server_mac[tree][5];
	c = bpf_map_lookup_elem(&slb_backend_stats, &idx);
	if (c) {
		c->packets++;
		c->bytes += ctx->data_end - ctx->data;
	}
	ifindex = be->egress_ifindex[tree];
	if (!ifindex || ifindex == ctx->ingress_ifindex)
		return verdict(ctx, s, XDP_TX);
	return verdict(ctx, s, (int)bpf_redirect(ifindex, 0));
}

/* A new flow: the Maglev table's backend, remembered as seen once. */
static __always_inline int pick(struct xdp_md *ctx, struct wire_eth *e,
				const struct pgr_slb_flow *f, const struct pgr_slb_vip *vip)
{
	uint32_t t = vip->table, slot, *idx;
	struct pgr_slb_conn conn = {};
	struct pgr_slb_backend *be;

	if (t >= PGR_SLB_VIPS_MAX)
		SLB_DROP(DROP_NO_BACKEND);
	slot = t * PGR_SLB_RING + pgr_slb_slot(f, vip->flags & PGR_SLB_VIP_STICKY);
	idx = bpf_map_lookup_elem(&slb_tables, &slot);
	if (!idx || *idx == PGR_SLB_NONE)
		SLB_DROP(DROP_NO_BACKEND);
	conn.backend = *idx;
	be = backend(conn.backend, vip);
	if (!be)
		SLB_DROP(DROP_BAD_BACKEND);
	bpf_map_update_elem(&slb_new, f, &conn, BPF_ANY);
	return forward(ctx, e, conn.backend, be, PGR_SLB_STAT_FWD_NEW);
}

/* A packet of a flow that may be known: established, seen once (promote
 * it), or unknown (a flow that started on another SLB server or before a
 * restart: the Maglev table gives the same answer while membership holds). */
static __always_inline int known(struct xdp_md *ctx, struct wire_eth *e,
				 const struct pgr_slb_flow *f, const struct pgr_slb_vip *vip)
{
	struct pgr_slb_backend *be;
	struct pgr_slb_conn *c;

	c = bpf_map_lookup_elem(&slb_conns, f);
	if (c) {
		be = backend(c->backend, vip);
		if (be && !(be->flags & PGR_SLB_BE_DOWN))
			return forward(ctx, e, c->backend, be, PGR_SLB_STAT_FWD_ESTABLISHED);
		return pick(ctx, e, f, vip);
	}
	c = bpf_map_lookup_elem(&slb_new, f);
	if (c) {
		struct pgr_slb_conn conn = *c;

		be = backend(conn.backend, vip);
		if (!be || (be->flags & PGR_SLB_BE_DOWN))
			return pick(ctx, e, f, vip);
		bpf_map_update_elem(&slb_conns, f, &conn, BPF_ANY);
		return forward(ctx, e, conn.backend, be, PGR_SLB_STAT_FWD_PROMOTED);
	}
	return pick(ctx, e, f, vip);
}

/* The VIP of a packet whose service lookup missed: a VIP's marker entry
 * (port 0, protocol 0) tells "VIP, not this service" from "not a VIP". */
static __always_inline int no_service(struct xdp_md *ctx, uint32_t daddr, enum pgr_slb_stat s)
{
	struct pgr_slb_vip_key k = { .ip = daddr };

	if (bpf_map_lookup_elem(&slb_vips, &k))
		return verdict(ctx, s, XDP_DROP);
	return verdict(ctx, PGR_SLB_STAT_PASS, XDP_PASS);
}

SEC("xdp")
int pgr_slb(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct wire_eth *e = data;
	struct wire_ipv4 *ip = (void *)(e + 1);
	struct pgr_slb_vip_key k = {};
	struct pgr_slb_flow f = {};
	struct pgr_slb_vip *vip;
	uint8_t *l4, flags = 0;

	if ((void *)(e + 1) > end)
		SLB_DROP(DROP_SHORT);
	if (e->type != WIRE_HTONS(WIRE_ETH_P_IPV4))
		return verdict(ctx, PGR_SLB_STAT_PASS, XDP_PASS);
	if ((void *)(ip + 1) > end)
		SLB_DROP(DROP_SHORT);
	if (!wire_ipv4_valid(ip, (uint32_t)(end - (void *)ip)))
		SLB_DROP(DROP_IP_BAD);
	if (ip->ver_ihl != 0x45)
		SLB_DROP(DROP_IP_OPTIONS);
	if (ip->frag & WIRE_HTONS(IP_FRAG_MASK))
		SLB_DROP(DROP_FRAG);
	if (ip->proto != WIRE_IPPROTO_TCP && ip->proto != WIRE_IPPROTO_UDP)
		return no_service(ctx, ip->daddr, PGR_SLB_STAT_DROP_PROTO);
	l4 = (uint8_t *)(ip + 1);
	if (ip->proto == WIRE_IPPROTO_TCP) {
		if ((void *)(l4 + TCP_HLEN) > end)
			SLB_DROP(DROP_SHORT);
		flags = l4[13];
		if ((l4[12] >> 4) < 5 || !(flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) ||
		    (flags & TCP_SYN && flags & (TCP_FIN | TCP_RST)))
			SLB_DROP(DROP_L4_BAD);
	} else {
		if ((void *)(l4 + UDP_HLEN) > end)
			SLB_DROP(DROP_SHORT);
		if (wire_get16(l4 + 4) < UDP_HLEN ||
		    wire_get16(l4 + 4) > WIRE_NTOHS(ip->tot_len) - WIRE_IPV4_HLEN)
			SLB_DROP(DROP_L4_BAD);
	}
	f.saddr = ip->saddr;
	f.daddr = ip->daddr;
	f.sport = *(uint16_t *)l4;
	f.dport = *(uint16_t *)(l4 + 2);
	f.proto = ip->proto;
	k.ip = f.daddr;
	k.port = f.dport;
	k.proto = f.proto;
	vip = bpf_map_lookup_elem(&slb_vips, &k);
	if (!vip)
		return no_service(ctx, f.daddr, PGR_SLB_STAT_DROP_NO_SERVICE);
	if (wire_mac_is_group(e->dst) || wire_mac_is_group(e->src) || wire_mac_is_zero(e->src))
		SLB_DROP(DROP_GROUP);
	if (martian(ip))
		SLB_DROP(DROP_SPOOF);
	if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
		/* a new connection on the tuple: whatever it was goes */
		bpf_map_delete_elem(&slb_conns, &f);
		return pick(ctx, e, &f, vip);
	}
	return known(ctx, e, &f, vip);
}
