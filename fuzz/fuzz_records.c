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

static int take(void *ctx, json_t *rec, const struct rec_where *where)
{
	struct nr_row row;

	nr_row_from(&row, rec, "tags.isp", where->file, where->line, true);
	nr_survey_add(ctx, &row);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rec_stats st = {0};
	nr_survey_t *s;
	FILE *in;

	if (!size)
		return 0;
	in = fmemopen((void *)(uintptr_t)data, size, "r");
	s = nr_survey_new();
	if (in && s) {
		rec_read_stream(in, "fuzz", take, s, &st, NULL, "natreport");
		CHECK(s->n == st.records);
	}
	if (in)
		fclose(in);
	nr_survey_free(s);
	return 0;
}
