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

#endif
