/*
 * natprobe's opt-in `keepalive` test (--keepalive[=HOLD_S]): which hop's NAT
 * a keepalive must reach for a mapping to survive an idle hold, the hop of
 * the NAT whose timeout matters (survey-cgn.md, "hop-k keepalive"). Pure:
 * t_keepalive.c holds the mappings and looks at them; this reads the fates.
 *
 * Trials side by side, each a mapping of its own held HOLD_S seconds while
 * its socket sends a keepalive every second with IP TTL k (k = 1..n: it
 * refreshes the NATs at hops 1..k and dies at the router after hop k), and
 * two controls: no keepalive (must die, or the hold outlasts no timeout)
 * and keepalives at the full TTL (must live, or keepalives keep nothing).
 * The hop is the least k whose mapping lived, every lower one dead and
 * every higher one alive.
 */
#ifndef NATLAB_PROBE_KEEPALIVE_H
#define NATLAB_PROBE_KEEPALIVE_H

#include "probe/hops.h"

#define KEEPALIVE_HOPS_MAX     HOPS_MAX
#define KEEPALIVE_HOPS_DEFAULT 3   /* without a sweep: home NAT, CGN, one more */
#define KEEPALIVE_HOLD_DEFAULT 150 /* s: past RFC 4787 REQ-5's 2 min and Linux's 120 s */
#define KEEPALIVE_HOLD_MAX     3600

enum keepalive_fate {
	KA_PENDING = 0,
	KA_ALIVE,   /* the look's answer reached the mapping's socket */
	KA_DEAD,    /* it did not, asked as often as the loss requires */
	KA_UNKNOWN, /* no reading (a socket, a question, too much loss) */
};

struct keepalive_obs {
	unsigned hold_s;
	unsigned nhops; /* TTLs 1..nhops were tried */
	enum keepalive_fate none, full;
	enum keepalive_fate ttl[KEEPALIVE_HOPS_MAX]; /* ttl[k - 1] */
};

struct keepalive_verdict {
	int hop;            /* -1: null (inconclusive) */
	const char *reason; /* static text: why the hop, or why none */
};

/* How many TTLs to try: those below the reflector's in the sweep (NULL or
 * not swept: KEEPALIVE_HOPS_DEFAULT), at least 1, at most KEEPALIVE_HOPS_MAX. */
unsigned keepalive_hops(const struct hops_sweep *s);

void keepalive_decide(const struct keepalive_obs *o, struct keepalive_verdict *v);

#endif
