/* tc ingress on the server side of a VM's veth: everything a VM sends.
 *
 * ARP requests are answered from the GARP map; IPv4 is checked against the
 * VM's own addresses and the GARP entry of its destination (tenant
 * isolation), counted in the traffic matrix, then delivered locally or sent
 * direct or indirect through the NIC of the chosen tree.  An IPv4 frame whose
 * destination misses is copied to the agent, which holds it until the
 * directory answers and then sends it back through the port's egress, where
 * pgr_to_vm turns it around to this program again.  Everything else is
 * dropped and counted.  The decision is pgr_fwd_from_vm() in bpf/fwd.h,
 * shared with user space (`peregrine trace`, the simulator); this program
 * counts, sends and copies misses to the agent.  docs/dataplane.md.
 *
 * The file holds the port's two hooks: pgr_to_vm (egress) exists only to
 * bring held frames back here, and shares this program's maps and counters;
 * a file of its own would be a third object whose maps must be shared by
 * hand. */
#include "bpf/dp.bpf.h"
#include "bpf/fwd.h"
#include "bpf/policy.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline void miss_event(struct __sk_buff *skb, const struct pgr_fwd *f)
{
	struct pgr_event ev = {
		.type = f->event, .vdc = f->ev_vdc, .ip = f->ev_ip, .vm_id = f->ev_vm_id,
		.ifindex = skb->ifindex,
	};

	if (bpf_ringbuf_output(&pgr_events, &ev, sizeof(ev), 0))
		pgr_count(skb, PGR_STAT_EVENT_LOST);
}

/* An IPv4 miss the decision holds: copy the frame to the agent with the
 * event, so that it is sent once the directory answers instead of being
 * lost.  While the ring is half full, or if the copy fails, the plain event
 * only, and the frame is dropped. */
static __always_inline int hold_miss(struct __sk_buff *skb, const struct pgr_fwd *f)
{
	uint32_t zero = 0, len = skb->len;
	struct pgr_held *h;

	h = bpf_map_lookup_elem(&pgr_hold_buf, &zero);
	if (!h || len < sizeof(struct wire_eth) || len > PGR_DP_HOLD_FRAME ||
	    bpf_ringbuf_query(&pgr_events, BPF_RB_AVAIL_DATA) >= PGR_DP_HOLD_RING_FILL)
		goto plain;
	h->ev = (struct pgr_event){ .type = f->event, .vdc = f->ev_vdc, .ip = f->ev_ip,
				    .vm_id = f->ev_vm_id, .ifindex = skb->ifindex,
				    .frame_len = len };
	if (bpf_skb_load_bytes(skb, 0, h->frame, len))
		goto plain;
	if (bpf_ringbuf_output(&pgr_events, h, sizeof(h->ev) + len, 0))
		goto plain;
	return pgr_verdict(skb, f->stat, TC_ACT_SHOT);
plain:
	if (f->event == PGR_EV_DHCP)	/* a DHCP frame without its frame is nothing */
		PGR_DROP(VM_DROP_DHCP_LOST);
	if (f->event == PGR_EV_ND_MISS)	/* nor an NS: the VM asks again */
		PGR_DROP(VM_ND_MISS);
	if (f->event == PGR_EV_MCAST)	/* nor a report: the VM reports again */
		PGR_DROP(VM_DROP_MCAST_LOST);
	if (f->event == PGR_EV_RS)	/* nor a solicitation: the VM solicits again */
		PGR_DROP(VM_DROP_RS);
	miss_event(skb, f);
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

/* A VM's frames to groups: its bucket (bpf/mcast.h), made on its first. */
static __always_inline bool group_rate_ok(struct __sk_buff *skb)
{
	uint32_t port = skb->ifindex;
	uint64_t now = bpf_ktime_get_ns();
	struct pgr_mcast_rate *r = bpf_map_lookup_elem(&pgr_mcast_rate, &port);

	if (!r) {
		struct pgr_mcast_rate n = { .at_ns = now, .tokens = PGR_MCAST_BURST - 1 };

		return !bpf_map_update_elem(&pgr_mcast_rate, &port, &n, BPF_ANY);
	}
	return pgr_mcast_take(r, now);
}

/* One encapsulated copy per member server (the header rewritten for each,
 * then restored), then a plain copy per local member; the frame itself is
 * dropped.  Copies the kernel refuses are counted VM_DROP_GROUP_COPY, a
 * server with no usable tree VM_DROP_NO_ROUTE. */
static __always_inline int group_out(struct __sk_buff *skb, const struct pgr_fwd *f)
{
	struct pgr_mcast_key k = { .vdc = f->ev_vdc, .group = f->ev_ip };
	const struct pgr_mcast_entry *m;
	uint8_t orig[12], hdr[12];

	if (!group_rate_ok(skb))
		PGR_DROP(VM_DROP_GROUP_RATE);
	if (f->event)
		miss_event(skb, f);
	m = bpf_map_lookup_elem(&pgr_mcast, &k);
	if (!m)		/* deleted since the decision */
		PGR_DROP(VM_DROP_GROUP_NONE);
	pgr_group_local(skb, m, skb->ifindex, PGR_STAT_VM_GROUP_LOCAL);
	if (bpf_skb_load_bytes(skb, 0, orig, sizeof(orig)))
		PGR_DROP(VM_DROP_SHORT);
	__builtin_memcpy(hdr + 9, orig + 9, 3);		/* SRC_ID: the VM's */
	for (int i = 0; i < PGR_MCAST_SERVERS; i++) {
		const struct pgr_mcast_srv *s = &m->srv[i];
		int tree;

		if (i >= m->nsrv)
			break;
		if (s->avail & PGR_AVAIL_IM_PRI)
			tree = PGR_PRIMARY;
		else if (s->avail & PGR_AVAIL_IM_BAK)
			tree = PGR_BACKUP;
		else {
			pgr_count(skb, PGR_STAT_VM_DROP_NO_ROUTE);
			continue;
		}
		__builtin_memcpy(hdr, s->im_mac[tree], 6);
		__builtin_memcpy(hdr + 6, s->vm_mac + 3, 3);	/* DST_ID */
		if (bpf_skb_store_bytes(skb, 0, hdr, sizeof(hdr), 0) ||
		    bpf_clone_redirect(skb, s->egress_ifindex[tree], 0))
			pgr_count(skb, PGR_STAT_VM_DROP_GROUP_COPY);
		else
			pgr_count(skb, PGR_STAT_VM_GROUP_COPY);
	}
	bpf_skb_store_bytes(skb, 0, orig, sizeof(orig), 0);
	return pgr_verdict(skb, PGR_STAT_VM_GROUP_SENT, TC_ACT_SHOT);
}

SEC("tc")
int pgr_from_vm(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	bool resent = skb->mark == PGR_MARK_RESEND;
	struct pgr_fwd f;

	if (resent)
		skb->mark = 0;	/* it must not follow the frame to a local VM's egress */
	f = pgr_fwd_from_vm(NULL, data, end, skb->len, skb->ifindex, resent);
	if (f.count)
		count_pair(skb, f.pair_src, f.pair_dst);
	/* security groups (docs/policy.md): the sender's out, a local receiver's in */
	if ((f.act == PGR_FWD_TRANSMIT || f.act == PGR_FWD_DELIVER) &&
	    pgr_pol_drops(skb, skb->ifindex, f.act == PGR_FWD_DELIVER ? f.ifindex : 0))
		return TC_ACT_SHOT;
	if (f.act == PGR_FWD_TRANSMIT)
		return pgr_verdict(skb, f.stat, pgr_transmit(f.ifindex));
	if (f.act == PGR_FWD_DELIVER)
		return pgr_verdict(skb, f.stat, pgr_deliver(f.ifindex));
	if (f.act == PGR_FWD_HOLD)
		return hold_miss(skb, &f);
	if (f.act == PGR_FWD_REPLICATE)
		return group_out(skb, &f);
	if (f.event)
		miss_event(skb, &f);
	return pgr_verdict(skb, f.stat, TC_ACT_SHOT);
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
