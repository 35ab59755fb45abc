/* IPv6 from a VM: the forwarding decision's IPv6 path, included by
 * bpf/fwd.h after its helpers (docs/tenant-network.md, "IPv6").
 *
 * IPv6 is forwarded exactly as IPv4: the same checks (the VM's source MAC,
 * the destination's entry for the VM's VDC, the destination MAC one of that
 * entry's VM MACs), the same entry (struct pgr_garp_entry, from the GARP6
 * map keyed by (VDC, IPv6 address)), the same local, direct or indirect
 * send with the same encapsulation: no bytes added.
 *
 * The VM's own addresses are those that carry its interface identifier
 * (modified EUI-64 of its MAC, what SLAAC gives it): a VM cannot send from
 * another VM's address, since no two VMs share a MAC.  The prefix is not
 * checked here: an address under another prefix finds no entry in the
 * VM's VDC, so nothing can answer it.
 *
 * Neighbour Solicitations are answered in place from the GARP6 map as ARP
 * requests are from the GARP map: the NS (with its source link-layer
 * option, as Linux sends it) becomes the NA (with the target link-layer
 * option: the destination's primary VM MAC); same length, checksum
 * recomputed.  A duplicate address detection probe (source ::) is left
 * unanswered: the address is the VM's.  A miss goes to the agent with its
 * frame (event PGR_EV_ND_MISS, like a DHCP message): the agent asks the
 * directory for (VDC, target), writes GARP6 and sends the NS back through
 * from_vm, which then answers it.
 *
 * A Router Solicitation (hop limit 255, code 0, from :: or the VM's own
 * address) goes to the agent with its frame (event PGR_EV_RS), which
 * answers at once with the VM's router advertisement, within a per-VM
 * rate (agent/agent6.h, AGENT6_RS_*). */
#ifndef PEREGRINE_BPF_FWD6_H
#define PEREGRINE_BPF_FWD6_H

#include "wire/ipv6.h"

#ifdef __bpf__
WIRE_INLINE const struct pgr_garp_entry *pgr_fwd_garp6(const struct pgr_fwd_tables *t,
						       const struct pgr_garp6_key *k)
{
	(void)t;
	return bpf_map_lookup_elem(&pgr_garp6, k);
}
#endif

WIRE_INLINE const struct pgr_garp_entry *pgr_fwd_garp6_lookup(const struct pgr_fwd_tables *t,
							      uint32_t vdc, const uint8_t *ip)
{
	struct pgr_garp6_key k = { .vdc = vdc };

	wire_ipv6_copy(k.ip, ip);
	return pgr_fwd_garp6(t, &k);
}

/* A Neighbour Solicitation from the VM (ICMPv6 type 135 seen by the caller). */
WIRE_INLINE struct pgr_fwd pgr_fwd_vm_ns(const struct pgr_fwd_tables *t, struct wire_eth *e,
					 struct wire_ipv6 *ip, void *end, uint32_t len,
					 const struct pgr_vm *vm, uint32_t ifindex, bool resent)
{
	struct wire_nd *nd = (void *)(ip + 1);
	const struct pgr_garp_entry *g;

	if ((void *)(nd + 1) > end) {
		if ((void *)((uint8_t *)nd + WIRE_ND_NS_LEN) <= end &&
		    wire_ipv6_is_unspecified(ip->saddr))
			return pgr_fwd_drop(PGR_STAT_VM_ND_DAD);	/* no option: DAD */
		return pgr_fwd_drop(PGR_STAT_VM_DROP_ND_BAD);
	}
	if (wire_ipv6_is_unspecified(ip->saddr))
		return pgr_fwd_drop(PGR_STAT_VM_ND_DAD);
	if (ip->hop_limit != 255 || nd->code != 0 || ip->plen != WIRE_HTONS(sizeof(*nd)) ||
	    nd->opt_type != WIRE_ND_OPT_SLLA || nd->opt_len != 1 ||
	    !wire_mac_eq(nd->opt_mac, vm->mac) || !wire_ipv6_iid_is(ip->saddr, vm->mac) ||
	    wire_ipv6_is_multicast(nd->target))
		return pgr_fwd_drop(PGR_STAT_VM_DROP_ND_BAD);
	g = pgr_fwd_garp6_lookup(t, vm->vdc, nd->target);
	if (!g) {
		if (resent)	/* the agent sent it back and GARP6 still misses */
			return pgr_fwd_drop(PGR_STAT_VM_DROP_RESEND_MISS);
		if (len > PGR_DP_HOLD_FRAME)	/* too long to hold: the VM asks again */
			return pgr_fwd_drop(PGR_STAT_VM_ND_MISS);
		return pgr_fwd_event(pgr_fwd_verdict(PGR_FWD_HOLD, PGR_STAT_VM_ND_MISS, 0),
				     PGR_EV_ND_MISS, vm, 0);
	}
	/* the NS becomes the NA, to the VM from the target */
	wire_mac_copy(e->dst, e->src);
	wire_mac_copy(e->src, g->vm_mac[PGR_PRIMARY]);
	wire_ipv6_copy(ip->daddr, ip->saddr);
	wire_ipv6_copy(ip->saddr, nd->target);
	nd->type = WIRE_ND_NA;
	nd->flags = WIRE_HTONL(WIRE_ND_NA_SOLICITED | WIRE_ND_NA_OVERRIDE);
	nd->opt_type = WIRE_ND_OPT_TLLA;
	wire_mac_copy(nd->opt_mac, g->vm_mac[PGR_PRIMARY]);
	nd->csum = wire_nd_csum(ip, nd);
	return pgr_fwd_verdict(PGR_FWD_DELIVER, PGR_STAT_VM_ND_REPLY, ifindex);
}

/* A Router Solicitation from the VM (ICMPv6 type 133 seen by the caller). */
WIRE_INLINE struct pgr_fwd pgr_fwd_vm_rs(const struct wire_ipv6 *ip, void *end, uint32_t len,
					 const struct pgr_vm *vm, bool resent)
{
	const uint8_t *rs = (const uint8_t *)(ip + 1);

	if ((const void *)(rs + 8) > end || ip->hop_limit != 255 || rs[1] != 0 || resent ||
	    len > PGR_DP_HOLD_FRAME ||
	    !(wire_ipv6_is_unspecified(ip->saddr) || wire_ipv6_iid_is(ip->saddr, vm->mac)))
		return pgr_fwd_drop(PGR_STAT_VM_DROP_RS);
	return pgr_fwd_event(pgr_fwd_verdict(PGR_FWD_HOLD, PGR_STAT_VM_RS, 0), PGR_EV_RS, vm, 0);
}

WIRE_INLINE struct pgr_fwd pgr_fwd_vm_ipv6(const struct pgr_fwd_tables *t, struct wire_eth *e,
					   void *end, uint32_t len, const struct pgr_vm *vm,
					   uint32_t ifindex, bool resent)
{
	struct wire_ipv6 *ip = (void *)(e + 1);
	const struct pgr_garp_entry *g;
	struct pgr_fwd f;

	if ((void *)(ip + 1) > end)
		return pgr_fwd_drop(PGR_STAT_VM_DROP_SHORT);
	if (wire_ipv6_version(ip) != 6)
		return pgr_fwd_drop(PGR_STAT_VM_DROP_IPV6);
	if (!wire_mac_eq(e->src, vm->mac))
		return pgr_fwd_drop(PGR_STAT_VM_DROP_SRC_MAC);
	if (ip->next == WIRE_IPPROTO_ICMPV6 && (void *)((uint8_t *)(ip + 1) + 1) <= end &&
	    *(uint8_t *)(ip + 1) == WIRE_ND_NS)
		return pgr_fwd_vm_ns(t, e, ip, end, len, vm, ifindex, resent);
	if (ip->next == WIRE_IPPROTO_ICMPV6 && (void *)((uint8_t *)(ip + 1) + 1) <= end &&
	    *(uint8_t *)(ip + 1) == WIRE_ND_RS)
		return pgr_fwd_vm_rs(ip, end, len, vm, resent);
	if (pgr_mcast_is_mld(ip, end))				/* bpf/mcast.h */
		return pgr_fwd_mcast_report(vm, len, resent);
	if (resent)	/* the agent sends back IPv4 and Neighbour Solicitations only */
		return pgr_fwd_drop(PGR_STAT_VM_DROP_ETHERTYPE);
	if (wire_mac_is_group(e->dst) || wire_ipv6_is_multicast(ip->daddr))
		return pgr_fwd_drop(PGR_STAT_VM_DROP_GROUP);
	if (!wire_ipv6_iid_is(ip->saddr, vm->mac))
		return pgr_fwd_drop(PGR_STAT_VM_DROP_SRC_IP6);
	g = pgr_fwd_garp6_lookup(t, vm->vdc, ip->daddr);
	if (!g)
		return pgr_fwd_drop(PGR_STAT_VM_DROP_NO_GARP6);
	if (!wire_mac_eq(e->dst, g->vm_mac[PGR_PRIMARY]) &&
	    !wire_mac_eq(e->dst, g->vm_mac[PGR_BACKUP]))
		return pgr_fwd_drop(PGR_STAT_VM_DROP_DST_MAC);
	f = (g->flags & PGR_GARP_LOCAL) ? pgr_fwd_local(t, e, g) : pgr_fwd_send(e, g);
	f.count = 1;	/* as for IPv4: past the isolation checks */
	f.pair_src = vm->id;
	f.pair_dst = pgr_mac_id(g->vm_mac[PGR_PRIMARY]);
	return f;
}

#endif
