/*
 * The answer to an unsolicited SYN at an unused public port (RFC 5382
 * REQ-4, section 7.1): drop, rst, icmp, or pass (the host's own answer came
 * back: the NAT forwarded a SYN nobody asked for).
 *
 * A connection to the reflector's primary endpoint gives the NAT's public
 * address and carries the order: a SYN from the reflector's other address
 * to another port U of that address, one no mapping of ours holds. What
 * comes back is read as in tcp-filtering (the TTL tells the NAT's answer
 * from the host's). A pass would also be what a mapping of another host
 * does, so it must be seen at a second unused port too; two that disagree
 * are inconclusive. The time to the answer is kept: a NAT that holds the
 * SYN for 6 s first (REQ-4's timer) shows it there.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "probe/decide.h"
#include "probe/synask.h"
#include "probe/tests.h"

enum { TAG_CONN, TAG_ASK, TAG_U1, TAG_U2 };

struct state {
	int conn;
	struct sockaddr_storage local, mapped;
	bool closed;
	uint16_t port[2];
	struct probe_syn_ask ask[2];
	unsigned nasked;
};

static void close_conn(struct probe_run *r, struct state *s)
{
	if (!s->closed)
		probe_tcp_close(r, s->conn);
	s->closed = true;
}

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;

	s->conn = -1;
	if (probe_have_session(r))
		s->conn = probe_tcp_connect(r, TAG_CONN, 0, PROBE_PP, &s->local);
	s->closed = s->conn < 0;
}

/*
 * An unused port: far from the mapping's own and from our local port, so
 * that a sequential or preserving NAT has not given it to us, and
 * different each run. The second is on the other side of the range.
 */
static uint16_t unused_port(const struct state *s, unsigned i)
{
	unsigned mine = addr_port((const struct sockaddr *)&s->mapped);
	unsigned local = addr_port((const struct sockaddr *)&s->local);
	unsigned p = 1024u + (mine + 16411u * (i + 1) + local * 7u) % 64000u;

	for (int tries = 0; tries < 16 && ((p > mine ? p - mine : mine - p) < 512 ||
					   (p > local ? p - local : local - p) < 512);
	     tries++)
		p = 1024u + (p + 8191u) % 64000u;
	return (uint16_t)p;
}

static void ask(struct probe_run *r, struct state *s)
{
	unsigned i = s->nasked++;

	s->port[i] = unused_port(s, i);
	if (probe_syn_ask(r, TAG_U1 + (int)i, &s->ask[i], s->conn, PROBE_AA, s->port[i])) {
		probe_note(r, "could not order the reflector's SYN");
		close_conn(r, s);
	}
}

static void on_tcp(struct probe_run *r, void *state, int tag, int conn, enum probe_tcp_event ev,
		   int accepted, const struct sockaddr *peer)
{
	struct state *s = state;

	(void)conn;
	(void)accepted;
	(void)peer;
	if (tag != TAG_CONN || s->closed)
		return;
	if (ev == PROBE_TCP_CONNECTED && !probe_tcp_ask(r, TAG_ASK, s->conn))
		return;
	if (ev != PROBE_TCP_CLOSED)
		probe_note(r, "the connection to the reflector's primary endpoint failed");
	close_conn(r, s);
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;

	if (tag != TAG_ASK)
		return;
	s->mapped = a->mapped;
	ask(r, s);
}

static void on_observed(struct probe_run *r, void *state, int tag,
			const struct probe_observation *o)
{
	struct state *s = state;
	unsigned i = (unsigned)(tag - TAG_U1);

	if (i >= s->nasked || !probe_syn_ask_observed(r, tag, &s->ask[i], o))
		return;
	/* Only a pass needs a second port: it might be someone's mapping. */
	if (i == 0 && s->ask[0].seen.fate == PROBE_SYN_PASS)
		ask(r, s);
	else
		close_conn(r, s);
}

static void on_silence(struct probe_run *r, void *state, int tag, unsigned sends)
{
	struct state *s = state;
	unsigned i = (unsigned)(tag - TAG_U1);

	(void)sends;
	if (tag == TAG_ASK)
		probe_note(r, "the reflector did not answer a Binding request over TCP");
	else if (i < s->nasked) {
		probe_note(r, "the reflector did not answer an order");
		probe_syn_ask_lost(&s->ask[i]);
	}
	close_conn(r, s);
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *s = state;
	struct probe_tcp *t = &res->tcp;
	const char *why = probe_run_note(r);

	res->tcp_tested = true;
	if (!probe_have_session(r)) {
		snprintf(t->syn_reason, sizeof(t->syn_reason), PROBE_NEEDS_SESSION);
		return; /* untested */
	}
	for (unsigned i = 0; i < s->nasked; i++) {
		t->syn_seen[i] = s->ask[i].seen;
		t->syn_seen[i].port = s->port[i];
		if (s->ask[i].baseline && !t->baseline_ttl)
			t->baseline_ttl = s->ask[i].baseline;
	}
	t->syn = PROBE_SYN_INCONCLUSIVE;
	if (s->nasked && s->ask[s->nasked - 1].settled)
		t->syn = s->ask[0].seen.fate;
	if (s->nasked == 2 && s->ask[1].seen.fate != t->syn) {
		t->syn = PROBE_SYN_INCONCLUSIVE;
		why = why ? why
			  : "a SYN to one unused port reached this host, one to another did not";
	}
	if (t->syn == PROBE_SYN_INCONCLUSIVE)
		snprintf(t->syn_reason, sizeof(t->syn_reason), "%s",
			 why ? why : "the reflector's SYN was not settled");
}

const struct probe_test probe_test_tcp_syn = {
    .name = "tcp-syn",
    .help = "the answer to an unsolicited SYN at an unused public port (RFC 5382 REQ-4): drop, "
	    "rst, icmp or pass; needs --session",
    .state_size = sizeof(struct state),
    .start = start,
    .on_answer = on_answer,
    .on_silence = on_silence,
    .finish = finish,
    .tcp = true,
    .on_tcp = on_tcp,
    .on_observed = on_observed,
};
