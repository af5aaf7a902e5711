/*
 * What a traversal technique should do between two probes, from the two
 * NATs' classifications: natlab says it before it measures, and reports
 * every measured result that contradicts it (predict.c has the rules and
 * their reasoning).
 */
#ifndef NATLAB_PROBE_PREDICT_H
#define NATLAB_PROBE_PREDICT_H

#include "probe/result.h"

enum predict_expect {
	PREDICT_WORKS,
	PREDICT_FAILS,
	PREDICT_DEPENDS, /* on what the classification cannot say; the reason says what */
};

/* One side as the rules read it: its NAT's UDP mapping and filtering
 * (PROBE_MAPPING_NONE: no NAT; its filtering is then the host's firewall's),
 * and for port prediction and birthday punching its port pattern and, when
 * sequential, the step (0: not known). */
struct predict_side {
	enum probe_mapping mapping;
	enum probe_filtering filtering;
	enum probe_ports ports;
	unsigned delta;
};

/*
 * A side as the other probe sent it at the rendezvous: four bytes, mapping,
 * filtering, port pattern (the enums' values) and delta. A value this build
 * does not know reads as inconclusive, so the rules say "depends" rather
 * than judge from a behaviour nobody measured.
 */
struct predict_side predict_side_from_wire(const uint8_t wire[4]);

/* One side for the TCP rules: its NAT's TCP mapping, filtering, port
 * pattern and step (RFC 5382 in RFC 4787's terms), what it does with a SYN
 * it did not ask for, whether it lets a SYN cross its own outgoing one
 * (simultaneous open, REQ-2), and whether a connection outlives an ICMP
 * error about it (REQ-10). */
struct predict_tcp_side {
	struct predict_side base;
	enum probe_syn syn;
	enum probe_bool simopen, icmp_kept;
};

#define PREDICT_TCP_WIRE_LEN 8
/* NATLAB-TCP-CLASS's eight bytes: mapping, filtering, port pattern, delta,
 * unsolicited SYN, simultaneous open, ICMP kept, 0; unknown values read
 * as inconclusive. */
void predict_tcp_side_to_wire(const struct predict_tcp_side *s, uint8_t wire[PREDICT_TCP_WIRE_LEN]);
struct predict_tcp_side predict_tcp_side_from_wire(const uint8_t wire[PREDICT_TCP_WIRE_LEN]);
/* This host's TCP side from its classification. */
struct predict_tcp_side predict_tcp_side_of(const struct probe_tcp *t);

enum predict_technique {
	PREDICT_RELAY,
	PREDICT_CONNECTION_REVERSAL,
	PREDICT_UDP_HOLE_PUNCHING,
	PREDICT_UDP_PORT_PREDICTION,   /* RFC 5128 3.5 */
	PREDICT_UDP_BIRTHDAY,          /* many sockets against many guessed ports */
	PREDICT_TCP_SIMULTANEOUS_OPEN, /* RFC 5128 3.4 */
	PREDICT_TCP_PORT_PREDICTION,   /* RFC 5128 3.6: 3.4 with the next ports */
	PREDICT_PORT_MAPPING,          /* a mapping asked of a gateway (UPnP, NAT-PMP, PCP) */
};

/* Who does what in birthday punching (predict.c says why). */
enum predict_role {
	PREDICT_ROLE_PLAIN, /* hole punching: nothing to gain, or nothing within the bounds */
	PREDICT_ROLE_EASY,  /* endpoint-independent mapping: sends to guessed ports of the other */
	PREDICT_ROLE_HARD,  /* dependent mapping: opens many sockets toward the easy side */
};

struct predict {
	enum predict_expect expect;
	const char *reason; /* static text */
};

/* Two probes behind two different NATs (RFC 5128 3.3.1), each with one
 * public address. */
struct predict predict_technique(enum predict_technique t, const struct predict_side *a,
				 const struct predict_side *b);
/* The same for a TCP technique from the TCP sides; low_ttl: the first SYN
 * goes at the opening TTL (it dies between the NATs). */
struct predict predict_tcp_technique(enum predict_technique t, const struct predict_tcp_side *a,
				     const struct predict_tcp_side *b, bool low_ttl);
/* Two probes behind one public address: one NAT, or nested NATs behind
 * one outer NAT (RFC 5128 3.3.2, 3.3.3). What this side knows: whether the
 * other's own endpoints are on one of this host's networks (same_lan), and
 * whether its NAT hairpinned this host's own packets. private_first: the
 * technique tries the other's own endpoints before its public one. */
struct predict predict_one_address(enum predict_technique t, bool private_first, bool same_lan,
				   enum probe_bool hairpin);
/* Connection reversal: which side waits (1: b, 0: a): the one whose filter
 * takes a packet it has not asked for, a when neither does. */
int predict_reversal_passive(const struct predict_side *a, const struct predict_side *b);
const char *predict_expect_name(enum predict_expect e);

/* Port prediction: the other side's next ports can be named (a dependent
 * mapping that allocates in sequence, with a known step). */
bool predict_sequential(const struct predict_side *s);
/* Birthday punching: this side's part, from both classifications (the
 * other side, with the arguments swapped, gets the complement). */
enum predict_role predict_birthday_role(const struct predict_side *me,
					const struct predict_side *them);

/*
 * The port-mapping technique (predictpm.c has the rule): what a side's
 * gateway granted for its trial socket, as NATLAB-PORTMAP carries it
 * (reflector/PROTOCOL.md).
 */
struct predict_portmap {
	bool known;      /* the side asked (a probe that says nothing: unknown) */
	bool granted;    /* its gateway granted a mapping */
	bool public_ext; /* at the address the reflector sees for it */
	int depth;       /* its nat_depth; -1 unknown */
	bool cgn;        /* a CGN seen on its path (its cgn verdict true) */
	uint8_t proto;   /* 0 none, 1 UPnP IGD, 2 NAT-PMP, 3 PCP */
	uint16_t port;   /* the external port granted */
};
#define PREDICT_PORTMAP_WIRE_LEN 8
void predict_portmap_to_wire(const struct predict_portmap *p, uint8_t w[PREDICT_PORTMAP_WIRE_LEN]);
struct predict_portmap predict_portmap_from_wire(const uint8_t w[PREDICT_PORTMAP_WIRE_LEN]);
/* A side the other can reach through its mapping: granted, at the public
 * address, by a gateway that is the only NAT (depth 1, no CGN seen). */
bool predict_portmap_usable(const struct predict_portmap *p);
struct predict predict_port_mapping(const struct predict_portmap *a,
				    const struct predict_portmap *b);
/* Which side waits for the other's packet: 0 a, 1 b, -1 neither (no
 * mapping on either side). A usable mapping before a granted one, a
 * granted one before none; a tie to a (the caller orders the sides). */
int predict_portmap_passive(const struct predict_portmap *a, const struct predict_portmap *b);

#endif
