/* The directory protocol: messages between agents, the RAS and the directory
 * server (docs/directory-protocol.md has the byte layouts and the rules).
 *
 * Pure encode/decode on byte buffers.  Every message is
 *
 *     header (40 bytes) | records (count x record size) | tag (16 bytes)
 *
 * all integers big-endian, the tag an HMAC (lib/auth.h) over everything
 * before it.  Each message type has one record shape, so a message's length
 * is fixed by its type and count: anything else is malformed.
 */
#ifndef PEREGRINE_WIRE_DIRPROTO_H
#define PEREGRINE_WIRE_DIRPROTO_H

#include "lib/auth.h"
#include "lib/common.h"
#include "wire/be.h"

enum dirp_limits {
	DIRP_MAGIC = 0x5044,		/* "PD" */
	DIRP_VERSION = 1,
	DIRP_HDR_LEN = 40,
	DIRP_TAG_LEN = AUTH_TAG_BYTES,
	DIRP_MAX_DGRAM = 1472,		/* one unfragmented datagram on a 1500 MTU */
	DIRP_KEY_LEN = 8,		/* vdc, ip */
	DIRP_ENTRY_LEN = 48,		/* see struct dirp_entry */
	DIRP_ACK_LEN = 12,		/* vdc, ip, version */
	DIRP_AVAIL_LEN = 8,		/* mac, scope, avail */
	DIRP_AVAIL_RES_LEN = 12,	/* mac, status, pad, affected */
	DIRP_MOVE_LEN = 24,		/* vdc, ip, server, im pri, im bak */
	DIRP_STAT_LEN = 8,		/* one u64 counter */
	DIRP_KEY6_LEN = 20,		/* vdc, IPv6 address */
	DIRP_ENTRY6_LEN = 60,		/* see struct dirp_entry6 */
	DIRP_MAX_RECORDS6 = (DIRP_MAX_DGRAM - DIRP_HDR_LEN - DIRP_TAG_LEN) / DIRP_ENTRY6_LEN,
	DIRP_MEMBER_LEN = 50,		/* see struct dirp_member */
	/* A MEMBERS reply lists every member server of one group in one
	 * datagram, so a group has at most this many member servers. */
	DIRP_MAX_MEMBERS = (DIRP_MAX_DGRAM - DIRP_HDR_LEN - DIRP_TAG_LEN) / DIRP_MEMBER_LEN,
	/* The most records of the largest shape that fit one datagram. */
	DIRP_MAX_RECORDS = (DIRP_MAX_DGRAM - DIRP_HDR_LEN - DIRP_TAG_LEN) / DIRP_ENTRY_LEN,
	DIRP_MAX_STATS = 64,
	/* Policies (docs/directory-protocol.md, "Policies"): a policy's text
	 * travels in chunks, one pol record per datagram, the record filling
	 * the datagram. */
	DIRP_POL_HDR_LEN = 28,		/* the pol record before its data */
	DIRP_POL_LEN = DIRP_MAX_DGRAM - DIRP_HDR_LEN - DIRP_TAG_LEN,
	DIRP_POL_CHUNK = DIRP_POL_LEN - DIRP_POL_HDR_LEN,
	/* bytes of one policy's text: 10,000 rules of up to ~100 characters */
	DIRP_POL_TEXT_MAX = 1 << 20,
	/* A POL_GET at offset 0 with this xfer, tagged with the shared key:
	 * "I host this VM, push me its changes" (an agent). */
	DIRP_POL_WATCH = 1,
};

_Static_assert(DIRP_MAX_RECORDS == 29, "records per datagram");
_Static_assert(DIRP_MAX_RECORDS6 == 23, "IPv6 records per datagram");
_Static_assert(DIRP_MAX_MEMBERS == 28, "member records per datagram");
_Static_assert(DIRP_POL_LEN == 1416 && DIRP_POL_CHUNK == 1388, "a policy chunk fills a datagram");

enum dirp_type {
	/* agent -> directory */
	DIRP_REGISTER = 1,	/* entry records */
	DIRP_UNREGISTER = 2,	/* key records */
	DIRP_LOOKUP = 3,	/* key records */
	DIRP_RENEW = 4,		/* key records */
	DIRP_ACK = 5,		/* ack records; no reply */
	/* RAS -> directory */
	DIRP_SET_AVAIL = 6,	/* avail records */
	DIRP_MOVE = 7,		/* move records */
	/* anyone -> directory */
	DIRP_STATS = 8,		/* no records */
	/* agent -> directory, IPv6 keys (VDC, IPv6 address); added in the same
	 * version 1: a directory that predates them drops them as an unknown
	 * type (drop_type) and answers nothing, IPv4 messages are unchanged. */
	DIRP_REGISTER6 = 9,	/* entry6 records */
	DIRP_UNREGISTER6 = 10,	/* key6 records */
	DIRP_LOOKUP6 = 11,	/* key6 records */
	/* agent -> directory, group membership (VDC, group) -> member VMs and
	 * their servers (docs/directory-protocol.md, "Groups"); added to
	 * version 1 as IPv6 was: an older directory drops them (drop_type). */
	DIRP_JOIN = 12,		/* member records */
	DIRP_LEAVE = 13,	/* member records */
	DIRP_MEMBERS = 14,	/* one group6 (key6) record; reply: member records */
	/* policy requests (docs/directory-protocol.md, "Policies"): one pol
	 * record each, tagged with the shared key or with the key of the
	 * record's VDC (auth_vdc_key); the reply is tagged with the same key.
	 * Added to version 1 as the groups were (an older directory drops
	 * them, drop_type). */
	DIRP_POL_SET = 15,	/* one chunk of a VM's policy text */
	DIRP_POL_GET = 16,	/* (vdc, ip, offset): reply one chunk */
	DIRP_POL_DEL = 17,	/* (vdc, ip) */
	/* directory -> requester: request type | DIRP_REPLY_BIT, same req_id */
	DIRP_REPLY_BIT = 0x80,
	/* directory -> caching clients */
	DIRP_UPDATE = 0x40,	/* entry records */
	DIRP_INVALIDATE = 0x41,	/* entry records (key and version only meaningful) */
	/* directory -> caching clients, IPv6 keys: entry6 records, status OK
	 * (the entry changed) or NOT_FOUND (it was removed).  Not acknowledged
	 * (an ACK record holds an IPv4 key) and so not retransmitted: a lost
	 * one is made good by the holder's renewal (docs/directory-protocol.md). */
	DIRP_UPDATE6 = 0x42,
	/* directory -> the agent holding a VM's registration: its policy
	 * changed (or went: status NOT_FOUND).  One pol record: version,
	 * total and the first chunk; the agent fetches the rest with
	 * POL_GET.  Not acknowledged: the agent asks again when it registers
	 * the VM and every AGENT_POL_RECHECK_MS (agent/polfetch.h). */
	DIRP_POL_NOTE = 0x43,
};

/* Per-record status in replies. */
enum dirp_status {
	DIRP_OK = 0,
	DIRP_NOT_FOUND = 1,	/* lease_ms is the negative lease */
	DIRP_TRY_LATER = 2,	/* the directory cannot take the change yet */
	DIRP_FULL = 3,		/* a table limit was hit */
	DIRP_INVALID = 4,	/* the record breaks a rule (see the docs) */
	DIRP_STATUS_MAX = 4,
};

/* Which of an entry's four MACs; also bit positions in dirp_entry.avail. */
enum dirp_mac_slot {
	DIRP_VM_PRI = 0,
	DIRP_VM_BAK = 1,
	DIRP_IM_PRI = 2,	/* the server's primary MAC: primary intermediary */
	DIRP_IM_BAK = 3,
	DIRP_NMACS = 4,
};
#define DIRP_AVAIL_ALL 0x0f

/* set-availability scope */
enum dirp_scope {
	DIRP_SCOPE_VM = 0,		/* the entries whose VM MAC this is */
	DIRP_SCOPE_INTERMEDIARY = 1,	/* every entry behind this server MAC */
};

enum dirp_err {
	DIRP_E_SHORT = 1,	/* shorter than header + tag */
	DIRP_E_OVERSIZE,	/* longer than DIRP_MAX_DGRAM */
	DIRP_E_MAGIC,
	DIRP_E_VERSION,
	DIRP_E_TYPE,
	DIRP_E_LENGTH,		/* length does not match type and count */
	DIRP_E_TAG,		/* not authenticated by our key */
	DIRP_E_FIELD,		/* a reserved field set or a value out of range */
	DIRP_E_COUNT
};

struct dirp_hdr {
	uint8_t type;
	uint16_t count;		/* records */
	uint64_t session;	/* sender's random session id */
	uint64_t seq;		/* per-datagram, increasing within a session */
	uint64_t time_ms;	/* sender's wall clock, ms since the epoch */
	uint64_t req_id;	/* matches replies (and acks) to requests */
};

struct dirp_key {
	uint32_t vdc;
	uint32_t ip;		/* host byte order */
};

/* Flags of an IPv4 entry record, in the byte after avail (once padding,
 * always 0 before them). */
enum dirp_entry_flags {
	/* a lookup reply answered with the VDC's default route, (VDC, 0.0.0.0):
	 * the gateway leg's entry under the asked address (docs/edge.md) */
	DIRP_ENTRY_DEFAULT = 1,
	DIRP_ENTRY_FLAGS_ALL = 1,
};

struct dirp_entry {
	uint32_t vdc;
	uint32_t ip;
	uint8_t status;		/* enum dirp_status (replies); 0 elsewhere */
	uint8_t avail;		/* bit i: MAC slot i available */
	uint8_t flags;		/* enum dirp_entry_flags (lookup replies); 0 elsewhere */
	uint32_t version;
	uint32_t lease_ms;	/* how long the reader may use it */
	uint32_t server;	/* the server the VM lives on */
	uint8_t mac[DIRP_NMACS][6];
};

/* The IPv6 forms: the same record with a 16-byte address. */
struct dirp_key6 {
	uint32_t vdc;
	uint8_t ip6[16];
};

struct dirp_entry6 {
	uint32_t vdc;
	uint8_t ip6[16];
	uint8_t status;
	uint8_t avail;
	uint32_t version;
	uint32_t lease_ms;
	uint32_t server;
	uint8_t mac[DIRP_NMACS][6];
};

/* A group: IPv6 groups as they are, IPv4 groups and the VDC's broadcast
 * (255.255.255.255) as IPv4-mapped addresses (::ffff:a.b.c.d). */
struct dirp_member {
	uint32_t vdc;
	uint8_t group[16];
	uint8_t status;		/* enum dirp_status (replies); 0 elsewhere */
	uint32_t lease_ms;	/* MEMBERS reply: how long the reader may use it */
	uint32_t server;	/* the member VM's server */
	uint8_t vm[6];		/* JOIN, LEAVE: the member VM's primary MAC;
				 * MEMBERS reply: zero (servers are listed) */
	uint8_t im[2][6];	/* the server's primary and backup MACs */
};

/* One chunk of a VM's policy text (or, in a reply whose status is not OK,
 * the reason as text: offset 0, total = len). */
struct dirp_pol {
	uint32_t vdc;
	uint32_t ip;		/* the VM's address, host order */
	uint32_t version;	/* the policy's version (replies, NOTE); 0 in requests */
	uint32_t total;		/* bytes of the whole text, <= DIRP_POL_TEXT_MAX */
	uint32_t offset;	/* of this chunk's data in the text */
	uint32_t xfer;		/* SET: the sender's transfer id, echoed; GET:
				 * DIRP_POL_WATCH from an agent hosting the VM */
	uint16_t len;		/* data bytes, <= DIRP_POL_CHUNK; offset + len <= total */
	uint8_t status;		/* enum dirp_status (replies, NOTE); 0 in requests */
	const uint8_t *data;	/* get: points into the message; put: copied */
};

struct dirp_ack {
	uint32_t vdc, ip, version;
};

struct dirp_avail {
	uint8_t mac[6];
	uint8_t scope;		/* enum dirp_scope */
	uint8_t avail;		/* 0 or 1 */
};

struct dirp_avail_res {
	uint8_t mac[6];
	uint8_t status;
	uint32_t affected;	/* entries whose bit changed */
};

struct dirp_move {
	uint32_t vdc, ip, server;
	uint8_t im[2][6];	/* new primary and backup intermediary */
};

/* A decoded message: the header plus a view of the records in the buffer. */
struct dirp_msg {
	struct dirp_hdr h;
	const uint8_t *body;
	size_t rec_len;
};

/* Record size for a type, or 0 if the type is unknown. */
size_t dirp_record_len(uint8_t type);
/* Most records a message of this type may carry. */
unsigned dirp_max_records(uint8_t type);
const char *dirp_type_name(uint8_t type);
const char *dirp_err_name(int err);		/* for -DIRP_E_* */
const char *dirp_status_name(uint8_t status);

/* Check length, header, tag and every record; 0 or -DIRP_E_*.  On success m
 * points into buf.  key NULL skips the tag check (tests and fuzzers only). */
int dirp_decode(const uint8_t *buf, size_t len, const struct auth_key *key,
		struct dirp_msg *m);
/* The directory's decoder: as dirp_decode with the shared key, and a
 * policy request (POL_SET, POL_GET, POL_DEL) whose tag is not the shared
 * key's is accepted when it is the key of its record's VDC.  *by_vdc tells
 * which: a reply must be tagged with that key (vdc_key filled). */
int dirp_decode_auth(const uint8_t *buf, size_t len, const struct auth_key *key,
		     struct dirp_msg *m, bool *by_vdc, struct auth_key *vdc_key);
bool dirp_is_pol_request(uint8_t type);

void dirp_get_key(const struct dirp_msg *m, unsigned i, struct dirp_key *k);
void dirp_get_entry(const struct dirp_msg *m, unsigned i, struct dirp_entry *e);
void dirp_get_ack(const struct dirp_msg *m, unsigned i, struct dirp_ack *a);
void dirp_get_avail(const struct dirp_msg *m, unsigned i, struct dirp_avail *a);
void dirp_get_avail_res(const struct dirp_msg *m, unsigned i, struct dirp_avail_res *a);
void dirp_get_move(const struct dirp_msg *m, unsigned i, struct dirp_move *mv);
uint64_t dirp_get_stat(const struct dirp_msg *m, unsigned i);
void dirp_get_key6(const struct dirp_msg *m, unsigned i, struct dirp_key6 *k);
void dirp_get_entry6(const struct dirp_msg *m, unsigned i, struct dirp_entry6 *e);
void dirp_get_member(const struct dirp_msg *m, unsigned i, struct dirp_member *r);
void dirp_get_pol(const struct dirp_msg *m, unsigned i, struct dirp_pol *p);

/* Groups: the IPv4-mapped form of an IPv4 group, and the checks. */
void dirp_group4(uint8_t group[16], uint32_t ip);
/* A group a VM may join: an IPv6 multicast address (ff00::/8) other than
 * the all-nodes groups, or a mapped IPv4 multicast address (224.0.0.0/4)
 * other than 224.0.0.1; the broadcast group is not joined, every VM of a
 * VDC is in it. */
bool dirp_group_ok(const uint8_t group[16]);
bool dirp_group_is_bcast(const uint8_t group[16]);

/* Building a message: begin, put records, finish. */
struct dirp_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	uint8_t type;
	uint16_t count;
};

/* cap must hold at least the header and the tag. */
void dirp_begin(struct dirp_writer *w, uint8_t *buf, size_t cap, const struct dirp_hdr *h);
/* Room for one more record of the message's type? */
bool dirp_room(const struct dirp_writer *w);
void dirp_put_key(struct dirp_writer *w, const struct dirp_key *k);
void dirp_put_entry(struct dirp_writer *w, const struct dirp_entry *e);
void dirp_put_ack(struct dirp_writer *w, const struct dirp_ack *a);
void dirp_put_avail(struct dirp_writer *w, const struct dirp_avail *a);
void dirp_put_avail_res(struct dirp_writer *w, const struct dirp_avail_res *a);
void dirp_put_move(struct dirp_writer *w, const struct dirp_move *mv);
void dirp_put_stat(struct dirp_writer *w, uint64_t v);
void dirp_put_key6(struct dirp_writer *w, const struct dirp_key6 *k);
void dirp_put_entry6(struct dirp_writer *w, const struct dirp_entry6 *e);
void dirp_put_member(struct dirp_writer *w, const struct dirp_member *r);
void dirp_put_pol(struct dirp_writer *w, const struct dirp_pol *p);
/* Fill in count, tag the message; returns its length. */
size_t dirp_finish(struct dirp_writer *w, const struct auth_key *key);
/* Rewrite seq and time of a finished message and re-tag it (retransmission). */
void dirp_restamp(uint8_t *buf, size_t len, uint64_t seq, uint64_t time_ms,
		  const struct auth_key *key);

/* A MAC usable as a unicast address: group bit clear, not all zero. */
bool dirp_mac_ok(const uint8_t mac[6]);

#endif
