/* Running an EVPN lab (docs/evpn.md): kernel settings of the routed
 * namespaces and VTEPs, the wait for BGP and EVPN to converge, and what a
 * migration adds (the moved VM's announcement). */
#include "lab/run.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const switch_sysctls[][2] = {
	{ "/proc/sys/net/ipv4/ip_forward", "1" },
	/* VXLAN's UDP source port is a hash of the tenant's flow: hashing
	 * the outer 5-tuple spreads tenant flows over the spines */
	{ "/proc/sys/net/ipv4/fib_multipath_hash_policy", "1" },
	{ "/proc/sys/net/ipv4/conf/all/rp_filter", "0" },
	{ "/proc/sys/net/ipv4/conf/default/rp_filter", "0" },
	/* a route whose interface lost its carrier is dead at once */
	{ "/proc/sys/net/ipv4/conf/all/ignore_routes_with_linkdown", "1" },
	{ "/proc/sys/net/ipv4/conf/default/ignore_routes_with_linkdown", "1" },
	{ NULL, NULL },
};

/* A VTEP routes only its own traffic; its dual-homed uplinks are ECMP. */
static const char *const server_sysctls[][2] = {
	{ "/proc/sys/net/ipv4/fib_multipath_hash_policy", "1" },
	{ "/proc/sys/net/ipv4/conf/all/rp_filter", "0" },
	{ "/proc/sys/net/ipv4/conf/default/rp_filter", "0" },
	{ "/proc/sys/net/ipv4/conf/all/ignore_routes_with_linkdown", "1" },
	{ "/proc/sys/net/ipv4/conf/default/ignore_routes_with_linkdown", "1" },
	{ NULL, NULL },
};

/* A VTEP's bridges are the VNIs' SVIs (no address: the tenant sees none).
 * zebra learns the local VMs' MAC+IP pairs from the SVI's neighbour table,
 * which a bridge without an address fills only with arp_accept: every ARP
 * a local VM sends creates (or refreshes) its sender's entry.  No IPv6
 * on the SVI either (no address, no router solicitations into the VNI). */
static int svi_settings(const struct lab *l)
{
	char path[160], br[LAB_IFNAMSIZ];

	for (uint32_t d = 0; d < l->nvdcs; d++) {
		lab_ifname(l, br, "br%u", l->vdcs[d].id);
		snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/arp_accept", br);
		if (lab_write_sysctl(path, "1"))
			return -1;
		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", br);
		if (lab_write_sysctl(path, "1"))
			return -1;
	}
	return 0;
}

/* In a child: each node's settings in its namespace. */
static int set_all(const struct lab *l)
{
	for (uint32_t n = 0; n < l->topo->nnodes; n++) {
		const char *const (*kv)[2] = topo_is_server(l->topo, n) ? server_sysctls
									 : switch_sysctls;
		char ns[128];

		lab_ns(l, l->topo->nodes[n].name, ns, sizeof(ns));
		if (lab_enter_ns(ns))
			return -1;
		for (size_t i = 0; kv[i][0]; i++)
			if (lab_write_sysctl(kv[i][0], kv[i][1]))
				return -1;
		if (lab_multipath_seed(n))
			return -1;
		if (topo_is_server(l->topo, n) && svi_settings(l))
			return -1;
	}
	return 0;
}

int lab_evpn_prepare(const struct lab *l, char *err, size_t errlen)
{
	int status = 0;
	pid_t pid;

	if (lab_step("settings-evpn", "all", err, errlen))
		return -1;
	if ((pid = fork()) == 0)
		_exit(-set_all(l));
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		snprintf(err, errlen, "cannot set forwarding and multipath settings");
		return -1;
	}
	return 0;
}

/* argv's standard output into buf (NUL-terminated, cut at len - 1). */
static int capture(char *const argv[], char *buf, size_t len)
{
	int pfd[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	if ((pid = fork()) < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(pfd[1], 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	while (got + 1 < len && (n = read(pfd[0], buf + got, len - got - 1)) > 0)
		got += (size_t)n;
	buf[got] = 0;
	close(pfd[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* A BGP route to every other node's loopback (but a spine's to the other
 * spines). */
static bool underlay_done(const struct lab *l, uint32_t node, const char *ns, char *buf,
			  size_t len)
{
	char *argv[] = { "ip", "-n", (char *)ns, "-4", "-o", "route", "show", "proto", "bgp",
			 NULL };
	char want[32], ip[16];

	if (capture(argv, buf, len))
		return false;
	bool spine = !topo_is_server(l->topo, node) && !lab_evpn_is_leaf(l->topo, node);

	for (uint32_t m = 0; m < l->topo->nnodes; m++) {
		/* spines share an ASN: none takes another's routes (RFC 7938) */
		if (m == node || (spine && !topo_is_server(l->topo, m) &&
				  !lab_evpn_is_leaf(l->topo, m)))
			continue;
		snprintf(want, sizeof(want), "%s ", lab_ip_str(lab_vl2_switch_la(m), ip));
		if (!strstr(buf, want))
			return false;
	}
	return true;
}

/* Every VNI floods to every other VTEP: the type-3 routes are in. */
static bool evpn_done(const struct lab *l, uint32_t node, const char *ns, char *buf,
		      size_t len)
{
	char vx[LAB_IFNAMSIZ], want[40], ip[16];

	for (uint32_t d = 0; d < l->nvdcs; d++) {
		char *argv[] = { "bridge", "-n", (char *)ns, "fdb", "show", "dev", vx, NULL };

		lab_ifname(l, vx, "vx%u", l->vdcs[d].id);
		if (capture(argv, buf, len))
			return false;
		for (uint32_t m = 0; m < l->topo->nnodes; m++) {
			if (m == node || !topo_is_server(l->topo, m))
				continue;
			snprintf(want, sizeof(want), "00:00:00:00:00:00 dst %s ",
				 lab_ip_str(lab_vl2_switch_la(m), ip));
			if (!strstr(buf, want))
				return false;
		}
	}
	return true;
}

static bool converged(const struct lab *l, uint32_t node, char *buf, size_t len)
{
	char ns[128];

	lab_ns(l, l->topo->nodes[node].name, ns, sizeof(ns));
	if (!underlay_done(l, node, ns, buf, len))
		return false;
	return !topo_is_server(l->topo, node) || evpn_done(l, node, ns, buf, len);
}

int lab_evpn_wait_bgp(const struct lab *l, uint32_t node, int timeout_ms)
{
	struct timespec ts = { 0, 50 * 1000000 };
	size_t len = 256 * 1024;
	char *buf = malloc(len);
	int waited = 0;
	bool ok = false;

	if (!buf)
		return -ENOMEM;
	while (!(ok = converged(l, node, buf, len)) && waited < timeout_ms) {
		nanosleep(&ts, NULL);
		waited += 50;
	}
	free(buf);
	return ok ? 0 : -ETIMEDOUT;
}

static int garp_in_vm(const struct lab *l, const struct lab_vm *vm);

int lab_evpn_ready(const struct lab *l, char *err, size_t errlen)
{
	for (uint32_t n = 0; n < l->topo->nnodes; n++) {
		const char *name = l->topo->nodes[n].name;

		if (lab_step("wait-bgp", name, err, errlen))
			return -1;
		if (lab_evpn_wait_bgp(l, n, LAB_BGP_WAIT_MS)) {
			snprintf(err, errlen, "BGP EVPN on %s did not converge within %d ms "
				 "(see peregrine lab logs %s)", name, LAB_BGP_WAIT_MS, name);
			return -1;
		}
	}
	/* Every VM announces itself once, as a VM does when its interface
	 * comes up (arp_notify): its VTEP's SVI learns its MAC+IP (the
	 * bridge has arp_accept), zebra hands the pair to bgpd, and the
	 * type-2 route carries the IP, which ARP suppression answers from. */
	for (uint32_t v = 0; v < l->nvms; v++)
		if (garp_in_vm(l, &l->vms[v])) {
			snprintf(err, errlen, "%s: cannot announce the VM (gratuitous ARP)",
				 l->vms[v].name);
			return -1;
		}
	return 0;
}

/* A gratuitous ARP from the VM's interface (call in the VM's namespace). */
static int send_garp(const struct lab *l, const struct lab_vm *vm)
{
	uint8_t frame[42], mac[6];
	uint32_t ip = htonl(vm->ip);
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_halen = 6 };
	char ifn[LAB_IFNAMSIZ];
	int fd, rc;

	lab_ifname(l, ifn, "eth0");
	lab_vm_mac(l, vm, mac);
	if (!(to.sll_ifindex = (int)if_nametoindex(ifn)))
		return -1;
	memset(frame, 0xff, 6);				/* broadcast */
	memcpy(frame + 6, mac, 6);
	memcpy(frame + 12, "\x08\x06\x00\x01\x08\x00\x06\x04\x00\x01", 10); /* ARP request */
	memcpy(frame + 22, mac, 6);			/* sender: the VM */
	memcpy(frame + 28, &ip, 4);
	memset(frame + 32, 0, 6);			/* target: its own address */
	memcpy(frame + 38, &ip, 4);
	memset(to.sll_addr, 0xff, 6);
	to.sll_protocol = htons(ETH_P_ARP);
	if ((fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP))) < 0)
		return -1;
	rc = sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&to, sizeof(to)) ==
		(ssize_t)sizeof(frame) ? 0 : -1;
	close(fd);
	return rc;
}

static int garp_in_vm(const struct lab *l, const struct lab_vm *vm)
{
	char ns[128];
	int status = 0;
	pid_t pid;

	lab_ns(l, vm->name, ns, sizeof(ns));
	if ((pid = fork()) == 0)
		_exit(lab_enter_ns(ns) || send_garp(l, vm) ? 1 : 0);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int lab_evpn_moved(const struct lab *l, const struct lab_vm *vm, uint32_t from, uint32_t to,
		   char *err, size_t errlen)
{
	char ns[128], ifn[LAB_IFNAMSIZ], br[LAB_IFNAMSIZ];

	(void)from;
	lab_ns(l, l->topo->nodes[to].name, ns, sizeof(ns));
	lab_ifname(l, ifn, "v%u", vm->id);
	lab_ifname(l, br, "br%u", l->vdcs[vm->vdc].id);
	{
		char *master[] = { "ip", "-n", ns, "link", "set", ifn, "master", br, "up", NULL };

		if (lab_run(master, err, errlen))
			return -1;
	}
	if (garp_in_vm(l, vm)) {
		snprintf(err, errlen, "%s: cannot announce the moved VM (gratuitous ARP)",
			 vm->name);
		return -1;
	}
	return 0;
}
