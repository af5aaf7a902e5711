/*
 * The hop sweep's sockets. See hopsweep.h; the rule is hops.c's.
 *
 * One UDP socket per TTL, each sending one STUN Binding request (RFC 8489
 * 6.1) toward the reflector: an ICMP error is queued on the socket whose
 * datagram drew it, so its TTL is the socket's, with no need to match the
 * quoted header; and with IP_RECVERR a queued error makes that socket's
 * next send fail, which never comes. Unprivileged: IP_RECVERR hands the
 * sender's address (SO_EE_OFFENDER) to an ordinary socket, where a raw
 * ICMP socket would need CAP_NET_RAW. Each socket is bound to the route's
 * source toward the reflector, like every socket natprobe measures with
 * (udp.h): the sweep takes the path the registrations take.
 */
#include "probe/hopsweep.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <sys/random.h>

#include "addr.h"
#include "clock.h"
#include "stun.h"
#include "udp.h"

/* Long enough for a reflector across the world to answer; short beside a
 * punch run's classification. */
#define SWEEP_US 400000u
/* Datagrams read from one socket per wake-up: one request draws one
 * error or one answer, a little more with duplicates. */
#define READS_PER_WAKE 4

struct sweeper {
	int fd[HOPS_MAX]; /* fd[t - 1]: TTL t; -1 when it could not be opened */
	uint8_t tid[HOPS_MAX][STUN_TID_LEN];
};

/* Open TTL ttl's socket and send its request: the descriptor, or -1. */
static int send_probe(const struct sockaddr *server, unsigned ttl, uint8_t tid[STUN_TID_LEN])
{
	struct sockaddr_storage local;
	struct stun_builder b;
	uint8_t msg[64];
	size_t len;
	int on = 1, v = (int)ttl, fd = udp_socket_toward(server, 0, &local);

	if (fd < 0)
		return -1;
	if (getrandom(tid, STUN_TID_LEN, 0) != STUN_TID_LEN)
		memset(tid, (int)ttl, STUN_TID_LEN); /* still one per socket */
	stun_build_start(&b, msg, sizeof(msg), stun_type(STUN_BINDING, STUN_REQUEST),
			 STUN_MAGIC_COOKIE, tid);
	stun_build_fingerprint(&b);
	if (setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on)) ||
	    setsockopt(fd, IPPROTO_IP, IP_TTL, &v, sizeof(v)) ||
	    stun_build_end(&b, &len) != STUN_OK ||
	    sendto(fd, msg, len, 0, server, addr_len(server)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One queued error: a router's time exceeded is the hop at ttl; any other
 * ICMP error from the reflector's own address says the datagram got there. */
static void note_error(struct hops_sweep *s, unsigned ttl, const struct cmsghdr *c)
{
	struct {
		struct sock_extended_err ee;
		struct sockaddr_in offender; /* SO_EE_OFFENDER: right after it */
	} e;

	if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_RECVERR ||
	    c->cmsg_len < CMSG_LEN(sizeof(e)))
		return;
	memcpy(&e, CMSG_DATA(c), sizeof(e));
	if (e.ee.ee_origin != SO_EE_ORIGIN_ICMP || e.offender.sin_family != AF_INET)
		return;
	if (e.ee.ee_type == ICMP_TIME_EXCEEDED)
		hops_note_hop(s, ttl, (const struct sockaddr *)&e.offender);
	else if (addr_same_ip((const struct sockaddr *)&e.offender,
			      (const struct sockaddr *)&s->server))
		hops_note_server(s, ttl);
}

static void read_errors(int fd, unsigned ttl, struct hops_sweep *s)
{
	for (int i = 0; i < READS_PER_WAKE; i++) {
		union {
			struct cmsghdr align;
			uint8_t buf[256];
		} ctl;
		uint8_t data[128];
		struct iovec iov = {data, sizeof(data)};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = ctl.buf,
				   .msg_controllen = sizeof(ctl.buf)};

		if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			note_error(s, ttl, c);
	}
}

/* The reflector's answer (success or error) to this socket's request. */
static void read_answers(int fd, unsigned ttl, const uint8_t *tid, struct hops_sweep *s)
{
	for (int i = 0; i < READS_PER_WAKE; i++) {
		uint8_t buf[600];
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		struct stun_msg m;
		ssize_t n =
		    recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);

		if (n < 0)
			return;
		if (addr_equal((const struct sockaddr *)&from,
			       (const struct sockaddr *)&s->server) &&
		    stun_parse(&m, buf, (size_t)n, 0) == STUN_OK && m.method == STUN_BINDING &&
		    (m.cls == STUN_SUCCESS || m.cls == STUN_ERROR) &&
		    !memcmp(m.tid, tid, STUN_TID_LEN))
			hops_note_server(s, ttl);
	}
}

/* Until every TTL has told what it can, or SWEEP_US is over. */
static void collect(const struct sweeper *w, struct hops_sweep *s)
{
	uint64_t deadline = clock_now_us() + SWEEP_US;
	struct pollfd p[HOPS_MAX];

	for (unsigned t = 0; t < HOPS_MAX; t++) /* poll skips a negative descriptor */
		p[t] = (struct pollfd){.fd = w->fd[t], .events = POLLIN};
	while (!hops_complete(s)) {
		uint64_t now = clock_now_us();

		if (now >= deadline ||
		    (poll(p, HOPS_MAX, (int)((deadline - now + 999) / 1000)) < 0 && errno != EINTR))
			return;
		for (unsigned t = 0; t < HOPS_MAX; t++) {
			if (p[t].revents & POLLERR)
				read_errors(w->fd[t], t + 1, s);
			if (p[t].revents & POLLIN)
				read_answers(w->fd[t], t + 1, w->tid[t], s);
		}
	}
}

/* Whether TTL t still has something to tell: its hop unseen, below the
 * reflector (or the reflector not reached). */
static bool silent(const struct hops_sweep *s, unsigned t)
{
	return !s->hop[t - 1].seen && (!s->server_at || t < s->server_at);
}

/* Send at every TTL (again: only at the silent ones), and collect. */
static void sweep(const struct sockaddr *server, struct hops_sweep *s, bool again)
{
	struct sweeper w;
	unsigned opened = 0;

	for (unsigned t = 1; t <= HOPS_MAX; t++) {
		w.fd[t - 1] = again && !silent(s, t) ? -1 : send_probe(server, t, w.tid[t - 1]);
		opened += w.fd[t - 1] >= 0;
	}
	if (again && !opened)
		return;
	if (opened)
		collect(&w, s);
	else
		s->skipped = "no socket toward the reflector could be opened for the hop sweep";
	for (unsigned t = 0; t < HOPS_MAX; t++)
		if (w.fd[t] >= 0)
			close(w.fd[t]);
}

void hops_auto_sweep(const struct sockaddr *server, struct hops_auto *a)
{
	hops_sweep_init(&a->sweep, server);
	if (server->sa_family == AF_INET)
		sweep(server, &a->sweep, false);
}

void hops_auto_resweep(const struct sockaddr *server, struct hops_auto *a)
{
	if (server->sa_family == AF_INET && !a->sweep.skipped && !hops_complete(&a->sweep))
		sweep(server, &a->sweep, true);
}

static bool swept(const struct hops_sweep *s)
{
	return !s->skipped && s->family == AF_INET;
}

json_t *hops_auto_json(const struct hops_auto *a)
{
	const struct hops_sweep *s = &a->sweep;
	json_t *hops = json_array();
	char ip[ADDR_STRLEN];

	for (unsigned t = 1; t <= hops_listed(s); t++) {
		const struct sockaddr *from = (const struct sockaddr *)&s->hop[t - 1].from;
		json_t *h = json_pack("{s:i}", "ttl", (json_int_t)t);

		if (!s->hop[t - 1].seen) {
			json_object_set_new(h, "from", json_null());
		} else {
			json_object_set_new(h, "from",
					    json_string(addr_format_ip(from, ip, sizeof(ip))));
			json_object_set_new(h, "realm",
					    json_string(addr_realm_name(addr_realm(from))));
		}
		json_array_append_new(hops, h);
	}
	return json_pack("{s:i, s:s, s:s, s:o, s:o}", "ttl", (json_int_t)a->d.ttl, "decided",
			 hops_decided_name(a->d.decided), "reason", a->d.reason, "hops", hops,
			 "server_at", s->server_at ? json_integer(s->server_at) : json_null());
}

void hops_auto_print(FILE *out, const struct hops_auto *a)
{
	const struct hops_sweep *s = &a->sweep;
	char ip[ADDR_STRLEN];

	fprintf(out, "natprobe punch: opening TTL %u (", a->d.ttl);
	if (a->d.decided == HOPS_DEFAULT)
		fprintf(out, "default: %s%s", a->d.reason, swept(s) ? "; " : "");
	if (swept(s))
		fputs("hop sweep:", out);
	for (unsigned t = 1; t <= hops_listed(s); t++) {
		const struct sockaddr *from = (const struct sockaddr *)&s->hop[t - 1].from;

		if (s->hop[t - 1].seen)
			fprintf(out, " %s %s,", addr_format_ip(from, ip, sizeof(ip)),
				addr_realm_name(addr_realm(from)));
		else
			fputs(" *,", out);
	}
	if (swept(s) && s->server_at)
		fprintf(out, " reflector at %u", s->server_at);
	else if (swept(s))
		fputs(" no answer from the reflector", out);
	fputs(")\n", out);
}
