/* The daemon shells' scaffold (cmd/daemon.h). */
#include "cmd/daemon.h"

#include <stdio.h>
#include <string.h>

#include "cmd/cli.h"
#include "lib/log.h"

void daemon_init(struct daemon *d, const char *cmd)
{
	memset(d, 0, sizeof(*d));
	d->cmd = cmd;
	d->level = -1;
	snprintf(d->name, sizeof(d->name), "%s", cmd);
}

int daemon_opt(struct daemon *d, int c, const char *arg)
{
	switch (c) {
	case DAEMON_OPT_NAME:
		if (strlen(arg) >= sizeof(d->name))
			return cli_usage_error(d->cmd, "--name: at most %d characters",
					       DAEMON_NAME_MAX - 1);
		snprintf(d->name, sizeof(d->name), "%s", arg);
		return 1;
	case DAEMON_OPT_LOG_LEVEL:
		if ((d->level = log_level_parse(arg)) < 0)
			return cli_usage_error(d->cmd, "--log-level: '%s' is not " LOG_LEVELS, arg);
		log_set_level((enum log_level)d->level);
		return 1;
	default:
		return cli_usage_error(d->cmd, "unknown option");
	}
}

void daemon_start(struct daemon *d)
{
	log_set_ident(d->name);
	if (d->level >= 0)
		log_set_level((enum log_level)d->level);
	d->loop = loop_new();
	loop_stop_on_signals(d->loop);
}

static void on_core_timer(void *arg)
{
	struct daemon *d = arg;
	uint64_t now = mono_ns(), next = d->tick(d->tick_arg, now);

	d->core_due = 0;
	daemon_arm(d, next);
}

void daemon_arm(struct daemon *d, uint64_t deadline)
{
	uint64_t now = mono_ns();

	if (deadline == UINT64_MAX)
		deadline = now + DAEMON_IDLE_MS * 1000000ull;
	if (d->core_due && d->core_due <= deadline)
		return;
	d->core_due = deadline;
	loop_timer_set(d->loop, d->core_timer, deadline > now ? deadline - now : 0);
}

void daemon_core_timer(struct daemon *d, daemon_tick_fn tick, void *arg)
{
	d->tick = tick;
	d->tick_arg = arg;
	d->core_timer = loop_timer_add(d->loop, 0, 0, on_core_timer, d);
	d->core_due = mono_ns();
}

void daemon_every(struct daemon *d, uint32_t ms, daemon_every_fn fn, void *arg)
{
	uint64_t ns = (uint64_t)ms * 1000000ull;

	if (d->nevery == DAEMON_MAX_EVERY)
		die("daemon: more than %d periodic hooks", DAEMON_MAX_EVERY);
	d->every[d->nevery++] = loop_timer_add(d->loop, ns, ns, fn, arg);
}

int daemon_run(struct daemon *d)
{
	return loop_run(d->loop);
}

void daemon_free(struct daemon *d)
{
	if (d->loop)
		loop_free(d->loop);	/* and every timer still registered */
	d->loop = NULL;
}
