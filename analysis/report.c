/*
 * The terminal table and the Markdown report. Values are printed as the
 * record has them (INTERFACE.md's words); "-" where a record has no such
 * key (the test did not run). Nothing here depends on the time or the
 * machine, so the same records give the same report: golden files rely
 * on it.
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/report.h"

const char *nr_row_name(const struct nr_row *row)
{
	return row->label[0] ? row->label : row->where;
}

static const char *shown(const char *v)
{
	return v[0] ? v : "-";
}

/* Short forms for the terminal's narrow columns. */
static const char *brief(const char *v)
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
			fprintf(out, " %-*s", widths[c], brief(r->rows[i].value[cols[c]]));
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
}

void nr_write_text(FILE *out, const struct nr_report *r)
{
	fprintf(out, "natreport: %lu record%s from %lu input%s, %lu skipped\n", r->stats.records,
		r->stats.records == 1 ? "" : "s", r->stats.files, r->stats.files == 1 ? "" : "s",
		r->stats.skipped);
	if (r->nrows)
		text_rows(out, r);
	if (r->survey->n > 1)
		text_survey(out, r);
}

/* ---- Markdown ---- */

/* Table cells must not break the table: '|' and newlines are escaped. */
static void cell(FILE *out, const char *s)
{
	fputs("| ", out);
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", out);
		else if (*s == '\n' || *s == '\r')
			fputc(' ', out);
		else
			fputc(*s, out);
	}
	fputc(' ', out);
}

static void md_verdicts(FILE *out, const struct nr_row *row)
{
	fprintf(out, "| test | verdict | evidence |\n| --- | --- | --- |\n");
	for (int k = 0; k < NR_NKEYS; k++) {
		if (!row->value[k][0])
			continue;
		cell(out, nr_keys[k].title);
		cell(out, row->value[k]);
		cell(out, row->evidence[k]);
		fputs("|\n", out);
	}
}

static void md_compliance(FILE *out, const struct nr_row *row)
{
	char why[NR_TEXT_LEN];

	fprintf(out, "\n| RFC | requirement | level | result | why |\n"
		     "| --- | --- | --- | --- | --- |\n");
	for (size_t i = 0; i < nr_nrequirements; i++) {
		const struct nr_requirement *q = &nr_requirements[i];
		enum nr_mark m = nr_judge(i, row, why, sizeof(why));
		char rfc[16];

		snprintf(rfc, sizeof(rfc), "%s %s", q->rfc, q->id);
		cell(out, rfc);
		cell(out, q->text);
		cell(out, q->level);
		cell(out, m == NR_PASS ? "pass" : m == NR_FAIL ? "**fail**" : "untested");
		cell(out, why);
		fputs("|\n", out);
	}
}

static void md_punch(FILE *out, const struct nr_row *row)
{
	if (!row->npunch)
		return;
	fprintf(out, "\n| technique | trials | successes | success rate | median connect |\n"
		     "| --- | --- | --- | --- | --- |\n");
	for (unsigned i = 0; i < row->npunch; i++) {
		const struct nr_punch *p = &row->punch[i];
		char ms[32];

		if (p->median_connect_ms >= 0)
			snprintf(ms, sizeof(ms), "%.0f ms", p->median_connect_ms);
		else
			snprintf(ms, sizeof(ms), "-");
		fprintf(out, "| %s | %ld | %ld | %.0f%% | %s |\n", p->technique, p->trials,
			p->successes,
			p->trials > 0 ? 100.0 * (double)p->successes / (double)p->trials : 0.0, ms);
	}
}

static void md_devices(FILE *out, const struct nr_report *r)
{
	fprintf(out, "\n## Devices\n");
	for (size_t i = 0; i < r->nrows; i++) {
		const struct nr_row *row = &r->rows[i];

		fprintf(out, "\n### %s\n\nRecord `%s`%s%s.\n\n", nr_row_name(row), row->where,
			row->started[0] ? ", started " : "", row->started);
		md_verdicts(out, row);
		md_compliance(out, row);
		md_punch(out, row);
	}
	if (r->more)
		fprintf(out,
			"\n%lu more records are counted in the survey, not shown one by one "
			"(see `--devices`).\n",
			r->more);
}

static void md_group_row(FILE *out, const struct nr_survey *s, enum nr_key k,
			 const struct nr_group *gr)
{
	cell(out, gr->name);
	fprintf(out, "| %lu |", gr->n);
	for (unsigned v = 0; v < s->nvalues[k]; v++)
		fprintf(out, " %lu (%.0f%%) |", gr->count[k][v], share(gr->count[k][v], gr->n));
	if (s->other_values[k])
		fprintf(out, " %lu |", gr->count[k][NR_OTHER]);
	fputc('\n', out);
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const struct nr_group *const *)a)->name,
		      (*(const struct nr_group *const *)b)->name);
}

/* Key k's counts: one row per group, sorted by name, one column per value. */
static void md_key_table(FILE *out, const struct nr_survey *s, enum nr_key k)
{
	const struct nr_group *order[NR_MAX_GROUPS + 1] = {NULL};
	unsigned n = 0;

	for (unsigned g = 1; g < s->ngroups; g++)
		order[n++] = &s->groups[g];
	qsort(order, n, sizeof(order[0]), by_name);
	if (s->other_groups)
		order[n++] = &s->groups[NR_MAX_GROUPS + 1];
	fprintf(out, "\n**%s**\n\n| group | records |", nr_keys[k].title);
	for (unsigned v = 0; v < s->nvalues[k]; v++)
		fprintf(out, " %s |", shown(s->value[k][v]));
	if (s->other_values[k])
		fputs(" (other values) |", out);
	fputs("\n| --- | --- |", out);
	for (unsigned v = 0; v < s->nvalues[k] + s->other_values[k]; v++)
		fputs(" --- |", out);
	fputc('\n', out);
	for (unsigned g = 0; g < n; g++)
		md_group_row(out, s, k, order[g]);
	md_group_row(out, s, k, &s->groups[0]);
}

/* Every key's values over all records: one row each. */
static void md_totals(FILE *out, const struct nr_survey *s)
{
	const struct nr_group *all = &s->groups[0];

	fprintf(out, "\n| test | verdict | records | share |\n| --- | --- | --- | --- |\n");
	for (int k = 0; k < NR_NKEYS; k++) {
		if (s->nvalues[k] == 1 && !s->value[k][0][0])
			continue;
		for (unsigned v = 0; v < s->nvalues[k]; v++)
			fprintf(out, "| %s | %s | %lu | %.0f%% |\n", v ? "" : nr_keys[k].title,
				shown(s->value[k][v]), all->count[k][v],
				share(all->count[k][v], s->n));
		if (s->other_values[k])
			fprintf(out, "| | (other values) | %lu | %.0f%% |\n",
				all->count[k][NR_OTHER], share(all->count[k][NR_OTHER], s->n));
	}
}

static void md_survey_compliance(FILE *out, const struct nr_survey *s)
{
	const struct nr_group *all = &s->groups[0];

	fprintf(out, "\n### Compliance\n\n| RFC | requirement | pass | fail | untested |\n"
		     "| --- | --- | --- | --- | --- |\n");
	for (size_t i = 0; i < nr_nrequirements && i < NR_MAX_REQS; i++)
		fprintf(out, "| %s %s | %s | %lu | %lu | %lu |\n", nr_requirements[i].rfc,
			nr_requirements[i].id, nr_requirements[i].text, all->marks[i][NR_PASS],
			all->marks[i][NR_FAIL], all->marks[i][NR_UNTESTED]);
}

static void md_survey(FILE *out, const struct nr_report *r)
{
	const struct nr_survey *s = r->survey;

	fprintf(out,
		"\n## Survey\n\n%lu records. Each verdict's count and share; `-` is a "
		"record without that key (the test did not run).\n\n### Verdicts\n",
		s->n);
	md_totals(out, s);
	if (r->by && s->ngroups > 1) {
		fprintf(out, "\n### By `%s`\n\nEach group's records, then all of them: `(all)`.\n",
			r->by);
		for (int k = 0; k < NR_NKEYS; k++)
			if (!(s->nvalues[k] == 1 && !s->value[k][0][0]))
				md_key_table(out, s, (enum nr_key)k);
	}
	md_survey_compliance(out, s);
}

void nr_write_markdown(FILE *out, const struct nr_report *r)
{
	fprintf(out, "# natlab report\n\n%lu record%s read from %lu input%s", r->stats.records,
		r->stats.records == 1 ? "" : "s", r->stats.files, r->stats.files == 1 ? "" : "s");
	if (r->stats.skipped)
		fprintf(out, "; %lu bad records or lines skipped (natreport's messages say where)",
			r->stats.skipped);
	fprintf(out, ".\n");
	for (size_t i = 0; i < r->nfigures; i++)
		fprintf(out, "%s![%s](%s)\n", i ? "" : "\n## Figures\n\n", r->figure_titles[i],
			r->figures[i]);
	if (r->nrows)
		md_devices(out, r);
	if (r->survey->n > 1)
		md_survey(out, r);
}
