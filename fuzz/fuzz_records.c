/*
 * libFuzzer harness for natreport's reading (analysis/records.c) and what
 * follows it on each record (analysis/verdicts.c, survey.c, compliance.c),
 * which read files from anywhere: any bytes are split, parsed, judged and
 * counted without a crash, and every byte ends in a record or a skip.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "fuzz/fuzz.h"

#include "analysis/records.h"
#include "analysis/survey.h"

static void work(void *ctx, const json_t *rec, const struct rec_where *where, void *result)
{
	(void)ctx;
	nr_row_from(result, rec, "tags.isp", where->file, where->line, true);
}

static int take(void *ctx, void *result, const struct rec_where *where)
{
	(void)where;
	nr_survey_add(ctx, result);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rec_stats st = {0};
	struct rec_jobs jobs = {work, take, NULL, sizeof(struct nr_row), 0, NULL, "natreport"};
	nr_survey_t *s;
	FILE *in;

	if (!size)
		return 0;
	in = fmemopen((void *)(uintptr_t)data, size, "r");
	s = nr_survey_new();
	if (in && s) {
		jobs.ctx = s;
		rec_read_stream(in, "fuzz", &jobs, &st);
		CHECK(s->n == st.records);
	}
	if (in)
		fclose(in);
	nr_survey_free(s);
	return 0;
}
