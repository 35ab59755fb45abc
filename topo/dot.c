/* Graphviz export. */
#include "topo/dot.h"

void topo_write_dot(const struct topo *t, FILE *f)
{
	fprintf(f, "graph \"%s\" {\n", t->spec);
	fprintf(f, "  graph [overlap=false, splines=true];\n");
	fprintf(f, "  node [fontsize=10];\n");
	for (uint32_t i = 0; i < t->nnodes; i++) {
		const struct topo_node *n = &t->nodes[i];

		if (n->kind == TOPO_SERVER)
			fprintf(f, "  \"%s\" [shape=box, style=filled, fillcolor=lightyellow];\n",
				n->name);
		else
			fprintf(f, "  \"%s\" [shape=ellipse, style=filled, fillcolor=lightblue, "
				"rank=%u, label=\"%s\\n%s L%u\"];\n", n->name, n->level,
				n->name, topo_role_name(n->role), n->level);
	}
	for (uint32_t l = 0; l < t->nlinks; l++) {
		const struct topo_link *lk = &t->links[l];

		fprintf(f, "  \"%s\" -- \"%s\" [taillabel=\"%u\", headlabel=\"%u\", "
			"label=\"%gG\", fontsize=8];\n", t->nodes[lk->a].name,
			t->nodes[lk->b].name, lk->pa, lk->pb, lk->mbps / 1000.0);
	}
	fprintf(f, "}\n");
}
