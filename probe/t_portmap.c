/*
 * The gateway's port-mapping protocols (portmap.h). Their clients own HTTP
 * connections, threads and blocking libraries, so the driver runs them
 * before the engine starts (portmapcmd.c); this test lists them in the
 * registry and puts what they found in the result.
 */
#include <string.h>

#include "probe/tests.h"

static void start(struct probe_run *r, void *state)
{
	(void)r;
	(void)state;
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	const struct portmap_report *pm = probe_portmap(r);

	(void)state;
	res->portmap_tested = true;
	if (pm)
		res->portmap = *pm;
}

const struct probe_test probe_test_portmap = {
    .name = "portmap",
    .help = "the gateway's UPnP IGD, NAT-PMP and PCP: the external address each reports, "
	    "a UDP and a TCP mapping granted, reached from the reflector, deleted",
    .gateway = true,
    .start = start,
    .finish = finish,
};
