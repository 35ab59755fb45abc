/* Pieces of peregrine swctl that peregrine lab fib reuses. */
#ifndef PEREGRINE_CMD_SWCTL_H
#define PEREGRINE_CMD_SWCTL_H

#include "lab/swclient.h"

/* Send ops (any number, in SWP_MAX_OPS batches) and print the results.
 * 0 when all succeeded, 1 when one was refused or the switch did not answer. */
int swctl_apply(struct swc *c, const struct swp_op *ops, uint32_t n, bool json);
int swctl_dump(struct swc *c, bool ports, bool json);
int swctl_print_ack(const struct swp_op *ops, uint16_t n, const uint8_t *status,
		    uint32_t used, uint32_t cap, bool json);

#endif
