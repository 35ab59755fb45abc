/* IGMP and MLD reports from a VM (agent/mcast.h).
 *
 * Every read is checked against the end of the frame and of the IP
 * payload first; every drop returns its reason.  The messages:
 *
 *   IGMPv2 report  0x16  group      (RFC 2236)   join
 *   IGMPv2 leave   0x17  group                   leave
 *   IGMPv3 report  0x22  records    (RFC 3376)   per record
 *   MLDv1 report   131   group      (RFC 2710)   join
 *   MLDv1 done     132   group                   leave
 *   MLDv2 report   143   records    (RFC 3810)   per record
 *
 * A v3/v2 record: MODE_IS_EXCLUDE (2), CHANGE_TO_EXCLUDE (4) join; ALLOW
 * (5) or an INCLUDE (1, 3) with sources join; an INCLUDE of no source
 * leaves; BLOCK (6) changes nothing (sources are not kept). */
#include "agent/mcast.h"

#include <string.h>

#include "wire/be.h"
#include "wire/dirproto.h"
#include "wire/eth.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"

enum {
	IGMP_PROTO = 2,
	IGMP_V2_REPORT = 0x16,
	IGMP_V2_LEAVE = 0x17,
	IGMP_V3_REPORT = 0x22,
	MLD_V1_REPORT = 131,
	MLD_V1_DONE = 132,
	MLD_V2_REPORT = 143,
	IPV6_HOPOPTS = 0,
	REC_IS_INCLUDE = 1,
	REC_BLOCK = 6,
};

const char *agent_mcast_verdict_name(int v)
{
	static const char *const names[] = {
#define AGENT_MCAST_NAME(name, desc) #name,
		AGENT_MCAST_VERDICTS(AGENT_MCAST_NAME)
#undef AGENT_MCAST_NAME
	};

	return v >= 0 && v < AGENT_MCAST_COUNT ? names[v] : "unknown";
}

const char *agent_mcast_desc(int v)
{
	static const char *const descs[] = {
#define AGENT_MCAST_DESC(name, desc) desc,
		AGENT_MCAST_VERDICTS(AGENT_MCAST_DESC)
#undef AGENT_MCAST_DESC
	};

	return v >= 0 && v < AGENT_MCAST_COUNT ? descs[v] : "unknown";
}

/* ---- checksums ---------------------------------------------------------------- */

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static bool sum_ok(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/* ICMPv6 over the pseudo-header (RFC 8200 8.1). */
static bool icmp6_sum_ok(const struct wire_ipv6 *ip, const uint8_t *m, size_t len)
{
	uint32_t sum = sum16(0, ip->saddr, 32);

	sum += (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff) + WIRE_IPPROTO_ICMPV6;
	return sum_ok(sum16(sum, m, len));
}

/* ---- records ---------------------------------------------------------------- */

struct out {
	struct agent_mcast_op *ops;
	unsigned n;
	bool ignored;
};

static bool ignored_group(const uint8_t g[16])
{
	static const uint8_t sol[13] = { 0xff, 0x02, [11] = 0x01, [12] = 0xff };

	return !memcmp(g, sol, 13);	/* ff02::1:ffXX:XXXX: the data plane answers ND */
}

static enum agent_mcast_verdict add(struct out *o, bool join, const uint8_t g[16])
{
	if (ignored_group(g)) {
		o->ignored = true;
		return AGENT_MCAST_report;
	}
	if (!dirp_group_ok(g))
		return AGENT_MCAST_drop_group;
	if (o->n >= AGENT_MCAST_OPS)
		return AGENT_MCAST_drop_record;
	o->ops[o->n].join = join;
	memcpy(o->ops[o->n].group, g, 16);
	o->n++;
	return AGENT_MCAST_report;
}

/* v3/v2 records from p .. end, each with a group of glen bytes. */
static enum agent_mcast_verdict records(struct out *o, const uint8_t *p, const uint8_t *end,
					unsigned nrec, size_t glen)
{
	for (unsigned i = 0; i < nrec; i++) {
		uint8_t g[16];
		unsigned type, nsrc;
		size_t rlen;
		enum agent_mcast_verdict v;

		if ((size_t)(end - p) < 4 + glen)
			return AGENT_MCAST_drop_record;
		type = p[0];
		nsrc = wire_get16(p + 2);
		rlen = 4 + glen + (size_t)nsrc * glen + (size_t)p[1] * 4;
		if (type < REC_IS_INCLUDE || type > REC_BLOCK || (size_t)(end - p) < rlen)
			return AGENT_MCAST_drop_record;
		if (glen == 4)
			dirp_group4(g, wire_get32(p + 4));
		else
			memcpy(g, p + 4, 16);
		if (type != REC_BLOCK) {
			bool include = type == 1 || type == 3 || type == 5;

			v = add(o, !(include && !nsrc && type != 5), g);
			if (v != AGENT_MCAST_report)
				return v;
		}
		p += rlen;
	}
	return p == end ? AGENT_MCAST_report : AGENT_MCAST_drop_record;
}

/* ---- IGMP ---------------------------------------------------------------------- */

static enum agent_mcast_verdict igmp(const struct agent_mcast_vm *vm, const struct wire_eth *e,
				     const uint8_t *l3, size_t avail, struct out *o)
{
	const struct wire_ipv4 *ip = (const void *)l3;
	uint32_t hlen, tot, dst, grp;
	const uint8_t *m;
	uint8_t g[16];
	size_t mlen;

	if (avail < sizeof(*ip) || !wire_ipv4_valid(ip, (uint32_t)MIN(avail, (size_t)0xffff)))
		return AGENT_MCAST_drop_frame;
	hlen = wire_ipv4_hlen(ip);
	tot = WIRE_NTOHS(ip->tot_len);
	if (ip->proto != IGMP_PROTO)
		return AGENT_MCAST_drop_frame;
	if (!sum_ok(sum16(0, l3, hlen)))
		return AGENT_MCAST_drop_csum;
	if (WIRE_NTOHS(ip->frag) & 0x3fff)
		return AGENT_MCAST_drop_fragment;
	if (ip->saddr && WIRE_NTOHL(ip->saddr) != vm->ip)
		return AGENT_MCAST_drop_spoof;
	if (ip->ttl != 1)
		return AGENT_MCAST_drop_ttl;
	m = l3 + hlen;
	mlen = tot - hlen;
	if (mlen < 8)
		return AGENT_MCAST_drop_frame;
	if (!sum_ok(sum16(0, m, mlen)))
		return AGENT_MCAST_drop_csum;
	dst = WIRE_NTOHL(ip->daddr);
	if (!wire_mac_is_group(e->dst))
		return AGENT_MCAST_drop_group;
	switch (m[0]) {
	case IGMP_V2_REPORT:
	case IGMP_V2_LEAVE:
		grp = wire_get32(m + 4);
		if (m[0] == IGMP_V2_REPORT ? dst != grp : dst != 0xe0000002u)
			return AGENT_MCAST_drop_group;
		dirp_group4(g, grp);
		return add(o, m[0] == IGMP_V2_REPORT, g);
	case IGMP_V3_REPORT:
		if (dst != 0xe0000016u)
			return AGENT_MCAST_drop_group;
		return records(o, m + 8, m + mlen, wire_get16(m + 6), 4);
	default:
		return AGENT_MCAST_drop_type;
	}
}

/* ---- MLD ---------------------------------------------------------------------- */

static enum agent_mcast_verdict mld(const struct agent_mcast_vm *vm, const struct wire_eth *e,
				    const uint8_t *l3, size_t avail, struct out *o)
{
	static const uint8_t all_mld2[16] = { 0xff, 0x02, [15] = 0x16 };
	static const uint8_t all_routers[16] = { 0xff, 0x02, [15] = 0x02 };
	const struct wire_ipv6 *ip = (const void *)l3;
	const uint8_t *p, *end;
	size_t plen;
	uint8_t next;

	if (avail < sizeof(*ip) || wire_ipv6_version(ip) != 6)
		return AGENT_MCAST_drop_frame;
	plen = WIRE_NTOHS(ip->plen);
	if (plen > avail - sizeof(*ip))
		return AGENT_MCAST_drop_frame;
	p = l3 + sizeof(*ip);
	end = p + plen;
	next = ip->next;
	if (next == IPV6_HOPOPTS) {		/* MLD carries a router alert */
		size_t hl;

		if (end - p < 8)
			return AGENT_MCAST_drop_frame;
		hl = ((size_t)p[1] + 1) * 8;
		if ((size_t)(end - p) < hl)
			return AGENT_MCAST_drop_frame;
		next = p[0];
		p += hl;
	}
	if (next != WIRE_IPPROTO_ICMPV6 || end - p < 8)
		return AGENT_MCAST_drop_frame;
	if (!wire_ipv6_is_unspecified(ip->saddr) && !wire_ipv6_iid_is(ip->saddr, vm->mac))
		return AGENT_MCAST_drop_spoof;
	if (ip->hop_limit != 1)
		return AGENT_MCAST_drop_ttl;
	if (!icmp6_sum_ok(ip, p, (size_t)(end - p)))
		return AGENT_MCAST_drop_csum;
	if (!wire_mac_is_group(e->dst))
		return AGENT_MCAST_drop_group;
	switch (p[0]) {
	case MLD_V1_REPORT:
	case MLD_V1_DONE:
		if (end - p < 24)
			return AGENT_MCAST_drop_frame;
		if (p[0] == MLD_V1_REPORT ? !wire_ipv6_eq(ip->daddr, p + 8)
					  : !wire_ipv6_eq(ip->daddr, all_routers))
			return AGENT_MCAST_drop_group;
		return add(o, p[0] == MLD_V1_REPORT, p + 8);
	case MLD_V2_REPORT:
		if (!wire_ipv6_eq(ip->daddr, all_mld2))
			return AGENT_MCAST_drop_group;
		return records(o, p + 8, end, wire_get16(p + 6), 16);
	default:
		return AGENT_MCAST_drop_type;
	}
}

enum agent_mcast_verdict agent_mcast_parse(const struct agent_mcast_vm *vm, const uint8_t *data,
					   size_t len, struct agent_mcast_op *ops, unsigned *nops)
{
	const struct wire_eth *e = (const void *)data;
	struct out o = { .ops = ops };
	enum agent_mcast_verdict v;

	*nops = 0;
	if (len < sizeof(*e) || len > AGENT_MCAST_FRAME_MAX)
		return AGENT_MCAST_drop_frame;
	if (!wire_mac_eq(e->src, vm->mac))
		return AGENT_MCAST_drop_spoof;
	if (e->type == WIRE_HTONS(WIRE_ETH_P_IPV4))
		v = igmp(vm, e, data + sizeof(*e), len - sizeof(*e), &o);
	else if (e->type == WIRE_HTONS(WIRE_ETH_P_IPV6))
		v = mld(vm, e, data + sizeof(*e), len - sizeof(*e), &o);
	else
		v = AGENT_MCAST_drop_frame;
	if (v != AGENT_MCAST_report)
		return v;		/* a bad record spoils the whole report */
	*nops = o.n;
	return o.n || !o.ignored ? AGENT_MCAST_report : AGENT_MCAST_ignored;
}

/* ---- per-VM state ------------------------------------------------------------- */

size_t agent_mcast_query_frame(const uint8_t src_mac[6], uint8_t f[AGENT_MCAST_QUERY_LEN])
{
	uint8_t *ip = f + WIRE_ETH_HLEN, *q = ip + 24;
	uint16_t csum;

	memset(f, 0, AGENT_MCAST_QUERY_LEN);
	memcpy(f, "\x01\x00\x5e\x00\x00\x01", 6);	/* 224.0.0.1's MAC */
	memcpy(f + 6, src_mac, 6);
	f[12] = 0x08;
	ip[0] = 0x46;				/* IPv4, 24-byte header */
	ip[1] = 0xc0;				/* internetwork control, as Linux sends IGMP */
	wire_put16(ip + 2, 24 + 12);
	ip[8] = 1;				/* TTL */
	ip[9] = 2;				/* IGMP */
	wire_put32(ip + 16, 0xe0000001);	/* 224.0.0.1; source 0.0.0.0 */
	ip[20] = 0x94, ip[21] = 4;		/* router alert (RFC 2113), value 0 */
	csum = wire_csum(ip, 24);
	memcpy(ip + 10, &csum, 2);
	q[0] = 0x11;				/* membership query; group 0: general */
	q[1] = AGENT_MCAST_QUERY_RESP_DS;
	q[8] = 2;				/* S 0, QRV 2 */
	q[9] = 125;				/* QQIC: 125 s */
	csum = wire_csum(q, 12);
	memcpy(q + 2, &csum, 2);
	return AGENT_MCAST_QUERY_LEN;
}

size_t agent_mcast_query6_frame(const uint8_t src_mac[6], uint8_t f[AGENT_MCAST_QUERY6_LEN])
{
	uint8_t *ip = f + WIRE_ETH_HLEN, *h = ip + 40, *q = h + 8;
	const size_t mlen = 28;
	uint32_t sum;

	memset(f, 0, AGENT_MCAST_QUERY6_LEN);
	memcpy(f, "\x33\x33\x00\x00\x00\x01", 6);	/* ff02::1's MAC */
	memcpy(f + 6, src_mac, 6);
	f[12] = 0x86, f[13] = 0xdd;
	ip[0] = 0x60;
	wire_put16(ip + 4, 8 + mlen);
	ip[6] = IPV6_HOPOPTS;
	ip[7] = 1;				/* hop limit */
	ip[8] = 0xfe, ip[9] = 0x80;		/* fe80:: + the MAC's EUI-64 */
	ip[16] = src_mac[0] ^ 0x02, ip[17] = src_mac[1], ip[18] = src_mac[2];
	ip[19] = 0xff, ip[20] = 0xfe;
	ip[21] = src_mac[3], ip[22] = src_mac[4], ip[23] = src_mac[5];
	ip[24] = 0xff, ip[25] = 0x02, ip[39] = 1;	/* ff02::1 */
	h[0] = WIRE_IPPROTO_ICMPV6;		/* hop-by-hop, 8 bytes */
	h[2] = 5, h[3] = 2;			/* router alert (RFC 2711): MLD, 0 */
	h[6] = 1;				/* PadN of 0 */
	q[0] = 130;				/* listener query; address ::: general */
	wire_put16(q + 4, AGENT_MCAST_QUERY6_RESP_MS);
	q[24] = 2;				/* S 0, QRV 2 */
	q[25] = 125;				/* QQIC: 125 s */
	sum = sum16(0, ip + 8, 32) + (uint32_t)mlen + WIRE_IPPROTO_ICMPV6;
	sum = sum16(sum, q, mlen);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	wire_put16(q + 2, (uint16_t)~sum);
	return AGENT_MCAST_QUERY6_LEN;
}

bool agent_mcast_take(struct agent_mcast_state *s, uint64_t now_ns)
{
	uint64_t add;

	if (!s->started) {
		s->started = true;
		s->tokens = AGENT_MCAST_BURST;
		s->at_ns = now_ns;
	}
	add = (now_ns - s->at_ns) / (1000000000ull / AGENT_MCAST_PER_S);
	if (add) {
		s->tokens = (uint32_t)MIN((uint64_t)AGENT_MCAST_BURST, s->tokens + add);
		s->at_ns += add * (1000000000ull / AGENT_MCAST_PER_S);
	}
	if (!s->tokens)
		return false;
	s->tokens--;
	return true;
}

enum agent_mcast_verdict agent_mcast_apply(struct agent_mcast_state *s,
					   const struct agent_mcast_op *op)
{
	unsigned i;

	for (i = 0; i < s->n; i++)
		if (!memcmp(s->group[i], op->group, 16))
			break;
	if (op->join) {
		if (i < s->n)
			return AGENT_MCAST_report;
		if (s->n >= AGENT_MCAST_VM_GROUPS)
			return AGENT_MCAST_drop_limit;
		memcpy(s->group[s->n++], op->group, 16);
		return AGENT_MCAST_join;
	}
	if (i == s->n)
		return AGENT_MCAST_report;
	memcpy(s->group[i], s->group[--s->n], 16);
	return AGENT_MCAST_leave;
}

/* ---- the agent core's part -------------------------------------------------- */

static void member_rec(const struct agent_mcast_env *env, const uint8_t g[16],
		       struct dirp_member *r)
{
	memset(r, 0, sizeof(*r));
	r->vdc = env->vdc;
	memcpy(r->group, g, 16);
	r->server = env->server;
	memcpy(r->vm, env->vm_mac, 6);
	memcpy(r->im, env->server_mac, sizeof(r->im));
}

static void send_recs(const struct agent_mcast_env *env, struct dir_now now, uint8_t type,
		      const struct dirp_member *recs, unsigned n)
{
	if (n && dirc_request(env->dirc, now, type, recs, n, NULL, NULL) <= 0)
		*env->send_fail += n;
}

void agent_mcast_input(const struct agent_mcast_env *env, struct agent_mcast_state *s,
		       struct dir_now now, uint32_t vm_ip, const uint8_t *frame, size_t len)
{
	struct agent_mcast_vm vm = { .ip = vm_ip };
	struct agent_mcast_op ops[AGENT_MCAST_OPS];
	struct dirp_member join[AGENT_MCAST_OPS], leave[AGENT_MCAST_OPS];
	unsigned n, nj = 0, nl = 0;
	enum agent_mcast_verdict v;

	if (!agent_mcast_take(s, now.ns)) {
		env->st[AGENT_MCAST_drop_rate]++;
		return;
	}
	memcpy(vm.mac, env->vm_mac, 6);
	v = agent_mcast_parse(&vm, frame, len, ops, &n);
	env->st[v]++;
	for (unsigned i = 0; i < n; i++) {
		v = agent_mcast_apply(s, &ops[i]);
		if (v == AGENT_MCAST_report)
			continue;		/* no change */
		env->st[v]++;
		if (v == AGENT_MCAST_join)
			member_rec(env, ops[i].group, &join[nj++]);
		else if (v == AGENT_MCAST_leave)
			member_rec(env, ops[i].group, &leave[nl++]);
	}
	send_recs(env, now, DIRP_JOIN, join, nj);
	send_recs(env, now, DIRP_LEAVE, leave, nl);
}

unsigned agent_mcast_refresh(const struct agent_mcast_env *env, const struct agent_mcast_state *s,
			     struct dir_now now)
{
	struct dirp_member recs[AGENT_MCAST_VM_GROUPS + 1];
	uint8_t bcast[16];
	unsigned n = 0;

	_Static_assert(AGENT_MCAST_VM_GROUPS + 1 <= DIRP_MAX_MEMBERS, "one JOIN per VM");
	dirp_group4(bcast, 0xffffffffu);
	member_rec(env, bcast, &recs[n++]);
	for (unsigned i = 0; i < s->n; i++)
		member_rec(env, s->group[i], &recs[n++]);
	send_recs(env, now, DIRP_JOIN, recs, n);
	return n;
}
