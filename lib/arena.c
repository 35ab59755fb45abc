#include "lib/arena.h"

#include <stdlib.h>
#include <string.h>

struct arena_chunk {
	struct arena_chunk *next;
	size_t size;
	size_t used;
	_Alignas(16) unsigned char data[];
};

void arena_init(struct arena *a, size_t chunk_size)
{
	a->head = NULL;
	a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
	a->allocated = 0;
}

static struct arena_chunk *chunk_new(size_t size, struct arena_chunk *next)
{
	struct arena_chunk *c = xmalloc(sizeof(*c) + size);

	c->next = next;
	c->size = size;
	c->used = 0;
	return c;
}

void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk *c = a->head;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (!c || c->size - c->used < n) {
		size_t sz = n > a->chunk_size ? n : a->chunk_size;

		c = chunk_new(sz, a->head);
		a->head = c;
	}
	p = c->data + c->used;
	c->used += n;
	a->allocated += n;
	memset(p, 0, n);
	return p;
}

void arena_reset(struct arena *a)
{
	struct arena_chunk *c = a->head;

	if (!c)
		return;
	while (c->next) {
		struct arena_chunk *next = c->next;

		c->next = next->next;
		free(next);
	}
	c->used = 0;
	a->allocated = 0;
}

void arena_free(struct arena *a)
{
	while (a->head) {
		struct arena_chunk *next = a->head->next;

		free(a->head);
		a->head = next;
	}
	a->allocated = 0;
}
