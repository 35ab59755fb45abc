/* peregrine bench sim_abt: `sim abt` on bcube:n=8,k=3 (4,096 servers,
 * 16.7M flows), each run in a child process so that its peak RSS is its
 * own.  Target: under 60 s.  --runs N repeats it and reports the median. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/bench.h"
#include "lib/parse.h"
#include "sim/abt.h"

#define SIM_ABT_BENCH_SPEC "bcube:n=8,k=3"
#define SIM_ABT_TARGET_S 60.0
#define SIM_ABT_MAX_RUNS 9

/* figures: [0] paths s, [1] max-min s, [2] ABT Gbit/s, [3] flows, [4] formula */
static int abt_case(void *arg, double *fig, int nfig)
{
	struct sim_abt_result r;
	struct topo *t;
	char err[256];

	(void)arg;
	(void)nfig;
	if (topo_from_spec(SIM_ABT_BENCH_SPEC, &t, err, sizeof(err)) ||
	    sim_abt_run(t, SCHEME_BCUBE, SIM_ROUTE_DEFAULT, SIM_FAIL_NONE, 0, 1, &r, err,
			sizeof(err))) {
		fprintf(stderr, "bench sim_abt: %s\n", err);
		return 1;
	}
	fig[0] = r.build_s;
	fig[1] = r.solve_s;
	fig[2] = r.abt_gbps;
	fig[3] = (double)r.flows;
	fig[4] = sim_bcube_abt_formula(t);
	topo_free(t);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int bench_sim_abt(const struct bench_opts *o, json_t *res)
{
	double total[SIM_ABT_MAX_RUNS], fig[5] = { 0 }, med;
	uint64_t rss = 0, max_rss = 0;
	json_t *runs = json_array();
	uint32_t nruns = 1;
	bool ok;

	if (o->argc >= 2 && !strcmp(o->argv[0], "--runs") &&
	    !parse_u32(o->argv[1], SIM_ABT_MAX_RUNS, &nruns))
		nruns = 0;
	if (!nruns) {
		fprintf(stderr, "bench sim_abt: --runs takes 1 .. %d\n", SIM_ABT_MAX_RUNS);
		json_decref(runs);
		return 1;
	}
	if (!o->json)
		printf("sim_abt: all-to-all ABT on %s (target: under %.0f s)\n",
		       SIM_ABT_BENCH_SPEC, SIM_ABT_TARGET_S);
	for (uint32_t i = 0; i < nruns; i++) {
		json_t *c = json_object();

		if (bench_in_child(abt_case, NULL, fig, 5, &rss)) {
			json_decref(runs);
			json_decref(c);
			return 1;
		}
		total[i] = fig[0] + fig[1];
		max_rss = MAX(max_rss, rss);
		JSET(c, "paths_s", JREAL(fig[0]));
		JSET(c, "maxmin_s", JREAL(fig[1]));
		JSET(c, "total_s", JREAL(total[i]));
		JSET(c, "peak_rss_mib", JREAL((double)rss / (1 << 20)));
		json_array_append_new(runs, c);
		if (!o->json)
			printf("  run %u: %.0f flows  paths %.2f s  max-min %.2f s  total %.2f s  "
			       "peak RSS %.0f MiB  ABT %.1f Gbit/s (formula %.1f)\n", i + 1,
			       fig[3], fig[0], fig[1], total[i], (double)rss / (1 << 20), fig[2],
			       fig[4]);
	}
	qsort(total, nruns, sizeof(total[0]), cmp_double);
	med = total[nruns / 2];
	ok = med < SIM_ABT_TARGET_S && fabs(fig[2] - fig[4]) < 1e-6 * fig[4];
	JSET(res, "spec", JSTR(SIM_ABT_BENCH_SPEC));
	JSET(res, "flows", JINT(fig[3]));
	JSET(res, "abt", JREAL(fig[2]));
	JSET(res, "formula", JREAL(fig[4]));
	JSET(res, "median_total_s", JREAL(med));
	JSET(res, "peak_rss_mib", JREAL((double)max_rss / (1 << 20)));
	JSET(res, "meets_target", JBOOL(ok));
	JSET(res, "runs", runs);
	if (!o->json)
		printf("  median %.2f s over %u run%s, peak RSS %.0f MiB  %s\n", med, nruns,
		       nruns == 1 ? "" : "s", (double)max_rss / (1 << 20),
		       ok ? "ok" : "MISSES TARGET");
	return ok ? 0 : 1;
}
