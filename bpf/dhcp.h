/* DHCPv4 from a VM: the data plane's part (docs/tenant-network.md).
 *
 * A VM's DHCP client sends from 0.0.0.0 to the broadcast address (DISCOVER,
 * REQUEST while selecting, REBIND) or unicast to the server identifier
 * (RENEW, RELEASE).  Every IPv4 UDP datagram from a VM to port 67 goes to the
 * host agent, whatever its addresses, before the source and destination
 * checks of the IPv4 path: it never leaves the server.  The frame travels
 * like a held frame (the ring record of an event followed by the frame); the
 * agent parses the message, answers it from the VM's configuration and sends
 * the reply into the VM's port.  Parsing DHCP's options takes a loop over up
 * to 1,232 bytes, and building a reply is a few hundred bytes of writes: far
 * simpler and easier to test in user space, and DHCP is a few messages per VM
 * per lease.  Included by bpf/fwd.h, after its helpers. */
#ifndef PEREGRINE_BPF_DHCP_H
#define PEREGRINE_BPF_DHCP_H

#define PGR_DHCP_SERVER_PORT 67

/* IPv4 (header checked by the caller: hlen its length) UDP to port 67, not a
 * later fragment. */
WIRE_INLINE bool pgr_dhcp_is_client(const struct wire_ipv4 *ip, uint32_t hlen, void *end)
{
	const uint8_t *udp = (const uint8_t *)ip + (hlen & 0x3c);

	if (ip->proto != WIRE_IPPROTO_UDP || (ip->frag & WIRE_HTONS(0x1fff)))
		return false;
	if ((const void *)(udp + 8) > end)
		return false;
	return udp[2] == 0 && udp[3] == PGR_DHCP_SERVER_PORT;
}

/* To the agent with the frame (PGR_FWD_HOLD, event PGR_EV_DHCP), unless it
 * is longer than a full frame or came back from the agent (never: the
 * agent sends back only held IPv4 misses). */
WIRE_INLINE struct pgr_fwd pgr_fwd_dhcp(const struct pgr_vm *vm, const struct wire_ipv4 *ip,
					uint32_t len, bool resent)
{
	if (resent || len > PGR_DP_HOLD_FRAME)
		return pgr_fwd_drop(PGR_STAT_VM_DROP_DHCP);
	return pgr_fwd_event(pgr_fwd_verdict(PGR_FWD_HOLD, PGR_STAT_VM_DHCP, 0), PGR_EV_DHCP,
			     vm, ip->saddr);
}

#endif
