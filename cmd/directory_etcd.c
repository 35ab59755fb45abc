/* The replicated directory's store in etcd (cmd/directory_etcd.h). */
#include "cmd/directory_etcd.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "lib/core.h"
#include "lib/etcd.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "wire/be.h"
#include "wire/dirproto.h"

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

/* One batch on its way to etcd: its store operations (the last one per
 * key) and its datagrams, held until etcd has committed the operations. */
struct wjob {
	struct wjob *next;
	struct dir_op *ops;
	size_t nops, done;		/* done: written before a failure */
	bool soft;
	bool only_writes;		/* no ops: hold its write acknowledgements */
	/* dsync.failed_jobs when queued: a job ahead of it failed if that
	 * moved on by the time it completes (jobs complete in order). */
	uint64_t fail_mark;
	int rc;
	struct dir_out dg;		/* buf, sends, dsts copied; no ops */
};

struct dsync {
	struct etcd *etcd;		/* the loop's: reads back, retries */
	struct etcd *wetcd;		/* the writer thread's */
	pthread_t writer;
	pthread_mutex_t mu;		/* known, the queues, the writer's counters */
	pthread_cond_t cv;
	struct wjob *todo, **todo_tail, *done, **done_tail;
	size_t queued;
	struct hmap inflight;	/* store key -> writes in flight (loop only) */
	uint64_t failed_jobs;	/* jobs completed with a failure (loop only) */
	bool stopping;
	int done_pipe[2];
	struct etcd_watch *watch;
	char prefix[DSYNC_PREFIX_MAX];
	size_t plen;
	struct hmap known;	/* store key -> mod_revision this server last saw */
	struct dirty *dirty;
	size_t ndirty, dirty_cap;
	struct hmap dirty_at;	/* store key -> index in dirty */
	uint64_t retry_due;	/* mono ns */
	uint32_t backoff_ms;	/* retry interval while etcd fails; 0: not failing */
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

static void set_known_locked(struct dsync *s, uint64_t k, int64_t rev)
{
	if (rev > 0)
		hmap_put(&s->known, k, (uint64_t)rev);
	else
		hmap_del(&s->known, k);
}

static void set_known(struct dsync *s, uint64_t k, int64_t rev)
{
	pthread_mutex_lock(&s->mu);
	set_known_locked(s, k, rev);
	pthread_mutex_unlock(&s->mu);
}

static int64_t get_known_locked(const struct dsync *s, uint64_t k)
{
	const uint64_t *v = hmap_get(&s->known, k);

	return v ? (int64_t)*v : 0;
}

static int64_t get_known(struct dsync *s, uint64_t k)
{
	int64_t v;

	pthread_mutex_lock(&s->mu);
	v = get_known_locked(s, k);
	pthread_mutex_unlock(&s->mu);
	return v;
}

static void writer_stop(struct dsync *s);
static void job_free(struct wjob *j);
static void *writer_main(void *arg);

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
	sigset_t all, old;
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
	pthread_mutex_init(&s->mu, NULL);
	hmap_init(&s->known, 1024, wall_ns());
	hmap_init(&s->dirty_at, 64, wall_ns() ^ 0x5eed);
	hmap_init(&s->inflight, 256, wall_ns() ^ 0xf1f1);
	s->rl = (struct log_rl)LOG_RL_INIT(1000, 5);
	s->load_into = d;
	if ((rc = etcd_range_prefix(s->etcd, s->prefix, s->plen, load_one, s, &rev))) {
		snprintf(err, errlen, "etcd %s: cannot read %s: %s", urls, prefix, strerror(-rc));
		goto fail_maps;
	}
	if (!(s->wetcd = etcd_new(urls, timeout_ms ? timeout_ms : DSYNC_TIMEOUT_MS, err, errlen)))
		goto fail_maps;
	if (pipe2(s->done_pipe, O_CLOEXEC | O_NONBLOCK)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail_wetcd;
	}
	s->todo_tail = &s->todo;
	s->done_tail = &s->done;
	pthread_cond_init(&s->cv, NULL);
	sigfillset(&all);	/* signals stay the loop's */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->writer, NULL, writer_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		snprintf(err, errlen, "cannot start the etcd writer thread");
		goto fail_pipe;
	}
	if (!(s->watch = etcd_watch_start(urls, s->prefix, s->plen, rev + 1, err, errlen)))
		goto fail_writer;
	*loaded = s->loaded;
	return s;
fail_writer:
	writer_stop(s);
fail_pipe:
	close(s->done_pipe[0]);
	close(s->done_pipe[1]);
	pthread_cond_destroy(&s->cv);
fail_wetcd:
	etcd_free(s->wetcd);
fail_maps:
	hmap_free(&s->known);
	hmap_free(&s->dirty_at);
	hmap_free(&s->inflight);
	etcd_free(s->etcd);
	pthread_mutex_destroy(&s->mu);
fail:
	free(s);
	return NULL;
}

static void writer_stop(struct dsync *s)
{
	struct wjob *j;

	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->writer, NULL);
	while ((j = s->todo)) {	/* never written: never acknowledged */
		s->todo = j->next;
		job_free(j);
	}
	while ((j = s->done)) {
		s->done = j->next;
		job_free(j);
	}
}

void dsync_close(struct dsync *s)
{
	if (!s)
		return;
	etcd_watch_stop(s->watch);
	writer_stop(s);
	close(s->done_pipe[0]);
	close(s->done_pipe[1]);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	etcd_free(s->wetcd);
	etcd_free(s->etcd);
	hmap_free(&s->known);
	hmap_free(&s->dirty_at);
	hmap_free(&s->inflight);
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
static int write_chunk(struct dsync *s, struct etcd *e, const struct dir_op *ops, size_t n)
{
	struct etcd_op eo[ETCD_TXN_OPS];
	char names[ETCD_TXN_OPS][DSYNC_KEY_MAX];
	int64_t rev;
	int rc;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < n; i++) {
		uint64_t k = key_u64(ops[i].key);

		eo[i] = (struct etcd_op){ .del = ops[i].del, .key = names[i],
					  .klen = key_name(s, k, names[i]), .val = ops[i].val,
					  .vlen = DIR_STORE_VAL_LEN, .check = true,
					  .expect_mod = get_known_locked(s, k) };
	}
	s->st[DSYNC_writes]++;
	s->st[DSYNC_write_ops] += n;
	pthread_mutex_unlock(&s->mu);
	if ((rc = etcd_txn(e, eo, n, &rev)))
		return rc;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < n; i++)
		set_known_locked(s, key_u64(ops[i].key), ops[i].del ? 0 : rev);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* Write a group of jobs as one transaction when their operations fit one
 * (group commit: the queue drains at etcd's commit rate times
 * ETCD_TXN_OPS, not one batch per commit); a job too big for that is
 * written alone, in chunks. */
static void write_group(struct dsync *s, struct wjob *first, size_t njobs, size_t nops)
{
	struct dir_op ops[ETCD_TXN_OPS];
	size_t n = 0;
	struct wjob *j = first;
	int rc;

	if (njobs == 1 && nops > ETCD_TXN_OPS) {
		first->rc = 0;
		while (first->done < first->nops) {
			size_t m = MIN(first->nops - first->done, (size_t)ETCD_TXN_OPS);

			if ((first->rc = write_chunk(s, s->wetcd, first->ops + first->done, m)))
				break;
			first->done += m;
		}
		return;
	}
	/* The last operation per key over the whole group, in order. */
	for (size_t g = 0; g < njobs; g++, j = j->next) {
		for (size_t i = 0; i < j->nops; i++) {
			size_t k = 0;

			while (k < n && memcmp(ops[k].key, j->ops[i].key, DIR_STORE_KEY_LEN))
				k++;
			if (k == n)
				n++;
			ops[k] = j->ops[i];
		}
	}
	rc = n ? write_chunk(s, s->wetcd, ops, n) : 0;
	for (j = first; njobs--; j = j->next) {
		j->rc = rc;
		j->done = rc ? 0 : j->nops;
	}
}

static void *writer_main(void *arg)
{
	struct dsync *s = arg;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct wjob *first, *j, *last;
		size_t njobs = 0, nops = 0;

		while (!s->todo && !s->stopping)
			pthread_cond_wait(&s->cv, &s->mu);
		if (!s->todo)
			break;
		/* Take the jobs whose operations fit one transaction (at
		 * least one job). */
		first = last = s->todo;
		for (j = s->todo; j && (!njobs || nops + j->nops <= ETCD_TXN_OPS); j = j->next) {
			nops += j->nops;
			njobs++;
			last = j;
		}
		s->todo = last->next;
		if (!s->todo)
			s->todo_tail = &s->todo;
		last->next = NULL;
		pthread_mutex_unlock(&s->mu);
		write_group(s, first, njobs, nops);
		pthread_mutex_lock(&s->mu);
		*s->done_tail = first;
		s->done_tail = &last->next;
		if (write(s->done_pipe[1], "", 1) < 0) {
			/* full: the loop has wake-ups waiting already */
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void job_free(struct wjob *j)
{
	free(j->ops);
	dir_out_free(&j->dg);
	free(j);
}

/* A batch that will not be acknowledged: its keys are read back from etcd
 * (availability: written again later) and the core is read-only meanwhile. */
static void job_failed(struct dsync *s, struct dir *d, const struct dir_op *ops, size_t n,
		       bool soft, int rc)
{
	bool send = soft && rc != -ECANCELED;

	if (rc == -ECANCELED)
		s->st[DSYNC_write_conflicts]++;
	else
		s->st[DSYNC_write_failures]++;
	log_rl_msg(&s->rl, mono_ns(), LOG_WARN, "etcd: write of %zu keys: %s%s", n, strerror(-rc),
		   send ? " (availability: sent anyway, written later)" : "");
	for (size_t i = 0; i < n; i++)
		mark_dirty(s, &ops[i], send);
	if (!send) {
		dir_set_read_only(d, true);
		s->st[DSYNC_batches_held]++;
	}
	/* Read back at once after a conflict (etcd answered) or a first
	 * failure; while etcd keeps failing, at the backoff's pace (a read
	 * back blocks the loop for up to the request timeout). */
	if (rc == -ECANCELED || !s->backoff_ms)
		s->retry_due = 0;
}

bool dsync_submit(struct dsync *s, struct dir *d, const struct dir_out *o)
{
	const struct dir_op **uniq = xmalloc(MAX(o->nops, (size_t)1) * sizeof(*uniq));
	size_t k = collapse(o->ops, o->nops, uniq);
	struct wjob *j = xcalloc(1, sizeof(*j));
	bool full;

	j->ops = xmalloc(MAX(k, (size_t)1) * sizeof(*j->ops));
	j->nops = k;
	j->only_writes = false;
	j->fail_mark = s->failed_jobs;
	j->soft = true;
	for (size_t i = 0; i < k; i++) {
		j->ops[i] = *uniq[i];
		j->soft &= uniq[i]->soft;
	}
	free(uniq);
	pthread_mutex_lock(&s->mu);
	full = s->queued >= DSYNC_QUEUE_MAX;
	pthread_mutex_unlock(&s->mu);
	if (full) {
		s->st[DSYNC_queue_full]++;
		job_failed(s, d, j->ops, j->nops, false, -ENOBUFS);
		job_free(j);
		return false;
	}
	/* The datagrams wait for the writes. */
	dir_out_init(&j->dg);
	j->dg.buf = xmalloc(MAX(o->len, (size_t)1));
	memcpy(j->dg.buf, o->buf, o->len);
	j->dg.len = j->dg.cap = o->len;
	j->dg.sends = xmalloc(MAX(o->nsends, (size_t)1) * sizeof(*o->sends));
	memcpy(j->dg.sends, o->sends, o->nsends * sizeof(*o->sends));
	j->dg.nsends = j->dg.sends_cap = o->nsends;
	j->dg.dsts = xmalloc(MAX(o->ndsts, (size_t)1) * sizeof(*o->dsts));
	memcpy(j->dg.dsts, o->dsts, o->ndsts * sizeof(*o->dsts));
	j->dg.ndsts = j->dg.dsts_cap = o->ndsts;
	for (size_t i = 0; i < j->nops; i++) {
		uint64_t key = key_u64(j->ops[i].key), *c = hmap_get(&s->inflight, key);

		hmap_put(&s->inflight, key, c ? *c + 1 : 1);
	}
	pthread_mutex_lock(&s->mu);
	s->queued++;
	*s->todo_tail = j;
	s->todo_tail = &j->next;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return true;
}

bool dsync_busy(struct dsync *s)
{
	bool busy;

	pthread_mutex_lock(&s->mu);
	busy = s->queued > 0;
	pthread_mutex_unlock(&s->mu);
	return busy;
}

/* Does a datagram show an entry whose write is in flight (a lookup reply or
 * a push), or acknowledge a write? */
static bool must_wait(struct dsync *s, const uint8_t *dg, size_t len)
{
	struct dirp_msg m;

	if (dsync_is_write_ack(dg, len))
		return true;
	if (!s->inflight.count)
		return false;
	/* Our own output: no tag to check. */
	if (dirp_decode(dg, len, NULL, &m) < 0 ||
	    (m.h.type != (DIRP_LOOKUP | DIRP_REPLY_BIT) && m.h.type != (DIRP_RENEW | DIRP_REPLY_BIT) &&
	     m.h.type != DIRP_UPDATE && m.h.type != DIRP_INVALIDATE))
		return false;
	for (unsigned i = 0; i < m.h.count; i++) {
		struct dirp_entry e;

		dirp_get_entry(&m, i, &e);
		if (hmap_get(&s->inflight, (uint64_t)e.vdc << 32 | e.ip) ||
		    hmap_get(&s->inflight, (uint64_t)DIR_VDC_SERVICE << 32 | e.ip))
			return true;
	}
	return false;
}

/* Is a key's write failed and not read back yet (etcd unreachable): what
 * memory holds about it may not be in etcd, and the read-back may take
 * it back. */
static bool unknown(const struct dsync *s, uint64_t key)
{
	const uint64_t *at = hmap_get(&s->dirty_at, key);

	return at && !s->dirty[*at].soft && !s->dirty[*at].settled;
}

/* Does a lookup reply or a push show an entry whose state is unknown? */
static bool shows_unknown(const struct dsync *s, const uint8_t *dg, size_t len)
{
	struct dirp_msg m;

	if (!s->ndirty || dirp_decode(dg, len, NULL, &m) < 0 ||
	    (m.h.type != (DIRP_LOOKUP | DIRP_REPLY_BIT) && m.h.type != (DIRP_RENEW | DIRP_REPLY_BIT) &&
	     m.h.type != DIRP_UPDATE && m.h.type != DIRP_INVALIDATE))
		return false;
	for (unsigned i = 0; i < m.h.count; i++) {
		struct dirp_entry e;

		dirp_get_entry(&m, i, &e);
		if (unknown(s, (uint64_t)e.vdc << 32 | e.ip) ||
		    unknown(s, (uint64_t)DIR_VDC_SERVICE << 32 | e.ip))
			return true;
	}
	return false;
}

uint64_t dsync_send_or_hold(struct dsync *s, struct dir *d, const struct dir_out *o,
			    dsync_send_fn send, void *arg)
{
	struct wjob *j = NULL;
	uint64_t sent = 0;

	for (size_t i = 0; i < o->nsends; i++) {
		const struct dir_send *snd = &o->sends[i];

		if (shows_unknown(s, o->buf + snd->off, snd->len)) {
			/* unanswered: the client asks again, and is answered
			 * once the key is read back */
			s->st[DSYNC_unknown_dropped]++;
			continue;
		}
		if (!must_wait(s, o->buf + snd->off, snd->len)) {
			struct dir_out one = { .buf = o->buf, .len = o->len,
					       .sends = (struct dir_send *)snd, .nsends = 1,
					       .dsts = o->dsts, .ndsts = o->ndsts };

			send(arg, &one, false);
			sent += snd->ndst;
			continue;
		}
		if (!j) {
			j = xcalloc(1, sizeof(*j));
			j->ops = xmalloc(sizeof(*j->ops));
			j->soft = true;
			j->fail_mark = s->failed_jobs;
			dir_out_init(&j->dg);
		}
		/* Copy the datagram and its destinations into the job. */
		GROW(j->dg.sends, j->dg.nsends, j->dg.sends_cap);
		if (j->dg.len + snd->len > j->dg.cap) {
			j->dg.cap = MAX(j->dg.cap * 2, j->dg.len + snd->len);
			j->dg.buf = xrealloc(j->dg.buf, j->dg.cap);
		}
		memcpy(j->dg.buf + j->dg.len, o->buf + snd->off, snd->len);
		j->dg.sends[j->dg.nsends] = (struct dir_send){ .off = (uint32_t)j->dg.len,
							       .len = snd->len,
							       .dst = (uint32_t)j->dg.ndsts,
							       .ndst = snd->ndst };
		j->dg.nsends++;
		j->dg.len += snd->len;
		for (uint32_t k = 0; k < snd->ndst; k++) {
			GROW(j->dg.dsts, j->dg.ndsts, j->dg.dsts_cap);
			j->dg.dsts[j->dg.ndsts++] = o->dsts[snd->dst + k];
		}
	}
	if (j) {
		(void)d;
		pthread_mutex_lock(&s->mu);
		s->queued++;
		*s->todo_tail = j;
		s->todo_tail = &j->next;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
	}
	return sent;
}

bool dsync_is_write_ack(const uint8_t *dgram, size_t len)
{
	uint8_t t;

	if (len < 4 || !(dgram[3] & DIRP_REPLY_BIT))
		return false;
	t = dgram[3] & (uint8_t)~DIRP_REPLY_BIT;
	return t == DIRP_REGISTER || t == DIRP_UNREGISTER || t == DIRP_MOVE || t == DIRP_SET_AVAIL;
}

int dsync_done_fd(const struct dsync *s)
{
	return s->done_pipe[0];
}

void dsync_completed(struct dsync *s, struct dir *d, struct dir_now now, struct dir_out *out,
		     dsync_send_fn send, void *arg)
{
	bool failed = false;
	char drain[64];
	struct wjob *list;

	while (read(s->done_pipe[0], drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&s->mu);
	list = s->done;
	s->done = NULL;
	s->done_tail = &s->done;
	pthread_mutex_unlock(&s->mu);
	while (list) {
		struct wjob *j = list;

		list = j->next;
		pthread_mutex_lock(&s->mu);
		s->queued--;
		pthread_mutex_unlock(&s->mu);
		for (size_t i = 0; i < j->nops; i++) {
			uint64_t key = key_u64(j->ops[i].key), *c = hmap_get(&s->inflight, key);

			if (c && *c > 1)
				(*c)--;
			else
				hmap_del(&s->inflight, key);
		}
		if (j->rc) {
			job_failed(s, d, j->ops + j->done, j->nops - j->done, j->soft, j->rc);
			failed = true;
			/* availability is soft state: its pushes go before
			 * etcd's commit anyway (dsync_submit's callers) */
			s->failed_jobs += !j->soft;
		} else if (j->fail_mark != s->failed_jobs) {
			/* Queued behind a job of registrations, removals or
			 * moves that failed: what it holds was answered from
			 * memory that showed the failed writes (a
			 * retransmitted registration acknowledged, an entry at
			 * its unwritten version), which etcd may not have.
			 * Drop it: the clients ask again, and are answered
			 * once the keys are read back. */
			s->st[DSYNC_held_dropped]++;
			job_free(j);
			continue;
		}
		if (!j->rc || (j->soft && j->rc != -ECANCELED))
			send(arg, &j->dg, j->only_writes);
		job_free(j);
	}
	/* Read the failed keys back at once, before anything else is
	 * answered from memory about them (a conflict: etcd holds another
	 * server's newer write). */
	if (failed)
		dsync_tick(s, d, now, out);
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
			rc = write_chunk(s, s->etcd, &x->op, 1);
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
	if (!kept) {
		s->backoff_ms = 0;
		return CORE_NEVER;
	}
	if (rc)
		s->backoff_ms = s->backoff_ms ? MIN(s->backoff_ms * 2, (uint32_t)DSYNC_RETRY_MAX_MS)
					      : DSYNC_RETRY_MS;
	s->retry_due = mono_ns() + (uint64_t)(s->backoff_ms ? s->backoff_ms : DSYNC_RETRY_MS) * 1000000ull;
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

bool dsync_waiting(const struct dsync *s)
{
	return s->ndirty > 0;
}

/* ---- counters ---------------------------------------------------------------------------- */

void dsync_get_stats(struct dsync *s, uint64_t st[DSYNC_STAT_COUNT])
{
	pthread_mutex_lock(&s->mu);
	memcpy(st, s->st, sizeof(s->st));
	st[DSYNC_queued] = s->queued;
	pthread_mutex_unlock(&s->mu);
	st[DSYNC_dirty_keys] = s->ndirty;
	st[DSYNC_read_only] = 0;
	for (size_t i = 0; i < s->ndirty; i++)
		st[DSYNC_read_only] |= !s->dirty[i].soft;
}

void dsync_metrics(struct dsync *s, struct metrics_text *t)
{
	const struct etcd_stats *e = etcd_get_stats(s->etcd);
	uint64_t st[DSYNC_STAT_COUNT];
	char name[96];

	dsync_get_stats(s, st);
	for (int i = 0; i < DSYNC_STAT_COUNT; i++) {
		bool gauge = i == DSYNC_dirty_keys || i == DSYNC_read_only || i == DSYNC_queued;

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
