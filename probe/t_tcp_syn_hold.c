/*
 * RFC 5382 REQ-4's hold (opt-in: it waits 2 s): an unsolicited inbound SYN
 * must get no answer for 6 s, and if an outbound SYN for the same
 * connection comes in that time, the NAT must drop the inbound one and let
 * the outbound one through, which is what TCP hole punching between a
 * sooner and a later side needs.
 *
 * A connection from a fresh port p to the primary endpoint gives p's
 * mapping M (no listener on p). Over a control connection, the probe orders
 * SYN-HOLD: the reflector connect()s at once from a fresh port X on its
 * alternate address to M. Two seconds later the probe connects from p to X;
 * where the NAT held the reflector's SYN, ours reaches X while the
 * reflector's connect() is still trying, and the two make a connection.
 * SIMOPEN-RESULT says how the reflector's connect() ended and what answered
 * its SYN first, with the time and TTL.
 *
 * held: the connection formed from our SYN and nothing answered the
 * reflector's before it (REQ-4 met for the time waited). rst, icmp: the NAT
 * answered (not at our host's TTL), with the time (REQ-4 not met before
 * 6 s). pass: the SYN reached this host, whose kernel answered it (the
 * filter let it in: no hold to judge). Anything else: inconclusive.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "probe/tests.h"
#include "wire.h"

#define HOLD_US   2000000u /* before our SYN: the NAT's silence this long is seen */
#define RESULT_MS 5000u    /* the reflector's connect(): our SYN, its resends */

enum { TAG_CTRL, TAG_VICTIM, TAG_MAP, TAG_ARM, TAG_RESULT, TAG_HOLD, TAG_SYN };

struct state {
	int ctrl, victim, syn;
	uint8_t token[8];
	struct sockaddr_storage mapped, x, local; /* local: p */
	bool ctrl_up, mapped_known, armed, over;
	bool syn_done, connected, result_done, have_result;
	struct probe_observation result;
	uint64_t syn_us; /* our SYN, from the order */
	char note[PROBE_REASON_LEN];
};

static void end(struct probe_run *r, struct state *s)
{
	if (s->over)
		return;
	s->over = true;
	probe_cancel(r, TAG_HOLD);
	probe_tcp_close(r, s->syn);
	probe_tcp_close(r, s->victim);
	probe_tcp_close(r, s->ctrl);
}

static void fail(struct probe_run *r, struct state *s, const char *why)
{
	if (!s->note[0])
		snprintf(s->note, sizeof(s->note), "%s", why);
	end(r, s);
}

/* The control connection and the mapping known: the reflector's SYN to it. */
static void order(struct probe_run *r, struct state *s)
{
	if (!s->ctrl_up || !s->mapped_known || s->armed)
		return;
	s->armed = true;
	wire_put32(s->token, probe_token_nonce(r));
	wire_put32(s->token + 4, 0x5E1D0001u);
	if (probe_tcp_order_action(r, TAG_ARM, s->ctrl, PROBE_ORDER_SYN_HOLD, PROBE_AP,
				   addr_port((struct sockaddr *)&s->mapped), RESULT_MS, s->token))
		fail(r, s, "could not order the reflector's SYN");
}

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;

	s->ctrl = s->victim = s->syn = -1;
	if (!probe_have_session(r)) {
		s->over = true;
		return;
	}
	s->ctrl = probe_tcp_connect(r, TAG_CTRL, 0, PROBE_PP, NULL);
	s->victim = probe_tcp_connect(r, TAG_VICTIM, 0, PROBE_PP, &s->local);
	if (s->ctrl < 0 || s->victim < 0)
		fail(r, s, "could not connect to the reflector's primary endpoint");
}

static void maybe_done(struct probe_run *r, struct state *s)
{
	if (s->syn_done && s->result_done)
		end(r, s);
}

static void on_tcp(struct probe_run *r, void *state, int tag, int conn, enum probe_tcp_event ev,
		   int accepted, const struct sockaddr *peer)
{
	struct state *s = state;

	(void)accepted;
	(void)peer;
	if (s->over)
		return;
	if (tag == TAG_CTRL && ev == PROBE_TCP_CONNECTED) {
		s->ctrl_up = true;
		order(r, s);
	} else if (tag == TAG_VICTIM && ev == PROBE_TCP_CONNECTED) {
		if (probe_tcp_ask(r, TAG_MAP, s->victim))
			fail(r, s, "could not ask the reflector over TCP");
	} else if (tag == TAG_SYN && conn == s->syn && !s->syn_done) {
		s->syn_done = true;
		s->connected = ev == PROBE_TCP_CONNECTED;
		maybe_done(r, s);
	} else if ((tag == TAG_CTRL || tag == TAG_VICTIM) && !s->result_done) {
		fail(r, s, "a connection to the reflector's primary endpoint failed");
	}
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;

	if (tag != TAG_MAP || s->over)
		return;
	s->mapped = a->mapped;
	s->mapped_known = true;
	order(r, s);
}

static void on_observed(struct probe_run *r, void *state, int tag,
			const struct probe_observation *o)
{
	struct state *s = state;

	if (s->over)
		return;
	if (tag == TAG_ARM) {
		s->x = o->sent_from;
		if (probe_timer(r, TAG_HOLD, HOLD_US))
			fail(r, s, "no timer");
	} else if (tag == TAG_RESULT) {
		s->result = *o;
		s->have_result = s->result_done = true;
		/* Refused or unanswered: our connect() cannot make it a hold. */
		if (o->outcome != PROBE_SEEN_CONNECTED)
			s->syn_done = true;
		maybe_done(r, s);
	}
}

static void on_timer(struct probe_run *r, void *state, int tag)
{
	struct state *s = state;

	if (tag != TAG_HOLD || s->over)
		return;
	/* From p itself: the reflector's SYN went to p's mapping. Then the
	 * RESULT, answered when the reflector's connect() ends. */
	s->syn_us = probe_now_us(r);
	s->syn = probe_tcp_connect_to(r, TAG_SYN, addr_port((struct sockaddr *)&s->local),
				      (struct sockaddr *)&s->x, NULL);
	if (s->syn < 0)
		fail(r, s, "this host would not connect from the port the SYN went to");
	else if (probe_tcp_order_action(r, TAG_RESULT, s->ctrl, PROBE_ORDER_SIMOPEN_RESULT,
					PROBE_AP, 0, RESULT_MS, s->token))
		fail(r, s, "could not ask the reflector how its SYN went");
}

static void on_silence(struct probe_run *r, void *state, int tag, unsigned sends)
{
	struct state *s = state;

	(void)sends;
	if (s->over)
		return;
	if (tag == TAG_RESULT) {
		s->result_done = true;
		maybe_done(r, s);
	} else {
		fail(r, s,
		     tag == TAG_ARM ? "the reflector did not take the SYN-HOLD order"
				    : "the reflector did not say the connection's mapping");
	}
}

/* What came of it: the verdict, and why when there is none. */
static enum probe_hold verdict(const struct state *s, const char **why)
{
	const struct probe_observation *o = &s->result;

	*why = NULL;
	if (!s->have_result) {
		*why = "the reflector did not say how its SYN went";
		return PROBE_HOLD_INCONCLUSIVE;
	}
	if (o->outcome == PROBE_SEEN_RST || o->outcome == PROBE_SEEN_ICMP) {
		/* At our host's TTL: the SYN passed the NAT and the host answered. */
		if (o->peer_ttl && o->ttl == o->peer_ttl)
			return PROBE_HOLD_PASS;
		return o->outcome == PROBE_SEEN_RST ? PROBE_HOLD_RST : PROBE_HOLD_ICMP;
	}
	if (o->outcome == PROBE_SEEN_CONNECTED && s->connected && o->us >= HOLD_US / 2)
		return PROBE_HOLD_HELD;
	if (o->outcome == PROBE_SEEN_CONNECTED)
		*why = "the reflector's connection formed, but not from our SYN";
	else if (o->seen_syn.ss_family && !addr_equal((const struct sockaddr *)&o->seen_syn,
						      (const struct sockaddr *)&s->mapped))
		*why = "nothing answered the reflector's SYN, but ours to it left from another "
		       "public port (a mapping that depends on the destination): no hold to see";
	else
		*why = o->seen_syn.ss_family
			   ? "nothing answered the reflector's SYN, and ours 2 s later made no "
			     "connection (the NAT may have dropped it, or loss did)"
			   : "nothing answered the reflector's SYN, and ours never reached it";
	return PROBE_HOLD_INCONCLUSIVE;
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *s = state;
	struct probe_tcp *t = &res->tcp;
	const char *why;

	res->tcp_tested = true;
	if (!probe_have_session(r)) {
		t->hold = PROBE_HOLD_INCONCLUSIVE;
		snprintf(t->hold_reason, sizeof(t->hold_reason), PROBE_NEEDS_SESSION);
		return;
	}
	t->hold = verdict(s, &why);
	t->hold_x = s->x;
	t->hold_ms = s->have_result ? s->result.us / 1000.0 : 0;
	t->hold_ttl = s->have_result ? s->result.ttl : 0;
	if (s->have_result && s->result.peer_ttl && !t->baseline_ttl)
		t->baseline_ttl = s->result.peer_ttl;
	if (t->hold == PROBE_HOLD_INCONCLUSIVE)
		snprintf(t->hold_reason, sizeof(t->hold_reason), "%s",
			 s->note[0]          ? s->note
			 : probe_run_note(r) ? probe_run_note(r)
					     : why);
}

const struct probe_test probe_test_tcp_syn_hold = {
    .name = "tcp-syn-hold",
    .help = "RFC 5382 REQ-4's hold (opt-in, 2 s): the reflector's SYN to our mapping gets no "
	    "answer, and our own SYN 2 s later makes the connection; needs --session",
    .state_size = sizeof(struct state),
    .start = start,
    .on_answer = on_answer,
    .on_silence = on_silence,
    .on_timer = on_timer,
    .finish = finish,
    .tcp = true,
    .opt_in = true,
    .on_tcp = on_tcp,
    .on_observed = on_observed,
};
