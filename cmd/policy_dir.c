/* `peregrine policy set|get|del`: a VM's policy in the directory's policy
 * store (docs/policy.md, "Where policy lives"; the messages in
 * docs/directory-protocol.md, "Policies"). */
#include "cmd/policy_dir.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/policy.h"
#include "cmd/cli.h"
#include "dir/client_udp.h"
#include "lib/auth.h"
#include "lib/parse.h"
#include "lib/udp.h"

struct pctl {
	struct dirc_udp *u;
	int timeout_ms;
	uint32_t vdc;
	struct dirc_pol_answer a;
};

/* After a blocking call: 0 when answered ok, else 1 after saying why. */
static int outcome(const struct pctl *c, int ret, const char *what)
{
	if (ret == -ETIMEDOUT)
		return cli_error("policy: no authenticated answer from the directory within %d ms "
				 "(is --key the shared key or VDC %u's key?)", c->timeout_ms, c->vdc);
	if (ret)
		return cli_error("policy: %s: %s", what, strerror(-ret));
	if (c->a.status != DIRP_OK)
		return cli_error("policy: %s: %s%s%s", what, dirp_status_name(c->a.status),
				 c->a.why[0] ? ": " : "", c->a.why);
	return 0;
}

static char *read_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;

	if (!f)
		return NULL;
	buf = malloc(DIRP_POL_TEXT_MAX + 1);
	*len = buf ? fread(buf, 1, DIRP_POL_TEXT_MAX + 1, f) : 0;
	fclose(f);
	if (buf && *len > DIRP_POL_TEXT_MAX) {
		free(buf);
		errno = EFBIG;
		return NULL;
	}
	return buf;
}

static int do_set(struct pctl *c, uint32_t ip, const char *file)
{
	struct pol_policy p;
	char err[400];
	size_t len;
	char *text = read_text(file, &len);
	int ret;

	if (!text)
		return cli_error("%s: %s", file, strerror(errno));
	pol_init(&p);
	ret = pol_parse_text(&p, file, text, len, err, sizeof(err));	/* FILE:LINE first */
	pol_free(&p);
	if (ret) {
		free(text);
		return cli_error("%s", err);
	}
	ret = dirc_udp_pol_set(c->u, c->vdc, ip, text, (uint32_t)len, c->timeout_ms, &c->a);
	free(text);
	if ((ret = outcome(c, ret, file)))
		return ret;
	printf("policy of %u/%s: version %u, %zu bytes\n", c->vdc,
	       inet_ntoa((struct in_addr){ htonl(ip) }), c->a.version, len);
	return 0;
}

static int do_get(struct pctl *c, uint32_t ip)
{
	uint32_t len;
	char *text;
	int ret = dirc_udp_pol_get(c->u, c->vdc, ip, c->timeout_ms, &text, &len, &c->a);

	if ((ret = outcome(c, ret, "get")))
		return ret;
	fwrite(text, 1, len, stdout);
	free(text);
	return 0;
}

static int do_del(struct pctl *c, uint32_t ip)
{
	return outcome(c, dirc_udp_pol_del(c->u, c->vdc, ip, c->timeout_ms, &c->a), "del");
}

static int usage(const char *fmt, const char *arg)
{
	return cli_usage_error("policy", fmt, arg);
}

int policy_dir_cmd(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "dir", required_argument, NULL, 'd' }, { "vdc", required_argument, NULL, 'v' },
		{ "ip", required_argument, NULL, 'i' }, { "key", required_argument, NULL, 'k' },
		{ "timeout", required_argument, NULL, 't' }, { 0 },
	};
	const char *sub = argv[0], *dir = "127.0.0.1:7400", *keyfile = NULL;
	struct pctl c = { .timeout_ms = 2000 };
	struct dirc_cfg cfg = { 0 };
	struct sockaddr_in addr;
	struct auth_key key;
	uint32_t vdc = 0, ip = 0, v;
	bool have_vdc = false, have_ip = false;
	struct in_addr a;
	char err[256];
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (opt) {
		case 'd': dir = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'v':
			if (!parse_u32(optarg, UINT32_MAX, &vdc))
				return usage("--vdc %s: not a number", optarg);
			have_vdc = true;
			break;
		case 'i':
			if (inet_pton(AF_INET, optarg, &a) != 1)
				return usage("--ip %s: not an IPv4 address", optarg);
			ip = ntohl(a.s_addr);
			have_ip = true;
			break;
		case 't':
			if (!parse_u32(optarg, 600000, &v) || !v)
				return usage("%s", "--timeout: 1..600000 ms");
			c.timeout_ms = (int)v;
			break;
		default: return usage("%s", "unknown option");
		}
	}
	if (!have_vdc || !have_ip || !keyfile)
		return usage("%s", "--vdc, --ip and --key are required");
	if (!strcmp(sub, "set") ? optind != argc - 1 : optind != argc)
		return usage(!strcmp(sub, "set") ? "%s: expected one FILE" : "%s: takes no FILE",
			     sub);
	if (udp_parse_addr(dir, &addr, err, sizeof(err)))
		return usage("--dir %s", err);
	if (auth_key_load(keyfile, &key, err, sizeof(err)))
		return cli_error("%s", err);
	cfg.key = &key;
	cfg.seed = wall_ns() ^ mono_ns();
	if (!(c.u = dirc_udp_open(&addr, &cfg, &rc)))
		return cli_error("policy: socket: %s", strerror(-rc));
	c.vdc = vdc;
	if (!strcmp(sub, "set"))
		rc = do_set(&c, ip, argv[optind]);
	else if (!strcmp(sub, "get"))
		rc = do_get(&c, ip);
	else
		rc = do_del(&c, ip);
	dirc_udp_close(c.u);
	return rc;
}
