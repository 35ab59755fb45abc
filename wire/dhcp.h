/* DHCPv4 (RFC 2131, options RFC 2132): the messages a VM's client sends and
 * the replies the host agent builds (agent/dhcp.c, docs/tenant-network.md).
 * User space only: the data plane recognises a DHCP frame by its UDP port
 * (bpf/dhcp.h) and hands the frame to the agent without reading the
 * message. */
#ifndef PEREGRINE_WIRE_DHCP_H
#define PEREGRINE_WIRE_DHCP_H

#include "lib/common.h"

enum wire_dhcp_limits {
	WIRE_DHCP_SERVER_PORT = 67,
	WIRE_DHCP_CLIENT_PORT = 68,
	WIRE_DHCP_FIXED = 236,		/* op .. file, before the magic cookie */
	WIRE_DHCP_MIN = WIRE_DHCP_FIXED + 4 + 3,	/* cookie, type option */
	WIRE_DHCP_MAX = 1472,		/* a 1500-byte IPv4 packet's UDP payload */
	WIRE_DHCP_MAX_DNS = 4,		/* DNS servers in a reply */
	WIRE_DHCP_BOOTP_MIN = 300,	/* replies are padded to BOOTP's minimum */
	WIRE_DHCP_REPLY_MAX = 320,	/* bytes of the replies we build (fixed
					 * part, cookie, at most 62 option bytes) */
};

enum wire_dhcp_type {
	WIRE_DHCP_DISCOVER = 1,
	WIRE_DHCP_OFFER = 2,
	WIRE_DHCP_REQUEST = 3,
	WIRE_DHCP_DECLINE = 4,
	WIRE_DHCP_ACK = 5,
	WIRE_DHCP_NAK = 6,
	WIRE_DHCP_RELEASE = 7,
	WIRE_DHCP_INFORM = 8,
};

/* Why a client's message did not parse (0: it did). */
#define WIRE_DHCP_ERRS(X)                                                     \
	X(OK, "parsed")                                                       \
	X(SHORT, "shorter than the fixed part, cookie and a message type")  \
	X(OP, "not a BOOTREQUEST")                                          \
	X(HW, "hardware type/length not Ethernet")                          \
	X(COOKIE, "no DHCP magic cookie")                                   \
	X(OPTION, "an option runs past the end of the message")             \
	X(OPTION_LEN, "an option we read has the wrong length")             \
	X(NO_TYPE, "no message type option")                                \
	X(TYPE, "message type not one a client sends")

enum wire_dhcp_err {
#define WIRE_DHCP_ERR_ENUM(name, desc) WIRE_DHCP_ERR_##name,
	WIRE_DHCP_ERRS(WIRE_DHCP_ERR_ENUM)
#undef WIRE_DHCP_ERR_ENUM
	WIRE_DHCP_ERR_COUNT
};

/* What the agent reads of a client's message.  Addresses in network order. */
struct wire_dhcp_msg {
	uint8_t type;			/* enum wire_dhcp_type */
	uint32_t xid;			/* as on the wire (echoed back) */
	uint16_t flags;			/* as on the wire */
	uint32_t ciaddr;
	uint32_t giaddr;
	uint8_t chaddr[6];
	uint32_t requested;		/* option 50, 0 if absent */
	uint32_t server_id;		/* option 54, 0 if absent */
};

/* Parse the UDP payload of a message to port 67.  Reads only within len. */
enum wire_dhcp_err wire_dhcp_parse(const uint8_t *p, size_t len, struct wire_dhcp_msg *m);
const char *wire_dhcp_err_name(enum wire_dhcp_err e);

/* A server's reply (OFFER, ACK, NAK).  Addresses in network order; a zero
 * field is left out of the options (NAK carries none but the server id). */
struct wire_dhcp_reply {
	uint8_t type;
	uint32_t xid;
	uint16_t flags;
	uint32_t ciaddr, yiaddr;
	uint8_t chaddr[6];
	uint32_t server_id;
	uint32_t lease_s;		/* 0: no lease options (INFORM's ACK) */
	uint32_t netmask;
	uint32_t router;
	uint16_t mtu;			/* host order */
	uint32_t dns[WIRE_DHCP_MAX_DNS];
	unsigned ndns;
};

/* The reply's UDP payload; its length, or 0 if cap is too small. */
size_t wire_dhcp_build(uint8_t *buf, size_t cap, const struct wire_dhcp_reply *r);

/* A client's message (tests, benchmarks): the UDP payload, or 0 if cap is
 * too small.  xid in host order; addresses in network order;
 * requested/server_id 0: not sent. */
size_t wire_dhcp_build_request(uint8_t *buf, size_t cap, uint8_t type, uint32_t xid,
			       const uint8_t chaddr[6], uint32_t ciaddr, uint32_t requested,
			       uint32_t server_id);

#endif
