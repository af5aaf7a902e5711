/*
 * Mapping (RFC 4787 section 4.1, RFC 5780 section 4.3): one fresh socket asks
 * all four of the reflector's endpoints for its mapped address. RFC 5780
 * decides from three answers; here every answer must agree with the verdict
 * (probe_decide_mapping, decide.c, which TCP's mapping shares):
 *
 *   endpoint-independent        all four mapped addresses equal
 *   address-dependent           PP = PA and AP = AA, PP != AP
 *   address-and-port-dependent  PP != PA and AP != AA
 *   none                        all four equal to the local address
 *
 * Anything else (or a missing answer) is inconclusive, with the reason.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "probe/decide.h"
#include "probe/tests.h"

struct state {
	struct sockaddr_storage local, seen[4];
	bool answered[4];
};

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;
	int sock = probe_socket(r, &s->local);

	for (unsigned role = 0; sock >= 0 && role < 4; role++)
		if (probe_ask(r, (int)role, sock, role, 0, false))
			return;
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;

	(void)r;
	s->seen[tag] = a->mapped;
	s->answered[tag] = true;
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	static const char *const names[4] = {"PP", "PA", "AP", "AA"};
	struct state *s = state;
	const char *why = probe_run_note(r);
	int missing = -1;

	for (unsigned role = 0; role < 4; role++) {
		if (s->answered[role])
			res->mapping_seen[role] = s->seen[role];
		else if (missing < 0)
			missing = (int)role;
	}
	res->mapping = PROBE_MAPPING_INCONCLUSIVE;
	if (why)
		snprintf(res->mapping_reason, sizeof(res->mapping_reason), "%s", why);
	else if (missing >= 0)
		snprintf(res->mapping_reason, sizeof(res->mapping_reason),
			 "no answer from the reflector's %s endpoint", names[missing]);
	else
		res->mapping = probe_decide_mapping(s->seen, &s->local, &why);
	if (why && !res->mapping_reason[0])
		snprintf(res->mapping_reason, sizeof(res->mapping_reason), "%s", why);
}

const struct probe_test probe_test_mapping = {
    .name = "mapping",
    .help = "endpoint-independent, address-dependent or address-and-port-dependent mapping "
	    "(RFC 4787 4.1): one socket to the reflector's four endpoints",
    .state_size = sizeof(struct state),
    .start = start,
    .on_answer = on_answer,
    .finish = finish,
};
