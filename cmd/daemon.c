/* The daemon shells' scaffold (cmd/daemon.h). */
#include "cmd/daemon.h"

#include <stdarg.h>
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
	case DAEMON_OPT_METRICS:
		if (strlen(arg) >= sizeof(d->metrics_addr) || !strchr(arg, ':'))
			return cli_usage_error(d->cmd, "--metrics: '%s' is not ADDRESS:PORT", arg);
		snprintf(d->metrics_addr, sizeof(d->metrics_addr), "%s", arg);
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

static void render(struct daemon *d)
{
	struct metrics_server_stats st;

	metrics_text_reset(&d->text);
	if (d->render)
		d->render(d->render_arg, &d->text);
	metrics_sample(&d->text, METRICS_GAUGE, "peregrine_daemon_info",
		       "the daemon serving these metrics (always 1)", 1, "daemon", d->cmd,
		       "name", d->name, NULL);
	metrics_server_stats(d->metrics, &st);
	metrics_sample(&d->text, METRICS_COUNTER, "peregrine_metrics_requests_total",
		       "requests to this metrics endpoint, by HTTP status",
		       (double)st.served, "code", "200", NULL);
	metrics_sample(&d->text, METRICS_COUNTER, "peregrine_metrics_requests_total",
		       "requests to this metrics endpoint, by HTTP status",
		       (double)st.not_found, "code", "404", NULL);
	metrics_sample(&d->text, METRICS_COUNTER, "peregrine_metrics_requests_total",
		       "requests to this metrics endpoint, by HTTP status",
		       (double)st.bad_method, "code", "405", NULL);
	if (d->text.bad)
		log_warn("metrics: a metric was refused (bad name or label, or too large)");
	metrics_publish(d->metrics, &d->text);
}

static void on_metrics_timer(void *arg)
{
	render(arg);
}

int daemon_metrics(struct daemon *d, daemon_metrics_fn fn, void *arg)
{
	char err[256];
	uint64_t ns = (uint64_t)DAEMON_METRICS_MS * 1000000ull;

	d->render = fn;
	d->render_arg = arg;
	if (!d->metrics_addr[0])
		return 0;
	if (!(d->metrics = metrics_start(d->metrics_addr, err, sizeof(err))))
		return cli_error("%s: --metrics: %s", d->cmd, err);
	render(d);
	d->metrics_timer = loop_timer_add(d->loop, ns, ns, on_metrics_timer, d);
	log_info("metrics at http://%s/metrics", d->metrics_addr);
	return 0;
}

void daemon_event(struct daemon *d, const char *kind, const char *fmt, ...)
{
	char buf[METRICS_EVENT_MAX];
	int n;

	if (!d || !d->metrics)
		return;
	n = snprintf(buf, sizeof(buf), "\"daemon\":\"%s\",\"node\":\"%s\",\"kind\":\"%s\"",
		     d->cmd, d->name[0] ? d->name : d->cmd, kind);
	if (fmt && n > 0 && (size_t)n + 1 < sizeof(buf)) {
		va_list ap;

		buf[n++] = ',';
		va_start(ap, fmt);
		vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	metrics_event(d->metrics, buf);
}

const char *daemon_metrics_addr(const struct daemon *d)
{
	return d->metrics_addr;
}

int daemon_run(struct daemon *d)
{
	return loop_run(d->loop);
}

void daemon_free(struct daemon *d)
{
	/* the HTTP thread first: it must not serve while the rest goes */
	metrics_stop(d->metrics);
	d->metrics = NULL;
	metrics_text_free(&d->text);
	if (d->loop)
		loop_free(d->loop);	/* and every timer still registered */
	d->loop = NULL;
	/* The timers went with the loop: a shell that serves again (a RAS
	 * standing by after it led) registers its hooks anew. */
	d->core_timer = NULL;
	d->core_due = 0;
	d->tick = NULL;
	d->tick_arg = NULL;
	d->nevery = 0;
	d->metrics_timer = NULL;
	d->render = NULL;
	d->render_arg = NULL;
}
