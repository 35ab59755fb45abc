/* NetLord: a commodity 802.1Q switch, tc ingress on every port of a
 * NetLord lab switch (docs/netlord.md).
 *
 * The kernel here has no VLAN devices and its bridges filter no VLANs, so
 * this program is the switch, with what a commodity Ethernet switch does
 * and nothing more:
 *
 *   - a frame must carry a tag of a VLAN its ingress port is a member of;
 *   - the source is learned per VLAN (nl_fib, (VLAN, MAC) -> port), within
 *     the FIB capacity the switch was given (fib_capacity, counted in
 *     nl_fib_used; a full FIB learns nothing more, as a Peregrine switch's
 *     refuses entries beyond its capacity);
 *   - a learned destination goes out of its port, an unknown one or a group
 *     address is flooded to the VLAN's other member ports;
 *   - on an edge switch, a frame to the switch's own MAC is for its router:
 *     tag and Ethernet header off, the outer IPv4 destination P.T names the
 *     downlink P (nl_downlinks, one L3 entry per downlink), TTL down by one,
 *     out of port P to the server's MAC.
 *
 * The tag arrives in the skb's metadata on a real port (the kernel moves it
 * there before tc) and in the data in a test run; both are read. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bpf/netlord.h"

char LICENSE[] SEC("license") = "GPL";

const volatile struct nl_sw_config nl_sw_cfg = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NL_FIB_MAX);
	__type(key, struct nl_fib_key);
	__type(value, struct nl_fib_entry);
} nl_fib SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, uint32_t);
	__type(value, uint64_t);
} nl_fib_used SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NL_VLAN_IDS);
	__type(key, uint32_t);
	__type(value, struct nl_vlan_ports);
} nl_vlan_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NL_EDGE_PORTS);
	__type(key, uint32_t);
	__type(value, struct nl_downlink);
} nl_downlinks SEC(".maps");

static __always_inline bool member(const struct nl_vlan_ports *vp, uint32_t ifindex)
{
	for (uint32_t i = 0; i < NL_VLAN_PORTS_MAX; i++) {
		if (i >= vp->n)
			break;
		if (vp->ifindex[i] == ifindex)
			return true;
	}
	return false;
}

/* Learn (vid, src) on ifindex.  The count is taken before the insert and
 * given back if the insert loses, so nl_fib never holds more learned
 * entries than fib_capacity, whatever runs on the other CPUs. */
static __always_inline void learn(struct __sk_buff *skb, uint16_t vid, const uint8_t *src,
				  uint32_t ifindex)
{
	struct nl_fib_key key = { .vid = vid };
	struct nl_fib_entry val = { .ifindex = ifindex }, *cur;
	uint32_t zero = 0;
	uint64_t *used;

	__builtin_memcpy(key.mac, src, 6);
	cur = bpf_map_lookup_elem(&nl_fib, &key);
	if (cur) {
		if (cur->ifindex != ifindex) {	/* moved */
			cur->ifindex = ifindex;
			nl_count(skb, NL_STAT_SW_LEARNED);
		}
		return;
	}
	used = bpf_map_lookup_elem(&nl_fib_used, &zero);
	if (!used)
		return;
	if (__sync_fetch_and_add(used, 1) >= nl_sw_cfg.fib_capacity) {
		__sync_fetch_and_add(used, -1);
		nl_count(skb, NL_STAT_SW_FIB_FULL);
		return;
	}
	if (bpf_map_update_elem(&nl_fib, &key, &val, BPF_NOEXIST)) {
		__sync_fetch_and_add(used, -1);
		return;
	}
	nl_count(skb, NL_STAT_SW_LEARNED);
}

/* Copies to every member but the ingress port; the original is dropped. */
static __always_inline int flood(struct __sk_buff *skb, const struct nl_vlan_ports *vp,
				 uint32_t in)
{
	for (uint32_t i = 0; i < NL_VLAN_PORTS_MAX; i++) {
		if (i >= vp->n)
			break;
		if (vp->ifindex[i] != in)
			bpf_clone_redirect(skb, vp->ifindex[i], 0);
	}
	return nl_verdict(skb, NL_STAT_SW_FLOOD, TC_ACT_SHOT);
}

/* The edge switch's router: the frame is for its own MAC. */
static __always_inline int deliver(struct __sk_buff *skb)
{
	void *data, *end;
	struct wire_eth *e;
	struct wire_ipv4 *ip;
	const struct nl_downlink *dl;
	uint32_t port;
	uint16_t old, new;

	if (bpf_skb_vlan_pop(skb))
		NL_DROP(SW_DROP_ROOM);
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	e = data;
	ip = (void *)(e + 1);
	if ((void *)(ip + 1) > end)
		NL_DROP(SW_DROP_SHORT);
	if (e->type != WIRE_HTONS(WIRE_ETH_P_IPV4))
		NL_DROP(SW_DROP_NOT_IP);
	if (!nl_ipv4_ok(skb, ip, sizeof(*e)))
		NL_DROP(SW_DROP_BAD_IP);
	port = NL_ADDR_PORT(ip->daddr);
	dl = bpf_map_lookup_elem(&nl_downlinks, &port);
	if (!dl || !dl->ifindex)
		NL_DROP(SW_DROP_NO_PORT);
	if (ip->ttl <= 1)
		NL_DROP(SW_DROP_TTL);
	/* TTL is the high byte of its 16-bit word */
	old = WIRE_HTONS((uint16_t)(ip->ttl << 8 | ip->proto));
	ip->ttl--;
	new = WIRE_HTONS((uint16_t)(ip->ttl << 8 | ip->proto));
	nl_mac_from_cfg(e->src, nl_sw_cfg.mac);
	__builtin_memcpy(e->dst, dl->mac, 6);
	port = dl->ifindex;
	if (bpf_l3_csum_replace(skb, sizeof(*e) + offsetof(struct wire_ipv4, check), old, new, 2))
		NL_DROP(SW_DROP_ROOM);
	return nl_verdict(skb, NL_STAT_SW_DELIVER, (int)bpf_redirect(port, 0));
}

SEC("tc")
int netlord_switch(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct wire_eth *e = data;
	const struct nl_vlan_ports *vp;
	const struct nl_fib_entry *out;
	struct nl_fib_key key;
	uint8_t self[6];
	uint32_t in = skb->ifindex, vid;

	if ((void *)(e + 1) > end)
		NL_DROP(SW_DROP_SHORT);
	if (skb->vlan_present) {
		vid = skb->vlan_tci & 0xfff;
	} else if (e->type == WIRE_HTONS(WIRE_ETH_P_VLAN)) {
		const uint16_t *tci = (const void *)(e + 1);

		if ((void *)(tci + 2) > end)
			NL_DROP(SW_DROP_SHORT);
		vid = WIRE_NTOHS(*tci) & 0xfff;
	} else {
		NL_DROP(SW_DROP_UNTAGGED);
	}
	vp = bpf_map_lookup_elem(&nl_vlan_ports, &vid);
	if (!vp || !member(vp, in))
		NL_DROP(SW_DROP_NOT_MEMBER);
	if (wire_mac_is_group(e->src))
		NL_DROP(SW_DROP_BAD_SRC);
	nl_mac_from_cfg(self, nl_sw_cfg.mac);
	if (!wire_mac_eq(e->src, self))
		learn(skb, (uint16_t)vid, e->src, in);
	if (nl_sw_cfg.edge && wire_mac_eq(e->dst, self))
		return deliver(skb);
	if (wire_mac_is_group(e->dst))
		return flood(skb, vp, in);
	key.vid = (uint16_t)vid;
	__builtin_memcpy(key.mac, e->dst, 6);
	out = bpf_map_lookup_elem(&nl_fib, &key);
	if (!out)
		return flood(skb, vp, in);
	if (out->ifindex == in)
		NL_DROP(SW_DROP_SAME_PORT);
	return nl_verdict(skb, NL_STAT_SW_FORWARD, (int)bpf_redirect(out->ifindex, 0));
}
