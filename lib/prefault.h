/* Prefault: fault pages in ahead of growing tables, off the serving thread.
 *
 * A table that grows into address space reserved up front (an anonymous
 * mapping whose pages exist only once touched) takes a page fault each time
 * its high-water mark crosses into a fresh page.  The fault runs in the
 * thread that touched the page: in a single-threaded serving loop, every
 * request queued behind it waits.  Zeroing a 2 MiB huge page is about
 * 0.2 ms; on a virtual machine whose memory the host backs lazily, the
 * first touch of guest memory the host has not yet backed was measured at
 * 7 ms per 2 MiB (docs/directory.md, "Page faults").
 *
 * A prefault keeps a headroom past each published span's high-water mark
 * faulted in from a helper thread running at SCHED_IDLE (it only takes time
 * the cores would otherwise idle) with MADV_POPULATE_WRITE, which fills the
 * page tables as a write would without touching the data.  The owner thread
 * publishes its spans (prefault_publish) after each batch of work; the helper
 * never reads the owner's data structures.
 *
 * Lifetime: a published span must stay mapped until the owner publishes
 * again without it, or calls prefault_forget (which waits for the helper's
 * current step, at most one 2 MiB populate), or prefault_stop. */
#ifndef PEREGRINE_LIB_PREFAULT_H
#define PEREGRINE_LIB_PREFAULT_H

#include "lib/common.h"

enum prefault_limits {
	PREFAULT_SPANS = 8,
	PREFAULT_STEP = 2 << 20,		/* bytes per populate call */
	PREFAULT_MIN_AHEAD = 8 << 20,		/* headroom: used / 8, within these */
	PREFAULT_MAX_AHEAD = 64 << 20,
	PREFAULT_IDLE_S = 1,			/* longest sleep without being told */
};

struct prefault_span {
	void *base;		/* start of the mapping */
	size_t used;		/* bytes in use from base (the high-water mark) */
	size_t reserved;	/* bytes mapped from base */
};

struct prefault;

/* Start the helper thread (all signals blocked in it).  NULL if it cannot
 * be started; callers go on without it. */
struct prefault *prefault_start(const char *name);

/* From the owner thread: the spans to keep headroom for (n <= PREFAULT_SPANS;
 * the rest are dropped). */
void prefault_publish(struct prefault *pf, const struct prefault_span *spans, size_t n);

/* From the owner thread, about to unmap or move a published span: drop
 * every span, after the helper's current step.  void * so it can serve as a
 * callback. */
void prefault_forget(void *pf);

/* Bytes the helper has populated so far. */
uint64_t prefault_bytes(const struct prefault *pf);

/* Stop and join the helper, free pf (NULL is fine). */
void prefault_stop(struct prefault *pf);

#endif
