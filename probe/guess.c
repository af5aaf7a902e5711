/*
 * Guessed endpoints. See guess.h; the rules they serve are predict.c's.
 */
#include "guess.h"

#include <string.h>

#include "addr.h"

size_t guess_window(const struct sockaddr *pub, unsigned delta, unsigned window,
		    struct punch_candidate *out, size_t cap)
{
	size_t n = 0;
	uint32_t port = addr_port(pub);

	for (unsigned k = 1; k <= window && n < cap && delta; k++) {
		if (port + (uint32_t)k * delta > 65535)
			break;
		memset(&out[n], 0, sizeof(out[n]));
		memcpy(&out[n].addr, pub, addr_len(pub));
		addr_set_port((struct sockaddr *)&out[n].addr, (uint16_t)(port + k * delta));
		out[n].path = PUNCH_PATH_PUBLIC;
		out[n].predicted = true;
		n++;
	}
	return n;
}

void guess_bounds_default(struct guess_bounds *b)
{
	*b =
	    (struct guess_bounds){GUESS_SOCKETS, GUESS_PROBES, GUESS_PORT_LO, GUESS_PORT_HI, false};
}

double guess_birthday_odds(unsigned sockets, unsigned probes, unsigned range)
{
	double miss = 1;

	if (!sockets || !probes || !range)
		return 0;
	for (unsigned j = 0; j < probes; j++) {
		if (sockets + j >= range)
			return 1; /* every port left is a mapping */
		miss *= (double)(range - sockets - j) / (double)(range - j);
	}
	return 1 - miss;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* `want` distinct ports of [lo, hi], never `skip`: want must leave one out. */
static size_t draw(uint64_t seed, uint16_t lo, uint16_t hi, uint16_t skip, unsigned want,
		   uint16_t *out)
{
	uint8_t used[65536 / 8] = {0};
	uint32_t span = (uint32_t)hi - lo + 1;
	size_t n = 0;

	used[skip >> 3] |= (uint8_t)(1u << (skip & 7));
	while (n < want) {
		uint16_t p = (uint16_t)(lo + splitmix(&seed) % span);

		if (used[p >> 3] & (1u << (p & 7)))
			continue;
		used[p >> 3] |= (uint8_t)(1u << (p & 7));
		out[n++] = p;
	}
	return n;
}

/* A sequential hard side: its next ports, a few times over. */
static void sequential_plan(const struct predict_side *hard, uint16_t hard_port,
			    struct guess_birthday *plan)
{
	plan->sequential = true;
	plan->sockets = GUESS_SEQ_SOCKETS;
	plan->probes = GUESS_SEQ_WINDOW * GUESS_SEQ_REPEAT;
	/* Every socket's mapping is guessed, unless more than WINDOW - SOCKETS
	 * other mappings come in between (RFC 5128 3.5, "under load"). */
	plan->predicted = 1;
	if (plan->role != PREDICT_ROLE_EASY)
		return;
	for (unsigned r = 0; r < GUESS_SEQ_REPEAT; r++)
		for (unsigned k = 1; k <= GUESS_SEQ_WINDOW; k++)
			if ((uint32_t)hard_port + k * hard->delta <= 65535)
				plan->port[plan->nport++] = (uint16_t)(hard_port + k * hard->delta);
}

void guess_birthday_plan(const struct predict_side *me, const struct predict_side *them,
			 uint16_t hard_port, const struct guess_bounds *b, uint64_t seed,
			 struct guess_birthday *plan)
{
	const struct predict_side *hard;
	unsigned range = (unsigned)b->port_hi - b->port_lo; /* less the registered port */

	memset(plan, 0, sizeof(*plan));
	plan->role = predict_birthday_role(me, them);
	plan->port_lo = b->port_lo;
	plan->port_hi = b->port_hi;
	plan->range_known = b->range_known;
	if (plan->role == PREDICT_ROLE_PLAIN)
		return;
	hard = plan->role == PREDICT_ROLE_HARD ? me : them;
	if (predict_sequential(hard)) {
		sequential_plan(hard, hard_port, plan);
		return;
	}
	/* Within the range, and within what a trial holds. */
	plan->sockets = b->sockets < range ? b->sockets : range;
	if (plan->sockets > GUESS_SOCKETS)
		plan->sockets = GUESS_SOCKETS;
	plan->probes = b->probes < range ? b->probes : range;
	if (plan->probes > GUESS_PROBES)
		plan->probes = GUESS_PROBES;
	plan->predicted = guess_birthday_odds(plan->sockets, plan->probes, range);
	if (plan->role == PREDICT_ROLE_EASY)
		plan->nport =
		    draw(seed, b->port_lo, b->port_hi, hard_port, plan->probes, plan->port);
}

void guess_easy_cfg(const struct punch_cfg *base, const struct guess_birthday *plan,
		    const struct sockaddr *to, struct punch_cfg *out)
{
	unsigned rounds = base->max_rounds;

	*out = *base;
	if (!plan->nport)
		return;
	if (base->open_ttl && rounds > 1)
		rounds--; /* the opening round carries no guesses */
	out->spray = plan->port;
	out->nspray = plan->nport;
	out->spray_per_round = (unsigned)((plan->nport + rounds - 1) / (rounds ? rounds : 1));
	memset(&out->spray_to, 0, sizeof(out->spray_to));
	memcpy(&out->spray_to, to, addr_len(to));
}

void guess_hard_cfg(const struct punch_cfg *base, unsigned i, struct punch_cfg *out)
{
	*out = *base;
	if (i)
		out->max_rounds = 1;
	/* A token of its own (the last byte varied: one per socket while there
	 * are at most 256), so that only the socket the easy side answers can
	 * take the echo for proof. */
	_Static_assert(GUESS_SOCKETS <= 256, "one token byte tells the hard sockets apart");
	out->token[PUNCH_TOKEN_LEN - 1] ^= (uint8_t)i;
}

void guess_merge(const struct punch_trial *t, size_t n, struct punch_result *out)
{
	const struct punch_result *won = NULL;
	bool pending = false;
	unsigned rounds = 0, sent = 0, replies = 0, verified = 0, rejected = 0, strangers = 0;
	struct punch_result imp = {0};

	for (size_t i = 0; i < n; i++) {
		const struct punch_result *r = &t[i].res;

		if (r->outcome == PUNCH_SUCCESS && (!won || r->connect_us < won->connect_us))
			won = r;
		pending = pending || r->outcome == PUNCH_PENDING;
		rounds = r->rounds > rounds ? r->rounds : rounds;
		sent += r->sent;
		replies += r->replies;
		verified += r->verified;
		rejected += r->rejected;
		strangers += r->strangers;
		punch_add_impostors(&imp, r);
	}
	memset(out, 0, sizeof(*out));
	if (won)
		*out = *won;
	else
		out->outcome = pending ? PUNCH_PENDING : PUNCH_FAILED;
	out->rounds = rounds;
	out->sent = sent;
	out->replies = replies;
	out->verified = verified;
	out->rejected = rejected;
	out->strangers = strangers;
	out->impostors = imp.impostors;
	memcpy(out->imp, imp.imp, sizeof(imp.imp));
	out->nimp = imp.nimp;
}

uint64_t guess_deadline(const struct punch_trial *t, size_t n)
{
	uint64_t next = UINT64_MAX;
	const struct punch_trial *won = NULL;

	for (size_t i = 0; i < n; i++) {
		if (t[i].res.outcome == PUNCH_SUCCESS &&
		    (!won || t[i].res.connect_us < won->res.connect_us))
			won = &t[i];
		if (punch_deadline(&t[i]) < next)
			next = punch_deadline(&t[i]);
	}
	return won ? punch_deadline(won) : next;
}
