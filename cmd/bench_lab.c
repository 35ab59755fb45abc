/* Benchmarks of the lab and of switchd's core. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/bench.h"
#include "lab/run.h"
#include "lab/swclient.h"
#include "switchd/switchd.h"

enum { BENCH_LAB_RUNS = 3, BENCH_SW_RUNS = 5, BENCH_SW_ENTRIES = 65536,
       BENCH_FIB_ENTRIES = 16000 };

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* ---- lab ------------------------------------------------------------------- */
struct fib_fig {
	double secs, dump_secs;
	uint32_t used;
};

/* Through the management network, switchd and netlink: BENCH_FIB_ENTRIES
 * entries onto leaf0's bridge in full requests, then a full dump. */
static int fib_fill(const struct lab *l, void *arg)
{
	struct fib_fig *f = arg;
	uint32_t node = topo_find(l->topo, "leaf0"), used, cap, n;
	static struct swp_op ops[SWP_MAX_OPS];
	static uint8_t status[SWP_MAX_OPS];
	struct swp_fib_entry *e;
	struct swc c;
	uint64_t t0;

	if (node == UINT32_MAX || lab_switch_client(l, node, &c))
		return -1;
	t0 = mono_ns();
	for (uint32_t done = 0; done < BENCH_FIB_ENTRIES;) {
		uint16_t k = (uint16_t)MIN((uint32_t)SWP_MAX_OPS, BENCH_FIB_ENTRIES - done);

		for (uint16_t i = 0; i < k; i++) {
			ops[i] = (struct swp_op){ .kind = SWP_OP_ADD, .port = (uint16_t)(i % 6) };
			wire_put48(ops[i].mac, 0x025047100000ull + done + i);
		}
		if (swc_fib_ops(&c, ops, k, status, &used, &cap) || memchr(status, SWP_FULL, k)) {
			swc_close(&c);
			return -1;
		}
		done += k;
	}
	f->secs = (double)(mono_ns() - t0) / 1e9;
	t0 = mono_ns();
	if (swc_dump_fib(&c, &e, &n, &used, &cap)) {
		swc_close(&c);
		return -1;
	}
	f->dump_secs = (double)(mono_ns() - t0) / 1e9;
	f->used = n;
	free(e);
	swc_close(&c);
	return 0;
}

int bench_lab(const struct bench_opts *o, json_t *res)
{
	double up[BENCH_LAB_RUNS], down[BENCH_LAB_RUNS];
	struct fib_fig fib = { 0 };
	char err[1024];
	struct lab l;

	if (geteuid() != 0) {
		if (!o->json)
			printf("lab: skipped (needs root)\n");
		JSET(res, "skipped", JSTR("needs root"));
		return 0;
	}
	if (lab_load_buf(&l, "default", lab_default_yaml, strlen(lab_default_yaml), "pgb",
			 err, sizeof(err)))
		return fprintf(stderr, "bench lab: %s\n", err), 1;
	lab_down("pgb", NULL, NULL);	/* remains of an interrupted run */
	for (int i = 0; i < BENCH_LAB_RUNS; i++) {
		uint64_t t0 = mono_ns(), t1, t2;

		if (lab_up(&l, lab_default_yaml, strlen(lab_default_yaml), err, sizeof(err))) {
			fprintf(stderr, "bench lab: %s\n", err);
			lab_free(&l);
			return 1;
		}
		t1 = mono_ns();
		if (i == 0 && lab_in_mgmt(&l, fib_fill, &fib)) {
			fprintf(stderr, "bench lab: filling leaf0's FIB failed\n");
			fib.secs = -1;
		}
		t2 = mono_ns();
		lab_down("pgb", NULL, NULL);
		up[i] = (double)(t1 - t0) / 1e9;
		down[i] = (double)(mono_ns() - t2) / 1e9;
	}
	lab_free(&l);
	JSET(res, "runs", JINT(BENCH_LAB_RUNS));
	JSET(res, "up_median_s", JREAL(median(up, BENCH_LAB_RUNS)));
	JSET(res, "down_median_s", JREAL(median(down, BENCH_LAB_RUNS)));
	JSET(res, "meets_target", JBOOL(up[BENCH_LAB_RUNS - 1] < 20.0));
	JSET(res, "fib_entries", JINT(fib.used));
	JSET(res, "fib_install_per_s", JREAL(fib.secs > 0 ? fib.used / fib.secs : 0));
	JSET(res, "fib_dump_s", JREAL(fib.dump_secs));
	if (!o->json)
		printf("lab: default lab (31 namespaces, 6 switchd), %d runs: up median %.2f s "
		       "(max %.2f, target < 20 s), down median %.2f s\n", BENCH_LAB_RUNS,
		       up[BENCH_LAB_RUNS / 2], up[BENCH_LAB_RUNS - 1], down[BENCH_LAB_RUNS / 2]);
	if (!o->json && fib.secs > 0)
		printf("lab: %u entries onto leaf0 through switchd and netlink: %.0f entries/s; "
		       "full dump %.1f ms\n", fib.used, fib.used / fib.secs, fib.dump_secs * 1e3);
	if (fib.secs < 0)
		return 1;
	return up[BENCH_LAB_RUNS - 1] < 20.0 ? 0 : 1;
}

/* ---- switchd core ---------------------------------------------------------- */
static const struct auth_key bench_key = { { 0x5a } };

/* Fill a 64K FIB with adds of SWP_MAX_OPS per request; then dump it. */
static void sw_round(struct sw_out *out, double *ops_per_s, double *dump_s)
{
	struct sw_config c = { .id = 1, .fib_cap = BENCH_SW_ENTRIES, .key = bench_key };
	struct sw *s = sw_new(&c);
	struct sw_addr from = { 0x7f000001, 1 };
	static uint8_t buf[SWP_MAX_DGRAM];
	static struct swp_op ops[SWP_MAX_OPS];
	uint64_t seq = 1, t0;
	uint32_t done = 0, off = 0;

	sw_out_reset(out);
	for (uint16_t p = 0; p < 64; p++)
		sw_port(s, p, true, true, 0, out);
	t0 = mono_ns();
	while (done < BENCH_SW_ENTRIES) {
		uint16_t n = (uint16_t)MIN((uint32_t)SWP_MAX_OPS, BENCH_SW_ENTRIES - done);
		struct swp_hdr h = { .sender = 2, .seq = seq++ };
		size_t len;

		for (uint16_t i = 0; i < n; i++) {
			ops[i] = (struct swp_op){ .kind = SWP_OP_ADD, .port = (uint16_t)(i % 64) };
			wire_put48(ops[i].mac, 0x025047000000ull + ((done + i) * 2654435761u & 0xffffff));
		}
		len = swp_enc_fib_ops(buf, sizeof(buf), &h, ops, n, &bench_key);
		sw_out_reset(out);
		sw_input(s, from, buf, len, 0, out);
		sw_commit(s, out);
		done += n;
	}
	*ops_per_s = BENCH_SW_ENTRIES / ((double)(mono_ns() - t0) / 1e9);
	t0 = mono_ns();
	do {
		struct swp_hdr h = { .sender = 2, .seq = seq++ };
		size_t len = swp_enc_dump_req(buf, sizeof(buf), &h, SWP_WHAT_FIB, off, &bench_key);
		struct swp_msg m;

		sw_out_reset(out);
		sw_input(s, from, buf, len, 0, out);
		if (swp_decode(out->dg[0].buf, out->dg[0].len, &bench_key, &m))
			abort();
		off += m.u.dump_fib.n;
		if (!m.u.dump_fib.n)
			break;
	} while (1);
	*dump_s = (double)(mono_ns() - t0) / 1e9;
	if (off != sw_fib_used(s))
		abort();
	sw_free(s);
}

int bench_switchd(const struct bench_opts *o, json_t *res)
{
	double rate[BENCH_SW_RUNS], dump[BENCH_SW_RUNS];
	struct sw_out *out = xmalloc(sizeof(*out));

	for (int i = 0; i < BENCH_SW_RUNS; i++)
		sw_round(out, &rate[i], &dump[i]);
	free(out);
	JSET(res, "entries", JINT(BENCH_SW_ENTRIES));
	JSET(res, "adds_per_s_median", JREAL(median(rate, BENCH_SW_RUNS)));
	JSET(res, "dump_s_median", JREAL(median(dump, BENCH_SW_RUNS)));
	if (!o->json)
		printf("switchd: core only (no netlink), %d entries in requests of %d: "
		       "%.2f M adds/s; full dump %.1f ms (medians of %d)\n", BENCH_SW_ENTRIES,
		       SWP_MAX_OPS, median(rate, BENCH_SW_RUNS) / 1e6,
		       median(dump, BENCH_SW_RUNS) * 1e3, BENCH_SW_RUNS);
	return 0;
}
