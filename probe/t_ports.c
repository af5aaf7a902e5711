/*
 * Port allocation (RFC 4787 section 4.2): sixteen fresh sockets, one after
 * the other, each ask the primary endpoint for their mapped port.
 *
 *   preserving  every mapped port is its socket's own port (REQ-4 recommends
 *               it only together with the fallback natemu and Linux have)
 *   sequential  the mapped ports, sorted, step by one delta, now and then by
 *               a few deltas (ports another host or test took meanwhile)
 *   random      neither, with the steps spread wide
 *
 * Sorted, because loss and retransmission change the order in which the
 * NAT saw the sockets, not the set of ports it gave. Parity (REQ-3) is
 * preserved when every mapped port has its socket's parity: sixteen chances
 * make a random NAT pass by luck once in 65,536. The predictability figure,
 * for port prediction later, is the share of steps equal to the delta (1
 * for preserving, 0 for random).
 *
 * Pooling (RFC 4787 section 4.1) from the same answers (half of the sockets
 * ask the alternate address, since Linux picks a pool address by source and
 * destination): several public addresses for one host's mappings is
 * "arbitrary" pooling. One address is no verdict: a single address and
 * "paired" pooling (one per inside host) look alike from one host, and an
 * arbitrary pool may happen to give one address to both destinations.
 */
#include <stdlib.h>
#include <stdio.h>

#include "addr.h"
#include "probe/tests.h"

#define NSOCKS   PROBE_PORT_SAMPLES
#define WIDE_GAP 64 /* steps this big or bigger are no sequence */

struct state {
	struct sockaddr_storage local[NSOCKS];
	uint16_t mapped[NSOCKS];
	struct sockaddr_storage mapped_addr[NSOCKS];
	bool answered[NSOCKS];
};

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;

	for (int i = 0; i < NSOCKS; i++) {
		int sock = probe_socket(r, &s->local[i]);

		/* Every other socket to the alternate address: a NAT that picks
		 * its public address by destination shows its pool. */
		unsigned dest =
		    i % 2 && probe_role_addr(r, PROBE_AP)->sa_family ? PROBE_AP : PROBE_PP;

		if (sock < 0 || probe_ask(r, i, sock, dest, 0, false)) {
			probe_note(r, "could not open every socket");
			return;
		}
	}
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;

	(void)r;
	s->mapped[tag] = addr_port((const struct sockaddr *)&a->mapped);
	s->mapped_addr[tag] = a->mapped;
	s->answered[tag] = true;
}

static int by_value(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* The most common step between sorted ports, and how many steps it is. */
static unsigned modal_step(const uint16_t *sorted, int n, unsigned *count)
{
	unsigned best = 0;

	*count = 0;
	for (int i = 1; i < n; i++) {
		unsigned step = (unsigned)(sorted[i] - sorted[i - 1]), same = 0;

		for (int j = 1; j < n; j++)
			same += (unsigned)(sorted[j] - sorted[j - 1]) == step;
		if (same > *count || (same == *count && step < best)) {
			best = step;
			*count = same;
		}
	}
	return best;
}

static void classify(const struct state *s, struct probe_result *res, const char **why)
{
	uint16_t sorted[NSOCKS];
	unsigned count, step, wide = 0, off = 0;
	bool preserved = true, parity = true;

	for (int i = 0; i < NSOCKS; i++) {
		uint16_t local = addr_port((const struct sockaddr *)&s->local[i]);

		res->port_samples[i] = s->mapped[i];
		preserved = preserved && s->mapped[i] == local;
		parity = parity && (s->mapped[i] & 1) == (local & 1);
		sorted[i] = s->mapped[i];
	}
	res->port_nsamples = NSOCKS;
	res->port_parity = parity ? PROBE_YES : PROBE_NO;
	if (preserved) {
		res->port_pattern = PROBE_PORTS_PRESERVING;
		res->port_predictability = 1.0;
		return;
	}
	qsort(sorted, NSOCKS, sizeof(sorted[0]), by_value);
	step = modal_step(sorted, NSOCKS, &count);
	for (int i = 1; i < NSOCKS; i++) {
		unsigned d = (unsigned)(sorted[i] - sorted[i - 1]);

		wide += d >= WIDE_GAP;
		off += step == 0 || d % step != 0 || d > 4 * step;
	}
	res->port_predictability = (double)count / (NSOCKS - 1);
	if (step > 0 && step < WIDE_GAP && 2 * count >= NSOCKS - 1 && off == 0) {
		res->port_pattern = PROBE_PORTS_SEQUENTIAL;
		res->port_delta = step;
	} else if (2 * wide >= NSOCKS - 1) {
		res->port_pattern = PROBE_PORTS_RANDOM;
		res->port_predictability = 0.0;
	} else {
		res->port_pattern = PROBE_PORTS_INCONCLUSIVE;
		*why = "the mapped ports follow no pattern: neither steady steps nor wide ones";
	}
}

static void pooling(const struct state *s, struct probe_result *res)
{
	bool nat = false;

	for (int i = 0; i < NSOCKS; i++) {
		const struct sockaddr *m = (const struct sockaddr *)&s->mapped_addr[i];
		bool known = false;

		if (!s->answered[i])
			continue;
		nat = nat || !addr_same_ip(m, (const struct sockaddr *)&s->local[i]);
		for (unsigned k = 0; k < res->npool && !known; k++)
			known = addr_same_ip(m, (const struct sockaddr *)&res->pool[k]);
		if (!known && res->npool < PROBE_POOL_MAX) {
			res->pool[res->npool] = s->mapped_addr[i];
			addr_set_port((struct sockaddr *)&res->pool[res->npool++], 0);
		}
	}
	res->pooling = PROBE_POOLING_INCONCLUSIVE;
	if (res->npool > 1)
		res->pooling = PROBE_POOLING_ARBITRARY;
	else if (!res->npool)
		snprintf(res->pooling_reason, sizeof(res->pooling_reason), "no answer");
	else if (!nat)
		snprintf(res->pooling_reason, sizeof(res->pooling_reason), "no NAT: no pool");
	else
		snprintf(res->pooling_reason, sizeof(res->pooling_reason),
			 "one public address for all of this host's mappings: a single address, "
			 "or paired pooling; a second host would tell");
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *s = state;
	const char *why = probe_run_note(r);

	res->port_pattern = PROBE_PORTS_INCONCLUSIVE;
	for (int i = 0; i < NSOCKS && !why; i++)
		if (!s->answered[i])
			why = "not every socket got an answer";
	if (!why)
		classify(s, res, &why);
	pooling(s, res); /* from the answers there are */
	if (why)
		snprintf(res->port_reason, sizeof(res->port_reason), "%s", why);
}

const struct probe_test probe_test_ports = {
    .name = "ports",
    .help = "port allocation (RFC 4787 4.2): preserving, sequential (with its delta) or "
	    "random; parity; predictability",
    .state_size = sizeof(struct state),
    .start = start,
    .on_answer = on_answer,
    .finish = finish,
};
