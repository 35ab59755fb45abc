/* The agent's DHCP server: the replies a client gets (agent_dhcp_answer),
 * every drop reason, the rate limit, and the hook in the core (a PGR_EV_DHCP
 * event answered into the VM's port, an ARP request for the server's
 * address answered at once). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "agent/dhcp.h"
#include "dir/dir.h"
#include "wire/frame.h"

#define VM_IP 0x0a000005u	/* 10.0.0.5 */
#define OTHER_IP 0x0a000006u
#define SEC 1000000000ull

static const struct agent_vm_cfg cfg = {
	.name = "red", .vdc = 1, .ip = VM_IP, .node = 13, .port = "p1", .ifindex = 7,
	.plen = 24, .gateway = 0x0a000001, .dns = { 0x08080808, 0x01010101 }, .ndns = 2,
};

static struct agent_dhcp_vm vm_of(const struct agent_vm_cfg *c)
{
	struct agent_dhcp_vm v = { .c = c };

	pgr_mac_make(v.mac, pgr_id_of(c->node, PGR_PRIMARY));
	pgr_mac_make(v.server_mac, pgr_id_of(1, PGR_PRIMARY));
	return v;
}

/* A client's frame: type, from MAC/ciaddr, option 50 and 54, source IP. */
static size_t client(uint8_t *buf, uint8_t type, const uint8_t mac[6], uint32_t saddr,
		     uint32_t ciaddr, uint32_t requested, uint32_t server_id)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t msg[400];
	size_t n = wire_dhcp_build_request(msg, sizeof(msg), type, 0x11223344, mac,
					   htonl(ciaddr), htonl(requested), htonl(server_id));

	assert_true(n > 0);
	return wire_build_udp4(buf, WIRE_FRAME_MAX, bcast, mac, htonl(saddr), 0xffffffffu, 68, 67,
			       msg, n);
}

/* The reply's message: parse the frame, check its addressing, return the
 * payload (which wire_dhcp_parse would refuse: it is a BOOTREPLY). */
static const uint8_t *reply(const uint8_t *out, size_t n, const struct agent_dhcp_vm *v,
			    uint32_t daddr)
{
	struct wire_frame f;

	assert_int_equal(wire_frame_parse(out, n, &f), WIRE_OK);
	assert_non_null(f.ip);
	assert_memory_equal(f.eth->dst, v->mac, 6);
	assert_memory_equal(f.eth->src, v->server_mac, 6);
	assert_int_equal(f.ip->saddr, htonl(cfg.gateway));
	assert_int_equal(f.ip->daddr, htonl(daddr));
	assert_int_equal(out[f.l4_off + 1], 67);
	assert_int_equal(out[f.l4_off + 3], 68);
	assert_int_equal(out[f.l4_off + 8], 2);	/* BOOTREPLY */
	return out + f.l4_off + 8;
}

/* The value of option code in a reply's message, or NULL. */
static const uint8_t *option(const uint8_t *msg, size_t len, uint8_t code, uint8_t *olen)
{
	for (size_t i = 240; i + 1 < len && msg[i] != 255;) {
		if (msg[i] == 0) {
			i++;
			continue;
		}
		if (msg[i] == code) {
			*olen = msg[i + 1];
			return msg + i + 2;
		}
		i += 2u + msg[i + 1];
	}
	return NULL;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void discover_offers_the_vms_address(void **state)
{
	struct agent_dhcp_vm v = vm_of(&cfg);
	uint8_t in[WIRE_FRAME_MAX], out[AGENT_DHCP_FRAME_MAX], olen;
	size_t n = client(in, WIRE_DHCP_DISCOVER, v.mac, 0, 0, 0, 0), m;
	const uint8_t *msg, *o;

	(void)state;
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_offer);
	msg = reply(out, m, &v, VM_IP);
	assert_int_equal(get32(msg + 4), 0x11223344);		/* xid */
	assert_int_equal(get32(msg + 16), VM_IP);		/* yiaddr */
	assert_memory_equal(msg + 28, v.mac, 6);
	assert_non_null(o = option(msg, m - 42, 53, &olen));
	assert_int_equal(o[0], WIRE_DHCP_OFFER);
	assert_non_null(o = option(msg, m - 42, 54, &olen));
	assert_int_equal(get32(o), cfg.gateway);
	assert_non_null(o = option(msg, m - 42, 1, &olen));
	assert_int_equal(get32(o), 0xffffff00u);
	assert_non_null(o = option(msg, m - 42, 3, &olen));
	assert_int_equal(get32(o), cfg.gateway);
	assert_non_null(o = option(msg, m - 42, 26, &olen));
	assert_int_equal(o[0] << 8 | o[1], 1500);
	assert_non_null(o = option(msg, m - 42, 51, &olen));
	assert_int_equal(get32(o), AGENT_DHCP_LEASE_S);
	assert_non_null(o = option(msg, m - 42, 6, &olen));
	assert_int_equal(olen, 8);
	assert_int_equal(get32(o), 0x08080808);
	assert_int_equal(get32(o + 4), 0x01010101);
}

static void request_acked_or_naked(void **state)
{
	struct agent_dhcp_vm v = vm_of(&cfg);
	uint8_t in[WIRE_FRAME_MAX], out[AGENT_DHCP_FRAME_MAX], olen;
	size_t n, m;
	const uint8_t *msg;

	(void)state;
	/* selecting: option 50 and 54 */
	n = client(in, WIRE_DHCP_REQUEST, v.mac, 0, 0, VM_IP, cfg.gateway);
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_ack);
	msg = reply(out, m, &v, VM_IP);
	assert_int_equal(get32(msg + 16), VM_IP);
	assert_int_equal(option(msg, m - 42, 53, &olen)[0], WIRE_DHCP_ACK);
	/* renewing: unicast from its address, ciaddr set: the ACK goes to it */
	n = client(in, WIRE_DHCP_REQUEST, v.mac, VM_IP, VM_IP, 0, 0);
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_ack);
	reply(out, m, &v, VM_IP);
	/* another address (a VM moved from elsewhere asks for its old one) */
	n = client(in, WIRE_DHCP_REQUEST, v.mac, 0, 0, OTHER_IP, 0);
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_nak);
	msg = reply(out, m, &v, 0xffffffffu);
	assert_int_equal(get32(msg + 16), 0);
	assert_int_equal(option(msg, m - 42, 53, &olen)[0], WIRE_DHCP_NAK);
	assert_null(option(msg, m - 42, 51, &olen));
	/* selecting another server: silence */
	n = client(in, WIRE_DHCP_REQUEST, v.mac, 0, 0, VM_IP, 0x0a0000fe);
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_other_server);
	assert_int_equal(m, 0);
}

static void inform_release_decline(void **state)
{
	struct agent_dhcp_vm v = vm_of(&cfg);
	uint8_t in[WIRE_FRAME_MAX], out[AGENT_DHCP_FRAME_MAX], olen;
	size_t n, m;
	const uint8_t *msg;

	(void)state;
	n = client(in, WIRE_DHCP_INFORM, v.mac, VM_IP, VM_IP, 0, 0);
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_ack);
	msg = reply(out, m, &v, VM_IP);
	assert_int_equal(get32(msg + 16), 0);	/* no yiaddr */
	assert_null(option(msg, m - 42, 51, &olen));	/* no lease */
	n = client(in, WIRE_DHCP_RELEASE, v.mac, VM_IP, VM_IP, 0, cfg.gateway);
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_release);
	assert_int_equal(m, 0);
	n = client(in, WIRE_DHCP_DECLINE, v.mac, 0, 0, VM_IP, cfg.gateway);
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_decline);
	assert_int_equal(m, 0);
}

/* A VM cannot get, renew or release another's address. */
static void spoofed_messages_get_nothing(void **state)
{
	struct agent_dhcp_vm v = vm_of(&cfg);
	uint8_t in[WIRE_FRAME_MAX], out[AGENT_DHCP_FRAME_MAX], other[6];
	size_t n, m;

	(void)state;
	pgr_mac_make(other, pgr_id_of(14, PGR_PRIMARY));
	n = client(in, WIRE_DHCP_DISCOVER, other, 0, 0, 0, 0);	/* another MAC */
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_drop_spoof);
	n = client(in, WIRE_DHCP_DISCOVER, v.mac, 0, 0, 0, 0);
	memcpy(in + 6, other, 6);	/* chaddr ours, Ethernet source another */
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_drop_spoof);
	n = client(in, WIRE_DHCP_REQUEST, v.mac, OTHER_IP, OTHER_IP, 0, 0);	/* renew another's */
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_drop_spoof);
	n = client(in, WIRE_DHCP_RELEASE, v.mac, 0, OTHER_IP, 0, 0);
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_drop_spoof);
	assert_int_equal(m, 0);
}

static void malformed_counted_by_reason(void **state)
{
	struct agent_dhcp_vm v = vm_of(&cfg);
	uint8_t in[WIRE_FRAME_MAX], out[AGENT_DHCP_FRAME_MAX];
	size_t n, m;
	const size_t dhcp = 14 + 20 + 8;

	(void)state;
	n = client(in, WIRE_DHCP_DISCOVER, v.mac, 0, 0, 0, 0);
	assert_int_equal(agent_dhcp_answer(&v, in, 30, out, &m), AGENT_DHCP_drop_frame);
	in[dhcp] = 2;	/* BOOTREPLY */
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_drop_op);
	n = client(in, WIRE_DHCP_DISCOVER, v.mac, 0, 0, 0, 0);
	in[dhcp + 2] = 8;	/* hlen */
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_drop_hw);
	n = client(in, WIRE_DHCP_DISCOVER, v.mac, 0, 0, 0, 0);
	in[dhcp + 236] ^= 1;	/* cookie */
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_drop_cookie);
	n = client(in, WIRE_DHCP_DISCOVER, v.mac, 0, 0, 0, 0);
	in[dhcp + 241] = 200;	/* the type option's length runs past the end */
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_drop_option);
	n = client(in, WIRE_DHCP_DISCOVER, v.mac, 0, 0, 0, 0);
	in[dhcp + 241] = 2;	/* a type two bytes long */
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_drop_option);
	n = client(in, WIRE_DHCP_OFFER, v.mac, 0, 0, 0, 0);
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_drop_type);
	n = client(in, WIRE_DHCP_DISCOVER, v.mac, 0, 0, 0, 0);
	in[dhcp + 240] = 12;	/* the type option becomes a host name */
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_drop_type);
	n = client(in, WIRE_DHCP_DISCOVER, v.mac, 0, 0, 0, 0);
	in[14 + 20 + 4] = 0;	/* UDP length: 100, too short for a message */
	in[14 + 20 + 5] = 100;
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_drop_short);
	assert_int_equal(m, 0);
}

static void server_id_without_gateway(void **state)
{
	struct agent_vm_cfg c = cfg;
	struct agent_dhcp_vm v;
	uint8_t in[WIRE_FRAME_MAX], out[AGENT_DHCP_FRAME_MAX];
	size_t n, m;

	(void)state;
	c.gateway = 0;
	assert_int_equal(agent_dhcp_server_id(&c), 0x0a0000fe);
	c.ip = 0x0a0000fe;
	assert_int_equal(agent_dhcp_server_id(&c), 0x0a0000fd);
	c.plen = 0;
	assert_int_equal(agent_dhcp_server_id(&c), 0);
	v = vm_of(&c);
	n = client(in, WIRE_DHCP_DISCOVER, v.mac, 0, 0, 0, 0);
	assert_int_equal(agent_dhcp_answer(&v, in, n, out, &m), AGENT_DHCP_drop_no_config);
}

static void rate_limited(void **state)
{
	struct agent_dhcp_bucket b = { 0 };
	unsigned ok = 0;

	(void)state;
	for (unsigned i = 0; i < 100; i++)
		ok += agent_dhcp_admit(&b, 5 * SEC);
	assert_int_equal(ok, AGENT_DHCP_BURST);
	for (unsigned i = 0; i < 100; i++)	/* ten seconds later */
		ok += agent_dhcp_admit(&b, 15 * SEC);
	assert_int_equal(ok, 2 * AGENT_DHCP_BURST);
	for (uint64_t t = 15 * SEC; t < 25 * SEC; t += SEC / 100)	/* 100/s for 10 s */
		ok += agent_dhcp_admit(&b, t);
	assert_in_range(ok, 2 * AGENT_DHCP_BURST + 10 * AGENT_DHCP_PER_S - 1,
			2 * AGENT_DHCP_BURST + 10 * AGENT_DHCP_PER_S + 1);
}

/* ---- the core's hook ----------------------------------------------------- */

struct sent {
	uint8_t frame[8][AGENT_DHCP_FRAME_MAX];
	size_t len[8];
	uint32_t ifindex[8];
	unsigned n;
};

static int f_vm(void *arg, const struct pgr_vm *vm, uint32_t backup_id)
{
	(void)arg, (void)vm, (void)backup_id;
	return 0;
}

static int f_send(void *arg, uint32_t ifindex, const uint8_t *frame, size_t len)
{
	struct sent *s = arg;

	assert_true(s->n < 8 && len <= AGENT_DHCP_FRAME_MAX);
	memcpy(s->frame[s->n], frame, len);
	s->len[s->n] = len;
	s->ifindex[s->n++] = ifindex;
	return 0;
}

static int f_garp(void *arg, const struct pgr_garp_key *k, const struct pgr_garp_entry *g)
{
	(void)arg, (void)k, (void)g;
	return 0;
}

static int f_del(void *arg, const struct pgr_garp_key *k)
{
	(void)arg, (void)k;
	return 0;
}

static int f_ras(void *arg, const uint8_t *buf, size_t len)
{
	(void)arg, (void)buf, (void)len;
	return 0;
}

/* A directory core behind the client: requests queued, then pumped. */
struct dirq {
	uint8_t buf[4][DIRP_MAX_DGRAM];
	size_t len[4];
	unsigned n;
};

static void f_dir(void *arg, const uint8_t *buf, size_t len)
{
	struct dirq *q = arg;

	assert_true(q->n < 4);
	memcpy(q->buf[q->n], buf, len);
	q->len[q->n++] = len;
}

static void pump(struct dir *d, struct dirc *c, struct dirq *q, struct dir_now now)
{
	struct dir_out out;

	dir_out_init(&out);
	for (unsigned i = 0; i < q->n; i++) {
		dir_input(d, now, 1, q->buf[i], q->len[i], &out);
		for (size_t k = 0; k < out.nsends; k++)
			dirc_input(c, now, out.buf + out.sends[k].off, out.sends[k].len);
		dir_out_reset(&out);
	}
	q->n = 0;
	dir_out_free(&out);
}

static void core_answers_dhcp_events(void **state)
{
	static const struct auth_key key = { { 1, 2, 3 } };
	static struct sent s;
	static struct dirq q;
	struct agent_ops ops = { &s, f_garp, f_del, f_vm, f_vm, f_send, f_send, f_ras, { 0 },
				 NULL, NULL, NULL, NULL, NULL, NULL };
	struct dirc_cfg dc = { .key = &key, .seed = 1, .send = f_dir, .send_arg = &q };
	struct dir_cfg dsc = { .key = &key, .seed = 2 };
	struct dirc *c = dirc_new(&dc);
	struct dir *d = dir_new(&dsc);
	struct agent_vm_cfg vms[1] = { cfg };
	struct agent_config conf = { .server = "srv0", .node = 1, .nnics = 1, .nvms = 1,
				     .vms = vms };
	struct dir_now now = { .ns = SEC, .wall_ms = 1 };
	struct agent *a = agent_new(&ops, c, &key, now);
	struct agent_dhcp_vm v = vm_of(&cfg);
	struct pgr_event ev = { .type = PGR_EV_DHCP, .vdc = 1, .vm_id = pgr_id_of(13, 0),
				.ifindex = 7 };
	uint8_t in[WIRE_FRAME_MAX];
	size_t n = client(in, WIRE_DHCP_DISCOVER, v.mac, 0, 0, 0, 0);
	struct wire_frame f;

	(void)state;
	agent_configure(a, &conf, now);
	agent_miss(a, &ev, in, n, now);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ifindex[0], 7);
	reply(s.frame[0], s.len[0], &v, VM_IP);
	assert_int_equal(agent_get_stats(a)->dhcp[AGENT_DHCP_offer], 1);
	assert_int_equal(agent_get_stats(a)->misses, 0);	/* not a miss */
	/* from another VM's port id: not answered */
	ev.vm_id = pgr_id_of(14, 0);
	agent_miss(a, &ev, in, n, now);
	assert_int_equal(s.n, 1);
	/* a flood: the burst is answered, the rest counted */
	ev.vm_id = pgr_id_of(13, 0);
	s.n = 0;
	for (unsigned i = 0; i < 20; i++) {
		agent_miss(a, &ev, in, n, now);
		s.n = 0;
	}
	assert_int_equal(agent_get_stats(a)->dhcp[AGENT_DHCP_offer], AGENT_DHCP_BURST);
	assert_int_equal(agent_get_stats(a)->dhcp[AGENT_DHCP_drop_rate], 20 - AGENT_DHCP_BURST + 1);
	/* the VM's ARP for the server's address (before a unicast renewal):
	 * answered once the directory says no VM has it */
	pump(d, c, &q, now);	/* the registration */
	ev = (struct pgr_event){ .type = PGR_EV_ARP_MISS, .vdc = 1, .ip = htonl(cfg.gateway),
				 .vm_id = pgr_id_of(13, 0), .ifindex = 7 };
	agent_miss(a, &ev, NULL, 0, now);
	agent_flush(a, now);
	assert_int_equal(s.n, 0);
	pump(d, c, &q, now);
	assert_int_equal(agent_get_stats(a)->not_found, 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(wire_frame_parse(s.frame[0], s.len[0], &f), WIRE_OK);
	assert_non_null(f.arp);
	assert_memory_equal(f.arp->sha, v.server_mac, 6);
	assert_int_equal(agent_get_stats(a)->dhcp[AGENT_DHCP_arp], 1);
	/* asked again while the NOT FOUND is remembered: answered at once */
	s.n = 0;
	agent_miss(a, &ev, NULL, 0, now);
	assert_int_equal(s.n, 1);
	assert_int_equal(agent_get_stats(a)->dhcp[AGENT_DHCP_arp], 2);
	/* another address nobody has: no answer */
	ev.ip = htonl(0x0a000063);
	s.n = 0;
	agent_miss(a, &ev, NULL, 0, now);
	agent_flush(a, now);
	pump(d, c, &q, now);
	assert_int_equal(s.n, 0);
	agent_free(a);
	dirc_free(c);
	dir_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(discover_offers_the_vms_address),
		cmocka_unit_test(request_acked_or_naked),
		cmocka_unit_test(inform_release_decline),
		cmocka_unit_test(spoofed_messages_get_nothing),
		cmocka_unit_test(malformed_counted_by_reason),
		cmocka_unit_test(server_id_without_gateway),
		cmocka_unit_test(rate_limited),
		cmocka_unit_test(core_answers_dhcp_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
