/* Running a VL2 lab (docs/vl2.md): kernel settings of the routed
 * namespaces and the wait for OSPF to converge. */
#include "lab/run.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <bpf/libbpf.h>

#include "bpf/loader.h"
#include "bpf/vl2.h"
#include "vl2_decap.skel.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Multipath hash: policy 3 (custom) over the outer addresses and the
 * innermost 5-tuple (the kernel's flow dissector follows IP-in-IP to the
 * tenant's packet), so that ECMP spreads flows, not server pairs, over
 * the intermediates: src ip, dst ip, inner src ip, dst ip, proto, src
 * port, dst port (include/uapi/linux/... FIB_MULTIPATH_HASH_FIELD_*). */
#define VL2_HASH_FIELDS "0x0dc3"

static const char *const switch_sysctls[][2] = {
	{ "/proc/sys/net/ipv4/ip_forward", "1" },
	{ "/proc/sys/net/ipv4/fib_multipath_hash_policy", "3" },
	{ "/proc/sys/net/ipv4/fib_multipath_hash_fields", VL2_HASH_FIELDS },
	{ "/proc/sys/net/ipv4/conf/all/rp_filter", "0" },
	{ "/proc/sys/net/ipv4/conf/default/rp_filter", "0" },
	/* a route whose interface lost its carrier is dead at once */
	{ "/proc/sys/net/ipv4/conf/all/ignore_routes_with_linkdown", "1" },
	{ "/proc/sys/net/ipv4/conf/default/ignore_routes_with_linkdown", "1" },
	{ NULL, NULL },
};

/* Servers forward what the fabric delivers to their VMs' ports. */
static const char *const server_sysctls[][2] = {
	{ "/proc/sys/net/ipv4/ip_forward", "1" },
	{ "/proc/sys/net/ipv4/conf/all/rp_filter", "0" },
	{ "/proc/sys/net/ipv4/conf/default/rp_filter", "0" },
	{ NULL, NULL },
};

/* The decapsulation on every port of a switch (in its namespace): the
 * tc filters hold the program after this process is gone. */
static int attach_decap(const struct lab *l, uint32_t node)
{
	struct vl2_decap *skel = vl2_decap__open();
	bool created;
	int rc = 0;

	if (!skel)
		return -1;
	skel->rodata->vl2_cfg.self_la = htonl(lab_vl2_switch_la(node));
	if (lab_vl2_is_int(l->topo, node))
		skel->rodata->vl2_cfg.anycast = htonl(LAB_VL2_ANYCAST);
	if (vl2_decap__load(skel)) {
		vl2_decap__destroy(skel);
		return -1;
	}
	for (uint32_t p = 0; !rc && p < l->topo->nodes[node].degree; p++) {
		char ifn[LAB_IFNAMSIZ];
		uint32_t ifindex;

		lab_port_ifname(l, node, p, ifn);
		ifindex = if_nametoindex(ifn);
		rc = ifindex ? pgr_dp_tc_attach(bpf_program__fd(skel->progs.vl2_decap), ifindex,
						&created) : -1;
	}
	vl2_decap__destroy(skel);
	return rc;
}

/* In a child: each node's settings in its namespace. */
static int set_all(const struct lab *l)
{
	for (uint32_t n = 0; n < l->topo->nnodes; n++) {
		bool server = topo_is_server(l->topo, n);
		const char *const (*kv)[2] = server ? server_sysctls : switch_sysctls;
		char ns[128];

		lab_ns(l, l->topo->nodes[n].name, ns, sizeof(ns));
		if (lab_enter_ns(ns))
			return -1;
		for (size_t i = 0; kv[i][0]; i++)
			if (lab_write_sysctl(kv[i][0], kv[i][1]))
				return -1;
		if (!server && lab_multipath_seed(n))
			return -1;
		if (!server && attach_decap(l, n))
			return -2;
	}
	return 0;
}

int lab_vl2_prepare(const struct lab *l, char *err, size_t errlen)
{
	int status = 0;
	pid_t pid;

	if (lab_step("settings-vl2", "all", err, errlen))
		return -1;
	if ((pid = fork()) == 0)
		_exit(-set_all(l));
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		snprintf(err, errlen, WIFEXITED(status) && WEXITSTATUS(status) == 2
			 ? "cannot attach the VL2 decapsulation to the switches' ports"
			 : "cannot set forwarding and multipath settings (kernel without "
			   "fib_multipath_hash_fields?)");
		return -1;
	}
	return 0;
}

/* `ip -4 -o route show proto ospf` of a namespace into buf. */
static int ospf_routes(const char *ns, char *buf, size_t len)
{
	char *argv[] = { "ip", "-n", (char *)ns, "-4", "-o", "route", "show", "proto", "ospf",
			 NULL };
	int pfd[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	if ((pid = fork()) < 0)
		return -1;
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

/* Has switch `node` a route to every other switch's LA (and, unless it is
 * one, to the intermediates' anycast address)? */
static bool converged(const struct lab *l, uint32_t node, char *buf, size_t len)
{
	char ns[128], want[32], ip[16];

	lab_ns(l, l->topo->nodes[node].name, ns, sizeof(ns));
	if (ospf_routes(ns, buf, len))
		return false;
	for (uint32_t m = 0; m < l->topo->nnodes; m++) {
		if (m == node || topo_is_server(l->topo, m))
			continue;
		snprintf(want, sizeof(want), "%s ", lab_ip_str(lab_vl2_switch_la(m), ip));
		if (!strstr(buf, want))
			return false;
	}
	snprintf(want, sizeof(want), "%s ", lab_ip_str(LAB_VL2_ANYCAST, ip));
	return lab_vl2_is_int(l->topo, node) || strstr(buf, want);
}

int lab_vl2_wait_ospf(const struct lab *l, uint32_t node, int timeout_ms)
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

int lab_vl2_ready(const struct lab *l, char *err, size_t errlen)
{
	for (uint32_t n = 0; n < l->topo->nnodes; n++) {
		const char *name = l->topo->nodes[n].name;

		if (topo_is_server(l->topo, n))
			continue;
		if (lab_step("wait-ospf", name, err, errlen))
			return -1;
		if (lab_vl2_wait_ospf(l, n, LAB_OSPF_WAIT_MS)) {
			snprintf(err, errlen, "OSPF on %s did not converge within %d ms "
				 "(see peregrine lab logs %s)", name, LAB_OSPF_WAIT_MS, name);
			return -1;
		}
	}
	return 0;
}

/* A VM moved (lab migrate): the new server routes its AA out of the port
 * (the old server's route went with the port), the old ToR forgets the
 * AA, the new ToR routes it to the new server.  The directory learns the
 * new ToR LA from the new server's agent (docs/vl2.md, "Migration"). */
int lab_vl2_moved(const struct lab *l, const struct lab_vm *vm, uint32_t from, uint32_t to,
		  char *err, size_t errlen)
{
	const struct topo *t = l->topo;
	char ns_to[128], ns_old_tor[128], ns_new_tor[128], aa[24], via[16], ifn[LAB_IFNAMSIZ];
	char macs[18], ip[16];
	uint8_t mac[6];

	lab_ns(l, t->nodes[to].name, ns_to, sizeof(ns_to));
	lab_ns(l, t->nodes[lab_vl2_tor(t, from)].name, ns_old_tor, sizeof(ns_old_tor));
	lab_ns(l, t->nodes[lab_vl2_tor(t, to)].name, ns_new_tor, sizeof(ns_new_tor));
	snprintf(aa, sizeof(aa), "%s/32", lab_ip_str(vm->ip, ip));
	lab_ip_str(lab_vl2_server_la(t, to), via);
	lab_ifname(l, ifn, "v%u", vm->id);
	lab_vm_mac(l, vm, mac);
	snprintf(macs, sizeof(macs), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
	{
		char *route[] = { "ip", "-n", ns_to, "route", "replace", aa, "dev", ifn, NULL };
		char *neigh[] = { "ip", "-n", ns_to, "neigh", "replace", ip, "lladdr", macs,
				  "dev", ifn, "nud", "permanent", NULL };
		char *add[] = { "ip", "-n", ns_new_tor, "route", "replace", aa, "via", via, NULL };
		char *del[] = { "ip", "-n", ns_old_tor, "route", "del", aa, NULL };

		if (lab_run(route, err, errlen) || lab_run(neigh, err, errlen) ||
		    lab_run(add, err, errlen))
			return -1;
		if (strcmp(ns_old_tor, ns_new_tor))
			lab_run(del, NULL, 0);
	}
	return 0;
}
