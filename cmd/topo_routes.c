/* peregrine topo routes: compute, verify and show the tree pairs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/topo_routes.h"
#include "lib/parse.h"
#include "route/trees.h"

/* Above these sizes the human output summarises instead of listing entries. */
enum { ROUTES_SHOW_SERVERS = 32, ROUTES_SHOW_SWITCHES = 32, ROUTES_SHOW_SHARED = 20 };

struct fib_print {
	const struct topo *t;
	uint32_t only;		/* owner filter or UINT32_MAX */
	json_t *arr;		/* JSON entries, or NULL for text */
	uint16_t port[ROUTE_TREES];
	uint32_t owner;
};

static const char *peer_name(const struct topo *t, uint32_t node, uint16_t port)
{
	return t->nodes[topo_port(t, node, port)->peer].name;
}

static void fib_json_entry(void *arg, uint32_t sw, uint32_t owner, unsigned tree, uint16_t port)
{
	struct fib_print *p = arg;
	json_t *e;

	if (p->only != UINT32_MAX && owner != p->only)
		return;
	e = json_object();
	JSET(e, "owner", JSTR(p->t->nodes[owner].name));
	JSET(e, "tree", JINT(tree));
	JSET(e, "port", JINT(port));
	JSET(e, "peer", JSTR(peer_name(p->t, sw, port)));
	json_array_append_new(p->arr, e);
}

/* Text: entries come tree 0 then tree 1 per group; print them per owner. */
static void print_switch(const struct route_trees *rt, uint32_t sw, uint32_t only)
{
	const struct topo *t = route_topo(rt);
	bool any = false;

	for (uint32_t i = 0; i < t->nservers; i++) {
		uint32_t P = t->servers[i];
		uint16_t p0, p1;

		if (only != UINT32_MAX && P != only)
			continue;
		p0 = route_egress(rt, sw, P, 0);
		p1 = route_egress(rt, sw, P, 1);
		if (p0 == ROUTE_NO_PORT && p1 == ROUTE_NO_PORT)
			continue;
		if (!any)
			printf("%s (%u entries)\n", t->nodes[sw].name, route_fib_count(rt, sw));
		any = true;
		printf("  %-12s primary", t->nodes[P].name);
		if (p0 != ROUTE_NO_PORT)
			printf(" port %-3u (%-10s)", p0, peer_name(t, sw, p0));
		else
			printf(" none%17s", "");
		printf("  backup");
		if (p1 != ROUTE_NO_PORT)
			printf(" port %-3u (%s)\n", p1, peer_name(t, sw, p1));
		else
			printf(" none\n");
	}
}

static void print_nics(const struct route_trees *rt, uint32_t P)
{
	const struct topo *t = route_topo(rt);

	printf("server NICs toward %s (tree 0 / tree 1)\n", t->nodes[P].name);
	for (uint32_t i = 0; i < t->nservers; i++) {
		uint32_t s = t->servers[i];
		uint16_t n0 = route_egress(rt, s, P, 0), n1 = route_egress(rt, s, P, 1);

		if (s == P)
			continue;
		printf("  %-12s", t->nodes[s].name);
		if (n0 == ROUTE_NO_PORT)
			printf(" unreachable");
		else
			printf(" NIC %u (%s)", n0, peer_name(t, s, n0));
		if (n1 != ROUTE_NO_PORT)
			printf(" / NIC %u (%s)\n", n1, peer_name(t, s, n1));
		else
			printf(" / unreachable\n");
	}
}

static json_t *shared_json(const struct topo *t, const struct route_verify *v)
{
	json_t *arr = json_array();

	for (uint32_t i = 0; i < v->nshared; i++) {
		const struct topo_link *l = &t->links[v->shared[i]];
		json_t *o = json_object();

		JSET(o, "link", JINT(v->shared[i]));
		JSET(o, "a", JSTR(t->nodes[l->a].name));
		JSET(o, "b", JSTR(t->nodes[l->b].name));
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *routes_json(const struct route_trees *rt, const struct route_verify *v,
			   const struct route_stats *st, double secs, double vsecs,
			   uint32_t only, bool entries)
{
	const struct topo *t = route_topo(rt);
	json_t *j = json_object();

	JSET(j, "spec", JSTR(t->spec));
	JSET(j, "servers", JINT(st->servers));
	JSET(j, "groups", JINT(st->groups));
	JSET(j, "trees_ok", JBOOL(v->ok));
	JSET(j, "sources_checked", JINT(v->sources));
	if (!v->ok)
		JSET(j, "error", JSTR(v->first_error));
	JSET(j, "shared_links", shared_json(t, v));
	JSET(j, "fib_max", JINT(st->fib_max));
	JSET(j, "fib_mean", JREAL(st->fib_mean));
	JSET(j, "hops_primary", JREAL(st->hops[0]));
	JSET(j, "hops_backup", JREAL(st->hops[1]));
	JSET(j, "seconds", JREAL(secs));
	JSET(j, "verify_seconds", JREAL(vsecs));
	JSET(j, "memory_bytes", JINT(st->bytes));
	if (entries) {
		json_t *fib = json_object();

		for (uint32_t i = 0; i < t->nnodes; i++) {
			struct fib_print p = { .t = t, .only = only, .arr = json_array() };

			route_fib_foreach(rt, i, fib_json_entry, &p);
			if (json_array_size(p.arr))
				JSET(fib, t->nodes[i].name, p.arr);
			else
				json_decref(p.arr);
		}
		JSET(j, "fib", fib);
	}
	return j;
}

static void routes_human(const struct route_trees *rt, const struct route_verify *v,
			 const struct route_stats *st, double secs, double vsecs,
			 uint32_t only, bool entries)
{
	const struct topo *t = route_topo(rt);

	printf("topology        %s\n", t->spec);
	printf("servers         %u in %u attachment group%s%s\n", st->servers, st->groups,
	       st->groups == 1 ? "" : "s", route_servers_relay(rt) ? " (servers relay)" : "");
	if (v->ok)
		printf("trees           verified: %llu (source, destination) pairs, paths "
		       "link-disjoint wherever the graph allows\n", (unsigned long long)v->sources);
	else
		printf("trees           FAILED: %u loops, %u unspanned, %u avoidable shared "
		       "links; first: %s\n", v->loops, v->unspanned, v->avoidable, v->first_error);
	printf("shared links    %u (single points of failure both trees must use)\n", v->nshared);
	for (uint32_t i = 0; i < v->nshared && i < ROUTES_SHOW_SHARED; i++) {
		const struct topo_link *l = &t->links[v->shared[i]];

		printf("  %s -- %s\n", t->nodes[l->a].name, t->nodes[l->b].name);
	}
	if (v->nshared > ROUTES_SHOW_SHARED)
		printf("  ... and %u more (--json lists all)\n", v->nshared - ROUTES_SHOW_SHARED);
	printf("FIB entries     max %u, mean %.1f per switch\n", st->fib_max, st->fib_mean);
	printf("path length     primary %.2f, backup %.2f links from a switch (mean)\n",
	       st->hops[0], st->hops[1]);
	printf("time            %.3f s to compute, %.3f s to verify\n", secs, vsecs);
	printf("memory          %.1f MiB\n", (double)st->bytes / (1 << 20));
	if (!entries) {
		printf("(forwarding entries: use --server P, or a smaller topology)\n");
		return;
	}
	printf("\nforwarding entries\n");
	for (uint32_t i = 0; i < t->nnodes; i++)
		if (!topo_is_server(t, i) || route_servers_relay(rt))
			print_switch(rt, i, only);
	if (only != UINT32_MAX && !route_servers_relay(rt))
		print_nics(rt, only);
}

/* A server by name, or by index among servers. */
static uint32_t find_server(const struct topo *t, const char *s)
{
	uint32_t n = topo_find(t, s);
	uint32_t idx;

	if (n != UINT32_MAX)
		return topo_is_server(t, n) ? n : UINT32_MAX;
	if (parse_u32(s, UINT32_MAX, &idx) && idx < t->nservers)
		return t->servers[idx];
	return UINT32_MAX;
}

int topo_routes(struct topo *t, const char *server, bool json)
{
	struct route_trees *rt;
	struct route_verify v;
	struct route_stats st;
	uint32_t only = UINT32_MAX;
	uint64_t t0, t1, t2;
	char err[256];
	bool entries;

	if (server && (only = find_server(t, server)) == UINT32_MAX)
		return cli_error("no server '%s' in %s", server, t->spec);
	t0 = mono_ns();
	if (route_trees_new(t, NULL, NULL, &rt, err, sizeof(err)))
		return cli_error("%s", err);
	t1 = mono_ns();
	route_verify(rt, &v);
	t2 = mono_ns();
	route_stats(rt, &st);
	entries = only != UINT32_MAX ||
		  (t->nservers <= ROUTES_SHOW_SERVERS && t->nswitches <= ROUTES_SHOW_SWITCHES);
	if (json)
		json_print(stdout, routes_json(rt, &v, &st, (double)(t1 - t0) / 1e9,
					       (double)(t2 - t1) / 1e9, only, entries));
	else
		routes_human(rt, &v, &st, (double)(t1 - t0) / 1e9, (double)(t2 - t1) / 1e9,
			     only, entries);
	route_verify_free(&v);
	route_trees_free(rt);
	return v.ok ? 0 : 1;
}
