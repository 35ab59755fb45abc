/* Whole-frame parsing, description and building (see frame.h). */
#include <stdio.h>
#include <string.h>

#include "wire/frame.h"
#include "wire/be.h"

static const char *const err_names[WIRE_ERR_COUNT] = {
	[WIRE_OK] = "ok",
	[WIRE_ERR_SHORT_ETH] = "short Ethernet header",
	[WIRE_ERR_SHORT_ARP] = "short ARP packet",
	[WIRE_ERR_ARP_KIND] = "ARP not IPv4 over Ethernet",
	[WIRE_ERR_SHORT_IPV4] = "short IPv4 header",
	[WIRE_ERR_IPV4_HEADER] = "bad IPv4 header",
	[WIRE_ERR_BAD_SRC] = "group or zero source MAC",
};

const char *wire_err_name(enum wire_err e)
{
	return (unsigned)e < WIRE_ERR_COUNT ? err_names[e] : "?";
}

static enum wire_addr_kind addr_kind(const struct wire_eth *e, enum pgr_src_kind sk)
{
	if (sk == PGR_SRC_PLAIN)
		return WIRE_ADDR_PLAIN;
	if (sk != PGR_SRC_ENCAP)
		return WIRE_ADDR_FOREIGN;
	return pgr_mac_valid(e->dst) ? WIRE_ADDR_INDIRECT : WIRE_ADDR_ENCAP_ODD;
}

static enum wire_err parse_l3(const uint8_t *l3, size_t len, struct wire_frame *f)
{
	if (f->ethertype == WIRE_ETH_P_ARP) {
		if (len < WIRE_ARP_LEN)
			return WIRE_ERR_SHORT_ARP;
		f->arp = (const struct wire_arp *)l3;
		return wire_arp_is_eth_ipv4(f->arp) ? WIRE_OK : WIRE_ERR_ARP_KIND;
	}
	if (f->ethertype == WIRE_ETH_P_IPV4) {
		if (len < WIRE_IPV4_HLEN)
			return WIRE_ERR_SHORT_IPV4;
		f->ip = (const struct wire_ipv4 *)l3;
		if (!wire_ipv4_valid(f->ip, (uint32_t)MIN(len, UINT32_MAX)))
			return WIRE_ERR_IPV4_HEADER;
		f->l4_off = WIRE_ETH_HLEN + wire_ipv4_hlen(f->ip);
	}
	return WIRE_OK;
}

enum wire_err wire_frame_parse(const uint8_t *buf, size_t len, struct wire_frame *f)
{
	memset(f, 0, sizeof(*f));
	if (len < WIRE_ETH_HLEN)
		return WIRE_ERR_SHORT_ETH;
	f->eth = (const struct wire_eth *)buf;
	f->ethertype = wire_eth_type(f->eth);
	f->src_kind = pgr_src_kind(f->eth->src);
	if (f->src_kind == PGR_SRC_INVALID)
		return WIRE_ERR_BAD_SRC;
	f->addr_kind = addr_kind(f->eth, f->src_kind);
	f->l3_len = (uint32_t)MIN(len - WIRE_ETH_HLEN, UINT32_MAX);
	return parse_l3(buf + WIRE_ETH_HLEN, len - WIRE_ETH_HLEN, f);
}

void wire_mac_str(const uint8_t *mac, char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool wire_mac_parse(const char *s, uint8_t *mac)
{
	for (int i = 0; i < WIRE_MAC_LEN; i++) {
		int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);

		if (hi < 0 || lo < 0)
			return false;
		mac[i] = (uint8_t)(hi << 4 | lo);
		if (s[2] != (i == WIRE_MAC_LEN - 1 ? '\0' : ':'))
			return false;
		s += 3;
	}
	return true;
}

static void ip_str(uint32_t be, char out[16])
{
	const uint8_t *b = (const uint8_t *)&be;

	snprintf(out, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
}

static const char *const addr_kind_names[] = {
	[WIRE_ADDR_FOREIGN] = "foreign", [WIRE_ADDR_PLAIN] = "plain",
	[WIRE_ADDR_INDIRECT] = "indirect", [WIRE_ADDR_ENCAP_ODD] = "encap-to-foreign",
};

static int describe_l3(const struct wire_frame *f, char *out, size_t n)
{
	char a[16], b[16];

	if (f->arp) {
		ip_str(wire_ip_get(f->arp->spa), a);
		ip_str(wire_ip_get(f->arp->tpa), b);
		return snprintf(out, n, " arp %s %s > %s",
				wire_arp_op(f->arp) == WIRE_ARP_REQUEST ? "request" : "op",
				a, b);
	}
	if (f->ip) {
		ip_str(f->ip->saddr, a);
		ip_str(f->ip->daddr, b);
		return snprintf(out, n, " ipv4 %s > %s proto %u", a, b, f->ip->proto);
	}
	return snprintf(out, n, " type 0x%04x", f->ethertype);
}

void wire_frame_describe(const struct wire_frame *f, char *out, size_t outlen)
{
	char da[18], sa[18];
	int n;

	wire_mac_str(f->eth->dst, da);
	wire_mac_str(f->eth->src, sa);
	n = snprintf(out, outlen, "%s > %s %s", sa, da, addr_kind_names[f->addr_kind]);
	if (f->addr_kind == WIRE_ADDR_INDIRECT || f->addr_kind == WIRE_ADDR_ENCAP_ODD)
		n += snprintf(out + MIN((size_t)n, outlen), outlen - MIN((size_t)n, outlen),
			      " (dst id %06x src id %06x)", pgr_encap_dst_id(f->eth),
			      pgr_encap_src_id(f->eth));
	describe_l3(f, out + MIN((size_t)n, outlen), outlen - MIN((size_t)n, outlen));
}

/* ---- building ------------------------------------------------------------- */

size_t wire_build_eth(uint8_t *buf, size_t cap, const uint8_t *dst, const uint8_t *src,
		      uint16_t type, const void *payload, size_t plen)
{
	size_t len = MAX(WIRE_ETH_HLEN + plen, (size_t)WIRE_ETH_MIN_FRAME);
	struct wire_eth e;

	if (cap < len)
		return 0;
	wire_mac_copy(e.dst, dst);
	wire_mac_copy(e.src, src);
	e.type = WIRE_HTONS(type);
	memset(buf, 0, len);
	memcpy(buf, &e, sizeof(e));
	if (plen)
		memcpy(buf + WIRE_ETH_HLEN, payload, plen);
	return len;
}

size_t wire_build_arp(uint8_t *buf, size_t cap, uint16_t op, const uint8_t *eth_dst,
		      const uint8_t *sha, uint32_t spa, const uint8_t *tha, uint32_t tpa)
{
	struct wire_arp a = {
		.htype = WIRE_HTONS(1), .ptype = WIRE_HTONS(WIRE_ETH_P_IPV4),
		.hlen = WIRE_MAC_LEN, .plen = 4, .op = WIRE_HTONS(op),
	};

	wire_mac_copy(a.sha, sha);
	wire_mac_copy(a.tha, tha);
	wire_ip_put(a.spa, spa);
	wire_ip_put(a.tpa, tpa);
	return wire_build_eth(buf, cap, eth_dst, sha, WIRE_ETH_P_ARP, &a, sizeof(a));
}

size_t wire_build_udp4(uint8_t *buf, size_t cap, const uint8_t *dst, const uint8_t *src,
		       uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
		       const void *payload, size_t plen)
{
	uint8_t l3[WIRE_FRAME_MAX - WIRE_ETH_HLEN];
	size_t tot = WIRE_IPV4_HLEN + 8 + plen;
	struct wire_ipv4 ip = {
		.ver_ihl = 0x45, .tot_len = WIRE_HTONS((uint16_t)tot), .ttl = 64,
		.proto = WIRE_IPPROTO_UDP, .saddr = saddr, .daddr = daddr,
	};
	uint16_t udp[4] = { WIRE_HTONS(sport), WIRE_HTONS(dport),
			    WIRE_HTONS((uint16_t)(8 + plen)), 0 };

	if (tot > sizeof(l3))
		return 0;
	ip.check = wire_csum(&ip, sizeof(ip));
	memcpy(l3, &ip, sizeof(ip));
	memcpy(l3 + sizeof(ip), udp, sizeof(udp));
	if (plen)
		memcpy(l3 + sizeof(ip) + sizeof(udp), payload, plen);
	return wire_build_eth(buf, cap, dst, src, WIRE_ETH_P_IPV4, l3, tot);
}

/* ---- TCP/UDP checksum ----------------------------------------------------- */

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold16(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

enum wire_l4_csum wire_l4_csum_complete(uint8_t *buf, size_t len)
{
	const struct wire_ipv4 *ip = (const void *)(buf + WIRE_ETH_HLEN);
	uint32_t hlen, tot, l4len, pseudo;
	uint16_t field, partial, csum;
	size_t off;
	uint8_t *l4;

	if (len < WIRE_ETH_HLEN + WIRE_IPV4_HLEN || wire_get16(buf + 12) != WIRE_ETH_P_IPV4 ||
	    !wire_ipv4_valid(ip, (uint32_t)(len - WIRE_ETH_HLEN)) || (WIRE_NTOHS(ip->frag) & 0x3fff))
		return WIRE_L4_CSUM_NONE;
	hlen = wire_ipv4_hlen(ip);
	tot = WIRE_NTOHS(ip->tot_len);
	l4len = tot - hlen;
	l4 = buf + WIRE_ETH_HLEN + hlen;
	if (ip->proto == WIRE_IPPROTO_TCP && l4len >= 20)
		off = 16;
	else if (ip->proto == WIRE_IPPROTO_UDP && l4len >= 8)
		off = 6;
	else
		return WIRE_L4_CSUM_NONE;
	field = wire_get16(l4 + off);
	if (ip->proto == WIRE_IPPROTO_UDP && !field)
		return WIRE_L4_CSUM_NONE;
	pseudo = sum16((const uint8_t *)ip + 12, 8, 0) + ip->proto + l4len;
	if (fold16(sum16(l4, l4len, pseudo)) == 0xffff)
		return WIRE_L4_CSUM_GOOD;
	partial = fold16(pseudo);
	if (field != partial && !(field == 0 && partial == 0xffff))
		return WIRE_L4_CSUM_BAD;
	wire_put16(l4 + off, 0);
	csum = (uint16_t)~fold16(sum16(l4, l4len, pseudo));
	if (ip->proto == WIRE_IPPROTO_UDP && !csum)
		csum = 0xffff;
	wire_put16(l4 + off, csum);
	return WIRE_L4_CSUM_COMPLETED;
}
