/*
 * Regression diffs: two sets of records (a baseline and a current run),
 * matched by label, compared verdict by verdict. A key only one side has
 * is not compared (older records lack newer keys); a label only one side
 * has is a change. Several records of one label count as one, their
 * values joined with '|' where they differ.
 */
#ifndef NATLAB_ANALYSIS_DIFF_H
#define NATLAB_ANALYSIS_DIFF_H

#include <stdio.h>

#include "analysis/verdicts.h"

struct nr_side_entry {
	char label[NR_VALUE_LEN * 2];
	char value[NR_NKEYS][NR_VALUE_LEN];
	unsigned long n;
};

struct nr_side {
	struct nr_side_entry *e;
	size_t n, cap;
	unsigned long unlabelled; /* records numbered "(unlabelled #N)" */
	bool sorted;
};

/* Add a row to a side; -1 when out of memory. */
int nr_side_add(struct nr_side *side, const struct nr_row *row);
void nr_side_free(struct nr_side *side);

/* Every comparison made: key is NR_NKEYS for a label that one side lacks
 * (before or after is then NULL). */
typedef void (*nr_diff_fn)(void *ctx, const char *label, int key, const char *before,
			   const char *after);

/* Compare; returns the number of changes. */
unsigned long nr_diff(struct nr_side *baseline, struct nr_side *current, nr_diff_fn fn, void *ctx);

/* JUnit XML of a diff: one test case per comparison, a failure per change. */
int nr_diff_junit(FILE *out, struct nr_side *baseline, struct nr_side *current, const char *name);

#endif
