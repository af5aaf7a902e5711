/*
 * natemu's translation core, setting by setting, with no sockets: packets
 * and time in, packets out. Each test reads the behaviour back the way a
 * probe would, from what the core forwards.
 */
#include <string.h>

#include <netinet/in.h>
#include <CUnit/CUnit.h>

#include "natemu/nat.h"
#include "testlib.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))
#define HOST_A         IP(10, 0, 1, 2)
#define HOST_B         IP(10, 0, 1, 3)
#define PUB1           IP(203, 0, 113, 1)
#define PUB2           IP(203, 0, 113, 2)
#define R1             IP(198, 51, 100, 10)
#define R2             IP(198, 51, 100, 11)

#define SYN 0x02
#define ACK 0x10

static natemu_t *make(struct natemu_cfg *cfg)
{
	natemu_t *n;

	if (cfg->npool == 0) {
		cfg->pool[0] = PUB1;
		cfg->npool = 1;
	}
	n = natemu_new(cfg, 42);
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	return n;
}

static struct natemu_pkt udp(uint32_t sip, uint16_t sport, uint32_t dip, uint16_t dport)
{
	return (struct natemu_pkt){.proto = IPPROTO_UDP,
				   .src_ip = sip,
				   .dst_ip = dip,
				   .src_port = sport,
				   .dst_port = dport};
}

static struct natemu_pkt tcp(uint32_t sip, uint16_t sport, uint32_t dip, uint16_t dport,
			     uint8_t flags)
{
	return (struct natemu_pkt){.proto = IPPROTO_TCP,
				   .src_ip = sip,
				   .dst_ip = dip,
				   .src_port = sport,
				   .dst_port = dport,
				   .tcp_flags = flags};
}

/* Send from inside; the public endpoint it left with (0:0 when dropped). */
static uint64_t out(natemu_t *n, struct natemu_pkt p, uint64_t now)
{
	struct natemu_result r = natemu_process(n, NATEMU_INSIDE, &p, now);

	if (r.verdict != NATEMU_FORWARD || r.to != NATEMU_OUTSIDE)
		return 0;
	CU_ASSERT_EQUAL(r.pkt.dst_ip, p.dst_ip);
	CU_ASSERT_EQUAL(r.pkt.dst_port, p.dst_port);
	return (uint64_t)r.pkt.src_ip << 16 | r.pkt.src_port;
}

static uint32_t ip_of(uint64_t ep)
{
	return (uint32_t)(ep >> 16);
}

static uint16_t port_of(uint64_t ep)
{
	return (uint16_t)ep;
}

/* Does a packet from (rip, rport) to public endpoint ep reach (iip, iport)? */
static bool in_reaches(natemu_t *n, uint32_t rip, uint16_t rport, uint64_t ep, uint32_t iip,
		       uint16_t iport, uint64_t now)
{
	struct natemu_pkt p = udp(rip, rport, ip_of(ep), port_of(ep));
	struct natemu_result r = natemu_process(n, NATEMU_OUTSIDE, &p, now);

	return r.verdict == NATEMU_FORWARD && r.to == NATEMU_INSIDE && r.pkt.dst_ip == iip &&
	       r.pkt.dst_port == iport && r.pkt.src_ip == rip && r.pkt.src_port == rport;
}

/* RFC 5780 4.3, run against every mapping x filtering combination. */
static enum natemu_dependence classify_mapping(natemu_t *n)
{
	uint64_t e1 = out(n, udp(HOST_A, 5000, R1, 3478), 0);
	uint64_t e2 = out(n, udp(HOST_A, 5000, R1, 3479), 0);
	uint64_t e3 = out(n, udp(HOST_A, 5000, R2, 3478), 0);

	CU_ASSERT_TRUE(e1 && e2 && e3);
	if (e1 == e2 && e1 == e3)
		return NATEMU_ENDPOINT_INDEPENDENT;
	if (e1 == e2)
		return NATEMU_ADDRESS_DEPENDENT;
	return NATEMU_ADDRESS_AND_PORT_DEPENDENT;
}

/* RFC 5780 4.4: a fresh mapping to R1:3478, then R2:3479 and R1:3479 try to get in. */
static enum natemu_dependence classify_filtering(natemu_t *n)
{
	uint64_t e = out(n, udp(HOST_A, 6000, R1, 3478), 0);

	CU_ASSERT_TRUE_FATAL(e != 0);
	CU_ASSERT_TRUE(in_reaches(n, R1, 3478, e, HOST_A, 6000, 1));
	if (in_reaches(n, R2, 3479, e, HOST_A, 6000, 1))
		return NATEMU_ENDPOINT_INDEPENDENT;
	if (in_reaches(n, R1, 3479, e, HOST_A, 6000, 1))
		return NATEMU_ADDRESS_DEPENDENT;
	return NATEMU_ADDRESS_AND_PORT_DEPENDENT;
}

static void test_mapping_filtering_grid(void)
{
	for (int m = 0; m < 3; m++) {
		for (int f = 0; f < 3; f++) {
			struct natemu_cfg cfg;
			natemu_t *n;

			natemu_cfg_default(&cfg);
			cfg.mapping = (enum natemu_dependence)m;
			cfg.filtering = (enum natemu_dependence)f;
			n = make(&cfg);
			CU_ASSERT_EQUAL(classify_mapping(n), m);
			CU_ASSERT_EQUAL(classify_filtering(n), f);
			natemu_free(n);
		}
	}
}

static void test_port_preserving(void)
{
	struct natemu_cfg cfg;
	natemu_t *n;
	uint64_t a, b;

	natemu_cfg_default(&cfg);
	n = make(&cfg);
	a = out(n, udp(HOST_A, 40000, R1, 3478), 0);
	CU_ASSERT_EQUAL(port_of(a), 40000);
	/* Another host on the same port cannot have it: the fallback is the next free one. */
	b = out(n, udp(HOST_B, 40000, R1, 3478), 0);
	CU_ASSERT_EQUAL(port_of(b), 40001);
	CU_ASSERT_TRUE(in_reaches(n, R1, 3478, b, HOST_B, 40000, 1));
	CU_ASSERT_TRUE(in_reaches(n, R1, 3478, a, HOST_A, 40000, 1));
	natemu_free(n);
}

static void test_port_sequential(void)
{
	struct natemu_cfg cfg;
	natemu_t *n;
	uint16_t prev = 0;

	natemu_cfg_default(&cfg);
	cfg.mapping = NATEMU_ADDRESS_AND_PORT_DEPENDENT;
	cfg.ports = NATEMU_PORTS_SEQUENTIAL;
	cfg.delta = 3;
	cfg.port_lo = 20000;
	n = make(&cfg);
	for (uint16_t d = 0; d < 10; d++) {
		uint16_t p = port_of(out(n, udp(HOST_A, 5000, R1, (uint16_t)(3000 + d)), 0));

		CU_ASSERT_EQUAL(p, 20000 + 3 * d);
		CU_ASSERT_TRUE(d == 0 || p == prev + 3);
		prev = p;
	}
	natemu_free(n);

	/* With skips, some steps are 2*delta, never anything else. */
	cfg.skip_percent = 30;
	n = make(&cfg);
	prev = 0;
	unsigned doubles = 0;
	for (uint16_t d = 0; d < 50; d++) {
		uint16_t p = port_of(out(n, udp(HOST_A, 5000, R1, (uint16_t)(3000 + d)), 0));

		if (d) {
			CU_ASSERT_TRUE(p - prev == 3 || p - prev == 6);
			doubles += p - prev == 6;
		}
		prev = p;
	}
	CU_ASSERT_TRUE(doubles > 0 && doubles < 49);
	natemu_free(n);
}

static void test_port_random_parity_range(void)
{
	struct natemu_cfg cfg;
	natemu_t *n;
	unsigned ascending = 0;
	uint16_t prev = 0;

	natemu_cfg_default(&cfg);
	cfg.mapping = NATEMU_ADDRESS_AND_PORT_DEPENDENT;
	cfg.ports = NATEMU_PORTS_RANDOM;
	cfg.parity = true;
	cfg.port_lo = 30000;
	cfg.port_hi = 39999;
	n = make(&cfg);
	for (uint16_t d = 0; d < 100; d++) {
		uint16_t inside = (uint16_t)(5001 + d % 2);
		uint16_t p = port_of(out(n, udp(HOST_A, inside, R1, (uint16_t)(3000 + d)), 0));

		CU_ASSERT_TRUE(p >= 30000 && p <= 39999);
		CU_ASSERT_EQUAL(p % 2, inside % 2);
		ascending += p == prev + 1 || p == prev + 2;
		prev = p;
	}
	CU_ASSERT_TRUE(ascending < 10); /* random, not sequential */
	natemu_free(n);
}

static void test_pooling(void)
{
	struct natemu_cfg cfg;
	natemu_t *n;
	unsigned on_pub2 = 0;

	natemu_cfg_default(&cfg);
	cfg.mapping = NATEMU_ADDRESS_AND_PORT_DEPENDENT;
	cfg.pool[0] = PUB1;
	cfg.pool[1] = PUB2;
	cfg.npool = 2;
	n = make(&cfg);
	uint32_t first = ip_of(out(n, udp(HOST_A, 5000, R1, 1), 0));
	for (uint16_t d = 2; d < 20; d++)
		CU_ASSERT_EQUAL(ip_of(out(n, udp(HOST_A, (uint16_t)(5000 + d), R1, d), 0)), first);
	natemu_free(n);

	cfg.pooling = NATEMU_POOL_ARBITRARY;
	n = make(&cfg);
	for (uint16_t d = 1; d < 20; d++)
		on_pub2 += ip_of(out(n, udp(HOST_A, (uint16_t)(5000 + d), R1, d), 0)) == PUB2;
	CU_ASSERT_TRUE(on_pub2 > 0 && on_pub2 < 19);
	natemu_free(n);
}

/* B sends to A's public endpoint. */
static struct natemu_result hairpin_with(enum natemu_hairpin mode, uint64_t *a_pub, uint64_t *b_pub)
{
	struct natemu_cfg cfg;
	natemu_t *n;
	struct natemu_result r;
	struct natemu_pkt p;

	natemu_cfg_default(&cfg);
	cfg.hairpin = mode;
	cfg.filtering = NATEMU_ENDPOINT_INDEPENDENT;
	n = make(&cfg);
	*a_pub = out(n, udp(HOST_A, 4000, R1, 3478), 0);
	*b_pub = out(n, udp(HOST_B, 4001, R1, 3478), 0);
	p = udp(HOST_B, 4001, ip_of(*a_pub), port_of(*a_pub));
	r = natemu_process(n, NATEMU_INSIDE, &p, 1);
	natemu_free(n);
	return r;
}

static void test_hairpinning(void)
{
	uint64_t a, b;
	struct natemu_result r;

	r = hairpin_with(NATEMU_HAIRPIN_OFF, &a, &b);
	CU_ASSERT_EQUAL(r.verdict, NATEMU_DROP);
	CU_ASSERT_STRING_EQUAL(r.reason, "hairpinning off");

	r = hairpin_with(NATEMU_HAIRPIN_EXTERNAL, &a, &b);
	CU_ASSERT_EQUAL(r.verdict, NATEMU_FORWARD);
	CU_ASSERT_EQUAL(r.to, NATEMU_INSIDE);
	CU_ASSERT_EQUAL(r.pkt.dst_ip, HOST_A);
	CU_ASSERT_EQUAL(r.pkt.dst_port, 4000);
	CU_ASSERT_EQUAL(r.pkt.src_ip, ip_of(b));
	CU_ASSERT_EQUAL(r.pkt.src_port, port_of(b));

	r = hairpin_with(NATEMU_HAIRPIN_INTERNAL, &a, &b);
	CU_ASSERT_EQUAL(r.verdict, NATEMU_FORWARD);
	CU_ASSERT_EQUAL(r.pkt.dst_ip, HOST_A);
	CU_ASSERT_EQUAL(r.pkt.src_ip, HOST_B);
	CU_ASSERT_EQUAL(r.pkt.src_port, 4001);
}

/* RFC 4787 REQ-5/REQ-6: lifetime, and refresh by inbound traffic or not. */
static void test_lifetime_and_refresh(void)
{
	for (int refresh = 0; refresh < 2; refresh++) {
		struct natemu_cfg cfg;
		natemu_t *n;
		uint64_t e;

		natemu_cfg_default(&cfg);
		cfg.udp_lifetime_ms = 30000;
		cfg.inbound_refresh = refresh;
		n = make(&cfg);
		e = out(n, udp(HOST_A, 7000, R1, 3478), 0);
		CU_ASSERT_TRUE(in_reaches(n, R1, 3478, e, HOST_A, 7000, 29999));
		/* Only inbound traffic in between: alive at 50 s only if it refreshed. */
		CU_ASSERT_EQUAL(in_reaches(n, R1, 3478, e, HOST_A, 7000, 50000), refresh);
		CU_ASSERT_EQUAL(natemu_mappings(n, 50001), (size_t)refresh);
		natemu_free(n);
	}
}

static struct natemu_result syn_in(natemu_t *n, uint64_t pub, uint32_t rip, uint16_t rport,
				   uint8_t flags, uint64_t now)
{
	struct natemu_pkt p = tcp(rip, rport, ip_of(pub), port_of(pub), flags);

	return natemu_process(n, NATEMU_OUTSIDE, &p, now);
}

/* RFC 5382 7.1: an unsolicited SYN gets what the settings say. */
static void test_unsolicited_syn(void)
{
	static const enum natemu_verdict want[] = {NATEMU_DROP, NATEMU_SEND_RST, NATEMU_SEND_ICMP};

	for (int mode = 0; mode < 3; mode++) {
		struct natemu_cfg cfg;
		natemu_t *n;
		struct natemu_result r;

		natemu_cfg_default(&cfg);
		cfg.unsolicited_syn = (enum natemu_syn_reply)mode;
		n = make(&cfg);
		r = syn_in(n, (uint64_t)PUB1 << 16 | 8000, R1, 4444, SYN, 0);
		CU_ASSERT_EQUAL(r.verdict, want[mode]);
		CU_ASSERT_STRING_EQUAL(r.reason, "no mapping");
		/* A non-SYN segment is only ever dropped. */
		r = syn_in(n, (uint64_t)PUB1 << 16 | 8000, R1, 4444, ACK, 0);
		CU_ASSERT_EQUAL(r.verdict, NATEMU_DROP);
		natemu_free(n);
	}
}

/* RFC 5382 REQ-2: an outbound SYN, then the peer's own SYN (not a SYN-ACK). */
static void test_simultaneous_open_and_timeouts(void)
{
	for (int simopen = 0; simopen < 2; simopen++) {
		struct natemu_cfg cfg;
		natemu_t *n;
		struct natemu_result r;
		uint64_t e;

		natemu_cfg_default(&cfg);
		cfg.simultaneous_open = simopen;
		cfg.unsolicited_syn = NATEMU_SYN_RST;
		cfg.tcp_transitory_ms = 10000;
		cfg.tcp_established_ms = 100000;
		n = make(&cfg);
		e = out(n, tcp(HOST_A, 9000, R1, 443, SYN), 0);
		CU_ASSERT_TRUE_FATAL(e != 0);
		r = syn_in(n, e, R1, 443, SYN, 5);
		CU_ASSERT_EQUAL(r.verdict, simopen ? NATEMU_FORWARD : NATEMU_SEND_RST);
		natemu_free(n);
	}

	/* A SYN-ACK establishes: the mapping then outlives the transitory timeout. */
	struct natemu_cfg cfg;
	natemu_t *n;
	uint64_t e;

	natemu_cfg_default(&cfg);
	cfg.tcp_transitory_ms = 10000;
	cfg.tcp_established_ms = 100000;
	n = make(&cfg);
	e = out(n, tcp(HOST_A, 9001, R1, 443, SYN), 0);
	CU_ASSERT_EQUAL(syn_in(n, e, R1, 443, SYN | ACK, 5).verdict, NATEMU_FORWARD);
	CU_ASSERT_EQUAL(syn_in(n, e, R1, 443, ACK, 50000).verdict, NATEMU_FORWARD);
	/* Unanswered, a SYN's mapping lasts only the transitory time. */
	e = out(n, tcp(HOST_A, 9002, R1, 443, SYN), 0);
	CU_ASSERT_EQUAL(syn_in(n, e, R1, 443, SYN | ACK, 10001).verdict, NATEMU_DROP);
	natemu_free(n);
}

/* Connections on one mapping each keep their own state (RFC 5382 REQ-1's
 * endpoint-independent mapping carries several at once). */
static void test_connections_on_one_mapping(void)
{
	static const uint16_t rport[] = {3478, 3479};
	static const uint32_t rip[] = {R1, R2};
	struct natemu_cfg cfg;
	natemu_t *n;
	uint64_t e = 0;

	natemu_cfg_default(&cfg);
	cfg.tcp_transitory_ms = 10000;
	cfg.tcp_established_ms = 100000;
	n = make(&cfg);
	for (int i = 0; i < 4; i++) {
		uint64_t ei = out(n, tcp(HOST_A, 9000, rip[i / 2], rport[i % 2], SYN), i);

		CU_ASSERT_TRUE_FATAL(ei != 0);
		CU_ASSERT_TRUE(e == 0 || ei == e); /* one mapping for all four */
		e = ei;
		CU_ASSERT_EQUAL(syn_in(n, e, rip[i / 2], rport[i % 2], SYN | ACK, i).verdict,
				NATEMU_FORWARD);
	}
	/* One is reset: the other three stay established past the transitory time. */
	CU_ASSERT_EQUAL(syn_in(n, e, R1, 3478, 0x04, 10).verdict, NATEMU_FORWARD);
	CU_ASSERT_EQUAL(syn_in(n, e, R2, 3479, ACK, 50000).verdict, NATEMU_FORWARD);
	/* A new connection on the live mapping is tracked from its own SYN. */
	CU_ASSERT_EQUAL(out(n, tcp(HOST_A, 9000, R1, 80, SYN), 50000), e);
	CU_ASSERT_EQUAL(syn_in(n, e, R1, 80, SYN | ACK, 50001).verdict, NATEMU_FORWARD);
	/* All close: the mapping then lasts only the transitory time. */
	for (int i = 1; i < 4; i++)
		out(n, tcp(HOST_A, 9000, rip[i / 2], rport[i % 2], 0x01 | ACK), 60000);
	out(n, tcp(HOST_A, 9000, R1, 80, 0x01 | ACK), 60000);
	CU_ASSERT_EQUAL(natemu_mappings(n, 69999), 1);
	CU_ASSERT_EQUAL(natemu_mappings(n, 70001), 0);
	natemu_free(n);
}

/* simultaneous-open=off refuses only the SYN that crosses ours; a new
 * connection from outside still goes by the filter. */
static void test_simultaneous_open_off_only_crossing(void)
{
	for (int f = 0; f < 3; f++) {
		struct natemu_cfg cfg;
		natemu_t *n;
		uint64_t e;

		natemu_cfg_default(&cfg);
		cfg.filtering = (enum natemu_dependence)f;
		cfg.simultaneous_open = false;
		cfg.unsolicited_syn = NATEMU_SYN_RST;
		n = make(&cfg);
		e = out(n, tcp(HOST_A, 9000, R1, 443, SYN), 0);
		CU_ASSERT_TRUE_FATAL(e != 0);
		/* A SYN from another address: in only through an endpoint-independent filter. */
		CU_ASSERT_EQUAL(syn_in(n, e, R2, 5555, SYN, 1).verdict,
				f == NATEMU_ENDPOINT_INDEPENDENT ? NATEMU_FORWARD
								 : NATEMU_SEND_RST);
		/* From the same address, another port: also through an address-dependent one. */
		CU_ASSERT_EQUAL(syn_in(n, e, R1, 5555, SYN, 2).verdict,
				f == NATEMU_ADDRESS_AND_PORT_DEPENDENT ? NATEMU_SEND_RST
								       : NATEMU_FORWARD);
		/* The crossing SYN is refused under every filter, the SYN-ACK is not. */
		CU_ASSERT_EQUAL(syn_in(n, e, R1, 443, SYN, 3).verdict, NATEMU_SEND_RST);
		CU_ASSERT_EQUAL(syn_in(n, e, R1, 443, SYN | ACK, 4).verdict, NATEMU_FORWARD);
		/* An inside answer to an inbound SYN establishes that connection. */
		if (f == NATEMU_ENDPOINT_INDEPENDENT) {
			CU_ASSERT_EQUAL(out(n, tcp(HOST_A, 9000, R2, 5555, SYN | ACK), 5), e);
			CU_ASSERT_EQUAL(syn_in(n, e, R2, 5555, ACK, 200000).verdict,
					NATEMU_FORWARD);
		}
		natemu_free(n);
	}
}

static void test_table_and_ports_bounded(void)
{
	struct natemu_cfg cfg;
	natemu_t *n;
	struct natemu_pkt p;
	struct natemu_result r;

	natemu_cfg_default(&cfg);
	cfg.mapping = NATEMU_ADDRESS_AND_PORT_DEPENDENT;
	cfg.port_lo = 50000;
	cfg.port_hi = 50003;
	n = make(&cfg);
	for (uint16_t d = 0; d < 4; d++)
		CU_ASSERT_TRUE(out(n, udp(HOST_A, 5000, R1, d + 1), 0) != 0);
	p = udp(HOST_A, 5000, R1, 99);
	r = natemu_process(n, NATEMU_INSIDE, &p, 0);
	CU_ASSERT_EQUAL(r.verdict, NATEMU_DROP);
	CU_ASSERT_STRING_EQUAL(r.reason, "public ports exhausted");
	natemu_free(n);

	cfg.port_hi = 65535;
	cfg.ports = NATEMU_PORTS_RANDOM; /* a free port at once: keeps the fill fast */
	n = make(&cfg);
	for (unsigned d = 0; d < NATEMU_MAX_MAPPINGS; d++)
		out(n, udp(HOST_A, 5000, R1 + d / 1000, (uint16_t)(d % 1000 + 1)), 0);
	CU_ASSERT_EQUAL(natemu_mappings(n, 0), NATEMU_MAX_MAPPINGS);
	p = udp(HOST_B, 5000, R2, 1);
	r = natemu_process(n, NATEMU_INSIDE, &p, 0);
	CU_ASSERT_STRING_EQUAL(r.reason, "mapping table full");
	natemu_free(n);
}

/* A mapping that has sent to a thousand remote ports (birthday punching's
 * guesses) still takes the answer from the first: every remote is
 * remembered, up to NATEMU_MAX_REMOTES, then the oldest go. */
static void test_many_remotes(void)
{
	struct natemu_cfg cfg;
	natemu_t *n;
	uint64_t ep = 0;

	natemu_cfg_default(&cfg);
	cfg.filtering = NATEMU_ADDRESS_AND_PORT_DEPENDENT;
	n = make(&cfg);
	for (uint16_t p = 0; p < 1000; p++)
		ep = out(n, udp(HOST_A, 5000, R1, (uint16_t)(20000 + p)), 1000);
	CU_ASSERT_TRUE(in_reaches(n, R1, 20000, ep, HOST_A, 5000, 1001));
	CU_ASSERT_TRUE(in_reaches(n, R1, 20999, ep, HOST_A, 5000, 1001));
	CU_ASSERT_FALSE(in_reaches(n, R1, 21000, ep, HOST_A, 5000, 1001));
	/* Past the bound, the oldest are forgotten first. */
	for (uint32_t p = 1000; p < NATEMU_MAX_REMOTES + 1; p++)
		out(n, udp(HOST_A, 5000, R1, (uint16_t)(20000 + p)), 1000);
	CU_ASSERT_FALSE(in_reaches(n, R1, 20000, ep, HOST_A, 5000, 1002));
	CU_ASSERT_TRUE(in_reaches(n, R1, 20001, ep, HOST_A, 5000, 1002));
	natemu_free(n);
}

/* An ICMP error from R1 about what the mapping at pub sent to rip:rport. */
static struct natemu_result icmp_in(natemu_t *n, uint64_t pub, uint8_t proto, uint32_t rip,
				    uint16_t rport, uint64_t now)
{
	struct natemu_pkt p = {.proto = IPPROTO_ICMP, .src_ip = R1, .dst_ip = ip_of(pub)};

	p.quoted = (struct natemu_quoted){proto, ip_of(pub), rip, port_of(pub), rport};
	return natemu_process(n, NATEMU_OUTSIDE, &p, now);
}

/* RFC 5382 REQ-9, REQ-10: an ICMP error about a live connection goes in,
 * translated (icmp=translate), is dropped (drop), or goes in and ends the
 * connection (kill), after which its segments no longer pass; one about no
 * mapping or another connection is dropped; one from inside is not sent. */
static void test_icmp_errors(void)
{
	for (int mode = 0; mode < 3; mode++) {
		struct natemu_cfg cfg;
		natemu_t *n;
		struct natemu_result r;
		uint64_t e, u;

		natemu_cfg_default(&cfg);
		cfg.icmp = (enum natemu_icmp)mode;
		n = make(&cfg);
		e = out(n, tcp(HOST_A, 9000, R1, 443, SYN), 0);
		CU_ASSERT_TRUE_FATAL(e != 0);
		CU_ASSERT_EQUAL(syn_in(n, e, R1, 443, SYN | ACK, 1).verdict, NATEMU_FORWARD);
		CU_ASSERT_EQUAL(out(n, tcp(HOST_A, 9000, R1, 443, ACK), 2), e);
		CU_ASSERT_EQUAL(icmp_in(n, e, IPPROTO_TCP, R2, 443, 3).verdict, NATEMU_DROP);
		r = icmp_in(n, e, IPPROTO_TCP, R1, 443, 3);
		CU_ASSERT_EQUAL(r.verdict, mode == NATEMU_ICMP_DROP ? NATEMU_DROP : NATEMU_FORWARD);
		if (r.verdict == NATEMU_FORWARD) {
			CU_ASSERT_EQUAL(r.to, NATEMU_INSIDE);
			CU_ASSERT_EQUAL(r.pkt.dst_ip, HOST_A);
			CU_ASSERT_EQUAL(r.pkt.quoted.src_ip, HOST_A);
			CU_ASSERT_EQUAL(r.pkt.quoted.src_port, 9000);
			CU_ASSERT_EQUAL(r.pkt.quoted.dst_ip, R1);
		}
		/* The connection after it: alive unless killed. */
		CU_ASSERT_EQUAL(out(n, tcp(HOST_A, 9000, R1, 443, ACK), 4),
				mode == NATEMU_ICMP_KILL ? 0 : e);
		CU_ASSERT_EQUAL(syn_in(n, e, R1, 443, ACK, 5).verdict,
				mode == NATEMU_ICMP_KILL ? NATEMU_DROP : NATEMU_FORWARD);
		/* UDP likewise: a killed mapping is gone. */
		u = out(n, udp(HOST_A, 5000, R1, 3478), 6);
		CU_ASSERT_TRUE_FATAL(u != 0);
		CU_ASSERT_EQUAL(icmp_in(n, u, IPPROTO_UDP, R1, 3478, 7).verdict,
				mode == NATEMU_ICMP_DROP ? NATEMU_DROP : NATEMU_FORWARD);
		CU_ASSERT_EQUAL(natemu_mappings(n, 8), mode == NATEMU_ICMP_KILL ? 0 : 2);
		r = natemu_process(
		    n, NATEMU_INSIDE,
		    &(struct natemu_pkt){.proto = IPPROTO_ICMP, .src_ip = HOST_A, .dst_ip = R1}, 9);
		CU_ASSERT_EQUAL(r.verdict, NATEMU_DROP);
		natemu_free(n);
	}
}

/* A tracked TCP connection: a segment other than a SYN for a connection
 * the NAT never saw open, or that expired, is dropped. */
static void test_tcp_segment_of_no_connection(void)
{
	struct natemu_cfg cfg;
	natemu_t *n;
	uint64_t e;

	natemu_cfg_default(&cfg);
	cfg.tcp_transitory_ms = 10000;
	n = make(&cfg);
	CU_ASSERT_EQUAL(out(n, tcp(HOST_A, 9000, R1, 443, ACK), 0), 0);
	e = out(n, tcp(HOST_A, 9000, R1, 443, SYN), 0);
	CU_ASSERT_TRUE_FATAL(e != 0);
	CU_ASSERT_EQUAL(out(n, tcp(HOST_A, 9000, R1, 443, ACK), 1), e);
	/* Another destination on the same (endpoint-independent) mapping. */
	CU_ASSERT_EQUAL(out(n, tcp(HOST_A, 9000, R2, 443, ACK), 2), 0);
	CU_ASSERT_EQUAL(out(n, tcp(HOST_A, 9000, R1, 443, ACK), 20000), 0);
	natemu_free(n);
}

static void test_settings_from_text(void)
{
	struct natemu_cfg cfg;
	char err[160] = "";

	natemu_cfg_default(&cfg);
	CU_ASSERT_EQUAL(natemu_cfg_set(&cfg, "mapping", "address-dependent", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.mapping, NATEMU_ADDRESS_DEPENDENT);
	CU_ASSERT_EQUAL(natemu_cfg_set(&cfg, "filtering", "endpoint-independent", err, 160), 0);
	CU_ASSERT_EQUAL(cfg.filtering, NATEMU_ENDPOINT_INDEPENDENT);
	CU_ASSERT_EQUAL(natemu_cfg_set(&cfg, "pool", "203.0.113.1,203.0.113.2", err, 160), 0);
	CU_ASSERT_EQUAL(cfg.npool, 2);
	CU_ASSERT_EQUAL(cfg.pool[1], PUB2);
	CU_ASSERT_EQUAL(natemu_cfg_set(&cfg, "range", "1024-2047", err, 160), 0);
	CU_ASSERT_EQUAL(cfg.port_hi, 2047);
	CU_ASSERT_EQUAL(natemu_cfg_set(&cfg, "udp-lifetime", "30", err, 160), 0);
	CU_ASSERT_EQUAL(cfg.udp_lifetime_ms, 30000);
	CU_ASSERT_EQUAL(natemu_cfg_set(&cfg, "parity", "on", err, 160), 0);
	CU_ASSERT_TRUE(cfg.parity);
	CU_ASSERT_EQUAL(natemu_cfg_set(&cfg, "skip", "0", err, 160), 0);
	CU_ASSERT_EQUAL(natemu_cfg_set(&cfg, "icmp", "kill", err, 160), 0);
	CU_ASSERT_EQUAL(cfg.icmp, NATEMU_ICMP_KILL);
	CU_ASSERT_EQUAL(natemu_cfg_set(&cfg, "icmp", "eat", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "bad icmp 'eat': want translate, drop or kill");

	CU_ASSERT_EQUAL(natemu_cfg_set(&cfg, "mapping", "symmetric", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "bad mapping 'symmetric': want endpoint-independent, "
				    "address-dependent or address-and-port-dependent");
	CU_ASSERT_EQUAL(natemu_cfg_set(&cfg, "delta", "0", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "bad delta '0': want a whole number from 1 to 86400 "
				    "(seconds for lifetimes)");
	CU_ASSERT_EQUAL(natemu_cfg_set(&cfg, "range", "2000-1000", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err,
			       "bad range '2000-1000': want LO-HI with 1 <= LO <= HI <= 65535");
	CU_ASSERT_EQUAL(natemu_cfg_set(&cfg, "pool", "203.0.113.300", err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(natemu_cfg_set(&cfg, "colour", "blue", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "unknown natemu setting 'colour'");
}

int test_natemu_register(void)
{
	static const struct test_case tests[] = {
	    {"every mapping x filtering combination", test_mapping_filtering_grid},
	    {"port preservation with fallback", test_port_preserving},
	    {"sequential ports, delta and skips", test_port_sequential},
	    {"random ports, parity, range", test_port_random_parity_range},
	    {"paired and arbitrary pooling", test_pooling},
	    {"hairpinning off, external, internal", test_hairpinning},
	    {"UDP lifetime and inbound refresh", test_lifetime_and_refresh},
	    {"unsolicited SYN: drop, RST, ICMP", test_unsolicited_syn},
	    {"TCP simultaneous open and timeouts", test_simultaneous_open_and_timeouts},
	    {"TCP: connections on one mapping, each its own state",
	     test_connections_on_one_mapping},
	    {"TCP: simultaneous-open=off refuses only the crossing SYN",
	     test_simultaneous_open_off_only_crossing},
	    {"ports and table bounded", test_table_and_ports_bounded},
	    {"a thousand remotes remembered for the filter", test_many_remotes},
	    {"ICMP errors: translated, dropped, or ending the connection", test_icmp_errors},
	    {"TCP: a segment of no connection is dropped", test_tcp_segment_of_no_connection},
	    {"settings from text", test_settings_from_text},
	};
	return TEST_SUITE("natemu core", tests);
}
