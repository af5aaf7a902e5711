/*
 * The established-idle timeout of a TCP connection (RFC 5382 REQ-5: not
 * under 2 h 4 min), opt-in (--tcp-lifetime=MAX_S): it takes up to MAX_S.
 *
 * Idle checks at 2, 4, 8, ... seconds and MAX_S, each on a connection of
 * its own to the primary endpoint (a connection's check is a packet, which
 * would refresh the NAT's timer: one check each). Each connection asks its
 * mapping, has the reflector keep it (KEEP: natreflector would close it
 * after its own idle limit), then stays idle until its check: a Binding
 * over it. Answered from the same mapping: the NAT kept the connection that
 * long (alive). Not answered, or reset: it did not (dead); the checks after
 * it are then not waited for. The timeout lies between the longest alive
 * and the shortest dead; neither is a verdict where loss was too high to
 * read an unanswered Binding as a dead connection.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "probe/tests.h"

#define FIRST_S 2
#define SLOTS   8 /* tags per check */

enum { TAG_CONN, TAG_MAP, TAG_KEEP, TAG_IDLE, TAG_CHECK };
enum fate { PENDING, ALIVE, DEAD, UNKNOWN };

struct check {
	int conn;
	unsigned at_s;
	struct sockaddr_storage mapped;
	enum fate fate;
	bool idle; /* its idle time is running */
};

struct state {
	struct check c[PROBE_TCP_LIFETIME_CHECKS];
	unsigned n;
	char note[PROBE_REASON_LEN];
};

static void note(struct state *s, const char *why)
{
	if (!s->note[0])
		snprintf(s->note, sizeof(s->note), "%s", why);
}

static void settle(struct probe_run *r, struct state *s, unsigned k, enum fate f)
{
	struct check *c = &s->c[k];

	if (c->fate != PENDING)
		return;
	c->fate = f;
	probe_cancel(r, (int)(k * SLOTS + TAG_IDLE));
	probe_tcp_close(r, c->conn);
	c->conn = -1;
	/* Dead after k's idle time: the longer ones need not be waited for. */
	for (unsigned j = k + 1; f == DEAD && j < s->n; j++)
		settle(r, s, j, UNKNOWN);
}

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;
	unsigned max = probe_tcp_lifetime_max_s(r);

	if (!probe_have_session(r))
		return;
	for (unsigned at = FIRST_S; s->n < PROBE_TCP_LIFETIME_CHECKS; at *= 2) {
		s->c[s->n++].at_s = at < max ? at : max;
		if (at >= max)
			break;
	}
	for (unsigned k = 0; k < s->n; k++) {
		s->c[k].conn = probe_tcp_connect(r, (int)(k * SLOTS + TAG_CONN), 0, PROBE_PP, NULL);
		if (s->c[k].conn < 0) {
			note(s, "could not connect to the reflector's primary endpoint");
			settle(r, s, k, UNKNOWN);
		}
	}
	probe_progress(r, "tcp-lifetime: idle connections, checked as they come due");
}

static void on_tcp(struct probe_run *r, void *state, int tag, int conn, enum probe_tcp_event ev,
		   int accepted, const struct sockaddr *peer)
{
	struct state *s = state;
	unsigned k = (unsigned)tag / SLOTS;
	struct check *c = k < s->n ? &s->c[k] : NULL;

	(void)accepted;
	(void)peer;
	if (!c || c->fate != PENDING || conn != c->conn)
		return;
	if (ev == PROBE_TCP_CONNECTED) {
		if (probe_tcp_ask(r, (int)(k * SLOTS + TAG_MAP), c->conn))
			settle(r, s, k, UNKNOWN);
		return;
	}
	/* Reset (or closed) while idle: the NAT, or a box on the way, ended it. */
	if (c->idle)
		settle(r, s, k, DEAD);
	else {
		note(s, "a connection to the reflector's primary endpoint failed");
		settle(r, s, k, UNKNOWN);
	}
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;
	unsigned k = (unsigned)tag / SLOTS;
	struct check *c = k < s->n ? &s->c[k] : NULL;

	if (!c || c->fate != PENDING)
		return;
	if (tag % SLOTS == TAG_MAP) {
		c->mapped = a->mapped;
		if (probe_tcp_order_action(r, (int)(k * SLOTS + TAG_KEEP), c->conn,
					   PROBE_ORDER_KEEP, PROBE_PP, 0, 0, NULL))
			settle(r, s, k, UNKNOWN);
	} else if (tag % SLOTS == TAG_CHECK) {
		/* Another mapping would be a new connection's: this one was not kept. */
		settle(r, s, k,
		       addr_equal((const struct sockaddr *)&a->mapped,
				  (const struct sockaddr *)&c->mapped)
			   ? ALIVE
			   : DEAD);
	}
}

static void on_observed(struct probe_run *r, void *state, int tag,
			const struct probe_observation *o)
{
	struct state *s = state;
	unsigned k = (unsigned)tag / SLOTS;
	struct check *c = k < s->n ? &s->c[k] : NULL;

	(void)o;
	if (!c || c->fate != PENDING || tag % SLOTS != TAG_KEEP)
		return;
	/* The KEEP answer is the connection's last packet: idle from now. */
	c->idle = true;
	if (probe_timer(r, (int)(k * SLOTS + TAG_IDLE), (uint64_t)c->at_s * 1000000u))
		settle(r, s, k, UNKNOWN);
}

static void on_timer(struct probe_run *r, void *state, int tag)
{
	struct state *s = state;
	unsigned k = (unsigned)tag / SLOTS;
	struct check *c = k < s->n ? &s->c[k] : NULL;
	char text[80];

	if (!c || c->fate != PENDING || tag % SLOTS != TAG_IDLE)
		return;
	snprintf(text, sizeof(text), "tcp-lifetime: checking the connection idle %u s", c->at_s);
	probe_progress(r, text);
	if (probe_tcp_ask(r, (int)(k * SLOTS + TAG_CHECK), c->conn))
		settle(r, s, k, UNKNOWN);
}

static void on_silence(struct probe_run *r, void *state, int tag, unsigned sends)
{
	struct state *s = state;
	unsigned k = (unsigned)tag / SLOTS;

	(void)sends;
	if (k >= s->n)
		return;
	if (tag % SLOTS == TAG_CHECK)
		settle(r, s, k, DEAD);
	else {
		note(s, tag % SLOTS == TAG_KEEP
			    ? "the reflector would not keep an idle connection"
			    : "the reflector did not say a connection's mapping");
		settle(r, s, k, UNKNOWN);
	}
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *s = state;
	struct probe_tcp *t = &res->tcp;

	res->tcp_tested = true;
	t->idle_tested = true;
	t->idle_max_s = probe_tcp_lifetime_max_s(r);
	t->idle_alive_s = t->idle_dead_s = -1;
	if (!probe_have_session(r)) {
		snprintf(t->idle_reason, sizeof(t->idle_reason),
			 "needs a natlab test session at the reflector (--session, --key): it "
			 "closes idle connections otherwise");
		return;
	}
	t->idle_nchecks = s->n;
	for (unsigned k = 0; k < s->n; k++) {
		t->idle_checks[k] = s->c[k].at_s;
		t->idle_fates[k] = (uint8_t)s->c[k].fate;
		if (s->c[k].fate == ALIVE && (double)s->c[k].at_s > t->idle_alive_s)
			t->idle_alive_s = s->c[k].at_s;
		if (s->c[k].fate == DEAD && t->idle_dead_s < 0)
			t->idle_dead_s = s->c[k].at_s;
	}
	/* A dead check reads a silence: only where loss allowed reading it. */
	if (t->idle_dead_s >= 0 && !probe_silence_trusted(r)) {
		t->idle_dead_s = -1;
		note(s, "too much loss to read an unanswered Binding as a dropped connection");
	}
	if (t->idle_alive_s < 0 && t->idle_dead_s < 0)
		snprintf(t->idle_reason, sizeof(t->idle_reason), "%s",
			 s->note[0]          ? s->note
			 : probe_run_note(r) ? probe_run_note(r)
					     : "no check ended");
}

const struct probe_test probe_test_tcp_lifetime = {
    .name = "tcp-lifetime",
    .help = "TCP established-idle timeout (RFC 5382 REQ-5; opt-in: --tcp-lifetime=MAX_S): "
	    "connections idle 2, 4, 8 ... MAX_S s, each then asked once; needs --session",
    .state_size = sizeof(struct state),
    .start = start,
    .on_answer = on_answer,
    .on_silence = on_silence,
    .on_timer = on_timer,
    .finish = finish,
    .tcp = true,
    .opt_in = true,
    .on_tcp = on_tcp,
    .on_observed = on_observed,
};
