/* libFuzzer target: the topology file reader, and the analysis of whatever
 * it accepts. */
#include <stdint.h>
#include <stddef.h>

#include "topo/analyze.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct topo *t;
	char err[512];

	if (size > 1 << 16)
		return 0;
	if (topo_load_buf("fuzz", data, size, &t, err, sizeof(err)) == 0) {
		struct topo_check c;
		struct topo_stats st;

		topo_check(t, &c);
		topo_check_free(&c);
		topo_stats(t, &st);
		topo_free(t);
	}
	return 0;
}
