/*
 * ICMP errors and TCP (RFC 5382 REQ-9, REQ-10): does the NAT translate an
 * ICMP destination-unreachable error in to this host, and does it keep a
 * connection that ICMP errors are about? Needs a session (the errors are
 * the reflector's, crafted on order).
 *
 * Translation (REQ-9). Over a control connection C to the primary endpoint
 * the probe orders ICMP-ARM: a silent port X on the alternate address whose
 * first SYN draws ICMP host unreachable, quoting that SYN (copies: as many
 * as the loss measured so far requires of a silence). The probe connects
 * to X from a fresh port: a connect() that fails with "unreachable" got the
 * error, so the NAT translated it back (true). SIMOPEN-RESULT says whether
 * X saw our SYN and the error went; then nothing within three
 * retransmission timeouts is false (the error would have come back within
 * a round trip of our SYN). X not seeing our SYN is a trial that proves
 * nothing: up to three.
 *
 * Connections kept (REQ-10). Victim connections V (as many as the loss
 * requires, each a fresh port), each asked for its mapping M. Over C, the
 * probe orders ICMP-CONN at V's mapping: port unreachable and time exceeded
 * about V, quoting V's next segment, sent to M. The answer comes over C, so
 * what the errors did to V cannot stop it. Then a Binding over V: answered,
 * from the same mapping, is true; no answer (or the connection reset) in
 * every victim, where the errors went, is false. Victims that disagree, or
 * errors that could not be sent: inconclusive. The reflector sends errors
 * only to its requester's address, C's: a NAT that pools addresses
 * arbitrarily may give V another, and such a victim is replaced by a new
 * one (SLOTS in all).
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "probe/tests.h"
#include "wire.h"

#define TRIALS  3 /* translation trials whose SYN the reflector may not see */
#define VICTIMS 5 /* at most */
/* Tags per kind of victim question: room for the victims and their
 * replacements (on a two-address arbitrary pool, 16 tries all landing on
 * the other address: 1 in 65,536). */
#define SLOTS                16
#define COPIES               20
#define ASK_SENDS_PER_VICTIM 4 /* TCP sends a Binding about four times in the ask's 2 s */

enum {
	TAG_CTRL,
	TAG_ARM,
	TAG_RESULT,
	TAG_SYN,
	TAG_WAIT,
	TAG_CTRL_MAP,          /* C's own mapping: the address errors can go to */
	TAG_VICTIM = SLOTS,    /* + victim */
	TAG_MAP = 2 * SLOTS,   /* + victim: its mapping */
	TAG_ORDER = 3 * SLOTS, /* + victim: ICMP-CONN at it */
	TAG_ALIVE = 4 * SLOTS, /* + victim: the Binding after */
};

enum victim_fate {
	V_PENDING,
	V_ALIVE,
	V_MOVED,
	V_DEAD,
	V_UNKNOWN,
	V_ELSEWHERE, /* another public address than C's: replaced, not counted */
};

struct victim {
	int conn;
	bool mapped_known, ordered, sent;
	struct sockaddr_storage mapped;
	enum victim_fate fate;
};

struct state {
	int ctrl, syn;
	bool ctrl_up, over_a, over_b;
	unsigned copies, wait_ms;
	/* Translation. */
	unsigned trial;
	uint8_t token[8];
	bool syn_ended, unreachable, result_in, result_ok;
	bool syn_spoiled; /* our connect() ended otherwise (a RST, say): no proof either way */
	enum probe_bool translated;
	double translated_ms;
	uint64_t syn_start_us;
	struct sockaddr_storage x;
	/* Connections kept. */
	struct sockaddr_storage ctrl_mapped; /* family 0: not known, none asked */
	bool ctrl_mapped_known;
	struct victim v[SLOTS];
	unsigned nvictims; /* slots opened, replaced ones too */
};

static unsigned copies_for(const struct probe_run *r)
{
	unsigned n = probe_silence_needed(r);

	return n > COPIES ? COPIES : n;
}

static void close_ctrl_if_done(struct probe_run *r, struct state *s)
{
	if (s->over_a && s->over_b) {
		probe_tcp_close(r, s->ctrl);
		s->ctrl = -1;
	}
}

/* ---- translation ---- */

static void end_a(struct probe_run *r, struct state *s)
{
	if (s->over_a)
		return;
	s->over_a = true;
	probe_cancel(r, TAG_WAIT);
	probe_tcp_close(r, s->syn);
	s->syn = -1;
	close_ctrl_if_done(r, s);
}

static void arm(struct probe_run *r, struct state *s)
{
	s->trial++;
	s->syn = -1;
	s->syn_ended = s->unreachable = s->result_in = s->result_ok = s->syn_spoiled = false;
	wire_put32(s->token, probe_token_nonce(r));
	wire_put32(s->token + 4, 0x1C000000u | s->trial);
	if (probe_tcp_order_copies(r, TAG_ARM, s->ctrl, PROBE_ORDER_ICMP_ARM, PROBE_AP, 0,
				   s->copies, 2 * s->wait_ms, s->token)) {
		probe_note(r, "could not order the reflector's silent port");
		end_a(r, s);
	}
}

/* This trial is over once both our connect() and the RESULT are. */
static void trial_done(struct probe_run *r, struct state *s)
{
	if (s->unreachable) {
		s->translated = PROBE_YES;
		end_a(r, s);
		return;
	}
	if (!s->syn_ended || !s->result_in)
		return;
	if (s->result_ok && !s->syn_spoiled) {
		s->translated = PROBE_NO; /* the error went, and nothing came back */
		end_a(r, s);
		return;
	}
	probe_tcp_close(r, s->syn);
	if (s->trial >= TRIALS)
		end_a(r, s);
	else
		arm(r, s);
}

/* ---- connections kept ---- */

static void end_b(struct probe_run *r, struct state *s)
{
	if (s->over_b)
		return;
	s->over_b = true;
	for (unsigned i = 0; i < s->nvictims; i++) {
		probe_tcp_close(r, s->v[i].conn);
		s->v[i].conn = -1;
	}
	close_ctrl_if_done(r, s);
}

static void victim_over(struct probe_run *r, struct state *s, unsigned i, enum victim_fate f)
{
	if (s->v[i].fate != V_PENDING)
		return;
	s->v[i].fate = f;
	probe_tcp_close(r, s->v[i].conn);
	s->v[i].conn = -1;
	for (unsigned k = 0; k < s->nvictims; k++)
		if (s->v[k].fate == V_PENDING)
			return;
	end_b(r, s);
}

/* A victim on another public address than C's cannot be the errors'
 * target: a new connection takes its place while there are slots. */
static void replace_victim(struct probe_run *r, struct state *s, unsigned i)
{
	if (s->nvictims < SLOTS) {
		unsigned k = s->nvictims++;

		s->v[k] = (struct victim){
		    .conn = probe_tcp_connect(r, TAG_VICTIM + (int)k, 0, PROBE_PP, NULL)};
		if (s->v[k].conn < 0)
			s->v[k].fate = V_UNKNOWN;
	}
	victim_over(r, s, i, V_ELSEWHERE);
}

/* C, its mapping and the victim's are known: the errors, at that mapping. */
static void order_icmp(struct probe_run *r, struct state *s, unsigned i)
{
	struct victim *v = &s->v[i];

	if (v->ordered || !s->ctrl_up || !v->mapped_known || !s->ctrl_mapped_known ||
	    v->fate != V_PENDING)
		return;
	if (s->ctrl_mapped.ss_family && !addr_same_ip((const struct sockaddr *)&v->mapped,
						      (const struct sockaddr *)&s->ctrl_mapped)) {
		replace_victim(r, s, i);
		return;
	}
	v->ordered = true;
	if (probe_tcp_order_copies(r, TAG_ORDER + (int)i, s->ctrl, PROBE_ORDER_ICMP_CONN, PROBE_AP,
				   addr_port((struct sockaddr *)&v->mapped), s->copies, s->wait_ms,
				   NULL))
		victim_over(r, s, i, V_UNKNOWN);
}

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;
	unsigned n;

	s->ctrl = s->syn = -1;
	s->translated = PROBE_UNKNOWN;
	if (!probe_have_session(r)) {
		s->over_a = s->over_b = true;
		return;
	}
	s->copies = copies_for(r);
	s->wait_ms = probe_order_wait_ms(r);
	/* A victim's Binding after the errors is sent about four times in the
	 * 2 s it is given: victims enough that all of them failing by loss is
	 * as unlikely as a silence's question failing. */
	n = (probe_silence_needed(r) + ASK_SENDS_PER_VICTIM - 1) / ASK_SENDS_PER_VICTIM;
	s->nvictims = n < 1 ? 1 : n > VICTIMS ? VICTIMS : n;
	s->ctrl = probe_tcp_connect(r, TAG_CTRL, 0, PROBE_PP, NULL);
	for (unsigned i = 0; i < s->nvictims; i++) {
		s->v[i].conn = probe_tcp_connect(r, TAG_VICTIM + (int)i, 0, PROBE_PP, NULL);
		if (s->v[i].conn < 0)
			s->v[i].fate = V_UNKNOWN;
	}
	if (s->ctrl < 0) {
		probe_note(r, "could not connect to the reflector's primary endpoint");
		end_a(r, s);
		end_b(r, s);
	}
}

static void on_ctrl(struct probe_run *r, struct state *s, enum probe_tcp_event ev)
{
	if (ev == PROBE_TCP_CONNECTED) {
		s->ctrl_up = true;
		/* Unasked, C's address is unknown: the victims are ordered as they are. */
		s->ctrl_mapped_known = probe_tcp_ask(r, TAG_CTRL_MAP, s->ctrl) != 0;
		arm(r, s);
		for (unsigned i = 0; i < s->nvictims; i++)
			order_icmp(r, s, i);
		return;
	}
	if (ev != PROBE_TCP_CLOSED || !s->over_a || !s->over_b)
		probe_note(r, "the control connection to the reflector's primary endpoint failed");
	s->ctrl = -1;
	end_a(r, s);
	for (unsigned i = 0; i < s->nvictims; i++)
		if (!s->v[i].sent)
			victim_over(r, s, i, V_UNKNOWN);
}

static void on_tcp(struct probe_run *r, void *state, int tag, int conn, enum probe_tcp_event ev,
		   int accepted, const struct sockaddr *peer)
{
	struct state *s = state;
	unsigned i = (unsigned)(tag % SLOTS);

	(void)accepted;
	(void)peer;
	if (tag == TAG_CTRL && conn == s->ctrl) {
		on_ctrl(r, s, ev);
	} else if (tag == TAG_SYN && conn == s->syn && !s->syn_ended && !s->over_a) {
		/* EHOSTUNREACH: the error came back through the NAT. */
		s->syn_ended = true;
		s->unreachable = ev == PROBE_TCP_UNREACHABLE;
		s->syn_spoiled = !s->unreachable;
		if (s->unreachable)
			s->translated_ms = (double)(probe_now_us(r) - s->syn_start_us) / 1000.0;
		trial_done(r, s);
	} else if (tag >= TAG_VICTIM && tag < TAG_MAP && i < s->nvictims &&
		   s->v[i].fate == V_PENDING) {
		if (ev != PROBE_TCP_CONNECTED) /* closed or reset: dead only after the errors */
			victim_over(r, s, i, s->v[i].sent ? V_DEAD : V_UNKNOWN);
		else if (probe_tcp_ask(r, TAG_MAP + (int)i, s->v[i].conn))
			victim_over(r, s, i, V_UNKNOWN);
	}
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;
	unsigned i = (unsigned)(tag % SLOTS);

	if (tag == TAG_CTRL_MAP) {
		s->ctrl_mapped = a->mapped;
		s->ctrl_mapped_known = true;
		for (unsigned k = 0; k < s->nvictims; k++)
			order_icmp(r, s, k);
		return;
	}
	if (i >= s->nvictims || s->v[i].fate != V_PENDING)
		return;
	if (tag >= TAG_MAP && tag < TAG_ORDER) {
		s->v[i].mapped = a->mapped;
		s->v[i].mapped_known = true;
		order_icmp(r, s, i);
	} else if (tag >= TAG_ALIVE) {
		victim_over(r, s, i,
			    addr_equal((const struct sockaddr *)&a->mapped,
				       (const struct sockaddr *)&s->v[i].mapped)
				? V_ALIVE
				: V_MOVED);
	}
}

static void on_observed(struct probe_run *r, void *state, int tag,
			const struct probe_observation *o)
{
	struct state *s = state;
	unsigned i = (unsigned)(tag % SLOTS);

	if (tag == TAG_ARM && !s->over_a) {
		s->x = o->sent_from;
		s->syn_start_us = probe_now_us(r);
		s->syn = probe_tcp_connect_to(r, TAG_SYN, 0, (const struct sockaddr *)&o->sent_from,
					      NULL);
		if (s->syn < 0 ||
		    probe_tcp_order_action(r, TAG_RESULT, s->ctrl, PROBE_ORDER_SIMOPEN_RESULT,
					   PROBE_AP, 0, 2 * s->wait_ms, s->token)) {
			probe_note(r, "could not connect to the reflector's silent port");
			end_a(r, s);
		}
	} else if (tag == TAG_RESULT && !s->over_a) {
		s->result_in = true;
		s->result_ok = o->seen_syn.ss_family && o->icmp_type == 3;
		/* The error left as our SYN arrived: it is back within a round
		 * trip, or it is not coming. */
		if (!s->syn_ended && probe_timer(r, TAG_WAIT, (uint64_t)s->wait_ms * 1000))
			s->syn_ended = s->syn_spoiled = true; /* no wait, no reading of silence */
		trial_done(r, s);
	} else if (tag >= TAG_ORDER && tag < TAG_ALIVE && i < s->nvictims &&
		   s->v[i].fate == V_PENDING) {
		s->v[i].sent = o->icmp_type == 3;
		if (!s->v[i].sent || probe_tcp_ask(r, TAG_ALIVE + (int)i, s->v[i].conn))
			victim_over(r, s, i, V_UNKNOWN);
	}
}

static void on_timer(struct probe_run *r, void *state, int tag)
{
	struct state *s = state;

	if (tag == TAG_WAIT && !s->over_a && !s->syn_ended) {
		s->syn_ended = true;
		trial_done(r, s);
	}
}

static void on_silence(struct probe_run *r, void *state, int tag, unsigned sends)
{
	struct state *s = state;
	unsigned i = (unsigned)(tag % SLOTS);

	(void)sends;
	if (tag == TAG_CTRL_MAP) {
		s->ctrl_mapped_known = true; /* family 0: ordered as they are */
		for (unsigned k = 0; k < s->nvictims; k++)
			order_icmp(r, s, k);
	} else if (tag == TAG_ARM && !s->over_a) {
		probe_note(r, "the reflector opened no silent port (no ICMP tests there, or none "
			      "free)");
		end_a(r, s);
	} else if (tag == TAG_RESULT && !s->over_a) {
		s->result_in = true; /* no RESULT: this trial proves nothing */
		s->syn_ended = true;
		trial_done(r, s);
	} else if (tag >= TAG_MAP && i < s->nvictims) {
		/* The Binding after the errors unanswered: dead. Anything before: no proof. */
		victim_over(r, s, i, tag >= TAG_ALIVE && s->v[i].sent ? V_DEAD : V_UNKNOWN);
	}
}

/* The victims that count: not those replaced for their address. */
static unsigned victims(const struct state *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < s->nvictims; i++)
		n += s->v[i].fate != V_ELSEWHERE;
	return n;
}

static enum probe_bool kept(const struct state *s, bool trusted, const char **why)
{
	unsigned alive = 0, dead = 0, moved = 0, n = victims(s);

	for (unsigned i = 0; i < s->nvictims; i++) {
		alive += s->v[i].fate == V_ALIVE;
		dead += s->v[i].fate == V_DEAD;
		moved += s->v[i].fate == V_MOVED;
	}
	*why = NULL;
	if (!n) {
		*why = s->nvictims ? "no connection got the control connection's public address "
				     "(the reflector sends errors only to its requester's address)"
				   : "no connection was tried";
		return PROBE_UNKNOWN;
	}
	if (alive == n)
		return PROBE_YES;
	if (moved + dead == n && moved)
		return PROBE_NO; /* the mapping was dropped and made anew */
	if (dead == n && trusted)
		return PROBE_NO;
	*why = dead == n ? "too much loss to read unanswered Bindings after the ICMP "
			   "errors as a dropped connection"
	       : alive + dead + moved == n
		   ? "the connections disagree: some kept, some not"
		   : "the ICMP errors could not be ordered or sent at every connection";
	return PROBE_UNKNOWN;
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *s = state;
	struct probe_tcp *t = &res->tcp;
	const char *why = NULL;

	res->tcp_tested = true;
	t->icmp_tested = probe_have_session(r);
	if (!t->icmp_tested) {
		snprintf(t->icmp_reason, sizeof(t->icmp_reason), PROBE_NEEDS_SESSION);
		return;
	}
	t->icmp_copies = s->copies;
	t->icmp_x = s->x;
	t->icmp_trials = s->trial;
	t->icmp_translated = s->translated;
	t->icmp_translated_ms = s->translated_ms;
	if (t->icmp_translated == PROBE_NO && !probe_silence_trusted(r))
		t->icmp_translated = PROBE_UNKNOWN;
	if (t->icmp_translated == PROBE_UNKNOWN)
		snprintf(t->icmp_translated_reason, sizeof(t->icmp_translated_reason), "%s",
			 probe_run_note(r) ? probe_run_note(r)
			 : s->translated == PROBE_NO
			     ? "too much loss to read no error as none translated"
			     : "the reflector never saw our SYN to its silent port");
	t->icmp_victims = victims(s);
	for (unsigned i = 0; i < s->nvictims; i++)
		t->icmp_victims_kept += s->v[i].fate == V_ALIVE;
	t->icmp_kept = kept(s, probe_silence_trusted(r), &why);
	if (t->icmp_kept == PROBE_UNKNOWN)
		snprintf(t->icmp_kept_reason, sizeof(t->icmp_kept_reason), "%s",
			 probe_run_note(r) ? probe_run_note(r) : why);
}

const struct probe_test probe_test_tcp_icmp = {
    .name = "tcp-icmp",
    .help = "ICMP errors and TCP (RFC 5382 REQ-9, REQ-10): host unreachable for our SYN "
	    "translated back; port unreachable and time exceeded leave a connection alive; "
	    "needs --session",
    .state_size = sizeof(struct state),
    .start = start,
    .on_answer = on_answer,
    .on_silence = on_silence,
    .on_timer = on_timer,
    .finish = finish,
    .tcp = true,
    .on_tcp = on_tcp,
    .on_observed = on_observed,
};
