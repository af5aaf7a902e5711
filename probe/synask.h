/*
 * A SYN ordered from the reflector toward us, asked again while nothing
 * comes back: "nothing" counts only once it was asked as often as the loss
 * measured so far requires (probe_silence_needed), as UDP's silences do.
 * Shared by the TCP tests that read what a NAT does with inbound SYNs.
 */
#ifndef NATLAB_PROBE_SYNASK_H
#define NATLAB_PROBE_SYNASK_H

#include <stdbool.h>

#include "probe/engine.h"

struct probe_syn_ask {
	int conn;      /* the connection the order goes over */
	unsigned role; /* the reflector's endpoint that sends the SYN */
	uint16_t port; /* 0: the connection's own public port; else another of its address */
	bool pending, settled;
	uint8_t baseline; /* the connection's SYN's TTL at the reflector (0: unknown) */
	struct probe_tcp_seen seen;
};

/* Give the order (tag: the test's, for on_observed). -1 when it cannot be given. */
int probe_syn_ask(struct probe_run *r, int tag, struct probe_syn_ask *a, int conn, unsigned role,
		  uint16_t port);
/* The order's answer came (on_observed): true once the SYN's fate is
 * settled in a->seen, false when asked again. */
bool probe_syn_ask_observed(struct probe_run *r, int tag, struct probe_syn_ask *a,
			    const struct probe_observation *o);
/* The order got no answer at all (on_silence): settled, inconclusive. */
void probe_syn_ask_lost(struct probe_syn_ask *a);

#endif
