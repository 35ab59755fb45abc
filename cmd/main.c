/* peregrine: one binary, one subcommand per component or tool. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "lib/log.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
#define CMD(name, summary) { #name, cmd_##name, summary },
#include "cmd/commands.def"
#undef CMD
};

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "peregrine %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry 'peregrine %s --help'.\n", cmd);
	va_end(ap);
	return 2;
}

int cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("peregrine: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

int cli_find_script(const char *name, char *exe, size_t exelen, char *script, size_t len)
{
	const char *env = getenv("PEREGRINE_SCRIPTS");
	ssize_t n = readlink("/proc/self/exe", exe, exelen - 1);
	char *dir;

	if (n <= 0)
		return -1;
	exe[n] = '\0';
	if (env && *env) {
		snprintf(script, len, "%s/%s", env, name);
		return access(script, R_OK) ? -1 : 0;
	}
	if (!(dir = strrchr(exe, '/')))
		return -1;
	*dir = '\0';
	snprintf(script, len, "%s/../scripts/%s", exe, name);
	if (access(script, R_OK))
		snprintf(script, len, "%s/../../scripts/%s", exe, name);
	if (access(script, R_OK))
		snprintf(script, len, "scripts/%s", name);
	*dir = '/';
	return access(script, R_OK) ? -1 : 0;
}

int cli_enter_netns(const char *ns)
{
	char path[256];
	int fd, err = 0;

	if (!ns)
		return 0;
	if (strchr(ns, '/') || snprintf(path, sizeof(path), "/run/netns/%s", ns) >= (int)sizeof(path))
		return cli_error("bad namespace name '%s'", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_error("%s: %s", path, strerror(errno));
	if (setns(fd, CLONE_NEWNET))
		err = cli_error("setns %s: %s", ns, strerror(errno));
	close(fd);
	return err;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: peregrine COMMAND [ARGS...]\n\n"
		   "Peregrine: a data-center network fabric for multi-tenant clouds on\n"
		   "commodity Ethernet switches.\n\nCommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'peregrine COMMAND --help' describes each; docs/ has the manual.\n");
}

int main(int argc, char **argv)
{
	const char *name, *self = strrchr(argv[0], '/');

	/* a container runtime runs the CNI plugin by its file name */
	if (!strcmp(self ? self + 1 : argv[0], "peregrine-cni"))
		return cmd_cni(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	name = argv[1];
	if (!strcmp(name, "-h") || !strcmp(name, "--help") || !strcmp(name, "help")) {
		if (argc > 2 && strcmp(name, "help") == 0) {
			char *hargv[] = { argv[2], "--help", NULL };

			for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
				if (!strcmp(commands[i].name, argv[2]))
					return commands[i].fn(2, hargv);
		}
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "peregrine: unknown command '%s'\n\n", name);
	usage(stderr);
	return 2;
}
