/*
 * natemu's packet layer. See packet.h.
 *
 * RFC 791 IPv4 header, as read here:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Version|  IHL  |Type of Service|          Total Length         |
 *   |         Identification        |Flags|      Fragment Offset    |
 *   |  Time to Live |    Protocol   |         Header Checksum       |
 *   |                       Source Address                          |
 *   |                    Destination Address                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * UDP (RFC 768) and TCP (RFC 793) ports are the first four bytes after it;
 * the UDP checksum is at offset 6, the TCP checksum at 16, TCP flags at 13.
 */
#include "natemu/packet.h"

#include <string.h>

#include <netinet/in.h>

#include "wire.h"

#define ETH_HLEN       14
#define ETHERTYPE_IPV4 0x0800

uint16_t packet_checksum(const uint8_t *data, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += wire_get16(data + i);
	if (len & 1)
		sum += (uint32_t)data[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xFFFF) + (sum >> 16);
	return (uint16_t)~sum;
}

/* An ICMP error (destination unreachable, time exceeded, parameter
 * problem) quoting a UDP or TCP packet: its IP header and ports. */
static const char *parse_icmp_error(struct packet *p, const uint8_t *icmp, size_t len)
{
	const uint8_t *q = icmp + 8;
	size_t qihl;

	if (len < 8 || (icmp[0] != 3 && icmp[0] != 11 && icmp[0] != 12))
		return "icmp, not an error";
	if (len < 8 + 20 || q[0] >> 4 != 4)
		return "icmp error, quoted packet truncated";
	qihl = (size_t)(q[0] & 0xF) * 4;
	if (qihl < 20 || len < 8 + qihl + 8)
		return "icmp error, quoted packet truncated";
	if (q[9] != IPPROTO_UDP && q[9] != IPPROTO_TCP)
		return "icmp error about neither UDP nor TCP";
	p->quoted_ihl = qihl;
	p->summary.quoted = (struct natemu_quoted){.proto = q[9],
						   .src_ip = wire_get32(q + 12),
						   .dst_ip = wire_get32(q + 16),
						   .src_port = wire_get16(q + qihl),
						   .dst_port = wire_get16(q + qihl + 2)};
	return NULL;
}

const char *packet_parse(struct packet *p, const uint8_t *frame, size_t len)
{
	struct wire_cursor c = wire_cursor(frame, len);
	const uint8_t *eth = wire_take(&c, ETH_HLEN), *ip;
	uint16_t total, frag, l4_len;
	size_t ihl;

	if (!eth)
		return "short frame";
	/* Capture is not promiscuous, so a unicast frame is for this interface,
	 * whatever MAC address a bridge has taken since. */
	if (eth[0] & 1)
		return "broadcast or multicast";
	if (wire_get16(eth + 12) != ETHERTYPE_IPV4)
		return "not IPv4";
	ip = c.p;
	if (c.left < 20 || ip[0] >> 4 != 4)
		return "bad IPv4 header";
	ihl = (size_t)(ip[0] & 0xF) * 4;
	total = wire_get16(ip + 2);
	if (ihl < 20 || total < ihl || total > c.left)
		return "bad IPv4 header";
	if (total > PACKET_MAX)
		return "too large";
	frag = wire_get16(ip + 6);
	if (frag & 0x3FFF) /* MF set or an offset: natemu does not reassemble */
		return "fragment";
	*p = (struct packet){.ip = ip, .ip_len = total, .ihl = ihl};
	p->summary.proto = ip[9];
	p->summary.src_ip = wire_get32(ip + 12);
	p->summary.dst_ip = wire_get32(ip + 16);
	l4_len = (uint16_t)(total - ihl);
	if (p->summary.proto == IPPROTO_UDP && l4_len >= 8) {
		p->summary.src_port = wire_get16(ip + ihl);
		p->summary.dst_port = wire_get16(ip + ihl + 2);
		return NULL;
	}
	if (p->summary.proto == IPPROTO_TCP && l4_len >= 20) {
		p->summary.src_port = wire_get16(ip + ihl);
		p->summary.dst_port = wire_get16(ip + ihl + 2);
		p->tcp_seq = wire_get32(ip + ihl + 4);
		p->tcp_ack = wire_get32(ip + ihl + 8);
		p->summary.tcp_flags = ip[ihl + 13];
		return NULL;
	}
	if (p->summary.proto == IPPROTO_ICMP)
		return parse_icmp_error(p, ip + ihl, l4_len);
	return p->summary.proto == IPPROTO_UDP || p->summary.proto == IPPROTO_TCP
		   ? "truncated transport header"
		   : "not UDP or TCP";
}

static uint32_t pseudo_sum(const uint8_t *ip, uint8_t proto, size_t l4_len)
{
	return (uint32_t)wire_get16(ip + 12) + wire_get16(ip + 14) + wire_get16(ip + 16) +
	       wire_get16(ip + 18) + proto + (uint32_t)l4_len;
}

/* IPv4 header and transport checksums of a finished packet. */
static void finish(uint8_t *ip, size_t ihl, size_t total)
{
	uint8_t proto = ip[9];
	uint8_t *l4 = ip + ihl;
	size_t l4_len = total - ihl;
	uint16_t sum;

	wire_put16(ip + 10, 0);
	wire_put16(ip + 10, packet_checksum(ip, ihl, 0));
	if (proto == IPPROTO_TCP) {
		wire_put16(l4 + 16, 0);
		wire_put16(l4 + 16, packet_checksum(l4, l4_len, pseudo_sum(ip, proto, l4_len)));
	} else if (proto == IPPROTO_UDP && wire_get16(l4 + 6) != 0) {
		/* A zero UDP checksum means "none" (RFC 768) and stays so. */
		wire_put16(l4 + 6, 0);
		sum = packet_checksum(l4, l4_len, pseudo_sum(ip, proto, l4_len));
		wire_put16(l4 + 6, sum ? sum : 0xFFFF);
	} else if (proto == IPPROTO_ICMP) {
		wire_put16(l4 + 2, 0);
		wire_put16(l4 + 2, packet_checksum(l4, l4_len, 0));
	}
}

/* The quoted packet of an ICMP error, translated as `to` says. Its IP
 * header checksum is made right; its transport checksum covers bytes the
 * error does not quote, so it stays (receivers do not check it). */
static void rewrite_quoted(const struct packet *p, const struct natemu_pkt *to, uint8_t *out)
{
	uint8_t *q = out + p->ihl + 8;

	wire_put32(q + 12, to->quoted.src_ip);
	wire_put32(q + 16, to->quoted.dst_ip);
	wire_put16(q + p->quoted_ihl, to->quoted.src_port);
	wire_put16(q + p->quoted_ihl + 2, to->quoted.dst_port);
	wire_put16(q + 10, 0);
	wire_put16(q + 10, packet_checksum(q, p->quoted_ihl, 0));
}

unsigned packet_alg_replace(uint8_t *data, size_t len, uint32_t from, uint32_t to)
{
	uint8_t f[4], t[4];
	unsigned n = 0;

	wire_put32(f, from);
	wire_put32(t, to);
	for (size_t i = 0; len >= 4 && i <= len - 4; i++)
		if (!memcmp(data + i, f, 4)) {
			memcpy(data + i, t, 4);
			n++;
			i += 3;
		}
	return n;
}

/* A TCP segment's payload in a packet being rewritten: the translated
 * addresses' old values become their new ones, as a generic ALG does. */
static void alg(const struct packet *p, const struct natemu_pkt *to, uint8_t *out)
{
	uint8_t *tcp = out + p->ihl;
	size_t off = p->ihl + (size_t)(tcp[12] >> 4) * 4;

	if (p->summary.proto != IPPROTO_TCP || off >= p->ip_len)
		return;
	if (to->dst_ip != p->summary.dst_ip)
		packet_alg_replace(out + off, p->ip_len - off, p->summary.dst_ip, to->dst_ip);
	if (to->src_ip != p->summary.src_ip)
		packet_alg_replace(out + off, p->ip_len - off, p->summary.src_ip, to->src_ip);
}

const char *packet_rewrite(const struct packet *p, const struct natemu_pkt *to, bool with_alg,
			   uint8_t *out, size_t *out_len)
{
	if (p->ip[8] <= 1)
		return "ttl expired";
	memcpy(out, p->ip, p->ip_len);
	out[8]--;
	wire_put32(out + 12, to->src_ip);
	wire_put32(out + 16, to->dst_ip);
	if (p->summary.proto == IPPROTO_ICMP) {
		rewrite_quoted(p, to, out);
	} else {
		wire_put16(out + p->ihl, to->src_port);
		wire_put16(out + p->ihl + 2, to->dst_port);
	}
	if (with_alg)
		alg(p, to, out);
	finish(out, p->ihl, p->ip_len);
	*out_len = p->ip_len;
	return NULL;
}

static void ip_header(uint8_t *out, uint8_t proto, uint32_t src, uint32_t dst, size_t total)
{
	memset(out, 0, 20);
	out[0] = 0x45;
	wire_put16(out + 2, (uint16_t)total);
	wire_put16(out + 6, 0x4000); /* DF */
	out[8] = 64;
	out[9] = proto;
	wire_put32(out + 12, src);
	wire_put32(out + 16, dst);
}

void packet_build_rst(const struct packet *syn, uint8_t *out, size_t *out_len)
{
	const struct natemu_pkt *s = &syn->summary;
	uint8_t *tcp = out + 20;

	ip_header(out, IPPROTO_TCP, s->dst_ip, s->src_ip, 40);
	memset(tcp, 0, 20);
	wire_put16(tcp, s->dst_port);
	wire_put16(tcp + 2, s->src_port);
	wire_put32(tcp + 8, syn->tcp_seq + 1);
	tcp[12] = 5 << 4;
	tcp[13] = 0x04 | 0x10; /* RST, ACK */
	finish(out, 20, 40);
	*out_len = 40;
}

/* An ICMP error from `from` to p's source quoting its first `quoted` bytes
 * as they arrived (RFC 792): the quoted TTL is the one that arrived, which is
 * what a host's IP_MINTTL compares (natprobe's opening SYN). */
static void icmp_error(const struct packet *p, uint8_t type, uint8_t code, uint32_t from,
		       size_t quoted, uint8_t *out, size_t *out_len)
{
	size_t total = 20 + 8 + quoted;

	ip_header(out, IPPROTO_ICMP, from, p->summary.src_ip, total);
	memset(out + 20, 0, 8);
	out[20] = type;
	out[21] = code;
	memcpy(out + 28, p->ip, quoted);
	finish(out, 20, total);
	*out_len = total;
}

void packet_build_icmp_prohibited(const struct packet *p, uint32_t from, uint8_t *out,
				  size_t *out_len)
{
	size_t quoted = p->ihl + 8 <= p->ip_len ? p->ihl + 8 : p->ip_len;

	/* destination unreachable, communication administratively prohibited (RFC 1812) */
	icmp_error(p, 3, 13, from, quoted, out, out_len);
}

void packet_build_time_exceeded(const struct packet *p, uint32_t from, uint8_t *out,
				size_t *out_len)
{
	size_t room = PACKET_TIME_EXCEEDED_MAX - 20 - 8;

	icmp_error(p, 11, 0, from, p->ip_len < room ? p->ip_len : room, out, out_len);
}

/* RFC 792's error types (unreachable, source quench, redirect, time
 * exceeded, parameter problem); like Linux, a type it does not know is
 * taken for one too, so that no error ever answers an error. */
static bool icmp_is_error(uint8_t type)
{
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12 || type > 18;
}

/* 0/8 ("this network"), 127/8, and 224/4 to 255.255.255.255 (multicast,
 * reserved, broadcast): none names one host to answer. */
static bool no_single_host(uint32_t ip)
{
	return ip >> 24 == 0 || ip >> 24 == 127 || ip >> 28 >= 0xE;
}

const char *packet_time_exceeded_refused(const struct packet *p)
{
	if (wire_get16(p->ip + 6) & 0x1FFF)
		return "ttl expired, a non-first fragment: not answered";
	if (p->summary.proto == IPPROTO_ICMP &&
	    (p->ip_len <= p->ihl || icmp_is_error(p->ip[p->ihl])))
		return "ttl expired, an icmp error: not answered";
	if (no_single_host(p->summary.src_ip))
		return "ttl expired, source no single host: not answered";
	if (p->summary.dst_ip >> 28 >= 0xE)
		return "ttl expired, to multicast or broadcast: not answered";
	return NULL;
}

uint32_t packet_source_for(const struct packet_addrs *a, uint32_t dst)
{
	for (size_t i = 0; i < a->n; i++)
		if (((a->ip[i] ^ dst) & a->mask[i]) == 0)
			return a->ip[i];
	return a->n ? a->ip[0] : 0;
}

bool packet_budget_take(struct packet_budget *b, uint64_t now_ms)
{
	uint64_t tat = b->tat > now_ms ? b->tat : now_ms;
	uint64_t tolerance = (uint64_t)(b->burst ? b->burst - 1 : 0) * b->interval_ms;

	if (tat - now_ms > tolerance)
		return false;
	b->tat = tat + b->interval_ms;
	return true;
}
