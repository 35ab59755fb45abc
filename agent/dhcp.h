/* The host agent's DHCPv4 server (docs/tenant-network.md): answers a VM's
 * DISCOVER, REQUEST (selecting, renewing, rebinding), INFORM, RELEASE and
 * DECLINE from what the agent holds for the VM: its address (the one the
 * agent registers with the directory), its VDC's prefix length, gateway and
 * DNS servers (agent/config.h), MTU 1500.  No I/O: the data plane hands the
 * frame over (bpf/dhcp.h), agent.c counts and sends the reply frame into the
 * VM's port.  The address is the VM's, on whatever server it runs: nothing
 * is allocated, so a lease survives migration and a RELEASE frees nothing. */
#ifndef PEREGRINE_AGENT_DHCP_H
#define PEREGRINE_AGENT_DHCP_H

#include "agent/config.h"
#include "wire/dhcp.h"

enum agent_dhcp_limits {
	AGENT_DHCP_LEASE_S = 3600,	/* renewal (T1) after 30 min: the
					 * address never changes, a renewal
					 * only says the VM is alive */
	AGENT_DHCP_MTU = 1500,		/* the tenant's MTU on every scheme's
					 * Peregrine path (no bytes added) */
	AGENT_DHCP_BURST = 8,		/* messages a VM may send at once ... */
	AGENT_DHCP_PER_S = 2,		/* ... and then per second: a client
					 * sends a few per minute at most */
	/* a reply frame: Ethernet, IPv4, UDP, the message */
	AGENT_DHCP_FRAME_MAX = 14 + 20 + 8 + WIRE_DHCP_REPLY_MAX,
};

/* What happened to a DHCP frame from a VM: a counter each (agent_stats
 * dhcp_NAME).  Replies: offer, ack, nak.  Drops by reason. */
#define AGENT_DHCP_VERDICTS(X)                                                   \
	X(offer, "DHCP DISCOVERs answered with an OFFER")                      \
	X(ack, "DHCP REQUESTs and INFORMs answered with an ACK")               \
	X(nak, "DHCP REQUESTs for another address answered with a NAK")        \
	X(release, "DHCP RELEASEs (the address stays the VM's)")              \
	X(decline, "DHCP DECLINEs (the VM saw its address in use)")           \
	X(other_server, "DHCP REQUESTs for another server: no answer")        \
	X(arp, "ARP requests for the DHCP server's address answered")         \
	X(drop_frame, "DHCP dropped: not IPv4/UDP to port 67 within the frame") \
	X(drop_short, "DHCP dropped: message too short")                      \
	X(drop_op, "DHCP dropped: not a BOOTREQUEST")                          \
	X(drop_hw, "DHCP dropped: hardware type or length not Ethernet")       \
	X(drop_cookie, "DHCP dropped: no magic cookie")                        \
	X(drop_option, "DHCP dropped: option past the end or of a wrong length") \
	X(drop_type, "DHCP dropped: no or not a client's message type")        \
	X(drop_spoof, "DHCP dropped: MAC, client or source address not the VM's") \
	X(drop_no_config, "DHCP dropped: the VM has no prefix (plen) configured") \
	X(drop_rate, "DHCP dropped: VM over its rate (AGENT_DHCP_PER_S)")      \
	X(drop_send, "DHCP replies the shell failed to send")

enum agent_dhcp_verdict {
#define AGENT_DHCP_ENUM(name, desc) AGENT_DHCP_##name,
	AGENT_DHCP_VERDICTS(AGENT_DHCP_ENUM)
#undef AGENT_DHCP_ENUM
	AGENT_DHCP_COUNT
};

/* The VM a frame came from: its configuration, its interface MAC, and the
 * MAC the server answers from (the server's primary MAC). */
struct agent_dhcp_vm {
	const struct agent_vm_cfg *c;
	uint8_t mac[6];
	uint8_t server_mac[6];
};

/* The DHCP server's address the VM sees (host order): its gateway, or
 * without one the highest host address of its prefix other than its own.
 * 0 if the VM has no prefix configured. */
uint32_t agent_dhcp_server_id(const struct agent_vm_cfg *c);

/* Answer the frame (Ethernet, as the VM sent it).  A reply, if any, goes to
 * out (AGENT_DHCP_FRAME_MAX bytes) with its length in *outlen (else 0).
 * Returns the verdict to count. */
enum agent_dhcp_verdict agent_dhcp_answer(const struct agent_dhcp_vm *vm, const uint8_t *frame,
					  size_t len, uint8_t *out, size_t *outlen);

/* A VM's token bucket: AGENT_DHCP_BURST, refilled at AGENT_DHCP_PER_S. */
struct agent_dhcp_bucket {
	uint64_t at_ns;
	uint32_t tokens;
	bool started;
};

bool agent_dhcp_admit(struct agent_dhcp_bucket *b, uint64_t now_ns);

/* A verdict's counter name (without "dhcp_") and description. */
const char *agent_dhcp_name(enum agent_dhcp_verdict v);
const char *agent_dhcp_desc(enum agent_dhcp_verdict v);

#endif
