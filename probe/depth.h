/*
 * natprobe's `depth` test: how many NATs lie between this host and the
 * reflector, and whether one of them is a carrier-grade NAT. Pure: it reads
 * observations made elsewhere (depthcmd.c's sockets, portmap's gateway
 * answers, hops.h's sweep) and gives the verdicts `nat_depth` and `cgn` with
 * their evidence. depth.c has the rules and why.
 */
#ifndef NATLAB_PROBE_DEPTH_H
#define NATLAB_PROBE_DEPTH_H

#include <stdbool.h>
#include <sys/socket.h>

#include "probe/hops.h"

#define DEPTH_REASON_LEN 240

/* What the gateway's port-mapping protocols said of its external address. */
enum depth_gateway {
	DEPTH_GW_SILENT = 0, /* no protocol answered, or none was asked */
	DEPTH_GW_ADDRESS,    /* one reported an address (external) */
	DEPTH_GW_NO_PUBLIC,  /* they answered, and said the gateway has no public
				address (NAT-PMP and PCP: network failure; UPnP: an
				empty or unspecified external address) */
};

struct depth_obs {
	struct sockaddr_storage local;  /* this host's address toward the reflector */
	struct sockaddr_storage mapped; /* what the reflector saw; family 0: no answer */
	enum depth_gateway gateway;
	struct sockaddr_storage external; /* DEPTH_GW_ADDRESS: the gateway's */
	const char *gateway_proto;        /* the protocol that said so ("nat-pmp") */
	const struct hops_sweep *sweep;   /* NULL: not swept */
};

/* One method's answer: a number of NATs, exact or a lower bound, or none. */
struct depth_answer {
	int n;         /* -1: no answer */
	bool at_least; /* n is a lower bound */
	char why[DEPTH_REASON_LEN];
};

struct depth_verdict {
	int depth;    /* nat_depth: -1 null (inconclusive) */
	int at_least; /* when depth is null: a lower bound both methods allow (0 none) */
	int cgn;      /* -1 null, 0 false, 1 true */
	struct depth_answer triple, sweep;
	unsigned cgn_hop;              /* the TTL whose sender was in 100.64.0.0/10 (0 none) */
	char reason[DEPTH_REASON_LEN]; /* why the verdict (or why none) */
	char cgn_reason[DEPTH_REASON_LEN];
};

/* The address triple (this host, the gateway's external address, the
 * reflector's view) read alone. */
void depth_by_triple(const struct depth_obs *o, struct depth_answer *a);
/* The TTL sweep read alone: the realms its hops answered from. */
void depth_by_sweep(const struct depth_obs *o, struct depth_answer *a, unsigned *cgn_hop);
/* Both, and the verdicts. */
void depth_decide(const struct depth_obs *o, struct depth_verdict *v);

const char *depth_gateway_name(enum depth_gateway g);

#endif
