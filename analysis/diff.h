/*
 * Regression diffs: two sets of records (a baseline and a current run),
 * matched by label, compared verdict by verdict, and traversal technique by
 * technique (a cell of the traversal matrix): what its trials came to
 * (punch.T.outcome: all-succeeded, some-succeeded, none-succeeded,
 * none-started) and whether that agrees with the prediction
 * (punch.T.agrees); and nat_depth, cgn and portmap.works. A key or a
 * technique only one side has is not compared
 * (older records lack newer keys; a new technique has no baseline), though a
 * technique is reported; a label only one side has is a change. Several
 * records of one label count as one, their values joined with '|' where they
 * differ.
 */
#ifndef NATLAB_ANALYSIS_DIFF_H
#define NATLAB_ANALYSIS_DIFF_H

#include <stdio.h>

#include "analysis/verdicts.h"

/* A technique's results in one label's records. */
struct nr_side_cell {
	char technique[NR_VALUE_LEN];
	char outcome[NR_VALUE_LEN], agrees[NR_VALUE_LEN];
};

/* A label's techniques: at most this many (a record holds NR_PUNCH); more
 * are counted in over and not compared. */
#define NR_SIDE_CELLS 64

/* Beside nr_keys, the depth and portmap tests' verdicts: nat_depth (a
 * survey's bins: 0, 1, 2, 3+, null), cgn, portmap.works (the protocols
 * that worked, comma-separated, or "none"). */
enum nr_gw_key { NR_GW_DEPTH, NR_GW_CGN, NR_GW_WORKS, NR_NGW };

struct nr_side_entry {
	char label[NR_LABEL_LEN];
	char value[NR_NKEYS][NR_VALUE_LEN];
	char gw[NR_NGW][NR_VALUE_LEN];
	unsigned long n;
	/* Allocated as techniques come (none for a record without traversal
	 * trials: a million-record survey diff carries no empty cells); sorted
	 * by technique once the side is. */
	struct nr_side_cell *cell;
	unsigned ncells, cap;
	unsigned long over; /* technique results past NR_PUNCH a record or NR_SIDE_CELLS a
			     * label, or out of memory: not compared */
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
/* Technique results a side could not keep (past NR_PUNCH a record or
 * NR_SIDE_CELLS a label). */
unsigned long nr_side_over(const struct nr_side *side);

/* Every comparison made, of what (a verdict's path, "punch.T.outcome",
 * "punch.T.agrees") in label. Before or after is NULL for what one side
 * lacks: what NULL, the label (a change); "punch.T", a technique (not
 * compared, so no change). */
typedef void (*nr_diff_fn)(void *ctx, const char *label, const char *what, const char *before,
			   const char *after);

/* Compare; returns the number of changes. */
unsigned long nr_diff(struct nr_side *baseline, struct nr_side *current, nr_diff_fn fn, void *ctx);

/* JUnit XML of a diff: one test case per comparison, a failure per change. */
int nr_diff_junit(FILE *out, struct nr_side *baseline, struct nr_side *current, const char *name);

#endif
