/*
 * The prediction rules: what RFC 4787's mapping and filtering behaviours
 * of two NATs let through, for each technique of RFC 5128 section 3. The
 * unit tests run every technique over every pair of behaviours on the
 * simulated network (tests/test_punch.c) and fail on any cell where the
 * packets disagree with these rules.
 *
 * The setting. Probe X registers with the rendezvous server S from the
 * socket it will punch with, so S names X's public endpoint R_X: X's
 * mapping toward S. S gives each probe the other's R; both send to it.
 *
 * 1. Where Y's packets to R_X leave from. With endpoint-independent mapping
 *    (or no NAT) from R_Y itself; otherwise from a new mapping of Y's NAT,
 *    toward X's address (address-dependent) or toward R_X exactly
 *    (address-and-port-dependent): same address as R_Y, another port
 *    (RFC 4787 4.1, one public address per NAT).
 *
 * 2. Whether X's NAT lets Y's packet in at R_X (RFC 4787 5). R_X has sent
 *    to S, and, when X's mapping is endpoint-independent, also to R_Y: X's
 *    own packets toward Y left through R_X. So:
 *    - endpoint-independent filtering: always;
 *    - address-dependent: when X's mapping is endpoint-independent (R_X
 *      has sent to Y's address, from which every port of Y's is allowed);
 *    - address-and-port-dependent: when, in addition, Y's packet comes from
 *      R_Y exactly, i.e. Y's mapping is endpoint-independent too.
 *    With connection reversal X sends nothing first, so only
 *    endpoint-independent filtering lets Y in.
 *
 * 3. Whether X's answer gets back into Y's NAT. X answers to where Y's
 *    packet came from, a mapping of Y's NAT that has sent to R_X. X's answer
 *    leaves from R_X if X's mapping is endpoint-independent, else from
 *    another port of X's address. Y's NAT takes it with endpoint-independent
 *    or address-dependent filtering, and with address-and-port-dependent
 *    filtering only when it comes from R_X.
 *
 * 4. Then both directions are proven: Y has X's token and the echo of its
 *    own, and Y's answer to X's answer goes back through the mapping X's
 *    answer opened (same address, and, where the port can differ, a filter
 *    that step 2 or 3 already showed to take it).
 *
 * A technique works when 2 and 3 hold in one direction or the other.
 * Timing is not in these rules: a packet that reaches a NAT before its own
 * side has sent is dropped, and the next round (sent after both started)
 * gets in. Pools of several addresses, mappings that expire within the
 * trial and Linux's renumbering when a peer's early packet took the tuple
 * (../shared/notes/traversal.md) are outside them: a lab that shows those
 * must say so in its expectations.
 *
 * 5. Port prediction (RFC 5128 3.5). A dependent mapping that allocates in
 *    sequence with step d gives its next mapping the port P+d after the
 *    registered P (nobody else behind it mapping in between). So toward
 *    such a side Y, X sends first to Y's address at P+d, P+2d, ... P+Wd
 *    (guess.h: the window), then to R_Y; X's candidates are R_Y alone when
 *    Y is not predictable. Each side's NAT maps its destinations in that
 *    order, and the first round (the opening one) makes every mapping.
 *    - X keeps its endpoint, Y predictable: Y's one destination, R_X, gets
 *      R_Y' = P+d; X sends to it from R_X, which is exactly where R_Y' sent:
 *      every filter takes it, and Y's answer from R_Y' too (R_X sent to
 *      it). Works whatever both filters do.
 *    - Both predictable: with address-dependent mappings, each side's one
 *      new mapping (its P+d) has sent to every guessed port of the other,
 *      the other's P+d among them. With address-and-port-dependent ones,
 *      X's k-th destination, Y's P+kd, gets X's P+kd, and Y's k-th, X's
 *      P+kd, gets Y's P+kd: the k-th mappings have sent to each other, for
 *      every k (the windows are as long on both sides, and the public
 *      endpoint comes last so as not to take a port out of step). Mixed,
 *      X's first mapping and Y's one new mapping meet. Works whatever the
 *      filtering.
 *    - X predictable, Y dependent with unpredictable ports: X's one
 *      destination R_Y gets X's P+d; Y's packets reach it from random
 *      ports, which X's filter takes unless it is address-and-port-
 *      dependent. X's answer leaves from P+d (X's mapping address-
 *      dependent: Y's mappings all sent to it), from a new mapping P+2d
 *      (address-and-port-dependent) that an address-dependent mapping of Y
 *      also sent to, or else it needs Y's filter not to look at ports.
 *    - Otherwise as hole punching: random ports, or ports kept per socket
 *      (which say nothing of where a second mapping of one socket goes),
 *      leave nothing to predict. A dependent side whose pattern is not
 *      known (or sequential without a step) makes it `depends`.
 *    The rules assume the window sees every mapping: another host behind Y
 *    that maps in between shifts Y's ports (RFC 5128 3.5's "under load").
 *
 * 6. Birthday punching (beyond RFC 5128: Tailscale's). Only where hole
 *    punching fails, and one side E keeps its endpoint while the other, H,
 *    has a dependent mapping: then E's filter looks at ports (else hole
 *    punching would work) and only a mapping of H that sent to R_E exactly
 *    gets through. H opens N sockets, each sending to R_E: N mappings that
 *    every filter of H lets R_E into; E sends to M guessed ports of H's
 *    address from R_E. A guess that hits one of the N is taken by H's
 *    filter, and its answer by E's (R_E sent to it): then both ways are
 *    proven. With random ports that happens by chance (guess.h: the odds,
 *    in the record); with sequential ones the guesses are H's next ports
 *    and it works as port prediction does. Two dependent sides need tens
 *    of thousands of packets a side for even odds: beyond the bounds, so
 *    it is hole punching there, and fails where that does.
 */
#include "predict.h"

static bool unknown(const struct predict_side *s)
{
	return s->mapping == PROBE_MAPPING_UNTESTED || s->mapping == PROBE_MAPPING_INCONCLUSIVE ||
	       s->filtering == PROBE_FILTERING_UNTESTED ||
	       s->filtering == PROBE_FILTERING_INCONCLUSIVE;
}

/* Step 1: packets toward the other probe leave from the registered endpoint. */
static bool keeps_endpoint(const struct predict_side *s)
{
	return s->mapping == PROBE_MAPPING_EI || s->mapping == PROBE_MAPPING_NONE;
}

/* Step 2: x's NAT lets y's packet in at x's registered endpoint. */
static bool enters(const struct predict_side *x, const struct predict_side *y, bool x_sent_first)
{
	if (x->filtering == PROBE_FILTERING_EI)
		return true;
	if (!x_sent_first)
		return false;
	if (x->filtering == PROBE_FILTERING_AD)
		return keeps_endpoint(x);
	return keeps_endpoint(x) && keeps_endpoint(y);
}

/* Step 3: x's answer gets into y's NAT. */
static bool answer_enters(const struct predict_side *y, const struct predict_side *x)
{
	return y->filtering != PROBE_FILTERING_APD || keeps_endpoint(x);
}

static bool one_way(const struct predict_side *x, const struct predict_side *y, bool x_sent_first)
{
	return enters(x, y, x_sent_first) && answer_enters(y, x);
}

static bool punches(const struct predict_side *a, const struct predict_side *b)
{
	return one_way(a, b, true) || one_way(b, a, true);
}

static bool dependent(const struct predict_side *s)
{
	return s->mapping == PROBE_MAPPING_AD || s->mapping == PROBE_MAPPING_APD;
}

bool predict_sequential(const struct predict_side *s)
{
	return dependent(s) && s->ports == PROBE_PORTS_SEQUENTIAL && s->delta > 0;
}

/* A dependent side whose port pattern tells nothing either way. */
static bool pattern_unknown(const struct predict_side *s)
{
	return dependent(s) &&
	       (s->ports == PROBE_PORTS_UNTESTED || s->ports == PROBE_PORTS_INCONCLUSIVE ||
		(s->ports == PROBE_PORTS_SEQUENTIAL && !s->delta));
}

/* Step 5, third case: x predictable, y's dependent ports not. */
static bool predicted_one_way(const struct predict_side *x, const struct predict_side *y)
{
	return x->filtering != PROBE_FILTERING_APD &&
	       (x->mapping == PROBE_MAPPING_AD || y->mapping == PROBE_MAPPING_AD ||
		y->filtering != PROBE_FILTERING_APD);
}

/* Step 5, where hole punching fails. */
static struct predict port_prediction(const struct predict_side *a, const struct predict_side *b)
{
	bool sa = predict_sequential(a), sb = predict_sequential(b);

	if (pattern_unknown(a) || pattern_unknown(b))
		return (struct predict){
		    PREDICT_DEPENDS, "a dependent side's port pattern (or its step) is not known"};
	if ((sa && (keeps_endpoint(b) || sb)) || (sb && keeps_endpoint(a)))
		return (struct predict){PREDICT_WORKS,
					"sequential ports predicted: each side reaches the very "
					"mapping that sent to it (RFC 5128 3.5)"};
	if ((sa && dependent(b) && predicted_one_way(a, b)) ||
	    (sb && dependent(a) && predicted_one_way(b, a)))
		return (struct predict){PREDICT_WORKS,
					"one side's next port predicted, and the other's random "
					"ports get through its filter"};
	return (struct predict){PREDICT_FAILS,
				sa || sb ? "one side's next port predicted, but its filter "
					   "refuses the other's random ports"
					 : "no sequential ports: nothing to predict"};
}

enum predict_role predict_birthday_role(const struct predict_side *me,
					const struct predict_side *them)
{
	if (unknown(me) || unknown(them) || punches(me, them))
		return PREDICT_ROLE_PLAIN;
	if (keeps_endpoint(me) && dependent(them))
		return PREDICT_ROLE_EASY;
	if (dependent(me) && keeps_endpoint(them))
		return PREDICT_ROLE_HARD;
	return PREDICT_ROLE_PLAIN;
}

/* Step 6, where hole punching fails. */
static struct predict birthday(const struct predict_side *a, const struct predict_side *b)
{
	enum predict_role ra = predict_birthday_role(a, b);
	const struct predict_side *hard = ra == PREDICT_ROLE_EASY ? b : a;

	if (ra == PREDICT_ROLE_PLAIN)
		return (struct predict){PREDICT_FAILS,
					"both mappings dependent: two hard sides need tens of "
					"thousands of probes each, beyond the bounds"};
	if (predict_sequential(hard))
		return (struct predict){PREDICT_WORKS, "the hard side's ports are sequential: "
						       "its next ones guessed, as port prediction"};
	if (pattern_unknown(hard))
		return (struct predict){PREDICT_DEPENDS,
					"the hard side's port pattern (or its step) is not known"};
	return (struct predict){PREDICT_DEPENDS, "by chance: the birthday odds, in the record "
						 "(birthday.predicted_success)"};
}

struct predict predict_technique(enum predict_technique t, const struct predict_side *a,
				 const struct predict_side *b)
{
	bool works;

	if (t == PREDICT_RELAY)
		return (struct predict){PREDICT_WORKS, "the server carries it: works whenever it "
						       "is reachable (RFC 5128 3.1)"};
	if (t == PREDICT_TCP_SIMULTANEOUS_OPEN || t == PREDICT_TCP_PORT_PREDICTION)
		return (struct predict){
		    PREDICT_DEPENDS, "the sides' TCP classes are not exchanged yet, and UDP's do "
				     "not say what a NAT does with a SYN"};
	if (unknown(a) || unknown(b))
		return (struct predict){PREDICT_DEPENDS,
					"a side's mapping or filtering is not known"};
	if (t == PREDICT_CONNECTION_REVERSAL) {
		works = one_way(a, b, false) || one_way(b, a, false);
		return (struct predict){works ? PREDICT_WORKS : PREDICT_FAILS,
					works ? "one side's filtering is endpoint-independent, "
						"and the answer gets back"
					      : "neither side takes a packet it has not asked for "
						"(or the answer cannot get back)"};
	}
	works = punches(a, b);
	if (!works && t == PREDICT_UDP_PORT_PREDICTION)
		return port_prediction(a, b);
	if (!works && t == PREDICT_UDP_BIRTHDAY)
		return birthday(a, b);
	if (works)
		return (struct predict){PREDICT_WORKS,
					keeps_endpoint(a) && keeps_endpoint(b)
					    ? "both mappings endpoint-independent"
					    : "one side's filter takes the other's "
					      "new mapping, and the answer gets back"};
	return (struct predict){PREDICT_FAILS,
				"each side's packets leave from a mapping the other's filter does "
				"not take (RFC 5128 5: port prediction is the way left)"};
}

/*
 * Behind one public address, the public endpoints S names share it: a
 * packet to the other's goes to the NAT's own address, and reaches the
 * other only if that NAT hairpins (RFC 4787 REQ-9). This host's own
 * hairpinning test shows it; where it saw none the test may still have
 * been stopped by a filter in front of the hairpinning NAT (nested NATs:
 * the inner NAT drops a packet its host has not asked for, which a punch
 * does ask for), so no hairpinning is "depends", not "fails". Own endpoints
 * on one network reach each other directly, with no NAT between.
 */
struct predict predict_one_address(enum predict_technique t, bool private_first, bool same_lan,
				   enum probe_bool hairpin)
{
	static const struct predict_side any = {PROBE_MAPPING_UNTESTED, PROBE_FILTERING_UNTESTED,
						PROBE_PORTS_UNTESTED, 0};

	if (t == PREDICT_RELAY)
		return predict_technique(t, &any, &any);
	if ((t == PREDICT_UDP_HOLE_PUNCHING || t == PREDICT_TCP_SIMULTANEOUS_OPEN) &&
	    private_first && same_lan)
		return (struct predict){PREDICT_WORKS, "one public address, and the other's own "
						       "endpoint is on this host's network"};
	if (t == PREDICT_UDP_HOLE_PUNCHING && hairpin == PROBE_YES)
		return (struct predict){
		    PREDICT_WORKS, "one public address, and the NAT hairpins (RFC 4787 REQ-9)"};
	return (struct predict){PREDICT_DEPENDS,
				t == PREDICT_CONNECTION_REVERSAL
				    ? "one public address: reversal rests on the NAT's hairpinning "
				      "and filtering of hairpinned packets"
				    : "one public address and no hairpinning seen (a filter of a "
				      "nested NAT may hide it): works only if the NAT hairpins"};
}

int predict_reversal_passive(const struct predict_side *a, const struct predict_side *b)
{
	return a->filtering != PROBE_FILTERING_EI && b->filtering == PROBE_FILTERING_EI;
}

const char *predict_expect_name(enum predict_expect e)
{
	static const char *const names[] = {"works", "fails", "depends"};

	return (unsigned)e < 3 ? names[e] : "depends";
}

struct predict_side predict_side_from_wire(const uint8_t wire[4])
{
	struct predict_side s = {PROBE_MAPPING_INCONCLUSIVE, PROBE_FILTERING_INCONCLUSIVE,
				 PROBE_PORTS_INCONCLUSIVE, wire[3]};

	if (wire[0] <= PROBE_MAPPING_INCONCLUSIVE)
		s.mapping = (enum probe_mapping)wire[0];
	if (wire[1] <= PROBE_FILTERING_INCONCLUSIVE)
		s.filtering = (enum probe_filtering)wire[1];
	if (wire[2] <= PROBE_PORTS_INCONCLUSIVE)
		s.ports = (enum probe_ports)wire[2];
	return s;
}

/* ---- TCP (RFC 5128 3.4) ---- */

void predict_tcp_side_to_wire(const struct predict_tcp_side *s, uint8_t wire[PREDICT_TCP_WIRE_LEN])
{
	wire[0] = (uint8_t)s->base.mapping;
	wire[1] = (uint8_t)s->base.filtering;
	wire[2] = (uint8_t)s->base.ports;
	wire[3] = (uint8_t)(s->base.delta > 255 ? 0 : s->base.delta);
	wire[4] = (uint8_t)s->syn;
	wire[5] = (uint8_t)s->simopen;
	wire[6] = (uint8_t)s->icmp_kept;
	wire[7] = 0;
}

struct predict_tcp_side predict_tcp_side_from_wire(const uint8_t wire[PREDICT_TCP_WIRE_LEN])
{
	struct predict_tcp_side s = {predict_side_from_wire(wire), PROBE_SYN_INCONCLUSIVE,
				     PROBE_UNKNOWN, PROBE_UNKNOWN};

	if (wire[4] <= PROBE_SYN_INCONCLUSIVE)
		s.syn = (enum probe_syn)wire[4];
	if (wire[5] <= PROBE_YES)
		s.simopen = (enum probe_bool)wire[5];
	if (wire[6] <= PROBE_YES)
		s.icmp_kept = (enum probe_bool)wire[6];
	return s;
}

struct predict_tcp_side predict_tcp_side_of(const struct probe_tcp *t)
{
	return (struct predict_tcp_side){
	    {t->mapping, t->filtering, t->port_pattern, t->port_delta > 255 ? 0 : t->port_delta},
	    t->syn,
	    t->simopen,
	    t->icmp_kept};
}

static bool tcp_nat(const struct predict_tcp_side *s)
{
	return s->base.mapping != PROBE_MAPPING_NONE;
}

/* A SYN this side's NAT did not ask for goes unanswered: dropped, or let
 * through to the host (no NAT, or a firewall that passes it). */
static bool quiet(const struct predict_tcp_side *s)
{
	return !tcp_nat(s) || s->syn == PROBE_SYN_DROP || s->syn == PROBE_SYN_PASS;
}

/* x's NAT takes y's SYN (step 2), and x's host answers it on a session
 * the NAT translates from the endpoint the SYN came to: always, when the
 * SYN comes from a new mapping of y's (x's listener takes it, and the
 * answer goes back through the session it came in by); when it comes from
 * the endpoint x itself connects to, x's host answers it as a simultaneous
 * open on x's own outgoing connection, whose endpoint is the one the SYN
 * came to only if x's mapping keeps it. */
static bool syn_enters(const struct predict_side *x, const struct predict_side *y)
{
	return enters(x, y, true) && (!keeps_endpoint(y) || keeps_endpoint(x));
}

static bool tcp_known(const struct predict_tcp_side *s)
{
	if (unknown(&s->base))
		return false;
	if (!tcp_nat(s))
		return true;
	return s->syn != PROBE_SYN_UNTESTED && s->syn != PROBE_SYN_INCONCLUSIVE &&
	       (s->simopen == PROBE_YES || s->simopen == PROBE_NO);
}

/*
 * 8. Connection reversal over TCP (RFC 5128 3.2): the side whose NAT takes
 *    a SYN it did not ask for only listens (predict_reversal_passive, on
 *    the TCP classes); the other connects to its registered endpoint. Its
 *    listener takes the SYN and the answer goes back through the session
 *    the SYN came in by: it works exactly when a side's TCP filtering is
 *    endpoint-independent (or it has no NAT).
 */
static struct predict tcp_reversal(const struct predict_tcp_side *a,
				   const struct predict_tcp_side *b)
{
	bool works;

	if (unknown(&a->base) || unknown(&b->base))
		return (struct predict){PREDICT_DEPENDS, "a side's TCP mapping or filtering is not "
							 "known"};
	works = enters(&a->base, &b->base, false) || enters(&b->base, &a->base, false);
	return (struct predict){works ? PREDICT_WORKS : PREDICT_FAILS,
				works ? "one side's NAT takes a SYN it did not ask for, and the "
					"answer goes back on that connection"
				      : "neither side's NAT takes a SYN it did not ask for"};
}

/*
 * 9. TCP port prediction (RFC 5128 3.6). A side Y whose TCP mapping is
 *    dependent and sequential (predict_sequential) is connected to at its
 *    next ports P+d ... P+Wd first, then at R_Y; toward any other side the
 *    candidates are R alone and it is rule 7. With guesses in play rule 7's
 *    reasoning no longer holds: a SYN from Y's new mapping P+d now meets a
 *    connect of X's toward P+d, so X's host answers it on that connection,
 *    through X's mapping toward P+d, not from the endpoint it came to (the
 *    simulated grid showed rule 7's "works" fail that way). So, with Y
 *    predictable:
 *    - X keeps its endpoint: Y's one SYN, from P+d to R_X, and X's, from
 *      R_X to P+d, are one connection crossing: every filter takes it;
 *    - X predictable too: the k-th mappings' SYNs cross, as step 5's;
 *    - X dependent, its ports not predicted: X's SYN from a new mapping
 *      reaches P+d, whose session sent to R_X only; Y's filter must take
 *      another port of X's address (not address-and-port-dependent), and
 *      then Y's listener takes it (Y connects to R_X only) and answers on
 *      the session it came by, exactly where X's connect waits.
 *    Then the rest of rule 7 (SYNs crossing, RSTs, the opening TTL) decides
 *    as for simultaneous open. A SYN to a guessed port that is not the
 *    other's next mapping is unsolicited there: dropped or refused, which
 *    ends only that connect.
 */
static bool tcp_guessed_path(const struct predict_side *a, const struct predict_side *b)
{
	const struct predict_side *y = predict_sequential(a) ? a : b, *x = y == a ? b : a;

	return keeps_endpoint(x) || predict_sequential(x) || y->filtering != PROBE_FILTERING_APD;
}

/*
 * 7. TCP simultaneous open (RFC 5128 3.4). Each side connects from its
 *    registered port to the other's public endpoint, a listener on the same
 *    port. The SYNs are step 2's packets: one of them must leave from a
 *    mapping the other's filter takes (enters(), on the TCP classes), and
 *    be answered from the endpoint it came to (syn_enters()). Unlike UDP's
 *    answer, a SYN-ACK needs no rule of its own when the SYN came from a
 *    new mapping: the listener takes it and the NAT translates its answer
 *    back through the session the SYN came in by. But a SYN from the very
 *    endpoint the host connects to meets the host's own connect, and the
 *    answer leaves through that connection's mapping: a dependent one
 *    answers from another port (the simulated NATs showed both). Two more
 *    things decide it. A SYN that reaches a NAT before its own
 *    host's SYN has left is unsolicited: a NAT that answers it with a RST
 *    or an ICMP error ends the early side's connect, and Linux's conntrack
 *    then refuses the retry too (measured: two masquerades, 100 ms apart,
 *    0 of 3). The opening TTL prevents that: the first SYN dies between
 *    the NATs and the kernel's next, a second later, finds both open; but
 *    its time exceeded comes back through this side's NAT, and a NAT that
 *    ends a connection on an ICMP error (RFC 5382 REQ-10) loses the very
 *    mapping the SYN opened. And when both SYNs are out, each NAT sees a
 *    SYN cross its own outgoing one: a NAT that does not let it through
 *    (REQ-2) leaves the connection to whichever SYN the other NAT took,
 *    and may reset the one it drops. So: fails where the SYNs cannot get
 *    through the filters; works where they can, both NATs let SYNs cross,
 *    and no unsolicited SYN can end a connect (the opening TTL, on NATs
 *    that keep connections through ICMP errors; or NATs that answer no
 *    SYN); depends otherwise: a race the start's skew decides.
 */
struct predict predict_tcp_technique(enum predict_technique t, const struct predict_tcp_side *a,
				     const struct predict_tcp_side *b, bool low_ttl)
{
	bool icmp_safe = (!tcp_nat(a) || a->icmp_kept == PROBE_YES) &&
			 (!tcp_nat(b) || b->icmp_kept == PROBE_YES);

	if (t == PREDICT_CONNECTION_REVERSAL)
		return tcp_reversal(a, b);
	if (t != PREDICT_TCP_SIMULTANEOUS_OPEN && t != PREDICT_TCP_PORT_PREDICTION)
		return predict_technique(t, &a->base, &b->base);
	if (!tcp_known(a) || !tcp_known(b))
		return (struct predict){PREDICT_DEPENDS,
					"a side's TCP class is not known (mapping, filtering, "
					"unsolicited SYN, simultaneous open)"};
	if (t == PREDICT_TCP_PORT_PREDICTION &&
	    (predict_sequential(&a->base) || predict_sequential(&b->base))) {
		if (!tcp_guessed_path(&a->base, &b->base))
			return (struct predict){
			    PREDICT_FAILS,
			    "the predicted side's filter takes only the endpoint its "
			    "new mapping sent to, and the other's ports are not "
			    "predicted"};
	} else if (!syn_enters(&a->base, &b->base) && !syn_enters(&b->base, &a->base)) {
		return (struct predict){
		    PREDICT_FAILS,
		    t == PREDICT_TCP_PORT_PREDICTION
			? "no sequential ports to predict, and each side's SYN leaves from a "
			  "mapping the other's filter does not take"
			: "each side's SYN leaves from a mapping the other's filter does not take "
			  "(RFC 5128 3.6: port prediction is the way left)"};
	}
	if ((tcp_nat(a) && a->simopen != PROBE_YES) || (tcp_nat(b) && b->simopen != PROBE_YES))
		return (struct predict){PREDICT_DEPENDS,
					"a NAT does not let a SYN cross its own (RFC 5382 REQ-2): "
					"the connection rests on which SYN gets through first"};
	if (quiet(a) && quiet(b))
		return (struct predict){
		    PREDICT_WORKS, "the SYNs get through both filters, both NATs let them cross, "
				   "and neither answers a SYN it did not ask for"};
	if (low_ttl && icmp_safe)
		return (struct predict){
		    PREDICT_WORKS, "the SYNs get through both filters and both NATs let them "
				   "cross; the first SYN dies between the NATs, so none draws a "
				   "RST, and its time exceeded ends nothing"};
	if (!low_ttl)
		return (struct predict){
		    PREDICT_DEPENDS, "no opening TTL, and a NAT that answers a SYN it did not ask "
				     "for: a race the start's skew decides"};
	return (struct predict){PREDICT_DEPENDS,
				(tcp_nat(a) && a->icmp_kept == PROBE_UNKNOWN) ||
					(tcp_nat(b) && b->icmp_kept == PROBE_UNKNOWN)
				    ? "whether a NAT keeps a connection through an ICMP error (RFC "
				      "5382 REQ-10) is not known: the opening SYN's time exceeded "
				      "comes back through it"
				    : "the opening SYN's time exceeded comes back through a NAT "
				      "that ends connections on ICMP errors (RFC 5382 REQ-10)"};
}
