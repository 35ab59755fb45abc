/* The replicated directory's store: the registrations in etcd, shared by
 * several directory servers (docs/ha.md).  Part of the directory's shell:
 * the core (dir/) sees only dir_restore at start, its own store writes
 * (struct dir_op), dir_apply for what other servers wrote, and
 * dir_set_read_only while etcd cannot take writes.
 *
 * Keys are PREFIX + 16 hex digits (VDC and IP of the store key), values the
 * core's 40-byte store records.  Every write is a transaction that checks
 * the key's mod_revision is still the one this server last saw: so a server
 * writes over only what it has seen, and every server applies the changes
 * in etcd's order (the watch), whatever the clocks of their writers.
 */
#ifndef PEREGRINE_CMD_DIRECTORY_ETCD_H
#define PEREGRINE_CMD_DIRECTORY_ETCD_H

#include "dir/dir.h"
#include "lib/metrics.h"

enum dsync_limits {
	DSYNC_DIRTY_MAX = 1 << 16,	/* keys waiting for etcd to come back */
	DSYNC_RETRY_MS = 100,		/* first retry of the dirty keys while etcd fails */
	DSYNC_RETRY_MAX_MS = 3200,	/* backoff cap: a read back blocks the loop for
					 * up to the request timeout, so a partition
					 * from etcd costs lookups at most 1/3 of it */
	DSYNC_EVENTS_PER_READ = 4096,	/* watch events per loop wake-up */
	DSYNC_TIMEOUT_MS = 1000,	/* default per request */
	DSYNC_QUEUE_MAX = 4096,		/* batches waiting for etcd */
};

#define DSYNC_STATS(X) \
	X(writes) X(write_ops) X(write_failures) X(write_conflicts) X(batches_held) \
	X(remote_events) X(own_echoes) X(bad_events) X(resyncs) X(dirty_keys) \
	X(dirty_overflow) X(resynced_keys) X(read_only) X(queue_full) X(queued) \
	X(held_dropped) X(unknown_dropped)

enum dsync_stat {
#define X(n) DSYNC_##n,
	DSYNC_STATS(X)
#undef X
	DSYNC_STAT_COUNT
};

struct dsync;

/* Read every registration under prefix into d (dir_restore), then watch
 * from the revision after.  NULL with a message if etcd cannot be read. */
struct dsync *dsync_open(const char *urls, const char *prefix, unsigned timeout_ms,
			 struct dir *d, long *loaded, char *err, size_t errlen);
void dsync_close(struct dsync *s);
int dsync_fd(const struct dsync *s);

/* Hand a batch with store operations to the writer thread: its operations
 * go to etcd and its datagrams (copied) wait for them, while the loop goes
 * on serving.  False if the queue is full (the batch is dropped, its keys
 * read back from etcd at the next dsync_tick). */
bool dsync_submit(struct dsync *s, struct dir *d, const struct dir_out *o);
/* Batches are on their way to etcd. */
bool dsync_busy(struct dsync *s);
/* A datagram acknowledging a write (REGISTER, UNREGISTER, MOVE, SET_AVAIL
 * reply). */
bool dsync_is_write_ack(const uint8_t *dgram, size_t len);
/* Readable when batches came back from etcd. */
int dsync_done_fd(const struct dsync *s);
/* For each batch back, in order: its datagrams to send() when etcd took its
 * writes (or they were availability only); otherwise its keys are read back
 * at once (pushes into out), and while that fails at every dsync_tick. */
typedef void (*dsync_send_fn)(void *arg, const struct dir_out *o, bool only_writes);
void dsync_completed(struct dsync *s, struct dir *d, struct dir_now now, struct dir_out *out,
		     dsync_send_fn send, void *arg);
/* A batch without store operations while writes are in flight or keys
 * wait to be read back: what must not overtake the writes waits behind them
 * (acknowledgements of writes -- a retransmitted registration the core
 * answers from memory -- and lookup replies or pushes showing an entry
 * whose write is in flight, which etcd may yet refuse); lookup replies and
 * pushes showing an entry whose write failed and is not read back yet are
 * dropped (etcd may not hold what memory does); the rest is sent at once.
 * Returns how many went. */
uint64_t dsync_send_or_hold(struct dsync *s, struct dir *d, const struct dir_out *o,
			    dsync_send_fn send, void *arg);

/* Apply what the watch delivered (pushes into out). */
void dsync_events(struct dsync *s, struct dir *d, struct dir_now now, struct dir_out *out);

/* Bring the keys whose writes failed back in line with etcd; returns the
 * next deadline it wants (CORE_NEVER when nothing waits). */
uint64_t dsync_tick(struct dsync *s, struct dir *d, struct dir_now now, struct dir_out *out);

/* Keys wait to be read back or written again (call dsync_tick soon). */
bool dsync_waiting(const struct dsync *s);

void dsync_get_stats(struct dsync *s, uint64_t st[DSYNC_STAT_COUNT]);
void dsync_metrics(struct dsync *s, struct metrics_text *t);

#endif
