#include "sim/event.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void sim_events_init(struct sim_events *q, uint64_t seed)
{
	memset(q, 0, sizeof(*q));
	rng_seed(&q->rng, seed);
}

void sim_events_free(struct sim_events *q)
{
	free(q->heap);
	memset(q, 0, sizeof(*q));
}

static bool before(const struct sim_event *x, const struct sim_event *y)
{
	return x->at < y->at || (x->at == y->at && x->seq < y->seq);
}

void sim_event_at(struct sim_events *q, uint64_t at, uint32_t type, uint32_t a,
		  uint32_t b, uint64_t c)
{
	size_t i;

	assert(at >= q->now);
	if (q->n == q->cap) {
		assert(q->cap < SIM_EVENTS_MAX);
		q->cap = q->cap ? 2 * q->cap : 64;
		q->heap = xreallocarray(q->heap, q->cap, sizeof(*q->heap));
	}
	i = q->n++;
	q->heap[i] = (struct sim_event){ at, q->seq++, type, a, b, c };
	while (i && before(&q->heap[i], &q->heap[(i - 1) / 2])) {
		struct sim_event tmp = q->heap[i];

		q->heap[i] = q->heap[(i - 1) / 2];
		q->heap[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
}

bool sim_event_next(struct sim_events *q, struct sim_event *ev)
{
	size_t i = 0;

	if (!q->n)
		return false;
	*ev = q->heap[0];
	q->heap[0] = q->heap[--q->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < q->n && before(&q->heap[l], &q->heap[m]))
			m = l;
		if (r < q->n && before(&q->heap[r], &q->heap[m]))
			m = r;
		if (m == i)
			break;
		struct sim_event tmp = q->heap[i];

		q->heap[i] = q->heap[m];
		q->heap[m] = tmp;
		i = m;
	}
	q->now = ev->at;
	q->processed++;
	return true;
}

uint64_t sim_jitter(struct sim_events *q, uint64_t base, double frac)
{
	double f;

	assert(frac >= 0 && frac <= 1);
	if (frac == 0)
		return base;
	f = 1 - frac + 2 * frac * rng_double(&q->rng);
	return (uint64_t)((double)base * f + 0.5);
}
