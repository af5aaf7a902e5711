/*
 * NAT presence: is the mapped address of a fresh socket its own local
 * address? One question to the primary endpoint.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "probe/tests.h"

struct state {
	struct sockaddr_storage local, mapped;
	bool answered;
};

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;
	int sock = probe_socket(r, &s->local);

	if (sock < 0 || probe_ask(r, 0, sock, PROBE_PP, 0, false))
		probe_note(r, "cannot open a UDP socket");
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;

	(void)r;
	(void)tag;
	s->mapped = a->mapped;
	s->answered = true;
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *s = state;
	const char *note = probe_run_note(r);

	res->local = s->local;
	if (!s->answered) {
		res->nat = PROBE_UNKNOWN;
		snprintf(res->nat_reason, sizeof(res->nat_reason), "%s",
			 note ? note : "no answer from the reflector");
		return;
	}
	res->mapped = s->mapped;
	res->nat = addr_equal((struct sockaddr *)&s->mapped, (struct sockaddr *)&s->local)
		       ? PROBE_NO
		       : PROBE_YES;
}

const struct probe_test probe_test_nat = {
    .name = "nat",
    .help = "is there a NAT: the mapped address against the local one",
    .state_size = sizeof(struct state),
    .start = start,
    .on_answer = on_answer,
    .finish = finish,
};
