/*
 * TCP port overloading (RFC 5382 REQ-7: a NAT MUST NOT do it): one public
 * endpoint shared by connections of two inside endpoints, told apart only
 * by the remote end. As the UDP test (t_overload.c), with --peer:
 *
 *   1. a connection from a fresh local port p to PP asks its mapping: E;
 *   2. the second host connects from the same port p to AA (an endpoint
 *      port p here has not talked to) and asks: overloading when it is
 *      given E too;
 *   3. port p here connects to AA in turn (every socket has SO_REUSEPORT)
 *      and asks: a NAT that overloads must give it another public port.
 *
 * All three connections stay open until the test ends: the mappings must
 * live at once to collide. A NAT that overloads does so when the second
 * host's port, kept, is E's: so when step 1's NAT did not keep p (another
 * mapping held that public port: the second host's own earlier connection,
 * say), step 1 starts over from a fresh port, up to RETRIES times, or the
 * test would ask nothing of the NAT. A NAT that never keeps ports goes on
 * after the last. Without NAT there is nothing to share; without
 * a peer, nothing to see.
 */
#include <stdio.h>

#include "addr.h"
#include "probe/decide.h"
#include "probe/tests.h"

enum { HERE, PEER, AFTER, STEPS };

#define RETRIES 3

struct state {
	int conn[STEPS];
	unsigned tries; /* step 1's fresh ports after the first */
	struct sockaddr_storage local, seen[STEPS];
	bool answered[STEPS];
	bool over;
};

static void end(struct probe_run *r, struct state *s, const char *why)
{
	if (s->over)
		return;
	s->over = true;
	if (why)
		probe_note(r, why);
	for (int i = 0; i < STEPS; i++)
		if (s->conn[i] >= 0)
			probe_tcp_close(r, s->conn[i]);
}

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;

	for (int i = 0; i < STEPS; i++)
		s->conn[i] = -1;
	if (!probe_have_peer_tcp(r) || !probe_role_addr(r, PROBE_AA)->sa_family) {
		s->over = true;
		return;
	}
	s->conn[HERE] = probe_tcp_connect(r, HERE, 0, PROBE_PP, &s->local);
	if (s->conn[HERE] < 0)
		end(r, s, "could not connect to the reflector's primary endpoint");
}

/* Step 1 once more, from a fresh port: the NAT did not keep the last one. */
static void again(struct probe_run *r, struct state *s)
{
	probe_tcp_close(r, s->conn[HERE]);
	s->tries++;
	s->answered[HERE] = false;
	s->conn[HERE] = probe_tcp_connect(r, HERE, 0, PROBE_PP, &s->local);
	if (s->conn[HERE] < 0)
		end(r, s, "could not connect to the reflector's primary endpoint");
}

/* Step `step`'s connection, from port p here or on the second host. */
static void next(struct probe_run *r, struct state *s, int step)
{
	uint16_t p = addr_port((struct sockaddr *)&s->local);

	s->conn[step] = step == PEER ? probe_peer_tcp_connect(r, PEER, p, PROBE_AA, NULL)
				     : probe_tcp_connect(r, AFTER, p, PROBE_AA, NULL);
	if (s->conn[step] < 0)
		end(r, s,
		    step == PEER ? "the second host could not connect from this connection's port"
				 : "this host would not connect again from the port");
}

static void on_tcp(struct probe_run *r, void *state, int tag, int conn, enum probe_tcp_event ev,
		   int accepted, const struct sockaddr *peer)
{
	struct state *s = state;

	(void)accepted;
	(void)peer;
	if (s->over || tag < 0 || tag >= STEPS || conn != s->conn[tag])
		return;
	if (ev != PROBE_TCP_CONNECTED)
		end(r, s, "a connection to the reflector failed");
	else if (probe_tcp_ask(r, tag, conn))
		end(r, s, "could not ask the reflector over TCP");
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;

	if (s->over || tag < 0 || tag >= STEPS)
		return;
	s->seen[tag] = a->mapped;
	s->answered[tag] = true;
	if (tag == HERE &&
	    addr_equal((const struct sockaddr *)&a->mapped, (const struct sockaddr *)&s->local))
		end(r, s, NULL); /* no NAT */
	else if (tag == HERE && s->tries < RETRIES &&
		 addr_port((const struct sockaddr *)&a->mapped) !=
		     addr_port((const struct sockaddr *)&s->local))
		again(r, s);
	else if (tag < AFTER)
		next(r, s, tag + 1);
	else
		end(r, s, NULL);
}

static void on_silence(struct probe_run *r, void *state, int tag, unsigned sends)
{
	(void)tag;
	(void)sends;
	end(r, state, "the reflector did not say a connection's mapped address");
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *s = state;
	struct probe_tcp *t = &res->tcp;
	const char *why = probe_run_note(r);

	if (!probe_have_peer_tcp(r) && !probe_peer_missing(r))
		return; /* untested: null in the record, not inconclusive */
	res->tcp_tested = t->overload_tested = true;
	t->overload_here = s->seen[HERE];
	t->overload_peer = s->seen[PEER];
	t->overload_after = s->seen[AFTER];
	if (probe_peer_missing(r))
		why = probe_peer_missing(r);
	else if (!probe_role_addr(r, PROBE_AA)->sa_family)
		why = "the reflector's alternate endpoint is not known";
	else {
		/* A failed step's note says why an answer is missing; the
		 * third step's failure cannot undo a verdict the first two made. */
		const char *note = why;

		t->overloading =
		    probe_decide_overloading(&s->seen[HERE], &s->seen[PEER], &s->local, &why);
		if (why && note)
			why = note;
	}
	if (why)
		snprintf(t->overload_reason, sizeof(t->overload_reason), "%s", why);
}

const struct probe_test probe_test_tcp_overload = {
    .name = "tcp-overloading",
    .help = "TCP port overloading (RFC 5382 REQ-7), with --peer: the second host connects from "
	    "this connection's port to another endpoint; given the same public endpoint?",
    .state_size = sizeof(struct state),
    .start = start,
    .on_answer = on_answer,
    .on_silence = on_silence,
    .finish = finish,
    .tcp = true,
    .on_tcp = on_tcp,
};
