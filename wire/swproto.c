/* The switchd protocol: encoding and decoding (format in
 * docs/switchd-protocol.md). */
#include "wire/swproto.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "wire/be.h"

/* ---- names ----------------------------------------------------------------- */
const char *swp_err_name(int err)
{
	static const char *const names[SWP_E_COUNT] = {
		[SWP_E_SHORT] = "short", [SWP_E_MAGIC] = "bad magic",
		[SWP_E_VERSION] = "bad version", [SWP_E_TYPE] = "unknown type",
		[SWP_E_AUTH] = "bad tag", [SWP_E_LENGTH] = "bad length",
		[SWP_E_FIELD] = "bad field",
	};

	if (err < 0)
		err = -err;
	return err > 0 && err < SWP_E_COUNT ? names[err] : "?";
}

const char *swp_type_name(uint8_t type)
{
	static const char *const names[] = {
		"?", "fib_ops", "fib_ack", "dump_req", "dump_fib", "dump_ports",
		"link", "link_ack",
	};

	return type <= SWP_TYPE_MAX ? names[type] : "?";
}

const char *swp_status_name(uint8_t status)
{
	static const char *const names[] = {
		"ok", "fib full", "no such port", "not found", "bad mac",
		"kernel refused",
	};

	return status <= SWP_STATUS_MAX ? names[status] : "?";
}

/* ---- encoding -------------------------------------------------------------- */
/* Header at buf, body of `body` bytes already written after it; append the
 * tag.  Returns the total length or 0 if it does not fit. */
static size_t seal(uint8_t *buf, size_t cap, const struct swp_hdr *h, size_t body,
		   const struct auth_key *key)
{
	size_t len = SWP_HDR_BYTES + body;

	if (len + AUTH_TAG_BYTES > cap || len + AUTH_TAG_BYTES > SWP_MAX_DGRAM)
		return 0;
	wire_put16(buf, SWP_MAGIC);
	buf[2] = SWP_VERSION;
	buf[3] = h->type;
	wire_put32(buf + 4, h->sender);
	wire_put64(buf + 8, h->seq);
	auth_tag(key, buf, len, buf + len);
	return len + AUTH_TAG_BYTES;
}

/* Room for a body of n bytes after the header (and the tag)? */
static bool fits(size_t cap, size_t body)
{
	return SWP_HDR_BYTES + body + AUTH_TAG_BYTES <= MIN(cap, (size_t)SWP_MAX_DGRAM);
}

static struct swp_hdr typed(const struct swp_hdr *h, uint8_t type)
{
	struct swp_hdr t = *h;

	t.type = type;
	return t;
}

size_t swp_enc_fib_ops(uint8_t *buf, size_t cap, const struct swp_hdr *h,
		       const struct swp_op *ops, uint16_t n, const struct auth_key *key)
{
	size_t body = 4 + (size_t)n * SWP_OP_BYTES;
	struct swp_hdr t = typed(h, SWP_FIB_OPS);
	uint8_t *p = buf + SWP_HDR_BYTES;

	if (n > SWP_MAX_OPS || !fits(cap, body))
		return 0;
	wire_put16(p, n);
	wire_put16(p + 2, 0);
	for (uint16_t i = 0; i < n; i++) {
		uint8_t *o = p + 4 + (size_t)i * SWP_OP_BYTES;

		o[0] = ops[i].kind;
		o[1] = 0;
		wire_put16(o + 2, ops[i].port);
		memcpy(o + 4, ops[i].mac, 6);
	}
	return seal(buf, cap, &t, body, key);
}

size_t swp_enc_fib_ack(uint8_t *buf, size_t cap, const struct swp_hdr *h, uint32_t used,
		       uint32_t fib_cap, uint64_t sum, const uint8_t *status, uint16_t n,
		       const struct auth_key *key)
{
	size_t body = 20 + n;
	struct swp_hdr t = typed(h, SWP_FIB_ACK);
	uint8_t *p = buf + SWP_HDR_BYTES;

	if (n > SWP_MAX_OPS || !fits(cap, body))
		return 0;
	wire_put32(p, used);
	wire_put32(p + 4, fib_cap);
	wire_put64(p + 8, sum);
	wire_put16(p + 16, n);
	wire_put16(p + 18, 0);
	memcpy(p + 20, status, n);
	return seal(buf, cap, &t, body, key);
}

size_t swp_enc_dump_req(uint8_t *buf, size_t cap, const struct swp_hdr *h, uint8_t what,
			uint32_t offset, const struct auth_key *key)
{
	struct swp_hdr t = typed(h, SWP_DUMP_REQ);
	uint8_t *p = buf + SWP_HDR_BYTES;

	if (!fits(cap, 8))
		return 0;
	p[0] = what;
	p[1] = p[2] = p[3] = 0;
	wire_put32(p + 4, offset);
	return seal(buf, cap, &t, 8, key);
}

size_t swp_enc_dump_fib(uint8_t *buf, size_t cap, const struct swp_hdr *h, uint32_t used,
			uint32_t fib_cap, uint64_t sum, uint32_t offset,
			const struct swp_fib_entry *e, uint16_t n,
			const struct auth_key *key)
{
	size_t body = 24 + (size_t)n * SWP_FIB_ENTRY_BYTES;
	struct swp_hdr t = typed(h, SWP_DUMP_FIB);
	uint8_t *p = buf + SWP_HDR_BYTES;

	if (n > SWP_MAX_DUMP_FIB || !fits(cap, body))
		return 0;
	wire_put32(p, used);
	wire_put32(p + 4, fib_cap);
	wire_put64(p + 8, sum);
	wire_put32(p + 16, offset);
	wire_put16(p + 20, n);
	wire_put16(p + 22, 0);
	for (uint16_t i = 0; i < n; i++) {
		uint8_t *o = p + 24 + (size_t)i * SWP_FIB_ENTRY_BYTES;

		memcpy(o, e[i].mac, 6);
		wire_put16(o + 6, e[i].port);
	}
	return seal(buf, cap, &t, body, key);
}

size_t swp_enc_dump_ports(uint8_t *buf, size_t cap, const struct swp_hdr *h,
			  uint32_t total, uint32_t offset, const struct swp_port *ports,
			  uint16_t n, const struct auth_key *key)
{
	size_t body = 12 + (size_t)n * SWP_PORT_BYTES;
	struct swp_hdr t = typed(h, SWP_DUMP_PORTS);
	uint8_t *p = buf + SWP_HDR_BYTES;

	if (n > SWP_MAX_DUMP_PORTS || !fits(cap, body))
		return 0;
	wire_put32(p, total);
	wire_put32(p + 4, offset);
	wire_put16(p + 8, n);
	wire_put16(p + 10, 0);
	for (uint16_t i = 0; i < n; i++) {
		uint8_t *o = p + 12 + (size_t)i * SWP_PORT_BYTES;

		wire_put16(o, ports[i].port);
		o[2] = ports[i].state;
		o[3] = 0;
	}
	return seal(buf, cap, &t, body, key);
}

size_t swp_enc_link(uint8_t *buf, size_t cap, const struct swp_hdr *h, uint16_t port,
		    uint8_t state, uint64_t at_ns, const struct auth_key *key)
{
	struct swp_hdr t = typed(h, SWP_LINK);
	uint8_t *p = buf + SWP_HDR_BYTES;

	if (!fits(cap, 12))
		return 0;
	wire_put16(p, port);
	p[2] = state;
	p[3] = 0;
	wire_put64(p + 4, at_ns);
	return seal(buf, cap, &t, 12, key);
}

size_t swp_enc_link_ack(uint8_t *buf, size_t cap, const struct swp_hdr *h, uint64_t acked,
			const struct auth_key *key)
{
	struct swp_hdr t = typed(h, SWP_LINK_ACK);

	if (!fits(cap, 8))
		return 0;
	wire_put64(buf + SWP_HDR_BYTES, acked);
	return seal(buf, cap, &t, 8, key);
}

/* ---- decoding -------------------------------------------------------------- */
static int dec_fib_ops(const uint8_t *p, size_t len, struct swp_msg *m)
{
	uint16_t n;

	if (len < 4)
		return -SWP_E_LENGTH;
	n = wire_get16(p);
	if (wire_get16(p + 2) || n > SWP_MAX_OPS)
		return -SWP_E_FIELD;
	if (len != 4 + (size_t)n * SWP_OP_BYTES)
		return -SWP_E_LENGTH;
	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *o = p + 4 + (size_t)i * SWP_OP_BYTES;

		if ((o[0] != SWP_OP_ADD && o[0] != SWP_OP_DEL) || o[1] ||
		    wire_get16(o + 2) > SWP_MAX_PORT)
			return -SWP_E_FIELD;
	}
	m->u.fib_ops.n = n;
	m->u.fib_ops.ops = p + 4;
	return 0;
}

static int dec_fib_ack(const uint8_t *p, size_t len, struct swp_msg *m)
{
	uint16_t n;

	if (len < 20)
		return -SWP_E_LENGTH;
	n = wire_get16(p + 16);
	if (wire_get16(p + 18) || n > SWP_MAX_OPS)
		return -SWP_E_FIELD;
	if (len != 20 + (size_t)n)
		return -SWP_E_LENGTH;
	for (uint16_t i = 0; i < n; i++)
		if (p[20 + i] > SWP_STATUS_MAX)
			return -SWP_E_FIELD;
	m->u.fib_ack.used = wire_get32(p);
	m->u.fib_ack.cap = wire_get32(p + 4);
	m->u.fib_ack.sum = wire_get64(p + 8);
	m->u.fib_ack.n = n;
	m->u.fib_ack.status = p + 20;
	return 0;
}

static int dec_dump_req(const uint8_t *p, size_t len, struct swp_msg *m)
{
	if (len != 8)
		return -SWP_E_LENGTH;
	if ((p[0] != SWP_WHAT_FIB && p[0] != SWP_WHAT_PORTS) || p[1] || p[2] || p[3])
		return -SWP_E_FIELD;
	m->u.dump_req.what = p[0];
	m->u.dump_req.offset = wire_get32(p + 4);
	return 0;
}

static int dec_dump_fib(const uint8_t *p, size_t len, struct swp_msg *m)
{
	uint16_t n;

	if (len < 24)
		return -SWP_E_LENGTH;
	n = wire_get16(p + 20);
	if (wire_get16(p + 22) || n > SWP_MAX_DUMP_FIB)
		return -SWP_E_FIELD;
	if (len != 24 + (size_t)n * SWP_FIB_ENTRY_BYTES)
		return -SWP_E_LENGTH;
	m->u.dump_fib.used = wire_get32(p);
	m->u.dump_fib.cap = wire_get32(p + 4);
	m->u.dump_fib.sum = wire_get64(p + 8);
	m->u.dump_fib.offset = wire_get32(p + 16);
	m->u.dump_fib.n = n;
	m->u.dump_fib.entries = p + 24;
	return 0;
}

static int dec_dump_ports(const uint8_t *p, size_t len, struct swp_msg *m)
{
	uint16_t n;

	if (len < 12)
		return -SWP_E_LENGTH;
	n = wire_get16(p + 8);
	if (wire_get16(p + 10) || n > SWP_MAX_DUMP_PORTS)
		return -SWP_E_FIELD;
	if (len != 12 + (size_t)n * SWP_PORT_BYTES)
		return -SWP_E_LENGTH;
	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *o = p + 12 + (size_t)i * SWP_PORT_BYTES;

		if (o[2] > SWP_PORT_UP || o[3])
			return -SWP_E_FIELD;
	}
	m->u.dump_ports.total = wire_get32(p);
	m->u.dump_ports.offset = wire_get32(p + 4);
	m->u.dump_ports.n = n;
	m->u.dump_ports.ports = p + 12;
	return 0;
}

static int dec_link(const uint8_t *p, size_t len, struct swp_msg *m)
{
	if (len != 12)
		return -SWP_E_LENGTH;
	if (p[2] > SWP_PORT_UP || p[3] || wire_get16(p) > SWP_MAX_PORT)
		return -SWP_E_FIELD;
	m->u.link.port = wire_get16(p);
	m->u.link.state = p[2];
	m->u.link.at_ns = wire_get64(p + 4);
	return 0;
}

static int dec_link_ack(const uint8_t *p, size_t len, struct swp_msg *m)
{
	if (len != 8)
		return -SWP_E_LENGTH;
	m->u.link_ack.acked = wire_get64(p);
	return 0;
}

int swp_decode(const uint8_t *buf, size_t len, const struct auth_key *key,
	       struct swp_msg *m)
{
	static int (*const body[])(const uint8_t *, size_t, struct swp_msg *) = {
		[SWP_FIB_OPS] = dec_fib_ops, [SWP_FIB_ACK] = dec_fib_ack,
		[SWP_DUMP_REQ] = dec_dump_req, [SWP_DUMP_FIB] = dec_dump_fib,
		[SWP_DUMP_PORTS] = dec_dump_ports, [SWP_LINK] = dec_link,
		[SWP_LINK_ACK] = dec_link_ack,
	};
	size_t blen;

	memset(m, 0, sizeof(*m));
	if (len < SWP_HDR_BYTES + AUTH_TAG_BYTES || len > SWP_MAX_DGRAM)
		return -SWP_E_SHORT;
	if (wire_get16(buf) != SWP_MAGIC)
		return -SWP_E_MAGIC;
	if (buf[2] != SWP_VERSION)
		return -SWP_E_VERSION;
	if (buf[3] == 0 || buf[3] > SWP_TYPE_MAX)
		return -SWP_E_TYPE;
	blen = len - SWP_HDR_BYTES - AUTH_TAG_BYTES;
	if (!auth_verify(key, buf, len - AUTH_TAG_BYTES, buf + len - AUTH_TAG_BYTES))
		return -SWP_E_AUTH;
	m->h.type = buf[3];
	m->h.sender = wire_get32(buf + 4);
	m->h.seq = wire_get64(buf + 8);
	return body[buf[3]](buf + SWP_HDR_BYTES, blen, m);
}

void swp_op_at(const struct swp_msg *m, uint16_t i, struct swp_op *op)
{
	const uint8_t *o = m->u.fib_ops.ops + (size_t)i * SWP_OP_BYTES;

	assert(i < m->u.fib_ops.n);
	op->kind = o[0];
	op->port = wire_get16(o + 2);
	memcpy(op->mac, o + 4, 6);
}

void swp_fib_entry_at(const struct swp_msg *m, uint16_t i, struct swp_fib_entry *e)
{
	const uint8_t *o = m->u.dump_fib.entries + (size_t)i * SWP_FIB_ENTRY_BYTES;

	assert(i < m->u.dump_fib.n);
	memcpy(e->mac, o, 6);
	e->port = wire_get16(o + 6);
}

void swp_port_at(const struct swp_msg *m, uint16_t i, struct swp_port *p)
{
	const uint8_t *o = m->u.dump_ports.ports + (size_t)i * SWP_PORT_BYTES;

	assert(i < m->u.dump_ports.n);
	p->port = wire_get16(o);
	p->state = o[2];
}

/* ---- MAC text -------------------------------------------------------------- */
static int hexdig(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool swp_mac_parse(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		int hi = hexdig(s[0]), lo = hi < 0 ? -1 : hexdig(s[1]);

		if (hi < 0 || lo < 0)
			return false;
		mac[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
		if (i < 5 && *s++ != ':')
			return false;
	}
	return *s == 0;
}

const char *swp_mac_str(const uint8_t mac[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
	return buf;
}
