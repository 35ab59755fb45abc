/* tc ingress on the server side of a VM's veth: everything a VM sends.
 *
 * ARP requests are answered from the GARP map; IPv4 is checked against the
 * VM's own addresses and the GARP entry of its destination (tenant
 * isolation), counted in the traffic matrix, then delivered locally or sent
 * direct or indirect through the NIC of the chosen tree.  An IPv4 frame whose
 * destination misses is copied to the agent, which holds it until the
 * directory answers and then sends it back through the port's egress, where
 * pgr_to_vm turns it around to this program again.  Everything else is
 * dropped and counted.  docs/dataplane.md.
 *
 * The file holds the port's two hooks: pgr_to_vm (egress) exists only to
 * bring held frames back here, and shares this program's maps and counters;
 * a file of its own would be a third object whose maps must be shared by
 * hand. */
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

/* An IPv4 miss: copy the frame to the agent with the event, so that it is
 * sent once the directory answers instead of being lost.  Frames longer than
 * a full frame (GSO), frames while the ring is half full, and held frames
 * that come back and miss again get the plain event and are dropped. */
static __always_inline int hold_miss(struct __sk_buff *skb, const struct pgr_vm *vm, uint32_t ip,
				     bool resent)
{
	uint32_t zero = 0, len = skb->len;
	struct pgr_held *h;

	if (resent)
		PGR_DROP(VM_DROP_RESEND_MISS);
	h = bpf_map_lookup_elem(&pgr_hold_buf, &zero);
	if (!h || len < sizeof(struct wire_eth) || len > PGR_DP_HOLD_FRAME ||
	    bpf_ringbuf_query(&pgr_events, BPF_RB_AVAIL_DATA) >= PGR_DP_HOLD_RING_FILL)
		goto plain;
	h->ev = (struct pgr_event){ .type = PGR_EV_IP_MISS, .vdc = vm->vdc, .ip = ip,
				    .vm_id = vm->id, .ifindex = skb->ifindex, .frame_len = len };
	if (bpf_skb_load_bytes(skb, 0, h->frame, len))
		goto plain;
	if (bpf_ringbuf_output(&pgr_events, h, sizeof(h->ev) + len, 0))
		goto plain;
	return pgr_verdict(skb, PGR_STAT_VM_MISS_HELD, TC_ACT_SHOT);
plain:
	miss_event(skb, PGR_EV_IP_MISS, vm, ip);
	PGR_DROP(VM_DROP_NO_GARP);
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
					void *end, const struct pgr_vm *vm, bool resent)
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
	if (!g)
		return hold_miss(skb, vm, ip->daddr, resent);
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
	bool resent;

	if ((void *)(e + 1) > end)
		PGR_DROP(VM_DROP_SHORT);
	vm = bpf_map_lookup_elem(&pgr_ports, &ifindex);
	if (!vm)
		PGR_DROP(VM_DROP_NO_PORT);
	resent = skb->mark == PGR_MARK_RESEND;
	if (resent)
		skb->mark = 0;	/* it must not follow the frame to a local VM's egress */
	if (e->type == WIRE_HTONS(WIRE_ETH_P_IPV4))
		return from_vm_ipv4(skb, e, end, vm, resent);
	if (resent)	/* the agent sends back IPv4 only */
		PGR_DROP(VM_DROP_ETHERTYPE);
	if (e->type == WIRE_HTONS(WIRE_ETH_P_ARP))
		return from_vm_arp(skb, e, end, vm);
	if (e->type == WIRE_HTONS(WIRE_ETH_P_IPV6))
		PGR_DROP(VM_DROP_IPV6);
	if (wire_mac_is_group(e->dst))
		PGR_DROP(VM_DROP_GROUP);
	PGR_DROP(VM_DROP_ETHERTYPE);
}

/* tc egress on the same port: what goes to the VM.  A frame the agent sends
 * back with PGR_MARK_RESEND (a held frame, see hold_miss) turns around to the
 * port's ingress, where pgr_from_vm checks and forwards it as if the VM had
 * sent it now; everything else goes on to the VM. */
SEC("tc")
int pgr_to_vm(struct __sk_buff *skb)
{
	if (skb->mark != PGR_MARK_RESEND)
		return pgr_verdict(skb, PGR_STAT_PORT_OUT, TC_ACT_OK);
	return pgr_verdict(skb, PGR_STAT_PORT_RESEND, (int)bpf_redirect(skb->ifindex, BPF_F_INGRESS));
}
