/* peregrine bench sim_chaos: `sim chaos --fail spine|link` at scale
 * (docs/chaos.md, "Scale"): the real directory, RAS, switchd and agent
 * cores of 10,000 servers with 100,000 VMs (--million: 31,250 servers with
 * 1,000,000 VMs), one spine failure and one leaf-spine link failure, each
 * run in a child process so that its peak RSS is its own.  Targets: every
 * affected agent switched within 10 ms of simulated time, under 16 GiB.
 * The daemons' work is charged (the RAS's measured CPU time, switchd's
 * netlink entries, the directory's datagrams); --no-costs charges none. */
#include <stdio.h>
#include <string.h>

#include "cmd/bench.h"
#include "sim/chaos.h"

#define CHAOS_BENCH_100K "leafspine:spines=16,leaves=250,servers=40,homing=2"
#define CHAOS_BENCH_1M "leafspine:spines=16,leaves=626,servers=50,homing=2"
#define CHAOS_BENCH_SWITCH_MS 10.0
#define CHAOS_BENCH_RSS_MIB (16.0 * 1024)

struct chaos_case {
	const char *topo;
	uint32_t vms;		/* per server */
	int fail;
	bool no_costs;		/* --no-costs: the daemons' work takes no time */
};

enum { F_AFFECTED, F_SWITCHED, F_P50, F_P99, F_MAX, F_MSGS, F_PUSHES, F_PDG, F_SECS, F_ENTRIES,
       F_MACS, F_RAS_CPU, F_NL_MAX, F_DIR_SEND, F_COUNT };

static int chaos_case(void *arg, double *fig, int nfig)
{
	const struct chaos_case *k = arg;
	struct chaos_opts o = { .topo = k->topo, .seed = 1, .vms_per_server = k->vms,
				.fail = k->fail, .no_costs = k->no_costs };
	struct chaos_result r;
	uint64_t t0 = mono_ns();
	char err[256];

	(void)nfig;
	if (chaos_run(&o, &r, err, sizeof(err))) {
		fprintf(stderr, "bench sim_chaos: %s\n", err);
		return 1;
	}
	fig[F_AFFECTED] = (double)r.scale.agents_affected;
	fig[F_SWITCHED] = (double)r.scale.agents_switched;
	fig[F_P50] = (double)r.scale.switch_ns_p50 / 1e6;
	fig[F_P99] = (double)r.scale.switch_ns_p99 / 1e6;
	fig[F_MAX] = (double)r.scale.switch_ns_max / 1e6;
	fig[F_MSGS] = (double)r.scale.messages;
	fig[F_PUSHES] = (double)r.scale.pushes;
	fig[F_PDG] = (double)r.scale.push_datagrams;
	fig[F_SECS] = (double)(mono_ns() - t0) / 1e9;
	fig[F_ENTRIES] = (double)r.scale.entries;
	fig[F_MACS] = (double)r.scale.macs_changed;
	fig[F_RAS_CPU] = (double)r.scale.ras_cpu_ns / 1e6;
	fig[F_NL_MAX] = (double)r.scale.netlink_ns_max / 1e6;
	fig[F_DIR_SEND] = (double)r.scale.dir_send_ns / 1e6;
	return 0;
}

static bool one(const struct bench_opts *o, const struct chaos_case *k, json_t *res)
{
	double fig[F_COUNT] = { 0 }, rss_mib;
	const char *what = k->fail == CHAOS_FAIL_SPINE ? "spine" : "link";
	json_t *c = json_object();
	uint64_t rss = 0;
	bool ok;

	if (bench_in_child(chaos_case, (void *)k, fig, F_COUNT, &rss)) {
		json_decref(c);
		return false;
	}
	rss_mib = (double)rss / (1 << 20);
	ok = fig[F_AFFECTED] > 0 && fig[F_SWITCHED] == fig[F_AFFECTED] &&
	     fig[F_MAX] <= CHAOS_BENCH_SWITCH_MS && rss_mib < CHAOS_BENCH_RSS_MIB;
	JSET(c, "topo", JSTR(k->topo));
	JSET(c, "vms_per_server", JINT(k->vms));
	JSET(c, "fail", JSTR(what));
	JSET(c, "costs", JBOOL(!k->no_costs));
	JSET(c, "entries", JINT(fig[F_ENTRIES]));
	JSET(c, "macs_changed", JINT(fig[F_MACS]));
	JSET(c, "ras_cpu_ms", JREAL(fig[F_RAS_CPU]));
	JSET(c, "netlink_ms_max", JREAL(fig[F_NL_MAX]));
	JSET(c, "dir_send_ms", JREAL(fig[F_DIR_SEND]));
	JSET(c, "agents_affected", JINT(fig[F_AFFECTED]));
	JSET(c, "agents_switched", JINT(fig[F_SWITCHED]));
	JSET(c, "switch_ms_p50", JREAL(fig[F_P50]));
	JSET(c, "switch_ms_p99", JREAL(fig[F_P99]));
	JSET(c, "switch_ms_max", JREAL(fig[F_MAX]));
	JSET(c, "messages", JINT(fig[F_MSGS]));
	JSET(c, "pushes", JINT(fig[F_PUSHES]));
	JSET(c, "push_datagrams", JINT(fig[F_PDG]));
	JSET(c, "seconds", JREAL(fig[F_SECS]));
	JSET(c, "peak_rss_mib", JREAL(rss_mib));
	JSET(c, "meets_target", JBOOL(ok));
	json_array_append_new(res, c);
	if (!o->json)
		printf("  %s, %u VMs a server, %s, %s: %.0f of %.0f agents switched, p50 %.3f p99 %.3f "
		       "max %.3f ms; %.0f datagrams, %.0f pushes in %.0f; %.1f s, %.0f MiB  %s\n",
		       k->topo, k->vms, what, k->no_costs ? "no costs" : "costs charged",
		       fig[F_SWITCHED], fig[F_AFFECTED], fig[F_P50],
		       fig[F_P99], fig[F_MAX], fig[F_MSGS], fig[F_PUSHES], fig[F_PDG], fig[F_SECS],
		       rss_mib, ok ? "ok" : "MISSES TARGET");
	return ok;
}

int bench_sim_chaos(const struct bench_opts *o, json_t *res)
{
	bool million = false, no_costs = false;
	struct chaos_case k;
	json_t *cases;
	bool ok = true;

	for (int i = 0; i < o->argc; i++) {
		if (!strcmp(o->argv[i], "--million")) {
			million = true;
		} else if (!strcmp(o->argv[i], "--no-costs")) {
			no_costs = true;
		} else {
			fprintf(stderr, "bench sim_chaos: unknown option '%s' (--million, --no-costs)\n",
				o->argv[i]);
			return 1;
		}
	}
	k = (struct chaos_case){ million ? CHAOS_BENCH_1M : CHAOS_BENCH_100K, million ? 32 : 10,
				 CHAOS_FAIL_SPINE, no_costs };
	cases = json_array();
	if (!o->json)
		printf("sim_chaos: one failure at %s VMs (targets: every affected agent switched "
		       "within %.0f ms simulated, under %.0f GiB)\n", million ? "1,000,000" :
		       "100,000", CHAOS_BENCH_SWITCH_MS, CHAOS_BENCH_RSS_MIB / 1024);
	ok &= one(o, &k, cases);
	k.fail = CHAOS_FAIL_LINK;
	ok &= one(o, &k, cases);
	JSET(res, "cases", cases);
	JSET(res, "meets_target", JBOOL(ok));
	return ok ? 0 : 1;
}
