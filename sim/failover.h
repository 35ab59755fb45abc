/* Failure to recovery, as a deterministic discrete-event run (sim/event.h).
 *
 * peregrine, peregrine-dual: the chain of the seed's "fail-over practice":
 *   witness switches detect the failure and report to the RAS (several
 *   copies, as the seed's "multiple SNMP traps"); the RAS finds the routes
 *   that used the failed element through its inverse map and tells the
 *   directory; the directory marks the GARP entries whose primary
 *   intermediary is an affected server unavailable and pushes that to every
 *   agent holding a lease on one of them; each agent switches to the backup
 *   MAC.  Recovery is when the last such agent has switched.
 * l2: spanning-tree reconvergence, 802.1D timers or RSTP's handshake.
 *
 * Every delay is a parameter; docs/experiments.md gives each default and
 * where it comes from.
 */
#ifndef PEREGRINE_SIM_FAILOVER_H
#define PEREGRINE_SIM_FAILOVER_H

#include "sim/limits.h"
#include "sim/net.h"
#include "sim/scheme.h"

enum sim_fo_fail { SIM_FAIL_LINK, SIM_FAIL_SWITCH };
enum sim_stp { SIM_STP_8021D, SIM_STP_RSTP };
/* Whom the directory tells.  TREE, the seed's design: every agent holding
 * a lease on an entry whose primary tree broke.  SOURCES: only those whose
 * own path up that tree crossed the failure (the RAS's inverse map knows
 * which edge switches lie below the failed link in each tree). */
enum sim_fo_scope { SIM_SCOPE_TREE, SIM_SCOPE_SOURCES };

/* Defaults, microseconds unless named otherwise (docs/experiments.md). */
#define SIM_FO_DETECT_US 1000.0		/* port down seen by the witness */
#define SIM_FO_HOP_US 100.0		/* one management-network message */
#define SIM_FO_RAS_US_PER_ROUTE 1.0	/* inverse-map walk, per affected tree */
#define SIM_FO_DS_US_PER_ENTRY 1.0	/* directory marks one GARP entry */
/* The directory's cost per client it notifies.  Until the directory's own
 * benchmark gives a figure, VL2's measured directory rate: 17K operations a
 * second per directory server, 58.8 us each (seeds/002). */
#define SIM_FO_FANOUT_US_PER_CLIENT_VL2 58.8
#define SIM_FO_AGENT_US 50.0		/* agent flips to the backup MAC */
#define SIM_FO_RETRY_US 10000.0		/* resend after an unanswered message */
#define SIM_FO_RECOMPUTE_US_PER_TREE 20.0 /* RAS recomputes one tree */
#define SIM_FO_BPDU_HOP_US 1000.0	/* a BPDU processed and relayed */

struct sim_fo_params {
	enum sim_scheme scheme;
	enum sim_fo_fail fail;
	enum sim_fo_scope scope;
	const char *target;	/* "A-B" (a link) or "A" (a switch); NULL: random */
	uint64_t seed;
	uint32_t vms_per_server, peers, directories, traps;
	double loss, jitter;	/* per message; delays vary by +-jitter */
	double detect_us, hop_us, ras_us_per_route, ds_us_per_entry;
	double fanout_us_per_client, agent_us, retry_us, recompute_us_per_tree;
	enum sim_stp stp;
	bool silent;		/* l2: failure not signalled by loss of carrier */
	double hello_s, max_age_s, fwd_delay_s, bpdu_hop_us;
};

/* Every field at its default, for the scheme. */
void sim_fo_defaults(struct sim_fo_params *p, enum sim_scheme s);

struct sim_fo_result {
	char failed[2 * 64 + 8];	/* what failed, by name */
	bool in_use;			/* it carried traffic of the scheme */
	bool recovered;			/* every surviving server reachable again */
	uint64_t recovery_ns;		/* failure to the last path restored */
	uint64_t p50_ns, p99_ns;	/* over the agents (peregrine) */
	double mean_ns;
	uint64_t ras_ns, directory_ns;	/* peregrine: when each heard of it */
	uint64_t redundancy_ns;		/* peregrine: replacement trees computed */
	uint32_t affected_servers;	/* peregrine: primary trees broken */
	uint64_t affected_entries;	/* GARP entries the directory marks:
					 * scope tree, all with a broken
					 * primary; sources, the copies cached
					 * by the agents it tells */
	uint32_t clients;		/* agents notified */
	uint32_t isolated_servers;	/* lost every link */
	uint32_t new_ports;		/* l2: ports that had to start forwarding */
	uint64_t messages, lost, events;
	uint64_t *agent_ns;		/* peregrine: each client's time, sorted */
};

/* Run one failure.  0, or -EINVAL with a one-line reason. */
int sim_failover_run(const struct sim_net *n, const struct sim_fo_params *p,
		     struct sim_fo_result *r, char *err, size_t errlen);
void sim_fo_result_free(struct sim_fo_result *r);

#endif
