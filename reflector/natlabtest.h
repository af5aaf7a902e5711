/*
 * natlab's own tests, the decisions: pure functions from a NatlabTest request
 * to an order (send a UDP datagram or a TCP SYN from one of the four roles to
 * the requester's own address), and from an order and what was observed to
 * the answer. reflector/PROTOCOL.md is the protocol; server.c and probes.c
 * do the I/O.
 *
 * Requests are authenticated per probe session: USERNAME is the session ID,
 * MESSAGE-INTEGRITY is keyed with the session key, which the reflector
 * derives from its secret and the ID (refl_session_key), so it keeps no
 * session table and an operator issues sessions without touching it.
 */
#ifndef NATLAB_REFLECTOR_NATLABTEST_H
#define NATLAB_REFLECTOR_NATLABTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun.h"

enum refl_test_action {
	REFL_TEST_UDP = 1, /* a STUN indication carrying the token */
	REFL_TEST_SYN = 2, /* a TCP SYN whose sequence number is the token's first 4 bytes */
	/* Simultaneous open (RFC 5382 REQ-2): a silent port X on the role's
	 * address, answered at once with X; the first SYN to X from anywhere
	 * draws the reflector's own connect() from X back to its source. */
	REFL_TEST_SIMOPEN_ARM = 3,
	/* How that went: answered once the connect() has ended, or at ARM's deadline. */
	REFL_TEST_SIMOPEN_RESULT = 4,
	/* ICMP translation (RFC 5382 REQ-9): a silent port X as for SIMOPEN-ARM;
	 * the first SYN to X is answered with ICMP host unreachable, quoting
	 * it. SIMOPEN-RESULT with the same token says whether that SYN came. */
	REFL_TEST_ICMP_ARM = 5,
	/* ICMP errors into a live connection (RFC 5382 REQ-10): port unreachable
	 * and time exceeded about the connection the order came on, sent to its
	 * peer (the mapping), quoting its next segment; answered once sent. */
	REFL_TEST_ICMP_CONN = 6,
	/* RFC 5382 REQ-4's hold: the reflector connect()s at once from a fresh
	 * port X on the role's address to the target (a mapping of the
	 * requester's, NATLAB-TARGET-PORT), answered at once with X; the client
	 * connects to X later, and SIMOPEN-RESULT with the same token says how
	 * the reflector's connect() ended and what answered its SYN first. */
	REFL_TEST_SYN_HOLD = 7,
	/* RFC 5382 REQ-5: the connection the order came on may idle up to
	 * REFL_KEEP_S instead of --tcp-idle; answered at once. */
	REFL_TEST_KEEP = 8,
	/* RFC 5382 REQ-5's check: an answer pushed down a kept connection of the
	 * requester's (NATLAB-TARGET-PORT: its peer's port, as ICMP-CONN), not
	 * the order's; on the order's own connection when there is none. A kept
	 * connection whose peer half-closed it stays open for this. */
	REFL_TEST_PUSH = 9,
};

#define REFL_KEEP_S 10800 /* 3 h: REQ-5's 2 h 4 min, and room */

#define REFL_TEST_COPIES_MAX 20 /* of each ICMP error (NATLAB-ACTION's third byte) */

enum refl_outcome {
	REFL_SEEN_NOTHING = 0,
	REFL_SEEN_SYN_ACK = 1,
	REFL_SEEN_RST = 2,
	REFL_SEEN_ICMP = 3,
	REFL_SEEN_CONNECTED = 4, /* simultaneous open: the reflector's connect() completed */
};

#define REFL_SESSION_ID_MAX    64
#define REFL_SESSION_KEY_LEN   32 /* hex characters */
#define REFL_TEST_WAIT_MIN     50
#define REFL_TEST_WAIT_MAX     3000
#define REFL_TEST_WAIT_MAX_SYN 10000 /* RFC 5382 REQ-4: a NAT may hold a SYN for 6 s */
#define REFL_TEST_WAIT_DEFAULT 500

struct refl_test {
	enum refl_test_action action;
	unsigned from_role;             /* 0..3, the role that sends */
	struct sockaddr_storage target; /* the requester's address, maybe another port */
	uint8_t token[8];
	uint32_t wait_ms;
	unsigned copies; /* ICMP tests: how many times each error is sent (1..20) */
	/* For the answer. */
	uint8_t tid[STUN_TID_LEN];
	char key[REFL_SESSION_KEY_LEN + 1];
	bool fingerprint;
};

struct refl_observation {
	enum refl_outcome outcome;
	uint8_t icmp_type, icmp_code;
	struct sockaddr_storage from; /* who answered (for ICMP, the router) */
	uint8_t ttl;                  /* the IP TTL it arrived with; 0 when nothing was seen */
	uint32_t elapsed_us;
	/* Over TCP: the TTL of the SYN that opened the connection the request
	 * came on (0: not seen). What the client's own host sends arrives with
	 * it; a NAT's own answer, as a rule, with another. */
	uint8_t peer_ttl;
	/* Simultaneous open: the source of the SYN the silent port saw (family 0: none). */
	struct sockaddr_storage seen_syn;
};

/* key = the first 32 hex digits of HMAC-SHA256(secret, "natlab session " ID). */
void refl_session_key(const uint8_t *secret, size_t secret_len, const char *id,
		      char key[REFL_SESSION_KEY_LEN + 1]);

/*
 * Check a NatlabTest request from `from` (over TCP, the connection's peer:
 * the TCP mapping). 0 and *t filled when it is to be carried out; otherwise
 * the STUN error code to answer with and its reason. The session secret may
 * be NULL: tests are then refused (403).
 */
unsigned refl_test_accept(const struct stun_msg *m, const struct sockaddr *from,
			  const uint8_t *secret, size_t secret_len, struct refl_test *t,
			  const char **reason);

/* The datagram of a UDP test: a NatlabTest indication with the token. */
enum stun_err refl_test_datagram(const struct refl_test *t, uint8_t *buf, size_t cap, size_t *len);

/* The answer: success, with what was seen, signed with the session key.
 * sent_from is the advertised address of the role that sent. */
enum stun_err refl_test_answer(const struct refl_test *t, const struct refl_observation *o,
			       const struct sockaddr *sent_from, const char *software, uint8_t *buf,
			       size_t cap, size_t *len);

const char *refl_outcome_name(enum refl_outcome o);

#endif
