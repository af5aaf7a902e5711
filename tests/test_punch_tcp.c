/*
 * One side of a TCP traversal trial (probe/punchtcp.c), two sides at once,
 * over a scripted network: each connect the trials ask for meets what the
 * test says is there (the other probe's listener, a simultaneous open with
 * the other's own connect, a refusal, a decoy that forges or mirrors, a
 * host that says nothing, a black hole), and every byte a side sends is
 * delivered, in order, to the other end of its connection. What must hold:
 * success only with the other probe proven both ways on one connection,
 * which of a side's moves won, impostors named, bounds on connects,
 * retries and accepted connections.
 */
#include <string.h>

#include <CUnit/CUnit.h>

#include "addr.h"
#include "probe/punchtcp.h"
#include "testlib.h"

#define PUB_A   "203.0.113.1:40000"
#define PUB_B   "198.51.100.1:50000"
#define PRIV_B  "10.0.2.2:50000"
#define MAX_EV  256
#define MAX_H   64
#define STEP_US 1000 /* one-way delay of every event */

/* What a connect to an endpoint meets. */
enum fate {
	F_LISTENER,  /* the other probe's listener accepts it */
	F_SIMOPEN,   /* crosses the other probe's own connect: one connection */
	F_REFUSED,   /* a RST */
	F_FORGER,    /* a decoy: accepts, sends a message under a wrong key */
	F_MIRROR,    /* a decoy: accepts, sends back what it gets */
	F_SILENT,    /* accepts, says nothing */
	F_BLACKHOLE, /* nothing ever comes back */
};

enum ev_kind { EV_CONNECTED, EV_REFUSED, EV_ACCEPTED, EV_BYTES, EV_CLOSED };

struct ev {
	uint64_t at;
	int side, h;
	enum ev_kind kind;
	struct sockaddr_storage peer;
	uint8_t buf[PTCP_FRAME_MAX];
	size_t len;
};

/* A handle's other end: side and handle, or a decoy (side -1). */
struct end {
	bool used, open;
	int side, h;
	enum fate decoy;
};

struct net {
	struct ptcp_trial t[2];
	enum fate (*fate)(int side, const struct sockaddr *to, int attempt_no);
	struct ev ev[MAX_EV];
	size_t nev;
	uint64_t now;
	struct end end[2][MAX_H]; /* per side, per handle */
	int next_h[2];
	unsigned connects[2], closes[2];
	int waiting_h[2]; /* a side's connect that waits to cross the other's (F_SIMOPEN) */
};

static struct net *net; /* the one the callbacks serve */

static void push(int side, int h, enum ev_kind k, const uint8_t *buf, size_t len, const char *peer)
{
	struct ev *e;

	CU_ASSERT_FATAL(net->nev < MAX_EV);
	e = &net->ev[net->nev++];
	*e = (struct ev){.at = net->now + STEP_US, .side = side, .h = h, .kind = k, .len = len};
	if (buf)
		memcpy(e->buf, buf, len);
	if (peer)
		test_sockaddr(peer, &e->peer);
}

static const char *pub_of(int side)
{
	return side ? PUB_B : PUB_A;
}

static int new_handle(int side)
{
	CU_ASSERT_FATAL(net->next_h[side] < MAX_H);
	return net->next_h[side]++;
}

static void link_ends(int sa, int ha, int sb, int hb)
{
	net->end[sa][ha] = (struct end){true, true, sb, hb, 0};
	net->end[sb][hb] = (struct end){true, true, sa, ha, 0};
}

static int cb_connect(void *ctx, const struct sockaddr *to, unsigned ttl)
{
	int side = (int)(intptr_t)ctx, h = new_handle(side), o = !side;
	enum fate f = net->fate(side, to, (int)net->connects[side]++);

	(void)ttl;
	net->end[side][h] = (struct end){.used = true, .open = true, .side = -1, .decoy = f};
	switch (f) {
	case F_LISTENER: {
		int hb = new_handle(o);

		link_ends(side, h, o, hb);
		push(side, h, EV_CONNECTED, NULL, 0, NULL);
		push(o, hb, EV_ACCEPTED, NULL, 0, pub_of(side));
		break;
	}
	case F_SIMOPEN:
		if (net->waiting_h[o] >= 0) { /* the other's SYN is out: they cross */
			link_ends(side, h, o, net->waiting_h[o]);
			push(side, h, EV_CONNECTED, NULL, 0, NULL);
			push(o, net->waiting_h[o], EV_CONNECTED, NULL, 0, NULL);
			net->waiting_h[o] = -1;
		} else {
			net->waiting_h[side] = h;
		}
		break;
	case F_REFUSED:
		push(side, h, EV_REFUSED, NULL, 0, NULL);
		break;
	case F_FORGER:
	case F_MIRROR:
	case F_SILENT:
		push(side, h, EV_CONNECTED, NULL, 0, NULL);
		break;
	case F_BLACKHOLE:
		break;
	}
	return h;
}

/* A decoy's answer to what it got: a NatlabPunch of the session under a
 * wrong key, or the bytes themselves. */
static void decoy_answers(int side, int h, enum fate f, const uint8_t *msg, size_t len)
{
	if (f == F_MIRROR) {
		push(side, h, EV_BYTES, msg, len, NULL);
	} else if (f == F_FORGER) {
		struct punch_cfg forged = net->t[side].cfg;
		uint8_t buf[PTCP_FRAME_MAX];
		size_t n;

		forged.key[0] ^= 1;
		memcpy(forged.token, "BBBBBBBB", 8);
		n = punch_build(&forged, net->t[side].cfg.token, false, buf, sizeof(buf));
		push(side, h, EV_BYTES, buf, n, NULL);
	}
}

static int cb_send(void *ctx, int h, const uint8_t *msg, size_t len)
{
	int side = (int)(intptr_t)ctx;
	struct end *e = &net->end[side][h];

	CU_ASSERT_FATAL(e->used);
	if (!e->open)
		return -1;
	if (e->side < 0)
		decoy_answers(side, h, e->decoy, msg, len);
	else if (net->end[e->side][e->h].open)
		push(e->side, e->h, EV_BYTES, msg, len, NULL);
	return 0;
}

static void cb_close(void *ctx, int h)
{
	int side = (int)(intptr_t)ctx;
	struct end *e = &net->end[side][h];

	CU_ASSERT_FATAL(e->used);
	CU_ASSERT(e->open); /* closed once */
	e->open = false;
	net->closes[side]++;
	if (net->waiting_h[side] == h)
		net->waiting_h[side] = -1;
	if (e->side >= 0 && net->end[e->side][e->h].open)
		push(e->side, e->h, EV_CLOSED, NULL, 0, NULL);
}

static const struct ptcp_ops ops = {cb_connect, cb_send, cb_close};

/* Side `side`'s configuration: session s1, its token, the other's named;
 * candidates: the other's private endpoint (when priv), then its public. */
static struct punch_cfg side_cfg(int side, bool priv, bool passive)
{
	struct punch_cfg c = {.session = "s1", .key_len = 16, .bind_peer = true};

	memcpy(c.key, "k-k-k-k-k-k-k-k-", 16);
	memcpy(c.token, side ? "BBBBBBBB" : "AAAAAAAA", 8);
	memcpy(c.peer_token, side ? "AAAAAAAA" : "BBBBBBBB", 8);
	if (priv) {
		test_sockaddr(side ? "10.0.1.2:40000" : PRIV_B, &c.cand[c.ncand].addr);
		c.cand[c.ncand++].path = PUNCH_PATH_PRIVATE;
	}
	test_sockaddr(pub_of(!side), &c.cand[c.ncand++].addr);
	c.passive = passive;
	c.interval_us = 50000;
	c.max_rounds = 20;
	c.timeout_us = 4000000;
	c.open_ttl = 2;
	return c;
}

static void deliver(const struct ev *e)
{
	struct ptcp_trial *t = &net->t[e->side];

	if (!net->end[e->side][e->h].open)
		return;
	switch (e->kind) {
	case EV_CONNECTED:
		ptcp_connect_done(t, e->h, PTCP_CONNECTED, e->at);
		break;
	case EV_REFUSED:
		ptcp_connect_done(t, e->h, PTCP_REFUSED, e->at);
		break;
	case EV_ACCEPTED:
		ptcp_accepted(t, e->h, (const struct sockaddr *)&e->peer, e->at);
		break;
	case EV_BYTES:
		ptcp_bytes(t, e->h, e->buf, e->len, e->at);
		break;
	case EV_CLOSED:
		ptcp_bytes(t, e->h, NULL, 0, e->at);
		break;
	}
}

/* Run both sides until both are done (or side 1 is absent: only side 0). */
static void run(struct net *n, const struct punch_cfg *a, const struct punch_cfg *b)
{
	net = n;
	n->waiting_h[0] = n->waiting_h[1] = -1;
	ptcp_start(&n->t[0], a, &ops, (void *)(intptr_t)0, 0);
	if (b)
		ptcp_start(&n->t[1], b, &ops, (void *)(intptr_t)1, 0);
	for (int guard = 0; guard < 10000; guard++) {
		uint64_t next = ptcp_deadline(&n->t[0]);
		size_t first = 0;

		if (b && ptcp_deadline(&n->t[1]) < next)
			next = ptcp_deadline(&n->t[1]);
		for (size_t i = 0; i < n->nev; i++)
			if (n->ev[i].at < n->ev[first].at)
				first = i;
		if (n->nev && n->ev[first].at <= next) {
			struct ev e = n->ev[first];

			n->ev[first] = n->ev[--n->nev];
			n->now = e.at;
			deliver(&e);
			continue;
		}
		if (next == UINT64_MAX)
			return;
		n->now = next;
		ptcp_tick(&n->t[0], next);
		if (b)
			ptcp_tick(&n->t[1], next);
	}
	CU_FAIL("the trials did not end");
}

static enum fate fate_simopen(int side, const struct sockaddr *to, int k)
{
	(void)side, (void)to, (void)k;
	return F_SIMOPEN;
}

/* 3.4: both connect at once, the SYNs cross: one connection, both proven
 * on it; each side's connect won; two messages each, nothing else sent. */
static void test_simultaneous_open(void)
{
	static struct net n;
	struct punch_cfg a = side_cfg(0, false, false), b = side_cfg(1, false, false);

	memset(&n, 0, sizeof(n));
	n.fate = fate_simopen;
	run(&n, &a, &b);
	for (int s = 0; s < 2; s++) {
		const struct ptcp_trial *t = &n.t[s];

		CU_ASSERT_EQUAL(t->res.outcome, PUNCH_SUCCESS);
		CU_ASSERT_EQUAL(t->won, PTCP_WON_CONNECT);
		CU_ASSERT_TRUE(t->res.strict);
		CU_ASSERT_EQUAL(t->res.path, PUNCH_PATH_PUBLIC);
		CU_ASSERT_EQUAL(t->res.sent, 2);
		CU_ASSERT_EQUAL(t->res.verified, 2);
		CU_ASSERT_EQUAL(t->res.rejected, 0);
		CU_ASSERT_EQUAL(t->natt, 1);
		CU_ASSERT_EQUAL(t->att[0].outcome, PTCP_CONNECTED);
		CU_ASSERT_EQUAL(t->att[0].ttl, 2); /* the opening SYN's TTL */
		CU_ASSERT_TRUE(ptcp_winner(t) >= 0);
		/* proven one round trip after the connection: 3 one-way steps */
		CU_ASSERT_EQUAL(t->res.connect_us, 3 * STEP_US);
	}
}

/* A's SYN is refused (B's NAT answers unsolicited SYNs with a RST); B's
 * reaches A's listener. A tries again a round later at full TTL, and that
 * one reaches B's listener: both proven, A on the connection it accepted
 * or made, whichever proved first; the refusal is in A's attempts. */
static enum fate fate_a_refused_once(int side, const struct sockaddr *to, int k)
{
	(void)to;
	if (side == 0)
		return k == 0 ? F_REFUSED : F_LISTENER;
	return F_LISTENER;
}

static void test_refused_then_accepted(void)
{
	static struct net n;
	struct punch_cfg a = side_cfg(0, false, false), b = side_cfg(1, false, false);

	memset(&n, 0, sizeof(n));
	n.fate = fate_a_refused_once;
	run(&n, &a, &b);
	CU_ASSERT_EQUAL(n.t[0].res.outcome, PUNCH_SUCCESS);
	CU_ASSERT_EQUAL(n.t[1].res.outcome, PUNCH_SUCCESS);
	CU_ASSERT_EQUAL(n.t[0].att[0].outcome, PTCP_REFUSED);
	/* B's connect reached A's listener at once: A won by accepting, B by
	 * connecting; A's retry came after and was abandoned (or never made). */
	CU_ASSERT_EQUAL(n.t[0].won, PTCP_WON_ACCEPT);
	CU_ASSERT_EQUAL(n.t[1].won, PTCP_WON_CONNECT);
	CU_ASSERT_TRUE(n.t[0].res.strict); /* accepted from the very endpoint named */
	CU_ASSERT_EQUAL(n.t[0].res.path, PUNCH_PATH_PUBLIC);
	CU_ASSERT_TRUE(n.t[0].natt <= 2);
}

/* Refused everywhere: one connect and one retry per candidate, no more;
 * the trial fails at its time, every socket closed. */
static enum fate fate_refused(int side, const struct sockaddr *to, int k)
{
	(void)side, (void)to, (void)k;
	return F_REFUSED;
}

static void test_refused_bounded(void)
{
	static struct net n;
	struct punch_cfg a = side_cfg(0, true, false), b = side_cfg(1, true, false);

	memset(&n, 0, sizeof(n));
	n.fate = fate_refused;
	run(&n, &a, &b);
	for (int s = 0; s < 2; s++) {
		CU_ASSERT_EQUAL(n.t[s].res.outcome, PUNCH_FAILED);
		CU_ASSERT_EQUAL(n.t[s].natt, 4);       /* 2 candidates x (1 + 1 retry) */
		CU_ASSERT_EQUAL(n.t[s].att[2].ttl, 0); /* retries at full TTL */
		CU_ASSERT_EQUAL(n.t[s].res.rounds, 2);
		CU_ASSERT_EQUAL(n.connects[s], 4);
		CU_ASSERT_EQUAL(n.closes[s], 4);
		CU_ASSERT_EQUAL(ptcp_winner(&n.t[s]), -1);
	}
}

/* RFC 5128 6.1: A tries B's private endpoint first, and a decoy on A's
 * network owns that address: it forges (a wrong key), or mirrors A's own
 * message back. Either is rejected and named as an impostor at that
 * endpoint, never taken for B; A succeeds with B on the public endpoint. */
static enum fate decoy_kind;

static enum fate fate_decoy(int side, const struct sockaddr *to, int k)
{
	struct sockaddr_storage priv;

	(void)k;
	test_sockaddr(PRIV_B, &priv);
	if (side == 0 && addr_equal(to, (struct sockaddr *)&priv))
		return decoy_kind;
	return F_SIMOPEN;
}

static void test_decoys(void)
{
	static const enum fate kinds[] = {F_FORGER, F_MIRROR};

	for (size_t i = 0; i < 2; i++) {
		static struct net n;
		struct punch_cfg a = side_cfg(0, true, false), b = side_cfg(1, false, false);
		struct sockaddr_storage priv;

		memset(&n, 0, sizeof(n));
		decoy_kind = kinds[i];
		n.fate = fate_decoy;
		run(&n, &a, &b);
		test_sockaddr(PRIV_B, &priv);
		CU_ASSERT_EQUAL(n.t[0].res.outcome, PUNCH_SUCCESS);
		CU_ASSERT_EQUAL(n.t[0].res.path, PUNCH_PATH_PUBLIC);
		CU_ASSERT_EQUAL(n.t[0].res.impostors, 1);
		CU_ASSERT_TRUE(n.t[0].res.nimp == 1 &&
			       addr_equal((struct sockaddr *)&n.t[0].res.imp[0].addr,
					  (struct sockaddr *)&priv));
		CU_ASSERT_EQUAL(n.t[0].att[0].outcome, PTCP_REJECTED);
		CU_ASSERT_EQUAL(n.t[1].res.outcome, PUNCH_SUCCESS);
		CU_ASSERT_EQUAL(n.t[1].res.impostors, 0);
	}
}

/* A connection whose other end says nothing is closed after
 * PTCP_HELLO_US and counted, no impostor (it proved nothing either way);
 * with nothing else the trial fails at its time. */
static enum fate fate_silent(int side, const struct sockaddr *to, int k)
{
	(void)side, (void)to, (void)k;
	return F_SILENT;
}

static void test_silent(void)
{
	static struct net n;
	struct punch_cfg a = side_cfg(0, false, false);

	memset(&n, 0, sizeof(n));
	n.fate = fate_silent;
	run(&n, &a, NULL);
	CU_ASSERT_EQUAL(n.t[0].res.outcome, PUNCH_FAILED);
	CU_ASSERT_EQUAL(n.t[0].res.rejected, 1);
	CU_ASSERT_EQUAL(n.t[0].res.impostors, 0);
	CU_ASSERT_EQUAL(n.t[0].att[0].outcome, PTCP_REJECTED);
	CU_ASSERT_EQUAL(n.t[0].att[0].ended_us, STEP_US + PTCP_HELLO_US);
}

/* Connection reversal over TCP (3.2): B only listens (passive), A
 * connects to it: A wins by connecting, B by accepting; B makes no
 * connect at all. More than PTCP_MAX_ACCEPTED connections are closed. */
static enum fate fate_listener(int side, const struct sockaddr *to, int k)
{
	(void)side, (void)to, (void)k;
	return F_LISTENER;
}

static void test_reversal_and_accept_bound(void)
{
	static struct net n;
	struct punch_cfg a = side_cfg(0, false, false), b = side_cfg(1, false, true);

	memset(&n, 0, sizeof(n));
	n.fate = fate_listener;
	run(&n, &a, &b);
	CU_ASSERT_EQUAL(n.t[0].res.outcome, PUNCH_SUCCESS);
	CU_ASSERT_EQUAL(n.t[1].res.outcome, PUNCH_SUCCESS);
	CU_ASSERT_EQUAL(n.t[0].won, PTCP_WON_CONNECT);
	CU_ASSERT_EQUAL(n.t[1].won, PTCP_WON_ACCEPT);
	CU_ASSERT_EQUAL(n.connects[1], 0);
	/* The bound, by hand: a passive side offered six connections. */
	{
		static struct ptcp_trial t;
		struct sockaddr_storage from;

		memset(&n, 0, sizeof(n));
		net = &n;
		n.waiting_h[0] = n.waiting_h[1] = -1;
		ptcp_start(&t, &b, &ops, (void *)(intptr_t)1, 0);
		test_sockaddr(PUB_A, &from);
		for (int i = 0; i < 6; i++) {
			int h = new_handle(1);

			n.end[1][h] =
			    (struct end){.used = true, .open = true, .side = -1, .decoy = F_SILENT};
			ptcp_accepted(&t, h, (struct sockaddr *)&from, 10);
		}
		CU_ASSERT_EQUAL(t.accepted, PTCP_MAX_ACCEPTED);
		CU_ASSERT_EQUAL(t.refused_accepts, 2);
		CU_ASSERT_EQUAL(n.closes[1], 2);
	}
}

int test_punch_tcp_register(void)
{
	static const struct test_case tests[] = {
	    {"simultaneous open: one connection, both proven, both connects won",
	     test_simultaneous_open},
	    {"a refused SYN, retried at full TTL; the other's reached the listener",
	     test_refused_then_accepted},
	    {"refused everywhere: one retry per endpoint, then failed, all closed",
	     test_refused_bounded},
	    {"a decoy at the private endpoint, forging or mirroring: an impostor", test_decoys},
	    {"a connection that says nothing: closed after a second, no impostor", test_silent},
	    {"reversal: one side only listens; accepted connections bounded",
	     test_reversal_and_accept_bound},
	};

	return TEST_SUITE("TCP traversal trials (scripted network)", tests);
}
