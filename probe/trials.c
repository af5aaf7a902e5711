#include "trials.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The nearest-rank percentile of n sorted values. */
static double percentile(const double *v, size_t n, double p)
{
	size_t rank = (size_t)ceil(p / 100.0 * (double)n);

	return v[rank ? rank - 1 : 0];
}

static void connect_times(const struct trial_row *rows, size_t n, struct trial_summary *s)
{
	double *ms = malloc((s->successes ? s->successes : 1) * sizeof(*ms));
	unsigned k = 0, first = 0, paths[4] = {0};

	s->median_ms = s->p95_ms = s->first_round_share = -1;
	for (size_t i = 0; ms && i < n; i++) {
		if (rows[i].res.outcome != PUNCH_SUCCESS)
			continue;
		ms[k++] = (double)rows[i].res.connect_us / 1000.0;
		first += rows[i].res.rounds <= 1;
		paths[rows[i].res.path & 3]++;
	}
	if (k) {
		qsort(ms, k, sizeof(*ms), by_value);
		s->median_ms = percentile(ms, k, 50);
		s->p95_ms = percentile(ms, k, 95);
		s->first_round_share = (double)first / k;
		for (int p = 1; p < 4; p++)
			if (paths[p] > paths[s->path])
				s->path = (enum punch_path)p;
	}
	free(ms);
}

void trials_summarise(const struct trial_row *rows, size_t n, struct trial_summary *s)
{
	unsigned started;
	struct punch_result imp = {0};

	*s = (struct trial_summary){.trials = (unsigned)n, .path = PUNCH_PATH_PUBLIC};
	for (size_t i = 0; i < n; i++) {
		s->successes += rows[i].res.outcome == PUNCH_SUCCESS;
		s->setup_failed += rows[i].res.outcome == PUNCH_SETUP_FAILED;
		punch_add_impostors(&imp, &rows[i].res);
	}
	s->impostors = imp.impostors;
	memcpy(s->imp, imp.imp, sizeof(s->imp));
	s->nimp = imp.nimp;
	started = s->trials - s->setup_failed;
	s->rate = s->ci_lo = s->ci_hi = -1;
	if (started) {
		s->rate = (double)s->successes / started;
		stats_wilson95(s->successes, started, &s->ci_lo, &s->ci_hi);
	}
	connect_times(rows, n, s);
}

const char *trials_setup_failure(uint64_t last_answer, uint64_t deadline, uint64_t interval_us,
				 unsigned silent)
{
	if (!last_answer)
		return "no answer from the reflector's rendezvous";
	/* (An answer read just after the deadline is no silence.) */
	if (last_answer + silent * interval_us < deadline)
		return "the reflector's rendezvous answered, then fell silent";
	return "the other probe never arrived at the rendezvous";
}
