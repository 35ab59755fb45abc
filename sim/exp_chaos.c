/* peregrine sim chaos: the real cores under faults, seed by seed
 * (docs/chaos.md). */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "sim/chaos.h"
#include "sim/exp.h"

#define EXP "chaos"
#define CHAOS_DEFAULT_TOPO "leafspine:spines=2,leaves=4,servers=2,homing=2"

static const char chaos_help[] =
	"Usage: peregrine sim chaos [--topo SPEC] [--seed S] [--seeds N | --for SECONDS]\n"
	"                           [--fault-ms MS] [--settle-ms MS] [--vms-per-server V]\n"
	"                           [--vdcs K] [--partition-ms MS] [--faults LIST]\n"
	"                           [--strict-loops] [--until-violation] [--no-faults]\n"
	"                           [--trace] [--json]\n"
	"       peregrine sim chaos --topo SPEC --fail spine|link [--peers P] [--seed S]\n"
	"                           [--vms-per-server V] [--vdcs K] [--trace] [--json]\n"
	"\n"
	"Runs the real directory, RAS, switchd and agent cores of a whole data center\n"
	"in one process, on a simulated clock, management network and fabric, under\n"
	"faults drawn from the seed (their rates too): message loss, duplication,\n"
	"reordering and delay, partitions (also one-way), crashes and restarts of\n"
	"every daemon (the directory from its store, losing unsynced writes to a\n"
	"power loss), link and switch failures, VM migrations, garbage datagrams.\n"
	"Traffic flows between random VMs throughout.  Checked: no packet reaches\n"
	"another VM than its (VDC, IP) names, no loop, no acknowledgement before the\n"
	"store write, and once the faults stop and the fabric settles: every switch\n"
	"table equals a fresh computation, the agents' availability bits agree with\n"
	"the RAS, no acknowledged registration is lost, every same-VDC pair delivers.\n"
	"Then one link fails in the settled fabric: every pair must deliver again, and\n"
	"the time until every pair whose source holds an entry delivers is reported.\n"
	"A run stops at its first violation.  The same seed gives the same run: each\n"
	"prints the hash of its event trace.  Exit status 1 when a seed fails.\n"
	"\n"
	"Options:\n"
	"  --topo SPEC          topology (default " CHAOS_DEFAULT_TOPO ")\n"
	"  --seed S             first seed (default 1)\n"
	"  --seeds N            seeds S, S+1, ... (default 1)\n"
	"  --for SECONDS        instead: seeds from S on until SECONDS of wall time pass\n"
	"  --fault-ms MS        faults for MS of simulated time (default 20000)\n"
	"  --settle-ms MS       then MS to converge before the final checks (default 10000)\n"
	"  --vms-per-server V   default 2\n"
	"  --vdcs K             tenants, VMs assigned round-robin (default 3)\n"
	"  --partition-ms MS    longest partition (default 3000)\n"
	"  --faults LIST        the kinds of fault, comma-separated: all (default),\n"
	"                       or a list, or -LIST for all but those: loss, dup,\n"
	"                       reorder, partition, crash, tear, link, switch,\n"
	"                       migrate, garbage\n"
	"  --strict-loops       a loop while the RAS reprograms the fabric (it has not\n"
	"                       reported every switch programmed) or on a tree it\n"
	"                       withdrew is a violation too; by default it is counted\n"
	"  --until-violation    stop after the first seed that fails\n"
	"  --no-faults          traffic only\n"
	"  --trace              a readable trace of every event on stderr (one seed)\n"
	"  --json               seeds_run, violations [{seed, invariant, sim_time_ms,\n"
	"                       detail}], events, trace_hashes, seconds, failover_ms\n"
	"                       (per passing seed: the quiet failure's fail-over time)\n"
	"\n"
	"Scale (--fail): the same cores, no faults and no invariant checks, on a\n"
	"fabric of up to 1,000,000 VMs: every VM looks up P peers of its VDC, then\n"
	"one spine (spine) or one leaf-spine link (link), chosen by the seed, fails.\n"
	"Reported: how long each agent holding an entry toward a server whose MAC\n"
	"the RAS withdrew takes to switch trees (p50, p99, max of simulated time),\n"
	"the datagrams sent and the directory's pushes after the failure, wall\n"
	"time and peak memory.\n"
	"  --fail spine|link    one failure at 1.5 s of simulated time; one seed\n"
	"  --peers P            destinations each VM looks up (default 4, at most 64)\n"
	"  --no-costs           charge no time for the daemons' work (by default the\n"
	"                       RAS's measured CPU time, switchd's netlink entries and\n"
	"                       the directory's datagrams are charged: each daemon is\n"
	"                       one thread, its datagrams leave when its work is done)\n"
	"  --netlink-rate N     switchd's entries per second (default 80000, from\n"
	"                       `peregrine bench lab`)\n"
	"  --dir-send-ns N      the directory's time per datagram (default 1940, from\n"
	"                       `peregrine bench directory`'s fan-out)\n"
	"  --json               also agents_affected, agents_switched, switch_ms_p50,\n"
	"                       switch_ms_p99, switch_ms_max, messages, pushes,\n"
	"                       push_datagrams, entries, macs_changed, peak_rss_mib\n";

enum {
	O_TOPO = 256, O_SEED, O_SEEDS, O_FOR, O_FAULT, O_SETTLE, O_VMS, O_VDCS, O_QUIET,
	O_TRACE, O_JSON, O_PART, O_FAULTS, O_STRICT, O_UNTIL, O_FAIL, O_PEERS,
	O_NO_COSTS, O_NETLINK_RATE, O_DIR_SEND_NS,
};

struct chaos_cli {
	struct chaos_opts o;
	uint64_t seed;
	uint32_t seeds, for_s;
	bool json, trace, until;
};

/* "loss,crash" or "all" or "-switch,link" (all but those). */
static bool parse_faults(const char *arg, uint32_t *mask)
{
	char buf[256], *save = NULL;
	bool minus = arg[0] == '-';
	uint32_t m = 0;

	if (!strcmp(arg, "all")) {
		*mask = (1u << CHAOS_F_COUNT) - 1;
		return true;
	}
	snprintf(buf, sizeof(buf), "%s", arg + minus);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int f = 0;

		while (f < CHAOS_F_COUNT && strcmp(t, chaos_fault_name(f)))
			f++;
		if (f == CHAOS_F_COUNT) {
			sim_exp_usage(EXP, "--faults: no fault kind '%s'", t);
			return false;
		}
		m |= 1u << f;
	}
	if (!m) {
		sim_exp_usage(EXP, "--faults: empty list");
		return false;
	}
	*mask = minus ? ((1u << CHAOS_F_COUNT) - 1) & ~m : m;
	if (!*mask) {
		sim_exp_usage(EXP, "--faults: every kind left out (use --no-faults)");
		return false;
	}
	return true;
}

static bool parse_one(struct chaos_cli *a, int c, const char *arg)
{
	switch (c) {
	case O_TOPO: a->o.topo = arg; return true;
	case O_SEED: return sim_exp_u64(EXP, "--seed", arg, UINT64_MAX - CHAOS_MAX_SEEDS, &a->seed);
	case O_SEEDS:
		if (!sim_exp_u32(EXP, "--seeds", arg, CHAOS_MAX_SEEDS, &a->seeds))
			return false;
		if (!a->seeds)
			sim_exp_usage(EXP, "--seeds: at least 1");
		return a->seeds > 0;
	case O_FOR:
		if (!sim_exp_u32(EXP, "--for", arg, 7 * 24 * 3600, &a->for_s))
			return false;
		if (!a->for_s)
			sim_exp_usage(EXP, "--for: at least 1 second");
		return a->for_s > 0;
	case O_FAULT: return sim_exp_u32(EXP, "--fault-ms", arg, CHAOS_MAX_MS, &a->o.fault_ms);
	case O_SETTLE:
		if (!sim_exp_u32(EXP, "--settle-ms", arg, CHAOS_MAX_MS, &a->o.settle_ms))
			return false;
		if (a->o.settle_ms && a->o.settle_ms < 1000)
			sim_exp_usage(EXP, "--settle-ms: at least 1000");
		return !a->o.settle_ms || a->o.settle_ms >= 1000;
	case O_VMS:
		if (!sim_exp_u32(EXP, "--vms-per-server", arg, 64, &a->o.vms_per_server))
			return false;
		if (!a->o.vms_per_server)
			sim_exp_usage(EXP, "--vms-per-server: at least 1");
		return a->o.vms_per_server > 0;
	case O_VDCS:
		if (!sim_exp_u32(EXP, "--vdcs", arg, 1000, &a->o.vdcs))
			return false;
		if (!a->o.vdcs)
			sim_exp_usage(EXP, "--vdcs: at least 1");
		return a->o.vdcs > 0;
	case O_PART:
		if (!sim_exp_u32(EXP, "--partition-ms", arg, CHAOS_MAX_MS, &a->o.partition_ms))
			return false;
		if (a->o.partition_ms < 20)
			sim_exp_usage(EXP, "--partition-ms: at least 20");
		return a->o.partition_ms >= 20;
	case O_FAULTS:
		return parse_faults(arg, &a->o.faults);
	case O_STRICT: a->o.strict_loops = true; return true;
	case O_UNTIL: a->until = true; return true;
	case O_QUIET: a->o.no_faults = true; return true;
	case O_TRACE: a->trace = true; return true;
	case O_JSON: a->json = true; return true;
	case O_FAIL:
		if (!strcmp(arg, "spine"))
			a->o.fail = CHAOS_FAIL_SPINE;
		else if (!strcmp(arg, "link"))
			a->o.fail = CHAOS_FAIL_LINK;
		else
			sim_exp_usage(EXP, "--fail: spine or link, not '%s'", arg);
		return a->o.fail != CHAOS_FAIL_NONE;
	case O_PEERS:
		if (!sim_exp_u32(EXP, "--peers", arg, CHAOS_SCALE_MAX_PEERS, &a->o.peers))
			return false;
		if (!a->o.peers)
			sim_exp_usage(EXP, "--peers: at least 1");
		return a->o.peers > 0;
	case O_NO_COSTS: a->o.no_costs = true; return true;
	case O_NETLINK_RATE:
		if (!sim_exp_u32(EXP, "--netlink-rate", arg, 100000000, &a->o.netlink_rate))
			return false;
		if (!a->o.netlink_rate)
			sim_exp_usage(EXP, "--netlink-rate: at least 1 entry/s");
		return a->o.netlink_rate > 0;
	case O_DIR_SEND_NS:
		if (!sim_exp_u32(EXP, "--dir-send-ns", arg, 1000000, &a->o.dir_send_ns))
			return false;
		if (!a->o.dir_send_ns)
			sim_exp_usage(EXP, "--dir-send-ns: at least 1 (--no-costs charges nothing)");
		return a->o.dir_send_ns > 0;
	}
	sim_exp_usage(EXP, "bad option");
	return false;
}

static int parse(int argc, char **argv, struct chaos_cli *a)
{
	static const struct option opts[] = {
		{ "topo", required_argument, NULL, O_TOPO },
		{ "seed", required_argument, NULL, O_SEED },
		{ "seeds", required_argument, NULL, O_SEEDS },
		{ "for", required_argument, NULL, O_FOR },
		{ "fault-ms", required_argument, NULL, O_FAULT },
		{ "settle-ms", required_argument, NULL, O_SETTLE },
		{ "vms-per-server", required_argument, NULL, O_VMS },
		{ "vdcs", required_argument, NULL, O_VDCS },
		{ "partition-ms", required_argument, NULL, O_PART },
		{ "faults", required_argument, NULL, O_FAULTS },
		{ "strict-loops", no_argument, NULL, O_STRICT },
		{ "until-violation", no_argument, NULL, O_UNTIL },
		{ "no-faults", no_argument, NULL, O_QUIET },
		{ "trace", no_argument, NULL, O_TRACE },
		{ "json", no_argument, NULL, O_JSON },
		{ "fail", required_argument, NULL, O_FAIL },
		{ "peers", required_argument, NULL, O_PEERS },
		{ "no-costs", no_argument, NULL, O_NO_COSTS },
		{ "netlink-rate", required_argument, NULL, O_NETLINK_RATE },
		{ "dir-send-ns", required_argument, NULL, O_DIR_SEND_NS },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->o.topo = CHAOS_DEFAULT_TOPO;
	a->seed = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(chaos_help, stdout);
			return 0;
		}
		if (c == '?')
			return sim_exp_usage(EXP, "bad option");
		if (!parse_one(a, c, optarg))
			return 2;
	}
	if (optind < argc)
		return sim_exp_usage(EXP, "unexpected argument '%s'", argv[optind]);
	if (a->seeds && a->for_s)
		return sim_exp_usage(EXP, "--seeds and --for exclude each other");
	if (!a->seeds)
		a->seeds = a->for_s ? CHAOS_MAX_SEEDS : 1;
	if (a->trace && a->seeds > 1)
		return sim_exp_usage(EXP, "--trace takes one seed");
	if ((a->o.peers || a->o.no_costs || a->o.netlink_rate || a->o.dir_send_ns) && !a->o.fail)
		return sim_exp_usage(EXP, "--peers, --no-costs, --netlink-rate and "
				     "--dir-send-ns go with --fail");
	if (a->o.no_costs && (a->o.netlink_rate || a->o.dir_send_ns))
		return sim_exp_usage(EXP, "--no-costs charges nothing: not with --netlink-rate "
				     "or --dir-send-ns");
	if (a->o.fail && (a->seeds > 1 || a->for_s || a->until || a->o.no_faults ||
			  a->o.faults || a->o.strict_loops || a->o.fault_ms || a->o.settle_ms ||
			  a->o.partition_ms))
		return sim_exp_usage(EXP, "--fail runs one seed without faults: it takes "
				     "--topo, --seed, --peers, --vms-per-server, --vdcs, "
				     "the costs, --trace and --json");
	return -1;
}

static const char *fo_text(const struct chaos_result *r, char *buf, size_t len)
{
	if (r->failover_ns == UINT64_MAX)
		snprintf(buf, len, ">%u", CHAOS_FAILOVER_SAMPLE_MS);
	else
		snprintf(buf, len, "%.0f", (double)r->failover_ns / 1e6);
	return buf;
}

static void print_seed(uint64_t seed, const struct chaos_result *r)
{
	char fo[24];

	if (r->violated)
		printf("seed %llu: VIOLATION %s at %.3f ms: %s\n", (unsigned long long)seed,
		       chaos_invariant_name(r->invariant), (double)r->at_ns / 1e6, r->detail);
	else
		printf("seed %llu: ok  %llu events  hash %016llx  fail-over %s ms  (loss %.3f, dup %.3f; %llu "
		       "crashes, %llu link and %llu switch failures, %llu partitions, %llu "
		       "migrations; %llu/%llu packets delivered, %llu transient loops)\n",
		       (unsigned long long)seed, (unsigned long long)r->events,
		       (unsigned long long)r->hash, fo_text(r, fo, sizeof(fo)), r->rate_loss, r->rate_dup,
		       (unsigned long long)r->crashes, (unsigned long long)r->link_faults,
		       (unsigned long long)r->switch_faults, (unsigned long long)r->partitions,
		       (unsigned long long)r->migrations, (unsigned long long)r->delivered,
		       (unsigned long long)r->packets, (unsigned long long)r->loops_transient);
	fflush(stdout);
}

static json_t *violation_json(uint64_t seed, const struct chaos_result *r)
{
	json_t *v = json_object();

	JSET(v, "seed", JINT(seed));
	JSET(v, "invariant", JSTR(chaos_invariant_name(r->invariant)));
	JSET(v, "sim_time_ms", JREAL((double)r->at_ns / 1e6));
	JSET(v, "detail", JSTR(r->detail));
	return v;
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static double peak_rss_mib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024;
}

static int scale_report(const struct chaos_cli *a, const struct chaos_result *r, double secs)
{
	const struct chaos_scale_result *s = &r->scale;
	const char *what = a->o.fail == CHAOS_FAIL_SPINE ? "spine" : "link";

	if (a->json) {
		json_t *j = json_object(), *viol = json_array(), *hashes = json_array();
		char hex[20];

		snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)r->hash);
		json_array_append_new(hashes, JSTR(hex));
		JSET(j, "topo", JSTR(a->o.topo));
		JSET(j, "fail", JSTR(what));
		JSET(j, "seeds_run", JINT(1));
		JSET(j, "violations", viol);
		JSET(j, "events", JINT(r->events));
		JSET(j, "trace_hashes", hashes);
		JSET(j, "seconds", JREAL(secs));
		JSET(j, "vms", JINT(s->vms));
		JSET(j, "entries", JINT(s->entries));
		JSET(j, "lookups_failed", JINT(s->lookups_failed));
		JSET(j, "macs_changed", JINT(s->macs_changed));
		JSET(j, "agents_affected", JINT(s->agents_affected));
		JSET(j, "entries_restored_first", JINT(s->restored));
		JSET(j, "agents_switched", JINT(s->agents_switched));
		JSET(j, "switch_ms_p50", JREAL(ms(s->switch_ns_p50)));
		JSET(j, "switch_ms_p99", JREAL(ms(s->switch_ns_p99)));
		JSET(j, "switch_ms_max", JREAL(ms(s->switch_ns_max)));
		JSET(j, "ras_ms", JREAL(ms(s->ras_ns)));
		JSET(j, "agents_heard", JINT(s->agents_heard));
		JSET(j, "heard_ms_p50", JREAL(ms(s->heard_ns_p50)));
		JSET(j, "heard_ms_p99", JREAL(ms(s->heard_ns_p99)));
		JSET(j, "heard_ms_max", JREAL(ms(s->heard_ns_max)));
		JSET(j, "setup_ms", JREAL(ms(s->setup_ns)));
		JSET(j, "messages", JINT(s->messages));
		JSET(j, "pushes", JINT(s->pushes));
		JSET(j, "push_datagrams", JINT(s->push_datagrams));
		JSET(j, "costs", json_boolean(!a->o.no_costs));
		JSET(j, "netlink_rate", JINT(a->o.no_costs ? 0 : a->o.netlink_rate ?
					     a->o.netlink_rate : CHAOS_NETLINK_RATE));
		JSET(j, "dir_send_ns_each", JINT(a->o.no_costs ? 0 : a->o.dir_send_ns ?
						 a->o.dir_send_ns : CHAOS_DIR_SEND_NS));
		JSET(j, "ras_cpu_ms", JREAL(ms(s->ras_cpu_ns)));
		JSET(j, "netlink_entries", JINT(s->netlink_entries));
		JSET(j, "netlink_ms_max", JREAL(ms(s->netlink_ns_max)));
		JSET(j, "dir_send_ms", JREAL(ms(s->dir_send_ns)));
		JSET(j, "peak_rss_mib", JREAL(peak_rss_mib()));
		json_print(stdout, j);
	} else {
		printf("%s: %s failure (%u), %llu VMs, %llu GARP entries held (%llu lookups "
		       "failed)\n", a->o.topo, what, s->failed, (unsigned long long)s->vms,
		       (unsigned long long)s->entries, (unsigned long long)s->lookups_failed);
		printf("  RAS: %llu server MACs withdrawn, the last %.3f ms after the failure\n",
		       (unsigned long long)s->macs_changed, ms(s->ras_ns));
		printf("  %llu affected entries got their tree back before their agent left it\n",
		       (unsigned long long)s->restored);
		printf("  agents switched: %llu of %llu affected; p50 %.3f ms, p99 %.3f ms, "
		       "max %.3f ms (simulated)\n", (unsigned long long)s->agents_switched,
		       (unsigned long long)s->agents_affected, ms(s->switch_ns_p50),
		       ms(s->switch_ns_p99), ms(s->switch_ns_max));
		printf("  withdrawal in the agents' maps (the directory's push): %llu agents; "
		       "p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", (unsigned long long)s->agents_heard,
		       ms(s->heard_ns_p50), ms(s->heard_ns_p99), ms(s->heard_ns_max));
		printf("  after the failure: %llu datagrams, %llu directory pushes in %llu "
		       "datagrams\n", (unsigned long long)s->messages, (unsigned long long)s->pushes,
		       (unsigned long long)s->push_datagrams);
		if (a->o.no_costs)
			printf("  costs: none charged (--no-costs)\n");
		else
			printf("  costs charged after the failure: the RAS's CPU %.3f ms (measured), "
			       "%llu netlink entries (busiest switch %.3f ms at %u/s), the "
			       "directory's sends %.3f ms (%u ns each)\n", ms(s->ras_cpu_ns),
			       (unsigned long long)s->netlink_entries, ms(s->netlink_ns_max),
			       a->o.netlink_rate ? a->o.netlink_rate : CHAOS_NETLINK_RATE,
			       ms(s->dir_send_ns), a->o.dir_send_ns ? a->o.dir_send_ns : (unsigned)CHAOS_DIR_SEND_NS);
		printf("  failure at %.0f ms of simulated time (the RAS had programmed the fabric)\n",
		       ms(s->setup_ns));
		printf("  %llu events, hash %016llx, %.1f s wall, peak RSS %.0f MiB\n",
		       (unsigned long long)r->events, (unsigned long long)r->hash, secs,
		       peak_rss_mib());
	}
	return s->agents_switched == s->agents_affected ? 0 : 1;
}

int sim_exp_chaos(int argc, char **argv)
{
	struct chaos_cli a;
	json_t *viol = json_array(), *hashes = json_array(), *fo = json_array();
	uint64_t t0 = mono_ns(), events = 0;
	uint32_t run = 0, failed = 0;
	int rc = parse(argc, argv, &a);

	if (rc >= 0) {
		json_decref(viol);
		json_decref(hashes);
		json_decref(fo);
		return rc;
	}
	a.o.trace = a.trace ? stderr : NULL;
	for (uint32_t i = 0; i < a.seeds; i++) {
		struct chaos_result r;
		char err[256], hex[20];

		if (a.for_s && mono_ns() - t0 >= a.for_s * 1000000000ull)
			break;
		a.o.seed = a.seed + i;
		if (chaos_run(&a.o, &r, err, sizeof(err))) {
			json_decref(viol);
			json_decref(hashes);
			json_decref(fo);
			return sim_exp_error(EXP, "%s", err);
		}
		if (a.o.fail) {
			json_decref(viol);
			json_decref(hashes);
			json_decref(fo);
			return scale_report(&a, &r, (double)(mono_ns() - t0) / 1e9);
		}
		run++;
		events += r.events;
		snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)r.hash);
		json_array_append_new(hashes, JSTR(hex));
		if (!r.violated)
			json_array_append_new(fo, r.failover_ns == UINT64_MAX ? json_null() :
					      JREAL((double)r.failover_ns / 1e6));
		if (r.violated) {
			failed++;
			json_array_append_new(viol, violation_json(a.o.seed, &r));
		}
		if (!a.json)
			print_seed(a.o.seed, &r);
		if (r.violated && a.until)
			break;
	}
	if (a.json) {
		json_t *j = json_object();

		JSET(j, "topo", JSTR(a.o.topo));
		JSET(j, "seeds_run", JINT(run));
		JSET(j, "violations", viol);
		JSET(j, "events", JINT(events));
		JSET(j, "trace_hashes", hashes);
		JSET(j, "failover_ms", fo);
		JSET(j, "seconds", JREAL((double)(mono_ns() - t0) / 1e9));
		json_print(stdout, j);
	} else {
		printf("%u seeds, %u failed, %llu events, %.1f s\n", run, failed,
		       (unsigned long long)events, (double)(mono_ns() - t0) / 1e9);
		json_decref(viol);
		json_decref(hashes);
		json_decref(fo);
	}
	return failed ? 1 : 0;
}
