/* The host agent's DHCPv4 server (agent/dhcp.h, docs/tenant-network.md). */
#include "agent/dhcp.h"

#include <arpa/inet.h>
#include <string.h>

#include "wire/frame.h"

#define BROADCAST 0xffffffffu
#define FLAG_BROADCAST 0x8000

uint32_t agent_dhcp_server_id(const struct agent_vm_cfg *c)
{
	uint32_t mask, last;

	if (!c->plen)
		return 0;
	if (c->gateway)
		return c->gateway;
	mask = 0xffffffffu << (32 - c->plen);
	last = (c->ip & mask) | (~mask - 1);	/* broadcast - 1 */
	return last == c->ip ? last - 1 : last;
}

/* The UDP payload of an IPv4 UDP frame to port 67, or NULL. */
static const uint8_t *udp_payload(const uint8_t *frame, size_t len, const struct wire_ipv4 **ipp,
				  size_t *plen)
{
	const struct wire_ipv4 *ip = (const void *)(frame + WIRE_ETH_HLEN);
	const uint8_t *udp;
	uint32_t hlen, ulen;

	if (len < WIRE_ETH_HLEN + WIRE_IPV4_HLEN ||
	    ((const struct wire_eth *)frame)->type != WIRE_HTONS(WIRE_ETH_P_IPV4) ||
	    !wire_ipv4_valid(ip, (uint32_t)(len - WIRE_ETH_HLEN)) || ip->proto != WIRE_IPPROTO_UDP ||
	    (ip->frag & WIRE_HTONS(0x3fff)))
		return NULL;
	hlen = wire_ipv4_hlen(ip);
	if (WIRE_NTOHS(ip->tot_len) < hlen + 8)
		return NULL;
	udp = (const uint8_t *)ip + hlen;
	ulen = (uint32_t)udp[4] << 8 | udp[5];
	if (udp[2] != 0 || udp[3] != WIRE_DHCP_SERVER_PORT || ulen < 8 ||
	    ulen > WIRE_NTOHS(ip->tot_len) - hlen)
		return NULL;
	*ipp = ip;
	*plen = ulen - 8;
	return udp + 8;
}

static enum agent_dhcp_verdict parse_verdict(enum wire_dhcp_err e)
{
	switch (e) {
	case WIRE_DHCP_ERR_SHORT: return AGENT_DHCP_drop_short;
	case WIRE_DHCP_ERR_OP: return AGENT_DHCP_drop_op;
	case WIRE_DHCP_ERR_HW: return AGENT_DHCP_drop_hw;
	case WIRE_DHCP_ERR_COOKIE: return AGENT_DHCP_drop_cookie;
	case WIRE_DHCP_ERR_OPTION:
	case WIRE_DHCP_ERR_OPTION_LEN: return AGENT_DHCP_drop_option;
	default: return AGENT_DHCP_drop_type;
	}
}

/* Everything in the message that names an address or a MAC must be the
 * VM's own: a VM cannot obtain, renew or release another's address. */
static bool own(const struct agent_dhcp_vm *vm, const uint8_t *frame,
		const struct wire_ipv4 *ip, const struct wire_dhcp_msg *m)
{
	uint32_t self = htonl(vm->c->ip);

	return wire_mac_eq(((const struct wire_eth *)frame)->src, vm->mac) &&
	       wire_mac_eq(m->chaddr, vm->mac) && (ip->saddr == 0 || ip->saddr == self) &&
	       (m->ciaddr == 0 || m->ciaddr == self) && m->giaddr == 0;
}

static size_t reply_frame(const struct agent_dhcp_vm *vm, const struct wire_dhcp_reply *r,
			  uint32_t daddr, uint8_t *out)
{
	uint8_t msg[WIRE_DHCP_REPLY_MAX];
	size_t n = wire_dhcp_build(msg, sizeof(msg), r);

	if (!n)
		return 0;
	return wire_build_udp4(out, AGENT_DHCP_FRAME_MAX, vm->mac, vm->server_mac, r->server_id,
			       daddr, WIRE_DHCP_SERVER_PORT, WIRE_DHCP_CLIENT_PORT, msg, n);
}

/* The lease's options: address, mask, gateway, MTU, DNS. */
static void lease(const struct agent_dhcp_vm *vm, struct wire_dhcp_reply *r)
{
	const struct agent_vm_cfg *c = vm->c;

	r->lease_s = AGENT_DHCP_LEASE_S;
	r->netmask = htonl(0xffffffffu << (32 - c->plen));
	r->router = c->gateway ? htonl(c->gateway) : 0;
	r->mtu = AGENT_DHCP_MTU;
	r->ndns = c->ndns < WIRE_DHCP_MAX_DNS ? c->ndns : WIRE_DHCP_MAX_DNS;
	for (unsigned i = 0; i < r->ndns; i++)
		r->dns[i] = htonl(c->dns[i]);
}

enum agent_dhcp_verdict agent_dhcp_answer(const struct agent_dhcp_vm *vm, const uint8_t *frame,
					  size_t len, uint8_t *out, size_t *outlen)
{
	const struct wire_ipv4 *ip;
	struct wire_dhcp_msg m;
	struct wire_dhcp_reply r;
	enum wire_dhcp_err err;
	const uint8_t *p;
	size_t plen;
	uint32_t self = htonl(vm->c->ip), want, daddr;
	enum agent_dhcp_verdict v;

	*outlen = 0;
	if (!(p = udp_payload(frame, len, &ip, &plen)))
		return AGENT_DHCP_drop_frame;
	if ((err = wire_dhcp_parse(p, plen, &m)))
		return parse_verdict(err);
	if (!own(vm, frame, ip, &m))
		return AGENT_DHCP_drop_spoof;
	if (!vm->c->plen)
		return AGENT_DHCP_drop_no_config;
	r = (struct wire_dhcp_reply){ .xid = m.xid, .flags = m.flags,
				      .server_id = htonl(agent_dhcp_server_id(vm->c)) };
	memcpy(r.chaddr, vm->mac, 6);
	switch (m.type) {
	case WIRE_DHCP_RELEASE:
		return AGENT_DHCP_release;
	case WIRE_DHCP_DECLINE:
		return AGENT_DHCP_decline;
	case WIRE_DHCP_INFORM:
		lease(vm, &r);
		r.lease_s = 0;
		r.type = WIRE_DHCP_ACK;
		r.ciaddr = m.ciaddr;
		v = AGENT_DHCP_ack;
		break;
	case WIRE_DHCP_DISCOVER:
		lease(vm, &r);
		r.type = WIRE_DHCP_OFFER;
		r.yiaddr = self;
		v = AGENT_DHCP_offer;
		break;
	default:	/* REQUEST */
		if (m.server_id && m.server_id != r.server_id)
			return AGENT_DHCP_other_server;
		want = m.requested ? m.requested : m.ciaddr;
		if (want != self) {
			r.type = WIRE_DHCP_NAK;
			r.flags |= WIRE_HTONS(FLAG_BROADCAST);
			v = AGENT_DHCP_nak;
			break;
		}
		lease(vm, &r);
		r.type = WIRE_DHCP_ACK;
		r.ciaddr = m.ciaddr;
		r.yiaddr = self;
		v = AGENT_DHCP_ack;
		break;
	}
	/* RFC 2131 4.1: to ciaddr if the client has one, broadcast if it
	 * asks, else to the address given (the frame goes to its MAC) */
	daddr = m.ciaddr && v != AGENT_DHCP_nak ? m.ciaddr
		: (r.flags & WIRE_HTONS(FLAG_BROADCAST)) ? BROADCAST : r.yiaddr;
	*outlen = reply_frame(vm, &r, daddr, out);
	return *outlen ? v : AGENT_DHCP_drop_send;
}

bool agent_dhcp_admit(struct agent_dhcp_bucket *b, uint64_t now_ns)
{
	uint64_t step = 1000000000ull / AGENT_DHCP_PER_S;

	if (!b->started || now_ns < b->at_ns) {
		*b = (struct agent_dhcp_bucket){ .at_ns = now_ns, .tokens = AGENT_DHCP_BURST,
						 .started = true };
	} else if (now_ns - b->at_ns >= step) {
		uint64_t add = (now_ns - b->at_ns) / step;

		b->tokens = (uint32_t)MIN((uint64_t)AGENT_DHCP_BURST, b->tokens + add);
		b->at_ns += add * step;
	}
	if (!b->tokens)
		return false;
	b->tokens--;
	return true;
}

const char *agent_dhcp_name(enum agent_dhcp_verdict v)
{
	static const char *const names[] = {
#define AGENT_DHCP_NAME(name, desc) #name,
		AGENT_DHCP_VERDICTS(AGENT_DHCP_NAME)
#undef AGENT_DHCP_NAME
	};

	return (unsigned)v < AGENT_DHCP_COUNT ? names[v] : "?";
}

const char *agent_dhcp_desc(enum agent_dhcp_verdict v)
{
	static const char *const descs[] = {
#define AGENT_DHCP_DESC(name, desc) desc,
		AGENT_DHCP_VERDICTS(AGENT_DHCP_DESC)
#undef AGENT_DHCP_DESC
	};

	return (unsigned)v < AGENT_DHCP_COUNT ? descs[v] : "?";
}
