/* The load balancer's control messages: what reaches an SLB server about
 * its backends on the management network (docs/slb.md, "Control messages").
 * Pure encoding and decoding.
 *
 *   header (24)  magic u16 | version u8 | type u8 | sender u32 | seq u64 | time_ns u64
 *   body (12)    vdc u32 | ip (4 bytes, as on the wire) | a u8 | b u8 | zero u16
 *   tag (16)     lib/auth.h tag over header and body
 *
 *   HEALTH  backend's agent -> SLB: the backend VM (vdc, ip) answered its
 *           probe (a = 1) or did not (a = 0)
 *   LOAD    backend's agent -> SLB: its CPU (a) and network (b) load, percent
 *   DRAIN   operator -> SLB: drain the backend (a = 1) or stop (a = 0)
 *   RING    SLB -> SLB: the cluster's messages (slb/ring.h); sender = the
 *           ring id; body: kind u8 | who u8 | load u8 | zero u8 |
 *           version u64 | nvips u16 | zero u16 | owner[nvips] (u8 each)
 *
 * Replays: the receiver keeps the highest seq per sender (rasp_replay_*,
 * wire/rasproto.h, the same rule as the RAS protocol). */
#ifndef PEREGRINE_WIRE_SLBPROTO_H
#define PEREGRINE_WIRE_SLBPROTO_H

#include "lib/auth.h"
#include "lib/common.h"

enum slbp_limits {
	SLBP_MAGIC = 0x5053,		/* "PS" */
	SLBP_VERSION = 1,
	SLBP_HDR_BYTES = 24,
	SLBP_BODY_BYTES = 12,
	SLBP_DGRAM_BYTES = SLBP_HDR_BYTES + SLBP_BODY_BYTES + AUTH_TAG_BYTES,	/* 52 */
	SLBP_VDC_MAX = 0xffffff,
};

enum slbp_type {
	SLBP_HEALTH = 1,
	SLBP_LOAD = 2,
	SLBP_DRAIN = 3,
	SLBP_RING = 4,
	SLBP_TYPE_MAX = 4,
};

enum slbp_ring_limits {
	SLBP_RING_FIXED = 16,		/* body before the owners */
	SLBP_RING_VIPS_MAX = 256,
	SLBP_RING_ID_MAX = 64,
	SLBP_RING_DGRAM_MAX = SLBP_HDR_BYTES + SLBP_RING_FIXED + SLBP_RING_VIPS_MAX + AUTH_TAG_BYTES,
};

/* A RING message's body (ids 1 .. SLBP_RING_ID_MAX; who 0 when unused). */
struct slbp_ring {
	uint8_t kind, who, load;
	uint64_t version;
	uint16_t nvips;
	uint8_t owner[SLBP_RING_VIPS_MAX];
};

#define SLBP_ERRORS(X)                                                         \
	X(SHORT, "shorter than header, body and tag")                         \
	X(MAGIC, "not a Peregrine SLB message")                               \
	X(VERSION, "unknown version")                                         \
	X(TYPE, "unknown type")                                               \
	X(LENGTH, "length does not match the type")                           \
	X(AUTH, "authentication tag does not verify")                         \
	X(FIELD, "a value out of range")

enum slbp_err {
	SLBP_E_NONE,
#define SLBP_ERR_ENUM(name, desc) SLBP_E_##name,
	SLBP_ERRORS(SLBP_ERR_ENUM)
#undef SLBP_ERR_ENUM
	SLBP_E_COUNT
};

struct slbp_msg {
	uint8_t type;
	uint32_t sender;
	uint64_t seq, time_ns;
	uint32_t vdc;		/* 1 .. SLBP_VDC_MAX */
	uint32_t ip;		/* network order */
	uint8_t a, b;		/* HEALTH: ok 0/1; LOAD: cpu, net 0..100; DRAIN: on 0/1 */
	struct slbp_ring ring;	/* RING (vdc, ip, a, b unused) */
};

/* 0, or -enum slbp_err. */
int slbp_decode(const uint8_t *buf, size_t len, const struct auth_key *key, struct slbp_msg *out);
/* The datagram's length (SLBP_DGRAM_BYTES; RING: its own), or 0 if cap is
 * too small or a field is out of range. */
size_t slbp_encode(uint8_t *buf, size_t cap, const struct slbp_msg *m, const struct auth_key *key);
const char *slbp_err_name(int err);	/* "auth" */
const char *slbp_type_name(uint8_t type);

#endif
