/* `peregrine bench policy`: what the security-group check adds per packet,
 * and the same rules in nftables, side by side in one run.
 *
 * Ours: bpf/policy.bpf.c's fixture under BPF_PROG_TEST_RUN, repeated on one
 * 64-byte TCP frame, minus the same frame through a program that does
 * nothing (the floor), paired: each round runs the floor, then the fixture,
 * and the median of the rounds' differences is the figure.  For 10, 1,000
 * and 10,000 rules of the form `in tcp PORT from 10.A.B.0/24` (each its own
 * port and prefix):
 *   new flow:    a SYN that the last rule allows, not tracked (a repeated
 *                test run cannot make a new flow each time: it measures the
 *                lookup, the two tries; the tracker's insert comes on top)
 *   established: an ACK of a tracked connection
 * nftables: the same 1,000 rules written two ways, each in a netdev ingress
 * chain (policy drop) on a veth of its own in a scratch namespace, and the
 * same frame sent into each through AF_PACKET; beside them an empty chain
 * (policy accept) on a third veth:
 *   list: one rule per line, `ip saddr 10.A.B.0/24 tcp dport PORT accept`
 *         (nft_ns_1000, the figure);
 *   set:  one rule, `ip saddr . tcp dport @allowed accept`, the 1,000
 *         (prefix . port) pairs in a concatenated interval set, as a careful
 *         operator writes them (nft_set_ns_1000).
 * The frame matches the last rule and is accepted by all, so what differs
 * from the empty chain is the rules' evaluation: ns per frame with them
 * minus ns per frame without, in rounds ordered empty, set, list, set,
 * empty (the drift of a loaded machine cancels to first order), the median
 * of the rounds.  ratio_nft = new_flow_ns_1000 / the cheaper of the two
 * (the stronger nftables), ratio_nft_list and ratio_nft_set each.
 * docs/policy.md, "Cost".
 *
 * `--rate` instead: a VM's egress limit of 1 Gbit/s on a lab, side by side
 * with an unlimited pair on the same path (scripts/bench-policy-rate.sh,
 * docs/policy.md "The 1 Gbit/s target"). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/policy.h"
#include "bpf/policy_maps.h"
#include "cmd/bench.h"
#include "lib/common.h"
#include "lib/json.h"
#include "policy.skel.h"
#include "wire/be.h"
#include "wire/eth.h"

enum bench_policy_limits {
	BENCH_POL_REPEAT = 200000,	/* test-run repetitions per round */
	BENCH_POL_ROUNDS = 7,		/* rounds; the median is reported */
	BENCH_POL_NFT_RULES = 1000,
	BENCH_POL_NFT_FRAMES = 20000, 	/* frames per nft round: empty chain, set */
	BENCH_POL_NFT_LIST_FRAMES = 2000,	/* the list: ~100 us a frame here */
	BENCH_POL_NFT_ROUNDS = 9,
	BENCH_POL_CMD_MAX = 256,
	BENCH_POL_EST_NS = 30,		/* target: added for an established flow */
	BENCH_POL_FRESH = 2001,		/* single runs, each a new flow, for the insert */
};

#define BENCH_POL_RATIO 0.5	/* target: at most half of nftables' cost */
#define BENCH_POL_RATE_ERR_PCT 5.0	/* target: the limit within 5% */
#define BENCH_POL_RATE_SHARE_PCT 90.0	/* each of two flows: >= 90% of an even share */
#define BENCH_POL_RATE_TIMEOUT_S 180	/* the rate script: 4 x 10 s of iperf3 and a lab */
#define BENCH_POL_RATE_OUT 65536
#define IP4(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define VM_IP IP4(10, 200, 0, 1)

static const int rule_counts[] = { 10, 1000, 10000 };

enum { F_FLOOR, F_NONE, F_NEW0, F_EST0 = F_NEW0 + 3, F_COMPILE0 = F_EST0 + 3, F_NFT = F_COMPILE0 + 3,
       F_NFT_SET, F_NFT_BASE, F_INSERT, F_N };

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* rule i: port 1000 + i, peer 10.(1 + i / 256).(i % 256).0/24 */
static uint16_t rule_port(int i)
{
	return (uint16_t)(1000 + i);
}

static void rule_net(int i, char *out, size_t n)
{
	snprintf(out, n, "10.%d.%d.0/24", 1 + i / 256, i % 256);
}

/* A 64-byte frame: TCP from the last rule's peer to its port. */
static void frame(uint8_t *f, int nrules, uint8_t flags)
{
	int i = nrules - 1;
	uint32_t src = IP4(10, 1 + i / 256, i % 256, 7), dst = VM_IP;
	uint8_t *ip = f + 14, *t = ip + 20;

	memset(f, 0, 64);
	memcpy(f, (uint8_t[6]){ 0x02, 0, 0, 0, 0, 0x02 }, 6);
	memcpy(f + 6, (uint8_t[6]){ 0x02, 0, 0, 0, 0, 0x01 }, 6);
	wire_put16(f + 12, WIRE_ETH_P_IPV4);
	ip[0] = 0x45;
	wire_put16(ip + 2, 40);
	ip[8] = 64;
	ip[9] = WIRE_IPPROTO_TCP;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	wire_put16(t, 40000);
	wire_put16(t + 2, rule_port(i));
	wire_put32(t + 4, flags & 0x10 ? 101 : 100);
	wire_put32(t + 8, 0);
	t[12] = 5 << 4;
	t[13] = flags;
}

/* One round: the mean ns per run of BENCH_POL_REPEAT runs; -1 on failure. */
static double one_round_ns(int prog, const uint8_t *f, uint32_t vm, bool track, int *retval)
{
	struct __sk_buff ctx = { .cb = { PGR_POL_IN, vm, VM_IP, track } };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = 64, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = BENCH_POL_REPEAT);

	if (bpf_prog_test_run_opts(prog, &o))
		return -1;
	*retval = (int)o.retval;
	return o.duration;
}

/* Median over rounds of the mean ns per run; -1 on failure. */
static double repeated_ns(int prog, const uint8_t *f, uint32_t vm, bool track, int *retval)
{
	double ns[BENCH_POL_ROUNDS];

	for (int i = 0; i < BENCH_POL_ROUNDS; i++) {
		struct __sk_buff ctx = { .cb = { PGR_POL_IN, vm, VM_IP, track } };
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = 64, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = BENCH_POL_REPEAT);

		if (bpf_prog_test_run_opts(prog, &o))
			return -1;
		*retval = (int)o.retval;
		ns[i] = o.duration;
	}
	qsort(ns, BENCH_POL_ROUNDS, sizeof(ns[0]), cmp_double);
	return ns[BENCH_POL_ROUNDS / 2];
}

/* The program's cost above the floor, paired: each round runs the floor
 * program and then prog on the same frame, and the median of the rounds'
 * differences is returned, so that a change of the machine's speed between
 * rounds (a loaded, shared machine) falls on both sides of each difference
 * instead of between a floor measured once and a figure measured later. */
static double paired_ns(int prog, int floor, const uint8_t *f, uint32_t vm, bool track,
			int *retval)
{
	double d[BENCH_POL_ROUNDS];

	for (int i = 0; i < BENCH_POL_ROUNDS; i++) {
		double a, b;
		int frv;

		if ((a = one_round_ns(floor, f, vm, false, &frv)) < 0 ||
		    (b = one_round_ns(prog, f, vm, track, retval)) < 0)
			return -1e9;
		d[i] = b - a;
	}
	qsort(d, BENCH_POL_ROUNDS, sizeof(d[0]), cmp_double);
	return d[BENCH_POL_ROUNDS / 2];
}

/* Median of single runs, each with its own source port: every one a new
 * flow that is tracked (the insert included); the same for the floor. */
static double fresh_ns(int prog, uint8_t *f, uint32_t vm, bool track)
{
	double *ns = calloc(BENCH_POL_FRESH, sizeof(*ns)), med;

	for (int i = 0; i < BENCH_POL_FRESH; i++) {
		struct __sk_buff ctx = { .cb = { PGR_POL_IN, vm, VM_IP, track } };
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = 64, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = 1);

		wire_put16(f + 14 + 20, (uint16_t)(10000 + i));
		if (bpf_prog_test_run_opts(prog, &o)) {
			free(ns);
			return -1;
		}
		ns[i] = o.duration;
	}
	qsort(ns, BENCH_POL_FRESH, sizeof(ns[0]), cmp_double);
	med = ns[BENCH_POL_FRESH / 2];
	free(ns);
	return med;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One rule count: compile, install for VM `vm`, time new and established. */
static int ours_case(struct policy *sk, const struct pgr_pol_maps *m, int k, double *fig)
{
	int n = rule_counts[k], prog = bpf_program__fd(sk->progs.pgr_policy_fixture), rv = 0;
	int floor_prog = bpf_program__fd(sk->progs.pgr_policy_floor);
	uint32_t vm = 100 + (uint32_t)k;
	struct pol_policy p;
	struct pol_compiled c;
	struct pol_error e;
	uint8_t f[64];
	char rule[80], net[32];
	double t0;

	pol_init(&p);
	for (int i = 0; i < n; i++) {
		rule_net(i, net, sizeof(net));
		snprintf(rule, sizeof(rule), "in tcp %u from %s", rule_port(i), net);
		if (pol_rule_add(&p, rule, (uint32_t)i + 1, &e))
			goto bad;
	}
	t0 = now_ms();
	if (pol_compile(&p, vm, &c, &e))
		goto bad;
	fig[F_COMPILE0 + k] = now_ms() - t0;
	if (pgr_pol_apply(m, vm, &c, NULL))
		goto bad_maps;
	frame(f, n, 0x02);	/* SYN */
	fig[F_NEW0 + k] = paired_ns(prog, floor_prog, f, vm, false, &rv);
	if (rv != PGR_POL_STAT_NEW)
		goto bad_maps;
	if (k == 1) {	/* 1,000 rules: each run a new flow, tracked */
		double floor = fresh_ns(bpf_program__fd(sk->progs.pgr_policy_floor), f, vm, false);

		fig[F_INSERT] = fresh_ns(prog, f, vm, true) - floor;
		frame(f, n, 0x02);
	}
	repeated_ns(prog, f, vm, true, &rv);	/* now tracked */
	frame(f, n, 0x10);	/* ACK */
	fig[F_EST0 + k] = paired_ns(prog, floor_prog, f, vm, false, &rv);
	if (rv != PGR_POL_STAT_ESTABLISHED)
		goto bad_maps;
	pgr_pol_remove(m, vm, &c);
	pol_compiled_free(&c);
	pol_free(&p);
	return 0;
bad:
	fprintf(stderr, "bench policy: %u rules: line %u: %s: %s\n", n, e.line, e.field, e.msg);
	pol_free(&p);
	return -1;
bad_maps:
	fprintf(stderr, "bench policy: %d rules: unexpected verdict %s\n", n,
		pgr_pol_stat_name((enum pgr_pol_stat)rv));
	pol_compiled_free(&c);
	pol_free(&p);
	return -1;
}

static int ours(double *fig)
{
	struct policy *sk = policy__open_and_load();
	struct pgr_pol_maps m;
	uint8_t f[64];
	int rv, ret = 0;

	if (!sk) {
		fprintf(stderr, "bench policy: cannot load the fixture program\n");
		return -1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(pgr_pol_map_names); i++)
		*pgr_pol_map_slot(&m, i) =
			bpf_map__fd(bpf_object__find_map_by_name(sk->obj, pgr_pol_map_names[i]));
	frame(f, 1, 0x02);
	fig[F_FLOOR] = repeated_ns(bpf_program__fd(sk->progs.pgr_policy_floor), f, 1, false, &rv);
	fig[F_NONE] = paired_ns(bpf_program__fd(sk->progs.pgr_policy_fixture),
				bpf_program__fd(sk->progs.pgr_policy_floor), f, 1, false, &rv);
	for (int k = 0; k < (int)ARRAY_SIZE(rule_counts) && !ret; k++)
		ret = ours_case(sk, &m, k, fig);
	policy__destroy(sk);
	return ret;
}

/* ---- nftables ---------------------------------------------------------------
 * Namespace $P (pgpol-b<pid>) with three veth pairs: pgpola0 -> pgpolb0 (an
 * empty chain), pgpola1 -> pgpolb1 (the list), pgpola2 -> pgpolb2 (the
 * set). */

enum { NFT_EMPTY, NFT_LIST, NFT_SET, NFT_CHAINS };

static int sh(const char *fmt, ...) PRINTF(1, 2);
static int sh(const char *fmt, ...)
{
	char cmd[BENCH_POL_CMD_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd) ? -1 : 0;
}

static void nft_write(FILE *f)
{
	char net[32];

	fprintf(f, "table netdev pgpol {\n"
		   "  set allowed {\n"
		   "    type ipv4_addr . inet_service; flags interval;\n"
		   "    elements = {");
	for (int i = 0; i < BENCH_POL_NFT_RULES; i++) {
		rule_net(i, net, sizeof(net));
		fprintf(f, "%s %s . %u", i ? "," : "", net, rule_port(i));
	}
	fprintf(f, " }\n  }\n"
		   "  chain empty { type filter hook ingress device pgpolb0 priority 0; policy accept; }\n"
		   "  chain rules {\n"
		   "    type filter hook ingress device pgpolb1 priority 0; policy drop;\n");
	for (int i = 0; i < BENCH_POL_NFT_RULES; i++) {
		rule_net(i, net, sizeof(net));
		fprintf(f, "    ip saddr %s tcp dport %u accept\n", net, rule_port(i));
	}
	fprintf(f, "  }\n"
		   "  chain lookup {\n"
		   "    type filter hook ingress device pgpolb2 priority 0; policy drop;\n"
		   "    ip saddr . tcp dport @allowed accept\n"
		   "  }\n}\n");
}

static int nft_setup(const char *ns)
{
	char path[64];
	FILE *f;

	if (sh("ip netns add %s", ns))
		return -1;
	for (int i = 0; i < NFT_CHAINS; i++)
		if (sh("ip -n %s link add pgpola%d type veth peer name pgpolb%d && "
		       "ip -n %s link set pgpola%d up && ip -n %s link set pgpolb%d up",
		       ns, i, i, ns, i, ns, i))
			return -1;
	snprintf(path, sizeof(path), "/tmp/%s.nft", ns);
	f = fopen(path, "w");
	if (!f)
		return -1;
	nft_write(f);
	fclose(f);
	return sh("ip netns exec %s nft -f %s", ns, path);
}

static double send_ns(int fd, int ifindex, const uint8_t *f, int frames)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6 };
	double t0 = now_ms();

	memcpy(to.sll_addr, f, 6);
	for (int i = 0; i < frames; i++)
		if (sendto(fd, f, 64, 0, (struct sockaddr *)&to, sizeof(to)) != 64)
			return -1;
	return (now_ms() - t0) * 1e6 / frames;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return v[n / 2];
}

/* In the namespace (a child): rounds of frames into the three chains, in the
 * order empty, set, list, set, empty; fig: the list's and the set's ns
 * above the empty chain, and the empty chain's ns per frame. */
static int nft_child(void *arg, double *fig, int nfig)
{
	double list[BENCH_POL_NFT_ROUNDS], set[BENCH_POL_NFT_ROUNDS], base[BENCH_POL_NFT_ROUNDS];
	int fd, dev[NFT_CHAINS], one = 1;
	uint8_t f[64];
	char name[32];

	if (cli_enter_netns(arg))
		return -1;
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0)
		return -1;
	for (int i = 0; i < NFT_CHAINS; i++) {
		snprintf(name, sizeof(name), "pgpola%d", i);
		if (!(dev[i] = (int)if_nametoindex(name)))
			return -1;
	}
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	frame(f, BENCH_POL_NFT_RULES, 0x02);
	for (int r = 0; r < BENCH_POL_NFT_ROUNDS; r++) {
		double e0 = send_ns(fd, dev[NFT_EMPTY], f, BENCH_POL_NFT_FRAMES);
		double s0 = send_ns(fd, dev[NFT_SET], f, BENCH_POL_NFT_FRAMES);
		double l = send_ns(fd, dev[NFT_LIST], f, BENCH_POL_NFT_LIST_FRAMES);
		double s1 = send_ns(fd, dev[NFT_SET], f, BENCH_POL_NFT_FRAMES);
		double e1 = send_ns(fd, dev[NFT_EMPTY], f, BENCH_POL_NFT_FRAMES);

		if (e0 < 0 || s0 < 0 || l < 0 || s1 < 0 || e1 < 0)
			return -1;
		base[r] = (e0 + e1) / 2;
		set[r] = (s0 + s1) / 2 - base[r];
		list[r] = l - base[r];
	}
	close(fd);
	fig[0] = median(list, BENCH_POL_NFT_ROUNDS);
	fig[1] = median(set, BENCH_POL_NFT_ROUNDS);
	fig[2] = median(base, BENCH_POL_NFT_ROUNDS);
	return 0;
}

static int nft(double *fig)
{
	char ns[32], path[64];
	double out[3];
	uint64_t rss;
	int ret;

	snprintf(ns, sizeof(ns), "pgpol-b%d", (int)getpid());
	ret = nft_setup(ns);
	if (!ret)
		ret = bench_in_child(nft_child, ns, out, 3, &rss);
	sh("ip netns del %s 2>/dev/null", ns);
	snprintf(path, sizeof(path), "/tmp/%s.nft", ns);
	unlink(path);
	if (ret) {
		fprintf(stderr, "bench policy: the nftables run failed\n");
		return -1;
	}
	fig[F_NFT] = out[0];
	fig[F_NFT_SET] = out[1];
	fig[F_NFT_BASE] = out[2];
	return 0;
}

/* ---- --rate: a VM's egress limit at 1 Gbit/s (scripts/bench-policy-rate.sh) */

/* Run the script under `timeout`; its last line, parsed; NULL on failure. */
static json_t *rate_run(void)
{
	char exe[4096], script[4300], cmd[9000], *out = xcalloc(1, BENCH_POL_RATE_OUT), *last;
	json_t *j = NULL;
	size_t n = 0, r;
	FILE *p;

	if (cli_find_script("bench-policy-rate.sh", exe, sizeof(exe), script, sizeof(script))) {
		fprintf(stderr, "bench policy: scripts/bench-policy-rate.sh not found (set PEREGRINE_SCRIPTS)\n");
		goto out;
	}
	snprintf(cmd, sizeof(cmd), "PEREGRINE='%s' timeout -s TERM %d bash '%s' --json", exe,
		 BENCH_POL_RATE_TIMEOUT_S, script);
	if (!(p = popen(cmd, "r")))
		goto out;
	while (n < BENCH_POL_RATE_OUT - 1 && (r = fread(out + n, 1, BENCH_POL_RATE_OUT - 1 - n, p)))
		n += r;
	if (pclose(p) != 0)
		goto out;
	while (n && out[n - 1] == '\n')
		out[--n] = '\0';
	last = strrchr(out, '\n');
	last = last ? last + 1 : out;
	if (!(j = json_loads(last, 0, NULL)) || !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
out:
	if (!j)
		fprintf(stderr, "bench policy: the rate script failed\n");
	free(out);
	return j;
}

/* --rate: the script's keys into res; targets: the limit within 5% and
 * each of two flows of the VM at least 90% of an even share. */
static int bench_policy_rate(const struct bench_opts *o, json_t *res)
{
	json_t *j = rate_run();
	double err, share;
	bool ok;

	if (!j)
		return 1;
	json_object_update(res, j);
	err = json_number_value(json_object_get(j, "rate_limit_error_pct"));
	share = json_number_value(json_object_get(j, "share_min_pct"));
	ok = json_is_number(json_object_get(j, "rate_limit_error_pct")) &&
	     err <= BENCH_POL_RATE_ERR_PCT && share >= BENCH_POL_RATE_SHARE_PCT;
	JSET(res, "meets_targets", JBOOL(ok));
	if (!o->json)
		printf("policy --rate: %.3f Gbit/s limit: %.3f on the wire (%.2f%% off, target <= %.0f%%), "
		       "two flows %.0f%% of an even share at least (target >= %.0f%%); the path "
		       "unlimited %.3f and %.3f Gbit/s\n  %s\n",
		       json_number_value(json_object_get(j, "rate_gbps")),
		       json_number_value(json_object_get(j, "limited_wire_gbps")), err,
		       BENCH_POL_RATE_ERR_PCT, share, BENCH_POL_RATE_SHARE_PCT,
		       json_number_value(json_object_get(j, "path_gbps")),
		       json_number_value(json_object_get(j, "path_after_gbps")),
		       ok ? "targets met" : "MISSES A TARGET");
	json_decref(j);
	return ok ? 0 : 1;
}

static double ratio_of(double ours, double theirs)
{
	return theirs > 0 ? ours / theirs : -1;
}

int bench_policy(const struct bench_opts *o, json_t *res)
{
	double fig[F_N] = { 0 }, est = 0, ratio, r_list, r_set;
	char key[32];
	bool ok;

	if (geteuid() != 0) {
		fprintf(stderr, "bench policy: needs root (BPF_PROG_TEST_RUN, namespaces)\n");
		return 1;
	}
	for (int i = 0; i < o->argc; i++)
		if (strcmp(o->argv[i], "--rate")) {
			fprintf(stderr, "bench policy: unknown option '%s' (--rate)\n", o->argv[i]);
			return 2;
		}
	if (o->argc)
		return bench_policy_rate(o, res);
	if (ours(fig) || nft(fig))
		return 1;
	for (int k = 0; k < (int)ARRAY_SIZE(rule_counts); k++)
		est = MAX(est, fig[F_EST0 + k]);
	r_list = ratio_of(fig[F_NEW0 + 1], fig[F_NFT]);
	r_set = ratio_of(fig[F_NEW0 + 1], fig[F_NFT_SET]);
	/* against the stronger (cheaper) nftables of this run; a set measured
	 * at no cost at all leaves no ratio (-1), a miss */
	ratio = r_list < 0 || r_set < 0 ? -1 : MAX(r_list, r_set);
	ok = est <= BENCH_POL_EST_NS && ratio >= 0 && ratio <= BENCH_POL_RATIO;
	JSET(res, "established_ns", JREAL(est));
	for (int k = 0; k < (int)ARRAY_SIZE(rule_counts); k++) {
		snprintf(key, sizeof(key), "new_flow_ns_%d", rule_counts[k]);
		JSET(res, key, JREAL(fig[F_NEW0 + k]));
		snprintf(key, sizeof(key), "established_ns_%d", rule_counts[k]);
		JSET(res, key, JREAL(fig[F_EST0 + k]));
		snprintf(key, sizeof(key), "compile_ms_%d", rule_counts[k]);
		JSET(res, key, JREAL(fig[F_COMPILE0 + k]));
	}
	JSET(res, "new_flow_tracked_ns_1000", JREAL(fig[F_INSERT]));
	JSET(res, "no_policy_ns", JREAL(fig[F_NONE]));
	JSET(res, "floor_ns", JREAL(fig[F_FLOOR]));
	JSET(res, "nft_ns_1000", JREAL(fig[F_NFT]));
	JSET(res, "nft_set_ns_1000", JREAL(fig[F_NFT_SET]));
	JSET(res, "nft_path_ns", JREAL(fig[F_NFT_BASE]));
	JSET(res, "ratio_nft", JREAL(ratio));
	JSET(res, "ratio_nft_list", JREAL(r_list));
	JSET(res, "ratio_nft_set", JREAL(r_set));
	JSET(res, "meets_targets", JBOOL(ok));
	if (o->json)
		return ok ? 0 : 1;
	printf("policy: ns added per packet, BPF_PROG_TEST_RUN, 64-byte TCP frames, repeat %d, "
	       "median of %d, floor %.1f ns\n"
	       "  VM without a policy                        %7.1f ns\n",
	       BENCH_POL_REPEAT, BENCH_POL_ROUNDS, fig[F_FLOOR], fig[F_NONE]);
	for (int k = 0; k < (int)ARRAY_SIZE(rule_counts); k++)
		printf("  %5d rules: new flow (lookup) %7.1f ns, established %6.1f ns, compile %7.1f ms\n",
		       rule_counts[k], fig[F_NEW0 + k], fig[F_EST0 + k], fig[F_COMPILE0 + k]);
	printf("  1000 rules: new flow with the tracker's insert, single runs (median of %d) %.0f ns\n",
	       BENCH_POL_FRESH, fig[F_INSERT]);
	printf("nftables: %d rules, netdev ingress, AF_PACKET into a veth, median of %d rounds "
	       "(path without rules: %.1f ns)\n"
	       "  one rule per line                          %7.1f ns   ratio ours / it %.4f\n"
	       "  a concatenated set (saddr . dport)         %7.1f ns   ratio ours / it %.4f\n"
	       "  ratio_nft (against the stronger)           %7.3f     (target <= %.1f)\n"
	       "  established                                %7.1f ns   (target <= %d)\n  %s\n",
	       BENCH_POL_NFT_RULES, BENCH_POL_NFT_ROUNDS, fig[F_NFT_BASE], fig[F_NFT], r_list,
	       fig[F_NFT_SET], r_set, ratio, BENCH_POL_RATIO, est, BENCH_POL_EST_NS,
	       ok ? "targets met" : "MISSES A TARGET");
	return ok ? 0 : 1;
}
