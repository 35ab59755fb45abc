/* A small etcd v3 client for the daemon shells (never for the cores).
 *
 * etcd 3.4 serves its v3 API as JSON over HTTP (the gRPC gateway): keys and
 * values travel base64-encoded, 64-bit numbers as decimal strings.  This
 * client speaks that with libcurl and jansson:
 *
 *   - put, delete, a prefix range, and a transaction of puts and deletes,
 *     each returning etcd's revision after it;
 *   - leases: grant, keep-alive, revoke;
 *   - an election: the key is created with our lease only if it does not
 *     exist (a transaction on its create_revision); the leader's term is
 *     that create_revision, which grows with every new leader;
 *   - a watch on a prefix from a revision, run in a thread of its own that
 *     hands the events to the caller's event loop through a pipe.
 *
 * Several endpoints may be given (comma-separated URLs): a request that
 * fails on one is tried on the next, once around.  Every call is bounded by
 * the timeout given to etcd_new.  Errors are returned as negative errno and
 * counted (struct etcd_stats); nothing here exits or aborts on what etcd
 * says or fails to say.  docs/ha.md.
 */
#ifndef PEREGRINE_LIB_ETCD_H
#define PEREGRINE_LIB_ETCD_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum etcd_limits {
	ETCD_MAX_ENDPOINTS = 8,
	ETCD_URL_MAX = 256,
	ETCD_KEY_MAX = 512,		/* bytes of a key we send or accept */
	ETCD_VAL_MAX = 4096,		/* bytes of a value we accept */
	ETCD_TXN_OPS = 128,		/* etcd's default --max-txn-ops */
	ETCD_REPLY_MAX = 64 << 20,	/* bytes of one reply (a big range) */
	ETCD_WATCH_LINE_MAX = 8 << 20,	/* bytes of one watch message */
	ETCD_TIMEOUT_MS = 2000,		/* default per request */
	ETCD_WATCH_RETRY_MS = 200,	/* pause before a watch reconnects */
};

struct etcd_stats {
	uint64_t requests, errors;
	uint64_t timeouts;		/* no answer within the timeout */
	uint64_t unreachable;		/* connection refused or reset */
	uint64_t failovers;		/* moved to another endpoint */
	uint64_t bad_replies;		/* HTTP error or a reply we cannot read */
	uint64_t compare_failed;	/* a transaction's condition was false */
	uint64_t lease_lost;		/* keep-alive found the lease gone */
};

struct etcd;

/* urls: "http://127.0.0.1:2379[,http://...]"; timeout_ms 0: ETCD_TIMEOUT_MS.
 * NULL with a message in err for a bad list (nothing is contacted here). */
struct etcd *etcd_new(const char *urls, unsigned timeout_ms, char *err, size_t errlen);
void etcd_free(struct etcd *e);
const struct etcd_stats *etcd_get_stats(const struct etcd *e);
/* The endpoint in use now (for logs). */
const char *etcd_endpoint(const struct etcd *e);

/* One operation of a transaction. */
struct etcd_op {
	bool del;
	const void *key;
	size_t klen;
	const void *val;		/* puts only */
	size_t vlen;
	int64_t lease;			/* puts only; 0: none */
	/* When check is set, the transaction happens only if the key's
	 * mod_revision is expect_mod (0: the key does not exist). */
	bool check;
	int64_t expect_mod;
};

/* Each returns 0 or -errno (-ETIMEDOUT, -EHOSTUNREACH, -EPROTO, -EINVAL)
 * and, if rev is not NULL, etcd's revision after the operation. */
int etcd_put(struct etcd *e, const void *key, size_t klen, const void *val, size_t vlen,
	     int64_t lease, int64_t *rev);
int etcd_del(struct etcd *e, const void *key, size_t klen, int64_t *rev);
/* All operations in one transaction (at most ETCD_TXN_OPS): all or none.
 * -ECANCELED (counted in compare_failed) when a checked key had moved on. */
int etcd_txn(struct etcd *e, const struct etcd_op *ops, size_t n, int64_t *rev);

/* Every key under prefix, in key order, to fn (which returns 0 to go on);
 * *rev is the revision the range was read at: watch from *rev + 1. */
typedef int (*etcd_kv_fn)(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
			  size_t vlen, int64_t mod_rev);
int etcd_range_prefix(struct etcd *e, const void *prefix, size_t plen, etcd_kv_fn fn,
		      void *arg, int64_t *rev);
/* One key: 1 and its value (at most cap bytes, *vlen set) if it exists, 0 if
 * not, -errno on error. */
int etcd_get(struct etcd *e, const void *key, size_t klen, void *val, size_t cap,
	     size_t *vlen, int64_t *create_rev, int64_t *mod_rev);

/* Compact the history before revision rev (watches from earlier ones are
 * cancelled with a RESYNC). */
int etcd_compact(struct etcd *e, int64_t rev);

int etcd_lease_grant(struct etcd *e, unsigned ttl_s, int64_t *id);
/* 0 while the lease lives (*ttl its remaining seconds), -ENOENT once it is
 * gone (counted in lease_lost), -errno when etcd could not be asked. */
int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl);
int etcd_lease_revoke(struct etcd *e, int64_t id);

/* Campaign for `key` with our lease: 1 if we lead now (we created the key,
 * or it already holds our value under our lease), 0 if another does (its
 * value copied to other/olen when other is not NULL), -errno on error.
 * *term is the key's create_revision: it identifies the leadership and
 * grows with every new leader. */
int etcd_campaign(struct etcd *e, const void *key, size_t klen, const void *val, size_t vlen,
		  int64_t lease, int64_t *term, void *other, size_t ocap, size_t *olen);
/* Delete the key if it is still ours (term is our create_revision). */
int etcd_resign(struct etcd *e, const void *key, size_t klen, int64_t term);

/* ---- watch ----------------------------------------------------------------- */

enum etcd_ev_type { ETCD_EV_PUT, ETCD_EV_DELETE,
		    /* The history from the watch's revision was compacted:
		     * read everything again (etcd_range_prefix) and watch on. */
		    ETCD_EV_RESYNC };

struct etcd_event {
	enum etcd_ev_type type;
	int64_t mod_rev;
	uint16_t klen;
	uint32_t vlen;
	uint8_t *key, *val;		/* in the same allocation */
};

struct etcd_watch_stats {
	uint64_t events, connects, disconnects, resyncs, bad_messages, dropped_big;
};

struct etcd_watch;

/* Watch every key under prefix from revision `from` (0: now) in a thread.
 * NULL with a message in err if the thread cannot start; connection
 * failures are retried for ever (counted), moving along the endpoints. */
struct etcd_watch *etcd_watch_start(const char *urls, const void *prefix, size_t plen,
				    int64_t from, char *err, size_t errlen);
void etcd_watch_stop(struct etcd_watch *w);
/* Readable when events are waiting. */
int etcd_watch_fd(const struct etcd_watch *w);
/* Hand the waiting events to fn in order (at most max; 0: all), then
 * return how many.  The event is freed after fn returns. */
typedef void (*etcd_event_fn)(void *arg, const struct etcd_event *ev);
int etcd_watch_read(struct etcd_watch *w, etcd_event_fn fn, void *arg, unsigned max);
/* Continue from revision `from` after a resync (the watch thread waits). */
void etcd_watch_resume(struct etcd_watch *w, int64_t from);
void etcd_watch_get_stats(struct etcd_watch *w, struct etcd_watch_stats *st);

#endif
