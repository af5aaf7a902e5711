/*
 * TCP simultaneous open (RFC 5382 REQ-2), as TCP hole punching needs it.
 *
 * Over a control connection to the primary endpoint, the probe asks the
 * reflector to open a silent port X on its alternate address (SIMOPEN-ARM):
 * a listener whose accept queue is full, so a SYN to X gets no answer at
 * all. The probe connects from a fresh port to X; when the reflector sees
 * that SYN it connect()s from X back to the SYN's source, the probe's
 * mapping. The two SYNs cross in the NAT, as two punching hosts' do.
 *
 * true: the probe's connection formed and carried a Binding request and
 * its answer. X never accepted anything, so it can only have formed from
 * the crossing SYNs. false: the reflector saw our SYN (the way out works)
 * and its own SYN drew the NAT's RST or ICMP error (at the NAT's TTL, not
 * this host's), or nothing in every trial, as many as the loss measured so
 * far requires (at least 3: a trial is a round trip that may be lost, like
 * a silence's question). A trial lasts two order waits at the reflector
 * (six retransmission timeouts, at least 0.1 s): crossing SYNs meet within
 * a round trip, and a connection made later, by our SYN sent again, would
 * prove nothing. Anything else is inconclusive. SIMOPEN-RESULT (asked at
 * once, answered when the reflector's connect() ends) tells what its SYN met.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "probe/decide.h"
#include "probe/tests.h"
#include "wire.h"

#define TRIALS     20 /* at most: as many as the loss requires, at least MIN_TRIALS */
#define MIN_TRIALS 3

enum { TAG_CTRL, TAG_ARM, TAG_RESULT, TAG_SIM, TAG_ASK };

struct state {
	int ctrl, sim;
	bool ctrl_up;
	unsigned trial;  /* 1-based, the one under way */
	unsigned want;   /* trials before "nothing" counts */
	unsigned arm_ms; /* how long the reflector's side of a trial lasts */
	uint8_t token[8];
	/* This trial. */
	bool sim_done, connected, result_done, have_result;
	struct probe_observation arm, result;
	uint8_t baseline;
	enum probe_simopen_trial seen[TRIALS];
	unsigned nseen;
	bool over;
};

static void finish_ctrl(struct probe_run *r, struct state *s)
{
	if (s->over)
		return;
	s->over = true;
	probe_tcp_close(r, s->ctrl);
}

static void arm(struct probe_run *r, struct state *s)
{
	s->trial++;
	s->sim = -1;
	s->sim_done = s->connected = s->result_done = s->have_result = false;
	wire_put32(s->token, probe_token_nonce(r));
	wire_put32(s->token + 4, s->trial);
	if (probe_tcp_order_action(r, TAG_ARM, s->ctrl, PROBE_ORDER_SIMOPEN_ARM, PROBE_AP, 0,
				   s->arm_ms, s->token)) {
		probe_note(r, "could not order the reflector's silent port");
		finish_ctrl(r, s);
	}
}

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;

	s->ctrl = s->sim = -1;
	if (!probe_have_session(r))
		return;
	/* A trial is one round trip that may be lost, as a silence's question is. */
	s->want = probe_silence_needed(r);
	s->want = s->want < MIN_TRIALS ? MIN_TRIALS : s->want > TRIALS ? TRIALS : s->want;
	/* The ARM's answer, our SYN to X, the reflector's crossing it, our SYN-ACK. */
	s->arm_ms = 2 * probe_order_wait_ms(r);
	s->ctrl = probe_tcp_connect(r, TAG_CTRL, 0, PROBE_PP, NULL);
	s->over = s->ctrl < 0;
}

/* Both ends of this trial are known: the next trial, or the end. */
static void trial_done(struct probe_run *r, struct state *s)
{
	enum probe_simopen_trial t;

	if (!s->sim_done || !s->result_done)
		return;
	if (s->result.peer_ttl)
		s->baseline = s->result.peer_ttl;
	t = probe_decide_simopen_trial(s->connected, s->have_result ? &s->result : NULL,
				       s->baseline);
	s->seen[s->nseen++] = t;
	probe_tcp_close(r, s->sim);
	if (t == PROBE_TRIAL_CONNECTED || t == PROBE_TRIAL_REFUSED || s->trial >= s->want)
		finish_ctrl(r, s);
	else
		arm(r, s);
}

static void sim_ended(struct probe_run *r, struct state *s, bool connected)
{
	if (s->sim_done)
		return;
	s->sim_done = true;
	s->connected = connected;
	trial_done(r, s);
}

static void on_tcp(struct probe_run *r, void *state, int tag, int conn, enum probe_tcp_event ev,
		   int accepted, const struct sockaddr *peer)
{
	struct state *s = state;

	(void)accepted;
	(void)peer;
	if (tag == TAG_CTRL && !s->over) {
		if (ev == PROBE_TCP_CONNECTED) {
			arm(r, s);
			return;
		}
		if (ev != PROBE_TCP_CLOSED)
			probe_note(r, "the connection to the reflector's primary endpoint failed");
		finish_ctrl(r, s);
	} else if (tag == TAG_SIM && conn == s->sim) {
		if (ev == PROBE_TCP_CONNECTED && !probe_tcp_ask(r, TAG_ASK, s->sim))
			return; /* data both ways, or not */
		sim_ended(r, s, false);
	}
}

static void on_observed(struct probe_run *r, void *state, int tag,
			const struct probe_observation *o)
{
	struct state *s = state;

	if (tag == TAG_ARM) {
		s->arm = *o;
		s->sim = probe_tcp_connect_to(r, TAG_SIM, 0, (const struct sockaddr *)&o->sent_from,
					      NULL);
		if (s->sim < 0 ||
		    probe_tcp_order_action(r, TAG_RESULT, s->ctrl, PROBE_ORDER_SIMOPEN_RESULT,
					   PROBE_AP, 0, s->arm_ms, s->token)) {
			probe_note(r, "could not connect to the reflector's silent port");
			finish_ctrl(r, s);
		}
	} else if (tag == TAG_RESULT) {
		s->result = *o;
		s->have_result = s->result_done = true;
		/* The reflector's connect() has ended: unless it connected, ours
		 * can only connect later from our own resent SYN, which proves
		 * nothing. No need to wait for it. */
		if (o->outcome != PROBE_SEEN_CONNECTED)
			sim_ended(r, s, false);
		else
			trial_done(r, s);
	}
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;

	(void)a;
	if (tag == TAG_ASK)
		sim_ended(r, s, true);
}

static void on_silence(struct probe_run *r, void *state, int tag, unsigned sends)
{
	struct state *s = state;

	(void)sends;
	if (tag == TAG_ASK) {
		sim_ended(r, s, false);
	} else if (tag == TAG_RESULT) {
		s->result_done = true; /* no RESULT: this trial proves nothing */
		trial_done(r, s);
	} else if (tag == TAG_ARM) {
		probe_note(r, "the reflector opened no silent port (no simultaneous-open tests "
			      "there, or none free)");
		finish_ctrl(r, s);
	}
}

static enum probe_bool verdict(const struct state *s, bool trusted, const char **why)
{
	unsigned nothing = 0;

	*why = NULL;
	for (unsigned i = 0; i < s->nseen; i++) {
		if (s->seen[i] == PROBE_TRIAL_CONNECTED)
			return PROBE_YES;
		if (s->seen[i] == PROBE_TRIAL_REFUSED)
			return PROBE_NO;
		nothing += s->seen[i] == PROBE_TRIAL_NOTHING;
	}
	if (nothing == s->want && trusted)
		return PROBE_NO;
	if (nothing == s->want) {
		*why =
		    "too much loss to read the reflector's unanswered SYNs as no simultaneous open";
		return PROBE_UNKNOWN;
	}
	*why = s->nseen < s->want ? NULL
	       : nothing          ? "the trials disagree, and none connected"
				  : "the reflector never saw our SYN to its silent port, or this "
				    "host answered its SYN";
	return PROBE_UNKNOWN;
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *s = state;
	struct probe_tcp *t = &res->tcp;
	const char *why = NULL;

	res->tcp_tested = true;
	t->simopen_tested = probe_have_session(r);
	if (!t->simopen_tested) {
		snprintf(t->simopen_reason, sizeof(t->simopen_reason), PROBE_NEEDS_SESSION);
		return;
	}
	t->simopen = verdict(s, probe_silence_trusted(r), &why);
	t->simopen_trials = s->nseen;
	t->simopen_x = s->arm.sent_from;
	if (s->have_result) {
		t->simopen_answer = s->result.outcome;
		t->simopen_ttl = s->result.ttl;
		t->simopen_ms = s->result.us / 1000.0;
		t->simopen_seen_syn = s->result.seen_syn;
	}
	if (s->baseline && !t->baseline_ttl)
		t->baseline_ttl = s->baseline;
	if (t->simopen == PROBE_UNKNOWN) {
		why = probe_run_note(r) ? probe_run_note(r) : why ? why : "the trials did not end";
		snprintf(t->simopen_reason, sizeof(t->simopen_reason), "%s", why);
	}
}

const struct probe_test probe_test_tcp_simopen = {
    .name = "tcp-simopen",
    .help = "TCP simultaneous open (RFC 5382 REQ-2): our SYN to a silent port crossed by the "
	    "reflector's own from it; needs --session",
    .state_size = sizeof(struct state),
    .start = start,
    .on_answer = on_answer,
    .on_silence = on_silence,
    .finish = finish,
    .tcp = true,
    .on_tcp = on_tcp,
    .on_observed = on_observed,
};
