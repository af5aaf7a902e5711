/*
 * One side of one TCP traversal trial (RFC 5128 3.4, TCP simultaneous
 * open; 3.2 over TCP, connection reversal; 3.6, port prediction). Pure,
 * like punch.h: the driver (natprobe punch, or the simulated network of the
 * unit tests) owns the sockets: a listener on the trial's port, and a
 * connect from that same port to each endpoint the trial names. It tells
 * the trial what became of them (connected, refused, accepted, bytes) and
 * the time; the trial tells it, through callbacks, what to connect, send
 * and close, and in the end gives the outcome.
 *
 * Authentication (RFC 5128 6.1): the first bytes each side sends on every
 * connection, made or accepted, are a NatlabPunch (punch.h: the session, a
 * token fresh per trial, the integrity under the session key), framed as
 * STUN over TCP is. Each side answers the first verified one with its own,
 * echoing the other's token. A side succeeds on a connection that carried
 * the other probe's token (the one the rendezvous named) and the echo of
 * its own: proven both ways. A connection whose first message does not
 * verify, carries another token or this side's own (a mirror), or does not
 * come within PTCP_HELLO_US of the connection, is closed and counted; one
 * at a candidate's address is an impostor, named as UDP's are.
 *
 * Bounds (RFC 5128 6.2): one connect to each candidate, and one more a
 * round later to one whose connect was refused or unreachable (at full
 * TTL); at most PTCP_MAX_ACCEPTED connections accepted (more are closed);
 * two messages a side a connection; all closed at the end but the proven
 * one, which the driver closes when the trial is done.
 */
#ifndef NATLAB_PROBE_PUNCHTCP_H
#define NATLAB_PROBE_PUNCHTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "probe/punch.h"

#define PTCP_MAX_ACCEPTED 4
#define PTCP_MAX_ATTEMPTS (2 * PUNCH_MAX_CANDIDATES)
#define PTCP_MAX_CONNS    (PTCP_MAX_ATTEMPTS + PTCP_MAX_ACCEPTED)
#define PTCP_HELLO_US     1000000 /* from a connection's start to the other's first message */
#define PTCP_FRAME_MAX    256     /* a NatlabPunch is about 100 bytes */

/* What became of a connect the trial asked for. */
enum ptcp_outcome {
	PTCP_PENDING,
	PTCP_CONNECTED,   /* and the other probe proven on it, or not yet */
	PTCP_REFUSED,     /* a RST (the other NAT, or host, refused the SYN) */
	PTCP_UNREACHABLE, /* an ICMP error came back */
	PTCP_TIMED_OUT,   /* the kernel gave up on its SYNs */
	PTCP_REJECTED,    /* connected, but what came did not prove the other probe */
	PTCP_ABANDONED,   /* closed by the trial: another connection won, or the time ran out */
	PTCP_NOT_STARTED, /* the driver could not open a socket for it */
};

/* Which of the trial's own moves made the proven connection. */
enum ptcp_won { PTCP_WON_NONE, PTCP_WON_CONNECT, PTCP_WON_ACCEPT };

struct ptcp_attempt {
	struct punch_candidate to;
	size_t cand;  /* its index in the trial's candidates */
	unsigned ttl; /* of its first SYN (0: the default) */
	enum ptcp_outcome outcome;
	uint64_t ended_us; /* from the trial's start to its outcome (0 pending) */
};

/* The driver's sockets, as handles it chooses (>= 0). connect: from the
 * trial's port to `to`, the first SYN with IP TTL ttl (0: the default);
 * -1 when no socket could be opened. */
struct ptcp_ops {
	int (*connect)(void *ctx, const struct sockaddr *to, unsigned ttl);
	int (*send)(void *ctx, int h, const uint8_t *msg, size_t len);
	void (*close)(void *ctx, int h);
};

struct ptcp_conn {
	int h;       /* -1: a free slot */
	int attempt; /* its index in attempts; -1 when accepted */
	struct sockaddr_storage peer;
	uint64_t since_us;
	uint8_t buf[PTCP_FRAME_MAX];
	size_t have;
	bool heard;     /* a verified message of the other probe's came on it */
	bool sent_echo; /* this side's message with the other's token sent on it */
};

struct ptcp_trial {
	struct punch_cfg cfg;
	struct ptcp_ops ops;
	void *ctx;
	uint64_t start_us, retry_us;
	bool have_peer_token;
	uint8_t peer_token[PUNCH_TOKEN_LEN];
	struct ptcp_attempt att[PTCP_MAX_ATTEMPTS];
	size_t natt;
	bool retry_due[PUNCH_MAX_CANDIDATES], retried[PUNCH_MAX_CANDIDATES];
	struct ptcp_conn conn[PTCP_MAX_CONNS];
	unsigned accepted, refused_accepts;
	int winner; /* conn index, -1 none */
	enum ptcp_won won;
	struct punch_result res;
};

void ptcp_start(struct ptcp_trial *t, const struct punch_cfg *cfg, const struct ptcp_ops *ops,
		void *ctx, uint64_t now_us);
/* A connect the trial asked for (handle h) ended: PTCP_CONNECTED, REFUSED,
 * UNREACHABLE or TIMED_OUT. */
void ptcp_connect_done(struct ptcp_trial *t, int h, enum ptcp_outcome o, uint64_t now_us);
/* The listener accepted a connection from peer, as handle h. */
void ptcp_accepted(struct ptcp_trial *t, int h, const struct sockaddr *peer, uint64_t now_us);
/* Bytes arrived on h; n 0: the other end closed it. */
void ptcp_bytes(struct ptcp_trial *t, int h, const uint8_t *buf, size_t n, uint64_t now_us);
void ptcp_tick(struct ptcp_trial *t, uint64_t now_us);
uint64_t ptcp_deadline(const struct ptcp_trial *t);
bool ptcp_done(const struct ptcp_trial *t);
/* The proven connection's handle, -1 none. */
int ptcp_winner(const struct ptcp_trial *t);

const char *ptcp_outcome_name(enum ptcp_outcome o);
const char *ptcp_won_name(enum ptcp_won w);

#endif
