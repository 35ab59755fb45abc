/* peregrine agent: the host agent of one server (docs/agent.md).
 *
 * The shell around agent/agent.h: it loads the data plane (or reuses the
 * pinned one a previous run left), reads the miss events from the ring
 * buffer, talks UDP to the directory and the RAS, watches the NICs through
 * netlink, sends ARP replies through AF_PACKET and re-reads its
 * configuration on SIGHUP.  On SIGUSR1 it leaves the programs attached and
 * the maps pinned, so that traffic flows on while it is away. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/agent.h"
#include "bpf/loader.h"
#include "cmd/cli.h"
#include "cmd/daemon.h"
#include "dir/client_udp.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/parse.h"
#include "route/trees.h"
#include "topo/topo.h"
#include "wire/rasproto.h"
#include "wire/scheme.h"
#include "cmd/agent_bcube.h"
#include "cmd/agent_policy.h"
#include "cmd/agent_netlord.h"
#include "cmd/agent_vl2.h"

static const char agent_help[] =
	"Usage: peregrine agent --config FILE [--name NAME] [--veth-nics]\n"
	"                       [--traffic-pairs N] [--netns NS] [--lab PREFIX]\n"
	"                       [--scheme peregrine|vl2|bcube|netlord] [--log-level LEVEL]\n"
	"                       [--metrics A.B.C.D:PORT]\n"
	"\n"
	"The host agent of one server: attaches the data plane to the server's\n"
	"NICs and VM ports, registers its VMs with the directory, resolves ARP\n"
	"and IPv4 misses, applies the directory's pushes (fail-over), renews the\n"
	"leases of entries in use, and reports the traffic matrix to the RAS.\n"
	"SIGHUP re-reads FILE and attaches/detaches VMs to match it.  SIGTERM\n"
	"or SIGINT stop it and remove the data plane.  SIGUSR1 (or a crash)\n"
	"stops it and leaves the data plane forwarding and pinned: the next\n"
	"start reuses it without disturbing traffic.  docs/agent.md.\n"
	"\n"
	"Options:\n"
	"  --config FILE      the configuration (YAML, docs/agent.md)\n"
	"  --name NAME        pin under /sys/fs/bpf/peregrine/NAME (default: the\n"
	"                     configuration's server name)\n"
	"  --veth-nics        the NICs are veths (a lab): transmit with\n"
	"                     bpf_redirect_peer\n"
	"  --traffic-pairs N  size of the traffic matrix (an LRU map the kernel\n"
	"                     preallocates): 1024 to 65536 (default) (source VM,\n"
	"                     destination VM) pairs; a lab sizes it to its VMs\n"
	"  --netns NS         run in network namespace NS (/run/netns/NS); only the\n"
	"                     network namespace: the pins stay in the host's bpffs\n"
	"                     (`ip netns exec` would mount a private one)\n"
	"  --lab PREFIX       run as a server of lab PREFIX (`peregrine lab up`\n"
	"                     passes it); only then does the environment variable\n"
	"                     PEREGRINE_NO_AGENT make it exit at once (a lab\n"
	"                     whose tests send plain traffic between servers)\n"
	"  --scheme S         peregrine (default) or vl2: the VL2 agent\n"
	"                     (docs/vl2.md; same configuration file); bcube:\n"
	"                     the BCube server daemon (docs/bcube.md); netlord:\n"
	"                     the NetLord agent, NLA (docs/netlord.md)\n"
	"  --log-level LEVEL  error, warn, info (default) or debug\n"
	DAEMON_HELP_METRICS
	"  -h, --help\n";

enum {
	AGENT_NL_BUF = 8192,
	/* The directory client's retransmission timer is armed for its next
	 * deadline only (dirc_udp_tick), never polled: an idle agent wakes
	 * once per AGENT_TRAFFIC_MS.  This bounds how early it may fire. */
	AGENT_DIRC_SLACK_NS = 1000000,
};

struct shell {
	const char *config_path, *netns;
	const char *lab;		/* --lab: the lab this agent is a server of */
	enum pgr_scheme scheme;		/* --scheme: vl2 runs cmd/agent_vl2.c */
	char name[64];
	bool veth_nics;
	uint32_t traffic_pairs;		/* 0: PGR_DP_TRAFFIC_MAX */
	struct agent_config cfg;
	struct auth_key key;
	struct topo *topo;
	struct pgr_dp *dp;		/* loaded here, or NULL when reused */
	struct pgr_dp_maps maps;
	bool maps_owned;
	int from_vm, from_net, to_vm;
	struct ring_buffer *rb;
	struct dirc_udp *du;
	int ras_fd, pkt_fd, resend_fd, nl_fd;
	struct loop *loop;
	struct loop_timer *dirc_timer;	/* one-shot: dirc's next deadline */
	struct agent *agent;
	char pin_dir[PGR_DP_PATH_MAX];
	bool nics_attached;
	bool keep;			/* SIGUSR1: exit, leave the data plane */
	struct daemon *dm;		/* events for `peregrine monitor` */
	struct agent_poldir *poldir;	/* policies from the directory */
	uint64_t drops_told[PGR_STAT_COUNT];	/* data-plane counters it was told */
	bool drops_seen;
};

/* Security groups (docs/policy.md): the VMs' policy files into the data
 * plane's maps, loaded here or pinned. */
static void policy_sync(struct shell *s, const struct agent_config *old)
{
	struct pgr_pol_maps m;
	char err[300] = "no data plane";

	if (s->dp) {
		agent_policy_sync(old, &s->cfg, pgr_dp_pol_maps(s->dp));
		return;
	}
	if (!s->pin_dir[0] || pgr_pol_maps_open_pinned(s->pin_dir, &m, err, sizeof(err))) {
		log_warn("policy: %s", err);
		return;
	}
	agent_policy_sync(old, &s->cfg, &m);
	pgr_pol_maps_close(&m);
}

/* The policy maps for the directory's policies (agent_pol_maps_fn). */
static int pol_maps(void *arg, struct pgr_pol_maps *m, bool *opened)
{
	struct shell *s = arg;
	char err[300];

	*opened = false;
	if (s->dp) {
		*m = *pgr_dp_pol_maps(s->dp);
		return 0;
	}
	if (!s->pin_dir[0] || pgr_pol_maps_open_pinned(s->pin_dir, m, err, sizeof(err))) {
		log_warn("policy: %s", s->pin_dir[0] ? err : "no data plane");
		return -1;
	}
	*opened = true;
	return 0;
}

/* ---- agent_ops ------------------------------------------------------------ */

static int op_garp_set(void *arg, const struct pgr_garp_key *k, const struct pgr_garp_entry *g)
{
	struct shell *s = arg;

	return pgr_dp_garp_set(&s->maps, k, g);
}

static int op_garp6_set(void *arg, const struct pgr_garp6_key *k, const struct pgr_garp_entry *g)
{
	struct shell *s = arg;

	return pgr_dp_garp6_set(&s->maps, k, g);
}

static int op_garp6_del(void *arg, const struct pgr_garp6_key *k)
{
	struct shell *s = arg;

	return pgr_dp_garp6_del(&s->maps, k);
}

static int op_mcast_set(void *arg, const struct pgr_mcast_key *k, const struct pgr_mcast_entry *e)
{
	struct shell *s = arg;

	return pgr_dp_mcast_set(&s->maps, k, e);
}

static int op_mcast_del(void *arg, const struct pgr_mcast_key *k)
{
	struct shell *s = arg;

	return pgr_dp_mcast_del(&s->maps, k);
}

static int op_vip_set(void *arg, const struct pgr_vip_src_key *k, const struct pgr_vip_src *v)
{
	struct shell *s = arg;

	return pgr_dp_vip_src_set(&s->maps, k, v);
}

static int op_vip_del(void *arg, const struct pgr_vip_src_key *k)
{
	struct shell *s = arg;
	int ret = pgr_dp_vip_src_del(&s->maps, k);

	return ret == -ENOENT ? 0 : ret;
}

static int op_garp_del(void *arg, const struct pgr_garp_key *k)
{
	struct shell *s = arg;

	return pgr_dp_garp_del(&s->maps, k);
}

static int op_vm_add(void *arg, const struct pgr_vm *vm, uint32_t backup_id)
{
	struct shell *s = arg;
	bool created;
	int ret;

	if ((ret = pgr_dp_vm_add(&s->maps, vm, backup_id)))
		return ret;
	return pgr_dp_tc_attach_port(s->from_vm, s->to_vm, vm->ifindex, &created);
}

static int op_vm_del(void *arg, const struct pgr_vm *vm, uint32_t backup_id)
{
	struct shell *s = arg;

	pgr_dp_tc_detach(vm->ifindex, false);
	return pgr_dp_vm_del(&s->maps, vm, backup_id);
}

static int op_arp_reply(void *arg, uint32_t ifindex, const uint8_t *frame, size_t len)
{
	struct shell *s = arg;
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = (int)ifindex,
				  .sll_halen = 6 };

	memcpy(to.sll_addr, frame, 6);
	if (sendto(s->pkt_fd, frame, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}

/* A held frame, out of the VM's port with PGR_MARK_RESEND (the socket's
 * SO_MARK): to_vm turns it back to the port's ingress, into from_vm. */
static int op_resend(void *arg, uint32_t ifindex, const uint8_t *frame, size_t len)
{
	struct shell *s = arg;
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = (int)ifindex,
				  .sll_protocol = htons(ETH_P_IP), .sll_halen = 6 };

	memcpy(to.sll_addr, frame, 6);
	if (sendto(s->resend_fd, frame, len, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}

static int op_ras_send(void *arg, const uint8_t *buf, size_t len)
{
	struct shell *s = arg;

	/* the RAS may not run: ECONNREFUSED and friends are not our problem */
	if (send(s->ras_fd, buf, len, MSG_DONTWAIT) < 0)
		return -errno;
	return 0;
}

/* ---- configuration ------------------------------------------------------- */

/* Interface indexes; a missing VM port leaves 0 (the core skips it). */
static int resolve(struct agent_config *c)
{
	for (unsigned i = 0; i < c->nnics; i++)
		if (!(c->nic_ifindex[i] = if_nametoindex(c->nic[i]))) {
			log_err("NIC %s: %s", c->nic[i], strerror(errno));
			return -ENODEV;
		}
	for (unsigned i = 0; i < c->nvms; i++)
		if (!(c->vms[i].ifindex = if_nametoindex(c->vms[i].port)))
			log_warn("VM %s: port %s: %s (skipped)", c->vms[i].name, c->vms[i].port,
				 strerror(errno));
	return 0;
}

static int load_config(struct shell *s, struct agent_config *c)
{
	char err[600];

	if (agent_config_load_file(c, s->config_path, err, sizeof(err))) {
		log_err("%s", err);
		return -EINVAL;
	}
	if (resolve(c)) {
		agent_config_free(c);
		return -ENODEV;
	}
	return 0;
}

/* The file is read here; the trees are the core's (agent_topology, once
 * the agent exists). */
static int load_topology(struct shell *s)
{
	char err[256];

	if (topo_from_spec(s->cfg.topology, &s->topo, err, sizeof(err))) {
		log_err("topology %s: %s", s->cfg.topology, err);
		return -EINVAL;
	}
	return 0;
}

/* ---- the data plane -------------------------------------------------------- */

static int open_pinned(struct shell *s, const char *dir)
{
	char err[256];

	if (pgr_dp_maps_open_pinned(dir, &s->maps, err, sizeof(err))) {
		log_debug("no pinned data plane: %s", err);
		return -ENOENT;
	}
	s->from_vm = pgr_dp_prog_open_pinned(dir, "from_vm");
	s->from_net = pgr_dp_prog_open_pinned(dir, "from_net");
	s->to_vm = pgr_dp_prog_open_pinned(dir, "to_vm");
	if (s->from_vm < 0 || s->from_net < 0 || s->to_vm < 0) {
		if (s->from_vm >= 0)
			close(s->from_vm);
		if (s->from_net >= 0)
			close(s->from_net);
		if (s->to_vm >= 0)
			close(s->to_vm);
		s->from_vm = s->from_net = s->to_vm = -1;
		pgr_dp_maps_close(&s->maps);
		log_debug("no pinned programs in %s", dir);
		return -ENOENT;
	}
	s->maps_owned = true;
	log_info("reusing the data plane pinned in %s", dir);
	return 0;
}

static int load_fresh(struct shell *s, const char *dir)
{
	struct pgr_dp_opts o = { .pin_dir = dir, .traffic_max = s->traffic_pairs };
	char err[256];
	int ret;

	for (unsigned t = 0; t < PGR_TREES; t++)
		pgr_mac_make(o.cfg.server_mac[t], pgr_id_of(s->cfg.node, t));
	o.cfg.flags = PGR_CFG_PEER | (s->veth_nics ? PGR_CFG_NIC_PEER : 0);
	pgr_dp_unpin(dir);	/* a half-pinned leftover */
	if ((ret = pgr_dp_open(&s->dp, &o, err, sizeof(err)))) {
		log_err("data plane: %s", err);
		return ret;
	}
	s->maps = *pgr_dp_maps(s->dp);
	s->from_vm = pgr_dp_from_vm_fd(s->dp);
	s->from_net = pgr_dp_from_net_fd(s->dp);
	s->to_vm = pgr_dp_to_vm_fd(s->dp);
	/* Loading parsed the kernel's BTF (several MB of heap, freed but kept
	 * by malloc): give it back, a lab runs hundreds of agents. */
	malloc_trim(0);
	log_info("data plane loaded and pinned in %s", dir);
	return 0;
}

static bool our_port(const struct agent_config *c, uint32_t ifindex)
{
	for (unsigned i = 0; i < c->nvms; i++)
		if (c->vms[i].ifindex == ifindex)
			return true;
	return false;
}

static bool our_id(const struct agent_config *c, uint32_t id)
{
	for (unsigned i = 0; i < c->nvms; i++)
		if (pgr_id_of(c->vms[i].node, PGR_PRIMARY) == id ||
		    pgr_id_of(c->vms[i].node, PGR_BACKUP) == id)
			return true;
	return false;
}

/* Delete the entries of a u32-keyed map that keep() refuses. */
static void prune_map(int fd, const struct agent_config *c,
		      bool (*keep)(const struct agent_config *, uint32_t))
{
	uint32_t key, next, *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		if (!keep(c, key)) {
			bpf_map_delete_elem(fd, &key);
			prev = NULL;	/* restart: the walk order changed */
			continue;
		}
		prev = &key;
	}
}

/* VM and port entries a previous run left that are not our VMs'. */
static void prune_ports(struct shell *s)
{
	prune_map(s->maps.ports, &s->cfg, our_port);
	prune_map(s->maps.vms, &s->cfg, our_id);
}

static void adopt_garp(struct shell *s)
{
	struct pgr_garp_key key, next, *prev = NULL;
	struct pgr_garp_entry g;
	unsigned n = 0;

	while (!bpf_map_get_next_key(s->maps.garp, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(s->maps.garp, &key, &g)) {
			agent_adopt(s->agent, &key, &g, dir_now_sys());
			n++;
		}
	}
	if (n)
		log_info("adopted %u GARP entries from the pinned map", n);
}

static int dp_setup(struct shell *s)
{
	char dir[PGR_DP_PATH_MAX];
	int ret;

	if (!pgr_dp_pin_path(s->name, dir, sizeof(dir))) {
		log_err("bad --name '%s'", s->name);
		return -EINVAL;
	}
	if ((ret = pgr_dp_mount_bpffs())) {
		log_err("bpffs: %s", strerror(-ret));
		return ret;
	}
	if (open_pinned(s, dir) && (ret = load_fresh(s, dir)))
		return ret;
	snprintf(s->pin_dir, sizeof(s->pin_dir), "%s", dir);
	prune_ports(s);
	return 0;
}

/* from_net on the NICs once the server has a VM: a server without VMs
 * leaves its NICs to the stack (the lab's underlay tests ping across). */
static int nics_attach(struct shell *s)
{
	bool created;
	int ret;

	if (s->nics_attached || !s->cfg.nvms)
		return 0;
	for (unsigned i = 0; i < s->cfg.nnics; i++)
		if ((ret = pgr_dp_tc_attach(s->from_net, s->cfg.nic_ifindex[i], &created))) {
			log_err("attach %s: %s", s->cfg.nic[i], strerror(-ret));
			return ret;
		}
	s->nics_attached = true;
	return 0;
}

/* SIGTERM: detach from every interface and remove the pins. */
static void dp_remove(struct shell *s)
{
	for (unsigned i = 0; s->nics_attached && i < s->cfg.nnics; i++)
		pgr_dp_tc_detach(s->cfg.nic_ifindex[i], false);
	for (unsigned i = 0; i < s->cfg.nvms; i++)
		if (s->cfg.vms[i].ifindex)
			pgr_dp_tc_detach(s->cfg.vms[i].ifindex, false);
	if (s->pin_dir[0])
		pgr_dp_unpin(s->pin_dir);
}

/* ---- events ------------------------------------------------------------------ */

/* Retransmit what is due and arm the one-shot timer for the directory
 * client's next deadline.  Called after every event that may have sent a
 * request, and by the timer itself; with nothing in flight the timer stays
 * unarmed (a stale arming fires once and finds nothing due). */
static void dirc_rearm(struct shell *s)
{
	struct dir_now now = dir_now_sys();
	uint64_t next;

	agent_clock(s->agent, now);
	next = dirc_udp_tick(s->du);
	if (next == UINT64_MAX)
		return;
	next = next > now.ns ? next - now.ns : 0;
	loop_timer_set(s->loop, s->dirc_timer, next + AGENT_DIRC_SLACK_NS);
}

static void on_dirc_tick(void *arg)
{
	dirc_rearm(arg);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct shell *s = ctx;
	struct pgr_event ev;
	const uint8_t *frame = (const uint8_t *)data + sizeof(ev);

	if (size < sizeof(ev))
		return 0;
	memcpy(&ev, data, sizeof(ev));
	if (ev.frame_len > size - sizeof(ev))
		ev.frame_len = 0;	/* the core counts a frame that does not parse */
	agent_miss(s->agent, &ev, ev.frame_len ? frame : NULL, ev.frame_len, dir_now_sys());
	return 0;
}

static void on_ring(void *arg, int fd)
{
	struct shell *s = arg;

	(void)fd;
	ring_buffer__consume(s->rb);
	agent_flush(s->agent, dir_now_sys());
	dirc_rearm(s);
}

static void on_dir(void *arg, int fd)
{
	struct shell *s = arg;

	(void)fd;
	agent_clock(s->agent, dir_now_sys());
	dirc_udp_readable(s->du);
	dirc_rearm(s);
}

static void on_pol(void *arg, const struct dirp_pol *p)
{
	struct shell *s = arg;

	if (s->poldir)
		agent_poldir_note(s->poldir, p);
}

static void on_push6(void *arg, const struct dirp_entry6 *e)
{
	struct shell *s = arg;

	agent_on_push6(s->agent, e);
}

static void on_push(void *arg, uint8_t type, const struct dirp_entry *e)
{
	struct shell *s = arg;

	agent_on_push(s->agent, type, e, dir_now_sys());
	if (daemon_metrics_addr(s->dm)[0]) {
		char ip[INET_ADDRSTRLEN];
		struct in_addr a = { htonl(e->ip) };

		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		daemon_event(s->dm, "push", "\"vdc\":%u,\"ip\":\"%s\",\"avail\":%u,"
			     "\"server_node\":%u,\"version\":%u", e->vdc, ip, e->avail, e->server,
			     e->version);
	}
}

/* The data plane's drops since the last second, by reason, as events. */
static void drop_events(struct shell *s)
{
	struct pgr_counter c[PGR_STAT_COUNT];

	if (!daemon_metrics_addr(s->dm)[0] || pgr_dp_stats_read(&s->maps, c))
		return;
	for (int i = 0; i < PGR_STAT_COUNT; i++) {
		const char *n = pgr_dp_stat_name((enum pgr_stat)i);

		/* the first second only sets the baseline (a reused data
		 * plane's counters are not this run's) */
		if (s->drops_seen && strstr(n, "drop") && c[i].packets > s->drops_told[i])
			daemon_event(s->dm, "drops", "\"reason\":\"%s\",\"packets\":%llu", n,
				     (unsigned long long)(c[i].packets - s->drops_told[i]));
		s->drops_told[i] = c[i].packets;
	}
	s->drops_seen = true;
}

static void on_ras(void *arg, int fd)
{
	struct shell *s = arg;
	uint8_t buf[RASP_MAX_DGRAM];

	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0)
			break;
		agent_ras_input(s->agent, buf, (size_t)n, dir_now_sys());
	}
	dirc_rearm(s);
}

static int traffic_pair(const struct pgr_pair *p, const struct pgr_counter *c, void *arg)
{
	agent_traffic_pair(arg, p, c);
	return 0;
}

static void on_second(void *arg)
{
	struct shell *s = arg;
	struct dir_now now = dir_now_sys();

	agent_traffic_begin(s->agent);
	pgr_dp_traffic_walk(&s->maps, traffic_pair, s->agent);
	agent_traffic_end(s->agent, now);
	agent_tick(s->agent, now);
	agent_poldir_tick(s->poldir, now.ns / 1000000);
	dirc_rearm(s);
	drop_events(s);
}

static void nic_changed(struct shell *s, int ifindex, unsigned flags)
{
	for (unsigned i = 0; i < s->cfg.nnics; i++)
		if ((int)s->cfg.nic_ifindex[i] == ifindex) {
			bool up = (flags & IFF_UP) && (flags & IFF_RUNNING);

			agent_nic_state(s->agent, i, up);
		}
}

static void on_netlink(void *arg, int fd)
{
	struct shell *s = arg;
	char buf[AGENT_NL_BUF] __attribute__((aligned(4)));
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (unsigned)n);
		     h = NLMSG_NEXT(h, n)) {
			struct ifinfomsg *ifi = NLMSG_DATA(h);

			if ((h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK) &&
			    h->nlmsg_len >= NLMSG_LENGTH(sizeof(*ifi)))
				nic_changed(s, ifi->ifi_index,
					    h->nlmsg_type == RTM_DELLINK ? 0 : ifi->ifi_flags);
		}
	}
}

static void nic_initial(struct shell *s)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	for (unsigned i = 0; fd >= 0 && i < s->cfg.nnics; i++) {
		struct ifreq r = { 0 };

		snprintf(r.ifr_name, sizeof(r.ifr_name), "%s", s->cfg.nic[i]);
		if (!ioctl(fd, SIOCGIFFLAGS, &r))
			nic_changed(s, (int)s->cfg.nic_ifindex[i], (unsigned)r.ifr_flags);
	}
	if (fd >= 0)
		close(fd);
}

static void on_hup(void *arg, int signo)
{
	struct shell *s = arg;
	struct agent_config c, old;
	uint64_t t0 = mono_ns(), t1;

	(void)signo;
	if (load_config(s, &c)) {
		log_warn("SIGHUP: keeping the configuration in force");
		return;
	}
	if (c.node != s->cfg.node || strcmp(c.server, s->cfg.server) ||
	    strcmp(c.topology, s->cfg.topology)) {
		log_warn("SIGHUP: server, node or topology changed: restart instead");
		agent_config_free(&c);
		return;
	}
	old = s->cfg;
	s->cfg = c;
	t1 = mono_ns();
	agent_configure(s->agent, &s->cfg, dir_now_sys());
	policy_sync(s, &old);
	agent_poldir_sync(s->poldir, &old, &s->cfg, mono_ns() / 1000000);
	agent_config_free(&old);
	nics_attach(s);
	dirc_rearm(s);
	log_info("SIGHUP: %zu VMs attached (configuration read in %.1f ms, applied in %.1f ms)",
		 agent_vm_count(s->agent), (double)(t1 - t0) / 1e6, (double)(mono_ns() - t1) / 1e6);
}

static void on_keep(void *arg, int signo)
{
	struct shell *s = arg;

	(void)signo;
	s->keep = true;
	loop_stop(s->loop);
}

/* ---- sockets ------------------------------------------------------------------- */

static int udp_to(const struct sockaddr_in *a)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (const struct sockaddr *)a, sizeof(*a))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int netlink_open(void)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The directory client moved to another directory server (docs/ha.md). */
static void on_dir_failover(void *arg, unsigned server)
{
	struct shell *s = arg;

	log_warn("directory server %u of %u in use: the last stopped answering", server + 1,
		 s->cfg.nmore_dirs + 1);
	if (s->agent)
		agent_directory_changed(s->agent, dir_now_sys());
}

static int sockets_open(struct shell *s)
{
	struct dirc_cfg dc = { .key = &s->key, .seed = (uint64_t)getpid() << 32 ^ dir_now_sys().ns,
			       .on_push = on_push, .push_arg = s,
			       .on_push6 = on_push6, .on_pol = on_pol };
	uint32_t mark = PGR_MARK_RESEND;
	int err = 0;

	s->ras_fd = udp_to(&s->cfg.ras);
	s->pkt_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	s->resend_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	s->nl_fd = netlink_open();
	s->du = dirc_udp_open(&s->cfg.directory, &dc, &err);
	if (s->resend_fd >= 0 &&
	    setsockopt(s->resend_fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark))) {
		close(s->resend_fd);
		s->resend_fd = -1;
	}
	if (s->ras_fd < 0 || s->pkt_fd < 0 || s->resend_fd < 0 || s->nl_fd < 0 || !s->du) {
		log_err("sockets: %s", strerror(err ? -err : errno));
		return -1;
	}
	for (unsigned i = 0; i < s->cfg.nmore_dirs; i++)
		dirc_udp_add_server(s->du, &s->cfg.more_dirs[i]);
	dirc_udp_on_failover(s->du, on_dir_failover, s);
	return 0;
}

/* ---- main ------------------------------------------------------------------------ */

static int parse_args(int argc, char **argv, struct shell *s, struct daemon *dm)
{
	static const struct option opts[] = {
		{ "config", required_argument, 0, 'c' }, { "name", required_argument, 0, 'n' },
		{ "veth-nics", no_argument, 0, 'E' },
		{ "netns", required_argument, 0, 'N' }, { "lab", required_argument, 0, 'L' },
		{ "traffic-pairs", required_argument, 0, 'T' },
		{ "scheme", required_argument, 0, 'S' },
		{ "help", no_argument, 0, 'h' }, DAEMON_OPTION_LOG_LEVEL,
		DAEMON_OPTION_METRICS, { 0, 0, 0, 0 }
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': s->config_path = optarg; break;
		case 'n':
			if (strlen(optarg) >= sizeof(s->name))
				return cli_usage_error("agent", "--name: too long");
			strcpy(s->name, optarg);
			break;
		case 'E': s->veth_nics = true; break;
		case 'N': s->netns = optarg; break;
		case 'T':
			if (!parse_u32(optarg, PGR_DP_TRAFFIC_MAX, &s->traffic_pairs) ||
			    s->traffic_pairs < PGR_DP_TRAFFIC_MIN)
				return cli_usage_error("agent", "--traffic-pairs: %d to %d",
						       PGR_DP_TRAFFIC_MIN, PGR_DP_TRAFFIC_MAX);
			break;
		case 'L': s->lab = optarg; break;
		case 'S':
			if (!pgr_scheme_parse(optarg, &s->scheme))
				return cli_usage_error("agent", "--scheme: '%s' is not peregrine, "
						       "vl2, bcube or netlord", optarg);
			/* EVPN's servers run FRR and the kernel's VXLAN, not an
			 * agent (docs/evpn.md) */
			if (s->scheme == PGR_SCHEME_EVPN)
				return cli_usage_error("agent", "--scheme evpn: an EVPN server "
						       "runs FRR (zebra, bgpd, bfdd) and the "
						       "kernel's VXLAN devices, not a Peregrine "
						       "agent (peregrine lab up with scheme: evpn)");
			break;
		case 'h': fputs(agent_help, stdout); exit(0);
		default: {
			int rc = daemon_opt(dm, c, optarg);

			if (rc != 1)
				return rc;
		}
		}
	}
	if (optind < argc)
		return cli_usage_error("agent", "unexpected '%s'", argv[optind]);
	if (!s->config_path)
		return cli_usage_error("agent", "--config FILE is required");
	return 0;
}

static int setup(struct shell *s)
{
	struct agent_ops ops = { s, op_garp_set, op_garp_del, op_vm_add, op_vm_del,
				 op_arp_reply, op_resend, op_ras_send, CORE_LOG_STDERR,
				 op_garp6_set, op_garp6_del, op_mcast_set, op_mcast_del,
				 op_vip_set, op_vip_del };
	char err[256];

	if (load_config(s, &s->cfg) || load_topology(s))
		return -1;
	if (!s->name[0])
		snprintf(s->name, sizeof(s->name), "%s", s->cfg.server);
	if (auth_key_load(s->cfg.key, &s->key, err, sizeof(err))) {
		log_err("key: %s", err);
		return -1;
	}
	if (dp_setup(s) || sockets_open(s))
		return -1;
	s->rb = ring_buffer__new(s->maps.events, on_event, s, NULL);
	if (!s->rb) {
		log_err("ring buffer: %s", strerror(errno));
		return -1;
	}
	s->agent = agent_new(&ops, dirc_udp_client(s->du), &s->key, dir_now_sys());
	if (agent_topology(s->agent, s->topo, s->cfg.server, s->cfg.node, err, sizeof(err))) {
		log_err("topology %s: %s", s->cfg.topology, err);
		return -1;
	}
	nic_initial(s);
	agent_configure(s->agent, &s->cfg, dir_now_sys());
	policy_sync(s, NULL);
	s->poldir = agent_poldir_new(dirc_udp_client(s->du), pol_maps, s);
	agent_poldir_sync(s->poldir, NULL, &s->cfg, mono_ns() / 1000000);
	if (nics_attach(s))
		return -1;
	adopt_garp(s);
	loop_io_add(s->loop, ring_buffer__epoll_fd(s->rb), on_ring, s);
	loop_io_add(s->loop, dirc_udp_fd(s->du), on_dir, s);
	loop_io_add(s->loop, s->ras_fd, on_ras, s);
	loop_io_add(s->loop, s->nl_fd, on_netlink, s);
	s->dirc_timer = loop_timer_add(s->loop, 0, 0, on_dirc_tick, s);	/* the registrations */
	loop_timer_add(s->loop, AGENT_TRAFFIC_MS * 1000000ull, AGENT_TRAFFIC_MS * 1000000ull,
		       on_second, s);
	loop_signal_add(s->loop, SIGHUP, on_hup, s);
	loop_signal_add(s->loop, SIGUSR1, on_keep, s);
	return 0;
}

static void print_stat(void *arg, const char *name, const char *desc, uint64_t v)
{
	(void)arg;
	(void)desc;
	if (v)
		log_info("  %s %llu", name, (unsigned long long)v);
}

static void teardown(struct shell *s)
{
	if (s->agent) {
		log_info("stopping; the data plane %s:", s->keep ? "stays attached and pinned"
								  : "is removed");
		agent_stats_foreach(s->agent, print_stat, NULL);
		if (!s->keep)
			dp_remove(s);
	}
	/* the loop (and its timers) is the scaffold's: daemon_free */
	agent_poldir_free(s->poldir);
	agent_free(s->agent);
	if (s->rb)
		ring_buffer__free(s->rb);
	if (s->du)
		dirc_udp_close(s->du);
	if (s->ras_fd > 0)
		close(s->ras_fd);
	if (s->pkt_fd > 0)
		close(s->pkt_fd);
	if (s->resend_fd > 0)
		close(s->resend_fd);
	if (s->nl_fd > 0)
		close(s->nl_fd);
	if (s->dp) {
		pgr_dp_keep(s->dp);
		pgr_dp_close(s->dp);
	} else if (s->maps_owned) {
		pgr_dp_maps_close(&s->maps);
		close(s->from_vm);
		close(s->from_net);
		close(s->to_vm);
	}
	if (s->topo)
		topo_free(s->topo);
	agent_config_free(&s->cfg);
}

/* How long cached entries ran on fewer trees: the agent's fail-overs. */
static void render_failover(struct metrics_text *t, const struct agent_failover_hist *h)
{
	static const uint32_t ub_ms[AGENT_FO_BUCKETS] = AGENT_FO_BUCKETS_MS;
	double le[AGENT_FO_BUCKETS];
	uint64_t cum[AGENT_FO_BUCKETS], c = 0;

	for (int b = 0; b < AGENT_FO_BUCKETS; b++) {
		le[b] = (double)ub_ms[b] / 1000.0;
		cum[b] = (c += h->bucket[b]);
	}
	metrics_histogram(t, "peregrine_agent_failover_seconds",
			  "time a cached entry ran without one of its MACs (trees): from the "
			  "record that took it away to the one that gave every MAC back",
			  le, cum, AGENT_FO_BUCKETS, h->count, (double)h->sum_ns / 1e9, NULL);
}

/* The directory client's moves and hedged lookups (dir/client_udp.h). */
static void render_dirc(struct metrics_text *t, struct dirc_udp *du)
{
	const struct dirc_stats *st = dirc_get_stats(dirc_udp_client(du));

	metrics_sample(t, METRICS_COUNTER, "peregrine_agent_dir_failovers_total",
		       "moves to another directory server", (double)dirc_udp_failovers(du), NULL);
	metrics_sample(t, METRICS_COUNTER, "peregrine_agent_dir_hedged_total",
		       "lookups sent to a second directory server as well", (double)st->hedged,
		       NULL);
	metrics_sample(t, METRICS_COUNTER, "peregrine_agent_dir_hedge_won_total",
		       "hedged lookups answered by the second server first",
		       (double)st->hedge_won, NULL);
	metrics_sample(t, METRICS_COUNTER, "peregrine_agent_dir_hedge_dropped_total",
		       "second answers to hedged lookups, dropped", (double)st->hedge_dropped, NULL);
}

/* The core's counters as Prometheus metrics (docs/metrics.md). */
static void render_metrics(void *arg, struct metrics_text *t)
{
	const struct shell *s = arg;
	const struct agent_stats *st = agent_get_stats(s->agent);

#define AGENT_METRIC(n, desc) \
	metrics_sample(t, METRICS_COUNTER, "peregrine_agent_" #n "_total", desc, \
		       (double)st->n, NULL);
	AGENT_STATS(AGENT_METRIC)
#undef AGENT_METRIC
	for (unsigned v = 0; v < AGENT_DHCP_COUNT; v++) {	/* agent/dhcp.h */
		char name[64];

		snprintf(name, sizeof(name), "peregrine_agent_dhcp_%s_total", agent_dhcp_name(v));
		metrics_sample(t, METRICS_COUNTER, name, agent_dhcp_desc(v),
			       (double)st->dhcp[v], NULL);
	}
	for (unsigned v = 0; v < AGENT_MCAST_COUNT; v++) {	/* agent/mcast.h */
		char name[64];

		snprintf(name, sizeof(name), "peregrine_agent_mcast_%s_total",
			 agent_mcast_verdict_name((int)v));
		metrics_sample(t, METRICS_COUNTER, name, agent_mcast_desc((int)v),
			       (double)st->mcast[v], NULL);
	}
	metrics_sample(t, METRICS_COUNTER, "peregrine_agent_mcast_send_fail_total",
		       "JOIN/LEAVE records the directory client refused",
		       (double)st->mcast_send_fail, NULL);
	metrics_sample(t, METRICS_COUNTER, "peregrine_agent_mcast_queries_total",
		       "IGMP/MLD general queries sent to VMs (the agent is their querier)",
		       (double)st->mcast_queries, NULL);
	metrics_sample(t, METRICS_COUNTER, "peregrine_agent_mcast_query_fail_total",
		       "IGMP/MLD general queries the shell failed to send",
		       (double)st->mcast_query_fail, NULL);
#define AGENT6_METRIC(n, desc) \
	metrics_sample(t, METRICS_COUNTER, "peregrine_agent_" #n "_total", desc, \
		       (double)agent_stats6(s->agent)->n, NULL);
	AGENT6_STATS(AGENT6_METRIC)	/* agent/agent6.h: nd_*, ra_*, rs_* */
#undef AGENT6_METRIC
	for (int v = 0; v < AGENT_GRP_COUNT; v++) {	/* agent/grp.h */
		char name[64];

		snprintf(name, sizeof(name), "peregrine_agent_grp_%s_total", agent_grp_stat_name(v));
		metrics_sample(t, METRICS_COUNTER, name, agent_grp_stat_desc(v),
			       (double)agent_groups(s->agent)->st[v], NULL);
	}
	metrics_sample(t, METRICS_GAUGE, "peregrine_agent_cache_entries",
		       "directory entries the agent caches", (double)agent_cache_size(s->agent),
		       NULL);
	metrics_sample(t, METRICS_GAUGE, "peregrine_agent_vms", "VMs attached",
		       (double)agent_vm_count(s->agent), NULL);
	render_failover(t, agent_get_failover_hist(s->agent));
	render_dirc(t, s->du);
}

int cmd_agent(int argc, char **argv)
{
	struct shell s = { .ras_fd = -1, .pkt_fd = -1, .resend_fd = -1, .nl_fd = -1,
			   .from_vm = -1, .from_net = -1, .to_vm = -1 };
	struct daemon dm;
	int ret;

	daemon_init(&dm, "agent");
	s.dm = &dm;
	if ((ret = parse_args(argc, argv, &s, &dm)) || (ret = cli_enter_netns(s.netns)))
		return ret;
	log_set_ident(dm.name);
	/* Tests of the bare fabric (server-to-server traffic on the underlay,
	 * which the data plane would not pass) run a lab without agents.  A
	 * production agent (no --lab) ignores the variable: a stray one in its
	 * environment must not turn a server's data plane off. */
	if (getenv("PEREGRINE_NO_AGENT")) {
		if (s.lab) {
			log_info("PEREGRINE_NO_AGENT is set in lab %s: not running", s.lab);
			return 0;
		}
		log_warn("PEREGRINE_NO_AGENT is ignored outside a lab (no --lab)");
	}
	if (s.scheme == PGR_SCHEME_VL2) {
		signal(SIGPIPE, SIG_IGN);
		return agent_vl2_run(s.config_path);
	}
	if (s.scheme == PGR_SCHEME_BCUBE) {
		signal(SIGPIPE, SIG_IGN);
		return agent_bcube_run(s.config_path);
	}
	if (s.scheme == PGR_SCHEME_NETLORD) {
		signal(SIGPIPE, SIG_IGN);
		return agent_netlord_run(s.config_path, s.lab);
	}
	daemon_start(&dm);	/* SIGPIPE ignored, SIGINT and SIGTERM stop the loop */
	s.loop = dm.loop;
	if (setup(&s)) {
		teardown(&s);
		daemon_free(&dm);
		return 1;
	}
	/* events name the agent by its pin name (its --name) */
	snprintf(dm.name, sizeof(dm.name), "%s", s.name);
	if (daemon_metrics(&dm, render_metrics, &s)) {
		teardown(&s);
		daemon_free(&dm);
		return 1;
	}
	log_info("%s (node %u): %zu VMs, %u NICs, directory and RAS as configured", s.cfg.server,
		 s.cfg.node, agent_vm_count(s.agent), s.cfg.nnics);
	daemon_run(&dm);
	teardown(&s);
	daemon_free(&dm);
	return 0;
}
