/* The data plane's forwarding decision, one piece of C for every place that
 * needs it: the eBPF programs (from_vm.bpf.c, from_net.bpf.c), `peregrine
 * trace` and the simulator.  A simulated or traced packet follows the same
 * rules as a real one because it runs the same code.
 *
 * Given a frame (its linear bytes data .. end, its full length) and a
 * server's tables, pgr_fwd_from_vm() and pgr_fwd_from_net() rewrite the
 * frame in place (ARP reply, encapsulation, decapsulation, the destination
 * VM's MAC) and return a struct pgr_fwd: what to do with it (drop, deliver to
 * a VM's port, transmit out of a NIC, pass to the stack, hold for the agent),
 * the ifindex, the tree, the verdict counter, the miss event and the
 * traffic-matrix pair to count.  They do no I/O: the caller counts, sends and
 * copies.  docs/dataplane.md, "One forwarding decision".
 *
 * The tables are read through three lookups, the only thing that differs
 * between the two builds:
 *
 *   pgr_fwd_garp(t, key)      (VDC, IPv4) -> struct pgr_garp_entry
 *   pgr_fwd_vm(t, id)         a local VM by either of its IDs
 *   pgr_fwd_port(t, ifindex)  a local VM by its port
 *   pgr_fwd_vip_src(t, k)     (port, VIP) -> struct pgr_vip_src (DSR)
 *   pgr_fwd_mcast(t, k)       (VDC, IPv4 group) -> struct pgr_mcast_entry
 *
 * For eBPF (__bpf__) they are bpf_map_lookup_elem() on the maps of bpf/dp.h
 * and t is unused (NULL); in user space they are bpf/fwd_tables.c's tables,
 * which the caller fills.  Everything here is verifier-friendly: no loops, no
 * function pointers, a bounds check before every access to the frame, every
 * lookup checked. */
#ifndef PEREGRINE_BPF_FWD_H
#define PEREGRINE_BPF_FWD_H

#include "bpf/dp.h"
#include "wire/arp.h"
#include "wire/ipv4.h"

enum pgr_fwd_act {
	PGR_FWD_DROP,		/* drop (with an event to user space if .event) */
	PGR_FWD_DELIVER,	/* hand to the VM behind port .ifindex */
	PGR_FWD_TRANSMIT,	/* send out of NIC .ifindex (tree .tree) */
	PGR_FWD_PASS,		/* pass to the host's stack */
	PGR_FWD_HOLD,		/* copy the frame to the agent with the miss event,
				 * then drop; if the copy fails: the plain event and
				 * PGR_STAT_VM_DROP_NO_GARP */
	PGR_FWD_REPLICATE,	/* a group frame: a copy to each member of
				 * (ev_vdc, group ev_ip) in pgr_mcast (from a VM:
				 * the sender's port .ifindex excepted; and the
				 * event if .event), then drop (bpf/mcast.h) */
};

#define PGR_FWD_NO_TREE 0xff

struct pgr_fwd {
	uint8_t act;		/* enum pgr_fwd_act */
	uint8_t stat;		/* enum pgr_stat: the verdict counter */
	uint8_t event;		/* enum pgr_event_type to user space, or 0 */
	uint8_t tree;		/* TRANSMIT: PGR_PRIMARY or PGR_BACKUP, else PGR_FWD_NO_TREE */
	uint32_t ifindex;	/* DELIVER, TRANSMIT */
	uint32_t ev_vdc, ev_ip, ev_vm_id;	/* the event's (vdc, ip) and asking VM */
	uint32_t pair_src, pair_dst;	/* traffic-matrix pair (primary IDs) ... */
	uint8_t count;		/* ... to count when nonzero */
};

_Static_assert(PGR_STAT_COUNT < 256, "a verdict fits in pgr_fwd.stat");

/* ---- the three lookups ---------------------------------------------------- */
#ifdef __bpf__
struct pgr_fwd_tables;	/* the maps of bpf/dp.h: nothing to pass */

WIRE_INLINE const struct pgr_garp_entry *pgr_fwd_garp(const struct pgr_fwd_tables *t,
						      const struct pgr_garp_key *k)
{
	(void)t;
	return bpf_map_lookup_elem(&pgr_garp, k);
}

WIRE_INLINE const struct pgr_vm *pgr_fwd_vm(const struct pgr_fwd_tables *t, uint32_t id)
{
	(void)t;
	return bpf_map_lookup_elem(&pgr_vms, &id);
}

WIRE_INLINE const struct pgr_vm *pgr_fwd_port(const struct pgr_fwd_tables *t, uint32_t ifindex)
{
	(void)t;
	return bpf_map_lookup_elem(&pgr_ports, &ifindex);
}

WIRE_INLINE const struct pgr_vip_src *pgr_fwd_vip_src(const struct pgr_fwd_tables *t,
						      const struct pgr_vip_src_key *k)
{
	(void)t;
	return bpf_map_lookup_elem(&pgr_vip_src, k);
}

WIRE_INLINE const struct pgr_mcast_entry *pgr_fwd_mcast(const struct pgr_fwd_tables *t,
							const struct pgr_mcast_key *k)
{
	(void)t;
	return bpf_map_lookup_elem(&pgr_mcast, k);
}
#else
#include "bpf/fwd_tables.h"
#endif

/* ---- helpers ---------------------------------------------------------------- */

WIRE_INLINE struct pgr_fwd pgr_fwd_verdict(enum pgr_fwd_act act, enum pgr_stat s,
					   uint32_t ifindex)
{
	struct pgr_fwd f = { .act = (uint8_t)act, .stat = (uint8_t)s, .tree = PGR_FWD_NO_TREE,
			     .ifindex = ifindex };

	return f;
}

WIRE_INLINE struct pgr_fwd pgr_fwd_drop(enum pgr_stat s)
{
	return pgr_fwd_verdict(PGR_FWD_DROP, s, 0);
}

WIRE_INLINE struct pgr_fwd pgr_fwd_event(struct pgr_fwd f, enum pgr_event_type type,
					 const struct pgr_vm *vm, uint32_t ip)
{
	f.event = (uint8_t)type;
	f.ev_vdc = vm->vdc;
	f.ev_ip = ip;
	f.ev_vm_id = vm->id;
	return f;
}

/* (VDC, IP), falling back to the shared service range (VDC 0). */
WIRE_INLINE const struct pgr_garp_entry *pgr_fwd_garp_lookup(const struct pgr_fwd_tables *t,
							     uint32_t vdc, uint32_t ip)
{
	struct pgr_garp_key k = { .vdc = vdc, .ip = ip };
	const struct pgr_garp_entry *g = pgr_fwd_garp(t, &k);

	if (g || vdc == PGR_VDC_SERVICE)
		return g;
	k.vdc = PGR_VDC_SERVICE;
	return pgr_fwd_garp(t, &k);
}

#include "bpf/dhcp.h"
#include "wire/ipv6.h"
#include "bpf/mcast.h"

/* ---- from a VM ---------------------------------------------------------------- */

WIRE_INLINE struct pgr_fwd pgr_fwd_vm_arp(const struct pgr_fwd_tables *t, struct wire_eth *e,
					  void *end, const struct pgr_vm *vm, uint32_t ifindex)
{
	struct wire_arp *a = (void *)(e + 1);
	const struct pgr_garp_entry *g;
	uint32_t tpa;

	if ((void *)(a + 1) > end)
		return pgr_fwd_drop(PGR_STAT_VM_DROP_SHORT);
	tpa = wire_ip_get(a->tpa);
	if (!wire_arp_is_eth_ipv4(a) || a->op != WIRE_HTONS(WIRE_ARP_REQUEST) ||
	    !wire_mac_eq(e->src, vm->mac) || !wire_mac_eq(a->sha, vm->mac) ||
	    wire_ip_get(a->spa) != vm->ip || tpa == vm->ip)
		return pgr_fwd_drop(PGR_STAT_VM_DROP_ARP_BAD);
	g = pgr_fwd_garp_lookup(t, vm->vdc, tpa);
	if (!g)
		return pgr_fwd_event(pgr_fwd_drop(PGR_STAT_VM_ARP_MISS), PGR_EV_ARP_MISS, vm, tpa);
	wire_arp_reply_in_place(e, a, g->vm_mac[PGR_PRIMARY]);
	return pgr_fwd_verdict(PGR_FWD_DELIVER, PGR_STAT_VM_ARP_REPLY, ifindex);
}

/* An IPv4 miss: hold the frame for the agent unless it is longer than a full
 * frame (GSO: the plain event only) or a held frame that came back and
 * missed again (dropped, no event). */
WIRE_INLINE struct pgr_fwd pgr_fwd_miss(const struct pgr_vm *vm, uint32_t ip, uint32_t len,
					bool resent)
{
	if (resent)
		return pgr_fwd_drop(PGR_STAT_VM_DROP_RESEND_MISS);
	if (len < sizeof(struct wire_eth) || len > PGR_DP_HOLD_FRAME)
		return pgr_fwd_event(pgr_fwd_drop(PGR_STAT_VM_DROP_NO_GARP), PGR_EV_IP_MISS, vm, ip);
	return pgr_fwd_event(pgr_fwd_verdict(PGR_FWD_HOLD, PGR_STAT_VM_MISS_HELD, 0),
			     PGR_EV_IP_MISS, vm, ip);
}

WIRE_INLINE struct pgr_fwd pgr_fwd_local(const struct pgr_fwd_tables *t, struct wire_eth *e,
					 const struct pgr_garp_entry *g)
{
	const struct pgr_vm *dvm = pgr_fwd_vm(t, pgr_mac_id(g->vm_mac[PGR_PRIMARY]));

	if (!dvm)
		return pgr_fwd_drop(PGR_STAT_VM_DROP_LOCAL_MISS);
	wire_mac_copy(e->dst, dvm->mac);
	return pgr_fwd_verdict(PGR_FWD_DELIVER, PGR_STAT_VM_LOCAL, dvm->ifindex);
}

/* Direct or indirect, primary or backup by availability, out of the NIC that
 * the chosen tree uses. */
WIRE_INLINE struct pgr_fwd pgr_fwd_send(struct wire_eth *e, const struct pgr_garp_entry *g)
{
	bool direct = g->flags & PGR_GARP_DIRECT;
	uint8_t pri = direct ? PGR_AVAIL_VM_PRI : PGR_AVAIL_IM_PRI;
	uint8_t bak = direct ? PGR_AVAIL_VM_BAK : PGR_AVAIL_IM_BAK;
	struct pgr_fwd f;
	int tree;

	if (g->avail & pri)
		tree = PGR_PRIMARY;
	else if (g->avail & bak)
		tree = PGR_BACKUP;
	else
		return pgr_fwd_drop(PGR_STAT_VM_DROP_NO_ROUTE);
	if (direct) {
		wire_mac_copy(e->dst, g->vm_mac[tree]);
		f = pgr_fwd_verdict(PGR_FWD_TRANSMIT, PGR_STAT_VM_DIRECT, g->egress_ifindex[tree]);
	} else {
		if (pgr_encap(e, g->im_mac[tree], g->vm_mac[tree]))
			return pgr_fwd_drop(PGR_STAT_VM_DROP_BAD_ENTRY);
		f = pgr_fwd_verdict(PGR_FWD_TRANSMIT, PGR_STAT_VM_INDIRECT, g->egress_ifindex[tree]);
	}
	f.tree = (uint8_t)tree;
	return f;
}

/* A VM's IPv4 frame from an address not its own: allowed only from a VIP of
 * its VCs (bpf/dp.h, struct pgr_vip_src), and then only to the Internet
 * edge. */
WIRE_INLINE struct pgr_fwd pgr_fwd_vm_vip(const struct pgr_fwd_tables *t, struct wire_eth *e,
					  const struct pgr_vm *vm, uint32_t saddr)
{
	struct pgr_vip_src_key k = { .ifindex = vm->ifindex, .vip = saddr };
	const struct pgr_vip_src *v = pgr_fwd_vip_src(t, &k);
	struct pgr_fwd f;
	int tree;

	if (!v || v->vdc != vm->vdc)
		return pgr_fwd_drop(PGR_STAT_VM_DROP_SRC_IP);
	if (!wire_mac_eq(e->dst, v->edge_mac[PGR_PRIMARY]) &&
	    !wire_mac_eq(e->dst, v->edge_mac[PGR_BACKUP]))
		return pgr_fwd_drop(PGR_STAT_VM_DROP_VIP_DST);
	if (v->avail & PGR_VIP_SRC_PRI)
		tree = PGR_PRIMARY;
	else if (v->avail & PGR_VIP_SRC_BAK)
		tree = PGR_BACKUP;
	else
		return pgr_fwd_drop(PGR_STAT_VM_DROP_NO_ROUTE);
	if (wire_mac_is_zero(v->im_mac[tree]))
		wire_mac_copy(e->dst, v->edge_mac[tree]);
	else if (pgr_encap(e, v->im_mac[tree], v->edge_mac[tree]))	/* to a leg VM */
		return pgr_fwd_drop(PGR_STAT_VM_DROP_BAD_ENTRY);
	f = pgr_fwd_verdict(PGR_FWD_TRANSMIT, PGR_STAT_VM_VIP_OUT, v->egress_ifindex[tree]);
	f.tree = (uint8_t)tree;
	return f;
}

WIRE_INLINE struct pgr_fwd pgr_fwd_vm_ipv4(const struct pgr_fwd_tables *t, struct wire_eth *e,
					   void *end, uint32_t len, const struct pgr_vm *vm,
					   bool resent)
{
	struct wire_ipv4 *ip = (void *)(e + 1);
	const struct pgr_garp_entry *g;
	struct pgr_fwd f;

	if ((void *)(ip + 1) > end)
		return pgr_fwd_drop(PGR_STAT_VM_DROP_SHORT);
	if (!wire_ipv4_hlen(ip))
		return pgr_fwd_drop(PGR_STAT_VM_DROP_IP_BAD);
	if (pgr_dhcp_is_client(ip, wire_ipv4_hlen(ip), end))	/* bpf/dhcp.h */
		return pgr_fwd_dhcp(vm, ip, len, resent);
	if (ip->proto == PGR_IPPROTO_IGMP)			/* bpf/mcast.h */
		return pgr_fwd_mcast_report(vm, len, resent);
	if (pgr_ipv4_is_group(ip->daddr))			/* bpf/mcast.h */
		return pgr_fwd_vm_group(t, e, ip, vm, resent);
	if (wire_mac_is_group(e->dst))
		return pgr_fwd_drop(PGR_STAT_VM_DROP_GROUP);
	if (!wire_mac_eq(e->src, vm->mac))
		return pgr_fwd_drop(PGR_STAT_VM_DROP_SRC_MAC);
	if (ip->saddr != vm->ip && !(vm->flags & PGR_VM_ROUTER))
		return pgr_fwd_vm_vip(t, e, vm, ip->saddr);
	g = pgr_fwd_garp_lookup(t, vm->vdc, ip->daddr);
	if (!g)
		return pgr_fwd_miss(vm, ip->daddr, len, resent);
	if (!wire_mac_eq(e->dst, g->vm_mac[PGR_PRIMARY]) &&
	    !wire_mac_eq(e->dst, g->vm_mac[PGR_BACKUP]))
		return pgr_fwd_drop(PGR_STAT_VM_DROP_DST_MAC);
	f = (g->flags & PGR_GARP_LOCAL) ? pgr_fwd_local(t, e, g) : pgr_fwd_send(e, g);
	/* the pair is counted once past the isolation checks, even if the
	 * entry then turns out unusable */
	f.count = 1;
	f.pair_src = vm->id;
	f.pair_dst = pgr_mac_id(g->vm_mac[PGR_PRIMARY]);
	return f;
}

#include "bpf/fwd6.h"

/* A frame a VM sent on port ifindex: data .. end its linear bytes, len its
 * full length; resent: a held frame the agent sent back (PGR_MARK_RESEND). */
WIRE_INLINE struct pgr_fwd pgr_fwd_from_vm(const struct pgr_fwd_tables *t, void *data, void *end,
					   uint32_t len, uint32_t ifindex, bool resent)
{
	struct wire_eth *e = data;
	const struct pgr_vm *vm;

	if ((void *)(e + 1) > end)
		return pgr_fwd_drop(PGR_STAT_VM_DROP_SHORT);
	vm = pgr_fwd_port(t, ifindex);
	if (!vm)
		return pgr_fwd_drop(PGR_STAT_VM_DROP_NO_PORT);
	if (e->type == WIRE_HTONS(WIRE_ETH_P_IPV4))
		return pgr_fwd_vm_ipv4(t, e, end, len, vm, resent);
	if (e->type == WIRE_HTONS(WIRE_ETH_P_IPV6))	/* bpf/fwd6.h */
		return pgr_fwd_vm_ipv6(t, e, end, len, vm, ifindex, resent);
	if (resent)	/* the agent sends back IPv4 and Neighbour Solicitations only */
		return pgr_fwd_drop(PGR_STAT_VM_DROP_ETHERTYPE);
	if (e->type == WIRE_HTONS(WIRE_ETH_P_ARP))
		return pgr_fwd_vm_arp(t, e, end, vm, ifindex);
	if (wire_mac_is_group(e->dst))
		return pgr_fwd_drop(PGR_STAT_VM_DROP_GROUP);
	return pgr_fwd_drop(PGR_STAT_VM_DROP_ETHERTYPE);
}

/* ---- from the fabric ---------------------------------------------------------- */

WIRE_INLINE struct pgr_fwd pgr_fwd_foreign(const struct pgr_config *cfg, enum pgr_stat drop)
{
	if (cfg->flags & PGR_CFG_PASS_FOREIGN)
		return pgr_fwd_verdict(PGR_FWD_PASS, PGR_STAT_NET_PASS, 0);
	return pgr_fwd_drop(drop);
}

WIRE_INLINE struct pgr_fwd pgr_fwd_decap(const struct pgr_fwd_tables *t, struct wire_eth *e,
					 void *end)
{
	const struct wire_ipv4 *ip = (const void *)(e + 1);
	const struct pgr_vm *vm;

	if (pgr_src_kind(e->src) != PGR_SRC_ENCAP)
		return pgr_fwd_drop(PGR_STAT_NET_DROP_BAD_ENCAP);
	vm = pgr_fwd_vm(t, pgr_encap_dst_id(e));
	if (!vm)
		return pgr_fwd_drop(PGR_STAT_NET_DROP_NO_VM);
	if (e->type == WIRE_HTONS(WIRE_ETH_P_IPV4) && (const void *)(ip + 1) <= end &&
	    pgr_ipv4_is_group(ip->daddr))			/* a replica: bpf/mcast.h */
		return pgr_fwd_net_group(t, e, vm, ip->daddr);
	pgr_decap(e);
	wire_mac_copy(e->dst, vm->mac);
	return pgr_fwd_verdict(PGR_FWD_DELIVER, PGR_STAT_NET_DECAP, vm->ifindex);
}

/* A frame the fabric delivered to a NIC of the server cfg describes. */
WIRE_INLINE struct pgr_fwd pgr_fwd_from_net(const struct pgr_fwd_tables *t,
					    const struct pgr_config *cfg, void *data, void *end)
{
	struct wire_eth *e = data;
	const struct pgr_vm *vm;

	if ((void *)(e + 1) > end)
		return pgr_fwd_drop(PGR_STAT_NET_DROP_SHORT);
	if (wire_mac_is_group(e->dst))
		return pgr_fwd_foreign(cfg, PGR_STAT_NET_DROP_GROUP);
	if (wire_mac_eq(e->dst, cfg->server_mac[PGR_PRIMARY]) ||
	    wire_mac_eq(e->dst, cfg->server_mac[PGR_BACKUP]))
		return pgr_fwd_decap(t, e, end);
	if (!pgr_is_prefix(e->dst))
		return pgr_fwd_foreign(cfg, PGR_STAT_NET_DROP_FOREIGN);
	vm = pgr_fwd_vm(t, pgr_mac_id(e->dst));
	if (!vm)
		return pgr_fwd_foreign(cfg, PGR_STAT_NET_DROP_FOREIGN);
	if (pgr_src_kind(e->src) != PGR_SRC_PLAIN)
		return pgr_fwd_drop(PGR_STAT_NET_DROP_BAD_SRC);
	wire_mac_copy(e->dst, vm->mac);
	return pgr_fwd_verdict(PGR_FWD_DELIVER, PGR_STAT_NET_DIRECT, vm->ifindex);
}

#endif
