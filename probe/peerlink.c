/*
 * natprobe's end of the link to `natprobe peer` (probe/PEER.md). Requests
 * (reset, open) are retransmitted on their own clock, as RFC 8489 would, and
 * waited for: they come before any test needs the socket. Datagrams relayed
 * meanwhile are kept for the engine, not lost.
 */
#include "probe/peer.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "peermsg.h"

#define LINK_TRIES  6
#define LINK_RTO_MS 50 /* doubling: about 3 s in all */
#define LINK_QUEUE  64

struct peer_link {
	int fd;
	struct sockaddr_storage peer;
	uint32_t serial;
	struct {
		size_t len;
		uint8_t buf[PEER_MSG_MAX];
	} queue[LINK_QUEUE];
	size_t head, count;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void new_tid(peer_link_t *l, uint8_t tid[STUN_TID_LEN])
{
	uint32_t v[3] = {(uint32_t)getpid(), (uint32_t)time(NULL), ++l->serial};

	memcpy(tid, v, STUN_TID_LEN);
}

static bool from_peer(const peer_link_t *l, const struct sockaddr_storage *from)
{
	return addr_equal((const struct sockaddr *)from, (const struct sockaddr *)&l->peer);
}

static void keep(peer_link_t *l, const uint8_t *buf, size_t len)
{
	size_t at;

	if (l->count == LINK_QUEUE) /* as if lost */
		return;
	at = (l->head + l->count++) % LINK_QUEUE;
	memcpy(l->queue[at].buf, buf, len);
	l->queue[at].len = len;
}

/* Send req and wait for its answer in *ans: 0, or -1 with err. */
static int transact(peer_link_t *l, const struct peer_msg *req, struct peer_msg *ans,
		    uint8_t *ans_buf, char *err, size_t err_len)
{
	uint8_t out[PEER_MSG_MAX];
	size_t len = peer_build(req, out, sizeof(out));
	int wait = LINK_RTO_MS;

	for (int tries = 0; len && tries < LINK_TRIES; tries++, wait *= 2) {
		struct pollfd pfd = {.fd = l->fd, .events = POLLIN};
		uint64_t until = now_ms() + (uint64_t)wait;
		int left = wait;

		sendto(l->fd, out, len, 0, (struct sockaddr *)&l->peer,
		       addr_len((struct sockaddr *)&l->peer));
		/* Bounded by the clock, not by what arrives: stray datagrams
		 * cannot keep this loop waiting. */
		for (; left > 0 && poll(&pfd, 1, left) > 0;
		     left = now_ms() < until ? (int)(until - now_ms()) : 0) {
			struct sockaddr_storage from;
			socklen_t flen = sizeof(from);
			const char *why;
			ssize_t n = recvfrom(l->fd, ans_buf, PEER_MSG_MAX, 0,
					     (struct sockaddr *)&from, &flen);

			if (n < 0 || !from_peer(l, &from) ||
			    peer_parse(ans, ans_buf, (size_t)n, &why))
				continue;
			if (ans->op == PEER_DATA || ans->op == PEER_TCP_EVENT) {
				keep(l, ans_buf, (size_t)n);
				continue;
			}
			if (memcmp(ans->tid, req->tid, STUN_TID_LEN))
				continue;
			if (ans->cls == STUN_SUCCESS)
				return 0;
			snprintf(err, err_len, "the peer refused: %u %s", ans->code, ans->reason);
			return -1;
		}
	}
	snprintf(err, err_len, "no answer from the peer");
	return -1;
}

peer_link_t *peer_link_open(const struct sockaddr *peer, char *err, size_t err_len)
{
	peer_link_t *l = calloc(1, sizeof(*l));
	struct peer_msg req = {.op = PEER_RESET, .cls = STUN_REQUEST}, ans;
	uint8_t buf[PEER_MSG_MAX];

	if (!l) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	memcpy(&l->peer, peer, addr_len(peer));
	l->fd = socket(peer->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0) {
		snprintf(err, err_len, "cannot open a UDP socket: %s", strerror(errno));
		free(l);
		return NULL;
	}
	new_tid(l, req.tid);
	if (transact(l, &req, &ans, buf, err, err_len)) {
		close(l->fd);
		free(l);
		return NULL;
	}
	return l;
}

void peer_link_close(peer_link_t *l)
{
	struct peer_msg req = {.op = PEER_RESET, .cls = STUN_REQUEST};
	uint8_t out[PEER_MSG_MAX];
	size_t len;

	if (!l)
		return;
	/* Once, unanswered: a peer that misses it ends the session when idle. */
	new_tid(l, req.tid);
	len = peer_build(&req, out, sizeof(out));
	if (len)
		sendto(l->fd, out, len, 0, (struct sockaddr *)&l->peer,
		       addr_len((struct sockaddr *)&l->peer));
	close(l->fd);
	free(l);
}

int peer_link_fd(const peer_link_t *l)
{
	return l->fd;
}

static bool handle_ok(uint32_t socket)
{
	return socket < 0x7fffffffu - PEER_HANDLE_BASE;
}

/* An open, tcp-listen or tcp-connect request for a socket on the peer: its
 * handle, or -1 with the reason in err. */
static int open_on_peer(peer_link_t *l, enum peer_op op, const struct sockaddr *addr, uint16_t port,
			struct sockaddr_storage *local, char *err, size_t err_len)
{
	struct peer_msg req = {.op = op, .cls = STUN_REQUEST, .port = port}, ans;
	uint8_t buf[PEER_MSG_MAX];

	memcpy(&req.addr, addr, addr_len(addr));
	new_tid(l, req.tid);
	if (transact(l, &req, &ans, buf, err, err_len))
		return -1;
	if (!handle_ok(ans.socket)) {
		snprintf(err, err_len, "the peer gave a socket number out of range");
		return -1;
	}
	*local = ans.addr;
	return PEER_HANDLE_BASE + (int)ans.socket;
}

int peer_link_socket(peer_link_t *l, const struct sockaddr *toward, uint16_t port,
		     struct sockaddr_storage *local, char *err, size_t err_len)
{
	return open_on_peer(l, PEER_OPEN, toward, port, local, err, err_len);
}

int peer_link_tcp(peer_link_t *l, bool listen, const struct sockaddr *addr, uint16_t port,
		  struct sockaddr_storage *local, char *err, size_t err_len)
{
	return open_on_peer(l, listen ? PEER_TCP_LISTEN : PEER_TCP_CONNECT, addr, port, local, err,
			    err_len);
}

static void indicate(peer_link_t *l, struct peer_msg *pm)
{
	uint8_t out[PEER_MSG_MAX];
	size_t n;

	new_tid(l, pm->tid);
	n = peer_build(pm, out, sizeof(out));
	if (n)
		sendto(l->fd, out, n, 0, (struct sockaddr *)&l->peer,
		       addr_len((struct sockaddr *)&l->peer));
}

void peer_link_close_socket(peer_link_t *l, int handle)
{
	struct peer_msg pm = {.op = PEER_CLOSE,
			      .cls = STUN_INDICATION,
			      .socket = (uint32_t)(handle - PEER_HANDLE_BASE)};

	indicate(l, &pm);
}

void peer_link_send(peer_link_t *l, int handle, const struct sockaddr *to, const uint8_t *msg,
		    size_t len)
{
	struct peer_msg pm = {.op = PEER_SEND,
			      .cls = STUN_INDICATION,
			      .socket = (uint32_t)(handle - PEER_HANDLE_BASE),
			      .data = msg,
			      .data_len = len};

	memcpy(&pm.addr, to, addr_len(to));
	indicate(l, &pm);
}

/* What one peer message relays; 0 when it relays nothing. */
static int unpack(const uint8_t *raw, size_t raw_len, struct peer_news *n, uint8_t *buf, size_t cap)
{
	struct peer_msg pm;
	const char *why;

	if (peer_parse(&pm, raw, raw_len, &why) || !handle_ok(pm.socket))
		return 0;
	*n = (struct peer_news){.handle = PEER_HANDLE_BASE + (int)pm.socket, .from = pm.addr};
	if (pm.op == PEER_TCP_EVENT) {
		if (pm.event == PEER_EV_ACCEPTED && !handle_ok(pm.accepted))
			return 0;
		n->event = true;
		n->what = pm.event;
		n->accepted = PEER_HANDLE_BASE + (int)pm.accepted;
		return 1;
	}
	if (pm.op != PEER_DATA || pm.data_len > cap)
		return 0;
	memcpy(buf, pm.data, pm.data_len);
	n->len = pm.data_len;
	return 1;
}

int peer_link_receive(peer_link_t *l, struct peer_news *n, uint8_t *buf, size_t cap)
{
	uint8_t raw[PEER_MSG_MAX];

	while (l->count) {
		size_t at = l->head;

		l->head = (l->head + 1) % LINK_QUEUE;
		l->count--;
		if (unpack(l->queue[at].buf, l->queue[at].len, n, buf, cap))
			return 1;
	}
	for (;;) {
		struct sockaddr_storage src;
		socklen_t slen = sizeof(src);
		ssize_t got = recvfrom(l->fd, raw, sizeof(raw), 0, (struct sockaddr *)&src, &slen);

		if (got < 0)
			return 0;
		if (from_peer(l, &src) && unpack(raw, (size_t)got, n, buf, cap))
			return 1;
	}
}
