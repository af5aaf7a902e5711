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
 *
 * The relay (RFC 5128 3.1): when both probes of a trial ask for it
 * (NATLAB-RELAY in their registrations) and fewer than max_relays relays
 * run, the meeting grants it, and S forwards the trial's NatlabPunch
 * indications, as they are, from each probe's registered endpoint to the
 * other's: only packets that verify with the session key, at most
 * relay_pps a second, relay_bytes and relay_ms from the meeting per trial.
 */
#ifndef NATLAB_REFLECTOR_RENDEZVOUS_H
#define NATLAB_REFLECTOR_RENDEZVOUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun.h"

#define RDV_MAX_PRIVATE 4
#define RDV_MSG_MAX     512
#define RDV_COOKIE_LEN  STUN_NATLAB_COOKIE_LEN

typedef struct rdv rdv_t;

struct rdv_limits {
	size_t max_sessions;
	uint32_t ttl_ms;
	size_t max_relays;    /* trials relayed at once (0: no relay) */
	uint32_t relay_ms;    /* a relay's life from the meeting */
	uint32_t relay_bytes; /* bytes a relay forwards, both ways */
	uint32_t relay_pps;   /* packets a relay forwards a second, both ways */
};

/* A message to send: an answer to the requester, or the start pushed to the
 * probe that registered first. From the socket the request came in on. */
struct rdv_out {
	struct sockaddr_storage to;
	bool tcp; /* down the connection from `to` (the trial registered over TCP) */
	size_t len;
	uint8_t buf[RDV_MSG_MAX];
};

/* NULL when out of memory. */
rdv_t *rdv_new(const struct rdv_limits *l);
void rdv_free(rdv_t *r);

/*
 * A parsed NatlabRendezvous request from `from` (its public endpoint as S
 * sees it), over TCP (a connection from the port the probe will connect
 * from: the handshake proved the source) or UDP (proven by the cookie).
 * The two probes of a trial register over one transport (else 400).
 * Writes 0 to 2 messages into out, returns how many: out[0] the answer, to
 * `from`; out[1] the start, to the other probe (down its own connection
 * when tcp). *counter names what happened, for the reflector's counters.
 * The secret (NULL: the rendezvous is off, 403) derives each session's key
 * (refl_session_key).
 */
size_t rdv_handle(rdv_t *r, const struct stun_msg *m, const struct sockaddr *from, bool tcp,
		  const uint8_t *secret, size_t secret_len, uint64_t now_ms, struct rdv_out out[2],
		  const char **counter);

/*
 * A message of len bytes that parsed as m, a NatlabPunch indication, from
 * `from` over the transport its trial registered with: when it belongs to
 * a granted relay, within its limits, out is the same bytes to the other
 * probe and 1 is returned; else 0, with *counter saying why it was dropped.
 */
size_t rdv_relay(rdv_t *r, const struct stun_msg *m, const uint8_t *msg, size_t len,
		 const struct sockaddr *from, bool tcp, uint64_t now_ms, struct rdv_out *out,
		 const char **counter);

/* The NATLAB-COOKIE a registration from `from` must echo (for tests and
 * the reflector's own use). */
void rdv_cookie(const uint8_t *secret, size_t secret_len, const struct sockaddr *from,
		const char *id, uint32_t trial, const uint8_t *token, uint8_t out[RDV_COOKIE_LEN]);

/* Forget sessions idle past the TTL; how many were forgotten. */
size_t rdv_expire(rdv_t *r, uint64_t now_ms);
size_t rdv_sessions(const rdv_t *r);
size_t rdv_relays(const rdv_t *r, uint64_t now_ms); /* relays running */

#endif
