/* The BCube server daemon's shell (`peregrine agent --scheme bcube`,
 * docs/bcube.md): bcube_send on NIC 0's egress and bcube_fwd on every
 * NIC's ingress, a packet socket per NIC for hellos, probes and replies,
 * the server's IP -> BCube address registered with the directory and the
 * data plane's misses resolved there, each NIC's capacity found and its
 * available bandwidth measured from its counters.  The decisions are
 * agent/bcube.c's. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <libmnl/libmnl.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include "agent/bcube.h"
#include "agent/config.h"
#include "bcube_fwd.skel.h"
#include "bcube_send.skel.h"
#include "bpf/loader.h"
#include "cmd/agent_bcube.h"
#include "dir/client_udp.h"
#include "lab/lab.h"
#include "lib/auth.h"
#include "lib/log.h"
#include "wire/pgr.h"

/* The directory holds a BCube server's IP -> address in this VDC (BCube
 * has no tenants); the address is in the entry's `server` field. */
#define BCUBE_DIR_VDC 1u

enum {
	AVAIL_MS = 100,		/* how often the NICs' counters are read */
};

struct bcube_shell {
	struct agent_config cfg;
	struct topo *topo;
	struct bcube_send *snd;
	struct bcube_fwd *fwd;
	struct ring_buffer *ring;
	struct dirc_udp *du;
	struct auth_key key;
	struct bca core;
	struct bca_out *out;	/* the core's output, one buffer for every event */
	uint32_t self, node, nlevels, ip;	/* ip: host order */
	char nic[BCUBE_MAX_LEVELS][IFNAMSIZ];
	uint32_t ifindex[BCUBE_MAX_LEVELS];
	bool created[BCUBE_MAX_LEVELS];
	int sock[BCUBE_MAX_LEVELS];
	uint64_t avail_at;
	int routes_fd, nbrs_fd, nics_fd;
};

static volatile sig_atomic_t stop;
static struct bcube_shell *the_shell;	/* for the directory's callbacks */

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void apply(struct bcube_shell *s, const struct bca_out *out);

static void on_reply(void *arg, uint64_t req_id, const struct dirp_msg *m)
{
	struct bcube_shell *s = the_shell;
	uint32_t ip = (uint32_t)(uintptr_t)arg;
	struct dirp_entry e;

	(void)req_id;
	s->out->n = 0;
	if (m && m->h.count >= 1) {
		dirp_get_entry(m, 0, &e);
		bca_on_resolved(&s->core, mono_ns(), ip, e.status == DIRP_OK, e.server, s->out);
	}
	apply(s, s->out);
}

static void send_frame(struct bcube_shell *s, const struct bca_act *a)
{
	if (a->level >= s->nlevels || s->sock[a->level] < 0)
		return;
	if (send(s->sock[a->level], a->frame, a->len, MSG_DONTWAIT) < 0 && errno != ENETDOWN &&
	    errno != EAGAIN)
		log_warn("%s: send: %s", s->nic[a->level], strerror(errno));
}

static void apply(struct bcube_shell *s, const struct bca_out *out)
{
	for (unsigned i = 0; i < out->n; i++) {
		const struct bca_act *a = &out->a[i];
		struct dirp_key dk = { BCUBE_DIR_VDC, ntohl(a->ip) };
		struct bcube_nbr nb = { .up = a->up };
		struct bcube_route r, old;
		uint32_t key;

		switch (a->kind) {
		case BCA_NBR:
			key = a->level * BCUBE_MAX_N + a->digit;
			memcpy(nb.mac, a->mac, 6);
			bpf_map_update_elem(s->nbrs_fd, &key, &nb, BPF_ANY);
			log_info("neighbour level %u digit %u %s", a->level, a->digit,
				 a->up ? "up" : "down");
			break;
		case BCA_ROUTE:
			/* the route's use goes on (a new route: in use from now) */
			r = a->route;
			if (bpf_map_lookup_elem(s->routes_fd, &a->ip, &old)) {
				r.used_ns = mono_ns();
			} else {
				r.used_ns = old.used_ns;
				r.flows = old.flows;	/* the next flow's path, in turn */
			}
			if (!a->route.npaths)
				bpf_map_delete_elem(s->routes_fd, &a->ip);
			else if (bpf_map_update_elem(s->routes_fd, &a->ip, &r, BPF_ANY))
				log_warn("route: %s", strerror(errno));
			else
				log_info("route to %08x: %u paths, first hops %02x %02x %02x %02x",
					 ntohl(a->ip), a->route.npaths, a->route.paths[0].nha[0],
					 a->route.paths[1].nha[0], a->route.paths[2].nha[0],
					 a->route.paths[3].nha[0]);
			break;
		case BCA_SEND:
			send_frame(s, a);
			break;
		case BCA_LOOKUP:
			if (dirc_request(dirc_udp_client(s->du), dir_now_sys(), DIRP_LOOKUP, &dk, 1,
					 on_reply, (void *)(uintptr_t)a->ip) < 0)
				log_warn("lookup: directory busy");
			break;
		}
	}
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct bcube_shell *s = ctx;
	const struct bcube_event *ev = data;

	if (size < sizeof(*ev))
		return 0;
	s->out->n = 0;
	bca_on_miss(&s->core, mono_ns(), ev->ip, s->out);
	apply(s, s->out);
	return 0;
}

/* Available bandwidth of each NIC (the core's: its capacity less what it
 * sent since the last reading, relayed frames included), into bcube_nics. */
static void measure(struct bcube_shell *s, uint64_t now)
{
	struct ifaddrs *ifa, *i;

	if (getifaddrs(&ifa))
		return;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_PACKET || !i->ifa_data)
			continue;
		for (uint32_t l = 0; l < s->nlevels; l++) {
			const struct rtnl_link_stats *st = i->ifa_data;
			struct bcube_nic nic;
			uint32_t avail;

			if (strcmp(i->ifa_name, s->nic[l]))
				continue;
			avail = bca_on_tx(&s->core, now, l, st->tx_bytes);
			if (bpf_map_lookup_elem(s->nics_fd, &l, &nic))
				continue;
			nic.avail_mbps = avail;
			bpf_map_update_elem(s->nics_fd, &l, &nic, BPF_ANY);
		}
	}
	freeifaddrs(ifa);
	s->avail_at = now;
}

/* ---- a NIC's capacity ------------------------------------------------------------ */
struct tbf_query {
	uint32_t ifindex;
	uint64_t bytes_per_s;	/* the root tbf's rate; 0: none */
};

static int tbf_opt_cb(const struct nlattr *a, void *data)
{
	struct tbf_query *q = data;
	const struct tc_tbf_qopt *p;

	if (mnl_attr_get_type(a) == TCA_TBF_PARMS &&
	    mnl_attr_get_payload_len(a) >= sizeof(*p)) {
		p = mnl_attr_get_payload(a);
		if (!q->bytes_per_s)	/* TCA_TBF_RATE64, if any, is exact */
			q->bytes_per_s = p->rate.rate;
	} else if (mnl_attr_get_type(a) == TCA_TBF_RATE64 &&
		   !mnl_attr_validate(a, MNL_TYPE_U64)) {
		q->bytes_per_s = mnl_attr_get_u64(a);
	}
	return MNL_CB_OK;
}

static int qdisc_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct tcmsg *tc = mnl_nlmsg_get_payload(nlh);
	struct tbf_query *q = data;
	const struct nlattr *a, *opts = NULL;
	bool tbf = false;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*tc)) || (uint32_t)tc->tcm_ifindex != q->ifindex ||
	    tc->tcm_parent != TC_H_ROOT)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*tc)) {
		if (mnl_attr_get_type(a) == TCA_KIND && !mnl_attr_validate(a, MNL_TYPE_STRING))
			tbf = !strcmp(mnl_attr_get_str(a), "tbf");
		else if (mnl_attr_get_type(a) == TCA_OPTIONS)
			opts = a;
	}
	if (tbf && opts)
		mnl_attr_parse_nested(opts, tbf_opt_cb, q);
	return MNL_CB_OK;
}

/* The rate of the tbf at the root of ifindex, in Mbit/s; 0: none. */
static uint32_t tbf_mbps(uint32_t ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct tbf_query q = { .ifindex = ifindex };
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct tcmsg *tc;
	uint32_t seq = (uint32_t)time(NULL), port;
	ssize_t n;
	int rc = MNL_CB_OK;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID))
		goto out;
	nlh->nlmsg_type = RTM_GETQDISC;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	tc = mnl_nlmsg_put_extra_header(nlh, sizeof(*tc));
	tc->tcm_family = AF_UNSPEC;
	tc->tcm_ifindex = (int)ifindex;
	port = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto out;
	while (rc > MNL_CB_STOP && (n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0)
		rc = mnl_cb_run(buf, (size_t)n, seq, port, qdisc_cb, &q);
out:
	if (nl)
		mnl_socket_close(nl);
	return (uint32_t)MIN(q.bytes_per_s * 8 / 1000000, (uint64_t)UINT32_MAX);
}

/* The speed the driver reports (/sys/class/net/NIC/speed), Mbit/s; 0:
 * none (-1 or unreadable). */
static uint32_t speed_mbps(const char *nic)
{
	char path[64];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/speed", nic);
	if ((f = fopen(path, "r"))) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v > 0 && v <= 1000000 ? (uint32_t)v : 0;
}

/* NIC l's capacity: the configuration's nic_mbps (the lab's links.mbps),
 * else the rate of a tbf at its root (what it can really send), else the
 * speed its driver reports, else the core's BCA_LINK_MBPS. */
static void capacities(struct bcube_shell *s)
{
	for (uint32_t l = 0; l < s->nlevels; l++) {
		const char *from = "configuration";
		uint32_t mbps = s->cfg.nic_mbps;

		if (!mbps && (mbps = tbf_mbps(s->ifindex[l])))
			from = "tbf";
		if (!mbps && (mbps = speed_mbps(s->nic[l])))
			from = "speed";
		if (!mbps)
			from = "default";
		bca_set_capacity(&s->core, l, mbps);
		log_info("%s: capacity %u Mbit/s (%s)", s->nic[l], s->core.cap[l], from);
	}
}

/* Which destinations are in use (bcube_send stamps their routes). */
static void read_use(struct bcube_shell *s, uint64_t now)
{
	for (uint32_t i = 0; i < BCA_DESTS; i++) {
		uint32_t ip = bca_dest_ip(&s->core, i);
		struct bcube_route r;

		if (ip && !bpf_map_lookup_elem(s->routes_fd, &ip, &r))
			bca_on_used(&s->core, now, ip, r.used_ns);
	}
}

static int nic_mac(const char *name, uint8_t mac[6])
{
	struct ifreq r = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc;

	if (fd < 0)
		return -1;
	snprintf(r.ifr_name, sizeof(r.ifr_name), "%s", name);
	rc = ioctl(fd, SIOCGIFHWADDR, &r);
	close(fd);
	if (!rc)
		memcpy(mac, r.ifr_hwaddr.sa_data, 6);
	return rc;
}

static int open_socket(uint32_t ifindex)
{
	struct sockaddr_ll a = { .sll_family = AF_PACKET, .sll_protocol = htons(BCUBE_ETH_P),
				 .sll_ifindex = (int)ifindex };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(BCUBE_ETH_P));

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void config(struct bcube_shell *s, struct bcube_config *c)
{
	memset(c, 0, sizeof(*c));
	c->self = htonl(s->self);
	c->self_ip = htonl(s->ip);
	c->net = htonl(LAB_BCUBE_NET);
	c->mask = htonl(~0u << (32 - LAB_BCUBE_PLEN));
	c->n = (uint8_t)s->topo->p.n;
	c->k = (uint8_t)s->topo->p.k;
	topo_bcube_digits(s->topo, s->self, c->digits);
}

/* Both programs, one table of NICs and neighbours, attached. */
static int attach(struct bcube_shell *s, uint8_t (*macs)[6])
{
	if (!(s->snd = bcube_send__open()) || !(s->fwd = bcube_fwd__open()))
		return -1;
	config(s, (struct bcube_config *)&s->snd->rodata->bcube_cfg);
	config(s, (struct bcube_config *)&s->fwd->rodata->bcube_cfg);
	if (bcube_send__load(s->snd) ||
	    bpf_map__reuse_fd(s->fwd->maps.bcube_nics, bpf_map__fd(s->snd->maps.bcube_nics)) ||
	    bpf_map__reuse_fd(s->fwd->maps.bcube_nbrs, bpf_map__fd(s->snd->maps.bcube_nbrs)) ||
	    bcube_fwd__load(s->fwd))
		return -1;
	s->routes_fd = bpf_map__fd(s->snd->maps.bcube_routes);
	s->nbrs_fd = bpf_map__fd(s->snd->maps.bcube_nbrs);
	s->nics_fd = bpf_map__fd(s->snd->maps.bcube_nics);
	for (uint32_t l = 0; l < s->nlevels; l++) {
		struct bcube_nic nic = { .ifindex = s->ifindex[l], .avail_mbps = s->core.cap[l] };
		int fwd = bpf_program__fd(s->fwd->progs.bcube_fwd), rc;

		memcpy(nic.mac, macs[l], 6);
		if (bpf_map_update_elem(s->nics_fd, &l, &nic, BPF_ANY))
			return -1;
		rc = l ? pgr_dp_tc_attach(fwd, s->ifindex[l], &s->created[l])
		       : pgr_dp_tc_attach_port(fwd, bpf_program__fd(s->snd->progs.bcube_send),
					       s->ifindex[l], &s->created[l]);
		if (rc) {
			log_err("%s: attach: %s", s->nic[l], strerror(-rc));
			s->ifindex[l] = 0;
			return -1;
		}
		if ((s->sock[l] = open_socket(s->ifindex[l])) < 0) {
			log_err("%s: packet socket: %s", s->nic[l], strerror(errno));
			return -1;
		}
	}
	s->ring = ring_buffer__new(bpf_map__fd(s->snd->maps.bcube_events), on_event, s, NULL);
	return s->ring ? 0 : -1;
}

/* NIC l is named as NIC 0 with its number l ("P-nic0" -> "P-nic1"). */
static int find_nics(struct bcube_shell *s, uint8_t (*macs)[6])
{
	size_t len = strlen(s->cfg.nic[0]);

	if (!s->cfg.nnics || !len || s->cfg.nic[0][len - 1] != '0') {
		log_err("NIC 0 '%s' does not end in 0", s->cfg.nic[0]);
		return -1;
	}
	for (uint32_t l = 0; l < s->nlevels; l++) {
		snprintf(s->nic[l], IFNAMSIZ, "%.*s%u", (int)(len - 1), s->cfg.nic[0], l);
		if (!(s->ifindex[l] = if_nametoindex(s->nic[l])) || nic_mac(s->nic[l], macs[l])) {
			log_err("NIC %s: %s", s->nic[l], strerror(errno));
			s->ifindex[l] = 0;
			return -1;
		}
	}
	return 0;
}

static int setup(struct bcube_shell *s, const char *config_path)
{
	struct dirc_cfg dc = { .key = &s->key };
	uint8_t macs[BCUBE_MAX_LEVELS][6];
	char err[512];
	int e;

	for (uint32_t l = 0; l < BCUBE_MAX_LEVELS; l++)
		s->sock[l] = -1;
	if (!(s->out = calloc(1, sizeof(*s->out))))
		abort();	/* out of memory in a daemon is fatal */
	if (agent_config_load_file(&s->cfg, config_path, err, sizeof(err)) ||
	    topo_from_spec(s->cfg.topology, &s->topo, err, sizeof(err)) ||
	    auth_key_load(s->cfg.key, &s->key, err, sizeof(err))) {
		log_err("%s", err);
		return -1;
	}
	if ((s->node = topo_find(s->topo, s->cfg.server)) == UINT32_MAX ||
	    lab_bcube_check(s->topo) || !topo_is_server(s->topo, s->node)) {
		log_err("%s: not a server of a BCube topology (%s)", s->cfg.server,
			s->cfg.topology);
		return -1;
	}
	s->self = s->topo->nodes[s->node].index;
	s->ip = lab_bcube_ip(s->self);
	s->nlevels = s->topo->p.k + 1;
	if (find_nics(s, macs))
		return -1;
	dc.seed = mono_ns() ^ ((uint64_t)getpid() << 32);
	if (!(s->du = dirc_udp_open(&s->cfg.directory, &dc, &e))) {
		log_err("directory socket: %s", strerror(-e));
		return -1;
	}
	bca_init(&s->core, s->topo, s->self, (const uint8_t (*)[6])macs);
	capacities(s);
	return attach(s, macs);
}

/* This server's IP -> its BCube address, in the directory.  The entry's
 * four MACs, which the directory requires distinct, are labels BCube does
 * not use: the server's two Peregrine MACs, and the same with bit 6 of
 * byte 3 flipped. */
static void register_self(struct bcube_shell *s)
{
	struct dirp_entry e = { .vdc = BCUBE_DIR_VDC, .ip = s->ip, .avail = 0x0f,
				.server = s->self };

	for (int t = 0; t < 4; t++) {
		pgr_mac_make(e.mac[t], pgr_id_of(s->cfg.node, (uint32_t)t & 1));
		if (t >= 2)
			e.mac[t][3] ^= 0x40;
	}
	if (dirc_request(dirc_udp_client(s->du), dir_now_sys(), DIRP_REGISTER, &e, 1, NULL,
			 NULL) < 0)
		log_warn("register: directory busy");
}

static void teardown(struct bcube_shell *s)
{
	for (uint32_t l = 0; l < BCUBE_MAX_LEVELS; l++) {
		if (s->ifindex[l] && s->snd)
			pgr_dp_tc_detach(s->ifindex[l], s->created[l]);
		if (s->sock[l] >= 0)
			close(s->sock[l]);
	}
	ring_buffer__free(s->ring);
	bcube_fwd__destroy(s->fwd);
	bcube_send__destroy(s->snd);
	if (s->du)
		dirc_udp_close(s->du);
	topo_free(s->topo);
	agent_config_free(&s->cfg);
	free(s->out);
}

static void read_frames(struct bcube_shell *s, uint32_t l, struct bca_out *out)
{
	uint8_t buf[256];
	ssize_t n;

	for (int i = 0; i < 64 && (n = recv(s->sock[l], buf, sizeof(buf), 0)) > 0; i++) {
		out->n = 0;
		bca_on_frame(&s->core, mono_ns(), l, buf, (size_t)n, out);
		apply(s, out);
	}
}

static int loop(struct bcube_shell *s)
{
	struct bca_out *out = s->out;
	struct pollfd p[2 + BCUBE_MAX_LEVELS];
	uint64_t next = 0;

	while (!stop) {
		uint64_t now = mono_ns(), due;
		int ms;

		if (now - s->avail_at >= AVAIL_MS * 1000000ull) {
			measure(s, now);
			read_use(s, now);
		}
		if (now >= next) {
			out->n = 0;
			next = bca_tick(&s->core, now, out);
			apply(s, out);
		}
		due = MIN(next, dirc_udp_tick(s->du));
		now = mono_ns();
		ms = due <= now ? 0 : (int)MIN((due - now) / 1000000 + 1, AVAIL_MS);
		p[0] = (struct pollfd){ ring_buffer__epoll_fd(s->ring), POLLIN, 0 };
		p[1] = (struct pollfd){ dirc_udp_fd(s->du), POLLIN, 0 };
		for (uint32_t l = 0; l < s->nlevels; l++)
			p[2 + l] = (struct pollfd){ s->sock[l], POLLIN, 0 };
		if (poll(p, 2 + s->nlevels, ms) < 0 && errno != EINTR)
			return 1;
		if (p[0].revents)
			ring_buffer__consume(s->ring);
		if (p[1].revents)
			dirc_udp_readable(s->du);
		for (uint32_t l = 0; l < s->nlevels; l++)
			if (p[2 + l].revents)
				read_frames(s, l, out);
	}
	return 0;
}

int agent_bcube_run(const char *config_path)
{
	struct bcube_shell *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return 1;
	the_shell = s;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (setup(s, config_path)) {
		teardown(s);
		free(s);
		return 1;
	}
	register_self(s);
	log_info("BCube server %s: address %u, IP %08x, %u NICs", s->cfg.server, s->self, s->ip,
		 s->nlevels);
	rc = loop(s);
	log_info("BCube server %s: %llu hellos, %llu probes, %llu replies in, %llu path changes, "
		 "%llu bad frames", s->cfg.server, (unsigned long long)s->core.st.hellos_in,
		 (unsigned long long)s->core.st.probes_in, (unsigned long long)s->core.st.replies_in,
		 (unsigned long long)s->core.st.path_changes,
		 (unsigned long long)s->core.st.bad_frames);
	teardown(s);
	free(s);
	return rc;
}
