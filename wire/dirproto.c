#include "wire/dirproto.h"

#include <assert.h>
#include <string.h>

#include "wire/be.h"

/* ---- the type table --------------------------------------------------------- */

struct type_info {
	uint8_t type;
	uint16_t rec_len;
	uint8_t max;
	const char *name;
};

static const struct type_info types[] = {
	{ DIRP_REGISTER, DIRP_ENTRY_LEN, DIRP_MAX_RECORDS, "register" },
	{ DIRP_UNREGISTER, DIRP_KEY_LEN, DIRP_MAX_RECORDS, "unregister" },
	{ DIRP_LOOKUP, DIRP_KEY_LEN, DIRP_MAX_RECORDS, "lookup" },
	{ DIRP_RENEW, DIRP_KEY_LEN, DIRP_MAX_RECORDS, "renew" },
	{ DIRP_ACK, DIRP_ACK_LEN, DIRP_MAX_RECORDS, "ack" },
	{ DIRP_SET_AVAIL, DIRP_AVAIL_LEN, DIRP_MAX_RECORDS, "set-avail" },
	{ DIRP_MOVE, DIRP_MOVE_LEN, DIRP_MAX_RECORDS, "move" },
	{ DIRP_STATS, DIRP_STAT_LEN, 0, "stats" },
	{ DIRP_REGISTER | DIRP_REPLY_BIT, DIRP_ENTRY_LEN, DIRP_MAX_RECORDS, "register-reply" },
	{ DIRP_UNREGISTER | DIRP_REPLY_BIT, DIRP_ENTRY_LEN, DIRP_MAX_RECORDS, "unregister-reply" },
	{ DIRP_LOOKUP | DIRP_REPLY_BIT, DIRP_ENTRY_LEN, DIRP_MAX_RECORDS, "lookup-reply" },
	{ DIRP_RENEW | DIRP_REPLY_BIT, DIRP_ENTRY_LEN, DIRP_MAX_RECORDS, "renew-reply" },
	{ DIRP_SET_AVAIL | DIRP_REPLY_BIT, DIRP_AVAIL_RES_LEN, DIRP_MAX_RECORDS, "set-avail-reply" },
	{ DIRP_MOVE | DIRP_REPLY_BIT, DIRP_ENTRY_LEN, DIRP_MAX_RECORDS, "move-reply" },
	{ DIRP_STATS | DIRP_REPLY_BIT, DIRP_STAT_LEN, DIRP_MAX_STATS, "stats-reply" },
	{ DIRP_REGISTER6, DIRP_ENTRY6_LEN, DIRP_MAX_RECORDS6, "register6" },
	{ DIRP_UNREGISTER6, DIRP_KEY6_LEN, DIRP_MAX_RECORDS6, "unregister6" },
	{ DIRP_LOOKUP6, DIRP_KEY6_LEN, DIRP_MAX_RECORDS6, "lookup6" },
	{ DIRP_REGISTER6 | DIRP_REPLY_BIT, DIRP_ENTRY6_LEN, DIRP_MAX_RECORDS6, "register6-reply" },
	{ DIRP_UNREGISTER6 | DIRP_REPLY_BIT, DIRP_ENTRY6_LEN, DIRP_MAX_RECORDS6, "unregister6-reply" },
	{ DIRP_LOOKUP6 | DIRP_REPLY_BIT, DIRP_ENTRY6_LEN, DIRP_MAX_RECORDS6, "lookup6-reply" },
	{ DIRP_JOIN, DIRP_MEMBER_LEN, DIRP_MAX_MEMBERS, "join" },
	{ DIRP_LEAVE, DIRP_MEMBER_LEN, DIRP_MAX_MEMBERS, "leave" },
	{ DIRP_MEMBERS, DIRP_KEY6_LEN, 1, "members" },
	{ DIRP_JOIN | DIRP_REPLY_BIT, DIRP_MEMBER_LEN, DIRP_MAX_MEMBERS, "join-reply" },
	{ DIRP_LEAVE | DIRP_REPLY_BIT, DIRP_MEMBER_LEN, DIRP_MAX_MEMBERS, "leave-reply" },
	{ DIRP_MEMBERS | DIRP_REPLY_BIT, DIRP_MEMBER_LEN, DIRP_MAX_MEMBERS, "members-reply" },
	{ DIRP_POL_SET, DIRP_POL_LEN, 1, "pol-set" },
	{ DIRP_POL_GET, DIRP_POL_LEN, 1, "pol-get" },
	{ DIRP_POL_DEL, DIRP_POL_LEN, 1, "pol-del" },
	{ DIRP_POL_SET | DIRP_REPLY_BIT, DIRP_POL_LEN, 1, "pol-set-reply" },
	{ DIRP_POL_GET | DIRP_REPLY_BIT, DIRP_POL_LEN, 1, "pol-get-reply" },
	{ DIRP_POL_DEL | DIRP_REPLY_BIT, DIRP_POL_LEN, 1, "pol-del-reply" },
	{ DIRP_POL_NOTE, DIRP_POL_LEN, 1, "pol-note" },
	{ DIRP_UPDATE, DIRP_ENTRY_LEN, DIRP_MAX_RECORDS, "update" },
	{ DIRP_INVALIDATE, DIRP_ENTRY_LEN, DIRP_MAX_RECORDS, "invalidate" },
	{ DIRP_UPDATE6, DIRP_ENTRY6_LEN, DIRP_MAX_RECORDS6, "update6" },
};

static const struct type_info *type_info(uint8_t type)
{
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (types[i].type == type)
			return &types[i];
	return NULL;
}

size_t dirp_record_len(uint8_t type)
{
	const struct type_info *t = type_info(type);

	return t ? t->rec_len : 0;
}

unsigned dirp_max_records(uint8_t type)
{
	const struct type_info *t = type_info(type);

	return t ? t->max : 0;
}

const char *dirp_type_name(uint8_t type)
{
	const struct type_info *t = type_info(type);

	return t ? t->name : "unknown";
}

const char *dirp_err_name(int err)
{
	static const char *const names[DIRP_E_COUNT] = {
		[DIRP_E_SHORT] = "short", [DIRP_E_OVERSIZE] = "oversize",
		[DIRP_E_MAGIC] = "bad-magic", [DIRP_E_VERSION] = "bad-version",
		[DIRP_E_TYPE] = "bad-type", [DIRP_E_LENGTH] = "bad-length",
		[DIRP_E_TAG] = "bad-tag", [DIRP_E_FIELD] = "bad-field",
	};

	err = -err;
	return err > 0 && err < DIRP_E_COUNT ? names[err] : "ok";
}

const char *dirp_status_name(uint8_t status)
{
	static const char *const names[] = { "ok", "not-found", "try-later", "full", "invalid" };

	return status <= DIRP_STATUS_MAX ? names[status] : "unknown";
}

/* ---- MACs ---------------------------------------------------------------------- */

bool dirp_mac_ok(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	return !(mac[0] & 1) && memcmp(mac, zero, 6) != 0;
}

/* ---- decoding ---------------------------------------------------------------------- */

/* A pol record: the chunk within the text, the text within its limit,
 * the bytes past the data zero, requests without status or version. */
static bool pol_record_ok(uint8_t type, const uint8_t *r)
{
	uint32_t total = wire_get32(r + 12), off = wire_get32(r + 16);
	uint16_t len = wire_get16(r + 24);
	bool request = !(type & DIRP_REPLY_BIT) && type != DIRP_POL_NOTE;

	if (r[26] > DIRP_STATUS_MAX || r[27] != 0 || len > DIRP_POL_CHUNK)
		return false;
	if (request && (r[26] != 0 || wire_get32(r + 8) != 0))
		return false;
	if (type == DIRP_POL_GET) {		/* offset: where to read */
		if (len != 0 || total != 0 || off > DIRP_POL_TEXT_MAX)
			return false;
	} else if (type == DIRP_POL_DEL) {
		if (len != 0 || total != 0 || off != 0)
			return false;
	} else if (total > DIRP_POL_TEXT_MAX || off > total || total - off < len) {
		return false;
	}
	for (size_t i = DIRP_POL_HDR_LEN + len; i < DIRP_POL_LEN; i++)
		if (r[i])
			return false;
	return true;
}

/* Wire-level rules of one record: reserved bytes zero, small fields in range.
 * What a record means (valid MACs and so on) is the directory's business. */
static bool record_ok(uint8_t type, const uint8_t *r)
{
	switch (type & ~DIRP_REPLY_BIT) {
	case DIRP_UPDATE:
	case DIRP_INVALIDATE:
	case DIRP_REGISTER:
	case DIRP_LOOKUP:
	case DIRP_RENEW:
	case DIRP_UNREGISTER:
	case DIRP_MOVE:
		if (dirp_record_len(type) != DIRP_ENTRY_LEN)
			return true;	/* key and move records: any value */
		return r[8] <= DIRP_STATUS_MAX && r[9] <= DIRP_AVAIL_ALL && r[10] <= DIRP_ENTRY_FLAGS_ALL &&
		       r[11] == 0;
	case DIRP_UPDATE6:
	case DIRP_REGISTER6:
	case DIRP_UNREGISTER6:
	case DIRP_LOOKUP6:
		if (dirp_record_len(type) != DIRP_ENTRY6_LEN)
			return true;	/* key6 records: any value */
		return r[20] <= DIRP_STATUS_MAX && r[21] <= DIRP_AVAIL_ALL && wire_get16(r + 22) == 0;
	case DIRP_JOIN:
	case DIRP_LEAVE:
	case DIRP_MEMBERS:
		if (dirp_record_len(type) != DIRP_MEMBER_LEN)
			return true;	/* group keys: any value (the directory checks) */
		return r[20] <= DIRP_STATUS_MAX && r[21] == 0 && wire_get16(r + 22) == 0;
	case DIRP_POL_SET:
	case DIRP_POL_GET:
	case DIRP_POL_DEL:
	case DIRP_POL_NOTE:
		return pol_record_ok(type, r);
	case DIRP_SET_AVAIL:
		if (type & DIRP_REPLY_BIT)
			return r[6] <= DIRP_STATUS_MAX && r[7] == 0;
		return r[6] <= DIRP_SCOPE_INTERMEDIARY && r[7] <= 1;
	default:
		return true;
	}
}

int dirp_decode(const uint8_t *buf, size_t len, const struct auth_key *key,
		struct dirp_msg *m)
{
	const struct type_info *t;
	size_t body;

	if (len < DIRP_HDR_LEN + DIRP_TAG_LEN)
		return -DIRP_E_SHORT;
	if (len > DIRP_MAX_DGRAM)
		return -DIRP_E_OVERSIZE;
	if (wire_get16(buf) != DIRP_MAGIC)
		return -DIRP_E_MAGIC;
	if (buf[2] != DIRP_VERSION)
		return -DIRP_E_VERSION;
	if (!(t = type_info(buf[3])))
		return -DIRP_E_TYPE;
	m->h.type = buf[3];
	m->h.count = wire_get16(buf + 4);
	body = len - DIRP_HDR_LEN - DIRP_TAG_LEN;
	if (m->h.count > t->max || body != (size_t)m->h.count * t->rec_len)
		return -DIRP_E_LENGTH;
	if (key && !auth_verify(key, buf, len - DIRP_TAG_LEN, buf + len - DIRP_TAG_LEN))
		return -DIRP_E_TAG;
	if (wire_get16(buf + 6) != 0)
		return -DIRP_E_FIELD;
	m->h.session = wire_get64(buf + 8);
	m->h.seq = wire_get64(buf + 16);
	m->h.time_ms = wire_get64(buf + 24);
	m->h.req_id = wire_get64(buf + 32);
	m->body = buf + DIRP_HDR_LEN;
	m->rec_len = t->rec_len;
	for (unsigned i = 0; i < m->h.count; i++)
		if (!record_ok(m->h.type, m->body + i * m->rec_len))
			return -DIRP_E_FIELD;
	return 0;
}

bool dirp_is_pol_request(uint8_t type)
{
	return type == DIRP_POL_SET || type == DIRP_POL_GET || type == DIRP_POL_DEL;
}

int dirp_decode_auth(const uint8_t *buf, size_t len, const struct auth_key *key,
		     struct dirp_msg *m, bool *by_vdc, struct auth_key *vdc_key)
{
	int err = dirp_decode(buf, len, key, m);

	*by_vdc = false;
	if (err != -DIRP_E_TAG || !dirp_is_pol_request(buf[3]))
		return err;
	if ((err = dirp_decode(buf, len, NULL, m)) < 0)
		return err;
	if (m->h.count != 1)
		return -DIRP_E_TAG;
	auth_vdc_key(key, wire_get32(m->body), vdc_key);
	if (!auth_verify(vdc_key, buf, len - DIRP_TAG_LEN, buf + len - DIRP_TAG_LEN))
		return -DIRP_E_TAG;
	*by_vdc = true;
	return 0;
}

static const uint8_t *rec(const struct dirp_msg *m, unsigned i)
{
	assert(i < m->h.count);
	return m->body + (size_t)i * m->rec_len;
}

void dirp_get_key(const struct dirp_msg *m, unsigned i, struct dirp_key *k)
{
	const uint8_t *r = rec(m, i);

	k->vdc = wire_get32(r);
	k->ip = wire_get32(r + 4);
}

void dirp_get_entry(const struct dirp_msg *m, unsigned i, struct dirp_entry *e)
{
	const uint8_t *r = rec(m, i);

	e->vdc = wire_get32(r);
	e->ip = wire_get32(r + 4);
	e->status = r[8];
	e->avail = r[9];
	e->flags = r[10];
	e->version = wire_get32(r + 12);
	e->lease_ms = wire_get32(r + 16);
	e->server = wire_get32(r + 20);
	memcpy(e->mac, r + 24, sizeof(e->mac));
}

void dirp_get_ack(const struct dirp_msg *m, unsigned i, struct dirp_ack *a)
{
	const uint8_t *r = rec(m, i);

	a->vdc = wire_get32(r);
	a->ip = wire_get32(r + 4);
	a->version = wire_get32(r + 8);
}

void dirp_get_avail(const struct dirp_msg *m, unsigned i, struct dirp_avail *a)
{
	const uint8_t *r = rec(m, i);

	memcpy(a->mac, r, 6);
	a->scope = r[6];
	a->avail = r[7];
}

void dirp_get_avail_res(const struct dirp_msg *m, unsigned i, struct dirp_avail_res *a)
{
	const uint8_t *r = rec(m, i);

	memcpy(a->mac, r, 6);
	a->status = r[6];
	a->affected = wire_get32(r + 8);
}

void dirp_get_move(const struct dirp_msg *m, unsigned i, struct dirp_move *mv)
{
	const uint8_t *r = rec(m, i);

	mv->vdc = wire_get32(r);
	mv->ip = wire_get32(r + 4);
	mv->server = wire_get32(r + 8);
	memcpy(mv->im, r + 12, sizeof(mv->im));
}

uint64_t dirp_get_stat(const struct dirp_msg *m, unsigned i)
{
	return wire_get64(rec(m, i));
}

void dirp_get_key6(const struct dirp_msg *m, unsigned i, struct dirp_key6 *k)
{
	const uint8_t *r = rec(m, i);

	k->vdc = wire_get32(r);
	memcpy(k->ip6, r + 4, 16);
}

void dirp_get_entry6(const struct dirp_msg *m, unsigned i, struct dirp_entry6 *e)
{
	const uint8_t *r = rec(m, i);

	e->vdc = wire_get32(r);
	memcpy(e->ip6, r + 4, 16);
	e->status = r[20];
	e->avail = r[21];
	e->version = wire_get32(r + 24);
	e->lease_ms = wire_get32(r + 28);
	e->server = wire_get32(r + 32);
	memcpy(e->mac, r + 36, sizeof(e->mac));
}

void dirp_get_member(const struct dirp_msg *m, unsigned i, struct dirp_member *g)
{
	const uint8_t *r = rec(m, i);

	g->vdc = wire_get32(r);
	memcpy(g->group, r + 4, 16);
	g->status = r[20];
	g->lease_ms = wire_get32(r + 24);
	g->server = wire_get32(r + 28);
	memcpy(g->vm, r + 32, 6);
	memcpy(g->im, r + 38, sizeof(g->im));
}

/* ---- groups -------------------------------------------------------------------------- */

void dirp_get_pol(const struct dirp_msg *m, unsigned i, struct dirp_pol *p)
{
	const uint8_t *r = rec(m, i);

	p->vdc = wire_get32(r);
	p->ip = wire_get32(r + 4);
	p->version = wire_get32(r + 8);
	p->total = wire_get32(r + 12);
	p->offset = wire_get32(r + 16);
	p->xfer = wire_get32(r + 20);
	p->len = wire_get16(r + 24);
	p->status = r[26];
	p->data = r + DIRP_POL_HDR_LEN;
}

void dirp_group4(uint8_t group[16], uint32_t ip)
{
	memset(group, 0, 10);
	group[10] = group[11] = 0xff;
	wire_put32(group + 12, ip);
}

static bool group_is_v4(const uint8_t g[16])
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(g, mapped, 12);
}

bool dirp_group_is_bcast(const uint8_t g[16])
{
	return group_is_v4(g) && wire_get32(g + 12) == 0xffffffffu;
}

bool dirp_group_ok(const uint8_t g[16])
{
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
	uint32_t ip;

	if (!group_is_v4(g))
		return g[0] == 0xff && memcmp(g, all_nodes, 16) != 0 &&
		       !(g[1] == 0x01 && !memcmp(g + 2, all_nodes + 2, 14));
	ip = wire_get32(g + 12);
	return (ip >> 28) == 0xe && ip != 0xe0000001u;
}

/* ---- encoding ---------------------------------------------------------------------- */

static void put_hdr(uint8_t *p, const struct dirp_hdr *h)
{
	wire_put16(p, DIRP_MAGIC);
	p[2] = DIRP_VERSION;
	p[3] = h->type;
	wire_put16(p + 4, 0);
	wire_put16(p + 6, 0);
	wire_put64(p + 8, h->session);
	wire_put64(p + 16, h->seq);
	wire_put64(p + 24, h->time_ms);
	wire_put64(p + 32, h->req_id);
}

void dirp_begin(struct dirp_writer *w, uint8_t *buf, size_t cap, const struct dirp_hdr *h)
{
	assert(cap >= DIRP_HDR_LEN + DIRP_TAG_LEN && type_info(h->type));
	w->buf = buf;
	w->cap = MIN(cap, (size_t)DIRP_MAX_DGRAM);
	w->type = h->type;
	w->count = 0;
	w->len = DIRP_HDR_LEN;
	put_hdr(buf, h);
}

bool dirp_room(const struct dirp_writer *w)
{
	const struct type_info *t = type_info(w->type);

	return w->count < t->max && w->len + t->rec_len + DIRP_TAG_LEN <= w->cap;
}

static uint8_t *next_rec(struct dirp_writer *w, size_t len)
{
	uint8_t *r = w->buf + w->len;

	assert(dirp_room(w) && dirp_record_len(w->type) == len);
	w->len += len;
	w->count++;
	return r;
}

void dirp_put_key(struct dirp_writer *w, const struct dirp_key *k)
{
	uint8_t *r = next_rec(w, DIRP_KEY_LEN);

	wire_put32(r, k->vdc);
	wire_put32(r + 4, k->ip);
}

void dirp_put_entry(struct dirp_writer *w, const struct dirp_entry *e)
{
	uint8_t *r = next_rec(w, DIRP_ENTRY_LEN);

	wire_put32(r, e->vdc);
	wire_put32(r + 4, e->ip);
	r[8] = e->status;
	r[9] = e->avail;
	r[10] = e->flags;
	r[11] = 0;
	wire_put32(r + 12, e->version);
	wire_put32(r + 16, e->lease_ms);
	wire_put32(r + 20, e->server);
	memcpy(r + 24, e->mac, sizeof(e->mac));
}

void dirp_put_ack(struct dirp_writer *w, const struct dirp_ack *a)
{
	uint8_t *r = next_rec(w, DIRP_ACK_LEN);

	wire_put32(r, a->vdc);
	wire_put32(r + 4, a->ip);
	wire_put32(r + 8, a->version);
}

void dirp_put_avail(struct dirp_writer *w, const struct dirp_avail *a)
{
	uint8_t *r = next_rec(w, DIRP_AVAIL_LEN);

	memcpy(r, a->mac, 6);
	r[6] = a->scope;
	r[7] = a->avail;
}

void dirp_put_avail_res(struct dirp_writer *w, const struct dirp_avail_res *a)
{
	uint8_t *r = next_rec(w, DIRP_AVAIL_RES_LEN);

	memcpy(r, a->mac, 6);
	r[6] = a->status;
	r[7] = 0;
	wire_put32(r + 8, a->affected);
}

void dirp_put_move(struct dirp_writer *w, const struct dirp_move *mv)
{
	uint8_t *r = next_rec(w, DIRP_MOVE_LEN);

	wire_put32(r, mv->vdc);
	wire_put32(r + 4, mv->ip);
	wire_put32(r + 8, mv->server);
	memcpy(r + 12, mv->im, sizeof(mv->im));
}

void dirp_put_stat(struct dirp_writer *w, uint64_t v)
{
	wire_put64(next_rec(w, DIRP_STAT_LEN), v);
}

void dirp_put_key6(struct dirp_writer *w, const struct dirp_key6 *k)
{
	uint8_t *r = next_rec(w, DIRP_KEY6_LEN);

	wire_put32(r, k->vdc);
	memcpy(r + 4, k->ip6, 16);
}

void dirp_put_entry6(struct dirp_writer *w, const struct dirp_entry6 *e)
{
	uint8_t *r = next_rec(w, DIRP_ENTRY6_LEN);

	wire_put32(r, e->vdc);
	memcpy(r + 4, e->ip6, 16);
	r[20] = e->status;
	r[21] = e->avail;
	wire_put16(r + 22, 0);
	wire_put32(r + 24, e->version);
	wire_put32(r + 28, e->lease_ms);
	wire_put32(r + 32, e->server);
	memcpy(r + 36, e->mac, sizeof(e->mac));
}

void dirp_put_member(struct dirp_writer *w, const struct dirp_member *g)
{
	uint8_t *r = next_rec(w, DIRP_MEMBER_LEN);

	wire_put32(r, g->vdc);
	memcpy(r + 4, g->group, 16);
	r[20] = g->status;
	r[21] = 0;
	wire_put16(r + 22, 0);
	wire_put32(r + 24, g->lease_ms);
	wire_put32(r + 28, g->server);
	memcpy(r + 32, g->vm, 6);
	memcpy(r + 38, g->im, sizeof(g->im));
}

void dirp_put_pol(struct dirp_writer *w, const struct dirp_pol *p)
{
	uint8_t *r = next_rec(w, DIRP_POL_LEN);

	assert(p->len <= DIRP_POL_CHUNK);
	wire_put32(r, p->vdc);
	wire_put32(r + 4, p->ip);
	wire_put32(r + 8, p->version);
	wire_put32(r + 12, p->total);
	wire_put32(r + 16, p->offset);
	wire_put32(r + 20, p->xfer);
	wire_put16(r + 24, p->len);
	r[26] = p->status;
	r[27] = 0;
	if (p->len)
		memcpy(r + DIRP_POL_HDR_LEN, p->data, p->len);
	memset(r + DIRP_POL_HDR_LEN + p->len, 0, DIRP_POL_CHUNK - p->len);
}

size_t dirp_finish(struct dirp_writer *w, const struct auth_key *key)
{
	wire_put16(w->buf + 4, w->count);
	auth_tag(key, w->buf, w->len, w->buf + w->len);
	w->len += DIRP_TAG_LEN;
	return w->len;
}

void dirp_restamp(uint8_t *buf, size_t len, uint64_t seq, uint64_t time_ms,
		  const struct auth_key *key)
{
	wire_put64(buf + 16, seq);
	wire_put64(buf + 24, time_ms);
	auth_tag(key, buf, len - DIRP_TAG_LEN, buf + len - DIRP_TAG_LEN);
}
