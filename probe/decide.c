/*
 * The deciders UDP and TCP share. See decide.h; the reasoning behind each
 * rule is at the top of t_mapping.c and t_ports.c.
 */
#include "decide.h"

#include <stdlib.h>

#include "addr.h"

#define WIDE_GAP    64 /* steps this big or bigger are no sequence */
#define MAX_SAMPLES 64

static bool same(const struct sockaddr_storage *seen, unsigned a, unsigned b)
{
	return addr_equal((const struct sockaddr *)&seen[a], (const struct sockaddr *)&seen[b]);
}

enum probe_mapping probe_decide_mapping(const struct sockaddr_storage seen[4],
					const struct sockaddr_storage *local, const char **why)
{
	bool own = true;

	for (unsigned role = 0; role < 4; role++)
		own = own && addr_equal((const struct sockaddr *)&seen[role],
					(const struct sockaddr *)local);
	if (own)
		return PROBE_MAPPING_NONE;
	if (same(seen, 0, 1) && same(seen, 1, 2) && same(seen, 2, 3))
		return PROBE_MAPPING_EI;
	if (same(seen, 0, 1) && same(seen, 2, 3))
		return PROBE_MAPPING_AD;
	if (!same(seen, 0, 1) && !same(seen, 2, 3))
		return PROBE_MAPPING_APD;
	*why = "the mapped addresses fit no mapping behaviour (one port change kept the mapping, "
	       "the other did not)";
	return PROBE_MAPPING_INCONCLUSIVE;
}

static int by_value(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* The most common of n steps, and how many times it comes. */
static unsigned modal_step(const unsigned *steps, int n, unsigned *count)
{
	unsigned best = 0;

	*count = 0;
	for (int i = 0; i < n; i++) {
		unsigned same = 0;

		for (int j = 0; j < n; j++)
			same += steps[j] == steps[i];
		if (same > *count || (same == *count && steps[i] < best)) {
			best = steps[i];
			*count = same;
		}
	}
	return best;
}

/*
 * Steps between successive new ports: sequential when most take one small
 * step and the rest a few of them (ports others took meanwhile), random when
 * most are wide. Sets *delta and *predictability (the share of steps equal
 * to the delta).
 */
enum probe_ports probe_step_pattern(const unsigned *steps, int n, unsigned *delta,
				    double *predictability)
{
	unsigned count, step = modal_step(steps, n, &count), wide = 0, off = 0;

	for (int i = 0; i < n; i++) {
		wide += steps[i] >= WIDE_GAP;
		off += step == 0 || steps[i] % step != 0 || steps[i] > 4 * step;
	}
	*predictability = (double)count / n;
	if (step > 0 && step < WIDE_GAP && 2 * count >= (unsigned)n && off == 0) {
		*delta = step;
		return PROBE_PORTS_SEQUENTIAL;
	}
	if (2 * wide < (unsigned)n)
		return PROBE_PORTS_INCONCLUSIVE;
	*predictability = 0.0;
	return PROBE_PORTS_RANDOM;
}

void probe_decide_ports(const uint16_t *local, const uint16_t *mapped, int n,
			struct probe_port_pattern *out, const char **why)
{
	uint16_t sorted[MAX_SAMPLES];
	unsigned steps[MAX_SAMPLES - 1];
	int preserved = 0;
	bool parity = true;

	*out = (struct probe_port_pattern){.pattern = PROBE_PORTS_INCONCLUSIVE};
	if (n < 2 || n > MAX_SAMPLES) {
		*why = "need 2 to 64 mapped ports to see a pattern";
		return;
	}
	for (int i = 0; i < n; i++) {
		preserved += mapped[i] == local[i];
		parity = parity && (mapped[i] & 1) == (local[i] & 1);
		sorted[i] = mapped[i];
	}
	out->parity = parity ? PROBE_YES : PROBE_NO;
	if (4 * preserved >= 3 * n) {
		out->pattern = PROBE_PORTS_PRESERVING;
		out->predictability = (double)preserved / n;
		return;
	}
	qsort(sorted, (size_t)n, sizeof(sorted[0]), by_value);
	for (int i = 1; i < n; i++)
		steps[i - 1] = (unsigned)(sorted[i] - sorted[i - 1]);
	out->pattern = probe_step_pattern(steps, n - 1, &out->delta, &out->predictability);
	if (out->pattern == PROBE_PORTS_INCONCLUSIVE)
		*why = "the mapped ports follow no pattern: neither steady steps nor wide ones";
}

enum probe_syn probe_decide_syn(const struct probe_observation *o, uint8_t baseline)
{
	switch (o->outcome) {
	case PROBE_SEEN_NOTHING:
		return PROBE_SYN_DROP;
	case PROBE_SEEN_SYN_ACK:
		return PROBE_SYN_PASS;
	default:
		if (!baseline || !o->ttl)
			return PROBE_SYN_INCONCLUSIVE;
		if (o->ttl == baseline)
			return PROBE_SYN_PASS;
		return o->outcome == PROBE_SEEN_RST ? PROBE_SYN_RST : PROBE_SYN_ICMP;
	}
}

enum probe_filtering probe_decide_tcp_filtering(enum probe_syn pa, enum probe_syn aa,
						const char **why)
{
	bool pa_in = pa == PROBE_SYN_PASS, aa_in = aa == PROBE_SYN_PASS;

	*why = NULL;
	if (pa == PROBE_SYN_INCONCLUSIVE || aa == PROBE_SYN_INCONCLUSIVE ||
	    pa == PROBE_SYN_UNTESTED || aa == PROBE_SYN_UNTESTED) {
		*why = "a SYN's fate was not known";
		return PROBE_FILTERING_INCONCLUSIVE;
	}
	if (pa_in && aa_in)
		return PROBE_FILTERING_EI;
	if (pa_in)
		return PROBE_FILTERING_AD;
	if (!aa_in)
		return PROBE_FILTERING_APD;
	*why = "a SYN from the reflector's other address came in, but not one from its other "
	       "port: no filtering behaviour lets that through";
	return PROBE_FILTERING_INCONCLUSIVE;
}

enum probe_simopen_trial
probe_decide_simopen_trial(bool connected, const struct probe_observation *result, uint8_t baseline)
{
	if (!result || !result->seen_syn.ss_family)
		return PROBE_TRIAL_UNKNOWN;
	if (result->outcome == PROBE_SEEN_CONNECTED)
		return connected ? PROBE_TRIAL_CONNECTED : PROBE_TRIAL_UNKNOWN;
	switch (probe_decide_syn(result, baseline)) {
	case PROBE_SYN_DROP:
		return PROBE_TRIAL_NOTHING;
	case PROBE_SYN_RST:
	case PROBE_SYN_ICMP:
		return PROBE_TRIAL_REFUSED;
	default:
		return PROBE_TRIAL_UNKNOWN;
	}
}

enum probe_bool probe_decide_overloading(const struct sockaddr_storage *here,
					 const struct sockaddr_storage *peer,
					 const struct sockaddr_storage *local, const char **why)
{
	*why = !here->ss_family ? "no answer from the reflector"
	       : addr_equal((const struct sockaddr *)here, (const struct sockaddr *)local)
		   ? "no NAT: no public endpoint to share"
	       : !peer->ss_family ? "no answer to the second host"
				  : NULL;
	if (*why)
		return PROBE_UNKNOWN;
	return addr_equal((const struct sockaddr *)here, (const struct sockaddr *)peer) ? PROBE_YES
											: PROBE_NO;
}

enum probe_bool probe_decide_alg(const struct sockaddr_storage * xor,
				 const struct sockaddr_storage *plain, unsigned n, unsigned *which,
				 const char **why)
{
	unsigned both = 0;

	*why = NULL;
	for (unsigned i = 0; i < n; i++) {
		if (!plain[i].ss_family || !xor[i].ss_family)
			continue;
		both++;
		if (!addr_equal((const struct sockaddr *)&plain[i],
				(const struct sockaddr *)&xor[i])) {
			*which = i;
			return PROBE_YES;
		}
	}
	if (both && both == n)
		return PROBE_NO;
	*why = both ? "not every answer came with MAPPED-ADDRESS beside XOR-MAPPED-ADDRESS"
		    : "the reflector sends no MAPPED-ADDRESS beside XOR-MAPPED-ADDRESS";
	return PROBE_UNKNOWN;
}

enum probe_bool probe_decide_hairpin_join(bool peer_tested, enum probe_bool host,
					  enum probe_bool peer, const char **why)
{
	*why = NULL;
	if (!peer_tested || peer == host || peer == PROBE_UNKNOWN)
		return host;
	if (host == PROBE_UNKNOWN)
		return peer;
	*why = host == PROBE_YES
		   ? "hairpinned between two sockets of this host, not between the two hosts"
		   : "hairpinned between the two hosts, not between two sockets of this host";
	return PROBE_UNKNOWN;
}

enum probe_bool probe_decide_tcp_hairpin(const struct probe_tcp_hairpin_seen *s, const char **why)
{
	*why = NULL;
	if (!s->behind_nat) {
		*why = "no NAT: nothing to hairpin";
		return PROBE_UNKNOWN;
	}
	if (s->connected)
		return PROBE_YES;
	/* With endpoint-independent mapping, two crossing SYNs open both filters
	 * where SYNs may cross, and an endpoint-independent filter lets one in
	 * anyway. A dependent mapping may send the answer out from yet another
	 * public port, which the sender takes for no answer, hairpinning or not. */
	if (s->mapping != PROBE_MAPPING_EI ||
	    (s->simopen != PROBE_YES && s->filtering != PROBE_FILTERING_EI)) {
		*why =
		    "no connection, but without endpoint-independent TCP mapping, and simultaneous "
		    "open or endpoint-independent TCP filtering (tested), the NAT may have stopped "
		    "the SYNs or their answers for other reasons";
		return PROBE_UNKNOWN;
	}
	if (!s->answered && !s->trusted) {
		*why = "too much loss to read unanswered SYNs as no hairpinning";
		return PROBE_UNKNOWN;
	}
	/* A NAT that turns a SYN back with its inside source cannot make a TCP
	 * connection either: the answer goes straight to that source, not
	 * through the NAT, and the sender, which connected to a public
	 * endpoint, takes it for no answer. So no connection is "false" for
	 * TCP whatever the source would have been. */
	return PROBE_NO;
}
