/*
 * NAT depth and CGN (probe/depth.c) on each lab's observations, written as
 * the three addresses, what the gateway said, and the senders of the time
 * exceeded per TTL. The real observations come from the labs
 * (tests/portmap.sh: masq, cgn, firewall, upnp, upnp-cgn, cgn-ttl).
 */
#include <string.h>

#include <CUnit/CUnit.h>

#include "probe/depth.h"
#include "testlib.h"

#define REFLECTOR "203.0.113.10:3478"

struct lab {
	const char *local, *mapped; /* mapped NULL: the reflector did not answer */
	enum depth_gateway gateway;
	const char *external;       /* DEPTH_GW_ADDRESS */
	const char *hops[HOPS_MAX]; /* NULL or "": silent; hops NULL: not swept */
	unsigned server_at;
	bool swept;
};

static void observe(const struct lab *l, struct depth_obs *o, struct hops_sweep *s)
{
	struct sockaddr_storage a;

	memset(o, 0, sizeof(*o));
	test_sockaddr(l->local, &o->local);
	if (l->mapped)
		test_sockaddr(l->mapped, &o->mapped);
	o->gateway = l->gateway;
	o->gateway_proto = "nat-pmp";
	if (l->external)
		test_sockaddr(l->external, &o->external);
	if (!l->swept)
		return;
	test_sockaddr(REFLECTOR, &a);
	hops_sweep_init(s, (const struct sockaddr *)&a);
	for (unsigned t = 1; t <= HOPS_MAX; t++) {
		if (!l->hops[t - 1] || !l->hops[t - 1][0])
			continue;
		test_sockaddr(l->hops[t - 1], &a);
		hops_note_hop(s, t, (const struct sockaddr *)&a);
	}
	if (l->server_at)
		hops_note_server(s, l->server_at);
	o->sweep = s;
}

static struct depth_verdict decide(const struct lab *l)
{
	struct depth_obs o;
	struct hops_sweep s;
	struct depth_verdict v;

	observe(l, &o, &s);
	depth_decide(&o, &v);
	CU_ASSERT(v.reason[0] != '\0');
	CU_ASSERT(v.cgn_reason[0] != '\0');
	return v;
}

/* masq: one NAT at hop 1, no port-mapping protocol. */
static const struct lab masq = {
    "10.0.1.2:4000",
    "203.0.113.1:4000",
    DEPTH_GW_SILENT,
    NULL,
    {"10.0.1.1:1", "203.0.113.126:1"},
    3,
    true,
};

/* cgn: home NAT, then the CGN's 100.64.0.1 at hop 2. */
static const struct lab cgn = {
    "192.168.1.2:4000",
    "203.0.113.1:4000",
    DEPTH_GW_SILENT,
    NULL,
    {"192.168.1.1:1", "100.64.0.1:1", "203.0.113.126:1"},
    4,
    true,
};

static void test_masq_one_nat_at_hop_one(void)
{
	struct depth_verdict v = decide(&masq);

	CU_ASSERT_EQUAL(v.depth, 1);
	CU_ASSERT_EQUAL(v.cgn, 0);
	CU_ASSERT_EQUAL(v.triple.n, -1);
	CU_ASSERT_EQUAL(v.sweep.n, 1);
	CU_ASSERT_FALSE(v.sweep.at_least);
}

static void test_cgn_by_sweep_alone(void)
{
	struct depth_verdict v = decide(&cgn);

	CU_ASSERT_EQUAL(v.depth, 2);
	CU_ASSERT_EQUAL(v.cgn, 1);
	CU_ASSERT_EQUAL(v.cgn_hop, 2);
}

/* firewall: the reflector sees the host's own address. */
static void test_no_nat(void)
{
	static const struct lab fw = {
	    "203.0.113.130:4000",
	    "203.0.113.130:4000",
	    DEPTH_GW_SILENT,
	    NULL,
	    {"203.0.113.129:1", "203.0.113.126:1"},
	    3,
	    true,
	};
	struct depth_verdict v = decide(&fw);

	CU_ASSERT_EQUAL(v.depth, 0);
	CU_ASSERT_EQUAL(v.cgn, 0);
	CU_ASSERT_EQUAL(v.triple.n, 0);
}

/* upnp: the gateway reports the mapped address. */
static void test_gateway_holds_the_public_address(void)
{
	struct lab l = masq;
	struct depth_verdict v;

	l.gateway = DEPTH_GW_ADDRESS;
	l.external = "203.0.113.1:1";
	v = decide(&l);
	CU_ASSERT_EQUAL(v.depth, 1);
	CU_ASSERT_EQUAL(v.cgn, 0);
	CU_ASSERT_EQUAL(v.triple.n, 1);
	CU_ASSERT_FALSE(v.triple.at_least);
	/* Without the sweep the triple alone decides. */
	l.swept = false;
	v = decide(&l);
	CU_ASSERT_EQUAL(v.depth, 1);
	CU_ASSERT_EQUAL(v.cgn, 0);
}

/* upnp-cgn: the gateway says it has no public address, the sweep sees the CGN. */
static void test_gateway_without_public_address_behind_cgn(void)
{
	struct lab l = cgn;
	struct depth_verdict v;

	l.gateway = DEPTH_GW_NO_PUBLIC;
	v = decide(&l);
	CU_ASSERT_EQUAL(v.triple.n, 2);
	CU_ASSERT_TRUE(v.triple.at_least);
	CU_ASSERT_EQUAL(v.depth, 2);
	CU_ASSERT_EQUAL(v.cgn, 1);
	/* Unswept: at least two, no number. */
	l.swept = false;
	v = decide(&l);
	CU_ASSERT_EQUAL(v.depth, -1);
	CU_ASSERT_EQUAL(v.at_least, 2);
}

/* The gateway's external address in 100.64.0.0/10 is a CGN on its own. */
static void test_gateway_external_shared(void)
{
	struct lab l = cgn;
	struct depth_verdict v;

	l.gateway = DEPTH_GW_ADDRESS;
	l.external = "100.64.0.2:1";
	l.swept = false;
	v = decide(&l);
	CU_ASSERT_EQUAL(v.depth, -1);
	CU_ASSERT_EQUAL(v.at_least, 2);
	CU_ASSERT_EQUAL(v.cgn, 1);
}

/* cgn-ttl: the CGN sets TTL 64, its hop vanishes; the gateway still says
 * two. Inconclusive with both answers, never 1. */
static void test_ttl_hiding_cgn_is_inconclusive(void)
{
	static const struct lab l = {
	    "192.168.1.2:4000",
	    "203.0.113.1:4000",
	    DEPTH_GW_NO_PUBLIC,
	    NULL,
	    {"192.168.1.1:1"},
	    2,
	    true,
	};
	struct depth_verdict v = decide(&l);

	CU_ASSERT_EQUAL(v.sweep.n, 1);
	CU_ASSERT_FALSE(v.sweep.at_least);
	CU_ASSERT_EQUAL(v.triple.n, 2);
	CU_ASSERT_EQUAL(v.depth, -1);
	CU_ASSERT_EQUAL(v.at_least, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(v.reason, "disagree"));
}

/* A gateway that learnt the public address by STUN behind a CGN: the
 * triple says one, the sweep two. */
static void test_stun_gateway_behind_cgn_is_inconclusive(void)
{
	struct lab l = cgn;
	struct depth_verdict v;

	l.gateway = DEPTH_GW_ADDRESS;
	l.external = "203.0.113.1:1";
	v = decide(&l);
	CU_ASSERT_EQUAL(v.depth, -1);
	CU_ASSERT_EQUAL(v.cgn, 1); /* the 100.64 hop is there all the same */
}

/* A silent hop before the path reached public addresses may hide a NAT. */
static void test_silent_hop_is_a_lower_bound(void)
{
	static const struct lab l = {
	    "192.168.1.2:4000",
	    "203.0.113.1:4000",
	    DEPTH_GW_SILENT,
	    NULL,
	    {"192.168.1.1:1", "", "203.0.113.126:1"},
	    4,
	    true,
	};
	struct depth_verdict v = decide(&l);

	CU_ASSERT_EQUAL(v.sweep.n, 1);
	CU_ASSERT_TRUE(v.sweep.at_least);
	CU_ASSERT_EQUAL(v.depth, -1);
	CU_ASSERT_EQUAL(v.at_least, 1);
	CU_ASSERT_EQUAL(v.cgn, -1);
}

/* Private routers beyond the home network: a second NAT, or an ISP's core. */
static void test_private_hop_elsewhere_is_ambiguous(void)
{
	static const struct lab l = {
	    "192.168.1.2:4000",
	    "203.0.113.1:4000",
	    DEPTH_GW_SILENT,
	    NULL,
	    {"192.168.1.1:1", "10.20.0.1:1", "203.0.113.126:1"},
	    4,
	    true,
	};
	struct depth_verdict v = decide(&l);

	CU_ASSERT_TRUE(v.sweep.at_least);
	CU_ASSERT_EQUAL(v.depth, -1);
	CU_ASSERT_EQUAL(v.cgn, -1);
	/* With the gateway holding the public address, exactly one. */
	struct lab g = l;
	g.gateway = DEPTH_GW_ADDRESS;
	g.external = "203.0.113.1:1";
	v = decide(&g);
	CU_ASSERT_EQUAL(v.depth, 1);
	CU_ASSERT_EQUAL(v.cgn, 0);
}

/* A pool NAT: the gateway's public address is not the mapped one. */
static void test_public_external_differs(void)
{
	struct lab l = masq;
	struct depth_verdict v;

	l.gateway = DEPTH_GW_ADDRESS;
	l.external = "203.0.113.2:1";
	v = decide(&l);
	CU_ASSERT_EQUAL(v.triple.n, -1);
	CU_ASSERT_EQUAL(v.depth, 1); /* the sweep's, exact */
}

static void test_nothing_answered(void)
{
	struct lab l = masq;
	struct depth_verdict v;

	l.mapped = NULL;
	v = decide(&l);
	CU_ASSERT_EQUAL(v.depth, -1);
	CU_ASSERT_EQUAL(v.cgn, -1);
	l = masq;
	l.swept = false;
	v = decide(&l);
	CU_ASSERT_EQUAL(v.depth, -1);
	CU_ASSERT_EQUAL(v.at_least, 0);
}

/* A host in 100.64.0.0/10 itself (a phone on a carrier network). */
static void test_host_in_shared_space(void)
{
	static const struct lab l = {
	    "100.72.1.5:4000",
	    "203.0.113.1:4000",
	    DEPTH_GW_SILENT,
	    NULL,
	    {"100.72.1.1:1", "203.0.113.126:1"},
	    3,
	    true,
	};
	struct depth_verdict v = decide(&l);

	CU_ASSERT_EQUAL(v.depth, 1);
	CU_ASSERT_EQUAL(v.cgn, 1);
}

int test_depth_register(void)
{
	static const struct test_case tests[] = {
	    {"masq: one NAT at hop 1", test_masq_one_nat_at_hop_one},
	    {"cgn: two by the sweep alone", test_cgn_by_sweep_alone},
	    {"firewall: no NAT", test_no_nat},
	    {"gateway holds the public address", test_gateway_holds_the_public_address},
	    {"gateway without a public address behind a CGN",
	     test_gateway_without_public_address_behind_cgn},
	    {"gateway external address in 100.64/10", test_gateway_external_shared},
	    {"TTL-hiding CGN: inconclusive", test_ttl_hiding_cgn_is_inconclusive},
	    {"STUN-taught gateway behind a CGN: inconclusive",
	     test_stun_gateway_behind_cgn_is_inconclusive},
	    {"silent hop: a lower bound", test_silent_hop_is_a_lower_bound},
	    {"private hop elsewhere: ambiguous", test_private_hop_elsewhere_is_ambiguous},
	    {"public external differs: no triple", test_public_external_differs},
	    {"nothing answered", test_nothing_answered},
	    {"host in shared space", test_host_in_shared_space},
	};
	return TEST_SUITE("depth", tests);
}
