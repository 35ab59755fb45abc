/* The VL2 scheme's lab plan (docs/vl2.md): locator addresses, the switch
 * and server scripts, FRR's configuration.  Pure text, like lab/script.c:
 * lab/run.c carries it out. */
#include "lab/lab.h"

#include <errno.h>
#include <string.h>

bool lab_vl2_is_int(const struct topo *t, uint32_t node)
{
	return !topo_is_server(t, node) && t->nodes[node].level == 3;
}

int lab_vl2_check(const struct topo *t)
{
	bool ints = false;

	if (t->nlinks > LAB_VL2_MAX_LINKS || t->nnodes > LAB_VL2_MAX_NODES)
		return -EINVAL;
	for (uint32_t n = 0; n < t->nnodes; n++) {
		ints |= lab_vl2_is_int(t, n);
		if (topo_is_server(t, n) && t->nodes[n].degree != 1)
			return -EINVAL;
	}
	return ints ? 0 : -EINVAL;
}

uint32_t lab_vl2_link_ip(const struct topo *t, uint32_t node, uint32_t port)
{
	const struct topo_adj *a = topo_port(t, node, port);
	const struct topo_link *lk = &t->links[a->link];

	return LAB_VL2_LINK_NET + 2 * a->link + (lk->a == node && lk->pa == port ? 0 : 1);
}

uint32_t lab_vl2_switch_la(uint32_t node)
{
	return LAB_VL2_SW_NET + node + 1;
}

uint32_t lab_vl2_server_la(const struct topo *t, uint32_t node)
{
	return lab_vl2_link_ip(t, node, 0);
}

uint32_t lab_vl2_tor(const struct topo *t, uint32_t server_node)
{
	return topo_port(t, server_node, 0)->peer;
}

static void tor_aa_routes(const struct lab *l, uint32_t node, FILE *f);

/* The address across a node's port (the other end of the /31). */
static uint32_t peer_ip(const struct topo *t, uint32_t node, uint32_t port)
{
	return lab_vl2_link_ip(t, node, port) ^ 1;
}

/* Routed ports, a loopback LA (and the anycast address on intermediates). */
void lab_vl2_script_switch(const struct lab *l, uint32_t node, FILE *f)
{
	char ifn[LAB_IFNAMSIZ], ip[16];

	fprintf(f, "addr add %s/32 dev lo\n", lab_ip_str(lab_vl2_switch_la(node), ip));
	if (lab_vl2_is_int(l->topo, node))
		fprintf(f, "addr add %s/32 dev lo\n", lab_ip_str(LAB_VL2_ANYCAST, ip));
	for (uint32_t p = 0; p < l->topo->nodes[node].degree; p++) {
		lab_port_ifname(l, node, p, ifn);
		fprintf(f, "addr add %s/31 dev %s\n",
			lab_ip_str(lab_vl2_link_ip(l->topo, node, p), ip), ifn);
		fprintf(f, "link set %s up\n", ifn);
	}
	tor_aa_routes(l, node, f);
}

/* NIC 0 with the server's LA, a default route through its ToR. */
void lab_vl2_script_server(const struct lab *l, uint32_t node, FILE *f)
{
	char ifn[LAB_IFNAMSIZ], ip[16];

	lab_ifname(l, ifn, "nic0");
	fprintf(f, "addr add %s/31 dev %s\n", lab_ip_str(lab_vl2_server_la(l->topo, node), ip),
		ifn);
	fprintf(f, "link set %s up\n", ifn);
	fprintf(f, "route add default via %s dev %s\n", lab_ip_str(peer_ip(l->topo, node, 0), ip),
		ifn);
	/* what the fabric delivers for a local AA goes out of its port */
	for (uint32_t v = 0; v < l->nvms; v++) {
		uint8_t mac[6];
		char macs[18];

		if (l->vms[v].server != node)
			continue;
		lab_ifname(l, ifn, "v%u", l->vms[v].id);
		lab_vm_mac(l, &l->vms[v], mac);
		fprintf(f, "link set %s up\n", ifn);
		fprintf(f, "route add %s/32 dev %s\n", lab_ip_str(l->vms[v].ip, ip), ifn);
		snprintf(macs, sizeof(macs), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
			 mac[2], mac[3], mac[4], mac[5]);
		fprintf(f, "neigh replace %s lladdr %s dev %s nud permanent\n", ip, macs, ifn);
	}
}

/* A ToR delivers a decapsulated tenant packet by its AA: a route to every
 * AA on its servers (AAs are unique in a VL2 lab: lab/file.c). */
static void tor_aa_routes(const struct lab *l, uint32_t node, FILE *f)
{
	const struct topo *t = l->topo;
	char ip[16], via[16];

	for (uint32_t v = 0; v < l->nvms; v++) {
		uint32_t srv = l->vms[v].server;

		if (lab_vl2_tor(t, srv) != node)
			continue;
		fprintf(f, "route add %s/32 via %s\n", lab_ip_str(l->vms[v].ip, ip),
			lab_ip_str(lab_vl2_server_la(t, srv), via));
	}
}

/* Timers as a careful operator sets them on a fabric of point-to-point
 * links (docs/vl2.md, "Fail-over"): hellos every second, BFD at 3 x 100 ms
 * for failures without a carrier loss, SPF at once on the first change and
 * held off 50 ms to 1 s after that. */
static void ospfd_conf(const struct lab *l, uint32_t node, FILE *f)
{
	const struct topo *t = l->topo;
	char ifn[LAB_IFNAMSIZ], ip[16];

	fprintf(f, "interface lo\n ip ospf passive\nexit\n");
	for (uint32_t p = 0; p < t->nodes[node].degree; p++) {
		lab_port_ifname(l, node, p, ifn);
		/* servers speak no OSPF: their /31s are stub networks */
		if (topo_is_server(t, topo_port(t, node, p)->peer)) {
			fprintf(f, "interface %s\n ip ospf passive\nexit\n", ifn);
			continue;
		}
		fprintf(f, "interface %s\n"
			" ip ospf network point-to-point\n"
			" ip ospf hello-interval 1\n"
			" ip ospf dead-interval 4\n"
			" ip ospf bfd\n"
			" ip ospf bfd profile fabric\n"
			"exit\n", ifn);
	}
	fprintf(f, "router ospf\n ospf router-id %s\n",
		lab_ip_str(lab_vl2_switch_la(node), ip));
	fprintf(f, " timers throttle spf 0 50 1000\n"
		" timers throttle lsa all 0\n"
		" timers lsa min-arrival 0\n"
		" maximum-paths 64\n");
	fprintf(f, " network %s/%d area 0\n", lab_ip_str(LAB_VL2_LINK_NET, ip),
		LAB_VL2_LINK_PLEN);
	fprintf(f, " network %s/%d area 0\n", lab_ip_str(LAB_VL2_SW_NET, ip), LAB_VL2_SW_PLEN);
	fprintf(f, " network %s/32 area 0\n", lab_ip_str(LAB_VL2_ANYCAST, ip));
	fprintf(f, "exit\n");
}

void lab_vl2_frr_conf(const struct lab *l, uint32_t node, const char *daemon, FILE *f)
{
	fprintf(f, "! %s of %s, written by peregrine lab up\nhostname %s-%s\n", daemon,
		l->topo->nodes[node].name, l->prefix, l->topo->nodes[node].name);
	if (!strcmp(daemon, "ospfd"))
		ospfd_conf(l, node, f);
	else if (!strcmp(daemon, "bfdd"))
		fprintf(f, "bfd\n profile fabric\n  detect-multiplier 3\n"
			"  receive-interval 100\n  transmit-interval 100\n exit\nexit\n");
}
