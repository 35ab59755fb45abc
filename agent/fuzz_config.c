/* libFuzzer: the agent configuration parser on arbitrary bytes, and the
 * writer's output read back to the same configuration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config c, d;
	char err[600], *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (agent_config_load_buf(&c, "fuzz", data, size, err, sizeof(err)))
		return 0;
	f = open_memstream(&buf, &len);
	if (!f || agent_config_write(&c, f))
		abort();
	fclose(f);
	/* names with YAML syntax in them may not survive; whatever does must be equal */
	if (!agent_config_load_buf(&d, "again", buf, len, err, sizeof(err))) {
		if (d.nvms != c.nvms || d.node != c.node || d.nnics != c.nnics)
			abort();
		agent_config_free(&d);
	}
	free(buf);
	agent_config_free(&c);
	return 0;
}
