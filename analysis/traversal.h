/*
 * Traversal trials (punch[]) over any number of records, counted in two
 * bounded tables of the same shape, one row per pair and one column per
 * technique:
 *
 *   the matrix  a row per NAT pair as the lab names it: the record's label
 *               ("natlab:A+B" is shown as "A+B"), for natlab punch-matrix;
 *   the pairs   a row per NAT-type pair: this side's mapping/filtering and
 *               the other probe's (punch_peer), in canonical order, so that
 *               A with B and B with A pool together; for surveys.
 *
 * Constant memory whatever the count of records: up to NR_TALLY_ROWS rows
 * and NR_TALLY_TECHS techniques, the rest counted as "(other pairs)" and
 * "(other techniques)". Techniques are whatever the records name.
 */
#ifndef NATLAB_ANALYSIS_TRAVERSAL_H
#define NATLAB_ANALYSIS_TRAVERSAL_H

#include <stdbool.h>
#include <stddef.h>

#include "analysis/verdicts.h"

#define NR_TALLY_ROWS  128
#define NR_TALLY_TECHS NR_PUNCH
#define NR_MAX_TRIALS  1000000L /* per technique and record: more is not a count */

/* What a technique's trials came to, as `natreport diff` compares it. */
enum nr_outcome {
	NR_OUT_NOT_STARTED, /* no trial started (all setup-failed, or none) */
	NR_OUT_NONE,        /* trials started, none succeeded */
	NR_OUT_SOME,
	NR_OUT_ALL,
	NR_OUT_INCONSISTENT, /* counts that do not add up */
	NR_NOUTCOMES
};

/* One cell: a technique's trials for one pair, summed over its records. */
struct nr_cell {
	unsigned long records, trials, setup_failed, successes;
	unsigned long agrees, contradicts; /* records with agrees true, false */
	unsigned expected;                 /* the expected words seen: bits of nr_cell_expected */
};

struct nr_tally {
	char row[NR_TALLY_ROWS + 1][NR_LABEL_LEN];
	char tech[NR_TALLY_TECHS + 1][NR_LABEL_LEN];
	unsigned nrows, ntechs; /* in order of first sight, "(other ...)" last */
	struct nr_cell cell[NR_TALLY_ROWS + 1][NR_TALLY_TECHS + 1];
	unsigned long inconsistent; /* techniques whose counts did not add up: left out */
	unsigned long over;         /* techniques past NR_PUNCH in one record: left out */
};

enum nr_outcome nr_outcome_of(const struct nr_punch *p);
/* "all-succeeded", "some-succeeded", "none-succeeded", "none-started",
 * "inconsistent". */
const char *nr_outcome_name(enum nr_outcome o);

/* A record's pair in the matrix: its label without "natlab:", else where
 * the record is. */
const char *nr_matrix_pair(const struct nr_row *row);
/* A record's NAT-type pair: "EI/APD + APD/APD", the two sides' classes
 * sorted, "unknown" for a side the record does not classify. */
void nr_nat_pair(const struct nr_row *row, bool tcp, char *out, size_t len);

/* Count one technique's results into row name of t. */
void nr_tally_add(struct nr_tally *t, const char *name, const struct nr_punch *p);
/* Count a record's techniques: into its matrix pair, or its NAT-type pair. */
void nr_matrix_add(struct nr_tally *t, const struct nr_row *row);
void nr_pairs_add(struct nr_tally *t, const struct nr_row *row);

unsigned long nr_cell_started(const struct nr_cell *c);
/* The expected words seen, '|'-joined ("works", "fails|works"), "-" none. */
void nr_cell_expected(const struct nr_cell *c, char *out, size_t len);
/* How the results stand against the expectation: "CONTRADICTION" when a
 * record's result contradicts it, "agrees" when some agree and none
 * contradicts, "not judged" otherwise. */
const char *nr_cell_result(const struct nr_cell *c);
/* Cells whose result is CONTRADICTION. */
unsigned long nr_tally_contradictions(const struct nr_tally *t);

#endif
