/* libFuzzer target: the lab file reader and the setup scripts generated
 * from whatever it accepts.  Inputs whose topology is a builder spec are
 * skipped (a spec may legitimately ask for millions of nodes, which the lab
 * refuses only after building them); inline topologies are fuzzed. */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "lab/lab.h"
#include "lib/yconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool spec_topology(const uint8_t *data, size_t size)
{
	struct yconf yc;
	ynode *root, *t;
	bool spec = false;

	if (yconf_load_buf(&yc, "fuzz", data, size) == 0 && (root = yconf_root(&yc)) &&
	    yconf_is_map(root) && (t = yconf_get(&yc, root, "topology")))
		spec = yconf_is_scalar(t);
	yconf_free(&yc);
	return spec;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lab l;
	char err[512], *text = NULL;
	size_t len = 0;

	if (size > 1 << 16 || spec_topology(data, size))
		return 0;
	if (lab_load_buf(&l, "fuzz", data, size, "pg", err, sizeof(err)))
		return 0;
	FILE *f = open_memstream(&text, &len);
	lab_script_host(&l, f);
	for (uint32_t n = 0; n < l.topo->nnodes; n++) {
		lab_script_ns(&l, n, f);
		lab_script_tc(&l, n, f);
	}
	for (uint32_t v = 0; v < l.nvms; v++)
		lab_script_ns(&l, LAB_NS_VM | v, f);
	lab_script_ns(&l, LAB_NS_MGMT, f);
	fclose(f);
	free(text);
	lab_free(&l);
	return 0;
}
