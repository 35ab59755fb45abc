/* peregrine keygen: make a key file for the management network, or derive
 * a VDC's own key from it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "lib/auth.h"
#include "lib/parse.h"

/* Write key as hex to a new file (mode 0600). */
static int write_key(const char *path, const struct auth_key *k)
{
	char hex[2 * AUTH_KEY_BYTES + 2];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ssize_t n;

	if (fd < 0)
		return cli_error("%s: %s", path, strerror(errno));
	for (int i = 0; i < AUTH_KEY_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", k->k[i]);
	hex[2 * AUTH_KEY_BYTES] = '\n';
	n = write(fd, hex, 2 * AUTH_KEY_BYTES + 1);
	if (close(fd) || n != 2 * AUTH_KEY_BYTES + 1)
		return cli_error("%s: write failed", path);
	return 0;
}

/* keygen --vdc N --key SHARED FILE */
static int derive(int argc, char **argv)
{
	struct auth_key master, k;
	char err[256];
	uint32_t vdc;

	if (argc != 6 || strcmp(argv[1], "--vdc") || strcmp(argv[3], "--key"))
		return cli_usage_error("keygen", "expected --vdc N --key SHARED FILE");
	if (!parse_u32(argv[2], UINT32_MAX, &vdc))
		return cli_usage_error("keygen", "--vdc %s: not a number", argv[2]);
	if (auth_key_load(argv[4], &master, err, sizeof(err)))
		return cli_error("%s", err);
	auth_vdc_key(&master, vdc, &k);
	return write_key(argv[5], &k);
}

int cmd_keygen(int argc, char **argv)
{
	char err[256];

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("Usage: peregrine keygen FILE\n"
		       "       peregrine keygen --vdc N --key SHARED FILE\n\n"
		       "Write a new random %d-byte key, as hex, to FILE (mode 0600).\n"
		       "Every daemon on one management network loads the same key\n"
		       "(--key FILE) and authenticates every message with it.\n"
		       "With --vdc: write VDC N's own key, derived from the shared key\n"
		       "SHARED; it tags a tenant's policy requests for VDC N and no\n"
		       "other (`peregrine policy set`, docs/policy.md).\n"
		       "FILE must not exist.\n", AUTH_KEY_BYTES);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--vdc"))
		return derive(argc, argv);
	if (argc != 2)
		return cli_usage_error("keygen", "expected one FILE");
	if (auth_key_generate(argv[1], err, sizeof(err)))
		return cli_error("%s", err);
	return 0;
}
