/* tc ingress on the server side of a VM's veth: everything a VM sends.
 *
 * ARP requests are answered from the GARP map; IPv4 is checked against the
 * VM's own addresses and the GARP entry of its destination (tenant
 * isolation), counted in the traffic matrix, then delivered locally or sent
 * direct or indirect through the NIC of the chosen tree.  Everything else is
 * dropped and counted.  docs/dataplane.md. */
#include "bpf/dp.bpf.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline struct pgr_garp_entry *garp_lookup(uint32_t vdc, uint32_t ip)
{
	struct pgr_garp_key k = { .vdc = vdc, .ip = ip };
	struct pgr_garp_entry *g = bpf_map_lookup_elem(&pgr_garp, &k);

	if (g || vdc == PGR_VDC_SERVICE)
		return g;
	k.vdc = PGR_VDC_SERVICE;
	return bpf_map_lookup_elem(&pgr_garp, &k);
}

static __always_inline void miss_event(struct __sk_buff *skb, uint32_t type,
				       const struct pgr_vm *vm, uint32_t ip)
{
	struct pgr_event ev = {
		.type = type, .vdc = vm->vdc, .ip = ip, .vm_id = vm->id,
		.ifindex = skb->ifindex,
	};

	if (bpf_ringbuf_output(&pgr_events, &ev, sizeof(ev), 0))
		pgr_count(skb, PGR_STAT_EVENT_LOST);
}

static __always_inline void count_pair(struct __sk_buff *skb, uint32_t src, uint32_t dst)
{
	struct pgr_pair k = { .src_id = src, .dst_id = dst };
	struct pgr_counter *c = bpf_map_lookup_elem(&pgr_traffic, &k);

	if (c) {
		c->packets++;
		c->bytes += skb->len;
	} else {
		struct pgr_counter n = { .packets = 1, .bytes = skb->len };

		bpf_map_update_elem(&pgr_traffic, &k, &n, BPF_NOEXIST);
	}
}

static __always_inline int from_vm_arp(struct __sk_buff *skb, struct wire_eth *e,
				       void *end, const struct pgr_vm *vm)
{
	struct wire_arp *a = (void *)(e + 1);
	struct pgr_garp_entry *g;
	uint32_t tpa;

	if ((void *)(a + 1) > end)
		PGR_DROP(VM_DROP_SHORT);
	tpa = wire_ip_get(a->tpa);
	if (!wire_arp_is_eth_ipv4(a) || a->op != WIRE_HTONS(WIRE_ARP_REQUEST) ||
	    !wire_mac_eq(e->src, vm->mac) || !wire_mac_eq(a->sha, vm->mac) ||
	    wire_ip_get(a->spa) != vm->ip || tpa == vm->ip)
		PGR_DROP(VM_DROP_ARP_BAD);
	g = garp_lookup(vm->vdc, tpa);
	if (!g) {
		miss_event(skb, PGR_EV_ARP_MISS, vm, tpa);
		return pgr_verdict(skb, PGR_STAT_VM_ARP_MISS, TC_ACT_SHOT);
	}
	wire_arp_reply_in_place(e, a, g->vm_mac[PGR_PRIMARY]);
	return pgr_verdict(skb, PGR_STAT_VM_ARP_REPLY, pgr_deliver(skb->ifindex));
}

static __always_inline int deliver_local(struct __sk_buff *skb, struct wire_eth *e,
					 const struct pgr_garp_entry *g)
{
	uint32_t id = pgr_mac_id(g->vm_mac[PGR_PRIMARY]);
	struct pgr_vm *dvm = bpf_map_lookup_elem(&pgr_vms, &id);

	if (!dvm)
		PGR_DROP(VM_DROP_LOCAL_MISS);
	wire_mac_copy(e->dst, dvm->mac);
	return pgr_verdict(skb, PGR_STAT_VM_LOCAL, pgr_deliver(dvm->ifindex));
}

/* Direct or indirect, primary or backup by availability, out of the NIC that
 * the chosen tree uses. */
static __always_inline int send_out(struct __sk_buff *skb, struct wire_eth *e,
				    const struct pgr_garp_entry *g)
{
	bool direct = g->flags & PGR_GARP_DIRECT;
	uint8_t pri = direct ? PGR_AVAIL_VM_PRI : PGR_AVAIL_IM_PRI;
	uint8_t bak = direct ? PGR_AVAIL_VM_BAK : PGR_AVAIL_IM_BAK;
	const uint8_t *vm_mac, *im_mac;
	uint32_t ifindex;

	if (g->avail & pri) {
		vm_mac = g->vm_mac[PGR_PRIMARY];
		im_mac = g->im_mac[PGR_PRIMARY];
		ifindex = g->egress_ifindex[PGR_PRIMARY];
	} else if (g->avail & bak) {
		vm_mac = g->vm_mac[PGR_BACKUP];
		im_mac = g->im_mac[PGR_BACKUP];
		ifindex = g->egress_ifindex[PGR_BACKUP];
	} else {
		PGR_DROP(VM_DROP_NO_ROUTE);
	}
	if (direct) {
		wire_mac_copy(e->dst, vm_mac);
		return pgr_verdict(skb, PGR_STAT_VM_DIRECT, pgr_transmit(ifindex));
	}
	if (pgr_encap(e, im_mac, vm_mac))
		PGR_DROP(VM_DROP_BAD_ENTRY);
	return pgr_verdict(skb, PGR_STAT_VM_INDIRECT, pgr_transmit(ifindex));
}

static __always_inline int from_vm_ipv4(struct __sk_buff *skb, struct wire_eth *e,
					void *end, const struct pgr_vm *vm)
{
	struct wire_ipv4 *ip = (void *)(e + 1);
	struct pgr_garp_entry *g;

	if ((void *)(ip + 1) > end)
		PGR_DROP(VM_DROP_SHORT);
	if (!wire_ipv4_hlen(ip))
		PGR_DROP(VM_DROP_IP_BAD);
	if (wire_mac_is_group(e->dst))
		PGR_DROP(VM_DROP_GROUP);
	if (!wire_mac_eq(e->src, vm->mac))
		PGR_DROP(VM_DROP_SRC_MAC);
	if (ip->saddr != vm->ip)
		PGR_DROP(VM_DROP_SRC_IP);
	g = garp_lookup(vm->vdc, ip->daddr);
	if (!g) {
		miss_event(skb, PGR_EV_IP_MISS, vm, ip->daddr);
		PGR_DROP(VM_DROP_NO_GARP);
	}
	if (!wire_mac_eq(e->dst, g->vm_mac[PGR_PRIMARY]) &&
	    !wire_mac_eq(e->dst, g->vm_mac[PGR_BACKUP]))
		PGR_DROP(VM_DROP_DST_MAC);
	count_pair(skb, vm->id, pgr_mac_id(g->vm_mac[PGR_PRIMARY]));
	if (g->flags & PGR_GARP_LOCAL)
		return deliver_local(skb, e, g);
	return send_out(skb, e, g);
}

SEC("tc")
int pgr_from_vm(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct wire_eth *e = data;
	uint32_t ifindex = skb->ifindex;
	struct pgr_vm *vm;

	if ((void *)(e + 1) > end)
		PGR_DROP(VM_DROP_SHORT);
	vm = bpf_map_lookup_elem(&pgr_ports, &ifindex);
	if (!vm)
		PGR_DROP(VM_DROP_NO_PORT);
	if (e->type == WIRE_HTONS(WIRE_ETH_P_IPV4))
		return from_vm_ipv4(skb, e, end, vm);
	if (e->type == WIRE_HTONS(WIRE_ETH_P_ARP))
		return from_vm_arp(skb, e, end, vm);
	if (e->type == WIRE_HTONS(WIRE_ETH_P_IPV6))
		PGR_DROP(VM_DROP_IPV6);
	if (wire_mac_is_group(e->dst))
		PGR_DROP(VM_DROP_GROUP);
	PGR_DROP(VM_DROP_ETHERTYPE);
}
