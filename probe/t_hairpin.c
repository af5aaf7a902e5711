/*
 * Hairpinning (RFC 4787 section 6, REQ-9; RFC 5780 section 4.5): do packets
 * from inside to one of the NAT's own public endpoints come back in, and
 * with which source? Two fresh sockets learn their mapped addresses (MA, MB)
 * from the primary endpoint, then each sends to the other's, repeatedly.
 *
 * Both directions, because a hairpinned packet meets the target mapping's
 * filter like any inbound one: A's packet to MB lets B's answer to MA
 * through an endpoint-independent mapping's filter, whatever the filtering.
 * So "no hairpinning" is a verdict only when the mapping test found
 * endpoint-independent mapping or the filtering test found
 * endpoint-independent filtering; otherwise the silence may be the filter's
 * and the answer is inconclusive.
 *
 * And only when this host would take a packet from its own address: a NAT
 * that hairpins with the inside source sends B's packet to A from B's inside
 * address, this host's own, which Linux drops unless accept_local is set.
 * Without it, silence proves only that the NAT does not hairpin with the
 * external source (REQ-9 not met).
 */
#include <stdio.h>

#include "addr.h"
#include "probe/tests.h"

enum { CONTROL_A, CONTROL_B, TO_A, TO_B, NTAGS };

struct state {
	int sock[2];
	struct sockaddr_storage local[2], mapped[2], source;
	bool answered[NTAGS], silent[NTAGS], trusted, wrong_socket;
};

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;

	s->trusted = true;
	s->sock[0] = probe_socket(r, &s->local[0]);
	s->sock[1] = probe_socket(r, &s->local[1]);
	if (s->sock[0] < 0 || s->sock[1] < 0 ||
	    probe_ask(r, CONTROL_A, s->sock[0], PROBE_PP, 0, false) ||
	    probe_ask(r, CONTROL_B, s->sock[1], PROBE_PP, 0, false))
		probe_note(r, "could not ask every question");
}

static bool behind_nat(const struct state *s)
{
	return !addr_equal((const struct sockaddr *)&s->mapped[0],
			   (const struct sockaddr *)&s->local[0]);
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;

	s->answered[tag] = true;
	if (tag == CONTROL_A || tag == CONTROL_B) {
		s->mapped[tag] = a->mapped;
		if (!s->answered[CONTROL_A] || !s->answered[CONTROL_B] || !behind_nat(s))
			return;
		/* B to MA, A to MB: each opens its own filter for the other. */
		if (probe_hairpin(r, TO_A, s->sock[1], (struct sockaddr *)&s->mapped[0]) ||
		    probe_hairpin(r, TO_B, s->sock[0], (struct sockaddr *)&s->mapped[1]))
			probe_note(r, "could not ask every question");
		return;
	}
	if (a->sock != s->sock[tag == TO_A ? 0 : 1]) {
		s->wrong_socket = true;
		return;
	}
	s->source = a->from;
}

static void on_silence(struct probe_run *r, void *state, int tag, unsigned sends)
{
	struct state *s = state;

	(void)sends;
	s->silent[tag] = true;
	if (!probe_silence_trusted(r))
		s->trusted = false;
}

/* Where the hairpinned packet said it came from: RFC 4787 REQ-9 wants the
 * sender's public endpoint ("external"), not its inside one. */
static const char *source_kind(const struct state *s)
{
	for (int i = 0; i < 2; i++) {
		if (addr_equal((const struct sockaddr *)&s->source,
			       (const struct sockaddr *)&s->local[i]))
			return "internal";
		if (addr_same_ip((const struct sockaddr *)&s->source,
				 (const struct sockaddr *)&s->mapped[i]))
			return "external";
	}
	return "other";
}

static void decide(struct probe_run *r, struct state *s, struct probe_result *res, const char **why)
{
	if (!s->answered[CONTROL_A] || !s->answered[CONTROL_B]) {
		*why = "no answer from the reflector to learn the mapped addresses";
	} else if (!behind_nat(s)) {
		*why = "no NAT: nothing to hairpin";
	} else if (s->wrong_socket) {
		*why = "a hairpinned packet reached the wrong socket";
	} else if (s->answered[TO_A] || s->answered[TO_B]) {
		res->hairpinning = PROBE_YES;
		snprintf(res->hairpin_source, sizeof(res->hairpin_source), "%s", source_kind(s));
	} else if (!s->trusted) {
		*why = "too much loss to read a missing packet as no hairpinning";
	} else if (res->mapping != PROBE_MAPPING_EI && res->filtering != PROBE_FILTERING_EI) {
		*why = "nothing came back, but with neither endpoint-independent mapping nor "
		       "filtering (tested) the NAT's filter may be what stopped it";
	} else if (!probe_own_source_visible(r)) {
		*why = "no hairpinning with the external source (RFC 4787 REQ-9 not met); with the "
		       "internal one this host could not see it (it drops packets from its own "
		       "address: accept_local)";
	} else {
		res->hairpinning = PROBE_NO;
	}
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *s = state;
	const char *why = probe_run_note(r);

	res->hairpin_tested = true;
	if (!why)
		decide(r, s, res, &why);
	if (why)
		snprintf(res->hairpin_reason, sizeof(res->hairpin_reason), "%s", why);
}

const struct probe_test probe_test_hairpin = {
    .name = "hairpin",
    .help = "hairpinning (RFC 4787 6, REQ-9): two sockets send to each other's mapped "
	    "address; and the source the NAT gives",
    .state_size = sizeof(struct state),
    .start = start,
    .on_answer = on_answer,
    .on_silence = on_silence,
    .finish = finish,
};
