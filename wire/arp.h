/* ARP for IPv4 over Ethernet (RFC 826), the only kind Peregrine answers. */
#ifndef PEREGRINE_WIRE_ARP_H
#define PEREGRINE_WIRE_ARP_H

#include "wire/eth.h"

enum wire_arp_limits {
	WIRE_ARP_LEN = 28,
};

enum wire_arp_op {
	WIRE_ARP_REQUEST = 1,
	WIRE_ARP_REPLY = 2,
};

/* All fields in network order; the IPv4 addresses are byte arrays because they
 * sit at offsets that are not 4-byte aligned. */
struct wire_arp {
	uint16_t htype;		/* 1: Ethernet */
	uint16_t ptype;		/* 0x0800: IPv4 */
	uint8_t hlen;		/* 6 */
	uint8_t plen;		/* 4 */
	uint16_t op;
	uint8_t sha[WIRE_MAC_LEN];
	uint8_t spa[4];
	uint8_t tha[WIRE_MAC_LEN];
	uint8_t tpa[4];
};

_Static_assert(sizeof(struct wire_arp) == WIRE_ARP_LEN, "ARP size");

/* An IPv4-over-Ethernet ARP packet (any operation). */
WIRE_INLINE bool wire_arp_is_eth_ipv4(const struct wire_arp *a)
{
	return a->htype == WIRE_HTONS(1) && a->ptype == WIRE_HTONS(WIRE_ETH_P_IPV4) &&
	       a->hlen == WIRE_MAC_LEN && a->plen == 4;
}

WIRE_INLINE uint16_t wire_arp_op(const struct wire_arp *a)
{
	return WIRE_NTOHS(a->op);
}

/* An IPv4 address (network order, as a u32 that holds the wire bytes). */
WIRE_INLINE uint32_t wire_ip_get(const uint8_t *p)
{
	uint32_t v;

	__builtin_memcpy(&v, p, 4);
	return v;
}

WIRE_INLINE void wire_ip_put(uint8_t *p, uint32_t v)
{
	__builtin_memcpy(p, &v, 4);
}

/* Turn the request in `e`/`a` into its reply in place: `mac` owns the target
 * address.  Ethernet: to the requester, from `mac`.  ARP: op 2, sender =
 * (mac, target IP), target = the requester. */
WIRE_INLINE void wire_arp_reply_in_place(struct wire_eth *e, struct wire_arp *a,
					 const uint8_t *mac)
{
	uint32_t tpa = wire_ip_get(a->tpa);

	wire_mac_copy(e->dst, a->sha);
	wire_mac_copy(e->src, mac);
	a->op = WIRE_HTONS(WIRE_ARP_REPLY);
	wire_mac_copy(a->tha, a->sha);
	__builtin_memcpy(a->tpa, a->spa, 4);
	wire_mac_copy(a->sha, mac);
	wire_ip_put(a->spa, tpa);
}

#endif
