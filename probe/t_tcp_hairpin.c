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
 * RST or ICMP error is an answer; unanswered ones count after 1.2 s (the
 * kernel sends a SYN again at 1 s), with two pairs of ports tried at once so
 * that one lost SYN is not the verdict.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "probe/decide.h"
#include "probe/tests.h"

#define PAIRS    2        /* at once: a lost SYN in one is covered by the other */
#define ROUND_US 1200000u /* a SYN, and its resend at 1 s */

/* Tags: pair * 8 + what. */
enum { TAG_LISTEN, TAG_CTRL = 2, TAG_ASK = 4, TAG_HAIR = 6, TAG_TIMER = 16 };

struct pair {
	int listener[2], ctrl[2], hair[2];
	struct sockaddr_storage local[2], mapped[2];
	bool have_mapped[2], ended[2], refused[2], failed;
	bool sent; /* its two SYNs went out */
};

struct state {
	struct pair pair[PAIRS];
	struct sockaddr_storage seen;
	const struct pair *winner;
	bool connected, over, behind_nat, timer;
	char note[PROBE_REASON_LEN];
};

static void close_pair(struct probe_run *r, struct pair *p)
{
	for (int i = 0; i < 2; i++) {
		probe_tcp_close(r, p->hair[i]);
		probe_tcp_close(r, p->ctrl[i]);
		probe_tcp_close(r, p->listener[i]);
		p->hair[i] = p->ctrl[i] = p->listener[i] = -1;
	}
}

static void end(struct probe_run *r, struct state *s)
{
	if (s->over)
		return;
	s->over = true;
	probe_cancel(r, TAG_TIMER);
	for (int k = 0; k < PAIRS; k++)
		close_pair(r, &s->pair[k]);
}

/* One pair has failed (a socket or the reflector): the test goes on with
 * the other, unless none is left. */
static void pair_failed(struct probe_run *r, struct state *s, struct pair *p, const char *why)
{
	if (why && !s->note[0])
		snprintf(s->note, sizeof(s->note), "%s", why);
	p->failed = true;
	for (int k = 0; k < PAIRS; k++)
		if (!s->pair[k].failed && !(s->pair[k].ended[0] && s->pair[k].ended[1]))
			return;
	end(r, s);
}

static void start_pair(struct probe_run *r, struct pair *p, int k)
{
	for (int i = 0; i < 2; i++) {
		p->hair[i] = p->ctrl[i] = -1;
		p->listener[i] = probe_tcp_listen(r, k * 8 + TAG_LISTEN + i, 0, &p->local[i]);
		if (p->listener[i] < 0)
			break;
		p->ctrl[i] =
		    probe_tcp_connect(r, k * 8 + TAG_CTRL + i,
				      addr_port((struct sockaddr *)&p->local[i]), PROBE_PP, NULL);
	}
	if (p->ctrl[0] < 0 || p->ctrl[1] < 0)
		p->failed = true;
}

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;

	for (int k = 0; k < PAIRS; k++)
		start_pair(r, &s->pair[k], k);
	if (s->pair[0].failed && s->pair[1].failed)
		end(r, s);
}

static void succeeded(struct probe_run *r, struct state *s, const struct pair *p,
		      const struct sockaddr *peer)
{
	if (s->over)
		return;
	s->connected = true;
	s->winner = p;
	memcpy(&s->seen, peer, addr_len(peer));
	end(r, s);
}

/* A pair's mappings known: each port connects to the other's, at once. */
static void hairpin(struct probe_run *r, struct state *s, struct pair *p, int k)
{
	for (int i = 0; i < 2; i++)
		if (!addr_equal((struct sockaddr *)&p->mapped[i], (struct sockaddr *)&p->local[i]))
			s->behind_nat = true;
	if (!s->behind_nat) {
		end(r, s);
		return;
	}
	/* The other side's SYN may already have come back through the NAT to
	 * this port's listener, taking the 4-tuple this connect() wants: then
	 * that side goes on alone, and its handshake (or the accept) decides. */
	for (int i = 0; i < 2; i++) {
		p->hair[i] = probe_tcp_connect_to(r, k * 8 + TAG_HAIR + i,
						  addr_port((struct sockaddr *)&p->local[i]),
						  (struct sockaddr *)&p->mapped[1 - i], NULL);
		p->ended[i] = p->hair[i] < 0;
	}
	if (p->hair[0] < 0 && p->hair[1] < 0) {
		pair_failed(r, s, p, "this host would not connect from a port that has a listener");
		return;
	}
	p->sent = true;
	if (!s->timer)
		probe_timer(r, TAG_TIMER, ROUND_US);
	s->timer = true;
}

static void on_tcp(struct probe_run *r, void *state, int tag, int conn, enum probe_tcp_event ev,
		   int accepted, const struct sockaddr *peer)
{
	struct state *s = state;
	int k = tag / 8, what = tag % 8 / 2 * 2, i = tag & 1;
	struct pair *p = k < PAIRS ? &s->pair[k] : NULL;

	(void)conn;
	if (s->over || !p || p->failed)
		return;
	if (what == TAG_LISTEN && ev == PROBE_TCP_ACCEPTED) {
		probe_tcp_close(r, accepted);
		succeeded(r, s, p, peer);
	} else if (what == TAG_CTRL && ev == PROBE_TCP_CONNECTED) {
		if (probe_tcp_ask(r, k * 8 + TAG_ASK + i, p->ctrl[i]))
			pair_failed(r, s, p, "could not ask the reflector over TCP");
	} else if (what == TAG_CTRL && ev != PROBE_TCP_CLOSED) {
		pair_failed(r, s, p, "a connection to the reflector's primary endpoint failed");
	} else if (what == TAG_HAIR && ev == PROBE_TCP_CONNECTED) {
		succeeded(r, s, p, (struct sockaddr *)&p->mapped[1 - i]);
	} else if (what == TAG_HAIR && !p->ended[i]) {
		p->ended[i] = true;
		p->refused[i] = ev == PROBE_TCP_REFUSED || ev == PROBE_TCP_UNREACHABLE;
		if (p->ended[1 - i])
			pair_failed(r, s, p, NULL);
	}
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;
	int k = tag / 8, i = tag & 1;
	struct pair *p = k < PAIRS ? &s->pair[k] : NULL;

	if (s->over || !p || p->failed || tag % 8 / 2 * 2 != TAG_ASK)
		return;
	p->mapped[i] = a->mapped;
	p->have_mapped[i] = true;
	if (p->have_mapped[1 - i])
		hairpin(r, s, p, k);
}

static void on_silence(struct probe_run *r, void *state, int tag, unsigned sends)
{
	struct state *s = state;
	int k = tag / 8;

	(void)sends;
	if (!s->over && k < PAIRS && tag % 8 / 2 * 2 == TAG_ASK)
		pair_failed(r, s, &s->pair[k],
			    "the reflector did not say a connection's mapped address");
}

static void on_timer(struct probe_run *r, void *state, int tag)
{
	if (tag == TAG_TIMER)
		end(r, state);
}

/* The source the receiver saw, in RFC 4787 REQ-9's terms. */
static const char *source_kind(const struct state *s)
{
	const struct pair *p = s->winner;

	for (int i = 0; i < 2; i++) {
		if (addr_equal((const struct sockaddr *)&s->seen,
			       (const struct sockaddr *)&p->local[i]))
			return "internal";
		if (addr_same_ip((const struct sockaddr *)&s->seen,
				 (const struct sockaddr *)&p->mapped[i]))
			return "external";
	}
	return "other";
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *s = state;
	struct probe_tcp *t = &res->tcp;
	const struct pair *p = s->winner ? s->winner : &s->pair[0];
	struct probe_tcp_hairpin_seen seen = {.behind_nat = s->behind_nat,
					      .connected = s->connected,
					      .answered = true,
					      .trusted = probe_silence_trusted(r),
					      .mapping = t->mapping,
					      .filtering = t->filtering,
					      .simopen = t->simopen};
	const char *why = NULL;
	unsigned tried = 0;

	/* Every pair that sent its SYNs counts; answered only if all were. */
	for (int k = 0; k < PAIRS; k++) {
		const struct pair *q = &s->pair[k];

		if (!q->sent)
			continue;
		tried++;
		seen.answered = seen.answered && q->refused[0] && q->refused[1];
	}
	seen.answered = seen.answered && tried;
	seen.trusted = seen.trusted && tried == PAIRS;
	res->tcp_tested = t->hairpin_tested = true;
	t->hairpin_rounds = tried;
	for (int i = 0; i < 2; i++) {
		t->hairpin_local[i] = p->local[i];
		t->hairpin_mapped[i] = p->mapped[i];
	}
	t->hairpinning = probe_decide_tcp_hairpin(&seen, &why);
	if (t->hairpinning != PROBE_YES && !tried) { /* no SYN went out: no verdict, say why */
		why = s->note[0] ? s->note : probe_run_note(r) ? probe_run_note(r) : why;
		t->hairpinning = PROBE_UNKNOWN;
	}
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
