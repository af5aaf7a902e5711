/*
 * The deciders UDP and TCP share: pure functions over what the answers said,
 * so that one rule gives both protocols' verdicts (RFC 4787 for UDP, RFC
 * 5382 REQ-1 and section 4 for TCP, which borrow its terms).
 */
#ifndef NATLAB_PROBE_DECIDE_H
#define NATLAB_PROBE_DECIDE_H

#include <sys/socket.h>

#include "probe/engine.h"

/*
 * Mapping (RFC 4787 4.1, RFC 5780 4.3) from one internal endpoint's four
 * mapped addresses, by role (PP, PA, AP, AA): every answer must agree with
 * the verdict. *why says why when inconclusive.
 */
enum probe_mapping probe_decide_mapping(const struct sockaddr_storage seen[4],
					const struct sockaddr_storage *local, const char **why);

/* Port allocation from n fresh endpoints' local and mapped ports (see
 * t_ports.c): the pattern, with its delta, predictability and parity. */
struct probe_port_pattern {
	enum probe_ports pattern;
	unsigned delta;
	double predictability;
	enum probe_bool parity;
};
void probe_decide_ports(const uint16_t *local, const uint16_t *mapped, int n,
			struct probe_port_pattern *out, const char **why);

/* Steps between successive new ports: sequential (sets *delta), random or
 * inconclusive; *predictability is the share of steps equal to the delta. */
enum probe_ports probe_step_pattern(const unsigned *steps, int n, unsigned *delta,
				    double *predictability);

/*
 * What became of a SYN the reflector sent toward us, from what it saw come
 * back (an order's observation) and the baseline TTL (what our own host's
 * packets arrive with, 0: unknown). A SYN-ACK, or a RST or ICMP error at the
 * baseline TTL, came from this host: the SYN passed the NAT (PASS). A RST or
 * ICMP error at another TTL came from the NAT or a box before this host
 * (RST, ICMP). Nothing: DROP, for the caller to ask again. INCONCLUSIVE: a
 * RST or ICMP error with no baseline to tell whose it was.
 */
enum probe_syn probe_decide_syn(const struct probe_observation *o, uint8_t baseline);

/*
 * TCP filtering (RFC 5382 REQ-3, in RFC 4787 5's terms) from the fates of
 * the SYNs from the reflector's other port (pa) and other address (aa),
 * each settled (DROP only when its silence was trusted).
 */
enum probe_filtering probe_decide_tcp_filtering(enum probe_syn pa, enum probe_syn aa,
						const char **why);

/* One simultaneous-open trial, from what both ends saw. */
enum probe_simopen_trial {
	PROBE_TRIAL_CONNECTED, /* the SYNs crossed (the reflector's drew our SYN-ACK), and
				  our connection carried a Binding both ways */
	PROBE_TRIAL_REFUSED,   /* the NAT answered the reflector's SYN itself (RST, ICMP) */
	PROBE_TRIAL_NOTHING,   /* the reflector's SYN drew nothing back (a connection made
				  later from our resent SYN does not count) */
	PROBE_TRIAL_UNKNOWN,   /* no proof either way (our SYN never seen, a host's answer) */
};

/* result: the reflector's RESULT (NULL: none came); baseline: our host's TTL there. */
enum probe_simopen_trial probe_decide_simopen_trial(bool connected,
						    const struct probe_observation *result,
						    uint8_t baseline);

/* Port overloading (RFC 4787 REQ-3, RFC 5382 REQ-7): the public endpoint a
 * port here was given toward PP, and the one the second host's socket on the
 * same port was given toward AA (family 0: no answer); local: the port's
 * own address. YES when they are one; unknown (why) without both, or
 * without NAT. */
enum probe_bool probe_decide_overloading(const struct sockaddr_storage *here,
					 const struct sockaddr_storage *peer,
					 const struct sockaddr_storage *local, const char **why);

/* Hairpinning on this host and between two hosts (--peer) joined: the
 * one that is known when the other is not; disagreeing, unknown (why). */
enum probe_bool probe_decide_hairpin_join(bool peer_tested, enum probe_bool host,
					  enum probe_bool peer, const char **why);

/* A payload rewrite on the way (RFC 5382 REQ-6's ALGs, RFC 5389 15.2): over
 * n answers, each's XOR-MAPPED-ADDRESS against its plain MAPPED-ADDRESS
 * (family 0: the answer had none). YES when one differs (*which: its
 * index), NO when every answer had both and all agree, else unknown. */
enum probe_bool probe_decide_alg(const struct sockaddr_storage * xor,
				 const struct sockaddr_storage *plain, unsigned n, unsigned *which,
				 const char **why);

/* TCP hairpinning (RFC 5382 REQ-8), from what one attempt saw. */
struct probe_tcp_hairpin_seen {
	bool behind_nat; /* the two connections' mapped addresses are not their own */
	bool connected;  /* a hairpinned connection formed (or a listener took one) */
	bool answered;   /* every attempt was answered (RST, ICMP): no loss can fake that */
	bool trusted;    /* unanswered attempts were repeated as the loss requires */
	enum probe_mapping mapping;
	enum probe_filtering filtering;
	enum probe_bool simopen;
};
enum probe_bool probe_decide_tcp_hairpin(const struct probe_tcp_hairpin_seen *s, const char **why);

#endif
