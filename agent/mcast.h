/* The host agent's view of its VMs' multicast memberships
 * (docs/multicast.md): IGMPv2/v3 and MLDv1/v2 reports and leaves from a VM,
 * checked and turned into (group, join or leave) changes for the directory;
 * per-VM limits.  No I/O: the data plane hands the frame over, the agent
 * core sends the JOIN and LEAVE requests.
 *
 * A VM joins for its own VDC only: the VDC is the one the agent holds for
 * the VM's port, never anything in the frame, so a report naming a group
 * that another VDC uses joins the VM's own VDC's group of that address.
 * Source filtering (IGMPv3/MLDv2 INCLUDE lists) is not kept: a report that
 * wants any source of a group joins the whole group; one that leaves every
 * source (INCLUDE of nothing, a v2 leave, an MLDv1 done) leaves it.
 */
#ifndef PEREGRINE_AGENT_MCAST_H
#define PEREGRINE_AGENT_MCAST_H

#include "dir/client.h"
#include "lib/common.h"

enum agent_mcast_limits {
	AGENT_MCAST_VM_GROUPS = 16,	/* groups a VM may be in at once */
	AGENT_MCAST_OPS = 32,		/* changes one report may carry (more: counted, dropped) */
	AGENT_MCAST_BURST = 16,		/* reports a VM may send at once ... */
	AGENT_MCAST_PER_S = 4,		/* ... and then per second: a host sends
					 * a report per group when it joins and
					 * a few more on a querier's query */
	AGENT_MCAST_FRAME_MAX = 1514,	/* longer: not one of a VM's reports */
	/* The agent is its VMs' querier (RFC 3376 and 3810 as a router): an
	 * IGMPv3 general query to every VM (and an MLDv2 one to every VM of a
	 * VDC with IPv6) AGENT_MCAST_QUERY_INITIAL times
	 * AGENT_MCAST_QUERY_INITIAL_MS apart after each configuration (a VM
	 * that joined before its port was watched, or that has just migrated
	 * here, reports its groups within a second or two), then every
	 * AGENT_MCAST_QUERY_MS (RFC 3376's default query interval). */
	AGENT_MCAST_QUERY_INITIAL = 3,
	AGENT_MCAST_QUERY_INITIAL_MS = 1000,
	AGENT_MCAST_QUERY_MS = 125000,
	AGENT_MCAST_QUERY_RESP_DS = 10,	/* max response time, 1/10 s: 1 s */
	AGENT_MCAST_QUERY_LEN = 14 + 24 + 12,	/* Ethernet, IPv4 + router alert, query */
	AGENT_MCAST_QUERY6_RESP_MS = 1000,	/* the MLDv2 query's max response */
	AGENT_MCAST_QUERY6_LEN = 14 + 40 + 8 + 28,	/* Ethernet, IPv6, hop-by-hop, query */
};

/* What happened to a report from a VM: a counter each (agent stats
 * mcast_NAME). */
#define AGENT_MCAST_VERDICTS(X)                                                  \
	X(report, "IGMP/MLD reports and leaves taken")                          \
	X(join, "groups joined (changes sent to the directory)")               \
	X(leave, "groups left (changes sent to the directory)")                \
	X(ignored, "reports of groups the fabric serves itself (all nodes, solicited-node)") \
	X(drop_frame, "IGMP/MLD dropped: not IPv4/IPv6 within the frame, bad header") \
	X(drop_spoof, "IGMP/MLD dropped: source MAC or address not the VM's")   \
	X(drop_ttl, "IGMP/MLD dropped: TTL or hop limit not 1")                 \
	X(drop_csum, "IGMP/MLD dropped: bad IPv4 header or message checksum")   \
	X(drop_fragment, "IGMP/MLD dropped: a fragment")                        \
	X(drop_type, "IGMP/MLD dropped: a query or an unknown message type")    \
	X(drop_record, "IGMP/MLD dropped: a record past the end or of an unknown type") \
	X(drop_group, "IGMP/MLD dropped: not a group a VM may join, or sent to another") \
	X(drop_limit, "IGMP/MLD joins refused: VM in AGENT_MCAST_VM_GROUPS groups") \
	X(drop_rate, "IGMP/MLD dropped: VM over its rate (AGENT_MCAST_PER_S)")

enum agent_mcast_verdict {
#define AGENT_MCAST_ENUM(name, desc) AGENT_MCAST_##name,
	AGENT_MCAST_VERDICTS(AGENT_MCAST_ENUM)
#undef AGENT_MCAST_ENUM
	AGENT_MCAST_COUNT
};

const char *agent_mcast_verdict_name(int v);
const char *agent_mcast_desc(int v);

/* One change a report asks for; groups in the directory's form
 * (wire/dirproto.h: IPv4 groups IPv4-mapped). */
struct agent_mcast_op {
	bool join;
	uint8_t group[16];
};

/* What a report is checked against: the VM's interface MAC and its IPv4
 * address (0: none yet; a report from 0.0.0.0 is taken, RFC 3376 4.2.13). */
struct agent_mcast_vm {
	uint8_t mac[6];
	uint32_t ip;		/* host order */
};

/* Parse a frame (Ethernet, as the VM sent it) holding one IGMP or MLD
 * message: the changes it asks for into ops (at most AGENT_MCAST_OPS) and
 * their number into *nops.  Returns AGENT_MCAST_report, ignored, or the
 * drop reason; reads nothing outside data .. data + len. */
enum agent_mcast_verdict agent_mcast_parse(const struct agent_mcast_vm *vm, const uint8_t *data,
					   size_t len, struct agent_mcast_op *ops, unsigned *nops);

/* An IGMPv3 general query (RFC 3376 4.1) from the server's MAC src_mac to
 * 224.0.0.1: source address 0.0.0.0 (as the Linux bridge's querier sends
 * it: the agent has no address in the VM's subnet, and a VM's report does
 * not depend on it), TTL 1, the router alert option, max response time
 * AGENT_MCAST_QUERY_RESP_DS, QRV 2, QQIC 125 s.  A VM answers with a
 * report of every group it is in.  Returns AGENT_MCAST_QUERY_LEN. */
size_t agent_mcast_query_frame(const uint8_t src_mac[6], uint8_t f[AGENT_MCAST_QUERY_LEN]);

/* An MLDv2 general query (RFC 3810 5.1), for the VMs of a VDC with IPv6:
 * from the server's MAC src_mac and its link-local address (EUI-64; a VM
 * takes queries from link-local sources only) to ff02::1, hop limit 1,
 * after a hop-by-hop header with the router alert; max response
 * AGENT_MCAST_QUERY6_RESP_MS, QRV 2, QQIC 125 s.  Returns
 * AGENT_MCAST_QUERY6_LEN. */
size_t agent_mcast_query6_frame(const uint8_t src_mac[6], uint8_t f[AGENT_MCAST_QUERY6_LEN]);

/* A VM's groups and its report rate. */
struct agent_mcast_state {
	uint8_t group[AGENT_MCAST_VM_GROUPS][16];
	unsigned n;
	uint64_t at_ns;
	uint32_t tokens;
	bool started;
};

/* Take one report at time now_ns: false (count drop_rate) when the VM is
 * over its rate. */
bool agent_mcast_take(struct agent_mcast_state *s, uint64_t now_ns);

/* Apply a change to the VM's groups.  Returns AGENT_MCAST_join or leave
 * when the directory must be told, AGENT_MCAST_report when nothing changed
 * (a join of a group the VM is in, a leave of one it is not), drop_limit
 * when the VM is in AGENT_MCAST_VM_GROUPS groups already. */
enum agent_mcast_verdict agent_mcast_apply(struct agent_mcast_state *s,
					   const struct agent_mcast_op *op);

/* ---- the agent core's part -------------------------------------------------- */

/* What the core lends: the directory client, the VM's VDC and primary MAC
 * (its interface MAC), the server's node and MACs, the counters. */
struct agent_mcast_env {
	struct dirc *dirc;
	uint32_t vdc;
	uint32_t server;
	uint8_t vm_mac[6];
	uint8_t server_mac[2][6];
	uint64_t *st;			/* AGENT_MCAST_COUNT counters */
	uint64_t *send_fail;		/* JOIN/LEAVE records not sent */
};

/* A PGR_EV_MCAST frame from the VM: rate, parse, apply, and one JOIN and one
 * LEAVE request for the changes; each counted (env->st). */
void agent_mcast_input(const struct agent_mcast_env *env, struct agent_mcast_state *s,
		       struct dir_now now, uint32_t vm_ip, const uint8_t *frame, size_t len);

/* JOIN again every group the VM is in and its VDC's broadcast group (the
 * periodic refresh, and the first registration).  Returns records sent. */
unsigned agent_mcast_refresh(const struct agent_mcast_env *env, const struct agent_mcast_state *s,
			     struct dir_now now);

#endif
