/* VL2: tc ingress on a switch's fabric ports.
 *
 * An IP-in-IP packet addressed to this switch (its LA, or on an
 * intermediate the anycast address) loses its outer header and goes on
 * into the kernel, which routes what was inside: at an intermediate the
 * packet to the destination's ToR, at the ToR the tenant's packet.
 * Everything else passes untouched.  The kernel of these machines has no
 * ipip devices, so this is the decapsulation (docs/vl2.md). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bpf/vl2.h"
#include "wire/eth.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int vl2_decap(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct wire_eth *e = data;
	struct wire_ipv4 *ip, *in;
	uint32_t hlen;

	if ((void *)(e + 1) > end)
		VL2_DROP(DEC_DROP_SHORT);
	if (e->type != WIRE_HTONS(WIRE_ETH_P_IPV4))
		return vl2_verdict(skb, VL2_STAT_DEC_PASS, TC_ACT_OK);
	ip = (void *)(e + 1);
	if ((void *)(ip + 1) > end)
		VL2_DROP(DEC_DROP_SHORT);
	if (ip->proto != VL2_IPPROTO_IPIP ||
	    (ip->daddr != vl2_cfg.self_la && (!vl2_cfg.anycast || ip->daddr != vl2_cfg.anycast)))
		return vl2_verdict(skb, VL2_STAT_DEC_PASS, TC_ACT_OK);
	if (!vl2_ipv4_ok(skb, ip, end, sizeof(*e)))
		VL2_DROP(DEC_DROP_BAD_IP);
	hlen = wire_ipv4_hlen(ip);
	if (hlen != WIRE_IPV4_HLEN)	/* VL2's agents send no options */
		VL2_DROP(DEC_DROP_BAD_IP);
	in = (void *)(ip + 1);
	if ((void *)(in + 1) > end)
		VL2_DROP(DEC_DROP_SHORT);
	if (!vl2_ipv4_ok(skb, in, end, sizeof(*e) + WIRE_IPV4_HLEN))
		VL2_DROP(DEC_DROP_BAD_INNER);
	if (bpf_skb_adjust_room(skb, -(int32_t)WIRE_IPV4_HLEN, BPF_ADJ_ROOM_MAC, 0))
		VL2_DROP(DEC_DROP_ROOM);
	return vl2_verdict(skb, VL2_STAT_DEC_DECAP, TC_ACT_OK);
}
