/*
 * natreport --plots: data files for analysis/plots/NAME.gp, the scripts beside
 * them, and gnuplot run on each. Each data writer returns how many items it
 * wrote; with none, the figure is left out.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analysis/plots.h"
#include "analysis/traversal.h"

#define MAX_SERIES     16 /* lines in one figure; more would be unreadable */
#define MAX_TECHNIQUES 16

struct plot {
	const char *name, *title;
	unsigned (*data)(FILE *out, const struct nr_report *r);
};

void nr_plot_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out); /* gnuplot reads escapes in "..." */
		else
			fputc(*s == '"' ? '\'' : (unsigned char)*s < ' ' ? ' ' : *s, out);
	}
	fputc('"', out);
}

/* One bar per test: each value's share as a segment. */
static unsigned survey_data(FILE *out, const struct nr_report *r)
{
	const struct nr_survey *s = r->survey;
	const struct nr_group *all = &s->groups[0];
	unsigned rows = 0;

	if (s->n < 2)
		return 0;
	for (int k = 0; k < NR_NKEYS; k++) {
		double at = 0;

		if (s->nvalues[k] == 1 && !s->value[k][0][0])
			continue; /* no record has it */
		for (unsigned v = 0; v <= s->nvalues[k]; v++) {
			unsigned long n =
			    v < s->nvalues[k] ? all->count[k][v] : all->count[k][NR_OTHER];
			double end = at + 100.0 * (double)n / (double)s->n;

			if (!n)
				continue;
			fprintf(out, "%u ", rows);
			nr_plot_string(out, nr_keys[k].title);
			fprintf(out, " %.3f %.3f ", at, end);
			nr_plot_string(out,
				       v < s->nvalues[k] ? nr_brief(s->value[k][v]) : "(other)");
			fprintf(out, " %lu %u\n", n, v + 1);
			at = end;
		}
		rows++;
	}
	return rows;
}

static unsigned ports_data(FILE *out, const struct nr_report *r)
{
	unsigned series = 0;

	for (size_t i = 0; i < r->nrows && series < MAX_SERIES; i++) {
		const struct nr_row *row = &r->rows[i];

		if (!row->nsamples)
			continue;
		fputs(series ? "\n\n" : "", out);
		nr_plot_string(out, nr_row_name(row));
		fputc('\n', out);
		for (unsigned k = 0; k < row->nsamples; k++) {
			fprintf(out, "%u %u", k, row->samples[k]);
			if (row->have_locals)
				fprintf(out, " %u\n", row->locals[k]);
			else
				fputs(" -\n", out);
		}
		series++;
	}
	return series;
}

static void bound(FILE *out, double s)
{
	if (s < 0)
		fputs(" -", out);
	else
		fprintf(out, " %.1f", s);
}

static unsigned lifetime_data(FILE *out, const struct nr_report *r)
{
	unsigned devices = 0;

	for (size_t i = 0; i < r->nrows && devices < MAX_SERIES; i++) {
		const struct nr_row *row = &r->rows[i];

		if (row->alive_s[0] < 0 && row->dead_s[0] < 0 && row->alive_s[1] < 0 &&
		    row->dead_s[1] < 0)
			continue;
		fprintf(out, "%u ", devices++);
		nr_plot_string(out, nr_row_name(row));
		for (int k = 0; k < 2; k++) {
			bound(out, row->alive_s[k]);
			bound(out, row->dead_s[k]);
		}
		fputc('\n', out);
	}
	return devices;
}

/* A heat map cell per device and technique tried. */
static unsigned traversal_data(FILE *out, const struct nr_report *r)
{
	const char *tech[MAX_TECHNIQUES];
	unsigned ntech = 0, devices = 0, cells = 0;

	for (size_t i = 0; i < r->nrows && devices < MAX_SERIES; i++) {
		const struct nr_row *row = &r->rows[i];
		bool any = false;

		for (unsigned p = 0; p < row->npunch; p++) {
			const struct nr_punch *t = &row->punch[p];
			unsigned c = 0;

			unsigned long started;

			while (c < ntech && strcmp(tech[c], t->technique))
				c++;
			/* Counts that do not add up are left out, as in the matrix. */
			if (nr_outcome_of(t) == NR_OUT_INCONSISTENT ||
			    (c == ntech && ntech == MAX_TECHNIQUES))
				continue;
			if (c == ntech)
				tech[ntech++] = t->technique;
			/* Of the trials that started, as natprobe and the matrix
			 * count; -1 when none did (no rate, not 0%). */
			started = (unsigned long)(t->trials - t->setup_failed);
			fprintf(out, "%u %u %.1f %lu ", c, devices,
				started ? 100.0 * (double)t->successes / (double)started : -1.0,
				started);
			nr_plot_string(out, t->technique);
			fputc(' ', out);
			nr_plot_string(out, nr_row_name(row));
			fputc('\n', out);
			any = true;
			cells++;
		}
		devices += any;
	}
	return cells;
}

/* The traversal matrix: a cell per NAT pair (column) and technique (row)
 * over every record; rate -1 where no trial started. */
static unsigned matrix_data(FILE *out, const struct nr_report *r)
{
	const struct nr_tally *t = r->survey->matrix;
	unsigned cells = 0;
	char expected[32];

	for (unsigned p = 0; p < t->nrows; p++) {
		for (unsigned k = 0; k < t->ntechs; k++) {
			const struct nr_cell *c = &t->cell[p][k];
			unsigned long started = nr_cell_started(c);

			if (!c->records)
				continue;
			fprintf(out, "%u %u %.1f %lu %lu %lu %lu %d ", p, k,
				started ? 100.0 * (double)c->successes / (double)started : -1.0,
				started, c->successes, c->trials, c->setup_failed,
				c->contradicts > 0);
			nr_plot_string(out, t->tech[k]);
			fputc(' ', out);
			nr_plot_string(out, t->row[p]);
			nr_cell_expected(c, expected, sizeof(expected));
			fputc(' ', out);
			nr_plot_string(out, expected);
			fputc('\n', out);
			cells++;
		}
	}
	return cells;
}

static unsigned connect_data(FILE *out, const struct nr_report *r)
{
	unsigned series = 0;
	char title[NR_VALUE_LEN * 4];

	for (size_t i = 0; i < r->nrows; i++) {
		const struct nr_row *row = &r->rows[i];

		for (unsigned p = 0; p < row->npunch && series < MAX_SERIES; p++) {
			const struct nr_punch *t = &row->punch[p];

			if (!t->nconnect)
				continue;
			snprintf(title, sizeof(title), "%s %s", nr_row_name(row), t->technique);
			fputs(series ? "\n\n" : "", out);
			nr_plot_string(out, title);
			fputc('\n', out);
			for (unsigned k = 0; k < t->nconnect; k++)
				fprintf(out, "%.1f\n", (double)row->connect_ms[p][k]);
			series++;
		}
	}
	return series;
}

static const struct plot plots[NR_FIGURES] = {
    {"survey", "Share of each verdict over all records", survey_data},
    {"ports", "Port allocation: public port by probe", ports_data},
    {"lifetime", "UDP binding lifetime: last alive and first dead idle time", lifetime_data},
    {"traversal", "Traversal success rate by device and technique", traversal_data},
    {"matrix", "Traversal matrix: success rate by NAT pair and technique, contradictions framed",
     matrix_data},
    {"connect", "Traversal connect time (CDF of successful trials)", connect_data},
};

/* ---- files ---- */

static int make_dirs(const char *dir)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);
	struct stat st;

	if (n >= sizeof(path))
		return -1;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(path, 0755) && errno != EEXIST)
		return -1;
	if (stat(path, &st) || !S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* dir/NAME.EXT in path; false when it does not fit. */
static bool path_in(char path[PATH_MAX], const char *dir, const char *name, const char *ext)
{
	return (size_t)snprintf(path, PATH_MAX, "%s/%s%s", dir, name, ext) < PATH_MAX;
}

static FILE *open_in(const char *dir, const char *name, const char *ext, const char *mode)
{
	char path[PATH_MAX];

	return path_in(path, dir, name, ext) ? fopen(path, mode) : NULL;
}

static void remove_in(const char *dir, const char *name, const char *ext)
{
	char path[PATH_MAX];

	if (path_in(path, dir, name, ext))
		unlink(path);
}

static bool nonempty_in(const char *dir, const char *name, const char *ext)
{
	char path[PATH_MAX];
	struct stat st;

	return path_in(path, dir, name, ext) && !stat(path, &st) && st.st_size > 0;
}

static const char *script_of(const char *name)
{
	char file[64];

	snprintf(file, sizeof(file), "%s.gp", name);
	for (unsigned i = 0; i < nr_nscripts; i++)
		if (!strcmp(nr_scripts[i].name, file))
			return nr_scripts[i].text;
	return NULL;
}

/* ---- gnuplot ---- */

/* gnuplot SCRIPT in dir, its output to dir/gnuplot.log, bounded in time:
 * gnuplot's exit status, 127 when it could not be run, -1 when it was
 * killed (by a signal, or here after NR_PLOT_SECONDS). */
static int run_gnuplot(const char *gnuplot, const char *dir, const char *script)
{
	const struct timespec tick = {0, 50 * 1000 * 1000};
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd;

		if (chdir(dir))
			_exit(126);
		fd = open("gnuplot.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execlp(gnuplot, gnuplot, script, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < NR_PLOT_SECONDS * 20; i++) {
		pid_t got = waitpid(pid, &status, WNOHANG);

		if (got == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (got < 0 && errno != EINTR)
			return -1;
		nanosleep(&tick, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static int draw(struct nr_report *r, const struct plot *p, const char *dir, const char *gnuplot,
		FILE *err)
{
	const char *text = script_of(p->name);
	char script[64];
	FILE *f;
	unsigned n;
	int rc;

	f = open_in(dir, p->name, ".dat", "w");
	if (!f || !text) {
		fprintf(err, "natreport: --plots %s: cannot write %s.dat: %s\n", dir, p->name,
			text ? strerror(errno) : "no script built in");
		if (f)
			fclose(f);
		return -1;
	}
	n = p->data(f, r);
	if (ferror(f) | fclose(f)) {
		fprintf(err, "natreport: --plots %s: cannot write %s.dat\n", dir, p->name);
		return -1;
	}
	if (!n) { /* nothing to draw: no stale figure either */
		remove_in(dir, p->name, ".dat");
		remove_in(dir, p->name, ".gp");
		remove_in(dir, p->name, ".png");
		remove_in(dir, p->name, ".svg");
		return 0;
	}
	snprintf(script, sizeof(script), "%s.gp", p->name);
	f = open_in(dir, p->name, ".gp", "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		fprintf(err, "natreport: --plots %s: cannot write %s\n", dir, script);
		return -1;
	}
	remove_in(dir, p->name, ".png");
	remove_in(dir, p->name, ".svg");
	rc = run_gnuplot(gnuplot, dir, script);
	if (rc == 127) {
		fprintf(err,
			"natreport: --plots %s: cannot run '%s' (install gnuplot: scripts/deps)\n",
			dir, gnuplot);
		return -2;
	}
	if (rc < 0) {
		fprintf(err, "natreport: --plots %s: gnuplot %s stopped (killed, or over %d s)\n",
			dir, script, NR_PLOT_SECONDS);
		return -1;
	}
	if (rc || !nonempty_in(dir, p->name, ".png") || !nonempty_in(dir, p->name, ".svg")) {
		fprintf(err,
			"natreport: --plots %s: gnuplot %s failed; its messages are in "
			"%s/gnuplot.log\n",
			dir, script, dir);
		return -1;
	}
	r->figures[r->nfigures++] = (struct nr_figure){p->name, p->title};
	return 0;
}

int nr_plots_write(struct nr_report *r, const char *dir, const char *gnuplot, FILE *err)
{
	int rc = 0;

	r->nfigures = 0;
	if (make_dirs(dir)) {
		fprintf(err, "natreport: --plots %s: cannot make the folder: %s\n", dir,
			strerror(errno));
		return -1;
	}
	remove_in(dir, "gnuplot", ".log");
	for (size_t i = 0; i < NR_FIGURES; i++) {
		int d = draw(r, &plots[i], dir, gnuplot, err);

		if (d)
			rc = -1;
		if (d == -2)
			break; /* no gnuplot: the others would fail alike */
	}
	if (!nonempty_in(dir, "gnuplot", ".log"))
		remove_in(dir, "gnuplot", ".log");
	return rc;
}
