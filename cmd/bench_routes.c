/* peregrine bench routes: tree pairs for every server of large fabrics, and
 * incremental fail-over updates.  Each case runs in a child process so that
 * its peak RSS is its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/bench.h"
#include "lib/rng.h"
#include "route/failover.h"

enum {
	BR_SAMPLES = 400,		/* links failed one at a time */
	BR_SEED = 2026,
	BR_NFIG = 8,			/* figures per kind of link */
};

#define BR_TREES_TARGET_S 5.0
#define BR_UPDATE_TARGET_US 1000.0

static const char br_fabric[] = "leafspine:spines=8,leaves=100,servers=50,homing=2";

/* figures: [0] seconds, [1] servers, [2] groups, [3] verified, [4] struct MiB,
 * [5] verify seconds */
static int br_trees_case(void *arg, double *fig, int nfig)
{
	struct route_trees *rt;
	struct route_verify v;
	struct route_stats st;
	struct topo *t;
	char err[256];
	uint64_t t0, t1, t2;

	(void)nfig;
	if (topo_from_spec(arg, &t, err, sizeof(err)))
		return 1;
	t0 = mono_ns();
	if (route_trees_new(t, NULL, NULL, &rt, err, sizeof(err)))
		return 1;
	t1 = mono_ns();
	route_verify(rt, &v);
	t2 = mono_ns();
	route_stats(rt, &st);
	fig[0] = (double)(t1 - t0) / 1e9;
	fig[1] = st.servers;
	fig[2] = st.groups;
	fig[3] = v.ok;
	fig[4] = (double)st.bytes / (1 << 20);
	fig[5] = (double)(t2 - t1) / 1e9;
	route_verify_free(&v);
	route_trees_free(rt);
	topo_free(t);
	return 0;
}

/* CPU time of this thread: a figure the other processes on a shared
 * machine do not stretch (wall time is reported too). */
static uint64_t br_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int br_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double br_pct(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(*v), br_cmp);
	return n ? v[(int)(p * (n - 1) + 0.5)] : 0;
}

/* Fail and restore sampled links of one kind; times in microseconds.
 * out: median down, p99 down, median up, p99 up, mean ops per failure,
 * mean tree pairs recomputed per failure, median and p99 CPU time down. */
static void br_sample(struct route_trees *rt, const uint32_t *links, int n, double *out)
{
	double *down = xmalloc(sizeof(double) * (size_t)n), *up = xmalloc(sizeof(double) * (size_t)n);
	double *cpu = xmalloc(sizeof(double) * (size_t)n), ops = 0, rec = 0;
	struct route_delta d;

	route_delta_init(&d);
	for (int i = 0; i < n; i++) {
		uint64_t t0, t1, t2, c0, c1;

		route_delta_reset(&d);
		c0 = br_cpu_ns();
		t0 = mono_ns();
		route_link_down(rt, links[i], &d);
		t1 = mono_ns();
		c1 = br_cpu_ns();
		cpu[i] = (double)(c1 - c0) / 1e3;
		ops += (double)d.nops;
		rec += d.recomputed;
		route_delta_reset(&d);
		route_link_up(rt, links[i], &d);
		t2 = mono_ns();
		down[i] = (double)(t1 - t0) / 1e3;
		up[i] = (double)(t2 - t1) / 1e3;
	}
	out[0] = br_pct(down, n, 0.5);
	out[1] = br_pct(down, n, 0.99);
	out[2] = br_pct(up, n, 0.5);
	out[3] = br_pct(up, n, 0.99);
	out[4] = ops / n;
	out[5] = rec / n;
	out[6] = br_pct(cpu, n, 0.5);
	out[7] = br_pct(cpu, n, 0.99);
	route_delta_free(&d);
	free(down);
	free(up);
	free(cpu);
}

/* figures: [0..7] switch links, [8..15] access links (see br_sample) */
static int br_update_case(void *arg, double *fig, int nfig)
{
	uint32_t fabric[BR_SAMPLES], access[BR_SAMPLES], nf = 0, na = 0;
	struct route_trees *rt;
	struct topo *t;
	struct rng r;
	char err[256];

	(void)nfig;
	if (topo_from_spec(arg, &t, err, sizeof(err)))
		return 1;
	if (route_trees_new(t, NULL, NULL, &rt, err, sizeof(err)))
		return 1;
	rng_seed(&r, BR_SEED);
	while (nf < BR_SAMPLES || na < BR_SAMPLES) {
		uint32_t l = rng_below(&r, t->nlinks);
		bool acc = topo_is_server(t, t->links[l].a) || topo_is_server(t, t->links[l].b);

		if (acc && na < BR_SAMPLES)
			access[na++] = l;
		else if (!acc && nf < BR_SAMPLES)
			fabric[nf++] = l;
	}
	br_sample(rt, fabric, BR_SAMPLES, fig);
	br_sample(rt, access, BR_SAMPLES, fig + BR_NFIG);
	route_trees_free(rt);
	topo_free(t);
	return 0;
}

static int br_trees(const struct bench_opts *o, const char *spec, json_t *cases)
{
	double fig[6] = { 0 };
	uint64_t rss = 0;
	json_t *c = json_object();
	bool ok;

	if (bench_in_child(br_trees_case, (void *)spec, fig, 6, &rss)) {
		json_decref(c);
		fprintf(stderr, "bench routes: %s failed\n", spec);
		return 1;
	}
	ok = fig[0] < BR_TREES_TARGET_S && fig[3] != 0;
	JSET(c, "spec", JSTR(spec));
	JSET(c, "servers", JINT(fig[1]));
	JSET(c, "groups", JINT(fig[2]));
	JSET(c, "seconds", JREAL(fig[0]));
	JSET(c, "verify_seconds", JREAL(fig[5]));
	JSET(c, "trees_ok", JBOOL(fig[3] != 0));
	JSET(c, "structure_mib", JREAL(fig[4]));
	JSET(c, "peak_rss_mib", JREAL((double)rss / (1 << 20)));
	JSET(c, "meets_target", JBOOL(ok));
	json_array_append_new(cases, c);
	if (!o->json)
		printf("  %-50s %6.0f servers  %.3f s  (verify %.3f s, %s)  structure %.1f MiB  "
		       "peak RSS %.1f MiB  %s\n", spec, fig[1], fig[0], fig[5],
		       fig[3] != 0 ? "ok" : "FAILED", fig[4], (double)rss / (1 << 20),
		       ok ? "ok" : "MISSES TARGET");
	return ok ? 0 : 1;
}

static json_t *br_update_json(const double *f)
{
	json_t *j = json_object();

	JSET(j, "down_median_us", JREAL(f[0]));
	JSET(j, "down_p99_us", JREAL(f[1]));
	JSET(j, "up_median_us", JREAL(f[2]));
	JSET(j, "up_p99_us", JREAL(f[3]));
	JSET(j, "ops_mean", JREAL(f[4]));
	JSET(j, "recomputed_mean", JREAL(f[5]));
	JSET(j, "down_cpu_median_us", JREAL(f[6]));
	JSET(j, "down_cpu_p99_us", JREAL(f[7]));
	return j;
}

static int br_updates(const struct bench_opts *o, json_t *res)
{
	double fig[2 * BR_NFIG] = { 0 };
	uint64_t rss = 0;
	json_t *u = json_object();
	bool ok;

	if (bench_in_child(br_update_case, (void *)br_fabric, fig, 2 * BR_NFIG, &rss)) {
		json_decref(u);
		fprintf(stderr, "bench routes: update case failed\n");
		return 1;
	}
	ok = fig[0] < BR_UPDATE_TARGET_US && fig[BR_NFIG] < BR_UPDATE_TARGET_US;
	JSET(u, "spec", JSTR(br_fabric));
	JSET(u, "samples", JINT(BR_SAMPLES));
	JSET(u, "switch_links", br_update_json(fig));
	JSET(u, "access_links", br_update_json(fig + BR_NFIG));
	JSET(u, "peak_rss_mib", JREAL((double)rss / (1 << 20)));
	JSET(u, "meets_target", JBOOL(ok));
	JSET(res, "update", u);
	if (!o->json) {
		printf("  incremental update after one link failure, %s, %d links of each kind:\n",
		       br_fabric, BR_SAMPLES);
		for (int k = 0; k < 2; k++) {
			const double *f = fig + BR_NFIG * k;

			printf("    %-13s down: median %.1f us, p99 %.1f us (CPU: median %.1f us, "
			       "p99 %.1f us); up: median %.1f us, p99 %.1f us;\n"
			       "    %-13s %.0f forwarding ops, %.1f tree pairs recomputed per "
			       "failure\n", k ? "access links" : "switch links", f[0], f[1], f[6],
			       f[7], f[2], f[3], "", f[4], f[5]);
		}
		printf("    peak RSS %.1f MiB  %s\n", (double)rss / (1 << 20),
		       ok ? "ok" : "MISSES TARGET");
	}
	return ok ? 0 : 1;
}

int bench_routes(const struct bench_opts *o, json_t *res)
{
	json_t *cases = json_array();
	int fails = 0;

	if (!o->json)
		printf("routes: tree pairs for every server (target < %.0f s) and fail-over "
		       "updates (target: median < %.0f us)\n", BR_TREES_TARGET_S,
		       BR_UPDATE_TARGET_US);
	fails += br_trees(o, br_fabric, cases);
	fails += br_trees(o, "vl2:da=48,di=48", cases);
	JSET(res, "trees", cases);
	fails += br_updates(o, res);
	return fails ? 1 : 0;
}
