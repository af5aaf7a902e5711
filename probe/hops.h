/*
 * The opening TTL from a hop sweep (`natprobe punch --open-ttl auto`): what
 * a datagram toward the reflector met at each TTL in, the TTL that passes
 * every NAT of this host's and dies at the first router beyond them out
 * (hops.c has the rule and its reasoning). Pure; the sockets are
 * hopsweep.c's.
 */
#ifndef NATLAB_PROBE_HOPS_H
#define NATLAB_PROBE_HOPS_H

#include <stdbool.h>
#include <sys/socket.h>

#define HOPS_MAX         8 /* TTLs 1..HOPS_MAX are swept */
#define HOPS_DEFAULT_TTL 2 /* one NAT, at hop 1: the TTL before the sweep existed */

/* One TTL: the sender of the ICMP time exceeded it drew, if one came. */
struct hops_hop {
	bool seen;
	struct sockaddr_storage from;
};

/* A sweep's observations. */
struct hops_sweep {
	int family; /* the reflector's; only AF_INET is swept */
	struct sockaddr_storage server;
	struct hops_hop hop[HOPS_MAX]; /* hop[t - 1]: TTL t */
	unsigned server_at;            /* the lowest TTL the reflector answered at; 0 none */
	const char *skipped;           /* why the sweep could not run (static text); NULL */
};

enum hops_decided {
	HOPS_SWEEP,   /* from the sweep */
	HOPS_DEFAULT, /* HOPS_DEFAULT_TTL: the reason says why the sweep could not decide */
};

struct hops_decision {
	unsigned ttl;
	enum hops_decided decided;
	const char *reason; /* static text */
};

/* An empty sweep toward server (family and address taken from it). */
void hops_sweep_init(struct hops_sweep *s, const struct sockaddr *server);
/* A time exceeded from `from` for the datagram sent at ttl (1..HOPS_MAX;
 * others are ignored). */
void hops_note_hop(struct hops_sweep *s, unsigned ttl, const struct sockaddr *from);
/* The reflector answered the datagram sent at ttl. */
void hops_note_server(struct hops_sweep *s, unsigned ttl);
/* Nothing more to wait for: the reflector answered, and every lower TTL
 * has its time exceeded. */
bool hops_complete(const struct hops_sweep *s);

/* The opening TTL. nat: natprobe's classification found a NAT on this
 * side (without one, the TTL opens nothing). */
void hops_decide(const struct hops_sweep *s, bool nat, struct hops_decision *d);
/* The TTLs worth listing, 1..n: those below the reflector's, and any later
 * one that answered all the same; 0 when nothing was swept. */
unsigned hops_listed(const struct hops_sweep *s);
const char *hops_decided_name(enum hops_decided d);

#endif
