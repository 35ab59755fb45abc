/* The daemons' event loop: file descriptors, timers and signals.
 *
 * A thin layer over libev (docs/dependencies.md says why libev): it fixes the
 * callback shapes the shells use and keeps libev's macros out of the rest of
 * the tree.  Component logic never sees the loop; only cmd/ and lab/ do.
 */
#ifndef PEREGRINE_LIB_LOOP_H
#define PEREGRINE_LIB_LOOP_H

#include "lib/common.h"

struct loop;
struct loop_io;
struct loop_timer;

typedef void (*loop_io_cb)(void *arg, int fd);
typedef void (*loop_timer_cb)(void *arg);
typedef void (*loop_signal_cb)(void *arg, int signo);

struct loop *loop_new(void);
/* Also frees every io and timer still registered. */
void loop_free(struct loop *l);

/* Run until loop_stop(); returns 0. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

/* Monotonic time of the current loop iteration, in nanoseconds. */
uint64_t loop_now_ns(struct loop *l);

/* Call cb whenever fd is readable. */
struct loop_io *loop_io_add(struct loop *l, int fd, loop_io_cb cb, void *arg);
void loop_io_del(struct loop *l, struct loop_io *io);

/* Fire once after `after_ns`; then every `repeat_ns` if that is non-zero. */
struct loop_timer *loop_timer_add(struct loop *l, uint64_t after_ns,
				  uint64_t repeat_ns, loop_timer_cb cb, void *arg);
/* Re-arm a timer to fire `after_ns` from now (one-shot unless repeating). */
void loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t after_ns);
void loop_timer_del(struct loop *l, struct loop_timer *t);

/* Handle a signal in the loop (not in signal context). */
void loop_signal_add(struct loop *l, int signo, loop_signal_cb cb, void *arg);

/* SIGINT and SIGTERM stop the loop; SIGPIPE is ignored. */
void loop_stop_on_signals(struct loop *l);

#endif
