/*
 * Hairpinning (RFC 4787 section 6, REQ-9; RFC 5780 section 4.5): do packets
 * from inside to one of the NAT's own public endpoints come back in, and
 * with which source? Two fresh sockets learn their mapped addresses (MA, MB)
 * from the primary endpoint, then each sends to the other's, repeatedly.
 *
 * Both directions, because a hairpinned packet meets the target mapping's
 * filter like any inbound one: A's packet to MB lets B's answer to MA
 * through an endpoint-independent mapping's filter, whatever the filtering.
 * So "no hairpinning" is a verdict only when the mapping test found
 * endpoint-independent mapping or the filtering test found
 * endpoint-independent filtering; otherwise the silence may be the filter's
 * and the answer is inconclusive.
 *
 * And only when this host would take a packet from its own address: a NAT
 * that hairpins with the inside source sends B's packet to A from B's inside
 * address, this host's own, which Linux drops unless accept_local is set.
 * Without it, silence proves only that the NAT does not hairpin with the
 * external source (REQ-9 not met).
 *
 * With a second host (--peer), the same between a socket here and one
 * there: hairpinning as RFC 4787 means it, between two hosts, where the
 * inside source is another host's address and so always visible. The
 * record's verdict joins both: true when either pair saw it, false when
 * one pair ruled it out and the other did not see it, inconclusive when
 * they disagree.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "probe/decide.h"
#include "probe/tests.h"

/* Two pairs: this host's two sockets, and one here with one on the peer. */
enum { CONTROL_A, CONTROL_B, TO_A, TO_B, NTAGS };
enum { SAME_HOST, BETWEEN_HOSTS, NPAIRS };

struct pair {
	bool used;
	int sock[2];
	struct sockaddr_storage local[2], mapped[2], source;
	bool answered[NTAGS], trusted, wrong_socket;
	const char *note;
};

struct state {
	struct pair pair[NPAIRS];
};

static void start_pair(struct probe_run *r, struct pair *p, int base, bool peer)
{
	p->used = true;
	p->trusted = true;
	p->sock[0] = probe_socket(r, &p->local[0]);
	p->sock[1] = peer ? probe_peer_socket(r, 0, &p->local[1]) : probe_socket(r, &p->local[1]);
	if (p->sock[0] < 0 || p->sock[1] < 0 ||
	    probe_ask(r, base + CONTROL_A, p->sock[0], PROBE_PP, 0, false) ||
	    probe_ask(r, base + CONTROL_B, p->sock[1], PROBE_PP, 0, false))
		p->note = "could not ask every question";
}

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;

	start_pair(r, &s->pair[SAME_HOST], 0, false);
	if (probe_have_peer(r))
		start_pair(r, &s->pair[BETWEEN_HOSTS], NTAGS, true);
}

static bool behind_nat(const struct pair *p)
{
	return !addr_equal((const struct sockaddr *)&p->mapped[0],
			   (const struct sockaddr *)&p->local[0]);
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;
	struct pair *p = &s->pair[tag / NTAGS];
	int base = tag - tag % NTAGS;

	tag %= NTAGS;
	p->answered[tag] = true;
	if (tag == CONTROL_A || tag == CONTROL_B) {
		p->mapped[tag] = a->mapped;
		if (!p->answered[CONTROL_A] || !p->answered[CONTROL_B] || !behind_nat(p))
			return;
		/* B to MA, A to MB: each opens its own filter for the other. */
		if (probe_hairpin(r, base + TO_A, p->sock[1], (struct sockaddr *)&p->mapped[0]) ||
		    probe_hairpin(r, base + TO_B, p->sock[0], (struct sockaddr *)&p->mapped[1]))
			p->note = "could not ask every question";
		return;
	}
	if (a->sock != p->sock[tag == TO_A ? 0 : 1]) {
		p->wrong_socket = true;
		return;
	}
	p->source = a->from;
}

static void on_silence(struct probe_run *r, void *state, int tag, unsigned sends)
{
	struct state *s = state;

	(void)sends;
	if (!probe_silence_trusted(r))
		s->pair[tag / NTAGS].trusted = false;
}

/* Where the hairpinned packet said it came from: RFC 4787 REQ-9 wants the
 * sender's public endpoint ("external"), not its inside one. */
static const char *source_kind(const struct pair *p)
{
	for (int i = 0; i < 2; i++) {
		if (addr_equal((const struct sockaddr *)&p->source,
			       (const struct sockaddr *)&p->local[i]))
			return "internal";
		if (addr_same_ip((const struct sockaddr *)&p->source,
				 (const struct sockaddr *)&p->mapped[i]))
			return "external";
	}
	return "other";
}

/* One pair's verdict; own_source: whether its inside source would be this
 * host's own address (the same-host pair). */
static enum probe_bool decide(const struct probe_run *r, const struct pair *p, bool own_source,
			      const struct probe_result *res, const char **why)
{
	if (p->note) {
		*why = p->note;
	} else if (!p->answered[CONTROL_A] || !p->answered[CONTROL_B]) {
		*why = "no answer from the reflector to learn the mapped addresses";
	} else if (!behind_nat(p)) {
		*why = "no NAT: nothing to hairpin";
	} else if (p->wrong_socket) {
		*why = "a hairpinned packet reached the wrong socket";
	} else if (p->answered[TO_A] || p->answered[TO_B]) {
		return PROBE_YES;
	} else if (!p->trusted) {
		*why = "too much loss to read a missing packet as no hairpinning";
	} else if (res->mapping != PROBE_MAPPING_EI && res->filtering != PROBE_FILTERING_EI) {
		*why = "nothing came back, but with neither endpoint-independent mapping nor "
		       "filtering (tested) the NAT's filter may be what stopped it";
	} else if (own_source && !probe_own_source_visible(r)) {
		*why = "no hairpinning with the external source (RFC 4787 REQ-9 not met); with the "
		       "internal one this host could not see it (it drops packets from its own "
		       "address: accept_local)";
	} else {
		return PROBE_NO;
	}
	return PROBE_UNKNOWN;
}

static void set_reason(char *dst, const char *why)
{
	snprintf(dst, PROBE_REASON_LEN, "%s", why ? why : "");
}

/* Both pairs into the record's one verdict (see the top of the file). */
static void join(struct probe_result *res, enum probe_bool host, const char *host_why,
		 const struct pair *same)
{
	enum probe_bool peer = res->hairpin_peer;
	const char *why;

	res->hairpin_host = host;
	if (host == PROBE_YES)
		snprintf(res->hairpin_host_source, sizeof(res->hairpin_host_source), "%s",
			 source_kind(same));
	res->hairpinning = probe_decide_hairpin_join(res->hairpin_peer_tested, host, peer, &why);
	if (why)
		set_reason(res->hairpin_reason, why);
	else if (host == PROBE_UNKNOWN && peer == PROBE_UNKNOWN)
		set_reason(res->hairpin_reason, host_why);
	/* The source between hosts is the one REQ-9 is about. */
	snprintf(res->hairpin_source, sizeof(res->hairpin_source), "%s",
		 peer == PROBE_YES ? res->hairpin_peer_source : res->hairpin_host_source);
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *s = state;
	const char *note = probe_run_note(r), *why = note;
	enum probe_bool host = PROBE_UNKNOWN;

	res->hairpin_tested = true;
	if (probe_have_peer(r)) {
		const struct pair *p = &s->pair[BETWEEN_HOSTS];
		const char *peer_why = note;

		res->hairpin_peer_tested = true;
		if (!peer_why)
			res->hairpin_peer = decide(r, p, false, res, &peer_why);
		if (res->hairpin_peer == PROBE_YES)
			snprintf(res->hairpin_peer_source, sizeof(res->hairpin_peer_source), "%s",
				 source_kind(p));
		else
			set_reason(res->hairpin_peer_reason, peer_why);
	} else if (probe_peer_missing(r)) {
		res->hairpin_peer_tested = true;
		set_reason(res->hairpin_peer_reason, probe_peer_missing(r));
	}
	if (!why)
		host = decide(r, &s->pair[SAME_HOST], true, res, &why);
	join(res, host, why, &s->pair[SAME_HOST]);
}

const struct probe_test probe_test_hairpin = {
    .name = "hairpin",
    .help = "hairpinning (RFC 4787 6, REQ-9): two sockets send to each other's mapped "
	    "address, on this host and (--peer) between hosts; and the source the NAT gives",
    .state_size = sizeof(struct state),
    .start = start,
    .on_answer = on_answer,
    .on_silence = on_silence,
    .finish = finish,
};
