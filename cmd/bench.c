/* peregrine bench: the benchmarks behind `make bench`.
 *
 * Each benchmark fills a JSON object with its figures; the human output is
 * printed as it goes, the JSON at the end (--json).  Cases that report memory
 * run in a child process so that each peak RSS is its own (bench_in_child).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "cmd/bench.h"
#include "topo/analyze.h"

static const struct {
	const char *name;
	int (*fn)(const struct bench_opts *o, json_t *res);
	const char *summary;
} benches[] = {
#define BENCH(name, summary) { #name, bench_##name, summary },
#include "cmd/benches.def"
#undef BENCH
};

int bench_in_child(int (*fn)(void *arg, double *figures, int nfig), void *arg,
		   double *figures, int nfig, uint64_t *peak_rss)
{
	int fds[2], status;
	struct rusage ru;
	pid_t pid;
	ssize_t n;

	if (pipe(fds))
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int ret;

		close(fds[0]);
		ret = fn(arg, figures, nfig);
		if (write(fds[1], figures, sizeof(double) * (size_t)nfig) < 0)
			_exit(3);
		_exit(ret ? 1 : 0);
	}
	close(fds[1]);
	n = read(fds[0], figures, sizeof(double) * (size_t)nfig);
	close(fds[0]);
	if (wait4(pid, &status, 0, &ru) < 0)
		return -1;
	*peak_rss = (uint64_t)ru.ru_maxrss * 1024;
	if (n != (ssize_t)(sizeof(double) * (size_t)nfig) || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return -1;
	return 0;
}

/* ---- topo ----------------------------------------------------------------- */

/* figures: [0] build s, [1] check s, [2] servers, [3] bridges */
static int topo_case(void *arg, double *fig, int nfig)
{
	struct topo_check ck;
	struct topo *t;
	char err[256];
	uint64_t t0, t1, t2;

	(void)nfig;
	t0 = mono_ns();
	if (topo_from_spec(arg, &t, err, sizeof(err))) {
		fprintf(stderr, "bench topo: %s\n", err);
		return 1;
	}
	t1 = mono_ns();
	topo_check(t, &ck);
	t2 = mono_ns();
	fig[0] = (double)(t1 - t0) / 1e9;
	fig[1] = (double)(t2 - t1) / 1e9;
	fig[2] = t->nservers;
	fig[3] = ck.nbridges;
	topo_check_free(&ck);
	topo_free(t);
	return 0;
}

int bench_topo(const struct bench_opts *o, json_t *res)
{
	static const char *const specs[] = { "vl2:da=144,di=144", "bcube:n=16,k=3" };
	json_t *cases = json_array();
	int fails = 0;

	if (!o->json)
		printf("topo: build + check (targets: under 2 s and 1 GiB each)\n");
	for (size_t i = 0; i < ARRAY_SIZE(specs); i++) {
		double fig[4] = { 0 };
		uint64_t rss = 0;
		json_t *c = json_object();
		bool ok;

		if (bench_in_child(topo_case, (void *)specs[i], fig, 4, &rss)) {
			fails++;
			continue;
		}
		ok = fig[0] + fig[1] < 2.0 && rss < (1ull << 30);
		fails += !ok;
		JSET(c, "spec", JSTR(specs[i]));
		JSET(c, "servers", JINT(fig[2]));
		JSET(c, "build_s", JREAL(fig[0]));
		JSET(c, "check_s", JREAL(fig[1]));
		JSET(c, "total_s", JREAL(fig[0] + fig[1]));
		JSET(c, "peak_rss_mib", JREAL((double)rss / (1 << 20)));
		JSET(c, "meets_target", JBOOL(ok));
		json_array_append_new(cases, c);
		if (!o->json)
			printf("  %-20s %7.0f servers  build %.3f s  check %.3f s  "
			       "total %.3f s  peak RSS %.1f MiB  %s\n", specs[i], fig[2],
			       fig[0], fig[1], fig[0] + fig[1], (double)rss / (1 << 20),
			       ok ? "ok" : "MISSES TARGET");
	}
	JSET(res, "cases", cases);
	return fails ? 1 : 0;
}

/* ---- driver ----------------------------------------------------------------- */

static const char bench_help[] =
	"Usage: peregrine bench NAME|all [--json] [BENCH OPTIONS]\n"
	"\n"
	"Run benchmarks and print their figures; with --json, one JSON object\n"
	"keyed by benchmark name.  Exit status 1 if a benchmark misses its target\n"
	"or fails.  Benchmarks:\n";

int cmd_bench(int argc, char **argv)
{
	struct bench_opts o = { 0 };
	json_t *all = json_object();
	const char *which = NULL;
	int fails = 0, ran = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			o.json = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(bench_help, stdout);
			for (size_t b = 0; b < ARRAY_SIZE(benches); b++)
				printf("  %-12s %s\n", benches[b].name, benches[b].summary);
			json_decref(all);
			return 0;
		} else if (!which && argv[i][0] != '-') {
			which = argv[i];
		} else {
			/* Everything else belongs to the benchmark, but --json is
			 * the driver's wherever it stands (`bench lab --servers 64
			 * --json`). */
			o.argv = &argv[i];
			for (int j = i; j < argc; j++)
				if (!strcmp(argv[j], "--json"))
					o.json = true;
				else
					argv[i + o.argc++] = argv[j];
			break;
		}
	}
	if (!which) {
		json_decref(all);
		return cli_usage_error("bench", "name a benchmark or 'all'");
	}
	for (size_t b = 0; b < ARRAY_SIZE(benches); b++) {
		json_t *res;

		if (strcmp(which, "all") && strcmp(which, benches[b].name))
			continue;
		res = json_object();
		ran++;
		if (benches[b].fn(&o, res)) {
			fails++;
			JSET(res, "ok", JBOOL(false));
		} else {
			JSET(res, "ok", JBOOL(true));
		}
		JSET(all, benches[b].name, res);
	}
	if (!ran) {
		json_decref(all);
		return cli_usage_error("bench", "unknown benchmark '%s'", which);
	}
	if (o.json)
		json_print(stdout, all);
	else
		json_decref(all);
	return fails ? 1 : 0;
}
