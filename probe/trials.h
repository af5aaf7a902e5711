/*
 * Traversal trials counted: one technique's trials into the figures the
 * record carries (success rate with its 95% interval, connect times, the
 * share won in the first round). Pure.
 */
#ifndef NATLAB_PROBE_TRIALS_H
#define NATLAB_PROBE_TRIALS_H

#include <stddef.h>
#include <stdint.h>

#include "probe/punch.h"
#include "probe/portmap.h"
#include "probe/predict.h"
#include "probe/punchtcp.h"

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
	/* A TCP trial's own (punchtcp.h): its connects in order, which of this
	 * side's moves won, connections accepted, the first SYN's TTL. */
	bool tcp;
	struct ptcp_attempt att[PTCP_MAX_ATTEMPTS];
	size_t natt;
	enum ptcp_won won;
	unsigned accepted, open_ttl;
	/* The port-mapping technique's: this side's mapping (pm.asked: the
	 * technique ran), both sides' NATLAB-PORTMAP, and who waited. */
	struct portmap_proto_result pm;
	uint8_t pm_mine[PREDICT_PORTMAP_WIRE_LEN], pm_theirs[PREDICT_PORTMAP_WIRE_LEN];
	bool pm_theirs_known, pm_waited;
};

struct trial_summary {
	unsigned trials, successes, setup_failed;
	/* Over the trials that started (setup failures are not punch failures). */
	double rate, ci_lo, ci_hi; /* Wilson score interval, 95% */
	double median_ms, p95_ms;  /* of successes; -1 when none */
	double first_round_share;  /* successes won before the second round; -1 none */
	enum punch_path path;      /* the path most successes took */
	/* Impostors' packets over the trials, and the first endpoints. */
	unsigned impostors;
	struct punch_impostor imp[PUNCH_MAX_IMPOSTORS];
	size_t nimp;
};

void trials_summarise(const struct trial_row *rows, size_t n, struct trial_summary *s);

/*
 * Why a trial's two probes did not meet, when the reflector did not refuse
 * (that has its own reason): never answered (last_answer 0); answered, then
 * fell silent (no answer for `silent` registrations of interval_us before
 * the deadline: loss does not do that, the reflector went away); or kept
 * answering while the other probe never came. Times in microseconds.
 */
const char *trials_setup_failure(uint64_t last_answer, uint64_t deadline, uint64_t interval_us,
				 unsigned silent);

#endif
