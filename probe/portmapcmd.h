/*
 * The port-mapping protocols' clients, with sockets and threads (see
 * portmapcmd.c): natprobe's portmap test, and the gateway's external address
 * for the depth test. Linked into natprobe only.
 */
#ifndef NATLAB_PROBE_PORTMAPCMD_H
#define NATLAB_PROBE_PORTMAPCMD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "probe/portmap.h"

struct portmap_ctx {
	struct sockaddr_storage server; /* the reflector's primary endpoint (IPv4) */
	struct sockaddr_storage local;  /* this host's address toward it */
	struct in_addr gateway;         /* NAT-PMP's and PCP's server; 0: libnatpmp's own */
	bool mapping;                   /* ask for mappings, reach and delete them */
	/*
	 * Optional: called once UPnP's discovery is on its way and before
	 * NAT-PMP and PCP start, whose requests to a gateway without them draw
	 * ICMP port unreachable, which spends the gateway's ICMP rate limit
	 * (the depth test's sweep needs it).
	 */
	void (*before_icmp)(void *arg);
	void *arg;
};

/* The IPv4 default route's gateway (/proc/net/route); -1 when none. */
int portmap_default_gateway(struct in_addr *gw);

/* Every protocol at once; about 2 s when none answers. */
void portmap_run(const struct portmap_ctx *c, struct portmap_report *rep);

#endif
