/* DHCPv4 messages: parse what a client sends, build what a server answers
 * (wire/dhcp.h).  Every read is checked against the message's length. */
#include "wire/dhcp.h"

#include <string.h>

#define COOKIE 0x63825363u
#define OPT_PAD 0
#define OPT_END 255

enum dhcp_opt {
	OPT_NETMASK = 1,
	OPT_ROUTER = 3,
	OPT_DNS = 6,
	OPT_MTU = 26,
	OPT_REQUESTED = 50,
	OPT_LEASE = 51,
	OPT_TYPE = 53,
	OPT_SERVER_ID = 54,
	OPT_T1 = 58,
	OPT_T2 = 59,
};

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* an address as it was on the wire (network order in memory) */
static uint32_t get_addr(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static bool client_type(uint8_t t)
{
	return t == WIRE_DHCP_DISCOVER || t == WIRE_DHCP_REQUEST || t == WIRE_DHCP_DECLINE ||
	       t == WIRE_DHCP_RELEASE || t == WIRE_DHCP_INFORM;
}

/* One option we read: its value must be exactly want bytes. */
static enum wire_dhcp_err take_opt(struct wire_dhcp_msg *m, uint8_t code, const uint8_t *v,
				   uint8_t n)
{
	switch (code) {
	case OPT_TYPE:
		if (n != 1)
			return WIRE_DHCP_ERR_OPTION_LEN;
		m->type = v[0];
		break;
	case OPT_REQUESTED:
		if (n != 4)
			return WIRE_DHCP_ERR_OPTION_LEN;
		m->requested = get_addr(v);
		break;
	case OPT_SERVER_ID:
		if (n != 4)
			return WIRE_DHCP_ERR_OPTION_LEN;
		m->server_id = get_addr(v);
		break;
	default:
		break;
	}
	return WIRE_DHCP_ERR_OK;
}

static enum wire_dhcp_err parse_options(const uint8_t *p, size_t len, struct wire_dhcp_msg *m)
{
	size_t i = WIRE_DHCP_FIXED + 4;
	enum wire_dhcp_err err;

	while (i < len) {
		uint8_t code = p[i++], n;

		if (code == OPT_END)
			break;
		if (code == OPT_PAD)
			continue;
		if (i >= len)
			return WIRE_DHCP_ERR_OPTION;
		n = p[i++];
		if (n > len - i)
			return WIRE_DHCP_ERR_OPTION;
		if ((err = take_opt(m, code, p + i, n)))
			return err;
		i += n;
	}
	return WIRE_DHCP_ERR_OK;
}

enum wire_dhcp_err wire_dhcp_parse(const uint8_t *p, size_t len, struct wire_dhcp_msg *m)
{
	enum wire_dhcp_err err;

	memset(m, 0, sizeof(*m));
	if (len < WIRE_DHCP_MIN)
		return WIRE_DHCP_ERR_SHORT;
	if (len > WIRE_DHCP_MAX)
		len = WIRE_DHCP_MAX;	/* a longer payload is not ours to read */
	if (p[0] != 1)
		return WIRE_DHCP_ERR_OP;
	if (p[1] != 1 || p[2] != 6)
		return WIRE_DHCP_ERR_HW;
	if (get32(p + WIRE_DHCP_FIXED) != COOKIE)
		return WIRE_DHCP_ERR_COOKIE;
	memcpy(&m->xid, p + 4, 4);
	memcpy(&m->flags, p + 10, 2);
	m->ciaddr = get_addr(p + 12);
	m->giaddr = get_addr(p + 24);
	memcpy(m->chaddr, p + 28, 6);
	if ((err = parse_options(p, len, m)))
		return err;
	if (!m->type)
		return WIRE_DHCP_ERR_NO_TYPE;
	if (!client_type(m->type))
		return WIRE_DHCP_ERR_TYPE;
	return WIRE_DHCP_ERR_OK;
}

const char *wire_dhcp_err_name(enum wire_dhcp_err e)
{
	static const char *const names[] = {
#define WIRE_DHCP_ERR_NAME(name, desc) desc,
		WIRE_DHCP_ERRS(WIRE_DHCP_ERR_NAME)
#undef WIRE_DHCP_ERR_NAME
	};

	return (unsigned)e < WIRE_DHCP_ERR_COUNT ? names[e] : "?";
}

/* ---- building ---------------------------------------------------------------- */

struct opts {
	uint8_t *p;
	size_t n, cap;
	bool full;
};

static void opt(struct opts *o, uint8_t code, const void *v, uint8_t n)
{
	if (o->n + 2u + n > o->cap) {
		o->full = true;
		return;
	}
	o->p[o->n++] = code;
	o->p[o->n++] = n;
	memcpy(o->p + o->n, v, n);
	o->n += n;
}

static void opt32(struct opts *o, uint8_t code, uint32_t host)
{
	uint8_t v[4];

	put32(v, host);
	opt(o, code, v, 4);
}

static void opt_addr(struct opts *o, uint8_t code, uint32_t be)
{
	if (be)
		opt(o, code, &be, 4);
}

/* The fixed part (op .. file) and the cookie; the options start at 240. */
static void fixed(uint8_t *buf, uint8_t op, uint32_t xid, uint16_t flags, uint32_t ciaddr,
		  uint32_t yiaddr, const uint8_t chaddr[6])
{
	memset(buf, 0, WIRE_DHCP_FIXED + 4);
	buf[0] = op;
	buf[1] = 1;
	buf[2] = 6;
	memcpy(buf + 4, &xid, 4);
	memcpy(buf + 10, &flags, 2);
	memcpy(buf + 12, &ciaddr, 4);
	memcpy(buf + 16, &yiaddr, 4);
	memcpy(buf + 28, chaddr, 6);
	put32(buf + WIRE_DHCP_FIXED, COOKIE);
}

static size_t finish(struct opts *o)
{
	uint8_t end = OPT_END;

	if (o->n + 1 > o->cap || o->full)
		return 0;
	o->p[o->n++] = end;
	/* pad to BOOTP's 300 bytes, which some clients still expect */
	while (WIRE_DHCP_FIXED + 4 + o->n < WIRE_DHCP_BOOTP_MIN && o->n < o->cap)
		o->p[o->n++] = OPT_PAD;
	return WIRE_DHCP_FIXED + 4 + o->n;
}

size_t wire_dhcp_build(uint8_t *buf, size_t cap, const struct wire_dhcp_reply *r)
{
	struct opts o;
	uint8_t mtu[2] = { (uint8_t)(r->mtu >> 8), (uint8_t)r->mtu };

	if (cap < WIRE_DHCP_FIXED + 4 + 1)
		return 0;
	fixed(buf, 2, r->xid, r->flags, r->ciaddr, r->yiaddr, r->chaddr);
	o = (struct opts){ .p = buf + WIRE_DHCP_FIXED + 4, .cap = cap - WIRE_DHCP_FIXED - 4 };
	opt(&o, OPT_TYPE, &r->type, 1);
	opt_addr(&o, OPT_SERVER_ID, r->server_id);
	if (r->type == WIRE_DHCP_NAK)
		return finish(&o);
	if (r->lease_s) {
		opt32(&o, OPT_LEASE, r->lease_s);
		opt32(&o, OPT_T1, r->lease_s / 2);
		opt32(&o, OPT_T2, r->lease_s / 8 * 7);
	}
	opt_addr(&o, OPT_NETMASK, r->netmask);
	opt_addr(&o, OPT_ROUTER, r->router);
	if (r->mtu)
		opt(&o, OPT_MTU, mtu, 2);
	if (r->ndns)
		opt(&o, OPT_DNS, r->dns, (uint8_t)(4 * MIN(r->ndns, (unsigned)WIRE_DHCP_MAX_DNS)));
	return finish(&o);
}

size_t wire_dhcp_build_request(uint8_t *buf, size_t cap, uint8_t type, uint32_t xid,
			       const uint8_t chaddr[6], uint32_t ciaddr, uint32_t requested,
			       uint32_t server_id)
{
	struct opts o;

	if (cap < WIRE_DHCP_FIXED + 4 + 1)
		return 0;
	fixed(buf, 1, 0, 0, ciaddr, 0, chaddr);
	put32(buf + 4, xid);
	o = (struct opts){ .p = buf + WIRE_DHCP_FIXED + 4, .cap = cap - WIRE_DHCP_FIXED - 4 };
	opt(&o, OPT_TYPE, &type, 1);
	opt_addr(&o, OPT_REQUESTED, requested);
	opt_addr(&o, OPT_SERVER_ID, server_id);
	return finish(&o);
}
