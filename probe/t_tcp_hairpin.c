/*
 * TCP hairpinning (RFC 5382 REQ-8): can two hosts behind this NAT reach
 * each other at their public endpoints, as a TCP hole punch between them
 * needs?
 *
 * A pair: two fresh local ports, each with a listener and a connection to
 * the reflector's primary endpoint, which says its mapping (M0, M1). Then
 * each port connects to the other's mapping at once: the two SYNs go out to
 * the NAT's own address, and a hairpinning NAT turns them back in. Crossing,
 * they open each other's filter as hole punching does. A connection that
 * forms, or a listener that takes one, is hairpinning; the source the
 * receiver saw says how: the sender's public endpoint ("external", what
 * REQ-8 with RFC 4787 REQ-9 wants), its inside one ("internal"), or another.
 *
 * With --peer, the same pairs between this host and the second one (side 1
 * on the peer), side by side with this host's own: RFC 5382 REQ-8 is about
 * two hosts, and the record's verdict joins both as UDP's does.
 *
 * A NAT that hairpins with the inside source cannot make a TCP connection
 * at all (the answer bypasses it, and the sender expects one from the public
 * endpoint it connected to), so for TCP it reads false, as none does.
 *
 * Nothing: no hairpinning, where the packets could have been seen (see
 * probe_decide_tcp_hairpin: the mapping, filtering and simultaneous-open
 * verdicts of the tests before this one say so). Every pair with a SYN
 * answered by a RST or ICMP error is an answer: a hairpinned SYN would have
 * met the other port's listener, and loss cannot make a RST. (Of a pair's
 * two SYNs, crossing at once, the NAT now and then answers only one before
 * the pair's time is up.) Unanswered SYNs are not
 * waited for until the kernel sends them again (1 s): a pair's SYNs count
 * after six retransmission timeouts of the path to the reflector (which
 * the hairpin's path, turning at the NAT, does not exceed), and pairs are
 * tried, a few at once, until their silence is as trustworthy as the loss
 * measured so far allows (a pair needs two round trips' worth of packets).
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "probe/decide.h"
#include "probe/tests.h"

#define PAIRS_MAX 40 /* past this, the loss is too high to read silence */
/* Pairs at once, per set: with --peer 16 connections to the reflector, well
 * inside natreflector's 64 per source (16 before: a finished batch's may
 * still be closing) */
#define IN_FLIGHT   4
#define ROUND_TRIPS 2  /* the packets one pair needs: SYN, crossing SYN, SYN-ACK, ACK */
#define SLOTS       16 /* tags per pair */

enum { HOST, PEER, SETS }; /* pairs on this host; with side 1 on the second host */

/* Tags: (set * PAIRS_MAX + pair) * SLOTS + what (+ side). */
enum { TAG_LISTEN, TAG_CTRL = 2, TAG_ASK = 4, TAG_HAIR = 6, TAG_TIMER = 8 };

struct pair {
	int listener[2], ctrl[2], hair[2];
	struct sockaddr_storage local[2], mapped[2];
	bool have_mapped[2], ended[2], refused[2];
	bool sent, over; /* its two SYNs went out; its sockets are closed */
};

struct set {
	int id; /* HOST or PEER */
	struct pair pair[PAIRS_MAX];
	unsigned want, attempts, started, in_flight, wait_ms;
	bool enough; /* want pairs are enough for the loss measured */
	struct sockaddr_storage seen;
	const struct pair *winner;
	bool connected, over, behind_nat;
	char note[PROBE_REASON_LEN];
};

struct state {
	struct set set[SETS];
};

static int tag_of(const struct set *s, int k, int what)
{
	return (s->id * PAIRS_MAX + k) * SLOTS + what;
}

/* The set and pair a tag is about (NULL: none). */
static struct set *set_of(struct state *st, int tag, int *k)
{
	int n = tag / SLOTS;

	*k = n % PAIRS_MAX;
	return n / PAIRS_MAX < SETS ? &st->set[n / PAIRS_MAX] : NULL;
}

static void close_pair(struct probe_run *r, struct set *s, struct pair *p, int k)
{
	for (int i = 0; i < 2; i++) {
		probe_tcp_close(r, p->hair[i]);
		probe_tcp_close(r, p->ctrl[i]);
		probe_tcp_close(r, p->listener[i]);
		p->hair[i] = p->ctrl[i] = p->listener[i] = -1;
	}
	probe_cancel(r, tag_of(s, k, TAG_TIMER));
}

static void end(struct probe_run *r, struct set *s)
{
	if (s->over)
		return;
	s->over = true;
	for (unsigned k = 0; k < s->started; k++)
		if (!s->pair[k].over)
			close_pair(r, s, &s->pair[k], (int)k);
}

static unsigned tried(const struct set *s)
{
	unsigned n = 0;

	for (unsigned k = 0; k < s->started; k++)
		n += s->pair[k].sent;
	return n;
}

static void start_pair(struct probe_run *r, struct set *s, int k)
{
	struct pair *p = &s->pair[k];

	s->started++;
	s->in_flight++;
	for (int i = 0; i < 2; i++)
		p->hair[i] = p->ctrl[i] = p->listener[i] = -1;
	for (int i = 0; i < 2 && (i == 0 || p->listener[0] >= 0); i++) {
		bool peer = s->id == PEER && i == 1;
		int listen = tag_of(s, k, TAG_LISTEN + i), ctrl = tag_of(s, k, TAG_CTRL + i);
		const struct sockaddr *local = (struct sockaddr *)&p->local[i];

		p->listener[i] = peer ? probe_peer_tcp_listen(r, listen, 0, &p->local[i])
				      : probe_tcp_listen(r, listen, 0, &p->local[i]);
		if (p->listener[i] >= 0)
			p->ctrl[i] =
			    peer ? probe_peer_tcp_connect(r, ctrl, addr_port(local), PROBE_PP, NULL)
				 : probe_tcp_connect(r, ctrl, addr_port(local), PROBE_PP, NULL);
	}
}

/* Pairs while more are wanted: a few at once, those that failed to set up
 * replaced (a setup failure is no hairpinning failure), within bounds. */
static void launch(struct probe_run *r, struct set *s);

/* A pair is over: its sockets close, and another may start. */
static void pair_over(struct probe_run *r, struct set *s, struct pair *p, const char *why)
{
	if (p->over || s->over)
		return;
	if (why && !s->note[0])
		snprintf(s->note, sizeof(s->note), "%s", why);
	p->over = true;
	s->in_flight--;
	close_pair(r, s, p, (int)(p - s->pair));
	launch(r, s);
}

static void launch(struct probe_run *r, struct set *s)
{
	while (!s->over && s->in_flight < IN_FLIGHT && s->started < s->attempts &&
	       tried(s) + s->in_flight < s->want) {
		struct pair *p = &s->pair[s->started];

		start_pair(r, s, (int)s->started);
		if (p->ctrl[0] < 0 || p->ctrl[1] < 0)
			pair_over(r, s, p,
				  p->ctrl[0] < 0
				      ? "this host would not open a listener and a connection"
				      : "the second host would not open a listener and a "
					"connection");
	}
	if (!s->over && !s->in_flight)
		end(r, s);
}

static void start(struct probe_run *r, void *state)
{
	struct state *st = state;
	unsigned want = probe_tries_needed(r, ROUND_TRIPS);

	for (int id = 0; id < SETS; id++) {
		struct set *s = &st->set[id];

		s->id = id;
		s->enough = want <= PAIRS_MAX;
		s->want = s->enough ? want : PAIRS_MAX;
		s->attempts =
		    s->want + s->want / 2 + 1 < PAIRS_MAX ? s->want + s->want / 2 + 1 : PAIRS_MAX;
		s->wait_ms = 2 * probe_order_wait_ms(r);
		if (id == HOST || probe_have_peer_tcp(r))
			launch(r, s);
		else
			s->over = true;
	}
}

static void succeeded(struct probe_run *r, struct set *s, const struct pair *p,
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
static void hairpin(struct probe_run *r, struct set *s, struct pair *p, int k)
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
		int tag = tag_of(s, k, TAG_HAIR + i);
		uint16_t port = addr_port((struct sockaddr *)&p->local[i]);
		const struct sockaddr *to = (struct sockaddr *)&p->mapped[1 - i];

		p->hair[i] = s->id == PEER && i == 1
				 ? probe_peer_tcp_connect_to(r, tag, port, to, NULL)
				 : probe_tcp_connect_to(r, tag, port, to, NULL);
		p->ended[i] = p->hair[i] < 0;
	}
	if (p->hair[0] < 0 && p->hair[1] < 0) {
		pair_over(r, s, p, "this host would not connect from a port that has a listener");
		return;
	}
	p->sent = true;
	if (probe_timer(r, tag_of(s, k, TAG_TIMER), (uint64_t)s->wait_ms * 1000))
		pair_over(r, s, p, "no timer");
}

static void on_tcp(struct probe_run *r, void *state, int tag, int conn, enum probe_tcp_event ev,
		   int accepted, const struct sockaddr *peer)
{
	int k, what = tag % SLOTS / 2 * 2, i = tag & 1;
	struct set *s = set_of(state, tag, &k);
	struct pair *p = s ? &s->pair[k] : NULL;

	(void)conn;
	if (!s || s->over || p->over)
		return;
	if (what == TAG_LISTEN && ev == PROBE_TCP_ACCEPTED) {
		probe_tcp_close(r, accepted);
		succeeded(r, s, p, peer);
	} else if (what == TAG_CTRL && ev == PROBE_TCP_CONNECTED) {
		if (probe_tcp_ask(r, tag_of(s, k, TAG_ASK + i), p->ctrl[i]))
			pair_over(r, s, p, "could not ask the reflector over TCP");
	} else if (what == TAG_CTRL && ev != PROBE_TCP_CLOSED) {
		pair_over(r, s, p, "a connection to the reflector's primary endpoint failed");
	} else if (what == TAG_HAIR && ev == PROBE_TCP_CONNECTED) {
		succeeded(r, s, p, (struct sockaddr *)&p->mapped[1 - i]);
	} else if (what == TAG_HAIR && !p->ended[i]) {
		p->ended[i] = true;
		p->refused[i] = ev == PROBE_TCP_REFUSED || ev == PROBE_TCP_UNREACHABLE;
		if (p->ended[1 - i])
			pair_over(r, s, p, NULL);
	}
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	int k, i = tag & 1;
	struct set *s = set_of(state, tag, &k);
	struct pair *p = s ? &s->pair[k] : NULL;

	if (!s || s->over || p->over || tag % SLOTS / 2 * 2 != TAG_ASK)
		return;
	p->mapped[i] = a->mapped;
	p->have_mapped[i] = true;
	if (p->have_mapped[1 - i])
		hairpin(r, s, p, k);
}

static void on_silence(struct probe_run *r, void *state, int tag, unsigned sends)
{
	int k;
	struct set *s = set_of(state, tag, &k);

	(void)sends;
	if (s && !s->over && tag % SLOTS / 2 * 2 == TAG_ASK)
		pair_over(r, s, &s->pair[k],
			  "the reflector did not say a connection's mapped address");
}

static void on_timer(struct probe_run *r, void *state, int tag)
{
	int k;
	struct set *s = set_of(state, tag, &k);

	if (s && !s->over && tag % SLOTS == TAG_TIMER)
		pair_over(r, s, &s->pair[k], NULL);
}

/* The source the receiver saw, in RFC 4787 REQ-9's terms. */
static const char *source_kind(const struct set *s)
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

/* One set's verdict, its evidence in t (this host's pairs: the record's
 * hairpin_local, hairpin_mapped), and why where there is none. */
static enum probe_bool decide_set(struct probe_run *r, const struct set *s, struct probe_tcp *t,
				  const char **why)
{
	const struct pair *p = s->winner ? s->winner : &s->pair[0];
	struct probe_tcp_hairpin_seen seen = {.behind_nat = s->behind_nat,
					      .connected = s->connected,
					      .answered = true,
					      .mapping = t->mapping,
					      .filtering = t->filtering,
					      .simopen = t->simopen};
	unsigned n = tried(s);
	enum probe_bool v;

	/* Every pair that sent its SYNs counts; answered only if each had one refused. */
	for (unsigned k = 0; k < s->started; k++) {
		const struct pair *q = &s->pair[k];

		if (q->sent)
			seen.answered = seen.answered && (q->refused[0] || q->refused[1]);
		if (q->sent && !s->winner)
			p = q;
	}
	seen.answered = seen.answered && n;
	seen.trusted = probe_silence_trusted(r) && s->enough && n >= s->want;
	if (s->id == HOST) {
		t->hairpin_rounds = n;
		for (int i = 0; i < 2; i++) {
			t->hairpin_local[i] = p->local[i];
			t->hairpin_mapped[i] = p->mapped[i];
		}
	} else
		t->hairpin_peer_rounds = n;
	v = probe_decide_tcp_hairpin(&seen, why);
	if (v != PROBE_YES && !n) { /* no SYN went out: no verdict, say why */
		*why = s->note[0] ? s->note : probe_run_note(r) ? probe_run_note(r) : *why;
		v = PROBE_UNKNOWN;
	}
	if (v == PROBE_UNKNOWN && !t->simopen_tested && t->filtering == PROBE_FILTERING_UNTESTED &&
	    s->behind_nat)
		*why = "no connection; ruling hairpinning out needs the simultaneous-open or "
		       "filtering verdict (--session)";
	if (v == PROBE_UNKNOWN && !*why)
		*why = "the attempt did not end";
	return v;
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *st = state;
	struct probe_tcp *t = &res->tcp;
	const char *why = NULL, *peer_why = NULL, *join_why;

	res->tcp_tested = t->hairpin_tested = true;
	t->hairpin_host = decide_set(r, &st->set[HOST], t, &why);
	if (t->hairpin_host == PROBE_YES) {
		t->hairpin_seen = st->set[HOST].seen;
		snprintf(t->hairpin_host_source, sizeof(t->hairpin_host_source), "%s",
			 source_kind(&st->set[HOST]));
	}
	if (probe_have_peer_tcp(r)) {
		t->hairpin_peer_tested = true;
		t->hairpin_peer = decide_set(r, &st->set[PEER], t, &peer_why);
		if (t->hairpin_peer == PROBE_YES) {
			t->hairpin_peer_seen = st->set[PEER].seen;
			snprintf(t->hairpin_peer_source, sizeof(t->hairpin_peer_source), "%s",
				 source_kind(&st->set[PEER]));
		} else
			snprintf(t->hairpin_peer_reason, sizeof(t->hairpin_peer_reason), "%s",
				 peer_why);
	} else if (probe_peer_missing(r)) {
		t->hairpin_peer_tested = true;
		snprintf(t->hairpin_peer_reason, sizeof(t->hairpin_peer_reason), "%s",
			 probe_peer_missing(r));
	}
	t->hairpinning = probe_decide_hairpin_join(t->hairpin_peer_tested, t->hairpin_host,
						   t->hairpin_peer, &join_why);
	/* The source between hosts is the one REQ-8 is about. */
	snprintf(t->hairpin_source, sizeof(t->hairpin_source), "%s",
		 t->hairpin_peer == PROBE_YES ? t->hairpin_peer_source : t->hairpin_host_source);
	if (t->hairpinning == PROBE_UNKNOWN)
		snprintf(t->hairpin_reason, sizeof(t->hairpin_reason), "%s",
			 join_why                           ? join_why
			 : t->hairpin_host == PROBE_UNKNOWN ? why
							    : t->hairpin_peer_reason);
}

const struct probe_test probe_test_tcp_hairpin = {
    .name = "tcp-hairpin",
    .help = "TCP hairpinning (RFC 5382 REQ-8): two local ports connect to each other's public "
	    "endpoint at once, pairs as the loss requires (with --peer, also a port here and one "
	    "on the second host); the source the receiver saw",
    .state_size = sizeof(struct state),
    .start = start,
    .on_answer = on_answer,
    .on_silence = on_silence,
    .on_timer = on_timer,
    .finish = finish,
    .tcp = true,
    .on_tcp = on_tcp,
};
