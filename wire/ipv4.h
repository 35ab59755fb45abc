/* IPv4 headers: what the data plane checks (RFC 791). */
#ifndef PEREGRINE_WIRE_IPV4_H
#define PEREGRINE_WIRE_IPV4_H

#include "wire/types.h"

enum wire_ipv4_limits {
	WIRE_IPV4_HLEN = 20,		/* without options */
	WIRE_IPV4_HLEN_MAX = 60,
};

enum wire_ip_proto {
	WIRE_IPPROTO_ICMP = 1,
	WIRE_IPPROTO_TCP = 6,
	WIRE_IPPROTO_UDP = 17,
};

struct __attribute__((packed, aligned(2))) wire_ipv4 {
	uint8_t ver_ihl;	/* version 4 (high nibble), header words (low) */
	uint8_t tos;
	uint16_t tot_len;	/* network order, like every multi-byte field */
	uint16_t id;
	uint16_t frag;
	uint8_t ttl;
	uint8_t proto;
	uint16_t check;
	uint32_t saddr;
	uint32_t daddr;
};

_Static_assert(sizeof(struct wire_ipv4) == WIRE_IPV4_HLEN, "IPv4 header size");

/* Header length in bytes, 0 if the version or IHL is impossible. */
WIRE_INLINE uint32_t wire_ipv4_hlen(const struct wire_ipv4 *ip)
{
	uint32_t ihl = ip->ver_ihl & 0x0f;

	if ((ip->ver_ihl >> 4) != 4 || ihl < 5)
		return 0;
	return ihl * 4;
}

/* A header that can be believed within `avail` bytes of packet: version 4,
 * 5 <= IHL, the header and the total length fit. */
WIRE_INLINE bool wire_ipv4_valid(const struct wire_ipv4 *ip, uint32_t avail)
{
	uint32_t hlen = wire_ipv4_hlen(ip);
	uint32_t tot = WIRE_NTOHS(ip->tot_len);

	return hlen && hlen <= avail && tot >= hlen && tot <= avail;
}

/* The Internet checksum over `len` bytes (user space: headers we build). */
WIRE_INLINE uint16_t wire_csum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return WIRE_HTONS((uint16_t)~sum);
}

#endif
