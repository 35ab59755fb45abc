/* peregrine bench yaml: what hostile YAML costs lib/yconf (every reader of
 * topology files, lab files and agent configurations).  Each case runs in a
 * child process so that its peak RSS is its own, five times; the figures are
 * medians.  Targets: 100 KB and 10 MB of '[' refused in under 0.5 s, a 9 MB
 * flat list ([1,1,...]) parsed with a peak RSS under 16 times its size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/bench.h"
#include "lib/yconf.h"

enum {
	BY_RUNS = 5,
	BY_FLAT_BYTES = 9 << 20,
};
#define BY_REFUSE_TARGET_S 0.5
#define BY_RSS_TARGET_RATIO 16.0

struct by_case {
	const char *name;
	size_t bytes;
	bool flat;		/* [1,1,...,1] (accepted), else '[' (refused) */
};

static const struct by_case by_cases[] = {
	{ "brackets_100k", 100 << 10, false },
	{ "brackets_10m", 10 << 20, false },
	{ "flat_list_9m", BY_FLAT_BYTES, true },
};

/* figures: [0] seconds in yconf_load_buf, [1] 1 if accepted, [2] values */
static int by_run(void *arg, double *fig, int nfig)
{
	const struct by_case *c = arg;
	char *buf = xmalloc(c->bytes);
	struct yconf yc;
	uint64_t t0;
	int rc;

	(void)nfig;
	if (c->flat) {
		buf[0] = '[';
		for (size_t i = 1; i + 2 < c->bytes; i += 2)
			memcpy(buf + i, "1,", 2);
		buf[c->bytes - 2] = '1';	/* the size is even: no comma before ']' */
		buf[c->bytes - 1] = ']';
	} else {
		memset(buf, '[', c->bytes);
	}
	t0 = mono_ns();
	rc = yconf_load_buf(&yc, c->name, buf, c->bytes);
	fig[0] = (double)(mono_ns() - t0) / 1e9;
	fig[1] = rc == 0;
	fig[2] = rc == 0 ? (double)yconf_seq_len(yconf_root(&yc)) : 0;
	yconf_free(&yc);
	free(buf);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int by_one(const struct bench_opts *o, const struct by_case *c, json_t *res)
{
	double s[BY_RUNS], r[BY_RUNS], fig[3] = { 0 }, ratio;
	json_t *j = json_object();
	uint64_t rss;
	bool ok;

	for (int i = 0; i < BY_RUNS; i++) {
		if (bench_in_child(by_run, (void *)c, fig, 3, &rss)) {
			json_decref(j);
			fprintf(stderr, "bench yaml: %s failed\n", c->name);
			return 1;
		}
		s[i] = fig[0];
		r[i] = (double)rss;
	}
	qsort(s, BY_RUNS, sizeof(*s), cmp_double);
	qsort(r, BY_RUNS, sizeof(*r), cmp_double);
	ratio = r[BY_RUNS / 2] / (double)c->bytes;
	ok = c->flat ? fig[1] != 0 && ratio < BY_RSS_TARGET_RATIO
		     : fig[1] == 0 && s[BY_RUNS - 1] < BY_REFUSE_TARGET_S;
	JSET(j, "bytes", JINT(c->bytes));
	JSET(j, "accepted", JBOOL(fig[1] != 0));
	JSET(j, "values", JINT(fig[2]));
	JSET(j, "median_seconds", JREAL(s[BY_RUNS / 2]));
	JSET(j, "max_seconds", JREAL(s[BY_RUNS - 1]));
	JSET(j, "peak_rss_mib", JREAL(r[BY_RUNS / 2] / (1 << 20)));
	JSET(j, "peak_rss_per_byte", JREAL(ratio));
	JSET(j, "meets_target", JBOOL(ok));
	JSET(res, c->name, j);
	if (!o->json)
		printf("  %-14s %9zu bytes  %-8s median %.3f s (max %.3f s)  peak RSS %.1f MiB "
		       "(%.1f x the input)  %s\n", c->name, c->bytes,
		       fig[1] != 0 ? "accepted" : "refused", s[BY_RUNS / 2], s[BY_RUNS - 1],
		       r[BY_RUNS / 2] / (1 << 20), ratio, ok ? "ok" : "MISSES TARGET");
	return ok ? 0 : 1;
}

int bench_yaml(const struct bench_opts *o, json_t *res)
{
	int fails = 0;

	if (!o->json)
		printf("yaml: lib/yconf on hostile input, %d runs each in a child, medians\n",
		       BY_RUNS);
	JSET(res, "runs", JINT(BY_RUNS));
	JSET(res, "max_depth", JINT(YCONF_MAX_DEPTH));
	for (size_t i = 0; i < sizeof(by_cases) / sizeof(by_cases[0]); i++)
		fails += by_one(o, &by_cases[i], res);
	return fails ? 1 : 0;
}
