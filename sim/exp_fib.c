/* peregrine sim fib: forwarding entries per switch, per scheme. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/exp.h"
#include "sim/fib.h"
#include "sim/plot.h"

#define EXP "fib"
/* Points on each curve of the plot. */
#define FIB_PLOT_POINTS 60

static const char fib_help[] =
	"Usage: peregrine sim fib --topo SPEC --scheme S --vms-per-server V\n"
	"                         [--fib CAP] [--vlans K] [--heavy H] [--seed N]\n"
	"                         [--json] [--plot FILE]\n"
	"\n"
	"Forwarding entries each switch needs under a scheme, with V VMs on every\n"
	"server: the fullest switch and the mean, whether every switch fits its\n"
	"capacity, and the largest VM count that fits, two ways:\n"
	"  growing   a data center of this shape (edge switches with the same\n"
	"            servers each) grown until a table overflows, at V per server\n"
	"  here      this topology with more VMs per server\n"
	"\n"
	"Schemes (docs/experiments.md has the model of each):\n"
	"  l2              every switch learns every server and VM MAC\n"
	"  spain           the same once per VLAN a switch is in\n"
	"  netlord         edge-switch MACs once per VLAN; edge switches add their servers\n"
	"  vl2             a route per ToR locator; a ToR adds its servers' and VMs' addresses\n"
	"  peregrine       two MACs per server on every switch (two spanning trees)\n"
	"  peregrine-dual  plus direct entries for H heavy VM pairs per server\n"
	"  bcube           a switch knows only its own servers\n"
	"  evpn            a route per VTEP (server) and switch loopback, plus its links;\n"
	"                  tenants' MACs stay in the servers (docs/evpn.md)\n"
	"S may be a comma-separated list or 'all'.\n"
	"\n"
	"Options:\n"
	"  --topo SPEC          topology (peregrine topo --help lists the forms)\n"
	"  --scheme S           scheme(s)\n"
	"  --vms-per-server V   VMs on every server\n"
	"  --fib CAP            table capacity of every switch (default: the topology's,\n"
	"                       65536 for the builders)\n"
	"  --vlans K            spain, netlord: SPAIN paths per edge-switch pair,\n"
	"                       packed into VLANs (default one per top-tier switch, at most 64)\n"
	"  --heavy H            peregrine-dual: heavy pairs per server (default 4)\n"
	"  --seed N             peregrine-dual: which pairs are heavy (default 1)\n"
	"  --json               machine-readable output\n"
	"  --plot FILE          entries at the fullest switch against the VM count as the\n"
	"                       data center grows, one curve per scheme (.svg or .png)\n"
	"  -h, --help\n";

struct fib_opts {
	const char *topo, *plot;
	uint32_t schemes;
	struct sim_fib_params p;
	bool json, have_v;
};

static int parse(int argc, char **argv, struct fib_opts *o)
{
	static const struct option opts[] = {
		{ "topo", required_argument, NULL, 't' },
		{ "scheme", required_argument, NULL, 's' },
		{ "vms-per-server", required_argument, NULL, 'v' },
		{ "fib", required_argument, NULL, 'f' },
		{ "vlans", required_argument, NULL, 'k' },
		{ "heavy", required_argument, NULL, 'H' },
		{ "seed", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "plot", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	o->p.heavy = SIM_FIB_DEFAULT_HEAVY;
	o->p.seed = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		bool ok = true;

		switch (c) {
		case 't': o->topo = optarg; break;
		case 's': ok = sim_exp_schemes(EXP, optarg, &o->schemes); break;
		case 'v':
			ok = sim_exp_u32(EXP, "vms-per-server", optarg,
					 SIM_FIB_MAX_VMS_PER_SERVER, &o->p.vms_per_server);
			o->have_v = true;
			break;
		case 'f':
			ok = sim_exp_u32(EXP, "fib", optarg, UINT32_MAX, &o->p.fib_cap);
			if (ok && !o->p.fib_cap)
				return sim_exp_usage(EXP, "--fib: a capacity of 0 holds nothing");
			break;
		case 'k': ok = sim_exp_u32(EXP, "vlans", optarg, 4094, &o->p.vlans); break;
		case 'H': ok = sim_exp_u32(EXP, "heavy", optarg, SIM_FIB_MAX_HEAVY, &o->p.heavy); break;
		case 'S': ok = sim_exp_u64(EXP, "seed", optarg, UINT64_MAX, &o->p.seed); break;
		case 'j': o->json = true; break;
		case 'p': o->plot = optarg; break;
		case 'h': fputs(fib_help, stdout); return 0;
		default: return sim_exp_usage(EXP, "bad option");
		}
		if (!ok)
			return 2;
	}
	if (optind < argc)
		return sim_exp_usage(EXP, "unexpected argument '%s'", argv[optind]);
	if (!o->topo || !o->schemes || !o->have_v)
		return sim_exp_usage(EXP, "--topo, --scheme and --vms-per-server are required");
	return -1;
}

static json_t *u64_or_null(uint64_t v)
{
	return v == UINT64_MAX ? json_null() : JINT(v);
}

static json_t *result_json(const struct topo *t, const struct sim_fib_params *p,
			   const struct sim_fib_result *r)
{
	json_t *j = json_object(), *roles = json_object();
	uint32_t amx = t->switches[r->argmax];

	JSET(j, "scheme", JSTR(sim_scheme_name(p->scheme)));
	JSET(j, "vms_per_server", JINT(p->vms_per_server));
	JSET(j, "vms", JINT(r->vms));
	JSET(j, "fib_cap", JINT(p->fib_cap ? p->fib_cap : t->nodes[amx].fib_cap));
	JSET(j, "fib_max", JINT(r->fib_max));
	JSET(j, "fib_max_switch", JSTR(t->nodes[amx].name));
	JSET(j, "fib_mean", JREAL(r->fib_mean));
	JSET(j, "fits", JBOOL(r->fits));
	JSET(j, "overflowing_switches", JINT(r->overflowing));
	JSET(j, "max_vms", u64_or_null(r->max_vms));
	JSET(j, "max_servers", u64_or_null(r->max_servers));
	JSET(j, "max_vms_per_server", r->max_vms_per_server == INT64_MAX ? json_null() :
		 JINT(MAX(r->max_vms_per_server, -1)));
	JSET(j, "max_vms_here", r->max_vms_per_server == INT64_MAX ? json_null() :
		 JINT(MAX(r->max_vms_per_server, 0) * (int64_t)t->nservers));
	if (p->scheme == SCHEME_SPAIN || p->scheme == SCHEME_NETLORD)
		JSET(j, "vlans", JINT(r->vlans));
	if (p->scheme == SCHEME_PEREGRINE_DUAL) {
		JSET(j, "heavy_pairs_per_server", JINT(p->heavy));
		JSET(j, "direct_entries", JINT(r->direct_entries));
	}
	for (int ro = 0; ro < ROLE_COUNT; ro++) {
		const struct sim_fib_role *x = &r->roles[ro];
		json_t *o;

		if (!x->switches)
			continue;
		o = json_object();
		JSET(o, "switches", JINT(x->switches));
		JSET(o, "fib_max", JINT(x->max));
		JSET(o, "fib_mean", JREAL(x->mean));
		JSET(roles, topo_role_name(ro), o);
	}
	JSET(j, "roles", roles);
	return j;
}

static void print_limits(const struct topo *t, const struct sim_fib_params *p,
			 const struct sim_fib_result *r)
{
	char a[32], b[32];

	if (r->max_vms == UINT64_MAX)
		printf("growing        no table grows with the data center: the FIB sets no limit\n");
	else
		printf("growing        fits up to %s servers, %s VMs at %u per server\n",
		       sim_exp_commas(r->max_servers, a, sizeof(a)),
		       sim_exp_commas(r->max_vms, b, sizeof(b)), p->vms_per_server);
	if (r->max_vms_per_server == INT64_MAX)
		printf("here           no table grows with the VMs: the FIB sets no limit\n");
	else if (r->max_vms_per_server < 0)
		printf("here           does not fit even without VMs\n");
	else
		printf("here           fits up to %lld VMs per server, %s VMs\n",
		       (long long)r->max_vms_per_server,
		       sim_exp_commas((uint64_t)r->max_vms_per_server * t->nservers, a, sizeof(a)));
}

static void print_human(const struct topo *t, const struct sim_fib_params *p,
			const struct sim_fib_result *r)
{
	uint32_t amx = t->switches[r->argmax];
	uint32_t cap = p->fib_cap ? p->fib_cap : t->nodes[amx].fib_cap;
	char a[32], b[32];

	printf("scheme         %s\n", sim_scheme_name(p->scheme));
	printf("VMs            %s (%u per server)\n", sim_exp_commas(r->vms, a, sizeof(a)),
	       p->vms_per_server);
	if (p->scheme == SCHEME_SPAIN || p->scheme == SCHEME_NETLORD)
		printf("VLANs          %u\n", r->vlans);
	if (p->scheme == SCHEME_PEREGRINE_DUAL)
		printf("direct entries %s in all (%u heavy pairs per server)\n",
		       sim_exp_commas(r->direct_entries, a, sizeof(a)), p->heavy);
	printf("FIB entries    max %s (%s), mean %.1f; capacity %s: %s\n",
	       sim_exp_commas(r->fib_max, a, sizeof(a)), t->nodes[amx].name, r->fib_mean,
	       sim_exp_commas(cap, b, sizeof(b)),
	       r->fits ? "fits" : "OVERFLOWS");
	if (!r->fits)
		printf("               %u of %u switches overflow\n", r->overflowing, r->nswitches);
	for (int ro = 0; ro < ROLE_COUNT; ro++)
		if (r->roles[ro].switches)
			printf("  %-12s %6u switches, max %s, mean %.1f\n", topo_role_name(ro),
			       r->roles[ro].switches, sim_exp_commas(r->roles[ro].max, a, sizeof(a)),
			       r->roles[ro].mean);
	print_limits(t, p, r);
}

/* Entries at the fullest switch when the data center grows to x times its
 * servers, at V VMs per server. */
static double grown_max(const struct sim_fib_result *r, double x, uint64_t V)
{
	double m = 0;

	for (uint32_t i = 0; i < r->nswitches; i++) {
		const struct sim_fib_coef *k = &r->coef[i];
		double e = x * ((double)k->remote + (double)k->remote_vm * V) +
			   (double)k->local + (double)k->local_vm * V;

		m = MAX(m, e);
	}
	return m;
}

struct curves {
	double x[SCHEME_COUNT][FIB_PLOT_POINTS], y[SCHEME_COUNT][FIB_PLOT_POINTS];
	struct sim_plot plot;
};

static void add_curve(struct curves *cv, const struct topo *t, const struct sim_fib_params *p,
		      const struct sim_fib_result *r)
{
	double S = t->nservers, V = MAX(p->vms_per_server, 1u);
	/* From a hundredth of a million VMs to ten million, logarithmically. */
	double lo = 1e4, hi = 1e7;
	uint32_t s = p->scheme;

	for (uint32_t i = 0; i < FIB_PLOT_POINTS; i++) {
		double vms = lo * pow(hi / lo, (double)i / (FIB_PLOT_POINTS - 1));

		cv->x[s][i] = vms;
		cv->y[s][i] = MAX(1.0, grown_max(r, vms / (S * V), p->vms_per_server));
	}
	sim_plot_add(&cv->plot, sim_scheme_name(p->scheme), FIB_PLOT_POINTS, cv->x[s], cv->y[s]);
}

static int run(const struct fib_opts *o, const struct topo *t, struct sim_net *n)
{
	json_t *list = json_array();
	struct curves *cv = xcalloc(1, sizeof(*cv));
	static char title[320];
	char err[512];
	int ret = 0, ran = 0, single = __builtin_popcount(o->schemes) == 1;
	uint32_t cap = 0;

	for (int s = 0; s < SCHEME_COUNT && !ret; s++) {
		struct sim_fib_params p = o->p;
		struct sim_fib_result r;

		if (!(o->schemes & (1u << s)))
			continue;
		p.scheme = s;
		if (sim_fib_model(n, &p, &r, err, sizeof(err))) {
			if (single) {
				ret = sim_exp_error(EXP, "%s", err);
				break;
			}
			if (!o->json)
				printf("(%s skipped: %s)\n\n", sim_scheme_name(s), err);
			continue;
		}
		ran++;
		cap = p.fib_cap ? p.fib_cap : t->nodes[t->switches[r.argmax]].fib_cap;
		if (o->json)
			json_array_append_new(list, result_json(t, &p, &r));
		else {
			print_human(t, &p, &r);
			printf("\n");
		}
		if (o->plot)
			add_curve(cv, t, &p, &r);
		sim_fib_result_free(&r);
	}
	if (!ret && !ran)
		ret = sim_exp_error(EXP, "no scheme can run on %s", t->spec);
	if (!ret && o->plot) {
		snprintf(title, sizeof(title), "FIB entries at the fullest switch, %u VMs per server",
			 o->p.vms_per_server);
		cv->plot.title = title;
		cv->plot.xlabel = "VMs (the data center grown at this shape)";
		cv->plot.ylabel = "entries";
		cv->plot.logx = cv->plot.logy = true;
		cv->plot.hline = cap;
		cv->plot.hline_title = "capacity";
		if (sim_plot_write(&cv->plot, o->plot, err, sizeof(err)))
			ret = sim_exp_error(EXP, "%s", err);
	}
	if (!ret && o->json) {
		json_t *j;

		if (single) {
			j = json_incref(json_array_get(list, 0));
		} else {
			j = json_object();
			JSET(j, "results", json_incref(list));
		}
		JSET(j, "topology", JSTR(t->spec));
		JSET(j, "servers", JINT(t->nservers));
		JSET(j, "switches", JINT(t->nswitches));
		json_print(stdout, j);
	}
	json_decref(list);
	free(cv);
	return ret;
}

int sim_exp_fib(int argc, char **argv)
{
	struct fib_opts o = { 0 };
	struct sim_net n;
	struct topo *t;
	int ret = parse(argc, argv, &o);

	if (ret >= 0)
		return ret;
	if (!(t = sim_exp_net(EXP, o.topo, &n)))
		return 1;
	if (!o.json)
		printf("topology       %s (%u servers, %u switches)\n\n", t->spec, t->nservers,
		       t->nswitches);
	ret = run(&o, t, &n);
	sim_net_free(&n);
	topo_free(t);
	return ret;
}
