/*
 * Counters by reason, for the programs' "what happened to each packet"
 * reports: answered, dropped because attr-overrun, filtered, ... Reasons are
 * static strings; a reason past the table's size is counted under "other
 * reasons", never lost. SIGUSR1 asks for a report, SIGTERM/SIGINT for a stop.
 */
#ifndef NATLAB_COUNTERS_H
#define NATLAB_COUNTERS_H

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>

#define COUNTERS_MAX 48

struct counters {
	struct {
		const char *reason;
		unsigned long count;
	} row[COUNTERS_MAX];
	size_t n;
	unsigned long other; /* reasons that found the table full */
};

void counters_add(struct counters *c, const char *reason);
/* Add every reason of src into into (natreflector's workers, summed). */
void counters_merge(struct counters *into, const struct counters *src);
unsigned long counters_get(const struct counters *c, const char *reason);
/* One line per reason: "PROGRAM count reason="..." packets=N". */
void counters_print(const struct counters *c, FILE *out, const char *program);

/* Prometheus' text format: "# HELP metric help", "# TYPE metric counter",
 * then metric{reason="..."} N per reason. */
void counters_prometheus(const struct counters *c, FILE *out, const char *metric, const char *help);

/* Set by SIGTERM/SIGINT and by SIGUSR1 once counters_signals() has run.
 * Atomic, not just sig_atomic_t: natreflector's worker threads read them
 * too (a lock-free atomic is as safe in a signal handler). */
extern volatile atomic_int counters_stop, counters_report;
void counters_signals(void);

#endif
