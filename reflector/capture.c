/*
 * What comes back after a natlab test. See capture.h.
 *
 * IPv4 header (RFC 791), TCP header (RFC 9293), ICMP error (RFC 792): an
 * error quotes the IP header and the first 8 bytes of the packet it is
 * about, which hold both ports for TCP and UDP.
 *
 *   0                   1                   2                   3
 *  +-------+-------+---------------+-------------------------------+
 *  |Version|  IHL  |      TOS      |          Total Length         |
 *  +-------+-------+---------------+-------------------------------+
 *  |   ... (id, flags, TTL) ...    |Protocol (9)   | ...           |
 *  +-------------------------------+---------------+---------------+
 *  |                   Source Address (12)                         |
 *  |                Destination Address (16)                       |
 *  +---------------------------------------------------------------+
 */
#include "capture.h"

#include <string.h>

#include "addr.h"
#include "wire.h"

/* Where the IP packet starts in a frame of this link type, or -1. */
static long ip_offset(int linktype, const uint8_t *f, size_t len)
{
	switch (linktype) {
	case REFL_LINK_EN10MB:
		return len >= 14 && wire_get16(f + 12) == 0x0800 ? 14 : -1;
	case REFL_LINK_SLL: /* 16 bytes, protocol last */
		return len >= 16 && wire_get16(f + 14) == 0x0800 ? 16 : -1;
	case REFL_LINK_SLL2: /* 20 bytes, protocol first */
		return len >= 20 && wire_get16(f) == 0x0800 ? 20 : -1;
	case REFL_LINK_RAW:
	case REFL_LINK_IPV4:
		return 0;
	default:
		return -1;
	}
}

static void endpoint(struct sockaddr_in *sin, const uint8_t *addr, const uint8_t *port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	memcpy(&sin->sin_addr, addr, 4);
	if (port)
		memcpy(&sin->sin_port, port, 2);
}

/* An IPv4 header at p (len bytes): its header length, or 0 when malformed. */
static size_t ip_header(const uint8_t *p, size_t len)
{
	size_t ihl;

	if (len < 20 || p[0] >> 4 != 4)
		return 0;
	ihl = (size_t)(p[0] & 15) * 4;
	return ihl >= 20 && ihl <= len ? ihl : 0;
}

static void parse_inner(const uint8_t *p, size_t len, struct refl_captured *c)
{
	size_t ihl = ip_header(p, len);

	if (!ihl || len < ihl + 4)
		return;
	c->has_inner = true;
	c->inner_proto = p[9];
	endpoint(&c->inner_src, p + 12, p + ihl);
	endpoint(&c->inner_dst, p + 16, p + ihl + 2);
}

bool refl_capture_parse(int linktype, const uint8_t *frame, size_t len, struct refl_captured *c)
{
	long off = ip_offset(linktype, frame, len);
	const uint8_t *p, *l4;
	size_t ihl, rest;

	memset(c, 0, sizeof(*c));
	if (off < 0)
		return false;
	p = frame + off;
	len -= (size_t)off;
	ihl = ip_header(p, len);
	if (!ihl)
		return false;
	l4 = p + ihl;
	rest = len - ihl;
	c->proto = p[9];
	c->ttl = p[8];
	if (c->proto == IPPROTO_TCP && rest >= 20) {
		endpoint(&c->src, p + 12, l4);
		endpoint(&c->dst, p + 16, l4 + 2);
		c->tcp_seq = wire_get32(l4 + 4);
		c->tcp_ack = wire_get32(l4 + 8);
		c->tcp_flags = l4[13];
		return true;
	}
	if (c->proto == IPPROTO_ICMP && rest >= 8) {
		endpoint(&c->src, p + 12, NULL);
		endpoint(&c->dst, p + 16, NULL);
		c->icmp_type = l4[0];
		c->icmp_code = l4[1];
		/* Destination unreachable, time exceeded, parameter problem. */
		if (c->icmp_type == 3 || c->icmp_type == 11 || c->icmp_type == 12)
			parse_inner(l4 + 8, rest - 8, c);
		return true;
	}
	return false;
}

static uint16_t ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += wire_get16(p + i);
	while (sum >> 16)
		sum = (sum & 0xFFFF) + (sum >> 16);
	return (uint16_t)~sum;
}

void refl_icmp_quote(const struct sockaddr_in *src, const struct sockaddr_in *dst, uint32_t seq,
		     uint8_t quote[REFL_ICMP_QUOTE_LEN])
{
	memset(quote, 0, REFL_ICMP_QUOTE_LEN);
	quote[0] = 0x45;
	wire_put16(quote + 2, 40);
	wire_put16(quote + 6, 0x4000); /* DF */
	quote[8] = 64;
	quote[9] = IPPROTO_TCP;
	memcpy(quote + 12, &src->sin_addr, 4);
	memcpy(quote + 16, &dst->sin_addr, 4);
	wire_put16(quote + 10, ip_checksum(quote, 20));
	memcpy(quote + 20, &src->sin_port, 2);
	memcpy(quote + 22, &dst->sin_port, 2);
	wire_put32(quote + 24, seq);
}

bool refl_capture_match(const struct refl_test *t, const struct sockaddr *sent_from,
			const struct refl_captured *c, struct refl_observation *o)
{
	const struct sockaddr *target = (const struct sockaddr *)&t->target;
	uint8_t want = t->action == REFL_TEST_SYN ? IPPROTO_TCP : IPPROTO_UDP;

	if (sent_from->sa_family != AF_INET || target->sa_family != AF_INET)
		return false;
	if (c->proto == IPPROTO_TCP && t->action == REFL_TEST_SYN &&
	    addr_equal((const struct sockaddr *)&c->dst, sent_from)) {
		/* Acknowledging our SYN's sequence number proves the answer is to
		 * it, from wherever it comes: a NAT whose mapping depends on the
		 * destination sends the host's reply from a new public port. */
		bool acks = (c->tcp_flags & REFL_TCP_ACK) && c->tcp_ack == wire_get32(t->token) + 1;
		bool from_target = addr_equal((const struct sockaddr *)&c->src, target);

		if ((c->tcp_flags & (REFL_TCP_SYN | REFL_TCP_ACK)) ==
			(REFL_TCP_SYN | REFL_TCP_ACK) &&
		    acks)
			o->outcome = REFL_SEEN_SYN_ACK;
		else if ((c->tcp_flags & REFL_TCP_RST) && (from_target || acks))
			o->outcome = REFL_SEEN_RST;
		else
			return false;
	} else if (c->proto == IPPROTO_ICMP && c->has_inner && c->inner_proto == want &&
		   addr_equal((const struct sockaddr *)&c->inner_src, sent_from) &&
		   addr_equal((const struct sockaddr *)&c->inner_dst, target)) {
		o->outcome = REFL_SEEN_ICMP;
		o->icmp_type = c->icmp_type;
		o->icmp_code = c->icmp_code;
	} else {
		return false;
	}
	memcpy(&o->from, &c->src, sizeof(c->src));
	o->ttl = c->ttl;
	return true;
}
