/* tc ingress on a server's NIC: everything the fabric delivers.
 *
 * A frame for one of this server's two MACs is an indirect frame: it is
 * decapsulated and handed to the VM with its destination ID.  A frame for a
 * local VM's MAC is a direct frame and is handed over as is.  Everything else
 * is dropped (or passed, with PGR_CFG_PASS_FOREIGN) and counted.  The
 * decision is pgr_fwd_from_net() in bpf/fwd.h, shared with user space; this
 * program counts and sends.  docs/dataplane.md, docs/wire-format.md. */
#include "bpf/dp.bpf.h"
#include "bpf/fwd.h"
#include "bpf/policy.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int pgr_from_net(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct pgr_config cfg = pgr_cfg;	/* a volatile read, never folded */
	struct pgr_fwd f = pgr_fwd_from_net(NULL, &cfg, data, end);

	if (f.act == PGR_FWD_DELIVER && pgr_pol_drops(skb, 0, f.ifindex))
		return TC_ACT_SHOT;	/* security groups: counted in pgr_pol_stats */
	if (f.act == PGR_FWD_DELIVER)
		return pgr_verdict(skb, f.stat, pgr_deliver(f.ifindex));
	if (f.act == PGR_FWD_REPLICATE) {	/* a replica, decapsulated: bpf/mcast.h */
		struct pgr_mcast_key k = { .vdc = f.ev_vdc, .group = f.ev_ip };
		const struct pgr_mcast_entry *m = bpf_map_lookup_elem(&pgr_mcast, &k);

		if (!m)
			PGR_DROP(NET_DROP_GROUP_NONE);
		pgr_group_local(skb, m, 0, PGR_STAT_NET_GROUP_LOCAL);
		return TC_ACT_SHOT;
	}
	if (f.act == PGR_FWD_PASS)
		return pgr_verdict(skb, f.stat, TC_ACT_OK);
	return pgr_verdict(skb, f.stat, TC_ACT_SHOT);
}
