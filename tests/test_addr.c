/* Address parsing and printing: what users type, and the errors they see. */
#include <string.h>

#include <netinet/in.h>
#include <CUnit/CUnit.h>

#include "addr.h"
#include "testlib.h"

static void expect_ok(const char *text, enum addr_port_rule rule, const char *printed)
{
	struct sockaddr_storage ss;
	char err[128] = "", out[ADDR_STRLEN];

	CU_ASSERT_EQUAL(addr_parse(text, rule, 3478, &ss, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_STRING_EQUAL(addr_format((struct sockaddr *)&ss, out, sizeof(out)), printed);
}

static void expect_error(const char *text, enum addr_port_rule rule, const char *message)
{
	struct sockaddr_storage ss;
	char err[128] = "";

	CU_ASSERT_EQUAL(addr_parse(text, rule, 3478, &ss, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, message);
}

static void test_parse_good(void)
{
	expect_ok("203.0.113.5:3478", ADDR_PORT_REQUIRED, "203.0.113.5:3478");
	expect_ok("203.0.113.5", ADDR_PORT_OPTIONAL, "203.0.113.5:3478");
	expect_ok("203.0.113.5:1", ADDR_PORT_OPTIONAL, "203.0.113.5:1");
	expect_ok("198.51.100.1", ADDR_PORT_NONE, "198.51.100.1:0");
	expect_ok("[2001:db8::1]:65535", ADDR_PORT_REQUIRED, "[2001:db8::1]:65535");
	expect_ok("[2001:DB8:0:0::1]", ADDR_PORT_OPTIONAL, "[2001:db8::1]:3478");
	expect_ok("2001:db8::1", ADDR_PORT_OPTIONAL, "[2001:db8::1]:3478");
	expect_ok("::ffff:192.0.2.9", ADDR_PORT_NONE, "[::ffff:192.0.2.9]:0");
}

static void test_parse_errors(void)
{
	expect_error("203.0.113.5:70000", ADDR_PORT_REQUIRED,
		     "bad port '70000' in '203.0.113.5:70000'");
	expect_error("203.0.113.5:0", ADDR_PORT_REQUIRED, "bad port '0' in '203.0.113.5:0'");
	expect_error("203.0.113.5:", ADDR_PORT_OPTIONAL, "bad port '' in '203.0.113.5:'");
	expect_error("203.0.113.5:+80", ADDR_PORT_REQUIRED, "bad port '+80' in '203.0.113.5:+80'");
	expect_error("203.0.113.5:0x50", ADDR_PORT_REQUIRED,
		     "bad port '0x50' in '203.0.113.5:0x50'");
	expect_error("203.0.113.5:000080", ADDR_PORT_REQUIRED,
		     "bad port '000080' in '203.0.113.5:000080'");
	expect_error("203.0.113.5", ADDR_PORT_REQUIRED,
		     "missing port in '203.0.113.5' (want IP:PORT)");
	expect_error("203.0.113.5:80", ADDR_PORT_NONE,
		     "unexpected port '80' in '203.0.113.5:80' (want an IP address)");
	expect_error("203.0.113.256:80", ADDR_PORT_REQUIRED,
		     "bad IP address '203.0.113.256' in '203.0.113.256:80'");
	expect_error("reflector.example:80", ADDR_PORT_REQUIRED,
		     "bad IP address 'reflector.example' in 'reflector.example:80'");
	expect_error("[2001:db8::1", ADDR_PORT_OPTIONAL, "missing ']' in '[2001:db8::1'");
	expect_error("[2001:db8::1]x", ADDR_PORT_OPTIONAL,
		     "unexpected 'x' after ']' in '[2001:db8::1]x'");
	expect_error("[203.0.113.5]:80", ADDR_PORT_REQUIRED,
		     "bad IPv6 address '203.0.113.5' in '[203.0.113.5]:80'");
	expect_error("", ADDR_PORT_OPTIONAL, "empty address");
}

static void test_compare(void)
{
	struct sockaddr_storage a, b;
	char err[128];

	CU_ASSERT_EQUAL_FATAL(
	    addr_parse("203.0.113.5:1000", ADDR_PORT_REQUIRED, 0, &a, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(
	    addr_parse("203.0.113.5:1001", ADDR_PORT_REQUIRED, 0, &b, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(addr_same_ip((struct sockaddr *)&a, (struct sockaddr *)&b));
	CU_ASSERT_FALSE(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	addr_set_port((struct sockaddr *)&b, 1000);
	CU_ASSERT_TRUE(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	CU_ASSERT_EQUAL_FATAL(
	    addr_parse("::ffff:203.0.113.5", ADDR_PORT_OPTIONAL, 1000, &b, err, sizeof(err)), 0);
	/* A mapped IPv6 address is another family, not the same endpoint. */
	CU_ASSERT_FALSE(addr_equal((struct sockaddr *)&a, (struct sockaddr *)&b));
	CU_ASSERT_EQUAL(addr_len((struct sockaddr *)&a), sizeof(struct sockaddr_in));
	CU_ASSERT_EQUAL(addr_len((struct sockaddr *)&b), sizeof(struct sockaddr_in6));
}

int test_addr_register(void)
{
	static const struct test_case tests[] = {
	    {"parse good input", test_parse_good},
	    {"errors name the bad part", test_parse_errors},
	    {"compare", test_compare},
	};

	return TEST_SUITE("address helpers", tests);
}
