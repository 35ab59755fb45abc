/* peregrine bench failover: the demo's fail-over and migration figures, run
 * several times on this build, against the targets the README states.
 *
 * Each run is `peregrine lab demo --json` (scripts/lab-demo.sh) on its own
 * prefix: the default lab, a 10,000 datagram/s stream while a link on its
 * primary path is cut, then while the spine it then crosses fails, and a
 * stream to a VM that migrates.  A run meets the targets when both fail-over
 * gaps are under 10 ms, the fail-over stream lost under 20 ms in all, both
 * failures fell inside their stream, and the migration's gap and loss are
 * under 50 ms.  The benchmark meets its target when every run does: the
 * claim is "every gap", so one bad run is a miss, and the figures of every
 * run are printed so that a miss can be read. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/bench.h"
#include "lib/common.h"
#include "lib/json.h"
#include "lib/parse.h"

#if defined(__SANITIZE_ADDRESS__)
#define FO_BUILD "sanitizer"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FO_BUILD "sanitizer"
#endif
#endif
#ifndef FO_BUILD
#define FO_BUILD "optimised"
#endif

enum { FO_RUNS_DEFAULT = 5, FO_RUNS_MAX = 50, FO_OUT_MAX = 1 << 20 };
#define FO_GAP_MS 10.0
#define FO_LOST_MS 20.0
#define FO_MIGRATION_MS 50.0
#define FO_PREFIX "pgbf"

struct fo_run {
	double gap_link, gap_switch, lost, unattributed, mig_gap, mig_lost;
	bool during_stream, migration_during_stream, ok;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median_of(const struct fo_run *r, int n, size_t off)
{
	double v[FO_RUNS_MAX];

	for (int i = 0; i < n; i++)
		memcpy(&v[i], (const char *)&r[i] + off, sizeof(double));
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static double max_of(const struct fo_run *r, int n, size_t off)
{
	double m = 0, x;

	for (int i = 0; i < n; i++) {
		memcpy(&x, (const char *)&r[i] + off, sizeof(double));
		if (x > m)
			m = x;
	}
	return m;
}

/* Run the demo once; its JSON into *out (caller frees).  0, or -1 after
 * printing why. */
static int demo_once(const char *exe, json_t **out)
{
	char *buf = malloc(FO_OUT_MAX), cmd[4400];
	size_t len = 0, n;
	json_error_t jerr;
	FILE *p;
	int st;

	if (!buf)
		return fprintf(stderr, "bench failover: out of memory\n"), -1;
	snprintf(cmd, sizeof(cmd), "'%s' lab demo --json --prefix " FO_PREFIX, exe);
	if (!(p = popen(cmd, "r"))) {
		fprintf(stderr, "bench failover: cannot run the demo: %s\n", strerror(errno));
		free(buf);
		return -1;
	}
	while (len < FO_OUT_MAX - 1 && (n = fread(buf + len, 1, FO_OUT_MAX - 1 - len, p)) > 0)
		len += n;
	buf[len] = 0;
	st = pclose(p);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "bench failover: the demo failed (status %d)\n",
			st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		free(buf);
		return -1;
	}
	*out = json_loads(buf, 0, &jerr);
	free(buf);
	if (!*out) {
		fprintf(stderr, "bench failover: the demo's output is not JSON: %s\n", jerr.text);
		return -1;
	}
	return 0;
}

static bool num(json_t *j, const char *key, double *v)
{
	json_t *x = json_object_get(j, key);

	if (!json_is_number(x))
		return false;
	*v = json_number_value(x);
	return true;
}

static int parse_run(json_t *j, struct fo_run *r)
{
	json_t *gaps = json_object_get(j, "failover_gap_ms");

	if (!json_is_array(gaps) || json_array_size(gaps) != 2 ||
	    !json_is_number(json_array_get(gaps, 0)) || !json_is_number(json_array_get(gaps, 1)) ||
	    !num(j, "failover_lost_ms", &r->lost) ||
	    !num(j, "failover_unattributed_ms", &r->unattributed) ||
	    !num(j, "migration_gap_ms", &r->mig_gap) || !num(j, "migration_lost_ms", &r->mig_lost) ||
	    !json_is_boolean(json_object_get(j, "failover_during_stream")) ||
	    !json_is_boolean(json_object_get(j, "migration_during_stream")))
		return fprintf(stderr, "bench failover: the demo's JSON lacks a fail-over key\n"), -1;
	r->gap_link = json_number_value(json_array_get(gaps, 0));
	r->gap_switch = json_number_value(json_array_get(gaps, 1));
	r->during_stream = json_is_true(json_object_get(j, "failover_during_stream"));
	r->migration_during_stream = json_is_true(json_object_get(j, "migration_during_stream"));
	r->ok = r->gap_link < FO_GAP_MS && r->gap_switch < FO_GAP_MS && r->lost < FO_LOST_MS &&
		r->during_stream && r->migration_during_stream && r->mig_gap < FO_MIGRATION_MS &&
		r->mig_lost < FO_MIGRATION_MS;
	return 0;
}

int bench_failover(const struct bench_opts *o, json_t *res)
{
	struct fo_run r[FO_RUNS_MAX];
	uint32_t runs = FO_RUNS_DEFAULT;
	json_t *list;
	char exe[4096];
	ssize_t n;
	int met = 0;

	for (int i = 0; i < o->argc; i++) {
		const char *a = o->argv[i], *v = i + 1 < o->argc ? o->argv[i + 1] : "";

		if (!strcmp(a, "--runs") && parse_u32(v, FO_RUNS_MAX, &runs) && runs)
			i++;
		else
			return cli_usage_error("bench failover", "'%s': the option is --runs R "
					       "(1 to %d)", a, FO_RUNS_MAX);
	}
	if (geteuid() != 0) {
		if (!o->json)
			printf("failover: skipped (needs root)\n");
		JSET(res, "skipped", JSTR("needs root"));
		return 0;
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) < 0)
		return cli_error("bench failover: cannot find my own binary");
	exe[n] = 0;
	list = json_array();
	for (uint32_t i = 0; i < runs; i++) {
		json_t *j = NULL;

		if (demo_once(exe, &j) || parse_run(j, &r[i])) {
			if (j)
				json_decref(j);
			json_decref(list);
			return 1;
		}
		json_decref(j);
		met += r[i].ok;
		json_array_append_new(list, json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:b, s:b, s:b}",
			"gap_link_ms", r[i].gap_link, "gap_switch_ms", r[i].gap_switch,
			"lost_ms", r[i].lost, "unattributed_ms", r[i].unattributed,
			"migration_gap_ms", r[i].mig_gap, "migration_lost_ms", r[i].mig_lost,
			"during_stream", r[i].during_stream,
			"migration_during_stream", r[i].migration_during_stream,
			"meets_target", r[i].ok));
		if (!o->json)
			printf("failover: run %u of %u: link cut %.1f ms, switch failure %.1f ms, "
			       "%.1f ms lost (%.1f unattributed); migration %.1f ms gap, %.1f ms "
			       "lost%s\n", i + 1, runs, r[i].gap_link, r[i].gap_switch, r[i].lost,
			       r[i].unattributed, r[i].mig_gap, r[i].mig_lost,
			       r[i].ok ? "" : "  MISSES TARGET");
		fflush(stdout);
	}
#define FO_MED(f) median_of(r, (int)runs, offsetof(struct fo_run, f))
#define FO_MAX(f) max_of(r, (int)runs, offsetof(struct fo_run, f))
	JSET(res, "build", JSTR(FO_BUILD));
	JSET(res, "runs", JINT(runs));
	JSET(res, "per_run", list);
	JSET(res, "gap_link_ms_median", JREAL(FO_MED(gap_link)));
	JSET(res, "gap_link_ms_max", JREAL(FO_MAX(gap_link)));
	JSET(res, "gap_switch_ms_median", JREAL(FO_MED(gap_switch)));
	JSET(res, "gap_switch_ms_max", JREAL(FO_MAX(gap_switch)));
	JSET(res, "lost_ms_median", JREAL(FO_MED(lost)));
	JSET(res, "lost_ms_max", JREAL(FO_MAX(lost)));
	JSET(res, "migration_gap_ms_median", JREAL(FO_MED(mig_gap)));
	JSET(res, "migration_gap_ms_max", JREAL(FO_MAX(mig_gap)));
	JSET(res, "runs_meeting_target", JINT(met));
	JSET(res, "meets_target", JBOOL((uint32_t)met == runs));
	if (!o->json)
		printf("failover (%s build, %u runs): link cut median %.1f ms (max %.1f), switch "
		       "failure median %.1f ms (max %.1f), lost median %.1f ms (max %.1f), "
		       "migration median %.1f ms (max %.1f); targets: every gap < %.0f ms, "
		       "< %.0f ms lost, migration < %.0f ms: %u of %u runs meet them\n",
		       FO_BUILD, runs, FO_MED(gap_link), FO_MAX(gap_link), FO_MED(gap_switch),
		       FO_MAX(gap_switch), FO_MED(lost), FO_MAX(lost), FO_MED(mig_gap),
		       FO_MAX(mig_gap), FO_GAP_MS, FO_LOST_MS, FO_MIGRATION_MS, met, runs);
#undef FO_MED
#undef FO_MAX
	return (uint32_t)met == runs ? 0 : 1;
}
