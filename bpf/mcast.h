/* IGMP and MLD from a VM: the data plane's part (docs/multicast.md).
 *
 * A VM's group memberships are the agent's business (agent/mcast.c parses
 * the reports, the directory holds the members): every IPv4 datagram with
 * protocol IGMP and every MLD message (ICMPv6 130 to 132 and 143, after the
 * 8-byte hop-by-hop header with the router alert that MLD carries, or
 * directly) goes to the agent with its frame, as a DHCP message does, before
 * the group-destination drop: it never leaves the server.  Reports are a few
 * per group per minute; the agent limits their rate.  Included by
 * bpf/fwd.h, after its helpers. */
#ifndef PEREGRINE_BPF_MCAST_H
#define PEREGRINE_BPF_MCAST_H

#define PGR_IPPROTO_IGMP 2
#define PGR_IPPROTO_HOPOPTS 0

WIRE_INLINE bool pgr_mld_type(uint8_t type)
{
	return (type >= 130 && type <= 132) || type == 143;
}

/* An MLD message: ICMPv6 right after the IPv6 header, or after one 8-byte
 * hop-by-hop header (how every stack sends it). */
WIRE_INLINE bool pgr_mcast_is_mld(const struct wire_ipv6 *ip, void *end)
{
	const uint8_t *p = (const uint8_t *)(ip + 1);

	if (ip->next == WIRE_IPPROTO_ICMPV6)
		return (const void *)(p + 1) <= end && pgr_mld_type(p[0]);
	if (ip->next != PGR_IPPROTO_HOPOPTS || (const void *)(p + 9) > end)
		return false;
	return p[0] == WIRE_IPPROTO_ICMPV6 && p[1] == 0 && pgr_mld_type(p[8]);
}

/* To the agent with the frame (PGR_FWD_HOLD, event PGR_EV_MCAST), unless it
 * is longer than a full frame or came back from the agent (never). */
WIRE_INLINE struct pgr_fwd pgr_fwd_mcast_report(const struct pgr_vm *vm, uint32_t len, bool resent)
{
	if (resent || len > PGR_DP_HOLD_FRAME)
		return pgr_fwd_drop(PGR_STAT_VM_DROP_MCAST);
	return pgr_fwd_event(pgr_fwd_verdict(PGR_FWD_HOLD, PGR_STAT_VM_MCAST_REPORT, 0),
			     PGR_EV_MCAST, vm, 0);
}

/* ---- group data frames: replication at the source ------------------------- *
 *
 * An IPv4 datagram from a VM to a group (224.0.0.0/4) or to the broadcast
 * 255.255.255.255 is checked as any frame from the VM (its own MAC and
 * address) and then addressed to the group's Ethernet address (01:00:5e +
 * 23 bits, ff:ff:ff:ff:ff:ff): anything else is a frame crafted to reach
 * somewhere else.  The decision is PGR_FWD_REPLICATE with (VDC, group) in
 * ev_vdc, ev_ip; the program then sends the copies (pgr_mcast of bpf/dp.h):
 * one encapsulated copy to each member server, a plain one to each local
 * member.  An unknown group is dropped with a miss event (the agent asks the
 * directory's MEMBERS); a known one with stale or no member servers is sent
 * and asks again.  On the receiving server a replica (encapsulated, its
 * DST_ID a local VM, which names the VDC) is delivered to the local members
 * of (that VDC, group), its destination MAC rebuilt from the group. */

WIRE_INLINE bool pgr_ipv4_is_group(uint32_t daddr)	/* network order */
{
	return (WIRE_HTONL(daddr) >> 28) == 0xe || daddr == 0xffffffffu;
}

/* The Ethernet destination of an IPv4 group, RFC 1112 6.4. */
WIRE_INLINE void pgr_group_mac(uint8_t *mac, uint32_t daddr)
{
	uint32_t h = WIRE_HTONL(daddr);

	if (daddr == 0xffffffffu) {
		for (int i = 0; i < 6; i++)
			mac[i] = 0xff;
		return;
	}
	mac[0] = 0x01;
	mac[1] = 0x00;
	mac[2] = 0x5e;
	mac[3] = (uint8_t)((h >> 16) & 0x7f);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

/* A VM's IPv4 frame to a group: ip is its header (checked to fit). */
WIRE_INLINE struct pgr_fwd pgr_fwd_vm_group(const struct pgr_fwd_tables *t, struct wire_eth *e,
					    const struct wire_ipv4 *ip, const struct pgr_vm *vm,
					    bool resent)
{
	struct pgr_mcast_key k = { .vdc = vm->vdc, .group = ip->daddr };
	const struct pgr_mcast_entry *m;
	uint8_t want[WIRE_MAC_LEN];
	struct pgr_fwd f;

	if (resent)		/* the agent holds no group frames */
		return pgr_fwd_drop(PGR_STAT_VM_DROP_RESEND_MISS);
	if (!wire_mac_eq(e->src, vm->mac))
		return pgr_fwd_drop(PGR_STAT_VM_DROP_SRC_MAC);
	if (ip->saddr != vm->ip)	/* a router or a VIP sends no groups */
		return pgr_fwd_drop(PGR_STAT_VM_DROP_SRC_IP);
	pgr_group_mac(want, ip->daddr);
	if (!wire_mac_eq(e->dst, want))
		return pgr_fwd_drop(PGR_STAT_VM_DROP_GROUP_MAC);
	m = pgr_fwd_mcast(t, &k);
	if (!m)
		return pgr_fwd_event(pgr_fwd_drop(PGR_STAT_VM_DROP_GROUP_NONE), PGR_EV_GROUP_MISS,
				     vm, ip->daddr);
	f = pgr_fwd_verdict(PGR_FWD_REPLICATE, PGR_STAT_VM_GROUP_SENT, vm->ifindex);
	if (m->flags & (PGR_MCAST_STALE | PGR_MCAST_NO_SERVERS))
		return pgr_fwd_event(f, PGR_EV_GROUP_MISS, vm, ip->daddr);
	f.ev_vdc = vm->vdc;
	f.ev_ip = ip->daddr;
	return f;
}

/* A replica from the fabric, for local VM vm (its DST_ID): to the local
 * members of (vm's VDC, group), decapsulated, the destination MAC the
 * group's. */
WIRE_INLINE struct pgr_fwd pgr_fwd_net_group(const struct pgr_fwd_tables *t, struct wire_eth *e,
					     const struct pgr_vm *vm, uint32_t daddr)
{
	struct pgr_mcast_key k = { .vdc = vm->vdc, .group = daddr };
	const struct pgr_mcast_entry *m = pgr_fwd_mcast(t, &k);
	struct pgr_fwd f;

	if (!m || !m->nlocal)
		return pgr_fwd_drop(PGR_STAT_NET_DROP_GROUP_NONE);
	pgr_decap(e);
	pgr_group_mac(e->dst, daddr);
	f = pgr_fwd_verdict(PGR_FWD_REPLICATE, PGR_STAT_NET_GROUP_LOCAL, 0);
	f.ev_vdc = vm->vdc;
	f.ev_ip = daddr;
	return f;
}

/* The token bucket of a VM's group frames: true if one may go at now_ns. */
WIRE_INLINE bool pgr_mcast_take(struct pgr_mcast_rate *r, uint64_t now_ns)
{
	const uint64_t step = 1000000000ull / PGR_MCAST_PER_S;	/* ns per token */

	if (now_ns > r->at_ns) {
		uint64_t add = (now_ns - r->at_ns) / step;

		if (add) {
			r->tokens = r->tokens + add > PGR_MCAST_BURST ? PGR_MCAST_BURST
								: r->tokens + add;
			r->at_ns = r->tokens == PGR_MCAST_BURST ? now_ns : r->at_ns + add * step;
		}
	}
	if (!r->tokens)
		return false;
	r->tokens--;
	return true;
}

#endif
