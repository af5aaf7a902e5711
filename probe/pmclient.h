/*
 * One port-mapping protocol's client at this host's gateway: UPnP IGD
 * (libminiupnpc), NAT-PMP (RFC 6886, libnatpmp) or PCP (RFC 6887,
 * lib/pcp.h). Find the server and its external address, map one UDP port,
 * delete the mapping. Blocking, bounded (UPnP's discovery 1 s, NAT-PMP's
 * and PCP's answers 1 s); what happened goes into a portmap_proto_result,
 * in the record's words. Used by the portmap test (portmapcmd.c) and by
 * natprobe punch's port-mapping technique.
 */
#ifndef NATLAB_PROBE_PMCLIENT_H
#define NATLAB_PROBE_PMCLIENT_H

#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "probe/portmap.h"

#define PORTMAP_LIFETIME_S 120u /* what natprobe asks for: bounds what a SIGKILL leaves */

struct portmap_ctx {
	struct sockaddr_storage server; /* the reflector's primary endpoint (IPv4) */
	struct sockaddr_storage local;  /* this host's address toward it */
	struct in_addr gateway;         /* NAT-PMP's and PCP's server; 0: libnatpmp's own */
	bool mapping;                   /* the portmap test: map, reach and delete */
	const char *session, *key;      /* a natlab session for the TCP reach test; NULL none */
	/* Set (by a signal handler) to cut waits short; NULL: never. */
	volatile sig_atomic_t *stop;
	/*
	 * Optional: called once UPnP's discovery is on its way and before
	 * NAT-PMP and PCP start, whose requests to a gateway without them draw
	 * ICMP port unreachable, which spends the gateway's ICMP rate limit
	 * (the depth test's sweep needs it).
	 */
	void (*before_icmp)(void *arg);
	void *arg;
};

typedef struct portmap_client portmap_client_t;

/* The gateway's server of protocol p and its external address, into r
 * (answered, server, external or no_public, error). NULL when it did not
 * answer or cannot be asked (r->error says why). PCP learns the address
 * from a MAP: with external_only, one of lifetime 1, deleted at once. */
portmap_client_t *portmap_client_open(const struct portmap_ctx *c, enum portmap_proto p,
				      bool external_only, struct portmap_proto_result *r);
/* A UDP (TCP) mapping of this host's port, the same external port asked
 * for: 0 granted (r->udp or r->tcp: asked, granted, internal and external
 * port, lifetime; PCP's external address), -1 not (r->error). One mapping
 * at a time per client. */
int portmap_client_map(portmap_client_t *pc, bool tcp, uint16_t port,
		       struct portmap_proto_result *r);
/* Delete it: its deleted 1 when the gateway confirmed (UPnP: no longer
 * lists it), 0 not; 0 returned when deleted. */
int portmap_client_unmap(portmap_client_t *pc, struct portmap_proto_result *r);
void portmap_client_close(portmap_client_t *pc);

/* The first failure into r->error (later ones are consequences). */
void portmap_note(struct portmap_proto_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A UDP socket on c->local, any port: its descriptor and port, or -1. */
int portmap_udp_socket(const struct portmap_ctx *c, uint16_t *port);

#endif
