/* Helpers shared by the CUnit suites. */
#ifndef NATLAB_TESTLIB_H
#define NATLAB_TESTLIB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <CUnit/CUnit.h>

struct test_case {
	const char *name;
	CU_TestFunc fn;
};

/* Register a suite of n tests; 0, or -1 when CUnit refuses. */
int test_suite(const char *name, const struct test_case *tests, size_t n);
#define TEST_SUITE(name, tests) test_suite(name, tests, sizeof(tests) / sizeof(tests[0]))

/* Each suite file defines one of these; run_tests.c calls them all. */
int test_stun_register(void);
int test_pcp_register(void);
int test_keepalive_register(void);
int test_collect_register(void);
int test_peermsg_register(void);
int test_addr_register(void);
int test_predict_register(void);
int test_hops_register(void);
int test_depth_register(void);
int test_hex_register(void);
int test_natemu_register(void);
int test_natemu_ttl_register(void);
int test_packet_register(void);
int test_impair_register(void);
int test_reflector_register(void);
int test_counters_register(void);
int test_limiter_register(void);
int test_natlabtest_register(void);
int test_probe_register(void);
int test_probe_tcp_register(void);
int test_consistency_register(void);
int test_punch_register(void);
int test_punch_tcp_register(void);
int test_punch_tcp_net_register(void);
int test_rendezvous_register(void);
int test_report_register(void);
int test_traversal_register(void);

/*
 * Read a hex file from tests/vectors ('#' starts a comment, white space is
 * ignored) into buf. Returns the byte count, or 0 after printing why.
 * NATLAB_TESTDATA overrides the folder.
 */
size_t test_load_hex(const char *name, uint8_t *buf, size_t cap);

/* An IPv4 endpoint from host-order address and port, for simulated networks. */
void test_sockaddr_v4(uint32_t ip, uint16_t port, struct sockaddr_storage *ss);
/* An endpoint from text ("IP" or "IP:PORT"); a bad one fails the test. */
void test_sockaddr(const char *text, struct sockaddr_storage *ss);

#endif
