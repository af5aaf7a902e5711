/*
 * TCP port allocation (RFC 5382 section 4, in RFC 4787 4.2's terms): twelve
 * fresh connections to the reflector's primary endpoint, opened at once, each
 * asking for its mapped port and closed once answered (the reflector keeps at
 * most 16 connections per source; the mapping test has closed its own by
 * then). The pattern is UDP's rule (probe_decide_ports): preserving,
 * sequential with its delta, or random, with parity; the decider sorts the
 * ports, as the NAT may see the SYNs in any order.
 *
 * At once, because under loss a lost SYN costs a second (Linux resends it
 * at 1 s): twelve in turn would add up those seconds. A connection that fails
 * is one sample fewer; fewer than nine is no verdict.
 */
#include <stdio.h>

#include "addr.h"
#include "probe/decide.h"
#include "probe/tests.h"

#define NCONNS PROBE_TCP_PORT_SAMPLES
#define ENOUGH 9

struct state {
	uint16_t tried_local[NCONNS];           /* by tag */
	int conn[NCONNS];                       /* by tag */
	uint16_t local[NCONNS], mapped[NCONNS]; /* the answered ones */
	unsigned nsamples;
	unsigned refused, silent; /* connections refused (RST or ICMP), or unanswered */
};

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;

	for (int i = 0; i < NCONNS; i++) {
		struct sockaddr_storage local;

		s->conn[i] = probe_tcp_connect(r, i, 0, PROBE_PP, &local);
		if (s->conn[i] >= 0)
			s->tried_local[i] = addr_port((const struct sockaddr *)&local);
	}
}

static void on_tcp(struct probe_run *r, void *state, int tag, int conn, enum probe_tcp_event ev,
		   int accepted, const struct sockaddr *peer)
{
	struct state *s = state;

	(void)accepted;
	(void)peer;
	if (ev == PROBE_TCP_CONNECTED && probe_tcp_ask(r, tag, conn))
		probe_tcp_close(r, conn);
	s->refused += ev == PROBE_TCP_REFUSED || ev == PROBE_TCP_UNREACHABLE;
	s->silent += ev == PROBE_TCP_TIMEDOUT;
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;

	if (tag < 0 || tag >= NCONNS)
		return;
	s->local[s->nsamples] = s->tried_local[tag];
	s->mapped[s->nsamples++] = addr_port((const struct sockaddr *)&a->mapped);
	probe_tcp_close(r, s->conn[tag]);
}

static void on_silence(struct probe_run *r, void *state, int tag, unsigned sends)
{
	struct state *s = state;

	(void)sends;
	if (tag >= 0 && tag < NCONNS)
		probe_tcp_close(r, s->conn[tag]);
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *s = state;
	struct probe_tcp *t = &res->tcp;
	const char *why = probe_run_note(r);
	struct probe_port_pattern p = {.pattern = PROBE_PORTS_INCONCLUSIVE};

	res->tcp_tested = true;
	t->port_nsamples = s->nsamples;
	for (unsigned i = 0; i < s->nsamples; i++) {
		t->port_samples[i] = s->mapped[i];
		t->port_locals[i] = s->local[i];
	}
	char few[PROBE_REASON_LEN];

	if (!why && s->nsamples < ENOUGH) {
		snprintf(
		    few, sizeof(few),
		    "%u of 12 TCP connections got their mapped port (%u refused, %u unanswered "
		    "SYNs); 9 are needed",
		    s->nsamples, s->refused, s->silent);
		why = few;
	}
	if (!why)
		probe_decide_ports(s->local, s->mapped, (int)s->nsamples, &p, &why);
	t->port_pattern = p.pattern;
	t->port_delta = p.delta;
	t->port_predictability = p.predictability;
	t->port_parity = p.parity;
	if (why)
		snprintf(t->port_reason, sizeof(t->port_reason), "%s", why);
}

const struct probe_test probe_test_tcp_ports = {
    .name = "tcp-ports",
    .help = "TCP port allocation (RFC 5382 section 4): twelve fresh connections at once, "
	    "preserving, "
	    "sequential (with its delta) or random; parity",
    .state_size = sizeof(struct state),
    .start = start,
    .on_answer = on_answer,
    .on_silence = on_silence,
    .finish = finish,
    .tcp = true,
    .on_tcp = on_tcp,
};
