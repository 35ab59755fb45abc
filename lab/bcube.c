/* The BCube scheme's lab plan (docs/bcube.md): the switch and server
 * scripts and what `up` does after them.  BCube asks nothing of its
 * switches: each is a plain Linux bridge (learning and flooding on, as a
 * mini-switch out of the box).  Each server has k+1 NICs, NIC l on its
 * level-l switch, no address on them; its own address is on `lo`, and the
 * kernel routes the BCube range out of NIC 0, where bcube_send puts the
 * source route in (docs/bcube.md). */
#include "lab/run.h"

#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpf/bcube.h"
#include "bpf/loader.h"
#include "wire/swproto.h"

int lab_bcube_check(const struct topo *t)
{
	if (t->family != FAM_BCUBE || t->p.n > BCUBE_MAX_N || t->p.k + 1 > BCUBE_MAX_LEVELS ||
	    t->nservers >= LAB_BCUBE_MAX_SERVERS)
		return -EINVAL;
	return 0;
}

uint32_t lab_bcube_ip(uint32_t server_index)
{
	return LAB_BCUBE_NET + server_index + 1;
}

void lab_bcube_script_switch(const struct lab *l, uint32_t node, FILE *f)
{
	char br[LAB_IFNAMSIZ], ifn[LAB_IFNAMSIZ];

	lab_ifname(l, br, "br");
	fprintf(f, "link add %s type bridge stp_state 0\n", br);
	for (uint32_t p = 0; p < l->topo->nodes[node].degree; p++) {
		lab_port_ifname(l, node, p, ifn);
		fprintf(f, "link set %s master %s\n", ifn, br);
		fprintf(f, "link set %s up\n", ifn);
	}
	fprintf(f, "link set %s up\n", br);
}

/* The route of the BCube range out of NIC 0 through a gateway that is
 * only a name for bcube_send (a permanent neighbour, so no ARP); the
 * route's MTU leaves room for the header.  Again after NIC 0 was down. */
void lab_bcube_script_neigh(const struct lab *l, uint32_t node, FILE *f)
{
	static const uint8_t gw[6] = LAB_BCUBE_GW_MAC;
	uint32_t idx = l->topo->nodes[node].index;
	char ifn[LAB_IFNAMSIZ], ip[16], gws[16], macs[18];

	lab_ifname(l, ifn, "nic0");
	fprintf(f, "neigh replace %s lladdr %s dev %s nud permanent\n",
		lab_ip_str(LAB_BCUBE_GW, gws), swp_mac_str(gw, macs), ifn);
	fprintf(f, "route replace %s/%u via %s dev %s onlink mtu lock %u src %s\n",
		lab_ip_str(LAB_BCUBE_NET, ip), LAB_BCUBE_PLEN, gws, ifn, BCUBE_TENANT_MTU,
		lab_ip_str(lab_bcube_ip(idx), macs));
}

void lab_bcube_script_server(const struct lab *l, uint32_t node, FILE *f)
{
	uint32_t idx = l->topo->nodes[node].index;
	char ifn[LAB_IFNAMSIZ], ip[16], macs[18];
	uint8_t mac[6];

	fprintf(f, "addr add %s/32 dev lo\n", lab_ip_str(lab_bcube_ip(idx), ip));
	for (uint32_t nic = 0; nic < l->topo->nodes[node].degree; nic++) {
		lab_ifname(l, ifn, "nic%u", nic);
		lab_nic_mac(idx, nic, mac);
		fprintf(f, "link set %s address %s\n", ifn, swp_mac_str(mac, macs));
		/* One segment per packet: bcube_send's header makes a GSO packet
		 * "dodgy", and veths segment those in software by the protocol
		 * they see, which is not IP (docs/bcube.md, "Not built yet"). */
		if (!nic)
			fprintf(f, "link set %s gso_max_segs 1\n", ifn);
		fprintf(f, "link set %s up\n", ifn);
	}
	lab_bcube_script_neigh(l, node, f);
}

/* A stripped packet comes up on whichever NIC the path ended on, while
 * the route back is out of NIC 0: no reverse-path filter.  TCP is Reno, a
 * loss-based congestion control like the paper's testbed's: with BBR (the
 * default some hosts set, which a namespace inherits) an all-to-all over
 * shaped links lost about 15,000 packets a run in the tbf queues, since
 * BBR does not slow down for losses (docs/bcube.md).  A namespace may
 * choose only a congestion control the host allows ("reno" always;
 * cubic is refused there unless the host's allowed list names it). */
static const char *const server_sysctls[][2] = {
	{ "/proc/sys/net/ipv4/conf/all/rp_filter", "0" },
	{ "/proc/sys/net/ipv4/conf/default/rp_filter", "0" },
	{ "/proc/sys/net/ipv4/tcp_congestion_control", "reno" },
	{ NULL, NULL },
};

static int set_all(const struct lab *l)
{
	for (uint32_t s = 0; s < l->topo->nservers; s++) {
		uint32_t n = l->topo->servers[s];
		char ns[128], path[128], ifn[LAB_IFNAMSIZ];

		lab_ns(l, l->topo->nodes[n].name, ns, sizeof(ns));
		if (lab_enter_ns(ns))
			return -1;
		for (size_t i = 0; server_sysctls[i][0]; i++)
			if (lab_write_sysctl(server_sysctls[i][0], server_sysctls[i][1]))
				return -1;
		for (uint32_t nic = 0; nic < l->topo->nodes[n].degree; nic++) {
			lab_ifname(l, ifn, "nic%u", nic);
			snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter", ifn);
			if (lab_write_sysctl(path, "0"))
				return -1;
		}
	}
	return 0;
}

int lab_bcube_prepare(const struct lab *l, char *err, size_t errlen)
{
	int status = 0;
	pid_t pid;

	if (lab_step("settings-bcube", "all", err, errlen))
		return -1;
	if ((pid = fork()) == 0)
		_exit(-set_all(l));
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		snprintf(err, errlen, "cannot switch the servers' reverse-path filter off");
		return -1;
	}
	return 0;
}

static int attached(const struct lab *l, void *arg)
{
	char ifn[LAB_IFNAMSIZ];
	uint32_t ifindex;

	(void)arg;
	lab_ifname(l, ifn, "nic0");
	ifindex = if_nametoindex(ifn);
	return ifindex && pgr_dp_tc_attached(ifindex) ? 0 : -EAGAIN;
}

/* One server: its agent runs and has attached its programs (NIC 0 carries
 * them both ways), within LAB_READY_WAIT_MS. */
static int wait_agent(const struct lab *l, uint32_t node)
{
	const char *name = l->topo->nodes[node].name;
	struct timespec ts = { 0, 50 * 1000000 };
	char ns[128];

	lab_ns(l, name, ns, sizeof(ns));
	for (int waited = 0; waited < LAB_READY_WAIT_MS; waited += 50) {
		pid_t pid = lab_daemon_pid(l, name, "agent");

		if (pid > 0 && !kill(pid, 0) && !lab_in_ns(l, ns, attached, NULL))
			return 0;
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* The bridges forward as soon as they are up; the agents find their
 * neighbours by themselves (hellos) and resolve on demand: ready when
 * every agent has attached its programs (one step per server).  A lab
 * started with PEREGRINE_NO_AGENT (docs/agent.md) has none to wait for. */
int lab_bcube_ready(const struct lab *l, char *err, size_t errlen)
{
	if (getenv("PEREGRINE_NO_AGENT"))
		return 0;
	for (uint32_t s = 0; s < l->topo->nservers; s++) {
		uint32_t n = l->topo->servers[s];

		if (lab_step("wait-agent", l->topo->nodes[n].name, err, errlen))
			return -1;
		if (wait_agent(l, n)) {
			snprintf(err, errlen, "the BCube agent on %s did not attach its programs "
				 "within %d ms (see peregrine lab logs %s)", l->topo->nodes[n].name,
				 LAB_READY_WAIT_MS, l->topo->nodes[n].name);
			return -1;
		}
	}
	return 0;
}

int lab_bcube_switch_ready(const struct lab *l, uint32_t node, int timeout_ms)
{
	(void)l;
	(void)node;
	(void)timeout_ms;
	return 0;
}
