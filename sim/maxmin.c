/* Progressive filling with an indexed heap of link saturation levels.
 *
 * All unfrozen flows share one rate, the water level L.  A link with
 * remaining capacity rem (capacity minus what its frozen flows use) and act
 * unfrozen flows fills when L reaches rem / act.  Freezing a flow at L
 * lowers rem by L and act by one on each of its links, which never lowers
 * their fill levels below L, so links fill in heap order. */
#include "sim/maxmin.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Arrays this big are backed by huge pages where the kernel allows: a
 * 16M-flow solve touches a gigabyte, and 4K page faults were a third of
 * its time. */
#define MAXMIN_HUGE_BYTES (32u << 20)
#define MAXMIN_HUGE_ALIGN (2u << 20)

static void *big_alloc(size_t n)
{
	void *p;

	if (n < MAXMIN_HUGE_BYTES)
		return xmalloc(n ? n : 1);
	n = (n + MAXMIN_HUGE_ALIGN - 1) & ~(size_t)(MAXMIN_HUGE_ALIGN - 1);
	if (posix_memalign(&p, MAXMIN_HUGE_ALIGN, n))
		die("out of memory (%zu bytes)", n);
	madvise(p, n, MADV_HUGEPAGE);
	return p;
}

/* Grow to n elements of size sz, keeping `keep` of them. */
static void *big_grow(void *old, size_t keep, size_t n, size_t sz)
{
	void *p = big_alloc(n * sz);

	if (keep)
		memcpy(p, old, keep * sz);
	free(old);
	return p;
}

void maxmin_init(struct maxmin *m, uint32_t nres, const double *cap)
{
	memset(m, 0, sizeof(*m));
	m->nres = nres;
	m->cap = xmalloc(sizeof(*m->cap) * (nres ? nres : 1));
	memcpy(m->cap, cap, sizeof(*m->cap) * nres);
	m->off = xmalloc(sizeof(*m->off));
	m->off[0] = 0;
}

void maxmin_reserve(struct maxmin *m, uint64_t flows, uint64_t incidences)
{
	if (flows > m->cap_flows) {
		m->off = big_grow(m->off, (size_t)m->nflows + 1, flows + 1, sizeof(*m->off));
		m->cap_flows = (uint32_t)flows;
	}
	if (incidences > m->cap_inc) {
		m->res = big_grow(m->res, m->ninc, incidences, sizeof(*m->res));
		m->cap_inc = incidences;
	}
}

int64_t maxmin_add_flow(struct maxmin *m, const uint32_t *res, uint32_t n)
{
	assert(n >= 1);
	if (m->nflows >= MAXMIN_MAX_FLOWS || m->ninc + n > MAXMIN_MAX_INCIDENCES)
		return -1;
	if (m->nflows == m->cap_flows || m->ninc + n > m->cap_inc)
		maxmin_reserve(m, m->nflows == m->cap_flows ? 2ull * m->cap_flows + 64 : m->cap_flows,
			       m->ninc + n > m->cap_inc ? 2 * m->cap_inc + n + 256 : m->cap_inc);
	for (uint32_t i = 0; i < n; i++) {
		assert(res[i] < m->nres);
		m->res[m->ninc + i] = res[i];
	}
	m->ninc += n;
	m->off[++m->nflows] = (uint32_t)m->ninc;
	return m->nflows - 1;
}

void maxmin_clear(struct maxmin *m)
{
	m->nflows = 0;
	m->ninc = 0;
}

void maxmin_free(struct maxmin *m)
{
	free(m->cap);
	free(m->off);
	free(m->res);
	memset(m, 0, sizeof(*m));
}

double *maxmin_rates(const struct maxmin *m)
{
	return big_alloc(sizeof(double) * m->nflows);
}

/* ---- indexed min-heap of links by fill level ------------------------------ */

struct lheap {
	uint32_t n;
	uint32_t *item;		/* heap of link ids */
	uint32_t *pos;		/* link -> index in item, UINT32_MAX if absent */
	double *key;
};

static void lheap_swap(struct lheap *h, uint32_t i, uint32_t j)
{
	uint32_t a = h->item[i], b = h->item[j];

	h->item[i] = b;
	h->item[j] = a;
	h->pos[b] = i;
	h->pos[a] = j;
}

static void lheap_up(struct lheap *h, uint32_t i)
{
	while (i && h->key[h->item[(i - 1) / 2]] > h->key[h->item[i]]) {
		lheap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void lheap_down(struct lheap *h, uint32_t i)
{
	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= h->n)
			return;
		if (c + 1 < h->n && h->key[h->item[c + 1]] < h->key[h->item[c]])
			c++;
		if (h->key[h->item[c]] >= h->key[h->item[i]])
			return;
		lheap_swap(h, i, c);
		i = c;
	}
}

static void lheap_remove(struct lheap *h, uint32_t l)
{
	uint32_t i = h->pos[l];

	h->pos[l] = UINT32_MAX;
	if (i == --h->n)
		return;
	h->item[i] = h->item[h->n];
	h->pos[h->item[i]] = i;
	lheap_down(h, i);
	lheap_up(h, i);
}

static void lheap_update(struct lheap *h, uint32_t l, double key)
{
	double old = h->key[l];

	h->key[l] = key;
	if (key > old)
		lheap_down(h, h->pos[l]);
	else
		lheap_up(h, h->pos[l]);
}

/* ---- solve ------------------------------------------------------------------ */

struct solve {
	const struct maxmin *m;
	uint32_t *loff, *lflows;	/* link -> flows (CSR) */
	double *rem;
	uint32_t *act;
	uint32_t *dirty, ndirty;
	uint8_t *is_dirty;
	struct lheap h;
};

static void build_link_index(struct solve *s)
{
	const struct maxmin *m = s->m;

	s->loff = xcalloc((size_t)m->nres + 1, sizeof(*s->loff));
	s->lflows = big_alloc(sizeof(*s->lflows) * m->ninc);
	for (uint64_t i = 0; i < m->ninc; i++)
		s->loff[m->res[i] + 1]++;
	for (uint32_t l = 0; l < m->nres; l++)
		s->loff[l + 1] += s->loff[l];
	/* act doubles as the fill cursor, then holds the flow counts. */
	for (uint32_t f = 0; f < m->nflows; f++)
		for (uint32_t i = m->off[f]; i < m->off[f + 1]; i++) {
			uint32_t l = m->res[i];

			s->lflows[s->loff[l] + s->act[l]++] = f;
		}
}

static void init_heap(struct solve *s)
{
	const struct maxmin *m = s->m;

	s->h.item = xmalloc(sizeof(*s->h.item) * (m->nres ? m->nres : 1));
	s->h.pos = xmalloc(sizeof(*s->h.pos) * (m->nres ? m->nres : 1));
	s->h.key = xmalloc(sizeof(*s->h.key) * (m->nres ? m->nres : 1));
	s->h.n = 0;
	for (uint32_t l = 0; l < m->nres; l++) {
		s->rem[l] = m->cap[l];
		s->h.pos[l] = UINT32_MAX;
		if (!s->act[l])
			continue;
		s->h.key[l] = s->rem[l] / s->act[l];
		s->h.pos[l] = s->h.n;
		s->h.item[s->h.n++] = l;
	}
	for (uint32_t i = s->h.n / 2 + 1; i-- > 0;)
		lheap_down(&s->h, i);
}

/* Freeze flow f at level L and mark the links it crosses. */
static void freeze(struct solve *s, uint32_t f, double L, double *rate)
{
	const struct maxmin *m = s->m;

	rate[f] = L;
	for (uint32_t i = m->off[f]; i < m->off[f + 1]; i++) {
		uint32_t l = m->res[i];

		s->rem[l] -= L;
		s->act[l]--;
		if (!s->is_dirty[l]) {
			s->is_dirty[l] = 1;
			s->dirty[s->ndirty++] = l;
		}
	}
}

static void settle_dirty(struct solve *s)
{
	for (uint32_t i = 0; i < s->ndirty; i++) {
		uint32_t l = s->dirty[i];

		s->is_dirty[l] = 0;
		if (s->h.pos[l] == UINT32_MAX)
			continue;
		if (!s->act[l])
			lheap_remove(&s->h, l);
		else
			lheap_update(&s->h, l, s->rem[l] / s->act[l]);
	}
	s->ndirty = 0;
}

void maxmin_solve(const struct maxmin *m, double *rate, struct maxmin_stats *st)
{
	struct solve s = { .m = m };
	double L = 0;
	uint32_t levels = 0;

	s.act = xcalloc(m->nres ? m->nres : 1, sizeof(*s.act));
	s.rem = xmalloc(sizeof(*s.rem) * (m->nres ? m->nres : 1));
	s.dirty = xmalloc(sizeof(*s.dirty) * (m->nres ? m->nres : 1));
	s.is_dirty = xcalloc(m->nres ? m->nres : 1, 1);
	build_link_index(&s);
	init_heap(&s);
	for (uint32_t f = 0; f < m->nflows; f++)
		rate[f] = -1;
	while (s.h.n) {
		uint32_t l = s.h.item[0];

		/* Rounding can put a level a hair below L: levels never fall. */
		L = MAX(L, s.h.key[l]);
		lheap_remove(&s.h, l);
		levels++;
		for (uint32_t i = s.loff[l]; i < s.loff[l + 1]; i++)
			if (rate[s.lflows[i]] < 0)
				freeze(&s, s.lflows[i], L, rate);
		settle_dirty(&s);
	}
	if (st) {
		st->levels = levels;
		st->bytes = (uint64_t)m->nres * (sizeof(uint32_t) * 5 + sizeof(double) * 2 + 1) +
			    m->ninc * sizeof(uint32_t);
	}
	free(s.act);
	free(s.rem);
	free(s.dirty);
	free(s.is_dirty);
	free(s.loff);
	free(s.lflows);
	free(s.h.item);
	free(s.h.pos);
	free(s.h.key);
}
