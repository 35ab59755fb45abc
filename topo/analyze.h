/* Graph analysis on a topology: BFS distances, bridges, statistics, checks. */
#ifndef PEREGRINE_TOPO_ANALYZE_H
#define PEREGRINE_TOPO_ANALYZE_H

#include "topo/topo.h"

#define TOPO_UNREACHED UINT32_MAX

/* BFS hop counts from src into dist[nnodes] (TOPO_UNREACHED if not reached).
 * Links with link_dead[l] != 0 are skipped (link_dead may be NULL).  When
 * servers_relay is false, paths do not pass through servers (a server is
 * only an end point), as in switch-centric fabrics; BCube needs true.
 * `queue` is scratch of nnodes entries.  Returns the number of nodes reached. */
uint32_t topo_bfs(const struct topo *t, uint32_t src, const uint8_t *link_dead,
		  bool servers_relay, uint32_t *dist, uint32_t *queue);

/* Servers relay traffic only in server-centric families (BCube). */
static inline bool topo_servers_relay(const struct topo *t)
{
	return t->family == FAM_BCUBE;
}

/* Links whose removal disconnects the graph (iterative Tarjan, parallel links
 * handled).  Returns a malloc'd array of link ids, count in *n. */
uint32_t *topo_bridges(const struct topo *t, const uint8_t *link_dead, uint32_t *n);

struct topo_stats {
	uint32_t servers, switches, links, server_nics;
	uint32_t diameter;		/* links, between two servers; UINT32_MAX
					 * when some pair is disconnected */
	uint32_t min_switch_degree, max_switch_degree;
	bool diameter_by_symmetry;	/* computed from one server */
};

/* Statistics.  The diameter takes one BFS when the builder guarantees that
 * all servers look alike, else one per group of servers that share the same
 * neighbours. */
void topo_stats(const struct topo *t, struct topo_stats *st);
/* The exact server diameter by a BFS from every server (tests, small graphs). */
uint32_t topo_diameter_naive(const struct topo *t);

struct topo_check {
	bool connected;
	uint32_t components;
	bool ports_ok;
	uint32_t port_violations;	/* nodes with more links than ports */
	uint32_t first_violation;	/* node id, if any */
	bool two_edge_connected;
	uint32_t nbridges;
	uint32_t *bridges;		/* link ids, malloc'd */
};

void topo_check(const struct topo *t, struct topo_check *c);
void topo_check_free(struct topo_check *c);

#endif
