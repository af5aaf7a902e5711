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
#include "probe/decide.h"
#include "probe/tests.h"
#include "reflector/capture.h"
#include "reflector/handler.h"
#include "reflector/natlabtest.h"
#include "testbeds/natemu/nat.h"
#include "testbeds/natemu/packet.h"
#include "testlib.h"
#include "wire.h"

#define INSIDE_IP  0x0A000002u /* 10.0.0.2 */
#define PEER_IP    0x0A000003u /* 10.0.0.3: the second host (--peer) */
#define PUBLIC_IP  0xC6336401u /* 198.51.100.1 */
#define DELAY_US   1000
#define MAX_FLIGHT 512
#define MAX_SOCKS  64
#define HANDLE0    1000 /* handles of the probe's TCP sockets: HANDLE0 + index */
#define MAX_ORDERS 8
#define HOST_TTL   64
#define SECRET     "a lab secret, sixteen bytes or more"
#define SESSION    "sim"

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_ACK 0x10

struct seg {
	bool inbound;
	bool udp;      /* the boot exchange's datagrams, untranslated */
	bool nat_made; /* the NAT's own answer: not translated again */
	bool icmp;     /* an ICMP error (from the NAT, or the reflector's), quoting in_* */
	uint8_t icmp_type, icmp_code;
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port;
	uint8_t flags, ttl;
	uint32_t seq, ack;
	uint32_t in_src_ip, in_dst_ip;
	uint16_t in_src_port, in_dst_port;
	uint64_t at_us;
	size_t len;
	uint8_t data[256];
};

/* An order the reflector carries out: answered when a segment matches it,
 * or at its deadline with "nothing". */
struct order {
	bool used;
	struct refl_test t;
	enum refl_role arrival;
	uint32_t rip; /* the requester: the connection's peer */
	uint16_t rport;
	uint8_t peer_ttl;
	uint64_t sent_us, deadline_us;
};

/* A simultaneous-open test at the reflector: silent port X, and what came
 * of its own SYN from X to the first SYN's source. */
struct armed {
	bool used, done, connected;
	bool hold, hold_synack; /* SYN-HOLD: our SYN went at once; we answered theirs */
	uint32_t first_ip;      /* SYN-HOLD: the first SYN to X, from anyone (0: none) */
	uint16_t first_port;
	struct refl_test t;
	uint32_t x_ip;
	uint16_t x_port;
	uint32_t seen_ip; /* 0: no SYN yet */
	uint16_t seen_port;
	struct refl_observation o;
	uint64_t seen_us, deadline_us;
	bool waiting; /* a RESULT to answer at the end */
	struct refl_test result;
	uint32_t rip; /* its requester */
	uint16_t rport;
	enum refl_role arrival;
};

/* The probe host's TCP sockets. */
struct tsock {
	uint32_t ip; /* the host it is on: INSIDE_IP, or PEER_IP */
	bool used, listener, connecting, connected;
	bool syn_rcvd; /* connecting, and a SYN came: simultaneous open */
	bool wr_shut;  /* our FIN sent (half-closed): still receives */
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
	bool host_reject; /* the probe's host REJECTs inbound SYNs with a RST */
	bool host_icmp;   /* ... with an ICMP port unreachable instead */
	struct order orders[MAX_ORDERS];
	struct armed armed[MAX_ORDERS];
	bool no_silent_ports;    /* the reflector cannot open one: ARM goes unanswered */
	bool no_session;         /* the probe runs without --session/--key */
	bool peer;               /* a second host, PEER_IP (--peer) */
	unsigned peer_socks;     /* sockets opened there */
	bool alg;                /* the NAT rewrites addresses in payloads (natemu's alg=on) */
	uint8_t syn_ttl[65536];  /* by the reflector-side source port: its SYN's TTL */
	unsigned lifetime_max_s; /* --tcp-lifetime */
	uint32_t run_id;         /* the engine's, when not 0 (as natprobe's driver gives one) */
	uint32_t seqs[64];       /* the reflector's SYNs' sequence numbers, in order */
	size_t nseqs;
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
	if (!g.ttl)
		g.ttl = HOST_TTL;
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

static struct tsock *new_sock(struct tsim *s, uint32_t ip, uint16_t port, int *handle)
{
	for (int i = 0; i < MAX_SOCKS; i++)
		if (!s->socks[i].used) {
			s->socks[i] = (struct tsock){
			    .ip = ip, .used = true, .port = port ? port : fresh_port(s)};
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

static int listen_on(struct tsim *s, uint32_t ip, uint16_t port, struct sockaddr_storage *local)
{
	int h;
	struct tsock *t = new_sock(s, ip, port, &h);

	if (!t)
		return -1;
	s->peer_socks += ip == PEER_IP;
	t->listener = true;
	test_sockaddr_v4(ip, t->port, local);
	return h;
}

static int connect_from(struct tsim *s, uint32_t ip, const struct sockaddr *to, uint16_t port,
			struct sockaddr_storage *local)
{
	int h;
	struct tsock *t = new_sock(s, ip, port, &h);

	if (!t)
		return -1;
	s->peer_socks += ip == PEER_IP;
	ip_port(to, &t->rip, &t->rport);
	t->connecting = true;
	test_sockaddr_v4(ip, t->port, local);
	fly(s, (struct seg){.src_ip = ip,
			    .src_port = t->port,
			    .dst_ip = t->rip,
			    .dst_port = t->rport,
			    .flags = F_SYN});
	return h;
}

static int tcp_listen(void *ctx, const struct sockaddr *toward, uint16_t port,
		      struct sockaddr_storage *local)
{
	(void)toward;
	return listen_on(ctx, INSIDE_IP, port, local);
}

static int tcp_connect(void *ctx, const struct sockaddr *toward, const struct sockaddr *to,
		       uint16_t port, struct sockaddr_storage *local)
{
	(void)toward;
	return connect_from(ctx, INSIDE_IP, to, port, local);
}

static int peer_tcp_listen(void *ctx, const struct sockaddr *toward, uint16_t port,
			   struct sockaddr_storage *local)
{
	(void)toward;
	return listen_on(ctx, PEER_IP, port, local);
}

static int peer_tcp_connect(void *ctx, const struct sockaddr *toward, const struct sockaddr *to,
			    uint16_t port, struct sockaddr_storage *local)
{
	(void)toward;
	return connect_from(ctx, PEER_IP, to, port, local);
}

static int tcp_send(void *ctx, int conn, const uint8_t *msg, size_t len)
{
	struct tsim *s = ctx;
	struct tsock *t = sock_of(s, conn);
	struct seg g = {.flags = F_ACK, .len = len};

	if (!t || !t->connected || t->wr_shut || len > sizeof(g.data))
		return -1;
	g.src_ip = t->ip;
	g.src_port = t->port;
	g.dst_ip = t->rip;
	g.dst_port = t->rport;
	memcpy(g.data, msg, len);
	fly(s, g);
	return 0;
}

/* Our FIN; the socket still receives. */
static int tcp_shutdown(void *ctx, int conn)
{
	struct tsim *s = ctx;
	struct tsock *t = sock_of(s, conn);

	if (!t || !t->connected || t->wr_shut)
		return -1;
	t->wr_shut = true;
	fly(s, (struct seg){.src_ip = t->ip,
			    .src_port = t->port,
			    .dst_ip = t->rip,
			    .dst_port = t->rport,
			    .flags = F_FIN | F_ACK});
	return 0;
}

static void tcp_close(void *ctx, int conn)
{
	struct tsim *s = ctx;
	struct tsock *t = sock_of(s, conn);

	if (!t)
		return;
	if (t->connected)
		fly(s, (struct seg){.src_ip = t->ip,
				    .src_port = t->port,
				    .dst_ip = t->rip,
				    .dst_port = t->rport,
				    .flags = F_FIN | F_ACK});
	t->used = false;
}

/* The NAT refuses an inbound segment: its own RST or ICMP error, back to
 * the sender, at its own initial TTL (not the host's, minus a hop). */
static void nat_answer(struct tsim *s, const struct seg *g, bool icmp)
{
	struct seg a = {.nat_made = true,
			.inbound = !g->inbound,
			.icmp = icmp,
			.src_ip = icmp ? PUBLIC_IP : g->dst_ip,
			.src_port = icmp ? 0 : g->dst_port,
			.dst_ip = g->src_ip,
			.dst_port = icmp ? 0 : g->src_port,
			.icmp_type = 3,
			.icmp_code = 13,
			.flags = F_RST | F_ACK,
			.ack = g->seq + 1,
			.ttl = 255,
			.in_src_ip = g->src_ip,
			.in_src_port = g->src_port,
			.in_dst_ip = g->dst_ip,
			.in_dst_port = g->dst_port};

	fly(s, a);
}

static bool translate(struct tsim *s, struct seg *g)
{
	struct natemu_pkt k = {.proto = IPPROTO_TCP,
			       .src_ip = g->src_ip,
			       .dst_ip = g->dst_ip,
			       .src_port = g->src_port,
			       .dst_port = g->dst_port,
			       .tcp_flags = g->flags};
	struct natemu_result r;

	if (!s->nat || g->nat_made)
		return true;
	if (g->icmp) {
		k.proto = IPPROTO_ICMP;
		k.quoted = (struct natemu_quoted){IPPROTO_TCP, g->in_src_ip, g->in_dst_ip,
						  g->in_src_port, g->in_dst_port};
	}
	r = natemu_process(s->nat, g->inbound ? NATEMU_OUTSIDE : NATEMU_INSIDE, &k,
			   s->now_us / 1000);
	if (g->icmp) { /* translated back in, or dropped */
		if (r.verdict != NATEMU_FORWARD)
			return false;
		g->dst_ip = r.pkt.dst_ip;
		g->in_src_ip = r.pkt.quoted.src_ip;
		g->in_src_port = r.pkt.quoted.src_port;
		return true;
	}
	if (r.verdict == NATEMU_SEND_RST || r.verdict == NATEMU_SEND_ICMP)
		nat_answer(s, g, r.verdict == NATEMU_SEND_ICMP);
	if (r.verdict != NATEMU_FORWARD)
		return false;
	if (r.to == NATEMU_INSIDE)
		g->inbound = true; /* hairpinned: back to the inside */
	if (s->alg) {              /* natemu's alg=on, as packet.c does it */
		packet_alg_replace(g->data, g->len, g->dst_ip, r.pkt.dst_ip);
		packet_alg_replace(g->data, g->len, g->src_ip, r.pkt.src_ip);
	}
	g->ttl--;
	g->src_ip = r.pkt.src_ip;
	g->dst_ip = r.pkt.dst_ip;
	g->src_port = r.pkt.src_port;
	g->dst_port = r.pkt.dst_port;
	return true;
}

static void sin_of(struct sockaddr_in *sa, uint32_t ip, uint16_t port)
{
	struct sockaddr_storage ss;

	test_sockaddr_v4(ip, port, &ss);
	memcpy(sa, &ss, sizeof(*sa));
}

/* natreflector's answer to an order, on the connection it came on. */
static void answer_order(struct tsim *s, struct order *o, const struct refl_observation *seen)
{
	struct refl_observation ob = *seen;
	struct seg back = {.inbound = true, .flags = F_ACK, .dst_ip = o->rip, .dst_port = o->rport};

	o->used = false;
	ob.peer_ttl = o->peer_ttl;
	ob.elapsed_us = (uint32_t)(s->now_us - o->sent_us);
	if (refl_test_answer(&o->t, &ob, (struct sockaddr *)&s->refl.advertised[o->t.from_role],
			     NULL, back.data, sizeof(back.data), &back.len) != STUN_OK)
		return;
	ip_port((struct sockaddr *)&s->refl.advertised[o->arrival], &back.src_ip, &back.src_port);
	fly(s, back);
}

static void simopen_capture(struct tsim *s, const struct refl_captured *c);
static void armed_finish(struct tsim *s, struct armed *a);

/* What natreflector's capture sees of a segment that reached it, matched
 * against the orders in flight as natreflector matches it. */
static void capture(struct tsim *s, const struct seg *g)
{
	struct refl_captured c = {.proto = g->icmp ? IPPROTO_ICMP : IPPROTO_TCP,
				  .ttl = g->ttl,
				  .tcp_flags = g->flags,
				  .tcp_ack = g->ack};

	sin_of(&c.src, g->src_ip, g->src_port);
	sin_of(&c.dst, g->dst_ip, g->dst_port);
	if (g->icmp) {
		c.icmp_type = g->icmp_type ? g->icmp_type : 3;
		c.icmp_code = g->icmp_type ? g->icmp_code : 13;
		c.has_inner = true;
		c.inner_proto = IPPROTO_TCP;
		sin_of(&c.inner_src, g->in_src_ip, g->in_src_port);
		sin_of(&c.inner_dst, g->in_dst_ip, g->in_dst_port);
	}
	simopen_capture(s, &c);
	for (int i = 0; i < MAX_ORDERS; i++) {
		struct order *o = &s->orders[i];
		struct refl_observation ob = {0};

		if (o->used &&
		    refl_capture_match(
			&o->t, (struct sockaddr *)&s->refl.advertised[o->t.from_role], &c, &ob))
			answer_order(s, o, &ob);
	}
}

/* Orders whose wait ran out: "nothing". */
static void expire_orders(struct tsim *s)
{
	static const struct refl_observation nothing;

	for (int i = 0; i < MAX_ORDERS; i++) {
		if (s->orders[i].used && s->orders[i].deadline_us <= s->now_us)
			answer_order(s, &s->orders[i], &nothing);
		if (s->armed[i].used && !s->armed[i].done && s->armed[i].deadline_us <= s->now_us)
			armed_finish(s, &s->armed[i]);
	}
}

static uint64_t orders_deadline(const struct tsim *s)
{
	uint64_t next = UINT64_MAX;

	for (int i = 0; i < MAX_ORDERS; i++) {
		if (s->orders[i].used && s->orders[i].deadline_us < next)
			next = s->orders[i].deadline_us;
		if (s->armed[i].used && !s->armed[i].done && s->armed[i].deadline_us < next)
			next = s->armed[i].deadline_us;
	}
	return next;
}

/* A NatlabTest order: the crafted SYN leaves the role's address. */
static void start_order(struct tsim *s, const struct refl_test *t, int arrival, const struct seg *g)
{
	struct order *o = NULL;
	struct seg syn = {.inbound = true, .flags = F_SYN, .ttl = HOST_TTL};

	for (int i = 0; i < MAX_ORDERS && !o; i++)
		if (!s->orders[i].used)
			o = &s->orders[i];
	if (!o)
		return;
	*o = (struct order){.used = true,
			    .t = *t,
			    .arrival = (enum refl_role)arrival,
			    .rip = g->src_ip,
			    .rport = g->src_port,
			    .peer_ttl = s->syn_ttl[g->src_port],
			    .sent_us = s->now_us,
			    .deadline_us = s->now_us + (uint64_t)t->wait_ms * 1000u};
	ip_port((struct sockaddr *)&s->refl.advertised[t->from_role], &syn.src_ip, &syn.src_port);
	ip_port((const struct sockaddr *)&t->target, &syn.dst_ip, &syn.dst_port);
	syn.seq = wire_get32(t->token);
	if (s->nseqs < sizeof(s->seqs) / sizeof(s->seqs[0]))
		s->seqs[s->nseqs++] = syn.seq;
	fly(s, syn);
}

/* ---- simultaneous open at the reflector ---- */

static void armed_answer(struct tsim *s, struct armed *a, const struct refl_test *t, uint32_t rip,
			 uint16_t rport, enum refl_role arrival)
{
	struct refl_observation ob = a->o;
	struct seg back = {.inbound = true, .flags = F_ACK, .dst_ip = rip, .dst_port = rport};
	struct sockaddr_storage from;

	ob.peer_ttl = s->syn_ttl[rport];
	if (a->hold ? a->first_ip != 0 : a->seen_ip != 0)
		test_sockaddr_v4(a->hold ? a->first_ip : a->seen_ip,
				 a->hold ? a->first_port : a->seen_port, &ob.seen_syn);
	test_sockaddr_v4(a->x_ip, a->x_port, &from);
	if (refl_test_answer(t, &ob, (struct sockaddr *)&from, NULL, back.data, sizeof(back.data),
			     &back.len) != STUN_OK)
		return;
	ip_port((struct sockaddr *)&s->refl.advertised[arrival], &back.src_ip, &back.src_port);
	fly(s, back);
}

static void armed_finish(struct tsim *s, struct armed *a)
{
	a->done = true;
	if (a->waiting) {
		armed_answer(s, a, &a->result, a->rip, a->rport, a->arrival);
		a->used = a->connected; /* a connection is served on; the rest is over */
	}
	a->waiting = false;
}

static struct armed *armed_find(struct tsim *s, const struct refl_test *t)
{
	for (int i = 0; i < MAX_ORDERS; i++)
		if (s->armed[i].used && !memcmp(s->armed[i].t.token, t->token, 8) &&
		    !strcmp(s->armed[i].t.key, t->key))
			return &s->armed[i];
	return NULL;
}

/* An ICMP error from the reflector's side to `to`, about what `to` sent to `about`. */
static void icmp_to(struct tsim *s, uint8_t type, uint8_t code, uint32_t from_ip, uint32_t to_ip,
		    uint16_t to_port, uint32_t about_ip, uint16_t about_port)
{
	fly(s, (struct seg){.inbound = true,
			    .icmp = true,
			    .icmp_type = type,
			    .icmp_code = code,
			    .src_ip = from_ip,
			    .dst_ip = to_ip,
			    .in_src_ip = to_ip,
			    .in_src_port = to_port,
			    .in_dst_ip = about_ip,
			    .in_dst_port = about_port});
}

/* An order's answer at once, on the connection it came on. */
static void answer_now(struct tsim *s, const struct refl_test *t, int arrival, const struct seg *g,
		       const struct refl_observation *seen)
{
	struct refl_observation ob = *seen;
	struct seg back = {
	    .inbound = true, .flags = F_ACK, .dst_ip = g->src_ip, .dst_port = g->src_port};

	ob.peer_ttl = s->syn_ttl[g->src_port];
	if (refl_test_answer(t, &ob, (struct sockaddr *)&s->refl.advertised[t->from_role], NULL,
			     back.data, sizeof(back.data), &back.len) != STUN_OK)
		return;
	ip_port((struct sockaddr *)&s->refl.advertised[arrival], &back.src_ip, &back.src_port);
	fly(s, back);
}

/* ICMP-CONN: port unreachable and time exceeded about the target's
 * connection to the primary endpoint, then the answer on the order's. */
static void icmp_conn(struct tsim *s, const struct refl_test *t, int arrival, const struct seg *g)
{
	struct refl_observation ob = {.icmp_type = 3, .icmp_code = 3};
	struct seg back = {
	    .inbound = true, .flags = F_ACK, .dst_ip = g->src_ip, .dst_port = g->src_port};
	uint32_t tip, pip, aip;
	uint16_t tport, pport, aport;

	ip_port((const struct sockaddr *)&t->target, &tip, &tport);
	ip_port((struct sockaddr *)&s->refl.advertised[REFL_PP], &pip, &pport);
	ip_port((struct sockaddr *)&s->refl.advertised[t->from_role], &aip, &aport);
	for (unsigned i = 0; i < t->copies; i++) {
		icmp_to(s, 3, 3, pip, tip, tport, pip, pport);
		icmp_to(s, 11, 0, aip, tip, tport, pip, pport);
	}
	ob.peer_ttl = s->syn_ttl[g->src_port];
	if (refl_test_answer(t, &ob, (struct sockaddr *)&s->refl.advertised[t->from_role], NULL,
			     back.data, sizeof(back.data), &back.len) != STUN_OK)
		return;
	ip_port((struct sockaddr *)&s->refl.advertised[arrival], &back.src_ip, &back.src_port);
	fly(s, back);
}

/* SYN-HOLD: our SYN from a fresh X to the target at once; X said at once. */
static void syn_hold(struct tsim *s, const struct refl_test *t, int arrival, const struct seg *g)
{
	struct armed *a = NULL;

	for (int i = 0; i < MAX_ORDERS && !a; i++)
		if (!s->armed[i].used)
			a = &s->armed[i];
	if (!a)
		return;
	*a = (struct armed){.used = true,
			    .hold = true,
			    .t = *t,
			    .x_port = (uint16_t)(51000 + (a - s->armed)),
			    .seen_us = s->now_us,
			    .deadline_us = s->now_us + (uint64_t)t->wait_ms * 1000u};
	ip_port((struct sockaddr *)&s->refl.advertised[t->from_role], &a->x_ip, &(uint16_t){0});
	ip_port((const struct sockaddr *)&t->target, &a->seen_ip, &a->seen_port);
	armed_answer(s, a, t, g->src_ip, g->src_port, (enum refl_role)arrival);
	fly(s, (struct seg){.inbound = true,
			    .src_ip = a->x_ip,
			    .src_port = a->x_port,
			    .dst_ip = a->seen_ip,
			    .dst_port = a->seen_port,
			    .flags = F_SYN,
			    .seq = 888});
}

/* SIMOPEN-ARM (a silent port, said at once) and SIMOPEN-RESULT. */
static void simopen_order(struct tsim *s, const struct refl_test *t, int arrival,
			  const struct seg *g)
{
	struct armed *a = armed_find(s, t);

	if (t->action == REFL_TEST_ICMP_CONN) {
		icmp_conn(s, t, arrival, g);
		return;
	}
	if (t->action == REFL_TEST_SYN_HOLD) {
		syn_hold(s, t, arrival, g);
		return;
	}
	if (t->action == REFL_TEST_KEEP) { /* the toy reflector closes nothing idle */
		answer_now(s, t, arrival, g, &(struct refl_observation){0});
		return;
	}
	if (t->action == REFL_TEST_PUSH) { /* down the target's connection (to PP), kept */
		struct seg kept = {.src_ip = g->src_ip};
		uint32_t ip;

		ip_port((const struct sockaddr *)&t->target, &ip, &kept.src_port);
		answer_now(s, t, REFL_PP, &kept, &(struct refl_observation){0});
		return;
	}
	if (t->action == REFL_TEST_SIMOPEN_RESULT) {
		if (!a)
			return;
		if (a->done) {
			armed_answer(s, a, t, g->src_ip, g->src_port, (enum refl_role)arrival);
			a->used = a->connected;
			return;
		}
		a->waiting = true;
		a->result = *t;
		a->rip = g->src_ip;
		a->rport = g->src_port;
		a->arrival = (enum refl_role)arrival;
		return;
	}
	for (int i = 0; i < MAX_ORDERS && !a && !s->no_silent_ports; i++)
		if (!s->armed[i].used) {
			a = &s->armed[i];
			*a =
			    (struct armed){.used = true,
					   .t = *t,
					   .x_port = (uint16_t)(50000 + i),
					   .deadline_us = s->now_us + (uint64_t)t->wait_ms * 1000u};
			ip_port((struct sockaddr *)&s->refl.advertised[t->from_role], &a->x_ip,
				&(uint16_t){0});
			armed_answer(s, a, t, g->src_ip, g->src_port, (enum refl_role)arrival);
		}
}

/* A segment to a silent port X: the first SYN draws our own from X (and no
 * answer); the SYN-ACK to ours makes the connection, served like the others. */
static bool simopen_segment(struct tsim *s, const struct seg *g)
{
	for (int i = 0; i < MAX_ORDERS; i++) {
		struct armed *a = &s->armed[i];
		struct seg out = {.inbound = true,
				  .src_ip = g->dst_ip,
				  .src_port = g->dst_port,
				  .dst_ip = g->src_ip,
				  .dst_port = g->src_port};

		if (!a->used || g->dst_ip != a->x_ip || g->dst_port != a->x_port)
			continue;
		if (a->hold && !a->first_ip && (g->flags & (F_SYN | F_ACK)) == F_SYN) {
			a->first_ip = g->src_ip; /* as natreflector's capture says it */
			a->first_port = g->src_port;
		}
		if (a->hold && !a->done && g->src_ip == a->seen_ip && g->src_port == a->seen_port) {
			/* In SYN_SENT, their SYN: our SYN-ACK; their ACK then completes it. */
			if ((g->flags & (F_SYN | F_ACK)) == F_SYN) {
				a->hold_synack = true;
				out.flags = F_SYN | F_ACK;
				out.ack = g->seq + 1;
				fly(s, out);
			} else if ((g->flags & F_ACK) && a->hold_synack) {
				a->o.outcome = REFL_SEEN_CONNECTED;
				test_sockaddr_v4(a->seen_ip, a->seen_port, &a->o.from);
				a->o.elapsed_us = (uint32_t)(s->now_us - a->seen_us);
				armed_finish(s, a);
			}
			return true;
		}
		if ((g->flags & (F_SYN | F_ACK)) == F_SYN && !a->seen_ip && !a->done &&
		    a->t.action == REFL_TEST_ICMP_ARM) {
			a->seen_ip = g->src_ip;
			a->seen_port = g->src_port;
			for (unsigned k = 0; k < a->t.copies; k++)
				icmp_to(s, 3, 1, a->x_ip, g->src_ip, g->src_port, a->x_ip,
					a->x_port);
			a->o.icmp_type = 3;
			a->o.icmp_code = 1;
			armed_finish(s, a);
		} else if ((g->flags & (F_SYN | F_ACK)) == F_SYN && !a->seen_ip && !a->done) {
			a->seen_ip = g->src_ip;
			a->seen_port = g->src_port;
			a->seen_us = s->now_us;
			out.flags = F_SYN;
			out.seq = 777;
			fly(s, out);
		} else if ((g->flags & (F_SYN | F_ACK)) == (F_SYN | F_ACK) && !a->done &&
			   g->src_ip == a->seen_ip && g->src_port == a->seen_port) {
			a->o.outcome = REFL_SEEN_CONNECTED;
			test_sockaddr_v4(a->seen_ip, a->seen_port, &a->o.from);
			a->o.elapsed_us = (uint32_t)(s->now_us - a->seen_us);
			a->connected = true;
			out.flags = F_ACK;
			fly(s, out);
			armed_finish(s, a);
		} else if (a->connected && g->len) {
			struct sockaddr_storage from;
			struct refl_reply rep;

			test_sockaddr_v4(g->src_ip, g->src_port, &from);
			refl_handle(&s->refl,
				    &(struct refl_request){g->data, g->len,
							   (enum refl_role)a->t.from_role,
							   (struct sockaddr *)&from, true},
				    out.data, sizeof(out.data), &rep);
			out.len = rep.len;
			out.flags = F_ACK;
			if (out.len)
				fly(s, out);
		}
		return true;
	}
	return false;
}

/* What capture saw of the answer to our SYN from X: the NAT's RST or ICMP. */
static void simopen_capture(struct tsim *s, const struct refl_captured *c)
{
	for (int i = 0; i < MAX_ORDERS; i++) {
		struct armed *a = &s->armed[i];
		struct refl_test mine = {.action = REFL_TEST_SYN};
		struct sockaddr_storage x;
		struct refl_observation o = {0};

		if (!a->used || a->done || !a->seen_ip)
			continue;
		test_sockaddr_v4(a->seen_ip, a->seen_port, &mine.target);
		test_sockaddr_v4(a->x_ip, a->x_port, &x);
		if (refl_capture_match(&mine, (struct sockaddr *)&x, c, &o) &&
		    o.outcome != REFL_SEEN_SYN_ACK) {
			o.elapsed_us = (uint32_t)(s->now_us - a->seen_us);
			a->o = o;
			armed_finish(s, a);
		}
	}
}

/* The reflector's kernel and natreflector: handshakes, STUN over TCP, orders. */
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

	capture(s, g);
	if (g->icmp || simopen_segment(s, g))
		return;
	test_sockaddr_v4(g->dst_ip, g->dst_port, &to);
	for (int r = 0; r < 4; r++)
		if (addr_equal((struct sockaddr *)&to, (struct sockaddr *)&s->refl.advertised[r]))
			role = r;
	if (g->flags & (F_RST | F_FIN))
		return;
	if ((g->flags & (F_SYN | F_ACK)) == F_SYN) {
		s->syn_ttl[g->src_port] = g->ttl;
		back.flags = role < 0 || s->refuse ? F_RST | F_ACK : F_SYN | F_ACK;
		back.ack = g->seq + 1;
		fly(s, back);
		return;
	}
	if (role < 0 || !g->len)
		return; /* a SYN-ACK to an ordered SYN: captured above */
	test_sockaddr_v4(g->src_ip, g->src_port, &from);
	refl_handle(&s->refl,
		    &(struct refl_request){g->data, g->len, (enum refl_role)role,
					   (struct sockaddr *)&from, true},
		    back.data, sizeof(back.data), &out);
	if (out.test && out.order.action >= REFL_TEST_SIMOPEN_ARM)
		simopen_order(s, &out.order, role, g);
	else if (out.test)
		start_order(s, &out.order, role, g);
	if (out.test)
		return;
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

		if (t->used && !t->listener && t->ip == g->dst_ip && t->port == g->dst_port &&
		    t->rip == g->src_ip && t->rport == g->src_port)
			return t;
	}
	return NULL;
}

static bool listening(const struct tsim *s, uint32_t ip, uint16_t port)
{
	for (int i = 0; i < MAX_SOCKS; i++)
		if (s->socks[i].used && s->socks[i].listener && s->socks[i].ip == ip &&
		    s->socks[i].port == port)
			return true;
	return false;
}

/* A segment for no connection: a SYN finds the listener (SYN-ACK), the host
 * firewall (RST, when it REJECTs) or no socket (the kernel's RST). */
static void host_answer(struct tsim *s, const struct seg *g)
{
	struct seg a = {.src_ip = g->dst_ip,
			.src_port = g->dst_port,
			.dst_ip = g->src_ip,
			.dst_port = g->src_port,
			.ack = g->seq + 1};

	if ((g->flags & (F_SYN | F_ACK)) != F_SYN)
		return;
	a.flags =
	    !s->host_reject && listening(s, g->dst_ip, g->dst_port) ? F_SYN | F_ACK : F_RST | F_ACK;
	fly(s, a);
}

/* An ICMP error reaches the host: it ends a connection attempt (Linux,
 * tcp_v4_err in SYN_SENT); an established connection only notes it. */
static void arrive_icmp(struct tsim *s, const struct seg *g)
{
	for (int i = 0; i < MAX_SOCKS; i++) {
		struct tsock *t = &s->socks[i];

		if (!t->used || t->listener || t->ip != g->dst_ip || t->port != g->in_src_port ||
		    t->rip != g->in_dst_ip || t->rport != g->in_dst_port || !t->connecting)
			continue;
		t->connecting = false;
		probe_engine_tcp_event(s->engine, HANDLE0 + i, PROBE_TCP_UNREACHABLE, -1, NULL,
				       s->now_us);
	}
}

/* A segment reaches the probe's host. */
static void arrive(struct tsim *s, const struct seg *g)
{
	struct tsock *t = g->icmp ? NULL : sock_for(s, g);
	int h;

	if (g->icmp) {
		arrive_icmp(s, g);
		return;
	}
	if (!t) {
		host_answer(s, g);
		return;
	}
	h = HANDLE0 + (int)(t - s->socks);
	if (t->connecting && (g->flags & (F_SYN | F_ACK)) == F_SYN) {
		/* RFC 793's simultaneous open: SYN_SENT takes a SYN, answers SYN-ACK. */
		t->syn_rcvd = true;
		fly(s, (struct seg){.src_ip = t->ip,
				    .src_port = t->port,
				    .dst_ip = t->rip,
				    .dst_port = t->rport,
				    .flags = F_SYN | F_ACK,
				    .ack = g->seq + 1});
	} else if (t->connecting && t->syn_rcvd && (g->flags & (F_SYN | F_ACK | F_RST)) == F_ACK) {
		t->connecting = false;
		t->connected = true;
		probe_engine_tcp_event(s->engine, h, PROBE_TCP_CONNECTED, -1, NULL, s->now_us);
	} else if (t->connecting && (g->flags & (F_SYN | F_ACK)) == (F_SYN | F_ACK)) {
		t->connecting = false;
		t->connected = true;
		fly(s, (struct seg){.src_ip = t->ip,
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
	if (!g->inbound && (g->dst_ip == INSIDE_IP || g->dst_ip == PEER_IP)) {
		g->inbound = true; /* to an inside address: never through the NAT */
		arrive(s, g);
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
		uint64_t orders = orders_deadline(s);
		size_t first = MAX_FLIGHT;

		if (orders < next)
			next = orders;

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
			expire_orders(s);
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
	s->refl.session_secret = (const uint8_t *)SECRET;
	s->refl.session_secret_len = strlen(SECRET);
	s->nat = nat ? natemu_new(nat, seed) : NULL;
	s->next_port = 40000;
	s->now_us = 1000000;
}

/* Run these tests against the simulated network, with a session at the
 * reflector (key: NULL for the right one). */
static void probe_with(struct tsim *s, const struct probe_test *const *tests, size_t n,
		       const char *key, struct probe_result *res)
{
	char right[REFL_SESSION_KEY_LEN + 1];
	struct probe_io io = {.ctx = s,
			      .open = udp_open,
			      .send = udp_send,
			      .tcp_listen = tcp_listen,
			      .tcp_connect = tcp_connect,
			      .tcp_send = tcp_send,
			      .tcp_close = tcp_close,
			      .tcp_shutdown = tcp_shutdown,
			      .peer_tcp_listen = s->peer ? peer_tcp_listen : NULL,
			      .peer_tcp_connect = s->peer ? peer_tcp_connect : NULL,
			      .session = SESSION,
			      .tcp_lifetime_max_s = s->lifetime_max_s,
			      .run_id = s->run_id};

	refl_session_key((const uint8_t *)SECRET, strlen(SECRET), SESSION, right);
	io.key = s->no_session ? NULL : key ? key : right;
	if (s->no_session)
		io.session = NULL;
	s->engine =
	    probe_engine_new(&io, (struct sockaddr *)&s->refl.advertised[0], tests, n, s->now_us);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s->engine);
	run(s);
	probe_engine_result(s->engine, res);
	probe_engine_free(s->engine);
	natemu_free(s->nat);
}

static void probe_tcp(struct tsim *s, struct probe_result *res)
{
	const struct probe_test *tests[] = {&probe_test_tcp_mapping, &probe_test_tcp_ports};

	probe_with(s, tests, 2, NULL, res);
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
	CU_ASSERT_EQUAL(res.tcp.alg, PROBE_NO);
}

/* REQ-6: a NAT that rewrites addresses in TCP payloads turns the answers'
 * plain MAPPED-ADDRESS into the inside address; XOR-MAPPED-ADDRESS, and so
 * the mapping verdict, stay right. Without the rewrite: none seen. */
static void test_tcp_alg(void)
{
	struct natemu_cfg cfg = nat_cfg(NATEMU_ENDPOINT_INDEPENDENT, NATEMU_PORTS_PRESERVE);
	struct probe_result res;
	struct tsim s;

	for (int alg = 0; alg < 2; alg++) {
		uint32_t ip;
		uint16_t port;

		tsim_setup(&s, &cfg, 1);
		s.alg = alg;
		probe_tcp(&s, &res);
		CU_ASSERT_EQUAL(res.tcp.mapping, PROBE_MAPPING_EI);
		CU_ASSERT_EQUAL(res.tcp.alg, alg ? PROBE_YES : PROBE_NO);
		if (!alg)
			continue;
		ip_port((struct sockaddr *)&res.tcp.alg_plain, &ip, &port);
		CU_ASSERT_EQUAL(ip, INSIDE_IP);
		ip_port((struct sockaddr *)&res.tcp.alg_xor, &ip, &port);
		CU_ASSERT_EQUAL(ip, PUBLIC_IP);
	}
}

/* Overloading's rule (UDP's and TCP's): one public endpoint for both hosts'
 * same port is overloading; none without both answers, or without NAT. */
static void test_overload_rule(void)
{
	struct sockaddr_storage local, here, peer = {0};
	const char *why;

	test_sockaddr_v4(INSIDE_IP, 4000, &local);
	test_sockaddr_v4(PUBLIC_IP, 4000, &here);
	CU_ASSERT_EQUAL(probe_decide_overloading(&here, &peer, &local, &why), PROBE_UNKNOWN);
	CU_ASSERT_STRING_EQUAL(why, "no answer to the second host");
	peer = here;
	CU_ASSERT_EQUAL(probe_decide_overloading(&here, &peer, &local, &why), PROBE_YES);
	CU_ASSERT_PTR_NULL(why);
	test_sockaddr_v4(PUBLIC_IP, 4001, &peer);
	CU_ASSERT_EQUAL(probe_decide_overloading(&here, &peer, &local, &why), PROBE_NO);
	CU_ASSERT_EQUAL(probe_decide_overloading(&local, &peer, &local, &why), PROBE_UNKNOWN);
	CU_ASSERT_STRING_EQUAL(why, "no NAT: no public endpoint to share");
}

/* The rule alone: answers without a plain MAPPED-ADDRESS say nothing. */
static void test_alg_rule(void)
{
	struct sockaddr_storage xor [2], plain[2] = {{0}};
	unsigned which = 9;
	const char *why;

	test_sockaddr_v4(PUBLIC_IP, 4000, &xor[0]);
	test_sockaddr_v4(PUBLIC_IP, 4001, &xor[1]);
	CU_ASSERT_EQUAL(probe_decide_alg(xor, plain, 2, &which, &why), PROBE_UNKNOWN);
	CU_ASSERT_STRING_EQUAL(why,
			       "the reflector sends no MAPPED-ADDRESS beside XOR-MAPPED-ADDRESS");
	plain[0] = xor[0];
	CU_ASSERT_EQUAL(probe_decide_alg(xor, plain, 2, &which, &why), PROBE_UNKNOWN);
	plain[1] = xor[1];
	CU_ASSERT_EQUAL(probe_decide_alg(xor, plain, 2, &which, &why), PROBE_NO);
	test_sockaddr_v4(INSIDE_IP, 4001, &plain[1]);
	CU_ASSERT_EQUAL(probe_decide_alg(xor, plain, 2, &which, &why), PROBE_YES);
	CU_ASSERT_EQUAL(which, 1);
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

static void probe_syns(struct tsim *s, const char *key, struct probe_result *res)
{
	const struct probe_test *tests[] = {&probe_test_tcp_filtering, &probe_test_tcp_syn};

	probe_with(s, tests, 2, key, res);
}

/* Every mapping x filtering x answer to an unsolicited SYN: filtering, the answer on a
 * live mapping (pass where the filter lets the other address in) and at an
 * unused port, exactly; and the same with a host that REJECTs inbound SYNs
 * itself, whose RSTs must not be read as the NAT's. */
static void test_syn_grid(void)
{
	static const enum probe_filtering want_filtering[3] = {
	    PROBE_FILTERING_EI, PROBE_FILTERING_AD, PROBE_FILTERING_APD};
	static const enum probe_syn want_syn[3] = {PROBE_SYN_DROP, PROBE_SYN_RST, PROBE_SYN_ICMP};

	for (int cell = 0; cell < 54; cell++) {
		int reject = cell / 27, m = cell / 9 % 3, f = cell / 3 % 3, u = cell % 3;
		struct natemu_cfg cfg = nat_cfg(m, NATEMU_PORTS_PRESERVE);
		struct probe_result res;
		struct tsim s;

		cfg.filtering = (enum natemu_dependence)f;
		cfg.unsolicited_syn = (enum natemu_syn_reply)u;
		tsim_setup(&s, &cfg, (uint64_t)cell + 1);
		s.host_reject = reject;
		probe_syns(&s, NULL, &res);
		CU_ASSERT_EQUAL(res.tcp.filtering, want_filtering[f]);
		CU_ASSERT_EQUAL(res.tcp.syn_mapped, f == 0 ? PROBE_SYN_PASS : want_syn[u]);
		CU_ASSERT_EQUAL(res.tcp.syn, want_syn[u]);
		CU_ASSERT_EQUAL(res.tcp.baseline_ttl, HOST_TTL - 1);
		if (res.tcp.filtering != want_filtering[f] || res.tcp.syn != want_syn[u])
			printf("\n  reject %d mapping %d filtering %d syn %d: %s (%s), %s (%s)\n",
			       reject, m, f, u, probe_filtering_name(res.tcp.filtering),
			       res.tcp.filtering_reason, probe_syn_name(res.tcp.syn),
			       res.tcp.syn_reason);
	}
}

/* No NAT: every SYN reaches the host; at an unused port its kernel RSTs. */
static void test_syn_no_nat(void)
{
	struct probe_result res;
	struct tsim s;

	tsim_setup(&s, NULL, 1);
	probe_syns(&s, NULL, &res);
	CU_ASSERT_EQUAL(res.tcp.filtering, PROBE_FILTERING_EI);
	CU_ASSERT_EQUAL(res.tcp.syn_mapped, PROBE_SYN_PASS);
	CU_ASSERT_EQUAL(res.tcp.syn, PROBE_SYN_PASS);
	CU_ASSERT_TRUE(res.tcp.syn_seen[1].asked); /* a pass is confirmed at a second port */
}

/* Two probes at one reflector, their runs alike (same start, same order
 * of orders): the sequence numbers of the reflector's SYNs, which name
 * whose test an answer belongs to, are never the same. They once came from
 * the order's slot alone, and another probe's NAT's RST, acking the same
 * number, was taken for this one's host answering: endpoint-independent
 * filtering where there was none. */
static void test_syn_tokens_per_run(void)
{
	struct natemu_cfg cfg = nat_cfg(0, 0);
	uint32_t first[64];
	size_t nfirst;
	struct probe_result res;
	struct tsim s;

	tsim_setup(&s, &cfg, 1);
	s.run_id = 0x11111111u;
	probe_syns(&s, NULL, &res);
	nfirst = s.nseqs;
	memcpy(first, s.seqs, nfirst * sizeof(first[0]));
	CU_ASSERT_TRUE(nfirst >= 2);
	tsim_setup(&s, &cfg, 1);
	s.run_id = 0x22222222u;
	probe_syns(&s, NULL, &res);
	CU_ASSERT_EQUAL(s.nseqs, nfirst);
	for (size_t i = 0; i < s.nseqs; i++)
		for (size_t k = 0; k < nfirst; k++)
			CU_ASSERT_NOT_EQUAL(s.seqs[i], first[k]);
}

/* Without a session, or with a key the reflector refuses: untested, or
 * inconclusive with the reflector's reason; never a verdict. */
static void test_syn_session(void)
{
	struct natemu_cfg cfg = nat_cfg(0, 0);
	const char *names[8];
	struct probe_result res;
	struct tsim s;

	tsim_setup(&s, &cfg, 1);
	probe_syns(&s, "0123456789abcdef0123456789abcdef", &res);
	CU_ASSERT_EQUAL(res.tcp.filtering, PROBE_FILTERING_INCONCLUSIVE);
	CU_ASSERT_EQUAL(res.tcp.syn, PROBE_SYN_INCONCLUSIVE);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.tcp.filtering_reason, "401"));
	CU_ASSERT_EQUAL(probe_result_open(&res, names, 8), 3);

	tsim_setup(&s, &cfg, 1);
	s.refl.session_secret = NULL;
	probe_syns(&s, NULL, &res);
	CU_ASSERT_EQUAL(res.tcp.filtering, PROBE_FILTERING_INCONCLUSIVE);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.tcp.syn_reason, "403"));
}

static void probe_simopen(struct tsim *s, struct probe_result *res)
{
	const struct probe_test *tests[] = {&probe_test_tcp_simopen};

	probe_with(s, tests, 1, NULL, res);
}

/* Simultaneous open on and off, under every filtering and answer to an
 * unsolicited SYN: true exactly where natemu lets the crossing SYN in. */
static void test_simopen_grid(void)
{
	for (int cell = 0; cell < 18; cell++) {
		int on = cell / 9, f = cell / 3 % 3, u = cell % 3;
		struct natemu_cfg cfg = nat_cfg(NATEMU_ENDPOINT_INDEPENDENT, NATEMU_PORTS_PRESERVE);
		struct probe_result res;
		struct tsim s;

		cfg.filtering = (enum natemu_dependence)f;
		cfg.unsolicited_syn = (enum natemu_syn_reply)u;
		cfg.simultaneous_open = on;
		tsim_setup(&s, &cfg, (uint64_t)cell + 1);
		probe_simopen(&s, &res);
		CU_ASSERT_TRUE(res.tcp.simopen_tested);
		CU_ASSERT_EQUAL(res.tcp.simopen, on ? PROBE_YES : PROBE_NO);
		/* Refused outright: one trial; dropped: as many as the loss requires
		 * (the boot exchange alone measured it here: many). */
		CU_ASSERT_TRUE(on || u ? res.tcp.simopen_trials == 1 : res.tcp.simopen_trials >= 3);
		CU_ASSERT_TRUE(res.tcp.simopen_seen_syn.ss_family == AF_INET);
		if (res.tcp.simopen != (on ? PROBE_YES : PROBE_NO))
			printf("\n  simopen %d filtering %d syn %d: %d (%s)\n", on, f, u,
			       res.tcp.simopen, res.tcp.simopen_reason);
	}
}

/* No NAT: the SYNs cross at the host. A reflector with no silent port to
 * give: inconclusive, with why. */
static void test_simopen_edges(void)
{
	struct natemu_cfg cfg = nat_cfg(0, 0);
	struct probe_result res;
	struct tsim s;

	tsim_setup(&s, NULL, 1);
	probe_simopen(&s, &res);
	CU_ASSERT_EQUAL(res.tcp.simopen, PROBE_YES);
	tsim_setup(&s, &cfg, 1);
	s.no_silent_ports = true;
	probe_simopen(&s, &res);
	CU_ASSERT_EQUAL(res.tcp.simopen, PROBE_UNKNOWN);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.tcp.simopen_reason, "no silent port"));
}

static void probe_hairpin_tcp(struct tsim *s, struct probe_result *res)
{
	const struct probe_test *tests[] = {&probe_test_tcp_mapping, &probe_test_tcp_filtering,
					    &probe_test_tcp_simopen, &probe_test_tcp_hairpin};

	probe_with(s, tests, 4, NULL, res);
}

/* Hairpinning's grid, cell 0 to 35: hairpinning off, external, internal
 * (hp) x mapping endpoint-independent, address-and-port-dependent (m) x
 * filtering (f) x simultaneous open (on). visible: a cell where crossing
 * SYNs open the filters, or the filter is open anyway. */
static struct natemu_cfg hairpin_cell(int cell, int *hp, int *m, int *f, int *on, bool *visible)
{
	struct natemu_cfg cfg;

	*hp = cell / 12;
	*m = cell / 6 % 2 * 2;
	*f = cell / 2 % 3;
	*on = cell % 2;
	*visible = *m == NATEMU_ENDPOINT_INDEPENDENT && (*on || *f == 0);
	cfg = nat_cfg(*m, NATEMU_PORTS_PRESERVE);
	cfg.filtering = (enum natemu_dependence) * f;
	cfg.simultaneous_open = *on;
	cfg.hairpin = *hp == 0   ? NATEMU_HAIRPIN_OFF
		      : *hp == 1 ? NATEMU_HAIRPIN_EXTERNAL
				 : NATEMU_HAIRPIN_INTERNAL;
	return cfg;
}

/* Hairpinning off, external, internal x mapping x filtering x simultaneous
 * open: never wrong, and exact wherever crossing SYNs open the filters or
 * the filter is open anyway. Internal-source hairpinning makes no TCP
 * connection (the answer bypasses the NAT): false. */
static void test_hairpin_grid(void)
{
	static const enum probe_bool want[3] = {PROBE_NO, PROBE_YES, PROBE_NO};
	unsigned exact = 0;

	for (int cell = 0; cell < 36; cell++) {
		int hp, m, f, on;
		bool visible;
		struct natemu_cfg cfg = hairpin_cell(cell, &hp, &m, &f, &on, &visible);
		struct probe_result res;
		struct tsim s;

		tsim_setup(&s, &cfg, (uint64_t)cell + 1);
		probe_hairpin_tcp(&s, &res);
		CU_ASSERT_TRUE(res.tcp.hairpin_tested);
		CU_ASSERT_TRUE(res.tcp.hairpinning == want[hp] ||
			       (!visible && res.tcp.hairpinning == PROBE_UNKNOWN));
		if (visible)
			CU_ASSERT_EQUAL(res.tcp.hairpinning, want[hp]);
		if (res.tcp.hairpinning == PROBE_YES)
			CU_ASSERT_STRING_EQUAL(res.tcp.hairpin_source, "external");
		exact += res.tcp.hairpinning == want[hp];
		if (visible && res.tcp.hairpinning != want[hp])
			printf("\n  hairpin %d mapping %d filtering %d simopen %d: %d (%s)\n", hp,
			       m, f, on, res.tcp.hairpinning, res.tcp.hairpin_reason);
	}
	CU_ASSERT_TRUE(exact >= 12); /* every visible cell, at least */
}

/* With a second host (--peer): hairpinning between the hosts, beside this
 * host's own pairs, and port overloading. natemu never overloads a port (a
 * kernel NAT does: tests/probe.sh); between hosts, hairpinning is exact
 * wherever it can be seen, as on one host, and the joined verdict never
 * contradicts either. */
static void test_peer_grid(void)
{
	static const enum probe_bool want[3] = {PROBE_NO, PROBE_YES, PROBE_NO};
	const struct probe_test *tests[] = {&probe_test_tcp_mapping, &probe_test_tcp_filtering,
					    &probe_test_tcp_simopen, &probe_test_tcp_hairpin,
					    &probe_test_tcp_overload};

	for (int cell = 0; cell < 36; cell++) {
		int hp, m, f, on;
		bool visible;
		struct natemu_cfg cfg = hairpin_cell(cell, &hp, &m, &f, &on, &visible);
		struct probe_result res;
		struct tsim s;

		tsim_setup(&s, &cfg, (uint64_t)cell + 1);
		s.peer = true;
		probe_with(&s, tests, 5, NULL, &res);
		CU_ASSERT_TRUE(res.tcp.hairpin_peer_tested);
		CU_ASSERT_TRUE(res.tcp.hairpin_peer == want[hp] ||
			       (!visible && res.tcp.hairpin_peer == PROBE_UNKNOWN));
		if (visible) {
			CU_ASSERT_EQUAL(res.tcp.hairpin_peer, want[hp]);
			CU_ASSERT_EQUAL(res.tcp.hairpinning, want[hp]);
		}
		CU_ASSERT_TRUE(res.tcp.hairpinning == want[hp] ||
			       res.tcp.hairpinning == PROBE_UNKNOWN);
		if (res.tcp.hairpin_peer == PROBE_YES)
			CU_ASSERT_STRING_EQUAL(res.tcp.hairpin_peer_source, "external");
		CU_ASSERT_TRUE(res.tcp.overload_tested);
		CU_ASSERT_EQUAL(res.tcp.overloading, PROBE_NO);
		CU_ASSERT_NOT_EQUAL(addr_port((struct sockaddr *)&res.tcp.overload_peer), 0);
		/* A hairpin pair's listener, connection and attempt there; overloading's. */
		CU_ASSERT_TRUE(s.peer_socks >= 4);
	}
}

/* No second host: both untested, not inconclusive. No NAT: nothing to
 * overload. */
static void test_peer_edges(void)
{
	const struct probe_test *tests[] = {&probe_test_tcp_hairpin, &probe_test_tcp_overload};
	struct natemu_cfg cfg = nat_cfg(NATEMU_ENDPOINT_INDEPENDENT, NATEMU_PORTS_PRESERVE);
	struct probe_result res;
	struct tsim s;

	tsim_setup(&s, &cfg, 1);
	probe_with(&s, tests, 2, NULL, &res);
	CU_ASSERT_FALSE(res.tcp.hairpin_peer_tested);
	CU_ASSERT_FALSE(res.tcp.overload_tested);
	tsim_setup(&s, NULL, 1);
	s.peer = true;
	probe_with(&s, tests, 2, NULL, &res);
	CU_ASSERT_TRUE(res.tcp.overload_tested);
	CU_ASSERT_EQUAL(res.tcp.overloading, PROBE_UNKNOWN);
	CU_ASSERT_STRING_EQUAL(res.tcp.overload_reason, "no NAT: no public endpoint to share");
	CU_ASSERT_EQUAL(res.tcp.hairpin_peer, PROBE_UNKNOWN);
}

static void probe_icmp(struct tsim *s, struct probe_result *res)
{
	const struct probe_test *tests[] = {&probe_test_tcp_icmp};

	probe_with(s, tests, 1, NULL, res);
}

/* natemu's ICMP modes x mapping x filtering: REQ-9 (host unreachable for
 * our SYN comes back translated) false only where natemu drops the errors,
 * REQ-10 (connections outlive port unreachable and time exceeded) false
 * only where they end the connection; exactly. No NAT: both true; a
 * reflector without silent ports: REQ-9 inconclusive, with why. */
static void test_icmp_grid(void)
{
	for (int cell = 0; cell < 12; cell++) {
		int mode = cell / 4, m = cell / 2 % 2 * 2, f = cell % 2 * 2;
		struct natemu_cfg cfg = nat_cfg(m, NATEMU_PORTS_PRESERVE);
		struct probe_result res;
		struct tsim s;
		enum probe_bool in = mode == NATEMU_ICMP_DROP ? PROBE_NO : PROBE_YES;
		enum probe_bool kept = mode == NATEMU_ICMP_KILL ? PROBE_NO : PROBE_YES;

		cfg.filtering = (enum natemu_dependence)f;
		cfg.icmp = (enum natemu_icmp)mode;
		tsim_setup(&s, &cfg, (uint64_t)cell + 1);
		probe_icmp(&s, &res);
		CU_ASSERT_TRUE(res.tcp.icmp_tested);
		CU_ASSERT_EQUAL(res.tcp.icmp_translated, in);
		CU_ASSERT_EQUAL(res.tcp.icmp_kept, kept);
		CU_ASSERT_TRUE(res.tcp.icmp_victims >= 1);
		CU_ASSERT_EQUAL(res.tcp.icmp_victims_kept,
				kept == PROBE_YES ? res.tcp.icmp_victims : 0);
		if (res.tcp.icmp_translated != in || res.tcp.icmp_kept != kept)
			printf("\n  icmp %d mapping %d filtering %d: %d (%s), %d (%s)\n", mode, m,
			       f, res.tcp.icmp_translated, res.tcp.icmp_translated_reason,
			       res.tcp.icmp_kept, res.tcp.icmp_kept_reason);
	}
}

static void test_icmp_edges(void)
{
	struct natemu_cfg cfg = nat_cfg(0, 0);
	struct probe_result res;
	struct tsim s;

	tsim_setup(&s, NULL, 1);
	probe_icmp(&s, &res);
	CU_ASSERT_EQUAL(res.tcp.icmp_translated, PROBE_YES);
	CU_ASSERT_EQUAL(res.tcp.icmp_kept, PROBE_YES);
	tsim_setup(&s, &cfg, 1);
	s.no_silent_ports = true;
	probe_icmp(&s, &res);
	CU_ASSERT_EQUAL(res.tcp.icmp_translated, PROBE_UNKNOWN);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.tcp.icmp_translated_reason, "no silent port"));
	CU_ASSERT_EQUAL(res.tcp.icmp_kept, PROBE_YES);
	/* Without a session: untested, and said why. */
	tsim_setup(&s, &cfg, 1);
	s.no_session = true;
	probe_icmp(&s, &res);
	CU_ASSERT_FALSE(res.tcp.icmp_tested);
	CU_ASSERT_STRING_EQUAL(res.tcp.icmp_reason, PROBE_NEEDS_SESSION);
}

static void probe_hold(struct tsim *s, struct probe_result *res)
{
	const struct probe_test *tests[] = {&probe_test_tcp_syn_hold};

	probe_with(s, tests, 1, NULL, res);
}

/* REQ-4's hold x filtering: an open filter lets the reflector's SYN to the
 * host (pass); a closed one holds it (drop: our SYN 2 s later makes the
 * connection), or answers it (rst, icmp, at the NAT's TTL); exactly. */
static void test_hold_grid(void)
{
	static const enum probe_hold want[3] = {PROBE_HOLD_HELD, PROBE_HOLD_RST, PROBE_HOLD_ICMP};

	for (int cell = 0; cell < 6; cell++) {
		int f = cell / 3 * 2, u = cell % 3;
		struct natemu_cfg cfg = nat_cfg(NATEMU_ENDPOINT_INDEPENDENT, NATEMU_PORTS_PRESERVE);
		struct probe_result res;
		struct tsim s;
		enum probe_hold w = f == 0 ? PROBE_HOLD_PASS : want[u];

		cfg.filtering = (enum natemu_dependence)f;
		cfg.unsolicited_syn = (enum natemu_syn_reply)u;
		tsim_setup(&s, &cfg, (uint64_t)cell + 1);
		probe_hold(&s, &res);
		CU_ASSERT_EQUAL(res.tcp.hold, w);
		if (w == PROBE_HOLD_HELD)
			CU_ASSERT_TRUE(res.tcp.hold_ms >= 2000);
		if (w == PROBE_HOLD_RST || w == PROBE_HOLD_ICMP)
			CU_ASSERT_TRUE(res.tcp.hold_ms < 100);
		if (res.tcp.hold != w)
			printf("\n  hold filtering %d syn %d: %s (%s)\n", f, u,
			       probe_hold_name(res.tcp.hold), res.tcp.hold_reason);
	}
	/* A mapping that depends on the destination: our SYN to X leaves from
	 * another public port, and cannot meet the reflector's; said so. */
	{
		struct natemu_cfg cfg = nat_cfg(NATEMU_ADDRESS_DEPENDENT, NATEMU_PORTS_PRESERVE);
		struct probe_result res;
		struct tsim s;

		cfg.filtering = NATEMU_ADDRESS_AND_PORT_DEPENDENT;
		tsim_setup(&s, &cfg, 7);
		probe_hold(&s, &res);
		CU_ASSERT_EQUAL(res.tcp.hold, PROBE_HOLD_INCONCLUSIVE);
		CU_ASSERT_PTR_NOT_NULL(strstr(res.tcp.hold_reason, "another public port"));
	}
	/* No NAT: the host's own RST, at its TTL: pass. */
	{
		struct probe_result res;
		struct tsim s;

		tsim_setup(&s, NULL, 1);
		probe_hold(&s, &res);
		CU_ASSERT_EQUAL(res.tcp.hold, PROBE_HOLD_PASS);
	}
}

/* REQ-5's timeouts: natemu's tcp-established and tcp-transitory each lie
 * between its kind's longest check alive and shortest dead; the checks
 * after a dead one are not waited for. Without a NAT, every check alive. */
static void test_tcp_lifetime(void)
{
	const struct probe_test *tests[] = {&probe_test_tcp_lifetime};
	struct natemu_cfg cfg = nat_cfg(NATEMU_ENDPOINT_INDEPENDENT, NATEMU_PORTS_PRESERVE);
	struct probe_result res;
	struct tsim s;

	cfg.tcp_established_ms = 5000;
	cfg.tcp_transitory_ms = 3000;
	tsim_setup(&s, &cfg, 1);
	s.lifetime_max_s = 20;
	probe_with(&s, tests, 1, NULL, &res);
	CU_ASSERT_TRUE(res.tcp.established.tested);
	CU_ASSERT_EQUAL(res.tcp.established.alive_s, 4);
	CU_ASSERT_EQUAL(res.tcp.established.dead_s, 8);
	CU_ASSERT_EQUAL(res.tcp.established.nchecks, 5);  /* 2, 4, 8, 16, 20 */
	CU_ASSERT_EQUAL(res.tcp.established.fates[3], 3); /* 16: not waited for */
	CU_ASSERT_EQUAL(res.tcp.transitory.alive_s, 2);
	CU_ASSERT_EQUAL(res.tcp.transitory.dead_s, 4);
	CU_ASSERT_EQUAL(res.tcp.transitory.fates[2], 3);
	/* A transitory timeout as long as the established one: the FIN changed nothing. */
	cfg.tcp_transitory_ms = 5000;
	tsim_setup(&s, &cfg, 1);
	s.lifetime_max_s = 20;
	probe_with(&s, tests, 1, NULL, &res);
	CU_ASSERT_EQUAL(res.tcp.transitory.alive_s, 4);
	CU_ASSERT_EQUAL(res.tcp.transitory.dead_s, 8);
	tsim_setup(&s, NULL, 1);
	s.lifetime_max_s = 10;
	probe_with(&s, tests, 1, NULL, &res);
	CU_ASSERT_EQUAL(res.tcp.established.alive_s, 10);
	CU_ASSERT_TRUE(res.tcp.established.dead_s < 0);
	CU_ASSERT_EQUAL(res.tcp.transitory.alive_s, 10);
	CU_ASSERT_TRUE(res.tcp.transitory.dead_s < 0);
}

int test_probe_tcp_register(void)
{
	static const struct test_case tests[] = {
	    {"TCP mapping x port allocation, exactly", test_tcp_grid},
	    {"TCP without a NAT", test_tcp_no_nat},
	    {"REQ-6: an ALG's payload rewrite seen, none without", test_tcp_alg},
	    {"REQ-6's rule: without MAPPED-ADDRESS, nothing", test_alg_rule},
	    {"overloading's rule: one endpoint for both, or nothing said", test_overload_rule},
	    {"TCP refused by the reflector: inconclusive, at once", test_tcp_refused},
	    {"UDP blocked: found over TCP, TCP verdicts reached", test_udp_blocked},
	    {"TCP filtering x unsolicited SYN, host REJECT or not, exactly", test_syn_grid},
	    {"TCP SYNs without a NAT", test_syn_no_nat},
	    {"TCP SYN orders: a refused key, no tests at the reflector", test_syn_session},
	    {"TCP SYN orders: two probes never share the SYNs' sequence numbers",
	     test_syn_tokens_per_run},
	    {"TCP simultaneous open on/off x filtering x unsolicited SYN", test_simopen_grid},
	    {"TCP simultaneous open: no NAT, no silent port", test_simopen_edges},
	    {"TCP hairpinning x mapping x filtering x simultaneous open", test_hairpin_grid},
	    {"a second host: hairpinning between hosts x mapping x filtering x simultaneous open, "
	     "port overloading",
	     test_peer_grid},
	    {"a second host: none (untested), no NAT", test_peer_edges},
	    {"ICMP errors: translated, dropped, ending connections x mapping x filtering",
	     test_icmp_grid},
	    {"ICMP errors: no NAT, no silent port, no session", test_icmp_edges},
	    {"REQ-4's hold x filtering x unsolicited SYN, exactly", test_hold_grid},
	    {"REQ-5: the established and transitory timeouts bracketed", test_tcp_lifetime},
	};

	return TEST_SUITE("natprobe TCP (simulated network)", tests);
}
