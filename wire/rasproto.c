#include "wire/rasproto.h"

#include <stdlib.h>
#include <string.h>

#include "lib/hash.h"
#include "wire/be.h"

/* Header, then `body` bytes already in place at buf + RASP_HDR_BYTES, then
 * the tag.  Returns the total length. */
static size_t finish(uint8_t *buf, const struct rasp_hdr *h, uint8_t type, size_t body,
		     const struct auth_key *key)
{
	wire_put16(buf, RASP_MAGIC);
	buf[2] = RASP_VERSION;
	buf[3] = type;
	wire_put32(buf + 4, h->sender);
	wire_put64(buf + 8, h->seq);
	wire_put64(buf + 16, h->time_ns);
	auth_tag(key, buf, RASP_HDR_BYTES + body, buf + RASP_HDR_BYTES + body);
	return RASP_HDR_BYTES + body + AUTH_TAG_BYTES;
}

static bool fits(size_t cap, size_t body)
{
	return RASP_HDR_BYTES + body + AUTH_TAG_BYTES <= cap;
}

size_t rasp_enc_traffic(uint8_t *buf, size_t cap, const struct rasp_hdr *h,
			uint32_t interval_ms, uint16_t part, uint16_t parts,
			const struct rasp_flow *flows, uint16_t n, const struct auth_key *key)
{
	size_t body = RASP_TRAFFIC_FIXED + (size_t)n * RASP_FLOW_BYTES;
	uint8_t *p = buf + RASP_HDR_BYTES;

	if (n > RASP_MAX_FLOWS || parts == 0 || part >= parts || !fits(cap, body))
		return 0;
	wire_put32(p, interval_ms);
	wire_put16(p + 4, part);
	wire_put16(p + 6, parts);
	p += RASP_TRAFFIC_FIXED;
	for (uint16_t i = 0; i < n; i++, p += RASP_FLOW_BYTES) {
		if (flows[i].src_id > RASP_ID_MAX || flows[i].dst_id > RASP_ID_MAX ||
		    flows[i].dst_server > RASP_ID_MAX)
			return 0;
		wire_put32(p, flows[i].src_id);
		wire_put32(p + 4, flows[i].dst_id);
		wire_put64(p + 8, flows[i].bytes);
		wire_put64(p + 16, flows[i].packets);
		wire_put32(p + 24, flows[i].dst_server);
	}
	return finish(buf, h, RASP_TRAFFIC, body, key);
}

size_t rasp_enc_moved(uint8_t *buf, size_t cap, const struct rasp_hdr *h,
		      const struct rasp_moved *mv, const struct auth_key *key)
{
	uint8_t *p = buf + RASP_HDR_BYTES;

	if (!fits(cap, 12) || mv->vm_id > RASP_ID_MAX)
		return 0;
	wire_put32(p, mv->vm_id);
	wire_put32(p + 4, mv->old_server);
	wire_put32(p + 8, mv->new_server);
	return finish(buf, h, RASP_MOVED, 12, key);
}

size_t rasp_enc_ack(uint8_t *buf, size_t cap, const struct rasp_hdr *h, uint64_t acked,
		    const struct auth_key *key)
{
	if (!fits(cap, 8))
		return 0;
	wire_put64(buf + RASP_HDR_BYTES, acked);
	return finish(buf, h, RASP_ACK, 8, key);
}

size_t rasp_enc_direct(uint8_t *buf, size_t cap, const struct rasp_hdr *h,
		       const struct rasp_direct *d, uint16_t n, const struct auth_key *key)
{
	size_t body = (size_t)n * RASP_DIRECT_BYTES;
	uint8_t *p = buf + RASP_HDR_BYTES;

	if (n == 0 || n > RASP_MAX_DIRECT || !fits(cap, body))
		return 0;
	for (uint16_t i = 0; i < n; i++, p += RASP_DIRECT_BYTES) {
		if (d[i].vm_id > RASP_ID_MAX || d[i].tree > 1 || d[i].on > 1)
			return 0;
		wire_put32(p, d[i].vm_id);
		p[4] = d[i].tree;
		p[5] = d[i].on;
		wire_put16(p + 6, 0);
	}
	return finish(buf, h, RASP_DIRECT, body, key);
}

static int decode_direct(const uint8_t *p, size_t body, struct rasp_msg *m)
{
	if (body == 0 || body % RASP_DIRECT_BYTES)
		return -RASP_E_LENGTH;
	m->u.direct.n = (uint16_t)(body / RASP_DIRECT_BYTES);
	m->u.direct.recs = p;
	for (uint16_t i = 0; i < m->u.direct.n; i++, p += RASP_DIRECT_BYTES)
		if (wire_get32(p) > RASP_ID_MAX || p[4] > 1 || p[5] > 1 || wire_get16(p + 6))
			return -RASP_E_FIELD;
	return 0;
}

static int decode_body(const uint8_t *p, size_t body, struct rasp_msg *m)
{
	switch (m->h.type) {
	case RASP_TRAFFIC:
		if (body < RASP_TRAFFIC_FIXED || (body - RASP_TRAFFIC_FIXED) % RASP_FLOW_BYTES)
			return -RASP_E_LENGTH;
		m->u.traffic.interval_ms = wire_get32(p);
		m->u.traffic.part = wire_get16(p + 4);
		m->u.traffic.parts = wire_get16(p + 6);
		m->u.traffic.n = (uint16_t)((body - RASP_TRAFFIC_FIXED) / RASP_FLOW_BYTES);
		m->u.traffic.flows = p + RASP_TRAFFIC_FIXED;
		if (m->u.traffic.parts == 0 || m->u.traffic.part >= m->u.traffic.parts)
			return -RASP_E_FIELD;
		for (uint16_t i = 0; i < m->u.traffic.n; i++) {
			const uint8_t *f = m->u.traffic.flows + (size_t)i * RASP_FLOW_BYTES;

			if (wire_get32(f) > RASP_ID_MAX || wire_get32(f + 4) > RASP_ID_MAX ||
			    wire_get32(f + 24) > RASP_ID_MAX)
				return -RASP_E_FIELD;
		}
		return 0;
	case RASP_MOVED:
		if (body != 12)
			return -RASP_E_LENGTH;
		m->u.moved.vm_id = wire_get32(p);
		m->u.moved.old_server = wire_get32(p + 4);
		m->u.moved.new_server = wire_get32(p + 8);
		return m->u.moved.vm_id > RASP_ID_MAX ? -RASP_E_FIELD : 0;
	case RASP_ACK:
		if (body != 8)
			return -RASP_E_LENGTH;
		m->u.ack.acked = wire_get64(p);
		return 0;
	case RASP_DIRECT:
		return decode_direct(p, body, m);
	}
	return -RASP_E_TYPE;
}

int rasp_decode(const uint8_t *buf, size_t len, const struct auth_key *key,
		struct rasp_msg *out)
{
	size_t body;

	memset(out, 0, sizeof(*out));
	if (len < RASP_HDR_BYTES + AUTH_TAG_BYTES || len > RASP_MAX_DGRAM)
		return -RASP_E_SHORT;
	if (wire_get16(buf) != RASP_MAGIC)
		return -RASP_E_MAGIC;
	if (buf[2] != RASP_VERSION)
		return -RASP_E_VERSION;
	if (buf[3] == 0 || buf[3] > RASP_TYPE_MAX)
		return -RASP_E_TYPE;
	body = len - RASP_HDR_BYTES - AUTH_TAG_BYTES;
	if (!auth_verify(key, buf, RASP_HDR_BYTES + body, buf + RASP_HDR_BYTES + body))
		return -RASP_E_AUTH;
	out->h.type = buf[3];
	out->h.sender = wire_get32(buf + 4);
	out->h.seq = wire_get64(buf + 8);
	out->h.time_ns = wire_get64(buf + 16);
	return decode_body(buf + RASP_HDR_BYTES, body, out);
}

void rasp_flow_at(const struct rasp_msg *m, uint16_t i, struct rasp_flow *f)
{
	const uint8_t *p = m->u.traffic.flows + (size_t)i * RASP_FLOW_BYTES;

	f->src_id = wire_get32(p);
	f->dst_id = wire_get32(p + 4);
	f->bytes = wire_get64(p + 8);
	f->packets = wire_get64(p + 16);
	f->dst_server = wire_get32(p + 24);
}

void rasp_direct_at(const struct rasp_msg *m, uint16_t i, struct rasp_direct *d)
{
	const uint8_t *p = m->u.direct.recs + (size_t)i * RASP_DIRECT_BYTES;

	d->vm_id = wire_get32(p);
	d->tree = p[4];
	d->on = p[5];
}

const char *rasp_err_name(int err)
{
	static const char *const names[RASP_E_COUNT] = {
		[RASP_E_SHORT] = "short", [RASP_E_MAGIC] = "bad-magic",
		[RASP_E_VERSION] = "bad-version", [RASP_E_TYPE] = "bad-type",
		[RASP_E_AUTH] = "bad-tag", [RASP_E_LENGTH] = "bad-length",
		[RASP_E_FIELD] = "bad-field",
	};

	err = err < 0 ? -err : err;
	return err > 0 && err < RASP_E_COUNT ? names[err] : "?";
}

const char *rasp_type_name(uint8_t type)
{
	static const char *const names[] = { "?", "TRAFFIC", "MOVED", "ACK", "DIRECT" };

	return type <= RASP_TYPE_MAX ? names[type] : "?";
}

struct rasp_replay {
	struct hmap highest;	/* sender -> highest accepted seq */
};

struct rasp_replay *rasp_replay_new(void)
{
	struct rasp_replay *r = xcalloc(1, sizeof(*r));

	hmap_init(&r->highest, 64, 0x7261737072706c79ull);
	return r;
}

void rasp_replay_free(struct rasp_replay *r)
{
	if (!r)
		return;
	hmap_free(&r->highest);
	free(r);
}

bool rasp_replay_accept(struct rasp_replay *r, uint32_t sender, uint64_t seq)
{
	uint64_t *hi = hmap_get(&r->highest, sender);

	if (hi && seq <= *hi)
		return false;
	hmap_put(&r->highest, sender, seq);
	return true;
}
