/*
 * natprobe's portmap test with its sockets and threads (see portmapcmd.c),
 * and the gateway's external address for the depth test. Linked into
 * natprobe only.
 */
#ifndef NATLAB_PROBE_PORTMAPCMD_H
#define NATLAB_PROBE_PORTMAPCMD_H

#include <netinet/in.h>

#include "probe/pmclient.h"
#include "probe/portmap.h"

/* The IPv4 default route's gateway (/proc/net/route); -1 when none. */
int portmap_default_gateway(struct in_addr *gw);

/* Every protocol at once; about 1 s when none answers (UPnP's discovery),
 * about as long at most. c->stop is the test's own (a SIGINT or SIGTERM handler). */
void portmap_run(const struct portmap_ctx *c, struct portmap_report *rep);

/* The TCP mapping of one protocol (portmaptcp.c): a listener's port mapped,
 * reached by the reflector's connection when c has a session, deleted. */
void portmap_tcp_trial(const struct portmap_ctx *c, portmap_client_t *pc,
		       struct portmap_proto_result *r);

#endif
