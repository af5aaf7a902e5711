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

/* RFC 1071 checksum over a buffer, with an initial sum (for pseudo-headers). */
uint16_t packet_checksum(const uint8_t *data, size_t len, uint32_t sum);

#endif
