/* NetLord agent: tc ingress on a VM's port (the server end of its veth).
 *
 * ARP requests are answered by NL-ARP from the directory cache (nl_dir,
 * (tenant, IP) -> VM MAC, edge switch MAC, port) with the destination VM's
 * own MAC: NetLord keeps tenants' addresses as they are.  An IPv4 frame
 * from the VM's own MAC and IP to a MAC that NL-ARP gave for its
 * destination IP in the VM's tenant is encapsulated (bpf/netlord.h): outer
 * Ethernet from this server's edge switch to the destination's, the 802.1Q
 * tag of the flow's VLAN (one of nl_paths's VLANs to that edge switch,
 * picked by the flow's hash, so a flow stays on one VLAN and flows spread),
 * outer IPv4 P.T to P.T, and the tenant's frame as it was.  It leaves by
 * the NIC.  Every verdict is counted (nl_stats). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bpf/netlord.h"
#include "wire/arp.h"

char LICENSE[] SEC("license") = "GPL";

const volatile struct nl_config nl_cfg = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NL_PORTS_MAX);
	__type(key, uint32_t);
	__type(value, struct nl_port);
} nl_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NL_DIR_MAX);
	__type(key, struct nl_dir_key);
	__type(value, struct nl_dir_entry);
} nl_dir SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NL_EDGES_MAX);
	__type(key, struct nl_edge_key);
	__type(value, struct nl_vlan_choice);
} nl_paths SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, NL_EVENTS_BYTES);
} nl_events SEC(".maps");

/* Tell the NLA about a miss; a full ring loses it (the VM asks again). */
static __always_inline void miss(struct __sk_buff *skb, uint32_t tenant, uint32_t ip,
				 uint32_t arp)
{
	struct nl_event ev = { tenant, ip, skb->ifindex, arp };

	bpf_ringbuf_output(&nl_events, &ev, sizeof(ev), 0);
}

static __always_inline int arp(struct __sk_buff *skb, struct wire_eth *e, void *end,
			       const struct nl_port *port)
{
	struct wire_arp *a = (void *)(e + 1);
	const struct nl_dir_entry *ent;
	struct nl_dir_key key;
	uint8_t mac[6];

	if ((void *)(a + 1) > end)
		NL_DROP(ENC_DROP_SHORT);
	if (!wire_arp_is_eth_ipv4(a) || wire_arp_op(a) != WIRE_ARP_REQUEST)
		NL_DROP(ENC_ARP_MISS);
	key.tenant = port->tenant;
	key.ip = wire_ip_get(a->tpa);
	ent = bpf_map_lookup_elem(&nl_dir, &key);
	if (!ent) {
		miss(skb, key.tenant, key.ip, 1);
		NL_DROP(ENC_ARP_MISS);
	}
	__builtin_memcpy(mac, ent->mac, 6);
	wire_arp_reply_in_place(e, a, mac);
	return nl_verdict(skb, NL_STAT_ENC_ARP_REPLY, (int)bpf_redirect(skb->ifindex, 0));
}

static __always_inline void fill_ip(struct wire_ipv4 *h, uint16_t tot, uint8_t tos,
				    uint32_t saddr, uint32_t daddr)
{
	uint16_t w0 = WIRE_HTONS(0x4500 | tos), len = WIRE_HTONS(tot);
	uint16_t frag = WIRE_HTONS(0x4000);	/* DF: the tenant MTU leaves room */
	uint16_t ttl_proto = WIRE_HTONS(NL_TTL << 8 | NL_IPPROTO);
	uint32_t sum = (uint32_t)w0 + len + frag + ttl_proto + (saddr & 0xffff) + (saddr >> 16) +
		       (daddr & 0xffff) + (daddr >> 16);

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	h->ver_ihl = 0x45;
	h->tos = tos;
	h->tot_len = len;
	h->id = 0;
	h->frag = frag;
	h->ttl = NL_TTL;
	h->proto = NL_IPPROTO;
	h->saddr = saddr;
	h->daddr = daddr;
	h->check = (uint16_t)~sum;
}

/* Outer headers in front of the tenant frame whose Ethernet header is
 * inner: [dst edge][src edge][8100][tci][0800][IPv4][inner]. */
struct nl_outer {
	uint8_t dst[6];
	uint8_t src[6];
	uint16_t tpid;
	uint16_t tci;
	uint16_t type;
	struct wire_ipv4 ip;
	struct wire_eth inner;
};
_Static_assert(sizeof(struct nl_outer) == NL_HDR_BYTES + WIRE_ETH_HLEN, "outer headers");

static __always_inline int encap(struct __sk_buff *skb, struct wire_eth *e,
				 const struct nl_port *port, uint32_t daddr, uint16_t frame_len,
				 uint8_t tos)
{
	const struct nl_dir_entry *ent;
	const struct nl_vlan_choice *vc;
	struct nl_dir_key key = { port->tenant, daddr };
	struct nl_edge_key ek = {};
	struct wire_eth inner;
	struct nl_outer *o;
	uint32_t tenant = port->tenant, i;
	uint16_t vid;
	uint8_t dport;
	void *end;

	ent = bpf_map_lookup_elem(&nl_dir, &key);
	if (!ent) {
		miss(skb, key.tenant, key.ip, 0);
		NL_DROP(ENC_MISS);
	}
	if (!wire_mac_eq(e->dst, ent->mac))
		NL_DROP(ENC_DROP_WRONG_MAC);
	__builtin_memcpy(ek.mac, ent->edge_mac, 6);
	dport = ent->port;
	vc = bpf_map_lookup_elem(&nl_paths, &ek);
	if (!vc || !vc->n || vc->n > NL_K_MAX)
		NL_DROP(ENC_DROP_NO_VLAN);
	i = bpf_get_hash_recalc(skb) % vc->n;
	if (i >= NL_K_MAX)
		NL_DROP(ENC_DROP_NO_VLAN);
	vid = vc->vid[i] & 0xfff;
	__builtin_memcpy(&inner, e, sizeof(inner));
	if (bpf_skb_adjust_room(skb, NL_HDR_BYTES, BPF_ADJ_ROOM_MAC, 0))
		NL_DROP(ENC_DROP_ROOM);
	o = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	if ((void *)(o + 1) > end)
		NL_DROP(ENC_DROP_ROOM);
	__builtin_memcpy(o->dst, ek.mac, 6);
	nl_mac_from_cfg(o->src, nl_cfg.edge_mac);
	o->tpid = WIRE_HTONS(WIRE_ETH_P_VLAN);
	o->tci = WIRE_HTONS(vid);
	o->type = WIRE_HTONS(WIRE_ETH_P_IPV4);
	/* the outer packet carries the whole tenant frame */
	fill_ip(&o->ip, frame_len + WIRE_IPV4_HLEN, tos,
		NL_ADDR(nl_cfg.port, tenant), NL_ADDR(dport, tenant));
	__builtin_memcpy(&o->inner, &inner, sizeof(inner));
	return nl_verdict(skb, NL_STAT_ENC_SENT, (int)bpf_redirect(nl_cfg.nic_ifindex, 0));
}

SEC("tc")
int netlord_encap(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct wire_eth *e = data;
	struct wire_ipv4 *ip;
	const struct nl_port *port;
	uint32_t ifindex = skb->ifindex;
	uint16_t inner_len;

	if ((void *)(e + 1) > end)
		NL_DROP(ENC_DROP_SHORT);
	port = bpf_map_lookup_elem(&nl_ports, &ifindex);
	if (!port)
		NL_DROP(ENC_DROP_NO_PORT);
	if (!wire_mac_eq(e->src, port->mac))
		NL_DROP(ENC_DROP_SPOOF);
	if (e->type == WIRE_HTONS(WIRE_ETH_P_ARP))
		return arp(skb, e, end, port);
	if (e->type != WIRE_HTONS(WIRE_ETH_P_IPV4))
		NL_DROP(ENC_DROP_NOT_IP);
	ip = (void *)(e + 1);
	if ((void *)(ip + 1) > end)
		NL_DROP(ENC_DROP_SHORT);
	/* the tenant's header: options allowed, length within the frame */
	if (!wire_ipv4_hlen(ip) || WIRE_NTOHS(ip->tot_len) < wire_ipv4_hlen(ip) ||
	    sizeof(*e) + WIRE_NTOHS(ip->tot_len) > skb->len)
		NL_DROP(ENC_DROP_BAD_IP);
	if (ip->saddr != port->ip)
		NL_DROP(ENC_DROP_SPOOF);
	inner_len = WIRE_NTOHS(ip->tot_len);
	if (inner_len > NL_TENANT_MTU)
		NL_DROP(ENC_DROP_TOO_BIG);
	return encap(skb, e, port, ip->daddr, (uint16_t)skb->len, ip->tos);
}
