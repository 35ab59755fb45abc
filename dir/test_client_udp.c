/* The directory client's choice of server (dir/client_udp.h) over loopback:
 * a server whose address refuses datagrams (its process died) is left at
 * once, not after the silence timeout, and a server given up is suspect: a
 * client on a silent server does not go back to it; a server slow to
 * answer writes (behind etcd) is not left as soon as one slow to answer
 * reads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dir/client_udp.h"
#include "wire/dirproto.h"

static const struct auth_key key = { { 7 } };

/* A UDP socket on a loopback port; *a its address. */
static int bound(struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	*a = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	assert_int_equal(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)a, &len), 0);
	return fd;
}

/* An address nothing listens on: its port answers ICMP port unreachable. */
static void refusing(struct sockaddr_in *a)
{
	close(bound(a));
}

static void on_reply(void *arg, uint64_t id, const struct dirp_msg *m)
{
	(void)arg;
	(void)id;
	(void)m;
}

static struct dirc_udp *client(const struct sockaddr_in *first, const struct sockaddr_in *second,
			       uint32_t failover_ms)
{
	struct dirc_cfg cfg = { .key = &key, .seed = 42 };
	struct dirc_udp *u;
	int err = 0;

	u = dirc_udp_open(first, &cfg, &err);
	assert_non_null(u);
	assert_int_equal(dirc_udp_add_server(u, second), 0);
	dirc_udp_set_failover_ms(u, failover_ms);
	return u;
}

static void lookup(struct dirc_udp *u)
{
	struct dirp_key k = { .vdc = 1, .ip = 0x0a000001 };

	assert_true(dirc_request(dirc_udp_client(u), dir_now_sys(), DIRP_LOOKUP, &k, 1, on_reply,
				 NULL) > 0);
}

static bool has_datagram(void *arg)
{
	char b;

	return recv(*(int *)arg, &b, 1, MSG_DONTWAIT | MSG_PEEK) >= 0;
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

/* The first server's process is gone: the request reaches the second long
 * before the 10 s of silence that would move the client otherwise. */
static void test_refusal_moves_at_once(void **state)
{
	struct sockaddr_in dead, alive;
	int fd = bound(&alive);
	struct dirc_udp *u;

	(void)state;
	refusing(&dead);
	u = client(&dead, &alive, 10000);
	lookup(u);
	assert_int_equal(dirc_udp_wait(u, has_datagram, &fd, 2000), 0);
	assert_int_equal(dirc_udp_server(u), 1);
	assert_int_equal(dirc_udp_failovers(u), 1);
	assert_int_equal(dirc_udp_refusals(u), 1);
	dirc_udp_close(u);
	close(fd);
}

/* On the second server, silent for many failover periods (a server slowed
 * by etcd's commits): the client stays, instead of going back to the dead
 * one every 20 ms and losing that time there each time. */
static void test_no_return_to_suspect(void **state)
{
	struct sockaddr_in dead, slow;
	int fd = bound(&slow);
	struct dirc_udp *u;

	(void)state;
	refusing(&dead);
	u = client(&dead, &slow, 20);
	lookup(u);
	assert_int_equal(dirc_udp_wait(u, never, NULL, 300), -ETIMEDOUT);
	assert_int_equal(dirc_udp_server(u), 1);
	assert_int_equal(dirc_udp_failovers(u), 1);
	assert_true(has_datagram(&fd));
	dirc_udp_close(u);
	close(fd);
}

/* Two servers, both silent: the client still moves between them (neither
 * is known dead), once per failover period at most. */
static void test_silent_servers_alternate(void **state)
{
	struct sockaddr_in a, b;
	int fa = bound(&a), fb = bound(&b);
	struct dirc_udp *u;

	(void)state;
	u = client(&a, &b, 20);
	lookup(u);
	assert_int_equal(dirc_udp_wait(u, has_datagram, &fb, 2000), 0);
	assert_int_equal(dirc_udp_server(u), 1);
	assert_int_equal(dirc_udp_refusals(u), 0);
	assert_true(has_datagram(&fa));
	dirc_udp_close(u);
	close(fa);
	close(fb);
}

/* A server that holds a registration's answer (until etcd commits it) is
 * not left for that after failover_ms, only after
 * DIRC_UDP_WRITE_FAILOVER_MS; a lookup it leaves unanswered meanwhile
 * moves the client after failover_ms. */
static void test_writes_wait_longer(void **state)
{
	struct sockaddr_in a, b;
	int fa = bound(&a), fb = bound(&b);
	struct dirp_entry e = { .vdc = 1, .ip = 0x0a000002, .server = 3 };
	struct dirc_udp *u;
	uint64_t t0;

	(void)state;
	e.mac[DIRP_VM_PRI][0] = 2;
	e.mac[DIRP_VM_BAK][0] = 2;
	e.mac[DIRP_IM_PRI][0] = 2;
	e.mac[DIRP_IM_BAK][0] = 2;
	u = client(&a, &b, 20);
	assert_true(dirc_request(dirc_udp_client(u), dir_now_sys(), DIRP_REGISTER, &e, 1, on_reply,
				 NULL) > 0);
	assert_int_equal(dirc_udp_wait(u, never, NULL, 150), -ETIMEDOUT);
	assert_int_equal(dirc_udp_failovers(u), 0);	/* 7 failover periods */
	assert_false(has_datagram(&fb));
	t0 = mono_ns();
	lookup(u);
	assert_int_equal(dirc_udp_wait(u, has_datagram, &fb, 2000), 0);
	assert_int_equal(dirc_udp_server(u), 1);
	/* well before the write's own limit, counted from its send */
	assert_true(mono_ns() - t0 < (DIRC_UDP_WRITE_FAILOVER_MS - 150) * 1000000ull);
	dirc_udp_close(u);
	close(fa);
	close(fb);
}

/* Alone, a refusing server is kept (there is nowhere else to go). */
static void test_single_server_kept(void **state)
{
	struct sockaddr_in dead;
	struct dirc_cfg cfg = { .key = &key, .seed = 42 };
	struct dirc_udp *u;
	int err = 0;

	(void)state;
	refusing(&dead);
	u = dirc_udp_open(&dead, &cfg, &err);
	assert_non_null(u);
	lookup(u);
	assert_int_equal(dirc_udp_wait(u, never, NULL, 100), -ETIMEDOUT);
	assert_int_equal(dirc_udp_server(u), 0);
	assert_int_equal(dirc_udp_failovers(u), 0);
	dirc_udp_close(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusal_moves_at_once),
		cmocka_unit_test(test_no_return_to_suspect),
		cmocka_unit_test(test_silent_servers_alternate),
		cmocka_unit_test(test_single_server_kept),
		cmocka_unit_test(test_writes_wait_longer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
