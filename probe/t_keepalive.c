/*
 * The hop-k keepalive test (keepalive.h): which hop's NAT a keepalive must
 * reach. Opt in (--keepalive[=HOLD_S]): it takes the hold.
 *
 *   make   each trial's fresh socket S asks the primary endpoint with
 *          RESPONSE-PORT set to a checker socket C's mapped port, so the
 *          answer (naming S's mapping M) comes in through C and S's flow
 *          stays outbound-only, as t_lifetime.c's trials;
 *   hold   HOLD_S seconds, S sending a Binding indication (a keepalive,
 *          RFC 8489 section 3.5) to the primary endpoint every second at
 *          its trial's TTL, or nothing (the control without keepalives);
 *   look   C asks with RESPONSE-PORT = M's port: the answer reaches S only
 *          if every NAT kept M. Repeated as any question whose answer may
 *          rightly not come, so loss is not death.
 *
 * The TTLs tried are those below the reflector's in the depth test's sweep
 * (measured before the engine when depth runs too), else 1..3.
 */
#include <stdio.h>

#include "addr.h"
#include "probe/keepalive.h"
#include "probe/tests.h"

#define MAX_TRIALS  (KEEPALIVE_HOPS_MAX + 2)
#define CHECKER_TAG (MAX_TRIALS * 4)
#define KEEP_TAG    (CHECKER_TAG + 1)
#define KEEP_US     1000000u

enum step { MAKE, WAIT, LOOK }; /* tag = trial * 4 + step */

struct trial {
	int sock;
	unsigned ttl; /* 0: the full TTL */
	bool keep;    /* sends keepalives (all but the control without) */
	bool holding; /* made, not yet looked at */
	uint16_t port;
	enum keepalive_fate fate;
};

struct state {
	int checker;
	uint16_t checker_port;
	struct sockaddr_storage checker_local;
	struct trial trial[MAX_TRIALS];
	unsigned ntrials, nhops;
	bool keeping, no_nat;
	const char *why;
};

static void fail(struct state *s, const char *why)
{
	if (!s->why)
		s->why = why;
}

/* Trial 0 keeps nothing, 1..nhops keep at TTL k, the last at the full TTL. */
static void launch(struct probe_run *r, struct state *s)
{
	for (unsigned i = 0; i < s->nhops + 2; i++) {
		struct trial *t = &s->trial[s->ntrials++];

		*t = (struct trial){.ttl = i <= s->nhops ? i : 0, .keep = i > 0};
		t->sock = probe_socket(r, NULL);
		if (t->sock < 0 || probe_ask_via(r, (int)i * 4 + MAKE, t->sock, PROBE_PP,
						 s->checker_port, s->checker, false)) {
			t->fate = KA_UNKNOWN;
			fail(s, "could not open every socket");
		}
	}
}

static void keep_all(struct probe_run *r, struct state *s)
{
	bool any = false;

	for (unsigned i = 0; i < s->ntrials; i++) {
		struct trial *t = &s->trial[i];

		if (!t->holding || !t->keep)
			continue;
		any = true;
		if (probe_keepalive(r, t->sock, PROBE_PP, t->ttl)) {
			t->fate = KA_UNKNOWN;
			t->holding = false;
			probe_cancel(r, (int)i * 4 + WAIT);
			fail(s, "this host cannot send at a chosen TTL");
		}
	}
	s->keeping = any && !probe_timer(r, KEEP_TAG, KEEP_US);
}

/* ---- callbacks ---- */

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;
	char line[160];

	s->nhops = keepalive_hops(probe_sweep(r));
	snprintf(line, sizeof(line),
		 "keepalive: %u mappings held %u s, keepalives every second at TTL 1..%u, the "
		 "full TTL, and none",
		 s->nhops + 2, probe_keepalive_hold_s(r), s->nhops);
	probe_progress(r, line);
	s->checker = probe_socket(r, &s->checker_local);
	if (s->checker < 0 || probe_ask(r, CHECKER_TAG, s->checker, PROBE_PP, 0, false))
		fail(s, "could not open every socket");
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;
	struct trial *t;

	if (tag == CHECKER_TAG) {
		s->checker_port = addr_port((const struct sockaddr *)&a->mapped);
		if (addr_equal((const struct sockaddr *)&a->mapped,
			       (const struct sockaddr *)&s->checker_local)) {
			s->no_nat = true;
			fail(s, "no NAT: no mapping to keep");
		} else {
			launch(r, s);
		}
		return;
	}
	t = &s->trial[tag / 4];
	if (tag % 4 == MAKE) {
		t->port = addr_port((const struct sockaddr *)&a->mapped);
		t->holding = true;
		probe_timer(r, tag - MAKE + WAIT, (uint64_t)probe_keepalive_hold_s(r) * 1000000u);
		if (!s->keeping)
			s->keeping = !probe_timer(r, KEEP_TAG, KEEP_US);
	} else if (tag % 4 == LOOK) {
		t->fate = KA_ALIVE;
	}
}

static void on_timer(struct probe_run *r, void *state, int tag)
{
	struct state *s = state;
	struct trial *t;

	if (tag == KEEP_TAG) {
		keep_all(r, s);
		return;
	}
	t = &s->trial[tag / 4];
	t->holding = false;
	if (probe_ask_via(r, tag - WAIT + LOOK, s->checker, PROBE_PP, t->port, t->sock, true)) {
		t->fate = KA_UNKNOWN;
		fail(s, "could not ask every question");
	}
}

static void on_silence(struct probe_run *r, void *state, int tag, unsigned sends)
{
	struct state *s = state;
	struct trial *t = &s->trial[tag == CHECKER_TAG ? 0 : tag / 4];

	(void)sends;
	if (tag == CHECKER_TAG) {
		fail(s, "no answer to the checker socket");
	} else if (tag % 4 == MAKE) {
		t->fate = KA_UNKNOWN;
		fail(s, "no answer sent to another port (RESPONSE-PORT): the reflector lacks it, "
			"or the NAT put the sockets on different addresses");
	} else if (probe_silence_trusted(r)) {
		t->fate = KA_DEAD;
	} else {
		t->fate = KA_UNKNOWN;
		fail(s, "too much loss to read a missing answer as a dead mapping");
	}
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *s = state;
	struct keepalive_obs *o = &res->keepalive_obs;
	const struct hops_sweep *sweep = probe_sweep(r);
	const char *why = probe_run_note(r);

	res->keepalive_tested = true;
	res->keepalive_no_nat = s->no_nat;
	*o = (struct keepalive_obs){.hold_s = probe_keepalive_hold_s(r), .nhops = s->nhops};
	if (s->ntrials == s->nhops + 2) {
		o->none = s->trial[0].fate;
		o->full = s->trial[s->nhops + 1].fate;
		for (unsigned k = 1; k <= s->nhops; k++)
			o->ttl[k - 1] = s->trial[k].fate;
	}
	keepalive_decide(o, &res->keepalive);
	/* What stopped the trials says more than "a trial has no reading". */
	if (res->keepalive.hop < 0 && (why || s->why))
		res->keepalive.reason = why ? why : s->why;
	snprintf(res->keepalive_reason, sizeof(res->keepalive_reason), "%s", res->keepalive.reason);
	if (res->keepalive.hop > 0 && sweep && sweep->hop[res->keepalive.hop - 1].seen)
		res->keepalive_router = sweep->hop[res->keepalive.hop - 1].from;
}

const struct probe_test probe_test_keepalive = {
    .name = "keepalive",
    .help = "the hop of the NAT whose timeout matters: mappings held idle but for "
	    "keepalives at TTL 1..n (opt in: --keepalive[=HOLD_S], takes the hold)",
    .state_size = sizeof(struct state),
    .opt_in = true,
    .gateway = true,
    .start = start,
    .on_answer = on_answer,
    .on_silence = on_silence,
    .on_timer = on_timer,
    .finish = finish,
};
