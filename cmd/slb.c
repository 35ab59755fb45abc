/* peregrine slb: the server load balancer's shell (docs/slb.md).
 *
 *   slb check FILE [--json]        read VC definitions; refuse with file, line, field
 *   slb run --config FILE --node N --nic IF [--netns NS] [--listen A:P]
 *           [--key FILE] [--status FILE] [--conns N] [--xdp-generic]
 *           [--ring-id N --ring-peer ID=ADDR:PORT... [--ring-interval-ms MS] [--ring-misses N]]
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
#include <sched.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf/slb_loader.h"
#include "cmd/cli.h"
#include "cmd/slb_load.h"
#include "lib/auth.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/parse.h"
#include "lib/udp.h"
#include "slb/ring.h"
#include "slb/slb.h"
#include "slb/vc.h"
#include "wire/rasproto.h"
#include "wire/slbproto.h"

enum slbd_limits {
	SLBD_STATUS_MS = 500,		/* status file refresh */
	SLBD_SOCKBUF = 1 << 20,
	SLBD_LOG_BURST = 10,		/* log lines per second a peer can cause */
	SLBD_LOAD_MS = 100,		/* own load measured and given to the ring */
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
	/* the cluster (--ring-id): the ring core, its peers, which VCs are ours */
	struct slb_ring *ring;
	struct slb_ring_out rout;
	struct loop_timer *rtimer;
	struct sockaddr_in peer[SLB_RING_MAX + 1];
	uint32_t ring_id;
	uint64_t ring_seq, scale_asks;
	const struct slb_config *cfg;
	/* own load (--capacity-cps): new flows per second against capacity */
	struct loop_timer *ltimer;
	uint32_t capacity_cps, load_pct;
	uint64_t load_flows, load_at_ns;
	int last_scale;			/* the ring's last ask: +1 on, -1 off */
	uint32_t last_scale_id;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: peregrine slb check FILE [--json]\n"
		"       peregrine slb run --config FILE --node N --nic IF [--netns NS]\n"
		"                         [--listen ADDR:PORT] [--key FILE] [--status FILE] [--conns N]\n"
		"                         [--xdp-generic] [--ring-id N --ring-peer ID=ADDR:PORT...\n"
		"                         [--ring-interval-ms 10] [--ring-misses 3]\n"
		"                         [--ring-standby ID...] [--capacity-cps N\n"
		"                         [--scale HIGH,LOW,HOLD,MIN]]] [--rt-priority N]\n"
		"                         [--name NAME]  (NAME: a label on the command line)\n"
		"       peregrine slb status --status FILE [--json]\n"
		"       peregrine slb send --to ADDR:PORT [--to ...] --key FILE health|load|drain\n"
		"                          --vdc N --ip IP [--a N] [--b N]\n"
		"       peregrine slb load serve|connect ...  (a TCP load for the lab figures)\n\n"
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

static void on_status_timer(void *arg);

/* The ring core's messages out, its VC changes, its deadline. */
static void ring_apply(struct slbd *d)
{
	uint8_t buf[SLBP_RING_DGRAM_MAX];

	for (size_t i = 0; i < d->rout.n; i++) {
		const struct slb_ring_send *sd = &d->rout.sends[i];
		struct slbp_msg m = { .type = SLBP_RING, .sender = d->ring_id,
				      .time_ns = wall_ns() };
		size_t len;

		d->ring_seq = MAX(d->ring_seq + 1, m.time_ns);
		m.seq = d->ring_seq;
		m.ring = (struct slbp_ring){ .kind = (uint8_t)sd->msg.type, .who = (uint8_t)sd->msg.who,
					     .load = (uint8_t)sd->msg.load_pct,
					     .version = sd->msg.version };
		if (sd->msg.type == SLB_RING_ASSIGN) {
			m.ring.nvips = (uint16_t)d->cfg->nvcs;
			memcpy(m.ring.owner, sd->msg.owner, d->cfg->nvcs);
		}
		len = slbp_encode(buf, sizeof(buf), &m, &d->key);
		if (len && d->peer[sd->to].sin_port)
			sendto(d->fd, buf, len, 0, (struct sockaddr *)&d->peer[sd->to],
			       sizeof(d->peer[sd->to]));
	}
	if (d->rout.scale) {
		d->scale_asks++;
		d->last_scale = d->rout.scale;
		d->last_scale_id = d->rout.scale_id;
		log_info("ring: asks to power %s SLB server %u (load %u%%)",
			 d->rout.scale > 0 ? "on" : "off", d->rout.scale_id, d->load_pct);
	}
	if (d->rout.vips_changed || d->rout.scale) {
		log_info("ring: version %llu, master %u", (unsigned long long)slb_ring_version(d->ring),
			 slb_ring_master(d->ring));
		on_status_timer(d);	/* the gateway reads it: now, not in 500 ms */
	}
	if (d->rout.deadline_ns != UINT64_MAX) {
		uint64_t now = loop_now_ns(d->loop);

		loop_timer_set(d->loop, d->rtimer,
			       d->rout.deadline_ns > now ? d->rout.deadline_ns - now : 0);
	}
}

static void ring_input(struct slbd *d, const struct slb_ring_event *ev)
{
	slb_ring_input(d->ring, loop_now_ns(d->loop), ev, &d->rout);
	ring_apply(d);
}

static void on_ring_timer(void *arg)
{
	struct slbd *d = arg;
	struct slb_ring_event ev = { .type = SLB_RING_EV_TIMER };

	ring_input(d, &ev);
}

/* Own load, every SLBD_LOAD_MS: the new flows the data plane forwarded
 * (fwd_new: the Maglev table's work) against --capacity-cps. */
static void on_load_timer(void *arg)
{
	struct slbd *d = arg;
	struct pgr_slb_counter st[PGR_SLB_STAT_COUNT];
	struct slb_ring_event ev = { .type = SLB_RING_EV_LOAD };
	uint64_t now = loop_now_ns(d->loop), flows;

	if (pgr_slb_stats_read(pgr_slb_dp_maps(d->dp), st))
		return;
	flows = st[PGR_SLB_STAT_FWD_NEW].packets;
	if (d->load_at_ns) {
		d->load_pct = slb_ring_load_pct(flows - d->load_flows, now - d->load_at_ns,
						d->capacity_cps);
		ev.load_pct = d->load_pct;
		ring_input(d, &ev);
	}
	d->load_flows = flows;
	d->load_at_ns = now;
}

static void on_ring_message(struct slbd *d, const struct slbp_msg *m)
{
	struct slb_ring_event ev = { .type = SLB_RING_EV_MSG };

	if (!d->ring || (m->ring.kind == SLB_RING_ASSIGN && m->ring.nvips != d->cfg->nvcs)) {
		d->msg_unknown++;
		return;
	}
	d->msg_ok++;
	ev.msg = (struct slb_ring_msg){ .type = m->ring.kind, .from = m->sender,
					.who = m->ring.who, .load_pct = m->ring.load,
					.version = m->ring.version };
	memcpy(ev.msg.owner, m->ring.owner, m->ring.nvips);
	ring_input(d, &ev);
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
	if (!rasp_replay_accept(d->replay, m.type == SLBP_RING ? m.sender | 1u << 31 : m.sender,
				m.seq)) {
		d->msg_replay++;
		return;
	}
	if (m.type == SLBP_RING) {
		on_ring_message(d, &m);
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
	if (d->ring) {
		json_t *ring = json_object(), *live = json_array(), *vcs = json_array();

		for (uint32_t id = 1; id <= SLB_RING_MAX; id++)
			if (slb_ring_live(d->ring) & (1ull << (id - 1)))
				json_array_append_new(live, json_integer(id));
		for (unsigned v = 0; v < d->cfg->nvcs; v++) {
			ip_str(d->cfg->vcs[v].vip, ip);
			json_array_append_new(vcs, json_pack("{s:s, s:s, s:i}", "vc", d->cfg->vcs[v].name,
				"vip", ip, "owner", (json_int_t)slb_ring_owner(d->ring, v)));
		}
		JSET(ring, "id", json_integer(d->ring_id));
		JSET(ring, "master", json_integer(slb_ring_master(d->ring)));
		JSET(ring, "version", json_integer((json_int_t)slb_ring_version(d->ring)));
		JSET(ring, "live", live);
		JSET(ring, "vcs", vcs);
		JSET(ring, "scale_asks", json_integer((json_int_t)d->scale_asks));
		JSET(ring, "load_pct", d->capacity_cps ? json_integer(d->load_pct) : json_null());
		/* the last ask, for whoever powers servers on and off (the lab's
		 * edge process): seq grows with each */
		JSET(ring, "scale", d->scale_asks ? json_pack("{s:I, s:s, s:i}", "seq",
			(json_int_t)d->scale_asks, "action", d->last_scale > 0 ? "on" : "off", "id",
			(json_int_t)d->last_scale_id) : json_null());
		for (int k = 0; k < SLB_RING_CTR_COUNT; k++)
			JSET(ring, slb_ring_counter_name(k),
			     json_integer((json_int_t)slb_ring_counter(d->ring, k)));
		JSET(j, "ring", ring);
	}
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
	uint32_t ring_id, ring_interval_ms, ring_misses, npeers;
	const char *peers[SLB_RING_MAX];	/* "ID=ADDR:PORT" */
	uint64_t standby;		/* bit id-1: powered off at start */
	uint32_t capacity_cps;		/* 0: no load of its own, no scaling */
	uint32_t scale[4];		/* high %, low %, hold (intervals), min live */
	uint32_t rt_priority;		/* SCHED_FIFO priority; 0: the default policy */
};

/* --ring-id and --ring-peer: the ring core and the peers' addresses. */
static int ring_setup(struct slbd *d, const struct run_opts *o)
{
	struct slb_ring_cfg rc = { .self = o->ring_id, .interval_ns = o->ring_interval_ms * 1000000ull,
				   .misses = o->ring_misses, .nvips = d->cfg->nvcs,
				   /* without --capacity-cps no load: never above 100% */
				   .high_pct = 100, .low_pct = 0, .hold = 100, .min_live = 1 };
	char err[256];

	if (!o->ring_id)
		return 0;
	rc.members = 1ull << (o->ring_id - 1);
	for (uint32_t i = 0; i < o->npeers; i++) {
		const char *eq = strchr(o->peers[i], '=');
		char idbuf[8];
		uint32_t id;

		if (!eq || (size_t)(eq - o->peers[i]) >= sizeof(idbuf))
			return cli_usage_error("slb", "--ring-peer: expected ID=ADDR:PORT");
		memcpy(idbuf, o->peers[i], (size_t)(eq - o->peers[i]));
		idbuf[eq - o->peers[i]] = 0;
		if (!parse_u32(idbuf, SLB_RING_MAX, &id) || !id || id == o->ring_id)
			return cli_usage_error("slb", "--ring-peer: id 1 to %d, not our own", SLB_RING_MAX);
		if (udp_parse_addr(eq + 1, &d->peer[id], err, sizeof(err)))
			return cli_usage_error("slb", "--ring-peer: %s", err);
		rc.members |= 1ull << (id - 1);
	}
	rc.live = rc.members & ~(o->standby & ~(1ull << (o->ring_id - 1)));
	if (o->capacity_cps && o->scale[2]) {
		rc.high_pct = o->scale[0];
		rc.low_pct = o->scale[1];
		rc.hold = o->scale[2];
		rc.min_live = o->scale[3];
	}
	d->capacity_cps = o->capacity_cps;
	d->ring_id = o->ring_id;
	d->ring = slb_ring_new(&rc);
	if (!d->ring)
		return cli_usage_error("slb", "ring: inconsistent configuration");
	return 0;
}

static int serve(struct slbd *d, const struct run_opts *o)
{
	struct sockaddr_in listen;
	struct slb_event start = { .type = SLB_EV_START };
	char err[256];
	struct loop_io *io = NULL;

	if (d->ring && !o->listen)
		return cli_usage_error("slb", "--ring-id needs --listen");
	if (o->listen) {
		if (udp_parse_addr(o->listen, &listen, err, sizeof(err)))
			return cli_error("slb: --listen: %s", err);
		if ((d->fd = udp_open(&listen, SLBD_SOCKBUF)) < 0)
			return cli_error("slb: %s: %s", o->listen, strerror(-d->fd));
	}
	/* The ring's failure detection is a window of a few heartbeat
	 * intervals: a daemon the scheduler leaves waiting longer than that on
	 * a busy server is declared dead although it is not.  Real-time
	 * priority keeps the heartbeats on time (the daemon is idle between
	 * them), as failure detectors such as BFD daemons are run. */
	struct sched_param sp = { .sched_priority = (int)o->rt_priority };

	if (o->rt_priority && sched_setscheduler(0, SCHED_FIFO, &sp))
		return cli_error("slb: --rt-priority %u: %s", o->rt_priority, strerror(errno));
	d->loop = loop_new();
	loop_stop_on_signals(d->loop);
	if (d->fd >= 0)
		io = loop_io_add(d->loop, d->fd, on_readable, d);
	d->timer = loop_timer_add(d->loop, UINT64_MAX / 2, 0, on_timer, d);
	d->stimer = loop_timer_add(d->loop, 0, SLBD_STATUS_MS * 1000000ull, on_status_timer, d);
	d->rtimer = loop_timer_add(d->loop, UINT64_MAX / 2, 0, on_ring_timer, d);
	if (d->ring && d->capacity_cps)
		d->ltimer = loop_timer_add(d->loop, 0, SLBD_LOAD_MS * 1000000ull, on_load_timer, d);
	input(d, &start);
	if (d->ring) {
		struct slb_ring_event rs = { .type = SLB_RING_EV_START };

		ring_input(d, &rs);
	}
	log_info("serving %u backends on %s", slb_core_nbackends(d->core), o->nic);
	loop_run(d->loop);
	on_status_timer(d);
	if (io)
		loop_io_del(d->loop, io);
	loop_timer_del(d->loop, d->timer);
	loop_timer_del(d->loop, d->stimer);
	loop_timer_del(d->loop, d->rtimer);
	if (d->ltimer)
		loop_timer_del(d->loop, d->ltimer);
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
	d.cfg = &cfg;
	d.replay = rasp_replay_new();
	rc = ring_setup(&d, o);
	if (!rc)
		rc = serve(&d, o);
	slb_ring_out_free(&d.rout);
	slb_ring_free(d.ring);
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
		{ "b", 1, 0, 'b' }, { "xdp-generic", 0, 0, 'g' }, { "ring-id", 1, 0, 'R' },
		{ "ring-peer", 1, 0, 'P' }, { "ring-interval-ms", 1, 0, 'T' },
		{ "ring-misses", 1, 0, 'M' }, { "rt-priority", 1, 0, 'r' }, { "help", 0, 0, 'h' },
		{ "name", 1, 0, 'e' }, { "ring-standby", 1, 0, 'S' }, { "capacity-cps", 1, 0, 'x' },
		{ "scale", 1, 0, 'W' },
		{ 0 },
	};
	struct run_opts r = { .ring_interval_ms = 10, .ring_misses = 3 };
	struct send_opts s = { 0 };
	const char *sub;
	bool json = false;
	int c;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	if (!strcmp(sub, "load"))
		return slb_load_main(argc - 1, argv + 1);
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
		case 'R':
			if (!parse_u32(optarg, SLB_RING_MAX, &r.ring_id) || !r.ring_id)
				return cli_usage_error("slb", "--ring-id: 1 to %d", SLB_RING_MAX);
			break;
		case 'P':
			if (r.npeers == SLB_RING_MAX)
				return cli_usage_error("slb", "--ring-peer: at most %d", SLB_RING_MAX);
			r.peers[r.npeers++] = optarg;
			break;
		case 'T':
			if (!parse_u32(optarg, 60000, &r.ring_interval_ms) || !r.ring_interval_ms)
				return cli_usage_error("slb", "--ring-interval-ms: 1 to 60000");
			break;
		case 'M':
			if (!parse_u32(optarg, 1000, &r.ring_misses) || !r.ring_misses)
				return cli_usage_error("slb", "--ring-misses: 1 to 1000");
			break;
		case 'r':
			if (!parse_u32(optarg, 99, &r.rt_priority) || !r.rt_priority)
				return cli_usage_error("slb", "--rt-priority: 1 to 99");
			break;
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
		case 'S': {
			uint32_t id;

			if (!parse_u32(optarg, SLB_RING_MAX, &id) || !id)
				return cli_usage_error("slb", "--ring-standby: 1 to %d", SLB_RING_MAX);
			r.standby |= 1ull << (id - 1);
			break;
		}
		case 'x':
			if (!parse_u32(optarg, 100000000, &r.capacity_cps) || !r.capacity_cps)
				return cli_usage_error("slb", "--capacity-cps: 1 to 100000000");
			break;
		case 'W':
			if (sscanf(optarg, "%u,%u,%u,%u", &r.scale[0], &r.scale[1], &r.scale[2],
				   &r.scale[3]) != 4 || r.scale[0] > 100 || r.scale[1] > r.scale[0] ||
			    !r.scale[2] || r.scale[2] > 100000 || !r.scale[3] ||
			    r.scale[3] > SLB_RING_MAX)
				return cli_usage_error("slb", "--scale: HIGH,LOW,HOLD,MIN: percentages "
						       "HIGH >= LOW, HOLD 1 to 100000 intervals, MIN "
						       "1 to %d servers", SLB_RING_MAX);
			break;
		case 'e': break;	/* --name: how a lab knows its process */
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
