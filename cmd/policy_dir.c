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
	struct dirc *c;
	int timeout_ms;
	bool done, timed_out;
	struct dirp_pol r;		/* the reply; r.data points into buf */
	uint8_t buf[DIRP_POL_CHUNK + 1];
};

static void on_reply(void *arg, uint64_t id, const struct dirp_msg *m)
{
	struct pctl *c = arg;

	(void)id;
	c->done = true;
	c->timed_out = !m;
	if (!m || m->h.count != 1) {
		c->timed_out = true;
		return;
	}
	dirp_get_pol(m, 0, &c->r);
	memcpy(c->buf, c->r.data, c->r.len);
	c->buf[c->r.len] = 0;
	c->r.data = c->buf;
}

static bool is_done(void *arg)
{
	return ((struct pctl *)arg)->done;
}

/* One request, its reply in c->r; 0, or 1 after saying why not. */
static int call(struct pctl *c, uint8_t type, const struct dirp_pol *rq)
{
	int64_t id;

	c->done = false;
	id = dirc_request(c->c, dir_now_sys(), type, rq, 1, on_reply, c);
	if (id < 0)
		return cli_error("policy: request: %s", strerror((int)-id));
	if (dirc_udp_wait(c->u, is_done, c, c->timeout_ms) || c->timed_out)
		return cli_error("policy: no authenticated answer from the directory within %d ms "
				 "(is --key the shared key or VDC %u's key?)", c->timeout_ms, rq->vdc);
	return 0;
}

static int refused(const struct pctl *c, const char *what)
{
	return cli_error("policy: %s: %s%s%s", what, dirp_status_name(c->r.status),
			 c->r.len ? ": " : "", c->r.len ? (const char *)c->buf : "");
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

static int do_set(struct pctl *c, uint32_t vdc, uint32_t ip, const char *file)
{
	struct pol_policy p;
	char err[400];
	size_t len;
	char *text = read_text(file, &len);
	uint32_t off = 0, xfer = (uint32_t)(wall_ns() ^ mono_ns()) | 1;
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
	do {
		struct dirp_pol rq = { .vdc = vdc, .ip = ip, .total = (uint32_t)len, .offset = off,
				       .xfer = xfer, .data = (const uint8_t *)text + off };

		rq.len = (uint16_t)MIN(len - off, (size_t)DIRP_POL_CHUNK);
		if ((ret = call(c, DIRP_POL_SET, &rq)))
			break;
		if (c->r.status != DIRP_OK) {
			ret = refused(c, file);
			break;
		}
		off += rq.len;
	} while (off < len);
	free(text);
	if (!ret)
		printf("policy of %u/%s: version %u, %zu bytes\n", vdc,
		       inet_ntoa((struct in_addr){ htonl(ip) }), c->r.version, len);
	return ret;
}

static int do_get(struct pctl *c, uint32_t vdc, uint32_t ip)
{
	uint32_t off = 0, total;

	do {
		struct dirp_pol rq = { .vdc = vdc, .ip = ip, .offset = off };

		if (call(c, DIRP_POL_GET, &rq))
			return 1;
		if (c->r.status != DIRP_OK)
			return refused(c, "get");
		if (c->r.offset != off)
			return cli_error("policy: get: the directory answered offset %u for %u",
					 c->r.offset, off);
		fwrite(c->buf, 1, c->r.len, stdout);
		off += c->r.len;
		total = c->r.total;
	} while (off < total && c->r.len);
	return 0;
}

static int do_del(struct pctl *c, uint32_t vdc, uint32_t ip)
{
	struct dirp_pol rq = { .vdc = vdc, .ip = ip };

	if (call(c, DIRP_POL_DEL, &rq))
		return 1;
	return c->r.status == DIRP_OK ? 0 : refused(c, "del");
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
	c.c = dirc_udp_client(c.u);
	if (!strcmp(sub, "set"))
		rc = do_set(&c, vdc, ip, argv[optind]);
	else if (!strcmp(sub, "get"))
		rc = do_get(&c, vdc, ip);
	else
		rc = do_del(&c, vdc, ip);
	dirc_udp_close(c.u);
	return rc;
}
