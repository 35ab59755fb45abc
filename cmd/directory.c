/* peregrine directory: the directory server daemon.
 *
 * The shell around dir/ (the core): a UDP socket read and written in
 * batches, an LMDB store, a timer, signals.  Per batch of received datagrams:
 * feed each to the core, write the core's store operations in ONE durable
 * transaction, and only then send the core's datagrams.  A reply that
 * acknowledges a registration therefore never leaves before the registration
 * is on disk (docs/directory.md).
 */
#include "cmd/directory.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <lmdb.h>
#include <poll.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/daemon.h"
#include "cmd/directory_etcd.h"
#include "lib/auth.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/parse.h"
#include "lib/udp.h"

enum directory_limits {
	DS_RX_BATCHES = 16,		/* recvmmsg batches per readable event */
	DS_TX_BATCH = 256,		/* datagrams per sendmmsg */
	DS_MAP_BYTES = 1u << 30,	/* LMDB map: about 10M entries */
	DS_SOCKBUF = 8 << 20,
	DS_TX_WAITS = 200,		/* 1 ms waits for buffer space per flush */
};

/* ---- the store ---------------------------------------------------------------- */

struct dstore {
	MDB_env *env;
	MDB_dbi dbi;
	bool unsynced;	/* a soft batch was committed without a sync */
};

struct dstore *dstore_open(const char *path, size_t map_bytes, char *err, size_t errlen)
{
	struct dstore *s = xcalloc(1, sizeof(*s));
	MDB_txn *txn;
	int rc;

	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if ((rc = mdb_env_create(&s->env)) ||
	    (rc = mdb_env_set_mapsize(s->env, map_bytes)) ||
	    (rc = mdb_env_open(s->env, path, 0, 0600))) {
		snprintf(err, errlen, "%s: %s", path, mdb_strerror(rc));
		goto fail_env;
	}
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) ||
	    (rc = mdb_dbi_open(txn, NULL, 0, &s->dbi)) || (rc = mdb_txn_commit(txn))) {
		snprintf(err, errlen, "%s: %s", path, mdb_strerror(rc));
		goto fail_env;
	}
	return s;
fail_env:
	mdb_env_close(s->env);
fail:
	free(s);
	return NULL;
}

void dstore_close(struct dstore *s)
{
	if (!s)
		return;
	dstore_sync(s);
	mdb_env_close(s->env);
	free(s);
}

long dstore_load(struct dstore *s, struct dir *d)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	long n = 0, bad = 0;
	int rc;

	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
		return -1;
	if (mdb_cursor_open(txn, s->dbi, &cur)) {
		mdb_txn_abort(txn);
		return -1;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (dir_restore(d, k.mv_data, k.mv_size, v.mv_data, v.mv_size) == 0)
			n++;
		else
			bad++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (bad)
		log_warn("store: skipped %ld records this version cannot read", bad);
	return rc == MDB_NOTFOUND ? n : -1;
}

/* One transaction for a batch: the entries' writes and the policies'.
 * Durable (LMDB syncs on commit) unless every operation is soft (a
 * policy's never is): then it is committed without a sync, and
 * dstore_sync() makes it durable shortly after, off the critical path. */
int dstore_apply_out(struct dstore *s, const struct dir_out *o)
{
	bool soft = o->npops == 0;
	MDB_txn *txn;
	int rc;

	for (size_t i = 0; i < o->nops; i++)
		soft &= o->ops[i].soft;
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
		goto fail;
	for (size_t i = 0; i < o->nops; i++) {
		MDB_val k = { DIR_STORE_KEY_LEN, (void *)o->ops[i].key };
		MDB_val v = { DIR_STORE_VAL_LEN, (void *)o->ops[i].val };

		rc = o->ops[i].del ? mdb_del(txn, s->dbi, &k, NULL) : mdb_put(txn, s->dbi, &k, &v, 0);
		if (rc && rc != MDB_NOTFOUND) {
			mdb_txn_abort(txn);
			goto fail;
		}
	}
	for (size_t i = 0; i < o->npops; i++) {
		const struct dir_pol_op *p = &o->pops[i];
		MDB_val k = { DIR_POL_KEY_LEN, (void *)p->key };
		MDB_val v = { p->len, o->pbuf + p->off };

		rc = p->del ? mdb_del(txn, s->dbi, &k, NULL) : mdb_put(txn, s->dbi, &k, &v, 0);
		if (rc && rc != MDB_NOTFOUND) {
			mdb_txn_abort(txn);
			goto fail;
		}
	}
	if (soft && (rc = mdb_env_set_flags(s->env, MDB_NOSYNC, 1))) {
		mdb_txn_abort(txn);
		goto fail;
	}
	rc = mdb_txn_commit(txn);
	if (soft)
		mdb_env_set_flags(s->env, MDB_NOSYNC, 0);
	if (rc)
		goto fail;
	s->unsynced = soft;	/* a synced commit syncs every one before it */
	return 0;
fail:
	log_err("store: %s", mdb_strerror(rc));
	return -EIO;
}

/* Sync what soft batches committed; 0 or -EIO. */
int dstore_sync(struct dstore *s)
{
	int rc;

	if (!s->unsynced)
		return 0;
	if ((rc = mdb_env_sync(s->env, 1))) {
		log_err("store: sync: %s", mdb_strerror(rc));
		return -EIO;
	}
	s->unsynced = false;
	return 0;
}

/* ---- serving -------------------------------------------------------------------- */

struct server {
	struct dir *d;
	int fd;
	struct dstore *store;
	struct dsync *sync;		/* the registrations in etcd (NULL: store) */
	struct loop *loop;
	struct loop_timer *timer;
	uint64_t timer_due;		/* when the timer fires next */
	struct dir_out out;
	struct udp_batch rx;
	struct mmsghdr tx[DS_TX_BATCH];
	struct iovec iov[DS_TX_BATCH];
	struct sockaddr_in to[DS_TX_BATCH];
	int failed;
	struct log_rl rl;
	struct prefault *pf;
	volatile struct dserve_timing *timing;
	struct daemon *dm;		/* metrics (NULL: the benchmark) */
	uint64_t ev_last[DIR_STAT_COUNT];	/* counters `peregrine monitor` was told */
};

/* Events for `peregrine monitor` (cmd/daemon.h): what changed since the
 * last call, one event per kind (a fan-out of pushes is one event). */
static void emit_events(struct server *s)
{
	uint64_t st[DIR_STAT_COUNT], *l = s->ev_last;

	if (!s->dm || !daemon_metrics_addr(s->dm)[0])
		return;
	dir_get_stats(s->d, st);
	if (st[DIR_STAT_pushes] != l[DIR_STAT_pushes])
		daemon_event(s->dm, "push", "\"pushes\":%" PRIu64 ",\"datagrams\":%" PRIu64
			     ",\"availability_changes\":%" PRIu64,
			     st[DIR_STAT_pushes] - l[DIR_STAT_pushes],
			     st[DIR_STAT_push_datagrams] - l[DIR_STAT_push_datagrams],
			     st[DIR_STAT_avail_changes] - l[DIR_STAT_avail_changes]);
	if (st[DIR_STAT_moves] != l[DIR_STAT_moves])
		daemon_event(s->dm, "migration", "\"entries_moved\":%" PRIu64,
			     st[DIR_STAT_moves] - l[DIR_STAT_moves]);
	if (st[DIR_STAT_dropped] != l[DIR_STAT_dropped])
		daemon_event(s->dm, "drops", "\"datagrams\":%" PRIu64,
			     st[DIR_STAT_dropped] - l[DIR_STAT_dropped]);
	memcpy(l, st, sizeof(st));
}

static struct dir_now now_sys(void)
{
	return (struct dir_now){ .ns = mono_ns(), .wall_ms = wall_ns() / 1000000ull };
}

/* The calling thread's CPU time (benchmark timing only: a system call). */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void arm_timer(struct server *s, uint64_t next);
static void send_written(void *arg, const struct dir_out *o, bool only_writes);

static void tx_flush(struct server *s, unsigned n)
{
	unsigned sent = 0, waits = 0;

	while (sent < n) {
		int r = sendmmsg(s->fd, s->tx + sent, n - sent, MSG_DONTWAIT);

		if (r < 0) {
			struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };

			if (errno == EINTR)
				continue;
			/* A burst (a fan-out of pushes) filled the socket buffer:
			 * give the kernel a moment to drain it, within a bound. */
			if ((errno == EAGAIN || errno == ENOBUFS) && waits++ < DS_TX_WAITS) {
				poll(&pfd, 1, 1);
				continue;
			}
			/* UDP: skip the datagram the kernel refused; pushes are
			 * retransmitted and clients retry requests. */
			log_rl_msg(&s->rl, mono_ns(), LOG_WARN, "send: %s", strerror(errno));
			sent++;
			continue;
		}
		sent += (unsigned)r;
	}
}

/* Send the datagrams of o (which: -1 all, 1 only the acknowledgements of
 * writes, 0 all but those); returns how many. */
static uint64_t send_dgrams(struct server *s, const struct dir_out *o, int which)
{
	uint64_t total = 0;
	unsigned n = 0;

	for (size_t i = 0; i < o->nsends; i++) {
		const struct dir_send *snd = &o->sends[i];

		if (which >= 0 && dsync_is_write_ack(o->buf + snd->off, snd->len) != (which == 1))
			continue;
		for (uint32_t j = 0; j < snd->ndst; j++) {
			uint64_t a = o->dsts[snd->dst + j];

			s->to[n].sin_family = AF_INET;
			s->to[n].sin_addr.s_addr = htonl((uint32_t)(a >> 16));
			s->to[n].sin_port = htons((uint16_t)a);
			s->iov[n].iov_base = o->buf + snd->off;
			s->iov[n].iov_len = snd->len;
			total++;
			if (++n == DS_TX_BATCH) {
				tx_flush(s, n);
				n = 0;
			}
		}
	}
	tx_flush(s, n);
	return total;
}

static bool ops_soft(const struct dir_out *o)
{
	for (size_t i = 0; i < o->nops; i++)
		if (!o->ops[i].soft)
			return false;
	return true;
}

/* Make the batch's store writes durable, then send its datagrams; returns
 * how many were sent.  With etcd the batch goes to the writer thread and
 * its datagrams leave when etcd has committed (on_etcd_written). */
static uint64_t flush_out(struct server *s)
{
	struct dir_out *o = &s->out;
	uint64_t total;

	if (o->nops && s->sync && ops_soft(o)) {
		/* Availability alone (soft state: a RAS marks it again, a
		 * switch's port-down notice is fail-over's critical path,
		 * docs/ha.md): its pushes leave now, unless they show an entry
		 * whose write is in flight, and etcd gets the writes behind
		 * them.  With etcd down they would otherwise wait for its
		 * timeout. */
		struct dir_out writes = *o;

		total = dsync_send_or_hold(s->sync, s->d, o, send_written, s);
		writes.nsends = 0;
		if (!dsync_submit(s->sync, s->d, &writes))
			arm_timer(s, mono_ns());
		dir_out_reset(o);
		return total;
	}
	if (o->nops && s->sync) {
		if (!dsync_submit(s->sync, s->d, o))
			arm_timer(s, mono_ns());	/* read its keys back */
		dir_out_reset(o);
		return 0;
	}
	if (s->sync && (dsync_busy(s->sync) || dsync_waiting(s->sync))) {
		/* What shows a write in flight waits behind it; what shows
		 * a key to read back is not sent. */
		total = dsync_send_or_hold(s->sync, s->d, o, send_written, s);
		dir_out_reset(o);
		return total;
	}
	if ((o->nops || o->npops) && s->store && dstore_apply_out(s->store, o)) {
		/* Nothing of this batch may be acknowledged: stop; a restart
		 * reloads the last durable state. */
		s->failed = 1;
		loop_stop(s->loop);
		dir_out_reset(o);
		return 0;
	}
	total = send_dgrams(s, o, -1);
	dir_out_reset(o);
	return total;
}

static void arm_timer(struct server *s, uint64_t next)
{
	uint64_t now = mono_ns();

	s->timer_due = next;
	loop_timer_set(s->loop, s->timer, next > now ? next - now : 0);
}

/* Tell the prefault helper where the tables' high-water marks are now. */
static void publish_spans(struct server *s)
{
	struct prefault_span sp[DIR_SPANS];

	if (!s->pf)
		return;
	dir_big_tables(s->d, sp);
	prefault_publish(s->pf, sp, DIR_SPANS);
	if (s->timing)
		s->timing->prefault_bytes = prefault_bytes(s->pf);
}

static void on_timer(void *arg)
{
	struct server *s = arg;
	struct dir_now now = now_sys();
	uint64_t next = dir_tick(s->d, now, &s->out);

	if (s->sync)
		next = MIN(next, dsync_tick(s->sync, s->d, now, &s->out));

	/* Availability written without a sync (the pushes went first) is
	 * made durable here, at most a push retransmission later. */
	if (s->store && dstore_sync(s->store)) {
		s->failed = 1;
		loop_stop(s->loop);
		return;
	}
	flush_out(s);
	publish_spans(s);
	emit_events(s);
	arm_timer(s, next);
}

static void on_readable(void *arg, int fd)
{
	struct server *s = arg;
	bool pushes_armed = false;

	for (int b = 0; b < DS_RX_BATCHES; b++) {
		int n = udp_recv_batch(fd, &s->rx);
		struct dir_now now = now_sys();
		uint64_t sent, cpu0 = s->timing ? thread_cpu_ns() : 0;

		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			const struct sockaddr_in *a = &s->rx.addrs[i];

			dir_input(s->d, now, dir_addr(ntohl(a->sin_addr.s_addr), ntohs(a->sin_port)),
				  s->rx.bufs[i], s->rx.msgs[i].msg_len, &s->out);
		}
		pushes_armed |= s->out.nops > 0;
		sent = flush_out(s);
		if (s->timing && sent > s->timing->max_sent) {
			s->timing->max_sent = sent;
			s->timing->max_sent_ns = mono_ns() - now.ns;
			s->timing->max_sent_cpu_ns = thread_cpu_ns() - cpu0;
		}
		if (s->failed || n < UDP_BATCH)
			break;
	}
	publish_spans(s);
	emit_events(s);
	/* A change may have armed push retransmissions: run the timer soon. */
	if (pushes_armed) {
		uint64_t due = mono_ns() + (uint64_t)DIR_PUSH_RTO_MS * 1000000ull;

		if (due < s->timer_due)
			arm_timer(s, due);
	}
}

static void send_written(void *arg, const struct dir_out *o, bool only_writes)
{
	send_dgrams(arg, o, only_writes ? 1 : -1);
}

/* Batches back from etcd: send what etcd committed. */
static void on_etcd_written(void *arg, int fd)
{
	struct server *s = arg;

	(void)fd;
	dsync_completed(s->sync, s->d, now_sys(), &s->out, send_written, s);
	flush_out(s);
	if (dsync_waiting(s->sync))
		arm_timer(s, mono_ns());	/* read back what failed */
}

/* What the etcd watch delivered: other servers' changes, pushed to our
 * lease holders. */
static void on_etcd(void *arg, int fd)
{
	struct server *s = arg;

	(void)fd;
	dsync_events(s->sync, s->d, now_sys(), &s->out);
	flush_out(s);
	if (s->out.nops == 0 && mono_ns() + (uint64_t)DIR_PUSH_RTO_MS * 1000000ull < s->timer_due)
		arm_timer(s, mono_ns() + (uint64_t)DIR_PUSH_RTO_MS * 1000000ull);
}

/* The core's counters as Prometheus metrics (docs/metrics.md). */
static void render_metrics(void *arg, struct metrics_text *t)
{
	static const char *const gauges[] = { "entries", "draining", "leases", "clients",
					      "pending_pushes", "sessions", NULL };
	const struct server *s = arg;
	uint64_t st[DIR_STAT_COUNT];
	char name[128];

	dir_get_stats(s->d, st);
	for (int i = 0; i < DIR_STAT_COUNT; i++) {
		const char *n = dir_stat_name(i);
		bool gauge = false;

		for (int g = 0; gauges[g]; g++)
			gauge |= !strcmp(n, gauges[g]);
		if (!strncmp(n, "drop_", 5)) {
			metrics_sample(t, METRICS_COUNTER, "peregrine_directory_drops_total",
				       "datagrams dropped, by reason", (double)st[i], "reason", n + 5,
				       NULL);
		} else if (!strcmp(n, "dropped")) {
			continue;	/* the sum of the above */
		} else if (gauge) {
			snprintf(name, sizeof(name), "peregrine_directory_%s", n);
			metrics_sample(t, METRICS_GAUGE, name, "now (dirctl stats)", (double)st[i],
				       NULL);
		}
	}
	for (int i = 0; i < DIR_STAT_COUNT; i++) {	/* counters, after the drops */
		const char *n = dir_stat_name(i);
		bool skip = !strncmp(n, "drop", 4);

		for (int g = 0; gauges[g]; g++)
			skip |= !strcmp(n, gauges[g]);
		if (skip)
			continue;
		snprintf(name, sizeof(name), "peregrine_directory_%s_total", n);
		metrics_sample(t, METRICS_COUNTER, name, "since start (dirctl stats)",
			       (double)st[i], NULL);
	}
	metrics_sample(t, METRICS_GAUGE, "peregrine_directory_memory_bytes",
		       "bytes the core's tables hold", (double)dir_mem_bytes(s->d), NULL);
	if (s->sync)
		dsync_metrics(s->sync, t);
}

static int serve(struct dir *d, int fd, struct dstore *store, struct dsync *sync,
		 struct prefault *pf, volatile struct dserve_timing *timing, struct daemon *dm)
{
	struct server *s = xcalloc(1, sizeof(*s));
	struct loop_io *io, *eio = NULL, *wio = NULL;
	int ret, buf = DS_SOCKBUF;

	/* Past the sysctl caps when we may (root): fan-outs send in bursts. */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));

	s->d = d;
	s->fd = fd;
	s->store = store;
	s->sync = sync;
	s->timing = timing;
	s->pf = pf;
	s->dm = dm;
	s->rl = (struct log_rl)LOG_RL_INIT(1000, 5);
	dir_out_init(&s->out);
	udp_batch_init(&s->rx);
	for (int i = 0; i < DS_TX_BATCH; i++) {
		s->tx[i].msg_hdr.msg_name = &s->to[i];
		s->tx[i].msg_hdr.msg_namelen = sizeof(s->to[i]);
		s->tx[i].msg_hdr.msg_iov = &s->iov[i];
		s->tx[i].msg_hdr.msg_iovlen = 1;
	}
	s->loop = loop_new();
	loop_stop_on_signals(s->loop);
	if (dm) {	/* the scaffold's metrics, on this loop */
		dm->loop = s->loop;
		if (daemon_metrics(dm, render_metrics, s)) {
			dm->loop = NULL;
			loop_free(s->loop);
			dir_out_free(&s->out);
			free(s);
			return 1;
		}
	}
	io = loop_io_add(s->loop, fd, on_readable, s);
	if (sync) {
		eio = loop_io_add(s->loop, dsync_fd(sync), on_etcd, s);
		wio = loop_io_add(s->loop, dsync_done_fd(sync), on_etcd_written, s);
	}
	s->timer = loop_timer_add(s->loop, 0, 0, on_timer, s);
	loop_run(s->loop);
	loop_timer_del(s->loop, s->timer);
	if (eio)
		loop_io_del(s->loop, eio);
	if (wio)
		loop_io_del(s->loop, wio);
	loop_io_del(s->loop, io);
	if (dm) {
		daemon_free(dm);	/* the metrics server, and the loop with it */
	} else {
		loop_free(s->loop);
	}
	dir_out_free(&s->out);
	ret = s->failed;
	free(s);
	return ret;
}

int directory_serve(struct dir *d, int fd, struct dstore *store, struct prefault *pf,
		    volatile struct dserve_timing *timing, struct daemon *dm)
{
	return serve(d, fd, store, NULL, pf, timing, dm);
}

int directory_serve_etcd(struct dir *d, int fd, struct dsync *sync, struct prefault *pf,
			 struct daemon *dm)
{
	return serve(d, fd, NULL, sync, pf, NULL, dm);
}

/* ---- the command ------------------------------------------------------------------ */

static const char directory_help[] =
	"Usage: peregrine directory --listen ADDR:PORT --db PATH --key FILE [OPTIONS]\n"
	"\n"
	"Run the directory server: the generalized ARP service that maps (VDC, IP)\n"
	"to a VM's primary and backup MAC and its server's two MACs, hands out\n"
	"leases, and pushes changes to the clients caching an entry.  The protocol\n"
	"is in docs/directory-protocol.md, the design in docs/directory.md.\n"
	"\n"
	"  --listen ADDR:PORT   UDP address to serve on (for example 127.0.0.1:7400)\n"
	"  --db PATH            LMDB directory holding the registrations (created if\n"
	"                       missing); every registration is on disk before it is\n"
	"                       acknowledged\n"
	"  --key FILE           shared key authenticating every message\n"
	"                       (made by `peregrine keygen FILE`)\n"
	"  --lease SECONDS      lease on a found entry (default 30)\n"
	"  --neg-lease MS       lease on NOT FOUND, in milliseconds (default 1000)\n"
	"  --service CIDR       the service-node range shared by every VDC\n"
	"                       (default 10.254.0.0/16; 'none' for no shared range)\n"
	"  --skew SECONDS       accepted clock difference for replay protection\n"
	"                       (default 30)\n"
	"  --max-entries N      cap on entries (default 16777216)\n"
	"  --max-leases N       cap on leases (default 33554432); past it lookups\n"
	"                       are answered with lease 0 (do not cache)\n"
	"  --db-size MIB        LMDB map size (default 1024)\n"
	"  --etcd URL[,URL...]  keep the registrations in etcd instead of --db, shared\n"
	"                       with every directory server given the same etcd and\n"
	"                       prefix (a replicated directory: docs/ha.md); each\n"
	"                       registration is in etcd before it is acknowledged\n"
	"  --etcd-prefix P      key prefix in etcd (default /peregrine/dir/)\n"
	"  --etcd-timeout MS    bound on one etcd request (default 1000)\n"
	"  --log-level LEVEL    error, warn, info (default) or debug\n"
	DAEMON_HELP_METRICS
	"  --name NAME          name in log lines (the lab also finds its daemons\n"
	"                       by it)\n"
	"  -h, --help           this text\n"
	"\n"
	"SIGTERM or SIGINT stops it cleanly.  Leases are soft state: after a\n"
	"restart, clients keep what they cached until their leases end.\n";

struct ds_opts {
	const char *listen, *db, *key;
	const char *etcd, *etcd_prefix;
	uint32_t etcd_timeout_ms;
	struct dir_cfg cfg;
	size_t map_bytes;
};

static int parse_opts(int argc, char **argv, struct ds_opts *o, struct daemon *dm)
{
	static const struct option longs[] = {
		{ "listen", required_argument, NULL, 'l' }, { "db", required_argument, NULL, 'd' },
		{ "key", required_argument, NULL, 'k' }, { "lease", required_argument, NULL, 'L' },
		{ "neg-lease", required_argument, NULL, 'N' },
		{ "service", required_argument, NULL, 's' }, { "skew", required_argument, NULL, 'S' },
		{ "max-entries", required_argument, NULL, 'E' },
		{ "max-leases", required_argument, NULL, 'M' },
		{ "db-size", required_argument, NULL, 'z' },
		{ "etcd", required_argument, NULL, 'e' },
		{ "etcd-prefix", required_argument, NULL, 'P' },
		{ "etcd-timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' }, DAEMON_OPTIONS,
		{ 0 },
	};
	uint32_t v;
	int c;

	o->map_bytes = DS_MAP_BYTES;
	dir_parse_cidr("10.254.0.0/16", &o->cfg.service_net, &o->cfg.service_mask);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case 'l': o->listen = optarg; break;
		case 'd': o->db = optarg; break;
		case 'k': o->key = optarg; break;
		case 'L':
			if (!parse_u32(optarg, 86400, &v) || !v)
				return cli_usage_error("directory", "--lease: 1..86400 seconds");
			o->cfg.lease_ms = v * 1000;
			break;
		case 'N':
			if (!parse_u32(optarg, 600000, &v) || !v)
				return cli_usage_error("directory", "--neg-lease: 1..600000 ms");
			o->cfg.neg_lease_ms = v;
			break;
		case 'S':
			if (!parse_u32(optarg, 3600, &v) || !v)
				return cli_usage_error("directory", "--skew: 1..3600 seconds");
			o->cfg.skew_ms = v * 1000;
			break;
		case 's':
			if (!strcmp(optarg, "none"))
				o->cfg.service_net = o->cfg.service_mask = 0;
			else if (!dir_parse_cidr(optarg, &o->cfg.service_net, &o->cfg.service_mask))
				return cli_usage_error("directory", "--service: expected A.B.C.D/LEN or none");
			break;
		case 'E':
			if (!parse_u32(optarg, UINT32_MAX - 1, &v) || !v)
				return cli_usage_error("directory", "--max-entries: a positive number");
			o->cfg.max_entries = v;
			break;
		case 'M':
			if (!parse_u32(optarg, UINT32_MAX - 1, &v) || !v)
				return cli_usage_error("directory", "--max-leases: a positive number");
			o->cfg.max_leases = v;
			break;
		case 'z':
			if (!parse_u32(optarg, 1 << 20, &v) || v < 1)
				return cli_usage_error("directory", "--db-size: MiB, 1..1048576");
			o->map_bytes = (size_t)v << 20;
			break;
		case 'e': o->etcd = optarg; break;
		case 'P': o->etcd_prefix = optarg; break;
		case 'T':
			if (!parse_u32(optarg, 60000, &v) || !v)
				return cli_usage_error("directory", "--etcd-timeout: 1..60000 ms");
			o->etcd_timeout_ms = v;
			break;
		case 'h':
			fputs(directory_help, stdout);
			return -1;
		default: {
			int rc = daemon_opt(dm, c, optarg);

			if (rc != 1)
				return rc;
		}
		}
	}
	if (optind < argc)
		return cli_usage_error("directory", "unexpected argument '%s'", argv[optind]);
	if (!o->listen || !(o->db || o->etcd) || !o->key)
		return cli_usage_error("directory", "--listen, --db (or --etcd) and --key are required");
	if (o->db && o->etcd)
		return cli_usage_error("directory", "--db and --etcd: one store or the other");
	return 0;
}

int cmd_directory(int argc, char **argv)
{
	struct ds_opts o = { 0 };
	struct daemon dm;
	struct sockaddr_in addr;
	struct auth_key key;
	struct dstore *store = NULL;
	struct dsync *sync = NULL;
	struct dir *d;
	struct prefault *pf;
	char err[256], buf[64];
	long n;
	int fd, rc, ret = 1;

	daemon_init(&dm, "directory");
	if ((rc = parse_opts(argc, argv, &o, &dm)))
		return rc < 0 ? 0 : rc;
	log_set_ident(dm.name);
	if (udp_parse_addr(o.listen, &addr, err, sizeof(err)))
		return cli_usage_error("directory", "--listen %s", err);
	if (auth_key_load(o.key, &key, err, sizeof(err)))
		return cli_error("%s", err);
	pf = prefault_start("dir-prefault");
	o.cfg.key = &key;
	o.cfg.table_moving = prefault_forget;
	o.cfg.table_arg = pf;
	o.cfg.seed = wall_ns() ^ ((uint64_t)getpid() << 32);
	o.cfg.log = CORE_LOG_STDERR;
	if (o.db && !(store = dstore_open(o.db, o.map_bytes, err, sizeof(err)))) {
		prefault_stop(pf);
		return cli_error("store %s", err);
	}
	o.cfg.no_policies = o.etcd != NULL;	/* the replicated store keeps none yet */
	d = dir_new(&o.cfg);
	if (o.etcd && !(sync = dsync_open(o.etcd, o.etcd_prefix ? o.etcd_prefix : "/peregrine/dir/",
					  o.etcd_timeout_ms, d, &n, err, sizeof(err)))) {
		cli_error("%s", err);
		goto out;
	}
	if (store && (n = dstore_load(store, d)) < 0) {
		cli_error("store %s: cannot read it", o.db);
		goto out;
	}
	if ((fd = udp_open(&addr, DS_SOCKBUF)) < 0) {
		cli_error("listen %s: %s", o.listen, strerror(-fd));
		goto out;
	}
	{
		socklen_t alen = sizeof(addr);

		getsockname(fd, (struct sockaddr *)&addr, &alen);	/* the real port */
	}
	log_info("serving %s, %ld entries from %s%s", udp_addr_str(&addr, buf, sizeof(buf)), n,
		 o.etcd ? "etcd " : "", o.etcd ? o.etcd : o.db);
	ret = sync ? directory_serve_etcd(d, fd, sync, pf, &dm)
		   : directory_serve(d, fd, store, pf, NULL, &dm);
	close(fd);
	log_info("stopped%s", ret ? " after a store failure" : "");
out:
	prefault_stop(pf);	/* before the tables it may be touching go */
	dsync_close(sync);	/* the watch thread, before the core it fed */
	dir_free(d);
	dstore_close(store);
	return ret;
}
