#include "counters.h"

#include <errno.h>
#include <string.h>

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "counters' flags are set in signal handlers");

volatile atomic_int counters_stop, counters_report;

static void add(struct counters *c, const char *reason, unsigned long n)
{
	for (size_t i = 0; i < c->n; i++) {
		if (c->row[i].reason == reason || !strcmp(c->row[i].reason, reason)) {
			c->row[i].count += n;
			return;
		}
	}
	if (c->n == COUNTERS_MAX) {
		c->other += n;
		return;
	}
	c->row[c->n].reason = reason;
	c->row[c->n++].count = n;
}

void counters_add(struct counters *c, const char *reason)
{
	add(c, reason, 1);
}

void counters_merge(struct counters *into, const struct counters *src)
{
	for (size_t i = 0; i < src->n; i++)
		add(into, src->row[i].reason, src->row[i].count);
	into->other += src->other;
}

unsigned long counters_get(const struct counters *c, const char *reason)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->row[i].reason, reason))
			return c->row[i].count;
	return 0;
}

void counters_print(const struct counters *c, FILE *out, const char *program)
{
	for (size_t i = 0; i < c->n; i++)
		fprintf(out, "%s count reason=\"%s\" packets=%lu\n", program, c->row[i].reason,
			c->row[i].count);
	if (c->other)
		fprintf(out, "%s count reason=\"other reasons\" packets=%lu\n", program, c->other);
	fflush(out);
}

void counters_prometheus(const struct counters *c, FILE *out, const char *metric, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s counter\n", metric, help, metric);
	/* Reasons are the programs' own static strings: no quote or backslash. */
	for (size_t i = 0; i < c->n; i++)
		fprintf(out, "%s{reason=\"%s\"} %lu\n", metric, c->row[i].reason, c->row[i].count);
	fprintf(out, "%s{reason=\"other reasons\"} %lu\n", metric, c->other);
}

static void on_stop(int sig)
{
	(void)sig;
	counters_stop = 1;
}

static void on_report(int sig)
{
	(void)sig;
	counters_report = 1;
}

void counters_signals(void)
{
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	signal(SIGUSR1, on_report);
}
