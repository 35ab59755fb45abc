/* Security groups: the parser's refusals (field by field), the compiled
 * lookup of bpf/policy.h through BPF_PROG_TEST_RUN against the naive
 * evaluator of agent/policy.c on random rules and packets (the WireGuard
 * allowedips habit), and the connection tracker's verdicts in sequences:
 * a connection's first packets, out-of-window and unsolicited segments,
 * fragments, ICMP errors about tracked and untracked flows, an update that
 * keeps what the new rules allow and drops what they do not.  Needs root
 * (CAP_BPF) for the data-plane cases; without it they are skipped. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/policy.h"
#include "bpf/policy_maps.h"
#include "lib/common.h"
#include "lib/rng.h"
#include "policy.skel.h"
#include "wire/be.h"
#include "wire/eth.h"

#define IP(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

static bool have_root;
static struct policy *sk;
static struct pgr_pol_maps maps;
static int prog;

/* ---- packets ------------------------------------------------------------ */

enum { FIN = 0x01, SYN = 0x02, RST = 0x04, ACK = 0x10 };

struct pk {
	uint8_t proto;
	uint32_t saddr, daddr;
	uint16_t sport, dport;	/* host order; ICMP echo: sport is the identifier */
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t frag;		/* host order */
	uint16_t payload;
	uint8_t icmp_type;	/* ICMP */
	const struct pk *quote;	/* ICMP error: the packet it quotes */
	size_t trunc;		/* nonzero: cut the frame to this length */
};

static size_t build_ip(const struct pk *p, uint8_t *b)
{
	size_t l4 = p->proto == WIRE_IPPROTO_TCP ? 20 : 8, n = 20 + l4 + p->payload;
	uint8_t *t = b + 20;

	memset(b, 0, n);
	b[0] = 0x45;
	wire_put16(b + 4, 0);
	b[6] = (uint8_t)(p->frag >> 8);
	b[7] = (uint8_t)p->frag;
	b[8] = 64;
	b[9] = p->proto;
	memcpy(b + 12, &p->saddr, 4);
	memcpy(b + 16, &p->daddr, 4);
	if (p->proto == WIRE_IPPROTO_TCP) {
		wire_put16(t, p->sport);
		wire_put16(t + 2, p->dport);
		wire_put32(t + 4, p->seq);
		wire_put32(t + 8, p->ack);
		t[12] = 5 << 4;
		t[13] = p->flags;
		wire_put16(t + 14, 65535);
	} else if (p->proto == WIRE_IPPROTO_ICMP) {
		t[0] = p->icmp_type;
		wire_put16(t + 4, p->sport);
		if (p->quote) {
			size_t q = build_ip(p->quote, t + 8);

			q = q < 28 ? q : 28;	/* header and 8 bytes, as routers quote */
			n = 20 + 8 + q;
		}
	} else {
		wire_put16(t, p->sport);
		wire_put16(t + 2, p->dport);
		wire_put16(t + 4, (uint16_t)(8 + p->payload));
	}
	wire_put16(b + 2, (uint16_t)n);
	return n;
}

static size_t build(const struct pk *p, uint8_t *f)
{
	static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 1 };
	size_t n;

	memcpy(f, mac, 6);
	memcpy(f + 6, mac, 6);
	wire_put16(f + 12, WIRE_ETH_P_IPV4);
	n = 14 + build_ip(p, f + 14);
	if (n < 60) {
		memset(f + n, 0, 60 - n);	/* Ethernet's minimum */
		n = 60;
	}
	return p->trunc ? p->trunc : n;
}

static int run_frame(const uint8_t *f, size_t len, uint8_t dir, uint32_t vm_id, uint32_t vm_ip,
		     bool track)
{
	struct __sk_buff ctx = { .cb = { dir, vm_id, vm_ip, track } };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = (uint32_t)len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);

	assert_int_equal(bpf_prog_test_run_opts(prog, &o), 0);
	return (int)o.retval;
}

static int run(const struct pk *p, uint8_t dir, uint32_t vm_id, uint32_t vm_ip, bool track)
{
	uint8_t f[256];

	return run_frame(f, build(p, f), dir, vm_id, vm_ip, track);
}

static void expect(int got, enum pgr_pol_stat want, const char *what)
{
	if (got != (int)want)
		fail_msg("%s: got %s, want %s", what, pgr_pol_stat_name((enum pgr_pol_stat)got),
			 pgr_pol_stat_name(want));
}

/* ---- setup --------------------------------------------------------------- */

static int setup(void **state)
{
	have_root = geteuid() == 0;
	if (!have_root)
		return 0;
	sk = policy__open_and_load();
	if (!sk)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(pgr_pol_map_names); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(sk->obj, pgr_pol_map_names[i]);

		if (!m)
			return -1;
		*pgr_pol_map_slot(&maps, i) = bpf_map__fd(m);
	}
	prog = bpf_program__fd(sk->progs.pgr_policy_fixture);
	return 0;
}

static int teardown(void **state)
{
	policy__destroy(sk);
	return 0;
}

/* Parse rules (one per line) into p; fails the test on a refusal. */
static void rules(struct pol_policy *p, const char *const *r, size_t n)
{
	struct pol_error e;

	for (size_t i = 0; i < n; i++)
		if (pol_rule_add(p, r[i], (uint32_t)i + 1, &e))
			fail_msg("rule '%s': %s: %s", r[i], e.field, e.msg);
}

static void install(uint32_t vm, const struct pol_policy *p, uint32_t set,
		    struct pol_compiled *c, struct pol_compiled *old)
{
	struct pol_error e;

	if (pol_compile(p, set, c, &e))
		fail_msg("compile: line %u: %s: %s", e.line, e.field, e.msg);
	assert_int_equal(pgr_pol_apply(&maps, vm, c, old), 0);
}

/* ---- the parser ------------------------------------------------------------ */

static void refused(struct pol_policy *p, const char *rule, const char *field)
{
	struct pol_error e = { 0 };

	if (!pol_rule_add(p, rule, 7, &e))
		fail_msg("'%s' was accepted", rule);
	assert_int_equal(e.line, 7);
	if (strcmp(e.field, field))
		fail_msg("'%s': field %s (%s), want %s", rule, e.field, e.msg, field);
}

static void test_parse(void **state)
{
	static const char *const web[] = { "10.0.1.1", "10.0.2.0/24" };
	static const char *const bad[] = { "10.0.1.1/24" };
	struct pol_policy p;
	struct pol_error e;
	char r[64];

	pol_init(&p);
	assert_int_equal(pol_group_add(&p, "web", web, 2, 1, &e), 0);
	assert_int_equal(pol_group_add(&p, "web", web, 2, 2, &e), -1);
	assert_string_equal(e.field, "group");
	assert_int_equal(pol_group_add(&p, "db", bad, 1, 3, &e), -1);
	assert_string_equal(e.field, "member");
	assert_int_equal(pol_rule_add(&p, "in tcp 80 from 10.0.0.0/24", 4, &e), 0);
	assert_int_equal(pol_rule_add(&p, "in tcp 8000-8080 from group web", 5, &e), 0);
	assert_int_equal(pol_rule_add(&p, "out any to any", 6, &e), 0);
	assert_int_equal(pol_rule_add(&p, "in icmp from any", 6, &e), 0);
	refused(&p, "sideways tcp 80 from any", "direction");
	refused(&p, "in tcpx 80 from any", "protocol");
	refused(&p, "in tcp 90-80 from any", "ports");
	refused(&p, "in tcp 65536 from any", "ports");
	refused(&p, "in icmp 5 from any", "ports");
	refused(&p, "in tcp 80 to 10.0.0.0/24", "peer-word");
	refused(&p, "out tcp 80 from 10.0.0.0/24", "peer-word");
	refused(&p, "in tcp 80 from 10.0.0.1/24", "peer");
	refused(&p, "in tcp 80 from 10.0.0.0/33", "peer");
	refused(&p, "in tcp 80 from", "peer");
	refused(&p, "in tcp 80 from group nope", "group");
	refused(&p, "in tcp 80 from 10.0.0.0/24", "rule");	/* same as line 4 */
	refused(&p, "in tcp 80 from any extra words here", "rule");
	assert_int_equal(p.nrules, 4);
	pol_free(&p);

	pol_init(&p);	/* the rule limit */
	for (int i = 0; i < PGR_POL_RULES_MAX; i++) {
		snprintf(r, sizeof(r), "in udp %d from 10.%d.%d.0/24", 1000 + i % 50, i / 256 % 256,
			 i % 256);
		assert_int_equal(pol_rule_add(&p, r, (uint32_t)i + 1, &e), 0);
	}
	refused(&p, "in tcp 1 from any", "rule");
	pol_free(&p);
}

/* A policy whose compiled form passes the limit is refused with the rule. */
static void test_compile_limit(void **state)
{
	struct pol_policy p;
	struct pol_compiled c;
	struct pol_error e;
	char r[64];

	pol_init(&p);
	/* nested ranges: every one of the 2,000 intervals is covered by a
	 * growing set of rules, so the peer entries grow with its square */
	for (int i = 0; i < 2000; i++) {
		snprintf(r, sizeof(r), "in tcp %d-%d from 10.0.%d.%d", 2000 - i, 2000 + i,
			 i / 256, i % 256);
		assert_int_equal(pol_rule_add(&p, r, (uint32_t)i + 1, &e), 0);
	}
	assert_int_equal(pol_compile(&p, 1, &c, &e), -1);
	assert_string_equal(e.field, "rule");
	assert_true(e.line >= 1 && e.line <= 2000);
	assert_non_null(strstr(e.msg, "entries"));
	pol_free(&p);
}

/* ---- random rules and packets against the naive evaluator ------------------ */

static uint32_t rnd(struct rng *g, uint32_t n)
{
	return (uint32_t)(rng_next(g) % n);
}

static uint16_t rnd_port(struct rng *g, const struct pol_policy *p)
{
	if (p->nrules && rnd(g, 3)) {	/* near a rule's bound */
		const struct pol_rule *r = &p->rules[rnd(g, (uint32_t)p->nrules)];
		int d = (int)rnd(g, 3) - 1, v = (rnd(g, 2) ? r->port_lo : r->port_hi) + d;

		return (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : v);
	}
	return (uint16_t)rnd(g, 3) ? (uint16_t)rnd(g, 2100) : (uint16_t)rnd(g, 65536);
}

/* an address in 10.0.0.0/20, where the rules' prefixes are */
static uint32_t rnd_ip(struct rng *g)
{
	if (!rnd(g, 10))
		return IP(192, 0, 2, rnd(g, 256));
	return IP(10, 0, rnd(g, 16), rnd(g, 256));
}

static void rnd_prefix(struct rng *g, char *out, size_t n)
{
	static const int plens[] = { 0, 8, 16, 20, 22, 24, 26, 28, 30, 32, 32, 32 };
	int plen = plens[rnd(g, ARRAY_SIZE(plens))];
	uint32_t ip = ntohl(rnd_ip(g)), mask = plen ? ~0u << (32 - plen) : 0;
	struct in_addr a = { htonl(ip & mask) };

	snprintf(out, n, "%s/%d", inet_ntoa(a), plen);
}

/* nrules random rules; ranges up to maxw ports wide */
static void rnd_policy(struct rng *g, struct pol_policy *p, int nrules, uint32_t maxw)
{
	static const char *const protos[] = { "tcp", "tcp", "udp", "udp", "icmp", "any" };
	char members[4][24], rule[128], peer[40];
	const char *mv[4];
	struct pol_error e;

	for (int k = 0; k < 2; k++) {
		uint32_t n = 1 + rnd(g, 4);

		for (uint32_t i = 0; i < n; i++) {
			rnd_prefix(g, members[i], sizeof(members[i]));
			mv[i] = members[i];
		}
		assert_int_equal(pol_group_add(p, k ? "g1" : "g0", mv, n, 1, &e), 0);
	}
	for (int i = 0; i < nrules; i++) {
		bool in = rnd(g, 4) != 0;
		const char *proto = protos[rnd(g, ARRAY_SIZE(protos))];
		char ports[24] = "";

		if (!strcmp(proto, "tcp") || !strcmp(proto, "udp")) {
			uint32_t lo = rnd(g, 2000), w = rnd(g, 3) ? 0 : rnd(g, maxw + 1);

			if (rnd(g, 5))
				snprintf(ports, sizeof(ports), w ? "%u-%u" : "%u", lo, lo + w);
		}
		if (rnd(g, 5))
			rnd_prefix(g, peer, sizeof(peer));
		else
			snprintf(peer, sizeof(peer), "group g%u", rnd(g, 2));
		snprintf(rule, sizeof(rule), "%s %s %s %s %s", in ? "in" : "out", proto, ports,
			 in ? "from" : "to", peer);
		pol_rule_add(p, rule, (uint32_t)i + 1, &e);	/* a duplicate is refused: fine */
	}
}

/* Returns how many of the packets the rules allowed. */
static int random_round(struct rng *g, int nrules, uint32_t set, struct pol_compiled *c,
			struct pol_compiled *old, int npackets)
{
	static const uint8_t protos[] = { WIRE_IPPROTO_TCP, WIRE_IPPROTO_UDP, WIRE_IPPROTO_ICMP, 47 };
	const uint32_t vm = 50, vm_ip = IP(10, 0, 0, 1);
	struct pol_policy p;
	int allowed = 0;

	pol_init(&p);
	rnd_policy(g, &p, nrules, nrules > 500 ? 20 : 300);
	install(vm, &p, set, c, old);
	for (int i = 0; i < npackets; i++) {
		uint8_t dir = (uint8_t)rnd(g, 2), proto = protos[rnd(g, ARRAY_SIZE(protos))];
		uint32_t peer = rnd_ip(g);
		uint16_t port = rnd_port(g, &p);
		struct pk k = { .proto = proto, .flags = SYN, .seq = 1, .icmp_type = 8,
				.sport = (uint16_t)(1024 + rnd(g, 60000)), .dport = port };
		bool want;
		int got;

		if (proto == WIRE_IPPROTO_ICMP)
			k.sport = port;	/* the echo identifier: no part in the verdict */
		k.saddr = dir == PGR_POL_OUT ? vm_ip : peer;
		k.daddr = dir == PGR_POL_OUT ? peer : vm_ip;
		want = pol_naive_allows(&p, dir, proto, port, peer);
		got = run(&k, dir, vm, vm_ip, false);
		if (got != (want ? PGR_POL_STAT_NEW : PGR_POL_STAT_DROP_RULE))
			fail_msg("round %u: %s proto %u port %u peer %s: got %s, naive says %s",
				 set, dir ? "out" : "in", proto, port,
				 inet_ntoa((struct in_addr){ peer }),
				 pgr_pol_stat_name((enum pgr_pol_stat)got), want ? "allow" : "deny");
		allowed += want;
	}
	pol_free(&p);
	return allowed;
}

static void test_random_vs_naive(void **state)
{
	struct pol_compiled c[2] = { 0 };
	struct rng g;
	uint32_t set = 1;
	int allowed = 0, n = 0;

	if (!have_root)
		skip();
	rng_seed(&g, 23);
	for (int round = 0; round < 40; round++, set++) {
		n += 400;
		allowed += random_round(&g, 1 + (int)rnd(&g, 80), set, &c[set & 1], set > 1 ? &c[(set - 1) & 1] : NULL,
			     400);
		pol_compiled_free(&c[(set - 1) & 1]);
	}
	/* many rules */
	n += 3000;
	allowed += random_round(&g, 3000, set, &c[set & 1], &c[(set - 1) & 1], 3000);
	/* both verdicts, many times each */
	assert_true(allowed > n / 10 && allowed < n - n / 10);
	pol_compiled_free(&c[(set - 1) & 1]);
	pol_compiled_free(&c[set & 1]);
}

/* ---- the connection tracker ------------------------------------------------ */

enum { VM = 200, NOPOL = 999 };
#define VM_IP IP(10, 0, 0, 1)
#define PEER IP(10, 0, 1, 5)

static struct pk tcp_in(uint32_t peer, uint16_t sport, uint16_t dport, uint8_t flags,
			uint32_t seq, uint32_t ack)
{
	return (struct pk){ .proto = WIRE_IPPROTO_TCP, .saddr = peer, .daddr = VM_IP,
			    .sport = sport, .dport = dport, .flags = flags, .seq = seq, .ack = ack };
}

static struct pk tcp_out(uint32_t peer, uint16_t sport, uint16_t dport, uint8_t flags,
			 uint32_t seq, uint32_t ack)
{
	return (struct pk){ .proto = WIRE_IPPROTO_TCP, .saddr = VM_IP, .daddr = peer,
			    .sport = sport, .dport = dport, .flags = flags, .seq = seq, .ack = ack };
}

static int in(const struct pk *p)
{
	return run(p, PGR_POL_IN, VM, VM_IP, true);
}

static int out(const struct pk *p)
{
	return run(p, PGR_POL_OUT, VM, VM_IP, true);
}

static void test_tracker(void **state)
{
	static const char *const v1[] = { "in tcp 80 from 10.0.1.0/24", "in udp 53 from any",
					  "in icmp from 10.0.1.0/24" };
	struct pol_compiled c = { 0 };
	struct pol_policy p;
	struct pk k, q;

	if (!have_root)
		skip();
	pol_init(&p);
	rules(&p, v1, ARRAY_SIZE(v1));
	install(VM, &p, 1000, &c, NULL);

	k = tcp_in(PEER, 40000, 80, SYN, 1000, 0);
	expect(in(&k), PGR_POL_STAT_NEW, "SYN in, allowed");
	k = tcp_out(PEER, 80, 40000, SYN | ACK, 5000, 1001);
	expect(out(&k), PGR_POL_STAT_ESTABLISHED, "SYN-ACK out");
	k = tcp_in(PEER, 40000, 80, ACK, 1001, 5001);
	k.payload = 100;
	expect(in(&k), PGR_POL_STAT_ESTABLISHED, "data in");
	k = tcp_in(PEER, 40000, 80, ACK, 1101 + (1u << 25), 5001);
	expect(in(&k), PGR_POL_STAT_DROP_WINDOW, "sequence out of window");
	k = tcp_in(PEER, 40000, 80, ACK, 1101, 5001 + 100000);
	expect(in(&k), PGR_POL_STAT_DROP_WINDOW, "acknowledges what was never sent");
	k = tcp_in(PEER, 40000, 80, RST, 1101 - (1u << 25), 0);
	expect(in(&k), PGR_POL_STAT_DROP_WINDOW, "blind reset");
	k = tcp_out(PEER, 80, 40000, ACK, 5001, 1101);
	expect(out(&k), PGR_POL_STAT_ESTABLISHED, "ACK out");

	k = tcp_in(IP(10, 0, 1, 6), 40001, 80, ACK, 1, 1);
	expect(in(&k), PGR_POL_STAT_DROP_UNSOLICITED, "ACK with no connection");
	k = tcp_in(IP(10, 0, 1, 6), 40001, 80, SYN | ACK, 1, 1);
	expect(in(&k), PGR_POL_STAT_DROP_UNSOLICITED, "SYN-ACK with no connection");
	k = tcp_in(IP(10, 0, 2, 5), 40000, 80, SYN, 1, 0);
	expect(in(&k), PGR_POL_STAT_DROP_RULE, "SYN from outside the prefix");
	k = tcp_in(PEER, 40000, 81, SYN, 1, 0);
	expect(in(&k), PGR_POL_STAT_DROP_RULE, "SYN to another port");

	k = (struct pk){ .proto = WIRE_IPPROTO_UDP, .saddr = PEER, .daddr = VM_IP,
			 .sport = 5353, .dport = 53, .frag = 0x2000 };
	expect(in(&k), PGR_POL_STAT_DROP_FRAG, "first fragment (MF)");
	k.frag = 0x0010;
	expect(in(&k), PGR_POL_STAT_DROP_FRAG, "later fragment");
	k.frag = 0;
	k.trunc = 14 + 20 + 4;
	expect(in(&k), PGR_POL_STAT_DROP_SHORT, "truncated UDP header");

	/* ICMP errors to the VM quoting a packet it sent */
	q = tcp_out(PEER, 80, 40000, ACK, 5001, 1101);
	k = (struct pk){ .proto = WIRE_IPPROTO_ICMP, .saddr = IP(10, 0, 9, 9), .daddr = VM_IP,
			 .icmp_type = 3, .quote = &q };
	expect(in(&k), PGR_POL_STAT_RELATED, "unreachable about a tracked connection");
	q.daddr = IP(10, 0, 1, 9);
	expect(in(&k), PGR_POL_STAT_DROP_ICMP_UNRELATED, "unreachable about another flow");
	q = tcp_out(PEER, 80, 40000, ACK, 5001, 1101);
	q.saddr = IP(10, 0, 0, 2);
	expect(in(&k), PGR_POL_STAT_DROP_ICMP_BAD, "unreachable quoting another VM's packet");

	/* outbound: no out rules, so allowed, and the reply is tracked */
	k = (struct pk){ .proto = WIRE_IPPROTO_UDP, .saddr = VM_IP, .daddr = IP(192, 0, 2, 53),
			 .sport = 33000, .dport = 53 };
	expect(out(&k), PGR_POL_STAT_NEW, "UDP out");
	k = (struct pk){ .proto = WIRE_IPPROTO_UDP, .saddr = IP(192, 0, 2, 53), .daddr = VM_IP,
			 .sport = 53, .dport = 33000 };
	expect(in(&k), PGR_POL_STAT_ESTABLISHED, "UDP reply in");
	k.dport = 33001;
	expect(in(&k), PGR_POL_STAT_DROP_RULE, "UDP in to a port nobody asked from");
	k = (struct pk){ .proto = WIRE_IPPROTO_ICMP, .saddr = PEER, .daddr = VM_IP,
			 .icmp_type = 8, .sport = 7 };
	expect(in(&k), PGR_POL_STAT_NEW, "ping in");
	k = (struct pk){ .proto = WIRE_IPPROTO_ICMP, .saddr = VM_IP, .daddr = PEER,
			 .icmp_type = 0, .sport = 7 };
	expect(out(&k), PGR_POL_STAT_ESTABLISHED, "ping reply out");

	expect(run(&k, PGR_POL_OUT, NOPOL, VM_IP, true), PGR_POL_STAT_NONE, "VM without policy");
	{
		uint8_t arp[60] = { 0 };

		wire_put16(arp + 12, WIRE_ETH_P_ARP);
		expect(run_frame(arp, sizeof(arp), PGR_POL_IN, VM, VM_IP, true),
		       PGR_POL_STAT_NOT_IP, "ARP");
	}
	pgr_pol_remove(&maps, VM, &c);
	pol_compiled_free(&c);
	pol_free(&p);
}

/* An update keeps the connections the new rules allow and drops the rest,
 * at their next packet. */
static void test_update(void **state)
{
	static const char *const v1[] = { "in tcp 80 from 10.0.1.0/24" };
	static const char *const v2[] = { "in tcp 80 from 10.0.1.5", "in tcp 443 from any" };
	struct pol_compiled c1 = { 0 }, c2 = { 0 };
	struct pol_policy p1, p2;
	struct pgr_counter st[PGR_POL_STAT_COUNT];
	struct pk k;

	if (!have_root)
		skip();
	pol_init(&p1);
	pol_init(&p2);
	rules(&p1, v1, ARRAY_SIZE(v1));
	rules(&p2, v2, ARRAY_SIZE(v2));
	install(VM + 1, &p1, 2000, &c1, NULL);
	k = tcp_in(PEER, 41000, 80, SYN, 1, 0);
	expect(run(&k, PGR_POL_IN, VM + 1, VM_IP, true), PGR_POL_STAT_NEW, "kept: SYN");
	k = tcp_in(IP(10, 0, 1, 7), 41000, 80, SYN, 1, 0);
	expect(run(&k, PGR_POL_IN, VM + 1, VM_IP, true), PGR_POL_STAT_NEW, "revoked: SYN");
	k = tcp_in(IP(10, 0, 1, 7), 41001, 443, SYN, 1, 0);
	expect(run(&k, PGR_POL_IN, VM + 1, VM_IP, true), PGR_POL_STAT_DROP_RULE, "443 before");

	install(VM + 1, &p2, 2001, &c2, &c1);
	k = tcp_in(PEER, 41000, 80, ACK, 2, 0);
	expect(run(&k, PGR_POL_IN, VM + 1, VM_IP, true), PGR_POL_STAT_ESTABLISHED,
	       "still allowed after the update");
	k = tcp_out(PEER, 80, 41000, ACK, 1, 2);
	expect(run(&k, PGR_POL_OUT, VM + 1, VM_IP, true), PGR_POL_STAT_ESTABLISHED,
	       "its reply after the update");
	k = tcp_in(IP(10, 0, 1, 7), 41000, 80, ACK, 2, 0);
	expect(run(&k, PGR_POL_IN, VM + 1, VM_IP, true), PGR_POL_STAT_DROP_REVOKED,
	       "no longer allowed");
	expect(run(&k, PGR_POL_IN, VM + 1, VM_IP, true), PGR_POL_STAT_DROP_UNSOLICITED,
	       "and forgotten");
	k = tcp_in(IP(10, 0, 1, 7), 41001, 443, SYN, 1, 0);
	expect(run(&k, PGR_POL_IN, VM + 1, VM_IP, true), PGR_POL_STAT_NEW, "443 after");

	/* the old set's entries are gone: only the new one's remain */
	{
		struct pgr_pol_port_key pk = { 0 }, next;
		size_t n = 0;

		while (!bpf_map_get_next_key(maps.port, n ? &pk : NULL, &next)) {
			if (next.set == 2000)
				fail_msg("an entry of the old set is left");
			pk = next;
			n++;
		}
	}
	assert_int_equal(pgr_pol_stats_read(&maps, st), 0);
	assert_true(st[PGR_POL_STAT_DROP_REVOKED].packets >= 1);
	pgr_pol_remove(&maps, VM + 1, &c2);
	pol_compiled_free(&c1);
	pol_compiled_free(&c2);
	pol_free(&p1);
	pol_free(&p2);
}

/* The slot shortcut (pgr_pol_slots): a VM without a policy that shares a
 * policed VM's slot is still not policed, its fragments included; a
 * removed policy forgets the VM's connections at their next packet, so the
 * same flow under a policy installed again must open anew. */
static void test_slots(void **state)
{
	static const char *const v[] = { "in tcp 80 from 10.0.1.0/24" };
	const uint32_t vm = VM + 2, other = VM + 2 + PGR_POL_SLOTS;
	struct pgr_ct_key ck = { .vm = vm, .peer = PEER, .lport = htons(80), .pport = htons(42000),
				 .proto = WIRE_IPPROTO_TCP };
	struct pol_compiled c = { 0 }, c2 = { 0 };
	struct pol_policy p;
	struct pgr_ct ct;
	struct pk k;

	if (!have_root)
		skip();
	pol_init(&p);
	rules(&p, v, ARRAY_SIZE(v));
	install(vm, &p, 3000, &c, NULL);
	k = tcp_in(PEER, 42000, 80, SYN, 1, 0);
	k.frag = 0x2000;	/* MF */
	expect(run(&k, PGR_POL_IN, other, VM_IP, true), PGR_POL_STAT_NONE,
	       "a fragment to an unpoliced VM of a policed slot");
	expect(run(&k, PGR_POL_IN, vm, VM_IP, true), PGR_POL_STAT_DROP_FRAG,
	       "the same fragment to the policed VM");
	k = tcp_in(PEER, 42000, 22, SYN, 1, 0);
	expect(run(&k, PGR_POL_IN, other, VM_IP, true), PGR_POL_STAT_NONE, "port 22, unpoliced");
	expect(run(&k, PGR_POL_IN, vm, VM_IP, true), PGR_POL_STAT_DROP_RULE, "port 22, policed");
	k = tcp_in(PEER, 42000, 80, ACK, 2, 0);
	expect(run(&k, PGR_POL_IN, other, VM_IP, true), PGR_POL_STAT_NONE, "an ACK, unpoliced");
	k = tcp_in(PEER, 42000, 80, SYN, 1, 0);
	expect(run(&k, PGR_POL_IN, vm, VM_IP, true), PGR_POL_STAT_NEW, "SYN");
	k = tcp_in(PEER, 42000, 80, ACK, 2, 0);
	expect(run(&k, PGR_POL_IN, vm, VM_IP, true), PGR_POL_STAT_ESTABLISHED, "ACK");
	assert_int_equal(bpf_map_lookup_elem(maps.ct, &ck, &ct), 0);

	assert_int_equal(pgr_pol_remove(&maps, vm, &c), 0);
	expect(run(&k, PGR_POL_IN, other, VM_IP, true), PGR_POL_STAT_NONE, "the slot is empty");
	expect(run(&k, PGR_POL_IN, vm, VM_IP, true), PGR_POL_STAT_NONE, "policy removed");
	assert_int_equal(bpf_map_lookup_elem(maps.ct, &ck, &ct), 0);	/* the slot empty: not read */

	install(other, &p, 3001, &c2, NULL);	/* the slot policed again, by the other VM */
	expect(run(&k, PGR_POL_IN, vm, VM_IP, true), PGR_POL_STAT_NONE,
	       "policy removed, the slot policed by another VM");
	assert_int_not_equal(bpf_map_lookup_elem(maps.ct, &ck, &ct), 0);	/* forgotten */
	pol_compiled_free(&c);
	install(vm, &p, 3002, &c, NULL);
	expect(run(&k, PGR_POL_IN, vm, VM_IP, true), PGR_POL_STAT_DROP_UNSOLICITED,
	       "policy installed again: the old connection must open anew");
	pgr_pol_remove(&maps, vm, &c);
	pgr_pol_remove(&maps, other, &c2);
	pol_compiled_free(&c);
	pol_compiled_free(&c2);
	pol_free(&p);
}

static void test_rate(void **state)
{
	struct pol_tbf t;
	struct pol_error e;

	assert_int_equal(pol_tbf_parse("1g", &t, &e), 0);
	assert_true(t.rate_bps == 1000000000ull);
	assert_int_equal(t.burst, 500000);	/* 4 ms at 125 MB/s */
	assert_int_equal(t.limit, 2500000);	/* 20 ms */
	assert_int_equal(pol_tbf_parse("10m", &t, &e), 0);
	assert_int_equal(t.burst, POL_TBF_BURST_MIN);	/* never below two GSO segments */
	assert_true(t.limit >= t.burst + 65536);
	assert_int_equal(pol_tbf_parse("500k", &t, &e), -1);	/* below 1 Mbit/s */
	assert_string_equal(e.field, "rate");
	assert_int_equal(pol_tbf_parse("1t", &t, &e), -1);
	assert_int_equal(pol_tbf_parse("401g", &t, &e), -1);
	assert_int_equal(pol_tbf_parse("-1g", &t, &e), -1);
	assert_int_equal(pol_tbf_parse("99999999999999999999g", &t, &e), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_compile_limit),
		cmocka_unit_test(test_random_vs_naive),
		cmocka_unit_test(test_tracker),
		cmocka_unit_test(test_update),
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_rate),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
