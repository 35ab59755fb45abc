/* VL2: tc ingress on a VM's port (the server end of its veth).
 *
 * ARP requests are answered from the directory cache (vl2_aa) with the
 * gateway MAC: the VM's frames all come here.  An IPv4 packet from the VM's
 * own AA to an AA of its tenant that the cache knows is encapsulated twice,
 * IP-in-IP, from the server's LA to the intermediates' anycast address and
 * inside that to the destination's ToR LA, and sent out of the NIC through
 * the kernel's FIB and neighbour table (bpf_redirect_neigh).  The switches
 * hash the innermost 5-tuple, so each flow takes its own intermediate
 * (docs/vl2.md).  Every verdict is counted (vl2_stats). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bpf/vl2.h"
#include "wire/arp.h"
#include "wire/eth.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline int arp(struct __sk_buff *skb, struct wire_eth *e, void *end,
			       const struct vl2_port *port)
{
	struct wire_arp *a = (void *)(e + 1);
	struct vl2_aa_key key;
	uint8_t gw[6];

	if ((void *)(a + 1) > end)
		VL2_DROP(ENC_DROP_SHORT);
	if (!wire_arp_is_eth_ipv4(a) || wire_arp_op(a) != WIRE_ARP_REQUEST)
		VL2_DROP(ENC_ARP_MISS);
	key.vdc = port->vdc;
	key.aa = wire_ip_get(a->tpa);
	if (!bpf_map_lookup_elem(&vl2_aa, &key)) {
		vl2_miss(key.vdc, key.aa);
		VL2_DROP(ENC_ARP_MISS);
	}
	/* byte by byte through the volatile: a memcpy from the read-only
	 * section would be folded to its zero initialiser */
#pragma unroll
	for (int i = 0; i < 6; i++)
		gw[i] = vl2_cfg.gw_mac[i];
	wire_arp_reply_in_place(e, a, gw);
	/* back out of the port it came in by: to the VM */
	return vl2_verdict(skb, VL2_STAT_ENC_ARP_REPLY, (int)bpf_redirect(skb->ifindex, 0));
}

static __always_inline void fill(struct wire_ipv4 *h, uint16_t tot, uint8_t tos,
				 uint32_t saddr, uint32_t daddr)
{
	uint16_t w0 = WIRE_HTONS(0x4500 | tos), len = WIRE_HTONS(tot);
	uint16_t frag = WIRE_HTONS(0x4000);	/* DF: the tenant MTU leaves room */
	uint16_t ttl_proto = WIRE_HTONS(VL2_TTL << 8 | VL2_IPPROTO_IPIP);

	h->ver_ihl = 0x45;
	h->tos = tos;
	h->tot_len = len;
	h->id = 0;
	h->frag = frag;
	h->ttl = VL2_TTL;
	h->proto = VL2_IPPROTO_IPIP;
	h->saddr = saddr;
	h->daddr = daddr;
	h->check = vl2_csum(w0, len, frag, ttl_proto, saddr, daddr);
}

SEC("tc")
int vl2_encap(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct wire_eth *e = data;
	struct wire_ipv4 *ip;
	const struct vl2_port *port;
	const struct vl2_aa_entry *ent;
	struct vl2_aa_key key;
	uint32_t ifindex = skb->ifindex, tor_la;
	uint16_t inner_len;
	uint8_t tos;

	if ((void *)(e + 1) > end)
		VL2_DROP(ENC_DROP_SHORT);
	port = bpf_map_lookup_elem(&vl2_ports, &ifindex);
	if (!port)
		VL2_DROP(ENC_DROP_NO_PORT);
	if (e->type == WIRE_HTONS(WIRE_ETH_P_ARP))
		return arp(skb, e, end, port);
	if (e->type != WIRE_HTONS(WIRE_ETH_P_IPV4))
		VL2_DROP(ENC_DROP_NOT_IP);
	ip = (void *)(e + 1);
	if ((void *)(ip + 1) > end)
		VL2_DROP(ENC_DROP_SHORT);
	if (!vl2_ipv4_ok(skb, ip, end, sizeof(*e)))
		VL2_DROP(ENC_DROP_BAD_IP);
	if (ip->saddr != port->aa)
		VL2_DROP(ENC_DROP_SPOOF);
	inner_len = WIRE_NTOHS(ip->tot_len);
	if (inner_len > VL2_TENANT_MTU)
		VL2_DROP(ENC_DROP_TOO_BIG);
	key.vdc = port->vdc;
	key.aa = ip->daddr;
	ent = bpf_map_lookup_elem(&vl2_aa, &key);
	if (!ent) {
		vl2_miss(key.vdc, key.aa);
		VL2_DROP(ENC_MISS);
	}
	tor_la = ent->tor_la;
	tos = ip->tos;
	if (bpf_skb_adjust_room(skb, VL2_HDR_BYTES, BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_ENCAP_L3_IPV4))
		VL2_DROP(ENC_DROP_ROOM);
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	ip = data + sizeof(struct wire_eth);
	if ((void *)(ip + 2) > end)
		VL2_DROP(ENC_DROP_ROOM);
	fill(&ip[0], inner_len + VL2_HDR_BYTES, tos, vl2_cfg.self_la, vl2_cfg.anycast);
	fill(&ip[1], inner_len + WIRE_IPV4_HLEN, tos, vl2_cfg.self_la, tor_la);
	return vl2_verdict(skb, VL2_STAT_ENC_SENT,
			   (int)bpf_redirect_neigh(vl2_cfg.nic_ifindex, NULL, 0, 0));
}
