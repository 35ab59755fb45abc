/* The EVPN scheme's lab plan (docs/evpn.md): the fabric operators build
 * today, as the baseline Peregrine is measured against.  Switches are
 * routers running eBGP (RFC 7938) with BFD; servers are VTEPs with a
 * kernel VXLAN device and a bridge per VDC, and FRR announcing their
 * tenants' MACs in BGP EVPN.  Pure text, like lab/script.c and lab/vl2.c:
 * lab/evpn_run.c and lab/run.c carry it out.
 *
 * Addresses are VL2's plan (lab/vl2.c): a /31 per fabric link, a /32 on
 * every node's loopback (servers too: a server's loopback is its VTEP
 * address). */
#include "lab/lab.h"

#include <errno.h>
#include <string.h>

/* A leaf has a server port; a spine has none. */
bool lab_evpn_is_leaf(const struct topo *t, uint32_t node)
{
	for (uint32_t p = 0; p < t->nodes[node].degree; p++)
		if (topo_is_server(t, topo_port(t, node, p)->peer))
			return true;
	return false;
}

/* Two tiers: servers only on leaves, spines only between leaves. */
int lab_evpn_check(const struct topo *t)
{
	bool spines = false;

	if (t->nlinks > LAB_VL2_MAX_LINKS || t->nnodes > LAB_VL2_MAX_NODES)
		return -EINVAL;
	for (uint32_t n = 0; n < t->nnodes; n++) {
		if (topo_is_server(t, n))
			continue;
		if (lab_evpn_is_leaf(t, n))
			continue;
		spines = true;
		for (uint32_t p = 0; p < t->nodes[n].degree; p++) {
			uint32_t peer = topo_port(t, n, p)->peer;

			if (!lab_evpn_is_leaf(t, peer))
				return -EINVAL;
		}
	}
	return spines ? 0 : -EINVAL;
}

/* RFC 7938: one ASN for all spines (so that no path runs leaf-spine-leaf-
 * spine), one per leaf and per server (4-byte private range). */
uint32_t lab_evpn_asn(const struct topo *t, uint32_t node)
{
	if (!topo_is_server(t, node) && !lab_evpn_is_leaf(t, node))
		return LAB_EVPN_ASN_BASE;
	return LAB_EVPN_ASN_BASE + 1 + node;
}

unsigned lab_evpn_vm_mtu(const struct lab *l)
{
	unsigned under = l->underlay_mtu ? l->underlay_mtu : 1500;

	return MIN(1500u, under - LAB_EVPN_HDR_BYTES);
}

/* Loopback and routed ports (the underlay MTU on each). */
static void routed_ports(const struct lab *l, uint32_t node, FILE *f)
{
	char ifn[LAB_IFNAMSIZ], ip[16];

	fprintf(f, "addr add %s/32 dev lo\n", lab_ip_str(lab_vl2_switch_la(node), ip));
	for (uint32_t p = 0; p < l->topo->nodes[node].degree; p++) {
		lab_port_ifname(l, node, p, ifn);
		fprintf(f, "addr add %s/31 dev %s\n",
			lab_ip_str(lab_vl2_link_ip(l->topo, node, p), ip), ifn);
		if (l->underlay_mtu)
			fprintf(f, "link set %s mtu %u\n", ifn, l->underlay_mtu);
		fprintf(f, "link set %s up\n", ifn);
	}
}

void lab_evpn_script_switch(const struct lab *l, uint32_t node, FILE *f)
{
	routed_ports(l, node, f);
}

/* A VTEP: the routed NICs, then per VDC a bridge and a VXLAN device (VNI =
 * the VDC id) on it, sourced from the loopback; the bridge learns the local
 * VMs, BGP EVPN fills in the remote ones (so the VXLAN port learns
 * nothing); the VMs' ports join their VDC's bridge. */
void lab_evpn_script_server(const struct lab *l, uint32_t node, FILE *f)
{
	char ifn[LAB_IFNAMSIZ], br[LAB_IFNAMSIZ], vx[LAB_IFNAMSIZ], ip[16];

	routed_ports(l, node, f);
	lab_ip_str(lab_vl2_switch_la(node), ip);
	for (uint32_t d = 0; d < l->nvdcs; d++) {
		uint32_t vni = l->vdcs[d].id;

		lab_ifname(l, br, "br%u", vni);
		lab_ifname(l, vx, "vx%u", vni);
		fprintf(f, "link add %s type bridge stp_state 0 mcast_snooping 0\n", br);
		fprintf(f, "link add %s mtu %u type vxlan id %u local %s dstport %u nolearning\n",
			vx, lab_evpn_vm_mtu(l), vni, ip, LAB_EVPN_UDP_PORT);
		fprintf(f, "link set %s addrgenmode none\n", vx);
		fprintf(f, "link set %s master %s\n", vx, br);
		fprintf(f, "link set dev %s type bridge_slave learning off\n", vx);
		/* ARP suppression: the bridge answers a local VM's ARP request
		 * for a remote VM from the neighbour zebra installed on the SVI
		 * (the bridge itself; from the type-2 route's MAC+IP), and does
		 * not flood it over the VXLAN port */
		fprintf(f, "link set dev %s type bridge_slave neigh_suppress on\n", vx);
		fprintf(f, "link set %s up\n", vx);
		fprintf(f, "link set %s up\n", br);
	}
	for (uint32_t v = 0; v < l->nvms; v++) {
		if (l->vms[v].server != node)
			continue;
		lab_ifname(l, ifn, "v%u", l->vms[v].id);
		lab_ifname(l, br, "br%u", l->vdcs[l->vms[v].vdc].id);
		fprintf(f, "link set %s master %s\n", ifn, br);
		fprintf(f, "link set %s up\n", ifn);
	}
}

/* bgpd: eBGP on every fabric port (a peer group with BFD), the loopback
 * announced, ECMP across every equal path; EVPN on every session, passed
 * on unchanged by the switches (the next hop stays the VTEP), announced
 * for every VNI by the servers. */
static void bgpd_conf(const struct lab *l, uint32_t node, FILE *f)
{
	const struct topo *t = l->topo;
	bool vtep = topo_is_server(t, node);
	char ip[16];

	fprintf(f, "router bgp %u\n", lab_evpn_asn(t, node));
	fprintf(f, " bgp router-id %s\n", lab_ip_str(lab_vl2_switch_la(node), ip));
	fprintf(f, " no bgp ebgp-requires-policy\n"
		" no bgp default ipv4-unicast\n"
		" bgp bestpath as-path multipath-relax\n"
		" timers bgp 3 9\n"
		" neighbor fabric peer-group\n"
		" neighbor fabric remote-as external\n"
		" neighbor fabric advertisement-interval 0\n"
		" neighbor fabric timers connect 1\n"
		" neighbor fabric bfd\n"
		" neighbor fabric bfd profile fabric\n");
	for (uint32_t p = 0; p < t->nodes[node].degree; p++)
		fprintf(f, " neighbor %s peer-group fabric\n",
			lab_ip_str(lab_vl2_link_ip(t, node, p) ^ 1, ip));
	fprintf(f, " address-family ipv4 unicast\n"
		"  network %s/32\n"
		"  neighbor fabric activate\n"
		"  maximum-paths 64\n"
		" exit-address-family\n", lab_ip_str(lab_vl2_switch_la(node), ip));
	fprintf(f, " address-family l2vpn evpn\n"
		"  neighbor fabric activate\n");
	if (!vtep) {
		fprintf(f, "  neighbor fabric attribute-unchanged next-hop\n");
	} else {
		fprintf(f, "  advertise-all-vni\n");
		/* one route target per VNI, the same on every VTEP: the
		 * automatic ones embed each server's own ASN */
		for (uint32_t d = 0; d < l->nvdcs; d++)
			fprintf(f, "  vni %u\n   route-target import %u:%u\n"
				"   route-target export %u:%u\n  exit-vni\n", l->vdcs[d].id,
				LAB_EVPN_RT_ASN, l->vdcs[d].id, LAB_EVPN_RT_ASN, l->vdcs[d].id);
	}
	fprintf(f, " exit-address-family\nexit\n");
}

/* BFD's profile, and a session on every fabric port configured here as
 * well as by bgpd: bfdd then runs it whether or not bgpd's registration
 * (through zebra, which may be slow to answer when 40 FRR daemons start
 * at once) arrived before bfdd was up; bgpd shares the session. */
static void bfdd_conf(const struct lab *l, uint32_t node, FILE *f)
{
	char ifn[LAB_IFNAMSIZ], ip[16], local[16];

	fprintf(f, "bfd\n profile fabric\n  detect-multiplier %u\n"
		"  receive-interval %u\n  transmit-interval %u\n exit\n",
		LAB_EVPN_BFD_MULT, LAB_EVPN_BFD_MS, LAB_EVPN_BFD_MS);
	for (uint32_t p = 0; p < l->topo->nodes[node].degree; p++) {
		uint32_t me = lab_vl2_link_ip(l->topo, node, p);

		lab_port_ifname(l, node, p, ifn);
		fprintf(f, " peer %s local-address %s interface %s\n  profile fabric\n exit\n",
			lab_ip_str(me ^ 1, ip), lab_ip_str(me, local), ifn);
	}
	fprintf(f, "exit\n");
}

void lab_evpn_frr_conf(const struct lab *l, uint32_t node, const char *daemon, FILE *f)
{
	fprintf(f, "! %s of %s, written by peregrine lab up\nhostname %s-%s\n", daemon,
		l->topo->nodes[node].name, l->prefix, l->topo->nodes[node].name);
	if (!strcmp(daemon, "bgpd"))
		bgpd_conf(l, node, f);
	else if (!strcmp(daemon, "bfdd"))
		bfdd_conf(l, node, f);
}
