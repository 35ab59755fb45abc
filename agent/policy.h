/* Security groups, the user-space half: the rule model, its parser, a naive
 * evaluator (the reference the data plane is tested against) and the
 * compiler that turns one VM's rules into the entries of the two tries of
 * bpf/policy.h.  No I/O: bpf/policy_maps.c writes the compiled entries.
 * docs/policy.md.
 *
 * A rule, one line of text:
 *
 *   in  tcp 22         from 10.0.0.0/24
 *   in  tcp 8000-8080  from group web
 *   in  icmp           from any
 *   out udp 53         to 10.0.0.2
 *
 * direction (in: from the peer to the VM; out: from the VM), protocol (tcp,
 * udp, icmp, any), for tcp and udp an optional port or range (the
 * destination port of the connection's first packet; default all), then
 * `from` (in) or `to` (out) and the peer: a prefix, an address, `any`, or
 * `group NAME`.  Rules only allow; what no rule allows inbound is dropped,
 * outbound is allowed while no `out` rule is declared.  Packets of a
 * connection the rules allowed pass both ways. */
#ifndef PEREGRINE_AGENT_POLICY_H
#define PEREGRINE_AGENT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/policy.h"

enum pol_limits {
	POL_LINE_MAX = 256,	/* characters in a rule */
	POL_NAME_MAX = 31,	/* characters in a group's name */
	POL_ERR_MAX = 160,
};

#define POL_PROTO_ANY 0xff

struct pol_prefix {
	uint32_t net;		/* network order, host bits clear */
	uint8_t plen;
};

struct pol_group {
	char name[POL_NAME_MAX + 1];
	struct pol_prefix *members;
	size_t n;
};

struct pol_rule {
	uint8_t dir;		/* enum pgr_pol_dir */
	uint8_t proto;		/* WIRE_IPPROTO_* or POL_PROTO_ANY */
	uint16_t port_lo, port_hi;	/* host order; 0-65535 unless tcp/udp with ports */
	struct pol_prefix peer;	/* when group < 0 */
	int group;		/* index into pol_policy.groups, or -1 */
	uint32_t line;		/* where it was declared */
};

/* One VM's policy (or a VDC's groups and a VM's rules): owns its arrays. */
struct pol_policy {
	struct pol_rule *rules;
	size_t nrules, cap;
	struct pol_group *groups;
	size_t ngroups;
};

/* Where and why input was refused: "FILE:LINE: FIELD: reason". */
struct pol_error {
	uint32_t line;
	char field[16];
	char msg[POL_ERR_MAX];
};

void pol_init(struct pol_policy *p);
void pol_free(struct pol_policy *p);

/* A group: its name and members ("10.0.0.1", "10.0.1.0/24", ...).  0, or -1
 * with e filled (field "group" or "member"). */
int pol_group_add(struct pol_policy *p, const char *name, const char *const *members,
		  size_t n, uint32_t line, struct pol_error *e);
/* Parse one rule and append it.  0, or -1 with e filled: the field that is
 * wrong (direction, protocol, ports, peer-word, peer, group) and why; also
 * refused: more than PGR_POL_RULES_MAX rules, a duplicate of another rule. */
int pol_rule_add(struct pol_policy *p, const char *text, uint32_t line, struct pol_error *e);

/* A policy file: one rule per line (as above), `group NAME MEMBER...`
 * lines, `#` comments and blank lines.  0, or -1 with err filled as
 * "NAME:LINE: FIELD: reason". */
int pol_parse_text(struct pol_policy *p, const char *name, const char *buf, size_t len,
		   char *err, size_t errlen);

/* The naive evaluator: whether a rule of p allows a new flow in dir of proto
 * (WIRE_IPPROTO_*, any number) to port (host order; ignored but for TCP and
 * UDP) with the peer (network order).  Linear in the rules: the reference. */
bool pol_naive_allows(const struct pol_policy *p, uint8_t dir, uint8_t proto, uint16_t port,
		      uint32_t peer);
/* Whether p declares rules of direction dir. */
bool pol_has_dir(const struct pol_policy *p, uint8_t dir);

/* ---- bandwidth limits -------------------------------------------------------
 * A VM's egress limit is a tbf qdisc on its interface (docs/policy.md,
 * "Bandwidth limits").  The bucket and queue for a rate: */
struct pol_tbf {
	uint64_t rate_bps;	/* bits per second */
	uint32_t burst;		/* bytes: the bucket */
	uint32_t limit;		/* bytes: the queue behind it */
};

enum pol_tbf_limits {
	POL_TBF_RATE_MIN = 1000000,		/* 1 Mbit/s */
	POL_TBF_BURST_MIN = 2 * 65536,	/* two GSO segments: a veth sends 64 KiB ones */
	POL_TBF_BURST_MS = 4,			/* the bucket holds this much time at the rate */
	POL_TBF_QUEUE_MS = 20,			/* the queue: this much, then drops */
};

/* Parse "500m", "1g", "10000000" (bits per second) and size the bucket; 0,
 * or -1 with e filled (field "rate"). */
int pol_tbf_parse(const char *s, struct pol_tbf *t, struct pol_error *e);

/* ---- compiled form --------------------------------------------------------- */

struct pol_port_entry {
	struct pgr_pol_port_key k;
	uint32_t cls;
};

struct pol_peer_entry {
	struct pgr_pol_peer_key k;
	uint32_t rule;		/* line of a rule of its class */
};

struct pol_compiled {
	struct pgr_pol_vm vm;	/* set and flags */
	struct pol_port_entry *port;
	size_t nport;
	struct pol_peer_entry *peer;
	size_t npeer;
	size_t cap_port, cap_peer;
};

/* Compile p's rules under rule set `set` (non-zero).  0, or -1 with e filled
 * when the entries would pass PGR_POL_VM_ENTRIES_MAX or a (direction,
 * protocol) would need more than PGR_POL_CLASSES_MAX classes (e.line: the
 * rule being placed when it happened). */
int pol_compile(const struct pol_policy *p, uint32_t set, struct pol_compiled *c,
		struct pol_error *e);
void pol_compiled_free(struct pol_compiled *c);

#endif
