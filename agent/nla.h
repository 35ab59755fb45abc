/* The NetLord agent's daemon core (docs/netlord.md, "The NLA daemon"):
 * NL-ARP through the directory, and the VLAN choice kept alive by probes.
 *
 * NL-ARP: the encapsulation reports a (tenant, IP) it lacks (nl_events);
 * the core asks the directory, turns the answer into NetLord's table entry
 * (<VM MAC, tenant> -> <edge switch MAC, port>), holds a lease on it so that
 * the directory pushes changes (a migrated VM), and answers the VM's ARP
 * request that missed once the answer is in.
 *
 * Re-selection: a server sees no link but its own, so the NLA probes.  Every
 * NLA_PROBE_MS it sends, on each VLAN of its plan to each other edge switch,
 * a probe to one server under that switch (in turn); that server's NLA
 * echoes it on the same VLAN.  A VLAN whose probes to an edge switch go
 * unanswered (NLA_DEAD_PROBES sent and NLA_DEAD_MS since the last echo) is
 * taken out of the choice for that switch; an echo brings it back.  When
 * every VLAN to a switch looks dead the choice keeps them all (nothing
 * proves one better than another: the remote NLAs may be down, not the
 * fabric).
 *
 * A probe is an ordinary NetLord frame whose outer IPv4 carries UDP
 * (port NLA_PROBE_UDP) to P.0, tenant 0 (no tenant's): the edge switch
 * delivers it on P as it does every frame, the decapsulation passes it
 * (not protocol 143), and the NLA reads it from its NIC.  Tenants cannot
 * send one: everything a VM sends is encapsulated as protocol 143.
 *
 * No I/O: events in, actions out (struct nla_out); cmd/agent_netlord.c
 * does the directory requests, the map updates and the frames. */
#ifndef PEREGRINE_AGENT_NLA_H
#define PEREGRINE_AGENT_NLA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/netlord.h"
#include "bpf/netlord.h"
#include "wire/dirproto.h"

enum nla_limits {
	NLA_PENDING = 256,		/* lookups in flight */
	NLA_RETRY_MS = 200,		/* the same miss is asked again after this */
	NLA_HELD = 4096,		/* cached entries whose leases are renewed */
	NLA_RENEW_PCT = 80,		/* renew when this much of a lease has passed */
	NLA_ARP_WAIT = 128,		/* ARP requests waiting for the directory */
	NLA_OUT = 256,			/* actions per event */
	NLA_TARGETS = 8,		/* servers probed in turn under one edge switch */
	NLA_PROBE_MS = 50,		/* a probe per VLAN and edge switch this often */
	NLA_DEAD_PROBES = 3,		/* unanswered probes before a VLAN is dead ... */
	NLA_DEAD_MS = 200,		/* ... and this long without an echo */
	NLA_PROBE_UDP = 6516,		/* the probes' UDP port */
	NLA_PROBE_MAGIC = 0x4e4c5052,	/* "NLPR" */
	NLA_PROBE_PAYLOAD = 20,
	/* tagged Ethernet, IPv4, UDP, payload */
	NLA_PROBE_FRAME = WIRE_ETH_HLEN + NL_TAG_BYTES + WIRE_IPV4_HLEN + 8 + NLA_PROBE_PAYLOAD,
	NLA_ARP_FRAME = 42,		/* Ethernet + ARP */
};

enum nla_act_kind {
	NLA_LOOKUP,		/* ask the directory for (tenant, ip) */
	NLA_SET,		/* nl_dir[(tenant, ip)] = dir */
	NLA_DEL,		/* forget (tenant, ip) */
	NLA_PATHS,		/* nl_paths[edge_mac] = choice (n 0: delete) */
	NLA_SEND_NIC,		/* frame out of the NIC (a probe or an echo) */
	NLA_ARP_REPLY,		/* tell the VM on port ifindex: ip is at dir.mac */
};

struct nla_act {
	enum nla_act_kind kind;
	uint32_t tenant, ip;		/* ip: network order */
	struct nl_dir_entry dir;	/* SET, ARP_REPLY */
	uint32_t ifindex;		/* ARP_REPLY: the VM's port */
	uint8_t edge_mac[6];		/* PATHS */
	struct nl_vlan_choice choice;	/* PATHS */
	uint16_t len;			/* SEND_NIC */
	uint8_t frame[NLA_PROBE_FRAME];
};

struct nla_out {
	unsigned n;
	struct nla_act a[NLA_OUT];
};

#define NLA_STATS(X)                                                            \
	X(misses) X(lookups) X(suppressed) X(busy) X(answers) X(not_found)      \
	X(pushes) X(bad_entries) X(renewals) X(unheld) X(arp_replies)           \
	X(arp_dropped) X(probes_sent) X(echoes_sent) X(echoes_in)               \
	X(probe_short) X(probe_not_ours) X(probe_unknown) X(vlan_dead)           \
	X(vlan_alive) X(reselections) X(out_full)

struct nla_stats {
#define NLA_STAT_FIELD(n) uint64_t n;
	NLA_STATS(NLA_STAT_FIELD)
#undef NLA_STAT_FIELD
};

/* What the shell knows of the fabric (all copied by nla_init). */
struct nla_cfg {
	const struct nla_plan *plan;	/* the VLANs to every edge switch (kept) */
	const uint8_t (*edge_mac)[6];	/* per edge switch index of plan->s */
	/* per edge switch index: the ports P of up to NLA_TARGETS servers
	 * under it (not this server) */
	const uint8_t (*targets)[NLA_TARGETS];
	const uint8_t *ntargets;
	uint8_t port;			/* this server's P */
};

struct nla_vlan {
	uint64_t last_echo_ns;
	uint32_t unanswered;
	bool dead;
};

struct nla {
	const struct nla_plan *plan;
	uint32_t nends, self;
	uint8_t (*edge_mac)[6];
	uint8_t (*targets)[NLA_TARGETS];
	uint8_t *ntargets;
	struct nla_vlan (*vlan)[NL_K_MAX];	/* per edge switch, per plan VLAN */
	struct nl_vlan_choice *choice;		/* per edge switch: what nl_paths holds */
	uint8_t port;
	uint32_t seq;
	uint64_t next_probe_ns;
	struct {
		uint32_t tenant, ip;
		uint64_t asked_ns;	/* 0: free */
	} pending[NLA_PENDING];
	struct {
		uint32_t tenant, ip;
		uint64_t renew_ns;	/* 0: free */
	} held[NLA_HELD];
	struct {
		uint32_t tenant, ip, ifindex;
		uint64_t since_ns;	/* 0: free */
	} arp[NLA_ARP_WAIT];
	struct nla_stats st;
};

void nla_init(struct nla *n, const struct nla_cfg *cfg);
void nla_free(struct nla *n);
/* The first choice for every edge switch (the plan's VLANs): PATHS. */
void nla_start(struct nla *n, struct nla_out *out);

/* The encapsulation missed (tenant, ip) (network order); arp_ifindex: the
 * port of the VM whose ARP request missed (0: an IPv4 packet). */
void nla_on_miss(struct nla *n, uint64_t now_ns, uint32_t tenant, uint32_t ip,
		 uint32_t arp_ifindex, struct nla_out *out);
/* The directory answered a lookup, or pushed an entry (invalidate: an
 * INVALIDATE).  A NetLord entry (nla_dir_record): mac[0] the VM's MAC,
 * mac[2] its edge switch's, server its port P there. */
void nla_on_entry(struct nla *n, uint64_t now_ns, const struct dirp_entry *e,
		  bool invalidate, struct nla_out *out);
/* A lookup the directory never answered. */
void nla_on_timeout(struct nla *n, uint32_t tenant, uint32_t ip);
/* A frame read from the NIC (an Ethernet frame as delivered). */
void nla_on_frame(struct nla *n, uint64_t now_ns, const uint8_t *buf, size_t len,
		  struct nla_out *out);
/* Probes due, VLANs judged, leases renewed; returns the next deadline (ns). */
uint64_t nla_tick(struct nla *n, uint64_t now_ns, struct nla_out *out);

/* The directory record of a VM: (tenant, ip host order) -> its MACs (the
 * VM's primary and backup), its edge switch's MAC, its server's NIC MAC,
 * and its port P. */
void nla_dir_record(struct dirp_entry *e, uint32_t tenant, uint32_t ip, const uint8_t vm_mac[6],
		    const uint8_t vm_mac2[6], const uint8_t edge_mac[6], const uint8_t nic_mac[6],
		    uint8_t port);

/* Probe frames (exposed for the tests): a request or an echo on VLAN vid
 * from (port, edge_mac) to port `to` under edge switch `dst_edge`. */
size_t nla_probe_build(uint8_t *buf, bool echo, uint16_t vid, uint32_t seq,
		       const uint8_t dst_edge[6], uint8_t to, const uint8_t src_edge[6],
		       uint8_t port);

#endif
