/* peregrine bench mcast: the 16-server multicast target of
 * docs/multicast.md, held.
 *
 * Runs scripts/lab-mcast.sh (root): a lab of 16 servers, 8 member VMs of
 * red's 239.1.2.3 on 8 servers, 8 of blue's 239.1.2.3, and --runs R streams
 * (default 3) of 20,000 datagrams at 10,000/s from red-srv0.  The target:
 * in every run every member receives at least 99.9% and no non-member (red
 * or blue) receives anything.  Reported: each run's lowest member count,
 * the members' losses by cause (late, rcvbuf, in_errors, rx_dropped: the
 * script's header says what each is), the copies per datagram on the
 * busiest link, and how long the stream took to send (a starved sender
 * stretches it: the rate achieved is reported beside the one asked).
 * Exit status 1 when a run misses the target. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/bench.h"
#include "lib/parse.h"

enum bench_mcast_limits {
	BENCH_MCAST_RUNS = 3,		/* default --runs */
	BENCH_MCAST_RUNS_MAX = 20,
	BENCH_MCAST_RUN_S = 120,	/* the timeout's share of one run (a
					 * run took 50 to 60 s at a load average
					 * of 45 on 2 cores) */
	BENCH_MCAST_SETUP_S = 300,	/* lab up and down */
	BENCH_MCAST_OUT = 1 << 16,	/* the script's stdout: one JSON line */
};

/* Run the script; its last line, parsed (NULL when it could not run or
 * printed no JSON; a missed target still prints its JSON). */
static json_t *mcast_run(const char *exe, const char *script, uint32_t runs)
{
	char cmd[9000], *out = xcalloc(1, BENCH_MCAST_OUT), *last;
	size_t n = 0;
	json_t *j;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "PEREGRINE='%s' PREFIX=pgbm RUNS=%u timeout -s TERM %u bash '%s' --json",
		 exe, runs, BENCH_MCAST_SETUP_S + runs * BENCH_MCAST_RUN_S, script);
	if (!(p = popen(cmd, "r"))) {
		free(out);
		return NULL;
	}
	while (n < BENCH_MCAST_OUT - 1) {
		size_t r = fread(out + n, 1, BENCH_MCAST_OUT - 1 - n, p);

		if (!r)
			break;
		n += r;
	}
	pclose(p);
	while (n && out[n - 1] == '\n')
		out[--n] = '\0';
	last = strrchr(out, '\n');
	j = json_loads(last ? last + 1 : out, 0, NULL);
	free(out);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

static void mcast_print(const json_t *j)
{
	size_t i;
	json_t *r;

	json_array_foreach(json_object_get(j, "runs"), i, r)
		printf("  run %zu: members >= 99.9%%: %lld of 8, lowest %lld of 20000; "
		       "at non-members %lld; busiest link %.2f copies per datagram; sent in "
		       "%lld ms (%.0f/s); losses late %lld, rcvbuf %lld, in_errors %lld, "
		       "rx_dropped %lld\n", i + 1,
		       json_integer_value(json_object_get(r, "members_ok")),
		       json_integer_value(json_object_get(r, "members_min_received")),
		       json_integer_value(json_object_get(r, "leaks")),
		       json_number_value(json_object_get(r, "busiest_link_copies_per_datagram")),
		       json_integer_value(json_object_get(r, "send_ms")),
		       json_number_value(json_object_get(r, "send_rate")),
		       json_integer_value(json_object_get(r, "members_late")),
		       json_integer_value(json_object_get(r, "members_rcvbuf_errors")),
		       json_integer_value(json_object_get(r, "members_in_errors")),
		       json_integer_value(json_object_get(r, "members_rx_dropped")));
}

int bench_mcast(const struct bench_opts *o, json_t *res)
{
	char exe[4096], script[4300];
	uint32_t runs = BENCH_MCAST_RUNS;
	bool met;
	json_t *j;

	for (int i = 0; i < o->argc; i++) {
		const char *a = o->argv[i], *v = i + 1 < o->argc ? o->argv[i + 1] : "";

		if (!strcmp(a, "--runs") && parse_u32(v, BENCH_MCAST_RUNS_MAX, &runs) && runs)
			i++;
		else
			return cli_usage_error("bench mcast", "'%s': the option is --runs R "
					       "(1 to %d)", a, BENCH_MCAST_RUNS_MAX);
	}
	if (geteuid() != 0) {
		if (!o->json)
			printf("mcast: skipped (needs root)\n");
		JSET(res, "skipped", JSTR("needs root"));
		return 0;
	}
	if (cli_find_script("lab-mcast.sh", exe, sizeof(exe), script, sizeof(script)))
		return cli_error("bench mcast: scripts/lab-mcast.sh not found (set PEREGRINE_SCRIPTS)");
	if (!o->json)
		printf("mcast: 10,000/s to 8 members in 16 servers, %u runs of 20,000 "
		       "(target: every member >= 99.9%%, nothing at non-members)\n", runs);
	if (!(j = mcast_run(exe, script, runs)))
		return cli_error("bench mcast: the lab script failed (its errors are above)");
	met = json_is_true(json_object_get(j, "meets_target"));
	if (!o->json) {
		mcast_print(j);
		printf("  %s\n", met ? "ok" : "MISSES TARGET");
	}
	json_object_update(res, j);
	json_decref(j);
	return met ? 0 : 1;
}
