/*
 * natprobe punch's TCP trials (RFC 5128 3.4, and 3.1 over TCP). See
 * punchint.h. A trial:
 *
 *   1. a listener on a fresh port p (bound, as every socket of natprobe's,
 *      to the address of the route toward the reflector), and a connection
 *      from p to the reflector's primary endpoint;
 *   2. registrations over that connection every 100 ms until the other
 *      probe is there: the reflector sees p's TCP mapping, and the
 *      connection stays for the trial, holding that mapping and carrying
 *      the start (and, for tcp-relay, the trial's packets);
 *   3. wait as the rendezvous says;
 *   4. punchtcp.c's side of the trial: connects from p to the endpoints the
 *      rendezvous named, the first SYN at the opening TTL, and accepts on
 *      the listener; or, for tcp-relay, punch.c's trial with the
 *      connection to the reflector as its only path.
 *
 * The opening SYN opens this side's NAT and dies on the way to the other's
 * (which may answer a SYN it did not ask for with a RST). The router where
 * it dies sends ICMP time exceeded, which Linux takes in SYN_SENT as a
 * hard error that ends the connect; IP_MINTTL 2 drops that error (it
 * quotes the SYN at TTL 1; no privilege is needed) and the SYN the kernel
 * retransmits a second later, at the full TTL, finds both NATs open.
 * Nothing does that for IPv6 (IPV6_MINHOPCOUNT looks at the outer hop
 * limit): there the first SYN goes at the full hop limit.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/random.h>

#include "addr.h"
#include "clock.h"
#include "probe/punchint.h"
#include "probe/punchtcp.h"
#include "udp.h"

#define MAX_SOCKS (PTCP_MAX_CONNS + 2)
#define RDV_BUF   1024

struct sock {
	int fd; /* -1: free */
	bool connecting;
};

/* The setup's state, for the messages read during it. */
struct setup {
	const struct options *o;
	struct meeting *mt;
	struct sent_regs sent;
	uint32_t rtt_us;
	uint64_t last_answer;
};
/* One TCP trial's sockets, and the stream from the reflector. */
struct tcp_trial {
	const struct options *o;
	struct sockaddr_storage local; /* the listener's: address and port p */
	int listener, rdv;
	uint8_t rbuf[RDV_BUF];
	size_t rhave;
	struct sock s[MAX_SOCKS];
	struct ptcp_trial pt;
	struct punch_trial relay; /* tcp-relay's */
	struct setup setup;       /* the meeting's: what read_rdv's messages feed */
};

static int new_handle(struct tcp_trial *tt, int fd, bool connecting)
{
	for (int h = 0; h < MAX_SOCKS; h++)
		if (tt->s[h].fd < 0) {
			tt->s[h] = (struct sock){fd, connecting};
			return h;
		}
	close(fd);
	return -1;
}

/* ---- the sockets, as punchtcp.c asks for them ---- */

/* A connect from port p to `to`; its first SYN at IP TTL ttl (0: the
 * default), which must not end the connect when it draws a time exceeded. */
static int op_connect(void *ctx, const struct sockaddr *to, unsigned ttl)
{
	struct tcp_trial *tt = ctx;
	struct sockaddr_storage local;
	int fd = tcp_socket_toward(to, addr_port((const struct sockaddr *)&tt->local), &local);
	int v = (int)ttl, minttl = 2, dflt = -1, syns = 2, h;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_SYNCNT, &syns, sizeof(syns)); /* +1 s, +3 s */
	if (ttl && to->sa_family == AF_INET &&
	    (setsockopt(fd, IPPROTO_IP, IP_MINTTL, &minttl, sizeof(minttl)) ||
	     setsockopt(fd, IPPROTO_IP, IP_TTL, &v, sizeof(v))))
		ttl = 0; /* then the default TTL, as the UDP opening round does */
	if (connect(fd, to, addr_len(to)) && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	/* The first SYN left inside connect(): the retransmissions go far. */
	if (ttl && to->sa_family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_TTL, &dflt, sizeof(dflt));
	h = new_handle(tt, fd, true);
	return h;
}

static int op_send(void *ctx, int h, const uint8_t *msg, size_t len)
{
	struct tcp_trial *tt = ctx;

	return send(tt->s[h].fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static void op_close(void *ctx, int h)
{
	struct tcp_trial *tt = ctx;

	close(tt->s[h].fd);
	tt->s[h].fd = -1;
}

static const struct ptcp_ops ops = {op_connect, op_send, op_close};

/* What a finished connect came to. */
static enum ptcp_outcome connect_outcome(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	return !err                  ? PTCP_CONNECTED
	       : err == ECONNREFUSED ? PTCP_REFUSED
	       : err == ETIMEDOUT    ? PTCP_TIMED_OUT
				     : PTCP_UNREACHABLE;
}

/* ---- the connection to the reflector ---- */

/* Messages framed on the reflector's stream, each to fn; false when the
 * stream closed or broke. */
static bool read_rdv(struct tcp_trial *tt, void (*fn)(struct tcp_trial *, const uint8_t *, size_t))
{
	ssize_t n = recv(tt->rdv, tt->rbuf + tt->rhave, sizeof(tt->rbuf) - tt->rhave, MSG_DONTWAIT);
	size_t len;

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return false;
	if (n > 0)
		tt->rhave += (size_t)n;
	while (tt->rhave && stun_frame_length(tt->rbuf, tt->rhave, &len) == STUN_OK && len &&
	       len <= tt->rhave) {
		fn(tt, tt->rbuf, len);
		tt->rhave -= len;
		memmove(tt->rbuf, tt->rbuf + len, tt->rhave);
	}
	if (tt->rhave == sizeof(tt->rbuf) ||
	    stun_frame_length(tt->rbuf, tt->rhave, &len) != STUN_OK)
		return false; /* not STUN, or a message too long for a rendezvous */
	return true;
}

static void setup_message(struct tcp_trial *tt, const uint8_t *msg, size_t len)
{
	struct setup *st = &tt->setup;
	uint8_t tid[STUN_TID_LEN];

	if (punch_setup_message(st->o, msg, len, st->mt, tid)) {
		st->last_answer = clock_now_us();
		if (!st->rtt_us)
			st->rtt_us = punch_sent_rtt(&st->sent, tid, clock_now_us());
	}
}

/* Wait until fd is writable (a connect done) or the deadline: 1, 0 timed out. */
static int wait_out(int fd, uint64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	uint64_t now = clock_now_us();

	return now < deadline && poll(&p, 1, (int)((deadline - now + 999) / 1000)) > 0;
}

/* Steps 1 and 2: the listener, the connection to the reflector, and the
 * registrations over it until met. 0 met or a setup failure (row->reason). */
static void meet_tcp(struct tcp_trial *tt, const struct registration *r, uint64_t deadline,
		     struct meeting *mt, struct trial_row *row)
{
	const struct options *o = tt->o;
	struct setup *st = &tt->setup;
	const char *broken = NULL; /* why the connection to the reflector failed mid-setup */
	uint64_t next = 0;
	struct sockaddr_storage l;

	tt->rdv = tcp_socket_toward((const struct sockaddr *)&o->server,
				    addr_port((const struct sockaddr *)&tt->local), &l);
	if (tt->rdv < 0 || (connect(tt->rdv, (const struct sockaddr *)&o->server,
				    addr_len((const struct sockaddr *)&o->server)) &&
			    errno != EINPROGRESS)) {
		snprintf(row->reason, sizeof(row->reason),
			 "cannot connect to the reflector over TCP: %s", strerror(errno));
		return;
	}
	if (!wait_out(tt->rdv, deadline) || connect_outcome(tt->rdv) != PTCP_CONNECTED) {
		snprintf(row->reason, sizeof(row->reason),
			 "the reflector's TCP port did not take the connection (natreflector "
			 "with --no-tcp?)");
		return;
	}
	*st = (struct setup){.o = o, .mt = mt};
	while (!mt->met && !mt->error && clock_now_us() < deadline) {
		struct pollfd p = {.fd = tt->rdv, .events = POLLIN};
		uint64_t now = clock_now_us(), until = next < deadline ? next : deadline;

		if (now >= next) {
			uint8_t buf[600];
			size_t len;

			punch_register_msg(o, r, st->rtt_us, mt, buf, sizeof(buf), &len);
			if (send(tt->rdv, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len) {
				broken = "the reflector's TCP connection would not take a "
					 "registration";
				break;
			}
			punch_sent_note(&st->sent, buf, now);
			next = now + REGISTER_US;
			continue;
		}
		if (poll(&p, 1, (int)((until - now + 999) / 1000)) > 0 &&
		    !read_rdv(tt, setup_message)) {
			broken = "the reflector closed its TCP connection, or sent what is not "
				 "STUN";
			break;
		}
	}
	if (!mt->met)
		snprintf(row->reason, sizeof(row->reason), "%s",
			 mt->error ? mt->reason
			 : broken  ? broken
				   : trials_setup_failure(st->last_answer, deadline, REGISTER_US,
							  SILENT_REGS));
}

/* ---- step 4 ---- */

/* What the listener and the trial's sockets have for the trial. */
static void serve(struct tcp_trial *tt, const struct pollfd *p, const int *handle, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int h = handle[i];
		uint8_t buf[512];
		ssize_t got;

		if (!p[i].revents)
			continue;
		if (h == -1) { /* the listener */
			struct sockaddr_storage from;
			socklen_t flen = sizeof(from);
			int fd = accept4(tt->listener, (struct sockaddr *)&from, &flen,
					 SOCK_NONBLOCK | SOCK_CLOEXEC);

			if (fd >= 0 && (h = new_handle(tt, fd, false)) >= 0)
				ptcp_accepted(&tt->pt, h, (struct sockaddr *)&from, clock_now_us());
		} else if (h == -2) { /* the reflector: nothing more is asked of it */
			got = recv(tt->rdv, buf, sizeof(buf), MSG_DONTWAIT);
			if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
				close(tt->rdv); /* gone: the trial goes on without it */
				tt->rdv = -1;
			}
		} else if (tt->s[h].fd >= 0 && tt->s[h].connecting) {
			tt->s[h].connecting = false;
			ptcp_connect_done(&tt->pt, h, connect_outcome(tt->s[h].fd), clock_now_us());
		} else if (tt->s[h].fd >= 0) {
			got = recv(tt->s[h].fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (got > 0 || got == 0 || (errno != EAGAIN && errno != EINTR))
				ptcp_bytes(&tt->pt, h, buf, got > 0 ? (size_t)got : 0,
					   clock_now_us());
		}
	}
}

static void run_tcp(struct tcp_trial *tt)
{
	while (!ptcp_done(&tt->pt)) {
		struct pollfd p[MAX_SOCKS + 2];
		int handle[MAX_SOCKS + 2];
		size_t n = 0;
		uint64_t now = clock_now_us(), next = ptcp_deadline(&tt->pt);

		p[n] = (struct pollfd){.fd = tt->listener, .events = POLLIN};
		handle[n++] = -1;
		p[n] = (struct pollfd){.fd = tt->rdv, .events = POLLIN};
		handle[n++] = -2;
		for (int h = 0; h < MAX_SOCKS; h++)
			if (tt->s[h].fd >= 0) {
				p[n] = (struct pollfd){.fd = tt->s[h].fd,
						       .events =
							   tt->s[h].connecting ? POLLOUT : POLLIN};
				handle[n++] = h;
			}
		if (poll(p, n, next > now ? (int)((next - now + 999) / 1000) : 0) < 0 &&
		    errno != EINTR)
			break;
		serve(tt, p, handle, n);
		ptcp_tick(&tt->pt, clock_now_us());
	}
	usleep(TCP_GRACE_US); /* the last message's flight, before the winner closes */
}

/* tcp-relay: punch.c's trial, its only path the connection to the
 * reflector (framed; the reflector forwards to the other's connection). */
static int relay_send(void *ctx, const struct sockaddr *to, const uint8_t *msg, size_t len,
		      unsigned ttl)
{
	struct tcp_trial *tt = ctx;

	(void)to;
	(void)ttl;
	return send(tt->rdv, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static void relay_message(struct tcp_trial *tt, const uint8_t *msg, size_t len)
{
	punch_receive(&tt->relay, (const struct sockaddr *)&tt->o->server, msg, len,
		      clock_now_us());
}

static void run_relay(struct tcp_trial *tt, const struct punch_cfg *cfg)
{
	uint64_t quiet_until = 0;

	punch_start(&tt->relay, cfg, relay_send, tt, clock_now_us());
	for (;;) {
		struct pollfd p = {.fd = tt->rdv, .events = POLLIN};
		uint64_t now = clock_now_us(), next = punch_deadline(&tt->relay);

		if (!punch_grace(now, &next, &quiet_until))
			return;
		if (poll(&p, 1, next > now ? (int)((next - now + 999) / 1000) : 0) > 0 &&
		    !read_rdv(tt, relay_message))
			return;
		punch_tick(&tt->relay, clock_now_us());
	}
}

static void close_all(struct tcp_trial *tt)
{
	for (int h = 0; h < MAX_SOCKS; h++)
		if (tt->s[h].fd >= 0)
			close(tt->s[h].fd);
	if (tt->listener >= 0)
		close(tt->listener);
	if (tt->rdv >= 0)
		close(tt->rdv);
}

static void record(const struct tcp_trial *tt, const struct punch_cfg *cfg, bool relay,
		   struct trial_row *row)
{
	row->res = relay ? tt->relay.res : tt->pt.res;
	memcpy(row->tried, cfg->cand, cfg->ncand * sizeof(cfg->cand[0]));
	row->ntried = cfg->ncand;
	row->tcp = true;
	row->open_ttl = relay ? 0 : cfg->open_ttl;
	if (relay)
		return;
	memcpy(row->att, tt->pt.att, tt->pt.natt * sizeof(tt->pt.att[0]));
	row->natt = tt->pt.natt;
	row->won = tt->pt.won;
	row->accepted = tt->pt.accepted;
}

int punch_tcp_trial(const struct options *o, const struct technique *t, uint32_t number,
		    const struct probe_result *me, uint64_t setup_us, struct trial_row *row,
		    struct meeting *mt)
{
	static struct tcp_trial tt;
	uint8_t token[PUNCH_TOKEN_LEN], cls[4], tcp_cls[PREDICT_TCP_WIRE_LEN];
	const uint8_t *tcp = punch_class_wire(me, cls, tcp_cls);
	uint64_t deadline = clock_now_us() + setup_us;
	struct punch_cfg cfg;

	memset(row, 0, sizeof(*row));
	memset(mt, 0, sizeof(*mt));
	memset(&tt, 0, sizeof(tt));
	tt.o = o;
	tt.rdv = -1;
	for (int h = 0; h < MAX_SOCKS; h++)
		tt.s[h].fd = -1;
	row->res.outcome = PUNCH_SETUP_FAILED;
	row->tcp = true;
	tt.listener = tcp_socket_toward((const struct sockaddr *)&o->server, 0, &tt.local);
	if (tt.listener < 0 || listen(tt.listener, PTCP_MAX_ACCEPTED) ||
	    getrandom(token, sizeof(token), 0) != sizeof(token)) {
		snprintf(row->reason, sizeof(row->reason), "cannot open a TCP listener: %s",
			 strerror(errno));
		close_all(&tt);
		return 0;
	}
	meet_tcp(&tt,
		 &(struct registration){number, token, (struct sockaddr *)&tt.local, cls, tcp,
					t->relay, NULL},
		 deadline, mt, row);
	if (mt->met && t->relay && !mt->relay)
		snprintf(row->reason, sizeof(row->reason),
			 "the reflector did not grant the relay (relays full, or off)");
	if (!mt->met || (t->relay && !mt->relay)) {
		close_all(&tt);
		return 0;
	}
	punch_trial_config(o, t, mt, token, punch_am_passive(t, me, mt, token),
			   punch_one_address(me, mt), &cfg);
	cfg.timeout_us = TCP_TRIAL_US;
	if (me->mapping == PROBE_MAPPING_NONE || o->server.ss_family != AF_INET)
		cfg.open_ttl = 0; /* no NAT to open; or IPv6, where nothing saves the connect */
	usleep((mt->wait_ms + o->stagger_ms) * 1000u);
	if (t->relay) {
		run_relay(&tt, &cfg);
	} else {
		ptcp_start(&tt.pt, &cfg, &ops, &tt, clock_now_us());
		run_tcp(&tt);
	}
	record(&tt, &cfg, t->relay, row);
	close_all(&tt);
	return 0;
}
