/*
 * NAT depth and CGN (depth.h): one Binding question for this host's address
 * and the mapped one, beside what the driver measured before the engine
 * started (the TTL sweep, the gateway's port-mapping protocols); depth.c
 * decides.
 */
#include <stdio.h>
#include <string.h>

#include "probe/portmap.h"
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
	struct depth_obs *o = &res->depth_obs;
	const struct hops_sweep *sweep = probe_sweep(r);
	const struct portmap_report *pm = probe_portmap(r);

	res->depth_tested = true;
	memset(o, 0, sizeof(*o));
	o->local = s->local;
	if (s->answered)
		o->mapped = s->mapped;
	if (pm)
		o->gateway = portmap_gateway(pm, &o->external, &o->gateway_proto);
	if (sweep) {
		res->depth_sweep = *sweep;
		o->sweep = &res->depth_sweep;
	}
	depth_decide(o, &res->depth);
}

const struct probe_test probe_test_depth = {
    .name = "depth",
    .help = "how many NATs, and whether one is a CGN: the address triple (this host, "
	    "the gateway's external address, the mapped one) and a TTL sweep",
    .state_size = sizeof(struct state),
    .gateway = true,
    .start = start,
    .on_answer = on_answer,
    .finish = finish,
};
