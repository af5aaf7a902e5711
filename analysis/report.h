/*
 * natreport's writers: what was read (rows for the devices shown, the
 * survey of all records), written as a terminal table or as Markdown. The
 * writers only format; every number comes from the rows and the survey.
 */
#ifndef NATLAB_ANALYSIS_REPORT_H
#define NATLAB_ANALYSIS_REPORT_H

#include <stdio.h>

#include "analysis/records.h"
#include "analysis/survey.h"

struct nr_report {
	struct nr_row *rows; /* the first records, one device each */
	size_t nrows, max_rows;
	unsigned long more; /* records beyond those */
	nr_survey_t *survey;
	const char *by; /* the grouping key, or NULL */
	struct rec_stats stats;
	/* Figures to show, relative to the Markdown file; NULL: none. */
	const char *const *figures;
	const char *const *figure_titles;
	size_t nfigures;
};

void nr_write_text(FILE *out, const struct nr_report *r);
void nr_write_markdown(FILE *out, const struct nr_report *r);

/* A device's name: its label, else where its record is. */
const char *nr_row_name(const struct nr_row *row);

#endif
