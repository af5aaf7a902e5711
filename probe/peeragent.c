/*
 * `natprobe peer`: the second host behind the same NAT (probe/PEER.md). It
 * opens UDP sockets when the controlling natprobe asks, sends from them the
 * STUN Binding requests it is handed, and hands back whatever STUN message
 * arrives on them. The decisions stay in the controller's engine; this end
 * only lends its address.
 *
 * TCP too: listeners and connections (tcp-listen, tcp-connect), whose news
 * (connected, refused, accepted, closed) goes back as tcp-event, and whose
 * STUN messages, framed out of the stream, go back as data.
 *
 * It is no open relay: it sends nothing but Binding requests, serves one
 * controller at a time (others get 403 until that one resets or falls idle),
 * and every session is bounded in sockets and in datagrams and connections
 * sent.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "addr.h"
#include "clock.h"
#include "counters.h"
#include "logline.h"
#include "peermsg.h"
#include "probe/peer.h"
#include "udp.h"

#define AGENT_SOCKETS    32
#define AGENT_SENDS      5000      /* datagrams sent per session, at most */
#define AGENT_IDLE_US    30000000u /* a silent controller's session ends */
#define AGENT_OPENS_KEPT 64        /* the last answered opens, for retransmitted requests */

static const char usage[] =
    "usage: natprobe peer [--listen HOST[:PORT]] [--timeout S]\n"
    "\n"
    "Serve as natprobe's second host behind the same NAT: run this on another\n"
    "host of the NAT's inside network, then `natprobe --peer THIS_HOST SERVER` on\n"
    "the first. It opens UDP sockets, TCP listeners and TCP connections and sends\n"
    "STUN Binding requests from them as that natprobe asks (nothing else, at most\n"
    "32 sockets at once and 5000 datagrams and connections a session), for\n"
    "hairpinning between hosts, port overloading (UDP and TCP) and pooling.\n"
    "\n"
    "  --listen HOST[:PORT]  where to take natprobe's requests: an address of this\n"
    "                        host or a name of one (default 0.0.0.0:3480)\n"
    "  --timeout S           exit after S seconds (default: until SIGTERM/SIGINT)\n"
    "  -h, --help            this text\n"
    "\n"
    "Exit status: 0 stopped by a signal or --timeout, 2 bad usage, a name that\n"
    "does not resolve or an address that cannot be bound.\n";

struct agent {
	int ctl;
	struct sockaddr_storage controller;
	bool have_controller;
	uint64_t last_us;
	struct lent {
		int fd;
		uint32_t id;
		bool tcp, listener, connecting;
		struct sockaddr_storage remote; /* a TCP connection's far end */
		size_t have;                    /* a TCP connection's bytes not yet a message */
		uint8_t buf[PEER_DATA_MAX];
	} socks[AGENT_SOCKETS];
	size_t nsocks;
	uint32_t next_id;
	uint32_t events; /* tcp-events sent: their transaction IDs */
	struct {
		uint8_t tid[STUN_TID_LEN];
		struct peer_msg answer;
	} opened[AGENT_OPENS_KEPT];
	size_t nopened;
	unsigned sends;
	struct counters counters;
};

static void reply(struct agent *a, const struct sockaddr *to, const struct peer_msg *pm)
{
	uint8_t buf[PEER_MSG_MAX];
	size_t len = peer_build(pm, buf, sizeof(buf));

	if (len)
		sendto(a->ctl, buf, len, 0, to, addr_len(to));
}

static void refuse(struct agent *a, const struct sockaddr *to, const struct peer_msg *req,
		   unsigned code, const char *reason)
{
	struct peer_msg pm = {.op = req->op, .cls = STUN_ERROR, .code = code};

	memcpy(pm.tid, req->tid, STUN_TID_LEN);
	snprintf(pm.reason, sizeof(pm.reason), "%s", reason);
	reply(a, to, &pm);
	counters_add(&a->counters, "refused");
}

static void end_session(struct agent *a)
{
	for (size_t i = 0; i < a->nsocks; i++)
		close(a->socks[i].fd);
	a->nsocks = 0;
	a->nopened = 0;
	a->sends = 0;
	a->have_controller = false;
}

/* A socket for an open, tcp-listen or tcp-connect request: its fd (bound as
 * natprobe's own, one internal endpoint: udp.h), or -1 with errno. */
static int lend(const struct peer_msg *req, struct sockaddr_storage *local)
{
	const struct sockaddr *to = (const struct sockaddr *)&req->addr;
	int fd = req->op == PEER_OPEN ? udp_socket_toward(to, req->port, local)
				      : tcp_socket_toward(to, req->port, local);

	if (fd < 0 || req->op == PEER_OPEN)
		return fd;
	if (req->op == PEER_TCP_LISTEN ? listen(fd, 16) == 0
				       : connect(fd, to, addr_len(to)) == 0 || errno == EINPROGRESS)
		return fd;
	close(fd);
	return -1;
}

static void do_open(struct agent *a, const struct sockaddr *from, const struct peer_msg *req)
{
	struct peer_msg pm = {.op = req->op, .cls = STUN_SUCCESS};
	struct lent *l;
	char why[96];
	int fd;

	for (size_t i = 0; i < a->nopened && i < AGENT_OPENS_KEPT; i++)
		if (!memcmp(a->opened[i].tid, req->tid, STUN_TID_LEN)) {
			reply(a, from, &a->opened[i].answer); /* a retransmission */
			return;
		}
	if (a->nsocks == AGENT_SOCKETS) {
		refuse(a, from, req, 508, "out of sockets for this session");
		return;
	}
	if (req->op == PEER_TCP_CONNECT && a->sends >= AGENT_SENDS) {
		refuse(a, from, req, 508, "over the session's packets");
		return;
	}
	fd = lend(req, &pm.addr);
	if (fd < 0) {
		snprintf(why, sizeof(why), "cannot open a %s socket on port %u: %s",
			 req->op == PEER_OPEN ? "UDP" : "TCP", req->port, strerror(errno));
		refuse(a, from, req, 500, why);
		return;
	}
	a->sends += req->op == PEER_TCP_CONNECT;
	pm.socket = ++a->next_id;
	memcpy(pm.tid, req->tid, STUN_TID_LEN);
	l = &a->socks[a->nsocks++];
	*l = (struct lent){.fd = fd,
			   .id = pm.socket,
			   .tcp = req->op != PEER_OPEN,
			   .listener = req->op == PEER_TCP_LISTEN,
			   .connecting = req->op == PEER_TCP_CONNECT,
			   .remote = req->addr};
	memcpy(a->opened[a->nopened % AGENT_OPENS_KEPT].tid, req->tid, STUN_TID_LEN);
	a->opened[a->nopened++ % AGENT_OPENS_KEPT].answer = pm;
	reply(a, from, &pm);
	counters_add(&a->counters, "opened");
}

static void forget(struct agent *a, size_t i)
{
	close(a->socks[i].fd);
	a->socks[i] = a->socks[--a->nsocks];
}

/* A close from the controller. */
static void do_close(struct agent *a, const struct peer_msg *req)
{
	for (size_t i = 0; i < a->nsocks; i++)
		if (a->socks[i].id == req->socket) {
			forget(a, i);
			counters_add(&a->counters, "closed");
			return;
		}
}

/* Only Binding requests leave, to where the controller says. */
static void do_send(struct agent *a, const struct peer_msg *req)
{
	struct stun_msg m;

	for (size_t i = 0; i < a->nsocks; i++) {
		if (a->socks[i].id != req->socket)
			continue;
		if (stun_parse(&m, req->data, req->data_len, 0) != STUN_OK ||
		    m.method != STUN_BINDING || m.cls != STUN_REQUEST) {
			counters_add(&a->counters, "not a binding request: dropped");
		} else if (a->sends >= AGENT_SENDS) {
			counters_add(&a->counters, "over the session's datagrams: dropped");
		} else if (a->socks[i].listener || a->socks[i].connecting) {
			counters_add(&a->counters, "no connection to send on: dropped");
		} else {
			a->sends++;
			/* TCP: down the connection, whatever XOR-PEER-ADDRESS says. */
			if (a->socks[i].tcp)
				send(a->socks[i].fd, req->data, req->data_len, MSG_NOSIGNAL);
			else
				sendto(a->socks[i].fd, req->data, req->data_len, 0,
				       (const struct sockaddr *)&req->addr,
				       addr_len((const struct sockaddr *)&req->addr));
			counters_add(&a->counters, "sent");
		}
		return;
	}
	counters_add(&a->counters, "no such socket: dropped");
}

static void control(struct agent *a)
{
	uint8_t buf[PEER_MSG_MAX];
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	struct peer_msg pm;
	const char *why;
	char who[ADDR_STRLEN];
	bool held;
	ssize_t n = recvfrom(a->ctl, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);

	if (n < 0)
		return;
	if (peer_parse(&pm, buf, (size_t)n, &why)) {
		counters_add(&a->counters, "malformed: dropped");
		return;
	}
	if (pm.cls != STUN_REQUEST && pm.cls != STUN_INDICATION)
		return;
	if (a->have_controller &&
	    !addr_equal((struct sockaddr *)&from, (struct sockaddr *)&a->controller)) {
		if (pm.cls == STUN_REQUEST)
			refuse(a, (struct sockaddr *)&from, &pm, 403,
			       "serving another natprobe; try again later");
		return;
	}
	held = a->have_controller;
	if (!held) {
		if (pm.op != PEER_RESET && pm.op != PEER_OPEN && pm.op != PEER_TCP_LISTEN &&
		    pm.op != PEER_TCP_CONNECT)
			return;
		a->controller = from;
		a->have_controller = true;
		log_line(stdout, "natprobe-peer", "session", "controller=%s",
			 addr_format((struct sockaddr *)&from, who, sizeof(who)));
	}
	a->last_us = clock_now_us();
	switch (pm.op) {
	case PEER_RESET: {
		struct peer_msg ok = {.op = PEER_RESET, .cls = STUN_SUCCESS};

		memcpy(ok.tid, pm.tid, STUN_TID_LEN);
		/* A new controller's reset claims B; the holder's (its last word,
		 * or a resent first one) frees B: its next request claims it again. */
		end_session(a);
		if (!held) {
			a->controller = from;
			a->have_controller = true;
		}
		reply(a, (struct sockaddr *)&from, &ok);
		break;
	}
	case PEER_OPEN:
	case PEER_TCP_LISTEN:
	case PEER_TCP_CONNECT:
		do_open(a, (struct sockaddr *)&from, &pm);
		break;
	case PEER_CLOSE:
		do_close(a, &pm);
		break;
	case PEER_SEND:
		do_send(a, &pm);
		break;
	default:
		break;
	}
}

static void to_controller(struct agent *a, const struct peer_msg *pm)
{
	uint8_t out[PEER_MSG_MAX];
	size_t len = peer_build(pm, out, sizeof(out));

	if (len && a->have_controller)
		sendto(a->ctl, out, len, 0, (struct sockaddr *)&a->controller,
		       addr_len((struct sockaddr *)&a->controller));
}

/* A datagram on one of the lent sockets goes back to the controller whole. */
static void relay(struct agent *a, size_t i)
{
	uint8_t buf[PEER_DATA_MAX];
	struct peer_msg pm = {.op = PEER_DATA, .cls = STUN_INDICATION, .socket = a->socks[i].id};
	socklen_t flen = sizeof(pm.addr);
	struct stun_msg m;
	ssize_t n;

	while ((n = recvfrom(a->socks[i].fd, buf, sizeof(buf), 0, (struct sockaddr *)&pm.addr,
			     &flen)) >= 0) {
		flen = sizeof(pm.addr);
		if (stun_parse(&m, buf, (size_t)n, 0) != STUN_OK) {
			counters_add(&a->counters, "not STUN: dropped");
			continue;
		}
		memcpy(pm.tid, m.tid, STUN_TID_LEN);
		pm.data = buf;
		pm.data_len = (size_t)n;
		to_controller(a, &pm);
		counters_add(&a->counters, "relayed");
	}
}

/* News of socket l; `accepted`: a listener's new connection, else NULL. */
static void tcp_event(struct agent *a, const struct lent *l, enum peer_event ev,
		      const struct lent *accepted)
{
	struct peer_msg pm = {.op = PEER_TCP_EVENT,
			      .cls = STUN_INDICATION,
			      .socket = l->id,
			      .event = ev,
			      .accepted = accepted ? accepted->id : 0,
			      .addr = accepted ? accepted->remote : l->remote};
	uint32_t tid[3] = {l->id, pm.accepted, ++a->events};

	memcpy(pm.tid, tid, STUN_TID_LEN);
	to_controller(a, &pm);
}

/* A connect() ended: how, by its socket's error (one that failed is gone). */
static void tcp_connected(struct agent *a, size_t i)
{
	struct lent *l = &a->socks[i];
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	l->connecting = false;
	tcp_event(a, l,
		  err == 0              ? PEER_EV_CONNECTED
		  : err == ECONNREFUSED ? PEER_EV_REFUSED
		  : err == ETIMEDOUT    ? PEER_EV_TIMEDOUT
					: PEER_EV_UNREACHABLE,
		  NULL);
	if (err)
		forget(a, i);
}

/* A listener's new connections, each a lent socket (past the bound, closed). */
static void tcp_accept(struct agent *a, size_t i)
{
	struct sockaddr_storage remote;
	socklen_t len = sizeof(remote);
	int fd;

	while ((fd = accept4(a->socks[i].fd, (struct sockaddr *)&remote, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		len = sizeof(remote);
		if (a->nsocks == AGENT_SOCKETS) {
			close(fd);
			counters_add(&a->counters, "out of sockets: connection closed");
			continue;
		}
		a->socks[a->nsocks] =
		    (struct lent){.fd = fd, .id = ++a->next_id, .tcp = true, .remote = remote};
		tcp_event(a, &a->socks[i], PEER_EV_ACCEPTED, &a->socks[a->nsocks++]);
		counters_add(&a->counters, "accepted");
	}
}

/* A connection's bytes: each whole STUN message to the controller. An end,
 * an error, or bytes that cannot be STUN close it (said as closed). */
static void tcp_relay(struct agent *a, size_t i)
{
	struct lent *l = &a->socks[i];
	ssize_t n = recv(l->fd, l->buf + l->have, sizeof(l->buf) - l->have, 0);
	size_t mlen = 0;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		l->have += (size_t)n;
		while (stun_frame_length(l->buf, l->have, &mlen) == STUN_OK && mlen &&
		       mlen <= l->have) {
			struct peer_msg pm = {.op = PEER_DATA,
					      .cls = STUN_INDICATION,
					      .socket = l->id,
					      .addr = l->remote,
					      .data = l->buf,
					      .data_len = mlen};

			memcpy(pm.tid, l->buf + 8, STUN_TID_LEN);
			to_controller(a, &pm);
			counters_add(&a->counters, "relayed");
			l->have -= mlen;
			memmove(l->buf, l->buf + mlen, l->have);
		}
		if (stun_frame_length(l->buf, l->have, &mlen) == STUN_OK &&
		    l->have < sizeof(l->buf))
			return; /* a message still coming */
	}
	tcp_event(a, l, PEER_EV_CLOSED, NULL);
	forget(a, i);
}

/* What poll said of one lent socket (found by its fd: the table moves). */
static void lent_ready(struct agent *a, int fd, short revents)
{
	size_t i = 0;

	while (i < a->nsocks && a->socks[i].fd != fd)
		i++;
	if (i == a->nsocks || !revents)
		return;
	if (!a->socks[i].tcp)
		relay(a, i);
	else if (a->socks[i].connecting)
		tcp_connected(a, i);
	else if (a->socks[i].listener)
		tcp_accept(a, i);
	else
		tcp_relay(a, i);
}

static int parse(int argc, char **argv, struct sockaddr_storage *listen, double *timeout)
{
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char err[320], *end;
	int c;

	addr_parse("0.0.0.0", ADDR_PORT_OPTIONAL, PEER_DEFAULT_PORT, listen, err, sizeof(err));
	*timeout = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (addr_resolve(optarg, ADDR_PORT_OPTIONAL, PEER_DEFAULT_PORT, AF_UNSPEC,
					 listen, err, sizeof(err))) {
				fprintf(stderr, "natprobe peer: --listen: %s\n", err);
				return -1;
			}
			break;
		case 't':
			*timeout = strtod(optarg, &end);
			if (*end || !(*timeout > 0 && *timeout <= 86400 * 7)) {
				fprintf(stderr,
					"natprobe peer: --timeout: '%s' is not a number of seconds "
					"above 0 and at most 604800\n",
					optarg);
				return -1;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			fputs(usage, stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "natprobe peer: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

static void serve(struct agent *a, double timeout)
{
	uint64_t start = clock_now_us();

	while (!counters_stop &&
	       (timeout <= 0 || clock_now_us() - start < (uint64_t)(timeout * 1e6))) {
		struct pollfd pfd[1 + AGENT_SOCKETS];

		pfd[0] = (struct pollfd){.fd = a->ctl, .events = POLLIN};
		size_t n = a->nsocks;

		for (size_t i = 0; i < n; i++)
			pfd[1 + i] =
			    (struct pollfd){.fd = a->socks[i].fd,
					    .events = a->socks[i].connecting ? POLLOUT : POLLIN};
		if (poll(pfd, 1 + n, 200) < 0 && errno != EINTR)
			break;
		if (counters_report) {
			counters_report = 0;
			counters_print(&a->counters, stdout, "natprobe-peer");
		}
		for (size_t i = 0; i < n; i++)
			lent_ready(a, pfd[1 + i].fd, pfd[1 + i].revents);
		if (pfd[0].revents & POLLIN)
			control(a);
		if (a->have_controller && clock_now_us() - a->last_us > AGENT_IDLE_US)
			end_session(a);
	}
}

int peer_agent_main(int argc, char **argv)
{
	struct agent a = {.ctl = -1};
	struct sockaddr_storage listen;
	char where[ADDR_STRLEN];
	double timeout;

	if (parse(argc, argv, &listen, &timeout))
		return 2;
	a.ctl = socket(listen.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a.ctl < 0 ||
	    bind(a.ctl, (struct sockaddr *)&listen, addr_len((struct sockaddr *)&listen))) {
		fprintf(stderr, "natprobe peer: cannot listen on %s: %s\n",
			addr_format((struct sockaddr *)&listen, where, sizeof(where)),
			strerror(errno));
		if (a.ctl >= 0)
			close(a.ctl);
		return 2;
	}
	counters_signals();
	log_line(stdout, "natprobe-peer", "ready", "listen=%s",
		 addr_format((struct sockaddr *)&listen, where, sizeof(where)));
	serve(&a, timeout);
	end_session(&a);
	counters_print(&a.counters, stdout, "natprobe-peer");
	close(a.ctl);
	return 0;
}
