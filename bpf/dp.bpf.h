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

#endif
