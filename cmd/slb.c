/* peregrine slb: the server load balancer's shell (docs/slb.md).
 *
 *   slb check FILE [--json]        read VC definitions; refuse with file, line, field
 *   slb run --config FILE --node N --nic IF [--netns NS] [--listen A:P]
 *           [--key FILE] [--status FILE] [--conns N] [--xdp-generic]
 *                                  load the XDP program on IF, run the core
 *   slb status --status FILE [--json]
 *   slb send --to A:P [--to A:P...] --key FILE (health|load|drain) --vdc N --ip IP [--a N] [--b N]
 *                                  one control message (tests, operators)
 *
 * The shell does the I/O only: it applies the core's actions to the BPF
 * maps, turns control messages into the core's events, keeps the core's
 * deadline, and writes a status file. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf/slb_loader.h"
#include "cmd/cli.h"
#include "lib/auth.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/parse.h"
#include "lib/udp.h"
#include "slb/slb.h"
#include "slb/vc.h"
#include "wire/rasproto.h"
#include "wire/slbproto.h"

enum slbd_limits {
	SLBD_STATUS_MS = 500,		/* status file refresh */
	SLBD_SOCKBUF = 1 << 20,
	SLBD_LOG_BURST = 10,		/* log lines per second a peer can cause */
};

struct slbd {
	struct slb_core *core;
	struct pgr_slb_dp *dp;
	struct loop *loop;
	struct loop_timer *timer, *stimer;
	struct slb_out out;
	struct auth_key key;
	struct rasp_replay *replay;
	int fd;
	const char *status_path;
	uint64_t msg_err[SLBP_E_COUNT], msg_ok, msg_unknown, msg_replay, apply_err;
	struct log_rl rl;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: peregrine slb check FILE [--json]\n"
		"       peregrine slb run --config FILE --node N --nic IF [--netns NS]\n"
		"                         [--listen ADDR:PORT] [--key FILE] [--status FILE] [--conns N]\n"
		"                         [--xdp-generic]\n"
		"       peregrine slb status --status FILE [--json]\n"
		"       peregrine slb send --to ADDR:PORT [--to ...] --key FILE health|load|drain\n"
		"                          --vdc N --ip IP [--a N] [--b N]\n\n"
		"The server load balancer of Internet-facing virtual clusters: Maglev\n"
		"tables and a connection table in XDP, direct server return through the\n"
		"fabric, health, draining and weights from load (docs/slb.md).\n");
}

/* ---- check ------------------------------------------------------------------ */

static void ip_str(uint32_t ip, char *buf)
{
	inet_ntop(AF_INET, &ip, buf, INET_ADDRSTRLEN);
}

static int check(const char *path, bool json)
{
	struct slb_config c;
	char err[600], ip[INET_ADDRSTRLEN];
	json_t *j, *vcs;

	if (slb_config_load_file(&c, path, err, sizeof(err)))
		return cli_error("slb: %s", err);
	j = json_object();
	vcs = json_array();
	for (unsigned i = 0; i < c.nvcs; i++) {
		const struct slb_vc_cfg *vc = &c.vcs[i];

		ip_str(vc->vip, ip);
		if (!json)
			printf("%s: vdc %u, vip %s, %u ports, %u backends%s\n", vc->name, vc->vdc, ip,
			       vc->nports, vc->nbackends, vc->sticky ? ", sticky" : "");
		json_array_append_new(vcs, json_pack("{s:s, s:i, s:s, s:i, s:i, s:b}", "name",
						     vc->name, "vdc", (json_int_t)vc->vdc, "vip", ip,
						     "ports", (json_int_t)vc->nports, "backends",
						     (json_int_t)vc->nbackends, "sticky", vc->sticky));
	}
	JSET(j, "vcs", vcs);
	JSET(j, "services", json_integer(slb_config_services(&c)));
	if (json)
		json_print(stdout, j);
	else
		json_decref(j);
	slb_config_free(&c);
	return 0;
}

/* ---- run ---------------------------------------------------------------------- */

/* Apply the core's actions to the maps; a refused write is counted and
 * logged (the next rebuild writes the table again). */
static void apply(struct slbd *d)
{
	const struct pgr_slb_maps *m = pgr_slb_dp_maps(d->dp);

	for (size_t i = 0; i < d->out.n; i++) {
		const struct slb_action *a = &d->out.acts[i];
		int err = 0;

		switch (a->type) {
		case SLB_ACT_BACKEND:
			err = pgr_slb_backend_set(m, a->index, &a->be);
			break;
		case SLB_ACT_TABLE:
			err = pgr_slb_table_set(m, a->index, a->slots);
			break;
		case SLB_ACT_VIP:
			err = pgr_slb_vip_set(m, &a->key, &a->vip);
			break;
		case SLB_ACT_PROBE:	/* probes are the backends' agents' (docs/slb.md) */
			break;
		}
		if (err) {
			d->apply_err++;
			log_rl_msg(&d->rl, mono_ns(), LOG_WARN, "map write %d/%u: %s", a->type,
				   a->index, strerror(-err));
		}
	}
	if (d->out.deadline_ns != UINT64_MAX) {
		uint64_t now = loop_now_ns(d->loop);

		loop_timer_set(d->loop, d->timer,
			       d->out.deadline_ns > now ? d->out.deadline_ns - now : 0);
	}
}

static void input(struct slbd *d, const struct slb_event *ev)
{
	slb_input(d->core, loop_now_ns(d->loop), ev, &d->out);
	apply(d);
}

static void on_timer(void *arg)
{
	struct slbd *d = arg;
	struct slb_event ev = { .type = SLB_EV_TIMER };

	input(d, &ev);
}

static void on_message(struct slbd *d, const uint8_t *buf, size_t len)
{
	struct slbp_msg m;
	struct slb_event ev = { 0 };
	int64_t be;
	int err = slbp_decode(buf, len, &d->key, &m);

	if (err) {
		d->msg_err[-err]++;
		log_rl_msg(&d->rl, mono_ns(), LOG_WARN, "message refused: %s", slbp_err_name(err));
		return;
	}
	if (!rasp_replay_accept(d->replay, m.sender, m.seq)) {
		d->msg_replay++;
		return;
	}
	be = slb_core_find(d->core, m.vdc, m.ip, 0);
	if (be < 0) {
		d->msg_unknown++;
		return;
	}
	d->msg_ok++;
	if (m.type == SLBP_HEALTH) {
		if (!m.a)	/* a failed probe: silence is what counts */
			return;
		ev.type = SLB_EV_PROBE_OK;
	} else if (m.type == SLBP_LOAD) {
		ev.type = SLB_EV_LOAD;
		ev.cpu_pct = m.a;
		ev.net_pct = m.b;
	} else {
		ev.type = SLB_EV_DRAIN;
		ev.on = m.a;
	}
	/* the VM backs every VC that lists it */
	for (; be >= 0; be = slb_core_find(d->core, m.vdc, m.ip, (uint32_t)be + 1)) {
		ev.backend = (uint32_t)be;
		input(d, &ev);
	}
}

static void on_readable(void *arg, int fd)
{
	static struct udp_batch b;
	struct slbd *d = arg;
	int n;

	udp_batch_init(&b);
	while ((n = udp_recv_batch(fd, &b)) > 0)
		for (int i = 0; i < n; i++)
			on_message(d, b.bufs[i], b.msgs[i].msg_len);
}

static json_t *status_json(struct slbd *d)
{
	struct pgr_slb_counter st[PGR_SLB_STAT_COUNT];
	json_t *j = json_object(), *dp = json_object(), *bes = json_array(), *core = json_object();
	json_t *msgs = json_object();
	char ip[INET_ADDRSTRLEN];

	if (!pgr_slb_stats_read(pgr_slb_dp_maps(d->dp), st))
		for (int s = 0; s < PGR_SLB_STAT_COUNT; s++)
			JSET(dp, pgr_slb_stat_name(s), json_pack("{s:I, s:I}", "packets",
				 (json_int_t)st[s].packets, "bytes", (json_int_t)st[s].bytes));
	for (uint32_t i = 0; i < slb_core_nbackends(d->core); i++) {
		struct slb_backend_view v;
		struct pgr_slb_counter c = { 0 };

		slb_core_backend(d->core, i, &v);
		pgr_slb_backend_stats_read(pgr_slb_dp_maps(d->dp), i, &c);
		ip_str(v.ip, ip);
		json_array_append_new(bes, json_pack(
			"{s:s, s:i, s:s, s:s, s:b, s:i, s:i, s:i, s:I, s:I}", "vc", v.vc, "vdc",
			(json_int_t)v.vdc, "ip", ip, "state", v.state == SLB_BE_UP ? "up" : "down",
			"drain", v.drain, "load_pct", (json_int_t)v.load_pct, "weight",
			(json_int_t)v.weight, "slots", (json_int_t)v.slots, "packets",
			(json_int_t)c.packets, "bytes", (json_int_t)c.bytes));
	}
	for (int k = 0; k < SLB_CTR_COUNT; k++)
		JSET(core, slb_counter_name(k), json_integer((json_int_t)slb_core_counter(d->core, k)));
	JSET(msgs, "accepted", json_integer((json_int_t)d->msg_ok));
	JSET(msgs, "unknown_backend", json_integer((json_int_t)d->msg_unknown));
	JSET(msgs, "replayed", json_integer((json_int_t)d->msg_replay));
	for (int e = 1; e < SLBP_E_COUNT; e++)
		JSET(msgs, slbp_err_name(e), json_integer((json_int_t)d->msg_err[e]));
	JSET(j, "dataplane", dp);
	JSET(j, "backends", bes);
	JSET(j, "core", core);
	JSET(j, "messages", msgs);
	JSET(j, "map_write_errors", json_integer((json_int_t)d->apply_err));
	return j;
}

/* Written to a temporary file and renamed: readers never see half of it. */
static void on_status_timer(void *arg)
{
	struct slbd *d = arg;
	char tmp[512];
	FILE *f;

	if (!d->status_path)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->status_path);
	if (!(f = fopen(tmp, "w"))) {
		log_rl_msg(&d->rl, mono_ns(), LOG_WARN, "status %s: %s", tmp, strerror(errno));
		return;
	}
	json_print(f, status_json(d));
	if (fclose(f) || rename(tmp, d->status_path))
		log_rl_msg(&d->rl, mono_ns(), LOG_WARN, "status %s: %s", d->status_path,
			   strerror(errno));
}

struct run_opts {
	const char *config, *nic, *netns, *listen, *key, *status;
	uint32_t node, conns;
	bool generic;
};

static int serve(struct slbd *d, const struct run_opts *o)
{
	struct sockaddr_in listen;
	struct slb_event start = { .type = SLB_EV_START };
	char err[256];
	struct loop_io *io = NULL;

	if (o->listen) {
		if (udp_parse_addr(o->listen, &listen, err, sizeof(err)))
			return cli_error("slb: --listen: %s", err);
		if ((d->fd = udp_open(&listen, SLBD_SOCKBUF)) < 0)
			return cli_error("slb: %s: %s", o->listen, strerror(-d->fd));
	}
	d->loop = loop_new();
	loop_stop_on_signals(d->loop);
	if (d->fd >= 0)
		io = loop_io_add(d->loop, d->fd, on_readable, d);
	d->timer = loop_timer_add(d->loop, UINT64_MAX / 2, 0, on_timer, d);
	d->stimer = loop_timer_add(d->loop, 0, SLBD_STATUS_MS * 1000000ull, on_status_timer, d);
	input(d, &start);
	log_info("serving %u backends on %s", slb_core_nbackends(d->core), o->nic);
	loop_run(d->loop);
	on_status_timer(d);
	if (io)
		loop_io_del(d->loop, io);
	loop_timer_del(d->loop, d->timer);
	loop_timer_del(d->loop, d->stimer);
	loop_free(d->loop);
	if (d->fd >= 0)
		close(d->fd);
	return 0;
}

static int run(const struct run_opts *o)
{
	struct slbd d = { .fd = -1, .status_path = o->status, .rl = LOG_RL_INIT(1000, SLBD_LOG_BURST) };
	struct pgr_slb_dp_opts dpo = { .conns_max = o->conns };
	struct slb_config cfg;
	char err[600];
	uint32_t ifindex;
	int rc = 1;

	if (!o->config || !o->nic || !o->node)
		return cli_usage_error("slb", "run needs --config, --node and --nic");
	if (slb_config_load_file(&cfg, o->config, err, sizeof(err)))
		return cli_error("slb: %s", err);
	if (o->key && auth_key_load(o->key, &d.key, err, sizeof(err))) {
		slb_config_free(&cfg);
		return cli_error("slb: %s", err);
	}
	if (cli_enter_netns(o->netns))
		goto out_cfg;
	if (!(ifindex = if_nametoindex(o->nic))) {
		cli_error("slb: --nic %s: %s", o->nic, strerror(errno));
		goto out_cfg;
	}
	for (uint32_t t = 0; t < PGR_TREES; t++)
		pgr_mac_make(dpo.cfg.server_mac[t], pgr_id_of(o->node, t));
	if (pgr_slb_dp_open(&d.dp, &dpo, err, sizeof(err))) {
		cli_error("slb: %s", err);
		goto out_cfg;
	}
	if ((rc = pgr_slb_dp_attach(d.dp, ifindex, o->generic))) {
		cli_error("slb: XDP on %s: %s", o->nic, strerror(-rc));
		rc = 1;
		goto out_dp;
	}
	d.core = slb_core_new(&cfg);
	d.replay = rasp_replay_new();
	rc = serve(&d, o);
	rasp_replay_free(d.replay);
	slb_out_free(&d.out);
	slb_core_free(d.core);
out_dp:
	pgr_slb_dp_close(d.dp);
out_cfg:
	slb_config_free(&cfg);
	return rc;
}

/* ---- status ----------------------------------------------------------------- */

static int status(const char *path, bool json)
{
	json_error_t e;
	json_t *j = json_load_file(path, 0, &e), *bes, *v;
	size_t i;

	if (!j)
		return cli_error("slb: %s: %s", path, e.text);
	if (json) {
		json_print(stdout, j);
		return 0;
	}
	bes = json_object_get(j, "backends");
	printf("%-12s %-16s %-5s %-5s %6s %6s %6s %12s\n", "vc", "backend", "state", "drain",
	       "load%", "weight", "slots", "packets");
	json_array_foreach(bes, i, v)
		printf("%-12s %-16s %-5s %-5s %6lld %6lld %6lld %12lld\n",
		       json_string_value(json_object_get(v, "vc")),
		       json_string_value(json_object_get(v, "ip")),
		       json_string_value(json_object_get(v, "state")),
		       yesno(json_is_true(json_object_get(v, "drain"))),
		       json_integer_value(json_object_get(v, "load_pct")),
		       json_integer_value(json_object_get(v, "weight")),
		       json_integer_value(json_object_get(v, "slots")),
		       json_integer_value(json_object_get(v, "packets")));
	json_decref(j);
	return 0;
}

/* ---- send ------------------------------------------------------------------- */

enum { SLB_SEND_TO_MAX = 8 };	/* --to given more than once: each gets it */

struct send_opts {
	const char *to[SLB_SEND_TO_MAX], *key, *type, *ip;
	unsigned nto;
	uint32_t vdc, a, b;
};

static int send_msg(const struct send_opts *o)
{
	struct slbp_msg m = { .sender = (uint32_t)getpid(), .vdc = o->vdc, .a = (uint8_t)o->a,
			      .b = (uint8_t)o->b };
	struct sockaddr_in to[SLB_SEND_TO_MAX];
	struct auth_key key;
	struct in_addr ip;
	uint8_t buf[SLBP_DGRAM_BYTES];
	char err[256];
	size_t len;
	int fd;

	if (!o->nto || !o->key || !o->type || !o->ip)
		return cli_usage_error("slb", "send needs --to, --key, a type, --vdc and --ip");
	m.type = !strcmp(o->type, "health") ? SLBP_HEALTH : !strcmp(o->type, "load") ? SLBP_LOAD
		 : !strcmp(o->type, "drain") ? SLBP_DRAIN : 0;
	if (!m.type || inet_pton(AF_INET, o->ip, &ip) != 1 || o->a > 255 || o->b > 255)
		return cli_usage_error("slb", "send: bad type, --ip, --a or --b");
	m.ip = ip.s_addr;
	m.time_ns = wall_ns();
	m.seq = m.time_ns;
	for (unsigned i = 0; i < o->nto; i++)
		if (udp_parse_addr(o->to[i], &to[i], err, sizeof(err)))
			return cli_error("slb: --to: %s", err);
	if (auth_key_load(o->key, &key, err, sizeof(err)))
		return cli_error("slb: %s", err);
	if (!(len = slbp_encode(buf, sizeof(buf), &m, &key)))
		return cli_usage_error("slb", "send: a value out of range");
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0)
		return cli_error("slb: socket: %s", strerror(errno));
	for (unsigned i = 0; i < o->nto; i++)
		if (sendto(fd, buf, len, 0, (struct sockaddr *)&to[i], sizeof(to[i])) != (ssize_t)len) {
			close(fd);
			return cli_error("slb: send to %s: %s", o->to[i], strerror(errno));
		}
	close(fd);
	return 0;
}

/* ---- options ---------------------------------------------------------------- */

int cmd_slb(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "config", 1, 0, 'c' }, { "node", 1, 0, 'N' }, { "nic", 1, 0, 'i' },
		{ "netns", 1, 0, 'n' }, { "listen", 1, 0, 'l' }, { "key", 1, 0, 'k' },
		{ "status", 1, 0, 's' }, { "conns", 1, 0, 'C' }, { "json", 0, 0, 'j' },
		{ "to", 1, 0, 't' }, { "vdc", 1, 0, 'v' }, { "ip", 1, 0, 'I' }, { "a", 1, 0, 'a' },
		{ "b", 1, 0, 'b' }, { "xdp-generic", 0, 0, 'g' }, { "help", 0, 0, 'h' }, { 0 },
	};
	struct run_opts r = { 0 };
	struct send_opts s = { 0 };
	const char *sub;
	bool json = false;
	int c;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case 'c': r.config = optarg; break;
		case 'N':
			if (!parse_u32(optarg, PGR_NODE_MAX, &r.node) || !r.node)
				return cli_usage_error("slb", "--node: 1 to %d", PGR_NODE_MAX);
			break;
		case 'i': r.nic = optarg; break;
		case 'n': r.netns = optarg; break;
		case 'l': r.listen = optarg; break;
		case 'k': r.key = s.key = optarg; break;
		case 's': r.status = optarg; break;
		case 'C':
			if (!parse_u32(optarg, PGR_SLB_CONNS_MAX, &r.conns) || r.conns < PGR_SLB_CONNS_MIN)
				return cli_usage_error("slb", "--conns: %d to %d", PGR_SLB_CONNS_MIN,
						       PGR_SLB_CONNS_MAX);
			break;
		case 'j': json = true; break;
		case 'g': r.generic = true; break;
		case 't':
			if (s.nto == SLB_SEND_TO_MAX)
				return cli_usage_error("slb", "--to: at most %d", SLB_SEND_TO_MAX);
			s.to[s.nto++] = optarg;
			break;
		case 'v':
			if (!parse_u32(optarg, SLBP_VDC_MAX, &s.vdc))
				return cli_usage_error("slb", "--vdc: 1 to %d", SLBP_VDC_MAX);
			break;
		case 'I': s.ip = optarg; break;
		case 'a':
			if (!parse_u32(optarg, 255, &s.a))
				return cli_usage_error("slb", "--a: 0 to 255");
			break;
		case 'b':
			if (!parse_u32(optarg, 255, &s.b))
				return cli_usage_error("slb", "--b: 0 to 255");
			break;
		case 'h': usage(stdout); return 0;
		default: return 2;
		}
	}
	log_set_ident("slb");
	if (!strcmp(sub, "check")) {
		if (optind != argc - 1)
			return cli_usage_error("slb", "check takes one FILE");
		return check(argv[optind], json);
	}
	if (optind != argc && strcmp(sub, "send"))
		return cli_usage_error("slb", "unexpected argument '%s'", argv[optind]);
	if (!strcmp(sub, "run"))
		return run(&r);
	if (!strcmp(sub, "status")) {
		if (!r.status)
			return cli_usage_error("slb", "status needs --status FILE");
		return status(r.status, json);
	}
	if (!strcmp(sub, "send")) {
		if (optind != argc - 1)
			return cli_usage_error("slb", "send takes one type: health, load or drain");
		s.type = argv[optind];
		return send_msg(&s);
	}
	return cli_usage_error("slb", "unknown subcommand '%s'", sub);
}
