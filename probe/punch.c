/*
 * One side of a traversal trial. See punch.h.
 */
#include "punch.h"

#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "stun.h"

#define PUNCH_REPLIES_PER_ROUND 4 /* answers to verified packets, per round allowed */
/* After this side's proof, packets to the proven endpoint: the other side
 * may still lack the echo of its token (our last answer lost), and its own
 * rounds may go where they cannot reach us. */
#define PUNCH_LINGER_ROUNDS 3

const char *punch_path_name(enum punch_path p)
{
	static const char *const names[] = {"public", "private", "hairpin", "relay"};

	return (unsigned)p < 4 ? names[p] : "public";
}

const char *punch_outcome_name(enum punch_outcome o)
{
	static const char *const names[] = {"pending", "success", "failed", "setup-failed"};

	return (unsigned)o < 4 ? names[o] : "failed";
}

size_t punch_build(const struct punch_cfg *cfg, const uint8_t *echo, bool done, uint8_t *buf,
		   size_t cap)
{
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN] = {0};
	size_t len;

	/* The token in the transaction ID too: a capture shows which trial. */
	memcpy(tid, cfg->token, PUNCH_TOKEN_LEN);
	tid[PUNCH_TOKEN_LEN] = done ? PUNCH_DONE : 0;
	stun_build_start(&b, buf, cap, stun_type(STUN_NATLAB_PUNCH, STUN_INDICATION),
			 STUN_MAGIC_COOKIE, tid);
	stun_build_string(&b, STUN_ATTR_USERNAME, cfg->session);
	stun_build_attr(&b, STUN_ATTR_NATLAB_TOKEN, cfg->token, PUNCH_TOKEN_LEN);
	if (echo)
		stun_build_attr(&b, STUN_ATTR_NATLAB_ECHO, echo, PUNCH_TOKEN_LEN);
	stun_build_integrity_sha256(&b, cfg->key, cfg->key_len);
	stun_build_fingerprint(&b);
	return stun_build_end(&b, &len) == STUN_OK ? len : 0;
}

/* This side's packet as it stands (the other's token echoed once known,
 * done once proven): one signature for every destination of a round. */
struct punch_msg {
	uint8_t buf[160];
	size_t len;
};

static void build_msg(const struct punch_trial *t, struct punch_msg *m)
{
	m->len = punch_build(&t->cfg, t->have_peer_token ? t->peer_token : NULL,
			     t->res.outcome == PUNCH_SUCCESS, m->buf, sizeof(m->buf));
}

static void send_msg(struct punch_trial *t, const struct punch_msg *m, const struct sockaddr *to,
		     unsigned ttl)
{
	if (m->len && t->send(t->ctx, to, m->buf, m->len, ttl) == 0)
		t->res.sent++;
}

static void send_to(struct punch_trial *t, const struct sockaddr *to, unsigned ttl)
{
	struct punch_msg m;

	build_msg(t, &m);
	send_msg(t, &m, to, ttl);
}

/* The next batch of guessed ports. Not in the opening round: a probe that
 * dies before the other NAT cannot hit a mapping there. */
static void spray_out(struct punch_trial *t, const struct punch_msg *m)
{
	struct sockaddr_storage to = t->cfg.spray_to;

	if (!t->cfg.spray || (t->res.rounds == 0 && t->cfg.open_ttl))
		return;
	for (unsigned k = 0; k < t->cfg.spray_per_round && t->sprayed < t->cfg.nspray; k++) {
		addr_set_port((struct sockaddr *)&to, t->cfg.spray[t->sprayed++]);
		send_msg(t, m, (const struct sockaddr *)&to, 0);
	}
}

/* One round: a packet to every candidate, in order; then the spray's batch. */
static void round_out(struct punch_trial *t, uint64_t now_us)
{
	struct punch_msg m;

	build_msg(t, &m);
	for (size_t i = 0; i < t->cfg.ncand; i++)
		send_msg(t, &m, (const struct sockaddr *)&t->cfg.cand[i].addr,
			 t->res.rounds == 0 ? t->cfg.open_ttl : 0);
	spray_out(t, &m);
	t->res.rounds++;
	t->next_us = now_us + t->cfg.interval_us;
}

void punch_start(struct punch_trial *t, const struct punch_cfg *cfg, punch_send_fn send, void *ctx,
		 uint64_t now_us)
{
	memset(t, 0, sizeof(*t));
	t->cfg = *cfg;
	t->send = send;
	t->ctx = ctx;
	t->start_us = now_us;
	t->res.outcome = PUNCH_PENDING;
	t->max_replies = (cfg->max_rounds ? cfg->max_rounds : 1) * PUNCH_REPLIES_PER_ROUND;
	if (cfg->passive)
		t->next_us = now_us + cfg->timeout_us;
	else
		round_out(t, now_us);
}

static bool sprayed_to(const struct punch_cfg *cfg, size_t sprayed, const struct sockaddr *from)
{
	if (!cfg->spray || !addr_same_ip(from, (const struct sockaddr *)&cfg->spray_to))
		return false;
	for (size_t i = 0; i < sprayed; i++)
		if (addr_port(from) == cfg->spray[i])
			return true;
	return false;
}

void punch_classify(const struct punch_cfg *cfg, size_t sprayed, const struct sockaddr *from,
		    struct punch_result *res)
{
	for (size_t i = 0; i < cfg->ncand; i++)
		if (addr_equal(from, (const struct sockaddr *)&cfg->cand[i].addr)) {
			res->path = cfg->cand[i].path;
			res->predicted = cfg->cand[i].predicted;
			res->strict = !res->predicted;
			return;
		}
	res->strict = false;
	res->predicted = sprayed_to(cfg, sprayed, from);
	res->path = PUNCH_PATH_PUBLIC;
	for (size_t i = 0; i < cfg->ncand; i++)
		if (addr_same_ip(from, (const struct sockaddr *)&cfg->cand[i].addr)) {
			res->path = cfg->cand[i].path;
			return;
		}
}

static enum punch_check check_token(const struct punch_cfg *cfg, const uint8_t *peer_token,
				    const uint8_t *token)
{
	/* Our own packet come back (a hairpin to ourselves) proves nothing. */
	if (!memcmp(token, cfg->token, PUNCH_TOKEN_LEN))
		return PUNCH_CHECK_MIRROR;
	if (cfg->bind_peer && memcmp(token, cfg->peer_token, PUNCH_TOKEN_LEN - 1))
		return PUNCH_CHECK_OTHER; /* not the probe the rendezvous named for this trial */
	if (peer_token && memcmp(token, peer_token, PUNCH_TOKEN_LEN))
		return cfg->bind_peer ? PUNCH_CHECK_SIBLING : PUNCH_CHECK_OTHER;
	return PUNCH_CHECK_PEER;
}

enum punch_check punch_check(const struct punch_cfg *cfg, const uint8_t *peer_token,
			     const uint8_t *msg, size_t len, const uint8_t **token,
			     const uint8_t **echo, bool *done)
{
	struct stun_msg m;
	const struct stun_attr *user, *tok, *ech;

	if (stun_parse(&m, msg, len, 0) != STUN_OK || m.method != STUN_NATLAB_PUNCH ||
	    m.cls != STUN_INDICATION)
		return PUNCH_CHECK_FORGED;
	user = stun_find(&m, STUN_ATTR_USERNAME);
	tok = stun_find(&m, STUN_ATTR_NATLAB_TOKEN);
	ech = stun_find(&m, STUN_ATTR_NATLAB_ECHO);
	if (!user || !tok || tok->len != PUNCH_TOKEN_LEN || (ech && ech->len != PUNCH_TOKEN_LEN) ||
	    user->len != strlen(cfg->session) ||
	    memcmp(stun_attr_value(&m, user), cfg->session, user->len) ||
	    stun_check_integrity_sha256(&m, cfg->key, cfg->key_len) != STUN_OK)
		return PUNCH_CHECK_FORGED;
	*token = stun_attr_value(&m, tok);
	*done = m.tid[PUNCH_TOKEN_LEN] == PUNCH_DONE; /* under the integrity, as the header is */
	*echo = ech ? stun_attr_value(&m, ech) : NULL;
	return check_token(cfg, peer_token, *token);
}

/* The address of a candidate (of one on `path` only, unless any), or of
 * the sprayed ports. */
static bool named_ip(const struct punch_cfg *cfg, const struct sockaddr *from, bool any,
		     enum punch_path path)
{
	if (any && cfg->spray && addr_same_ip(from, (const struct sockaddr *)&cfg->spray_to))
		return true;
	for (size_t i = 0; i < cfg->ncand; i++)
		if ((any || cfg->cand[i].path == path) &&
		    addr_same_ip(from, (const struct sockaddr *)&cfg->cand[i].addr))
			return true;
	return false;
}

/*
 * A packet from where the other probe should be that is not the other
 * probe's: a forgery or another probe's (a host that owns the other
 * probe's private address, a stale mapping), or this side's own mirrored
 * from a private endpoint (one come back from a public address is a NAT's
 * hairpinning, no impostor).
 */
static bool impostor(const struct punch_cfg *cfg, const struct sockaddr *from, enum punch_check c)
{
	if (c == PUNCH_CHECK_MIRROR)
		return named_ip(cfg, from, false, PUNCH_PATH_PRIVATE);
	return (c == PUNCH_CHECK_FORGED || c == PUNCH_CHECK_OTHER) && named_ip(cfg, from, true, 0);
}

void punch_note_impostor(struct punch_result *r, const struct sockaddr *from, unsigned packets)
{
	size_t i;

	r->impostors += packets;
	for (i = 0; i < r->nimp && !addr_equal(from, (const struct sockaddr *)&r->imp[i].addr); i++)
		;
	if (i == r->nimp && r->nimp < PUNCH_MAX_IMPOSTORS)
		memcpy(&r->imp[r->nimp++].addr, from, addr_len(from));
	if (i < r->nimp)
		r->imp[i].packets += packets;
}

void punch_add_impostors(struct punch_result *sum, const struct punch_result *r)
{
	unsigned named = 0;

	for (size_t k = 0; k < r->nimp; k++) {
		punch_note_impostor(sum, (const struct sockaddr *)&r->imp[k].addr,
				    r->imp[k].packets);
		named += r->imp[k].packets;
	}
	sum->impostors += r->impostors - named; /* from endpoints past the named */
}

void punch_reject(const struct punch_cfg *cfg, struct punch_result *r, const struct sockaddr *from,
		  enum punch_check c)
{
	r->rejected++;
	if (impostor(cfg, from, c))
		punch_note_impostor(r, from, 1);
}

/* May a verified packet from `from` be answered? Within the trial's
 * allowance, and to an address nobody named only a few times. */
static bool may_answer(struct punch_trial *t, const struct sockaddr *from)
{
	if (t->res.replies >= t->max_replies)
		return false;
	if (named_ip(&t->cfg, from, true, 0))
		return true;
	if (t->res.strangers >= PUNCH_STRANGER_REPLIES)
		return false;
	t->res.strangers++;
	return true;
}

void punch_receive(struct punch_trial *t, const struct sockaddr *from, const uint8_t *msg,
		   size_t len, uint64_t now_us)
{
	const uint8_t *token, *echo;
	bool done;
	enum punch_check c = punch_check(&t->cfg, t->have_peer_token ? t->peer_token : NULL, msg,
					 len, &token, &echo, &done);

	if (c != PUNCH_CHECK_PEER) {
		punch_reject(&t->cfg, &t->res, from, c);
		return;
	}
	t->res.verified++;
	if (!t->have_peer_token) {
		memcpy(t->peer_token, token, PUNCH_TOKEN_LEN);
		t->have_peer_token = true;
	}
	if (echo && !memcmp(echo, t->cfg.token, PUNCH_TOKEN_LEN))
		t->echoed = true;
	if (t->res.outcome == PUNCH_PENDING && t->echoed) {
		t->res.outcome = PUNCH_SUCCESS;
		t->res.connect_us = now_us - t->start_us;
		memcpy(&t->res.peer, from, addr_len(from));
		punch_classify(&t->cfg, t->sprayed, from, &t->res);
		t->linger = PUNCH_LINGER_ROUNDS;
		t->next_us = now_us + t->cfg.interval_us;
	}
	/* Answered where it came from: the endpoint the other NAT uses; not
	 * when the other side says it is done (its proof is complete), or the
	 * two would answer each other's answers. */
	if (!done && may_answer(t, from)) {
		t->res.replies++;
		send_to(t, from, 0);
	}
}

void punch_tick(struct punch_trial *t, uint64_t now_us)
{
	if (t->res.outcome == PUNCH_SUCCESS && t->linger && now_us >= t->next_us) {
		t->linger--;
		send_to(t, (const struct sockaddr *)&t->res.peer, 0);
		t->next_us = now_us + t->cfg.interval_us;
	}
	if (t->res.outcome != PUNCH_PENDING)
		return;
	if (now_us - t->start_us >= t->cfg.timeout_us) {
		t->res.outcome = PUNCH_FAILED;
		return;
	}
	if (now_us >= t->next_us && !t->cfg.passive && t->res.rounds < t->cfg.max_rounds)
		round_out(t, now_us);
}

uint64_t punch_deadline(const struct punch_trial *t)
{
	uint64_t end = t->start_us + t->cfg.timeout_us;

	if (t->res.outcome == PUNCH_SUCCESS && t->linger)
		return t->next_us;
	if (t->res.outcome != PUNCH_PENDING)
		return UINT64_MAX;
	if (!t->cfg.passive && t->res.rounds < t->cfg.max_rounds && t->next_us < end)
		return t->next_us;
	return end;
}

bool punch_done(const struct punch_trial *t)
{
	return t->res.outcome != PUNCH_PENDING;
}
