/*
 * TCP hairpinning (RFC 5382 REQ-8): can two hosts behind this NAT reach
 * each other at their public endpoints, as a TCP hole punch between them
 * needs?
 *
 * Two fresh local ports, each with a listener and a connection to the
 * reflector's primary endpoint, which says its mapping (M0, M1). Then each
 * port connects to the other's mapping at once: the two SYNs go out to the
 * NAT's own address, and a hairpinning NAT turns them back in. Crossing, they
 * open each other's filter as hole punching does. A connection that forms,
 * or a listener that takes one, is hairpinning; the source the receiver saw
 * says how: the sender's public endpoint ("external", what REQ-8 with RFC
 * 4787 REQ-9 wants), its inside one ("internal"), or another.
 *
 * A NAT that hairpins with the inside source cannot make a TCP connection
 * at all (the answer bypasses it, and the sender expects one from the public
 * endpoint it connected to), so for TCP it reads false, as none does.
 *
 * Nothing: no hairpinning, where the packets could have been seen (see
 * probe_decide_tcp_hairpin: the mapping, filtering and simultaneous-open
 * verdicts of the tests before this one say so). Both SYNs answered with a
 * RST or ICMP error is an answer; unanswered ones are tried in a second round
 * on fresh ports before they count.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "probe/decide.h"
#include "probe/tests.h"

#define ROUNDS   2
#define ROUND_US 1200000u /* a SYN, and its resend at 1 s */

enum { TAG_LISTEN, TAG_CTRL = 2, TAG_ASK = 4, TAG_HAIR = 6, TAG_TIMER = 8 };

struct state {
	unsigned round;
	int listener[2], ctrl[2], hair[2];
	struct sockaddr_storage local[2], mapped[2], seen;
	bool have_mapped[2], ended[2], refused[2];
	bool connected, round_over, behind_nat;
	bool answered_all; /* the last round's SYNs were all answered */
	char note[PROBE_REASON_LEN];
};

static void close_round(struct probe_run *r, struct state *s)
{
	probe_cancel(r, TAG_TIMER);
	for (int i = 0; i < 2; i++) {
		probe_tcp_close(r, s->hair[i]);
		probe_tcp_close(r, s->ctrl[i]);
		probe_tcp_close(r, s->listener[i]);
		s->hair[i] = s->ctrl[i] = s->listener[i] = -1;
	}
}

static void start_round(struct probe_run *r, struct state *s)
{
	s->round++;
	s->round_over = false;
	for (int i = 0; i < 2; i++) {
		s->have_mapped[i] = s->ended[i] = s->refused[i] = false;
		s->hair[i] = s->ctrl[i] = -1;
		s->listener[i] = probe_tcp_listen(r, TAG_LISTEN + i, 0, &s->local[i]);
		if (s->listener[i] < 0)
			break;
		s->ctrl[i] = probe_tcp_connect(
		    r, TAG_CTRL + i, addr_port((struct sockaddr *)&s->local[i]), PROBE_PP, NULL);
	}
	if (s->ctrl[0] < 0 || s->ctrl[1] < 0) {
		s->round_over = true;
		close_round(r, s);
	}
}

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;

	for (int i = 0; i < 2; i++)
		s->listener[i] = s->ctrl[i] = s->hair[i] = -1;
	start_round(r, s);
}

/* The round ended without a connection: another, or the end. */
static void round_failed(struct probe_run *r, struct state *s)
{
	if (s->round_over)
		return;
	s->round_over = true;
	s->answered_all = s->refused[0] && s->refused[1];
	close_round(r, s);
	if (!s->answered_all && s->round < ROUNDS)
		start_round(r, s);
}

static void succeeded(struct probe_run *r, struct state *s, const struct sockaddr *peer)
{
	if (s->round_over)
		return;
	s->connected = true;
	memcpy(&s->seen, peer, addr_len(peer));
	s->round_over = true;
	close_round(r, s);
}

/* Both mappings known: each port connects to the other's, at once. */
static void hairpin(struct probe_run *r, struct state *s)
{
	for (int i = 0; i < 2; i++)
		s->behind_nat =
		    !addr_equal((struct sockaddr *)&s->mapped[i], (struct sockaddr *)&s->local[i]);
	if (!s->behind_nat) {
		s->round_over = true;
		close_round(r, s);
		return;
	}
	for (int i = 0; i < 2; i++)
		s->hair[i] = probe_tcp_connect_to(r, TAG_HAIR + i,
						  addr_port((struct sockaddr *)&s->local[i]),
						  (struct sockaddr *)&s->mapped[1 - i], NULL);
	if (s->hair[0] < 0 || s->hair[1] < 0) {
		snprintf(s->note, sizeof(s->note), "%s",
			 "this host would not connect from a port that has a listener");
		s->round_over = true;
		close_round(r, s);
		return;
	}
	probe_timer(r, TAG_TIMER, ROUND_US);
}

static void on_tcp(struct probe_run *r, void *state, int tag, int conn, enum probe_tcp_event ev,
		   int accepted, const struct sockaddr *peer)
{
	struct state *s = state;
	int i = tag & 1;

	(void)conn;
	if (s->round_over)
		return;
	if (tag / 2 * 2 == TAG_LISTEN && ev == PROBE_TCP_ACCEPTED) {
		probe_tcp_close(r, accepted);
		succeeded(r, s, peer);
	} else if (tag / 2 * 2 == TAG_CTRL && ev == PROBE_TCP_CONNECTED) {
		if (probe_tcp_ask(r, TAG_ASK + i, s->ctrl[i]))
			round_failed(r, s);
	} else if (tag / 2 * 2 == TAG_CTRL && ev != PROBE_TCP_CLOSED) {
		snprintf(s->note, sizeof(s->note), "%s",
			 "a connection to the reflector's primary endpoint failed");
		round_failed(r, s);
	} else if (tag / 2 * 2 == TAG_HAIR && ev == PROBE_TCP_CONNECTED) {
		succeeded(r, s, (struct sockaddr *)&s->mapped[1 - i]);
	} else if (tag / 2 * 2 == TAG_HAIR && !s->ended[i]) {
		s->ended[i] = true;
		s->refused[i] = ev == PROBE_TCP_REFUSED || ev == PROBE_TCP_UNREACHABLE;
		if (s->ended[1 - i])
			round_failed(r, s);
	}
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;
	int i = tag & 1;

	if (s->round_over || tag / 2 * 2 != TAG_ASK)
		return;
	s->mapped[i] = a->mapped;
	s->have_mapped[i] = true;
	if (s->have_mapped[1 - i])
		hairpin(r, s);
}

static void on_silence(struct probe_run *r, void *state, int tag, unsigned sends)
{
	struct state *s = state;

	(void)sends;
	if (!s->round_over && tag / 2 * 2 == TAG_ASK) {
		snprintf(s->note, sizeof(s->note), "%s",
			 "the reflector did not say a connection's mapped address");
		round_failed(r, s);
	}
}

static void on_timer(struct probe_run *r, void *state, int tag)
{
	if (tag == TAG_TIMER)
		round_failed(r, state);
}

/* The source the receiver saw, in RFC 4787 REQ-9's terms. */
static const char *source_kind(const struct state *s)
{
	for (int i = 0; i < 2; i++) {
		if (addr_equal((const struct sockaddr *)&s->seen,
			       (const struct sockaddr *)&s->local[i]))
			return "internal";
		if (addr_same_ip((const struct sockaddr *)&s->seen,
				 (const struct sockaddr *)&s->mapped[i]))
			return "external";
	}
	return "other";
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *s = state;
	struct probe_tcp *t = &res->tcp;
	struct probe_tcp_hairpin_seen seen = {.behind_nat = s->behind_nat,
					      .connected = s->connected,
					      .answered = s->answered_all,
					      .trusted =
						  s->round == ROUNDS && probe_silence_trusted(r),
					      .mapping = t->mapping,
					      .filtering = t->filtering,
					      .simopen = t->simopen};
	const char *why = NULL;

	res->tcp_tested = t->hairpin_tested = true;
	t->hairpin_rounds = s->round;
	for (int i = 0; i < 2; i++) {
		t->hairpin_local[i] = s->local[i];
		t->hairpin_mapped[i] = s->mapped[i];
	}
	t->hairpinning = s->note[0] ? PROBE_UNKNOWN : probe_decide_tcp_hairpin(&seen, &why);
	if (s->note[0] || (!s->have_mapped[0] || !s->have_mapped[1]))
		why = s->note[0] ? s->note : probe_run_note(r) ? probe_run_note(r) : why;
	if (t->hairpinning == PROBE_YES) {
		t->hairpin_seen = s->seen;
		snprintf(t->hairpin_source, sizeof(t->hairpin_source), "%s", source_kind(s));
	} else if (t->hairpinning == PROBE_UNKNOWN) {
		if (!t->simopen_tested && t->filtering == PROBE_FILTERING_UNTESTED && s->behind_nat)
			why =
			    "no connection; ruling hairpinning out needs the simultaneous-open or "
			    "filtering verdict (--session)";
		snprintf(t->hairpin_reason, sizeof(t->hairpin_reason), "%s",
			 why ? why : "the attempt did not end");
	}
}

const struct probe_test probe_test_tcp_hairpin = {
    .name = "tcp-hairpin",
    .help = "TCP hairpinning (RFC 5382 REQ-8): two local ports connect to each other's public "
	    "endpoint at once; the source the receiver saw",
    .state_size = sizeof(struct state),
    .start = start,
    .on_answer = on_answer,
    .on_silence = on_silence,
    .on_timer = on_timer,
    .finish = finish,
    .tcp = true,
    .on_tcp = on_tcp,
};
