/*
 * What comes back after a natlab test, read from captured frames: pure
 * parsing of a frame (Linux "any" capture, Ethernet or raw IP) into the few
 * facts a test needs, and the match of those facts against a test in
 * flight. IPv4 only. No libpcap here: probes.c captures, the unit tests and
 * the fuzzer feed bytes.
 */
#ifndef NATLAB_REFLECTOR_CAPTURE_H
#define NATLAB_REFLECTOR_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include "reflector/natlabtest.h"

/* libpcap's link types (pcap/dlt.h) that a capture may give. */
#define REFL_LINK_EN10MB 1
#define REFL_LINK_RAW    12
#define REFL_LINK_IPV4   228
#define REFL_LINK_SLL    113
#define REFL_LINK_SLL2   276

#define REFL_TCP_SYN 0x02
#define REFL_TCP_RST 0x04
#define REFL_TCP_ACK 0x10

struct refl_captured {
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_ICMP */
	uint8_t ttl;   /* as it arrived: tells a NAT's own answer from its host's */
	struct sockaddr_in src, dst;
	uint8_t tcp_flags;
	uint32_t tcp_seq, tcp_ack;
	uint8_t icmp_type, icmp_code;
	/* An ICMP error's quoted packet: the one it complains about. */
	bool has_inner;
	uint8_t inner_proto;
	struct sockaddr_in inner_src, inner_dst;
};

/* What an ICMP error about a TCP segment quotes (RFC 792): the segment's
 * IPv4 header (20 bytes, as a 40-byte segment with TTL 64) and its first 8
 * bytes: source and destination ports and the sequence number. */
#define REFL_ICMP_QUOTE_LEN 28
void refl_icmp_quote(const struct sockaddr_in *src, const struct sockaddr_in *dst, uint32_t seq,
		     uint8_t quote[REFL_ICMP_QUOTE_LEN]);

/* false when the frame is not IPv4 TCP or ICMP, or is cut short. */
bool refl_capture_parse(int linktype, const uint8_t *frame, size_t len, struct refl_captured *c);

/*
 * Is c the answer to test t, sent from the bound endpoint sent_from? Then
 * true, and o's outcome, ICMP type and code and `from` are filled.
 */
bool refl_capture_match(const struct refl_test *t, const struct sockaddr *sent_from,
			const struct refl_captured *c, struct refl_observation *o);

#endif
