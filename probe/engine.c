/*
 * natprobe's engine. See engine.h.
 */
#include "engine.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "stun.h"
#include "wire.h"
#include "probe/order.h"

#define MAX_TESTS         32
#define ASK_SENDS         7       /* RFC 8489 Rc for a question that should be answered */
#define SILENCE_SENDS_MIN 3       /* even with no loss seen */
#define SILENCE_SENDS_MAX 20      /* past this, loss is too high to read silence */
#define SILENCE_ERROR     1e-4    /* accepted chance that every transmission was lost */
#define RTO_FIRST_US      200000u /* before any round trip is measured */
#define RTO_MIN_US        20000u
#define RTO_MAX_US        1000000u
#define TCP_CONNECT_US    3500000u /* Linux resends a SYN at 1 s and 3 s */
#define TCP_ASK_US        2000000u /* a Binding over TCP: TCP resends, we only wait */
#define PUSH_WAIT_MS      3000u    /* and 2 s: the reflector's TCP resends a push 4 times */

struct txn {
	bool used;
	struct probe_run *run;
	int tag, sock;
	unsigned dest;
	uint32_t change;
	struct sockaddr_storage to; /* where it goes: a role's address, or one given */
	bool hairpin;               /* to one of our own mapped addresses */
	bool silence;
	bool timer; /* no packet: on_timer when due */
	bool tcp;   /* over the TCP connection `sock`: sent once */
	bool order; /* ... a NatlabTest order, from role order_role */
	enum probe_order action;
	uint8_t token[8];
	unsigned order_role, copies;
	uint16_t target_port;
	uint32_t wait_ms;
	int answer_sock; /* where the answer must arrive (RESPONSE-PORT: elsewhere) */
	int push_sock;   /* PUSH: the kept connection the answer should come down (else -1) */
	uint16_t response_port;
	uint8_t tid[STUN_TID_LEN];
	unsigned sends;
	uint64_t sent_us, next_us, interval_us;
};

#define NO_ROLE (-2) /* a connection to an address that is no role (-1: accepted) */

/* A TCP connection or listener a test opened (or a listener accepted). */
struct conn {
	bool used, listener, connecting;
	int handle, tag;
	struct probe_run *run;
	int dest; /* the role it goes to; -1 for an accepted one */
	struct sockaddr_storage peer;
	uint64_t deadline_us; /* while connecting */
};

struct probe_run {
	probe_engine_t *e;
	const struct probe_test *test;
	void *state;
	unsigned open; /* questions not settled */
	bool started;
	bool refused; /* the reflector answered a question with an error */
	char note[PROBE_REASON_LEN];
};

struct probe_engine {
	struct probe_io io;
	struct sockaddr_storage role[4];
	bool have_alternate;
	struct {
		int handle;
		struct sockaddr_storage local;
	} socks[PROBE_MAX_SOCKETS];
	size_t nsocks;
	struct txn txns[PROBE_MAX_TXNS];
	struct conn conns[PROBE_MAX_CONNS];
	struct probe_run runs[MAX_TESTS];
	bool reached;    /* the first exchange was answered */
	bool udp_silent; /* ... over TCP only: the UDP one was not */
	/* The first exchange, over each protocol (TCP: when TCP tests are to run,
	 * at the same time: UDP may be blocked on the way while TCP passes). */
	enum { BOOT_NONE, BOOT_PENDING, BOOT_OK, BOOT_FAILED } udp_boot, tcp_boot;
	int boot_conn;
	bool tcp_started;      /* the TCP tests, after the UDP ones */
	uint64_t tcp_start_us; /* when the first of them started (0: none did) */
	size_t nruns;
	struct probe_run boot; /* the first exchange: OTHER-ADDRESS and a round trip */
	char boot_note[PROBE_REASON_LEN];
	bool boot_done;
	/* Round-trip estimate (RFC 6298) and loss, from questions meant to be answered. */
	uint64_t srtt_us, rttvar_us;
	bool have_rtt;
	unsigned ask_sends, ask_answers;
	unsigned sends, answers;
	uint64_t start_us, now_us;
	uint32_t serial, run_id;
};

/* ---- for the tests ---- */

int probe_socket(struct probe_run *r, struct sockaddr_storage *local)
{
	probe_engine_t *e = r->e;
	int h;

	if (e->nsocks == PROBE_MAX_SOCKETS)
		return -1;
	h = e->io.open(e->io.ctx, (const struct sockaddr *)&e->role[PROBE_PP],
		       &e->socks[e->nsocks].local);
	if (h < 0)
		return -1;
	e->socks[e->nsocks].handle = h;
	if (local)
		*local = e->socks[e->nsocks].local;
	e->nsocks++;
	return h;
}

int probe_peer_socket(struct probe_run *r, uint16_t port, struct sockaddr_storage *local)
{
	probe_engine_t *e = r->e;
	int h;

	if (!e->io.open_peer || e->nsocks == PROBE_MAX_SOCKETS)
		return -1;
	h = e->io.open_peer(e->io.ctx, (const struct sockaddr *)&e->role[PROBE_PP], port,
			    &e->socks[e->nsocks].local);
	if (h < 0)
		return -1; /* the caller says what it could not do */
	e->socks[e->nsocks].handle = h;
	if (local)
		*local = e->socks[e->nsocks].local;
	e->nsocks++;
	return h;
}

int probe_socket_pair(struct probe_run *r, int socks[2], struct sockaddr_storage local[2])
{
	probe_engine_t *e = r->e;

	if (!e->io.open_pair || e->nsocks + 2 > PROBE_MAX_SOCKETS ||
	    e->io.open_pair(e->io.ctx, (const struct sockaddr *)&e->role[PROBE_PP], socks, local))
		return -1;
	for (int i = 0; i < 2; i++) {
		e->socks[e->nsocks].handle = socks[i];
		e->socks[e->nsocks++].local = local[i];
	}
	return 0;
}

bool probe_can_pair(const struct probe_run *r)
{
	return r->e->io.open_pair != NULL;
}

bool probe_have_peer(const struct probe_run *r)
{
	return r->e->io.open_peer != NULL;
}

bool probe_have_peer_tcp(const struct probe_run *r)
{
	return r->e->io.peer_tcp_connect && r->e->io.peer_tcp_listen;
}

const char *probe_peer_missing(const struct probe_run *r)
{
	return r->e->io.open_peer ? NULL : r->e->io.peer_missing;
}

bool probe_own_source_visible(const struct probe_run *r)
{
	return r->e->io.own_source_visible;
}

const struct sockaddr *probe_role_addr(const struct probe_run *r, unsigned role)
{
	return (const struct sockaddr *)&r->e->role[role & 3];
}

void probe_note(struct probe_run *r, const char *reason)
{
	if (!r->note[0])
		snprintf(r->note, sizeof(r->note), "%s", reason);
}

/* Transmissions needed so that losing all of them has a chance below
 * SILENCE_ERROR, at the round-trip success rate measured so far (counted
 * pessimistically: one more transmission than there were). */
static unsigned silence_sends(const probe_engine_t *e)
{
	double p = (double)e->ask_answers / (double)(e->ask_sends + 1);
	double n;

	if (p <= 0.0)
		return SILENCE_SENDS_MAX + 1;
	if (p >= 1.0)
		return SILENCE_SENDS_MIN;
	n = ceil(log(SILENCE_ERROR) / log(1.0 - p));
	if (n < SILENCE_SENDS_MIN)
		return SILENCE_SENDS_MIN;
	return n > SILENCE_SENDS_MAX ? SILENCE_SENDS_MAX + 1 : (unsigned)n;
}

unsigned probe_tries_needed(const struct probe_run *r, unsigned round_trips)
{
	double p = (double)r->e->ask_answers / (double)(r->e->ask_sends + 1);
	double q = pow(p, (double)round_trips), n;

	if (q >= 1.0)
		return 1;
	if (q <= 0.0)
		return UINT_MAX;
	n = ceil(log(SILENCE_ERROR) / log(1.0 - q));
	return n < 1.0 ? 1 : n > 1e6 ? UINT_MAX : (unsigned)n;
}

bool probe_silence_trusted(const struct probe_run *r)
{
	return !r->refused && silence_sends(r->e) <= SILENCE_SENDS_MAX;
}

unsigned probe_silence_needed(const struct probe_run *r)
{
	unsigned n = silence_sends(r->e);

	return n > SILENCE_SENDS_MAX ? SILENCE_SENDS_MAX : n;
}

static uint64_t rto(const probe_engine_t *e)
{
	uint64_t v;

	if (!e->have_rtt)
		return RTO_FIRST_US;
	v = e->srtt_us + 4 * e->rttvar_us;
	return v < RTO_MIN_US ? RTO_MIN_US : v > RTO_MAX_US ? RTO_MAX_US : v;
}

/* The host would not send from the socket's address toward t->to: the
 * question's silence is no evidence, and the test says why. */
static void unsendable(probe_engine_t *e, const struct txn *t)
{
	char why[PROBE_REASON_LEN], to[ADDR_STRLEN], from[ADDR_STRLEN] = "?";

	for (size_t i = 0; i < e->nsocks; i++)
		if (e->socks[i].handle == t->sock)
			addr_format_ip((const struct sockaddr *)&e->socks[i].local, from,
				       sizeof(from));
	snprintf(why, sizeof(why),
		 "this host cannot send to %s from %s, its address toward the reflector: "
		 "no one internal endpoint toward both",
		 addr_format((const struct sockaddr *)&t->to, to, sizeof(to)), from);
	probe_note(t->run, why);
}

/* A NatlabTest order (PROTOCOL.md). */
static enum stun_err build_order(const probe_engine_t *e, const struct txn *t, uint8_t *msg,
				 size_t cap, size_t *len)
{
	struct probe_order_req q = {.action = t->action,
				    .role = t->order_role,
				    .copies = t->copies,
				    .target_port = t->target_port,
				    .wait_ms = t->wait_ms,
				    .tid = t->tid,
				    .session = e->io.session,
				    .key = e->io.key};

	memcpy(q.token, t->token, sizeof(q.token));
	return probe_order_build(&q, msg, cap, len);
}

static void transmit(probe_engine_t *e, struct txn *t)
{
	uint8_t msg[256];
	struct stun_builder b;
	size_t len;

	if (t->order) {
		if (build_order(e, t, msg, sizeof(msg), &len) != STUN_OK)
			return;
		t->sends++;
		e->sends++;
		t->sent_us = e->now_us;
		e->io.tcp_send(e->io.ctx, t->sock, msg, len);
		t->next_us = e->now_us + (uint64_t)t->wait_ms * 1000u + TCP_ASK_US;
		return;
	}
	stun_build_start(&b, msg, sizeof(msg), stun_type(STUN_BINDING, STUN_REQUEST),
			 STUN_MAGIC_COOKIE, t->tid);
	if (t->change)
		stun_build_u32(&b, STUN_ATTR_CHANGE_REQUEST, t->change);
	/* RFC 5780 7.5: the port, then two bytes of padding. */
	if (t->response_port)
		stun_build_u32(&b, STUN_ATTR_RESPONSE_PORT, (uint32_t)t->response_port << 16);
	stun_build_fingerprint(&b);
	if (stun_build_end(&b, &len) != STUN_OK)
		return;
	t->sends++;
	e->sends++;
	t->sent_us = e->now_us;
	if (t->tcp) {
		/* A lost write is a dead connection: its silence is settled at the timeout. */
		e->io.tcp_send(e->io.ctx, t->sock, msg, len);
		t->next_us = e->now_us + TCP_ASK_US;
		return;
	}
	if (e->io.send(e->io.ctx, t->sock, (const struct sockaddr *)&t->to, msg, len))
		unsendable(e, t);
	if (!t->silence)
		e->ask_sends++;
	/* RFC 8489 6.2.1: each interval doubles; a silence test keeps a steady pace. */
	t->interval_us = t->sends == 1 ? rto(e) : t->silence ? t->interval_us : 2 * t->interval_us;
	if (t->interval_us > RTO_MAX_US)
		t->interval_us = RTO_MAX_US;
	t->next_us = e->now_us + t->interval_us;
}

static struct txn *new_txn(struct probe_run *r, int tag, int sock, bool expect_silence)
{
	probe_engine_t *e = r->e;
	struct txn *t = NULL;

	for (size_t i = 0; i < PROBE_MAX_TXNS && !t; i++)
		if (!e->txns[i].used)
			t = &e->txns[i];
	if (t)
		*t = (struct txn){.used = true,
				  .run = r,
				  .tag = tag,
				  .sock = sock,
				  .answer_sock = sock,
				  .push_sock = -1,
				  .silence = expect_silence};
	return t;
}

static void first_send(probe_engine_t *e, struct probe_run *r, struct txn *t)
{
	wire_put32(t->tid, e->run_id);
	wire_put32(t->tid + 4, (uint32_t)(t - e->txns));
	wire_put32(t->tid + 8, ++e->serial);
	r->open++;
	transmit(e, t);
}

int probe_ask(struct probe_run *r, int tag, int sock, unsigned dest, uint32_t change,
	      bool expect_silence)
{
	probe_engine_t *e = r->e;
	struct txn *t;

	if (dest > 3 || (dest && !e->have_alternate))
		return -1;
	t = new_txn(r, tag, sock, expect_silence);
	if (!t)
		return -1;
	t->dest = dest;
	t->change = change;
	t->to = e->role[dest];
	first_send(e, r, t);
	return 0;
}

int probe_ask_via(struct probe_run *r, int tag, int sock, unsigned dest, uint16_t response_port,
		  int answer_sock, bool expect_silence)
{
	probe_engine_t *e = r->e;
	struct txn *t;

	if (dest > 3 || (dest && !e->have_alternate) || !response_port)
		return -1;
	t = new_txn(r, tag, sock, expect_silence);
	if (!t)
		return -1;
	t->dest = dest;
	t->to = e->role[dest];
	t->response_port = response_port;
	t->answer_sock = answer_sock;
	first_send(e, r, t);
	return 0;
}

/* ---- TCP ---- */

static void settle(probe_engine_t *e, struct txn *t, const struct probe_answer *a);

bool probe_have_tcp(const struct probe_run *r)
{
	return r->e->io.tcp_connect != NULL;
}

static struct conn *find_conn(probe_engine_t *e, int handle)
{
	for (size_t i = 0; i < PROBE_MAX_CONNS; i++)
		if (e->conns[i].used && e->conns[i].handle == handle)
			return &e->conns[i];
	return NULL;
}

static struct conn *new_conn(struct probe_run *r, int tag)
{
	for (size_t i = 0; i < PROBE_MAX_CONNS; i++) {
		struct conn *c = &r->e->conns[i];

		if (!c->used) {
			*c = (struct conn){.used = true, .run = r, .tag = tag, .dest = -1};
			return c;
		}
	}
	probe_note(r, "too many TCP connections at once");
	return NULL;
}

/* A connection to `to`; dest: its role, or NO_ROLE. */
/* A connection from this host, or with peer from the second host (no note
 * there when it cannot: a test that can do without it goes on). */
static int open_conn(struct probe_run *r, int tag, uint16_t port, const struct sockaddr *to,
		     int dest, struct sockaddr_storage *local, bool peer)
{
	probe_engine_t *e = r->e;
	int (*connect)(void *, const struct sockaddr *, const struct sockaddr *, uint16_t,
		       struct sockaddr_storage *) =
	    peer ? e->io.peer_tcp_connect : e->io.tcp_connect;
	struct sockaddr_storage scratch;
	struct conn *c;

	if (!local)
		local = &scratch;
	if (!connect) {
		if (!peer)
			probe_note(r, "this natprobe has no TCP");
		return -1;
	}
	if (!(c = new_conn(r, tag)))
		return -1;
	c->handle =
	    connect(e->io.ctx, (const struct sockaddr *)&e->role[PROBE_PP], to, port, local);
	if (c->handle < 0) {
		c->used = false;
		if (!peer)
			probe_note(r, port ? "this host would not open a TCP connection from the "
					     "port (taken, or no SO_REUSEPORT)"
					   : "this host would not open a TCP connection");
		return -1;
	}
	c->dest = dest;
	memcpy(&c->peer, to, addr_len(to));
	c->connecting = true;
	c->deadline_us = e->now_us + TCP_CONNECT_US;
	r->open++;
	return c->handle;
}

/* A connection to role `dest`, from this host or (peer) the second. */
static int connect_role(struct probe_run *r, int tag, uint16_t port, unsigned dest,
			struct sockaddr_storage *local, bool peer)
{
	probe_engine_t *e = r->e;

	if (dest > 3 || (dest && !e->have_alternate))
		return -1;
	return open_conn(r, tag, port, (const struct sockaddr *)&e->role[dest], (int)dest, local,
			 peer);
}

int probe_tcp_connect(struct probe_run *r, int tag, uint16_t port, unsigned dest,
		      struct sockaddr_storage *local)
{
	return connect_role(r, tag, port, dest, local, false);
}

int probe_tcp_connect_to(struct probe_run *r, int tag, uint16_t port, const struct sockaddr *to,
			 struct sockaddr_storage *local)
{
	return open_conn(r, tag, port, to, NO_ROLE, local, false);
}

int probe_peer_tcp_connect(struct probe_run *r, int tag, uint16_t port, unsigned dest,
			   struct sockaddr_storage *local)
{
	return connect_role(r, tag, port, dest, local, true);
}

int probe_peer_tcp_connect_to(struct probe_run *r, int tag, uint16_t port,
			      const struct sockaddr *to, struct sockaddr_storage *local)
{
	return open_conn(r, tag, port, to, NO_ROLE, local, true);
}

int probe_peer_tcp_listen(struct probe_run *r, int tag, uint16_t port,
			  struct sockaddr_storage *local)
{
	probe_engine_t *e = r->e;
	struct sockaddr_storage scratch;
	struct conn *c;

	if (!e->io.peer_tcp_listen || !(c = new_conn(r, tag)))
		return -1;
	c->handle = e->io.peer_tcp_listen(e->io.ctx, (const struct sockaddr *)&e->role[PROBE_PP],
					  port, local ? local : &scratch);
	if (c->handle < 0) {
		c->used = false;
		return -1;
	}
	c->listener = true;
	return c->handle;
}

bool probe_engine_is_conn(probe_engine_t *e, int handle)
{
	return find_conn(e, handle) != NULL;
}

int probe_tcp_listen(struct probe_run *r, int tag, uint16_t port, struct sockaddr_storage *local)
{
	probe_engine_t *e = r->e;
	struct sockaddr_storage scratch;
	struct conn *c;

	if (!local)
		local = &scratch;
	if (!e->io.tcp_listen) {
		probe_note(r, "this natprobe has no TCP");
		return -1;
	}
	if (!(c = new_conn(r, tag)))
		return -1;
	c->handle =
	    e->io.tcp_listen(e->io.ctx, (const struct sockaddr *)&e->role[PROBE_PP], port, local);
	if (c->handle < 0) {
		c->used = false;
		probe_note(r, "this host would not listen on a TCP port");
		return -1;
	}
	c->listener = true;
	return c->handle;
}

int probe_tcp_ask(struct probe_run *r, int tag, int conn)
{
	struct conn *c = find_conn(r->e, conn);
	struct txn *t;

	if (!c || c->listener || c->connecting || c->dest == -1)
		return -1;
	t = new_txn(r, tag, conn, false);
	if (!t)
		return -1;
	t->tcp = true;
	t->dest = c->dest < 0 ? 0 : (unsigned)c->dest;
	t->to = c->peer;
	first_send(r->e, r, t);
	return 0;
}

bool probe_have_session(const struct probe_run *r)
{
	return r->e->io.session && r->e->io.key && r->e->io.tcp_connect;
}

unsigned probe_order_wait_ms(const struct probe_run *r)
{
	uint64_t ms = 3 * rto(r->e) / 1000;

	return ms < 50 ? 50 : ms > 3000 ? 3000 : (unsigned)ms;
}

int probe_tcp_order(struct probe_run *r, int tag, int conn, unsigned role, uint16_t target_port,
		    unsigned wait_ms)
{
	return probe_tcp_order_action(r, tag, conn, PROBE_ORDER_SYN, role, target_port, wait_ms,
				      NULL);
}

static struct txn *order(struct probe_run *r, int tag, int conn, enum probe_order action,
			 unsigned role, uint16_t target_port, unsigned copies, unsigned wait_ms,
			 const uint8_t *token)
{
	struct conn *c = find_conn(r->e, conn);
	struct txn *t;

	if (!probe_have_session(r) || role > 3 || !c || c->listener || c->connecting ||
	    c->dest == -1 || (role && !r->e->have_alternate) || copies > 20)
		return NULL;
	t = new_txn(r, tag, conn, false);
	if (!t)
		return NULL;
	t->tcp = t->order = true;
	t->dest = c->dest < 0 ? 0 : (unsigned)c->dest;
	t->to = c->peer;
	t->action = action;
	t->order_role = role;
	t->target_port = target_port;
	t->copies = copies;
	t->wait_ms = wait_ms;
	wire_put32(t->tid, r->e->run_id);
	wire_put32(t->tid + 4, (uint32_t)(t - r->e->txns));
	if (token)
		memcpy(t->token, token, sizeof(t->token));
	else { /* unique to the run and the order: its place and a serial */
		wire_put32(t->token, r->e->run_id ^ ((uint32_t)(t - r->e->txns) * 2654435761u));
		wire_put32(t->token + 4, r->e->serial + 1);
	}
	first_send(r->e, r, t);
	return t;
}

int probe_tcp_push(struct probe_run *r, int tag, int ctrl, int kept, uint16_t kept_port)
{
	struct conn *k = find_conn(r->e, kept);
	struct txn *t;

	if (!k || k->listener || k->connecting || kept == ctrl)
		return -1;
	t = order(r, tag, ctrl, PROBE_ORDER_PUSH, 0, kept_port, 0, PUSH_WAIT_MS, NULL);
	if (!t)
		return -1;
	t->push_sock = kept;
	return 0;
}

int probe_tcp_shutdown(struct probe_run *r, int conn)
{
	struct conn *c = find_conn(r->e, conn);

	if (!c || c->listener || c->connecting || !r->e->io.tcp_shutdown)
		return -1;
	return r->e->io.tcp_shutdown(r->e->io.ctx, conn);
}

bool probe_tcp_is_open(const struct probe_run *r, int conn)
{
	const struct conn *c = find_conn(r->e, conn);

	return c && !c->connecting;
}

int probe_tcp_order_action(struct probe_run *r, int tag, int conn, enum probe_order action,
			   unsigned role, uint16_t target_port, unsigned wait_ms,
			   const uint8_t *token)
{
	return order(r, tag, conn, action, role, target_port, 0, wait_ms, token) ? 0 : -1;
}

int probe_tcp_order_copies(struct probe_run *r, int tag, int conn, enum probe_order action,
			   unsigned role, uint16_t target_port, unsigned copies, unsigned wait_ms,
			   const uint8_t *token)
{
	return order(r, tag, conn, action, role, target_port, copies, wait_ms, token) ? 0 : -1;
}

/* The connection is gone: its questions are silent now, not at their timeout. */
static void drop_conn(probe_engine_t *e, struct conn *c)
{
	if (c->connecting)
		c->run->open--;
	c->used = false;
	for (size_t i = 0; i < PROBE_MAX_TXNS; i++) {
		struct txn *t = &e->txns[i];

		if (t->used && t->tcp && t->sock == c->handle)
			settle(e, t, NULL);
	}
}

void probe_tcp_close(struct probe_run *r, int conn)
{
	struct conn *c = find_conn(r->e, conn);

	if (!c)
		return;
	r->e->io.tcp_close(r->e->io.ctx, conn);
	drop_conn(r->e, c);
}

static void start_tests(probe_engine_t *e, bool reached);

/* Both first exchanges settled, or enough of them: the tests start. */
static void boot_decide(probe_engine_t *e)
{
	if (e->boot_done || e->udp_boot == BOOT_PENDING)
		return;
	if (e->udp_boot == BOOT_OK) {
		start_tests(e, true); /* first: closing settles the TCP one's question */
		if (e->tcp_boot != BOOT_NONE)
			probe_tcp_close(&e->boot, e->boot_conn);
		return;
	}
	if (e->tcp_boot == BOOT_PENDING)
		return;
	e->udp_silent = e->tcp_boot == BOOT_OK;
	if (!e->udp_silent && !e->boot_note[0])
		snprintf(e->boot_note, sizeof(e->boot_note),
			 "no answer from the reflector's primary endpoint%s",
			 e->tcp_boot == BOOT_FAILED ? ", over UDP or TCP" : "");
	start_tests(e, e->udp_silent);
}

/* The first exchange over TCP: a Binding once connected. */
static void boot_tcp_event(probe_engine_t *e, struct conn *c, enum probe_tcp_event ev)
{
	int conn = c->handle;

	if (ev == PROBE_TCP_CONNECTED) {
		c->connecting = false;
		e->boot.open--;
		if (!probe_tcp_ask(&e->boot, 1, conn))
			return;
	}
	probe_tcp_close(&e->boot, conn);
	if (e->tcp_boot == BOOT_PENDING)
		e->tcp_boot = BOOT_FAILED;
	boot_decide(e);
}

/* Where TCP tests are to run, the first exchange over TCP too. */
static void boot_over_tcp(probe_engine_t *e)
{
	bool tcp_tests = false;

	for (size_t i = 0; i < e->nruns; i++)
		tcp_tests = tcp_tests || e->runs[i].test->tcp;
	if (!tcp_tests || !e->io.tcp_connect)
		return;
	e->boot_conn = probe_tcp_connect(&e->boot, 1, 0, PROBE_PP, NULL);
	if (e->boot_conn >= 0)
		e->tcp_boot = BOOT_PENDING;
}

void probe_engine_tcp_event(probe_engine_t *e, int conn, enum probe_tcp_event ev, int accepted,
			    const struct sockaddr *peer, uint64_t now_us)
{
	struct conn *c = find_conn(e, conn), *a;
	struct probe_run *r;
	int tag;

	e->now_us = now_us;
	if (!c)
		return;
	r = c->run;
	tag = c->tag;
	if (r == &e->boot) {
		boot_tcp_event(e, c, ev);
		return;
	}
	if (ev == PROBE_TCP_ACCEPTED) {
		if (!c->listener || !peer || !(a = new_conn(r, tag))) {
			e->io.tcp_close(e->io.ctx, accepted);
			return;
		}
		a->handle = accepted;
		memcpy(&a->peer, peer, addr_len(peer));
	} else if (ev == PROBE_TCP_CONNECTED) {
		if (!c->connecting)
			return;
		c->connecting = false;
		r->open--;
	} else {
		e->io.tcp_close(e->io.ctx, conn);
		drop_conn(e, c);
	}
	if (r->test->on_tcp)
		r->test->on_tcp(r, r->state, tag, conn, ev, accepted, peer);
}

void probe_engine_tcp_receive(probe_engine_t *e, int conn, const uint8_t *msg, size_t len,
			      uint64_t now_us)
{
	struct conn *c = find_conn(e, conn);

	if (c && !c->listener)
		probe_engine_receive(e, conn, (const struct sockaddr *)&c->peer, msg, len, now_us);
}

/* Connections whose handshake ran out of time. */
static void tcp_timeouts(probe_engine_t *e)
{
	for (size_t i = 0; i < PROBE_MAX_CONNS; i++) {
		struct conn *c = &e->conns[i];

		if (c->used && c->connecting && e->now_us >= c->deadline_us)
			probe_engine_tcp_event(e, c->handle, PROBE_TCP_TIMEDOUT, -1, NULL,
					       e->now_us);
	}
}

int probe_timer(struct probe_run *r, int tag, uint64_t delay_us)
{
	struct txn *t = new_txn(r, tag, -1, false);

	if (!t)
		return -1;
	t->timer = true;
	t->next_us = r->e->now_us + delay_us;
	r->open++;
	return 0;
}

void probe_cancel(struct probe_run *r, int tag)
{
	for (size_t i = 0; i < PROBE_MAX_TXNS; i++) {
		struct txn *t = &r->e->txns[i];

		if (t->used && t->run == r && t->tag == tag) {
			t->used = false;
			r->open--;
		}
	}
}

uint64_t probe_now_us(const struct probe_run *r)
{
	return r->e->now_us;
}

uint32_t probe_token_nonce(const struct probe_run *r)
{
	return r->e->run_id ^ (uint32_t)r->e->now_us;
}

unsigned probe_tcp_lifetime_max_s(const struct probe_run *r)
{
	return r->e->io.tcp_lifetime_max_s;
}

const struct hops_sweep *probe_sweep(const struct probe_run *r)
{
	return r->e->io.sweep;
}

const struct portmap_report *probe_portmap(const struct probe_run *r)
{
	return r->e->io.portmap;
}

unsigned probe_keepalive_hold_s(const struct probe_run *r)
{
	return r->e->io.keepalive_hold_s;
}

unsigned probe_lifetime_max_s(const struct probe_run *r)
{
	return r->e->io.lifetime_max_s;
}

void probe_progress(struct probe_run *r, const char *text)
{
	if (r->e->io.progress)
		r->e->io.progress(r->e->io.ctx, text);
}

int probe_hairpin(struct probe_run *r, int tag, int sock, const struct sockaddr *to)
{
	struct txn *t = new_txn(r, tag, sock, true);

	if (!t)
		return -1;
	memcpy(&t->to, to, addr_len(to));
	t->hairpin = true;
	first_send(r->e, r, t);
	return 0;
}

int probe_keepalive(struct probe_run *r, int sock, unsigned dest, unsigned ttl)
{
	probe_engine_t *e = r->e;
	const struct sockaddr *to = (const struct sockaddr *)&e->role[dest < 4 ? dest : 0];
	uint8_t msg[64], tid[STUN_TID_LEN] = {0};
	struct stun_builder b;
	size_t len;

	if (dest > 3 || (dest && !e->have_alternate) || (ttl && !e->io.send_ttl))
		return -1;
	wire_put32(tid, e->run_id);
	wire_put32(tid + 8, ++e->serial);
	stun_build_start(&b, msg, sizeof(msg), stun_type(STUN_BINDING, STUN_INDICATION),
			 STUN_MAGIC_COOKIE, tid);
	stun_build_fingerprint(&b);
	if (stun_build_end(&b, &len) != STUN_OK)
		return -1;
	e->sends++;
	return ttl ? e->io.send_ttl(e->io.ctx, sock, to, msg, len, ttl)
		   : e->io.send(e->io.ctx, sock, to, msg, len);
}

/* ---- answers ---- */

static void rtt_sample(probe_engine_t *e, uint64_t rtt)
{
	/* RFC 6298 section 2. */
	if (!e->have_rtt) {
		e->srtt_us = rtt;
		e->rttvar_us = rtt / 2;
		e->have_rtt = true;
		return;
	}
	e->rttvar_us =
	    (3 * e->rttvar_us + (e->srtt_us > rtt ? e->srtt_us - rtt : rtt - e->srtt_us)) / 4;
	e->srtt_us = (7 * e->srtt_us + rtt) / 8;
}

/* The role an answer must come from: the one asked, changed as asked. */
static unsigned answer_role(const struct txn *t)
{
	return t->dest ^ (t->change & STUN_CHANGE_IP ? 2u : 0u) ^
	       (t->change & STUN_CHANGE_PORT ? 1u : 0u);
}

static void settle(probe_engine_t *e, struct txn *t, const struct probe_answer *a);
static void settle_order(probe_engine_t *e, struct txn *t, const struct probe_observation *o);

static void learn_alternate(probe_engine_t *e, const struct stun_msg *m)
{
	struct sockaddr_storage other;
	const struct sockaddr *pp = (const struct sockaddr *)&e->role[PROBE_PP];

	if (stun_get_addr(m, STUN_ATTR_OTHER_ADDRESS, &other) != STUN_OK &&
	    stun_get_addr(m, STUN_ATTR_CHANGED_ADDRESS, &other) != STUN_OK) {
		snprintf(e->boot_note, sizeof(e->boot_note),
			 "the reflector named no OTHER-ADDRESS: it does not do RFC 5780");
		return;
	}
	if (other.ss_family != pp->sa_family || addr_same_ip((struct sockaddr *)&other, pp) ||
	    addr_port((struct sockaddr *)&other) == addr_port(pp)) {
		snprintf(e->boot_note, sizeof(e->boot_note),
			 "the reflector's OTHER-ADDRESS does not differ in both address and port");
		return;
	}
	e->role[PROBE_AA] = other;
	e->role[PROBE_PA] = e->role[PROBE_PP];
	addr_set_port((struct sockaddr *)&e->role[PROBE_PA], addr_port((struct sockaddr *)&other));
	e->role[PROBE_AP] = other;
	addr_set_port((struct sockaddr *)&e->role[PROBE_AP], addr_port(pp));
	e->have_alternate = true;
}

/* Why the reflector refused an order, in words for the record. */
static void order_refused(struct txn *t, const struct stun_msg *m)
{
	unsigned code = 0;
	const char *reason = NULL;
	size_t rlen = 0;
	char why[PROBE_REASON_LEN];

	stun_get_error(m, &code, &reason, &rlen);
	if (code == 403)
		snprintf(why, sizeof(why),
			 "the reflector does not run natlab's tests (403: started without "
			 "--session-secret?)");
	else if (code == 401)
		snprintf(why, sizeof(why),
			 "the reflector did not accept the session key (401): check --session "
			 "and --key");
	else
		snprintf(why, sizeof(why), "the reflector refused an order with %u %.*s", code,
			 (int)(rlen > 60 ? 60 : rlen), reason ? reason : "");
	t->run->refused = true;
	probe_note(t->run, why);
}

/* The answer to an order: authenticated with the session key, or ignored. */
static void order_answer(probe_engine_t *e, struct txn *t, const struct stun_msg *m, int sock)
{
	struct probe_observation o = {.conn = sock};

	switch (probe_order_read(m, e->io.key, &o)) {
	case PROBE_ORDER_REFUSED:
		/* An error comes unsigned when the key is the trouble: it only
		 * ever makes the order's verdict inconclusive, never a verdict. */
		order_refused(t, m);
		settle(e, t, NULL);
		break;
	case PROBE_ORDER_OBSERVED:
		e->answers++;
		settle_order(e, t, &o);
		break;
	case PROBE_ORDER_IGNORED:
		break;
	}
}

void probe_engine_receive(probe_engine_t *e, int sock, const struct sockaddr *from,
			  const uint8_t *msg, size_t len, uint64_t now_us)
{
	struct stun_msg m;
	struct txn *t;
	struct probe_answer a = {.sock = sock};
	uint32_t index;

	e->now_us = now_us;
	if (stun_parse(&m, msg, len, 0) != STUN_OK ||
	    (m.method != STUN_BINDING && m.method != STUN_NATLAB_TEST) ||
	    wire_get32(m.tid) != e->run_id)
		return;
	index = wire_get32(m.tid + 4);
	if (index >= PROBE_MAX_TXNS)
		return;
	t = &e->txns[index];
	if (!t->used || memcmp(t->tid, m.tid, STUN_TID_LEN) ||
	    (m.method == STUN_NATLAB_TEST) != t->order)
		return;
	if (t->order) {
		if (t->sock == sock || t->push_sock == sock)
			order_answer(e, t, &m, sock);
		return;
	}
	if (m.cls == STUN_REQUEST) {
		/* Our own hairpin question, come back through the NAT to one of our sockets. */
		if (!t->hairpin || sock == t->sock)
			return;
		memcpy(&a.from, from, addr_len(from));
		a.mapped = a.from;
		a.sends = t->sends;
		a.rtt_us = now_us - t->sent_us;
		settle(e, t, &a);
		return;
	}
	if ((m.cls != STUN_SUCCESS && m.cls != STUN_ERROR) || t->hairpin || t->timer ||
	    t->answer_sock != sock ||
	    !addr_equal(from, t->tcp ? (const struct sockaddr *)&t->to
				     : (const struct sockaddr *)&e->role[answer_role(t)]))
		return; /* late, or not from where the question said it must come */
	if (m.cls == STUN_ERROR) {
		t->run->refused = true;
		probe_note(t->run, "the reflector answered a question with an error");
		settle(e, t, NULL);
		return;
	}
	if (stun_get_addr(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, &a.mapped) == STUN_OK)
		stun_get_addr(&m, STUN_ATTR_MAPPED_ADDRESS, &a.plain);
	else if (stun_get_addr(&m, STUN_ATTR_MAPPED_ADDRESS, &a.mapped) != STUN_OK)
		return;
	e->answers++;
	if (!t->silence && !t->tcp) {
		e->ask_answers++;
		if (t->sends == 1) /* Karn: only unambiguous samples */
			rtt_sample(e, now_us - t->sent_us);
	}
	if (t->run == &e->boot && !e->boot_done)
		learn_alternate(e, &m);
	a.dest = t->dest;
	a.change = t->change;
	memcpy(&a.from, from, addr_len(from));
	a.rtt_us = now_us - t->sent_us;
	a.sends = t->sends;
	settle(e, t, &a);
}

/* ---- running the tests ---- */

/* After the first exchange. When it got no answer the reflector is out of
 * reach: no test asks anything, each says why. */
static void start_tests(probe_engine_t *e, bool reached)
{
	e->boot_done = true;
	e->reached = reached;
	for (size_t i = 0; i < e->nruns; i++) {
		struct probe_run *r = &e->runs[i];

		if (e->boot_note[0])
			probe_note(r, e->boot_note);
		if (r->test->tcp && reached)
			continue; /* start_tcp, once the UDP tests settle */
		if (e->udp_silent && reached)
			probe_note(r, "no answer from the reflector's primary endpoint over UDP, "
				      "though it answered over TCP: UDP is blocked on the way");
		r->started = true;
		if (reached && !e->udp_silent)
			r->test->start(r, r->state);
	}
}

/* The TCP tests, once no UDP test of the battery has a question open, and
 * then one after the other, each once the one before has settled: no test
 * draws ports from the NAT in the middle of another's samples. */
static void start_tcp(probe_engine_t *e)
{
	if (e->tcp_started || !e->reached)
		return;
	for (size_t i = 0; i < e->nruns; i++) {
		const struct probe_run *r = &e->runs[i];

		if (!r->test->opt_in && (!r->test->tcp || r->started) && (!r->started || r->open))
			return;
	}
	for (size_t i = 0; i < e->nruns; i++) {
		struct probe_run *r = &e->runs[i];

		if (r->test->tcp && !r->started) {
			r->started = true;
			if (!e->tcp_start_us)
				e->tcp_start_us = e->now_us;
			r->test->start(r, r->state);
			return;
		}
	}
	e->tcp_started = true; /* every one has started */
}

/* An order is answered. */
static void settle_order(probe_engine_t *e, struct txn *t, const struct probe_observation *o)
{
	struct probe_run *r = t->run;
	int tag = t->tag;

	(void)e;
	t->used = false;
	r->open--;
	if (r->test->on_observed)
		r->test->on_observed(r, r->state, tag, o);
}

/* A question is settled: answered (a), or silent (a NULL). */
static void settle(probe_engine_t *e, struct txn *t, const struct probe_answer *a)
{
	struct probe_run *r = t->run;
	int tag = t->tag;
	unsigned sends = t->sends;

	t->used = false;
	r->open--;
	if (r == &e->boot) {
		if (t->tcp) {
			e->tcp_boot = a ? BOOT_OK : BOOT_FAILED;
			probe_tcp_close(r, t->sock);
		} else {
			e->udp_boot = a ? BOOT_OK : BOOT_FAILED;
		}
		boot_decide(e);
		return;
	}
	if (a)
		r->test->on_answer(r, r->state, tag, a);
	else if (r->test->on_silence)
		r->test->on_silence(r, r->state, tag, sends);
}

void probe_engine_tick(probe_engine_t *e, uint64_t now_us)
{
	e->now_us = now_us;
	for (size_t i = 0; i < PROBE_MAX_TXNS; i++) {
		struct txn *t = &e->txns[i];
		unsigned limit;

		if (!t->used || now_us < t->next_us)
			continue;
		if (t->timer) {
			struct probe_run *r = t->run;

			t->used = false;
			r->open--;
			r->test->on_timer(r, r->state, t->tag);
			continue;
		}
		limit = t->tcp ? 1 : t->silence ? silence_sends(e) : ASK_SENDS;
		if (t->sends < limit && t->sends < SILENCE_SENDS_MAX)
			transmit(e, t);
		else
			settle(e, t, NULL);
	}
	tcp_timeouts(e);
	start_tcp(e);
}

uint64_t probe_engine_deadline(const probe_engine_t *e)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < PROBE_MAX_TXNS; i++)
		if (e->txns[i].used && e->txns[i].next_us < next)
			next = e->txns[i].next_us;
	for (size_t i = 0; i < PROBE_MAX_CONNS; i++)
		if (e->conns[i].used && e->conns[i].connecting && e->conns[i].deadline_us < next)
			next = e->conns[i].deadline_us;
	if (!e->tcp_started && e->reached && next == UINT64_MAX)
		next = e->now_us; /* the TCP tests are due */
	return next;
}

bool probe_engine_done(const probe_engine_t *e)
{
	for (size_t i = 0; i < PROBE_MAX_TXNS; i++)
		if (e->txns[i].used)
			return false;
	for (size_t i = 0; i < PROBE_MAX_CONNS; i++)
		if (e->conns[i].used && e->conns[i].connecting)
			return false;
	for (size_t i = 0; i < e->nruns && !e->tcp_started && e->reached; i++)
		if (e->runs[i].test->tcp)
			return false;
	return true;
}

probe_engine_t *probe_engine_new(const struct probe_io *io, const struct sockaddr *primary,
				 const struct probe_test *const *tests, size_t ntests,
				 uint64_t now_us)
{
	probe_engine_t *e = calloc(1, sizeof(*e));
	int sock;

	if (!e || ntests > MAX_TESTS)
		goto fail;
	e->io = *io;
	memcpy(&e->role[PROBE_PP], primary, addr_len(primary));
	e->start_us = e->now_us = now_us;
	e->run_id = io->run_id ? io->run_id : (uint32_t)(now_us * 2654435761u) ^ 0x6e61746c;
	for (size_t i = 0; i < ntests; i++) {
		struct probe_run *r = &e->runs[e->nruns++];

		*r = (struct probe_run){.e = e, .test = tests[i]};
		r->state = calloc(1, tests[i]->state_size ? tests[i]->state_size : 1);
		if (!r->state)
			goto fail;
	}
	e->boot = (struct probe_run){.e = e};
	sock = probe_socket(&e->boot, NULL);
	if (sock < 0) {
		snprintf(e->boot_note, sizeof(e->boot_note), "cannot open a UDP socket");
		e->boot_done = true;
		return e;
	}
	e->udp_boot = BOOT_PENDING;
	probe_ask(&e->boot, 0, sock, PROBE_PP, 0, false);
	boot_over_tcp(e);
	return e;
fail:
	probe_engine_free(e);
	return NULL;
}

void probe_engine_free(probe_engine_t *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nruns; i++)
		free(e->runs[i].state);
	free(e);
}

void probe_engine_result(probe_engine_t *e, struct probe_result *res)
{
	memset(res, 0, sizeof(*res));
	res->binding_lifetime_s = -1;
	res->duration_us = e->now_us - e->start_us;
	res->tcp.duration_us = e->tcp_start_us ? e->now_us - e->tcp_start_us : 0;
	res->primary = e->role[PROBE_PP];
	if (e->have_alternate)
		res->alternate = e->role[PROBE_AA];
	for (size_t i = 0; i < e->nruns; i++) {
		struct probe_run *r = &e->runs[i];

		if (!r->started)
			probe_note(r, e->boot_note[0] ? e->boot_note : "stopped before it began");
		else if (r->open)
			probe_note(r, "stopped before every question was settled");
		r->test->finish(r, r->state, res);
	}
	res->sends = e->sends;
	res->answers = e->answers;
	/* No verdict leaves the engine beside one that contradicts it. */
	probe_result_reconcile(res);
}

const char *probe_run_note(const struct probe_run *r)
{
	return r->note[0] ? r->note : NULL;
}
