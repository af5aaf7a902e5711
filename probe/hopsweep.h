/*
 * `natprobe punch --open-ttl auto`: the hop sweep's sockets, and its
 * record and summary line. Linked into natprobe only; the rule that reads
 * the sweep is hops.c's.
 */
#ifndef NATLAB_PROBE_HOPSWEEP_H
#define NATLAB_PROBE_HOPSWEEP_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>

#include <jansson.h>

#include "probe/hops.h"

/* A sweep, and the opening TTL it gave. */
struct hops_auto {
	struct hops_sweep sweep;
	struct hops_decision d;
};

/*
 * Sweep toward the reflector at server (its STUN port), IPv4 only; then
 * hops_decide(&a->sweep, nat, &a->d). Up to about 400 ms. Best before
 * natprobe's classification, which spends a NAT's ICMP errors (hops.c).
 */
void hops_auto_sweep(const struct sockaddr *server, struct hops_auto *a);
/*
 * Again at the TTLs that stayed silent, keeping what the first sweep saw:
 * a router's ICMP errors are rate-limited (Linux: icmp_ratelimit, 1 s a
 * token per destination after a burst of 6), so a second round at least
 * 1 s later hears a hop whose tokens an earlier test spent. Does nothing
 * when nothing was silent. Does not decide again.
 */
void hops_auto_resweep(const struct sockaddr *server, struct hops_auto *a);

/* The record's "open_ttl_sweep". */
json_t *hops_auto_json(const struct hops_auto *a);
/* One line: "opening TTL 3 (hop sweep: 10.0.1.1 private, ...)". */
void hops_auto_print(FILE *out, const struct hops_auto *a);

#endif
