/*
 * Port overloading (RFC 4787 section 4.2.1; REQ-3: a NAT MUST NOT do it):
 * one public endpoint shared by two inside endpoints, told apart only by
 * the remote end. It needs a second host behind the same NAT (--peer):
 *
 *   1. a fresh socket here, local port p, asks PP: public endpoint E;
 *   2. a socket on the peer, on the same port p, asks AA (an endpoint this
 *      socket has not talked to): overloading when it is given E too;
 *   3. this socket asks AA in turn. Linux, which keeps one entry per flow,
 *      must now give it another public port: its mapping looked
 *      endpoint-independent only because nothing collided.
 *
 * A NAT that overloads does so when the peer's port, kept, is E's: so when
 * step 1's NAT did not keep p (another mapping held that public port), step
 * 1 starts over from a fresh socket, up to RETRIES times, or the test would
 * ask nothing of the NAT (tcp-overloading's flake, seen in CI). A NAT that
 * never keeps ports goes on after the last. Without NAT there is nothing to
 * share; without a peer, nothing to see.
 */
#include <stdio.h>

#include "addr.h"
#include "probe/decide.h"
#include "probe/tests.h"

enum { HERE, PEER, AFTER };

#define RETRIES 3

struct state {
	int sock;
	unsigned tries; /* step 1's fresh sockets after the first */
	struct sockaddr_storage local, seen[3];
	bool answered[3];
};

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;

	if (!probe_have_peer(r) || !probe_role_addr(r, PROBE_AA)->sa_family)
		return;
	s->sock = probe_socket(r, &s->local);
	if (s->sock < 0 || probe_ask(r, HERE, s->sock, PROBE_PP, 0, false))
		probe_note(r, "could not ask every question");
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;
	int peer;

	s->seen[tag] = a->mapped;
	s->answered[tag] = true;
	if (tag == HERE && s->tries < RETRIES &&
	    !addr_equal((const struct sockaddr *)&a->mapped, (struct sockaddr *)&s->local) &&
	    addr_port((const struct sockaddr *)&a->mapped) !=
		addr_port((const struct sockaddr *)&s->local)) {
		s->tries++; /* the NAT did not keep this port: step 1 from a fresh one */
		s->sock = probe_socket(r, &s->local);
		if (s->sock < 0 || probe_ask(r, HERE, s->sock, PROBE_PP, 0, false))
			probe_note(r, "could not ask every question");
	} else if (tag == HERE &&
		   !addr_equal((const struct sockaddr *)&a->mapped, (struct sockaddr *)&s->local)) {
		peer = probe_peer_socket(r, addr_port((struct sockaddr *)&s->local), NULL);
		if (peer < 0 || probe_ask(r, PEER, peer, PROBE_AA, 0, false))
			probe_note(r, "the second host could not use this socket's port");
	} else if (tag == PEER) {
		probe_ask(r, AFTER, s->sock, PROBE_AA, 0, false);
	}
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	struct state *s = state;
	const char *why = probe_run_note(r);

	if (!probe_have_peer(r) && !probe_peer_missing(r))
		return; /* untested: null in the record, not inconclusive */
	res->overload_tested = true;
	if (!why)
		why = probe_peer_missing(r);
	res->overload_here = s->seen[HERE];
	res->overload_peer = s->seen[PEER];
	res->overload_after = s->seen[AFTER];
	if (!why && !probe_role_addr(r, PROBE_AA)->sa_family)
		why = "the reflector's alternate endpoint is not known";
	if (!why)
		res->overloading =
		    probe_decide_overloading(&s->seen[HERE], &s->seen[PEER], &s->local, &why);
	if (why)
		snprintf(res->overload_reason, sizeof(res->overload_reason), "%s", why);
}

const struct probe_test probe_test_overload = {
    .name = "overloading",
    .help = "port overloading (RFC 4787 4.2.1, REQ-3), with --peer: the second host on this "
	    "socket's port, toward another endpoint, given the same public endpoint?",
    .state_size = sizeof(struct state),
    .start = start,
    .on_answer = on_answer,
    .finish = finish,
};
