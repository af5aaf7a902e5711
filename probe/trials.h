/*
 * Traversal trials counted: one technique's trials into the figures the
 * record carries (success rate with its 95% interval, connect times, the
 * share won in the first round). Pure.
 */
#ifndef NATLAB_PROBE_TRIALS_H
#define NATLAB_PROBE_TRIALS_H

#include <stddef.h>

#include "probe/punch.h"

#define TRIAL_REASON_LEN 128

/* One trial, as this probe saw it. */
struct trial_row {
	struct punch_result res; /* outcome PUNCH_SETUP_FAILED: see reason */
	char reason[TRIAL_REASON_LEN];
	/* The endpoints its rounds went to, in order, and the guessed ports
	 * sprayed besides (birthday punching's easy side). */
	struct punch_candidate tried[PUNCH_MAX_CANDIDATES];
	size_t ntried;
	size_t sprayed;
};

struct trial_summary {
	unsigned trials, successes, setup_failed;
	/* Over the trials that started (setup failures are not punch failures). */
	double rate, ci_lo, ci_hi; /* Wilson score interval, 95% */
	double median_ms, p95_ms;  /* of successes; -1 when none */
	double first_round_share;  /* successes won before the second round; -1 none */
	enum punch_path path;      /* the path most successes took */
};

void trials_summarise(const struct trial_row *rows, size_t n, struct trial_summary *s);

#endif
