/* Benchmarks of the lab and of switchd's core. */
#include <dirent.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf/loader.h"
#include "cmd/bench.h"
#include "lab/run.h"
#include "lab/swclient.h"
#include "lib/parse.h"
#include "switchd/switchd.h"

/* The figures of a lab depend on the build its daemons run (they are this
 * binary): say which. */
#if defined(__SANITIZE_ADDRESS__)
#define BENCH_BUILD "sanitizer"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BENCH_BUILD "sanitizer"
#endif
#endif
#ifndef BENCH_BUILD
#define BENCH_BUILD "optimised"
#endif

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


/* ---- lab at scale (--servers N) --------------------------------------------- */
/* A lab of N dual-homed servers (leaf-spine, pairs of leaves with up to 16
 * servers each), two VDCs with one VM each per server: brought up, left
 * idle, measured, brought down (docs/lab.md, "Lab at scale").  Whatever
 * happens, the lab goes: at exit, and after SIGINT/SIGTERM/SIGHUP once the
 * step under way is over. */
enum {
	BENCH_SCALE_MAX = 1000,		/* servers (LAB_MAX_NODES) */
	BENCH_SCALE_RUNS_MAX = 9,
	BENCH_IDLE_S_MAX = 600,
	BENCH_SETTLE_MS = 3000,		/* after every agent is up, before measuring */
	BENCH_AGENT_WAIT_MS = 120000,	/* every agent's data plane loaded */
};
#define BENCH_SCALE_PREFIX "pgs"

static volatile sig_atomic_t scale_stop;
static bool scale_up;

static void scale_on_signal(int sig)
{
	(void)sig;
	scale_stop = 1;
}

static void scale_atexit(void)
{
	if (scale_up)
		lab_down(BENCH_SCALE_PREFIX, NULL, NULL);
	scale_up = false;
}

static uint64_t meminfo_kib(const char *field)
{
	char line[256];
	uint64_t v = 0;
	size_t n = strlen(field);
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':') {
			v = strtoull(line + n + 1, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

/* The lab's daemons from its pid files: pid and kind (index into
 * lab_daemons). */
struct scale_proc {
	pid_t pid;
	size_t kind;
};

static size_t scale_procs(struct scale_proc **out)
{
	char dir[256], path[512];
	struct scale_proc *p = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *d;

	lab_state_dir(BENCH_SCALE_PREFIX, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/pids", dir);
	if (!(d = opendir(path)))
		return 0;
	while ((e = readdir(d))) {
		const char *dot = strrchr(e->d_name, '.');
		char pf[800], buf[32] = { 0 };
		FILE *f;

		if (e->d_name[0] == '.' || !dot)
			continue;
		snprintf(pf, sizeof(pf), "%s/%s", path, e->d_name);
		if (!(f = fopen(pf, "r")))
			continue;
		if (fgets(buf, sizeof(buf), f) && atoi(buf) > 0)
			for (size_t k = 0; k < lab_ndaemons; k++)
				if (!strcmp(dot + 1, lab_daemons[k].name)) {
					if (n == cap)
						p = xreallocarray(p, cap = cap ? 2 * cap : 64,
								  sizeof(*p));
					p[n++] = (struct scale_proc){ (pid_t)atoi(buf), k };
				}
		fclose(f);
	}
	closedir(d);
	*out = p;
	return n;
}

/* utime + stime of a process, in clock ticks; 0 if it is gone. */
static uint64_t proc_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* after "(comm)": state is field 3, utime 14, stime 15 */
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return ut + st;
}

static uint64_t proc_pss_kib(pid_t pid)
{
	char path[64], line[256];
	uint64_t v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Pss:", 4))
			v = strtoull(line + 4, NULL, 10);
	fclose(f);
	return v;
}

/* Every agent has loaded and pinned its data plane (the slow part of its
 * start) and runs. */
static bool agents_ready(const struct lab *l)
{
	for (uint32_t s = 0; s < l->topo->nservers; s++) {
		const char *name = l->topo->nodes[l->topo->servers[s]].name;
		char ns[128], path[512];

		lab_ns(l, name, ns, sizeof(ns));
		snprintf(path, sizeof(path), "%s/%s/from_net", PGR_DP_PIN_ROOT, ns);
		if (access(path, F_OK) || !lab_daemon_pid(l, name, "agent"))
			return false;
	}
	return true;
}

struct scale_fig {
	double up_s, mem_mib, pss_mib, idle_cores, down_s;
	double kind_cores[8];
	unsigned kind_n[8];
};

static int scale_run(const struct lab *l, const char *yaml, int idle_s, struct scale_fig *f,
		     char *err, size_t errlen)
{
	uint64_t m0 = meminfo_kib("MemAvailable"), t0 = mono_ns(), deadline, *c0, dt;
	struct scale_proc *p = NULL;
	size_t np;
	long hz = sysconf(_SC_CLK_TCK);

	memset(f, 0, sizeof(*f));
	scale_up = true;
	if (lab_up(l, yaml, strlen(yaml), err, errlen)) {
		scale_up = false;
		return -1;
	}
	deadline = mono_ns() + (uint64_t)BENCH_AGENT_WAIT_MS * 1000000;
	while (!agents_ready(l) && !scale_stop && mono_ns() < deadline)
		usleep(20000);
	if (scale_stop || !agents_ready(l)) {
		snprintf(err, errlen, scale_stop ? "interrupted" :
			 "not every agent loaded its data plane within %d ms (see peregrine "
			 "lab logs --prefix " BENCH_SCALE_PREFIX ")", BENCH_AGENT_WAIT_MS);
		return -1;
	}
	f->up_s = (double)(mono_ns() - t0) / 1e9;
	usleep(BENCH_SETTLE_MS * 1000);
	f->mem_mib = ((double)m0 - (double)meminfo_kib("MemAvailable")) / 1024;
	np = scale_procs(&p);
	c0 = xcalloc(np + 1, sizeof(*c0));
	for (size_t i = 0; i < np; i++) {
		f->pss_mib += (double)proc_pss_kib(p[i].pid) / 1024;
		c0[i] = proc_ticks(p[i].pid);
	}
	t0 = mono_ns();
	for (int s = 0; s < idle_s * 10 && !scale_stop; s++)
		usleep(100000);
	dt = mono_ns() - t0;
	for (size_t i = 0; i < np; i++) {
		double c = (double)(proc_ticks(p[i].pid) - c0[i]) / (double)hz / ((double)dt / 1e9);

		f->idle_cores += c;
		if (p[i].kind < ARRAY_SIZE(f->kind_cores)) {
			f->kind_cores[p[i].kind] += c;
			f->kind_n[p[i].kind]++;
		}
	}
	free(c0);
	free(p);
	t0 = mono_ns();
	lab_down(BENCH_SCALE_PREFIX, NULL, NULL);
	scale_up = false;
	f->down_s = (double)(mono_ns() - t0) / 1e9;
	if (scale_stop) {
		snprintf(err, errlen, "interrupted");
		return -1;
	}
	return 0;
}

/* N servers: pairs of leaves with the largest count per leaf, up to 16,
 * that divides N. */
static char *scale_yaml(uint32_t n)
{
	uint32_t per = 16;
	char *y = NULL;

	while (n % (2 * per))
		per--;
	if (asprintf(&y, "name: scale\n"
		     "topology: leafspine:spines=2,leaves=%u,servers=%u,homing=2\n"
		     "vdcs:\n"
		     "  - {name: red, id: 1, subnet: 10.0.0.0/16}\n"
		     "  - {name: blue, id: 2, subnet: 10.0.0.0/16}\n"
		     "placement:\n"
		     "  per_server: 1\n", n / per, per) < 0)
		return NULL;
	return y;
}

static double median_of(const struct scale_fig *f, int n, size_t off)
{
	double v[BENCH_SCALE_RUNS_MAX];

	for (int i = 0; i < n; i++)
		v[i] = *(const double *)((const char *)&f[i] + off);
	return median(v, n);
}

static int bench_lab_scale(const struct bench_opts *o, json_t *res, uint32_t n, int runs,
			   int idle_s)
{
	struct scale_fig f[BENCH_SCALE_RUNS_MAX];
	struct sigaction sa = { .sa_handler = scale_on_signal, .sa_flags = SA_RESTART };
	char err[1024], *yaml = scale_yaml(n);
	json_t *arr = json_array(), *by = json_object();
	double up, mem, per100, agent_idle;
	struct lab l;
	int done = 0;
	bool ok;

	if (!yaml || lab_load_buf(&l, "scale", yaml, strlen(yaml), BENCH_SCALE_PREFIX, err,
				  sizeof(err))) {
		fprintf(stderr, "bench lab: %s\n", yaml ? err : "out of memory");
		free(yaml);
		json_decref(arr);
		json_decref(by);
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	atexit(scale_atexit);
	lab_down(BENCH_SCALE_PREFIX, NULL, NULL);	/* remains of an interrupted run */
	for (; done < runs && !scale_stop; done++) {
		if (scale_run(&l, yaml, idle_s, &f[done], err, sizeof(err))) {
			fprintf(stderr, "bench lab: %u servers: %s\n", n, err);
			scale_atexit();
			break;
		}
		if (!o->json)
			printf("lab: %u servers, run %d: up %.2f s, %.0f MiB (PSS %.0f MiB), idle "
			       "%.4f cores, down %.2f s\n", n, done + 1, f[done].up_s,
			       f[done].mem_mib, f[done].pss_mib, f[done].idle_cores,
			       f[done].down_s);
	}
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	free(yaml);
	if (done < runs) {
		lab_free(&l);
		json_decref(arr);
		json_decref(by);
		return 1;
	}
	for (int i = 0; i < runs; i++) {
		json_t *r = json_object();

		JSET(r, "up_s", JREAL(f[i].up_s));
		JSET(r, "mem_mib", JREAL(f[i].mem_mib));
		JSET(r, "pss_mib", JREAL(f[i].pss_mib));
		JSET(r, "idle_cores", JREAL(f[i].idle_cores));
		JSET(r, "down_s", JREAL(f[i].down_s));
		json_array_append_new(arr, r);
	}
	for (size_t k = 0; k < lab_ndaemons && k < ARRAY_SIZE(f[0].kind_cores); k++) {
		double v[BENCH_SCALE_RUNS_MAX];
		json_t *d = json_object();

		for (int i = 0; i < runs; i++)
			v[i] = f[i].kind_n[k] ? f[i].kind_cores[k] / f[i].kind_n[k] : 0;
		JSET(d, "processes", JINT(f[0].kind_n[k]));
		JSET(d, "cores_each", JREAL(median(v, runs)));
		JSET(by, lab_daemons[k].name, d);
	}
	up = median_of(f, runs, offsetof(struct scale_fig, up_s));
	mem = median_of(f, runs, offsetof(struct scale_fig, mem_mib));
	per100 = median_of(f, runs, offsetof(struct scale_fig, idle_cores)) * 100 / n;
	agent_idle = json_real_value(json_object_get(json_object_get(by, "agent"), "cores_each"));
	ok = up < 20 && mem < 4096 && agent_idle < 0.001;
	JSET(res, "servers", JINT(n));
	JSET(res, "vms", JINT(l.nvms));
	JSET(res, "binary", JSTR(BENCH_BUILD));
	JSET(res, "runs", JINT(runs));
	JSET(res, "idle_s", JINT(idle_s));
	JSET(res, "up_s", JREAL(up));
	JSET(res, "mem_mib", JREAL(mem));
	JSET(res, "pss_mib", JREAL(median_of(f, runs, offsetof(struct scale_fig, pss_mib))));
	JSET(res, "idle_cores_per_100_servers", JREAL(per100));
	JSET(res, "idle_cores_by_daemon", by);
	JSET(res, "down_s", JREAL(median_of(f, runs, offsetof(struct scale_fig, down_s))));
	JSET(res, "each_run", arr);
	JSET(res, "meets_target", JBOOL(ok));
	if (!o->json)
		printf("lab: %u servers, %u VMs (%s build), median of %d: up %.2f s (target < 20), "
		       "%.0f MiB (target < 4096), idle %.4f cores per 100 servers, an agent "
		       "%.5f cores (target < 0.001)%s\n", n, l.nvms, BENCH_BUILD, runs, up, mem,
		       per100, agent_idle, ok ? "" : "  MISSES TARGET");
	lab_free(&l);
	return ok ? 0 : 1;
}

int bench_lab(const struct bench_opts *o, json_t *res)
{
	double up[BENCH_LAB_RUNS], down[BENCH_LAB_RUNS];
	struct fib_fig fib = { 0 };
	uint32_t servers = 0, runs = 1, idle_s = 20;
	char err[1024];
	struct lab l;

	for (int i = 0; i < o->argc; i++) {
		const char *a = o->argv[i], *v = i + 1 < o->argc ? o->argv[i + 1] : "";

		if (!strcmp(a, "--servers") && parse_u32(v, BENCH_SCALE_MAX, &servers) &&
		    servers >= 2 && servers % 2 == 0)
			i++;
		else if (!strcmp(a, "--runs") && parse_u32(v, BENCH_SCALE_RUNS_MAX, &runs) && runs)
			i++;
		else if (!strcmp(a, "--idle") && parse_u32(v, BENCH_IDLE_S_MAX, &idle_s) && idle_s)
			i++;
		else
			return cli_usage_error("bench lab", "'%s': options are --servers N (even, "
					       "2 to %d), --runs R (1 to %d), --idle S (1 to %d)",
					       a, BENCH_SCALE_MAX, BENCH_SCALE_RUNS_MAX,
					       BENCH_IDLE_S_MAX);
	}
	if (geteuid() != 0) {
		if (!o->json)
			printf("lab: skipped (needs root)\n");
		JSET(res, "skipped", JSTR("needs root"));
		return 0;
	}
	if (servers)
		return bench_lab_scale(o, res, servers, (int)runs, (int)idle_s);
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
