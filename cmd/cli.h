/* Shared pieces of the command shells. */
#ifndef PEREGRINE_CMD_CLI_H
#define PEREGRINE_CMD_CLI_H

#include <getopt.h>
#include <stdio.h>
#include "lib/common.h"
#include "lib/json.h"

#define CMD(name, summary) int cmd_##name(int argc, char **argv);
#include "cmd/commands.def"
#undef CMD

struct bench_opts {
	bool json;		/* figures go into the result object only */
	int argc;		/* options after the bench name */
	char **argv;
};

#define BENCH(name, summary) int bench_##name(const struct bench_opts *o, json_t *res);
#include "cmd/benches.def"
#undef BENCH

/* Print "peregrine: <msg>" to stderr and return 2 (usage errors) or 1. */
int cli_usage_error(const char *cmd, const char *fmt, ...) PRINTF(2, 3);
int cli_error(const char *fmt, ...) PRINTF(1, 2);
/* Move this process into network namespace /run/netns/NS (NULL: stay).
 * 0, or 1 after printing why not. */
int cli_enter_netns(const char *ns);
/* The script scripts/NAME that lab and bench commands run: from
 * $PEREGRINE_SCRIPTS when set, else beside the binary's tree (build/ or
 * build/asan/), else ./scripts (a build directory outside the tree).  The
 * binary's own path goes to exe.  0, or -1 when there is none. */
int cli_find_script(const char *name, char *exe, size_t exelen, char *script, size_t len);

/* Human-readable "yes"/"no". */
static inline const char *yesno(bool b)
{
	return b ? "yes" : "no";
}

#endif
