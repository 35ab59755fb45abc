/* The switchd protocol: forwarding operations, acknowledgements, state dumps
 * and link reports between a switch's switchd and its controllers (the RAS,
 * `peregrine swctl`, `peregrine lab fib`).  docs/switchd-protocol.md is the
 * reference; this file is pure encoding and decoding, no I/O.
 *
 * Every message is one UDP datagram on the management network:
 *
 *   header (16)  magic u16 | version u8 | type u8 | sender u32 | seq u64
 *   body         per type, fixed-size fields, big-endian
 *   tag (16)     lib/auth.h tag over header and body
 *
 * The decoder checks the length, magic, version, type, the tag and every
 * field before it returns a message; arrays in the body are read in place
 * with the swp_*_at() accessors.
 */
#ifndef PEREGRINE_WIRE_SWPROTO_H
#define PEREGRINE_WIRE_SWPROTO_H

#include "lib/auth.h"
#include "lib/common.h"
#include "wire/be.h"

enum swp_limits {
	SWP_MAGIC = 0x5053,		/* "PS" */
	SWP_VERSION = 2,		/* 2: FIB_ACK and DUMP_FIB carry the table sum */
	SWP_HDR_BYTES = 16,
	SWP_MAX_DGRAM = 9000,		/* lib/udp.h UDP_MAX_DGRAM */
	SWP_OP_BYTES = 10,
	SWP_MAX_OPS = 800,		/* operations per FIB_OPS message */
	SWP_FIB_ENTRY_BYTES = 8,
	SWP_MAX_DUMP_FIB = 1000,	/* entries per DUMP_FIB page */
	SWP_PORT_BYTES = 4,
	SWP_MAX_DUMP_PORTS = 2000,	/* ports per DUMP_PORTS page */
	SWP_MAX_PORT = 65534,		/* port numbers 0..SWP_MAX_PORT */
};

enum swp_type {
	SWP_FIB_OPS = 1,	/* controller -> switchd: add/delete entries */
	SWP_FIB_ACK = 2,	/* switchd -> controller: one status per op */
	SWP_DUMP_REQ = 3,	/* controller -> switchd: a page of FIB or ports */
	SWP_DUMP_FIB = 4,	/* switchd -> controller */
	SWP_DUMP_PORTS = 5,	/* switchd -> controller */
	SWP_LINK = 6,		/* switchd -> RAS: a port went up or down */
	SWP_LINK_ACK = 7,	/* RAS -> switchd: stop retransmitting */
	SWP_TYPE_MAX = 7,
};

enum swp_op_kind { SWP_OP_ADD = 1, SWP_OP_DEL = 2 };

/* Per-operation result in a FIB_ACK. */
enum swp_status {
	SWP_OK = 0,
	SWP_FULL = 1,		/* the FIB is at its configured capacity */
	SWP_NO_PORT = 2,	/* no such port on this switch */
	SWP_NOT_FOUND = 3,	/* delete of an entry that is not there */
	SWP_BAD_MAC = 4,	/* group bit set or all-zero address */
	SWP_KERNEL = 5,		/* the kernel refused the entry */
	SWP_STATUS_MAX = 5,
};

enum swp_dump_what { SWP_WHAT_FIB = 1, SWP_WHAT_PORTS = 2 };
enum swp_port_state { SWP_PORT_DOWN = 0, SWP_PORT_UP = 1 };

/* Why a datagram was refused; counted per reason by every receiver. */
enum swp_err {
	SWP_E_SHORT = 1,	/* shorter than header + tag */
	SWP_E_MAGIC,
	SWP_E_VERSION,
	SWP_E_TYPE,
	SWP_E_AUTH,		/* tag does not verify */
	SWP_E_LENGTH,		/* body length does not match its counts */
	SWP_E_FIELD,		/* a reserved byte set or a value out of range */
	SWP_E_COUNT
};

struct swp_hdr {
	uint8_t type;		/* enum swp_type */
	uint32_t sender;	/* a switch's node id, or a controller's id */
	uint64_t seq;		/* request id, echoed by replies */
};

struct swp_op {
	uint8_t kind;		/* enum swp_op_kind */
	uint16_t port;
	uint8_t mac[6];
};

struct swp_fib_entry {
	uint8_t mac[6];
	uint16_t port;
};

struct swp_port {
	uint16_t port;
	uint8_t state;		/* enum swp_port_state */
};

/* A decoded message.  Array fields point into the datagram. */
struct swp_msg {
	struct swp_hdr h;
	union {
		struct { uint16_t n; const uint8_t *ops; } fib_ops;
		struct {
			uint32_t used, cap;
			uint64_t sum;	/* the table sum: swp_entry_hash() */
			uint16_t n;
			const uint8_t *status;
		} fib_ack;
		struct { uint8_t what; uint32_t offset; } dump_req;
		struct {
			uint32_t used, cap, offset;
			uint64_t sum;	/* the table sum: swp_entry_hash() */
			uint16_t n;
			const uint8_t *entries;
		} dump_fib;
		struct {
			uint32_t total, offset;
			uint16_t n;
			const uint8_t *ports;
		} dump_ports;
		struct { uint16_t port; uint8_t state; uint64_t at_ns; } link;
		struct { uint64_t acked; } link_ack;
	} u;
};

/* 0, or -enum swp_err. */
int swp_decode(const uint8_t *buf, size_t len, const struct auth_key *key,
	       struct swp_msg *out);
const char *swp_err_name(int err);	/* takes the positive or negative code */
const char *swp_type_name(uint8_t type);
const char *swp_status_name(uint8_t status);

void swp_op_at(const struct swp_msg *m, uint16_t i, struct swp_op *op);
void swp_fib_entry_at(const struct swp_msg *m, uint16_t i, struct swp_fib_entry *e);
void swp_port_at(const struct swp_msg *m, uint16_t i, struct swp_port *p);

/* ---- encoding -------------------------------------------------------------
 * Each returns the datagram's length, or 0 if it would not fit in `cap`
 * bytes or the counts exceed the limits above. */
size_t swp_enc_fib_ops(uint8_t *buf, size_t cap, const struct swp_hdr *h,
		       const struct swp_op *ops, uint16_t n, const struct auth_key *key);
size_t swp_enc_fib_ack(uint8_t *buf, size_t cap, const struct swp_hdr *h, uint32_t used,
		       uint32_t fib_cap, uint64_t sum, const uint8_t *status, uint16_t n,
		       const struct auth_key *key);
size_t swp_enc_dump_req(uint8_t *buf, size_t cap, const struct swp_hdr *h, uint8_t what,
			uint32_t offset, const struct auth_key *key);
size_t swp_enc_dump_fib(uint8_t *buf, size_t cap, const struct swp_hdr *h, uint32_t used,
			uint32_t fib_cap, uint64_t sum, uint32_t offset,
			const struct swp_fib_entry *e, uint16_t n,
			const struct auth_key *key);
size_t swp_enc_dump_ports(uint8_t *buf, size_t cap, const struct swp_hdr *h,
			  uint32_t total, uint32_t offset, const struct swp_port *p,
			  uint16_t n, const struct auth_key *key);
size_t swp_enc_link(uint8_t *buf, size_t cap, const struct swp_hdr *h, uint16_t port,
		    uint8_t state, uint64_t at_ns, const struct auth_key *key);
size_t swp_enc_link_ack(uint8_t *buf, size_t cap, const struct swp_hdr *h, uint64_t acked,
			const struct auth_key *key);

/* The table sum that FIB_ACK and DUMP_FIB carry: the sum (mod 2^64) of
 * swp_entry_hash() over every entry, so that either side can keep it as
 * entries come and go, and a controller that believes the table holds what
 * it does not (a wrong port, not only a wrong count) sees a different sum.
 * Not a secret: the messages are authenticated. */
static inline uint64_t swp_entry_hash(const uint8_t mac[6], uint16_t port)
{
	uint64_t x = wire_get48(mac) << 16 | port;

	/* splitmix64's finaliser */
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* A unicast, non-zero MAC: what a forwarding entry may hold. */
static inline bool swp_mac_ok(const uint8_t mac[6])
{
	return !(mac[0] & 1) && wire_get48(mac) != 0;
}

/* "aa:bb:cc:dd:ee:ff" <-> bytes.  Parse returns false on anything else. */
bool swp_mac_parse(const char *s, uint8_t mac[6]);
const char *swp_mac_str(const uint8_t mac[6], char buf[18]);

#endif
