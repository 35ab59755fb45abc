#include "sim/lru.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

void sim_lru_init(struct sim_lru *l, uint32_t cap, uint64_t seed)
{
	memset(l, 0, sizeof(*l));
	assert(cap > 0);
	l->cap = cap;
	l->head = l->tail = NIL;
	hmap_init(&l->idx, MIN(cap, 1024u), seed);
}

void sim_lru_free(struct sim_lru *l)
{
	free(l->key);
	free(l->prev);
	free(l->next);
	hmap_free(&l->idx);
	memset(l, 0, sizeof(*l));
}

static void unlink_slot(struct sim_lru *l, uint32_t s)
{
	if (l->prev[s] != NIL)
		l->next[l->prev[s]] = l->next[s];
	else
		l->head = l->next[s];
	if (l->next[s] != NIL)
		l->prev[l->next[s]] = l->prev[s];
	else
		l->tail = l->prev[s];
}

static void push_front(struct sim_lru *l, uint32_t s)
{
	l->prev[s] = NIL;
	l->next[s] = l->head;
	if (l->head != NIL)
		l->prev[l->head] = s;
	l->head = s;
	if (l->tail == NIL)
		l->tail = s;
}

bool sim_lru_lookup(struct sim_lru *l, uint64_t key)
{
	uint64_t *v = hmap_get(&l->idx, key);

	if (!v)
		return false;
	if (l->head != (uint32_t)*v) {
		unlink_slot(l, (uint32_t)*v);
		push_front(l, (uint32_t)*v);
	}
	return true;
}

static uint32_t new_slot(struct sim_lru *l)
{
	uint32_t s;

	if (l->n == l->cap) {
		/* Full: reuse the least recently used slot. */
		s = l->tail;
		unlink_slot(l, s);
		hmap_del(&l->idx, l->key[s]);
		l->evictions++;
		return s;
	}
	if (l->n == l->alloc) {
		l->alloc = MIN(l->cap, l->alloc ? 2 * l->alloc : 64);
		l->key = xreallocarray(l->key, l->alloc, sizeof(*l->key));
		l->prev = xreallocarray(l->prev, l->alloc, sizeof(*l->prev));
		l->next = xreallocarray(l->next, l->alloc, sizeof(*l->next));
	}
	return l->n++;
}

void sim_lru_learn(struct sim_lru *l, uint64_t key)
{
	uint32_t s;

	if (sim_lru_lookup(l, key))
		return;
	s = new_slot(l);
	l->key[s] = key;
	hmap_put(&l->idx, key, s);
	push_front(l, s);
}
