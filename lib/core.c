/* Log sinks for the cores (lib/core.h). */
#include "lib/core.h"

#include <stdarg.h>
#include <stdio.h>

static void vline(const struct core_log *l, enum log_level level, const char *fmt, va_list ap)
{
	char line[CORE_LOG_LINE];

	vsnprintf(line, sizeof(line), fmt, ap);
	l->fn(l->arg, level, line);
}

void core_log(const struct core_log *l, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!l || !l->fn)
		return;
	va_start(ap, fmt);
	vline(l, level, fmt, ap);
	va_end(ap);
}

void core_log_rl(const struct core_log *l, struct log_rl *rl, uint64_t now_ns,
		 enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!l || !l->fn)
		return;
	if (now_ns - rl->window_start >= rl->interval_ns) {
		if (rl->suppressed)
			core_log(l, LOG_WARN, "%llu similar messages suppressed",
				 (unsigned long long)rl->suppressed);
		rl->window_start = now_ns;
		rl->used = 0;
		rl->suppressed = 0;
	}
	if (rl->used >= rl->burst) {
		rl->suppressed++;
		return;
	}
	rl->used++;
	va_start(ap, fmt);
	vline(l, level, fmt, ap);
	va_end(ap);
}

void core_log_stderr(void *arg, enum log_level level, const char *line)
{
	(void)arg;
	log_msg(level, "%s", line);
}
