/* The RAS protocol: what host agents and the lab tell the route algorithm
 * server, besides the switches' link reports (wire/swproto.h).
 * docs/ras-protocol.md is the reference; this file is pure encoding and
 * decoding.
 *
 *   header (24)  magic u16 | version u8 | type u8 | sender u32 | seq u64 | time_ns u64
 *   body         per type, big-endian
 *   tag (16)     lib/auth.h tag over header and body
 *
 * `seq` starts at the sender's start time in nanoseconds and only grows, so
 * the receiver refuses anything at or below the highest seq it has accepted
 * from that sender (replays), even across the sender's restarts.
 *
 *   TRAFFIC   agent -> RAS: one slice of the server's traffic matrix,
 *             (source VM id, destination VM id, bytes, packets, the
 *             destination's server) over `interval_ms`; a large matrix spans several datagrams
 *             (`part` of `parts`).
 *   MOVED     lab/orchestrator -> RAS: a VM now lives on another server.
 *   DIRECT    RAS -> agent: send to these destination VMs direct (on their
 *             tree-t MAC, which the RAS has installed along a load-balanced
 *             tree) or stop doing so; the agent acknowledges with ACK.
 *   ACK       RAS -> sender, or agent -> RAS: `acked` = the seq it accepted.
 */
#ifndef PEREGRINE_WIRE_RASPROTO_H
#define PEREGRINE_WIRE_RASPROTO_H

#include "lib/auth.h"
#include "lib/common.h"

enum rasp_limits {
	RASP_MAGIC = 0x5052,		/* "PR" */
	RASP_VERSION = 2,		/* 2: flows carry the destination server */
	RASP_HDR_BYTES = 24,
	RASP_MAX_DGRAM = 9000,
	RASP_FLOW_BYTES = 28,
	RASP_TRAFFIC_FIXED = 8,		/* interval_ms u32, part u16, parts u16 */
	RASP_MAX_FLOWS = (RASP_MAX_DGRAM - RASP_HDR_BYTES - RASP_TRAFFIC_FIXED -
			  AUTH_TAG_BYTES) / RASP_FLOW_BYTES,	/* 320 */
	RASP_ID_MAX = 0xffffff,		/* VM and server ids are 24-bit */
	RASP_DIRECT_BYTES = 8,
	RASP_MAX_DIRECT = (RASP_MAX_DGRAM - RASP_HDR_BYTES - AUTH_TAG_BYTES) /
			  RASP_DIRECT_BYTES,	/* 1120 */
};

enum rasp_type {
	RASP_TRAFFIC = 1,
	RASP_MOVED = 2,
	RASP_ACK = 3,
	RASP_DIRECT = 4,
	RASP_TYPE_MAX = 4,
};

enum rasp_err {
	RASP_E_SHORT = 1,	/* shorter than header + tag */
	RASP_E_MAGIC,
	RASP_E_VERSION,
	RASP_E_TYPE,
	RASP_E_AUTH,
	RASP_E_LENGTH,		/* body length does not match the type or count */
	RASP_E_FIELD,		/* a value out of range */
	RASP_E_COUNT
};

struct rasp_hdr {
	uint8_t type;
	uint32_t sender;	/* a server's node id, or a tool's id */
	uint64_t seq;
	uint64_t time_ns;	/* sender's wall clock when sent */
};

struct rasp_flow {
	uint32_t src_id, dst_id;	/* VM primary ids */
	uint64_t bytes, packets;
	uint32_t dst_server;	/* Peregrine node number of the server the
				 * destination VM lives on; RASP_NO_SERVER */
};

#define RASP_NO_SERVER 0u	/* the reporting server does not know it */

struct rasp_moved {
	uint32_t vm_id;			/* the VM's primary id */
	uint32_t old_server, new_server;	/* node ids */
};

/* One destination VM to send direct to (on = 1) or no longer (on = 0). */
struct rasp_direct {
	uint32_t vm_id;		/* the destination VM's primary id */
	uint8_t tree;		/* 0: its primary MAC's tree, 1: its backup's */
	uint8_t on;
};

struct rasp_msg {
	struct rasp_hdr h;
	union {
		struct {
			uint32_t interval_ms;
			uint16_t part, parts;
			uint16_t n;
			const uint8_t *flows;	/* n * RASP_FLOW_BYTES, in place */
		} traffic;
		struct rasp_moved moved;
		struct { uint64_t acked; } ack;
		struct {
			uint16_t n;
			const uint8_t *recs;	/* n * RASP_DIRECT_BYTES, in place */
		} direct;
	} u;
};

/* 0, or -enum rasp_err. */
int rasp_decode(const uint8_t *buf, size_t len, const struct auth_key *key,
		struct rasp_msg *out);
void rasp_flow_at(const struct rasp_msg *m, uint16_t i, struct rasp_flow *f);
void rasp_direct_at(const struct rasp_msg *m, uint16_t i, struct rasp_direct *d);
const char *rasp_err_name(int err);
const char *rasp_type_name(uint8_t type);

/* Each returns the datagram's length, or 0 if it would not fit in cap or a
 * count or field is out of range. */
size_t rasp_enc_traffic(uint8_t *buf, size_t cap, const struct rasp_hdr *h,
			uint32_t interval_ms, uint16_t part, uint16_t parts,
			const struct rasp_flow *flows, uint16_t n, const struct auth_key *key);
size_t rasp_enc_moved(uint8_t *buf, size_t cap, const struct rasp_hdr *h,
		      const struct rasp_moved *mv, const struct auth_key *key);
size_t rasp_enc_ack(uint8_t *buf, size_t cap, const struct rasp_hdr *h, uint64_t acked,
		    const struct auth_key *key);
size_t rasp_enc_direct(uint8_t *buf, size_t cap, const struct rasp_hdr *h,
		       const struct rasp_direct *d, uint16_t n, const struct auth_key *key);

/* Replay check kept by a receiver: the highest seq accepted per sender. */
struct rasp_replay;
struct rasp_replay *rasp_replay_new(void);
void rasp_replay_free(struct rasp_replay *r);
/* True (and remembered) if seq is above every seq accepted from sender. */
bool rasp_replay_accept(struct rasp_replay *r, uint32_t sender, uint64_t seq);

#endif
