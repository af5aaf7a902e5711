/*
 * natprobe's whole-result check (probe/consistency.c): verdicts that
 * contradict each other never reach the record, and the exit status rule
 * counts exactly the verdicts it says it counts.
 */
#include <string.h>

#include <CUnit/CUnit.h>

#include "addr.h"
#include "probe/result.h"
#include "testlib.h"

/* What natprobe wrote on a host with two addresses and no NAT, before its
 * sockets kept one internal endpoint: no NAT, yet address-dependent mapping
 * and arbitrary pooling over the host's own two addresses. */
static void multihomed_result(struct probe_result *r)
{
	memset(r, 0, sizeof(*r));
	r->answers = 40;
	r->nat = PROBE_NO;
	test_sockaddr("10.9.0.1:51127", &r->local);
	test_sockaddr("10.9.0.1:51127", &r->mapped);
	r->mapping = PROBE_MAPPING_AD;
	test_sockaddr("10.9.0.1:45860", &r->mapping_seen[0]);
	test_sockaddr("10.9.0.1:45860", &r->mapping_seen[1]);
	test_sockaddr("10.9.0.2:45860", &r->mapping_seen[2]);
	test_sockaddr("10.9.0.2:45860", &r->mapping_seen[3]);
	r->filtering = PROBE_FILTERING_EI;
	r->port_pattern = PROBE_PORTS_PRESERVING;
	r->dest_pattern = PROBE_DEST_SAME;
	r->pooling = PROBE_POOLING_ARBITRARY;
	test_sockaddr("10.9.0.1", &r->pool[0]);
	test_sockaddr("10.9.0.2", &r->pool[1]);
	r->npool = 2;
}

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static void test_multihomed_contradictions(void)
{
	struct probe_result r;

	multihomed_result(&r);
	CU_ASSERT_STRING_EQUAL(probe_legacy_type(&r), "symmetric");
	probe_result_reconcile(&r);
	CU_ASSERT_EQUAL(r.nat, PROBE_UNKNOWN);
	CU_ASSERT_EQUAL(r.mapping, PROBE_MAPPING_INCONCLUSIVE);
	CU_ASSERT_EQUAL(r.pooling, PROBE_POOLING_INCONCLUSIVE);
	CU_ASSERT_TRUE(starts(r.nat_reason, "contradiction: nat no"));
	CU_ASSERT_TRUE(starts(r.mapping_reason, "contradiction: "));
	CU_ASSERT_TRUE(starts(r.pooling_reason, "contradiction: nat no"));
	CU_ASSERT_STRING_EQUAL(probe_legacy_type(&r), "inconclusive");
	/* And the mapping against one socket's one port toward all four: three,
	 * though two share nat and two the mapping. */
	CU_ASSERT_EQUAL(r.dest_pattern, PROBE_DEST_INCONCLUSIVE);
	CU_ASSERT_EQUAL(r.ncontradictions, 3);
	CU_ASSERT_EQUAL(r.filtering, PROBE_FILTERING_EI);
	/* Idempotent: a second pass finds nothing more. */
	probe_result_reconcile(&r);
	CU_ASSERT_EQUAL(r.ncontradictions, 3);
}

/* Each rule on its own: the pair it names made inconclusive, nothing else. */
static void test_each_rule(void)
{
	struct probe_result r;

	multihomed_result(&r);
	r.mapping = PROBE_MAPPING_NONE; /* only the pool contradicts "no NAT" */
	probe_result_reconcile(&r);
	CU_ASSERT_EQUAL(r.pooling, PROBE_POOLING_INCONCLUSIVE);
	CU_ASSERT_EQUAL(r.nat, PROBE_UNKNOWN);
	CU_ASSERT_EQUAL(r.mapping, PROBE_MAPPING_NONE);
	CU_ASSERT_EQUAL(r.ncontradictions, 1);

	multihomed_result(&r);
	r.nat = PROBE_YES; /* a NAT whose pool holds the host's own address */
	test_sockaddr("198.51.100.1:40000", &r.mapped);
	r.mapping = PROBE_MAPPING_EI;
	probe_result_reconcile(&r);
	CU_ASSERT_EQUAL(r.pooling, PROBE_POOLING_INCONCLUSIVE);
	CU_ASSERT_EQUAL(r.nat, PROBE_UNKNOWN);
	CU_ASSERT_EQUAL(r.mapping, PROBE_MAPPING_EI);

	multihomed_result(&r);
	r.nat = PROBE_YES; /* a NAT, yet the mapping test saw the local address */
	r.mapping = PROBE_MAPPING_NONE;
	r.pooling = PROBE_POOLING_INCONCLUSIVE;
	probe_result_reconcile(&r);
	CU_ASSERT_EQUAL(r.nat, PROBE_UNKNOWN);
	CU_ASSERT_EQUAL(r.mapping, PROBE_MAPPING_INCONCLUSIVE);

	multihomed_result(&r);
	r.mapping = PROBE_MAPPING_NONE;
	r.pooling = PROBE_POOLING_INCONCLUSIVE;
	r.port_pattern = PROBE_PORTS_RANDOM;
	r.overloading = PROBE_YES;
	r.hairpinning = PROBE_YES;
	probe_result_reconcile(&r);
	CU_ASSERT_EQUAL(r.port_pattern, PROBE_PORTS_INCONCLUSIVE);
	CU_ASSERT_EQUAL(r.overloading, PROBE_UNKNOWN);
	CU_ASSERT_EQUAL(r.hairpinning, PROBE_UNKNOWN);
	CU_ASSERT_EQUAL(r.nat, PROBE_UNKNOWN);
	CU_ASSERT_EQUAL(r.ncontradictions, 3);

	multihomed_result(&r);
	r.nat = PROBE_YES;
	r.mapping = PROBE_MAPPING_EI;
	r.pooling = PROBE_POOLING_INCONCLUSIVE;
	r.dest_pattern = PROBE_DEST_RANDOM;
	probe_result_reconcile(&r);
	CU_ASSERT_EQUAL(r.mapping, PROBE_MAPPING_INCONCLUSIVE);
	CU_ASSERT_EQUAL(r.dest_pattern, PROBE_DEST_INCONCLUSIVE);
	CU_ASSERT_EQUAL(r.nat, PROBE_YES);

	multihomed_result(&r);
	r.nat = PROBE_YES;
	r.mapping = PROBE_MAPPING_APD;
	r.pooling = PROBE_POOLING_INCONCLUSIVE;
	r.dest_pattern = PROBE_DEST_SAME;
	probe_result_reconcile(&r);
	CU_ASSERT_EQUAL(r.mapping, PROBE_MAPPING_INCONCLUSIVE);
	CU_ASSERT_EQUAL(r.ncontradictions, 1);
}

/* A consistent result passes untouched. */
static void test_consistent_untouched(void)
{
	struct probe_result r, before;

	multihomed_result(&r);
	r.mapping = PROBE_MAPPING_NONE;
	r.pooling = PROBE_POOLING_INCONCLUSIVE;
	r.npool = 1;
	before = r;
	probe_result_reconcile(&r);
	CU_ASSERT_EQUAL(memcmp(&r, &before, sizeof(r)), 0);
}

static size_t open_names(const struct probe_result *r, const char **names)
{
	return probe_result_open(r, names, 16);
}

/* The exit status rule: which inconclusive verdicts count. */
static void test_exit_rule(void)
{
	const char *names[16];
	struct probe_result r;

	multihomed_result(&r);
	r.mapping = PROBE_MAPPING_NONE;
	r.pooling = PROBE_POOLING_INCONCLUSIVE; /* no NAT: does not apply */
	r.hairpin_tested = true;                /* nor does hairpinning */
	r.overload_tested = true;
	r.lifetime_tested = true;
	CU_ASSERT_EQUAL(open_names(&r, names), 0);

	r.nat = PROBE_YES;
	r.mapping = PROBE_MAPPING_EI;
	r.overload_tested = false;
	r.lifetime_tested = false;
	r.hairpinning = PROBE_NO;
	r.pooling_by_design = true; /* one address: by design, not counted */
	CU_ASSERT_EQUAL(open_names(&r, names), 0);
	r.pooling_by_design = false; /* e.g. the second host asked for is missing */
	CU_ASSERT_EQUAL_FATAL(open_names(&r, names), 1);
	CU_ASSERT_STRING_EQUAL(names[0], "pooling");

	r.pooling = PROBE_POOLING_SINGLE;
	r.filtering = PROBE_FILTERING_INCONCLUSIVE;
	r.hairpinning = PROBE_UNKNOWN;
	r.overload_tested = true; /* tested and unknown */
	r.lifetime_tested = true;
	r.lifetime_outbound.known = true;
	CU_ASSERT_EQUAL_FATAL(open_names(&r, names), 4);
	CU_ASSERT_STRING_EQUAL(names[0], "filtering");
	CU_ASSERT_STRING_EQUAL(names[1], "hairpinning");
	CU_ASSERT_STRING_EQUAL(names[2], "port_overloading");
	CU_ASSERT_STRING_EQUAL(names[3], "binding_lifetime");
	/* Counted beyond max: the count is whole, the names cut. */
	CU_ASSERT_EQUAL(probe_result_open(&r, names, 1), 4);

	memset(&r, 0, sizeof(r));
	r.nat = PROBE_UNKNOWN;
	snprintf(r.nat_reason, sizeof(r.nat_reason), "no answer");
	r.mapping = PROBE_MAPPING_INCONCLUSIVE;
	r.port_pattern = PROBE_PORTS_INCONCLUSIVE;
	CU_ASSERT_EQUAL_FATAL(open_names(&r, names), 3);
	CU_ASSERT_STRING_EQUAL(names[2], "port_allocation");
}

int test_consistency_register(void)
{
	static const struct test_case tests[] = {
	    {"no NAT beside a dependent mapping and a pool: inconclusive",
	     test_multihomed_contradictions},
	    {"each contradiction unsettles its pair", test_each_rule},
	    {"a consistent result is left alone", test_consistent_untouched},
	    {"exit status: what counts as inconclusive", test_exit_rule},
	};

	return TEST_SUITE("natprobe whole-result check", tests);
}
