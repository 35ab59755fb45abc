/* The agent's fail-overs, counted and timed (docs/metrics.md).
 *
 * A cached entry fails over when the directory takes away one of its MACs
 * (a tree through a failed link or switch: its availability bit cleared)
 * and fails back when every MAC it had before is available again.  Its
 * fail-over lasts from the record that took the tree away to the record
 * that gave every tree back: how long traffic to that VM ran on fewer
 * trees.  A second loss while it is degraded is part of the same
 * fail-over.  The times
 * come from the core's clock argument; nothing here reads a clock.
 */
#ifndef PEREGRINE_AGENT_FAILOVER_H
#define PEREGRINE_AGENT_FAILOVER_H

#include <stdbool.h>
#include <stdint.h>

/* Upper bounds (ms) of the fail-over duration histogram's buckets: the
 * RAS's reprogramming takes 1-50 ms, a switch failure's recovery seconds. */
#define AGENT_FO_BUCKETS_MS { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 60000 }
enum { AGENT_FO_BUCKETS = 14 };

struct agent_failover_hist {
	uint64_t bucket[AGENT_FO_BUCKETS];	/* not cumulative; above the last: count only */
	uint64_t count, sum_ns;
};

/* One entry's state: whether it runs on fewer trees, since when, and the
 * MACs it had before. */
struct agent_failover_entry {
	bool degraded;
	uint8_t had;
	uint64_t since_ns;
};

/* A record changed an entry's availability from `before` to `after` (bit
 * i: MAC slot i; `all`: the bits that count) at now_ns.  Returns +1 for a
 * fail-over, -1 for a fail-back (its duration observed in h), 0 else. */
int agent_failover_update(struct agent_failover_hist *h, struct agent_failover_entry *e,
			  uint8_t before, uint8_t after, uint8_t all, uint64_t now_ns);

/* Add one duration to the histogram. */
void agent_failover_observe(struct agent_failover_hist *h, uint64_t ns);

#endif
