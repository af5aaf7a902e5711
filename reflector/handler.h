/*
 * natreflector's request handler: a pure function from (request, the socket
 * role it arrived on, its source) to (reply, the role to send it from, its
 * destination). No sockets: the event loop around it does the I/O, and the
 * unit tests drive it directly (the shape of stunserver's messagehandler).
 *
 * The four sockets are roles, two bits: bit 0 the alternate port, bit 1 the
 * alternate address. RFC 5780's CHANGE-REQUEST is an XOR on the role.
 */
#ifndef NATLAB_REFLECTOR_HANDLER_H
#define NATLAB_REFLECTOR_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "reflector/natlabtest.h"

enum refl_role {
	REFL_PP = 0, /* primary address, primary port */
	REFL_PA = 1, /* primary address, alternate port */
	REFL_AP = 2, /* alternate address, primary port */
	REFL_AA = 3, /* alternate address, alternate port */
};
#define REFL_ROLE_CHANGE_PORT 1u
#define REFL_ROLE_CHANGE_IP   2u

/* A reply to an unauthenticated request without PADDING is at most this
 * long, whatever the request: natreflector is never an amplifier. */
#define REFL_MAX_PLAIN_REPLY 256

struct refl_cfg {
	/* What RESPONSE-ORIGIN and OTHER-ADDRESS say for each role: the bound
	 * addresses, or the public ones behind a 1:1 NAT. */
	struct sockaddr_storage advertised[4];
	const char *software; /* SOFTWARE in replies; NULL for none */
	const uint8_t *key;   /* short-term credential; NULL: no authentication */
	size_t key_len;
	/* natlab's own tests: the secret session keys derive from; NULL: off. */
	const uint8_t *session_secret;
	size_t session_secret_len;
};

struct refl_request {
	const uint8_t *msg;
	size_t len;
	enum refl_role role; /* the socket it arrived on */
	const struct sockaddr *from;
	bool tcp;
};

struct refl_reply {
	enum refl_role role;        /* send from this socket */
	struct sockaddr_storage to; /* to this address */
	size_t len;                 /* 0: no reply */
	const char *drop;           /* why there is no reply, for the counters */
	unsigned error;             /* the error code sent, 0 for a success */
	bool test;                  /* len 0: a natlab test to carry out, then answer */
	struct refl_test order;
};

/* Handle one request; the reply is written into buf (cap bytes). */
void refl_handle(const struct refl_cfg *cfg, const struct refl_request *req, uint8_t *buf,
		 size_t cap, struct refl_reply *out);

#endif
