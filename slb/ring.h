/* The cluster of SLB servers: a ring with a master (seeds/000, "SLB
 * Cluster"), as an I/O-free state machine with the project's contract:
 *   slb_ring_input(ring, now, event, out) -> messages to send, decisions,
 *   and the next deadline.
 *
 * Members are SLB server ids, 1 .. SLB_RING_MAX, all known in advance (the
 * servers that may be powered on); each is live or not in a member's view.
 *
 *   - Heartbeats: every live member sends one to its ring successor (the
 *     next live id, wrapping) every interval, carrying its load.  Each
 *     member watches its ring predecessor: `misses` intervals without a
 *     heartbeat and it declares it dead, to every live member (DEAD).  A
 *     heartbeat from a member believed dead brings it back (ALIVE, to all).
 *   - The master is the lowest live id in a member's view; when the master
 *     dies its watcher's notice makes the next one master.
 *   - Every member sends its load to the master each interval (LOAD).  The
 *     master assigns the VIPs (services) to live members: a member keeps
 *     its VIPs while it lives, orphans go to the member with the fewest, and
 *     one VIP moves per interval from the fullest to the emptiest while they
 *     differ by more than one.  Each change is sent to all (ASSIGN, with a
 *     version that only grows) and reported to the shell as the VIPs this
 *     member must now announce.
 *   - Views that diverged converge: each LOAD carries the member's
 *     assignment version; a member with a newer version than the master's
 *     (it followed another master while cut off from this one), one that
 *     stays behind for two reports, or a member coming back makes the
 *     master announce its assignment again, above every version seen.
 *     Members believed dead get a heartbeat once a window, so that a
 *     healed partition is noticed from both sides.
 *   - Auto scaling (master): average load above `high_pct` for `hold`
 *     intervals asks for one more server (the lowest id not live), below
 *     `low_pct` releases the highest live id (never below `min_live`): its
 *     VIPs move to the others at once, then the shell may power it off (its
 *     death is then noticed as any other).  One step, then `hold`
 *     intervals of quiet.
 *
 * Messages are structs here; their wire encoding is the shell's. */
#ifndef PEREGRINE_SLB_RING_H
#define PEREGRINE_SLB_RING_H

#include <stddef.h>
#include <stdint.h>
#include "lib/common.h"

enum slb_ring_limits {
	SLB_RING_MAX = 64,		/* servers in a cluster (a 64-bit live mask) */
	SLB_RING_VIPS_MAX = 256,	/* services the cluster dispatches */
	SLB_RING_NOBODY = 0,		/* no server (ids start at 1) */
};

struct slb_ring_cfg {
	uint32_t self;			/* 1 .. SLB_RING_MAX */
	uint64_t members;		/* bit id-1: may be a member */
	uint64_t live;			/* bit id-1: powered on at start */
	uint64_t interval_ns;		/* heartbeat interval */
	uint32_t misses;		/* intervals without one: dead */
	uint32_t nvips;			/* services to dispatch, 0 .. SLB_RING_VIPS_MAX */
	uint32_t high_pct, low_pct;	/* auto-scaling watermarks (average load) */
	uint32_t hold;			/* intervals a watermark must hold; quiet after a step */
	uint32_t min_live;		/* never scale below */
};

enum slb_ring_msg_type {
	SLB_RING_HB = 1,	/* to the successor: load */
	SLB_RING_LOAD,		/* to the master: load */
	SLB_RING_DEAD,		/* to all: `who` is dead */
	SLB_RING_ALIVE,		/* to all: `who` is back */
	SLB_RING_ASSIGN,	/* master to all: version, owner[] */
};

struct slb_ring_msg {
	enum slb_ring_msg_type type;
	uint32_t from, who, load_pct;
	uint64_t version;
	uint8_t owner[SLB_RING_VIPS_MAX];	/* ASSIGN: server id per VIP */
};

enum slb_ring_event_type {
	SLB_RING_EV_START,
	SLB_RING_EV_TIMER,
	SLB_RING_EV_MSG,	/* msg */
	SLB_RING_EV_LOAD,	/* this server's own load: load_pct */
};

struct slb_ring_event {
	enum slb_ring_event_type type;
	struct slb_ring_msg msg;
	uint32_t load_pct;
};

struct slb_ring_send {
	uint32_t to;
	struct slb_ring_msg msg;
};

struct slb_ring_out {
	struct slb_ring_send *sends;	/* grown by the core, owned by the caller */
	size_t n, cap;
	bool vips_changed;		/* announce `mine` now */
	uint64_t mine[SLB_RING_VIPS_MAX / 64];	/* VIPs this server dispatches */
	int scale;			/* +1: power on `scale_id`; -1: power it off */
	uint32_t scale_id;
	uint64_t deadline_ns;
};

#define SLB_RING_COUNTERS(X)                                                   \
	X(hb_sent, "heartbeats sent")                                         \
	X(declared_dead, "members this server declared dead")                 \
	X(deaths, "members learnt dead (own or notices)")                     \
	X(rejoins, "members back")                                            \
	X(assigns, "assignments sent (master)")                               \
	X(scale_up, "more servers asked for (master)")                        \
	X(scale_down, "servers released (master)")                            \
	X(bad_msg, "messages refused: unknown sender, stale or out of range")

enum slb_ring_counter {
#define SLB_RING_CTR_ENUM(name, desc) SLB_RING_CTR_##name,
	SLB_RING_COUNTERS(SLB_RING_CTR_ENUM)
#undef SLB_RING_CTR_ENUM
	SLB_RING_CTR_COUNT
};

struct slb_ring;

/* NULL if cfg is inconsistent (self not a member, ids out of range, ...). */
struct slb_ring *slb_ring_new(const struct slb_ring_cfg *cfg);
void slb_ring_free(struct slb_ring *r);
/* 0, or -EINVAL for an event refused (counted, nothing sent). */
int slb_ring_input(struct slb_ring *r, uint64_t now, const struct slb_ring_event *ev,
		   struct slb_ring_out *out);
void slb_ring_out_free(struct slb_ring_out *out);
/* A server's load for the ring: `flows` new flows in `elapsed_ns` against a
 * capacity of `capacity_cps` new flows per second, in percent, at most
 * 100 (0 for no time or no capacity). */
uint32_t slb_ring_load_pct(uint64_t flows, uint64_t elapsed_ns, uint32_t capacity_cps);

uint32_t slb_ring_master(const struct slb_ring *r);
uint64_t slb_ring_live(const struct slb_ring *r);
/* The owner of VIP v in this server's view (SLB_RING_NOBODY before any). */
uint32_t slb_ring_owner(const struct slb_ring *r, uint32_t v);
uint64_t slb_ring_version(const struct slb_ring *r);
uint64_t slb_ring_counter(const struct slb_ring *r, enum slb_ring_counter k);
const char *slb_ring_counter_name(enum slb_ring_counter k);	/* "hb_sent" */

#endif
