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

/* The record's "open_ttl_sweep". */
json_t *hops_auto_json(const struct hops_auto *a);
/* One line: "opening TTL 3 (hop sweep: 10.0.1.1 private, ...)". */
void hops_auto_print(FILE *out, const struct hops_auto *a);

#endif
