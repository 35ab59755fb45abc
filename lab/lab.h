/* The lab: a data center emulated in network namespaces on one machine.
 *
 * A lab is a topology plus tenants (VDCs), VMs placed on servers, a FIB
 * capacity, link shaping and a management network (docs/lab.md).  This
 * header has the model read from a lab file (lab/file.c), the naming and
 * addressing rules every other part of Peregrine may rely on (lab/addr.c),
 * the setup scripts (lab/script.c, pure text generation) and the runner that
 * carries them out and keeps the state directory (lab/run.c).
 */
#ifndef PEREGRINE_LAB_LAB_H
#define PEREGRINE_LAB_LAB_H

#include <stdio.h>
#include "lib/common.h"
#include "topo/topo.h"
#include "wire/scheme.h"

enum lab_limits {
	LAB_MAX_PREFIX = 5,		/* so that "<prefix>-v1234567" fits IFNAMSIZ */
	LAB_MAX_NODES = 1000,		/* switches + servers */
	LAB_MAX_VMS = 4000,
	LAB_MAX_VDCS = 64,
	LAB_MAX_VDC_NAME = 31,
	LAB_MAX_VM_NAME = 63,
	LAB_MAX_PER_SERVER = 64,	/* VMs of one VDC on one server */
	LAB_IFNAMSIZ = 16,
	/* Every veth end gets its own interface index, from here up, two per
	 * veth: the kernel's linkwatch delays a carrier change by up to 1 s on
	 * a device whose index equals its peer's (it takes it for a device
	 * without a lower link), which veths in two fresh namespaces often
	 * are.  Indexes the kernel picks itself (lo, bridges) stay below. */
	LAB_IFINDEX_BASE = 100,
	LAB_SWITCHD_PORT = 7400,	/* default management ports */
	LAB_RAS_PORT = 7500,
	LAB_DIR_PORT = 7300,
	/* `groups:` (docs/lab.md, docs/multicast.md): multicast groups whose
	 * member VMs `lab up` joins */
	LAB_GROUPS_MAX = 64,		/* (VDC, group) entries in a lab file */
	LAB_VM_GROUPS_MAX = 16,		/* groups of one VM: the agent's
					 * AGENT_MCAST_VM_GROUPS */
};

/* MACs follow docs/wire-format.md (wire/pgr.h): the Peregrine prefix and
 * the ID of (node, tree).  Peregrine node numbers: server s is node s + 1,
 * VM v (id v, from 1) is node nservers + v.  A VM's interface has its
 * primary MAC; a server's NIC n has the server's primary MAC when n is even
 * and its backup MAC when n is odd (tree 1 is routed through the second NIC
 * of a dual-homed server). */
/* Server NIC n has 10.(200+n).0.0/16; server s takes host number s+1. */
#define LAB_NIC_NET 0x0ac80000u		/* 10.200.0.0 */
#define LAB_NIC_PLEN 16
#define LAB_MGMT_NET 0xac1f0000u	/* 172.31.0.0/16 */
#define LAB_MGMT_PLEN 16

/* The embedded default lab (`peregrine lab up` with no file). */
extern const char lab_default_yaml[];

struct lab_vdc {
	char name[LAB_MAX_VDC_NAME + 1];
	uint32_t id;		/* 1 .. 2^24-1 */
	uint32_t net;		/* host order */
	uint8_t plen;
	uint32_t next_host;	/* auto addresses: next host number */
	bool has_net6;		/* subnet6: the VDC's IPv6 /64 (SLAAC) */
	uint8_t net6[8];
};

struct lab_vm {
	char name[LAB_MAX_VM_NAME + 1];
	uint16_t vdc;		/* index into vdcs */
	uint32_t server;	/* topology node id */
	uint32_t id;		/* 1 .. LAB_MAX_VM_ID */
	uint32_t ip;		/* host order */
	char **rules;		/* its security group (`policy:`), nrules lines */
	uint32_t nrules;
	bool router;		/* a VDC's leg of the Internet gateway (`edge:`) */
	uint32_t public_ip;	/* `edge.nat[]`: its 1:1 public address; 0 none */
	uint32_t group[LAB_VM_GROUPS_MAX];	/* `groups:` it joins, host order */
	uint8_t ngroups;
	/* `policy[].rate`: its egress limit, a tbf on its eth0 (pol_tbf) */
	uint64_t rate_bps;	/* 0: none */
	uint32_t rate_burst, rate_queue;	/* bytes: tbf's bucket and queue */
};

/* One `groups:` entry: a VDC's IPv4 group (its members are in lab_vm). */
struct lab_group {
	uint16_t vdc;		/* index into vdcs */
	uint32_t group;		/* host order, 224.0.1.0 .. 239.255.255.255 */
};

/* The Internet edge (`edge:`, lab/edge.c, docs/edge.md): a client namespace
 * P-inet outside the fabric and a gateway namespace P-edge between it and
 * the VDCs; each VDC's leg of the gateway is a VM of the VDC (router flag)
 * whose interface the gateway holds.  NULL: no edge (the default). */
enum lab_edge_limits {
	LAB_EDGE_NAT_MAX = 1024,	/* 1:1 public addresses */
	LAB_EDGE_TABLE0 = 1000,		/* the gateway's routing table of VDC leg 0 */
};
struct lab_edge {
	uint32_t server;		/* topology node hosting the legs */
	uint32_t client;		/* host order: the Internet client's address */
	uint8_t client_plen;		/* the gateway's uplink: first host of it */
	uint32_t pub_net;		/* host order: the public range; first host: SNAT */
	uint8_t pub_plen;
	uint32_t nlegs;
	uint32_t leg[LAB_MAX_VDCS];	/* VM index of each leg, in VDC order */
	struct lab_edge_limit {		/* `edge.limits[]`: the VC's external rate */
		uint64_t rate_bps;	/* 0: none; else both ways through the leg */
		uint32_t burst, queue;	/* bytes: tbf's bucket and queue (pol_tbf) */
	} limit[LAB_MAX_VDCS];		/* by leg, as leg[] */
};

/* The server load balancer (`slb:`, lab/slb.c, docs/slb.md "In the lab"):
 * SLB servers among the fabric's servers and the VCs behind the edge.
 * NULL: none (the default). */
enum lab_slb_limits {
	LAB_SLB_SERVERS_MAX = 4,	/* a ring's members: their peers fit a command line */
	LAB_SLB_VCS_MAX = 8,
	LAB_SLB_BACKENDS_MAX = 64,	/* per VC */
	LAB_SLB_PORT = 7600,		/* `peregrine slb run --listen` on the management network */
};
#define LAB_SLB_RING_MISSES "5"		/* 10 ms heartbeats: a 50 ms window (docs/slb.md) */
#define LAB_SLB_GW_ADDR "169.254.77.1"	/* the gateway's end of P-sx */
#define LAB_SLB_SRV_ADDR "169.254.77.2"	/* the edge server's end */
struct lab_slb_vc {
	uint16_t vdc;			/* index into vdcs */
	uint32_t vip;			/* host order */
	uint32_t leg;			/* VM index of the VDC's gateway leg */
	uint32_t nbackends;
	uint32_t backend[LAB_SLB_BACKENDS_MAX];	/* VM indices */
};
struct lab_slb {
	uint32_t nservers;
	uint32_t server[LAB_SLB_SERVERS_MAX];	/* topology nodes; ring id = place + 1 */
	/* `standby`: the last nstandby of server[], powered off at start: the
	 * ring's auto scaling powers them on (docs/slb.md, "Auto scaling") */
	uint32_t nstandby;
	/* `scaling: {capacity_cps, high, low, hold, min}`; capacity 0: none */
	uint32_t capacity_cps, scale[4];
	uint32_t nvcs;
	struct lab_slb_vc vc[LAB_SLB_VCS_MAX];
	char *vc_yaml;			/* the VC file (slb/vc.h) of every SLB server */
};

/* A replicated control plane (`ha:`, lab/ha.c, docs/ha.md): etcd members,
 * directory servers and RAS processes, each in a namespace of its own on
 * the management network.  All zero: the single directory and RAS in the
 * management namespace (the default). */
enum lab_ha_kind { LAB_HA_ETCD, LAB_HA_DIR, LAB_HA_RAS, LAB_HA_KINDS };
enum { LAB_HA_MAX = 5 };	/* of each kind */
struct lab_ha {
	uint32_t n[LAB_HA_KINDS];
};

struct lab {
	char name[64];
	char prefix[LAB_MAX_PREFIX + 1];
	enum pgr_scheme scheme;	/* `scheme:`, default peregrine (docs/lab.md) */
	struct topo *topo;
	uint32_t fib;		/* every switch's capacity; 0: the topology's */
	uint32_t mbps;		/* shaping of fabric links; 0: none */
	double delay_ms;	/* one-way delay per fabric link; 0: none */
	uint32_t underlay_mtu;	/* `underlay_mtu:` (evpn only); 0: 1500 */
	uint32_t mgmt_net;
	uint8_t mgmt_plen;
	uint16_t switchd_port, ras_port;
	uint32_t nvdcs, nvms;
	struct lab_vdc *vdcs;
	struct lab_vm *vms;
	char *topo_text;	/* an inline `topology:` as YAML (NULL for a spec) */
	bool no_daemons;	/* `lab up --no-daemons`: namespaces and links only */
	struct lab_edge *edge;	/* `edge:`; NULL: none */
	struct lab_slb *slb;	/* `slb:`; NULL: none */
	struct lab_ha ha;
	uint32_t ngroups;
	struct lab_group groups[LAB_GROUPS_MAX];
};

/* ---- lab files (lab/file.c) ------------------------------------------------ */
/* Parse a lab file.  `prefix` must pass lab_prefix_ok.  0, or -EINVAL with
 * "FILE:LINE: field: reason" in err. */
int lab_load_buf(struct lab *l, const char *name, const void *buf, size_t len,
		 const char *prefix, char *err, size_t errlen);
void lab_free(struct lab *l);
bool lab_prefix_ok(const char *prefix);

/* ---- the Internet edge (lab/edge.c, docs/edge.md) ---------------------------- */
struct yconf;
struct ynode;
/* `edge:` (after the VMs, their addresses and `policy:`): adds each VDC's
 * gateway leg as a VM.  false with the file, line and field in yc. */
bool lab_edge_read(struct yconf *yc, struct ynode *node, struct lab *l);
/* Build the edge after the namespaces exist: the gateway and client
 * namespaces, the legs moved into the gateway, routes, nftables.  0 or -1
 * with err. */
int lab_edge_build(const struct lab *l, char *err, size_t errlen);

/* ---- the server load balancer (lab/slb.c, docs/slb.md) ----------------------- */
/* `slb:` (after `edge:`).  false with the file, line and field in yc. */
bool lab_slb_read(struct yconf *yc, struct ynode *node, struct lab *l);
void lab_slb_free(struct lab *l);
/* A server's ring id (1, 2, ...) or 0: not an SLB server. */
int lab_slb_ring_id(const struct lab *l, uint32_t node);
/* A standby SLB server: its daemon is not started by `lab up`; the edge
 * process starts and stops it when the ring asks (auto scaling). */
bool lab_slb_standby(const struct lab *l, uint32_t node);
/* STATE/slb/FILE. */
void lab_slb_path(const struct lab *l, const char *file, char *buf, size_t len);
/* STATE/slb/vcs.yaml and edge.json, before the daemons start.  0 or -1. */
int lab_slb_files(const struct lab *l, char *err, size_t errlen);
/* After the daemons: the gateway's link to the edge server, the VIPs'
 * routes, the backends' VIPs and their data planes' allowances.  0 or -1. */
int lab_slb_build(const struct lab *l, char *err, size_t errlen);
struct agent_vm_cfg;
/* The VIPs of the VCs VM vm (index) is a backend of, into its agent's
 * configuration: the agent lets it answer from them (docs/slb.md). */
void lab_slb_vm_vips(const struct lab *l, uint32_t vm, struct agent_vm_cfg *a);

/* ---- names and addresses (lab/addr.c) ---------------------------------------- */
/* Namespace of a node, a VM or the management network ("mgmt"). */
void lab_ns(const struct lab *l, const char *node, char *buf, size_t len);
void lab_ifname(const struct lab *l, char buf[LAB_IFNAMSIZ], const char *fmt, ...) PRINTF(3, 4);
/* The interface of `node` on `port` (a switch port or a server NIC). */
void lab_port_ifname(const struct lab *l, uint32_t node, uint32_t port, char buf[LAB_IFNAMSIZ]);
uint32_t lab_mgmt_ip(const struct lab *l, uint32_t node);	/* node id */
uint32_t lab_mgmt_self_ip(const struct lab *l);			/* the mgmt namespace */
uint32_t lab_server_node(uint32_t server_index);
uint32_t lab_vm_node(const struct lab *l, const struct lab_vm *vm);
void lab_vm_mac(const struct lab *l, const struct lab_vm *vm, uint8_t mac[6]);
void lab_nic_mac(uint32_t server_index, uint32_t nic, uint8_t mac[6]);
uint32_t lab_nic_ip(uint32_t server_index, uint32_t nic);
uint32_t lab_switch_fib(const struct lab *l, uint32_t node);
const char *lab_ip_str(uint32_t ip, char buf[16]);
/* A node (switch, server) by name: node id, or UINT32_MAX; a VM: its index
 * through *vm (else -1). */
uint32_t lab_find(const struct lab *l, const char *name, int *vm);

/* ---- the VL2 scheme (lab/vl2.c, docs/vl2.md) ---------------------------------- */
/* Locator addresses (LAs), host order.  Fabric link k is a /31: its end a
 * (the topology's link a) has LAB_VL2_LINK_NET + 2k, end b + 2k + 1; a
 * server's LA is the address of its NIC 0.  Switch n has the LA
 * LAB_VL2_SW_NET + n + 1 on its loopback; every intermediate also has the
 * anycast address LAB_VL2_ANYCAST. */
#define LAB_VL2_LINK_NET 0x0a600000u	/* 10.96.0.0/12 */
#define LAB_VL2_LINK_PLEN 12
#define LAB_VL2_SW_NET 0x0a700000u	/* 10.112.0.0/16 */
#define LAB_VL2_SW_PLEN 16
#define LAB_VL2_ANYCAST 0x0a6ffffeu	/* 10.111.255.254 */
enum lab_vl2_limits {
	LAB_VL2_MAX_LINKS = 1u << 19,	/* /31s in 10.96.0.0/12 */
	LAB_VL2_MAX_NODES = 65534,	/* switch LAs in 10.112.0.0/16 */
};
/* Does the topology suit VL2: intermediates (level-3 switches), every
 * server on exactly one switch (its ToR)?  0 or -EINVAL. */
int lab_vl2_check(const struct topo *t);
bool lab_vl2_is_int(const struct topo *t, uint32_t node);
uint32_t lab_vl2_link_ip(const struct topo *t, uint32_t node, uint32_t port);
uint32_t lab_vl2_switch_la(uint32_t node);
/* A server's LA and its ToR (node id). */
uint32_t lab_vl2_server_la(const struct topo *t, uint32_t node);
uint32_t lab_vl2_tor(const struct topo *t, uint32_t server_node);
/* `ip -n NS -batch` text for a switch or a server of a VL2 lab. */
void lab_vl2_script_switch(const struct lab *l, uint32_t node, FILE *f);
void lab_vl2_script_server(const struct lab *l, uint32_t node, FILE *f);
/* FRR's configuration of one switch: zebra, ospfd, bfdd (docs/vl2.md). */
void lab_vl2_frr_conf(const struct lab *l, uint32_t node, const char *daemon, FILE *f);

/* ---- the BCube scheme (lab/bcube.c, docs/bcube.md) ---------------------------- */
/* Server s has the address LAB_BCUBE_NET + s + 1 on `lo`; the range is
 * routed out of NIC 0 via LAB_BCUBE_GW, a permanent neighbour with
 * LAB_BCUBE_GW_MAC that only bcube_send sees. */
#define LAB_BCUBE_NET 0x0ad20000u	/* 10.210.0.0/16 */
#define LAB_BCUBE_PLEN 16
#define LAB_BCUBE_GW 0x0ad2fffeu	/* 10.210.255.254 */
#define LAB_BCUBE_GW_MAC { 0x02, 0x42, 0x43, 0x00, 0x00, 0x01 }
enum { LAB_BCUBE_MAX_SERVERS = 65533 };
/* Is it a BCube topology (bcube:) the data plane can address: n <= 32,
 * k + 1 <= 8 levels?  0 or -EINVAL. */
int lab_bcube_check(const struct topo *t);
uint32_t lab_bcube_ip(uint32_t server_index);	/* host order */
void lab_bcube_script_switch(const struct lab *l, uint32_t node, FILE *f);
void lab_bcube_script_server(const struct lab *l, uint32_t node, FILE *f);
void lab_bcube_script_neigh(const struct lab *l, uint32_t node, FILE *f);
/* ---- the NetLord scheme (lab/netlord.c, docs/netlord.md) -------------------- */
#define LAB_NETLORD_K 2		/* SPAIN's paths per pair of edge switches */
/* Every server has one NIC (on its edge switch, at a port < NL_EDGE_PORTS);
 * no switch has more ports than a VLAN can hold.  0 or -EINVAL / -E2BIG. */
int lab_netlord_check(const struct topo *t);
/* Switch node's MAC: 02:4e:4c and the node id. */
void lab_netlord_switch_mac(uint32_t node, uint8_t mac[6]);
/* A server's edge switch, and its port P there (the switch's port + 1). */
uint32_t lab_netlord_edge(const struct topo *t, uint32_t server, uint32_t *port);
void lab_netlord_script_switch(const struct lab *l, uint32_t node, FILE *f);
void lab_netlord_script_server(const struct lab *l, uint32_t node, FILE *f);

/* ---- the EVPN scheme (lab/evpn.c, docs/evpn.md) ------------------------------ */
/* Addresses as in VL2 (above): a /31 per link, every node (servers too:
 * their VTEP address) lab_vl2_switch_la(node) on its loopback. */
#define LAB_EVPN_ASN_BASE 4200000000u	/* the spines; leaves, servers + 1 + node */
enum lab_evpn_limits {
	LAB_EVPN_HDR_BYTES = 50,	/* outer Ethernet 14, IPv4 20, UDP 8, VXLAN 8 */
	LAB_EVPN_UDP_PORT = 4789,	/* IANA's VXLAN port */
	LAB_EVPN_RT_ASN = 65000,	/* route targets 65000:VNI on every VTEP */
	LAB_EVPN_BFD_MS = 300,		/* BFD tx/rx interval: 100 flapped here (docs/evpn.md) */
	LAB_EVPN_BFD_MULT = 3,
	LAB_EVPN_MTU_MIN = 1280,	/* underlay_mtu: bounds */
	LAB_EVPN_MTU_MAX = 9000,
};
/* Two tiers, leaves (a server port) and spines (only leaves around):
 * 0 or -EINVAL. */
int lab_evpn_check(const struct topo *t);
bool lab_evpn_is_leaf(const struct topo *t, uint32_t node);
uint32_t lab_evpn_asn(const struct topo *t, uint32_t node);
/* The tenants' MTU: the underlay's less VXLAN's 50 bytes, at most 1500. */
unsigned lab_evpn_vm_mtu(const struct lab *l);
void lab_evpn_script_switch(const struct lab *l, uint32_t node, FILE *f);
void lab_evpn_script_server(const struct lab *l, uint32_t node, FILE *f);
/* FRR's configuration of a switch or a server: zebra, bfdd, bgpd. */
void lab_evpn_frr_conf(const struct lab *l, uint32_t node, const char *daemon, FILE *f);

/* ---- setup scripts (lab/script.c) ------------------------------------------- */
/* Every namespace of the lab, management first. */
typedef void (*lab_ns_fn)(void *arg, const char *ns);
void lab_each_ns(const struct lab *l, lab_ns_fn fn, void *arg);
/* `ip -batch` input run in the host namespace: the namespaces and every veth
 * pair, each end created directly in its namespace. */
void lab_script_host(const struct lab *l, FILE *f);
/* `ip -n NS -batch` input for one namespace: bridges, addresses, links up,
 * neighbour entries.  `which`: a node id, LAB_NS_MGMT, or LAB_NS_VM + vm. */
enum { LAB_NS_MGMT = 0x40000000, LAB_NS_VM = 0x20000000, LAB_NS_HA = 0x10000000 };
void lab_script_ns(const struct lab *l, uint32_t which, FILE *f);
/* A server's permanent neighbour entries for every other server's NICs
 * (part of lab_script_ns; again after its NICs were down). */
void lab_script_neigh(const struct lab *l, uint32_t node, FILE *f);
/* `tc -n NS -batch` input for a node's fabric links, or (LAB_NS_VM + vm) a VM's
 * egress limit (`policy[].rate`); false if nothing to do. */
bool lab_script_tc(const struct lab *l, uint32_t node, FILE *f);

/* What differs between schemes in a lab's scripts, indexed by enum
 * pgr_scheme (lab/script.c); lab/run.h has the daemons and readiness. */
struct lab_scheme {
	void (*script_switch)(const struct lab *l, uint32_t node, FILE *f);
	void (*script_server)(const struct lab *l, uint32_t node, FILE *f);
	/* a server's neighbour entries after its NICs were down; NULL: none */
	void (*script_neigh)(const struct lab *l, uint32_t node, FILE *f);
	/* the VMs' MTU, and their largest GSO packet, when the scheme adds
	 * bytes on the wire; 0: the kernel's 1500 */
	unsigned vm_mtu;
};
extern const struct lab_scheme lab_schemes[PGR_SCHEME_COUNT];

/* ---- a replicated control plane (lab/ha.c) ------------------------------------- */
/* Its namespaces are `which` = LAB_NS_HA | kind << 8 | index (lab_script_ns),
 * named etcd0.., dir0.., ras0.. */
bool lab_ha_on(const struct lab *l);
uint32_t lab_ha_which(enum lab_ha_kind kind, uint32_t i);
const char *lab_ha_name(uint32_t which, char *buf, size_t len);
uint32_t lab_ha_ip(const struct lab *l, uint32_t which);
/* Every HA namespace, in start order (etcd, directories, RAS). */
void lab_ha_each_ns(const struct lab *l, lab_ns_fn fn, void *arg);
/* Their veths to the management bridge (veth numbers from *k on), the
 * bridge's side, and one HA namespace's own script. */
void lab_ha_script_host(const struct lab *l, FILE *f, uint32_t *k,
			void (*veth)(FILE *, uint32_t, const char *, const char *, const char *,
				     const char *));
void lab_ha_script_mgmt(const struct lab *l, FILE *f);
void lab_ha_script_ns(const struct lab *l, uint32_t which, FILE *f);
/* "http://A:2379,http://B:2379": the etcd members' client URLs. */
void lab_ha_etcd_urls(const struct lab *l, char *buf, size_t len);
/* "A:7300,B:7300": every directory server, number `first` (modulo their
 * count) first. */
void lab_ha_dir_list(const struct lab *l, uint32_t first, char *buf, size_t len);

#endif
