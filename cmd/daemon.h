/* The scaffold the daemon shells share (directory, ras, switchd, agent):
 * the common options (--name, --log-level), the event loop with its stop
 * signals, the core's timer and a periodic status hook.  A shell keeps only
 * what is its own: its sockets, netlink or maps, and the calls into its core
 * (lib/core.h, docs/cores.md).
 *
 *	struct daemon d;
 *	daemon_init(&d, "switchd");
 *	... getopt_long over an option table that ends in DAEMON_OPTIONS ...
 *		default: if ((rc = daemon_opt(&d, c, optarg)) <= 0) return -rc ...
 *	daemon_start(&d);		ident, level, loop, SIGINT/SIGTERM
 *	daemon_core_timer(&d, tick, arg);	tick() returns the next deadline
 *	daemon_every(&d, 1000, status, arg);
 *	daemon_metrics(&d, render, arg);	with --metrics: Prometheus text
 *	daemon_run(&d);
 *	daemon_free(&d);
 */
#ifndef PEREGRINE_CMD_DAEMON_H
#define PEREGRINE_CMD_DAEMON_H

#include <getopt.h>

#include "lib/common.h"
#include "lib/loop.h"
#include "lib/metrics.h"

enum daemon_limits {
	DAEMON_NAME_MAX = 64,		/* --name */
	DAEMON_IDLE_MS = 1000,		/* a core with no deadline: ticked anyway */
	DAEMON_MAX_EVERY = 4,		/* periodic hooks */
	DAEMON_METRICS_MS = 1000,	/* metrics re-rendered this often */
};

/* getopt_long codes of the common options (above every short option). */
enum { DAEMON_OPT_NAME = 0x100, DAEMON_OPT_LOG_LEVEL, DAEMON_OPT_METRICS };

#define DAEMON_OPTION_NAME { "name", required_argument, NULL, DAEMON_OPT_NAME }
#define DAEMON_OPTION_LOG_LEVEL { "log-level", required_argument, NULL, DAEMON_OPT_LOG_LEVEL }
#define DAEMON_OPTION_METRICS { "metrics", required_argument, NULL, DAEMON_OPT_METRICS }
/* --name sets the log ident; a shell whose --name means more (the agent's
 * names its pinned data plane) lists DAEMON_OPTION_LOG_LEVEL and
 * DAEMON_OPTION_METRICS only. */
#define DAEMON_OPTIONS DAEMON_OPTION_NAME, DAEMON_OPTION_LOG_LEVEL, DAEMON_OPTION_METRICS
/* The help text of the common options a shell prints. */
#define DAEMON_HELP_METRICS \
	"  --metrics A.B.C.D:PORT  serve Prometheus metrics at http://A.B.C.D:PORT/metrics\n" \
	"                     (an address of the management network; docs/metrics.md)\n"

/* Called when the core's deadline comes (and whenever the shell re-arms it
 * to now): tick the core, carry out its output; returns the next deadline
 * (monotonic ns; UINT64_MAX: none). */
typedef uint64_t (*daemon_tick_fn)(void *arg, uint64_t now);
typedef void (*daemon_every_fn)(void *arg);
/* Append the daemon's own metrics (lib/metrics.h) to t. */
typedef void (*daemon_metrics_fn)(void *arg, struct metrics_text *t);

struct daemon {
	const char *cmd;		/* "switchd": errors, default log ident */
	char name[DAEMON_NAME_MAX];	/* --name; the log ident */
	int level;			/* --log-level; -1: unchanged */
	struct loop *loop;
	struct loop_timer *core_timer;
	uint64_t core_due;		/* when core_timer fires; 0: not armed */
	daemon_tick_fn tick;
	void *tick_arg;
	struct loop_timer *every[DAEMON_MAX_EVERY];
	unsigned nevery;
	char metrics_addr[64];		/* --metrics; "" none */
	struct metrics_server *metrics;
	struct metrics_text text;
	daemon_metrics_fn render;
	void *render_arg;
	struct loop_timer *metrics_timer;
};

void daemon_init(struct daemon *d, const char *cmd);
/* An option getopt_long returned that the shell does not know: 1 if it was
 * a common one (taken), else the exit status of a usage error (2) after
 * printing it ("unknown option" for anything else). */
int daemon_opt(struct daemon *d, int c, const char *arg);
/* After the options: log ident and level, the loop, SIGINT and SIGTERM stop
 * it, SIGPIPE is ignored. */
void daemon_start(struct daemon *d);
/* The core's timer; armed at once (the first tick runs when the loop
 * starts). */
void daemon_core_timer(struct daemon *d, daemon_tick_fn tick, void *arg);
/* The core may have an earlier deadline now (after an input): fire the
 * timer at `deadline` if that is sooner than it would. */
void daemon_arm(struct daemon *d, uint64_t deadline);
/* fn(arg) every ms (status files, counters). */
void daemon_every(struct daemon *d, uint32_t ms, daemon_every_fn fn, void *arg);
/* With --metrics: serve what fn renders, re-rendered every
 * DAEMON_METRICS_MS (after the core's own, the scaffold adds
 * peregrine_daemon_info and the metrics server's requests).  Without, does
 * nothing.  0, or the exit status 1 after printing why (the address is not
 * this host's, or in use). */
int daemon_metrics(struct daemon *d, daemon_metrics_fn fn, void *arg);
/* An event for `peregrine monitor` (docs/monitor.md), served at GET
 * /events next to the metrics: `kind` and more JSON fields (fmt: the inside
 * of an object, "\"port\":%u,\"up\":%s", or NULL), after "daemon" and
 * "node" (--name).  Without --metrics: nothing. */
void daemon_event(struct daemon *d, const char *kind, const char *fmt, ...) PRINTF(3, 4);
/* The address --metrics gave ("" none), for status files. */
const char *daemon_metrics_addr(const struct daemon *d);
int daemon_run(struct daemon *d);
void daemon_free(struct daemon *d);

#endif
