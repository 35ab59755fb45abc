/* UDP sockets for the management network, with batched I/O.
 *
 * Request/response daemons are bound by system calls (about a microsecond
 * each), so they read and write in batches with recvmmsg/sendmmsg.  A
 * struct udp_batch owns UDP_BATCH buffers of UDP_MAX_DGRAM bytes and the
 * mmsghdr arrays that point at them; nothing is allocated per packet.
 */
#ifndef PEREGRINE_LIB_UDP_H
#define PEREGRINE_LIB_UDP_H

#include <netinet/in.h>
#include <sys/socket.h>
#include "lib/common.h"

enum udp_limits {
	UDP_BATCH = 64,		/* datagrams per recvmmsg/sendmmsg */
	UDP_MAX_DGRAM = 9000,	/* largest management message */
};

/* "ADDR:PORT" (IPv4 dotted quad or "*"; PORT 0..65535) -> sockaddr.
 * 0, or -EINVAL with a reason in err. */
int udp_parse_addr(const char *s, struct sockaddr_in *out, char *err, size_t errlen);
/* "a.b.c.d:port" into buf (at least 22 bytes). */
const char *udp_addr_str(const struct sockaddr_in *a, char *buf, size_t len);

/* A non-blocking UDP socket bound to `bind_addr` (port 0: any).  Socket
 * buffers are raised to `rcvbuf` bytes if non-zero.  Returns fd or -errno. */
int udp_open(const struct sockaddr_in *bind_addr, int rcvbuf);

struct udp_batch {
	int n;					/* filled entries */
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_in addrs[UDP_BATCH];
	uint8_t bufs[UDP_BATCH][UDP_MAX_DGRAM];
};

void udp_batch_init(struct udp_batch *b);
/* Receive up to UDP_BATCH datagrams without blocking.  Returns how many (also
 * in b->n; lengths in b->msgs[i].msg_len), 0 if none waited, or -errno. */
int udp_recv_batch(int fd, struct udp_batch *b);
/* Append a datagram to a send batch; returns its buffer (len bytes) to fill,
 * or NULL when the batch is full (flush first). */
uint8_t *udp_batch_add(struct udp_batch *b, const struct sockaddr_in *to, size_t len);
/* Send everything queued and empty the batch.  Returns datagrams sent or
 * -errno; datagrams the kernel refused are dropped (UDP). */
int udp_flush(int fd, struct udp_batch *b);

#endif
