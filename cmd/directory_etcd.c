/* The replicated directory's store in etcd (cmd/directory_etcd.h). */
#include "cmd/directory_etcd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "lib/core.h"
#include "lib/etcd.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "wire/be.h"

enum { DSYNC_KEY_MAX = 128, DSYNC_PREFIX_MAX = 64 };

#define GROW(arr, n, cap) do { if ((n) == (cap)) { \
	(cap) = (cap) ? (cap) * 2 : 64; (arr) = xreallocarray((arr), (cap), sizeof(*(arr))); } \
	} while (0)

/* A key whose write did not reach etcd. */
struct dirty {
	uint64_t key;
	bool soft;		/* ours to write again (availability); else read back */
	bool settled;		/* a newer write came through the watch */
	struct dir_op op;	/* soft: what to write */
};

struct dsync {
	struct etcd *etcd;
	struct etcd_watch *watch;
	char prefix[DSYNC_PREFIX_MAX];
	size_t plen;
	struct hmap known;	/* store key -> mod_revision this server last saw */
	struct dirty *dirty;
	size_t ndirty, dirty_cap;
	struct hmap dirty_at;	/* store key -> index in dirty */
	uint64_t retry_due;	/* mono ns */
	uint64_t st[DSYNC_STAT_COUNT];
	struct log_rl rl;
	struct dir *load_into;	/* during a range */
	long loaded;
	struct dir_now load_now;
	struct dir_out *load_out;
};

static const char *const stat_names[] = {
#define X(n) #n,
	DSYNC_STATS(X)
#undef X
};

static uint64_t key_u64(const uint8_t k[DIR_STORE_KEY_LEN])
{
	return (uint64_t)wire_get32(k) << 32 | wire_get32(k + 4);
}

static size_t key_name(const struct dsync *s, uint64_t k, char out[DSYNC_KEY_MAX])
{
	return (size_t)snprintf(out, DSYNC_KEY_MAX, "%s%016" PRIx64, s->prefix, k);
}

/* PREFIX + 16 hex digits -> the store key; false for anything else. */
static bool key_parse(const struct dsync *s, const uint8_t *name, size_t len, uint8_t out[8])
{
	uint64_t k = 0;

	if (len != s->plen + 16 || memcmp(name, s->prefix, s->plen))
		return false;
	for (size_t i = s->plen; i < len; i++) {
		int c = name[i], v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (v < 0)
			return false;
		k = k << 4 | (uint64_t)v;
	}
	wire_put32(out, (uint32_t)(k >> 32));
	wire_put32(out + 4, (uint32_t)k);
	return true;
}

static void set_known(struct dsync *s, uint64_t k, int64_t rev)
{
	if (rev > 0)
		hmap_put(&s->known, k, (uint64_t)rev);
	else
		hmap_del(&s->known, k);
}

static int64_t get_known(const struct dsync *s, uint64_t k)
{
	const uint64_t *v = hmap_get(&s->known, k);

	return v ? (int64_t)*v : 0;
}

/* ---- start --------------------------------------------------------------------- */

static int load_one(void *arg, const uint8_t *name, size_t nlen, const uint8_t *val, size_t vlen,
		    int64_t mod_rev)
{
	struct dsync *s = arg;
	uint8_t k[8];

	if (!key_parse(s, name, nlen, k) ||
	    (s->load_out ? dir_apply(s->load_into, s->load_now, k, 8, val, vlen, s->load_out) < 0
			 : dir_restore(s->load_into, k, 8, val, vlen) < 0)) {
		s->st[DSYNC_bad_events]++;
		return 0;
	}
	set_known(s, key_u64(k), mod_rev);
	s->loaded++;
	return 0;
}

struct dsync *dsync_open(const char *urls, const char *prefix, unsigned timeout_ms,
			 struct dir *d, long *loaded, char *err, size_t errlen)
{
	struct dsync *s = xcalloc(1, sizeof(*s));
	int64_t rev = 0;
	int rc;

	if (strlen(prefix) == 0 || strlen(prefix) >= DSYNC_PREFIX_MAX) {
		snprintf(err, errlen, "etcd prefix: 1 to %d characters", DSYNC_PREFIX_MAX - 1);
		goto fail;
	}
	snprintf(s->prefix, sizeof(s->prefix), "%s", prefix);
	s->plen = strlen(prefix);
	if (!(s->etcd = etcd_new(urls, timeout_ms ? timeout_ms : DSYNC_TIMEOUT_MS, err, errlen)))
		goto fail;
	hmap_init(&s->known, 1024, wall_ns());
	hmap_init(&s->dirty_at, 64, wall_ns() ^ 0x5eed);
	s->rl = (struct log_rl)LOG_RL_INIT(1000, 5);
	s->load_into = d;
	if ((rc = etcd_range_prefix(s->etcd, s->prefix, s->plen, load_one, s, &rev))) {
		snprintf(err, errlen, "etcd %s: cannot read %s: %s", urls, prefix, strerror(-rc));
		goto fail_maps;
	}
	if (!(s->watch = etcd_watch_start(urls, s->prefix, s->plen, rev + 1, err, errlen)))
		goto fail_maps;
	*loaded = s->loaded;
	return s;
fail_maps:
	hmap_free(&s->known);
	hmap_free(&s->dirty_at);
	etcd_free(s->etcd);
fail:
	free(s);
	return NULL;
}

void dsync_close(struct dsync *s)
{
	if (!s)
		return;
	etcd_watch_stop(s->watch);
	etcd_free(s->etcd);
	hmap_free(&s->known);
	hmap_free(&s->dirty_at);
	free(s->dirty);
	free(s);
}

int dsync_fd(const struct dsync *s)
{
	return etcd_watch_fd(s->watch);
}

/* ---- writes -------------------------------------------------------------------------- */

static void mark_dirty(struct dsync *s, const struct dir_op *op, bool soft)
{
	uint64_t k = key_u64(op->key), *at = hmap_get(&s->dirty_at, k);
	struct dirty *x;

	if (at) {
		x = &s->dirty[*at];
		x->soft &= soft;	/* a key we must read back stays so */
	} else {
		if (s->ndirty == DSYNC_DIRTY_MAX) {
			s->st[DSYNC_dirty_overflow]++;
			return;
		}
		GROW(s->dirty, s->ndirty, s->dirty_cap);
		hmap_put(&s->dirty_at, k, s->ndirty);
		x = &s->dirty[s->ndirty++];
		x->key = k;
		x->soft = soft;
		x->settled = false;
	}
	x->op = *op;
}

/* The last operation on each key of a batch (etcd refuses two on one key
 * in a transaction), in the batch's order of their last occurrences. */
static size_t collapse(const struct dir_op *ops, size_t n, const struct dir_op **out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		bool later = false;

		for (size_t j = i + 1; j < n && !later; j++)
			later = !memcmp(ops[i].key, ops[j].key, DIR_STORE_KEY_LEN);
		if (!later)
			out[k++] = &ops[i];
	}
	return k;
}

/* One checked transaction of up to ETCD_TXN_OPS; 0 or -errno. */
static int write_chunk(struct dsync *s, const struct dir_op *const *ops, size_t n)
{
	struct etcd_op eo[ETCD_TXN_OPS];
	char names[ETCD_TXN_OPS][DSYNC_KEY_MAX];
	int64_t rev;
	int rc;

	for (size_t i = 0; i < n; i++) {
		uint64_t k = key_u64(ops[i]->key);

		eo[i] = (struct etcd_op){ .del = ops[i]->del, .key = names[i],
					  .klen = key_name(s, k, names[i]), .val = ops[i]->val,
					  .vlen = DIR_STORE_VAL_LEN, .check = true,
					  .expect_mod = get_known(s, k) };
	}
	s->st[DSYNC_writes]++;
	s->st[DSYNC_write_ops] += n;
	if ((rc = etcd_txn(s->etcd, eo, n, &rev)))
		return rc;
	for (size_t i = 0; i < n; i++)
		set_known(s, key_u64(ops[i]->key), ops[i]->del ? 0 : rev);
	return 0;
}

bool dsync_write(struct dsync *s, struct dir *d, const struct dir_op *ops, size_t n)
{
	const struct dir_op **uniq = xmalloc(n * sizeof(*uniq));
	size_t k = collapse(ops, n, uniq), done = 0;
	bool soft = true;
	int rc = 0;

	for (size_t i = 0; i < k; i++)
		soft &= uniq[i]->soft;
	while (done < k) {
		size_t m = MIN(k - done, (size_t)ETCD_TXN_OPS);

		if ((rc = write_chunk(s, uniq + done, m)))
			break;
		done += m;
	}
	if (rc) {
		if (rc == -ECANCELED)
			s->st[DSYNC_write_conflicts]++;
		else
			s->st[DSYNC_write_failures]++;
		log_rl_msg(&s->rl, mono_ns(), LOG_WARN, "etcd: write of %zu keys: %s%s", k - done,
			   strerror(-rc), soft && rc != -ECANCELED ? " (availability: sent anyway, written later)" : "");
		/* Availability is soft: its pushes go now and we write it
		 * again when etcd is back.  Anything else is read back from
		 * etcd, and nothing of the batch is acknowledged. */
		for (size_t i = done; i < k; i++)
			mark_dirty(s, uniq[i], soft && rc != -ECANCELED);
		if (!(soft && rc != -ECANCELED))
			dir_set_read_only(d, true);
		s->retry_due = 0;
	}
	free(uniq);
	if (rc && !(soft && rc != -ECANCELED)) {
		s->st[DSYNC_batches_held]++;
		return false;
	}
	return true;
}

/* ---- the dirty keys ------------------------------------------------------------------------ */

/* Read one key back from etcd and give the core what etcd holds. */
static int read_back(struct dsync *s, struct dir *d, struct dir_now now, uint64_t k,
		     struct dir_out *out)
{
	char name[DSYNC_KEY_MAX];
	uint8_t key[8], val[DIR_STORE_VAL_LEN + 1];
	int64_t mod = 0;
	size_t vlen = 0;
	int rc;

	wire_put32(key, (uint32_t)(k >> 32));
	wire_put32(key + 4, (uint32_t)k);
	rc = etcd_get(s->etcd, name, key_name(s, k, name), val, sizeof(val), &vlen, NULL, &mod);
	if (rc < 0 && rc != -EPROTO)
		return rc;
	if (rc == 1 && dir_apply(d, now, key, 8, val, vlen, out) >= 0) {
		set_known(s, k, mod);
	} else {
		if (rc != 0)
			s->st[DSYNC_bad_events]++;	/* unreadable: treat as gone */
		dir_apply(d, now, key, 8, NULL, 0, out);
		set_known(s, k, 0);
	}
	s->st[DSYNC_resynced_keys]++;
	return 0;
}

uint64_t dsync_tick(struct dsync *s, struct dir *d, struct dir_now now, struct dir_out *out)
{
	size_t kept = 0, i;
	bool hard = false;
	int rc = 0;

	if (!s->ndirty)
		return CORE_NEVER;
	if (now.ns < s->retry_due)
		return s->retry_due;
	for (i = 0; i < s->ndirty && !rc; i++) {
		struct dirty *x = &s->dirty[i];

		if (x->settled) {
			rc = 0;
		} else if (x->soft) {
			const struct dir_op *op = &x->op;

			rc = write_chunk(s, &op, 1);
			if (rc == -ECANCELED) {	/* another wrote after us: theirs */
				s->st[DSYNC_write_conflicts]++;
				rc = read_back(s, d, now, x->key, out);
			}
		} else {
			rc = read_back(s, d, now, x->key, out);
		}
		if (!rc)
			hmap_del(&s->dirty_at, x->key);
	}
	if (rc)
		i--;	/* the one that failed stays */
	for (; i < s->ndirty; i++) {
		s->dirty[kept] = s->dirty[i];
		hmap_put(&s->dirty_at, s->dirty[kept].key, kept);
		hard |= !s->dirty[kept].soft;
		kept++;
	}
	s->ndirty = kept;
	dir_set_read_only(d, hard);
	if (!kept)
		return CORE_NEVER;
	s->retry_due = now.ns + DSYNC_RETRY_MS * 1000000ull;
	return s->retry_due;
}

/* ---- the watch ---------------------------------------------------------------------------- */

struct ev_ctx {
	struct dsync *s;
	struct dir *d;
	struct dir_now now;
	struct dir_out *out;
	bool resync;
};

static void on_event(void *arg, const struct etcd_event *ev)
{
	struct ev_ctx *c = arg;
	struct dsync *s = c->s;
	uint8_t k[8];
	uint64_t ku;
	uint64_t *dirty;

	if (ev->type == ETCD_EV_RESYNC) {
		c->resync = true;
		return;
	}
	if (!key_parse(s, ev->key, ev->klen, k)) {
		s->st[DSYNC_bad_events]++;
		return;
	}
	ku = key_u64(k);
	if (ev->mod_rev <= get_known(s, ku)) {
		s->st[DSYNC_own_echoes]++;	/* our write, or one we read back */
		return;
	}
	if (dir_apply(c->d, c->now, k, 8, ev->type == ETCD_EV_DELETE ? NULL : ev->val, ev->vlen,
		      c->out) < 0) {
		s->st[DSYNC_bad_events]++;
		log_rl_msg(&s->rl, mono_ns(), LOG_WARN, "etcd: unreadable record at %.*s",
			   (int)ev->klen, (const char *)ev->key);
		return;
	}
	set_known(s, ku, ev->type == ETCD_EV_DELETE ? 0 : ev->mod_rev);
	s->st[DSYNC_remote_events]++;
	/* A newer write by another server settles a key we were waiting on. */
	if ((dirty = hmap_get(&s->dirty_at, ku)))
		s->dirty[*dirty].settled = true;
}

/* The watch's history was compacted: read everything again (entries deleted
 * in the lost history stay until they are next written; counted). */
static void resync(struct dsync *s, struct dir *d, struct dir_now now, struct dir_out *out)
{
	int64_t rev = 0;

	s->st[DSYNC_resyncs]++;
	s->load_into = d;
	s->load_now = now;
	s->load_out = out;
	if (etcd_range_prefix(s->etcd, s->prefix, s->plen, load_one, s, &rev)) {
		log_rl_msg(&s->rl, mono_ns(), LOG_WARN, "etcd: resync failed; watching from now");
		rev = 0;
	}
	s->load_out = NULL;
	etcd_watch_resume(s->watch, rev ? rev + 1 : 0);
}

void dsync_events(struct dsync *s, struct dir *d, struct dir_now now, struct dir_out *out)
{
	struct ev_ctx c = { .s = s, .d = d, .now = now, .out = out };

	etcd_watch_read(s->watch, on_event, &c, DSYNC_EVENTS_PER_READ);
	if (c.resync)
		resync(s, d, now, out);
}

/* ---- counters ---------------------------------------------------------------------------- */

void dsync_get_stats(const struct dsync *s, uint64_t st[DSYNC_STAT_COUNT])
{
	memcpy(st, s->st, sizeof(s->st));
	st[DSYNC_dirty_keys] = s->ndirty;
	st[DSYNC_read_only] = 0;
	for (size_t i = 0; i < s->ndirty; i++)
		st[DSYNC_read_only] |= !s->dirty[i].soft;
}

void dsync_metrics(const struct dsync *s, struct metrics_text *t)
{
	const struct etcd_stats *e = etcd_get_stats(s->etcd);
	uint64_t st[DSYNC_STAT_COUNT];
	char name[96];

	dsync_get_stats(s, st);
	for (int i = 0; i < DSYNC_STAT_COUNT; i++) {
		bool gauge = i == DSYNC_dirty_keys || i == DSYNC_read_only;

		snprintf(name, sizeof(name), "peregrine_directory_etcd_%s%s", stat_names[i],
			 gauge ? "" : "_total");
		metrics_sample(t, gauge ? METRICS_GAUGE : METRICS_COUNTER, name,
			       "the replicated store (docs/ha.md)", (double)st[i], NULL);
	}
	metrics_sample(t, METRICS_COUNTER, "peregrine_etcd_errors_total",
		       "etcd requests that failed, by reason", (double)e->timeouts, "reason",
		       "timeout", NULL);
	metrics_sample(t, METRICS_COUNTER, "peregrine_etcd_errors_total",
		       "etcd requests that failed, by reason", (double)e->unreachable, "reason",
		       "unreachable", NULL);
	metrics_sample(t, METRICS_COUNTER, "peregrine_etcd_errors_total",
		       "etcd requests that failed, by reason", (double)e->bad_replies, "reason",
		       "bad_reply", NULL);
	metrics_sample(t, METRICS_COUNTER, "peregrine_etcd_failovers_total",
		       "moves to another etcd endpoint", (double)e->failovers, NULL);
}
