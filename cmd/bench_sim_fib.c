/* peregrine bench sim_fib: `sim fib` for 1,000,000 VMs on thousands of
 * servers, every scheme, each in its own process so that its peak RSS is
 * its own.  Target: under 10 s per scheme. */
#include <stdio.h>
#include <string.h>

#include "cmd/bench.h"
#include "sim/fib.h"

#define SIM_FIB_BENCH_TARGET_S 10.0

struct fib_case {
	const char *spec;
	uint32_t vms_per_server;	/* 1,000,000 VMs on the topology */
	enum sim_scheme scheme;
};

/* figures: [0] build s, [1] model s, [2] servers, [3] fib_max, [4] fits,
 * [5] max_vms (-1: unbounded) */
static int fib_case(void *arg, double *fig, int nfig)
{
	const struct fib_case *c = arg;
	struct sim_fib_params p = { .scheme = c->scheme, .vms_per_server = c->vms_per_server,
				    .heavy = SIM_FIB_DEFAULT_HEAVY, .seed = 1 };
	struct sim_fib_result r;
	struct sim_net n;
	struct topo *t;
	char err[512];
	uint64_t t0, t1, t2;

	(void)nfig;
	t0 = mono_ns();
	if (topo_from_spec(c->spec, &t, err, sizeof(err)) || sim_net_init(&n, t, err, sizeof(err))) {
		fprintf(stderr, "bench sim_fib: %s\n", err);
		return 1;
	}
	t1 = mono_ns();
	if (sim_fib_model(&n, &p, &r, err, sizeof(err))) {
		fprintf(stderr, "bench sim_fib: %s\n", err);
		return 1;
	}
	t2 = mono_ns();
	fig[0] = (double)(t1 - t0) / 1e9;
	fig[1] = (double)(t2 - t1) / 1e9;
	fig[2] = t->nservers;
	fig[3] = (double)r.fib_max;
	fig[4] = r.fits;
	fig[5] = r.max_vms == UINT64_MAX ? -1 : (double)r.max_vms;
	sim_fib_result_free(&r);
	sim_net_free(&n);
	topo_free(t);
	return 0;
}

int bench_sim_fib(const struct bench_opts *o, json_t *res)
{
	/* 8,000 servers x 125 VMs; BCube with 10,000 servers x 100 VMs. */
	static const char *const clos = "vl2:da=40,di=40,per_tor=20";
	static const char *const bcube = "bcube:n=10,k=3";
	json_t *cases = json_array();
	int fails = 0;

	if (!o->json)
		printf("sim_fib: sim fib for 1,000,000 VMs, every scheme (target: under %.0f s "
		       "each)\n", SIM_FIB_BENCH_TARGET_S);
	for (int s = 0; s < SCHEME_COUNT; s++) {
		struct fib_case c = { s == SCHEME_BCUBE ? bcube : clos,
				      s == SCHEME_BCUBE ? 100 : 125, s };
		double fig[6] = { 0 };
		uint64_t rss = 0;
		json_t *j = json_object();
		bool ok;

		if (bench_in_child(fib_case, &c, fig, 6, &rss)) {
			fails++;
			json_decref(j);
			continue;
		}
		ok = fig[0] + fig[1] < SIM_FIB_BENCH_TARGET_S;
		fails += !ok;
		JSET(j, "scheme", JSTR(sim_scheme_name(s)));
		JSET(j, "spec", JSTR(c.spec));
		JSET(j, "servers", JINT(fig[2]));
		JSET(j, "vms", JINT(fig[2] * c.vms_per_server));
		JSET(j, "build_s", JREAL(fig[0]));
		JSET(j, "model_s", JREAL(fig[1]));
		JSET(j, "total_s", JREAL(fig[0] + fig[1]));
		JSET(j, "peak_rss_mib", JREAL((double)rss / (1 << 20)));
		JSET(j, "fib_max", JINT(fig[3]));
		JSET(j, "fits", JBOOL(fig[4] != 0));
		JSET(j, "max_vms", fig[5] < 0 ? json_null() : JINT(fig[5]));
		JSET(j, "meets_target", JBOOL(ok));
		json_array_append_new(cases, j);
		if (!o->json)
			printf("  %-15s %-27s %6.0f servers  %.3f s (build %.3f, model %.3f)  "
			       "peak RSS %.1f MiB  fib_max %.0f %s  %s\n", sim_scheme_name(s), c.spec,
			       fig[2], fig[0] + fig[1], fig[0], fig[1], (double)rss / (1 << 20),
			       fig[3], fig[4] ? "fits" : "overflows", ok ? "ok" : "MISSES TARGET");
	}
	JSET(res, "cases", cases);
	return fails ? 1 : 0;
}
