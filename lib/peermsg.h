/*
 * The messages between natprobe and its second host, `natprobe peer`
 * (probe/PEER.md): STUN-framed, method NatlabPeer (0xF4D), the operation in
 * NATLAB-PEER-OP. One codec for both ends, the unit tests and the fuzzer.
 *
 *   op     class         attributes                         direction
 *   open   request       NATLAB-PEER-PORT, XOR-PEER-ADDRESS  probe -> peer
 *          success       NATLAB-PEER-SOCKET, XOR-PEER-ADDRESS (the local one)
 *   send   indication    NATLAB-PEER-SOCKET, XOR-PEER-ADDRESS, DATA
 *   data   indication    NATLAB-PEER-SOCKET, XOR-PEER-ADDRESS (the source), DATA
 *   reset  request       -                                   probe -> peer
 *          success       -
 *   tcp-listen, tcp-connect: as open (XOR-PEER-ADDRESS: toward; to)
 *   tcp-event  indication NATLAB-PEER-SOCKET, NATLAB-PEER-EVENT, XOR-PEER-ADDRESS
 *                                        (the far end)       peer -> probe
 *   close  indication    NATLAB-PEER-SOCKET                  probe -> peer
 *   any    error         ERROR-CODE
 *
 * Every message ends with FINGERPRINT, which the parser requires.
 */
#ifndef NATLAB_PEERMSG_H
#define NATLAB_PEERMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun.h"

#define PEER_DEFAULT_PORT 3480
#define PEER_DATA_MAX     1024 /* a datagram carried in DATA, at most */
#define PEER_MSG_MAX      (PEER_DATA_MAX + 128)

enum peer_op {
	PEER_OPEN = 1,
	PEER_SEND = 2,
	PEER_DATA = 3,
	PEER_RESET = 4,
	PEER_TCP_LISTEN = 5,
	PEER_TCP_CONNECT = 6, /* answered at once; how it went comes as a tcp-event */
	PEER_TCP_EVENT = 7,
	PEER_CLOSE = 8,
};

/* NATLAB-PEER-EVENT's first byte. */
enum peer_event {
	PEER_EV_CONNECTED = 1,
	PEER_EV_REFUSED = 2,     /* a RST answered the SYN */
	PEER_EV_UNREACHABLE = 3, /* an ICMP error answered it */
	PEER_EV_TIMEDOUT = 4,
	PEER_EV_ACCEPTED = 5, /* on a listener: the new connection is `accepted` */
	PEER_EV_CLOSED = 6,
};

struct peer_msg {
	enum peer_op op;
	enum stun_class cls; /* request, success, error or indication */
	uint8_t tid[STUN_TID_LEN];
	uint32_t socket;
	uint16_t port;                /* open request: the local port wanted, 0 any */
	struct sockaddr_storage addr; /* open: toward, then local; send: to; data: from */
	const uint8_t *data;          /* send, data: points into the parsed buffer */
	size_t data_len;
	unsigned code; /* error */
	char reason[96];
	enum peer_event event; /* tcp-event */
	uint32_t accepted;     /* tcp-event ACCEPTED: the new connection's socket */
};

/* 0, or -1 when buf is no well-formed peer message (what is wrong in why). */
int peer_parse(struct peer_msg *pm, const uint8_t *buf, size_t len, const char **why);
/* The message's length in buf, or 0 when it does not fit. */
size_t peer_build(const struct peer_msg *pm, uint8_t *buf, size_t cap);

#endif
