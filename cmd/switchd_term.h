/* The highest RAS term a switch accepted, kept in a file by switchd's shell
 * (`switchd --term-file`, docs/ha.md) so that a restarted switchd still
 * refuses a deposed leader's programming.  The file holds the term in
 * decimal and a newline; it is replaced whole (write, fsync, rename), so a
 * crash leaves the old term or the new one, never a torn one. */
#ifndef PEREGRINE_CMD_SWITCHD_TERM_H
#define PEREGRINE_CMD_SWITCHD_TERM_H

#include <stddef.h>
#include <stdint.h>

enum { SWD_TERM_FILE_MAX = 32 };	/* bytes: a 20-digit term and a newline fit */

/* 0 and *term (0 when the file does not exist yet); -EINVAL for a file that
 * holds no term (err says why), -errno when it cannot be read. */
int swd_term_load(const char *path, uint64_t *term, char *err, size_t errlen);
/* 0 once the term is on disk (the file and its directory synced), -errno. */
int swd_term_save(const char *path, uint64_t term);

#endif
