/* Unit tests of the lab's model: lab files (good and bad), names and
 * addresses, and the setup scripts, without creating anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <stdio.h>

#include "agent/config.h"
#include "lab/lab.h"
#include "lab/run.h"

static struct lab load_ok(const char *text, const char *prefix)
{
	struct lab l;
	char err[512];
	int rc = lab_load_buf(&l, "t.yaml", text, strlen(text), prefix, err, sizeof(err));

	if (rc)
		fail_msg("unexpected error: %s", err);
	return l;
}

static void expect_err(const char *text, const char *prefix, const char *want)
{
	struct lab l;
	char err[512];

	assert_int_not_equal(lab_load_buf(&l, "t.yaml", text, strlen(text), prefix, err,
					  sizeof(err)), 0);
	if (!strstr(err, want))
		fail_msg("error '%s' lacks '%s'", err, want);
}

static void test_default(void **state)
{
	struct lab l = load_ok(lab_default_yaml, "pg");
	uint8_t mac[6];

	(void)state;
	assert_int_equal(l.topo->nswitches, 6);
	assert_int_equal(l.topo->nservers, 8);
	assert_int_equal(l.nvdcs, 2);
	assert_int_equal(l.nvms, 16);
	/* both VDCs use 10.0.0.1 .. 10.0.0.8, one VM each per server */
	for (uint32_t i = 0; i < l.nvms; i++) {
		assert_true(topo_is_server(l.topo, l.vms[i].server));
		assert_int_equal(l.vms[i].ip >> 8, 0x0a0000);
		assert_int_equal(l.vms[i].id, i + 1);
		for (uint32_t j = 0; j < i; j++) {
			assert_string_not_equal(l.vms[i].name, l.vms[j].name);
			if (l.vms[i].vdc == l.vms[j].vdc)
				assert_int_not_equal(l.vms[i].ip, l.vms[j].ip);
		}
	}
	assert_string_equal(l.vms[0].name, "red-srv0");
	assert_string_equal(l.vms[1].name, "blue-srv0");
	assert_int_equal(l.vms[0].ip, l.vms[1].ip);
	/* both VDCs have the same IPv6 /64 too (docs/tenant-network.md) */
	for (uint32_t v = 0; v < 2; v++) {
		assert_true(l.vdcs[v].has_net6);
		assert_memory_equal(l.vdcs[v].net6, "\xfd\0\0\0\0\0\0\x01", 8);
	}
	/* docs/wire-format.md: node n, tree t -> 02:00:00 : ID of index 2n+t */
	lab_vm_mac(&l, &l.vms[0], mac);		/* VM 1 = node 9, primary */
	assert_memory_equal(mac, ((uint8_t[6]){ 0x02, 0, 0, 0x02, 0x00, 0x12 }), 6);
	lab_nic_mac(3, 1, mac);			/* srv3 = node 4, NIC 1: backup */
	assert_memory_equal(mac, ((uint8_t[6]){ 0x02, 0, 0, 0x02, 0x00, 0x09 }), 6);
	lab_nic_mac(3, 0, mac);			/* NIC 0: primary */
	assert_memory_equal(mac, ((uint8_t[6]){ 0x02, 0, 0, 0x02, 0x00, 0x08 }), 6);
	assert_int_equal(lab_nic_ip(3, 1), 0x0ac90004);	/* 10.201.0.4 */
	assert_int_equal(lab_mgmt_ip(&l, 0), 0xac1f0002);
	assert_int_equal(lab_switch_fib(&l, 0), TOPO_DEFAULT_FIB);
	lab_free(&l);
}

static void test_full_file(void **state)
{
	static const char text[] =
		"name: small\n"
		"topology:\n"
		"  switches: [s1, {name: s2, fib: 5}]\n"
		"  servers: [h1, h2]\n"
		"  links: [[s1, s2], [h1, s1], [h2, s2]]\n"
		"fib: 8\n"
		"links: {mbps: 100, delay_ms: 0.5}\n"
		"mgmt: {subnet: 192.168.77.0/24, switchd_port: 7000, ras_port: 7001}\n"
		"vdcs:\n"
		"  - {name: a, id: 10, subnet: 192.168.1.0/29}\n"
		"vms:\n"
		"  - {name: web, vdc: a, server: h1, ip: 192.168.1.1}\n"
		"  - {name: db, vdc: a, server: h2}\n";
	struct lab l = load_ok(text, "x1");

	(void)state;
	assert_string_equal(l.name, "small");
	assert_int_equal(l.topo->nnodes, 4);
	assert_int_equal(l.fib, 8);
	assert_int_equal(lab_switch_fib(&l, 1), 8);
	assert_int_equal(l.mbps, 100);
	assert_true(l.delay_ms == 0.5);
	assert_int_equal(l.mgmt_net, 0xc0a84d00);
	assert_int_equal(l.switchd_port, 7000);
	assert_int_equal(l.nvms, 2);
	assert_int_equal(l.vms[1].ip, 0xc0a80102);	/* .1 is web's */
	lab_free(&l);
}

static void test_bad_files(void **state)
{
	(void)state;
	expect_err("topology: leafspine:spines=2\n", "pg", "t.yaml:1: topology:");
	expect_err("topology: fattree:k=4\nbogus: 1\n", "pg", "t.yaml:2: ");
	expect_err("topology: fattree:k=4\n", "PG", "prefix");
	expect_err("topology: fattree:k=4\n", "toolong", "prefix");
	expect_err("vdcs: []\n", "pg", "topology: missing");
	expect_err("topology: fattree:k=4\nvdcs:\n  - {name: a, id: 1, subnet: 10.0.0.1/24}\n",
		   "pg", "t.yaml:3: vdcs[0].subnet");
	expect_err("topology: fattree:k=4\nvdcs:\n  - {name: a, id: 1, subnet: 10.0.0.0/24}\n"
		   "  - {name: a, id: 2, subnet: 10.0.0.0/24}\n", "pg", "used twice");
	expect_err("topology: fattree:k=4\nvdcs: [{name: a, id: 1, subnet: 10.0.0.0/30}]\n"
		   "placement: {per_server: 1}\n", "pg", "subnet too small");
	expect_err("topology: fattree:k=4\nvdcs: [{name: a, id: 1, subnet: 10.0.0.0/24}]\n"
		   "vms: [{name: x, vdc: a, server: core0}]\n", "pg", "vms[0].server");
	expect_err("topology: fattree:k=4\nvdcs: [{name: a, id: 1, subnet: 10.0.0.0/24}]\n"
		   "vms: [{name: srv1, vdc: a, server: srv0}]\n", "pg", "already a node");
	expect_err("topology: fattree:k=4\nvdcs: [{name: a, id: 1, subnet: 10.0.0.0/24}]\n"
		   "vms: [{name: x, vdc: a, server: srv0, ip: 10.0.1.1}]\n", "pg", "vms[0].ip");
	expect_err("topology: fattree:k=4\nlinks: {mbps: 0}\n", "pg", "links.mbps");
	expect_err("topology: fattree:k=4\nvdcs:\n  - {name: a, id: 1, subnet: 10.0.0.0/24, "
		   "subnet6: \"fd00::/48\"}\n", "pg", "t.yaml:3: vdcs[0].subnet6");
	expect_err("topology: fattree:k=4\nvdcs:\n  - {name: a, id: 1, subnet: 10.0.0.0/24, "
		   "subnet6: \"fd00::1/64\"}\n", "pg", "vdcs[0].subnet6");
	expect_err("topology: fattree:k=4\nvdcs:\n  - {name: a, id: 1, subnet: 10.0.0.0/24, "
		   "subnet6: \"fe80::/64\"}\n", "pg", "vdcs[0].subnet6");
	expect_err("topology: fattree:k=4\nvdcs:\n  - {name: a, id: 1, subnet: 10.0.0.0/24, "
		   "subnet6: 10.0.0.0/24}\n", "pg", "vdcs[0].subnet6");
	expect_err("topology: fattree:k=4\nmgmt: {subnet: 10.0.0.0/30}\n", "pg", "too small");
	expect_err("topology: fattree:k=64\n", "pg", "at most");
	/* an inline topology's errors keep the lab file's line numbers */
	expect_err("name: x\n"
		   "topology:\n"
		   "  switches: [s1]\n"
		   "  servers: [h1]\n"
		   "  links:\n"
		   "    - [h1, s9]\n", "pg", "t.yaml:6:");
	expect_err("topology: [1, 2\n", "pg", "t.yaml:");
}

/* `groups:`: the member VMs of a VDC's group join it in their namespace's
 * script; every mistake is named with its line and field. */
#define GRP_LAB "topology: leafspine:spines=2,leaves=2,servers=2,homing=2\n" \
	"vdcs:\n  - {name: red, id: 1, subnet: 10.0.0.0/24}\n" \
	"  - {name: blue, id: 2, subnet: 10.0.0.0/24}\nplacement: {per_server: 1}\n"

static void test_groups(void **state)
{
	struct lab l = load_ok(GRP_LAB "groups:\n"
			       "  - {vdc: red, group: 239.1.2.3, members: [red-srv1, red-srv3]}\n"
			       "  - {vdc: blue, group: 239.1.2.3, members: [blue-srv1]}\n"
			       "  - {vdc: red, group: 239.1.2.4, members: [red-srv1]}\n", "pg");
	char *text = NULL;
	size_t len = 0;
	unsigned joined = 0;
	FILE *f;

	(void)state;
	assert_int_equal(l.ngroups, 3);
	for (uint32_t v = 0; v < l.nvms; v++) {
		const struct lab_vm *vm = &l.vms[v];
		unsigned want = !strcmp(vm->name, "red-srv1") ? 2 : !strcmp(vm->name, "red-srv3") ||
				!strcmp(vm->name, "blue-srv1") ? 1 : 0;

		assert_int_equal(vm->ngroups, want);
		joined += vm->ngroups;
		f = open_memstream(&text, &len);
		lab_script_ns(&l, LAB_NS_VM | v, f);
		fclose(f);
		assert_int_equal(strstr(text, "addr add 239.1.2.3/32 dev pg-eth0 autojoin\n") != NULL,
				 want >= 1);
		assert_int_equal(strstr(text, "addr add 239.1.2.4/32 dev pg-eth0 autojoin\n") != NULL,
				 want == 2);
		free(text);
		text = NULL;
	}
	assert_int_equal(joined, 4);
	lab_free(&l);
	expect_err(GRP_LAB "groups:\n  - {vdc: green, group: 239.1.2.3, members: [red-srv1]}\n",
		   "pg", "t.yaml:7: groups[].vdc: no VDC 'green'");
	expect_err(GRP_LAB "groups:\n  - {vdc: red, group: 10.0.0.1, members: [red-srv1]}\n",
		   "pg", "t.yaml:7: groups[].group: expected an IPv4 multicast");
	expect_err(GRP_LAB "groups:\n  - {vdc: red, group: 224.0.0.1, members: [red-srv1]}\n",
		   "pg", "t.yaml:7: groups[].group:");
	expect_err(GRP_LAB "groups:\n  - {vdc: red, group: 239.1.2.3, members: [blue-srv1]}\n",
		   "pg", "t.yaml:7: groups[].members: 'blue-srv1' is a VM of VDC blue, not red");
	expect_err(GRP_LAB "groups:\n  - {vdc: red, group: 239.1.2.3, members: [red-srv9]}\n",
		   "pg", "groups[].members: no VM 'red-srv9'");
	expect_err(GRP_LAB "groups:\n  - {vdc: red, group: 239.1.2.3,\n"
		   "      members: [red-srv1, red-srv1]}\n", "pg", "t.yaml:8: groups[].members: "
		   "'red-srv1' listed twice");
	expect_err(GRP_LAB "groups:\n  - {vdc: red, group: 239.1.2.3, members: [red-srv1]}\n"
		   "  - {vdc: red, group: 239.1.2.3, members: [red-srv2]}\n", "pg",
		   "t.yaml:8: groups[].group: '239.1.2.3' of VDC red listed twice");
	expect_err(GRP_LAB "groups:\n  - {vdc: red, group: 239.1.2.3}\n", "pg",
		   "groups[].members: missing");
	expect_err(GRP_LAB "groups:\n  - {vdc: red, group: 239.1.2.3, members: []}\n", "pg",
		   "groups[].members: expected a list");
	expect_err(GRP_LAB "groups:\n  - {vdc: red, group: 239.1.2.3, members: [red-srv1], "
		   "ttl: 1}\n", "pg", "t.yaml:7:");
	expect_err("scheme: vl2\ntopology: vl2:da=4,di=4,per_tor=2\n"
		   "vdcs: [{name: red, id: 1, subnet: 10.0.0.0/24}]\nplacement: {per_server: 1}\n"
		   "groups: []\n", "pg", "t.yaml:5: groups: only the peregrine scheme");
	{	/* a VM in more groups than the agent lets it join */
		char buf[4096];
		int n = snprintf(buf, sizeof(buf), GRP_LAB "groups:\n");

		for (int i = 0; i <= LAB_VM_GROUPS_MAX; i++)
			n += snprintf(buf + n, sizeof(buf) - (size_t)n,
				      "  - {vdc: red, group: 239.1.2.%d, members: [red-srv1]}\n", i + 1);
		expect_err(buf, "pg", "'red-srv1' is in 16 groups already");
	}
}

static const char vl2_yaml[] =
	"scheme: vl2\n"
	"topology: vl2:da=4,di=4,per_tor=2\n"
	"vdcs: [{name: red, id: 1, subnet: 10.0.0.0/24}]\n"
	"placement: {per_server: 1}\n";

static void test_scheme(void **state)
{
	struct lab l = load_ok(lab_default_yaml, "pg");
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(l.scheme, PGR_SCHEME_PEREGRINE);
	lab_free(&l);
	l = load_ok("scheme: peregrine\ntopology: fattree:k=4\n", "pg");
	assert_int_equal(l.scheme, PGR_SCHEME_PEREGRINE);
	lab_free(&l);
	expect_err("topology: fattree:k=4\nscheme: bcube9\n", "pg",
		   "t.yaml:2: scheme: 'bcube9' is not one of peregrine, vl2");
	expect_err("topology: fattree:k=4\nscheme: [vl2]\n", "pg", "t.yaml:2: scheme:");
	/* VL2 needs intermediates and single-homed servers */
	expect_err("scheme: vl2\ntopology: leafspine:spines=2,leaves=2,servers=1\n", "pg",
		   "t.yaml:1: scheme: vl2 needs intermediate switches");
	expect_err("scheme: vl2\ntopology:\n  switches: [{name: i, level: 3}, t1, t2]\n"
		   "  servers: [h]\n  links: [[i, t1], [i, t2], [h, t1], [h, t2]]\n", "pg",
		   "scheme: vl2 needs");
	expect_err("scheme: vl2\ntopology: vl2:da=4,di=4,per_tor=2\n"
		   "vdcs: [{name: a, id: 1, subnet: 10.0.0.0/24}, "
		   "{name: b, id: 2, subnet: 10.0.0.0/16}]\n", "pg",
		   "t.yaml:1: scheme: vl2: VDCs a and b overlap");
	/* a fat-tree's cores are level 3: they serve as intermediates */
	l = load_ok("scheme: vl2\ntopology: fattree:k=4\n", "pg");
	lab_free(&l);

	l = load_ok(vl2_yaml, "pg");
	assert_int_equal(l.scheme, PGR_SCHEME_VL2);
	/* int0 (node 0): its LA and the anycast address on lo, /31s on ports */
	f = open_memstream(&text, &len);
	lab_script_ns(&l, topo_find(l.topo, "int0"), f);
	fclose(f);
	assert_non_null(strstr(text, "addr add 10.112.0.1/32 dev lo"));
	assert_non_null(strstr(text, "addr add 10.111.255.254/32 dev lo"));
	assert_null(strstr(text, "type bridge"));
	free(text);
	/* a server: its LA on NIC 0 (the far end of its ToR's /31), a
	 * default route through the ToR; no neighbour entries */
	{
		uint32_t srv = topo_find(l.topo, "srv0"), tor = lab_vl2_tor(l.topo, srv);
		uint32_t la = lab_vl2_server_la(l.topo, srv);
		char want[128], ip[16];

		assert_string_equal(l.topo->nodes[tor].name, "tor0");
		assert_int_equal(la >> 1, lab_vl2_link_ip(l.topo, tor, 2) >> 1);
		assert_int_not_equal(la, lab_vl2_link_ip(l.topo, tor, 2));
		text = NULL;
		f = open_memstream(&text, &len);
		lab_script_ns(&l, srv, f);
		fclose(f);
		snprintf(want, sizeof(want), "addr add %s/31 dev pg-nic0", lab_ip_str(la, ip));
		assert_non_null(strstr(text, want));
		snprintf(want, sizeof(want), "route add default via %s dev pg-nic0",
			 lab_ip_str(la ^ 1, ip));
		assert_non_null(strstr(text, want));
		/* no neighbour entries for other servers; its VM's AA out of its port */
		assert_null(strstr(text, "neigh replace 10.96."));
		assert_non_null(strstr(text, "route add 10.0.0.1/32 dev pg-v1\n"));
		free(text);
		/* its ToR routes the AA to the server's LA */
		text = NULL;
		f = open_memstream(&text, &len);
		lab_script_ns(&l, tor, f);
		fclose(f);
		snprintf(want, sizeof(want), "route add 10.0.0.1/32 via %s\n", lab_ip_str(la, ip));
		assert_non_null(strstr(text, want));
		free(text);
	}
	/* ospfd on a ToR: p2p fabric ports with BFD, server ports passive */
	text = NULL;
	f = open_memstream(&text, &len);
	lab_vl2_frr_conf(&l, topo_find(l.topo, "tor0"), "ospfd", f);
	fclose(f);
	assert_non_null(strstr(text, "interface pg-p0\n ip ospf network point-to-point\n"));
	assert_non_null(strstr(text, " ip ospf bfd\n"));
	assert_non_null(strstr(text, "interface pg-p2\n ip ospf passive\n"));
	assert_non_null(strstr(text, " network 10.96.0.0/12 area 0\n"));
	free(text);
	lab_free(&l);
}

static char *script_of(const struct lab *l, const char *node)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	lab_script_ns(l, topo_find(l->topo, node), f);
	fclose(f);
	return text;
}

static char *frr_of(const struct lab *l, const char *node, const char *daemon)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	lab_evpn_frr_conf(l, topo_find(l->topo, node), daemon, f);
	fclose(f);
	return text;
}

#define EVPN_YAML "scheme: evpn\ntopology: leafspine:spines=2,leaves=4,servers=2,homing=2\n" \
	"vdcs: [{name: red, id: 1, subnet: 10.0.0.0/24}, {name: blue, id: 2, subnet: 10.0.0.0/24}]\n" \
	"placement: {per_server: 1}\n"

/* scheme: evpn (docs/evpn.md): two tiers only, underlay_mtu only for it;
 * the VTEP's bridges and VXLAN devices, the ASNs, bgpd's and bfdd's
 * configuration, the tenants' MTU both ways. */
static void test_evpn(void **state)
{
	struct lab l;
	char *t, want[160];

	(void)state;
	expect_err("scheme: evpn\ntopology: vl2:da=4,di=4,per_tor=2\n", "pg",
		   "t.yaml:1: scheme: evpn needs a two-tier fabric");
	expect_err("scheme: evpn\ntopology: fattree:k=4\n", "pg", "scheme: evpn needs");
	expect_err("topology: fattree:k=4\nunderlay_mtu: 9000\n", "pg",
		   "t.yaml:2: underlay_mtu: only for scheme: evpn");
	expect_err(EVPN_YAML "underlay_mtu: 100\n", "pg", "t.yaml:5: underlay_mtu");
	l = load_ok(EVPN_YAML, "pg");
	assert_int_equal(l.scheme, PGR_SCHEME_EVPN);
	assert_int_equal(lab_evpn_vm_mtu(&l), 1450);
	/* spines share an ASN, leaves and servers have their own */
	assert_int_equal(lab_evpn_asn(l.topo, topo_find(l.topo, "spine0")),
			 lab_evpn_asn(l.topo, topo_find(l.topo, "spine1")));
	assert_int_not_equal(lab_evpn_asn(l.topo, topo_find(l.topo, "leaf0")),
			     lab_evpn_asn(l.topo, topo_find(l.topo, "leaf1")));
	assert_int_not_equal(lab_evpn_asn(l.topo, topo_find(l.topo, "srv0")),
			     lab_evpn_asn(l.topo, topo_find(l.topo, "leaf0")));
	/* a VTEP: its loopback, a bridge and a VXLAN device per VDC, its VM
	 * in its VDC's bridge */
	t = script_of(&l, "srv0");
	snprintf(want, sizeof(want), "addr add 10.112.0.%u/32 dev lo\n",
		 topo_find(l.topo, "srv0") + 1);
	assert_non_null(strstr(t, want));
	snprintf(want, sizeof(want), "link add pg-vx2 mtu 1450 type vxlan id 2 local 10.112.0.%u "
		 "dstport 4789 nolearning\n", topo_find(l.topo, "srv0") + 1);
	assert_non_null(strstr(t, want));
	assert_non_null(strstr(t, "link set pg-vx1 master pg-br1\n"));
	assert_non_null(strstr(t, "link set dev pg-vx1 type bridge_slave learning off\n"));
	assert_non_null(strstr(t, "link set pg-v1 master pg-br1\n"));
	assert_non_null(strstr(t, "link set pg-v2 master pg-br2\n"));
	free(t);
	t = script_of(&l, "spine0");
	assert_null(strstr(t, "vxlan"));
	assert_null(strstr(t, "mtu"));
	free(t);
	/* bgpd: eBGP with BFD on every port, EVPN passed on unchanged by a
	 * switch, announced with fixed route targets by a VTEP */
	t = frr_of(&l, "leaf0", "bgpd");
	assert_non_null(strstr(t, " neighbor fabric remote-as external\n"));
	assert_non_null(strstr(t, " neighbor fabric bfd\n"));
	assert_non_null(strstr(t, "  maximum-paths 64\n"));
	assert_non_null(strstr(t, "  neighbor fabric attribute-unchanged next-hop\n"));
	assert_null(strstr(t, "advertise-all-vni"));
	free(t);
	t = frr_of(&l, "srv0", "bgpd");
	assert_non_null(strstr(t, "  advertise-all-vni\n"));
	assert_non_null(strstr(t, "  vni 2\n   route-target import 65000:2\n"
			       "   route-target export 65000:2\n"));
	assert_null(strstr(t, "attribute-unchanged"));
	free(t);
	/* bfdd: the profile and a session per port (srv0: two NICs) */
	t = frr_of(&l, "srv0", "bfdd");
	assert_non_null(strstr(t, "  receive-interval 300\n  transmit-interval 300\n"));
	assert_non_null(strstr(t, " interface pg-nic0\n  profile fabric\n"));
	assert_non_null(strstr(t, " interface pg-nic1\n  profile fabric\n"));
	free(t);
	lab_free(&l);
	/* a jumbo underlay: tenants keep 1500, the fabric's ports carry 9000 */
	l = load_ok(EVPN_YAML "underlay_mtu: 9000\n", "pg");
	assert_int_equal(lab_evpn_vm_mtu(&l), 1500);
	t = script_of(&l, "spine0");
	assert_non_null(strstr(t, "link set pg-p0 mtu 9000\n"));
	free(t);
	lab_free(&l);
}

/* Each interface name in a script fits IFNAMSIZ and carries the prefix;
 * every namespace a line names was created first. */
static void check_script_names(const char *text, const char *prefix)
{
	char *copy = strdup(text), *save = NULL;
	char created[64][128];
	int ncreated = 0, next_index = LAB_IFINDEX_BASE;
	size_t plen = strlen(prefix);

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char w[16][128];
		int n = sscanf(line, "%127s %127s %127s %127s %127s %127s %127s %127s %127s "
			       "%127s %127s %127s %127s %127s %127s %127s", w[0], w[1], w[2], w[3],
			       w[4], w[5], w[6], w[7], w[8], w[9], w[10], w[11], w[12], w[13],
			       w[14], w[15]);

		if (n == 3 && !strcmp(w[0], "netns")) {
			assert_true(ncreated < 64);
			assert_true(!strncmp(w[2], prefix, plen) && w[2][plen] == '-');
			snprintf(created[ncreated++], 128, "%s", w[2]);
			continue;
		}
		/* link add A netns NS index I type veth peer name B netns NS index J */
		assert_int_equal(n, 16);
		assert_string_equal(w[8], "veth");
		assert_string_equal(w[5], "index");
		assert_string_equal(w[14], "index");
		/* each end its own index, the next pair's after it: no end ever
		 * has its peer's index, nor another veth's */
		assert_int_equal(atoi(w[6]), next_index);
		assert_int_equal(atoi(w[15]), next_index + 1);
		next_index += 2;
		for (int k = 0; k < 2; k++) {
			const char *name = k ? w[11] : w[2], *ns = k ? w[13] : w[4];
			bool found = false;

			assert_true(strlen(name) <= 15);
			assert_true(!strncmp(name, prefix, plen));
			for (int c = 0; c < ncreated; c++)
				found |= !strcmp(created[c], ns);
			assert_true(found);
		}
	}
	free(copy);
}

static void test_scripts(void **state)
{
	struct lab l = load_ok(lab_default_yaml, "abcde");
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int veths = 0, nets = 0;

	(void)state;
	lab_script_host(&l, f);
	fclose(f);
	check_script_names(text, "abcde");
	for (char *p = text; (p = strstr(p, "type veth")); p++)
		veths++;
	for (char *p = text; (p = strstr(p, "netns add")); p++)
		nets++;
	/* 24 fabric links, 14 management legs, 16 VMs; 1 + 14 + 16 namespaces */
	assert_int_equal(veths, 24 + 14 + 16);

	assert_int_equal(nets, 31);
	free(text);

	/* a leaf: a bridge, every port without learning or flooding */
	text = NULL;
	f = open_memstream(&text, &len);
	lab_script_ns(&l, topo_find(l.topo, "leaf0"), f);
	fclose(f);
	assert_non_null(strstr(text, "link add abcde-br type bridge"));
	assert_non_null(strstr(text, "link set abcde-p5 type bridge_slave learning off flood off "
				     "mcast_flood off bcast_flood off"));
	assert_null(strstr(text, "abcde-p6"));
	assert_non_null(strstr(text, "addr add 172.31.0.4/16 dev abcde-mgmt"));
	free(text);

	/* a server: NIC MACs and addresses, neighbours for the other 7 */
	text = NULL;
	f = open_memstream(&text, &len);
	lab_script_ns(&l, topo_find(l.topo, "srv0"), f);
	fclose(f);
	assert_non_null(strstr(text, "link set abcde-nic1 address 02:00:00:02:00:03"));
	assert_non_null(strstr(text, "addr add 10.200.0.1/16 dev abcde-nic0"));
	assert_non_null(strstr(text, "neigh replace 10.201.0.8 lladdr 02:00:00:02:00:11 dev abcde-nic1"));
	free(text);

	/* no shaping asked: no tc script */
	f = open_memstream(&text, &len);
	assert_false(lab_script_tc(&l, 0, f));
	fclose(f);
	free(text);
	lab_free(&l);
}

/* scheme: bcube: only BCube topologies, no VMs; plain bridges; servers with
 * k+1 NICs, their address on lo, the range routed out of NIC 0. */
static void test_scheme_bcube(void **state)
{
	struct lab l;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	expect_err("scheme: bcube\ntopology: leafspine:spines=2,leaves=2,servers=1\n", "pg",
		   "t.yaml:1: scheme: bcube needs a BCube topology");
	expect_err("scheme: bcube\ntopology: bcube:n=33,k=0\n", "pg",
		   "scheme: bcube needs a BCube topology");
	expect_err("scheme: bcube\ntopology: bcube:n=4,k=1\n"
		   "vdcs: [{name: a, id: 1, subnet: 10.0.0.0/24}]\nplacement: {per_server: 1}\n",
		   "pg", "t.yaml:1: scheme: bcube runs no VMs");
	l = load_ok("scheme: bcube\ntopology: bcube:n=4,k=1\n", "pg");
	assert_int_equal(l.scheme, PGR_SCHEME_BCUBE);
	assert_string_equal(pgr_scheme_name(l.scheme), "bcube");
	/* a switch: a bridge that learns and floods (nothing switched off) */
	f = open_memstream(&text, &len);
	lab_script_ns(&l, topo_find(l.topo, "sw1-2"), f);
	fclose(f);
	assert_non_null(strstr(text, "link add pg-br type bridge stp_state 0\n"));
	assert_null(strstr(text, "learning off"));
	assert_null(strstr(text, "flood off"));
	free(text);
	/* srv5: two NICs, its address on lo, the range out of NIC 0 */
	text = NULL;
	f = open_memstream(&text, &len);
	lab_script_ns(&l, topo_find(l.topo, "srv5"), f);
	fclose(f);
	assert_non_null(strstr(text, "addr add 10.210.0.6/32 dev lo\n"));
	assert_non_null(strstr(text, "link set pg-nic0 gso_max_segs 1\n"));
	assert_non_null(strstr(text, "link set pg-nic1 up\n"));
	assert_null(strstr(text, "pg-nic2"));
	assert_non_null(strstr(text, "neigh replace 10.210.255.254 lladdr 02:42:43:00:00:01 "
				     "dev pg-nic0 nud permanent\n"));
	assert_non_null(strstr(text, "route replace 10.210.0.0/16 via 10.210.255.254 dev pg-nic0 "
				     "onlink mtu lock 1476 src 10.210.0.6\n"));
	free(text);
	lab_free(&l);
}

/* ha: a replicated control plane's namespaces, veths, addresses; its
 * errors. */
static void test_ha(void **state)
{
	static const char base[] = "topology: leafspine:spines=2,leaves=2,servers=1\n";
	char yaml[256], *text = NULL, name[16];
	size_t len = 0;
	struct lab l;
	FILE *f;
	int nets = 0;

	(void)state;
	l = load_ok(base, "hq");
	assert_false(lab_ha_on(&l));	/* the default: none */
	lab_free(&l);
	snprintf(yaml, sizeof(yaml), "%sha: {etcd: 3, directories: 2, ras: 2}\n", base);
	l = load_ok(yaml, "hq");
	assert_true(lab_ha_on(&l));
	assert_int_equal(l.ha.n[LAB_HA_ETCD], 3);
	assert_int_equal(l.ha.n[LAB_HA_DIR], 2);
	assert_int_equal(l.ha.n[LAB_HA_RAS], 2);
	f = open_memstream(&text, &len);
	lab_script_host(&l, f);
	fclose(f);
	for (char *p = text; (p = strstr(p, "netns add")); p++)
		nets++;
	assert_int_equal(nets, 1 + 6 + 7);	/* mgmt, nodes, the 7 processes */
	assert_non_null(strstr(text, "netns add hq-etcd2\n"));
	assert_non_null(strstr(text, "netns add hq-ras1\n"));
	assert_null(strstr(text, "hq-ras2"));
	/* each one's leg on the management bridge: h(kind * 5 + i) */
	assert_non_null(strstr(text, "hq-mgmt netns hq-dir1 index"));
	assert_non_null(strstr(text, "peer name hq-h6 netns hq-mgmt"));
	free(text);
	text = NULL;
	f = open_memstream(&text, &len);
	lab_script_ns(&l, LAB_NS_MGMT, f);
	fclose(f);
	assert_non_null(strstr(text, "link set hq-h11 master hq-mbr"));
	free(text);
	/* addresses after the 6 nodes' (172.31.0.2 .. .7) */
	text = NULL;
	f = open_memstream(&text, &len);
	lab_script_ns(&l, lab_ha_which(LAB_HA_RAS, 1), f);
	fclose(f);
	assert_non_null(strstr(text, "addr add 172.31.0.19/16 dev hq-mgmt"));
	free(text);
	assert_string_equal(lab_ha_name(lab_ha_which(LAB_HA_DIR, 1), name, sizeof(name)), "dir1");
	{
		char urls[256];

		lab_ha_etcd_urls(&l, urls, sizeof(urls));
		assert_string_equal(urls, "http://172.31.0.8:2379,http://172.31.0.9:2379,"
				    "http://172.31.0.10:2379");
	}
	lab_free(&l);

	snprintf(yaml, sizeof(yaml), "%sha: {etcd: 4, directories: 2, ras: 2}\n", base);
	expect_err(yaml, "hq", "t.yaml:2: ha.etcd: expected an integer from 1 to 3");
	snprintf(yaml, sizeof(yaml), "%sha: {etcd: 1, ras: 2}\n", base);
	expect_err(yaml, "hq", "ha.directories: missing");
	snprintf(yaml, sizeof(yaml), "%sha: {etcd: 1, directories: 1, ras: 1, x: 1}\n", base);
	expect_err(yaml, "hq", "x");
	snprintf(yaml, sizeof(yaml), "%sha: 3\n", base);
	expect_err(yaml, "hq", "ha: expected");
	snprintf(yaml, sizeof(yaml), "%smgmt: {subnet: 10.1.0.0/28}\n"
		 "ha: {etcd: 1, directories: 1, ras: 1}\n", base);
	expect_err(yaml, "hq", "too small for 6 nodes and the ha namespaces");
}

/* scheme: netlord: one NIC per server, ports below 128; switches without
 * a bridge (netlord_switch is loaded by `up`), servers' NICs without an
 * address, the VMs at NetLord's tenant MTU. */
/* `edge:` (lab/edge.c, docs/edge.md): a leg per VDC at its subnet's last
 * host address, on the edge server, after every other VM; 1:1 addresses;
 * every refusal with its line and field; no edge, no legs. */
static void test_edge(void **state)
{
	const char *base = "topology: leafspine:spines=1,leaves=2,servers=1\n"
			   "vdcs:\n  - {name: red, id: 1, subnet: 10.0.0.0/24}\n"
			   "  - {name: blue, id: 2, subnet: 10.0.0.0/24}\n"
			   "placement: {per_server: 1}\n";
	char text[1024];
	struct lab l;

	(void)state;
	l = load_ok(base, "pg");
	assert_null(l.edge);
	assert_int_equal(l.nvms, 4);
	lab_free(&l);
	snprintf(text, sizeof(text), "%sedge:\n  server: srv1\n  vdcs: [blue]\n"
		 "  nat: [{vm: blue-srv0, public: 203.0.113.9}]\n", base);
	l = load_ok(text, "pg");
	assert_non_null(l.edge);
	assert_int_equal(l.nvms, 5);
	assert_int_equal(l.edge->nlegs, 1);
	assert_string_equal(l.vms[4].name, "blue-gw");
	assert_true(l.vms[4].router);
	assert_int_equal(l.vms[4].ip, 0x0a0000fe);
	assert_int_equal(l.vms[4].vdc, 1);
	assert_int_equal(l.vms[4].server, topo_find(l.topo, "srv1"));
	assert_int_equal(l.vms[1].public_ip, 0xcb007109);	/* blue-srv0 */
	assert_int_equal(l.edge->client, 0xc6336407);
	assert_int_equal(l.edge->pub_net + 1, 0xcb007101);
	lab_free(&l);
	snprintf(text, sizeof(text), "%sedge: {client: 10.9.0.5/16}\n", base);
	l = load_ok(text, "pg");
	assert_int_equal(l.edge->nlegs, 2);
	assert_int_equal(l.edge->client_plen, 16);
	assert_int_equal(l.edge->limit[0].rate_bps, 0);
	lab_free(&l);
	/* the VC external limit: by leg; blue's leg is the second */
	snprintf(text, sizeof(text), "%sedge:\n  limits: [{vdc: blue, rate: 200m}]\n", base);
	l = load_ok(text, "pg");
	assert_int_equal(l.edge->limit[0].rate_bps, 0);
	assert_true(l.edge->limit[1].rate_bps == 200000000);
	assert_int_equal(l.edge->limit[1].burst, 131072);	/* two GSO segments > 4 ms */
	assert_int_equal(l.edge->limit[1].queue, 500000);	/* 20 ms */
	lab_free(&l);
#define EDGE_BAD(extra, want) do { \
		snprintf(text, sizeof(text), "%s%s", base, extra); \
		expect_err(text, "pg", want); \
	} while (0)
	EDGE_BAD("edge: {bogus: 1}\n", "t.yaml:6: ");
	EDGE_BAD("edge: {server: leaf0}\n", "t.yaml:6: edge.server");
	EDGE_BAD("edge: {client: 198.51.100.1/24}\n", "t.yaml:6: edge.client");
	EDGE_BAD("edge: {client: 198.51.100.7}\n", "t.yaml:6: edge.client");
	EDGE_BAD("edge: {public: 203.0.113.1/24}\n", "t.yaml:6: edge.public");
	EDGE_BAD("edge: {vdcs: [green]}\n", "t.yaml:6: edge.vdcs[]");
	EDGE_BAD("edge: {vdcs: [red, red]}\n", "t.yaml:6: edge.vdcs[]");
	EDGE_BAD("edge:\n  vdcs: [red]\n  nat: [{vm: blue-srv0, public: 203.0.113.9}]\n",
		 "t.yaml:8: edge.nat[].vm: blue-srv0's VDC has no way out");
	EDGE_BAD("edge:\n  nat: [{vm: red-srv0, public: 203.0.113.1}]\n",
		 "t.yaml:7: edge.nat[].public");
	EDGE_BAD("edge:\n  nat: [{vm: red-srv0, public: 203.0.114.9}]\n",
		 "t.yaml:7: edge.nat[].public");
	EDGE_BAD("edge:\n  nat: [{vm: red-srv0, public: 203.0.113.9}, "
		 "{vm: blue-srv0, public: 203.0.113.9}]\n", "is red-srv0's already");
	EDGE_BAD("edge:\n  nat: [{vm: red-gw, public: 203.0.113.9}]\n",
		 "t.yaml:7: edge.nat[].vm: not a VM");
	EDGE_BAD("vms: [{name: x, vdc: red, server: srv0, ip: 10.0.0.254}]\n"
		 "edge: {vdcs: [red]}\n", "the gateway's address");
	EDGE_BAD("vms: [{name: red-gw, vdc: red, server: srv0}]\nedge: {}\n", "taken");
	EDGE_BAD("scheme: netlord\nedge: {}\n", "edge: the peregrine scheme only");
	EDGE_BAD("edge:\n  limits: [{vdc: red, rate: 2x}]\n",
		 "t.yaml:7: edge.limits[].rate: '2x' is not a rate");
	EDGE_BAD("edge:\n  vdcs: [red]\n  limits: [{vdc: blue, rate: 1g}]\n",
		 "t.yaml:8: edge.limits[].vdc: 'blue' is not a VDC with a leg");
	EDGE_BAD("edge:\n  limits: [{vdc: red, rate: 1g}, {vdc: red, rate: 2g}]\n",
		 "t.yaml:7: edge.limits[].vdc: 'red' twice");
	EDGE_BAD("edge:\n  limits: [{vdc: red}]\n", "t.yaml:7: edge.limits[].rate");
	EDGE_BAD("edge:\n  limits: [{vdc: red, rate: 1g, burst: 9}]\n", "t.yaml:7: ");
#undef EDGE_BAD
}

/* policy[].rate: a VM's egress limit, sized as pol_tbf_parse() sizes it,
 * applied as a tbf on the VM's eth0 by its tc script; a rate alone is no
 * security group; refusals name the line and the field. */
static void test_vm_rate(void **state)
{
	const char *base = "topology: leafspine:spines=1,leaves=2,servers=1\n"
			   "vdcs:\n  - {name: red, id: 1, subnet: 10.0.0.0/24}\n"
			   "placement: {per_server: 1}\n";
	char text[1024], *script = NULL;
	size_t len = 0;
	struct lab l;
	FILE *f;

	(void)state;
	snprintf(text, sizeof(text), "%spolicy:\n  - {vm: red-srv1, rate: 1g}\n"
		 "  - {vm: red-srv0, rules: [in icmp from any]}\n", base);
	l = load_ok(text, "pg");
	assert_true(l.vms[1].rate_bps == 1000000000ull);
	assert_int_equal(l.vms[1].rate_burst, 500000);	/* 4 ms at the rate */
	assert_int_equal(l.vms[1].rate_queue, 2500000);	/* 20 ms */
	assert_null(l.vms[1].rules);
	assert_int_equal(l.vms[0].rate_bps, 0);
	assert_int_equal(l.vms[0].nrules, 1);
	f = open_memstream(&script, &len);
	assert_true(lab_script_tc(&l, LAB_NS_VM | 1, f));
	fclose(f);
	assert_non_null(strstr(script, "qdisc replace dev pg-eth0 root tbf rate 1000000000bit "
				       "burst 500000 limit 2500000\n"));
	free(script);
	f = open_memstream(&script, &len);
	assert_false(lab_script_tc(&l, LAB_NS_VM | 0, f));	/* rules, no limit */
	fclose(f);
	free(script);
	lab_free(&l);
	snprintf(text, sizeof(text), "%spolicy:\n"
		 "  - {vm: red-srv0, rules: [in icmp from any], rate: 200m}\n", base);
	l = load_ok(text, "pg");
	assert_true(l.vms[0].rate_bps == 200000000ull);
	assert_int_equal(l.vms[0].nrules, 1);
	lab_free(&l);
#define RATE_BAD(extra, want) do { \
		snprintf(text, sizeof(text), "%s%s", base, extra); \
		expect_err(text, "pg", want); \
	} while (0)
	RATE_BAD("policy:\n  - {vm: red-srv0, rate: 2x}\n",
		 "t.yaml:6: policy[].rate: '2x' is not a rate");
	RATE_BAD("policy:\n  - {vm: red-srv0, rate: 500k}\n", "t.yaml:6: policy[].rate: ");
	RATE_BAD("policy:\n  - {vm: red-srv0, rate: [1g]}\n", "t.yaml:6: policy[].rate");
	RATE_BAD("policy:\n  - {vm: red-srv0, rate: 1g}\n  - {vm: red-srv0, rate: 2g}\n",
		 "t.yaml:7: policy[].vm: 'red-srv0' has a policy already");
	RATE_BAD("policy:\n  - {vm: red-srv0, limit: 1g}\n", "t.yaml:6: ");
#undef RATE_BAD
}

static void test_scheme_netlord(void **state)
{
	struct lab l;
	char *text;
	uint8_t mac[6];

	(void)state;
	expect_err("scheme: netlord\ntopology: leafspine:spines=2,leaves=2,servers=1,homing=2\n",
		   "pg", "t.yaml:1: scheme: netlord needs every server on one edge switch port");
	expect_err("scheme: netlord\ntopology: leafspine:spines=2,leaves=2,servers=130\n",
		   "pg", "scheme: netlord needs every server on one edge switch port");
	l = load_ok("scheme: netlord\ntopology: leafspine:spines=2,leaves=2,servers=1\n"
		    "vdcs: [{name: a, id: 7, subnet: 10.0.0.0/24}]\nplacement: {per_server: 1}\n",
		    "pg");
	assert_int_equal(l.scheme, PGR_SCHEME_NETLORD);
	assert_string_equal(pgr_scheme_name(l.scheme), "netlord");
	assert_int_equal(lab_netlord_check(l.topo), 0);
	text = script_of(&l, "leaf0");
	assert_null(strstr(text, "bridge"));
	assert_non_null(strstr(text, " up\n"));
	free(text);
	text = script_of(&l, "srv1");	/* an address only on the management side */
	for (const char *a = strstr(text, "addr add"); a; a = strstr(a + 1, "addr add"))
		assert_null(strstr(a, "dev pg-nic0\n") == strchr(a, '\n') - 11 ? a : NULL);
	assert_non_null(strstr(text, "link set pg-nic0 up\n"));
	free(text);
	{	/* the first VM */
		size_t len = 0;
		FILE *f;

		text = NULL;
		f = open_memstream(&text, &len);
		lab_script_ns(&l, LAB_NS_VM | 0, f);
		fclose(f);
		assert_non_null(strstr(text, "mtu 1466 gso_max_size 1466"));
		free(text);
	}
	lab_netlord_switch_mac(0x10203, mac);
	assert_memory_equal(mac, ((uint8_t[]){ 0x02, 0x4e, 0x4c, 0x01, 0x02, 0x03 }), 6);
	lab_free(&l);
}

static int vm_index(const struct lab *l, const char *name)
{
	for (uint32_t i = 0; i < l->nvms; i++)
		if (!strcmp(l->vms[i].name, name))
			return (int)i;
	fail_msg("no VM %s", name);
	return -1;
}

/* `slb:` (lab/slb.c): a backend VM's agent configuration lists the VIPs of
 * its VCs, the edge its VDC's leg, via the edge server; other VMs none; the
 * VIPs follow the VM to another server (a migration rewrites both agents'
 * configurations). */
static void test_slb_vips(void **state)
{
	const char *text = "topology: leafspine:spines=1,leaves=2,servers=3\n"
			   "vdcs: [{name: red, id: 1, subnet: 10.0.0.0/24}]\n"
			   "placement: {per_server: 1}\nedge: {server: srv0}\n"
			   "slb:\n  servers: [srv1]\n  vcs:\n"
			   "    - {name: web, vdc: red, vip: 203.0.113.10, ports: [tcp/80],"
			   " backends: [red-srv2, red-srv4]}\n"
			   "    - {name: app, vdc: red, vip: 203.0.113.20, ports: [tcp/80],"
			   " backends: [red-srv2]}\n";
	struct lab l = load_ok(text, "pg");
	int b = vm_index(&l, "red-srv2"), leg = vm_index(&l, "red-gw");
	uint32_t srv2 = l.vms[b].server, srv5 = l.vms[vm_index(&l, "red-srv5")].server;
	struct agent_config c;

	(void)state;
	lab_agent_config_of(&l, "/nonexistent", srv2, &c);
	assert_int_equal(c.nvms, 1);
	assert_int_equal(c.vms[0].nvips, 2);
	assert_int_equal(c.vms[0].vips[0].ip, 0xcb00710a);
	assert_int_equal(c.vms[0].vips[1].ip, 0xcb007114);
	assert_int_equal(c.vms[0].vips[0].edge, lab_vm_node(&l, &l.vms[leg]));
	assert_int_equal(c.vms[0].vips[0].via,
			 lab_server_node(l.topo->nodes[l.vms[leg].server].index));
	agent_config_free(&c);
	lab_agent_config_of(&l, "/nonexistent", l.vms[leg].server, &c);
	for (unsigned i = 0; i < c.nvms; i++)
		assert_int_equal(c.vms[i].nvips, 0);	/* the leg, red-srv0 */
	agent_config_free(&c);
	l.vms[b].server = srv5;		/* red-srv2 migrates to srv5 */
	lab_agent_config_of(&l, "/nonexistent", srv2, &c);
	assert_int_equal(c.nvms, 0);
	agent_config_free(&c);
	lab_agent_config_of(&l, "/nonexistent", srv5, &c);
	assert_int_equal(c.nvms, 2);
	for (unsigned i = 0; i < c.nvms; i++)
		assert_int_equal(c.vms[i].nvips, strcmp(c.vms[i].name, "red-srv2") ? 0 : 2);
	agent_config_free(&c);
	lab_free(&l);
}

/* `slb: {standby, scaling}`: a standby server's daemon is not started by
 * `lab up` and every daemon knows it as powered off; the watermarks reach
 * the daemons' command lines; bad sections are refused with line and field. */
static void test_slb_scaling(void **state)
{
	const char *base = "topology: leafspine:spines=1,leaves=2,servers=3\n"
			   "vdcs: [{name: red, id: 1, subnet: 10.0.0.0/24}]\n"
			   "placement: {per_server: 1}\nedge: {server: srv0}\n"
			   "slb:\n  servers: [srv1, srv2]\n%s"
			   "  vcs:\n    - {name: web, vdc: red, vip: 203.0.113.10, ports: [tcp/80],"
			   " backends: [red-srv3]}\n";
	char text[1024], bufs[LAB_MAX_ARGS][128], *argv[LAB_MAX_ARGS], all[2048] = "";
	struct lab l;
	int n;

	(void)state;
	snprintf(text, sizeof(text), base, "  standby: [srv5]\n"
		 "  scaling: {capacity_cps: 100, high: 40, low: 5, hold: 30, min: 2}\n");
	l = load_ok(text, "pg");
	assert_int_equal(l.slb->nservers, 3);
	assert_int_equal(l.slb->nstandby, 1);
	assert_int_equal(lab_slb_ring_id(&l, l.slb->server[2]), 3);
	assert_true(lab_slb_standby(&l, l.slb->server[2]));
	assert_false(lab_slb_standby(&l, l.slb->server[0]));
	n = lab_slb_args(&l, "/s", l.slb->server[0], argv, bufs);
	assert_true(n > 0 && n <= LAB_MAX_ARGS - 2);
	for (int i = 0; i < n; i++)
		snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s ", argv[i]);
	if (!strstr(all, "--ring-peer 3=") || !strstr(all, "--ring-standby 3 ") ||
	    !strstr(all, "--capacity-cps 100 --scale 40,5,30,2 "))
		fail_msg("slb run args: %s", all);
	lab_free(&l);
#define SCALE_BAD(sec, want)                                       \
	do {                                                       \
		snprintf(text, sizeof(text), base, sec);           \
		expect_err(text, "pg", want);                      \
	} while (0)
	SCALE_BAD("  standby: [srv1]\n", "t.yaml:7: slb.standby[]: 'srv1' twice");
	SCALE_BAD("  standby: [srv0]\n", "slb.standby[]: 'srv0' is the edge server");
	SCALE_BAD("  standby: [srv3, srv4, srv5]\n", "at most 4 SLB servers in all");
	SCALE_BAD("  scaling: {capacity_cps: 100, high: 40, low: 50, hold: 30, min: 2}\n",
		  "t.yaml:7: slb.scaling.low: above high");
	SCALE_BAD("  scaling: {capacity_cps: 100, high: 40, low: 5, hold: 30, min: 3}\n",
		  "slb.scaling.min: more than the servers powered on");
	SCALE_BAD("  scaling: {capacity_cps: 0, high: 40, low: 5, hold: 30, min: 2}\n",
		  "slb.scaling.capacity_cps: expected an integer");
	SCALE_BAD("  scaling: {high: 40, low: 5, hold: 30, min: 2}\n",
		  "slb.scaling.capacity_cps: missing");
#undef SCALE_BAD
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_scripts),
		cmocka_unit_test(test_scheme),
		cmocka_unit_test(test_scheme_bcube),
		cmocka_unit_test(test_scheme_netlord),
		cmocka_unit_test(test_evpn),
		cmocka_unit_test(test_ha),
		cmocka_unit_test(test_edge),
		cmocka_unit_test(test_slb_vips),
		cmocka_unit_test(test_slb_scaling),
		cmocka_unit_test(test_vm_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
