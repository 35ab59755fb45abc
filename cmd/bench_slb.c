/* peregrine bench slb: the load balancer's figures (docs/slb.md).
 *
 * 1. Per-packet cost through BPF_PROG_TEST_RUN, 64-byte TCP frames: a packet
 *    of an established flow (connection-table hit), a SYN (Maglev lookup, the
 *    old connection dropped, the new flow inserted), and, in the same run, a
 *    trivial XDP_TX program as the floor of the method.  The program's output
 *    frame is the same under repetition, so a repeated test run measures the
 *    path itself: the kernel's mean time per repetition, BENCH_SLB_REPEAT
 *    repetitions, median of BENCH_SLB_ROUNDS runs.  The verdict counters are
 *    checked to have moved on the intended path for every repetition.
 * 2. Maglev, 1,000 backends of equal weight in 65,537 slots: imbalance
 *    (max/mean slots per backend) and the share of the other backends' slots
 *    that move when one backend is removed; build time.
 *
 * 3. In a lab of namespaces, side by side in one run (scripts/bench-slb-lab.sh,
 *    which this runs and whose last line of output is a JSON object): new
 *    TCP connections per second through the VIP with the Peregrine SLB and
 *    through HAProxy in TCP mode on the same servers (slb_cps, haproxy_cps,
 *    ratio_cps), and a 100 MB download through the VIP against one straight
 *    from a VM.  `--no-lab` skips it (its keys are then null, with the
 *    reason in lab_reason, as without root). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/slb_loader.h"
#include "cmd/bench.h"
#include "lib/rng.h"
#include "slb/maglev.h"
#include "slb_floor.skel.h"
#include "wire/be.h"
#include "wire/frame.h"
#include "wire/ipv4.h"

enum bench_slb_limits {
	BENCH_SLB_REPEAT = 200000,	/* repetitions of one test run */
	BENCH_SLB_ROUNDS = 7,		/* test runs per figure (median) */
	BENCH_SLB_BACKENDS = 100,	/* in the VIP's table for the cost figures */
	BENCH_SLB_MAGLEV_N = 1000,	/* backends for the Maglev figures */
	BENCH_SLB_LAB_ROUNDS = 5,	/* alternating rounds of each lab figure (median) */
	BENCH_SLB_LAB_SECONDS = 3,	/* one connection-rate round */
	BENCH_SLB_LAB_CONC = 64,	/* client connections in flight */
	BENCH_SLB_LAB_TIMEOUT_S = 300,	/* the whole lab script, bring-up to teardown */
	BENCH_SLB_LAB_OUT = 65536,	/* bytes of the script's output kept */
};

#define BENCH_SLB_RATIO_CPS 2.0
#define BENCH_SLB_RATIO_DOWNLOAD 0.9

#define BENCH_SLB_EST_NS 80.0
#define BENCH_SLB_NEW_NS 200.0
#define BENCH_SLB_MOVED_PCT 1.0
#define BENCH_SLB_IMBALANCE 1.01
#define IP4(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

enum { F_EST, F_NEW, F_FLOOR, F_MOVED, F_IMBAL, F_BUILD_MS, F_N };

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* A 64-byte TCP frame from a client to VIP:80 with the given flags. */
static size_t tcp_frame(uint8_t *buf, uint8_t flags)
{
	uint8_t dst[6], src[6], *ip = buf + 14, *l4 = ip + 20;
	uint32_t saddr = IP4(198, 51, 100, 7), daddr = IP4(203, 0, 113, 10);

	pgr_mac_make(dst, pgr_id_of(3, 0));
	pgr_mac_make(src, pgr_id_of(64, 0));
	memset(buf, 0, 64);
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	wire_put16(buf + 12, WIRE_ETH_P_IPV4);
	ip[0] = 0x45;
	wire_put16(ip + 2, 50);
	ip[8] = 64;
	ip[9] = WIRE_IPPROTO_TCP;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	wire_put16(l4, 40000);
	wire_put16(l4 + 2, 80);
	l4[12] = 5 << 4;
	l4[13] = flags;
	return 64;
}

/* Median over rounds of the mean ns per repetition; *retval the verdict. */
static double repeated_ns(int prog, const uint8_t *frame, size_t len, int *retval)
{
	double ns[BENCH_SLB_ROUNDS];

	for (int i = 0; i < BENCH_SLB_ROUNDS; i++) {
		uint8_t out[WIRE_FRAME_MAX];
		struct xdp_md ctx = { .data_end = (uint32_t)len, .ingress_ifindex = 1 };
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (uint32_t)len,
			    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = BENCH_SLB_REPEAT);

		if (bpf_prog_test_run_opts(prog, &o))
			return -1;
		*retval = (int)o.retval;
		ns[i] = o.duration;
	}
	qsort(ns, BENCH_SLB_ROUNDS, sizeof(ns[0]), cmp_double);
	return ns[BENCH_SLB_ROUNDS / 2];
}

/* One VIP over BENCH_SLB_BACKENDS backends. */
static int cost_setup(struct pgr_slb_dp *dp)
{
	const struct pgr_slb_maps *m = pgr_slb_dp_maps(dp);
	struct slb_maglev_member mem[BENCH_SLB_BACKENDS];
	struct pgr_slb_vip_key k = { .ip = IP4(203, 0, 113, 10), .port = WIRE_HTONS(80),
				     .proto = WIRE_IPPROTO_TCP };
	struct pgr_slb_vip v = { .table = 0, .vdc = 1 };
	uint32_t *table = xcalloc(PGR_SLB_RING, sizeof(*table));
	int err;

	for (uint32_t i = 0; i < BENCH_SLB_BACKENDS; i++) {
		struct pgr_slb_backend be = { .vdc = 1, .avail = PGR_SLB_AVAIL_PRI | PGR_SLB_AVAIL_BAK,
					      .egress_ifindex = { 1, 1 } };

		for (uint32_t t = 0; t < PGR_TREES; t++) {
			pgr_mac_make(be.vm_mac[t], pgr_id_of(1000 + i, t));
			pgr_mac_make(be.im_mac[t], pgr_id_of(100 + i / 4, t));
		}
		if ((err = pgr_slb_backend_set(m, i, &be)))
			goto out;
		mem[i] = (struct slb_maglev_member){ .key = slb_maglev_key(1, IP4(10, 0, i >> 8, i)),
						     .weight = 1, .value = i };
	}
	err = slb_maglev_build(mem, BENCH_SLB_BACKENDS, PGR_SLB_RING, table);
	if (!err)
		err = pgr_slb_table_set(m, 0, table);
	if (!err)
		err = pgr_slb_vip_set(m, &k, &v);
out:
	free(table);
	return err;
}

static int once(int prog, const uint8_t *frame, size_t len)
{
	uint8_t out[WIRE_FRAME_MAX];
	struct xdp_md ctx = { .data_end = (uint32_t)len, .ingress_ifindex = 1 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	return bpf_prog_test_run_opts(prog, &o) || o.retval != XDP_TX ? -1 : 0;
}

static uint64_t stat_packets(struct pgr_slb_dp *dp, enum pgr_slb_stat s)
{
	struct pgr_slb_counter c[PGR_SLB_STAT_COUNT];

	if (pgr_slb_stats_read(pgr_slb_dp_maps(dp), c))
		return 0;
	return c[s].packets;
}

static int cost_case(double *fig)
{
	struct pgr_slb_dp_opts o = { 0 };
	const uint64_t n = (uint64_t)BENCH_SLB_ROUNDS * BENCH_SLB_REPEAT;
	uint8_t syn[64], ack[64];
	struct pgr_slb_dp *dp;
	struct slb_floor *floor = NULL;
	char err[256];
	int prog, rv[3] = { 0 }, ret = 1;
	uint64_t est0, new0;

	pgr_mac_make(o.cfg.server_mac[0], pgr_id_of(3, 0));
	pgr_mac_make(o.cfg.server_mac[1], pgr_id_of(3, 1));
	if (pgr_slb_dp_open(&dp, &o, err, sizeof(err))) {
		fprintf(stderr, "bench slb: %s\n", err);
		return 1;
	}
	floor = slb_floor__open_and_load();
	if (!floor || cost_setup(dp)) {
		fprintf(stderr, "bench slb: setup failed\n");
		goto out;
	}
	prog = pgr_slb_dp_prog_fd(dp);
	tcp_frame(syn, 0x02);
	tcp_frame(ack, 0x10);
	/* establish the flow: SYN (new), ACK (promoted) */
	if (once(prog, syn, 64) || once(prog, ack, 64))
		goto runs;
	est0 = stat_packets(dp, PGR_SLB_STAT_FWD_ESTABLISHED);
	fig[F_EST] = repeated_ns(prog, ack, 64, &rv[0]);
	if (stat_packets(dp, PGR_SLB_STAT_FWD_ESTABLISHED) - est0 != n)
		goto runs;
	new0 = stat_packets(dp, PGR_SLB_STAT_FWD_NEW);
	fig[F_NEW] = repeated_ns(prog, syn, 64, &rv[1]);
	if (stat_packets(dp, PGR_SLB_STAT_FWD_NEW) - new0 != n)
		goto runs;
	fig[F_FLOOR] = repeated_ns(bpf_program__fd(floor->progs.pgr_xdp_tx), syn, 64, &rv[2]);
	ret = rv[0] == XDP_TX && rv[1] == XDP_TX && rv[2] == XDP_TX && fig[F_EST] > 0 &&
	      fig[F_NEW] > 0 && fig[F_FLOOR] > 0 ? 0 : 1;
runs:
	if (ret)
		fprintf(stderr, "bench slb: test runs failed or took another path\n");
out:
	slb_floor__destroy(floor);
	pgr_slb_dp_close(dp);
	return ret;
}

static void maglev_case(double *fig)
{
	const uint32_t n = BENCH_SLB_MAGLEV_N, m = PGR_SLB_RING;
	struct slb_maglev_member *mem = xcalloc(n, sizeof(*mem));
	uint32_t *a = xcalloc(m, sizeof(*a)), *b = xcalloc(m, sizeof(*b)), *count = xcalloc(n, 4);
	uint32_t max = 0;
	uint64_t t0;

	for (uint32_t i = 0; i < n; i++)
		mem[i] = (struct slb_maglev_member){ .key = slb_maglev_key(1, IP4(10, 1, i >> 8, i)),
						     .weight = 1, .value = i };
	t0 = mono_ns();
	if (slb_maglev_build(mem, n, m, a))
		abort();
	fig[F_BUILD_MS] = (double)(mono_ns() - t0) / 1e6;
	slb_maglev_count(a, m, count, n);
	for (uint32_t i = 0; i < n; i++)
		max = MAX(max, count[i]);
	fig[F_IMBAL] = max / ((double)m / n);
	mem[n / 2].weight = 0;
	if (slb_maglev_build(mem, n, m, b))
		abort();
	fig[F_MOVED] = slb_maglev_moved_pct(a, b, m, n / 2);
	free(mem);
	free(a);
	free(b);
	free(count);
}

/* Run the lab script under `timeout`; its last line, parsed.  NULL and a
 * reason when it cannot. */
static json_t *lab_run(const char **reason)
{
	char exe[4096], script[4300], cmd[9000], *out = xcalloc(1, BENCH_SLB_LAB_OUT), *last;
	size_t n = 0;
	json_t *j = NULL;
	FILE *p;
	int st;

	if (cli_find_script("bench-slb-lab.sh", exe, sizeof(exe), script, sizeof(script))) {
		*reason = "scripts/bench-slb-lab.sh not found (set PEREGRINE_SCRIPTS)";
		goto out;
	}
	if (system("command -v haproxy >/dev/null")) {
		*reason = "haproxy is not installed (scripts/deps.sh)";
		goto out;
	}
	snprintf(cmd, sizeof(cmd), "timeout -s TERM %d bash '%s' '%s' %d %d %d",
		 BENCH_SLB_LAB_TIMEOUT_S, script, exe, BENCH_SLB_LAB_ROUNDS, BENCH_SLB_LAB_SECONDS,
		 BENCH_SLB_LAB_CONC);
	if (!(p = popen(cmd, "r"))) {
		*reason = "cannot start the lab script";
		goto out;
	}
	while (n < BENCH_SLB_LAB_OUT - 1) {
		size_t r = fread(out + n, 1, BENCH_SLB_LAB_OUT - 1 - n, p);

		if (!r)
			break;
		n += r;
	}
	st = pclose(p);
	while (n && out[n - 1] == '\n')
		out[--n] = '\0';
	last = strrchr(out, '\n');
	last = last ? last + 1 : out;
	if (st != 0 || !(j = json_loads(last, 0, NULL)) || !json_is_object(j)) {
		json_decref(j);
		j = NULL;
		*reason = "the lab script failed (its errors are above)";
	}
out:
	free(out);
	return j;
}

static const char *const lab_keys[] = {
	"slb_cps", "haproxy_cps", "ratio_cps", "vip_download_mbit_s", "haproxy_download_mbit_s",
	"direct_download_mbit_s", "ratio_download", "dsr_slb_bytes_pct",
};

/* The lab's keys into res (null where not measured); whether it met the
 * targets. */
static bool lab_case(bool run, const char *reason, json_t *res)
{
	json_t *lab = run ? lab_run(&reason) : NULL;
	double rc, rd;

	for (size_t i = 0; i < sizeof(lab_keys) / sizeof(lab_keys[0]); i++) {
		json_t *v = lab ? json_object_get(lab, lab_keys[i]) : NULL;

		JSET(res, lab_keys[i], v ? json_incref(v) : json_null());
	}
	if (lab) {
		json_object_set(res, "lab", lab);
		json_decref(lab);
		JSET(res, "lab_reason", json_null());
	} else {
		JSET(res, "lab_reason", json_string(reason));
	}
	rc = json_number_value(json_object_get(res, "ratio_cps"));
	rd = json_number_value(json_object_get(res, "ratio_download"));
	return lab && rc >= BENCH_SLB_RATIO_CPS && rd >= BENCH_SLB_RATIO_DOWNLOAD;
}

static void lab_print(json_t *res)
{
	if (json_is_null(json_object_get(res, "slb_cps"))) {
		printf("slb: lab (connections per second vs HAProxy): not measured: %s\n",
		       json_string_value(json_object_get(res, "lab_reason")));
		return;
	}
	printf("slb: lab, %d rounds of %d s, %d connections in flight, median\n"
	       "  new connections/s through the VIP, Peregrine SLB   %8.0f\n"
	       "  new connections/s through HAProxy (TCP mode)       %8.0f\n"
	       "  ratio                                              %8.2f   (target >= %.0f)\n"
	       "  100 MB download through the VIP                    %8.0f Mbit/s\n"
	       "  100 MB download through HAProxy                    %8.0f Mbit/s\n"
	       "  100 MB download straight from the VM               %8.0f Mbit/s\n"
	       "  ratio VIP / direct                                 %8.2f   (target >= %.1f)\n"
	       "  bytes of a VIP download the SLB server forwarded   %8.3f %%\n",
	       BENCH_SLB_LAB_ROUNDS, BENCH_SLB_LAB_SECONDS, BENCH_SLB_LAB_CONC,
	       json_number_value(json_object_get(res, "slb_cps")),
	       json_number_value(json_object_get(res, "haproxy_cps")),
	       json_number_value(json_object_get(res, "ratio_cps")), BENCH_SLB_RATIO_CPS,
	       json_number_value(json_object_get(res, "vip_download_mbit_s")),
	       json_number_value(json_object_get(res, "haproxy_download_mbit_s")),
	       json_number_value(json_object_get(res, "direct_download_mbit_s")),
	       json_number_value(json_object_get(res, "ratio_download")), BENCH_SLB_RATIO_DOWNLOAD,
	       json_number_value(json_object_get(res, "dsr_slb_bytes_pct")));
}

int bench_slb(const struct bench_opts *o, json_t *res)
{
	double fig[F_N] = { 0 };
	bool ok, no_lab = false;

	for (int i = 0; i < o->argc; i++) {
		if (strcmp(o->argv[i], "--no-lab")) {
			fprintf(stderr, "bench slb: unknown option '%s' (--no-lab)\n", o->argv[i]);
			return 2;
		}
		no_lab = true;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench slb: needs root (BPF_PROG_TEST_RUN, namespaces)\n");
		for (size_t i = 0; i < sizeof(lab_keys) / sizeof(lab_keys[0]); i++)
			JSET(res, lab_keys[i], json_null());
		JSET(res, "lab_reason", json_string("needs root (network namespaces)"));
		return 1;
	}
	if (cost_case(fig))
		return 1;
	maglev_case(fig);
	ok = fig[F_EST] < BENCH_SLB_EST_NS && fig[F_NEW] < BENCH_SLB_NEW_NS &&
	     fig[F_MOVED] <= BENCH_SLB_MOVED_PCT && fig[F_IMBAL] <= BENCH_SLB_IMBALANCE;
	JSET(res, "established_ns", JREAL(fig[F_EST]));
	JSET(res, "new_flow_ns", JREAL(fig[F_NEW]));
	JSET(res, "xdp_tx_floor_ns", JREAL(fig[F_FLOOR]));
	JSET(res, "maglev_moved_pct", JREAL(fig[F_MOVED]));
	JSET(res, "maglev_imbalance", JREAL(fig[F_IMBAL]));
	JSET(res, "maglev_build_ms", JREAL(fig[F_BUILD_MS]));
	if (!o->json)
		printf("slb: lab, Peregrine SLB and HAProxy side by side (about a minute) ...\n");
	ok = lab_case(!no_lab, "--no-lab", res) && ok;
	JSET(res, "meets_targets", JBOOL(ok));
	if (o->json)
		return ok ? 0 : 1;
	printf("slb: ns per packet, BPF_PROG_TEST_RUN, 64-byte TCP frames, repeat %d, median of %d\n"
	       "  established flow (connection table)   %6.1f ns   (target < %.0f)\n"
	       "  new flow (SYN: Maglev + insert)       %6.1f ns   (target < %.0f)\n"
	       "  trivial XDP_TX, same run              %6.1f ns\n"
	       "slb: Maglev, %d backends, %d slots\n"
	       "  imbalance max/mean                    %6.4f     (target <= %.2f)\n"
	       "  one removed: others' slots moved      %6.3f %%   (target <= %.0f %%)\n"
	       "  build                                 %6.1f ms\n"
	       "  %s\n",
	       BENCH_SLB_REPEAT, BENCH_SLB_ROUNDS, fig[F_EST], BENCH_SLB_EST_NS, fig[F_NEW],
	       BENCH_SLB_NEW_NS, fig[F_FLOOR], BENCH_SLB_MAGLEV_N, PGR_SLB_RING, fig[F_IMBAL],
	       BENCH_SLB_IMBALANCE, fig[F_MOVED], BENCH_SLB_MOVED_PCT, fig[F_BUILD_MS],
	       ok ? "targets met" : "MISSES A TARGET (or not measured)");
	lab_print(res);
	return ok ? 0 : 1;
}
