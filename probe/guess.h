/*
 * Guessed endpoints: where the other NAT's next mappings should be, for
 * port prediction (RFC 5128 3.5) and birthday punching (Tailscale's; the
 * reasoning of both is predict.c's, steps 5 and 6). Pure: ports, counts and
 * odds from the two classifications; the sockets are the driver's.
 *
 * Bounds, and why:
 * - Port prediction guesses PUNCH_MAX_PREDICTED (8) ports, P+d ... P+8d: the
 *   ports the other NAT gives the new mappings of a round (one, or one per
 *   guess of ours it answers in step), with room for a few taken by other
 *   hosts in between. Each is a candidate, sent every round (20 rounds of
 *   9 packets: 180 packets in 1 s at most).
 * - Birthday: the hard side opens GUESS_SOCKETS (256) sockets, the easy side
 *   sends to GUESS_PROBES (1024) distinct guessed ports, each once, over the
 *   rounds after the opening one (about 54 a round, 1100 packets/s for 1 s):
 *   Tailscale's numbers, 98% against a 64512-port range.
 * - A hard side with sequential ports needs no chance: GUESS_SEQ_SOCKETS (4)
 *   sockets, and its next GUESS_SEQ_WINDOW (16) ports guessed, each
 *   GUESS_SEQ_REPEAT (4) times: 64 packets instead of 1024.
 */
#ifndef NATLAB_PROBE_GUESS_H
#define NATLAB_PROBE_GUESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "probe/predict.h"
#include "probe/punch.h"

#define GUESS_SOCKETS     256
#define GUESS_PROBES      1024
#define GUESS_SEQ_SOCKETS 4
#define GUESS_SEQ_WINDOW  16
#define GUESS_SEQ_REPEAT  4
/* A hard side's port range is not in its classification: the ports any NAT
 * may use. The odds hold whenever its real range lies inside. */
#define GUESS_PORT_LO 1024
#define GUESS_PORT_HI 65535

/* Port prediction: pub's next ports, P+d ... P+window*d, as predicted
 * candidates (those past 65535 left out); how many. */
size_t guess_window(const struct sockaddr *pub, unsigned delta, unsigned window,
		    struct punch_candidate *out, size_t cap);

/* What a birthday trial may use (tests shrink them). */
struct guess_bounds {
	unsigned sockets, probes;
	uint16_t port_lo, port_hi;
	bool range_known; /* false: the default range, assumed */
};

void guess_bounds_default(struct guess_bounds *b);

/* One birthday trial as both sides plan it. */
struct guess_birthday {
	enum predict_role role; /* this side's */
	bool sequential;        /* the hard side's next ports guessed, not drawn */
	unsigned sockets;       /* the hard side's */
	unsigned probes;        /* the easy side's packets to guessed ports */
	uint16_t port_lo, port_hi;
	bool range_known;
	double predicted; /* the chance of at least one hit */
	/* The easy side's guesses, in sending order. */
	uint16_t port[GUESS_PROBES];
	size_t nport;
};

/*
 * The plan, from both classifications. hard_port is the hard side's
 * registered port (its mapping toward the rendezvous: never one of the
 * sockets', so never guessed; the base of a sequence); seed draws the
 * random guesses (the easy side's only).
 */
void guess_birthday_plan(const struct predict_side *me, const struct predict_side *them,
			 uint16_t hard_port, const struct guess_bounds *b, uint64_t seed,
			 struct guess_birthday *plan);

/*
 * The chance that `probes` distinct guesses among `range` ports hit at
 * least one of `sockets` mappings drawn at random from the same ports:
 * 1 - C(range - sockets, probes) / C(range, probes). About
 * 1 - (1 - sockets/range)^probes, or 1 - exp(-sockets*probes/range).
 */
double guess_birthday_odds(unsigned sockets, unsigned probes, unsigned range);

/* The easy side's trial: base, plus the guesses sprayed at to's address
 * over the rounds after the opening one. */
void guess_easy_cfg(const struct punch_cfg *base, const struct guess_birthday *plan,
		    const struct sockaddr *to, struct punch_cfg *out);
/* The hard side's socket i: socket 0 (the registered one) punches as
 * usual; the others send the opening round only (the easy NAT must not see
 * their packets before its own went out: ../shared/notes/traversal.md) and
 * then answer. Each has a token of its own: the easy side keeps to the first
 * socket that reached it (another token is a third probe to it), and only
 * that socket can collect the echo of its token, so a success on the hard
 * side is one whose own packets crossed both ways, never one inferred from
 * a sibling's echo. */
void guess_hard_cfg(const struct punch_cfg *base, unsigned i, struct punch_cfg *out);

/* Many sockets' trials as one: the first success, or failed when all ran
 * out; packets summed. */
void guess_merge(const struct punch_trial *t, size_t n, struct punch_result *out);
/* When the driver must next tick them: the successful one's, once there is
 * one (the rest cannot matter), else the earliest. */
uint64_t guess_deadline(const struct punch_trial *t, size_t n);

#endif
