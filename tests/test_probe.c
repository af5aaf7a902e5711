/*
 * natprobe's engine and tests against a simulated network: the probe's
 * packets go through natemu's translation core (the NAT, with the settings
 * under test) to natreflector's handler (the reflector) and back, with a
 * delay and, when asked, random loss in both directions. Every mapping x
 * filtering x port-allocation combination must be classified exactly when
 * nothing is lost, and never wrongly when 10% or 30% is.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <arpa/inet.h>

#include "addr.h"
#include "probe/tests.h"
#include "reflector/handler.h"
#include "testbeds/natemu/nat.h"
#include "testlib.h"

#define INSIDE_IP    0x0A000002u /* 10.0.0.2 */
#define PEER_IP      0x0A000003u /* 10.0.0.3: the second host (--peer) */
#define PEER_SOCK    0x10000     /* its sockets' handles: PEER_SOCK + port */
#define PUBLIC_IP    0xC6336401u /* 198.51.100.1 */
#define ALTERNATE_IP 0xCB00710Bu /* 203.0.113.11: the reflector's alternate address */
#define INSIDE_IP2   0x0A000102u /* 10.0.1.2: this host's second address */
#define DELAY_US     1000
#define MAX_FLIGHT   1024

struct packet {
	bool inbound; /* towards the probe */
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port;
	uint64_t at_us;
	size_t len;
	uint8_t data[256];
};

struct sim {
	natemu_t *nat; /* NULL: no NAT */
	struct refl_cfg refl;
	struct packet flight[MAX_FLIGHT];
	size_t nflight;
	uint64_t now_us, rng;
	unsigned loss_percent;
	uint16_t next_port;
	bool drops_own;          /* the host drops packets from its own address */
	bool peer;               /* a second host behind the same NAT */
	unsigned lifetime_max_s; /* nonzero: the lifetime test too, with this bound */
	/* The host cannot send to the reflector's alternate address from the
	 * address it reaches the primary from (its sends there fail). */
	bool unroutable_alternate;
	const char *peer_missing; /* a second host was asked for, and is missing */
	/* The host's sockets are bound to the wildcard address, as natprobe's
	 * once were, and its route to the alternate address leaves from a
	 * second address: each socket is two internal endpoints. */
	bool wildcard;
	probe_engine_t *engine;
};

static void from_sockaddr(const struct sockaddr *sa, uint32_t *ip, uint16_t *port)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

	*ip = ntohl(in->sin_addr.s_addr);
	*port = ntohs(in->sin_port);
}

static bool lost(struct sim *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng % 100 < s->loss_percent;
}

static void fly(struct sim *s, const struct packet *p)
{
	if (lost(s) || s->nflight == MAX_FLIGHT)
		return;
	s->flight[s->nflight] = *p;
	s->flight[s->nflight++].at_us = s->now_us + DELAY_US;
}

static int sim_open(void *ctx, const struct sockaddr *toward, struct sockaddr_storage *local)
{
	struct sim *s = ctx;

	(void)toward;
	test_sockaddr_v4(INSIDE_IP, s->next_port, local);
	return s->next_port++;
}

/* Ports N and N+1, N even: the next even one and its neighbour. */
static int sim_open_pair(void *ctx, const struct sockaddr *toward, int handles[2],
			 struct sockaddr_storage local[2])
{
	struct sim *s = ctx;

	s->next_port += s->next_port & 1;
	for (int i = 0; i < 2; i++)
		handles[i] = sim_open(ctx, toward, &local[i]);
	return 0;
}

static int sim_open_peer(void *ctx, const struct sockaddr *toward, uint16_t port,
			 struct sockaddr_storage *local)
{
	struct sim *s = ctx;

	(void)toward;
	if (!port)
		port = s->next_port++;
	test_sockaddr_v4(PEER_IP, port, local);
	return PEER_SOCK + port;
}

static int sim_send(void *ctx, int sock, const struct sockaddr *to, const uint8_t *msg, size_t len)
{
	struct sim *s = ctx;
	struct packet p = {.src_ip = sock >= PEER_SOCK ? PEER_IP : INSIDE_IP,
			   .src_port = (uint16_t)sock,
			   .len = len};

	from_sockaddr(to, &p.dst_ip, &p.dst_port);
	if (s->unroutable_alternate && p.dst_ip == ALTERNATE_IP)
		return -1;
	if (s->wildcard && p.dst_ip == ALTERNATE_IP && p.src_ip == INSIDE_IP)
		p.src_ip = INSIDE_IP2;
	memcpy(p.data, msg, len < sizeof(p.data) ? len : sizeof(p.data));
	fly(s, &p);
	return 0;
}

/* The NAT, in either direction; false when it does not forward. A packet
 * it hairpins comes back marked inbound. */
static bool translate(struct sim *s, struct packet *p)
{
	struct natemu_pkt k = {.proto = IPPROTO_UDP,
			       .src_ip = p->src_ip,
			       .dst_ip = p->dst_ip,
			       .src_port = p->src_port,
			       .dst_port = p->dst_port};
	struct natemu_result r;

	if (!s->nat)
		return true;
	r = natemu_process(s->nat, p->inbound ? NATEMU_OUTSIDE : NATEMU_INSIDE, &k,
			   s->now_us / 1000);
	if (r.verdict != NATEMU_FORWARD)
		return false;
	p->inbound = r.to == NATEMU_INSIDE;
	p->src_ip = r.pkt.src_ip;
	p->dst_ip = r.pkt.dst_ip;
	p->src_port = r.pkt.src_port;
	p->dst_port = r.pkt.dst_port;
	return true;
}

/* The reflector: its handler, on the role the packet reached. */
static void reflect(struct sim *s, const struct packet *p)
{
	struct sockaddr_storage from, to;
	struct refl_reply out;
	struct packet reply = {.inbound = true};
	int role = -1;

	test_sockaddr_v4(p->dst_ip, p->dst_port, &to);
	for (int r = 0; r < 4; r++)
		if (addr_equal((struct sockaddr *)&to, (struct sockaddr *)&s->refl.advertised[r]))
			role = r;
	if (role < 0)
		return;
	test_sockaddr_v4(p->src_ip, p->src_port, &from);
	refl_handle(&s->refl,
		    &(struct refl_request){p->data, p->len, (enum refl_role)role,
					   (struct sockaddr *)&from, false},
		    reply.data, sizeof(reply.data), &out);
	if (!out.len)
		return;
	reply.len = out.len;
	from_sockaddr((struct sockaddr *)&s->refl.advertised[out.role], &reply.src_ip,
		      &reply.src_port);
	from_sockaddr((struct sockaddr *)&out.to, &reply.dst_ip, &reply.dst_port);
	fly(s, &reply);
}

static void deliver(struct sim *s, struct packet *p)
{
	struct sockaddr_storage from;

	if (!translate(s, p))
		return;
	if (!p->inbound && (p->dst_ip == INSIDE_IP || p->dst_ip == INSIDE_IP2 ||
			    p->dst_ip == PEER_IP)) /* no NAT */
		p->inbound = true;
	if (!p->inbound) {
		reflect(s, p);
		return;
	}
	if (p->dst_ip == INSIDE_IP2 && s->wildcard)
		p->dst_ip = INSIDE_IP; /* the same socket: the wildcard takes both */
	if (p->dst_ip != INSIDE_IP && (p->dst_ip != PEER_IP || !s->peer))
		return;
	if (s->drops_own && p->src_ip == p->dst_ip)
		return;
	test_sockaddr_v4(p->src_ip, p->src_port, &from);
	probe_engine_receive(s->engine, p->dst_port + (p->dst_ip == PEER_IP ? PEER_SOCK : 0),
			     (struct sockaddr *)&from, p->data, p->len, s->now_us);
}

/* Run until the engine is done (or 600 simulated seconds). */
static void run(struct sim *s)
{
	while (!probe_engine_done(s->engine) && s->now_us < 600000000u) {
		uint64_t next = probe_engine_deadline(s->engine);
		size_t first = MAX_FLIGHT;

		for (size_t i = 0; i < s->nflight; i++)
			if (s->flight[i].at_us <= next) {
				next = s->flight[i].at_us;
				first = i;
			}
		if (next > s->now_us)
			s->now_us = next;
		if (first < MAX_FLIGHT) {
			struct packet p = s->flight[first];

			s->flight[first] = s->flight[--s->nflight];
			deliver(s, &p);
		} else {
			probe_engine_tick(s->engine, s->now_us);
		}
	}
}

static void sim_setup(struct sim *s, const struct natemu_cfg *nat, unsigned loss, uint64_t seed)
{
	static const char *const roles[4] = {"203.0.113.10:3478", "203.0.113.10:3479",
					     "203.0.113.11:3478", "203.0.113.11:3479"};
	char err[128];

	memset(s, 0, sizeof(*s));
	for (int r = 0; r < 4; r++)
		addr_parse(roles[r], ADDR_PORT_REQUIRED, 0, &s->refl.advertised[r], err,
			   sizeof(err));
	s->nat = nat ? natemu_new(nat, seed) : NULL;
	s->loss_percent = loss;
	s->rng = seed * 0x9E3779B97F4A7C15ull + 1;
	s->next_port = 40000;
	s->now_us = 1000000;
}

static void probe(struct sim *s, struct probe_result *res)
{
	struct probe_io io = {.ctx = s,
			      .open = sim_open,
			      .send = sim_send,
			      .open_peer = s->peer ? sim_open_peer : NULL,
			      .open_pair = sim_open_pair,
			      .own_source_visible = !s->drops_own,
			      .peer_missing = s->peer_missing,
			      .lifetime_max_s = s->lifetime_max_s};
	const struct probe_test *tests[16];
	size_t n = 0;

	/* The default UDP battery; the lifetime test only when asked, as natprobe
	 * does. The TCP tests have their own simulated network (test_probe_tcp.c). */
	for (size_t i = 0; i < probe_ntests; i++)
		if (!probe_tests[i]->tcp && (!probe_tests[i]->opt_in || s->lifetime_max_s))
			tests[n++] = probe_tests[i];
	s->engine =
	    probe_engine_new(&io, (struct sockaddr *)&s->refl.advertised[0], tests, n, s->now_us);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s->engine);
	run(s);
	probe_engine_result(s->engine, res);
	probe_engine_free(s->engine);
	natemu_free(s->nat);
}

static const enum probe_mapping want_mapping[3] = {PROBE_MAPPING_EI, PROBE_MAPPING_AD,
						   PROBE_MAPPING_APD};
static const enum probe_filtering want_filtering[3] = {PROBE_FILTERING_EI, PROBE_FILTERING_AD,
						       PROBE_FILTERING_APD};
static const enum probe_ports want_ports[3] = {PROBE_PORTS_PRESERVING, PROBE_PORTS_SEQUENTIAL,
					       PROBE_PORTS_RANDOM};

static struct natemu_cfg nat_cfg(int mapping, int filtering, int ports)
{
	struct natemu_cfg cfg;

	natemu_cfg_default(&cfg);
	cfg.mapping = (enum natemu_dependence)mapping;
	cfg.filtering = (enum natemu_dependence)filtering;
	cfg.ports = (enum natemu_ports)ports;
	cfg.pool[0] = PUBLIC_IP;
	cfg.npool = 1;
	return cfg;
}

/* One socket toward the four endpoints in turn: one port for all through
 * endpoint-independent mapping; two mappings only (no pattern from one step)
 * through address-dependent; otherwise the allocation's own pattern, which
 * preserving turns into steps of one (the next free port). */
static enum probe_dest_ports want_dest(int mapping, int ports)
{
	if (mapping == NATEMU_ENDPOINT_INDEPENDENT)
		return PROBE_DEST_SAME;
	if (mapping == NATEMU_ADDRESS_DEPENDENT)
		return PROBE_DEST_INCONCLUSIVE;
	return ports == NATEMU_PORTS_RANDOM ? PROBE_DEST_RANDOM : PROBE_DEST_SEQUENTIAL;
}

/* No loss: every combination exactly, in under a simulated second. */
static void test_grid_exact(void)
{
	for (int m = 0; m < 3; m++) {
		for (int f = 0; f < 3; f++) {
			for (int p = 0; p < 3; p++) {
				struct natemu_cfg cfg = nat_cfg(m, f, p);
				struct probe_result res;
				struct sim s;

				sim_setup(&s, &cfg, 0, (uint64_t)(m * 9 + f * 3 + p + 1));
				probe(&s, &res);
				CU_ASSERT_EQUAL(res.nat, PROBE_YES);
				CU_ASSERT_EQUAL(res.mapping, want_mapping[m]);
				CU_ASSERT_EQUAL(res.filtering, want_filtering[f]);
				CU_ASSERT_EQUAL(res.port_pattern, want_ports[p]);
				CU_ASSERT_TRUE(res.duration_us < 1000000);
				CU_ASSERT_EQUAL(res.dest_pattern, want_dest(m, p));
				CU_ASSERT_TRUE(res.contiguity_tested);
				CU_ASSERT_EQUAL(res.contiguity,
						p == NATEMU_PORTS_RANDOM ? PROBE_NO : PROBE_YES);
				if (res.mapping != want_mapping[m] ||
				    res.filtering != want_filtering[f])
					printf(
					    "\n    mapping %d filtering %d ports %d: got %s (%s) / "
					    "%s (%s)",
					    m, f, p, probe_mapping_name(res.mapping),
					    res.mapping_reason, probe_filtering_name(res.filtering),
					    res.filtering_reason);
			}
		}
	}
}

/* Hairpinning: off, or with the external or the internal source, under every
 * mapping x filtering. Decided exactly wherever endpoint-independent mapping
 * or filtering lets it be seen; inconclusive elsewhere; never wrong. */
static bool hairpin_wrong(const struct probe_result *res, int hairpin)
{
	static const char *const source[3] = {"", "external", "internal"};

	if (res->hairpinning == PROBE_YES)
		return hairpin == NATEMU_HAIRPIN_OFF ||
		       strcmp(res->hairpin_source, source[hairpin]);
	return res->hairpinning == PROBE_NO && hairpin != NATEMU_HAIRPIN_OFF;
}

/* One run of the hairpin grid: hairpin setting h, mapping m, filtering f;
 * with peer, a second host, seen from a host that drops its own source. */
static void hairpin_case(int h, int m, int f, bool peer, struct probe_result *res)
{
	struct natemu_cfg cfg = nat_cfg(m, f, NATEMU_PORTS_PRESERVE);
	struct sim s;

	cfg.hairpin = (enum natemu_hairpin)h;
	sim_setup(&s, &cfg, 0, (uint64_t)(h * 9 + m * 3 + f + (peer ? 500 : 100)));
	s.peer = peer;
	s.drops_own = peer;
	probe(&s, res);
}

static void test_hairpin_grid(void)
{
	for (int h = 0; h < 3; h++) {
		for (int m = 0; m < 3; m++) {
			for (int f = 0; f < 3; f++) {
				bool visible = m == 0 || f == 0;
				struct probe_result res;

				hairpin_case(h, m, f, false, &res);
				CU_ASSERT_TRUE(res.hairpin_tested);
				CU_ASSERT_FALSE(hairpin_wrong(&res, h));
				if (visible) {
					CU_ASSERT_NOT_EQUAL(res.hairpinning, PROBE_UNKNOWN);
				} else {
					CU_ASSERT_STRING_NOT_EQUAL(res.hairpin_reason, "");
				}
			}
		}
	}
}

/* A host that drops packets from its own address cannot see internal-source
 * hairpinning: silence is then no verdict, but external is still seen. */
static void test_hairpin_own_source(void)
{
	for (int h = 0; h < 3; h++) {
		struct natemu_cfg cfg = nat_cfg(0, 2, NATEMU_PORTS_PRESERVE);
		struct probe_result res;
		struct sim s;

		cfg.hairpin = (enum natemu_hairpin)h;
		sim_setup(&s, &cfg, 0, (uint64_t)(h + 200));
		s.drops_own = true;
		probe(&s, &res);
		CU_ASSERT_FALSE(hairpin_wrong(&res, h));
		CU_ASSERT_EQUAL(res.hairpinning,
				h == NATEMU_HAIRPIN_EXTERNAL ? PROBE_YES : PROBE_UNKNOWN);
	}
}

/* Sequential allocation with a delta of 3 and skips (another host taking a
 * port now and then); parity kept by a random NAT that keeps it, and not by
 * one that does not. */
static void test_port_patterns(void)
{
	struct natemu_cfg cfg = nat_cfg(2, 2, NATEMU_PORTS_SEQUENTIAL);
	struct probe_result res;
	struct sim s;

	cfg.delta = 3;
	cfg.skip_percent = 10;
	sim_setup(&s, &cfg, 0, 301);
	probe(&s, &res);
	CU_ASSERT_EQUAL(res.port_pattern, PROBE_PORTS_SEQUENTIAL);
	CU_ASSERT_EQUAL(res.port_delta, 3);
	CU_ASSERT_TRUE(res.port_predictability > 0.5 && res.port_predictability <= 1.0);
	for (int parity = 0; parity < 2; parity++) {
		cfg = nat_cfg(0, 2, NATEMU_PORTS_RANDOM);
		cfg.parity = parity;
		sim_setup(&s, &cfg, 0, (uint64_t)(302 + parity));
		probe(&s, &res);
		CU_ASSERT_EQUAL(res.port_pattern, PROBE_PORTS_RANDOM);
		CU_ASSERT_EQUAL(res.port_parity, parity ? PROBE_YES : PROBE_NO);
		CU_ASSERT_EQUAL(res.port_nsamples, PROBE_PORT_SAMPLES);
	}
}

/* One host through a preserving NAT with two public addresses, pooled so. */
static void probe_pool(enum natemu_pooling pooling, uint64_t seed, struct probe_result *res)
{
	struct natemu_cfg cfg = nat_cfg(0, 2, NATEMU_PORTS_PRESERVE);
	struct sim s;

	cfg.pool[1] = PUBLIC_IP + 1;
	cfg.npool = 2;
	cfg.pooling = pooling;
	sim_setup(&s, &cfg, 0, seed);
	probe(&s, res);
}

/*
 * Contiguity: pairs of adjacent local ports keep adjacent public ports
 * through preserving allocation and sequential with a delta of 1, not
 * through a delta of 3 or random allocation. With 30% loss: right or
 * inconclusive. Arbitrary pooling keeps ports but draws each mapping's
 * address: never "kept", whatever the seed.
 */
static void test_contiguity(void)
{
	static const struct {
		enum natemu_ports ports;
		unsigned delta;
		enum probe_bool want;
	} cases[] = {{NATEMU_PORTS_PRESERVE, 1, PROBE_YES},
		     {NATEMU_PORTS_SEQUENTIAL, 1, PROBE_YES},
		     {NATEMU_PORTS_SEQUENTIAL, 3, PROBE_NO},
		     {NATEMU_PORTS_RANDOM, 1, PROBE_NO}};
	unsigned wrong = 0, unknown = 0;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (unsigned seed = 0; seed < 8; seed++) {
			struct natemu_cfg cfg = nat_cfg(0, 2, (int)cases[c].ports);
			unsigned loss = seed ? 30 : 0;
			struct probe_result res;
			struct sim s;

			cfg.delta = cases[c].delta;
			sim_setup(&s, &cfg, loss, 700 + c * 10 + seed);
			probe(&s, &res);
			CU_ASSERT_TRUE(res.contiguity_tested);
			if (!loss) {
				CU_ASSERT_EQUAL(res.contiguity, cases[c].want);
				CU_ASSERT_EQUAL(res.npairs, PROBE_PORT_PAIRS);
			}
			unknown += res.contiguity == PROBE_UNKNOWN;
			wrong += res.contiguity != PROBE_UNKNOWN && res.contiguity != cases[c].want;
			if (res.contiguity == PROBE_UNKNOWN)
				CU_ASSERT_STRING_NOT_EQUAL(res.contiguity_reason, "");
		}
	}
	printf("\n    contiguity with 30%% loss: 28 verdicts, %u inconclusive, %u wrong ", unknown,
	       wrong);
	CU_ASSERT_EQUAL(wrong, 0);
	for (unsigned seed = 0; seed < 32; seed++) {
		struct probe_result res;

		probe_pool(NATEMU_POOL_ARBITRARY, 800 + seed, &res);
		CU_ASSERT_NOT_EQUAL(res.contiguity, PROBE_YES);
	}
}

/* Pooling: two public addresses handed out per mapping are seen; handed out
 * per host, they look like one address, and natprobe does not guess. */
static void test_pooling(void)
{
	for (int arbitrary = 0; arbitrary < 2; arbitrary++) {
		struct probe_result res;

		probe_pool(arbitrary ? NATEMU_POOL_ARBITRARY : NATEMU_POOL_PAIRED,
			   (uint64_t)(400 + arbitrary), &res);
		CU_ASSERT_EQUAL(res.pooling,
				arbitrary ? PROBE_POOLING_ARBITRARY : PROBE_POOLING_INCONCLUSIVE);
		CU_ASSERT_EQUAL(res.npool, arbitrary ? 2u : 1u);
	}
}

/* A second host (--peer). natemu never overloads a port: the peer on this
 * socket's port is given another public endpoint, whatever the mapping.
 * Hairpinning between hosts is decided wherever it can be seen, also from a
 * host that drops packets from its own address (the peer's is another). */
static void test_peer(void)
{
	for (int h = 0; h < 3; h++) {
		for (int m = 0; m < 3; m++) {
			for (int f = 0; f < 3; f++) {
				bool visible = m == 0 || f == 0;
				struct probe_result res;

				hairpin_case(h, m, f, true, &res);
				CU_ASSERT_TRUE(res.overload_tested);
				CU_ASSERT_EQUAL(res.overloading, PROBE_NO);
				CU_ASSERT_TRUE(res.hairpin_peer_tested);
				CU_ASSERT_EQUAL(res.hairpin_peer, !visible ? PROBE_UNKNOWN
								  : h == NATEMU_HAIRPIN_OFF
								      ? PROBE_NO
								      : PROBE_YES);
				CU_ASSERT_FALSE(hairpin_wrong(&res, h));
				if (visible)
					CU_ASSERT_NOT_EQUAL(res.hairpinning, PROBE_UNKNOWN);
				if (res.hairpin_peer == PROBE_YES)
					CU_ASSERT_STRING_EQUAL(
					    res.hairpin_peer_source,
					    h == NATEMU_HAIRPIN_EXTERNAL ? "external" : "internal");
			}
		}
	}
}

/* Pooling with a second host: each host on its own address is paired; an
 * address per mapping is arbitrary; both hosts on one is not guessed. */
static void test_pooling_peer(void)
{
	static const struct {
		size_t npool;
		enum natemu_pooling pooling;
		enum probe_pooling want;
	} cases[] = {
	    {2, NATEMU_POOL_PAIRED, PROBE_POOLING_PAIRED},
	    {2, NATEMU_POOL_ARBITRARY, PROBE_POOLING_ARBITRARY},
	    {1, NATEMU_POOL_PAIRED, PROBE_POOLING_INCONCLUSIVE},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct natemu_cfg cfg = nat_cfg(0, 2, NATEMU_PORTS_PRESERVE);
		struct probe_result res;
		struct sim s;

		cfg.pool[1] = PUBLIC_IP + 1;
		cfg.npool = cases[i].npool;
		cfg.pooling = cases[i].pooling;
		sim_setup(&s, &cfg, 0, (uint64_t)(600 + i));
		s.peer = true;
		probe(&s, &res);
		CU_ASSERT_EQUAL(res.pooling, cases[i].want);
		CU_ASSERT_TRUE(res.npool_peer >= 1);
	}
}

/* Binding lifetime: natemu's mappings live 5 s after the last packet that
 * refreshes them (inbound ones too, or not). The search must bracket 5 s
 * for both kinds of flow and tell the refresh setting; with 10% loss it may
 * fall short but never be wrong. */
static void lifetime_case(unsigned loss, bool inbound_refresh, uint64_t seed, unsigned *wrong,
			  unsigned *unknown)
{
	struct natemu_cfg cfg = nat_cfg(0, 2, NATEMU_PORTS_PRESERVE);
	const struct probe_lifetime *kinds[2];
	struct probe_result res;
	struct sim s;

	cfg.udp_lifetime_ms = 5000;
	cfg.inbound_refresh = inbound_refresh;
	sim_setup(&s, &cfg, loss, seed);
	s.lifetime_max_s = 30;
	probe(&s, &res);
	CU_ASSERT_TRUE(res.lifetime_tested);
	kinds[0] = &res.lifetime_outbound;
	kinds[1] = &res.lifetime_bidirectional;
	for (int k = 0; k < 2; k++) {
		if (!kinds[k]->known) {
			++*unknown;
			continue;
		}
		/* Idle is counted from the answer's arrival: a round trip early. */
		*wrong += !(kinds[k]->lo_s < 5.0 && kinds[k]->hi_s >= 4.99);
	}
	if (res.inbound_refresh == PROBE_UNKNOWN)
		++*unknown;
	else
		*wrong += res.inbound_refresh != (inbound_refresh ? PROBE_YES : PROBE_NO);
	if (!loss) {
		CU_ASSERT_TRUE(res.lifetime_outbound.known && res.lifetime_bidirectional.known);
		CU_ASSERT_TRUE(res.lifetime_outbound.hi_s - res.lifetime_outbound.lo_s <= 1.0);
		CU_ASSERT_EQUAL(res.inbound_refresh, inbound_refresh ? PROBE_YES : PROBE_NO);
		CU_ASSERT_TRUE(res.binding_lifetime_s > 4.0 && res.binding_lifetime_s < 5.0);
	}
}

static void test_lifetime(void)
{
	unsigned wrong = 0, unknown = 0;

	for (int refresh = 0; refresh < 2; refresh++)
		lifetime_case(0, refresh, (uint64_t)(700 + refresh), &wrong, &unknown);
	CU_ASSERT_EQUAL(wrong, 0);
	CU_ASSERT_EQUAL(unknown, 0);
	for (uint64_t seed = 0; seed < 6; seed++)
		lifetime_case(10, seed % 2, 710 + seed, &wrong, &unknown);
	printf("\n    lifetime with 10%% loss: 18 verdicts, %u inconclusive, %u wrong ", unknown,
	       wrong);
	CU_ASSERT_EQUAL(wrong, 0);
}

/* No NAT, no mapping to time: inconclusive, with the reason. */
static void test_lifetime_no_nat(void)
{
	struct probe_result res;
	struct sim s;

	sim_setup(&s, NULL, 0, 720);
	s.lifetime_max_s = 30;
	probe(&s, &res);
	CU_ASSERT_FALSE(res.lifetime_outbound.known);
	CU_ASSERT_STRING_EQUAL(res.lifetime_reason, "no NAT: no mapping to time");
	CU_ASSERT_TRUE(res.binding_lifetime_s < 0);
}

static void test_no_nat(void)
{
	struct probe_result res;
	struct sim s;

	sim_setup(&s, NULL, 0, 7);
	probe(&s, &res);
	CU_ASSERT_EQUAL(res.nat, PROBE_NO);
	CU_ASSERT_EQUAL(res.mapping, PROBE_MAPPING_NONE);
	CU_ASSERT_EQUAL(res.filtering, PROBE_FILTERING_EI);
	CU_ASSERT_EQUAL(res.hairpinning, PROBE_UNKNOWN);
	CU_ASSERT_STRING_EQUAL(res.hairpin_reason, "no NAT: nothing to hairpin");
	CU_ASSERT_STRING_EQUAL(probe_legacy_type(&res), "open");
}

/* A host that cannot reach the alternate address from the address it
 * reaches the primary from (natprobe binds every socket to that one, so as
 * never to compare two internal endpoints): the mapping test cannot ask
 * every endpoint from one endpoint, and says so instead of guessing. */
static void test_one_endpoint_unsendable(void)
{
	const char *names[16];
	struct probe_result res;
	struct sim s;

	sim_setup(&s, NULL, 0, 9);
	s.unroutable_alternate = true;
	probe(&s, &res);
	CU_ASSERT_EQUAL(res.nat, PROBE_NO);
	CU_ASSERT_EQUAL(res.mapping, PROBE_MAPPING_INCONCLUSIVE);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.mapping_reason, "cannot send to 203.0.113.11"));
	CU_ASSERT_NOT_EQUAL(res.pooling, PROBE_POOLING_ARBITRARY);
	CU_ASSERT_STRING_EQUAL(probe_legacy_type(&res), "inconclusive");
	CU_ASSERT_EQUAL(res.ncontradictions, 0);
	CU_ASSERT_TRUE_FATAL(probe_result_open(&res, names, 16) >= 1);
	CU_ASSERT_STRING_EQUAL(names[0], "mapping");
}

/* A host whose sockets were two internal endpoints, one per reflector
 * address, and no NAT: what natprobe once made of it (mapping
 * address-dependent, pooling arbitrary over the host's own addresses)
 * contradicts "no NAT", and must never leave the engine; what one endpoint
 * alone decided (filtering) stays. */
static void test_two_endpoints_never_wrong(void)
{
	struct probe_result res;
	struct sim s;

	sim_setup(&s, NULL, 0, 10);
	s.wildcard = true;
	probe(&s, &res);
	CU_ASSERT_NOT_EQUAL(res.nat, PROBE_YES);
	CU_ASSERT_TRUE(res.mapping == PROBE_MAPPING_NONE ||
		       res.mapping == PROBE_MAPPING_INCONCLUSIVE);
	CU_ASSERT_NOT_EQUAL(res.pooling, PROBE_POOLING_ARBITRARY);
	CU_ASSERT_STRING_NOT_EQUAL(probe_legacy_type(&res), "symmetric");
	CU_ASSERT_TRUE(res.ncontradictions >= 1);
	CU_ASSERT_EQUAL(res.filtering, PROBE_FILTERING_EI);
}

/* --peer given, and the second host never answered: what one host can
 * measure is measured; what needed the second host is inconclusive with
 * the reason (not untested), and counts toward exit status 1. */
static void test_peer_missing(void)
{
	static const char why[] = "the second host (--peer 10.0.0.3:3480) did not answer";
	struct natemu_cfg cfg = nat_cfg(0, 2, NATEMU_PORTS_PRESERVE);
	const char *names[16];
	size_t n;
	struct probe_result res;
	struct sim s;

	sim_setup(&s, &cfg, 0, 11);
	s.peer_missing = why;
	probe(&s, &res);
	CU_ASSERT_EQUAL(res.nat, PROBE_YES);
	CU_ASSERT_EQUAL(res.mapping, PROBE_MAPPING_EI);
	CU_ASSERT_EQUAL(res.filtering, PROBE_FILTERING_APD);
	CU_ASSERT_TRUE(res.overload_tested);
	CU_ASSERT_EQUAL(res.overloading, PROBE_UNKNOWN);
	CU_ASSERT_STRING_EQUAL(res.overload_reason, why);
	CU_ASSERT_TRUE(res.hairpin_peer_tested);
	CU_ASSERT_STRING_EQUAL(res.hairpin_peer_reason, why);
	CU_ASSERT_EQUAL(res.pooling, PROBE_POOLING_INCONCLUSIVE);
	CU_ASSERT_FALSE(res.pooling_by_design);
	CU_ASSERT_PTR_NOT_NULL(strstr(res.pooling_reason, why));
	n = probe_result_open(&res, names, 16);
	CU_ASSERT_EQUAL(n, 2);
	if (n == 2) {
		CU_ASSERT_STRING_EQUAL(names[0], "pooling");
		CU_ASSERT_STRING_EQUAL(names[1], "port_overloading");
	}
}

/* Loss: right or inconclusive, never wrong, over many seeds. */
static void grid_with_loss(unsigned loss)
{
	unsigned runs = 0, inconclusive = 0, wrong = 0;

	for (int m = 0; m < 3; m++) {
		for (int f = 0; f < 3; f++) {
			for (uint64_t seed = 1; seed <= 12; seed++) {
				struct natemu_cfg cfg = nat_cfg(m, f, NATEMU_PORTS_RANDOM);
				int hairpin = (int)(seed % 3);
				struct probe_result res;
				struct sim s;

				cfg.hairpin = (enum natemu_hairpin)hairpin;
				sim_setup(&s, &cfg, loss, seed * 131 + (uint64_t)(m * 3 + f));
				probe(&s, &res);
				runs += 6;
				inconclusive += (res.contiguity == PROBE_UNKNOWN) +
						(res.mapping == PROBE_MAPPING_INCONCLUSIVE) +
						(res.filtering == PROBE_FILTERING_INCONCLUSIVE) +
						(res.hairpinning == PROBE_UNKNOWN) +
						(res.port_pattern == PROBE_PORTS_INCONCLUSIVE) +
						(res.dest_pattern == PROBE_DEST_INCONCLUSIVE);
				wrong += (res.mapping != PROBE_MAPPING_INCONCLUSIVE &&
					  res.mapping != want_mapping[m]) +
					 (res.filtering != PROBE_FILTERING_INCONCLUSIVE &&
					  res.filtering != want_filtering[f]) +
					 hairpin_wrong(&res, hairpin) +
					 (res.contiguity == PROBE_YES) +
					 (res.port_pattern != PROBE_PORTS_INCONCLUSIVE &&
					  res.port_pattern != PROBE_PORTS_RANDOM) +
					 (res.dest_pattern != PROBE_DEST_INCONCLUSIVE &&
					  res.dest_pattern != want_dest(m, NATEMU_PORTS_RANDOM));
			}
		}
	}
	printf("\n    %u%% loss: %u verdicts, %u inconclusive, %u wrong ", loss, runs, inconclusive,
	       wrong);
	CU_ASSERT_EQUAL(wrong, 0);
	CU_ASSERT_TRUE(inconclusive < runs / 2);
}

static void test_loss_10(void)
{
	grid_with_loss(10);
}

static void test_loss_30(void)
{
	grid_with_loss(30);
}

/* A reflector that never answers: every verdict inconclusive, with the reason. */
static void test_unreachable(void)
{
	struct probe_result res;
	struct sim s;

	sim_setup(&s, NULL, 100, 3);
	probe(&s, &res);
	CU_ASSERT_EQUAL(res.nat, PROBE_UNKNOWN);
	CU_ASSERT_EQUAL(res.mapping, PROBE_MAPPING_INCONCLUSIVE);
	CU_ASSERT_EQUAL(res.filtering, PROBE_FILTERING_INCONCLUSIVE);
	CU_ASSERT_STRING_EQUAL(res.mapping_reason,
			       "no answer from the reflector's primary endpoint");
	CU_ASSERT_EQUAL(res.answers, 0);
}

int test_probe_register(void)
{
	static const struct test_case tests[] = {
	    {"every mapping x filtering x ports, no loss", test_grid_exact},
	    {"hairpinning: off, external, internal", test_hairpin_grid},
	    {"hairpinning seen from a host that drops its own source", test_hairpin_own_source},
	    {"ports: sequential with a delta and skips; parity", test_port_patterns},
	    {"pooling: arbitrary seen, paired not guessed", test_pooling},
	    {"a second host: overloading, hairpinning between hosts", test_peer},
	    {"pooling with a second host: paired, arbitrary, not guessed", test_pooling_peer},
	    {"binding lifetime: both flows, inbound refresh, loss", test_lifetime},
	    {"contiguity of adjacent local ports", test_contiguity},
	    {"binding lifetime without NAT", test_lifetime_no_nat},
	    {"no NAT", test_no_nat},
	    {"10% loss: never wrong", test_loss_10},
	    {"30% loss: never wrong", test_loss_30},
	    {"an unreachable reflector", test_unreachable},
	    {"no one internal endpoint toward both addresses", test_one_endpoint_unsendable},
	    {"a second host asked for, and missing", test_peer_missing},
	    {"two internal endpoints per socket: never a wrong verdict",
	     test_two_endpoints_never_wrong},
	};

	return TEST_SUITE("natprobe engine (simulated NAT)", tests);
}
