/* The directory's policy store (dir/dirpol.h). */
#include "dir/dirpol.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/policy.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "wire/be.h"

#define NONE UINT32_MAX

struct pol {
	uint32_t vdc, ip, version;
	uint32_t len;
	uint8_t *text;			/* NULL: free slot */
	uint32_t next_free;
};

/* A SET being assembled; kept once done, with its answer, so that a
 * retransmitted last chunk gets the same answer. */
struct upload {
	bool used, done;
	uint32_t vdc, ip, xfer;
	uint32_t total, got;
	uint8_t *buf;
	uint64_t last_ms;
	struct dirp_pol res;		/* done: the answer */
	char msg[DIRP_POL_CHUNK];	/* done: its text */
};

struct dirpol {
	struct pol *a;
	uint32_t n, cap, free;
	struct hmap by_key;		/* vdc << 32 | ip -> index */
	struct hmap by_vdc;		/* vdc -> count << 32 | bytes */
	/* vdc << 32 | ip -> the address of the agent that holds the VM: the
	 * last to register it while it had a policy, or to ask for its policy
	 * with the shared key and DIRP_POL_WATCH (an agent).  In memory only: agents ask again
	 * (agent/polfetch.h).  Nothing is kept for VMs nobody asked about, so
	 * registrations cost no more where policies are not used. */
	struct hmap holders;
	size_t count, bytes;
	struct upload up[DIRPOL_UPLOADS];
	struct log_rl rl;		/* changes and refusals: a tenant makes them */
};

static uint64_t key_of(uint32_t vdc, uint32_t ip)
{
	return (uint64_t)vdc << 32 | ip;
}

struct dirpol *dirpol_new(uint64_t seed)
{
	struct dirpol *p = xcalloc(1, sizeof(*p));

	hmap_init(&p->by_key, 64, seed);
	hmap_init(&p->by_vdc, 16, seed ^ 0x9e3779b97f4a7c15ull);
	hmap_init(&p->holders, 64, seed ^ 0x632be59bd9b4e019ull);
	p->free = NONE;
	p->rl = (struct log_rl)LOG_RL_INIT(1000, 20);
	return p;
}

void dirpol_free(struct dirpol *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; i < p->n; i++)
		free(p->a[i].text);
	for (int i = 0; i < DIRPOL_UPLOADS; i++)
		free(p->up[i].buf);
	hmap_free(&p->by_key);
	hmap_free(&p->by_vdc);
	hmap_free(&p->holders);
	free(p->a);
	free(p);
}

size_t dirpol_count(const struct dirpol *p)
{
	return p->count;
}

size_t dirpol_bytes(const struct dirpol *p)
{
	return p->bytes;
}

size_t dirpol_mem_bytes(const struct dirpol *p)
{
	size_t n = sizeof(*p) + p->bytes + (size_t)p->cap * sizeof(*p->a);

	n += hmap_bytes(&p->by_key) + hmap_bytes(&p->by_vdc) + hmap_bytes(&p->holders);
	for (int i = 0; i < DIRPOL_UPLOADS; i++)
		n += p->up[i].buf ? p->up[i].total : 0;
	return n;
}

/* ---- the table ------------------------------------------------------------------ */

static uint32_t find(const struct dirpol *p, uint32_t vdc, uint32_t ip)
{
	uint64_t *v = hmap_get(&p->by_key, key_of(vdc, ip));

	return v ? (uint32_t)*v : NONE;
}

static void vdc_usage(const struct dirpol *p, uint32_t vdc, uint32_t *count, uint32_t *bytes)
{
	uint64_t *v = hmap_get(&p->by_vdc, vdc);

	*count = v ? (uint32_t)(*v >> 32) : 0;
	*bytes = v ? (uint32_t)*v : 0;
}

static void vdc_account(struct dirpol *p, uint32_t vdc, int dcount, int64_t dbytes)
{
	uint32_t c, b;

	vdc_usage(p, vdc, &c, &b);
	c = (uint32_t)((int64_t)c + dcount);
	b = (uint32_t)((int64_t)b + dbytes);
	if (c)
		hmap_put(&p->by_vdc, vdc, (uint64_t)c << 32 | b);
	else
		hmap_del(&p->by_vdc, vdc);
	p->count = (size_t)((int64_t)p->count + dcount);
	p->bytes = (size_t)((int64_t)p->bytes + dbytes);
}

/* Install text (taken over) as (vdc, ip)'s policy at version. */
static uint32_t put(struct dirpol *p, uint32_t vdc, uint32_t ip, uint32_t version, uint8_t *text,
		    uint32_t len)
{
	uint32_t i = find(p, vdc, ip);

	if (i != NONE) {
		vdc_account(p, vdc, 0, (int64_t)len - p->a[i].len);
		free(p->a[i].text);
	} else {
		if (p->free != NONE) {
			i = p->free;
			p->free = p->a[i].next_free;
		} else {
			if (p->n == p->cap) {
				p->cap = p->cap ? p->cap * 2 : 16;
				p->a = xreallocarray(p->a, p->cap, sizeof(*p->a));
			}
			i = p->n++;
		}
		memset(&p->a[i], 0, sizeof(p->a[i]));
		p->a[i].vdc = vdc;
		p->a[i].ip = ip;
		hmap_put(&p->by_key, key_of(vdc, ip), i);
		vdc_account(p, vdc, 1, len);
	}
	p->a[i].version = version;
	p->a[i].text = text ? text : xmalloc(1);	/* an empty policy is a policy */
	p->a[i].len = len;
	return i;
}

static void del(struct dirpol *p, uint32_t i)
{
	struct pol *x = &p->a[i];

	hmap_del(&p->by_key, key_of(x->vdc, x->ip));
	vdc_account(p, x->vdc, -1, -(int64_t)x->len);
	free(x->text);
	x->text = NULL;
	x->next_free = p->free;
	p->free = i;
}

/* ---- the store ---------------------------------------------------------------- */

bool dirpol_is_key(const uint8_t *key, size_t klen)
{
	return klen == DIR_POL_KEY_LEN && key[0] == 'P';
}

static void store_key(uint8_t key[DIR_POL_KEY_LEN], uint32_t vdc, uint32_t ip)
{
	key[0] = 'P';
	wire_put32(key + 1, vdc);
	wire_put32(key + 5, ip);
}

static void store_write(struct dir_out *o, const struct pol *x, bool del)
{
	struct dir_pol_op *op;
	size_t need = del ? 0 : DIRPOL_VAL_HDR + x->len;

	if (o->npops == o->pops_cap) {
		o->pops_cap = o->pops_cap ? o->pops_cap * 2 : 8;
		o->pops = xreallocarray(o->pops, o->pops_cap, sizeof(*o->pops));
	}
	if (o->pcap - o->plen < need) {
		o->pcap = MAX(o->pcap * 2, o->plen + need);
		o->pbuf = xrealloc(o->pbuf, o->pcap);
	}
	op = &o->pops[o->npops++];
	memset(op, 0, sizeof(*op));
	op->del = del;
	store_key(op->key, x->vdc, x->ip);
	op->off = o->plen;
	op->len = need;
	if (del)
		return;
	memset(o->pbuf + o->plen, 0, DIRPOL_VAL_HDR);
	o->pbuf[o->plen] = DIRPOL_STORE_FORMAT;
	wire_put32(o->pbuf + o->plen + 4, x->version);
	memcpy(o->pbuf + o->plen + DIRPOL_VAL_HDR, x->text, x->len);
	o->plen += need;
}

int dirpol_restore(struct dirpol *p, const uint8_t *key, size_t klen, const uint8_t *val,
		   size_t vlen)
{
	uint32_t vdc, ip, len;
	uint8_t *text;

	if (!dirpol_is_key(key, klen) || vlen < DIRPOL_VAL_HDR || val[0] != DIRPOL_STORE_FORMAT ||
	    val[1] || val[2] || val[3] || vlen - DIRPOL_VAL_HDR > DIRP_POL_TEXT_MAX)
		return -EINVAL;
	vdc = wire_get32(key + 1);
	ip = wire_get32(key + 5);
	len = (uint32_t)(vlen - DIRPOL_VAL_HDR);
	if (find(p, vdc, ip) == NONE && p->count >= DIRPOL_MAX)
		return -EINVAL;
	text = xmalloc(len + 1);
	memcpy(text, val + DIRPOL_VAL_HDR, len);
	put(p, vdc, ip, wire_get32(val + 4), text, len);
	return 0;
}

/* ---- checking a policy -------------------------------------------------------- */

/* 0, or -1 with the reason "policy:LINE: FIELD: why" in err. */
static int check_text(const uint8_t *text, uint32_t len, char *err, size_t errlen)
{
	struct pol_policy pp;
	struct pol_compiled c;
	struct pol_error e;
	int ret;

	pol_init(&pp);
	ret = pol_parse_text(&pp, "policy", (const char *)text, len, err, errlen);
	if (!ret && pol_compile(&pp, 1, &c, &e) == 0) {
		pol_compiled_free(&c);
	} else if (!ret) {
		snprintf(err, errlen, "policy:%u: %s: %s", e.line, e.field, e.msg);
		ret = -1;
	}
	pol_free(&pp);
	return ret;
}

/* ---- requests ---------------------------------------------------------------- */

/* A reply whose data is a reason. */
static void answer(struct dirp_writer *w, const struct dirp_pol *rq, uint8_t status,
		   uint32_t version, const char *why)
{
	struct dirp_pol r = { .vdc = rq->vdc, .ip = rq->ip, .version = version,
			      .xfer = rq->xfer, .status = status, .offset = rq->offset,
			      .total = rq->total };

	if (why && *why) {
		r.len = (uint16_t)MIN(strlen(why), (size_t)DIRP_POL_CHUNK);
		r.data = (const uint8_t *)why;
		r.offset = 0;
		r.total = r.len;
	} else if (rq->offset > rq->total || rq->len > rq->total - rq->offset) {
		r.offset = r.total = 0;	/* a GET's request: no chunk */
	}
	dirp_put_pol(w, &r);
}

/* Tell the agent holding (vdc, ip) its policy x (NULL: it has none now). */
static void note(const struct dirpol *p, const struct pol *x, uint32_t vdc, uint32_t ip,
		 const struct dirpol_ctx *ctx)
{
	struct dirp_pol r = { .vdc = vdc, .ip = ip, .status = DIRP_NOT_FOUND };
	uint64_t *holder = hmap_get(&p->holders, key_of(vdc, ip));

	if (!holder)
		return;
	if (x) {
		r.status = DIRP_OK;
		r.version = x->version;
		r.total = x->len;
		r.len = (uint16_t)MIN(x->len, (uint32_t)DIRP_POL_CHUNK);
		r.data = x->text;
	}
	ctx->note(ctx->arg, &r, *holder);
	ctx->st[DIR_STAT_pol_notes]++;
}

static struct upload *upload_find(struct dirpol *p, const struct dirp_pol *rq)
{
	for (int i = 0; i < DIRPOL_UPLOADS; i++) {
		struct upload *u = &p->up[i];

		if (u->used && u->vdc == rq->vdc && u->ip == rq->ip && u->xfer == rq->xfer)
			return u;
	}
	return NULL;
}

/* A slot for a new upload: a free one, one of the same VM (replaced), or
 * the one idle longest when idle past DIRPOL_UPLOAD_MS; NULL if none. */
static struct upload *upload_slot(struct dirpol *p, const struct dirp_pol *rq, uint64_t now_ms)
{
	struct upload *best = NULL;

	for (int i = 0; i < DIRPOL_UPLOADS; i++) {
		struct upload *u = &p->up[i];

		if (!u->used || (u->vdc == rq->vdc && u->ip == rq->ip))
			return u;
		if ((u->done || u->last_ms + DIRPOL_UPLOAD_MS <= now_ms) &&
		    (!best || u->last_ms < best->last_ms))
			best = u;
	}
	return best;
}

/* "directory: policy of VDC 1 10.0.0.5: WHAT" (rate-limited). */
static void say(struct dirpol *p, const struct dirpol_ctx *ctx, uint32_t vdc, uint32_t ip,
		const char *what, const char *detail)
{
	struct in_addr a = { htonl(ip) };
	char ipb[INET_ADDRSTRLEN];

	if (!ctx->log || !ctx->log->fn)
		return;
	inet_ntop(AF_INET, &a, ipb, sizeof(ipb));
	core_log_rl(ctx->log, &p->rl, ctx->now_ns, LOG_INFO, "directory: policy of VDC %u %s: %s%s",
		    vdc, ipb, what, detail);
}

static void upload_end(struct upload *u, const struct dirp_pol *rq, uint8_t status,
		       uint32_t version, const char *why)
{
	free(u->buf);
	u->buf = NULL;
	u->done = true;
	memset(&u->res, 0, sizeof(u->res));
	u->res = (struct dirp_pol){ .vdc = rq->vdc, .ip = rq->ip, .xfer = rq->xfer,
				    .status = status, .version = version,
				    .offset = rq->offset, .total = rq->total };
	snprintf(u->msg, sizeof(u->msg), "%s", why ? why : "");
}

/* The whole text is in: check it and make it the VM's policy. */
static void commit(struct dirpol *p, struct upload *u, const struct dirp_pol *rq,
		   const struct dirpol_ctx *ctx)
{
	char err[POL_ERR_MAX + 64];
	uint32_t i = find(p, u->vdc, u->ip), version;

	if (check_text(u->buf, u->total, err, sizeof(err))) {
		ctx->st[DIR_STAT_pol_refused]++;
		say(p, ctx, u->vdc, u->ip, "refused: ", err);
		upload_end(u, rq, DIRP_INVALID, 0, err);
		return;
	}
	version = i == NONE ? 1 : p->a[i].version + 1;
	i = put(p, u->vdc, u->ip, version, u->buf, u->total);
	u->buf = NULL;
	store_write(ctx->out, &p->a[i], false);
	{
		char v[48];

		snprintf(v, sizeof(v), "version %u, %u bytes", version, p->a[i].len);
		say(p, ctx, u->vdc, u->ip, v, "");
	}
	ctx->st[DIR_STAT_pol_changes]++;
	note(p, &p->a[i], u->vdc, u->ip, ctx);
	upload_end(u, rq, DIRP_OK, version, NULL);
}

/* Why a new upload of rq cannot start (NULL: it can). */
static const char *upload_refusal(const struct dirpol *p, const struct dirp_pol *rq, uint8_t *status)
{
	uint32_t i = find(p, rq->vdc, rq->ip), c, b, old = i == NONE ? 0 : p->a[i].len;

	vdc_usage(p, rq->vdc, &c, &b);
	*status = DIRP_FULL;
	if (i == NONE && c >= DIRPOL_VDC_MAX)
		return "the VDC has 4096 policies (DIRPOL_VDC_MAX)";
	if (i == NONE && p->count >= DIRPOL_MAX)
		return "the directory holds 65536 policies (DIRPOL_MAX)";
	if ((uint64_t)b - old + rq->total > DIRPOL_VDC_BYTES)
		return "the VDC's policies would pass 16 MiB of text (DIRPOL_VDC_BYTES)";
	if ((uint64_t)p->bytes - old + rq->total > DIRPOL_BYTES)
		return "the directory's policies would pass 64 MiB of text (DIRPOL_BYTES)";
	return NULL;
}

static void do_set(struct dirpol *p, const struct dirp_pol *rq, struct dirp_writer *w,
		   const struct dirpol_ctx *ctx)
{
	struct upload *u = upload_find(p, rq);
	const char *why;
	uint8_t status;

	if (u && u->done) {		/* a retransmission of the last chunk */
		struct dirp_pol r = u->res;

		r.data = (const uint8_t *)u->msg;
		r.len = (uint16_t)strlen(u->msg);
		if (r.len)
			r.offset = 0, r.total = r.len;
		dirp_put_pol(w, &r);
		return;
	}
	if (rq->offset == 0 && !u) {
		if ((why = upload_refusal(p, rq, &status))) {
			ctx->st[DIR_STAT_pol_refused]++;
			answer(w, rq, status, 0, why);
			return;
		}
		if (!(u = upload_slot(p, rq, ctx->now_ms))) {
			answer(w, rq, DIRP_TRY_LATER, 0, "16 policies are being set (DIRPOL_UPLOADS)");
			return;
		}
		free(u->buf);
		*u = (struct upload){ .used = true, .vdc = rq->vdc, .ip = rq->ip, .xfer = rq->xfer,
				      .total = rq->total, .buf = xmalloc(MAX(rq->total, 1u)) };
	}
	if (!u || rq->total != u->total || rq->offset > u->got) {
		ctx->st[DIR_STAT_pol_refused]++;
		answer(w, rq, DIRP_INVALID, 0, u ? "chunk: not the next one of this transfer"
					       : "chunk: no transfer with this id began at offset 0");
		return;
	}
	u->last_ms = ctx->now_ms;
	if (rq->offset == u->got) {
		memcpy(u->buf + u->got, rq->data, rq->len);
		u->got += rq->len;
	}
	if (u->got < u->total) {
		answer(w, rq, DIRP_OK, 0, NULL);	/* go on */
		return;
	}
	commit(p, u, rq, ctx);
	do_set(p, rq, w, ctx);				/* the answer kept */
}

static void do_get(struct dirpol *p, const struct dirp_pol *rq, struct dirp_writer *w,
		   const struct dirpol_ctx *ctx)
{
	uint32_t i = find(p, rq->vdc, rq->ip);
	struct dirp_pol r = { .vdc = rq->vdc, .ip = rq->ip, .offset = rq->offset };
	const struct pol *x;

	ctx->st[DIR_STAT_pol_gets]++;
	if (ctx->agent && rq->offset == 0 && rq->xfer == DIRP_POL_WATCH)
		hmap_put(&p->holders, key_of(rq->vdc, rq->ip), ctx->from);
	if (i == NONE) {
		answer(w, rq, DIRP_NOT_FOUND, 0, NULL);
		return;
	}
	x = &p->a[i];
	if (rq->offset > x->len) {
		answer(w, rq, DIRP_INVALID, x->version, "offset: past the end of the policy");
		return;
	}
	r.version = x->version;
	r.total = x->len;
	r.len = (uint16_t)MIN(x->len - rq->offset, (uint32_t)DIRP_POL_CHUNK);
	r.data = x->text + rq->offset;
	dirp_put_pol(w, &r);
}

static void do_del(struct dirpol *p, const struct dirp_pol *rq, struct dirp_writer *w,
		   const struct dirpol_ctx *ctx)
{
	uint32_t i = find(p, rq->vdc, rq->ip), version;

	if (i == NONE) {
		answer(w, rq, DIRP_NOT_FOUND, 0, NULL);
		return;
	}
	version = p->a[i].version;
	store_write(ctx->out, &p->a[i], true);
	del(p, i);
	say(p, ctx, rq->vdc, rq->ip, "deleted", "");
	ctx->st[DIR_STAT_pol_changes]++;
	note(p, NULL, rq->vdc, rq->ip, ctx);
	answer(w, rq, DIRP_OK, version, NULL);
}

void dirpol_request(struct dirpol *p, const struct dirp_msg *m, struct dirp_writer *w,
		    const struct dirpol_ctx *ctx)
{
	struct dirp_pol rq;

	if (m->h.count != 1) {		/* an empty request: an empty reply */
		ctx->st[DIR_STAT_pol_refused]++;
		return;
	}
	dirp_get_pol(m, 0, &rq);
	if (m->h.type != DIRP_POL_GET && (ctx->read_only || ctx->no_store)) {
		answer(w, &rq, DIRP_TRY_LATER, 0, ctx->no_store ?
		       "this directory's store keeps no policies (the replicated store)" :
		       "the directory is read-only (its store takes no writes now)");
		return;
	}
	switch (m->h.type) {
	case DIRP_POL_SET: do_set(p, &rq, w, ctx); break;
	case DIRP_POL_GET: do_get(p, &rq, w, ctx); break;
	case DIRP_POL_DEL: do_del(p, &rq, w, ctx); break;
	}
	ctx->st[DIR_STAT_pol_policies] = p->count;
}

void dirpol_registered(struct dirpol *p, uint32_t vdc, uint32_t ip, const struct dirpol_ctx *ctx)
{
	uint32_t i = find(p, vdc, ip);

	if (i == NONE)
		return;
	hmap_put(&p->holders, key_of(vdc, ip), ctx->from);
	note(p, &p->a[i], vdc, ip, ctx);
}

void dirpol_unregistered(struct dirpol *p, uint32_t vdc, uint32_t ip, uint64_t from)
{
	uint64_t *h = hmap_get(&p->holders, key_of(vdc, ip));

	if (h && *h == from)
		hmap_del(&p->holders, key_of(vdc, ip));
}
