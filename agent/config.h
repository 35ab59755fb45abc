/* The host agent's configuration file (YAML, docs/agent.md): which server it
 * is, its NICs, where the directory and the RAS are, the topology and its
 * VMs.  The lab writes one per server (STATE/agents/NAME.yaml); `lab
 * migrate` rewrites them and sends SIGHUP.  Workloads attached at run time
 * (containers, by the CNI plugin: docs/cni.md) are one file each in the
 * directory the `workloads` key names, so that attaching one never
 * rewrites the file the lab or an operator owns. */
#ifndef PEREGRINE_AGENT_CONFIG_H
#define PEREGRINE_AGENT_CONFIG_H

#include <stdio.h>
#include <netinet/in.h>
#include "lib/common.h"

enum agent_config_limits {
	AGENT_MAX_NICS = 2,
	AGENT_MAX_MORE_DIRS = 7,	/* `directories`: replicated directory servers */
	AGENT_MAX_VMS = 1024,
	AGENT_IFNAMSIZ = 16,
	AGENT_NAME_MAX = 63,
	AGENT_PATH_MAX = 255,
	/* a workload file holds one VM: a few hundred bytes */
	AGENT_WORKLOAD_MAX_BYTES = 4096,
	AGENT_MAX_DNS = 4,		/* DNS servers given to a VM by DHCP */
	AGENT_VM_MAX_VIPS = 8,		/* VIPs a VM answers from: the lab's VCs (8) */
};

/* A VIP of a virtual cluster (docs/slb.md) that a VM is a backend of: the VM
 * holds it and answers the VC's clients from it, straight to the Internet
 * edge (direct server return).  The agent lets the VM's port send from it
 * (bpf/dp.h, pgr_vip_src) while the VM is on its server. */
struct agent_vip_cfg {
	uint32_t ip;			/* host order */
	uint32_t edge;			/* the edge's node: a gateway leg (a VM of the
					 * VDC) or a gateway with a port of its own */
	uint32_t via;			/* the leg's server node; 0: the edge has a
					 * port of its own, frames go to it plain */
};

struct agent_vm_cfg {
	char name[AGENT_NAME_MAX + 1];
	uint32_t vdc;			/* 1 .. 2^24-1 */
	uint32_t ip;			/* host order */
	uint32_t node;			/* Peregrine node number (MACs: pgr_id_of) */
	char port[AGENT_IFNAMSIZ];	/* server end of its veth */
	uint32_t ifindex;		/* filled in by the shell; 0: missing */
	char policy[AGENT_PATH_MAX + 1];	/* its security group's file; "" none */
	/* `router: true`: the port is its VDC's leg of the Internet gateway
	 * (docs/edge.md): frames from it may carry any source address, and the
	 * agent registers it also as the VDC's default route (VDC, 0.0.0.0). */
	bool router;
	/* What DHCP gives the VM besides its ip (agent/dhcp.h): optional,
	 * plen 0 means the agent answers no DHCP for this VM. */
	uint8_t plen;			/* its VDC's prefix length, 1 .. 30 */
	uint32_t gateway;		/* host order; 0: none */
	uint32_t dns[AGENT_MAX_DNS];	/* host order */
	unsigned ndns;
	/* The VDC's IPv6 /64 (prefix6: "fd00:0:0:1::/64"): the agent registers
	 * and advertises the VM's SLAAC address under it (agent/agent6.h). */
	bool has_prefix6;
	uint8_t prefix6[8];
	/* `vips`: the VIPs of the VCs it is a backend of (the lab writes them
	 * from its `slb:` section); they move with the VM. */
	unsigned nvips;
	struct agent_vip_cfg vips[AGENT_VM_MAX_VIPS];
};

struct agent_config {
	char server[AGENT_NAME_MAX + 1];	/* topology node name */
	uint32_t node;				/* Peregrine node number */
	unsigned nnics;
	char nic[AGENT_MAX_NICS][AGENT_IFNAMSIZ];
	uint32_t nic_ifindex[AGENT_MAX_NICS];	/* filled in by the shell */
	struct sockaddr_in directory, ras;
	/* More directory servers of a replicated directory (docs/ha.md): the
	 * agent moves to the next when its server stops answering. */
	unsigned nmore_dirs;
	struct sockaddr_in more_dirs[AGENT_MAX_MORE_DIRS];
	char key[AGENT_PATH_MAX + 1];
	char topology[256];			/* a topology spec */
	/* `nic_mbps`: each NIC's capacity in Mbit/s (the lab's links.mbps);
	 * 0: not given, the agent asks the kernel (BCube: docs/bcube.md) */
	uint32_t nic_mbps;
	char workloads[AGENT_PATH_MAX + 1];	/* directory of workload files; "" none */
	unsigned nvms;
	struct agent_vm_cfg *vms;		/* owned */
	/* The last nworkloads of vms came from the workloads directory
	 * (agent_config_load_file); agent_config_write leaves them out. */
	unsigned nworkloads;
};

/* Parse a configuration.  0, or -EINVAL with "FILE:LINE: field: reason".
 * load_buf parses only; load_file also reads the workloads directory (every
 * *.yaml in it, in name order, each one VM mapping as in `vms`) and appends
 * its VMs, checked against the others like them. */
int agent_config_load_buf(struct agent_config *c, const char *name, const void *buf,
			  size_t len, char *err, size_t errlen);
int agent_config_load_file(struct agent_config *c, const char *path, char *err,
			   size_t errlen);
/* Parse one workload file's text (a VM mapping).  0, or -EINVAL with
 * "NAME:LINE: field: reason". */
int agent_workload_parse(struct agent_vm_cfg *vm, const char *name, const void *buf,
			 size_t len, char *err, size_t errlen);
/* Write one workload file's text. */
int agent_workload_write(const struct agent_vm_cfg *vm, FILE *f);
void agent_config_free(struct agent_config *c);
/* Write c in the same format (the lab and `lab migrate` use this). */
int agent_config_write(const struct agent_config *c, FILE *f);

#endif
