/* The lab's setup as iproute2 batch scripts: pure text, so that the tests
 * can check every name and command without creating anything.  lab/run.c
 * feeds them to `ip -batch`, `ip -n NS -batch` and `tc -n NS -batch`. */
#include "lab/lab.h"

#include <string.h>

#include "bpf/netlord.h"
#include "bpf/vl2.h"
#include "wire/swproto.h"

static const char *ns_of_node(const struct lab *l, uint32_t node, char *buf, size_t len)
{
	lab_ns(l, l->topo->nodes[node].name, buf, len);
	return buf;
}

void lab_each_ns(const struct lab *l, lab_ns_fn fn, void *arg)
{
	char ns[128];

	lab_ns(l, "mgmt", ns, sizeof(ns));
	fn(arg, ns);
	lab_ha_each_ns(l, fn, arg);
	for (uint32_t n = 0; n < l->topo->nnodes; n++)
		fn(arg, ns_of_node(l, n, ns, sizeof(ns)));
	for (uint32_t v = 0; v < l->nvms; v++) {
		lab_ns(l, l->vms[v].name, ns, sizeof(ns));
		fn(arg, ns);
	}
}

static void add_ns_line(void *arg, const char *ns)
{
	fprintf(arg, "netns add %s\n", ns);
}

/* Veth number k: ends at interface indexes LAB_IFINDEX_BASE + 2k and + 2k+1,
 * unique in the lab, so no end has its peer's index (lab.h says why). */
static void veth(FILE *f, uint32_t k, const char *a_if, const char *a_ns, const char *b_if,
		 const char *b_ns)
{
	uint32_t idx = LAB_IFINDEX_BASE + 2 * k;

	fprintf(f, "link add %s netns %s index %u type veth peer name %s netns %s index %u\n",
		a_if, a_ns, idx, b_if, b_ns, idx + 1);
}

void lab_script_host(const struct lab *l, FILE *f)
{
	char a_ns[128], b_ns[128], a_if[LAB_IFNAMSIZ], b_if[LAB_IFNAMSIZ];
	const struct topo *t = l->topo;
	uint32_t k = 0;

	lab_each_ns(l, add_ns_line, f);
	for (uint32_t i = 0; i < t->nlinks; i++) {
		const struct topo_link *lk = &t->links[i];

		lab_port_ifname(l, lk->a, lk->pa, a_if);
		lab_port_ifname(l, lk->b, lk->pb, b_if);
		veth(f, k++, a_if, ns_of_node(l, lk->a, a_ns, sizeof(a_ns)), b_if,
		     ns_of_node(l, lk->b, b_ns, sizeof(b_ns)));
	}
	lab_ns(l, "mgmt", b_ns, sizeof(b_ns));
	for (uint32_t n = 0; n < t->nnodes; n++) {
		lab_ifname(l, a_if, "mgmt");
		lab_ifname(l, b_if, "m%u", n);
		veth(f, k++, a_if, ns_of_node(l, n, a_ns, sizeof(a_ns)), b_if, b_ns);
	}
	for (uint32_t v = 0; v < l->nvms; v++) {
		lab_ifname(l, a_if, "v%u", l->vms[v].id);
		lab_ifname(l, b_if, "eth0");
		lab_ns(l, l->vms[v].name, b_ns, sizeof(b_ns));
		veth(f, k++, a_if, ns_of_node(l, l->vms[v].server, a_ns, sizeof(a_ns)), b_if,
		     b_ns);
	}
	lab_ha_script_host(l, f, &k, veth);
}

/* ---- one namespace ----------------------------------------------------------- */
static void mgmt_side(const struct lab *l, uint32_t node, FILE *f)
{
	char ifn[LAB_IFNAMSIZ], ip[16];

	lab_ifname(l, ifn, "mgmt");
	fprintf(f, "addr add %s/%u dev %s\n", lab_ip_str(lab_mgmt_ip(l, node), ip),
		l->mgmt_plen, ifn);
	fprintf(f, "link set %s up\n", ifn);
}

static void script_switch(const struct lab *l, uint32_t node, FILE *f)
{
	char br[LAB_IFNAMSIZ], ifn[LAB_IFNAMSIZ];

	lab_ifname(l, br, "br");
	/* No STP, no multicast snooping: the bridge is a table and nothing more. */
	fprintf(f, "link add %s type bridge stp_state 0 mcast_snooping 0\n", br);
	for (uint32_t p = 0; p < l->topo->nodes[node].degree; p++) {
		lab_port_ifname(l, node, p, ifn);
		fprintf(f, "link set %s master %s\n", ifn, br);
		fprintf(f, "link set %s type bridge_slave learning off flood off "
			"mcast_flood off bcast_flood off\n", ifn);
		fprintf(f, "link set %s up\n", ifn);
	}
	fprintf(f, "link set %s up\n", br);
}

void lab_script_neigh(const struct lab *l, uint32_t node, FILE *f)
{
	const struct topo *t = l->topo;
	char ifn[LAB_IFNAMSIZ], ip[16], macs[18];
	uint8_t mac[6];

	/* Nothing floods, so ARP cannot work across the fabric: every server
	 * knows every other server's NIC addresses from the start. */
	for (uint32_t s = 0; s < t->nservers; s++) {
		uint32_t other = t->servers[s];

		if (other == node)
			continue;
		for (uint32_t nic = 0; nic < t->nodes[node].degree &&
		     nic < t->nodes[other].degree; nic++) {
			lab_ifname(l, ifn, "nic%u", nic);
			lab_nic_mac(s, nic, mac);
			fprintf(f, "neigh replace %s lladdr %s dev %s nud permanent\n",
				lab_ip_str(lab_nic_ip(s, nic), ip), swp_mac_str(mac, macs), ifn);
		}
	}
}

static void script_server(const struct lab *l, uint32_t node, FILE *f)
{
	uint32_t idx = l->topo->nodes[node].index;
	char ifn[LAB_IFNAMSIZ], ip[16], macs[18];
	uint8_t mac[6];

	for (uint32_t nic = 0; nic < l->topo->nodes[node].degree; nic++) {
		lab_ifname(l, ifn, "nic%u", nic);
		lab_nic_mac(idx, nic, mac);
		fprintf(f, "link set %s address %s\n", ifn, swp_mac_str(mac, macs));
		fprintf(f, "addr add %s/%u dev %s\n", lab_ip_str(lab_nic_ip(idx, nic), ip),
			LAB_NIC_PLEN, ifn);
		fprintf(f, "link set %s up\n", ifn);
	}
	lab_script_neigh(l, node, f);
	for (uint32_t v = 0; v < l->nvms; v++) {
		if (l->vms[v].server != node)
			continue;
		lab_ifname(l, ifn, "v%u", l->vms[v].id);
		fprintf(f, "link set %s up\n", ifn);
	}
}

static void script_vm(const struct lab *l, uint32_t v, FILE *f)
{
	const struct lab_vm *vm = &l->vms[v];
	char ifn[LAB_IFNAMSIZ], ip[16], macs[18];
	uint8_t mac[6];

	lab_ifname(l, ifn, "eth0");
	lab_vm_mac(l, vm, mac);
	fprintf(f, "link set lo up\n");
	fprintf(f, "link set %s address %s\n", ifn, swp_mac_str(mac, macs));
	fprintf(f, "addr add %s/%u dev %s\n", lab_ip_str(vm->ip, ip),
		l->vdcs[vm->vdc].plen, ifn);
	if (l->scheme == PGR_SCHEME_EVPN)
		fprintf(f, "link set %s mtu %u\n", ifn, lab_evpn_vm_mtu(l));
	else if (lab_schemes[l->scheme].vm_mtu)
		fprintf(f, "link set %s mtu %u gso_max_size %u\n", ifn,
			lab_schemes[l->scheme].vm_mtu, lab_schemes[l->scheme].vm_mtu);
	fprintf(f, "link set %s up\n", ifn);
	/* `groups:`: joined as a tenant's program would (IGMP); the report
	 * goes out before the agent watches the port, and its query (the
	 * agent is the VMs' querier) has the VM report again */
	for (unsigned g = 0; g < vm->ngroups; g++)
		fprintf(f, "addr add %s/32 dev %s autojoin\n", lab_ip_str(vm->group[g], ip), ifn);
}

static void script_mgmt(const struct lab *l, FILE *f)
{
	char br[LAB_IFNAMSIZ], ifn[LAB_IFNAMSIZ], ip[16];

	lab_ifname(l, br, "mbr");
	fprintf(f, "link set lo up\n");
	fprintf(f, "link add %s type bridge stp_state 0\n", br);
	for (uint32_t n = 0; n < l->topo->nnodes; n++) {
		lab_ifname(l, ifn, "m%u", n);
		fprintf(f, "link set %s master %s\n", ifn, br);
		fprintf(f, "link set %s up\n", ifn);
	}
	lab_ha_script_mgmt(l, f);
	fprintf(f, "addr add %s/%u dev %s\n", lab_ip_str(lab_mgmt_self_ip(l), ip),
		l->mgmt_plen, br);
	fprintf(f, "link set %s up\n", br);
}

void lab_script_ns(const struct lab *l, uint32_t which, FILE *f)
{
	if (which == LAB_NS_MGMT) {
		script_mgmt(l, f);
		return;
	}
	if (which & LAB_NS_VM) {
		script_vm(l, which & ~(uint32_t)LAB_NS_VM, f);
		return;
	}
	if (which & LAB_NS_HA) {
		lab_ha_script_ns(l, which, f);
		return;
	}
	fprintf(f, "link set lo up\n");
	if (topo_is_server(l->topo, which))
		lab_schemes[l->scheme].script_server(l, which, f);
	else
		lab_schemes[l->scheme].script_switch(l, which, f);
	mgmt_side(l, which, f);
}

const struct lab_scheme lab_schemes[PGR_SCHEME_COUNT] = {
	[PGR_SCHEME_PEREGRINE] = { script_switch, script_server, lab_script_neigh, 0 },
	[PGR_SCHEME_VL2] = { lab_vl2_script_switch, lab_vl2_script_server, NULL,
			     VL2_TENANT_MTU },
	[PGR_SCHEME_BCUBE] = { lab_bcube_script_switch, lab_bcube_script_server,
			       lab_bcube_script_neigh, 0 },
	/* the VMs' MTU depends on the underlay's: lab_evpn_vm_mtu() */
	[PGR_SCHEME_EVPN] = { lab_evpn_script_switch, lab_evpn_script_server, NULL, 0 },
	[PGR_SCHEME_NETLORD] = { lab_netlord_script_switch, lab_netlord_script_server, NULL,
				 NL_TENANT_MTU },
};

/* A VM's egress limit (`policy[].rate`): tbf on its own interface, where
 * its frames leave a device with a qdisc (docs/policy.md, "Bandwidth
 * limits"). */
static bool script_vm_tc(const struct lab *l, uint32_t v, FILE *f)
{
	const struct lab_vm *vm = &l->vms[v];
	char ifn[LAB_IFNAMSIZ];

	if (!vm->rate_bps)
		return false;
	lab_ifname(l, ifn, "eth0");
	fprintf(f, "qdisc replace dev %s root tbf rate %llubit burst %u limit %u\n", ifn,
		(unsigned long long)vm->rate_bps, vm->rate_burst, vm->rate_queue);
	return true;
}

bool lab_script_tc(const struct lab *l, uint32_t node, FILE *f)
{
	char ifn[LAB_IFNAMSIZ];

	if (node & LAB_NS_VM)
		return script_vm_tc(l, node & ~(uint32_t)LAB_NS_VM, f);
	if (!l->mbps && l->delay_ms <= 0)
		return false;
	for (uint32_t p = 0; p < l->topo->nodes[node].degree; p++) {
		lab_port_ifname(l, node, p, ifn);
		if (l->delay_ms > 0) {
			fprintf(f, "qdisc add dev %s root netem delay %.3fms", ifn, l->delay_ms);
			if (l->mbps)
				fprintf(f, " rate %umbit", l->mbps);
			fprintf(f, " limit 10000\n");
		} else {
			/* burst: at least one MTU-sized frame per jiffy at the rate */
			fprintf(f, "qdisc add dev %s root tbf rate %umbit burst %ukb latency 50ms\n",
				ifn, l->mbps, MAX(l->mbps / 8 / 100, 16u));
		}
	}
	return true;
}
