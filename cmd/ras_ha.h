/* The standby RAS (docs/ha.md): RAS processes campaign for one etcd key;
 * the leader runs, the others wait.  Part of the RAS's shell. */
#ifndef PEREGRINE_CMD_RAS_HA_H
#define PEREGRINE_CMD_RAS_HA_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ras_ha_limits {
	RAS_HA_TTL_S = 2,		/* default lease: a dead leader is replaced after it */
	RAS_HA_CAMPAIGN_MS = 100,	/* a standby asks this often */
	RAS_HA_TIMEOUT_MS = 500,	/* per etcd request */
	RAS_HA_VALUE_MAX = 256,
	/* A standby probes the leader's UDP address each round (an empty
	 * datagram); after this many rounds in a row answered by ICMP port
	 * unreachable (nothing listens there: the process died) it deletes
	 * the leader key of that term instead of waiting for the lease to
	 * expire.  A leader that does not answer at all (a partition) is
	 * left to its lease. */
	RAS_HA_REFUSALS = 2,
};

#define RAS_HA_KEY "/peregrine/ras/leader"

struct ras_ha;

/* name identifies this process in the leader key ("NAME ADDR:PORT"). */
struct ras_ha *ras_ha_open(const char *urls, const char *name, unsigned ttl_s, char *err,
			   size_t errlen);
void ras_ha_close(struct ras_ha *h);
/* Block until we lead; *term is the leadership's term (grows with every
 * leader).  Returns 0, or -EINTR when *stop became true. */
int ras_ha_wait(struct ras_ha *h, volatile sig_atomic_t *stop, int64_t *term);
/* Keep the lease alive from a thread of its own (the RAS's loop never waits
 * on etcd): the returned fd becomes readable when leadership is lost, that
 * is when a keep-alive finds the lease gone (another may be elected now).
 * While etcd cannot be reached at all the leader goes on: nobody can be
 * elected without etcd, and a leader elected on the other side of a
 * partition is fenced by the switches.  -errno if the thread cannot start. */
int ras_ha_keepalive_start(struct ras_ha *h);
void ras_ha_keepalive_stop(struct ras_ha *h);
/* Give up leadership (a clean stop: a standby takes over at once). */
void ras_ha_resign(struct ras_ha *h);
/* The leader's value now ("NAME ADDR:PORT TERM"), into buf; 1 if there is
 * a leader, 0 if none, -errno. */
int ras_ha_leader(const char *urls, char *buf, size_t len);

#endif
