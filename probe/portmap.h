/*
 * natprobe's `portmap` test: the gateway's port-mapping protocols, UPnP IGD
 * (libminiupnpc), NAT-PMP (RFC 6886, libnatpmp) and PCP (RFC 6887,
 * lib/pcp.h). For each: whether it answered, the external address it
 * reports, whether a requested mapping was granted (port, lifetime), whether
 * the reflector reached this host through it, and whether it was deleted.
 * The types and the pure reading of them are here; the clients, which own
 * sockets and threads, are portmapcmd.c's.
 */
#ifndef NATLAB_PROBE_PORTMAP_H
#define NATLAB_PROBE_PORTMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "probe/depth.h"

enum portmap_proto {
	PORTMAP_UPNP,
	PORTMAP_NATPMP,
	PORTMAP_PCP,
	PORTMAP_NPROTO,
};

#define PORTMAP_TEXT_LEN 160

/* One mapping asked for through a protocol: a UDP or TCP port of ours, the
 * same external port requested. */
struct portmap_mapping {
	bool asked, granted;
	uint16_t internal_port, external_port;
	uint32_t lifetime_s;
	/* The reflector's datagram (UDP) or connection (TCP) to the external
	 * endpoint: 1 reached this host, 0 did not (the reflector answered
	 * otherwise), -1 not known. */
	int reached;
	struct sockaddr_storage reach_target; /* where the reflector sent it */
	/* 1 deleted (the gateway confirmed), 0 not, -1 nothing to delete. */
	int deleted;
};

/* One protocol's run, as the record has it. */
struct portmap_proto_result {
	bool asked;    /* the test ran this protocol */
	bool answered; /* the gateway spoke it (any answer, a refusal too) */
	char server[64];
	/* The external address it reported. */
	bool has_external;
	struct sockaddr_storage external;
	bool no_public; /* it answered that it has no public address */
	/* The mappings asked for (the portmap test): a UDP socket's port, then
	 * a TCP listener's (the TCP one needs a natlab session: the reflector's
	 * connection comes on order). */
	struct portmap_mapping udp, tcp;
	unsigned ms;                  /* how long the protocol took, from the first request */
	char error[PORTMAP_TEXT_LEN]; /* what failed, in words; "" none */
};

struct portmap_report {
	bool ran;
	bool mapping; /* mappings were asked for (the portmap test), not only
			 the external address (the depth test alone) */
	struct portmap_proto_result proto[PORTMAP_NPROTO];
};

/* Empty, nothing reached or deleted yet (-1: not known). */
void portmap_result_init(struct portmap_proto_result *r);

/* The record's name of a protocol: "upnp", "nat-pmp", "pcp". */
const char *portmap_proto_name(enum portmap_proto p);

/* A protocol "works": it granted a UDP mapping that carried the
 * reflector's datagram here. */
bool portmap_works(const struct portmap_proto_result *r);

/* What the protocols say of the gateway's external address, for depth.h:
 * the first reported address, else "no public address" when one said so. */
enum depth_gateway portmap_gateway(const struct portmap_report *r,
				   struct sockaddr_storage *external, const char **proto);

#endif
