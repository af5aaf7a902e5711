/*
 * The rendezvous of two probes for a traversal trial (RFC 5128's server S;
 * reflector/PROTOCOL.md, "Rendezvous"): the decisions, without sockets or
 * clock. Each probe registers under a session ID and a trial number from
 * the socket it will punch with; once two have, each is told the other's
 * endpoints and when to start, so that their first packets cross. (A
 * "session" below is one trial of a session ID.)
 *
 * State is bounded: at most max_sessions sessions of two probes each, a
 * session forgotten ttl_ms after its last registration; a third probe in a
 * session is refused, and a full table refuses new sessions.
 */
#ifndef NATLAB_REFLECTOR_RENDEZVOUS_H
#define NATLAB_REFLECTOR_RENDEZVOUS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun.h"

#define RDV_MAX_PRIVATE 4
#define RDV_MSG_MAX     512

typedef struct rdv rdv_t;

struct rdv_limits {
	size_t max_sessions;
	uint32_t ttl_ms;
};

/* A message to send: an answer to the requester, or the start pushed to the
 * probe that registered first. From the socket the request came in on. */
struct rdv_out {
	struct sockaddr_storage to;
	size_t len;
	uint8_t buf[RDV_MSG_MAX];
};

/* NULL when out of memory. */
rdv_t *rdv_new(const struct rdv_limits *l);
void rdv_free(rdv_t *r);

/*
 * A parsed NatlabRendezvous request from `from` (its public endpoint as S
 * sees it). Writes 0 to 2 messages into out; returns how many. *counter
 * names what happened, for the reflector's counters. The secret (NULL: the
 * rendezvous is off, 403) derives each session's key (refl_session_key).
 */
size_t rdv_handle(rdv_t *r, const struct stun_msg *m, const struct sockaddr *from,
		  const uint8_t *secret, size_t secret_len, uint64_t now_ms, struct rdv_out out[2],
		  const char **counter);

/* Forget sessions idle past the TTL; how many were forgotten. */
size_t rdv_expire(rdv_t *r, uint64_t now_ms);
size_t rdv_sessions(const rdv_t *r);

#endif
