/*
 * natreport's traversal counting (analysis/traversal.c) and the diff of
 * traversal cells (analysis/diff.c): a technique's outcome class, NAT-type
 * pairs in canonical order, pooling with setup failures outside the rate,
 * the bounds that keep a survey's memory constant, and `natreport diff`
 * failing on a changed cell and passing on an unchanged one.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "analysis/diff.h"
#include "analysis/survey.h"
#include "analysis/traversal.h"
#include "lib/stats.h"
#include "testlib.h"

#define EI  "endpoint-independent"
#define APD "address-and-port-dependent"

/* A technique's entry of punch[]: name, trials, successes, setup failures,
 * expected, agrees (a JSON literal). */
#define TECH(name, trials, successes, setup, expected, agrees)                                     \
	"{\"technique\":\"" name "\",\"trials\":" #trials ",\"successes\":" #successes             \
	",\"setup_failed\":" #setup ",\"expected\":\"" expected "\",\"agrees\":" agrees "}"

/* A punch record: label, this side's and the other's mapping and filtering
 * (peer a JSON value: an object, or null), then the punch[] entries, joined
 * by "," (TECH(...) "," TECH(...)). */
#define PUNCH_REC(label, mapping, filtering, peer, techs)                                          \
	"{\"schema\":\"natlab.result/1\",\"label\":\"" label "\",\"udp\":{\"mapping\":\"" mapping  \
	"\",\"filtering\":\"" filtering "\"},\"punch_peer\":" peer ",\"punch\":[" techs "]}"
#define PEER(mapping, filtering) "{\"mapping\":\"" mapping "\",\"filtering\":\"" filtering "\"}"

static void row_of(const char *text, struct nr_row *row)
{
	json_error_t e;
	json_t *rec = json_loads(text, 0, &e);

	CU_ASSERT_PTR_NOT_NULL_FATAL(rec);
	nr_row_from(row, rec, NULL, "f", 1, false);
	json_decref(rec);
}

static struct nr_punch tech(long trials, long successes, long setup)
{
	struct nr_punch p = {
	    .technique = "t", .trials = trials, .successes = successes, .setup_failed = setup};

	return p;
}

static void test_outcome(void)
{
	struct nr_punch p = tech(3, 3, 0);

	CU_ASSERT_STRING_EQUAL(nr_outcome_name(nr_outcome_of(&p)), "all-succeeded");
	p = tech(5, 3, 2); /* every trial that started */
	CU_ASSERT_EQUAL(nr_outcome_of(&p), NR_OUT_ALL);
	p = tech(5, 2, 2);
	CU_ASSERT_STRING_EQUAL(nr_outcome_name(nr_outcome_of(&p)), "some-succeeded");
	p = tech(3, 0, 0);
	CU_ASSERT_STRING_EQUAL(nr_outcome_name(nr_outcome_of(&p)), "none-succeeded");
	p = tech(3, 0, 3);
	CU_ASSERT_STRING_EQUAL(nr_outcome_name(nr_outcome_of(&p)), "none-started");
	p = tech(0, 0, 0);
	CU_ASSERT_EQUAL(nr_outcome_of(&p), NR_OUT_NOT_STARTED);
	/* Counts that do not add up are no outcome. */
	p = tech(3, 3, 1);
	CU_ASSERT_STRING_EQUAL(nr_outcome_name(nr_outcome_of(&p)), "inconsistent");
	p = tech(3, -1, 0);
	CU_ASSERT_EQUAL(nr_outcome_of(&p), NR_OUT_INCONSISTENT);
	p = tech(2, 0, 3);
	CU_ASSERT_EQUAL(nr_outcome_of(&p), NR_OUT_INCONSISTENT);
	p = tech(NR_MAX_TRIALS + 1, 0, 0);
	CU_ASSERT_EQUAL(nr_outcome_of(&p), NR_OUT_INCONSISTENT);
}

static void pair_of(const char *text, char *out, size_t len)
{
	struct nr_row row;

	row_of(text, &row);
	nr_nat_pair(&row, false, out, len);
}

/* Either side may be the one that wrote the record: one name for both. */
static void test_nat_pair(void)
{
	char a[128], b[128];

	pair_of(PUNCH_REC("x", EI, APD, PEER(APD, APD), TECH("t", 1, 1, 0, "works", "true")), a,
		sizeof(a));
	pair_of(PUNCH_REC("y", APD, APD, PEER(EI, APD), TECH("t", 1, 1, 0, "works", "true")), b,
		sizeof(b));
	CU_ASSERT_STRING_EQUAL(a, "APD/APD + EI/APD");
	CU_ASSERT_STRING_EQUAL(b, a);
	pair_of(PUNCH_REC("z", EI, APD, "null", TECH("t", 1, 0, 1, "works", "null")), a, sizeof(a));
	CU_ASSERT_STRING_EQUAL(a, "EI/APD + unknown");
	pair_of("{\"punch_peer\":" PEER(EI, EI) ",\"punch\":[]}", a, sizeof(a));
	CU_ASSERT_STRING_EQUAL(a, "EI/EI + unknown"); /* unknown last, whichever side */
	pair_of("{\"udp\":{\"mapping\":\"none\",\"filtering\":\"inconclusive\"}}", a, sizeof(a));
	CU_ASSERT_STRING_EQUAL(a, "none/? + unknown");
}

static const struct nr_cell *cell_at(const struct nr_tally *t, const char *row, const char *tech);

/* A TCP technique's pair is the two TCP classes (tcp, punch_peer.tcp),
 * named apart from the UDP pair of the same record. */
static void test_tcp_pair(void)
{
	static const char rec[] =
	    "{\"udp\":{\"mapping\":\"endpoint-independent\",\"filtering\":\"endpoint-independent\"}"
	    ","
	    "\"tcp\":{\"mapping\":\"endpoint-independent\",\"filtering\":\"address-and-port-"
	    "dependent\"},"
	    "\"punch_peer\":{\"mapping\":\"address-and-port-dependent\",\"filtering\":"
	    "\"address-and-port-dependent\",\"tcp\":{\"mapping\":\"address-dependent\","
	    "\"filtering\":\"endpoint-independent\"}},\"punch\":["
	    "{\"technique\":\"udp-hole-punching\",\"trials\":1,\"successes\":1,\"setup_failed\":0,"
	    "\"transport\":\"udp\"},"
	    "{\"technique\":\"tcp-simultaneous-open\",\"trials\":1,\"successes\":1,"
	    "\"setup_failed\":0,\"transport\":\"tcp\"}]}";
	static struct nr_tally t;
	struct nr_row row;
	char a[128];

	row_of(rec, &row);
	CU_ASSERT_TRUE(!row.punch[0].tcp && row.punch[1].tcp);
	nr_nat_pair(&row, true, a, sizeof(a));
	CU_ASSERT_STRING_EQUAL(a, "TCP AD/EI + EI/APD");
	memset(&t, 0, sizeof(t));
	nr_pairs_add(&t, &row);
	CU_ASSERT_PTR_NOT_NULL(cell_at(&t, "APD/APD + EI/EI", "udp-hole-punching"));
	CU_ASSERT_PTR_NOT_NULL(cell_at(&t, "TCP AD/EI + EI/APD", "tcp-simultaneous-open"));
	CU_ASSERT_PTR_NULL(cell_at(&t, "APD/APD + EI/EI", "tcp-simultaneous-open"));
}

static void add_all(nr_survey_t *s, const char *const *recs, size_t n)
{
	struct nr_row row;

	for (size_t i = 0; i < n; i++) {
		row_of(recs[i], &row);
		nr_survey_add(s, &row);
	}
}

static const struct nr_cell *cell_at(const struct nr_tally *t, const char *row, const char *tech)
{
	for (unsigned r = 0; r < t->nrows; r++)
		for (unsigned k = 0; k < t->ntechs; k++)
			if (!strcmp(t->row[r], row) && !strcmp(t->tech[k], tech))
				return t->cell[r][k].records ? &t->cell[r][k] : NULL;
	return NULL;
}

/* A with B and B with A pool; setup failures are outside the rate; counts
 * that do not add up are left out and counted as such. */
static void test_pairs_pooling(void)
{
	static const char *const recs[] = {
	    PUNCH_REC("natlab:masq+masq-random", EI, APD, PEER(APD, APD),
		      TECH("udp-hole-punching", 3, 2, 0, "fails",
			   "false") "," TECH("udp-birthday", 4, 1, 2, "depends", "null")),
	    PUNCH_REC("natlab:masq-random+masq", APD, APD, PEER(EI, APD),
		      TECH("udp-hole-punching", 3, 1, 2, "fails", "false")),
	    PUNCH_REC("natlab:masq+masq", EI, APD, PEER(EI, APD),
		      TECH("udp-hole-punching", 3, 3, 0, "works",
			   "true") "," TECH("udp-hole-punching", 3, 9, 0, "works", "true")),
	};
	nr_survey_t *s = nr_survey_new();
	const struct nr_cell *c;
	double lo, hi;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	add_all(s, recs, 3);
	c = cell_at(s->pairs, "APD/APD + EI/APD", "udp-hole-punching");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->records, 2);
	CU_ASSERT_EQUAL(c->trials, 6);
	CU_ASSERT_EQUAL(c->setup_failed, 2);
	CU_ASSERT_EQUAL(nr_cell_started(c), 4);
	CU_ASSERT_EQUAL(c->successes, 3);
	CU_ASSERT_EQUAL(c->contradicts, 2);
	/* 3 of the 4 that started: Wilson's 0.3006 to 0.9544, as tables give it. */
	stats_wilson95(c->successes, nr_cell_started(c), &lo, &hi);
	CU_ASSERT_DOUBLE_EQUAL(lo, 0.3006, 1e-4);
	CU_ASSERT_DOUBLE_EQUAL(hi, 0.9544, 1e-4);
	/* A technique natreport has never heard of is counted like any other. */
	c = cell_at(s->pairs, "APD/APD + EI/APD", "udp-birthday");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(nr_cell_started(c), 2);
	/* 9 successes of 3 trials: not counted, but said. */
	c = cell_at(s->pairs, "EI/APD + EI/APD", "udp-hole-punching");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->records, 1);
	CU_ASSERT_EQUAL(c->successes, 3);
	CU_ASSERT_EQUAL(s->pairs->inconsistent, 1);
	CU_ASSERT_EQUAL(s->pairs->nrows, 2);
	nr_survey_free(s);
}

/* The matrix: one row per label ("natlab:" dropped), each cell's
 * expectation and how the result stands against it. */
static void test_matrix(void)
{
	static const char *const recs[] = {
	    PUNCH_REC("natlab:masq+masq", EI, APD, PEER(EI, APD),
		      TECH("udp-hole-punching", 3, 3, 0, "works",
			   "true") "," TECH("connection-reversal", 3, 0, 0, "fails", "true")),
	    PUNCH_REC("natlab:masq+masq", EI, APD, PEER(EI, APD),
		      TECH("udp-hole-punching", 3, 1, 0, "works", "false")),
	    PUNCH_REC("lab-x", EI, APD, "null",
		      TECH("udp-hole-punching", 2, 0, 2, "fails",
			   "null") "," TECH("relay", 2, 0, 2, "odd-word", "null")),
	};
	nr_survey_t *s = nr_survey_new();
	const struct nr_cell *c;
	char buf[64];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	add_all(s, recs, 3);
	CU_ASSERT_EQUAL(s->matrix->nrows, 2);
	CU_ASSERT_STRING_EQUAL(s->matrix->row[0], "masq+masq");
	CU_ASSERT_STRING_EQUAL(s->matrix->row[1], "lab-x");
	c = cell_at(s->matrix, "masq+masq", "udp-hole-punching");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->successes, 4);
	CU_ASSERT_STRING_EQUAL(nr_cell_result(c), "CONTRADICTION");
	c = cell_at(s->matrix, "masq+masq", "connection-reversal");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(nr_cell_result(c), "agrees");
	c = cell_at(s->matrix, "lab-x", "udp-hole-punching");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(nr_cell_result(c), "not judged");
	CU_ASSERT_EQUAL(nr_cell_started(c), 0);
	nr_cell_expected(c, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "fails");
	c = cell_at(s->matrix, "lab-x", "relay");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	nr_cell_expected(c, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "other");
	CU_ASSERT_EQUAL(nr_tally_contradictions(s->matrix), 1);
	nr_survey_free(s);
}

/* Many labels and techniques: the tables stop growing at their bounds, and
 * what does not fit is counted under "(other ...)", not lost. */
static void test_bounds(void)
{
	nr_survey_t *s = nr_survey_new();
	struct nr_row row;
	char text[512];
	unsigned long trials = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (int i = 0; i < 300; i++) {
		snprintf(text, sizeof(text),
			 PUNCH_REC("natlab:p%d", EI, APD, PEER(EI, APD),
				   "{\"technique\":\"t%d\",\"trials\":2,\"successes\":1}"),
			 i, i % 20);
		row_of(text, &row);
		nr_survey_add(s, &row);
		trials += 2;
	}
	CU_ASSERT_EQUAL(s->matrix->nrows, NR_TALLY_ROWS + 1);
	CU_ASSERT_STRING_EQUAL(s->matrix->row[NR_TALLY_ROWS], "(other pairs)");
	CU_ASSERT_EQUAL(s->matrix->ntechs, NR_TALLY_TECHS + 1);
	CU_ASSERT_STRING_EQUAL(s->matrix->tech[NR_TALLY_TECHS], "(other techniques)");
	CU_ASSERT_EQUAL(s->pairs->nrows, 1);
	for (unsigned k = 0; k < s->pairs->ntechs; k++)
		trials -= s->pairs->cell[0][k].trials;
	CU_ASSERT_EQUAL(trials, 0);
	nr_survey_free(s);
}

/* ---- the diff of traversal cells ---- */

struct changes {
	unsigned long compared, changed, one_sided;
	char last[160];
};

static void seen(void *ctx, const char *label, const char *what, const char *before,
		 const char *after)
{
	struct changes *c = ctx;

	if (!before || !after) {
		c->one_sided++;
		snprintf(c->last, sizeof(c->last), "%s %s only in the %s", label,
			 what ? what : "record", before ? "baseline" : "current");
		return;
	}
	c->compared++;
	if (strcmp(before, after)) {
		c->changed++;
		snprintf(c->last, sizeof(c->last), "%s %s %s -> %s", label, what, before, after);
	}
}

static void side_of(struct nr_side *side, const char *const *records, size_t n)
{
	struct nr_row row;

	memset(side, 0, sizeof(*side));
	for (size_t i = 0; i < n; i++) {
		row_of(records[i], &row);
		CU_ASSERT_EQUAL(nr_side_add(side, &row), 0);
	}
}

/* Compare two sets of records; the changes counted, the last one said. */
static unsigned long diff_of(const char *const *a, size_t na, const char *const *b, size_t nb,
			     struct changes *c)
{
	struct nr_side x, y;
	unsigned long n;

	side_of(&x, a, na);
	side_of(&y, b, nb);
	memset(c, 0, sizeof(*c));
	n = nr_diff(&x, &y, seen, c);
	nr_side_free(&x);
	nr_side_free(&y);
	return n;
}

#define HP_ALL       TECH("udp-hole-punching", 3, 3, 0, "works", "true")
#define CR_NONE      TECH("connection-reversal", 3, 0, 0, "fails", "true")
#define MASQ(techs)  PUNCH_REC("natlab:masq+masq", EI, APD, PEER(EI, APD), techs)
#define OTHER(techs) PUNCH_REC("natlab:masq+masq-random", EI, APD, PEER(APD, APD), techs)

static void test_diff_cells_same(void)
{
	static const char *const base[] = {MASQ(HP_ALL "," CR_NONE), OTHER(CR_NONE)};
	/* The same results, records and techniques in another order. */
	static const char *const same[] = {OTHER(CR_NONE), MASQ(CR_NONE "," HP_ALL)};
	struct changes c;

	CU_ASSERT_EQUAL(diff_of(base, 2, same, 2, &c), 0);
	CU_ASSERT_EQUAL(c.changed, 0);
	CU_ASSERT_EQUAL(c.one_sided, 0);
	/* Two verdict keys a label, and each technique's outcome and agrees. */
	CU_ASSERT_EQUAL(c.compared, 2 * 2 + 2 * 2 + 1 * 2);
	/* Other counts, the same class: 3 of 3 and 5 of 5 both all-succeeded. */
	{
		static const char *const more[] = {
		    MASQ(TECH("udp-hole-punching", 5, 5, 0, "works", "true") "," CR_NONE),
		    OTHER(CR_NONE)};

		CU_ASSERT_EQUAL(diff_of(base, 2, more, 2, &c), 0);
	}
}

static void test_diff_cells_changed(void)
{
	static const char *const base[] = {MASQ(HP_ALL "," CR_NONE), OTHER(CR_NONE)};
	static const char *const none[] = {
	    MASQ(TECH("udp-hole-punching", 3, 0, 0, "works", "false") "," CR_NONE), OTHER(CR_NONE)};
	static const char *const some[] = {
	    MASQ(TECH("udp-hole-punching", 3, 2, 0, "works", "true") "," CR_NONE), OTHER(CR_NONE)};
	static const char *const unstarted[] = {
	    MASQ(HP_ALL "," CR_NONE), OTHER(TECH("connection-reversal", 3, 0, 3, "fails", "true"))};
	static const char *const contradicted[] = {
	    MASQ(HP_ALL "," TECH("connection-reversal", 3, 0, 0, "fails", "false")),
	    OTHER(CR_NONE)};
	static const char *const mixed[] = {
	    MASQ(HP_ALL "," CR_NONE), OTHER(CR_NONE),
	    MASQ(TECH("udp-hole-punching", 3, 1, 0, "works", "true") "," CR_NONE)};
	struct changes c;

	CU_ASSERT_EQUAL(diff_of(base, 2, none, 2, &c), 2); /* the outcome and agrees */
	CU_ASSERT_STRING_EQUAL(c.last, "natlab:masq+masq punch.udp-hole-punching.agrees true -> "
				       "false");
	CU_ASSERT_EQUAL(diff_of(base, 2, some, 2, &c), 1);
	CU_ASSERT_STRING_EQUAL(c.last, "natlab:masq+masq punch.udp-hole-punching.outcome "
				       "all-succeeded -> some-succeeded");
	CU_ASSERT_EQUAL(diff_of(base, 2, unstarted, 2, &c), 1);
	CU_ASSERT_STRING_EQUAL(c.last, "natlab:masq+masq-random punch.connection-reversal.outcome "
				       "none-succeeded -> none-started");
	CU_ASSERT_EQUAL(diff_of(base, 2, contradicted, 2, &c), 1);
	CU_ASSERT_STRING_EQUAL(c.last, "natlab:masq+masq punch.connection-reversal.agrees true -> "
				       "false");
	/* A second run of a label that went differently: the classes joined. */
	CU_ASSERT_EQUAL(diff_of(base, 2, mixed, 3, &c), 1);
	CU_ASSERT_STRING_EQUAL(c.last, "natlab:masq+masq punch.udp-hole-punching.outcome "
				       "all-succeeded -> all-succeeded|some-succeeded");
}

/* A technique on one side only is reported and not compared, as a verdict
 * key one side lacks; a label on one side only is still a change. JUnit has
 * the changed cell as a failure and the one-sided one as skipped. */
static void test_diff_cells_one_side(void)
{
	static const char *const base[] = {MASQ(HP_ALL "," CR_NONE), OTHER(CR_NONE)};
	static const char *const added[] = {
	    MASQ(HP_ALL "," CR_NONE "," TECH("udp-birthday", 3, 3, 0, "works", "true")),
	    OTHER(CR_NONE)};
	static const char *const dropped[] = {MASQ(HP_ALL), OTHER(CR_NONE)};
	static const char *const changed[] = {
	    MASQ(TECH("udp-hole-punching", 3, 0, 0, "works", "false")), OTHER(CR_NONE)};
	struct changes c;
	struct nr_side x, y;
	char *xml;
	size_t len;
	FILE *out;

	CU_ASSERT_EQUAL(diff_of(base, 2, added, 2, &c), 0);
	CU_ASSERT_EQUAL(c.one_sided, 1);
	CU_ASSERT_STRING_EQUAL(c.last, "natlab:masq+masq punch.udp-birthday only in the current");
	CU_ASSERT_EQUAL(diff_of(base, 2, dropped, 2, &c), 0);
	CU_ASSERT_STRING_EQUAL(c.last,
			       "natlab:masq+masq punch.connection-reversal only in the baseline");
	CU_ASSERT_EQUAL(diff_of(base, 2, base, 1, &c), 1);
	CU_ASSERT_STRING_EQUAL(c.last, "natlab:masq+masq-random record only in the baseline");

	side_of(&x, base, 2);
	side_of(&y, changed, 2);
	out = open_memstream(&xml, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	nr_diff_junit(out, &x, &y, "t");
	fclose(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(xml, "failures=\"2\" errors=\"0\" skipped=\"1\""));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(xml, "name=\"punch.udp-hole-punching.outcome\">\n      <failure message=\""
			"all-succeeded -&gt; none-succeeded\"/>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(xml, "name=\"punch.connection-reversal\">\n      <skipped "
					   "message=\"only in the baseline: not compared\"/>"));
	free(xml);
	nr_side_free(&x);
	nr_side_free(&y);
}

/* A label's technique cells come as they are needed (none for a record
 * without trials) up to NR_SIDE_CELLS; the rest are counted, not kept, and
 * the count survives the merge of a label's records met apart. */
static void test_diff_bounds(void)
{
	static struct nr_row row;
	struct nr_side x, y;
	struct changes c;

	memset(&x, 0, sizeof(x));
	memset(&y, 0, sizeof(y));
	memset(&row, 0, sizeof(row));
	snprintf(row.label, sizeof(row.label), "plain");
	CU_ASSERT_EQUAL(nr_side_add(&x, &row), 0);
	CU_ASSERT_PTR_NULL(x.e[0].cell); /* no trials, no cells */
	/* Six records of two labels, apart, NR_PUNCH techniques each. */
	for (int r = 0; r < 6; r++) {
		snprintf(row.label, sizeof(row.label), "%s", r % 2 ? "many" : "other");
		row.npunch = NR_PUNCH;
		for (int k = 0; k < NR_PUNCH; k++) {
			struct nr_punch *p = &row.punch[k];

			memset(p, 0, sizeof(*p));
			snprintf(p->technique, sizeof(p->technique), "t%02d", r * NR_PUNCH + k);
			p->trials = 1;
			p->successes = 1;
			snprintf(p->agrees, sizeof(p->agrees), "true");
		}
		CU_ASSERT_EQUAL(nr_side_add(&x, &row), 0);
		CU_ASSERT_EQUAL(nr_side_add(&y, &row), 0);
	}
	CU_ASSERT_EQUAL(nr_side_over(&x), 0); /* 3 NR_PUNCH a label, met apart */
	for (int r = 0; r < 3; r++) {         /* "many" gets as many more, together */
		snprintf(row.label, sizeof(row.label), "many");
		for (int k = 0; k < NR_PUNCH; k++)
			snprintf(row.punch[k].technique, sizeof(row.punch[k].technique), "u%02d",
				 r * NR_PUNCH + k);
		CU_ASSERT_EQUAL(nr_side_add(&x, &row), 0);
		CU_ASSERT_EQUAL(nr_side_add(&y, &row), 0);
	}
	/* The diff sorts and merges: 6 NR_PUNCH techniques of "many", NR_SIDE_CELLS kept. */
	_Static_assert(3 * NR_PUNCH <= NR_SIDE_CELLS && 6 * NR_PUNCH > NR_SIDE_CELLS,
		       "one label's three records fit, six do not");
	CU_ASSERT_EQUAL(nr_diff(&x, &y, seen, (memset(&c, 0, sizeof(c)), &c)), 1); /* "plain" */
	CU_ASSERT_EQUAL(nr_side_over(&x), 6 * NR_PUNCH - NR_SIDE_CELLS);
	CU_ASSERT_EQUAL(nr_side_over(&y), 6 * NR_PUNCH - NR_SIDE_CELLS);
	CU_ASSERT_EQUAL(c.changed, 0);
	nr_side_free(&x);
	nr_side_free(&y);
}

/* A record with more techniques than natreport reads (NR_PUNCH): the rest
 * are counted where the matrix and the diff say what they left out. */
static void test_record_over(void)
{
#define T3(n)                                                                                      \
	TECH(n "a", 1, 1, 0, "works", "true")                                                      \
	"," TECH(n "b", 1, 1, 0, "works", "true") "," TECH(n "c", 1, 1, 0, "works", "true")
	static const char rec[] =
	    MASQ(T3("p") "," T3("q") "," T3("r") "," T3("s") "," T3("t") "," T3("u"));
#undef T3
	_Static_assert(NR_PUNCH < 18, "the record has more techniques than natreport reads");
	static struct nr_row row;
	static struct nr_tally t;
	struct nr_side side = {0};

	row_of(rec, &row);
	CU_ASSERT_EQUAL(row.npunch, NR_PUNCH);
	CU_ASSERT_EQUAL(row.punch_over, 18 - NR_PUNCH);
	memset(&t, 0, sizeof(t));
	nr_matrix_add(&t, &row);
	CU_ASSERT_EQUAL(t.over, 18 - NR_PUNCH);
	CU_ASSERT_EQUAL(nr_side_add(&side, &row), 0);
	CU_ASSERT_EQUAL(nr_side_over(&side), 18 - NR_PUNCH);
	nr_side_free(&side);
}

int test_traversal_register(void)
{
	static const struct test_case tests[] = {
	    {"a technique's outcome class, counts that do not add up", test_outcome},
	    {"NAT-type pairs: one order for A/B and B/A, unknown last", test_nat_pair},
	    {"pooling by NAT-type pair: setup failures outside the rate", test_pairs_pooling},
	    {"a TCP technique's pair: the two TCP classes", test_tcp_pair},
	    {"the matrix: pairs by label, expectations, contradictions", test_matrix},
	    {"many pairs and techniques: bounded, the rest as other", test_bounds},
	    {"diff: the same cells in another order are no change", test_diff_cells_same},
	    {"diff: a cell's outcome class or agrees changed", test_diff_cells_changed},
	    {"diff: a technique on one side only; JUnit", test_diff_cells_one_side},
	    {"diff: cells as needed, bounded, the rest counted", test_diff_bounds},
	    {"a record past natreport's techniques: counted, said", test_record_over},
	};

	return TEST_SUITE("natreport traversal", tests);
}
