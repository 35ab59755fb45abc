/* The BCube server daemon's core (docs/bcube.md): neighbour maintenance
 * and BCube Source Routing (BSR).  No I/O: events in (a timer, a frame a
 * NIC received, a miss of the data plane, the directory's answer), actions
 * out (struct bca_out); cmd/agent_bcube.c sends the frames, asks the
 * directory and writes the maps bcube_send and bcube_fwd read.
 *
 * - Neighbours: a hello on every NIC every BCA_HELLO_MS; a neighbour not
 *   heard for BCA_NBR_DEAD_MS is down (bcube_nbrs: relays stop using it).
 * - BSR: a destination IP the data plane missed is resolved to its BCube
 *   address through the directory; its k+1 parallel paths (BuildPathSet)
 *   are probed every BCA_PROBE_MS.  Relays lower a probe's bandwidth to
 *   what their NICs have available, the destination answers on the
 *   reverse path.  A path is alive while its replies keep coming (none
 *   for BCA_PATH_DEAD_MS: dead).  Flows are spread over the alive paths
 *   whose available bandwidth is about the best (at least 1/BCA_GOOD_DIV
 *   of it, or within 1/BCA_TIE_DIV of this server's NIC capacity) and,
 *   among those, the shortest: bandwidths that tie go to the shortest
 *   path, as the paper's BSR does.  The route lists BSR's own path
 *   (DCRouting from the highest differing digit) first: the first flow to
 *   a destination takes it, the next ones the others in turn (bcube_send),
 *   so that one flow to every server spreads over every link evenly.
 * - Available bandwidth: a NIC's capacity (bca_set_capacity: the shell
 *   learns it from its configuration or the kernel) less what it sent
 *   (bca_on_tx, the NIC's byte counter every so often), a moving average
 *   (each reading counts 1/BCA_AVAIL_AVG): one 100 ms reading of a
 *   shaped link is noisy.
 */
#ifndef PEREGRINE_AGENT_BCUBE_H
#define PEREGRINE_AGENT_BCUBE_H

#include <stdbool.h>
#include <stdint.h>

#include "bpf/bcube.h"
#include "route/pathseq.h"
#include "topo/topo.h"

enum bca_limits {
	BCA_HELLO_MS = 100,
	BCA_NBR_DEAD_MS = 350,		/* three hellos lost and a half */
	BCA_PROBE_MS = 50,
	BCA_PATH_DEAD_MS = 160,		/* three probes unanswered and a bit */
	BCA_LOOKUP_RETRY_MS = 500,	/* a lookup unanswered is asked again */
	BCA_IDLE_MS = 2000,		/* a destination not sent to for this long is not probed */
	BCA_DESTS = 1024,		/* destinations a server sends to */
	BCA_GOOD_DIV = 2,
	BCA_TIE_DIV = 2,		/* bandwidths this close (of the NIC capacity) tie */
	BCA_AVAIL_AVG = 4,		/* a reading moves the available bandwidth 1/4 of the way */
	BCA_LINK_MBPS = 1000,		/* a NIC's capacity when nothing says otherwise */
	/* actions per event: a tick's probes to every destination and a
	 * route each, plus hellos and neighbour changes (about 1.6 MB of
	 * output, allocated once by the shell) */
	BCA_OUT = BCA_DESTS * (BCUBE_MAX_PATHS + 1) + BCUBE_MAX_LEVELS * (BCUBE_MAX_N + 1),
	BCA_FRAME = WIRE_ETH_HLEN + BCUBE_HDR_BYTES + 24,	/* hello, probe, reply */
};

enum bca_act_kind {
	BCA_NBR,	/* bcube_nbrs[level * BCUBE_MAX_N + digit] = {mac, up} */
	BCA_ROUTE,	/* bcube_routes[ip] = route (route.npaths 0: delete) */
	BCA_SEND,	/* frame out of the NIC on `level` */
	BCA_LOOKUP,	/* ask the directory for ip */
};

struct bca_act {
	enum bca_act_kind kind;
	uint32_t ip;		/* network order */
	uint8_t level, digit, up, len;
	uint8_t mac[6];
	struct bcube_route route;
	uint8_t frame[BCA_FRAME];
};

struct bca_out {
	unsigned n;
	struct bca_act a[BCA_OUT];
};

struct bca_path {
	struct bcube_path p;
	uint32_t bw_mbps;	/* from the last reply */
	uint64_t rtt_ns, last_reply_ns;
	bool alive;
};

struct bca_dest {
	uint32_t ip;		/* network order; 0: free */
	uint32_t addr;		/* BCube address */
	bool resolved, idle;
	uint64_t asked_ns;
	uint64_t since_ns;	/* probing (re)started: a path not answered since is
				 * pending, and carries flows, for BCA_PATH_DEAD_MS */
	uint8_t npaths;
	uint8_t chosen;		/* bit i: paths[i] carries flows */
	uint8_t first;		/* BSR's own path: DCRouting from the highest
				 * differing digit, paths[first]; first in the route */
	struct bca_path paths[BCUBE_MAX_PATHS];
};

struct bca_stats {
	uint64_t hellos_in, probes_in, replies_in, bad_frames, misses, lookups, not_found;
	uint64_t path_changes, full;
};

struct bca {
	const struct topo *t;
	uint32_t self, n, k;	/* self: this server's BCube address (= index) */
	uint8_t digits[BCUBE_MAX_LEVELS];
	uint8_t nic_mac[BCUBE_MAX_LEVELS][6];
	uint32_t cap[BCUBE_MAX_LEVELS];		/* Mbit/s, each NIC's capacity */
	uint32_t avail[BCUBE_MAX_LEVELS];	/* Mbit/s, capacity less what it sent */
	uint64_t tx_bytes[BCUBE_MAX_LEVELS], tx_ns[BCUBE_MAX_LEVELS];	/* last reading */
	struct {
		uint8_t mac[6];
		bool up;
		uint64_t seen_ns;
	} nbr[BCUBE_MAX_LEVELS][BCUBE_MAX_N];
	struct bca_dest dest[BCA_DESTS];
	uint32_t seq;
	uint64_t next_hello_ns, next_probe_ns;
	struct bca_stats st;
};

/* t must be a BCube the data plane can address (lab_bcube_check); self a
 * server index; macs[l] the MAC of NIC l. */
void bca_init(struct bca *c, const struct topo *t, uint32_t self, const uint8_t (*macs)[6]);
/* NIC `level`'s capacity in Mbit/s (0: left as it is; BCA_LINK_MBPS
 * until set).  Its available bandwidth starts at the capacity. */
void bca_set_capacity(struct bca *c, uint32_t level, uint32_t mbps);
/* NIC `level` has sent tx_bytes in all (its kernel counter) at now_ns:
 * returns its available bandwidth, the moving average of the capacity
 * less the rate it sent at since the last reading (the first reading:
 * the capacity), which the core uses for its probes and the shell writes
 * to bcube_nics. */
uint32_t bca_on_tx(struct bca *c, uint64_t now_ns, uint32_t level, uint64_t tx_bytes);
/* Hellos, expiries, probes, lookups to repeat; returns the next deadline. */
uint64_t bca_tick(struct bca *c, uint64_t now_ns, struct bca_out *out);
/* A BCube frame NIC `level` received for this server (a hello, a probe or
 * a reply; data never comes here).  Bad frames are counted and ignored. */
void bca_on_frame(struct bca *c, uint64_t now_ns, uint32_t level, const uint8_t *frame,
		  size_t len, struct bca_out *out);
/* The data plane has no route to ip (network order). */
void bca_on_miss(struct bca *c, uint64_t now_ns, uint32_t ip, struct bca_out *out);
/* The directory's answer: found, and the BCube address; else not found. */
void bca_on_resolved(struct bca *c, uint64_t now_ns, uint32_t ip, bool found, uint32_t addr,
		     struct bca_out *out);

/* When a packet last took the route to ip (the data plane's used_ns, on
 * the same clock as now_ns): a destination idle for BCA_IDLE_MS is not
 * probed until it is used again; its route stays. */
void bca_on_used(struct bca *c, uint64_t now_ns, uint32_t ip, uint64_t used_ns);
/* The resolved destinations' IPs, for the shell's reading of used_ns:
 * the i-th in use or 0. */
uint32_t bca_dest_ip(const struct bca *c, uint32_t i);

/* Pure helpers (tested alone). */
uint32_t bca_addr(const struct bca *c, const uint8_t *digits);
/* A BuildPathSet path (topology nodes) as an NHA; false if it does not fit. */
bool bca_path_nha(const struct topo *t, const struct route_path *p, struct bcube_path *out);
/* The NHA of the way back, from the source's address and the way there. */
void bca_reverse(const struct bca *c, uint32_t src, const struct bcube_path *there,
		 struct bcube_path *back);

#endif
