/*
 * natreport's figures: for each figure a data file, the gnuplot script that
 * draws it (analysis/plots/NAME.gp, built into natreport) copied beside it,
 * and gnuplot run on the script, giving NAME.png and NAME.svg. A figure
 * whose data the records lack (no traversal trials, no lifetimes) is left
 * out, not drawn empty.
 */
#ifndef NATLAB_ANALYSIS_PLOTS_H
#define NATLAB_ANALYSIS_PLOTS_H

#include <stdio.h>

#include "analysis/report.h"

#define NR_PLOT_SECONDS 60 /* gnuplot's time per script; then it is killed */

/* The scripts, from analysis/plots/NAME.gp (build/.../plotscripts.c). */
struct nr_script {
	const char *name; /* "ports.gp" */
	const char *text;
};

extern const struct nr_script nr_scripts[];
extern const unsigned nr_nscripts;

/*
 * Write the figures of r into dir (created when missing) with gnuplot (a
 * program name or path) and list them in r->figures. Problems are told on
 * err, prefixed "natreport: --plots DIR:". 0 when every figure with data
 * was drawn, -1 otherwise (r->figures then lists those that were).
 */
int nr_plots_write(struct nr_report *r, const char *dir, const char *gnuplot, FILE *err);

/* Device names in data files: in double quotes, which they cannot hold
 * (made '), with backslashes doubled, as gnuplot reads escapes there. */
void nr_plot_string(FILE *out, const char *s);

#endif
