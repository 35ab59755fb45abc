/* Logging with levels and rate limiting.
 *
 * Daemons log to stderr (the lab collects it per node).  Anything a remote
 * peer can trigger goes through a struct log_rl so that a hostile peer cannot
 * flood the log: at most `burst` lines per `interval`, then one line saying
 * how many were suppressed.
 */
#ifndef PEREGRINE_LIB_LOG_H
#define PEREGRINE_LIB_LOG_H

#include "lib/common.h"

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse a --log-level: "error" (or "err"), "warn" (or "warning"), "info",
 * "debug"; -1 on anything else.  Every daemon documents it as LOG_LEVELS. */
#define LOG_LEVELS "error, warn, info or debug"
int log_level_parse(const char *s);
/* Prefix every line with this name (for instance "directory"). */
void log_set_ident(const char *ident);

void log_msg(enum log_level level, const char *fmt, ...) PRINTF(2, 3);

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

struct log_rl {
	uint64_t interval_ns;	/* window length */
	uint32_t burst;		/* lines allowed per window */
	uint32_t used;		/* lines printed in this window */
	uint64_t window_start;	/* ns */
	uint64_t suppressed;	/* lines dropped since the last report */
};

#define LOG_RL_INIT(interval_ms, burst_) \
	{ .interval_ns = (uint64_t)(interval_ms) * 1000000ull, .burst = (burst_) }

/* True when a line may be printed now; reports suppressed lines when a new
 * window opens.  `now_ns` is a monotonic time. */
bool log_rl_allow(struct log_rl *rl, uint64_t now_ns);

void log_rl_msg(struct log_rl *rl, uint64_t now_ns, enum log_level level,
		const char *fmt, ...) PRINTF(4, 5);

#endif
