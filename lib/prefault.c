/* Prefault: see prefault.h. */
#include "lib/prefault.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "lib/log.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23	/* Linux 5.14 */
#endif

struct pf_pub {
	_Atomic(uintptr_t) base;	/* 0: no span */
	_Atomic(size_t) used, reserved;
};

struct prefault {
	pthread_t th;
	pthread_mutex_t mu;		/* held by the helper for each step */
	atomic_bool stop;
	struct pf_pub pub[PREFAULT_SPANS];
	_Atomic(uint64_t) bytes;
	/* Waking the helper: the owner bumps gen when a span has grown by a
	 * step or more since it last did (so about once per 2 MiB of growth)
	 * and signals; the helper sleeps while gen is what it last saw.  wmu
	 * is never held across a populate, so the owner never waits long. */
	_Atomic(uint64_t) gen;
	pthread_mutex_t wmu;
	pthread_cond_t wcv;
	/* The owner's own: */
	uintptr_t told_base[PREFAULT_SPANS];
	size_t told_want[PREFAULT_SPANS];
	/* The helper's own: */
	uintptr_t seen[PREFAULT_SPANS];	/* base it last worked on */
	size_t done[PREFAULT_SPANS];	/* populated up to here (from base) */
	char name[16];
};

static size_t ahead(size_t used)
{
	size_t a = used / 8;

	return MIN(MAX(a, (size_t)PREFAULT_MIN_AHEAD), (size_t)PREFAULT_MAX_AHEAD);
}

static size_t page_up(size_t n)
{
	return (n + 4095) & ~(size_t)4095;
}

/* One populate step on span i, under pf->mu: 1 after a step, 0 if the span
 * has its headroom (or there is none), -1 if the kernel cannot populate. */
static int step(struct prefault *pf, int i)
{
	uintptr_t b = atomic_load_explicit(&pf->pub[i].base, memory_order_acquire);
	size_t used, want, len;

	if (!b)
		return 0;
	used = atomic_load_explicit(&pf->pub[i].used, memory_order_relaxed);
	want = MIN(page_up(used + ahead(used)),
		   atomic_load_explicit(&pf->pub[i].reserved, memory_order_relaxed));
	if (b != pf->seen[i] || pf->done[i] < used) {
		/* A new span, or the owner overtook us: go on from its mark (the
		 * huge page it is in may be part-touched; populating it again
		 * costs nothing). */
		pf->seen[i] = b;
		pf->done[i] = used & ~((size_t)PREFAULT_STEP - 1);
	}
	if (pf->done[i] >= want)
		return 0;
	len = MIN((size_t)PREFAULT_STEP, want - pf->done[i]);
	if (madvise((void *)(b + pf->done[i]), len, MADV_POPULATE_WRITE)) {
		if (errno == EINVAL)
			return -1;	/* kernel before 5.14 */
		/* ENOMEM (out of memory, or a hole): try again later. */
		return 0;
	}
	pf->done[i] += len;
	atomic_fetch_add_explicit(&pf->bytes, len, memory_order_relaxed);
	return 1;
}

static void *helper(void *arg)
{
	struct prefault *pf = arg;
	struct sched_param sp = { 0 };

	pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	pthread_setname_np(pthread_self(), pf->name);
	while (!atomic_load(&pf->stop)) {
		uint64_t gen = atomic_load(&pf->gen);
		bool worked = false;

		for (int i = 0; i < PREFAULT_SPANS; i++) {
			int r;

			pthread_mutex_lock(&pf->mu);
			r = step(pf, i);
			pthread_mutex_unlock(&pf->mu);
			if (r < 0) {
				log_debug("prefault: MADV_POPULATE_WRITE not supported; pages fault in on use");
				return NULL;
			}
			worked |= r > 0;
		}
		if (!worked) {
			/* Every span has its headroom: sleep until the owner
			 * says one grew (the timeout is only a safety net). */
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += PREFAULT_IDLE_S;
			pthread_mutex_lock(&pf->wmu);
			while (atomic_load(&pf->gen) == gen && !atomic_load(&pf->stop))
				if (pthread_cond_timedwait(&pf->wcv, &pf->wmu, &ts))
					break;
			pthread_mutex_unlock(&pf->wmu);
		}
	}
	return NULL;
}

static void wake(struct prefault *pf)
{
	atomic_fetch_add(&pf->gen, 1);
	pthread_mutex_lock(&pf->wmu);
	pthread_cond_signal(&pf->wcv);
	pthread_mutex_unlock(&pf->wmu);
}

struct prefault *prefault_start(const char *name)
{
	struct prefault *pf = xcalloc(1, sizeof(*pf));
	sigset_t all, old;
	int rc;

	pthread_mutex_init(&pf->mu, NULL);
	pthread_mutex_init(&pf->wmu, NULL);
	pthread_cond_init(&pf->wcv, NULL);
	snprintf(pf->name, sizeof(pf->name), "%s", name ? name : "prefault");
	/* Process-directed signals must go to the owner's thread (which takes
	 * them through its event loop), never to the helper. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&pf->th, NULL, helper, pf);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		log_warn("prefault: cannot start a thread: %s", strerror(rc));
		pthread_mutex_destroy(&pf->mu);
		pthread_mutex_destroy(&pf->wmu);
		pthread_cond_destroy(&pf->wcv);
		free(pf);
		return NULL;
	}
	return pf;
}

void prefault_publish(struct prefault *pf, const struct prefault_span *spans, size_t n)
{
	bool grew = false;

	if (!pf)
		return;
	for (size_t i = 0; i < PREFAULT_SPANS; i++) {
		struct pf_pub *p = &pf->pub[i];
		uintptr_t b = i < n ? (uintptr_t)spans[i].base : 0;

		if (b) {
			size_t want = spans[i].used + ahead(spans[i].used);

			atomic_store_explicit(&p->used, spans[i].used, memory_order_relaxed);
			atomic_store_explicit(&p->reserved, spans[i].reserved, memory_order_relaxed);
			if (b != pf->told_base[i] || want >= pf->told_want[i] + PREFAULT_STEP) {
				pf->told_want[i] = want;
				grew = true;
			}
		}
		pf->told_base[i] = b;
		atomic_store_explicit(&p->base, b, memory_order_release);
	}
	if (grew)
		wake(pf);
}

void prefault_forget(void *arg)
{
	struct prefault *pf = arg;

	if (!pf)
		return;
	pthread_mutex_lock(&pf->mu);
	for (int i = 0; i < PREFAULT_SPANS; i++) {
		atomic_store(&pf->pub[i].base, 0);
		pf->told_base[i] = 0;
	}
	pthread_mutex_unlock(&pf->mu);
}

uint64_t prefault_bytes(const struct prefault *pf)
{
	return pf ? atomic_load_explicit(&pf->bytes, memory_order_relaxed) : 0;
}

void prefault_stop(struct prefault *pf)
{
	if (!pf)
		return;
	atomic_store(&pf->stop, true);
	wake(pf);
	pthread_join(pf->th, NULL);
	pthread_mutex_destroy(&pf->mu);
	pthread_mutex_destroy(&pf->wmu);
	pthread_cond_destroy(&pf->wcv);
	free(pf);
}
