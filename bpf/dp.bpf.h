/* Helpers shared by the two data-plane programs (eBPF only). */
#ifndef PEREGRINE_BPF_DP_BPF_H
#define PEREGRINE_BPF_DP_BPF_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bpf/dp.h"
#include "wire/arp.h"
#include "wire/ipv4.h"

/* Set by the loader before load (bpf/loader.c); frozen afterwards. */
const volatile struct pgr_config pgr_cfg = {};

/* Count one verdict (packets and bytes) and return the tc action. */
static __always_inline int pgr_verdict(struct __sk_buff *skb, enum pgr_stat s, int act)
{
	uint32_t key = s;
	struct pgr_counter *c = bpf_map_lookup_elem(&pgr_stats, &key);

	if (c) {
		c->packets++;
		c->bytes += skb->len;
	}
	return act;
}

#define PGR_DROP(reason) return pgr_verdict(skb, PGR_STAT_##reason, TC_ACT_SHOT)

static __always_inline void pgr_count(struct __sk_buff *skb, enum pgr_stat s)
{
	pgr_verdict(skb, s, 0);
}

/* Hand a frame to a local VM's port: straight into the VM's namespace with
 * bpf_redirect_peer when the ports are veths, else out of the port. */
static __always_inline int pgr_deliver(uint32_t ifindex)
{
	if (pgr_cfg.flags & PGR_CFG_PEER)
		return (int)bpf_redirect_peer(ifindex, 0);
	return (int)bpf_redirect(ifindex, 0);
}

/* Send a frame out of a NIC.  When the NICs are veths (the lab), the frame
 * goes straight to the ingress of the far end, which is what the wire would
 * deliver, without a second pass through the backlog queue. */
static __always_inline int pgr_transmit(uint32_t ifindex)
{
	if (pgr_cfg.flags & PGR_CFG_NIC_PEER)
		return (int)bpf_redirect_peer(ifindex, 0);
	return (int)bpf_redirect(ifindex, 0);
}

/* ---- group replication (bpf/mcast.h) ---------------------------------------- */

/* A copy of the frame as it stands to each local member port of m, except
 * `skip` (the sender's port).  The copy goes out of the port's egress
 * (pgr_to_vm passes it to the VM): bpf_clone_redirect cannot reach a peer. */
static __always_inline void pgr_group_local(struct __sk_buff *skb,
					    const struct pgr_mcast_entry *m, uint32_t skip,
					    enum pgr_stat ok)
{
	for (int i = 0; i < PGR_MCAST_LOCAL; i++) {
		uint32_t port;

		if (i >= m->nlocal)
			break;
		port = m->local_ifindex[i];
		if (!port || port == skip)
			continue;
		if (bpf_clone_redirect(skb, port, 0))
			pgr_count(skb, PGR_STAT_VM_DROP_GROUP_COPY);
		else
			pgr_count(skb, ok);
	}
}

#endif
