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

#include "lab/lab.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_scripts),
		cmocka_unit_test(test_scheme),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
