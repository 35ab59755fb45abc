/* The witness's own notice to the directory (docs/ha.md, "The data plane
 * outlives the control plane").
 *
 * When a port goes down, the server MACs this switch forwarded out of it
 * can no longer be reached along their trees from here.  The RAS learns
 * that from the link report and marks them unavailable at the directory,
 * which pushes the change to the agents; with no RAS leader (killed, being
 * replaced) nobody would.  So the switch tells the directory servers
 * itself: one SET_AVAIL (scope intermediary, avail 0) per
 * SWN_MACS_PER_NOTICE MACs, to every directory server it knows, each of
 * which pushes to the agents holding leases with it.  No etcd is on this
 * path, so it works with etcd down too.
 *
 * A notice is retransmitted to a server that has not answered every
 * SW_NOTICE_RETRY_NS, SW_NOTICE_TRIES times at most, and no longer once a
 * RAS acknowledged the port's link report (the RAS then owns the MACs'
 * availability and marks them available again once it has rerouted; a
 * late notice must not undo that) or the port came back up.  The switch
 * never marks anything available: that is the RAS's, after it rerouted.
 *
 * Part of the switchd core: no I/O, datagrams go out in struct sw_out.
 */
#ifndef PEREGRINE_SWITCHD_NOTICE_H
#define PEREGRINE_SWITCHD_NOTICE_H

#include "switchd/switchd.h"

struct swn;

struct swn *swn_new(const struct sw_config *c, struct sw_stats *st);
void swn_free(struct swn *n);
/* Port `port` went down; macs are the entries that pointed at it (48-bit
 * values), link_seq the seq of its link report (0: none sent). */
void swn_port_down(struct swn *n, uint16_t port, uint64_t link_seq, const uint64_t *macs,
		   size_t nmacs, uint64_t now, struct sw_out *o);
/* The port is up again: its notices stop. */
void swn_port_up(struct swn *n, uint16_t port);
/* A RAS acknowledged link report `link_seq`: its notices stop. */
void swn_link_acked(struct swn *n, uint64_t link_seq);
/* Is `from` one of the directory servers? */
bool swn_is_dir(const struct swn *n, struct sw_addr from);
/* A datagram from a directory server: the reply to a notice. */
void swn_input(struct swn *n, struct sw_addr from, const uint8_t *buf, size_t len);
/* Retransmit due notices; the next deadline (ns; UINT64_MAX: none). */
uint64_t swn_tick(struct swn *n, uint64_t now, struct sw_out *o);

#endif
