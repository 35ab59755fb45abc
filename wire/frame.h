/* Whole-frame parsing and building in user space (tests, the simulator,
 * tracing).  The eBPF programs use the static inlines of eth.h, arp.h,
 * ipv4.h and pgr.h directly; these functions are built from the same ones. */
#ifndef PEREGRINE_WIRE_FRAME_H
#define PEREGRINE_WIRE_FRAME_H

#include "lib/common.h"
#include "wire/arp.h"
#include "wire/ipv4.h"
#include "wire/pgr.h"

enum wire_frame_limits {
	WIRE_FRAME_MAX = 1514,		/* 1500-byte MTU, no FCS, no VLAN */
	WIRE_DESCRIBE_MAX = 256,	/* wire_frame_describe() output */
};

/* Why a frame did not parse (0 = it did). */
enum wire_err {
	WIRE_OK = 0,
	WIRE_ERR_SHORT_ETH,	/* fewer than 14 bytes */
	WIRE_ERR_SHORT_ARP,	/* EtherType ARP, fewer than 28 bytes after it */
	WIRE_ERR_ARP_KIND,	/* not IPv4 over Ethernet */
	WIRE_ERR_SHORT_IPV4,	/* fewer than 20 bytes of header */
	WIRE_ERR_IPV4_HEADER,	/* version, IHL or total length impossible */
	WIRE_ERR_BAD_SRC,	/* source MAC with the group bit, or zero */
	WIRE_ERR_COUNT
};

/* The frame kinds the data plane tells apart by addresses alone. */
enum wire_addr_kind {
	WIRE_ADDR_FOREIGN,	/* neither address is Peregrine's */
	WIRE_ADDR_PLAIN,	/* SA plain Peregrine: VM traffic or a direct frame */
	WIRE_ADDR_INDIRECT,	/* SA encapsulated, DA a Peregrine (server) MAC */
	WIRE_ADDR_ENCAP_ODD,	/* SA encapsulated, DA not Peregrine: never sent */
};

struct wire_frame {
	const struct wire_eth *eth;
	uint16_t ethertype;		/* host order */
	enum pgr_src_kind src_kind;
	enum wire_addr_kind addr_kind;
	const struct wire_arp *arp;	/* EtherType ARP */
	const struct wire_ipv4 *ip;	/* EtherType IPv4 */
	uint32_t l3_len;		/* bytes after the Ethernet header */
	uint32_t l4_off;		/* IPv4: offset of the payload in the frame */
};

/* Parse a frame; on success fills f.  Never reads past len. */
enum wire_err wire_frame_parse(const uint8_t *buf, size_t len, struct wire_frame *f);
const char *wire_err_name(enum wire_err e);

/* One line: addresses, kind, EtherType and the ARP/IPv4 essentials. */
void wire_frame_describe(const struct wire_frame *f, char *out, size_t outlen);

/* "02:00:00:02:00:05" (18 bytes with the NUL). */
void wire_mac_str(const uint8_t *mac, char out[18]);
/* Strict "xx:xx:xx:xx:xx:xx"; false on anything else. */
bool wire_mac_parse(const char *s, uint8_t *mac);

/* ---- the TCP/UDP checksum of a frame a VM sent ---------------------------
 * A VM's stack may leave the TCP or UDP checksum to offload (Linux's
 * CHECKSUM_PARTIAL): the field then holds the folded pseudo-header sum, and
 * the frame is only correct once something completes it, as a NIC would.
 * A copy of such a frame (a held frame, docs/agent.md) must be completed
 * before it is sent again as plain bytes. */
enum wire_l4_csum {
	WIRE_L4_CSUM_NONE,	/* not an unfragmented TCP/UDP IPv4 frame, or UDP without checksum */
	WIRE_L4_CSUM_GOOD,	/* the checksum is right: left alone */
	WIRE_L4_CSUM_COMPLETED,	/* it held the pseudo-header sum: completed */
	WIRE_L4_CSUM_BAD,	/* neither: left alone (the receiver drops it) */
};

/* Complete the TCP/UDP checksum of an Ethernet/IPv4 frame in place when it
 * holds only the pseudo-header sum.  Reads and writes within len only. */
enum wire_l4_csum wire_l4_csum_complete(uint8_t *buf, size_t len);

/* ---- building frames (tests, probes, benchmarks) --------------------------
 * Each returns the frame length (padded to 60 bytes), or 0 if cap is too
 * small.  IPv4 addresses are in network order. */
size_t wire_build_eth(uint8_t *buf, size_t cap, const uint8_t *dst, const uint8_t *src,
		      uint16_t type, const void *payload, size_t plen);
size_t wire_build_arp(uint8_t *buf, size_t cap, uint16_t op, const uint8_t *eth_dst,
		      const uint8_t *sha, uint32_t spa, const uint8_t *tha, uint32_t tpa);
size_t wire_build_udp4(uint8_t *buf, size_t cap, const uint8_t *dst, const uint8_t *src,
		       uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
		       const void *payload, size_t plen);

#endif
