/*
 * The hop-k keepalive test's reading (probe/keepalive.c): the fates of
 * mappings held with keepalives at TTL 1..n, none and the full TTL, as the
 * labs give them (tests/portmap.sh: a CGN with a short timeout at hop 2, a
 * home NAT with one at hop 1), and each way the readings can fail to
 * justify a hop.
 */
#include <string.h>

#include <CUnit/CUnit.h>

#include "probe/keepalive.h"
#include "testlib.h"

#define A KA_ALIVE
#define D KA_DEAD
#define U KA_UNKNOWN

/* fates: "none full ttl1 ttl2 ..." as letters a(live) d(ead) u(nknown). */
static int decide(const char *fates)
{
	struct keepalive_obs o = {.hold_s = 6};
	struct keepalive_verdict v;
	enum keepalive_fate f[2 + KEEPALIVE_HOPS_MAX] = {KA_PENDING};
	size_t n = strlen(fates);

	for (size_t i = 0; i < n; i++)
		f[i] = fates[i] == 'a' ? A : fates[i] == 'd' ? D : U;
	o.none = f[0];
	o.full = f[1];
	o.nhops = (unsigned)(n - 2);
	for (size_t k = 0; k + 2 < n; k++)
		o.ttl[k] = f[k + 2];
	keepalive_decide(&o, &v);
	CU_ASSERT_PTR_NOT_NULL(v.reason);
	return v.hop;
}

static void test_cgn_timeout_at_hop_two(void)
{
	CU_ASSERT_EQUAL(decide("da"
			       "da"),
			2);
	CU_ASSERT_EQUAL(decide("da"
			       "daa"),
			2);
}

static void test_home_timeout_at_hop_one(void)
{
	CU_ASSERT_EQUAL(decide("da"
			       "aa"),
			1);
	CU_ASSERT_EQUAL(decide("da"
			       "a"),
			1);
}

static void test_hold_too_short(void)
{
	CU_ASSERT_EQUAL(decide("aa"
			       "aa"),
			-1);
	CU_ASSERT_EQUAL(decide("aa"
			       "dd"),
			-1);
}

static void test_keepalives_keep_nothing(void)
{
	CU_ASSERT_EQUAL(decide("dd"
			       "dd"),
			-1);
}

static void test_beyond_the_ttls_tried(void)
{
	CU_ASSERT_EQUAL(decide("da"
			       "dd"),
			-1);
}

static void test_out_of_order(void)
{
	CU_ASSERT_EQUAL(decide("da"
			       "ada"),
			-1);
	CU_ASSERT_EQUAL(decide("da"
			       "ad"),
			-1);
}

static void test_missing_readings(void)
{
	CU_ASSERT_EQUAL(decide("ua"
			       "da"),
			-1);
	CU_ASSERT_EQUAL(decide("du"
			       "da"),
			-1);
	CU_ASSERT_EQUAL(decide("da"
			       "ua"),
			-1); /* hop 1 unread: 2 would be a guess */
	CU_ASSERT_EQUAL(decide("da"
			       "au"),
			-1);
}

/* How many TTLs: those below the reflector's, else the last router seen,
 * else the default; never 0, never past the bound. */
static void test_hops_from_sweep(void)
{
	struct hops_sweep s;
	struct sockaddr_storage refl, r1;

	test_sockaddr("203.0.113.10:3478", &refl);
	test_sockaddr("192.168.1.1", &r1);
	CU_ASSERT_EQUAL(keepalive_hops(NULL), KEEPALIVE_HOPS_DEFAULT);
	hops_sweep_init(&s, (const struct sockaddr *)&refl);
	CU_ASSERT_EQUAL(keepalive_hops(&s), KEEPALIVE_HOPS_DEFAULT);
	hops_note_hop(&s, 1, (const struct sockaddr *)&r1);
	CU_ASSERT_EQUAL(keepalive_hops(&s), 1);
	hops_note_hop(&s, 2, (const struct sockaddr *)&r1);
	CU_ASSERT_EQUAL(keepalive_hops(&s), 2);
	hops_note_server(&s, 3);
	CU_ASSERT_EQUAL(keepalive_hops(&s), 2);
	hops_note_server(&s, 1);
	CU_ASSERT_EQUAL(keepalive_hops(&s), 1);
	s.skipped = "no";
	CU_ASSERT_EQUAL(keepalive_hops(&s), KEEPALIVE_HOPS_DEFAULT);
}

int test_keepalive_register(void)
{
	static const struct test_case tests[] = {
	    {"CGN's timeout: hop 2", test_cgn_timeout_at_hop_two},
	    {"home NAT's timeout: hop 1", test_home_timeout_at_hop_one},
	    {"hold shorter than every timeout", test_hold_too_short},
	    {"keepalives keep nothing", test_keepalives_keep_nothing},
	    {"beyond the TTLs tried", test_beyond_the_ttls_tried},
	    {"out of order", test_out_of_order},
	    {"missing readings", test_missing_readings},
	    {"TTLs from the sweep", test_hops_from_sweep},
	};
	return TEST_SUITE("keepalive", tests);
}
