/* The NetLord agent's shell (`peregrine agent --scheme netlord`,
 * docs/netlord.md "The NLA daemon"): the NLA's programs on the NIC and the
 * VM ports, the VMs registered with the directory, NL-ARP's misses resolved
 * through it, its pushes applied, and the probes that keep the VLAN choice
 * alive.  The decisions are agent/nla.c's. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/config.h"
#include "agent/nla.h"
#include "bpf/loader.h"
#include "bpf/netlord.h"
#include "cmd/agent_netlord.h"
#include "dir/client_udp.h"
#include "lab/lab.h"
#include "lib/auth.h"
#include "lib/log.h"
#include "netlord_decap.skel.h"
#include "netlord_encap.skel.h"
#include "route/spain.h"
#include "wire/pgr.h"

struct nl_shell {
	struct agent_config cfg;
	struct topo *topo;
	struct route_spain spain;
	struct nla_plan plan;
	struct nla core;
	struct netlord_encap *enc;
	struct netlord_decap *dec;
	struct ring_buffer *ring;
	struct dirc_udp *du;
	struct auth_key key;
	char pin[PATH_MAX];
	uint8_t edge_mac[6], nic_mac[6], port;
	uint32_t nic;
	int dir_fd, ports_fd, vms_fd, paths_fd;
	int pkt_fd;		/* AF_PACKET on the NIC: probes in and out, ARP replies */
	bool have_spain, have_plan, have_core;
};

static volatile sig_atomic_t stop, reload;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else
		stop = 1;
}

static void apply(struct nl_shell *s, const struct nla_out *out);

static void on_reply(void *arg, uint64_t req_id, const struct dirp_msg *m)
{
	struct nl_shell *s = arg;
	struct nla_out *out = calloc(1, sizeof(*out));

	(void)req_id;
	if (!m || !out) {
		free(out);
		return;		/* the miss comes again and is asked again */
	}
	for (unsigned i = 0; i < m->h.count; i++) {
		struct dirp_entry e;

		dirp_get_entry(m, i, &e);
		nla_on_entry(&s->core, mono_ns(), &e, false, out);
	}
	apply(s, out);
	free(out);
}

static void on_push(void *arg, uint8_t type, const struct dirp_entry *e)
{
	struct nl_shell *s = arg;
	struct nl_dir_key k = { e->vdc, htonl(e->ip) };
	struct nl_dir_entry v;
	struct nla_out *out;

	/* only what this server holds */
	if (bpf_map_lookup_elem(s->dir_fd, &k, &v) || !(out = calloc(1, sizeof(*out))))
		return;
	nla_on_entry(&s->core, mono_ns(), e, type == DIRP_INVALIDATE, out);
	apply(s, out);
	free(out);
}

static void send_frame(struct nl_shell *s, uint32_t ifindex, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = (int)ifindex,
				  .sll_halen = 6, .sll_protocol = htons((uint16_t)(b[12] << 8 | b[13])) };

	memcpy(to.sll_addr, buf, 6);
	if (sendto(s->pkt_fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		log_debug("send on ifindex %u: %s", ifindex, strerror(errno));
}

/* The ARP reply NL-ARP would have given the VM on port ifindex. */
static void arp_reply(struct nl_shell *s, const struct nla_act *a)
{
	struct nl_port vm;
	uint8_t f[NLA_ARP_FRAME] = { 0 };

	if (bpf_map_lookup_elem(s->ports_fd, &a->ifindex, &vm))
		return;		/* the VM left */
	memcpy(f, vm.mac, 6);
	memcpy(f + 6, a->dir.mac, 6);
	f[12] = 0x08, f[13] = 0x06;			/* ARP */
	f[14] = 0, f[15] = 1, f[16] = 0x08, f[17] = 0;	/* Ethernet, IPv4 */
	f[18] = 6, f[19] = 4, f[20] = 0, f[21] = 2;	/* reply */
	memcpy(f + 22, a->dir.mac, 6);
	memcpy(f + 28, &a->ip, 4);
	memcpy(f + 32, vm.mac, 6);
	memcpy(f + 38, &vm.ip, 4);
	send_frame(s, a->ifindex, f, sizeof(f));
}

static void apply_one(struct nl_shell *s, const struct nla_act *a)
{
	struct nl_dir_key k = { a->tenant, a->ip };
	struct dirp_key dk = { a->tenant, ntohl(a->ip) };
	struct nl_edge_key ek = { 0 };

	switch (a->kind) {
	case NLA_LOOKUP:
		if (dirc_request(dirc_udp_client(s->du), dir_now_sys(), DIRP_LOOKUP, &dk, 1,
				 on_reply, s) < 0)
			nla_on_timeout(&s->core, a->tenant, a->ip);
		break;
	case NLA_SET:
		if (bpf_map_update_elem(s->dir_fd, &k, &a->dir, BPF_ANY))
			log_warn("nl_dir: %s", strerror(errno));
		break;
	case NLA_DEL:
		bpf_map_delete_elem(s->dir_fd, &k);
		break;
	case NLA_PATHS:
		memcpy(ek.mac, a->edge_mac, 6);
		if (a->choice.n ? bpf_map_update_elem(s->paths_fd, &ek, &a->choice, BPF_ANY)
				: bpf_map_delete_elem(s->paths_fd, &ek) && errno != ENOENT)
			log_warn("nl_paths: %s", strerror(errno));
		break;
	case NLA_SEND_NIC:
		send_frame(s, s->nic, a->frame, a->len);
		break;
	case NLA_ARP_REPLY:
		arp_reply(s, a);
		break;
	}
}

static void apply(struct nl_shell *s, const struct nla_out *out)
{
	for (unsigned i = 0; i < out->n; i++) {
		const struct nla_act *a = &out->a[i];

		if (a->kind == NLA_PATHS && s->core.st.reselections)
			log_info("VLANs to edge switch %02x:%02x:%02x:%02x:%02x:%02x: %u "
				 "(first %u)", a->edge_mac[0], a->edge_mac[1], a->edge_mac[2],
				 a->edge_mac[3], a->edge_mac[4], a->edge_mac[5], a->choice.n,
				 a->choice.vid[0]);
		apply_one(s, a);
	}
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct nl_shell *s = ctx;
	const struct nl_event *ev = data;
	struct nla_out out;

	if (size < sizeof(*ev))
		return 0;
	out.n = 0;
	nla_on_miss(&s->core, mono_ns(), ev->tenant, ev->ip, ev->arp ? ev->ifindex : 0, &out);
	apply(s, &out);
	return 0;
}

static void on_frames(struct nl_shell *s)
{
	static struct nla_out out;
	uint8_t buf[256];
	ssize_t n;

	for (int i = 0; i < 256 && (n = recv(s->pkt_fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0;
	     i++) {
		out.n = 0;
		nla_on_frame(&s->core, mono_ns(), buf, (size_t)n, &out);
		apply(s, &out);
	}
}

/* ---- the VMs ---------------------------------------------------------------------- */

/* (tenant, IP) -> the VM's MACs, this server's edge switch and port. */
static void register_vm(struct nl_shell *s, const struct agent_vm_cfg *vm)
{
	uint8_t m0[6], m1[6];
	struct dirp_entry e;

	pgr_mac_make(m0, pgr_id_of(vm->node, PGR_PRIMARY));
	pgr_mac_make(m1, pgr_id_of(vm->node, PGR_BACKUP));
	nla_dir_record(&e, vm->vdc, vm->ip, m0, m1, s->edge_mac, s->nic_mac, s->port);
	if (dirc_request(dirc_udp_client(s->du), dir_now_sys(), DIRP_REGISTER, &e, 1, NULL,
			 NULL) < 0)
		log_warn("register %s: directory busy", vm->name);
}

static int attach_vm(struct nl_shell *s, struct agent_vm_cfg *vm)
{
	struct nl_port p = { .tenant = vm->vdc, .ip = htonl(vm->ip) };
	struct nl_vm_key vk = { .tenant = vm->vdc };
	uint32_t ifindex = if_nametoindex(vm->port);
	bool created;

	pgr_mac_make(p.mac, pgr_id_of(vm->node, PGR_PRIMARY));
	memcpy(vk.mac, p.mac, 6);
	if (!ifindex || bpf_map_update_elem(s->ports_fd, &ifindex, &p, BPF_ANY) ||
	    bpf_map_update_elem(s->vms_fd, &vk, &ifindex, BPF_ANY) ||
	    pgr_dp_tc_attach(bpf_program__fd(s->enc->progs.netlord_encap), ifindex, &created)) {
		log_err("VM %s: port %s: %s", vm->name, vm->port, strerror(errno));
		return -1;
	}
	vm->ifindex = ifindex;
	return 0;
}

static void detach_vm(struct nl_shell *s, const struct agent_vm_cfg *vm)
{
	struct nl_vm_key vk = { .tenant = vm->vdc };

	pgr_mac_make(vk.mac, pgr_id_of(vm->node, PGR_PRIMARY));
	bpf_map_delete_elem(s->vms_fd, &vk);
	if (vm->ifindex)
		bpf_map_delete_elem(s->ports_fd, &vm->ifindex);
}

static const struct agent_vm_cfg *find_vm(const struct agent_config *c, const char *name)
{
	for (unsigned i = 0; i < c->nvms; i++)
		if (!strcmp(c->vms[i].name, name))
			return &c->vms[i];
	return NULL;
}

/* SIGHUP (lab migrate): a VM that arrived is attached and registered (the
 * directory pushes its new edge switch and port to every NLA holding it);
 * one that left is forgotten here, not unregistered (its new server
 * registers it, and an UNREGISTER from here could arrive after that). */
static void reconfigure(struct nl_shell *s, const char *config)
{
	struct agent_config next;
	char err[512];

	if (agent_config_load_file(&next, config, err, sizeof(err))) {
		log_err("SIGHUP: %s; keeping the running configuration", err);
		return;
	}
	for (unsigned i = 0; i < s->cfg.nvms; i++)
		if (!find_vm(&next, s->cfg.vms[i].name)) {
			detach_vm(s, &s->cfg.vms[i]);
			log_info("VM %s left", s->cfg.vms[i].name);
		}
	for (unsigned i = 0; i < next.nvms; i++) {
		const struct agent_vm_cfg *old = find_vm(&s->cfg, next.vms[i].name);

		if (old) {
			next.vms[i].ifindex = old->ifindex;
			continue;
		}
		if (!attach_vm(s, &next.vms[i])) {
			register_vm(s, &next.vms[i]);
			log_info("VM %s arrived: registered at port %u", next.vms[i].name, s->port);
		}
	}
	agent_config_free(&s->cfg);
	s->cfg = next;
}

/* ---- set-up ------------------------------------------------------------------------- */

/* Pin the maps of obj under dir, replacing pins a previous run left. */
static int pin_maps(struct bpf_object *obj, const char *dir)
{
	struct bpf_map *m;
	char path[PATH_MAX];

	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	bpf_object__for_each_map(m, obj) {
		if (bpf_map__is_internal(m))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(m));
		unlink(path);
		if (bpf_map__pin(m, path))
			return -errno;
	}
	return 0;
}

/* Only probes: IPv4, UDP, destination port NLA_PROBE_UDP, no IP options. */
static int probe_socket(uint32_t nic)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 5),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 17, 0, 3),
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 36),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NLA_PROBE_UDP, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 256),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = ARRAY_SIZE(code), .filter = code };
	struct sockaddr_ll at = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
				  .sll_ifindex = (int)nic };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_IP));

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) ||
	    bind(fd, (struct sockaddr *)&at, sizeof(at))) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static int load(struct nl_shell *s)
{
	char sub[PATH_MAX + 8];
	bool created;

	if (!(s->enc = netlord_encap__open()) || !(s->dec = netlord_decap__open()))
		return -1;
	memcpy((void *)s->enc->rodata->nl_cfg.edge_mac, s->edge_mac, 6);
	s->enc->rodata->nl_cfg.port = s->port;
	s->enc->rodata->nl_cfg.nic_ifindex = s->nic;
	memcpy((void *)s->dec->rodata->nl_cfg.nic_mac, s->nic_mac, 6);
	s->dec->rodata->nl_cfg.port = s->port;
	if (netlord_encap__load(s->enc) || netlord_decap__load(s->dec))
		return -1;
	s->dir_fd = bpf_map__fd(s->enc->maps.nl_dir);
	s->ports_fd = bpf_map__fd(s->enc->maps.nl_ports);
	s->paths_fd = bpf_map__fd(s->enc->maps.nl_paths);
	s->vms_fd = bpf_map__fd(s->dec->maps.nl_vms);
	for (unsigned i = 0; i < s->cfg.nvms; i++)
		if (attach_vm(s, &s->cfg.vms[i]))
			return -1;
	if (pgr_dp_tc_attach(bpf_program__fd(s->dec->progs.netlord_decap), s->nic, &created))
		return -1;
	s->ring = ring_buffer__new(bpf_map__fd(s->enc->maps.nl_events), on_event, s, NULL);
	if (!s->ring)
		return -1;
	/* pinned last: the lab waits for DIR/dec (netlord stats reads them) */
	if (mkdir(s->pin, 0700) && errno != EEXIST)
		return -1;
	snprintf(sub, sizeof(sub), "%s/enc", s->pin);
	if (pin_maps(s->enc->obj, sub))
		return -1;
	snprintf(sub, sizeof(sub), "%s/dec", s->pin);
	return pin_maps(s->dec->obj, sub) ? -1 : 0;
}

/* The plan (SPAIN's VLANs, as the switches were given them) and, per edge
 * switch, its MAC and the servers to probe under it. */
static int plan(struct nl_shell *s, uint32_t node, uint32_t edge, char *err, size_t len)
{
	const struct topo *t = s->topo;
	struct nla_cfg c = { .plan = &s->plan, .port = s->port };
	uint32_t nends;
	int rc = -1;

	if (route_spain_build(t, LAB_NETLORD_K, &s->spain, err, len))
		return -1;
	s->have_spain = true;
	if (nla_plan_build(&s->plan, t, &s->spain, edge, err, len))
		return -1;
	s->have_plan = true;
	nends = s->spain.nends;
	uint8_t (*macs)[6] = calloc(nends, 6);
	uint8_t (*targets)[NLA_TARGETS] = calloc(nends, NLA_TARGETS);
	uint8_t *ntargets = calloc(nends, 1);

	if (!macs || !targets || !ntargets)
		goto out;
	for (uint32_t e = 0; e < nends; e++)
		lab_netlord_switch_mac(s->spain.ends[e], macs[e]);
	for (uint32_t v = 0; v < t->nservers; v++) {
		uint32_t srv = t->servers[v], p, sw = lab_netlord_edge(t, srv, &p);

		for (uint32_t e = 0; e < nends; e++)
			if (s->spain.ends[e] == sw && srv != node && ntargets[e] < NLA_TARGETS)
				targets[e][ntargets[e]++] = (uint8_t)p;
	}
	c.edge_mac = (const uint8_t (*)[6])macs;
	c.targets = (const uint8_t (*)[NLA_TARGETS])targets;
	c.ntargets = ntargets;
	nla_init(&s->core, &c);
	s->have_core = true;
	rc = 0;
out:
	free(macs);
	free(targets);
	free(ntargets);
	return rc;
}

static int setup(struct nl_shell *s, const char *config, const char *lab)
{
	struct dirc_cfg dc = { .key = &s->key, .on_push = on_push, .push_arg = s };
	char err[512];
	uint32_t node, edge, port;
	int e;

	if (agent_config_load_file(&s->cfg, config, err, sizeof(err)) ||
	    topo_from_spec(s->cfg.topology, &s->topo, err, sizeof(err)) ||
	    auth_key_load(s->cfg.key, &s->key, err, sizeof(err))) {
		log_err("%s", err);
		return -1;
	}
	if ((node = topo_find(s->topo, s->cfg.server)) == UINT32_MAX ||
	    !topo_is_server(s->topo, node) || lab_netlord_check(s->topo) || !s->cfg.nnics) {
		log_err("%s: not a server of a NetLord topology (%s)", s->cfg.server,
			s->cfg.topology);
		return -1;
	}
	edge = lab_netlord_edge(s->topo, node, &port);
	s->port = (uint8_t)port;
	lab_netlord_switch_mac(edge, s->edge_mac);
	lab_nic_mac(s->topo->nodes[node].index, 0, s->nic_mac);
	snprintf(s->pin, sizeof(s->pin), "%s/%s%s%s-nl", PGR_DP_PIN_ROOT, lab ? lab : "",
		 lab ? "-" : "", s->cfg.server);
	if (!(s->nic = if_nametoindex(s->cfg.nic[0]))) {
		log_err("NIC %s: %s", s->cfg.nic[0], strerror(errno));
		return -1;
	}
	if (plan(s, node, edge, err, sizeof(err))) {
		log_err("%s", err);
		return -1;
	}
	if ((s->pkt_fd = probe_socket(s->nic)) < 0) {
		log_err("probe socket on %s: %s", s->cfg.nic[0], strerror(-s->pkt_fd));
		return -1;
	}
	dc.seed = mono_ns() ^ ((uint64_t)getpid() << 32);
	if (!(s->du = dirc_udp_open(&s->cfg.directory, &dc, &e))) {
		log_err("directory socket: %s", strerror(-e));
		return -1;
	}
	if (load(s)) {
		log_err("cannot load or pin the NLA's programs under %s: %s", s->pin,
			strerror(errno));
		return -1;
	}
	return 0;
}

static void teardown(struct nl_shell *s)
{
	for (unsigned i = 0; i < s->cfg.nvms; i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)if_nametoindex(s->cfg.vms[i].port),
			    .attach_point = BPF_TC_INGRESS);

		if (hook.ifindex)
			bpf_tc_hook_destroy(&hook);
	}
	ring_buffer__free(s->ring);
	netlord_encap__destroy(s->enc);
	netlord_decap__destroy(s->dec);
	if (s->du)
		dirc_udp_close(s->du);
	if (s->pkt_fd > 0)
		close(s->pkt_fd);
	if (s->have_core)
		nla_free(&s->core);
	if (s->have_plan)
		nla_plan_free(&s->plan);
	if (s->have_spain)
		route_spain_free(&s->spain);
	topo_free(s->topo);
	agent_config_free(&s->cfg);
}

static int run(struct nl_shell *s, const char *config)
{
	static struct nla_out out;
	uint64_t due = 0;

	out.n = 0;
	nla_start(&s->core, &out);
	apply(s, &out);
	for (unsigned i = 0; i < s->cfg.nvms; i++)
		register_vm(s, &s->cfg.vms[i]);
	while (!stop) {
		struct pollfd p[3] = { { ring_buffer__epoll_fd(s->ring), POLLIN, 0 },
				       { dirc_udp_fd(s->du), POLLIN, 0 },
				       { s->pkt_fd, POLLIN, 0 } };
		uint64_t now = mono_ns(), dd = dirc_udp_tick(s->du);
		int ms;

		if (now >= due) {
			out.n = 0;
			due = nla_tick(&s->core, now, &out);
			apply(s, &out);
		}
		due = MIN(due, dd);
		now = mono_ns();
		ms = due <= now ? 0 : (int)MIN((due - now) / 1000000 + 1, 1000);
		if (poll(p, 3, ms) < 0 && errno != EINTR)
			return 1;
		if (p[2].revents)
			on_frames(s);
		if (p[0].revents)
			ring_buffer__consume(s->ring);
		if (p[1].revents)
			dirc_udp_readable(s->du);
		if (reload) {
			reload = 0;
			reconfigure(s, config);
		}
	}
	return 0;
}

int agent_netlord_run(const char *config, const char *lab)
{
	struct nl_shell *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return 1;
	s->pkt_fd = -1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, on_signal);
	if (setup(s, config, lab)) {
		teardown(s);
		free(s);
		return 1;
	}
	log_info("NetLord agent of %s: port %u, %u VMs, %u edge switches, probes every %d ms",
		 s->cfg.server, s->port, s->cfg.nvms, s->core.nends, NLA_PROBE_MS);
	rc = run(s, config);
	log_info("NLA: %llu lookups, %llu answers, %llu pushes, %llu ARP replies, "
		 "%llu probes, %llu echoes in, %llu re-selections",
		 (unsigned long long)s->core.st.lookups, (unsigned long long)s->core.st.answers,
		 (unsigned long long)s->core.st.pushes, (unsigned long long)s->core.st.arp_replies,
		 (unsigned long long)s->core.st.probes_sent,
		 (unsigned long long)s->core.st.echoes_in,
		 (unsigned long long)s->core.st.reselections);
	teardown(s);
	free(s);
	return rc;
}
