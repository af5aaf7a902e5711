/*
 * The opening TTL from a hop sweep (probe/hops.c): each topology as the
 * sweep would see it, written as the senders of the time exceeded per TTL
 * ("" for a silent TTL) and the TTL the reflector answered at. The real
 * sweep runs in the labs (tests/hops.sh: masq, and a home NAT behind a
 * CGN).
 */
#include <netinet/in.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "probe/hops.h"
#include "testlib.h"

#define REFLECTOR "203.0.113.10:3478"

/* A sweep toward server: hops[t - 1] the sender at TTL t ("" or NULL: none). */
static void sweep(struct hops_sweep *s, const char *server, const char *const *hops, size_t n,
		  unsigned server_at)
{
	struct sockaddr_storage a;

	test_sockaddr(server, &a);
	hops_sweep_init(s, (const struct sockaddr *)&a);
	for (size_t i = 0; i < n; i++) {
		if (!hops[i] || !hops[i][0])
			continue;
		test_sockaddr(hops[i], &a);
		hops_note_hop(s, (unsigned)i + 1, (const struct sockaddr *)&a);
	}
	if (server_at)
		hops_note_server(s, server_at);
}

/* The decision on hops toward REFLECTOR, this side behind a NAT. */
static struct hops_decision decide(const char *const *hops, size_t n, unsigned server_at)
{
	struct hops_sweep s;
	struct hops_decision d;

	sweep(&s, REFLECTOR, hops, n, server_at);
	hops_decide(&s, true, &d);
	CU_ASSERT_PTR_NOT_NULL(d.reason);
	return d;
}
#define DECIDE(hops, server_at) decide(hops, sizeof(hops) / sizeof(hops[0]), server_at)

static void assert_sweep(struct hops_decision d, unsigned ttl)
{
	CU_ASSERT_EQUAL(d.decided, HOPS_SWEEP);
	CU_ASSERT_EQUAL(d.ttl, ttl);
}

static void assert_default(struct hops_decision d)
{
	CU_ASSERT_EQUAL(d.decided, HOPS_DEFAULT);
	CU_ASSERT_EQUAL(d.ttl, HOPS_DEFAULT_TTL);
}

/* One home NAT at hop 1: the router beyond it answers, or the reflector
 * sits right beyond it (natlab's masq: the TTL that reaches the reflector
 * is kept, the trials do not send to it). */
static void test_one_nat(void)
{
	static const char *const routed[] = {"10.0.1.1", "203.0.113.126"};
	static const char *const adjacent[] = {"10.0.1.1"};

	assert_sweep(DECIDE(routed, 3), 2);
	assert_sweep(DECIDE(routed, 0), 2); /* the reflector's answer lost: the router says it */
	assert_sweep(DECIDE(adjacent, 2), 2);
	CU_ASSERT_STRING_EQUAL(hops_decided_name(DECIDE(adjacent, 2).decided), "sweep");
}

/* NAT444: the home NAT, then the CGN from its shared realm; 2 would die at
 * the CGN, before its mapping. */
static void test_nat444(void)
{
	static const char *const routed[] = {"192.168.1.1", "100.64.0.1", "203.0.113.126"};
	static const char *const adjacent[] = {"192.168.1.1", "100.64.0.1"};

	assert_sweep(DECIDE(routed, 4), 3);
	assert_sweep(DECIDE(adjacent, 3), 3);
}

/* An ISP router with a public address between the home NAT and the CGN:
 * the last non-public hop counts, not the first public one. */
static void test_public_between(void)
{
	static const char *const hops[] = {"192.168.1.1", "198.51.100.1", "100.64.0.1",
					   "203.0.113.126"};

	assert_sweep(DECIDE(hops, 5), 4);
}

/* Silent TTLs are "none": they neither help nor break the rule. */
static void test_silent(void)
{
	static const char *const home_silent[] = {"", "100.64.0.1", "", "203.0.113.126"};
	static const char *const inet_silent[] = {"192.168.1.1", "100.64.0.1", ""};
	static const char *const all_silent[] = {"", "", ""};

	assert_sweep(DECIDE(home_silent, 6), 3);
	/* natemu --forward-only as the internet's router: the reflector is the
	 * public answer beyond. */
	assert_sweep(DECIDE(inet_silent, 4), 3);
	assert_default(DECIDE(all_silent, 4));
}

/* No NAT seen: every router public, or this side's NAT answers from its
 * public address; and nothing public beyond the last private hop. */
static void test_no_nat_hop(void)
{
	static const char *const public_only[] = {"203.0.113.1", "203.0.113.126"};
	static const char *const private_only[] = {"10.0.1.1", "10.0.0.1"};
	struct hops_sweep s;
	struct hops_decision d;

	assert_default(DECIDE(public_only, 3));
	assert_default(DECIDE(private_only, 0));
	/* A reflector in a private realm is no public answer beyond. */
	sweep(&s, "10.9.0.10:3478", private_only, 2, 3);
	hops_decide(&s, true, &d);
	assert_default(d);
	/* natprobe found no NAT: the sweep's hops do not matter. */
	sweep(&s, REFLECTOR, (const char *const[]){"10.0.1.1", "203.0.113.126"}, 2, 3);
	hops_decide(&s, false, &d);
	assert_default(d);
	CU_ASSERT_STRING_EQUAL(hops_decided_name(d.decided), "default");
}

/* The TTL found would go past the reflector: a route that changed during
 * the sweep, or a reflector inside this side's realm. */
static void test_server_too_early(void)
{
	static const char *const hops[] = {"192.168.1.1", "100.64.0.1", "203.0.113.126"};
	static const char *const lan[] = {"", "10.0.1.1"};

	assert_default(DECIDE(hops, 2));
	assert_default(DECIDE(lan, 1));
}

/* IPv6 is not swept; a sweep that could not run says why. */
static void test_ipv6_and_skipped(void)
{
	static const char *const none[] = {""};
	struct hops_sweep s;
	struct hops_decision d;

	sweep(&s, "[2001:db8::10]:3478", none, 0, 0);
	hops_decide(&s, true, &d);
	assert_default(d);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.reason, "IPv4"));
	CU_ASSERT_EQUAL(hops_listed(&s), 0);
	sweep(&s, REFLECTOR, none, 0, 0);
	s.skipped = "no socket";
	hops_decide(&s, true, &d);
	assert_default(d);
	CU_ASSERT_STRING_EQUAL(d.reason, "no socket");
}

/* What the driver reads: when to stop waiting, what to list, and TTLs out
 * of range ignored. */
static void test_sweep_state(void)
{
	static const char *const hops[] = {"192.168.1.1", "", "203.0.113.126"};
	struct hops_sweep s;
	struct sockaddr_storage a;

	sweep(&s, REFLECTOR, hops, 3, 0);
	CU_ASSERT_FALSE(hops_complete(&s)); /* no answer from the reflector yet */
	CU_ASSERT_EQUAL(hops_listed(&s), HOPS_MAX);
	hops_note_server(&s, 5);
	hops_note_server(&s, 4);
	hops_note_server(&s, 6); /* a later answer does not move it */
	CU_ASSERT_EQUAL(s.server_at, 4);
	CU_ASSERT_FALSE(hops_complete(&s)); /* TTL 2 still silent */
	CU_ASSERT_EQUAL(hops_listed(&s), 3);
	test_sockaddr("100.64.0.1", &a);
	hops_note_hop(&s, 2, (const struct sockaddr *)&a);
	CU_ASSERT_TRUE(hops_complete(&s));
	hops_note_hop(&s, 0, (const struct sockaddr *)&a);
	hops_note_hop(&s, HOPS_MAX + 1, (const struct sockaddr *)&a);
	hops_note_server(&s, 0);
	CU_ASSERT_EQUAL(s.server_at, 4);
	hops_note_hop(&s, 6, (const struct sockaddr *)&a); /* past the reflector: listed */
	CU_ASSERT_EQUAL(hops_listed(&s), 6);
}

int test_hops_register(void)
{
	static const struct test_case tests[] = {
	    {"one NAT: TTL 2, the reflector right beyond it too", test_one_nat},
	    {"home NAT behind a CGN: TTL 3", test_nat444},
	    {"a public ISP router between the NATs: the last private hop counts",
	     test_public_between},
	    {"silent hops are none", test_silent},
	    {"no NAT hop seen, nothing public beyond, no NAT: the default", test_no_nat_hop},
	    {"a TTL past the reflector: the default", test_server_too_early},
	    {"IPv6 and a sweep that could not run: the default, and why", test_ipv6_and_skipped},
	    {"the sweep's state: complete, listed, out of range", test_sweep_state},
	};

	return TEST_SUITE("the opening TTL from a hop sweep", tests);
}
