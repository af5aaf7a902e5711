/*
 * natprobe's second host behind the same NAT (probe/PEER.md): the link the
 * driver keeps to a `natprobe peer`, and that program's own entry point.
 * The engine never sees the link: to it, the peer's sockets are sockets
 * like any other, with handles from PEER_HANDLE_BASE up.
 */
#ifndef NATLAB_PROBE_PEER_H
#define NATLAB_PROBE_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "peermsg.h"

#define PEER_HANDLE_BASE 0x100000

typedef struct peer_link peer_link_t;

/* Reach the peer (a reset, which also ends any session of ours it still
 * had); NULL with the reason in err when it does not answer. */
peer_link_t *peer_link_open(const struct sockaddr *peer, char *err, size_t err_len);
void peer_link_close(peer_link_t *l);
int peer_link_fd(const peer_link_t *l);
/* One more socket on the peer, on port (0: any), its address as packets to
 * toward leave with in local. A handle, or -1 with the reason in err. */
int peer_link_socket(peer_link_t *l, const struct sockaddr *toward, uint16_t port,
		     struct sockaddr_storage *local, char *err, size_t err_len);
/* A TCP listener (listen) or connection (to `addr`) on the peer, from port
 * (0: any), bound toward addr; the rest as peer_link_socket. A connection's
 * outcome comes later, as news. */
int peer_link_tcp(peer_link_t *l, bool listen, const struct sockaddr *addr, uint16_t port,
		  struct sockaddr_storage *local, char *err, size_t err_len);
/* Close one of the peer's sockets (unanswered: a lost close ends with the session). */
void peer_link_close_socket(peer_link_t *l, int handle);
/* Send msg from the peer's socket handle to `to` (a TCP connection: down
 * it). Loss is the engine's to handle, as for any datagram. */
void peer_link_send(peer_link_t *l, int handle, const struct sockaddr *to, const uint8_t *msg,
		    size_t len);
/* What the peer relayed: a message (in buf) or a TCP connection's news. */
struct peer_news {
	bool event;                   /* TCP news, else a message of len bytes in buf */
	int handle;                   /* where it arrived, or whose news it is */
	struct sockaddr_storage from; /* the message's source; the connection's far end */
	enum peer_event what;         /* the news */
	int accepted;                 /* ACCEPTED: the new connection's handle */
	size_t len;
};

/* The next thing the peer relayed: 1, 0 when there is none now. */
int peer_link_receive(peer_link_t *l, struct peer_news *n, uint8_t *buf, size_t cap);

/* `natprobe peer ...`: argv[0] is "peer". */
int peer_agent_main(int argc, char **argv);

#endif
