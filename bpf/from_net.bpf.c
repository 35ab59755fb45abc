/* tc ingress on a server's NIC: everything the fabric delivers.
 *
 * A frame for one of this server's two MACs is an indirect frame: it is
 * decapsulated and handed to the VM with its destination ID.  A frame for a
 * local VM's MAC is a direct frame and is handed over as is.  Everything else
 * is dropped (or passed, with PGR_CFG_PASS_FOREIGN) and counted.
 * docs/dataplane.md, docs/wire-format.md. */
#include "bpf/dp.bpf.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline int foreign(struct __sk_buff *skb, enum pgr_stat drop)
{
	if (pgr_cfg.flags & PGR_CFG_PASS_FOREIGN)
		return pgr_verdict(skb, PGR_STAT_NET_PASS, TC_ACT_OK);
	return pgr_verdict(skb, drop, TC_ACT_SHOT);
}

static __always_inline int decap(struct __sk_buff *skb, struct wire_eth *e)
{
	uint32_t id;
	struct pgr_vm *vm;

	if (pgr_src_kind(e->src) != PGR_SRC_ENCAP)
		PGR_DROP(NET_DROP_BAD_ENCAP);
	id = pgr_encap_dst_id(e);
	vm = bpf_map_lookup_elem(&pgr_vms, &id);
	if (!vm)
		PGR_DROP(NET_DROP_NO_VM);
	pgr_decap(e);
	wire_mac_copy(e->dst, vm->mac);
	return pgr_verdict(skb, PGR_STAT_NET_DECAP, pgr_deliver(vm->ifindex));
}

SEC("tc")
int pgr_from_net(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct wire_eth *e = data;
	struct pgr_config cfg = pgr_cfg;	/* a volatile read, never folded */
	struct pgr_vm *vm;
	uint32_t id;

	if ((void *)(e + 1) > end)
		PGR_DROP(NET_DROP_SHORT);
	if (wire_mac_is_group(e->dst))
		return foreign(skb, PGR_STAT_NET_DROP_GROUP);
	if (wire_mac_eq(e->dst, cfg.server_mac[PGR_PRIMARY]) ||
	    wire_mac_eq(e->dst, cfg.server_mac[PGR_BACKUP]))
		return decap(skb, e);
	if (!pgr_is_prefix(e->dst))
		return foreign(skb, PGR_STAT_NET_DROP_FOREIGN);
	id = pgr_mac_id(e->dst);
	vm = bpf_map_lookup_elem(&pgr_vms, &id);
	if (!vm)
		return foreign(skb, PGR_STAT_NET_DROP_FOREIGN);
	if (pgr_src_kind(e->src) != PGR_SRC_PLAIN)
		PGR_DROP(NET_DROP_BAD_SRC);
	wire_mac_copy(e->dst, vm->mac);
	return pgr_verdict(skb, PGR_STAT_NET_DIRECT, pgr_deliver(vm->ifindex));
}
