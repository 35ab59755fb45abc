/* peregrine topo routes (cmd/topo_routes.c), called from cmd/topo.c. */
#ifndef PEREGRINE_CMD_TOPO_ROUTES_H
#define PEREGRINE_CMD_TOPO_ROUTES_H

#include "cmd/cli.h"
#include "topo/topo.h"

/* Compute, verify and print the tree pairs of t (only server `server`'s
 * entries when not NULL).  Returns the exit status. */
int topo_routes(struct topo *t, const char *server, bool json);

#endif
