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
	DSYNC_RETRY_MS = 100,		/* retry of the dirty keys while etcd fails */
	DSYNC_EVENTS_PER_READ = 4096,	/* watch events per loop wake-up */
	DSYNC_TIMEOUT_MS = 1000,	/* default per request */
};

#define DSYNC_STATS(X) \
	X(writes) X(write_ops) X(write_failures) X(write_conflicts) X(batches_held) \
	X(remote_events) X(own_echoes) X(bad_events) X(resyncs) X(dirty_keys) \
	X(dirty_overflow) X(resynced_keys) X(read_only)

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

/* Write the core's store operations of one batch.  True if the batch's
 * datagrams may be sent; false if they must be dropped (the writes did not
 * all reach etcd: the keys are read back from etcd at the next
 * dsync_tick, which should come at once). */
bool dsync_write(struct dsync *s, struct dir *d, const struct dir_op *ops, size_t n);

/* Apply what the watch delivered (pushes into out). */
void dsync_events(struct dsync *s, struct dir *d, struct dir_now now, struct dir_out *out);

/* Bring the keys whose writes failed back in line with etcd; returns the
 * next deadline it wants (CORE_NEVER when nothing waits). */
uint64_t dsync_tick(struct dsync *s, struct dir *d, struct dir_now now, struct dir_out *out);

void dsync_get_stats(const struct dsync *s, uint64_t st[DSYNC_STAT_COUNT]);
void dsync_metrics(const struct dsync *s, struct metrics_text *t);

#endif
