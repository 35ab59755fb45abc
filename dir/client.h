/* The directory client library: what an agent (or the RAS, or dirctl) uses to
 * talk to the directory server.
 *
 * The core (struct dirc) does no I/O: requests go out through a send
 * callback, datagrams come in through dirc_input(), time through struct
 * dir_now, and dirc_tick() retransmits.  dir/client_udp.h wires it to a
 * non-blocking UDP socket for programs with an event loop (one fd, one timer).
 *
 * What it does for the caller:
 *   - request ids, retransmission with backoff, matching replies (a reply
 *     calls the request's callback once; giving up calls it with m == NULL);
 *   - pushes: checks them (tag, timestamp, replay window per server
 *     session), hands every record to on_push (on_push6 for UPDATE6), then
 *     acknowledges them (ACK, ACK6).
 *   - hedged lookups (with cfg.hedge): a LOOKUP unanswered for the hedge
 *     delay (dirc_hedge_delay) is sent once more through cfg.hedge, to
 *     another server, without moving; the first answer is taken, the other
 *     dropped (counted).  docs/directory-protocol.md, "Hedged lookups".
 * What it leaves to the caller: the cache itself.  A pushed record carries
 * the entry's version: apply it only if it is newer than what you hold, and
 * keep your lease expiry (pushes do not extend leases).  Pushes for entries
 * in the shared service range carry VDC DIR_VDC_SERVICE (0xffffffff): they
 * apply to that address in every VDC.
 */
#ifndef PEREGRINE_DIR_CLIENT_H
#define PEREGRINE_DIR_CLIENT_H

#include "dir/dir.h"
#include "wire/dirproto.h"

enum dirc_limits {
	DIRC_MAX_PENDING = 1024,	/* requests in flight (power of two) */
	DIRC_RTO_MS = 100,		/* first retransmission */
	DIRC_RTO_MAX_MS = 1000,
	DIRC_TRIES = 6,			/* transmissions before giving up */
	DIRC_SESSIONS = 4,		/* server sessions remembered (restarts) */
	/* Hedged lookups.  The delay is DIRC_HEDGE_RTT_MULT times the smoothed
	 * answer time of the server in use, within [MIN, MAX] ms (MAX until a
	 * first answer).  MAX keeps a hedge plus the other server's answer
	 * (a few ms, tens under load) well inside the 50 ms a killed server's
	 * clients may wait; MIN keeps a loaded machine's scheduling stalls of
	 * a few ms from hedging every lookup.  Below DIRC_UDP_FAILOVER_MS, so
	 * a hedge goes out before the client moves. */
	DIRC_HEDGE_MIN_MS = 5,
	DIRC_HEDGE_MAX_MS = 15,
	DIRC_HEDGE_RTT_MULT = 4,
	/* Hedges in flight at once: bounds the extra load on the other server
	 * (one datagram per lookup at most, and no more than this many
	 * outstanding); lookups due meanwhile wait for a free one. */
	DIRC_HEDGE_FLIGHT = 16,
};

typedef void (*dirc_send_fn)(void *arg, const uint8_t *buf, size_t len);
/* The reply to request req_id, or m == NULL when it timed out. */
typedef void (*dirc_reply_fn)(void *arg, uint64_t req_id, const struct dirp_msg *m);
/* One pushed record (type DIRP_UPDATE or DIRP_INVALIDATE). */
typedef void (*dirc_push_fn)(void *arg, uint8_t type, const struct dirp_entry *e);
/* One pushed IPv6 record (type DIRP_UPDATE6; acknowledged by ACK6). */
typedef void (*dirc_push6_fn)(void *arg, const struct dirp_entry6 *e);
/* A VM's policy changed (DIRP_POL_NOTE; not acknowledged): p->data points
 * into the datagram. */
typedef void (*dirc_pol_fn)(void *arg, const struct dirp_pol *p);
/* Send a datagram to the hedge server (another than the one in use): true
 * if it went out, false when there is none to send to (every other server
 * suspect, or only one). */
typedef bool (*dirc_hedge_fn)(void *arg, const uint8_t *buf, size_t len);

struct dirc_cfg {
	const struct auth_key *key;
	uint64_t seed;			/* session id and first request id */
	dirc_send_fn send;
	void *send_arg;
	dirc_push_fn on_push;		/* may be NULL: pushes are still acked */
	void *push_arg;
	dirc_push6_fn on_push6;		/* may be NULL; called with push_arg */
	dirc_pol_fn on_pol;		/* may be NULL; called with push_arg */
	uint32_t rto_ms;		/* 0: DIRC_RTO_MS */
	uint32_t tries;			/* 0: DIRC_TRIES */
	uint32_t skew_ms;		/* 0: DIR_SKEW_MS */
	uint32_t max_pending;		/* requests in flight, a power of two up to
					 * DIRC_MAX_PENDING (0): each slot holds a
					 * datagram, 1.4 KiB */
	dirc_hedge_fn hedge;		/* NULL: lookups are not hedged */
	void *hedge_arg;
	uint32_t hedge_flight;		/* 0: DIRC_HEDGE_FLIGHT */
};

struct dirc_stats {
	uint64_t requests, replies, retransmits, timeouts;
	uint64_t pushes, push_records, acks_sent;
	uint64_t dropped;		/* bad, stale or replayed input */
	/* authentic replies matching no request in flight: the second answer
	 * to a retransmitted request, or one that came after the request was
	 * given up (expected under load; not counted in dropped) */
	uint64_t late_replies;
	/* a new server session took the slot of one heard from within
	 * 2 x skew (more than DIRC_SESSIONS directory starts in that time) */
	uint64_t sessions_evicted;
	/* hedged lookups: sent to the hedge server; answered there first; the
	 * second answer to a hedged lookup, dropped (not in late_replies) */
	uint64_t hedged, hedge_won, hedge_dropped;
};

struct dirc;

struct dirc *dirc_new(const struct dirc_cfg *cfg);
void dirc_free(struct dirc *c);

/* Send a request of `type` with n records: struct dirp_entry for REGISTER,
 * struct dirp_key for LOOKUP, RENEW and UNREGISTER, struct dirp_avail for
 * SET_AVAIL, struct dirp_move for MOVE, none for STATS, struct dirp_entry6
 * for REGISTER6, struct dirp_key6 for LOOKUP6 and UNREGISTER6, struct
 * dirp_pol for POL_SET, POL_GET and POL_DEL (one; a tenant's client is
 * made with its VDC's key, auth_vdc_key).  Returns the request
 * id (> 0), -EINVAL for a bad type or count, -EBUSY when max_pending
 * requests are in flight. */
int64_t dirc_request(struct dirc *c, struct dir_now now, uint8_t type,
		     const void *recs, unsigned n, dirc_reply_fn cb, void *arg);

/* A datagram from the server. */
void dirc_input(struct dirc *c, struct dir_now now, const uint8_t *buf, size_t len);
/* A datagram from the hedge server (answers to hedged lookups, and pushes
 * of the leases those gave it: acknowledged through cfg.hedge). */
void dirc_hedge_input(struct dirc *c, struct dir_now now, const uint8_t *buf, size_t len);

/* Retransmit or give up on due requests, hedge due lookups; returns the
 * next deadline (ns), or UINT64_MAX when nothing is in flight. */
uint64_t dirc_tick(struct dirc *c, struct dir_now now);

unsigned dirc_in_flight(const struct dirc *c);
/* When the oldest request in flight that writes (REGISTER, UNREGISTER,
 * SET_AVAIL, MOVE and their IPv6 and group kin: answered once the server's
 * store took them) or that reads (the others: answered from memory) was
 * first sent, in ns; 0 when there is none.  The reads include lookups
 * answered only by the hedge server since the server in use last sent
 * anything: its silence is the same whether a hedge answered or not. */
uint64_t dirc_oldest(const struct dirc *c, bool writes);
/* How long a lookup waits unanswered before it is hedged (ns). */
uint64_t dirc_hedge_delay(const struct dirc *c);
/* Make every request in flight due now (the next dirc_tick sends them
 * again): after moving to another server, nothing waits for a timeout.
 * Forgets the lookups the hedge server answered for the server left. */
void dirc_expedite(struct dirc *c, uint64_t now_ns);
const struct dirc_stats *dirc_get_stats(const struct dirc *c);

#endif
