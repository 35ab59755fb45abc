/* The simulator's discrete-event core: a time-ordered queue and the seeded
 * randomness of one run.
 *
 * Events are plain values (a type and three arguments the model interprets)
 * kept in a binary heap ordered by (time, sequence number): two events at
 * the same nanosecond come out in the order they were scheduled, so a run
 * is a function of its seed alone and replays exactly.
 */
#ifndef PEREGRINE_SIM_EVENT_H
#define PEREGRINE_SIM_EVENT_H

#include "lib/common.h"
#include "lib/rng.h"
#include "sim/limits.h"


struct sim_event {
	uint64_t at;		/* ns since the start of the run */
	uint64_t seq;		/* tie-break: scheduling order */
	uint32_t type;
	uint32_t a, b;
	uint64_t c;
};

struct sim_events {
	struct sim_event *heap;
	size_t n, cap;
	uint64_t now;		/* time of the event last taken */
	uint64_t seq;
	uint64_t processed;
	struct rng rng;
};

void sim_events_init(struct sim_events *q, uint64_t seed);
void sim_events_free(struct sim_events *q);

/* Schedule at an absolute time, which must not be in the past. */
void sim_event_at(struct sim_events *q, uint64_t at, uint32_t type, uint32_t a,
		  uint32_t b, uint64_t c);
static inline void sim_event_after(struct sim_events *q, uint64_t delay, uint32_t type,
				   uint32_t a, uint32_t b, uint64_t c)
{
	sim_event_at(q, q->now + delay, type, a, b, c);
}

/* Take the earliest event and advance the clock to it; false when empty. */
bool sim_event_next(struct sim_events *q, struct sim_event *ev);

/* base scaled by a uniform factor in [1 - frac, 1 + frac] (frac in [0, 1]). */
uint64_t sim_jitter(struct sim_events *q, uint64_t base, double frac);
/* True with probability p. */
static inline bool sim_chance(struct sim_events *q, double p)
{
	return p > 0 && rng_double(&q->rng) < p;
}

#endif
