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
	/* A leader stops leading this long before its lease can have
	 * expired at etcd (ras_ha_lease_valid_until): for a datagram already
	 * sent, and ... */
	RAS_HA_MARGIN_MS = 50,
	/* ... for our clock running slower than etcd's, in thousandths of
	 * the TTL (real clocks differ by parts per million). */
	RAS_HA_DRIFT_PERMILLE = 100,
	RAS_HA_RETRY_MS = 40,		/* a failed keep-alive is tried again after */
	/* A leader renews its lease this often (or a quarter TTL if less):
	 * each renewal answered moves the step-down instant on, so under a
	 * slow etcd one answer in time is enough. */
	RAS_HA_KEEPALIVE_MS = 100,
	RAS_HA_STEP_CHECK_MS = 10,	/* the leader's loop checks its lease this often */
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
 * While etcd cannot be reached the lease may run out unseen: the leader
 * must stop acting once ras_ha_valid_until() has passed.  -errno if the
 * thread cannot start. */
int ras_ha_keepalive_start(struct ras_ha *h);
void ras_ha_keepalive_stop(struct ras_ha *h);
/* The monotonic time (mono_ns) from which our lease can have expired at
 * etcd, a standby can lead, and we must not act as leader any more: moved
 * on by every keep-alive etcd answers.  0 before we hold a lease. */
uint64_t ras_ha_valid_until(struct ras_ha *h);
/* The same for one renewal: a keep-alive sent at sent_ns (mono_ns) that
 * etcd answered with ttl_s seconds (RAS_HA_MARGIN_MS, _DRIFT_PERMILLE). */
uint64_t ras_ha_lease_valid_until(uint64_t sent_ns, int64_t ttl_s);
/* Give up leadership (a clean stop: a standby takes over at once). */
void ras_ha_resign(struct ras_ha *h);
/* The leader's value now ("NAME ADDR:PORT TERM"), into buf; 1 if there is
 * a leader, 0 if none, -errno. */
int ras_ha_leader(const char *urls, char *buf, size_t len);

#endif
