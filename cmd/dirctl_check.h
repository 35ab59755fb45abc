/* dirctl check: the replicated directory's history checker (docs/ha.md). */
#ifndef PEREGRINE_CMD_DIRCTL_CHECK_H
#define PEREGRINE_CMD_DIRCTL_CHECK_H

#include "dir/client_udp.h"

/* check SECONDS [VDC]; exit status 1 if a registration was lost or a version
 * went back. */
int dirctl_check(struct dirc_udp *u, int argc, char **argv, bool json);
/* Every push the client receives, for the version check. */
void dirctl_check_push(uint8_t type, const struct dirp_entry *e);

#endif
