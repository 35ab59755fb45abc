/* Arenas: bump allocation from chunks, freed whole.  Per-event scratch and
 * per-computation temporaries come from an arena so that nothing on a hot
 * path calls malloc and nothing needs freeing one by one. */
#ifndef PEREGRINE_LIB_ARENA_H
#define PEREGRINE_LIB_ARENA_H

#include "lib/common.h"

struct arena_chunk;

struct arena {
	struct arena_chunk *head;
	size_t chunk_size;	/* default size of a new chunk */
	size_t allocated;	/* bytes handed out since the last reset */
};

void arena_init(struct arena *a, size_t chunk_size);
/* Zeroed, 16-byte aligned memory that lives until reset or free. */
void *arena_alloc(struct arena *a, size_t n);
#define arena_new(a, type, count) \
	((type *)arena_alloc((a), sizeof(type) * (size_t)(count)))
/* Forget every allocation but keep the first chunk for reuse. */
void arena_reset(struct arena *a);
void arena_free(struct arena *a);

#endif
