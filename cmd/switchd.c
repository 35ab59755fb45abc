/* peregrine switchd: the shell around switchd/switchd.h.
 *
 * It owns three descriptors: the management UDP socket, a netlink socket for
 * commands (links and forwarding entries, request/ack) and a netlink socket
 * subscribed to RTNLGRP_LINK, so that a port going down reaches the core, and
 * the RAS, in the same loop iteration.  Ports are the bridge's members whose
 * name is PORT_PREFIX followed by the port number.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/daemon.h"
#include "cmd/switchd_term.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/parse.h"
#include "lib/udp.h"
#include "ras/ras.h"
#include "switchd/switchd.h"

enum swd_limits {
	SWD_NL_BUF = 64 * 1024,		/* one netlink batch */
	SWD_RCVBUF = 1 << 20,
	SWD_NL_CHUNK = 64,		/* netlink requests per sendmsg */
};

struct swd {
	struct sw *core;
	struct sw_out *out;
	struct daemon *dm;
	struct loop *loop;
	struct mnl_socket *cmd, *events;
	uint32_t cmd_seq;
	int udp;
	struct udp_batch *in, *tx;
	char bridge[IFNAMSIZ];
	char port_prefix[IFNAMSIZ];
	int bridge_ifindex;
	int32_t *port_ifindex;		/* port -> ifindex, 0 if absent */
	struct hmap ifindex_port;	/* ifindex -> port */
	bool flush;
	uint64_t nl_errors, resyncs;
	const char *term_path;		/* --term-file: NULL, not kept */
	uint64_t term_save_errors;
	uint8_t *nlbuf, *nlrecv;
	struct sw_nl_op *flush_ops;	/* start-up only */
	uint16_t nflush;
	struct log_rl rl;
	uint64_t restore_delay_ns;	/* --uplink-delay, for log lines */
};

static const char switchd_help[] =
	"Usage: peregrine switchd --listen ADDR:PORT --key FILE --bridge NAME\n"
	"                         --port-prefix STR [options]\n"
	"\n"
	"The switch-side daemon: installs the forwarding entries it is sent as\n"
	"static entries on a Linux bridge, refuses entries beyond its FIB capacity,\n"
	"and reports ports going up or down to the RAS within milliseconds.  The\n"
	"protocol is in docs/switchd-protocol.md.  Run it in the switch's network\n"
	"namespace; `peregrine lab up` does.\n"
	"\n"
	"Options:\n"
	"  --listen ADDR:PORT   management address to answer on\n"
	"  --key FILE           shared key (peregrine keygen)\n"
	"  --bridge NAME        the bridge that is this switch\n"
	"  --port-prefix STR    bridge members named STR<N> are port N\n"
	"  --id N               this switch's node id (sender of its messages); 0\n"
	"  --fib N              FIB capacity in entries; 65536\n"
	"  --ras ADDR:PORT      where to report link changes (none: not reported)\n"
	"  --ras-follow         several RAS processes, one leading (docs/ha.md): link\n"
	"                       reports go to the one that programmed this switch\n"
	"                       with the highest term; requests of an older term are\n"
	"                       refused (fencing)\n"
	"  --directory ADDR:PORT[,ADDR:PORT...] directory servers to tell, when a\n"
	"                       port goes down, that the server MACs this switch\n"
	"                       forwarded out of it are unavailable (agents then\n"
	"                       fail over without a RAS: docs/ha.md); default: none\n"
	"  --term-file FILE     keep the highest RAS term accepted in FILE (written\n"
	"                       before the request that raised it is acknowledged)\n"
	"                       and start from it, so that a restarted switchd\n"
	"                       still refuses a deposed leader (docs/ha.md); a\n"
	"                       FILE that holds no term stops the start\n"
	"  --flush              delete the bridge's static entries at start (a\n"
	"                       rebooted switch); default: adopt them\n"
	"  --uplinks N,N,...    the ports that lead to other switches.  When all\n"
	"                       of them are down, the other ports (to servers) are\n"
	"                       set down too, so that dual-homed servers see their\n"
	"                       NIC lose its link and leave by their other NIC;\n"
	"                       they come up again once an uplink has been up for\n"
	"                       --uplink-delay MS (default 1000: the time for the\n"
	"                       RAS to program this switch and the one beyond).\n"
	"                       Default: no tracking\n"
	"  --uplink-delay MS    see --uplinks; 1000\n"
	"  --name NAME          name in log lines\n"
	"  --log-level LEVEL    error, warn, info (default) or debug\n"
	DAEMON_HELP_METRICS
	"  -h, --help\n";

/* ---- netlink: links -------------------------------------------------------- */
static int port_of_name(const struct swd *d, const char *name)
{
	size_t n = strlen(d->port_prefix);
	uint32_t port;

	if (strncmp(name, d->port_prefix, n) || !parse_u32(name + n, SWP_MAX_PORT, &port))
		return -1;
	return (int)port;
}

struct link_info {
	int ifindex, master;
	unsigned flags;
	const char *name;
};

static int link_attr_cb(const struct nlattr *a, void *data)
{
	struct link_info *li = data;

	if (mnl_attr_get_type(a) == IFLA_IFNAME && !mnl_attr_validate(a, MNL_TYPE_STRING))
		li->name = mnl_attr_get_str(a);
	else if (mnl_attr_get_type(a) == IFLA_MASTER && !mnl_attr_validate(a, MNL_TYPE_U32))
		li->master = (int)mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static struct nlmsghdr *put_req(struct swd *d, void *buf, uint16_t type, uint16_t flags);

static void set_port(struct swd *d, int port, int ifindex, bool present, bool up)
{
	uint64_t now = mono_ns();

	if (present) {
		d->port_ifindex[port] = ifindex;
		hmap_put(&d->ifindex_port, (uint64_t)ifindex, (uint64_t)port);
	} else if (d->port_ifindex[port] == ifindex) {
		d->port_ifindex[port] = 0;
		hmap_del(&d->ifindex_port, (uint64_t)ifindex);
	} else {
		return;
	}
	{
		int before = sw_port_state(d->core, (uint16_t)port);

		sw_port(d->core, (uint16_t)port, present, up, now, d->out);
		if (sw_port_state(d->core, (uint16_t)port) != before)	/* peregrine monitor */
			daemon_event(d->dm, "link", "\"port\":%d,\"up\":%s", port,
				     sw_port_state(d->core, (uint16_t)port) == 1 ? "true" : "false");
	}
}

/* Set a port administratively up or down; 0 or -errno. */
static int port_admin(struct swd *d, int ifindex, bool up)
{
	struct nlmsghdr *nlh = put_req(d, d->nlbuf, RTM_NEWLINK, NLM_F_ACK);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	uint32_t seq = nlh->nlmsg_seq;

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	if (mnl_socket_sendto(d->cmd, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(d->cmd, d->nlrecv, SWD_NL_BUF);
		const struct nlmsghdr *m = (const struct nlmsghdr *)d->nlrecv;
		int len = (int)n;

		if (n < 0)
			return -errno;
		for (; mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len))
			if (m->nlmsg_seq == seq && m->nlmsg_type == NLMSG_ERROR)
				return ((const struct nlmsgerr *)mnl_nlmsg_get_payload(m))->error;
	}
}

/* Carry out the core's port up/down requests (uplink tracking, in the
 * core: switchd/switchd.h) and tell it what failed. */
static void apply_admin(struct swd *d)
{
	unsigned down = 0, up = 0;
	struct sw_out *o = d->out;

	for (uint16_t i = 0; i < o->nadmin; i++) {
		struct sw_admin_op *a = &o->admin[i];
		int ifx = d->port_ifindex[a->port];

		a->err = ifx ? port_admin(d, ifx, a->up) : -ENODEV;
		if (a->err)
			log_warn("uplink tracking: port %u %s: %s", a->port, a->up ? "up" : "down",
				 strerror(-a->err));
		else
			*(a->up ? &up : &down) += 1;
	}
	if (down) {
		log_warn("every uplink is down: %u server ports taken down", down);
		daemon_event(d->dm, "isolated", "\"server_ports_down\":%u", down);
	}
	if (up)
		daemon_event(d->dm, "rejoined", "\"server_ports_up\":%u", up);
	if (up)
		log_info("an uplink is back (for %.0f ms): %u server ports up again",
			 (double)d->restore_delay_ns / 1e6, up);
	sw_admin_done(d->core, o);
	o->nadmin = 0;
}

/* RTM_NEWLINK / RTM_DELLINK, from a dump or from the subscription. */
static void on_link_msg(struct swd *d, const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct link_info li = { .ifindex = ifi->ifi_index, .flags = ifi->ifi_flags };
	int port;

	if (ifi->ifi_family != AF_UNSPEC)
		return;		/* AF_BRIDGE port-state notes: not ours */
	mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, &li);
	if (!li.name)
		return;
	if (!strcmp(li.name, d->bridge)) {
		d->bridge_ifindex = nlh->nlmsg_type == RTM_DELLINK ? 0 : li.ifindex;
		return;
	}
	if ((port = port_of_name(d, li.name)) < 0)
		return;
	if (nlh->nlmsg_type == RTM_DELLINK ||
	    (d->bridge_ifindex && li.master != d->bridge_ifindex)) {
		set_port(d, port, li.ifindex, false, false);
		return;
	}
	set_port(d, port, li.ifindex, true,
		 (li.flags & IFF_UP) && (li.flags & IFF_LOWER_UP));
	if (!(li.flags & IFF_UP))	/* at start-up only (the core ignores it later) */
		sw_port_shut_found(d->core, (uint16_t)port);
}

/* ---- netlink: requests ----------------------------------------------------- */
static struct nlmsghdr *put_req(struct swd *d, void *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++d->cmd_seq;
	return nlh;
}

/* Run a dump and hand every message to cb. */
static int nl_dump(struct swd *d, uint16_t type, uint8_t family,
		   void (*cb)(struct swd *, const struct nlmsghdr *))
{
	struct nlmsghdr *nlh = put_req(d, d->nlbuf, type, NLM_F_DUMP);
	uint32_t seq = nlh->nlmsg_seq;

	if (type == RTM_GETNEIGH) {
		struct ndmsg *ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));

		ndm->ndm_family = family;
	} else {
		struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

		ifi->ifi_family = family;
	}
	if (mnl_socket_sendto(d->cmd, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(d->cmd, d->nlbuf, SWD_NL_BUF);
		const struct nlmsghdr *m = (const struct nlmsghdr *)d->nlbuf;
		int len = (int)n;

		if (n < 0)
			return -errno;
		for (; mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
			if (m->nlmsg_seq != seq)
				continue;
			if (m->nlmsg_type == NLMSG_DONE)
				return 0;
			if (m->nlmsg_type == NLMSG_ERROR)
				return -EIO;
			cb(d, m);
		}
	}
}

static void put_fdb(struct nlmsghdr *nlh, int ifindex, const uint8_t mac[6])
{
	struct ndmsg *ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));

	ndm->ndm_family = AF_BRIDGE;
	ndm->ndm_ifindex = ifindex;
	ndm->ndm_state = NUD_NOARP;	/* "static": forwards, never ages */
	ndm->ndm_flags = NTF_MASTER;
	mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
}

/* Send up to SWD_NL_CHUNK ops in one sendmsg, then collect their acks: the
 * kernel queues one ack per message, and a chunk's acks always fit the
 * socket's receive buffer (all 800 of a full request would not). */
static void nl_apply_chunk(struct swd *d, struct sw_nl_op *ops, uint16_t n)
{
	size_t off = 0;
	uint32_t base = d->cmd_seq + 1, got = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct nlmsghdr *nlh;
		int ifx = d->port_ifindex[ops[i].port];

		ops[i].err = -EIO;	/* until its ack says otherwise */
		nlh = put_req(d, d->nlbuf + off, ops[i].kind == SW_NL_ADD ? RTM_NEWNEIGH
			      : RTM_DELNEIGH, NLM_F_ACK | (ops[i].kind == SW_NL_ADD ?
			      NLM_F_CREATE | NLM_F_REPLACE : 0));
		put_fdb(nlh, ifx, ops[i].mac);
		off += NLMSG_ALIGN(nlh->nlmsg_len);
		assert(off + 128 < SWD_NL_BUF);
	}
	if (mnl_socket_sendto(d->cmd, d->nlbuf, off) < 0) {
		log_err("netlink: send: %s", strerror(errno));
		return;
	}
	while (got < n) {
		ssize_t r = mnl_socket_recvfrom(d->cmd, d->nlrecv, SWD_NL_BUF);
		const struct nlmsghdr *m = (const struct nlmsghdr *)d->nlrecv;
		int len = (int)r;

		if (r < 0) {
			log_err("netlink: %s", strerror(errno));
			return;
		}
		for (; mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);
			uint32_t i = m->nlmsg_seq - base;

			if (m->nlmsg_type != NLMSG_ERROR || i >= n)
				continue;
			ops[i].err = e->error;
			got++;
			if (e->error) {
				d->nl_errors++;
				log_rl_msg(&d->rl, mono_ns(), LOG_WARN, "kernel refused entry on port %u: %s",
					   ops[i].port, strerror(-e->error));
			}
		}
	}
}

static void nl_apply(struct swd *d, struct sw_nl_op *ops, uint16_t n)
{
	for (uint16_t off = 0; off < n; off += SWD_NL_CHUNK)
		nl_apply_chunk(d, ops + off, (uint16_t)MIN(n - off, SWD_NL_CHUNK));
}

/* ---- start-up: entries already on the bridge -------------------------------- */
static int fdb_attr_cb(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == NDA_LLADDR && mnl_attr_get_payload_len(a) == 6)
		*(const uint8_t **)data = mnl_attr_get_payload(a);
	return MNL_CB_OK;
}

static void on_fdb_msg(struct swd *d, const struct nlmsghdr *nlh)
{
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	const uint8_t *mac = NULL;
	uint64_t *port;

	if (nlh->nlmsg_type != RTM_NEWNEIGH || ndm->ndm_family != AF_BRIDGE ||
	    !(ndm->ndm_state & NUD_NOARP) || (ndm->ndm_state & NUD_PERMANENT))
		return;
	if (!(port = hmap_get(&d->ifindex_port, (uint64_t)ndm->ndm_ifindex)))
		return;
	mnl_attr_parse(nlh, sizeof(*ndm), fdb_attr_cb, &mac);
	if (!mac || !swp_mac_ok(mac))
		return;
	if (!d->flush) {
		sw_adopt(d->core, mac, (uint16_t)*port);
		return;
	}
	if (d->nflush < SWP_MAX_OPS) {
		d->flush_ops[d->nflush] = (struct sw_nl_op){ .kind = SW_NL_DEL,
							     .port = (uint16_t)*port };
		memcpy(d->flush_ops[d->nflush++].mac, mac, 6);
	}
}

static int load_fdb(struct swd *d)
{
	int err;

	d->flush_ops = xcalloc(SWP_MAX_OPS, sizeof(*d->flush_ops));
	do {	/* flush in batches of SWP_MAX_OPS until nothing is left */
		d->nflush = 0;
		if ((err = nl_dump(d, RTM_GETNEIGH, AF_BRIDGE, on_fdb_msg)))
			break;
		nl_apply(d, d->flush_ops, d->nflush);
	} while (d->flush && d->nflush == SWP_MAX_OPS);
	free(d->flush_ops);
	d->flush_ops = NULL;
	return err;
}

/* ---- I/O --------------------------------------------------------------------- */
static void send_out(struct swd *d)
{
	if (d->out->nadmin)
		apply_admin(d);
	for (int i = 0; i < d->out->ndg; i++) {
		struct sw_dgram *g = &d->out->dg[i];
		struct sockaddr_in to = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(g->to.ip),
					  .sin_port = htons(g->to.port) };
		uint8_t *b = udp_batch_add(d->tx, &to, g->len);

		if (!b) {
			udp_flush(d->udp, d->tx);
			b = udp_batch_add(d->tx, &to, g->len);
		}
		memcpy(b, g->buf, g->len);
	}
	if (d->tx->n)
		udp_flush(d->udp, d->tx);
	sw_out_reset(d->out);
}

/* A request raised the RAS term: on disk before its acknowledgement leaves
 * (send_out), so a restart cannot forget a term a RAS was told we took.  A
 * failure is logged and counted; the term still holds until a restart. */
static void save_term(struct swd *d)
{
	int rc;

	if (d->term_path && (rc = swd_term_save(d->term_path, d->out->save_term))) {
		d->term_save_errors++;
		log_rl_msg(&d->rl, mono_ns(), LOG_ERR, "cannot keep RAS term %" PRIu64 " in %s: %s",
		       d->out->save_term, d->term_path, strerror(-rc));
	}
	d->out->save_term = 0;
}

/* After inputs: the core may have a new deadline (lib/core.h). */
static void core_tick(struct swd *d)
{
	daemon_arm(d->dm, sw_tick(d->core, mono_ns(), d->out));
	send_out(d);
}

static void on_udp(void *arg, int fd)
{
	struct swd *d = arg;
	int n;

	while ((n = udp_recv_batch(fd, d->in)) > 0) {
		uint64_t now = mono_ns();

		for (int i = 0; i < n; i++) {
			struct sw_addr from = { ntohl(d->in->addrs[i].sin_addr.s_addr),
						ntohs(d->in->addrs[i].sin_port) };

			sw_input(d->core, from, d->in->bufs[i], d->in->msgs[i].msg_len, now, d->out);
			if (d->out->save_term)
				save_term(d);
			if (d->out->pending) {
				nl_apply(d, d->out->nl, d->out->nnl);
				sw_commit(d->core, d->out);
			}
			d->out->nnl = 0;
			/* replies go out in one sendmmsg per batch, unless the
			 * next input could find no room */
			if (d->out->ndg >= SW_OUT_DGRAMS - 1)
				send_out(d);
		}
		send_out(d);
	}
	core_tick(d);
}


static void resync_links(struct swd *d)
{
	d->resyncs++;
	if (nl_dump(d, RTM_GETLINK, AF_UNSPEC, on_link_msg))
		log_err("netlink: link dump failed");
}

static void on_events(void *arg, int fd)
{
	struct swd *d = arg;

	for (;;) {
		ssize_t n = recv(fd, d->nlrecv, SWD_NL_BUF, MSG_DONTWAIT);
		const struct nlmsghdr *m = (const struct nlmsghdr *)d->nlrecv;
		int len = (int)n;

		if (n < 0) {
			if (errno == ENOBUFS) {	/* missed events: read the truth */
				log_warn("netlink: event overrun, re-reading links");
				resync_links(d);
				continue;
			}
			break;
		}
		for (; mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len))
			if (m->nlmsg_type == RTM_NEWLINK || m->nlmsg_type == RTM_DELLINK)
				on_link_msg(d, m);
	}
	send_out(d);
	core_tick(d);
}

static uint64_t on_tick(void *arg, uint64_t now)
{
	struct swd *d = arg;
	uint64_t next = sw_tick(d->core, now, d->out);

	send_out(d);
	return next;
}

static void log_stats(const struct swd *d)
{
	const struct sw_stats *st = sw_stats(d->core);

	log_info("fib %u/%u; %llu requests (%llu duplicates), %llu ops ok, %llu full, "
		 "%llu dumps; %llu link reports (%llu retransmitted, %llu given up); "
		 "%llu kernel errors", sw_fib_used(d->core), sw_fib_cap(d->core),
		 (unsigned long long)st->requests, (unsigned long long)st->duplicates,
		 (unsigned long long)st->ops_ok, (unsigned long long)st->ops_refused[SWP_FULL],
		 (unsigned long long)st->dumps, (unsigned long long)st->link_reports,
		 (unsigned long long)st->link_retransmits,
		 (unsigned long long)st->link_given_up, (unsigned long long)d->nl_errors);
	if (st->fenced)
		log_info("refused %llu requests of a RAS no longer leading (fenced)",
			 (unsigned long long)st->fenced);
	if (st->entries_lost)
		log_info("%llu entries went with ports that vanished",
			 (unsigned long long)st->entries_lost);
	for (int r = 1; r < SW_DROP_COUNT; r++)
		if (st->drops[r])
			log_info("dropped %llu datagrams: %s", (unsigned long long)st->drops[r],
				 sw_drop_name(r));
}

/* ---- set-up ------------------------------------------------------------------- */
struct swd_opts {
	const char *listen, *key, *bridge, *prefix, *ras, *uplinks, *dirs, *term_file;
	uint32_t id, fib, uplink_delay_ms;
	bool flush, ras_follow;
};

static int parse_opts(int argc, char **argv, struct swd_opts *o, struct daemon *dm)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "key", required_argument, NULL, 'k' },
		{ "bridge", required_argument, NULL, 'b' },
		{ "port-prefix", required_argument, NULL, 'p' },
		{ "id", required_argument, NULL, 'i' },
		{ "fib", required_argument, NULL, 'f' },
		{ "ras", required_argument, NULL, 'r' },
		{ "flush", no_argument, NULL, 'F' },
		{ "uplinks", required_argument, NULL, 'u' },
		{ "uplink-delay", required_argument, NULL, 'D' },
		{ "ras-follow", no_argument, NULL, 'R' },
		{ "directory", required_argument, NULL, 'd' },
		{ "term-file", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		DAEMON_OPTIONS,
		{ 0 }
	};
	int c;

	*o = (struct swd_opts){ .fib = 65536, .uplink_delay_ms = 1000 };
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l': o->listen = optarg; break;
		case 'k': o->key = optarg; break;
		case 'b': o->bridge = optarg; break;
		case 'p': o->prefix = optarg; break;
		case 'r': o->ras = optarg; break;
		case 'F': o->flush = true; break;
		case 'R': o->ras_follow = true; break;
		case 'd': o->dirs = optarg; break;
		case 'T': o->term_file = optarg; break;
		case 'u': o->uplinks = optarg; break;
		case 'D':
			if (!parse_u32(optarg, 600000, &o->uplink_delay_ms))
				return cli_usage_error("switchd", "--uplink-delay: '%s' is not a number "
						       "of ms (0-600000)", optarg);
			break;
		case 'i':
			if (!parse_u32(optarg, UINT32_MAX, &o->id))
				return cli_usage_error("switchd", "--id: '%s' is not a number", optarg);
			break;
		case 'f':
			if (!parse_u32(optarg, UINT32_MAX, &o->fib))
				return cli_usage_error("switchd", "--fib: '%s' is not a number", optarg);
			break;
		case 'h': fputs(switchd_help, stdout); return -1;
		default: {
			int rc = daemon_opt(dm, c, optarg);

			if (rc != 1)
				return rc;
		}
		}
	}
	if (optind != argc)
		return cli_usage_error("switchd", "unexpected argument '%s'", argv[optind]);
	if (!o->listen || !o->key || !o->bridge || !o->prefix)
		return cli_usage_error("switchd", "--listen, --key, --bridge and --port-prefix are required");
	if (strlen(o->bridge) >= IFNAMSIZ || strlen(o->prefix) >= IFNAMSIZ || !*o->prefix)
		return cli_usage_error("switchd", "interface names are at most %d characters",
				       IFNAMSIZ - 1);
	return 0;
}

static int open_netlink(struct swd *d)
{
	int one = 1;

	d->cmd = mnl_socket_open(NETLINK_ROUTE);
	d->events = mnl_socket_open(NETLINK_ROUTE);
	if (!d->cmd || !d->events || mnl_socket_bind(d->cmd, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_bind(d->events, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	/* Short acks: the kernel need not echo each request back. */
	mnl_socket_setsockopt(d->cmd, NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(d->cmd, NETLINK_EXT_ACK, &one, sizeof(one));
	return 0;
}

/* --uplinks 0,1,5: port numbers. */
static int parse_uplinks(struct swd *d, const char *list)
{
	char buf[1024], *save, *tok;
	unsigned n = 0;

	if (strlen(list) >= sizeof(buf))
		return cli_usage_error("switchd", "--uplinks: list too long");
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint32_t p;

		if (!parse_u32(tok, SWP_MAX_PORT, &p))
			return cli_usage_error("switchd", "--uplinks: '%s' is not a port number "
					       "(0-%u)", tok, (unsigned)SWP_MAX_PORT);
		sw_uplink(d->core, (uint16_t)p);
		n++;
	}
	if (!n)
		return cli_usage_error("switchd", "--uplinks: no port given");
	return 0;
}

/* --directory A:P,B:P: the directory servers the witness's notice goes to. */
static int parse_dirs(const char *list, struct sw_config *c)
{
	char buf[1024], err[256], *save, *tok;

	if (strlen(list) >= sizeof(buf))
		return cli_usage_error("switchd", "--directory: list too long");
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct sockaddr_in a;

		if (c->ndirs == SW_MAX_DIRS)
			return cli_usage_error("switchd", "--directory: at most %d servers",
					       SW_MAX_DIRS);
		if (udp_parse_addr(tok, &a, err, sizeof(err)))
			return cli_usage_error("switchd", "--directory: %s", err);
		c->dirs[c->ndirs++] = (struct sw_addr){ ntohl(a.sin_addr.s_addr),
							ntohs(a.sin_port) };
	}
	if (!c->ndirs)
		return cli_usage_error("switchd", "--directory: no server given");
	return 0;
}

static int setup(struct swd *d, const struct swd_opts *o)
{
	struct sw_config c = { .id = o->id, .fib_cap = o->fib, .seq_base = wall_ns(),
			       .uplink_delay_ns = (uint64_t)o->uplink_delay_ms * 1000000ull };
	struct sockaddr_in la, ra;
	char err[256];
	int e;

	if (udp_parse_addr(o->listen, &la, err, sizeof(err)) ||
	    (o->ras && udp_parse_addr(o->ras, &ra, err, sizeof(err))) ||
	    auth_key_load(o->key, &c.key, err, sizeof(err)))
		return cli_error("switchd: %s", err);
	c.ras_follows_leader = o->ras_follow;
	c.ras_id = RAS_SENDER_ID;
	if (o->term_file) {
		if (swd_term_load(o->term_file, &c.ras_term, err, sizeof(err)))
			return cli_error("switchd: %s", err);
		d->term_path = o->term_file;
		log_info("highest RAS term accepted so far: %" PRIu64 " (%s)", c.ras_term,
			 o->term_file);
	}
	if (o->dirs && parse_dirs(o->dirs, &c))
		return 1;
	c.wall_offset_ms = (int64_t)(wall_ns() / 1000000) - (int64_t)(mono_ns() / 1000000);
	if (o->ras) {
		c.has_ras = true;
		c.ras = (struct sw_addr){ ntohl(ra.sin_addr.s_addr), ntohs(ra.sin_port) };
	}
	snprintf(d->bridge, sizeof(d->bridge), "%s", o->bridge);
	snprintf(d->port_prefix, sizeof(d->port_prefix), "%s", o->prefix);
	d->flush = o->flush;
	d->core = sw_new(&c);
	d->out = xcalloc(1, sizeof(*d->out));
	d->in = xmalloc(sizeof(*d->in));
	d->tx = xmalloc(sizeof(*d->tx));
	udp_batch_init(d->in);
	udp_batch_init(d->tx);
	d->nlbuf = xmalloc(SWD_NL_BUF);
	d->nlrecv = xmalloc(SWD_NL_BUF);
	d->port_ifindex = xcalloc(SW_MAX_PORTS, sizeof(*d->port_ifindex));
	if (o->uplinks && parse_uplinks(d, o->uplinks))
		return 1;
	d->restore_delay_ns = c.uplink_delay_ns;
	hmap_init(&d->ifindex_port, 64, c.seq_base);
	d->rl = (struct log_rl)LOG_RL_INIT(1000, 10);
	if ((e = open_netlink(d)))
		return cli_error("switchd: netlink: %s", strerror(-e));
	/* Twice: the bridge's ifindex is known only after the first pass. */
	if (nl_dump(d, RTM_GETLINK, AF_UNSPEC, on_link_msg) ||
	    nl_dump(d, RTM_GETLINK, AF_UNSPEC, on_link_msg))
		return cli_error("switchd: netlink: cannot list links");
	if (!d->bridge_ifindex)
		return cli_error("switchd: no bridge '%s' here", d->bridge);
	if (load_fdb(d))
		return cli_error("switchd: netlink: cannot list forwarding entries");
	sw_out_reset(d->out);	/* nothing to report about the first sighting */
	sw_start(d->core, mono_ns(), d->out);	/* started cut off: server ports go down */
	apply_admin(d);
	if ((d->udp = udp_open(&la, SWD_RCVBUF)) < 0)
		return cli_error("switchd: %s: %s", o->listen, strerror(-d->udp));
	return 0;
}

static void teardown(struct swd *d)
{
	/* Ports the tracking took down come back up: nobody would know to
	 * raise them once this daemon is gone. */
	if (d->cmd && d->core && d->out && d->port_ifindex) {
		bool done;
		uint16_t n;

		do {
			sw_out_reset(d->out);
			done = sw_release(d->core, d->out);
			n = d->out->nadmin;
			apply_admin(d);
		} while (!done && n);
	}
	if (d->udp > 0)
		close(d->udp);
	if (d->cmd)
		mnl_socket_close(d->cmd);
	if (d->events)
		mnl_socket_close(d->events);
	daemon_free(d->dm);
	sw_free(d->core);
	hmap_free(&d->ifindex_port);
	free(d->port_ifindex);
	free(d->nlbuf);
	free(d->nlrecv);
	free(d->in);
	free(d->tx);
	free(d->out);
}

/* The core's counters as Prometheus metrics (docs/metrics.md). */
static void render_metrics(void *arg, struct metrics_text *t)
{
	static const struct { const char *name, *help; size_t off; } counters[] = {
#define SWD_C(f, h) { "peregrine_switchd_" #f "_total", h, offsetof(struct sw_stats, f) }
		SWD_C(requests, "requests from the RAS or swctl"),
		SWD_C(duplicates, "retransmitted requests answered again"),
		SWD_C(dumps, "table dumps"),
		SWD_C(ops_ok, "forwarding entry operations applied"),
		SWD_C(link_reports, "link reports sent to the RAS"),
		SWD_C(link_retransmits, "link reports retransmitted"),
		SWD_C(link_given_up, "link reports never acknowledged"),
		SWD_C(entries_lost, "entries dropped with a port that vanished"),
		SWD_C(isolations, "every uplink went down: server ports shut"),
		SWD_C(restores, "an uplink came back: server ports raised"),
		SWD_C(ports_shut, "server ports shut by uplink tracking"),
		SWD_C(ports_raised, "server ports raised by uplink tracking"),
		SWD_C(shut_found, "server ports found administratively down at start (a crashed switchd's)"),
		SWD_C(admin_errors, "port state changes the kernel refused"),
		SWD_C(fenced, "FIB_OPS refused: from a RAS whose leadership ended (docs/ha.md)"),
		SWD_C(leader_changes, "link reports moved to a new leading RAS"),
		SWD_C(notices, "port-down notices to the directory (docs/ha.md)"),
		SWD_C(notice_macs, "server MACs the notices marked unavailable"),
		SWD_C(notices_sent, "notice datagrams sent (per server and try)"),
		SWD_C(notice_retransmits, "notices sent again"),
		SWD_C(notice_replies, "notices answered by a directory server"),
		SWD_C(notice_ras_acked, "notices stopped: a RAS took the link report"),
		SWD_C(notice_unanswered, "notices some directory server never answered"),
		SWD_C(notice_late_replies, "directory answers to no pending notice"),
		SWD_C(notice_bad_replies, "datagrams from a directory server that are no answer"),
#undef SWD_C
	};
	const struct swd *d = arg;
	const struct sw_stats *st = sw_stats(d->core);
	char reason[64];

	for (int i = 0; i < SW_DROP_COUNT; i++) {
		metrics_name_part(sw_drop_name(i), reason, sizeof(reason));
		metrics_sample(t, METRICS_COUNTER, "peregrine_switchd_drops_total",
			       "datagrams dropped, by reason", (double)st->drops[i], "reason",
			       reason, NULL);
	}
	for (size_t i = 0; i < ARRAY_SIZE(counters); i++)
		metrics_sample(t, METRICS_COUNTER, counters[i].name, counters[i].help,
			       (double)*(const uint64_t *)(const void *)((const char *)st +
									 counters[i].off),
			       NULL);
	metrics_sample(t, METRICS_COUNTER, "peregrine_switchd_term_save_errors_total",
		       "RAS terms that could not be written to --term-file",
		       (double)d->term_save_errors, NULL);
	metrics_sample(t, METRICS_GAUGE, "peregrine_switchd_ras_term",
		       "highest RAS term accepted (docs/ha.md)", (double)sw_ras_term(d->core), NULL);
	metrics_sample(t, METRICS_GAUGE, "peregrine_switchd_fib_entries",
		       "forwarding entries the switch holds", sw_fib_used(d->core), NULL);
	metrics_sample(t, METRICS_GAUGE, "peregrine_switchd_fib_capacity",
		       "forwarding entries the switch can hold", sw_fib_cap(d->core), NULL);
}

int cmd_switchd(int argc, char **argv)
{
	struct daemon dm;
	struct swd d = { .udp = -1, .dm = &dm };
	struct swd_opts o;
	int rc, ports = 0;

	daemon_init(&dm, "switchd");
	if ((rc = parse_opts(argc, argv, &o, &dm)))
		return rc < 0 ? 0 : rc;
	daemon_start(&dm);
	d.loop = dm.loop;
	if ((rc = setup(&d, &o))) {
		teardown(&d);
		return rc;
	}
	for (uint32_t p = 0; p < SW_MAX_PORTS; p++)
		ports += d.port_ifindex[p] != 0;
	loop_io_add(d.loop, d.udp, on_udp, &d);
	loop_io_add(d.loop, mnl_socket_get_fd(d.events), on_events, &d);
	daemon_core_timer(&dm, on_tick, &d);
	if ((rc = daemon_metrics(&dm, render_metrics, &d))) {
		teardown(&d);
		return rc;
	}
	log_info("listening on %s, bridge %s, %d ports, fib %u/%u%s%s", o.listen, d.bridge,
		 ports, sw_fib_used(d.core), o.fib, o.ras ? ", reporting to " : "",
		 o.ras ? o.ras : "");
	daemon_run(&dm);
	log_stats(&d);
	log_info("stopped");
	teardown(&d);
	return 0;
}
