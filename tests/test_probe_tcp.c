/*
 * natprobe's TCP tests against a simulated network: the probe's segments go
 * through natemu's translation core (TCP, with flags, so its per-connection
 * state is exercised) to a toy reflector that completes handshakes on its
 * four endpoints and answers STUN over TCP with natreflector's own handler.
 * A segment to a port with no socket draws a RST, as from a real kernel.
 * Every mapping x port-allocation combination must be classified exactly.
 */
#include <string.h>

#include <CUnit/CUnit.h>
#include <arpa/inet.h>

#include "addr.h"
#include "probe/tests.h"
#include "reflector/handler.h"
#include "testbeds/natemu/nat.h"
#include "testlib.h"

#define INSIDE_IP  0x0A000002u /* 10.0.0.2 */
#define PUBLIC_IP  0xC6336401u /* 198.51.100.1 */
#define DELAY_US   1000
#define MAX_FLIGHT 512
#define MAX_SOCKS  64
#define HANDLE0    1000 /* handles of the probe's TCP sockets: HANDLE0 + index */

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_ACK 0x10

struct seg {
	bool inbound;
	bool udp; /* the boot exchange's datagrams, untranslated */
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port;
	uint8_t flags;
	uint64_t at_us;
	size_t len;
	uint8_t data[256];
};

/* The probe host's TCP sockets. */
struct tsock {
	bool used, listener, connecting, connected;
	uint16_t port;
	uint32_t rip;
	uint16_t rport;
};

struct tsim {
	natemu_t *nat; /* NULL: no NAT */
	struct refl_cfg refl;
	struct seg flight[MAX_FLIGHT];
	size_t nflight;
	struct tsock socks[MAX_SOCKS];
	uint64_t now_us;
	uint16_t next_port;
	bool refuse;      /* the reflector has no TCP: a RST for every SYN */
	bool udp_blocked; /* a firewall on the way drops every datagram */
	probe_engine_t *engine;
};

static void ip_port(const struct sockaddr *sa, uint32_t *ip, uint16_t *port)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

	*ip = ntohl(in->sin_addr.s_addr);
	*port = ntohs(in->sin_port);
}

static void fly(struct tsim *s, struct seg g)
{
	if (s->nflight == MAX_FLIGHT)
		return;
	g.at_us = s->now_us + DELAY_US;
	s->flight[s->nflight++] = g;
}

/* Unused UDP: the TCP tests' boot exchange is still UDP's, answered here. */
static int udp_open(void *ctx, const struct sockaddr *toward, struct sockaddr_storage *local)
{
	struct tsim *s = ctx;

	(void)toward;
	test_sockaddr_v4(INSIDE_IP, s->next_port, local);
	return s->next_port++;
}

static int udp_send(void *ctx, int sock, const struct sockaddr *to, const uint8_t *msg, size_t len)
{
	struct tsim *s = ctx;
	struct seg g = {.udp = true, .src_ip = INSIDE_IP, .src_port = (uint16_t)sock, .len = len};

	ip_port(to, &g.dst_ip, &g.dst_port);
	if (len <= sizeof(g.data) && !s->udp_blocked) {
		memcpy(g.data, msg, len);
		fly(s, g);
	}
	return 0;
}

/* The boot exchange: straight to the reflector's handler and back. */
static void udp_deliver(struct tsim *s, const struct seg *g)
{
	struct seg back = {.udp = true, .inbound = true};
	struct sockaddr_storage from;
	struct refl_reply out;

	if (g->inbound) {
		test_sockaddr_v4(g->src_ip, g->src_port, &from);
		probe_engine_receive(s->engine, g->dst_port, (struct sockaddr *)&from, g->data,
				     g->len, s->now_us);
		return;
	}
	test_sockaddr_v4(g->src_ip, g->src_port, &from);
	refl_handle(
	    &s->refl,
	    &(struct refl_request){g->data, g->len, REFL_PP, (struct sockaddr *)&from, false},
	    back.data, sizeof(back.data), &out);
	if (!out.len)
		return;
	back.len = out.len;
	ip_port((struct sockaddr *)&s->refl.advertised[out.role], &back.src_ip, &back.src_port);
	ip_port((struct sockaddr *)&out.to, &back.dst_ip, &back.dst_port);
	fly(s, back);
}

/* Fresh ports spread as a kernel's ephemeral ones are, so that a preserving
 * NAT's fallback ports for one test's mappings are not the next test's own. */
static uint16_t fresh_port(struct tsim *s)
{
	return (uint16_t)(20000 + (s->next_port++ * 2053u) % 40000);
}

static struct tsock *new_sock(struct tsim *s, uint16_t port, int *handle)
{
	for (int i = 0; i < MAX_SOCKS; i++)
		if (!s->socks[i].used) {
			s->socks[i] =
			    (struct tsock){.used = true, .port = port ? port : fresh_port(s)};
			*handle = HANDLE0 + i;
			return &s->socks[i];
		}
	return NULL;
}

static struct tsock *sock_of(struct tsim *s, int handle)
{
	int i = handle - HANDLE0;

	return i >= 0 && i < MAX_SOCKS && s->socks[i].used ? &s->socks[i] : NULL;
}

static int tcp_listen(void *ctx, const struct sockaddr *toward, uint16_t port,
		      struct sockaddr_storage *local)
{
	struct tsim *s = ctx;
	int h;
	struct tsock *t = new_sock(s, port, &h);

	(void)toward;
	if (!t)
		return -1;
	t->listener = true;
	test_sockaddr_v4(INSIDE_IP, t->port, local);
	return h;
}

static int tcp_connect(void *ctx, const struct sockaddr *toward, const struct sockaddr *to,
		       uint16_t port, struct sockaddr_storage *local)
{
	struct tsim *s = ctx;
	int h;
	struct tsock *t = new_sock(s, port, &h);

	(void)toward;
	if (!t)
		return -1;
	ip_port(to, &t->rip, &t->rport);
	t->connecting = true;
	test_sockaddr_v4(INSIDE_IP, t->port, local);
	fly(s, (struct seg){.src_ip = INSIDE_IP,
			    .src_port = t->port,
			    .dst_ip = t->rip,
			    .dst_port = t->rport,
			    .flags = F_SYN});
	return h;
}

static int tcp_send(void *ctx, int conn, const uint8_t *msg, size_t len)
{
	struct tsim *s = ctx;
	struct tsock *t = sock_of(s, conn);
	struct seg g = {.src_ip = INSIDE_IP, .flags = F_ACK, .len = len};

	if (!t || !t->connected || len > sizeof(g.data))
		return -1;
	g.src_port = t->port;
	g.dst_ip = t->rip;
	g.dst_port = t->rport;
	memcpy(g.data, msg, len);
	fly(s, g);
	return 0;
}

static void tcp_close(void *ctx, int conn)
{
	struct tsim *s = ctx;
	struct tsock *t = sock_of(s, conn);

	if (!t)
		return;
	if (t->connected)
		fly(s, (struct seg){.src_ip = INSIDE_IP,
				    .src_port = t->port,
				    .dst_ip = t->rip,
				    .dst_port = t->rport,
				    .flags = F_FIN | F_ACK});
	t->used = false;
}

static bool translate(struct tsim *s, struct seg *g)
{
	struct natemu_pkt k = {IPPROTO_TCP, g->src_ip,   g->dst_ip,
			       g->src_port, g->dst_port, g->flags};
	struct natemu_result r;

	if (!s->nat)
		return true;
	r = natemu_process(s->nat, g->inbound ? NATEMU_OUTSIDE : NATEMU_INSIDE, &k,
			   s->now_us / 1000);
	if (r.verdict != NATEMU_FORWARD)
		return false;
	g->src_ip = r.pkt.src_ip;
	g->dst_ip = r.pkt.dst_ip;
	g->src_port = r.pkt.src_port;
	g->dst_port = r.pkt.dst_port;
	return true;
}

/* The reflector's kernel and natreflector: handshakes, STUN over TCP. */
static void reflect(struct tsim *s, const struct seg *g)
{
	struct seg back = {.inbound = true,
			   .src_ip = g->dst_ip,
			   .src_port = g->dst_port,
			   .dst_ip = g->src_ip,
			   .dst_port = g->src_port};
	struct sockaddr_storage to, from;
	struct refl_reply out;
	int role = -1;

	test_sockaddr_v4(g->dst_ip, g->dst_port, &to);
	for (int r = 0; r < 4; r++)
		if (addr_equal((struct sockaddr *)&to, (struct sockaddr *)&s->refl.advertised[r]))
			role = r;
	if (g->flags & (F_RST | F_FIN))
		return;
	if (g->flags & F_SYN) {
		back.flags = role < 0 || s->refuse ? F_RST | F_ACK : F_SYN | F_ACK;
		fly(s, back);
		return;
	}
	if (role < 0 || !g->len)
		return;
	test_sockaddr_v4(g->src_ip, g->src_port, &from);
	refl_handle(&s->refl,
		    &(struct refl_request){g->data, g->len, (enum refl_role)role,
					   (struct sockaddr *)&from, true},
		    back.data, sizeof(back.data), &out);
	if (!out.len)
		return;
	back.len = out.len;
	back.flags = F_ACK;
	fly(s, back);
}

static struct tsock *sock_for(struct tsim *s, const struct seg *g)
{
	for (int i = 0; i < MAX_SOCKS; i++) {
		struct tsock *t = &s->socks[i];

		if (t->used && !t->listener && t->port == g->dst_port && t->rip == g->src_ip &&
		    t->rport == g->src_port)
			return t;
	}
	return NULL;
}

/* A segment reaches the probe's host. */
static void arrive(struct tsim *s, const struct seg *g)
{
	struct tsock *t = sock_for(s, g);
	int h;

	if (!t)
		return;
	h = HANDLE0 + (int)(t - s->socks);
	if (t->connecting && (g->flags & (F_SYN | F_ACK)) == (F_SYN | F_ACK)) {
		t->connecting = false;
		t->connected = true;
		fly(s, (struct seg){.src_ip = INSIDE_IP,
				    .src_port = t->port,
				    .dst_ip = t->rip,
				    .dst_port = t->rport,
				    .flags = F_ACK});
		probe_engine_tcp_event(s->engine, h, PROBE_TCP_CONNECTED, -1, NULL, s->now_us);
	} else if (g->flags & F_RST) {
		bool was_connecting = t->connecting;

		t->connecting = t->connected = false;
		probe_engine_tcp_event(s->engine, h,
				       was_connecting ? PROBE_TCP_REFUSED : PROBE_TCP_CLOSED, -1,
				       NULL, s->now_us);
	} else if (t->connected && g->len) {
		probe_engine_tcp_receive(s->engine, h, g->data, g->len, s->now_us);
	}
}

static void deliver(struct tsim *s, struct seg *g)
{
	if (g->udp) {
		udp_deliver(s, g);
		return;
	}
	if (!translate(s, g))
		return;
	if (g->inbound)
		arrive(s, g);
	else
		reflect(s, g);
}

static void run(struct tsim *s)
{
	while (!probe_engine_done(s->engine) && s->now_us < 60000000u) {
		uint64_t next = probe_engine_deadline(s->engine);
		size_t first = MAX_FLIGHT;

		for (size_t i = 0; i < s->nflight; i++)
			if (s->flight[i].at_us <= next) {
				next = s->flight[i].at_us;
				first = i;
			}
		if (next > s->now_us)
			s->now_us = next;
		if (first < MAX_FLIGHT) {
			struct seg g = s->flight[first];

			s->flight[first] = s->flight[--s->nflight];
			deliver(s, &g);
		} else {
			probe_engine_tick(s->engine, s->now_us);
		}
	}
}

static void tsim_setup(struct tsim *s, const struct natemu_cfg *nat, uint64_t seed)
{
	static const char *const roles[4] = {"203.0.113.10:3478", "203.0.113.10:3479",
					     "203.0.113.11:3478", "203.0.113.11:3479"};
	char err[128];

	memset(s, 0, sizeof(*s));
	for (int r = 0; r < 4; r++)
		addr_parse(roles[r], ADDR_PORT_REQUIRED, 0, &s->refl.advertised[r], err,
			   sizeof(err));
	s->nat = nat ? natemu_new(nat, seed) : NULL;
	s->next_port = 40000;
	s->now_us = 1000000;
}

static void probe_tcp(struct tsim *s, struct probe_result *res)
{
	struct probe_io io = {.ctx = s,
			      .open = udp_open,
			      .send = udp_send,
			      .tcp_listen = tcp_listen,
			      .tcp_connect = tcp_connect,
			      .tcp_send = tcp_send,
			      .tcp_close = tcp_close};
	const struct probe_test *tests[] = {&probe_test_tcp_mapping, &probe_test_tcp_ports};

	s->engine =
	    probe_engine_new(&io, (struct sockaddr *)&s->refl.advertised[0], tests, 2, s->now_us);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s->engine);
	run(s);
	probe_engine_result(s->engine, res);
	probe_engine_free(s->engine);
	natemu_free(s->nat);
}

static struct natemu_cfg nat_cfg(int mapping, int ports)
{
	struct natemu_cfg cfg;

	natemu_cfg_default(&cfg);
	cfg.mapping = (enum natemu_dependence)mapping;
	cfg.ports = (enum natemu_ports)ports;
	cfg.pool[0] = PUBLIC_IP;
	cfg.npool = 1;
	return cfg;
}

/* Every mapping x port allocation: both TCP verdicts exactly. */
static void test_tcp_grid(void)
{
	static const enum probe_mapping want_mapping[3] = {PROBE_MAPPING_EI, PROBE_MAPPING_AD,
							   PROBE_MAPPING_APD};
	static const enum probe_ports want_ports[3] = {PROBE_PORTS_PRESERVING,
						       PROBE_PORTS_SEQUENTIAL, PROBE_PORTS_RANDOM};

	for (int m = 0; m < 3; m++) {
		for (int p = 0; p < 3; p++) {
			struct natemu_cfg cfg = nat_cfg(m, p);
			struct probe_result res;
			struct tsim s;

			tsim_setup(&s, &cfg, (uint64_t)(m * 3 + p + 1));
			probe_tcp(&s, &res);
			CU_ASSERT_TRUE(res.tcp_tested);
			CU_ASSERT_EQUAL(res.tcp.mapping, want_mapping[m]);
			CU_ASSERT_EQUAL(res.tcp.port_pattern, want_ports[p]);
			CU_ASSERT_EQUAL(res.tcp.port_nsamples, PROBE_TCP_PORT_SAMPLES);
			if (p == NATEMU_PORTS_SEQUENTIAL)
				CU_ASSERT_EQUAL(res.tcp.port_delta, 1);
			CU_ASSERT_EQUAL(
			    ntohl(((struct sockaddr_in *)&res.tcp.mapped)->sin_addr.s_addr),
			    PUBLIC_IP);
			if (res.tcp.mapping != want_mapping[m] ||
			    res.tcp.port_pattern != want_ports[p])
				printf("\n  mapping %d ports %d: %s (%s), %s (%s)\n", m, p,
				       probe_mapping_name(res.tcp.mapping), res.tcp.mapping_reason,
				       probe_ports_name(res.tcp.port_pattern), res.tcp.port_reason);
		}
	}
}

/* No NAT: mapping none, ports preserved. */
static void test_tcp_no_nat(void)
{
	struct probe_result res;
	struct tsim s;

	tsim_setup(&s, NULL, 1);
	probe_tcp(&s, &res);
	CU_ASSERT_EQUAL(res.tcp.mapping, PROBE_MAPPING_NONE);
	CU_ASSERT_EQUAL(res.tcp.port_pattern, PROBE_PORTS_PRESERVING);
}

/* A reflector without TCP (its kernel answers RST): inconclusive, with why. */
static void test_tcp_refused(void)
{
	struct natemu_cfg cfg = nat_cfg(0, 0);
	struct probe_result res;
	struct tsim s;

	tsim_setup(&s, &cfg, 1);
	s.refuse = true;
	probe_tcp(&s, &res);
	CU_ASSERT_EQUAL(res.tcp.mapping, PROBE_MAPPING_INCONCLUSIVE);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(res.tcp.mapping_reason, "PP endpoint refused the connection"));
	CU_ASSERT_EQUAL(res.tcp.port_pattern, PROBE_PORTS_INCONCLUSIVE);
	CU_ASSERT_EQUAL(res.tcp.port_nsamples, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.tcp.port_reason, "(12 refused, 0 unanswered"));
	CU_ASSERT_TRUE(res.duration_us < 2000000); /* refused at once, not timed out */
}

/* UDP blocked on the way, TCP not: the first exchange over TCP finds the
 * reflector, the TCP verdicts are reached, the UDP tests say why not. */
static void test_udp_blocked(void)
{
	struct natemu_cfg cfg = nat_cfg(NATEMU_ENDPOINT_INDEPENDENT, NATEMU_PORTS_PRESERVE);
	const struct probe_test *tests[] = {&probe_test_mapping, &probe_test_tcp_mapping};
	struct probe_io io = {.open = udp_open,
			      .send = udp_send,
			      .tcp_listen = tcp_listen,
			      .tcp_connect = tcp_connect,
			      .tcp_send = tcp_send,
			      .tcp_close = tcp_close};
	struct probe_result res;
	struct tsim s;

	for (int refuse = 0; refuse < 2; refuse++) {
		tsim_setup(&s, &cfg, 7);
		s.udp_blocked = true;
		s.refuse = refuse;
		io.ctx = &s;
		s.engine = probe_engine_new(&io, (struct sockaddr *)&s.refl.advertised[0], tests, 2,
					    s.now_us);
		CU_ASSERT_PTR_NOT_NULL_FATAL(s.engine);
		run(&s);
		probe_engine_result(s.engine, &res);
		probe_engine_free(s.engine);
		natemu_free(s.nat);
		CU_ASSERT_EQUAL(res.mapping, PROBE_MAPPING_INCONCLUSIVE);
		if (!refuse) {
			CU_ASSERT_EQUAL(res.tcp.mapping, PROBE_MAPPING_EI);
			CU_ASSERT_PTR_NOT_NULL(strstr(res.mapping_reason, "UDP is blocked"));
		} else {
			CU_ASSERT_EQUAL(res.tcp.mapping, PROBE_MAPPING_INCONCLUSIVE);
			CU_ASSERT_PTR_NOT_NULL(strstr(res.mapping_reason, "over UDP or TCP"));
			CU_ASSERT_PTR_NOT_NULL(strstr(res.tcp.mapping_reason, "over UDP or TCP"));
		}
	}
}

int test_probe_tcp_register(void)
{
	static const struct test_case tests[] = {
	    {"TCP mapping x port allocation, exactly", test_tcp_grid},
	    {"TCP without a NAT", test_tcp_no_nat},
	    {"TCP refused by the reflector: inconclusive, at once", test_tcp_refused},
	    {"UDP blocked: found over TCP, TCP verdicts reached", test_udp_blocked},
	};

	return TEST_SUITE("natprobe TCP (simulated network)", tests);
}
