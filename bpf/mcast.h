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

#endif
