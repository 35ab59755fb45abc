#include "lib/udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/parse.h"

int udp_parse_addr(const char *s, struct sockaddr_in *out, char *err, size_t errlen)
{
	const char *colon = strrchr(s, ':');
	char host[64];
	uint32_t port;

	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	if (!colon || (size_t)(colon - s) >= sizeof(host) || !parse_u32(colon + 1, 65535, &port)) {
		snprintf(err, errlen, "'%s': expected ADDR:PORT", s);
		return -EINVAL;
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	out->sin_port = htons((uint16_t)port);
	if (strcmp(host, "*") == 0 || host[0] == 0) {
		out->sin_addr.s_addr = htonl(INADDR_ANY);
	} else if (inet_pton(AF_INET, host, &out->sin_addr) != 1) {
		snprintf(err, errlen, "'%s': '%s' is not an IPv4 address", s, host);
		return -EINVAL;
	}
	return 0;
}

const char *udp_addr_str(const struct sockaddr_in *a, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u", ip, ntohs(a->sin_port));
	return buf;
}

int udp_open(const struct sockaddr_in *bind_addr, int rcvbuf)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	/* No SO_REUSEADDR: UDP has no TIME_WAIT to wait out, and with it an
	 * ephemeral bind (port 0) can be handed a port a server already holds,
	 * and take that server's traffic. */
	if (fd < 0)
		return -errno;
	if (rcvbuf > 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &rcvbuf, sizeof(rcvbuf));
	}
	if (bind(fd, (const struct sockaddr *)bind_addr, sizeof(*bind_addr)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

void udp_batch_init(struct udp_batch *b)
{
	b->n = 0;
	for (int i = 0; i < UDP_BATCH; i++) {
		b->iov[i].iov_base = b->bufs[i];
		b->iov[i].iov_len = UDP_MAX_DGRAM;
		memset(&b->msgs[i], 0, sizeof(b->msgs[i]));
		b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
		b->msgs[i].msg_hdr.msg_iovlen = 1;
		b->msgs[i].msg_hdr.msg_name = &b->addrs[i];
		b->msgs[i].msg_hdr.msg_namelen = sizeof(b->addrs[i]);
	}
}

int udp_recv_batch(int fd, struct udp_batch *b)
{
	int n;

	for (int i = 0; i < UDP_BATCH; i++) {
		b->iov[i].iov_len = UDP_MAX_DGRAM;
		b->msgs[i].msg_hdr.msg_namelen = sizeof(b->addrs[i]);
		b->msgs[i].msg_hdr.msg_flags = 0;
	}
	n = recvmmsg(fd, b->msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n < 0) {
		b->n = 0;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	}
	b->n = n;
	return n;
}

uint8_t *udp_batch_add(struct udp_batch *b, const struct sockaddr_in *to, size_t len)
{
	int i = b->n;

	if (i == UDP_BATCH || len > UDP_MAX_DGRAM)
		return NULL;
	b->addrs[i] = *to;
	b->iov[i].iov_len = len;
	b->msgs[i].msg_hdr.msg_namelen = sizeof(b->addrs[i]);
	b->n++;
	return b->bufs[i];
}

int udp_flush(int fd, struct udp_batch *b)
{
	int sent = 0;

	while (sent < b->n) {
		int n = sendmmsg(fd, b->msgs + sent, (unsigned)(b->n - sent), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* Drop what the kernel will not take now: UDP semantics. */
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ||
			    errno == ECONNREFUSED || errno == EHOSTUNREACH ||
			    errno == ENETUNREACH) {
				sent++;
				continue;
			}
			b->n = 0;
			return -errno;
		}
		sent += n;
	}
	b->n = 0;
	for (int i = 0; i < UDP_BATCH; i++)
		b->iov[i].iov_len = UDP_MAX_DGRAM;
	return sent;
}
