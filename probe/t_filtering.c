/*
 * Filtering (RFC 4787 section 5, RFC 5780 section 4.4). Two fresh sockets,
 * so no earlier mapping opens the NAT for the answer. Each asks the primary
 * endpoint twice: plainly (the control: the path works) and with
 * CHANGE-REQUEST, for an answer from the other address and port (socket A)
 * or from the other port only (socket P):
 *
 *   endpoint-independent        both changed answers come in
 *   address-dependent           only the other port's
 *   address-and-port-dependent  neither
 *
 * A changed answer counts only from the endpoint it must come from (the
 * engine checks). "Did not come in" counts only when the controls were
 * answered and the measured loss allowed enough repetitions; otherwise the
 * verdict is inconclusive.
 */
#include <stdio.h>

#include "probe/tests.h"
#include "stun.h"

enum { CONTROL_A, CHANGED_A, CONTROL_P, CHANGED_P, NTAGS };

struct state {
	bool answered[NTAGS], silent[NTAGS];
	bool trusted; /* every silence was read with enough repetitions */
	unsigned attempts;
};

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;
	int a = probe_socket(r, NULL), p = probe_socket(r, NULL);

	s->trusted = true;
	if (a < 0 || p < 0 || probe_ask(r, CONTROL_A, a, PROBE_PP, 0, false) ||
	    probe_ask(r, CHANGED_A, a, PROBE_PP, STUN_CHANGE_IP | STUN_CHANGE_PORT, true) ||
	    probe_ask(r, CONTROL_P, p, PROBE_PP, 0, false) ||
	    probe_ask(r, CHANGED_P, p, PROBE_PP, STUN_CHANGE_PORT, true))
		probe_note(r, "could not ask every question");
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;

	(void)r;
	s->answered[tag] = true;
	if (tag == CHANGED_A || tag == CHANGED_P)
		s->attempts += a->sends;
}

static void on_silence(struct probe_run *r, void *state, int tag, unsigned sends)
{
	struct state *s = state;

	s->silent[tag] = true;
	if (tag == CHANGED_A || tag == CHANGED_P)
		s->attempts += sends;
	if (!probe_silence_trusted(r))
		s->trusted = false;
}

static enum probe_filtering decide(const struct state *s, const char **why)
{
	if (!s->answered[CONTROL_A] || !s->answered[CONTROL_P]) {
		*why = "no answer even without CHANGE-REQUEST";
		return PROBE_FILTERING_INCONCLUSIVE;
	}
	if (s->answered[CHANGED_A] && s->answered[CHANGED_P])
		return PROBE_FILTERING_EI;
	if (!s->trusted) {
		*why = "too much loss to read a missing answer as filtering";
		return PROBE_FILTERING_INCONCLUSIVE;
	}
	if (s->answered[CHANGED_A]) {
		*why = "the other address's answer came in but the other port's did not";
		return PROBE_FILTERING_INCONCLUSIVE;
	}
	return s->answered[CHANGED_P] ? PROBE_FILTERING_AD : PROBE_FILTERING_APD;
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *s = state;
	const char *why = probe_run_note(r);

	res->filtering_attempts = s->attempts;
	res->filtering = why ? PROBE_FILTERING_INCONCLUSIVE : decide(s, &why);
	if (why)
		snprintf(res->filtering_reason, sizeof(res->filtering_reason), "%s", why);
	res->filtering_other_address = s->answered[CHANGED_A] ? PROBE_YES
				       : s->silent[CHANGED_A] ? PROBE_NO
							      : PROBE_UNKNOWN;
	res->filtering_other_port = s->answered[CHANGED_P] ? PROBE_YES
				    : s->silent[CHANGED_P] ? PROBE_NO
							   : PROBE_UNKNOWN;
}

const struct probe_test probe_test_filtering = {
    .name = "filtering",
    .help = "endpoint-independent, address-dependent or address-and-port-dependent filtering "
	    "(RFC 4787 5): answers asked from the other address and the other port",
    .state_size = sizeof(struct state),
    .start = start,
    .on_answer = on_answer,
    .on_silence = on_silence,
    .finish = finish,
};
