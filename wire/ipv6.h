/* IPv6 headers and Neighbour Discovery (RFC 8200, RFC 4861): what the data
 * plane checks and the Neighbour Advertisement it builds in place
 * (bpf/fwd6.h).  Static inlines for eBPF and user space alike. */
#ifndef PEREGRINE_WIRE_IPV6_H
#define PEREGRINE_WIRE_IPV6_H

#include "wire/eth.h"

enum wire_ipv6_limits {
	WIRE_IPV6_HLEN = 40,
	WIRE_IPV6_ALEN = 16,
	WIRE_ND_NS_LEN = 24,		/* NS/NA without options */
	WIRE_ND_OPT_LL_LEN = 8,		/* a link-layer address option */
};

enum wire_ipv6_proto {
	WIRE_IPPROTO_ICMPV6 = 58,
};

enum wire_icmpv6_type {
	WIRE_ND_RS = 133,
	WIRE_ND_RA = 134,
	WIRE_ND_NS = 135,
	WIRE_ND_NA = 136,
};

enum wire_nd_opt {
	WIRE_ND_OPT_SLLA = 1,
	WIRE_ND_OPT_TLLA = 2,
};

struct __attribute__((packed, aligned(2))) wire_ipv6 {
	uint32_t ver_tc_flow;	/* version 6 in the high nibble of the first byte */
	uint16_t plen;		/* network order */
	uint8_t next;
	uint8_t hop_limit;
	uint8_t saddr[WIRE_IPV6_ALEN];
	uint8_t daddr[WIRE_IPV6_ALEN];
};

_Static_assert(sizeof(struct wire_ipv6) == WIRE_IPV6_HLEN, "IPv6 header size");

/* A Neighbour Solicitation or Advertisement with one link-layer address
 * option: the only form the data plane answers (32 bytes). */
struct __attribute__((packed, aligned(2))) wire_nd {
	uint8_t type, code;
	uint16_t csum;
	uint32_t flags;		/* NA: R S O in the top bits; NS: reserved */
	uint8_t target[WIRE_IPV6_ALEN];
	uint8_t opt_type, opt_len;	/* opt_len in units of 8 bytes */
	uint8_t opt_mac[WIRE_MAC_LEN];
};

_Static_assert(sizeof(struct wire_nd) == WIRE_ND_NS_LEN + WIRE_ND_OPT_LL_LEN, "ND size");

#define WIRE_ND_NA_SOLICITED 0x40000000u	/* host order */
#define WIRE_ND_NA_OVERRIDE 0x20000000u

WIRE_INLINE uint8_t wire_ipv6_version(const struct wire_ipv6 *ip)
{
	return ((const uint8_t *)ip)[0] >> 4;
}

WIRE_INLINE bool wire_ipv6_is_multicast(const uint8_t *a)
{
	return a[0] == 0xff;
}

/* Addresses in frames are 2-byte aligned at best: read them by copies. */
WIRE_INLINE bool wire_ipv6_is_unspecified(const uint8_t *a)
{
	uint64_t w[2];

	__builtin_memcpy(w, a, 16);
	return (w[0] | w[1]) == 0;
}

WIRE_INLINE bool wire_ipv6_eq(const uint8_t *a, const uint8_t *b)
{
	uint64_t x[2], y[2];

	__builtin_memcpy(x, a, 16);
	__builtin_memcpy(y, b, 16);
	return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

WIRE_INLINE void wire_ipv6_copy(uint8_t *dst, const uint8_t *src)
{
	__builtin_memcpy(dst, src, 16);
}

/* The modified EUI-64 interface identifier of a MAC (RFC 4291 2.5.1), the
 * low 8 bytes of a SLAAC address: does addr carry mac's? */
WIRE_INLINE bool wire_ipv6_iid_is(const uint8_t *addr, const uint8_t *mac)
{
	return addr[8] == (mac[0] ^ 0x02) && addr[9] == mac[1] && addr[10] == mac[2] &&
	       addr[11] == 0xff && addr[12] == 0xfe && addr[13] == mac[3] &&
	       addr[14] == mac[4] && addr[15] == mac[5];
}

/* The ICMPv6 checksum of a 32-byte ND message between saddr and daddr
 * (RFC 8200 8.1), computed with its csum field taken as zero.  Sums
 * 16-bit words as they lie in memory: the result is stored as it is. */
WIRE_INLINE uint16_t wire_nd_csum(const struct wire_ipv6 *ip, const struct wire_nd *nd)
{
	const uint8_t *a = ip->saddr;	/* saddr, then daddr */
	const uint8_t *m = (const uint8_t *)nd;
	uint32_t sum = WIRE_HTONS(sizeof(*nd)) + WIRE_HTONS(WIRE_IPPROTO_ICMPV6);
	uint16_t w;

#ifdef __clang__
#pragma unroll
#endif
	for (int i = 0; i < 2 * WIRE_IPV6_ALEN; i += 2) {
		__builtin_memcpy(&w, a + i, 2);
		sum += w;
	}
#ifdef __clang__
#pragma unroll
#endif
	for (int i = 0; i < (int)sizeof(*nd); i += 2) {
		__builtin_memcpy(&w, m + i, 2);
		sum += i == 2 ? 0 : w;	/* the checksum field */
	}
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

#endif
