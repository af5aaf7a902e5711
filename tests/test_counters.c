/* Counters by reason: counted, looked up, printed, summed, and never lost when full. */
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "counters.h"
#include "testlib.h"

static void test_count_and_print(void)
{
	static struct counters c;
	char reason[16], out[256] = "";
	FILE *f;

	counters_add(&c, "answered");
	counters_add(&c, "answered");
	strcpy(reason, "filtered"); /* equal text, another pointer: the same row */
	counters_add(&c, "filtered");
	counters_add(&c, reason);
	CU_ASSERT_EQUAL(counters_get(&c, "answered"), 2);
	CU_ASSERT_EQUAL(counters_get(&c, "filtered"), 2);
	CU_ASSERT_EQUAL(counters_get(&c, "absent"), 0);
	f = fmemopen(out, sizeof(out), "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	counters_print(&c, f, "prog");
	fclose(f);
	CU_ASSERT_STRING_EQUAL(out, "prog count reason=\"answered\" packets=2\n"
				    "prog count reason=\"filtered\" packets=2\n");
}

static void test_full_table_loses_nothing(void)
{
	static struct counters c;
	static char names[COUNTERS_MAX + 3][16];
	unsigned long total = 0;

	for (unsigned i = 0; i < COUNTERS_MAX + 3; i++) {
		snprintf(names[i], sizeof(names[i]), "r%u", i);
		counters_add(&c, names[i]);
	}
	CU_ASSERT_EQUAL(c.n, COUNTERS_MAX);
	CU_ASSERT_EQUAL(c.other, 3);
	for (size_t i = 0; i < c.n; i++)
		total += c.row[i].count;
	CU_ASSERT_EQUAL(total + c.other, COUNTERS_MAX + 3);
}

/* Workers' counters summed: shared reasons add, each one's own reasons
 * join, and a full table's overflow still counts. */
static void test_merge(void)
{
	static struct counters a, b;

	counters_add(&a, "answered");
	counters_add(&a, "rate limited");
	for (int i = 0; i < 3; i++)
		counters_add(&b, "answered");
	counters_add(&b, "truncated");
	b.other = 2;
	counters_merge(&a, &b);
	CU_ASSERT_EQUAL(counters_get(&a, "answered"), 4);
	CU_ASSERT_EQUAL(counters_get(&a, "rate limited"), 1);
	CU_ASSERT_EQUAL(counters_get(&a, "truncated"), 1);
	CU_ASSERT_EQUAL(a.n, 3);
	CU_ASSERT_EQUAL(a.other, 2);
	CU_ASSERT_EQUAL(counters_get(&b, "answered"), 3); /* the source unchanged */
}

int test_counters_register(void)
{
	static const struct test_case tests[] = {
	    {"count, look up, print", test_count_and_print},
	    {"a full table loses nothing", test_full_table_loses_nothing},
	    {"workers' counters summed", test_merge},
	};

	return TEST_SUITE("counters", tests);
}
