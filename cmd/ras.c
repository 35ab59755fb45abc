/* peregrine ras: the Route Algorithm Server daemon.
 *
 * The shell around ras/ (the core): one UDP socket toward the switches,
 * the agents and the directory (their datagrams come in on it too), a
 * timer, signals.  After every call into the core it sends the core's
 * datagrams to the directory first (SET_AVAIL: the core retransmits them
 * until answered), then its datagrams to the switches: a MAC is marked
 * unavailable before any switch is reprogrammed.
 * Agents' TRAFFIC and ACK, and MOVED from tools, come in on the same socket;
 * DIRECT and ACK go out of it.  Every second the counters and the direct
 * routes are written to a JSON status file (`--status` prints it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/json.h"
#include "cmd/cli.h"
#include "cmd/ras_ha.h"
#include "cmd/daemon.h"
#include "lab/run.h"
#include "lib/auth.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/loop.h"
#include "lib/udp.h"
#include "ras/ras.h"
#include "route/failover.h"
#include "switchd/switchd.h"
#include "wire/pgr.h"

enum ras_cmd_limits {
	RC_SOCKBUF = 4 << 20,
	RC_RX_BATCHES = 16,
	RC_MAX_SWITCH_OPTS = 4096,
	RC_STATUS_MS = 1000,		/* the status file is rewritten this often */
	RC_DRAIN_MAX = 1 << 16,		/* datagrams dropped at most after standing by
					 * (more than RC_SOCKBUF holds) */
};

struct rasd {
	struct ras *r;
	struct daemon *dm;
	struct loop *loop;
	const struct topo *t;
	const char *status_path;
	double lb_last_ms;		/* the last computation of direct routes */
	int fd;
	struct ras_out out;
	struct udp_batch rx, tx;
	uint64_t last_done, last_acked, dir_restarts;
	uint64_t last_on, last_off, last_moved;	/* what `peregrine monitor` was told */
	uint64_t t0_ns;
	struct log_rl rl;
	struct ras_ha *ha;		/* --etcd: the election (NULL: alone) */
	bool ha_lost;
	bool ha_stepped_down;		/* our lease can have expired: we stopped */
};

enum { RC_STEPPED_DOWN = -1 };	/* serve(): campaign again */

/* A leader cut off from etcd: once its lease can have expired a standby
 * may lead, so it must not send anything more (docs/ha.md, "Losing
 * leadership").  True when we may still act. */
static bool ha_may_act(struct rasd *d)
{
	if (!d->ha || d->ha_stepped_down)
		return !d->ha_stepped_down;
	if (mono_ns() < ras_ha_valid_until(d->ha))
		return true;
	log_err("stepping down: etcd renewed no keep-alive in time, our lease can have "
		"expired and a standby may lead");
	daemon_event(d->dm, "stepped_down", NULL);
	d->ha_stepped_down = true;
	loop_stop(d->loop);
	return false;
}

static void on_ha_check(void *arg)
{
	ha_may_act(arg);
}

static void send_dgrams(struct rasd *d, const struct ras_dgram *dg, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct ras_dgram *g = &dg[i];
		struct sockaddr_in to = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(g->to.ip),
					  .sin_port = htons(g->to.port) };
		uint8_t *b = udp_batch_add(&d->tx, &to, g->len);

		if (!b) {
			udp_flush(d->fd, &d->tx);
			b = udp_batch_add(&d->tx, &to, g->len);
		}
		memcpy(b, g->buf, g->len);
	}
	udp_flush(d->fd, &d->tx);
}

static void flush_out(struct rasd *d)
{
	const struct ras_stats *st = ras_stats(d->r);

	if (!ha_may_act(d)) {
		ras_out_reset(&d->out);
		return;
	}
	send_dgrams(d, d->out.dir, d->out.ndir);	/* the directory first */
	send_dgrams(d, d->out.dg, d->out.ndg);
	ras_out_reset(&d->out);
	if (st->avail_acked_ns != d->last_acked) {
		d->last_acked = st->avail_acked_ns;
		if (d->last_acked > d->t0_ns) {
			log_info("directory: availability marked %.3f ms after the event",
				 (double)(d->last_acked - d->t0_ns) / 1e6);
			daemon_event(d->dm, "availability", "\"ms\":%.3f",
				     (double)(d->last_acked - d->t0_ns) / 1e6);
		}
	}
	if (st->dir_restarts != d->dir_restarts) {
		d->dir_restarts = st->dir_restarts;
		log_warn("directory restarted: every availability bit is sent again");
		daemon_event(d->dm, "directory_restarted", NULL);
	}
	if (st->converged && st->ev_done_ns != d->last_done) {
		d->last_done = st->ev_done_ns;
		log_info("fabric programmed: %" PRIu64 " forwarding changes, %u pairs held, "
			 "%.3f ms after the event (%" PRIu64 " ops sent, %" PRIu64
			 " retransmits so far)",
			 st->ev_ops, st->ev_pairs, (double)(st->ev_done_ns - st->ev_at_ns) / 1e6,
			 st->ops_sent, st->retransmits);
		daemon_event(d->dm, "reprogrammed", "\"ms\":%.3f,\"changes\":%" PRIu64
			     ",\"pairs\":%u", (double)(st->ev_done_ns - st->ev_at_ns) / 1e6,
			     st->ev_ops, st->ev_pairs);
	}
	if (st->direct_on != d->last_on || st->direct_off != d->last_off) {
		daemon_event(d->dm, "direct", "\"installed\":%" PRIu64 ",\"withdrawn\":%" PRIu64,
			     st->direct_on - d->last_on, st->direct_off - d->last_off);
		d->last_on = st->direct_on;
		d->last_off = st->direct_off;
	}
	if (st->moved != d->last_moved) {
		daemon_event(d->dm, "migration", "\"vms\":%" PRIu64, st->moved - d->last_moved);
		d->last_moved = st->moved;
	}
}

static uint64_t on_timer(void *arg, uint64_t t0)
{
	struct rasd *d = arg;
	uint64_t runs = ras_stats(d->r)->lb_runs;
	uint64_t next = ras_tick(d->r, t0, &d->out);

	if (ras_stats(d->r)->lb_runs != runs)
		d->lb_last_ms = (double)(mono_ns() - t0) / 1e6;

	flush_out(d);
	return next;
}

static void on_readable(void *arg, int fd)
{
	struct rasd *d = arg;

	for (int b = 0; b < RC_RX_BATCHES; b++) {
		int n = udp_recv_batch(fd, &d->rx);

		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			const struct sockaddr_in *a = &d->rx.addrs[i];
			struct ras_addr from = { ntohl(a->sin_addr.s_addr), ntohs(a->sin_port) };
			uint64_t now = mono_ns();
			uint64_t before = ras_stats(d->r)->link_events;

			/* an empty datagram is a standby's probe of whether
			 * we still listen (cmd/ras_ha.h), not input */
			if (!d->rx.msgs[i].msg_len)
				continue;
			ras_input(d->r, from, d->rx.bufs[i], d->rx.msgs[i].msg_len, now, &d->out);
			if (ras_stats(d->r)->link_events != before)
				d->t0_ns = now;
			flush_out(d);
		}
		if (n < UDP_BATCH)
			break;
	}
	daemon_arm(d->dm, ras_tick(d->r, mono_ns(), &d->out));
	flush_out(d);
}

struct st_arg {
	const struct topo *t;
	json_t *arr;
};

static void st_route(void *arg, const struct ras_direct_info *i)
{
	struct st_arg *a = arg;
	json_t *ents = json_array(), *srcs = json_array();
	uint8_t mac[6];
	char mb[18];

	for (uint32_t k = 0; k < i->nentries; k++)
		json_array_append_new(ents, json_pack("{s:s,s:i}", "switch",
						      a->t->nodes[i->entry_sw[k]].name, "port",
						      i->entry_port[k]));
	for (uint32_t k = 0; k < i->nsources; k++)
		json_array_append_new(srcs, json_string(a->t->nodes[i->sources[k]].name));
	pgr_mac_make(mac, i->vm_id);
	json_array_append_new(a->arr, json_pack(
		"{s:s,s:s,s:f,s:b,s:o,s:o}", "vm_mac", swp_mac_str(mac, mb), "server",
		i->server < a->t->nnodes ? a->t->nodes[i->server].name : "?", "mbps", i->mbps,
		"installed", i->installed, "entries", ents, "senders", srcs));
}

#define RC_COUNTERS(X)                                                              \
	X(link_reports) X(link_events) X(node_events) X(old_reports) X(batches)      \
	X(retransmits) X(lost) X(ops_sent) X(ops_ok) X(dumps) X(avail_down)          \
	X(avail_up) X(audits) X(audits_failed) X(audits_sum_failed) X(port_audits) X(ports_wrong)         \
	X(traffic_reports) X(traffic_flows) X(moved) X(acks_sent) X(lb_runs)         \
	X(direct_sent) X(direct_retransmits) X(direct_acked) X(direct_on)            \
	X(direct_off) X(agents_lost) X(agent_restarts)                               \
	X(withdrawn_broken) X(withdrawn_moved) X(dops_sent) X(dops_refused)          \
	X(lb_considered) X(lb_routed) X(lb_kept) X(lb_skipped_fib) X(lb_no_attach)   \
	X(matrix_pairs) X(vms_direct) X(pairs_direct) X(entries_direct) X(agents_known) \
	X(avail_requests) X(avail_records) X(avail_acked) X(avail_timeouts)          \
	X(dir_restarts) X(dir_moves) X(avail_pending)

static json_t *status_json(const struct ras *r, const struct topo *t, double lb_last_ms)
{
	const struct ras_stats *st = ras_stats(r);
	json_t *o = json_object(), *drops = json_object();
	struct st_arg a = { t, json_array() };

#define RC_SET(name) json_object_set_new(o, #name, json_integer((json_int_t)st->name));
	RC_COUNTERS(RC_SET)
#undef RC_SET
	json_object_set_new(o, "converged", json_boolean(st->converged));
	json_object_set_new(o, "lb_last_ms", json_real(lb_last_ms));
	for (int i = 0; i < RAS_DROP_COUNT; i++)
		if (st->drops[i])
			json_object_set_new(drops, ras_drop_name(i), json_integer((json_int_t)st->drops[i]));
	json_object_set_new(o, "drops", drops);
	ras_direct_foreach(r, st_route, &a);
	json_object_set_new(o, "direct_routes", a.arr);
	return o;
}

/* Written to a temporary file and renamed: readers never see half of it. */
static void write_status(struct rasd *d)
{
	char tmp[512];
	json_t *j;
	FILE *f;

	if (!d->status_path)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->status_path);
	if (!(f = fopen(tmp, "w"))) {
		log_rl_msg(&d->rl, mono_ns(), LOG_WARN, "status %s: %s", tmp, strerror(errno));
		return;
	}
	j = status_json(d->r, d->t, d->lb_last_ms);
	json_print(f, j);	/* takes the reference */
	if (fclose(f) || rename(tmp, d->status_path))
		log_rl_msg(&d->rl, mono_ns(), LOG_WARN, "status %s: %s", d->status_path,
			   strerror(errno));
}


static void on_status(void *arg)
{
	write_status(arg);
}

/* --status: the running RAS's status file, printed. */
static int print_status(const char *path, bool json)
{
	json_error_t e;
	json_t *j = json_load_file(path, 0, &e), *v, *routes;
	const char *k;

	if (!j)
		return cli_error("ras: %s: %s (is the RAS running?)", path, e.text);
	if (json) {
		json_print(stdout, j);	/* takes the reference */
		return 0;
	}
	json_object_foreach(j, k, v) {
		if (json_is_integer(v))
			printf("%-20s %lld\n", k, (long long)json_integer_value(v));
		else if (json_is_real(v))
			printf("%-20s %.3f\n", k, json_real_value(v));
		else if (json_is_boolean(v))
			printf("%-20s %s\n", k, json_is_true(v) ? "yes" : "no");
	}
	json_object_foreach(json_object_get(j, "drops"), k, v)
		printf("dropped %-12s %lld\n", k, (long long)json_integer_value(v));
	routes = json_object_get(j, "direct_routes");
	for (size_t i = 0; i < json_array_size(routes); i++) {
		json_t *r = json_array_get(routes, i), *x;
		size_t n;

		printf("direct %s on %s, %.1f Mbit/s, %s, senders", 
		       json_string_value(json_object_get(r, "vm_mac")),
		       json_string_value(json_object_get(r, "server")),
		       json_real_value(json_object_get(r, "mbps")),
		       json_is_true(json_object_get(r, "installed")) ? "installed" : "pending");
		json_array_foreach(json_object_get(r, "senders"), n, x)
			printf(" %s", json_string_value(x));
		printf(", entries");
		json_array_foreach(json_object_get(r, "entries"), n, x)
			printf(" %s:%lld", json_string_value(json_object_get(x, "switch")),
			       (long long)json_integer_value(json_object_get(x, "port")));
		printf("\n");
	}
	json_decref(j);
	return 0;
}

/* ---- configuration ------------------------------------------------------------- */
static const char ras_help_ha[] =
	"\n"
	"Standby RAS (docs/ha.md):\n"
	"  --etcd URL[,URL...]   campaign for leadership in etcd first; a standby waits\n"
	"                        and takes over (from the switches' tables) when the\n"
	"                        leader's lease ends.  Requests to switchd carry the\n"
	"                        leader's term, so a switch refuses an older leader\n"
	"  --ha-ttl SECONDS      the leader's lease (default 2): a dead leader is\n"
	"                        replaced within it; a leader that cannot renew it\n"
	"                        steps down (by its own clock) before it can expire\n"
	"                        and stands by again\n"
	"  --leader              with --etcd: print who leads (name, address, term)\n";

static const char ras_help[] =
	"Usage: peregrine ras --lab PREFIX [OPTIONS]\n"
	"       peregrine ras --topo SPEC --key FILE --listen ADDR:PORT --directory ADDR:PORT\n"
	"                     --switch NAME=ADDR:PORT ... [OPTIONS]\n"
	"       peregrine ras (--lab PREFIX | --topo SPEC) --print-fib [--json]\n"
	"       peregrine ras (--lab PREFIX | --status-file FILE) --status [--json]\n"
	"\n"
	"Run the Route Algorithm Server: compute every server's two trees, program\n"
	"every switch through its switchd (the primary MAC along tree 0, the backup\n"
	"MAC along tree 1), tell the directory the servers' MACs are available, and\n"
	"on a link or switch failure reported by a switchd mark the affected MACs\n"
	"unavailable, reprogram the switches and mark them available again.  At\n"
	"start it reads every switch's table and changes only what differs, so a\n"
	"restart does not disturb traffic.  From the agents' traffic reports it\n"
	"routes the heaviest VM pairs direct (route_lb, within the switches' FIB\n"
	"capacity) and tells their agents (DIRECT) once the entries are in place;\n"
	"it follows VM moves (MOVED).  docs/ras.md has the details.\n"
	"\n"
	"  --lab PREFIX          the lab that is up under PREFIX: its topology, key,\n"
	"                        switchd addresses, the directory at 172.31.0.1:7300,\n"
	"                        listening on 172.31.0.1:7500 (run it in the lab's\n"
	"                        management namespace)\n"
	"  --topo SPEC           a topology spec or file (docs/topologies.md)\n"
	"  --switch NAME=ADDR:PORT  a switch's switchd (repeat; switches without one\n"
	"                        are not programmed)\n"
	"  --key FILE            shared key of the management network\n"
	"  --listen ADDR:PORT    where switchds send link reports\n"
	"  --directory ADDR:PORT[,ADDR:PORT...] the directory server; several: the\n"
	"                        servers of a replicated directory, the next one\n"
	"                        used when the last stops answering (docs/ha.md).\n"
	"                        With --lab, --listen and --directory replace the\n"
	"                        lab's management addresses (a lab's ha: section)\n"
	"  --print-fib           print the computed forwarding tables and exit\n"
	"  --status              print the running RAS's status (counters, direct\n"
	"                        routes) from its status file and exit\n"
	"  --status-file FILE    where the status is written every second (with --lab\n"
	"                        default /run/peregrine/lab-PREFIX/ras-status.json)\n"
	"\n"
	"Direct routes (traffic reported by the agents):\n"
	"  --lb-interval MS      recompute the direct routes this often (default %u)\n"
	"  --max-pairs N         route at most the N heaviest pairs direct (default %u)\n"
	"  --min-mbps X          pairs below X Mbit/s are never direct (default %.0f)\n"
	"  --share Z             stop once the pairs taken carry this fraction of all\n"
	"                        traffic (0 < Z < 1; default: no limit)\n"
	"  --fib-capacity N      every switch holds at most N entries (default: the\n"
	"                        topology's or lab's capacity; none: no limit)\n"
	"  --no-direct           count traffic, route nothing direct\n"
	"\n"
	"  --fail-link A,B       with --print-fib: the link between nodes A and B\n"
	"                        is down (repeat)\n"
	"  --fail-node NAME      with --print-fib: the switch NAME has failed (repeat)\n"
	"  --json                with --print-fib or --status: JSON\n"
	"  --log-level LEVEL     error, warn, info (default) or debug\n"
	DAEMON_HELP_METRICS
	"  --name NAME           name in log lines (the lab finds its daemons by it)\n"
	"  -h, --help            this text\n"
	"\n"
	"SIGTERM or SIGINT stops it cleanly.  With --lab, the environment variable\n"
	"PEREGRINE_NO_RAS makes it exit at once (a lab whose fabric tests program\n"
	"the switches by hand).\n";

struct rc_opts {
	const char *lab, *topo, *key, *listen, *directory;
	const char *switches[RC_MAX_SWITCH_OPTS];
	int nswitches;
	const char *fails[RC_MAX_SWITCH_OPTS];
	int nfails;
	bool print, json, status, no_direct;
	const char *status_file;
	const char *etcd;
	bool leader;
	uint32_t ha_ttl;
	uint32_t lb_ms, max_pairs, fib_cap;
	double min_mbps, share;
};

static int parse_opts(int argc, char **argv, struct rc_opts *o, struct daemon *dm)
{
	static const struct option longs[] = {
		{ "lab", required_argument, NULL, 'L' }, { "topo", required_argument, NULL, 't' },
		{ "switch", required_argument, NULL, 's' }, { "key", required_argument, NULL, 'k' },
		{ "listen", required_argument, NULL, 'l' },
		{ "directory", required_argument, NULL, 'd' },
		{ "print-fib", no_argument, NULL, 'p' },
		{ "fail-link", required_argument, NULL, 'F' },
		{ "fail-node", required_argument, NULL, 'N' }, { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' }, DAEMON_OPTIONS,
		{ "status", no_argument, NULL, 'S' },
		{ "status-file", required_argument, NULL, 'f' },
		{ "lb-interval", required_argument, NULL, 'i' },
		{ "max-pairs", required_argument, NULL, 'm' },
		{ "min-mbps", required_argument, NULL, 'M' },
		{ "share", required_argument, NULL, 'z' },
		{ "fib-capacity", required_argument, NULL, 'c' },
		{ "no-direct", no_argument, NULL, 'D' },
		{ "etcd", required_argument, NULL, 'E' },
		{ "ha-ttl", required_argument, NULL, 'T' },
		{ "leader", no_argument, NULL, 'W' },
		{ 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case 'L': o->lab = optarg; break;
		case 't': o->topo = optarg; break;
		case 'k': o->key = optarg; break;
		case 'l': o->listen = optarg; break;
		case 'd': o->directory = optarg; break;
		case 'p': o->print = true; break;
		case 'j': o->json = true; break;
		case 's':
			if (o->nswitches == RC_MAX_SWITCH_OPTS)
				return cli_usage_error("ras", "too many --switch options");
			o->switches[o->nswitches++] = optarg;
			break;
		case 'F':
		case 'N':
			if (o->nfails == RC_MAX_SWITCH_OPTS)
				return cli_usage_error("ras", "too many failures");
			/* links keep their comma, nodes get none */
			o->fails[o->nfails++] = optarg;
			if ((c == 'N') != !strchr(optarg, ','))
				return cli_usage_error("ras", "--fail-link A,B or --fail-node NAME");
			break;
		case 'S': o->status = true; break;
		case 'f': o->status_file = optarg; break;
		case 'D': o->no_direct = true; break;
		case 'E': o->etcd = optarg; break;
		case 'W': o->leader = true; break;
		case 'T':
			if (!parse_u32(optarg, 60, &o->ha_ttl) || !o->ha_ttl)
				return cli_usage_error("ras", "--ha-ttl: 1 to 60 seconds");
			break;
		case 'i':
			if (!parse_u32(optarg, 3600000, &o->lb_ms) || o->lb_ms < 10)
				return cli_usage_error("ras", "--lb-interval: 10 to 3600000 ms");
			break;
		case 'm':
			if (!parse_u32(optarg, 10000000, &o->max_pairs) || !o->max_pairs)
				return cli_usage_error("ras", "--max-pairs: 1 to 10000000");
			break;
		case 'c':
			if (!parse_u32(optarg, 100000000, &o->fib_cap) || !o->fib_cap)
				return cli_usage_error("ras", "--fib-capacity: 1 to 100000000");
			break;
		case 'M':
			if (!parse_double(optarg, &o->min_mbps) || !(o->min_mbps > 0) ||
			    o->min_mbps > 1e9)
				return cli_usage_error("ras", "--min-mbps: a positive number");
			break;
		case 'z':
			if (!parse_double(optarg, &o->share) || !(o->share > 0 && o->share < 1))
				return cli_usage_error("ras", "--share: between 0 and 1");
			break;
		case 'h':
			printf(ras_help, RAS_LB_MS, RAS_MAX_PAIRS, RAS_MIN_MBPS);
			fputs(ras_help_ha, stdout);
			exit(0);
		default: {
			int rc = daemon_opt(dm, c, optarg);

			if (rc != 1)
				return rc;
		}
		}
	}
	if (optind < argc)
		return cli_usage_error("ras", "unexpected argument '%s'", argv[optind]);
	if (o->leader)
		return o->etcd ? 0 : cli_usage_error("ras", "--leader needs --etcd");
	if (o->status && !o->lab && !o->status_file)
		return cli_usage_error("ras", "--status needs --lab or --status-file");
	if (!o->status && !o->lab == !o->topo)
		return cli_usage_error("ras", "give exactly one of --lab and --topo");
	if (o->topo && !o->print && !o->status && (!o->key || !o->listen || !o->directory))
		return cli_usage_error("ras", "--topo needs --key, --listen and --directory");
	return 0;
}

/* Everything the daemon needs, from a lab or from the options. */
struct rc_setup {
	struct lab lab;
	bool have_lab;
	struct topo *t;
	struct ras_addr *sw;
	struct auth_key key;
	struct sockaddr_in listen, dir;
	struct ras_addr more_dirs[RAS_MAX_MORE_DIRS];	/* --directory A,B,... */
	unsigned nmore_dirs;
	char status_buf[300];
	const char *status_path;
};

/* --directory A[,B...]: the first into s->dir, the others (servers of a
 * replicated directory, tried in turn) into s->more_dirs. */
static int parse_dirs(const char *list, struct rc_setup *s, char *err, size_t n)
{
	char buf[512], *save = NULL, *tok;
	unsigned k = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	s->nmore_dirs = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save), k++) {
		struct sockaddr_in a;

		if (udp_parse_addr(tok, &a, err, n))
			return -1;
		if (k == 0) {
			s->dir = a;
			continue;
		}
		if (s->nmore_dirs == RAS_MAX_MORE_DIRS) {
			snprintf(err, n, "--directory: at most %d servers", RAS_MAX_MORE_DIRS + 1);
			return -1;
		}
		s->more_dirs[s->nmore_dirs++] =
			(struct ras_addr){ ntohl(a.sin_addr.s_addr), ntohs(a.sin_port) };
	}
	if (!k) {
		snprintf(err, n, "--directory: no address");
		return -1;
	}
	return 0;
}

static int setup_lab(const struct rc_opts *o, struct rc_setup *s, char *err, size_t n)
{
	char dir[256], path[300];

	if (lab_load_running(o->lab, &s->lab, err, n))
		return -1;
	s->have_lab = true;
	s->t = s->lab.topo;
	s->sw = xcalloc(s->t->nnodes, sizeof(*s->sw));
	for (uint32_t i = 0; i < s->t->nnodes; i++)
		if (!topo_is_server(s->t, i))
			s->sw[i] = (struct ras_addr){ lab_mgmt_ip(&s->lab, i), s->lab.switchd_port };
	lab_state_dir(o->lab, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
	if (!o->print && auth_key_load(path, &s->key, err, n))
		return -1;
	s->listen = (struct sockaddr_in){ .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(lab_mgmt_self_ip(&s->lab)),
					  .sin_port = htons(s->lab.ras_port) };
	s->dir = s->listen;
	s->dir.sin_port = htons(LAB_DIR_PORT);
	/* a lab with a replicated control plane (lab/ha.c): our own namespace */
	if ((o->listen && udp_parse_addr(o->listen, &s->listen, err, n)) ||
	    (o->directory && parse_dirs(o->directory, s, err, n)))
		return -1;
	for (uint32_t i = 0; i < s->t->nnodes; i++)
		if (!topo_is_server(s->t, i))
			s->t->nodes[i].fib_cap = lab_switch_fib(&s->lab, i);
	snprintf(s->status_buf, sizeof(s->status_buf), "%s/ras-status.json", dir);
	s->status_path = o->status_file ? o->status_file : s->status_buf;
	return 0;
}

static int setup_generic(const struct rc_opts *o, struct rc_setup *s, char *err, size_t n)
{
	if (topo_from_spec(o->topo, &s->t, err, n))
		return -1;
	s->sw = xcalloc(s->t->nnodes, sizeof(*s->sw));
	for (int i = 0; i < o->nswitches; i++) {
		char name[128];
		const char *eq = strchr(o->switches[i], '=');
		struct sockaddr_in a;
		uint32_t node;

		if (!eq || (size_t)(eq - o->switches[i]) >= sizeof(name)) {
			snprintf(err, n, "--switch '%s': want NAME=ADDR:PORT", o->switches[i]);
			return -1;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(eq - o->switches[i]), o->switches[i]);
		node = topo_find(s->t, name);
		if (node == UINT32_MAX || topo_is_server(s->t, node)) {
			snprintf(err, n, "--switch: no switch '%s' in the topology", name);
			return -1;
		}
		if (udp_parse_addr(eq + 1, &a, err, n))
			return -1;
		s->sw[node] = (struct ras_addr){ ntohl(a.sin_addr.s_addr), ntohs(a.sin_port) };
	}
	s->status_path = o->status_file;
	if (o->print)
		return 0;
	if (auth_key_load(o->key, &s->key, err, n) || udp_parse_addr(o->listen, &s->listen, err, n) ||
	    parse_dirs(o->directory, s, err, n))
		return -1;
	return 0;
}

static void setup_free(struct rc_setup *s)
{
	if (s->have_lab)
		lab_free(&s->lab);
	else
		topo_free(s->t);
	free(s->sw);
}

/* ---- --print-fib ---------------------------------------------------------------- */
struct pf_arg {
	const struct topo *t;
	json_t *arr;
	uint32_t sw;
};

static void pf_entry(void *arg, uint32_t sw, uint32_t owner, unsigned tree, uint16_t port)
{
	struct pf_arg *a = arg;
	uint8_t mac[6];
	char mb[18];

	ras_server_mac(a->t->nodes[owner].index, tree, mac);
	swp_mac_str(mac, mb);
	if (a->arr)
		json_array_append_new(a->arr, json_pack("{s:s,s:i}", "mac", mb, "port", port));
	else
		printf("%s %s %u\n", a->t->nodes[sw].name, mb, port);
}

/* The failures named on the command line into link_dead / node_dead. */
static int parse_fails(const struct topo *t, const struct rc_opts *o, uint8_t *ld, uint8_t *nd)
{
	for (int i = 0; i < o->nfails; i++) {
		char a[128], *b;
		uint32_t na, nb = UINT32_MAX;
		bool found = false;

		snprintf(a, sizeof(a), "%s", o->fails[i]);
		if ((b = strchr(a, ',')))
			*b++ = 0;
		na = topo_find(t, a);
		if (b)
			nb = topo_find(t, b);
		if (na == UINT32_MAX || (b && nb == UINT32_MAX))
			return cli_usage_error("ras", "'%s': no such node", o->fails[i]);
		if (!b) {
			nd[na] = 1;
			continue;
		}
		for (uint32_t p = 0; p < t->nodes[na].degree; p++) {
			const struct topo_adj *adj = topo_port(t, na, p);

			if (adj->peer == nb) {
				ld[adj->link] = 1;
				found = true;
			}
		}
		if (!found)
			return cli_usage_error("ras", "'%s': no such link", o->fails[i]);
	}
	return 0;
}

static int print_fib(const struct topo *t, const struct rc_opts *o)
{
	struct route_trees *rt;
	bool json = o->json;
	json_t *root = json ? json_object() : NULL;
	uint8_t *ld = xcalloc(t->nlinks + 1, 1), *nd = xcalloc(t->nnodes, 1);
	char err[256];
	int rc = parse_fails(t, o, ld, nd);

	if (!rc && route_trees_new(t, ld, nd, &rt, err, sizeof(err)))
		rc = cli_error("ras: %s", err);
	free(ld);
	free(nd);
	if (rc) {
		json_decref(root);
		return rc;
	}
	for (uint32_t i = 0; i < t->nnodes; i++) {
		struct pf_arg a = { t, NULL, i };

		if (topo_is_server(t, i) || route_node_dead(rt)[i])
			continue;
		a.arr = json ? json_array() : NULL;
		route_fib_foreach(rt, i, pf_entry, &a);
		if (root)
			json_object_set_new(root, t->nodes[i].name, a.arr);
	}
	if (root) {
		json_print(stdout, root);
	}
	route_trees_free(rt);
	return 0;
}

/* ---- metrics (docs/metrics.md) ----------------------------------------------- */
struct ras_metric {
	const char *name, *help;
	size_t off;
	bool gauge, u32;
};

#define RC_C(f, h) { "peregrine_ras_" #f "_total", h, offsetof(struct ras_stats, f), false, false }
#define RC_G32(f, h) { "peregrine_ras_" #f, h, offsetof(struct ras_stats, f), true, true }
static const struct ras_metric ras_metrics[] = {
	RC_C(link_reports, "link reports from switches"),
	RC_C(link_events, "link state changes applied"),
	RC_C(node_events, "switch failures and recoveries applied"),
	RC_C(old_reports, "link reports older than one already applied"),
	RC_C(batches, "batches of switch operations sent"),
	RC_C(retransmits, "batches retransmitted"),
	RC_C(lost, "batches never answered"),
	RC_C(ops_sent, "forwarding entry operations sent to switches"),
	RC_C(ops_ok, "operations the switches applied"),
	RC_C(dumps, "switch tables read back whole"),
	RC_C(avail_down, "(server, tree) pairs marked unavailable"),
	RC_C(avail_up, "(server, tree) pairs marked available again"),
	RC_C(audits, "switch tables checked (entry count and sum)"),
	RC_C(audits_failed, "switch tables found not as the RAS held them"),
	RC_C(audits_sum_failed, "switch tables with the right entry count and wrong entries"),
	RC_C(port_audits, "switch port states read by an audit"),
	RC_C(ports_wrong, "switch ports found in another state than the RAS held"),
	RC_C(traffic_reports, "traffic reports from agents"),
	RC_C(lb_runs, "direct-route computations"),
	RC_C(direct_sent, "DIRECT datagrams sent to agents"),
	RC_C(direct_retransmits, "DIRECT datagrams retransmitted"),
	RC_C(direct_on, "direct routes acknowledged on"),
	RC_C(direct_off, "direct routes acknowledged off"),
	RC_C(agents_lost, "agents that stopped reporting"),
	RC_C(agent_restarts, "agents that restarted"),
	RC_C(moved, "VM moves told to the RAS"),
	RC_C(avail_requests, "SET_AVAIL requests sent to the directory"),
	RC_C(avail_acked, "availability records the directory acknowledged"),
	RC_C(avail_timeouts, "SET_AVAIL requests never answered (sent afresh)"),
	RC_C(dir_moves, "moves to another directory server (--directory A,B,...)"),
	RC_C(dir_restarts, "directory restarts seen"),
	RC_G32(matrix_pairs, "VM pairs in the traffic window"),
	RC_G32(vms_direct, "destination VMs some agent sends direct to"),
	RC_G32(entries_direct, "direct entries the switches hold"),
	RC_G32(agents_known, "agents reporting"),
	RC_G32(avail_pending, "availability changes queued or in flight to the directory"),
};

static void render_metrics(void *arg, struct metrics_text *t)
{
	static const uint64_t ub_ms[RAS_EV_BUCKETS] = RAS_EV_BUCKETS_MS;
	const struct rasd *d = arg;
	const struct ras_stats *st = ras_stats(d->r);
	double le[RAS_EV_BUCKETS];
	uint64_t cum[RAS_EV_BUCKETS], c = 0;
	char reason[64];

	for (int i = 0; i < RAS_DROP_COUNT; i++) {
		metrics_name_part(ras_drop_name(i), reason, sizeof(reason));
		metrics_sample(t, METRICS_COUNTER, "peregrine_ras_drops_total",
			       "datagrams dropped, by reason", (double)st->drops[i], "reason",
			       reason, NULL);
	}
	for (size_t i = 0; i < ARRAY_SIZE(ras_metrics); i++) {
		const struct ras_metric *m = &ras_metrics[i];
		const char *p = (const char *)st + m->off;
		double v = m->u32 ? (double)*(const uint32_t *)(const void *)p
				  : (double)*(const uint64_t *)(const void *)p;

		metrics_sample(t, m->gauge ? METRICS_GAUGE : METRICS_COUNTER, m->name, m->help, v,
			       NULL);
	}
	metrics_sample(t, METRICS_GAUGE, "peregrine_ras_converged",
		       "1 when every live switch holds what it should", st->converged, NULL);
	for (int b = 0; b < RAS_EV_BUCKETS; b++) {
		le[b] = (double)ub_ms[b] / 1000.0;
		cum[b] = (c += st->ev_hist[b]);
	}
	metrics_histogram(t, "peregrine_ras_reprogram_seconds",
			  "time from a link or switch event to the fabric programmed", le, cum,
			  RAS_EV_BUCKETS, st->ev_count, (double)st->ev_sum_ns / 1e9, NULL);
}

/* ---- running ------------------------------------------------------------------ */
static volatile sig_atomic_t ha_stop;

static void on_ha_signal(int sig)
{
	(void)sig;
	ha_stop = 1;
}

/* What reached our socket while we stood by (other standbys' probes,
 * reports meant for the leader of then) is stale: the take-over reads
 * every switch's table instead. */
static void drain_standby_input(int fd)
{
	char b[64];
	unsigned n = 0;

	while (n < RC_DRAIN_MAX && recv(fd, b, sizeof(b), MSG_DONTWAIT | MSG_TRUNC) >= 0)
		n++;
	if (n)
		log_info("dropped %u datagrams that arrived while standing by", n);
}

/* Campaign until we lead: 0 and the term, 1 to stop (a signal or an error). */
static int ha_campaign(const struct rc_opts *o, const struct rc_setup *s, struct daemon *dm,
		       struct rasd *d, int64_t *term)
{
	struct sigaction sa = { .sa_handler = on_ha_signal }, old_int, old_term;
	char name[160], ab[32], err[256];
	int rc;

	snprintf(name, sizeof(name), "%s %s", dm->name, udp_addr_str(&s->listen, ab, sizeof(ab)));
	if (!(d->ha = ras_ha_open(o->etcd, name, o->ha_ttl, err, sizeof(err)))) {
		cli_error("ras: %s", err);
		return 1;
	}
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	log_info("campaigning for leadership in etcd as '%s'", name);
	rc = ras_ha_wait(d->ha, &ha_stop, term);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (rc) {
		log_info("stopped while standing by");
		ras_ha_close(d->ha);
		d->ha = NULL;
		return 1;
	}
	log_info("leading (term %" PRId64 "): taking over from the switches' tables", *term);
	return 0;
}

/* The keep-alive thread found our lease gone: a standby may lead now. */
static void on_ha_lost(void *arg, int fd)
{
	struct rasd *d = arg;

	(void)fd;
	d->ha_lost = true;
	loop_stop(d->loop);	/* a standby takes over; the switches fence us */
}

static int serve(struct rc_setup *s, const struct rc_opts *o, struct daemon *dm)
{
	struct rasd d = { .rl = LOG_RL_INIT(1000, 5), .t = s->t, .status_path = s->status_path,
			  .dm = dm };
	struct ras_cfg c = { .t = s->t, .sw = s->sw, .key = s->key, .seq_base = wall_ns(),
			     .lb_ms = o->lb_ms, .max_pairs = o->max_pairs, .min_mbps = o->min_mbps,
			     .share = o->share, .no_direct = o->no_direct,
			     .dir = { ntohl(s->dir.sin_addr.s_addr), ntohs(s->dir.sin_port) },
			     .wall_offset_ms = (int64_t)(wall_ns() / 1000000) -
					       (int64_t)(mono_ns() / 1000000),
			     .log = CORE_LOG_STDERR, .nmore_dirs = s->nmore_dirs };
	struct loop_io *io;
	char err[256], ab[32];
	int buf = RC_SOCKBUF;
	int64_t term = 0;
	struct loop_io *hio = NULL;
	int lfd = -1;

	memcpy(c.more_dirs, s->more_dirs, sizeof(c.more_dirs));
	/* Listen before campaigning: a standby's probe takes a refusing
	 * address for a dead leader and ends its term (cmd/ras_ha.h), so a
	 * leader must never be elected with its port still closed. */
	if ((d.fd = udp_open(&s->listen, RC_SOCKBUF)) < 0)
		return cli_error("ras: listen %s: %s", udp_addr_str(&s->listen, ab, sizeof(ab)),
				 strerror(-d.fd));
	if (o->etcd) {
		if (ha_campaign(o, s, dm, &d, &term)) {
			close(d.fd);
			return ha_stop ? 0 : 1;
		}
		drain_standby_input(d.fd);
		/* Every request above every request of an older leader. */
		c.seq_base = (uint64_t)term << SW_TERM_SHIFT;
		/* at once: the lease must be renewed while we set up, or we
		 * would step down before leading (ha_may_act) */
		if ((lfd = ras_ha_keepalive_start(d.ha)) < 0) {
			cli_error("ras: keep-alive thread: %s", strerror(-lfd));
			ras_ha_close(d.ha);
			close(d.fd);
			return 1;
		}
	}
	if (ras_new(&c, mono_ns(), &d.r, err, sizeof(err))) {
		ras_ha_close(d.ha);
		close(d.fd);
		return cli_error("ras: %s", err);
	}
	setsockopt(d.fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
	ras_out_init(&d.out);
	udp_batch_init(&d.rx);
	udp_batch_init(&d.tx);
	daemon_start(dm);
	d.loop = dm->loop;
	io = loop_io_add(d.loop, d.fd, on_readable, &d);
	daemon_every(dm, RC_STATUS_MS, on_status, &d);
	if (d.ha) {
		hio = loop_io_add(d.loop, lfd, on_ha_lost, &d);
		daemon_every(dm, RAS_HA_STEP_CHECK_MS, on_ha_check, &d);
	}
	if (daemon_metrics(dm, render_metrics, &d)) {
		if (hio)
			loop_io_del(d.loop, hio);
		loop_io_del(d.loop, io);
		daemon_free(dm);
		close(d.fd);
		ras_out_free(&d.out);
		ras_free(d.r);
		ras_ha_close(d.ha);
		return 1;
	}
	log_info("listening on %s, %u switches, %u servers",
		 udp_addr_str(&s->listen, ab, sizeof(ab)), s->t->nswitches, s->t->nservers);
	d.t0_ns = mono_ns();
	ras_start(d.r, mono_ns(), &d.out);
	flush_out(&d);
	daemon_core_timer(dm, on_timer, &d);
	daemon_run(dm);
	log_info("stopping: %" PRIu64 " link reports, %" PRIu64 " ops sent, %" PRIu64
		 " retransmits", ras_stats(d.r)->link_reports, ras_stats(d.r)->ops_sent,
		 ras_stats(d.r)->retransmits);
	write_status(&d);
	if (hio)
		loop_io_del(d.loop, hio);
	loop_io_del(d.loop, io);
	daemon_free(dm);
	close(d.fd);
	ras_out_free(&d.out);
	ras_free(d.r);
	if (d.ha) {
		ras_ha_keepalive_stop(d.ha);
		if (!d.ha_lost)
			ras_ha_resign(d.ha);	/* a standby takes over at once */
		ras_ha_close(d.ha);
	}
	/* Stepped down, or our lease or key gone: another may lead now, so
	 * stand by again (a new lease, a new term if we win). */
	if (d.ha_stepped_down || d.ha_lost)
		return RC_STEPPED_DOWN;
	return 0;
}

int cmd_ras(int argc, char **argv)
{
	struct rc_opts o = { 0 };
	struct rc_setup s = { 0 };
	struct daemon dm;
	char err[256];
	int rc;

	daemon_init(&dm, "ras");
	if ((rc = parse_opts(argc, argv, &o, &dm)))
		return rc;
	log_set_ident(dm.name);
	if (o.leader) {
		char v[RAS_HA_VALUE_MAX + 32];

		rc = ras_ha_leader(o.etcd, v, sizeof(v));
		if (rc < 0)
			return cli_error("ras: etcd %s: %s", o.etcd, strerror(-rc));
		if (o.json) {
			char nm[RAS_HA_VALUE_MAX + 32] = "", ad[64] = "";
			long long tm = 0;

			if (rc == 1)
				sscanf(v, "%159s %63s %lld", nm, ad, &tm);
			printf("{\"leader\": %s%s%s, \"address\": \"%s\", \"term\": %lld}\n",
			       rc == 1 ? "\"" : "", rc == 1 ? nm : "null", rc == 1 ? "\"" : "", ad, tm);
		} else {
			printf("%s\n", rc == 1 ? v : "no leader");
		}
		return 0;
	}
	/* Tests of a bare fabric program the switches by hand. */
	if (o.lab && !o.print && getenv("PEREGRINE_NO_RAS")) {
		log_info("PEREGRINE_NO_RAS is set: not running");
		return 0;
	}
	if (o.status) {
		char path[300];

		if (o.status_file)
			return print_status(o.status_file, o.json);
		lab_state_dir(o.lab, path, sizeof(path) - 20);
		strcat(path, "/ras-status.json");
		return print_status(path, o.json);
	}
	if ((o.lab ? setup_lab(&o, &s, err, sizeof(err)) : setup_generic(&o, &s, err, sizeof(err)))) {
		setup_free(&s);
		return cli_error("ras: %s", err);
	}
	if (o.fib_cap)
		for (uint32_t i = 0; i < s.t->nnodes; i++)
			if (!topo_is_server(s.t, i))
				s.t->nodes[i].fib_cap = o.fib_cap;
	if (o.print)
		rc = print_fib(s.t, &o);
	else
		while ((rc = serve(&s, &o, &dm)) == RC_STEPPED_DOWN)
			log_info("standing by again: campaigning for leadership");
	setup_free(&s);
	return rc;
}
