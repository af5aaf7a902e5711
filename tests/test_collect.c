/*
 * natcollect's store (collector/store.c): one record per run_id, across a
 * restart; a line a kill cut short removed at open and the rest kept;
 * run_ids read strictly; a line that is not a stored record refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "collector/store.h"
#include "testlib.h"

#define ID1      "0b5f3c2e-1111-4222-8333-444455556666"
#define ID2      "9d2a1f00-aaaa-4bbb-8ccc-dddddddddddd"
#define LINE(id) "{\"schema\":\"natlab.result/1\",\"run_id\":\"" id "\",\"udp\":{}}"

static char dir[64];

static store_t *open_dir(struct store_stats *st)
{
	const char *what;
	store_t *s = store_open(dir, st, &what);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	return s;
}

static size_t file_size(const char *day)
{
	char path[128];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s.jsonl", dir, day);
	return stat(path, &sb) ? 0 : (size_t)sb.st_size;
}

static void put(store_t *s, const char *id_text, const char *line, int want)
{
	uint8_t id[STORE_ID_LEN];

	CU_ASSERT_EQUAL_FATAL(store_parse_id(id_text, id), 0);
	CU_ASSERT_EQUAL(store_put(s, id, line, strlen(line), 86400 * 20000), want);
}

static void test_once_per_run_id(void)
{
	struct store_stats st;
	store_t *s;

	snprintf(dir, sizeof(dir), "/tmp/natlab-store.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	s = open_dir(&st);
	put(s, ID1, LINE(ID1), 0);
	put(s, ID1, LINE(ID1), 1);
	put(s, ID2, LINE(ID2), 0);
	CU_ASSERT_EQUAL(store_count(s), 2);
	store_close(s);
	/* 20000 days after 1970: 2024-10-04. */
	CU_ASSERT_EQUAL(file_size("2024/10/04"), 2 * (strlen(LINE(ID1)) + 1));
	s = open_dir(&st); /* a restart: the ids come back from the file */
	CU_ASSERT_EQUAL(st.loaded, 2);
	CU_ASSERT_EQUAL(st.repaired, 0);
	put(s, ID2, LINE(ID2), 1);
	store_close(s);
}

static void test_cut_line_removed(void)
{
	struct store_stats st;
	char path[128];
	FILE *f;
	store_t *s;

	snprintf(path, sizeof(path), "%s/2024/10/04.jsonl", dir);
	f = fopen(path, "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("{\"schema\":\"natlab.result/1\",\"run_id\":\"1234", f); /* a kill mid-write */
	fclose(f);
	s = open_dir(&st);
	CU_ASSERT_EQUAL(st.loaded, 2);
	CU_ASSERT_EQUAL(st.repaired, 1);
	CU_ASSERT_EQUAL(file_size("2024/10/04"), 2 * (strlen(LINE(ID1)) + 1));
	store_close(s);
}

static void test_lines_refused(void)
{
	struct store_stats st;
	uint8_t id[STORE_ID_LEN];
	char path[96];
	store_t *s = open_dir(&st);
	const char *two = LINE(ID1) "\n" LINE(ID2);

	CU_ASSERT_EQUAL(store_parse_id("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", id), 0); /* new */
	CU_ASSERT_EQUAL(store_put(s, id, two, strlen(two), 0), -1);   /* a newline inside */
	CU_ASSERT_EQUAL(store_put(s, id, "{\"udp\":{}}", 10, 0), -1); /* no schema, run_id first */
	store_close(s);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	CU_ASSERT_EQUAL(system(path), 0);
}

static void test_ids_parsed_strictly(void)
{
	uint8_t id[STORE_ID_LEN];

	CU_ASSERT_EQUAL(store_parse_id(ID1, id), 0);
	CU_ASSERT_EQUAL(id[0], 0x0b);
	CU_ASSERT_EQUAL(id[15], 0x66);
	CU_ASSERT_EQUAL(store_parse_id("0b5f3c2e-1111-4222-8333-44445555666", id), -1); /* short */
	CU_ASSERT_EQUAL(store_parse_id("0b5f3c2e11114222-8333-444455556666x", id), -1);
	CU_ASSERT_EQUAL(store_parse_id("0b5f3c2e-1111-4222-8333-44445555666g", id), -1);
	CU_ASSERT_EQUAL(store_parse_id("00000000-0000-0000-0000-000000000000", id), -1);
}

int test_collect_register(void)
{
	static const struct test_case tests[] = {
	    {"one record per run_id, across a restart", test_once_per_run_id},
	    {"a line cut by a kill is removed at open", test_cut_line_removed},
	    {"lines that are not stored records are refused", test_lines_refused},
	    {"run_ids parsed strictly", test_ids_parsed_strictly},
	};
	return TEST_SUITE("collect", tests);
}
