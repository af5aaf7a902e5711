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

int test_predict_register(void)
{
	static const struct test_case tests[] = {
	    {"behind one public address: hairpinning and one network", test_one_address},
	};

	return TEST_SUITE("traversal predictions behind one address", tests);
}
