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
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <arpa/inet.h>

#include "addr.h"
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
#define PROBE_PORT 40000
#define S_PORT     3478
#define ACCESS_US  1000  /* host to its NAT */
#define CORE_US    10000 /* a NAT to S or to the other NAT: real one-way delay */
#define MAX_FLIGHT 512

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

struct host {
	natemu_t *nat;
	uint32_t inside_ip, public_ip;
	struct sockaddr_storage registered; /* what S saw */
	bool have_registered, started;
	struct punch_cfg cfg;
	struct punch_trial trial;
};

struct sim {
	struct host h[2];
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

/* A host sends from its probe socket: onto its access link. */
static int host_send(struct sim *s, int side, uint32_t dst_ip, uint16_t dst_port,
		     const uint8_t *msg, size_t len, unsigned ttl)
{
	struct packet p = {.src_ip = s->h[side].inside_ip,
			   .src_port = PROBE_PORT,
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

struct send_ctx {
	struct sim *s;
	int side;
};

static struct send_ctx send_ctx[2];

static int punch_send(void *ctx, const struct sockaddr *to, const uint8_t *msg, size_t len,
		      unsigned ttl)
{
	const struct send_ctx *c = ctx;
	const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)to;

	return host_send(c->s, c->side, ntohl(in->sin_addr.s_addr), ntohs(in->sin_port), msg, len,
			 ttl);
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

static void host_receive(struct sim *s, int side, const struct packet *p)
{
	struct host *h = &s->h[side];
	struct sockaddr_storage from;

	if (p->dst_port != PROBE_PORT)
		return;
	if (p->len == 2 && !memcmp(p->data, "GO", 2) && p->src_ip == SERVER_IP) {
		if (h->started)
			return;
		h->started = true;
		h->cfg.cand[0].addr = s->h[!side].registered;
		h->cfg.cand[0].path = PUNCH_PATH_PUBLIC;
		h->cfg.ncand = 1;
		punch_start(&h->trial, &h->cfg, punch_send, &send_ctx[side], s->now_us);
		return;
	}
	if (!h->started)
		return;
	test_sockaddr_v4(p->src_ip, p->src_port, &from);
	punch_receive(&h->trial, (struct sockaddr *)&from, p->data, p->len, s->now_us);
}

/* Through a NAT, from side `from`; false when it does not forward. */
static bool translate(natemu_t *nat, enum natemu_side from, struct packet *p, uint64_t now_us)
{
	struct natemu_pkt k = {IPPROTO_UDP, p->src_ip, p->dst_ip, p->src_port, p->dst_port, 0};
	struct natemu_result r = natemu_process(nat, from, &k, now_us / 1000);

	if (r.verdict != NATEMU_FORWARD || r.to == from)
		return false; /* dropped, or hairpinned: no hairpin in this network */
	p->src_ip = r.pkt.src_ip;
	p->dst_ip = r.pkt.dst_ip;
	p->src_port = r.pkt.src_port;
	p->dst_port = r.pkt.dst_port;
	return true;
}

static void deliver(struct sim *s, struct packet *p)
{
	if (p->inside) {
		if (!translate(s->h[p->side].nat, NATEMU_INSIDE, p, s->now_us))
			return;
		/* The NAT took one hop, the router between the NATs the next. */
		if (p->ttl && p->ttl <= 2) {
			s->expired++;
			return;
		}
		p->inside = false;
		fly(s, *p, CORE_US);
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

static bool both_done(const struct sim *s)
{
	return s->h[0].started && s->h[1].started && punch_done(&s->h[0].trial) &&
	       punch_done(&s->h[1].trial);
}

static uint64_t next_event(const struct sim *s, size_t *first)
{
	uint64_t next = UINT64_MAX;

	*first = MAX_FLIGHT;
	for (int side = 0; side < 2; side++)
		if (s->h[side].started && punch_deadline(&s->h[side].trial) < next)
			next = punch_deadline(&s->h[side].trial);
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

/* Register both (B 3 ms after A), then run until both trials end, and a
 * grace period for the last answers; 10 simulated seconds at most. */
static void run(struct sim *s)
{
	uint64_t end = s->now_us + 10000000, grace = 0;

	host_send(s, SIDE_A, SERVER_IP, S_PORT, (const uint8_t[]){SIDE_A}, 1, 0);
	s->now_us += 3000;
	host_send(s, SIDE_B, SERVER_IP, S_PORT, (const uint8_t[]){SIDE_B}, 1, 0);
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
			for (int side = 0; side < 2; side++)
				if (s->h[side].started)
					punch_tick(&s->h[side].trial, s->now_us);
		}
	}
}

static const enum probe_mapping as_mapping[3] = {PROBE_MAPPING_EI, PROBE_MAPPING_AD,
						 PROBE_MAPPING_APD};
static const enum probe_filtering as_filtering[3] = {PROBE_FILTERING_EI, PROBE_FILTERING_AD,
						     PROBE_FILTERING_APD};

struct pair {
	int m[2], f[2];
	enum natemu_ports ports;
};

static void sim_setup(struct sim *s, const struct pair *pr, unsigned loss, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->loss_percent = loss;
	s->rng = seed * 0x9E3779B97F4A7C15ull + 7;
	s->now_us = 1000000;
	for (int side = 0; side < 2; side++) {
		struct natemu_cfg cfg;
		struct host *h = &s->h[side];

		natemu_cfg_default(&cfg);
		cfg.mapping = (enum natemu_dependence)pr->m[side];
		cfg.filtering = (enum natemu_dependence)pr->f[side];
		cfg.ports = pr->ports;
		cfg.hairpin = NATEMU_HAIRPIN_OFF;
		cfg.pool[0] = side == SIDE_A ? PUBLIC_A : PUBLIC_B;
		cfg.npool = 1;
		h->nat = natemu_new(&cfg, seed * 2 + (uint64_t)side);
		h->inside_ip = side == SIDE_A ? INSIDE_A : INSIDE_B;
		h->public_ip = cfg.pool[0];
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
		send_ctx[side] = (struct send_ctx){s, side};
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
		ps[side] =
		    (struct predict_side){as_mapping[pr->m[side]], as_filtering[pr->f[side]]};
}

/* One trial of technique t on pair pr; each side's outcome. */
static void trial(enum predict_technique t, const struct pair *pr, unsigned loss, uint64_t seed,
		  bool forged, struct punch_result out[2])
{
	struct predict_side ps[2];
	struct sim s;

	sides(pr, ps);
	sim_setup(&s, pr, loss, seed);
	s.forge = forged;
	if (t == PREDICT_CONNECTION_REVERSAL)
		s.h[predict_reversal_passive(&ps[0], &ps[1])].cfg.passive = true;
	run(&s);
	/* Every active side's opening round died between the NATs. */
	if (s.h[0].started && s.h[1].started && !loss)
		CU_ASSERT_TRUE(s.expired >= (t == PREDICT_CONNECTION_REVERSAL ? 1u : 2u));
	for (int side = 0; side < 2; side++) {
		out[side] = s.h[side].trial.res;
		if (!s.h[side].started)
			out[side].outcome = PUNCH_SETUP_FAILED;
	}
	if (forged && s.h[0].started && s.h[1].started) {
		CU_ASSERT_TRUE(s.forged > 0);
		CU_ASSERT_TRUE(out[0].rejected + out[1].rejected > 0 || loss);
	}
	sim_free(&s);
}

static const char *const dep[3] = {"EI", "AD", "APD"};

/* Every pair, without loss: each side's outcome is the prediction. */
static void grid(enum predict_technique t, enum natemu_ports ports, uint64_t seed0)
{
	unsigned works = 0, cells = 0;

	for (int i = 0; i < 81; i++) {
		struct pair pr = {{i % 3, i / 3 % 3}, {i / 9 % 3, i / 27}, ports};
		struct predict_side ps[2];
		struct punch_result out[2];
		struct predict want;
		bool ok = true;

		sides(&pr, ps);
		want = predict_technique(t, &ps[0], &ps[1]);
		trial(t, &pr, 0, seed0 + (uint64_t)i, i % 9 == 0, out);
		for (int side = 0; side < 2; side++) {
			bool success = out[side].outcome == PUNCH_SUCCESS;

			ok = ok && success == (want.expect == PREDICT_WORKS) &&
			     out[side].outcome != PUNCH_SETUP_FAILED;
			if (success) {
				ok = ok && out[side].path == PUNCH_PATH_PUBLIC &&
				     out[side].connect_us < 1000000 && out[side].sent <= 20 + 80;
			}
		}
		CU_ASSERT_TRUE(ok);
		if (!ok)
			printf("\n    %s A %s/%s B %s/%s ports %d: predicted %s, got %s / %s",
			       t == PREDICT_CONNECTION_REVERSAL ? "reversal" : "punch",
			       dep[pr.m[0]], dep[pr.f[0]], dep[pr.m[1]], dep[pr.f[1]], ports,
			       predict_expect_name(want.expect), punch_outcome_name(out[0].outcome),
			       punch_outcome_name(out[1].outcome));
		works += want.expect == PREDICT_WORKS;
		cells++;
	}
	/* The rules are not trivially one way: both outcomes occur. */
	CU_ASSERT_TRUE(works > 0 && works < cells);
}

static void test_punch_grid(void)
{
	grid(PREDICT_UDP_HOLE_PUNCHING, NATEMU_PORTS_PRESERVE, 1000);
	grid(PREDICT_UDP_HOLE_PUNCHING, NATEMU_PORTS_RANDOM, 2000);
}

static void test_reversal_grid(void)
{
	grid(PREDICT_CONNECTION_REVERSAL, NATEMU_PORTS_PRESERVE, 3000);
	grid(PREDICT_CONNECTION_REVERSAL, NATEMU_PORTS_RANDOM, 4000);
}

/* 10% loss each way: a success is only ever where the rules allow one,
 * and still comes on most pairs that allow it. */
static void test_loss(void)
{
	unsigned allowed = 0, succeeded = 0, false_success = 0;

	for (int i = 0; i < 81; i++) {
		struct pair pr = {{i % 3, i / 3 % 3}, {i / 9 % 3, i / 27}, NATEMU_PORTS_RANDOM};
		struct predict_side ps[2];
		struct punch_result out[2];
		bool works;

		sides(&pr, ps);
		works = predict_technique(PREDICT_UDP_HOLE_PUNCHING, &ps[0], &ps[1]).expect ==
			PREDICT_WORKS;
		trial(PREDICT_UDP_HOLE_PUNCHING, &pr, 10, 5000 + (uint64_t)i, true, out);
		if (out[0].outcome == PUNCH_SETUP_FAILED || out[1].outcome == PUNCH_SETUP_FAILED)
			continue;
		allowed += works;
		for (int side = 0; side < 2; side++) {
			false_success += !works && out[side].outcome == PUNCH_SUCCESS;
			succeeded += works && out[side].outcome == PUNCH_SUCCESS;
		}
	}
	printf("\n    10%% loss: %u of %u sides succeeded where the rules allow, %u elsewhere ",
	       succeeded, 2 * allowed, false_success);
	CU_ASSERT_EQUAL(false_success, 0);
	CU_ASSERT_TRUE(succeeded * 10 >= 2 * allowed * 9);
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

/* The packet itself: a wrong key, another session, our own token back, a
 * truncation: none verifies; the right one does. */
static void test_packets(void)
{
	struct punch_cfg me = {.session = "s1", .key_len = 16}, peer;
	struct punch_trial t;
	struct sockaddr_storage from;
	uint8_t msg[192];
	size_t len;

	memcpy(me.key, "k-k-k-k-k-k-k-k-", 16);
	memcpy(me.token, "AAAAAAAA", 8);
	me.ncand = 0;
	me.passive = true;
	me.timeout_us = 1000000;
	me.max_rounds = 1;
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

/* The counts of a technique's trials: setup failures outside the rate;
 * Wilson's interval (3 of 3: 0.4385 to 1, as tables give it); nearest-rank
 * percentiles of the connect times. */
static void test_summary(void)
{
	struct trial_row rows[5] = {0};
	struct trial_summary s;

	for (int i = 0; i < 3; i++) {
		rows[i].res.outcome = PUNCH_SUCCESS;
		rows[i].res.connect_us = (uint64_t)(i + 1) * 10000;
		rows[i].res.rounds = i ? 2 : 1;
	}
	rows[3].res.outcome = PUNCH_SETUP_FAILED;
	trials_summarise(rows, 4, &s);
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
	    {"UDP hole punching: every NAT pair as predicted", test_punch_grid},
	    {"connection reversal: every NAT pair as predicted", test_reversal_grid},
	    {"10% loss: no success the rules do not allow", test_loss},
	    {"a technique's counts: rate, interval, connect times", test_summary},
	};

	return TEST_SUITE("traversal trials (simulated NAT pair)", tests);
}
