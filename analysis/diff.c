/*
 * The diff: both sides sorted by label, then one merge pass; within a label,
 * the techniques sorted by name, then one merge pass.
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/diff.h"
#include "analysis/traversal.h"

static int by_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Join v (itself maybe joined) into have: the distinct values, sorted and
 * '|'-separated, so that both sides of a diff spell a mix alike. */
static void join(char *have, const char *v)
{
	char buf[2 * NR_VALUE_LEN + 2], *words[NR_VALUE_LEN + 1], *save = NULL;
	size_t n = 0, used = 0;

	if (!v[0] || !strcmp(have, v))
		return;
	snprintf(buf, sizeof(buf), "%s|%s", have, v);
	for (char *w = strtok_r(buf, "|", &save); w; w = strtok_r(NULL, "|", &save))
		words[n++] = w;
	qsort(words, n, sizeof(words[0]), by_text);
	have[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i && !strcmp(words[i], words[i - 1]))
			continue;
		if (used + strlen(words[i]) + 2 > NR_VALUE_LEN)
			break; /* full: the mix is still told apart from a single value */
		used += (size_t)snprintf(have + used, NR_VALUE_LEN - used, "%s%s", used ? "|" : "",
					 words[i]);
	}
}

static const char *const gw_path[NR_NGW] = {"nat_depth", "cgn", "portmap.works"};

/* portmap.works: "" when the record has no list (no mappings asked for). */
static void works_word(const struct nr_portmap *pm, char *out, size_t cap)
{
	size_t n = 0;

	out[0] = '\0';
	if (pm->state == NR_PM_BAD)
		snprintf(out, cap, "malformed");
	if (pm->state != NR_PM_MEASURED || !pm->asked)
		return;
	for (int p = 0; p < NR_NPM; p++)
		if (pm->works & (1u << p) && n < cap)
			n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "," : "",
					      nr_pm_names[p]);
	if (!n)
		snprintf(out, cap, "none");
}

static void join_gw(struct nr_side_entry *e, const struct nr_row *row)
{
	char works[NR_VALUE_LEN];

	works_word(&row->portmap, works, sizeof(works));
	join(e->gw[NR_GW_DEPTH], nr_depth_word(row->depth));
	join(e->gw[NR_GW_CGN], nr_tri_word(row->cgn));
	join(e->gw[NR_GW_WORKS], works);
}

/* The cell of technique in e, made on first sight; NULL (counted in over)
 * when e has NR_SIDE_CELLS already, or no memory for one more. */
static struct nr_side_cell *cell_of(struct nr_side_entry *e, const char *technique)
{
	for (unsigned i = 0; i < e->ncells; i++)
		if (!strcmp(e->cell[i].technique, technique))
			return &e->cell[i];
	if (e->ncells == e->cap) {
		unsigned cap = e->cap ? 2 * e->cap : 8;
		struct nr_side_cell *p = NULL;

		cap = cap < NR_SIDE_CELLS ? cap : NR_SIDE_CELLS;
		if (cap > e->cap)
			p = realloc(e->cell, cap * sizeof(*p));
		if (!p) {
			e->over++;
			return NULL;
		}
		e->cell = p;
		e->cap = cap;
	}
	memset(&e->cell[e->ncells], 0, sizeof(e->cell[0]));
	snprintf(e->cell[e->ncells].technique, NR_VALUE_LEN, "%s", technique);
	return &e->cell[e->ncells++];
}

static void join_cell(struct nr_side_entry *e, const char *technique, const char *outcome,
		      const char *agrees)
{
	struct nr_side_cell *c = cell_of(e, technique);

	if (!c)
		return;
	join(c->outcome, outcome);
	join(c->agrees, agrees);
}

int nr_side_add(struct nr_side *side, const struct nr_row *row)
{
	char label[NR_LABEL_LEN];
	struct nr_side_entry *e;

	if (row->label[0])
		snprintf(label, sizeof(label), "%s", row->label);
	else
		snprintf(label, sizeof(label), "(unlabelled #%lu)", ++side->unlabelled);
	/* Records of one label usually come together; others meet when sorted. */
	e = side->n && !strcmp(side->e[side->n - 1].label, label) ? &side->e[side->n - 1] : NULL;
	if (!e) {
		if (side->n == side->cap) {
			size_t cap = side->cap ? 2 * side->cap : 64;
			struct nr_side_entry *p = realloc(side->e, cap * sizeof(*p));

			if (!p)
				return -1;
			side->e = p;
			side->cap = cap;
		}
		e = &side->e[side->n++];
		memset(e, 0, sizeof(*e));
		snprintf(e->label, sizeof(e->label), "%s", label);
		side->sorted = false;
	}
	e->n++;
	e->over += row->punch_over;
	for (int k = 0; k < NR_NKEYS; k++)
		join(e->value[k], row->value[k]);
	join_gw(e, row);
	for (unsigned i = 0; i < row->npunch; i++)
		join_cell(e, row->punch[i].technique,
			  nr_outcome_name(nr_outcome_of(&row->punch[i])), row->punch[i].agrees);
	return 0;
}

void nr_side_free(struct nr_side *side)
{
	for (size_t i = 0; i < side->n; i++)
		free(side->e[i].cell);
	free(side->e);
	memset(side, 0, sizeof(*side));
}

unsigned long nr_side_over(const struct nr_side *side)
{
	unsigned long over = 0;

	for (size_t i = 0; i < side->n; i++)
		over += side->e[i].over;
	return over;
}

static int by_label(const void *a, const void *b)
{
	return strcmp(((const struct nr_side_entry *)a)->label,
		      ((const struct nr_side_entry *)b)->label);
}

static int by_technique(const void *a, const void *b)
{
	return strcmp(((const struct nr_side_cell *)a)->technique,
		      ((const struct nr_side_cell *)b)->technique);
}

/* Sort by label, make one entry of the entries of each label, and sort
 * each entry's techniques. */
static void sort(struct nr_side *side)
{
	size_t out = 0;

	if (side->sorted || !side->n)
		return;
	qsort(side->e, side->n, sizeof(side->e[0]), by_label);
	for (size_t i = 1; i < side->n; i++) {
		struct nr_side_entry *e = &side->e[out];
		const struct nr_side_entry *more = &side->e[i];

		if (strcmp(e->label, more->label)) {
			side->e[++out] = *more;
			continue;
		}
		e->n += more->n;
		e->over += more->over;
		for (int k = 0; k < NR_NKEYS; k++)
			join(e->value[k], more->value[k]);
		for (int k = 0; k < NR_NGW; k++)
			join(e->gw[k], more->gw[k]);
		for (unsigned c = 0; c < more->ncells; c++)
			join_cell(e, more->cell[c].technique, more->cell[c].outcome,
				  more->cell[c].agrees);
		free(more->cell); /* joined into e; its slot is dropped below */
	}
	side->n = out + 1;
	for (size_t i = 0; i < side->n; i++)
		if (side->e[i].ncells) /* a label without trials has no cells at all */
			qsort(side->e[i].cell, side->e[i].ncells, sizeof(side->e[i].cell[0]),
			      by_technique);
	side->sorted = true;
}

/* One value both sides may have: compared only when both do. */
static unsigned long compare_value(const char *label, const char *what, const char *before,
				   const char *after, nr_diff_fn fn, void *ctx)
{
	if (!before[0] || !after[0])
		return 0;
	fn(ctx, label, what, before, after);
	return strcmp(before, after) != 0;
}

static unsigned long compare_cell(const char *label, const struct nr_side_cell *a,
				  const struct nr_side_cell *b, nr_diff_fn fn, void *ctx)
{
	char what[NR_VALUE_LEN + 16];
	unsigned long changes;

	snprintf(what, sizeof(what), "punch.%s.outcome", a->technique);
	changes = compare_value(label, what, a->outcome, b->outcome, fn, ctx);
	snprintf(what, sizeof(what), "punch.%s.agrees", a->technique);
	return changes + compare_value(label, what, a->agrees, b->agrees, fn, ctx);
}

/* The techniques of one label: a technique one side lacks is reported, not
 * compared (as a verdict key one side lacks is not). */
static unsigned long compare_cells(const struct nr_side_entry *a, const struct nr_side_entry *b,
				   nr_diff_fn fn, void *ctx)
{
	size_t i = 0, j = 0;
	unsigned long changes = 0;
	char what[NR_VALUE_LEN + 8];

	while (i < a->ncells || j < b->ncells) {
		int c = i == a->ncells   ? 1
			: j == b->ncells ? -1
					 : strcmp(a->cell[i].technique, b->cell[j].technique);

		if (c) {
			snprintf(what, sizeof(what), "punch.%s",
				 c < 0 ? a->cell[i++].technique : b->cell[j++].technique);
			fn(ctx, a->label, what, c < 0 ? "present" : NULL, c < 0 ? NULL : "present");
			continue;
		}
		changes += compare_cell(a->label, &a->cell[i++], &b->cell[j++], fn, ctx);
	}
	return changes;
}

static unsigned long compare(const struct nr_side_entry *a, const struct nr_side_entry *b,
			     nr_diff_fn fn, void *ctx)
{
	unsigned long changes = 0;

	for (int k = 0; k < NR_NKEYS; k++)
		changes +=
		    compare_value(a->label, nr_keys[k].path, a->value[k], b->value[k], fn, ctx);
	for (int k = 0; k < NR_NGW; k++)
		changes += compare_value(a->label, gw_path[k], a->gw[k], b->gw[k], fn, ctx);
	return changes + compare_cells(a, b, fn, ctx);
}

unsigned long nr_diff(struct nr_side *baseline, struct nr_side *current, nr_diff_fn fn, void *ctx)
{
	size_t i = 0, j = 0;
	unsigned long changes = 0;

	sort(baseline);
	sort(current);
	while (i < baseline->n || j < current->n) {
		int c = i == baseline->n  ? 1
			: j == current->n ? -1
					  : strcmp(baseline->e[i].label, current->e[j].label);

		if (c < 0) {
			fn(ctx, baseline->e[i++].label, NULL, "present", NULL);
			changes++;
		} else if (c > 0) {
			fn(ctx, current->e[j++].label, NULL, NULL, "present");
			changes++;
		} else {
			changes += compare(&baseline->e[i++], &current->e[j++], fn, ctx);
		}
	}
	return changes;
}

/* ---- JUnit XML ---- */

static void xml_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		default:
			/* XML 1.0 allows no control characters but tab, CR and LF. */
			fputc((unsigned char)*s < 0x20 && *s != '\t' ? ' ' : *s, out);
		}
	}
}

struct junit {
	FILE *out;
	unsigned long tests, skipped;
};

static void count_case(void *ctx, const char *label, const char *what, const char *before,
		       const char *after)
{
	struct junit *j = ctx;

	(void)label;
	j->tests++;
	j->skipped += what && (!before || !after);
}

static void write_case(void *ctx, const char *label, const char *what, const char *before,
		       const char *after)
{
	FILE *out = ((struct junit *)ctx)->out;

	fputs("    <testcase classname=\"", out);
	xml_text(out, label);
	fputs("\" name=\"", out);
	xml_text(out, what ? what : "record");
	fputs("\"", out);
	if ((!before || !after) && what) {
		fprintf(out,
			">\n      <skipped message=\"only in the %s: not compared\"/>\n"
			"    </testcase>\n",
			before ? "baseline" : "current records");
	} else if (!before || !after) {
		fprintf(out, ">\n      <failure message=\"%s\"/>\n    </testcase>\n",
			before ? "missing from the current records" : "not in the baseline");
	} else if (strcmp(before, after)) {
		fputs(">\n      <failure message=\"", out);
		xml_text(out, before);
		fputs(" -&gt; ", out);
		xml_text(out, after);
		fputs("\"/>\n    </testcase>\n", out);
	} else {
		fputs("/>\n", out);
	}
}

int nr_diff_junit(FILE *out, struct nr_side *baseline, struct nr_side *current, const char *name)
{
	struct junit j = {out, 0, 0};
	unsigned long failures = nr_diff(baseline, current, count_case, &j);

	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
		     "  <testsuite name=\"");
	xml_text(out, name);
	fprintf(out, "\" tests=\"%lu\" failures=\"%lu\" errors=\"0\" skipped=\"%lu\">\n", j.tests,
		failures, j.skipped);
	nr_diff(baseline, current, write_case, &j);
	fprintf(out, "  </testsuite>\n</testsuites>\n");
	return ferror(out) ? -1 : 0;
}
