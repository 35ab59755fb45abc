/* Virtual-cluster definitions for the load balancer (YAML, docs/slb.md):
 * each VC publishes a VIP with TCP and UDP ports in front of backend VMs of
 * one VDC, with options (stickiness, health checking).  Every check happens
 * here, with the file, line and field of the first bad value; the core
 * (slb/slb.h) trusts what it gets. */
#ifndef PEREGRINE_SLB_VC_H
#define PEREGRINE_SLB_VC_H

#include <stddef.h>
#include <stdint.h>
#include "lib/common.h"

enum slb_vc_limits {
	SLB_VCS_MAX = 32,		/* VCs in one file */
	SLB_VC_PORTS_MAX = 8,		/* services of one VIP */
	SLB_VC_BACKENDS_MAX = 1024,	/* backend VMs of one VC */
	SLB_VC_NAME_MAX = 63,
	SLB_WEIGHT_MAX = 1000,		/* a backend's configured weight */
	SLB_WEIGHT_DEFAULT = 100,
	SLB_HEALTH_INTERVAL_MIN_MS = 10,
	SLB_HEALTH_INTERVAL_MAX_MS = 60000,
	SLB_HEALTH_INTERVAL_DEFAULT_MS = 100,
	SLB_HEALTH_FAILS_MAX = 100,
	SLB_HEALTH_FAILS_DEFAULT = 3,
};

struct slb_port_cfg {
	uint8_t proto;		/* 6 TCP, 17 UDP */
	uint16_t port;		/* host order */
};

struct slb_backend_cfg {
	uint32_t ip;		/* network order */
	uint32_t vm;		/* the VM's Peregrine node (its MACs: pgr_id_of) */
	uint32_t server;	/* its server's node */
	uint32_t weight;	/* 1 .. SLB_WEIGHT_MAX */
	bool drain;		/* keep established flows, take no new ones */
};

struct slb_vc_cfg {
	char name[SLB_VC_NAME_MAX + 1];
	uint32_t vdc;		/* 1 .. 2^24-1 */
	uint32_t vip;		/* network order */
	unsigned nports;
	struct slb_port_cfg ports[SLB_VC_PORTS_MAX];
	bool sticky;		/* source-IP stickiness */
	uint32_t health_interval_ms;
	uint32_t health_fails;	/* missed probes before a backend is down */
	unsigned nbackends;
	struct slb_backend_cfg *backends;	/* owned */
};

struct slb_config {
	unsigned nvcs;
	struct slb_vc_cfg *vcs;			/* owned */
};

/* 0, or -EINVAL with "FILE:LINE: field: reason" in err. */
int slb_config_load_buf(struct slb_config *c, const char *name, const void *buf, size_t len,
			char *err, size_t errlen);
int slb_config_load_file(struct slb_config *c, const char *path, char *err, size_t errlen);
void slb_config_free(struct slb_config *c);
/* Services over all VCs (each takes a Maglev table). */
unsigned slb_config_services(const struct slb_config *c);

#endif
