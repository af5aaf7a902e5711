/*
 * natreport: natprobe's result records into a device report, a survey and
 * a compliance matrix (terminal and Markdown), and `natreport diff` for CI.
 * This file is the driver: subcommands, options, files. Reading is
 * records.c, judging verdicts.c and compliance.c, counting survey.c,
 * writing report.c and diff.c.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/chexport.h"
#include "analysis/diff.h"
#include "analysis/plots.h"
#include "analysis/report.h"

#define VERSION         "0.1.0"
#define EXIT_CHANGED    1 /* diff: a behaviour changed */
#define EXIT_USAGE      2
#define EXIT_NO_RECORDS 3 /* nothing could be read, or an output not written */
#define EXIT_BAD_INPUT  4 /* some input skipped; the rest reported */
#define DEVICES_DEFAULT 20
#define DEVICES_MAX     1000

static const char usage[] =
    "usage: natreport [--markdown FILE|-] [--plots DIR] [--html DIR] [--by KEY]\n"
    "                 [--devices N] RECORD...\n"
    "       natreport diff [--junit FILE] BASELINE CURRENT\n"
    "       natreport export --clickhouse URL [--table NAME] RECORD...  (see export --help)\n"
    "\n"
    "Read natprobe's result records and report them: each device's verdicts with\n"
    "their evidence and its RFC 4787 / RFC 5382 compliance (pass, fail, untested),\n"
    "and over many records a survey: how many gave each verdict, overall and by KEY.\n"
    "Traversal trials (punch records) give a matrix of NAT pair (label) x technique:\n"
    "successes/trials, expected, agrees or CONTRADICTION; and in the survey each\n"
    "technique's success by NAT-type pair, with its 95% interval.\n"
    "A RECORD is a file (JSON Lines, or JSON objects one after another), a folder\n"
    "(its .json and .jsonl files, sorted by name) or '-' for standard input.\n"
    "Bad records are reported with file and line, skipped, and counted.\n"
    "\n"
    "  --markdown FILE  write the report as Markdown to FILE ('-': standard output,\n"
    "                   instead of the table)\n"
    "  --plots DIR      draw the figures with gnuplot into DIR, each as NAME.png and\n"
    "                   NAME.svg beside its data (NAME.dat) and script (NAME.gp):\n"
    "                   survey shares, port allocation, binding lifetimes, traversal\n"
    "                   success, the traversal matrix (contradictions framed), connect\n"
    "                   times; a figure without data is left out\n"
    "  --html DIR       write the report as a page, DIR/index.html, with its figures\n"
    "                   in DIR; the page needs nothing outside DIR\n"
    "  --by KEY         group the survey by this key of the records, dotted\n"
    "                   (e.g. label, tags.isp)\n"
    "  --devices N      show the first N records one by one (default 20, at most\n"
    "                   1000); all are counted in the survey\n"
    "  -h, --help       this text\n"
    "\n"
    "natreport diff compares two sets of records (files, folders or '-') by label,\n"
    "verdict by verdict and traversal technique by technique (punch.T.outcome:\n"
    "all-, some-, none-succeeded or none-started; punch.T.agrees), and nat_depth,\n"
    "cgn and portmap.works; prints each change and exits 1 if there is one; a\n"
    "technique one side lacks is said, not compared.\n"
    "--junit FILE also writes the comparison as JUnit XML for CI systems.\n"
    "\n"
    "Exit status: 0 done, 1 (diff) a behaviour changed, 2 bad usage, 3 no record\n"
    "could be read or an output (a file, a figure) could not be written, 4 some\n"
    "input was bad and skipped (the report covers the rest).\n"
    "\n"
    "Environment: NATREPORT_GNUPLOT, the gnuplot to run (default: gnuplot);\n"
    "NATREPORT_THREADS, the threads that parse records beside the one reading them\n"
    "(0-16; default: one per CPU, none on one CPU). The output is the same for any.\n";

/* ---- reading into a report ---- */

static unsigned threads; /* NATREPORT_THREADS */

struct reading {
	struct nr_report *r;
	const char *by;
	struct nr_side *side; /* diff: the side being read, else NULL */
	bool failed;          /* out of memory */
	/* For the workers, which read nothing else here: records before this
	 * index may be shown one by one, so they are read with their evidence. */
	unsigned long evidence_before;
};

/* A record's row, made on a worker thread. */
struct made {
	struct nr_row row;
	bool evidence;
};

static void work(void *ctx, const json_t *rec, const struct rec_where *where, void *result)
{
	const struct reading *rd = ctx;
	struct made *m = result;

	m->evidence = where->index < rd->evidence_before;
	nr_row_from(&m->row, rec, rd->by, where->file, where->line, m->evidence);
}

static int take(void *ctx, void *result, const struct rec_where *where)
{
	struct reading *rd = ctx;
	struct nr_report *r = rd->r;
	struct made *m = result;
	struct nr_row *row = &m->row;
	bool shown = r && r->nrows < r->max_rows;

	if (shown && !m->evidence) {
		/* Bad records came before: this one is shown after all, and is
		 * read again for its evidence (at most --devices times). */
		json_t *rec = json_loadb(where->text, where->len, JSON_REJECT_DUPLICATES, NULL);

		if (rec)
			nr_row_from(row, rec, rd->by, where->file, where->line, true);
		json_decref(rec);
	}
	if (rd->by && !row->group[0])
		snprintf(row->group, sizeof(row->group), "(no %s)", rd->by);
	if (rd->side) {
		if (nr_side_add(rd->side, row)) {
			rd->failed = true;
			return -1;
		}
		return 0;
	}
	nr_survey_add(r->survey, row);
	if (shown)
		r->rows[r->nrows++] = *row;
	else
		r->more++;
	return 0;
}

static int read_inputs(char *const *paths, size_t n, struct reading *rd, struct rec_stats *st)
{
	struct rec_jobs jobs = {work, take, rd, sizeof(struct made), threads, stderr, "natreport"};

	rd->evidence_before = rd->r ? rd->r->max_rows : 0;
	rec_read_paths(paths, n, &jobs, st);
	if (rd->failed) {
		fprintf(stderr, "natreport: out of memory\n");
		return EXIT_NO_RECORDS;
	}
	if (!st->records) {
		fprintf(stderr, "natreport: no record could be read\n");
		return EXIT_NO_RECORDS;
	}
	return st->skipped || st->unreadable ? EXIT_BAD_INPUT : 0;
}

typedef void (*writer_fn)(FILE *out, const struct nr_report *r);

/* Written whole or not at all: to FILE.tmp, then renamed. */
static int write_doc(const char *path, writer_fn write, const struct nr_report *r,
		     const char *option)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (!strcmp(path, "-")) {
		write(stdout, r);
		return fflush(stdout) ? -1 : 0;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		fprintf(stderr, "natreport: %s %s: the path is too long\n", option, path);
		return -1;
	}
	f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "natreport: %s %s: %s\n", option, path, strerror(errno));
		return -1;
	}
	write(f, r);
	if (ferror(f) | fclose(f) || rename(tmp, path)) {
		fprintf(stderr, "natreport: %s %s: cannot write it\n", option, path);
		remove(tmp);
		return -1;
	}
	return 0;
}

/* s added to out, or -1 when it does not fit. */
static int append(char *out, size_t len, const char *s)
{
	size_t at = strlen(out), n = strlen(s);

	if (at + n >= len)
		return -1;
	memcpy(out + at, s, n + 1);
	return 0;
}

/* The path from folder `from` to folder `to` ("" when the same), for the
 * Markdown file's links to the figures. -1 when either does not resolve. */
static int relative_dir(const char *from, const char *to, char *out, size_t len)
{
	char a[PATH_MAX], b[PATH_MAX];
	size_t common = 0;

	if (!realpath(from, a) || !realpath(to, b))
		return -1;
	if (!strcmp(a, "/"))
		a[0] = '\0';
	if (!strcmp(b, "/"))
		b[0] = '\0';
	for (size_t i = 0;; i++) { /* the last '/'-bounded prefix both share */
		bool end_a = !a[i] || a[i] == '/', end_b = !b[i] || b[i] == '/';

		if (end_a && end_b)
			common = i;
		if (!a[i] || !b[i] || a[i] != b[i])
			break;
	}
	out[0] = '\0';
	for (const char *p = a + common; *p; p++)
		if (*p == '/' && append(out, len, out[0] ? "/.." : ".."))
			return -1;
	if (b[common] && (append(out, len, out[0] ? "/" : "") || append(out, len, b + common + 1)))
		return -1;
	return 0;
}

/* ---- natreport RECORD... ---- */

struct options {
	const char *markdown, *plots, *html, *by;
	unsigned long devices;
};

static int parse_report(int argc, char **argv, struct options *o)
{
	static const struct option longs[] = {{"markdown", required_argument, NULL, 'm'},
					      {"plots", required_argument, NULL, 'p'},
					      {"html", required_argument, NULL, 'H'},
					      {"by", required_argument, NULL, 'b'},
					      {"devices", required_argument, NULL, 'd'},
					      {"help", no_argument, NULL, 'h'},
					      {NULL, 0, NULL, 0}};
	char *end;
	int c;

	*o = (struct options){.devices = DEVICES_DEFAULT};
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case 'm':
			o->markdown = optarg;
			break;
		case 'p':
			o->plots = optarg;
			break;
		case 'H':
			o->html = optarg;
			break;
		case 'b':
			o->by = optarg;
			break;
		case 'd':
			errno = 0;
			o->devices = strtoul(optarg, &end, 10);
			if (errno || *end || !optarg[0] || o->devices > DEVICES_MAX) {
				fprintf(stderr, "natreport: --devices '%s' is not 0-%d\n", optarg,
					DEVICES_MAX);
				return -1;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			fputs(usage, stderr);
			return -1;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "natreport: no RECORD given (a file, a folder or '-')\n%s", usage);
		return -1;
	}
	return 0;
}

static bool same_dir(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];

	return realpath(a, ra) && realpath(b, rb) && !strcmp(ra, rb);
}

static int write_html(const char *dir, const char *gnuplot, struct nr_report *r)
{
	char path[PATH_MAX];
	int rc = nr_plots_write(r, dir, gnuplot, stderr);

	if ((size_t)snprintf(path, sizeof(path), "%s/index.html", dir) >= sizeof(path))
		return -1;
	return write_doc(path, nr_write_html, r, "--html") | rc;
}

/* The figures first (the documents show them), then each document. */
static int write_outputs(const struct options *o, struct nr_report *r)
{
	const char *gnuplot = getenv("NATREPORT_GNUPLOT");
	int rc = 0;

	if (!gnuplot || !gnuplot[0])
		gnuplot = "gnuplot";
	if (o->html)
		rc |= write_html(o->html, gnuplot, r);
	if (o->plots && !(o->html && same_dir(o->plots, o->html)))
		rc |= nr_plots_write(r, o->plots, gnuplot, stderr);
	if (!o->markdown || strcmp(o->markdown, "-"))
		nr_write_text(stdout, r);
	if (!o->markdown)
		return rc;
	if (r->nfigures) {
		char md[PATH_MAX];

		snprintf(md, sizeof(md), "%s", strcmp(o->markdown, "-") ? o->markdown : "./-");
		if (relative_dir(dirname(md), o->plots ? o->plots : o->html, r->figure_dir,
				 sizeof(r->figure_dir)))
			r->nfigures = 0; /* unreachable from there: no broken links */
	}
	return write_doc(o->markdown, nr_write_markdown, r, "--markdown") | rc;
}

static int cmd_report(int argc, char **argv)
{
	struct options o;
	struct nr_report r = {0};
	struct reading rd = {.r = &r};
	int rc;

	if (parse_report(argc, argv, &o))
		return EXIT_USAGE;
	rd.by = o.by;
	r.by = o.by;
	r.max_rows = o.devices;
	r.rows = calloc(o.devices ? o.devices : 1, sizeof(*r.rows));
	r.survey = nr_survey_new();
	if (!r.rows || !r.survey) {
		fprintf(stderr, "natreport: out of memory\n");
		rc = EXIT_NO_RECORDS;
		goto cleanup;
	}
	rc = read_inputs(argv + optind, (size_t)(argc - optind), &rd, &r.stats);
	if (rc == EXIT_NO_RECORDS)
		goto cleanup;
	if (write_outputs(&o, &r))
		rc = EXIT_NO_RECORDS;
cleanup:
	free(r.rows);
	nr_survey_free(r.survey);
	return rc;
}

/* ---- natreport diff ---- */

static void print_change(void *ctx, const char *label, const char *what, const char *before,
			 const char *after)
{
	FILE *out = ctx;

	if (!what)
		fprintf(out, "  %s: %s\n", label,
			before ? "in the baseline, missing from the current records"
			       : "new: not in the baseline");
	else if (!before || !after)
		fprintf(out, "  %s: %s only in the %s: not compared\n", label, what,
			before ? "baseline" : "current records");
	else if (strcmp(before, after))
		fprintf(out, "  %s: %s %s -> %s\n", label, what, before, after);
}

static int read_side(char *path, struct nr_side *side, const char *what)
{
	struct reading rd = {.side = side};
	struct rec_stats st = {0};
	int rc = read_inputs(&path, 1, &rd, &st);

	if (rc == EXIT_NO_RECORDS)
		fprintf(stderr, "natreport diff: the %s (%s) has no records to compare\n", what,
			path);
	return rc;
}

static int write_junit(const char *path, struct nr_side *a, struct nr_side *b)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "natreport diff: --junit %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (nr_diff_junit(f, a, b, "natreport diff") | fclose(f)) {
		fprintf(stderr, "natreport diff: --junit %s: cannot write it\n", path);
		return -1;
	}
	return 0;
}

static int cmd_diff(int argc, char **argv)
{
	static const struct option longs[] = {{"junit", required_argument, NULL, 'j'},
					      {"help", no_argument, NULL, 'h'},
					      {NULL, 0, NULL, 0}};
	struct nr_side base = {0}, cur = {0};
	const char *junit = NULL;
	unsigned long changes;
	int c, rc_a, rc_b, rc;

	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		if (c == 'j') {
			junit = optarg;
		} else if (c == 'h') {
			fputs(usage, stdout);
			return 0;
		} else {
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "natreport diff: wants BASELINE and CURRENT\n%s", usage);
		return EXIT_USAGE;
	}
	rc_a = read_side(argv[optind], &base, "baseline");
	rc_b = read_side(argv[optind + 1], &cur, "current set");
	if (rc_a == EXIT_NO_RECORDS || rc_b == EXIT_NO_RECORDS) {
		rc = EXIT_NO_RECORDS;
		goto cleanup;
	}
	changes = nr_diff(&base, &cur, print_change, stdout);
	printf("natreport diff: %lu labels in the baseline, %lu in the current records: %lu "
	       "change%s\n",
	       (unsigned long)base.n, (unsigned long)cur.n, changes, changes == 1 ? "" : "s");
	if (nr_side_over(&base) || nr_side_over(&cur))
		printf("natreport diff: not compared: %lu technique results in the baseline, %lu "
		       "in the current records, past %d in one record or %d a label\n",
		       nr_side_over(&base), nr_side_over(&cur), NR_PUNCH, NR_SIDE_CELLS);
	rc = changes ? EXIT_CHANGED : rc_a ? rc_a : rc_b;
	if (junit && write_junit(junit, &base, &cur))
		rc = EXIT_NO_RECORDS;
cleanup:
	nr_side_free(&base);
	nr_side_free(&cur);
	return rc;
}

/* NATREPORT_THREADS, or one per CPU; -1 when it is not a count. */
static int choose_threads(void)
{
	const char *v = getenv("NATREPORT_THREADS");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char *end;
	unsigned long n;

	if (!v || !v[0]) {
		threads =
		    cpus > 1 ? (unsigned)(cpus < REC_MAX_THREADS ? cpus : REC_MAX_THREADS) : 0;
		return 0;
	}
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || v[0] == '-' || n > REC_MAX_THREADS) {
		fprintf(stderr, "natreport: NATREPORT_THREADS '%s' is not 0-%d\n", v,
			REC_MAX_THREADS);
		return -1;
	}
	threads = (unsigned)n;
	return 0;
}

int main(int argc, char **argv)
{
	if (choose_threads())
		return EXIT_USAGE;
	if (argc > 1 && !strcmp(argv[1], "diff"))
		return cmd_diff(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "export"))
		return choose_threads() ? EXIT_USAGE : ch_export_main(argc - 1, argv + 1, threads);
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("natreport %s\n", VERSION);
		return 0;
	}
	return cmd_report(argc, argv);
}
