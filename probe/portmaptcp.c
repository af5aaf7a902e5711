/*
 * The portmap test's TCP mapping (portmapcmd.h): a listener's port mapped
 * through the protocol, the reflector's connection to the external port,
 * the mapping deleted.
 *
 * The reach test is an order (reflector/PROTOCOL.md, SYN-HOLD), given over a
 * control connection to the reflector's primary endpoint: the reflector
 * connect()s from a fresh port X of its alternate address to this host's
 * public address (the control connection's source, as it sees it) at the
 * external port granted, and says X at once. Only the mapping can bring that
 * connection to the listener: nothing of ours ever spoke to the alternate
 * address. The listener accepting a connection from X's address is
 * "reached"; when it accepts nothing, the order's result (SIMOPEN-RESULT:
 * how the reflector's connect() ended) makes it "not reached"; without
 * either, not known. Orders need a natlab session (--session, --key).
 */
#include "probe/portmapcmd.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "lib/addr.h"
#include "lib/clock.h"
#include "probe/order.h"

#define CONNECT_MS   1000
#define HOLD_WAIT_MS 2000 /* the reflector's connect() may take a lost SYN's retry */
#define ANSWER_MS    1000 /* for an order's answer, beyond the reflector's own wait */

static bool stopped(const struct portmap_ctx *c)
{
	return c->stop && *c->stop;
}

/* A TCP socket on this host's address toward the reflector, port 0. */
static int tcp_socket(const struct portmap_ctx *c, uint16_t *port)
{
	struct sockaddr_storage a = c->local;
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;

	addr_set_port((struct sockaddr *)&a, 0);
	if (s < 0)
		return -1;
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(s, (struct sockaddr *)&a, addr_len((struct sockaddr *)&a)) ||
	    getsockname(s, (struct sockaddr *)&a, &len)) {
		close(s);
		return -1;
	}
	if (port)
		*port = addr_port((struct sockaddr *)&a);
	return s;
}

/* Wait for fd to be ready for events until `until` (or a stop): 1 ready, 0 not. */
static int wait_for(const struct portmap_ctx *c, int fd, short events, uint64_t until)
{
	while (!stopped(c) && clock_now_us() < until) {
		struct pollfd p = {fd, events, 0};
		uint64_t left = (until - clock_now_us()) / 1000 + 1;

		if (poll(&p, 1, left > 100 ? 100 : (int)left) > 0)
			return 1;
	}
	return 0;
}

static int connect_reflector(const struct portmap_ctx *c)
{
	int fd = tcp_socket(c, NULL), err = 0;
	socklen_t len = sizeof(err);
	const struct sockaddr *to = (const struct sockaddr *)&c->server;

	if (fd < 0)
		return -1;
	if ((connect(fd, to, addr_len(to)) && errno != EINPROGRESS) ||
	    !wait_for(c, fd, POLLOUT, clock_now_us() + CONNECT_MS * 1000u) ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One framed STUN message off the connection, or -1 by `until`. */
static int read_message(const struct portmap_ctx *c, int fd, uint8_t *buf, size_t cap,
			uint64_t until, size_t *len)
{
	size_t have = 0, want = 0;

	while (!want || have < want) {
		ssize_t n;

		if (stun_frame_length(buf, have, &want) != STUN_OK || want > cap)
			return -1;
		if (want && have >= want)
			break;
		if (!wait_for(c, fd, POLLIN, until))
			return -1;
		n = recv(fd, buf + have, (want ? want : 20) - have, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return -1;
		if (n > 0)
			have += (size_t)n;
	}
	*len = want;
	return 0;
}

/* Send an order over fd. */
static int send_order(int fd, const struct probe_order_req *q)
{
	uint8_t msg[256];
	size_t len;

	return probe_order_build(q, msg, sizeof(msg), &len) == STUN_OK &&
		       send(fd, msg, len, MSG_NOSIGNAL) == (ssize_t)len
		   ? 0
		   : -1;
}

/* One message off fd, read as the answer to q: 0 observed (o), -2 refused,
 * -1 something else (another transaction's, or not ours). */
static int read_answer(const struct portmap_ctx *c, int fd, const struct probe_order_req *q,
		       uint64_t until, struct probe_observation *o)
{
	uint8_t buf[1024];
	size_t len;
	struct stun_msg m;

	if (read_message(c, fd, buf, sizeof(buf), until, &len) ||
	    stun_parse(&m, buf, len, 0) != STUN_OK || memcmp(m.tid, q->tid, STUN_TID_LEN))
		return -1;
	switch (probe_order_read(&m, q->key, o)) {
	case PROBE_ORDER_OBSERVED:
		return 0;
	case PROBE_ORDER_REFUSED:
		return -2;
	default:
		return -1;
	}
}

/* A connection on the listener from the reflector's address `from`? */
static bool accept_from(int listener, const struct sockaddr *from)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	int fd = accept(listener, (struct sockaddr *)&peer, &len);

	if (fd < 0)
		return false;
	close(fd);
	return addr_same_ip((struct sockaddr *)&peer, from);
}

/*
 * After SYN-HOLD's answer (o: the port X it connects from), SIMOPEN-RESULT
 * is asked at once: the reflector answers it when its connect() ends. The
 * listener taking the connection is "reached"; a result other than
 * "connected" with nothing taken is "not reached"; neither by the deadline,
 * not known.
 */
static int await_reach(const struct portmap_ctx *c, int k, int listener, struct probe_order_req *q,
		       struct probe_observation *o)
{
	struct sockaddr_storage x = o->sent_from;
	uint64_t until = clock_now_us() + (HOLD_WAIT_MS + ANSWER_MS) * 1000u;
	uint8_t tid[STUN_TID_LEN];

	q->action = PROBE_ORDER_SIMOPEN_RESULT;
	q->target_port = 0;
	q->tid = tid;
	if (getrandom(tid, sizeof(tid), 0) != sizeof(tid) || send_order(k, q))
		return -1;
	while (!stopped(c) && clock_now_us() < until) {
		struct pollfd p[2] = {{listener, POLLIN, 0}, {k, POLLIN, 0}};

		if (poll(p, 2, 100) <= 0)
			continue;
		if (p[0].revents && accept_from(listener, (struct sockaddr *)&x))
			return 1;
		/* Connected: its ACK may come just after the result; wait for it. */
		if (p[1].revents && !read_answer(c, k, q, until, o) &&
		    o->outcome != PROBE_SEEN_CONNECTED)
			return accept_from(listener, (struct sockaddr *)&x) ? 1 : 0;
	}
	return -1;
}

static void reach(const struct portmap_ctx *c, int listener, struct portmap_proto_result *r)
{
	struct portmap_mapping *m = &r->tcp;
	uint8_t tid[STUN_TID_LEN];
	struct probe_order_req q = {.action = PROBE_ORDER_SYN_HOLD,
				    .role = PROBE_AA,
				    .target_port = m->external_port,
				    .wait_ms = HOLD_WAIT_MS,
				    .tid = tid,
				    .session = c->session,
				    .key = c->key};
	struct probe_observation o = {0};
	int k = connect_reflector(c), rc = -1;

	if (k < 0) {
		portmap_note(r, "TCP reach test: cannot connect to the reflector");
		return;
	}
	if (getrandom(tid, sizeof(tid), 0) == sizeof(tid) &&
	    getrandom(q.token, sizeof(q.token), 0) == sizeof(q.token) && !send_order(k, &q))
		rc = read_answer(c, k, &q, clock_now_us() + ANSWER_MS * 1000u, &o);
	if (rc == 0) {
		struct sockaddr_storage target = o.target;

		m->reached = await_reach(c, k, listener, &q, &o);
		if (m->reached >= 0) {
			m->reach_target = target;
			addr_set_port((struct sockaddr *)&m->reach_target, m->external_port);
		} else {
			portmap_note(r, "TCP reach test: no result from the reflector");
		}
	} else {
		portmap_note(r, rc == -2
				    ? "TCP reach test: the reflector refused the order "
				      "(check --session and --key)"
				    : "TCP reach test: the reflector did not answer the order");
	}
	close(k);
}

void portmap_tcp_trial(const struct portmap_ctx *c, portmap_client_t *pc,
		       struct portmap_proto_result *r)
{
	uint16_t port;
	int listener = tcp_socket(c, &port);

	if (listener < 0 || listen(listener, 4)) {
		portmap_note(r, "cannot open a TCP listener: %s", strerror(errno));
		if (listener >= 0)
			close(listener);
		return;
	}
	if (!portmap_client_map(pc, true, port, r)) {
		if (!c->session)
			portmap_note(r,
				     "TCP reach test: needs a natlab session (--session, --key)");
		else if (!stopped(c))
			reach(c, listener, r);
		portmap_client_unmap(pc, r);
	}
	close(listener);
}
