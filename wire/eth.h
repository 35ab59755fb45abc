/* Ethernet II headers and MAC addresses. */
#ifndef PEREGRINE_WIRE_ETH_H
#define PEREGRINE_WIRE_ETH_H

#include "wire/types.h"

enum wire_eth_limits {
	WIRE_MAC_LEN = 6,
	WIRE_ETH_HLEN = 14,
	WIRE_ETH_MIN_FRAME = 60,	/* without FCS */
};

enum wire_ethertype {
	WIRE_ETH_P_IPV4 = 0x0800,
	WIRE_ETH_P_ARP = 0x0806,
	WIRE_ETH_P_VLAN = 0x8100,
	WIRE_ETH_P_IPV6 = 0x86dd,
};

/* Bits of the first octet of a MAC address (IEEE 802). */
#define WIRE_MAC_GROUP 0x01	/* I/G: group (multicast/broadcast) */
#define WIRE_MAC_LOCAL 0x02	/* U/L: locally administered */

struct wire_eth {
	uint8_t dst[WIRE_MAC_LEN];
	uint8_t src[WIRE_MAC_LEN];
	uint16_t type;		/* network order */
};

_Static_assert(sizeof(struct wire_eth) == WIRE_ETH_HLEN, "Ethernet header size");

WIRE_INLINE bool wire_mac_is_group(const uint8_t *mac)
{
	return mac[0] & WIRE_MAC_GROUP;
}

WIRE_INLINE bool wire_mac_is_broadcast(const uint8_t *mac)
{
	return (mac[0] & mac[1] & mac[2] & mac[3] & mac[4] & mac[5]) == 0xff;
}

WIRE_INLINE bool wire_mac_is_zero(const uint8_t *mac)
{
	return (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0;
}

WIRE_INLINE bool wire_mac_eq(const uint8_t *a, const uint8_t *b)
{
	uint32_t a0, b0;
	uint16_t a1, b1;

	__builtin_memcpy(&a0, a, 4);
	__builtin_memcpy(&b0, b, 4);
	__builtin_memcpy(&a1, a + 4, 2);
	__builtin_memcpy(&b1, b + 4, 2);
	return a0 == b0 && a1 == b1;
}

WIRE_INLINE void wire_mac_copy(uint8_t *dst, const uint8_t *src)
{
	__builtin_memcpy(dst, src, WIRE_MAC_LEN);
}

/* The EtherType in host order. */
WIRE_INLINE uint16_t wire_eth_type(const struct wire_eth *e)
{
	return WIRE_NTOHS(e->type);
}

#endif
