/*
 * The prediction for two probes behind one public address (probe/predict.c,
 * predict_one_address): one NAT, or nested NATs behind one outer NAT. The
 * pairs behind two NATs are proven cell by cell on the simulated network
 * (test_punch.c); these rules rest on hairpinning and on whether the two
 * hosts share a network, which the labs show (tests/punch.sh: masq same,
 * cgn-homes, cgn-homes-hairpin).
 */
#include <CUnit/CUnit.h>

#include "probe/predict.h"
#include "testlib.h"

static enum predict_expect one(enum predict_technique t, bool private_first, bool lan,
			       enum probe_bool hairpin)
{
	return predict_one_address(t, private_first, lan, hairpin).expect;
}

static void test_one_address(void)
{
	/* The relay never needs the NAT. */
	CU_ASSERT_EQUAL(one(PREDICT_RELAY, false, false, PROBE_NO), PREDICT_WORKS);
	/* Own endpoints on one network: the private technique works, whatever
	 * the NAT does; the public one does not use them. */
	CU_ASSERT_EQUAL(one(PREDICT_UDP_HOLE_PUNCHING, true, true, PROBE_NO), PREDICT_WORKS);
	CU_ASSERT_EQUAL(one(PREDICT_UDP_HOLE_PUNCHING, false, true, PROBE_NO), PREDICT_DEPENDS);
	/* Hairpinning seen: the public endpoints reach each other. */
	CU_ASSERT_EQUAL(one(PREDICT_UDP_HOLE_PUNCHING, false, false, PROBE_YES), PREDICT_WORKS);
	CU_ASSERT_EQUAL(one(PREDICT_UDP_HOLE_PUNCHING, true, false, PROBE_YES), PREDICT_WORKS);
	/* None seen, or not known: a nested NAT's filter may have hidden it,
	 * so never "fails". */
	CU_ASSERT_EQUAL(one(PREDICT_UDP_HOLE_PUNCHING, false, false, PROBE_NO), PREDICT_DEPENDS);
	CU_ASSERT_EQUAL(one(PREDICT_UDP_HOLE_PUNCHING, true, false, PROBE_UNKNOWN),
			PREDICT_DEPENDS);
	CU_ASSERT_EQUAL(one(PREDICT_CONNECTION_REVERSAL, false, true, PROBE_YES), PREDICT_DEPENDS);
	/* Every answer says why. */
	CU_ASSERT_PTR_NOT_NULL(
	    predict_one_address(PREDICT_UDP_HOLE_PUNCHING, false, false, PROBE_NO).reason);
}

/* The other probe's four class bytes: known values read as sent; a value
 * past the last this build knows reads as inconclusive, and the rules then
 * say "depends" where the sent behaviour would have judged. */
static void test_from_wire(void)
{
	const uint8_t ok[4] = {PROBE_MAPPING_APD, PROBE_FILTERING_APD, PROBE_PORTS_RANDOM, 0};
	const uint8_t odd[4] = {PROBE_MAPPING_INCONCLUSIVE + 1, 200, 255, 7};
	struct predict_side a = predict_side_from_wire(ok), b = predict_side_from_wire(odd);
	struct predict_side ei = {PROBE_MAPPING_EI, PROBE_FILTERING_APD, PROBE_PORTS_PRESERVING, 0};

	CU_ASSERT_EQUAL(a.mapping, PROBE_MAPPING_APD);
	CU_ASSERT_EQUAL(a.filtering, PROBE_FILTERING_APD);
	CU_ASSERT_EQUAL(a.ports, PROBE_PORTS_RANDOM);
	CU_ASSERT_EQUAL(predict_technique(PREDICT_UDP_HOLE_PUNCHING, &ei, &a).expect,
			PREDICT_FAILS);
	CU_ASSERT_EQUAL(b.mapping, PROBE_MAPPING_INCONCLUSIVE);
	CU_ASSERT_EQUAL(b.filtering, PROBE_FILTERING_INCONCLUSIVE);
	CU_ASSERT_EQUAL(b.ports, PROBE_PORTS_INCONCLUSIVE);
	CU_ASSERT_EQUAL(b.delta, 7u);
	CU_ASSERT_EQUAL(predict_technique(PREDICT_UDP_HOLE_PUNCHING, &ei, &b).expect,
			PREDICT_DEPENDS);
}

int test_predict_register(void)
{
	static const struct test_case tests[] = {
	    {"behind one public address: hairpinning and one network", test_one_address},
	    {"the other side's class bytes, unknown values inconclusive", test_from_wire},
	};

	return TEST_SUITE("traversal predictions behind one address", tests);
}
