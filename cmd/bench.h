#ifndef PEREGRINE_CMD_BENCH_H
#define PEREGRINE_CMD_BENCH_H

#include "cmd/cli.h"

/* Run fn in a child process; it writes nfig doubles into figures, which come
 * back to the caller along with the child's peak RSS.  Returns 0, or -1 if
 * the child failed. */
int bench_in_child(int (*fn)(void *arg, double *figures, int nfig), void *arg,
		   double *figures, int nfig, uint64_t *peak_rss);

/* scripts/NAME beside the binary (BIN/../scripts or BIN/../../scripts) or
 * in the working directory (a build directory outside the tree):
 * the binary's path into exe, the script's into script; 0, or -1 if there
 * is none. */
int bench_find_script(const char *name, char *exe, size_t exelen, char *script, size_t len);

#endif
