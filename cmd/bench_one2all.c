/* peregrine bench one2all: BCube's one-to-all transfer over its k+1 trees
 * against the same transfer over one tree, side by side in one lab
 * (`peregrine lab one2all`, scripts/lab-one2all.sh, docs/bcube.md).
 *
 * One `lab one2all --json` on a BCube(4,1) lab of its own, links shaped by
 * tbf (--rate, default 10 Mbit/s: slow enough that the trees' links, not
 * this machine's CPU, set the rate), --runs R of each (default 5, taken in
 * turn), medians.  The target is the paper's: k+1 trees give k+1 times one
 * tree's rate; met when the median speedup is at least 0.9 (k+1) and every
 * receiver got every byte in every run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/bench.h"
#include "lib/common.h"
#include "lib/json.h"
#include "lib/parse.h"

enum { O2A_RUNS_DEFAULT = 5, O2A_RUNS_MAX = 20, O2A_RATE_DEFAULT = 10, O2A_OUT_MAX = 1 << 20 };
#define O2A_TARGET 0.9		/* of the theoretical k+1 */
#define O2A_PREFIX "pgbo"

/* Run lab one2all once; its JSON into *out (caller frees).  0, or -1 after
 * printing why. */
static int one2all_once(const char *exe, uint32_t runs, uint32_t rate, json_t **out)
{
	char *buf = xmalloc(O2A_OUT_MAX), cmd[4400], env[16];
	size_t len = 0, n;
	json_error_t jerr;
	FILE *p;
	int st;

	snprintf(env, sizeof(env), "%u", runs);
	setenv("ONE2ALL_RUNS", env, 1);
	snprintf(cmd, sizeof(cmd), "'%s' lab one2all --json --rate %u --prefix " O2A_PREFIX,
		 exe, rate);
	if (!(p = popen(cmd, "r"))) {
		fprintf(stderr, "bench one2all: cannot run lab one2all: %s\n", strerror(errno));
		free(buf);
		return -1;
	}
	while (len < O2A_OUT_MAX - 1 && (n = fread(buf + len, 1, O2A_OUT_MAX - 1 - len, p)) > 0)
		len += n;
	buf[len] = 0;
	st = pclose(p);
	*out = json_loads(buf, 0, &jerr);
	free(buf);
	if (!*out) {
		fprintf(stderr, "bench one2all: lab one2all failed (status %d) and printed no "
			"JSON: %s\n", st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st), jerr.text);
		return -1;
	}
	return 0;
}

static double num(json_t *j, const char *key)
{
	json_t *x = json_object_get(j, key);

	return json_is_number(x) ? json_number_value(x) : -1;
}

int bench_one2all(const struct bench_opts *o, json_t *res)
{
	uint32_t runs = O2A_RUNS_DEFAULT, rate = O2A_RATE_DEFAULT;
	double all, one, speedup, trees, ok, receivers;
	json_t *j = NULL;
	char exe[4096];
	ssize_t n;
	bool met;

	for (int i = 0; i < o->argc; i++) {
		const char *a = o->argv[i], *v = i + 1 < o->argc ? o->argv[i + 1] : "";

		if (!strcmp(a, "--runs") && parse_u32(v, O2A_RUNS_MAX, &runs) && runs)
			i++;
		else if (!strcmp(a, "--rate") && parse_u32(v, 10000, &rate) && rate)
			i++;
		else
			return cli_usage_error("bench one2all", "'%s': the options are --runs R "
					       "(1 to %d) and --rate MBIT", a, O2A_RUNS_MAX);
	}
	if (geteuid() != 0) {
		if (!o->json)
			printf("one2all: skipped (needs root)\n");
		JSET(res, "skipped", JSTR("needs root"));
		return 0;
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) < 0)
		return cli_error("bench one2all: cannot find my own binary");
	exe[n] = 0;
	if (one2all_once(exe, runs, rate, &j))
		return 1;
	all = num(j, "one_to_all_gbps");
	one = num(j, "one_tree_gbps");
	speedup = num(j, "speedup");
	trees = num(j, "trees");
	ok = num(j, "receivers_ok");
	receivers = num(j, "receivers");
	met = trees > 0 && receivers > 0 && ok == receivers && speedup >= O2A_TARGET * trees;
	JSET(res, "runs", JINT(runs));
	JSET(res, "link_mbps", JINT(rate));
	JSET(res, "one_to_all_gbps", JREAL(all));
	JSET(res, "one_tree_gbps", JREAL(one));
	JSET(res, "speedup", JREAL(speedup));
	JSET(res, "theoretical_speedup", JREAL(trees));
	JSET(res, "receivers_ok", JREAL(ok));
	JSET(res, "receivers", JREAL(receivers));
	JSET(res, "load_average", json_incref(json_object_get(j, "load_average")));
	JSET(res, "run_list", json_incref(json_object_get(j, "run_list")));
	JSET(res, "meets_target", JBOOL(met));
	if (!o->json)
		printf("one2all (BCube(4,1), links at %u Mbit/s, medians of %u runs): %.3f Gbit/s "
		       "over %.0f trees, %.3f over one: speedup %.2f, target >= %.2f (%.1f x %.0f); "
		       "%.0f of %.0f receivers got every byte%s\n", rate, runs, all, trees, one,
		       speedup, O2A_TARGET * trees, O2A_TARGET, trees, ok, receivers,
		       met ? "" : "  MISSES TARGET");
	json_decref(j);
	return met ? 0 : 1;
}
