/* libFuzzer: the security-group parser (a policy file) and the compiler on
 * arbitrary bytes; whatever compiles is checked against the naive evaluator
 * on the compiled entries' own corners: every port entry's first port and
 * every peer entry's address must be allowed for some rule only if the naive
 * evaluator agrees that a rule covers that port and address. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "agent/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the compiled entries allow (dir, proto key, port, peer): the same
 * two lookups as the data plane, done by a linear scan for the longest
 * match. */
static bool compiled_allows(const struct pol_compiled *c, uint8_t dir, uint8_t proto,
			    uint16_t port, uint32_t peer)
{
	uint32_t best = 0, cls = 0;

	for (size_t i = 0; i < c->nport; i++) {
		const struct pgr_pol_port_key *k = &c->port[i].k;
		uint32_t len = k->prefixlen - PGR_POL_PORT_BITS;
		uint16_t mask = len ? (uint16_t)(0xffff << (16 - len)) : 0;

		if (k->dir == dir && k->proto == proto &&
		    ((ntohs(k->port) ^ port) & mask) == 0 && len + 1 > best) {
			best = len + 1;
			cls = c->port[i].cls;
		}
	}
	if (!best)
		return false;
	for (size_t i = 0; i < c->npeer; i++) {
		const struct pgr_pol_peer_key *k = &c->peer[i].k;
		uint32_t len = k->prefixlen - PGR_POL_PEER_BITS;
		uint32_t mask = len ? htonl(~0u << (32 - len)) : 0;

		if (k->dir == dir && k->proto == proto && ntohs(k->cls) == cls &&
		    ((k->ip ^ peer) & mask) == 0)
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t protos[] = { WIRE_IPPROTO_TCP, WIRE_IPPROTO_UDP, WIRE_IPPROTO_ICMP };
	struct pol_policy p;
	struct pol_compiled c;
	struct pol_error e;
	char err[400];

	pol_init(&p);
	if (pol_parse_text(&p, "fuzz", (const char *)data, size, err, sizeof(err)) ||
	    pol_compile(&p, 1, &c, &e)) {
		pol_free(&p);
		return 0;
	}
	for (size_t i = 0; i < p.nrules && i < 64; i++) {
		const struct pol_rule *r = &p.rules[i];
		uint32_t peer = r->group < 0 ? r->peer.net :
				p.groups[r->group].n ? p.groups[r->group].members[0].net : 0;

		for (size_t k = 0; k < sizeof(protos); k++)
			for (int d = -1; d <= 1; d++) {
				uint16_t port = (uint16_t)(r->port_lo + d);

				if (protos[k] == WIRE_IPPROTO_ICMP)
					port = 0;
				if (r->dir == PGR_POL_IN || pol_has_dir(&p, PGR_POL_OUT))
					if (compiled_allows(&c, r->dir, protos[k], port, peer) !=
					    pol_naive_allows(&p, r->dir, protos[k], port, peer))
						abort();
			}
	}
	pol_compiled_free(&c);
	pol_free(&p);
	return 0;
}
