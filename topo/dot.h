#ifndef PEREGRINE_TOPO_DOT_H
#define PEREGRINE_TOPO_DOT_H

#include <stdio.h>
#include "topo/topo.h"

/* Graphviz `graph` of the topology: switches as ellipses with role and
 * level, servers as boxes, links labelled with ports and capacity. */
void topo_write_dot(const struct topo *t, FILE *f);

#endif
