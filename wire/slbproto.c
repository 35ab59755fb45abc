/* The load balancer's control messages (see slbproto.h). */
#include "wire/slbproto.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "wire/be.h"

static bool ring_ok(const struct slbp_msg *m)
{
	const struct slbp_ring *r = &m->ring;

	if (!m->sender || m->sender > SLBP_RING_ID_MAX || !r->kind || r->kind > 5 ||
	    r->who > SLBP_RING_ID_MAX || r->load > 100 || r->nvips > SLBP_RING_VIPS_MAX)
		return false;
	for (uint16_t v = 0; v < r->nvips; v++)
		if (!r->owner[v] || r->owner[v] > SLBP_RING_ID_MAX)
			return false;
	return true;
}

static bool fields_ok(const struct slbp_msg *m)
{
	if (m->type == SLBP_RING)
		return ring_ok(m);
	if (!m->vdc || m->vdc > SLBP_VDC_MAX)
		return false;
	if (m->type == SLBP_LOAD)
		return m->a <= 100 && m->b <= 100;
	return m->a <= 1 && m->b == 0;
}

static int ring_decode(const uint8_t *buf, size_t len, const struct auth_key *key,
		       struct slbp_msg *out)
{
	const uint8_t *body = buf + SLBP_HDR_BYTES;
	struct slbp_ring *r = &out->ring;

	if (len < SLBP_HDR_BYTES + SLBP_RING_FIXED + AUTH_TAG_BYTES ||
	    len != (size_t)SLBP_HDR_BYTES + SLBP_RING_FIXED + wire_get16(body + 12) + AUTH_TAG_BYTES)
		return -SLBP_E_LENGTH;
	if (!auth_verify(key, buf, len - AUTH_TAG_BYTES, buf + len - AUTH_TAG_BYTES))
		return -SLBP_E_AUTH;
	memset(out, 0, sizeof(*out));
	out->type = SLBP_RING;
	out->sender = wire_get32(buf + 4);
	out->seq = wire_get64(buf + 8);
	out->time_ns = wire_get64(buf + 16);
	r->kind = body[0];
	r->who = body[1];
	r->load = body[2];
	r->version = wire_get64(body + 4);
	r->nvips = wire_get16(body + 12);
	if (r->nvips > SLBP_RING_VIPS_MAX || body[3] || wire_get16(body + 14))
		return -SLBP_E_FIELD;
	memcpy(r->owner, body + SLBP_RING_FIXED, r->nvips);
	return ring_ok(out) ? 0 : -SLBP_E_FIELD;
}

static size_t ring_encode(uint8_t *buf, size_t cap, const struct slbp_msg *m,
			  const struct auth_key *key)
{
	const struct slbp_ring *r = &m->ring;
	size_t body = SLBP_RING_FIXED + r->nvips, len = SLBP_HDR_BYTES + body + AUTH_TAG_BYTES;
	uint8_t *b = buf + SLBP_HDR_BYTES;

	if (cap < len)
		return 0;
	wire_put16(buf, SLBP_MAGIC);
	buf[2] = SLBP_VERSION;
	buf[3] = SLBP_RING;
	wire_put32(buf + 4, m->sender);
	wire_put64(buf + 8, m->seq);
	wire_put64(buf + 16, m->time_ns);
	b[0] = r->kind;
	b[1] = r->who;
	b[2] = r->load;
	b[3] = 0;
	wire_put64(b + 4, r->version);
	wire_put16(b + 12, r->nvips);
	wire_put16(b + 14, 0);
	memcpy(b + SLBP_RING_FIXED, r->owner, r->nvips);
	auth_tag(key, buf, SLBP_HDR_BYTES + body, buf + SLBP_HDR_BYTES + body);
	return len;
}

int slbp_decode(const uint8_t *buf, size_t len, const struct auth_key *key, struct slbp_msg *out)
{
	const uint8_t *body = buf + SLBP_HDR_BYTES;

	if (len < SLBP_HDR_BYTES + AUTH_TAG_BYTES)
		return -SLBP_E_SHORT;
	if (wire_get16(buf) != SLBP_MAGIC)
		return -SLBP_E_MAGIC;
	if (buf[2] != SLBP_VERSION)
		return -SLBP_E_VERSION;
	if (buf[3] < 1 || buf[3] > SLBP_TYPE_MAX)
		return -SLBP_E_TYPE;
	if (buf[3] == SLBP_RING)
		return ring_decode(buf, len, key, out);
	if (len != SLBP_DGRAM_BYTES)
		return -SLBP_E_LENGTH;
	if (!auth_verify(key, buf, len - AUTH_TAG_BYTES, buf + len - AUTH_TAG_BYTES))
		return -SLBP_E_AUTH;
	*out = (struct slbp_msg){
		.type = buf[3], .sender = wire_get32(buf + 4), .seq = wire_get64(buf + 8),
		.time_ns = wire_get64(buf + 16), .vdc = wire_get32(body), .a = body[8],
		.b = body[9],
	};
	memcpy(&out->ip, body + 4, 4);
	if (!fields_ok(out) || wire_get16(body + 10))
		return -SLBP_E_FIELD;
	return 0;
}

size_t slbp_encode(uint8_t *buf, size_t cap, const struct slbp_msg *m, const struct auth_key *key)
{
	uint8_t *body = buf + SLBP_HDR_BYTES;

	if (m->type < 1 || m->type > SLBP_TYPE_MAX || !fields_ok(m))
		return 0;
	if (m->type == SLBP_RING)
		return ring_encode(buf, cap, m, key);
	if (cap < SLBP_DGRAM_BYTES)
		return 0;
	wire_put16(buf, SLBP_MAGIC);
	buf[2] = SLBP_VERSION;
	buf[3] = m->type;
	wire_put32(buf + 4, m->sender);
	wire_put64(buf + 8, m->seq);
	wire_put64(buf + 16, m->time_ns);
	wire_put32(body, m->vdc);
	memcpy(body + 4, &m->ip, 4);
	body[8] = m->a;
	body[9] = m->b;
	wire_put16(body + 10, 0);
	auth_tag(key, buf, SLBP_HDR_BYTES + SLBP_BODY_BYTES, buf + SLBP_HDR_BYTES + SLBP_BODY_BYTES);
	return SLBP_DGRAM_BYTES;
}

const char *slbp_err_name(int err)
{
	static const char *const names[] = {
		"none",
#define SLBP_ERR_NAME(name, desc) #name,
		SLBP_ERRORS(SLBP_ERR_NAME)
#undef SLBP_ERR_NAME
	};
	static char lower[SLBP_E_COUNT][16];

	if (err < 0)
		err = -err;
	if (err >= SLBP_E_COUNT)
		return "?";
	if (!lower[err][0])
		for (size_t i = 0; names[err][i] && i + 1 < sizeof(lower[err]); i++)
			lower[err][i] = (char)tolower((unsigned char)names[err][i]);
	return lower[err];
}

const char *slbp_type_name(uint8_t type)
{
	static const char *const names[] = { "?", "health", "load", "drain", "ring" };

	return type <= SLBP_TYPE_MAX ? names[type] : "?";
}
