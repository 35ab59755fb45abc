/* The agent's security groups: each VM's policy file (vms[].policy in the
 * configuration) compiled and installed in the data plane at start and on
 * SIGHUP.  docs/policy.md. */
#ifndef PEREGRINE_CMD_AGENT_POLICY_H
#define PEREGRINE_CMD_AGENT_POLICY_H

#include "agent/config.h"
#include "bpf/policy_maps.h"

/* Install the policy of every VM of c that names one (a new version each
 * time, so an edited file takes effect; connections it still allows go on);
 * take it away from the VMs of old (the configuration c replaces; NULL at
 * start) that named one and no longer do or are gone.  A file that does not
 * parse or compile is logged with FILE:LINE: FIELD and the VM keeps what it
 * had.  Returns the number of VMs whose policy failed. */
int agent_policy_sync(const struct agent_config *old, const struct agent_config *c,
		      const struct pgr_pol_maps *m);

/* ---- policies from the directory (docs/policy.md, "Where policy lives") ----
 * A VM without a policy file of its own gets the directory's policy for
 * (its VDC, its address): pushed when it changes or the VM is registered
 * here, asked for when the VM is added and every POLF_RECHECK_MS
 * (agent/polfetch.h).  A policy file named in the configuration wins. */

/* The policy maps to write: 0 and m filled (*opened: close it after), or
 * -1 when there is no data plane. */
typedef int (*agent_pol_maps_fn)(void *arg, struct pgr_pol_maps *m, bool *opened);

struct agent_poldir;
struct dirc;
struct dirp_pol;

struct agent_poldir *agent_poldir_new(struct dirc *c, agent_pol_maps_fn maps, void *arg);
void agent_poldir_free(struct agent_poldir *d);
/* The configuration c replaces old (NULL at start): follow c's VMs, ask
 * for new ones' policies now.  c must stay valid until the next call. */
void agent_poldir_sync(struct agent_poldir *d, const struct agent_config *old,
		       const struct agent_config *c, uint64_t now_ms);
/* A POL_NOTE from the directory. */
void agent_poldir_note(struct agent_poldir *d, const struct dirp_pol *r);
/* Every second or so: checks that are due. */
void agent_poldir_tick(struct agent_poldir *d, uint64_t now_ms);

#endif
