/*
 * One side of one traversal trial (RFC 5128 section 3): the packets two
 * probes send each other through their NATs, and the decision whether they
 * got through. Pure, like the probe engine: the driver (natprobe punch, or
 * the simulated network of the unit tests) feeds it received datagrams and
 * the time; it answers with datagrams to send, through a callback, and in
 * the end with an outcome.
 *
 * What crosses is a NatlabPunch indication (STUN method 0xF4E):
 *
 *   USERNAME                 the session ID
 *   NATLAB-TOKEN             8 bytes: this side's token, fresh per trial
 *   NATLAB-ECHO              8 bytes: the other side's token, once seen
 *   MESSAGE-INTEGRITY-SHA256 keyed with the session key
 *   FINGERPRINT
 *
 * A trial succeeds on this side only when both directions are proven: a
 * packet that verifies with the session key came from the other probe
 * (its token), and a packet that verifies echoes this side's own token (the
 * other probe got ours). Anything else (a packet that does not verify, from
 * another session, our own token coming back) is counted and dropped; one
 * from the address of an endpoint the rendezvous named is an impostor (a
 * host that owns the other probe's private address on this side's LAN, a
 * stale mapping) and is named in the result. Every verified packet is
 * answered once, to the endpoint it came from: the one the other NAT really
 * uses, which may not be the one the rendezvous named; except one whose
 * sender says it has its proof (byte 8 of the transaction ID, under the
 * integrity; punch_build's done), so that answers do not answer answers.
 * Answers to an address no candidate has (a NAT that sends from another
 * address of its pool, or a replay with a forged source) are at most
 * PUNCH_STRANGER_REPLIES a trial (RFC 5128 6.2): this side sends only to
 * what the session named, but for those.
 */
#ifndef NATLAB_PROBE_PUNCH_H
#define NATLAB_PROBE_PUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PUNCH_TOKEN_LEN        8
#define PUNCH_MAX_PRIVATE      3 /* the other probe's own endpoints, as the rendezvous names them */
#define PUNCH_MAX_PREDICTED    8 /* port prediction's window (guess.h) */
#define PUNCH_MAX_CANDIDATES   (PUNCH_MAX_PRIVATE + PUNCH_MAX_PREDICTED + 1)
#define PUNCH_MAX_SESSION      64
#define PUNCH_DONE             1 /* transaction ID byte 8: the sender has its proof */
#define PUNCH_MAX_IMPOSTORS    4 /* impostor endpoints named in a result */
#define PUNCH_STRANGER_REPLIES 4 /* answers a trial to addresses nobody named */

/* The path a success took (INTERFACE.md: punch[].path). */
enum punch_path {
	PUNCH_PATH_PUBLIC,  /* the other NAT's public endpoint */
	PUNCH_PATH_PRIVATE, /* the other probe's own endpoint (behind the same NAT) */
	PUNCH_PATH_HAIRPIN, /* a public endpoint reached through a NAT's hairpinning */
	PUNCH_PATH_RELAY,   /* through the rendezvous server */
};

enum punch_outcome {
	PUNCH_PENDING,
	PUNCH_SUCCESS,
	PUNCH_FAILED,       /* the trial ran its time; no proof both ways */
	PUNCH_SETUP_FAILED, /* the trial could not start (the driver's to say) */
};

struct punch_candidate {
	struct sockaddr_storage addr;
	enum punch_path path;
	bool predicted; /* guessed from the other NAT's port pattern, not named by the rendezvous */
};

struct punch_cfg {
	char session[PUNCH_MAX_SESSION + 1];
	uint8_t key[64];
	size_t key_len;
	uint8_t token[PUNCH_TOKEN_LEN]; /* this side's, fresh per trial */
	/* The other probe's token for this trial, as the rendezvous named it: a
	 * packet with any other (a replay from an earlier trial, a third probe)
	 * is refused. Its last byte is not compared: a hard side's birthday
	 * sockets vary it (guess_hard_cfg). bind_peer false: the first that
	 * verifies is taken. */
	bool bind_peer;
	uint8_t peer_token[PUNCH_TOKEN_LEN];
	/* Where the rendezvous says the other probe is, tried in this order. */
	struct punch_candidate cand[PUNCH_MAX_CANDIDATES];
	size_t ncand;
	/* Connection reversal (RFC 5128 3.2): send nothing until the other
	 * probe's packet arrives, then only answer. */
	bool passive;
	uint64_t interval_us; /* between rounds to every candidate */
	unsigned max_rounds;  /* rounds at most: the packets sent are bounded */
	uint64_t timeout_us;  /* from the start to "failed" */
	/*
	 * The first round with this IP TTL (0: none): enough to open this
	 * side's NAT, too little to reach the other's. A packet that reaches
	 * the other NAT before its own side has sent can take the very
	 * conntrack tuple that side needs next (Linux then maps it to another
	 * port: ../shared/notes/traversal.md); an opening round that dies on
	 * the way cannot, and the full rounds that follow find both open.
	 */
	unsigned open_ttl;
	/*
	 * Guessed ports of spray_to's address (the birthday probes: guess.h),
	 * each sent once, spray_per_round a round after the candidates, from
	 * the first full round on. The array is the caller's and must outlive
	 * the trial; NULL: none.
	 */
	const uint16_t *spray;
	size_t nspray;
	unsigned spray_per_round;
	struct sockaddr_storage spray_to;
};

/* An endpoint at a candidate's address whose packets did not prove the
 * other probe, and how many it sent. */
struct punch_impostor {
	struct sockaddr_storage addr;
	unsigned packets;
};

/* What the trial found, on this side. */
struct punch_result {
	enum punch_outcome outcome;
	enum punch_path path;
	/* The success met the strict rule: the other probe's packets came from
	 * the endpoint the rendezvous named. False: from another endpoint of
	 * the same address (the other NAT mapped anew toward us). */
	bool strict;
	/* The proof came from an endpoint this side guessed (a predicted
	 * candidate, a sprayed port) rather than one the rendezvous named. */
	bool predicted;
	struct sockaddr_storage peer; /* where the proof came from */
	uint64_t connect_us;          /* from the start to the proof both ways */
	unsigned rounds, sent, replies;
	unsigned verified, rejected; /* packets that verified; that did not */
	unsigned strangers;          /* answers sent to an address no candidate has */
	/* Rejected packets from a candidate's address (any port), and the
	 * first PUNCH_MAX_IMPOSTORS endpoints they came from. */
	unsigned impostors;
	struct punch_impostor imp[PUNCH_MAX_IMPOSTORS];
	size_t nimp;
};

/* Send msg to `to`; ttl 0: the socket's default, else this IP TTL (hop limit). */
typedef int (*punch_send_fn)(void *ctx, const struct sockaddr *to, const uint8_t *msg, size_t len,
			     unsigned ttl);

struct punch_trial {
	struct punch_cfg cfg;
	punch_send_fn send;
	void *ctx;
	uint64_t start_us, next_us;
	bool have_peer_token, echoed;
	uint8_t peer_token[PUNCH_TOKEN_LEN];
	unsigned max_replies;
	unsigned linger; /* packets still to send to the proven endpoint */
	size_t sprayed;  /* of cfg.spray */
	struct punch_result res;
};

void punch_start(struct punch_trial *t, const struct punch_cfg *cfg, punch_send_fn send, void *ctx,
		 uint64_t now_us);
/* A datagram arrived on the trial's socket. */
void punch_receive(struct punch_trial *t, const struct sockaddr *from, const uint8_t *msg,
		   size_t len, uint64_t now_us);
void punch_tick(struct punch_trial *t, uint64_t now_us);
/* When tick must next be called; UINT64_MAX when nothing is left to send.
 * A side that succeeded still sends a few packets to the proven endpoint,
 * and answers what arrives: keep feeding it until the other side is done. */
uint64_t punch_deadline(const struct punch_trial *t);
bool punch_done(const struct punch_trial *t);

/* Build one NatlabPunch packet (for tests and the driver); its length or 0. */
size_t punch_build(const struct punch_cfg *cfg, const uint8_t *echo, bool done, uint8_t *buf,
		   size_t cap);

/* The pieces a trial over another transport (probe/punchtcp.h) shares. */
enum punch_check {
	PUNCH_CHECK_PEER,    /* the other probe's: verified, its token the one named */
	PUNCH_CHECK_FORGED,  /* no NatlabPunch of this session under its key */
	PUNCH_CHECK_MIRROR,  /* this side's own packet come back */
	PUNCH_CHECK_OTHER,   /* verified, but another probe's or another trial's token */
	PUNCH_CHECK_SIBLING, /* the named probe's, from another of its birthday sockets */
};
/* A received packet checked against cfg and the other probe's token seen
 * so far (NULL: none yet); for PUNCH_CHECK_PEER also its token, the echo of
 * ours (NULL if none) and whether its sender is done. */
enum punch_check punch_check(const struct punch_cfg *cfg, const uint8_t *peer_token,
			     const uint8_t *msg, size_t len, const uint8_t **token,
			     const uint8_t **echo, bool *done);
/* A packet that is not the other probe's, counted into r; an impostor's
 * (from where the other probe should be) named. */
void punch_reject(const struct punch_cfg *cfg, struct punch_result *r, const struct sockaddr *from,
		  enum punch_check c);
/* The path, strictness and prediction of a proof from `from` into res
 * (sprayed: how many of cfg's guessed ports went out). */
void punch_classify(const struct punch_cfg *cfg, size_t sprayed, const struct sockaddr *from,
		    struct punch_result *res);
/* Count `packets` from an impostor at `from` into r (named while there is
 * room): for the trial, and for what sums trials (birthday's sockets). */
void punch_note_impostor(struct punch_result *r, const struct sockaddr *from, unsigned packets);
/* r's impostors added to sum's. */
void punch_add_impostors(struct punch_result *sum, const struct punch_result *r);

const char *punch_path_name(enum punch_path p);
const char *punch_outcome_name(enum punch_outcome o);

#endif
