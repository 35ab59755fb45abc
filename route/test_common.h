/* Helpers shared by the route/ unit tests: topologies to sweep and naive
 * reference checks.  Header-only so each test binary stays one .c file. */
#ifndef PEREGRINE_ROUTE_TEST_COMMON_H
#define PEREGRINE_ROUTE_TEST_COMMON_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/rng.h"
#include "route/failover.h"
#include "topo/analyze.h"

static inline struct topo *tc_spec(const char *s)
{
	struct topo *t;
	char err[512];

	if (topo_from_spec(s, &t, err, sizeof(err)))
		fail_msg("%s: %s", s, err);
	return t;
}

static inline struct route_trees *tc_trees(const struct topo *t, const uint8_t *ld,
					   const uint8_t *nd)
{
	struct route_trees *rt;
	char err[256];

	if (route_trees_new(t, ld, nd, &rt, err, sizeof(err)))
		fail_msg("%s: %s", t->spec, err);
	return rt;
}

/* A random graph of switches and servers.  two_ec: the switches form a
 * cycle plus chords (2-edge-connected) and servers get two links; otherwise
 * anything goes (bridges, parallel links, disconnected parts).  relay: a
 * BCube-family graph, so that servers relay. */
static inline struct topo *tc_random(struct rng *r, bool two_ec, bool relay)
{
	struct topo *t = topo_new(relay ? FAM_BCUBE : FAM_FILE, two_ec ? "random-2ec" : "random");
	uint32_t nsw = 2 + rng_below(r, 9), nsrv = 1 + rng_below(r, 6);
	uint32_t nl = rng_below(r, 2 * nsw + 1);
	char name[32];

	for (uint32_t i = 0; i < nsw; i++) {
		snprintf(name, sizeof(name), "s%u", i);
		topo_add_switch(t, ROLE_SWITCH, 1, 64, 4096, name);
	}
	if (two_ec)
		for (uint32_t i = 0; i < nsw; i++)
			topo_add_link(t, i, (i + 1) % nsw, 1000);
	for (uint32_t i = 0; i < nl; i++) {
		uint32_t a = rng_below(r, nsw), b = rng_below(r, nsw);

		if (a != b)
			topo_add_link(t, a, b, 1000 * (1 + rng_below(r, 4)));
	}
	for (uint32_t i = 0; i < nsrv; i++) {
		uint32_t s, nics = two_ec ? 2 : 1 + rng_below(r, 3);

		snprintf(name, sizeof(name), "h%u", i);
		s = topo_add_server(t, (uint16_t)nics, name);
		for (uint32_t k = 0; k < nics; k++)
			topo_add_link(t, s, rng_below(r, nsw), 1000);
	}
	topo_finish(t);
	return t;
}

/* Whether path links[0..n) contains link l. */
static inline bool tc_has(const uint32_t *links, uint32_t n, uint32_t l)
{
	for (uint32_t i = 0; i < n; i++)
		if (links[i] == l)
			return true;
	return false;
}

/* Whether v reaches server P in the topology without the links marked in
 * dead (servers other than P and v do not relay unless the family says so). */
static inline bool tc_connected(const struct topo *t, const uint8_t *dead, uint32_t P,
				uint32_t v, uint32_t *dist, uint32_t *queue)
{
	topo_bfs(t, P, dead, topo_servers_relay(t), dist, queue);
	return dist[v] != TOPO_UNREACHED;
}

#endif
