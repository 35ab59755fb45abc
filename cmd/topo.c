/* peregrine topo: inspect topologies. */
#include <stdio.h>
#include <string.h>

#include "cmd/cli.h"
#include "topo/analyze.h"
#include "topo/dot.h"
#include "cmd/topo_routes.h"

/* Bridges printed by the human output before "and N more". */
#define TOPO_SHOW_BRIDGES 20

static const char topo_help[] =
	"Usage: peregrine topo stats SPEC [--json]\n"
	"       peregrine topo check SPEC [--json]\n"
	"       peregrine topo dot SPEC\n"
	"       peregrine topo routes SPEC [--server P] [--json]\n"
	"\n"
	"Build a data-center topology and inspect it.\n"
	"\n"
	"  stats   servers, switches, links, server NICs, diameter (the longest\n"
	"          shortest path between two servers, in links), switch degrees\n"
	"  check   connectivity, port counts, 2-edge-connectivity and the links\n"
	"          that are single points of failure (bridges)\n"
	"  dot     a Graphviz graph on standard output (peregrine topo dot S | dot -Tsvg)\n"
	"  routes  every server's pair of edge-independent spanning trees: verified,\n"
	"          with shared links, FIB use and per-switch forwarding entries\n"
	"          (listed for small topologies, or for one server with --server P,\n"
	"          P a server name or index); exit 1 if verification fails\n"
	"\n"
	"SPEC is one of\n"
	"  leafspine:spines=S,leaves=L,servers=M[,homing=1|2]\n"
	"      two-tier folded Clos, M servers per leaf; homing=2 attaches every\n"
	"      server to both leaves of a pair\n"
	"  vl2:da=DA,di=DI[,per_tor=T]\n"
	"      VL2 Clos: DA/2 intermediates, DI aggregation switches, DA*DI/4 ToRs,\n"
	"      T servers per ToR (default 20)\n"
	"  fattree:k=K      k-ary fat-tree, k^3/4 servers\n"
	"  bcube:n=N,k=K    BCube_k of N-port switches, N^(k+1) servers\n"
	"  file:PATH or PATH   a topology file (docs/topology-file.md)\n"
	"\n"
	"Options:\n"
	"  --json    machine-readable output\n"
	"  --server P   routes: show only server P's entries (name or index)\n"
	"  -h, --help\n";

static void print_stats_human(const struct topo *t, const struct topo_stats *st)
{
	printf("topology        %s\n", t->spec);
	printf("servers         %u\n", st->servers);
	printf("switches        %u\n", st->switches);
	printf("links           %u\n", st->links);
	printf("server NICs     %u\n", st->server_nics);
	if (st->diameter == UINT32_MAX)
		printf("diameter        infinite (some servers cannot reach each other)\n");
	else
		printf("diameter        %u links%s\n", st->diameter,
		       st->diameter_by_symmetry ? " (all servers alike: one BFS)" : "");
	printf("switch degree   min %u, max %u\n", st->min_switch_degree,
	       st->max_switch_degree);
}

static json_t *stats_json(const struct topo *t, const struct topo_stats *st)
{
	json_t *j = json_object();

	JSET(j, "spec", JSTR(t->spec));
	JSET(j, "family", JSTR(topo_family_name(t->family)));
	JSET(j, "servers", JINT(st->servers));
	JSET(j, "switches", JINT(st->switches));
	JSET(j, "links", JINT(st->links));
	JSET(j, "server_nics", JINT(st->server_nics));
	JSET(j, "diameter", st->diameter == UINT32_MAX ? json_null() : JINT(st->diameter));
	JSET(j, "min_switch_degree", JINT(st->min_switch_degree));
	JSET(j, "max_switch_degree", JINT(st->max_switch_degree));
	return j;
}

static json_t *link_json(const struct topo *t, uint32_t l)
{
	json_t *j = json_object();

	JSET(j, "link", JINT(l));
	JSET(j, "a", JSTR(t->nodes[t->links[l].a].name));
	JSET(j, "b", JSTR(t->nodes[t->links[l].b].name));
	return j;
}

static json_t *check_json(const struct topo *t, const struct topo_check *c)
{
	json_t *j = json_object(), *br = json_array();

	JSET(j, "spec", JSTR(t->spec));
	JSET(j, "connected", JBOOL(c->connected));
	JSET(j, "components", JINT(c->components));
	JSET(j, "ports_ok", JBOOL(c->ports_ok));
	JSET(j, "port_violations", JINT(c->port_violations));
	JSET(j, "two_edge_connected", JBOOL(c->two_edge_connected));
	for (uint32_t i = 0; i < c->nbridges; i++)
		json_array_append_new(br, link_json(t, c->bridges[i]));
	JSET(j, "bridges", br);
	return j;
}

static void print_check_human(const struct topo *t, const struct topo_check *c)
{
	printf("topology           %s\n", t->spec);
	printf("connected          %s (%u component%s)\n", yesno(c->connected),
	       c->components, c->components == 1 ? "" : "s");
	if (c->ports_ok) {
		printf("port counts        respected\n");
	} else {
		const struct topo_node *n = &t->nodes[c->first_violation];

		printf("port counts        exceeded on %u node%s, first %s (%u links, %u %s)\n",
		       c->port_violations, c->port_violations == 1 ? "" : "s", n->name,
		       n->degree, n->ports, n->kind == TOPO_SERVER ? "NICs" : "ports");
	}
	printf("2-edge-connected   %s", yesno(c->two_edge_connected));
	if (c->nbridges)
		printf(": %u link%s are single points of failure", c->nbridges,
		       c->nbridges == 1 ? "" : "s");
	printf("\n");
	for (uint32_t i = 0; i < c->nbridges && i < TOPO_SHOW_BRIDGES; i++) {
		const struct topo_link *l = &t->links[c->bridges[i]];

		printf("  %s -- %s\n", t->nodes[l->a].name, t->nodes[l->b].name);
	}
	if (c->nbridges > TOPO_SHOW_BRIDGES)
		printf("  ... and %u more (--json lists all)\n", c->nbridges - TOPO_SHOW_BRIDGES);
}

int cmd_topo(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "server", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *sub, *server = NULL;
	struct topo *t;
	char err[512];
	bool json = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hjs:", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 's': server = optarg; break;
		case 'h': fputs(topo_help, stdout); return 0;
		default: return cli_usage_error("topo", "bad option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("topo", "expected a subcommand and a SPEC");
	sub = argv[optind];
	if (strcmp(sub, "stats") && strcmp(sub, "check") && strcmp(sub, "dot") &&
	    strcmp(sub, "routes"))
		return cli_usage_error("topo", "unknown subcommand '%s'", sub);
	if (topo_from_spec(argv[optind + 1], &t, err, sizeof(err)))
		return cli_error("%s", err);
	if (server && strcmp(sub, "routes")) {
		topo_free(t);
		return cli_usage_error("topo", "--server applies to routes only");
	}

	if (!strcmp(sub, "routes")) {
		int rc = topo_routes(t, server, json);

		topo_free(t);
		return rc;
	} else if (!strcmp(sub, "stats")) {
		struct topo_stats st;

		topo_stats(t, &st);
		if (json)
			json_print(stdout, stats_json(t, &st));
		else
			print_stats_human(t, &st);
	} else if (!strcmp(sub, "check")) {
		struct topo_check ck;

		topo_check(t, &ck);
		if (json)
			json_print(stdout, check_json(t, &ck));
		else
			print_check_human(t, &ck);
		topo_check_free(&ck);
	} else {
		topo_write_dot(t, stdout);
	}
	topo_free(t);
	return 0;
}
