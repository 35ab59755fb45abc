/* lib/prefault.c: the helper faults in the headroom past a published span's
 * high-water mark (mincore sees the pages resident) and no further, follows
 * the mark as it moves, leaves alone what it was told to forget, and stops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/prefault.h"

enum { MIB = 1 << 20, MAP = 256 * MIB, WAIT_MS = 5000 };

static size_t resident(uint8_t *base, size_t from, size_t to)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = 0, pages = (to - from) / page;
	unsigned char *v = malloc(pages);

	assert_non_null(v);
	assert_int_equal(mincore(base + from, to - from, v), 0);
	for (size_t i = 0; i < pages; i++)
		n += v[i] & 1;
	free(v);
	return n * page;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait until the helper has populated at least `bytes` in all. */
static bool wait_bytes(struct prefault *pf, uint64_t bytes)
{
	for (int i = 0; i < WAIT_MS && prefault_bytes(pf) < bytes; i++)
		sleep_ms(1);
	return prefault_bytes(pf) >= bytes;
}

static uint8_t *map(void)
{
	uint8_t *p = mmap(NULL, MAP, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	assert_true(p != MAP_FAILED);
	madvise(p, MAP, MADV_NOHUGEPAGE);	/* resident bytes exact to the page */
	return p;
}

static void test_headroom_follows_the_mark(void **state)
{
	uint8_t *p = map();
	struct prefault *pf = prefault_start("pf-test");
	struct prefault_span sp = { .base = p, .used = 0, .reserved = MAP };

	(void)state;
	assert_non_null(pf);
	assert_int_equal(resident(p, 0, MAP), 0);
	/* Used 0: the headroom is the minimum, 8 MiB, populated and no more. */
	prefault_publish(pf, &sp, 1);
	assert_true(wait_bytes(pf, PREFAULT_MIN_AHEAD));
	sleep_ms(50);	/* would it go further? */
	assert_int_equal(resident(p, 0, PREFAULT_MIN_AHEAD), PREFAULT_MIN_AHEAD);
	assert_int_equal(resident(p, PREFAULT_MIN_AHEAD, MAP), 0);
	/* The data is untouched: populating writes nothing. */
	for (size_t i = 0; i < PREFAULT_MIN_AHEAD; i += 4096)
		assert_int_equal(p[i], 0);
	/* The mark moves to 128 MiB: 16 MiB (used / 8) past it, in all. */
	sp.used = 128 * MIB;
	prefault_publish(pf, &sp, 1);
	assert_true(wait_bytes(pf, PREFAULT_MIN_AHEAD + 16 * MIB));
	sleep_ms(50);
	assert_int_equal(resident(p, 128 * MIB, 144 * MIB), 16 * MIB);
	assert_int_equal(resident(p, 144 * MIB, MAP), 0);
	/* Never past the reservation. */
	sp.used = MAP - MIB;
	prefault_publish(pf, &sp, 1);
	assert_true(wait_bytes(pf, PREFAULT_MIN_AHEAD + 16 * MIB + 2 * MIB));
	assert_int_equal(resident(p, MAP - 2 * MIB, MAP), 2 * MIB);
	prefault_stop(pf);
	munmap(p, MAP);
}

static void test_forget_and_unpublish(void **state)
{
	uint8_t *a = map(), *b = map();
	struct prefault *pf = prefault_start(NULL);
	struct prefault_span sp[2] = { { a, 0, MAP }, { b, 64 * MIB, MAP } };
	uint64_t before;

	(void)state;
	assert_non_null(pf);
	prefault_publish(pf, sp, 2);
	assert_true(wait_bytes(pf, 2 * PREFAULT_MIN_AHEAD));
	/* Forgotten: nothing more is touched even as the marks move on... */
	prefault_forget(pf);
	before = prefault_bytes(pf);
	sleep_ms(50);
	assert_int_equal(prefault_bytes(pf), before);
	/* ...until published again; a span left out is left alone. */
	sp[1].used = 192 * MIB;
	prefault_publish(pf, &sp[1], 1);
	assert_true(wait_bytes(pf, before + 24 * MIB));	/* 192 MiB / 8 */
	assert_true(resident(b, 192 * MIB, 216 * MIB) >= 24 * MIB);
	assert_int_equal(resident(a, PREFAULT_MIN_AHEAD, MAP), 0);
	prefault_stop(pf);
	prefault_stop(NULL);
	munmap(a, MAP);
	munmap(b, MAP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headroom_follows_the_mark),
		cmocka_unit_test(test_forget_and_unpublish),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
