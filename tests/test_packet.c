/* natemu's packet layer: frames parsed, rewritten with correct checksums, answers built. */
#include <string.h>

#include <netinet/in.h>
#include <CUnit/CUnit.h>

#include "natemu/packet.h"
#include "testlib.h"
#include "wire.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

/* Ethernet + IPv4 (id 0x1234, DF, TTL 64) + UDP 10.0.1.2:41001 -> 203.0.113.10:3478 "natlab-echo".
 */
static size_t udp_frame(uint8_t *f)
{
	static const char payload[] = "natlab-echo";
	size_t plen = strlen(payload), total = 20 + 8 + plen;
	uint8_t *ip = f + 14, *udp = ip + 20;

	memset(f, 0, 14 + total);
	f[0] = 0x02; /* unicast, locally administered */
	wire_put16(f + 12, 0x0800);
	ip[0] = 0x45;
	wire_put16(ip + 2, (uint16_t)total);
	wire_put16(ip + 4, 0x1234);
	wire_put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	wire_put32(ip + 12, IP(10, 0, 1, 2));
	wire_put32(ip + 16, IP(203, 0, 113, 10));
	wire_put16(udp, 41001);
	wire_put16(udp + 2, 3478);
	wire_put16(udp + 4, (uint16_t)(8 + plen));
	wire_put16(udp + 6, 0xBEEF); /* stale: must be recomputed */
	memcpy(udp + 8, payload, plen);
	return 14 + total;
}

static void test_parse_and_rewrite(void)
{
	uint8_t f[128], out[PACKET_MAX];
	size_t len = udp_frame(f), out_len;
	struct packet p;
	struct natemu_pkt to;

	CU_ASSERT_PTR_NULL_FATAL(packet_parse(&p, f, len));
	CU_ASSERT_EQUAL(p.summary.proto, IPPROTO_UDP);
	CU_ASSERT_EQUAL(p.summary.src_ip, IP(10, 0, 1, 2));
	CU_ASSERT_EQUAL(p.summary.src_port, 41001);
	CU_ASSERT_EQUAL(p.summary.dst_port, 3478);

	to = p.summary;
	to.src_ip = IP(203, 0, 113, 1);
	CU_ASSERT_PTR_NULL_FATAL(packet_rewrite(&p, &to, false, out, &out_len));
	CU_ASSERT_EQUAL(out_len, 39);
	CU_ASSERT_EQUAL(out[8], 63);
	/* Checksums computed outside natlab (Python) for this exact packet. */
	CU_ASSERT_EQUAL(wire_get16(out + 10), 0xb185);
	CU_ASSERT_EQUAL(wire_get16(out + 26), 0x95fd);
	CU_ASSERT_EQUAL(packet_checksum(out, 20, 0), 0);
}

static void reject(const uint8_t *f, size_t len, const char *want)
{
	struct packet p;
	const char *got = packet_parse(&p, f, len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_STRING_EQUAL(got, want);
}

static void test_parse_rejects(void)
{
	uint8_t f[128];
	size_t len = udp_frame(f);
	struct packet p;

	reject(f, 13, "short frame");
	f[0] = 0xFF;
	reject(f, len, "broadcast or multicast");
	udp_frame(f);
	wire_put16(f + 12, 0x86DD);
	reject(f, len, "not IPv4");
	udp_frame(f);
	f[14] = 0x44; /* IHL 4: shorter than a header */
	reject(f, len, "bad IPv4 header");
	udp_frame(f);
	reject(f, len - 1, "bad IPv4 header");
	wire_put16(f + 20, 0x2000); /* MF */
	reject(f, len, "fragment");
	udp_frame(f);
	f[23] = 47; /* GRE */
	reject(f, len, "not UDP or TCP");
	udp_frame(f);
	f[23] = IPPROTO_ICMP;
	f[34] = 8; /* echo request */
	reject(f, len, "icmp, not an error");
	f[34] = 3;
	reject(f, len, "icmp error, quoted packet truncated");
	udp_frame(f);
	wire_put16(f + 16, 20 + 4); /* total length cuts the UDP header */
	reject(f, len, "truncated transport header");
	udp_frame(f);
	f[22] = 1;
	CU_ASSERT_PTR_NULL(packet_parse(&p, f, len));
	CU_ASSERT_STRING_EQUAL(packet_rewrite(&p, &p.summary, false, f, &len), "ttl expired");
}

static void test_rst_and_icmp(void)
{
	uint8_t f[128], out[PACKET_MAX];
	size_t out_len;
	struct packet p;
	uint8_t *ip = f + 14;

	udp_frame(f);
	/* Turn the frame into a TCP SYN with seq 1000. */
	ip[9] = IPPROTO_TCP;
	wire_put16(ip + 2, 40);
	memset(ip + 20, 0, 20);
	wire_put16(ip + 20, 41001);
	wire_put16(ip + 22, 443);
	wire_put32(ip + 24, 1000);
	ip[32] = 5 << 4;
	ip[33] = 0x02;
	CU_ASSERT_PTR_NULL_FATAL(packet_parse(&p, f, 14 + 40));
	CU_ASSERT_EQUAL(p.summary.tcp_flags, 0x02);

	packet_build_rst(&p, out, &out_len);
	CU_ASSERT_EQUAL(out_len, 40);
	CU_ASSERT_EQUAL(wire_get32(out + 12), IP(203, 0, 113, 10));
	CU_ASSERT_EQUAL(wire_get32(out + 16), IP(10, 0, 1, 2));
	CU_ASSERT_EQUAL(wire_get16(out + 20), 443);
	CU_ASSERT_EQUAL(wire_get16(out + 22), 41001);
	CU_ASSERT_EQUAL(wire_get32(out + 28), 1001);
	CU_ASSERT_EQUAL(out[33], 0x14);
	CU_ASSERT_EQUAL(packet_checksum(out, 20, 0), 0);
	/* The TCP checksum holds over the pseudo-header. */
	uint32_t pseudo = wire_get16(out + 12) + wire_get16(out + 14) + wire_get16(out + 16) +
			  wire_get16(out + 18) + IPPROTO_TCP + 20;
	CU_ASSERT_EQUAL(packet_checksum(out + 20, 20, pseudo), 0);

	packet_build_icmp_prohibited(&p, IP(203, 0, 113, 1), out, &out_len);
	CU_ASSERT_EQUAL(out_len, 20 + 8 + 28);
	CU_ASSERT_EQUAL(out[9], IPPROTO_ICMP);
	CU_ASSERT_EQUAL(out[20], 3);
	CU_ASSERT_EQUAL(out[21], 13);
	CU_ASSERT_EQUAL(memcmp(out + 28, ip, 28), 0);
	CU_ASSERT_EQUAL(packet_checksum(out + 20, out_len - 20, 0), 0);
}

/* natemu's alg=on (RFC 5382 REQ-6's subject): an inbound TCP segment whose
 * payload carries the public address (as STUN's MAPPED-ADDRESS does) gets
 * the inside one there too, checksum right; without it, untouched; a
 * UDP payload never. */
static void test_alg(void)
{
	static const uint8_t mapped[8] = {0, 1, 0x9c, 0x41, 203, 0, 113, 1};
	uint8_t f[128], out[PACKET_MAX], data[12] = {203, 0, 113, 1, 7, 203, 0, 113, 1, 203, 0};
	uint8_t *ip = f + 14;
	size_t out_len;
	struct packet p;
	struct natemu_pkt to;
	uint32_t pseudo;

	CU_ASSERT_EQUAL(packet_alg_replace(data, sizeof(data), IP(203, 0, 113, 1), IP(10, 0, 1, 2)),
			2);
	CU_ASSERT_EQUAL(data[5], 10);
	CU_ASSERT_EQUAL(data[9], 203); /* a cut-off copy stays */
	udp_frame(f);
	ip[9] = IPPROTO_TCP;
	wire_put16(ip + 2, 48);
	memset(ip + 20, 0, 20);
	wire_put32(ip + 12, IP(203, 0, 113, 10));
	wire_put32(ip + 16, IP(203, 0, 113, 1));
	wire_put16(ip + 20, 3478);
	wire_put16(ip + 22, 40001);
	ip[32] = 5 << 4;
	ip[33] = 0x18;
	memcpy(ip + 40, mapped, sizeof(mapped));
	CU_ASSERT_PTR_NULL_FATAL(packet_parse(&p, f, 14 + 48));
	to = p.summary;
	to.dst_ip = IP(10, 0, 1, 2);
	CU_ASSERT_PTR_NULL_FATAL(packet_rewrite(&p, &to, false, out, &out_len));
	CU_ASSERT_EQUAL(memcmp(out + 40, mapped, sizeof(mapped)), 0);
	CU_ASSERT_PTR_NULL_FATAL(packet_rewrite(&p, &to, true, out, &out_len));
	CU_ASSERT_EQUAL(wire_get32(out + 44), IP(10, 0, 1, 2));
	pseudo = wire_get16(out + 12) + wire_get16(out + 14) + wire_get16(out + 16) +
		 wire_get16(out + 18) + IPPROTO_TCP + 28;
	CU_ASSERT_EQUAL(packet_checksum(out + 20, 28, pseudo), 0);
	ip[9] = IPPROTO_UDP;
	wire_put16(ip + 24, 28);
	CU_ASSERT_PTR_NULL_FATAL(packet_parse(&p, f, 14 + 48));
	CU_ASSERT_PTR_NULL_FATAL(packet_rewrite(&p, &to, true, out, &out_len));
	CU_ASSERT_EQUAL(wire_get32(out + 44), IP(203, 0, 113, 1));
}

/* An ICMP error in from outside (RFC 5508): parsed with the packet it
 * quotes, and rewritten with that packet's source translated back, every
 * checksum right (outer IP, ICMP, the quoted IP header). */
static void test_icmp_error_translated(void)
{
	uint8_t f[256], icmp[PACKET_MAX], out[PACKET_MAX];
	size_t len = udp_frame(f), icmp_len, out_len;
	struct packet p, e;
	struct natemu_pkt to;

	/* The datagram as it left the NAT, then an error about it from its destination. */
	wire_put32(f + 14 + 12, IP(203, 0, 113, 1));
	wire_put16(f + 14 + 20, 50000);
	CU_ASSERT_PTR_NULL_FATAL(packet_parse(&p, f, len));
	packet_build_icmp_prohibited(&p, IP(203, 0, 113, 10), icmp, &icmp_len);
	memcpy(f + 14, icmp, icmp_len);
	CU_ASSERT_PTR_NULL_FATAL(packet_parse(&e, f, 14 + icmp_len));
	CU_ASSERT_EQUAL(e.summary.proto, IPPROTO_ICMP);
	CU_ASSERT_EQUAL(e.summary.dst_ip, IP(203, 0, 113, 1));
	CU_ASSERT_EQUAL(e.summary.quoted.proto, IPPROTO_UDP);
	CU_ASSERT_EQUAL(e.summary.quoted.src_ip, IP(203, 0, 113, 1));
	CU_ASSERT_EQUAL(e.summary.quoted.src_port, 50000);
	CU_ASSERT_EQUAL(e.summary.quoted.dst_port, 3478);

	to = e.summary;
	to.dst_ip = to.quoted.src_ip = IP(10, 0, 1, 2);
	to.quoted.src_port = 41001;
	CU_ASSERT_PTR_NULL_FATAL(packet_rewrite(&e, &to, false, out, &out_len));
	CU_ASSERT_EQUAL(out_len, icmp_len);
	CU_ASSERT_EQUAL(wire_get32(out + 16), IP(10, 0, 1, 2));
	CU_ASSERT_EQUAL(out[20], 3);
	CU_ASSERT_EQUAL(out[21], 13);
	CU_ASSERT_EQUAL(wire_get32(out + 28 + 12), IP(10, 0, 1, 2));
	CU_ASSERT_EQUAL(wire_get16(out + 28 + 20), 41001);
	CU_ASSERT_EQUAL(packet_checksum(out, 20, 0), 0);
	CU_ASSERT_EQUAL(packet_checksum(out + 20, out_len - 20, 0), 0);
	CU_ASSERT_EQUAL(packet_checksum(out + 28, 20, 0), 0);
}

int test_packet_register(void)
{
	static const struct test_case tests[] = {
	    {"parse and rewrite with checksums", test_parse_and_rewrite},
	    {"an ICMP error translated back, checksums right", test_icmp_error_translated},
	    {"malformed frames named", test_parse_rejects},
	    {"RST and ICMP answers", test_rst_and_icmp},
	    {"alg=on: a TCP payload's copies of the address rewritten", test_alg},
	};

	return TEST_SUITE("natemu packets", tests);
}
