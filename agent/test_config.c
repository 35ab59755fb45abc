/* The agent configuration's workloads directory: one VM per file, read with
 * the configuration, checked against its VMs, and left out when the
 * configuration is written back. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/config.h"

static const char base_cfg[] =
	"server: srv0\nnode: 1\nnics: [p-nic0]\n"
	"directory: \"172.31.0.1:7300\"\nras: 172.31.0.1:7500\nkey: /tmp/key\n"
	"topology: leafspine:spines=2,leaves=4,servers=2,homing=2\n"
	"workloads: \"%s\"\n"
	"vms:\n  - { name: red-srv0, vdc: 1, ip: 10.0.0.1, node: 9, port: p-v1 }\n";

struct fixture {
	char dir[64], wdir[96], cfg[96];
};

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	char text[1024];

	strcpy(x->dir, "/tmp/pgr-test-config-XXXXXX");
	if (!x || !mkdtemp(x->dir))
		return -1;
	snprintf(x->wdir, sizeof(x->wdir), "%s/w", x->dir);
	snprintf(x->cfg, sizeof(x->cfg), "%s/a.yaml", x->dir);
	snprintf(text, sizeof(text), base_cfg, x->wdir);
	put(x->cfg, text);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", x->dir);
	if (system(cmd))
		return -1;
	free(x);
	return 0;
}

static void wput(struct fixture *x, const char *name, const char *text)
{
	char path[160];

	mkdir(x->wdir, 0755);
	snprintf(path, sizeof(path), "%s/%s", x->wdir, name);
	put(path, text);
}

/* No directory yet: nothing attached, not an error. */
static void test_no_directory(void **state)
{
	struct fixture *x = *state;
	struct agent_config c;
	char err[512];

	assert_int_equal(agent_config_load_file(&c, x->cfg, err, sizeof(err)), 0);
	assert_int_equal(c.nvms, 1);
	assert_int_equal(c.nworkloads, 0);
	assert_string_equal(c.workloads, x->wdir);
	agent_config_free(&c);
}

/* A replicated directory's servers (docs/ha.md): read, written back the
 * same, and a bad list refused with its reason. */
static void test_more_directories(void **state)
{
	struct fixture *x = *state;
	struct agent_config c, d;
	char err[512], text[1024], out[2048];
	FILE *f;

	(void)state;
	snprintf(text, sizeof(text), base_cfg, x->wdir);
	strcat(text, "directories: [\"172.31.0.2:7300\", 172.31.0.3:7301]\n");
	put(x->cfg, text);
	assert_int_equal(agent_config_load_file(&c, x->cfg, err, sizeof(err)), 0);
	assert_int_equal(c.nmore_dirs, 2);
	assert_int_equal(ntohs(c.more_dirs[1].sin_port), 7301);
	assert_int_equal(ntohl(c.more_dirs[0].sin_addr.s_addr), 0xac1f0002);
	f = fmemopen(out, sizeof(out), "w");
	assert_int_equal(agent_config_write(&c, f), 0);
	fclose(f);
	put(x->cfg, out);
	assert_int_equal(agent_config_load_file(&d, x->cfg, err, sizeof(err)), 0);
	assert_int_equal(d.nmore_dirs, 2);
	assert_memory_equal(d.more_dirs, c.more_dirs, sizeof(c.more_dirs[0]) * 2);
	agent_config_free(&c);
	agent_config_free(&d);
	snprintf(text, sizeof(text), base_cfg, x->wdir);
	strcat(text, "directories: [\"172.31.0.2\"]\n");
	put(x->cfg, text);
	assert_int_equal(agent_config_load_file(&c, x->cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "directories: expected ADDRESS:PORT"));
}

static void test_workloads_appended(void **state)
{
	struct fixture *x = *state;
	struct agent_config c, d;
	char err[512], *buf = NULL;
	size_t len = 0;
	FILE *f;

	wput(x, "b.yaml", "{ name: cni-b, vdc: 1, ip: 10.0.0.20, node: 1001, port: pgc2 }\n");
	wput(x, "a.yaml", "name: cni-a\nvdc: 2\nip: 10.0.0.1\nnode: 1000\nport: pgc1\n");
	wput(x, ".c.tmp", "half a fi");	/* a writer's temporary file */
	wput(x, "notes.txt", "not a workload");
	assert_int_equal(agent_config_load_file(&c, x->cfg, err, sizeof(err)), 0);
	assert_int_equal(c.nvms, 3);
	assert_int_equal(c.nworkloads, 2);
	assert_string_equal(c.vms[1].name, "cni-a");	/* name order */
	assert_int_equal(c.vms[1].vdc, 2);
	assert_string_equal(c.vms[2].name, "cni-b");
	assert_int_equal(c.vms[2].node, 1001);
	/* written back: the workloads key, not the workloads */
	f = open_memstream(&buf, &len);
	assert_int_equal(agent_config_write(&c, f), 0);
	fclose(f);
	assert_null(strstr(buf, "cni-"));
	assert_int_equal(agent_config_load_buf(&d, "b.yaml", buf, len, err, sizeof(err)), 0);
	assert_int_equal(d.nvms, 1);
	assert_string_equal(d.workloads, x->wdir);
	free(buf);
	agent_config_free(&c);
	agent_config_free(&d);
}

static void test_workload_errors(void **state)
{
	static const struct { const char *text, *msg; } bad[] = {
		{ "{ name: x, vdc: 1, ip: 10.0.0.1, node: 1000, port: q }\n", "same node, port" },
		{ "{ name: x, vdc: 1, ip: 10.0.0.2, node: 9, port: q }\n", "same node, port" },
		{ "{ name: x, vdc: 1, ip: 10.0.0.2, node: 1000, port: p-v1 }\n", "same node, port" },
		{ "{ name: x, vdc: 1, ip: 10.0.0.2, node: 1000 }\n", "vms[].port: missing" },
		{ "{ name: x, vdc: 1, ip: 10.0.0.2, node: 1000, port: q, extra: 1 }\n", "extra" },
		{ "[ 1, 2 ]\n", "expected a mapping" },
		{ "name: x\nvdc: 99999999\nip: 10.0.0.2\nnode: 1000\nport: q\n", "w.yaml:2: vms[].vdc" },
	};
	struct fixture *x = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct agent_config c;
		char err[512];

		wput(x, "w.yaml", bad[i].text);
		assert_int_equal(agent_config_load_file(&c, x->cfg, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].msg) || !strstr(err, "/w/w.yaml"))
			fail_msg("case %zu: '%s' lacks '%s' or the file's name", i, err,
				 bad[i].msg);
		assert_null(c.vms);
		assert_int_equal(c.nvms, 0);
	}
}

static void test_workload_too_big(void **state)
{
	struct fixture *x = *state;
	struct agent_config c;
	char err[512], *big = malloc(AGENT_WORKLOAD_MAX_BYTES + 2);

	assert_non_null(big);
	memset(big, ' ', AGENT_WORKLOAD_MAX_BYTES + 1);
	big[AGENT_WORKLOAD_MAX_BYTES + 1] = 0;
	wput(x, "w.yaml", big);
	free(big);
	assert_int_equal(agent_config_load_file(&c, x->cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "larger than"));
}


/* prefix6: a unicast /64, kept through a write and a read. */
static void test_prefix6(void **state)
{
	static const struct { const char *val, *msg; } bad[] = {
		{ "\"fd00:0:0:1::/48\"", "expected a /64" },
		{ "\"fd00:0:0:1::\"", "expected a /64" },
		{ "\"fd00:0:0:1::5/64\"", "not a unicast /64" },
		{ "\"ff02::/64\"", "not a unicast /64" },
		{ "\"fe80::/64\"", "not a unicast /64" },
		{ "\"10.0.0.0/64\"", "not a unicast /64" },
		{ "[1]", "expected an IPv6 /64" },
	};
	char text[512], err[512], *buf = NULL;
	struct agent_config c, d;
	size_t len = 0;
	FILE *f;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "server: s\nnode: 1\nnics: [n]\ndirectory: \"127.0.0.1:1\"\n"
			 "ras: 127.0.0.1:2\nkey: /k\ntopology: t\n"
			 "vms:\n  - { name: a, vdc: 1, ip: 10.0.0.1, node: 9, port: p, prefix6: %s }\n",
			 bad[i].val);
		assert_int_equal(agent_config_load_buf(&c, "c.yaml", text, strlen(text), err, sizeof(err)),
				 -EINVAL);
		if (!strstr(err, bad[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].msg);
	}
	snprintf(text, sizeof(text), "server: s\nnode: 1\nnics: [n]\ndirectory: \"127.0.0.1:1\"\n"
		 "ras: 127.0.0.1:2\nkey: /k\ntopology: t\n"
		 "vms:\n  - { name: a, vdc: 1, ip: 10.0.0.1, node: 9, port: p, prefix6: \"fd00:0:0:7::/64\" }\n");
	assert_int_equal(agent_config_load_buf(&c, "c.yaml", text, strlen(text), err, sizeof(err)), 0);
	assert_true(c.vms[0].has_prefix6);
	assert_memory_equal(c.vms[0].prefix6, "\xfd\0\0\0\0\0\0\x07", 8);
	f = open_memstream(&buf, &len);
	assert_int_equal(agent_config_write(&c, f), 0);
	fclose(f);
	assert_int_equal(agent_config_load_buf(&d, "d.yaml", buf, len, err, sizeof(err)), 0);
	assert_true(d.vms[0].has_prefix6);
	assert_memory_equal(d.vms[0].prefix6, c.vms[0].prefix6, 8);
	free(buf);
	agent_config_free(&c);
	agent_config_free(&d);
}

/* nic_mbps: optional (0 when absent), 1 .. 1000000, kept through a write
 * and a read. */
static void test_nic_mbps(void **state)
{
	static const char head[] = "server: s\nnode: 1\nnics: [n]\ndirectory: \"127.0.0.1:1\"\n"
				   "ras: 127.0.0.1:2\nkey: /k\ntopology: t\nvms: []\n";
	char text[512], err[512], *buf = NULL;
	struct agent_config c, d;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(agent_config_load_buf(&c, "c.yaml", head, strlen(head), err, sizeof(err)), 0);
	assert_int_equal(c.nic_mbps, 0);
	agent_config_free(&c);
	snprintf(text, sizeof(text), "%snic_mbps: 0\n", head);
	assert_int_equal(agent_config_load_buf(&c, "c.yaml", text, strlen(text), err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "nic_mbps"));
	snprintf(text, sizeof(text), "%snic_mbps: 20\n", head);
	assert_int_equal(agent_config_load_buf(&c, "c.yaml", text, strlen(text), err, sizeof(err)), 0);
	assert_int_equal(c.nic_mbps, 20);
	f = open_memstream(&buf, &len);
	assert_int_equal(agent_config_write(&c, f), 0);
	fclose(f);
	assert_int_equal(agent_config_load_buf(&d, "d.yaml", buf, len, err, sizeof(err)), 0);
	assert_int_equal(d.nic_mbps, 20);
	free(buf);
	agent_config_free(&c);
	agent_config_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workloads_appended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workload_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workload_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_more_directories, setup, teardown),
		cmocka_unit_test(test_prefix6),
		cmocka_unit_test(test_nic_mbps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
