/* The VL2 agent's shell (`peregrine agent --scheme vl2`, docs/vl2.md): the
 * encapsulation on every VM port, the VMs registered with the directory
 * (key (tenant, AA), value the LA of this server's ToR), and the misses the
 * data plane reports resolved through the directory into its cache.  The
 * decisions are agent/vl2.c's. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/config.h"
#include "agent/vl2.h"
#include "bpf/loader.h"
#include "bpf/vl2.h"
#include "cmd/agent_vl2.h"
#include "dir/client_udp.h"
#include "lab/lab.h"
#include "lib/auth.h"
#include "lib/log.h"
#include "vl2_encap.skel.h"

struct vl2_shell {
	struct agent_config cfg;
	struct topo *topo;
	struct vl2_encap *skel;
	struct ring_buffer *ring;
	struct dirc_udp *du;
	struct vl2a core;
	struct auth_key key;
	uint32_t self_la, tor_la;	/* host order */
	int aa_fd;
};

static volatile sig_atomic_t stop, reload;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else
		stop = 1;
}

static void apply(struct vl2_shell *s, const struct vl2a_out *out);

static void on_reply(void *arg, uint64_t req_id, const struct dirp_msg *m)
{
	struct vl2_shell *s = arg;
	struct vl2a_out out = { 0 };

	(void)req_id;
	if (!m)
		return;		/* the miss comes again and is asked again */
	for (unsigned i = 0; i < m->h.count; i++) {
		struct dirp_entry e;

		dirp_get_entry(m, i, &e);
		vl2a_on_entry(&s->core, mono_ns(), &e, false, &out);
	}
	apply(s, &out);
}

static void on_push(void *arg, uint8_t type, const struct dirp_entry *e)
{
	struct vl2_shell *s = arg;
	struct vl2a_out out = { 0 };
	struct vl2_aa_key k = { e->vdc, htonl(e->ip) };
	struct vl2_aa_entry v;

	/* only what this server holds: a push for an entry it never cached
	 * is acknowledged and nothing more */
	if (bpf_map_lookup_elem(s->aa_fd, &k, &v))
		return;
	vl2a_on_entry(&s->core, mono_ns(), e, type == DIRP_INVALIDATE, &out);
	apply(s, &out);
}

static void apply(struct vl2_shell *s, const struct vl2a_out *out)
{
	for (unsigned i = 0; i < out->n; i++) {
		const struct vl2a_act *a = &out->a[i];
		struct vl2_aa_key k = { a->vdc, a->aa };
		struct vl2_aa_entry v = { a->tor_la, a->version };
		struct dirp_key dk = { a->vdc, ntohl(a->aa) };

		switch (a->kind) {
		case VL2A_LOOKUP:
			if (dirc_request(dirc_udp_client(s->du), dir_now_sys(), DIRP_LOOKUP, &dk,
					 1, on_reply, s) < 0)
				vl2a_on_timeout(&s->core, a->vdc, a->aa);
			break;
		case VL2A_SET:
			if (bpf_map_update_elem(s->aa_fd, &k, &v, BPF_ANY))
				log_warn("cache: %s", strerror(errno));
			break;
		case VL2A_DEL:
			bpf_map_delete_elem(s->aa_fd, &k);
			break;
		}
	}
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct vl2_shell *s = ctx;
	const struct vl2_event *ev = data;
	struct vl2a_out out = { 0 };

	if (size < sizeof(*ev))
		return 0;
	vl2a_on_miss(&s->core, mono_ns(), ev->vdc, ev->aa, &out);
	apply(s, &out);
	return 0;
}

/* A VM into the directory: (tenant, AA) -> this server's ToR LA.  On a
 * migration this is VL2's AA -> LA update: the directory pushes the new
 * entry to every agent that holds the old one. */
static void register_vm(struct vl2_shell *s, const struct agent_vm_cfg *vm)
{
	struct dirp_entry e = { .vdc = vm->vdc, .ip = vm->ip, .avail = 0x0f,
				.server = s->tor_la };

	for (int t = 0; t < 2; t++) {
		pgr_mac_make(e.mac[t], pgr_id_of(vm->node, (uint32_t)t));
		pgr_mac_make(e.mac[2 + t], pgr_id_of(s->cfg.node, (uint32_t)t));
	}
	if (dirc_request(dirc_udp_client(s->du), dir_now_sys(), DIRP_REGISTER, &e, 1, NULL,
			 NULL) < 0)
		log_warn("register %s: directory busy", vm->name);
}

static void register_vms(struct vl2_shell *s)
{
	for (unsigned i = 0; i < s->cfg.nvms; i++)
		register_vm(s, &s->cfg.vms[i]);
}

/* The encapsulation on a VM's port, its tenant and AA in vl2_ports. */
static int attach_vm(struct vl2_shell *s, const struct agent_vm_cfg *vm)
{
	int ports = bpf_map__fd(s->skel->maps.vl2_ports);
	uint32_t ifindex = if_nametoindex(vm->port);
	struct vl2_port p = { vm->vdc, htonl(vm->ip) };
	bool created;

	if (!ifindex || bpf_map_update_elem(ports, &ifindex, &p, BPF_ANY) ||
	    pgr_dp_tc_attach(bpf_program__fd(s->skel->progs.vl2_encap), ifindex, &created)) {
		log_err("VM %s: port %s: %s", vm->name, vm->port, strerror(errno));
		return -1;
	}
	return 0;
}

static const struct agent_vm_cfg *find_vm(const struct agent_config *c, const char *name)
{
	for (unsigned i = 0; i < c->nvms; i++)
		if (!strcmp(c->vms[i].name, name))
			return &c->vms[i];
	return NULL;
}

/* SIGHUP: the configuration again.  A VM that arrived is attached and
 * registered (with this server's ToR LA); one that left is forgotten here
 * (its port left with it) but not unregistered: its new server registers
 * it, and an UNREGISTER from here could arrive after that. */
static void reconfigure(struct vl2_shell *s, const char *config)
{
	int ports = bpf_map__fd(s->skel->maps.vl2_ports);
	struct agent_config next;
	char err[512];

	if (agent_config_load_file(&next, config, err, sizeof(err))) {
		log_err("SIGHUP: %s; keeping the running configuration", err);
		return;
	}
	for (unsigned i = 0; i < s->cfg.nvms; i++) {
		const struct agent_vm_cfg *vm = &s->cfg.vms[i];

		if (!find_vm(&next, vm->name)) {
			uint32_t ifindex = if_nametoindex(vm->port);

			if (ifindex)
				bpf_map_delete_elem(ports, &ifindex);
			log_info("VM %s left", vm->name);
		}
	}
	for (unsigned i = 0; i < next.nvms; i++) {
		const struct agent_vm_cfg *vm = &next.vms[i];

		if (find_vm(&s->cfg, vm->name))
			continue;
		if (!attach_vm(s, vm)) {
			register_vm(s, vm);
			log_info("VM %s arrived: registered at ToR LA %08x", vm->name, s->tor_la);
		}
	}
	agent_config_free(&s->cfg);
	s->cfg = next;
}

static int attach(struct vl2_shell *s)
{
	static const uint8_t gw[6] = VL2_GW_MAC;
	uint32_t nic = if_nametoindex(s->cfg.nic[0]);

	if (!nic) {
		log_err("NIC %s: %s", s->cfg.nic[0], strerror(errno));
		return -1;
	}
	if (!(s->skel = vl2_encap__open()))
		return -1;
	s->skel->rodata->vl2_cfg.self_la = htonl(s->self_la);
	s->skel->rodata->vl2_cfg.anycast = htonl(LAB_VL2_ANYCAST);
	s->skel->rodata->vl2_cfg.nic_ifindex = nic;
	memcpy((void *)s->skel->rodata->vl2_cfg.gw_mac, gw, 6);
	if (vl2_encap__load(s->skel))
		return -1;
	s->aa_fd = bpf_map__fd(s->skel->maps.vl2_aa);
	for (unsigned i = 0; i < s->cfg.nvms; i++)
		if (attach_vm(s, &s->cfg.vms[i]))
			return -1;
	s->ring = ring_buffer__new(bpf_map__fd(s->skel->maps.vl2_events), on_event, s, NULL);
	return s->ring ? 0 : -1;
}

static int setup(struct vl2_shell *s, const char *config)
{
	struct dirc_cfg dc = { .key = &s->key, .on_push = on_push, .push_arg = s };
	char err[512];
	uint32_t node;
	int e;

	if (agent_config_load_file(&s->cfg, config, err, sizeof(err)) ||
	    topo_from_spec(s->cfg.topology, &s->topo, err, sizeof(err)) ||
	    auth_key_load(s->cfg.key, &s->key, err, sizeof(err))) {
		log_err("%s", err);
		return -1;
	}
	if ((node = topo_find(s->topo, s->cfg.server)) == UINT32_MAX ||
	    lab_vl2_check(s->topo)) {
		log_err("%s: not a server of a VL2 topology (%s)", s->cfg.server, s->cfg.topology);
		return -1;
	}
	s->self_la = lab_vl2_server_la(s->topo, node);
	s->tor_la = lab_vl2_switch_la(lab_vl2_tor(s->topo, node));
	dc.seed = mono_ns() ^ ((uint64_t)getpid() << 32);
	if (!(s->du = dirc_udp_open(&s->cfg.directory, &dc, &e))) {
		log_err("directory socket: %s", strerror(-e));
		return -1;
	}
	vl2a_init(&s->core);
	return attach(s);
}

static void teardown(struct vl2_shell *s)
{
	for (unsigned i = 0; i < s->cfg.nvms; i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)if_nametoindex(s->cfg.vms[i].port),
			    .attach_point = BPF_TC_INGRESS);

		if (hook.ifindex)
			bpf_tc_hook_destroy(&hook);
	}
	ring_buffer__free(s->ring);
	vl2_encap__destroy(s->skel);
	if (s->du)
		dirc_udp_close(s->du);
	topo_free(s->topo);
	agent_config_free(&s->cfg);
}

int agent_vl2_run(const char *config)
{
	struct vl2_shell *s = calloc(1, sizeof(*s));
	int rc = 0;

	if (!s)
		return 1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, on_signal);
	if (setup(s, config)) {
		teardown(s);
		free(s);
		return 1;
	}
	register_vms(s);
	log_info("VL2 agent of %s: LA %08x, ToR LA %08x, %u VMs", s->cfg.server, s->self_la,
		 s->tor_la, s->cfg.nvms);
	uint64_t renew_at = 0;

	while (!stop) {
		if (mono_ns() >= renew_at) {
			struct vl2a_out out = { 0 };

			vl2a_tick(&s->core, mono_ns(), &out);
			apply(s, &out);
			renew_at = mono_ns() + 1000000000ull;	/* a scan a second */
		}
		struct pollfd p[2] = { { ring_buffer__epoll_fd(s->ring), POLLIN, 0 },
				       { dirc_udp_fd(s->du), POLLIN, 0 } };
		uint64_t due = dirc_udp_tick(s->du), now = mono_ns();
		int ms = due == UINT64_MAX ? 1000 : due <= now ? 0 : (int)MIN((due - now) / 1000000 + 1, 1000);

		if (poll(p, 2, ms) < 0 && errno != EINTR) {
			rc = 1;
			break;
		}
		if (p[0].revents)
			ring_buffer__consume(s->ring);
		if (p[1].revents)
			dirc_udp_readable(s->du);
		if (reload) {
			reload = 0;
			reconfigure(s, config);
		}
	}
	teardown(s);
	free(s);
	return rc;
}
