/* Hex decoding: vectors and pasted messages, with errors that say where. */
#include <string.h>

#include <CUnit/CUnit.h>

#include "hex.h"
#include "testlib.h"

static void test_decode(void)
{
	uint8_t out[8];
	size_t len;
	char err[96] = "";

	CU_ASSERT_EQUAL(hex_decode("# comment 12\n00 1a\tFF\n  # x\nc3", out, sizeof(out), &len,
				   err, sizeof(err)),
			0);
	CU_ASSERT_EQUAL(len, 4);
	CU_ASSERT_EQUAL(memcmp(out, "\x00\x1a\xff\xc3", 4), 0);
	CU_ASSERT_EQUAL(hex_decode("0011223344556677", out, sizeof(out), &len, err, sizeof(err)),
			0);
	CU_ASSERT_EQUAL(len, 8);
}

static void expect_error(const char *text, size_t cap, const char *message)
{
	uint8_t out[8];
	size_t len;
	char err[96] = "";

	CU_ASSERT_EQUAL(hex_decode(text, out, cap, &len, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, message);
}

static void test_errors(void)
{
	expect_error("00\n0g", 8, "line 2, column 2: 'g' is not a hex digit");
	expect_error("001", 8, "line 1: odd number of hex digits at the end");
	expect_error("0 01", 8, "line 1, column 2: odd number of hex digits");
	expect_error("000102", 2, "line 1, column 5: more than 2 bytes");
	expect_error("\x01", 8, "line 1, column 1: byte 0x01 is not a hex digit");
}

int test_hex_register(void)
{
	static const struct test_case tests[] = {
	    {"decode", test_decode},
	    {"errors say where", test_errors},
	};

	return TEST_SUITE("hex", tests);
}
