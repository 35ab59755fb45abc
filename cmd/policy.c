/* `peregrine policy`: security groups on a loaded data plane (its pinned
 * maps, docs/policy.md): check a policy file, apply one to a VM, remove it,
 * read the verdict counters. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/policy.h"
#include "bpf/loader.h"
#include "bpf/policy_maps.h"
#include "cmd/cli.h"
#include "cmd/policy_dir.h"
#include "lib/json.h"
#include "wire/frame.h"
#include "wire/pgr.h"

enum policy_cmd_limits {
	POLICY_FILE_MAX = 4 << 20,	/* bytes of a policy file */
};

static const char policy_help[] =
	"Usage: peregrine policy check FILE\n"
	"       peregrine policy apply NAME --mac VM_MAC --file FILE [--json]\n"
	"       peregrine policy remove NAME --mac VM_MAC\n"
	"       peregrine policy stats NAME [--json]\n"
	"       peregrine policy rate --dev DEV --rate RATE [--netns NS]\n"
	"       peregrine policy set --dir ADDR --key KEY --vdc N --ip IP FILE\n"
	"       peregrine policy get --dir ADDR --key KEY --vdc N --ip IP\n"
	"       peregrine policy del --dir ADDR --key KEY --vdc N --ip IP\n"
	"\n"
	"Security groups on the data plane pinned as NAME (`peregrine dp load`,\n"
	"or a lab agent's P-SERVER).  A policy file holds one rule per line\n"
	"(`in tcp 80 from 10.0.0.0/24`, `out udp 53 to any`, `in icmp from group\n"
	"web`) and `group NAME MEMBER...` lines; docs/policy.md.  check parses and\n"
	"compiles only; apply installs the VM's new rules beside the old ones,\n"
	"switches the VM to them in one map update and deletes the old ones:\n"
	"connections the new rules still allow go on, the others are dropped at\n"
	"their next packet.  Errors name FILE:LINE: FIELD.  rate limits what a VM\n"
	"sends to RATE bits/s (500m, 1g) with a tbf qdisc on DEV, its interface\n"
	"(in namespace NS); RATE 0 removes the limit.\n"
	"\n"
	"set, get and del keep the policy of VM IP of VDC N in the directory at\n"
	"ADDR (default 127.0.0.1:7400), which pushes it to the agent hosting the\n"
	"VM (docs/policy.md, \"Where policy lives\").  KEY is the shared key or\n"
	"the VDC's own (`peregrine keygen --vdc N --key SHARED FILE`): a VDC's key\n"
	"reads and changes that VDC's policies and no other's.  set checks FILE\n"
	"first (FILE:LINE: FIELD); the directory checks it again and refuses it\n"
	"with the line and field.  [--timeout MS] waits that long per answer.\n";

struct policy_args {
	const char *name, *file, *dev, *rate, *netns;
	uint8_t mac[6];
	bool have_mac, json;
};

static int usage(const char *fmt, const char *arg)
{
	return cli_usage_error("policy", fmt, arg);
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;

	if (!f)
		return NULL;
	buf = malloc(POLICY_FILE_MAX + 1);
	*len = buf ? fread(buf, 1, POLICY_FILE_MAX + 1, f) : 0;
	fclose(f);
	if (buf && *len > POLICY_FILE_MAX) {
		free(buf);
		errno = EFBIG;
		return NULL;
	}
	return buf;
}

/* Parse and compile FILE for set; 0 or 1 after printing why not. */
static int load(const char *path, uint32_t set, struct pol_policy *p, struct pol_compiled *c)
{
	char err[320];
	struct pol_error e;
	size_t len;
	char *buf = read_all(path, &len);
	int ret;

	if (!buf)
		return cli_error("%s: %s", path, strerror(errno));
	pol_init(p);
	ret = pol_parse_text(p, path, buf, len, err, sizeof(err));
	free(buf);
	if (ret) {
		pol_free(p);
		return cli_error("%s", err);
	}
	if (pol_compile(p, set, c, &e)) {
		pol_free(p);
		return cli_error("%s:%u: %s: %s", path, e.line, e.field, e.msg);
	}
	return 0;
}

static int policy_check(struct policy_args *a)
{
	struct pol_policy p;
	struct pol_compiled c;

	if (!a->file)
		return usage("%s", "check needs FILE");
	if (load(a->file, 1, &p, &c))
		return 1;
	printf("%s: %zu rules, %zu groups: %zu port entries, %zu peer entries\n", a->file,
	       p.nrules, p.ngroups, c.nport, c.npeer);
	pol_compiled_free(&c);
	pol_free(&p);
	return 0;
}

static int open_pinned(const char *name, struct pgr_pol_maps *m)
{
	char dir[PGR_DP_PATH_MAX], err[300];

	if (!name)
		return usage("%s", "name the data plane (NAME)");
	if (!pgr_dp_pin_path(name, dir, sizeof(dir)))
		return usage("bad data-plane name '%s'", name);
	if (pgr_pol_maps_open_pinned(dir, m, err, sizeof(err)))
		return cli_error("%s", err);
	return 0;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static int policy_apply(struct policy_args *a)
{
	struct pgr_pol_maps m;
	struct pol_policy p;
	struct pol_compiled c;
	struct timespec t0;
	uint32_t id, cur, set;
	size_t old = 0;
	int ret;

	if (!a->have_mac || !a->file)
		return usage("%s", "apply needs NAME, --mac and --file");
	if ((ret = open_pinned(a->name, &m)))
		return ret;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	id = pgr_mac_id(a->mac);
	cur = pgr_pol_current_set(&m, id);
	set = pgr_pol_next_set(id, cur);
	if (load(a->file, set, &p, &c)) {
		pgr_pol_maps_close(&m);
		return 1;
	}
	ret = pgr_pol_apply(&m, id, &c, NULL);
	if (!ret && cur)
		old = pgr_pol_delete_set(&m, cur);
	if (ret)
		cli_error("apply: %s", strerror(-ret));
	else if (a->json)
		printf("{\"rules\": %zu, \"entries\": %zu, \"old_entries\": %zu, \"set\": %u, "
		       "\"apply_ms\": %.3f}\n", p.nrules, c.nport + c.npeer, old, set, ms_since(&t0));
	else
		printf("VM %u: %zu rules, %zu entries as set %u (%zu old entries deleted) in %.1f ms\n",
		       id, p.nrules, c.nport + c.npeer, set, old, ms_since(&t0));
	pol_compiled_free(&c);
	pol_free(&p);
	pgr_pol_maps_close(&m);
	return ret ? 1 : 0;
}

static int policy_remove(struct policy_args *a)
{
	struct pgr_pol_maps m;
	uint32_t id, cur;
	int ret;

	if (!a->have_mac)
		return usage("%s", "remove needs NAME and --mac");
	if ((ret = open_pinned(a->name, &m)))
		return ret;
	id = pgr_mac_id(a->mac);
	cur = pgr_pol_current_set(&m, id);
	ret = pgr_pol_remove(&m, id, NULL);
	if (cur)
		pgr_pol_delete_set(&m, cur);
	pgr_pol_maps_close(&m);
	return ret ? cli_error("remove: %s", strerror(-ret)) : 0;
}

static int policy_stats(struct policy_args *a)
{
	struct pgr_counter st[PGR_POL_STAT_COUNT];
	struct pgr_pol_maps m;
	json_t *j;
	int ret;

	if ((ret = open_pinned(a->name, &m)))
		return ret;
	ret = pgr_pol_stats_read(&m, st);
	pgr_pol_maps_close(&m);
	if (ret)
		return cli_error("stats: %s", strerror(-ret));
	if (!a->json) {
		for (int s = 0; s < PGR_POL_STAT_COUNT; s++)
			printf("%-20s %12llu  %s\n", pgr_pol_stat_name(s),
			       (unsigned long long)st[s].packets, pgr_pol_stat_desc(s));
		return 0;
	}
	j = json_object();
	for (int s = 0; s < PGR_POL_STAT_COUNT; s++)
		JSET(j, pgr_pol_stat_name(s), JINT(st[s].packets));
	json_dumpf(j, stdout, JSON_SORT_KEYS);
	putchar('\n');
	json_decref(j);
	return 0;
}

/* The interface names tc is given: what the kernel allows, nothing a shell
 * would read. */
static bool ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= 16)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

static int policy_rate(struct policy_args *a)
{
	char cmd[256];
	struct pol_tbf t;
	struct pol_error e;
	int ret;

	if (!a->dev || !a->rate)
		return usage("%s", "rate needs --dev and --rate");
	if (!ifname_ok(a->dev))
		return usage("bad interface name '%s'", a->dev);
	if ((ret = cli_enter_netns(a->netns)))
		return ret;
	if (!strcmp(a->rate, "0")) {
		snprintf(cmd, sizeof(cmd), "tc qdisc del dev %s root 2>/dev/null", a->dev);
		return system(cmd) ? cli_error("%s has no limit to remove", a->dev) : 0;
	}
	if (pol_tbf_parse(a->rate, &t, &e))
		return usage("%s", e.msg);
	snprintf(cmd, sizeof(cmd), "tc qdisc replace dev %s root tbf rate %llubit burst %u limit %u",
		 a->dev, (unsigned long long)t.rate_bps, t.burst, t.limit);
	if (system(cmd))
		return cli_error("tc failed: %s", cmd);
	printf("%s: %llu bit/s, bucket %u bytes, queue %u bytes\n", a->dev,
	       (unsigned long long)t.rate_bps, t.burst, t.limit);
	return 0;
}

static int parse_args(int argc, char **argv, struct policy_args *a)
{
	static const struct option opts[] = {
		{ "mac", required_argument, 0, 'm' }, { "file", required_argument, 0, 'f' },
		{ "json", no_argument, 0, 'j' }, { "dev", required_argument, 0, 'd' },
		{ "rate", required_argument, 0, 'r' }, { "netns", required_argument, 0, 'n' },
		{ 0, 0, 0, 0 },
	};
	int c, idx;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, &idx)) != -1) {
		if (c == 'm') {
			a->have_mac = wire_mac_parse(optarg, a->mac) && pgr_mac_valid(a->mac);
			if (!a->have_mac)
				return usage("'%s' is not a Peregrine MAC (02:00:00:ID)", optarg);
		} else if (c == 'f') {
			a->file = optarg;
		} else if (c == 'j') {
			a->json = true;
		} else if (c == 'd') {
			a->dev = optarg;
		} else if (c == 'r') {
			a->rate = optarg;
		} else if (c == 'n') {
			a->netns = optarg;
		} else {
			return usage("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		a->name = argv[optind++];
	if (optind < argc)
		return usage("unexpected argument '%s'", argv[optind]);
	return 0;
}

int cmd_policy(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct policy_args *);
	} subs[] = {
		{ "check", policy_check }, { "apply", policy_apply }, { "remove", policy_remove },
		{ "stats", policy_stats }, { "rate", policy_rate },
	};
	struct policy_args a = { 0 };
	int ret;

	if (argc < 2)
		return usage("%s", "expected a command: check, apply, remove, stats, rate, set, get, del");
	for (int k = 1; k < argc; k++)
		if (!strcmp(argv[k], "-h") || !strcmp(argv[k], "--help")) {
			fputs(policy_help, stdout);
			return 0;
		}
	if (!strcmp(argv[1], "set") || !strcmp(argv[1], "get") || !strcmp(argv[1], "del"))
		return policy_dir_cmd(argc - 1, argv + 1);
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		if (strcmp(argv[1], subs[i].name))
			continue;
		if ((ret = parse_args(argc - 1, argv + 1, &a)))
			return ret;
		if (subs[i].fn == policy_check) {
			a.file = a.name;
			a.name = NULL;
		}
		return subs[i].fn(&a);
	}
	return usage("unknown command '%s'", argv[1]);
}
