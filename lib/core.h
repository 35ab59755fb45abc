/* The contract every component core follows: the directory (dir/dir.h),
 * the RAS (ras/ras.h), switchd (switchd/switchd.h), the agent's user-space
 * half (agent/agent.h), and any later one.  docs/cores.md says how each
 * core meets it, and where it departs from the design brief and why.
 *
 *   input:  (now, event).  An event is a datagram from an address, a timer,
 *           a link change or the answer to an operation the core asked for
 *           (a netlink result, a map write).  `now` is the caller's
 *           monotonic time in ns; cores that stamp messages for another
 *           component also get the wall clock (struct dir_now, or an offset
 *           in their configuration).
 *   output: the actions, in an output struct the caller passes in and
 *           resets: datagrams with their destination address, store writes,
 *           netlink or map operations.  The caller carries them out in the
 *           order the core documents (for instance: store writes before
 *           datagrams, the directory before the switches).
 *   timer:  X_tick(core, now, out) does what is due and returns the next
 *           deadline (CORE_NEVER: none).  An input may create an earlier
 *           deadline, so a driver calls X_tick after every batch of inputs
 *           and sleeps until what it returns; calling it early is harmless.
 *   never:  a clock, a socket, a file, the environment, a global logger or
 *           an unseeded random number.  Randomness comes from a seed in the
 *           configuration or a struct rng (lib/rng.h) passed in; log lines
 *           go to the struct core_log the caller gives (NULL function:
 *           none), with a time the core was given.
 *   input is hostile: a bad datagram is counted by reason and dropped, in
 *           bounded time and memory; the core never crashes on it.
 *
 * The same code then runs under a daemon shell (cmd/, lib/daemon.h: real
 * sockets, netlink, a clock) and under the simulator (a simulated network
 * and clock), deterministically from a seed.
 */
#ifndef PEREGRINE_LIB_CORE_H
#define PEREGRINE_LIB_CORE_H

#include "lib/common.h"
#include "lib/log.h"

#define CORE_NEVER UINT64_MAX	/* a deadline that never comes */

/* Where a core's log lines go: the shells pass one that writes to lib/log,
 * the simulator one that records or drops them. */
typedef void (*core_log_fn)(void *arg, enum log_level level, const char *line);

struct core_log {
	core_log_fn fn;		/* NULL: lines are dropped */
	void *arg;
};

enum { CORE_LOG_LINE = 512 };	/* bytes of one line, longer ones are cut */

void core_log(const struct core_log *l, enum log_level level, const char *fmt, ...)
	PRINTF(3, 4);
/* Rate-limited (struct log_rl, lib/log.h), for anything a peer can trigger:
 * at most rl->burst lines per window, then one line saying how many were
 * suppressed. */
void core_log_rl(const struct core_log *l, struct log_rl *rl, uint64_t now_ns,
		 enum log_level level, const char *fmt, ...) PRINTF(5, 6);

/* The sink the daemon shells use: lib/log's stderr logger. */
void core_log_stderr(void *arg, enum log_level level, const char *line);
#define CORE_LOG_STDERR ((struct core_log){ core_log_stderr, NULL })

#endif
