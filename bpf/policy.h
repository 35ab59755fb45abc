/* Security groups in the data plane: the structs, map keys and limits shared
 * by the eBPF side (pgr_pol_check(), included by from_vm.bpf.c,
 * from_net.bpf.c and the fixture program policy.bpf.c) and user space
 * (agent/policy.c compiles rules into these keys, bpf/policy_maps.c writes
 * them).  docs/policy.md describes the model and the lookup.
 *
 * A VM's rules are allow rules (direction, protocol, port range, peer
 * prefix); what no rule allows is dropped, and a packet of a tracked
 * connection passes.  The lookup is two longest-prefix matches whose cost
 * does not depend on the number of rules:
 *
 *   pgr_pol_port  (set, dir, proto, port/prefix)       -> port class
 *   pgr_pol_peer  (set, dir, proto, class, peer/prefix) -> allowing rule
 *
 * User space cuts the port space of each (direction, protocol) into the
 * elementary intervals the rules' ranges bound; every interval whose
 * covering rules are the same set shares one class, and the class's peer
 * trie holds the prefixes of exactly those rules.  A port range goes into the
 * port trie as its prefix blocks.
 *
 * A rule set is named by `set`, a number the agent allocates anew for every
 * version of a VM's policy: the new version is written beside the old one,
 * the VM's pgr_pol_vm entry is switched to it in one map update, and the old
 * one is deleted.  A tracked connection remembers the set it was last
 * checked against; when the VM's set has changed it is checked once against
 * the new rules, and passes on or is dropped (PGR_POL_DROP_REVOKED).
 *
 * An established packet costs one hash lookup, the tracker's: the VM's slot
 * in pgr_pol_slots (an array, indexed by the VM's ID modulo
 * PGR_POL_SLOTS: a lookup the verifier inlines) counts the VMs of that slot
 * with a policy and carries a generation that every change of their
 * policies bumps.  A slot without a policed VM means no policy (nothing is
 * parsed or tracked); a tracked connection whose generation is the slot's
 * passes on the tracker's entry alone, and only when the generation moved
 * is pgr_pol_vms read to see whether its VM's set did. */
#ifndef PEREGRINE_BPF_POLICY_H
#define PEREGRINE_BPF_POLICY_H

#include "bpf/dp.h"
#include "wire/ipv4.h"

enum pgr_pol_limits {
	PGR_POL_RULES_MAX = 10000,	/* rules per VM (both directions) */
	PGR_POL_GROUPS_MAX = 256,	/* peer groups per policy */
	PGR_POL_GROUP_MEMBERS_MAX = 4096,	/* prefixes in a group */
	/* compiled entries of one VM's policy (port and peer tries
	 * together): refused beyond, with the rule that crossed it */
	PGR_POL_VM_ENTRIES_MAX = 131072,
	PGR_POL_PORT_MAX = 524288,	/* port-trie entries per server */
	PGR_POL_PEER_MAX = 524288,	/* peer-trie entries per server */
	PGR_POL_VMS_MAX = PGR_DP_VMS_MAX,	/* VMs with a policy per server */
	PGR_POL_CT_MAX = 65536,		/* tracked connections per server (LRU) */
	PGR_POL_CLASSES_MAX = 65535,	/* port classes per (set, dir, proto) */
	/* pgr_pol_slots: a power of two, 4 times the VM IDs a server holds
	 * (128 KiB), so that an unpoliced VM rarely shares a slot with a
	 * policed one (it then pays the tracker's and pgr_pol_vms' lookups,
	 * and is still not policed) */
	PGR_POL_SLOTS = 16384,
	/* bytes: a TCP segment whose sequence number is further than this from
	 * the highest seen in its direction, or that acknowledges more than
	 * this beyond what the other side sent, is out of window */
	PGR_POL_TCP_WINDOW = 1 << 24,
};

/* seconds a tracked connection lives without a packet */
#define PGR_POL_TIMEOUT_TCP 3600ull
#define PGR_POL_TIMEOUT_CLOSE 10ull
#define PGR_POL_TIMEOUT_OTHER 120ull
#define PGR_POL_NS 1000000000ull

/* Direction, seen from the VM: IN to it, OUT from it. */
enum pgr_pol_dir { PGR_POL_IN = 0, PGR_POL_OUT = 1 };

/* The protocol key: TCP, UDP, ICMP, and 0 for every other protocol. */
#define PGR_POL_PROTO_OTHER 0

/* pgr_pol_vm.flags */
#define PGR_POL_ALLOW_IN 0x01	/* no inbound rules declared: allow all inbound */
#define PGR_POL_ALLOW_OUT 0x02	/* no outbound rules declared: allow all outbound */

/* A VM with a policy (key: its primary ID).  Without an entry the VM is not
 * policed and nothing is tracked. */
struct pgr_pol_vm {
	uint32_t set;		/* the active rule set, never 0 */
	uint32_t flags;		/* PGR_POL_ALLOW_* */
};

/* One slot of pgr_pol_slots (key: the VM's ID % PGR_POL_SLOTS).  User space
 * changes both with atomic operations on the mmapped array
 * (bpf/policy_maps.c): `vms` before a VM's first set is installed and after
 * its last is removed, `gen` after every change of pgr_pol_vms. */
struct pgr_pol_slot {
	uint32_t vms;		/* VMs of this slot with a policy */
	uint32_t gen;		/* bumped at every policy change of one of them */
};

struct pgr_pol_port_key {
	uint32_t prefixlen;	/* 48 + the port prefix's length */
	uint32_t set;
	uint8_t dir;
	uint8_t proto;
	uint16_t port;		/* network order */
};

struct pgr_pol_peer_key {
	uint32_t prefixlen;	/* 64 + the peer prefix's length */
	uint32_t set;
	uint8_t dir;
	uint8_t proto;
	uint16_t cls;		/* the port class, network order */
	uint32_t ip;		/* network order */
};

#define PGR_POL_PORT_BITS 48	/* set, dir, proto */
#define PGR_POL_PEER_BITS 64	/* set, dir, proto, class */

/* The connection tracker's key: the local VM and the flow as it sees it.
 * ICMP echo uses the identifier as both ports; other protocols 0. */
struct pgr_ct_key {
	uint32_t vm;		/* the local VM's primary ID */
	uint32_t peer;		/* network order */
	uint16_t lport, pport;	/* network order */
	uint8_t proto;
	uint8_t pad[3];
};

enum pgr_ct_state { PGR_CT_OPEN = 1, PGR_CT_CLOSING = 2 };

#define PGR_CT_SEQ_IN 0x01	/* next[PGR_POL_IN] holds a sequence number */
#define PGR_CT_SEQ_OUT 0x02

struct pgr_ct {
	uint64_t seen_ns;	/* last packet (bpf_ktime_get_coarse_ns) */
	uint32_t set;		/* the rule set it was last allowed by */
	uint8_t origin;		/* enum pgr_pol_dir of its first packet */
	uint8_t state;		/* enum pgr_ct_state */
	uint8_t seq_flags;	/* PGR_CT_SEQ_* */
	uint8_t pad;
	uint32_t next[2];	/* TCP: highest sequence end seen, per direction */
	uint32_t gen;		/* the VM's slot generation when `set` was checked */
};

_Static_assert(sizeof(struct pgr_pol_vm) == 8, "policy vm");
_Static_assert(sizeof(struct pgr_pol_slot) == 8, "policy slot");
_Static_assert((PGR_POL_SLOTS & (PGR_POL_SLOTS - 1)) == 0, "slots: a power of two");
_Static_assert(PGR_POL_SLOTS >= 4 * PGR_POL_VMS_MAX, "slots: sparse");
_Static_assert(sizeof(struct pgr_pol_port_key) == 12, "port key");
_Static_assert(sizeof(struct pgr_pol_peer_key) == 16, "peer key");
_Static_assert(sizeof(struct pgr_ct_key) == 16, "ct key");
_Static_assert(sizeof(struct pgr_ct) == 32, "ct entry");

/* ---- counters: one per verdict ------------------------------------------ */
#define PGR_POL_STATS(X)                                                             \
	X(NONE, "policy: VM without a policy, not checked")                          \
	X(NOT_IP, "policy: not IPv4, left to the forwarding decision")               \
	X(ESTABLISHED, "policy: packet of a tracked connection")                     \
	X(NEW, "policy: new connection allowed by a rule, now tracked")              \
	X(RELATED, "policy: ICMP error about a tracked connection")                  \
	X(DROP_RULE, "policy drop: no rule allows the new connection")               \
	X(DROP_REVOKED, "policy drop: tracked connection no longer allowed")         \
	X(DROP_FRAG, "policy drop: IPv4 fragment")                                   \
	X(DROP_SHORT, "policy drop: truncated header")                               \
	X(DROP_UNSOLICITED, "policy drop: TCP segment other than SYN opening a connection") \
	X(DROP_WINDOW, "policy drop: TCP segment out of window")                     \
	X(DROP_ICMP_UNRELATED, "policy drop: ICMP error about an untracked flow")    \
	X(DROP_ICMP_BAD, "policy drop: ICMP error quoting a flow of another VM")

enum pgr_pol_stat {
#define PGR_POL_STAT_ENUM(name, desc) PGR_POL_STAT_##name,
	PGR_POL_STATS(PGR_POL_STAT_ENUM)
#undef PGR_POL_STAT_ENUM
	PGR_POL_STAT_COUNT
};

/* Drops are the verdicts from PGR_POL_STAT_DROP_RULE on. */
#define PGR_POL_STAT_IS_DROP(s) ((s) >= PGR_POL_STAT_DROP_RULE)

/* ---- eBPF: maps and the check --------------------------------------------- */
#ifdef __bpf__
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "wire/eth.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PGR_POL_VMS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, uint32_t);
	__type(value, struct pgr_pol_vm);
} pgr_pol_vms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PGR_POL_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);	/* user space's atomics */
	__type(key, uint32_t);
	__type(value, struct pgr_pol_slot);
} pgr_pol_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, PGR_POL_PORT_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pgr_pol_port_key);
	__type(value, uint32_t);
} pgr_pol_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, PGR_POL_PEER_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pgr_pol_peer_key);
	__type(value, uint32_t);
} pgr_pol_peer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PGR_POL_CT_MAX);
	__type(key, struct pgr_ct_key);
	__type(value, struct pgr_ct);
} pgr_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PGR_POL_STAT_COUNT);
	__type(key, uint32_t);
	__type(value, struct pgr_counter);
} pgr_pol_stats SEC(".maps");

static __always_inline enum pgr_pol_stat pgr_pol_count(enum pgr_pol_stat s, uint32_t len)
{
	uint32_t key = s;
	struct pgr_counter *c = bpf_map_lookup_elem(&pgr_pol_stats, &key);

	if (c) {
		c->packets++;
		c->bytes += len;
	}
	return s;
}

static __always_inline uint8_t pgr_pol_proto_key(uint8_t proto)
{
	if (proto == WIRE_IPPROTO_TCP || proto == WIRE_IPPROTO_UDP || proto == WIRE_IPPROTO_ICMP)
		return proto;
	return PGR_POL_PROTO_OTHER;
}

/* Whether set's rules allow a new flow in dir: proto (key), the port that
 * names the service (the destination port of the flow's first packet,
 * network order) and the peer's address. */
static __always_inline bool pgr_pol_allows(const struct pgr_pol_vm *pv, uint8_t dir,
					   uint8_t proto, uint16_t port, uint32_t peer)
{
	struct pgr_pol_port_key pk = { .prefixlen = PGR_POL_PORT_BITS + 16, .set = pv->set,
				       .dir = dir, .proto = proto, .port = port };
	struct pgr_pol_peer_key rk;
	uint32_t *cls;

	if (pv->flags & (dir == PGR_POL_IN ? PGR_POL_ALLOW_IN : PGR_POL_ALLOW_OUT))
		return true;
	if (proto != WIRE_IPPROTO_TCP && proto != WIRE_IPPROTO_UDP)
		pk.port = 0;	/* rules name ports for TCP and UDP only */
	cls = bpf_map_lookup_elem(&pgr_pol_port, &pk);
	if (!cls)
		return false;
	rk = (struct pgr_pol_peer_key){ .prefixlen = PGR_POL_PEER_BITS + 32, .set = pv->set,
					.dir = dir, .proto = proto,
					.cls = (uint16_t)__builtin_bswap16((uint16_t)*cls),
					.ip = peer };
	return bpf_map_lookup_elem(&pgr_pol_peer, &rk) != NULL;
}

/* The parsed packet, as the VM sees it. */
struct pgr_pol_pkt {
	struct pgr_ct_key k;
	uint8_t dir;
	uint8_t tcp_flags;	/* TCP only */
	uint32_t seq, ack, seq_end;	/* TCP: host order */
};

#define PGR_TCP_FIN 0x01
#define PGR_TCP_SYN 0x02
#define PGR_TCP_RST 0x04
#define PGR_TCP_ACK 0x10

static __always_inline bool pgr_pol_icmp_error(uint8_t type)
{
	return type == 3 || type == 11 || type == 12;	/* unreachable, time exceeded, parameter */
}

/* An ICMP error: find the flow it quotes (an IPv4 header without options and
 * the first 8 bytes of its transport header).  The quoted packet went the
 * other way: for an error to the VM, one the VM sent. */
static __always_inline enum pgr_pol_stat pgr_pol_related(const struct pgr_vm *vm, uint8_t dir,
							  void *q, void *end, uint64_t now)
{
	struct wire_ipv4 *ip = q;
	uint16_t *ports = (void *)(ip + 1);
	struct pgr_ct_key k = { .vm = vm->id };
	struct pgr_ct *ct;

	if ((void *)(ports + 2) > end)
		return PGR_POL_STAT_DROP_SHORT;
	if (ip->ver_ihl != 0x45)
		return PGR_POL_STAT_DROP_ICMP_BAD;
	k.proto = pgr_pol_proto_key(ip->proto);
	if (dir == PGR_POL_IN) {	/* the VM sent the quoted packet */
		if (ip->saddr != vm->ip)
			return PGR_POL_STAT_DROP_ICMP_BAD;
		k.peer = ip->daddr;
		k.lport = ports[0];
		k.pport = ports[1];
	} else {			/* the VM received it */
		if (ip->daddr != vm->ip)
			return PGR_POL_STAT_DROP_ICMP_BAD;
		k.peer = ip->saddr;
		k.lport = ports[1];
		k.pport = ports[0];
	}
	if (k.proto != WIRE_IPPROTO_TCP && k.proto != WIRE_IPPROTO_UDP)
		k.lport = k.pport = 0;
	ct = bpf_map_lookup_elem(&pgr_ct, &k);
	if (!ct)
		return PGR_POL_STAT_DROP_ICMP_UNRELATED;
	ct->seen_ns = now;
	return PGR_POL_STAT_RELATED;
}

/* Parse the transport header into p.  0, or the drop verdict; *related is
 * set for an ICMP error (already judged: its verdict is returned). */
static __always_inline int pgr_pol_parse(const struct pgr_vm *vm, struct wire_ipv4 *ip,
					 uint32_t hlen, void *end, struct pgr_pol_pkt *p,
					 uint64_t now, bool *related)
{
	void *l4 = (void *)ip + hlen;

	if (p->k.proto == WIRE_IPPROTO_TCP) {
		uint8_t *t = l4;
		uint32_t doff, tot = WIRE_NTOHS(ip->tot_len);

		if ((void *)(t + 20) > end)
			return PGR_POL_STAT_DROP_SHORT;
		doff = (uint32_t)(t[12] >> 4) * 4;
		if (doff < 20 || tot < hlen + doff)
			return PGR_POL_STAT_DROP_SHORT;
		p->k.lport = p->dir == PGR_POL_OUT ? *(uint16_t *)t : *(uint16_t *)(t + 2);
		p->k.pport = p->dir == PGR_POL_OUT ? *(uint16_t *)(t + 2) : *(uint16_t *)t;
		p->seq = __builtin_bswap32(*(uint32_t *)(t + 4));
		p->ack = __builtin_bswap32(*(uint32_t *)(t + 8));
		p->tcp_flags = t[13];
		p->seq_end = p->seq + (tot - hlen - doff) + !!(t[13] & PGR_TCP_SYN) +
			     !!(t[13] & PGR_TCP_FIN);
	} else if (p->k.proto == WIRE_IPPROTO_UDP) {
		uint16_t *u = l4;

		if ((void *)(u + 4) > end)
			return PGR_POL_STAT_DROP_SHORT;
		p->k.lport = p->dir == PGR_POL_OUT ? u[0] : u[1];
		p->k.pport = p->dir == PGR_POL_OUT ? u[1] : u[0];
	} else if (p->k.proto == WIRE_IPPROTO_ICMP) {
		uint8_t *c = l4;

		if ((void *)(c + 8) > end)
			return PGR_POL_STAT_DROP_SHORT;
		if (pgr_pol_icmp_error(c[0])) {
			*related = true;
			return pgr_pol_related(vm, p->dir, c + 8, end, now);
		}
		if (c[0] == 8 || c[0] == 0)	/* echo: the identifier */
			p->k.lport = p->k.pport = *(uint16_t *)(c + 4);
	}
	return 0;
}

static __always_inline uint64_t pgr_pol_timeout(const struct pgr_ct *ct, uint8_t proto)
{
	if (ct->state == PGR_CT_CLOSING)
		return PGR_POL_TIMEOUT_CLOSE * PGR_POL_NS;
	return (proto == WIRE_IPPROTO_TCP ? PGR_POL_TIMEOUT_TCP : PGR_POL_TIMEOUT_OTHER) *
	       PGR_POL_NS;
}

/* TCP on a tracked connection: the segment's sequence number near the
 * highest seen in its direction, its acknowledgement not beyond what the
 * other side sent; then the highest is moved on. */
static __always_inline enum pgr_pol_stat pgr_pol_tcp(struct pgr_ct *ct, const struct pgr_pol_pkt *p)
{
	bool in = p->dir == PGR_POL_IN;
	uint8_t dbit = in ? PGR_CT_SEQ_IN : PGR_CT_SEQ_OUT;
	uint8_t obit = in ? PGR_CT_SEQ_OUT : PGR_CT_SEQ_IN;
	uint32_t *dnext = in ? &ct->next[PGR_POL_IN] : &ct->next[PGR_POL_OUT];
	uint32_t *onext = in ? &ct->next[PGR_POL_OUT] : &ct->next[PGR_POL_IN];
	int32_t ds;

	if (ct->seq_flags & dbit) {
		ds = (int32_t)(p->seq - *dnext);
		if (ds > PGR_POL_TCP_WINDOW || ds < -PGR_POL_TCP_WINDOW)
			return PGR_POL_STAT_DROP_WINDOW;
	}
	if ((p->tcp_flags & PGR_TCP_ACK) && (ct->seq_flags & obit)) {
		ds = (int32_t)(p->ack - *onext);
		if (ds > 1 || ds < -PGR_POL_TCP_WINDOW)
			return PGR_POL_STAT_DROP_WINDOW;
	}
	if (!(ct->seq_flags & dbit) || (int32_t)(p->seq_end - *dnext) > 0) {
		*dnext = p->seq_end;
		ct->seq_flags |= dbit;
	}
	if (p->tcp_flags & (PGR_TCP_FIN | PGR_TCP_RST))
		ct->state = PGR_CT_CLOSING;
	return PGR_POL_STAT_ESTABLISHED;
}

/* A tracked connection whose check still holds: TCP's window. */
static __always_inline enum pgr_pol_stat pgr_pol_established(struct pgr_ct *ct,
							      const struct pgr_pol_pkt *p,
							      uint64_t now)
{
	ct->seen_ns = now;
	if (p->k.proto == WIRE_IPPROTO_TCP)
		return pgr_pol_tcp(ct, p);
	return PGR_POL_STAT_ESTABLISHED;
}

/* A tracked connection whose slot generation moved: re-checked once
 * against a new rule set, then TCP's window; it then holds generation gen. */
static __always_inline enum pgr_pol_stat pgr_pol_tracked(const struct pgr_pol_vm *pv,
							  struct pgr_ct *ct,
							  const struct pgr_pol_pkt *p, uint64_t now,
							  uint32_t gen)
{
	if (ct->set != pv->set) {
		uint16_t port = ct->origin == PGR_POL_OUT ? p->k.pport : p->k.lport;

		if (!pgr_pol_allows(pv, ct->origin, p->k.proto, port, p->k.peer)) {
			bpf_map_delete_elem(&pgr_ct, &p->k);
			return PGR_POL_STAT_DROP_REVOKED;
		}
		ct->set = pv->set;
	}
	ct->gen = gen;
	return pgr_pol_established(ct, p, now);
}

/* A new flow: TCP opens with a SYN only; a rule must allow it; then it is
 * tracked (unless !track: the benchmark's repeated lookups). */
static __always_inline enum pgr_pol_stat pgr_pol_new(const struct pgr_pol_vm *pv,
						      const struct pgr_pol_pkt *p, uint64_t now,
						      uint32_t gen, bool track)
{
	uint16_t port = p->dir == PGR_POL_OUT ? p->k.pport : p->k.lport;
	struct pgr_ct ct = { .seen_ns = now, .set = pv->set, .origin = p->dir,
			     .state = PGR_CT_OPEN, .gen = gen };

	if (p->k.proto == WIRE_IPPROTO_TCP &&
	    (p->tcp_flags & (PGR_TCP_SYN | PGR_TCP_ACK | PGR_TCP_RST | PGR_TCP_FIN)) != PGR_TCP_SYN)
		return PGR_POL_STAT_DROP_UNSOLICITED;
	if (!pgr_pol_allows(pv, p->dir, p->k.proto, port, p->k.peer))
		return PGR_POL_STAT_DROP_RULE;
	if (p->k.proto == WIRE_IPPROTO_TCP && p->dir == PGR_POL_IN) {
		ct.next[PGR_POL_IN] = p->seq_end;	/* constant indices: the verifier */
		ct.seq_flags = PGR_CT_SEQ_IN;
	} else if (p->k.proto == WIRE_IPPROTO_TCP) {
		ct.next[PGR_POL_OUT] = p->seq_end;
		ct.seq_flags = PGR_CT_SEQ_OUT;
	}
	if (track)
		bpf_map_update_elem(&pgr_ct, &p->k, &ct, BPF_ANY);
	return PGR_POL_STAT_NEW;
}

/* The IPv4 header, then the transport header into p.  0, or the verdict
 * (*related: an ICMP error, already judged). */
static __always_inline int pgr_pol_parse_ip(const struct pgr_vm *vm, struct wire_ipv4 *ip,
					    void *end, struct pgr_pol_pkt *p, uint64_t now,
					    bool *related)
{
	uint32_t hlen;

	if ((void *)(ip + 1) > end)
		return PGR_POL_STAT_DROP_SHORT;
	hlen = wire_ipv4_hlen(ip);
	if (hlen < WIRE_IPV4_HLEN || hlen > WIRE_IPV4_HLEN_MAX)
		return PGR_POL_STAT_DROP_SHORT;
	if (ip->frag & WIRE_HTONS(0x3fff))	/* MF or an offset */
		return PGR_POL_STAT_DROP_FRAG;
	p->k.vm = vm->id;
	p->k.peer = p->dir == PGR_POL_OUT ? ip->daddr : ip->saddr;
	p->k.proto = pgr_pol_proto_key(ip->proto);
	return pgr_pol_parse(vm, ip, hlen, end, p, now, related);
}

/* The check: a frame (data .. end, len bytes) to (dir IN) or from (OUT) the
 * local VM vm.  Returns the verdict, counted; drop when
 * PGR_POL_STAT_IS_DROP().  The frame is not changed.
 *
 * The order keeps an established packet to one hash lookup: the VM's slot
 * (an inlined array lookup; no policed VM there: no policy), the tracker;
 * pgr_pol_vms only when the connection is new, or its generation is not
 * the slot's (a policy of the slot changed since its last check), or the
 * packet would be dropped before the tracker is reached (a VM without a
 * policy that shares the slot must not see its fragments dropped). */
static __always_inline enum pgr_pol_stat pgr_pol_check(void *data, void *end, uint32_t len,
						        const struct pgr_vm *vm, uint8_t dir,
						        bool track)
{
	struct wire_eth *e = data;
	struct pgr_pol_pkt p = { .dir = dir };
	uint32_t slot = vm->id & (PGR_POL_SLOTS - 1), gen;
	const struct pgr_pol_slot *sl;
	const struct pgr_pol_vm *pv;
	struct pgr_ct *ct = NULL;
	bool related = false;
	uint64_t now;
	int r;

	if ((void *)(e + 1) > end || e->type != WIRE_HTONS(WIRE_ETH_P_IPV4))
		return pgr_pol_count(PGR_POL_STAT_NOT_IP, len);
	sl = bpf_map_lookup_elem(&pgr_pol_slots, &slot);
	if (!sl || !*(volatile const uint32_t *)&sl->vms)
		return pgr_pol_count(PGR_POL_STAT_NONE, len);
	gen = *(volatile const uint32_t *)&sl->gen;
	now = bpf_ktime_get_coarse_ns();	/* a tick is precision enough for timeouts */
	r = pgr_pol_parse_ip(vm, (void *)(e + 1), end, &p, now, &related);
	if (!r && !related)
		ct = bpf_map_lookup_elem(&pgr_ct, &p.k);
	if (ct && ct->gen == gen && now - ct->seen_ns <= pgr_pol_timeout(ct, p.k.proto))
		return pgr_pol_count(pgr_pol_established(ct, &p, now), len);
	pv = bpf_map_lookup_elem(&pgr_pol_vms, &vm->id);
	if (!pv) {
		if (ct)	/* its policy was removed */
			bpf_map_delete_elem(&pgr_ct, &p.k);
		return pgr_pol_count(PGR_POL_STAT_NONE, len);
	}
	if (r || related)
		return pgr_pol_count((enum pgr_pol_stat)r, len);
	if (ct && now - ct->seen_ns > pgr_pol_timeout(ct, p.k.proto)) {
		bpf_map_delete_elem(&pgr_ct, &p.k);
		ct = NULL;
	}
	if (ct)
		return pgr_pol_count(pgr_pol_tracked(pv, ct, &p, now, gen), len);
	return pgr_pol_count(pgr_pol_new(pv, &p, now, gen, track), len);
}

/* The data plane's hook, after the forwarding decision: whether the policy
 * drops a frame that leaves the VM on port `from` (0: from the fabric) for
 * the VM on port `to` (0: for the fabric).  Each end's VM is checked in its
 * own direction; the drop is counted in pgr_pol_stats. */
static __always_inline bool pgr_pol_drops(struct __sk_buff *skb, uint32_t from, uint32_t to)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	const struct pgr_vm *vm;

	if (from && (vm = bpf_map_lookup_elem(&pgr_ports, &from)) &&
	    PGR_POL_STAT_IS_DROP(pgr_pol_check(data, end, skb->len, vm, PGR_POL_OUT, true)))
		return true;
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	if (to && to != from && (vm = bpf_map_lookup_elem(&pgr_ports, &to)) &&
	    PGR_POL_STAT_IS_DROP(pgr_pol_check(data, end, skb->len, vm, PGR_POL_IN, true)))
		return true;
	return false;
}

#endif /* __bpf__ */

#endif
