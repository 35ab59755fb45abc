/* peregrine keygen: make a key file for the management network. */
#include <stdio.h>
#include <string.h>

#include "cmd/cli.h"
#include "lib/auth.h"

int cmd_keygen(int argc, char **argv)
{
	char err[256];

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("Usage: peregrine keygen FILE\n\n"
		       "Write a new random %d-byte key, as hex, to FILE (mode 0600).\n"
		       "Every daemon on one management network loads the same key\n"
		       "(--key FILE) and authenticates every message with it.\n"
		       "FILE must not exist.\n", AUTH_KEY_BYTES);
		return 0;
	}
	if (argc != 2)
		return cli_usage_error("keygen", "expected one FILE");
	if (auth_key_generate(argv[1], err, sizeof(err)))
		return cli_error("%s", err);
	return 0;
}
