/* sim shuffle: an all-to-all shuffle (every server sends the same amount to
 * every other) run to completion with flow-level max-min fair sharing.
 * Rates are recomputed whenever flows finish; the completion time is set
 * against the ideal, every server NIC saturated from start to end. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/parse.h"
#include "sim/abt.h"

enum shuffle_limits {
	SHUFFLE_MAX_FLOWS = 1u << 20,		/* N (N - 1) */
	SHUFFLE_DEFAULT_MB = 500,		/* per pair, as VL2's testbed shuffle */
	SHUFFLE_MAX_MB = 1u << 20,
};

struct shuffle_result {
	uint32_t servers;
	uint64_t flows, unreachable;
	uint32_t events;
	double seconds, ideal_seconds, efficiency, goodput_gbps, first_done_s;
};

/* The ideal: each server's bytes out over its NIC capacity out, and in
 * likewise; the busiest server sets the time. */
static double ideal_seconds(const struct topo *t, const uint64_t *out_flows,
			    const uint64_t *in_flows, double mbit)
{
	double worst = 0;

	for (uint32_t s = 0; s < t->nservers; s++) {
		uint32_t node = t->servers[s];
		double cap = 0;

		for (uint32_t p = 0; p < t->nodes[node].degree; p++)
			cap += t->links[topo_port(t, node, p)->link].mbps;
		if (cap > 0)
			worst = fmax(worst, mbit * (double)MAX(out_flows[s], in_flows[s]) / cap);
	}
	return worst;
}

/* Advance the fluid model from one set of rates to the next finish. */
static uint32_t step(const struct maxmin *all, const uint32_t *active, uint32_t nactive,
		     struct maxmin *m, double *rate, double *left, double *now)
{
	double dt = INFINITY;
	uint32_t done = 0;

	maxmin_clear(m);
	for (uint32_t i = 0; i < nactive; i++) {
		uint32_t f = active[i];

		maxmin_add_flow(m, &all->res[all->off[f]], all->off[f + 1] - all->off[f]);
	}
	maxmin_solve(m, rate, NULL);
	for (uint32_t i = 0; i < nactive; i++)
		dt = fmin(dt, left[active[i]] / rate[i]);
	*now += dt;
	for (uint32_t i = 0; i < nactive; i++) {
		left[active[i]] -= rate[i] * dt;
		/* Flows within a hair of the first finish end with it. */
		if (left[active[i]] <= 1e-9 * rate[i] * (*now))
			done++;
	}
	return done;
}

static int run_shuffle(struct sim_paths *n, double mbit, struct shuffle_result *res)
{
	const struct topo *t = n->t;
	uint64_t *out = xcalloc(t->nservers, sizeof(*out)), *in = xcalloc(t->nservers, sizeof(*in));
	uint32_t *active, nactive;
	double *left, *rate, now = 0;
	struct maxmin all, m;
	int ret;

	memset(res, 0, sizeof(*res));
	if ((ret = sim_all_to_all(n, &all, &res->unreachable)))
		goto out;
	nactive = all.nflows;
	active = xmalloc(sizeof(*active) * (nactive ? nactive : 1));
	left = xmalloc(sizeof(*left) * (nactive ? nactive : 1));
	rate = xmalloc(sizeof(*rate) * (nactive ? nactive : 1));
	for (uint32_t f = 0; f < nactive; f++) {
		active[f] = f;
		left[f] = mbit;
	}
	/* Per server volumes, from the flows' first and last links. */
	for (uint32_t d = 0, f = 0; d < t->nservers; d++)
		for (uint32_t s = 0; s < t->nservers; s++)
			if (s != d && !n->server_dead[s] && !n->server_dead[d]) {
				out[s]++;
				in[d]++;
				f++;
			}
	res->flows = all.nflows;
	maxmin_init(&m, all.nres, all.cap);
	while (nactive) {
		uint32_t keep = 0;

		step(&all, active, nactive, &m, rate, left, &now);
		res->events++;
		for (uint32_t i = 0; i < nactive; i++)
			if (left[active[i]] > 1e-9 * rate[i] * now)
				active[keep++] = active[i];
		if (res->events == 1)
			res->first_done_s = now;
		nactive = keep;
	}
	res->servers = n->live_servers;
	res->seconds = now;
	res->ideal_seconds = ideal_seconds(t, out, in, mbit);
	res->efficiency = now > 0 ? res->ideal_seconds / now : 0;
	res->goodput_gbps = now > 0 ? mbit * (double)res->flows / now / 1000 : 0;
	maxmin_free(&m);
	free(active);
	free(left);
	free(rate);
out:
	maxmin_free(&all);
	free(out);
	free(in);
	return ret;
}

static const char shuffle_help[] =
	"Usage: peregrine sim shuffle --topo SPEC --scheme S [--routing R] [--size MB]\n"
	"                             [--fail servers|switches|links --rate R]\n"
	"                             [--seed N] [--link-mbps M] [--json]\n"
	"\n"
	"All-to-all shuffle: every server sends MB megabytes to every other, each\n"
	"flow on one path as the scheme routes, links shared max-min fairly and\n"
	"rates recomputed as flows finish.  Efficiency is the ideal completion\n"
	"time (every server NIC saturated throughout) over the simulated one.\n"
	"\n"
	"  --topo SPEC     a topology (peregrine topo --help); at most 1,024 servers\n"
	"  --scheme S      vl2 (VLB), l2, spain, netlord, bcube, peregrine,\n"
	"                  peregrine-dual\n"
	"  --routing R     override the path choice: ecmp (shortest paths, random\n"
	"                  next hop), vlb, two-level, tree, spain, bsr, trees\n"
	"  --size MB       per server pair (default 500, as VL2's testbed)\n"
	"  --fail KIND     fail random servers, switches or links first (as sim abt)\n"
	"  --rate R        the fraction failed, 0 .. 1 (round(R * population))\n"
	"  --seed N        failures and random path choices (default 1)\n"
	"  --link-mbps M   every link at M Mbit/s instead of the builder's rates\n"
	"                  (what a lab with links.mbps: M shapes them to)\n"
	"  --json          machine-readable: efficiency, seconds, ideal_seconds, ...\n";

static int shuffle_usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "peregrine sim shuffle: %s%s%s\nTry 'peregrine sim shuffle --help'.\n",
		msg, arg ? ": " : "", arg ? arg : "");
	return 2;
}

struct shuffle_opts {
	const char *topo;
	int scheme, routing, fail;
	double rate;
	uint32_t mb;
	uint64_t seed;
	uint32_t link_mbps;	/* 0: the builder's rates */
	bool json;
};

static int parse_shuffle(int argc, char **argv, struct shuffle_opts *o)
{
	static const struct option opts[] = {
		{ "topo", required_argument, NULL, 't' }, { "scheme", required_argument, NULL, 's' },
		{ "routing", required_argument, NULL, 'r' }, { "size", required_argument, NULL, 'z' },
		{ "seed", required_argument, NULL, 'S' }, { "json", no_argument, NULL, 'j' },
		{ "link-mbps", required_argument, NULL, 'L' },
		{ "fail", required_argument, NULL, 'f' }, { "rate", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' }, { 0 }
	};
	int c;

	*o = (struct shuffle_opts){ .scheme = -1, .mb = SHUFFLE_DEFAULT_MB, .seed = 1 };
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't': o->topo = optarg; break;
		case 'j': o->json = true; break;
		case 'h': fputs(shuffle_help, stdout); return 1;
		case 's':
			if ((o->scheme = sim_scheme_parse(optarg)) < 0)
				return shuffle_usage_error("unknown scheme", optarg);
			break;
		case 'r':
			if ((o->routing = sim_routing_parse(optarg)) < 0)
				return shuffle_usage_error("unknown routing", optarg);
			break;
		case 'z':
			if (!parse_u32(optarg, SHUFFLE_MAX_MB, &o->mb) || !o->mb)
				return shuffle_usage_error("--size takes 1 .. 1048576 MB", optarg);
			break;
		case 'S':
			if (!parse_u64(optarg, UINT64_MAX, &o->seed))
				return shuffle_usage_error("bad --seed", optarg);
			break;
		case 'L':
			if (!parse_u32(optarg, SIM_MAX_LINK_MBPS, &o->link_mbps) || !o->link_mbps)
				return shuffle_usage_error("--link-mbps takes 1 .. 1000000", optarg);
			break;
		case 'f':
			if ((o->fail = sim_fail_parse(optarg)) <= 0)
				return shuffle_usage_error("--fail takes servers, switches or links",
							   optarg);
			break;
		case 'R':
			if (!parse_double(optarg, &o->rate) || o->rate < 0 || o->rate > 1)
				return shuffle_usage_error("--rate takes a fraction 0 .. 1", optarg);
			break;
		default:
			return shuffle_usage_error("bad option", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return shuffle_usage_error("unexpected argument", argv[optind]);
	if (!o->topo || o->scheme < 0)
		return shuffle_usage_error("--topo and --scheme are required", NULL);
	if (o->rate > 0 && o->fail == SIM_FAIL_NONE)
		return shuffle_usage_error("--rate needs --fail", NULL);
	return 0;
}

static void report(const struct shuffle_opts *o, const struct sim_paths *n,
		   const struct shuffle_result *r)
{
	const struct topo *t = n->t;

	if (o->json) {
		json_t *j = json_object();

		JSET(j, "topo", JSTR(t->spec));
		JSET(j, "scheme", JSTR(sim_scheme_name((enum sim_scheme)o->scheme)));
		JSET(j, "routing", JSTR(sim_routing_name(n->routing)));
		JSET(j, "servers", JINT(r->servers));
		JSET(j, "failed", JINT(n->failed));
		JSET(j, "flows", JINT(r->flows));
		JSET(j, "unreachable_pairs", JINT(r->unreachable));
		JSET(j, "size_mb", JINT(o->mb));
		JSET(j, "seconds", JREAL(r->seconds));
		JSET(j, "ideal_seconds", JREAL(r->ideal_seconds));
		JSET(j, "efficiency", JREAL(r->efficiency));
		JSET(j, "goodput_gbps", JREAL(r->goodput_gbps));
		JSET(j, "first_done_s", JREAL(r->first_done_s));
		JSET(j, "events", JINT(r->events));
		JSET(j, "ideal_gbps", JREAL(r->ideal_seconds > 0
					    ? o->mb * 8.0 * (double)r->flows / r->ideal_seconds / 1000 : 0));
		if (o->link_mbps)
			JSET(j, "link_mbps", JINT(o->link_mbps));
		json_print(stdout, j);
		return;
	}
	printf("topology         %s (%u servers)\n", t->spec, r->servers);
	printf("scheme           %s, %s routing\n", sim_scheme_name((enum sim_scheme)o->scheme),
	       sim_routing_name(n->routing));
	printf("shuffle          %llu flows of %u MB (%llu pairs without a path)\n",
	       (unsigned long long)r->flows, o->mb, (unsigned long long)r->unreachable);
	printf("completion       %.2f s (first flow done at %.2f s, %u rate changes)\n",
	       r->seconds, r->first_done_s, r->events);
	printf("ideal            %.2f s (every server NIC saturated)\n", r->ideal_seconds);
	printf("efficiency       %.1f %%\n", 100 * r->efficiency);
	printf("goodput          %.2f Gbit/s aggregate\n", r->goodput_gbps);
}

int sim_exp_shuffle(int argc, char **argv)
{
	struct shuffle_opts o;
	struct shuffle_result r;
	struct sim_paths n;
	struct topo *t;
	char err[512];
	int ret;

	if ((ret = parse_shuffle(argc, argv, &o)))
		return ret == 1 ? 0 : ret;
	if (topo_from_spec(o.topo, &t, err, sizeof(err))) {
		fprintf(stderr, "peregrine: %s\n", err);
		return 1;
	}
	if (o.link_mbps)
		sim_topo_set_link_mbps(t, o.link_mbps);
	if ((uint64_t)t->nservers * (t->nservers - 1) > SHUFFLE_MAX_FLOWS) {
		fprintf(stderr, "peregrine: %u servers make too many shuffle flows (at most %u)\n",
			t->nservers, SHUFFLE_MAX_FLOWS);
		topo_free(t);
		return 1;
	}
	if (sim_paths_init(&n, t, (enum sim_scheme)o.scheme, (enum sim_routing)o.routing,
			 (enum sim_fail_kind)o.fail, o.rate, o.seed, err, sizeof(err))) {
		fprintf(stderr, "peregrine: %s\n", err);
		topo_free(t);
		return 1;
	}
	ret = run_shuffle(&n, o.mb * 8.0, &r);
	if (!ret)
		report(&o, &n, &r);
	else
		fprintf(stderr, "peregrine: shuffle failed (%s)\n", strerror(-ret));
	sim_paths_free(&n);
	topo_free(t);
	return ret ? 1 : 0;
}
