/* Graphviz export. */
#include <inttypes.h>
#include "topo/dot.h"

static void write_node(const struct topo *t, uint32_t i, const struct topo_dot_state *st,
		       FILE *f)
{
	const struct topo_node *n = &t->nodes[i];
	bool down = st && st->node_down && st->node_down[i];

	if (n->kind == TOPO_SERVER) {
		if (down)	/* a failed server: BCube's relays */
			fprintf(f, "  \"%s\" [shape=box, style=\"filled,dashed\", fillcolor=grey80, "
				"label=\"%s\\ndown\"];\n", n->name, n->name);
		else
			fprintf(f, "  \"%s\" [shape=box, style=filled, fillcolor=lightyellow];\n",
				n->name);
		return;
	}
	fprintf(f, "  \"%s\" [shape=ellipse, style=\"filled%s\", fillcolor=%s, rank=%u, "
		"label=\"%s\\n%s L%u", n->name, down ? ",dashed" : "",
		down ? "grey80" : "lightblue", n->level, n->name, topo_role_name(n->role), n->level);
	if (st && st->fib_used && st->fib_used[i] >= 0) {
		fprintf(f, "\\nFIB %" PRId64, st->fib_used[i]);
		if (st->fib_capacity && st->fib_capacity[i] > 0)
			fprintf(f, " / %" PRId64, st->fib_capacity[i]);
	} else if (st && st->fib_used && (st->fib_used[i] == -1 || down)) {
		fprintf(f, "\\n%s", down ? "down" : "FIB ?");
	}
	fprintf(f, "\"];\n");
}

void topo_write_dot_state(const struct topo *t, const struct topo_dot_state *st, FILE *f)
{
	static const char *const style[] = {
		[TOPO_DOT_UP] = "",
		[TOPO_DOT_DOWN] = ", color=red, fontcolor=red, style=dashed, penwidth=2",
		[TOPO_DOT_ABSENT] = ", color=grey60, fontcolor=grey60, style=dotted",
	};

	fprintf(f, "graph \"%s\" {\n", t->spec);
	fprintf(f, "  graph [overlap=false, splines=true];\n");
	fprintf(f, "  node [fontsize=10];\n");
	for (uint32_t i = 0; i < t->nnodes; i++)
		write_node(t, i, st, f);
	for (uint32_t l = 0; l < t->nlinks; l++) {
		const struct topo_link *lk = &t->links[l];
		uint8_t s = st && st->link && st->link[l] <= TOPO_DOT_ABSENT ? st->link[l]
									      : TOPO_DOT_UP;

		fprintf(f, "  \"%s\" -- \"%s\" [taillabel=\"%u\", headlabel=\"%u\", "
			"label=\"%gG%s\", fontsize=8%s];\n", t->nodes[lk->a].name,
			t->nodes[lk->b].name, lk->pa, lk->pb, lk->mbps / 1000.0,
			s == TOPO_DOT_DOWN ? " down" : "", style[s]);
	}
	fprintf(f, "}\n");
}

void topo_write_dot(const struct topo *t, FILE *f)
{
	topo_write_dot_state(t, NULL, f);
}
