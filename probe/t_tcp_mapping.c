/*
 * TCP mapping (RFC 5382 REQ-1, in RFC 4787 4.1's terms): one local port, a
 * listener kept on it (as an application that punches holes keeps one, and
 * so that a SYN that reaches it finds a socket), and a connection from it to
 * each of the reflector's four endpoints, held open at once, each asking
 * for its mapped address. The verdict is UDP's rule (probe_decide_mapping):
 * every answer must agree with it.
 *
 * Connections to four different endpoints from one port are four different
 * 4-tuples, which SO_REUSEPORT allows; none is closed before all four have
 * settled, so no TIME_WAIT stands in the way of another. Then all are closed:
 * the reflector keeps a bounded number of connections per source, and the
 * next test opens twelve.
 *
 * The same answers show a payload rewrite (RFC 5382 REQ-6's ALGs): the
 * reflector's plain MAPPED-ADDRESS beside XOR-MAPPED-ADDRESS, which a box
 * that rewrites addresses in payloads changes and cannot recognise.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "probe/decide.h"
#include "probe/tests.h"

struct state {
	struct sockaddr_storage local, seen[4], plain[4];
	bool answered[4];
	int conn[4];
	uint16_t port;
	enum probe_tcp_event failed[4]; /* how a connection failed; CONNECTED: it did not */
	int listener;
	unsigned settled;
};

/* A role is settled (answered, or its connection or question failed): once
 * all four are, the port's sockets are closed. */
static void settle(struct probe_run *r, struct state *s)
{
	if (++s->settled < 4)
		return;
	for (unsigned role = 0; role < 4; role++)
		probe_tcp_close(r, s->conn[role]);
	probe_tcp_close(r, s->listener);
}

static void start(struct probe_run *r, void *state)
{
	struct state *s = state;

	for (unsigned role = 0; role < 4; role++)
		s->conn[role] = -1;
	s->listener = probe_tcp_listen(r, -1, 0, &s->local);
	if (s->listener < 0)
		return;
	s->port = addr_port((const struct sockaddr *)&s->local);
	for (unsigned role = 0; role < 4; role++) {
		s->conn[role] = probe_tcp_connect(r, (int)role, s->port, role, NULL);
		if (s->conn[role] < 0)
			return;
	}
}

static void on_tcp(struct probe_run *r, void *state, int tag, int conn, enum probe_tcp_event ev,
		   int accepted, const struct sockaddr *peer)
{
	struct state *s = state;

	(void)accepted;
	(void)peer;
	if (tag < 0 || tag >= 4)
		return;
	if (ev == PROBE_TCP_CONNECTED && !probe_tcp_ask(r, tag, conn))
		return;
	if (ev != PROBE_TCP_CLOSED) /* closed: its question's silence settles it */
		settle(r, s);
	s->failed[tag] = ev;
}

/* Why no answer came from the role: how its connection ended, if it did. */
static const char *failure(enum probe_tcp_event ev)
{
	switch (ev) {
	case PROBE_TCP_REFUSED:
		return "refused the connection (a RST: no TCP service there, or a firewall)";
	case PROBE_TCP_UNREACHABLE:
		return "could not be reached over TCP (an ICMP error)";
	case PROBE_TCP_TIMEDOUT:
		return "did not answer a TCP SYN in 3.5 s";
	case PROBE_TCP_CLOSED:
		return "closed the connection before answering";
	default:
		return "did not answer a Binding request over TCP";
	}
}

static void on_answer(struct probe_run *r, void *state, int tag, const struct probe_answer *a)
{
	struct state *s = state;

	if (tag < 0 || tag >= 4)
		return;
	s->seen[tag] = a->mapped;
	s->plain[tag] = a->plain;
	s->answered[tag] = true;
	settle(r, s);
}

static void on_silence(struct probe_run *r, void *state, int tag, unsigned sends)
{
	(void)sends;
	if (tag >= 0 && tag < 4)
		settle(r, state);
}

/* REQ-6: over the roles answered. */
static void decide_alg(const struct state *s, struct probe_tcp *t)
{
	struct sockaddr_storage xor [4], plain[4];
	unsigned n = 0, which = 0;
	const char *why;

	for (unsigned role = 0; role < 4; role++)
		if (s->answered[role]) {
			xor[n] = s->seen[role];
			plain[n++] = s->plain[role];
		}
	t->alg = n ? probe_decide_alg(xor, plain, n, &which, &why) : PROBE_UNKNOWN;
	if (t->alg == PROBE_YES) {
		t->alg_xor = xor[which];
		t->alg_plain = plain[which];
	} else if (t->alg == PROBE_UNKNOWN)
		snprintf(t->alg_reason, sizeof(t->alg_reason), "%s",
			 n ? why : "no answer over TCP");
}

static void finish(struct probe_run *r, void *state, struct probe_result *res)
{
	static const char *const names[4] = {"PP", "PA", "AP", "AA"};
	struct state *s = state;
	struct probe_tcp *t = &res->tcp;
	const char *why = probe_run_note(r);
	int missing = -1;

	res->tcp_tested = true;
	t->local = s->local;
	for (unsigned role = 0; role < 4; role++) {
		if (s->answered[role])
			t->mapping_seen[role] = s->seen[role];
		else if (missing < 0)
			missing = (int)role;
	}
	t->mapped = t->mapping_seen[PROBE_PP];
	t->mapping = PROBE_MAPPING_INCONCLUSIVE;
	if (why)
		snprintf(t->mapping_reason, sizeof(t->mapping_reason), "%s", why);
	else if (missing >= 0)
		snprintf(t->mapping_reason, sizeof(t->mapping_reason),
			 "the reflector's %s endpoint %s", names[missing],
			 failure(s->failed[missing]));
	else
		t->mapping = probe_decide_mapping(s->seen, &s->local, &why);
	if (why && !t->mapping_reason[0])
		snprintf(t->mapping_reason, sizeof(t->mapping_reason), "%s", why);
	decide_alg(s, t);
}

const struct probe_test probe_test_tcp_mapping = {
    .name = "tcp-mapping",
    .help = "TCP mapping (RFC 5382 REQ-1): one local port with a listener, connections to the "
	    "reflector's four endpoints held at once; their answers' plain MAPPED-ADDRESS shows an "
	    "ALG that rewrites payloads (REQ-6)",
    .state_size = sizeof(struct state),
    .start = start,
    .on_answer = on_answer,
    .on_silence = on_silence,
    .finish = finish,
    .tcp = true,
    .on_tcp = on_tcp,
};
