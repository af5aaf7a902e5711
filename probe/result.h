/*
 * natprobe's typed result: what the tests found, with the evidence. The
 * tests fill it; the writers (report.c: text and JSON) turn it into what
 * users read, with the words of INTERFACE.md.
 */
#ifndef NATLAB_PROBE_RESULT_H
#define NATLAB_PROBE_RESULT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "probe/depth.h"
#include "probe/keepalive.h"
#include "probe/portmap.h"

/* A verdict not reached: untested (the test did not run) or inconclusive. */
enum probe_mapping {
	PROBE_MAPPING_UNTESTED = 0,
	PROBE_MAPPING_NONE, /* no NAT */
	PROBE_MAPPING_EI,
	PROBE_MAPPING_AD,
	PROBE_MAPPING_APD,
	PROBE_MAPPING_INCONCLUSIVE,
};

enum probe_filtering {
	PROBE_FILTERING_UNTESTED = 0,
	PROBE_FILTERING_EI,
	PROBE_FILTERING_AD,
	PROBE_FILTERING_APD,
	PROBE_FILTERING_INCONCLUSIVE,
};

enum probe_ports {
	PROBE_PORTS_UNTESTED = 0,
	PROBE_PORTS_PRESERVING,
	PROBE_PORTS_SEQUENTIAL,
	PROBE_PORTS_RANDOM,
	PROBE_PORTS_INCONCLUSIVE,
};

/* One socket toward the reflector's four endpoints in turn (RFC 4787 4.2.1). */
enum probe_dest_ports {
	PROBE_DEST_UNTESTED = 0,
	PROBE_DEST_SAME, /* one public port for every destination */
	PROBE_DEST_SEQUENTIAL,
	PROBE_DEST_RANDOM,
	PROBE_DEST_INCONCLUSIVE,
};

#define PROBE_PORT_SAMPLES 16
#define PROBE_PORT_PAIRS   4
#define PROBE_POOL_MAX     4

/* Address pooling (RFC 4787 4.1): from one host only "arbitrary" can be seen. */
enum probe_pooling {
	PROBE_POOLING_UNTESTED = 0,
	PROBE_POOLING_PAIRED,
	PROBE_POOLING_ARBITRARY,
	PROBE_POOLING_SINGLE,
	PROBE_POOLING_INCONCLUSIVE,
};

enum probe_bool {
	PROBE_UNKNOWN = 0, /* untested or inconclusive: JSON null */
	PROBE_NO,
	PROBE_YES,
};

#define PROBE_REASON_LEN         160
#define PROBE_MAX_CONTRADICTIONS 8

/* One kind of flow's binding lifetime: alive after lo_s idle, dead after hi_s
 * (hi_s < 0: still alive after the longest trial). */
struct probe_lifetime {
	bool known;
	double lo_s, hi_s;
};

#define PROBE_TCP_PORT_SAMPLES 12

/* RFC 5382 REQ-4, section 7.1: what answers an unsolicited inbound SYN. */
enum probe_syn {
	PROBE_SYN_UNTESTED = 0,
	PROBE_SYN_DROP, /* nothing, asked as often as the loss requires */
	PROBE_SYN_RST,  /* a RST from the NAT */
	PROBE_SYN_ICMP, /* an ICMP error from the NAT */
	PROBE_SYN_PASS, /* it reached the host: its SYN-ACK, or its own RST or ICMP */
	PROBE_SYN_INCONCLUSIVE,
};

#define PROBE_TCP_LIFETIME_CHECKS 14 /* 2, 4, ... 4096 s and the maximum */

/* RFC 5382 REQ-4's hold: what met the reflector's SYN to a mapping, which
 * our own SYN followed 2 s later. */
enum probe_hold {
	PROBE_HOLD_UNTESTED = 0,
	PROBE_HOLD_HELD, /* no answer, and our SYN made the connection */
	PROBE_HOLD_RST,  /* the NAT's RST */
	PROBE_HOLD_ICMP, /* the NAT's ICMP error */
	PROBE_HOLD_PASS, /* it reached the host (the filter let it in): nothing held */
	PROBE_HOLD_INCONCLUSIVE,
};

/* One SYN the reflector sent on our order, and what came back (the last of
 * `tries`; only "nothing" is asked again). */
struct probe_tcp_seen {
	bool asked;
	unsigned outcome; /* enum probe_seen (engine.h): nothing, syn-ack, rst, icmp */
	enum probe_syn fate;
	uint8_t ttl, icmp_type, icmp_code;
	double ms;
	unsigned tries;
	uint16_t port; /* the port of ours it went to */
	struct sockaddr_storage from;
};

/* One of REQ-5's timeouts: idle checks, each on its own connection;
 * alive_s, dead_s the bracket (< 0: none). */
struct probe_tcp_idle {
	bool tested;
	unsigned max_s, nchecks;
	unsigned checks[PROBE_TCP_LIFETIME_CHECKS];
	uint8_t fates[PROBE_TCP_LIFETIME_CHECKS]; /* 1 alive, 2 dead, 3 not known */
	double alive_s, dead_s;
	char reason[PROBE_REASON_LEN];
};

/* TCP (RFC 5382), over connections to the reflector's TCP endpoints, in
 * RFC 4787's terms as REQ-1 and section 4 borrow them. */
struct probe_tcp {
	/* Mapping: one local port, a connection to each role held at once. */
	enum probe_mapping mapping;
	struct sockaddr_storage local, mapped;   /* the port's, and PP's answer */
	struct sockaddr_storage mapping_seen[4]; /* by role; family 0: no answer */
	char mapping_reason[PROBE_REASON_LEN];
	/* Port allocation: fresh connections to PP, one after the other. */
	enum probe_ports port_pattern;
	unsigned port_delta;
	double port_predictability;
	enum probe_bool port_parity;
	uint16_t port_samples[PROBE_TCP_PORT_SAMPLES], port_locals[PROBE_TCP_PORT_SAMPLES];
	unsigned port_nsamples;
	char port_reason[PROBE_REASON_LEN];
	/* The TTL our own host's packets reach the reflector with (0: unknown):
	 * a RST or ICMP error with another TTL came from the NAT, or before it. */
	uint8_t baseline_ttl;
	/* Filtering (REQ-3): SYNs ordered from the reflector's other port (PA)
	 * and other address (AA) to a live mapping with a listener behind it. */
	enum probe_filtering filtering;
	struct probe_tcp_seen filtering_seen[2]; /* PA, AA */
	char filtering_reason[PROBE_REASON_LEN];
	/* Unsolicited SYNs (REQ-4): to that mapping from AA, which it never
	 * contacted (filtering_seen[1]), and to an unused port of its address. */
	enum probe_syn syn_mapped, syn;
	struct probe_tcp_seen syn_seen[2]; /* the unused ports tried */
	char syn_mapped_reason[PROBE_REASON_LEN], syn_reason[PROBE_REASON_LEN];
	/* Simultaneous open (REQ-2): our connect() to a silent port X crossed by
	 * the reflector's own from X; up to 3 trials. */
	bool simopen_tested;
	enum probe_bool simopen;
	unsigned simopen_trials;
	unsigned simopen_answer; /* the last RESULT's outcome (enum probe_seen) */
	uint8_t simopen_ttl;
	double simopen_ms;
	struct sockaddr_storage simopen_seen_syn, simopen_x;
	char simopen_reason[PROBE_REASON_LEN];
	/* Hairpinning (REQ-8): two local ports, each with a listener and its
	 * mapping, connecting to each other's public endpoint at once. */
	bool hairpin_tested;
	enum probe_bool hairpinning;
	char hairpin_source[16]; /* external, internal, other */
	struct sockaddr_storage hairpin_mapped[2], hairpin_local[2], hairpin_seen;
	unsigned hairpin_rounds;
	char hairpin_reason[PROBE_REASON_LEN];
	/* The same between this host and the second (--peer); hairpinning joins
	 * the two as UDP's does (hairpin_host: this host's pairs alone). */
	enum probe_bool hairpin_host;
	char hairpin_host_source[16];
	bool hairpin_peer_tested;
	enum probe_bool hairpin_peer;
	char hairpin_peer_source[16];
	struct sockaddr_storage hairpin_peer_seen;
	unsigned hairpin_peer_rounds;
	char hairpin_peer_reason[PROBE_REASON_LEN];
	/* A payload rewrite on the way (REQ-6's ALGs): tcp-mapping's answers'
	 * plain MAPPED-ADDRESS against XOR-MAPPED-ADDRESS; one that differs. */
	enum probe_bool alg;
	struct sockaddr_storage alg_plain, alg_xor;
	char alg_reason[PROBE_REASON_LEN];
	/* Port overloading (REQ-7, tcp-overloading, with --peer): connections
	 * from one port here (to PP), on the second host (to AA), here again
	 * (to AA), and the public endpoint each was given. */
	bool overload_tested;
	enum probe_bool overloading;
	struct sockaddr_storage overload_here, overload_peer, overload_after;
	char overload_reason[PROBE_REASON_LEN];
	/* ICMP errors (REQ-9: host unreachable for our SYN to a silent port,
	 * translated back; REQ-10: port unreachable and time exceeded about
	 * live connections, which must stay). */
	bool icmp_tested;
	enum probe_bool icmp_translated, icmp_kept;
	double icmp_translated_ms; /* from our SYN to the error */
	unsigned icmp_copies, icmp_trials, icmp_victims, icmp_victims_kept;
	struct sockaddr_storage icmp_x;
	char icmp_reason[PROBE_REASON_LEN]; /* untested: why */
	char icmp_translated_reason[PROBE_REASON_LEN], icmp_kept_reason[PROBE_REASON_LEN];
	/* REQ-4's hold (tcp-syn-hold, opt-in): the reflector's SYN to a mapping,
	 * then ours from its port 2 s later. */
	enum probe_hold hold;
	double hold_ms; /* the answer's time from the reflector's SYN (held: the connection's) */
	uint8_t hold_ttl;
	struct sockaddr_storage hold_x;
	char hold_reason[PROBE_REASON_LEN];
	/* REQ-5's timeouts (tcp-lifetime, opt-in): established connections
	 * idle, and half-closed ones (transitory). */
	struct probe_tcp_idle established, transitory;
	uint64_t duration_us; /* from the first TCP test's start to the last answer */
};

struct probe_result {
	uint64_t duration_us;
	struct sockaddr_storage primary, alternate; /* alternate: family 0 when unknown */
	unsigned sends, answers;                    /* every transmission, every valid answer */

	/* NAT presence: the first answer's mapped address against the local one. */
	enum probe_bool nat;
	struct sockaddr_storage local, mapped; /* family 0 when unknown */
	char nat_reason[PROBE_REASON_LEN];

	/* Mapping (RFC 5780 4.3): one socket to all four roles, the mapped address each saw. */
	enum probe_mapping mapping;
	struct sockaddr_storage mapping_seen[4]; /* by role; family 0: no answer */
	char mapping_reason[PROBE_REASON_LEN];

	/* Filtering (RFC 5780 4.4): answers asked from the other address, and the other port. */
	enum probe_filtering filtering;
	enum probe_bool filtering_other_address, filtering_other_port; /* did they come in */
	unsigned filtering_attempts; /* transmissions behind a "no answer" */
	char filtering_reason[PROBE_REASON_LEN];

	/* Port allocation (RFC 4787 4.2): fresh sockets, their mapped ports in order. */
	enum probe_ports port_pattern;
	unsigned port_delta; /* sequential: the step */
	enum probe_bool port_parity;
	double port_predictability; /* the share of steps equal to the delta */
	uint16_t port_samples[PROBE_PORT_SAMPLES];
	uint16_t port_locals[PROBE_PORT_SAMPLES]; /* each socket's own port */
	unsigned port_nsamples;
	char port_reason[PROBE_REASON_LEN];
	/* One socket, the four endpoints in turn: its mapped ports in that order. */
	enum probe_dest_ports dest_pattern;
	unsigned dest_delta;
	double dest_predictability;
	uint16_t dest_samples[4];
	unsigned dest_nsamples;
	char dest_reason[PROBE_REASON_LEN];
	/* Contiguity (RFC 4787 4.2.3): sockets on local ports N and N+1, N even,
	 * asked one after the other; kept when the second's public endpoint is
	 * the first's address and port + 1. Family 0: no answer. */
	enum probe_bool contiguity;
	bool contiguity_tested;
	struct sockaddr_storage pair_local[PROBE_PORT_PAIRS];
	struct sockaddr_storage pair_mapped[PROBE_PORT_PAIRS][2];
	unsigned npairs;
	char contiguity_reason[PROBE_REASON_LEN];

	/* Pooling, from the same sockets: the public addresses they were given. */
	enum probe_pooling pooling;
	struct sockaddr_storage pool[PROBE_POOL_MAX], pool_peer[PROBE_POOL_MAX];
	unsigned npool, npool_peer;
	char pooling_reason[PROBE_REASON_LEN];
	/* Inconclusive by design: one public address seen, from this host
	 * alone or from both hosts; a single address and paired pooling look
	 * alike then, however well the packets came through. */
	bool pooling_by_design;

	/* Port overloading (RFC 4787 4.2.1, REQ-3): the second host's socket on
	 * this one's port, toward another endpoint, given this one's public
	 * endpoint? And this socket, toward that endpoint afterwards. */
	bool overload_tested;
	enum probe_bool overloading;
	struct sockaddr_storage overload_here, overload_peer, overload_after;
	char overload_reason[PROBE_REASON_LEN];

	/* Binding lifetime (RFC 4787 4.3, REQ-5, REQ-6), with --lifetime. */
	bool lifetime_tested;
	unsigned lifetime_max_s;
	struct probe_lifetime lifetime_outbound, lifetime_bidirectional;
	enum probe_bool inbound_refresh;
	char lifetime_reason[PROBE_REASON_LEN];
	/* The longest idle time every kind of flow outlived (the lesser lo_s);
	 * -1 when either kind is not known. */
	double binding_lifetime_s;

	/* Hairpinning (RFC 4787 6): two sockets to each other's mapped address,
	 * on this host and between hosts; hairpinning joins the two. */
	bool hairpin_tested;
	enum probe_bool hairpinning;
	char hairpin_source[16]; /* external (REQ-9), internal, other */
	char hairpin_reason[PROBE_REASON_LEN];
	enum probe_bool hairpin_host;
	char hairpin_host_source[16];
	bool hairpin_peer_tested;
	enum probe_bool hairpin_peer;
	char hairpin_peer_source[16];
	char hairpin_peer_reason[PROBE_REASON_LEN];

	/* TCP: written when a TCP test ran (tcp_tested). */
	bool tcp_tested;
	struct probe_tcp tcp;

	/* NAT depth and CGN (t_depth.c): the verdicts and what they read. */
	bool depth_tested;
	struct depth_verdict depth;
	struct depth_obs depth_obs; /* depth_obs.sweep points at depth_sweep */
	struct hops_sweep depth_sweep;

	/* The hop-k keepalive test (t_keepalive.c, --keepalive): the hop, or -1
	 * with the reason; the sweep's router at that hop when it was seen. */
	bool keepalive_tested;
	struct keepalive_obs keepalive_obs;
	struct keepalive_verdict keepalive;
	char keepalive_reason[PROBE_REASON_LEN];
	struct sockaddr_storage keepalive_router;
	bool keepalive_no_nat; /* the reflector saw this host's own address */

	/* The port-mapping protocols (t_portmap.c; the driver ran them). */
	bool portmap_tested;
	struct portmap_report portmap;

	/* Verdicts that contradicted each other, each pair made inconclusive
	 * (probe_result_reconcile): what they said, for people to look into. */
	char contradiction[PROBE_MAX_CONTRADICTIONS][PROBE_REASON_LEN];
	unsigned ncontradictions;
};

/*
 * Check the whole result before it is written: where two verdicts cannot
 * both be true (no NAT beside a dependent mapping, a pool of the host's own
 * addresses...), neither is justified by the packets taken together, so
 * both become inconclusive, with the contradiction as the reason and in
 * contradiction[]. Idempotent.
 */
void probe_result_reconcile(struct probe_result *r);

/*
 * natprobe's exit status rule: the verdicts of the tests that ran which are
 * inconclusive and count (1), by the names of the record's keys. Not
 * counted: a verdict that does not apply (hairpinning, pooling, overloading
 * and lifetimes without a NAT), and one the method cannot reach by design
 * (pooling when one public address was seen: pooling_by_design). Writes at most
 * max names; returns how many there are.
 */
size_t probe_result_open(const struct probe_result *r, const char **names, size_t max);

const char *probe_mapping_name(enum probe_mapping m);
const char *probe_filtering_name(enum probe_filtering f);
const char *probe_ports_name(enum probe_ports p);
const char *probe_pooling_name(enum probe_pooling p);
const char *probe_syn_name(enum probe_syn s);
const char *probe_hold_name(enum probe_hold h);
const char *probe_dest_ports_name(enum probe_dest_ports p);
/* RFC 3489's names, derived from mapping and filtering. */
const char *probe_legacy_type(const struct probe_result *r);

#endif
