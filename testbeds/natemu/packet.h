/*
 * natemu's packet layer: Ethernet + IPv4 + UDP/TCP frames to the core's
 * summary and back, with checksums. Pure: buffers in, buffers out.
 */
#ifndef NATLAB_NATEMU_PACKET_H
#define NATLAB_NATEMU_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "natemu/nat.h"

#define PACKET_MAX 2048 /* IPv4 packets natemu handles; larger ones are dropped */

struct packet {
	const uint8_t *ip; /* the IPv4 header inside the frame */
	size_t ip_len;     /* total length from the header */
	size_t ihl;        /* header length in bytes */
	uint32_t tcp_seq, tcp_ack;
	size_t quoted_ihl; /* an ICMP error: the quoted IP header's length */
	struct natemu_pkt summary;
};

/*
 * Parse a captured unicast frame. NULL on success, else why the frame is not
 * for natemu ("not IPv4", "fragment", ...), for the counters.
 */
const char *packet_parse(struct packet *p, const uint8_t *frame, size_t len);

/* The IP packet with the translated addresses and ports, TTL one less and
 * checksums recomputed; with_alg: a TCP payload's copies of the translated
 * addresses too (natemu's alg=on). NULL on success, else why not ("ttl
 * expired"). */
const char *packet_rewrite(const struct packet *p, const struct natemu_pkt *to, bool with_alg,
			   uint8_t *out, size_t *out_len);

/* Every 4-byte copy of address `from` (host order) in data becomes `to`, as
 * a generic ALG rewrites payloads; how many. */
unsigned packet_alg_replace(uint8_t *data, size_t len, uint32_t from, uint32_t to);

/* RFC 793's answer to a SYN that finds no listener: RST|ACK, ack = seq + 1. */
void packet_build_rst(const struct packet *syn, uint8_t *out, size_t *out_len);

/* ICMP destination unreachable, communication administratively prohibited
 * (type 3 code 13), from `from`, quoting the header and 8 bytes. */
void packet_build_icmp_prohibited(const struct packet *p, uint32_t from, uint8_t *out,
				  size_t *out_len);

/* RFC 1812 4.3.2.7: whether a packet that would leave with TTL 0 gets an
 * ICMP time exceeded. NULL if it does, else why not, for the counters: no
 * error about an ICMP error, a non-first fragment, a broadcast or multicast
 * destination, or a source that names no single host. */
const char *packet_time_exceeded_refused(const struct packet *p);

/* ICMP time exceeded in transit (type 11 code 0) from `from` to p's source,
 * quoting p as it arrived, as much as fits in 576 bytes (RFC 1812 4.3.2.3;
 * Linux quotes as much). Up to PACKET_TIME_EXCEEDED_MAX bytes in out. */
#define PACKET_TIME_EXCEEDED_MAX 576
void packet_build_time_exceeded(const struct packet *p, uint32_t from, uint8_t *out,
				size_t *out_len);

/* An interface's IPv4 addresses (host order), the first its primary. */
#define PACKET_ADDRS_MAX 16
struct packet_addrs {
	uint32_t ip[PACKET_ADDRS_MAX], mask[PACKET_ADDRS_MAX];
	size_t n;
};

/* The address a router answers dst from on that interface, as Linux's route
 * lookup picks it: the first whose subnet holds dst, else the primary; 0 when
 * the interface has none. */
uint32_t packet_source_for(const struct packet_addrs *a, uint32_t dst);

/* A token bucket over the ICMP errors natemu makes (the generic cell rate
 * algorithm: tat is when the bucket is next full). Zero tat: full. */
struct packet_budget {
	uint64_t tat;         /* ms */
	uint32_t interval_ms; /* between errors at the steady rate */
	uint32_t burst;       /* at once, at least 1 */
};

/* Spend one at now_ms: false when the bucket is empty. */
bool packet_budget_take(struct packet_budget *b, uint64_t now_ms);

/* RFC 1071 checksum over a buffer, with an initial sum (for pseudo-headers). */
uint16_t packet_checksum(const uint8_t *data, size_t len, uint32_t sum);

#endif
