/*
 * One side of a TCP traversal trial. See punchtcp.h.
 */
#include "punchtcp.h"

#include <string.h>

#include "addr.h"
#include "stun.h"

const char *ptcp_outcome_name(enum ptcp_outcome o)
{
	static const char *const names[] = {"pending",   "connected", "refused",   "unreachable",
					    "timed-out", "rejected",  "abandoned", "not-started"};

	return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "pending";
}

const char *ptcp_won_name(enum ptcp_won w)
{
	static const char *const names[] = {"none", "connect", "accept"};

	return (unsigned)w < 3 ? names[w] : "none";
}

static struct ptcp_conn *conn_of(struct ptcp_trial *t, int h)
{
	for (size_t i = 0; i < PTCP_MAX_CONNS; i++)
		if (t->conn[i].h == h && h >= 0)
			return &t->conn[i];
	return NULL;
}

static struct ptcp_conn *open_slot(struct ptcp_trial *t)
{
	for (size_t i = 0; i < PTCP_MAX_CONNS; i++)
		if (t->conn[i].h < 0)
			return &t->conn[i];
	return NULL;
}

/* This side's message on c: its token, and the other's once known. */
static void say(struct ptcp_trial *t, struct ptcp_conn *c)
{
	uint8_t msg[PTCP_FRAME_MAX];
	size_t len = punch_build(&t->cfg, t->have_peer_token ? t->peer_token : NULL,
				 t->res.outcome == PUNCH_SUCCESS, msg, sizeof(msg));

	if (len && t->ops.send(t->ctx, c->h, msg, len) == 0)
		t->res.sent++;
	c->sent_echo = t->have_peer_token;
}

/* Close c (the driver's socket too); its connect, if one, ends as o. */
static void end_conn(struct ptcp_trial *t, struct ptcp_conn *c, enum ptcp_outcome o,
		     uint64_t now_us)
{
	if (c->attempt >= 0) {
		struct ptcp_attempt *a = &t->att[c->attempt];

		if (a->outcome == PTCP_PENDING || a->outcome == PTCP_CONNECTED) {
			a->outcome = o;
			a->ended_us = now_us - t->start_us;
		}
	}
	t->ops.close(t->ctx, c->h);
	c->h = -1;
}

static void attempt(struct ptcp_trial *t, size_t cand, unsigned ttl, uint64_t now_us)
{
	struct ptcp_attempt *a;
	struct ptcp_conn *c = open_slot(t);
	int h;

	if (t->natt >= PTCP_MAX_ATTEMPTS || !c)
		return;
	a = &t->att[t->natt];
	*a = (struct ptcp_attempt){.to = t->cfg.cand[cand], .cand = cand, .ttl = ttl};
	h = t->ops.connect(t->ctx, (const struct sockaddr *)&t->cfg.cand[cand].addr, ttl);
	if (h < 0) {
		a->outcome = PTCP_NOT_STARTED;
		a->ended_us = now_us - t->start_us;
	} else {
		*c = (struct ptcp_conn){.h = h, .attempt = (int)t->natt};
		memcpy(&c->peer, &t->cfg.cand[cand].addr, sizeof(c->peer));
	}
	t->natt++;
}

void ptcp_start(struct ptcp_trial *t, const struct punch_cfg *cfg, const struct ptcp_ops *ops,
		void *ctx, uint64_t now_us)
{
	memset(t, 0, sizeof(*t));
	t->cfg = *cfg;
	t->ops = *ops;
	t->ctx = ctx;
	t->start_us = now_us;
	t->retry_us = UINT64_MAX;
	t->winner = -1;
	t->res.outcome = PUNCH_PENDING;
	for (size_t i = 0; i < PTCP_MAX_CONNS; i++)
		t->conn[i].h = -1;
	if (cfg->passive)
		return;
	for (size_t i = 0; i < cfg->ncand; i++)
		attempt(t, i, cfg->open_ttl, now_us);
	t->res.rounds = 1;
}

/* The other probe proven on c: the trial's success. Every other
 * connection, made or pending, is closed. */
static void won(struct ptcp_trial *t, struct ptcp_conn *c, uint64_t now_us)
{
	t->res.outcome = PUNCH_SUCCESS;
	t->res.connect_us = now_us - t->start_us;
	memcpy(&t->res.peer, &c->peer, sizeof(c->peer));
	punch_classify(&t->cfg, 0, (const struct sockaddr *)&c->peer, &t->res);
	t->winner = (int)(c - t->conn);
	t->won = c->attempt >= 0 ? PTCP_WON_CONNECT : PTCP_WON_ACCEPT;
	for (size_t i = 0; i < PTCP_MAX_CONNS; i++)
		if (t->conn[i].h >= 0 && &t->conn[i] != c)
			end_conn(t, &t->conn[i], PTCP_ABANDONED, now_us);
}

void ptcp_connect_done(struct ptcp_trial *t, int h, enum ptcp_outcome o, uint64_t now_us)
{
	struct ptcp_conn *c = conn_of(t, h);
	struct ptcp_attempt *a;

	if (!c || c->attempt < 0)
		return;
	a = &t->att[c->attempt];
	if (o == PTCP_CONNECTED) {
		a->outcome = PTCP_CONNECTED;
		a->ended_us = now_us - t->start_us;
		c->since_us = now_us;
		say(t, c);
		return;
	}
	end_conn(t, c, o, now_us);
	/* RFC 5128 3.4: a refused or unreachable connect is tried again, once,
	 * a round later (the other side's SYN may have opened its NAT since). */
	if ((o == PTCP_REFUSED || o == PTCP_UNREACHABLE) && !t->retried[a->cand] &&
	    t->res.outcome == PUNCH_PENDING) {
		t->retry_due[a->cand] = true;
		if (t->retry_us == UINT64_MAX)
			t->retry_us = now_us + t->cfg.interval_us;
	}
}

void ptcp_accepted(struct ptcp_trial *t, int h, const struct sockaddr *peer, uint64_t now_us)
{
	struct ptcp_conn *c = open_slot(t);

	if (t->res.outcome != PUNCH_PENDING || t->accepted >= PTCP_MAX_ACCEPTED || !c) {
		t->refused_accepts++;
		t->ops.close(t->ctx, h);
		return;
	}
	t->accepted++;
	*c = (struct ptcp_conn){.h = h, .attempt = -1, .since_us = now_us};
	memcpy(&c->peer, peer, addr_len(peer));
	say(t, c);
}

/* One framed message off c: 1 taken, 0 more bytes needed, -1 c closed. */
static int take_message(struct ptcp_trial *t, struct ptcp_conn *c, uint64_t now_us)
{
	const uint8_t *token, *echo;
	enum punch_check k;
	size_t len;
	bool done;

	if (stun_frame_length(c->buf, c->have, &len) != STUN_OK || len > PTCP_FRAME_MAX) {
		k = PUNCH_CHECK_FORGED;
		goto reject;
	}
	if (!len || c->have < len)
		return 0;
	k = punch_check(&t->cfg, t->have_peer_token ? t->peer_token : NULL, c->buf, len, &token,
			&echo, &done);
	if (k != PUNCH_CHECK_PEER)
		goto reject;
	t->res.verified++;
	c->heard = true;
	if (!t->have_peer_token) {
		memcpy(t->peer_token, token, PUNCH_TOKEN_LEN);
		t->have_peer_token = true;
	}
	if (t->res.outcome == PUNCH_PENDING && echo && !memcmp(echo, t->cfg.token, PUNCH_TOKEN_LEN))
		won(t, c, now_us);
	if (!c->sent_echo)
		say(t, c);
	c->have -= len;
	memmove(c->buf, c->buf + len, c->have);
	return 1;
reject:
	punch_reject(&t->cfg, &t->res, (const struct sockaddr *)&c->peer, k);
	end_conn(t, c, PTCP_REJECTED, now_us);
	return -1;
}

void ptcp_bytes(struct ptcp_trial *t, int h, const uint8_t *buf, size_t n, uint64_t now_us)
{
	struct ptcp_conn *c = conn_of(t, h);

	if (!c || (int)(c - t->conn) == t->winner)
		return; /* the proven connection carries nothing more the trial needs */
	if (!n) {       /* closed by the other end (it won elsewhere, or gave up) */
		end_conn(t, c, PTCP_ABANDONED, now_us);
		return;
	}
	if (n > sizeof(c->buf) - c->have) {
		punch_reject(&t->cfg, &t->res, (const struct sockaddr *)&c->peer,
			     PUNCH_CHECK_FORGED);
		end_conn(t, c, PTCP_REJECTED, now_us);
		return;
	}
	memcpy(c->buf + c->have, buf, n);
	c->have += n;
	while (c->h >= 0 && take_message(t, c, now_us) == 1 && (int)(c - t->conn) != t->winner)
		;
}

void ptcp_tick(struct ptcp_trial *t, uint64_t now_us)
{
	if (t->res.outcome != PUNCH_PENDING)
		return;
	if (now_us - t->start_us >= t->cfg.timeout_us) {
		t->res.outcome = PUNCH_FAILED;
		for (size_t i = 0; i < PTCP_MAX_CONNS; i++)
			if (t->conn[i].h >= 0)
				end_conn(t, &t->conn[i], PTCP_ABANDONED, now_us);
		return;
	}
	/* A connection whose other end says nothing that proves it in time. */
	for (size_t i = 0; i < PTCP_MAX_CONNS; i++) {
		struct ptcp_conn *c = &t->conn[i];

		if (c->h >= 0 && c->since_us && !c->heard &&
		    now_us - c->since_us >= PTCP_HELLO_US) {
			t->res.rejected++;
			end_conn(t, c, PTCP_REJECTED, now_us);
		}
	}
	if (now_us >= t->retry_us) {
		t->retry_us = UINT64_MAX;
		t->res.rounds++;
		for (size_t i = 0; i < t->cfg.ncand; i++)
			if (t->retry_due[i]) {
				t->retry_due[i] = false;
				t->retried[i] = true;
				attempt(t, i, 0, now_us);
			}
	}
}

uint64_t ptcp_deadline(const struct ptcp_trial *t)
{
	uint64_t next;

	if (t->res.outcome != PUNCH_PENDING)
		return UINT64_MAX;
	next = t->start_us + t->cfg.timeout_us;
	if (t->retry_us < next)
		next = t->retry_us;
	for (size_t i = 0; i < PTCP_MAX_CONNS; i++) {
		const struct ptcp_conn *c = &t->conn[i];

		if (c->h >= 0 && c->since_us && !c->heard && c->since_us + PTCP_HELLO_US < next)
			next = c->since_us + PTCP_HELLO_US;
	}
	return next;
}

bool ptcp_done(const struct ptcp_trial *t)
{
	return t->res.outcome != PUNCH_PENDING;
}

int ptcp_winner(const struct ptcp_trial *t)
{
	return t->winner >= 0 ? t->conn[t->winner].h : -1;
}
