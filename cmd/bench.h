#ifndef PEREGRINE_CMD_BENCH_H
#define PEREGRINE_CMD_BENCH_H

#include "cmd/cli.h"

/* Run fn in a child process; it writes nfig doubles into figures, which come
 * back to the caller along with the child's peak RSS.  Returns 0, or -1 if
 * the child failed. */
int bench_in_child(int (*fn)(void *arg, double *figures, int nfig), void *arg,
		   double *figures, int nfig, uint64_t *peak_rss);

#endif
