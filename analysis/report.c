/*
 * The terminal table and the Markdown report. Values are printed as the
 * record has them (INTERFACE.md's words); "-" where a record has no such
 * key (the test did not run). Nothing here depends on the time or the
 * machine, so the same records give the same report: golden files rely
 * on it.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/report.h"
#include "lib/stats.h"

const char *nr_row_name(const struct nr_row *row)
{
	return row->label[0] ? row->label : row->where;
}

static const char *shown(const char *v)
{
	return v[0] ? v : "-";
}

const char *nr_brief(const char *v)
{
	static const struct {
		const char *word, *abbrev;
	} words[] = {
	    {"endpoint-independent", "EI"},
	    {"address-dependent", "AD"},
	    {"address-and-port-dependent", "APD"},
	    {"inconclusive", "?"},
	    {"port-restricted-cone", "port-restricted"},
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(v, words[i].word))
			return words[i].abbrev;
	return shown(v);
}

static double share(unsigned long part, unsigned long whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* ---- NAT depth, CGN, port mapping: shared by the table and the documents ---- */

#define MALFORMED "(malformed)"
#define NBINS(a)  (sizeof(a) / sizeof((a)[0]))

/* A count's place in its array and its word, in the order shown. Each
 * list ends with the values of the wrong type, shown only when a record
 * has one. */
struct bin {
	unsigned index;
	const char *word;
};

static const struct bin depth_bins[] = {
    {NR_DEPTH_0, "0"},       {NR_DEPTH_1, "1"},      {NR_DEPTH_2, "2"},        {NR_DEPTH_3UP, "3+"},
    {NR_DEPTH_NULL, "null"}, {NR_DEPTH_ABSENT, "-"}, {NR_DEPTH_BAD, MALFORMED}};
static const struct bin cgn_bins[] = {{NR_TRI_TRUE, "true"},
				      {NR_TRI_FALSE, "false"},
				      {NR_TRI_NULL, "null"},
				      {NR_TRI_ABSENT, "-"},
				      {NR_TRI_BAD, MALFORMED}};
static const struct bin portmap_bins[] = {
    {NR_PM_MEASURED, "tested"}, {NR_PM_ABSENT, "-"}, {NR_PM_BAD, MALFORMED}};

/* Whether bin b is shown, by the counts over all records (the same
 * columns for every group). */
static bool bin_shown(const struct bin *bins, size_t b, size_t nbins, const unsigned long *all)
{
	return b + 1 < nbins || all[bins[b].index];
}

/* A protocol's name, and "any" after the last. */
static const char *protocol(unsigned p)
{
	return p < NR_NPM ? nr_pm_names[p] : "any";
}

/* "0 3 (30%), 1 2 (20%), ...": each bin of n records. */
static void text_bins(FILE *out, const char *title, const struct bin *bins, size_t nbins,
		      const unsigned long *count, unsigned long n)
{
	fprintf(out, "  %-22s", title);
	for (size_t b = 0; b < nbins; b++)
		if (bin_shown(bins, b, nbins, count))
			fprintf(out, "%s %s %lu (%.0f%%)", b ? "," : "", bins[b].word,
				count[bins[b].index], share(count[bins[b].index], n));
	fputc('\n', out);
}

static void text_depth(FILE *out, const struct nr_group *all)
{
	const struct nr_depth_counts *c = &all->depth;
	unsigned long known = nr_depth_known(c);

	if (c->depth[NR_DEPTH_ABSENT] < all->n) {
		text_bins(out, "NAT depth", depth_bins, NBINS(depth_bins), c->depth, all->n);
		fprintf(out, "  %-22s ", "NAT444 (depth 2+)");
		if (known)
			fprintf(out, "%lu of %lu with a depth (%.0f%%)\n", nr_nat444(c), known,
				share(nr_nat444(c), known));
		else
			fprintf(out, "no record with a depth\n");
	}
	if (c->cgn[NR_TRI_ABSENT] < all->n)
		text_bins(out, "CGN", cgn_bins, NBINS(cgn_bins), c->cgn, all->n);
}

/* "upnp 3 of 6 (50%), ..., any 4 of 6 (67%)". */
static void text_protocols(FILE *out, const unsigned long *count, unsigned long of)
{
	for (unsigned p = 0; p <= NR_NPM; p++)
		fprintf(out, "%s %s %lu of %lu (%.0f%%)", p ? "," : "", protocol(p), count[p], of,
			share(count[p], of));
}

static void text_portmap(FILE *out, const struct nr_group *all)
{
	const struct nr_portmap_counts *c = &all->portmap;
	unsigned long tested = c->state[NR_PM_MEASURED];

	if (c->state[NR_PM_ABSENT] == all->n)
		return;
	text_bins(out, "port mapping", portmap_bins, NBINS(portmap_bins), c->state, all->n);
	if (!tested)
		return;
	fprintf(out, "  %-22s", "port mapping answered");
	text_protocols(out, c->answered, tested);
	fprintf(out, "\n  %-22s", "port mapping works");
	if (c->asked)
		text_protocols(out, c->works, c->asked);
	if (tested > c->asked)
		fprintf(out, "%s no mapping asked for %lu", c->asked ? ";" : "", tested - c->asked);
	fputc('\n', out);
}

static void text_rows(FILE *out, const struct nr_report *r)
{
	static const enum nr_key cols[] = {NR_NAT,         NR_MAPPING,     NR_FILTERING,
					   NR_HAIRPINNING, NR_PORTS,       NR_CONTIGUITY,
					   NR_POOLING,     NR_OVERLOADING, NR_LEGACY};
	static const char *const heads[] = {"NAT",    "MAP",  "FILTER",   "HAIRPIN", "PORTS",
					    "CONTIG", "POOL", "OVERLOAD", "RFC 3489"};

	static const int widths[] = {5, 4, 6, 7, 11, 6, 9, 8, 0};

	fprintf(out, "%-24s", "DEVICE");
	for (size_t c = 0; c < sizeof(cols) / sizeof(cols[0]); c++)
		fprintf(out, " %-*s", widths[c], heads[c]);
	fputc('\n', out);
	for (size_t i = 0; i < r->nrows; i++) {
		fprintf(out, "%-24.24s", nr_row_name(&r->rows[i]));
		for (size_t c = 0; c < sizeof(cols) / sizeof(cols[0]); c++)
			fprintf(out, " %-*s", widths[c], nr_brief(r->rows[i].value[cols[c]]));
		fputc('\n', out);
	}
	if (r->more)
		fprintf(out, "... and %lu more records (counted in the survey below)\n", r->more);
}

static void text_survey(FILE *out, const struct nr_report *r)
{
	const struct nr_survey *s = r->survey;
	const struct nr_group *all = &s->groups[0];

	fprintf(out, "\nsurvey of %lu records:\n", s->n);
	for (int k = 0; k < NR_NKEYS; k++) {
		if (s->nvalues[k] == 1 && !s->value[k][0][0])
			continue; /* no record has it */
		fprintf(out, "  %-22s", nr_keys[k].title);
		for (unsigned v = 0; v < s->nvalues[k]; v++)
			fprintf(out, " %s %lu (%.0f%%)%s", shown(s->value[k][v]), all->count[k][v],
				share(all->count[k][v], s->n), v + 1 < s->nvalues[k] ? "," : "");
		if (s->other_values[k])
			fprintf(out, ", (other values) %lu", all->count[k][NR_OTHER]);
		fputc('\n', out);
	}
	text_depth(out, all);
	text_portmap(out, all);
}

/* ---- traversal trials: shared by the table and the documents ---- */

/* "3/5", and the trials that never started: "3/5 (2 setup failed)". */
static void trials_text(const struct nr_cell *c, char *out, size_t len)
{
	if (c->setup_failed)
		snprintf(out, len, "%lu/%lu (%lu setup failed)", c->successes, c->trials,
			 c->setup_failed);
	else
		snprintf(out, len, "%lu/%lu", c->successes, c->trials);
}

/* Over the trials that started: "67%", with interval "67% (21-94%)"; "-"
 * when none started. */
static void rate_text(const struct nr_cell *c, bool interval, char *out, size_t len)
{
	unsigned long started = nr_cell_started(c);
	double lo, hi;

	if (!started) {
		snprintf(out, len, "-");
		return;
	}
	if (!interval) {
		snprintf(out, len, "%.0f%%", share(c->successes, started));
		return;
	}
	stats_wilson95(c->successes, started, &lo, &hi);
	snprintf(out, len, "%.0f%% (%.0f-%.0f%%)", share(c->successes, started), 100 * lo,
		 100 * hi);
}

/* "CONTRADICTION", and in how many of the cell's records when not all. */
static void result_text(const struct nr_cell *c, char *out, size_t len)
{
	if (c->contradicts && c->contradicts < c->records)
		snprintf(out, len, "CONTRADICTION (%lu of %lu records)", c->contradicts,
			 c->records);
	else
		snprintf(out, len, "%s", nr_cell_result(c));
}

struct cell_at {
	const char *row; /* its name; NULL for "(other pairs)", which goes last */
	unsigned r, k;
};

static int by_technique_then_row(const void *a, const void *b)
{
	const struct cell_at *x = a, *y = b;

	if (x->k != y->k)
		return x->k < y->k ? -1 : 1;
	if (!x->row || !y->row)
		return !x->row - !y->row;
	return strcmp(x->row, y->row);
}

/* The cells with records: by row in the order seen, or (sorted) by
 * technique, then row name. Returns how many. */
static size_t cells_of(const struct nr_tally *t, bool sorted, struct cell_at *at)
{
	size_t n = 0;

	for (unsigned r = 0; r < t->nrows; r++)
		for (unsigned k = 0; k < t->ntechs; k++)
			if (t->cell[r][k].records)
				at[n++] =
				    (struct cell_at){r < NR_TALLY_ROWS ? t->row[r] : NULL, r, k};
	if (sorted)
		qsort(at, n, sizeof(at[0]), by_technique_then_row);
	return n;
}

#define MAX_CELLS ((NR_TALLY_ROWS + 1) * (NR_TALLY_TECHS + 1))

/* The width of a column of names: the longest, within [min, 40]. */
static int width_of(const char (*names)[NR_LABEL_LEN], unsigned n, int min)
{
	int w = min;

	for (unsigned i = 0; i < n; i++) {
		int len = (int)strlen(names[i]);

		w = len > w ? len : w;
	}
	return w < 40 ? w : 40;
}

static void text_matrix(FILE *out, const struct nr_tally *t)
{
	struct cell_at at[MAX_CELLS];
	size_t n = cells_of(t, false, at);
	unsigned long bad = nr_tally_contradictions(t);
	char trials[96], expected[32], result[96];
	int wr = width_of(t->row, t->nrows, 4), wt = width_of(t->tech, t->ntechs, 9);

	fprintf(out, "\ntraversal matrix, %u pair%s: ", t->nrows, t->nrows == 1 ? "" : "s");
	if (bad)
		fprintf(out, "%lu CONTRADICTION%s\n", bad, bad == 1 ? "" : "S");
	else
		fprintf(out, "no contradiction\n");
	if (t->inconsistent)
		fprintf(out, "  %lu technique result%s left out: counts that do not add up\n",
			t->inconsistent, t->inconsistent == 1 ? "" : "s");
	if (t->over)
		fprintf(out, "  %lu technique result%s left out: past %d in one record\n", t->over,
			t->over == 1 ? "" : "s", NR_PUNCH);
	fprintf(out, "  %-*s %-*s %-20s %-8s %s\n", wr, "PAIR", wt, "TECHNIQUE", "SUCCESSES/TRIALS",
		"EXPECTED", "RESULT");
	for (size_t i = 0; i < n; i++) {
		const struct nr_cell *c = &t->cell[at[i].r][at[i].k];

		trials_text(c, trials, sizeof(trials));
		nr_cell_expected(c, expected, sizeof(expected));
		result_text(c, result, sizeof(result));
		fprintf(out, "  %-*s %-*s %-20s %-8s %s\n", wr, t->row[at[i].r], wt,
			t->tech[at[i].k], trials, expected, result);
	}
}

static void text_pairs(FILE *out, const struct nr_tally *t)
{
	struct cell_at at[MAX_CELLS];
	size_t n = cells_of(t, true, at);
	char rate[48], count[48];
	int wr = width_of(t->row, t->nrows, 4), wt = width_of(t->tech, t->ntechs, 9);

	fprintf(out, "\ntraversal by NAT-type pair (successes/trials started, rate and 95%% "
		     "interval; setup failures outside it):\n");
	for (size_t i = 0; i < n; i++) {
		const struct nr_cell *c = &t->cell[at[i].r][at[i].k];

		rate_text(c, true, rate, sizeof(rate));
		snprintf(count, sizeof(count), "%lu/%lu", c->successes, nr_cell_started(c));
		fprintf(out, "  %-*s %-*s %-9s %s", wt, t->tech[at[i].k], wr, t->row[at[i].r],
			count, rate);
		if (c->setup_failed)
			fprintf(out, ", %lu setup failed", c->setup_failed);
		fputc('\n', out);
	}
}

void nr_write_text(FILE *out, const struct nr_report *r)
{
	fprintf(out, "natreport: %lu record%s from %lu input%s, %lu skipped\n", r->stats.records,
		r->stats.records == 1 ? "" : "s", r->stats.files, r->stats.files == 1 ? "" : "s",
		r->stats.skipped);
	if (r->nrows)
		text_rows(out, r);
	if (r->survey->matrix->ntechs)
		text_matrix(out, r->survey->matrix);
	if (r->survey->n > 1) {
		text_survey(out, r);
		if (r->survey->pairs->ntechs)
			text_pairs(out, r->survey->pairs);
	}
}

/* ---- documents: Markdown and HTML from one description ---- */

enum format { MARKDOWN, HTML };

enum block { TITLE, SECTION, SUBSECTION, PARAGRAPH };

struct doc {
	FILE *out;
	enum format format;
	const struct nr_report *r;
};

/* Text in a block or a cell; Markdown cells escape '|', HTML its specials. */
static void text(struct doc *d, const char *s, bool in_cell)
{
	for (; *s; s++) {
		if (*s == '\n' || *s == '\r')
			fputc(' ', d->out);
		else if (d->format == MARKDOWN && in_cell && *s == '|')
			fputs("\\|", d->out);
		else if (d->format == MARKDOWN)
			fputc(*s, d->out);
		else if (*s == '&')
			fputs("&amp;", d->out);
		else if (*s == '<')
			fputs("&lt;", d->out);
		else if (*s == '>')
			fputs("&gt;", d->out);
		else if (*s == '"')
			fputs("&quot;", d->out);
		else
			fputc(*s, d->out);
	}
}

static void textf(struct doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void textf(struct doc *d, const char *fmt, ...)
{
	char buf[NR_TEXT_LEN * 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	text(d, buf, false);
}

static void code(struct doc *d, const char *s)
{
	fputs(d->format == MARKDOWN ? "`" : "<code>", d->out);
	text(d, s, false);
	fputs(d->format == MARKDOWN ? "`" : "</code>", d->out);
}

static void bold(struct doc *d, const char *s)
{
	fputs(d->format == MARKDOWN ? "**" : "<strong>", d->out);
	text(d, s, false);
	fputs(d->format == MARKDOWN ? "**" : "</strong>", d->out);
}

static void open_block(struct doc *d, enum block b)
{
	static const char *const md[] = {"# ", "\n## ", "\n### ", "\n"};
	static const char *const html[] = {"<h1>", "<h2>", "<h3>", "<p>"};

	fputs(d->format == MARKDOWN ? md[b] : html[b], d->out);
}

static void close_block(struct doc *d, enum block b)
{
	static const char *const html[] = {"</h1>\n", "</h2>\n", "</h3>\n", "</p>\n"};

	fputs(d->format == MARKDOWN ? "\n" : html[b], d->out);
}

/* A block of plain text. */
static void block(struct doc *d, enum block b, const char *s)
{
	open_block(d, b);
	text(d, s, false);
	close_block(d, b);
}

static void table_head(struct doc *d, const char *const *heads, size_t n)
{
	bool html = d->format == HTML;

	fputs(html ? "<table>\n<thead><tr>" : "\n|", d->out);
	for (size_t i = 0; i < n; i++) {
		fputs(html ? "<th>" : " ", d->out);
		text(d, heads[i], true);
		fputs(html ? "</th>" : " |", d->out);
	}
	if (html) {
		fputs("</tr></thead>\n<tbody>\n", d->out);
		return;
	}
	fputs("\n|", d->out);
	for (size_t i = 0; i < n; i++)
		fputs(" --- |", d->out);
	fputc('\n', d->out);
}

static void table_end(struct doc *d)
{
	if (d->format == HTML)
		fputs("</tbody>\n</table>\n", d->out);
}

static void row_begin(struct doc *d)
{
	if (d->format == HTML)
		fputs("<tr>", d->out);
}

static void row_end(struct doc *d)
{
	fputs(d->format == MARKDOWN ? "|\n" : "</tr>\n", d->out);
}

/* A cell; class (HTML only) marks a pass or a fail, NULL none. */
static void cell_class(struct doc *d, const char *s, const char *class)
{
	if (d->format == MARKDOWN) {
		fputs("| ", d->out);
		if (class && !strcmp(class, "fail"))
			fputs("**", d->out);
		text(d, s, true);
		if (class && !strcmp(class, "fail"))
			fputs("**", d->out);
		fputc(' ', d->out);
		return;
	}
	if (class)
		fprintf(d->out, "<td class=\"%s\">", class);
	else
		fputs("<td>", d->out);
	text(d, s, true);
	fputs("</td>", d->out);
}

static void cell(struct doc *d, const char *s)
{
	cell_class(d, s, NULL);
}

static void cellf(struct doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cellf(struct doc *d, const char *fmt, ...)
{
	char buf[NR_TEXT_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cell(d, buf);
}

#define TABLE_HEAD(d, ...)                                                                         \
	table_head(d, (const char *const[]){__VA_ARGS__},                                          \
		   sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* ---- the report ---- */

static void doc_verdicts(struct doc *d, const struct nr_row *row)
{
	TABLE_HEAD(d, "test", "verdict", "evidence");
	for (int k = 0; k < NR_NKEYS; k++) {
		if (!row->value[k][0])
			continue;
		row_begin(d);
		cell(d, nr_keys[k].title);
		cell(d, row->value[k]);
		cell(d, row->evidence[k]);
		row_end(d);
	}
	table_end(d);
}

static void doc_compliance(struct doc *d, const struct nr_row *row)
{
	static const char *const marks[NR_NMARKS] = {
	    [NR_PASS] = "pass", [NR_FAIL] = "fail", [NR_UNTESTED] = "untested"};
	char why[NR_TEXT_LEN];

	TABLE_HEAD(d, "RFC", "requirement", "level", "result", "why");
	for (size_t i = 0; i < nr_nrequirements; i++) {
		const struct nr_requirement *q = &nr_requirements[i];
		enum nr_mark m = nr_judge(i, row, why, sizeof(why));

		row_begin(d);
		cellf(d, "%s %s", q->rfc, q->id);
		cell(d, q->text);
		cell(d, q->level);
		cell_class(d, marks[m], marks[m]);
		cell(d, why);
		row_end(d);
	}
	table_end(d);
}

/* A technique's result against natprobe's prediction, as the matrix says
 * it: loud when it contradicts. */
static void punch_result_cell(struct doc *d, const struct nr_punch *p, enum nr_outcome oc)
{
	if (oc == NR_OUT_INCONSISTENT)
		cell_class(d, "left out: counts that do not add up", "untested");
	else if (!strcmp(p->agrees, "false"))
		cell_class(d, "CONTRADICTION", "fail");
	else if (!strcmp(p->agrees, "true"))
		cell_class(d, "agrees", "pass");
	else
		cell_class(d, "not judged", "untested");
}

static void doc_punch(struct doc *d, const struct nr_row *row)
{
	if (!row->npunch)
		return;
	TABLE_HEAD(d, "technique", "trials", "successes", "success rate", "median connect",
		   "expected", "result");
	for (unsigned i = 0; i < row->npunch; i++) {
		const struct nr_punch *p = &row->punch[i];
		enum nr_outcome oc = nr_outcome_of(p);

		row_begin(d);
		cell(d, p->technique);
		cellf(d, "%ld", p->trials);
		cellf(d, "%ld", p->successes);
		/* Of the trials that started, as natprobe and the matrix count;
		 * none when none started or the counts do not add up. */
		if (oc == NR_OUT_INCONSISTENT || oc == NR_OUT_NOT_STARTED)
			cell(d, "-");
		else
			cellf(d, "%.0f%%",
			      share((unsigned long)p->successes,
				    (unsigned long)(p->trials - p->setup_failed)));
		if (p->median_connect_ms >= 0)
			cellf(d, "%.0f ms", p->median_connect_ms);
		else
			cell(d, "-");
		cell(d, p->expected[0] ? p->expected : "-");
		punch_result_cell(d, p, oc);
		row_end(d);
	}
	table_end(d);
}

/* The cell that says how a result stands against its expectation: loud
 * when it contradicts it. */
static void result_cell(struct doc *d, const struct nr_cell *c)
{
	static const char *const classes[] = {"fail", "pass", "untested"};
	char result[96];

	result_text(c, result, sizeof(result));
	cell_class(d, result, classes[c->contradicts ? 0 : c->agrees ? 1 : 2]);
}

static void matrix_intro(struct doc *d, const struct nr_tally *t)
{
	unsigned long bad = nr_tally_contradictions(t);

	open_block(d, PARAGRAPH);
	textf(d, "Each technique's trials for each NAT pair (%u), over every record with ",
	      t->nrows);
	code(d, "punch");
	text(d,
	     " results: successes of the trials, the share of the trials that started, "
	     "what natprobe expected from the two NATs' classes, and whether the result "
	     "agrees. ",
	     false);
	if (bad) {
		char loud[64];

		snprintf(loud, sizeof(loud), "%lu CONTRADICTION%s", bad, bad == 1 ? "" : "S");
		bold(d, loud);
		text(d,
		     ": results against natprobe's own prediction, so a rule of the "
		     "prediction, a classification or the lab is wrong.",
		     false);
	} else {
		text(d, "No result contradicts its prediction.", false);
	}
	close_block(d, PARAGRAPH);
}

/* Each contradiction on a line of its own, before the table. */
static void matrix_contradictions(struct doc *d, const struct nr_tally *t, const struct cell_at *at,
				  size_t n)
{
	char buf[96], expected[32];

	for (size_t i = 0; i < n; i++) {
		const struct nr_cell *c = &t->cell[at[i].r][at[i].k];

		if (!c->contradicts)
			continue;
		trials_text(c, buf, sizeof(buf));
		nr_cell_expected(c, expected, sizeof(expected));
		open_block(d, PARAGRAPH);
		bold(d, "CONTRADICTION");
		text(d, " ", false);
		code(d, t->row[at[i].r]);
		text(d, " ", false);
		code(d, t->tech[at[i].k]);
		textf(d, ": %s succeeded, expected %s.", buf, expected);
		close_block(d, PARAGRAPH);
	}
}

static void doc_matrix(struct doc *d, const struct nr_tally *t)
{
	struct cell_at at[MAX_CELLS];
	size_t n = cells_of(t, false, at);
	char buf[96];

	block(d, SECTION, "Traversal matrix");
	matrix_intro(d, t);
	if (t->inconsistent) {
		open_block(d, PARAGRAPH);
		textf(d, "%lu technique result%s left out: counts that do not add up.",
		      t->inconsistent, t->inconsistent == 1 ? "" : "s");
		close_block(d, PARAGRAPH);
	}
	if (t->over) {
		open_block(d, PARAGRAPH);
		textf(d, "%lu technique result%s left out: past %d in one record.", t->over,
		      t->over == 1 ? "" : "s", NR_PUNCH);
		close_block(d, PARAGRAPH);
	}
	matrix_contradictions(d, t, at, n);
	TABLE_HEAD(d, "pair", "technique", "successes/trials", "success rate", "expected",
		   "result");
	for (size_t i = 0; i < n; i++) {
		const struct nr_cell *c = &t->cell[at[i].r][at[i].k];

		row_begin(d);
		cell(d, t->row[at[i].r]);
		cell(d, t->tech[at[i].k]);
		trials_text(c, buf, sizeof(buf));
		cell(d, buf);
		rate_text(c, false, buf, sizeof(buf));
		cell(d, buf);
		nr_cell_expected(c, buf, sizeof(buf));
		cell(d, buf);
		result_cell(d, c);
		row_end(d);
	}
	table_end(d);
}

static void doc_devices(struct doc *d)
{
	const struct nr_report *r = d->r;

	block(d, SECTION, "Devices");
	for (size_t i = 0; i < r->nrows; i++) {
		const struct nr_row *row = &r->rows[i];

		block(d, SUBSECTION, nr_row_name(row));
		open_block(d, PARAGRAPH);
		text(d, "Record ", false);
		code(d, row->where);
		if (row->started[0])
			textf(d, ", started %s", row->started);
		text(d, ".", false);
		close_block(d, PARAGRAPH);
		doc_verdicts(d, row);
		doc_compliance(d, row);
		doc_punch(d, row);
	}
	if (r->more) {
		open_block(d, PARAGRAPH);
		textf(d, "%lu more records are counted in the survey, not shown one by one (see ",
		      r->more);
		code(d, "--devices");
		text(d, ").", false);
		close_block(d, PARAGRAPH);
	}
}

static void group_row(struct doc *d, const struct nr_survey *s, enum nr_key k,
		      const struct nr_group *gr)
{
	row_begin(d);
	cell(d, gr->name);
	cellf(d, "%lu", gr->n);
	for (unsigned v = 0; v < s->nvalues[k]; v++)
		cellf(d, "%lu (%.0f%%)", gr->count[k][v], share(gr->count[k][v], gr->n));
	if (s->other_values[k])
		cellf(d, "%lu", gr->count[k][NR_OTHER]);
	row_end(d);
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const struct nr_group *const *)a)->name,
		      (*(const struct nr_group *const *)b)->name);
}

/* The groups (not "(all)") as the documents list them: by name, "(other
 * groups)" last. Returns how many. */
static unsigned groups_in_order(const struct nr_survey *s, const struct nr_group **order)
{
	unsigned n = 0;

	for (unsigned g = 1; g < s->ngroups; g++)
		order[n++] = &s->groups[g];
	qsort(order, n, sizeof(order[0]), by_name);
	if (s->other_groups)
		order[n++] = &s->groups[NR_MAX_GROUPS + 1];
	return n;
}

/* Key k's counts: one row per group, sorted by name, one column per value. */
static void key_table(struct doc *d, const struct nr_survey *s, enum nr_key k)
{
	const struct nr_group *order[NR_MAX_GROUPS + 1] = {NULL};
	const char *heads[NR_MAX_VALUES + 3];
	unsigned n = groups_in_order(s, order), nh = 0;

	open_block(d, PARAGRAPH);
	bold(d, nr_keys[k].title);
	close_block(d, PARAGRAPH);
	heads[nh++] = "group";
	heads[nh++] = "records";
	for (unsigned v = 0; v < s->nvalues[k]; v++)
		heads[nh++] = shown(s->value[k][v]);
	if (s->other_values[k])
		heads[nh++] = "(other values)";
	table_head(d, heads, nh);
	for (unsigned g = 0; g < n; g++)
		group_row(d, s, k, order[g]);
	group_row(d, s, k, &s->groups[0]);
	table_end(d);
}

/* Every key's values over all records: one row each. */
static void totals(struct doc *d, const struct nr_survey *s)
{
	const struct nr_group *all = &s->groups[0];

	TABLE_HEAD(d, "test", "verdict", "records", "share");
	for (int k = 0; k < NR_NKEYS; k++) {
		if (s->nvalues[k] == 1 && !s->value[k][0][0])
			continue;
		for (unsigned v = 0; v <= s->nvalues[k]; v++) {
			bool other = v == s->nvalues[k];
			unsigned long n = all->count[k][other ? NR_OTHER : v];

			if (other && !s->other_values[k])
				break;
			row_begin(d);
			cell(d, v ? "" : nr_keys[k].title);
			cell(d, other ? "(other values)" : shown(s->value[k][v]));
			cellf(d, "%lu", n);
			cellf(d, "%.0f%%", share(n, s->n));
			row_end(d);
		}
	}
	table_end(d);
}

/* ---- NAT depth, CGN and port mapping in the survey ---- */

/* One group's row of a table; all: the counts over all records. */
typedef void (*group_row_fn)(struct doc *d, const struct nr_group *g, const struct nr_group *all);

/* A table of one row per group (when grouped), then "(all)". */
static void group_table(struct doc *d, const struct nr_survey *s, const char *title,
			const char *const *heads, size_t nh, group_row_fn row)
{
	const struct nr_group *order[NR_MAX_GROUPS + 1] = {NULL};
	unsigned n = groups_in_order(s, order);

	open_block(d, PARAGRAPH);
	bold(d, title);
	close_block(d, PARAGRAPH);
	table_head(d, heads, nh);
	for (unsigned g = 0; g < n; g++)
		row(d, order[g], &s->groups[0]);
	row(d, &s->groups[0], &s->groups[0]);
	table_end(d);
}

/* The heads of the bins shown after heads[0..nh); returns the new nh. */
static size_t bin_heads(const char **heads, size_t nh, const struct bin *bins, size_t nbins,
			const unsigned long *all)
{
	for (size_t b = 0; b < nbins; b++)
		if (bin_shown(bins, b, nbins, all))
			heads[nh++] = bins[b].word;
	return nh;
}

/* "3 (30%)": each bin shown, of the group's n records. */
static void bin_cells(struct doc *d, const struct bin *bins, size_t nbins,
		      const unsigned long *count, const unsigned long *all, unsigned long n)
{
	for (size_t b = 0; b < nbins; b++)
		if (bin_shown(bins, b, nbins, all))
			cellf(d, "%lu (%.0f%%)", count[bins[b].index],
			      share(count[bins[b].index], n));
}

static void group_cells(struct doc *d, const struct nr_group *g, unsigned long n)
{
	cell(d, g->name);
	cellf(d, "%lu", n);
}

static void depth_row(struct doc *d, const struct nr_group *g, const struct nr_group *all)
{
	unsigned long known = nr_depth_known(&g->depth), deep = nr_nat444(&g->depth);

	row_begin(d);
	group_cells(d, g, g->n);
	bin_cells(d, depth_bins, NBINS(depth_bins), g->depth.depth, all->depth.depth, g->n);
	if (known)
		cellf(d, "%lu of %lu (%.0f%%)", deep, known, share(deep, known));
	else
		cell(d, "-");
	row_end(d);
}

static void cgn_row(struct doc *d, const struct nr_group *g, const struct nr_group *all)
{
	row_begin(d);
	group_cells(d, g, g->n);
	bin_cells(d, cgn_bins, NBINS(cgn_bins), g->depth.cgn, all->depth.cgn, g->n);
	row_end(d);
}

/* "2 (40%)": each protocol and any, of n records; "-" when n is 0. */
static void protocol_cells(struct doc *d, const unsigned long *count, unsigned long n)
{
	for (unsigned p = 0; p <= NR_NPM; p++) {
		if (n)
			cellf(d, "%lu (%.0f%%)", count[p], share(count[p], n));
		else
			cell(d, "-");
	}
}

static void answered_row(struct doc *d, const struct nr_group *g, const struct nr_group *all)
{
	const struct nr_portmap_counts *c = &g->portmap;

	row_begin(d);
	group_cells(d, g, g->n);
	bin_cells(d, portmap_bins, NBINS(portmap_bins), c->state, all->portmap.state, g->n);
	protocol_cells(d, c->answered, c->state[NR_PM_MEASURED]);
	row_end(d);
}

static void works_row(struct doc *d, const struct nr_group *g, const struct nr_group *all)
{
	(void)all;
	row_begin(d);
	group_cells(d, g, g->portmap.state[NR_PM_MEASURED]);
	cellf(d, "%lu", g->portmap.asked);
	protocol_cells(d, g->portmap.works, g->portmap.asked);
	row_end(d);
}

static void depth_tables(struct doc *d, const struct nr_survey *s)
{
	const struct nr_depth_counts *all = &s->groups[0].depth;
	const char *heads[NBINS(depth_bins) + 3] = {"group", "records"};
	size_t nh;

	if (all->depth[NR_DEPTH_ABSENT] < s->n) {
		nh = bin_heads(heads, 2, depth_bins, NBINS(depth_bins), all->depth);
		heads[nh++] = "NAT444 (2+, of those with a depth)";
		group_table(d, s, "NAT depth", heads, nh, depth_row);
	}
	if (all->cgn[NR_TRI_ABSENT] < s->n) {
		nh = bin_heads(heads, 2, cgn_bins, NBINS(cgn_bins), all->cgn);
		group_table(d, s, "CGN", heads, nh, cgn_row);
	}
}

static void portmap_tables(struct doc *d, const struct nr_survey *s)
{
	const struct nr_portmap_counts *all = &s->groups[0].portmap;
	const char *heads[NBINS(portmap_bins) + NR_NPM + 3] = {"group", "records"};
	const char *works[NR_NPM + 4] = {"group", "tested", "mapping asked for"};
	size_t nh = bin_heads(heads, 2, portmap_bins, NBINS(portmap_bins), all->state);

	if (all->state[NR_PM_ABSENT] == s->n)
		return;
	for (unsigned p = 0; p <= NR_NPM; p++) {
		heads[nh + p] = protocol(p);
		works[3 + p] = protocol(p);
	}
	group_table(d, s, "Port-mapping protocols that answered (of the records tested)", heads,
		    nh + NR_NPM + 1, answered_row);
	group_table(d, s,
		    "Port mappings that worked: granted and reached from outside (of the "
		    "records that asked for one)",
		    works, NR_NPM + 4, works_row);
}

static bool depth_or_portmap(const struct nr_survey *s)
{
	const struct nr_group *all = &s->groups[0];

	return all->depth.depth[NR_DEPTH_ABSENT] < s->n || all->depth.cgn[NR_TRI_ABSENT] < s->n ||
	       all->portmap.state[NR_PM_ABSENT] < s->n;
}

static void survey_depth(struct doc *d, const struct nr_survey *s)
{
	if (!depth_or_portmap(s))
		return;
	block(d, SUBSECTION, "NAT depth and port mapping");
	open_block(d, PARAGRAPH);
	text(d, "From natprobe's depth and portmap tests: ", false);
	code(d, "nat_depth");
	text(d, " (NATs on the way out; ", false);
	code(d, "null");
	text(d, " inconclusive), ", false);
	code(d, "cgn");
	text(d, " and ", false);
	code(d, "portmap");
	text(d, ". ", false);
	code(d, "-");
	text(d,
	     " is a record without the key (a natprobe from before the test, or the test not "
	     "run), never a 0 or a false; ",
	     false);
	code(d, MALFORMED);
	text(d, " a value of the wrong type. One row per group, then all records: ", false);
	code(d, "(all)");
	text(d, ".", false);
	close_block(d, PARAGRAPH);
	depth_tables(d, s);
	portmap_tables(d, s);
}

static void survey_compliance(struct doc *d, const struct nr_survey *s)
{
	const struct nr_group *all = &s->groups[0];

	block(d, SUBSECTION, "Compliance");
	TABLE_HEAD(d, "RFC", "requirement", "pass", "fail", "untested");
	for (size_t i = 0; i < nr_nrequirements && i < NR_MAX_REQS; i++) {
		row_begin(d);
		cellf(d, "%s %s", nr_requirements[i].rfc, nr_requirements[i].id);
		cell(d, nr_requirements[i].text);
		cellf(d, "%lu", all->marks[i][NR_PASS]);
		cellf(d, "%lu", all->marks[i][NR_FAIL]);
		cellf(d, "%lu", all->marks[i][NR_UNTESTED]);
		row_end(d);
	}
	table_end(d);
}

static void survey_pairs(struct doc *d, const struct nr_tally *t)
{
	struct cell_at at[MAX_CELLS];
	size_t n = cells_of(t, true, at);
	char rate[48];

	block(d, SUBSECTION, "Traversal by NAT-type pair");
	open_block(d, PARAGRAPH);
	text(d,
	     "Each technique's trials pooled over the records of each pair of NAT types: "
	     "mapping/filtering of the probe (",
	     false);
	code(d, "udp");
	text(d, ") and of the other probe (", false);
	code(d, "punch_peer");
	text(d,
	     "; unknown when the record lacks it), in either order. The rate is over the "
	     "trials that started, with Wilson's 95% interval; setup failures are outside it.",
	     false);
	close_block(d, PARAGRAPH);
	TABLE_HEAD(d, "technique", "NAT types", "records", "started", "successes", "success rate",
		   "setup failed");
	for (size_t i = 0; i < n; i++) {
		const struct nr_cell *c = &t->cell[at[i].r][at[i].k];

		row_begin(d);
		cell(d, t->tech[at[i].k]);
		cell(d, t->row[at[i].r]);
		cellf(d, "%lu", c->records);
		cellf(d, "%lu", nr_cell_started(c));
		cellf(d, "%lu", c->successes);
		rate_text(c, true, rate, sizeof(rate));
		cell(d, rate);
		cellf(d, "%lu", c->setup_failed);
		row_end(d);
	}
	table_end(d);
}

static void doc_survey(struct doc *d)
{
	const struct nr_report *r = d->r;
	const struct nr_survey *s = r->survey;

	block(d, SECTION, "Survey");
	open_block(d, PARAGRAPH);
	textf(d, "%lu records. Each verdict's count and share; ", s->n);
	code(d, "-");
	text(d, " is a record without that key (the test did not run).", false);
	close_block(d, PARAGRAPH);
	block(d, SUBSECTION, "Verdicts");
	totals(d, s);
	survey_depth(d, s);
	if (r->by && s->ngroups > 1) {
		open_block(d, SUBSECTION);
		text(d, "By ", false);
		code(d, r->by);
		close_block(d, SUBSECTION);
		open_block(d, PARAGRAPH);
		text(d, "Each group's records, then all of them: ", false);
		code(d, "(all)");
		text(d, ".", false);
		close_block(d, PARAGRAPH);
		for (int k = 0; k < NR_NKEYS; k++)
			if (!(s->nvalues[k] == 1 && !s->value[k][0][0]))
				key_table(d, s, (enum nr_key)k);
	}
	survey_compliance(d, s);
	if (s->pairs->ntechs)
		survey_pairs(d, s->pairs);
}

static void doc_figures(struct doc *d)
{
	const struct nr_report *r = d->r;

	if (!r->nfigures)
		return;
	block(d, SECTION, "Figures");
	for (size_t i = 0; i < r->nfigures; i++) {
		const struct nr_figure *f = &r->figures[i];

		if (d->format == MARKDOWN) {
			/* <...>: a folder with spaces or parentheses stays one link. */
			fprintf(d->out, "\n![%s](<%s%s%s.png>)\n", f->title, r->figure_dir,
				r->figure_dir[0] ? "/" : "", f->name);
			continue;
		}
		fprintf(d->out, "<figure id=\"%s\"><a href=\"%s.svg\"><img src=\"%s.png\" alt=\"",
			f->name, f->name, f->name);
		text(d, f->title, false);
		fputs("\"></a><figcaption>", d->out);
		text(d, f->title, false);
		fprintf(d->out,
			" (<a href=\"%s.svg\">SVG</a>, <a href=\"%s.dat\">data</a>, "
			"<a href=\"%s.gp\">gnuplot script</a>)</figcaption></figure>\n",
			f->name, f->name, f->name);
	}
}

static void doc_body(struct doc *d)
{
	const struct nr_report *r = d->r;

	block(d, TITLE, "natlab report");
	open_block(d, PARAGRAPH);
	textf(d, "%lu record%s read from %lu input%s", r->stats.records,
	      r->stats.records == 1 ? "" : "s", r->stats.files, r->stats.files == 1 ? "" : "s");
	if (r->stats.skipped)
		textf(d, "; %lu bad records or lines skipped (natreport's messages say where)",
		      r->stats.skipped);
	text(d, ".", false);
	close_block(d, PARAGRAPH);
	doc_figures(d);
	if (r->survey->matrix->ntechs)
		doc_matrix(d, r->survey->matrix);
	if (r->nrows)
		doc_devices(d);
	if (r->survey->n > 1)
		doc_survey(d);
}

void nr_write_markdown(FILE *out, const struct nr_report *r)
{
	struct doc d = {out, MARKDOWN, r};

	doc_body(&d);
}

/* The page carries its style and no link outside its folder. Its one script
 * tells when a figure did not load (a figure file moved away): the page
 * says so, and a headless browser can read it from data-figures. */
static const char html_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>natlab report</title>\n<style>\n"
    "body { font-family: sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em;\n"
    "       color: #222; line-height: 1.4; }\n"
    "table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }\n"
    "th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left;\n"
    "         vertical-align: top; }\n"
    "th { background: #f0f0f0; }\n"
    "td.pass { background: #dff0d8; }\n"
    "td.fail { background: #f2dede; font-weight: bold; }\n"
    "td.untested { color: #777; }\n"
    "code { background: #f4f4f4; padding: 0 0.2em; }\n"
    "figure { margin: 1.5em 0; }\n"
    "figure img { max-width: 100%; border: 1px solid #ddd; }\n"
    "figcaption { font-size: 0.9em; color: #555; }\n"
    "#figures-missing { color: #a00; font-weight: bold; }\n"
    "</style>\n</head>\n<body data-figures=\"pending\">\n";

static const char html_tail[] =
    "<script>\n"
    "window.addEventListener('load', function () {\n"
    "  var imgs = document.images, ok = 0;\n"
    "  for (var i = 0; i < imgs.length; i++)\n"
    "    if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++;\n"
    "  document.body.setAttribute('data-figures', ok + ' of ' + imgs.length);\n"
    "  if (ok < imgs.length) {\n"
    "    var p = document.createElement('p');\n"
    "    p.id = 'figures-missing';\n"
    "    p.textContent = (imgs.length - ok) + ' of ' + imgs.length +\n"
    "      ' figures did not load: keep this page in its folder with the figure files.';\n"
    "    document.body.insertBefore(p, document.body.firstChild);\n"
    "  }\n"
    "});\n"
    "</script>\n</body>\n</html>\n";

void nr_write_html(FILE *out, const struct nr_report *r)
{
	struct doc d = {out, HTML, r};

	fputs(html_head, out);
	doc_body(&d);
	fputs(html_tail, out);
}
