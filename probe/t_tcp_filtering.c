/*
 * TCP filtering (RFC 5382 REQ-3, in RFC 4787 section 5's terms) and the
 * answer to an unsolicited SYN on a live mapping (REQ-4). natprobe cannot
 * send a SYN from outside; the reflector can (PROTOCOL.md, NatlabTest).
 *
 * A fresh local port with a listener on it, and from it a connection to the
 * reflector's primary endpoint: the mapping M. Over that connection the
 * probe orders SYNs to M from the reflector's other port (PA) and its other
 * address (AA), at once. The reflector reports what came back from M:
 *
 * - a SYN-ACK: our listener answered, the SYN passed;
 * - a RST or ICMP error at the TTL our own host's packets arrive with (the
 *   baseline, the TTL of the connection's SYN): this host answered (a host
 *   firewall that REJECTs), so the SYN passed the NAT all the same;
 * - a RST or ICMP error at another TTL: the NAT (or a box before us) did;
 * - nothing: asked again until silence is trustworthy, then "dropped".
 *
 * Both passed: endpoint-independent. PA's only: address-dependent. Neither:
 * address-and-port-dependent. AA's alone: no behaviour fits, inconclusive.
 * AA never exchanged anything with M, so its SYN is also REQ-4's
 * unsolicited SYN on a live mapping: its fate is unsolicited_syn_mapped.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "probe/decide.h"
#include "probe/synask.h"
#include "probe/tests.h"

enum { TAG_CONN, TAG_LISTEN, TAG_ASK, TAG_PA, TAG_AA };

struct state {
	int listener, conn;
	struct sockaddr_storage local, mapped;
	bool have_mapped, closed;
	struct probe_syn_ask ask[2]; /* PA, AA */
};

static void close_all(struct probe_run *r, struct state *s)
{
	if (s->closed)
		return;
	s->closed = true;
	probe_tcp_close(r, s->conn);
	probe_tcp_close(r, s->listener);
}

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;

	s->conn = -1;
	if (!probe_have_session(r)) {
		s->listener = -1;
		return; /* finish says why */
	}
	s->listener = probe_tcp_listen(r, TAG_LISTEN, 0, &s->local);
	if (s->listener < 0)
		return;
	s->conn =
	    probe_tcp_connect(r, TAG_CONN, addr_port((struct sockaddr *)&s->local), PROBE_PP, NULL);
	if (s->conn < 0)
		close_all(r, s);
}

static void on_tcp(struct probe_run *r, void *state, int tag, int conn, enum probe_tcp_event ev,
		   int accepted, const struct sockaddr *peer)
{
	struct state *s = state;

	(void)conn;
	(void)peer;
	if (tag == TAG_LISTEN && ev == PROBE_TCP_ACCEPTED) {
		probe_tcp_close(r, accepted); /* the reflector's SYNs never complete */
		return;
	}
	if (tag != TAG_CONN || s->closed)
		return;
	if (ev == PROBE_TCP_CONNECTED && !probe_tcp_ask(r, TAG_ASK, s->conn))
		return;
	if (ev != PROBE_TCP_CLOSED)
		probe_note(r, "the connection to the reflector's primary endpoint failed");
	close_all(r, s);
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;

	if (tag != TAG_ASK)
		return;
	s->mapped = a->mapped;
	s->have_mapped = true;
	if (probe_syn_ask(r, TAG_PA, &s->ask[0], s->conn, PROBE_PA, 0) ||
	    probe_syn_ask(r, TAG_AA, &s->ask[1], s->conn, PROBE_AA, 0))
		probe_note(r, "could not order the reflector's SYNs");
	if (!s->ask[0].pending && !s->ask[1].pending)
		close_all(r, s);
}

static void settled(struct probe_run *r, struct state *s)
{
	if (s->ask[0].settled && s->ask[1].settled)
		close_all(r, s);
}

static void on_observed(struct probe_run *r, void *state, int tag,
			const struct probe_observation *o)
{
	struct state *s = state;
	struct probe_syn_ask *a = tag == TAG_PA ? &s->ask[0] : tag == TAG_AA ? &s->ask[1] : NULL;

	if (a && probe_syn_ask_observed(r, tag, a, o))
		settled(r, s);
}

static void on_silence(struct probe_run *r, void *state, int tag, unsigned sends)
{
	struct state *s = state;

	(void)sends;
	if (tag == TAG_ASK) {
		probe_note(r, "the reflector did not answer a Binding request over TCP");
		close_all(r, s);
	} else if (tag == TAG_PA || tag == TAG_AA) {
		probe_note(r, "the reflector did not answer an order");
		probe_syn_ask_lost(&s->ask[tag - TAG_PA]);
		settled(r, s);
	}
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *s = state;
	struct probe_tcp *t = &res->tcp;
	const char *why = probe_run_note(r), *rule = NULL;
	enum probe_syn pa = s->ask[0].seen.fate, aa = s->ask[1].seen.fate;

	res->tcp_tested = true;
	if (!probe_have_session(r)) {
		snprintf(t->filtering_reason, sizeof(t->filtering_reason), PROBE_NEEDS_SESSION);
		snprintf(t->syn_mapped_reason, sizeof(t->syn_mapped_reason), "%s",
			 t->filtering_reason);
		return; /* untested */
	}
	for (int i = 0; i < 2; i++) {
		t->filtering_seen[i] = s->ask[i].seen;
		t->filtering_seen[i].port = addr_port((struct sockaddr *)&s->mapped);
		if (s->ask[i].baseline)
			t->baseline_ttl = s->ask[i].baseline;
	}
	t->filtering = s->ask[0].settled && s->ask[1].settled
			   ? probe_decide_tcp_filtering(pa, aa, &rule)
			   : PROBE_FILTERING_INCONCLUSIVE;
	t->syn_mapped = s->ask[1].settled ? aa : PROBE_SYN_INCONCLUSIVE;
	if (t->filtering == PROBE_FILTERING_INCONCLUSIVE)
		snprintf(t->filtering_reason, sizeof(t->filtering_reason), "%s",
			 why    ? why
			 : rule ? rule
				: "the reflector's SYNs were not all settled");
	if (t->syn_mapped == PROBE_SYN_INCONCLUSIVE)
		snprintf(t->syn_mapped_reason, sizeof(t->syn_mapped_reason), "%s",
			 why ? why : "the reflector's SYN from its other address was not settled");
}

const struct probe_test probe_test_tcp_filtering = {
    .name = "tcp-filtering",
    .help = "TCP filtering (RFC 5382 REQ-3) and unsolicited SYNs on a live mapping (REQ-4): "
	    "the reflector's SYNs from its other port and address; needs --session",
    .state_size = sizeof(struct state),
    .start = start,
    .on_answer = on_answer,
    .on_silence = on_silence,
    .finish = finish,
    .tcp = true,
    .on_tcp = on_tcp,
    .on_observed = on_observed,
};
