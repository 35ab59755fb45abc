/* peregrine swctl: talk to a switchd by hand, and listen for link reports. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/swctl.h"
#include "switchd/switchd.h"
#include "lib/parse.h"
#include "lib/udp.h"

static const char swctl_help[] =
	"Usage: peregrine swctl --to ADDR:PORT --key FILE [--json] add MAC PORT [MAC PORT...]\n"
	"       peregrine swctl --to ADDR:PORT --key FILE [--json] del MAC [MAC...]\n"
	"       peregrine swctl --to ADDR:PORT --key FILE [--json] dump [fib|ports]\n"
	"       peregrine swctl --key FILE [--json] listen ADDR:PORT [--count N] [--timeout MS]\n"
	"\n"
	"Install and remove forwarding entries on a switch through its switchd,\n"
	"read its table and ports, or stand in for the RAS and print the link\n"
	"reports switches send (acknowledging each).  Run it where the management\n"
	"network is reachable (in a lab: peregrine lab exec mgmt -- ...).\n"
	"\n"
	"  add MAC PORT   static entry: frames to MAC leave through PORT (number)\n"
	"  del MAC        remove the entry for MAC\n"
	"  dump           the FIB (sorted by MAC) with its use, or the ports\n"
	"  listen         print each link report: switch, port, state, seq, and\n"
	"                 recv_ns (CLOCK_REALTIME when it arrived); stop after\n"
	"                 --count reports or --timeout ms (default: never)\n"
	"\n"
	"Options:\n"
	"  --to ADDR:PORT   the switchd\n"
	"  --key FILE       the management key\n"
	"  --id N           sender id in requests; 4294967040\n"
	"  --term N         number requests as a leading RAS of term N does\n"
	"                   (N << 40 | n; with --id 4294966784, the RAS's id,\n"
	"                   this tests the fence: docs/ha.md)\n"
	"  --json           machine-readable output (listen: one object per line)\n"
	"  -h, --help\n"
	"\n"
	"Exit status: 0 when every operation succeeded, 1 when the switch refused\n"
	"one (the reason is printed), 2 for usage errors.\n";

/* ---- shared with peregrine lab fib -------------------------------------------- */
int swctl_print_ack(const struct swp_op *ops, uint16_t n, const uint8_t *status,
		    uint32_t used, uint32_t cap, bool json)
{
	int bad = 0;
	char mac[18];
	json_t *arr = json_array(), *j;

	for (uint16_t i = 0; i < n; i++) {
		bad += status[i] != SWP_OK;
		if (json) {
			j = json_object();
			JSET(j, "op", JSTR(ops[i].kind == SWP_OP_ADD ? "add" : "del"));
			JSET(j, "mac", JSTR(swp_mac_str(ops[i].mac, mac)));
			if (ops[i].kind == SWP_OP_ADD)
				JSET(j, "port", JINT(ops[i].port));
			JSET(j, "status", JSTR(swp_status_name(status[i])));
			json_array_append_new(arr, j);
		} else {
			printf("%s %s", ops[i].kind == SWP_OP_ADD ? "add" : "del",
			       swp_mac_str(ops[i].mac, mac));
			if (ops[i].kind == SWP_OP_ADD)
				printf(" port %u", ops[i].port);
			printf(": %s\n", swp_status_name(status[i]));
		}
	}
	if (json) {
		j = json_object();
		JSET(j, "ops", arr);
		JSET(j, "fib_used", JINT(used));
		JSET(j, "fib_capacity", JINT(cap));
		json_print(stdout, j);
	} else {
		json_decref(arr);
		printf("fib %u/%u\n", used, cap);
	}
	return bad ? 1 : 0;
}

int swctl_apply(struct swc *c, const struct swp_op *ops, uint32_t n, bool json)
{
	uint8_t *status = xmalloc(n + 1);
	uint32_t used = 0, cap = 0;
	int err = 0, rc;

	for (uint32_t off = 0; off < n && !err; off += SWP_MAX_OPS) {
		uint16_t k = (uint16_t)MIN(n - off, (uint32_t)SWP_MAX_OPS);

		err = swc_fib_ops(c, ops + off, k, status + off, &used, &cap);
	}
	if (err) {
		free(status);
		return cli_error("switchd at %s:%u: %s", inet_ntoa(c->to.sin_addr),
				 ntohs(c->to.sin_port),
				 err == -ETIMEDOUT ? "no answer" : strerror(-err));
	}
	rc = swctl_print_ack(ops, (uint16_t)MIN(n, 65535u), status, used, cap, json);
	free(status);
	return rc;
}

int swctl_dump(struct swc *c, bool ports, bool json)
{
	char mac[18];
	json_t *j = json_object(), *arr = json_array();
	int err;

	if (ports) {
		struct swp_port *p;
		uint32_t n;

		if ((err = swc_dump_ports(c, &p, &n)))
			goto fail;
		for (uint32_t i = 0; i < n; i++) {
			json_t *o = json_object();

			JSET(o, "port", JINT(p[i].port));
			JSET(o, "up", JBOOL(p[i].state == SWP_PORT_UP));
			json_array_append_new(arr, o);
			if (!json)
				printf("port %u %s\n", p[i].port, p[i].state ? "up" : "down");
		}
		free(p);
		JSET(j, "ports", arr);
	} else {
		struct swp_fib_entry *e;
		uint32_t n, used, cap;

		if ((err = swc_dump_fib(c, &e, &n, &used, &cap)))
			goto fail;
		for (uint32_t i = 0; i < n; i++) {
			json_t *o = json_object();

			JSET(o, "mac", JSTR(swp_mac_str(e[i].mac, mac)));
			JSET(o, "port", JINT(e[i].port));
			json_array_append_new(arr, o);
			if (!json)
				printf("%s port %u\n", swp_mac_str(e[i].mac, mac), e[i].port);
		}
		free(e);
		JSET(j, "fib_used", JINT(used));
		JSET(j, "fib_capacity", JINT(cap));
		JSET(j, "entries", arr);
		if (!json)
			printf("fib %u/%u\n", used, cap);
	}
	if (json)
		json_print(stdout, j);
	else
		json_decref(j);
	return 0;
fail:
	json_decref(j);
	json_decref(arr);
	return cli_error("switchd at %s:%u: %s", inet_ntoa(c->to.sin_addr),
			 ntohs(c->to.sin_port), err == -ETIMEDOUT ? "no answer" : strerror(-err));
}

/* "add MAC PORT ..." / "del MAC ..." into ops.  Returns count or -1. */
static int parse_ops(char **argv, int argc, bool add, struct swp_op **out)
{
	int step = add ? 2 : 1, n = 0;
	struct swp_op *ops;

	if (argc == 0 || argc % step)
		return cli_usage_error("swctl", add ? "add: expected MAC PORT pairs"
				       : "del: expected MACs"), -1;
	ops = xcalloc((size_t)(argc / step) + 1, sizeof(*ops));
	for (int i = 0; i < argc; i += step, n++) {
		uint32_t port = 0;

		ops[n].kind = add ? SWP_OP_ADD : SWP_OP_DEL;
		if (!swp_mac_parse(argv[i], ops[n].mac) ||
		    (add && !parse_u32(argv[i + 1], SWP_MAX_PORT, &port))) {
			free(ops);
			cli_usage_error("swctl", "'%s%s%s': expected MAC%s", argv[i],
					add ? " " : "", add ? argv[i + 1] : "",
					add ? " PORT (0..65534)" : "");
			return -1;
		}
		ops[n].port = (uint16_t)port;
	}
	*out = ops;
	return n;
}

/* ---- listen ---------------------------------------------------------------------
 * A report is retransmitted until acknowledged, so the same (switch, seq)
 * may arrive twice: print it once. */
enum { SWCTL_SEEN = 256 };

static bool seen_before(uint32_t sender, uint64_t seq)
{
	static struct { uint32_t sender; uint64_t seq; } seen[SWCTL_SEEN];
	static unsigned next;

	for (unsigned i = 0; i < SWCTL_SEEN; i++)
		if (seen[i].seq == seq && seen[i].sender == sender && seq)
			return true;
	seen[next].sender = sender;
	seen[next].seq = seq;
	next = (next + 1) % SWCTL_SEEN;
	return false;
}

/* ---- listen (the loop) --------------------------------------------------------------------- */
static int listen_reports(const char *addr, const struct auth_key *key, long count,
			  long timeout_ms, bool json)
{
	struct sockaddr_in la;
	uint8_t buf[SWP_MAX_DGRAM], ack[128];
	uint64_t start = mono_ns(), ack_seq = wall_ns();
	char err[256], from_s[32];
	int fd;
	long seen = 0;

	if (udp_parse_addr(addr, &la, err, sizeof(err)))
		return cli_usage_error("swctl", "%s", err);
	if ((fd = udp_open(&la, 1 << 20)) < 0)
		return cli_error("listen %s: %s", addr, strerror(-fd));
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (count < 0 || seen < count) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		int wait = -1;
		struct swp_msg m;
		ssize_t n;

		if (timeout_ms >= 0) {
			int64_t left = timeout_ms - (int64_t)((mono_ns() - start) / 1000000);

			if (left <= 0)
				break;
			wait = (int)left;
		}
		if (poll(&p, 1, wait) <= 0)
			continue;
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0 || swp_decode(buf, (size_t)n, key, &m) || m.h.type != SWP_LINK)
			continue;
		if (seen_before(m.h.sender, m.h.seq)) {	/* a retransmission */
			struct swp_hdr h = { .sender = 0, .seq = ++ack_seq };
			size_t len = swp_enc_link_ack(ack, sizeof(ack), &h, m.h.seq, key);

			sendto(fd, ack, len, 0, (struct sockaddr *)&from, fl);
			continue;
		}
		{
			uint64_t now = wall_ns();
			struct swp_hdr h = { .sender = 0, .seq = ++ack_seq };
			size_t len = swp_enc_link_ack(ack, sizeof(ack), &h, m.h.seq, key);

			sendto(fd, ack, len, 0, (struct sockaddr *)&from, fl);
			udp_addr_str(&from, from_s, sizeof(from_s));
			if (json)
				printf("{\"switch\": %u, \"from\": \"%s\", \"port\": %u, \"state\": \"%s\", "
				       "\"seq\": %llu, \"recv_ns\": %llu}\n", m.h.sender, from_s,
				       m.u.link.port, m.u.link.state ? "up" : "down",
				       (unsigned long long)m.h.seq, (unsigned long long)now);
			else
				printf("link switch=%u port=%u state=%s seq=%llu from=%s recv_ns=%llu\n",
				       m.h.sender, m.u.link.port, m.u.link.state ? "up" : "down",
				       (unsigned long long)m.h.seq, from_s, (unsigned long long)now);
		}
		seen++;
	}
	close(fd);
	return 0;
}

/* ---- main ------------------------------------------------------------------------ */
int cmd_swctl(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "key", required_argument, NULL, 'k' },
		{ "id", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "term", required_argument, NULL, 'E' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *to = NULL, *keyf = NULL, *sub;
	uint32_t id = 0xffffff00u, v, term = 0;
	long count = -1, timeout = -1;
	struct sockaddr_in ta;
	struct auth_key key;
	char err[256];
	bool json = false;
	struct swc c;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+hj", opts, NULL)) != -1) {
		switch (ch) {
		case 't': to = optarg; break;
		case 'k': keyf = optarg; break;
		case 'j': json = true; break;
		case 'i':
		case 'c':
		case 'T':
		case 'E':
			if (!parse_u32(optarg, UINT32_MAX, &v))
				return cli_usage_error("swctl", "'%s' is not a number", optarg);
			if (ch == 'i')
				id = v;
			else if (ch == 'E')
				term = v;
			else if (ch == 'c')
				count = v;
			else
				timeout = v;
			break;
		case 'h': fputs(swctl_help, stdout); return 0;
		default: return cli_usage_error("swctl", "bad option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("swctl", "expected add, del, dump or listen");
	sub = argv[optind++];
	if (!keyf)
		return cli_usage_error("swctl", "--key FILE is required");
	if (auth_key_load(keyf, &key, err, sizeof(err)))
		return cli_error("%s", err);
	if (!strcmp(sub, "listen")) {
		/* options may follow the address too */
		const char *addr = optind < argc ? argv[optind++] : NULL;

		while (optind < argc && (ch = getopt_long(argc, argv, "+hj", opts, NULL)) != -1) {
			if ((ch != 'c' && ch != 'T' && ch != 'j') ||
			    (ch != 'j' && !parse_u32(optarg, UINT32_MAX, &v)))
				return cli_usage_error("swctl", "listen: bad option");
			if (ch == 'c')
				count = v;
			else if (ch == 'T')
				timeout = v;
			else
				json = true;
		}
		if (!addr || optind != argc)
			return cli_usage_error("swctl", "listen: expected ADDR:PORT");
		return listen_reports(addr, &key, count, timeout, json);
	}
	if (!to)
		return cli_usage_error("swctl", "--to ADDR:PORT is required");
	if (udp_parse_addr(to, &ta, err, sizeof(err)))
		return cli_usage_error("swctl", "%s", err);
	if ((rc = swc_open(&c, &ta, &key, id)))
		return cli_error("socket: %s", strerror(-rc));
	if (term)	/* numbered as a RAS leader of that term (docs/ha.md) */
		c.seq = (uint64_t)term << SW_TERM_SHIFT | (c.seq & ((1ull << SW_TERM_SHIFT) - 1));
	if (!strcmp(sub, "add") || !strcmp(sub, "del")) {
		struct swp_op *ops;
		int n = parse_ops(argv + optind, argc - optind, !strcmp(sub, "add"), &ops);

		if (n < 0) {
			swc_close(&c);
			return 2;
		}
		rc = swctl_apply(&c, ops, (uint32_t)n, json);
		free(ops);
	} else if (!strcmp(sub, "dump")) {
		const char *what = optind < argc ? argv[optind] : "fib";

		if (strcmp(what, "fib") && strcmp(what, "ports"))
			rc = cli_usage_error("swctl", "dump: fib or ports");
		else
			rc = swctl_dump(&c, !strcmp(what, "ports"), json);
	} else {
		rc = cli_usage_error("swctl", "unknown subcommand '%s'", sub);
	}
	swc_close(&c);
	return rc;
}
