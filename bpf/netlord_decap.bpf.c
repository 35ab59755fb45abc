/* NetLord agent: tc ingress on the server's NIC.
 *
 * What the edge switch delivers to this server (bpf/netlord.h): Ethernet to
 * the NIC's MAC, IPv4 protocol 143 to P.T with P this server's port, and
 * the tenant's frame.  The outer headers come off and the frame goes to the
 * VM that tenant T has with the inner destination MAC (nl_vms): the tenant
 * id and the VM MAC together name the VM, so tenants may reuse MACs and
 * addresses.  Anything else passes to the kernel as it is. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bpf/netlord.h"

char LICENSE[] SEC("license") = "GPL";

const volatile struct nl_config nl_cfg = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NL_PORTS_MAX);
	__type(key, struct nl_vm_key);
	__type(value, uint32_t);	/* the VM port's ifindex */
} nl_vms SEC(".maps");

SEC("tc")
int netlord_decap(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct wire_eth *e = data, *in, saved;
	struct wire_ipv4 *ip;
	struct nl_vm_key key = {};
	const uint32_t *vm;
	uint8_t nic[6];
	uint32_t ifindex;

	if ((void *)(e + 1) > end)
		NL_DROP(DEC_DROP_SHORT);
	nl_mac_from_cfg(nic, nl_cfg.nic_mac);
	if (skb->vlan_present || e->type != WIRE_HTONS(WIRE_ETH_P_IPV4) ||
	    !wire_mac_eq(e->dst, nic))
		return nl_verdict(skb, NL_STAT_DEC_PASS, TC_ACT_OK);
	ip = (void *)(e + 1);
	if ((void *)(ip + 1) > end)
		NL_DROP(DEC_DROP_SHORT);
	if (ip->proto != NL_IPPROTO || NL_ADDR_PORT(ip->daddr) != nl_cfg.port)
		return nl_verdict(skb, NL_STAT_DEC_PASS, TC_ACT_OK);
	if (!nl_ipv4_ok(skb, ip, sizeof(*e)))
		NL_DROP(DEC_DROP_BAD_IP);
	in = (void *)(ip + 1);
	if ((void *)(in + 1) > end)
		NL_DROP(DEC_DROP_SHORT);
	key.tenant = NL_ADDR_TENANT(ip->daddr);
	__builtin_memcpy(key.mac, in->dst, 6);
	vm = bpf_map_lookup_elem(&nl_vms, &key);
	if (!vm)
		NL_DROP(DEC_DROP_NO_VM);
	ifindex = *vm;
	__builtin_memcpy(&saved, in, sizeof(saved));
	/* [outer eth][IPv4][inner eth][...] -> [outer eth][...], then the
	 * inner Ethernet header over the outer one */
	if (bpf_skb_adjust_room(skb, -(int32_t)(WIRE_IPV4_HLEN + WIRE_ETH_HLEN),
				BPF_ADJ_ROOM_MAC, 0))
		NL_DROP(DEC_DROP_ROOM);
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	e = data;
	if ((void *)(e + 1) > end)
		NL_DROP(DEC_DROP_ROOM);
	__builtin_memcpy(e, &saved, sizeof(saved));
	return nl_verdict(skb, NL_STAT_DEC_DELIVER, (int)bpf_redirect(ifindex, 0));
}
