/* peregrine dirctl: talk to a directory server from the command line, through
 * the client library (dir/client.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "cmd/dirctl_check.h"
#include "dir/client_udp.h"
#include "lib/parse.h"
#include "lib/udp.h"

static const char dirctl_help[] =
	"Usage: peregrine dirctl [OPTIONS] COMMAND [ARGS...]\n"
	"\n"
	"Query and change a directory server (peregrine directory).\n"
	"\n"
	"Commands:\n"
	"  register VDC IP VM_MAC VM_MAC2 SRV_MAC SRV_MAC2 SERVER\n"
	"                      register a VM: its primary and backup MAC, its\n"
	"                      server's primary and backup MAC, the server's id\n"
	"  unregister VDC IP   remove a VM\n"
	"  lookup VDC IP [VDC IP ...]\n"
	"                      resolve up to 29 addresses in one request (exit\n"
	"                      status 1 if any is not found)\n"
	"  watch SECONDS VDC IP [VDC IP ...]\n"
	"                      look up, then hold the leases and print every pushed\n"
	"                      UPDATE/INVALIDATE for SECONDS, renewing as leases end\n"
	"  avail MAC up|down [--intermediary]\n"
	"                      set the availability of a VM MAC, or with\n"
	"                      --intermediary of every entry behind a server MAC\n"
	"  move VDC IP SERVER SRV_MAC SRV_MAC2\n"
	"                      move a VM to another server\n"
	"  stats               the server's counters\n"
	"  check SECONDS [VDC] history check of a replicated directory (docs/ha.md):\n"
	"                      register and look up at a bounded rate for SECONDS,\n"
	"                      then verify every acknowledged registration is there\n"
	"                      and no version went back; prints the longest lookup\n"
	"                      gap (exit status 1 on a loss or a regression);\n"
	"                      SIGUSR1 marks a moment: the lookup gap across it\n"
	"  batch               read commands from standard input, one per line, and\n"
	"                      run them in order on one socket; a failing command\n"
	"                      prints its error and the batch goes on\n"
	"\n"
	"Options:\n"
	"  --server ADDR:PORT[,ADDR:PORT...]\n"
	"                      the directory (default 127.0.0.1:7400); with several,\n"
	"                      the next is used when one stops answering\n"
	"  --key FILE          the shared key (required)\n"
	"  --timeout MS        give up after MS milliseconds (default 3000)\n"
	"  --json              machine-readable output\n"
	"  -h, --help          this text\n"
	"\n"
	"MACs are written 02:00:00:00:00:01; VDC and SERVER are numbers.  An IP\n"
	"may be IPv6 (fd00::1) in register, unregister and lookup: the request is\n"
	"then REGISTER6, UNREGISTER6 or LOOKUP6 (up to 23 addresses, all IPv6).\n";

struct ctl {
	struct dirc_udp *u;
	struct dirc *c;
	bool json, done;
	bool checking;		/* pushes go to the history checker */
	int timeout_ms;
	struct dirp_msg reply;
	uint8_t buf[DIRP_MAX_DGRAM];
	int status;		/* exit status for the command */
	json_t *events;		/* watch --json */
};

/* ---- parsing and printing ------------------------------------------------------ */

static bool parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
		return false;
	for (int i = 0; i < 6; i++) {
		if (b[i] > 255)
			return false;
		mac[i] = (uint8_t)b[i];
	}
	return dirp_mac_ok(mac);
}

static bool parse_ip(const char *s, uint32_t *ip)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return false;
	*ip = ntohl(a.s_addr);
	return true;
}

static bool parse_ip6(const char *s, uint8_t ip6[16])
{
	return inet_pton(AF_INET6, s, ip6) == 1;
}

static bool is_ip6(const char *s)
{
	return strchr(s, ':') != NULL;
}

static bool parse_key(char **argv, struct dirp_key *k)
{
	return parse_u32(argv[0], UINT32_MAX, &k->vdc) && parse_ip(argv[1], &k->ip);
}

static const char *mac_str(const uint8_t m[6], char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

static const char *ip_str(uint32_t ip, char *buf)
{
	struct in_addr a = { htonl(ip) };

	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static const char *const slot_names[DIRP_NMACS] = { "vm_mac", "vm_mac_backup", "server_mac",
						    "server_mac_backup" };

static json_t *entry_json(const struct dirp_entry *e, const char *event)
{
	json_t *j = json_object(), *av = json_object();
	char b[32];

	if (event)
		JSET(j, "event", JSTR(event));
	JSET(j, "vdc", JINT(e->vdc));
	JSET(j, "ip", JSTR(ip_str(e->ip, b)));
	JSET(j, "status", JSTR(dirp_status_name(e->status)));
	JSET(j, "version", JINT(e->version));
	JSET(j, "lease_ms", JINT(e->lease_ms));
	if (e->status == DIRP_OK && dirp_mac_ok(e->mac[0])) {
		JSET(j, "server", JINT(e->server));
		for (int s = 0; s < DIRP_NMACS; s++) {
			JSET(j, slot_names[s], JSTR(mac_str(e->mac[s], b)));
			JSET(av, slot_names[s], JBOOL(e->avail >> s & 1));
		}
		JSET(j, "available", av);
	} else {
		json_decref(av);
	}
	return j;
}

static void entry_print(const struct dirp_entry *e, const char *event)
{
	char ip[INET_ADDRSTRLEN], m[DIRP_NMACS][18];

	if (event)
		printf("%s ", event);
	printf("vdc %u ip %s: %s", e->vdc, ip_str(e->ip, ip), dirp_status_name(e->status));
	if (e->status == DIRP_OK && !dirp_mac_ok(e->mac[0])) {
		printf(" version %u (removed)", e->version);	/* an unregister reply */
	} else if (e->status == DIRP_OK) {
		for (int s = 0; s < DIRP_NMACS; s++)
			mac_str(e->mac[s], m[s]);
		printf(" version %u lease %u ms server %u vm %s%s backup %s%s via %s%s backup %s%s",
		       e->version, e->lease_ms, e->server, m[0], e->avail & 1 ? "" : " (down)",
		       m[1], e->avail & 2 ? "" : " (down)", m[2], e->avail & 4 ? "" : " (down)",
		       m[3], e->avail & 8 ? "" : " (down)");
	} else if (e->status == DIRP_NOT_FOUND || event) {
		printf(" version %u lease %u ms", e->version, e->lease_ms);
	}
	printf("\n");
	fflush(stdout);
}

static json_t *entry6_json(const struct dirp_entry6 *e)
{
	struct dirp_entry e4 = { .vdc = e->vdc, .status = e->status, .avail = e->avail,
				 .version = e->version, .lease_ms = e->lease_ms, .server = e->server };
	char b[INET6_ADDRSTRLEN];
	json_t *j;

	memcpy(e4.mac, e->mac, sizeof(e4.mac));
	j = entry_json(&e4, NULL);
	JSET(j, "ip", JSTR(inet_ntop(AF_INET6, e->ip6, b, sizeof(b))));
	return j;
}

static void entry6_print(const struct dirp_entry6 *e)
{
	char ip[INET6_ADDRSTRLEN], m[DIRP_NMACS][18];

	inet_ntop(AF_INET6, e->ip6, ip, sizeof(ip));
	printf("vdc %u ip %s: %s", e->vdc, ip, dirp_status_name(e->status));
	if (e->status == DIRP_OK && !dirp_mac_ok(e->mac[0])) {
		printf(" version %u (removed)", e->version);	/* an unregister reply */
	} else if (e->status == DIRP_OK) {
		for (int s = 0; s < DIRP_NMACS; s++)
			mac_str(e->mac[s], m[s]);
		printf(" version %u lease %u ms server %u vm %s%s backup %s%s via %s%s backup %s%s",
		       e->version, e->lease_ms, e->server, m[0], e->avail & 1 ? "" : " (down)",
		       m[1], e->avail & 2 ? "" : " (down)", m[2], e->avail & 4 ? "" : " (down)",
		       m[3], e->avail & 8 ? "" : " (down)");
	} else if (e->status == DIRP_NOT_FOUND) {
		printf(" version %u lease %u ms", e->version, e->lease_ms);
	}
	printf("\n");
	fflush(stdout);
}

/* ---- requests -------------------------------------------------------------------- */

static void on_reply(void *arg, uint64_t id, const struct dirp_msg *m)
{
	struct ctl *c = arg;

	c->done = true;
	if (!m) {
		c->status = -ETIMEDOUT;
		return;
	}
	/* Keep a copy: m points into the receive buffer. */
	memcpy(c->buf, m->body, (size_t)m->h.count * m->rec_len);
	c->reply = *m;
	c->reply.body = c->buf;
}

static bool is_done(void *arg)
{
	return ((struct ctl *)arg)->done;
}

static int call(struct ctl *c, uint8_t type, const void *recs, unsigned n)
{
	int64_t id;

	c->done = false;
	c->status = 0;
	id = dirc_request(c->c, dir_now_sys(), type, recs, n, on_reply, c);
	if (id < 0)
		return cli_error("dirctl: request: %s", strerror((int)-id));
	if (dirc_udp_wait(c->u, is_done, c, c->timeout_ms) || c->status)
		return cli_error("dirctl: no answer from the directory within %d ms", c->timeout_ms);
	return 0;
}

/* Print the entry records of the reply; returns how many were not OK. */
static int print_entries(struct ctl *c)
{
	json_t *arr = json_array();
	int bad = 0;

	for (unsigned i = 0; i < c->reply.h.count; i++) {
		struct dirp_entry e;

		dirp_get_entry(&c->reply, i, &e);
		bad += e.status != DIRP_OK;
		if (c->json)
			json_array_append_new(arr, entry_json(&e, NULL));
		else
			entry_print(&e, NULL);
	}
	if (c->json)
		json_print(stdout, arr);
	else
		json_decref(arr);
	return bad;
}

/* The entry6 records of the reply, as print_entries. */
static int print_entries6(struct ctl *c)
{
	json_t *arr = json_array();
	int bad = 0;

	for (unsigned i = 0; i < c->reply.h.count; i++) {
		struct dirp_entry6 e;

		dirp_get_entry6(&c->reply, i, &e);
		bad += e.status != DIRP_OK;
		if (c->json)
			json_array_append_new(arr, entry6_json(&e));
		else
			entry6_print(&e);
	}
	if (c->json)
		json_print(stdout, arr);
	else
		json_decref(arr);
	return bad;
}

static int do_register6(struct ctl *c, char **argv)
{
	struct dirp_entry6 e = { .avail = DIRP_AVAIL_ALL };

	if (!parse_u32(argv[0], UINT32_MAX, &e.vdc) || !parse_ip6(argv[1], e.ip6))
		return cli_usage_error("dirctl", "register: bad VDC or IP '%s %s'", argv[0], argv[1]);
	for (int s = 0; s < DIRP_NMACS; s++)
		if (!parse_mac(argv[2 + s], e.mac[s]))
			return cli_usage_error("dirctl", "register: bad MAC '%s'", argv[2 + s]);
	if (!parse_u32(argv[6], UINT32_MAX, &e.server))
		return cli_usage_error("dirctl", "register: bad SERVER '%s'", argv[6]);
	if (call(c, DIRP_REGISTER6, &e, 1))
		return 1;
	return print_entries6(c) ? 1 : 0;
}

/* lookup or unregister of IPv6 addresses: every pair VDC IPv6. */
static int do_keys6(struct ctl *c, uint8_t type, int argc, char **argv)
{
	struct dirp_key6 keys[DIRP_MAX_RECORDS6];
	unsigned n;

	if (argc < 2 || argc % 2 || argc / 2 > DIRP_MAX_RECORDS6)
		return cli_usage_error("dirctl", "expected 1 to %d pairs of VDC IPv6", DIRP_MAX_RECORDS6);
	n = (unsigned)argc / 2;
	for (unsigned i = 0; i < n; i++)
		if (!parse_u32(argv[2 * i], UINT32_MAX, &keys[i].vdc) ||
		    !parse_ip6(argv[2 * i + 1], keys[i].ip6))
			return cli_usage_error("dirctl", "bad VDC IPv6 '%s %s'", argv[2 * i],
					       argv[2 * i + 1]);
	if (call(c, type == DIRP_LOOKUP ? DIRP_LOOKUP6 : DIRP_UNREGISTER6, keys, n))
		return 1;
	return print_entries6(c) ? 1 : 0;
}

static int do_register(struct ctl *c, int argc, char **argv)
{
	struct dirp_entry e = { .avail = DIRP_AVAIL_ALL };
	struct dirp_key k;

	if (argc != 7)
		return cli_usage_error("dirctl", "register VDC IP VM_MAC VM_MAC2 SRV_MAC SRV_MAC2 SERVER");
	if (is_ip6(argv[1]))
		return do_register6(c, argv);
	if (!parse_key(argv, &k))
		return cli_usage_error("dirctl", "register: bad VDC or IP '%s %s'", argv[0], argv[1]);
	e.vdc = k.vdc;
	e.ip = k.ip;
	for (int s = 0; s < DIRP_NMACS; s++)
		if (!parse_mac(argv[2 + s], e.mac[s]))
			return cli_usage_error("dirctl", "register: bad MAC '%s'", argv[2 + s]);
	if (!parse_u32(argv[6], UINT32_MAX, &e.server))
		return cli_usage_error("dirctl", "register: bad SERVER '%s'", argv[6]);
	if (call(c, DIRP_REGISTER, &e, 1))
		return 1;
	return print_entries(c) ? 1 : 0;
}

static int read_keys(int argc, char **argv, struct dirp_key *keys, unsigned *n)
{
	if (argc < 2 || argc % 2 || argc / 2 > DIRP_MAX_RECORDS)
		return cli_usage_error("dirctl", "expected 1 to %d pairs of VDC IP", DIRP_MAX_RECORDS);
	*n = (unsigned)argc / 2;
	for (unsigned i = 0; i < *n; i++)
		if (!parse_key(argv + 2 * i, &keys[i]))
			return cli_usage_error("dirctl", "bad VDC IP '%s %s'", argv[2 * i],
					       argv[2 * i + 1]);
	return 0;
}

static int do_keys(struct ctl *c, uint8_t type, int argc, char **argv)
{
	struct dirp_key keys[DIRP_MAX_RECORDS];
	unsigned n;
	int rc;

	if (argc >= 2 && is_ip6(argv[1]))
		return do_keys6(c, type, argc, argv);
	if ((rc = read_keys(argc, argv, keys, &n)))
		return rc;
	if (call(c, type, keys, n))
		return 1;
	return print_entries(c) ? 1 : 0;
}

static void on_push(void *arg, uint8_t type, const struct dirp_entry *e)
{
	struct ctl *c = arg;
	const char *ev = type == DIRP_UPDATE ? "update" :
			 type == DIRP_INVALIDATE ? "invalidate" : "lookup";

	if (c->checking) {
		dirctl_check_push(type, e);
		return;
	}
	if (c->json) {
		json_t *j = entry_json(e, ev);
		char *s = json_dumps(j, JSON_COMPACT);

		printf("%s\n", s);
		fflush(stdout);
		free(s);
		json_decref(j);
	} else {
		entry_print(e, ev);
	}
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

static int do_watch(struct ctl *c, int argc, char **argv)
{
	struct dirp_key keys[DIRP_MAX_RECORDS];
	uint32_t secs, lease_ms = UINT32_MAX;
	uint64_t end;
	unsigned n;
	int rc;

	if (argc < 1 || !parse_u32(argv[0], 86400, &secs))
		return cli_usage_error("dirctl", "watch SECONDS VDC IP [VDC IP ...]");
	if ((rc = read_keys(argc - 1, argv + 1, keys, &n)))
		return rc;
	end = mono_ns() + (uint64_t)secs * 1000000000ull;
	while (mono_ns() < end) {
		if (call(c, DIRP_LOOKUP, keys, n))
			return 1;
		for (unsigned i = 0; i < c->reply.h.count; i++) {
			struct dirp_entry e;

			dirp_get_entry(&c->reply, i, &e);
			lease_ms = MIN(lease_ms, MAX(e.lease_ms, 100u));
			on_push(c, DIRP_LOOKUP | DIRP_REPLY_BIT, &e);
		}
		/* Serve pushes until the shortest lease is nearly over. */
		dirc_udp_wait(c->u, never, NULL,
			      (int)MIN((uint64_t)lease_ms * 9 / 10, (end - mono_ns()) / 1000000 + 1));
	}
	return 0;
}

static int do_avail(struct ctl *c, int argc, char **argv)
{
	struct dirp_avail a = { .scope = DIRP_SCOPE_VM };
	json_t *arr;
	char m[18];

	if (argc == 3 && !strcmp(argv[2], "--intermediary")) {
		a.scope = DIRP_SCOPE_INTERMEDIARY;
		argc--;
	}
	if (argc != 2 || !parse_mac(argv[0], a.mac) ||
	    (strcmp(argv[1], "up") && strcmp(argv[1], "down")))
		return cli_usage_error("dirctl", "avail MAC up|down [--intermediary]");
	a.avail = !strcmp(argv[1], "up");
	if (call(c, DIRP_SET_AVAIL, &a, 1))
		return 1;
	arr = json_array();
	for (unsigned i = 0; i < c->reply.h.count; i++) {
		struct dirp_avail_res r;
		json_t *j = json_object();

		dirp_get_avail_res(&c->reply, i, &r);
		JSET(j, "mac", JSTR(mac_str(r.mac, m)));
		JSET(j, "status", JSTR(dirp_status_name(r.status)));
		JSET(j, "changed", JINT(r.affected));
		json_array_append_new(arr, j);
		if (!c->json)
			printf("%s: %s, %u entries changed\n", m, dirp_status_name(r.status), r.affected);
	}
	if (c->json)
		json_print(stdout, arr);
	else
		json_decref(arr);
	return 0;
}

static int do_move(struct ctl *c, int argc, char **argv)
{
	struct dirp_move mv;
	struct dirp_key k;

	if (argc != 5 || !parse_key(argv, &k) || !parse_u32(argv[2], UINT32_MAX, &mv.server) ||
	    !parse_mac(argv[3], mv.im[0]) || !parse_mac(argv[4], mv.im[1]))
		return cli_usage_error("dirctl", "move VDC IP SERVER SRV_MAC SRV_MAC2");
	mv.vdc = k.vdc;
	mv.ip = k.ip;
	if (call(c, DIRP_MOVE, &mv, 1))
		return 1;
	return print_entries(c) ? 1 : 0;
}

static int do_stats(struct ctl *c)
{
	json_t *j = json_object();

	if (call(c, DIRP_STATS, NULL, 0)) {
		json_decref(j);
		return 1;
	}
	for (unsigned i = 0; i < c->reply.h.count; i++) {
		uint64_t v = dirp_get_stat(&c->reply, i);

		if (c->json)
			JSET(j, dir_stat_name((int)i), JINT(v));
		else
			printf("%-20s %llu\n", dir_stat_name((int)i), (unsigned long long)v);
	}
	if (c->json)
		json_print(stdout, j);
	else
		json_decref(j);
	return 0;
}

static int run(struct ctl *c, int argc, char **argv);

enum { DIRCTL_BATCH_ARGS = 64 };

static int do_batch(struct ctl *c)
{
	char line[1024], *argv[DIRCTL_BATCH_ARGS], *save;
	int fails = 0;

	while (fgets(line, sizeof(line), stdin)) {
		int argc = 0;

		for (char *t = strtok_r(line, " \t\n", &save); t && argc < DIRCTL_BATCH_ARGS;
		     t = strtok_r(NULL, " \t\n", &save))
			argv[argc++] = t;
		if (!argc || argv[0][0] == '#')
			continue;
		if (!strcmp(argv[0], "batch") || !strcmp(argv[0], "watch")) {
			fails += cli_error("dirctl batch: '%s' cannot be batched", argv[0]) != 0;
			continue;
		}
		fails += run(c, argc, argv) != 0;
		fflush(stdout);
	}
	return fails ? 1 : 0;
}

static int run(struct ctl *c, int argc, char **argv)
{
	const char *cmd = argv[0];

	argc--;
	argv++;
	if (!strcmp(cmd, "register"))
		return do_register(c, argc, argv);
	if (!strcmp(cmd, "unregister"))
		return do_keys(c, DIRP_UNREGISTER, argc, argv);
	if (!strcmp(cmd, "lookup"))
		return do_keys(c, DIRP_LOOKUP, argc, argv);
	if (!strcmp(cmd, "watch"))
		return do_watch(c, argc, argv);
	if (!strcmp(cmd, "avail"))
		return do_avail(c, argc, argv);
	if (!strcmp(cmd, "move"))
		return do_move(c, argc, argv);
	if (!strcmp(cmd, "batch"))
		return argc ? cli_usage_error("dirctl", "batch takes no arguments") : do_batch(c);
	if (!strcmp(cmd, "check")) {
		c->checking = true;
		return dirctl_check(c->u, argc, argv, c->json);
	}
	if (!strcmp(cmd, "stats"))
		return argc ? cli_usage_error("dirctl", "stats takes no arguments") : do_stats(c);
	return cli_usage_error("dirctl", "unknown command '%s'", cmd);
}

int cmd_dirctl(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "server", required_argument, NULL, 's' }, { "key", required_argument, NULL, 'k' },
		{ "timeout", required_argument, NULL, 't' }, { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	const char *server = "127.0.0.1:7400", *keyfile = NULL;
	struct ctl c = { .timeout_ms = 3000 };
	struct dirc_cfg cfg = { 0 };
	struct sockaddr_in addr;
	struct auth_key key;
	char err[256];
	uint32_t v;
	int opt, rc;

	optind = 1;
	/* '+': stop at the command so that its arguments (--intermediary) stay. */
	while ((opt = getopt_long(argc, argv, "+h", longs, NULL)) != -1) {
		switch (opt) {
		case 's': server = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'j': c.json = true; break;
		case 't':
			if (!parse_u32(optarg, 600000, &v) || !v)
				return cli_usage_error("dirctl", "--timeout: 1..600000 ms");
			c.timeout_ms = (int)v;
			break;
		case 'h': fputs(dirctl_help, stdout); return 0;
		default: return cli_usage_error("dirctl", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("dirctl", "name a command");
	if (!keyfile)
		return cli_usage_error("dirctl", "--key FILE is required");
	{
		char first[128];
		const char *comma = strchr(server, ',');

		snprintf(first, sizeof(first), "%.*s", comma ? (int)(comma - server) : (int)strlen(server),
			 server);
		if (udp_parse_addr(first, &addr, err, sizeof(err)))
			return cli_usage_error("dirctl", "--server %s", err);
	}
	if (auth_key_load(keyfile, &key, err, sizeof(err)))
		return cli_error("%s", err);
	cfg.key = &key;
	cfg.seed = wall_ns() ^ mono_ns();
	cfg.on_push = on_push;
	cfg.push_arg = &c;
	if (!(c.u = dirc_udp_open(&addr, &cfg, &rc)))
		return cli_error("dirctl: socket: %s", strerror(-rc));
	c.c = dirc_udp_client(c.u);
	for (const char *p = strchr(server, ','); p; p = strchr(p + 1, ',')) {
		struct sockaddr_in more;
		char one[128];
		const char *end = strchr(p + 1, ',');

		snprintf(one, sizeof(one), "%.*s", end ? (int)(end - p - 1) : (int)strlen(p + 1), p + 1);
		if (udp_parse_addr(one, &more, err, sizeof(err)) || dirc_udp_add_server(c.u, &more)) {
			dirc_udp_close(c.u);
			return cli_usage_error("dirctl", "--server %s: %s", one, err);
		}
	}
	rc = run(&c, argc - optind, argv + optind);
	dirc_udp_close(c.u);
	return rc;
}
