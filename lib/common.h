/* Small helpers every Peregrine file may use. */
#ifndef PEREGRINE_LIB_COMMON_H
#define PEREGRINE_LIB_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define UNUSED __attribute__((unused))
#define PRINTF(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))

/* Allocation that cannot fail: running out of memory is fatal in Peregrine
 * (a daemon that cannot allocate cannot keep its promises). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);

NORETURN void die(const char *fmt, ...) PRINTF(1, 2);

/* Monotonic and wall clocks in nanoseconds.  Only shells (cmd/, lab/) and
 * benchmarks call these; component logic receives time as an argument. */
uint64_t mono_ns(void);
uint64_t wall_ns(void);

/* Peak resident set size of this process, in bytes. */
uint64_t peak_rss_bytes(void);

#endif
