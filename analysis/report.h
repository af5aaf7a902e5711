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

#define NR_FIGURES 6

struct nr_figure {
	const char *name;  /* the files' base name: "ports" */
	const char *title; /* for people */
};

struct nr_report {
	struct nr_row *rows; /* the first records, one device each */
	size_t nrows, max_rows;
	unsigned long more; /* records beyond those */
	nr_survey_t *survey;
	const char *by; /* the grouping key, or NULL */
	struct rec_stats stats;
	/* Figures drawn (nr_plots_write): NAME.png and NAME.svg in a folder,
	 * which the Markdown file reaches by figure_dir ("" the same folder). */
	struct nr_figure figures[NR_FIGURES];
	size_t nfigures;
	char figure_dir[4096];
};

void nr_write_text(FILE *out, const struct nr_report *r);
void nr_write_markdown(FILE *out, const struct nr_report *r);
/* A page with its style; figures by name, in the page's folder. */
void nr_write_html(FILE *out, const struct nr_report *r);

/* A verdict's short form for narrow columns and figures ("EI"); "-" for
 * "" (absent). */
const char *nr_brief(const char *v);

/* A device's name: its label, else where its record is. */
const char *nr_row_name(const struct nr_row *row);

#endif
