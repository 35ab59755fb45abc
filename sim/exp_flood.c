/* peregrine sim flood: flooding when the VMs outgrow the tables. */
#include <stdlib.h>
#include <string.h>

#include "sim/exp.h"
#include "sim/flood.h"
#include "sim/plot.h"

#define EXP "flood"
#define FLOOD_MAX_POINTS 32

static const char flood_help[] =
	"Usage: peregrine sim flood --topo SPEC --scheme S --vms-per-server V\n"
	"                           [--fib CAP] [--packets N] [--peers P] [--warmup W]\n"
	"                           [--vlans K] [--seed N] [--json] [--plot FILE]\n"
	"\n"
	"Count the frames switches flood when the VMs' addresses outgrow their\n"
	"forwarding tables.  Learning schemes (l2, spain, netlord) run packet by\n"
	"packet over tables of the switches' capacity with least-recently-used\n"
	"eviction; a miss floods the frame over the spanning tree or the flow's\n"
	"VLAN.  Schemes with installed entries (peregrine, peregrine-dual, vl2,\n"
	"bcube) never flood; for them the FIB model says whether all entries fit.\n"
	"S and V may be comma-separated lists: one run per pair, one curve per\n"
	"scheme on the plot (NetLord's flood figure).\n"
	"\n"
	"Options:\n"
	"  --topo SPEC           topology\n"
	"  --scheme S[,S...]     schemes, or all\n"
	"  --vms-per-server V[,V...]\n"
	"  --fib CAP             table capacity of every switch (default the topology's)\n"
	"  --packets N           packets counted per run (default 1000000)\n"
	"  --peers P             VMs each VM talks to (default 2)\n"
	"  --warmup W            packets per flow sent before counting (default 2), so\n"
	"                        that first-packet floods every learning switch makes\n"
	"                        are not counted\n"
	"  --vlans K             spain, netlord: SPAIN paths per edge-switch pair,\n"
	"                        packed into VLANs (default one per top-tier switch, at most 64)\n"
	"  --seed N              flows and packet order (default 1)\n"
	"  --json, --plot FILE   machine output; flooded frames against VMs (.svg/.png)\n"
	"  -h, --help\n";

struct flood_opts {
	const char *topo, *plot;
	uint32_t schemes, nv, v[FLOOD_MAX_POINTS];
	struct sim_flood_params p;
	bool json;
};

static int parse(int argc, char **argv, struct flood_opts *o)
{
	static const struct option opts[] = {
		{ "topo", required_argument, NULL, 't' },
		{ "scheme", required_argument, NULL, 's' },
		{ "vms-per-server", required_argument, NULL, 'v' },
		{ "fib", required_argument, NULL, 'f' },
		{ "packets", required_argument, NULL, 'n' },
		{ "peers", required_argument, NULL, 'P' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "vlans", required_argument, NULL, 'k' },
		{ "seed", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "plot", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	o->p.packets = SIM_FLOOD_DEFAULT_PACKETS;
	o->p.peers = SIM_FLOOD_DEFAULT_PEERS;
	o->p.warmup = SIM_FLOOD_DEFAULT_WARMUP;
	o->p.seed = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		bool ok = true;

		switch (c) {
		case 't': o->topo = optarg; break;
		case 's': ok = sim_exp_schemes(EXP, optarg, &o->schemes); break;
		case 'v':
			ok = sim_exp_u32_list(EXP, "vms-per-server", optarg, 1u << 20, o->v,
					      FLOOD_MAX_POINTS, &o->nv);
			break;
		case 'f':
			ok = sim_exp_u32(EXP, "fib", optarg, UINT32_MAX, &o->p.fib_cap);
			if (ok && !o->p.fib_cap)
				return sim_exp_usage(EXP, "--fib: a capacity of 0 holds nothing");
			break;
		case 'n': ok = sim_exp_u64(EXP, "packets", optarg, SIM_FLOOD_MAX_PACKETS, &o->p.packets); break;
		case 'P':
			ok = sim_exp_u32(EXP, "peers", optarg, SIM_FLOOD_MAX_PEERS, &o->p.peers);
			if (ok && !o->p.peers)
				return sim_exp_usage(EXP, "--peers: at least 1");
			break;
		case 'w': ok = sim_exp_u32(EXP, "warmup", optarg, 1000, &o->p.warmup); break;
		case 'k': ok = sim_exp_u32(EXP, "vlans", optarg, 4094, &o->p.vlans); break;
		case 'S': ok = sim_exp_u64(EXP, "seed", optarg, UINT64_MAX, &o->p.seed); break;
		case 'j': o->json = true; break;
		case 'p': o->plot = optarg; break;
		case 'h': fputs(flood_help, stdout); return 0;
		default: return sim_exp_usage(EXP, "bad option");
		}
		if (!ok)
			return 2;
	}
	if (optind < argc)
		return sim_exp_usage(EXP, "unexpected argument '%s'", argv[optind]);
	if (!o->topo || !o->schemes || !o->nv)
		return sim_exp_usage(EXP, "--topo, --scheme and --vms-per-server are required");
	return -1;
}

static json_t *result_json(const struct sim_flood_params *p, const struct sim_flood_result *r)
{
	json_t *j = json_object();

	JSET(j, "scheme", JSTR(sim_scheme_name(p->scheme)));
	JSET(j, "vms_per_server", JINT(p->vms_per_server));
	JSET(j, "vms", JINT(r->vms));
	JSET(j, "learning", JBOOL(r->learning));
	JSET(j, "packets", JINT(r->packets));
	JSET(j, "flooded", JINT(r->flooded));
	JSET(j, "flooded_packets", JINT(r->flooded_packets));
	JSET(j, "flood_share", JREAL(r->packets ? (double)r->flooded_packets / r->packets : 0));
	JSET(j, "table_max", JINT(r->table_max));
	if (r->learning) {
		JSET(j, "flows", JINT(r->flows));
		JSET(j, "evictions", JINT(r->evictions));
	} else {
		JSET(j, "fits", JBOOL(r->fits));
	}
	if (r->vlans)
		JSET(j, "vlans", JINT(r->vlans));
	return j;
}

static void print_row(const struct sim_flood_params *p, const struct sim_flood_result *r)
{
	char a[32], b[32], c[32];

	printf("%-15s %10s %12s %12s %7.2f%%  ", sim_scheme_name(p->scheme),
	       sim_exp_commas(r->vms, a, sizeof(a)), sim_exp_commas(r->flooded, b, sizeof(b)),
	       sim_exp_commas(r->flooded_packets, c, sizeof(c)),
	       r->packets ? 100.0 * (double)r->flooded_packets / r->packets : 0);
	if (r->learning)
		printf("fullest table %s, %s evictions\n", sim_exp_commas(r->table_max, a, sizeof(a)),
		       sim_exp_commas(r->evictions, b, sizeof(b)));
	else
		printf("installed entries, %s (fullest %s)\n", r->fits ? "all fit" : "DO NOT FIT",
		       sim_exp_commas(r->table_max, a, sizeof(a)));
}

struct series {
	double x[SCHEME_COUNT][FLOOD_MAX_POINTS], y[SCHEME_COUNT][FLOOD_MAX_POINTS];
	uint32_t n[SCHEME_COUNT];
};

static int plot(const struct flood_opts *o, const struct series *s)
{
	static char title[160];
	struct sim_plot pl = { .title = title, .xlabel = "VMs",
			       .ylabel = "flooded frames", .logx = true, .points = true };
	char err[256];

	snprintf(title, sizeof(title), "Floods over %llu packets",
		 (unsigned long long)o->p.packets);
	for (int sc = 0; sc < SCHEME_COUNT; sc++)
		if (s->n[sc])
			sim_plot_add(&pl, sim_scheme_name(sc), s->n[sc], s->x[sc], s->y[sc]);
	if (sim_plot_write(&pl, o->plot, err, sizeof(err)))
		return sim_exp_error(EXP, "%s", err);
	return 0;
}

static int run(const struct flood_opts *o, const struct sim_net *n)
{
	struct series *s = xcalloc(1, sizeof(*s));
	json_t *list = json_array();
	int ret = 0, runs = 0;

	if (!o->json)
		printf("%-15s %10s %12s %12s %8s\n", "scheme", "VMs", "floods", "pkts flooded",
		       "share");
	for (int sc = 0; sc < SCHEME_COUNT && !ret; sc++) {
		if (!(o->schemes & (1u << sc)))
			continue;
		for (uint32_t i = 0; i < o->nv && !ret; i++) {
			struct sim_flood_params p = o->p;
			struct sim_flood_result r;
			char err[512];

			p.scheme = sc;
			p.vms_per_server = o->v[i];
			if (sim_flood_run(n, &p, &r, err, sizeof(err))) {
				ret = sim_exp_error(EXP, "%s: %s", sim_scheme_name(sc), err);
				break;
			}
			runs++;
			if (o->json)
				json_array_append_new(list, result_json(&p, &r));
			else
				print_row(&p, &r);
			s->x[sc][s->n[sc]] = (double)r.vms;
			s->y[sc][s->n[sc]++] = (double)r.flooded;
		}
	}
	if (!ret && o->plot)
		ret = plot(o, s);
	if (!ret && o->json) {
		json_t *j = runs == 1 ? json_incref(json_array_get(list, 0)) : json_object();

		if (runs > 1)
			JSET(j, "results", json_incref(list));
		JSET(j, "topology", JSTR(n->t->spec));
		JSET(j, "servers", JINT(n->t->nservers));
		json_print(stdout, j);
	}
	json_decref(list);
	free(s);
	return ret;
}

int sim_exp_flood(int argc, char **argv)
{
	struct flood_opts o = { 0 };
	struct sim_net n;
	struct topo *t;
	int ret = parse(argc, argv, &o);

	if (ret >= 0)
		return ret;
	if (!(t = sim_exp_net(EXP, o.topo, &n)))
		return 1;
	if (!o.json)
		printf("topology %s (%u servers, %u switches), %llu packets per run\n\n", t->spec,
		       t->nservers, t->nswitches, (unsigned long long)o.p.packets);
	ret = run(&o, &n);
	sim_net_free(&n);
	topo_free(t);
	return ret;
}
