/*
 * Port allocation (RFC 4787 section 4.2): sixteen fresh sockets, one after
 * the other, each ask the primary endpoint for their mapped port.
 *
 *   preserving  at least 12 of the 16 mapped ports are their socket's own
 *               port (RFC 4787 4.2.1 accepts it only with a fallback that
 *               avoids overloading, as natemu and Linux have: a port that
 *               another mapping holds is not kept; a NAT that does not
 *               preserve keeps one by luck once in tens of thousands)
 *   sequential  the mapped ports, sorted, step by one delta, now and then by
 *               a few deltas (ports another host or test took meanwhile)
 *   random      neither, with the steps spread wide
 *
 * Sorted, because loss and retransmission change the order in which the
 * NAT saw the sockets, not the set of ports it gave. Parity (REQ-4) is
 * preserved when every mapped port has its socket's parity: sixteen chances
 * make a random NAT pass by luck once in 65,536. The predictability figure,
 * for port prediction later, is the share of steps equal to the delta (1
 * for preserving, 0 for random).
 *
 * One more fresh socket asks the four endpoints one after the other, each
 * question once the last is answered, so that the order of its mappings is
 * the order the NAT made them: how a NAT that maps per destination numbers
 * them (RFC 4787 4.2.1; what port prediction toward a new peer needs).
 * "same" is one public port for every destination.
 *
 * Then contiguity (RFC 4787 4.2.3; RTP on an even port N and RTCP on N+1
 * count on it, RFC 3550 section 11): four pairs of sockets on local ports N
 * and N+1, each pair's second asking once its first is answered, all to the
 * primary endpoint. Kept when every pair's second got the first's public
 * address and port + 1 (a random NAT does that by luck about once in 30,000
 * pairs); not kept when no pair did. Some pairs and not others is no
 * verdict: another host's mapping may have fallen between a pair's two.
 * Nor is every pair kept when the mappings toward the primary endpoint got
 * several public addresses (arbitrary pooling): each pair may have kept
 * its address by chance.
 *
 * Pooling (RFC 4787 section 4.1) from the same answers (half of the sockets
 * ask the alternate address, since Linux picks a pool address by source and
 * destination): several public addresses for one host's mappings is
 * "arbitrary" pooling. One address is no verdict: a single address and
 * "paired" pooling (one per inside host) look alike from one host, and an
 * arbitrary pool may happen to give one address to both destinations.
 * With a second host (--peer), four of its sockets (two to each reflector
 * address) tell more: each host on one address of its own is "paired"
 * (RFC 4787 REQ-2); both on the same one stays inconclusive (a single
 * address, or a paired pool that put both hosts on one).
 */
#include <stdlib.h>
#include <stdio.h>

#include "addr.h"
#include "probe/decide.h"
#include "probe/tests.h"

#define NSOCKS   PROBE_PORT_SAMPLES
#define DEST_TAG 100 /* tags of the one socket's questions: DEST_TAG + role */
#define PEER_TAG 200 /* tags of the peer's sockets: PEER_TAG + index */
#define PAIR_TAG 300 /* the pairs' questions: PAIR_TAG + 2 * pair + (0 or 1) */
#define NPEER    4
#define NPAIRS   PROBE_PORT_PAIRS

struct state {
	struct sockaddr_storage local[NSOCKS];
	uint16_t mapped[NSOCKS];
	struct sockaddr_storage mapped_addr[NSOCKS];
	bool answered[NSOCKS];
	int dest_sock;
	unsigned settled; /* of the sixteen */
	unsigned ndest;   /* answers so far, in the order asked */
	uint16_t dest_mapped[4];
	struct sockaddr_storage peer_mapped[NPEER];
	bool peer_answered[NPEER], peer_used, peer_failed;
	int pair_socks[NPAIRS][2];
	struct sockaddr_storage pair_local[NPAIRS][2], pair_mapped[NPAIRS][2];
	unsigned npairs; /* opened */
	bool pair_failed;
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
	s->peer_used = probe_have_peer(r);
	for (int i = 0; i < NPEER && s->peer_used; i++) {
		int sock = probe_peer_socket(r, 0, NULL);
		unsigned dest =
		    i % 2 && probe_role_addr(r, PROBE_AP)->sa_family ? PROBE_AP : PROBE_PP;

		if (sock < 0 || probe_ask(r, PEER_TAG + i, sock, dest, 0, false)) {
			s->peer_failed = true;
			break;
		}
	}
}

/* The next pair of adjacent ports, once the last is settled. */
static void next_pair(struct probe_run *r, struct state *s)
{
	unsigned i = s->npairs;

	if (i == NPAIRS || s->pair_failed || !probe_can_pair(r))
		return;
	if (probe_socket_pair(r, s->pair_socks[i], s->pair_local[i])) {
		s->pair_failed = true;
		return;
	}
	s->npairs++;
	if (probe_ask(r, PAIR_TAG + 2 * (int)i, s->pair_socks[i][0], PROBE_PP, 0, false))
		s->pair_failed = true;
}

/* A pair's question settled: after the first's answer the pair's second,
 * else the next pair. */
static void pair_settled(struct probe_run *r, struct state *s, int tag, bool answered)
{
	int i = (tag - PAIR_TAG) / 2;

	if (answered && (tag - PAIR_TAG) % 2 == 0 &&
	    !probe_ask(r, tag + 1, s->pair_socks[i][1], PROBE_PP, 0, false))
		return;
	next_pair(r, s);
}

/* One socket toward each endpoint in turn, then the pairs: each after the
 * sixteen, so that their mappings do not fall between this socket's and
 * blur its steps, nor between a pair's two. */
static void settled(struct probe_run *r, struct state *s)
{
	if (++s->settled < NSOCKS)
		return;
	if (probe_role_addr(r, PROBE_AA)->sa_family) {
		s->dest_sock = probe_socket(r, NULL);
		if (s->dest_sock >= 0 &&
		    !probe_ask(r, DEST_TAG + PROBE_PP, s->dest_sock, PROBE_PP, 0, false))
			return;
	}
	next_pair(r, s);
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;

	if (tag >= PAIR_TAG && tag < PAIR_TAG + 2 * NPAIRS) {
		s->pair_mapped[(tag - PAIR_TAG) / 2][(tag - PAIR_TAG) % 2] = a->mapped;
		pair_settled(r, s, tag, true);
		return;
	}
	if (tag >= PEER_TAG && tag < PEER_TAG + NPEER) {
		s->peer_mapped[tag - PEER_TAG] = a->mapped;
		s->peer_answered[tag - PEER_TAG] = true;
		return;
	}
	if (tag >= DEST_TAG && tag < DEST_TAG + 4) {
		s->dest_mapped[s->ndest++] = addr_port((const struct sockaddr *)&a->mapped);
		if (s->ndest == 4 ||
		    probe_ask(r, DEST_TAG + (int)s->ndest, s->dest_sock, s->ndest, 0, false))
			next_pair(r, s);
		return;
	}
	if (tag < 0 || tag >= NSOCKS)
		return;
	s->mapped[tag] = addr_port((const struct sockaddr *)&a->mapped);
	s->mapped_addr[tag] = a->mapped;
	s->answered[tag] = true;
	settled(r, s);
}

static void on_silence(struct probe_run *r, void *state, int tag, unsigned sends)
{
	(void)sends;
	if (tag >= PAIR_TAG)
		pair_settled(r, state, tag, false);
	else if (tag >= DEST_TAG && tag < PEER_TAG)
		next_pair(r, state); /* the one socket's chain ends here */
	else if (tag < DEST_TAG)
		settled(r, state);
}

static void classify(const struct state *s, struct probe_result *res, const char **why)
{
	struct probe_port_pattern p;

	for (int i = 0; i < NSOCKS; i++) {
		res->port_samples[i] = s->mapped[i];
		res->port_locals[i] = addr_port((const struct sockaddr *)&s->local[i]);
	}
	res->port_nsamples = NSOCKS;
	probe_decide_ports(res->port_locals, res->port_samples, NSOCKS, &p, why);
	res->port_pattern = p.pattern;
	res->port_delta = p.delta;
	res->port_predictability = p.predictability;
	res->port_parity = p.parity;
}

/* One socket toward the four endpoints, in the order asked: the steps
 * between the ports of its new mappings (a port not seen before). */
static void destinations(const struct state *s, struct probe_result *res)
{
	unsigned steps[3];
	int n = 0;

	res->dest_nsamples = s->ndest;
	for (unsigned i = 0; i < s->ndest; i++)
		res->dest_samples[i] = s->dest_mapped[i];
	res->dest_pattern = PROBE_DEST_INCONCLUSIVE;
	if (s->ndest < 4) {
		snprintf(res->dest_reason, sizeof(res->dest_reason),
			 "not every endpoint answered the one socket");
		return;
	}
	for (unsigned i = 1, last = 0; i < 4; i++) {
		bool seen = false;

		for (unsigned j = 0; j < i; j++)
			seen = seen || s->dest_mapped[j] == s->dest_mapped[i];
		if (seen)
			continue;
		steps[n++] = (uint16_t)(s->dest_mapped[i] - s->dest_mapped[last]);
		last = i;
	}
	if (n == 0) {
		res->dest_pattern = PROBE_DEST_SAME;
		res->dest_predictability = 1.0;
	} else if (n < 2) {
		snprintf(res->dest_reason, sizeof(res->dest_reason),
			 "two mappings only (one per reflector address): one step is no pattern");
	} else {
		enum probe_ports p =
		    probe_step_pattern(steps, n, &res->dest_delta, &res->dest_predictability);

		res->dest_pattern = p == PROBE_PORTS_SEQUENTIAL ? PROBE_DEST_SEQUENTIAL
				    : p == PROBE_PORTS_RANDOM   ? PROBE_DEST_RANDOM
								: PROBE_DEST_INCONCLUSIVE;
		if (p == PROBE_PORTS_INCONCLUSIVE)
			snprintf(res->dest_reason, sizeof(res->dest_reason),
				 "the new mappings' ports follow no pattern");
	}
}

/* Whether the sixteen sockets that asked the primary endpoint got a public
 * address other than m's: a NAT that draws each mapping's address. One
 * that picks it by destination (Linux) gives those all the same. */
static bool varies_toward_pp(struct probe_run *r, const struct state *s, const struct sockaddr *m)
{
	bool alternate = probe_role_addr(r, PROBE_AP)->sa_family != 0;

	for (int i = 0; i < NSOCKS; i += alternate ? 2 : 1)
		if (s->answered[i] && !addr_same_ip((const struct sockaddr *)&s->mapped_addr[i], m))
			return true;
	return false;
}

/* Pairs of adjacent local ports: see the top of the file. */
static void contiguity(struct probe_run *r, const struct state *s, struct probe_result *res)
{
	const char *note = probe_run_note(r);
	unsigned answered = 0, kept = 0;
	bool several = false; /* public addresses toward the primary endpoint */

	res->contiguity_tested = true;
	res->npairs = s->npairs;
	for (unsigned i = 0; i < s->npairs; i++) {
		const struct sockaddr *m0 = (const struct sockaddr *)&s->pair_mapped[i][0],
				      *m1 = (const struct sockaddr *)&s->pair_mapped[i][1];

		res->pair_local[i] = s->pair_local[i][0];
		res->pair_mapped[i][0] = s->pair_mapped[i][0];
		res->pair_mapped[i][1] = s->pair_mapped[i][1];
		if (!m0->sa_family || !m1->sa_family)
			continue;
		answered++;
		several = several || !addr_same_ip(m0, m1) || varies_toward_pp(r, s, m0);
		kept += addr_same_ip(m0, m1) && addr_port(m1) == (uint16_t)(addr_port(m0) + 1);
	}
	res->contiguity = PROBE_UNKNOWN;
	if (answered < 2 && s->pair_failed)
		snprintf(res->contiguity_reason, sizeof(res->contiguity_reason),
			 "could not bind sockets on adjacent local ports");
	else if (answered < 2 && !s->npairs && note)
		snprintf(res->contiguity_reason, sizeof(res->contiguity_reason), "%s", note);
	else if (answered < 2)
		snprintf(res->contiguity_reason, sizeof(res->contiguity_reason),
			 "fewer than two pairs of adjacent ports got both answers");
	else if (kept == answered && several)
		snprintf(res->contiguity_reason, sizeof(res->contiguity_reason),
			 "every pair kept adjacent ports, but mappings toward one endpoint got "
			 "several public addresses: a pair may share one by chance");
	else if (kept == answered)
		res->contiguity = PROBE_YES;
	else if (kept == 0)
		res->contiguity = PROBE_NO;
	else
		snprintf(res->contiguity_reason, sizeof(res->contiguity_reason),
			 "%u of %u pairs got adjacent public ports: another mapping fell between "
			 "a pair's two, or the NAT keeps contiguity only at times",
			 kept, answered);
}

/* Add m's address to the set pool (of n), once. */
static void collect(struct sockaddr_storage *pool, unsigned *n, const struct sockaddr_storage *m)
{
	for (unsigned k = 0; k < *n; k++)
		if (addr_same_ip((const struct sockaddr *)m, (const struct sockaddr *)&pool[k]))
			return;
	if (*n < PROBE_POOL_MAX) {
		pool[*n] = *m;
		addr_set_port((struct sockaddr *)&pool[(*n)++], 0);
	}
}

/* With the second host's addresses: see the top of the file. */
static bool pooling_peer(const struct state *s, struct probe_result *res)
{
	bool all = true;

	if (!s->peer_used)
		return false;
	for (int i = 0; i < NPEER; i++)
		all = all && s->peer_answered[i];
	if (res->npool_peer > 1) {
		res->pooling = PROBE_POOLING_ARBITRARY;
		return true;
	}
	if (s->peer_failed || !all) {
		snprintf(res->pooling_reason, sizeof(res->pooling_reason),
			 "one public address for this host's mappings, and not every socket of "
			 "the second host got an answer");
		return true;
	}
	if (!addr_same_ip((const struct sockaddr *)&res->pool[0],
			  (const struct sockaddr *)&res->pool_peer[0])) {
		res->pooling = PROBE_POOLING_PAIRED;
		return true;
	}
	res->pooling_by_design = true;
	snprintf(res->pooling_reason, sizeof(res->pooling_reason),
		 "both hosts' mappings on one public address: a single address, or paired "
		 "pooling that put both hosts on the same one");
	return true;
}

/* One address, no second host asked for: by design no verdict (see the top
 * of the file), and not counted as a failure to decide (probe_result_open). */
static void one_address(struct probe_result *res)
{
	res->pooling_by_design = true;
	snprintf(res->pooling_reason, sizeof(res->pooling_reason),
		 "one public address for all of this host's mappings: a single address, "
		 "or paired pooling; a second host (--peer) would tell");
}

static void pooling(const struct state *s, const char *peer_missing, struct probe_result *res)
{
	bool nat = false;

	for (int i = 0; i < NSOCKS; i++) {
		if (!s->answered[i])
			continue;
		nat = nat || !addr_same_ip((const struct sockaddr *)&s->mapped_addr[i],
					   (const struct sockaddr *)&s->local[i]);
		collect(res->pool, &res->npool, &s->mapped_addr[i]);
	}
	for (int i = 0; i < NPEER; i++)
		if (s->peer_answered[i])
			collect(res->pool_peer, &res->npool_peer, &s->peer_mapped[i]);
	res->pooling = PROBE_POOLING_INCONCLUSIVE;
	if (res->npool > 1)
		res->pooling = PROBE_POOLING_ARBITRARY;
	else if (res->npool && nat && pooling_peer(s, res))
		return;
	else if (!res->npool)
		snprintf(res->pooling_reason, sizeof(res->pooling_reason), "no answer");
	else if (!nat)
		snprintf(res->pooling_reason, sizeof(res->pooling_reason), "no NAT: no pool");
	else if (peer_missing)
		snprintf(res->pooling_reason, sizeof(res->pooling_reason),
			 "one public address for all of this host's mappings; the second host "
			 "that would tell is missing: %s",
			 peer_missing);
	else
		one_address(res);
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
	pooling(s, probe_peer_missing(r), res); /* from the answers there are */
	destinations(s, res);
	if (probe_can_pair(r))
		contiguity(r, s, res);
	if (why)
		snprintf(res->port_reason, sizeof(res->port_reason), "%s", why);
}

const struct probe_test probe_test_ports = {
    .name = "ports",
    .help = "port allocation (RFC 4787 4.2): preserving, sequential (with its delta) or "
	    "random; parity; predictability; one socket toward each endpoint in turn; "
	    "contiguity of adjacent local ports",
    .state_size = sizeof(struct state),
    .start = start,
    .on_answer = on_answer,
    .on_silence = on_silence,
    .finish = finish,
};
