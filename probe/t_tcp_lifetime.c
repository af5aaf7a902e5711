/*
 * RFC 5382 REQ-5's timeouts, opt-in (--tcp-lifetime=MAX_S): it takes up to
 * MAX_S. Established connections idle (not under 2 h 4 min) and half-closed
 * ones, the transitory state (not under 4 min), measured side by side.
 *
 * Idle checks at 2, 4, 8, ... seconds and MAX_S, for each kind, each on a
 * connection of its own to the primary endpoint (a check is a packet, which
 * would refresh the NAT's timer: one check each). Each connection asks its
 * mapping and has the reflector keep it (KEEP: natreflector would close it
 * after its own idle limit); a transitory one is then half-closed (our
 * FIN; the reflector's side stays open). Idle until its check: a PUSH
 * ordered over a fresh connection, which the reflector answers down the
 * idle one. The check is inbound on purpose: an outbound packet would prove
 * nothing, since a NAT that picks up connections midstream (Linux's loose
 * conntrack) maps it anew, often on the same port.
 *
 * The push arrives on the idle connection: the NAT kept it that long
 * (alive). It never arrives though the reflector sent it (TCP resent it),
 * the idle connection was reset, or the reflector had lost it (a NAT's
 * reset): dead, and the longer checks of that kind are not waited for. The
 * timeout lies between the longest alive and the shortest dead; no dead is
 * read from silence where loss was too high to trust one.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "probe/tests.h"

#define FIRST_S 2
#define SLOTS   8 /* tags per check */

enum kind { ESTABLISHED, TRANSITORY, KINDS };
enum { TAG_CONN, TAG_MAP, TAG_KEEP, TAG_IDLE, TAG_CTRL, TAG_PUSH };
enum fate { PENDING, ALIVE, DEAD, UNKNOWN };

static const char *const kind_word[KINDS] = {"established", "half-closed"};

struct check {
	enum kind kind;
	int conn, ctrl; /* the idle connection; the one its check is ordered over */
	unsigned at_s;
	uint16_t mapped_port;
	enum fate fate;
	bool idle; /* its idle time is running */
};

struct state {
	struct check c[KINDS * PROBE_TCP_LIFETIME_CHECKS];
	unsigned n;
	char note[KINDS][PROBE_REASON_LEN];
};

static void note(struct state *s, enum kind kind, const char *why)
{
	if (!s->note[kind][0])
		snprintf(s->note[kind], sizeof(s->note[kind]), "%s", why);
}

static void settle(struct probe_run *r, struct state *s, unsigned k, enum fate f)
{
	struct check *c = &s->c[k];

	if (c->fate != PENDING)
		return;
	c->fate = f;
	probe_cancel(r, (int)(k * SLOTS + TAG_IDLE));
	probe_tcp_close(r, c->conn);
	if (c->ctrl >= 0)
		probe_tcp_close(r, c->ctrl);
	c->conn = c->ctrl = -1;
	/* Dead after k's idle time: the longer ones need not be waited for. */
	for (unsigned j = k + 1; f == DEAD && j < s->n; j++)
		if (s->c[j].kind == c->kind)
			settle(r, s, j, UNKNOWN);
}

/* Gave up on k, not for the NAT's sake: why, once per kind. */
static void fail(struct probe_run *r, struct state *s, unsigned k, const char *why)
{
	note(s, s->c[k].kind, why);
	settle(r, s, k, UNKNOWN);
}

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;
	unsigned max = probe_tcp_lifetime_max_s(r);

	if (!probe_have_session(r))
		return;
	for (int kind = 0; kind < KINDS; kind++)
		for (unsigned at = FIRST_S, n = 0; n < PROBE_TCP_LIFETIME_CHECKS; at *= 2, n++) {
			s->c[s->n++] = (struct check){
			    .kind = (enum kind)kind, .ctrl = -1, .at_s = at < max ? at : max};
			if (at >= max)
				break;
		}
	for (unsigned k = 0; k < s->n; k++) {
		s->c[k].conn = probe_tcp_connect(r, (int)(k * SLOTS + TAG_CONN), 0, PROBE_PP, NULL);
		if (s->c[k].conn < 0)
			fail(r, s, k, "could not connect to the reflector's primary endpoint");
	}
	probe_progress(r, "tcp-lifetime: idle connections, established and half-closed, checked "
			  "as they come due");
}

static void on_tcp(struct probe_run *r, void *state, int tag, int conn, enum probe_tcp_event ev,
		   int accepted, const struct sockaddr *peer)
{
	struct state *s = state;
	unsigned k = (unsigned)tag / SLOTS;
	struct check *c = k < s->n ? &s->c[k] : NULL;

	(void)accepted;
	(void)peer;
	if (!c || c->fate != PENDING)
		return;
	if (conn == c->ctrl) {
		if (ev != PROBE_TCP_CONNECTED) {
			c->ctrl = -1; /* gone */
			fail(r, s, k, "a connection to order a check over failed");
		} else if (probe_tcp_push(r, (int)(k * SLOTS + TAG_PUSH), c->ctrl, c->conn,
					  c->mapped_port))
			fail(r, s, k, "could not order a check");
		return;
	}
	if (conn != c->conn)
		return;
	if (ev == PROBE_TCP_CONNECTED) {
		if (probe_tcp_ask(r, (int)(k * SLOTS + TAG_MAP), c->conn))
			settle(r, s, k, UNKNOWN);
		return;
	}
	/* Reset (or closed) while idle: the NAT, or a box on the way, ended it. */
	if (c->idle)
		settle(r, s, k, DEAD);
	else
		fail(r, s, k, "a connection to the reflector's primary endpoint failed");
}

/* The KEEP answer is the connection's last packet from the reflector; a
 * transitory one then gets our FIN. Idle from now. */
static void go_idle(struct probe_run *r, struct state *s, unsigned k)
{
	struct check *c = &s->c[k];

	if (c->kind == TRANSITORY && probe_tcp_shutdown(r, c->conn)) {
		fail(r, s, k, "this host would not half-close a connection");
		return;
	}
	c->idle = true;
	if (probe_timer(r, (int)(k * SLOTS + TAG_IDLE), (uint64_t)c->at_s * 1000000u))
		settle(r, s, k, UNKNOWN);
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;
	unsigned k = (unsigned)tag / SLOTS;
	struct check *c = k < s->n ? &s->c[k] : NULL;

	if (!c || c->fate != PENDING || tag % SLOTS != TAG_MAP)
		return;
	c->mapped_port = addr_port((const struct sockaddr *)&a->mapped);
	if (probe_tcp_order_action(r, (int)(k * SLOTS + TAG_KEEP), c->conn, PROBE_ORDER_KEEP,
				   PROBE_PP, 0, 0, NULL))
		settle(r, s, k, UNKNOWN);
}

static void on_observed(struct probe_run *r, void *state, int tag,
			const struct probe_observation *o)
{
	struct state *s = state;
	unsigned k = (unsigned)tag / SLOTS;
	struct check *c = k < s->n ? &s->c[k] : NULL;

	if (!c || c->fate != PENDING)
		return;
	if (tag % SLOTS == TAG_KEEP)
		go_idle(r, s, k);
	else if (tag % SLOTS == TAG_PUSH)
		/* Down the idle connection: kept. Down the order's: the reflector
		 * had lost it, reset by a NAT that gave up on it. */
		settle(r, s, k, o->conn == c->conn ? ALIVE : DEAD);
}

static void on_timer(struct probe_run *r, void *state, int tag)
{
	struct state *s = state;
	unsigned k = (unsigned)tag / SLOTS;
	struct check *c = k < s->n ? &s->c[k] : NULL;
	char text[96];

	if (!c || c->fate != PENDING || tag % SLOTS != TAG_IDLE)
		return;
	snprintf(text, sizeof(text), "tcp-lifetime: checking the %s connection idle %u s",
		 kind_word[c->kind], c->at_s);
	probe_progress(r, text);
	c->ctrl = probe_tcp_connect(r, (int)(k * SLOTS + TAG_CTRL), 0, PROBE_PP, NULL);
	if (c->ctrl < 0)
		fail(r, s, k, "could not open a connection to order a check over");
}

static void on_silence(struct probe_run *r, void *state, int tag, unsigned sends)
{
	struct state *s = state;
	unsigned k = (unsigned)tag / SLOTS;

	(void)sends;
	if (k >= s->n || s->c[k].fate != PENDING)
		return;
	if (tag % SLOTS == TAG_PUSH && probe_tcp_is_open(r, s->c[k].ctrl))
		settle(r, s, k, DEAD); /* ordered, sent, resent: never arrived */
	else
		fail(r, s, k,
		     tag % SLOTS == TAG_PUSH ? "a connection to order a check over failed"
		     : tag % SLOTS == TAG_KEEP
			 ? "the reflector would not keep an idle connection"
			 : "the reflector did not say a connection's mapping");
}

static void fill(struct probe_run *r, const struct state *s, enum kind kind,
		 struct probe_tcp_idle *t)
{
	t->tested = true;
	t->max_s = probe_tcp_lifetime_max_s(r);
	t->alive_s = t->dead_s = -1;
	if (!probe_have_session(r)) {
		snprintf(t->reason, sizeof(t->reason),
			 "needs a natlab test session at the reflector (--session, --key): it "
			 "closes idle connections otherwise");
		return;
	}
	for (unsigned k = 0; k < s->n; k++) {
		const struct check *c = &s->c[k];

		if (c->kind != kind)
			continue;
		t->checks[t->nchecks] = c->at_s;
		t->fates[t->nchecks++] = (uint8_t)c->fate;
		if (c->fate == ALIVE && (double)c->at_s > t->alive_s)
			t->alive_s = c->at_s;
		if (c->fate == DEAD && t->dead_s < 0)
			t->dead_s = c->at_s;
	}
	/* A dead check may read a silence: only where loss allowed reading it. */
	if (t->dead_s >= 0 && !probe_silence_trusted(r)) {
		t->dead_s = -1;
		snprintf(t->reason, sizeof(t->reason), "%s",
			 "too much loss to read a push that never came as a dropped connection");
	}
	if (t->alive_s < 0 && t->dead_s < 0 && !t->reason[0])
		snprintf(t->reason, sizeof(t->reason), "%s",
			 s->note[kind][0]    ? s->note[kind]
			 : probe_run_note(r) ? probe_run_note(r)
					     : "no check ended");
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *s = state;

	res->tcp_tested = true;
	fill(r, s, ESTABLISHED, &res->tcp.established);
	fill(r, s, TRANSITORY, &res->tcp.transitory);
}

const struct probe_test probe_test_tcp_lifetime = {
    .name = "tcp-lifetime",
    .help = "TCP timeouts (RFC 5382 REQ-5; opt-in: --tcp-lifetime=MAX_S): established and "
	    "half-closed connections idle 2, 4, 8 ... MAX_S s, each then pushed to once by the "
	    "reflector; needs --session",
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
