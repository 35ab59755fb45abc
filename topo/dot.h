#ifndef PEREGRINE_TOPO_DOT_H
#define PEREGRINE_TOPO_DOT_H

#include <stdint.h>
#include <stdio.h>
#include "topo/topo.h"

/* Graphviz `graph` of the topology: switches as ellipses with role and
 * level, servers as boxes, links labelled with ports and capacity. */
void topo_write_dot(const struct topo *t, FILE *f);

/* What a running fabric adds to the picture (lab status): every array is
 * indexed like the topology's links or nodes, or NULL for "not known". */
enum topo_dot_link { TOPO_DOT_UP, TOPO_DOT_DOWN, TOPO_DOT_ABSENT };
struct topo_dot_state {
	const uint8_t *link;		/* enum topo_dot_link per link */
	const int64_t *fib_used;	/* per node; -1: switch not answering,
					 * < -1: it has no FIB to ask (no switchd) */
	const int64_t *fib_capacity;	/* per node; <= 0: not known */
	const uint8_t *node_down;	/* per node: its namespace is gone */
};

/* topo_write_dot with link states (a down link red and dashed, an absent
 * one grey and dotted) and each switch's FIB use against its capacity. */
void topo_write_dot_state(const struct topo *t, const struct topo_dot_state *st, FILE *f);

#endif
