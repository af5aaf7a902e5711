/*
 * Traversal trials on a simulated network: two probes, each behind its own
 * NAT (natemu's translation core, with the settings under test), and a
 * rendezvous server S that learns each probe's public endpoint from the
 * socket it will punch with and starts both at once.
 *
 *   A 10.0.1.2:40000 -- [NAT A 203.0.113.1] --+-- S 203.0.113.10:3478
 *                                             |
 *   B 10.0.2.2:40000 -- [NAT B 198.51.100.1] -+
 *
 * Every pair of mapping x filtering behaviours (81 pairs), with ports kept
 * and with random ports: UDP hole punching and connection reversal must do
 * exactly what probe/predict.c says, on both sides. With loss, a success is
 * still only ever one the rules allow; packets that do not verify never
 * count.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <arpa/inet.h>

#include "addr.h"
#include "probe/guess.h"
#include "probe/predict.h"
#include "probe/punch.h"
#include "probe/trials.h"
#include "testbeds/natemu/nat.h"
#include "testlib.h"

#define INSIDE_A   0x0A000102u /* 10.0.1.2 */
#define INSIDE_B   0x0A000202u /* 10.0.2.2 */
#define PUBLIC_A   0xCB007101u /* 203.0.113.1 */
#define PUBLIC_B   0xC6336401u /* 198.51.100.1 */
#define SERVER_IP  0xCB00710Au /* 203.0.113.10 */
#define PROBE_PORT 40000       /* a host's socket i: PROBE_PORT + i; socket 0 registers */
#define S_PORT     3478
#define ACCESS_US  1000  /* host to its NAT */
#define CORE_US    10000 /* a NAT to S or to the other NAT: real one-way delay */
#define MAX_FLIGHT 2048
#define MAX_SOCKS  GUESS_SOCKETS

enum { SIDE_A, SIDE_B };

struct packet {
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port;
	bool inside;         /* on a host's access link, not yet through its NAT */
	unsigned ttl;        /* 0: enough for anywhere; else hops it may cross */
	int side;            /* whose access link */
	uint64_t at_us, seq; /* packets due at once arrive in the order sent */
	size_t len;
	uint8_t data[192];
};

struct sim;

struct send_ctx {
	struct sim *s;
	int side;
	uint16_t port;
};

struct host {
	natemu_t *nat;
	uint32_t inside_ip, public_ip;
	struct sockaddr_storage registered; /* what S saw */
	bool have_registered, started;
	struct predict_side cls;    /* its classification, as the rendezvous passes it on */
	struct punch_cfg cfg;       /* session, key, token, timing; the candidates at the start */
	struct guess_birthday plan; /* birthday punching's */
	size_t nsock;
	struct punch_trial trial[MAX_SOCKS];
	struct send_ctx ctx[MAX_SOCKS];
	uint16_t mapped[MAX_SOCKS]; /* the public port socket i's packets to the other
				       NAT took */
};

struct sim {
	struct host h[2];
	enum predict_technique tech;
	struct guess_bounds bounds;
	struct packet flight[MAX_FLIGHT];
	size_t nflight;
	uint64_t now_us, rng, sent;
	unsigned loss_percent;
	bool forge;       /* a third party sends packets with a wrong key at both */
	unsigned expired; /* packets whose TTL ran out past their own NAT */
	unsigned forged;
};

static bool lost(struct sim *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng % 100 < s->loss_percent;
}

static void fly(struct sim *s, struct packet p, uint64_t delay)
{
	if (lost(s) || s->nflight == MAX_FLIGHT)
		return;
	p.at_us = s->now_us + delay;
	p.seq = s->sent++;
	s->flight[s->nflight++] = p;
}

/* A host sends from one of its sockets: onto its access link. */
static int host_send(struct sim *s, int side, uint16_t port, uint32_t dst_ip, uint16_t dst_port,
		     const uint8_t *msg, size_t len, unsigned ttl)
{
	struct packet p = {.src_ip = s->h[side].inside_ip,
			   .src_port = port,
			   .dst_ip = dst_ip,
			   .dst_port = dst_port,
			   .inside = true,
			   .side = side,
			   .ttl = ttl,
			   .len = len};

	memcpy(p.data, msg, len < sizeof(p.data) ? len : sizeof(p.data));
	fly(s, p, ACCESS_US);
	return 0;
}

static int punch_send(void *ctx, const struct sockaddr *to, const uint8_t *msg, size_t len,
		      unsigned ttl)
{
	const struct send_ctx *c = ctx;
	const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)to;

	return host_send(c->s, c->side, c->port, ntohl(in->sin_addr.s_addr), ntohs(in->sin_port),
			 msg, len, ttl);
}

/* S: the registration's source is the probe's public endpoint; once both
 * are known, both are told to start at the same moment. */
static void server(struct sim *s, const struct packet *p)
{
	int side = p->len == 1 ? p->data[0] : -1;

	if (side != SIDE_A && side != SIDE_B)
		return;
	test_sockaddr_v4(p->src_ip, p->src_port, &s->h[side].registered);
	s->h[side].have_registered = true;
	if (!s->h[SIDE_A].have_registered || !s->h[SIDE_B].have_registered)
		return;
	for (int x = 0; x < 2; x++) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&s->h[x].registered;
		struct packet go = {.src_ip = SERVER_IP,
				    .src_port = S_PORT,
				    .dst_ip = ntohl(in->sin_addr.s_addr),
				    .dst_port = ntohs(in->sin_port),
				    .len = 2};

		memcpy(go.data, "GO", 2);
		fly(s, go, CORE_US);
	}
}

/* The technique's part of this side, as natprobe punch's punch_config and
 * birthday_prepare do it: candidates, guesses, sockets. */
static void host_start(struct sim *s, int side)
{
	struct host *h = &s->h[side], *o = &s->h[!side];
	const struct sockaddr *pub = (const struct sockaddr *)&o->registered;
	struct punch_cfg cfg = h->cfg, base;

	h->started = true;
	cfg.bind_peer = true; /* the other's token, as the rendezvous names it */
	memcpy(cfg.peer_token, o->cfg.token, PUNCH_TOKEN_LEN);
	cfg.ncand = 0;
	if (s->tech == PREDICT_UDP_PORT_PREDICTION && predict_sequential(&o->cls))
		cfg.ncand = guess_window(pub, o->cls.delta, PUNCH_MAX_PREDICTED, cfg.cand,
					 PUNCH_MAX_CANDIDATES - 1);
	cfg.cand[cfg.ncand++] = (struct punch_candidate){o->registered, PUNCH_PATH_PUBLIC, false};
	h->nsock = 1;
	if (s->tech == PREDICT_UDP_BIRTHDAY) {
		guess_birthday_plan(&h->cls, &o->cls, addr_port(pub), &s->bounds,
				    s->rng + (uint64_t)side, &h->plan);
		base = cfg;
		if (h->plan.role == PREDICT_ROLE_EASY)
			guess_easy_cfg(&base, &h->plan, pub, &cfg);
		if (h->plan.role == PREDICT_ROLE_HARD)
			h->nsock = h->plan.sockets;
	}
	for (size_t i = 0; i < h->nsock; i++) {
		struct punch_cfg c;

		guess_hard_cfg(&cfg, (unsigned)i, &c);
		h->ctx[i] = (struct send_ctx){s, side, (uint16_t)(PROBE_PORT + i)};
		punch_start(&h->trial[i], &c, punch_send, &h->ctx[i], s->now_us);
	}
}

static void host_receive(struct sim *s, int side, const struct packet *p)
{
	struct host *h = &s->h[side];
	struct sockaddr_storage from;
	size_t i = (size_t)(p->dst_port - PROBE_PORT);

	if (p->dst_port < PROBE_PORT)
		return;
	if (p->len == 2 && !memcmp(p->data, "GO", 2) && p->src_ip == SERVER_IP) {
		if (!h->started && i == 0)
			host_start(s, side);
		return;
	}
	if (!h->started || i >= h->nsock)
		return;
	test_sockaddr_v4(p->src_ip, p->src_port, &from);
	punch_receive(&h->trial[i], (struct sockaddr *)&from, p->data, p->len, s->now_us);
}

/* Through a NAT, from side `from`; false when it does not forward. */
static bool translate(natemu_t *nat, enum natemu_side from, struct packet *p, uint64_t now_us)
{
	struct natemu_pkt k = {.proto = IPPROTO_UDP,
			       .src_ip = p->src_ip,
			       .dst_ip = p->dst_ip,
			       .src_port = p->src_port,
			       .dst_port = p->dst_port};
	struct natemu_result r = natemu_process(nat, from, &k, now_us / 1000);

	if (r.verdict != NATEMU_FORWARD || r.to == from)
		return false; /* dropped, or hairpinned: no hairpin in this network */
	p->src_ip = r.pkt.src_ip;
	p->dst_ip = r.pkt.dst_ip;
	p->src_port = r.pkt.src_port;
	p->dst_port = r.pkt.dst_port;
	return true;
}

/* Out through its own NAT; which public port a socket's packets toward
 * the other NAT took is noted (the ground truth of the guesses). */
static void leave(struct sim *s, struct packet *p)
{
	struct host *h = &s->h[p->side];
	size_t sock = (size_t)(p->src_port - PROBE_PORT);

	if (!translate(h->nat, NATEMU_INSIDE, p, s->now_us))
		return;
	if (p->dst_ip == s->h[!p->side].public_ip && sock < MAX_SOCKS)
		h->mapped[sock] = p->src_port;
	/* The NAT took one hop, the router between the NATs the next. */
	if (p->ttl && p->ttl <= 2) {
		s->expired++;
		return;
	}
	p->inside = false;
	fly(s, *p, CORE_US);
}

static void deliver(struct sim *s, struct packet *p)
{
	if (p->inside) {
		leave(s, p);
		return;
	}
	if (p->dst_ip == SERVER_IP) {
		server(s, p);
		return;
	}
	for (int side = 0; side < 2; side++) {
		if (p->dst_ip == s->h[side].public_ip) {
			if (translate(s->h[side].nat, NATEMU_OUTSIDE, p, s->now_us))
				fly(s, *p, ACCESS_US);
			return;
		}
		if (p->dst_ip == s->h[side].inside_ip) {
			host_receive(s, side, p);
			return;
		}
	}
}

/* One side's trials as one, as natprobe punch counts them. */
static struct punch_result outcome(const struct host *h)
{
	struct punch_result r;

	guess_merge(h->trial, h->nsock, &r);
	if (!h->started)
		r.outcome = PUNCH_SETUP_FAILED;
	return r;
}

static bool both_done(const struct sim *s)
{
	return s->h[0].started && s->h[1].started && outcome(&s->h[0]).outcome != PUNCH_PENDING &&
	       outcome(&s->h[1]).outcome != PUNCH_PENDING;
}

static uint64_t next_event(const struct sim *s, size_t *first)
{
	uint64_t next = UINT64_MAX;

	*first = MAX_FLIGHT;
	for (int side = 0; side < 2; side++) {
		uint64_t d = guess_deadline(s->h[side].trial, s->h[side].nsock);

		if (s->h[side].started && d < next)
			next = d;
	}
	for (size_t i = 0; i < s->nflight; i++) {
		const struct packet *p = &s->flight[i];

		if (p->at_us < next || (p->at_us == next &&
					(*first == MAX_FLIGHT || p->seq < s->flight[*first].seq))) {
			next = p->at_us;
			*first = i;
		}
	}
	return next;
}

/* A packet with the session's name and a wrong key, from the other probe's
 * public endpoint (spoofed on the access link, past the NAT's filter), at
 * each probe: it must never count. */
static void forge(struct sim *s)
{
	struct punch_cfg bad = s->h[0].cfg;
	uint8_t msg[192];
	size_t len;

	memset(bad.key, 0x5a, sizeof(bad.key));
	bad.token[0] ^= 0xff;
	len = punch_build(&bad, s->h[0].cfg.token, false, msg, sizeof(msg));
	for (int side = 0; side < 2 && len; side++) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&s->h[!side].registered;
		struct packet p = {.src_ip = ntohl(in->sin_addr.s_addr),
				   .src_port = ntohs(in->sin_port),
				   .dst_ip = s->h[side].inside_ip,
				   .dst_port = PROBE_PORT,
				   .len = len};

		memcpy(p.data, msg, len);
		fly(s, p, ACCESS_US);
		s->forged++;
	}
}

static void tick(struct sim *s)
{
	for (int side = 0; side < 2; side++)
		for (size_t i = 0; s->h[side].started && i < s->h[side].nsock; i++)
			punch_tick(&s->h[side].trial[i], s->now_us);
}

/* Register both (B 3 ms after A), then run until both trials end, and a
 * grace period for the last answers; 10 simulated seconds at most. */
static void run(struct sim *s)
{
	uint64_t end = s->now_us + 10000000, grace = 0;

	host_send(s, SIDE_A, PROBE_PORT, SERVER_IP, S_PORT, (const uint8_t[]){SIDE_A}, 1, 0);
	s->now_us += 3000;
	host_send(s, SIDE_B, PROBE_PORT, SERVER_IP, S_PORT, (const uint8_t[]){SIDE_B}, 1, 0);
	while (s->now_us < end) {
		size_t first;
		uint64_t next = next_event(s, &first);

		if (both_done(s) && !grace)
			grace = s->now_us + 200000;
		if (next == UINT64_MAX || (grace && next > grace))
			break;
		if (next > s->now_us)
			s->now_us = next;
		if (s->forge && s->h[0].started && s->h[1].started && !s->forged)
			forge(s);
		if (first < MAX_FLIGHT) {
			struct packet p = s->flight[first];

			s->flight[first] = s->flight[--s->nflight];
			deliver(s, &p);
		} else {
			tick(s);
		}
	}
}

static const enum probe_mapping as_mapping[3] = {PROBE_MAPPING_EI, PROBE_MAPPING_AD,
						 PROBE_MAPPING_APD};
static const enum probe_filtering as_filtering[3] = {PROBE_FILTERING_EI, PROBE_FILTERING_AD,
						     PROBE_FILTERING_APD};
static const enum probe_ports as_ports[3] = {PROBE_PORTS_PRESERVING, PROBE_PORTS_SEQUENTIAL,
					     PROBE_PORTS_RANDOM};

/* The two NATs: behaviours, port patterns, the sequential step, and the
 * port range (0: natemu's default, 1024-65535). */
struct pair {
	int m[2], f[2];
	enum natemu_ports ports[2];
	unsigned delta;
	uint16_t port_lo, port_hi;
};

/* One side as natprobe would classify its NAT (natemu's settings are the
 * ground truth the classifier is tested against elsewhere). */
static struct predict_side side_of(const struct pair *pr, int side)
{
	unsigned delta = pr->delta ? pr->delta : 1;

	return (struct predict_side){as_mapping[pr->m[side]], as_filtering[pr->f[side]],
				     as_ports[pr->ports[side]],
				     pr->ports[side] == NATEMU_PORTS_SEQUENTIAL ? delta : 0};
}

/* What a trial runs: the technique, the network's loss and forgeries, and
 * birthday punching's bounds (NULL: natprobe punch's). */
struct setting {
	enum predict_technique t;
	unsigned loss;
	bool forge;
	const struct guess_bounds *bounds;
};

static struct sim the_sim; /* 1 MB: one at a time */

static void sim_setup(struct sim *s, const struct setting *st, const struct pair *pr, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->tech = st->t;
	s->loss_percent = st->loss;
	s->forge = st->forge;
	if (st->bounds)
		s->bounds = *st->bounds;
	else
		guess_bounds_default(&s->bounds);
	s->rng = seed * 0x9E3779B97F4A7C15ull + 7;
	s->now_us = 1000000;
	for (int side = 0; side < 2; side++) {
		struct natemu_cfg cfg;
		struct host *h = &s->h[side];

		natemu_cfg_default(&cfg);
		cfg.mapping = (enum natemu_dependence)pr->m[side];
		cfg.filtering = (enum natemu_dependence)pr->f[side];
		cfg.ports = pr->ports[side];
		cfg.delta = pr->delta ? pr->delta : 1;
		if (pr->port_lo) {
			cfg.port_lo = pr->port_lo;
			cfg.port_hi = pr->port_hi;
		}
		cfg.hairpin = NATEMU_HAIRPIN_OFF;
		cfg.pool[0] = side == SIDE_A ? PUBLIC_A : PUBLIC_B;
		cfg.npool = 1;
		h->nat = natemu_new(&cfg, seed * 2 + (uint64_t)side);
		h->inside_ip = side == SIDE_A ? INSIDE_A : INSIDE_B;
		h->public_ip = cfg.pool[0];
		h->cls = side_of(pr, side);
		snprintf(h->cfg.session, sizeof(h->cfg.session), "trial-%llu",
			 (unsigned long long)seed);
		memcpy(h->cfg.key, "0123456789abcdef0123456789abcdef", 32);
		h->cfg.key_len = 32;
		for (int i = 0; i < PUNCH_TOKEN_LEN; i++)
			h->cfg.token[i] = (uint8_t)(seed * 31 + (uint64_t)(side * 101 + i * 7));
		h->cfg.interval_us = 50000;
		h->cfg.max_rounds = 20;
		h->cfg.timeout_us = 2000000;
		h->cfg.open_ttl = 2; /* the opening round opens this NAT only */
	}
}

static void sim_free(struct sim *s)
{
	for (int side = 0; side < 2; side++)
		natemu_free(s->h[side].nat);
}

static void sides(const struct pair *pr, struct predict_side ps[2])
{
	for (int side = 0; side < 2; side++)
		ps[side] = side_of(pr, side);
}

/* One trial on pair pr; each side's outcome. The simulation stays readable
 * (plans, mappings) until the next trial. */
static const struct sim *trial(const struct setting *st, const struct pair *pr, uint64_t seed,
			       struct punch_result out[2])
{
	struct predict_side ps[2];
	struct sim *s = &the_sim;

	sides(pr, ps);
	sim_setup(s, st, pr, seed);
	if (st->t == PREDICT_CONNECTION_REVERSAL)
		s->h[predict_reversal_passive(&ps[0], &ps[1])].cfg.passive = true;
	run(s);
	/* Every active side's opening round died between the NATs. */
	if (s->h[0].started && s->h[1].started && !st->loss)
		CU_ASSERT_TRUE(s->expired >= (st->t == PREDICT_CONNECTION_REVERSAL ? 1u : 2u));
	for (int side = 0; side < 2; side++)
		out[side] = outcome(&s->h[side]);
	if (st->forge && s->h[0].started && s->h[1].started) {
		CU_ASSERT_TRUE(s->forged > 0);
		CU_ASSERT_TRUE(out[0].rejected + out[1].rejected > 0 || st->loss);
	}
	sim_free(s);
	return s;
}

static const char *const dep[3] = {"EI", "AD", "APD"};
static const char *const port_word[3] = {"preserve", "sequential", "random"};

/* Packets one side may send in a trial, at most: rounds to every
 * candidate, the guesses, answers (4 a round) and three lingering. */
static unsigned max_sent(enum predict_technique t)
{
	unsigned rounds = 20, answers = 20 * 4 + 3;

	if (t == PREDICT_UDP_PORT_PREDICTION)
		return rounds * (1 + PUNCH_MAX_PREDICTED) + answers;
	if (t == PREDICT_UDP_BIRTHDAY) /* the easy side's; the hard side's is less */
		return rounds + GUESS_PROBES + answers;
	return rounds + answers;
}

/* Every pair, without loss: each side's outcome is the prediction, where
 * it says works or fails. Returns the cells a technique adds to hole
 * punching (works, where hole punching fails). */
static unsigned grid(enum predict_technique t, enum natemu_ports pa, enum natemu_ports pb,
		     uint64_t seed0)
{
	unsigned works = 0, cells = 0, added = 0;

	for (int i = 0; i < 81; i++) {
		struct pair pr = {{i % 3, i / 3 % 3}, {i / 9 % 3, i / 27}, {pa, pb}, 0, 0, 0};
		struct predict_side ps[2];
		struct punch_result out[2];
		struct predict want;
		bool ok = true, by_guess = false;

		sides(&pr, ps);
		want = predict_technique(t, &ps[0], &ps[1]);
		trial(&(struct setting){t, 0, i % 9 == 0, NULL}, &pr, seed0 + (uint64_t)i, out);
		for (int side = 0; side < 2; side++) {
			bool success = out[side].outcome == PUNCH_SUCCESS;

			ok = ok && out[side].outcome != PUNCH_SETUP_FAILED;
			if (want.expect != PREDICT_DEPENDS)
				ok = ok && success == (want.expect == PREDICT_WORKS);
			if (success)
				ok = ok && out[side].path == PUNCH_PATH_PUBLIC &&
				     out[side].connect_us < 1000000 &&
				     out[side].sent <= max_sent(t);
			by_guess = by_guess || (success && out[side].predicted);
		}
		if (want.expect == PREDICT_WORKS &&
		    predict_technique(PREDICT_UDP_HOLE_PUNCHING, &ps[0], &ps[1]).expect !=
			PREDICT_WORKS) {
			added++;
			ok = ok && by_guess; /* it was the guesses that did it */
		}
		CU_ASSERT_TRUE(ok);
		if (!ok)
			printf("\n    technique %d A %s/%s B %s/%s ports %s/%s: predicted %s, got "
			       "%s / %s",
			       t, dep[pr.m[0]], dep[pr.f[0]], dep[pr.m[1]], dep[pr.f[1]],
			       port_word[pa], port_word[pb], predict_expect_name(want.expect),
			       punch_outcome_name(out[0].outcome),
			       punch_outcome_name(out[1].outcome));
		works += want.expect == PREDICT_WORKS;
		cells++;
	}
	/* The rules are not trivially one way: both outcomes occur (where
	 * guesses join, every cell may work: the caller says). */
	CU_ASSERT_TRUE(works > 0 && (works < cells || t >= PREDICT_UDP_PORT_PREDICTION));
	return added;
}

/* Hole punching and connection reversal over every pair of mapping x
 * filtering, under every pair of port allocations (9 x 81 cells each):
 * how a NAT picks its ports must not change what either technique does. */
static void test_punch_grid(void)
{
	for (int p = 0; p < 9; p++)
		grid(PREDICT_UDP_HOLE_PUNCHING, (enum natemu_ports)(p % 3),
		     (enum natemu_ports)(p / 3), 1000 + 100 * (uint64_t)p);
}

static void test_reversal_grid(void)
{
	for (int p = 0; p < 9; p++)
		grid(PREDICT_CONNECTION_REVERSAL, (enum natemu_ports)(p % 3),
		     (enum natemu_ports)(p / 3), 3000 + 100 * (uint64_t)p);
}

/* Port prediction over every pair, with sequential ports on both sides, on
 * one, and on neither: as predicted in every cell, on both sides; where it
 * adds to hole punching, a guessed port carried the proof. */
static void test_prediction_grid(void)
{
	unsigned both = grid(PREDICT_UDP_PORT_PREDICTION, NATEMU_PORTS_SEQUENTIAL,
			     NATEMU_PORTS_SEQUENTIAL, 6000);
	unsigned one =
	    grid(PREDICT_UDP_PORT_PREDICTION, NATEMU_PORTS_SEQUENTIAL, NATEMU_PORTS_RANDOM, 6100);
	unsigned other =
	    grid(PREDICT_UDP_PORT_PREDICTION, NATEMU_PORTS_PRESERVE, NATEMU_PORTS_SEQUENTIAL, 6200);
	unsigned none =
	    grid(PREDICT_UDP_PORT_PREDICTION, NATEMU_PORTS_RANDOM, NATEMU_PORTS_RANDOM, 6300);

	printf("\n    cells beyond hole punching: %u both sequential, %u one, %u the "
	       "other, "
	       "%u random ",
	       both, one, other, none);
	/* Both sequential: every pair of mappings works (36 more than hole punching).
	 */
	CU_ASSERT_EQUAL(both, 36);
	CU_ASSERT_TRUE(one > 0 && other > 0);
	CU_ASSERT_EQUAL(none, 0); /* random ports: nothing to predict */
}

/* A step of 3: the guesses follow it. */
static void test_prediction_delta(void)
{
	struct pair pr = {{2, 2}, {2, 2}, {NATEMU_PORTS_SEQUENTIAL, NATEMU_PORTS_SEQUENTIAL},
			  3,      0,      0};
	struct punch_result out[2];

	trial(&(struct setting){PREDICT_UDP_PORT_PREDICTION, 0, false, NULL}, &pr, 6400, out);
	CU_ASSERT_TRUE(out[0].outcome == PUNCH_SUCCESS && out[1].outcome == PUNCH_SUCCESS);
	CU_ASSERT_TRUE(out[0].predicted && !out[0].strict);
}

/* Birthday punching over every pair: with sequential ports every cell is
 * judged (the 12 where one side keeps its endpoint behind a filter of
 * ports and the other's mapping is dependent are beyond hole punching);
 * with random ones over the full range, those 12 are chance, `depends`,
 * and not judged here (test_birthday_rate measures them). */
static void test_birthday_grid(void)
{
	CU_ASSERT_EQUAL(
	    grid(PREDICT_UDP_BIRTHDAY, NATEMU_PORTS_SEQUENTIAL, NATEMU_PORTS_SEQUENTIAL, 7000), 12);
	CU_ASSERT_EQUAL(grid(PREDICT_UDP_BIRTHDAY, NATEMU_PORTS_RANDOM, NATEMU_PORTS_RANDOM, 7100),
			0);
}

/* A: endpoint-independent mapping, filter of ports (the easy side); B:
 * dependent mapping (the hard side), its ports as given. */
static struct pair easy_hard(enum natemu_ports hard_ports, uint16_t lo, uint16_t hi)
{
	return (struct pair){{0, 2}, {2, 1}, {NATEMU_PORTS_PRESERVE, hard_ports}, 1, lo, hi};
}

/* Whether one of the easy side's guesses is a port the hard NAT gave one of
 * the hard side's sockets toward it: the only way a success can come. */
static bool guess_hit(const struct sim *s)
{
	const struct host *easy = &s->h[SIDE_A], *hard = &s->h[SIDE_B];

	for (size_t g = 0; g < easy->plan.nport; g++)
		for (size_t i = 0; i < hard->nsock; i++)
			if (hard->mapped[i] && hard->mapped[i] == easy->plan.port[g])
				return true;
	return false;
}

/* Sequential ports on the hard side: the same success, for a few dozen
 * packets instead of some 1300. */
static void test_birthday_sequential(void)
{
	struct pair pr = easy_hard(NATEMU_PORTS_SEQUENTIAL, 0, 0);
	struct punch_result out[2];
	const struct sim *s =
	    trial(&(struct setting){PREDICT_UDP_BIRTHDAY, 0, false, NULL}, &pr, 7200, out);

	CU_ASSERT_TRUE(out[0].outcome == PUNCH_SUCCESS && out[1].outcome == PUNCH_SUCCESS);
	CU_ASSERT_TRUE(out[0].predicted);
	CU_ASSERT_EQUAL(s->h[SIDE_A].plan.role, PREDICT_ROLE_EASY);
	CU_ASSERT_EQUAL(s->h[SIDE_B].plan.role, PREDICT_ROLE_HARD);
	CU_ASSERT_TRUE(s->h[SIDE_A].plan.sequential && s->h[SIDE_B].plan.sequential);
	CU_ASSERT_EQUAL(s->h[SIDE_B].nsock, GUESS_SEQ_SOCKETS);
	CU_ASSERT_TRUE(out[0].sent + out[1].sent <= 100);
}

/*
 * Random ports over a 1024-port range, 16 sockets against 64 guesses: over
 * 300 seeded trials the share of successes is the predicted odds (0.64),
 * within four standard deviations of the binomial; a trial succeeds, on
 * both sides, exactly when a guess hit a hard mapping.
 */
static void test_birthday_rate(void)
{
	const struct guess_bounds b = {16, 64, 1024, 2047, true};
	const unsigned n = 300;
	struct pair pr = easy_hard(NATEMU_PORTS_RANDOM, 1024, 2047);
	unsigned wins = 0, mismatched = 0;
	double p = 0, sd;

	for (unsigned k = 0; k < n; k++) {
		struct punch_result out[2];
		const struct sim *s = trial(&(struct setting){PREDICT_UDP_BIRTHDAY, 0, false, &b},
					    &pr, 8000 + k, out);
		bool won = out[SIDE_A].outcome == PUNCH_SUCCESS;

		p = s->h[SIDE_A].plan.predicted;
		wins += won;
		mismatched += won != guess_hit(s) || won != (out[SIDE_B].outcome == PUNCH_SUCCESS);
		mismatched += won && !out[SIDE_A].predicted;
	}
	sd = sqrt(n * p * (1 - p));
	printf("\n    %u of %u trials succeeded; predicted %.1f (%.3f each, sd %.1f) ", wins, n,
	       n * p, p, sd);
	CU_ASSERT_DOUBLE_EQUAL(p, guess_birthday_odds(16, 64, 1023), 1e-12);
	CU_ASSERT_EQUAL(mismatched, 0);
	CU_ASSERT_TRUE(fabs(wins - n * p) <= 4 * sd);
}

/* 10% loss on every link, and forged packets: a success still needs a
 * guess that really hit; never one without. (A trial whose registration or
 * start was lost does not start: outside the count, as setup failures.) */
static void test_birthday_loss(void)
{
	const struct guess_bounds b = {16, 64, 1024, 2047, true};
	struct pair pr = easy_hard(NATEMU_PORTS_RANDOM, 1024, 2047);
	unsigned started = 0, wins = 0, false_success = 0;

	for (unsigned k = 0; k < 200; k++) {
		struct punch_result out[2];
		const struct sim *s = trial(&(struct setting){PREDICT_UDP_BIRTHDAY, 10, true, &b},
					    &pr, 9000 + k, out);
		bool won = out[0].outcome == PUNCH_SUCCESS || out[1].outcome == PUNCH_SUCCESS;

		started +=
		    out[0].outcome != PUNCH_SETUP_FAILED && out[1].outcome != PUNCH_SETUP_FAILED;
		wins += won;
		false_success += won && !guess_hit(s);
	}
	printf("\n    %u of %u trials succeeded, %u without a hit ", wins, started, false_success);
	CU_ASSERT_EQUAL(false_success, 0);
	CU_ASSERT_TRUE(wins * 4 >= started && started > 50);
}

/* The odds: exact small cases, and Tailscale's numbers for 256 sockets
 * (256 probes 64%, 1024 98.3%, 2048 99.97%) against 1 - (1 - N/R)^M. */
static void test_birthday_odds(void)
{
	const double r = 64512;

	CU_ASSERT_DOUBLE_EQUAL(guess_birthday_odds(1, 1, 4), 0.25, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(guess_birthday_odds(2, 2, 4), 5.0 / 6, 1e-12); /* 1 - 1/C(4,2) */
	CU_ASSERT_DOUBLE_EQUAL(guess_birthday_odds(3, 2, 4), 1, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(guess_birthday_odds(0, 10, 4), 0, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(guess_birthday_odds(256, 256, 64512), 0.64, 0.01);
	CU_ASSERT_DOUBLE_EQUAL(guess_birthday_odds(256, 1024, 64512), 0.983, 0.002);
	CU_ASSERT_DOUBLE_EQUAL(guess_birthday_odds(256, 2048, 64512), 0.9997, 0.0003);
	CU_ASSERT_DOUBLE_EQUAL(guess_birthday_odds(256, 1024, 64512), 1 - pow(1 - 256 / r, 1024),
			       0.001);
}

/* Who does what, and the guesses: distinct, in range, never the registered
 * port; a sequential hard side's next ports; nothing where hole punching
 * works or both sides are hard. */
static void test_birthday_plan(void)
{
	static struct guess_birthday plan;
	struct predict_side easy = {PROBE_MAPPING_EI, PROBE_FILTERING_APD, PROBE_PORTS_PRESERVING,
				    0};
	struct predict_side hard = {PROBE_MAPPING_APD, PROBE_FILTERING_APD, PROBE_PORTS_RANDOM, 0};
	struct predict_side seq = {PROBE_MAPPING_AD, PROBE_FILTERING_EI, PROBE_PORTS_SEQUENTIAL, 2};
	struct predict_side open = {PROBE_MAPPING_EI, PROBE_FILTERING_AD, PROBE_PORTS_PRESERVING,
				    0};
	struct guess_bounds b;
	static uint8_t seen[65536];
	bool ok = true;

	guess_bounds_default(&b);
	guess_birthday_plan(&easy, &hard, 5000, &b, 1, &plan);
	CU_ASSERT_EQUAL(plan.role, PREDICT_ROLE_EASY);
	CU_ASSERT_TRUE(plan.sockets == 256 && plan.probes == 1024 && plan.nport == 1024);
	CU_ASSERT_TRUE(!plan.sequential && !plan.range_known);
	CU_ASSERT_DOUBLE_EQUAL(plan.predicted, guess_birthday_odds(256, 1024, 64511), 1e-12);
	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < plan.nport; i++) {
		ok = ok && plan.port[i] >= 1024 && plan.port[i] != 5000 && !seen[plan.port[i]];
		seen[plan.port[i]] = 1;
	}
	CU_ASSERT_TRUE(ok);
	guess_birthday_plan(&hard, &easy, 5000, &b, 1, &plan);
	CU_ASSERT_TRUE(plan.role == PREDICT_ROLE_HARD && plan.nport == 0 && plan.sockets == 256);
	guess_birthday_plan(&easy, &seq, 5000, &b, 1, &plan);
	CU_ASSERT_TRUE(plan.role == PREDICT_ROLE_EASY && plan.sequential &&
		       plan.sockets == GUESS_SEQ_SOCKETS && plan.nport == 64);
	CU_ASSERT_TRUE(plan.port[0] == 5002 && plan.port[15] == 5032 && plan.port[16] == 5002);
	guess_birthday_plan(&open, &hard, 5000, &b, 1, &plan); /* hole punching works */
	CU_ASSERT_EQUAL(plan.role, PREDICT_ROLE_PLAIN);
	guess_birthday_plan(&hard, &seq, 5000, &b, 1, &plan); /* two hard sides */
	CU_ASSERT_EQUAL(plan.role, PREDICT_ROLE_PLAIN);
	/* Bounds past what a trial holds are cut to it, and the odds with them. */
	b.sockets = GUESS_SOCKETS * 4;
	b.probes = GUESS_PROBES * 4;
	guess_birthday_plan(&easy, &hard, 5000, &b, 1, &plan);
	CU_ASSERT_TRUE(plan.sockets == GUESS_SOCKETS && plan.probes == GUESS_PROBES &&
		       plan.nport == GUESS_PROBES);
	CU_ASSERT_DOUBLE_EQUAL(plan.predicted,
			       guess_birthday_odds(GUESS_SOCKETS, GUESS_PROBES, 64511), 1e-12);
}

/* Port prediction's window: the step, and nothing past 65535. */
static void test_prediction_window(void)
{
	struct punch_candidate c[PUNCH_MAX_PREDICTED];
	struct sockaddr_storage pub;

	test_sockaddr_v4(PUBLIC_B, 65530, &pub);
	CU_ASSERT_EQUAL(guess_window((struct sockaddr *)&pub, 2, 8, c, 8), 2);
	CU_ASSERT_TRUE(addr_port((struct sockaddr *)&c[1].addr) == 65534 && c[1].predicted);
	test_sockaddr_v4(PUBLIC_B, 1000, &pub);
	CU_ASSERT_EQUAL(guess_window((struct sockaddr *)&pub, 3, 8, c, 8), 8);
	CU_ASSERT_EQUAL(addr_port((struct sockaddr *)&c[7].addr), 1024);
	CU_ASSERT_EQUAL(guess_window((struct sockaddr *)&pub, 0, 8, c, 8), 0);
}

/* Many sockets as one trial: the first success, packets summed. */
/* The hard side's sockets: one token each, socket 0's the registered one,
 * so that a sibling cannot take another socket's echo as its proof. */
static void test_hard_tokens(void)
{
	static struct punch_cfg base, c[GUESS_SOCKETS];

	memcpy(base.token, "HARDSIDE", PUNCH_TOKEN_LEN);
	base.max_rounds = 20;
	for (unsigned i = 0; i < GUESS_SOCKETS; i++)
		guess_hard_cfg(&base, i, &c[i]);
	CU_ASSERT_EQUAL(memcmp(c[0].token, base.token, PUNCH_TOKEN_LEN), 0);
	CU_ASSERT_EQUAL(c[0].max_rounds, 20);
	CU_ASSERT_EQUAL(c[1].max_rounds, 1);
	for (unsigned i = 0; i < GUESS_SOCKETS; i++)
		for (unsigned k = i + 1; k < GUESS_SOCKETS; k++)
			CU_ASSERT_FATAL(memcmp(c[i].token, c[k].token, PUNCH_TOKEN_LEN) != 0);
}

static void test_merge(void)
{
	static struct punch_trial t[3];
	struct punch_result r;
	struct sockaddr_storage decoy;

	memset(t, 0, sizeof(t));
	t[0].res = (struct punch_result){.outcome = PUNCH_FAILED, .sent = 3, .rounds = 20};
	t[1].res = (struct punch_result){.outcome = PUNCH_SUCCESS, .connect_us = 500, .sent = 5};
	t[2].res = (struct punch_result){
	    .outcome = PUNCH_SUCCESS, .connect_us = 300, .sent = 1, .predicted = true};

	test_sockaddr_v4(INSIDE_B, 5000, &decoy);
	punch_note_impostor(&t[0].res, (struct sockaddr *)&decoy, 2);
	punch_note_impostor(&t[2].res, (struct sockaddr *)&decoy, 1);
	t[2].res.strangers = 3;
	guess_merge(t, 3, &r);
	CU_ASSERT_TRUE(r.outcome == PUNCH_SUCCESS && r.connect_us == 300 && r.predicted);
	CU_ASSERT_TRUE(r.sent == 9 && r.rounds == 20);
	/* Impostors over every socket: one endpoint, 3 packets. */
	CU_ASSERT_TRUE(r.impostors == 3 && r.nimp == 1 && r.imp[0].packets == 3);
	CU_ASSERT_EQUAL(r.strangers, 3);
	t[1].res.outcome = t[2].res.outcome = PUNCH_PENDING;
	guess_merge(t, 3, &r);
	CU_ASSERT_EQUAL(r.outcome, PUNCH_PENDING);
	t[1].res.outcome = t[2].res.outcome = PUNCH_FAILED;
	guess_merge(t, 3, &r);
	CU_ASSERT_EQUAL(r.outcome, PUNCH_FAILED);
}

/* 10% loss each way: a success is only ever where the rules allow one,
 * and still comes on most pairs that allow it. */
static void loss(enum predict_technique t, enum natemu_ports ports, unsigned want_share,
		 uint64_t seed0)
{
	unsigned allowed = 0, succeeded = 0, false_success = 0;

	for (int i = 0; i < 81; i++) {
		struct pair pr = {{i % 3, i / 3 % 3}, {i / 9 % 3, i / 27}, {ports, ports}, 0, 0, 0};
		struct predict_side ps[2];
		struct punch_result out[2];
		bool works;

		sides(&pr, ps);
		works = predict_technique(t, &ps[0], &ps[1]).expect == PREDICT_WORKS;
		trial(&(struct setting){t, 10, true, NULL}, &pr, seed0 + (uint64_t)i, out);
		if (out[0].outcome == PUNCH_SETUP_FAILED || out[1].outcome == PUNCH_SETUP_FAILED)
			continue;
		allowed += works;
		for (int side = 0; side < 2; side++) {
			false_success += !works && out[side].outcome == PUNCH_SUCCESS;
			succeeded += works && out[side].outcome == PUNCH_SUCCESS;
		}
	}
	printf("\n    10%% loss: %u of %u sides succeeded where the rules allow, %u "
	       "elsewhere ",
	       succeeded, 2 * allowed, false_success);
	CU_ASSERT_EQUAL(false_success, 0);
	CU_ASSERT_TRUE(succeeded * 100 >= 2 * allowed * want_share);
}

static void test_loss(void)
{
	loss(PREDICT_UDP_HOLE_PUNCHING, NATEMU_PORTS_RANDOM, 90, 5000);
}

static void test_prediction_loss(void)
{
	loss(PREDICT_UDP_PORT_PREDICTION, NATEMU_PORTS_SEQUENTIAL, 90, 5100);
}

static unsigned discarded;

static int discard(void *ctx, const struct sockaddr *to, const uint8_t *msg, size_t len,
		   unsigned ttl)
{
	(void)ttl;
	(void)ctx;
	(void)to;
	(void)msg;
	(void)len;
	discarded++;
	return 0;
}

/* A passive side of session s1 (token AAAAAAAA): it only answers. */
static struct punch_cfg passive_cfg(void)
{
	struct punch_cfg me = {.session = "s1", .key_len = 16};

	memcpy(me.key, "k-k-k-k-k-k-k-k-", 16);
	memcpy(me.token, "AAAAAAAA", 8);
	me.passive = true;
	me.timeout_us = 1000000;
	me.max_rounds = 1;
	return me;
}

/* The packet itself: a wrong key, another session, our own token back, a
 * truncation: none verifies; the right one does. */
static void test_packets(void)
{
	struct punch_cfg me = passive_cfg(), peer;
	struct punch_trial t;
	struct sockaddr_storage from;
	uint8_t msg[192];
	size_t len;

	peer = me;
	memcpy(peer.token, "BBBBBBBB", 8);
	test_sockaddr_v4(PUBLIC_B, 40000, &from);
	punch_start(&t, &me, discard, NULL, 0);

	len = punch_build(&me, NULL, false, msg, sizeof(msg)); /* our own, come back */
	punch_receive(&t, (struct sockaddr *)&from, msg, len, 10);
	peer.key[0] ^= 1; /* a wrong key */
	len = punch_build(&peer, NULL, false, msg, sizeof(msg));
	punch_receive(&t, (struct sockaddr *)&from, msg, len, 20);
	peer.key[0] ^= 1;
	snprintf(peer.session, sizeof(peer.session), "s2"); /* another session */
	len = punch_build(&peer, NULL, false, msg, sizeof(msg));
	punch_receive(&t, (struct sockaddr *)&from, msg, len, 30);
	snprintf(peer.session, sizeof(peer.session), "s1");
	len = punch_build(&peer, me.token, false, msg, sizeof(msg));
	punch_receive(&t, (struct sockaddr *)&from, msg, len - 1, 40); /* cut short */
	CU_ASSERT_EQUAL(t.res.rejected, 4);
	CU_ASSERT_EQUAL(t.res.verified, 0);
	CU_ASSERT_FALSE(punch_done(&t));
	/* The peer's token alone: half the proof. */
	len = punch_build(&peer, NULL, false, msg, sizeof(msg));
	punch_receive(&t, (struct sockaddr *)&from, msg, len, 50);
	CU_ASSERT_FALSE(punch_done(&t));
	/* With the echo of ours: both ways proven. */
	len = punch_build(&peer, me.token, false, msg, sizeof(msg));
	punch_receive(&t, (struct sockaddr *)&from, msg, len, 60);
	CU_ASSERT_EQUAL(t.res.outcome, PUNCH_SUCCESS);
	CU_ASSERT_EQUAL(t.res.connect_us, 60);
	CU_ASSERT_FALSE(t.res.strict); /* from no candidate: there were none */
	/* A third probe in the session, after the first was met: refused. */
	memcpy(peer.token, "CCCCCCCC", 8);
	len = punch_build(&peer, me.token, false, msg, sizeof(msg));
	punch_receive(&t, (struct sockaddr *)&from, msg, len, 70);
	CU_ASSERT_EQUAL(t.res.rejected, 5);
	/* Passive: nothing sent but the answers to the two verified packets. */
	CU_ASSERT_EQUAL(discarded, 2);
}

/* RFC 5128 6.1: with the token the rendezvous named for this trial bound, a
 * signed packet of the same session with another (a replay from an earlier
 * trial) is refused even before any peer was met; the named one (its last
 * byte varied, as a birthday socket's) is taken. */
static void test_bound_peer(void)
{
	struct punch_cfg me = passive_cfg(), peer;
	struct punch_trial t;
	struct sockaddr_storage from;
	uint8_t msg[192];
	size_t len;

	me.bind_peer = true;
	memcpy(me.peer_token, "BBBBBBBB", 8);
	peer = me;
	test_sockaddr_v4(PUBLIC_B, 40000, &from);
	punch_start(&t, &me, discard, NULL, 0);
	memcpy(peer.token, "ZZZZZZZZ", 8); /* an earlier trial's */
	len = punch_build(&peer, me.token, false, msg, sizeof(msg));
	punch_receive(&t, (struct sockaddr *)&from, msg, len, 10);
	CU_ASSERT_EQUAL(t.res.rejected, 1);
	CU_ASSERT_EQUAL(t.res.verified, 0);
	CU_ASSERT_EQUAL(t.res.outcome, PUNCH_PENDING);
	memcpy(peer.token, "BBBBBBBC", 8); /* the named one, a birthday socket's */
	len = punch_build(&peer, me.token, false, msg, sizeof(msg));
	punch_receive(&t, (struct sockaddr *)&from, msg, len, 20);
	CU_ASSERT_EQUAL(t.res.outcome, PUNCH_SUCCESS);
}

/* Where a trial's packets went: how many to the address `watch`. */
static uint32_t watch_ip;
static unsigned to_watch;

static int count_to(void *ctx, const struct sockaddr *to, const uint8_t *msg, size_t len,
		    unsigned ttl)
{
	(void)ctx;
	(void)msg;
	(void)len;
	(void)ttl;
	if (to->sa_family == AF_INET &&
	    ntohl(((const struct sockaddr_in *)to)->sin_addr.s_addr) == watch_ip)
		to_watch++;
	return 0;
}

/* A passive side that expects the other probe (token BBBBBBBB) at its
 * private endpoint 10.0.2.2:5000 or its public one 198.51.100.1:40000. */
static struct punch_cfg expecting_b(void)
{
	struct punch_cfg me = passive_cfg();

	me.bind_peer = true;
	memcpy(me.peer_token, "BBBBBBBB", 8);
	test_sockaddr_v4(INSIDE_B, 5000, &me.cand[0].addr);
	me.cand[0].path = PUNCH_PATH_PRIVATE;
	test_sockaddr_v4(PUBLIC_B, 40000, &me.cand[1].addr);
	me.ncand = 2;
	return me;
}

/* RFC 5128 6.1: what comes from where the other probe should be but is
 * not the other probe is an impostor, named with its endpoint: a forgery,
 * another trial's token, our own packet mirrored by a host at the private
 * address. Our own come back from the public address (hairpinning), a
 * birthday sibling of the named probe, anything from elsewhere: rejected,
 * no impostor. The real peer still succeeds. */
static void test_impostors(void)
{
	struct punch_cfg me = expecting_b(), peer = me, forger = me;
	struct punch_trial t;
	struct sockaddr_storage decoy, decoy2, pub, elsewhere;
	uint8_t msg[192];
	size_t len;

	memcpy(peer.token, "BBBBBBBB", 8);
	memcpy(forger.token, "BBBBBBBB", 8);
	forger.key[0] ^= 1;
	test_sockaddr_v4(INSIDE_B, 5000, &decoy);
	test_sockaddr_v4(INSIDE_B, 7000, &decoy2);
	test_sockaddr_v4(PUBLIC_B, 40000, &pub);
	test_sockaddr_v4(0xC0000277u, 40000, &elsewhere); /* 192.0.2.119 */
	punch_start(&t, &me, discard, NULL, 0);
	len = punch_build(&forger, me.token, false, msg, sizeof(msg));
	punch_receive(&t, (struct sockaddr *)&decoy, msg, len, 10);
	punch_receive(&t, (struct sockaddr *)&decoy, msg, len, 11);
	punch_receive(&t, (struct sockaddr *)&decoy2, msg, len, 12);
	punch_receive(&t, (struct sockaddr *)&elsewhere, msg, len, 13);
	len = punch_build(&me, NULL, false, msg, sizeof(msg)); /* our own */
	punch_receive(&t, (struct sockaddr *)&decoy, msg, len, 14);
	punch_receive(&t, (struct sockaddr *)&pub, msg, len, 15);
	memcpy(peer.token, "ZZZZZZZZ", 8); /* an earlier trial's, signed */
	len = punch_build(&peer, me.token, false, msg, sizeof(msg));
	punch_receive(&t, (struct sockaddr *)&pub, msg, len, 16);
	CU_ASSERT_EQUAL(t.res.rejected, 7);
	CU_ASSERT_EQUAL(t.res.impostors, 5);
	CU_ASSERT_EQUAL_FATAL(t.res.nimp, 3);
	CU_ASSERT_TRUE(
	    addr_equal((struct sockaddr *)&t.res.imp[0].addr, (struct sockaddr *)&decoy));
	CU_ASSERT_EQUAL(t.res.imp[0].packets, 3);
	CU_ASSERT_EQUAL(t.res.imp[1].packets, 1);
	CU_ASSERT_TRUE(addr_equal((struct sockaddr *)&t.res.imp[2].addr, (struct sockaddr *)&pub));
	CU_ASSERT_EQUAL(t.res.outcome, PUNCH_PENDING);
	memcpy(peer.token, "BBBBBBBB", 8);
	len = punch_build(&peer, me.token, false, msg, sizeof(msg));
	punch_receive(&t, (struct sockaddr *)&pub, msg, len, 20);
	CU_ASSERT_EQUAL(t.res.outcome, PUNCH_SUCCESS);
	memcpy(peer.token, "BBBBBBBC", 8); /* a sibling socket of the named probe */
	len = punch_build(&peer, me.token, false, msg, sizeof(msg));
	punch_receive(&t, (struct sockaddr *)&pub, msg, len, 30);
	CU_ASSERT_EQUAL(t.res.rejected, 8);
	CU_ASSERT_EQUAL(t.res.impostors, 5);
}

/* RFC 5128 6.2: a signed packet of this trial replayed with a forged
 * source (a third party's) draws at most PUNCH_STRANGER_REPLIES answers;
 * the endpoints the session named are answered each time. */
static void test_stranger_answers(void)
{
	struct punch_cfg me = expecting_b(), peer = me;
	struct punch_trial t;
	struct sockaddr_storage victim, pub;
	uint8_t msg[192];
	size_t len;

	me.max_rounds = 20; /* 80 answers allowed in all */
	memcpy(peer.token, "BBBBBBBB", 8);
	test_sockaddr_v4(0xC0000277u, 22, &victim);
	test_sockaddr_v4(PUBLIC_B, 40001, &pub); /* the named address, another port */
	len = punch_build(&peer, NULL, false, msg, sizeof(msg));
	watch_ip = 0xC0000277u;
	to_watch = 0;
	punch_start(&t, &me, count_to, NULL, 0);
	for (int i = 0; i < 20; i++)
		punch_receive(&t, (struct sockaddr *)&victim, msg, len, 10 + (uint64_t)i);
	CU_ASSERT_EQUAL(t.res.verified, 20);
	CU_ASSERT_EQUAL(to_watch, PUNCH_STRANGER_REPLIES);
	CU_ASSERT_EQUAL(t.res.strangers, PUNCH_STRANGER_REPLIES);
	watch_ip = PUBLIC_B;
	to_watch = 0;
	for (int i = 0; i < 10; i++)
		punch_receive(&t, (struct sockaddr *)&pub, msg, len, 40 + (uint64_t)i);
	CU_ASSERT_EQUAL(to_watch, 10);
}

/* The counts of a technique's trials: setup failures outside the rate;
 * Wilson's interval (3 of 3: 0.4385 to 1, as tables give it); nearest-rank
 * percentiles of the connect times. */
/* Why two probes did not meet, from when the reflector last answered. */
static void test_setup_failure(void)
{
	const uint64_t deadline = 10000000, reg = 100000;

	CU_ASSERT_STRING_EQUAL(trials_setup_failure(0, deadline, reg, 5),
			       "no answer from the reflector's rendezvous");
	/* Answering to the end: the other probe is the one missing. */
	CU_ASSERT_STRING_EQUAL(trials_setup_failure(deadline - 50000, deadline, reg, 5),
			       "the other probe never arrived at the rendezvous");
	/* An answer read just after the deadline is not a silence (no wrap). */
	CU_ASSERT_STRING_EQUAL(trials_setup_failure(deadline + 300, deadline, reg, 5),
			       "the other probe never arrived at the rendezvous");
	/* Five registrations unanswered: the reflector went away. */
	CU_ASSERT_STRING_EQUAL(trials_setup_failure(deadline - 600000, deadline, reg, 5),
			       "the reflector's rendezvous answered, then fell silent");
	CU_ASSERT_STRING_EQUAL(trials_setup_failure(deadline - 500000, deadline, reg, 5),
			       "the other probe never arrived at the rendezvous");
}

static void test_summary(void)
{
	struct trial_row rows[5] = {0};
	struct trial_summary s;
	struct sockaddr_storage decoy;

	for (int i = 0; i < 3; i++) {
		rows[i].res.outcome = PUNCH_SUCCESS;
		rows[i].res.connect_us = (uint64_t)(i + 1) * 10000;
		rows[i].res.rounds = i ? 2 : 1;
	}
	rows[3].res.outcome = PUNCH_SETUP_FAILED;
	test_sockaddr_v4(INSIDE_B, 5000, &decoy);
	punch_note_impostor(&rows[0].res, (struct sockaddr *)&decoy, 2);
	punch_note_impostor(&rows[2].res, (struct sockaddr *)&decoy, 1);
	trials_summarise(rows, 4, &s);
	CU_ASSERT_TRUE(s.impostors == 3 && s.nimp == 1 && s.imp[0].packets == 3);
	CU_ASSERT_EQUAL(s.trials, 4);
	CU_ASSERT_EQUAL(s.successes, 3);
	CU_ASSERT_EQUAL(s.setup_failed, 1);
	CU_ASSERT_DOUBLE_EQUAL(s.rate, 1.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(s.ci_lo, 0.4385, 1e-4);
	CU_ASSERT_DOUBLE_EQUAL(s.ci_hi, 1.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(s.median_ms, 20.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(s.p95_ms, 30.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(s.first_round_share, 1.0 / 3, 1e-9);
	rows[4].res.outcome = PUNCH_FAILED;
	trials_summarise(rows, 5, &s); /* 3 of 4: 0.3006 to 0.9544 */
	CU_ASSERT_DOUBLE_EQUAL(s.ci_lo, 0.3006, 1e-4);
	CU_ASSERT_DOUBLE_EQUAL(s.ci_hi, 0.9544, 1e-4);
	trials_summarise(rows + 3, 1, &s); /* nothing started: no rate */
	CU_ASSERT_TRUE(s.rate < 0 && s.median_ms < 0);
}

int test_punch_register(void)
{
	static const struct test_case tests[] = {
	    {"a punch packet verifies only from the other probe", test_packets},
	    {"the peer the rendezvous named: an earlier trial's token refused", test_bound_peer},
	    {"impostors at the other probe's endpoints: counted and named", test_impostors},
	    {"a forged source draws a bounded number of answers", test_stranger_answers},
	    {"UDP hole punching: every NAT pair as predicted", test_punch_grid},
	    {"connection reversal: every NAT pair as predicted", test_reversal_grid},
	    {"10% loss: no success the rules do not allow", test_loss},
	    {"port prediction: its window, and nothing past 65535", test_prediction_window},
	    {"port prediction: every NAT pair and port pattern as predicted", test_prediction_grid},
	    {"port prediction: a step of 3", test_prediction_delta},
	    {"port prediction, 10% loss: no success the rules do not allow", test_prediction_loss},
	    {"birthday: the odds, exact and Tailscale's", test_birthday_odds},
	    {"birthday: who is hard and easy, and the guesses", test_birthday_plan},
	    {"birthday: a token per hard socket", test_hard_tokens},
	    {"birthday: many sockets as one trial", test_merge},
	    {"birthday: every NAT pair as predicted", test_birthday_grid},
	    {"birthday: sequential ports, fewer packets", test_birthday_sequential},
	    {"birthday: measured rate against the predicted odds", test_birthday_rate},
	    {"birthday, loss and forgeries: no success without a hit", test_birthday_loss},
	    {"a technique's counts: rate, interval, connect times", test_summary},
	    {"why two probes did not meet: never, fell silent, alone", test_setup_failure},
	};

	return TEST_SUITE("traversal trials (simulated NAT pair)", tests);
}
