/*
 * natemu as a router: a packet whose TTL ends there gets ICMP time exceeded
 * (RFC 1812 5.3.1), built byte for byte, refused where RFC 1812 4.3.2.7
 * forbids an error, bounded by a token bucket, answered from the right
 * address; and a time exceeded from beyond a natemu NAT goes back in to the
 * host whose packet died, as any ICMP error does (RFC 5508).
 */
#include <string.h>

#include <netinet/in.h>
#include <CUnit/CUnit.h>

#include "natemu/nat.h"
#include "natemu/packet.h"
#include "testlib.h"
#include "wire.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

/* IPv4 (id 0x1234, DF, TTL 1) + UDP 10.0.1.2:41001 -> 198.51.100.20:3478
 * "ping", checksums computed outside natlab (Python). */
static const uint8_t dying[32] = {
    0x45, 0x00, 0x00, 0x20, 0x12, 0x34, 0x40, 0x00, 0x01, 0x11, 0x32, 0x50, 0x0a, 0x00, 0x01, 0x02,
    0xc6, 0x33, 0x64, 0x14, 0xa0, 0x29, 0x0d, 0x96, 0x00, 0x0c, 0x3d, 0xfc, 'p',  'i',  'n',  'g',
};

/* Its time exceeded from 10.0.1.1: DF, TTL 64, the whole packet quoted. */
static const uint8_t exceeded[60] = {
    0x45, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x01, 0x24, 0xbf, 0x0a, 0x00, 0x01,
    0x01, 0x0a, 0x00, 0x01, 0x02, 0x0b, 0x00, 0x2a, 0x67, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00,
    0x00, 0x20, 0x12, 0x34, 0x40, 0x00, 0x01, 0x11, 0x32, 0x50, 0x0a, 0x00, 0x01, 0x02, 0xc6,
    0x33, 0x64, 0x14, 0xa0, 0x29, 0x0d, 0x96, 0x00, 0x0c, 0x3d, 0xfc, 'p',  'i',  'n',  'g',
};

/* An IP packet in an Ethernet frame to a unicast MAC, parsed. */
static void parse_ip(struct packet *p, uint8_t *frame, const uint8_t *ip, size_t len)
{
	memset(frame, 0, 14);
	frame[0] = 0x02;
	wire_put16(frame + 12, 0x0800);
	memcpy(frame + 14, ip, len);
	CU_ASSERT_PTR_NULL_FATAL(packet_parse(p, frame, 14 + len));
}

static void test_built_byte_exact(void)
{
	uint8_t frame[128], out[PACKET_MAX];
	size_t out_len = 0;
	struct packet p;

	parse_ip(&p, frame, dying, sizeof(dying));
	CU_ASSERT_STRING_EQUAL(packet_rewrite(&p, &p.summary, false, out, &out_len), "ttl expired");
	CU_ASSERT_PTR_NULL(packet_time_exceeded_refused(&p));
	packet_build_time_exceeded(&p, IP(10, 0, 1, 1), out, &out_len);
	CU_ASSERT_EQUAL_FATAL(out_len, sizeof(exceeded));
	CU_ASSERT_EQUAL(memcmp(out, exceeded, sizeof(exceeded)), 0);
	/* Recomputed over what was built, each checksum sums to zero. */
	CU_ASSERT_EQUAL(packet_checksum(out, 20, 0), 0);
	CU_ASSERT_EQUAL(packet_checksum(out + 20, out_len - 20, 0), 0);
}

/* RFC 1812 4.3.2.3: as much of a large packet as fits in 576 bytes. */
static void test_quote_bounded(void)
{
	static uint8_t ip[1000], frame[1100], out[PACKET_MAX];
	size_t out_len = 0;
	struct packet p;

	memcpy(ip, dying, sizeof(dying));
	wire_put16(ip + 2, sizeof(ip));
	wire_put16(ip + 24, sizeof(ip) - 20);
	for (size_t i = 28; i < sizeof(ip); i++)
		ip[i] = (uint8_t)i;
	parse_ip(&p, frame, ip, sizeof(ip));
	packet_build_time_exceeded(&p, IP(10, 0, 1, 1), out, &out_len);
	CU_ASSERT_EQUAL(out_len, PACKET_TIME_EXCEEDED_MAX);
	CU_ASSERT_EQUAL(wire_get16(out + 2), PACKET_TIME_EXCEEDED_MAX);
	CU_ASSERT_EQUAL(memcmp(out + 28, ip, PACKET_TIME_EXCEEDED_MAX - 28), 0);
	CU_ASSERT_EQUAL(packet_checksum(out, 20, 0), 0);
	CU_ASSERT_EQUAL(packet_checksum(out + 20, out_len - 20, 0), 0);
}

/* The refusal for a packet like `dying` with bytes of it changed: at[i] to value[i]. */
static const char *refused_with(size_t n, const size_t *at, const uint8_t *value)
{
	uint8_t ip[sizeof(dying)];
	struct packet p = {.ip = ip, .ip_len = sizeof(ip), .ihl = 20};

	memcpy(ip, dying, sizeof(ip));
	for (size_t i = 0; i < n; i++)
		ip[at[i]] = value[i];
	p.summary = (struct natemu_pkt){
	    .proto = ip[9], .src_ip = wire_get32(ip + 12), .dst_ip = wire_get32(ip + 16)};
	return packet_time_exceeded_refused(&p);
}

#define REFUSED(at, value) refused_with(1, (const size_t[]){at}, (const uint8_t[]){value})
#define ICMP_REFUSED(type)                                                                         \
	refused_with(2, (const size_t[]){9, 20}, (const uint8_t[]){IPPROTO_ICMP, type})

/* RFC 1812 4.3.2.7: no error about an ICMP error, a non-first fragment, a
 * multicast or broadcast destination, or a source that is no one host. */
static void test_refused(void)
{
	uint8_t frame[128], err[PACKET_MAX];
	size_t err_len = 0;
	struct packet p;

	CU_ASSERT_PTR_NULL(REFUSED(6, 0x60)); /* a first fragment (MF): answered */
	CU_ASSERT_PTR_NOT_NULL(REFUSED(7, 0x01));
	CU_ASSERT_PTR_NOT_NULL(REFUSED(6, 0x20 | 0x01));
	CU_ASSERT_PTR_NOT_NULL(REFUSED(16, 224));
	CU_ASSERT_PTR_NOT_NULL(REFUSED(16, 255));
	CU_ASSERT_PTR_NOT_NULL(REFUSED(12, 0));
	CU_ASSERT_PTR_NOT_NULL(REFUSED(12, 127));
	CU_ASSERT_PTR_NOT_NULL(REFUSED(12, 239));
	/* ICMP: an echo request would be answered; no error, nor an unknown type. */
	CU_ASSERT_PTR_NULL(ICMP_REFUSED(8));
	CU_ASSERT_PTR_NOT_NULL(ICMP_REFUSED(3));
	CU_ASSERT_PTR_NOT_NULL(ICMP_REFUSED(11));
	CU_ASSERT_PTR_NOT_NULL(ICMP_REFUSED(12));
	CU_ASSERT_PTR_NOT_NULL(ICMP_REFUSED(200));
	/* A time exceeded that dies in turn, as natemu parses it: not answered. */
	parse_ip(&p, frame, dying, sizeof(dying));
	packet_build_time_exceeded(&p, IP(203, 0, 113, 126), err, &err_len);
	err[8] = 1;
	parse_ip(&p, frame, err, err_len);
	CU_ASSERT_EQUAL(p.summary.proto, IPPROTO_ICMP);
	CU_ASSERT_PTR_NOT_NULL(packet_time_exceeded_refused(&p));
}

static void test_rate_limit(void)
{
	struct packet_budget b = {.interval_ms = 10, .burst = 10};
	unsigned n = 0;

	for (int i = 0; i < 50; i++)
		n += packet_budget_take(&b, 1000);
	CU_ASSERT_EQUAL(n, 10); /* the burst */
	CU_ASSERT_FALSE(packet_budget_take(&b, 1009));
	CU_ASSERT_TRUE(packet_budget_take(&b, 1010)); /* then one each 10 ms */
	CU_ASSERT_FALSE(packet_budget_take(&b, 1010));
	n = 0;
	for (uint64_t t = 2000; t < 3000; t++)
		n += packet_budget_take(&b, t);
	CU_ASSERT_EQUAL(n, 10 + 99); /* a second later: a full bucket, then the rate */
}

static void test_source_address(void)
{
	struct packet_addrs a = {.n = 0};

	CU_ASSERT_EQUAL(packet_source_for(&a, IP(10, 0, 1, 2)), 0);
	a = (struct packet_addrs){.ip = {IP(203, 0, 113, 1), IP(203, 0, 113, 2), IP(192, 0, 2, 1)},
				  .mask = {0xFFFFFF80, 0xFFFFFF80, 0xFFFFFF00},
				  .n = 3};
	CU_ASSERT_EQUAL(packet_source_for(&a, IP(203, 0, 113, 126)), IP(203, 0, 113, 1));
	CU_ASSERT_EQUAL(packet_source_for(&a, IP(192, 0, 2, 99)), IP(192, 0, 2, 1));
	/* Off every subnet (behind a gateway): the primary. */
	CU_ASSERT_EQUAL(packet_source_for(&a, IP(198, 51, 100, 1)), IP(203, 0, 113, 1));
}

/* A UDP datagram leaves through a natemu NAT with TTL 1 and dies at the
 * next router; that router's time exceeded, to the public endpoint, goes
 * back in to the inside host (icmp=translate, kill) with the quoted packet
 * translated back and its TTL of 1 kept (a host's IP_MINTTL reads it), or
 * is dropped (icmp=drop). */
static void test_translated_back(void)
{
	for (int mode = 0; mode < 3; mode++) {
		uint8_t ip[sizeof(dying)], frame[PACKET_MAX], left[PACKET_MAX], err[PACKET_MAX],
		    in[PACKET_MAX];
		size_t left_len, err_len, in_len;
		struct packet p, e, l;
		struct natemu_cfg cfg;
		struct natemu_result r;
		natemu_t *n;

		natemu_cfg_default(&cfg);
		cfg.pool[0] = IP(203, 0, 113, 1);
		cfg.npool = 1;
		cfg.icmp = (enum natemu_icmp)mode;
		n = natemu_new(&cfg, 42);
		CU_ASSERT_PTR_NOT_NULL_FATAL(n);
		memcpy(ip, dying, sizeof(ip));
		ip[8] = 2;
		parse_ip(&p, frame, ip, sizeof(ip));
		r = natemu_process(n, NATEMU_INSIDE, &p.summary, 0);
		CU_ASSERT_EQUAL_FATAL(r.verdict, NATEMU_FORWARD);
		CU_ASSERT_PTR_NULL_FATAL(packet_rewrite(&p, &r.pkt, false, left, &left_len));
		CU_ASSERT_EQUAL(left[8], 1);

		parse_ip(&l, frame, left, left_len);
		packet_build_time_exceeded(&l, IP(203, 0, 113, 126), err, &err_len);
		parse_ip(&e, frame, err, err_len);
		r = natemu_process(n, NATEMU_OUTSIDE, &e.summary, 1);
		CU_ASSERT_EQUAL(r.verdict, mode == NATEMU_ICMP_DROP ? NATEMU_DROP : NATEMU_FORWARD);
		CU_ASSERT_EQUAL(natemu_mappings(n, 2), mode == NATEMU_ICMP_KILL ? 0 : 1);
		if (r.verdict == NATEMU_FORWARD) {
			CU_ASSERT_EQUAL(r.to, NATEMU_INSIDE);
			CU_ASSERT_PTR_NULL_FATAL(packet_rewrite(&e, &r.pkt, false, in, &in_len));
			CU_ASSERT_EQUAL(wire_get32(in + 12), IP(203, 0, 113, 126));
			CU_ASSERT_EQUAL(wire_get32(in + 16), IP(10, 0, 1, 2));
			CU_ASSERT_EQUAL(in[20], 11);
			CU_ASSERT_EQUAL(in[21], 0);
			CU_ASSERT_EQUAL(in[28 + 8], 1);
			CU_ASSERT_EQUAL(wire_get32(in + 28 + 12), IP(10, 0, 1, 2));
			CU_ASSERT_EQUAL(wire_get16(in + 28 + 20), 41001);
			CU_ASSERT_EQUAL(packet_checksum(in, 20, 0), 0);
			CU_ASSERT_EQUAL(packet_checksum(in + 20, in_len - 20, 0), 0);
			CU_ASSERT_EQUAL(packet_checksum(in + 28, 20, 0), 0);
		}
		natemu_free(n);
	}
}

int test_natemu_ttl_register(void)
{
	static const struct test_case tests[] = {
	    {"time exceeded built byte for byte, checksums right", test_built_byte_exact},
	    {"the quote bounded to 576 bytes", test_quote_bounded},
	    {"none for an ICMP error, a later fragment, a group", test_refused},
	    {"a token bucket: a burst, then the rate", test_rate_limit},
	    {"answered from the address on the sender's side", test_source_address},
	    {"a time exceeded from beyond the NAT goes back in", test_translated_back},
	};

	return TEST_SUITE("natemu time exceeded", tests);
}
