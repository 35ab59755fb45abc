/* The agent's fail-over durations (agent/failover.h). */
#include "agent/failover.h"

void agent_failover_observe(struct agent_failover_hist *h, uint64_t ns)
{
	static const uint32_t ub_ms[AGENT_FO_BUCKETS] = AGENT_FO_BUCKETS_MS;

	for (int b = 0; b < AGENT_FO_BUCKETS; b++) {
		if (ns <= (uint64_t)ub_ms[b] * 1000000ull) {
			h->bucket[b]++;
			break;
		}
	}
	h->count++;
	h->sum_ns += ns;
}

int agent_failover_update(struct agent_failover_hist *h, struct agent_failover_entry *e,
			  uint8_t before, uint8_t after, uint8_t all, uint64_t now_ns)
{
	if (!e->degraded && (before & ~after & all)) {
		e->degraded = true;
		e->had = before & all;
		e->since_ns = now_ns;
		return 1;
	}
	if (e->degraded && (after & e->had) == e->had) {
		e->degraded = false;
		agent_failover_observe(h, now_ns > e->since_ns ? now_ns - e->since_ns : 0);
		return -1;
	}
	return 0;
}
