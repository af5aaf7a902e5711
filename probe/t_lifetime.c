/*
 * Binding lifetime (RFC 4787 section 4.3, REQ-5 and REQ-6; RFC 5780 section
 * 4.6): after how long without traffic does a mapping die, for a flow that
 * only ever sent, and for one with traffic both ways; and does traffic from
 * outside keep a mapping alive. Opt in (--lifetime[=MAX_S]): it takes about
 * twice the lifetime.
 *
 * The measuring must not refresh what it measures, so each trial is a
 * mapping of its own, looked at exactly once:
 *
 *   make   a fresh socket S asks the primary endpoint, with RESPONSE-PORT
 *          set to the mapped port of a checker socket C, so the answer
 *          (which names S's mapping M) comes in through C and S's flow stays
 *          outbound-only; or, for a bidirectional flow, S asks twice and
 *          gets both answers, 2.5 s apart (Linux's conntrack promotes a flow
 *          still active after 2 s to its longer timeout);
 *   wait   T seconds, S silent;
 *   look   C asks the primary endpoint with RESPONSE-PORT = M's port: the
 *          answer reaches S only if M is alive. Repeated as any question
 *          whose answer may rightly not come, so loss is not death.
 *
 * Trials at T = 1, 2, 4, ... MAX_S run side by side; once one dies and every
 * shorter one lived, the longer ones are dropped, and trials spread between
 * the last alive and the first dead narrow it to a tenth (or 1 s).
 * Lifetimes that fall out of order (dead at T, alive later) are
 * inconclusive. With the outbound-only lifetime L known, one more trial
 * looks at its mapping every 0.6 L: only inbound packets then reach it, so
 * if it is still alive at 2.4 L, inbound traffic refreshes mappings.
 *
 * C and S must share one public address (RESPONSE-PORT keeps the address):
 * under arbitrary pooling the trials get no answer and say so.
 */
#include <stdio.h>

#include "addr.h"
#include "probe/tests.h"

#define MAX_TRIALS     64
#define REFINE_POINTS  6
#define REFINE_ROUNDS  3
#define BIDI_GAP_US    2500000u
#define US             1000000.0
#define CHECKER_TAG    (MAX_TRIALS * 4)
#define NKINDS         2
#define REFRESH_CHECKS 4

enum kind { OUTBOUND, BIDIRECTIONAL, REFRESH };
enum step { MAKE, MAKE2, WAIT, LOOK }; /* tag = trial * 4 + step */
enum trial_state { PENDING, ALIVE, DEAD, UNKNOWN, DROPPED };

struct trial {
	enum kind kind;
	double idle_s; /* for REFRESH: the interval between looks */
	int sock;
	uint16_t port; /* of its mapping */
	unsigned looks;
	enum trial_state state;
};

struct search {
	double lo, hi; /* alive after lo s, dead after hi s (hi < 0: not yet) */
	unsigned round, pending;
	bool done, disorder, unknown;
};

struct state {
	int checker;
	uint16_t checker_port;
	struct sockaddr_storage checker_local;
	bool started, refresh_started;
	struct trial trial[MAX_TRIALS];
	unsigned ntrials;
	struct search search[NKINDS];
	int refresh; /* the refresh trial's index, or -1 */
	enum probe_bool refreshes;
	const char *why;
	double max_s;
};

static void fail(struct state *s, const char *why)
{
	if (!s->why)
		s->why = why;
}

/* ---- trials ---- */

static void launch(struct probe_run *r, struct state *s, enum kind kind, double idle_s)
{
	struct trial *t;
	int i = (int)s->ntrials;

	if (s->ntrials == MAX_TRIALS) {
		fail(s, "out of trials");
		return;
	}
	t = &s->trial[s->ntrials++];
	*t = (struct trial){.kind = kind, .idle_s = idle_s};
	t->sock = probe_socket(r, NULL);
	if (kind != REFRESH)
		s->search[kind].pending++;
	if (t->sock < 0 ||
	    (kind == BIDIRECTIONAL ? probe_ask(r, i * 4 + MAKE, t->sock, PROBE_PP, 0, false)
				   : probe_ask_via(r, i * 4 + MAKE, t->sock, PROBE_PP,
						   s->checker_port, s->checker, false))) {
		t->state = UNKNOWN;
		fail(s, "could not open every socket");
		if (kind != REFRESH)
			s->search[kind].pending--;
	}
}

static void batch_first(struct probe_run *r, struct state *s, enum kind kind)
{
	double max = s->max_s;

	for (double t = 1; t < max; t *= 2)
		launch(r, s, kind, t);
	launch(r, s, kind, max);
}

static void batch_between(struct probe_run *r, struct state *s, enum kind kind)
{
	struct search *q = &s->search[kind];

	for (int k = 1; k <= REFINE_POINTS; k++)
		launch(r, s, kind, q->lo + (q->hi - q->lo) * k / (REFINE_POINTS + 1));
}

static void look(struct probe_run *r, struct state *s, int i)
{
	struct trial *t = &s->trial[i];

	if (probe_ask_via(r, i * 4 + LOOK, s->checker, PROBE_PP, t->port, t->sock, true)) {
		t->state = UNKNOWN;
		fail(s, "could not ask every question");
	}
}

/* ---- the search ---- */

static void progress(struct probe_run *r, const struct state *s, enum kind kind)
{
	const struct search *q = &s->search[kind];
	char line[160];

	snprintf(line, sizeof(line),
		 "lifetime, %s flows: alive after %.1f s, gone after %.1f s; narrowing",
		 kind == OUTBOUND ? "outbound-only" : "bidirectional", q->lo, q->hi);
	probe_progress(r, line);
}

static void start_refresh(struct probe_run *r, struct state *s);

/* Read the settled trials of a kind; drop what is no longer needed, or
 * narrow, or finish. */
static void review(struct probe_run *r, struct state *s, enum kind kind)
{
	struct search *q = &s->search[kind];
	double first_dead = -1, last_alive = q->lo;
	bool open_below = false;

	for (unsigned i = 0; i < s->ntrials; i++) {
		const struct trial *t = &s->trial[i];

		if (t->kind != kind)
			continue;
		if (t->state == DEAD && (first_dead < 0 || t->idle_s < first_dead))
			first_dead = t->idle_s;
		if (t->state == ALIVE && t->idle_s > last_alive)
			last_alive = t->idle_s;
	}
	for (unsigned i = 0; i < s->ntrials; i++) {
		const struct trial *t = &s->trial[i];

		if (t->kind == kind && t->state == PENDING && first_dead >= 0 &&
		    t->idle_s < first_dead)
			open_below = true;
		if (t->kind == kind && t->state == UNKNOWN)
			q->unknown = true;
	}
	if (first_dead >= 0 && last_alive > first_dead)
		q->disorder = true;
	if (first_dead < 0 || open_below || q->disorder) {
		if (!q->pending)
			q->done = true; /* never died (alive after MAX_S), or out of order */
		if (first_dead < 0)
			q->lo = last_alive;
		return;
	}
	/* Dead at first_dead, alive everywhere below: the rest is not needed. */
	for (unsigned i = 0; i < s->ntrials; i++) {
		struct trial *t = &s->trial[i];

		if (t->kind == kind && t->state == PENDING) {
			for (int step = MAKE; step <= LOOK; step++)
				probe_cancel(r, (int)i * 4 + step);
			t->state = DROPPED;
			q->pending--;
		}
	}
	q->lo = last_alive;
	q->hi = first_dead;
	if (q->hi - q->lo <= (q->lo / 10 > 1 ? q->lo / 10 : 1) || q->round == REFINE_ROUNDS) {
		q->done = true;
		if (kind == OUTBOUND)
			start_refresh(r, s);
		return;
	}
	q->round++;
	progress(r, s, kind);
	/* The checker's own mapping may have aged meanwhile: ask again first. */
	probe_ask(r, CHECKER_TAG + 1 + (int)kind, s->checker, PROBE_PP, 0, false);
}

static void start_refresh(struct probe_run *r, struct state *s)
{
	const struct search *q = &s->search[OUTBOUND];

	if (s->refresh_started || q->lo < 1 || q->hi < 0 || q->disorder)
		return;
	s->refresh_started = true;
	s->refresh = (int)s->ntrials;
	launch(r, s, REFRESH, 0.6 * q->lo);
}

static void settle_trial(struct probe_run *r, struct state *s, int i, enum trial_state st)
{
	struct trial *t = &s->trial[i];

	if (t->state != PENDING)
		return;
	t->state = st;
	if (t->kind == REFRESH) {
		/* Alive at 2.4 L: only inbound packets can have kept it. */
		if (st == ALIVE && t->looks < REFRESH_CHECKS) {
			t->state = PENDING;
			probe_timer(r, i * 4 + WAIT, (uint64_t)(t->idle_s * US));
		} else if (st == ALIVE) {
			s->refreshes = PROBE_YES;
		} else if (st == DEAD && t->looks > 1) {
			s->refreshes = PROBE_NO;
		}
		return;
	}
	s->search[t->kind].pending--;
	review(r, s, t->kind);
}

/* ---- callbacks ---- */

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;

	s->refresh = -1;
	s->max_s = probe_lifetime_max_s(r);
	if (s->max_s < 2) {
		fail(s, "no bound for the search (--lifetime=MAX_S)");
		return;
	}
	for (int k = 0; k < NKINDS; k++)
		s->search[k].hi = -1;
	s->checker = probe_socket(r, &s->checker_local);
	if (s->checker < 0 || probe_ask(r, CHECKER_TAG, s->checker, PROBE_PP, 0, false))
		fail(s, "could not open every socket");
}

static void on_checker(struct probe_run *r, struct state *s, int tag, const struct probe_answer *a)
{
	s->checker_port = addr_port((const struct sockaddr *)&a->mapped);
	if (addr_equal((const struct sockaddr *)&a->mapped,
		       (const struct sockaddr *)&s->checker_local)) {
		fail(s, "no NAT: no mapping to time");
		return;
	}
	if (tag == CHECKER_TAG && !s->started) {
		s->started = true;
		char line[96];

		snprintf(line, sizeof(line),
			 "lifetime: trials up to %u s idle, about twice the lifetime in all",
			 probe_lifetime_max_s(r));
		probe_progress(r, line);
		batch_first(r, s, OUTBOUND);
		batch_first(r, s, BIDIRECTIONAL);
	} else if (tag > CHECKER_TAG) {
		batch_between(r, s, (enum kind)(tag - CHECKER_TAG - 1));
	}
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;
	int i = tag / 4;
	struct trial *t;

	if (tag >= CHECKER_TAG) {
		on_checker(r, s, tag, a);
		return;
	}
	t = &s->trial[i];
	switch (tag % 4) {
	case MAKE:
		t->port = addr_port((const struct sockaddr *)&a->mapped);
		if (t->kind == BIDIRECTIONAL)
			probe_timer(r, i * 4 + MAKE2, BIDI_GAP_US);
		else
			probe_timer(r, i * 4 + WAIT, (uint64_t)(t->idle_s * US));
		break;
	case MAKE2:
		if (addr_port((const struct sockaddr *)&a->mapped) != t->port) {
			settle_trial(r, s, i, UNKNOWN);
			fail(s, "a mapping changed within 2.5 s: the lifetime is shorter than "
				"the bidirectional trial");
		} else {
			probe_timer(r, i * 4 + WAIT, (uint64_t)(t->idle_s * US));
		}
		break;
	case LOOK:
		settle_trial(r, s, i, ALIVE);
		break;
	}
}

static void on_timer(struct probe_run *r, void *state, int tag)
{
	struct state *s = state;
	struct trial *t = &s->trial[tag / 4];

	if (tag % 4 == MAKE2) {
		probe_ask(r, tag, t->sock, PROBE_PP, 0, false);
		return;
	}
	t->looks++;
	look(r, s, tag / 4);
}

static void on_silence(struct probe_run *r, void *state, int tag, unsigned sends)
{
	struct state *s = state;

	(void)sends;
	if (tag >= CHECKER_TAG) {
		fail(s, "no answer to the checker socket");
		return;
	}
	if (tag % 4 != LOOK) {
		settle_trial(r, s, tag / 4, UNKNOWN);
		/* The answer to a RESPONSE-PORT question comes in through the
		 * checker: a reflector without RFC 5780, or two public addresses. */
		fail(s, s->trial[tag / 4].kind == BIDIRECTIONAL
			    ? "no answer to a trial's question"
			    : "no answer sent to another port (RESPONSE-PORT): the reflector "
			      "lacks it, or the NAT put the sockets on different addresses");
		return;
	}
	settle_trial(r, s, tag / 4, probe_silence_trusted(r) ? DEAD : UNKNOWN);
	if (!probe_silence_trusted(r))
		fail(s, "too much loss to read a missing answer as a dead mapping");
}

/* ---- the verdict ---- */

static void write_kind(const struct state *s, enum kind kind, struct probe_lifetime *out,
		       const char **why)
{
	const struct search *q = &s->search[kind];

	out->lo_s = q->lo;
	out->hi_s = q->hi;
	if (q->disorder)
		*why = "the mappings died out of order: dead after a shorter idle time than one "
		       "that lived";
	else if (!q->done || (q->hi < 0 && q->lo < s->max_s))
		*why = s->why ? s->why : "the search did not finish";
	else
		out->known = true;
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *s = state;
	const char *why = probe_run_note(r);

	res->lifetime_tested = true;
	res->lifetime_max_s = probe_lifetime_max_s(r);
	if (!why && !s->checker_port)
		why = s->why ? s->why : "no answer from the reflector";
	if (why) {
		snprintf(res->lifetime_reason, sizeof(res->lifetime_reason), "%s", why);
		return;
	}
	write_kind(s, OUTBOUND, &res->lifetime_outbound, &why);
	write_kind(s, BIDIRECTIONAL, &res->lifetime_bidirectional, &why);
	if (res->lifetime_outbound.known)
		res->inbound_refresh = s->refreshes;
	if (res->lifetime_outbound.known && res->lifetime_bidirectional.known)
		res->binding_lifetime_s =
		    res->lifetime_outbound.lo_s < res->lifetime_bidirectional.lo_s
			? res->lifetime_outbound.lo_s
			: res->lifetime_bidirectional.lo_s;
	if (why)
		snprintf(res->lifetime_reason, sizeof(res->lifetime_reason), "%s", why);
}

const struct probe_test probe_test_lifetime = {
    .name = "lifetime",
    .help = "binding lifetime (RFC 4787 REQ-5, REQ-6), with --lifetime: idle time after which "
	    "outbound-only and bidirectional mappings die; whether inbound traffic refreshes",
    .state_size = sizeof(struct state),
    .opt_in = true,
    .start = start,
    .on_answer = on_answer,
    .on_silence = on_silence,
    .on_timer = on_timer,
    .finish = finish,
};
