/* Unit tests of lib/: hash map against a naive table, arena, parsing,
 * rate limiting, YAML config errors and limits.  Built with AddressSanitizer,
 * whose allocator counts the bytes the YAML tree keeps. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <unistd.h>

#include "lib/arena.h"
#include "lib/auth.h"
#include "lib/udp.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/rng.h"
#include "lib/yconf.h"

/* AddressSanitizer's allocator (sanitizer/allocator_interface.h, which gcc
 * does not install): bytes the program holds right now. */
size_t __sanitizer_get_current_allocated_bytes(void);

/* A plain-array model of an hmap: key idx's value and whether it is there. */
struct hmodel {
	uint64_t *val;
	bool *present;
	size_t count;
};

enum hop { HOP_PUT, HOP_DEL, HOP_GET };

/* Apply one operation on key k (model slot idx) to both, and compare. */
static void hmodel_step(struct hmap *m, struct hmodel *md, uint32_t idx, uint64_t k,
			enum hop op, struct rng *r)
{
	if (op == HOP_PUT) {
		uint64_t v = rng_next(r);

		md->count += !md->present[idx];
		md->present[idx] = true;
		md->val[idx] = v;
		hmap_put(m, k, v);
	} else if (op == HOP_DEL) {
		assert_int_equal(hmap_del(m, k), md->present[idx]);
		md->count -= md->present[idx];
		md->present[idx] = false;
	} else {
		uint64_t *v = hmap_get(m, k);

		assert_int_equal(v != NULL, md->present[idx]);
		if (v)
			assert_int_equal(*v, md->val[idx]);
	}
	assert_int_equal(m->count, md->count);
}

/* hmap against a plain array of (key, present, value) over random
 * operations on a small key space, so that deletes hit long clusters. */
static void test_hmap_vs_naive(void **state)
{
	enum { KEYS = 512, OPS = 200000 };
	static uint64_t val[KEYS];
	static bool present[KEYS];
	struct hmodel md = { val, present, 0 };
	struct hmap m;
	struct rng r;
	size_t count;

	(void)state;
	rng_seed(&r, 42);
	hmap_init(&m, 4, 7);
	for (int i = 0; i < OPS; i++) {
		uint64_t k = rng_below(&r, KEYS) * 0x10000ull; /* clustered hashes */

		hmodel_step(&m, &md, (uint32_t)(k / 0x10000), k, (enum hop)rng_below(&r, 3), &r);
	}
	count = md.count;
	/* Iteration visits exactly the present keys. */
	{
		size_t it = 0, seen = 0;
		uint64_t k, v;

		while (hmap_next(&m, &it, &k, &v)) {
			assert_true(present[k / 0x10000]);
			assert_int_equal(v, val[k / 0x10000]);
			seen++;
		}
		assert_int_equal(seen, count);
	}
	hmap_free(&m);
}

/* Growth moves the old table over a step at a time: a map grown to 100,000
 * keys by mixed puts, deletes and gets agrees with a plain array after every
 * operation checked, while a move is in progress too (checked: it happens),
 * and iteration mid-move visits each key once. */
static void test_hmap_incremental_growth(void **state)
{
	enum { KEYS = 100000, OPS = 400000 };
	static uint64_t val[KEYS];
	static bool present[KEYS];
	static uint8_t seen[KEYS];
	struct hmodel md = { val, present, 0 };
	struct hmap m;
	struct rng r;
	size_t checks_mid_move = 0;

	(void)state;
	rng_seed(&r, 9);
	hmap_init(&m, 4, 11);
	for (int i = 0; i < OPS; i++) {
		uint32_t idx = (uint32_t)rng_below(&r, KEYS), op = (uint32_t)rng_below(&r, 8);
		uint64_t k = (uint64_t)idx << 32 | (uint32_t)(idx * 2654435761u);

		/* Mostly puts: the map keeps growing. */
		hmodel_step(&m, &md, idx, k, op < 5 ? HOP_PUT : op == 5 ? HOP_DEL : HOP_GET, &r);
		if (m.old.cap && i % 97 == 0) {
			size_t it = 0, n = 0;
			uint64_t key, v;

			checks_mid_move++;
			memset(seen, 0, sizeof(seen));
			while (hmap_next(&m, &it, &key, &v)) {
				uint32_t j = (uint32_t)(key >> 32);

				assert_true(j < KEYS && present[j] && v == val[j] && !seen[j]);
				seen[j] = 1;
				n++;
			}
			assert_int_equal(n, md.count);
		}
	}
	assert_true(checks_mid_move > 10);
	for (uint32_t idx = 0; idx < KEYS; idx++) {
		uint64_t *v = hmap_get(&m, (uint64_t)idx << 32 | (uint32_t)(idx * 2654435761u));

		assert_int_equal(v != NULL, present[idx]);
	}
	assert_true(hmap_bytes(&m) >= md.count * sizeof(struct hmap_slot));
	hmap_free(&m);
}

static void test_arena(void **state)
{
	struct arena a;
	char *big;

	(void)state;
	arena_init(&a, 1024);
	for (int i = 0; i < 1000; i++) {
		uint64_t *p = arena_new(&a, uint64_t, 3);

		assert_int_equal((uintptr_t)p % 16, 0);
		assert_int_equal(p[0] | p[1] | p[2], 0);
		p[0] = p[1] = p[2] = UINT64_MAX;
	}
	big = arena_alloc(&a, 100000);	/* larger than a chunk */
	memset(big, 1, 100000);
	arena_reset(&a);
	assert_int_equal(a.allocated, 0);
	assert_int_equal(*(uint64_t *)arena_alloc(&a, 8), 0);
	arena_free(&a);
}

static void test_parse_numbers(void **state)
{
	uint32_t v;
	uint64_t w;
	double d;

	(void)state;
	assert_true(parse_u32("0", 10, &v) && v == 0);
	assert_true(parse_u32("4294967295", UINT32_MAX, &v) && v == UINT32_MAX);
	assert_false(parse_u32("4294967296", UINT32_MAX, &v));
	assert_false(parse_u32("11", 10, &v));
	assert_false(parse_u32("-1", 10, &v));
	assert_false(parse_u32(" 1", 10, &v));
	assert_false(parse_u32("1x", 10, &v));
	assert_false(parse_u32("", 10, &v));
	assert_false(parse_u64("99999999999999999999999", UINT64_MAX, &w));
	assert_true(parse_double("2.5", &d) && d == 2.5);
	assert_false(parse_double("nan", &d));
	assert_false(parse_double("1e999", &d));
}

static void test_kv(void **state)
{
	struct kv kv;
	char err[128];

	(void)state;
	assert_true(kv_parse("a=1,b=two", &kv, err, sizeof(err)));
	assert_int_equal(kv.n, 2);
	assert_string_equal(kv_get(&kv, "b"), "two");
	assert_string_equal(kv_unused(&kv), "a");
	assert_string_equal(kv_get(&kv, "a"), "1");
	assert_null(kv_unused(&kv));
	assert_null(kv_get(&kv, "c"));
	assert_true(kv_parse("", &kv, err, sizeof(err)) && kv.n == 0);
	assert_false(kv_parse("a", &kv, err, sizeof(err)));
	assert_false(kv_parse("=1", &kv, err, sizeof(err)));
	assert_false(kv_parse("a=1,", &kv, err, sizeof(err)));
	assert_false(kv_parse("a=1,a=2", &kv, err, sizeof(err)));
	assert_non_null(strstr(err, "twice"));
}

static void test_ratelimit(void **state)
{
	struct log_rl rl = LOG_RL_INIT(1000, 3);
	int allowed = 0;

	(void)state;
	log_set_level(LOG_ERR);	/* keep the suppression report quiet */
	for (int i = 0; i < 10; i++)
		allowed += log_rl_allow(&rl, 1000000000ull + (uint64_t)i);
	assert_int_equal(allowed, 3);
	assert_int_equal(rl.suppressed, 7);
	/* A new window opens a second later. */
	assert_true(log_rl_allow(&rl, 2000000001ull));
	assert_int_equal(rl.suppressed, 0);
}

/* --log-level: the names the daemons document, and the short ones. */
static void test_log_level_names(void **state)
{
	(void)state;
	assert_int_equal(log_level_parse("error"), LOG_ERR);
	assert_int_equal(log_level_parse("err"), LOG_ERR);
	assert_int_equal(log_level_parse("warn"), LOG_WARN);
	assert_int_equal(log_level_parse("warning"), LOG_WARN);
	assert_int_equal(log_level_parse("info"), LOG_INFO);
	assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
	assert_int_equal(log_level_parse("ERROR"), -1);
	assert_int_equal(log_level_parse("errors"), -1);
	assert_int_equal(log_level_parse(""), -1);
}

static void test_yconf_errors(void **state)
{
	static const char ok[] = "a: 1\nb:\n  - x\n  - y\n";
	static const char bad_syntax[] = "a: [1, 2\n";
	struct yconf yc;
	uint32_t v;

	(void)state;
	assert_int_equal(yconf_load_buf(&yc, "t.yaml", ok, sizeof(ok) - 1), 0);
	assert_true(yconf_u32(&yc, yconf_get(&yc, yconf_root(&yc), "a"), "a", 0, 5, &v));
	assert_int_equal(v, 1);
	assert_int_equal(yconf_seq_len(yconf_get(&yc, yconf_root(&yc), "b")), 2);
	assert_false(yconf_u32(&yc, yconf_seq_at(&yc, yconf_get(&yc, yconf_root(&yc), "b"), 1),
			       "b[1]", 0, 5, &v));
	assert_string_equal(yc.err, "t.yaml:4: b[1]: expected an integer from 0 to 5, got 'y'");
	yconf_free(&yc);

	assert_int_not_equal(yconf_load_buf(&yc, "s.yaml", bad_syntax, sizeof(bad_syntax) - 1), 0);
	assert_non_null(strstr(yc.err, "s.yaml:"));
	yconf_free(&yc);
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * n + tl + 1), *p = s;

	assert_non_null(s);
	memcpy(p, head, hl);
	p += hl;
	for (size_t i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	return s;
}

/* Nesting past YCONF_MAX_DEPTH is refused at the collection that crosses it,
 * in flow and in block style, and 100 KB of '[' gets the same answer. */
static void test_yconf_depth(void **state)
{
	char *ok = repeat("", "[", YCONF_MAX_DEPTH, "");
	char *deep = repeat("", "[", YCONF_MAX_DEPTH + 1, "");
	char *brackets = repeat("", "[", 100000, "");
	struct yconf yc;
	char want[128];
	size_t n;

	(void)state;
	/* close the brackets of `ok` so that it is a valid document */
	n = strlen(ok);
	ok = realloc(ok, 2 * n + 1);
	memset(ok + n, ']', n);
	ok[2 * n] = 0;
	assert_int_equal(yconf_load_buf(&yc, "d.yaml", ok, 2 * n), 0);
	assert_true(yconf_is_seq(yconf_root(&yc)));
	yconf_free(&yc);

	snprintf(want, sizeof(want), "d.yaml:1: nested deeper than %d levels", YCONF_MAX_DEPTH);
	assert_int_equal(yconf_load_buf(&yc, "d.yaml", deep, strlen(deep)), -EINVAL);
	assert_string_equal(yc.err, want);
	assert_null(yconf_root(&yc));
	yconf_free(&yc);
	assert_int_equal(yconf_load_buf(&yc, "d.yaml", brackets, strlen(brackets)), -EINVAL);
	assert_string_equal(yc.err, want);
	yconf_free(&yc);

	/* block style: level d opens on line d, so the error names the line of the first level too deep */
	char block[4096], *p = block;

	for (int i = 0; i <= YCONF_MAX_DEPTH; i++)
		p += sprintf(p, "%*sk:\n", i, "");
	sprintf(p, "%*s1\n", YCONF_MAX_DEPTH + 1, "");
	snprintf(want, sizeof(want), "b.yaml:%d: nested deeper than %d levels",
		 YCONF_MAX_DEPTH + 1, YCONF_MAX_DEPTH);
	assert_int_equal(yconf_load_buf(&yc, "b.yaml", block, strlen(block)), -EINVAL);
	assert_string_equal(yc.err, want);
	yconf_free(&yc);
	free(ok);
	free(deep);
	free(brackets);
}

/* A flat list keeps a tree of at most 10 bytes per byte of file (12-byte
 * nodes, 4-byte references, the scalars' text): libyaml's own document
 * took about 80 (a 96-byte node and two small allocations per scalar). */
static void test_yconf_memory(void **state)
{
	enum { N = 100000 };
	char *flat = repeat("[", "1,", N, "1]");
	size_t len = strlen(flat), before, kept;
	struct yconf yc;

	(void)state;
	before = __sanitizer_get_current_allocated_bytes();
	assert_int_equal(yconf_load_buf(&yc, "f.yaml", flat, len), 0);
	kept = __sanitizer_get_current_allocated_bytes() - before;
	assert_int_equal(yconf_seq_len(yconf_root(&yc)), N + 1);
	assert_string_equal(yconf_scalar(&yc, yconf_seq_at(&yc, yconf_root(&yc), N)), "1");
	print_message("flat list of %zu bytes keeps %zu bytes\n", len, kept);
	assert_true(kept <= 10 * len);
	yconf_free(&yc);
	assert_int_equal(__sanitizer_get_current_allocated_bytes(), before);
	free(flat);
}

/* The size limit is checked before parsing; aliases are refused. */
static void test_yconf_refusals(void **state)
{
	static const char alias[] = "a: &x [1, 2]\nb: *x\n";
	char *big = calloc(1, (size_t)YCONF_MAX_BYTES + 1);
	struct yconf yc;
	char want[128];

	(void)state;
	assert_non_null(big);
	snprintf(want, sizeof(want), "g.yaml: larger than %u bytes", (unsigned)YCONF_MAX_BYTES);
	assert_int_equal(yconf_load_buf(&yc, "g.yaml", big, (size_t)YCONF_MAX_BYTES + 1), -EFBIG);
	assert_string_equal(yc.err, want);
	yconf_free(&yc);
	free(big);

	assert_int_equal(yconf_load_buf(&yc, "a.yaml", alias, sizeof(alias) - 1), -EINVAL);
	assert_string_equal(yc.err, "a.yaml:2: aliases (*x) are not supported");
	yconf_free(&yc);

	assert_int_equal(yconf_load_buf(&yc, "e.yaml", "# nothing\n", 10), -EINVAL);
	assert_string_equal(yc.err, "e.yaml: empty document");
	yconf_free(&yc);
}

static void test_auth(void **state)
{
	static const char hex[] =
		"00112233445566778899aabbccddeeff\n00112233445566778899aabbccddeeff\n";
	struct auth_key k, k2;
	uint8_t msg[100], tag[AUTH_TAG_BYTES];
	char path[] = "/tmp/peregrine-test-key-XXXXXX", err[200];
	int fd;

	(void)state;
	assert_int_equal(auth_key_parse(hex, sizeof(hex) - 1, &k), 0);
	assert_int_equal(k.k[1], 0x11);
	assert_int_not_equal(auth_key_parse("0011", 4, &k2), 0);
	assert_int_not_equal(auth_key_parse("zz", 2, &k2), 0);
	memset(msg, 7, sizeof(msg));
	auth_tag(&k, msg, sizeof(msg), tag);
	assert_true(auth_verify(&k, msg, sizeof(msg), tag));
	msg[50] ^= 1;
	assert_false(auth_verify(&k, msg, sizeof(msg), tag));
	msg[50] ^= 1;
	k2 = k;
	k2.k[0] ^= 1;
	assert_false(auth_verify(&k2, msg, sizeof(msg), tag));

	/* generate refuses to overwrite; load reads what generate wrote */
	fd = mkstemp(path);
	close(fd);
	assert_int_not_equal(auth_key_generate(path, err, sizeof(err)), 0);
	unlink(path);
	assert_int_equal(auth_key_generate(path, err, sizeof(err)), 0);
	assert_int_equal(auth_key_load(path, &k2, err, sizeof(err)), 0);
	unlink(path);
	assert_int_not_equal(auth_key_load(path, &k2, err, sizeof(err)), 0);
	assert_non_null(strstr(err, path));
}

static void test_udp_batch_loopback(void **state)
{
	static struct udp_batch tx, rx;
	struct sockaddr_in a, b;
	socklen_t alen = sizeof(a);
	char err[128];
	int fa, fb, got = 0;

	(void)state;
	assert_int_equal(udp_parse_addr("127.0.0.1:0", &a, err, sizeof(err)), 0);
	assert_int_not_equal(udp_parse_addr("127.0.0.1", &b, err, sizeof(err)), 0);
	assert_int_not_equal(udp_parse_addr("nohost:1", &b, err, sizeof(err)), 0);
	assert_int_not_equal(udp_parse_addr("1.2.3.4:70000", &b, err, sizeof(err)), 0);
	fa = udp_open(&a, 1 << 20);
	fb = udp_open(&a, 1 << 20);
	assert_true(fa >= 0 && fb >= 0);
	assert_int_equal(getsockname(fb, (struct sockaddr *)&b, &alen), 0);
	udp_batch_init(&tx);
	udp_batch_init(&rx);
	for (int i = 0; i < UDP_BATCH; i++) {
		uint8_t *p = udp_batch_add(&tx, &b, 4 + (size_t)i);

		assert_non_null(p);
		memset(p, i, 4 + (size_t)i);
	}
	assert_null(udp_batch_add(&tx, &b, 1));
	/* A second socket cannot take a port that is in use. */
	{
		int fc = udp_open(&b, 0);

		assert_true(fc < 0);
	}
	assert_int_equal(udp_flush(fa, &tx), UDP_BATCH);
	for (int tries = 0; got < UDP_BATCH && tries < 1000; tries++) {
		int n = udp_recv_batch(fb, &rx);

		assert_true(n >= 0);
		for (int i = 0; i < n; i++, got++) {
			assert_int_equal(rx.msgs[i].msg_len, 4 + got);
			assert_int_equal(rx.bufs[i][0], got);
		}
		if (!n)
			usleep(1000);
	}
	assert_int_equal(got, UDP_BATCH);
	assert_int_equal(udp_recv_batch(fb, &rx), 0);
	close(fa);
	close(fb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hmap_vs_naive),
		cmocka_unit_test(test_hmap_incremental_growth),
		cmocka_unit_test(test_arena),
		cmocka_unit_test(test_parse_numbers),
		cmocka_unit_test(test_kv),
		cmocka_unit_test(test_ratelimit),
		cmocka_unit_test(test_log_level_names),
		cmocka_unit_test(test_yconf_errors),
		cmocka_unit_test(test_yconf_depth),
		cmocka_unit_test(test_yconf_memory),
		cmocka_unit_test(test_yconf_refusals),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_udp_batch_loopback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
