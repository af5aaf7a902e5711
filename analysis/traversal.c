/*
 * Counting traversal trials by pair and technique. Rows and techniques are
 * found by a scan of at most 65 and 13 names: a hash would not pay.
 */
#include <stdio.h>
#include <string.h>

#include "analysis/report.h"
#include "analysis/traversal.h"

#define OTHER_ROWS  "(other pairs)"
#define OTHER_TECHS "(other techniques)"
#define LAB_PREFIX  "natlab:"

/* natprobe's words for expected (probe/predict.c), in the order joined. */
static const char *const expected_words[] = {"depends", "fails", "works"};
#define NEXPECTED  (sizeof(expected_words) / sizeof(expected_words[0]))
#define OTHER_WORD (1u << NEXPECTED) /* a word natreport does not know */

/* Counts that add up: none negative, successes among the trials that
 * started, no count too large to sum over a million records. */
static bool consistent(const struct nr_punch *p)
{
	return p->trials >= 0 && p->trials <= NR_MAX_TRIALS && p->setup_failed >= 0 &&
	       p->setup_failed <= p->trials && p->successes >= 0 &&
	       p->successes <= p->trials - p->setup_failed;
}

enum nr_outcome nr_outcome_of(const struct nr_punch *p)
{
	long started;

	if (!consistent(p))
		return NR_OUT_INCONSISTENT;
	started = p->trials - p->setup_failed;
	if (!started)
		return NR_OUT_NOT_STARTED;
	return p->successes == started ? NR_OUT_ALL : p->successes ? NR_OUT_SOME : NR_OUT_NONE;
}

const char *nr_outcome_name(enum nr_outcome o)
{
	static const char *const names[NR_NOUTCOMES] = {
	    [NR_OUT_NOT_STARTED] = "none-started",  [NR_OUT_NONE] = "none-succeeded",
	    [NR_OUT_SOME] = "some-succeeded",       [NR_OUT_ALL] = "all-succeeded",
	    [NR_OUT_INCONSISTENT] = "inconsistent",
	};

	return o < NR_NOUTCOMES ? names[o] : "?";
}

const char *nr_matrix_pair(const struct nr_row *row)
{
	size_t n = strlen(LAB_PREFIX);

	if (!strncmp(row->label, LAB_PREFIX, n) && row->label[n])
		return row->label + n;
	return nr_row_name(row);
}

/* One side's class, "EI/APD"; "unknown" when the record has neither. */
static void nat_class(const char *mapping, const char *filtering, char *out, size_t len)
{
	if (!mapping[0] && !filtering[0])
		snprintf(out, len, "unknown");
	else
		snprintf(out, len, "%s/%s", nr_brief(mapping), nr_brief(filtering));
}

void nr_nat_pair(const struct nr_row *row, bool tcp, char *out, size_t len)
{
	char a[2 * NR_VALUE_LEN + 2], b[2 * NR_VALUE_LEN + 2];
	bool swap;

	if (tcp) {
		nat_class(row->value[NR_TCP_MAPPING], row->value[NR_TCP_FILTERING], a, sizeof(a));
		nat_class(row->peer_tcp[0], row->peer_tcp[1], b, sizeof(b));
	} else {
		nat_class(row->value[NR_MAPPING], row->value[NR_FILTERING], a, sizeof(a));
		nat_class(row->peer[0], row->peer[1], b, sizeof(b));
	}
	/* Either side may be "this" one: one order for both, "unknown" last. */
	swap = !strcmp(a, "unknown") || (strcmp(b, "unknown") && strcmp(a, b) > 0);
	snprintf(out, len, "%s%s + %s", tcp ? "TCP " : "", swap ? b : a, swap ? a : b);
}

/* The index of name among n names, added on first sight while fewer than
 * cap; past cap, the one entry for all others, at cap. */
static unsigned find(char (*names)[NR_LABEL_LEN], unsigned *n, unsigned cap, const char *name,
		     const char *other)
{
	for (unsigned i = 0; i < *n; i++)
		if (!strcmp(names[i], name))
			return i;
	if (*n < cap) {
		snprintf(names[*n], sizeof(names[0]), "%s", name);
		return (*n)++;
	}
	if (*n == cap) {
		snprintf(names[cap], sizeof(names[0]), "%s", other);
		(*n)++;
	}
	return cap;
}

static unsigned expected_bit(const char *word)
{
	if (!word[0])
		return 0;
	for (unsigned i = 0; i < NEXPECTED; i++)
		if (!strcmp(word, expected_words[i]))
			return 1u << i;
	return OTHER_WORD;
}

void nr_tally_add(struct nr_tally *t, const char *name, const struct nr_punch *p)
{
	struct nr_cell *c;

	if (!consistent(p)) {
		t->inconsistent++;
		return;
	}
	c = &t->cell[find(t->row, &t->nrows, NR_TALLY_ROWS, name, OTHER_ROWS)]
		    [find(t->tech, &t->ntechs, NR_TALLY_TECHS, p->technique, OTHER_TECHS)];
	c->records++;
	c->trials += (unsigned long)p->trials;
	c->setup_failed += (unsigned long)p->setup_failed;
	c->successes += (unsigned long)p->successes;
	c->agrees += !strcmp(p->agrees, "true");
	c->contradicts += !strcmp(p->agrees, "false");
	c->expected |= expected_bit(p->expected);
}

void nr_matrix_add(struct nr_tally *t, const struct nr_row *row)
{
	t->over += row->punch_over;
	for (unsigned i = 0; i < row->npunch; i++)
		nr_tally_add(t, nr_matrix_pair(row), &row->punch[i]);
}

void nr_pairs_add(struct nr_tally *t, const struct nr_row *row)
{
	char pair[NR_LABEL_LEN];

	for (unsigned i = 0; i < row->npunch; i++) {
		nr_nat_pair(row, row->punch[i].tcp, pair, sizeof(pair));
		nr_tally_add(t, pair, &row->punch[i]);
	}
}

unsigned long nr_cell_started(const struct nr_cell *c)
{
	return c->trials - c->setup_failed;
}

void nr_cell_expected(const struct nr_cell *c, char *out, size_t len)
{
	size_t used = 0;

	snprintf(out, len, "-");
	for (unsigned i = 0; i <= NEXPECTED; i++) {
		if (!(c->expected & (1u << i)))
			continue;
		used += (size_t)snprintf(out + used, len - used, "%s%s", used ? "|" : "",
					 i < NEXPECTED ? expected_words[i] : "other");
		if (used >= len)
			return; /* cut short */
	}
}

const char *nr_cell_result(const struct nr_cell *c)
{
	return c->contradicts ? "CONTRADICTION" : c->agrees ? "agrees" : "not judged";
}

unsigned long nr_tally_contradictions(const struct nr_tally *t)
{
	unsigned long n = 0;

	for (unsigned r = 0; r < t->nrows; r++)
		for (unsigned k = 0; k < t->ntechs; k++)
			n += t->cell[r][k].contradicts > 0;
	return n;
}
