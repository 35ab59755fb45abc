/* peregrine sim failover: failure-to-recovery time. */
#include <stdlib.h>
#include <string.h>

#include "sim/exp.h"
#include "sim/failover.h"
#include "sim/plot.h"

#define EXP "failover"

static const char fo_help[] =
	"Usage: peregrine sim failover --topo SPEC --scheme S [OPTIONS]\n"
	"\n"
	"Fail one link or switch and measure the time until traffic flows again,\n"
	"as a deterministic discrete-event run that replays from --seed.\n"
	"  peregrine, peregrine-dual   witness switches -> RAS -> directory -> agents:\n"
	"                              the last agent switched to its backup MAC\n"
	"  l2                          spanning-tree reconvergence (802.1D or RSTP)\n"
	"\n"
	"Options:\n"
	"  --topo SPEC, --scheme S     what to run (S: peregrine, peregrine-dual, l2)\n"
	"  --fail link|switch          what fails (default link)\n"
	"  --target NAME               the link (SWITCH-SWITCH) or switch; default a\n"
	"                              random one in use, chosen by --seed\n"
	"  --seed N                    randomness of the run (default 1)\n"
	"  --runs N                    N runs with seeds N0, N0+1, ...; prints each and\n"
	"                              the median (default 1)\n"
	"  --json, --plot FILE         machine output; the share of agents recovered\n"
	"                              against time in the first run (.svg or .png)\n"
	"  --compare-scopes            plot that failure under both --scope values\n"
	"Peregrine (defaults and sources in docs/experiments.md):\n"
	"  --vms-per-server V          VMs per server (20): GARP entries per server\n"
	"  --peers P                   VMs whose entries each agent caches (10)\n"
	"  --directories N             directory servers sharing the fan-out (1)\n"
	"  --scope tree|sources        whom the directory tells: every agent caching\n"
	"                              an entry whose primary tree broke (tree, the\n"
	"                              seed's design), or only those whose own path\n"
	"                              crossed the failure (sources)\n"
	"  --traps N                   copies of each witness report (2)\n"
	"  --detect-us X               witness sees the port go down (1000)\n"
	"  --hop-us X                  one management message (100)\n"
	"  --ras-us-per-route X        RAS, per affected tree (1)\n"
	"  --ds-us-per-entry X         directory, per entry marked unavailable (1)\n"
	"  --fanout-us-per-client X    directory, per agent notified (58.8: VL2's\n"
	"                              measured 17K operations/s per directory server)\n"
	"  --agent-us X                agent applies the change (50)\n"
	"  --retry-us X                resend after a lost message (10000)\n"
	"  --recompute-us-per-tree X   RAS computes a replacement tree (20)\n"
	"  --loss P, --jitter F        message loss probability (0), delay spread (0.1)\n"
	"Plain Ethernet:\n"
	"  --stp 802.1d|rstp           protocol (802.1d)\n"
	"  --silent                    failure not signalled by loss of carrier\n"
	"  --hello-s, --max-age-s, --fwd-delay-s   802.1D timers (2, 20, 15)\n"
	"  --bpdu-hop-us X             a BPDU processed and relayed (1000)\n"
	"  -h, --help\n";

enum {
	O_TOPO = 256, O_SCHEME, O_FAIL, O_TARGET, O_SEED, O_RUNS, O_JSON, O_PLOT, O_VMS,
	O_PEERS, O_DIRS, O_TRAPS, O_DETECT, O_HOP, O_RAS, O_DSE, O_FANOUT, O_AGENT,
	O_RETRY, O_RECOMP, O_LOSS, O_JITTER, O_STP, O_SILENT, O_HELLO, O_MAXAGE, O_FWD,
	O_BPDU, O_SCOPE, O_COMPARE,
};

struct fo_opts {
	const char *topo, *plot;
	struct sim_fo_params p;
	uint32_t runs;
	bool json, have_scheme, compare;
};

static bool parse_us(const char *opt, const char *arg, double *out)
{
	return sim_exp_double(EXP, opt, arg, 0, 1e9, out);
}

static bool positive(const char *opt, const char *arg, uint32_t max, uint32_t *out)
{
	if (!sim_exp_u32(EXP, opt, arg, max, out))
		return false;
	if (!*out)
		sim_exp_usage(EXP, "--%s: at least 1", opt);
	return *out > 0;
}

static bool parse_one(struct fo_opts *o, int c, const char *arg)
{
	struct sim_fo_params *p = &o->p;

	switch (c) {
	case O_TOPO: o->topo = arg; return true;
	case O_SCHEME: {
		int s = sim_scheme_parse(arg);

		if (s < 0) {
			sim_exp_usage(EXP, "--scheme: unknown scheme '%s'", arg);
			return false;
		}
		p->scheme = s;
		o->have_scheme = true;
		return true;
	}
	case O_FAIL:
		if (strcmp(arg, "link") && strcmp(arg, "switch")) {
			sim_exp_usage(EXP, "--fail: link or switch, not '%s'", arg);
			return false;
		}
		p->fail = !strcmp(arg, "link") ? SIM_FAIL_LINK : SIM_FAIL_SWITCH;
		return true;
	case O_TARGET: p->target = arg; return true;
	case O_SEED: return sim_exp_u64(EXP, "seed", arg, UINT64_MAX / 2, &p->seed);
	case O_RUNS: return positive("runs", arg, 10000, &o->runs);
	case O_VMS: return sim_exp_u32(EXP, "vms-per-server", arg, 1u << 20, &p->vms_per_server);
	case O_PEERS: return sim_exp_u32(EXP, "peers", arg, SIM_FO_MAX_PEERS, &p->peers);
	case O_DIRS: return positive("directories", arg, SIM_FO_MAX_DIRECTORIES, &p->directories);
	case O_TRAPS: return positive("traps", arg, SIM_FO_MAX_TRAPS, &p->traps);
	case O_DETECT: return parse_us("detect-us", arg, &p->detect_us);
	case O_HOP: return parse_us("hop-us", arg, &p->hop_us);
	case O_RAS: return parse_us("ras-us-per-route", arg, &p->ras_us_per_route);
	case O_DSE: return parse_us("ds-us-per-entry", arg, &p->ds_us_per_entry);
	case O_FANOUT: return parse_us("fanout-us-per-client", arg, &p->fanout_us_per_client);
	case O_AGENT: return parse_us("agent-us", arg, &p->agent_us);
	case O_RETRY: return parse_us("retry-us", arg, &p->retry_us);
	case O_RECOMP: return parse_us("recompute-us-per-tree", arg, &p->recompute_us_per_tree);
	case O_LOSS: return sim_exp_double(EXP, "loss", arg, 0, 0.9, &p->loss);
	case O_JITTER: return sim_exp_double(EXP, "jitter", arg, 0, 1, &p->jitter);
	case O_STP:
		if (strcmp(arg, "802.1d") && strcmp(arg, "rstp")) {
			sim_exp_usage(EXP, "--stp: 802.1d or rstp, not '%s'", arg);
			return false;
		}
		p->stp = !strcmp(arg, "rstp") ? SIM_STP_RSTP : SIM_STP_8021D;
		return true;
	case O_SILENT: p->silent = true; return true;
	case O_HELLO: return sim_exp_double(EXP, "hello-s", arg, 0, 3600, &p->hello_s);
	case O_MAXAGE: return sim_exp_double(EXP, "max-age-s", arg, 0, 3600, &p->max_age_s);
	case O_FWD: return sim_exp_double(EXP, "fwd-delay-s", arg, 0, 3600, &p->fwd_delay_s);
	case O_BPDU: return parse_us("bpdu-hop-us", arg, &p->bpdu_hop_us);
	case O_SCOPE:
		if (strcmp(arg, "tree") && strcmp(arg, "sources")) {
			sim_exp_usage(EXP, "--scope: tree or sources, not '%s'", arg);
			return false;
		}
		p->scope = !strcmp(arg, "tree") ? SIM_SCOPE_TREE : SIM_SCOPE_SOURCES;
		return true;
	}
	sim_exp_usage(EXP, "bad option");
	return false;
}

static int parse(int argc, char **argv, struct fo_opts *o)
{
	static const struct option opts[] = {
		{ "topo", required_argument, NULL, O_TOPO },
		{ "scheme", required_argument, NULL, O_SCHEME },
		{ "fail", required_argument, NULL, O_FAIL },
		{ "target", required_argument, NULL, O_TARGET },
		{ "seed", required_argument, NULL, O_SEED },
		{ "runs", required_argument, NULL, O_RUNS },
		{ "json", no_argument, NULL, O_JSON },
		{ "plot", required_argument, NULL, O_PLOT },
		{ "vms-per-server", required_argument, NULL, O_VMS },
		{ "peers", required_argument, NULL, O_PEERS },
		{ "directories", required_argument, NULL, O_DIRS },
		{ "traps", required_argument, NULL, O_TRAPS },
		{ "detect-us", required_argument, NULL, O_DETECT },
		{ "hop-us", required_argument, NULL, O_HOP },
		{ "ras-us-per-route", required_argument, NULL, O_RAS },
		{ "ds-us-per-entry", required_argument, NULL, O_DSE },
		{ "fanout-us-per-client", required_argument, NULL, O_FANOUT },
		{ "agent-us", required_argument, NULL, O_AGENT },
		{ "retry-us", required_argument, NULL, O_RETRY },
		{ "recompute-us-per-tree", required_argument, NULL, O_RECOMP },
		{ "loss", required_argument, NULL, O_LOSS },
		{ "jitter", required_argument, NULL, O_JITTER },
		{ "stp", required_argument, NULL, O_STP },
		{ "silent", no_argument, NULL, O_SILENT },
		{ "hello-s", required_argument, NULL, O_HELLO },
		{ "max-age-s", required_argument, NULL, O_MAXAGE },
		{ "fwd-delay-s", required_argument, NULL, O_FWD },
		{ "bpdu-hop-us", required_argument, NULL, O_BPDU },
		{ "scope", required_argument, NULL, O_SCOPE },
		{ "compare-scopes", no_argument, NULL, O_COMPARE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	sim_fo_defaults(&o->p, SCHEME_PEREGRINE);
	o->runs = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(fo_help, stdout);
			return 0;
		}
		if (c == O_JSON)
			o->json = true;
		else if (c == O_PLOT)
			o->plot = optarg;
		else if (c == O_COMPARE)
			o->compare = true;
		else if (c == '?')
			return sim_exp_usage(EXP, "bad option");
		else if (!parse_one(o, c, optarg))
			return 2;
	}
	if (optind < argc)
		return sim_exp_usage(EXP, "unexpected argument '%s'", argv[optind]);
	if (!o->topo || !o->have_scheme)
		return sim_exp_usage(EXP, "--topo and --scheme are required");
	return -1;
}

static json_t *run_json(const struct sim_fo_params *p, const struct sim_fo_result *r)
{
	json_t *j = json_object();

	JSET(j, "seed", JINT(p->seed));
	JSET(j, "failed", JSTR(r->failed));
	JSET(j, "in_use", JBOOL(r->in_use));
	JSET(j, "recovered", JBOOL(r->recovered));
	JSET(j, "recovery_ms", JREAL((double)r->recovery_ns / 1e6));
	JSET(j, "isolated_servers", JINT(r->isolated_servers));
	JSET(j, "events", JINT(r->events));
	if (p->scheme == SCHEME_L2) {
		JSET(j, "stp", JSTR(p->stp == SIM_STP_RSTP ? "rstp" : "802.1d"));
		JSET(j, "new_ports", JINT(r->new_ports));
		return j;
	}
	JSET(j, "scope", JSTR(p->scope == SIM_SCOPE_TREE ? "tree" : "sources"));
	JSET(j, "p50_ms", JREAL((double)r->p50_ns / 1e6));
	JSET(j, "p99_ms", JREAL((double)r->p99_ns / 1e6));
	JSET(j, "mean_ms", JREAL(r->mean_ns / 1e6));
	JSET(j, "ras_ms", JREAL((double)r->ras_ns / 1e6));
	JSET(j, "directory_ms", JREAL((double)r->directory_ns / 1e6));
	JSET(j, "redundancy_ms", JREAL((double)r->redundancy_ns / 1e6));
	JSET(j, "affected_servers", JINT(r->affected_servers));
	JSET(j, "affected_entries", JINT(r->affected_entries));
	JSET(j, "clients", JINT(r->clients));
	JSET(j, "messages", JINT(r->messages));
	JSET(j, "lost", JINT(r->lost));
	return j;
}

static void print_run(const struct sim_fo_params *p, const struct sim_fo_result *r)
{
	printf("seed %-6llu %-28s ", (unsigned long long)p->seed, r->failed);
	if (!r->in_use) {
		printf("carried no traffic: nothing to recover\n");
		return;
	}
	if (!r->recovered) {
		printf("PARTITIONED: no path left for some switches\n");
		return;
	}
	printf("recovery %.3f ms", (double)r->recovery_ns / 1e6);
	if (p->scheme == SCHEME_L2)
		printf(" (%u port%s to unblock)\n", r->new_ports, r->new_ports == 1 ? "" : "s");
	else
		printf(" (p50 %.3f ms; RAS at %.3f, directory at %.3f; %u servers' primaries "
		       "lost, %u agents told)\n", (double)r->p50_ns / 1e6, (double)r->ras_ns / 1e6,
		       (double)r->directory_ns / 1e6, r->affected_servers, r->clients);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Points on the recovery curve: enough for its shape, few enough to keep
 * the SVG small. */
#define FO_PLOT_POINTS 200

/* One curve's points: evenly spaced ranks, always ending with the last
 * agent. */
static uint32_t cdf_points(const struct sim_fo_result *r, double *x, double *y)
{
	uint32_t n = 0;

	for (uint32_t k = 1; k <= FO_PLOT_POINTS && r->clients; k++) {
		uint32_t i = (uint32_t)(((uint64_t)k * r->clients + FO_PLOT_POINTS - 1) /
					FO_PLOT_POINTS) - 1;

		x[n] = (double)r->agent_ns[i] / 1e6;
		y[n++] = (double)(i + 1) / r->clients;
	}
	if (!n)
		x[n] = (double)r->recovery_ns / 1e6, y[n++] = 1;
	return n;
}

static const char *scope_name(enum sim_fo_scope s)
{
	return s == SIM_SCOPE_TREE ? "tree" : "sources";
}

/* The first run's curve; with --compare-scopes the same failure under the
 * other scope as well. */
static int plot_cdf(const struct fo_opts *o, const struct sim_net *n,
		    const struct sim_fo_params *p, const struct sim_fo_result *r)
{
	double x[2][FO_PLOT_POINTS + 1], y[2][FO_PLOT_POINTS + 1];
	struct sim_plot pl = { .title = "Agents switched to the backup after a failure",
			       .xlabel = "ms since the failure",
			       .ylabel = "share of the agents told", .logx = o->compare };
	static char titles[2][64];
	struct sim_fo_params q = *p;
	struct sim_fo_result other;
	char err[256];
	int ret = 0;

	snprintf(titles[0], sizeof(titles[0]), "%s, scope %s", sim_scheme_name(p->scheme),
		 scope_name(p->scope));
	sim_plot_add(&pl, titles[0], cdf_points(r, x[0], y[0]), x[0], y[0]);
	if (o->compare && p->scheme != SCHEME_L2) {
		q.scope = p->scope == SIM_SCOPE_TREE ? SIM_SCOPE_SOURCES : SIM_SCOPE_TREE;
		if (sim_failover_run(n, &q, &other, err, sizeof(err)))
			return sim_exp_error(EXP, "%s", err);
		snprintf(titles[1], sizeof(titles[1]), "%s, scope %s", sim_scheme_name(q.scheme),
			 scope_name(q.scope));
		sim_plot_add(&pl, titles[1], cdf_points(&other, x[1], y[1]), x[1], y[1]);
		sim_fo_result_free(&other);
	}
	if (sim_plot_write(&pl, o->plot, err, sizeof(err)))
		ret = sim_exp_error(EXP, "%s", err);
	return ret;
}

static int run(const struct fo_opts *o, const struct sim_net *n)
{
	double *rec = xcalloc(o->runs, sizeof(double));
	json_t *runs = json_array();
	int ret = 0;

	for (uint32_t i = 0; i < o->runs && !ret; i++) {
		struct sim_fo_params p = o->p;
		struct sim_fo_result r;
		char err[512];

		p.seed += i;
		if (sim_failover_run(n, &p, &r, err, sizeof(err))) {
			ret = sim_exp_error(EXP, "%s", err);
			break;
		}
		rec[i] = (double)r.recovery_ns / 1e6;
		if (o->json)
			json_array_append_new(runs, run_json(&p, &r));
		else
			print_run(&p, &r);
		if (o->plot && i == 0)
			ret = plot_cdf(o, n, &p, &r);
		sim_fo_result_free(&r);
	}
	if (!ret) {
		qsort(rec, o->runs, sizeof(double), cmp_double);
		if (o->json) {
			json_t *j = o->runs == 1 ? json_incref(json_array_get(runs, 0)) : json_object();

			if (o->runs > 1) {
				JSET(j, "runs", json_incref(runs));
				JSET(j, "recovery_ms", JREAL(rec[(o->runs - 1) / 2]));
				JSET(j, "recovery_ms_max", JREAL(rec[o->runs - 1]));
			}
			JSET(j, "topology", JSTR(n->t->spec));
			JSET(j, "scheme", JSTR(sim_scheme_name(o->p.scheme)));
			JSET(j, "servers", JINT(n->t->nservers));
			json_print(stdout, j);
		} else if (o->runs > 1) {
			printf("median recovery %.3f ms, max %.3f ms over %u runs\n",
			       rec[(o->runs - 1) / 2], rec[o->runs - 1], o->runs);
		}
	}
	json_decref(runs);
	free(rec);
	return ret;
}

int sim_exp_failover(int argc, char **argv)
{
	struct fo_opts o = { 0 };
	struct sim_net n;
	struct topo *t;
	int ret = parse(argc, argv, &o);

	if (ret >= 0)
		return ret;
	if (!(t = sim_exp_net(EXP, o.topo, &n)))
		return 1;
	if (!o.json)
		printf("topology %s (%u servers, %u switches), scheme %s\n", t->spec,
		       t->nservers, t->nswitches, sim_scheme_name(o.p.scheme));
	ret = run(&o, &n);
	sim_net_free(&n);
	topo_free(t);
	return ret;
}
