/* The CUnit runner for `make check`: every suite, verbose, non-zero on failure. */
#include <stdio.h>

#include <CUnit/Basic.h>

#include "testlib.h"

int main(void)
{
	static int (*const suites[])(void) = {
	    test_stun_register,       test_addr_register,       test_hex_register,
	    test_natemu_register,     test_packet_register,     test_impair_register,
	    test_reflector_register,  test_counters_register,   test_limiter_register,
	    test_natlabtest_register, test_probe_register,      test_probe_tcp_register,
	    test_peermsg_register,    test_report_register,     test_consistency_register,
	    test_punch_register,      test_rendezvous_register, test_traversal_register,
	    test_predict_register,    test_punch_tcp_register,  test_punch_tcp_net_register,
	    test_hops_register,       test_natemu_ttl_register, test_depth_register,
	    test_pcp_register,        test_keepalive_register,  test_collect_register,
	};
	unsigned failures;

	if (CU_initialize_registry() != CUE_SUCCESS) {
		fprintf(stderr, "run_tests: %s\n", CU_get_error_msg());
		return 2;
	}
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		if (suites[i]()) {
			fprintf(stderr, "run_tests: cannot register suites: %s\n",
				CU_get_error_msg());
			CU_cleanup_registry();
			return 2;
		}
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failures ? 1 : 0;
}
